#include "physics/quench.hpp"

#include "dynamics/clones.hpp"
#include "dynamics/error.hpp"
#include "dynamics/recorders.hpp"
#include "physics/barrier.hpp"
#include "physics/hessian.hpp"
#include "physics/pspin.hpp"
#include "physics/steppers.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <span>
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

enum stream : std::uint64_t { couplings = 1, initial = 2, noise = 3, replica = 4, clone = 5 };

// Seed of replica r from the seed replica 0 uses (r = 0: unchanged, so R = 1 is the plain run).
std::uint64_t replica_seed(std::uint64_t base, int r) {
    return r == 0 ? base : derive_seed(base, replica, static_cast<std::uint64_t>(r));
}

// Checkpoint key of a per-replica entry: replica 0 keeps the single-replica names.
std::string rkey(int r, const std::string& name) { return r == 0 ? name : "replica/" + std::to_string(r) + "/" + name; }

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
    [[nodiscard]] double acceptance(std::size_t r) const {
        return std::get<metropolis_dynamics>(m_stepper).acceptance(r);
    }
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
        const auto s =
            par.method == quench_method::heun ? langevin_dynamics::scheme::heun : langevin_dynamics::scheme::euler;
        return langevin_dynamics(par.temperature, dt, s, seeds);
    }
    variant m_stepper;
};

// The --barrier observer of one replica: energies per spin along great circles.
using path_recorder = barrier_recorder<Eigen::VectorXd, decltype(&great_circle_energies)>;

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

// What one sample (one replica of it) measured.
struct sample_result {
    std::vector<double> time, energy, acceptance;
    row_matrix delta;
    std::vector<double> hessian_t;     // --hessian: times of the spectra
    row_matrix spectra;                // --hessian: [n_h, N - 1]
    row_matrix barrier;                // --barrier: energies along the paths, [n_b, n_a]
    row_matrix clone_delta;            // --clones: Delta_AB, [n_c, n_l]
    std::vector<double> clone_barrier; // --clones: pair mean barrier height at the end, [n_c]

    // Saved as PREFIXtime, PREFIXenergy, PREFIXacceptance, PREFIXdelta, and with spectra
    // PREFIXhessian/t and PREFIXhessian/spectrum, with barrier rows PREFIXbarrier/energy, with
    // clones PREFIXclones/delta and PREFIXclones/barrier.
    void save(checkpoint& c, const std::string& prefix) const {
        c.put(prefix + "time", time);
        c.put(prefix + "energy", energy);
        c.put(prefix + "acceptance", acceptance);
        c.put_matrix(prefix + "delta", delta);
        if (spectra.rows() > 0) {
            c.put(prefix + "hessian/t", hessian_t);
            c.put_matrix(prefix + "hessian/spectrum", spectra);
        }
        if (barrier.rows() > 0) c.put_matrix(prefix + "barrier/energy", barrier);
        if (clone_delta.rows() > 0) {
            c.put_matrix(prefix + "clones/delta", clone_delta);
            c.put(prefix + "clones/barrier", clone_barrier);
        }
    }
    void restore(const checkpoint& c, const std::string& prefix) {
        time = c.vector(prefix + "time");
        energy = c.vector(prefix + "energy");
        acceptance = c.vector(prefix + "acceptance");
        delta = c.matrix(prefix + "delta");
        if (c.arrays.count(prefix + "hessian/spectrum") > 0) {
            hessian_t = c.vector(prefix + "hessian/t");
            spectra = c.matrix(prefix + "hessian/spectrum");
        }
        if (c.arrays.count(prefix + "barrier/energy") > 0) barrier = c.matrix(prefix + "barrier/energy");
        if (c.arrays.count(prefix + "clones/delta") > 0) {
            clone_delta = c.matrix(prefix + "clones/delta");
            clone_barrier = c.vector(prefix + "clones/barrier");
        }
    }
};

double step_dt(const pspin_quench_parameters& par) { return par.method == quench_method::metropolis ? 1.0 : par.dt; }

std::int64_t to_steps(double t, double dt) { return static_cast<std::int64_t>(std::llround(t / dt)); }

// Times of steps of length dt.
std::vector<double> times_of(const std::vector<std::int64_t>& steps, double dt) {
    std::vector<double> t;
    for (const auto s : steps) t.push_back(static_cast<double>(s) * dt);
    return t;
}

