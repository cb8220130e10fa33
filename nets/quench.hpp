#pragma once
/// @file A network "quench": train a freshly initialised network with SGD/SGLD at constant
/// learning rate and record loss, accuracy, Delta(t_w, t_w + t) and the SGD noise D(t_w)
/// (design.md section 3). Built from the common pieces: glassy::integrate, schedules,
/// two_time_recorder, and the record. net_quench maps its flags onto quench_options.
#include "dynamics/checkpoint.hpp"
#include "dynamics/driver.hpp"
#include "dynamics/fields.hpp"
#include "dynamics/record.hpp"
#include "dynamics/run_control.hpp"
#include "nets/datasets.hpp"
#include "nets/hessian.hpp"
#include "nets/models.hpp"
#include "nets/noise.hpp"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace glassy::nets {

/// Where the network trains.
enum class device_kind { cpu, cuda };
/// Parses "cpu", "cuda"; throws field_error (key "device") otherwise. Whether CUDA is usable is checked by quench's
/// constructor.
[[nodiscard]] device_kind parse_device_kind(const std::string& name);
/// The name parse_device_kind accepts.
[[nodiscard]] std::string to_string(device_kind kind);

/// The training precision (weights, activations, gradients; snapshots are float32 either way).
enum class dtype_kind { float32, float64 };
/// Parses "float32", "float64"; throws field_error (key "dtype") otherwise.
[[nodiscard]] dtype_kind parse_dtype_kind(const std::string& name);
/// The name parse_dtype_kind accepts.
[[nodiscard]] std::string to_string(dtype_kind kind);

/// The name of a noise method on the command line: "batched" or "loop".
[[nodiscard]] std::string flag_name(noise_method method);
/// Parses a --noise-method value, "batched" or "loop"; throws field_error (key "noise_method")
/// otherwise.
[[nodiscard]] noise_method parse_noise_method_flag(const std::string& name);
/// The name of a noise method in the record's parameters (noise_method): "batched" or
/// "per_sample_loop".
[[nodiscard]] std::string to_string(noise_method method);
/// Parses a record's noise_method, "batched" or "per_sample_loop"; throws field_error (key
/// "noise_method") otherwise.
[[nodiscard]] noise_method parse_noise_method(const std::string& name);

