#include "nets/models.hpp"

#include "dynamics/error.hpp"
#include "dynamics/fields.hpp"

#include <cmath>

namespace glassy::nets {

namespace F = torch::nn::functional;

model_kind parse_model_kind(const std::string& name) {
    if (name == "toy") return model_kind::toy;
    if (name == "fc") return model_kind::fc;
    if (name == "smallnet") return model_kind::smallnet;
    if (name == "resnet18") return model_kind::resnet18;
    if (name == "linear") return model_kind::linear;
    throw field_error("model", "must be toy, fc, smallnet, resnet18 or linear (got '" + name + "')");
}

std::string to_string(model_kind kind) {
    switch (kind) {
    case model_kind::toy:
        return "toy";
    case model_kind::fc:
        return "fc";
    case model_kind::smallnet:
        return "smallnet";
    case model_kind::resnet18:
        return "resnet18";
    case model_kind::linear:
        return "linear";
    }
    return "?";
}

loss_kind parse_loss_kind(const std::string& name) {
    if (name == "nll_log_softmax") return loss_kind::nll_log_softmax;
    if (name == "mse_one_hot") return loss_kind::mse_one_hot;
    if (name == "hinge2") return loss_kind::hinge2;
    throw field_error("loss", "must be nll_log_softmax, mse_one_hot or hinge2 (got '" + name + "')");
}

std::string to_string(loss_kind kind) {
    switch (kind) {
    case loss_kind::nll_log_softmax:
        return "nll_log_softmax";
    case loss_kind::mse_one_hot:
        return "mse_one_hot";
    case loss_kind::hinge2:
        return "hinge2";
    }
    return "?";
}

int default_threads(model_kind kind, int cores) {
    if (cores < 1) throw parameter_error("default_threads: cores must be >= 1, got " + std::to_string(cores));
    return kind == model_kind::resnet18 ? cores : 1;
}

torch::Tensor taped_module::apply(torch::nn::Linear& layer, const torch::Tensor& x) {
    torch::Tensor y = layer->forward(x);
    if (m_tape) m_tape->entries.push_back({tape_entry::layer::linear, layer.ptr().get(), x, y});
    return y;
}

torch::Tensor taped_module::apply(torch::nn::Conv2d& layer, const torch::Tensor& x) {
    torch::Tensor y = layer->forward(x);
    if (m_tape) m_tape->entries.push_back({tape_entry::layer::conv2d, layer.ptr().get(), x, y});
    return y;
}

torch::Tensor taped_module::apply(torch::nn::BatchNorm2d& layer, const torch::Tensor& x) {
    torch::Tensor y = layer->forward(x);
    if (m_tape) m_tape->entries.push_back({tape_entry::layer::batch_norm2d, layer.ptr().get(), x, y});
    return y;
}

namespace {
std::int64_t flat_size(const input_shape& s) { return s.channels * s.height * s.width; }
} // namespace

ToyImpl::ToyImpl(const input_shape& shape, std::int64_t hidden) {
    if (hidden < 1) throw field_error("hidden", "must be >= 1 (the width of the toy model)");
    m_fc1 = register_module("fc1", torch::nn::Linear(flat_size(shape), hidden));
    m_fc2 = register_module("fc2", torch::nn::Linear(hidden, shape.classes));
}

torch::Tensor ToyImpl::forward(torch::Tensor x) {
    x = x.flatten(1);
    x = torch::relu(apply(m_fc1, x));
    return torch::sigmoid(apply(m_fc2, x));
}

FcImpl::FcImpl(const input_shape& shape, std::int64_t depth, std::int64_t width) {
    if (depth < 1) throw field_error("depth", "must be >= 1 (the hidden layers of fc)");
    if (width < 1) throw field_error("width", "must be >= 1 (the hidden width of fc)");
    // Registered (and so initialised) in order fc1, fc2, ...: depth 2, width 100 draws exactly the
    // numbers of the former fixed 100-100 network.
    for (std::int64_t k = 0; k <= depth; ++k) {
        const std::int64_t in = k == 0 ? flat_size(shape) : width;
        const std::int64_t out = k == depth ? shape.classes : width;
        m_layers.push_back(register_module("fc" + std::to_string(k + 1), torch::nn::Linear(in, out)));
    }
}

torch::Tensor FcImpl::forward(torch::Tensor x) {
    x = x.flatten(1);
    for (std::size_t k = 0; k + 1 < m_layers.size(); ++k) x = torch::relu(apply(m_layers[k], x));
    return apply(m_layers.back(), x);
}

LinearNetImpl::LinearNetImpl(const input_shape& shape)
    : m_scale(1.0 / std::sqrt(static_cast<double>(flat_size(shape)))) {
    m_fc1 = register_module("fc1",
                            torch::nn::Linear(torch::nn::LinearOptions(flat_size(shape), shape.classes).bias(false)));
}

torch::Tensor LinearNetImpl::forward(torch::Tensor x) { return apply(m_fc1, x.flatten(1)) * m_scale; }

SmallNetImpl::SmallNetImpl(const input_shape& shape) {
    // conv 5x5 (valid) then pool 2, twice.
    const std::int64_t h = ((shape.height - 4) / 2 - 4) / 2;
    const std::int64_t w = ((shape.width - 4) / 2 - 4) / 2;
    if (h < 1 || w < 1)
        throw field_error("model", "smallnet needs inputs of at least 16x16 pixels (got " +
                                       std::to_string(shape.height) + "x" + std::to_string(shape.width) + ")");
    m_conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(shape.channels, 10, 5)));
    m_conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(10, 20, 5)));
    m_fc1 = register_module("fc1", torch::nn::Linear(20 * h * w, 100));
    m_fc2 = register_module("fc2", torch::nn::Linear(100, shape.classes));
}

