#include "physics/ck_run.hpp"

#include "dynamics/error.hpp"
#include "dynamics/recorders.hpp"
#include "dynamics/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
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
/// by interpolation (ck_interpolate_c) where t >= 2h, from the short-time expansion
/// (ck_short_lag_correlation) where t < 2h and t <= short_lag_max, NaN otherwise; needs to be
/// called at every step, because the decimation scheme forgets fine detail of early times.
/// Largest lag filled from the short-time expansion: its O(t^3) error in C was measured
/// <= 8.5e-4 at 0.1 for T = 0.5 (1e-5 at T = 0), 3e-3 at 0.158 (docs/ck.md, "Short lags").
constexpr double short_lag_max = 0.1 * (1.0 + 1e-9);

class ck_aging_observer {
public:
    ck_aging_observer(std::vector<double> tw, std::vector<double> lags, double tmax)
        : m_tw(std::move(tw)),
          m_lags(std::move(lags)),
          m_tmax(tmax),
          m_delta(row_matrix::Constant(static_cast<Eigen::Index>(m_tw.size()), static_cast<Eigen::Index>(m_lags.size()),
                                       nan_v)) {}

    void operator()(const ck_system& sys, const ck_state& x, std::int64_t, double t) {
        if (x.n < 2) {
            m_last = t;
            return;
        }
        for (std::size_t w = 0; w < m_tw.size(); ++w)
            for (std::size_t l = 0; l < m_lags.size(); ++l) {
                const double target = m_tw[w] + m_lags[l];
                if (target <= m_last || target > t || target > m_tmax * (1.0 + 1e-12)) continue;
                double& d = m_delta(static_cast<Eigen::Index>(w), static_cast<Eigen::Index>(l));
                if (m_lags[l] >= 2.0 * x.h) d = 2.0 - 2.0 * ck_interpolate_c(x, target, m_tw[w]);
                else if (m_lags[l] <= short_lag_max)
                    d = 2.0 - 2.0 * ck_short_lag_correlation(sys, x, m_tw[w], m_lags[l]);
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

// The step used: dt, or the scheme's default for dt = 0.
double step_used(const ck_parameters& p) {
    if (p.dt > 0.0) return p.dt;
    return p.scheme == ck_scheme::reference ? 0.02 : 1e-4;
}

ck_decimation_options decimation_options(const ck_parameters& p) {
    ck_decimation_options opt;
    opt.grid = p.grid;
    opt.copied = p.copied;
    opt.h0 = step_used(p);
    opt.tolerance = p.tolerance;
    opt.max_iterations = p.max_iterations;
    return opt;
}

/// The estimated discretisation error of e(t) (record "ck/energy_error"): a second decimation
/// run on a grid of N/2 points, advanced alongside so that its newest time is the first at or
/// after each observed t, its energy interpolated quadratically at t. At long times the scheme
/// converges at first order in 1/N (docs/ck.md section 4), so e_N - e_exact ~ e_{N/2} - e_N, the
/// value stored (signed: negative when e_N lies below the converged energy); where the
/// convergence is second order (t <~ 10) this overestimates the error up to 3 times. Off (no
/// dataset) for the reference scheme and where N/2 is not a valid grid (N/2 < 16 or
/// copied > N/16). NaN from the time the coarse run fails to converge (divergence_error), which
/// never stops the main run. The coarse run is deterministic, so a resumed run replays it from t = 0
/// (1/8 of the cost of the part already done) instead of checkpointing it.
class ck_error_observer {
public:
    ck_error_observer(const ck_system& sys, const ck_parameters& p, const ck_decimation_options& fine) {
        if (p.scheme != ck_scheme::decimation || fine.grid / 2 < 16 || fine.grid / 2 % 2 != 0 ||
            fine.copied > fine.grid / 16)
            return;
        ck_decimation_options coarse = fine;
        coarse.grid = fine.grid / 2;
        coarse.slow_row_factor = 10; // its slow rows at long times converge (ck_decimation_options)
        m_dyn.emplace(coarse);
        m_x = m_dyn->initial_state(sys);
    }
    [[nodiscard]] bool enabled() const noexcept { return m_dyn.has_value(); }

    void operator()(const ck_system& sys, const ck_state& x, std::int64_t, double t) {
        if (!m_dyn || m_failed) {
            if (m_dyn) m_error.push_back(nan_v);
            return;
        }
        try {
            while (m_x.now() < t * (1.0 - 1e-12)) m_dyn->step(sys, m_x);
        } catch (const divergence_error&) { // the coarse grid gave up: no estimate from here on
            m_failed = true;
            m_error.push_back(nan_v);
            return;
        }
        m_error.push_back(coarse_energy_at(t) - x.energy.back());
    }
    [[nodiscard]] const std::vector<double>& error() const noexcept { return m_error; }
    /// Saves the series as PREFIXenergy_error (the coarse state is replayed on restore).
    void save(checkpoint& c, const std::string& prefix) const {
        if (m_dyn) c.put(prefix + "energy_error", m_error);
    }
    /// Restores the series; throws record_error when it is missing.
    void restore(const checkpoint& c, const std::string& prefix) {
        if (m_dyn) m_error = c.vector(prefix + "energy_error");
    }

private:
    // Quadratic interpolation of the coarse history (time, energy) at t <= m_x.now().
    [[nodiscard]] double coarse_energy_at(double t) const {
        const auto& ts = m_x.time;
        const auto& es = m_x.energy;
        const auto it = std::lower_bound(ts.begin(), ts.end(), t);
        const auto k = std::clamp<std::size_t>(static_cast<std::size_t>(it - ts.begin()), 1, ts.size() - 2);
        const double t0 = ts[k - 1], t1 = ts[k], t2 = ts[k + 1];
        return es[k - 1] * (t - t1) * (t - t2) / ((t0 - t1) * (t0 - t2)) +
               es[k] * (t - t0) * (t - t2) / ((t1 - t0) * (t1 - t2)) +
               es[k + 1] * (t - t0) * (t - t1) / ((t2 - t0) * (t2 - t1));
    }

    std::optional<ck_decimation> m_dyn;
    ck_state m_x;
    std::vector<double> m_error;
    bool m_failed = false; // the coarse run threw divergence_error (replayed the same way on resume)
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
    ck_error_observer error;
    run_state rs;

    ck_progress(ck_state initial, const ck_system& sys, const ck_parameters& p)
        : x(std::move(initial)),
          tw(log_points(1.0, p.tmax / 2.0, p.tw_per_decade)),
          lags(log_points(0.1, p.tmax, p.lags_per_decade)),
          aging(tw, lags, p.tmax),
          error(sys, p, decimation_options(p)) {
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
        error.save(c, "error/");
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
        error.restore(c, "error/");
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
    if (run.error.enabled())
        rec.extra["ck/energy_error"] = nd_array<double>{{run.error.error().size()}, run.error.error()};
    return rec;
}

template <class Dynamics>
record run_with(Dynamics& dyn, const ck_system& sys, const ck_parameters& p, const run_hooks& hooks,
                const run_control& control) {
    ck_progress run(dyn.initial_state(sys), sys, p);
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
    integrate(dyn, sys, run.x, run.rs, last, schedule::linear(last, 1), h, run.scalars, run.aging, run.error);
    if (end.stopped() && !control.checkpoint_path.empty()) save();
    return ck_record(p, run, end);
}

} // namespace

ck_scheme parse_ck_scheme(const std::string& name) {
    if (name == "decimation") return ck_scheme::decimation;
    if (name == "reference") return ck_scheme::reference;
    throw field_error("scheme", "must be 'decimation' or 'reference' (got '" + name + "')");
}

std::string to_string(ck_scheme scheme) { return scheme == ck_scheme::reference ? "reference" : "decimation"; }

namespace {

// ck_mixture::parse with its error as a field_error of "mix" (its message starts "mix: ").
ck_mixture parse_mix(const std::string& text) {
    try {
        return ck_mixture::parse(text);
    } catch (const parameter_error& e) {
        const std::string what = e.what();
        throw field_error("mix", what.rfind("mix: ", 0) == 0 ? what.substr(5) : what);
    }
}

// The pure p-spin of the text of an integer p (the --p flag); field_error "p" for p < 2.
ck_mixture pure_mix(const std::string& text) {
    const int p = std::stoi(text);
    if (p < 2) throw field_error("p", "must be >= 2 (got " + text + ")");
    return ck_mixture::pure(p);
}

} // namespace

const field_table<ck_parameters>& ck_parameters_fields() {
    using P = ck_parameters;
    using nlohmann::json;
    static const field_table<P> table = {
        {"/mix", "--mix", "ck: mixed model f(q) = sum c_p q^p / 2 as p:c,... (default: pure p)",
         choice_member<P>{[](const P& p) { return p.mix.str(); },
                          [](P& p, const std::string& s) { p.mix = parse_mix(s); }},
         false},
        // After /mix: --p sets a pure model. Written from mix (null for a mixture), never read
        // back (mix is).
        {"/p",
         "--p",
         "",
         choice_member<P>{[](const P& p) { return std::to_string(p.mix.pure_p()); },
                          [](P& p, const std::string& s) { p.mix = pure_mix(s); }},
         false,
         {},
         [](const P& p) { return p.mix.pure_p() > 0 ? json(p.mix.pure_p()) : json(nullptr); },
         [](P&, const json&) {}},
        {"/T", "--T", "", &P::T},
        {"/T0",
         "--T0",
         "ck: initial temperature (default infinity)",
         &P::T0,
         false,
         {},
         [](const P& p) { return std::isinf(p.T0) ? json("infinity") : json(p.T0); },
         [](P& p, const json& j) { p.T0 = j.is_string() ? std::numeric_limits<double>::infinity() : j.get<double>(); }},
        {"/tmax", "--tmax", "", &P::tmax},
        {"/scheme", "--scheme", "ck: decimation (long times) or reference (uniform grid, short times)",
         choice_member<P>{[](const P& p) { return to_string(p.scheme); },
                          [](P& p, const std::string& s) { p.scheme = parse_ck_scheme(s); }}},
        {"/dt", "--dt", "", &P::dt, true, {}, [](const P& p) { return json(step_used(p)); }},
        {"/grid", "--grid", "ck decimation: grid points per time (accuracy; see docs/physics.md)", &P::grid},
        {"/copied", "", "", &P::copied},
        {"/tolerance", "", "", &P::tolerance},
        {"/max_iterations", "", "", &P::max_iterations},
        {"/tw_per_decade", "", "", &P::tw_per_decade},
        {"/lags_per_decade", "--per-decade", "", &P::lags_per_decade},
        {"/output_points", "", "", &P::output_points},
        // Always written, but a checkpoint's configuration leaves it out: reading back keeps 0.
        {"/threads", "", "", &P::threads, true, [](const P&) { return true; }},
    };
    return table;
}

std::int64_t ck_steps(const ck_parameters& p) {
    validate(p);
    if (p.scheme == ck_scheme::reference) return ck_reference(step_used(p)).steps_to(p.tmax);
    return ck_decimation(decimation_options(p)).steps_to(p.tmax);
}

void validate(const ck_parameters& p) {
    if (!std::isfinite(p.T) || p.T < 0.0) throw field_error("T", "must be finite and >= 0");
    if (std::isnan(p.T0) || p.T0 <= 0.0) throw field_error("T0", "must be > 0 (or infinity)");
    (void)ck_system(p.mix, p.T, p.T0); // T0 above T_d (the message gives T_d)
    if (!std::isfinite(p.tmax) || p.tmax <= 0.0) throw field_error("tmax", "must be finite and > 0");
    if (!std::isfinite(p.dt) || p.dt < 0.0) throw field_error("dt", "must be >= 0 (0 = default)");
    if (p.grid < 16 || p.grid % 2 != 0) throw field_error("grid", "must be even and >= 16");
    if (p.copied < 2 || p.copied > p.grid / 8) throw field_error("copied", "must be in [2, grid/8]");
    if (!(p.tolerance > 0.0)) throw field_error("tolerance", "must be > 0");
    if (p.max_iterations < 1) throw field_error("max_iterations", "must be >= 1");
    if (p.tw_per_decade < 1) throw field_error("tw_per_decade", "must be >= 1");
    if (p.lags_per_decade < 1) throw field_error("lags_per_decade", "must be >= 1");
    if (p.output_points < 2) throw field_error("output_points", "must be >= 2");
    if (p.threads < 0) throw field_error("threads", "must be >= 0");
    if (p.scheme == ck_scheme::reference && p.tmax / step_used(p) > 5000.0)
        throw parameter_error("reference scheme: tmax/dt > 5000 (memory and time grow like (tmax/dt)^2 and ^3); use "
                              "the decimation scheme");
}

nlohmann::json to_json(const ck_parameters& p) {
    nlohmann::json j;
    j["num_parameters"] = "infinity";
    j["N"] = "infinity";
    write_fields(ck_parameters_fields(), p, j);
    return j;
}

bool is_ck_checkpoint(const checkpoint& c) {
    const auto it = c.strings.find("kind");
    return c.tool == "pspin_quench" && it != c.strings.end() && it->second == "ck";
}

ck_parameters ck_parameters_from_checkpoint(const checkpoint& c) {
    if (!is_ck_checkpoint(c)) throw record_error("not a checkpoint of pspin_quench --method ck");
    try {
        ck_parameters p;
        read_fields(ck_parameters_fields(), nlohmann::json::parse(c.config), p);
        return p;
    } catch (const nlohmann::json::exception& e) {
        throw record_error(std::string("checkpoint: bad CK configuration (") + e.what() + ")");
    } catch (const parameter_error& e) {
        throw record_error(std::string("checkpoint: bad CK configuration (") + e.what() + ")");
    }
}

record run_ck(const ck_parameters& p, const run_hooks& hooks) { return run_ck(p, hooks, run_control{}); }

record run_ck(const ck_parameters& p, const run_hooks& hooks, const run_control& control) {
    validate(p);
    const ck_system sys(p.mix, p.T, p.T0);
    if (p.scheme == ck_scheme::reference) {
        ck_reference dyn(step_used(p));
        return run_with(dyn, sys, p, hooks, control);
    }
    ck_decimation dyn(decimation_options(p));
    return run_with(dyn, sys, p, hooks, control);
}

} // namespace glassy
