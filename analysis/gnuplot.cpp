#include "analysis/gnuplot.hpp"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <vector>

namespace glassy {
namespace {

struct run_output {
    int status = -1; // exit status, or -1 when it did not exit normally
    bool exec_failed = false;
    std::string err; // captured stderr
};

// Runs argv with stdin/stdout on /dev/null, stderr captured, in `workdir`.
run_output run_process(const std::vector<std::string>& args, const std::filesystem::path& workdir,
                       const std::string& stdin_text = {}) {
    run_output out;
    int err_pipe[2], in_pipe[2], exec_pipe[2];
    if (::pipe(err_pipe) != 0) return out;
    if (::pipe(in_pipe) != 0) {
        ::close(err_pipe[0]);
        ::close(err_pipe[1]);
        return out;
    }
    if (::pipe2(exec_pipe, O_CLOEXEC) != 0) {
        for (int fd : {err_pipe[0], err_pipe[1], in_pipe[0], in_pipe[1]}) ::close(fd);
        return out;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        for (int fd : {err_pipe[0], err_pipe[1], in_pipe[0], in_pipe[1], exec_pipe[0], exec_pipe[1]}) ::close(fd);
        return out;
    }
    if (pid == 0) {
        ::dup2(in_pipe[0], 0);
        const int devnull = ::open("/dev/null", O_WRONLY);
        if (devnull >= 0) ::dup2(devnull, 1);
        ::dup2(err_pipe[1], 2);
        for (int fd : {err_pipe[0], err_pipe[1], in_pipe[0], in_pipe[1], exec_pipe[0]}) ::close(fd);
        if (!workdir.empty() && ::chdir(workdir.c_str()) != 0) {
            const char c = 1;
            [[maybe_unused]] auto w = ::write(exec_pipe[1], &c, 1);
            ::_exit(127);
        }
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execvp(argv[0], argv.data());
        const char c = 2;
        [[maybe_unused]] auto w = ::write(exec_pipe[1], &c, 1);
        ::_exit(127);
    }
    ::close(err_pipe[1]);
    ::close(in_pipe[0]);
    ::close(exec_pipe[1]);
    if (!stdin_text.empty()) {
        [[maybe_unused]] auto w = ::write(in_pipe[1], stdin_text.data(), stdin_text.size());
    }
    ::close(in_pipe[1]);
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(err_pipe[0], buf, sizeof buf);
        if (n > 0) {
            if (out.err.size() < (1u << 20)) out.err.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || errno != EINTR) {
            break;
        }
    }
    ::close(err_pipe[0]);
    char c = 0;
    out.exec_failed = ::read(exec_pipe[0], &c, 1) == 1;
    ::close(exec_pipe[0]);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    out.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

std::string first_error_line(const std::string& text) {
    std::istringstream in(text);
    std::string line, fallback;
    while (std::getline(in, line)) {
        if (line.find_first_not_of(" \t^") == std::string::npos) continue;
        if (fallback.empty()) fallback = line;
        if (line.find("rror") != std::string::npos) return line;
    }
    return fallback;
}

} // namespace

bool gnuplot_available(const std::string& program) {
    if (program.empty()) return false;
    if (program.find('/') != std::string::npos) return ::access(program.c_str(), X_OK) == 0;
    const char* path = std::getenv("PATH");
    if (!path) return false;
    std::istringstream in(path);
    std::string dir;
    while (std::getline(in, dir, ':')) {
        const std::filesystem::path p = std::filesystem::path(dir.empty() ? "." : dir) / program;
        if (::access(p.c_str(), X_OK) == 0) return true;
    }
    return false;
}

gnuplot_result run_gnuplot(const std::string& program, const std::filesystem::path& script,
                           const std::filesystem::path& workdir) {
    gnuplot_result r;
    if (!gnuplot_available(program)) {
        r.missing = true;
        r.message = "gnuplot not found ('" + program + "'); install gnuplot to get the plots";
        return r;
    }
    const run_output o = run_process({program, script.string()}, workdir);
    if (o.exec_failed) {
        r.missing = true;
        r.message = "cannot run '" + program + "'";
        return r;
    }
    r.ok = o.status == 0;
    if (!r.ok) {
        const std::string line = first_error_line(o.err);
        r.message = "gnuplot failed on " + script.filename().string() + (line.empty() ? "" : ": " + line);
    }
    return r;
}

std::string png_terminal(const std::string& program) {
    if (!gnuplot_available(program)) return "png";
    const run_output o = run_process({program}, {}, "set terminal pngcairo\n");
    return o.status == 0 && o.err.find("unknown") == std::string::npos && o.err.find("rror") == std::string::npos
               ? "pngcairo"
               : "png";
}

} // namespace glassy
