#include "analysis/fit.hpp"

#include "dynamics/error.hpp"

#include <Eigen/Dense>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

namespace glassy {

double mean_value(const std::vector<double>& v) {
    double m = 0;
    for (double x : v) m += x;
    return m / static_cast<double>(v.size());
}

double sample_variance(const std::vector<double>& v, double m) {
    double ss = 0;
    for (double x : v) ss += (x - m) * (x - m);
    return ss / static_cast<double>(v.size() - 1);
}

line_fit fit_line(const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size()) throw error("fit_line: x and y differ in length");
    const std::size_t n = x.size();
    if (n < 2) throw error("fit_line: need at least two points");
    const double mx = mean_value(x), my = mean_value(y);
    double sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < n; ++i) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    if (!(sxx > 0))
        throw error("fit_line: need two distinct x values, got " + std::to_string(n) +
                    " points all at x = " + std::to_string(x.front()));
    line_fit f;
    f.n = n;
    f.slope = sxy / sxx;
    f.intercept = my - f.slope * mx;
    if (n > 2) {
        double rss = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double r = y[i] - f.intercept - f.slope * x[i];
            rss += r * r;
        }
        f.slope_err = std::sqrt(rss / static_cast<double>(n - 2) / sxx);
    }
    return f;
}

merged_points merge_repeated_x(const std::vector<double>& x, const std::vector<double>& y) {
    if (x.size() != y.size()) throw error("merge_repeated_x: x and y differ in length");
    std::vector<std::size_t> order(x.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return x[a] < x[b]; });
    merged_points m;
    for (std::size_t i : order) {
        if (m.x.empty() || x[i] != m.x.back()) {
            m.x.push_back(x[i]);
            m.y.push_back(0.0);
            m.count.push_back(0);
        }
        m.y.back() += y[i];
        ++m.count.back();
    }
    for (std::size_t k = 0; k < m.x.size(); ++k) m.y[k] /= static_cast<double>(m.count[k]);
    return m;
}

std::size_t count_distinct(std::vector<double> x) {
    std::sort(x.begin(), x.end());
    return static_cast<std::size_t>(std::unique(x.begin(), x.end()) - x.begin());
}

namespace {

// Suffix sums that make the residual of a hinge fit an O(1) computation for any (x1, x2).
// The data are shifted (x by x[0], y by its mean) to limit cancellation.
class hinge_sums {
public:
    hinge_sums(const std::vector<double>& x, const std::vector<double>& y) : m_x(x), m_n(x.size()) {
        const double my = mean_value(y);
        m_x0 = x.front();
        for (auto& s : m_suffix) s.assign(m_n + 1, 0.0);
        for (std::size_t i = m_n; i-- > 0;) {
            const double xi = x[i] - m_x0, yi = y[i] - my;
            const double v[6] = {1, xi, xi * xi, yi, xi * yi, yi * yi};
            for (int k = 0; k < 6; ++k) m_suffix[k][i] = m_suffix[k][i + 1] + v[k];
        }
    }

    /// Index of the first point with x > b.
    [[nodiscard]] std::size_t first_above(double b) const {
        return static_cast<std::size_t>(std::upper_bound(m_x.begin(), m_x.end(), b) - m_x.begin());
    }

    /// Residual sum of squares of the best continuous hinge fit with breakpoints b1 < b2;
    /// optionally returns the coefficients (a, b, c, d) in shifted coordinates.
    double rss(double b1, double b2, Eigen::Vector4d* coef = nullptr) const {
        const std::size_t k1 = first_above(b1), k2 = first_above(b2);
        const double u1 = b1 - m_x0, u2 = b2 - m_x0;
        auto s = [&](int k, std::size_t from) { return m_suffix[k][from]; };
        const double n = s(0, 0), sx = s(1, 0), sxx = s(2, 0), sy = s(3, 0), sxy = s(4, 0), syy = s(5, 0);
        // Sums over x > b1 and x > b2.
        const double n1 = s(0, k1), x1s = s(1, k1), xx1 = s(2, k1), y1 = s(3, k1), xy1 = s(4, k1);
        const double n2 = s(0, k2), x2s = s(1, k2), xx2 = s(2, k2), y2 = s(3, k2), xy2 = s(4, k2);
        Eigen::Matrix4d g;
        Eigen::Vector4d r;
        const double h1 = x1s - u1 * n1, h1x = xx1 - u1 * x1s, h1h1 = xx1 - 2 * u1 * x1s + u1 * u1 * n1;
        const double h2 = x2s - u2 * n2, h2x = xx2 - u2 * x2s, h2h2 = xx2 - 2 * u2 * x2s + u2 * u2 * n2;
        const double h1h2 = xx2 - (u1 + u2) * x2s + u1 * u2 * n2;
        g << n, sx, h1, h2, sx, sxx, h1x, h2x, h1, h1x, h1h1, h1h2, h2, h2x, h1h2, h2h2;
        r << sy, sxy, xy1 - u1 * y1, xy2 - u2 * y2;
        const Eigen::Vector4d beta = g.ldlt().solve(r);
        if (coef) *coef = beta;
        return std::max(0.0, syy - beta.dot(r));
    }

