#include "nets/noise.hpp"

#include "dynamics/error.hpp"
#include "dynamics/fields.hpp"
#include "nets/reduction.hpp"
#include "nets/torch_compat.hpp"

#include <cmath>
#include <map>
#include <numeric>
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

/// Unit roundoff of the dtype the gradients are computed in (float32: 2^-24, float64: 2^-53).
double unit_roundoff(const std::vector<torch::Tensor>& params) {
    return !params.empty() && params.front().scalar_type() == torch::kFloat64 ? 0x1p-53 : 0x1p-24;
}

/// D from the two sums of eq. 4 (see noise.hpp for the rounding floor and the one-sample case).
noise_estimate finish(double sum_sq, const std::vector<torch::Tensor>& grad_sum, std::int64_t n, std::int64_t m,
                      bool fast, double roundoff) {
    noise_estimate e;
    e.samples = n;
    e.num_parameters = m;
    e.fast_path = fast;
    e.mean_sample_sq_norm = sum_sq / static_cast<double>(n);
    double g2 = 0.0;
    for (const auto& g : grad_sum) g2 += ordered_sum_of_squares(g);
    e.mean_gradient_sq_norm = g2 / (static_cast<double>(n) * static_cast<double>(n));
    const double difference = e.mean_sample_sq_norm - e.mean_gradient_sq_norm;
    e.resolution = noise_rounding_floor(roundoff, m) * e.mean_sample_sq_norm / static_cast<double>(m);
    // One sample: the spread of one gradient about itself is zero exactly; otherwise a
    // difference below the rounding floor (or negative) is no measured spread either.
    e.D = n == 1 || difference / static_cast<double>(m) <= e.resolution ? 0.0 : difference / static_cast<double>(m);
    return e;
}

