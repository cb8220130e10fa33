#pragma once
// Test support: a per-process scratch directory under the system's temporary directory.
#include <filesystem>
#include <string>

#include <unistd.h>

namespace glassy::test {

/// <tmp>/glassy_<name>_<pid>, created if missing (tests of one binary share it by name).
inline std::filesystem::path scratch_dir(const std::string& name) {
    const auto d = std::filesystem::temp_directory_path() / ("glassy_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
}

} // namespace glassy::test
