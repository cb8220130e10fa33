#include "physics/ck_run.hpp"

#include "dynamics/error.hpp"
#include "dynamics/recorders.hpp"
#include "dynamics/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>

namespace glassy {

namespace {

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

std::vector<double> log_points(double lo, double hi, int per_decade) {
    std::vector<double> v;
    if (hi < lo) return v;
    const int k0 = static_cast<int>(std::ceil(std::log10(lo) * per_decade - 1e-9));
    const int k1 = static_cast<int>(std::floor(std::log10(hi) * per_decade + 1e-9));
    for (int k = k0; k <= k1; ++k) v.push_back(std::pow(10.0, static_cast<double>(k) / per_decade));
    return v;
}

/// Fills Delta(t_w, t_w + t) = 2 - 2 C(t_w + t, t_w) when t_w + t is first reached by the grid,
/// by interpolation (ck_interpolate_c); needs to be called at every step, because the
/// decimation scheme forgets fine detail of early times.
class ck_aging_observer {
public:
    ck_aging_observer(std::vector<double> tw, std::vector<double> lags, double tmax)
        : m_tw(std::move(tw)),
          m_lags(std::move(lags)),
          m_tmax(tmax),
          m_delta(row_matrix::Constant(static_cast<Eigen::Index>(m_tw.size()), static_cast<Eigen::Index>(m_lags.size()),
                                       nan_v)) {}

    void operator()(const ck_system&, const ck_state& x, std::int64_t, double t) {
        if (x.n < 2) {
            m_last = t;
            return;
        }
        for (std::size_t w = 0; w < m_tw.size(); ++w)
            for (std::size_t l = 0; l < m_lags.size(); ++l) {
                const double target = m_tw[w] + m_lags[l];
                if (target > m_last && target <= t && target <= m_tmax * (1.0 + 1e-12) && m_lags[l] >= 2.0 * x.h)
                    m_delta(static_cast<Eigen::Index>(w), static_cast<Eigen::Index>(l)) =
                        2.0 - 2.0 * ck_interpolate_c(x, target, m_tw[w]);
            }
        m_last = t;
    }
    [[nodiscard]] const row_matrix& delta() const noexcept { return m_delta; }
    /// Saves the table and clock as PREFIXdelta and PREFIXlast.
    void save(checkpoint& c, const std::string& prefix) const {
        c.put_matrix(prefix + "delta", m_delta);
        c.put(prefix + "last", {m_last});
    }
    /// Restores what save() wrote; throws record_error when missing or of another shape.
    void restore(const checkpoint& c, const std::string& prefix) {
        row_matrix delta = c.matrix(prefix + "delta");
        if (delta.rows() != m_delta.rows() || delta.cols() != m_delta.cols())
            throw record_error("checkpoint: CK aging table shape");
        m_delta = std::move(delta);
        m_last = c.vector(prefix + "last").at(0);
    }

private:
    std::vector<double> m_tw, m_lags;
    double m_tmax;
    row_matrix m_delta;
    double m_last = 0.0;
};

// Ragged tables <-> checkpoint arrays (data flattened, row lengths alongside).
void put_ragged(checkpoint& c, const std::string& key, const std::vector<std::vector<double>>& t) {
    std::vector<double> data, len;
    for (const auto& row : t) {
        len.push_back(static_cast<double>(row.size()));
        data.insert(data.end(), row.begin(), row.end());
    }
    c.put(key + "/data", data);
    c.put(key + "/len", len);
}
std::vector<std::vector<double>> get_ragged(const checkpoint& c, const std::string& key) {
    const auto data = c.vector(key + "/data");
    const auto len = c.vector(key + "/len");
    std::vector<std::vector<double>> t;
    std::size_t at = 0;
    for (double l : len) {
        const auto n = static_cast<std::size_t>(l);
        if (l < 0 || at + n > data.size()) throw record_error("checkpoint: corrupt CK table " + key);
        t.emplace_back(data.begin() + static_cast<std::ptrdiff_t>(at),
                       data.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += n;
    }
    return t;
}

} // namespace

// Every field of the state (for_each_field), by type: h as a one-element array "h", the counters
// as integers "n", "rows_computed", the tables as ragged "state/NAME", the series as "state/NAME".
void save(checkpoint& c, const ck_state& x) {
    for_each_field(x, [&](const char* name, const auto& v) {
        using T = std::remove_cvref_t<decltype(v)>;
        if constexpr (std::same_as<T, double>) c.put(name, {v});
        else if constexpr (std::same_as<T, std::int64_t>) c.integers[name] = v;
        else if constexpr (std::same_as<T, std::vector<std::vector<double>>>)
            put_ragged(c, std::string("state/") + name, v);
        else c.put(std::string("state/") + name, v);
    });
}

void restore(const checkpoint& c, ck_state& x) {
    for_each_field(x, [&](const char* name, auto& v) {
        using T = std::remove_cvref_t<decltype(v)>;
        if constexpr (std::same_as<T, double>) v = c.vector(name).at(0);
        else if constexpr (std::same_as<T, std::int64_t>) v = c.integer(name);
        else if constexpr (std::same_as<T, std::vector<std::vector<double>>>)
            v = get_ragged(c, std::string("state/") + name);
        else v = c.vector(std::string("state/") + name);
    });
}

namespace {

// The configuration a checkpoint must match (the thread count may differ).
std::string ck_config(const ck_parameters& p) {
    auto j = to_json(p);
    j.erase("threads");
    return j.dump();
}

// What a CK run carries from step to step: the state, its recorders and the step counter; all
// of it is checkpointed.
struct ck_progress {
    ck_state x;
    scalar_recorder<ck_system> scalars;
    std::vector<double> tw, lags;
    ck_aging_observer aging;
    run_state rs;

