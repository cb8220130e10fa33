// Reliability of pspin_quench: SIGKILL at a random moment + --resume gives the same record as
// an uninterrupted run, bit for bit; SIGINT leaves a partial record and a checkpoint.
#include "dynamics/checkpoint.hpp"
#include "dynamics/record.hpp"
#include "physics/ck_run.hpp"
#include "support/process.hpp"
#include "support/record_compare.hpp"
#include "support/run_command.hpp"
#include "support/scratch.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <random>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace fs = std::filesystem;
using glassy::test::expect_identical_records;
using glassy::test::run_command;
using glassy::test::wait_for_file;

namespace {
const std::string exe = GLASSY_PSPIN_QUENCH;

fs::path scratch() { return glassy::test::scratch_dir("resume"); }

const std::string common_args = "--N 48 --T 0.5 --samples 3 --quiet --threads 1";
const std::string run_args = common_args + " --tmax 300";

} // namespace

TEST(pspin_resume, sigkill_at_a_random_moment_then_resume_gives_the_identical_record) {
    const auto dir = scratch();
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    for (const std::string method : {"langevin", "metropolis"}) {
        const auto out = dir / ("killed_" + method + ".h5");
        const auto ckpt = dir / ("killed_" + method + ".ckpt");
        fs::remove(out);
        fs::remove(ckpt);
        const std::string args = run_args + " --method " + method + " --checkpoint-every 7 --checkpoint " +
                                 ckpt.string() + " --out " + out.string();
        // The uninterrupted run of the same configuration.
        const auto full = dir / ("full_" + method + ".h5");
        ASSERT_EQ(run_command(exe + " " + run_args + " --method " + method + " --force --out " + full.string()).status,
                  0);
        // Kill it at a random moment once a checkpoint exists.
        const pid_t pid = glassy::test::spawn(exe, args);
        ASSERT_GT(pid, 0);
        ASSERT_TRUE(wait_for_file(ckpt, pid)) << "no checkpoint appeared";
        std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(rng)));
        ::kill(pid, SIGKILL);
        int status = 0;
        ::waitpid(pid, &status, 0);
        if (WIFEXITED(status)) GTEST_SKIP() << "the run finished before it could be killed";
        ASSERT_TRUE(WIFSIGNALED(status));
        EXPECT_FALSE(fs::exists(out)); // no half-written record under the final name
        const auto r = run_command(exe + " --resume " + ckpt.string() + " --quiet --threads 2 --out " + out.string());
        ASSERT_EQ(r.status, 0) << r.output;
        expect_identical_records(glassy::read_record(full), glassy::read_record(out));
        EXPECT_FALSE(fs::exists(ckpt)); // spent checkpoints are removed
    }
}

// Issue 13: the Hessian spectra measured so far are part of the checkpoint; the resumed record is
// the uninterrupted one, /hessian included.
TEST(pspin_resume, sigkill_then_resume_with_hessian_gives_the_identical_record) {
    const auto dir = scratch();
    const auto out = dir / "killed_hessian.h5";
    const auto ckpt = dir / "killed_hessian.ckpt";
    const auto full = dir / "full_hessian.h5";
    fs::remove(out);
    fs::remove(ckpt);
    const std::string hessian_args = run_args + " --hessian --hessian-per-decade 3";
    ASSERT_EQ(run_command(exe + " " + hessian_args + " --force --out " + full.string()).status, 0);
    const pid_t pid = glassy::test::spawn(exe, hessian_args + " --checkpoint-every 7 --checkpoint " + ckpt.string() +
                                                   " --out " + out.string());
    ASSERT_GT(pid, 0);
    ASSERT_TRUE(wait_for_file(ckpt, pid)) << "no checkpoint appeared";
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) GTEST_SKIP() << "the run finished before it could be killed";
    const auto r = run_command(exe + " --resume " + ckpt.string() + " --quiet --threads 2 --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.output;
    const auto a = glassy::read_record(full), b = glassy::read_record(out);
    ASSERT_GT(a.extra.count("hessian/spectrum"), 0u);
    expect_identical_records(a, b);
}

TEST(pspin_resume, sigint_writes_a_partial_record_and_a_checkpoint_that_resumes) {
    const auto dir = scratch();
    const auto out = dir / "int.h5";
    const auto ckpt = dir / "int.h5.ckpt";
    fs::remove(out);
    fs::remove(ckpt);
    const std::string args = common_args + " --tmax 3000 --out " + out.string();
    const pid_t pid = glassy::test::spawn(exe, args);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ::kill(pid, SIGINT);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 130);
    const auto partial = glassy::read_record(out);
    EXPECT_FALSE(partial.complete);
    EXPECT_NE(partial.parameters.value("stop_reason", std::string()).find("interrupted"), std::string::npos);
    ASSERT_TRUE(fs::exists(ckpt));
    // Resuming onto the partial record's name needs --force (it exists), then completes it.
    const auto refused = run_command(exe + " --resume " + ckpt.string() + " --quiet --out " + out.string());
    EXPECT_NE(refused.status, 0);
    const auto r = run_command(exe + " --resume " + ckpt.string() + " --quiet --force --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.output;
    const auto full = dir / "int_full.h5";
    ASSERT_EQ(run_command(exe + " " + common_args + " --tmax 3000 --force --out " + full.string()).status, 0);
    expect_identical_records(glassy::read_record(full), glassy::read_record(out));
}

