#include "analysis/barrier.hpp"

#include "analysis/fit.hpp"
#include "dynamics/error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <utility>

namespace glassy {
namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

bool same_values(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        const double scale = std::max({1e-300, std::abs(a[i]), std::abs(b[i])});
        if (!(std::abs(a[i] - b[i]) <= 1e-9 * scale)) return false;
    }
    return true;
}

std::optional<double> finite(double v) { return std::isfinite(v) ? std::optional<double>(v) : std::nullopt; }

nlohmann::json opt(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }

// A number for messages, 4 significant digits.
std::string num_text(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

// Mean and standard error over the runs of one element (NaN error for one run or a NaN value).
std::pair<double, double> mean_err(const std::vector<double>& v) {
    const double m = mean_value(v);
    if (v.size() < 2 || !std::isfinite(m)) return {m, nan_v};
    return {m, std::sqrt(sample_variance(v, m) / static_cast<double>(v.size()))};
}

// Element-wise mean and error over runs of the vector `get(run)`.
template <class Run, class Get>
void average_vector(const std::vector<Run>& runs, Get get, std::vector<double>& mean, std::vector<double>& err) {
    const std::size_t n = get(runs.front()).size();
    mean.assign(n, nan_v);
    err.assign(n, nan_v);
    std::vector<double> buf(runs.size());
    for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t k = 0; k < runs.size(); ++k) buf[k] = get(runs[k])[j];
        std::tie(mean[j], err[j]) = mean_err(buf);
    }
}

// Element-wise mean and error over runs of the matrix `get(run)`.
template <class Run, class Get>
void average_matrix(const std::vector<Run>& runs, Get get, row_matrix& mean, row_matrix& err) {
    const row_matrix& first = get(runs.front());
    mean.resize(first.rows(), first.cols());
    err.resize(first.rows(), first.cols());
    std::vector<double> buf(runs.size());
    for (Eigen::Index i = 0; i < first.rows(); ++i)
        for (Eigen::Index j = 0; j < first.cols(); ++j) {
            for (std::size_t k = 0; k < runs.size(); ++k) buf[k] = get(runs[k])(i, j);
            std::tie(mean(i, j), err(i, j)) = mean_err(buf);
        }
}

std::string count_text(const char* symbol, std::uint64_t n, const std::string& source_of) {
    return std::string(symbol) + " = " + std::to_string(n) + " (" + symbol + " = the length of " + source_of + ")";
}

// The layout shared by /barrier and /clones: per-row vectors [n] (n = the length of `rows`), a
// table [n, m] (m = the length of `cols`), and with several samples one of the vectors as [n_s, n]
// and the table as [n_s, n, m].
struct group_layout {
    const char* group;                // "barrier"
    const char* rows;                 // the dataset whose length is n: "tw"
    const char* cols;                 // the dataset whose length is m: "alpha"
    const char* n;                    // the symbols in messages: "n_b"
    const char* m;                    // "n_a"
    std::vector<const char*> vectors; // the [n] datasets
    const char* table;                // the [n, m] dataset
    const char* vector_samples;       // the [n_s, n] dataset (its n_s is the table's)
};

const group_layout barrier_layout{.group = "barrier",
                                  .rows = "tw",
                                  .cols = "alpha",
                                  .n = "n_b",
                                  .m = "n_a",
                                  .vectors = {"t", "height"},
                                  .table = "energy",
                                  .vector_samples = "height_samples"};
const group_layout clone_layout{.group = "clones",
                                .rows = "tw",
                                .cols = "t",
                                .n = "n_c",
                                .m = "n_l",
                                .vectors = {"barrier", "test_accuracy_drop"},
                                .table = "delta",
                                .vector_samples = "barrier_samples"};

