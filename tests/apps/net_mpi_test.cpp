// net_quench --seeds under mpirun (apps/ensemble.hpp, docs/cluster.md): the seeds shared among 1,
// 2 or 3 ranks give the record of one process bit for bit, and so does a killed 2-rank job resumed
// from its ranks' checkpoints; more ranks than seeds, several ranks without --seeds, and a
// checkpoint resumed by another rank count are refused with one line. Built only with MPI and
// LibTorch.
#include "dynamics/record.hpp"
#include "support/process.hpp"
#include "support/record_compare.hpp"
#include "support/run_command.hpp"
#include "support/scratch.hpp"

#include <gtest/gtest.h>

#include <chrono>
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
const std::string exe = GLASSY_NET_QUENCH;

// A tiny training: the toy model on 64 synthetic images, 20 steps.
const std::string tiny = "--model toy --hidden 4 --dataset synthetic --synthetic-train 64 --synthetic-test 16 "
                         "--synthetic-size 8 --batch 16 --steps 20 --noise-samples 16 --eval-samples 16 --quiet "
                         "--force";

// Occurrences of `what` in `text`.
int occurrences(const std::string& text, const std::string& what) {
    int n = 0;
    for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

glassy::test::command_result mpirun(int ranks, const std::string& args) {
    return run_command("OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 " + std::string(GLASSY_MPIEXEC) +
                       " -np " + std::to_string(ranks) + " --oversubscribe " + exe + " " + args);
}
} // namespace

TEST(net_mpi, seeds_over_ranks_give_the_record_of_one_process_bit_for_bit) {
    const auto dir = glassy::test::scratch_dir("net_mpi");
    const auto single = dir / "seeds.h5";
    const auto r = run_command(exe + " " + tiny + " --seeds 1-3 --threads 1 --out " + single.string());
    ASSERT_EQ(r.status, 0) << r.output;
    const auto expected = glassy::read_record(single);
    for (int ranks : {1, 2, 3}) {
        SCOPED_TRACE(std::to_string(ranks) + " ranks");
        const auto out = dir / ("seeds_np" + std::to_string(ranks) + ".h5");
        const auto m = mpirun(ranks, tiny + " --seeds 1-3 --out " + out.string());
        ASSERT_EQ(m.status, 0) << m.output;
        auto got = glassy::read_record(out);
        EXPECT_EQ(got.parameters.value("ranks", 1), ranks);
        EXPECT_EQ(got.parameters.at("threads"), 1); // one thread per rank by default
        got.parameters.erase("ranks");
        glassy::test::expect_identical_records(got, expected);
    }
}

TEST(net_mpi, more_ranks_than_seeds_or_no_seeds_are_refused_in_one_line) {
    const auto out = glassy::test::scratch_dir("net_mpi") / "refused.h5";
    fs::remove(out);
    const auto m = mpirun(3, tiny + " --seeds 1,2 --out " + out.string());
    EXPECT_NE(m.status, 0);
    EXPECT_EQ(occurrences(m.output, "net_quench: error"), 1) << m.output; // rank 0 alone reports it
    EXPECT_NE(m.output.find("net_quench: error: under mpirun with 3 ranks: more ranks than --seeds (2 seeds"),
              std::string::npos)
        << m.output;
    const auto plain = mpirun(2, tiny + " --out " + out.string()); // without --seeds: one process only
    EXPECT_NE(plain.status, 0);
    EXPECT_NE(plain.output.find("started as one of 2 MPI ranks"), std::string::npos) << plain.output;
    EXPECT_FALSE(fs::exists(out));
}

TEST(net_mpi, killing_a_seeds_job_then_resuming_with_its_rank_count_gives_the_record_of_one_process) {
    const auto dir = glassy::test::scratch_dir("net_mpi");
    const std::string args = "--model toy --hidden 4 --dataset synthetic --synthetic-train 64 --synthetic-test 16 "
                             "--synthetic-size 8 --batch 16 --momentum 0.9 --T 0.0001 --steps 200 --noise-samples 16 "
                             "--eval-samples 16 --quiet --seeds 1-2";
    const auto single = dir / "kill_single.h5", out = dir / "killed.h5", ckpt = dir / "killed.ckpt";
    const std::vector<fs::path> files{ckpt.string() + ".rank0of2", ckpt.string() + ".rank1of2"};
    for (const auto& f : files) fs::remove(f);
    fs::remove(out);
    const auto r = run_command(exe + " " + args + " --threads 1 --out " + single.string());
    ASSERT_EQ(r.status, 0) << r.output;
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    ::setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    const pid_t pid = glassy::test::spawn(GLASSY_MPIEXEC, "-np 2 --oversubscribe " + exe + " " + args +
                                                              " --checkpoint-every 5 --checkpoint " + ckpt.string() +
                                                              " --out " + out.string());
    ASSERT_GT(pid, 0);
    for (const auto& f : files) ASSERT_TRUE(glassy::test::wait_for_file(f, pid)) << f; // each rank its own
    std::mt19937 rng(static_cast<unsigned>(::getpid()));
    std::this_thread::sleep_for(std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 100)(rng)));
    for (pid_t rank : glassy::test::children_of(pid)) ::kill(rank, SIGKILL); // the whole job, at once
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    if (fs::exists(out)) GTEST_SKIP() << "the job finished before it could be killed";
    const auto m = mpirun(2, "--resume " + ckpt.string() + " --quiet --out " + out.string());
    ASSERT_EQ(m.status, 0) << m.output;
    auto got = glassy::read_record(out);
    EXPECT_EQ(got.parameters.value("ranks", 1), 2);
    got.parameters.erase("ranks");
    glassy::test::expect_identical_records(got, glassy::read_record(single));
    for (const auto& f : files) EXPECT_FALSE(fs::exists(f)) << f; // spent checkpoints are removed
}

// The checkpoints of a 2-rank job resumed by 3 ranks: one line saying how to resume them, before
// any file is read (app::ensemble::read_own_checkpoint, whose other cases tests/apps/pspin_mpi_test.cpp
// checks).
TEST(net_mpi, a_checkpoint_of_another_rank_count_is_refused_in_one_line) {
    const auto dir = glassy::test::scratch_dir("net_mpi");
    const auto ckpt = dir / "two.ckpt", out = dir / "never.h5";
    for (const char* rank : {".rank0of2", ".rank1of2"}) std::ofstream(ckpt.string() + rank) << "not read";
    fs::remove(ckpt);
    fs::remove(out);
    const auto three = mpirun(3, "--resume " + ckpt.string() + " --quiet --out " + out.string());
    EXPECT_EQ(three.status, 1) << three.output;
    EXPECT_EQ(occurrences(three.output, "net_quench: error"), 1) << three.output;
    EXPECT_NE(three.output.find("was written by 2 MPI ranks, not 3: resume it with mpirun -np 2"), std::string::npos)
        << three.output;
    EXPECT_FALSE(fs::exists(out));
    for (const char* f : {".rank0of2", ".rank1of2"}) fs::remove(ckpt.string() + f);
}
