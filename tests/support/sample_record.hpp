#pragma once
// Test support: a record with every optional part filled (per-sample tables, NaN entries of
// Delta, noise, extra float64, float32 and int64 arrays), shared by the record tests and the fuzz
// seed corpus.
#include "dynamics/record.hpp"

#include <cstdint>
#include <limits>

namespace glassy::test {

inline record full_sample_record() {
    record r;
    r.system = "pspin";
    r.method = "langevin";
    r.parameters = {{"N", 64}, {"T", 0.5}, {"seed", 3}, {"num_parameters", 64}};
    r.time = {0, 1, 2};
    r.energy = {0.0, -0.5, -0.7};
    r.energy_samples = row_matrix{{0.0, -0.4, -0.6}, {0.0, -0.6, -0.8}};
    r.observables["mu"] = {0.5, 2.0, 2.6};
    r.aging.tw = {1, 2};
    r.aging.t = {0, 1};
    const double nan = std::numeric_limits<double>::quiet_NaN();
    r.aging.delta = row_matrix{{0.0, 0.3}, {0.0, nan}};
    r.aging.delta_samples = {row_matrix{{0.0, 0.2}, {0.0, nan}}, row_matrix{{0.0, 0.4}, {0.0, nan}}};
    r.aging.noise = {0.5, 0.5};
    r.extra["ck/C"] = {{2, 2}, {1.0, 0.5, 0.5, 1.0}};
    r.extra_f32["snapshots/weights"] = {{2, 3}, {1.f, 2.f, 3.f, 4.f, 5.f, 6.f}};
    r.extra_i64["hessian/samples"] = {{3}, {0, 7, std::int64_t{1} << 60}}; // beyond a double's 2^53
    return r;
}

/// A minimal p-spin record with a /hessian group holding every dataset docs/format.md names
/// (a p-spin's spectrum and per-sample tables next to a network's trace_err and samples):
/// n_h = 2 measurements of n_s = 2 samples with N - 1 = 3 eigenvalues. A fuzz seed.
inline record hessian_sample_record() {
    record r;
    r.system = "pspin";
    r.method = "langevin";
    r.parameters = {{"N", 4}, {"T", 0.0}, {"seed", 5}, {"num_parameters", 4}, {"flat_epsilon", 1e-3}};
    r.time = {1, 10};
    r.energy = {-0.5, -0.6};
    const double third = 1.0 / 3;
    r.extra["hessian/t"] = {{2}, {1, 10}};
    r.extra["hessian/spectrum"] = {{2, 2, 3}, {-1.0, 0.5, 2.0, -0.5, 0.0, 1.5, -2.0, 1.0, 3.0, 0.25, 0.5, 2.5}};
    r.extra["hessian/top"] = {{2, 2}, {3.0, 2.0, 2.5, 1.5}};
    r.extra["hessian/top_samples"] = {{2, 2, 2}, {2.0, 0.5, 1.5, 0.0, 3.0, 1.0, 2.5, 0.5}};
    r.extra["hessian/negative_fraction_samples"] = {{2, 2}, {third, third, third, 0.0}};
    r.extra["hessian/flat_fraction_samples"] = {{2, 2}, {0.0, third, 0.0, 0.0}};
    r.extra["hessian/trace_samples"] = {{2, 2}, {1.5, 1.0, 2.0, 3.25}};
    r.extra["hessian/negative_fraction"] = {{2}, {third, third / 2}};
    r.extra["hessian/flat_fraction"] = {{2}, {third / 2, 0.0}};
    r.extra["hessian/trace"] = {{2}, {1.75, 2.125}};
    r.extra["hessian/trace_err"] = {{2}, {0.25, std::numeric_limits<double>::quiet_NaN()}};
    r.extra["hessian/density_grid"] = {{3}, {-2.0, 0.0, 2.0}};
    r.extra["hessian/density"] = {{2, 3}, {0.1, 0.2, 0.1, 0.05, 0.25, 0.1}};
    r.extra["hessian/samples"] = {{4}, {7, 0, 42, 3}};
    return r;
}

} // namespace glassy::test
