#include "nets/quench.hpp"

#include "dynamics/barrier.hpp"
#include "dynamics/clones.hpp"
#include "dynamics/error.hpp"
#include "dynamics/recorders.hpp"
#include "dynamics/schedule.hpp"
#include "nets/barrier.hpp"
#include "nets/hessian.hpp"
#include "nets/network.hpp"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <map>
#include <numeric>
#include <optional>
#include <span>
#include <sstream>

namespace glassy::nets {

namespace {

/// Loss and accuracy on the evaluation subsets of train and test (and, with_gradient, the norm
/// of the training-loss gradient on the same train samples; with_unsatisfied, the hinge2
/// unsatisfied fractions of both), at every step it is called on (it runs on its own schedule:
/// on_schedule).
struct metrics_observer {
    const std::vector<std::int64_t>& train_samples;
    const std::vector<std::int64_t>& test_samples;
    bool with_gradient;
    bool with_unsatisfied;
    std::vector<double> time, train_loss, train_accuracy, test_loss, test_accuracy, grad_norm;
    std::vector<double> unsatisfied, test_unsatisfied;

    void operator()(const network_system& s, const parameter_handle&, std::int64_t step, double t) {
        const evaluation tr = s.evaluate(split::train, train_samples, with_gradient);
        if (!std::isfinite(tr.loss))
            throw divergence_error("training loss became non-finite at step " + std::to_string(step));
        const evaluation te = s.evaluate(split::test, test_samples, false);
        time.push_back(t);
        train_loss.push_back(tr.loss);
        train_accuracy.push_back(tr.accuracy);
        if (with_gradient) grad_norm.push_back(tr.grad_norm);
        test_loss.push_back(te.loss);
        test_accuracy.push_back(te.accuracy);
        if (with_unsatisfied) {
            unsatisfied.push_back(tr.unsatisfied);
            test_unsatisfied.push_back(te.unsatisfied);
        }
    }
    /// Every series, as PREFIXtime, PREFIXtrain_loss, ... (the one list for save and restore).
    template <class Self, class F>
    static void for_each_series(Self& self, F&& f) {
        f("time", self.time), f("train_loss", self.train_loss), f("train_accuracy", self.train_accuracy);
        f("test_loss", self.test_loss), f("test_accuracy", self.test_accuracy), f("grad_norm", self.grad_norm);
        if (self.with_unsatisfied)
            f("unsatisfied_fraction", self.unsatisfied), f("test_unsatisfied_fraction", self.test_unsatisfied);
    }
    void save(checkpoint& c, const std::string& prefix) const {
        for_each_series(*this, [&](const char* name, const std::vector<double>& v) { c.put(prefix + name, v); });
    }
    void restore(const checkpoint& c, const std::string& prefix) {
        for_each_series(*this, [&](const char* name, std::vector<double>& v) { v = c.vector(prefix + name); });
    }
};

/// D(t_w) (eq. 4) at every step it is called on (its own schedule: the waiting steps), and
/// optionally the weights there.
struct noise_observer {
    const std::vector<std::int64_t>& samples;
    noise_method method;
    bool keep_weights;
    std::vector<double> noise;
    std::vector<double> tw;
    std::vector<Eigen::VectorXf> weights;

    void operator()(const network_system& s, const parameter_handle& x, std::int64_t, double t) {
        noise.push_back(sgd_noise(s, samples, method).D);
        tw.push_back(t);
        if (keep_weights) weights.push_back(flatten_parameters(x));
    }
    /// PREFIXD, PREFIXtw and PREFIXweights/i (float32).
    void save(checkpoint& c, const std::string& prefix) const {
        c.put(prefix + "D", noise);
        c.put(prefix + "tw", tw);
        for (std::size_t i = 0; i < weights.size(); ++i)
            c.put_vector(prefix + "weights/" + std::to_string(i), weights[i]);
    }
    /// Restores what save() wrote; weight vectors must hold `size` values.
    void restore(const checkpoint& c, const std::string& prefix, Eigen::Index size) {
        noise = c.vector(prefix + "D");
        tw = c.vector(prefix + "tw");
        weights.clear();
        for (std::size_t i = 0; i < tw.size(); ++i)
            if (auto w = c.find_vector<float>(prefix + "weights/" + std::to_string(i), size))
                weights.push_back(std::move(*w));
    }
};

/// The Hessian spectra (nets/hessian.hpp) at every step it is called on (its own schedule: the
/// waiting steps), on the fixed Hessian samples.
struct hessian_observer {
    const std::vector<std::int64_t>& samples;
    hessian_settings settings;
    hessian_series series;

    void operator()(const network_system& s, const parameter_handle&, std::int64_t step, double t) {
        series.rows.push_back(measure_hessian(s, samples, settings, step));
        series.t.push_back(t);
    }
};

/// The --barrier measurement (dynamics/barrier.hpp's recorder with the straight line of
/// nets/barrier.hpp): a float32 copy of the weights at each of its steps (its own schedule).
struct barrier_observer {
    barrier_recorder<Eigen::VectorXf, straight_line> recorder;