    /// Residual sum of squares of the best continuous fit with one breakpoint b.
    [[nodiscard]] double rss_one(double b, Eigen::Vector3d* coef = nullptr) const {
        const std::size_t k = first_above(b);
        const double u = b - m_x0;
        auto s = [&](int i, std::size_t from) { return m_suffix[i][from]; };
        const double n = s(0, 0), sx = s(1, 0), sxx = s(2, 0), sy = s(3, 0), sxy = s(4, 0), syy = s(5, 0);
        const double nk = s(0, k), xk = s(1, k), xxk = s(2, k), yk = s(3, k), xyk = s(4, k);
        Eigen::Matrix3d g;
        Eigen::Vector3d r;
        const double h = xk - u * nk, hx = xxk - u * xk, hh = xxk - 2 * u * xk + u * u * nk;
        g << n, sx, h, sx, sxx, hx, h, hx, hh;
        r << sy, sxy, xyk - u * yk;
        const Eigen::Vector3d beta = g.ldlt().solve(r);
        if (coef) *coef = beta;
        return std::max(0.0, syy - beta.dot(r));
    }

    /// Residual sum of squares of the least-squares straight line.
    [[nodiscard]] double rss_line() const {
        const double n = m_suffix[0][0], sx = m_suffix[1][0], sxx = m_suffix[2][0], sy = m_suffix[3][0];
        const double vxx = sxx - sx * sx / n, vxy = m_suffix[4][0] - sx * sy / n;
        return std::max(0.0, syy() - (vxx > 0 ? vxy * vxy / vxx : 0.0));
    }

    /// Sum of squares of y about its mean.
    [[nodiscard]] double syy() const { return m_suffix[5][0]; }

    [[nodiscard]] std::size_t size() const { return m_n; }
    [[nodiscard]] double x0() const { return m_x0; }

private:
    const std::vector<double>& m_x;
    std::size_t m_n;
    double m_x0 = 0;
    std::vector<double> m_suffix[6];
};

} // namespace

