// Issue 15, the training features of the jamming studies: the quadratic hinge loss and its
// unsatisfied fraction, the random and parity datasets, the linear and deep fc models, full-batch
// gradient descent, Adam (resumed bit for bit), --stop-loss, and the perceptron below and above
// Gardner's capacity.
#include "dynamics/checkpoint.hpp"
#include "dynamics/error.hpp"
#include "dynamics/record.hpp"
#include "nets/quench.hpp"
#include "nets_support.hpp"
#include "support/record_compare.hpp"
#include "support/scratch.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numeric>

namespace fs = std::filesystem;
using namespace glassy::nets;

namespace {

/// A set of real-valued inputs [n, 1, 1, d] with labels 0/1, made by hand.
image_set real_set(std::int64_t d, std::vector<double> values, std::vector<std::int64_t> labels) {
    image_set s;
    s.count = static_cast<std::int64_t>(labels.size());
    s.channels = s.height = 1;
    s.width = d;
    s.classes = 2;
    s.values = std::move(values);
    s.labels = std::move(labels);
    return s;
}

/// A hinge2 network system of `kind` (one output) on `data`, float64.
std::unique_ptr<network_system> hinge_system(model_kind kind, const dataset_pair& data, model_sizes sizes = {}) {
    torch::manual_seed(4);
    const input_shape shape{1, 1, data.train.width, 1};
    return std::make_unique<network_system>(make_model(kind, shape, sizes), data.train, data.test,
                                            compute_channel_stats(data.train),
                                            network_options{torch::kCPU, torch::kFloat64, true, loss_kind::hinge2});
}

/// The perceptron of the validation: linear model, hinge2, random data, --batch all, float64, GD.
quench_options perceptron(std::int64_t d, std::int64_t p, std::int64_t steps) {
    quench_options o;
    o.model = model_kind::linear;
    o.dataset = dataset_kind::random;
    o.random.input_dim = d;
    o.random.train_count = p;
    o.loss = loss_kind::hinge2;
    o.batch = full_batch;
    o.dtype = dtype_kind::float64;
    o.lr = 10.0;
    o.steps = steps;
    o.seed = 2;
    o.noise_samples = 16;
    o.eval_samples = p; // the whole training set
    o.points_per_decade = 4;
    o.tw_steps = {10};
    o.lag_steps = {1, 10};
    return o;
}

} // namespace

// L_s = (1/2) max(0, 1 - s f)^2 with s = 2y - 1; unsatisfied when s f < 1 (a margin of exactly 1 is
// satisfied); a hit when s f > 0.
TEST(hinge2, per_sample_loss_hits_and_unsatisfied_on_a_hand_case) {
    const dataset_pair data{"hand", real_set(2, {1, 0, 1, 0}, {1, 0}), real_set(2, {1, 0}, {1}), {}};
    auto sys = hinge_system(model_kind::linear, data);
    const torch::Tensor f = torch::tensor({2.0, 0.5, -0.5, 0.0, 1.0, 1.0}, torch::kFloat64).reshape({6, 1});
    const torch::Tensor y = torch::tensor({1, 1, 1, 0, 1, 0}, torch::kInt64);
    // margins s f: 2, 0.5, -0.5, 0, 1, -1
    const torch::Tensor loss = sys->per_sample_loss(f, y);
    const std::vector<double> expected = {0.0, 0.125, 1.125, 0.5, 0.0, 2.0};
    for (std::size_t k = 0; k < expected.size(); ++k)
        EXPECT_EQ(loss[static_cast<std::int64_t>(k)].item<double>(), expected[k]) << k; // exact in binary
    EXPECT_EQ(sys->unsatisfied(f, y).sum().item<std::int64_t>(), 4);                    // 0.5, -0.5, 0, -1
    EXPECT_EQ(sys->hits(f, y).sum().item<std::int64_t>(), 3);                           // 2, 0.5, 1
    EXPECT_THROW((void)sys->per_sample_loss(torch::zeros({2, 2}, torch::kFloat64), y.slice(0, 0, 2)),
                 glassy::parameter_error);
}

