// Straight lines in weight space (nets/barrier.hpp, net_quench --barrier, issue 14): the loss along a
// line is the loss of the model at those weights (a quadratic loss gives a parabola in alpha; the
// model is put back exactly); BatchNorm statistics recomputed on the samples; in net_quench: the ends
// of every line are the recorded training loss at those times, bit for bit; a convex loss has no
// barrier; the measurement leaves the trajectory unchanged; kill + resume gives the identical
// record; --seeds keeps the means; bad input refused in one line naming the flag. Clones (net_quench
// --clones): identical without a noise source, separating with one; the main record unchanged;
// reproducible; resumable inside the clone phase; read by the analysis; bad settings refused.
#include "analysis/barrier.hpp"
#include "dynamics/checkpoint.hpp"
#include "nets/barrier.hpp"
#include "nets/quench.hpp"
#include "nets/seeds.hpp"
#include "nets/train_seeds.hpp"
#include "nets_support.hpp"
#include "support/record_compare.hpp"
#include "support/run_command.hpp"
#include "support/scratch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace glassy::nets {
namespace {

std::vector<std::int64_t> first_samples(std::int64_t n) {
    std::vector<std::int64_t> s(static_cast<std::size_t>(n));
    std::iota(s.begin(), s.end(), std::int64_t{0});
    return s;
}

std::vector<double> alphas_of(int n) {
    std::vector<double> a;
    for (int k = 0; k < n; ++k) a.push_back(static_cast<double>(k) / (n - 1));
    return a;
}

// A linear model with the MSE loss is quadratic in its weights, so the loss along a straight line is
// a parabola in alpha: its third differences vanish. The ends are the losses at a and b, and the
// model's weights are put back bit for bit.
TEST(straight_line, quadratic_loss_gives_a_parabola_and_the_model_is_put_back) {
    const dataset_pair data = testing::small_data(60, 10, 1, 6);
    torch::manual_seed(5);
    const input_shape shape{1, 6, 6, 10};
    auto sys = std::make_unique<network_system>(
        make_model(model_kind::linear, shape, {}), data.train, data.test, compute_channel_stats(data.train),
        network_options{torch::kCPU, torch::kFloat64, true, loss_kind::mse_one_hot});
    const parameter_handle x = sys->state();
    const Eigen::VectorXf now = flatten_parameters(x);
    const Eigen::VectorXf a = now + Eigen::VectorXf::Random(now.size());
    const Eigen::VectorXf b = now - 2.0f * Eigen::VectorXf::Random(now.size());
    const auto samples = first_samples(60);
    const double before = sys->evaluate(split::train, samples, false).loss;
    const Eigen::RowVectorXd e = line_losses(*sys, a, b, alphas_of(9), samples); // alpha = k/8: exact in float
    ASSERT_EQ(e.size(), 9);
    // Put back: the same weights and the same loss, exactly.
    EXPECT_TRUE(flatten_parameters(x) == now);
    EXPECT_EQ(sys->evaluate(split::train, samples, false).loss, before);
    // Third differences of a quadratic are 0; theta is formed in float32 (relative rounding 6e-8 of
    // the weights), so the loss carries ~1e-7 relative errors: 1e-5 of its scale bounds them.
    for (int k = 0; k + 3 < 9; ++k)
        EXPECT_NEAR(e(k + 3) - 3 * e(k + 2) + 3 * e(k + 1) - e(k), 0.0, 1e-5 * e.maxCoeff()) << k;
    EXPECT_GT(e.maxCoeff() - e.minCoeff(), 1e-2 * e.maxCoeff()); // the line is not flat
    // The ends: the loss at a and at b (float32 weights, exact in float64).
    assign_parameters(x, a);
    EXPECT_EQ(e(0), sys->evaluate(split::train, samples, false).loss);
    assign_parameters(x, b);
    EXPECT_EQ(e(8), sys->evaluate(split::train, samples, false).loss);
}

/// Conv(1 -> 2, 3x3) BatchNorm ReLU Linear(32 -> 10) on 6 x 6 images.
class tiny_bn_net : public net_base {
public:
    tiny_bn_net() {
        m_conv = register_module("conv", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 2, 3)));
        m_bn = register_module("bn", torch::nn::BatchNorm2d(2));
        m_fc = register_module("fc", torch::nn::Linear(32, 10));
    }
    torch::Tensor forward(torch::Tensor x) override { return m_fc(torch::relu(m_bn(m_conv(x))).flatten(1)); }
    torch::Tensor conv(const torch::Tensor& x) { return m_conv(x); }
    torch::nn::BatchNorm2d& bn() { return m_bn; }