namespace {

// p-value of F under the F(2, nu) distribution: P(F' > F) = (1 + 2F/nu)^(-nu/2).
double f2_p_value(double f, double nu) { return std::pow(1 + 2 * std::max(0.0, f) / nu, -nu / 2); }

// Best continuous one-breakpoint fit: coarse grid, two local refinements, profile interval.
void fit_one_breakpoint(three_segment_fit& f, const hinge_sums& sums, const std::vector<double>& cand,
                        const std::function<bool(double)>& admissible, double mean_y) {
    const double inf = std::numeric_limits<double>::infinity();
    std::vector<double> table(cand.size(), inf);
    double best = inf, b = f.x_min;
    for (std::size_t i = 0; i < cand.size(); ++i) {
        if (!admissible(cand[i])) continue;
        table[i] = sums.rss_one(cand[i]);
        if (table[i] < best) {
            best = table[i];
            b = cand[i];
        }
    }
    double step = f.grid_step / 20;
    for (int pass = 0; pass < 2; ++pass, step /= 20) {
        const double c = b;
        for (int i = -20; i <= 20; ++i) {
            const double t = c + step * i;
            if (t < f.x_min || t > f.x_max || !admissible(t)) continue;
            const double r = sums.rss_one(t);
            if (r < best) {
                best = r;
                b = t;
            }
        }
    }
    f.rss_one = best;
    f.x_one = f.x_one_lo = f.x_one_hi = b;
    const double threshold = best + best / (static_cast<double>(f.n) - 4);
    for (std::size_t i = 0; i < cand.size(); ++i)
        if (table[i] <= threshold) {
            f.x_one_lo = std::min(f.x_one_lo, cand[i]);
            f.x_one_hi = std::max(f.x_one_hi, cand[i]);
        }
    f.x_one_lo = std::max(f.x_min, std::min(f.x_one_lo, b - f.grid_step));
    f.x_one_hi = std::min(f.x_max, std::max(f.x_one_hi, b + f.grid_step));
    Eigen::Vector3d c;
    (void)sums.rss_one(b, &c);
    f.slope_one[0] = c[1];
    f.slope_one[1] = c[1] + c[2];
    auto model = [&](double xv) { return mean_y + c[0] + c[1] * (xv - sums.x0()) + c[2] * std::max(0.0, xv - b); };
    f.level_one[0] = model(f.x_min);
    f.level_one[1] = model(b);
    f.level_one[2] = model(f.x_max);
}

// Nested F-tests: line against one breakpoint, one against two (sets f_stat, p_value, breakpoints).
void compare_models(three_segment_fit& f, const hinge_sums& sums) {
    const double n = static_cast<double>(f.n);
    const double floor_sd = breakpoint_relative_floor * std::sqrt(sums.syy() / n);
    const double floor2 = floor_sd * floor_sd;
    f.rss_line = sums.rss_line();
    const double rss_small[2] = {f.rss_line, f.rss_one}, rss_big[2] = {f.rss_one, f.rss};
    const double nu[2] = {n - 4, n - 6};
    for (int k = 0; k < 2; ++k) {
        const double sigma2 = std::max(rss_big[k] / nu[k], floor2);
        f.f_stat[k] = std::max(0.0, rss_small[k] - rss_big[k]) / 2 / sigma2;
        f.p_value[k] = f2_p_value(f.f_stat[k], nu[k]);
    }
    f.breakpoints = f.p_value[0] < breakpoint_significance ? (f.p_value[1] < breakpoint_significance ? 2 : 1) : 0;
}

// distinct[i] = number of distinct x among x[0..i-1] (equal x never straddle a breakpoint).
// Throws glassy::error unless x ascends.
std::vector<std::size_t> distinct_prefix(const std::vector<double>& x) {
    const std::size_t n = x.size();
    for (std::size_t i = 1; i < n; ++i)
        if (!(x[i] >= x[i - 1])) throw error("fit_three_segments: x must be sorted ascending (and not NaN)");
    std::vector<std::size_t> distinct(n + 1, 0);
    for (std::size_t i = 0; i < n; ++i) distinct[i + 1] = distinct[i] + (i == 0 || x[i] != x[i - 1] ? 1 : 0);
    return distinct;
}

// The candidate breakpoints of fit_three_segments (a uniform grid on [lo, hi], step h) and which
// breakpoints leave at least min_points distinct x in every segment.
struct breakpoint_grid {
    const hinge_sums& sums;
    std::vector<std::size_t> distinct; // distinct_prefix(x)
    std::size_t min_points = 2;
    double lo = 0, hi = 0, h = 0;
    std::vector<double> cand;

