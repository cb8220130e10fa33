#include "analysis/aging.hpp"

#include "dynamics/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace glassy {
namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

bool same_grid(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double scale = std::max({1e-300, std::abs(a[i]), std::abs(b[i])});
        if (!(std::abs(a[i] - b[i]) <= 1e-9 * scale)) return false;
    }
    return true;
}

std::string short_json(const nlohmann::json& j) {
    std::string s = j.dump();
    if (s.size() > 40) s = s.substr(0, 37) + "...";
    return s;
}

// First difference between two parameter objects, ignoring averaging_ignored_parameters.
std::optional<std::string> parameter_difference(const nlohmann::json& a, const nlohmann::json& b) {
    if (!a.is_object() || !b.is_object()) {
        if (a != b) return std::string("parameters differ");
        return std::nullopt;
    }
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
    for (const auto& k : keys) {
        if (std::find(averaging_ignored_parameters.begin(), averaging_ignored_parameters.end(), k) !=
            averaging_ignored_parameters.end())
            continue;
        const bool in_a = a.contains(k), in_b = b.contains(k);
        if (!in_a || !in_b) return "parameter '" + k + "' is missing in one of them";
        if (a.at(k) != b.at(k))
            return "parameter '" + k + "' differs (" + short_json(a.at(k)) + " vs " + short_json(b.at(k)) + ")";
    }
    return std::nullopt;
}

// Mean and standard error (sd / sqrt(n), sample sd) of values; NaN if any value is NaN.
std::pair<double, double> mean_err(const std::vector<double>& v) {
    const std::size_t n = v.size();
    const double m = mean_value(v);
    if (n < 2 || !std::isfinite(m)) return {m, nan_v};
    return {m, std::sqrt(sample_variance(v, m) / static_cast<double>(n))};
}

bool valid_positive(double v) { return std::isfinite(v) && v > 0; }

// Element-wise identical (NaN equal to NaN).
bool identical(const double* a, const double* b, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i)
        if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
    return true;
}

// Refuses partial records: they stop early, and their mean with complete runs is not defined.
void require_complete(const std::vector<record>& recs, const std::vector<std::string>& sources) {
    for (std::size_t k = 0; k < recs.size(); ++k) {
        if (recs[k].complete) continue;
        const std::string why = recs[k].parameters.is_object() && recs[k].parameters.contains("stop_reason")
                                    ? recs[k].parameters.at("stop_reason").dump()
                                    : std::string("no stop_reason");
        throw record_error("cannot average: " + sources[k] + " is an incomplete run (stop_reason " + why +
                           "): average complete runs only");
    }
}

// Refuses two records of the same run (same seed, or identical data): their mean would have
// zero error bars although it holds one run. Parameters other than the seed already agree.
void require_independent(const std::vector<record>& recs, const std::vector<std::string>& sources) {
    for (std::size_t i = 0; i < recs.size(); ++i)
        for (std::size_t j = i + 1; j < recs.size(); ++j) {
            const record &a = recs[i], &b = recs[j];
            const std::string pre = "records " + sources[i] + " and " + sources[j] + " are the same run";
            const std::string post = ": averaging needs independent runs (different seeds)";
            if (a.parameters.is_object() && b.parameters.is_object() && a.parameters.contains("seed") &&
                b.parameters.contains("seed") && a.parameters.at("seed") == b.parameters.at("seed"))
                throw record_error(pre + " (seed " + a.parameters.at("seed").dump() + ")" + post);
            const bool same_data =
                !a.energy.empty() && a.energy.size() == b.energy.size() &&
                identical(a.energy.data(), b.energy.data(), a.energy.size()) &&
                a.aging.delta.size() == b.aging.delta.size() &&
                identical(a.aging.delta.data(), b.aging.delta.data(), static_cast<std::size_t>(a.aging.delta.size()));
            if (same_data) throw record_error(pre + " (identical /energy and /aging/delta)" + post);
        }
}

// The per-seed observables of a `net_quench --seeds` record (/seeds/observables/<name>, [n_s, n_t])
// into r.observables_samples, and with n_s > 1 their standard errors into r.observables_err.
void put_seed_observables(const record& rec, const std::string& source, run_data& r) {
    for (const auto& [name, mean] : rec.observables) {
        const auto it = rec.extra.find("seeds/observables/" + name);
        if (it == rec.extra.end()) continue;
        const nd_array<double>& a = it->second;
        if (a.shape.size() != 2 || a.shape[0] < 1 || a.shape[1] != mean.size())
            throw record_error(source + ": /seeds/observables/" + name + " is not [n_s, n_t] with n_t = " +
                               std::to_string(mean.size()) + " (the length of /observables/" + name + ")");
        const row_matrix m = Eigen::Map<const row_matrix>(a.data.data(), static_cast<Eigen::Index>(a.shape[0]),
                                                          static_cast<Eigen::Index>(a.shape[1]));
        r.observables_err[name] = column_errors(m, mean.size());
        r.observables_samples[name] = m;
    }
}

// Checks every dataset of /hessian the analysis knows against n_h = len(/hessian/t), k and n_g.
void check_hessian_shapes(const dataset_group& d, std::uint64_t n) {
    const std::string of_n = "[n_h] = [" + std::to_string(n) + "] (n_h = the length of /hessian/t)";
    for (const char* name : {"negative_fraction", "flat_fraction", "trace", "trace_err"})
        d.require_shape(name, {n}, of_n);
    d.require_shape("top", {n, 0}, "[n_h, k] with n_h = " + std::to_string(n) + " (the length of /hessian/t)");
    d.require_shape("density_grid", {0}, "[n_g] (one-dimensional)");
    if ((d.find("density") == nullptr) != (d.find("density_grid") == nullptr))
        d.refuse(std::string(d.find("density") ? "/hessian/density_grid" : "/hessian/density") +
                 " missing (/hessian/density and /hessian/density_grid go together)");
    const std::uint64_t ng = d.find("density_grid") ? d.find("density_grid")->shape[0] : 0;
    d.require_shape("density", {n, ng},
                    "[n_h, n_g] = [" + std::to_string(n) + ", " + std::to_string(ng) +
                        "] (n_h, n_g = the lengths of /hessian/t and /hessian/density_grid)");
    const nd_array<double>* first = nullptr; // the first per-sample table gives n_s
    for (const char* name : {"negative_fraction_samples", "flat_fraction_samples", "trace_samples"}) {
        const std::uint64_t ns = first ? first->shape[0] : 0;
        d.require_shape(name, {ns, n},
                        "[n_s, n_h] with n_h = " + std::to_string(n) +
                            (first ? " and n_s = " + std::to_string(ns) + " as in the other per-sample tables" : ""));
        if (!first) first = d.find(name);
    }
    d.require_shape("spectrum", {0, n, 0}, "[n_s, n_h, N - 1] with n_h = " + std::to_string(n));
    d.require_shape("samples", {0}, "[S] (one-dimensional)");
}

