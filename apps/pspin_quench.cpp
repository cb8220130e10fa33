// pspin_quench: quench the spherical p-spin model from T = infinity and write a record.
// This main only parses flags, builds the run, runs it, and writes the record.
#include "apps/common.hpp"
#include "apps/ensemble.hpp"
#include "dynamics/checkpoint.hpp"
#include "dynamics/record.hpp"
#include "dynamics/run_control.hpp"
#include "physics/ck_run.hpp"
#include "physics/pspin.hpp"
#include "physics/quench.hpp"

#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

namespace {

using namespace glassy;

/// What the command line gives: the parameters of both kinds of run and the app's own flags.
struct cli_values {
    pspin_quench_parameters par;
    ck_parameters ck; // --method ck
    app::run_output output{"pspin_quench.h5"};
    int threads = 0;
    const app::ensemble* job = nullptr;                              // the MPI job (one process without mpirun)
    std::unique_ptr<app::flag_set<pspin_quench_parameters>> physics; // the finite-N flags
    /// --mix --T0 --scheme --grid, and the finite-N flags CK reads too (--p --T --tmax --dt
    /// --per-decade: shared, so the CK parameters come from them when given)
    std::unique_ptr<app::flag_set<ck_parameters>> ck_flags;
};

/// The flag table: every flag onto its field.
void add_flags(CLI::App& app, cli_values& v) {
    v.physics = std::make_unique<app::flag_set<pspin_quench_parameters>>(app, pspin_quench_fields(), v.par);
    v.ck_flags = std::make_unique<app::flag_set<ck_parameters>>(app, ck_parameters_fields(), v.ck);
    app.add_option("--threads", v.threads,
                   "OpenMP threads (0 = all cores, 1 per rank under mpirun); results do not depend on it")
        ->capture_default_str();
    app::add_run_output_flags(app, v.output);
}

/// The hooks of a run: `progress` updated every `every` steps, a stop on SIGINT/SIGTERM that sets
/// `interrupted` (app::stop_on_signal).
run_hooks quench_hooks(app::progress_line& progress, std::int64_t every, bool& interrupted) {
    run_hooks hooks;
    hooks.progress_every = every;
    hooks.progress = [&progress](std::int64_t done, std::int64_t total) { progress.update(done, total); };
    hooks.stop = app::stop_on_signal(interrupted);
    return hooks;
}

/// The CK parameters the command line gives (no checkpoint): the CK flags (through their field
/// table, with the flags shared with the finite-N methods: --p --T --tmax --dt --per-decade);
/// refuses --p with --mix and --grid with --scheme reference.
ck_parameters ck_given(const CLI::App& app, const cli_values& v) {
    if (app.count("--mix") > 0) app::refuse_given(app, {"--p"}, "with --mix (the mixture gives the model)");
    v.ck_flags->apply(); // into v.ck (throws field_error)
    if (v.ck.scheme == ck_scheme::reference)
        app::refuse_given(app, {"--grid"}, "with --scheme reference (a uniform grid of step --dt)");
    return v.ck;
}

/// The flags CK ignores: those of the finite-N table that the CK table does not share, but
/// --method (--N --samples --sample-offset --replicas --couplings --seed --tw --theta-max and the
/// --hessian flags: N = infinity, CK is deterministic, its waiting times are 10^(k/4)).
std::vector<std::string> finite_n_only_flags(const cli_values& v) {
    const std::vector<std::string> ck = v.ck_flags->flags();
    std::vector<std::string> out;
    for (const auto& flag : v.physics->flags())
        if (flag != "--method" && std::find(ck.begin(), ck.end(), flag) == ck.end()) out.push_back(flag);
    return out;
}

/// The CK parameters from the flags (or the checkpoint's), validated; refuses flags without effect.
ck_parameters ck_from_flags(const CLI::App& app, const cli_values& v, const std::optional<checkpoint>& saved) {
    if (saved && !is_ck_checkpoint(*saved))
        throw parameter_error("checkpoint " + v.output.resume + " is from a finite-N run, not --method ck");
    app::refuse_given(app, {"--hessian", "--hessian-per-decade", "--hessian-top", "--flat-epsilon"},
                      "with --method ck (no finite-N Hessian at N = infinity)");
    app::refuse_given(app, {"--clones", "--clone-tw", "--clone-lags"},
                      "with --method ck (clones need thermal noise: --method langevin, heun or metropolis)");
    app::refuse_given(app, finite_n_only_flags(v),
                      "with --method ck (N = infinity, deterministic, waiting times 10^(k/4))");
    if (saved) {
        if (const std::string flag = app::first_given(app, v.ck_flags->flags()); !flag.empty())
            throw parameter_error("leave physics flags out when resuming a CK checkpoint (" + flag + " given)");
        if (const std::string method = v.physics->text("--method"); app.count("--method") > 0 && method != "ck")
            throw parameter_error("checkpoint " + v.output.resume + " is from a --method ck run, not --method " +
                                  method + "; leave --method out when resuming");
    }
    ck_parameters ck = saved ? ck_parameters_from_checkpoint(*saved) : ck_given(app, v);
    ck.threads = v.threads;
    validate(ck);
    return ck;
}

/// The finite-N parameters from the flags, or the checkpoint's (refusing physics flags that
/// differ from them), validated; refuses flags without effect.
pspin_quench_parameters finite_n_from_flags(const CLI::App& app, cli_values& v,
                                            const std::optional<checkpoint>& saved) {
    v.physics->apply();
    pspin_quench_parameters par = v.par;
    if (saved) {
        const auto stored = parameters_from_checkpoint(*saved);
        if (const std::string flag = v.physics->first_differing(to_json(par), to_json(stored)); !flag.empty())
            throw parameter_error("checkpoint " + v.output.resume + " is from a different configuration (" + flag +
                                  " differs); leave physics flags out when resuming");
        par = stored;
    }
    validate(par);
    const std::string method = to_string(par.method);
    app::refuse_given(app, v.ck_flags->flags(true), "with --method " + method + " (a --method ck flag)");
    if (par.method == quench_method::metropolis)
        app::refuse_given(app, {"--dt"}, "with --method metropolis (a step is one sweep)");
    else app::refuse_given(app, {"--theta-max"}, "with --method " + method + " (the Metropolis rotation amplitude)");
    if (!par.hessian)
        app::refuse_given(app, {"--hessian-per-decade", "--hessian-top", "--flat-epsilon"}, "without --hessian");
    if (!par.barrier) app::refuse_given(app, {"--barrier-lags"}, "without --barrier");
    if (!par.barrier && par.clones == 0) app::refuse_given(app, {"--barrier-points"}, "without --barrier or --clones");
    if (par.clones == 0) app::refuse_given(app, {"--clone-tw", "--clone-lags"}, "without --clones");
    if (app.count("--hessian-per-decade") > 0 && par.hessian_per_decade < 1)
        throw field_error("hessian_per_decade", "must be >= 1 (leave it out to measure at the waiting times)");
    if (v.threads < 0) throw parameter_error("--threads must be >= 0");
    return par;
}

/// Under mpirun with more than one rank: refuses what the ranks cannot share (docs/cluster.md).
/// A resumed job needs no check: each rank's checkpoint holds its own samples.
void check_ranks(const app::ensemble& job, const pspin_quench_parameters& par, bool resumed) {
    if (job.size() > par.samples && !resumed)
        throw parameter_error("under mpirun with " + std::to_string(job.size()) + " ranks: more ranks than --samples " +
                              std::to_string(par.samples) + " (a rank runs whole samples; use -np " +
                              std::to_string(par.samples) + " or fewer)");
}

/// Under mpirun with more than one rank: this rank's samples (its share of `par`, app::share_of,
/// or with control.resume the part its checkpoint holds), measured with checkpoints in this rank's
/// own file, gathered on rank 0 and assembled there into the record one process writes
/// (assemble_pspin_quench, with the samples kept for a part record); nullopt on the other ranks.
/// An error on a rank ends the whole job.
std::optional<record> run_shared(const app::ensemble& job, const pspin_quench_parameters& par, const run_hooks& hooks,
                                 const run_control& control, bool keep_samples) {
    pspin_quench_parameters part = par;
    if (!control.resume) {
        const app::share mine = app::share_of(job.rank(), job.size(), par.samples);
        part.sample_offset = par.sample_offset + mine.first;
        part.samples = mine.count;
    }
    std::string bytes;
    try {
        bytes = to_bytes(measure_pspin_samples(part, hooks, control).save());
    } catch (const std::exception& e) {
        job.fail("pspin_quench", e.what(), 1);
    }
    const std::vector<std::string> parts = job.gather(bytes);
    if (!job.root()) return std::nullopt;
    std::vector<sample_block> blocks;
    for (const auto& b : parts) blocks.push_back(sample_block::restore(checkpoint_from_bytes(b)));
    pspin_quench_parameters whole = par; // the job's samples: from the first block's to the last's
    whole.sample_offset = blocks.front().first;
    whole.samples = 0;
    for (const auto& b : blocks) whole.samples += b.samples;
    return assemble_pspin_quench(whole, blocks, keep_samples);
}

/// Writes the record and returns the exit code (app::finish_run); on rank 0 of several, a failure
/// ends the whole job (the other ranks wait in remove_when_complete).
int write_record_of(const cli_values& v, record& rec, const std::filesystem::path& own, bool interrupted) {
    const std::filesystem::path shown = v.job->size() > 1 ? v.output.checkpoint_path() : own; // what --resume takes
    try {
        const int rc = app::finish_run("pspin_quench", rec, v.output.out, rec.complete ? own : shown, interrupted);
        v.job->remove_when_complete(rec.complete, own);
        return rc;
    } catch (const std::exception& e) {
        if (v.job->size() > 1) v.job->fail("pspin_quench", e.what(), 1);
        throw;
    }
}

/// The end of a run on the rank that writes: the progress line finished, wall_seconds recorded,
/// the record written (write_record_of) and, for a complete run, its summary line printed with
/// e(t) to `digits` decimals; returns the exit code.
int write_and_report(const cli_values& v, record& rec, app::progress_line& progress, const std::filesystem::path& own,
                     bool interrupted, int digits) {
    progress.finish();
    rec.parameters["wall_seconds"] = progress.elapsed();
    if (const int rc = write_record_of(v, rec, own, interrupted); rc >= 0) return rc;
    std::printf("wrote %s: e(t = %g) = %.*f, %zu times, %zu waiting times, %.1f s\n", v.output.out.c_str(),
                rec.time.back(), digits, rec.energy.back(), rec.time.size(), rec.aging.tw.size(), progress.elapsed());
    return 0;
}

/// --method ck: integrates the CK equations and writes the record; returns the exit code.
int run_ck_quench(const CLI::App& app, const cli_values& v, const std::optional<checkpoint>& saved) {
    if (v.job->size() > 1)
        throw parameter_error("--method ck integrates one system: run it without mpirun (or with -np 1)");
    const ck_parameters ck = ck_from_flags(app, v, saved);
    const run_control control = app::output_control(v.output, saved);
    app::check_output(v.output.out, v.output.force);
    if (v.threads > 0) omp_set_num_threads(v.threads); // the app's choice, not the library's
    if (!v.output.quiet)
        std::fprintf(stderr,
                     "pspin_quench: N = infinity (CK), mix %s, T = %g, T0 = %g, tmax = %g, scheme %s, %lld steps%s\n",
                     ck.mix.str().c_str(), ck.T, ck.T0, ck.tmax, to_string(ck.scheme).c_str(),
                     static_cast<long long>(ck_steps(ck)), saved ? " (resumed)" : "");
    app::install_signal_handlers();
    app::progress_line progress(!v.output.quiet, "pspin_quench");
    bool interrupted = false;
    record rec = run_ck(ck, quench_hooks(progress, 1, interrupted), control);
    const int rc = write_and_report(v, rec, progress, control.checkpoint_path, interrupted, 7);
    if (const auto it = rec.extra.find("ck/energy_error"); rc == 0 && rec.complete && it != rec.extra.end())
        std::printf("estimated error of e(t = %g): %+.2e (e on grid %d/2 minus e on grid %d; docs/ck.md)\n",
                    rec.time.back(), it->second.data.back(), ck.grid, ck.grid);
    return rc;
}

/// The cost line of --clones: the work of the clones next to the main trajectories' (cost_estimate).
void print_clone_cost(const pspin_quench_parameters& par, const quench_memory& memory) {
    const quench_cost cost = cost_estimate(par);
    std::fprintf(stderr,
                 "pspin_quench: --clones %d at %zu birth time(s): %.3g clone replica-steps after the %.3g of the main "
                 "trajectories, %.2fx the run without clones; clones and birth states %.1f MiB\n",
                 par.clones, clone_steps(par).size(), cost.clones, cost.main, cost.factor(), memory.clones / (1 << 20));
}

/// --method langevin|heun|metropolis: runs the quench and writes the record; returns the exit code.
int run_finite_n_quench(const CLI::App& app, cli_values& v, const std::optional<checkpoint>& saved) {
    const pspin_quench_parameters par = finite_n_from_flags(app, v, saved);
    check_ranks(*v.job, par, saved.has_value());
    run_control control = app::output_control(v.output, saved);
    control.checkpoint_path = v.job->own_file(control.checkpoint_path);
    const quench_memory memory = memory_estimate(par);
    if (par.hessian)
        app::check_memory(memory.hessian, "--hessian at --N " + std::to_string(par.n) +
                                              " (dense N x N Hessians and the spectra of every sample and time)");
    app::check_memory(memory.total(),
                      "couplings (N = " + std::to_string(par.n) + ", p = " + std::to_string(par.p) + ") and snapshots");
    app::check_output(v.output.out, v.output.force);
    if (v.threads > 0 || v.job->size() > 1) omp_set_num_threads(v.threads > 0 ? v.threads : 1);
    app::install_signal_handlers();
    if (!v.output.quiet)
        std::fprintf(stderr,
                     "pspin_quench: p = %d, N = %d, T = %g, %s, dt = %g, tmax = %g, %lld steps, %d sample(s) x %d "
                     "replica(s), %d thread(s)%s, couplings %.1f MiB%s\n",
                     par.p, par.n, par.temperature, to_string(par.method).c_str(),
                     par.method == quench_method::metropolis ? 1.0 : par.dt, par.tmax,
                     static_cast<long long>(steps_per_sample(par)) * par.samples, par.samples, par.replicas,
                     omp_get_max_threads(),
                     v.job->size() > 1 ? (" per rank x " + std::to_string(v.job->size()) + " MPI ranks").c_str() : "",
                     memory.couplings / (1 << 20), saved ? " (resumed)" : "");
    if (!v.output.quiet && par.clones > 0) print_clone_cost(par, memory);
    app::progress_line progress(!v.output.quiet, "pspin_quench");
    bool interrupted = false;
    const run_hooks hooks = quench_hooks(progress, 50, interrupted);
    // A part of a larger run (--sample-offset, docs/cluster.md) keeps its samples for the merge.
    const bool part = app.count("--sample-offset") > 0 || par.sample_offset != 0;
    std::optional<record> shared = v.job->size() > 1 ? run_shared(*v.job, par, hooks, control, part) : std::nullopt;
    if (v.job->size() > 1 && !shared) { // not rank 0: rank 0 writes the record
        v.job->remove_when_complete(false, control.checkpoint_path);
        return 0;
    }
    std::optional<sample_block> block;
    if (!shared) block = measure_pspin_samples(par, hooks, control);
    record rec = shared ? std::move(*shared) : assemble_pspin_quench(par, {*block}, part);
    rec.parameters["threads"] = omp_get_max_threads();
    if (v.job->size() > 1) rec.parameters["ranks"] = v.job->size();
    const int rc = write_and_report(v, rec, progress, control.checkpoint_path, interrupted, 6);
    if (block && par.clones > 0 && !v.output.quiet) // one process: the actual split of the estimate above
        std::fprintf(stderr, "pspin_quench: time split: clones %.1f s of %.1f s (%.0f %%)\n", block->clone_seconds,
                     progress.elapsed(), 100 * block->clone_seconds / std::max(progress.elapsed(), 1e-9));
    return rc;
}

} // namespace

