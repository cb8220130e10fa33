#include "physics/ck.hpp"

#include "dynamics/error.hpp"

#include <Eigen/Dense>

#include <boost/array.hpp>
#include <boost/fusion/container/generation/make_vector.hpp>
#include <boost/numeric/odeint/algebra/default_operations.hpp>
#include <boost/numeric/odeint/algebra/range_algebra.hpp>
#include <boost/numeric/odeint/stepper/explicit_generic_rk.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace glassy {

namespace {

double ipow(double q, int p) noexcept {
    double r = 1.0;
    for (int k = 0; k < p; ++k) r *= q;
    return r;
}

/// Quadratic Lagrange interpolation through (0, y0), (1, y1), (2, y2) at u.
double lagrange3(double y0, double y1, double y2, double u) noexcept {
    return y0 * (u - 1.0) * (u - 2.0) / 2.0 - y1 * u * (u - 2.0) + y2 * u * (u - 1.0) / 2.0;
}

/// Mean over [x_{l-1}, x_l] of a function known at x_{l-1}, x_l, x_{l+1} (quadratic fit).
double moment3(double before, double at, double after) noexcept { return (5.0 * before + 8.0 * at - after) / 12.0; }

} // namespace

// ---------------------------------------------------------------------------------------------
// ck_mixture

ck_mixture ck_mixture::parse(const std::string& text) {
    ck_mixture m;
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
        const auto colon = item.find(':');
        const std::string ps = item.substr(0, colon);
        const std::string cs = colon == std::string::npos ? "1" : item.substr(colon + 1);
        int p = 0;
        double c = 0.0;
        try {
            std::size_t used = 0;
            p = std::stoi(ps, &used);
            if (used != ps.size()) throw std::invalid_argument(ps);
            c = std::stod(cs, &used);
            if (used != cs.size()) throw std::invalid_argument(cs);
        } catch (const std::exception&) {
            throw parameter_error("mix: cannot parse '" + item + "' (expected p:c, e.g. 3:1,4:1)");
        }
        if (p < 2) throw parameter_error("mix: p must be an integer >= 2 (got " + ps + ")");
        if (!std::isfinite(c) || c < 0.0) throw parameter_error("mix: c_p must be finite and >= 0 (got " + cs + ")");
        const auto it = std::find_if(m.m_terms.begin(), m.m_terms.end(), [p](const auto& t) { return t.first == p; });
        if (it != m.m_terms.end()) throw parameter_error("mix: p = " + ps + " given twice");
        if (c > 0.0) m.m_terms.emplace_back(p, c);
    }
    if (m.m_terms.empty()) throw parameter_error("mix: '" + text + "' has no term with c_p > 0");
    std::sort(m.m_terms.begin(), m.m_terms.end());
    return m;
}

ck_mixture ck_mixture::pure(int p) { return parse(std::to_string(p) + ":1"); }

double ck_mixture::f(double q) const noexcept {
    double s = 0.0;
    for (const auto& [p, c] : m_terms) s += 0.5 * c * ipow(q, p);
    return s;
}
double ck_mixture::f1(double q) const noexcept {
    double s = 0.0;
    for (const auto& [p, c] : m_terms) s += 0.5 * c * p * ipow(q, p - 1);
    return s;
}
double ck_mixture::f2(double q) const noexcept {
    double s = 0.0;
    for (const auto& [p, c] : m_terms) s += 0.5 * c * p * (p - 1) * ipow(q, p - 2);
    return s;
}
int ck_mixture::pure_p() const noexcept {
    return m_terms.size() == 1 && m_terms[0].second == 1.0 ? m_terms[0].first : 0;
}
std::string ck_mixture::str() const {
    std::ostringstream os;
    os.precision(17);
    for (std::size_t k = 0; k < m_terms.size(); ++k)
        os << (k ? "," : "") << m_terms[k].first << ':' << m_terms[k].second;
    return os.str();
}

// ---------------------------------------------------------------------------------------------
// ck_system

ck_system::ck_system(ck_mixture mix, double T, double T0)
    : m_mix(std::move(mix)), m_T(T), m_T0(T0), m_beta0(std::isinf(T0) ? 0.0 : 1.0 / T0) {
    if (!std::isfinite(T) || T < 0.0) throw parameter_error("ck: T must be finite and >= 0");
    if (std::isnan(T0) || T0 <= 0.0) throw parameter_error("ck: T0 must be > 0 (or infinity)");
    if (const double td = dynamical_temperature(m_mix); std::isfinite(T0) && T0 <= td) {
        char msg[256];
        std::snprintf(msg, sizeof msg,
                      "T0 = %g is not above the dynamical temperature T_d = %.6f of f = %s: the equilibrium start "
                      "exists only for T0 > T_d (or T0 = infinity)",
                      T0, td, m_mix.str().c_str());
        throw parameter_error(msg);
    }
}

double ck_energy(const ck_system& sys, const ck_state& x) {
    const auto i = static_cast<std::size_t>(x.n);
    const auto& mix = sys.mixture();
    double s = 0.0;
    if (!x.r.empty()) { // reference: trapezoid over the row
        const auto& c = x.c[i];
        const auto& r = x.r[i];
        for (std::size_t l = 0; l <= i && i > 0; ++l) {
            const double w = (l == 0 || l == i) ? 0.5 : 1.0;
            s += w * mix.f1(c[l]) * r[l];
        }
        s *= x.h;
    } else { // FDT part exactly, violation part by moments (see ck_decimation::step)
        const double a = sys.temperature() > 0.0 ? 1.0 / sys.temperature() : 0.0;
        for (std::size_t l = 1; l <= i; ++l) s += x.f1v[i][l] * x.dq[i][l];
        s += a * (mix.f(1.0) - mix.f(x.c[i][0]));
    }
    return -s - sys.beta0() * mix.f(x.c[i][0]);
}

