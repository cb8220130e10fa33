#include "analysis/report.hpp"

#include "analysis/gnuplot.hpp"
#include "dynamics/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <tuple>

namespace glassy {
namespace {

namespace fs = std::filesystem;

std::string fmt(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.10g", v);
    return buf;
}

std::string short_num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
}

void write_text(const fs::path& path, const std::string& text, report_result& out) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    f.close();
    if (!f) throw error("cannot write " + path.string());
    out.files.push_back(path);
}

/// A table written column by column: header names and equally long columns.
struct table {
    std::vector<std::string> header;
    std::vector<std::vector<double>> columns;
    void add(std::string name, std::vector<double> col) {
        header.push_back(std::move(name));
        columns.push_back(std::move(col));
    }
    [[nodiscard]] int index(const std::string& name) const { // 1-based gnuplot column
        const auto it = std::find(header.begin(), header.end(), name);
        return it == header.end() ? 0 : static_cast<int>(it - header.begin()) + 1;
    }
    [[nodiscard]] std::string csv() const {
        std::ostringstream o;
        for (std::size_t c = 0; c < header.size(); ++c) o << (c ? "," : "") << header[c];
        o << '\n';
        const std::size_t rows = columns.empty() ? 0 : columns.front().size();
        for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t c = 0; c < columns.size(); ++c) o << (c ? "," : "") << fmt(columns[c][r]);
            o << '\n';
        }
        return o.str();
    }
};

std::string quote(std::string s) {
    std::replace(s.begin(), s.end(), '"', '\'');
    return "\"" + s + "\"";
}

std::string describe(const run_data& run) {
    std::string s = to_string(run.system) + " " + run.method;
    if (run.parameters.is_object())
        for (const char* k : {"model", "dataset", "hidden", "p", "N", "T", "batch", "lr", "dt"})
            if (run.parameters.contains(k)) {
                const auto& v = run.parameters.at(k);
                s += std::string(", ") + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
            }
    if (run.n_records > 1) s += ", mean of " + std::to_string(run.n_records) + " runs";
    return s;
}

/// Tables of one run, kept with what the scripts need to know about them.
struct run_tables {
    table energy, observables, delta, waiting, loss_fit, slope, hessian, hessian_density;
    table barrier, barrier_by_lag, barrier_paths, clones, clones_barrier;
    std::vector<std::string> obs_names;
};

/// 1-based columns of delta.csv that the figures plot (delta_table writes them in this order:
/// w, tw, D, panel, t, t_over_tw, delta, delta_err, delta_over_D).
enum delta_column : int { col_lag = 5, col_ratio = 6, col_delta = 7, col_delta_over_noise = 9 };

/// Panel of waiting time i: 0 below t2 (or no t2), 1 above; 0 for a summary without panels.
int panel_of(const aging_summary& s, std::size_t i) { return s.panel.empty() ? 0 : s.panel[i]; }

/// delta.csv column plotted as "Delta/D": Delta/D where D is usable, else Delta itself.
int scaled_delta_column(const aging_summary& s) { return s.has_noise ? col_delta_over_noise : col_delta; }

// Energy or train loss against t; for glasses also the comparison exponential and the power law.
table energy_table(const run_data& run, const aging_summary& s) {
    table t;
    const bool net = run.system == system_kind::net;
    t.add("t", run.time);
    t.add(net ? "train_loss" : "energy", run.energy);
    t.add(net ? "train_loss_err" : "energy_err", run.energy_err);
    if (net) return t;
    t.add("exponential", comparison_exponential(run, s));
    std::vector<double> pl(run.time.size(), std::nan(""));
    if (s.energy_fit)
        for (std::size_t i = 0; i < run.time.size(); ++i)
            if (run.time[i] >= s.energy_fit_tmin)
                pl[i] = s.energy_fit->y_inf + s.energy_fit->amplitude * std::pow(run.time[i], -s.energy_fit->exponent);
    t.add("power_law_fit", pl);
    return t;
}

// Every observable and its error against t (empty without observables).
table observables_table(const run_data& run, std::vector<std::string>& names) {
    table t;
    if (run.observables.empty()) return t;
    t.add("t", run.time);
    for (const auto& [name, v] : run.observables) {
        names.push_back(name);
        t.add(name, v);
        t.add(name + "_err", run.observables_err.at(name));
    }
    return t;
}

// Delta, its error and Delta/D, one row per (t_w, lag), in the delta_column order.
table delta_table(const run_data& run, const aging_summary& s, const row_matrix& scaled) {
    std::vector<double> w, tw, d, panel, lag, ratio, delta, derr, dod;
    for (std::size_t i = 0; i < run.tw.size(); ++i)
        for (std::size_t j = 0; j < run.lag.size(); ++j) {
            const auto ii = static_cast<Eigen::Index>(i), jj = static_cast<Eigen::Index>(j);
            w.push_back(static_cast<double>(i));
            tw.push_back(run.tw[i]);
            d.push_back(run.noise.empty() ? std::nan("") : run.noise[i]);
            panel.push_back(panel_of(s, i));
            lag.push_back(run.lag[j]);
            ratio.push_back(run.tw[i] > 0 ? run.lag[j] / run.tw[i] : std::nan(""));
            delta.push_back(run.delta(ii, jj));
            derr.push_back(run.delta_err(ii, jj));
            dod.push_back(scaled(ii, jj));
        }
    table t;
    t.add("w", w);
    t.add("tw", tw);
    t.add("D", d);
    t.add("panel", panel);
    t.add("t", lag);
    t.add("t_over_tw", ratio);
    t.add("delta", delta);
    t.add("delta_err", derr);
    t.add("delta_over_D", dod);
    return t;
}

// Per waiting time: D, its error, the panel and the exponent of ln Delta vs ln t.
table waiting_table(const run_data& run, const aging_summary& s) {
    const std::vector<double> unknown(run.tw.size(), std::nan(""));
    std::vector<double> wi, ex;
    for (std::size_t i = 0; i < run.tw.size(); ++i) {
        wi.push_back(static_cast<double>(i));
        ex.push_back(i < s.exponent_per_tw.size() && s.exponent_per_tw[i] ? *s.exponent_per_tw[i] : std::nan(""));
    }
    std::vector<double> pn(s.panel.begin(), s.panel.end());
    pn.resize(run.tw.size(), 0);
    table t;
    t.add("w", wi);
    t.add("tw", run.tw);
    t.add("D", run.noise.empty() ? unknown : run.noise);
    t.add("D_err", run.noise_err.empty() ? unknown : run.noise_err);
    t.add("panel", pn);
    t.add("exponent", ex);
    return t;
}

// Slope-1 reference segment on ln(Delta/D) against ln t: one decade, a factor 3 below the data
// of the last panel at its median valid lag (empty when that panel has no valid point).
table slope_table(const run_data& run, const aging_summary& s, const row_matrix& scaled) {
    const int last_panel = s.t2 ? 1 : 0;
    std::vector<std::pair<double, double>> pts;
    for (std::size_t i = 0; i < run.tw.size(); ++i) {
        if (panel_of(s, i) != last_panel) continue;
        for (std::size_t j = 0; j < run.lag.size(); ++j) {
            const auto ii = static_cast<Eigen::Index>(i), jj = static_cast<Eigen::Index>(j);
            const double v = s.has_noise ? scaled(ii, jj) : run.delta(ii, jj);
            if (run.lag[j] > 0 && std::isfinite(v) && v > 0) pts.emplace_back(run.lag[j], v);
        }
    }
    table t;
    if (pts.empty()) return t;
    std::sort(pts.begin(), pts.end());
    const auto [ta, ya] = pts[pts.size() / 2];
    t.add("t", {ta / std::sqrt(10.0), ta * std::sqrt(10.0)});
    t.add("y", {ya / 3 / std::sqrt(10.0), ya / 3 * std::sqrt(10.0)});
    return t;
}

// The loss model the comparison chose (one or two breakpoints; none for a straight line).
table loss_fit_table(const aging_summary& s) {
    table t;
    if (!s.loss_fit || s.loss_fit->breakpoints == 0) return t;
    const auto& f = *s.loss_fit;
    const bool two = f.breakpoints == 2;
    const std::vector<double> lx =
        two ? std::vector<double>{f.x_min, f.x1, f.x2, f.x_max} : std::vector<double>{f.x_min, f.x_one, f.x_max};
    const std::vector<double> ly = two ? std::vector<double>{f.level[0], f.level[1], f.level[2], f.level[3]}
                                       : std::vector<double>{f.level_one[0], f.level_one[1], f.level_one[2]};
    std::vector<double> tt;
    for (double v : lx) tt.push_back(std::pow(10.0, v));
    t.add("log10_t", lx);
    t.add("t", tt);
    t.add("loss_fit", ly);
    return t;
}