    ck_progress(ck_state initial, const ck_parameters& p)
        : x(std::move(initial)),
          tw(log_points(1.0, p.tmax / 2.0, p.tw_per_decade)),
          lags(log_points(0.1, p.tmax, p.lags_per_decade)),
          aging(tw, lags, p.tmax) {
        scalars.add("energy", [](const ck_system&, const ck_state& s) { return s.energy.back(); });
        scalars.add("mu", [](const ck_system&, const ck_state& s) { return s.mu.back(); });
    }
    // The whole checkpoint of this run (tool pspin_quench, kind "ck").
    [[nodiscard]] checkpoint save(const ck_parameters& p) const {
        checkpoint c;
        c.tool = "pspin_quench";
        c.config = ck_config(p);
        c.strings["kind"] = "ck";
        c.integers["step"] = rs.step;
        glassy::save(c, x);
        scalars.save(c, "scalars/");
        aging.save(c, "aging/");
        return c;
    }
    // Restores what save() wrote; throws record_error for another configuration or a bad step.
    void restore(const checkpoint& c, const ck_parameters& p, std::int64_t last) {
        if (!is_ck_checkpoint(c) || c.config != ck_config(p))
            throw record_error("checkpoint is from a different configuration than this run");
        rs.step = c.integer("step");
        if (rs.step < 0 || rs.step > last) throw record_error("checkpoint: bad step");
        glassy::restore(c, x);
        scalars.restore(c, "scalars/");
        aging.restore(c, "aging/");
    }
};

// The final grid, thinned to at most output_points + 1 times: "ck/times", "ck/C", "ck/R", "ck/chi".
void add_final_grid(record& rec, const ck_state& x, int output_points) {
    const std::int64_t n = x.n;
    const std::int64_t stride = std::max<std::int64_t>(1, (n + output_points - 1) / output_points);
    std::vector<std::int64_t> idx;
    for (std::int64_t k = 0; k <= n; k += stride) idx.push_back(k);
    const auto m = static_cast<std::uint64_t>(idx.size());
    nd_array<double> times{{m}, {}}, C{{m, m}, {}}, R{{m, m}, {}}, chi{{m, m}, {}};
    for (const auto k : idx) times.data.push_back(static_cast<double>(k) * x.h);
    for (const auto a : idx)
        for (const auto b : idx) {
            const auto hi = std::max(a, b), lo = std::min(a, b);
            C.data.push_back(x.c[static_cast<std::size_t>(hi)][static_cast<std::size_t>(lo)]);
            R.data.push_back(a >= b ? ck_response(x, a, b) : 0.0);
            chi.data.push_back(a >= b ? ck_chi(x, a, b) : 0.0);
        }
    rec.extra["ck/times"] = std::move(times);
    rec.extra["ck/C"] = std::move(C);
    rec.extra["ck/R"] = std::move(R);
    rec.extra["ck/chi"] = std::move(chi);
}

// The record of a run that ended with `end` (docs/ck.md).
record ck_record(const ck_parameters& p, const ck_progress& run, const run_end& end) {
    record rec;
    rec.system = "pspin";
    rec.method = "ck";
    rec.parameters = to_json(p);
    end.mark(rec);
    rec.time = run.scalars.times();
    rec.energy = run.scalars.values("energy");
    rec.observables["mu"] = run.scalars.values("mu");
    rec.aging.tw = run.tw;
    rec.aging.t = run.lags;
    rec.aging.delta = run.aging.delta();
    rec.aging.noise.assign(run.tw.size(), p.T);
    add_final_grid(rec, run.x, p.output_points);
    return rec;
}

template <class Dynamics>
record run_with(Dynamics& dyn, const ck_system& sys, const ck_parameters& p, const run_hooks& hooks,
                const run_control& control) {
    ck_progress run(dyn.initial_state(sys), p);
    const std::int64_t last = dyn.steps_to(p.tmax);
    if (control.resume) run.restore(*control.resume, p, last);
    run_hooks h = hooks;
    if (h.progress && h.progress_every == 0) h.progress_every = std::max<std::int64_t>(1, last / 200);
    trigger when = control.checkpoint_every;
    when.reset();
    const auto save = [&] {
        write_checkpoint(run.save(p), control.checkpoint_path);
        when.reset();
    };
    if (!control.checkpoint_path.empty())
        h.between_steps = [&](std::int64_t step) {
            if (when.due(step)) save();
        };
    run_end end;
    h.stop = [&](std::int64_t step) {
        if (!hooks.stop || !hooks.stop(step)) return false;
        end.reason = stop_reason::interrupted; // CK records store no stop_reason message
        return true;
    };
    integrate(dyn, sys, run.x, run.rs, last, schedule::linear(last, 1), h, run.scalars, run.aging);
    if (end.stopped() && !control.checkpoint_path.empty()) save();
    return ck_record(p, run, end);
}

} // namespace

std::int64_t ck_steps(const ck_parameters& p) {
    validate(p);
    if (p.scheme == "reference") return ck_reference(p.dt > 0.0 ? p.dt : 0.02).steps_to(p.tmax);
    ck_decimation_options opt;
    opt.grid = p.grid;
    opt.copied = p.copied;
    opt.h0 = p.dt > 0.0 ? p.dt : 1e-4;
    return ck_decimation(opt).steps_to(p.tmax);
}

void validate(const ck_parameters& p) {
    const ck_mixture mix = ck_mixture::parse(p.mix);
    if (!std::isfinite(p.T) || p.T < 0.0) throw parameter_error("T must be finite and >= 0");
    if (std::isnan(p.T0) || p.T0 <= 0.0) throw parameter_error("T0 must be > 0 (or infinity)");
    (void)ck_system(mix, p.T, p.T0); // T0 above T_d (the message gives T_d)
    if (!std::isfinite(p.tmax) || p.tmax <= 0.0) throw parameter_error("tmax must be finite and > 0");
    if (p.scheme != "decimation" && p.scheme != "reference")
        throw parameter_error("scheme must be 'decimation' or 'reference' (got '" + p.scheme + "')");
    if (!std::isfinite(p.dt) || p.dt < 0.0) throw parameter_error("dt must be >= 0 (0 = default)");
    if (p.grid < 16 || p.grid % 2 != 0) throw parameter_error("grid must be even and >= 16");
    if (p.copied < 2 || p.copied > p.grid / 8) throw parameter_error("copied must be in [2, grid/8]");
    if (!(p.tolerance > 0.0)) throw parameter_error("tolerance must be > 0");
    if (p.max_iterations < 1) throw parameter_error("max_iterations must be >= 1");
    if (p.tw_per_decade < 1 || p.lags_per_decade < 1) throw parameter_error("per-decade counts must be >= 1");
    if (p.output_points < 2) throw parameter_error("output_points must be >= 2");
    if (p.threads < 0) throw parameter_error("threads must be >= 0");
    if (p.scheme == "reference") {
        const double h = p.dt > 0.0 ? p.dt : 0.02;
        if (p.tmax / h > 5000.0)
            throw parameter_error("reference scheme: tmax/dt > 5000 (memory and time grow like (tmax/dt)^2 and ^3); "
                                  "use the decimation scheme");
    }
}

nlohmann::json to_json(const ck_parameters& p) {
    const ck_mixture mix = ck_mixture::parse(p.mix);
    nlohmann::json j;
    j["num_parameters"] = "infinity";
    j["N"] = "infinity";
    j["mix"] = mix.str();
    if (mix.pure_p() > 0) j["p"] = mix.pure_p();
    else j["p"] = nullptr;
    j["T"] = p.T;
    if (std::isinf(p.T0)) j["T0"] = "infinity";
    else j["T0"] = p.T0;
    j["tmax"] = p.tmax;
    j["scheme"] = p.scheme;
    j["dt"] = p.dt > 0.0 ? p.dt : (p.scheme == "reference" ? 0.02 : 1e-4);
    j["grid"] = p.grid;
    j["copied"] = p.copied;
    j["tolerance"] = p.tolerance;
    j["max_iterations"] = p.max_iterations;
    j["tw_per_decade"] = p.tw_per_decade;
    j["lags_per_decade"] = p.lags_per_decade;
    j["output_points"] = p.output_points;
    j["threads"] = p.threads;
    return j;
}

bool is_ck_checkpoint(const checkpoint& c) {
    const auto it = c.strings.find("kind");
    return c.tool == "pspin_quench" && it != c.strings.end() && it->second == "ck";
}

ck_parameters ck_parameters_from_checkpoint(const checkpoint& c) {
    if (!is_ck_checkpoint(c)) throw record_error("not a checkpoint of pspin_quench --method ck");
    try {
        const auto j = nlohmann::json::parse(c.config);
        ck_parameters p;
        p.mix = j.at("mix").get<std::string>();
        p.T = j.at("T");
        p.T0 = j.at("T0").is_string() ? std::numeric_limits<double>::infinity() : j.at("T0").get<double>();
        p.tmax = j.at("tmax");
        p.scheme = j.at("scheme").get<std::string>();
        p.dt = j.at("dt");
        p.grid = j.at("grid");
        p.copied = j.at("copied");
        p.tolerance = j.at("tolerance");
        p.max_iterations = j.at("max_iterations");
        p.tw_per_decade = j.at("tw_per_decade");
        p.lags_per_decade = j.at("lags_per_decade");
        p.output_points = j.at("output_points");
        return p;
    } catch (const nlohmann::json::exception& e) {
        throw record_error(std::string("checkpoint: bad CK configuration (") + e.what() + ")");
    }
}

record run_ck(const ck_parameters& p, const run_hooks& hooks) { return run_ck(p, hooks, run_control{}); }

record run_ck(const ck_parameters& p, const run_hooks& hooks, const run_control& control) {
    validate(p);
    const ck_system sys(ck_mixture::parse(p.mix), p.T, p.T0);
    if (p.scheme == "reference") {
        ck_reference dyn(p.dt > 0.0 ? p.dt : 0.02);
        return run_with(dyn, sys, p, hooks, control);
    }
    ck_decimation_options opt;
    opt.grid = p.grid;
    opt.copied = p.copied;
    opt.h0 = p.dt > 0.0 ? p.dt : 1e-4;
    opt.tolerance = p.tolerance;
    opt.max_iterations = p.max_iterations;
    ck_decimation dyn(opt);
    return run_with(dyn, sys, p, hooks, control);
}

} // namespace glassy