double ck_mu(const ck_system& sys, const ck_state& x) {
    const auto i = static_cast<std::size_t>(x.n);
    const auto& mix = sys.mixture();
    double s = 0.0;
    if (!x.r.empty()) {
        const auto& c = x.c[i];
        const auto& r = x.r[i];
        for (std::size_t l = 0; l <= i && i > 0; ++l) {
            const double w = (l == 0 || l == i) ? 0.5 : 1.0;
            s += w * (mix.f2(c[l]) * c[l] + mix.f1(c[l])) * r[l];
        }
        s *= x.h;
    } else {
        const double a = sys.temperature() > 0.0 ? 1.0 / sys.temperature() : 0.0;
        for (std::size_t l = 1; l <= i; ++l) s += x.gv[i][l] * x.dq[i][l];
        s += a * (mix.f1(1.0) - x.c[i][0] * mix.f1(x.c[i][0]));
    }
    const double c0 = x.c[i][0];
    return sys.temperature() + s + sys.beta0() * mix.f1(c0) * c0;
}

namespace {
void push_history(const ck_system& sys, ck_state& x) {
    x.time.push_back(x.now());
    x.energy.push_back(ck_energy(sys, x));
    x.mu.push_back(ck_mu(sys, x));
    ++x.rows_computed;
    if (!std::isfinite(x.energy.back()) || !std::isfinite(x.mu.back()))
        throw divergence_error("ck: non-finite energy at t = " + std::to_string(x.now()) + " (reduce the step)");
}
} // namespace

// ---------------------------------------------------------------------------------------------
// Reference integrator

namespace {

using row_vector = std::vector<double>;
namespace odeint = boost::numeric::odeint;
// Heun = explicit RK2 with tableau c = (0, 1), a21 = 1, b = (1/2, 1/2): predictor (Euler to
// t + h) then corrector (trapezoid of the two slopes). always_resizer: the row grows each step.
using heun_stepper = odeint::explicit_generic_rk<2, 2, row_vector, double, row_vector, double, odeint::range_algebra,
                                                 odeint::default_operations, odeint::always_resizer>;

heun_stepper make_heun() {
    const boost::array<double, 1> a1 = {{1.0}};
    const heun_stepper::coef_a_type a = boost::fusion::make_vector(a1);
    const heun_stepper::coef_b_type b = {{0.5, 0.5}};
    const heun_stepper::coef_c_type c = {{0.0, 1.0}};
    return heun_stepper(a, b, c);
}

/// Right-hand side of the CK equations for the row y = (C(t,t_j), R(t,t_j))_{j=0..n}, t = t_k
/// with k = n (the stored newest row) or n + 1 (the predicted row; the diagonal C = R = 1 is
/// implied). Memory integrals: trapezoid over the grid s_l = l h.
struct reference_rhs {
    const ck_system& sys;
    const ck_state& g;

    void operator()(const row_vector& y, row_vector& dydt, double t) const {
        const double h = g.h;
        const auto n = static_cast<std::size_t>(g.n);
        const auto k = static_cast<std::size_t>(std::lround(t / h));
        const auto& mix = sys.mixture();
        const double beta0 = sys.beta0();
        std::vector<double> ck(k + 1), rk(k + 1), a(k + 1), b(k + 1);
        for (std::size_t j = 0; j <= n; ++j) {
            ck[j] = y[2 * j];
            rk[j] = y[2 * j + 1];
        }
        if (k == n + 1) ck[k] = rk[k] = 1.0;
        double mu_int = 0.0;
        for (std::size_t l = 0; l <= k; ++l) {
            a[l] = mix.f2(ck[l]) * rk[l];
            b[l] = mix.f1(ck[l]);
            const double w = k == 0 ? 0.0 : ((l == 0 || l == k) ? 0.5 : 1.0);
            mu_int += w * (a[l] * ck[l] + b[l] * rk[l]);
        }
        const double mu = sys.temperature() + h * mu_int + beta0 * b[0] * ck[0];
        const auto crow = [&](std::size_t r) -> const double* { return r == k ? ck.data() : g.c[r].data(); };
        const auto rrow = [&](std::size_t r) -> const double* { return r == k ? rk.data() : g.r[r].data(); };
        dydt.resize(y.size());
#pragma omp parallel for schedule(dynamic, 16) if (n >= 192)
        for (std::size_t j = 0; j <= n; ++j) {
            const double* cj = crow(j);
            const double* rj = rrow(j);
            // A = int_0^t f''(C(t,s)) R(t,s) C(s,t_j) ds, C symmetric.
            double A = 0.0;
            for (std::size_t l = 0; l <= k; ++l) {
                const double w = k == 0 ? 0.0 : ((l == 0 || l == k) ? 0.5 : 1.0);
                A += w * a[l] * (l < j ? cj[l] : crow(l)[j]);
            }
            // B = int_0^{t_j} f'(C(t,s)) R(t_j,s) ds.
            double B = 0.0;
            for (std::size_t l = 0; l <= j; ++l) {
                const double w = j == 0 ? 0.0 : ((l == 0 || l == j) ? 0.5 : 1.0);
                B += w * b[l] * rj[l];
            }
            // D = int_{t_j}^t f''(C(t,s)) R(t,s) R(s,t_j) ds.
            double D = 0.0;
            for (std::size_t l = j; l <= k; ++l) {
                const double w = (l == j || l == k) ? 0.5 : 1.0;
                D += w * a[l] * rrow(l)[j];
            }
            if (j == k) D = 0.0;
            dydt[2 * j] = -mu * ck[j] + h * (A + B) + beta0 * b[0] * cj[0];
            dydt[2 * j + 1] = -mu * rk[j] + h * D;
        }
    }
};

} // namespace

