#pragma once
/// @file A finite-N p-spin quench from T = infinity: K independent disorder samples and
/// initial conditions run through glassy::integrate, recorded into one glassy::record.
#include "dynamics/barrier.hpp"
#include "dynamics/checkpoint.hpp"
#include "dynamics/driver.hpp"
#include "dynamics/fields.hpp"
#include "dynamics/record.hpp"
#include "dynamics/run_control.hpp"
#include "physics/pspin.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace glassy {

/// How a finite-N quench moves the spins (pspin_quench --method; its "ck" is run_ck, N = infinity).
enum class quench_method {
    langevin,  ///< Euler–Maruyama Langevin dynamics on the sphere, step dt
    heun,      ///< stochastic Heun (RK2) Langevin dynamics, step dt
    metropolis ///< Metropolis sweeps of random rotations; a step is one sweep
};
/// Parses "langevin", "heun" or "metropolis"; throws field_error (key "method") otherwise.
[[nodiscard]] quench_method parse_quench_method(const std::string& name);
/// The name parse_quench_method accepts (the record's method attribute).
[[nodiscard]] std::string to_string(quench_method method);

/// Parameters of a finite-N quench. Times are physical (units of the Langevin time; sweeps for
/// Metropolis) and are rounded to whole steps of dt.
struct pspin_quench_parameters {
    int p = 3;                                      ///< interaction order, >= 2
    int n = 256;                                    ///< number of spins N, >= p
    double temperature = 0.5;                       ///< bath temperature T >= 0 after the quench
    quench_method method = quench_method::langevin; ///< how the spins move
    double dt = 0.05;                               ///< time step (Langevin); Metropolis always uses 1 sweep
    double tmax = 1000.0;                           ///< last time of the run
    int samples = 1;                                ///< independent disorder samples + initial conditions
    /// Index of the first sample: the run computes samples sample_offset ... sample_offset +
    /// samples - 1 of the ensemble of its seed (a sample's random streams depend on (seed, index)
    /// only), so runs with consecutive offsets are the parts of one larger run (pspin_quench
    /// --sample-offset, docs/cluster.md). >= 0; 0 is the plain run.
    int sample_offset = 0;
    /// Replicas per disorder sample: R copies with the sample's couplings and their own initial
    /// condition and noise, integrated as one batch (the p = 3 Langevin gradient reads each
    /// coupling once for all R; Metropolis runs the replicas one after another). In the record
    /// every replica counts as a sample: n_s = samples x replicas, sample-major.
    int replicas = 1;
    /// Coupling storage: float64, or float32 (half the memory, couplings rounded to float,
    /// sums accumulated in double; a different, slightly perturbed disorder sample).
    coupling_precision couplings = coupling_precision::float64;
    std::uint64_t seed = 1; ///< master seed: couplings, initial condition and noise
    std::vector<double> tw; ///< waiting times; empty = 1, 3, 10, 30, ... below tmax/2
    int per_decade = 10;    ///< points per decade of the energy and lag schedules
    double theta_max = 0.3; ///< Metropolis rotation amplitude (radians)
    /// Record the spectrum of the Riemannian Hessian (physics/hessian.hpp) of every sample at
    /// the steps of hessian_steps() (/hessian/... in the record).
    bool hessian = false;
    /// 0: the Hessian is measured at the waiting times; K >= 1: at K log-spaced times per decade
    /// from one step to tmax, and at t = 0.
    int hessian_per_decade = 0;
    int hessian_top = 20;       ///< k of /hessian/top: the min(k, N - 1) largest eigenvalues, k >= 1
    double flat_epsilon = 1e-3; ///< flat eigenvalues: |lambda| <= flat_epsilon max|lambda|; in (0, 1)
    /// Record the energy per spin along the great circle from sigma(t_w) to sigma(t_w + t) for
    /// the pairs of barrier_steps() (/barrier/... in the record; physics/barrier.hpp).
    bool barrier = false;
    /// The lags t of the barrier paths (time units, each >= one step); empty = three per decade,
    /// 10^(k/3) from 1 to tmax (and one step when dt < 1).
    std::vector<double> barrier_lags;
    int barrier_points = 21; ///< points per path (also between clones), both ends included, >= 2
    /// Clones (issue 14; dynamics/clones.hpp): 0 = off; K >= 2: at each time of clone_steps() the
    /// state of every sample and replica is copied K times, and each copy runs on to tmax with its
    /// own thermal noise (same couplings), after the main trajectory, which stays as without them
    /// (/clones/... in the record). The clones of sample s, replica r, born at step w: copy k draws
    /// its noise from clone_seed(seed, s, r, w, k).
    int clones = 0;
    /// The birth times of the clones (time units, each in (0, tmax), at least a step from both
    /// ends); empty = the waiting times (waiting_steps).
    std::vector<double> clone_tw;
    /// The lags after birth at which Delta_AB is measured (time units, in [0, tmax]); empty = the
    /// lags of Delta (/aging/t: 0 and per_decade log-spaced steps), so /clones/delta and
    /// /aging/delta share their time axes.
    std::vector<double> clone_lags;
};

