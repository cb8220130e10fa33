#pragma once
/// @file The trainings of one block of a --seeds job (issue 17; docs/cluster.md): its seeds one
/// after another, with checkpoints that hold the finished seeds' records and the running seed's
/// state, so that a killed job resumes without training a finished seed again and ends with the
/// record of the uninterrupted one, bit for bit.
#include "dynamics/run_control.hpp"
#include "nets/quench.hpp"
#include "nets/seeds.hpp"

#include <functional>

namespace glassy::nets {

/// Called by train_seeds before each training: the block's k-th seed's quench, built and not yet
/// run, and whether it continues the training a checkpoint holds.
using seed_start = std::function<void(const quench& run, int k, bool resumed)>;

/// Trains the seeds of `block` from its first unfinished one (block.done.size()) to its last, each
/// with the options `o` but its seed, and returns the block with their records appended to done.
/// - hooks: progress counts the steps of the whole block (k * steps + step of count * steps);
///   stop as for one run (nets::quench::run).
/// - control.checkpoint_path (empty: no checkpoints): every checkpoint written there holds the
///   block (seed_block::save: the records finished so far) and, during a training, that
///   training's state (nets::quench::run's entries, config the running seed's options; written
///   as control.checkpoint_every says and when a training is interrupted); with
///   control.checkpoint_every set, one more after each finished seed, without a training's state
///   (tool net_quench, config the next seed's options, integers/threads).
/// - control.resume: a checkpoint of this block, which the caller restored as `block`; the
///   training it holds (integers/step present), if any, is continued: that of seed done.size().
/// A training that stops early ends the block: block.end says why (interrupted when hooks.stop
/// asked, else diverged) and done holds the seeds before it. Throws what quench's constructor and
/// run throw (record_error "checkpoint is from a different configuration" when the training in
/// control.resume is not that of the block's next seed), and field_error (key "clones") for
/// o.clones > 0: clones are not supported with seeds (one run per seed, averaged by aging_analysis).
[[nodiscard]] seed_block train_seeds(const quench_options& o, seed_block block, const run_hooks& hooks,
                                     const run_control& control, const seed_start& on_start = {});

} // namespace glassy::nets