    [[nodiscard]] bool admissible(double b1, double b2) const {
        if (!(b2 > b1)) return false;
        const std::size_t k1 = sums.first_above(b1), k2 = sums.first_above(b2), n = sums.size();
        return distinct[k1] >= min_points && distinct[k2] - distinct[k1] >= min_points &&
               distinct[n] - distinct[k2] >= min_points;
    }
    [[nodiscard]] bool admissible_one(double b) const {
        const std::size_t k = sums.first_above(b);
        return distinct[k] >= min_points && distinct[sums.size()] - distinct[k] >= min_points;
    }
};

// The best pair of breakpoints found so far, and the coarse table of residuals
// (table[i * grid + j] for cand[i] < cand[j]; infinity where not admissible).
struct pair_search {
    double best = std::numeric_limits<double>::infinity(), b1 = 0, b2 = 0;
    std::vector<double> table;
};

// Exhaustive search over every admissible pair of grid candidates.
pair_search coarse_search(const breakpoint_grid& g) {
    const std::size_t grid = g.cand.size();
    pair_search p;
    p.table.assign(grid * grid, std::numeric_limits<double>::infinity());
    for (std::size_t i = 0; i < grid; ++i)
        for (std::size_t j = i + 1; j < grid; ++j) {
            if (!g.admissible(g.cand[i], g.cand[j])) continue;
            const double r = g.sums.rss(g.cand[i], g.cand[j]);
            p.table[i * grid + j] = r;
            if (r < p.best) {
                p.best = r;
                p.b1 = g.cand[i];
                p.b2 = g.cand[j];
            }
        }
    if (!std::isfinite(p.best)) throw error("fit_three_segments: no admissible pair of breakpoints");
    return p;
}

// Local refinement: two passes of a 41 x 41 grid, step h/20 then h/400.
void refine_pair(const breakpoint_grid& g, pair_search& p) {
    double step = g.h / 20;
    for (int pass = 0; pass < 2; ++pass) {
        const double c1 = p.b1, c2 = p.b2;
        for (int i = -20; i <= 20; ++i)
            for (int j = -20; j <= 20; ++j) {
                const double t1 = c1 + step * i, t2 = c2 + step * j;
                if (t1 < g.lo || t2 > g.hi || !g.admissible(t1, t2)) continue;
                const double r = g.sums.rss(t1, t2);
                if (r < p.best) {
                    p.best = r;
                    p.b1 = t1;
                    p.b2 = t2;
                }
            }
        step /= 20;
    }
}

// Profile intervals of x1 and x2 from the coarse table (Delta chi^2 <= 1), widened to one grid step.
void set_profile_intervals(three_segment_fit& f, const breakpoint_grid& g, const pair_search& p) {
    const std::size_t grid = g.cand.size();
    const double threshold = p.best + f.sigma2;
    f.x1_lo = f.x1_hi = p.b1;
    f.x2_lo = f.x2_hi = p.b2;
    for (std::size_t i = 0; i < grid; ++i)
        for (std::size_t j = i + 1; j < grid; ++j) {
            if (p.table[i * grid + j] > threshold) continue;
            f.x1_lo = std::min(f.x1_lo, g.cand[i]);
            f.x1_hi = std::max(f.x1_hi, g.cand[i]);
            f.x2_lo = std::min(f.x2_lo, g.cand[j]);
            f.x2_hi = std::max(f.x2_hi, g.cand[j]);
        }
    f.x1_lo = std::max(g.lo, std::min(f.x1_lo, p.b1 - g.h));
    f.x1_hi = std::min(g.hi, std::max(f.x1_hi, p.b1 + g.h));
    f.x2_lo = std::max(g.lo, std::min(f.x2_lo, p.b2 - g.h));
    f.x2_hi = std::min(g.hi, std::max(f.x2_hi, p.b2 + g.h));
}

// Slopes of the three segments and the fitted y at x_min, x1, x2, x_max (mean_y: mean of y).
void set_slopes_and_levels(three_segment_fit& f, const hinge_sums& sums, double mean_y) {
    Eigen::Vector4d c;
    sums.rss(f.x1, f.x2, &c);
    f.slope[0] = c[1];
    f.slope[1] = c[1] + c[2];
    f.slope[2] = c[1] + c[2] + c[3];
    auto model = [&](double xv) {
        const double u = xv - sums.x0();
        return mean_y + c[0] + c[1] * u + c[2] * std::max(0.0, xv - f.x1) + c[3] * std::max(0.0, xv - f.x2);
    };
    f.level[0] = model(f.x_min);
    f.level[1] = model(f.x1);
    f.level[2] = model(f.x2);
    f.level[3] = model(f.x_max);
}

} // namespace

