#pragma once
/// @file Hessian spectra of a network's training loss (issue 13; docs/nets.md, "Hessian spectra").
///
/// The loss is the mean L(w) = (1/S) sum_s L_s(w) of the per-sample training losses (loss_kind) over
/// a FIXED set of S training samples, a function of the flattened parameter vector w (M values,
/// parameters() order, as flatten_parameters). Its Hessian H = d^2 L / dw^2 (M x M, symmetric) is
/// used matrix-free, through Hessian-vector products by double backward (Pearlmutter 1994): the
/// gradient g(w) is built once with its autograd graph (create_graph), and H v = d(g . v)/dw.
/// The model is put in eval mode for the measurement (restored afterwards): BatchNorm then uses its
/// running statistics, so L is a function of the weights alone and H is the Hessian of a fixed
/// function (in training mode the batch statistics would depend on the sample set).
///
/// From the products:
/// - the k largest eigenvalues, by Spectra's SymEigsSolver (implicitly restarted Lanczos, ARPACK's
///   method; libspectra-dev), largest first;
/// - the trace by Hutchinson's estimator tr H = E[z^T H z] over Rademacher vectors z, with its
///   standard error;
/// - the spectral distribution by stochastic Lanczos quadrature (SLQ; Ubaru, Chen & Saad, SIAM J.
///   Matrix Anal. Appl. 38, 1075 (2017); Ghorbani, Krishnan & Xiao, ICML 2019): for a unit start
///   vector v, m steps of Lanczos (full reorthogonalisation) give a tridiagonal T_m whose eigenvalues
///   theta_j and squared first eigenvector components tau_j^2 are the nodes and weights of the Gauss
///   quadrature of the spectral measure mu_v = sum_i (v . u_i)^2 delta(lambda - lambda_i); averaged
///   over n_v random starts (Rademacher / sqrt(M)), E[mu_v] is the eigenvalue distribution
///   (1/M) sum_i delta(lambda - lambda_i). The negative and flat fractions are read from it.
/// The random vectors come from mt19937_64 streams fixed by the seed and the measurement's step, so
/// a measurement neither draws from nor disturbs the training's generators.
#include "dynamics/record.hpp"
#include "nets/network.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace glassy::nets {

/// The Hessian of the mean training loss on a fixed sample set, as a matrix-free operator.
/// Holds the autograd graph of the gradient on all S samples (memory: about twice the activations
/// of a training forward pass on S samples) until destroyed. The parameters must not change while
/// it lives.
class loss_hessian {
public:
    /// Builds the gradient graph of L on the training samples `samples` (indices into the training
    /// split; the sum runs over chunks of 1024 in the given order), with the model in eval mode.
    /// Throws parameter_error for no samples or an index outside the training split.
    loss_hessian(const network_system& sys, const std::vector<std::int64_t>& samples);
    /// M, the number of weights.
    [[nodiscard]] std::int64_t size() const noexcept { return m_size; }
    /// L(w), the mean loss on the samples.
    [[nodiscard]] double loss() const noexcept { return m_loss; }
    /// y = H v for v, y of length M (parameters() order). The product runs in the training dtype
    /// (v is rounded to it; relative rounding ~ 2^-24 in float32) and is returned in double.
    void product(const double* v, double* y) const;
    /// H v.
    [[nodiscard]] Eigen::VectorXd product(const Eigen::VectorXd& v) const;
    /// The gradient dL/dw (length M) at the current weights.
    [[nodiscard]] Eigen::VectorXd gradient() const;
    /// The dense Hessian, column j = H e_j (M products; for tests on small networks), symmetrised
    /// as (A + A^T)/2.
    [[nodiscard]] Eigen::MatrixXd dense() const;

private:
    std::vector<torch::Tensor> m_params; ///< the model's parameters
    std::vector<torch::Tensor> m_grad;   ///< dL/dw with its graph, one tensor per parameter
    std::int64_t m_size = 0;
    double m_loss = 0.0;
};

/// Gauss quadrature of one spectral measure mu_v: nodes theta_j (ascending) and weights tau_j^2
/// (summing to |v|^2 = 1).
struct gauss_quadrature {
    std::vector<double> nodes;
    std::vector<double> weights;
};

/// The operator y = A x (x, y of length n) that Lanczos and Spectra see.
using linear_operator = std::function<void(const double* x, double* y)>;

