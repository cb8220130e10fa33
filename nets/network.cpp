#include "nets/network.hpp"

#include "dynamics/error.hpp"
#include "dynamics/fields.hpp"
#include "nets/reduction.hpp"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <optional>

namespace glassy {

double snapshot_traits<nets::parameter_handle>::mean_squared_distance(const snapshot_type& a, const snapshot_type& b) {
    if (a.size() != b.size() || a.size() == 0)
        throw error("mean_squared_distance: snapshots of different or zero size");
    double s = 0.0;
    for (Eigen::Index i = 0; i < a.size(); ++i) {
        const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
        s += d * d;
    }
    return s / static_cast<double>(a.size());
}

} // namespace glassy

namespace glassy::nets {

namespace F = torch::nn::functional;

std::int64_t parameter_handle::size() const {
    std::int64_t n = 0;
    for (const auto& t : tensors) n += t.numel();
    return n;
}

Eigen::VectorXf flatten_parameters(const parameter_handle& x) {
    Eigen::VectorXf v(x.size());
    if (!x.tensors.empty() && !x.tensors.front().device().is_cpu()) {
        // One device-to-host transfer instead of one per tensor (each would wait for the device).
        std::vector<torch::Tensor> flat;
        flat.reserve(x.tensors.size());
        for (const auto& t : x.tensors) flat.push_back(t.detach().reshape({-1}).to(torch::kFloat32));
        const torch::Tensor host = torch::cat(flat).to(torch::kCPU);
        std::memcpy(v.data(), host.data_ptr<float>(), static_cast<std::size_t>(host.numel()) * sizeof(float));
        return v;
    }
    Eigen::Index offset = 0;
    for (const auto& t : x.tensors) {
        const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
        std::memcpy(v.data() + offset, c.data_ptr<float>(), static_cast<std::size_t>(c.numel()) * sizeof(float));
        offset += c.numel();
    }
    return v;
}

void assign_parameters(const parameter_handle& x, const Eigen::VectorXf& flat) {
    if (flat.size() != x.size())
        throw parameter_error("assign_parameters: " + std::to_string(flat.size()) + " values for " +
                              std::to_string(x.size()) + " parameters");
    torch::NoGradGuard no_grad;
    Eigen::Index offset = 0;
    for (const auto& t : x.tensors) {
        auto* data = const_cast<float*>(flat.data() + offset);
        t.copy_(torch::from_blob(data, t.sizes(), torch::kFloat32));
        offset += t.numel();
    }
}

void put_tensor(checkpoint& c, const std::string& key, const torch::Tensor& t) {
    const torch::Tensor cpu = t.detach().to(torch::kCPU).contiguous();
    const auto n = static_cast<std::uint64_t>(cpu.numel());
    if (cpu.scalar_type() == torch::kFloat32) {
        const float* p = cpu.data_ptr<float>();
        c.arrays_f32[key] = nd_array<float>{{n}, std::vector<float>(p, p + n)};
    } else {
        const torch::Tensor d = cpu.to(torch::kFloat64).contiguous();
        const double* p = d.data_ptr<double>();
        c.arrays[key] = nd_array<double>{{n}, std::vector<double>(p, p + n)};
    }
}

void get_tensor(const checkpoint& c, const std::string& key, const torch::Tensor& target) {
    torch::NoGradGuard no_grad;
    const auto bad_size = [&] { return record_error("checkpoint: entry '" + key + "' has the wrong size"); };
    if (const auto it = c.arrays_f32.find(key); it != c.arrays_f32.end()) {
        if (static_cast<std::int64_t>(it->second.data.size()) != target.numel()) throw bad_size();
        target.copy_(torch::from_blob(const_cast<float*>(it->second.data.data()), target.sizes(), torch::kFloat32));
    } else if (const auto jt = c.arrays.find(key); jt != c.arrays.end()) {
        if (static_cast<std::int64_t>(jt->second.data.size()) != target.numel()) throw bad_size();
        target.copy_(torch::from_blob(const_cast<double*>(jt->second.data.data()), target.sizes(), torch::kFloat64));
    } else {
        throw record_error("checkpoint: entry '" + key + "' missing");
    }
}

std::string generator_state(const torch::Generator& g) {
    const torch::Tensor state = g.get_state().to(torch::kCPU).contiguous();
    const auto* p = state.data_ptr<std::uint8_t>();
    static const char* digits = "0123456789abcdef";
    std::string hex;
    hex.reserve(static_cast<std::size_t>(2 * state.numel()));
    for (std::int64_t i = 0; i < state.numel(); ++i) {
        hex += digits[p[i] >> 4];
        hex += digits[p[i] & 15];
    }
    return hex;
}

void set_generator_state(torch::Generator& g, const std::string& hex) {
    if (hex.empty() || hex.size() % 2 != 0) throw record_error("checkpoint: corrupt torch generator state");
    const auto nibble = [](char ch) -> int {
        if (ch >= '0' && ch <= '9') return ch - '0';
        if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
        throw record_error("checkpoint: corrupt torch generator state");
    };
    torch::Tensor state = torch::empty({static_cast<std::int64_t>(hex.size() / 2)}, torch::kUInt8);
    auto* p = state.data_ptr<std::uint8_t>();
    for (std::size_t i = 0; i < hex.size() / 2; ++i)
        p[i] = static_cast<std::uint8_t>(16 * nibble(hex[2 * i]) + nibble(hex[2 * i + 1]));
    std::lock_guard<std::mutex> lock(g.mutex());
    try {
        g.set_state(state);
    } catch (const c10::Error&) {
        throw record_error("checkpoint: torch generator state does not fit this LibTorch");
    }
}

void use_reproducible_cuda() {
    setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0); // keeps a value the user set
    auto& context = at::globalContext();
    context.setDeterministicCuDNN(true);
    context.setBenchmarkCuDNN(false);
    context.setAllowTF32CuDNN(false);
    context.setAllowTF32CuBLAS(false);
}

