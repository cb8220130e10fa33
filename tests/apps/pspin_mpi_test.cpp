// pspin_quench under mpirun (apps/ensemble.hpp, docs/cluster.md): the samples shared among 1, 2
// or 3 ranks give the record of one process bit for bit (Langevin, Metropolis, replicas, an
// offset); killing the job and resuming it gives the same record; what the ranks cannot share is
// refused with one line. Built only with MPI; mpiexec is the one CMake found, told that it may
// run as root.
#include "dynamics/record.hpp"
#include "support/process.hpp"
#include "support/record_compare.hpp"
#include "support/run_command.hpp"
#include "support/scratch.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using glassy::test::run_command;

namespace {
const std::string exe = GLASSY_PSPIN_QUENCH;

fs::path scratch() { return glassy::test::scratch_dir("pspin_mpi"); }

// pspin_quench ARGS under mpiexec with `ranks` processes (oversubscribed: CI has 2 cores; allowed
// to run as root, as CI does).
glassy::test::command_result mpirun(int ranks, const std::string& args) {
    return run_command("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " + std::string(GLASSY_MPIEXEC) +
                       " -np " + std::to_string(ranks) + " --oversubscribe " + exe + " " + args);
}

// The record without its run-environment parameters (ranks too: the one thing mpirun adds).
glassy::record without_ranks(glassy::record rec) {
    rec.parameters.erase("ranks");
    return rec;
}

// Occurrences of `what` in `text`.
int count(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}
} // namespace

TEST(pspin_mpi, ranks_give_the_record_of_one_process_bit_for_bit) {
    const auto dir = scratch();
    const std::string base = "--N 32 --T 0.5 --tmax 20 --quiet --force";
    struct config {
        std::string name, args;
        std::vector<int> ranks;
    };
    for (const config& c :
         {config{"langevin", "--samples 3", {1, 2, 3}}, config{"metropolis", "--method metropolis --samples 3", {2, 3}},
          config{"replicas", "--samples 3 --replicas 2 --method heun", {2}},
          config{"offset", "--samples 3 --sample-offset 5", {2}},
          // per-sample datasets the gather never names (/hessian/...) come through
          config{"hessian", "--samples 3 --hessian", {3}},
          // the clones run inside each rank's samples (issue 14)
          config{"clones", "--samples 3 --clones 2 --clone-tw 2 --clone-lags 0 1 5", {2}}}) {
        const auto single = dir / (c.name + ".h5");
        const auto r = run_command(exe + " " + base + " " + c.args + " --out " + single.string());
        ASSERT_EQ(r.status, 0) << r.output;
        const auto expected = glassy::read_record(single);
        for (int ranks : c.ranks) {
            SCOPED_TRACE(c.name + " on " + std::to_string(ranks) + " ranks");
            const auto out = dir / (c.name + "_np" + std::to_string(ranks) + ".h5");
            const auto m = mpirun(ranks, base + " " + c.args + " --out " + out.string());
            ASSERT_EQ(m.status, 0) << m.output;
            const auto got = glassy::read_record(out);
            EXPECT_EQ(got.parameters.value("ranks", 1), ranks);
            EXPECT_EQ(got.parameters.at("threads"), 1); // one thread per rank by default
            glassy::test::expect_identical_records(without_ranks(got), expected);
        }
    }
}

