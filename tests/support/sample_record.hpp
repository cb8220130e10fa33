#pragma once
// Test support: a record with every optional part filled (per-sample tables, NaN entries of
// Delta, noise, extra float64 and float32 arrays), shared by the record tests and the fuzz
// seed corpus.
#include "dynamics/record.hpp"

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
    return r;
}

} // namespace glassy::test