namespace {

torch::Tensor images_tensor(const image_set& s, torch::Device device) {
    if (!s.values.empty()) {
        auto* data = const_cast<double*>(s.values.data()); // cloned at once
        return torch::from_blob(data, {s.count, s.channels, s.height, s.width}, torch::kFloat64).clone().to(device);
    }
    if (s.count == 0) return torch::empty({0, s.channels, s.height, s.width}, torch::kUInt8).to(device);
    auto* data = const_cast<std::uint8_t*>(s.pixels.data()); // from_blob needs non-const; we clone at once
    return torch::from_blob(data, {s.count, s.channels, s.height, s.width}, torch::kUInt8).clone().to(device);
}

torch::Tensor labels_tensor(const image_set& s, torch::Device device) {
    if (s.count == 0) return torch::empty({0}, torch::kInt64).to(device);
    auto* data = const_cast<std::int64_t*>(s.labels.data());
    return torch::from_blob(data, {s.count}, torch::kInt64).clone().to(device);
}

} // namespace

network_system::network_system(std::shared_ptr<net_base> model, const image_set& train, const image_set& test,
                               channel_stats stats, network_options options)
    : m_model(std::move(model)), m_stats(std::move(stats)), m_options(options), m_real(!train.values.empty()) {
    if (!m_model) throw parameter_error("network_system: no model");
    m_loss = options.loss.value_or(m_model->loss());
    if (train.count < 1) throw parameter_error("network_system: empty training set");
    if (test.count > 0 && (test.channels != train.channels || test.height != train.height || test.width != train.width))
        throw parameter_error("network_system: train and test images differ in shape");
    if (static_cast<std::int64_t>(m_stats.mean.size()) != train.channels || m_stats.std.size() != m_stats.mean.size())
        throw parameter_error("network_system: channel statistics do not match the number of channels");
    if ((m_real ? train.values.size() : train.pixels.size()) !=
            static_cast<std::size_t>(train.count * train.image_size()) ||
        train.labels.size() != static_cast<std::size_t>(train.count) ||
        (test.count > 0 && test.values.empty() == m_real))
        throw parameter_error("network_system: inconsistent training image_set");
    if (options.dtype != torch::kFloat32 && options.dtype != torch::kFloat64)
        throw parameter_error("network_system: dtype must be float32 or float64");
    if (options.device.is_cuda()) use_reproducible_cuda();
    m_model->to(options.device, options.dtype);
    if (options.channels_last && options.device.is_cpu()) {
        torch::NoGradGuard no_grad;
        for (auto& p : m_model->parameters())
            if (p.dim() == 4) {
                p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
                m_channels_last = true;
            }
    }
    m_train_x = images_tensor(train, options.device);
    m_train_y = labels_tensor(train, options.device);
    m_test_x = images_tensor(test, options.device);
    m_test_y = labels_tensor(test, options.device);
    const auto c = train.channels;
    m_mean = torch::tensor(m_stats.mean, torch::kFloat64).reshape({1, c, 1, 1}).to(options.device, options.dtype);
    m_std = torch::tensor(m_stats.std, torch::kFloat64).reshape({1, c, 1, 1}).to(options.device, options.dtype);
}

