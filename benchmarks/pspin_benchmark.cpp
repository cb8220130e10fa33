// Finite-N p-spin kernels: gradient, Langevin step, Metropolis sweep, and the machine's
// streaming bandwidth (the bound for the memory-bound gradient). bytes_per_second of the
// gradient is the coupling bytes streamed per call.
#include "physics/dynamics.hpp"
#include "physics/pspin.hpp"

#include <benchmark/benchmark.h>
#include <omp.h>

#include <numeric>
#include <random>

namespace {

void BM_pspin_gradient(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    const glassy::pspin_model m(n, 3, 1);
    std::mt19937_64 rng(2);
    const Eigen::VectorXd s = m.random_configuration(rng);
    Eigen::VectorXd g;
    for (auto _ : state) {
        benchmark::DoNotOptimize(m.gradient(s, g));
        benchmark::ClobberMemory();
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(m.coupling_bytes()));
    state.counters["coupling_MiB"] = static_cast<double>(m.coupling_bytes()) / (1 << 20);
    state.counters["threads"] = omp_get_max_threads();
}
BENCHMARK(BM_pspin_gradient)->Arg(64)->Arg(128)->Arg(256)->Arg(512)->Unit(benchmark::kMicrosecond)->UseRealTime();

// R replicas sharing the couplings: one gradient_batch call. items_per_second counts
// replica-gradients (R per call), so items_per_second(R) / items_per_second(1) is the
// throughput gain per replica of streaming each coupling once for all R.
void batch_gradient(benchmark::State& state, glassy::coupling_precision precision) {
    const int n = static_cast<int>(state.range(0));
    const int r = static_cast<int>(state.range(1));
    const glassy::pspin_model m(n, 3, 1, precision);
    std::mt19937_64 rng(2);
    Eigen::MatrixXd s(n, r);
    for (int c = 0; c < r; ++c) s.col(c) = m.random_configuration(rng);
    Eigen::MatrixXd g;
    for (auto _ : state) {
        benchmark::DoNotOptimize(m.gradient_batch(s, g));
        benchmark::ClobberMemory();
    }
    state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * r);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(m.coupling_bytes()));
    state.counters["threads"] = omp_get_max_threads();
}
void BM_pspin_gradient_batch(benchmark::State& state) { batch_gradient(state, glassy::coupling_precision::float64); }
BENCHMARK(BM_pspin_gradient_batch)
    ->ArgsProduct({{256, 512}, {1, 2, 4, 8, 16}})
    ->ArgNames({"N", "R"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// The same with float32 couplings (half the bytes; sums in double).
void BM_pspin_gradient_batch_f32(benchmark::State& state) { batch_gradient(state, glassy::coupling_precision::float32); }
BENCHMARK(BM_pspin_gradient_batch_f32)
    ->ArgsProduct({{256, 512}, {1, 4, 8}})
    ->ArgNames({"N", "R"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_langevin_step(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    const glassy::pspin_model m(n, 3, 1);
    std::mt19937_64 rng(2);
    Eigen::VectorXd s = m.random_configuration(rng);
    glassy::langevin_dynamics d(0.5, 0.05, glassy::langevin_dynamics::scheme::euler, 3);
    for (auto _ : state) d.step(m, s);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(m.coupling_bytes()));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_langevin_step)->Arg(256)->Arg(512)->Unit(benchmark::kMicrosecond)->UseRealTime();

void BM_metropolis_sweep(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    const glassy::pspin_model m(n, 3, 1);
    std::mt19937_64 rng(2);
    Eigen::VectorXd s = m.random_configuration(rng);
    glassy::metropolis_dynamics d(0.5, 0.3, 3);
    for (auto _ : state) d.step(m, s);
    state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_metropolis_sweep)->Arg(64)->Arg(256)->Unit(benchmark::kMillisecond)->UseRealTime();

// Streaming read bandwidth: a sum over an array much larger than the caches, with the same
// OpenMP threads as the gradient. The gradient cannot beat this.
void BM_stream_read(benchmark::State& state) {
    const std::size_t n = static_cast<std::size_t>(state.range(0)) << 20; // MiB of doubles / 8
    std::vector<double> a(n / sizeof(double) * 8 / 8, 1.0);
    for (auto _ : state) {
        double sum = 0;
        const auto m = static_cast<std::int64_t>(a.size());
#pragma omp parallel for reduction(+ : sum) schedule(static)
        for (std::int64_t i = 0; i < m; ++i) sum += a[static_cast<std::size_t>(i)];
        benchmark::DoNotOptimize(sum);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(a.size() * sizeof(double)));
}
BENCHMARK(BM_stream_read)->Arg(128)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace

BENCHMARK_MAIN();
