#include "nets/hessian.hpp"

#include "dynamics/error.hpp"
#include "dynamics/fields.hpp"
#include "nets/reduction.hpp"

#include <Eigen/Eigenvalues>
#include <Spectra/SymEigsSolver.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>
#include <random>

namespace glassy::nets {

namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

/// Restores a module's training flag when it leaves scope (also on an exception).
struct training_flag_guard {
    net_base& model;
    bool was_training;
    explicit training_flag_guard(net_base& m) : model(m), was_training(m.is_training()) {}
    ~training_flag_guard() { model.train(was_training); }
    training_flag_guard(const training_flag_guard&) = delete;
    training_flag_guard& operator=(const training_flag_guard&) = delete;
};

/// Copies tensors (any layout, dtype, device) into a flat double vector, in logical row-major order.
void flatten_into(const std::vector<torch::Tensor>& ts, double* out) {
    std::int64_t offset = 0;
    for (const auto& t : ts) {
        const torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat64).contiguous();
        std::memcpy(out + offset, c.data_ptr<double>(), static_cast<std::size_t>(c.numel()) * sizeof(double));
        offset += c.numel();
    }
}

/// A vector of n entries +-1, each from one bit of the generator.
Eigen::VectorXd rademacher(std::int64_t n, std::mt19937_64& rng) {
    Eigen::VectorXd z(n);
    for (Eigen::Index i = 0; i < n; ++i) z[i] = (rng() >> 63) != 0 ? 1.0 : -1.0;
    return z;
}

/// Spectra's view of a linear_operator.
struct spectra_operator {
    using Scalar = double;
    const linear_operator* a;
    Eigen::Index n;
    [[nodiscard]] Eigen::Index rows() const { return n; }
    [[nodiscard]] Eigen::Index cols() const { return n; }
    void perform_op(const double* x, double* y) const { (*a)(x, y); }
};

/// The dense matrix of `a`, column j = A e_j, symmetrised.
Eigen::MatrixXd dense_of(const linear_operator& a, std::int64_t n) {
    Eigen::MatrixXd h(n, n);
    Eigen::VectorXd e = Eigen::VectorXd::Zero(n);
    for (Eigen::Index j = 0; j < n; ++j) {
        e[j] = 1.0;
        a(e.data(), h.col(j).data());
        e[j] = 0.0;
    }
    return 0.5 * (h + h.transpose());
}

} // namespace

loss_hessian::loss_hessian(const network_system& sys, const std::vector<std::int64_t>& samples) {
    if (samples.empty()) throw parameter_error("loss_hessian: no samples");
    const torch::Tensor index = sys.sample_index(split::train, samples);
    for (const auto& p : sys.model().parameters()) {
        m_params.push_back(p);
        m_size += p.numel();
    }
    const training_flag_guard flag(sys.model());
    sys.model().eval();
    const auto n = static_cast<std::int64_t>(samples.size());
    constexpr std::int64_t chunk = 1024;
    double loss_sum = 0.0;
    for (std::int64_t b = 0; b < n; b += chunk) {
        const torch::Tensor part = index.slice(0, b, std::min(n, b + chunk));
        const torch::Tensor per_sample =
            sys.per_sample_loss(sys.model().forward(sys.inputs(split::train, part)), sys.labels(split::train, part));
        loss_sum += ordered_sum(per_sample.detach());
        auto g = torch::autograd::grad({per_sample.sum() / static_cast<double>(n)}, m_params, {}, true, true);
        if (m_grad.empty()) m_grad = std::move(g);
        else
            for (std::size_t i = 0; i < g.size(); ++i) m_grad[i] = m_grad[i] + g[i];
    }
    m_loss = loss_sum / static_cast<double>(n);
}

void loss_hessian::product(const double* v, double* y) const {
    // H v = d(g . v)/dw: one backward pass through the gradient's graph, with v as the output
    // gradient of g (gradients of g that do not depend on w contribute zero).
    std::vector<torch::Tensor> outputs, directions;
    std::int64_t offset = 0;
    for (std::size_t i = 0; i < m_params.size(); ++i) {
        const torch::Tensor& p = m_params[i];
        if (m_grad[i].requires_grad()) {
            outputs.push_back(m_grad[i]);
            directions.push_back(torch::from_blob(const_cast<double*>(v + offset), p.sizes(), torch::kFloat64)
                                     .to(p.device(), p.scalar_type()));
        }
        offset += p.numel();
    }
    std::fill(y, y + m_size, 0.0);
    if (outputs.empty()) return;
    const auto hv = torch::autograd::grad(outputs, m_params, directions, true, false, true);
    offset = 0;
    for (std::size_t i = 0; i < m_params.size(); ++i) {
        if (hv[i].defined()) flatten_into({hv[i]}, y + offset);
        offset += m_params[i].numel();
    }
}

