#include "nets/quench.hpp"

#include "dynamics/error.hpp"
#include "dynamics/recorders.hpp"
#include "dynamics/schedule.hpp"
#include "nets/network.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <optional>

namespace glassy::nets {

namespace {

std::string noise_method_name(noise_method m) { return m == noise_method::batched ? "batched" : "per_sample_loop"; }

/// Loss, accuracy and gradient norm on the first eval_samples of train and test, at the steps
/// of its own schedule.
struct metrics_observer {
    schedule when;
    std::int64_t eval_samples;
    std::vector<double> time, train_loss, train_accuracy, test_loss, test_accuracy, grad_norm;

    void operator()(const network_system& s, const parameter_handle&, std::int64_t step, double t) {
        if (!when.contains(step)) return;
        const evaluation tr = s.evaluate(split::train, eval_samples, true);
        if (!std::isfinite(tr.loss))
            throw divergence_error("training loss became non-finite at step " + std::to_string(step) + " (lower --lr)");
        const evaluation te = s.evaluate(split::test, eval_samples, false);
        time.push_back(t);
        train_loss.push_back(tr.loss);
        train_accuracy.push_back(tr.accuracy);
        grad_norm.push_back(tr.grad_norm);
        test_loss.push_back(te.loss);
        test_accuracy.push_back(te.accuracy);
    }
};

/// D(t_w) (eq. 4) at each waiting step, and optionally the weights there.
struct noise_observer {
    schedule when;
    std::int64_t samples;
    noise_method method;
    bool keep_weights;
    std::vector<double> noise;
    std::vector<double> tw;
    std::vector<Eigen::VectorXf> weights;

    void operator()(const network_system& s, const parameter_handle& x, std::int64_t step, double t) {
        if (!when.contains(step)) return;
        noise.push_back(sgd_noise(s, samples, method).D);
        tw.push_back(t);
        if (keep_weights) weights.push_back(flatten_parameters(x));
    }
};

torch::Device parse_device(const std::string& name) {
    if (name == "cpu") return torch::kCPU;
    if (name == "cuda") {
        if (!torch::cuda::is_available())
            throw parameter_error("--device cuda: this LibTorch build has no CUDA support or sees no GPU (use --device cpu)");
        return torch::kCUDA;
    }
    throw parameter_error("unknown device '" + name + "' (expected cpu or cuda)");
}

torch::Dtype parse_dtype(const std::string& name) {
    if (name == "float32") return torch::kFloat32;
    if (name == "float64") return torch::kFloat64;
    throw parameter_error("unknown dtype '" + name + "' (expected float32 or float64)");
}

} // namespace

struct quench::impl {
    quench_options options;
    dataset_pair data;
    channel_stats stats;
    std::shared_ptr<net_base> model;
    std::unique_ptr<network_system> sys;
    std::unique_ptr<sgd> dyn;
    std::vector<std::int64_t> tw, lags;
    schedule metrics_schedule;
};

quench::quench(const quench_options& o) : m_impl(std::make_unique<impl>()) {
    auto& q = *m_impl;
    q.options = o;
    if (o.steps < 1) throw parameter_error("--steps must be >= 1");
    if (o.noise_samples < 1) throw parameter_error("--noise-samples must be >= 1");
    if (o.eval_samples < 1) throw parameter_error("--eval-samples must be >= 1");
    if (o.points_per_decade < 1 || o.tw_per_decade < 1) throw parameter_error("points per decade must be >= 1");
    if (o.tw_first < 1) throw parameter_error("the first waiting time must be >= 1");
    const torch::Device device = parse_device(o.device);
    const torch::Dtype dtype = parse_dtype(o.dtype);
    (void)parse_model_kind(to_string(o.model));

    if (o.dataset == "synthetic") {
        synthetic_options so = o.synthetic;
        so.seed = o.seed;
        q.data = make_synthetic(so);
    } else {
        if (o.data_dir.empty()) throw parameter_error("no data directory (set --data-dir or GLASSY_DATA_DIR)");
        if (o.dataset != "mnist" && o.dataset != "fashion-mnist" && !std::filesystem::is_directory(o.data_dir))
            throw error("data directory " + o.data_dir.string() + " does not exist (set --data-dir or GLASSY_DATA_DIR)");
        q.data = load_dataset(o.dataset, o.data_dir);
    }
    q.stats = compute_channel_stats(q.data.train);

    torch::manual_seed(o.seed);
    const input_shape shape{q.data.train.channels, q.data.train.height, q.data.train.width, q.data.train.classes};
    q.model = make_model(o.model, shape, o.hidden);
    q.sys = std::make_unique<network_system>(q.model, q.data.train, q.data.test, q.stats, network_options{device, dtype});
    q.dyn = std::make_unique<sgd>(sgd_options{o.lr, o.momentum, o.batch, o.temperature, o.seed}, *q.sys);

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
}

quench::~quench() = default;

std::int64_t quench::num_parameters() const { return m_impl->sys->num_parameters(); }
std::size_t quench::num_waiting_times() const { return m_impl->tw.size(); }
std::uint64_t quench::snapshot_bytes() const {
    const std::uint64_t one = static_cast<std::uint64_t>(num_waiting_times()) * static_cast<std::uint64_t>(num_parameters()) * 4u;
    return m_impl->options.save_snapshots ? 2 * one : one;
}
std::int64_t quench::train_count() const { return m_impl->sys->count(split::train); }
double quench::last_loss() const { return m_impl->dyn->last_loss(); }

record quench::run(const run_hooks& hooks) {
    auto& q = *m_impl;
    const auto& o = q.options;
    metrics_observer metrics{q.metrics_schedule, o.eval_samples, {}, {}, {}, {}, {}, {}};
    noise_observer noise{schedule(q.tw), o.noise_samples, o.noise, o.save_snapshots, {}, {}, {}};
    two_time_recorder<parameter_handle> aging(q.tw, q.lags);
    const schedule all = q.metrics_schedule.merged(schedule(q.tw)).merged(aging.required_steps()).truncated(o.steps);

