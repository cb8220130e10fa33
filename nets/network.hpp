#pragma once
/// @file A neural network as a glassy system (design.md section 2): the state is a handle on
/// the parameters, the training loss is the energy, and SGD / SGLD are dynamics for it, so the
/// common driver (glassy::integrate), schedules and two_time_recorder run it unchanged.
#include "dynamics/checkpoint.hpp"
#include "dynamics/concepts.hpp"
#include "nets/datasets.hpp"
#include "nets/models.hpp"

#include <Eigen/Core>
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace glassy::nets {

/// The state of a network system: the parameter tensors of the model, in parameters() order.
/// A handle: the tensors share storage with the model, so updating them updates the network.
struct parameter_handle {
    std::vector<torch::Tensor> tensors; ///< the model's parameters (shared storage)
    /// Total number of scalars M.
    [[nodiscard]] std::int64_t size() const;
};

/// A flat float32 CPU copy of all parameters (length M, parameters() order), whatever the
/// training dtype and device. On a GPU the parameters are converted and concatenated there and
/// copied to the host in one transfer of 4 M bytes.
[[nodiscard]] Eigen::VectorXf flatten_parameters(const parameter_handle& x);

/// Overwrites the parameters with a flat float32 vector in parameters() order (e.g. a row of
/// /snapshots/weights), converting to their dtype and device. Throws parameter_error when the
/// length is not M.
void assign_parameters(const parameter_handle& x, const Eigen::VectorXf& flat);

/// Stores a tensor exactly in a checkpoint under `key`: float32 in checkpoint::arrays_f32,
/// float64 and integer types (values below 2^53) in checkpoint::arrays, with its shape.
void put_tensor(checkpoint& c, const std::string& key, const torch::Tensor& t);
/// Copies the tensor stored under `key` into `target` (its dtype and device are kept; the
/// stored values are exact for the same dtype). Throws record_error if missing or of another size.
void get_tensor(const checkpoint& c, const std::string& key, const torch::Tensor& target);
/// The full state of a torch generator (CPU generator: Mersenne twister and cached normals)
/// as hexadecimal text.
[[nodiscard]] std::string generator_state(const torch::Generator& g);
/// Restores what generator_state wrote; throws record_error if the text is not such a state.
void set_generator_state(torch::Generator& g, const std::string& hex);

} // namespace glassy::nets

namespace glassy {

/// Snapshots of network weights: float32 flattened copies (whatever the training dtype);
/// mean_squared_distance = (1/M) sum_i (a_i - b_i)^2 accumulated in double.
template <>
struct snapshot_traits<nets::parameter_handle> {
    using snapshot_type = Eigen::VectorXf;
    static snapshot_type take(const nets::parameter_handle& x) { return nets::flatten_parameters(x); }
    static double mean_squared_distance(const snapshot_type& a, const snapshot_type& b);
};

} // namespace glassy

namespace glassy::nets {

/// Which split of the data.
enum class split { train, test };

/// Makes the CUDA kernels of this process reproducible and IEEE float32, as far as CUDA allows
/// without torch's global deterministic mode (docs/nets.md, "Determinism on a GPU"): cuDNN picks
/// deterministic convolution algorithms and does not autotune (setDeterministicCuDNN(true),
/// setBenchmarkCuDNN(false)); TF32 is off for cuDNN convolutions and cuBLAS matrix products (on
/// Ampere and later LibTorch's default rounds conv inputs to 10-bit mantissas, ~1e-3 relative);
/// CUBLAS_WORKSPACE_CONFIG is set to ":4096:8" unless already set (cuBLAS's condition for
/// reproducible results, NVIDIA cuBLAS guide, "Results reproducibility"; read when the first
/// cuBLAS handle is made, so this must run before any CUDA work). Process-wide and idempotent;
/// network_system's constructor calls it for a CUDA device.
void use_reproducible_cuda();

/// Device and floating-point type of the training.
struct network_options {
    torch::Device device = torch::kCPU;   ///< where the model and data live
    torch::Dtype dtype = torch::kFloat32; ///< kFloat32 or kFloat64
    /// On the CPU, keep conv weights and image inputs in channels-last (NHWC) memory: LibTorch
    /// 1.13's CPU convolution and max-pool kernels run 1.6-3x faster on it at these sizes
    /// (benchmarks/README.md). Logical shapes, parameter order and values are unchanged;
    /// rounding differs from NCHW kernels. Ignored on CUDA and for models without 4-D weights.
    bool channels_last = true;
    /// The training loss; nullopt: the model's own (net_base::loss()). hinge2 needs a model with
    /// one output and labels 0/1.
    std::optional<loss_kind> loss = std::nullopt;
};

/// Loss (mean of per-sample losses), accuracy (fraction of hits: argmax = label; with hinge2,
/// sign(f) = the label's sign), with hinge2 the unsatisfied fraction N_Delta / n (samples with
/// s f < 1; NaN for the other losses) and, when asked, the Euclidean norm |grad L| of the
/// gradient of the mean loss over the evaluated samples.
struct evaluation {
    double loss = 0.0;
    double accuracy = 0.0;
    double unsatisfied = 0.0;
    double grad_norm = 0.0;
};

/// A network with its training and test data. Images are kept as bytes on the device and
/// normalised per batch: x -> (x/255 - mean_c)/std_c with the given channel statistics;
/// real-valued inputs (image_set::values) are kept in float64 and mapped x -> (x - mean_c)/std_c.
class network_system {
public:
    using state_type = parameter_handle;