// The record's /hessian group (record::extra "hessian/...") as a hessian_series, shapes
// checked: absent members NaN, errors over samples (trace: the recorded trace_err first).
hessian_series hessian_from(const record& rec, const std::string& source) {
    const dataset_group d(rec, source, "hessian");
    hessian_series s;
    const nd_array<double>* t = d.find("t");
    if (!t) {
        for (const auto& [name, arr] : rec.extra)
            if (name.rfind("hessian/", 0) == 0)
                d.refuse("/hessian/t missing (the other /hessian datasets, e.g. /" + name + ", need their times)");
        return s;
    }
    d.require_shape("t", {0}, "[n_h] (one-dimensional)");
    const std::size_t n = t->data.size();
    check_hessian_shapes(d, n);
    s.t = t->data;
    s.top = d.matrix("top", n);
    s.negative_fraction = d.vector_or_nan("negative_fraction", n);
    s.negative_fraction_err = column_errors(d.matrix("negative_fraction_samples", 0), n);
    s.flat_fraction = d.vector_or_nan("flat_fraction", n);
    s.flat_fraction_err = column_errors(d.matrix("flat_fraction_samples", 0), n);
    s.trace = d.vector_or_nan("trace", n);
    s.trace_err = d.find("trace_err") ? d.find("trace_err")->data : column_errors(d.matrix("trace_samples", 0), n);
    if (const nd_array<double>* g = d.find("density_grid")) {
        s.density_grid = g->data;
        s.density = d.matrix("density", n);
    }
    return s;
}

// Why the Hessian series of two runs cannot be averaged (nullopt when they can).
std::optional<std::string> hessian_difference(const hessian_series& x, const hessian_series& y) {
    if (x.t.empty() != y.t.empty()) return std::string("only one of them has /hessian");
    if (!same_grid(x.t, y.t)) return std::string("Hessian measurement times (/hessian/t) differ");
    if (!same_grid(x.density_grid, y.density_grid) || x.density.size() != y.density.size())
        return std::string("Hessian density grids (/hessian/density_grid) differ");
    if (x.top.cols() != y.top.cols()) return std::string("numbers of top eigenvalues (/hessian/top) differ");
    return std::nullopt;
}

// Refuses runs whose Hessian, barrier or clone series cannot be averaged, naming the two files.
void require_same_groups(const std::vector<run_data>& runs, const std::vector<std::string>& sources) {
    for (std::size_t k = 1; k < runs.size(); ++k) {
        const run_data &a = runs.front(), &b = runs[k];
        std::optional<std::string> d = hessian_difference(a.hessian, b.hessian);
        if (!d) d = barrier_difference(a.barrier, b.barrier);
        if (!d) d = clones_difference(a.clones, b.clones);
        if (d) throw record_error("cannot average " + sources.front() + " and " + sources[k] + ": " + *d);
    }
}

// Whether `name` (record::extra key) belongs to a group the analysis reads (not listed as extra).
bool analysed_dataset(const std::string& name) {
    for (const char* group : {"hessian/", "barrier/", "clones/"})
        if (name.rfind(group, 0) == 0) return true;
    return false;
}

} // namespace

system_kind parse_system_kind(const std::string& name) {
    if (name == "pspin") return system_kind::pspin;
    if (name == "net") return system_kind::net;
    throw record_error("unknown system '" + name + "' (expected pspin or net)");
}

std::string to_string(system_kind kind) {
    switch (kind) {
    case system_kind::pspin:
        return "pspin";
    case system_kind::net:
        return "net";
    }
    return "?";
}

run_data from_record(const record& rec, const std::string& source) {
    run_data r;
    r.system = parse_system_kind(rec.system);
    r.method = rec.method;
    r.parameters = rec.parameters;
    r.sources = {source};
    r.n_records = 1;
    r.n_error_samples = 1;
    r.complete = rec.complete;
    r.time = rec.time;
    r.energy = rec.energy;
    r.energy_err.assign(r.time.size(), nan_v);
    const auto ns = static_cast<std::size_t>(rec.energy_samples.rows());
    if (ns > 1 && static_cast<std::size_t>(rec.energy_samples.cols()) == r.time.size()) {
        std::vector<double> col(ns);
        for (std::size_t j = 0; j < r.time.size(); ++j) {
            for (std::size_t s = 0; s < ns; ++s)
                col[s] = rec.energy_samples(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(j));
            r.energy_err[j] = mean_err(col).second;
        }
        r.n_error_samples = ns;
    }
    r.observables = rec.observables;
    for (const auto& [name, v] : rec.observables) r.observables_err[name].assign(v.size(), nan_v);
    put_seed_observables(rec, source, r);
    r.tw = rec.aging.tw;
    r.lag = rec.aging.t;
    r.delta = rec.aging.delta;
    r.delta_err = row_matrix::Constant(r.delta.rows(), r.delta.cols(), nan_v);
    const std::size_t nd = rec.aging.delta_samples.size();
    if (nd > 1) {
        std::vector<double> col(nd);
        for (Eigen::Index i = 0; i < r.delta.rows(); ++i)
            for (Eigen::Index j = 0; j < r.delta.cols(); ++j) {
                for (std::size_t s = 0; s < nd; ++s) col[s] = rec.aging.delta_samples[s](i, j);
                r.delta_err(i, j) = mean_err(col).second;
            }
        r.n_error_samples = std::max(r.n_error_samples, nd);
    }
    r.noise = rec.aging.noise;
    if (r.noise.empty() && r.system == system_kind::pspin && rec.parameters.is_object() &&
        rec.parameters.contains("T") && rec.parameters.at("T").is_number())
        r.noise.assign(r.tw.size(), rec.parameters.at("T").get<double>());
    r.noise_err.assign(r.noise.size(), nan_v);
    for (const auto& [name, arr] : rec.extra)
        if (!analysed_dataset(name)) r.extra_datasets.push_back(name); // analysed, not only listed
    for (const auto& [name, arr] : rec.extra_f32)
        if (!analysed_dataset(name)) r.extra_datasets.push_back(name);
    for (const auto& [name, arr] : rec.extra_i64)
        if (!analysed_dataset(name)) r.extra_datasets.push_back(name);
    r.hessian = hessian_from(rec, source);
    r.barrier = barrier_from(rec, source);
    r.clones = clones_from(rec, source);
    return r;
}

