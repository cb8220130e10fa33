// net_quench: train a network with constant-rate SGD (or SGLD) from PyTorch's default
// initialisation and write a glassy record (loss, accuracy, Delta(t_w, t_w + t), D(t_w)).
// Thin main: parse flags, build the quench, run it with a progress line, write the record.
#include "apps/common.hpp"
#include "apps/ensemble.hpp"
#include "dynamics/checkpoint.hpp"
#include "dynamics/error.hpp"
#include "dynamics/record.hpp"
#include "nets/quench.hpp"
#include "nets/seeds.hpp"
#include "nets/train_seeds.hpp"

#include <CLI/CLI.hpp>
#include <torch/torch.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

namespace fs = std::filesystem;

namespace {

/// --data-dir default: $GLASSY_DATA_DIR, else the first `data` folder found walking up from
/// the executable's directory (so build/release/apps/net_quench finds <repo>/data), else ./data.
fs::path default_data_dir() {
    if (const char* env = std::getenv("GLASSY_DATA_DIR"); env && *env) return env;
    std::error_code ec;
    fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
    while (!ec && !dir.empty()) {
        if (fs::is_directory(dir / "data")) return dir / "data";
        if (dir == dir.root_path()) break;
        dir = dir.parent_path();
    }
    return fs::path("data");
}

/// The intra-op thread count of the run: --threads when given (> 0); else, when resuming, the
/// checkpoint's; else OMP_NUM_THREADS when set; else the model's default (nets::default_threads:
/// one thread for the small models, every core for resnet18). docs/cli.md, --threads.
int run_threads(int given, glassy::nets::model_kind model, std::optional<int> kept) {
    if (given > 0) return given;
    if (kept) return *kept;
    const char* env = std::getenv("OMP_NUM_THREADS");
    if (env && std::atoi(env) > 0) return std::atoi(env);
    return glassy::nets::default_threads(model, std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
}

/// Warns when --threads differs from a resumed checkpoint's count: LibTorch's kernels may round
/// differently, so the record can differ in the last bits from the uninterrupted run (docs/nets.md).
void warn_on_changed_threads(int threads, std::optional<int> kept) {
    if (!kept || *kept == threads) return;
    std::cerr << "net_quench: warning: --threads " << threads << " differs from the checkpoint's " << *kept
              << " threads: the resumed record may differ in the last bits from an uninterrupted run\n";
}

/// The warning line for a measurement subset whose classes are badly unbalanced.
std::string unbalanced_note(const glassy::nets::measurement_subset& s) {
    std::int64_t total = 0;
    std::string counts;
    for (const auto c : s.class_counts) {
        total += c;
        counts += (counts.empty() ? "" : " ") + std::to_string(c);
    }
    return "the " + s.what + " subset (" + std::to_string(total) + " samples) is badly unbalanced, class counts " +
           counts +
           " (the split has too few samples of some classes, or fewer samples were asked for than there are classes)";
}

/// ", from DIR" for the folder the data files were read from; empty for synthetic data.
std::string data_source(const glassy::nets::quench& run) {
    return run.data_files().empty() ? "" : ", from " + run.data_files().front().parent_path().string();
}

std::string human_bytes(std::uint64_t b) {
    char buf[64];
    if (b >= (1ULL << 30)) std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(b) / (1ULL << 30));
    else if (b >= (1ULL << 20)) std::snprintf(buf, sizeof buf, "%.2f MiB", static_cast<double>(b) / (1ULL << 20));
    else std::snprintf(buf, sizeof buf, "%.1f KiB", static_cast<double>(b) / 1024.0);
    return buf;
}

/// What the command line gives: the training options (through their field table) and the app's own flags.
struct cli_values {
    glassy::nets::quench_options o;
    std::unique_ptr<glassy::app::flag_set<glassy::nets::quench_options>> training; // the training flags
    std::string data_dir;
    glassy::app::run_output output{"net_quench.h5"};
    int threads = 0;
    std::string seeds;                          // --seeds: "" (one training, --seed) or a-b / a,b,c
    const glassy::app::ensemble* job = nullptr; // the MPI job (one process without mpirun)
};

/// The flags: the training options from quench_options_fields(), then the app's own.
void add_flags(CLI::App& app, cli_values& v) {
    v.training = std::make_unique<glassy::app::flag_set<glassy::nets::quench_options>>(
        app, glassy::nets::quench_options_fields(), v.o);
    app.add_option(
        "--data-dir", v.data_dir,
        "dataset root with mnist/, fashion-mnist/, cifar-10-batches-bin/, cifar-100-binary/, or the folder "
        "holding the dataset's files (default: $GLASSY_DATA_DIR, else the first data/ above the executable)");
    app.add_option("--threads", v.threads,
                   "LibTorch intra-op threads (0: the checkpoint's when resuming, else OMP_NUM_THREADS when set, else "
                   "1, or all cores for resnet18)")
        ->capture_default_str();
    app.add_option("--seeds", v.seeds,
                   "one training per seed, a-b or a,b,c, into one record (per-seed arrays and their means); under "
                   "mpirun the seeds are shared among the ranks (docs/cluster.md)");
    glassy::app::add_run_output_flags(app, v.output);
}

/// The options from the flags, or with --resume those of the checkpoint `saved` (refusing training
/// flags that differ from them; the seed of a --seeds checkpoint is its running seed's).
void options_from_flags(const CLI::App& app, cli_values& v, const std::optional<glassy::checkpoint>& saved) {
    auto& o = v.o;
    v.training->apply();
    o.synthetic.width = o.synthetic.height; // --synthetic-size
    if (saved) {
        const glassy::nets::quench_options stored = glassy::nets::options_from_checkpoint(*saved);
        glassy::nets::quench_options flags = o; // the given flags, on the stored dataset unless --dataset is given
        if (app.count("--dataset") == 0) flags.dataset = stored.dataset;
        if (glassy::nets::is_seeds_checkpoint(*saved)) flags.seed = stored.seed; // --seed is refused with --seeds
        const std::string flag =
            v.training->first_differing(glassy::nets::options_json(flags), glassy::nets::options_json(stored));
        if (!flag.empty())
            throw glassy::parameter_error("checkpoint " + v.output.resume + " is from a different configuration (" +
                                          flag + " differs); leave training flags out when resuming");
        o = stored;
    }
}

/// Refuses flags that the chosen model or dataset ignores (of the run's own options when resuming).
void refuse_ignored_flags(const CLI::App& app, const cli_values& v) {
    const auto& o = v.o;
    using glassy::nets::dataset_kind;
    if (o.model != glassy::nets::model_kind::toy)
        glassy::app::refuse_given(app, {"--hidden"},
                                  "with --model " + glassy::nets::to_string(o.model) + " (the width of the toy model)");
    if (o.model != glassy::nets::model_kind::fc)
        glassy::app::refuse_given(app, {"--depth", "--width"},
                                  "with --model " + glassy::nets::to_string(o.model) + " (a size of the fc model)");
    if (o.dataset != dataset_kind::synthetic)
        glassy::app::refuse_given(
            app, {"--synthetic-train", "--synthetic-test", "--synthetic-channels", "--synthetic-size"},
            "with --dataset " + glassy::nets::to_string(o.dataset) + " (a size of the synthetic dataset)");
    if (o.dataset != dataset_kind::random)
        glassy::app::refuse_given(app, {"--input-dim", "--train-size"},
                                  "with --dataset " + glassy::nets::to_string(o.dataset) +
                                      " (a size of the random dataset)");
    if (o.dataset == dataset_kind::synthetic || o.dataset == dataset_kind::random)
        glassy::app::refuse_given(app, {"--data-dir"},
                                  "with --dataset " + glassy::nets::to_string(o.dataset) + " (the data are generated)");
    if (app.count("--stop-loss") > 0 && !(o.stop_loss > 0))
        throw glassy::parameter_error("--stop-loss must be > 0 (leave it out to run all --steps)");
    if (!o.hessian)
        glassy::app::refuse_given(app, {"--hessian-top", "--hessian-samples", "--flat-epsilon"},
                                  "without --hessian (a setting of the Hessian spectra)");
    if (!o.barrier)
        glassy::app::refuse_given(app, {"--barrier-lags", "--barrier-samples"},
                                  "without --barrier (a setting of the straight lines)");
    if (!o.barrier && o.clones == 0)
        glassy::app::refuse_given(app, {"--barrier-points"},
                                  "without --barrier or --clones (a setting of the straight lines)");
    if (o.clones == 0)
        glassy::app::refuse_given(app, {"--clone-tw", "--clone-lags"}, "without --clones (a setting of the clones)");
}

/// Sets the run's intra-op thread count (run_threads; one per rank under mpirun unless --threads
/// says otherwise), re-executing first with passive OpenMP waiting when it is above one
/// (exec_with_passive_omp_wait, before any output; not once MPI runs: docs/cluster.md sets it).
void set_threads(const cli_values& v, const std::optional<glassy::checkpoint>& saved, char** argv) {
    if (v.threads < 0) throw glassy::parameter_error("--threads must be >= 0");
    std::optional<int> kept; // assigned, not initialised by ?: (GCC 12 -Wmaybe-uninitialized on that)
    if (saved) kept = glassy::nets::checkpoint_threads(*saved);
    const int threads = run_threads(v.threads == 0 && v.job->mpi() ? 1 : v.threads, v.o.model, kept);
    if (!v.job->mpi()) glassy::app::exec_with_passive_omp_wait(threads, argv); // docs/cli.md, --threads
    warn_on_changed_threads(threads, kept);
    torch::set_num_threads(threads);
}

/// Refuses a run whose snapshots do not fit in memory; prints the warnings and the start line.
void report_start(const glassy::nets::quench& run, const cli_values& v, bool resumed) {
    // Live snapshots (n_w x M x 4 bytes, doubled when saved) on top of the model and data.
    glassy::app::check_memory(static_cast<double>(run.snapshot_bytes()),
                              "the weight snapshots (" + std::to_string(run.num_waiting_times()) + " waiting times x " +
                                  std::to_string(run.num_parameters()) + " weights)");
    if (v.o.batch == glassy::nets::full_batch) // the training set in one forward and backward pass
        glassy::app::check_memory(static_cast<double>(run.step_bytes()), "--batch all: the activations of " +
                                                                             std::to_string(run.train_count()) +
                                                                             " training samples in one step");
    if (run.hessian_bytes() > 0)
        glassy::app::check_memory(static_cast<double>(run.snapshot_bytes() + run.hessian_bytes()),
                                  "the weight snapshots and the Lanczos vectors of --hessian (" +
                                      std::to_string(run.num_parameters()) + " weights each)");
    if (run.barrier_bytes() > 0)
        glassy::app::check_memory(static_cast<double>(run.snapshot_bytes() + run.barrier_bytes()),
                                  "the weight snapshots of Delta and of --barrier (" +
                                      std::to_string(run.num_parameters()) + " weights each)");
    if (run.clone_bytes() > 0)
        glassy::app::check_memory(static_cast<double>(run.snapshot_bytes() + run.clone_bytes()),
                                  "the weight snapshots of Delta and the births and snapshots of --clones (" +
                                      std::to_string(run.num_parameters()) + " weights each)");
    for (const auto& subset : run.measurement_subsets())
        if (glassy::nets::badly_unbalanced(subset.class_counts))
            std::cerr << "net_quench: warning: " << unbalanced_note(subset) << "\n";
    if (!v.output.quiet)
        std::cerr << "net_quench: " << glassy::nets::to_string(v.o.model) << " on "
                  << glassy::nets::to_string(v.o.dataset) << " (" << run.train_count() << " training samples"
                  << data_source(run) << "), M = " << run.num_parameters() << " weights, " << run.num_waiting_times()
                  << " waiting times, snapshot memory " << human_bytes(run.snapshot_bytes()) << " ("
                  << run.snapshot_bytes() << " bytes), " << v.o.steps << " steps, threads " << torch::get_num_threads()
                  << (resumed ? " (resumed)" : "") << "\n";
    if (!v.output.quiet && v.o.barrier)
        std::cerr << "net_quench: --barrier: " << run.num_barrier_pairs() << " lines of " << v.o.barrier_points
                  << " points on " << run.num_barrier_samples() << " training samples, snapshot memory at most "
                  << human_bytes(run.barrier_bytes()) << " (" << run.barrier_bytes() << " bytes, float32)\n";
    if (!v.output.quiet && v.o.clones > 0)
        std::cerr << "net_quench: --clones " << v.o.clones << ": " << run.num_clone_births()
                  << " births, K x the remaining steps = " << run.clone_steps() << " clone steps after the "
                  << v.o.steps << " of the main run (" << std::setprecision(3)
                  << 1.0 + static_cast<double>(run.clone_steps()) / static_cast<double>(v.o.steps)
                  << " x its cost), clone memory at most " << human_bytes(run.clone_bytes()) << " ("
                  << run.clone_bytes() << " bytes)\n";
}

/// Runs the training under `control` with a progress line and writes the record; returns the exit code.
int run_and_write(glassy::nets::quench& run, const cli_values& v, const glassy::run_control& control) {
    const auto& o = v.o;
    const auto& out = v.output.out;
    glassy::app::install_signal_handlers();
    glassy::app::progress_line progress(!v.output.quiet, "net_quench");
    glassy::run_hooks hooks;
    hooks.progress_every = std::clamp<std::int64_t>(o.steps / 1000, 1, 10); // often enough for the early estimate
    hooks.progress = [&](std::int64_t step, std::int64_t total) {
        char loss[64];
        std::snprintf(loss, sizeof loss, " batch loss %.4g", run.last_loss());
        progress.update(step, total, loss);
    };
    bool interrupted = false;
    hooks.stop = glassy::app::stop_on_signal(interrupted);
    glassy::record rec = run.run(hooks, control);
    progress.finish();
    rec.parameters["threads"] = torch::get_num_threads();
    rec.parameters["wall_seconds"] = progress.elapsed();
    const glassy::nets::run_timing& tm = run.timing();
    rec.parameters["timing"] = {{"steps_s", tm.steps_s}, {"metrics_s", tm.metrics_s},         {"noise_s", tm.noise_s},
                                {"aging_s", tm.aging_s}, {"checkpoints_s", tm.checkpoints_s}, {"total_s", tm.total_s}};
    if (o.hessian) rec.parameters["timing"]["hessian_s"] = tm.hessian_s;  // only with --hessian: JSON unchanged without
    if (o.barrier) rec.parameters["timing"]["barrier_s"] = tm.barrier_s;  // likewise
    if (o.clones > 0) rec.parameters["timing"]["clones_s"] = tm.clones_s; // likewise
    if (const int rc = glassy::app::finish_run("net_quench", rec, out, control.checkpoint_path, interrupted); rc >= 0)
        return rc;
    const auto last = [&](const char* name) { return rec.observables.at(name).back(); };
    char unsatisfied[64] = "";
    if (rec.observables.count("unsatisfied_fraction"))
        std::snprintf(unsatisfied, sizeof unsatisfied, ", unsatisfied fraction %.4g", last("unsatisfied_fraction"));
    const double steps = rec.parameters.at("steps_done").get<double>();
    std::printf("wrote %s: train loss %.4g acc %.4f%s, test loss %.4g acc %.4f at t = %g; %.1f s (%.2f ms/step incl. "
                "measurements)\n",
                out.c_str(), last("train_loss"), last("train_accuracy"), unsatisfied, last("test_loss"),
                last("test_accuracy"), rec.time.back(), progress.elapsed(),
                1e3 * progress.elapsed() / std::max(1.0, steps));
    if (rec.parameters.contains("stop_reason"))
        std::printf("%s\n", rec.parameters.at("stop_reason").get<std::string>().c_str());
    if (!v.output.quiet) {
        char hessian[64] = "", barrier[96] = "";
        if (o.hessian) std::snprintf(hessian, sizeof hessian, ", Hessian %.1f s", tm.hessian_s);
        if (o.barrier)
            std::snprintf(barrier, sizeof barrier, ", barrier lines %.1f s = %.1f %% of the steps", tm.barrier_s,
                          tm.steps_s > 0 ? 100.0 * tm.barrier_s / tm.steps_s : 0.0);
        std::printf(
            "time: SGD steps %.1f s; measurements %.1f s = %+.1f %% of the steps (evaluations %.1f s, D %.1f s, "
            "Delta %.1f s%s%s); checkpoints %.1f s\n",
            tm.steps_s, tm.metrics_s + tm.noise_s + tm.aging_s + tm.hessian_s + tm.barrier_s, 100.0 * tm.overhead(),
            tm.metrics_s, tm.noise_s, tm.aging_s, hessian, barrier, tm.checkpoints_s);
        if (o.clones > 0)
            std::printf("time: clones %.1f s = %.2f x the SGD steps of the main run (estimate %.2f x)\n", tm.clones_s,
                        tm.steps_s > 0 ? tm.clones_s / tm.steps_s : 0.0,
                        static_cast<double>(run.clone_steps()) / static_cast<double>(o.steps));
    }
    return 0;
}

// ---- --seeds: one training per seed, shared among the ranks of an MPI job (docs/cluster.md) ----

/// Refuses, before any work, what --seeds cannot do and more ranks than seeds.
void check_seeds(const CLI::App& app, const cli_values& v, std::size_t seeds) {
    glassy::app::refuse_given(app, {"--seed"}, "with --seeds (each training takes its seed from the list)");
    glassy::app::refuse_given(app, {"--stop-loss"}, "with --seeds (the seeds would stop at different steps)");
    if (const std::string flag = glassy::app::first_given(app, {"--clones", "--clone-tw", "--clone-lags"});
        !flag.empty())
        throw glassy::parameter_error(flag + " is not supported with --seeds (run one net_quench per seed and "
                                             "average the records with aging_analysis)");
    if (static_cast<std::size_t>(v.job->size()) > seeds)
        throw glassy::parameter_error("under mpirun with " + std::to_string(v.job->size()) +
                                      " ranks: more ranks than --seeds (" + std::to_string(seeds) +
                                      " seeds; a rank trains whole seeds, use -np " + std::to_string(seeds) +
                                      " or fewer)");
}

/// The seeds of the job: --seeds, or with --resume of a --seeds checkpoint the checkpoint's list
/// (refusing a --seeds that differs from it); empty for one training. A checkpoint of one
/// training refuses --seeds.
std::vector<std::uint64_t> seeds_of(const cli_values& v, const std::optional<glassy::checkpoint>& saved) {
    const std::vector<std::uint64_t> given =
        v.seeds.empty() ? std::vector<std::uint64_t>{} : glassy::nets::parse_seeds(v.seeds, "--seeds");
    if (!saved) return given;
    const std::string& name = v.output.resume;
    if (!glassy::nets::is_seeds_checkpoint(*saved)) {
        if (!given.empty())
            throw glassy::parameter_error("checkpoint " + name +
                                          " is from a training without --seeds; leave --seeds out when resuming it");
        return given;
    }
    const std::vector<std::uint64_t> kept = glassy::nets::parse_seeds(saved->string("seeds/list"), name);
    if (!given.empty() && given != kept)
        throw glassy::parameter_error("checkpoint " + name + " is from --seeds " + glassy::nets::seeds_text(kept) +
                                      " (--seeds differs); leave --seeds out when resuming");
    return kept;
}

/// This rank's block of seeds trained (nets::train_seeds): its share of `seeds` (app::share_of),
/// or the block the resumed checkpoint holds, continued; checkpoints as `control` says, in this
/// rank's own file. A diverged seed is an error; on a rank of several, an error ends the job.
glassy::nets::seed_block train_share(const cli_values& v, const std::vector<std::uint64_t>& seeds,
                                     const glassy::run_control& control, glassy::app::progress_line& progress) {
    const glassy::app::ensemble& job = *v.job;
    try {
        glassy::nets::seed_block block;
        if (control.resume) {
            block = glassy::nets::seed_block::restore(*control.resume);
            block.end = {};
        } else {
            const glassy::app::share mine =
                glassy::app::share_of(job.rank(), job.size(), static_cast<int>(seeds.size()));
            block.seeds = seeds;
            block.first = mine.first;
            block.count = mine.count;
        }
        glassy::run_hooks hooks;
        hooks.progress_every = std::clamp<std::int64_t>(v.o.steps / 1000, 1, 10);
        hooks.progress = [&](std::int64_t step, std::int64_t total) { progress.update(step, total); };
        bool interrupted = false;
        hooks.stop = glassy::app::stop_on_signal(interrupted);
        bool started = false;
        const auto on_start = [&](const glassy::nets::quench& run, int, bool resumed) {
            if (!std::exchange(started, true)) report_start(run, v, resumed);
        };
        block = glassy::nets::train_seeds(v.o, std::move(block), hooks, control, on_start);
        if (block.end.reason == glassy::stop_reason::diverged)
            throw glassy::error(block.end.message + "; --seeds writes no partial record");
        return block;
    } catch (const std::exception& e) {
        if (job.size() > 1) job.fail("net_quench", glassy::app::error_message(e, *v.training), 1);
        throw;
    }
}

/// On rank 0: the record of the blocks of all ranks (in rank order, which is seed order),
/// joined (nets::join_seeds: the same record however the seeds were shared); nullopt when a
/// block was interrupted, after printing why and how to resume.
std::optional<glassy::record> joined_record(const cli_values& v, const std::vector<std::string>& parts,
                                            const std::vector<std::uint64_t>& seeds) {
    std::vector<glassy::record> runs;
    for (const auto& bytes : parts) {
        glassy::nets::seed_block block = glassy::nets::seed_block::restore(glassy::checkpoint_from_bytes(bytes));
        if (block.end.stopped()) {
            std::fprintf(stderr,
                         "net_quench: %s; no record (--seeds writes one once every seed is done), resume "
                         "with --resume %s\n",
                         block.end.message.c_str(), v.output.checkpoint_path().c_str());
            return std::nullopt;
        }
        for (auto& rec : block.done) runs.push_back(std::move(rec));
    }
    return glassy::nets::join_seeds(runs, seeds);
}

/// --seeds: the trainings of this rank's seeds, gathered on rank 0 (seed_block, to_bytes),
/// joined there and written; each rank's checkpoints in its own file (app::ensemble::own_file),
/// removed once the record is written. Returns the exit code (130 when interrupted: no record).
int run_seeds(const cli_values& v, const std::vector<std::uint64_t>& seeds, glassy::run_control control) {
    const glassy::app::ensemble& job = *v.job;
    control.checkpoint_path = job.own_file(control.checkpoint_path);
    glassy::app::install_signal_handlers();
    glassy::app::progress_line progress(!v.output.quiet, "net_quench");
    const glassy::nets::seed_block mine = train_share(v, seeds, control, progress);
    const std::vector<std::string> parts = job.gather(glassy::to_bytes(mine.save()));
    if (!job.root()) {
        job.remove_when_complete(false, control.checkpoint_path);
        return 0;
    }
    std::optional<glassy::record> rec;
    try {
        rec = joined_record(v, parts, seeds);
        progress.finish();
        if (rec) {
            rec->parameters["threads"] = torch::get_num_threads();
            rec->parameters["wall_seconds"] = progress.elapsed();
            if (job.size() > 1) rec->parameters["ranks"] = job.size();
            (void)glassy::app::finish_run("net_quench", *rec, v.output.out, control.checkpoint_path, false);
        }
        job.remove_when_complete(rec.has_value(), control.checkpoint_path);
    } catch (const std::exception& e) {
        if (job.size() > 1) job.fail("net_quench", e.what(), 1);
        throw;
    }
    if (!rec) return 130;
    std::printf("wrote %s: %zu seeds, mean train loss %.4g, mean test accuracy %.4f at t = %g; %.1f s\n",
                v.output.out.c_str(), seeds.size(), rec->energy.back(), rec->observables.at("test_accuracy").back(),
                rec->time.back(), progress.elapsed());
    return 0;
}

/// True when argv holds --seeds or --resume (read before MPI starts: without them, net_quench is
/// one process; a resumed checkpoint of another process count is refused once it is read).
bool may_share_work(int argc, char** argv) {
    for (int i = 1; i < argc; ++i)
        if (const std::string arg(argv[i]); arg.rfind("--seeds", 0) == 0 || arg.rfind("--resume", 0) == 0) return true;
    return false;
}

} // namespace