/// `steps` steps of Lanczos on the symmetric operator `a` (size n) from v0 (normalised here), with
/// full reorthogonalisation (twice classical Gram-Schmidt against every earlier vector: the basis
/// stays orthonormal to rounding, so no ghost copies of converged eigenvalues appear), then the Gauss
/// quadrature of T (Golub & Welsch 1969: eigen-decomposition of the tridiagonal T by Eigen's
/// SelfAdjointEigenSolver). Stops early when the Krylov space is invariant (beta <= 1e-12 |T|), so
/// it may return fewer than `steps` nodes. With `top_ritz_sum`, also stores there the sum of the
/// unit Ritz vectors of the min(top_ritz, nodes) largest Ritz values (a start vector for
/// top_eigenpairs). Memory: n x steps doubles for the basis. Throws parameter_error for steps < 1,
/// n < 1 or a zero v0.
[[nodiscard]] gauss_quadrature lanczos_quadrature(const linear_operator& a, std::int64_t n, Eigen::VectorXd v0,
                                                  std::int64_t steps, std::int64_t top_ritz = 0,
                                                  Eigen::VectorXd* top_ritz_sum = nullptr);

/// The k largest eigenpairs of a symmetric operator (top_eigenpairs).
struct eigenpairs {
    std::vector<double> values; ///< [k] largest first; NaN: not converged (the converged ones come first)
    Eigen::MatrixXd vectors;    ///< [n, c] unit Ritz vectors of the c <= k converged values, column j for values[j]
    std::int64_t products = 0;  ///< applications of the operator used
};

/// The `k` largest eigenpairs of the symmetric operator `a` (size n), largest first, by Spectra's
/// SymEigsSolver (selection LargestAlge, ncv = min(n, max(2k + 1, k + 20)) Lanczos vectors, at most
/// 200 restarts, relative tolerance `tol` on the Ritz residuals; start vector: Spectra's fixed
/// pseudo-random one, or `start` when given and non-zero). Eigenvalues that did not converge are
/// NaN. For k >= n - 1 (Spectra needs k < n) the dense matrix is built column by column and
/// diagonalised. Throws parameter_error unless 1 <= k <= n.
/// A start near the top-k invariant subspace (the sum of a Lanczos run's top Ritz vectors,
/// lanczos_quadrature) saves restarts: Spectra's first ncv-step factorisation then holds it.
[[nodiscard]] eigenpairs top_eigenpairs(const linear_operator& a, std::int64_t n, std::int64_t k, double tol = 1e-6,
                                        const Eigen::VectorXd* start = nullptr);

/// Hutchinson's estimate of tr A over Rademacher vectors z_i, with its standard error (sample
/// standard deviation / sqrt(count); NaN for one vector).
struct trace_estimate {
    double trace = 0.0;
    double error = 0.0;
};

/// One sample of Hutchinson's estimator deflated by eigenpairs (theta_j, u_j) of A (the control
/// variate of Hutch++; Meyer, Musco, Musco & Woodruff, SOSA 2021):
///   s(z) = z^T A z - sum_j theta_j (u_j . z)^2,   E[s] = tr A - sum_j theta_j |u_j|^2,
/// so sum_j theta_j + mean s is unbiased for ANY unit u_j, and its variance per vector is that of
/// A' = A - sum_j theta_j u_j u_j^T, 2 (|A'|_F^2 - sum_i A'_ii^2): accurate pairs remove the
/// outliers' theta_j^2 from |A|_F^2. `z_a_z` is z^T A z; without pairs s = z^T A z (plain Hutchinson).
[[nodiscard]] double deflated_trace_sample(const Eigen::VectorXd& z, double z_a_z, const eigenpairs* deflation);

/// sum_j theta_j (the converged values of `deflation`; 0 without) + the mean of `samples`, with the
/// standard error of that mean. Throws parameter_error for no samples.
[[nodiscard]] trace_estimate trace_from_samples(const std::vector<double>& samples, const eigenpairs* deflation);

/// Hutchinson's estimate of tr A from `vectors` Rademacher vectors (mt19937_64 seeded by `seed`),
/// deflated by `deflation` when given (deflated_trace_sample). Throws parameter_error for vectors < 1.
[[nodiscard]] trace_estimate hutchinson_trace(const linear_operator& a, std::int64_t n, std::int64_t vectors,
                                              std::uint64_t seed, const eigenpairs* deflation = nullptr);