TEST(pspin_resume, foreign_or_mismatched_checkpoints_are_refused) {
    const auto dir = scratch();
    const auto ckpt = dir / "m.ckpt";
    // A checkpoint from a quick interrupted run.
    const pid_t pid = glassy::test::spawn(exe, common_args + " --tmax 5000 --checkpoint-every 5 --checkpoint " +
                                                   ckpt.string() + " --force --out " + (dir / "m.h5").string());
    ASSERT_TRUE(wait_for_file(ckpt, pid));
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    const auto r =
        run_command(exe + " --resume " + ckpt.string() + " --N 64 --quiet --force --out " + (dir / "x.h5").string());
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(glassy::test::count_lines(r.output), 1) << r.output;
    EXPECT_NE(r.output.find("different configuration"), std::string::npos) << r.output;
    // A record is not a checkpoint.
    ASSERT_EQ(run_command(exe + " --N 8 --tmax 1 --quiet --force --out " + (dir / "rec.h5").string()).status, 0);
    const auto r2 = run_command(exe + " --resume " + (dir / "rec.h5").string() + " --quiet --force --out " +
                                (dir / "y.h5").string());
    EXPECT_NE(r2.status, 0);
    EXPECT_EQ(glassy::test::count_lines(r2.output), 1) << r2.output;
    const auto r3 = run_command(exe + " --resume /nonexistent.ckpt --quiet --force --out " + (dir / "z.h5").string());
    EXPECT_NE(r3.status, 0);
    EXPECT_EQ(glassy::test::count_lines(r3.output), 1) << r3.output;
}

TEST(pspin_resume, ck_sigkill_then_resume_gives_the_identical_record) {
    const auto dir = scratch();
    const std::string args = "--method ck --grid 128 --tmax 1e5 --threads 1 --quiet";
    const auto full = dir / "ck_full.h5";
    ASSERT_EQ(run_command(exe + " " + args + " --force --out " + full.string()).status, 0);
    const auto out = dir / "ck_killed.h5";
    const auto ckpt = dir / "ck_killed.ckpt";
    fs::remove(out);
    fs::remove(ckpt);
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    const pid_t pid = glassy::test::spawn(exe, args + " --checkpoint-every 20 --checkpoint " + ckpt.string() +
                                                   " --out " + out.string());
    ASSERT_TRUE(wait_for_file(ckpt, pid)) << "no checkpoint appeared";
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 100)(rng)));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (WIFEXITED(status)) GTEST_SKIP() << "the run finished before it could be killed";
    EXPECT_FALSE(fs::exists(out));
    // Physics flags are refused with a CK checkpoint; the thread count may change.
    const auto refused = run_command(exe + " --resume " + ckpt.string() + " --T 0.6 --quiet --out " + out.string());
    EXPECT_NE(refused.status, 0);
    EXPECT_EQ(glassy::test::count_lines(refused.output), 1) << refused.output;
    const auto r = run_command(exe + " --resume " + ckpt.string() + " --threads 2 --quiet --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.output;
    expect_identical_records(glassy::read_record(full), glassy::read_record(out));
    EXPECT_FALSE(fs::exists(ckpt));
}

namespace {

// A CK checkpoint holding only its tool and kind, written to scratch()/NAME: enough for the
// refusals that come before its state is read.
fs::path ck_kind_only_checkpoint(const std::string& name) {
    const auto ckpt = scratch() / name;
    glassy::checkpoint c;
    c.tool = "pspin_quench";
    c.strings["kind"] = "ck";
    glassy::write_checkpoint(c, ckpt);
    return ckpt;
}

} // namespace

// Issue 12 §5: with a CK checkpoint, every flag of the CK field table is refused (the list comes
// from ck_parameters_fields(), so a new CK parameter's flag is refused without more code), each
// given with its default value; the thread count may still change. The refusal comes before the
// checkpoint's state is read, so a checkpoint with only its tool and kind is enough.
TEST(pspin_resume, every_ck_flag_is_refused_with_a_ck_checkpoint) {
    const auto ckpt = ck_kind_only_checkpoint("ck_kind_only.ckpt");
    const glassy::ck_parameters defaults;
    std::size_t refused = 0;
    for (const auto& f : glassy::ck_parameters_fields()) {
        if (f.flag.empty()) continue;
        const nlohmann::json value = glassy::field_json(f, defaults);
        const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
        const auto out = scratch() / "never.h5";
        const auto r = run_command(exe + " --resume " + ckpt.string() + " " + f.flag + " " + text +
                                   " --threads 2 --quiet --out " + out.string());
        EXPECT_EQ(r.status, 1) << f.flag << ": " << r.output;
        EXPECT_EQ(glassy::test::count_lines(r.output), 1) << f.flag << ": " << r.output;
        EXPECT_NE(r.output.find("leave physics flags out when resuming a CK checkpoint (" + f.flag + " given)"),
                  std::string::npos)
            << f.flag << ": " << r.output;
        EXPECT_FALSE(fs::exists(out)) << f.flag;
        ++refused;
    }
    // --mix --p --T --T0 --tmax --scheme --dt --grid --per-decade (docs/cli.md).
    EXPECT_EQ(refused, 9u);
}

// A CK checkpoint resumed with a finite-N --method would otherwise continue the CK run silently.
TEST(pspin_resume, a_ck_checkpoint_with_a_finite_n_method_is_refused) {
    const auto ckpt = ck_kind_only_checkpoint("ck_kind_method.ckpt");
    for (const std::string method : {"langevin", "heun", "metropolis"}) {
        const auto out = scratch() / "never_method.h5";
        const auto r = run_command(exe + " --resume " + ckpt.string() + " --method " + method +
                                   " --threads 2 --quiet --out " + out.string());
        EXPECT_EQ(r.status, 1) << method << ": " << r.output;
        EXPECT_EQ(glassy::test::count_lines(r.output), 1) << method << ": " << r.output;
        EXPECT_NE(r.output.find("is from a --method ck run, not --method " + method), std::string::npos) << r.output;
        EXPECT_FALSE(fs::exists(out)) << method;
    }
}
