/// @file libFuzzer harness of the idx readers (nets/datasets.hpp): describe_bytes and parse_idx
/// on the raw bytes, then read_idx_pair on them as a file (plain or gzip, detected by the gzip
/// magic; every gzip member is read). Any input must parse or throw glassy::error; anything else
/// is a bug.
#include "dynamics/error.hpp"
#include "nets/datasets.hpp"

#include "fuzz_file.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace {
volatile std::size_t g_sink;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    g_sink = glassy::nets::describe_bytes(std::vector<std::uint8_t>(data, data + size)).size();
    try {
        const auto a = glassy::nets::parse_idx(std::vector<std::uint8_t>(data, data + size), "fuzz input");
        std::size_t sum = 0;
        for (auto v : a.data) sum += v;
        g_sink = sum;
    } catch (const glassy::error&) {}
    const auto& path = glassy::fuzz::write_scratch("idx", data, size);
    try {
        const auto set = glassy::nets::read_idx_pair(path, path);
        g_sink = set.pixels.size() + set.labels.size();
    } catch (const glassy::error&) {}
    return 0;
}