ck_reference::ck_reference(double h) : m_h(h) {
    if (!(h > 0.0) || !std::isfinite(h)) throw parameter_error("ck: the step dt must be > 0");
}

ck_state ck_reference::initial_state(const ck_system& sys) const {
    ck_state x;
    x.h = m_h;
    x.n = 0;
    x.c = {{1.0}};
    x.r = {{1.0}};
    push_history(sys, x);
    return x;
}

void ck_reference::step(const ck_system& sys, ck_state& x) {
    const auto n = static_cast<std::size_t>(x.n);
    row_vector y(2 * (n + 1));
    for (std::size_t j = 0; j <= n; ++j) {
        y[2 * j] = x.c[n][j];
        y[2 * j + 1] = x.r[n][j];
    }
    heun_stepper stepper = make_heun();
    stepper.do_step(reference_rhs{sys, x}, y, static_cast<double>(n) * m_h, m_h);
    std::vector<double> c(n + 2), r(n + 2);
    for (std::size_t j = 0; j <= n; ++j) {
        c[j] = y[2 * j];
        r[j] = y[2 * j + 1];
    }
    c[n + 1] = r[n + 1] = 1.0;
    x.c.push_back(std::move(c));
    x.r.push_back(std::move(r));
    x.n = static_cast<std::int64_t>(n + 1);
    push_history(sys, x);
}

std::int64_t ck_reference::steps_to(double tmax) const {
    return std::max<std::int64_t>(0, static_cast<std::int64_t>(std::ceil(tmax / m_h - 1e-9)));
}

// ---------------------------------------------------------------------------------------------
// Decimation (Kim–Latz) integrator

ck_decimation::ck_decimation(ck_decimation_options opt) : m_opt(opt) {
    if (m_opt.grid < 16 || m_opt.grid % 2 != 0) throw parameter_error("ck: grid must be even and >= 16");
    if (m_opt.copied < 2 || m_opt.copied > m_opt.grid / 8) throw parameter_error("ck: copied must be in [2, grid/8]");
    if (!(m_opt.h0 > 0.0) || !std::isfinite(m_opt.h0)) throw parameter_error("ck: the initial step dt must be > 0");
    if (!(m_opt.tolerance > 0.0)) throw parameter_error("ck: tolerance must be > 0");
    if (m_opt.max_iterations < 1) throw parameter_error("ck: max_iterations must be >= 1");
    if (m_opt.slow_row_factor < 1) throw parameter_error("ck: slow_row_factor must be >= 1");
}

ck_state ck_decimation::initial_state(const ck_system& sys) const {
    const auto N = static_cast<std::size_t>(m_opt.grid);
    const auto& mix = sys.mixture();
    ck_state x;
    x.h = m_opt.h0;
    const auto square = [N] { return std::vector<std::vector<double>>(N + 1, std::vector<double>(N + 1, 0.0)); };
    x.c = square();
    x.chi = square();
    x.cv = square();
    x.xv = square();
    x.f1v = square();
    x.f2v = square();
    x.gv = square();
    x.dx = square();
    x.cht = square();
    x.xht = square();
    x.ct = square();
    x.xt = square();
    x.dq = square();
    const double afdt = sys.temperature() > 0.0 ? 1.0 / sys.temperature() : 0.0;
    // Short-time expansion (stationary to second order in tau = t - t'):
    // C = 1 - T tau + (T^2 - f'(1) + 2 f'(1) T / T0) tau^2 / 2,  chi = tau - mu(0) tau^2 / 2.
    const double T = sys.temperature();
    const double a2 = T * T - mix.f1(1.0) + 2.0 * sys.beta0() * mix.f1(1.0) * T;
    const double mu0 = sys.initial_mu();
    const auto cst = [&](double tau) { return 1.0 - T * tau + 0.5 * a2 * tau * tau; };
    const auto xst = [&](double tau) { return tau - 0.5 * mu0 * tau * tau; };
    const auto mean = [](auto&& fn, double lo, double hi) { // Simpson
        return (fn(lo) + 4.0 * fn(0.5 * (lo + hi)) + fn(hi)) / 6.0;
    };
    const double h = x.h;
    const auto nc = static_cast<std::size_t>(m_opt.copied);
    for (std::size_t i = 0; i <= nc; ++i) {
        for (std::size_t j = 0; j <= i; ++j) {
            const double tau = static_cast<double>(i - j) * h;
            x.c[i][j] = cst(tau);
            x.chi[i][j] = xst(tau);
        }
        for (std::size_t l = 1; l <= i; ++l) {
            const double lo = static_cast<double>(i - l) * h, hi = lo + h;
            x.cv[i][l] = mean(cst, lo, hi);
            x.xv[i][l] = mean(xst, lo, hi);
            x.f1v[i][l] = mean([&](double u) { return mix.f1(cst(u)); }, lo, hi);
            x.f2v[i][l] = mean([&](double u) { return mix.f2(cst(u)); }, lo, hi);
            x.gv[i][l] = mean(
                [&](double u) {
                    const double q = cst(u);
                    return mix.f2(q) * q + mix.f1(q);
                },
                lo, hi);
            x.dx[i][l] = x.chi[i][l - 1] - x.chi[i][l];
            x.dq[i][l] = x.dx[i][l] - afdt * (x.c[i][l] - x.c[i][l - 1]);
        }
        for (std::size_t j = 0; j <= i; ++j) {
            x.ct[j][i] = x.c[i][j];
            x.xt[j][i] = x.chi[i][j];
        }
        for (std::size_t j = 0; j < i; ++j) { // column j, interval i: u - t_j in [(i-1-j)h, (i-j)h]
            const double lo = static_cast<double>(i - 1 - j) * h, hi = lo + h;
            x.cht[j][i] = mean(cst, lo, hi);
            x.xht[j][i] = mean(xst, lo, hi);
        }
        x.n = static_cast<std::int64_t>(i);
        if (i == 0) {
            x.time.push_back(0.0);
            x.energy.push_back(sys.initial_energy());
            x.mu.push_back(sys.initial_mu());
            ++x.rows_computed;
        } else {
            push_history(sys, x);
        }
    }
    return x;
}

