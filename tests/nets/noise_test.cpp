// The SGD noise D (eq. 4): the batched per-sample-norm path against the per-sample loop, and a
// case computed by hand.
#include "dynamics/error.hpp"
#include "nets/noise.hpp"
#include "nets/reduction.hpp"
#include "nets_support.hpp"

#include <gtest/gtest.h>

using namespace glassy::nets;
using glassy::nets::testing::make_system;
using glassy::nets::testing::small_data;

namespace {

void expect_paths_agree(network_system& sys, std::int64_t samples, std::int64_t chunk) {
    const noise_estimate loop = sgd_noise(sys, samples, noise_method::per_sample_loop);
    const noise_estimate fast = sgd_noise(sys, samples, noise_method::batched, chunk);
    EXPECT_TRUE(fast.fast_path);
    EXPECT_FALSE(loop.fast_path);
    EXPECT_EQ(fast.samples, samples);
    EXPECT_EQ(fast.num_parameters, sys.num_parameters());
    EXPECT_GT(loop.D, 0.0);
    // Both paths sum the same float64 numbers in different orders: agreement to ~1e-12.
    EXPECT_NEAR(fast.D, loop.D, 1e-6 * loop.D);
    EXPECT_NEAR(fast.mean_sample_sq_norm, loop.mean_sample_sq_norm, 1e-6 * loop.mean_sample_sq_norm);
    EXPECT_NEAR(fast.mean_gradient_sq_norm, loop.mean_gradient_sq_norm, 1e-6 * loop.mean_gradient_sq_norm);
}

} // namespace

TEST(noise, fast_path_matches_loop_fc) {
    const auto data = small_data(100, 10);
    auto sys = make_system(model_kind::fc, data, torch::kFloat64);
    expect_paths_agree(*sys, 48, 20); // chunks of 20, 20, 8
}

TEST(noise, fast_path_matches_loop_small_net) {
    const auto data = small_data(100, 10);
    auto sys = make_system(model_kind::smallnet, data, torch::kFloat64);
    expect_paths_agree(*sys, 40, 16);
}

TEST(noise, fast_path_matches_loop_toy) {
    const auto data = small_data(100, 10);
    auto sys = make_system(model_kind::toy, data, torch::kFloat64, 1000);
    expect_paths_agree(*sys, 40, 64);
}

TEST(noise, fast_path_matches_loop_res_net18_eval_batch_norm) {
    const auto data = small_data(8, 2, 3, 8);
    auto sys = make_system(model_kind::resnet18, data, torch::kFloat64);
    // Non-trivial running statistics, so that the BatchNorm per-sample terms are exercised.
    torch::manual_seed(5);
    {
        torch::NoGradGuard ng;
        for (auto& b : sys->model().named_buffers()) {
            if (b.key().find("running_mean") != std::string::npos) b.value().uniform_(-0.5, 0.5);
            if (b.key().find("running_var") != std::string::npos) b.value().uniform_(0.5, 2.0);
        }
        for (auto& p : sys->model().named_parameters())
            if (p.key().find("bn") != std::string::npos && p.key().find("weight") != std::string::npos)
                p.value().uniform_(0.5, 1.5);
    }
    expect_paths_agree(*sys, 4, 3);
    EXPECT_TRUE(sys->model().is_training()); // the training flag is restored
}

// A Linear(1 -> 2) with zero weights and NLL loss: softmax = (1/2, 1/2), so for input x_s and
// label y_s, grad_z = (1/2 - [y=0], 1/2 - [y=1]), grad W = grad_z x_s, grad b = grad_z.
// Samples (x=1, y=0), (x=2, y=1): |g_1|^2 = (1/2)(1 + 1) = 1, |g_2|^2 = (1/2)(4 + 1) = 5/2,
// mean gradient: W (1/4, -1/4), b (0, 0) -> |grad L|^2 = 1/8. M = 4:
// D = (7/4 - 1/8) / 4 = 13/32.
namespace {
class OneLinearImpl : public net_base {
public:
    OneLinearImpl() {
        m_fc = register_module("fc", torch::nn::Linear(1, 2));
        torch::NoGradGuard ng;
        m_fc->weight.zero_();
        m_fc->bias.zero_();
    }
    torch::Tensor forward(torch::Tensor x) override { return apply(m_fc, x.flatten(1)); }

private:
    torch::nn::Linear m_fc{nullptr};
};
TORCH_MODULE(OneLinear);
} // namespace

