#pragma once
/// @file Least-squares fits used by the aging analysis (docs/analysis.md, "Fits"): straight
/// lines, the three-segment piecewise-linear fit that locates t1 and t2, and the power-law
/// approach e(t) = e_inf + A t^-a. Pure numerics: no I/O, throws glassy::error on bad input.
#include <cstddef>
#include <optional>
#include <vector>

namespace glassy {

/// Ordinary least-squares line y = intercept + slope * x.
struct line_fit {
    double intercept = 0;  ///< value at x = 0
    double slope = 0;      ///< dy/dx
    double slope_err = 0;  ///< standard error of the slope (0 when n = 2)
    std::size_t n = 0;     ///< points used
};

/// Fits a line through (x[i], y[i]); needs at least two points with distinct x.
/// Throws glassy::error otherwise or when x and y differ in length.
[[nodiscard]] line_fit fit_line(const std::vector<double>& x, const std::vector<double>& y);

/// Result of the continuous three-segment fit y = a + b x + c (x - x1)_+ + d (x - x2)_+.
/// All break coordinates are in the units of x (the analysis uses x = log10 t).
struct three_segment_fit {
    double x1 = 0, x2 = 0;         ///< best breakpoints, x1 < x2
    double x1_lo = 0, x1_hi = 0;   ///< profile interval of x1 (Delta chi^2 <= 1), widened to the grid step
    double x2_lo = 0, x2_hi = 0;   ///< same for x2
    double slope[3] = {0, 0, 0};   ///< slopes of the three segments (b, b + c, b + c + d)
    double x_min = 0, x_max = 0;   ///< range of the data
    double level[4] = {0, 0, 0, 0}; ///< fitted y at x_min, x1, x2, x_max
    double rss = 0;                ///< residual sum of squares at the optimum
    double sigma2 = 0;             ///< residual variance rss / (n - 6)
    double grid_step = 0;          ///< spacing of the coarse breakpoint grid
    std::size_t n = 0;             ///< points used
};

/// Finds the breakpoints of a continuous three-segment piecewise-linear fit to (x, y),
/// x sorted ascending, by exhaustive search over a uniform grid of `grid` candidate values
/// in [x_min, x_max] (each segment holding at least `min_points` points) followed by a local
/// refinement at 1/20 of the grid step. The uncertainty of each breakpoint is the set of
/// values whose profile residual (minimised over the other breakpoint and the four linear
/// coefficients) stays within sigma2 of the minimum (Delta chi^2 <= 1, 68% for Gaussian
/// noise), widened to at least one grid step either side. Throws glassy::error when fewer
/// than 3 * min_points + 1 points are given or x is not strictly increasing.
[[nodiscard]] three_segment_fit fit_three_segments(const std::vector<double>& x, const std::vector<double>& y,
                                                   std::size_t grid = 200, std::size_t min_points = 2);

/// Power-law approach y(t) = y_inf + A t^-a, fitted by least squares on (t, y), t > 0.
struct power_law_fit {
    double y_inf = 0;     ///< asymptote
    double amplitude = 0; ///< A (positive when y approaches y_inf from above)
    double exponent = 0;  ///< a > 0
    double exponent_err = 0; ///< half-width of the profile interval of a (Delta chi^2 <= 1)
    double rss = 0;       ///< residual sum of squares
    std::size_t n = 0;    ///< points used
};

/// Fits y = y_inf + A t^-a with a in [a_min, a_max]: the linear parameters are solved
/// exactly for every a on a grid of step 0.005, then a is refined by golden-section search.
/// Returns nullopt when fewer than 5 points are given or when the best a lies on the
/// boundary of [a_min, a_max] (no power-law approach detected).
[[nodiscard]] std::optional<power_law_fit> fit_power_law(const std::vector<double>& t, const std::vector<double>& y,
                                                         double a_min = 0.01, double a_max = 4.0);

} // namespace glassy
