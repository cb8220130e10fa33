#include "physics/ck_run.hpp"

#include "dynamics/error.hpp"
#include "dynamics/recorders.hpp"
#include "dynamics/schedule.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

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
        : m_tw(std::move(tw)), m_lags(std::move(lags)), m_tmax(tmax),
          m_delta(row_matrix::Constant(static_cast<Eigen::Index>(m_tw.size()),
                                       static_cast<Eigen::Index>(m_lags.size()), nan_v)) {}

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

private:
    std::vector<double> m_tw, m_lags;
    double m_tmax;
    row_matrix m_delta;
    double m_last = 0.0;
};

template <class Dynamics>
record run_with(Dynamics& dyn, const ck_system& sys, const ck_parameters& p, const run_hooks& hooks) {
    ck_state x = dyn.initial_state(sys);
    const std::int64_t last = dyn.steps_to(p.tmax);
    scalar_recorder<ck_system> scalars;
    scalars.add("energy", [](const ck_system&, const ck_state& s) { return s.energy.back(); });
    scalars.add("mu", [](const ck_system&, const ck_state& s) { return s.mu.back(); });
    const auto tw = log_points(1.0, p.tmax / 2.0, p.tw_per_decade);
    const auto lags = log_points(0.1, p.tmax, p.lags_per_decade);
    ck_aging_observer aging(tw, lags, p.tmax);
    run_hooks h = hooks;
    if (h.progress && h.progress_every == 0) h.progress_every = std::max<std::int64_t>(1, last / 200);
    run_state rs;
    const bool done = integrate(dyn, sys, x, rs, last, schedule::linear(last, 1), h, scalars, aging);

    record rec;
    rec.system = "pspin";
    rec.method = "ck";
    rec.parameters = to_json(p);
    rec.complete = done;
    rec.time = scalars.times();
    rec.energy = scalars.values("energy");
    rec.observables["mu"] = scalars.values("mu");
    rec.aging.tw = tw;
    rec.aging.t = lags;
    rec.aging.delta = aging.delta();
    rec.aging.noise.assign(tw.size(), p.T);

    // The final grid, thinned to at most output_points + 1 times.
    const std::int64_t n = x.n;
    const std::int64_t stride = std::max<std::int64_t>(1, (n + p.output_points - 1) / p.output_points);
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
    return rec;
}

} // namespace

void validate(const ck_parameters& p) {
    (void)ck_mixture::parse(p.mix);
    if (!std::isfinite(p.T) || p.T < 0.0) throw parameter_error("T must be finite and >= 0");
    if (std::isnan(p.T0) || p.T0 <= 0.0) throw parameter_error("T0 must be > 0 (or infinity)");
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
            throw parameter_error("reference scheme: tmax/dt > 5000 (memory and time grow like (tmax/dt)^2 and ^3); use the decimation scheme");
    }
}

nlohmann::json to_json(const ck_parameters& p) {
    const ck_mixture mix = ck_mixture::parse(p.mix);
    nlohmann::json j;
    j["num_parameters"] = "infinity";
    j["N"] = "infinity";
    j["mix"] = mix.str();
    if (mix.pure_p() > 0) j["p"] = mix.pure_p(); else j["p"] = nullptr;
    j["T"] = p.T;
    if (std::isinf(p.T0)) j["T0"] = "infinity"; else j["T0"] = p.T0;
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

record run_ck(const ck_parameters& p, const run_hooks& hooks) {
    validate(p);
    if (p.threads > 0) omp_set_num_threads(p.threads);
    const ck_system sys(ck_mixture::parse(p.mix), p.T, p.T0);
    if (p.scheme == "reference") {
        ck_reference dyn(p.dt > 0.0 ? p.dt : 0.02);
        return run_with(dyn, sys, p, hooks);
    }
    ck_decimation_options opt;
    opt.grid = p.grid;
    opt.copied = p.copied;
    opt.h0 = p.dt > 0.0 ? p.dt : 1e-4;
    opt.tolerance = p.tolerance;
    opt.max_iterations = p.max_iterations;
    ck_decimation dyn(opt);
    return run_with(dyn, sys, p, hooks);
}

} // namespace glassy