/// The reference path: one forward and backward per sample. On the CPU each |grad L_s|^2 is an
/// ordered_sum_of_squares (thread-count independent); on a GPU the squares are summed there, in
/// float64, into one device scalar read once at the end (LibTorch's CUDA reductions are
/// deterministic for a given device and size), instead of a transfer of every gradient per sample.
noise_estimate loop_noise(const network_system& sys, const torch::Tensor& picked) {
    const std::int64_t n = picked.size(0);
    net_base& model = sys.model();
    const auto params = sys.state().tensors;
    const bool on_host = picked.device().is_cpu();
    std::vector<torch::Tensor> grad_sum;
    double sum_sq = 0.0;
    torch::Tensor device_sum_sq = torch::zeros({}, picked.options().dtype(torch::kFloat64));
    for (std::int64_t s = 0; s < n; ++s) {
        const torch::Tensor one = picked.slice(0, s, s + 1);
        const torch::Tensor out = model.forward(sys.inputs(split::train, one));
        const torch::Tensor loss = sys.per_sample_loss(out, sys.labels(split::train, one)).sum();
        const auto g = torch::autograd::grad({loss}, params);
        for (std::size_t i = 0; i < g.size(); ++i) {
            const torch::Tensor gd = g[i].to(torch::kFloat64);
            if (on_host) sum_sq += ordered_sum_of_squares(gd);
            else device_sum_sq.add_(gd.pow(2).sum());
            if (grad_sum.size() <= i) grad_sum.push_back(gd.clone());
            else grad_sum[i].add_(gd);
        }
    }
    if (!on_host) sum_sq = device_sum_sq.item<double>();
    return finish(sum_sq, grad_sum, n, sys.num_parameters(), false, unit_roundoff(params));
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
                !compat::variant_get_if<torch::ExpandingArray<2>>(conv->options.padding()) ||
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

/// What one taped layer contributes to D: the per-sample squared norms [B] of the gradient of
/// its parameters, and the gradient of the summed loss for each of its parameters (the sum over
/// the chunk of the per-sample gradients), both from the layer input `a` and the gradient `g`
/// of the summed loss with respect to the layer output. Computed in the training dtype (float32
/// norms are good to ~1e-7 relative) and accumulated in float64 by the caller.
struct layer_terms {
    torch::Tensor sample_sq_norms;                              ///< [B]
    std::vector<std::pair<torch::Tensor, torch::Tensor>> grads; ///< (parameter, its summed gradient)
};

/// Conv2d per-sample weight gradients, as a grouped convolution: the batch becomes the channel
/// axis of the input and each sample's output gradient is the kernel of its own group, so
/// W_s[co, ci, u, v] = sum_{y,x} g_s[co, y, x] a_s,pad[ci, u d + y s, v d + x s] comes out as
/// [Cin, B Cout, kh, kw] in one call (stride and dilation swap roles). Cost B P K Cout, memory
/// B K Cout (K = Cin kh kw, P = output positions).
torch::Tensor conv_sample_grads(const torch::nn::Conv2dImpl& conv, const torch::Tensor& a, const torch::Tensor& g) {
    const auto& o = conv.options;
    const auto& pad = compat::variant_get<torch::ExpandingArray<2>>(o.padding());
    const std::int64_t b = a.size(0), cin = a.size(1), cout = g.size(1);
    const auto k = *o.kernel_size();
    const torch::Tensor w =
        F::conv2d(a.transpose(0, 1), g.reshape({b * cout, 1, g.size(2), g.size(3)}),
                  F::Conv2dFuncOptions().stride(*o.dilation()).dilation(*o.stride()).padding(*pad).groups(b));
    // Rows beyond the kernel extent come from padding/stride remainders: crop them.
    return w.narrow(2, 0, k[0]).narrow(3, 0, k[1]).reshape({cin, b, cout, k[0], k[1]});
}

layer_terms layer_contribution(const tape_entry& e, const torch::Tensor& g) {
    const torch::Tensor a = e.input.detach();
    const std::int64_t b = a.size(0);
    layer_terms t;
    switch (e.kind) {
    case tape_entry::layer::linear: {
        // grad W_s = g_s a_s^T: |grad W_s|^2 = |g_s|^2 |a_s|^2; grad b_s = g_s.
        const auto* lin = dynamic_cast<const torch::nn::LinearImpl*>(e.module);
        const torch::Tensor g2 = g.pow(2).sum(1);
        t.sample_sq_norms = g2 * a.pow(2).sum(1);
        t.grads.emplace_back(lin->weight, g.t().mm(a));
        if (lin->options.bias()) {
            t.sample_sq_norms = t.sample_sq_norms + g2;
            t.grads.emplace_back(lin->bias, g.sum(0));
        }
        return t;
    }
    case tape_entry::layer::conv2d: {
        const auto* conv = dynamic_cast<const torch::nn::Conv2dImpl*>(e.module);
        const auto& o = conv->options;
        const std::int64_t cout = g.size(1), p = g.size(2) * g.size(3);
        const std::int64_t kk = conv->weight.numel() / cout; // Cin kh kw
        const torch::Tensor gm = g.reshape({b, cout, p});
        // Per sample, grad W_s = G_s U_s^T with G_s = g_s [Cout, P] and U_s = unfold(a_s) [K, P].
        // Direct (the per-sample gradients, P K Cout per sample) or through Gram matrices,
        // |G_s U_s^T|^2 = sum_{l,l'} (U_s^T U_s)_{ll'} (G_s^T G_s)_{ll'} (P^2 (K + Cout)), whichever
        // is cheaper: small late feature maps of deep networks (P small, K Cout large) take the
        // Gram route, early layers and small convnets the direct one.
        if (p * (kk + cout) < kk * cout) {
            const auto& pad = compat::variant_get<torch::ExpandingArray<2>>(o.padding());
            const torch::Tensor u = F::unfold(
                a, F::UnfoldFuncOptions(*o.kernel_size()).dilation(*o.dilation()).padding(*pad).stride(*o.stride()));
            const torch::Tensor gram_u = torch::bmm(u.transpose(1, 2), u);
            const torch::Tensor gram_g = torch::bmm(gm.transpose(1, 2), gm);
            t.sample_sq_norms = (gram_u * gram_g).sum({1, 2});
            // Summed gradient: [Cout, B P] x [B P, K].
            const torch::Tensor gw =
                gm.permute({1, 0, 2}).reshape({cout, b * p}).mm(u.permute({0, 2, 1}).reshape({b * p, kk}));
            t.grads.emplace_back(conv->weight, gw.reshape(conv->weight.sizes()));
        } else {
            const torch::Tensor w = conv_sample_grads(*conv, a, g); // [Cin, B, Cout, kh, kw]
            t.sample_sq_norms = w.pow(2).sum({0, 2, 3, 4});
            t.grads.emplace_back(conv->weight, w.sum(1).transpose(0, 1));
        }
        if (o.bias()) {
            const torch::Tensor gb = gm.sum(2); // [B, Cout]
            t.sample_sq_norms = t.sample_sq_norms + gb.pow(2).sum(1);
            t.grads.emplace_back(conv->bias, gb.sum(0));
        }
        return t;
    }
    case tape_entry::layer::batch_norm2d: {
        // Eval mode: y = gamma * xhat + beta with xhat from running statistics.
        const auto* bn = dynamic_cast<const torch::nn::BatchNorm2dImpl*>(e.module);
        t.sample_sq_norms = torch::zeros({b}, a.options());
        if (!bn->options.affine()) return t;
        const auto c = a.size(1);
        const torch::Tensor mean = bn->running_mean.detach().to(a.dtype()).reshape({1, c, 1, 1});
        const torch::Tensor var = bn->running_var.detach().to(a.dtype()).reshape({1, c, 1, 1});
        const torch::Tensor xhat = (a - mean) / torch::sqrt(var + bn->options.eps());
        const torch::Tensor gw = (g * xhat).sum({2, 3}); // [B, C]
        const torch::Tensor gb = g.sum({2, 3});
        t.sample_sq_norms = gw.pow(2).sum(1) + gb.pow(2).sum(1);
        t.grads.emplace_back(bn->weight, gw.sum(0));
        t.grads.emplace_back(bn->bias, gb.sum(0));
        return t;
    }
    }
    throw error("sgd_noise: unknown layer kind");
}

} // namespace