namespace {

// The /hessian of several runs (checked by hessian_difference): fractions and trace element-wise
// mean and standard error over the runs; top eigenvalues and density element-wise mean.
void average_hessian(const std::vector<run_data>& runs, hessian_series& h) {
    std::vector<double> buf(runs.size());
    const auto average = [&](std::vector<double> hessian_series::*member, std::vector<double>& mean,
                             std::vector<double>& err) {
        for (std::size_t j = 0; j < h.t.size(); ++j) {
            for (std::size_t k = 0; k < runs.size(); ++k) buf[k] = (runs[k].hessian.*member)[j];
            std::tie(mean[j], err[j]) = mean_err(buf);
        }
    };
    average(&hessian_series::negative_fraction, h.negative_fraction, h.negative_fraction_err);
    average(&hessian_series::flat_fraction, h.flat_fraction, h.flat_fraction_err);
    average(&hessian_series::trace, h.trace, h.trace_err);
    for (std::size_t k = 1; k < runs.size(); ++k) {
        h.top += runs[k].hessian.top;
        h.density += runs[k].hessian.density;
    }
    h.top /= static_cast<double>(runs.size());
    h.density /= static_cast<double>(runs.size());
}

} // namespace

run_data average_records(const std::vector<record>& recs, const std::vector<std::string>& sources) {
    if (recs.empty()) throw error("average_records: no records");
    if (sources.size() != recs.size()) throw error("average_records: one source name per record is required");
    if (recs.size() == 1) return from_record(recs.front(), sources.front());
    require_complete(recs, sources);
    const record& a = recs.front();
    for (std::size_t k = 1; k < recs.size(); ++k) {
        const record& b = recs[k];
        const std::string pre = "cannot average " + sources.front() + " and " + sources[k] + ": ";
        if (a.system != b.system) throw record_error(pre + "system differs (" + a.system + " vs " + b.system + ")");
        if (a.method != b.method) throw record_error(pre + "method differs (" + a.method + " vs " + b.method + ")");
        if (auto d = parameter_difference(a.parameters, b.parameters)) throw record_error(pre + *d);
        if (!same_grid(a.time, b.time)) throw record_error(pre + "measurement times (/time) differ");
        if (a.observables.size() != b.observables.size()) throw record_error(pre + "they hold different observables");
        for (const auto& [name, v] : a.observables)
            if (!b.observables.count(name)) throw record_error(pre + "observable '" + name + "' is missing in one");
        if (!same_grid(a.aging.tw, b.aging.tw)) throw record_error(pre + "waiting times (/aging/tw) differ");
        if (!same_grid(a.aging.t, b.aging.t)) throw record_error(pre + "lags (/aging/t) differ");
        if (a.aging.noise.empty() != b.aging.noise.empty())
            throw record_error(pre + "only one of them has /aging/noise");
    }
    require_independent(recs, sources);
    std::vector<run_data> runs;
    for (std::size_t k = 0; k < recs.size(); ++k) runs.push_back(from_record(recs[k], sources[k]));
    require_same_groups(runs, sources);
    run_data r = runs.front();
    r.sources = sources;
    r.n_records = recs.size();
    r.n_error_samples = recs.size();
    r.complete = std::all_of(recs.begin(), recs.end(), [](const record& x) { return x.complete; });
    const std::size_t n = runs.size();
    std::vector<double> buf(n);
    auto average_vector = [&](auto get, std::vector<double>& mean, std::vector<double>& err) {
        const std::size_t len = get(runs.front()).size();
        mean.assign(len, nan_v);
        err.assign(len, nan_v);
        for (std::size_t j = 0; j < len; ++j) {
            for (std::size_t k = 0; k < n; ++k) buf[k] = get(runs[k])[j];
            std::tie(mean[j], err[j]) = mean_err(buf);
        }
    };
    average_vector([](const run_data& x) -> const std::vector<double>& { return x.energy; }, r.energy, r.energy_err);
    for (auto& [name, v] : r.observables) {
        const std::string key = name;
        average_vector([&key](const run_data& x) -> const std::vector<double>& { return x.observables.at(key); },
                       r.observables[key], r.observables_err[key]);
    }
    if (!r.noise.empty())
        average_vector([](const run_data& x) -> const std::vector<double>& { return x.noise; }, r.noise, r.noise_err);
    for (Eigen::Index i = 0; i < r.delta.rows(); ++i)
        for (Eigen::Index j = 0; j < r.delta.cols(); ++j) {
            for (std::size_t k = 0; k < n; ++k) buf[k] = runs[k].delta(i, j);
            std::tie(r.delta(i, j), r.delta_err(i, j)) = mean_err(buf);
        }
    if (!r.hessian.t.empty()) average_hessian(runs, r.hessian);
    std::vector<barrier_series> barriers;
    std::vector<clone_series> clones;
    for (const run_data& x : runs) {
        barriers.push_back(x.barrier);
        clones.push_back(x.clones);
    }
    r.barrier = average_barrier(barriers);
    r.clones = average_clones(clones);
    return r;
}

spread_measure curve_spread(const std::vector<curve>& curves) {
    spread_measure m;
    // Repeated abscissae in a curve (e.g. an integer-rounded lag grid) are merged: mean y.
    std::vector<curve> merged;
    for (const auto& c : curves) {
        if (c.x.size() < 1 || c.x.size() != c.y.size()) continue;
        merged_points mp = merge_repeated_x(c.x, c.y);
        merged.push_back({std::move(mp.x), std::move(mp.y)});
    }
    std::vector<const curve*> used;
    std::vector<double> xs;
    for (const auto& c : merged) {
        used.push_back(&c);
        xs.insert(xs.end(), c.x.begin(), c.x.end());
    }
    m.curves = used.size();
    if (used.size() < 2) return m;
    std::sort(xs.begin(), xs.end());
    xs.erase(std::unique(xs.begin(), xs.end()), xs.end());
    double sum_var = 0;
    std::vector<double> vals;
    for (double x : xs) {
        vals.clear();
        for (const curve* c : used) {
            if (x < c->x.front() || x > c->x.back()) continue;
            const auto it = std::lower_bound(c->x.begin(), c->x.end(), x);
            const auto j = static_cast<std::size_t>(it - c->x.begin());
            if (c->x[j] == x) {
                vals.push_back(c->y[j]);
            } else {
                const double w = (x - c->x[j - 1]) / (c->x[j] - c->x[j - 1]);
                vals.push_back((1 - w) * c->y[j - 1] + w * c->y[j]);
            }
        }
        if (vals.size() < 2) continue;
        sum_var += sample_variance(vals, mean_value(vals));
        ++m.points;
    }
    if (m.points > 0) m.spread = std::sqrt(sum_var / static_cast<double>(m.points));
    return m;
}