int main(int argc, char** argv) {
    std::optional<app::ensemble> job; // first: MPI_Init may edit argv
    try {
        job.emplace(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pspin_quench: error: %s\n", e.what());
        return 1;
    }
    cli_values v;
    v.job = &*job;
    CLI::App app{"Quench the spherical p-spin glass from T = infinity to T and record e(t) and "
                 "Delta(t_w, t_w + t).\nFinite N: --method langevin|heun|metropolis; N = infinity: --method ck "
                 "(Cugliandolo-Kurchan equations).",
                 "pspin_quench"};
    add_flags(app, v);
    if (const int rc = app::parse(app, argc, argv); rc >= 0) return rc;
    if (!job->mpi()) // no exec once MPI runs; under mpirun, docs/cluster.md sets OMP_WAIT_POLICY
        app::exec_with_passive_omp_wait(v.threads > 0 ? v.threads : omp_get_max_threads(), argv); // docs/cli.md

    try {
        std::optional<checkpoint> saved;
        if (!v.output.resume.empty()) saved = job->read_own_checkpoint("pspin_quench", v.output.resume);
        if (v.physics->text("--method") == "ck" || (saved && is_ck_checkpoint(*saved)))
            return run_ck_quench(app, v, saved);
        return run_finite_n_quench(app, v, saved);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pspin_quench: error: %s\n", app::error_message(e, *v.physics, *v.ck_flags).c_str());
        return 1;
    }
}
