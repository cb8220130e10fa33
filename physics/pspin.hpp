#pragma once
/// @file The spherical p-spin model (design.md section 5):
///   H(sigma) = - sum_{i_1 < ... < i_p} J_{i_1...i_p} sigma_{i_1} ... sigma_{i_p},
///   J i.i.d. N(0, p! / (2 N^{p-1})), |sigma|^2 = N,
/// so that E[H(sigma) H(sigma')] = N q^p / 2 with q = sigma.sigma'/N. Energies are totals
/// (units of J); energy per spin is H/N.
#include "dynamics/concepts.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace glassy {

/// Storage precision of the couplings: float64 (default) or float32 (half the memory; each
/// coupling is the float64 draw rounded to float, relative error <= 2^-24; every sum is still
/// accumulated in double).
enum class coupling_precision { float64, float32 };
/// Parses "float64" or "float32"; throws field_error (key "couplings") otherwise.
[[nodiscard]] coupling_precision parse_coupling_precision(const std::string& name);
/// The name parse_coupling_precision accepts.
[[nodiscard]] std::string to_string(coupling_precision precision);

/// A disorder sample of the spherical p-spin model: N spins, interaction order p >= 2.
/// Each coupling is stored once per unique index tuple i_1 < ... < i_p, in colexicographic
/// order (index of tuple c_1<...<c_p is sum_m binom(c_m, m)), so memory is binom(N, p)
/// scalars (about N^3/6 for p = 3). Gradient and energy are parallel with OpenMP over a
/// fixed partition of the tuples that depends on N alone, so results are bitwise identical
/// for every thread count.
class pspin_model {
public:
    using state_type = Eigen::VectorXd; ///< spin configuration sigma, |sigma|^2 = N

    /// Draws the couplings from `seed` (the same draws for both precisions). Throws
    /// parameter_error unless 2 <= p <= N.
    pspin_model(int n, int p, std::uint64_t seed, coupling_precision precision = coupling_precision::float64);

    [[nodiscard]] int size() const noexcept { return m_n; }  ///< N
    [[nodiscard]] int order() const noexcept { return m_p; } ///< p
    /// Number of stored couplings, binom(N, p).
    [[nodiscard]] std::size_t num_couplings() const noexcept { return m_count; }
    /// Storage precision of the couplings.
    [[nodiscard]] coupling_precision precision() const noexcept {
        return m_jf.empty() ? coupling_precision::float64 : coupling_precision::float32;
    }
    /// Bytes held by the couplings (8 or 4 per coupling).
    [[nodiscard]] std::size_t coupling_bytes() const noexcept {
        return m_j.size() * sizeof(double) + m_jf.size() * sizeof(float);
    }
    /// Coupling of a strictly increasing index tuple (size p). For tests and small N.
    [[nodiscard]] double coupling(const std::vector<int>& sorted_indices) const;

    /// Total energy H(sigma) (not per spin).
    [[nodiscard]] double energy(const state_type& sigma) const;
    /// Euclidean gradient dH/dsigma_i into g (resized to N); returns H(sigma) as a by-product.
    double gradient(const state_type& sigma, state_type& g) const;
    /// Gradients of R replicas that share these couplings: sigma is N x R (column r = replica
    /// r), g is resized to N x R and receives dH/dsigma column by column; returns the R total
    /// energies H(sigma_r). For p = 3 and R > 1 each coupling is read once for all replicas
    /// (replicas packed contiguously per spin, inner loop over replicas vectorised): 1.6-2x
    /// more replica-gradients per second than R single calls for R >= 4 (R = 2 at N = 256,
    /// where the couplings stay in cache, is slower than two single calls); the result equals R calls
    /// of gradient() to rounding (about 1e-15 relative) and is bitwise independent of the
    /// thread count. R = 1, and any p != 3, call gradient() per column (R = 1: bit-identical).
    /// Both kernels (p = 3) are compiled for AVX-512, AVX2 and SSE2, picked at load time, and
    /// built without FMA contraction: the results are the same bits on any x86-64 CPU and for
    /// any thread count.
    /// Like gradient(), not to be called concurrently on one model (shared scratch buffers).
    /// Throws parameter_error if sigma does not have N rows or has no column.
    Eigen::VectorXd gradient_batch(const Eigen::MatrixXd& sigma, Eigen::MatrixXd& g) const;
    /// Euclidean Hessian d^2H/dsigma_i dsigma_j, N x N, symmetric, with a zero diagonal (H is
    /// linear in each spin). p = 3: each coupling is read twice, in parallel over the columns
    /// (bitwise independent of the thread count), 2 binom(N, 3) multiply-adds (about 2.3
    /// gradients: 47 ms of CPU at N = 512 on one thread, benchmarks/README.md); other p: O(binom(N, p) p^3) on one
    /// thread, small N only. Throws parameter_error if sigma does not have N entries.
    [[nodiscard]] Eigen::MatrixXd hessian(const state_type& sigma) const;
    /// Riemannian Hessian on the sphere |sigma|^2 = N restricted to the tangent space:
    /// P (Hess H - (sigma.grad H / N) 1) P with P = 1 - sigma sigma^T / N. Its quadratic form on
    /// a tangent u is d^2/ds^2 H(geodesic with initial velocity u). Small N only.
    [[nodiscard]] Eigen::MatrixXd tangent_hessian(const state_type& sigma) const;
    /// Energy change of the rotation sigma_i -> c sigma_i + s sigma_j, sigma_j -> -s sigma_i +
    /// c sigma_j (c = cos theta, s = sin theta), in O(binom(N-1, p-1)) operations.
    [[nodiscard]] double rotation_delta(const state_type& sigma, int i, int j, double c, double s) const;