void ck_decimation::decimate(ck_state& x, double a) const {
    const auto N = static_cast<std::size_t>(m_opt.grid);
    const std::size_t half = N / 2;
    for (std::size_t k = 0; k <= half; ++k) {
        for (std::size_t m = 0; m <= k; ++m) {
            x.c[k][m] = x.c[2 * k][2 * m];
            x.chi[k][m] = x.chi[2 * k][2 * m];
        }
        for (std::size_t m = 1; m <= k; ++m) {
            for (auto* v : {&x.cv, &x.xv, &x.f1v, &x.f2v, &x.gv})
                (*v)[k][m] = 0.5 * ((*v)[2 * k][2 * m - 1] + (*v)[2 * k][2 * m]);
            x.dx[k][m] = x.chi[k][m - 1] - x.chi[k][m];
            x.dq[k][m] = x.dx[k][m] - a * (x.c[k][m] - x.c[k][m - 1]);
        }
        for (std::size_t l = k; l <= half; ++l) {
            x.ct[k][l] = x.ct[2 * k][2 * l];
            x.xt[k][l] = x.xt[2 * k][2 * l];
        }
        for (std::size_t l = k + 1; l <= half; ++l) {
            x.cht[k][l] = 0.5 * (x.cht[2 * k][2 * l - 1] + x.cht[2 * k][2 * l]);
            x.xht[k][l] = 0.5 * (x.xht[2 * k][2 * l - 1] + x.xht[2 * k][2 * l]);
        }
    }
    x.h *= 2.0;
    x.n = static_cast<std::int64_t>(half);
}

// Row i being added by step(): its indices and the constants every stage uses.
struct ck_decimation::row {
    std::size_t i;  // the new row
    std::size_t nc; // rows near the diagonal that are copied
    std::size_t jm; // columns 0..jm are solved for, the rest copied
    double h;       // grid step
    double T;       // temperature
    double a;       // weight of the FDT part of R ds = a dC + dQ (1/T, 0 at T = 0)
    double beta0;   // 1/T0
    double f1_one;  // f'(1)
};

// Anderson history of the fixed-point iteration of one row: residuals F and images G.
struct ck_decimation::anderson_history {
    std::vector<Eigen::VectorXd> f, g;
};

void ck_decimation::step(const ck_system& sys, ck_state& x) {
    if (x.n == m_opt.grid) decimate(x, sys.temperature() > 0.0 ? 1.0 / sys.temperature() : 0.0);
    const row r = begin_row(sys, x);
    copy_near_diagonal(r, x);
    predict(r, x);
    age_near_diagonal(sys, r, x);
    anderson_history history;
    int it = 0;
    for (;; ++it) {
        const double change = iterate_row(r, x, refresh_row(sys, r, x));
        anderson_mix(r, x, history);
        age_near_diagonal(sys, r, x);
        if (converged(r, change, it)) break;
    }
    m_last_iterations = it + 1;
    finish_row(sys, r, x);
}

ck_decimation::row ck_decimation::begin_row(const ck_system& sys, const ck_state& x) {
    row r{};
    r.i = static_cast<std::size_t>(x.n + 1);
    r.nc = static_cast<std::size_t>(m_opt.copied);
    r.jm = r.i - r.nc - 1;
    r.h = x.h;
    r.T = sys.temperature();
    r.a = r.T > 0.0 ? 1.0 / r.T : 0.0;
    r.beta0 = sys.beta0();
    r.f1_one = sys.mixture().f1(1.0);
    m_w.assign(r.i + 1, 0.0);  // f''-moment times dQ on row i
    m_f1.assign(r.i + 1, 0.0); // Phi_l = f'(C(t_i, t_l))
    m_f2.assign(r.i + 1, 0.0);
    m_g.assign(r.i + 1, 0.0);
    m_dphi.assign(r.i + 1, 0.0);
    m_cnew.resize(r.jm + 1);
    m_xnew.resize(r.jm + 1);
    return r;
}

// (1) Near the diagonal (t - t' <= copied h): carried over from the previous row.
void ck_decimation::copy_near_diagonal(const row& r, ck_state& x) {
    const std::size_t i = r.i, nc = r.nc;
    auto& c = x.c;
    auto& chi = x.chi;
    for (std::size_t j = i - nc; j <= i; ++j) {
        c[i][j] = j == i ? 1.0 : c[i - 1][j - 1];
        chi[i][j] = j == i ? 0.0 : chi[i - 1][j - 1];
    }
    for (std::size_t l = i - nc + 1; l <= i; ++l)
        for (auto* v : {&x.cv, &x.xv, &x.f1v, &x.f2v, &x.gv}) (*v)[i][l] = (*v)[i - 1][l - 1];
    for (std::size_t j = i - nc; j <= i - 1; ++j) {
        x.cht[j][i] = x.cht[j - 1][i - 1];
        x.xht[j][i] = x.xht[j - 1][i - 1];
    }
}