int main(int argc, char** argv) {
    // Without --seeds every rank would train the same network and write the same --out.
    if (const int ranks = glassy::app::launched_ranks(); ranks > 1 && !may_share_work(argc, argv)) {
        std::fprintf(stderr, "%s\n", glassy::app::one_process_only("net_quench", ranks).c_str());
        return 1;
    }
    std::optional<glassy::app::ensemble> job; // before the flags: MPI_Init may edit argv
    try {
        job.emplace(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "net_quench: error: %s\n", e.what());
        return 1;
    }
    cli_values v;
    v.job = &*job;
    CLI::App app{"Train a network with constant-rate SGD/SGLD from PyTorch's default initialisation and record "
                 "its aging:\nloss, accuracy, Delta(t_w, t_w+t), SGD noise D(t_w); time in SGD iterations.",
                 "net_quench"};
    add_flags(app, v);
    if (const int rc = glassy::app::parse(app, argc, argv); rc >= 0) return rc;

    try {
        std::optional<glassy::checkpoint> saved;
        if (!v.output.resume.empty()) saved = v.job->read_own_checkpoint("net_quench", v.output.resume);
        const std::vector<std::uint64_t> seeds = seeds_of(v, saved);
        if (!seeds.empty()) check_seeds(app, v, seeds.size());
        options_from_flags(app, v, saved);
        const glassy::run_control control = glassy::app::output_control(v.output, saved);
        refuse_ignored_flags(app, v);
        glassy::nets::validate(v.o);
        set_threads(v, saved, argv);
        v.o.data_dir = v.data_dir.empty() ? default_data_dir() : fs::path(v.data_dir);
        if (v.o.dataset != glassy::nets::dataset_kind::synthetic && v.o.dataset != glassy::nets::dataset_kind::random &&
            !v.data_dir.empty() && !fs::is_directory(v.o.data_dir))
            throw glassy::error("--data-dir " + v.data_dir + " does not exist");
        glassy::app::check_output(v.output.out, v.output.force);
        if (const std::string w = glassy::nets::blas_warning(); !w.empty())
            std::cerr << "net_quench: warning: " << w << "\n";
        if (!seeds.empty()) return run_seeds(v, seeds, control);
        glassy::nets::quench run(v.o);
        report_start(run, v, saved.has_value());
        return run_and_write(run, v, control);
    } catch (const glassy::nets::missing_data_error& e) {
        std::cerr << "net_quench: error: " << e.what()
                  << (v.data_dir.empty() ? " (set --data-dir DIR or GLASSY_DATA_DIR)" : "") << "\n";
        return 1;
    } catch (const c10::Error& e) {
        const std::string msg = e.what_without_backtrace();
        std::cerr << "net_quench: error: LibTorch: " << msg.substr(0, msg.find('\n')) << "\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "net_quench: error: " << glassy::app::error_message(e, *v.training) << "\n";
        return 1;
    }
}