// N_Delta through evaluate on a perceptron with hand-set weights: w = (sqrt 2, 0), so f = x_1.
TEST(hinge2, unsatisfied_fraction_of_a_hand_set_perceptron) {
    const image_set train = real_set(2, {2, 9, 0.5, -9, -0.5, 3, 1, 7}, {1, 1, 1, 0});
    const dataset_pair data{"hand", train, train, {}};
    auto sys = hinge_system(model_kind::linear, data);
    {
        torch::NoGradGuard no_grad;
        sys->state().tensors.at(0).copy_(torch::tensor({std::sqrt(2.0), 0.0}, torch::kFloat64).reshape({1, 2}));
    }
    // margins 2, 0.5, -0.5, -1: losses 0, 1/8, 9/8, 2; unsatisfied 3 of 4; hits 2 of 4.
    const evaluation e = sys->evaluate(split::train, 4, true);
    EXPECT_NEAR(e.loss, 3.25 / 4, 1e-15);
    EXPECT_EQ(e.unsatisfied, 0.75);
    EXPECT_EQ(e.accuracy, 0.5);
    // grad L = (1/P) sum_unsat -(1 - m) s x / sqrt 2 over the last three samples.
    const double g1 = -(0.5 * 0.5 + 1.5 * (-0.5) - 2.0 * 1.0) / 4 / std::sqrt(2.0);
    const double g2 = -(0.5 * -9 + 1.5 * 3 - 2.0 * 7) / 4 / std::sqrt(2.0);
    EXPECT_NEAR(e.grad_norm, std::hypot(g1, g2), 1e-14);
}

// The gradient of the mean hinge2 loss (autograd) against central finite differences, on the
// perceptron and on a depth-2 fc. The loss is piecewise quadratic in the perceptron's weights, so
// a central difference is exact up to rounding (~1e-16 L / h = 1e-10 for h = 1e-6) as long as no
// margin crosses 1 within h; the fc adds ReLU kinks and curvature, O(h^2) = 1e-12. Tolerance 1e-7.
TEST(hinge2, gradient_matches_finite_differences) {
    const dataset_pair data = make_random({6, 12, 5});
    for (const model_kind kind : {model_kind::linear, model_kind::fc}) {
        auto sys = hinge_system(kind, data, {.depth = 2, .width = 5});
        const parameter_handle x = sys->state();
        const auto mean_loss = [&] {
            torch::NoGradGuard no_grad;
            return sys
                ->per_sample_loss(sys->model().forward(sys->inputs(split::train, 0, 12)),
                                  sys->labels(split::train, 0, 12))
                .mean()
                .item<double>();
        };
        const torch::Tensor loss = sys->per_sample_loss(sys->model().forward(sys->inputs(split::train, 0, 12)),
                                                        sys->labels(split::train, 0, 12))
                                       .mean();
        ASSERT_GT(loss.item<double>(), 0.01); // some constraints are violated: a non-trivial gradient
        const auto grads = torch::autograd::grad({loss}, x.tensors);
        const double h = 1e-6;
        double worst = 0.0;
        for (std::size_t i = 0; i < x.tensors.size(); ++i) {
            const torch::Tensor flat = x.tensors[i].detach().view({-1});
            for (std::int64_t k = 0; k < flat.numel(); ++k) {
                const double w = flat[k].item<double>();
                flat[k].fill_(w + h);
                const double up = mean_loss();
                flat[k].fill_(w - h);
                const double down = mean_loss();
                flat[k].fill_(w);
                const double fd = (up - down) / (2 * h);
                worst = std::max(worst, std::abs(fd - grads[i].view({-1})[k].item<double>()));
            }
        }
        EXPECT_LT(worst, 1e-7) << to_string(kind);
    }
}

