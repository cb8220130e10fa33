// SGD / SGLD as a dynamics of the network system, the common driver and two-time recorder
// on networks, and reproducibility of whole runs.
#include "dynamics/driver.hpp"
#include "dynamics/error.hpp"
#include "dynamics/recorders.hpp"
#include "nets/quench.hpp"
#include "nets_support.hpp"
#include "support/scratch.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sys/wait.h>
#include <unistd.h>

using namespace glassy::nets;
using glassy::nets::testing::make_system;
using glassy::nets::testing::small_data;

namespace {

std::vector<torch::Tensor> clone_all(const parameter_handle& x) {
    std::vector<torch::Tensor> out;
    for (const auto& t : x.tensors) out.push_back(t.detach().clone());
    return out;
}

double max_abs_diff(const std::vector<torch::Tensor>& a, const std::vector<torch::Tensor>& b) {
    double m = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, (a[i] - b[i]).abs().max().item<double>());
    return m;
}

} // namespace

TEST(sgd, one_step_is_gradient_descent_on_the_batch) {
    const auto data = small_data(64, 8);
    auto sys = make_system(model_kind::fc, data, torch::kFloat64);
    parameter_handle x = sys->state();
    const double lr = 0.05;
    // Batch = whole training set: the minibatch gradient is the full-set gradient.
    const torch::Tensor out = sys->model().forward(sys->inputs(split::train, 0, 64));
    const torch::Tensor loss = sys->per_sample_loss(out, sys->labels(split::train, 0, 64)).mean();
    const auto g = torch::autograd::grad({loss}, x.tensors);
    std::vector<torch::Tensor> expected;
    const auto before = clone_all(x);
    for (std::size_t i = 0; i < g.size(); ++i) expected.push_back(before[i] - lr * g[i]);
    sgd dyn(sgd_options{lr, 0.0, 64, 0.0, 9}, *sys);
    dyn.step(*sys, x);
    EXPECT_EQ(dyn.dt(), 1.0);
    EXPECT_EQ(dyn.method(), "sgd");
    EXPECT_NEAR(dyn.last_loss(), loss.item<double>(), 1e-12);
    // Same numbers summed in a permuted order: float64 rounding only.
    EXPECT_LT(max_abs_diff(clone_all(x), expected), 1e-12);
    EXPECT_GT(max_abs_diff(clone_all(x), before), 1e-4); // it did move
}

TEST(sgd, momentum_follows_py_torch_convention) {
    const auto data = small_data(32, 8);
    auto a = make_system(model_kind::fc, data, torch::kFloat64);
    parameter_handle x = a->state();
    const double lr = 0.05, mu = 0.9;
    auto grad = [&] {
        const torch::Tensor out = a->model().forward(a->inputs(split::train, 0, 32));
        return torch::autograd::grad({a->per_sample_loss(out, a->labels(split::train, 0, 32)).mean()}, x.tensors);
    };
    const auto w0 = clone_all(x);
    const auto g0 = grad();
    sgd dyn(sgd_options{lr, mu, 32, 0.0, 9}, *a);
    dyn.step(*a, x); // v1 = g0
    const auto g1 = grad();
    dyn.step(*a, x); // v2 = mu g0 + g1
    std::vector<torch::Tensor> expected;
    for (std::size_t i = 0; i < w0.size(); ++i) expected.push_back(w0[i] - lr * g0[i] - lr * (mu * g0[i] + g1[i]));
    EXPECT_LT(max_abs_diff(clone_all(x), expected), 1e-12);
}

TEST(sgld, noise_has_variance_two_lr_t) {
    const auto data = small_data(64, 8);
    auto plain = make_system(model_kind::fc, data, torch::kFloat64);
    auto noisy = make_system(model_kind::fc, data, torch::kFloat64); // same initialisation
    parameter_handle xp = plain->state(), xn = noisy->state();
    const double lr = 0.01, temperature = 0.5;
    sgd d0(sgd_options{lr, 0.0, 16, 0.0, 4}, *plain);
    sgd d1(sgd_options{lr, 0.0, 16, temperature, 4}, *noisy);
    EXPECT_EQ(d1.method(), "sgld");
    d0.step(*plain, xp);
    d1.step(*noisy, xn);
    // Same minibatch and gradient: the difference is sqrt(2 lr T) xi.
    double s = 0.0;
    for (std::size_t i = 0; i < xp.tensors.size(); ++i)
        s += (xn.tensors[i] - xp.tensors[i]).pow(2).sum().item<double>();
    const double m = static_cast<double>(xp.size());
    const double var = s / m, expected = 2.0 * lr * temperature;
    EXPECT_NEAR(var, expected, 5.0 * std::sqrt(2.0 / m) * expected); // chi^2_M / M: sd sqrt(2/M)
}

