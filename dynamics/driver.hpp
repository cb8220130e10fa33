#pragma once
/// @file The one driver that runs any (dynamics, system, schedule, observers), in the manner of
/// odeint's integrate_times. Its own state is the step counter (run_state), so a run can be
/// checkpointed between calls: save the run_state, the dynamics (RNG), the state and the
/// observers; restore them and call integrate() again with the same schedule.
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
    /// Called about every `progress_every` steps with (step, total steps).
    std::function<void(std::int64_t, std::int64_t)> progress;
    std::int64_t progress_every = 0; ///< 0 disables progress calls
    /// Polled every step where observers fire and at every progress call; returning true
    /// stops the run cleanly (the run_state then says where it stopped).
    std::function<bool(std::int64_t)> stop;
};

/// A dynamics whose steps have variable length may provide `double time(const state&)`;
/// the driver then reports that time to observers instead of step * dt().
/// Advance `x` from rs.step to `last_step` with `dyn`, calling every observer at each step of
/// `sched` that falls in [rs.step, last_step] (the current step included, before any move).
/// Returns true when last_step was reached, false when hooks.stop asked to stop.
template <class Dynamics, class System, class... Observers>
    requires dynamics_for<Dynamics, System> && (observer_for<Observers, System> && ...)
bool integrate(Dynamics& dyn, System& sys, typename System::state_type& x, run_state& rs,
               std::int64_t last_step, const schedule& sched, const run_hooks& hooks,
               Observers&... obs) {
    const double dt = dyn.dt();
    const auto& steps = sched.steps();
    std::size_t next = sched.lower_index(rs.step);
    for (;;) {
        if (next < steps.size() && steps[next] == rs.step) {
            double t = static_cast<double>(rs.step) * dt;
            if constexpr (requires { { dyn.time(x) } -> std::convertible_to<double>; })
                t = dyn.time(x); // dynamics with variable steps report their own clock
            (obs(sys, x, rs.step, t), ...);
            ++next;
            if (hooks.stop && hooks.stop(rs.step)) return rs.step >= last_step;
        }
        if (rs.step >= last_step) return true;
        if (hooks.progress_every > 0 && rs.step % hooks.progress_every == 0 && rs.step > 0) {
            if (hooks.progress) hooks.progress(rs.step, last_step);
            if (hooks.stop && hooks.stop(rs.step)) return false;
        }
        dyn.step(sys, x);
        ++rs.step;
    }
}

/// Convenience overload without hooks.
template <class Dynamics, class System, class... Observers>
    requires dynamics_for<Dynamics, System> && (observer_for<Observers, System> && ...)
bool integrate(Dynamics& dyn, System& sys, typename System::state_type& x, run_state& rs,
               std::int64_t last_step, const schedule& sched, Observers&... obs) {
    return integrate(dyn, sys, x, rs, last_step, sched, run_hooks{}, obs...);
}

} // namespace glassy