// Checks the datasets of a group laid out as `g` against n and m (messages name the group's symbols).
void check_group_shapes(const dataset_group& d, const group_layout& g, std::uint64_t n, std::uint64_t m) {
    const std::string root = std::string("/") + g.group + "/";
    const std::string rows = count_text(g.n, n, root + g.rows);
    for (const char* v : g.vectors) d.require_shape(v, {n}, std::string("[") + g.n + "] with " + rows);
    const std::string nm = std::string(g.n) + ", " + g.m;
    d.require_shape(g.table, {n, m},
                    "[" + nm + "] = [" + std::to_string(n) + ", " + std::to_string(m) + "] (" + nm +
                        " = the lengths of " + root + g.rows + " and " + root + g.cols + ")");
    const nd_array<double>* vs = d.find(g.vector_samples);
    d.require_shape(g.vector_samples, {0, n}, std::string("[n_s, ") + g.n + "] with " + rows);
    const std::uint64_t ns = vs ? vs->shape[0] : 0;
    d.require_shape(std::string(g.table) + "_samples", {ns, n, m},
                    "[n_s, " + nm + "] with " + g.n + " = " + std::to_string(n) + ", " + g.m + " = " +
                        std::to_string(m) +
                        (vs ? ", n_s = " + std::to_string(ns) + " as in " + root + g.vector_samples : std::string()));
}

// The first dataset of `names` the group lacks is refused, naming another that is present.
void require_all(const dataset_group& d, const std::vector<const char*>& names, const std::string& group) {
    for (const char* name : names)
        d.require_present(
            name, "the /" + group + " group needs " + [&] {
                std::string s;
                for (const char* n : names) s += (s.empty() ? "" : ", ") + std::string(n);
                return s;
            }());
}

// The one-dimensional dataset `name` (shape checked), its length.
std::uint64_t length_of(const dataset_group& d, const std::string& name, const std::string& symbol) {
    d.require_shape(name, {0}, "[" + symbol + "] (one-dimensional)");
    return d.find(name)->shape[0];
}

// The median of the finite values of `v` (nullopt when there is none).
std::optional<double> median_of(std::vector<double> v) {
    std::erase_if(v, [](double x) { return !std::isfinite(x); });
    if (v.empty()) return std::nullopt;
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The last finite entry of row `i` of `m` and its column (nullopt when none).
std::optional<std::pair<double, Eigen::Index>> last_finite_in_row(const row_matrix& m, Eigen::Index i) {
    for (Eigen::Index j = m.cols(); j-- > 0;)
        if (std::isfinite(m(i, j))) return std::make_pair(m(i, j), j);
    return std::nullopt;
}

// connected_from_tw: the smallest t_w above the last row measured and not connected.
void find_connected_from(clone_summary& s) {
    std::optional<std::size_t> last_measured, last_unconnected;
    for (std::size_t i = 0; i < s.rows.size(); ++i) {
        if (!s.rows[i].connected) continue;
        last_measured = i;
        if (!*s.rows[i].connected) last_unconnected = i;
    }
    if (!s.energy_scale) {
        s.connected_reason = "no finite energy (loss) of the main run to set the scale of the threshold";
        return;
    }
    if (!last_measured) {
        s.connected_reason = "no clone barrier measured (/clones/barrier is NaN at every t_w)";
        return;
    }
    if (last_unconnected == last_measured) {
        const clone_row& r = s.rows[*last_measured];
        s.connected_reason = "the clones of the largest measured t_w = " + num_text(r.tw) +
                             " are not linearly connected (barrier " + num_text(*r.barrier) + " > " +
                             num_text(*s.absolute_threshold) + ")";
        return;
    }
    for (std::size_t i = last_unconnected ? *last_unconnected + 1 : 0; i < s.rows.size(); ++i)
        if (s.rows[i].connected) {
            s.connected_from_tw = s.rows[i].tw;
            return;
        }
}

} // namespace

dataset_group::dataset_group(const record& rec, const std::string& source, std::string group)
    : m_rec(rec), m_source(source), m_group(std::move(group)) {}

const nd_array<double>* dataset_group::find(const std::string& name) const {
    const auto it = m_rec.extra.find(m_group + "/" + name);
    return it == m_rec.extra.end() ? nullptr : &it->second;
}

bool dataset_group::any() const {
    const std::string prefix = m_group + "/";
    const auto in_group = [&](const auto& map) {
        return std::any_of(map.begin(), map.end(), [&](const auto& kv) { return kv.first.rfind(prefix, 0) == 0; });
    };
    return in_group(m_rec.extra) || in_group(m_rec.extra_f32) || in_group(m_rec.extra_i64);
}

