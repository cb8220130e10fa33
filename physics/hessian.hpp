#pragma once
/// @file The Riemannian Hessian of the spherical p-spin on the sphere |sigma|^2 = N, its full
/// spectrum, what the record keeps of it (issue 13: negative and flat fractions, top eigenvalues,
/// trace, density on a fixed grid), the large-N prediction of the index, and the observer that
/// measures the spectrum along a quench (pspin_quench --hessian; docs/physics.md, "Hessian").
///
/// On the sphere the Hessian is Hess = P (grad^2 H - mu 1) P with mu = sigma.grad H / N (= p H / N
/// for the pure model) and P = 1 - sigma sigma^T / N, acting on the (N-1)-dimensional tangent
/// space. Here it is written in an orthonormal basis of that space: the first N-1 columns of the
/// Householder reflection Q that maps sigma / sqrt(N) onto +-e_{N-1}; so the radial direction is
/// dropped exactly (no zero mode to identify) and the spectrum has exactly N-1 values.
#include "dynamics/checkpoint.hpp"
#include "dynamics/record.hpp"
#include "physics/pspin.hpp"

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

namespace glassy {

/// Orthonormal basis of the tangent space at sigma (sigma != 0): N x (N-1), the first N-1 columns
/// of the Householder reflection Q = 1 - 2 v v^T / |v|^2 with Q sigma/|sigma| = -+e_{N-1}. For
/// tests (it holds N^2 doubles); tangent_hessian_matrix never forms it.
[[nodiscard]] Eigen::MatrixXd tangent_basis(const Eigen::VectorXd& sigma);

/// The Riemannian Hessian in the basis B = tangent_basis(sigma): B^T (grad^2 H - mu 1) B,
/// (N-1) x (N-1), symmetric, mu = sigma.grad H / N. Built from pspin_model::hessian by the
/// Householder similarity Q A Q (two matrix-vector products and a rank-2 update, O(N^2)).
/// Its quadratic form on y is d^2/ds^2 H(geodesic through sigma with unit velocity B y).
/// Throws parameter_error if sigma does not have N entries or N < 2.
[[nodiscard]] Eigen::MatrixXd tangent_hessian_matrix(const pspin_model& model, const Eigen::VectorXd& sigma);

/// The N-1 eigenvalues of the Riemannian Hessian at sigma, ascending (Eigen's
/// SelfAdjointEigenSolver, eigenvalues only: O(N^3); with the Hessian 0.1-0.2 s at N = 512,
/// about 6 Langevin steps, benchmarks/README.md). Units of H (totals,
/// like pspin_model::energy). Throws parameter_error as tangent_hessian_matrix, and error when the
/// eigensolver does not converge (a non-finite state).
[[nodiscard]] Eigen::VectorXd tangent_spectrum(const pspin_model& model, const Eigen::VectorXd& sigma);

/// Radius of the large-N semicircle of the tangent Hessian of the pure p-spin: 2 sqrt(f''(1)) with
/// f(q) = q^p / 2, i.e. 2 sqrt(p (p - 1) / 2) (2 sqrt(3) for p = 3). The Hessian on the tangent
/// space is GOE with off-diagonal variance f''(1)/N, shifted by -mu = -p e (e = H/N).
[[nodiscard]] double semicircle_radius(int p);

/// Large-N index of the pure p-spin at energy per spin e: the mass of the semicircle of radius
/// R = semicircle_radius(p) centred at -p e that lies below 0,
///   F(x) = 1/2 + (x sqrt(1 - x^2) + asin x) / pi,  x = p e / R clamped to [-1, 1]
/// (0 at and below the threshold energy e_th = -R/p, 1/2 at e = 0). Kurchan & Laloux 1996.
[[nodiscard]] double semicircle_negative_fraction(int p, double e);

/// A fixed grid of equal bins for the Hessian density: bins [lo + g w, lo + (g+1) w), w = (hi - lo) / bins.
struct spectral_grid {
    double lo = 0, hi = 1; ///< edges, units of H
    int bins = 1;          ///< n_g >= 1
    /// Bin width w.
    [[nodiscard]] double width() const noexcept { return (hi - lo) / bins; }
    /// The bin centres lo + (g + 1/2) w, [n_g] (/hessian/density_grid).
    [[nodiscard]] std::vector<double> centres() const;
};

/// The density grid of the p-spin records: 128 bins on [-2R, 2R + 2p], R = semicircle_radius(p).
/// It holds every bulk eigenvalue at any energy e in [-2, 0] (the semicircle lies in
/// [-p e - R, -p e + R]; the ground state of the pure model lies above e = -2) with a margin of R
/// on both sides for finite-N edges and outliers. Fixed per p, so densities of all times, samples
/// and runs share it.
[[nodiscard]] spectral_grid hessian_grid(int p);

/// What the record keeps of one spectrum.
struct spectrum_summary {
    double negative_fraction = 0; ///< (count of lambda < 0) / n
    double flat_fraction = 0;     ///< (count of |lambda| <= epsilon max|lambda|) / n
    double trace = 0;             ///< sum of the eigenvalues (exact, from the spectrum)
    std::vector<double> top;      ///< the k largest eigenvalues, largest first (k = min(k, n))
    std::vector<double> density;  ///< [n_g] histogram / (n w): integrates to the fraction on the grid (1)
};

/// The summary of an ascending spectrum of n >= 1 values with flat threshold epsilon > 0, the k
/// largest eigenvalues and the histogram on `grid` (values outside it are not counted).
[[nodiscard]] spectrum_summary summarize_spectrum(const Eigen::VectorXd& ascending, double epsilon, int k,
                                                  const spectral_grid& grid);

/// Observer of one p-spin state (dynamics/concepts.hpp, System = pspin_model): at every call, the
/// time and tangent_spectrum(sigma), in call order. Wrap it in on_schedule (dynamics/recorders.hpp)
/// to measure at its own steps. It only reads the state.
class hessian_recorder {
public:
    void operator()(const pspin_model& model, const Eigen::VectorXd& sigma, std::int64_t step, double t);
    /// Times of the spectra, [n_h].
    [[nodiscard]] const std::vector<double>& times() const noexcept { return m_times; }
    /// The spectra, one row per time, [n_h, N-1] (0 x 0 before the first).
    [[nodiscard]] const row_matrix& spectra() const noexcept { return m_spectra; }
    /// Saves PREFIXt and PREFIXspectrum (nothing before the first spectrum).
    void save(checkpoint& c, const std::string& prefix) const;
    /// Restores what save() wrote under `prefix` (nothing there: no spectra yet); throws
    /// record_error when the rows do not have n - 1 entries or the lengths differ.
    void restore(const checkpoint& c, const std::string& prefix, int n);

private:
    std::vector<double> m_times;
    row_matrix m_spectra;
};

/// The /hessian datasets of a record (docs/format.md) from the spectra of n_s samples measured at
/// the same `times` ([n_h]; each spectra[s] is [n_h, N-1]): /hessian/t, top [n_h, k], the sample
/// means negative_fraction, flat_fraction, trace [n_h], density_grid [n_g] and density [n_h, n_g]
/// (sample mean), spectrum [n_s, n_h, N-1], and with n_s > 1 the per-sample
/// negative_fraction_samples, flat_fraction_samples, trace_samples [n_s, n_h] and top_samples
/// [n_s, n_h, k]. Added to rec.extra; nothing when there is no spectrum (n_h = 0).
void add_hessian_datasets(record& rec, const std::vector<double>& times, const std::vector<row_matrix>& spectra,
                          double epsilon, int k, const spectral_grid& grid);

} // namespace glassy
