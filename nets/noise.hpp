#pragma once
/// @file The SGD noise D of the paper's eq. 4 on a set S of training samples (net_quench:
/// the first |S| of a class-balanced order of the training split, see class_balanced_order):
///   D = (1/|S|) sum_s (1/M) |grad L_s - grad L|^2 = [(1/|S|) sum_s |grad L_s|^2 - |grad L|^2] / M,
/// with grad L = (1/|S|) sum_s grad L_s the mean gradient over S and M the number of weights.
/// Measured with the model in eval mode: for ResNet-18 BatchNorm then uses its running
/// statistics, which makes every per-sample gradient a function of that sample alone.
///
/// Rounding: the two terms are computed from gradients in the training dtype (unit roundoff u:
/// 2^-24 for float32, 2^-53 for float64) and accumulated over the M weights in double, so their
/// difference carries an error even when the spread is exactly zero (one sample, or identical
/// samples). D is therefore exactly 0 when |S| = 1, never negative, and reported as 0 when it
/// is at or below `resolution` = noise_rounding_floor(u, M) * (1/|S|) sum_s |grad L_s|^2 / M.
/// The scalar sums are taken in double in a fixed order (nets/reduction.hpp), so D does not
/// depend on the thread count given the same per-layer tensors.
#include "nets/network.hpp"

#include <cmath>
#include <cstdint>

namespace glassy::nets {

/// How per-sample gradient norms are obtained.
enum class noise_method {
    per_sample_loop, ///< reference: one forward + backward per sample
    batched,         ///< one batched backward per chunk (to layer outputs only); per-sample
                     ///< norms and the mean gradient of Linear, Conv2d and BatchNorm2d (eval)
                     ///< parameters from layer inputs and output gradients (Goodfellow's trick;
                     ///< conv by a grouped convolution or through Gram matrices, whichever is
                     ///< cheaper). Falls back to the loop if some parameter is not covered.
};

/// The safety factor c of the rounding floor below.
inline constexpr double noise_rounding_factor = 16.0;

/// Relative rounding floor of eq. 4's difference: c (u + sqrt(M) 2^-53), from the per-sample
/// products in the training dtype (relative error ~u each) and the double accumulations over M
/// weights (random-sign errors grow like sqrt(M) 2^-53; Higham, "Accuracy and Stability of
/// Numerical Algorithms", sec. 4.2). Measured spreads for 37 identical samples (fc, smallnet,
/// toy; both paths): at most 0.6 u in float32 and 320 u in float64 (fc, M = 89 610), against
/// floors of 16 u and 4 800 u.
[[nodiscard]] inline double noise_rounding_floor(double u, std::int64_t m) {
    return noise_rounding_factor * (u + std::sqrt(static_cast<double>(m)) * 0x1p-53);
}

/// Result of one D measurement.
struct noise_estimate {
    double D = 0.0;                     ///< eq. 4; >= 0, exactly 0 for |S| = 1 or below `resolution`
    double resolution = 0.0;            ///< the rounding floor (see the file comment)
    double mean_sample_sq_norm = 0.0;   ///< (1/|S|) sum_s |grad L_s|^2
    double mean_gradient_sq_norm = 0.0; ///< |grad L|^2
    std::int64_t samples = 0;           ///< |S|
    std::int64_t num_parameters = 0;    ///< M
    bool fast_path = false;             ///< true when the batched path was used
};

/// Measures D on the training samples S = `samples` (indices into the training split, e.g. a
/// prefix of class_balanced_order; summed in the given order), in chunks of `chunk` samples for
/// the batched path. Restores the training flag of the model. Throws field_error (key
/// "noise_samples") for no samples, parameter_error for an index outside the training split or
/// chunk < 1.
[[nodiscard]] noise_estimate sgd_noise(const network_system& sys, const std::vector<std::int64_t>& samples,
                                       noise_method method = noise_method::batched, std::int64_t chunk = 256);
/// D on the first `samples` training samples (clipped to the training size): sgd_noise on the
/// indices 0..n-1. Throws field_error (key "noise_samples") for samples < 1, parameter_error for
/// chunk < 1.
[[nodiscard]] noise_estimate sgd_noise(const network_system& sys, std::int64_t samples,
                                       noise_method method = noise_method::batched, std::int64_t chunk = 256);

} // namespace glassy::nets