// (1b) The copied band ages with its neighbours (issue 16): along the diagonal direction the
// first solved column moved by d = C(t_i, t_i - (nc+1)h) - C(t_{i-1}, t_{i-1} - (nc+1)h) (chi
// likewise) since the previous row; the drift is interpolated linearly to 0 at lag 0 (C(t,t) = 1,
// chi(t,t) = 0 at every t) and added to the carried-over values, and the carried-over moments
// move by the mean drift of their two end points. Without it the band keeps the values of the
// row where it was last solved (up to t/2 earlier): a bias of order copied/N in e(t), always
// downwards, that took e(t) below e_th from t ~ 1e6 at N = 512 (docs/ck.md section 4). Called
// after every iteration (the drift depends on the solved column); the first row after the start
// has no solved column to follow and keeps the copy, and so does the first row after a
// decimation: there the solved column changes grid (lag (nc+1)h solved with the doubled step
// against the decimated row's value from the finer grid), and that jump is discretisation
// error, not aging (it put the band of an equilibrated T = 0.8 run off C_eq by 1e-2).
void ck_decimation::age_near_diagonal(const ck_system& sys, const row& r, ck_state& x) const {
    const std::size_t i = r.i, nc = r.nc, jm = r.jm;
    const bool after_decimation = i == static_cast<std::size_t>(m_opt.grid / 2 + 1) && x.h > 1.5 * m_opt.h0;
    if (jm == 0 || after_decimation) return;
    const double m = static_cast<double>(nc + 1);
    const double dc = (x.c[i][jm] - x.c[i - 1][jm - 1]) / m;
    const double dx = (x.chi[i][jm] - x.chi[i - 1][jm - 1]) / m;
    for (std::size_t j = i - nc; j < i; ++j) {
        const auto k = static_cast<double>(i - j);
        x.c[i][j] = x.c[i - 1][j - 1] + k * dc;
        x.chi[i][j] = x.chi[i - 1][j - 1] + k * dx;
    }
    age_band_moments(sys, r, x);
}

// The moments of the band of row i (vertical, intervals l > i - nc) and of its columns
// (horizontal, interval i of columns j >= i - nc): the carried-over value plus the mean of the
// drifts at the interval's two end points (0 on the diagonal).
void ck_decimation::age_band_moments(const ck_system& sys, const row& r, ck_state& x) {
    const auto& mix = sys.mixture();
    const std::size_t i = r.i, nc = r.nc;
    const auto drift = [&](std::size_t j, auto&& F) { return j == i ? 0.0 : F(x.c[i][j]) - F(x.c[i - 1][j - 1]); };
    const auto id = [](double q) { return q; };
    const auto f1 = [&](double q) { return mix.f1(q); };
    const auto f2 = [&](double q) { return mix.f2(q); };
    const auto g = [&](double q) { return mix.f2(q) * q + mix.f1(q); };
    const auto xdrift = [&](std::size_t j) { return j == i ? 0.0 : x.chi[i][j] - x.chi[i - 1][j - 1]; };
    for (std::size_t l = i - nc + 1; l <= i; ++l) {
        x.cv[i][l] = x.cv[i - 1][l - 1] + 0.5 * (drift(l - 1, id) + drift(l, id));
        x.xv[i][l] = x.xv[i - 1][l - 1] + 0.5 * (xdrift(l - 1) + xdrift(l));
        x.f1v[i][l] = x.f1v[i - 1][l - 1] + 0.5 * (drift(l - 1, f1) + drift(l, f1));
        x.f2v[i][l] = x.f2v[i - 1][l - 1] + 0.5 * (drift(l - 1, f2) + drift(l, f2));
        x.gv[i][l] = x.gv[i - 1][l - 1] + 0.5 * (drift(l - 1, g) + drift(l, g));
    }
    for (std::size_t j = i - nc; j < i; ++j) { // interval i of column j: end points at rows i - 1, i
        const double c_before = x.c[i - 1][j] - x.c[i - 2][j - 1];
        const double x_before = x.chi[i - 1][j] - x.chi[i - 2][j - 1];
        x.cht[j][i] = x.cht[j - 1][i - 1] + 0.5 * (c_before + x.c[i][j] - x.c[i - 1][j - 1]);
        x.xht[j][i] = x.xht[j - 1][i - 1] + 0.5 * (x_before + xdrift(j));
    }
}

// (2) Predictor: linear extrapolation in t.
void ck_decimation::predict(const row& r, ck_state& x) {
    const std::size_t i = r.i;
    for (std::size_t j = 0; j <= r.jm; ++j) {
        x.c[i][j] = 2.0 * x.c[i - 1][j] - x.c[i - 2][j];
        x.chi[i][j] = 2.0 * x.chi[i - 1][j] - x.chi[i - 2][j];
    }
}

// Quantities of row i that depend on its (iterated) values; returns mu(t_i).
double ck_decimation::refresh_row(const ck_system& sys, const row& r, ck_state& x) {
    const auto& mix = sys.mixture();
    const std::size_t i = r.i;
    const auto& c = x.c;
    const auto& chi = x.chi;
    for (std::size_t j = 0; j <= i; ++j) {
        const double q = c[i][j];
        m_f1[j] = mix.f1(q);
        m_f2[j] = mix.f2(q);
        m_g[j] = m_f2[j] * q + m_f1[j];
    }
    for (std::size_t l = 1; l <= i - r.nc; ++l) {
        x.cv[i][l] = moment3(c[i][l - 1], c[i][l], c[i][l + 1]);
        x.xv[i][l] = moment3(chi[i][l - 1], chi[i][l], chi[i][l + 1]);
        x.f1v[i][l] = moment3(m_f1[l - 1], m_f1[l], m_f1[l + 1]);
        x.f2v[i][l] = moment3(m_f2[l - 1], m_f2[l], m_f2[l + 1]);
        x.gv[i][l] = moment3(m_g[l - 1], m_g[l], m_g[l + 1]);
    }
    double s = 0.0;
    for (std::size_t l = 1; l <= i; ++l) {
        x.dx[i][l] = chi[i][l - 1] - chi[i][l];
        x.dq[i][l] = x.dx[i][l] - r.a * (c[i][l] - c[i][l - 1]);
        s += x.gv[i][l] * x.dq[i][l];
        m_w[l] = x.f2v[i][l] * x.dq[i][l];
        m_dphi[l] = m_f1[l] - m_f1[l - 1];
    }
    const double c0 = c[i][0];
    return r.T + r.a * (r.f1_one - c0 * m_f1[0]) + s + r.beta0 * m_f1[0] * c0;
}

