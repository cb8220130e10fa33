#pragma once
// Helpers shared by the apps only (argv parsing, output checks, progress, signals).
#include "dynamics/checkpoint.hpp"
#include "dynamics/error.hpp"
#include "dynamics/fields.hpp"
#include "dynamics/record.hpp"
#include "dynamics/run_control.hpp"

#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

namespace glassy::app {

/// Set by SIGINT/SIGTERM; the run stops cleanly at the next check.
inline std::atomic<int> g_signal{0};
inline void on_signal(int s) { g_signal.store(s); }
inline void install_signal_handlers() {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

/// hooks.stop for the apps: true once SIGINT or SIGTERM has arrived, and then `asked` is set.
/// A run stops as interrupted exactly when hooks.stop returns true (dynamics/run_control.hpp),
/// so `asked` tells the app an interrupted partial record from a diverged one.
inline std::function<bool(std::int64_t)> stop_on_signal(bool& asked) {
    return [&asked](std::int64_t) { return asked = asked || g_signal.load() != 0; };
}

/// The end of every run (exit codes in docs/cli.md): writes `rec` to `out`, then
/// - complete: removes the spent checkpoint `checkpoint` (if any) and returns -1 (go on: the app
///   prints its summary and exits 0);
/// - interrupted: "TOOL: WHY; partial record OUT, resume with --resume CHECKPOINT" on stderr (without
///   the resume part when `checkpoint` is empty), 130;
/// - otherwise (diverged): "TOOL: error: WHY; what was measured before is in OUT", 3;
/// WHY is the record's parameters["stop_reason"] ("interrupted" when it has none, as CK records).
/// Throws record_error when the record cannot be written.
inline int finish_run(const std::string& tool, const record& rec, const std::filesystem::path& out,
                      const std::filesystem::path& checkpoint, bool interrupted) {
    write_record(rec, out);
    if (rec.complete) {
        std::error_code ec;
        std::filesystem::remove(checkpoint, ec); // the run is complete: the checkpoint is spent
        return -1;
    }
    if (interrupted) {
        const std::string why = rec.parameters.value("stop_reason", std::string("interrupted"));
        if (checkpoint.empty()) // no checkpoint (pspin_quench under mpirun with several ranks)
            std::fprintf(stderr, "%s: %s; partial record %s\n", tool.c_str(), why.c_str(), out.c_str());
        else
            std::fprintf(stderr, "%s: %s; partial record %s, resume with --resume %s\n", tool.c_str(), why.c_str(),
                         out.c_str(), checkpoint.c_str());
        return 130;
    }
    const std::string why = rec.parameters.value("stop_reason", std::string("stopped"));
    std::fprintf(stderr, "%s: error: %s; what was measured before is in %s\n", tool.c_str(), why.c_str(), out.c_str());
    return 3;
}

/// Makes waiting OpenMP threads sleep instead of spinning (benchmarks/README.md, "Threads on a
/// shared machine"). libgomp (GCC's OpenMP, also LibTorch's and OpenBLAS's on Debian) lets a thread
/// that waits at a barrier spin for about 3 ms first, longer than our parallel regions: with a core
/// busy with another process, the spinning thread holds the core that the thread it waits for needs,
/// and 2 threads ran 25-70x slower than 1. libgomp reads its settings only when it is loaded, so when
/// `threads` > 1 and neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set, this sets
/// OMP_WAIT_POLICY=passive and executes the program again with the same argv (/proc/self/exe). Call
/// it after parsing and before any output. Returns when there is nothing to do, or when the exec
/// failed (the run then goes on with libgomp's defaults).
inline void exec_with_passive_omp_wait(int threads, char** argv) {
    if (threads <= 1 || std::getenv("OMP_WAIT_POLICY") != nullptr || std::getenv("GOMP_SPINCOUNT") != nullptr) return;
    if (::setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    std::fflush(nullptr);
    ::execv("/proc/self/exe", argv);
    ::unsetenv("OMP_WAIT_POLICY");
}

/// Parses argv; returns -1 to go on, or the exit code (0 for --help, 2 for a bad flag, with a
/// one-line message).
inline int parse(CLI::App& app, int argc, char** argv) {
    try {
        app.parse(argc, argv);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::fprintf(stderr, "%s: error: %s (see --help)\n", app.get_name().c_str(), e.what());
        return 2;
    }
    return -1;
}

/// The first of `flags` given on the command line (app.count() > 0), or "" when none was.
/// Flags not defined in `app` are a programming error (CLI11 throws OptionNotFound).
inline std::string first_given(const CLI::App& app, const std::vector<std::string>& flags) {
    for (const auto& flag : flags)
        if (app.count(flag) > 0) return flag;
    return {};
}

/// Refuses flags that were given on the command line but would have no effect: throws
/// parameter_error "--flag has no effect <why>" for the first of `flags` given (first_given).
inline void refuse_given(const CLI::App& app, const std::vector<std::string>& flags, const std::string& why) {
    if (const std::string flag = first_given(app, flags); !flag.empty())
        throw parameter_error(flag + " has no effect " + why);
}

/// The flags of a field table (dynamics/fields.hpp) bound to a parameter struct: each field that
/// has a flag becomes an option on its member, with its help and (unless show_default is false)
/// its default; a bool is a flag without value; a choice (enum) is read as text and parsed into
/// the member by apply(). A field whose flag `app` already has (bound by an earlier flag_set:
/// pspin_quench's --T serves the finite-N and the CK parameters) is *shared*: no second option,
/// and apply() copies the option's value into the member when the flag was given. The struct
/// and the table must outlive the flag_set.
template <class S>
class flag_set {
public:
    flag_set(CLI::App& app, const field_table<S>& table, S& s) : m_s(s) {
        for (const auto& f : table) {
            if (f.flag.empty()) continue;
            if (CLI::Option* shared = app.get_option_no_throw(f.flag)) {
                m_bound.push_back({&f, shared, nullptr, true});
                continue;
            }
            std::string* text = nullptr;
            CLI::Option* opt = std::visit(
                [&](const auto& m) -> CLI::Option* {
                    using M = std::decay_t<decltype(m)>;
                    if constexpr (std::is_same_v<M, choice_member<S>>) {
                        text = &m_texts.emplace_back(m.get(s));
                        return app.add_option(f.flag, *text, f.help);
                    } else if constexpr (std::is_same_v<M, bool S::*>) {
                        return app.add_flag(f.flag, s.*m, f.help);
                    } else {
                        return app.add_option(f.flag, member_value(s, m), f.help);
                    }
                },
                f.member);
            if (f.show_default && !std::holds_alternative<bool S::*>(f.member)) opt->capture_default_str();
            m_bound.push_back({&f, opt, text, false});
        }
    }
    flag_set(const flag_set&) = delete;
    flag_set& operator=(const flag_set&) = delete;

    /// Parses the text of every choice flag into its member, and copies every shared flag that
    /// was given into its member, in the table's order (throws field_error).
    void apply() const {
        for (const auto& b : m_bound) {
            if (b.text != nullptr) std::get<choice_member<S>>(b.f->member).set(m_s, *b.text);
            else if (b.shared && b.opt->count() > 0) copy_shared(b);
        }
    }
    /// The flags of this set, in the table's order; own_only: without the shared ones.
    [[nodiscard]] std::vector<std::string> flags(bool own_only = false) const {
        std::vector<std::string> out;
        for (const auto& b : m_bound)
            if (!own_only || !b.shared) out.push_back(b.f->flag);
        return out;
    }
    /// The text of a choice flag as given (else its default); throws std::out_of_range for another flag.
    [[nodiscard]] const std::string& text(const std::string& flag) const {
        for (const auto& b : m_bound)
            if (b.f->flag == flag && b.text != nullptr) return *b.text;
        throw std::out_of_range("flag_set::text: " + flag + " is not a choice flag");
    }
    /// The first flag given on the command line whose value in `given` (the parameters JSON with
    /// the flags) differs from `kept` (a checkpoint's), compared at its field's key; "" if none.
    [[nodiscard]] std::string first_differing(const nlohmann::json& given, const nlohmann::json& kept) const {
        for (const auto& b : m_bound) {
            if (b.opt->count() == 0) continue;
            const nlohmann::json::json_pointer at(b.f->key);
            if (given.contains(at) != kept.contains(at) || (given.contains(at) && given.at(at) != kept.at(at)))
                return b.f->flag;
        }
        return {};
    }
    /// The message of `e` with its field's flag in place of its key ("--per-decade must be >= 1"),
    /// or "" when the key is not a field with a flag here.
    [[nodiscard]] std::string message(const field_error& e) const {
        for (const auto& b : m_bound)
            if (b.f->key == "/" + e.key()) return b.f->flag + " " + e.rest();
        return {};
    }

private:
    struct bound {
        const field<S>* f;
        CLI::Option* opt;
        std::string* text; // a choice's own text, else nullptr
        bool shared;       // opt belongs to an earlier flag_set
    };
    void copy_shared(const bound& b) const {
        std::visit(
            [&](const auto& m) {
                if constexpr (std::is_same_v<std::decay_t<decltype(m)>, choice_member<S>>)
                    m.set(m_s, b.opt->template as<std::string>());
                else {
                    auto& value = member_value(m_s, m);
                    value = b.opt->template as<std::decay_t<decltype(value)>>();
                }
            },
            b.f->member);
    }
    S& m_s;
    std::deque<std::string> m_texts;
    std::vector<bound> m_bound;
};

/// The one-line message of an error a run threw: for a field_error, its message with the flag of
/// its field (the first of `sets` that binds the key: "--steps must be >= 1"); else, or when no
/// set binds it, what().
template <class... S>
[[nodiscard]] std::string error_message(const std::exception& e, const flag_set<S>&... sets) {
    if (const auto* f = dynamic_cast<const field_error*>(&e))
        for (const std::string& flagged : {sets.message(*f)...})
            if (!flagged.empty()) return flagged;
    return e.what();
}

/// The flags every run tool has for its output: the record, the checkpoints and resuming
/// (docs/cli.md). Bound by add_run_output_flags.
struct run_output {
    /// `default_out`: the record written without --out (the tool's, e.g. "pspin_quench.h5").
    explicit run_output(std::string default_out) : out(std::move(default_out)) {}

    std::string out;              ///< --out: the record
    std::string checkpoint_every; ///< --checkpoint-every: "" (none), steps or a wall time (parse_interval)
    std::string checkpoint;       ///< --checkpoint: the checkpoint file ("" = checkpoint_path()'s default)
    std::string resume;           ///< --resume: the checkpoint continued ("" = a new run)
    bool force = false;           ///< --force: overwrite an existing record
    bool quiet = false;           ///< --quiet: no start line and no progress line

    /// The checkpoint file: --checkpoint, else the resumed one, else OUT.ckpt.
    [[nodiscard]] std::filesystem::path checkpoint_path() const {
        return !checkpoint.empty() ? checkpoint : !resume.empty() ? resume : out + ".ckpt";
    }
};

/// Binds --out, --checkpoint-every, --checkpoint, --resume, --force and --quiet onto `o`, with
/// the same help in every tool.
inline void add_run_output_flags(CLI::App& app, run_output& o) {
    app.add_option("--out", o.out, "output record (HDF5)")->capture_default_str();
    app.add_option("--checkpoint-every", o.checkpoint_every,
                   "checkpoint interval: steps (e.g. 5000) or wall time (30s, 10m, 2h)");
    app.add_option("--checkpoint", o.checkpoint, "checkpoint file (default: OUT.ckpt; with --resume: that file)");
    app.add_option("--resume", o.resume, "continue the run saved in this checkpoint (its parameters are used)");
    app.add_flag("--force", o.force, "overwrite an existing output file");
    app.add_flag("--quiet", o.quiet, "no start line and no progress line");
}

/// A duration in words with two units at most: "42 s", "3 min 20 s", "3 h 20 min", "5 d 4 h",
/// and past a year "3.2e+04 years".
inline std::string format_duration(double seconds) {
    char buf[64];
    const auto whole = [](double x) { return static_cast<long long>(x); };
    if (!(seconds >= 0) || !std::isfinite(seconds)) return "unknown";
    if (seconds < 60) std::snprintf(buf, sizeof buf, "%.0f s", seconds);
    else if (seconds < 3600)
        std::snprintf(buf, sizeof buf, "%lld min %lld s", whole(seconds / 60), whole(seconds) % 60);
    else if (seconds < 86400)
        std::snprintf(buf, sizeof buf, "%lld h %lld min", whole(seconds / 3600), whole(seconds / 60) % 60);
    else if (seconds < 365.25 * 86400)
        std::snprintf(buf, sizeof buf, "%lld d %lld h", whole(seconds / 86400), whole(seconds / 3600) % 24);
    else std::snprintf(buf, sizeof buf, "%.2g years", seconds / (365.25 * 86400));
    return buf;
}

/// The one-time estimate line: `rate` steps per second measured, `left` of `total` steps to go.
inline std::string estimate_text(double rate, long long left, long long total) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "estimated time left %s (%lld of %lld steps to go at %.3g steps/s)",
                  rate > 0 ? format_duration(static_cast<double>(left) / rate).c_str() : "unknown", left, total, rate);
    return buf;
}

/// Refuses an output that exists (unless force) or whose directory is missing or not writable.
inline void check_output(const std::filesystem::path& out, bool force) {
    namespace fs = std::filesystem;
    if (out.empty()) throw parameter_error("--out must name a file");
    if (fs::exists(out) && !force)
        throw parameter_error("output " + out.string() + " exists (use --force to overwrite)");
    if (fs::exists(out) && fs::is_directory(out)) throw parameter_error("output " + out.string() + " is a directory");
    const fs::path dir = out.has_parent_path() ? out.parent_path() : fs::path(".");
    if (!fs::is_directory(dir)) throw parameter_error("output directory " + dir.string() + " does not exist");
    const fs::path probe = dir / (".glassy_write_probe." + std::to_string(::getpid()));
    if (std::FILE* f = std::fopen(probe.c_str(), "w")) {
        std::fclose(f);
        fs::remove(probe);
    } else {
        throw parameter_error("output directory " + dir.string() + " is not writable");
    }
}

/// Memory the kernel reports as available (MemAvailable in /proc/meminfo), in bytes; 0 when
/// unknown (then no check is made).
inline double available_memory_bytes() {
    std::FILE* f = std::fopen("/proc/meminfo", "r");
    if (f == nullptr) return 0;
    char line[256];
    double kib = 0;
    while (std::fgets(line, sizeof line, f) != nullptr)
        if (std::sscanf(line, "MemAvailable: %lf kB", &kib) == 1) break;
    std::fclose(f);
    return kib * 1024.0;
}

/// Refuses a run whose estimated memory exceeds what the machine has available.
inline void check_memory(double needed_bytes, const std::string& what) {
    const double have = available_memory_bytes();
    if (have > 0 && needed_bytes > have)
        throw parameter_error(what + " need about " + std::to_string(static_cast<long long>(needed_bytes / (1 << 20))) +
                              " MiB but only " + std::to_string(static_cast<long long>(have / (1 << 20))) +
                              " MiB are available");
}

/// A checkpoint interval: "30s", "10m", "2h" (wall time) or a plain integer (steps).
struct interval {
    std::int64_t steps = 0;
    double seconds = 0;
};

/// Parses an interval; throws parameter_error with a one-line message.
inline interval parse_interval(const std::string& text) {
    interval out;
    if (text.empty()) return out;
    std::size_t pos = 0;
    double value = 0;
    try {
        value = std::stod(text, &pos);
    } catch (const std::exception&) {
        throw parameter_error("--checkpoint-every '" + text +
                              "': expected a step count or a duration like 30s, 10m, 2h");
    }
    const std::string unit = text.substr(pos);
    if (!(value > 0)) throw parameter_error("--checkpoint-every must be positive");
    if (unit.empty()) {
        if (value != std::floor(value)) throw parameter_error("--checkpoint-every: a step count must be an integer");
        out.steps = static_cast<std::int64_t>(value);
    } else if (unit == "s") {
        out.seconds = value;
    } else if (unit == "m") {
        out.seconds = 60 * value;
    } else if (unit == "h") {
        out.seconds = 3600 * value;
    } else {
        throw parameter_error("--checkpoint-every '" + text + "': unknown unit (use s, m or h, or none for steps)");
    }
    return out;
}

/// The run_control of a run with output flags `o`: checkpoints to o.checkpoint_path() as
/// --checkpoint-every says (throws parameter_error for a bad interval), resuming `saved` when it
/// holds a checkpoint (it must outlive the run).
inline run_control output_control(const run_output& o, const std::optional<checkpoint>& saved) {
    const interval every = parse_interval(o.checkpoint_every);
    run_control control;
    control.checkpoint_path = o.checkpoint_path();
    control.checkpoint_every = trigger(every.steps, every.seconds);
    control.resume = saved ? &*saved : nullptr;
    return control;
}

/// A progress line on stderr, rewritten in place at most every half second; once, after the first
/// `estimate_after` seconds, also a line "<name>: estimated time left ..." (estimate_text, at the rate
/// measured since the first call), so that an absurdly long run shows at once, on a terminal or in a log.
class progress_line {
public:
    explicit progress_line(bool enabled, std::string name = {}, double estimate_after = 3.0)
        : m_enabled(enabled),
          m_tty(::isatty(2) != 0),
          m_name(std::move(name)),
          m_estimate_after(estimate_after),
          m_start(clock::now()),
          m_last(m_start) {}
    void update(long long done, long long total, const std::string& extra = {}) {
        if (!m_enabled) return;
        const auto now = clock::now();
        if (m_base < 0) { // the first call: the rate is measured from here (a resumed run starts late)
            m_base = done;
            m_base_time = now;
        }
        const double since = std::chrono::duration<double>(now - m_base_time).count();
        if (!m_estimated && done > m_base && done < total && since >= m_estimate_after) {
            m_estimated = true;
            const double rate = static_cast<double>(done - m_base) / since;
            std::fprintf(stderr, "%s%s%s%s\n", m_shown ? "\r" : "", m_name.c_str(), m_name.empty() ? "" : ": ",
                         estimate_text(rate, total - done, total).c_str());
            m_shown = false;
        }
        if (!m_tty) { // a log file: one line every 10 %
            const int decile =
                total > 0 ? static_cast<int>(10.0 * static_cast<double>(done) / static_cast<double>(total)) : 0;
            if (decile <= m_decile) return;
            m_decile = decile;
            const double el = std::chrono::duration<double>(now - m_start).count();
            std::fprintf(stderr, "%3d%%  %lld/%lld  elapsed %.0fs %s\n", 10 * decile, done, total, el, extra.c_str());
            return;
        }
        if (now - m_last < std::chrono::milliseconds(500) && done < total) return;
        m_last = now;
        const double el = std::chrono::duration<double>(now - m_start).count();
        const double frac = total > 0 ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
        const double eta = frac > 0 ? el * (1 - frac) / frac : 0.0;
        std::fprintf(stderr, "\r%5.1f%%  %lld/%lld  elapsed %.0fs  eta %.0fs %s   ", 100 * frac, done, total, el, eta,
                     extra.c_str());
        std::fflush(stderr);
        m_shown = true;
    }
    void finish() {
        if (m_shown) std::fprintf(stderr, "\n");
        m_shown = false;
    }
    [[nodiscard]] double elapsed() const { return std::chrono::duration<double>(clock::now() - m_start).count(); }

private:
    using clock = std::chrono::steady_clock;
    bool m_enabled;
    bool m_tty;
    std::string m_name;
    double m_estimate_after;
    bool m_estimated = false;
    long long m_base = -1;
    int m_decile = 0;
    bool m_shown = false;
    clock::time_point m_start, m_last, m_base_time;
};

} // namespace glassy::app
