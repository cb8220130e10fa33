#pragma once
/// @file The straight line in weight space between two states of one training run (issue 14,
/// net_quench --barrier; Freeman & Bruna 2017, Garipov et al. 2018, Frankle et al. 2020, "linear
/// mode connectivity"): the training loss at theta(alpha) = (1 - alpha) theta_a + alpha theta_b.
/// The path energy of dynamics/barrier.hpp's barrier_recorder for a network (docs/nets.md,
/// "Barriers").
#include "nets/network.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <vector>

namespace glassy::nets {

/// Whether the model has a BatchNorm layer (whose running statistics line_losses recomputes).
[[nodiscard]] bool has_batchnorm(const net_base& model);

/// The mean training loss on the training samples `samples` (evaluated as network_system::evaluate
/// does: eval mode, chunks of 1024 in the given order) at the points theta(alpha_k) = (1 - alpha_k)
/// a + alpha_k b, k = 0 ... n_a - 1, of the straight line between the float32 weight vectors a and b
/// (length M, parameters() order, as flatten_parameters gives; theta is formed in float32 and
/// assigned in the training dtype). At alpha = 0 and 1 the weights are a and b exactly, so for a
/// float32 network without BatchNorm the ends are, bit for bit, the loss network_system::evaluate
/// gives on those samples at those weights (a float64 network: at its weights rounded to float32).
/// With BatchNorm layers the running statistics are recomputed at every point, ends included, on
/// the same samples before the evaluation (as torch.optim.swa_utils.update_bn and the
/// mode-connectivity literature do): reset, then one forward pass in training mode, without
/// gradients, per chunk of at most 1024 samples (balanced chunks), averaged over the chunks with
/// equal weights (BatchNorm's momentum = None). The model's parameters, buffers and training flag
/// are put back exactly afterwards (also when an exception is thrown). Returns [n_a] values.
/// Throws parameter_error when a or b does not hold M values or a sample index is outside the
/// training split.
[[nodiscard]] Eigen::RowVectorXd line_losses(const network_system& sys, const Eigen::VectorXf& a,
                                             const Eigen::VectorXf& b, const std::vector<double>& alphas,
                                             const std::vector<std::int64_t>& samples);

/// The training loss and the test accuracy along a straight line (the clones of net_quench --clones).
struct line_measurement {
    Eigen::RowVectorXd train_loss;    ///< [n_a], as line_losses gives (bit for bit)
    Eigen::RowVectorXd test_accuracy; ///< [n_a], fraction of hits on the test samples, in [0, 1]
};

/// line_losses on `train_samples` and, at the same points (BatchNorm statistics recomputed on
/// `train_samples` once per point), the accuracy on the test samples `test_samples` (evaluated as
/// network_system::evaluate does). The model is put back exactly. Throws parameter_error as
/// line_losses does, and for a test index outside the test split.
[[nodiscard]] line_measurement line_measures(const network_system& sys, const Eigen::VectorXf& a,
                                             const Eigen::VectorXf& b, const std::vector<double>& alphas,
                                             const std::vector<std::int64_t>& train_samples,
                                             const std::vector<std::int64_t>& test_samples);

/// The path energy of barrier_recorder<Eigen::VectorXf, straight_line> (dynamics/barrier.hpp):
/// line_losses on the fixed training samples `samples` (not owned; must outlive it).
struct straight_line {
    const std::vector<std::int64_t>* samples = nullptr;
    [[nodiscard]] Eigen::RowVectorXd operator()(const network_system& sys, const Eigen::VectorXf& a,
                                                const Eigen::VectorXf& b, const std::vector<double>& alphas) const {
        return line_losses(sys, a, b, alphas, *samples);
    }
};

} // namespace glassy::nets