void dataset_group::require_shape(const std::string& name, const std::vector<std::uint64_t>& want,
                                  const std::string& meaning) const {
    const nd_array<double>* a = find(name);
    if (!a) return;
    bool ok = a->shape.size() == want.size();
    for (std::size_t i = 0; ok && i < want.size(); ++i) ok = want[i] == 0 || a->shape[i] == want[i];
    if (!ok) refuse("/" + m_group + "/" + name + " has shape " + shape_text(a->shape) + ", not " + meaning);
}

void dataset_group::require_present(const std::string& name, const std::string& why) const {
    if (!find(name)) refuse("/" + m_group + "/" + name + " missing (" + why + ")");
}

std::vector<double> dataset_group::vector_or_nan(const std::string& name, std::size_t n) const {
    const nd_array<double>* a = find(name);
    return a ? a->data : std::vector<double>(n, nan_v);
}

row_matrix dataset_group::matrix(const std::string& name, std::size_t rows) const {
    const nd_array<double>* a = find(name);
    if (!a) return row_matrix(static_cast<Eigen::Index>(rows), 0);
    std::uint64_t c = 1;
    for (std::size_t i = 1; i < a->shape.size(); ++i) c *= a->shape[i];
    const std::uint64_t r = a->shape.empty() ? 0 : a->shape[0];
    return Eigen::Map<const row_matrix>(a->data.data(), static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c));
}

void dataset_group::refuse(const std::string& what) const { throw record_error(m_source + ": " + what); }

std::string shape_text(const std::vector<std::uint64_t>& shape) {
    std::string s;
    for (const auto d : shape) s += (s.empty() ? "" : ", ") + std::to_string(d);
    return "[" + s + "]";
}

std::vector<double> column_errors(const row_matrix& samples, std::size_t n) {
    std::vector<double> err(n, nan_v);
    if (samples.rows() < 2) return err;
    std::vector<double> col(static_cast<std::size_t>(samples.rows()));
    for (std::size_t j = 0; j < n; ++j) {
        for (std::size_t s = 0; s < col.size(); ++s)
            col[s] = samples(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(j));
        err[j] = mean_err(col).second;
    }
    return err;
}

barrier_series barrier_from(const record& rec, const std::string& source) {
    const dataset_group d(rec, source, "barrier");
    barrier_series s;
    if (!d.any()) return s;
    require_all(d, {"tw", "t", "alpha", "energy", "height"}, "barrier");
    const std::uint64_t nb = length_of(d, "tw", "n_b"), na = length_of(d, "alpha", "n_a");
    check_group_shapes(d, barrier_layout, nb, na);
    s.tw = d.find("tw")->data;
    s.t = d.find("t")->data;
    s.alpha = d.find("alpha")->data;
    s.energy = d.matrix("energy", nb);
    s.height = d.find("height")->data;
    // Per-sample heights: the p-spin's samples, or net_quench --seeds' seeds (/seeds/barrier).
    const dataset_group seeds(rec, source, "seeds/barrier");
    seeds.require_shape("height", {0, nb}, "[n_s, n_b] with " + count_text("n_b", nb, "/barrier/tw"));
    seeds.require_shape("energy", {0, nb, na},
                        "[n_s, n_b, n_a] with n_b = " + std::to_string(nb) + ", n_a = " + std::to_string(na));
    s.height_err =
        column_errors(d.find("height_samples") ? d.matrix("height_samples", 0) : seeds.matrix("height", 0), nb);
    return s;
}

clone_series clones_from(const record& rec, const std::string& source) {
    const dataset_group d(rec, source, "clones");
    clone_series s;
    if (!d.any()) return s;
    require_all(d, {"tw", "t", "delta", "barrier"}, "clones");
    const std::uint64_t nc = length_of(d, "tw", "n_c"), nl = length_of(d, "t", "n_l");
    check_group_shapes(d, clone_layout, nc, nl);
    s.tw = d.find("tw")->data;
    s.t = d.find("t")->data;
    s.delta = d.matrix("delta", nc);
    const std::vector<double> err = column_errors(d.matrix("delta_samples", 0), nc * nl);
    s.delta_err =
        Eigen::Map<const row_matrix>(err.data(), static_cast<Eigen::Index>(nc), static_cast<Eigen::Index>(nl));
    s.barrier = d.find("barrier")->data;
    s.barrier_err = column_errors(d.matrix("barrier_samples", 0), nc);
    if (const nd_array<double>* a = d.find("test_accuracy_drop")) s.test_accuracy_drop = a->data;
    return s;
}