/// Fractions of the spectrum read from SLQ quadratures (the mean over starts of the weights):
/// negative = weight of nodes below -epsilon * scale, flat = weight of nodes with |theta| <=
/// epsilon * scale, where scale = max|lambda| is the largest of |top| and |theta| over every node.
/// "Negative" excludes the flat band: the flat cluster's nodes sit at +-(rounding) and would
/// otherwise count as half negative.
struct spectral_fractions {
    double negative = 0.0;
    double flat = 0.0;
    double scale = 0.0; ///< max|lambda| used
};
[[nodiscard]] spectral_fractions fractions(const std::vector<gauss_quadrature>& q, double top, double epsilon);

/// The SLQ density smoothed by Gaussians: rho(x) = (1/n_v) sum_v sum_j tau_vj^2 N(x; theta_vj, sigma^2)
/// at each grid point (integrates to 1 over lambda).
[[nodiscard]] std::vector<double> smoothed_density(const std::vector<gauss_quadrature>& q,
                                                   const std::vector<double>& grid, double sigma);

/// Settings of one Hessian measurement of a network (docs/nets.md, "Hessian spectra").
struct hessian_settings {
    std::int64_t top = 20;           ///< k, eigenvalues by Spectra
    double flat_epsilon = 1e-3;      ///< epsilon of the flat band |lambda| <= epsilon max|lambda|
    std::int64_t trace_vectors = 20; ///< Hutchinson's Rademacher vectors, the SLQ starts first (shared)
    std::int64_t slq_steps = 80;     ///< m, Lanczos steps per SLQ start
    std::int64_t slq_vectors = 2;    ///< n_v, SLQ starts
    std::uint64_t seed = 1;          ///< of the Rademacher vectors (with the step)
};

/// Hessian-vector products spent by each part of a measurement (not recorded; benchmarks).
struct product_counts {
    std::int64_t top = 0;   ///< Spectra's top k
    std::int64_t trace = 0; ///< Hutchinson vectors beyond the SLQ starts
    std::int64_t slq = 0;   ///< SLQ Lanczos steps
};

/// One Hessian measurement.
struct hessian_measurement {
    std::vector<double> top;                  ///< [k] largest first (NaN: not converged)
    double trace = 0.0;                       ///< Hutchinson, deflated by the top pairs
    double trace_err = 0.0;                   ///< its standard error
    spectral_fractions fractions;             ///< from the SLQ quadratures
    std::vector<gauss_quadrature> quadrature; ///< [n_v] SLQ nodes and weights
    product_counts products;                  ///< the cost, in Hessian-vector products
};

/// Measures the Hessian of the mean training loss on `samples` (loss_hessian) with `settings`:
/// SLQ from n_v Rademacher starts; the top k pairs by Spectra, started from the sum of the first
/// SLQ run's top k Ritz vectors; the trace by Hutchinson deflated by
/// the top pairs (deflated_trace_sample) over max(trace_vectors, n_v) Rademacher vectors, of which
/// the n_v SLQ starts are the first (their z^T H z is M alpha_0 of their Lanczos run: no product of
/// their own). `step` selects the random streams (seed, step), so equal inputs give equal results.
/// Throws field_error (key "hessian_top") when settings.top is outside 1..M, parameter_error when
/// a count is < 1.
[[nodiscard]] hessian_measurement measure_hessian(const network_system& sys, const std::vector<std::int64_t>& samples,
                                                  const hessian_settings& settings, std::int64_t step);

/// The Hessian measurements of a run, one row per measurement time, and what the record holds of
/// them (docs/format.md, /hessian).
struct hessian_series {
    std::vector<double> t;                 ///< measurement times [n_h]
    std::vector<hessian_measurement> rows; ///< [n_h]
    /// Saves every row under `prefix` (a checkpoint holds them; restore reads them back exactly).
    void save(checkpoint& c, const std::string& prefix) const;
    /// Restores what save() wrote. Throws record_error when it is incomplete.
    void restore(const checkpoint& c, const std::string& prefix);
    /// The record's /hessian datasets (all but samples), the density on a grid spanning every row.
    /// Grid: 401 points, uniform on [lo - 5 sigma, hi + 5 sigma], lo/hi = the smallest / largest
    /// node or top eigenvalue of all rows, sigma = (hi - lo) / 100 (1 when hi = lo).
    void write(record& rec, std::int64_t top, std::int64_t slq_vectors, std::int64_t slq_steps) const;
};

} // namespace glassy::nets
