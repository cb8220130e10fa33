/// @file libFuzzer harness of glassy::read_checkpoint: any input must either parse or throw
/// glassy::error. Any other exception (uncaught, so libFuzzer reports it), crash, sanitizer
/// report, leak or hang is a bug.
#include "dynamics/checkpoint.hpp"
#include "dynamics/error.hpp"

#include "fuzz_file.hpp"

#include <cstddef>
#include <cstdint>

namespace {
volatile std::size_t g_sink; // keeps the reads from being optimised away
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto& path = glassy::fuzz::write_scratch("checkpoint", data, size);
    try {
        const glassy::checkpoint c = glassy::read_checkpoint(path, glassy::fuzz::isolation());
        std::size_t n = c.tool.size() + c.config.size();
        for (const auto& [k, v] : c.strings) n += v.size();
        for (const auto& [k, a] : c.arrays) n += a.data.size();
        for (const auto& [k, a] : c.arrays_f32) n += a.data.size();
        g_sink = n;
    } catch (const glassy::error&) {
        // Rejected with a message: the expected outcome for most inputs.
    }
    return 0;
}
