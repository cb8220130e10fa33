#pragma once
/// @file Reductions to one number whose bits do not depend on the thread count.
///
/// LibTorch splits a full reduction (`t.sum()`) of more than 32768 elements into per-thread
/// partial sums, so its last bits change with `--threads`. Every scalar that glassy records from
/// a tensor (losses, |grad L|, the two sums of D) goes through these functions instead: the
/// tensor is copied to the host as float64 and summed in index order (row-major), one element
/// after the other, in double. Cost: one pass over the elements (≈ 1 ns each on one core), far
/// below the forward/backward passes that produce them.
///
/// What this does not cover, and LibTorch cannot guarantee: the tensors themselves. GEMM
/// (OpenBLAS) and convolutions (oneDNN) partition their work by thread count, and some CPU
/// kernels (measured: OpenBLAS's Haswell/Zen sgemm, and SkylakeX at batch 100) then round
/// differently, so the weights of a run trained with 1 and 2 threads can differ in the last
/// bits. docs/nets.md says what follows (a resumed run keeps its checkpoint's thread count).
#include <torch/torch.h>

namespace glassy::nets {

/// Sum of all elements of `t` (any dtype convertible to float64, any device, any shape), in
/// row-major index order, accumulated in double. Returns 0 for an empty tensor.
[[nodiscard]] double ordered_sum(const torch::Tensor& t);

/// Sum of the squares of all elements of `t`, in row-major index order, in double (each element
/// converted to double before squaring). Returns 0 for an empty tensor.
[[nodiscard]] double ordered_sum_of_squares(const torch::Tensor& t);

} // namespace glassy::nets
