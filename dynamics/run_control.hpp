#pragma once
/// @file The run layer shared by every tool (pspin_quench, its CK method, net_quench): *when*
/// something happens kept apart from *what* happens (HOOMD's Trigger idea). A `trigger` says
/// when a checkpoint is due (every N steps or every T seconds of wall time); `run_control` says
/// where checkpoints go and what to resume from; `run_end` says why a run stopped, with the
/// message the record stores. Invariants: a trigger never looks at the state, only at the step
/// and the clock; a run stops as `interrupted` exactly when hooks.stop returned true (so an app
/// knows without reading the message back), and as `diverged` only on its own detection.
#include "dynamics/checkpoint.hpp"
#include "dynamics/record.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

namespace glassy {

/// When a periodic action (a checkpoint) is due: at every step that is a multiple of
/// `every_steps`, or once `every_seconds` of wall time have passed since the last reset(),
/// whichever comes first; never when both are 0 (the default).
class trigger {
public:
    using clock = std::chrono::steady_clock;
    trigger() = default;
    /// every_steps >= 0 steps (0 = off), every_seconds >= 0 seconds of wall time (0 = off).
    trigger(std::int64_t every_steps, double every_seconds)
        : m_every_steps(every_steps), m_every_seconds(every_seconds) {}
    /// True when `step` is due (see the class comment).
    [[nodiscard]] bool due(std::int64_t step) const {
        const bool by_steps = m_every_steps > 0 && step % m_every_steps == 0;
        const bool by_time =
            m_every_seconds > 0 && std::chrono::duration<double>(clock::now() - m_last).count() >= m_every_seconds;
        return by_steps || by_time;
    }
    /// Restarts the wall-time interval: call when the action was done.
    void reset() { m_last = clock::now(); }
    [[nodiscard]] std::int64_t every_steps() const noexcept { return m_every_steps; }
    [[nodiscard]] double every_seconds() const noexcept { return m_every_seconds; }

private:
    std::int64_t m_every_steps = 0;
    double m_every_seconds = 0;
    clock::time_point m_last = clock::now();
};

/// Checkpointing of a run, the same for every tool: a checkpoint holds the complete state at a
/// step boundary, so a resumed run gives a record identical, bit for bit, to the uninterrupted
/// one with the same parameters (same binary and CPU). What each tool stores is in its run
/// function's comment; when a run is stopped by hooks.stop with a path set, a final checkpoint
/// is written first.
struct run_control {
    std::filesystem::path checkpoint_path; ///< where to write checkpoints; empty = never
    trigger checkpoint_every;              ///< when to write them (default: never, but the final one)
    const checkpoint* resume = nullptr;    ///< continue from this checkpoint (same parameters)
    /// Entries every checkpoint of the run holds besides its own state (none when null; where
    /// a key is in both, the run's own entry is kept): what a job of several runs finished
    /// before this one, e.g. the finished seeds of net_quench --seeds (nets/train_seeds.hpp).
    /// Honoured by nets::quench::run, the one run function started inside such a job.
    const checkpoint* carried = nullptr;
};

/// Why a run ended.
enum class stop_reason {
    none,        ///< it reached its last step: the record is complete
    interrupted, ///< hooks.stop returned true (a signal): the app exits 130, resumable
    diverged,    ///< the run found a non-finite energy or loss: the app exits 3
    converged,   ///< the run met its own stopping rule (net_quench --stop-loss): complete, exit 0
};

/// How a run ended: the reason and its one-line message, e.g. "interrupted at step 5 of 300"
/// or "diverged at t = ...", stored verbatim as the record's parameters["stop_reason"].
struct run_end {
    stop_reason reason = stop_reason::none;
    std::string message; ///< empty for none (and for a CK run, whose records store no message)

    [[nodiscard]] bool stopped() const noexcept { return reason != stop_reason::none; }
    /// Marks `rec`: complete when not stopped or converged, else incomplete; parameters["stop_reason"]
    /// = message when stopped (and there is one).
    void mark(record& rec) const {
        rec.complete = reason == stop_reason::none || reason == stop_reason::converged;
        if (stopped() && !message.empty()) rec.parameters["stop_reason"] = message;
    }
};

} // namespace glassy
