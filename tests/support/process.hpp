#pragma once
// Test support for kill-and-resume tests: start a tool as a child process, wait for a file.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace glassy::test {

/// The child processes of `pid` (e.g. mpiexec's ranks; OpenMPI puts them in their own process
/// groups), from /proc/<pid>/task/*/children.
inline std::vector<pid_t> children_of(pid_t pid) {
    std::vector<pid_t> out;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream in(task.path() / "children");
        for (pid_t c = 0; in >> c;) out.push_back(c);
    }
    return out;
}

/// Starts `exe` with `args` (split on spaces) as a child process; returns its pid.
inline pid_t spawn(const std::string& exe, const std::string& args) {
    std::vector<std::string> parts;
    std::string cur;
    for (char c : args + " ") {
        if (c == ' ') {
            if (!cur.empty()) parts.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::vector<char*> argv{const_cast<char*>(exe.c_str())};
        for (auto& p : parts) argv.push_back(p.data());
        argv.push_back(nullptr);
        ::execv(exe.c_str(), argv.data());
        ::_exit(127);
    }
    return pid;
}

/// Waits until `path` exists while the child `pid` runs; false if the child ended first or
/// 60 s passed.
inline bool wait_for_file(const std::filesystem::path& path, pid_t pid) {
    for (int k = 0; k < 30000; ++k) {
        if (std::filesystem::exists(path)) return true;
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
}

} // namespace glassy::test