    parameter_handle x = q.sys->state();
    run_state rs;
    const bool finished = integrate(*q.dyn, *q.sys, x, rs, o.steps, all, hooks, metrics, noise, aging);

    record rec;
    rec.system = "net";
    rec.method = q.dyn->method();
    rec.complete = finished;
    rec.parameters = quench_parameters(o, num_parameters(), q.stats, q.sys->count(split::train), q.sys->count(split::test));
    rec.parameters["steps_done"] = rs.step;
    rec.time = metrics.time;
    rec.energy = metrics.train_loss;
    rec.observables["train_loss"] = metrics.train_loss;
    rec.observables["train_accuracy"] = metrics.train_accuracy;
    rec.observables["test_loss"] = metrics.test_loss;
    rec.observables["test_accuracy"] = metrics.test_accuracy;
    rec.observables["grad_norm"] = metrics.grad_norm;
    for (const auto s : q.tw) rec.aging.tw.push_back(static_cast<double>(s));
    for (const auto s : q.lags) rec.aging.t.push_back(static_cast<double>(s));
    rec.aging.delta = aging.delta();
    rec.aging.noise = noise.noise;
    rec.aging.noise.resize(q.tw.size(), std::numeric_limits<double>::quiet_NaN()); // unreached t_w of a stopped run
    if (o.save_snapshots && !noise.weights.empty()) {
        const auto m = static_cast<std::uint64_t>(num_parameters());
        nd_array<float> w;
        w.shape = {static_cast<std::uint64_t>(noise.weights.size()), m};
        w.data.reserve(noise.weights.size() * m);
        for (const auto& v : noise.weights) w.data.insert(w.data.end(), v.data(), v.data() + v.size());
        rec.extra_f32["snapshots/weights"] = std::move(w);
        rec.extra["snapshots/tw"] = nd_array<double>{{static_cast<std::uint64_t>(noise.tw.size())}, noise.tw};
    }
    return rec;
}

nlohmann::json quench_parameters(const quench_options& o, std::int64_t num_parameters, const channel_stats& stats,
                                 std::int64_t train_count, std::int64_t test_count) {
    nlohmann::json p;
    p["model"] = to_string(o.model);
    p["dataset"] = o.dataset;
    p["data_dir"] = o.dataset == "synthetic" ? "" : o.data_dir.string();
    p["hidden"] = o.hidden;
    p["batch"] = o.batch;
    p["lr"] = o.lr;
    p["momentum"] = o.momentum;
    p["T"] = o.temperature;
    p["steps"] = o.steps;
    p["seed"] = o.seed;
    p["device"] = o.device;
    p["dtype"] = o.dtype;
    p["noise_samples"] = o.noise_samples;
    p["noise_method"] = noise_method_name(o.noise);
    p["eval_samples"] = o.eval_samples;
    p["points_per_decade"] = o.points_per_decade;
    p["tw_per_decade"] = o.tw_per_decade;
    p["tw_first"] = o.tw_first;
    p["save_snapshots"] = o.save_snapshots;
    if (o.dataset == "synthetic") {
        p["synthetic"] = {{"train_count", o.synthetic.train_count}, {"test_count", o.synthetic.test_count},
                          {"channels", o.synthetic.channels},       {"height", o.synthetic.height},
                          {"width", o.synthetic.width},             {"classes", o.synthetic.classes},
                          {"noise", o.synthetic.noise}};
    }
    p["num_parameters"] = num_parameters;
    p["input_mean"] = stats.mean;
    p["input_std"] = stats.std;
    p["train_count"] = train_count;
    p["test_count"] = test_count;
    p["loss"] = o.model == model_kind::toy ? "mse_one_hot_after_sigmoid" : "nll_log_softmax";
    p["noise_batchnorm"] = "eval";
    return p;
}

std::string blas_warning() {
    const std::string config = torch::show_config();
    if (config.find("BLAS_INFO=mkl") != std::string::npos || config.find("BLAS_INFO=open") != std::string::npos) return {};
    std::ifstream maps("/proc/self/maps");
    std::string line, reference;
    bool optimised = false;
    while (std::getline(maps, line)) {
        const bool blas = line.find("libblas.so") != std::string::npos || line.find("libopenblas") != std::string::npos ||
                          line.find("libmkl") != std::string::npos || line.find("libblis") != std::string::npos;
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
    if (!optimised) return "could not find an optimised BLAS (OpenBLAS, MKL, BLIS) in this process; training may be slow";
    return {};
}

bool cuda_available() { return torch::cuda::is_available(); }

} // namespace glassy::nets