/// Every parameter of a network run. Times are SGD iterations.
struct quench_options {
    model_kind model = model_kind::smallnet;        ///< architecture
    dataset_kind dataset = dataset_kind::mnist;     ///< the data trained on
    std::filesystem::path data_dir;                 ///< root of the dataset folders (see load_dataset)
    std::int64_t hidden = 10000;                    ///< toy width h
    std::int64_t depth = 2;                         ///< fc: hidden layers L
    std::int64_t width = 100;                       ///< fc: width h of each hidden layer
    std::optional<loss_kind> loss;                  ///< the training loss; nullopt: the model's own (model_loss)
    label_kind labels = label_kind::classes;        ///< the classes, or their parity (a binary task)
    random_options random;                          ///< sizes of the random dataset (its seed is `seed`)
    optimizer_kind optimizer = optimizer_kind::sgd; ///< the update rule
    double stop_loss = 0.0;                         ///< > 0: stop once the minibatch loss is below it (0: off)
    std::int64_t batch = 100;                       ///< minibatch size, or full_batch (--batch all)
    double lr = 0.1;                                ///< learning rate
    double momentum = 0.0;                          ///< heavy-ball momentum
    double temperature = 0.0;                       ///< SGLD temperature T (0: SGD)
    std::int64_t steps = 5000;                      ///< iterations
    std::uint64_t seed = 1;                         ///< initialisation, minibatches, SGLD noise, synthetic data
    device_kind device = device_kind::cpu;          ///< where it trains
    dtype_kind dtype = dtype_kind::float32;         ///< training precision
    std::int64_t noise_samples = 1024;              ///< |S| of eq. 4: the first noise_samples of the measurement order
    noise_method noise = noise_method::batched;     ///< how D is computed
    std::int64_t eval_samples = 1024;               ///< loss/accuracy on the first eval_samples of the measurement
                                                    ///< orders of train and test (class_balanced_order)
    int points_per_decade = 10;                     ///< measurement times and lags per decade
    int tw_per_decade = 3;                          ///< waiting times per decade
    std::int64_t tw_first = 10;                     ///< smallest waiting time
    std::vector<std::int64_t> tw_steps;             ///< explicit waiting times (overrides the defaults)
    std::vector<std::int64_t> lag_steps;            ///< explicit lags (overrides the defaults)
    bool save_snapshots = false;                    ///< write /snapshots/tw and /snapshots/weights
    bool grad_norm = false;                         ///< also |grad L| on the train evaluation samples at each
                                                    ///< metrics point (observable grad_norm; one backward each)
    synthetic_options synthetic;                    ///< sizes of the synthetic dataset (its seed is `seed`)
    /// Hessian spectra at each t_w (nets/hessian.hpp, docs/nets.md "Hessian spectra"); the hessian_*
    /// and flat_epsilon options are written to JSON only when this is on. Their defaults are
    /// hessian_settings' (one place).
    bool hessian = false;
    std::int64_t hessian_top = hessian_settings{}.top;     ///< k largest eigenvalues (1..M)
    std::int64_t hessian_samples = 1024;                   ///< S training samples of the Hessian's loss (1..train size)
    double flat_epsilon = hessian_settings{}.flat_epsilon; ///< flat band |lambda| <= epsilon max|lambda| (> 0)
    std::int64_t hessian_trace_vectors = hessian_settings{}.trace_vectors; ///< Hutchinson's vectors (no flag)
    std::int64_t hessian_slq_steps = hessian_settings{}.slq_steps;         ///< SLQ Lanczos steps m (no flag)
    std::int64_t hessian_slq_vectors = hessian_settings{}.slq_vectors;     ///< SLQ starts n_v (no flag)
    /// The training loss along the straight line in weight space between the weights at each t_w and
    /// at t_w + t (issue 14; nets/barrier.hpp, docs/nets.md "Barriers"; /barrier in the record); the
    /// barrier_* options are written to JSON only when this is on.
    bool barrier = false;
    /// The lags t in steps (each 1..steps), for every t_w; empty: three per decade from one step, only
    /// those with t >= t_w (default_barrier_pairs).
    std::vector<std::int64_t> barrier_lags;
    int barrier_points = 21; ///< points per line, both ends included (>= 2; also between clones)
    /// The lines' loss on the first min(barrier_samples, eval_samples) train evaluation samples (>= 1).
    std::int64_t barrier_samples = 128;
    /// Clones (issue 14; dynamics/clones.hpp, docs/nets.md "Clones"): 0 = off; K >= 2: at each birth
    /// step t_w (clone_tw, default the waiting times) the whole training state (weights, BatchNorm
    /// buffers, momentum / Adam state) is copied K times after the main run, and copy k trains on
    /// from t_w to `steps` with its own minibatch order and SGLD noise, seeded by clone_seed(seed,
    /// t_w, k) (/clones in the record). The clone_* options are written to JSON only when this is on.
    int clones = 0;
    std::vector<std::int64_t> clone_tw;   ///< birth steps, each in 1..steps - 1; empty: the waiting times
    std::vector<std::int64_t> clone_lags; ///< lags of /clones/t in steps (each 0..steps); empty: the lags of Delta
};

/// The seed of clone k born at step t_w of the run with seed `seed`: its minibatch order and SGLD
/// noise (as sgd_options::seed). A splitmix64 chain of (seed, t_w, k), distinct from `seed` itself.
[[nodiscard]] std::uint64_t clone_seed(std::uint64_t seed, std::int64_t tw, int k) noexcept;

/// The loss a model is trained on by default: mse_one_hot for toy, nll_log_softmax otherwise.
[[nodiscard]] loss_kind model_loss(model_kind model);
/// The loss of a run: options.loss, else model_loss(options.model).
[[nodiscard]] loss_kind run_loss(const quench_options& options);