TEST(sgd, sampler_is_reproducible_and_covers_epochs) {
    minibatch_sampler a(10, 3, 42), b(10, 3, 42);
    std::vector<int> seen(10, 0);
    for (int k = 0; k < 3; ++k) {
        const auto ia = a.next();
        EXPECT_EQ(ia, b.next());
        for (auto i : ia) ++seen[static_cast<std::size_t>(i)];
    }
    for (int c : seen) EXPECT_LE(c, 1); // within one epoch, no index twice
    EXPECT_THROW(minibatch_sampler(10, 11, 1), glassy::parameter_error);
    EXPECT_THROW(minibatch_sampler(10, 0, 1), glassy::parameter_error);
}

TEST(driver, delta_from_recorder_equals_snapshots) {
    quench_options o;
    o.model = model_kind::fc;
    o.dataset = dataset_kind::synthetic;
    o.synthetic.train_count = 256;
    o.synthetic.test_count = 64;
    o.batch = 32;
    o.steps = 60;
    o.noise_samples = 32;
    o.eval_samples = 64;
    o.tw_steps = {10, 20, 40};
    o.lag_steps = {10, 20, 30};
    o.save_snapshots = true;
    quench q(o);
    const glassy::record rec = q.run();
    const auto& w = rec.extra_f32.at("snapshots/weights");
    const auto m = static_cast<std::size_t>(q.num_parameters());
    ASSERT_EQ(w.shape, (std::vector<std::uint64_t>{3, m}));
    auto msd = [&](std::size_t i, std::size_t j) {
        double s = 0.0;
        for (std::size_t k = 0; k < m; ++k) {
            const double d = static_cast<double>(w.data[i * m + k]) - static_cast<double>(w.data[j * m + k]);
            s += d * d;
        }
        return s / static_cast<double>(m);
    };
    const auto& delta = rec.aging.delta;
    EXPECT_NEAR(delta(0, 0), msd(0, 1), 1e-12 * msd(0, 1)); // t_w 10, t 10
    EXPECT_NEAR(delta(0, 2), msd(0, 2), 1e-12 * msd(0, 2)); // t_w 10, t 30
    EXPECT_NEAR(delta(1, 1), msd(1, 2), 1e-12 * msd(1, 2)); // t_w 20, t 20
    EXPECT_FALSE(std::isnan(delta(2, 1)));                  // t_w 40 + 20 = 60 is the last step
    EXPECT_TRUE(std::isnan(delta(2, 2)));                   // 40 + 30 > 60: never reached
    ASSERT_EQ(rec.aging.noise.size(), 3u);
    for (double d : rec.aging.noise) EXPECT_GT(d, 0.0);
    EXPECT_EQ(rec.extra.at("snapshots/tw").data, (std::vector<double>{10, 20, 40}));
}