parameter_handle network_system::state() const {
    parameter_handle h;
    for (const auto& p : m_model->parameters()) h.tensors.push_back(p);
    return h;
}

std::int64_t network_system::num_parameters() const { return count_parameters(*m_model); }

std::int64_t network_system::count(split s) const { return (s == split::train ? m_train_y : m_test_y).size(0); }

torch::Tensor network_system::inputs(split s, const torch::Tensor& index) const {
    const torch::Tensor& x = s == split::train ? m_train_x : m_test_x;
    return normalised(x.index_select(0, index));
}

torch::Tensor network_system::inputs(split s, std::int64_t begin, std::int64_t end) const {
    const torch::Tensor& x = s == split::train ? m_train_x : m_test_x;
    return normalised(x.slice(0, begin, end));
}

torch::Tensor network_system::normalised(const torch::Tensor& pixels) const {
    // One copy: the dtype conversion also lays the batch out in the model's memory format; the
    // in-place steps keep it.
    const auto format = m_channels_last ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
    if (m_real) return pixels.to(m_options.dtype, false, true, format).sub_(m_mean).div_(m_std);
    return pixels.to(m_options.dtype, false, false, format).div_(255.0).sub_(m_mean).div_(m_std);
}

torch::Tensor network_system::labels(split s, const torch::Tensor& index) const {
    return (s == split::train ? m_train_y : m_test_y).index_select(0, index);
}

torch::Tensor network_system::labels(split s, std::int64_t begin, std::int64_t end) const {
    return (s == split::train ? m_train_y : m_test_y).slice(0, begin, end);
}

namespace {

/// The signs s = 2y - 1 of 0/1 labels, in the dtype of `out`.
torch::Tensor label_signs(const torch::Tensor& out, const torch::Tensor& y) { return (2 * y - 1).to(out.dtype()); }

/// The margins s_s f_s [B] of a one-output network; parameter_error for another output count.
torch::Tensor margins(const torch::Tensor& out, const torch::Tensor& y) {
    if (out.dim() != 2 || out.size(1) != 1)
        throw parameter_error("the hinge2 loss needs a network with one output, got " +
                              std::to_string(out.dim() == 2 ? out.size(1) : out.dim()));
    return label_signs(out, y) * out.select(1, 0);
}

} // namespace

torch::Tensor network_system::per_sample_loss(const torch::Tensor& out, const torch::Tensor& y) const {
    if (m_loss == loss_kind::hinge2) return 0.5 * torch::relu(1.0 - margins(out, y)).pow(2);
    if (m_loss == loss_kind::mse_one_hot) {
        const torch::Tensor target = F::one_hot(y, out.size(1)).to(out.dtype());
        return (out - target).pow(2).mean(1);
    }
    return F::nll_loss(torch::log_softmax(out, 1), y, F::NLLLossFuncOptions().reduction(torch::kNone));
}

torch::Tensor network_system::hits(const torch::Tensor& out, const torch::Tensor& y) const {
    if (m_loss == loss_kind::hinge2) return margins(out, y).gt(0);
    return out.argmax(1).eq(y);
}

torch::Tensor network_system::unsatisfied(const torch::Tensor& out, const torch::Tensor& y) const {
    if (m_loss != loss_kind::hinge2) throw parameter_error("unsatisfied constraints are defined for hinge2 only");
    return margins(out, y).lt(1);
}

torch::Tensor network_system::sample_index(split s, const std::vector<std::int64_t>& samples) const {
    const std::int64_t n = count(s);
    for (const auto i : samples)
        if (i < 0 || i >= n)
            throw parameter_error("sample index " + std::to_string(i) + " outside the " +
                                  (s == split::train ? "training" : "test") + " split of " + std::to_string(n) +
                                  " samples");
    return torch::tensor(samples, torch::kInt64).to(m_options.device);
}

evaluation network_system::evaluate(split s, std::int64_t n, bool with_gradient) const {
    std::vector<std::int64_t> first(static_cast<std::size_t>(std::clamp<std::int64_t>(n, 0, count(s))));
    std::iota(first.begin(), first.end(), std::int64_t{0});
    return evaluate(s, first, with_gradient);
}