// Hessian measurements against t: top_1 .. top_k (largest first), the negative and flat
// fractions and the trace with their errors, and the fitted power law of the negative
// fraction inside its fit range (NaN elsewhere). Empty without /hessian.
table hessian_values_table(const run_data& run, const aging_summary& s) {
    const hessian_series& h = run.hessian;
    table t;
    if (h.t.empty()) return t;
    t.add("t", h.t);
    for (Eigen::Index c = 0; c < h.top.cols(); ++c) {
        const Eigen::VectorXd col = h.top.col(c);
        t.add("top_" + std::to_string(c + 1), std::vector<double>(col.data(), col.data() + col.size()));
    }
    t.add("negative_fraction", h.negative_fraction);
    t.add("negative_fraction_err", h.negative_fraction_err);
    t.add("flat_fraction", h.flat_fraction);
    t.add("flat_fraction_err", h.flat_fraction_err);
    t.add("trace", h.trace);
    t.add("trace_err", h.trace_err);
    std::vector<double> fit(h.t.size(), std::nan(""));
    if (s.hessian && s.hessian->decay)
        for (std::size_t i = 0; i < h.t.size(); ++i)
            if (h.t[i] >= s.hessian->decay_t_min * (1 - 1e-12) && h.t[i] <= s.hessian->decay_t_max * (1 + 1e-12))
                fit[i] = std::exp(s.hessian->decay->intercept + s.hessian->decay->slope * std::log(h.t[i]));
    t.add("negative_fraction_fit", fit);
    return t;
}

/// The measurements whose spectral density is drawn: the first, the middle and the last.
std::vector<std::size_t> density_rows(const hessian_series& h) {
    const std::size_t n = h.t.size();
    std::vector<std::size_t> rows;
    if (n == 0) return rows;
    for (std::size_t i : {std::size_t{0}, (n - 1) / 2, n - 1})
        if (rows.empty() || rows.back() != i) rows.push_back(i);
    return rows;
}

// The spectral density at density_rows: one row per (measurement, grid point), columns h (the
// measurement's index in /hessian/t), t, lambda, density. Empty without /hessian/density.
table hessian_density_table(const run_data& run) {
    const hessian_series& h = run.hessian;
    table t;
    if (h.density.size() == 0) return t;
    std::vector<double> idx, time, lambda, density;
    for (std::size_t i : density_rows(h))
        for (std::size_t g = 0; g < h.density_grid.size(); ++g) {
            idx.push_back(static_cast<double>(i));
            time.push_back(h.t[i]);
            lambda.push_back(h.density_grid[g]);
            density.push_back(h.density(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(g)));
        }
    t.add("h", idx);
    t.add("t", time);
    t.add("lambda", lambda);
    t.add("density", density);
    return t;
}

/// Index of `v` among the sorted distinct values of `all` (the curve a barrier pair belongs to).
double distinct_index(const std::vector<double>& all, double v) {
    std::vector<double> u = all;
    std::sort(u.begin(), u.end());
    u.erase(std::unique(u.begin(), u.end()), u.end());
    return static_cast<double>(std::lower_bound(u.begin(), u.end(), v) - u.begin());
}

/// The sorted distinct values of `v`.
std::vector<double> distinct_values(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

/// Up to `n` evenly spaced entries of `v` (all when it has no more), first and last included.
std::vector<double> spread_pick(const std::vector<double>& v, std::size_t n) {
    if (v.size() <= n) return v;
    std::vector<double> out;
    for (std::size_t k = 0; k < n; ++k) out.push_back(v[k * (v.size() - 1) / (n - 1)]);
    return out;
}

// One row per barrier path: b (pair index), w and l (indices of its t_w and t among the
// distinct values), tw, t, height, height_err, the energies of its ends, the absolute threshold
// (relative x mean |end|) and whether it rises above it (1/0, nan unmeasured). Empty without /barrier.
table barrier_table(const run_data& run, const aging_summary& s) {
    const barrier_series& b = run.barrier;
    table t;
    if (b.tw.empty()) return t;
    std::vector<double> idx, w, l, e0, e1, thr, rises;
    const Eigen::Index last = b.energy.cols() - 1;
    for (std::size_t k = 0; k < b.tw.size(); ++k) {
        const auto row = static_cast<Eigen::Index>(k);
        idx.push_back(static_cast<double>(k));
        w.push_back(distinct_index(b.tw, b.tw[k]));
        l.push_back(distinct_index(b.t, b.t[k]));
        e0.push_back(last >= 0 ? b.energy(row, 0) : std::nan(""));
        e1.push_back(last >= 0 ? b.energy(row, last) : std::nan(""));
        thr.push_back(s.barrier->threshold * 0.5 * (std::abs(e0.back()) + std::abs(e1.back())));
        rises.push_back(std::isfinite(b.height[k]) ? (b.height[k] > thr.back() ? 1.0 : 0.0) : std::nan(""));
    }
    t.add("b", idx);
    t.add("w", w);
    t.add("l", l);
    t.add("tw", b.tw);
    t.add("t", b.t);
    t.add("height", b.height);
    t.add("height_err", b.height_err);
    t.add("e_start", e0);
    t.add("e_end", e1);
    t.add("threshold", thr);
    t.add("rises", rises);
    return t;
}

// barrier.csv's rows ordered by lag, then t_w (gnuplot joins a curve's points only where they
// follow one another in the file): the curves of height against t_w at each lag.
table barrier_by_lag_table(const run_data& run, const table& by_pair) {
    table t;
    if (by_pair.columns.empty()) return t;
    std::vector<std::size_t> order(run.barrier.tw.size());
    for (std::size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return run.barrier.t[a] < run.barrier.t[b]; });
    for (std::size_t c = 0; c < by_pair.columns.size(); ++c) {
        std::vector<double> col;
        for (const std::size_t k : order) col.push_back(by_pair.columns[c][k]);
        t.add(by_pair.header[c], col);
    }
    return t;
}

/// The paths whose profile is drawn: the highest one and up to five evenly spaced measured ones.
std::vector<std::size_t> path_rows(const barrier_series& b) {
    std::vector<std::size_t> measured;
    if (b.alpha.empty()) return measured; // a path of no points has no profile
    for (std::size_t k = 0; k < b.height.size(); ++k)
        if (std::isfinite(b.height[k])) measured.push_back(k);
    std::vector<std::size_t> rows;
    if (measured.empty()) return rows;
    const std::size_t n = std::min<std::size_t>(5, measured.size());
    for (std::size_t k = 0; k < n; ++k) rows.push_back(measured[n == 1 ? 0 : k * (measured.size() - 1) / (n - 1)]);
    rows.push_back(*std::max_element(measured.begin(), measured.end(),
                                     [&](std::size_t a, std::size_t c) { return b.height[a] < b.height[c]; }));
    std::sort(rows.begin(), rows.end());
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    return rows;
}

// The energy along the paths of path_rows: one row per (path, point), columns b, tw, t, alpha,
// energy, above_ends (energy - max of the two ends). Empty without a measured path.
table barrier_paths_table(const run_data& run) {
    const barrier_series& b = run.barrier;
    table t;
    const auto rows = path_rows(b);
    if (rows.empty()) return t;
    std::vector<double> idx, tw, lag, alpha, energy, above;
    for (const std::size_t k : rows) {
        const Eigen::RowVectorXd e = b.energy.row(static_cast<Eigen::Index>(k));
        const double ends = std::max(e(0), e(e.size() - 1));
        for (std::size_t a = 0; a < b.alpha.size(); ++a) {
            idx.push_back(static_cast<double>(k));
            tw.push_back(b.tw[k]);
            lag.push_back(b.t[k]);
            alpha.push_back(b.alpha[a]);
            energy.push_back(e(static_cast<Eigen::Index>(a)));
            above.push_back(energy.back() - ends);
        }
    }
    t.add("b", idx);
    t.add("tw", tw);
    t.add("t", lag);
    t.add("alpha", alpha);
    t.add("energy", energy);
    t.add("above_ends", above);
    return t;
}