private:
    torch::nn::Conv2d m_conv{nullptr};
    torch::nn::BatchNorm2d m_bn{nullptr};
    torch::nn::Linear m_fc{nullptr};
};

// With BatchNorm, every point is evaluated on running statistics recomputed on the samples: with one
// chunk (40 samples) they are the batch mean and unbiased variance of the conv outputs. The reference
// sets those by hand (torch's mean/var: another summation order, hence 1e-12); the model's own
// statistics come back afterwards bit for bit.
TEST(straight_line, batchnorm_statistics_are_recomputed_at_each_point) {
    const dataset_pair data = testing::small_data(40, 10, 1, 6);
    torch::manual_seed(6);
    auto net = std::make_shared<tiny_bn_net>();
    network_system sys(net, data.train, data.test, compute_channel_stats(data.train),
                       network_options{torch::kCPU, torch::kFloat64});
    ASSERT_TRUE(has_batchnorm(sys.model()));
    const auto samples = first_samples(40);
    {
        torch::NoGradGuard no_grad; // running statistics far from the data's
        net->bn()->running_mean.fill_(3.0);
        net->bn()->running_var.fill_(0.1);
    }
    const torch::Tensor mean0 = net->bn()->running_mean.clone(), var0 = net->bn()->running_var.clone();
    const double stale = sys.evaluate(split::train, samples, false).loss;
    const Eigen::VectorXf w = flatten_parameters(sys.state());
    assign_parameters(sys.state(), w); // float32 weights: the line's points are the model's weights exactly
    const Eigen::RowVectorXd e = line_losses(sys, w, w, {0.0, 0.5, 1.0}, samples);
    EXPECT_TRUE(torch::equal(net->bn()->running_mean, mean0));
    EXPECT_TRUE(torch::equal(net->bn()->running_var, var0));
    double reference = 0;
    {
        torch::NoGradGuard no_grad;
        const torch::Tensor out = net->conv(sys.inputs(split::train, 0, 40));
        net->bn()->running_mean.copy_(out.mean({0, 2, 3}));
        net->bn()->running_var.copy_(out.var({0, 2, 3}, true));
        reference = sys.evaluate(split::train, samples, false).loss;
    }
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(e(k), reference, 1e-12 * reference) << k;
    EXPECT_GT(std::abs(stale - reference), 1e-3); // the stale statistics would have given another loss
}

// ---- net_quench --barrier ----

quench_options tiny_options() {
    quench_options o;
    o.model = model_kind::fc;
    o.dataset = dataset_kind::synthetic;
    o.synthetic.train_count = 120;
    o.synthetic.test_count = 20;
    o.synthetic.height = o.synthetic.width = 6;
    o.batch = 20;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.temperature = 1e-4; // SGLD: the noise generator must not be disturbed by the measurement
    o.steps = 12;
    o.noise_samples = 20;
    o.eval_samples = 40;
    o.tw_steps = {2, 4};
    o.lag_steps = {1, 2, 4};
    o.seed = 4;
    o.barrier = true;
    o.barrier_lags = {1, 2, 4};
    o.barrier_points = 5;
    return o;
}

record run_tiny(const quench_options& o) {
    quench q(o);
    return q.run();
}

/// The recorded training loss at step t (the metrics schedule holds every end used here).
double recorded_loss(const record& r, double t) {
    const auto it = std::find(r.time.begin(), r.time.end(), t);
    if (it == r.time.end()) ADD_FAILURE() << "no metrics point at t = " << t;
    return it == r.time.end() ? std::nan("") : r.energy[static_cast<std::size_t>(it - r.time.begin())];
}