TEST(quench, noise_can_be_recomputed_from_the_record) {
    // D(t_w) uses the first noise_samples entries of /measurement/train_indices: the saved
    // weights, those indices and the parameters JSON suffice to recompute it. (This test used
    // to take the first noise_samples training samples, the rule before the balanced subset.)
    quench_options o;
    o.model = model_kind::smallnet;
    o.dataset = dataset_kind::synthetic;
    o.synthetic.train_count = 200;
    o.synthetic.test_count = 20;
    o.batch = 20;
    o.steps = 30;
    o.noise_samples = 64;
    o.eval_samples = 40;
    o.tw_steps = {10, 25};
    o.save_snapshots = true;
    const glassy::record rec = quench(o).run();
    synthetic_options so = o.synthetic;
    so.seed = rec.parameters.at("seed").get<std::uint64_t>();
    const dataset_pair d = make_synthetic(so);
    channel_stats st{rec.parameters.at("input_mean").get<std::vector<double>>(),
                     rec.parameters.at("input_std").get<std::vector<double>>()};
    network_system sys(make_model(model_kind::smallnet, {1, 28, 28, 10}), d.train, d.test, st);
    const auto& stored = rec.extra.at("measurement/train_indices").data;
    ASSERT_EQ(stored.size(), 64u); // max(noise_samples, eval_samples)
    const std::vector<std::int64_t> noise_set(stored.begin(),
                                              stored.begin() + rec.parameters.at("noise_samples").get<std::int64_t>());
    const auto& w = rec.extra_f32.at("snapshots/weights");
    const auto m = static_cast<Eigen::Index>(w.shape[1]);
    for (std::size_t i = 0; i < 2; ++i) {
        const Eigen::VectorXf row =
            Eigen::Map<const Eigen::VectorXf>(w.data.data() + static_cast<Eigen::Index>(i) * m, m);
        assign_parameters(sys.state(), row);
        EXPECT_EQ(flatten_parameters(sys.state()), row);
        const double d_again = sgd_noise(sys, noise_set).D;
        EXPECT_NEAR(d_again, rec.aging.noise[i], 1e-9 * rec.aging.noise[i]); // same float32 arithmetic
    }
    EXPECT_THROW(assign_parameters(sys.state(), Eigen::VectorXf(3)), glassy::parameter_error);
    EXPECT_THROW((void)sgd_noise(sys, std::vector<std::int64_t>{200}), glassy::parameter_error); // outside the split
}

namespace {

void put_u32(std::vector<std::uint8_t>& v, std::uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<std::uint8_t>(x >> s));
}