namespace {

// Where the initial rise of Delta ends: twice Delta at the shortest lag > 0 measured in any row
// (rows of coarse grids, CK at late t_w, may start on the plateau itself).
double rise_threshold(const std::vector<double>& lag, const row_matrix& delta) {
    double first = std::numeric_limits<double>::infinity();
    for (Eigen::Index j = 0; j < delta.cols() && !std::isfinite(first); ++j)
        for (Eigen::Index row = 0; row < delta.rows(); ++row)
            if (lag[static_cast<std::size_t>(j)] > 0 && valid_positive(delta(row, j)))
                first = std::min(first, delta(row, j));
    return 2 * first;
}

// The valid points (lag > 0, Delta finite and > 0) of one row; repeated lags (an
// integer-rounded grid) merged into the mean Delta at each distinct lag.
merged_points positive_row(const std::vector<double>& lag, const row_matrix& delta, Eigen::Index row) {
    std::vector<double> t0, d0;
    for (Eigen::Index j = 0; j < delta.cols(); ++j) {
        const double v = delta(row, j);
        if (lag[static_cast<std::size_t>(j)] > 0 && valid_positive(v)) {
            t0.push_back(lag[static_cast<std::size_t>(j)]);
            d0.push_back(v);
        }
    }
    return merge_repeated_x(t0, d0);
}

// Last index j >= i such that max d / min d over [i, j] stays <= 1 + tolerance; hi = that max.
std::size_t flat_window_end(const std::vector<double>& d, std::size_t i, double tolerance, double& hi) {
    double lo = d[i];
    hi = d[i];
    std::size_t j = i;
    while (j + 1 < d.size()) {
        const double nlo = std::min(lo, d[j + 1]), nhi = std::max(hi, d[j + 1]);
        if (nhi > (1 + tolerance) * nlo) break;
        lo = nlo;
        hi = nhi;
        ++j;
    }
    return j;
}

// The point of the window [i, j] where the local slope d ln Delta / d ln t (least squares over
// the point and two neighbours each side, inside the window) is smallest in size.
std::size_t flattest_point(const std::vector<double>& t, const std::vector<double>& d, std::size_t i, std::size_t j) {
    std::size_t kbest = i;
    double sbest = std::numeric_limits<double>::infinity();
    for (std::size_t k = i; k <= j; ++k) {
        const std::size_t a = k >= i + 2 ? k - 2 : i, b = std::min(j, k + 2);
        if (b - a < 2) continue;
        std::vector<double> lx, ly;
        for (std::size_t q = a; q <= b; ++q) {
            lx.push_back(std::log(t[q]));
            ly.push_back(std::log(d[q]));
        }
        const double sl = std::abs(fit_line(lx, ly).slope);
        if (sl < sbest) {
            sbest = sl;
            kbest = k;
        }
    }
    return kbest;
}

} // namespace

std::optional<plateau_estimate> find_plateau(const std::vector<double>& lag, const row_matrix& delta,
                                             const std::vector<double>& tw, double min_ratio, double tolerance,
                                             double max_height) {
    const double rise = rise_threshold(lag, delta);
    for (Eigen::Index row = delta.rows(); row-- > 0;) {
        const merged_points mp = positive_row(lag, delta, row);
        const std::vector<double>&t = mp.x, &d = mp.y;
        if (t.size() < 3) continue;
        for (std::size_t i = 0; i < t.size(); ++i) {
            if (d[i] < rise) continue;
            double hi = 0;
            const std::size_t j = flat_window_end(d, i, tolerance, hi);
            if (!(t[j] >= min_ratio * t[i] && hi < max_height)) continue;
            const std::size_t k = flattest_point(t, d, i, j);
            return plateau_estimate{d[k], t[k], t[i], t[j], tw[static_cast<std::size_t>(row)]};
        }
    }
    return std::nullopt;
}

namespace {

std::string g_num(double v) {
    std::ostringstream o;
    o << v;
    return o.str();
}

// Why D of a network run is undefined as a whole (empty when it may be used).
std::string noise_run_refusal(const run_data& run) {
    if (run.noise.empty()) return "no /aging/noise";
    if (run.noise.size() != run.tw.size()) return "/aging/noise and /aging/tw differ in length";
    const auto& p = run.parameters;
    if (run.system == system_kind::net && p.is_object() && p.contains("noise_samples") &&
        p.at("noise_samples").is_number() && p.at("noise_samples").get<double>() == 1)
        return "noise_samples = 1: D (eq. 4, a spread over samples) is 0 for one sample";
    return {};
}

} // namespace

std::vector<std::optional<std::string>> noise_refusals(const run_data& run) {
    std::vector<std::optional<std::string>> out(run.tw.size());
    const std::string whole = noise_run_refusal(run);
    if (!whole.empty()) {
        for (auto& r : out) r = whole;
        return out;
    }
    double max_d = 0, max_neg = 0;
    for (double d : run.noise)
        if (std::isfinite(d)) {
            max_d = std::max(max_d, d);
            max_neg = std::max(max_neg, -d);
        }
    for (std::size_t i = 0; i < out.size(); ++i) {
        const double d = run.noise[i];
        if (!std::isfinite(d)) out[i] = "D is not finite (t_w not reached?)";
        else if (!(d > 0)) out[i] = "D = " + g_num(d) + " <= 0";
        else if (d < noise_relative_floor * max_d)
            out[i] = "D = " + g_num(d) + " is below " + g_num(noise_relative_floor) + " x the largest D (" +
                     g_num(max_d) + "): rounding, not noise";
        else if (d <= noise_negative_margin * max_neg)
            out[i] = "D = " + g_num(d) + " is within " + g_num(noise_negative_margin) + " x |" + g_num(-max_neg) +
                     "|, a negative D of the same run (eq. 4 is >= 0 exactly): rounding, not noise";
    }
    return out;
}

