/// @file libFuzzer harness of glassy::read_record: any input must either parse or throw
/// glassy::error. Any other exception (uncaught, so libFuzzer reports it), crash, sanitizer
/// report, leak or hang is a bug.
#include "dynamics/error.hpp"
#include "dynamics/record.hpp"

#include "fuzz_file.hpp"

#include <cstddef>
#include <cstdint>

namespace {
volatile double g_sink; // keeps the reads from being optimised away
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto& path = glassy::fuzz::write_scratch("record", data, size);
    try {
        const glassy::record r = glassy::read_record(path, glassy::fuzz::isolation());
        // Touch what was read so that the sanitizers see every element.
        double sum = 0;
        for (double x : r.time) sum += x;
        for (Eigen::Index i = 0; i < r.aging.delta.size(); ++i) sum += r.aging.delta.data()[i];
        for (const auto& s : r.aging.delta_samples) sum += s.sum();
        for (const auto& [k, a] : r.extra)
            for (double x : a.data) sum += x;
        for (const auto& [k, a] : r.extra_f32)
            for (float x : a.data) sum += x;
        g_sink = sum;
    } catch (const glassy::error&) {
        // Rejected with a message: the expected outcome for most inputs.
    }
    return 0;
}