// Delta_AB of the clones, one row per (clone t_w, lag): c (index into /clones/tw), tw, t,
// delta_ab, delta_ab_err, delta (the main run's Delta at the same t_w and lag, main_delta_at;
// nan where /aging has no such t_w or the lag is outside its lags). Empty without /clones.
table clones_table(const run_data& run) {
    const clone_series& c = run.clones;
    table t;
    if (c.tw.empty()) return t;
    std::vector<double> idx, tw, lag, dab, err, main;
    const main_delta aging{run.tw, run.lag, run.delta};
    for (std::size_t i = 0; i < c.tw.size(); ++i) {
        for (std::size_t j = 0; j < c.t.size(); ++j) {
            const auto ii = static_cast<Eigen::Index>(i), jj = static_cast<Eigen::Index>(j);
            idx.push_back(static_cast<double>(i));
            tw.push_back(c.tw[i]);
            lag.push_back(c.t[j]);
            dab.push_back(c.delta(ii, jj));
            err.push_back(c.delta_err(ii, jj));
            main.push_back(main_delta_at(aging, c.tw[i], c.t[j]).value_or(std::nan("")));
        }
    }
    t.add("c", idx);
    t.add("tw", tw);
    t.add("t", lag);
    t.add("delta_ab", dab);
    t.add("delta_ab_err", err);
    t.add("delta", main);
    return t;
}

// One row per clone t_w: c, tw, barrier, barrier_err, threshold (absolute), connected (1/0,
// nan unknown), t_last, delta_ab (at t_last), test_accuracy_drop (nan when not recorded).
table clones_barrier_table(const aging_summary& s) {
    table t;
    if (!s.clones) return t;
    const auto v = [](const std::optional<double>& x) { return x.value_or(std::nan("")); };
    std::vector<double> idx, tw, bar, err, thr, conn, tl, dab, drop;
    for (std::size_t i = 0; i < s.clones->rows.size(); ++i) {
        const clone_row& r = s.clones->rows[i];
        idx.push_back(static_cast<double>(i));
        tw.push_back(r.tw);
        bar.push_back(v(r.barrier));
        err.push_back(v(r.barrier_err));
        thr.push_back(v(s.clones->absolute_threshold));
        conn.push_back(r.connected ? (*r.connected ? 1.0 : 0.0) : std::nan(""));
        tl.push_back(v(r.t_last));
        dab.push_back(v(r.delta_ab));
        drop.push_back(v(r.test_accuracy_drop));
    }
    t.add("c", idx);
    t.add("tw", tw);
    t.add("barrier", bar);
    t.add("barrier_err", err);
    t.add("threshold", thr);
    t.add("connected", conn);
    t.add("t_last", tl);
    t.add("delta_ab", dab);
    t.add("test_accuracy_drop", drop);
    return t;
}

run_tables make_tables(const run_data& run, const aging_summary& s) {
    run_tables t;
    t.energy = energy_table(run, s);
    t.observables = observables_table(run, t.obs_names);
    if (!run.tw.empty()) {
        const row_matrix scaled = delta_over_noise(run);
        t.delta = delta_table(run, s, scaled);
        t.waiting = waiting_table(run, s);
        t.slope = slope_table(run, s, scaled);
    }
    t.loss_fit = loss_fit_table(s);
    t.hessian = hessian_values_table(run, s);
    t.hessian_density = hessian_density_table(run);
    t.barrier = barrier_table(run, s);
    t.barrier_by_lag = barrier_by_lag_table(run, t.barrier);
    t.barrier_paths = barrier_paths_table(run);
    t.clones = clones_table(run);
    t.clones_barrier = clones_barrier_table(s);
    return t;
}

/// A figure: file stem, gnuplot commands (after `reset`) and size.
struct figure {
    std::string stem;
    std::string body;
    int width = 800, height = 500;
};

const char* preamble = "set datafile separator \",\"\n"
                       "set datafile columnheaders\n"
                       "set palette defined (0 '#1b3b8b', 0.35 '#1f9e89', 0.7 '#e08a00', 1 '#c0182a')\n"
                       "unset colorbox\n"
                       "set grid lc rgb '#dddddd'\n"
                       "set format x '10^{%L}'\n";

std::string curve_color(std::size_t k, std::size_t n) {
    const double f = n > 1 ? static_cast<double>(k) / static_cast<double>(n - 1) : 0.0;
    return "lc palette frac " + fmt(f);
}

/// "plot" clauses of Delta-like curves, one per waiting time (optionally filtered by panel).
std::string delta_curves(const std::string& file, const run_data& run, const aging_summary& s, int xcol, int ycol,
                         int panel, bool logy) {
    std::vector<std::size_t> rows;
    for (std::size_t i = 0; i < run.tw.size(); ++i)
        if (panel < 0 || panel_of(s, i) == panel) rows.push_back(i);
    std::string out;
    for (std::size_t k = 0; k < rows.size(); ++k) {
        const std::size_t i = rows[k];
        const std::string y = logy ? "($" + std::to_string(ycol) + " > 0 ? $" + std::to_string(ycol) + " : NaN)"
                                   : "($" + std::to_string(ycol) + ")";
        out += (out.empty() ? "" : ", ") + quote(file) + " using ($1 == " + std::to_string(i) + " ? $" +
               std::to_string(xcol) + " : NaN):" + y + " with linespoints pt 7 ps 0.4 lw 1.5 " +
               curve_color(i, run.tw.size()) + " title \"t_w = " + short_num(run.tw[i]) + "\"";
    }
    return out;
}

// A dashed vertical line at t labelled `name` (t_1, t_2).
std::string t_mark(double t, const char* name) {
    return "set arrow from " + fmt(t) + ", graph 0 to " + fmt(t) +
           ", graph 1 nohead dt 2 lw 1.5 lc rgb 'gray30'\nset label '" + name + "' at " + fmt(t) +
           ", graph 0.93 offset 0.4,0\n";
}

std::string t_marks(const aging_summary& s) {
    std::string out;
    if (s.t1) out += t_mark(*s.t1, "t_1");
    if (s.t2) out += t_mark(*s.t2, "t_2");
    return out;
}

/// What every figure of one run shares: its title line and the key placement for many curves.
struct figure_context {
    const run_data& run;
    const aging_summary& s;
    const report_options& o;
    std::string title, key_many;
};

// Figure 1(a): energy per spin against t, with the comparison exponential and the power law.
figure energy_figure(const figure_context& c) {
    const run_data& run = c.run;
    const aging_summary& s = c.s;
    figure f{"fig1a_energy", "", c.o.width, c.o.height};
    f.body = std::string(preamble) + c.title +
             "set logscale x\nset xlabel 't'\nset ylabel 'energy per spin e(t)'\nset key top right\n"
             "plot 'energy.csv' using 1:2 with lines lw 2 lc rgb '#1b3b8b' title 'e(t)'";
    if (run.n_error_samples > 1)
        f.body += ", '' using 1:($2-$3):($2+$3) with filledcurves fs transparent solid 0.25 noborder lc rgb "
                  "'#1b3b8b' notitle";
    if (s.exp_tau)
        f.body += ", '' using 1:4 with lines dt 2 lw 1.5 lc rgb '#c0182a' title 'exponential, {/Symbol t} = " +
                  short_num(*s.exp_tau) + "'";
    if (s.energy_fit)
        f.body += ", '' using 1:5 with lines dt 3 lw 2 lc rgb '#e08a00' title 'e_{/Symbol \\245} + A t^{-a}, a = " +
                  short_num(s.energy_fit->exponent) + "'";
    f.body += "\n";
    return f;
}

// Figure 2 (5(a) for an under-parametrised network): train/test loss with t1, t2 and the loss
// fit; below it train/test accuracy when recorded.
figure loss_figure(const figure_context& c, const run_tables& t) {
    const int tl = t.observables.index("train_loss"), vl = t.observables.index("test_loss");
    const int ta = t.observables.index("train_accuracy"), va = t.observables.index("test_accuracy");
    const bool acc = ta || va;
    figure f{is_under_parametrised(c.run) ? "fig5a_loss" : "fig2_loss", "", c.o.width,
             acc ? c.o.height * 7 / 5 : c.o.height};
    std::string loss =
        tl ? "'observables.csv' using 1:" + std::to_string(tl) + " with lines lw 2 lc rgb '#1b3b8b' title 'train loss'"
           : "'energy.csv' using 1:2 with lines lw 2 lc rgb '#1b3b8b' title 'train loss'";
    if (vl)
        loss +=
            ", 'observables.csv' using 1:" + std::to_string(vl) + " with lines lw 2 lc rgb '#c0182a' title 'test loss'";
    if (!t.loss_fit.columns.empty())
        loss += ", 'loss_fit.csv' using 2:3 with lines dt 2 lw 1.5 lc rgb 'black' title 'piecewise-linear fit'";
    f.body = std::string(preamble) + t_marks(c.s) + "set logscale x\nset xlabel 't (iterations)'\n";
    if (acc) f.body += "set multiplot layout 2,1\n";
    f.body += c.title + "set ylabel 'loss'\nset key top right\nplot " + loss + "\n";
    if (acc) {
        std::string a;
        if (ta)
            a += "'observables.csv' using 1:" + std::to_string(ta) +
                 " with lines lw 2 lc rgb '#1b3b8b' title 'train accuracy'";
        if (va)
            a += std::string(a.empty() ? "" : ", ") + "'observables.csv' using 1:" + std::to_string(va) +
                 " with lines lw 2 lc rgb '#c0182a' title 'test accuracy'";
        f.body += "unset title\nset ylabel 'accuracy'\nset key bottom right\nplot " + a + "\nunset multiplot\n";
    }
    return f;
}