    void operator()(const network_system& s, const parameter_handle& x, std::int64_t step, double t) {
        recorder(s, flatten_parameters(x), step, t);
    }
};

/// Calls an observer and adds the wall time it took to `seconds`: how much of a run goes into
/// measurements rather than SGD steps.
template <class Observer>
struct timed {
    Observer& observer;
    double& seconds;
    void operator()(const network_system& s, const parameter_handle& x, std::int64_t step, double t) {
        const auto t0 = std::chrono::steady_clock::now();
        observer(s, x, step, t);
        seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
};

/// The LibTorch device; throws field_error ("device") for cuda when LibTorch sees no GPU.
torch::Device torch_device(device_kind kind) {
    if (kind == device_kind::cpu) return torch::kCPU;
    if (!torch::cuda::is_available())
        throw field_error("device", "cuda: this LibTorch build has no CUDA support or sees no GPU (use cpu)");
    return torch::kCUDA;
}

/// Refuses a minibatch size a BatchNorm layer cannot train on. In training mode BatchNorm needs
/// more than one value per channel (batch x height x width of its feature map), so with batch 1 a
/// layer whose map has shrunk to 1 x 1 (ResNet-18 on 8 x 8 images) would fail inside LibTorch at
/// the first step. Only batch 1 can do so; then one forward pass in training mode on a zero image
/// is tried, without gradients, and the buffers (running statistics) are put back afterwards.
void check_batchnorm_batch(net_base& model, const std::string& name, const input_shape& shape, std::int64_t batch) {
    if (batch != 1) return;
    bool has_batchnorm = false;
    for (const auto& m : model.modules(false))
        has_batchnorm = has_batchnorm || m->name().find("BatchNorm") != std::string::npos;
    if (!has_batchnorm) return;
    std::vector<torch::Tensor> saved;
    for (const auto& b : model.buffers(true)) saved.push_back(b.clone());
    const bool was_training = model.is_training();
    model.train(true);
    std::string failure;
    try {
        torch::NoGradGuard no_grad;
        const auto opts = model.parameters().front().options();
        (void)model.forward(torch::zeros({1, shape.channels, shape.height, shape.width}, opts));
    } catch (const c10::Error&) {
        failure = "1: " + name + " has a BatchNorm layer that sees a single value per channel on " +
                  std::to_string(shape.height) + "x" + std::to_string(shape.width) +
                  " images, which BatchNorm cannot train on; use a batch of 2 or more";
    }
    model.train(was_training);
    std::size_t i = 0;
    {
        torch::NoGradGuard no_grad;
        for (auto& b : model.buffers(true)) b.copy_(saved[i++]);
    }
    if (!failure.empty()) throw field_error("batch", failure);
}

torch::Dtype torch_dtype(dtype_kind kind) { return kind == dtype_kind::float64 ? torch::kFloat64 : torch::kFloat32; }

sgd_options sgd_options_of(const quench_options& o) {
    return {o.lr, o.momentum, o.batch, o.temperature, o.seed, o.optimizer};
}

/// Refuses the combinations of the issue 15 options that cannot train: hinge2 on more than two
/// classes or on the toy model (sigmoid output < 1: no margin reaches 1), parity labels on the
/// (binary) random dataset, a convolutional model on the random dataset (no image), bad sizes, a
/// negative stop_loss. Throws field_error keyed as in quench_options_fields().
void check_task(const quench_options& o) {
    const bool random = o.dataset == dataset_kind::random;
    if (o.depth < 1) throw field_error("depth", "must be >= 1");
    if (o.width < 1) throw field_error("width", "must be >= 1");
    if (!(o.stop_loss >= 0.0)) throw field_error("stop_loss", "must be >= 0 (0: off)");
    if (random && o.labels == label_kind::parity)
        throw field_error("labels", "parity: the random dataset is binary already (labels +-1)");
    if (run_loss(o) == loss_kind::hinge2 && !random && o.labels != label_kind::parity)
        throw field_error("loss", "hinge2 needs a binary task: the dataset " + to_string(o.dataset) +
                                      " has more than two classes (use labels parity, or the random dataset)");
    if (run_loss(o) == loss_kind::hinge2 && o.model == model_kind::toy)
        throw field_error("loss", "hinge2 with the toy model: its sigmoid output stays below the margin 1 (use "
                                  "linear or fc)");
    if (random && (o.model == model_kind::smallnet || o.model == model_kind::resnet18))
        throw field_error("model",
                          to_string(o.model) + " needs images; the random dataset is a vector (use linear, fc or toy)");
}

/// Refuses --barrier settings out of their domain (checked with or without --barrier: the defaults are valid).
void check_barrier_settings(const quench_options& o) {
    if (o.barrier_points < 2) throw field_error("barrier_points", "must be >= 2 (both ends of the line)");
    if (o.barrier_samples < 1) throw field_error("barrier_samples", "must be >= 1");
    for (const std::int64_t t : o.barrier_lags)
        if (t < 1 || t > o.steps)
            throw field_error("barrier_lags",
                              std::to_string(t) + ": each lag must lie in 1..steps = " + std::to_string(o.steps));
}

/// Refuses --clones settings out of their domain (checked with or without --clones: the defaults are
/// valid): K = 1 or < 0, births outside 1..steps - 1, lags outside 0..steps, --stop-loss (the run would
/// end before the clones' end), more work than the 64-bit step counters hold.
void check_clone_settings(const quench_options& o) {
    if (o.clones < 0 || o.clones == 1) throw field_error("clones", "must be >= 2 (0: no clones)");
    for (const std::int64_t w : o.clone_tw)
        if (w < 1 || w >= o.steps)
            throw field_error("clone_tw", std::to_string(w) + ": each birth step must lie in 1..steps - 1 = " +
                                              std::to_string(o.steps - 1));
    for (const std::int64_t t : o.clone_lags)
        if (t < 0 || t > o.steps)
            throw field_error("clone_lags",
                              std::to_string(t) + ": each lag must lie in 0..steps = " + std::to_string(o.steps));
    if (o.clones == 0) return;
    if (o.stop_loss > 0.0)
        throw field_error("clones", "with stop_loss: the clones run to the last step, which a converged run "
                                    "never reaches (leave --stop-loss out)");
    const double births = o.clone_tw.empty() ? 64.0 : static_cast<double>(o.clone_tw.size());
    if (static_cast<double>(o.steps) * (1.0 + o.clones * births) >= 4.6e18)
        throw field_error("clones", "asks for more steps than the 64-bit step counters hold (fewer clones or births)");
}

/// Refuses Hessian settings out of their domain that need neither model nor data (the bounds
/// hessian_top <= M and hessian_samples <= training size are checked by hessian_samples).
void check_hessian_settings(const quench_options& o) {
    if (!o.hessian) return;
    if (o.hessian_top < 1) throw field_error("hessian_top", "must be >= 1");
    if (o.hessian_samples < 1) throw field_error("hessian_samples", "must be >= 1");
    if (!(o.flat_epsilon > 0.0) || !std::isfinite(o.flat_epsilon))
        throw field_error("flat_epsilon", "must be a positive number");
    for (const auto& [key, value] :
         {std::pair{"hessian_trace_vectors", o.hessian_trace_vectors},
          std::pair{"hessian_slq_steps", o.hessian_slq_steps}, std::pair{"hessian_slq_vectors", o.hessian_slq_vectors}})
        if (value < 1) throw field_error(key, "must be >= 1");
}

/// The data of a run: loaded, or generated from the seed; relabelled as options.labels says.
dataset_pair make_data(const quench_options& o) {
    dataset_pair data;
    if (o.dataset == dataset_kind::synthetic) {
        synthetic_options so = o.synthetic;
        so.seed = o.seed;
        data = make_synthetic(so);
    } else if (o.dataset == dataset_kind::random) {
        random_options ro = o.random;
        ro.seed = o.seed;
        data = make_random(ro);
    } else {
        if (o.data_dir.empty()) throw field_error("data_dir", "is empty: no folder to read the dataset from");
        data = load_dataset(o.dataset, o.data_dir);
    }
    relabel(data, o.labels);
    return data;
}

} // namespace

/// The measurements of a run and its step counter: what a checkpoint holds besides the model,
/// the optimiser and the generators.
struct net_measurements {
    metrics_observer metrics;
    noise_observer noise;
    two_time_recorder<parameter_handle> aging;
    hessian_observer hessian;
    barrier_observer barrier; // no pairs without --barrier
    run_state rs;

    void save(checkpoint& c) const {
        c.integers["step"] = rs.step;
        metrics.save(c, "metrics/");
        noise.save(c, "noise/");
        aging.save(c, "aging/");
        if (!hessian.samples.empty()) hessian.series.save(c, "hessian/");
        if (!barrier.recorder.pairs().empty()) barrier.recorder.save(c, "barrier/");
    }
    void restore(const checkpoint& c, Eigen::Index num_weights) {
        metrics.restore(c, "metrics/");
        noise.restore(c, "noise/", num_weights);
        aging.restore(c, "aging/", num_weights);
        if (!hessian.samples.empty()) hessian.series.restore(c, "hessian/");
        if (!barrier.recorder.pairs().empty()) barrier.recorder.restore(c, "barrier/", num_weights);
    }
};

struct quench::impl {
    quench_options options;
    dataset_pair data;
    channel_stats stats;
    std::shared_ptr<net_base> model;
    std::unique_ptr<network_system> sys;
    std::unique_ptr<sgd> dyn;
    std::vector<std::int64_t> tw, lags;
    schedule metrics_schedule;
    std::vector<std::int64_t> train_subset; ///< first max(noise, eval) samples of the balanced train order
    std::vector<std::int64_t> noise_set, train_eval, test_eval; ///< prefixes used by D and the evaluations
    std::vector<std::int64_t> hessian_set;                      ///< the Hessian's samples (empty without --hessian)
    std::vector<barrier_pair> barrier_pairs;                    ///< --barrier: (t_w, t) in steps; else empty
    std::vector<std::int64_t> barrier_set; ///< --barrier: the lines' samples, a prefix of train_eval; else empty
    std::vector<std::int64_t> clone_tw, clone_lags; ///< --clones: births and lags in steps; else empty