TEST(noise, hand_computed_case) {
    image_set s;
    s.count = 2;
    s.channels = s.height = s.width = 1;
    s.classes = 2;
    s.pixels = {1, 2};
    s.labels = {0, 1};
    channel_stats st{{0.0}, {1.0 / 255.0}}; // inputs x = pixel value
    network_system sys(OneLinear().ptr(), s, image_set{}, st, network_options{torch::kCPU, torch::kFloat64});
    for (auto m : {noise_method::per_sample_loop, noise_method::batched}) {
        const noise_estimate e = sgd_noise(sys, 2, m);
        EXPECT_NEAR(e.mean_sample_sq_norm, 1.75, 1e-12);
        EXPECT_NEAR(e.mean_gradient_sq_norm, 0.125, 1e-12);
        EXPECT_NEAR(e.D, 13.0 / 32.0, 1e-12);
    }
}

TEST(noise, single_sample_has_no_noise_and_bad_arguments_throw) {
    const auto data = small_data(20, 4);
    for (const auto dtype : {torch::kFloat32, torch::kFloat64}) {
        auto sys = make_system(model_kind::fc, data, dtype);
        // |S| = 1: grad L = grad L_1, so D = 0 exactly (both paths), whatever the rounding of the
        // two terms; before, the batched float32 path gave +-1e-11.
        for (auto m : {noise_method::per_sample_loop, noise_method::batched}) {
            const noise_estimate e = sgd_noise(*sys, 1, m);
            EXPECT_EQ(e.D, 0.0);
            EXPECT_GT(e.mean_sample_sq_norm, 0.0);
        }
        EXPECT_THROW((void)sgd_noise(*sys, 0), glassy::parameter_error);
    }
}

namespace {
/// `n` copies of the first training image of `data` (same label): every per-sample gradient is
/// the same, so the spread D is exactly zero in exact arithmetic.
image_set copies_of_first(const image_set& train, std::int64_t n) {
    image_set s = train.head(1);
    const auto one = s.pixels;
    s.count = n;
    s.labels.assign(static_cast<std::size_t>(n), train.labels.front());
    for (std::int64_t i = 1; i < n; ++i) s.pixels.insert(s.pixels.end(), one.begin(), one.end());
    return s;
}
} // namespace

TEST(noise, identical_samples_give_exactly_zero_and_d_is_never_negative) {
    const auto data = small_data(20, 4);
    const image_set same = copies_of_first(data.train, 37);
    for (const auto kind : {model_kind::fc, model_kind::smallnet, model_kind::toy}) {
        for (const auto dtype : {torch::kFloat32, torch::kFloat64}) {
            torch::manual_seed(3);
            const input_shape shape{same.channels, same.height, same.width, data.train.classes};
            auto model = make_model(kind, shape, {.hidden = 300});
            network_system sys(model, same, data.test, compute_channel_stats(data.train),
                               network_options{torch::kCPU, dtype});
            for (auto m : {noise_method::per_sample_loop, noise_method::batched}) {
                const noise_estimate e = sgd_noise(sys, 37, m, 16);
                const double u = dtype == torch::kFloat32 ? 0x1p-24 : 0x1p-53;
                // The two terms agree to the rounding floor, and D is reported as exactly 0.
                const double spread = std::abs(e.mean_sample_sq_norm - e.mean_gradient_sq_norm) / e.mean_sample_sq_norm;
                EXPECT_LT(spread, noise_rounding_floor(u, e.num_parameters)) << to_string(kind);
                EXPECT_EQ(e.D, 0.0) << to_string(kind);
                EXPECT_NEAR(e.resolution,
                            noise_rounding_floor(u, e.num_parameters) * e.mean_sample_sq_norm /
                                double(e.num_parameters),
                            1e-12 * e.resolution);
            }
        }
    }
}

