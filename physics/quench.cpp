#include "physics/quench.hpp"

#include "dynamics/error.hpp"
#include "dynamics/recorders.hpp"
#include "physics/pspin.hpp"
#include "physics/steppers.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>
#include <variant>

namespace glassy {
namespace {

std::uint64_t splitmix64(std::uint64_t x) noexcept {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

enum stream : std::uint64_t { couplings = 1, initial = 2, noise = 3, replica = 4 };

// Seed of replica r from the seed replica 0 uses (r = 0: unchanged, so R = 1 is the plain run).
std::uint64_t replica_seed(std::uint64_t base, int r) {
    return r == 0 ? base : derive_seed(base, replica, static_cast<std::uint64_t>(r));
}

// Checkpoint key of a per-replica entry: replica 0 keeps the single-replica names.
std::string rkey(int r, const std::string& name) {
    return r == 0 ? name : "replica/" + std::to_string(r) + "/" + name;
}

// R replicas of one disorder sample: the system the steppers and observers see.
using replica_system = replicas<pspin_model>;
using replica_state = replica_system::state_type;

// The stepper --method names, over the R replicas of one sample (one noise stream per seed).
class quench_stepper {
public:
    quench_stepper(const pspin_quench_parameters& par, double dt, const std::vector<std::uint64_t>& seeds)
        : m_stepper(make(par, dt, seeds)) {}
    [[nodiscard]] double dt() const {
        return std::visit([](const auto& d) { return d.dt(); }, m_stepper);
    }
    // Acceptance of replica r (Metropolis only).
    [[nodiscard]] double acceptance(std::size_t r) const { return std::get<metropolis_dynamics>(m_stepper).acceptance(r); }
    [[nodiscard]] std::string state(std::size_t r) const {
        return std::visit([r](const auto& d) { return d.state(r); }, m_stepper);
    }
    void restore(std::size_t r, const std::string& text) {
        std::visit([&](auto& d) { d.restore(r, text); }, m_stepper);
    }
    void step(const replica_system& sys, replica_state& x) {
        std::visit([&](auto& d) { d.step(sys, x); }, m_stepper);
    }

private:
    using variant = std::variant<langevin_dynamics, metropolis_dynamics>;
    static variant make(const pspin_quench_parameters& par, double dt, const std::vector<std::uint64_t>& seeds) {
        if (par.method == quench_method::metropolis) return metropolis_dynamics(par.temperature, par.theta_max, seeds);
        const auto s = par.method == quench_method::heun ? langevin_dynamics::scheme::heun : langevin_dynamics::scheme::euler;
        return langevin_dynamics(par.temperature, dt, s, seeds);
    }
    variant m_stepper;
};

// Name of the energy series of replica r in the scalar recorder.
std::string energy_name(std::size_t r) { return "energy/" + std::to_string(r); }

// The recorder of the energy per spin of every replica (one batched gradient per call).
scalar_recorder<replica_system> energy_recorder(std::size_t replicas) {
    std::vector<std::string> names;
    for (std::size_t r = 0; r < replicas; ++r) names.push_back(energy_name(r));
    scalar_recorder<replica_system> rec;
    rec.add(std::move(names), [](const replica_system& sys, const replica_state& x) {
        const Eigen::VectorXd e = replica_energies(sys, x) / static_cast<double>(sys.model->size());
        return std::vector<double>(e.data(), e.data() + e.size());
    });
    return rec;
}

// What one sample measured.
struct sample_result {
    std::vector<double> time, energy, acceptance;
    row_matrix delta;
};

double step_dt(const pspin_quench_parameters& par) { return par.method == quench_method::metropolis ? 1.0 : par.dt; }

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
    rec.method = to_string(par.method);
    rec.parameters = to_json(par);
    rec.parameters["samples_completed"] = results.size() / static_cast<std::size_t>(par.replicas);
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
    if (par.method == quench_method::metropolis) {
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

quench_method parse_quench_method(const std::string& name) {
    if (name == "langevin") return quench_method::langevin;
    if (name == "heun") return quench_method::heun;
    if (name == "metropolis") return quench_method::metropolis;
    throw field_error("method", "must be langevin, heun or metropolis, or ck for N = infinity (got '" + name + "')");
}

std::string to_string(quench_method method) {
    switch (method) {
    case quench_method::heun: return "heun";
    case quench_method::metropolis: return "metropolis";
    case quench_method::langevin: break;
    }
    return "langevin";
}

const field_table<pspin_quench_parameters>& pspin_quench_fields() {
    using P = pspin_quench_parameters;
    static const field_table<P> table = {
        {"/p", "--p", "interaction order p (>= 2)", &P::p},
        {"/N", "--N", "number of spins N (>= p)", &P::n},
        {"/T", "--T", "temperature after the quench (>= 0)", &P::temperature},
        {"/method", "--method", "langevin (Euler–Maruyama), heun (stochastic RK2), metropolis, ck (N = infinity)",
         choice_member<P>{[](const P& p) { return to_string(p.method); }, [](P& p, const std::string& s) { p.method = parse_quench_method(s); }}},
        {"/dt", "--dt", "Langevin time step (> 0); Metropolis counts sweeps", &P::dt, true, {},
         [](const P& p) { return nlohmann::json(step_dt(p)); }, [](P& p, const nlohmann::json& j) { j.get_to(p.dt); }},
        {"/tmax", "--tmax", "duration of the run (Langevin time or sweeps)", &P::tmax},
        {"/samples", "--samples", "independent disorder samples and initial conditions", &P::samples},
        // Absent for 1: records as before replicas existed.
        {"/replicas", "--replicas", "replicas per disorder sample, run as one batch (each counts as a sample in the record)",
         &P::replicas, true, [](const P& p) { return p.replicas != 1; }},
        // Likewise, absent for float64.
        {"/couplings", "--couplings", "coupling storage: float64, or float32 (half the memory; sums in double)",
         choice_member<P>{[](const P& p) { return to_string(p.couplings); },
                          [](P& p, const std::string& s) { p.couplings = parse_coupling_precision(s); }},
         true, [](const P& p) { return p.couplings != coupling_precision::float64; }},
        {"/seed", "--seed", "master random seed", &P::seed},
        {"/tw", "--tw", "waiting times t_w (default 1, 3.2, 10, ... up to tmax/2)", &P::tw, false},
        {"/per_decade", "--per-decade", "measurement points per decade of time", &P::per_decade},
        {"/theta_max", "--theta-max", "Metropolis rotation amplitude (radians)", &P::theta_max},
    };
    return table;
}

void validate(const pspin_quench_parameters& par) {
    if (par.p < 2) throw field_error("p", "must be >= 2 (got " + std::to_string(par.p) + ")");
    if (par.n < par.p) throw field_error("N", "must be >= p (got N = " + std::to_string(par.n) + ", p = " + std::to_string(par.p) + ")");
    if (!(par.temperature >= 0) || !std::isfinite(par.temperature)) throw field_error("T", "must be a finite number >= 0");
    if (!(par.dt > 0) || !std::isfinite(par.dt)) throw field_error("dt", "must be > 0");
    if (!(par.tmax > 0) || !std::isfinite(par.tmax)) throw field_error("tmax", "must be > 0");
    if (par.tmax < step_dt(par)) throw field_error("tmax", "must be at least one step (dt)");
    if (par.samples < 1) throw field_error("samples", "must be >= 1");
    if (const double steps = std::round(par.tmax / step_dt(par)) * par.samples; !(steps < max_quench_steps)) {
        std::ostringstream msg;
        msg << "--tmax / --dt asks for " << steps << " steps" << (par.samples > 1 ? " (over all --samples)" : "")
            << ", more than the 64-bit step counters hold (below 2^62 = " << max_quench_steps << ")";
        throw parameter_error(msg.str());
    }
    if (par.replicas < 1) throw field_error("replicas", "must be >= 1");
    if (par.per_decade < 1) throw field_error("per_decade", "must be >= 1");
    for (double t : par.tw)
        if (!(t >= 0) || t > par.tmax) throw field_error("tw", "values must lie in [0, tmax]");
    if (!(par.theta_max > 0) || par.theta_max > 3.14159265358979) throw field_error("theta_max", "must be in (0, pi]");
}

nlohmann::json to_json(const pspin_quench_parameters& par) {
    nlohmann::json j = {{"num_parameters", par.n}, {"initial_condition", "uniform on the sphere (T = infinity)"},
                        {"time_unit", par.method == quench_method::metropolis ? "sweeps" : "Langevin time"}};
    write_fields(pspin_quench_fields(), par, j);
    return j;
}

pspin_quench_parameters parameters_from_checkpoint(const checkpoint& c) {
    if (c.tool != "pspin_quench") throw record_error("checkpoint was written by " + c.tool + ", not pspin_quench");
    try {
        pspin_quench_parameters par;
        read_fields(pspin_quench_fields(), nlohmann::json::parse(c.config), par);
        return par;
    } catch (const nlohmann::json::exception& e) {
        throw record_error(std::string("checkpoint: bad configuration (") + e.what() + ")");
    } catch (const parameter_error& e) {
        throw record_error(std::string("checkpoint: bad configuration (") + e.what() + ")");
    }
}

std::int64_t steps_per_sample(const pspin_quench_parameters& par) {
    return std::max<std::int64_t>(1, to_steps(par.tmax, step_dt(par)));
}

quench_memory memory_estimate(const pspin_quench_parameters& par) {
    quench_memory m;
    const double count = static_cast<double>(binomial(static_cast<std::uint64_t>(par.n), static_cast<std::uint64_t>(par.p)));
    m.couplings = count * (par.couplings == coupling_precision::float32 ? 4.0 : 8.0);
    m.replicas = 8.0 * par.n * (static_cast<double>(waiting_steps(par).size()) + 8.0) * par.replicas;
    return m;
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
    const std::int64_t last = steps_per_sample(par);
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
        for (int k = 0; k < first_sample * par.replicas; ++k)
            results.push_back(load_result(*control.resume, "done/" + std::to_string(k) + "/"));
    }

    std::string stop_reason;
    using clock = std::chrono::steady_clock;
    auto last_checkpoint = clock::now();

    const int nrep = par.replicas;
    for (int s = first_sample; s < par.samples && stop_reason.empty(); ++s) {
        const auto us = static_cast<std::uint64_t>(s);
        const auto nr = static_cast<std::size_t>(nrep);
        const pspin_model model(par.n, par.p, derive_seed(par.seed, couplings, us), par.couplings);
        const replica_system sys{&model};
        std::vector<Eigen::VectorXd> sigma;
        std::vector<std::uint64_t> noise_seeds;
        for (int r = 0; r < nrep; ++r) {
            std::mt19937_64 init_rng(replica_seed(derive_seed(par.seed, initial, us), r));
            sigma.push_back(model.random_configuration(init_rng));
            noise_seeds.push_back(replica_seed(derive_seed(par.seed, noise, us), r));
        }
        quench_stepper dyn(par, dt, noise_seeds);

        scalar_recorder<replica_system> scalars = energy_recorder(nr);
        std::vector<two_time_recorder<Eigen::VectorXd>> two_time(nr, two_time_recorder<Eigen::VectorXd>(tw, lags));
        const schedule sched = energy_sched.merged(two_time.front().required_steps()).truncated(last);
        std::vector<std::vector<double>> acceptance(nr);
        run_state rs;

        if (control.resume && s == first_sample && control.resume->integers.count("step")) {
            const checkpoint& c = *control.resume;
            rs.step = c.integer("step");
            const auto steps_d = c.vector("scalars/step");
            const auto times = c.vector("scalars/time");
            std::vector<std::vector<double>> energies(nr);
            for (int r = 0; r < nrep; ++r) {
                const auto ur = static_cast<std::size_t>(r);
                const auto x = c.vector(rkey(r, "sigma"));
                if (static_cast<int>(x.size()) != par.n) throw record_error("checkpoint: spin vector has the wrong size");
                sigma[ur] = Eigen::Map<const Eigen::VectorXd>(x.data(), par.n);
                dyn.restore(ur, c.string(rkey(r, "rng")));
                energies[ur] = c.vector(rkey(r, "scalars/energy"));
                if (energies[ur].size() != times.size()) throw record_error("checkpoint: energy series has the wrong length");
                acceptance[ur] = c.vector(rkey(r, "acceptance"));
                std::vector<std::optional<Eigen::VectorXd>> snaps(tw.size());
                for (std::size_t i = 0; i < tw.size(); ++i) {
                    const auto it = c.arrays.find(rkey(r, "snapshot/" + std::to_string(i)));
                    if (it != c.arrays.end()) snaps[i] = Eigen::Map<const Eigen::VectorXd>(it->second.data.data(), par.n);
                }
                two_time[ur].restore(as_matrix(array_of(c, rkey(r, "delta"))), std::move(snaps));
            }
            scalars.restore(std::vector<std::int64_t>(steps_d.begin(), steps_d.end()), times, std::move(energies));
        }

        auto current = [&](std::size_t r) {
            sample_result res;
            res.time = scalars.times();
            res.energy = scalars.values(energy_name(r));
            res.acceptance = acceptance[r];
            res.delta = two_time[r].delta();
            return res;
        };
        auto save = [&] {
            checkpoint c;
            c.tool = "pspin_quench";
            c.config = config;
            c.integers["sample"] = s;
            for (std::size_t k = 0; k < results.size(); ++k) save_result(c, "done/" + std::to_string(k) + "/", results[k]);
            c.integers["step"] = rs.step;
            c.put("scalars/step", std::vector<double>(scalars.steps().begin(), scalars.steps().end()));
            c.put("scalars/time", scalars.times());
            for (int r = 0; r < nrep; ++r) {
                const auto ur = static_cast<std::size_t>(r);
                c.put(rkey(r, "sigma"), std::vector<double>(sigma[ur].data(), sigma[ur].data() + sigma[ur].size()));
                c.strings[rkey(r, "rng")] = dyn.state(ur);
                c.put(rkey(r, "scalars/energy"), scalars.values(energy_name(ur)));
                c.put(rkey(r, "acceptance"), acceptance[ur]);
                c.arrays[rkey(r, "delta")] = as_array(two_time[ur].delta());
                for (std::size_t i = 0; i < tw.size(); ++i)
                    if (const auto& snap = two_time[ur].snapshots()[i])
                        c.put(rkey(r, "snapshot/" + std::to_string(i)), std::vector<double>(snap->data(), snap->data() + snap->size()));
            }
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
        auto guard = [&](const replica_system&, const replica_state&, std::int64_t step, double t) {
            for (int r = 0; r < nrep; ++r)
                if (!std::isfinite(scalars.values(energy_name(static_cast<std::size_t>(r))).back())) {
                    stop_reason = "diverged at t = " + std::to_string(t) + " (step " + std::to_string(step) + ", sample " +
                                  std::to_string(s) + (nrep > 1 ? ", replica " + std::to_string(r) : std::string()) +
                                  "): the energy is not finite; dt = " + std::to_string(dt) + " is likely too large";
                    throw divergence_error(stop_reason);
                }
        };
        auto aging = [&](const replica_system&, const replica_state& x, std::int64_t step, double t) {
            for (std::size_t r = 0; r < nr; ++r) two_time[r](model, x[r], step, t);
        };
        bool finished = false;
        try {
            if (par.method == quench_method::metropolis) {
                auto acc = [&](const replica_system&, const replica_state&, std::int64_t, double) {
                    for (std::size_t r = 0; r < nr; ++r) acceptance[r].push_back(dyn.acceptance(r));
                };
                finished = integrate(dyn, sys, sigma, rs, last, sched, inner, scalars, guard, aging, acc);
            } else {
                finished = integrate(dyn, sys, sigma, rs, last, sched, inner, scalars, guard, aging);
            }
        } catch (const divergence_error&) {
            finished = false;
        }
        if (finished) {
            for (std::size_t r = 0; r < nr; ++r) results.push_back(current(r));
            continue;
        }
        if (!stop_reason.empty() && stop_reason.rfind("interrupted", 0) == 0 && !control.checkpoint_path.empty()) save();
        if (results.empty()) { // keep the measured part of a lone first sample
            for (std::size_t r = 0; r < nr; ++r) {
                auto res = current(r);
                res.time.resize(res.energy.size());
                results.push_back(std::move(res));
            }
        }
    }

    record rec = assemble(par, results, tw, lags);
    rec.complete = stop_reason.empty();
    if (!rec.complete) rec.parameters["stop_reason"] = stop_reason;
    return rec;
}

} // namespace glassy
