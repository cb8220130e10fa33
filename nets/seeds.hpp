#pragma once
/// @file Several trainings that differ only in their seed, as one record (issue 17; docs/format.md,
/// "Several seeds"; docs/cluster.md): the datasets of each seed with a leading seed dimension and
/// their means where a single run keeps its datasets; and a process's block of seeds as a
/// checkpoint (the finished seeds' records), for the checkpoints of a --seeds job and to send them
/// to rank 0. No LibTorch here: the runs are records (the training loop: nets/train_seeds.hpp).
#include "dynamics/checkpoint.hpp"
#include "dynamics/record.hpp"
#include "dynamics/run_control.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace glassy::nets {

/// Parses a --seeds value: "a-b" (a <= b: a, a + 1, ..., b) or "a,b,c" (in that order), each a
/// decimal integer below 2^63 (stored as int64 in /seeds/seed). Throws parameter_error (naming `flag`, e.g. "--seeds")
/// for an empty value, a number that is not one, a range whose end is below its start, a repeated seed, or more than
/// 2^20 seeds.
[[nodiscard]] std::vector<std::uint64_t> parse_seeds(const std::string& value, const std::string& flag);

/// Joins the records of one complete training per seed (the same options but the seed; `runs[k]`
/// was trained with `seeds[k]`) into one record, in the order given:
/// - /time, /aging/tw, /aging/t: the runs' (equal in all of them);
/// - /energy, /observables/NAME, /aging/delta, /aging/noise: the means over the n_s seeds, summed
///   in seed order and divided by n_s;
/// - /energy_samples [n_s, n_t] (each seed's training loss) and /aging/delta_samples
///   [n_s, n_w, n_l], as the disorder samples of a p-spin record;
/// - under /seeds/: seed [n_s] (int64), observables/NAME [n_s, n_t], aging/noise [n_s, n_w],
///   input_mean and input_std [n_s, C], and PATH [n_s, ...] for every other dataset PATH of the
///   runs (measurement/train_indices, snapshots/weights, hessian/..., of the same type);
/// - with --barrier: /barrier/tw, t, alpha (the runs'), /barrier/energy and height (means over the
///   seeds), and /seeds/barrier/energy [n_s, n_b, n_a] and height [n_s, n_b];
/// - parameters: the first run's, without seed, input_mean and input_std, with "seeds" (the list).
/// Throws parameter_error for no runs or a seed count other than the runs'; record_error when a
/// run is incomplete or the runs differ in method, times, waiting times, lags, observables or a
/// dataset's shape.
[[nodiscard]] record join_seeds(const std::vector<record>& runs, const std::vector<std::uint64_t>& seeds);

/// The --seeds value that parse_seeds reads back as `seeds` ("a,b,c"; "a" for one seed).
[[nodiscard]] std::string seeds_text(const std::vector<std::uint64_t>& seeds);

/// Stores a finished training's record as entries of `c` under `prefix` (PREFIX/system, method,
/// parameters as JSON text, complete, time, energy, energy_samples, observables/NAME, aging/...,
/// extra/PATH, extra_f32/PATH and extra_i64/PATH, the last as float64). Every value comes back
/// bit for bit from restore_run; throws record_error for an int64 value beyond 2^53 (not exact
/// in float64).
void save_run(const record& run, checkpoint& c, const std::string& prefix);

/// The record save_run stored under `prefix`; throws record_error when an entry is missing.
[[nodiscard]] record restore_run(const checkpoint& c, const std::string& prefix);

/// The seeds one process trains of a --seeds job (all of them without mpirun, its share under
/// mpirun: app::share_of) and the records of those it has finished: what a --seeds checkpoint
/// holds besides the running seed's state (the entries of nets::quench's checkpoint), and what a
/// rank sends to rank 0 (to_bytes). docs/format.md, "Checkpoints of several seeds".
struct seed_block {
    std::vector<std::uint64_t> seeds; ///< the job's whole --seeds list, in order
    int first = 0;                    ///< index in `seeds` of the block's first seed
    int count = 0;                    ///< how many seeds the block holds (seeds first .. first + count - 1)
    std::vector<record> done;         ///< the records of the block's first done.size() seeds, complete
    run_end end;                      ///< why the block's training stopped before its last seed (none: it did not)

    /// The block as checkpoint entries: seeds/list (seeds_text), seeds/first, seeds/count,
    /// seeds/done, seeds/stop_reason and seeds/stop_message, and each finished record under
    /// done/<k>/ (save_run).
    [[nodiscard]] checkpoint save() const;
    /// The block `c` holds (save's entries; other entries of `c` are ignored). Throws
    /// record_error when they are missing or inconsistent (a block beyond the list, more records
    /// than seeds, a bad stop reason).
    [[nodiscard]] static seed_block restore(const checkpoint& c);
    /// The seed of the block's k-th seed (0 <= k < count).
    [[nodiscard]] std::uint64_t seed(int k) const { return seeds[static_cast<std::size_t>(first + k)]; }
};

/// True when `c` holds a seed_block: the checkpoint of a --seeds job (seeds/list present).
[[nodiscard]] bool is_seeds_checkpoint(const checkpoint& c);

} // namespace glassy::nets
