#pragma once
// Test support: run a command line, capture stdout+stderr and the exit status.
#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace glassy::test {

struct command_result {
    int status = -1;    ///< exit code (or 128 + signal)
    std::string output; ///< stdout and stderr together
};

inline command_result run_command(const std::string& cmd) {
    command_result r;
    std::FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) return r;
    std::array<char, 4096> buf{};
    while (std::fgets(buf.data(), static_cast<int>(buf.size()), p)) r.output += buf.data();
    const int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return r;
}

/// Number of non-empty lines in s.
inline int count_lines(const std::string& s) {
    int n = 0;
    bool content = false;
    for (char c : s) {
        if (c == '\n') {
            n += content;
            content = false;
        } else if (c != '\r' && c != ' ') {
            content = true;
        }
    }
    return n + content;
}

} // namespace glassy::test
