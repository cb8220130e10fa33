#include "physics/quench.hpp"

#include "dynamics/error.hpp"
#include "dynamics/recorders.hpp"
#include "physics/dynamics.hpp"
#include "physics/pspin.hpp"

#include <cmath>
#include <limits>
#include <variant>

namespace glassy {
namespace {

std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

enum stream : std::uint64_t { couplings = 1, initial = 2, noise = 3 };

struct sample_result {
    std::vector<double> time, energy, mu, acceptance;
    row_matrix delta;
    bool finished = false;
};

double step_dt(const pspin_quench_parameters& par) { return par.method == "metropolis" ? 1.0 : par.dt; }

std::int64_t to_steps(double t, double dt) { return static_cast<std::int64_t>(std::llround(t / dt)); }

} // namespace

std::uint64_t derive_seed(std::uint64_t master, std::uint64_t s, std::uint64_t index) noexcept {
    return splitmix64(splitmix64(master ^ splitmix64(s)) + index);
}

void validate(const pspin_quench_parameters& par) {
    if (par.p < 2) throw parameter_error("--p must be >= 2 (got " + std::to_string(par.p) + ")");
    if (par.n < par.p) throw parameter_error("--N must be >= p (got N = " + std::to_string(par.n) + ", p = " + std::to_string(par.p) + ")");
    if (!(par.temperature >= 0) || !std::isfinite(par.temperature)) throw parameter_error("--T must be a finite number >= 0");
    if (par.method != "langevin" && par.method != "heun" && par.method != "metropolis")
        throw parameter_error("unknown --method '" + par.method + "' (expected langevin, heun, metropolis or ck)");
    if (!(par.dt > 0) || !std::isfinite(par.dt)) throw parameter_error("--dt must be > 0");
    if (!(par.tmax > 0) || !std::isfinite(par.tmax)) throw parameter_error("--tmax must be > 0");
    if (par.tmax < step_dt(par)) throw parameter_error("--tmax must be at least one step (dt)");
    if (par.samples < 1) throw parameter_error("--samples must be >= 1");
    if (par.per_decade < 1) throw parameter_error("--per-decade must be >= 1");
    for (double t : par.tw)
        if (!(t >= 0) || t > par.tmax) throw parameter_error("--tw values must lie in [0, tmax]");
    if (!(par.theta_max > 0) || par.theta_max > 3.14159265358979) throw parameter_error("--theta-max must be in (0, pi]");
    const double couplings = static_cast<double>(binomial(static_cast<std::uint64_t>(par.n), static_cast<std::uint64_t>(par.p)));
    if (couplings * 8.0 > 64.0 * 1024 * 1024 * 1024)
        throw parameter_error("couplings for N = " + std::to_string(par.n) + ", p = " + std::to_string(par.p) + " need more than 64 GiB");
}

nlohmann::json to_json(const pspin_quench_parameters& par) {
    return {{"p", par.p}, {"N", par.n}, {"num_parameters", par.n}, {"T", par.temperature},
            {"method", par.method}, {"dt", step_dt(par)}, {"tmax", par.tmax}, {"samples", par.samples},
            {"seed", par.seed}, {"tw", par.tw}, {"per_decade", par.per_decade},
            {"theta_max", par.theta_max}, {"initial_condition", "uniform on the sphere (T = infinity)"},
            {"time_unit", par.method == "metropolis" ? "sweeps" : "Langevin time"}};
}

std::vector<std::int64_t> waiting_steps(const pspin_quench_parameters& par) {
    const double dt = step_dt(par);
    std::vector<std::int64_t> out;
    if (!par.tw.empty()) {
        for (double t : par.tw) out.push_back(to_steps(t, dt));
    } else {
        for (double t = 1.0; t <= par.tmax / 2; t *= std::sqrt(10.0)) {
            const double rounded = std::round(t * 10) / 10; // 1, 3.2, 10, 31.6, ...
            if (to_steps(rounded, dt) >= 1) out.push_back(to_steps(rounded, dt));
        }
        if (out.empty()) out.push_back(0);
    }
    return schedule(out).steps();
}

record run_pspin_quench(const pspin_quench_parameters& par, const run_hooks& hooks) {
    validate(par);
    const double dt = step_dt(par);
    const std::int64_t last = std::max<std::int64_t>(1, to_steps(par.tmax, dt));
    const auto tw = waiting_steps(par);
    // Lags: 0 and log-spaced from one step to the end of the run.
    std::vector<std::int64_t> lags = schedule::log_spaced(1, last, par.per_decade, true).steps();
    const schedule energy_sched = schedule::log_spaced(1, last, par.per_decade, true);