/// The field table of quench_options (dynamics/fields.hpp): every option but data_dir, at its key
/// in options_json, with net_quench's flag where the command line sets it. Choices by name (model,
/// dataset, device, dtype; noise_method is "batched" or "per_sample_loop" in JSON, "batched" or
/// "loop" on the command line: flag_name); the synthetic sizes only with the synthetic dataset,
/// the random ones only with the random dataset; tw_steps / lag_steps only when given; the
/// options added for issue 15 (loss, labels, depth, width, optimizer, stop_loss) only when they
/// differ from their defaults, so that the JSON of a run that uses none of them is unchanged;
/// batch is a number, or "all" for full_batch. --synthetic-size sets synthetic.height (the app
/// makes the width equal to it).
[[nodiscard]] const field_table<quench_options>& quench_options_fields();

/// Checks the options that need no data, before any work: throws field_error naming the bad
/// one by its key in quench_options_fields() (what() "steps must be >= 1"; net_quench prints
/// the flag instead, "--steps must be >= 1"): steps in 1..2^62 - 1 (the 64-bit step counters),
/// lr, momentum, T, batch and optimizer (validate(sgd_options)), hidden >= 1 for the toy model,
/// noise_samples, eval_samples, points_per_decade, tw_per_decade, tw_first >= 1, depth and
/// width >= 1, stop_loss >= 0, the task (loss hinge2 needs a binary task and not the toy model,
/// labels parity not on the random dataset, model smallnet / resnet18 not on it), and with
/// hessian: hessian_top, hessian_samples and the trace / SLQ counts >= 1, flat_epsilon > 0, with or
/// without barrier: barrier_points >= 2, barrier_lags in 1..steps and barrier_samples >= 1, and
/// the sizes of the synthetic or random dataset it uses (validate(synthetic_options),
/// validate(random_options)). What needs the data (batch at most the training-set size,
/// smallnet's 16 x 16 inputs, a batch of 1 with BatchNorm, hessian_top <= M) is checked by
/// quench's constructor, with field_error too.
void validate(const quench_options& options);

/// The options that define a run (every field but data_dir) as JSON: the checkpoint's config
/// and the basis of the record's parameters. tw_steps / lag_steps appear only when given.
[[nodiscard]] nlohmann::json options_json(const quench_options& options);

/// The options stored in a net_quench checkpoint (data_dir left empty); throws record_error
/// with a one-line message if `c` is not a net_quench checkpoint.
[[nodiscard]] quench_options options_from_checkpoint(const checkpoint& c);

/// The LibTorch intra-op thread count the checkpoint was written with, or nullopt for a
/// checkpoint from before it was stored. A resumed run uses it: LibTorch's GEMM and convolution
/// kernels may round differently with another count (nets/reduction.hpp), and only the same
/// count makes the resumed record identical to the uninterrupted one on every CPU. Throws
/// record_error for a count outside 1..65536.
[[nodiscard]] std::optional<int> checkpoint_threads(const checkpoint& c);

/// Where the wall time of quench::run() went, in seconds: SGD steps (including progress and
/// stop hooks) and each kind of measurement. overhead() = measurements / steps is the cost of
/// measuring relative to bare training (issue 6's target: <= 10 % for a 10^4-step run).
struct run_timing {
    double total_s = 0.0;       ///< the whole integration loop
    double steps_s = 0.0;       ///< total_s minus everything below
    double metrics_s = 0.0;     ///< loss/accuracy/gradient-norm evaluations
    double noise_s = 0.0;       ///< D(t_w) (and weight snapshots for the record)
    double aging_s = 0.0;       ///< Delta(t_w, t_w + t): snapshots and distances
    double checkpoints_s = 0.0; ///< checkpoint writes
    double hessian_s = 0.0;     ///< Hessian spectra (--hessian)
    double barrier_s = 0.0;     ///< losses along straight lines (--barrier): snapshots and evaluations
    /// the clone phase (--clones): the clones' steps, snapshots, distances and lines; not part of
    /// steps_s nor of overhead() (the clones are more training, K x the remaining steps per birth)
    double clones_s = 0.0;
    /// (metrics + noise + aging + hessian + barrier) / steps; NaN before a run.
    [[nodiscard]] double overhead() const {
        return steps_s > 0 ? (metrics_s + noise_s + aging_s + hessian_s + barrier_s) / steps_s : std::nan("");
    }
};

