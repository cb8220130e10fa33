#include "analysis/sweep.hpp"

#include "dynamics/error.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <set>

namespace glassy {
namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

bool ignored(const std::string& key) {
    return std::find(sweep_ignored_parameters.begin(), sweep_ignored_parameters.end(), key) !=
           sweep_ignored_parameters.end();
}

// Leaves of `j` by dotted key (objects are descended into; arrays and scalars are leaves).
void flatten(const nlohmann::json& j, const std::string& prefix, std::map<std::string, nlohmann::json>& out) {
    for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
        if (prefix.empty() && ignored(key)) continue;
        if (it.value().is_object()) flatten(it.value(), key, out);
        else out[key] = it.value();
    }
}

std::map<std::string, nlohmann::json> leaves(const nlohmann::json& j) {
    std::map<std::string, nlohmann::json> out;
    if (j.is_object()) flatten(j, "", out);
    return out;
}

// The value at dotted `key` (nullptr when absent).
const nlohmann::json* find_dotted(const nlohmann::json& j, const std::string& key) {
    const nlohmann::json* p = &j;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = key.find('.', start);
        const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!p->is_object() || !p->contains(part)) return nullptr;
        p = &p->at(part);
        if (dot == std::string::npos) return p;
        start = dot + 1;
    }
}

std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s;
}

// The first two records that differ at `key`, named for a message.
std::string where_differs(const std::vector<nlohmann::json>& parameters, const std::vector<std::string>& sources,
                          const std::string& key) {
    const auto first = leaves(parameters[0]);
    const auto a = first.find(key);
    for (std::size_t i = 1; i < parameters.size(); ++i) {
        const auto l = leaves(parameters[i]);
        const auto b = l.find(key);
        const bool same = (a == first.end()) == (b == l.end()) && (a == first.end() || a->second == b->second);
        if (!same)
            return key + " = " + (a == first.end() ? "(absent)" : a->second.dump()) + " in " + sources[0] + ", " +
                   (b == l.end() ? "(absent)" : b->second.dump()) + " in " + sources[i];
    }
    return key;
}

double number_or_nan(const nlohmann::json& j, const char* key) {
    return j.contains(key) && j.at(key).is_number() ? j.at(key).get<double>() : nan_v;
}

double opt_or_nan(const std::optional<double>& v) { return v ? *v : nan_v; }

double first_finite(const std::vector<double>& v) {
    for (double x : v)
        if (std::isfinite(x)) return x;
    return nan_v;
}

// The swept value as a number: a number as it is, the batch "all" as P.
double axis_value(const nlohmann::json& v, const std::string& key, double train_count, const std::string& source) {
    if (v.is_number()) return v.get<double>();
    if (key == "batch" && v == "all") return train_count;
    throw error(source + ": the swept parameter " + key + " = " + v.dump() + " is not a number");
}

void put_summary_values(const aging_summary& s, sweep_row& r) {
    r.train_loss = number_or_nan(s.final_values, "train_loss");
    r.test_loss = number_or_nan(s.final_values, "test_loss");
    r.train_accuracy = number_or_nan(s.final_values, "train_accuracy");
    r.test_accuracy = number_or_nan(s.final_values, "test_accuracy");
    r.unsatisfied_fraction = number_or_nan(s.final_values, "unsatisfied_fraction");
    r.test_unsatisfied_fraction = number_or_nan(s.final_values, "test_unsatisfied_fraction");
    r.t1 = opt_or_nan(s.t1);
    r.t2 = opt_or_nan(s.t2);
    r.collapse_below = s.collapse_below ? opt_or_nan(s.collapse_below->spread) : nan_v;
    r.collapse_above = s.collapse_above ? opt_or_nan(s.collapse_above->spread) : nan_v;
    r.plateau = s.plateau ? s.plateau->height : nan_v;
    r.diffusive_exponent = s.diffusive ? s.diffusive->slope : nan_v;
    const bool h = s.hessian.has_value();
    r.hessian_top = h ? opt_or_nan(s.hessian->top) : nan_v;
    r.hessian_negative_fraction = h ? opt_or_nan(s.hessian->negative_fraction) : nan_v;
    r.hessian_flat_fraction = h ? opt_or_nan(s.hessian->flat_fraction) : nan_v;
    r.hessian_trace = h ? opt_or_nan(s.hessian->trace) : nan_v;
}