    record rec;
    rec.system = "pspin";
    rec.method = par.method;
    rec.parameters = to_json(par);
    std::vector<sample_result> results;
    const std::int64_t total = last * par.samples;
    bool stopped = false;

    for (int s = 0; s < par.samples && !stopped; ++s) {
        const pspin_model model(par.n, par.p, derive_seed(par.seed, couplings, static_cast<std::uint64_t>(s)));
        std::mt19937_64 init_rng(derive_seed(par.seed, initial, static_cast<std::uint64_t>(s)));
        Eigen::VectorXd sigma = model.random_configuration(init_rng);
        const double n = par.n;

        scalar_recorder<pspin_model> scalars;
        scalars.add("energy", [n](const pspin_model& m, const Eigen::VectorXd& x) { return m.energy(x) / n; });
        two_time_recorder<Eigen::VectorXd> two_time(tw, lags);
        const schedule sched = energy_sched.merged(two_time.required_steps()).truncated(last);

        run_hooks inner;
        inner.progress_every = hooks.progress_every;
        if (hooks.progress) inner.progress = [&](std::int64_t step, std::int64_t) { hooks.progress(s * last + step, total); };
        inner.stop = [&](std::int64_t step) {
            const auto& e = scalars.values("energy");
            if (!e.empty() && !std::isfinite(e.back()))
                throw divergence_error("energy became non-finite at t = " + std::to_string(static_cast<double>(step) * dt) +
                                       " (sample " + std::to_string(s) + "): dt = " + std::to_string(dt) + " is likely too large");
            return hooks.stop && hooks.stop(step);
        };
        run_state rs;
        bool finished = false;
        std::vector<double> acceptance;
        if (par.method == "metropolis") {
            metropolis_dynamics dyn(par.temperature, par.theta_max, derive_seed(par.seed, noise, static_cast<std::uint64_t>(s)));
            auto acc = [&](const pspin_model&, const Eigen::VectorXd&, std::int64_t, double) { acceptance.push_back(dyn.acceptance()); };
            finished = integrate(dyn, model, sigma, rs, last, sched, inner, scalars, two_time, acc);
        } else {
            langevin_dynamics dyn(par.temperature, dt,
                                  par.method == "heun" ? langevin_dynamics::scheme::heun : langevin_dynamics::scheme::euler,
                                  derive_seed(par.seed, noise, static_cast<std::uint64_t>(s)));
            finished = integrate(dyn, model, sigma, rs, last, sched, inner, scalars, two_time);
        }
        sample_result r;
        r.time = scalars.times();
        r.energy = scalars.values("energy");
        r.acceptance = std::move(acceptance);
        for (double e : r.energy) r.mu.push_back(par.temperature - par.p * e);
        r.delta = two_time.delta();
        r.finished = finished;
        if (!finished) {
            stopped = true;
            if (!results.empty()) break; // keep only whole samples when some exist
        }
        results.push_back(std::move(r));
    }

    const auto& first = results.front();
    const std::size_t nt = first.time.size();
    rec.complete = !stopped;
    rec.parameters["samples_completed"] = results.size();
    rec.time = first.time;
    rec.energy.assign(nt, 0.0);
    std::vector<double> mu(nt, 0.0), acc(nt, 0.0);
    for (const auto& r : results)
        for (std::size_t k = 0; k < nt; ++k) {
            rec.energy[k] += r.energy[k] / static_cast<double>(results.size());
            mu[k] += r.mu[k] / static_cast<double>(results.size());
            if (!r.acceptance.empty()) acc[k] += r.acceptance[k] / static_cast<double>(results.size());
        }
    if (par.method == "metropolis") rec.observables["acceptance"] = acc;
    else rec.observables["mu"] = mu;
    if (results.size() > 1) {
        rec.energy_samples.resize(static_cast<Eigen::Index>(results.size()), static_cast<Eigen::Index>(nt));
        for (std::size_t s = 0; s < results.size(); ++s)
            for (std::size_t k = 0; k < nt; ++k) rec.energy_samples(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(k)) = results[s].energy[k];
    }
    std::vector<row_matrix> deltas;
    for (const auto& r : results) deltas.push_back(r.delta);
    rec.aging.delta = mean_of(deltas);
    if (deltas.size() > 1) rec.aging.delta_samples = std::move(deltas);
    for (auto w : tw) rec.aging.tw.push_back(static_cast<double>(w) * dt);
    for (auto l : lags) rec.aging.t.push_back(static_cast<double>(l) * dt);
    rec.aging.noise.assign(tw.size(), par.temperature);
    return rec;
}

} // namespace glassy
