// Speed of the network pieces: one SGD step (batch 100), one D measurement (1024 samples,
// batched per-sample norms vs the per-sample loop), one metrics evaluation (1024 + 1024), and the
// Hessian (issue 13): a gradient vs a Hessian-vector product on 1024 samples, one measurement; one
// 21-point straight line of net_quench --barrier (issue 14) on 1024 and 128 samples. MNIST from
// $GLASSY_DATA_DIR or <repo>/data when present, else the MNIST-shaped synthetic set (same shapes, same cost). Run:
// build/bench/benchmarks/nets_benchmark [--benchmark_filter=...]; threads: OMP_NUM_THREADS.
#include "dynamics/error.hpp"
#include "nets/barrier.hpp"
#include "nets/hessian.hpp"
#include "nets/network.hpp"
#include "nets/noise.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <numeric>
#include <random>

using namespace glassy::nets;

namespace {

const dataset_pair& data() {
    static const dataset_pair d = [] {
        const char* env = std::getenv("GLASSY_DATA_DIR");
        try {
            return load_dataset(dataset_kind::mnist, env ? env : GLASSY_BENCH_DATA_DIR);
        } catch (const glassy::error&) {
            synthetic_options o;
            o.train_count = 60000;
            o.test_count = 1000;
            return make_synthetic(o);
        }
    }();
    return d;
}

std::unique_ptr<network_system> make(model_kind kind, torch::Dtype dtype = torch::kFloat32) {
    torch::manual_seed(1);
    const auto& d = data();
    auto model =
        make_model(kind, {d.train.channels, d.train.height, d.train.width, d.train.classes}, {.hidden = 10000});
    return std::make_unique<network_system>(model, d.train, d.test, compute_channel_stats(d.train),
                                            network_options{torch::kCPU, dtype});
}

void BM_SgdStep(benchmark::State& state, model_kind kind) {
    auto sys = make(kind);
    parameter_handle x = sys->state();
    sgd dyn(sgd_options{0.1, 0.0, 100, 0.0, 1}, *sys);
    for (int i = 0; i < 5; ++i) dyn.step(*sys, x); // warm-up
    for (auto _ : state) dyn.step(*sys, x);
    state.counters["threads"] = torch::get_num_threads();
}

void BM_Noise(benchmark::State& state, model_kind kind, noise_method method) {
    auto sys = make(kind);
    const std::int64_t samples = state.range(0);
    for (auto _ : state) benchmark::DoNotOptimize(sgd_noise(*sys, samples, method).D);
    state.counters["threads"] = torch::get_num_threads();
}

/// One metrics evaluation of net_quench: loss, accuracy and gradient norm on the first N train
/// samples (forward + backward) and loss, accuracy on the first N test samples (forward).
void BM_Evaluate(benchmark::State& state, model_kind kind) {
    auto sys = make(kind);
    const std::int64_t n = state.range(0);
    for (auto _ : state) {
        benchmark::DoNotOptimize(sys->evaluate(split::train, n, true).loss);
        benchmark::DoNotOptimize(sys->evaluate(split::test, n, false).loss);
    }
    state.counters["threads"] = torch::get_num_threads();
}

std::vector<std::int64_t> first(std::int64_t n) {
    std::vector<std::int64_t> v(static_cast<std::size_t>(n));
    std::iota(v.begin(), v.end(), std::int64_t{0});
    return v;
}

/// The gradient of the mean loss on the first N training samples: one forward and one backward,
/// as loss_hessian builds it but without the graph (the reference of BM_HessianProduct).
void BM_Gradient(benchmark::State& state, model_kind kind) {
    auto sys = make(kind);
    const torch::Tensor index = sys->sample_index(split::train, first(state.range(0)));
    const auto params = sys->state().tensors;
    sys->model().eval();
    for (auto _ : state) {
        const torch::Tensor loss = sys->per_sample_loss(sys->model().forward(sys->inputs(split::train, index)),
                                                        sys->labels(split::train, index))
                                       .mean();
        benchmark::DoNotOptimize(torch::autograd::grad({loss}, params));
    }
    state.counters["threads"] = torch::get_num_threads();
}

/// One Hessian-vector product on the first N training samples (the gradient graph built once,
/// outside the timing, as in a measurement); issue 13's target: <= 4x BM_Gradient.
void BM_HessianProduct(benchmark::State& state, model_kind kind) {
    auto sys = make(kind);
    const loss_hessian h(*sys, first(state.range(0)));
    std::mt19937_64 rng(1);
    std::normal_distribution<double> normal;
    Eigen::VectorXd v(h.size()), y(h.size());
    for (Eigen::Index i = 0; i < v.size(); ++i) v[i] = normal(rng);
    for (auto _ : state) h.product(v.data(), y.data());
    state.counters["M"] = static_cast<double>(h.size());
    state.counters["threads"] = torch::get_num_threads();
}

/// One whole measurement of net_quench --hessian (default settings: top 20 by Spectra, Hutchinson
/// with 100 vectors, SLQ 4 x 80 steps) on the first N training samples at the initial weights;
/// issue 13's target for smallnet on 1024 samples: <= 60 s on 2 cores.
void BM_HessianMeasurement(benchmark::State& state, model_kind kind) {
    auto sys = make(kind);
    const auto samples = first(state.range(0));
    hessian_measurement m;
    for (auto _ : state) m = measure_hessian(*sys, samples, hessian_settings{}, 0);
    state.counters["top1"] = m.top.front();
    state.counters["top20"] = m.top.back();
    state.counters["trace"] = m.trace;
    state.counters["trace_err"] = m.trace_err;
    state.counters["products_top"] = static_cast<double>(m.products.top);
    state.counters["products_trace"] = static_cast<double>(m.products.trace);
    state.counters["products_slq"] = static_cast<double>(m.products.slq);
    state.counters["threads"] = torch::get_num_threads();
}

/// One line of net_quench --barrier: the training loss at 21 points of the straight line between the
/// initial weights and weights shifted by N(0, 0.01^2) per weight, on the first N training samples;
/// issue 14's target for smallnet on 1024 samples: <= 1 s on 2 cores. N = 128: a default line
/// (--barrier-samples 128). Peer: benchmarks/peers/torch_barrier_line.py.
void BM_BarrierLine(benchmark::State& state, model_kind kind) {
    auto sys = make(kind);
    const auto samples = first(state.range(0));
    const Eigen::VectorXf a = flatten_parameters(sys->state());
    std::mt19937_64 rng(1);
    std::normal_distribution<float> normal(0.0f, 0.01f);
    Eigen::VectorXf b = a;
    for (Eigen::Index i = 0; i < b.size(); ++i) b[i] += normal(rng);
    std::vector<double> alphas;
    for (int k = 0; k <= 20; ++k) alphas.push_back(k / 20.0);
    for (auto _ : state) benchmark::DoNotOptimize(line_losses(*sys, a, b, alphas, samples)(10));
    state.counters["threads"] = torch::get_num_threads();
}

} // namespace

BENCHMARK_CAPTURE(BM_BarrierLine, smallnet, model_kind::smallnet)->Arg(1024)->Arg(128)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Gradient, smallnet, model_kind::smallnet)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_HessianProduct, smallnet, model_kind::smallnet)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Gradient, fc, model_kind::fc)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_HessianProduct, fc, model_kind::fc)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_HessianMeasurement, smallnet, model_kind::smallnet)
    ->Arg(1024)
    ->Iterations(1)
    ->Unit(benchmark::kSecond);
BENCHMARK_CAPTURE(BM_Evaluate, fc, model_kind::fc)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Evaluate, smallnet, model_kind::smallnet)->Arg(1024)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_SgdStep, fc, model_kind::fc)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_SgdStep, smallnet, model_kind::smallnet)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_SgdStep, toy, model_kind::toy)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Noise, fc_batched, model_kind::fc, noise_method::batched)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Noise, fc_loop, model_kind::fc, noise_method::per_sample_loop)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Noise, smallnet_batched, model_kind::smallnet, noise_method::batched)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Noise, smallnet_loop, model_kind::smallnet, noise_method::per_sample_loop)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Noise, toy_batched, model_kind::toy, noise_method::batched)
    ->Arg(1024)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