torch::Tensor SmallNetImpl::forward(torch::Tensor x) {
    x = torch::relu(F::max_pool2d(apply(m_conv1, x), F::MaxPool2dFuncOptions(2)));
    x = torch::relu(F::max_pool2d(apply(m_conv2, x), F::MaxPool2dFuncOptions(2)));
    x = x.flatten(1);
    x = torch::relu(apply(m_fc1, x));
    return apply(m_fc2, x);
}

namespace {
torch::nn::Conv2d conv(std::int64_t in, std::int64_t out, std::int64_t k, std::int64_t stride, std::int64_t pad) {
    return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}
} // namespace

BasicBlockImpl::BasicBlockImpl(std::int64_t in_planes, std::int64_t planes, std::int64_t stride) {
    m_conv1 = register_module("conv1", conv(in_planes, planes, 3, stride, 1));
    m_bn1 = register_module("bn1", torch::nn::BatchNorm2d(planes));
    m_conv2 = register_module("conv2", conv(planes, planes, 3, 1, 1));
    m_bn2 = register_module("bn2", torch::nn::BatchNorm2d(planes));
    if (stride != 1 || in_planes != planes) {
        m_short_conv = register_module("shortcut_conv", conv(in_planes, planes, 1, stride, 0));
        m_short_bn = register_module("shortcut_bn", torch::nn::BatchNorm2d(planes));
    }
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
    torch::Tensor out = torch::relu(apply(m_bn1, apply(m_conv1, x)));
    out = apply(m_bn2, apply(m_conv2, out));
    torch::Tensor shortcut = m_short_conv ? apply(m_short_bn, apply(m_short_conv, x)) : x;
    return torch::relu(out + shortcut);
}

ResNet18Impl::ResNet18Impl(const input_shape& shape) {
    m_conv1 = register_module("conv1", conv(shape.channels, 64, 3, 1, 1));
    m_bn1 = register_module("bn1", torch::nn::BatchNorm2d(64));
    std::int64_t in_planes = 64;
    const std::int64_t planes[] = {64, 128, 256, 512};
    for (int layer = 0; layer < 4; ++layer) {
        for (int b = 0; b < 2; ++b) {
            const std::int64_t stride = (layer > 0 && b == 0) ? 2 : 1;
            m_blocks.push_back(register_module("layer" + std::to_string(layer + 1) + "_" + std::to_string(b),
                                               BasicBlock(in_planes, planes[layer], stride)));
            in_planes = planes[layer];
        }
    }
    m_fc = register_module("fc", torch::nn::Linear(512, shape.classes));
}

void ResNet18Impl::set_tape(layer_tape* tape) {
    m_tape = tape;
    for (auto& b : m_blocks) b->set_tape(tape);
}

torch::Tensor ResNet18Impl::forward(torch::Tensor x) {
    x = torch::relu(apply(m_bn1, apply(m_conv1, x)));
    for (auto& b : m_blocks) x = b->forward(x);
    x = F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(1)).flatten(1);
    return apply(m_fc, x);
}

std::shared_ptr<net_base> make_model(model_kind kind, const input_shape& shape, const model_sizes& sizes) {
    switch (kind) {
    case model_kind::toy:
        return Toy(shape, sizes.hidden).ptr();
    case model_kind::fc:
        return Fc(shape, sizes.depth, sizes.width).ptr();
    case model_kind::linear:
        return LinearNet(shape).ptr();
    case model_kind::smallnet:
        return SmallNet(shape).ptr();
    case model_kind::resnet18:
        return ResNet18(shape).ptr();
    }
    throw parameter_error("make_model: unknown model kind");
}

std::int64_t count_parameters(const torch::nn::Module& module) {
    std::int64_t n = 0;
    for (const auto& p : module.parameters()) n += p.numel();
    return n;
}

} // namespace glassy::nets