Eigen::VectorXd loss_hessian::product(const Eigen::VectorXd& v) const {
    if (v.size() != m_size) throw parameter_error("loss_hessian::product: vector of the wrong length");
    Eigen::VectorXd y(m_size);
    product(v.data(), y.data());
    return y;
}

Eigen::VectorXd loss_hessian::gradient() const {
    Eigen::VectorXd g(m_size);
    flatten_into(m_grad, g.data());
    return g;
}

Eigen::MatrixXd loss_hessian::dense() const {
    return dense_of([this](const double* x, double* y) { product(x, y); }, m_size);
}

gauss_quadrature lanczos_quadrature(const linear_operator& a, std::int64_t n, Eigen::VectorXd v0, std::int64_t steps,
                                    std::int64_t top_ritz, Eigen::VectorXd* top_ritz_sum) {
    if (steps < 1 || n < 1 || v0.size() != n) throw parameter_error("lanczos_quadrature: bad sizes");
    const double norm = v0.norm();
    if (!(norm > 0.0)) throw parameter_error("lanczos_quadrature: zero start vector");
    steps = std::min(steps, n);
    Eigen::MatrixXd basis(n, steps);
    Eigen::VectorXd alpha(steps), beta(steps), w(n);
    basis.col(0) = v0 / norm;
    Eigen::Index m = 0;
    double size = 0.0; // max |alpha|, |beta| so far: the scale of T
    for (Eigen::Index j = 0; j < steps; ++j) {
        a(basis.col(j).data(), w.data());
        alpha[j] = basis.col(j).dot(w);
        size = std::max(size, std::abs(alpha[j]));
        m = j + 1;
        if (j + 1 == steps) break;
        for (int pass = 0; pass < 2; ++pass) // classical Gram-Schmidt twice against the whole basis
            w -= basis.leftCols(j + 1) * (basis.leftCols(j + 1).transpose() * w);
        beta[j] = w.norm();
        size = std::max(size, beta[j]);
        if (beta[j] <= 1e-12 * size) break; // invariant subspace: T is exact
        basis.col(j + 1) = w / beta[j];
    }
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es;
    const Eigen::VectorXd diagonal = alpha.head(m);
    const Eigen::VectorXd off = m > 1 ? Eigen::VectorXd(beta.head(m - 1)) : Eigen::VectorXd();
    es.computeFromTridiagonal(diagonal, off, Eigen::ComputeEigenvectors);
    gauss_quadrature q;
    q.nodes.assign(es.eigenvalues().data(), es.eigenvalues().data() + m);
    for (Eigen::Index j = 0; j < m; ++j) q.weights.push_back(es.eigenvectors()(0, j) * es.eigenvectors()(0, j));
    if (top_ritz_sum != nullptr) { // sum of the unit Ritz vectors V s_j of the largest Ritz values
        const Eigen::Index r = std::min<Eigen::Index>(top_ritz, m);
        *top_ritz_sum = basis.leftCols(m) * es.eigenvectors().rightCols(r).rowwise().sum();
    }
    return q;
}