TEST(noise, ordered_sums_are_sequential_in_double_for_any_thread_count) {
    // The scalar sums of D, of the losses and of |grad L| (nets/reduction.hpp): row-major index
    // order, in double, whatever the thread count. LibTorch's sum() of the same 100 000 numbers
    // splits them into per-thread partial sums above 32 768 elements.
    torch::manual_seed(1);
    const torch::Tensor x = torch::randn({250, 400}, torch::kFloat32) * 1e3;
    const torch::Tensor xt = x.t(); // not contiguous: row-major order of the transposed view
    double s = 0.0, s2 = 0.0, st = 0.0;
    const auto a = x.accessor<float, 2>();
    for (std::int64_t i = 0; i < 250; ++i)
        for (std::int64_t j = 0; j < 400; ++j) {
            s += double(a[i][j]);
            s2 += double(a[i][j]) * double(a[i][j]);
        }
    for (std::int64_t j = 0; j < 400; ++j)
        for (std::int64_t i = 0; i < 250; ++i) st += double(a[i][j]);
    const int threads = torch::get_num_threads();
    for (const int t : {1, 2, 3}) {
        torch::set_num_threads(t);
        EXPECT_EQ(ordered_sum(x), s) << t << " threads";
        EXPECT_EQ(ordered_sum_of_squares(x), s2) << t << " threads";
        EXPECT_EQ(ordered_sum(xt), st) << t << " threads";
    }
    torch::set_num_threads(threads);
    EXPECT_EQ(ordered_sum(torch::empty({0})), 0.0);
}

TEST(noise, float32_fast_path_close_to_float64) {
    const auto data = small_data(64, 4);
    auto s32 = make_system(model_kind::smallnet, data, torch::kFloat32);
    auto s64 = make_system(model_kind::smallnet, data, torch::kFloat64);
    const double d32 = sgd_noise(*s32, 64).D, d64 = sgd_noise(*s64, 64).D;
    EXPECT_NEAR(d32, d64, 1e-4 * d64); // float32 rounding of weights and activations
}

// Both conv routes of the batched path on awkward geometry: stride 2, padding 2, dilation 3
// (the grouped-convolution route swaps stride and dilation and crops), and a second conv on a
// 2 x 2 feature map where P^2 (K + Cout) < P K Cout, so it goes through the Gram matrices.
namespace {
class AwkwardConvImpl : public net_base {
public:
    AwkwardConvImpl() {
        m_c1 = register_module("c1",
                               torch::nn::Conv2d(torch::nn::Conv2dOptions(2, 3, 3).stride(2).padding(2).dilation(3)));
        m_c2 = register_module("c2", torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 16, 3).padding(1).bias(false)));
        m_fc = register_module("fc", torch::nn::Linear(16 * 4, 10));
    }
    torch::Tensor forward(torch::Tensor x) override {
        x = torch::tanh(apply(m_c1, x)); // [B, 3, 4, 4] from 9 x 9 inputs: P = 16 -> direct
        x = torch::max_pool2d(x, 2);     // [B, 3, 2, 2]
        x = torch::tanh(apply(m_c2, x)); // [B, 16, 2, 2]: P = 4, K = 27 -> Gram
        return apply(m_fc, x.flatten(1));
    }

private:
    torch::nn::Conv2d m_c1{nullptr}, m_c2{nullptr};
    torch::nn::Linear m_fc{nullptr};
};
TORCH_MODULE(AwkwardConv);
} // namespace

TEST(noise, fast_path_matches_loop_on_strided_dilated_padded_conv_and_gram_route) {
    const auto data = glassy::nets::testing::small_data(40, 4, 2, 9);
    torch::manual_seed(11);
    network_system sys(AwkwardConv().ptr(), data.train, data.test, compute_channel_stats(data.train),
                       network_options{torch::kCPU, torch::kFloat64});
    expect_paths_agree(sys, 40, 13); // chunks of 13, 13, 13, 1
}