    /// sigma uniform on the sphere |sigma|^2 = N (a quench from T = infinity).
    template <class Rng>
    [[nodiscard]] state_type random_configuration(Rng& rng) const {
        std::normal_distribution<double> normal;
        state_type x(m_n);
        for (int i = 0; i < m_n; ++i) x[i] = normal(rng);
        return x * (std::sqrt(static_cast<double>(m_n)) / x.norm());
    }

private:
    // Sum over tuples of J prod sigma, and its derivative G (so H = -S, grad H = -G).
    double raw_gradient(const state_type& sigma, state_type& g) const;
    // Sums the per-block gradients and tuple sums in block order into g; returns the total.
    double reduce_blocks(const std::vector<double>& sums, state_type& g) const;
    double raw_gradient_p3(const state_type& sigma, state_type& g) const;
    [[nodiscard]] Eigen::MatrixXd hessian_p3(const state_type& sigma) const;
    double raw_gradient_generic(const state_type& sigma, state_type& g) const;
    // p = 3, replicas packed [chunk][spin][w] with chunk width W; sums of every padded replica.
    template <int W, class T>
    void raw_gradient_p3_batch(const T* couplings, const double* s, int chunks, double* g, double* sums) const;
    // Coupling number idx (colex order) in double, whatever the storage.
    [[nodiscard]] double jat(std::size_t idx) const noexcept {
        return m_jf.empty() ? m_j[idx] : static_cast<double>(m_jf[idx]);
    }
    // Sum over tuples containing i or j of J prod sigma.
    double local_sum(const state_type& sigma, int i, int j) const;
    double local_sum_p3(const state_type& sigma, int i, int j) const;      // p = 3, direct indexing
    double local_sum_generic(const state_type& sigma, int i, int j) const; // any p, via rank()

    int m_n;
    int m_p;
    [[nodiscard]] std::uint64_t rank(const int* c) const noexcept; // colex rank via m_binom
    std::size_t m_count = 0;                                       // binom(N, p)
    std::vector<double> m_j;                                       // couplings, colex order (float64 storage)
    std::vector<float> m_jf;                     // the same, float32 storage (one of the two is empty)
    std::vector<std::uint64_t> m_binom;          // binom(c, m) at [m * N + c], m = 1..p
    std::vector<int> m_block_start;              // partition of the largest index k into blocks
    mutable std::vector<state_type> m_partial;   // per-block gradient buffers (fixed count)
    mutable std::vector<double> m_partial_batch; // per-block buffers of gradient_batch
};

/// Projects sigma back onto the sphere |sigma|^2 = N.
inline void normalize_to_sphere(Eigen::VectorXd& sigma) {
    sigma *= std::sqrt(static_cast<double>(sigma.size())) / sigma.norm();
}

/// binom(n, k) as an unsigned 64-bit integer (0 when k > n).
[[nodiscard]] std::uint64_t binomial(std::uint64_t n, std::uint64_t k) noexcept;

} // namespace glassy