eigenpairs top_eigenpairs(const linear_operator& a, std::int64_t n, std::int64_t k, double tol,
                          const Eigen::VectorXd* start) {
    if (k < 1 || k > n) throw parameter_error("top_eigenvalues: k must lie in 1..n");
    eigenpairs top;
    if (k >= n - 1) {
        const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(dense_of(a, n), Eigen::ComputeEigenvectors);
        top.vectors.resize(n, k);
        for (std::int64_t j = 0; j < k; ++j) {
            top.values.push_back(es.eigenvalues()[n - 1 - j]);
            top.vectors.col(j) = es.eigenvectors().col(n - 1 - j);
        }
        top.products = n;
        return top;
    }
    std::int64_t products = 0;
    const linear_operator counted = [&](const double* x, double* y) {
        ++products;
        a(x, y);
    };
    spectra_operator op{&counted, n};
    const std::int64_t ncv = std::min(n, std::max(2 * k + 1, k + 20));
    Spectra::SymEigsSolver<spectra_operator> eigs(op, k, ncv);
    if (start != nullptr && start->size() == n && start->norm() > 0.0) eigs.init(start->data());
    else eigs.init();
    eigs.compute(Spectra::SortRule::LargestAlge, 200, tol, Spectra::SortRule::LargestAlge);
    const Eigen::VectorXd values = eigs.eigenvalues(); // the converged ones, largest first
    top.values.assign(values.data(), values.data() + values.size());
    top.values.resize(static_cast<std::size_t>(k), nan_v);
    top.vectors = eigs.eigenvectors();
    top.products = products;
    return top;
}

double deflated_trace_sample(const Eigen::VectorXd& z, double z_a_z, const eigenpairs* deflation) {
    if (deflation == nullptr) return z_a_z;
    double s = z_a_z;
    for (Eigen::Index j = 0; j < deflation->vectors.cols(); ++j) {
        const double c = deflation->vectors.col(j).dot(z);
        s -= deflation->values[static_cast<std::size_t>(j)] * c * c;
    }
    return s;
}

trace_estimate trace_from_samples(const std::vector<double>& samples, const eigenpairs* deflation) {
    if (samples.empty()) throw parameter_error("trace_from_samples: no samples");
    const auto count = static_cast<double>(samples.size());
    double mean = 0.0;
    for (const double s : samples) mean += s;
    mean /= count;
    double var = 0.0;
    for (const double s : samples) var += (s - mean) * (s - mean);
    const double err = samples.size() > 1 ? std::sqrt(var / (count - 1) / count) : nan_v;
    double offset = 0.0;
    if (deflation != nullptr)
        for (Eigen::Index j = 0; j < deflation->vectors.cols(); ++j)
            offset += deflation->values[static_cast<std::size_t>(j)];
    return {offset + mean, err};
}

trace_estimate hutchinson_trace(const linear_operator& a, std::int64_t n, std::int64_t vectors, std::uint64_t seed,
                                const eigenpairs* deflation) {
    if (vectors < 1 || n < 1) throw parameter_error("hutchinson_trace: vectors and n must be >= 1");
    std::mt19937_64 rng(seed);
    std::vector<double> samples;
    Eigen::VectorXd y(n);
    for (std::int64_t i = 0; i < vectors; ++i) {
        const Eigen::VectorXd z = rademacher(n, rng);
        a(z.data(), y.data());
        samples.push_back(deflated_trace_sample(z, z.dot(y), deflation));
    }
    return trace_from_samples(samples, deflation);
}

spectral_fractions fractions(const std::vector<gauss_quadrature>& q, double top, double epsilon) {
    spectral_fractions f;
    f.scale = std::isfinite(top) ? std::abs(top) : 0.0;
    for (const auto& quad : q)
        for (const double node : quad.nodes) f.scale = std::max(f.scale, std::abs(node));
    if (q.empty()) return {nan_v, nan_v, f.scale};
    const double band = epsilon * f.scale;
    for (const auto& quad : q)
        for (std::size_t j = 0; j < quad.nodes.size(); ++j) {
            if (quad.nodes[j] < -band) f.negative += quad.weights[j];
            else if (quad.nodes[j] <= band) f.flat += quad.weights[j];
        }
    f.negative /= static_cast<double>(q.size());
    f.flat /= static_cast<double>(q.size());
    return f;
}

std::vector<double> smoothed_density(const std::vector<gauss_quadrature>& q, const std::vector<double>& grid,
                                     double sigma) {
    std::vector<double> rho(grid.size(), 0.0);
    if (q.empty()) return rho;
    const double norm = 1.0 / (std::sqrt(2.0 * std::numbers::pi) * sigma * static_cast<double>(q.size()));
    for (std::size_t g = 0; g < grid.size(); ++g)
        for (const auto& quad : q)
            for (std::size_t j = 0; j < quad.nodes.size(); ++j) {
                const double u = (grid[g] - quad.nodes[j]) / sigma;
                rho[g] += norm * quad.weights[j] * std::exp(-0.5 * u * u);
            }
    return rho;
}