evaluation network_system::evaluate(split s, const std::vector<std::int64_t>& samples, bool with_gradient) const {
    const auto n = static_cast<std::int64_t>(samples.size());
    const torch::Tensor index = sample_index(s, samples);
    evaluation ev;
    if (n < 1) {
        ev.loss = ev.accuracy = ev.unsatisfied = ev.grad_norm = std::numeric_limits<double>::quiet_NaN();
        return ev;
    }
    const bool was_training = m_model->is_training();
    m_model->eval();
    constexpr std::int64_t chunk = 1024;
    const parameter_handle params = state();
    std::vector<torch::Tensor> grad_sum;
    double loss_sum = 0.0;
    std::int64_t hit_count = 0, unsatisfied_count = 0;
    const bool hinge = m_loss == loss_kind::hinge2;
    for (std::int64_t b = 0; b < n; b += chunk) {
        const std::int64_t e = std::min(n, b + chunk);
        const torch::Tensor part = index.slice(0, b, e);
        const torch::Tensor y = labels(s, part);
        std::optional<torch::NoGradGuard> no_grad;
        if (!with_gradient) no_grad.emplace();
        const torch::Tensor out = m_model->forward(inputs(s, part));
        const torch::Tensor per_sample = per_sample_loss(out, y);
        if (with_gradient) {
            auto g = torch::autograd::grad({per_sample.sum()}, params.tensors);
            if (grad_sum.empty()) grad_sum = std::move(g);
            else
                for (std::size_t i = 0; i < g.size(); ++i) grad_sum[i].add_(g[i]);
        }
        loss_sum += ordered_sum(per_sample.detach());
        hit_count += hits(out, y).sum().item<std::int64_t>();
        if (hinge) unsatisfied_count += unsatisfied(out, y).sum().item<std::int64_t>();
    }
    m_model->train(was_training);
    ev.loss = loss_sum / static_cast<double>(n);
    ev.accuracy = static_cast<double>(hit_count) / static_cast<double>(n);
    ev.unsatisfied = hinge ? static_cast<double>(unsatisfied_count) / static_cast<double>(n)
                           : std::numeric_limits<double>::quiet_NaN();
    if (with_gradient) {
        double sq = 0.0;
        for (const auto& g : grad_sum) sq += ordered_sum_of_squares(g);
        ev.grad_norm = std::sqrt(sq) / static_cast<double>(n);
    } else {
        ev.grad_norm = std::numeric_limits<double>::quiet_NaN();
    }
    return ev;
}

minibatch_sampler::minibatch_sampler(std::int64_t n, std::int64_t batch, std::uint64_t seed)
    : m_n(n), m_batch(batch), m_pos(0), m_rng(seed) {
    if (batch < 1 || batch > n)
        throw field_error("batch", std::to_string(batch) + " must lie in 1.." + std::to_string(n) +
                                       " (the number of training samples)");
    m_perm.resize(static_cast<std::size_t>(n));
    shuffle();
}

void minibatch_sampler::shuffle() {
    for (std::int64_t i = 0; i < m_n; ++i) m_perm[static_cast<std::size_t>(i)] = i;
    for (std::int64_t i = m_n - 1; i > 0; --i) {
        const auto range = static_cast<std::uint64_t>(i + 1);
        const std::uint64_t limit =
            std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % range;
        std::uint64_t r = m_rng();
        while (r >= limit) r = m_rng();
        std::swap(m_perm[static_cast<std::size_t>(i)], m_perm[static_cast<std::size_t>(r % range)]);
    }
    m_pos = 0;
}

std::vector<std::int64_t> minibatch_sampler::next() {
    if (m_pos + m_batch > m_n) shuffle();
    std::vector<std::int64_t> out(m_perm.begin() + m_pos, m_perm.begin() + m_pos + m_batch);
    m_pos += m_batch;
    return out;
}

void minibatch_sampler::save(checkpoint& c, const std::string& prefix) const {
    c.strings[prefix + "rng"] = to_state_string(m_rng);
    c.put(prefix + "perm", std::vector<double>(m_perm.begin(), m_perm.end()));
    c.integers[prefix + "pos"] = m_pos;
}

void minibatch_sampler::restore(const checkpoint& c, const std::string& prefix) {
    const std::vector<double> perm = c.vector(prefix + "perm");
    const std::int64_t pos = c.integer(prefix + "pos");
    if (static_cast<std::int64_t>(perm.size()) != m_n || pos < 0 || pos > m_n)
        throw record_error("checkpoint: the minibatch state does not fit the training set");
    from_state_string(c.string(prefix + "rng"), m_rng);
    for (std::size_t i = 0; i < perm.size(); ++i) m_perm[i] = static_cast<std::int64_t>(perm[i]);
    m_pos = pos;
}