std::optional<std::string> barrier_difference(const barrier_series& x, const barrier_series& y) {
    if (x.tw.empty() != y.tw.empty()) return std::string("only one of them has /barrier");
    if (!same_values(x.tw, y.tw) || !same_values(x.t, y.t))
        return std::string("barrier pairs (/barrier/tw, /barrier/t) differ");
    if (!same_values(x.alpha, y.alpha)) return std::string("barrier path points (/barrier/alpha) differ");
    return std::nullopt;
}

std::optional<std::string> clones_difference(const clone_series& x, const clone_series& y) {
    if (x.tw.empty() != y.tw.empty()) return std::string("only one of them has /clones");
    if (!same_values(x.tw, y.tw)) return std::string("clone waiting times (/clones/tw) differ");
    if (!same_values(x.t, y.t)) return std::string("clone lags (/clones/t) differ");
    if (x.test_accuracy_drop.empty() != y.test_accuracy_drop.empty())
        return std::string("only one of them has /clones/test_accuracy_drop");
    return std::nullopt;
}

barrier_series average_barrier(const std::vector<barrier_series>& runs) {
    if (runs.empty()) throw error("average_barrier: no runs");
    barrier_series r = runs.front();
    if (r.tw.empty()) return r;
    row_matrix unused;
    average_matrix(
        runs, [](const barrier_series& b) -> const row_matrix& { return b.energy; }, r.energy, unused);
    average_vector(
        runs, [](const barrier_series& b) -> const std::vector<double>& { return b.height; }, r.height, r.height_err);
    return r;
}

clone_series average_clones(const std::vector<clone_series>& runs) {
    if (runs.empty()) throw error("average_clones: no runs");
    clone_series r = runs.front();
    if (r.tw.empty()) return r;
    average_matrix(
        runs, [](const clone_series& c) -> const row_matrix& { return c.delta; }, r.delta, r.delta_err);
    average_vector(
        runs, [](const clone_series& c) -> const std::vector<double>& { return c.barrier; }, r.barrier, r.barrier_err);
    std::vector<double> unused;
    if (!r.test_accuracy_drop.empty())
        average_vector(
            runs, [](const clone_series& c) -> const std::vector<double>& { return c.test_accuracy_drop; },
            r.test_accuracy_drop, unused);
    return r;
}

barrier_summary summarise_barrier(const barrier_series& b, double threshold) {
    if (b.tw.empty()) throw error("summarise_barrier: no barrier paths");
    barrier_summary s;
    s.pairs = b.tw.size();
    s.points = b.alpha.size();
    s.threshold = threshold;
    const Eigen::Index last = b.energy.cols() - 1;
    for (std::size_t k = 0; k < b.height.size(); ++k) {
        const double h = b.height[k];
        if (!std::isfinite(h)) continue;
        ++s.measured;
        if (!s.max_height || h > *s.max_height) {
            s.max_height = h;
            s.max_tw = b.tw[k];
            s.max_t = b.t[k];
        }
        const auto row = static_cast<Eigen::Index>(k);
        const double scale = last >= 0 ? 0.5 * (std::abs(b.energy(row, 0)) + std::abs(b.energy(row, last))) : nan_v;
        if (h > threshold * scale) ++s.rising;
    }
    s.median_height = median_of(b.height);
    if (s.measured > 0) s.rising_fraction = static_cast<double>(s.rising) / static_cast<double>(s.measured);
    return s;
}

std::optional<std::size_t> find_on_grid(const std::vector<double>& grid, double v) {
    for (std::size_t i = 0; i < grid.size(); ++i)
        if (same_values({grid[i]}, {v})) return i;
    return std::nullopt;
}