    /// Moves `model` to the device and dtype of `options`. The test split may be empty
    /// (count 0). Throws parameter_error when shapes of train and test differ or the stats do
    /// not have one entry per channel.
    network_system(std::shared_ptr<net_base> model, const image_set& train, const image_set& test, channel_stats stats,
                   network_options options = {});

    /// A handle on the model parameters (the state driven by SGD).
    [[nodiscard]] parameter_handle state() const;
    /// Number of trainable scalars M.
    [[nodiscard]] std::int64_t num_parameters() const;
    [[nodiscard]] net_base& model() const { return *m_model; }
    [[nodiscard]] const network_options& options() const noexcept { return m_options; }
    [[nodiscard]] const channel_stats& stats() const noexcept { return m_stats; }
    /// Number of samples in a split.
    [[nodiscard]] std::int64_t count(split s) const;

    /// Normalised inputs [B, C, H, W] (dtype, device) for sample indices `index` (int64 tensor).
    [[nodiscard]] torch::Tensor inputs(split s, const torch::Tensor& index) const;
    /// Normalised inputs of samples [begin, end).
    [[nodiscard]] torch::Tensor inputs(split s, std::int64_t begin, std::int64_t end) const;
    /// Labels [B] (int64, device) for `index` or for [begin, end).
    [[nodiscard]] torch::Tensor labels(split s, const torch::Tensor& index) const;
    [[nodiscard]] torch::Tensor labels(split s, std::int64_t begin, std::int64_t end) const;

    /// The training loss (network_options::loss, else the model's own).
    [[nodiscard]] loss_kind loss() const noexcept { return m_loss; }
    /// Per-sample losses L_s [B] of outputs `out` [B, K] against labels `y` (see loss_kind).
    /// Throws parameter_error for hinge2 with K != 1.
    [[nodiscard]] torch::Tensor per_sample_loss(const torch::Tensor& out, const torch::Tensor& y) const;
    /// Per-sample hits [B] (bool): argmax_k out_sk = y_s; with hinge2, s_s f_s > 0 (s = 2y - 1).
    [[nodiscard]] torch::Tensor hits(const torch::Tensor& out, const torch::Tensor& y) const;
    /// Per-sample unsatisfied constraints [B] (bool) of hinge2: s_s f_s < 1 (s = 2y - 1). Throws
    /// parameter_error for the other losses.
    [[nodiscard]] torch::Tensor unsatisfied(const torch::Tensor& out, const torch::Tensor& y) const;

    /// The sample indices `samples` of a split as an int64 tensor on the device. Throws
    /// parameter_error for an index outside [0, count(s)).
    [[nodiscard]] torch::Tensor sample_index(split s, const std::vector<std::int64_t>& samples) const;

