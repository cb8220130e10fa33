// Parameter counts of every model (design.md section 6), checked against counts worked out
// by hand from the layer sizes, and output shapes.
#include "dynamics/error.hpp"
#include "nets/models.hpp"

#include <gtest/gtest.h>

#include <cmath>

using namespace glassy::nets;

namespace {
const input_shape mnist{1, 28, 28, 10};
const input_shape cifar10{3, 32, 32, 10};
const input_shape cifar100{3, 32, 32, 100};

std::int64_t count(model_kind k, const input_shape& s, std::int64_t hidden = 10000) {
    return count_parameters(*make_model(k, s, {.hidden = hidden}));
}
std::int64_t linear(std::int64_t in, std::int64_t out) { return in * out + out; }
} // namespace

TEST(models, toy_counts) {
    EXPECT_EQ(count(model_kind::toy, mnist), 7'950'010);
    EXPECT_EQ(count(model_kind::toy, cifar10), 30'830'010);
    EXPECT_EQ(count(model_kind::toy, mnist), linear(784, 10000) + linear(10000, 10));
    EXPECT_EQ(count(model_kind::toy, cifar10, 10), linear(3072, 10) + linear(10, 10)); // under-parametrised
}

TEST(models, fc_counts) {
    EXPECT_EQ(count(model_kind::fc, mnist), 89'610);
    EXPECT_EQ(count(model_kind::fc, cifar10), 318'410);
    EXPECT_EQ(count(model_kind::fc, cifar100), linear(3072, 100) + linear(100, 100) + linear(100, 100));
}

TEST(models, small_net_counts) {
    EXPECT_EQ(count(model_kind::smallnet, mnist), 38'390);
    EXPECT_EQ(count(model_kind::smallnet, cifar10), 56'890);
    // 28 -> conv5 24 -> pool 12 -> conv5 8 -> pool 4: 20*4*4 features.
    EXPECT_EQ(count(model_kind::smallnet, mnist),
              (25 * 1 * 10 + 10) + (25 * 10 * 20 + 20) + linear(320, 100) + linear(100, 10));
}

TEST(models, res_net18_counts) {
    EXPECT_EQ(count(model_kind::resnet18, cifar10), 11'173'962);
    // By construction: stem conv 3x3 (no bias) + BN, 8 BasicBlocks, 3 projection shortcuts, fc.
    auto conv = [](std::int64_t in, std::int64_t out, std::int64_t k) { return in * out * k * k; };
    auto bn = [](std::int64_t c) { return 2 * c; };
    std::int64_t n = conv(3, 64, 3) + bn(64);
    std::int64_t in = 64;
    for (std::int64_t planes : {64, 128, 256, 512}) {
        for (int b = 0; b < 2; ++b) {
            n += conv(in, planes, 3) + bn(planes) + conv(planes, planes, 3) + bn(planes);
            if (in != planes) n += conv(in, planes, 1) + bn(planes);
            in = planes;
        }
    }
    n += linear(512, 10);
    EXPECT_EQ(count(model_kind::resnet18, cifar10), n);
    EXPECT_EQ(count(model_kind::resnet18, mnist), n - conv(2, 64, 3));
}

TEST(models, output_shapes_and_loss) {
    for (auto k : {model_kind::toy, model_kind::fc, model_kind::smallnet}) {
        auto m = make_model(k, mnist, {.hidden = 20});
        const auto y = m->forward(torch::randn({3, 1, 28, 28}));
        EXPECT_EQ(y.sizes(), (std::vector<std::int64_t>{3, 10}));
    }
    EXPECT_EQ(make_model(model_kind::toy, mnist, {.hidden = 20})->loss(), loss_kind::mse_one_hot);
    EXPECT_EQ(make_model(model_kind::fc, mnist)->loss(), loss_kind::nll_log_softmax);
    auto r = make_model(model_kind::resnet18, cifar100);
    r->eval();
    EXPECT_EQ(r->forward(torch::randn({2, 3, 32, 32})).sizes(), (std::vector<std::int64_t>{2, 100}));
}

TEST(models, parse_names) {
    for (auto k : {model_kind::toy, model_kind::fc, model_kind::smallnet, model_kind::resnet18})
        EXPECT_EQ(parse_model_kind(to_string(k)), k);
    EXPECT_THROW((void)parse_model_kind("lenet"), glassy::error);
    EXPECT_THROW((void)make_model(model_kind::toy, mnist, {.hidden = 0}), glassy::error);
}

TEST(models, default_initialisation_bounds) {
    // PyTorch's default Linear init: weights and biases uniform in +-1/sqrt(fan_in).
    torch::manual_seed(1);
    auto m = make_model(model_kind::fc, mnist);
    const auto params = m->named_parameters();
    const double bound = 1.0 / std::sqrt(784.0);
    const auto w = params["fc1.weight"];
    EXPECT_LE(w.abs().max().item<double>(), bound);
    EXPECT_GT(w.abs().max().item<double>(), 0.99 * bound);
    // Uniform(-a, a) has variance a^2/3; 78400 draws: relative error ~ 1%.
    EXPECT_NEAR(w.var().item<double>(), bound * bound / 3.0, 0.03 * bound * bound / 3.0);
}