// Figure 1(b) (glasses), 3 or 5(b) (networks, log y): Delta against the lag, one curve per t_w.
figure delta_figure(const figure_context& c) {
    const bool net = c.run.system == system_kind::net;
    figure f{net ? (is_under_parametrised(c.run) ? "fig5b_delta" : "fig3_delta") : "fig1b_delta", "", c.o.width,
             c.o.height};
    f.body = std::string(preamble) + c.title + c.key_many + "set logscale x\n" +
             (net ? "set logscale y\nset format y '10^{%L}'\n" : "") +
             "set xlabel 't'\nset ylabel '{/Symbol D}(t_w, t_w + t)'\nplot " +
             delta_curves("delta.csv", c.run, c.s, col_lag, col_delta, -1, net) + "\n";
    return f;
}

// Figure 4: Delta/D against the lag, in two panels (t_w below / above t2) when t2 is known.
figure delta_over_noise_figure(const figure_context& c, const run_tables& t) {
    const run_data& run = c.run;
    const aging_summary& s = c.s;
    const bool two = s.t2.has_value();
    figure g{"fig4_delta_over_D", "", c.o.width, two ? c.o.height * 8 / 5 : c.o.height};
    const std::string ylab =
        s.has_noise ? "{/Symbol D}(t_w, t_w + t) / D(t_w)" : "{/Symbol D}(t_w, t_w + t)  (D unknown)";
    const int ycol = scaled_delta_column(s);
    const std::string slope =
        t.slope.columns.empty() ? "" : ", 'slope_segment.csv' using 1:2 with lines lw 3 lc rgb 'black' title 'slope 1'";
    g.body = std::string(preamble) + c.key_many +
             "set logscale xy\nset format y '10^{%L}'\nset xlabel 't'\nset ylabel " + quote(ylab) + "\n";
    if (two) {
        const bool any_below = std::count(s.panel.begin(), s.panel.end(), 0) > 0;
        const bool any_above = std::count(s.panel.begin(), s.panel.end(), 1) > 0;
        g.body += "set multiplot layout 2,1\n" + c.title;
        g.body += "set label 1 't_w < t_2 = " + short_num(*s.t2) + "' at graph 0.02, graph 0.93 front\n";
        g.body += any_below ? "plot " + delta_curves("delta.csv", run, s, col_lag, ycol, 0, true) + "\n"
                            : "set multiplot next\n";
        g.body += "unset title\nset label 1 't_w > t_2' at graph 0.02, graph 0.93 front\n";
        g.body += any_above ? "plot " + delta_curves("delta.csv", run, s, col_lag, ycol, 1, true) + slope + "\n"
                            : "set multiplot next\n";
        g.body += "unset multiplot\n";
    } else {
        g.body += c.title +
                  (s.t2_note.empty() ? ""
                                     : "set label 1 " + quote(s.t2_note.substr(0, s.t2_note.find(';'))) +
                                           " at graph 0.02, graph 0.04 front font ',8' noenhanced\n") +
                  "plot " + delta_curves("delta.csv", run, s, col_lag, ycol, 0, true) + slope + "\n";
    }
    return g;
}

// Figure 1(c): Delta against t / t_w (glasses with at least two waiting times).
figure aging_scaling_figure(const figure_context& c) {
    figure h{"fig1c_aging_scaling", "", c.o.width, c.o.height};
    h.body = std::string(preamble) + c.title + c.key_many +
             "set logscale x\nset xlabel 't / t_w'\nset ylabel '{/Symbol D}(t_w, t_w + t)'\nplot " +
             delta_curves("delta.csv", c.run, c.s, col_ratio, col_delta, -1, false) + "\n";
    return h;
}

bool any_finite(const std::vector<double>& v, bool positive) {
    return std::any_of(v.begin(), v.end(), [positive](double x) { return std::isfinite(x) && (!positive || x > 0); });
}

// "using" expression of column `col`: NaN where a logarithmic axis cannot show the value.
std::string y_of(int col, bool logy) {
    const std::string c = "$" + std::to_string(col);
    return logy ? "(" + c + " > 0 ? " + c + " : NaN)" : "(" + c + ")";
}

// Axis settings of a panel against log t (each panel sets its own, so that panels can follow
// one another in a multiplot).
const char* log_t_axis = "unset logscale\nset format x '10^{%L}'\nset format y '%g'\nset logscale x\nset xlabel 't'\n";

// gnuplot commands of the panel "negative and flat fraction against t" from `file`
// (hessian.csv, columns of `t`): log t; log y when a fraction is positive somewhere (then only
// the positive values are drawn); error bars where known; the power-law fit of the negative
// fraction. Empty when neither fraction has a value to draw.
std::string fractions_panel(const std::string& file, const table& t, const run_data& run, const aging_summary& s) {
    const hessian_series& h = run.hessian;
    const bool logy = any_finite(h.negative_fraction, true) || any_finite(h.flat_fraction, true);
    std::string plot;
    const auto curve = [&](const std::vector<double>& v, const std::vector<double>& err, const std::string& name,
                           const std::string& color, const std::string& title) {
        if (!any_finite(v, logy)) return;
        const int c = t.index(name), e = t.index(name + "_err");
        // Error bars first: drawn after the points, they would blank them out.
        if (any_finite(err, false))
            plot += (plot.empty() ? "" : ", ") + quote(file) + " using 1:" + y_of(c, logy) + ":" + std::to_string(e) +
                    " with yerrorbars pt 7 ps 0 lc rgb '" + color + "' notitle";
        plot += (plot.empty() ? "" : ", ") + quote(file) + " using 1:" + y_of(c, logy) +
                " with linespoints pt 7 ps 0.5 lw 2 lc rgb '" + color + "' title '" + title + "'";
    };
    curve(h.negative_fraction, h.negative_fraction_err, "negative_fraction", "#c0182a", "negative (index)");
    curve(h.flat_fraction, h.flat_fraction_err, "flat_fraction", "#1b3b8b",
          "flat: |{/Symbol l}| {/Symbol \\243} {/Symbol e} max|{/Symbol l}|");
    if (plot.empty()) return {};
    if (s.hessian && s.hessian->decay)
        plot += ", " + quote(file) + " using 1:" + std::to_string(t.index("negative_fraction_fit")) +
                " with lines dt 2 lw 1.5 lc rgb 'black' title 'A t^{-a}, a = " + short_num(-s.hessian->decay->slope) +
                " {/Symbol \\261} " + short_num(s.hessian->decay->slope_err) + "'";
    return std::string(log_t_axis) + (logy ? "set logscale y\nset format y '10^{%L}'\n" : "") +
           "set ylabel 'fraction of Hessian eigenvalues'\nset key bottom left\nplot " + plot + "\n";
}

// The panel "k largest eigenvalues against t" (lambda_1 bold); empty without /hessian/top.
std::string top_panel(const std::string& file, const table& t, const run_data& run) {
    const auto k = static_cast<std::size_t>(run.hessian.top.cols());
    if (k == 0 || !run.hessian.top.array().isFinite().any()) return {};
    std::string plot;
    for (std::size_t c = k; c-- > 0;) { // lambda_1 last, drawn over the others
        const std::string title = c == 0       ? "{/Symbol l}_1 (largest)"
                                  : c + 1 == k ? "{/Symbol l}_{" + std::to_string(k) + "}"
                                               : std::string();
        plot += (plot.empty() ? "" : ", ") + quote(file) +
                " using 1:" + std::to_string(t.index("top_" + std::to_string(c + 1))) + " with lines " +
                (c == 0 ? "lw 2.5 lc rgb '#c0182a'" : "lw 1 " + curve_color(c, k)) +
                (title.empty() ? " notitle" : " title '" + title + "'");
    }
    return std::string(log_t_axis) + "set ylabel 'largest Hessian eigenvalues'\nset key top right\nplot " + plot + "\n";
}