namespace {

/// Adam's state key of a parameter (LibTorch 1.13, torch/csrc/api/src/optim/adam.cpp).
std::string adam_key(const torch::Tensor& p) { return c10::guts::to_string(p.unsafeGetTensorImpl()); }

} // namespace

optimizer_kind parse_optimizer_kind(const std::string& name) {
    if (name == "sgd") return optimizer_kind::sgd;
    if (name == "adam") return optimizer_kind::adam;
    throw field_error("optimizer", "must be sgd or adam (got '" + name + "')");
}

std::string to_string(optimizer_kind kind) { return kind == optimizer_kind::adam ? "adam" : "sgd"; }

std::string sgd::method() const {
    if (m_adam) return "adam";
    return m_options.temperature > 0.0 ? "sgld" : "sgd";
}

void sgd::save(checkpoint& c, const std::string& prefix) const {
    m_sampler.save(c, prefix + "sampler/");
    c.integers[prefix + "velocity_count"] = static_cast<std::int64_t>(m_velocity.size());
    for (std::size_t i = 0; i < m_velocity.size(); ++i)
        if (m_velocity[i].defined()) put_tensor(c, prefix + "velocity/" + std::to_string(i), m_velocity[i]);
    c.strings[prefix + "noise_generator"] = generator_state(m_noise);
    c.put(prefix + "last_loss", {m_last_loss});
    if (!m_adam) return;
    const auto& params = m_adam->param_groups().front().params();
    for (std::size_t i = 0; i < params.size(); ++i) {
        const auto it = m_adam->state().find(adam_key(params[i]));
        if (it == m_adam->state().end()) continue; // before its first step
        const auto& st = static_cast<const torch::optim::AdamParamState&>(*it->second);
        const std::string key = prefix + "adam/" + std::to_string(i) + "/";
        c.integers[key + "step"] = st.step();
        put_tensor(c, key + "exp_avg", st.exp_avg());
        put_tensor(c, key + "exp_avg_sq", st.exp_avg_sq());
    }
}

void sgd::restore(const checkpoint& c, const std::string& prefix, const parameter_handle& x) {
    m_sampler.restore(c, prefix + "sampler/");
    const std::int64_t count = c.integer(prefix + "velocity_count");
    if (count != 0 && count != static_cast<std::int64_t>(x.tensors.size()))
        throw record_error("checkpoint: momentum buffers do not fit the model");
    m_velocity.assign(static_cast<std::size_t>(count), torch::Tensor());
    for (std::size_t i = 0; i < m_velocity.size(); ++i) {
        const std::string key = prefix + "velocity/" + std::to_string(i);
        if (!c.arrays_f32.count(key) && !c.arrays.count(key)) continue; // not created yet
        m_velocity[i] = torch::empty_like(x.tensors[i]);
        get_tensor(c, key, m_velocity[i]);
    }
    set_generator_state(m_noise, c.string(prefix + "noise_generator"));
    const std::vector<double> last = c.vector(prefix + "last_loss");
    if (last.size() != 1) throw record_error("checkpoint: bad last_loss entry");
    m_last_loss = last[0];
    if (!m_adam) return;
    m_adam->state().clear();
    for (std::size_t i = 0; i < x.tensors.size(); ++i) {
        const std::string key = prefix + "adam/" + std::to_string(i) + "/";
        if (!c.integers.count(key + "step")) continue; // before its first step
        auto st = std::make_unique<torch::optim::AdamParamState>();
        st->step(c.integer(key + "step"));
        st->exp_avg(torch::empty_like(x.tensors[i]));
        st->exp_avg_sq(torch::empty_like(x.tensors[i]));
        get_tensor(c, key + "exp_avg", st->exp_avg());
        get_tensor(c, key + "exp_avg_sq", st->exp_avg_sq());
        m_adam->state()[adam_key(x.tensors[i])] = std::move(st);
    }
}

