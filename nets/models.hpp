#pragma once
/// @file The networks of the paper's section 3 (design.md section 6) as LibTorch modules with
/// PyTorch's default initialisation: toy, fc, smallnet and the CIFAR ResNet-18. Every trainable
/// layer is applied through taped_module::apply, which can record (input, output) of each layer
/// on a layer_tape: the SGD-noise estimator (noise.hpp) uses it to get per-sample gradient norms
/// from one batched backward pass.
#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace glassy::nets {

/// The architectures. toy: Linear(in->h) ReLU Linear(h->classes) Sigmoid, MSE to one-hot.
/// fc: depth L hidden layers of width h with ReLU, Linear(in->h) ReLU [Linear(h->h) ReLU]^(L-1)
/// Linear(h->classes) (the default L = 2, h = 100 is the paper's fc). smallnet: Conv(5x5,10)
/// MaxPool2 ReLU Conv(5x5,20) MaxPool2 ReLU Linear(->100) ReLU Linear(100->classes).
/// resnet18: the CIFAR ResNet-18 (3x3 stem, no max-pool, BasicBlocks [2,2,2,2], global average
/// pool, Linear(512->classes)). linear: the perceptron f(x) = W x / sqrt(d) (no hidden layer, no
/// bias; d = input size). All but toy are trained on the NLL of the log-softmax by default.
enum class model_kind { toy, fc, smallnet, resnet18, linear };

/// Parses "toy", "fc", "smallnet", "resnet18", "linear"; throws field_error (key "model") otherwise.
[[nodiscard]] model_kind parse_model_kind(const std::string& name);
/// The name parse_model_kind accepts.
[[nodiscard]] std::string to_string(model_kind kind);

/// The LibTorch intra-op thread count to train `kind` with when the user chose none: `cores` for
/// resnet18, 1 for toy, fc and smallnet. An SGD step of the small models runs about a dozen LibTorch
/// and OpenBLAS parallel regions of ~60 us each, too short for a second thread to pay for its wake-up:
/// on 2 cores, 2 threads ran fc 1.28x slower than 1 idle and 1.39x with one core busy (smallnet 0.92x
/// and 1.36x), while resnet18's convolutions gain (0.64x idle, 0.89x busy); benchmarks/README.md,
/// "Threads on a shared machine". Throws parameter_error when `cores` < 1.
[[nodiscard]] int default_threads(model_kind kind, int cores);

/// The training loss of a model. Per-sample losses L_s are averaged over a batch:
/// nll_log_softmax: L_s = -log softmax(z_s)[y_s]; mse_one_hot: L_s = (1/K) sum_k (out_sk - [k == y_s])^2
/// (PyTorch's MSELoss with mean reduction over the K outputs); hinge2, the quadratic hinge of
/// binary tasks (Geiger, Spigler et al. 2019, "Jamming transition as a paradigm to understand the
/// loss landscape of deep neural networks", eq. 2): one output f_s, label y_s in {0, 1} read as
/// the sign s_s = 2 y_s - 1, L_s = (1/2) max(0, 1 - s_s f_s)^2; a sample is unsatisfied when
/// s_s f_s < 1 (the N_Delta of that paper).
enum class loss_kind { nll_log_softmax, mse_one_hot, hinge2 };

/// Parses "nll_log_softmax", "mse_one_hot", "hinge2"; throws field_error (key "loss")
/// otherwise.
[[nodiscard]] loss_kind parse_loss_kind(const std::string& name);
/// The name parse_loss_kind accepts.
[[nodiscard]] std::string to_string(loss_kind kind);

/// Shape of the network input and number of classes.
struct input_shape {
    std::int64_t channels = 1; ///< image channels
    std::int64_t height = 28;  ///< rows
    std::int64_t width = 28;   ///< columns
    std::int64_t classes = 10; ///< outputs
};

/// One trainable layer as seen during a taped forward pass.
struct tape_entry {
    enum class layer { linear, conv2d, batch_norm2d };
    layer kind;                ///< layer type
    torch::nn::Module* module; ///< the layer (owns `weight` and, if any, `bias`)
    torch::Tensor input;       ///< layer input, [B, ...]
    torch::Tensor output;      ///< layer output, [B, ...] (part of the autograd graph)
};

/// Records every trainable layer applied in a forward pass, in order.
struct layer_tape {
    std::vector<tape_entry> entries;
};

/// A module whose trainable layers are applied through apply(), so that they can be taped.
class taped_module : public torch::nn::Module {
public:
    /// Starts (tape != nullptr) or stops (nullptr) recording layers on `tape`; recurses into
    /// taped children. The tape must outlive the recording.
    virtual void set_tape(layer_tape* tape) { m_tape = tape; }

protected:
    torch::Tensor apply(torch::nn::Linear& layer, const torch::Tensor& x);
    torch::Tensor apply(torch::nn::Conv2d& layer, const torch::Tensor& x);
    torch::Tensor apply(torch::nn::BatchNorm2d& layer, const torch::Tensor& x);
    layer_tape* m_tape = nullptr;
};

