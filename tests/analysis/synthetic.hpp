#pragma once
// Synthetic records with known answers for the analysis tests.
#include "dynamics/record.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <numbers>
#include <random>
#include <vector>

namespace glassy::test {

/// n points per decade from 10^lo to 10^hi inclusive.
inline std::vector<double> log_grid(double lo, double hi, int per_decade) {
    std::vector<double> v;
    const int n = static_cast<int>(std::lround((hi - lo) * per_decade));
    for (int i = 0; i <= n; ++i) v.push_back(std::pow(10.0, lo + (hi - lo) * i / n));
    return v;
}

/// Fills aging with Delta = f(tw, t), NaN where tw + t > tmax.
inline void fill_aging(record& r, std::vector<double> tw, std::vector<double> lags, double tmax,
                       const std::function<double(double, double)>& f) {
    r.aging.tw = std::move(tw);
    r.aging.t = std::move(lags);
    r.aging.delta.resize(static_cast<Eigen::Index>(r.aging.tw.size()), static_cast<Eigen::Index>(r.aging.t.size()));
    for (std::size_t i = 0; i < r.aging.tw.size(); ++i)
        for (std::size_t j = 0; j < r.aging.t.size(); ++j)
            r.aging.delta(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) =
                r.aging.tw[i] + r.aging.t[j] <= tmax * (1 + 1e-12) ? f(r.aging.tw[i], r.aging.t[j])
                                                                   : std::numeric_limits<double>::quiet_NaN();
}

/// Train loss of the three regimes: L0 up to t1, linear in log10 t down to L2 at t2, then a
/// slow linear decay in log10 t with slope s3 per decade; plus Gaussian noise of sd sigma.
inline double three_regime_loss(double t, double t1, double t2, double l0, double l2, double s3) {
    const double x = std::log10(t), x1 = std::log10(t1), x2 = std::log10(t2);
    if (x <= x1) return l0;
    if (x <= x2) return l0 + (l2 - l0) * (x - x1) / (x2 - x1);
    return l2 + s3 * (x - x2);
}

/// A network record: loss with regimes at t1, t2 (noise sd sigma, seed), accuracies, and
/// diffusive Delta = 2 D(tw) t with D(tw) = 1e-3 tw^-0.3.
inline record net_record(double t1, double t2, double sigma, unsigned seed) {
    record r;
    r.system = "net";
    r.method = "sgd";
    r.parameters = {{"model", "smallnet"}, {"dataset", "synthetic"}, {"lr", 0.01},
                    {"batch", 100},        {"seed", seed},           {"num_parameters", 1000}};
    r.time = log_grid(0, 5, 30);
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0.0, sigma);
    for (double t : r.time) {
        const double l = three_regime_loss(t, t1, t2, 2.3, 0.05, -0.01);
        r.energy.push_back(l + noise(rng));
        r.observables["train_loss"].push_back(r.energy.back());
        r.observables["test_loss"].push_back(l + 0.3);
        r.observables["train_accuracy"].push_back(1 - l / 2.6);
        r.observables["test_accuracy"].push_back(0.9 - l / 2.6);
    }
    fill_aging(r, {10, 100, 1000, 3e4, 6e4}, log_grid(0, 5, 10), 1e5,
               [](double tw, double t) { return 2 * 1e-3 * std::pow(tw, -0.3) * t; });
    for (double tw : r.aging.tw) r.aging.noise.push_back(1e-3 * std::pow(tw, -0.3));
    return r;
}

/// A p-spin record with energy e(t) = -1 + 0.5 t^-0.7 and Delta from `f`.
inline record pspin_record(const std::function<double(double, double)>& f, std::vector<double> tw,
                           std::vector<double> lags, double tmax, double temperature = 0.5) {
    record r;
    r.system = "pspin";
    r.method = "langevin";
    r.parameters = {{"p", 3}, {"N", 100}, {"T", temperature}, {"seed", 1}, {"num_parameters", 100}};
    r.time = log_grid(-1, std::log10(tmax), 20);
    for (double t : r.time) r.energy.push_back(-1 + 0.5 * std::pow(t, -0.7));
    fill_aging(r, std::move(tw), std::move(lags), tmax, f);
    r.aging.noise.assign(r.aging.tw.size(), temperature);
    return r;
}