// The per-seed train losses of a row (sweep_row::seeds ... seed_final_train_loss): from
// /seeds/observables/train_loss when the record has it, else the run's own first and final loss.
void put_seed_values(const run_data& run, sweep_row& r) {
    const auto it = run.observables_samples.find("train_loss");
    if (it == run.observables_samples.end()) {
        r.seed_initial_train_loss = {r.initial_train_loss};
        r.seed_final_train_loss = {r.train_loss};
        r.train_loss_err = nan_v;
        return;
    }
    const row_matrix& m = it->second;
    r.seeds = static_cast<double>(m.rows());
    for (Eigen::Index s = 0; s < m.rows(); ++s) {
        std::vector<double> loss(m.row(s).begin(), m.row(s).end());
        r.seed_initial_train_loss.push_back(first_finite(loss));
        std::reverse(loss.begin(), loss.end());
        r.seed_final_train_loss.push_back(first_finite(loss));
    }
    const std::vector<double>& err = run.observables_err.at("train_loss");
    const auto last = std::find_if(err.rbegin(), err.rend(), [](double e) { return std::isfinite(e); });
    r.train_loss_err = last == err.rend() ? nan_v : *last;
}

// The fraction of a row's seeds whose final train loss > relative x their initial one.
double jammed_fraction(const sweep_row& r, double relative) {
    std::size_t jammed = 0;
    for (std::size_t s = 0; s < r.seed_final_train_loss.size(); ++s)
        jammed += r.seed_final_train_loss[s] > relative * r.seed_initial_train_loss[s] ? 1 : 0;
    return r.seed_final_train_loss.empty()
               ? nan_v
               : static_cast<double>(jammed) / static_cast<double>(r.seed_final_train_loss.size());
}

nlohmann::json row_json(const sweep_row& r) {
    const auto num = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); };
    return {{"source", r.source},
            {"value", r.value},
            {"n_over_p", r.n_over_p},
            {"num_parameters", r.num_parameters},
            {"train_count", r.train_count},
            {"train_loss", num(r.train_loss)},
            {"initial_train_loss", num(r.initial_train_loss)},
            {"unsatisfied_fraction", num(r.unsatisfied_fraction)},
            {"steps_done", num(r.steps_done)},
            {"converged", r.converged},
            {"seeds", r.seeds},
            {"jammed_fraction", num(r.jammed_fraction)}};
}

} // namespace

std::vector<std::string> differing_parameters(const std::vector<nlohmann::json>& parameters) {
    std::set<std::string> keys, differ;
    std::vector<std::map<std::string, nlohmann::json>> all;
    for (const auto& p : parameters) {
        all.push_back(leaves(p));
        for (const auto& [k, v] : all.back()) keys.insert(k);
    }
    for (const auto& k : keys)
        for (std::size_t i = 1; i < all.size(); ++i) {
            const auto a = all[0].find(k), b = all[i].find(k);
            if ((a == all[0].end()) != (b == all[i].end()) || (a != all[0].end() && a->second != b->second)) {
                differ.insert(k);
                break;
            }
        }
    return {differ.begin(), differ.end()};
}

std::string sweep_key(const std::vector<nlohmann::json>& parameters, const std::vector<std::string>& sources,
                      const std::string& requested) {
    if (parameters.size() < 2)
        throw error("a sweep needs at least two records, got " + std::to_string(parameters.size()));
    const std::vector<std::string> keys = differing_parameters(parameters);
    if (keys.empty()) throw error("the records do not differ in any parameter: nothing is swept");
    std::vector<std::string> others;
    for (const auto& k : keys)
        if (k != requested) others.push_back(k);
    if (!requested.empty() && others.empty()) return requested;
    if (requested.empty() && keys.size() == 1) return keys.front();
    const std::string first = where_differs(parameters, sources, others.front());
    if (!requested.empty())
        throw error("the records differ in " + join(others) + " besides --sweep-key " + requested + " (" + first + ")");
    throw error("the records differ in more than one parameter: " + join(keys) + " (" + first +
                "); a sweep varies one");
}

