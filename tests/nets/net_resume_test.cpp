// Reliability of net_quench: SIGKILL at a random moment + --resume gives the same record as the
// uninterrupted run, bit for bit (weights, momentum, every RNG stream, minibatch order, partial
// tables and live snapshots are checkpointed); SIGINT leaves a partial record and a checkpoint;
// mismatched checkpoints are refused; a diverging run stops with exit 3 and a partial record.
#include "dynamics/checkpoint.hpp"
#include "dynamics/record.hpp"
#include "nets/quench.hpp"
#include "support/process.hpp"
#include "support/record_compare.hpp"
#include "support/run_command.hpp"
#include "support/scratch.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <random>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using glassy::test::expect_identical_records;
using glassy::test::run_command;
using glassy::test::wait_for_file;

namespace {

const std::string exe = NET_QUENCH_EXE;

fs::path scratch() { return glassy::test::scratch_dir("net_resume"); }

// fc on small synthetic images, SGLD (T > 0: the noise generator matters) with momentum (the
// momentum buffers matter), snapshots saved; epochs of 10 minibatches so the shuffle position
// matters too.
const std::string common_args =
    "--model fc --dataset synthetic --synthetic-train 200 --synthetic-test 50 --synthetic-size 10 --batch 20 "
    "--lr 0.05 --momentum 0.9 --T 0.0001 --noise-samples 40 --eval-samples 100 --seed 5 --save-snapshots --quiet "
    "--threads 1";

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

} // namespace

TEST(net_resume, sigkill_at_a_random_moment_then_resume_gives_the_identical_record) {
    const auto dir = scratch();
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    const std::string args = common_args + " --steps 600";
    const auto full = dir / "full.h5";
    const auto t0 = std::chrono::steady_clock::now();
    const auto f = run_command(exe + " " + args + " --force --out " + full.string());
    ASSERT_EQ(f.status, 0) << f.output;
    const double duration = seconds_since(t0);
    const glassy::record reference = glassy::read_record(full);
    ASSERT_TRUE(reference.complete);
    EXPECT_FALSE(fs::exists(full.string() + ".ckpt")); // no checkpoint flags, none kept

    int killed = 0;
    for (int attempt = 0; attempt < 4 && killed < 2; ++attempt) {
        const auto out = dir / ("killed_" + std::to_string(attempt) + ".h5");
        const auto ckpt = dir / ("killed_" + std::to_string(attempt) + ".ckpt");
        fs::remove(out);
        fs::remove(ckpt);
        const pid_t pid = glassy::test::spawn(exe, args + " --checkpoint-every 7 --checkpoint " + ckpt.string() +
                                                       " --out " + out.string());
        ASSERT_GT(pid, 0);
        ASSERT_TRUE(wait_for_file(ckpt, pid)) << "no checkpoint appeared";
        const int max_ms = std::max(1, static_cast<int>(600 * duration));
        std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, max_ms)(rng)));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (WIFEXITED(status)) continue; // finished before the kill: try again
        ASSERT_TRUE(WIFSIGNALED(status));
        ++killed;
        EXPECT_FALSE(fs::exists(out)); // no half-written record under the final name
        // Resuming with a repeated (equal) training flag is fine. No --threads: the run keeps the
        // checkpoint's one thread (not the default of all cores), which makes it identical on any
        // CPU (with 2 it differed in aging.noise on OpenBLAS's Haswell/Zen kernels).
        const auto r = run_command(exe + " --resume " + ckpt.string() + " --lr 0.05 --quiet --out " + out.string());
        ASSERT_EQ(r.status, 0) << r.output;
        const glassy::record resumed = glassy::read_record(out);
        EXPECT_EQ(resumed.parameters.at("threads").get<int>(), 1);
        expect_identical_records(reference, resumed);
        EXPECT_FALSE(fs::exists(ckpt)); // spent checkpoints are removed
    }
    if (killed == 0) GTEST_SKIP() << "every run finished before it could be killed";
}