void write_file(const std::filesystem::path& p, const std::vector<std::uint8_t>& bytes) {
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

/// Writes an idx image/label pair of n side x side images; labels[i] and pixel(i, k) given.
template <class Pixel>
void write_idx_split(const std::filesystem::path& dir, const std::string& prefix,
                     const std::vector<std::uint8_t>& labels, std::uint32_t side, Pixel pixel) {
    const auto n = static_cast<std::uint32_t>(labels.size());
    std::vector<std::uint8_t> im{0, 0, 8, 3}, lb{0, 0, 8, 1};
    put_u32(im, n);
    put_u32(im, side);
    put_u32(im, side);
    put_u32(lb, n);
    for (std::uint32_t i = 0; i < n; ++i)
        for (std::uint32_t k = 0; k < side * side; ++k) im.push_back(pixel(i, k));
    lb.insert(lb.end(), labels.begin(), labels.end());
    write_file(dir / (prefix + "-images-idx" + "3-ubyte"), im);
    write_file(dir / (prefix + "-labels-idx" + "1-ubyte"), lb);
}

std::vector<std::uint8_t> sorted_labels(int per_class) {
    std::vector<std::uint8_t> v;
    for (int c = 0; c < 10; ++c) v.insert(v.end(), static_cast<std::size_t>(per_class), static_cast<std::uint8_t>(c));
    return v;
}

std::filesystem::path fresh_dir(const std::string& name) {
    const auto dir = glassy::test::scratch_dir("training_" + name);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

/// fc on the idx files written to `dir` (as MNIST), with the given sizes.
quench_options fc_on_idx(const std::filesystem::path& dir, std::int64_t batch, std::int64_t steps,
                         std::int64_t noise_samples, std::int64_t eval_samples) {
    quench_options o;
    o.model = model_kind::fc;
    o.dataset = dataset_kind::mnist;
    o.data_dir = dir;
    o.batch = batch;
    o.steps = steps;
    o.noise_samples = noise_samples;
    o.eval_samples = eval_samples;
    return o;
}

} // namespace

TEST(quench, measures_on_a_class_balanced_subset_of_a_sorted_file) {
    // Training and test files sorted by class, read from a flat --data-dir: D and the
    // evaluations must not describe class 0 alone (the first-S rule did), the record says which
    // samples they used and where the data came from, and D and the losses can be recomputed.
    const auto dir = fresh_dir("sorted");
    const auto pixel = [](std::uint32_t i, std::uint32_t k) {
        return static_cast<std::uint8_t>((i * 37 + k * 11) % 256);
    };
    write_idx_split(dir, "train", sorted_labels(20), 10, pixel);
    write_idx_split(dir, "t10k", sorted_labels(6), 10, pixel);
    quench_options o = fc_on_idx(dir, 20, 20, 30, 50);
    o.tw_steps = {5, 20};
    o.save_snapshots = true;
    o.seed = 4;
    quench q(o);
    for (const auto& s : q.measurement_subsets()) EXPECT_FALSE(badly_unbalanced(s.class_counts)) << s.what;
    const glassy::record rec = q.run();
    const dataset_pair d = load_dataset(dataset_kind::mnist, dir);
    const auto as_indices = [](const std::vector<double>& v, std::size_t n) {
        return std::vector<std::int64_t>(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n));
    };
    const auto& train_idx = rec.extra.at("measurement/train_indices").data;
    const auto& test_idx = rec.extra.at("measurement/test_indices").data;
    ASSERT_EQ(train_idx.size(), 50u);
    ASSERT_EQ(test_idx.size(), 50u);
    EXPECT_EQ(label_counts(d.train, as_indices(train_idx, 30)), std::vector<std::int64_t>(10, 3)); // D
    EXPECT_EQ(label_counts(d.train, as_indices(train_idx, 50)), std::vector<std::int64_t>(10, 5)); // train evaluation
    EXPECT_EQ(label_counts(d.test, as_indices(test_idx, 50)), std::vector<std::int64_t>(10, 5));
    EXPECT_EQ(rec.parameters.at("measurement_subset"), "class_balanced");
    ASSERT_EQ(rec.parameters.at("data_files").size(), 4u);
    EXPECT_EQ(rec.parameters.at("data_files")[0].get<std::string>(),
              std::filesystem::absolute(dir / "train-images-idx3-ubyte").string());
    // Recompute D at t_w = 20 and the last evaluation (t = 20, same weights) from the record.
    channel_stats st{rec.parameters.at("input_mean").get<std::vector<double>>(),
                     rec.parameters.at("input_std").get<std::vector<double>>()};
    network_system sys(make_model(model_kind::fc, {1, 10, 10, 10}), d.train, d.test, st);
    const auto& w = rec.extra_f32.at("snapshots/weights");
    const auto m = static_cast<Eigen::Index>(w.shape[1]);
    assign_parameters(sys.state(), Eigen::Map<const Eigen::VectorXf>(w.data.data() + m, m));
    EXPECT_NEAR(sgd_noise(sys, as_indices(train_idx, 30)).D, rec.aging.noise[1], 1e-9 * rec.aging.noise[1]);
    ASSERT_EQ(rec.time.back(), 20.0);
    const double train_loss = sys.evaluate(split::train, as_indices(train_idx, 50), false).loss;
    const double test_loss = sys.evaluate(split::test, as_indices(test_idx, 50), false).loss;
    EXPECT_NEAR(train_loss, rec.observables.at("train_loss").back(), 1e-12 * train_loss);
    EXPECT_NEAR(test_loss, rec.observables.at("test_loss").back(), 1e-12 * test_loss);
    // Fewer samples than classes cannot be balanced: the run says so (the app warns).
    o.eval_samples = 5;
    const auto subsets = quench(o).measurement_subsets();
    EXPECT_FALSE(badly_unbalanced(subsets[0].class_counts)); // D: 30 samples
    EXPECT_TRUE(badly_unbalanced(subsets[1].class_counts));
    EXPECT_TRUE(badly_unbalanced(subsets[2].class_counts));
    std::filesystem::remove_all(dir);
}

TEST(quench, constant_training_channel_keeps_inputs_bounded) {
    // Every training pixel is 128: std 1 (not ~1e-8), so the (varied) test images normalise to
    // |x| <= 0.51 and the test loss of the fresh network stays near log 10 (it was ~1e6-1e7).
    const auto dir = fresh_dir("constant");
    write_idx_split(dir, "train", sorted_labels(10), 10,
                    [](std::uint32_t, std::uint32_t) { return std::uint8_t{128}; });
    write_idx_split(dir, "t10k", sorted_labels(2), 10, [](std::uint32_t i, std::uint32_t k) {
        return static_cast<std::uint8_t>((i * 53 + k * 29) % 256);
    });
    const quench_options o = fc_on_idx(dir, 10, 3, 10, 20);
    const glassy::record rec = quench(o).run();
    EXPECT_EQ(rec.parameters.at("input_std")[0].get<double>(), 1.0);
    EXPECT_NEAR(rec.parameters.at("input_mean")[0].get<double>(), 128.0 / 255.0, 1e-15);
    for (const double loss : rec.observables.at("test_loss")) EXPECT_LT(loss, 5.0);
    std::filesystem::remove_all(dir);
}