TEST(pspin_mpi, killing_the_job_then_resuming_with_its_rank_count_gives_the_identical_record) {
    const auto dir = scratch();
    const std::string args = "--N 48 --T 0.5 --samples 3 --quiet --tmax 300";
    const auto full = dir / "full.h5", out = dir / "killed.h5";
    const auto ckpt = dir / "killed.ckpt";
    for (const auto& f : {out, fs::path(ckpt.string() + ".rank0of2"), fs::path(ckpt.string() + ".rank1of2")})
        fs::remove(f);
    ASSERT_EQ(run_command(exe + " " + args + " --force --out " + full.string()).status, 0);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    const pid_t pid =
        glassy::test::spawn(GLASSY_MPIEXEC, "-np 2 " + exe + " " + args + " --checkpoint-every 7 " + "--checkpoint " +
                                                ckpt.string() + " --out " + out.string());
    ASSERT_GT(pid, 0);
    // Each rank checkpoints its own samples into CKPT.rank<r>of2.
    ASSERT_TRUE(glassy::test::wait_for_file(ckpt.string() + ".rank0of2", pid));
    ASSERT_TRUE(glassy::test::wait_for_file(ckpt.string() + ".rank1of2", pid));
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 150)(rng)));
    for (pid_t rank : glassy::test::children_of(pid)) ::kill(rank, SIGKILL); // the whole job, at once
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (fs::exists(out)) GTEST_SKIP() << "the job finished before it could be killed";
    const auto r = mpirun(2, "--resume " + ckpt.string() + " --quiet --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.output;
    glassy::test::expect_identical_records(without_ranks(glassy::read_record(out)), glassy::read_record(full));
    EXPECT_FALSE(fs::exists(ckpt.string() + ".rank0of2")); // spent checkpoints are removed
    EXPECT_FALSE(fs::exists(ckpt.string() + ".rank1of2"));
}

// Checkpoints of a 2-rank job resumed by 3 ranks, or by one process: one line that says how to resume.
TEST(pspin_mpi, another_rank_count_is_refused_in_one_line_naming_the_right_one) {
    const auto dir = scratch();
    const auto ckpt = dir / "two.ckpt";
    for (const char* rank : {".rank0of2", ".rank1of2"}) std::ofstream(ckpt.string() + rank) << "not read";
    const auto out = dir / "never.h5";
    fs::remove(out);
    const auto three = mpirun(3, "--resume " + ckpt.string() + " --quiet --out " + out.string());
    EXPECT_EQ(three.status, 1) << three.output;
    EXPECT_EQ(count(three.output, "pspin_quench: error"), 1) << three.output;
    EXPECT_NE(three.output.find("was written by 2 MPI ranks, not 3: resume it with mpirun -np 2"), std::string::npos)
        << three.output;
    const auto one = run_command(exe + " --resume " + ckpt.string() + " --quiet --out " + out.string());
    EXPECT_EQ(one.status, 1) << one.output;
    EXPECT_NE(one.output.find("was written by 2 MPI ranks, not 1"), std::string::npos) << one.output;
    std::ofstream(ckpt) << "not read"; // a one-process checkpoint, resumed by 2 ranks
    const auto two = mpirun(2, "--resume " + ckpt.string() + " --quiet --out " + out.string());
    EXPECT_NE(two.output.find("was written by one process, not 2: resume it without mpirun"), std::string::npos)
        << two.output;
    EXPECT_FALSE(fs::exists(out));
    for (const char* f : {"", ".rank0of2", ".rank1of2"}) fs::remove(ckpt.string() + f);
}

TEST(pspin_mpi, more_ranks_than_samples_are_refused_in_one_line_before_any_work) {
    const auto out = scratch() / "too_many.h5";
    fs::remove(out);
    const auto m = mpirun(3, "--N 16 --tmax 5 --samples 2 --quiet --out " + out.string());
    EXPECT_NE(m.status, 0);
    EXPECT_EQ(count(m.output, "pspin_quench: error"), 1) << m.output; // rank 0 alone reports it
    EXPECT_NE(m.output.find("under mpirun with 3 ranks: more ranks than --samples 2"), std::string::npos) << m.output;
    EXPECT_FALSE(fs::exists(out));
}

TEST(pspin_mpi, ck_is_refused_with_several_ranks) {
    const auto dir = scratch();
    const auto ck = mpirun(2, "--method ck --tmax 10 --quiet --out " + (dir / "ck.h5").string());
    EXPECT_NE(ck.status, 0);
    EXPECT_EQ(count(ck.output, "pspin_quench: error"), 1) << ck.output;
    EXPECT_NE(ck.output.find("--method ck integrates one system"), std::string::npos) << ck.output;
    EXPECT_FALSE(fs::exists(dir / "ck.h5"));
}