TEST(net_resume, sigint_writes_a_partial_record_and_a_checkpoint_that_resumes) {
    const auto dir = scratch();
    const auto out = dir / "int.h5";
    const auto ckpt = dir / "int.h5.ckpt";
    fs::remove(out);
    fs::remove(ckpt);
    const std::string args = common_args + " --steps 100000";
    // Periodic checkpoints tell when training is under way (signal handlers installed).
    const pid_t pid = glassy::test::spawn(exe, args + " --checkpoint-every 50 --out " + out.string());
    ASSERT_TRUE(wait_for_file(ckpt, pid));
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ::kill(pid, SIGINT);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130);
    const auto partial = glassy::read_record(out);
    EXPECT_FALSE(partial.complete);
    const std::string why = partial.parameters.value("stop_reason", std::string());
    EXPECT_EQ(why.rfind("interrupted at step ", 0), 0u) << why;
    const auto done = partial.parameters.at("steps_done").get<std::int64_t>();
    EXPECT_GT(done, 0);
    EXPECT_LT(done, 100000);
    EXPECT_FALSE(partial.time.empty());
    for (double t : partial.time) EXPECT_LE(t, static_cast<double>(done));
    ASSERT_TRUE(fs::exists(ckpt));
    const glassy::checkpoint c = glassy::read_checkpoint(ckpt);
    EXPECT_EQ(c.tool, "net_quench");
    EXPECT_EQ(c.integer("step"), done);
    EXPECT_EQ(c.integer("threads"), 1); // what a resumed run will use

    // The checkpoint of a 100000-step run cannot be resumed as a different run...
    const auto refused = run_command(exe + " --resume " + ckpt.string() + " --steps 2000 --quiet --force --out " +
                                     (dir / "x.h5").string());
    EXPECT_NE(refused.status, 0);
    EXPECT_EQ(glassy::test::count_lines(refused.output), 1) << refused.output;
    EXPECT_NE(refused.output.find("different configuration (--steps differs)"), std::string::npos) << refused.output;
    // ...and the partial record is not overwritten without --force; another --threads is
    // allowed, with a warning that the record may then differ in the last bits.
    const auto exists = run_command(exe + " --resume " + ckpt.string() + " --threads 2 --quiet --out " + out.string());
    EXPECT_NE(exists.status, 0);
    EXPECT_NE(exists.output.find("warning: --threads 2 differs from the checkpoint's 1 threads"), std::string::npos)
        << exists.output;

    // Resume it and interrupt it again: the record advances, from the same checkpoint file.
    const auto before = fs::last_write_time(ckpt);
    const pid_t again = glassy::test::spawn(exe, "--resume " + ckpt.string() +
                                                     " --checkpoint-every 50 --quiet --force --out " + out.string());
    for (int k = 0; k < 30000 && fs::last_write_time(ckpt) == before; ++k)
        std::this_thread::sleep_for(std::chrono::milliseconds(2)); // the resumed run checkpointed
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ::kill(again, SIGTERM);
    ::waitpid(again, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130);
    const auto partial2 = glassy::read_record(out);
    EXPECT_FALSE(partial2.complete);
    EXPECT_GT(partial2.parameters.at("steps_done").get<std::int64_t>(), done);
    // The measurements of the first part are kept unchanged.
    ASSERT_GE(partial2.time.size(), partial.time.size());
    for (std::size_t k = 0; k < partial.time.size(); ++k) {
        EXPECT_EQ(partial2.time[k], partial.time[k]);
        EXPECT_EQ(partial2.energy[k], partial.energy[k]);
    }
    EXPECT_EQ(glassy::read_checkpoint(ckpt).integer("step"), partial2.parameters.at("steps_done").get<std::int64_t>());
}