/// The field table of pspin_quench_parameters (dynamics/fields.hpp): every parameter once, with
/// its key in the record's `parameters` JSON ("N", "T", "per_decade", ...), its pspin_quench flag
/// and help. "dt" is written as the step actually used (1 sweep for metropolis), "replicas" only
/// when not 1, "couplings" only when not float64, "sample_offset" only when not 0, and "hessian",
/// "hessian_per_decade", "hessian_top", "flat_epsilon" only with --hessian (so records read as
/// before these existed).
[[nodiscard]] const field_table<pspin_quench_parameters>& pspin_quench_fields();

/// Throws field_error (parameter_error) with a one-line message naming the parameter out of its
/// domain, among them a step count samples x tmax/dt above max_quench_steps (it would overflow
/// the 64-bit step counters; that message names --tmax / --dt).
void validate(const pspin_quench_parameters& par);

/// The bound on the steps (samples x tmax/dt) of a quench: below 2^62 ~ 4.6e18, so every step
/// counter, and t_w + lag <= 2 tmax, fits in an int64.
inline constexpr double max_quench_steps = 4611686018427387904.0;

/// Steps of one sample: round(tmax / dt) (at least 1); dt = 1 sweep for Metropolis.
[[nodiscard]] std::int64_t steps_per_sample(const pspin_quench_parameters& par);

/// All parameters as JSON (stored in the record): the field table's, plus num_parameters = N,
/// initial_condition and time_unit ("Langevin time" or "sweeps").
[[nodiscard]] nlohmann::json to_json(const pspin_quench_parameters& par);

/// The steps at which --hessian measures: the waiting steps, or with hessian_per_decade = K >= 1
/// schedule::log_spaced(1, steps_per_sample, K) with step 0.
[[nodiscard]] schedule hessian_steps(const pspin_quench_parameters& par);

/// The (t_w, t) pairs of --barrier, in steps: every waiting step with every barrier lag
/// (par.barrier_lags, or the default) such that t_w + t <= tmax (dynamics/barrier.hpp's
/// barrier_pairs), t_w-major; empty without par.barrier.
[[nodiscard]] std::vector<barrier_pair> barrier_steps(const pspin_quench_parameters& par);

/// The birth steps of the clones (par.clone_tw, or waiting_steps), sorted, unique; empty
/// without par.clones.
[[nodiscard]] std::vector<std::int64_t> clone_steps(const pspin_quench_parameters& par);

/// The lags of /clones/t in steps (par.clone_lags, or the lags of Delta), sorted, unique; empty
/// without par.clones.
[[nodiscard]] std::vector<std::int64_t> clone_lag_steps(const pspin_quench_parameters& par);

/// The noise seed of clone k of replica r of sample s born at step w (run_pspin_quench): derived
/// from (seed, s, r, w, k) only, never from where the sample runs (rank, thread, part).
[[nodiscard]] std::uint64_t clone_seed(std::uint64_t seed, int s, int r, std::int64_t w, int k) noexcept;

/// The work of a quench in replica-steps (one step of one replica of one sample), for the app's
/// estimate before the run.
struct quench_cost {
    double main = 0;   ///< the main trajectories: samples x replicas x steps_per_sample
    double clones = 0; ///< the clones: samples x replicas x K x sum over births w of (last - w)
    /// (main + clones) / main: how many times the run without clones the run costs.
    [[nodiscard]] double factor() const noexcept { return (main + clones) / main; }
};

