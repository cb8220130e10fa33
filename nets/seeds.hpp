#pragma once
/// @file Several trainings that differ only in their seed, as one record (issue 17; docs/format.md,
/// "Several seeds"; docs/cluster.md): the datasets of each seed with a leading seed dimension and
/// their means where a single run keeps its datasets. No LibTorch here: the runs are records.
#include "dynamics/record.hpp"

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

} // namespace glassy::nets
