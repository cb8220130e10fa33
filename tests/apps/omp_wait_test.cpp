// pspin_quench runs its OpenMP threads with passive waiting unless the user chose a wait policy
// (apps/common.hpp exec_with_passive_omp_wait; benchmarks/README.md "Threads on a shared machine").
// libgomp itself reports the setting it read at load time (OMP_DISPLAY_ENV=verbose prints
// GOMP_SPINCOUNT: 300000 by default, 0 when passive), so the test needs no timing.
#include "dynamics/record.hpp"
#include "support/run_command.hpp"
#include "support/scratch.hpp"

#include <gtest/gtest.h>

#include <string>

using glassy::test::run_command;

namespace {

const std::string exe = GLASSY_PSPIN_QUENCH;

/// The spin count in libgomp's last OMP_DISPLAY_ENV block (the one of the image that ran), or "".
std::string last_spincount(const std::string& output) {
    const std::string key = "GOMP_SPINCOUNT = '";
    const auto at = output.rfind(key);
    if (at == std::string::npos) return "";
    const auto from = at + key.size();
    return output.substr(from, output.find('\'', from) - from);
}

/// Runs pspin_quench with `flags` and `env` in front (after clearing the user's wait and thread
/// settings); the output holds libgomp's display of the settings it read.
glassy::test::command_result run_with(const std::string& env, const std::string& flags, const std::string& out) {
    return run_command("env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u OMP_NUM_THREADS OMP_DISPLAY_ENV=verbose " + env +
                       " " + exe + " --quiet --force " + flags + " --out " + out);
}

const std::string tiny = "--N 16 --tmax 2";

} // namespace

TEST(omp_wait, two_threads_wait_passively_by_default) {
    const auto out = (glassy::test::scratch_dir("omp_wait") / "two.h5").string();
    for (const std::string& flags : {tiny, std::string("--method ck --tmax 1")}) {
        const auto r = run_with("", flags + " --threads 2", out);
        ASSERT_EQ(r.status, 0) << flags << ": " << r.output;
        EXPECT_EQ(last_spincount(r.output), "0") << flags << ": " << r.output;
        EXPECT_EQ(glassy::read_record(out).parameters.at("threads"), 2) << flags; // argv went through the re-exec
    }
}

TEST(omp_wait, the_default_thread_count_of_all_cores_waits_passively_when_above_one) {
    const auto out = (glassy::test::scratch_dir("omp_wait") / "default.h5").string();
    const auto r = run_with("OMP_NUM_THREADS=3", tiny, out); // 3 threads, whatever this machine has
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(last_spincount(r.output), "0") << r.output;
}

TEST(omp_wait, one_thread_is_left_alone) {
    const auto out = (glassy::test::scratch_dir("omp_wait") / "one.h5").string();
    const auto r = run_with("", tiny + " --threads 1", out);
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(last_spincount(r.output), "300000") << r.output; // libgomp's own default
}

TEST(omp_wait, the_users_wait_settings_are_kept) {
    const auto out = (glassy::test::scratch_dir("omp_wait") / "user.h5").string();
    const auto spin = run_with("GOMP_SPINCOUNT=777", tiny + " --threads 2", out);
    ASSERT_EQ(spin.status, 0) << spin.output;
    EXPECT_EQ(last_spincount(spin.output), "777") << spin.output;
    const auto active = run_with("OMP_WAIT_POLICY=active", tiny + " --threads 2", out);
    ASSERT_EQ(active.status, 0) << active.output;
    EXPECT_EQ(last_spincount(active.output), "30000000000") << active.output; // libgomp's "active": 5 min
}