// The /clones datasets of the samples measured so far.
void add_clones(record& rec, const pspin_quench_parameters& par, const std::vector<sample_result>& results) {
    std::vector<row_matrix> delta;
    std::vector<std::vector<double>> barrier;
    for (const auto& r : results) {
        delta.push_back(r.clone_delta);
        barrier.push_back(r.clone_barrier);
    }
    add_clone_datasets(rec, times_of(clone_steps(par), step_dt(par)), times_of(clone_lag_steps(par), step_dt(par)),
                       delta, barrier);
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
        rec.aging.delta =
            row_matrix::Constant(static_cast<Eigen::Index>(tw.size()), static_cast<Eigen::Index>(lags.size()),
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
    if (par.hessian) {
        std::vector<row_matrix> spectra;
        for (const auto& r : results) spectra.push_back(r.spectra);
        add_hessian_datasets(rec, results.front().hessian_t, spectra, par.flat_epsilon, par.hessian_top,
                             hessian_grid(par.p));
    }
    if (par.barrier) {
        std::vector<row_matrix> paths;
        for (const auto& r : results) paths.push_back(r.barrier);
        add_barrier_datasets(rec, barrier_steps(par), dt, barrier_alphas(par.barrier_points), paths);
    }
    if (par.clones > 0) add_clones(rec, par, results);
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
    case quench_method::heun:
        return "heun";
    case quench_method::metropolis:
        return "metropolis";
    case quench_method::langevin:
        break;
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
         choice_member<P>{[](const P& p) { return to_string(p.method); },
                          [](P& p, const std::string& s) { p.method = parse_quench_method(s); }}},
        {"/dt",
         "--dt",
         "Langevin time step (> 0); Metropolis counts sweeps",
         &P::dt,
         true,
         {},
         [](const P& p) { return nlohmann::json(step_dt(p)); },
         [](P& p, const nlohmann::json& j) { j.get_to(p.dt); }},
        {"/tmax", "--tmax", "duration of the run (Langevin time or sweeps)", &P::tmax},
        {"/samples", "--samples", "independent disorder samples and initial conditions", &P::samples},
        // Absent for 0: records as before offsets existed.
        {"/sample_offset", "--sample-offset",
         "index of the first sample: compute samples K ... K + samples - 1 of the larger run (job arrays)",
         &P::sample_offset, true, [](const P& p) { return p.sample_offset != 0; }},
        // Absent for 1: records as before replicas existed.
        {"/replicas", "--replicas",
         "replicas per disorder sample, run as one batch (each counts as a sample in the record)", &P::replicas, true,
         [](const P& p) { return p.replicas != 1; }},
        // Likewise, absent for float64.
        {"/couplings", "--couplings", "coupling storage: float64, or float32 (half the memory; sums in double)",
         choice_member<P>{[](const P& p) { return to_string(p.couplings); },
                          [](P& p, const std::string& s) { p.couplings = parse_coupling_precision(s); }},
         true, [](const P& p) { return p.couplings != coupling_precision::float64; }},
        {"/seed", "--seed", "master random seed", &P::seed},
        {"/tw", "--tw", "waiting times t_w (default 1, 3.2, 10, ... up to tmax/2)", &P::tw, false},
        {"/per_decade", "--per-decade", "measurement points per decade of time", &P::per_decade},
        {"/theta_max", "--theta-max", "Metropolis rotation amplitude (radians)", &P::theta_max},
        // The Hessian measurement: keys only when it is on (records without it read as before).
        {"/hessian", "--hessian", "record the spectrum of the Riemannian Hessian at the waiting times", &P::hessian,
         true, [](const P& p) { return p.hessian; }},
        {"/hessian_per_decade", "--hessian-per-decade",
         "with --hessian: K log-spaced Hessian times per decade (and t = 0) instead of the waiting times",
         &P::hessian_per_decade, false, [](const P& p) { return p.hessian; }},
        {"/hessian_top", "--hessian-top", "with --hessian: how many of the largest eigenvalues /hessian/top keeps",
         &P::hessian_top, true, [](const P& p) { return p.hessian; }},
        {"/flat_epsilon", "--flat-epsilon", "with --hessian: flat eigenvalues have |lambda| <= epsilon max|lambda|",
         &P::flat_epsilon, true, [](const P& p) { return p.hessian; }},
        // The barrier measurement: likewise, keys only when it is on.
        {"/barrier", "--barrier",
         "record the energy along the great circle between the states at t_w and t_w + t (issue 14)", &P::barrier, true,
         [](const P& p) { return p.barrier; }},
        {"/barrier_lags", "--barrier-lags", "with --barrier: the lags t (default three per decade from one step)",
         &P::barrier_lags, false, [](const P& p) { return p.barrier; }},
        {"/barrier_points", "--barrier-points",
         "with --barrier or --clones: points per path, both ends included (>= 2)", &P::barrier_points, true,
         [](const P& p) { return p.barrier || p.clones > 0; }},
        // Clones: likewise, keys only when they are on.
        {"/clones", "--clones",
         "K >= 2 clones of each sample at the waiting times (or --clone-tw), run on with their own noise (issue 14)",
         &P::clones, false, [](const P& p) { return p.clones > 0; }},
        {"/clone_tw", "--clone-tw", "with --clones: the birth times of the clones, in (0, tmax) (default the --tw)",
         &P::clone_tw, false, [](const P& p) { return p.clones > 0; }},
        {"/clone_lags", "--clone-lags",
         "with --clones: the lags after birth of /clones/delta (default the lags of Delta, /aging/t)", &P::clone_lags,
         false, [](const P& p) { return p.clones > 0; }},
    };
    return table;
}

namespace {

// The Hessian parameters (checked with or without --hessian: their defaults are valid).
void validate_hessian(const pspin_quench_parameters& par) {
    if (par.hessian_per_decade < 0) throw field_error("hessian_per_decade", "must be >= 1");
    if (par.hessian_top < 1) throw field_error("hessian_top", "must be >= 1");
    if (!(par.flat_epsilon > 0) || !(par.flat_epsilon < 1)) throw field_error("flat_epsilon", "must be in (0, 1)");
}

// The barrier parameters (checked with or without --barrier: their defaults are valid).
void validate_barrier(const pspin_quench_parameters& par) {
    if (par.barrier_points < 2) throw field_error("barrier_points", "must be >= 2 (both ends of the path)");
    for (double t : par.barrier_lags)
        if (!(t >= step_dt(par)) || !(t <= par.tmax))
            throw field_error("barrier_lags", "values must lie in [dt, tmax] (one step at least)");
}

// The clone parameters (checked with or without --clones: their defaults are valid); the step
// count with clones (samples x last x (1 + K n_c) work steps) must fit the step counters.
void validate_clones(const pspin_quench_parameters& par) {
    if (par.clones < 0 || par.clones == 1) throw field_error("clones", "must be >= 2 (0: no clones)");
    const std::int64_t last = steps_per_sample(par);
    for (double t : par.clone_tw)
        if (!(t > 0) || !(t < par.tmax) || to_steps(t, step_dt(par)) < 1 || to_steps(t, step_dt(par)) >= last)
            throw field_error("clone_tw", "values must lie in (0, tmax), at least one step from both ends");
    for (double t : par.clone_lags)
        if (!(t >= 0) || !(t <= par.tmax)) throw field_error("clone_lags", "values must lie in [0, tmax]");
    const double work = static_cast<double>(last) * par.samples *
                        (1.0 + static_cast<double>(par.clones) * static_cast<double>(clone_steps(par).size()));
    if (!(work < max_quench_steps))
        throw field_error("clones", "asks for more steps than the 64-bit step counters hold (fewer clones or births)");
}

} // namespace

