#pragma once
/// @file Least-squares fits used by the aging analysis (docs/analysis.md, "Fits"): straight
/// lines, the three-segment piecewise-linear fit that locates t1 and t2, and the power-law
/// approach e(t) = e_inf + A t^-a. Pure numerics: no I/O, throws glassy::error on bad input.
#include <cstddef>
#include <optional>
#include <vector>

namespace glassy {

/// Arithmetic mean of v: the values summed in order, divided by their count (NaN when v is
/// empty or holds a NaN). The one mean of the analysis, so that every fit and average rounds alike.
[[nodiscard]] double mean_value(const std::vector<double>& v);

/// Sample variance of v about its mean m: sum_i (v_i - m)^2 / (n - 1), summed in order.
/// Precondition: n >= 2 and m = mean_value(v).
[[nodiscard]] double sample_variance(const std::vector<double>& v, double m);

/// Ordinary least-squares line y = intercept + slope * x.
struct line_fit {
    double intercept = 0; ///< value at x = 0
    double slope = 0;     ///< dy/dx
    double slope_err = 0; ///< standard error of the slope (0 when n = 2)
    std::size_t n = 0;    ///< points used
};

/// Fits a line through (x[i], y[i]); needs at least two distinct x. Repeated x values are
/// replicates: each point counts once, which is the fit to the mean y at each distinct x
/// weighted by its count, and slope_err uses all n points (n - 2 degrees of freedom).
/// Throws glassy::error when fewer than two distinct x are given or x and y differ in length.
[[nodiscard]] line_fit fit_line(const std::vector<double>& x, const std::vector<double>& y);

/// Points with equal abscissae merged: x ascending, each distinct value once, y the mean of
/// the y at that x and count how many points it holds.
struct merged_points {
    std::vector<double> x, y;
    std::vector<std::size_t> count;
};

/// Sorts (x, y) by x (stable) and merges exactly equal x into one point (mean y, count).
/// Throws glassy::error when x and y differ in length.
[[nodiscard]] merged_points merge_repeated_x(const std::vector<double>& x, const std::vector<double>& y);

/// Number of distinct values in x (exact equality).
[[nodiscard]] std::size_t count_distinct(std::vector<double> x);

/// Result of the continuous three-segment fit y = a + b x + c (x - x1)_+ + d (x - x2)_+.
/// All break coordinates are in the units of x (the analysis uses x = log10 t).
struct three_segment_fit {
    double x1 = 0, x2 = 0;          ///< best breakpoints, x1 < x2
    double x1_lo = 0, x1_hi = 0;    ///< profile interval of x1 (Delta chi^2 <= 1), widened to the grid step
    double x2_lo = 0, x2_hi = 0;    ///< same for x2
    double slope[3] = {0, 0, 0};    ///< slopes of the three segments (b, b + c, b + c + d)
    double x_min = 0, x_max = 0;    ///< range of the data
    double level[4] = {0, 0, 0, 0}; ///< fitted y at x_min, x1, x2, x_max
    double rss = 0;                 ///< residual sum of squares at the optimum
    double sigma2 = 0;              ///< residual variance rss / (n - 6)
    double grid_step = 0;           ///< spacing of the coarse breakpoint grid
    std::size_t n = 0;              ///< points used
    /// Model comparison (docs/analysis.md, "t1 and t2"): RSS of the least-squares straight line
    /// and of the best continuous one-breakpoint fit, found like x1, x2 (grid, refinement,
    /// profile interval x_one_lo..x_one_hi), with its slopes either side and its fitted y at
    /// x_min, x_one and x_max.
    double rss_line = 0, rss_one = 0;
    double x_one = 0, x_one_lo = 0, x_one_hi = 0;
    double slope_one[2] = {0, 0};
    double level_one[3] = {0, 0, 0};
    /// F statistics and their p-values under F(2, nu): [0] one breakpoint against the line
    /// (nu = n - 4), [1] two breakpoints against one (nu = n - 6). Two degrees of freedom per
    /// added breakpoint (its slope change and its position); the residual variance of the
    /// larger model is taken at least (breakpoint_relative_floor * rms of y about its mean)^2.
    double f_stat[2] = {0, 0}, p_value[2] = {1, 1};
    /// Breakpoints the data determine: 0 (the line is not significantly worse), 1 (p_value[0]
    /// < breakpoint_significance only) or 2 (both p-values below it).
    int breakpoints = 0;
};

/// Significance level of the breakpoint test (fit_three_segments, docs/analysis.md).
inline constexpr double breakpoint_significance = 1e-3;

/// Relative noise floor of the breakpoint test: sigma2 is taken at least
/// (breakpoint_relative_floor * rms of y about its mean)^2, so that noise-free data decide by
/// their shape and not by rounding.
inline constexpr double breakpoint_relative_floor = 1e-9;

/// Finds the breakpoints of a continuous three-segment piecewise-linear fit to (x, y),
/// x sorted ascending, by exhaustive search over a uniform grid of `grid` candidate values
/// in [x_min, x_max] (each segment holding at least `min_points` points) followed by a local
/// refinement at 1/20 of the grid step. The uncertainty of each breakpoint is the set of
/// values whose profile residual (minimised over the other breakpoint and the four linear
/// coefficients) stays within sigma2 of the minimum (Delta chi^2 <= 1, 68% for Gaussian
/// noise), widened to at least one grid step either side. x may repeat values (replicates:
/// every point counts, segment sizes count distinct x). The fit is then compared with the
/// straight line and the best one-breakpoint fit (see three_segment_fit::breakpoints). Throws glassy::error when
/// fewer than max(3 * min_points + 1, 7) distinct x are given or x decreases somewhere.
[[nodiscard]] three_segment_fit fit_three_segments(const std::vector<double>& x, const std::vector<double>& y,
                                                   std::size_t grid = 200, std::size_t min_points = 2);

/// Power-law approach y(t) = y_inf + A t^-a, fitted by least squares on (t, y), t > 0.
struct power_law_fit {
    double y_inf = 0;        ///< asymptote
    double amplitude = 0;    ///< A (positive when y approaches y_inf from above)
    double exponent = 0;     ///< a > 0
    double exponent_err = 0; ///< half-width of the profile interval of a (Delta chi^2 <= 1)
    double rss = 0;          ///< residual sum of squares
    std::size_t n = 0;       ///< points used
};

/// Fits y = y_inf + A t^-a with a in [a_min, a_max]: the linear parameters are solved
/// exactly for every a on a grid of step 0.005, then a is refined by golden-section search.
/// Repeated t are replicates (every point counts). Returns nullopt when fewer than 5 distinct t
/// are given or when the best a lies on the boundary of [a_min, a_max] (no power-law approach
/// detected).
[[nodiscard]] std::optional<power_law_fit> fit_power_law(const std::vector<double>& t, const std::vector<double>& y,
                                                         double a_min = 0.01, double a_max = 4.0);

} // namespace glassy
