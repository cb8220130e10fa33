// Wall time of the CK integrators (physics/ck.hpp) at T = 0.5, pure p = 3, default accuracy.
// BM_ck_decimation/<tmax>/<grid>: the long-time (Kim–Latz) scheme from t = 0 to tmax;
// BM_ck_reference/<tmax x 10>: the uniform-grid Heun reference, h = 0.02 (cost ~ tmax^3).
// Counters: minus_e_end = -e(t) at the last row, t_end = its time.
#include "physics/ck.hpp"

#include <benchmark/benchmark.h>

#include <cstdint>

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
        e_end = x.energy.back();
        t_end = x.now();
        benchmark::DoNotOptimize(e_end);
    }
    state.counters["minus_e_end"] = -e_end; // positive: some Benchmark versions misprint negative counters
    state.counters["t_end"] = t_end;
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
        e_end = x.energy.back();
        benchmark::DoNotOptimize(e_end);
    }
    state.counters["minus_e_end"] = -e_end; // positive: some Benchmark versions misprint negative counters
}
BENCHMARK(BM_ck_reference)->Arg(50)->Arg(100)->Arg(200)->Unit(benchmark::kSecond)->UseRealTime()->Iterations(1);

} // namespace

BENCHMARK_MAIN();