// The panel "trace of the Hessian against t" with its error bars; empty without a finite trace.
std::string trace_panel(const std::string& file, const table& t, const run_data& run) {
    const hessian_series& h = run.hessian;
    if (!any_finite(h.trace, false)) return {};
    const std::string c = std::to_string(t.index("trace")), e = std::to_string(t.index("trace_err"));
    std::string plot; // error bars first: drawn after the points, they would blank them out
    if (any_finite(h.trace_err, false))
        plot = quote(file) + " using 1:" + c + ":" + e + " with yerrorbars pt 7 ps 0 lc rgb '#1b3b8b' notitle, ";
    plot += quote(file) + " using 1:" + c + " with linespoints pt 7 ps 0.5 lw 2 lc rgb '#1b3b8b' title 'trace'";
    return std::string(log_t_axis) + "set ylabel 'trace of the Hessian'\nset key top right\nplot " + plot + "\n";
}

// The panel "spectral density at the first, middle and last measurement" (hessian_density.csv);
// empty without a finite density.
std::string density_panel(const std::string& file, const run_data& run) {
    const hessian_series& h = run.hessian;
    if (h.density.size() == 0 || !h.density.array().isFinite().any()) return {};
    const auto rows = density_rows(h);
    std::string plot;
    for (std::size_t k = 0; k < rows.size(); ++k)
        plot += (plot.empty() ? "" : ", ") + quote(file) + " using ($1 == " + std::to_string(rows[k]) +
                " ? $3 : NaN):4 with lines lw 2 " + curve_color(k, rows.size()) +
                " title 't = " + short_num(h.t[rows[k]]) + "'";
    return "unset logscale\nset format x '%g'\nset format y '%g'\nset xlabel 'Hessian eigenvalue {/Symbol l}'\n"
           "set ylabel 'spectral density'\nset key top right\nplot " +
           plot + "\n";
}

// The Hessian figures of one run: fractions, largest eigenvalues (with the trace below when
// recorded) and densities; each only when it has something to draw.
void add_hessian_figures(const figure_context& c, const run_tables& t, std::vector<figure>& figs) {
    if (c.run.hessian.t.empty()) return;
    const std::string head = std::string(preamble) + c.title;
    if (auto p = fractions_panel("hessian.csv", t.hessian, c.run, c.s); !p.empty())
        figs.push_back({"hessian_fractions", head + p, c.o.width, c.o.height});
    const std::string top = top_panel("hessian.csv", t.hessian, c.run);
    const std::string trace = trace_panel("hessian.csv", t.hessian, c.run);
    if (!top.empty() && !trace.empty())
        figs.push_back({"hessian_top",
                        std::string(preamble) + "set multiplot layout 2,1\n" + c.title + top + "unset title\n" + trace +
                            "unset multiplot\n",
                        c.o.width, c.o.height * 8 / 5});
    else if (!top.empty() || !trace.empty()) figs.push_back({"hessian_top", head + top + trace, c.o.width, c.o.height});
    if (auto p = density_panel("hessian_density.csv", c.run); !p.empty())
        figs.push_back({"hessian_density", head + p, c.o.width, c.o.height});
}

// "plot" clause filtering the rows of `file` whose column `key` equals `value`: x column `x`, y
// column `y` (positive values only when `logy`; log x drops x <= 0).
std::string filtered(const std::string& file, int key, std::size_t value, int x, int y, bool logx, bool logy) {
    const std::string xs = "$" + std::to_string(x);
    return quote(file) + " using ($" + std::to_string(key) + " == " + std::to_string(value) +
           (logx ? " && " + xs + " > 0" : std::string()) + " ? " + xs + " : NaN):" + y_of(y, logy);
}

// The panel "barrier height against t_w, one curve per lag t" (barrier_by_lag.csv), log t_w.
std::string barrier_tw_panel(const std::string& file, const table& t, const run_data& run) {
    const auto lags = distinct_values(run.barrier.t);
    std::string plot;
    for (std::size_t l = 0; l < lags.size(); ++l)
        plot += (plot.empty() ? "" : ", ") +
                filtered(file, t.index("l"), l, t.index("tw"), t.index("height"), true, false) +
                " with linespoints pt 7 ps 0.5 lw 1.5 " + curve_color(l, lags.size()) +
                " title 't = " + short_num(lags[l]) + "'";
    return "unset logscale\nset format y '%g'\nset format x '10^{%L}'\nset logscale x\nset xlabel 't_w'\n"
           "set ylabel 'barrier height'\nset key outside right top font ',8'\nplot " +
           plot + "\n";
}

// The panel "barrier height against t for a few t_w" (barrier.csv), log t.
std::string barrier_t_panel(const std::string& file, const table& t, const run_data& run) {
    const auto tws = distinct_values(run.barrier.tw);
    std::string plot;
    const auto picked = spread_pick(tws, 4);
    for (std::size_t k = 0; k < picked.size(); ++k) {
        const auto w = static_cast<std::size_t>(distinct_index(tws, picked[k]));
        plot += (plot.empty() ? "" : ", ") +
                filtered(file, t.index("w"), w, t.index("t"), t.index("height"), true, false) +
                " with linespoints pt 7 ps 0.5 lw 1.5 " + curve_color(k, picked.size()) +
                " title 't_w = " + short_num(picked[k]) + "'";
    }
    return "unset logscale\nset format y '%g'\nset format x '10^{%L}'\nset logscale x\nset xlabel 't'\n"
           "set ylabel 'barrier height'\nset key outside right top font ',8'\nplot " +
           plot + "\n";
}

// The panel "energy (loss) along the paths of path_rows" (barrier_paths.csv), column `ycol`
// (energy, or above_ends: relative to the higher end); empty without a measured path.
std::string paths_panel(const std::string& file, const table& t, const run_data& run, const std::string& ycol) {
    const auto rows = path_rows(run.barrier);
    if (rows.empty()) return {};
    const bool net = run.system == system_kind::net;
    std::string plot;
    for (std::size_t k = 0; k < rows.size(); ++k)
        plot += (plot.empty() ? "" : ", ") +
                filtered(file, t.index("b"), rows[k], t.index("alpha"), t.index(ycol), false, false) +
                " with linespoints pt 7 ps 0.4 lw 1.5 " + curve_color(k, rows.size()) + " title '(t_w, t) = (" +
                short_num(run.barrier.tw[rows[k]]) + ", " + short_num(run.barrier.t[rows[k]]) + ")'";
    const std::string what = net ? "train loss" : "energy per spin";
    return "unset logscale\nset format x '%g'\nset format y '%g'\nset xlabel '{/Symbol a} (0: x(t_w), 1: x(t_w + t))'\n"
           "set ylabel '" +
           (ycol == "energy" ? what : what + " - max of the ends") + "'\nset key outside right top font ',8'\nplot " +
           plot + "\n";
}

// The panel "Delta_AB(t_w, t) of the clones (solid, clones.csv) next to Delta(t_w, t_w + t) of
// the main run (dashed, same colour, from `delta_file`, the run's delta.csv) where /aging has the
// clones' t_w, one colour per clone t_w", log-log.
std::string clones_delta_panel(const std::string& file, const std::string& delta_file, const table& t,
                               const run_data& run) {
    const clone_series& c = run.clones;
    std::string plot;
    bool main = false;
    for (std::size_t i = 0; i < c.tw.size(); ++i) {
        const std::string col = curve_color(i, c.tw.size());
        plot += (plot.empty() ? "" : ", ") +
                filtered(file, t.index("c"), i, t.index("t"), t.index("delta_ab"), true, true) +
                " with linespoints pt 7 ps 0.4 lw 1.5 " + col + " title 'clones, t_w = " + short_num(c.tw[i]) + "'";
        if (const auto w = find_on_grid(run.tw, c.tw[i])) {
            plot += ", " + filtered(delta_file, 1, *w, col_lag, col_delta, true, true) + " with lines dt 2 lw 1.5 " +
                    col + " notitle";
            main = true;
        }
    }
    return "unset logscale\nset logscale xy\nset format x '10^{%L}'\nset format y '10^{%L}'\nset xlabel 't'\n"
           "set ylabel '{/Symbol D}_{AB}(t_w, t)" +
           std::string(main ? ";  dashed: {/Symbol D}(t_w, t_w + t)" : "") +
           "'\nset key outside right top font ',8'\nplot " + plot + "\n";
}