std::optional<double> main_delta_at(const main_delta& main, double tw, double t) {
    const auto w = find_on_grid(main.tw, tw);
    if (!w) return std::nullopt;
    const auto row = static_cast<Eigen::Index>(*w);
    if (const auto l = find_on_grid(main.lag, t)) return finite(main.delta(row, static_cast<Eigen::Index>(*l)));
    std::optional<std::size_t> lo, hi; // the nearest finite lags below and above t
    for (std::size_t j = 0; j < main.lag.size(); ++j) {
        const double lag = main.lag[j];
        if (!(lag > 0) || !std::isfinite(main.delta(row, static_cast<Eigen::Index>(j)))) continue;
        if (lag < t && (!lo || lag > main.lag[*lo])) lo = j;
        if (lag > t && (!hi || lag < main.lag[*hi])) hi = j;
    }
    if (!lo || !hi || !(t > 0)) return std::nullopt;
    const double a = main.delta(row, static_cast<Eigen::Index>(*lo)),
                 b = main.delta(row, static_cast<Eigen::Index>(*hi));
    const double f = std::log(t / main.lag[*lo]) / std::log(main.lag[*hi] / main.lag[*lo]);
    return a + f * (b - a);
}

clone_summary summarise_clones(const clone_series& c, double final_energy, double threshold, const main_delta& main) {
    if (c.tw.empty()) throw error("summarise_clones: no clones");
    clone_summary s;
    s.threshold = threshold;
    if (std::isfinite(final_energy)) {
        s.energy_scale = std::abs(final_energy);
        s.absolute_threshold = threshold * *s.energy_scale;
    }
    for (std::size_t i = 0; i < c.tw.size(); ++i) {
        clone_row r;
        r.tw = c.tw[i];
        if (const auto last = last_finite_in_row(c.delta, static_cast<Eigen::Index>(i))) {
            r.delta_ab = last->first;
            r.t_last = c.t[static_cast<std::size_t>(last->second)];
            r.delta = main_delta_at(main, r.tw, *r.t_last);
        }
        r.barrier = finite(c.barrier[i]);
        if (i < c.barrier_err.size()) r.barrier_err = finite(c.barrier_err[i]);
        if (r.barrier && s.absolute_threshold) r.connected = *r.barrier <= *s.absolute_threshold;
        if (i < c.test_accuracy_drop.size()) r.test_accuracy_drop = finite(c.test_accuracy_drop[i]);
        s.rows.push_back(r);
    }
    find_connected_from(s);
    return s;
}

nlohmann::json to_json(const barrier_summary& b) {
    return {{"pairs", b.pairs},
            {"measured", b.measured},
            {"points", b.points},
            {"height", "max along the path - max of its two ends (/barrier/height; > 0: the path rises above both)"},
            {"max_height", opt(b.max_height)},
            {"max_at", b.max_height ? nlohmann::json{{"tw", b.max_tw}, {"t", b.max_t}} : nlohmann::json()},
            {"median_height", opt(b.median_height)},
            {"rising", b.rising},
            {"rising_fraction", opt(b.rising_fraction)},
            {"threshold",
             {{"relative", b.threshold},
              {"rule", "a path rises when its height > relative x (|e(t_w)| + |e(t_w + t)|) / 2, the mean |energy| "
                       "(loss) of its two ends"}}}};
}

nlohmann::json to_json(const clone_summary& c) {
    using nlohmann::json;
    json rows = json::array();
    for (const clone_row& r : c.rows) {
        json j = {{"tw", r.tw},
                  {"t_last", opt(r.t_last)},
                  {"delta_ab", opt(r.delta_ab)},
                  {"delta", opt(r.delta)},
                  {"barrier", opt(r.barrier)},
                  {"barrier_err", opt(r.barrier_err)},
                  {"connected", r.connected ? json(*r.connected) : json()}};
        if (r.test_accuracy_drop) j["test_accuracy_drop"] = *r.test_accuracy_drop;
        rows.push_back(j);
    }
    return {{"per_tw", rows},
            {"threshold",
             {{"relative", c.threshold},
              {"energy_scale", opt(c.energy_scale)},
              {"absolute", opt(c.absolute_threshold)},
              {"rule", "clones are linearly connected when the barrier between them <= relative x energy_scale, "
                       "energy_scale = |energy (loss) of the main run at its last time|"}}},
            {"connected_from_tw", opt(c.connected_from_tw)},
            {"connected_from_tw_reason", c.connected_reason.empty() ? json() : json(c.connected_reason)}};
}

} // namespace glassy
