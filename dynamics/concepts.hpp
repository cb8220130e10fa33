#pragma once
/// @file The System / Dynamics / Observer concepts (design.md section 2), modelled on
/// Boost.Odeint: a system describes the model, a dynamics advances a state of it by one step,
/// observers look at (system, state) at scheduled steps. No virtual hierarchy: every piece is
/// a type satisfying a concept, and one free driver (driver.hpp) runs any combination.
#include <concepts>
#include <cstdint>
#include <type_traits>

namespace glassy {

/// A system exports the type of its state.
template <class S>
concept system = requires { typename S::state_type; };

/// A gradient system: energy and gradient of a state. Units are the system's own (the p-spin
/// returns the total energy H, not per spin).
template <class S>
concept gradient_system =
    system<S> && requires(const S& s, const typename S::state_type& x, typename S::state_type& g) {
        { s.energy(x) } -> std::convertible_to<double>;
        s.gradient(x, g);
    };

/// A dynamics advances a state of System by one step of length dt() (physical time per
/// step: dt for Langevin, one sweep for Metropolis, one iteration for SGD).
template <class D, class S>
concept dynamics_for = system<S> && requires(D& d, S& s, typename S::state_type& x) {
    d.step(s, x);
    { d.dt() } -> std::convertible_to<double>;
};

/// An observer is called as obs(system, state, step, t) at scheduled steps, t = step * dt.
template <class O, class S>
concept observer_for = system<S> && requires(O& o, const S& s, const typename S::state_type& x, std::int64_t step,
                                             double t) { o(s, x, step, t); };

/// A state for which the two-time recorder can store snapshots. snapshot_traits<State> gives
/// `snapshot_type`, `take(x)` and `mean_squared_distance(a, b)` = (1/n) sum_i (a_i - b_i)^2,
/// n being the number of degrees of freedom (N spins, M weights).
template <class State>
struct snapshot_traits; // specialised per state type (dynamics/recorders.hpp: Eigen vectors)

template <class State>
concept snapshottable = requires(const State& x) {
    typename snapshot_traits<State>::snapshot_type;
    { snapshot_traits<State>::take(x) } -> std::convertible_to<typename snapshot_traits<State>::snapshot_type>;
    {
        snapshot_traits<State>::mean_squared_distance(snapshot_traits<State>::take(x), snapshot_traits<State>::take(x))
    } -> std::convertible_to<double>;
};

} // namespace glassy
