// Wall time of the CK integrators (physics/ck.hpp) at T = 0.5, pure p = 3, default accuracy.
// BM_ck_decimation/<tmax>/<grid>: the long-time (Kim–Latz) scheme from t = 0 to tmax;
// BM_ck_reference/<tmax x 10>: the uniform-grid Heun reference, h = 0.02 (cost ~ tmax^3).
// Label: e(t) at the last row and its time t.
#include "physics/ck.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>

namespace {

using namespace glassy;

void BM_ck_decimation(benchmark::State& state) {
    const double tmax = static_cast<double>(state.range(0));
    ck_decimation_options opt;
    opt.grid = static_cast<int>(state.range(1));
    const ck_system sys(ck_mixture::pure(3), 0.5);
    double e_end = 0.0, t_end = 0.0;
    for (auto _ : state) {
        ck_decimation dyn(opt);
        ck_state x = dyn.initial_state(sys);
        const std::int64_t steps = dyn.steps_to(tmax);
        for (std::int64_t s = 0; s < steps; ++s) dyn.step(sys, x);
        // DoNotOptimize on the (const) vector data, not on the double lvalue: Debian's
        // Google Benchmark binds a non-const lvalue to "+m,r", and GCC then handed back an
        // unrelated register (e printed as a denormal before this was changed).
        benchmark::DoNotOptimize(x.energy.data());
        e_end = x.energy.back();
        t_end = x.now();
    }
    char label[64];
    std::snprintf(label, sizeof label, "e(%.6g) = %.7f", t_end, e_end);
    state.SetLabel(label);
}
BENCHMARK(BM_ck_decimation)
    ->Args({100, 512})
    ->Args({1000, 512})
    ->Args({10000, 512})
    ->Args({100000, 512})
    ->Args({1000000, 512})
    ->Args({10000, 256})
    ->Args({1000000, 256})
    ->Unit(benchmark::kSecond)
    ->UseRealTime()
    ->Iterations(1);

void BM_ck_reference(benchmark::State& state) {
    const double tmax = static_cast<double>(state.range(0)) / 10.0;
    const ck_system sys(ck_mixture::pure(3), 0.5);
    double e_end = 0.0;
    for (auto _ : state) {
        ck_reference dyn(0.02);
        ck_state x = dyn.initial_state(sys);
        const std::int64_t steps = dyn.steps_to(tmax);
        for (std::int64_t s = 0; s < steps; ++s) dyn.step(sys, x);
        benchmark::DoNotOptimize(x.energy.data());
        e_end = x.energy.back();
    }
    char label[64];
    std::snprintf(label, sizeof label, "e(%.6g) = %.7f", tmax, e_end);
    state.SetLabel(label);
}
BENCHMARK(BM_ck_reference)->Arg(50)->Arg(100)->Arg(200)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

} // namespace

BENCHMARK_MAIN();