sweep_row make_sweep_row(const run_data& run, const aging_summary& summary, const std::string& key) {
    const std::string source = run.sources.empty() ? std::string("record") : run.sources.front();
    const nlohmann::json& p = run.parameters;
    sweep_row r;
    r.source = source;
    r.num_parameters = number_or_nan(p, "num_parameters");
    r.train_count = number_or_nan(p, "train_count");
    if (run.system != system_kind::net || !(r.num_parameters > 0) || !(r.train_count > 0))
        throw error(source + ": a sweep needs network records (net_quench) with num_parameters and train_count");
    const nlohmann::json* v = find_dotted(p, key);
    if (v == nullptr) throw error(source + ": no parameter " + key);
    r.value = *v;
    r.x = axis_value(*v, key, r.train_count, source);
    r.n_over_p = r.num_parameters / r.train_count;
    r.steps_done = number_or_nan(p, "steps_done");
    r.complete = run.complete;
    r.converged = p.contains("stop_reason") && p.at("stop_reason").is_string() &&
                  p.at("stop_reason").get<std::string>().rfind("converged", 0) == 0;
    r.initial_train_loss =
        first_finite(run.observables.count("train_loss") ? run.observables.at("train_loss") : run.energy);
    put_summary_values(summary, r);
    put_seed_values(run, r);
    return r;
}

transition locate_transition(const std::vector<double>& axis, const std::vector<double>& final_loss,
                             const std::vector<double>& initial_loss, double relative_threshold) {
    if (axis.size() != final_loss.size() || axis.size() != initial_loss.size())
        throw error("locate_transition: " + std::to_string(axis.size()) + " axis values, " +
                    std::to_string(final_loss.size()) + " final and " + std::to_string(initial_loss.size()) +
                    " initial losses");
    if (!(relative_threshold > 0 && relative_threshold < 1))
        throw error("the relative loss threshold must be in (0, 1), got " + std::to_string(relative_threshold));
    std::vector<std::size_t> order(axis.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return axis[a] < axis[b]; });
    for (std::size_t k = 1; k < order.size(); ++k)
        if (axis[order[k]] == axis[order[k - 1]])
            throw error("two points of the sweep have the same axis value " + std::to_string(axis[order[k]]));
    transition t;
    std::vector<std::size_t> used; // sorted positions with finite losses
    for (std::size_t k = 0; k < order.size(); ++k) {
        const std::size_t i = order[k];
        if (std::isfinite(final_loss[i]) && std::isfinite(initial_loss[i])) used.push_back(k);
        else t.excluded.push_back(k);
    }
    const auto jammed = [&](std::size_t k) {
        return final_loss[order[k]] > relative_threshold * initial_loss[order[k]];
    };
    const auto last = std::find_if(used.rbegin(), used.rend(), jammed);
    if (used.empty()) t.reason = "no point with a finite loss";
    else if (last == used.rend()) t.reason = "no point is jammed: the transition lies below the first point";
    else if (last == used.rbegin())
        t.reason = std::all_of(used.begin(), used.end(), jammed)
                       ? "every point is jammed: the transition lies above the last point"
                       : "the last point is jammed (a non-monotone sweep): no point beyond it reaches zero loss";
    if (!t.reason.empty()) return t;
    const std::size_t lo = *last, hi = *(last - 1); // reverse iterator: the next used point in ascending order
    t.bracketed = true;
    t.lo_index = lo;
    t.hi_index = hi;
    t.lo = axis[order[lo]];
    t.hi = axis[order[hi]];
    t.estimate = t.lo > 0 && t.hi > 0 ? std::sqrt(t.lo * t.hi) : 0.5 * (t.lo + t.hi);
    for (std::size_t k : used)
        if (k < lo && !jammed(k)) t.out_of_order.push_back(axis[order[k]]);
    return t;
}

transition locate_half_jammed(const std::vector<double>& axis, const std::vector<double>& jammed_fraction) {
    if (axis.size() != jammed_fraction.size())
        throw error("locate_half_jammed: " + std::to_string(axis.size()) + " axis values, " +
                    std::to_string(jammed_fraction.size()) + " fractions");
    // locate_transition's rule "final > R x initial" with final = fraction, initial = 1, R = 1/2
    // marks fraction > 1/2; fraction = 1/2 counts as jammed here: nudge it above by one ulp.
    std::vector<double> f(jammed_fraction), one(axis.size(), 1.0);
    for (double& x : f)
        if (x == 0.5) x = std::nextafter(0.5, 1.0);
    transition t = locate_transition(axis, f, one, 0.5);
    if (!t.bracketed) {
        if (t.reason.rfind("no point is jammed", 0) == 0)
            t.reason =
                "fewer than half of the seeds are jammed at every point: the crossing lies below the first point";
        else if (t.reason.rfind("every point is jammed", 0) == 0)
            t.reason = "at least half of the seeds are jammed at every point: the crossing lies above the last point";
        return t;
    }
    std::vector<std::size_t> order(axis.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return axis[a] < axis[b]; });
    const double f_lo = jammed_fraction[order[t.lo_index]], f_hi = jammed_fraction[order[t.hi_index]];
    const bool logs = t.lo > 0 && t.hi > 0;
    const double x_lo = logs ? std::log(t.lo) : t.lo, x_hi = logs ? std::log(t.hi) : t.hi;
    const double x = f_lo == 0.5 ? x_lo : x_lo + (f_lo - 0.5) / (f_lo - f_hi) * (x_hi - x_lo);
    t.estimate = logs ? std::exp(x) : x;
    return t;
}