    /// Evaluates the samples `samples` of a split (indices, any order, as from
    /// class_balanced_order) in eval mode (BatchNorm on running statistics), in chunks of 1024
    /// in the given order; restores the training flag afterwards. All NaN for no samples.
    /// Throws parameter_error for an index outside the split.
    [[nodiscard]] evaluation evaluate(split s, const std::vector<std::int64_t>& samples, bool with_gradient) const;
    /// Evaluates the first `n` samples of a split (n is clipped to the split size): evaluate on
    /// the indices 0..n-1.
    [[nodiscard]] evaluation evaluate(split s, std::int64_t n, bool with_gradient) const;

private:
    std::shared_ptr<net_base> m_model;
    torch::Tensor m_train_x, m_train_y, m_test_x, m_test_y; // uint8 [N,C,H,W], int64 [N]
    torch::Tensor m_mean, m_std;                            // [1, C, 1, 1] in dtype
    channel_stats m_stats;
    network_options m_options;
    loss_kind m_loss;
    bool m_real = false;          ///< real-valued inputs (float64) instead of bytes
    bool m_channels_last = false; ///< conv weights and inputs are kept channels-last
    /// uint8 pixels [B, C, H, W] -> (x/255 - mean)/std in dtype, in the model's memory format
    /// (channels-last for conv models on the CPU).
    [[nodiscard]] torch::Tensor normalised(const torch::Tensor& pixels) const;
};

/// Minibatches drawn reproducibly from a seed: each epoch is a fresh uniform permutation of
/// the n samples (Fisher-Yates on a 64-bit Mersenne twister with unbiased integer draws), cut
/// into floor(n / batch) consecutive batches (the incomplete tail is dropped).
class minibatch_sampler {
public:
    /// Throws field_error (key "batch") unless 1 <= batch <= n.
    minibatch_sampler(std::int64_t n, std::int64_t batch, std::uint64_t seed);
    /// Indices of the next minibatch (batch distinct indices in [0, n)).
    [[nodiscard]] std::vector<std::int64_t> next();
    /// Saves the epoch permutation, the position in it and the generator under `prefix`.
    void save(checkpoint& c, const std::string& prefix) const;
    /// Restores what save() wrote; throws record_error when it does not fit n.
    void restore(const checkpoint& c, const std::string& prefix);

private:
    std::int64_t m_n, m_batch, m_pos;
    std::vector<std::int64_t> m_perm;
    std::mt19937_64 m_rng;
    void shuffle();
};

/// The update rule of the gradient dynamics.
enum class optimizer_kind {
    sgd, ///< SGD / SGLD with heavy-ball momentum (sgd_options)
    adam ///< LibTorch's torch::optim::Adam (Kingma & Ba 2015) with its defaults: betas (0.9, 0.999),
         ///< eps 1e-8, no weight decay, no amsgrad; learning rate sgd_options::lr
};
/// Parses "sgd", "adam"; throws field_error (key "optimizer") otherwise.
[[nodiscard]] optimizer_kind parse_optimizer_kind(const std::string& name);
/// The name parse_optimizer_kind accepts.
[[nodiscard]] std::string to_string(optimizer_kind kind);

/// The minibatch size that means the whole training set, in order (full-batch gradient descent).
inline constexpr std::int64_t full_batch = 0;

/// SGD / SGLD / Adam parameters. The SGD update per iteration, with g the gradient of the
/// minibatch mean loss: v <- momentum * v + g (v = g on the first step, PyTorch's convention);
/// w <- w - lr * v + sqrt(2 lr T) * xi, xi ~ N(0, 1) i.i.d. per weight (SGLD when T > 0).
/// Adam: torch::optim::Adam's update on g (momentum and T must be 0).
struct sgd_options {
    double lr = 0.1;                                ///< learning rate (> 0)
    double momentum = 0.0;                          ///< heavy-ball momentum in [0, 1)
    std::int64_t batch = 100;                       ///< minibatch size, 1..train size, or full_batch
    double temperature = 0.0;                       ///< SGLD temperature T >= 0 (0: plain SGD)
    std::uint64_t seed = 1;                         ///< seeds minibatches and the SGLD noise
    optimizer_kind optimizer = optimizer_kind::sgd; ///< the update rule
};

/// Checks the domains of `options`; throws field_error naming the bad one by the key of
/// quench_options_fields() (nets/quench.hpp): "lr" (not > 0), "momentum" (outside [0, 1)), "T"
/// (temperature < 0), "batch" (< 1 and not full_batch; its upper bound, the training-set size, is
/// checked by sgd) or "optimizer" (adam with momentum or T > 0).
void validate(const sgd_options& options);

/// SGD (T = 0), SGLD (T > 0) or Adam as a dynamics: step(sys, x) performs one iteration; dt() = 1
/// (time is counted in iterations). With batch = full_batch every step uses the whole training
/// set in index order (gradient descent on the training loss; the sampler is not used).
///
/// On a GPU everything of a step stays on the device (data, weights, momentum buffers, the SGLD
/// noise xi, drawn from a generator on the device: a Philox stream, so SGLD runs on the CPU and
/// on a GPU draw different noise) except two transfers: the minibatch indices (batch int64 values,
/// host to device from pinned memory without waiting) and the minibatch loss, read back as one
/// double for last_loss(). That read waits for the step to finish (one synchronisation per step):
/// the divergence stop and the checkpoint rule of quench::run need the loss of every step.
class sgd {
public:
    /// Throws field_error as validate(options) does, and (key "batch") for a batch larger than
    /// the training set.
    sgd(const sgd_options& options, const network_system& sys);
    void step(network_system& sys, parameter_handle& x);
    [[nodiscard]] double dt() const noexcept { return 1.0; }
    /// Minibatch mean loss of the last step (NaN before the first): the loss of the state before
    /// that step, on its minibatch (the whole training set with full_batch).
    [[nodiscard]] double last_loss() const noexcept { return m_last_loss; }
    /// "sgd", "sgld" or "adam".
    [[nodiscard]] std::string method() const;
    /// Saves the complete state of the dynamics under `prefix`: minibatch sampler (epoch
    /// permutation and position, generator), momentum buffers, SGLD noise generator, last loss,
    /// and with Adam its per-parameter state (step count, exp_avg, exp_avg_sq, exactly).
    void save(checkpoint& c, const std::string& prefix) const;
    /// Restores what save() wrote; `x` gives the shapes, dtype and device of the momentum
    /// buffers (and is the parameter list of Adam). Throws record_error when the checkpoint does
    /// not fit.
    void restore(const checkpoint& c, const std::string& prefix, const parameter_handle& x);

private:
    sgd_options m_options;
    minibatch_sampler m_sampler;
    std::vector<torch::Tensor> m_velocity;
    torch::Generator m_noise;
    double m_last_loss;
    std::unique_ptr<torch::optim::Adam> m_adam; ///< with optimizer_kind::adam
    void adam_step(const parameter_handle& x, std::vector<torch::Tensor>& grads);
    void sgd_update(parameter_handle& x, const std::vector<torch::Tensor>& grads);
};

} // namespace glassy::nets
