#pragma once
/// @file Helper shared by the file-reader fuzzers: the readers take a path, so each input is
/// written to one per-process scratch file (in $TMPDIR, default /tmp) and read back from there.
#include "dynamics/record.hpp"

#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace glassy::fuzz {

/// How the HDF5 reader fuzzers read: in this process (so that libFuzzer sees every crash,
/// HDF5's included), or with GLASSY_FUZZ_ISOLATION=child_process as the tools read, which
/// scripts/fuzz.sh uses to check that the tools survive each input that crashed HDF5.
inline read_isolation isolation() {
    static const read_isolation mode = [] {
        const char* v = std::getenv("GLASSY_FUZZ_ISOLATION");
        return v != nullptr && std::string(v) == "child_process" ? read_isolation::child_process
                                                                 : read_isolation::in_process;
    }();
    return mode;
}

/// The scratch file of this process, `<TMPDIR>/glassy_fuzz_<tag>_<pid>.h5`; removed at exit.
inline const std::filesystem::path& scratch_path(const char* tag) {
    static const std::filesystem::path path = [tag] {
        const char* dir = std::getenv("TMPDIR");
        std::filesystem::path p = (dir != nullptr && *dir != '\0') ? dir : "/tmp";
        p /= std::string("glassy_fuzz_") + tag + "_" + std::to_string(::getpid()) + ".h5";
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove(path, ec);
        });
        return p;
    }();
    return path;
}

/// Replaces the scratch file's content by `size` bytes from `data`; aborts if it cannot.
inline const std::filesystem::path& write_scratch(const char* tag, const std::uint8_t* data, std::size_t size) {
    const auto& p = scratch_path(tag);
    std::FILE* f = std::fopen(p.c_str(), "wb");
    if (f == nullptr) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    if (std::fclose(f) != 0) std::abort();
    return p;
}

} // namespace glassy::fuzz