void validate(const pspin_quench_parameters& par) {
    if (par.p < 2) throw field_error("p", "must be >= 2 (got " + std::to_string(par.p) + ")");
    if (par.n < par.p)
        throw field_error("N",
                          "must be >= p (got N = " + std::to_string(par.n) + ", p = " + std::to_string(par.p) + ")");
    if (!(par.temperature >= 0) || !std::isfinite(par.temperature))
        throw field_error("T", "must be a finite number >= 0");
    if (!(par.dt > 0) || !std::isfinite(par.dt)) throw field_error("dt", "must be > 0");
    if (!(par.tmax > 0) || !std::isfinite(par.tmax)) throw field_error("tmax", "must be > 0");
    if (par.tmax < step_dt(par)) throw field_error("tmax", "must be at least one step (dt)");
    if (par.samples < 1) throw field_error("samples", "must be >= 1");
    if (par.sample_offset < 0 || par.sample_offset > std::numeric_limits<int>::max() - par.samples)
        throw field_error("sample_offset", "must be >= 0, with sample_offset + samples within a 32-bit int");
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
    validate_hessian(par);
    validate_barrier(par);
    validate_clones(par);
}

nlohmann::json to_json(const pspin_quench_parameters& par) {
    nlohmann::json j = {{"num_parameters", par.n},
                        {"initial_condition", "uniform on the sphere (T = infinity)"},
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
    const double count =
        static_cast<double>(binomial(static_cast<std::uint64_t>(par.n), static_cast<std::uint64_t>(par.p)));
    m.couplings = count * (par.couplings == coupling_precision::float32 ? 4.0 : 8.0);
    m.replicas = 8.0 * par.n * (static_cast<double>(waiting_steps(par).size()) + 8.0) * par.replicas;
    if (par.clones > 0)
        m.clones = 8.0 * par.n * par.replicas *
                   (static_cast<double>(clone_steps(par).size()) + 9.0 * static_cast<double>(par.clones));
    if (par.hessian) {
        const double n = par.n;
        m.hessian = 8.0 * static_cast<double>(par.samples) * par.replicas *
                        static_cast<double>(hessian_steps(par).size()) * (n - 1) +
                    3 * 8.0 * n * n;
    }
    return m;
}

schedule hessian_steps(const pspin_quench_parameters& par) {
    if (par.hessian_per_decade < 1) return schedule(waiting_steps(par));
    return schedule::log_spaced(1, steps_per_sample(par), par.hessian_per_decade, true);
}

std::vector<barrier_pair> barrier_steps(const pspin_quench_parameters& par) {
    if (!par.barrier) return {};
    const std::int64_t last = steps_per_sample(par);
    std::vector<std::int64_t> lags;
    for (double t : par.barrier_lags) lags.push_back(to_steps(t, step_dt(par)));
    if (par.barrier_lags.empty()) lags = schedule::log_spaced(1, last, 3).steps();
    return barrier_pairs(waiting_steps(par), std::move(lags), last);
}

std::vector<std::int64_t> clone_steps(const pspin_quench_parameters& par) {
    if (par.clones == 0) return {};
    if (par.clone_tw.empty()) return waiting_steps(par);
    std::vector<std::int64_t> out;
    for (double t : par.clone_tw) out.push_back(to_steps(t, step_dt(par)));
    return schedule(std::move(out)).steps();
}

std::vector<std::int64_t> clone_lag_steps(const pspin_quench_parameters& par) {
    if (par.clones == 0) return {};
    if (par.clone_lags.empty()) return schedule::log_spaced(1, steps_per_sample(par), par.per_decade, true).steps();
    std::vector<std::int64_t> out;
    for (double t : par.clone_lags) out.push_back(to_steps(t, step_dt(par)));
    return schedule(std::move(out)).steps();
}

std::uint64_t clone_seed(std::uint64_t seed, int s, int r, std::int64_t w, int k) noexcept {
    std::uint64_t x = derive_seed(seed, clone, static_cast<std::uint64_t>(s));
    x = derive_seed(x, 1, static_cast<std::uint64_t>(r));
    x = derive_seed(x, 2, static_cast<std::uint64_t>(w));
    return derive_seed(x, 3, static_cast<std::uint64_t>(k));
}

quench_cost cost_estimate(const pspin_quench_parameters& par) {
    const double last = static_cast<double>(steps_per_sample(par));
    const double copies = static_cast<double>(par.samples) * par.replicas;
    quench_cost c;
    c.main = copies * last;
    for (const auto w : clone_steps(par)) c.clones += copies * par.clones * (last - static_cast<double>(w));
    return c;
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

namespace {

// The fixed quantities of a quench: steps, schedules and the configuration a checkpoint must match.
struct quench_plan {
    const pspin_quench_parameters& par;
    double dt;
    std::int64_t last; // steps per sample
    std::vector<std::int64_t> tw, lags;
    schedule energy_sched;
    std::vector<std::int64_t> clone_tw, clone_lags; // --clones: births and lags in steps; else empty
    std::int64_t per_sample;                        // work of one sample: last + K x sum over births w of (last - w)
    std::int64_t total;                             // work over all samples
    std::string config;
};

quench_plan make_plan(const pspin_quench_parameters& par) {
    const std::int64_t last = steps_per_sample(par);
    std::int64_t per_sample = last;
    for (const auto w : clone_steps(par)) per_sample += par.clones * (last - w);
    return {par,
            step_dt(par),
            last,
            waiting_steps(par),
            schedule::log_spaced(1, last, par.per_decade, true).steps(),
            schedule::log_spaced(1, last, par.per_decade, true),
            clone_steps(par),
            clone_lag_steps(par),
            per_sample,
            per_sample * par.samples,
            to_json(par).dump()};
}

// The clones born at one step of one sample: R x K states (replica-major: clone k of replica r is
// x[r K + k]) run as one batch from the main state at the birth, with their own noise streams.
struct clone_group {
    replica_state x;
    quench_stepper dyn;
    run_state rs;
};

// The noise seeds of the replicas of sample s (see run_pspin_quench).
std::vector<std::uint64_t> noise_seeds(const pspin_quench_parameters& par, int s) {
    std::vector<std::uint64_t> seeds;
    for (int r = 0; r < par.replicas; ++r)
        seeds.push_back(replica_seed(derive_seed(par.seed, noise, static_cast<std::uint64_t>(s)), r));
    return seeds;
}

// One disorder sample: its couplings, the R replicas, their dynamics and recorders, and the step;
// with the finished samples, what a checkpoint holds.
class sample_run {
public:
    sample_run(const quench_plan& plan, int s)
        : m_plan(plan),
          m_s(s),
          m_nr(static_cast<std::size_t>(plan.par.replicas)),
          m_model(plan.par.n, plan.par.p, derive_seed(plan.par.seed, couplings, static_cast<std::uint64_t>(s)),
                  plan.par.couplings),
          m_sys{&m_model},
          m_dyn(plan.par, plan.dt, noise_seeds(plan.par, s)),
          m_scalars(energy_recorder(m_nr)),
          m_two_time(m_nr, two_time_recorder<Eigen::VectorXd>(plan.tw, plan.lags)),
          m_hessian(m_nr),
          m_barrier(m_nr, path_recorder(barrier_steps(plan.par), barrier_alphas(plan.par.barrier_points),
                                        &great_circle_energies)),
          m_base(plan.energy_sched.merged(m_two_time.front().required_steps()).truncated(plan.last)),
          m_hessian_when(plan.par.hessian ? hessian_steps(plan.par).truncated(plan.last) : schedule()),
          m_barrier_when(m_barrier.front().required_steps()),
          m_births_when(plan.clone_tw),
          m_sched(m_base.merged(m_hessian_when).merged(m_barrier_when).merged(m_births_when)),
          m_acceptance(m_nr),
          m_alphas(barrier_alphas(plan.par.barrier_points)),
          m_births(plan.clone_tw.size()),
          m_clone_delta(m_nr, plan.clone_tw.empty()
                                  ? row_matrix()
                                  : row_matrix::Constant(static_cast<Eigen::Index>(plan.clone_tw.size()),
                                                         static_cast<Eigen::Index>(plan.clone_lags.size()),
                                                         std::numeric_limits<double>::quiet_NaN())),
          m_clone_barrier(m_nr, std::vector<double>(plan.clone_tw.size(), std::numeric_limits<double>::quiet_NaN())) {
        for (int r = 0; r < plan.par.replicas; ++r) {
            std::mt19937_64 init_rng(
                replica_seed(derive_seed(plan.par.seed, initial, static_cast<std::uint64_t>(s)), r));
            m_sigma.push_back(m_model.random_configuration(init_rng));
        }
    }
    sample_run(const sample_run&) = delete;
    sample_run& operator=(const sample_run&) = delete;

    // The sample's state; per replica r under rkey(r, ...), replica 0 under the plain names.
    void save(checkpoint& c) const {
        c.integers["step"] = m_rs.step;
        c.put("scalars/step", std::vector<double>(m_scalars.steps().begin(), m_scalars.steps().end()));
        c.put("scalars/time", m_scalars.times());
        for (std::size_t r = 0; r < m_nr; ++r) {
            const int ri = static_cast<int>(r);
            c.put_vector(rkey(ri, "sigma"), m_sigma[r]);
            c.strings[rkey(ri, "rng")] = m_dyn.state(r);
            c.put(rkey(ri, "scalars/energy"), m_scalars.values(energy_name(r)));
            c.put(rkey(ri, "acceptance"), m_acceptance[r]);
            m_two_time[r].save(c, rkey(ri, ""));
            m_hessian[r].save(c, rkey(ri, "hessian/"));
            if (m_plan.par.barrier) m_barrier[r].save(c, rkey(ri, "barrier/"));
        }
        if (m_plan.par.clones > 0) save_clones(c);
    }
    // Restores what save() wrote; throws record_error when an entry is missing or of the wrong size.
    void restore(const checkpoint& c) {
        m_rs.step = c.integer("step");
        const auto steps_d = c.vector("scalars/step");
        const auto times = c.vector("scalars/time");
        std::vector<std::vector<double>> energies(m_nr);
        for (std::size_t r = 0; r < m_nr; ++r) {
            const int ri = static_cast<int>(r);
            const auto x = c.vector(rkey(ri, "sigma"));
            if (static_cast<int>(x.size()) != m_plan.par.n)
                throw record_error("checkpoint: spin vector has the wrong size");
            m_sigma[r] = Eigen::Map<const Eigen::VectorXd>(x.data(), m_plan.par.n);
            m_dyn.restore(r, c.string(rkey(ri, "rng")));
            energies[r] = c.vector(rkey(ri, "scalars/energy"));
            if (energies[r].size() != times.size())
                throw record_error("checkpoint: energy series has the wrong length");
            m_acceptance[r] = c.vector(rkey(ri, "acceptance"));
            m_two_time[r].restore(c, rkey(ri, ""), m_plan.par.n);
            m_hessian[r].restore(c, rkey(ri, "hessian/"), m_plan.par.n);
            if (m_plan.par.barrier) m_barrier[r].restore(c, rkey(ri, "barrier/"), m_plan.par.n);
        }
        m_scalars.restore(std::vector<std::int64_t>(steps_d.begin(), steps_d.end()), times, std::move(energies));
        if (m_plan.par.clones > 0) restore_clones(c);
    }

    // Integrates from the current step to the last; true when it got there. Otherwise `end` says
    // why: hooks.stop returned true (interrupted) or an energy was not finite (diverged).
    // With clones, after the main trajectory, the clones of each birth in turn (run_clones).
    bool run(run_hooks hooks, run_end& end) {
        const auto ask = std::move(hooks.stop);
        hooks.stop = [&](std::int64_t step) {
            if (!ask || !ask(step)) return false;
            end = {stop_reason::interrupted,
                   "interrupted at t = " + std::to_string(static_cast<double>(step) * m_plan.dt) + " of sample " +
                       std::to_string(m_s) +
                       (m_main_done
                            ? " (clones born at t_w = " +
                                  std::to_string(static_cast<double>(m_plan.clone_tw[m_phase]) * m_plan.dt) + ")"
                            : std::string())};
            return true;
        };
        if (!m_main_done && !run_main(hooks, end)) return false;
        m_main_done = true;
        const auto start = std::chrono::steady_clock::now();
        bool done = true;
        for (; done && m_phase < m_plan.clone_tw.size(); m_phase += done ? 1 : 0) done = run_clones(hooks, end);
        m_clone_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        return done;
    }

    // Wall seconds spent in run_clones by this object.
    [[nodiscard]] double clone_seconds() const noexcept { return m_clone_seconds; }

    // What replica r measured so far.
    [[nodiscard]] sample_result result(std::size_t r) const {
        return {m_scalars.times(),    m_scalars.values(energy_name(r)), m_acceptance[r],         m_two_time[r].delta(),
                m_hessian[r].times(), m_hessian[r].spectra(),           m_barrier[r].energies(), m_clone_delta[r],
                m_clone_barrier[r]};
    }

private:
    // The main trajectory from the current step to the last (run's contract).
    bool run_main(const run_hooks& hooks, run_end& end) {
        // Divergence: checked where the energy is measured; everything measured before is kept.
        auto guard = [&](const replica_system&, const replica_state&, std::int64_t step, double t) {
            if (const auto r = diverged_replica()) {
                end = {stop_reason::diverged, divergence_message(*r, step, t)};
                throw divergence_error(end.message);
            }
        };
        auto aging = [&](const replica_system&, const replica_state& x, std::int64_t step, double t) {
            for (std::size_t r = 0; r < m_nr; ++r) m_two_time[r](m_model, x[r], step, t);
        };
        auto acc = [&](const replica_system&, const replica_state&, std::int64_t, double) {
            for (std::size_t r = 0; r < m_nr; ++r) m_acceptance[r].push_back(m_dyn.acceptance(r));
        };
        auto hessian = [&](const replica_system&, const replica_state& x, std::int64_t step, double t) {
            for (std::size_t r = 0; r < m_nr; ++r)
                if (!x[r].allFinite()) {
                    end = {stop_reason::diverged, divergence_message(static_cast<int>(r), step, t)};
                    throw divergence_error(end.message);
                }
            for (std::size_t r = 0; r < m_nr; ++r) m_hessian[r](m_model, x[r], step, t);
        };
        auto barrier = [&](const replica_system&, const replica_state& x, std::int64_t step, double t) {
            for (std::size_t r = 0; r < m_nr; ++r) m_barrier[r](m_model, x[r], step, t);
        };
        auto births = [&](const replica_system&, const replica_state& x, std::int64_t step, double) {
            const auto at = std::lower_bound(m_plan.clone_tw.begin(), m_plan.clone_tw.end(), step);
            m_births[static_cast<std::size_t>(at - m_plan.clone_tw.begin())] = x;
        };
        // The run's observers fire at the steps they had without --hessian and --barrier; those at theirs.
        on_schedule<decltype(m_scalars)> scalars{m_base, m_scalars};
        on_schedule<decltype(guard)> guarded{m_base, guard};
        on_schedule<decltype(aging)> aged{m_base, aging};
        on_schedule<decltype(acc)> accepted{m_base, acc};
        on_schedule<decltype(hessian)> hessians{m_hessian_when, hessian};
        on_schedule<decltype(barrier)> barriers{m_barrier_when, barrier};
        on_schedule<decltype(births)> born{m_births_when, births};
        try {
            if (m_plan.par.method == quench_method::metropolis)
                return integrate(m_dyn, m_sys, m_sigma, m_rs, m_plan.last, m_sched, hooks, scalars, guarded, aged,
                                 accepted, hessians, barriers, born);
            return integrate(m_dyn, m_sys, m_sigma, m_rs, m_plan.last, m_sched, hooks, scalars, guarded, aged, hessians,
                             barriers, born);
        } catch (const divergence_error&) {
            return false;
        }
    }

    // The clones of birth m_phase from where they are (or their birth) to the last step; true when
    // they got there. Progress counts a step of the K copies as K steps of the main trajectory.
    bool run_clones(const run_hooks& outer, run_end& end) {
        const std::int64_t w = m_plan.clone_tw[m_phase], k = m_plan.par.clones;
        if (!m_group) start_clones();
        std::int64_t before = m_plan.last;
        for (std::size_t c = 0; c < m_phase; ++c) before += k * (m_plan.last - m_plan.clone_tw[c]);
        run_hooks hooks = outer;
        if (outer.progress)
            hooks.progress = [&](std::int64_t step, std::int64_t total) {
                outer.progress(before + k * (step - w), total);
            };
        std::vector<std::int64_t> when{m_plan.last};
        for (const auto lag : m_plan.clone_lags)
            if (lag <= m_plan.last - w) when.push_back(w + lag);
        auto measure = [&](const replica_system&, const replica_state& x, std::int64_t step, double t) {
            measure_clones(x, step, t, end);
        };
        try {
            if (!integrate(m_group->dyn, m_sys, m_group->x, m_group->rs, m_plan.last, schedule(std::move(when)), hooks,
                           measure))
                return false;
        } catch (const divergence_error&) {
            return false;
        }
        m_group.reset();
        m_births[m_phase].clear(); // released: its clones are done
        return true;
    }

    // Copies the main state at birth m_phase K times, with the clones' own noise streams.
    void start_clones() {
        const std::int64_t w = m_plan.clone_tw[m_phase];
        std::vector<std::uint64_t> seeds;
        replica_state x;
        for (std::size_t r = 0; r < m_nr; ++r)
            for (int k = 0; k < m_plan.par.clones; ++k) {
                seeds.push_back(clone_seed(m_plan.par.seed, m_s, static_cast<int>(r), w, k));
                x.push_back(m_births[m_phase].at(r));
            }
        m_group.emplace(clone_group{std::move(x), quench_stepper(m_plan.par, m_plan.dt, seeds), run_state{w}});
    }

    // Delta_AB of each replica's clones at lag step - birth, and at the last step the pair mean
    // barrier height along the great circles between them; a non-finite clone is a divergence.
    void measure_clones(const replica_state& x, std::int64_t step, double t, run_end& end) {
        const auto k = static_cast<std::size_t>(m_plan.par.clones);
        const auto c = static_cast<Eigen::Index>(m_phase);
        const auto lag =
            std::lower_bound(m_plan.clone_lags.begin(), m_plan.clone_lags.end(), step - m_plan.clone_tw[m_phase]);
        const bool at_lag = lag != m_plan.clone_lags.end() && *lag == step - m_plan.clone_tw[m_phase];
        for (std::size_t r = 0; r < m_nr; ++r) {
            const std::span<const Eigen::VectorXd> group(x.data() + r * k, k);
            for (const auto& sigma : group)
                if (!sigma.allFinite()) {
                    end = {stop_reason::diverged, divergence_message(static_cast<int>(r), step, t) + " (a clone)"};
                    throw divergence_error(end.message);
                }
            if (at_lag) m_clone_delta[r](c, lag - m_plan.clone_lags.begin()) = pair_mean_distance(group);
            if (step == m_plan.last)
                m_clone_barrier[r][m_phase] = pair_mean(group, [&](const Eigen::VectorXd& a, const Eigen::VectorXd& b) {
                    return barrier_height(great_circle_energies(m_model, a, b, m_alphas));
                });
        }
    }

    // The clone state: where the run is, the tables, the births still needed and the clones running.
    void save_clones(checkpoint& c) const {
        c.integers["clones/main_done"] = m_main_done ? 1 : 0;
        c.integers["clones/phase"] = static_cast<std::int64_t>(m_phase);
        for (std::size_t r = 0; r < m_nr; ++r) {
            c.put_matrix(rkey(static_cast<int>(r), "clones/delta"), m_clone_delta[r]);
            c.put(rkey(static_cast<int>(r), "clones/barrier"), m_clone_barrier[r]);
        }
        for (std::size_t b = 0; b < m_births.size(); ++b)
            for (std::size_t r = 0; r < m_births[b].size(); ++r)
                c.put_vector("clones/birth/" + std::to_string(b) + "/" + std::to_string(r), m_births[b][r]);
        if (!m_group) return;
        c.integers["clones/step"] = m_group->rs.step;
        for (std::size_t j = 0; j < m_group->x.size(); ++j) {
            c.put_vector("clones/sigma/" + std::to_string(j), m_group->x[j]);
            c.strings["clones/rng/" + std::to_string(j)] = m_group->dyn.state(j);
        }
    }

    // Restores what save_clones wrote; throws record_error when an entry is missing or wrong.
    void restore_clones(const checkpoint& c) {
        m_main_done = c.integer("clones/main_done") != 0;
        const auto phase = c.integer("clones/phase");
        if (phase < 0 || phase > static_cast<std::int64_t>(m_births.size()))
            throw record_error("checkpoint: bad clone phase");
        m_phase = static_cast<std::size_t>(phase);
        for (std::size_t r = 0; r < m_nr; ++r) {
            row_matrix d = c.matrix(rkey(static_cast<int>(r), "clones/delta"));
            auto b = c.vector(rkey(static_cast<int>(r), "clones/barrier"));
            if (d.rows() != m_clone_delta[r].rows() || d.cols() != m_clone_delta[r].cols() ||
                b.size() != m_clone_barrier[r].size())
                throw record_error("checkpoint: the clone tables have the wrong shape");
            m_clone_delta[r] = std::move(d);
            m_clone_barrier[r] = std::move(b);
        }
        for (std::size_t b = 0; b < m_births.size(); ++b) {
            m_births[b].clear();
            for (std::size_t r = 0; r < m_nr; ++r)
                if (auto x = c.find_vector<double>("clones/birth/" + std::to_string(b) + "/" + std::to_string(r),
                                                   m_plan.par.n))
                    m_births[b].push_back(std::move(*x));
        }
        m_group.reset();
        if (c.integers.count("clones/step") > 0) restore_group(c);
    }

    // The clones running in the checkpoint's phase.
    void restore_group(const checkpoint& c) {
        if (m_phase >= m_births.size()) throw record_error("checkpoint: clones past the last birth");
        std::vector<std::uint64_t> seeds(m_nr * static_cast<std::size_t>(m_plan.par.clones), 0);
        replica_state x;
        for (std::size_t j = 0; j < seeds.size(); ++j) {
            auto v = c.find_vector<double>("clones/sigma/" + std::to_string(j), m_plan.par.n);
            if (!v) throw record_error("checkpoint: clone " + std::to_string(j) + " is missing");
            x.push_back(std::move(*v));
        }
        m_group.emplace(clone_group{std::move(x), quench_stepper(m_plan.par, m_plan.dt, seeds),
                                    run_state{c.integer("clones/step")}});
        for (std::size_t j = 0; j < seeds.size(); ++j)
            m_group->dyn.restore(j, c.string("clones/rng/" + std::to_string(j)));
    }

    [[nodiscard]] std::optional<int> diverged_replica() const {
        for (std::size_t r = 0; r < m_nr; ++r)
            if (!std::isfinite(m_scalars.values(energy_name(r)).back())) return static_cast<int>(r);
        return std::nullopt;
    }
    [[nodiscard]] std::string divergence_message(int r, std::int64_t step, double t) const {
        return "diverged at t = " + std::to_string(t) + " (step " + std::to_string(step) + ", sample " +
               std::to_string(m_s) + (m_nr > 1 ? ", replica " + std::to_string(r) : std::string()) +
               "): the energy is not finite; dt = " + std::to_string(m_plan.dt) + " is likely too large";
    }

    const quench_plan& m_plan;
    int m_s;
    std::size_t m_nr;
    pspin_model m_model;
    replica_system m_sys;
    replica_state m_sigma;
    quench_stepper m_dyn;
    scalar_recorder<replica_system> m_scalars;
    std::vector<two_time_recorder<Eigen::VectorXd>> m_two_time;
    std::vector<hessian_recorder> m_hessian;
    std::vector<path_recorder> m_barrier; // --barrier (no pairs without it)
    schedule m_base;                      // the steps of the energy and Delta observers
    schedule m_hessian_when;              // --hessian: hessian_steps; else empty
    schedule m_barrier_when;              // --barrier: the ends of its pairs; else empty
    schedule m_births_when;               // --clones: the births; else empty
    schedule m_sched;                     // all of them
    std::vector<std::vector<double>> m_acceptance;
    run_state m_rs;
    std::vector<double> m_alphas;                     // the points of a path between clones
    std::vector<replica_state> m_births;              // --clones: the main state at each birth (until its clones ran)
    std::vector<row_matrix> m_clone_delta;            // --clones: per replica Delta_AB, [n_c, n_l]
    std::vector<std::vector<double>> m_clone_barrier; // --clones: per replica barrier at the end, [n_c]
    bool m_main_done = false;                         // the main trajectory reached the last step
    std::size_t m_phase = 0;                          // the birth whose clones run (n_c: all done)
    std::optional<clone_group> m_group;               // the clones running
    double m_clone_seconds = 0;                       // wall time in run_clones
};

// Where finished replica-sample k lives in a checkpoint (and a sample_block).
std::string done_prefix(std::size_t k) { return "done/" + std::to_string(k) + "/"; }

// The group of a part record that holds its sample_block (assemble_pspin_quench, keep_samples).
const std::string sample_block_group = "sample_block/";

// Checks that `c` continues this quench, loads its finished samples into `results` and returns
// the sample to go on with. Throws record_error otherwise.
int resume_results(const quench_plan& plan, const checkpoint& c, std::vector<sample_result>& results) {
    if (c.tool != "pspin_quench" || c.config != plan.config)
        throw record_error("checkpoint is from a different configuration than this run");
    const auto first = static_cast<int>(c.integer("sample"));
    if (first < 0 || first > plan.par.samples) throw record_error("checkpoint: bad sample index");
    for (int k = 0; k < first * plan.par.replicas; ++k)
        results.emplace_back().restore(c, done_prefix(static_cast<std::size_t>(k)));
    return first;
}

// The checkpoint of a quench inside sample s: the finished samples ("done/k/") and sample s.
checkpoint quench_checkpoint(const quench_plan& plan, int s, const std::vector<sample_result>& results,
                             const sample_run& sample) {
    checkpoint c;
    c.tool = "pspin_quench";
    c.config = plan.config;
    c.integers["sample"] = s;
    for (std::size_t k = 0; k < results.size(); ++k) results[k].save(c, done_prefix(k));
    sample.save(c);
    return c;
}

} // namespace

sample_block measure_pspin_samples(const pspin_quench_parameters& par, const run_hooks& hooks,
                                   const run_control& control) {
    validate(par);
    const quench_plan plan = make_plan(par);
    std::vector<sample_result> results;
    const int first = control.resume ? resume_results(plan, *control.resume, results) : 0;
    int finished_samples = first;
    trigger when = control.checkpoint_every;
    when.reset();
    sample_block block;
    for (int s = first; s < par.samples && !block.end.stopped(); ++s) {
        sample_run sample(plan, par.sample_offset + s);
        if (control.resume && s == first && control.resume->integers.count("step")) sample.restore(*control.resume);
        const auto save = [&] {
            write_checkpoint(quench_checkpoint(plan, s, results, sample), control.checkpoint_path);
            when.reset();
        };
        run_hooks inner;
        inner.progress_every = hooks.progress_every;
        if (hooks.progress)
            inner.progress = [&](std::int64_t work, std::int64_t) {
                hooks.progress(s * plan.per_sample + work, plan.total);
            };
        inner.between_steps = [&](std::int64_t step) {
            if (!control.checkpoint_path.empty() && when.due(step)) save();
        };
        inner.stop = hooks.stop;
        const bool finished = sample.run(inner, block.end);
        block.clone_seconds += sample.clone_seconds();
        if (!finished && block.end.reason == stop_reason::interrupted && !control.checkpoint_path.empty()) save();
        finished_samples += finished ? 1 : 0;
        if (finished || results.empty()) { // all replicas, or the measured part of a lone first sample
            for (std::size_t r = 0; r < static_cast<std::size_t>(par.replicas); ++r) {
                results.push_back(sample.result(r));
                results.back().time.resize(results.back().energy.size());
            }
        }
    }
    block.first = par.sample_offset;
    block.samples = par.samples;
    block.finished = finished_samples;
    for (std::size_t k = 0; k < results.size(); ++k) results[k].save(block.results, done_prefix(k));
    return block;
}

record assemble_pspin_quench(const pspin_quench_parameters& par, const std::vector<sample_block>& blocks,
                             bool keep_samples) {
    validate(par);
    const quench_plan plan = make_plan(par);
    const auto nr = static_cast<std::size_t>(par.replicas);
    std::vector<sample_result> results;
    run_end end;
    int next = par.sample_offset;
    for (const sample_block& b : blocks) {
        if (b.first != next || b.samples < 1 || b.finished < 0 || b.finished > b.samples)
            throw error("assemble_pspin_quench: the blocks do not follow each other from sample " +
                        std::to_string(par.sample_offset) + " (a block starts at " + std::to_string(b.first) + ", " +
                        std::to_string(next) + " expected)");
        next += b.samples;
        if (end.stopped()) continue; // samples after the first stop are left out, as in one process
        std::size_t take = static_cast<std::size_t>(b.finished) * nr;
        if (b.end.stopped() && results.empty() && take == 0) // the measured part of a lone first sample
            while (b.results.arrays.count(done_prefix(take) + "time") > 0) ++take;
        for (std::size_t k = 0; k < take; ++k) results.emplace_back().restore(b.results, done_prefix(k));
        end = b.end;
    }
    if (next != par.sample_offset + par.samples)
        throw error("assemble_pspin_quench: the blocks hold samples " + std::to_string(par.sample_offset) + " to " +
                    std::to_string(next - 1) + ", not the " + std::to_string(par.samples) + " of the run");
    record rec = assemble(par, results, plan.tw, plan.lags);
    end.mark(rec);
    if (keep_samples) {
        checkpoint kept;
        for (std::size_t k = 0; k < results.size(); ++k) results[k].save(kept, done_prefix(k));
        for (auto& [key, a] : kept.arrays) rec.extra[sample_block_group + key] = std::move(a);
    }
    return rec;
}

record run_pspin_quench(const pspin_quench_parameters& par, const run_hooks& hooks, const run_control& control) {
    return assemble_pspin_quench(par, {measure_pspin_samples(par, hooks, control)});
}

checkpoint sample_block::save() const {
    checkpoint c = results;
    c.integers["block/first"] = first;
    c.integers["block/samples"] = samples;
    c.integers["block/finished"] = finished;
    c.integers["block/stop_reason"] = static_cast<std::int64_t>(end.reason);
    c.strings["block/stop_message"] = end.message;
    return c;
}

sample_block sample_block::restore(checkpoint c) {
    sample_block b;
    b.first = static_cast<int>(c.integer("block/first"));
    b.samples = static_cast<int>(c.integer("block/samples"));
    b.finished = static_cast<int>(c.integer("block/finished"));
    const std::int64_t reason = c.integer("block/stop_reason");
    if (reason < 0 || reason > static_cast<std::int64_t>(stop_reason::diverged))
        throw record_error("sample block: bad stop reason");
    b.end = {static_cast<stop_reason>(reason), c.string("block/stop_message")};
    b.results = std::move(c);
    return b;
}

namespace {

// A part record's parameters and its samples as a finished block; throws parameter_error naming
// the part when it cannot be one.
sample_block part_block(const named_record& part, pspin_quench_parameters& par) {
    const record& rec = part.rec;
    if (rec.system != "pspin" || rec.method == "ck")
        throw parameter_error(part.name + ": not a finite-N pspin_quench record");
    try {
        read_fields(pspin_quench_fields(), rec.parameters, par);
    } catch (const std::exception& e) {
        throw parameter_error(part.name + ": its parameters do not read (" + e.what() + ")");
    }
    if (!rec.complete) throw parameter_error(part.name + ": an incomplete part (resume or rerun it first)");
    sample_block b{par.sample_offset, par.samples, par.samples, {}, {}};
    for (const auto& [path, a] : rec.extra)
        if (path.rfind(sample_block_group, 0) == 0) b.results.arrays[path.substr(sample_block_group.size())] = a;
    if (b.results.arrays.empty())
        throw parameter_error(part.name + ": no /sample_block (write the parts with --sample-offset)");
    return b;
}

// The first parameter key whose value differs between two parts, ignoring the sample range.
std::string first_difference(pspin_quench_parameters a, pspin_quench_parameters b) {
    a.samples = b.samples = 1;
    a.sample_offset = b.sample_offset = 0;
    const nlohmann::json ja = to_json(a), jb = to_json(b);
    for (const auto& [key, value] : ja.items())
        if (!jb.contains(key) || jb.at(key) != value) return key;
    for (const auto& [key, value] : jb.items())
        if (!ja.contains(key)) return key;
    return {};
}

// "samples 4 to 7" (or "sample 4").
std::string sample_range(int from, int to) {
    return from == to ? "sample " + std::to_string(from)
                      : "samples " + std::to_string(from) + " to " + std::to_string(to);
}

} // namespace

record merge_pspin_parts(const std::vector<named_record>& parts) {
    if (parts.empty()) throw parameter_error("--merge needs at least one part record");
    struct part {
        const named_record* named;
        pspin_quench_parameters par;
        sample_block block;
    };
    std::vector<part> all;
    for (const auto& p : parts) {
        part x{&p, {}, {}};
        x.block = part_block(p, x.par);
        if (const std::string key = first_difference(all.empty() ? x.par : all.front().par, x.par); !key.empty())
            throw parameter_error(all.front().named->name + " and " + p.name +
                                  " are not parts of one run: parameter '" + key + "' differs");
        all.push_back(std::move(x));
    }
    std::stable_sort(all.begin(), all.end(),
                     [](const part& a, const part& b) { return a.block.first < b.block.first; });
    pspin_quench_parameters whole = all.front().par;
    whole.samples = 0;
    std::vector<sample_block> blocks;
    double wall = 0;
    for (std::size_t i = 0; i < all.size(); ++i) {
        const int next = whole.sample_offset + whole.samples, first = all[i].block.first;
        if (i > 0 && first < next)
            throw parameter_error(all[i - 1].named->name + " and " + all[i].named->name + " overlap (" +
                                  sample_range(first, std::min(next, first + all[i].block.samples) - 1) + " in both)");
        if (i > 0 && first > next)
            throw parameter_error("no part holds " + sample_range(next, first - 1) + " (between " +
                                  all[i - 1].named->name + " and " + all[i].named->name + ")");
        whole.samples += all[i].block.samples;
        wall += all[i].named->rec.parameters.value("wall_seconds", 0.0);
        blocks.push_back(std::move(all[i].block));
    }
    record rec = assemble_pspin_quench(whole, blocks);
    if (const auto& first = all.front().named->rec.parameters; first.contains("threads"))
        rec.parameters["threads"] = first.at("threads");
    rec.parameters["wall_seconds"] = wall;
    return rec;
}

} // namespace glassy