TEST(net_resume, foreign_or_mismatched_checkpoints_are_refused) {
    const auto dir = scratch();
    const auto ckpt = dir / "m.ckpt";
    const pid_t pid = glassy::test::spawn(exe, common_args + " --steps 100000 --checkpoint-every 5 --checkpoint " +
                                                   ckpt.string() + " --force --out " + (dir / "m.h5").string());
    ASSERT_TRUE(wait_for_file(ckpt, pid));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    for (const std::string flag : {"--lr 0.1", "--T 0", "--synthetic-train 300 --synthetic-test 50"}) {
        const auto r = run_command(exe + " --resume " + ckpt.string() + " " + flag + " --quiet --force --out " +
                                   (dir / "x.h5").string());
        EXPECT_NE(r.status, 0) << flag;
        EXPECT_EQ(glassy::test::count_lines(r.output), 1) << flag << ": " << r.output;
        EXPECT_NE(r.output.find("different configuration"), std::string::npos) << flag << ": " << r.output;
    }
    EXPECT_FALSE(fs::exists(dir / "x.h5"));
    // The checkpoint of one training is not that of a --seeds job.
    const auto seeds = run_command(exe + " --resume " + ckpt.string() + " --seeds 1-2 --quiet --force --out " +
                                   (dir / "x.h5").string());
    EXPECT_NE(seeds.status, 0);
    EXPECT_EQ(glassy::test::count_lines(seeds.output), 1) << seeds.output;
    EXPECT_NE(seeds.output.find("is from a training without --seeds"), std::string::npos) << seeds.output;
    // A record is not a checkpoint; a missing file is reported in one line.
    const auto rec = dir / "rec.h5";
    ASSERT_EQ(run_command(exe + " " + common_args + " --steps 3 --force --out " + rec.string()).status, 0);
    for (const std::string& bad : {rec.string(), std::string("/nonexistent/glassy.ckpt")}) {
        const auto r = run_command(exe + " --resume " + bad + " --quiet --force --out " + (dir / "y.h5").string());
        EXPECT_NE(r.status, 0) << bad;
        EXPECT_EQ(glassy::test::count_lines(r.output), 1) << r.output;
    }
    // A bad interval is a one-line error.
    const auto r = run_command(exe + " " + common_args + " --steps 3 --checkpoint-every 5x --force --out " +
                               (dir / "z.h5").string());
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(glassy::test::count_lines(r.output), 1) << r.output;
}

// --seeds without mpirun (issue 17): SIGINT during the job gives exit 130 and no record; --resume
// then gives the record of the uninterrupted job, bit for bit, and removes the checkpoint; a
// --seeds or a training flag that differs from the checkpoint's is refused in one line.
TEST(net_resume, seeds_interrupted_then_resumed_give_the_record_of_the_uninterrupted_job) {
    const auto dir = scratch();
    const std::string args = "--model toy --hidden 4 --dataset synthetic --synthetic-train 64 --synthetic-test 16 "
                             "--synthetic-size 8 --batch 16 --momentum 0.9 --T 0.0001 --steps 200 --noise-samples 16 "
                             "--eval-samples 16 --threads 1 --quiet --seeds 4-5";
    const auto full = dir / "seeds_full.h5", out = dir / "seeds_int.h5", ckpt = dir / "seeds_int.ckpt";
    fs::remove(out);
    fs::remove(ckpt);
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_EQ(run_command(exe + " " + args + " --force --out " + full.string()).status, 0);
    const double duration = seconds_since(t0);
    const pid_t pid = glassy::test::spawn(exe, args + " --checkpoint-every 5 --checkpoint " + ckpt.string() +
                                                   " --out " + out.string());
    ASSERT_TRUE(wait_for_file(ckpt, pid)) << "no checkpoint appeared";
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    const int max_ms = std::max(1, static_cast<int>(500 * duration)); // within the first or the second seed
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, max_ms)(rng)));
    ::kill(pid, SIGINT);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    if (WEXITSTATUS(status) == 0) GTEST_SKIP() << "the job finished before it could be interrupted";
    EXPECT_EQ(WEXITSTATUS(status), 130);
    EXPECT_FALSE(fs::exists(out)); // --seeds writes no partial record
    for (const std::string flag : {"--seeds 4-6", "--steps 7"}) {
        const auto r = run_command(exe + " --resume " + ckpt.string() + " " + flag + " --quiet --out " + out.string());
        EXPECT_EQ(r.status, 1) << flag;
        EXPECT_EQ(glassy::test::count_lines(r.output), 1) << flag << ": " << r.output;
        EXPECT_NE(r.output.find(flag.substr(0, flag.find(' ')) + " differs"), std::string::npos) << r.output;
    }
    const auto r = run_command(exe + " --resume " + ckpt.string() + " --quiet --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.output;
    expect_identical_records(glassy::read_record(out), glassy::read_record(full));
    EXPECT_FALSE(fs::exists(ckpt)); // spent
}