row_matrix delta_over_noise(const run_data& run) {
    row_matrix out = row_matrix::Constant(run.delta.rows(), run.delta.cols(), nan_v);
    if (run.noise.size() != static_cast<std::size_t>(run.delta.rows())) return out;
    const auto refused = noise_refusals(run);
    for (Eigen::Index i = 0; i < run.delta.rows(); ++i)
        if (!refused[static_cast<std::size_t>(i)])
            out.row(i) = run.delta.row(i) / run.noise[static_cast<std::size_t>(i)];
    return out;
}

namespace {

// Valid (ln t, ln y) points of one row of a two-time table, optionally with t divided by tw.
curve log_row(const std::vector<double>& lag, const row_matrix& m, Eigen::Index row, double divide_t_by = 1.0,
              double min_value = 0.0) {
    curve c;
    for (Eigen::Index j = 0; j < m.cols(); ++j) {
        const double t = lag[static_cast<std::size_t>(j)], v = m(row, j);
        if (t > 0 && valid_positive(v) && v > min_value) {
            c.x.push_back(std::log(t / divide_t_by));
            c.y.push_back(std::log(v));
        }
    }
    return c;
}

std::optional<double> last_finite(const std::vector<double>& v) {
    for (std::size_t i = v.size(); i-- > 0;)
        if (std::isfinite(v[i])) return v[i];
    return std::nullopt;
}

} // namespace