namespace {

/// The SGLD noise generator on `device`, seeded with `seed`: a CPU Mersenne twister, or a private
/// copy of the device's default generator (Philox on CUDA) reseeded, so that the run's stream does
/// not depend on anything else drawing from the default one.
torch::Generator noise_generator(torch::Device device, std::uint64_t seed) {
    if (device.is_cpu()) return at::detail::createCPUGenerator(seed);
    torch::Generator g = at::globalContext().defaultGenerator(device).clone();
    std::lock_guard<std::mutex> lock(g.mutex());
    g.set_current_seed(seed);
    return g;
}

/// The minibatch indices as an int64 tensor on `device`. To a GPU they go from pinned host memory
/// without waiting for the device (a pageable copy would synchronise): LibTorch's caching host
/// allocator keeps the pinned block until the copy has completed.
torch::Tensor batch_index(const std::vector<std::int64_t>& idx, torch::Device device) {
    const auto n = static_cast<std::int64_t>(idx.size());
    const auto host_options = torch::TensorOptions().dtype(torch::kInt64).pinned_memory(!device.is_cpu());
    torch::Tensor host = torch::empty({n}, host_options);
    std::memcpy(host.data_ptr<std::int64_t>(), idx.data(), idx.size() * sizeof(std::int64_t));
    return device.is_cpu() ? host : host.to(device, /*non_blocking=*/true);
}

} // namespace

sgd::sgd(const sgd_options& options, const network_system& sys)
    : m_options(options),
      m_sampler(sys.count(split::train), options.batch == full_batch ? sys.count(split::train) : options.batch,
                options.seed),
      m_noise(noise_generator(sys.options().device, options.seed ^ 0x9E3779B97F4A7C15ULL)),
      m_last_loss(std::numeric_limits<double>::quiet_NaN()) {
    validate(options);
    if (options.optimizer == optimizer_kind::adam)
        m_adam = std::make_unique<torch::optim::Adam>(sys.state().tensors, torch::optim::AdamOptions(options.lr));
}

void validate(const sgd_options& options) {
    if (!(options.lr > 0.0)) throw field_error("lr", "must be > 0");
    if (!(options.momentum >= 0.0 && options.momentum < 1.0)) throw field_error("momentum", "must lie in [0, 1)");
    if (!(options.temperature >= 0.0)) throw field_error("T", "must be >= 0");
    if (options.batch < 1 && options.batch != full_batch) throw field_error("batch", "must be >= 1 or all");
    if (options.optimizer == optimizer_kind::adam && (options.momentum != 0.0 || options.temperature != 0.0))
        throw field_error("optimizer", "adam takes neither --momentum nor --T (its moments are its own)");
}

void sgd::step(network_system& sys, parameter_handle& x) {
    net_base& model = sys.model();
    model.train();
    torch::Tensor out, y;
    if (m_options.batch == full_batch) {
        const std::int64_t n = sys.count(split::train);
        out = model.forward(sys.inputs(split::train, 0, n));
        y = sys.labels(split::train, 0, n);
    } else {
        const torch::Tensor index = batch_index(m_sampler.next(), sys.options().device);
        out = model.forward(sys.inputs(split::train, index));
        y = sys.labels(split::train, index);
    }
    const torch::Tensor loss = sys.per_sample_loss(out, y).mean();
    std::vector<torch::Tensor> grads = torch::autograd::grad({loss}, x.tensors);
    if (m_adam) adam_step(x, grads);
    else sgd_update(x, grads);
    m_last_loss = loss.item<double>(); // on a GPU: waits for the step (see the class comment)
}

void sgd::adam_step(const parameter_handle& x, std::vector<torch::Tensor>& grads) {
    for (std::size_t i = 0; i < grads.size(); ++i) x.tensors[i].mutable_grad() = std::move(grads[i]);
    m_adam->step();
    for (const auto& p : x.tensors) p.mutable_grad() = torch::Tensor();
}

void sgd::sgd_update(parameter_handle& x, const std::vector<torch::Tensor>& grads) {
    torch::NoGradGuard no_grad;
    if (m_options.momentum > 0.0 && m_velocity.empty()) m_velocity.resize(grads.size());
    const double noise_scale = std::sqrt(2.0 * m_options.lr * m_options.temperature);
    for (std::size_t i = 0; i < grads.size(); ++i) {
        torch::Tensor direction = grads[i];
        if (m_options.momentum > 0.0) {
            if (!m_velocity[i].defined()) m_velocity[i] = grads[i].clone();
            else m_velocity[i].mul_(m_options.momentum).add_(grads[i]);
            direction = m_velocity[i];
        }
        x.tensors[i].add_(direction, -m_options.lr);
        if (m_options.temperature > 0.0) {
            const torch::Tensor xi = torch::randn(x.tensors[i].sizes(), m_noise, x.tensors[i].options());
            x.tensors[i].add_(xi, noise_scale);
        }
    }
}

} // namespace glassy::nets