// The panel "barrier between the clones against t_w" (clones_barrier.csv) with the threshold of
// linear connectivity (dashed) and the first connected t_w (a vertical line); empty when no
// barrier is measured.
std::string clones_barrier_panel(const std::string& file, const table& t, const run_data& run, const aging_summary& s) {
    const clone_summary& c = *s.clones;
    const auto col = [&](const char* name) { return t.columns[static_cast<std::size_t>(t.index(name) - 1)]; };
    if (!any_finite(col("barrier"), false)) return {};
    const std::string x = "($" + std::to_string(t.index("tw")) + " > 0 ? $" + std::to_string(t.index("tw")) + " : NaN)";
    std::string plot;
    if (any_finite(col("barrier_err"), false))
        plot = quote(file) + " using " + x + ":" + std::to_string(t.index("barrier")) + ":" +
               std::to_string(t.index("barrier_err")) + " with yerrorbars pt 7 ps 0 lc rgb '#1b3b8b' notitle, ";
    plot += quote(file) + " using " + x + ":" + std::to_string(t.index("barrier")) +
            " with linespoints pt 7 ps 0.7 lw 2 lc rgb '#1b3b8b' title 'barrier between clones'";
    if (c.absolute_threshold)
        plot += ", " + quote(file) + " using " + x + ":" + std::to_string(t.index("threshold")) +
                " with lines dt 2 lw 1.5 lc rgb '#c0182a' title '" + short_num(100 * c.threshold) + " % of |final " +
                (run.system == system_kind::net ? "loss" : "energy") + "|'";
    std::string marks;
    if (c.connected_from_tw && *c.connected_from_tw > 0)
        marks = "set arrow from " + fmt(*c.connected_from_tw) + ", graph 0 to " + fmt(*c.connected_from_tw) +
                ", graph 1 nohead dt 3 lw 1.5 lc rgb 'gray30'\nset label 'linearly connected from here' at " +
                fmt(*c.connected_from_tw) + ", graph 0.93 offset 0.4,0 font ',8'\n";
    return "unset logscale\nunset arrow\nunset label\nset format y '%g'\nset format x '10^{%L}'\nset logscale x\n"
           "set xlabel 't_w (clones born)'\nset ylabel 'barrier at the end of the clone run'\nset key top right "
           "font ',8'\n" +
           marks + "plot " + plot + "\nunset arrow\nunset label\n";
}

// The panel "test-accuracy drop along the line between the clones against t_w" (networks that
// record it); empty otherwise.
std::string clones_accuracy_panel(const std::string& file, const table& t) {
    if (!any_finite(t.columns[static_cast<std::size_t>(t.index("test_accuracy_drop") - 1)], false)) return {};
    const std::string x = "($" + std::to_string(t.index("tw")) + " > 0 ? $" + std::to_string(t.index("tw")) + " : NaN)";
    return "unset logscale\nset format y '%g'\nset format x '10^{%L}'\nset logscale x\nset xlabel 't_w (clones born)'\n"
           "set ylabel 'test-accuracy drop'\nset key top right font ',8'\nplot " +
           quote(file) + " using " + x + ":" + std::to_string(t.index("test_accuracy_drop")) +
           " with linespoints pt 7 ps 0.7 lw 2 lc rgb '#c0182a' title 'along the line between clones'\n";
}

// A figure of stacked panels (one column), or nothing when every panel is empty.
void add_stacked(const figure_context& c, const std::string& stem, const std::vector<std::string>& panels,
                 std::vector<figure>& figs) {
    std::vector<std::string> used;
    for (const auto& p : panels)
        if (!p.empty()) used.push_back(p);
    if (used.empty()) return;
    figure f{stem, std::string(preamble), c.o.width, c.o.height * (used.size() > 1 ? 8 : 5) / 5};
    if (used.size() > 1) f.body += "set multiplot layout " + std::to_string(used.size()) + ",1\n";
    f.body += c.title;
    for (std::size_t k = 0; k < used.size(); ++k) f.body += (k ? "unset title\n" : "") + used[k];
    if (used.size() > 1) f.body += "unset multiplot\n";
    figs.push_back(f);
}

// The barrier and clone figures of one run (each only when the run has its data).
void add_barrier_figures(const figure_context& c, const run_tables& t, std::vector<figure>& figs) {
    if (!c.run.barrier.tw.empty()) {
        add_stacked(c, "barrier_height",
                    {barrier_tw_panel("barrier_by_lag.csv", t.barrier_by_lag, c.run),
                     barrier_t_panel("barrier.csv", t.barrier, c.run)},
                    figs);
        add_stacked(c, "barrier_paths",
                    {paths_panel("barrier_paths.csv", t.barrier_paths, c.run, "energy"),
                     paths_panel("barrier_paths.csv", t.barrier_paths, c.run, "above_ends")},
                    figs);
    }
    if (!c.run.clones.tw.empty()) {
        add_stacked(c, "clones_delta", {clones_delta_panel("clones.csv", "delta.csv", t.clones, c.run)}, figs);
        add_stacked(c, "clones_barrier",
                    {clones_barrier_panel("clones_barrier.csv", t.clones_barrier, c.run, c.s),
                     clones_accuracy_panel("clones_barrier.csv", t.clones_barrier)},
                    figs);
    }
}

std::vector<figure> make_figures(const run_data& run, const aging_summary& s, const run_tables& t,
                                 const report_options& o) {
    const figure_context c{run, s, o, "set title " + quote(describe(run)) + " noenhanced\n",
                           run.tw.size() > 8 ? "set key outside right top font ',8'\n"
                                             : "set key bottom right font ',9'\n"};
    const bool net = run.system == system_kind::net;
    std::vector<figure> figs;
    figs.push_back(net ? loss_figure(c, t) : energy_figure(c));
    if (!run.tw.empty()) {
        figs.push_back(delta_figure(c));
        figs.push_back(delta_over_noise_figure(c, t));
        if (!net && run.tw.size() >= 2) figs.push_back(aging_scaling_figure(c));
    }
    add_hessian_figures(c, t, figs);
    add_barrier_figures(c, t, figs);
    return figs;
}

std::string script_for(const figure& f, const std::string& png) {
    std::string s;
    const std::string font = png == "pngcairo" ? " font 'sans,10'" : "";
    s += "set terminal " + png + " size " + std::to_string(f.width) + "," + std::to_string(f.height) + " enhanced" +
         font + "\nset output '" + f.stem + ".png'\nreset\n" + f.body + "set output\n";
    s += "set terminal svg size " + std::to_string(f.width) + "," + std::to_string(f.height) +
         " enhanced font 'sans,10' background 'white'\nset output '" + f.stem + ".svg'\nreset\n" + f.body +
         "set output\n";
    return s;
}

void make_dir(const fs::path& dir) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir)) throw error("cannot create output directory " + dir.string());
}

void run_figures(const std::vector<figure>& figs, const fs::path& dir, const report_options& o, report_result& out) {
    const std::string png = o.plots && gnuplot_available(o.gnuplot) ? png_terminal(o.gnuplot) : "pngcairo";
    for (const auto& f : figs) write_text(dir / (f.stem + ".gp"), script_for(f, png), out);
    if (!o.plots) return;
    if (!gnuplot_available(o.gnuplot)) {
        out.warnings.push_back("gnuplot not found ('" + o.gnuplot +
                               "'): plots skipped; tables and gnuplot scripts were written");
        return;
    }
    for (const auto& f : figs) {
        const gnuplot_result r = run_gnuplot(o.gnuplot, f.stem + ".gp", dir);
        if (!r.ok) {
            out.warnings.push_back(r.message);
            if (r.missing) return;
            continue;
        }
        for (const char* ext : {".png", ".svg"}) {
            const fs::path p = dir / (f.stem + ext);
            std::error_code ec;
            if (fs::exists(p, ec) && fs::file_size(p, ec) > 0) {
                out.files.push_back(p);
                out.plotted = true;
            } else {
                out.warnings.push_back("gnuplot produced no " + p.filename().string());
            }
        }
    }
}

report_result write_tables_and_summary(const run_data& run, const aging_summary& s, const fs::path& dir, run_tables& t,
                                       nlohmann::json& summary) {
    report_result out;
    make_dir(dir);
    std::vector<std::string> names;
    auto put = [&](const std::string& name, const table& tb) {
        if (tb.columns.empty()) return;
        write_text(dir / name, tb.csv(), out);
        names.push_back(name);
    };
    put("energy.csv", t.energy);
    put("observables.csv", t.observables);
    put("delta.csv", t.delta);
    put("waiting_times.csv", t.waiting);
    put("slope_segment.csv", t.slope);
    put("loss_fit.csv", t.loss_fit);
    put("hessian.csv", t.hessian);
    put("hessian_density.csv", t.hessian_density);
    put("barrier.csv", t.barrier);
    put("barrier_by_lag.csv", t.barrier_by_lag);
    put("barrier_paths.csv", t.barrier_paths);
    put("clones.csv", t.clones);
    put("clones_barrier.csv", t.clones_barrier);
    summary = to_json(run, s);
    summary["tables"] = names;
    return out;
}

