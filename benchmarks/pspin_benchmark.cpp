// Finite-N p-spin kernels: gradient, Langevin step (one state and R replicas), Metropolis sweep, the Hessian
// and its spectrum (and the --hessian overhead on a quench), and the machine's
// streaming bandwidth (the bound for the memory-bound gradient). bytes_per_second of the
// gradient is the coupling bytes streamed per call.
#include "physics/hessian.hpp"
#include "physics/pspin.hpp"
#include "physics/quench.hpp"
#include "physics/steppers.hpp"

#include <benchmark/benchmark.h>
#include <omp.h>

#include <cstring>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

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
void BM_pspin_gradient_batch_f32(benchmark::State& state) {
    batch_gradient(state, glassy::coupling_precision::float32);
}
BENCHMARK(BM_pspin_gradient_batch_f32)
    ->ArgsProduct({{256, 512}, {1, 4, 8}})
    ->ArgNames({"N", "R"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void langevin_step(benchmark::State& state, glassy::coupling_precision precision) {
    const int n = static_cast<int>(state.range(0));
    const glassy::pspin_model m(n, 3, 1, precision);
    std::mt19937_64 rng(2);
    Eigen::VectorXd s = m.random_configuration(rng);
    glassy::langevin_dynamics d(0.5, 0.05, glassy::langevin_dynamics::scheme::euler, 3);
    for (auto _ : state) d.step(m, s);
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(m.coupling_bytes()));
    state.SetItemsProcessed(state.iterations());
}
void BM_langevin_step(benchmark::State& state) { langevin_step(state, glassy::coupling_precision::float64); }
BENCHMARK(BM_langevin_step)->Arg(256)->Arg(512)->Unit(benchmark::kMicrosecond)->UseRealTime();
// --couplings float32: half the bytes, sums in double.
void BM_langevin_step_f32(benchmark::State& state) { langevin_step(state, glassy::coupling_precision::float32); }
BENCHMARK(BM_langevin_step_f32)->Arg(256)->Arg(512)->Unit(benchmark::kMicrosecond)->UseRealTime();

// One Euler step of R replicas sharing the couplings (what `pspin_quench --replicas R` runs): one
// batched gradient per step for R > 1. items_per_second counts replica-steps (R per step).
void BM_langevin_step_replicas(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    const auto r = static_cast<std::size_t>(state.range(1));
    const glassy::pspin_model m(n, 3, 1);
    std::mt19937_64 rng(2);
    std::vector<Eigen::VectorXd> x;
    std::vector<std::uint64_t> seeds;
    for (std::size_t k = 0; k < r; ++k) {
        x.push_back(m.random_configuration(rng));
        seeds.push_back(3 + k);
    }
    const glassy::replicas<glassy::pspin_model> sys{&m};
    glassy::langevin_dynamics d(0.5, 0.05, glassy::langevin_dynamics::scheme::euler, seeds);
    for (auto _ : state) d.step(sys, x);
    state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(r));
}
BENCHMARK(BM_langevin_step_replicas)
    ->ArgsProduct({{256}, {1, 4, 8}})
    ->ArgNames({"N", "R"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

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

// Streaming read bandwidth with the same OpenMP threads as the gradient: a sum over 128 MiB
// (much larger than the caches: main memory) and over 16 MiB (inside this VM's 32 MiB L3).
// Sixteen independent accumulators in 4-lane vectors, so that the adds' latency does not
// bound the loop (a single scalar accumulator measures ~9 GB/s here whatever the memory does).
// A gradient whose couplings do not fit in the L3 cannot beat the first; at N = 256 (21 MiB)
// they can stay in the L3, and the second is the relevant bound.
typedef double stream_v4d __attribute__((vector_size(32), aligned(8)));
void BM_stream_read(benchmark::State& state) {
    const std::size_t bytes = static_cast<std::size_t>(state.range(0)) << 20;
    std::vector<double> a(bytes / sizeof(double), 1.0);
    const auto blocks = static_cast<std::int64_t>(a.size() / 16);
    for (auto _ : state) {
        double sum = 0;
#pragma omp parallel reduction(+ : sum)
        {
            stream_v4d acc[4] = {};
#pragma omp for schedule(static)
            for (std::int64_t b = 0; b < blocks; ++b) {
                const double* p = a.data() + 16 * b;
                for (int q = 0; q < 4; ++q) {
                    stream_v4d v;
                    std::memcpy(&v, p + 4 * q, sizeof v);
                    acc[q] += v;
                }
            }
            const stream_v4d t = (acc[0] + acc[1]) + (acc[2] + acc[3]);
            sum += (t[0] + t[1]) + (t[2] + t[3]);
        }
        benchmark::DoNotOptimize(std::as_const(sum)); // const: an lvalue binds to "+m,r" (see ck_benchmark)
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(a.size() * sizeof(double)));
}
BENCHMARK(BM_stream_read)->Arg(128)->Arg(16)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace

// Issue 13: the Euclidean Hessian (p = 3: two streams of the couplings), and one full spectrum of
// the Riemannian Hessian (that Hessian, the Householder similarity and Eigen's
// SelfAdjointEigenSolver, eigenvalues only). Target: the spectrum at N = 512 in <= 0.2 s.
// Args: N, p (p = 4 runs the generic loop; at N = 512 its couplings alone would need 22 GB).
void BM_pspin_hessian(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    const glassy::pspin_model m(n, static_cast<int>(state.range(1)), 1);
    std::mt19937_64 rng(2);
    const Eigen::VectorXd s = m.random_configuration(rng);
    for (auto _ : state) benchmark::DoNotOptimize(m.hessian(s).data());
    state.counters["threads"] = omp_get_max_threads();
}
BENCHMARK(BM_pspin_hessian)
    ->Args({256, 3})
    ->Args({512, 3})
    ->Args({64, 4})
    ->Args({128, 4})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_tangent_spectrum(benchmark::State& state) {
    const int n = static_cast<int>(state.range(0));
    const glassy::pspin_model m(n, 3, 1);
    std::mt19937_64 rng(2);
    const Eigen::VectorXd s = m.random_configuration(rng);
    for (auto _ : state) benchmark::DoNotOptimize(glassy::tangent_spectrum(m, s).data());
    state.counters["threads"] = omp_get_max_threads();
}
BENCHMARK(BM_tangent_spectrum)->Arg(256)->Arg(512)->Unit(benchmark::kMillisecond)->UseRealTime();

// The overhead of --hessian on a quench with the default waiting times: Arg(0) bare, Arg(1) with
// the Hessian (N = 512, p = 3, T = 0.5, tmax = range(1)).
void BM_quench_hessian_overhead(benchmark::State& state) {
    glassy::pspin_quench_parameters par;
    par.n = 512;
    par.hessian = state.range(0) != 0;
    par.tmax = static_cast<double>(state.range(1));
    for (auto _ : state) benchmark::DoNotOptimize(glassy::run_pspin_quench(par).energy.data());
    state.counters["spectra"] = par.hessian ? static_cast<double>(glassy::hessian_steps(par).size()) : 0.0;
}
BENCHMARK(BM_quench_hessian_overhead)
    ->Args({0, 100})
    ->Args({1, 100})
    ->Args({0, 1000})
    ->Args({1, 1000})
    ->Iterations(1)
    ->Unit(benchmark::kSecond)
    ->UseRealTime();

BENCHMARK_MAIN();