    [[nodiscard]] hessian_settings hessian_config() const {
        const auto& o = options;
        return {o.hessian_top,       o.flat_epsilon,        o.hessian_trace_vectors,
                o.hessian_slq_steps, o.hessian_slq_vectors, o.seed};
    }
    [[nodiscard]] net_measurements measurements() const {
        return {{train_eval,
                 test_eval,
                 options.grad_norm,
                 run_loss(options) == loss_kind::hinge2,
                 {},
                 {},
                 {},
                 {},
                 {},
                 {},
                 {},
                 {}},
                {noise_set, options.noise, options.save_snapshots, {}, {}, {}},
                {tw, lags},
                {hessian_set, hessian_config(), {}},
                {{barrier_pairs, barrier_alphas(options.barrier_points), straight_line{&barrier_set}}},
                {}};
    }
    [[nodiscard]] checkpoint save(const net_measurements& m) const;
    void restore(const checkpoint& c, parameter_handle& x, net_measurements& m) const;
    [[nodiscard]] record to_record(const net_measurements& m, const run_end& end) const;
};

namespace {

/// Seeds of the measurement subsets: mt19937_64(seed XOR these) (docs/format.md).
constexpr std::uint64_t train_subset_key = 0x6A09E667F3BCC909ULL, test_subset_key = 0xBB67AE8584CAA73BULL,
                        hessian_subset_key = 0x3C6EF372FE94F82BULL;

std::vector<std::int64_t> prefix(const std::vector<std::int64_t>& v, std::int64_t n) {
    return {v.begin(), v.begin() + std::min<std::int64_t>(n, static_cast<std::int64_t>(v.size()))};
}

/// Checks the Hessian options against the model and data (field_error "hessian_top",
/// "hessian_samples"; the rest is checked by validate) and returns the Hessian's samples: the
/// first hessian_samples of a class-balanced order of its own seed.
std::vector<std::int64_t> hessian_samples(const quench_options& o, const image_set& train, std::int64_t m) {
    if (o.hessian_top < 1 || o.hessian_top > m)
        throw field_error("hessian_top", std::to_string(o.hessian_top) + " must lie in 1..M = " + std::to_string(m) +
                                             " (the number of weights)");
    if (o.hessian_samples < 1 || o.hessian_samples > train.count)
        throw field_error("hessian_samples", std::to_string(o.hessian_samples) + " must lie in 1.." +
                                                 std::to_string(train.count) + " (the training set size)");
    return prefix(class_balanced_order(train, o.seed ^ hessian_subset_key), o.hessian_samples);
}

/// The --barrier pairs (t_w, t) over the waiting steps `tw`: every given lag, or by default the lags
/// three per decade from one step to `steps` with t >= t_w only (the aging scale; lines to a state
/// closer in time than t_w are left out, which keeps the lines' cost within 10 % of the steps:
/// docs/nets.md "Barriers").
std::vector<barrier_pair> run_barrier_pairs(const quench_options& o, const std::vector<std::int64_t>& tw) {
    if (!o.barrier_lags.empty()) return barrier_pairs(tw, o.barrier_lags, o.steps);
    std::vector<barrier_pair> pairs = barrier_pairs(tw, schedule::log_spaced(1, o.steps, 3).steps(), o.steps);
    std::erase_if(pairs, [](const barrier_pair& p) { return p.lag < p.tw; });
    return pairs;
}

} // namespace

quench::quench(const quench_options& o) : m_impl(std::make_unique<impl>()) {
    auto& q = *m_impl;
    q.options = o;
    validate(o);
    const torch::Device device = torch_device(o.device);
    const torch::Dtype dtype = torch_dtype(o.dtype);

    q.data = make_data(o);
    q.stats = compute_channel_stats(q.data.train);
    q.train_subset = prefix(class_balanced_order(q.data.train, o.seed ^ train_subset_key),
                            std::max(o.noise_samples, o.eval_samples));
    q.noise_set = prefix(q.train_subset, o.noise_samples);
    q.train_eval = prefix(q.train_subset, o.eval_samples);
    q.test_eval = prefix(class_balanced_order(q.data.test, o.seed ^ test_subset_key), o.eval_samples);

    torch::manual_seed(o.seed);
    const std::int64_t outputs = run_loss(o) == loss_kind::hinge2 ? 1 : q.data.train.classes;
    const input_shape shape{q.data.train.channels, q.data.train.height, q.data.train.width, outputs};
    q.model = make_model(o.model, shape, model_sizes{o.hidden, o.depth, o.width});
    q.sys = std::make_unique<network_system>(q.model, q.data.train, q.data.test, q.stats,
                                             network_options{device, dtype, true, run_loss(o)});
    check_batchnorm_batch(*q.model, to_string(o.model), shape, o.batch);
    q.dyn = std::make_unique<sgd>(sgd_options_of(o), *q.sys);

    q.metrics_schedule = schedule::log_spaced(1, o.steps, o.points_per_decade, true);
    if (!o.tw_steps.empty()) {
        q.tw = schedule(o.tw_steps).truncated(o.steps).steps();
    } else {
        const std::int64_t first = std::min(o.tw_first, o.steps);
        const std::int64_t last = std::max(first, o.steps / 2);
        q.tw = schedule::log_spaced(first, last, o.tw_per_decade, false).steps();
    }
    q.lags = o.lag_steps.empty() ? schedule::log_spaced(1, o.steps, o.points_per_decade, false).steps()
                                 : schedule(o.lag_steps).steps();
    if (o.hessian) q.hessian_set = hessian_samples(o, q.data.train, q.sys->num_parameters());
    if (o.barrier) {
        q.barrier_pairs = run_barrier_pairs(o, q.tw);
        q.barrier_set = prefix(q.train_eval, o.barrier_samples);
    }
    if (o.clones > 0) { // births: given, or the waiting times before the last step; lags: given, or Delta's
        std::vector<std::int64_t> births = o.clone_tw;
        if (births.empty())
            std::copy_if(q.tw.begin(), q.tw.end(), std::back_inserter(births),
                         [&](std::int64_t w) { return w >= 1 && w < o.steps; });
        if (births.empty()) throw field_error("clone_tw", "no waiting time lies in 1..steps - 1: give the birth steps");
        q.clone_tw = schedule(std::move(births)).steps();
        q.clone_lags = o.clone_lags.empty() ? q.lags : schedule(o.clone_lags).steps();
    }
}

quench::~quench() = default;

void validate(const quench_options& o) {
    if (o.steps < 1) throw field_error("steps", "must be >= 1");
    // t_w + lag reaches 1.5 steps: below 2^62 every step sum fits the 64-bit counters.
    if (o.steps >= (std::int64_t{1} << 62))
        throw field_error("steps", std::to_string(o.steps) +
                                       " is more than the 64-bit step counters hold (below 2^62 = 4.6e18)");
    validate(sgd_options_of(o));
    if (o.model == model_kind::toy && o.hidden < 1)
        throw field_error("hidden", "must be >= 1 (the width of the toy model)");
    if (o.noise_samples < 1) throw field_error("noise_samples", "must be >= 1");
    if (o.eval_samples < 1) throw field_error("eval_samples", "must be >= 1");
    if (o.points_per_decade < 1) throw field_error("points_per_decade", "must be >= 1");
    if (o.tw_per_decade < 1) throw field_error("tw_per_decade", "must be >= 1");
    if (o.tw_first < 1) throw field_error("tw_first", "must be >= 1");
    check_task(o);
    check_hessian_settings(o);
    check_barrier_settings(o);
    check_clone_settings(o);
    if (o.dataset == dataset_kind::synthetic) validate(o.synthetic);
    if (o.dataset == dataset_kind::random) validate(o.random);
}

std::int64_t quench::num_parameters() const { return m_impl->sys->num_parameters(); }
std::size_t quench::num_waiting_times() const { return m_impl->tw.size(); }
std::uint64_t quench::snapshot_bytes() const {
    const std::uint64_t one =
        static_cast<std::uint64_t>(num_waiting_times()) * static_cast<std::uint64_t>(num_parameters()) * 4u;
    return m_impl->options.save_snapshots ? 2 * one : one;
}
std::uint64_t quench::step_bytes() const {
    const auto& q = *m_impl;
    net_base& model = q.sys->model();
    layer_tape tape;
    const bool was_training = model.is_training();
    model.eval();
    model.set_tape(&tape);
    std::int64_t per_sample = 0;
    {
        torch::NoGradGuard no_grad;
        const torch::Tensor x = q.sys->inputs(split::train, 0, 1);
        per_sample = x.numel();
        (void)model.forward(x);
    }
    model.set_tape(nullptr);
    model.train(was_training);
    for (const auto& e : tape.entries) per_sample += 3 * e.output.numel();
    const std::int64_t batch = q.options.batch == full_batch ? train_count() : q.options.batch;
    const std::int64_t size = q.options.dtype == dtype_kind::float64 ? 8 : 4;
    return static_cast<std::uint64_t>(batch) * static_cast<std::uint64_t>(per_sample) *
           static_cast<std::uint64_t>(size);
}

std::uint64_t quench::hessian_bytes() const {
    const auto& o = m_impl->options;
    if (!o.hessian) return 0;
    const std::int64_t ncv = std::max(2 * o.hessian_top + 1, o.hessian_top + 20);
    return static_cast<std::uint64_t>(num_parameters()) * 8u *
           static_cast<std::uint64_t>(std::max(o.hessian_slq_steps, ncv) + 4);
}
std::uint64_t quench::barrier_bytes() const {
    std::vector<std::int64_t> waits;
    for (const auto& p : m_impl->barrier_pairs) waits.push_back(p.tw);
    return static_cast<std::uint64_t>(schedule(std::move(waits)).size()) *
           static_cast<std::uint64_t>(num_parameters()) * 4u;
}
std::int64_t quench::clone_steps() const {
    std::int64_t sum = 0;
    for (const auto w : m_impl->clone_tw) sum += m_impl->options.clones * (m_impl->options.steps - w);
    return sum;
}
std::size_t quench::num_clone_births() const { return m_impl->clone_tw.size(); }
std::uint64_t quench::clone_bytes() const {
    const auto& q = *m_impl;
    if (q.options.clones == 0) return 0;
    const std::uint64_t m = static_cast<std::uint64_t>(num_parameters());
    std::uint64_t buffers = 0;
    for (const auto& b : q.sys->model().buffers(true)) buffers += static_cast<std::uint64_t>(b.numel());
    const std::uint64_t size = q.options.dtype == dtype_kind::float64 ? 8 : 4;
    const std::uint64_t slots = q.options.optimizer == optimizer_kind::adam ? 3 : (q.options.momentum > 0 ? 2 : 1);
    const auto k = static_cast<std::uint64_t>(q.options.clones);
    return static_cast<std::uint64_t>(q.clone_tw.size()) * (slots * m + buffers) * size +
           k * (static_cast<std::uint64_t>(q.clone_lags.size()) + 1) * m * 4u;
}
std::size_t quench::num_barrier_pairs() const { return m_impl->barrier_pairs.size(); }
std::size_t quench::num_barrier_samples() const { return m_impl->barrier_set.size(); }
std::int64_t quench::train_count() const { return m_impl->sys->count(split::train); }
const std::vector<std::filesystem::path>& quench::data_files() const { return m_impl->data.files; }

std::vector<measurement_subset> quench::measurement_subsets() const {
    const auto& q = *m_impl;
    std::vector<measurement_subset> subsets{{"D", label_counts(q.data.train, q.noise_set)},
                                            {"train evaluation", label_counts(q.data.train, q.train_eval)},
                                            {"test evaluation", label_counts(q.data.test, q.test_eval)}};
    if (!q.hessian_set.empty()) subsets.push_back({"Hessian", label_counts(q.data.train, q.hessian_set)});
    if (!q.barrier_set.empty()) subsets.push_back({"barrier lines", label_counts(q.data.train, q.barrier_set)});
    return subsets;
}
double quench::last_loss() const { return m_impl->dyn->last_loss(); }

namespace {

constexpr const char* tool_name = "net_quench";

/// Checkpoints of a network run as run_control says. A due one is held until the next step's
/// minibatch loss, computed on that very state, is known to be finite; only then is it written
/// (a diverging state never is). Wall time spent goes to `seconds`.
class held_checkpoints {
public:
    held_checkpoints(const run_control& control, double& seconds)
        : m_path(control.checkpoint_path), m_when(control.checkpoint_every), m_seconds(seconds) {
        m_when.reset();
    }
    // Between steps: `good` = the loss of the state before this step is finite; `take` builds the
    // checkpoint of the current state.
    template <class Take>
    void between_steps(std::int64_t step, bool good, Take&& take) {
        if (m_pending && good) write(*m_pending);
        m_pending.reset();
        if (good && m_when.due(step)) m_pending = timed_take(take);
    }
    template <class Take>
    void write_now(Take&& take) {
        write(timed_take(take));
    }

private:
    template <class Take>
    checkpoint timed_take(Take& take) {
        const auto t0 = std::chrono::steady_clock::now();
        checkpoint c = take();
        m_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        return c;
    }
    void write(const checkpoint& c) {
        const auto t0 = std::chrono::steady_clock::now();
        write_checkpoint(c, m_path);
        m_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        m_when.reset();
    }
    std::filesystem::path m_path;
    trigger m_when;
    double& m_seconds;
    std::optional<checkpoint> m_pending;
};

std::string lr_hint(double lr) {
    std::ostringstream s;
    s << "the learning rate (lr = " << lr << ") is likely too large";
    return s.str();
}

std::string converged_message(std::int64_t step, double loss, const quench_options& o) {
    std::ostringstream s;
    s << "converged at step " << step << ": the loss of step " << step << " on its "
      << (o.batch == full_batch ? "full batch" : "minibatch") << ", " << loss << ", is below --stop-loss "
      << o.stop_loss;
    return s.str();
}

/// Adds the entries of `from` to `to`, keeping those `to` has (run_control::carried).
void add_entries(const checkpoint& from, checkpoint& to) {
    to.strings.insert(from.strings.begin(), from.strings.end());
    to.integers.insert(from.integers.begin(), from.integers.end());
    to.arrays.insert(from.arrays.begin(), from.arrays.end());
    to.arrays_f32.insert(from.arrays_f32.begin(), from.arrays_f32.end());
}

nd_array<double> index_array(const std::vector<std::int64_t>& v) {
    return {{static_cast<std::uint64_t>(v.size())}, std::vector<double>(v.begin(), v.end())};
}

/// Copies every entry of `from` into `to` under `prefix`.
void put_prefixed(checkpoint& to, const std::string& prefix, const checkpoint& from) {
    for (const auto& [k, v] : from.strings) to.strings[prefix + k] = v;
    for (const auto& [k, v] : from.integers) to.integers[prefix + k] = v;
    for (const auto& [k, v] : from.arrays) to.arrays[prefix + k] = v;
    for (const auto& [k, v] : from.arrays_f32) to.arrays_f32[prefix + k] = v;
}

/// The entries of `from` whose key starts with `prefix`, with the prefix taken off.
checkpoint entries_under(const checkpoint& from, const std::string& prefix) {
    checkpoint c;
    const auto copy = [&](const auto& source, auto& target) {
        for (auto it = source.lower_bound(prefix); it != source.end() && it->first.starts_with(prefix); ++it)
            target[it->first.substr(prefix.size())] = it->second;
    };
    copy(from.strings, c.strings);
    copy(from.integers, c.integers);
    copy(from.arrays, c.arrays);
    copy(from.arrays_f32, c.arrays_f32);
    return c;
}

/// The training state of a network: parameters and buffers (model/...) and the optimiser (sgd/...).
checkpoint training_state(const network_system& sys, const sgd& dyn) {
    checkpoint c;
    for (const auto& p : sys.model().named_parameters(true)) put_tensor(c, "model/" + p.key(), p.value());
    for (const auto& b : sys.model().named_buffers(true)) put_tensor(c, "model/" + b.key(), b.value());
    dyn.save(c, "sgd/");
    return c;
}

/// Puts the parameters and buffers of a training_state back into the model.
void restore_model(const network_system& sys, const checkpoint& c) {
    for (const auto& p : sys.model().named_parameters(true)) get_tensor(c, "model/" + p.key(), p.value());
    for (const auto& b : sys.model().named_buffers(true)) get_tensor(c, "model/" + b.key(), b.value());
}

/// The --clones measurement (issue 14): the training state at each birth step (taken by the main run),
/// then, after it, for each birth in turn its K clones one after the other, each from the birth state
/// with its own minibatch order and SGLD noise (clone_seed) to the last step, keeping float32 weight
/// snapshots at the lags and at the end; once the K clones of a birth are done, its row of the tables.
class clone_phase {
public:
    /// What the clones need of the run (not owned).
    struct context {
        const quench_options& o;
        network_system& sys;
        const std::vector<std::int64_t>& train_eval;
        const std::vector<std::int64_t>& test_eval;
        const std::vector<std::int64_t>& tw;   // birth steps
        const std::vector<std::int64_t>& lags; // lags of /clones/t in steps
    };
    explicit clone_phase(context ctx)
        : m(ctx),
          m_births(ctx.tw.size()),
          m_delta(row_matrix::Constant(static_cast<Eigen::Index>(ctx.tw.size()),
                                       static_cast<Eigen::Index>(ctx.lags.size()),
                                       std::numeric_limits<double>::quiet_NaN())),
          m_barrier(ctx.tw.size(), std::numeric_limits<double>::quiet_NaN()),
          m_drop(m_barrier) {}

