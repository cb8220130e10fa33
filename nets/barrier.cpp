#include "nets/barrier.hpp"

#include "dynamics/error.hpp"

#include <algorithm>
#include <string>
#include <utility>

namespace glassy::nets {

namespace {

/// The model's parameters, buffers and training flag, put back exactly when it goes out of scope.
class saved_model_state {
public:
    explicit saved_model_state(const network_system& sys) : m_model(sys.model()), m_training(m_model.is_training()) {
        torch::NoGradGuard no_grad;
        for (const auto& p : m_model.parameters(true)) m_parameters.push_back(p.detach().clone());
        for (const auto& b : m_model.buffers(true)) m_buffers.push_back(b.clone());
    }
    ~saved_model_state() {
        torch::NoGradGuard no_grad;
        std::size_t i = 0;
        for (auto& p : m_model.parameters(true)) p.copy_(m_parameters[i++]);
        i = 0;
        for (auto& b : m_model.buffers(true)) b.copy_(m_buffers[i++]);
        m_model.train(m_training);
    }
    saved_model_state(const saved_model_state&) = delete;
    saved_model_state& operator=(const saved_model_state&) = delete;

private:
    net_base& m_model;
    bool m_training;
    std::vector<torch::Tensor> m_parameters, m_buffers;
};

/// Recomputes the running statistics of every BatchNorm layer on the training samples `samples`:
/// reset, then one training-mode forward pass without gradients per balanced chunk of at most 1024
/// samples, averaged with equal weights (momentum None); the layers' momenta are put back.
void recompute_batchnorm(const network_system& sys, const std::vector<std::int64_t>& samples) {
    net_base& model = sys.model();
    std::vector<std::pair<torch::nn::BatchNorm2dImpl*, c10::optional<double>>> layers;
    for (const auto& m : model.modules(false))
        if (auto* bn = m->as<torch::nn::BatchNorm2d>()) {
            layers.emplace_back(bn, bn->options.momentum());
            bn->options.momentum(c10::nullopt);
            bn->reset_running_stats();
        }
    const auto n = static_cast<std::int64_t>(samples.size());
    const std::int64_t chunks = (n + 1023) / 1024;
    model.train(true);
    {
        torch::NoGradGuard no_grad;
        for (std::int64_t c = 0; c < chunks; ++c) {
            const std::vector<std::int64_t> chunk(samples.begin() + c * n / chunks,
                                                  samples.begin() + (c + 1) * n / chunks);
            (void)model.forward(sys.inputs(split::train, sys.sample_index(split::train, chunk)));
        }
    }
    for (auto& [bn, momentum] : layers) bn->options.momentum(momentum);
}

} // namespace

bool has_batchnorm(const net_base& model) {
    const auto modules = model.modules(false);
    return std::any_of(modules.begin(), modules.end(),
                       [](const auto& m) { return m->template as<torch::nn::BatchNorm2d>() != nullptr; });
}

Eigen::RowVectorXd line_losses(const network_system& sys, const Eigen::VectorXf& a, const Eigen::VectorXf& b,
                               const std::vector<double>& alphas, const std::vector<std::int64_t>& samples) {
    const parameter_handle x = sys.state();
    if (a.size() != x.size() || b.size() != x.size())
        throw parameter_error("line_losses: the ends hold " + std::to_string(a.size()) + " and " +
                              std::to_string(b.size()) + " values for " + std::to_string(x.size()) + " weights");
    const bool batchnorm = has_batchnorm(sys.model());
    const saved_model_state saved(sys);
    Eigen::RowVectorXd out(static_cast<Eigen::Index>(alphas.size()));
    for (std::size_t k = 0; k < alphas.size(); ++k) {
        const auto alpha = static_cast<float>(alphas[k]);
        const Eigen::VectorXf theta = (1.0f - alpha) * a + alpha * b;
        assign_parameters(x, theta);
        if (batchnorm) recompute_batchnorm(sys, samples);
        out(static_cast<Eigen::Index>(k)) = sys.evaluate(split::train, samples, false).loss;
    }
    return out;
}

line_measurement line_measures(const network_system& sys, const Eigen::VectorXf& a, const Eigen::VectorXf& b,
                               const std::vector<double>& alphas, const std::vector<std::int64_t>& train_samples,
                               const std::vector<std::int64_t>& test_samples) {
    const parameter_handle x = sys.state();
    if (a.size() != x.size() || b.size() != x.size())
        throw parameter_error("line_measures: the ends hold " + std::to_string(a.size()) + " and " +
                              std::to_string(b.size()) + " values for " + std::to_string(x.size()) + " weights");
    const bool batchnorm = has_batchnorm(sys.model());
    const saved_model_state saved(sys);
    const auto n = static_cast<Eigen::Index>(alphas.size());
    line_measurement out{Eigen::RowVectorXd(n), Eigen::RowVectorXd(n)};
    for (Eigen::Index k = 0; k < n; ++k) {
        const auto alpha = static_cast<float>(alphas[static_cast<std::size_t>(k)]);
        const Eigen::VectorXf theta = (1.0f - alpha) * a + alpha * b;
        assign_parameters(x, theta);
        if (batchnorm) recompute_batchnorm(sys, train_samples);
        out.train_loss(k) = sys.evaluate(split::train, train_samples, false).loss;
        out.test_accuracy(k) = sys.evaluate(split::test, test_samples, false).accuracy;
    }
    return out;
}

} // namespace glassy::nets
