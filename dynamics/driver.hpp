#pragma once
/// @file The one driver that runs any (dynamics, system, schedule, observers), in the manner of
/// odeint's integrate_times. Its own state is the step counter (run_state). Hooks run only
/// *between* steps, right after a step is taken and before the observers of the new step fire,
/// so a checkpoint taken in a hook, or a stop requested there, leaves a consistent state:
/// resuming calls integrate() again with the restored run_state and the same schedule, and the
/// observers of that step fire then, exactly once.
#include "dynamics/concepts.hpp"
#include "dynamics/schedule.hpp"

#include <cstdint>
#include <functional>

namespace glassy {

/// Position of a run: the number of steps taken so far.
struct run_state {
    std::int64_t step = 0; ///< steps already taken; the state is at time step * dt
};

/// Optional hooks for a run. Library code never prints: apps pass a progress callback.
struct run_hooks {
    /// Called every `progress_every` steps with (step, total steps).
    std::function<void(std::int64_t, std::int64_t)> progress;
    std::int64_t progress_every = 0; ///< 0 disables progress calls
    /// Polled every `poll_every` steps, between steps; returning true stops the run there.
    std::function<bool(std::int64_t)> stop;
    /// Called every `poll_every` steps, between steps (before stop is polled): the place to
    /// write checkpoints.
    std::function<void(std::int64_t)> between_steps;
    std::int64_t poll_every = 1; ///< how often (in steps) stop and between_steps are called
};

/// Advance `x` from rs.step to `last_step` with `dyn`, calling every observer at each step of
/// `sched` that falls in [rs.step, last_step]. Returns true when last_step was reached (its
/// observers fired), false when hooks.stop asked to stop (rs.step then says where; the
/// observers of that step have not fired yet).
/// A dynamics with variable steps may provide `double time(const state&)`; the driver then
/// reports that time to observers instead of step * dt().
template <class Dynamics, class System, class... Observers>
    requires dynamics_for<Dynamics, System> && (observer_for<Observers, System> && ...)
bool integrate(Dynamics& dyn, System& sys, typename System::state_type& x, run_state& rs, std::int64_t last_step,
               const schedule& sched, const run_hooks& hooks, Observers&... obs) {
    const double dt = dyn.dt();
    const auto& steps = sched.steps();
    std::size_t next = sched.lower_index(rs.step);
    const std::int64_t poll = hooks.poll_every > 0 ? hooks.poll_every : 1;
    for (;;) {
        if (next < steps.size() && steps[next] == rs.step) {
            double t = static_cast<double>(rs.step) * dt;
            if constexpr (requires {
                              { dyn.time(x) } -> std::convertible_to<double>;
                          })
                t = dyn.time(x); // dynamics with variable steps report their own clock
            (obs(sys, x, rs.step, t), ...);
            ++next;
        }
        if (rs.step >= last_step) return true;
        dyn.step(sys, x);
        ++rs.step;
        if (hooks.progress_every > 0 && rs.step % hooks.progress_every == 0 && hooks.progress)
            hooks.progress(rs.step, last_step);
        if (rs.step % poll == 0) {
            if (hooks.between_steps) hooks.between_steps(rs.step);
            if (hooks.stop && hooks.stop(rs.step)) return false;
        }
    }
}

/// Convenience overload without hooks.
template <class Dynamics, class System, class... Observers>
    requires dynamics_for<Dynamics, System> && (observer_for<Observers, System> && ...)
bool integrate(Dynamics& dyn, System& sys, typename System::state_type& x, run_state& rs, std::int64_t last_step,
               const schedule& sched, Observers&... obs) {
    return integrate(dyn, sys, x, rs, last_step, sched, run_hooks{}, obs...);
}

} // namespace glassy
