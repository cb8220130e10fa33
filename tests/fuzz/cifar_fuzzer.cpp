/// @file libFuzzer harness of the CIFAR-10/100 binary reader (nets/datasets.hpp): the input is
/// read as one batch file of each kind (a rejected size also runs describe_bytes on it). Any
/// input must parse or throw glassy::error.
#include "dynamics/error.hpp"
#include "nets/datasets.hpp"

#include "fuzz_file.hpp"

#include <cstddef>
#include <cstdint>

namespace {
volatile std::size_t g_sink;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const auto& path = glassy::fuzz::write_scratch("cifar", data, size);
    for (const auto kind : {glassy::nets::cifar_kind::cifar10, glassy::nets::cifar_kind::cifar100}) {
        try {
            const auto set = glassy::nets::read_cifar({path}, kind);
            std::size_t sum = 0;
            for (auto v : set.labels) sum += static_cast<std::size_t>(v);
            g_sink = sum + set.pixels.size();
        } catch (const glassy::error&) {}
    }
    return 0;
}
