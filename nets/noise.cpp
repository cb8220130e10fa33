#include "nets/noise.hpp"

#include "dynamics/error.hpp"

#include <set>

namespace glassy::nets {

namespace F = torch::nn::functional;

namespace {

/// Restores the model's training flag and detaches the tape on scope exit.
struct mode_guard {
    net_base& model;
    bool was_training;
    explicit mode_guard(net_base& m) : model(m), was_training(m.is_training()) { model.eval(); }
    ~mode_guard() {
        model.set_tape(nullptr);
        model.train(was_training);
    }
    mode_guard(const mode_guard&) = delete;
    mode_guard& operator=(const mode_guard&) = delete;
};

noise_estimate finish(double sum_sq, const std::vector<torch::Tensor>& grad_sum, std::int64_t n, std::int64_t m, bool fast) {
    noise_estimate e;
    e.samples = n;
    e.num_parameters = m;
    e.fast_path = fast;
    e.mean_sample_sq_norm = sum_sq / static_cast<double>(n);
    double g2 = 0.0;
    for (const auto& g : grad_sum) g2 += g.pow(2).sum().item<double>();
    e.mean_gradient_sq_norm = g2 / (static_cast<double>(n) * static_cast<double>(n));
    e.D = (e.mean_sample_sq_norm - e.mean_gradient_sq_norm) / static_cast<double>(m);
    return e;
}

noise_estimate loop_noise(const network_system& sys, std::int64_t n) {
    net_base& model = sys.model();
    const auto params = sys.state().tensors;
    std::vector<torch::Tensor> grad_sum;
    double sum_sq = 0.0;
    for (std::int64_t s = 0; s < n; ++s) {
        const torch::Tensor out = model.forward(sys.inputs(split::train, s, s + 1));
        const torch::Tensor loss = sys.per_sample_loss(out, sys.labels(split::train, s, s + 1)).sum();
        const auto g = torch::autograd::grad({loss}, params);
        for (std::size_t i = 0; i < g.size(); ++i) {
            const torch::Tensor gd = g[i].to(torch::kFloat64);
            sum_sq += gd.pow(2).sum().item<double>();
            if (grad_sum.size() <= i) grad_sum.push_back(gd.clone());
            else grad_sum[i].add_(gd);
        }
    }
    return finish(sum_sq, grad_sum, n, sys.num_parameters(), false);
}

/// Parameters (weight, bias) of a taped layer.
std::vector<torch::Tensor> layer_parameters(torch::nn::Module* m) {
    std::vector<torch::Tensor> out;
    for (const auto& p : m->parameters(false)) out.push_back(p);
    return out;
}

/// True if every parameter of the model belongs to exactly one taped layer whose per-sample
/// gradient norms we know how to compute.
bool tape_covers(const layer_tape& tape, const std::vector<torch::Tensor>& params) {
    std::set<const void*> covered;
    std::set<const torch::nn::Module*> modules;
    for (const auto& e : tape.entries) {
        if (!modules.insert(e.module).second) return false; // a layer applied twice
        if (e.kind == tape_entry::layer::linear && e.input.dim() != 2) return false;
        if (e.kind == tape_entry::layer::conv2d) {
            const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(e.module);
            if (!conv || conv->options.groups() != 1 ||
                !c10::get_if<torch::ExpandingArray<2>>(&conv->options.padding()) ||
                conv->options.padding_mode().index() != 0) // only zero padding
                return false;
        }
        for (const auto& p : layer_parameters(e.module)) covered.insert(p.unsafeGetTensorImpl());
    }
    if (covered.size() != params.size()) return false;
    for (const auto& p : params)
        if (!covered.count(p.unsafeGetTensorImpl())) return false;
    return true;
}

/// Per-sample squared norms [B] (float64) of the gradient of one taped layer's parameters,
/// from its input `a` and the gradient `g` of the summed loss with respect to its output.
torch::Tensor layer_sample_sq_norms(const tape_entry& e, const torch::Tensor& g_in) {
    // In the training dtype (float32 norms are good to ~1e-7 relative); summed in float64.
    const torch::Tensor a = e.input.detach();
    const torch::Tensor& g = g_in;
    const std::int64_t b = a.size(0);
    switch (e.kind) {
    case tape_entry::layer::linear: {
        // grad W_s = g_s a_s^T: |grad W_s|^2 = |g_s|^2 |a_s|^2; grad b_s = g_s.
        const torch::Tensor g2 = g.pow(2).sum(1);
        torch::Tensor n = g2 * a.pow(2).sum(1);
        if (dynamic_cast<const torch::nn::LinearImpl*>(e.module)->options.bias()) n = n + g2;
        return n;
    }
    case tape_entry::layer::conv2d: {
        // grad W_s = G_s U_s^T with U_s = unfold(a_s) [Cin k k, P] and G_s = g_s [Cout, P].
        const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(e.module);
        const auto& o = conv->options;
        const auto& pad = c10::get<torch::ExpandingArray<2>>(o.padding());
        const torch::Tensor u = F::unfold(a, F::UnfoldFuncOptions(*o.kernel_size()).dilation(*o.dilation()).padding(*pad).stride(*o.stride()));
        const torch::Tensor gm = g.reshape({b, g.size(1), -1});
        torch::Tensor n = torch::bmm(gm, u.transpose(1, 2)).pow(2).sum({1, 2});
        if (o.bias()) n = n + gm.sum(2).pow(2).sum(1);
        return n;
    }
    case tape_entry::layer::batch_norm2d: {
        // Eval mode: y = gamma * xhat + beta with xhat from running statistics.
        const auto* bn = dynamic_cast<const torch::nn::BatchNorm2dImpl*>(e.module);
        torch::Tensor n = torch::zeros({b}, a.options());
        if (!bn->options.affine()) return n;
        const auto c = a.size(1);
        const torch::Tensor mean = bn->running_mean.detach().to(a.dtype()).reshape({1, c, 1, 1});
        const torch::Tensor var = bn->running_var.detach().to(a.dtype()).reshape({1, c, 1, 1});
        const torch::Tensor xhat = (a - mean) / torch::sqrt(var + bn->options.eps());
        n = n + (g * xhat).sum({2, 3}).pow(2).sum(1);
        n = n + g.sum({2, 3}).pow(2).sum(1);
        return n;
    }
    }
    throw error("sgd_noise: unknown layer kind");
}

} // namespace

noise_estimate sgd_noise(const network_system& sys, std::int64_t samples, noise_method method, std::int64_t chunk) {
    if (samples < 1) throw parameter_error("noise samples must be >= 1");
    if (chunk < 1) throw parameter_error("noise chunk must be >= 1");
    const std::int64_t n = std::min(samples, sys.count(split::train));
    net_base& model = sys.model();
    mode_guard guard(model);
    if (method == noise_method::per_sample_loop) return loop_noise(sys, n);

    const auto params = sys.state().tensors;
    layer_tape tape;
    model.set_tape(&tape);
    std::vector<torch::Tensor> grad_sum;
    double sum_sq = 0.0;
    for (std::int64_t begin = 0; begin < n; begin += chunk) {
        const std::int64_t end = std::min(n, begin + chunk);
        tape.entries.clear();
        const torch::Tensor out = model.forward(sys.inputs(split::train, begin, end));
        const torch::Tensor loss = sys.per_sample_loss(out, sys.labels(split::train, begin, end)).sum();
        if (begin == 0 && !tape_covers(tape, params)) {
            model.set_tape(nullptr);
            return loop_noise(sys, n);
        }
        std::vector<torch::Tensor> wrt;
        for (const auto& e : tape.entries) wrt.push_back(e.output);
        wrt.insert(wrt.end(), params.begin(), params.end());
        const auto g = torch::autograd::grad({loss}, wrt);
        torch::Tensor per_sample = torch::zeros({end - begin}, torch::kFloat64).to(out.device());
        for (std::size_t k = 0; k < tape.entries.size(); ++k) per_sample += layer_sample_sq_norms(tape.entries[k], g[k]).to(torch::kFloat64);
        sum_sq += per_sample.sum().item<double>();
        for (std::size_t i = 0; i < params.size(); ++i) {
            const torch::Tensor gd = g[tape.entries.size() + i].to(torch::kFloat64);
            if (grad_sum.size() <= i) grad_sum.push_back(gd.clone());
            else grad_sum[i].add_(gd);
        }
    }
    tape.entries.clear();
    return finish(sum_sq, grad_sum, n, sys.num_parameters(), true);
}

} // namespace glassy::nets