// (3) One sweep of the implicit equations of row i at multiplier mu: the new C and chi of the
// solved columns into m_cnew, m_xnew; returns the largest change. Throws divergence_error
// when it is not finite.
double ck_decimation::iterate_row(const row& r, const ck_state& x, double mu) {
    const std::size_t i = r.i;
    const double a = r.a;
    const double inv2h = 1.0 / (2.0 * r.h);
    const double wi = m_w[i];
    const double f1vi = x.f1v[i][i];
    const double denom = 3.0 * inv2h + mu - a * (r.f1_one - f1vi) - 5.0 * wi / 12.0;
    double change = 0.0;
#pragma omp parallel for schedule(dynamic, 8) reduction(max : change) if (r.jm >= 192)
    for (std::size_t j = 0; j <= r.jm; ++j) {
        const std::size_t m = (i + j) / 2;
        const double* w = m_w.data();
        const double* dp = m_dphi.data();
        const double* f1v = x.f1v[i].data();
        const double* cvj = x.cv[j].data();
        const double* dqj = x.dq[j].data();
        const double* chtj = x.cht[j].data();
        const double* xhtj = x.xht[j].data();
        const double* ctj = x.ct[j].data();
        const double* xtj = x.xt[j].data();
        double s_cv_w = 0.0, s_b = 0.0;
        for (std::size_t l = 1; l <= j; ++l) {
            s_cv_w += w[l] * cvj[l];
            s_b += f1v[l] * dqj[l];
        }
        double s_cht_dphi = 0.0, s_xht_dphi = 0.0;
        for (std::size_t l = j + 1; l <= m; ++l) {
            s_cht_dphi += chtj[l] * dp[l];
            s_xht_dphi += xhtj[l] * dp[l];
        }
        double s_tail_c = 0.0, s_tail_x = 0.0;
        for (std::size_t l = m + 1; l < i; ++l) {
            s_tail_c += (ctj[l] - ctj[l - 1]) * f1v[l];
            s_tail_x += (xtj[l] - xtj[l - 1]) * f1v[l];
        }
        double s_cht_w = 0.0, s_xht_w = 0.0;
        for (std::size_t l = j + 1; l < i; ++l) {
            s_cht_w += w[l] * chtj[l];
            s_xht_w += w[l] * xhtj[l];
        }
        const double c1 = ctj[i - 1], c2 = ctj[i - 2];
        const double x1 = xtj[i - 1], x2 = xtj[i - 2];
        const double phi0 = m_f1[0], phim = m_f1[m];
        const double cj0 = x.c[j][0];
        const double fdt_c = m_f1[j] - phi0 * cj0 + s_cht_dphi - ctj[m] * phim - s_tail_c + c1 * f1vi;
        const double fdt_x = s_xht_dphi - xtj[m] * phim - s_tail_x + x1 * f1vi;
        const double cn = ((4.0 * c1 - c2) * inv2h + a * fdt_c + s_cv_w + s_cht_w + wi * (8.0 * c1 - c2) / 12.0 + s_b +
                           r.beta0 * phi0 * cj0) /
                          denom;
        const double xn = ((4.0 * x1 - x2) * inv2h + 1.0 + a * fdt_x + s_xht_w + wi * (8.0 * x1 - x2) / 12.0) / denom;
        change = std::max(change, std::max(std::abs(cn - x.c[i][j]), std::abs(xn - x.chi[i][j])));
        m_cnew[j] = cn;
        m_xnew[j] = xn;
    }
    if (!std::isfinite(change))
        throw divergence_error("ck: non-finite C at t = " + std::to_string(static_cast<double>(i) * r.h));
    return change;
}

// (4) Anderson acceleration of the fixed-point map x -> G(x) (x = the solved part of row i,
// G(x) = m_cnew, m_xnew): plain iteration contracts slowly once h is large (the row equation
// then tends to a nonlinear integral equation); mixing over a short history keeps it fast.
// Writes the mixed values into row i.
void ck_decimation::anderson_mix(const row& r, ck_state& x, anderson_history& history) const {
    constexpr int anderson_depth = 6;
    const std::size_t i = r.i, jm = r.jm;
    const auto m2 = static_cast<Eigen::Index>(2 * (jm + 1));
    Eigen::VectorXd xk(m2), gk(m2);
    for (std::size_t j = 0; j <= jm; ++j) {
        xk(static_cast<Eigen::Index>(2 * j)) = x.c[i][j];
        xk(static_cast<Eigen::Index>(2 * j + 1)) = x.chi[i][j];
        gk(static_cast<Eigen::Index>(2 * j)) = m_cnew[j];
        gk(static_cast<Eigen::Index>(2 * j + 1)) = m_xnew[j];
    }
    const Eigen::VectorXd fk = gk - xk;
    Eigen::VectorXd next = gk;
    if (!history.f.empty()) {
        const auto cols = static_cast<Eigen::Index>(history.f.size());
        Eigen::MatrixXd dF(m2, cols), dG(m2, cols);
        for (Eigen::Index k = 0; k < cols; ++k) {
            dF.col(k) = fk - history.f[static_cast<std::size_t>(k)];
            dG.col(k) = gk - history.g[static_cast<std::size_t>(k)];
        }
        const Eigen::VectorXd gamma = dF.colPivHouseholderQr().solve(fk);
        if (gamma.allFinite()) next = gk - dG * gamma;
    }
    history.f.push_back(fk);
    history.g.push_back(gk);
    if (static_cast<int>(history.f.size()) > anderson_depth) {
        history.f.erase(history.f.begin());
        history.g.erase(history.g.begin());
    }
    for (std::size_t j = 0; j <= jm; ++j) {
        x.c[i][j] = next(static_cast<Eigen::Index>(2 * j));
        x.chi[i][j] = next(static_cast<Eigen::Index>(2 * j + 1));
    }
}