    /// The main run's observer at the birth steps: keeps the training state.
    void birth(const sgd& dyn, std::int64_t step) {
        const auto at = std::lower_bound(m.tw.begin(), m.tw.end(), step);
        m_births[static_cast<std::size_t>(at - m.tw.begin())] = training_state(m.sys, dyn);
    }
    [[nodiscard]] bool main_done() const noexcept { return m_main_done; }
    void set_main_done() noexcept { m_main_done = true; }

    /// Runs the clones from where they are to the end; true when all are done, else `end` says why.
    /// `between(work, good)` runs between the clone steps (work: SGD steps done, main run included).
    template <class Between>
    bool run(const run_hooks& outer, run_end& end, Between&& between) {
        for (; m_phase < m.tw.size(); ++m_phase, m_clone = 0) {
            for (; m_clone < m.o.clones; ++m_clone)
                if (!run_clone(outer, end, between)) return false;
            measure_birth();
            m_births[m_phase] = checkpoint{}; // released: its clones are done
            m_snaps.clear();
        }
        return true;
    }

    /// The clone state under clones/...: phase, births still needed, finished clones' snapshots, the
    /// running clone's training state and step, the tables.
    void save(checkpoint& c) const {
        c.integers["clones/main_done"] = m_main_done ? 1 : 0;
        c.integers["clones/phase"] = static_cast<std::int64_t>(m_phase);
        c.integers["clones/clone"] = m_clone;
        c.put_matrix("clones/delta", m_delta);
        c.put("clones/barrier", m_barrier);
        c.put("clones/test_accuracy_drop", m_drop);
        for (std::size_t b = m_phase; b < m_births.size(); ++b)
            put_prefixed(c, "clones/birth/" + std::to_string(b) + "/", m_births[b]);
        for (std::size_t k = 0; k < m_snaps.size(); ++k)
            for (const auto& [step, w] : m_snaps[k])
                c.put_vector("clones/snapshot/" + std::to_string(k) + "/" + std::to_string(step), w);
        if (!m_dyn) return;
        c.integers["clones/step"] = m_rs.step;
        put_prefixed(c, "clones/running/", training_state(m.sys, *m_dyn));
    }
    /// Restores what save() wrote (the model gets the running clone's weights); throws record_error
    /// when an entry is missing or has the wrong shape.
    void restore(const checkpoint& c) {
        m_main_done = c.integer("clones/main_done") != 0;
        const auto phase = c.integer("clones/phase"), clone = c.integer("clones/clone");
        if (phase < 0 || phase > static_cast<std::int64_t>(m.tw.size()) || clone < 0 || clone >= m.o.clones)
            throw record_error("checkpoint: bad clone phase");
        m_phase = static_cast<std::size_t>(phase);
        m_clone = static_cast<int>(clone);
        row_matrix d = c.matrix("clones/delta");
        if (d.rows() != m_delta.rows() || d.cols() != m_delta.cols())
            throw record_error("checkpoint: clones/delta has the wrong shape");
        m_delta = std::move(d);
        m_barrier = c.vector("clones/barrier");
        m_drop = c.vector("clones/test_accuracy_drop");
        if (m_barrier.size() != m.tw.size() || m_drop.size() != m.tw.size())
            throw record_error("checkpoint: the clone tables have the wrong shape");
        for (std::size_t b = 0; b < m_births.size(); ++b)
            m_births[b] = entries_under(c, "clones/birth/" + std::to_string(b) + "/");
        restore_snapshots(c);
        m_dyn.reset();
        if (c.integers.count("clones/step") == 0) return;
        m_rs.step = c.integer("clones/step");
        const checkpoint running = entries_under(c, "clones/running/");
        restore_model(m.sys, running);
        m_dyn = std::make_unique<sgd>(clone_options(), m.sys);
        m_dyn->restore(running, "sgd/", m.sys.state());
    }