/// The cost of a quench with these parameters (validated).
[[nodiscard]] quench_cost cost_estimate(const pspin_quench_parameters& par);

/// The waiting times actually used (par.tw, or the default list), rounded to steps.
[[nodiscard]] std::vector<std::int64_t> waiting_steps(const pspin_quench_parameters& par);

/// Memory a quench holds at once, in bytes: an estimate that lets the app refuse a run the
/// machine cannot hold before it allocates anything.
struct quench_memory {
    /// The C(N, p) couplings of the disorder sample being run (binomial(N, p)): 8 bytes each
    /// for couplings "float64", 4 for "float32".
    double couplings = 0;
    /// replicas x 8 N (n_w + 8) bytes: per replica the spins, a snapshot at each of the n_w
    /// waiting times (waiting_steps) and about 8 work vectors of N doubles.
    double replicas = 0;
    /// With hessian: the spectra kept, n_s n_h (N - 1) x 8 bytes (n_s = samples x replicas, n_h
    /// = hessian_steps), and the dense work of one spectrum, 3 x 8 N^2 bytes (the Euclidean
    /// Hessian, its tangent block and the eigensolver's copy); 0 without.
    double hessian = 0;
    /// With clones K: replicas x 8 N (n_c + 9 K) bytes: per replica the main state at each of
    /// the n_c births (kept in double: the clones continue it exactly) and K clones with their
    /// work vectors; 0 without.
    double clones = 0;
    /// couplings + replicas + hessian + clones.
    [[nodiscard]] double total() const noexcept { return couplings + replicas + hessian + clones; }
};

/// The memory estimate of a quench with these parameters (validated or not; N, p >= 0).
[[nodiscard]] quench_memory memory_estimate(const pspin_quench_parameters& par);

/// The parameters stored in a pspin_quench checkpoint (read through the field table); throws
/// record_error if it is not one or its configuration does not parse.
[[nodiscard]] pspin_quench_parameters parameters_from_checkpoint(const checkpoint& c);

/// Runs the quench and returns its record: system "pspin", method = par.method, /time,
/// /energy (energy per spin H/N, mean over samples and replicas), /energy_samples (when
/// n_s = samples x replicas > 1; row s R + r is replica r of sample s), /observables/mu
/// (T - p e, Langevin) and /observables/acceptance (Metropolis), /aging (Delta at the
/// waiting times and log-spaced lags; delta_samples when n_s > 1, same order; noise = T), and
/// with par.hessian the /hessian datasets (add_hessian_datasets, physics/hessian.hpp) measured at
/// hessian_steps(par), which leave the trajectory and every other dataset as without it, and
/// with par.barrier the /barrier datasets (add_barrier_datasets, physics/barrier.hpp) for the
/// pairs of barrier_steps(par), which likewise only read the trajectory, and with par.clones the
/// /clones datasets (add_clone_datasets, dynamics/clones.hpp): after its main trajectory, each
/// sample runs, for each birth step w of clone_steps(par), its R x K clones from the main state
/// at w to the last step (one batch), recording Delta_AB at w + clone_lag_steps(par) and, at the
/// last step, the pair mean of barrier_height(great_circle_energies) over barrier_points points.
/// Samples: sample_offset ... sample_offset + samples - 1 (s below is that index).
/// Seeds: couplings of sample s from derive_seed(seed, 1, s); replica 0 draws its initial
/// condition and noise from derive_seed(seed, 2, s) and derive_seed(seed, 3, s) (so replicas = 1
/// is the single-replica run), replica r > 0 from derive_seed(that seed, 4, r).
/// Clones: copy k of replica r of sample s born at step w draws its noise from
/// clone_seed(seed, s, r, w, k).
/// Checkpoints (control): the samples already finished and the full state of the current one
/// (spins, noise generators, recorders, step; with clones the births' states, the clone phase
/// in progress with its clones, noise generators and step, and the clone tables), so that a
/// resumed run gives the record of the uninterrupted one bit for bit; throws record_error for a
/// checkpoint of another configuration. hooks.progress receives (work done over all samples,
/// total work), in steps of the main trajectory (a clone step of K copies counts K). If
/// hooks.stop asks to stop, or the energy (or a clone) becomes non-finite, the record is
/// partial: complete = false, parameters["stop_reason"] says why ("interrupted at ..." or
/// "diverged at ..."), and it holds the samples finished so far (or the measured part of the
/// first sample). When stopped by hooks.stop with a checkpoint path, a final checkpoint is
/// written first.
[[nodiscard]] record run_pspin_quench(const pspin_quench_parameters& par, const run_hooks& hooks = {},
                                      const run_control& control = {});