TEST(net_resume, divergence_stops_with_exit3_and_keeps_what_was_measured) {
    const auto dir = scratch();
    const auto out = dir / "div.h5";
    // SGD with lr = 1e6 on cross entropy blows the weights up within a few steps.
    const auto r = run_command(exe +
                               " --model fc --dataset synthetic --synthetic-train 200 --synthetic-test 50 "
                               "--synthetic-size 10 --batch 20 --lr 1e6 --steps 200 --noise-samples 40 "
                               "--eval-samples 100 --quiet --threads 1 --force --out " +
                               out.string());
    EXPECT_EQ(r.status, 3) << r.output;
    EXPECT_EQ(glassy::test::count_lines(r.output), 1) << r.output;
    EXPECT_NE(r.output.find("diverged at step "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("learning rate"), std::string::npos) << r.output;
    const auto rec = glassy::read_record(out);
    EXPECT_FALSE(rec.complete);
    const std::string why = rec.parameters.value("stop_reason", std::string());
    EXPECT_EQ(why.rfind("diverged at step ", 0), 0u) << why;
    const auto done = rec.parameters.at("steps_done").get<std::int64_t>();
    EXPECT_GE(done, 1);
    EXPECT_LT(done, 200);
    // Step 0 (the initial network) was measured, with a finite loss near log(10) for 10 classes.
    ASSERT_FALSE(rec.time.empty());
    EXPECT_EQ(rec.time.front(), 0.0);
    EXPECT_NEAR(rec.energy.front(), std::log(10.0), 0.5);
    for (std::size_t k = 0; k < rec.time.size(); ++k) {
        EXPECT_LT(rec.time[k], static_cast<double>(done));
        EXPECT_TRUE(std::isfinite(rec.energy[k])) << k;
    }
    EXPECT_FALSE(fs::exists(out.string() + ".ckpt"));
}

// Issue 11 §4: with --checkpoint-every 1 a diverging run used to leave a checkpoint of the
// diverged state (weights 6.6e17) from which --resume diverged again at once. A due checkpoint is
// now written only once the minibatch loss of its state (computed by the next step) is finite, and
// dropped when a measurement of that state fails: the file left behind is the last state whose
// loss was measured finite, and resuming it reaches the same divergence at the same step.
TEST(net_resume, diverged_run_leaves_only_a_checkpoint_whose_loss_was_finite) {
    const auto dir = scratch();
    // Measured every early step, the measured loss sees the divergence first (at step 2 here); with
    // one point per decade the minibatch loss does (at step 3).
    for (const std::string extra : {"", " --points-per-decade 1"}) {
        const auto out = dir / "div_ckpt.h5";
        const auto ckpt = dir / "div_ckpt.ckpt";
        fs::remove(ckpt);
        const std::string args =
            " --model fc --dataset synthetic --synthetic-train 200 --synthetic-test 50 --synthetic-size 10 "
            "--batch 20 --lr 1e6 --steps 200 --noise-samples 40 --eval-samples 100 --quiet --threads 1 "
            "--checkpoint-every 1 --force --checkpoint " +
            ckpt.string() + extra;
        const auto r = run_command(exe + args + " --out " + out.string());
        ASSERT_EQ(r.status, 3) << r.output;
        const auto done = glassy::read_record(out).parameters.at("steps_done").get<std::int64_t>();
        // Stopped at step S. The minibatch loss of step S is that of the state after step S - 1;
        // the measured training loss at S is that of the state after S. So the last state whose
        // loss was measured finite is that after S - 2 (minibatch loss not finite) or after S - 1
        // (measured loss not finite); the old code left the state after S - 1, resp. S.
        const bool by_minibatch = r.output.find("the minibatch loss is not finite") != std::string::npos;
        ASSERT_TRUE(by_minibatch || r.output.find("the measured training loss is not finite") != std::string::npos)
            << r.output;
        const std::int64_t last_good = done - (by_minibatch ? 2 : 1);
        ASSERT_GE(last_good, 1) << "diverged too early for a checkpoint to exist: " << r.output;
        ASSERT_TRUE(fs::exists(ckpt)) << extra;
        const glassy::checkpoint c = glassy::read_checkpoint(ckpt);
        EXPECT_EQ(c.integer("step"), last_good) << extra;
        for (const auto& [key, a] : c.arrays_f32) {
            if (key.rfind("model/", 0) != 0) continue;
            for (float w : a.data) ASSERT_TRUE(std::isfinite(w)) << key << extra;
        }
        // Resumed, the run is the same deterministic run: it diverges again at step S.
        const auto again = dir / "div_ckpt_resumed.h5";
        const auto resumed =
            run_command(exe + " --resume " + ckpt.string() + " --quiet --force --out " + again.string());
        EXPECT_EQ(resumed.status, 3) << resumed.output;
        EXPECT_EQ(glassy::read_record(again).parameters.at("steps_done").get<std::int64_t>(), done) << extra;
    }
}

// In process, on a ResNet-18 (BatchNorm running statistics are buffers, not parameters): a run
// stopped by its hook at step 3 and resumed from the final checkpoint equals the straight run.
TEST(net_resume, resnet_buffers_are_restored_exactly) {
    const auto dir = scratch();
    glassy::nets::quench_options o;
    o.model = glassy::nets::model_kind::resnet18;
    o.dataset = glassy::nets::dataset_kind::synthetic;
    o.synthetic.train_count = 16;
    o.synthetic.test_count = 4;
    o.synthetic.channels = 3;
    o.synthetic.height = o.synthetic.width = 8;
    o.batch = 4;
    o.lr = 0.01;
    o.momentum = 0.9;
    o.steps = 6;
    o.noise_samples = 2;
    o.eval_samples = 4;
    o.tw_steps = {2};
    o.lag_steps = {1, 2, 4};
    o.seed = 11;
    glassy::record reference;
    {
        glassy::nets::quench q(o);
        reference = q.run();
    }
    ASSERT_TRUE(reference.complete);
    const auto ckpt = dir / "resnet.ckpt";
    fs::remove(ckpt);
    {
        glassy::nets::quench q(o);
        glassy::run_hooks hooks;
        hooks.stop = [](std::int64_t step) { return step == 3; };
        glassy::run_control control;
        control.checkpoint_path = ckpt;
        const glassy::record partial = q.run(hooks, control);
        EXPECT_FALSE(partial.complete);
    }
    const glassy::checkpoint c = glassy::read_checkpoint(ckpt);
    EXPECT_EQ(c.integer("step"), 3);
    // LibTorch's Module::to(dtype) also converts num_batches_tracked to the training dtype.
    ASSERT_EQ(c.arrays_f32.count("model/bn1.num_batches_tracked"), 1u);
    EXPECT_EQ(c.arrays_f32.at("model/bn1.num_batches_tracked").data.at(0), 3.0f); // 3 training steps
    EXPECT_EQ(c.arrays_f32.count("model/bn1.running_var"), 1u);
    glassy::nets::quench q(o);
    glassy::run_control control;
    control.resume = &c;
    const glassy::record resumed = q.run({}, control);
    expect_identical_records(reference, resumed);
}