    /// /clones/tw, t, delta, barrier and test_accuracy_drop (time in steps).
    void write(record& rec) const {
        add_clone_datasets(rec, std::vector<double>(m.tw.begin(), m.tw.end()),
                           std::vector<double>(m.lags.begin(), m.lags.end()), {m_delta}, {m_barrier});
        rec.extra["clones/test_accuracy_drop"] = {{m_drop.size()}, m_drop};
    }

private:
    context m;
    bool m_main_done = false;
    std::size_t m_phase = 0;
    int m_clone = 0;
    std::vector<checkpoint> m_births;                             // [n_c] training states (empty once done)
    std::vector<std::map<std::int64_t, Eigen::VectorXf>> m_snaps; // finished clones of this birth: step -> weights
    std::unique_ptr<sgd> m_dyn;                                   // the running clone's optimiser
    run_state m_rs;                                               // the running clone's step
    row_matrix m_delta;
    std::vector<double> m_barrier, m_drop;

    [[nodiscard]] sgd_options clone_options() const {
        sgd_options so = sgd_options_of(m.o);
        so.seed = clone_seed(m.o.seed, m.tw[m_phase], m_clone);
        return so;
    }
    void restore_snapshots(const checkpoint& c) {
        m_snaps.assign(static_cast<std::size_t>(m_clone) + 1, {}); // the running clone's too
        const Eigen::Index size = m.sys.num_parameters();
        for (std::size_t k = 0; k < m_snaps.size(); ++k) {
            const std::string prefix = "clones/snapshot/" + std::to_string(k) + "/";
            for (const auto& [key, unused] : entries_under(c, prefix).arrays_f32)
                if (auto w = c.find_vector<float>(prefix + key, size)) m_snaps[k][std::stoll(key)] = std::move(*w);
        }
    }
    // The clone m_clone of birth m_phase: the birth's weights and buffers, its momentum / Adam state and
    // last loss, a fresh minibatch order and SGLD noise from clone_seed.
    void start_clone() {
        const checkpoint& birth = m_births[m_phase];
        restore_model(m.sys, birth);
        m_dyn = std::make_unique<sgd>(clone_options(), m.sys);
        checkpoint c;
        m_dyn->save(c, "sgd/"); // the fresh sampler and noise generator
        for (const char* kept : {"sgd/velocity", "sgd/adam/", "sgd/last_loss"}) {
            const checkpoint from = entries_under(birth, kept);
            put_prefixed(c, kept, from);
        }
        m_dyn->restore(c, "sgd/", m.sys.state());
        m_rs.step = m.tw[m_phase];
    }
    [[nodiscard]] std::int64_t total_work() const {
        std::int64_t work = m.o.steps;
        for (const auto w : m.tw) work += m.o.clones * (m.o.steps - w);
        return work;
    }
    [[nodiscard]] std::int64_t work_before() const {
        std::int64_t work = m.o.steps;
        for (std::size_t b = 0; b < m_phase; ++b) work += m.o.clones * (m.o.steps - m.tw[b]);
        return work + m_clone * (m.o.steps - m.tw[m_phase]) - m.tw[m_phase];
    }
    [[nodiscard]] std::string where(std::int64_t step) const {
        return "at step " + std::to_string(step) + " of clone " + std::to_string(m_clone) + " born at step " +
               std::to_string(m.tw[m_phase]);
    }
    template <class Between>
    bool run_clone(const run_hooks& outer, run_end& end, Between& between) {
        if (!m_dyn) start_clone();
        const std::int64_t before = work_before();
        run_hooks hooks;
        hooks.progress_every = outer.progress_every;
        if (outer.progress)
            hooks.progress = [&](std::int64_t step, std::int64_t) { outer.progress(before + step, total_work()); };
        hooks.between_steps = [&](std::int64_t step) { between(before + step, std::isfinite(m_dyn->last_loss())); };
        hooks.stop = [&](std::int64_t step) {
            if (!std::isfinite(m_dyn->last_loss()))
                end = {stop_reason::diverged,
                       "diverged " + where(step) + ": the minibatch loss is not finite; " + lr_hint(m.o.lr)};
            else if (outer.stop && outer.stop(before + step))
                end = {stop_reason::interrupted, "interrupted " + where(step) + " (clone phase)"};
            return end.stopped();
        };
        std::vector<std::int64_t> when{m.o.steps};
        for (const auto lag : m.lags)
            if (lag <= m.o.steps - m.tw[m_phase]) when.push_back(m.tw[m_phase] + lag);
        m_snaps.resize(static_cast<std::size_t>(m_clone) + 1); // keeps a resumed clone's snapshots
        auto& mine = m_snaps.back();
        auto snap = [&](const network_system&, const parameter_handle& x, std::int64_t step, double) {
            mine[step] = flatten_parameters(x);
        };
        parameter_handle x = m.sys.state();
        if (!integrate(*m_dyn, m.sys, x, m_rs, m.o.steps, schedule(std::move(when)), hooks, snap)) return false;
        m_dyn.reset();
        return true;
    }
    // Delta_AB at each lag, and at the end the barrier and the test-accuracy drop along the lines.
    void measure_birth() {
        const auto c = static_cast<Eigen::Index>(m_phase);
        const auto group = [&](std::int64_t step) {
            std::vector<Eigen::VectorXf> g;
            for (const auto& s : m_snaps) g.push_back(s.at(step));
            return g;
        };
        const auto distance = [](const Eigen::VectorXf& a, const Eigen::VectorXf& b) {
            return snapshot_traits<parameter_handle>::mean_squared_distance(a, b);
        };
        for (std::size_t l = 0; l < m.lags.size(); ++l)
            if (m.lags[l] <= m.o.steps - m.tw[m_phase]) {
                const auto g = group(m.tw[m_phase] + m.lags[l]);
                m_delta(c, static_cast<Eigen::Index>(l)) = pair_mean(std::span<const Eigen::VectorXf>(g), distance);
            }
        const auto ends = group(m.o.steps);
        const std::vector<double> alphas = barrier_alphas(m.o.barrier_points);
        std::vector<double> drops;
        m_barrier[m_phase] = pair_mean(std::span<const Eigen::VectorXf>(ends), [&](const auto& a, const auto& b) {
            const line_measurement line = line_measures(m.sys, a, b, alphas, m.train_eval, m.test_eval);
            const auto& acc = line.test_accuracy;
            drops.push_back((acc(0) + acc(acc.size() - 1)) / 2 - acc.minCoeff());
            return barrier_height(line.train_loss);
        });
        m_drop[m_phase] = std::accumulate(drops.begin(), drops.end(), 0.0) / static_cast<double>(drops.size());
    }
};

/// The hooks of quench::run's main run: `hooks`' progress, checkpoints between steps (held until
/// the next step's loss is known finite), and the stop rule (diverged, converged, interrupted).
template <class Take>
run_hooks main_hooks(const run_hooks& hooks, const run_control& control, held_checkpoints& checkpoints, const sgd& dyn,
                     const quench_options& o, run_end& end, Take& take) {
    run_hooks inner;
    inner.progress = hooks.progress;
    inner.progress_every = hooks.progress_every;
    inner.poll_every = 1;
    if (!control.checkpoint_path.empty())
        inner.between_steps = [&](std::int64_t step) {
            checkpoints.between_steps(step, std::isfinite(dyn.last_loss()), take);
        };
    inner.stop = [&](std::int64_t step) {
        if (!std::isfinite(dyn.last_loss()))
            end = {stop_reason::diverged,
                   "diverged at step " + std::to_string(step) + ": the minibatch loss is not finite; " + lr_hint(o.lr)};
        else if (o.stop_loss > 0.0 && dyn.last_loss() < o.stop_loss)
            end = {stop_reason::converged, converged_message(step, dyn.last_loss(), o)};
        else if (hooks.stop && hooks.stop(step))
            end = {stop_reason::interrupted,
                   "interrupted at step " + std::to_string(step) + " of " + std::to_string(o.steps)};
        return end.stopped();
    };
    return inner;
}

/// The clone phase of quench::run, from the main run's end (main_end, then set from save_main) or
/// where a resumed checkpoint left the clones; its wall time, less its checkpoints', goes to
/// timing.clones_s.
template <class SaveMain, class Between>
void run_clone_phase(clone_phase& clones, std::optional<checkpoint>& main_end, SaveMain&& save_main, run_end& end,
                     const run_hooks& hooks, run_timing& timing, Between&& between) {
    const auto t0 = std::chrono::steady_clock::now();
    const double checkpoints_before = timing.checkpoints_s;
    if (!main_end) {
        main_end = save_main();
        clones.set_main_done();
    }
    (void)clones.run(hooks, end, between);
    timing.clones_s += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() -
                       (timing.checkpoints_s - checkpoints_before);
}

} // namespace

checkpoint quench::impl::save(const net_measurements& m) const {
    checkpoint c;
    c.tool = tool_name;
    c.config = options_json(options).dump();
    c.integers["threads"] = torch::get_num_threads(); // resumed with the same count (checkpoint_threads)
    for (const auto& p : sys->model().named_parameters(true)) put_tensor(c, "model/" + p.key(), p.value());
    for (const auto& b : sys->model().named_buffers(true)) put_tensor(c, "model/" + b.key(), b.value());
    dyn->save(c, "sgd/");
    c.strings["torch_cpu_generator"] = generator_state(at::detail::getDefaultCPUGenerator());
    m.save(c);
    return c;
}

void quench::impl::restore(const checkpoint& c, parameter_handle& x, net_measurements& m) const {
    if (c.tool != tool_name) throw record_error("checkpoint was written by " + c.tool + ", not net_quench");
    if (c.config != options_json(options).dump())
        throw record_error("checkpoint is from a different configuration than this run");
    m.rs.step = c.integer("step");
    if (m.rs.step < 0 || m.rs.step > options.steps) throw record_error("checkpoint: bad step");
    for (const auto& p : sys->model().named_parameters(true)) get_tensor(c, "model/" + p.key(), p.value());
    for (const auto& b : sys->model().named_buffers(true)) get_tensor(c, "model/" + b.key(), b.value());
    dyn->restore(c, "sgd/", x);
    torch::Generator global = at::detail::getDefaultCPUGenerator();
    set_generator_state(global, c.string("torch_cpu_generator"));
    m.restore(c, sys->num_parameters());
}

record quench::impl::to_record(const net_measurements& m, const run_end& end) const {
    const auto& o = options;
    record rec;
    rec.system = "net";
    rec.method = dyn->method();
    rec.parameters =
        quench_parameters(o, sys->num_parameters(), stats, sys->count(split::train), sys->count(split::test));
    rec.parameters["steps_done"] = m.rs.step;
    end.mark(rec);
    rec.time = m.metrics.time;
    rec.energy = m.metrics.train_loss;
    rec.observables["train_loss"] = m.metrics.train_loss;
    rec.observables["train_accuracy"] = m.metrics.train_accuracy;
    rec.observables["test_loss"] = m.metrics.test_loss;
    rec.observables["test_accuracy"] = m.metrics.test_accuracy;
    if (o.grad_norm) rec.observables["grad_norm"] = m.metrics.grad_norm;
    if (m.metrics.with_unsatisfied) {
        rec.observables["unsatisfied_fraction"] = m.metrics.unsatisfied;
        rec.observables["test_unsatisfied_fraction"] = m.metrics.test_unsatisfied;
    }
    for (const auto s : tw) rec.aging.tw.push_back(static_cast<double>(s));
    for (const auto s : lags) rec.aging.t.push_back(static_cast<double>(s));
    rec.aging.delta = m.aging.delta();
    rec.aging.noise = m.noise.noise;
    rec.aging.noise.resize(tw.size(), std::numeric_limits<double>::quiet_NaN()); // unreached t_w of a stopped run
    rec.extra["measurement/train_indices"] = index_array(train_subset);
    rec.extra["measurement/test_indices"] = index_array(test_eval);
    rec.parameters["data_files"] = nlohmann::json::array();
    for (const auto& f : data.files) rec.parameters["data_files"].push_back(f.string());
    if (o.save_snapshots && !m.noise.weights.empty()) {
        const auto n = static_cast<std::uint64_t>(sys->num_parameters());
        nd_array<float> w;
        w.shape = {static_cast<std::uint64_t>(m.noise.weights.size()), n};
        w.data.reserve(m.noise.weights.size() * n);
        for (const auto& v : m.noise.weights) w.data.insert(w.data.end(), v.data(), v.data() + v.size());
        rec.extra_f32["snapshots/weights"] = std::move(w);
        rec.extra["snapshots/tw"] = nd_array<double>{{static_cast<std::uint64_t>(m.noise.tw.size())}, m.noise.tw};
    }
    if (o.hessian) {
        m.hessian.series.write(rec, o.hessian_top, o.hessian_slq_vectors, o.hessian_slq_steps);
        rec.extra_i64["hessian/samples"] = {{static_cast<std::uint64_t>(hessian_set.size())}, hessian_set};
    }
    if (o.barrier) // time in steps (dt = 1); no group when no pair fits in the run
        add_barrier_datasets(rec, barrier_pairs, 1.0, m.barrier.recorder.alphas(), {m.barrier.recorder.energies()});
    return rec;
}

record quench::run(const run_hooks& hooks, const run_control& control) {
    auto& q = *m_impl;
    const auto& o = q.options;
    net_measurements m = q.measurements();
    const schedule barrier_when = m.barrier.recorder.required_steps();
    const schedule all = q.metrics_schedule.merged(schedule(q.tw))
                             .merged(m.aging.required_steps())
                             .merged(barrier_when)
                             .truncated(o.steps);
    parameter_handle x = q.sys->state();
    clone_phase clones({o, *q.sys, q.train_eval, q.test_eval, q.clone_tw, q.clone_lags});
    if (control.resume) q.restore(*control.resume, x, m);
    std::optional<checkpoint> main_end; // with --clones: the state at the end of the main run
    if (control.resume && o.clones > 0) {
        main_end = q.save(m); // before the clones' state replaces the model's
        clones.restore(*control.resume);
        if (!clones.main_done()) main_end.reset();
    }
    m_timing = {};
    held_checkpoints checkpoints(control, m_timing.checkpoints_s);
    const auto take = [&] {
        checkpoint c = main_end ? *main_end : q.save(m);
        if (o.clones > 0) clones.save(c);
        if (control.carried) add_entries(*control.carried, c);
        return c;
    };