/// A subset of samples the run measures on, with its class counts (label_counts), so that the
/// app can warn when it is badly unbalanced (badly_unbalanced).
struct measurement_subset {
    std::string what;                       ///< "D", "train evaluation" or "test evaluation"
    std::vector<std::int64_t> class_counts; ///< [classes]
};

/// A prepared run: data loaded, model built, schedules fixed. Construct, inspect (sizes,
/// memory), then run() once.
class quench {
public:
    /// Checks the options (validate), loads data and builds everything. Throws field_error
    /// (keyed as in quench_options_fields()) for an option out of its domain: those of validate,
    /// a batch larger than the training set or of 1 on a model with a BatchNorm layer whose
    /// feature map is 1 x 1 for these images ("batch"), cuda on a CPU-only build ("device"), bad
    /// synthetic or random sizes ("synthetic/...", "random/..."), an empty data_dir ("data_dir"),
    /// with hessian: hessian_top outside 1..M, hessian_samples outside 1..train size;
    /// missing_data_error / glassy::error for missing or malformed data files.
    explicit quench(const quench_options& options);
    ~quench();
    quench(const quench&) = delete;
    quench& operator=(const quench&) = delete;

    /// Number of weights M.
    [[nodiscard]] std::int64_t num_parameters() const;
    /// Number of waiting times n_w.
    [[nodiscard]] std::size_t num_waiting_times() const;
    /// Memory held by the weight snapshots, n_w * M * 4 bytes.
    [[nodiscard]] std::uint64_t snapshot_bytes() const;
    /// Estimated memory of one training step: B samples (the batch, the training set with
    /// --batch all) times (the input plus 3 values per layer output: output, its activation and
    /// its gradient; the layer outputs counted on one taped forward pass) times the dtype size.
    [[nodiscard]] std::uint64_t step_bytes() const;
    /// Memory of the Lanczos bases of a Hessian measurement (0 without --hessian): M doubles per
    /// vector, max(SLQ steps m, Spectra's ncv) vectors plus 4 work vectors (the autograd graph of the
    /// S samples comes on top: about that of a training forward pass on S samples, 2-3x).
    [[nodiscard]] std::uint64_t hessian_bytes() const;
    /// Memory of the --barrier snapshots at most (0 without --barrier): one float32 weight vector per
    /// waiting time of its pairs, M * 4 bytes each (each is released after its last pair).
    [[nodiscard]] std::uint64_t barrier_bytes() const;
    /// Memory of the --clones state at most (0 without --clones): the training state at each birth
    /// (parameters and buffers in the training dtype, momentum or Adam moments) plus the float32 weight
    /// snapshots of K clones at each lag of /clones/t and at the end, K (n_l + 1) M * 4 bytes.
    [[nodiscard]] std::uint64_t clone_bytes() const;
    /// SGD steps of the clone phase: K x the sum over the births t_w of (steps - t_w) (0 without
    /// --clones); the main run takes `steps`.
    [[nodiscard]] std::int64_t clone_steps() const;
    /// Number of clone births n_c (0 without --clones).
    [[nodiscard]] std::size_t num_clone_births() const;
    /// Number of --barrier pairs (t_w, t) (0 without --barrier).
    [[nodiscard]] std::size_t num_barrier_pairs() const;
    /// Number of training samples the --barrier lines are evaluated on (0 without --barrier).
    [[nodiscard]] std::size_t num_barrier_samples() const;
    /// Training-set size.
    [[nodiscard]] std::int64_t train_count() const;
    /// The data files read (dataset_pair::files; empty for synthetic data).
    [[nodiscard]] const std::vector<std::filesystem::path>& data_files() const;
    /// The measurement subsets: D uses the first noise_samples, the train evaluations the first
    /// eval_samples of class_balanced_order(train, seed XOR 0x6A09E667F3BCC909); the test
    /// evaluations the first eval_samples of class_balanced_order(test, seed XOR
    /// 0xBB67AE8584CAA73B). Fixed by the seed (a resumed run uses the same ones); the record
    /// stores them in /measurement/train_indices and /measurement/test_indices. With --hessian, also
    /// the Hessian's samples: the first hessian_samples of class_balanced_order(train, seed XOR
    /// 0x3C6EF372FE94F82B) (/hessian/samples).
    [[nodiscard]] std::vector<measurement_subset> measurement_subsets() const;
    /// Minibatch loss of the last SGD step (for progress lines).
    [[nodiscard]] double last_loss() const;

