#include "physics/quench.hpp"

#include "dynamics/error.hpp"
#include "dynamics/recorders.hpp"
#include "physics/dynamics.hpp"
#include "physics/pspin.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>

namespace glassy {
namespace {

std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

enum stream : std::uint64_t { couplings = 1, initial = 2, noise = 3 };

// What one sample measured.
struct sample_result {
    std::vector<double> time, energy, acceptance;
    row_matrix delta;
};

double step_dt(const pspin_quench_parameters& par) { return par.method == "metropolis" ? 1.0 : par.dt; }

std::int64_t to_steps(double t, double dt) { return static_cast<std::int64_t>(std::llround(t / dt)); }

nd_array<double> as_array(const row_matrix& m) {
    return {{static_cast<std::uint64_t>(m.rows()), static_cast<std::uint64_t>(m.cols())},
            std::vector<double>(m.data(), m.data() + m.size())};
}

row_matrix as_matrix(const nd_array<double>& a) {
    if (a.shape.size() != 2) throw record_error("checkpoint: a table is not two-dimensional");
    row_matrix m(static_cast<Eigen::Index>(a.shape[0]), static_cast<Eigen::Index>(a.shape[1]));
    std::copy(a.data.begin(), a.data.end(), m.data());
    return m;
}

const nd_array<double>& array_of(const checkpoint& c, const std::string& key) {
    const auto it = c.arrays.find(key);
    if (it == c.arrays.end()) throw record_error("checkpoint: entry '" + key + "' missing");
    return it->second;
}

void save_result(checkpoint& c, const std::string& prefix, const sample_result& r) {
    c.put(prefix + "time", r.time);
    c.put(prefix + "energy", r.energy);
    c.put(prefix + "acceptance", r.acceptance);
    c.arrays[prefix + "delta"] = as_array(r.delta);
}

sample_result load_result(const checkpoint& c, const std::string& prefix) {
    sample_result r;
    r.time = c.vector(prefix + "time");
    r.energy = c.vector(prefix + "energy");
    r.acceptance = c.vector(prefix + "acceptance");
    r.delta = as_matrix(array_of(c, prefix + "delta"));
    return r;
}

// The record of the samples measured so far.
record assemble(const pspin_quench_parameters& par, const std::vector<sample_result>& results,
                const std::vector<std::int64_t>& tw, const std::vector<std::int64_t>& lags) {
    const double dt = step_dt(par);
    record rec;
    rec.system = "pspin";
    rec.method = par.method;
    rec.parameters = to_json(par);
    rec.parameters["samples_completed"] = results.size();
    for (auto w : tw) rec.aging.tw.push_back(static_cast<double>(w) * dt);
    for (auto l : lags) rec.aging.t.push_back(static_cast<double>(l) * dt);
    rec.aging.noise.assign(tw.size(), par.temperature);
    if (results.empty()) {
        rec.aging.delta = row_matrix::Constant(static_cast<Eigen::Index>(tw.size()), static_cast<Eigen::Index>(lags.size()),
                                               std::numeric_limits<double>::quiet_NaN());
        return rec;
    }
    const auto ns = static_cast<double>(results.size());
    const std::size_t nt = results.front().time.size();
    rec.time = results.front().time;
    rec.energy.assign(nt, 0.0);
    std::vector<double> acc(nt, 0.0);
    for (const auto& r : results)
        for (std::size_t k = 0; k < nt; ++k) {
            rec.energy[k] += r.energy[k] / ns;
            if (!r.acceptance.empty()) acc[k] += r.acceptance[k] / ns;
        }
    if (par.method == "metropolis") {
        rec.observables["acceptance"] = acc;
    } else {
        std::vector<double> mu(nt);
        for (std::size_t k = 0; k < nt; ++k) mu[k] = par.temperature - par.p * rec.energy[k];
        rec.observables["mu"] = mu;
    }
    if (results.size() > 1) {
        rec.energy_samples.resize(static_cast<Eigen::Index>(results.size()), static_cast<Eigen::Index>(nt));
        for (std::size_t s = 0; s < results.size(); ++s)
            for (std::size_t k = 0; k < nt; ++k)
                rec.energy_samples(static_cast<Eigen::Index>(s), static_cast<Eigen::Index>(k)) = results[s].energy[k];
    }
    std::vector<row_matrix> deltas;
    for (const auto& r : results) deltas.push_back(r.delta);
    rec.aging.delta = mean_of(deltas);
    if (deltas.size() > 1) rec.aging.delta_samples = std::move(deltas);
    return rec;
}

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
}

nlohmann::json to_json(const pspin_quench_parameters& par) {
    return {{"p", par.p}, {"N", par.n}, {"num_parameters", par.n}, {"T", par.temperature},
            {"method", par.method}, {"dt", step_dt(par)}, {"tmax", par.tmax}, {"samples", par.samples},
            {"seed", par.seed}, {"tw", par.tw}, {"per_decade", par.per_decade},
            {"theta_max", par.theta_max}, {"initial_condition", "uniform on the sphere (T = infinity)"},
            {"time_unit", par.method == "metropolis" ? "sweeps" : "Langevin time"}};
}

pspin_quench_parameters parameters_from_checkpoint(const checkpoint& c) {
    if (c.tool != "pspin_quench") throw record_error("checkpoint was written by " + c.tool + ", not pspin_quench");
    try {
        const auto j = nlohmann::json::parse(c.config);
        pspin_quench_parameters par;
        par.p = j.at("p");
        par.n = j.at("N");
        par.temperature = j.at("T");
        par.method = j.at("method");
        par.dt = j.at("dt");
        par.tmax = j.at("tmax");
        par.samples = j.at("samples");
        par.seed = j.at("seed");
        par.tw = j.at("tw").get<std::vector<double>>();
        par.per_decade = j.at("per_decade");
        par.theta_max = j.at("theta_max");
        return par;
    } catch (const nlohmann::json::exception& e) {
        throw record_error(std::string("checkpoint: bad configuration (") + e.what() + ")");
    }
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

record run_pspin_quench(const pspin_quench_parameters& par, const run_hooks& hooks, const quench_control& control) {
    validate(par);
    const double dt = step_dt(par);
    const std::int64_t last = std::max<std::int64_t>(1, to_steps(par.tmax, dt));
    const auto tw = waiting_steps(par);
    const std::vector<std::int64_t> lags = schedule::log_spaced(1, last, par.per_decade, true).steps();
    const schedule energy_sched = schedule::log_spaced(1, last, par.per_decade, true);
    const std::int64_t total = last * par.samples;
    const std::string config = to_json(par).dump();

    std::vector<sample_result> results;
    int first_sample = 0;
    if (control.resume) {
        if (control.resume->tool != "pspin_quench" || control.resume->config != config)
            throw record_error("checkpoint is from a different configuration than this run");
        first_sample = static_cast<int>(control.resume->integer("sample"));
        if (first_sample < 0 || first_sample > par.samples) throw record_error("checkpoint: bad sample index");
        for (int s = 0; s < first_sample; ++s) results.push_back(load_result(*control.resume, "done/" + std::to_string(s) + "/"));
    }

    std::string stop_reason;
    using clock = std::chrono::steady_clock;
    auto last_checkpoint = clock::now();

    for (int s = first_sample; s < par.samples && stop_reason.empty(); ++s) {
        const auto us = static_cast<std::uint64_t>(s);
        const pspin_model model(par.n, par.p, derive_seed(par.seed, couplings, us));
        std::mt19937_64 init_rng(derive_seed(par.seed, initial, us));
        Eigen::VectorXd sigma = model.random_configuration(init_rng);
        const double n = par.n;

        scalar_recorder<pspin_model> scalars;
        scalars.add("energy", [n](const pspin_model& m, const Eigen::VectorXd& x) { return m.energy(x) / n; });
        two_time_recorder<Eigen::VectorXd> two_time(tw, lags);
        const schedule sched = energy_sched.merged(two_time.required_steps()).truncated(last);
        std::vector<double> acceptance;
        std::optional<langevin_dynamics> langevin;
        std::optional<metropolis_dynamics> metropolis;
        if (par.method == "metropolis")
            metropolis.emplace(par.temperature, par.theta_max, derive_seed(par.seed, noise, us));
        else
            langevin.emplace(par.temperature, dt,
                             par.method == "heun" ? langevin_dynamics::scheme::heun : langevin_dynamics::scheme::euler,
                             derive_seed(par.seed, noise, us));
        run_state rs;

        if (control.resume && s == first_sample && control.resume->integers.count("step")) {
            const checkpoint& c = *control.resume;
            rs.step = c.integer("step");
            const auto x = c.vector("sigma");
            if (static_cast<int>(x.size()) != par.n) throw record_error("checkpoint: spin vector has the wrong size");
            sigma = Eigen::Map<const Eigen::VectorXd>(x.data(), par.n);
            if (langevin) langevin->restore(c.string("rng"));
            else metropolis->restore(c.string("rng"));
            const auto steps_d = c.vector("scalars/step");
            scalars.restore(std::vector<std::int64_t>(steps_d.begin(), steps_d.end()), c.vector("scalars/time"),
                            {c.vector("scalars/energy")});
            acceptance = c.vector("acceptance");
            std::vector<std::optional<Eigen::VectorXd>> snaps(tw.size());
            for (std::size_t i = 0; i < tw.size(); ++i) {
                const auto it = c.arrays.find("snapshot/" + std::to_string(i));
                if (it != c.arrays.end()) snaps[i] = Eigen::Map<const Eigen::VectorXd>(it->second.data.data(), par.n);
            }
            two_time.restore(as_matrix(array_of(c, "delta")), std::move(snaps));
        }

        auto current = [&] {
            sample_result r;
            r.time = scalars.times();
            r.energy = scalars.values("energy");
            r.acceptance = acceptance;
            r.delta = two_time.delta();
            return r;
        };
        auto save = [&] {
            checkpoint c;
            c.tool = "pspin_quench";
            c.config = config;
            c.integers["sample"] = s;
            for (std::size_t k = 0; k < results.size(); ++k) save_result(c, "done/" + std::to_string(k) + "/", results[k]);
            c.integers["step"] = rs.step;
            c.put("sigma", std::vector<double>(sigma.data(), sigma.data() + sigma.size()));
            c.strings["rng"] = langevin ? langevin->state() : metropolis->state();
            c.put("scalars/step", std::vector<double>(scalars.steps().begin(), scalars.steps().end()));
            c.put("scalars/time", scalars.times());
            c.put("scalars/energy", scalars.values("energy"));
            c.put("acceptance", acceptance);
            c.arrays["delta"] = as_array(two_time.delta());
            for (std::size_t i = 0; i < tw.size(); ++i)
                if (const auto& snap = two_time.snapshots()[i])
                    c.put("snapshot/" + std::to_string(i), std::vector<double>(snap->data(), snap->data() + snap->size()));
            write_checkpoint(c, control.checkpoint_path);
            last_checkpoint = clock::now();
        };

        run_hooks inner;
        inner.progress_every = hooks.progress_every;
        if (hooks.progress) inner.progress = [&](std::int64_t step, std::int64_t) { hooks.progress(s * last + step, total); };
        inner.between_steps = [&](std::int64_t step) {
            if (control.checkpoint_path.empty()) return;
            const bool by_steps = control.checkpoint_every_steps > 0 && step % control.checkpoint_every_steps == 0;
            const bool by_time = control.checkpoint_every_seconds > 0 &&
                                 std::chrono::duration<double>(clock::now() - last_checkpoint).count() >= control.checkpoint_every_seconds;
            if (by_steps || by_time) save();
        };
        inner.stop = [&](std::int64_t step) {
            if (hooks.stop && hooks.stop(step)) {
                stop_reason = "interrupted at t = " + std::to_string(static_cast<double>(step) * dt) + " of sample " + std::to_string(s);
                return true;
            }
            return false;
        };
        // Divergence: checked where the energy is measured; everything measured before is kept.
        auto guard = [&](const pspin_model&, const Eigen::VectorXd&, std::int64_t step, double t) {
            if (!std::isfinite(scalars.values("energy").back())) {
                stop_reason = "diverged at t = " + std::to_string(t) + " (step " + std::to_string(step) + ", sample " +
                              std::to_string(s) + "): the energy is not finite; dt = " + std::to_string(dt) + " is likely too large";
                throw divergence_error(stop_reason);
            }
        };
        bool finished = false;
        try {
            if (metropolis) {
                auto acc = [&](const pspin_model&, const Eigen::VectorXd&, std::int64_t, double) { acceptance.push_back(metropolis->acceptance()); };
                finished = integrate(*metropolis, model, sigma, rs, last, sched, inner, scalars, guard, two_time, acc);
            } else {
                finished = integrate(*langevin, model, sigma, rs, last, sched, inner, scalars, guard, two_time);
            }
        } catch (const divergence_error&) {
            finished = false;
        }
        if (finished) {
            results.push_back(current());
            continue;
        }
        if (!stop_reason.empty() && stop_reason.rfind("interrupted", 0) == 0 && !control.checkpoint_path.empty()) save();
        if (results.empty()) { // keep the measured part of a lone first sample
            auto r = current();
            r.time.resize(r.energy.size());
            results.push_back(std::move(r));
        }
    }

    record rec = assemble(par, results, tw, lags);
    rec.complete = stop_reason.empty();
    if (!rec.complete) rec.parameters["stop_reason"] = stop_reason;
    return rec;
}

} // namespace glassy