// The side-by-side Hessian figure of --compare, for two runs with /hessian: columns the two
// runs (their reports in `names`[k]/), rows the fractions, the largest eigenvalues and the
// spectral densities (a cell stays empty where a run lacks that measurement).
figure compare_hessian_figure(const run_data* const runs[2], const aging_summary* const summaries[2],
                              const char* const names[2], const report_options& o) {
    figure f{"compare_hessian", "", o.width * 5 / 4, o.height * 2};
    f.body = std::string(preamble) + "set multiplot layout 3,2 columnsfirst\nset key font ',8'\n";
    for (int k = 0; k < 2; ++k) {
        const run_data& run = *runs[k];
        const run_tables t = make_tables(run, *summaries[k]);
        const std::string d = std::string(names[k]) + "/";
        f.body += "set title " + quote(describe(run)) + " noenhanced font ',9'\n";
        for (const std::string& panel :
             {fractions_panel(d + "hessian.csv", t.hessian, run, *summaries[k]),
              top_panel(d + "hessian.csv", t.hessian, run), density_panel(d + "hessian_density.csv", run)})
            f.body += (panel.empty() ? "set multiplot next\n" : panel) + "unset title\n";
    }
    f.body += "unset multiplot\n";
    return f;
}

// A --compare figure: two columns (the runs), one row per panel of `panels`[k] (a cell stays
// empty where that run's panel is empty).
figure compare_columns(const std::string& stem, const run_data* const runs[2],
                       const std::vector<std::string> (&panels)[2], const report_options& o) {
    const std::size_t rows = std::max(panels[0].size(), panels[1].size());
    figure f{stem, "", o.width * 3 / 2, o.height * static_cast<int>(rows) * 4 / 5};
    f.body = std::string(preamble) + "set multiplot layout " + std::to_string(rows) + ",2 columnsfirst\n";
    for (int k = 0; k < 2; ++k) {
        f.body += "set title " + quote(describe(*runs[k])) + " noenhanced font ',9'\n";
        for (const std::string& panel : panels[k])
            f.body += (panel.empty() ? "set multiplot next\n" : panel) + "unset title\n";
    }
    f.body += "unset multiplot\n";
    return f;
}

// The --compare figures of barriers (both runs with /barrier: heights against t_w, paths
// relative to their ends) and clones (both with /clones: Delta_AB next to Delta, the barrier
// between clones against t_w); the runs' reports are in `names`[k]/.
void add_compare_barrier_figures(const run_data* const runs[2], const aging_summary* const summaries[2],
                                 const char* const names[2], const report_options& o, std::vector<figure>& figs) {
    run_tables t[2];
    std::string d[2];
    for (int k = 0; k < 2; ++k) {
        t[k] = make_tables(*runs[k], *summaries[k]);
        d[k] = std::string(names[k]) + "/";
    }
    if (!runs[0]->barrier.tw.empty() && !runs[1]->barrier.tw.empty()) {
        std::vector<std::string> panels[2];
        for (int k = 0; k < 2; ++k)
            panels[k] = {barrier_tw_panel(d[k] + "barrier_by_lag.csv", t[k].barrier_by_lag, *runs[k]),
                         paths_panel(d[k] + "barrier_paths.csv", t[k].barrier_paths, *runs[k], "above_ends")};
        figs.push_back(compare_columns("compare_barrier", runs, panels, o));
    }
    if (!runs[0]->clones.tw.empty() && !runs[1]->clones.tw.empty()) {
        std::vector<std::string> panels[2];
        for (int k = 0; k < 2; ++k)
            panels[k] = {
                clones_delta_panel(d[k] + "clones.csv", d[k] + "delta.csv", t[k].clones, *runs[k]),
                clones_barrier_panel(d[k] + "clones_barrier.csv", t[k].clones_barrier, *runs[k], *summaries[k])};
        figs.push_back(compare_columns("compare_clones", runs, panels, o));
    }
}

// The numeric columns of sweep.csv (the file name comes last, as "source").
table sweep_table(const sweep_result& sw) {
    table t;
    std::vector<double> jammed, threshold;
    for (const auto& r : sw.rows) {
        threshold.push_back(sw.relative_threshold * r.initial_train_loss);
        jammed.push_back(r.train_loss > threshold.back() ? 1.0 : 0.0);
    }
    const auto col = [&](const char* name, double sweep_row::*m) {
        std::vector<double> v;
        for (const auto& r : sw.rows) v.push_back(r.*m);
        t.add(name, std::move(v));
    };
    col("value", &sweep_row::x);
    col("num_parameters", &sweep_row::num_parameters);
    col("train_count", &sweep_row::train_count);
    col("n_over_p", &sweep_row::n_over_p);
    col("steps_done", &sweep_row::steps_done);
    std::vector<double> complete, converged;
    for (const auto& r : sw.rows) {
        complete.push_back(r.complete ? 1.0 : 0.0);
        converged.push_back(r.converged ? 1.0 : 0.0);
    }
    t.add("complete", complete);
    t.add("converged", converged);
    t.add("jammed", jammed);
    col("initial_train_loss", &sweep_row::initial_train_loss);
    t.add("loss_threshold", threshold);
    for (const auto& [name, m] : std::initializer_list<std::pair<const char*, double sweep_row::*>>{
             {"train_loss", &sweep_row::train_loss},
             {"test_loss", &sweep_row::test_loss},
             {"train_accuracy", &sweep_row::train_accuracy},
             {"test_accuracy", &sweep_row::test_accuracy},
             {"unsatisfied_fraction", &sweep_row::unsatisfied_fraction},
             {"test_unsatisfied_fraction", &sweep_row::test_unsatisfied_fraction},
             {"t1", &sweep_row::t1},
             {"t2", &sweep_row::t2},
             {"collapse_below_t2", &sweep_row::collapse_below},
             {"collapse_above_t2", &sweep_row::collapse_above},
             {"plateau", &sweep_row::plateau},
             {"diffusive_exponent", &sweep_row::diffusive_exponent},
             {"hessian_top", &sweep_row::hessian_top},
             {"hessian_negative_fraction", &sweep_row::hessian_negative_fraction},
             {"hessian_flat_fraction", &sweep_row::hessian_flat_fraction},
             {"hessian_trace", &sweep_row::hessian_trace},
             {"seeds", &sweep_row::seeds},
             {"train_loss_err", &sweep_row::train_loss_err},
             {"jammed_fraction", &sweep_row::jammed_fraction}})
        col(name, m);
    return t;
}

std::string sweep_csv(const table& t, const sweep_result& sw) {
    std::istringstream in(t.csv());
    std::string line, out;
    std::size_t row = 0;
    while (std::getline(in, line)) {
        out += line + "," +
               (row == 0 ? std::string("source") : quote(fs::path(sw.rows[row - 1].source).filename().string())) + "\n";
        ++row;
    }
    return out;
}

// One panel of a sweep figure: `curves` (column, title) of sweep.csv against column `x`; an
// empty cell when no curve has a value to draw.
std::string sweep_panel(const table& t, int x, const std::vector<std::pair<std::string, std::string>>& curves,
                        const std::string& ylabel, bool logy) {
    std::string plot;
    const char* styles[] = {"lc rgb '#1b3b8b' pt 7", "lc rgb '#c0182a' pt 5", "lc rgb 'gray40' dt 2 pt 0"};
    for (std::size_t k = 0; k < curves.size(); ++k) {
        const int c = t.index(curves[k].first);
        if (c == 0 || !any_finite(t.columns[static_cast<std::size_t>(c - 1)], logy)) continue;
        plot += std::string(plot.empty() ? "plot " : ", ") + "'sweep.csv' using " + std::to_string(x) + ":" +
                y_of(c, logy) + " with linespoints lw 1.5 ps 0.7 " + styles[k % 3] + " title " +
                quote(curves[k].second);
    }
    if (plot.empty()) return "set multiplot next\n";
    return std::string(logy ? "set logscale y\nset format y '10^{%L}'\n" : "unset logscale y\nset format y '%g'\n") +
           "set ylabel " + quote(ylabel) + "\n" + plot + "\n";
}