// (5) Whether iteration `it` (from 0) with this change ends the row. Long runs can stall a
// little above the tolerance at the rounding floor of the memory sums; a stall below 1e3
// tolerance is accepted at max_iterations. Above it the row goes on up to
// slow_row_factor * max_iterations, accepted as soon as the change is below 1e3 tolerance:
// from t ~ 1e6 at T = 0.5 the fixed-point map contracts slowly (rows of 200-600 iterations on a
// grid of 256 near 1e7-1e8, docs/ck.md section 3). Only the error estimate's N/2 grid allows it
// (slow_row_factor 10): on the run's own grid a slow row can also be the start of wrong values.
bool ck_decimation::converged(const row& r, double change, int it) const {
    if (change < m_opt.tolerance) return true;
    if (it + 1 < m_opt.max_iterations) return false;
    if (change < 1e3 * m_opt.tolerance) return true;
    if (it + 1 < m_opt.slow_row_factor * m_opt.max_iterations) return false;
    char msg[160];
    std::snprintf(msg, sizeof msg, "ck: implicit step did not converge at t = %.6g (last change %.3g); raise grid",
                  static_cast<double>(r.i) * r.h, change);
    throw divergence_error(msg);
}

// (6) The converged row: its moments, the transposed tables, the row count and the history.
void ck_decimation::finish_row(const ck_system& sys, const row& r, ck_state& x) {
    const std::size_t i = r.i;
    refresh_row(sys, r, x);
    const auto& c = x.c;
    const auto& chi = x.chi;
    for (std::size_t j = 0; j <= r.jm; ++j) {
        x.cht[j][i] = (5.0 * c[i][j] + 8.0 * c[i - 1][j] - c[i - 2][j]) / 12.0;
        x.xht[j][i] = (5.0 * chi[i][j] + 8.0 * chi[i - 1][j] - chi[i - 2][j]) / 12.0;
    }
    for (std::size_t j = 0; j <= i; ++j) {
        x.ct[j][i] = c[i][j];
        x.xt[j][i] = chi[i][j];
    }
    x.n = static_cast<std::int64_t>(i);
    push_history(sys, x);
}

std::int64_t ck_decimation::steps_to(double tmax) const {
    std::int64_t n = m_opt.copied, steps = 0;
    double h = m_opt.h0;
    while (static_cast<double>(n) * h < tmax * (1.0 - 1e-12)) {
        if (n == m_opt.grid) {
            n /= 2;
            h *= 2.0;
        }
        ++n;
        ++steps;
    }
    return steps;
}

// ---------------------------------------------------------------------------------------------
// Grid access

double ck_interpolate_c(const ck_state& x, double ta, double tb) {
    const double h = x.h;
    const double eps = 1e-9 * h;
    if (tb < -eps || tb > ta + eps || ta > x.now() + eps) throw error("ck_interpolate_c: times outside the grid");
    const auto n = x.n;
    if (n < 2) throw error("ck_interpolate_c: grid too small");
    const double ua = ta / h, ub = tb / h;
    const auto r0 = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(ua)) - 1, 0, n - 2);
    double vals[3];
    for (int k = 0; k < 3; ++k) {
        const auto r = r0 + k;
        const auto s0 = std::clamp<std::int64_t>(static_cast<std::int64_t>(std::floor(ub)) - 1, 0,
                                                 std::max<std::int64_t>(r - 2, 0));
        const auto& row = x.c[static_cast<std::size_t>(r)];
        if (r < 2) {
            vals[k] = row[static_cast<std::size_t>(std::min<std::int64_t>(r, std::llround(ub)))];
            continue;
        }
        vals[k] = lagrange3(row[static_cast<std::size_t>(s0)], row[static_cast<std::size_t>(s0 + 1)],
                            row[static_cast<std::size_t>(s0 + 2)], ub - static_cast<double>(s0));
    }
    return lagrange3(vals[0], vals[1], vals[2], ua - static_cast<double>(r0));
}

double ck_short_lag_correlation(const ck_system& sys, const ck_state& x, double t, double tau) {
    const auto& ts = x.time;
    if (ts.size() < 3 || t < ts.front() || t > ts.back())
        throw error("ck_short_lag_correlation: t outside the history");
    const auto k = std::clamp<std::size_t>(
        static_cast<std::size_t>(std::lower_bound(ts.begin(), ts.end(), t) - ts.begin()), 1, ts.size() - 2);
    const double t0 = ts[k - 1], t1 = ts[k], t2 = ts[k + 1];
    // Lagrange basis of the three points at t and its derivative.
    const double l0 = (t - t1) * (t - t2) / ((t0 - t1) * (t0 - t2)), l1 = (t - t0) * (t - t2) / ((t1 - t0) * (t1 - t2)),
                 l2 = (t - t0) * (t - t1) / ((t2 - t0) * (t2 - t1));
    const double d0 = (2.0 * t - t1 - t2) / ((t0 - t1) * (t0 - t2)), d1 = (2.0 * t - t0 - t2) / ((t1 - t0) * (t1 - t2)),
                 d2 = (2.0 * t - t0 - t1) / ((t2 - t0) * (t2 - t1));
    const double mu = l0 * x.mu[k - 1] + l1 * x.mu[k] + l2 * x.mu[k + 1];
    const double de = d0 * x.energy[k - 1] + d1 * x.energy[k] + d2 * x.energy[k + 1];
    const double T = sys.temperature();
    return 1.0 - T * tau + 0.5 * (T * mu + de) * tau * tau;
}