namespace {

std::string source_names(const run_data& run) {
    std::string out;
    for (const auto& f : run.sources) out += (out.empty() ? "" : ", ") + f;
    return out.empty() ? std::string("(in memory)") : out;
}

// A note naming file and dataset when `values` repeats some value (nullopt otherwise).
std::optional<std::string> repeat_note(const std::vector<double>& values, const std::string& dataset,
                                       const run_data& run) {
    std::vector<double> v = values;
    std::sort(v.begin(), v.end());
    std::size_t repeats = 0;
    double first = 0;
    for (std::size_t i = 1; i < v.size(); ++i)
        if (v[i] == v[i - 1]) {
            if (repeats++ == 0) first = v[i];
        }
    if (repeats == 0) return std::nullopt;
    return source_names(run) + " " + dataset + ": " + std::to_string(repeats) + " repeated value(s) (first " +
           g_num(first) + "); equal abscissae are replicates in the fits and are averaged in the curves";
}

// "F = .., p = .." of test k of the loss fit.
std::string f_test_text(const three_segment_fit& f, int k) {
    return "F = " + g_num(f.f_stat[k]) + ", p = " + g_num(f.p_value[k]) + " >= " + g_num(breakpoint_significance);
}

// Sets t (value, error, range) from a breakpoint lo <= x <= hi in log10 t.
void set_regime(std::optional<double>& t, std::optional<double>& err, double range[2], double x, double lo, double hi) {
    t = std::pow(10.0, x);
    range[0] = std::pow(10.0, lo);
    range[1] = std::pow(10.0, hi);
    err = (range[1] - range[0]) / 2;
}

// t1 and t2 from the model comparison of the loss fit: two breakpoints -> t1 = x1, t2 = x2; one
// -> the breakpoint of the one-breakpoint fit, t1 if the loss is flatter before it than after
// (the end of the initial plateau), t2 otherwise; none -> both null. Reasons for the nulls.
void set_regimes(const three_segment_fit& f, aging_summary& s) {
    if (f.breakpoints == 2) {
        set_regime(s.t1, s.t1_err, s.t1_range, f.x1, f.x1_lo, f.x1_hi);
        set_regime(s.t2, s.t2_err, s.t2_range, f.x2, f.x2_lo, f.x2_hi);
        return;
    }
    if (f.breakpoints == 0) {
        s.t1_reason = s.t2_reason = "not determined: no crossover, a straight line in log10 t fits as well as one "
                                    "breakpoint (" +
                                    f_test_text(f, 0) + ")";
        return;
    }
    const bool is_t1 = std::abs(f.slope_one[0]) < std::abs(f.slope_one[1]);
    const std::string why = "not determined: only one crossover, at t = " + g_num(std::pow(10.0, f.x_one)) +
                            "; a second breakpoint does not fit significantly better (" + f_test_text(f, 1) + ")";
    if (is_t1) {
        set_regime(s.t1, s.t1_err, s.t1_range, f.x_one, f.x_one_lo, f.x_one_hi);
        s.t2_reason = why + "; the loss is flatter before it than after, so it is t1";
    } else {
        set_regime(s.t2, s.t2_err, s.t2_range, f.x_one, f.x_one_lo, f.x_one_hi);
        s.t1_reason = why + "; the loss is steeper before it than after, so it is t2";
    }
}

// t1, t2 from the three-segment fit of the train loss against log10 t (equal times are replicates).
void fit_regimes(const run_data& run, const analysis_options& options, aging_summary& s) {
    std::vector<std::pair<double, double>> pts;
    for (std::size_t i = 0; i < run.time.size(); ++i)
        if (run.time[i] > 0 && std::isfinite(run.energy[i])) pts.emplace_back(std::log10(run.time[i]), run.energy[i]);
    std::stable_sort(pts.begin(), pts.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<double> x, y;
    for (const auto& [a, b] : pts) {
        x.push_back(a);
        y.push_back(b);
    }
    const std::size_t need = std::max<std::size_t>(3 * options.min_points_per_segment + 1, 7);
    const std::size_t distinct = count_distinct(x);
    if (distinct < need) {
        s.t1_reason = s.t2_reason = "too few distinct loss measurement times at t > 0 for the t1/t2 fit (" +
                                    std::to_string(distinct) + " < " + std::to_string(need) + ")";
        s.t2_note = s.t2_reason + "; all waiting times in one panel";
        return;
    }
    s.loss_fit = fit_three_segments(x, y, options.breakpoint_grid, options.min_points_per_segment);
    set_regimes(*s.loss_fit, s);
    if (!s.t2) s.t2_note = s.t2_reason + "; all waiting times in one panel";
}

// The last finite train/test loss and accuracy (networks) or energy (glasses).
void put_final_values(const run_data& run, aging_summary& s) {
    auto put_final = [&](const std::string& key, const std::vector<double>& v) {
        if (auto x = last_finite(v)) s.final_values[key] = *x;
    };
    if (run.system == system_kind::net) {
        put_final("train_loss", run.observables.count("train_loss") ? run.observables.at("train_loss") : run.energy);
        for (const char* k :
             {"train_accuracy", "test_loss", "test_accuracy", "unsatisfied_fraction", "test_unsatisfied_fraction"})
            if (run.observables.count(k)) put_final(k, run.observables.at(k));
    } else {
        put_final("energy", run.energy);
    }
}

// Panels (below / above t2) and which D(t_w) rescale Delta.
void set_panels_and_noise(const run_data& run, aging_summary& s) {
    s.panel.assign(run.tw.size(), 0);
    if (s.t2)
        for (std::size_t i = 0; i < run.tw.size(); ++i) s.panel[i] = run.tw[i] > *s.t2 ? 1 : 0;
    s.noise_reason = noise_refusals(run);
    s.has_noise = std::any_of(s.noise_reason.begin(), s.noise_reason.end(), [](const auto& r) { return !r; });
}

// Collapse of ln(Delta/D) (ln Delta without usable D) at equal lag, per panel.
void measure_collapse(const run_data& run, aging_summary& s) {
    const row_matrix scaled = s.has_noise ? delta_over_noise(run) : run.delta;
    std::vector<curve> below, above;
    for (std::size_t i = 0; i < run.tw.size(); ++i) {
        curve c = log_row(run.lag, scaled, static_cast<Eigen::Index>(i));
        (s.panel[i] ? above : below).push_back(std::move(c));
    }
    s.collapse_below = curve_spread(below);
    if (s.t2) s.collapse_above = curve_spread(above);
}

// Exponents of ln Delta vs ln t per t_w; the diffusive exponent is that of the largest usable t_w.
void fit_exponents(const run_data& run, const analysis_options& options, aging_summary& s) {
    s.exponent_per_tw.assign(run.tw.size(), std::nullopt);
    for (std::size_t i = 0; i < run.tw.size(); ++i) {
        const curve c = log_row(run.lag, run.delta, static_cast<Eigen::Index>(i));
        if (count_distinct(c.x) < std::max<std::size_t>(options.min_diffusive_points, 2)) continue;
        const line_fit lf = fit_line(c.x, c.y);
        s.exponent_per_tw[i] = lf.slope;
        s.diffusive = lf; // keeps the last usable (largest) t_w
        s.diffusive_tw = run.tw[i];
    }
}

// Plateau of Delta and, for the p-spin, q_EA = 1 - plateau / 2.
void find_plateau_and_q_ea(const run_data& run, aging_summary& s) {
    const bool pspin = run.system == system_kind::pspin;
    s.plateau = find_plateau(run.lag, run.delta, run.tw, 10.0, 0.15,
                             pspin ? pspin_max_plateau : std::numeric_limits<double>::infinity());
    if (s.plateau && pspin) s.q_ea = 1 - s.plateau->height / 2;
}

// Aging scaling: ln Delta against ln(t/t_w) versus against ln t, in the aging regime
// (Delta above the plateau, when there is one).
void measure_aging_scaling(const run_data& run, aging_summary& s) {
    s.scaling_min_delta = s.plateau ? 1.15 * s.plateau->height : 0.0;
    std::vector<curve> by_ratio, by_lag;
    for (std::size_t i = 0; i < run.tw.size(); ++i) {
        if (!(run.tw[i] > 0)) continue;
        const auto row = static_cast<Eigen::Index>(i);
        by_ratio.push_back(log_row(run.lag, run.delta, row, run.tw[i], s.scaling_min_delta));
        by_lag.push_back(log_row(run.lag, run.delta, row, 1.0, s.scaling_min_delta));
    }
    if (by_ratio.size() >= 2) {
        s.scaling_t_over_tw = curve_spread(by_ratio);
        s.scaling_t = curve_spread(by_lag);
    }
}

// Power-law approach of the energy (glasses): fitted on the upper half of the log-time range.
void fit_energy_approach(const run_data& run, aging_summary& s) {
    double tmin = 0, tmax = 0;
    for (std::size_t i = 0; i < run.time.size(); ++i)
        if (run.time[i] > 0 && std::isfinite(run.energy[i])) {
            if (tmin == 0) tmin = run.time[i];
            tmax = std::max(tmax, run.time[i]);
        }
    if (!(tmax > tmin)) return;
    s.energy_fit_tmin = std::sqrt(tmin * tmax);
    std::vector<double> t, e;
    for (std::size_t i = 0; i < run.time.size(); ++i)
        if (run.time[i] >= s.energy_fit_tmin && std::isfinite(run.energy[i])) {
            t.push_back(run.time[i]);
            e.push_back(run.energy[i]);
        }
    s.energy_fit = fit_power_law(t, e);
}

// e_inf of the comparison exponential: the power-law asymptote, else the last finite energy.
double exponential_asymptote(const run_data& run, const aging_summary& s) {
    return s.energy_fit ? s.energy_fit->y_inf : last_finite(run.energy).value_or(nan_v);
}

// Time constant of the comparison exponential: the first time (linearly interpolated) at which
// the excess energy e - e_inf has fallen by 1/e; nullopt when it never does or tau <= 0.
std::optional<double> exponential_tau(const run_data& run, const aging_summary& s) {
    if (run.time.empty()) return std::nullopt;
    const double e_inf = exponential_asymptote(run, s);
    const double e0 = run.energy.front(), t0 = run.time.front();
    const double target = (e0 - e_inf) / std::exp(1.0);
    std::optional<double> tau;
    if (e0 - e_inf > 0)
        for (std::size_t i = 1; i < run.time.size(); ++i)
            if (run.energy[i] - e_inf <= target) {
                const double a0 = run.energy[i - 1] - e_inf, a1 = run.energy[i] - e_inf;
                const double w = a0 != a1 ? (a0 - target) / (a0 - a1) : 1.0;
                tau = run.time[i - 1] + w * (run.time[i] - run.time[i - 1]) - t0;
                break;
            }
    if (tau && !(*tau > 0)) tau.reset();
    return tau;
}

// negative_fraction = A t^-a fitted over the measurements with t > 0 and a positive fraction.
void fit_negative_fraction_decay(const hessian_series& h, hessian_summary& out) {
    std::vector<double> x, y;
    for (std::size_t i = 0; i < h.t.size(); ++i)
        if (h.t[i] > 0 && valid_positive(h.negative_fraction[i])) {
            x.push_back(std::log(h.t[i]));
            y.push_back(std::log(h.negative_fraction[i]));
        }
    const std::size_t distinct = count_distinct(x);
    if (distinct < min_decay_points) {
        out.decay_reason = "fewer than " + std::to_string(min_decay_points) +
                           " measurement times with t > 0 and negative_fraction > 0 (" + std::to_string(distinct) + ")";
        return;
    }
    out.decay = fit_line(x, y);
    out.decay_t_min = std::exp(*std::min_element(x.begin(), x.end()));
    out.decay_t_max = std::exp(*std::max_element(x.begin(), x.end()));
}

} // namespace

hessian_summary summarise_hessian(const hessian_series& h) {
    if (h.t.empty()) throw error("summarise_hessian: no Hessian measurements");
    hessian_summary out;
    const std::size_t last = h.t.size() - 1;
    const auto at_last = [last](const std::vector<double>& v) -> std::optional<double> {
        if (last < v.size() && std::isfinite(v[last])) return v[last];
        return std::nullopt;
    };
    out.measurements = h.t.size();
    out.k = static_cast<std::size_t>(h.top.cols());
    out.t_last = h.t[last];
    if (h.top.cols() > 0 && std::isfinite(h.top(static_cast<Eigen::Index>(last), 0)))
        out.top = h.top(static_cast<Eigen::Index>(last), 0);
    out.negative_fraction = at_last(h.negative_fraction);
    out.negative_fraction_err = at_last(h.negative_fraction_err);
    out.flat_fraction = at_last(h.flat_fraction);
    out.flat_fraction_err = at_last(h.flat_fraction_err);
    out.trace = at_last(h.trace);
    out.trace_err = at_last(h.trace_err);
    fit_negative_fraction_decay(h, out);
    return out;
}

namespace {

// The barrier and clone blocks (when the run has them), threshold checked.
void summarise_barriers_and_clones(const run_data& run, const analysis_options& options, aging_summary& s) {
    const double threshold = options.connectivity_threshold;
    if (!(threshold > 0 && std::isfinite(threshold)))
        throw error("analyse: the connectivity threshold must be > 0 and finite");
    if (!run.barrier.tw.empty()) s.barrier = summarise_barrier(run.barrier, threshold);
    if (!run.clones.tw.empty())
        s.clones = summarise_clones(run.clones, last_finite(run.energy).value_or(nan_v), threshold,
                                    {run.tw, run.lag, run.delta});
}

} // namespace

aging_summary analyse(const run_data& run, const analysis_options& options) {
    if (run.time.size() != run.energy.size()) throw error("analyse: time and energy differ in length");
    if (static_cast<std::size_t>(run.delta.rows()) != run.tw.size() ||
        static_cast<std::size_t>(run.delta.cols()) != run.lag.size())
        throw error("analyse: delta is not [len(tw), len(lag)]");
    aging_summary s;
    put_final_values(run, s);
    // Regimes t1, t2 from the train loss (networks).
    if (run.system == system_kind::net) fit_regimes(run, options, s);
    else
        s.t2_note =
            "glass: no t2 (the energy does not reach the bottom of the landscape); all waiting times in one panel";
    if (auto n = repeat_note(run.time, "/time", run)) s.notes.push_back(*n);
    if (auto n = repeat_note(run.lag, "/aging/t", run)) s.notes.push_back(*n);
    set_panels_and_noise(run, s);
    if (!run.tw.empty()) {
        measure_collapse(run, s);
        fit_exponents(run, options, s);
        find_plateau_and_q_ea(run, s);
        measure_aging_scaling(run, s);
    }
    if (run.system != system_kind::net) {
        fit_energy_approach(run, s);
        s.exp_tau = exponential_tau(run, s);
    }
    if (!run.hessian.t.empty()) s.hessian = summarise_hessian(run.hessian);
    summarise_barriers_and_clones(run, options, s);
    return s;
}

std::vector<double> comparison_exponential(const run_data& run, const aging_summary& s) {
    std::vector<double> out(run.time.size(), nan_v);
    if (!s.exp_tau || run.time.empty()) return out;
    const double e_inf = exponential_asymptote(run, s);
    const double e0 = run.energy.front(), t0 = run.time.front();
    for (std::size_t i = 0; i < run.time.size(); ++i)
        out[i] = e_inf + (e0 - e_inf) * std::exp(-(run.time[i] - t0) / *s.exp_tau);
    return out;
}

namespace {

nlohmann::json opt(const std::optional<double>& v) {
    return v && std::isfinite(*v) ? nlohmann::json(*v) : nlohmann::json();
}
nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

nlohmann::json spread_json(const std::optional<spread_measure>& m) {
    if (!m) return nullptr;
    return {{"spread", opt(m->spread)}, {"curves", m->curves}, {"lags", m->points}};
}

// What was analysed: system, method, sources, parameters.
void put_run(const run_data& run, nlohmann::json& j) {
    j["system"] = to_string(run.system);
    j["method"] = run.method;
    j["sources"] = run.sources;
    j["n_records"] = run.n_records;
    j["n_error_samples"] = run.n_error_samples;
    j["complete"] = run.complete;
    j["parameters"] = run.parameters;
    if (!run.extra_datasets.empty()) j["extra_datasets"] = run.extra_datasets;
}

// The three-segment fit of the loss and its model comparison.
nlohmann::json loss_fit_json(const three_segment_fit& f) {
    return {{"model", "loss = continuous three-segment piecewise-linear function of log10(t)"},
            {"log10_t1", f.x1},
            {"log10_t2", f.x2},
            {"slopes_per_decade", {f.slope[0], f.slope[1], f.slope[2]}},
            {"levels", {f.level[0], f.level[1], f.level[2], f.level[3]}},
            {"rss", f.rss},
            {"breakpoints_determined", f.breakpoints},
            {"rss_line", f.rss_line},
            {"rss_one_breakpoint", f.rss_one},
            {"log10_t_one_breakpoint", f.x_one},
            {"f_one_vs_line", f.f_stat[0]},
            {"p_one_vs_line", f.p_value[0]},
            {"f_two_vs_one", f.f_stat[1]},
            {"p_two_vs_one", f.p_value[1]},
            {"significance", breakpoint_significance},
            {"sigma2", f.sigma2},
            {"grid_step_decades", f.grid_step},
            {"points", f.n}};
}

// Regimes t1, t2 (values, errors, ranges, reasons), notes and the loss fit.
void put_regimes(const aging_summary& s, nlohmann::json& j) {
    using nlohmann::json;
    j["t1"] = opt(s.t1);
    j["t1_err"] = opt(s.t1_err);
    j["t2"] = opt(s.t2);
    j["t2_err"] = opt(s.t2_err);
    if (s.t1) j["t1_range"] = {s.t1_range[0], s.t1_range[1]};
    if (s.t2) j["t2_range"] = {s.t2_range[0], s.t2_range[1]};
    j["t1_reason"] = s.t1_reason.empty() ? json() : json(s.t1_reason);
    j["t2_reason"] = s.t2_reason.empty() ? json() : json(s.t2_reason);
    if (!s.t2_note.empty()) j["t2_note"] = s.t2_note;
    j["notes"] = s.notes;
    if (s.loss_fit) j["loss_fit"] = loss_fit_json(*s.loss_fit);
}

// Waiting times with D, panels and refusals; the Delta/D rescaling and the collapse.
void put_collapse(const run_data& run, const aging_summary& s, nlohmann::json& j) {
    using nlohmann::json;
    json panels = json::array();
    for (int p : s.panel) panels.push_back(p ? "above_t2" : "below_t2");
    json reasons = json::array();
    std::string first_reason;
    for (const auto& r : s.noise_reason) {
        reasons.push_back(r ? json(*r) : json());
        if (r && first_reason.empty()) first_reason = *r;
    }
    j["waiting_times"] = {{"tw", run.tw}, {"noise", run.noise}, {"panel", panels}, {"noise_reason", reasons}};
    j["delta_over_D"] = s.has_noise ? "Delta / D(t_w)" : "D(t_w) unknown or zero: Delta not rescaled";
    j["delta_over_D_reason"] = first_reason.empty() ? json()
                               : s.has_noise
                                   ? json("some rows not rescaled (waiting_times.noise_reason), first: " + first_reason)
                                   : json("Delta not rescaled: " + first_reason);
    j["collapse"] = {{"below_t2", s.collapse_below ? opt(s.collapse_below->spread) : json()},
                     {"above_t2", s.collapse_above ? opt(s.collapse_above->spread) : json()}};
    j["collapse_details"] = {{"measure", s.has_noise ? "rms over lags of the sd across t_w of ln(Delta/D)"
                                                     : "rms over lags of the sd across t_w of ln(Delta)"},
                             {"below_t2", spread_json(s.collapse_below)},
                             {"above_t2", spread_json(s.collapse_above)}};
}

// Diffusive exponent, exponents per t_w, plateau and q_EA, aging scaling.
void put_exponents(const aging_summary& s, nlohmann::json& j) {
    using nlohmann::json;
    j["diffusive_exponent"] = s.diffusive ? num(s.diffusive->slope) : json();
    j["diffusive_exponent_err"] = s.diffusive ? num(s.diffusive->slope_err) : json();
    j["diffusive_exponent_tw"] = s.diffusive ? json(s.diffusive_tw) : json();
    json per = json::array();
    for (const auto& e : s.exponent_per_tw) per.push_back(opt(e));
    j["exponent_per_tw"] = per;

    j["plateau"] = s.plateau ? json(s.plateau->height) : json();
    j["q_ea"] = opt(s.q_ea);
    if (s.plateau)
        j["plateau_window"] = {{"tw", s.plateau->tw},
                               {"t_start", s.plateau->t_start},
                               {"t_end", s.plateau->t_end},
                               {"t_flattest", s.plateau->t_flat}};

    if (s.scaling_t_over_tw) {
        const auto a = s.scaling_t_over_tw->spread, b = s.scaling_t->spread;
        j["aging_scaling"] = {{"spread_t_over_tw", opt(a)},
                              {"spread_t", opt(b)},
                              {"collapses_in_t_over_tw", a && b ? json(*a < *b) : json()},
                              {"min_delta", s.scaling_min_delta},
                              {"measure", "rms of the sd across t_w of ln Delta, against ln(t/t_w) and against ln t, "
                                          "for Delta > min_delta (1.15 x plateau, when there is one)"}};
    }
}

// Power-law approach of the energy and the comparison exponential (glasses).
void put_energy_fit(const aging_summary& s, nlohmann::json& j) {
    using nlohmann::json;
    j["energy_exponent"] = s.energy_fit ? json(s.energy_fit->exponent) : json();
    j["energy_exponent_err"] = s.energy_fit ? json(s.energy_fit->exponent_err) : json();
    j["energy_asymptote"] = s.energy_fit ? json(s.energy_fit->y_inf) : json();
    j["energy_amplitude"] = s.energy_fit ? json(s.energy_fit->amplitude) : json();
    j["energy_fit_tmin"] = s.energy_fit_tmin;
    j["exponential_tau"] = opt(s.exp_tau);
}

// The hessian block: values at the last measurement, the decay of the negative fraction.
nlohmann::json hessian_json(const hessian_summary& h) {
    using nlohmann::json;
    json j = {{"measurements", h.measurements},
              {"k", h.k},
              {"t_last", h.t_last},
              {"top_eigenvalue", opt(h.top)},
              {"negative_fraction", opt(h.negative_fraction)},
              {"negative_fraction_err", opt(h.negative_fraction_err)},
              {"flat_fraction", opt(h.flat_fraction)},
              {"flat_fraction_err", opt(h.flat_fraction_err)},
              {"trace", opt(h.trace)},
              {"trace_err", opt(h.trace_err)}};
    j["negative_fraction_decay"] = json();
    j["negative_fraction_decay_reason"] = h.decay_reason.empty() ? json() : json(h.decay_reason);
    if (h.decay)
        j["negative_fraction_decay"] = {
            {"model", "negative_fraction = A t^-a, least squares of ln(negative_fraction) against ln(t) over the "
                      "measurements with negative_fraction > 0"},
            {"exponent", -h.decay->slope},
            {"exponent_err", num(h.decay->slope_err)},
            {"amplitude", std::exp(h.decay->intercept)},
            {"t_min", h.decay_t_min},
            {"t_max", h.decay_t_max},
            {"points", h.decay->n}};
    return j;
}

} // namespace

nlohmann::json to_json(const run_data& run, const aging_summary& s) {
    nlohmann::json j;
    put_run(run, j);
    put_regimes(s, j);
    put_collapse(run, s, j);
    put_exponents(s, j);
    if (run.system != system_kind::net) put_energy_fit(s, j);
    j["final"] = s.final_values;
    if (s.hessian) j["hessian"] = hessian_json(*s.hessian);
    if (s.barrier) j["barrier"] = to_json(*s.barrier);
    if (s.clones) j["clones"] = to_json(*s.clones);
    return j;
}

} // namespace glassy
