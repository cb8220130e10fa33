#pragma once
// Shared helpers of the CK tests: run an integrator to a time, read the e(t) history.
#include "physics/ck.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>

namespace glassy::ck_test {

inline ck_state run_decimation(const ck_system& sys, double tmax, int grid = 256, double h0 = 1e-4) {
    ck_decimation_options opt;
    opt.grid = grid;
    opt.h0 = h0;
    ck_decimation dyn(opt);
    ck_state x = dyn.initial_state(sys);
    const std::int64_t steps = dyn.steps_to(tmax);
    for (std::int64_t s = 0; s < steps; ++s) dyn.step(sys, x);
    return x;
}

inline ck_state run_reference(const ck_system& sys, double tmax, double h) {
    ck_reference dyn(h);
    ck_state x = dyn.initial_state(sys);
    const std::int64_t steps = dyn.steps_to(tmax);
    for (std::int64_t s = 0; s < steps; ++s) dyn.step(sys, x);
    return x;
}

/// Quadratic interpolation of a history (x.time, values) at t (inside the history).
inline double history_at(const ck_state& x, const std::vector<double>& values, double t) {
    const auto& ts = x.time;
    auto it = std::lower_bound(ts.begin(), ts.end(), t);
    if (it == ts.end()) throw std::out_of_range("history_at: t past the run");
    auto k = static_cast<std::size_t>(it - ts.begin());
    k = std::clamp<std::size_t>(k, 1, ts.size() - 2);
    const double t0 = ts[k - 1], t1 = ts[k], t2 = ts[k + 1];
    const double y0 = values[k - 1], y1 = values[k], y2 = values[k + 1];
    return y0 * (t - t1) * (t - t2) / ((t0 - t1) * (t0 - t2)) + y1 * (t - t0) * (t - t2) / ((t1 - t0) * (t1 - t2)) +
           y2 * (t - t0) * (t - t1) / ((t2 - t0) * (t2 - t1));
}

/// Threshold quantities of the pure p-spin at T (design.md section 5): q_EA is the larger root
/// of p(p-1)/2 q^{p-2} (1-q)^2 = T^2, x = (p-2)(1-q)/q, e_th = -(1/(2T))[1 - (1-x) q^p].
struct threshold {
    double q, x, e;
};
inline threshold pure_threshold(int p, double T) {
    double lo = (p - 2.0) / p, hi = 1.0; // the larger root lies above the maximum at (p-2)/p
    const auto g = [p](double q) { return 0.5 * p * (p - 1) * std::pow(q, p - 2) * (1 - q) * (1 - q); };
    for (int k = 0; k < 200; ++k) {
        const double mid = 0.5 * (lo + hi);
        (g(mid) > T * T ? lo : hi) = mid;
    }
    const double q = 0.5 * (lo + hi);
    const double x = (p - 2.0) * (1.0 - q) / q;
    return {q, x, -(1.0 / (2.0 * T)) * (1.0 - (1.0 - x) * std::pow(q, p))};
}

} // namespace glassy::ck_test
