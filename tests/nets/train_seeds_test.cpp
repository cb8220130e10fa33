// Checkpoints of a --seeds job (nets/train_seeds.hpp, issue 17): a block of seeds interrupted
// inside a seed's training, or killed between two seeds, and resumed from its checkpoint gives the
// records of the uninterrupted block, bit for bit, without training a finished seed again; and a
// finished training's record survives the checkpoint file (save_run / restore_run) bit for bit.
#include "dynamics/checkpoint.hpp"
#include "nets/seeds.hpp"
#include "nets/train_seeds.hpp"
#include "support/record_compare.hpp"
#include "support/scratch.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <limits>
#include <stdexcept>
#include <vector>

namespace glassy::nets {
namespace {

namespace fs = std::filesystem;

// The toy model on 64 synthetic 8 x 8 images, 20 SGLD steps with momentum (the noise generator,
// the momentum buffers and the minibatch position are in the state), weight snapshots saved.
quench_options tiny() {
    quench_options o;
    o.model = model_kind::toy;
    o.hidden = 4;
    o.dataset = dataset_kind::synthetic;
    o.synthetic.train_count = 64;
    o.synthetic.test_count = 16;
    o.synthetic.height = o.synthetic.width = 8;
    o.batch = 16;
    o.steps = 20;
    o.momentum = 0.9;
    o.temperature = 1e-4;
    o.noise_samples = 16;
    o.eval_samples = 16;
    o.save_snapshots = true;
    return o;
}

seed_block block_of(const std::vector<std::uint64_t>& seeds) {
    seed_block b;
    b.seeds = seeds;
    b.count = static_cast<int>(seeds.size());
    return b;
}

// Checkpoints every 7 steps (and after each seed) into `path`.
run_control checkpoints_in(const fs::path& path) {
    run_control c;
    c.checkpoint_path = path;
    c.checkpoint_every = trigger(7, 0.0);
    return c;
}

// A hooks.stop that asks to stop at its call number `at` (1-based), counting in `calls`.
run_hooks stop_at(int at, int& calls) {
    run_hooks h;
    h.stop = [at, &calls](std::int64_t) { return ++calls >= at; };
    return h;
}

struct reference {
    record joined;
    int polls_per_seed = 0;
};

reference uninterrupted(const std::vector<std::uint64_t>& seeds) {
    int calls = 0;
    const seed_block b = train_seeds(tiny(), block_of(seeds), stop_at(std::numeric_limits<int>::max(), calls), {});
    EXPECT_FALSE(b.end.stopped());
    return {join_seeds(b.done, seeds), calls / static_cast<int>(seeds.size())};
}

// Resumes the block in `path` to its end; returns the seeds' indices trained (on_start's k).
std::vector<int> resume_to_end(const fs::path& path, seed_block& out) {
    const checkpoint saved = read_checkpoint(path);
    run_control control = checkpoints_in(path);
    control.resume = &saved;
    std::vector<int> trained;
    out = train_seeds(tiny(), seed_block::restore(saved), {}, control,
                      [&](const quench&, int k, bool) { trained.push_back(k); });
    return trained;
}

} // namespace

TEST(train_seeds, interrupted_inside_seeds_then_resumed_gives_the_uninterrupted_records) {
    const std::vector<std::uint64_t> seeds{3, 4, 5};
    const reference full = uninterrupted(seeds);
    ASSERT_GT(full.polls_per_seed, 10);
    const fs::path path = test::scratch_dir("train_seeds") / "inside.ckpt";
    fs::remove(path);
    int calls = 0; // stopped in the middle of seed 4's training
    const seed_block first =
        train_seeds(tiny(), block_of(seeds), stop_at(full.polls_per_seed * 3 / 2, calls), checkpoints_in(path));
    ASSERT_EQ(first.end.reason, stop_reason::interrupted);
    EXPECT_EQ(first.end.message.rfind("seed 4: interrupted at step ", 0), 0u) << first.end.message;
    ASSERT_EQ(first.done.size(), 1u);
    const checkpoint saved = read_checkpoint(path);
    EXPECT_EQ(saved.integer("seeds/done"), 1);
    EXPECT_GT(saved.integer("step"), 0); // seed 4's training, under way
    EXPECT_LT(saved.integer("step"), 20);
    // Resumed and interrupted again inside seed 5, then resumed to the end.
    run_control again = checkpoints_in(path);
    again.resume = &saved;
    calls = 0;
    const seed_block second =
        train_seeds(tiny(), seed_block::restore(saved), stop_at(full.polls_per_seed, calls), again);
    ASSERT_EQ(second.end.reason, stop_reason::interrupted);
    EXPECT_EQ(second.end.message.rfind("seed 5: ", 0), 0u) << second.end.message;
    seed_block last;
    EXPECT_EQ(resume_to_end(path, last), (std::vector<int>{2}));
    ASSERT_FALSE(last.end.stopped());
    test::expect_identical_records(join_seeds(last.done, seeds), full.joined);
}

TEST(train_seeds, killed_between_seeds_resumes_without_training_a_finished_seed) {
    const std::vector<std::uint64_t> seeds{7, 2};
    const reference full = uninterrupted(seeds);
    const fs::path path = test::scratch_dir("train_seeds") / "between.ckpt";
    fs::remove(path);
    run_hooks kill; // the process dies at the first poll of seed 2's training, before any of its steps
    int calls = 0;
    kill.stop = [&](std::int64_t) -> bool {
        if (++calls > full.polls_per_seed) throw std::runtime_error("killed");
        return false;
    };
    EXPECT_THROW((void)train_seeds(tiny(), block_of(seeds), kill, checkpoints_in(path)), std::runtime_error);
    const checkpoint saved = read_checkpoint(path); // written after seed 7, holding no training
    EXPECT_EQ(saved.integer("seeds/done"), 1);
    EXPECT_EQ(saved.integers.count("step"), 0u);
    seed_block last;
    EXPECT_EQ(resume_to_end(path, last), (std::vector<int>{1})); // seed 7 is not trained again
    test::expect_identical_records(join_seeds(last.done, seeds), full.joined);
}

TEST(train_seeds, a_record_survives_the_checkpoint_file_bit_for_bit) {
    record r;
    r.system = "net";
    r.method = "sgld";
    r.parameters = {{"seed", 1}, {"lr", 0.1}, {"input_mean", {1.0 / 3}}};
    r.complete = true;
    r.time = {1, 2};
    r.energy = {0.5, std::numeric_limits<double>::quiet_NaN()};
    r.energy_samples = row_matrix{{1, 2}, {3, 4}};
    r.observables["test_accuracy"] = {0.25, 1.0 / 3};
    r.aging.tw = {1};
    r.aging.t = {1, 2};
    r.aging.delta = row_matrix{{0.1, std::numeric_limits<double>::quiet_NaN()}};
    r.aging.delta_samples = {row_matrix{{1, 2}}, row_matrix{{3, 4}}};
    r.aging.noise = {2.5};
    r.extra["measurement/train_indices"] = {{2}, {4, 5}};
    r.extra["empty"] = {{0}, {}};
    r.extra_f32["snapshots/weights"] = {{1, 2}, {1.5f, -0.1f}};
    r.extra_i64["hessian/samples"] = {{3}, {0, 9, std::int64_t{1} << 53}};
    checkpoint c;
    save_run(r, c, "done/0/");
    const fs::path path = test::scratch_dir("train_seeds") / "record.ckpt";
    c.tool = "test";
    write_checkpoint(c, path);
    const record back = restore_run(read_checkpoint(path), "done/0/");
    test::expect_identical_records(back, r);
    EXPECT_EQ(back.parameters.dump(), r.parameters.dump());
    EXPECT_EQ(back.aging.delta_samples.size(), 2u);
    EXPECT_TRUE(test::same(back.aging.delta_samples[1], r.aging.delta_samples[1]));
    EXPECT_EQ(back.extra_i64, r.extra_i64);
    EXPECT_EQ(back.extra, r.extra);
    r.extra_i64["hessian/samples"].data[0] = (std::int64_t{1} << 53) + 1; // not exact in float64
    EXPECT_THROW(save_run(r, c, "done/1/"), record_error);
}

} // namespace glassy::nets