/// What a run of consecutive samples measured, before the sample means: the input of
/// assemble_pspin_quench, and what each rank of an MPI job sends to rank 0 (apps/ensemble.hpp).
/// The per-sample results are kept as the entries a quench checkpoint holds for its finished
/// samples, so everything a sample measures (every dataset with a sample axis) travels with it.
struct sample_block {
    int first = 0;    ///< index of the block's first sample (the run's sample_offset)
    int samples = 0;  ///< samples the run was asked for
    int finished = 0; ///< samples finished (all their replicas): the first `finished` of the block
    /// Per replica-sample k = s R + r (s counted from `first`; the row order of /energy_samples)
    /// the entries "done/k/..." of a quench checkpoint; after a stop, the replicas of one more,
    /// unfinished sample may follow with what they measured before it.
    checkpoint results;
    run_end end; ///< why the run stopped; none when every sample finished
    /// Wall seconds this process spent running clones (--clones), for the app's time split; not
    /// part of save() (a property of this run, not of its samples: 0 after restore).
    double clone_seconds = 0;

    /// The block as one checkpoint (the results, and the other fields under "block/..."), e.g.
    /// to send it to another process with to_bytes (dynamics/checkpoint.hpp).
    [[nodiscard]] checkpoint save() const;
    /// What save() wrote; throws record_error when an entry is missing.
    [[nodiscard]] static sample_block restore(checkpoint c);
};

/// Runs the samples of `par` (sample_offset ... sample_offset + samples - 1; hooks, control and
/// checkpoints exactly as run_pspin_quench) and returns what they measured, unaveraged.
[[nodiscard]] sample_block measure_pspin_samples(const pspin_quench_parameters& par, const run_hooks& hooks = {},
                                                 const run_control& control = {});

/// The record of the quench `par` from the blocks measured for its samples: measure_pspin_samples
/// of `par` with sample_offset and samples cut into consecutive blocks, given in sample order.
/// The means are summed in sample order, so the record is bit for bit the one run_pspin_quench(par)
/// writes, however the samples were cut. When a block stopped (interrupted, diverged), the record
/// is partial as run_pspin_quench's: it holds the samples finished before the first stop (or,
/// when none, the measured part of the first sample) and that block's stop reason. With
/// `keep_samples`, the record also holds what its samples measured before averaging, as the
/// datasets /sample_block/done/<k>/<name> (the entries of sample_block::results): a part record
/// that merge_pspin_parts can join (pspin_quench --sample-offset). Throws error when the blocks do
/// not cover the samples of `par` exactly, in order.
[[nodiscard]] record assemble_pspin_quench(const pspin_quench_parameters& par, const std::vector<sample_block>& blocks,
                                           bool keep_samples = false);

/// A record with the name it is known by (a file name), for messages.
struct named_record {
    std::string name;
    record rec;
};

/// Joins part records (written with keep_samples: pspin_quench --sample-offset K --samples S)
/// into the record of the whole run, bit for bit the one run_pspin_quench writes for samples
/// min K ... max K + S - 1 (aging_analysis --merge, docs/cluster.md). The parts may come in any
/// order. parameters.wall_seconds is the sum of the parts', threads the first part's. Throws
/// parameter_error with one line naming the files when the parts do not belong together: a part
/// without /sample_block (not written with --sample-offset), an incomplete part, parameters that
/// differ (the first differing key is named), samples in two parts or in none.
[[nodiscard]] record merge_pspin_parts(const std::vector<named_record>& parts);

/// A 64-bit seed derived from (master, stream, index) by SplitMix64; streams are independent.
[[nodiscard]] std::uint64_t derive_seed(std::uint64_t master, std::uint64_t stream, std::uint64_t index) noexcept;

} // namespace glassy