/// Adds a /hessian group (record::extra "hessian/...", as the quench tools write it) measured
/// at times `t`: negative fraction `negative(t)`, flat fraction 0.02 t^0.2, top k eigenvalues
/// (k - c) + 1/(1 + t) for c = 0..k-1 (largest first), trace 2 + 1/t with standard error 0.1,
/// and on a grid of 41 points over [-3, 3] a semicircle density of radius 2 centred at -1/(1 + t).
inline void add_hessian(record& r, const std::vector<double>& t, const std::function<double(double)>& negative,
                        int k = 3) {
    const auto n = static_cast<std::uint64_t>(t.size());
    std::vector<double> grid, neg, flat, top, trace, err, density;
    for (int g = 0; g <= 40; ++g) grid.push_back(-3 + 0.15 * g);
    for (double ti : t) {
        neg.push_back(negative(ti));
        flat.push_back(0.02 * std::pow(ti, 0.2));
        for (int c = 0; c < k; ++c) top.push_back((k - c) + 1 / (1 + ti));
        trace.push_back(2 + 1 / ti);
        err.push_back(0.1);
        for (double g : grid) {
            const double x = g + 1 / (1 + ti);
            density.push_back(x * x < 4 ? std::sqrt(4 - x * x) / (2 * std::numbers::pi) : 0.0);
        }
    }
    r.extra["hessian/t"] = {{n}, t};
    r.extra["hessian/negative_fraction"] = {{n}, neg};
    r.extra["hessian/flat_fraction"] = {{n}, flat};
    r.extra["hessian/top"] = {{n, static_cast<std::uint64_t>(k)}, top};
    r.extra["hessian/trace"] = {{n}, trace};
    r.extra["hessian/trace_err"] = {{n}, err};
    r.extra["hessian/density_grid"] = {{grid.size()}, grid};
    r.extra["hessian/density"] = {{n, grid.size()}, density};
}

/// One path of a hand-built /barrier group: its pair, the energies of its two ends and its
/// height h; the path is the three points (e0, max(e0, e1) + h, e1), so its barrier height is h
/// exactly (NaN h: a path the run did not reach, NaN row).
struct hand_path {
    double tw, t, e0, e1, h;
};

/// Adds a /barrier group (record::extra "barrier/...", as pspin_quench --barrier writes it) with
/// the paths `paths` (n_a = 3 points at alpha = 0, 0.5, 1).
inline void add_barrier(record& r, const std::vector<hand_path>& paths) {
    const auto nb = static_cast<std::uint64_t>(paths.size());
    std::vector<double> tw, t, energy, height;
    for (const auto& p : paths) {
        tw.push_back(p.tw);
        t.push_back(p.t);
        height.push_back(p.h);
        const double nan = std::numeric_limits<double>::quiet_NaN();
        for (double e : {p.e0, std::max(p.e0, p.e1) + p.h, p.e1}) energy.push_back(std::isnan(p.h) ? nan : e);
    }
    r.extra["barrier/tw"] = {{nb}, tw};
    r.extra["barrier/t"] = {{nb}, t};
    r.extra["barrier/alpha"] = {{3}, {0.0, 0.5, 1.0}};
    r.extra["barrier/energy"] = {{nb, 3}, energy};
    r.extra["barrier/height"] = {{nb}, height};
}

/// Adds a /clones group: clones born at `tw`, lags `lags`, Delta_AB = `delta(tw, t)` (NaN where
/// tw + t > tmax, as past the run), the barriers `barrier` between them [n_c].
inline void add_clones(record& r, const std::vector<double>& tw, const std::vector<double>& lags, double tmax,
                       const std::function<double(double, double)>& delta, const std::vector<double>& barrier) {
    std::vector<double> d;
    for (double w : tw)
        for (double t : lags)
            d.push_back(w + t <= tmax * (1 + 1e-12) ? delta(w, t) : std::numeric_limits<double>::quiet_NaN());
    const auto nc = static_cast<std::uint64_t>(tw.size()), nl = static_cast<std::uint64_t>(lags.size());
    r.extra["clones/tw"] = {{nc}, tw};
    r.extra["clones/t"] = {{nl}, lags};
    r.extra["clones/delta"] = {{nc, nl}, d};
    r.extra["clones/barrier"] = {{nc}, barrier};
}

} // namespace glassy::test