    /// Runs the training (once) and returns its record (system "net", method sgd or sgld).
    /// A checkpoint (control) holds the complete state at a step boundary: all model parameters
    /// and buffers (BatchNorm running statistics), momentum buffers, the minibatch sampler (epoch
    /// permutation, position, generator), the SGLD noise generator, the global torch CPU
    /// generator, the partial measurement tables, D(t_w) and the live weight snapshots of the
    /// two-time recorder, the Hessian rows measured (quadratures included), the --barrier rows and
    /// live float32 snapshots, and with --clones the births' training states, the clone phase (birth,
    /// clone, the running clone's model and optimiser state, the finished clones' snapshots) and the
    /// clone tables, so that a resumed
    /// run gives a record identical, bit for bit on the CPU,
    /// to the uninterrupted run with the same options.
    /// With control.resume, continues the checkpointed run (throws record_error, "checkpoint is
    /// from a different configuration", when its options differ); with control.carried, every
    /// checkpoint also holds those entries (a --seeds job's finished seeds). Checkpoints are taken
    /// between steps as control says, but a due one is written only at the next step, once the
    /// minibatch loss of its state has been computed and is finite (the file always holds a state
    /// whose loss was measured finite; a diverged run leaves the last such one, or none).
    /// With stop_loss > 0 the run ends at the first step whose minibatch loss (the loss of the state
    /// before it; the training loss with --batch all) is below stop_loss: a complete record with
    /// parameters["stop_reason"] = "converged at step S: ...", the metrics measured at S (where
    /// /time ends), and the t_w not reached given D = NaN. The record is partial (complete = false,
    /// parameters["stop_reason"]) when hooks.stop asks to stop ("interrupted at step ..."; a final checkpoint is
    /// written first when control has a path and the loss of the state, on the first `batch` training samples, is
    /// finite) or when the minibatch or measured training loss becomes NaN/Inf ("diverged at step ..."); it then holds
    /// everything measured before.
    /// With --clones the clones run after the main run (which is unchanged by them, bit for bit),
    /// birth by birth and clone by clone; hooks.progress and hooks.stop then see the work done, in SGD
    /// steps: steps + the clone steps before (a clone step counts one), and checkpoints are due at
    /// those counts. /clones/delta[c, l] is the pair mean of (1/M)|theta_A - theta_B|^2 (float32
    /// snapshots, summed in double) at t_w + t_l (NaN past the run); at `steps`, /clones/barrier is
    /// the pair mean of barrier_height of the training loss along the straight line between the two
    /// clones (line_measures on the train evaluation samples, barrier_points points) and
    /// /clones/test_accuracy_drop the pair mean of (a_0 + a_1)/2 - min_k a_k of the test accuracy a
    /// along it (test evaluation samples; Frankle et al. 2020's instability). A clone whose minibatch
    /// loss is not finite stops the run as diverged ("... (a clone born at step t_w)").
    [[nodiscard]] record run(const run_hooks& hooks = {}, const run_control& control = {});
    /// Wall-time split of the last run() (zero before; of the resumed part for a resumed run).
    [[nodiscard]] const run_timing& timing() const { return m_timing; }

private:
    struct impl;
    std::unique_ptr<impl> m_impl;
    run_timing m_timing;
};

/// The parameters JSON written in the record: every option plus num_parameters, input_mean,
/// input_std, train_count, test_count (run() adds data_files, steps_done, ...).
[[nodiscard]] nlohmann::json quench_parameters(const quench_options& options, std::int64_t num_parameters,
                                               const channel_stats& stats, std::int64_t train_count,
                                               std::int64_t test_count);

/// A short note when LibTorch does not run on an optimised BLAS (empty when it does): checks
/// torch's build configuration for MKL and, for a "generic" BLAS, which library libblas.so.3
/// resolves to in this process (OpenBLAS, BLIS or MKL count as optimised). Timing-free.
[[nodiscard]] std::string blas_warning();

/// Whether this LibTorch build can use CUDA.
[[nodiscard]] bool cuda_available();

} // namespace glassy::nets
