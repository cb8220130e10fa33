#include "nets/reduction.hpp"

#include <cstdint>

namespace glassy::nets {

namespace {

/// The elements of `t` as a contiguous float64 host tensor (no copy when it already is one).
torch::Tensor host_double(const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat64).contiguous(); }

} // namespace

double ordered_sum(const torch::Tensor& t) {
    const torch::Tensor h = host_double(t);
    const double* x = h.data_ptr<double>();
    double s = 0.0;
    for (std::int64_t i = 0, n = h.numel(); i < n; ++i) s += x[i];
    return s;
}

double ordered_sum_of_squares(const torch::Tensor& t) {
    const torch::Tensor h = host_double(t);
    const double* x = h.data_ptr<double>();
    double s = 0.0;
    for (std::int64_t i = 0, n = h.numel(); i < n; ++i) s += x[i] * x[i];
    return s;
}

} // namespace glassy::nets
