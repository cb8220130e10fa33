#include "physics/hessian.hpp"

#include "dynamics/error.hpp"

#include <Eigen/Eigenvalues>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace glassy {
namespace {

// The Householder vector v = u + s e_{N-1} (u = sigma/|sigma|, s = sign(u_{N-1}), no cancellation):
// Q = 1 - beta v v^T maps u onto -s e_{N-1}; returns beta = 2 / |v|^2.
double householder(const Eigen::VectorXd& sigma, Eigen::VectorXd& v) {
    if (sigma.size() < 2) throw parameter_error("Hessian: needs N >= 2 spins");
    const double norm = sigma.norm();
    if (!(norm > 0) || !std::isfinite(norm)) throw parameter_error("Hessian: sigma must be finite and non-zero");
    v = sigma / norm;
    const Eigen::Index last = v.size() - 1;
    v[last] += v[last] >= 0 ? 1.0 : -1.0;
    return 2.0 / v.squaredNorm();
}

nd_array<double> array_of(std::vector<std::uint64_t> shape, std::vector<double> data) {
    return {std::move(shape), std::move(data)};
}

} // namespace

Eigen::MatrixXd tangent_basis(const Eigen::VectorXd& sigma) {
    Eigen::VectorXd v;
    const double beta = householder(sigma, v);
    const Eigen::Index n = sigma.size();
    Eigen::MatrixXd q = Eigen::MatrixXd::Identity(n, n) - beta * v * v.transpose();
    return q.leftCols(n - 1);
}

Eigen::MatrixXd tangent_hessian_matrix(const pspin_model& model, const Eigen::VectorXd& sigma) {
    if (sigma.size() != model.size()) throw parameter_error("Hessian: configuration has the wrong size");
    Eigen::VectorXd v, g;
    const double beta = householder(sigma, v);
    model.gradient(sigma, g);
    const double mu = sigma.dot(g) / static_cast<double>(sigma.size());
    Eigen::MatrixXd a = model.hessian(sigma);
    // Q A Q = A - v q^T - q v^T with p = beta A v, q = p - (beta/2)(v.p) v.
    const Eigen::VectorXd p = beta * (a * v);
    const Eigen::VectorXd q = p - (0.5 * beta * v.dot(p)) * v;
    a.noalias() -= v * q.transpose();
    a.noalias() -= q * v.transpose();
    const Eigen::Index m = sigma.size() - 1;
    Eigen::MatrixXd t = a.topLeftCorner(m, m);
    t.diagonal().array() -= mu;
    return t;
}

Eigen::VectorXd tangent_spectrum(const pspin_model& model, const Eigen::VectorXd& sigma) {
    const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> solver(tangent_hessian_matrix(model, sigma),
                                                                Eigen::EigenvaluesOnly);
    if (solver.info() != Eigen::Success) throw error("Hessian: the eigensolver did not converge");
    return solver.eigenvalues(); // ascending
}

double semicircle_radius(int p) { return 2.0 * std::sqrt(0.5 * p * (p - 1)); }

double semicircle_negative_fraction(int p, double e) {
    const double x = std::clamp(p * e / semicircle_radius(p), -1.0, 1.0);
    return 0.5 + (x * std::sqrt(1.0 - x * x) + std::asin(x)) / std::numbers::pi;
}

std::vector<double> spectral_grid::centres() const {
    std::vector<double> c(static_cast<std::size_t>(bins));
    for (int g = 0; g < bins; ++g) c[static_cast<std::size_t>(g)] = lo + (g + 0.5) * width();
    return c;
}

spectral_grid hessian_grid(int p) {
    const double r = semicircle_radius(p);
    return {-2 * r, 2 * r + 2 * p, 128};
}

spectrum_summary summarize_spectrum(const Eigen::VectorXd& ascending, double epsilon, int k,
                                    const spectral_grid& grid) {
    spectrum_summary out;
    const Eigen::Index n = ascending.size();
    const double count = static_cast<double>(n);
    const double largest = ascending.cwiseAbs().maxCoeff();
    Eigen::Index negative = 0, flat = 0;
    out.density.assign(static_cast<std::size_t>(grid.bins), 0.0);
    for (Eigen::Index i = 0; i < n; ++i) {
        const double l = ascending[i];
        negative += l < 0 ? 1 : 0;
        flat += std::abs(l) <= epsilon * largest ? 1 : 0;
        const double g = std::floor((l - grid.lo) / grid.width());
        if (g >= 0 && g < grid.bins) out.density[static_cast<std::size_t>(g)] += 1.0 / (count * grid.width());
    }
    out.negative_fraction = static_cast<double>(negative) / count;
    out.flat_fraction = static_cast<double>(flat) / count;
    out.trace = ascending.sum();
    const Eigen::Index kk = std::min<Eigen::Index>(k, n);
    for (Eigen::Index j = 0; j < kk; ++j) out.top.push_back(ascending[n - 1 - j]);
    return out;
}

