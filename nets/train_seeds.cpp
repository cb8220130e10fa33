#include "nets/train_seeds.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <utility>

namespace glassy::nets {
namespace {

/// The checkpoint between two seeds' trainings: the block, no training's state.
checkpoint between_seeds(const quench_options& o, const seed_block& block) {
    checkpoint c = block.save();
    quench_options next = o;
    next.seed = block.seed(std::min(static_cast<int>(block.done.size()), block.count - 1));
    c.tool = "net_quench";
    c.config = options_json(next).dump();
    c.integers["threads"] = torch::get_num_threads(); // what a resumed job uses (checkpoint_threads)
    return c;
}

} // namespace

seed_block train_seeds(const quench_options& o, seed_block block, const run_hooks& hooks, const run_control& control,
                       const seed_start& on_start) {
    if (o.clones > 0)
        throw field_error("clones", "is not supported with seeds (run one net_quench per seed and average the "
                                    "records with aging_analysis)");
    const int resumed_k =
        control.resume && control.resume->integers.count("step") > 0 ? static_cast<int>(block.done.size()) : -1;
    const trigger& every = control.checkpoint_every;
    const bool after_each = !control.checkpoint_path.empty() && (every.every_steps() > 0 || every.every_seconds() > 0);
    for (int k = static_cast<int>(block.done.size()); k < block.count; ++k) {
        quench_options mine = o;
        mine.seed = block.seed(k);
        quench run(mine);
        if (on_start) on_start(run, k, k == resumed_k);
        const checkpoint carried = block.save();
        run_control inner = control;
        inner.carried = &carried;
        inner.resume = k == resumed_k ? control.resume : nullptr;
        run_hooks h = hooks;
        if (hooks.progress)
            h.progress = [&, k](std::int64_t step, std::int64_t) {
                hooks.progress(k * o.steps + step, block.count * o.steps);
            };
        bool asked = false; // hooks.stop asked to stop: interrupted, not diverged
        h.stop = [&](std::int64_t step) { return asked = hooks.stop && hooks.stop(step); };
        record rec = run.run(h, inner);
        if (!rec.complete) {
            block.end = {asked ? stop_reason::interrupted : stop_reason::diverged,
                         "seed " + std::to_string(mine.seed) + ": " +
                             rec.parameters.value("stop_reason", std::string("stopped"))};
            return block;
        }
        block.done.push_back(std::move(rec));
        if (after_each) write_checkpoint(between_seeds(o, block), control.checkpoint_path);
    }
    return block;
}

} // namespace glassy::nets