// The random dataset: N(0,1) inputs and fair +-1 labels from the seed, the same law for the test
// split; P d = 20000 components: the sample mean is within 5 sigma = 5/sqrt(20000) = 0.035 of 0,
// the variance within 5 sqrt(2/20000) = 0.05 of 1, the label fraction within 5 sqrt(1/4/400) = 0.125
// of 1/2.
TEST(random_dataset, gaussian_inputs_and_fair_labels_from_the_seed) {
    const dataset_pair d = make_random({50, 400, 9});
    for (const image_set* s : {&d.train, &d.test}) {
        ASSERT_EQ(s->count, 400);
        ASSERT_EQ(s->values.size(), 20000u);
        EXPECT_TRUE(s->pixels.empty());
        EXPECT_EQ(s->classes, 2);
        const double mean = std::accumulate(s->values.begin(), s->values.end(), 0.0) / 20000.0;
        double var = 0.0;
        for (double v : s->values) var += (v - mean) * (v - mean);
        var /= 20000.0;
        EXPECT_NEAR(mean, 0.0, 0.035);
        EXPECT_NEAR(var, 1.0, 0.05);
        const auto ones = std::count(s->labels.begin(), s->labels.end(), 1);
        EXPECT_NEAR(static_cast<double>(ones) / 400.0, 0.5, 0.125);
    }
    EXPECT_EQ(make_random({50, 400, 9}).train.values, d.train.values);
    EXPECT_NE(make_random({50, 400, 10}).train.values, d.train.values);
    // Nested in P: the first samples do not depend on the size asked for.
    const dataset_pair small = make_random({50, 100, 9});
    EXPECT_TRUE(std::equal(small.train.values.begin(), small.train.values.end(), d.train.values.begin()));
    const channel_stats st = compute_channel_stats(d.train);
    EXPECT_EQ(st.mean, std::vector<double>{0.0}); // used as drawn
    EXPECT_EQ(st.std, std::vector<double>{1.0});
    EXPECT_THROW((void)make_random({0, 10, 1}), glassy::parameter_error);
    EXPECT_THROW((void)make_random({10, 0, 1}), glassy::parameter_error);
}

TEST(parity_labels, classes_become_even_and_odd) {
    dataset_pair d = glassy::nets::testing::small_data(50, 20);
    const std::vector<std::int64_t> before = d.train.labels;
    relabel(d, label_kind::parity);
    EXPECT_EQ(d.train.classes, 2);
    EXPECT_EQ(d.test.classes, 2);
    for (std::size_t k = 0; k < before.size(); ++k) EXPECT_EQ(d.train.labels[k], before[k] % 2);
    EXPECT_EQ(parse_label_kind(to_string(label_kind::parity)), label_kind::parity);
    EXPECT_THROW((void)parse_label_kind("binary"), glassy::parameter_error);
}