void hessian_recorder::operator()(const pspin_model& model, const Eigen::VectorXd& sigma, std::int64_t, double t) {
    const Eigen::VectorXd spectrum = tangent_spectrum(model, sigma);
    m_spectra.conservativeResize(m_spectra.rows() + 1, spectrum.size());
    m_spectra.row(m_spectra.rows() - 1) = spectrum.transpose();
    m_times.push_back(t);
}

void hessian_recorder::save(checkpoint& c, const std::string& prefix) const {
    if (m_times.empty()) return;
    c.put(prefix + "t", m_times);
    c.put_matrix(prefix + "spectrum", m_spectra);
}

void hessian_recorder::restore(const checkpoint& c, const std::string& prefix, int n) {
    if (c.arrays.count(prefix + "spectrum") == 0) {
        m_times.clear();
        m_spectra.resize(0, 0);
        return;
    }
    row_matrix spectra = c.matrix(prefix + "spectrum");
    std::vector<double> times = c.vector(prefix + "t");
    if (spectra.cols() != n - 1 || static_cast<std::size_t>(spectra.rows()) != times.size())
        throw record_error("checkpoint: '" + prefix + "spectrum' has the wrong shape");
    m_spectra = std::move(spectra);
    m_times = std::move(times);
}

namespace {

// The per-sample summaries: [n_s][n_h].
std::vector<std::vector<spectrum_summary>> summaries(const std::vector<row_matrix>& spectra, double epsilon, int k,
                                                     const spectral_grid& grid) {
    std::vector<std::vector<spectrum_summary>> out(spectra.size());
    for (std::size_t s = 0; s < spectra.size(); ++s)
        for (Eigen::Index h = 0; h < spectra[s].rows(); ++h)
            out[s].push_back(summarize_spectrum(spectra[s].row(h).transpose(), epsilon, k, grid));
    return out;
}

// Sample mean [n_h] (and per-sample [n_s, n_h] when n_s > 1) of one scalar of the summaries.
void add_scalar(record& rec, const std::string& name, const std::vector<std::vector<spectrum_summary>>& sums,
                double spectrum_summary::*member) {
    const std::size_t ns = sums.size(), nh = sums.front().size();
    std::vector<double> mean(nh, 0.0), per;
    for (const auto& sample : sums)
        for (std::size_t h = 0; h < nh; ++h) {
            mean[h] += sample[h].*member / static_cast<double>(ns);
            per.push_back(sample[h].*member);
        }
    rec.extra["hessian/" + name] = array_of({nh}, std::move(mean));
    if (ns > 1) rec.extra["hessian/" + name + "_samples"] = array_of({ns, nh}, std::move(per));
}

// Sample mean [n_h, width] (and per-sample [n_s, n_h, width] when wanted) of one vector of the summaries.
void add_rows(record& rec, const std::string& name, const std::vector<std::vector<spectrum_summary>>& sums,
              std::vector<double> spectrum_summary::*member, bool per_sample) {
    const std::size_t ns = sums.size(), nh = sums.front().size(), width = (sums.front().front().*member).size();
    std::vector<double> mean(nh * width, 0.0), per;
    for (const auto& sample : sums)
        for (std::size_t h = 0; h < nh; ++h)
            for (std::size_t j = 0; j < width; ++j) {
                mean[h * width + j] += (sample[h].*member)[j] / static_cast<double>(ns);
                per.push_back((sample[h].*member)[j]);
            }
    rec.extra["hessian/" + name] = array_of({nh, width}, std::move(mean));
    if (per_sample && ns > 1) rec.extra["hessian/" + name + "_samples"] = array_of({ns, nh, width}, std::move(per));
}

} // namespace

void add_hessian_datasets(record& rec, const std::vector<double>& times, const std::vector<row_matrix>& spectra,
                          double epsilon, int k, const spectral_grid& grid) {
    if (spectra.empty() || times.empty() || spectra.front().rows() == 0) return;
    const auto sums = summaries(spectra, epsilon, k, grid);
    rec.extra["hessian/t"] = array_of({times.size()}, times);
    add_scalar(rec, "negative_fraction", sums, &spectrum_summary::negative_fraction);
    add_scalar(rec, "flat_fraction", sums, &spectrum_summary::flat_fraction);
    add_scalar(rec, "trace", sums, &spectrum_summary::trace);
    add_rows(rec, "top", sums, &spectrum_summary::top, true);
    rec.extra["hessian/density_grid"] = array_of({static_cast<std::uint64_t>(grid.bins)}, grid.centres());
    add_rows(rec, "density", sums, &spectrum_summary::density, false);
    const auto cols = static_cast<std::uint64_t>(spectra.front().cols());
    std::vector<double> all;
    for (const auto& s : spectra) all.insert(all.end(), s.data(), s.data() + s.size());
    rec.extra["hessian/spectrum"] =
        array_of({spectra.size(), static_cast<std::uint64_t>(spectra.front().rows()), cols}, std::move(all));
}

} // namespace glassy