// The ends of each line are the states of the run at t_w and t_w + t (float32 training: the snapshots
// are the weights exactly) evaluated on the train evaluation samples, as /energy is: equal bit for bit.
TEST(net_barrier, ends_of_every_line_are_the_recorded_loss_and_the_trajectory_is_unchanged) {
    const quench_options with = tiny_options();
    quench_options without = with;
    without.barrier = false;
    const record a = run_tiny(with), b = run_tiny(without);
    const auto& tw = a.extra.at("barrier/tw").data;
    const auto& t = a.extra.at("barrier/t").data;
    EXPECT_EQ(tw, (std::vector<double>{2, 2, 2, 4, 4, 4}));
    EXPECT_EQ(t, (std::vector<double>{1, 2, 4, 1, 2, 4}));
    EXPECT_EQ(a.extra.at("barrier/alpha").data, (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
    const auto& e = a.extra.at("barrier/energy");
    ASSERT_EQ(e.shape, (std::vector<std::uint64_t>{6, 5}));
    for (std::size_t p = 0; p < 6; ++p) {
        EXPECT_EQ(e.data[5 * p], recorded_loss(a, tw[p])) << p;
        EXPECT_EQ(e.data[5 * p + 4], recorded_loss(a, tw[p] + t[p])) << p;
        const double top =
            *std::max_element(e.data.begin() + 5 * static_cast<long>(p), e.data.begin() + 5 * static_cast<long>(p) + 5);
        EXPECT_EQ(a.extra.at("barrier/height").data[p], top - std::max(e.data[5 * p], e.data[5 * p + 4]));
    }
    // The rest of the record as without --barrier; the parameters only gain the barrier keys.
    EXPECT_TRUE(test::same(a.time, b.time));
    EXPECT_TRUE(test::same(a.energy, b.energy));
    for (const auto& [k, v] : b.observables) EXPECT_TRUE(test::same(v, a.observables.at(k))) << k;
    EXPECT_TRUE(test::same(a.aging.delta, b.aging.delta));
    EXPECT_TRUE(test::same(a.aging.noise, b.aging.noise));
    EXPECT_EQ(b.extra.count("barrier/energy"), 0u);
    EXPECT_FALSE(b.parameters.contains("barrier_points"));
    EXPECT_EQ(a.parameters.at("barrier_points"), 5);
    auto pa = a.parameters;
    for (const char* k : {"barrier", "barrier_lags", "barrier_points", "barrier_samples"}) pa.erase(k);
    EXPECT_EQ(pa, b.parameters);
}

// Without --barrier-lags the lags are three per decade from one step, t >= t_w only. With
// --barrier-samples n below --eval-samples the lines are evaluated on the first n train evaluation
// samples: their ends are, bit for bit, the /energy of the same run with --eval-samples n (the same
// class-balanced order, the same trajectory), and not the /energy on all of them.
TEST(net_barrier, default_lags_start_at_t_w_and_lines_use_the_first_barrier_samples) {
    quench_options o = tiny_options();
    o.barrier_lags.clear();
    o.barrier_samples = 16;
    const record a = run_tiny(o);
    o.barrier = false;
    o.eval_samples = 16;
    const record b = run_tiny(o);
    const auto& tw = a.extra.at("barrier/tw").data;
    const auto& t = a.extra.at("barrier/t").data;
    // log_spaced(1, 12, 3) = {1, 2, 3, 6, 12}; t_w in {2, 4}; t >= t_w and t_w + t <= 12.
    EXPECT_EQ(tw, (std::vector<double>{2, 2, 2, 4}));
    EXPECT_EQ(t, (std::vector<double>{2, 3, 6, 6}));
    EXPECT_EQ(a.parameters.at("barrier_samples"), 16);
    const auto& e = a.extra.at("barrier/energy");
    ASSERT_EQ(e.shape, (std::vector<std::uint64_t>{4, 5}));
    for (std::size_t p = 0; p < 4; ++p) {
        EXPECT_EQ(e.data[5 * p], recorded_loss(b, tw[p])) << p;
        EXPECT_EQ(e.data[5 * p + 4], recorded_loss(b, tw[p] + t[p])) << p;
        EXPECT_NE(e.data[5 * p], recorded_loss(a, tw[p])) << p; // /energy of a: all 40 samples
    }
}

// The perceptron with the squared hinge (convex in the weights): the loss along any straight line is
// convex in alpha, so its maximum is at an end. Rounding (float32 weights and sums) bounds the
// height by ~1e-6 of the loss; 1e-5 is allowed.
TEST(net_barrier, a_convex_loss_has_no_barrier) {
    quench_options o;
    o.model = model_kind::linear;
    o.dataset = dataset_kind::random;
    o.random.input_dim = 20;
    o.random.train_count = 200;
    o.loss = loss_kind::hinge2;
    o.batch = 10;
    o.lr = 0.5;
    o.steps = 40;
    o.noise_samples = 10;
    o.eval_samples = 200;
    o.tw_steps = {1, 3, 10};
    o.lag_steps = {1};
    o.barrier = true;
    o.barrier_lags = {1, 5, 20, 30};
    o.barrier_points = 11;
    const record r = run_tiny(o);
    const auto& h = r.extra.at("barrier/height").data;
    const auto& e = r.extra.at("barrier/energy").data;
    ASSERT_EQ(h.size(), 12u);
    double moved = 0;
    for (std::size_t p = 0; p < h.size(); ++p) {
        EXPECT_LE(h[p], 1e-5 * std::max(e[11 * p], e[11 * p + 10])) << p;
        moved = std::max(moved, std::abs(e[11 * p] - e[11 * p + 10]));
    }
    EXPECT_GT(moved, 1e-3); // training moves: the lines are not points
}

TEST(net_barrier, interrupted_and_resumed_gives_the_identical_record) {
    const auto ckpt = test::scratch_dir("net_barrier") / "resume.ckpt";
    std::filesystem::remove(ckpt);
    const quench_options o = tiny_options();
    const record reference = run_tiny(o);
    {
        quench q(o);
        run_hooks hooks;
        hooks.stop = [](std::int64_t step) { return step == 5; }; // lines from t_w = 2 and 4 still open
        run_control control;
        control.checkpoint_path = ckpt;
        EXPECT_FALSE(q.run(hooks, control).complete);
    }
    const checkpoint c = read_checkpoint(ckpt);
    EXPECT_EQ(c.arrays_f32.count("barrier/snapshot/2"), 1u);
    EXPECT_EQ(c.arrays_f32.count("barrier/snapshot/4"), 1u);
    testing::expect_resumes_to(o, c, reference);
}

// --seeds: /barrier holds the means over the seeds, /seeds/barrier each seed's rows.
TEST(net_barrier, several_seeds_keep_the_means_and_each_seed) {
    quench_options o = tiny_options();
    std::vector<record> runs;
    for (const std::uint64_t s : {4, 5}) {
        o.seed = s;
        runs.push_back(run_tiny(o));
    }
    const record j = join_seeds(runs, {4, 5});
    const auto& mean = j.extra.at("barrier/energy");
    const auto& each = j.extra.at("seeds/barrier/energy");
    ASSERT_EQ(each.shape, (std::vector<std::uint64_t>{2, 6, 5}));
    for (std::size_t i = 0; i < 30; ++i) {
        EXPECT_EQ(each.data[i], runs[0].extra.at("barrier/energy").data[i]);
        EXPECT_EQ(mean.data[i], (runs[0].extra.at("barrier/energy").data[i] + each.data[30 + i]) / 2);
    }
    EXPECT_EQ(j.extra.at("barrier/tw").data, runs[0].extra.at("barrier/tw").data);
    EXPECT_EQ(j.extra.at("seeds/barrier/height").shape, (std::vector<std::uint64_t>{2, 6}));
}

TEST(net_barrier, bad_settings_are_refused_before_any_work) {
    quench_options o = tiny_options();
    o.barrier_points = 1;
    testing::expect_refused(o, "barrier_points");
    o = tiny_options();
    o.barrier_samples = 0;
    testing::expect_refused(o, "barrier_samples");
    o = tiny_options();
    o.barrier_lags = {0};
    testing::expect_refused(o, "barrier_lags");
    o.barrier_lags = {13}; // > steps
    testing::expect_refused(o, "barrier_lags");
    const std::string exe = NET_QUENCH_EXE;
    const std::string args = " --model fc --dataset synthetic --synthetic-train 100 --synthetic-test 10 "
                             "--synthetic-size 6 --batch 10 --steps 5 --quiet --force --out " +
                             (test::scratch_dir("net_barrier") / "bad.h5").string();
    // Two runs of the tool (each loads LibTorch): a setting without --barrier, a value out of its domain.
    for (const std::string& bad : {std::string("--barrier-points 5"), std::string("--barrier --barrier-lags 6")}) {
        const auto r = test::run_command(exe + args + " " + bad);
        EXPECT_NE(r.status, 0) << bad;
        EXPECT_EQ(test::count_lines(r.output), 1) << bad << ": " << r.output;
        const std::string flag = bad.substr(bad.rfind("--"), bad.find(' ', bad.rfind("--")) - bad.rfind("--"));
        EXPECT_NE(r.output.find(flag), std::string::npos) << bad << ": " << r.output;
    }
}

// ---- net_quench --clones ----

/// tiny_options without --barrier, with 3 clones born at steps 3 and 6, lags 0, 1, 2, 4, 8 (8 > 12 - 6).
quench_options clone_options() {
    quench_options o = tiny_options();
    o.barrier = false;
    o.barrier_lags.clear();
    o.clones = 3;
    o.clone_tw = {3, 6};
    o.clone_lags = {0, 1, 2, 4, 8};
    return o;
}

/// Everything of `a` but the /clones group and the clone keys equals `b` bit for bit.
void expect_same_main_record(const record& a, const record& b) {
    EXPECT_TRUE(test::same(a.time, b.time));
    EXPECT_TRUE(test::same(a.energy, b.energy));
    for (const auto& [k, v] : b.observables) EXPECT_TRUE(test::same(v, a.observables.at(k))) << k;
    EXPECT_TRUE(test::same(a.aging.delta, b.aging.delta));
    EXPECT_TRUE(test::same(a.aging.noise, b.aging.noise));
    for (const auto& [k, v] : b.extra) EXPECT_TRUE(test::same(v.data, a.extra.at(k).data)) << k;
    auto pa = a.parameters;
    for (const char* k : {"clones", "clone_tw", "clone_lags", "barrier_points"}) pa.erase(k);
    EXPECT_EQ(pa, b.parameters);
    EXPECT_EQ(b.extra.count("clones/delta"), 0u);
}

// Full-batch gradient descent at T = 0 has no noise source: the clones follow one trajectory, so
// Delta_AB = 0, the barrier and the test-accuracy drop are 0 exactly (the K ends are the same
// weights); lags past the run are NaN. The main record is that of the run without --clones, and the
// analysis reads the group.
TEST(net_clones, without_noise_the_clones_stay_identical_and_the_main_record_is_unchanged) {
    quench_options o = clone_options();
    o.batch = full_batch;
    o.temperature = 0;
    const record r = run_tiny(o);
    quench_options plain = o;
    plain.clones = 0;
    plain.clone_tw.clear();
    plain.clone_lags.clear();
    expect_same_main_record(r, run_tiny(plain));
    EXPECT_EQ(r.extra.at("clones/tw").data, (std::vector<double>{3, 6}));
    EXPECT_EQ(r.extra.at("clones/t").data, (std::vector<double>{0, 1, 2, 4, 8}));
    const auto& d = r.extra.at("clones/delta");
    ASSERT_EQ(d.shape, (std::vector<std::uint64_t>{2, 5}));
    for (std::size_t i = 0; i < 10; ++i) {
        if (i == 9) EXPECT_TRUE(std::isnan(d.data[i])); // 6 + 8 > 12
        else EXPECT_EQ(d.data[i], 0.0) << i;
    }
    EXPECT_EQ(r.extra.at("clones/barrier").data, (std::vector<double>{0, 0}));
    EXPECT_EQ(r.extra.at("clones/test_accuracy_drop").data, (std::vector<double>{0, 0}));
    EXPECT_EQ(r.parameters.at("clones"), 3);
    const clone_series c = clones_from(r, "clones.h5");
    EXPECT_EQ(c.tw, (std::vector<double>{3, 6}));
    EXPECT_EQ(c.test_accuracy_drop, (std::vector<double>{0, 0}));
}

// Minibatches and SGLD noise of their own: the clones separate (Delta_AB > 0 at lag 1, larger at lag
// 4 than at lag 1: diffusion; 0 at lag 0), the main record stays bit for bit the one without --clones,
// and the same seed gives the identical record.
TEST(net_clones, with_noise_the_clones_separate_and_the_run_is_reproducible) {
    const quench_options o = clone_options();
    const record a = run_tiny(o), b = run_tiny(o);
    test::expect_identical_records(a, b);
    quench_options plain = tiny_options();
    plain.barrier = false;
    plain.barrier_lags.clear();
    expect_same_main_record(a, run_tiny(plain));
    const auto& d = a.extra.at("clones/delta").data;
    for (std::size_t c = 0; c < 2; ++c) {
        EXPECT_EQ(d[5 * c], 0.0) << c;
        EXPECT_GT(d[5 * c + 1], 0.0) << c;
        EXPECT_GT(d[5 * c + 3], d[5 * c + 1]) << c;
    }
    for (const double h : a.extra.at("clones/barrier").data) EXPECT_TRUE(std::isfinite(h));
    for (const double drop : a.extra.at("clones/test_accuracy_drop").data) {
        EXPECT_GE(drop, 0.0); // the ends are points of the line: the minimum is at most their mean
        EXPECT_LE(drop, 1.0);
    }
}

// Interrupted inside the clone phase (work 12 + 4: the first clone of the birth at step 3), then
// resumed: the identical record.
TEST(net_clones, interrupted_in_the_clone_phase_and_resumed_gives_the_identical_record) {
    const auto ckpt = test::scratch_dir("net_clones") / "resume.ckpt";
    std::filesystem::remove(ckpt);
    quench_options o = clone_options();
    o.clones = 2;
    const record reference = run_tiny(o);
    for (const std::int64_t stop_at : {16, 28}) { // clone 0 of t_w = 3; clone 1 of t_w = 3 (12 + 9 + 7)
        {
            quench q(o);
            run_hooks hooks;
            hooks.stop = [stop_at](std::int64_t work) { return work == stop_at; };
            run_control control;
            control.checkpoint_path = ckpt;
            const record partial = q.run(hooks, control);
            EXPECT_FALSE(partial.complete);
            EXPECT_TRUE(std::isnan(partial.extra.at("clones/barrier").data[0]));
        }
        const checkpoint c = read_checkpoint(ckpt);
        EXPECT_EQ(c.integer("clones/main_done"), 1);
        EXPECT_EQ(c.integer("clones/clone"), stop_at == 16 ? 0 : 1);
        testing::expect_resumes_to(o, c, reference);
    }
}

TEST(net_clones, bad_settings_are_refused_before_any_work) {
    quench_options o = clone_options();
    o.clones = 1;
    testing::expect_refused(o, "clones");
    o = clone_options();
    o.stop_loss = 0.1;
    testing::expect_refused(o, "clones");
    o = clone_options();
    o.clone_tw = {12}; // not before the last step
    testing::expect_refused(o, "clone_tw");
    o.clone_tw = {0};
    testing::expect_refused(o, "clone_tw");
    o = clone_options();
    o.clone_lags = {13};
    testing::expect_refused(o, "clone_lags");
    seed_block seeds; // with seeds: not supported
    seeds.seeds = {1, 2};
    seeds.count = 2;
    try {
        (void)train_seeds(clone_options(), seeds, {}, {});
        ADD_FAILURE() << "clones with seeds accepted";
    } catch (const field_error& e) {
        EXPECT_EQ(e.key(), "clones") << e.what();
    }
    // One run of the tool (it loads LibTorch): --clones with --seeds, one line naming --clones.
    const std::string cmd = std::string(NET_QUENCH_EXE) +
                            " --model fc --dataset synthetic --synthetic-train 100 --synthetic-test 10 "
                            "--synthetic-size 6 --batch 10 --steps 5 --quiet --force --seeds 1-2 --clones 2 --out " +
                            (test::scratch_dir("net_clones") / "bad.h5").string();
    const auto r = test::run_command(cmd);
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(test::count_lines(r.output), 1) << r.output;
    EXPECT_NE(r.output.find("--clones"), std::string::npos) << r.output;
}

} // namespace
} // namespace glassy::nets