// Parameter counts: the perceptron has d weights (no bias); fc of depth L and width h has
// (d h + h) + (L - 1)(h h + h) + (h K + K); the default is the paper's 100-100 network.
TEST(models, linear_and_deep_fc_counts) {
    const input_shape v{1, 1, 30, 1};
    EXPECT_EQ(count_parameters(*make_model(model_kind::linear, v)), 30);
    EXPECT_EQ(count_parameters(*make_model(model_kind::fc, v, {.depth = 3, .width = 7})),
              (30 * 7 + 7) + 2 * (7 * 7 + 7) + (7 + 1));
    EXPECT_EQ(count_parameters(*make_model(model_kind::fc, {1, 28, 28, 10}, {.depth = 2, .width = 100})), 89'610);
    EXPECT_THROW((void)make_model(model_kind::fc, v, {.depth = 0}), glassy::parameter_error);
    EXPECT_THROW((void)make_model(model_kind::fc, v, {.width = 0}), glassy::parameter_error);
    // f = w.x / sqrt(d)
    auto m = make_model(model_kind::linear, {1, 1, 4, 1});
    {
        torch::NoGradGuard no_grad;
        m->parameters().at(0).fill_(1.0);
    }
    EXPECT_FLOAT_EQ(m->forward(torch::ones({1, 1, 1, 4})).item<float>(), 2.0f);
    EXPECT_EQ(parse_model_kind("linear"), model_kind::linear);
    EXPECT_EQ(parse_loss_kind(to_string(loss_kind::hinge2)), loss_kind::hinge2);
    EXPECT_EQ(parse_optimizer_kind(to_string(optimizer_kind::adam)), optimizer_kind::adam);
}

// The memory estimate of --batch all: P (input + 3 x the layer outputs) values of the dtype.
TEST(full_batch, step_memory_estimate) {
    quench_options o = perceptron(10, 100, 5);
    o.model = model_kind::fc;
    o.depth = 2;
    o.width = 7;
    const quench q(o);
    EXPECT_EQ(q.step_bytes(), 100u * (10 + 3 * (7 + 7 + 1)) * 8u);
}

// Full-batch steps are gradient descent on the whole training set, in index order.
TEST(full_batch, a_step_is_gradient_descent_on_the_training_set) {
    const dataset_pair data = make_random({6, 12, 5});
    auto sys = hinge_system(model_kind::linear, data);
    parameter_handle x = sys->state();
    const torch::Tensor before = x.tensors[0].detach().clone();
    const torch::Tensor loss =
        sys->per_sample_loss(sys->model().forward(sys->inputs(split::train, 0, 12)), sys->labels(split::train, 0, 12))
            .mean();
    const torch::Tensor g = torch::autograd::grad({loss}, x.tensors)[0];
    sgd dyn(sgd_options{0.5, 0.0, full_batch, 0.0, 1}, *sys);
    dyn.step(*sys, x);
    EXPECT_EQ(dyn.last_loss(), loss.item<double>()); // the same sums in the same order
    EXPECT_LT((x.tensors[0].detach() - (before - 0.5 * g)).abs().max().item<double>(), 1e-15);
}

// The perceptron below capacity. P = d = 50: by Cover's theorem (1965) P <= d points in general
// position are separable with every labelling, so (scaling w) the hinge2 loss can be made 0; full-
// batch GD with lr 10 (lr lambda_max <= lr 4/d = 0.8 < 2 on the hinge2 Hessian (1/(P d)) sum_unsat
// x x^T, the Marchenko-Pastur edge 4P/(P d)) brings it below 1e-10 within 2000 steps (553
// measured), and --stop-loss ends the run there as a complete record. Every sample is then
// classified right: 1 - y f <= sqrt(2 P L) = 1e-4 < 1 for each. GD approaches the solutions from
// outside (the last constraints reach y f = 1 only exponentially), so the samples still at
// y f = 1 - O(1e-5), about 0.46 P here, are counted in N_Delta (y f < 1): below capacity the loss,
// not N_Delta, is what vanishes (docs/nets.md).
TEST(perceptron, below_capacity_reaches_zero_loss_and_stops) {
    quench_options o = perceptron(50, 50, 20000);
    o.stop_loss = 1e-10;
    quench q(o);
    const glassy::record rec = q.run();
    EXPECT_TRUE(rec.complete);
    const std::string why = rec.parameters.value("stop_reason", std::string());
    EXPECT_EQ(why.rfind("converged at step ", 0), 0u) << why;
    const auto done = rec.parameters.at("steps_done").get<std::int64_t>();
    EXPECT_LT(done, 2000);
    EXPECT_EQ(rec.time.back(), static_cast<double>(done)); // measured where it stopped
    EXPECT_LT(rec.observables.at("train_loss").back(), 1e-10);
    EXPECT_EQ(rec.observables.at("train_accuracy").back(), 1.0);
    EXPECT_EQ(rec.observables.at("unsatisfied_fraction").front(), 1.0); // f ~ 0 at initialisation
    EXPECT_LT(rec.observables.at("unsatisfied_fraction").back(), 1.0);
    EXPECT_EQ(rec.observables.at("test_unsatisfied_fraction").size(), rec.time.size());
    EXPECT_EQ(rec.parameters.at("loss"), "hinge2");
    EXPECT_EQ(rec.parameters.at("num_parameters"), 50);
}

// Above capacity. P = 4d = 200: the fraction of labellings of 200 points in d = 50 that are
// separable (Cover) is P[Binomial(199, 1/2) <= 49] ~ 1e-12, so the loss stays > 0. At the minimum
// of the convex hinge2 loss at least d constraints are unsatisfied (with fewer, the least-squares
// fit of their margins to 1 would be exact and the loss 0): N_Delta/P >= d/P = 0.25. GD has
// converged after 3000 steps (loss 0.3612, N_Delta/P = 0.915, the same at 20000 steps; below the
// least-squares value (1/2)(1 - d/P) = 0.375, an upper bound since hinge2 <= the square loss).
TEST(perceptron, above_capacity_keeps_unsatisfied_constraints) {
    quench q(perceptron(50, 200, 3000));
    const glassy::record rec = q.run();
    EXPECT_TRUE(rec.complete);
    EXPECT_FALSE(rec.parameters.contains("stop_reason"));
    EXPECT_GE(rec.observables.at("unsatisfied_fraction").back(), 0.25);
    EXPECT_GT(rec.observables.at("train_loss").back(), 1e-3);
    EXPECT_LE(rec.observables.at("train_loss").back(), 0.375);
}

// Adam's state (step count, first and second moments) is checkpointed exactly: a run stopped at
// step 7 and resumed equals the straight run bit for bit (fc depth 3, hinge2, minibatches).
TEST(adam, resumed_run_is_identical) {
    const auto dir = glassy::test::scratch_dir("adam_resume");
    quench_options o = perceptron(8, 64, 20);
    o.model = model_kind::fc;
    o.depth = 3;
    o.width = 6;
    o.optimizer = optimizer_kind::adam;
    o.lr = 0.01;
    o.batch = 16;
    o.dtype = dtype_kind::float32;
    o.tw_steps = {5, 10};
    o.lag_steps = {1, 2, 5};
    glassy::record reference;
    {
        quench q(o);
        reference = q.run();
    }
    ASSERT_TRUE(reference.complete);
    EXPECT_EQ(reference.method, "adam");
    const auto ckpt = dir / "adam.ckpt";
    fs::remove(ckpt);
    {
        quench q(o);
        glassy::run_hooks hooks;
        hooks.stop = [](std::int64_t step) { return step == 7; };
        glassy::run_control control;
        control.checkpoint_path = ckpt;
        EXPECT_FALSE(q.run(hooks, control).complete);
    }
    const glassy::checkpoint c = glassy::read_checkpoint(ckpt);
    EXPECT_EQ(c.integer("sgd/adam/0/step"), 7);
    glassy::nets::testing::expect_resumes_to(o, c, reference);
}

// D (eq. 4) on the hinge2 loss: the batched per-sample norms (the perceptron's scaled, bias-free
// layer and fc's) agree with the per-sample loop to float64 rounding.
TEST(hinge2, batched_noise_matches_the_loop) {
    const dataset_pair data = make_random({6, 20, 3});
    for (const model_kind kind : {model_kind::linear, model_kind::fc}) {
        auto sys = hinge_system(kind, data, {.depth = 2, .width = 5});
        const noise_estimate fast = sgd_noise(*sys, 20, noise_method::batched);
        const noise_estimate loop = sgd_noise(*sys, 20, noise_method::per_sample_loop);
        EXPECT_TRUE(fast.fast_path) << to_string(kind);
        ASSERT_GT(loop.D, 0.0) << to_string(kind);
        EXPECT_NEAR(fast.D, loop.D, 1e-12 * loop.D) << to_string(kind);
    }
}