three_segment_fit fit_three_segments(const std::vector<double>& x, const std::vector<double>& y, std::size_t grid,
                                     std::size_t min_points) {
    if (x.size() != y.size()) throw error("fit_three_segments: x and y differ in length");
    const std::size_t n = x.size();
    min_points = std::max<std::size_t>(min_points, 2);
    std::vector<std::size_t> distinct = distinct_prefix(x);
    const std::size_t need = std::max<std::size_t>(3 * min_points + 1, 7);
    if (distinct[n] < need)
        throw error("fit_three_segments: need at least " + std::to_string(need) + " distinct x values, got " +
                    std::to_string(distinct[n]));
    grid = std::max<std::size_t>(grid, 10);

    const hinge_sums sums(x, y);
    breakpoint_grid g{sums, std::move(distinct), min_points, x.front(), x.back(), 0, std::vector<double>(grid)};
    g.h = (g.hi - g.lo) / static_cast<double>(grid - 1);
    for (std::size_t i = 0; i < grid; ++i) g.cand[i] = g.lo + g.h * static_cast<double>(i);
    pair_search p = coarse_search(g);
    refine_pair(g, p);

    three_segment_fit f;
    f.n = n;
    f.x1 = p.b1;
    f.x2 = p.b2;
    f.rss = p.best;
    f.sigma2 = p.best / static_cast<double>(n - 6);
    f.grid_step = g.h;
    f.x_min = g.lo;
    f.x_max = g.hi;
    set_profile_intervals(f, g, p);
    const double my = mean_value(y);
    set_slopes_and_levels(f, sums, my);
    fit_one_breakpoint(
        f, sums, g.cand, [&g](double b) { return g.admissible_one(b); }, my);
    compare_models(f, sums);
    return f;
}

namespace {

struct pl_eval {
    double rss, y_inf, amplitude;
};

pl_eval eval_power_law(const std::vector<double>& t, const std::vector<double>& y, double a) {
    const std::size_t n = t.size();
    std::vector<double> u(n);
    for (std::size_t i = 0; i < n; ++i) u[i] = std::pow(t[i], -a);
    const double mu = mean_value(u), my = mean_value(y);
    double suu = 0, suy = 0, syy = 0;
    for (std::size_t i = 0; i < n; ++i) {
        suu += (u[i] - mu) * (u[i] - mu);
        suy += (u[i] - mu) * (y[i] - my);
        syy += (y[i] - my) * (y[i] - my);
    }
    if (!(suu > 0)) return {syy, my, 0};
    const double amp = suy / suu;
    return {std::max(0.0, syy - amp * suy), my - amp * mu, amp};
}

} // namespace

std::optional<power_law_fit> fit_power_law(const std::vector<double>& t, const std::vector<double>& y, double a_min,
                                           double a_max) {
    if (t.size() != y.size()) throw error("fit_power_law: t and y differ in length");
    const std::size_t n = t.size();
    if (count_distinct(t) < 5) return std::nullopt;
    for (double v : t)
        if (!(v > 0)) throw error("fit_power_law: times must be positive");
    const double da = 0.005;
    const auto steps = static_cast<std::size_t>(std::ceil((a_max - a_min) / da));
    std::vector<double> grid_a(steps + 1), grid_r(steps + 1);
    std::size_t ibest = 0;
    for (std::size_t i = 0; i <= steps; ++i) {
        grid_a[i] = std::min(a_max, a_min + da * static_cast<double>(i));
        grid_r[i] = eval_power_law(t, y, grid_a[i]).rss;
        if (grid_r[i] < grid_r[ibest]) ibest = i;
    }
    if (ibest == 0 || ibest == steps) return std::nullopt;
    // Golden-section refinement on [a_{i-1}, a_{i+1}].
    double lo = grid_a[ibest - 1], hi = grid_a[ibest + 1];
    const double g = (std::sqrt(5.0) - 1) / 2;
    double c = hi - g * (hi - lo), d = lo + g * (hi - lo);
    double fc = eval_power_law(t, y, c).rss, fd = eval_power_law(t, y, d).rss;
    for (int it = 0; it < 60; ++it) {
        if (fc < fd) {
            hi = d;
            d = c;
            fd = fc;
            c = hi - g * (hi - lo);
            fc = eval_power_law(t, y, c).rss;
        } else {
            lo = c;
            c = d;
            fc = fd;
            d = lo + g * (hi - lo);
            fd = eval_power_law(t, y, d).rss;
        }
    }
    const double a = (lo + hi) / 2;
    const pl_eval e = eval_power_law(t, y, a);
    power_law_fit f;
    f.exponent = a;
    f.y_inf = e.y_inf;
    f.amplitude = e.amplitude;
    f.rss = e.rss;
    f.n = n;
    const double sigma2 = e.rss / static_cast<double>(n - 3);
    double alo = a, ahi = a;
    for (std::size_t i = 0; i <= steps; ++i)
        if (grid_r[i] <= e.rss + sigma2) {
            alo = std::min(alo, grid_a[i]);
            ahi = std::max(ahi, grid_a[i]);
        }
    f.exponent_err = std::max({a - alo, ahi - a, da});
    return f;
}

} // namespace glassy