hessian_measurement measure_hessian(const network_system& sys, const std::vector<std::int64_t>& samples,
                                    const hessian_settings& s, std::int64_t step) {
    if (s.trace_vectors < 1 || s.slq_steps < 1 || s.slq_vectors < 1)
        throw parameter_error("measure_hessian: trace vectors, SLQ steps and SLQ vectors must be >= 1");
    const loss_hessian h(sys, samples);
    const std::int64_t n = h.size();
    if (s.top < 1 || s.top > n)
        throw field_error("hessian_top", std::to_string(s.top) + " must lie in 1..M = " + std::to_string(n));
    const linear_operator op = [&h](const double* x, double* y) { h.product(x, y); };
    hessian_measurement m;
    // Streams fixed by (seed, step): a measurement draws from no generator of the training.
    const auto u = static_cast<std::uint64_t>(step);
    std::seed_seq seq{static_cast<std::uint32_t>(s.seed), static_cast<std::uint32_t>(s.seed >> 32),
                      static_cast<std::uint32_t>(u), static_cast<std::uint32_t>(u >> 32), 0x48657373u};
    std::mt19937_64 rng(seq);
    std::vector<Eigen::VectorXd> starts;
    Eigen::VectorXd warm; // Spectra's start: the top Ritz vectors of the first SLQ run, summed
    for (std::int64_t v = 0; v < s.slq_vectors; ++v) {
        starts.push_back(rademacher(n, rng));
        m.quadrature.push_back(lanczos_quadrature(op, n, starts.back(), s.slq_steps, s.top, v == 0 ? &warm : nullptr));
        m.products.slq += static_cast<std::int64_t>(m.quadrature.back().nodes.size());
    }
    // Spectra's tolerance: relative Ritz residual; float32 products carry ~1e-7 relative rounding.
    const eigenpairs top = top_eigenpairs(op, n, s.top, sys.options().dtype == torch::kFloat64 ? 1e-10 : 1e-6, &warm);
    m.top = top.values;
    m.products.top = top.products;
    std::vector<double> trace_samples;
    for (std::size_t v = 0; v < starts.size(); ++v) { // z^T H z = n v^T H v = n alpha_0 = n (quadrature's mean)
        const gauss_quadrature& q = m.quadrature[v];
        double alpha0 = 0.0;
        for (std::size_t j = 0; j < q.nodes.size(); ++j) alpha0 += q.weights[j] * q.nodes[j];
        trace_samples.push_back(deflated_trace_sample(starts[v], static_cast<double>(n) * alpha0, &top));
    }
    Eigen::VectorXd y(n);
    for (std::int64_t i = s.slq_vectors; i < s.trace_vectors; ++i) {
        const Eigen::VectorXd z = rademacher(n, rng);
        op(z.data(), y.data());
        ++m.products.trace;
        trace_samples.push_back(deflated_trace_sample(z, z.dot(y), &top));
    }
    const trace_estimate tr = trace_from_samples(trace_samples, &top);
    m.trace = tr.trace;
    m.trace_err = tr.error;
    m.fractions = fractions(m.quadrature, m.top.front(), s.flat_epsilon);
    return m;
}

void hessian_series::save(checkpoint& c, const std::string& prefix) const {
    c.put(prefix + "t", t);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const auto& r = rows[i];
        const std::string p = prefix + std::to_string(i) + "/";
        c.put(p + "top", r.top);
        c.put(p + "scalars", {r.trace, r.trace_err, r.fractions.negative, r.fractions.flat, r.fractions.scale});
        for (std::size_t v = 0; v < r.quadrature.size(); ++v) {
            c.put(p + "nodes/" + std::to_string(v), r.quadrature[v].nodes);
            c.put(p + "weights/" + std::to_string(v), r.quadrature[v].weights);
        }
        c.integers[p + "starts"] = static_cast<std::int64_t>(r.quadrature.size());
    }
}