sweep_result make_sweep(const std::vector<run_data>& runs, const std::vector<aging_summary>& summaries,
                        const std::string& requested_key, double relative_threshold) {
    std::vector<nlohmann::json> params;
    std::vector<std::string> sources;
    for (const auto& r : runs) {
        params.push_back(r.parameters);
        sources.push_back(r.sources.empty() ? std::string("record") : r.sources.front());
    }
    sweep_result s;
    s.key = sweep_key(params, sources, requested_key);
    s.relative_threshold = relative_threshold;
    for (std::size_t i = 0; i < runs.size(); ++i) {
        s.rows.push_back(make_sweep_row(runs[i], summaries[i], s.key));
        s.rows.back().jammed_fraction = jammed_fraction(s.rows.back(), relative_threshold);
    }
    std::set<double> ratios, values;
    for (const auto& r : s.rows) {
        if (!values.insert(r.x).second) throw error(r.source + ": " + s.key + " = " + r.value.dump() + " twice");
        ratios.insert(r.n_over_p);
    }
    const bool by_ratio = ratios.size() == s.rows.size();
    s.axis = by_ratio ? "N/P" : s.key;
    std::stable_sort(s.rows.begin(), s.rows.end(), [&](const sweep_row& a, const sweep_row& b) {
        return by_ratio ? a.n_over_p < b.n_over_p : a.x < b.x;
    });
    std::vector<double> axis, final_loss, initial_loss;
    for (const auto& r : s.rows) {
        axis.push_back(by_ratio ? r.n_over_p : r.x);
        final_loss.push_back(r.train_loss);
        initial_loss.push_back(r.initial_train_loss);
    }
    s.located = locate_transition(axis, final_loss, initial_loss, relative_threshold);
    if (std::all_of(s.rows.begin(), s.rows.end(), [](const sweep_row& r) { return r.seeds > 1; })) {
        std::vector<double> fraction;
        for (const auto& r : s.rows) fraction.push_back(r.jammed_fraction);
        s.half_jammed = locate_half_jammed(axis, fraction);
    }
    return s;
}

namespace {

// A transition's JSON (docs/analysis.md, "Sweeps"), on the axis of sweep `s`.
nlohmann::json transition_json(const transition& t, const sweep_result& s) {
    using nlohmann::json;
    json tr = {{"axis", s.axis}, {"bracketed", t.bracketed}};
    if (t.bracketed) {
        tr["interval"] = {t.lo, t.hi};
        tr["estimate"] = t.estimate;
        if (s.axis == "N/P") tr["n_star_over_p"] = t.estimate;
        tr["last_jammed"] = row_json(s.rows[t.lo_index]);
        tr["first_unjammed"] = row_json(s.rows[t.hi_index]);
        tr["monotone"] = t.out_of_order.empty();
        tr["out_of_order"] = t.out_of_order;
        tr["reason"] = json();
    } else {
        tr["reason"] = t.reason;
    }
    json excluded = json::array();
    for (std::size_t k : t.excluded) excluded.push_back(s.rows[k].source);
    tr["excluded"] = excluded;
    return tr;
}

} // namespace

nlohmann::json to_json(const sweep_result& s) {
    nlohmann::json j = {{"key", s.key},
                        {"points", s.rows.size()},
                        {"threshold",
                         {{"relative", s.relative_threshold},
                          {"rule", "jammed: final train loss > relative x initial train loss (t = 0)"}}},
                        {"transition", transition_json(s.located, s)}};
    if (s.half_jammed) j["half_jammed"] = transition_json(*s.half_jammed, s);
    return j;
}

} // namespace glassy