double ck_chi(const ck_state& x, std::int64_t i, std::int64_t j) {
    const auto ii = static_cast<std::size_t>(i), jj = static_cast<std::size_t>(j);
    if (x.r.empty()) return x.chi[ii][jj];
    double s = 0.0;
    for (std::size_t l = jj; l <= ii; ++l) s += (l == jj || l == ii ? 0.5 : 1.0) * x.r[ii][l];
    return i == j ? 0.0 : s * x.h;
}

double ck_response(const ck_state& x, std::int64_t i, std::int64_t j) {
    const auto ii = static_cast<std::size_t>(i), jj = static_cast<std::size_t>(j);
    if (!x.r.empty()) return x.r[ii][jj];
    if (ii == jj) return 1.0;
    if (jj == 0) return x.dx[ii][1] / x.h;
    return 0.5 * (x.dx[ii][jj] + x.dx[ii][jj + 1]) / x.h;
}

// ---------------------------------------------------------------------------------------------
// Equilibrium mode-coupling equation

namespace {
// f'(q) (1 - q) / q for q in [0, 1), as the polynomial (1 - q) sum_p p c_p q^(p-2) / 2.
double plateau_ratio(const ck_mixture& mix, double q) {
    double s = 0.0;
    for (const auto& [p, c] : mix.terms()) s += 0.5 * p * c * std::pow(q, p - 2);
    return (1.0 - q) * s;
}
} // namespace

double dynamical_temperature(const ck_mixture& mix) {
    constexpr int points = 4096;
    int best = 0;
    for (int k = 1; k < points; ++k)
        if (plateau_ratio(mix, static_cast<double>(k) / points) >
            plateau_ratio(mix, static_cast<double>(best) / points))
            best = k;
    // Golden section on the bracket around the best grid point (inside [0, 1]).
    double a = std::max(0.0, (best - 1.0) / points), b = std::min(1.0, (best + 1.0) / points);
    const double g = 0.5 * (std::sqrt(5.0) - 1.0);
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = plateau_ratio(mix, x1), f2 = plateau_ratio(mix, x2);
    for (int it = 0; it < 200 && b - a > 1e-15; ++it) {
        if (f1 < f2) {
            a = x1, x1 = x2, f1 = f2;
            x2 = a + g * (b - a), f2 = plateau_ratio(mix, x2);
        } else {
            b = x2, x2 = x1, f2 = f1;
            x1 = b - g * (b - a), f1 = plateau_ratio(mix, x1);
        }
    }
    return std::sqrt(std::max({f1, f2, plateau_ratio(mix, static_cast<double>(best) / points)}));
}

double zero_temperature_threshold_energy(const ck_mixture& mix) {
    const double f0 = mix.f(1.0), f1 = mix.f1(1.0), f2 = mix.f2(1.0);
    return -(f0 * f2 - f0 * f1 + f1 * f1) / (f1 * std::sqrt(f2));
}

std::vector<double> equilibrium_correlation(const ck_mixture& mix, double T, double tau_max, double h) {
    if (!(T > 0.0) || !std::isfinite(T)) throw parameter_error("mct: T must be > 0");
    if (!(h > 0.0) || !(tau_max >= h)) throw parameter_error("mct: need h > 0 and tau_max >= h");
    const auto n = static_cast<std::size_t>(std::llround(tau_max / h));
    std::vector<double> C(n + 1), F1(n + 1), rate(n + 1);
    C[0] = 1.0;
    F1[0] = mix.f1(1.0);
    rate[0] = -T; // dC/dtau at 0 (memory term vanishes)
    for (std::size_t k = 1; k <= n; ++k) {
        // Known part of I_k = sum_{m=1}^{k} (f'(C_{k-m}) + f'(C_{k-m+1}))/2 (C_m - C_{m-1}):
        // the terms 2 <= m <= k-1 do not involve C_k.
        double known = 0.0;
        for (std::size_t m = 2; m + 1 <= k; ++m) known += 0.5 * (F1[k - m] + F1[k - m + 1]) * (C[m] - C[m - 1]);
        double ck = C[k - 1] + h * rate[k - 1];
        double rk = 0.0;
        for (int it = 0; it < 200; ++it) {
            const double f1k = mix.f1(ck);
            const double c1 = k == 1 ? ck : C[1];
            const double f1c1 = k == 1 ? f1k : F1[1];
            double I = known;
            if (k >= 2) {
                I += 0.5 * (F1[k - 1] + f1k) * (c1 - C[0]);  // m = 1
                I += 0.5 * (F1[0] + f1c1) * (ck - C[k - 1]); // m = k
            } else {
                I += 0.5 * (F1[0] + f1k) * (ck - C[0]);
            }
            rk = -T * ck - I / T;
            const double next = C[k - 1] + 0.5 * h * (rate[k - 1] + rk);
            const bool done = std::abs(next - ck) < 1e-15;
            ck = next;
            if (done) break;
        }
        C[k] = ck;
        F1[k] = mix.f1(ck);
        rate[k] = rk;
    }
    return C;
}

} // namespace glassy