    run_end end;
    const run_hooks inner = main_hooks(hooks, control, checkpoints, *q.dyn, o, end, take);

    timed<metrics_observer> timed_metrics{m.metrics, m_timing.metrics_s};
    timed<noise_observer> timed_noise{m.noise, m_timing.noise_s};
    timed<two_time_recorder<parameter_handle>> timed_aging{m.aging, m_timing.aging_s};
    timed<hessian_observer> timed_hessian{m.hessian, m_timing.hessian_s};
    timed<barrier_observer> timed_barrier{m.barrier, m_timing.barrier_s};
    on_schedule<timed<metrics_observer>> metrics{q.metrics_schedule, timed_metrics};
    on_schedule<timed<noise_observer>> noise{schedule(q.tw), timed_noise};
    on_schedule<timed<hessian_observer>> hessian{schedule(o.hessian ? q.tw : std::vector<std::int64_t>{}),
                                                 timed_hessian};
    on_schedule<timed<barrier_observer>> barrier{barrier_when, timed_barrier};
    auto births = [&](const network_system&, const parameter_handle&, std::int64_t step, double) {
        clones.birth(*q.dyn, step);
    };
    timed<decltype(births)> timed_births{births, m_timing.clones_s};
    on_schedule<timed<decltype(births)>> born{schedule(q.clone_tw), timed_births};
    const auto t_run = std::chrono::steady_clock::now();
    try {
        if (!main_end)
            integrate(*q.dyn, *q.sys, x, m.rs, o.steps, all.merged(schedule(q.clone_tw)), inner, metrics, noise,
                      timed_aging, hessian, barrier, born);
    } catch (const divergence_error&) {
        end = {stop_reason::diverged, "diverged at step " + std::to_string(m.rs.step) +
                                          ": the measured training loss is not finite; " + lr_hint(o.lr)};
    }
    if (end.reason == stop_reason::converged) timed_metrics(*q.sys, x, m.rs.step, static_cast<double>(m.rs.step));
    if (o.clones > 0 && !end.stopped())
        run_clone_phase(
            clones, main_end, [&] { return q.save(m); }, end, hooks, m_timing,
            [&](std::int64_t work, bool good) {
                if (!control.checkpoint_path.empty()) checkpoints.between_steps(work, good, take);
            });
    m_timing.total_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_run).count();
    m_timing.steps_s = m_timing.total_s - m_timing.metrics_s - m_timing.noise_s - m_timing.aging_s -
                       m_timing.hessian_s - m_timing.barrier_s - m_timing.checkpoints_s - m_timing.clones_s;
    // Interrupted: the current state is saved once its loss, measured now on the first batch-size
    // training samples, is finite (else the last good checkpoint stays).
    if (end.reason == stop_reason::interrupted && !control.checkpoint_path.empty() &&
        std::isfinite(
            q.sys->evaluate(split::train, o.batch == full_batch ? q.sys->count(split::train) : o.batch, false).loss))
        checkpoints.write_now(take);
    if (main_end) restore_model(*q.sys, *main_end); // the main run's end state, as without --clones
    record rec = q.to_record(m, end);
    if (o.clones > 0) clones.write(rec);
    return rec;
}

std::uint64_t clone_seed(std::uint64_t seed, std::int64_t tw, int k) noexcept {
    const auto mix = [](std::uint64_t x) { // splitmix64's finaliser
        x += 0x9E3779B97F4A7C15ULL;
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
        return x ^ (x >> 31);
    };
    const std::uint64_t clone_stream = 0x636C6F6E6573ULL; // "clones"
    return mix(mix(mix(seed ^ mix(clone_stream)) + static_cast<std::uint64_t>(tw)) + static_cast<std::uint64_t>(k));
}

device_kind parse_device_kind(const std::string& name) {
    if (name == "cpu") return device_kind::cpu;
    if (name == "cuda") return device_kind::cuda;
    throw field_error("device", "must be cpu or cuda (got '" + name + "')");
}

std::string to_string(device_kind kind) { return kind == device_kind::cuda ? "cuda" : "cpu"; }

dtype_kind parse_dtype_kind(const std::string& name) {
    if (name == "float32") return dtype_kind::float32;
    if (name == "float64") return dtype_kind::float64;
    throw field_error("dtype", "must be float32 or float64 (got '" + name + "')");
}

std::string to_string(dtype_kind kind) { return kind == dtype_kind::float64 ? "float64" : "float32"; }

std::string flag_name(noise_method method) { return method == noise_method::batched ? "batched" : "loop"; }

noise_method parse_noise_method_flag(const std::string& name) {
    if (name == "batched") return noise_method::batched;
    if (name == "loop") return noise_method::per_sample_loop;
    throw field_error("noise_method", "must be batched or loop (got '" + name + "')");
}

std::string to_string(noise_method method) { return method == noise_method::batched ? "batched" : "per_sample_loop"; }

noise_method parse_noise_method(const std::string& name) {
    if (name == "batched") return noise_method::batched;
    if (name == "per_sample_loop") return noise_method::per_sample_loop;
    throw field_error("noise_method", "must be batched or per_sample_loop (got '" + name + "')");
}

namespace {

using options = quench_options;

/// A choice field of an enum member M, by the names of to_string and parse.
template <class E, E options::*M, E (*parse)(const std::string&)>
choice_member<options> choice() {
    return {[](const options& o) { return to_string(o.*M); },
            [](options& o, const std::string& s) { o.*M = parse(s); }};
}

template <std::int64_t synthetic_options::*M>
std::int64_t& synthetic_size(options& o) {
    return o.synthetic.*M;
}

int& synthetic_noise(options& o) { return o.synthetic.noise; }

bool is_synthetic(const options& o) { return o.dataset == dataset_kind::synthetic; }

template <std::int64_t random_options::*M>
std::int64_t& random_size(options& o) {
    return o.random.*M;
}

/// A field written only with the random dataset.
field<options> random_field(const std::string& key, const std::string& flag, const std::string& help,
                            field_member<options> member) {
    return {"/random/" + key,  flag, help,
            std::move(member), true, [](const options& o) { return o.dataset == dataset_kind::random; }};
}

/// A field written only when its value differs from the default (the options of issue 15: the
/// JSON of a run that does not use them stays as it was).
template <class T, T options::*M>
field<options> optional_field(const std::string& key, const std::string& flag, const std::string& help,
                              field_member<options> member) {
    return {key, flag, help, std::move(member), true, [](const options& o) { return o.*M != options{}.*M; }};
}

/// --loss: a loss name, or "default" for the model's own; written only when it is not the model's own.
field<options> loss_field() {
    choice_member<options> member{[](const options& o) { return o.loss ? to_string(*o.loss) : std::string("default"); },
                                  [](options& o, const std::string& s) {
                                      o.loss =
                                          s == "default" ? std::nullopt : std::optional<loss_kind>(parse_loss_kind(s));
                                  }};
    return {"/loss",
            "--loss",
            "hinge2 (quadratic hinge, binary tasks: --dataset random or --labels parity) | nll_log_softmax | "
            "mse_one_hot | default (the model's own: mse_one_hot for toy, else nll_log_softmax)",
            std::move(member),
            true,
            [](const options& o) { return run_loss(o) != model_loss(o.model); }};
}

/// --batch: a size, or "all" (full_batch); in JSON a number or "all".
field<options> batch_field() {
    choice_member<options> member{
        [](const options& o) { return o.batch == full_batch ? std::string("all") : std::to_string(o.batch); },
        [](options& o, const std::string& s) {
            std::size_t used = 0;
            long long b = 0;
            try {
                b = s == "all" ? 0 : std::stoll(s, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (s != "all" && (used != s.size() || b < 1))
                throw field_error("batch", "'" + s + "': expected a size >= 1 or all");
            o.batch = b;
        }};
    return {"/batch",
            "--batch",
            "minibatch size, or all (full-batch gradient descent on the training set in order)",
            std::move(member),
            true,
            {},
            [](const options& o) { return o.batch == full_batch ? nlohmann::json("all") : nlohmann::json(o.batch); },
            [](options& o, const nlohmann::json& j) {
                if (j.is_string() && j.get<std::string>() != "all")
                    throw field_error("batch", "'" + j.get<std::string>() + "' is neither a size nor all");
                o.batch = j.is_string() ? full_batch : j.get<std::int64_t>();
            }};
}

/// A field written only with the synthetic dataset.
field<options> synthetic_field(const std::string& key, const std::string& flag, const std::string& help,
                               field_member<options> member) {
    return {"/synthetic/" + key, flag, help, std::move(member), true, is_synthetic};
}

/// A list of steps, written only when given, without a flag.
field<options> steps_list(const std::string& key, std::vector<std::int64_t> options::*member) {
    return {key, "", "", member, true, [member](const options& o) { return !(o.*member).empty(); }};
}

/// A field written only with --hessian (so a run without it has the JSON it always had).
field<options> hessian_field(const std::string& key, const std::string& flag, const std::string& help,
                             field_member<options> member) {
    return {key, flag, help, std::move(member), true, [](const options& o) { return o.hessian; }};
}

/// A field written only with --barrier (so a run without it has the JSON it always had).
field<options> barrier_field(const std::string& key, const std::string& flag, const std::string& help,
                             field_member<options> member, bool show_default = true) {
    return {key, flag, help, std::move(member), show_default, [](const options& o) { return o.barrier; }};
}

/// A field written only with --clones (so a run without it has the JSON it always had).
field<options> clone_field(const std::string& key, const std::string& flag, const std::string& help,
                           field_member<options> member) {
    return {key, flag, help, std::move(member), false, [](const options& o) { return o.clones > 0; }};
}

/// --noise-method by its flag names ("batched", "loop").
choice_member<options> noise_flag() {
    return {[](const options& o) { return flag_name(o.noise); },
            [](options& o, const std::string& s) { o.noise = parse_noise_method_flag(s); }};
}

} // namespace

/// The rows of the optional measurements (--hessian, --barrier), after the others.
field_table<options> measurement_fields() {
    using O = options;
    return {
        hessian_field("/hessian", "--hessian",
                      "record Hessian spectra of the training loss at each t_w (top eigenvalues, trace, SLQ density, "
                      "negative and flat fractions)",
                      &O::hessian),
        hessian_field("/hessian_top", "--hessian-top", "k largest Hessian eigenvalues (Spectra's Lanczos)",
                      &O::hessian_top),
        hessian_field("/hessian_samples", "--hessian-samples",
                      "the Hessian's loss on S training samples (a class-balanced subset fixed by --seed)",
                      &O::hessian_samples),
        hessian_field("/flat_epsilon", "--flat-epsilon", "flat directions: |lambda| <= epsilon max|lambda|",
                      &O::flat_epsilon),
        hessian_field("/hessian_trace_vectors", "", "", &O::hessian_trace_vectors),
        hessian_field("/hessian_slq_steps", "", "", &O::hessian_slq_steps),
        hessian_field("/hessian_slq_vectors", "", "", &O::hessian_slq_vectors),
        barrier_field("/barrier", "--barrier",
                      "record the training loss along the straight line in weight space between the weights at t_w "
                      "and t_w + t (issue 14)",
                      &O::barrier),
        barrier_field("/barrier_lags", "--barrier-lags",
                      "with --barrier: the lags t in steps, for every t_w (default three per decade from one step, "
                      "those with t >= t_w)",
                      &O::barrier_lags, false),
        {"/barrier_points", "--barrier-points",
         "with --barrier or --clones: points per line, both ends included (>= 2)", &O::barrier_points, true,
         [](const O& o) { return o.barrier || o.clones > 0; }},
        barrier_field("/barrier_samples", "--barrier-samples",
                      "with --barrier: the lines' loss on the first N train evaluation samples (at most "
                      "--eval-samples)",
                      &O::barrier_samples),
        clone_field("/clones", "--clones",
                    "K >= 2 clones of the training state at the waiting times (or --clone-tw), each trained on with "
                    "its own minibatch order and SGLD noise after the main run (issue 14)",
                    &O::clones),
        clone_field("/clone_tw", "--clone-tw",
                    "with --clones: the birth steps of the clones, in 1..steps - 1 (default the waiting times)",
                    &O::clone_tw),
        clone_field("/clone_lags", "--clone-lags",
                    "with --clones: the lags after birth of /clones/delta, in steps (default the lags of Delta)",
                    &O::clone_lags),
    };
}

const field_table<quench_options>& quench_options_fields() {
    using O = options;
    static const field_table<O> table = [] {
        field_table<O> t = {
            {"/model", "--model", "toy | fc | smallnet | resnet18 | linear",
             choice<model_kind, &O::model, parse_model_kind>()},
            {"/dataset", "--dataset", "mnist | fashion-mnist | cifar10 | cifar100 | synthetic | random",
             choice<dataset_kind, &O::dataset, parse_dataset_kind>()},
            {"/hidden", "--hidden", "toy model width h (10 for the under-parametrised case)", &O::hidden},
            optional_field<std::int64_t, &O::depth>("/depth", "--depth", "fc: number of hidden layers L", &O::depth),
            optional_field<std::int64_t, &O::width>("/width", "--width", "fc: width h of each hidden layer", &O::width),
            loss_field(),
            optional_field<label_kind, &O::labels>("/labels", "--labels",
                                                   "classes | parity (class mod 2: even vs odd, a binary task)",
                                                   choice<label_kind, &O::labels, parse_label_kind>()),
            random_field("input_dim", "--input-dim", "random dataset: input dimension d (N(0,1) components)",
                         &random_size<&random_options::input_dim>),
            random_field("train_size", "--train-size", "random dataset: training samples P (the test set has P too)",
                         &random_size<&random_options::train_count>),
            batch_field(),
            optional_field<optimizer_kind, &O::optimizer>(
                "/optimizer", "--optimizer", "sgd | adam (LibTorch's Adam, betas 0.9 0.999, eps 1e-8)",
                choice<optimizer_kind, &O::optimizer, parse_optimizer_kind>()),
            optional_field<double, &O::stop_loss>(
                "/stop_loss", "--stop-loss",
                "stop once the loss of a step (its minibatch; the training set with --batch all) is below EPS > 0 "
                "(default 0: off)",
                &O::stop_loss),
            {"/lr", "--lr", "learning rate (constant)", &O::lr},
            {"/momentum", "--momentum", "heavy-ball momentum", &O::momentum},
            {"/T", "--T", "SGLD temperature: adds sqrt(2 lr T) N(0,1) per weight and step (0: SGD)", &O::temperature},
            {"/steps", "--steps", "SGD iterations", &O::steps},
            {"/seed", "--seed", "seed of initialisation, minibatches, SGLD noise, synthetic data", &O::seed},
            {"/device", "--device", "cpu | cuda", choice<device_kind, &O::device, parse_device_kind>()},
            {"/dtype", "--dtype", "float32 | float64 (training precision; snapshots are float32)",
             choice<dtype_kind, &O::dtype, parse_dtype_kind>()},
            {"/noise_samples", "--noise-samples",
             "D(t_w) on N training samples (a class-balanced subset fixed by --seed)", &O::noise_samples},
            {"/noise_method",
             "--noise-method",
             "batched | loop (per-sample reference)",
             noise_flag(),
             true,
             {},
             [](const O& o) { return nlohmann::json(to_string(o.noise)); },
             [](O& o, const nlohmann::json& j) { o.noise = parse_noise_method(j.get<std::string>()); }},
            {"/eval_samples", "--eval-samples",
             "loss/accuracy on N train and N test samples (class-balanced subsets fixed by --seed)", &O::eval_samples},
            {"/points_per_decade", "--points-per-decade", "measurement times and lags per decade",
             &O::points_per_decade},
            {"/tw_per_decade", "--tw-per-decade", "waiting times per decade (from 10 to steps/2)", &O::tw_per_decade},
            {"/tw_first", "", "", &O::tw_first},
            synthetic_field("train_count", "--synthetic-train", "synthetic dataset: training images",
                            &synthetic_size<&synthetic_options::train_count>),
            synthetic_field("test_count", "--synthetic-test", "synthetic dataset: test images",
                            &synthetic_size<&synthetic_options::test_count>),
            synthetic_field("channels", "--synthetic-channels",
                            "synthetic dataset: channels (3 with size 32 is CIFAR-shaped)",
                            &synthetic_size<&synthetic_options::channels>),
            synthetic_field("height", "--synthetic-size", "synthetic dataset: image side in pixels",
                            &synthetic_size<&synthetic_options::height>),
            synthetic_field("width", "", "", &synthetic_size<&synthetic_options::width>),
            synthetic_field("classes", "", "", &synthetic_size<&synthetic_options::classes>),
            synthetic_field("noise", "", "", &synthetic_noise),
            {"/save_snapshots", "--save-snapshots", "write the weights at each t_w to /snapshots (float32)",
             &O::save_snapshots},
            {"/grad_norm", "--grad-norm",
             "also record |grad L| on the train evaluation samples at each metrics point (one backward each)",
             &O::grad_norm},
            steps_list("/tw_steps", &O::tw_steps),
            steps_list("/lag_steps", &O::lag_steps),
        };
        for (auto& f : measurement_fields()) t.push_back(std::move(f));
        return t;
    }();
    return table;
}

loss_kind model_loss(model_kind model) {
    return model == model_kind::toy ? loss_kind::mse_one_hot : loss_kind::nll_log_softmax;
}

loss_kind run_loss(const quench_options& o) { return o.loss.value_or(model_loss(o.model)); }

nlohmann::json options_json(const quench_options& o) {
    nlohmann::json p = nlohmann::json::object();
    write_fields(quench_options_fields(), o, p);
    // The rule of the D / evaluation subsets. In the configuration, so that a checkpoint of the
    // older first-S rule (no such key) is refused rather than continued with other samples.
    p["measurement_subset"] = "class_balanced";
    return p;
}

std::optional<int> checkpoint_threads(const checkpoint& c) {
    const auto it = c.integers.find("threads");
    if (it == c.integers.end()) return std::nullopt;
    if (it->second < 1 || it->second > 1 << 16)
        throw record_error("checkpoint: bad thread count " + std::to_string(it->second));
    return static_cast<int>(it->second);
}

quench_options options_from_checkpoint(const checkpoint& c) {
    if (c.tool != tool_name) throw record_error("checkpoint was written by " + c.tool + ", not net_quench");
    try {
        quench_options o;
        read_fields(quench_options_fields(), nlohmann::json::parse(c.config), o);
        return o;
    } catch (const nlohmann::json::exception& e) {
        throw record_error(std::string("checkpoint: bad configuration (") + e.what() + ")");
    } catch (const parameter_error& e) {
        throw record_error(std::string("checkpoint: bad configuration (") + e.what() + ")");
    }
}

nlohmann::json quench_parameters(const quench_options& o, std::int64_t num_parameters, const channel_stats& stats,
                                 std::int64_t train_count, std::int64_t test_count) {
    nlohmann::json p = options_json(o);
    p["data_dir"] = o.dataset == dataset_kind::synthetic ? "" : o.data_dir.string();
    p["num_parameters"] = num_parameters;
    p["input_mean"] = stats.mean;
    p["input_std"] = stats.std;
    p["train_count"] = train_count;
    p["test_count"] = test_count;
    const loss_kind loss = run_loss(o);
    p["loss"] =
        loss == loss_kind::mse_one_hot && o.model == model_kind::toy ? "mse_one_hot_after_sigmoid" : to_string(loss);
    p["noise_batchnorm"] = "eval";
    return p;
}

std::string blas_warning() {
    const std::string config = torch::show_config();
    if (config.find("BLAS_INFO=mkl") != std::string::npos || config.find("BLAS_INFO=open") != std::string::npos)
        return {};
    std::ifstream maps("/proc/self/maps");
    std::string line, reference;
    bool optimised = false;
    while (std::getline(maps, line)) {
        const bool blas = line.find("libblas.so") != std::string::npos ||
                          line.find("libopenblas") != std::string::npos || line.find("libmkl") != std::string::npos ||
                          line.find("libblis") != std::string::npos;
        if (!blas) continue;
        if (line.find("openblas") != std::string::npos || line.find("mkl") != std::string::npos ||
            line.find("blis") != std::string::npos || line.find("atlas") != std::string::npos) {
            optimised = true;
            if (line.find("libblas.so") != std::string::npos) return {}; // libblas.so.3 itself is optimised
        } else if (reference.empty()) {
            reference = line.substr(line.find('/') == std::string::npos ? 0 : line.find('/'));
        }
    }
    if (!reference.empty())
        return "LibTorch runs on the reference BLAS (" + reference +
               "); install libopenblas0-openmp (update-alternatives libblas.so.3) for much faster training";
    if (!optimised)
        return "could not find an optimised BLAS (OpenBLAS, MKL, BLIS) in this process; training may be slow";
    return {};
}

bool cuda_available() { return torch::cuda::is_available(); }

} // namespace glassy::nets
