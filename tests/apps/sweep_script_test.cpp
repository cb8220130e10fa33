// scripts/sweep.sh end to end (paths from CMake: GLASSY_SWEEP_SCRIPT, GLASSY_NET_QUENCH_DIR,
// GLASSY_AGING_ANALYSIS): a two-point perceptron sweep over P, resumed (nothing rerun), analysed by
// aging_analysis --sweep, one record removed and the sweep rerun: the same table byte for byte.
#include "support/run_command.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;
using glassy::test::run_command;

std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

/// The perceptron (linear, hinge2, random data d = 10, full-batch GD in float64) at P = 5 and 40.
/// lr 2: lr lambda_max <= 2 (1 + sqrt(d/P))^2 / d = 1.17 < 2 at P = 5 (Marchenko-Pastur edge).
std::string sweep_command(const fs::path& out) {
    return std::string(GLASSY_SWEEP_SCRIPT) + " --bin " + GLASSY_NET_QUENCH_DIR +
           " --param train-size --values '5 40' --out " + out.string() +
           " -- --model linear --dataset random --input-dim 10 --loss hinge2 --batch all --dtype float64 --lr 2"
           " --steps 500 --stop-loss 1e-12 --noise-samples 16 --points-per-decade 5";
}

} // namespace

// P = 5 <= d: every labelling is separable (Cover 1965), so the loss reaches 1e-12 (N/P = 2);
// P = 40 = 4d: separable with probability P[Bin(39, 1/2) <= 9] = 1e-4, and for this seed it is
// not: the loss stays near its start (N/P = 0.25). The transition is bracketed by [0.25, 2].
TEST(sweep_script, runs_resumes_and_reproduces_a_perceptron_sweep) {
    const fs::path dir = fs::temp_directory_path() / ("glassy_sweep_script_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    const auto first = run_command(sweep_command(dir / "a"));
    ASSERT_EQ(first.status, 0) << first.output;
    EXPECT_TRUE(fs::exists(dir / "a" / "train-size=5.h5"));
    EXPECT_TRUE(fs::exists(dir / "a" / "train-size=40.h5"));
    const auto again = run_command(sweep_command(dir / "a")); // complete records are skipped
    ASSERT_EQ(again.status, 0) << again.output;
    EXPECT_NE(again.output.find("skip " + (dir / "a" / "train-size=40.h5").string() + " (complete)"), std::string::npos)
        << again.output;
    EXPECT_NE(again.output.find("nothing to run"), std::string::npos) << again.output;

    const std::string analyse = std::string(GLASSY_AGING_ANALYSIS) + " --sweep --no-plots ";
    const std::string analyse_command = analyse + (dir / "a" / "train-size=5.h5").string() + " " +
                                        (dir / "a" / "train-size=40.h5").string() + " --out " +
                                        (dir / "a" / "an").string();
    const auto a = run_command(analyse_command);
    ASSERT_EQ(a.status, 0) << a.output;
    const auto j = nlohmann::json::parse(slurp(dir / "a" / "an" / "summary.json"));
    const auto& t = j.at("sweep").at("transition");
    EXPECT_EQ(j.at("sweep").at("key"), "random.train_size");
    ASSERT_TRUE(t.at("bracketed").get<bool>()) << t.dump();
    EXPECT_EQ(t.at("interval")[0], 0.25);
    EXPECT_EQ(t.at("interval")[1], 2.0);
    EXPECT_TRUE(t.at("first_unjammed").at("converged").get<bool>());

    // Reproducible: the jammed point's record removed and the sweep rerun (only that point runs
    // again), the same table byte for byte.
    const std::string csv = slurp(dir / "a" / "an" / "sweep.csv");
    fs::remove(dir / "a" / "train-size=40.h5");
    const auto rerun = run_command(sweep_command(dir / "a"));
    ASSERT_EQ(rerun.status, 0) << rerun.output;
    EXPECT_NE(rerun.output.find("done: 1 run(s)"), std::string::npos) << rerun.output;
    fs::remove_all(dir / "a" / "an");
    ASSERT_EQ(run_command(analyse_command).status, 0);
    EXPECT_EQ(slurp(dir / "a" / "an" / "sweep.csv"), csv);
    if (!HasFailure()) fs::remove_all(dir);
}

// A bad grid: one line on stderr, exit 2, nothing run.
TEST(sweep_script, refuses_a_bad_grid_in_one_line) {
    const std::string head = std::string(GLASSY_SWEEP_SCRIPT) + " --bin " + GLASSY_NET_QUENCH_DIR + " --out " +
                             (fs::temp_directory_path() / "glassy_sweep_never").string();
    for (const char* args :
         {" --param width --values '4 x'", " --param width --values '4 4'", " --param colour --values 1",
          " --param lr --log 0:1:3", " --param width --values 4 -- --width 8"}) {
        const auto r = run_command(head + args);
        EXPECT_EQ(r.status, 2) << args << ": " << r.output;
        EXPECT_EQ(glassy::test::count_lines(r.output), 1) << args << ": " << r.output;
        EXPECT_EQ(r.output.rfind("sweep.sh: error: ", 0), 0u) << r.output;
    }
    EXPECT_FALSE(fs::exists(fs::temp_directory_path() / "glassy_sweep_never"));
}

// A second sweep into a folder whose sweep is running is refused before it runs anything: the
// first is stood in for by flock(1) holding DIR/.sweep.lock while the second one starts.
TEST(sweep_script, refuses_a_second_sweep_into_the_same_folder) {
    const fs::path out = fs::temp_directory_path() / ("glassy_sweep_lock_" + std::to_string(::getpid()));
    fs::remove_all(out);
    fs::create_directories(out);
    const auto r = run_command("flock " + (out / ".sweep.lock").string() + " " + sweep_command(out));
    EXPECT_EQ(r.status, 2) << r.output;
    EXPECT_EQ(glassy::test::count_lines(r.output), 1) << r.output;
    EXPECT_NE(r.output.find("another sweep is running in " + out.string()), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out / "train-size=5.h5"));
    fs::remove_all(out);
}