noise_estimate sgd_noise(const network_system& sys, std::int64_t samples, noise_method method, std::int64_t chunk) {
    if (samples < 1) throw field_error("noise_samples", "must be >= 1");
    std::vector<std::int64_t> first(static_cast<std::size_t>(std::min(samples, sys.count(split::train))));
    std::iota(first.begin(), first.end(), std::int64_t{0});
    return sgd_noise(sys, first, method, chunk);
}

noise_estimate sgd_noise(const network_system& sys, const std::vector<std::int64_t>& samples, noise_method method,
                         std::int64_t chunk) {
    if (samples.empty()) throw field_error("noise_samples", "must be >= 1");
    if (chunk < 1) throw parameter_error("noise chunk must be >= 1");
    const torch::Tensor picked = sys.sample_index(split::train, samples);
    const std::int64_t n = picked.size(0);
    net_base& model = sys.model();
    mode_guard guard(model);
    if (method == noise_method::per_sample_loop) return loop_noise(sys, picked);

    const auto params = sys.state().tensors;
    layer_tape tape;
    model.set_tape(&tape);
    std::vector<torch::Tensor> grad_sum(params.size());
    std::map<const void*, std::size_t> index; // parameter -> position in params
    for (std::size_t i = 0; i < params.size(); ++i) index[params[i].unsafeGetTensorImpl()] = i;
    double sum_sq = 0.0;
    for (std::int64_t begin = 0; begin < n; begin += chunk) {
        const std::int64_t end = std::min(n, begin + chunk);
        tape.entries.clear();
        const torch::Tensor part = picked.slice(0, begin, end);
        const torch::Tensor out = model.forward(sys.inputs(split::train, part));
        const torch::Tensor loss = sys.per_sample_loss(out, sys.labels(split::train, part)).sum();
        if (begin == 0 && !tape_covers(tape, params)) {
            model.set_tape(nullptr);
            return loop_noise(sys, picked);
        }
        // Gradients with respect to the layer outputs only: the parameter gradients follow from
        // the per-layer terms, so autograd does not compute them a second time.
        std::vector<torch::Tensor> wrt;
        for (const auto& e : tape.entries) wrt.push_back(e.output);
        const auto g = torch::autograd::grad({loss}, wrt);
        torch::NoGradGuard no_grad;
        torch::Tensor per_sample = torch::zeros({end - begin}, out.options().dtype(torch::kFloat64));
        for (std::size_t k = 0; k < tape.entries.size(); ++k) {
            const layer_terms t = layer_contribution(tape.entries[k], g[k].detach());
            per_sample += t.sample_sq_norms.to(torch::kFloat64);
            for (const auto& [param, grad] : t.grads) {
                const std::size_t i = index.at(param.unsafeGetTensorImpl());
                const torch::Tensor gd = grad.to(torch::kFloat64);
                if (!grad_sum[i].defined()) grad_sum[i] = gd.clone();
                else grad_sum[i].add_(gd);
            }
        }
        sum_sq += ordered_sum(per_sample);
    }
    tape.entries.clear();
    return finish(sum_sq, grad_sum, n, sys.num_parameters(), true, unit_roundoff(params));
}

} // namespace glassy::nets