// A sweep figure against column `xname` of sweep.csv (log x when every value is positive), with
// the transition interval as two dashed lines when `marks`.
figure sweep_figure(const std::string& stem, const table& t, const sweep_result& sw, const std::string& xname,
                    const std::string& xlabel, bool marks, const report_options& o) {
    const int x = t.index(xname);
    const auto& xs = t.columns[static_cast<std::size_t>(x - 1)];
    const bool logx = std::all_of(xs.begin(), xs.end(), [](double v) { return v > 0; });
    const bool hessian =
        any_finite(t.columns[static_cast<std::size_t>(t.index("hessian_top") - 1)], false) ||
        any_finite(t.columns[static_cast<std::size_t>(t.index("hessian_negative_fraction") - 1)], false);
    figure f{stem, "", o.width * 5 / 4, o.height * (hessian ? 5 : 4) / 2};
    f.body = std::string(preamble) + "set multiplot layout " + (hessian ? "4" : "3") + ",2 title " +
             quote("sweep over " + sw.key + ", " + std::to_string(sw.rows.size()) + " records") +
             " noenhanced\nset key font ',8'\nset xlabel " + quote(xlabel) + " noenhanced\n" +
             (logx ? "set logscale x\n" : "unset logscale x\nset format x '%g'\n");
    if (marks && sw.located.bracketed)
        for (double v : {sw.located.lo, sw.located.hi})
            f.body += "set arrow from " + fmt(v) + ", graph 0 to " + fmt(v) +
                      ", graph 1 nohead dt 2 lw 1.5 lc rgb 'gray30'\n";
    std::vector<std::tuple<std::vector<std::pair<std::string, std::string>>, std::string, bool>> panels = {
        {{{"train_loss", "train"}, {"test_loss", "test"}, {"loss_threshold", "jamming threshold"}}, "final loss", true},
        {{{"train_accuracy", "train"}, {"test_accuracy", "test"}}, "final accuracy", false},
        {{{"unsatisfied_fraction", "train"}, {"test_unsatisfied_fraction", "test"}}, "N_{/Symbol D} / P", false},
        {{{"t1", "t_1"}, {"t2", "t_2"}}, "regimes of the loss", true},
        {{{"collapse_below_t2", "below t_2"}, {"collapse_above_t2", "above t_2"}}, "collapse spread", false},
        {{{"plateau", "plateau of {/Symbol D}"}, {"diffusive_exponent", "diffusive exponent"}}, "", false},
        {{{"hessian_top", "largest eigenvalue"}, {"hessian_trace", "trace"}}, "Hessian", true},
        {{{"hessian_negative_fraction", "negative"}, {"hessian_flat_fraction", "flat"}}, "Hessian fractions", false}};
    if (sw.half_jammed) std::get<0>(panels[2]).emplace_back("jammed_fraction", "seeds jammed");
    for (std::size_t k = 0; k < (hessian ? 8u : 6u); ++k)
        f.body += sweep_panel(t, x, std::get<0>(panels[k]), std::get<1>(panels[k]), std::get<2>(panels[k]));
    f.body += "unset multiplot\n";
    return f;
}

} // namespace

report_result write_sweep(const sweep_result& sw, const nlohmann::json& runs, const fs::path& dir,
                          const report_options& options) {
    make_dir(dir);
    report_result out;
    const table t = sweep_table(sw);
    write_text(dir / "sweep.csv", sweep_csv(t, sw), out);
    const std::vector<figure> figs = {sweep_figure("sweep_n_over_p", t, sw, "n_over_p",
                                                   "N/P (weights per training sample)", sw.axis == "N/P", options),
                                      sweep_figure("sweep_value", t, sw, "value", sw.key, sw.axis != "N/P", options)};
    run_figures(figs, dir, options, out);
    nlohmann::json summary = {{"sweep", to_json(sw)}, {"runs", runs}, {"tables", {"sweep.csv"}}};
    summary["plots"] = nlohmann::json::array();
    for (const auto& f : figs) summary["plots"].push_back(f.stem);
    write_text(dir / "summary.json", summary.dump(2) + "\n", out);
    return out;
}

bool is_under_parametrised(const run_data& run) {
    if (run.system != system_kind::net || !run.parameters.is_object()) return false;
    const auto& p = run.parameters;
    return p.contains("model") && p.at("model") == "toy" && p.contains("hidden") && p.at("hidden").is_number() &&
           p.at("hidden").get<double>() < 1000;
}

report_result write_report(const run_data& run, const aging_summary& s, const fs::path& dir,
                           const report_options& options) {
    run_tables t = make_tables(run, s);
    nlohmann::json summary;
    report_result out = write_tables_and_summary(run, s, dir, t, summary);
    const auto figs = make_figures(run, s, t, options);
    run_figures(figs, dir, options, out);
    nlohmann::json plots = nlohmann::json::array();
    for (const auto& f : figs) plots.push_back(f.stem);
    summary["plots"] = plots;
    write_text(dir / "summary.json", summary.dump(2) + "\n", out);
    return out;
}

report_result write_comparison(const run_data& left, const aging_summary& ls, const run_data& right,
                               const aging_summary& rs, const fs::path& dir, const report_options& options) {
    make_dir(dir);
    report_result out;
    nlohmann::json combined;
    const std::pair<const run_data*, const aging_summary*> sides[2] = {{&left, &ls}, {&right, &rs}};
    const char* names[2] = {"left", "right"};
    for (int k = 0; k < 2; ++k) {
        report_result r = write_report(*sides[k].first, *sides[k].second, dir / names[k], options);
        out.files.insert(out.files.end(), r.files.begin(), r.files.end());
        for (auto& w : r.warnings)
            if (std::find(out.warnings.begin(), out.warnings.end(), w) == out.warnings.end()) out.warnings.push_back(w);
        out.plotted = out.plotted || r.plotted;
        std::ifstream in(dir / names[k] / "summary.json");
        combined[names[k]] = nlohmann::json::parse(in);
    }

    // Side by side: columns = left, right; rows = energy/loss, Delta, Delta/D.
    figure f{"compare", "", options.width * 5 / 4, options.height * 2};
    f.body = std::string(preamble) + "set multiplot layout 3,2 columnsfirst\nset key font ',8'\n";
    for (int k = 0; k < 2; ++k) {
        const run_data& run = *sides[k].first;
        const aging_summary& s = *sides[k].second;
        const std::string d = std::string(names[k]) + "/";
        const bool net = run.system == system_kind::net;
        f.body += "unset logscale\nunset arrow\nunset label\nset format y '%g'\n" + (net ? t_marks(s) : std::string()) +
                  "set title " + quote(describe(run)) +
                  " noenhanced font ',9'\nset logscale x\nset xlabel 't'\nset ylabel '" +
                  (net ? "train loss" : "energy per spin") + "'\nset key top right\nplot " + quote(d + "energy.csv") +
                  " using 1:2 with lines lw 2 lc rgb '#1b3b8b' notitle\nunset title\nunset arrow\nunset label\n";
        if (run.tw.empty()) {
            f.body += "set multiplot next\nset multiplot next\n"; // gnuplot refuses "plot NaN"
            continue;
        }
        f.body += "set logscale xy\nset format y '10^{%L}'\nset key bottom right\nset ylabel '{/Symbol D}(t_w, t_w + "
                  "t)'\nplot " +
                  delta_curves(d + "delta.csv", run, s, col_lag, col_delta, -1, true) + "\n";
        f.body +=
            std::string("set ylabel '") + (s.has_noise ? "{/Symbol D} / D(t_w)" : "{/Symbol D}  (D unknown)") +
            "'\nplot " + delta_curves(d + "delta.csv", run, s, col_lag, scaled_delta_column(s), -1, true) +
            (fs::exists(dir / names[k] / "slope_segment.csv")
                 ? ", " + quote(d + "slope_segment.csv") + " using 1:2 with lines lw 3 lc rgb 'black' title 'slope 1'"
                 : std::string()) +
            "\n";
    }
    f.body += "unset multiplot\n";
    std::vector<figure> figs{f};
    const run_data* const runs[2] = {&left, &right};
    const aging_summary* const summaries[2] = {&ls, &rs};
    if (!left.hessian.t.empty() && !right.hessian.t.empty())
        figs.push_back(compare_hessian_figure(runs, summaries, names, options));
    add_compare_barrier_figures(runs, summaries, names, options, figs);
    run_figures(figs, dir, options, out);
    combined["plots"] = nlohmann::json::array();
    for (const auto& g : figs) combined["plots"].push_back(g.stem);
    write_text(dir / "summary.json", combined.dump(2) + "\n", out);
    return out;
}

} // namespace glassy