/// Base of every network: forward maps a batch [B, C, H, W] to outputs [B, classes] (logits
/// for NLL models, sigmoid outputs for toy).
class net_base : public taped_module {
public:
    virtual torch::Tensor forward(torch::Tensor x) = 0;
    /// The loss this network is trained on.
    [[nodiscard]] virtual loss_kind loss() const { return loss_kind::nll_log_softmax; }
};

/// The toy model: Linear(in->hidden) ReLU Linear(hidden->classes) Sigmoid, MSE to one-hot.
class ToyImpl : public net_base {
public:
    ToyImpl(const input_shape& shape, std::int64_t hidden);
    torch::Tensor forward(torch::Tensor x) override;
    [[nodiscard]] loss_kind loss() const override { return loss_kind::mse_one_hot; }

private:
    torch::nn::Linear m_fc1{nullptr}, m_fc2{nullptr};
};
TORCH_MODULE(Toy);

/// The fully connected network: `depth` hidden layers of `width` units with ReLU, then
/// Linear(width->classes); layers fc1 .. fc(depth+1) (depth 2, width 100: the paper's fc).
class FcImpl : public net_base {
public:
    /// Throws field_error (key "depth" or "width") for depth < 1 or width < 1.
    FcImpl(const input_shape& shape, std::int64_t depth, std::int64_t width);
    torch::Tensor forward(torch::Tensor x) override;

private:
    std::vector<torch::nn::Linear> m_layers;
};
TORCH_MODULE(Fc);

/// The perceptron: f(x) = W x / sqrt(d) for the flattened input x of size d, W [classes, d],
/// no bias, no hidden layer (one output with hinge2). Layer fc1.
class LinearNetImpl : public net_base {
public:
    explicit LinearNetImpl(const input_shape& shape);
    torch::Tensor forward(torch::Tensor x) override;

private:
    torch::nn::Linear m_fc1{nullptr};
    double m_scale; ///< 1 / sqrt(d)
};
TORCH_MODULE(LinearNet);

/// The paper's Small Net (a LeNet): two 5x5 convolutions (10, 20 channels) with max-pool and
/// ReLU, then Linear(->100) ReLU Linear(100->classes).
class SmallNetImpl : public net_base {
public:
    explicit SmallNetImpl(const input_shape& shape);
    torch::Tensor forward(torch::Tensor x) override;

private:
    torch::nn::Conv2d m_conv1{nullptr}, m_conv2{nullptr};
    torch::nn::Linear m_fc1{nullptr}, m_fc2{nullptr};
};
TORCH_MODULE(SmallNet);

/// ResNet BasicBlock: conv3x3-BN-ReLU-conv3x3-BN plus identity (or 1x1 conv + BN) shortcut, ReLU.
class BasicBlockImpl : public taped_module {
public:
    BasicBlockImpl(std::int64_t in_planes, std::int64_t planes, std::int64_t stride);
    torch::Tensor forward(torch::Tensor x);

private:
    torch::nn::Conv2d m_conv1{nullptr}, m_conv2{nullptr}, m_short_conv{nullptr};
    torch::nn::BatchNorm2d m_bn1{nullptr}, m_bn2{nullptr}, m_short_bn{nullptr};
};
TORCH_MODULE(BasicBlock);

/// The CIFAR ResNet-18 (11,173,962 parameters for 3x32x32 inputs and 10 classes).
class ResNet18Impl : public net_base {
public:
    explicit ResNet18Impl(const input_shape& shape);
    torch::Tensor forward(torch::Tensor x) override;
    void set_tape(layer_tape* tape) override;

private:
    torch::nn::Conv2d m_conv1{nullptr};
    torch::nn::BatchNorm2d m_bn1{nullptr};
    std::vector<BasicBlock> m_blocks;
    torch::nn::Linear m_fc{nullptr};
};
TORCH_MODULE(ResNet18);

/// The sizes of the models that have them.
struct model_sizes {
    std::int64_t hidden = 10000; ///< toy width h
    std::int64_t depth = 2;      ///< fc: number of hidden layers L
    std::int64_t width = 100;    ///< fc: width of each hidden layer h
};

/// Builds a network with PyTorch's default initialisation drawn from torch's global generator
/// (seed it with torch::manual_seed first); shape.classes is the number of outputs. Sizes that
/// the model has not are ignored. Throws field_error naming the field of quench_options_fields():
/// "hidden", "depth" or "width" for a size < 1, "model" for an input too small for smallnet (below
/// 16 x 16 pixels).
[[nodiscard]] std::shared_ptr<net_base> make_model(model_kind kind, const input_shape& shape,
                                                   const model_sizes& sizes = {});

/// Total number of trainable scalars M of a module.
[[nodiscard]] std::int64_t count_parameters(const torch::nn::Module& module);

} // namespace glassy::nets