TEST(net_quench_app, warns_about_unbalanced_subsets_and_names_the_data_folder) {
    const auto dir = fresh_dir("app");
    const auto out = dir / "out.h5";
    const std::string cmd =
        std::string(NET_QUENCH_EXE) +
        " --model fc --dataset synthetic --synthetic-train 100 --synthetic-test 20 --synthetic-size 8 "
        "--batch 10 --steps 3 --noise-samples 20 --eval-samples 5 --threads 1 --out " +
        out.string() + " > /dev/null 2> " + (dir / "err").string();
    ASSERT_EQ(std::system(cmd.c_str()), 0);
    std::ifstream f(dir / "err");
    const std::string err((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_NE(err.find("net_quench: warning: the train evaluation subset (5 samples) is badly unbalanced"),
              std::string::npos)
        << err;
    EXPECT_EQ(err.find("the D subset"), std::string::npos) << err; // 20 samples over 10 classes: balanced
    // A flat --data-dir without the files: one line naming the files and the folders.
    const std::string missing = std::string(NET_QUENCH_EXE) + " --model fc --dataset mnist --data-dir " + dir.string() +
                                " --out " + (dir / "never.h5").string() + " > /dev/null 2> " + (dir / "err2").string();
    EXPECT_EQ(WEXITSTATUS(std::system(missing.c_str())), 1);
    std::ifstream g(dir / "err2");
    const std::string err2((std::istreambuf_iterator<char>(g)), std::istreambuf_iterator<char>());
    EXPECT_NE(err2.find("mnist: no folder holds all of train-images-idx3-ubyte"), std::string::npos) << err2;
    EXPECT_NE(err2.find(dir.string() + " (none of them)"), std::string::npos) << err2;
    EXPECT_EQ(err2.find("set --data-dir"), std::string::npos) << err2; // it was set
    std::filesystem::remove_all(dir);
}

TEST(quench, sgld_run_is_recorded_as_sgld) {
    quench_options o;
    o.model = model_kind::fc;
    o.dataset = dataset_kind::synthetic;
    o.synthetic.train_count = 100;
    o.synthetic.test_count = 20;
    o.batch = 10;
    o.steps = 20;
    o.temperature = 1e-4;
    o.noise_samples = 20;
    o.eval_samples = 20;
    const glassy::record rec = quench(o).run();
    EXPECT_EQ(rec.method, "sgld");
    EXPECT_EQ(rec.parameters.at("T").get<double>(), 1e-4);
}

TEST(training, fc_fits_small_set_perfectly) {
    const auto data = small_data(512, 64);
    auto sys = make_system(model_kind::fc, data, torch::kFloat32, 100, 1);
    parameter_handle x = sys->state();
    sgd dyn(sgd_options{0.1, 0.0, 64, 0.0, 1}, *sys);
    glassy::run_state rs;
    glassy::integrate(dyn, *sys, x, rs, 1500, glassy::schedule{});
    const evaluation ev = sys->evaluate(split::train, 512, true);
    EXPECT_EQ(ev.accuracy, 1.0);
    EXPECT_LT(ev.loss, 1e-3);
    EXPECT_LT(ev.grad_norm, 1e-2);
}

TEST(training, fc_fits_mnist_subset_perfectly) {
    const std::filesystem::path dir =
        std::getenv("GLASSY_DATA_DIR") ? std::getenv("GLASSY_DATA_DIR") : GLASSY_TEST_DATA_DIR;
    dataset_pair d;
    try {
        d = load_dataset(dataset_kind::mnist, dir);
    } catch (const glassy::error& e) {
        GTEST_SKIP() << "MNIST not available: " << e.what();
    }
    d.train = d.train.head(512);
    d.test = d.test.head(256);
    auto sys = make_system(model_kind::fc, d, torch::kFloat32, 100, 1);
    parameter_handle x = sys->state();
    sgd dyn(sgd_options{0.1, 0.0, 64, 0.0, 1}, *sys);
    glassy::run_state rs;
    glassy::integrate(dyn, *sys, x, rs, 3000, glassy::schedule{});
    const evaluation ev = sys->evaluate(split::train, 512, false);
    EXPECT_EQ(ev.accuracy, 1.0);
    EXPECT_LT(ev.loss, 1e-3);
    EXPECT_GT(sys->evaluate(split::test, 256, false).accuracy, 0.7); // it generalises somewhat
}

namespace {
glassy::record tiny_run(std::uint64_t seed, model_kind model) {
    quench_options o;
    o.model = model;
    o.dataset = dataset_kind::synthetic;
    o.synthetic.train_count = 200;
    o.synthetic.test_count = 50;
    o.batch = 20;
    o.steps = 50;
    o.seed = seed;
    o.noise_samples = 40;
    o.eval_samples = 100;
    quench q(o);
    return q.run();
}

bool same_nan_aware(const glassy::row_matrix& a, const glassy::row_matrix& b) {
    if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
    for (Eigen::Index i = 0; i < a.size(); ++i)
        if (!(a.data()[i] == b.data()[i] || (std::isnan(a.data()[i]) && std::isnan(b.data()[i])))) return false;
    return true;
}
} // namespace

TEST(quench, same_seed_gives_identical_record) {
    for (auto model : {model_kind::fc, model_kind::smallnet}) {
        const glassy::record a = tiny_run(5, model), b = tiny_run(5, model), c = tiny_run(6, model);
        EXPECT_EQ(a.parameters, b.parameters);
        EXPECT_EQ(a.time, b.time);
        EXPECT_EQ(a.energy, b.energy);
        EXPECT_EQ(a.observables, b.observables);
        EXPECT_EQ(a.aging.noise, b.aging.noise);
        EXPECT_TRUE(same_nan_aware(a.aging.delta, b.aging.delta));
        EXPECT_NE(a.energy, c.energy); // and another seed gives another run
        EXPECT_EQ(a.method, "sgd");
        EXPECT_EQ(a.parameters.at("num_parameters").get<std::int64_t>(), model == model_kind::fc ? 89'610 : 38'390);
        EXPECT_EQ(a.parameters.at("input_mean").size(), 1u);
        EXPECT_EQ(a.time.front(), 0.0);
        EXPECT_EQ(a.time.back(), 50.0);
        EXPECT_LT(a.energy.back(), a.energy.front()); // training lowers the loss
    }
}

TEST(quench, rejects_bad_options) {
    quench_options o;
    o.dataset = dataset_kind::synthetic;
    o.synthetic.train_count = 50;
    o.batch = 51;
    EXPECT_THROW(quench{o}, glassy::parameter_error);
    o.batch = 10;
    o.device = device_kind::cuda;
    if (!cuda_available()) {
        EXPECT_THROW(quench{o}, glassy::parameter_error);
    }
    EXPECT_THROW((void)parse_device_kind("tpu"), glassy::parameter_error);
    o.device = device_kind::cpu;
    o.dataset = dataset_kind::mnist;
    o.data_dir = "/nonexistent/glassy";
    EXPECT_THROW(quench{o}, glassy::error);
}

TEST(quench, timing_splits_the_run_into_steps_and_measurements) {
    // run_timing: the parts add up to the whole loop, each is non-negative, and a run that
    // measures heavily (large evaluation and noise sets, tiny steps) shows it in the split.
    quench_options o;
    o.model = model_kind::fc;
    o.dataset = dataset_kind::synthetic;
    o.synthetic.train_count = 400;
    o.synthetic.test_count = 400;
    o.batch = 4;
    o.steps = 40;
    o.noise_samples = 400;
    o.eval_samples = 400;
    quench q(o);
    EXPECT_TRUE(std::isnan(q.timing().overhead())); // before run(): no steps timed
    const glassy::record rec = q.run();
    ASSERT_TRUE(rec.complete);
    EXPECT_FALSE(rec.observables.contains("grad_norm")); // opt-in (--grad-norm)
    EXPECT_EQ(rec.observables.at("test_loss").size(), rec.time.size());
    const run_timing& t = q.timing();
    for (double part : {t.steps_s, t.metrics_s, t.noise_s, t.aging_s, t.checkpoints_s}) EXPECT_GE(part, 0.0);
    EXPECT_NEAR(t.steps_s + t.metrics_s + t.noise_s + t.aging_s + t.checkpoints_s, t.total_s, 1e-9 * t.total_s);
    EXPECT_EQ(t.checkpoints_s, 0.0); // no checkpoint path
    // ~30 evaluations of 800 samples and ~4 D's on 400 against 40 steps of 4 samples: the
    // measurements cost more than the steps whatever the machine's speed.
    EXPECT_GT(t.metrics_s + t.noise_s, t.steps_s);
    EXPECT_GT(t.overhead(), 1.0);
}