void hessian_series::restore(const checkpoint& c, const std::string& prefix) {
    t = c.vector(prefix + "t");
    rows.assign(t.size(), {});
    for (std::size_t i = 0; i < rows.size(); ++i) {
        auto& r = rows[i];
        const std::string p = prefix + std::to_string(i) + "/";
        r.top = c.vector(p + "top");
        const std::vector<double> s = c.vector(p + "scalars");
        if (s.size() != 5) throw record_error("checkpoint: bad " + p + "scalars");
        r.trace = s[0];
        r.trace_err = s[1];
        r.fractions = {s[2], s[3], s[4]};
        const std::int64_t starts = c.integer(p + "starts");
        for (std::int64_t v = 0; v < starts; ++v) {
            gauss_quadrature q{c.vector(p + "nodes/" + std::to_string(v)),
                               c.vector(p + "weights/" + std::to_string(v))};
            if (q.nodes.size() != q.weights.size()) throw record_error("checkpoint: bad " + p + "nodes");
            r.quadrature.push_back(std::move(q));
        }
    }
}

namespace {

/// The density grid of the rows (hessian_series::write) and its smoothing width.
std::pair<std::vector<double>, double> density_grid(const std::vector<hessian_measurement>& rows) {
    constexpr int points = 401;
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    const auto widen = [&](double x) {
        lo = std::min(lo, x);
        hi = std::max(hi, x);
    };
    for (const auto& r : rows) {
        for (const double x : r.top)
            if (std::isfinite(x)) widen(x);
        for (const auto& q : r.quadrature)
            for (const double x : q.nodes) widen(x);
    }
    if (!(hi >= lo)) return {{}, nan_v};
    const double sigma = hi > lo ? (hi - lo) / 100.0 : 1.0;
    std::vector<double> grid(points);
    for (int g = 0; g < points; ++g)
        grid[static_cast<std::size_t>(g)] = lo - 5 * sigma + (hi - lo + 10 * sigma) * g / (points - 1);
    return {grid, sigma};
}

} // namespace

void hessian_series::write(record& rec, std::int64_t top, std::int64_t slq_vectors, std::int64_t slq_steps) const {
    const auto n_h = static_cast<std::uint64_t>(rows.size());
    const auto k = static_cast<std::uint64_t>(top), n_v = static_cast<std::uint64_t>(slq_vectors),
               m = static_cast<std::uint64_t>(slq_steps);
    nd_array<double> tops{{n_h, k}, {}}, nodes{{n_h, n_v, m}, {}}, weights{{n_h, n_v, m}, {}};
    std::vector<double> negative, flat, trace, trace_err;
    for (const auto& r : rows) {
        std::vector<double> row = r.top;
        row.resize(k, nan_v);
        tops.data.insert(tops.data.end(), row.begin(), row.end());
        for (std::uint64_t v = 0; v < n_v; ++v) {
            gauss_quadrature q = v < r.quadrature.size() ? r.quadrature[v] : gauss_quadrature{};
            q.nodes.resize(m, nan_v); // fewer nodes when Lanczos stopped early: NaN nodes of weight 0
            q.weights.resize(m, 0.0);
            nodes.data.insert(nodes.data.end(), q.nodes.begin(), q.nodes.end());
            weights.data.insert(weights.data.end(), q.weights.begin(), q.weights.end());
        }
        negative.push_back(r.fractions.negative);
        flat.push_back(r.fractions.flat);
        trace.push_back(r.trace);
        trace_err.push_back(r.trace_err);
    }
    const auto vec = [](const std::vector<double>& v) { return nd_array<double>{{v.size()}, v}; };
    rec.extra["hessian/t"] = vec(t);
    rec.extra["hessian/top"] = std::move(tops);
    rec.extra["hessian/negative_fraction"] = vec(negative);
    rec.extra["hessian/flat_fraction"] = vec(flat);
    rec.extra["hessian/trace"] = vec(trace);
    rec.extra["hessian/trace_err"] = vec(trace_err);
    rec.extra["hessian/quadrature_nodes"] = std::move(nodes);
    rec.extra["hessian/quadrature_weights"] = std::move(weights);
    const auto [grid, sigma] = density_grid(rows);
    nd_array<double> density{{n_h, static_cast<std::uint64_t>(grid.size())}, {}};
    for (const auto& r : rows) {
        const std::vector<double> rho = smoothed_density(r.quadrature, grid, sigma);
        density.data.insert(density.data.end(), rho.begin(), rho.end());
    }
    rec.extra["hessian/density_grid"] = vec(grid);
    rec.extra["hessian/density"] = std::move(density);
}

} // namespace glassy::nets
