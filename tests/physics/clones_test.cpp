// Clones of the p-spin (pspin_quench --clones, issue 14; dynamics/clones.hpp, physics/quench.hpp).
#include "dynamics/clones.hpp"
#include "dynamics/error.hpp"
#include "physics/quench.hpp"

#include <gtest/gtest.h>

#include "support/record_compare.hpp"
#include "support/scratch.hpp"
#include "tests/physics/quench_support.hpp"

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

namespace {

// N = 64, 200 steps of dt = 0.05, K = 3 clones born at t_w = 1 and 5 (steps 20 and 100).
glassy::pspin_quench_parameters clone_quench() {
    glassy::pspin_quench_parameters par;
    par.n = 64;
    par.tmax = 10;
    par.tw = {1};
    par.clones = 3;
    par.clone_tw = {1, 5};
    return par;
}

const std::vector<double>& data(const glassy::record& rec, const std::string& name) {
    return rec.extra.at("clones/" + name).data;
}

TEST(clones, pair_means_of_hand_made_clones) {
    const std::vector<Eigen::VectorXd> x{Eigen::Vector2d(1, 0), Eigen::Vector2d(0, 1), Eigen::Vector2d(-1, 0)};
    // |x0 - x1|^2 = 2, |x0 - x2|^2 = 4, |x1 - x2|^2 = 2; over n = 2 and 3 pairs: (1 + 2 + 1) / 3.
    EXPECT_DOUBLE_EQ(glassy::pair_mean_distance(std::span<const Eigen::VectorXd>(x)), 4.0 / 3.0);
    EXPECT_TRUE(std::isnan(glassy::pair_mean_distance(std::span<const Eigen::VectorXd>(x.data(), 1))));
}

// T = 0 Langevin has no noise: the clones follow the same deterministic path, bit for bit
// (Delta_AB = 0 and no barrier between them, exactly). At T > 0 they separate: over one step
// each clone receives independent noise of variance 2 T dt per spin, so Delta_AB(dt) ~ 4 T dt
// (N - 1) / N (the sphere takes one direction) = 0.098; its sample fluctuation is about
// sqrt(2 / N) / sqrt(3 pairs) ~ 10 %, so 30 % is three of them. Later they drift further apart.
TEST(clones, clones_without_noise_stay_identical_and_with_noise_separate) {
    auto par = clone_quench();
    par.temperature = 0;
    const auto still = glassy::run_pspin_quench(par);
    ASSERT_EQ(still.extra.at("clones/delta").shape, (std::vector<std::uint64_t>{2, still.aging.t.size()}));
    for (const double d : data(still, "delta"))
        if (!std::isnan(d)) {
            EXPECT_EQ(d, 0.0);
        }
    EXPECT_EQ(data(still, "barrier"), (std::vector<double>{0.0, 0.0}));

    par.temperature = 0.5;
    const auto hot = glassy::run_pspin_quench(par);
    const auto& t = data(hot, "t");
    const auto& d = data(hot, "delta");
    const std::size_t nl = t.size();
    ASSERT_EQ(t[1], 0.05);
    for (std::size_t c = 0; c < 2; ++c) {
        EXPECT_EQ(d[c * nl], 0.0) << c; // lag 0: the clones are the main state
        EXPECT_NEAR(d[c * nl + 1], 4 * 0.5 * 0.05 * 63.0 / 64.0, 0.3 * 0.098) << c;
        EXPECT_GT(d[c * nl + 10], 2 * d[c * nl + 1]) << c; // t = 0.55: further apart
    }
    EXPECT_TRUE(std::isnan(d[nl + nl - 1])); // born at 5, lag 10: past the run
    EXPECT_GE(data(hot, "barrier")[0], 0.0);
}

// Metropolis clones draw their own rotations: they separate too (an accepted move changes a
// spin by O(theta_max), so after 10 sweeps Delta_AB is well above 0.01).
TEST(clones, metropolis_clones_separate) {
    auto par = clone_quench();
    par.method = glassy::quench_method::metropolis;
    par.tmax = 20;
    par.tw = {5};
    par.clone_tw = {5};
    par.clone_lags = {0, 10};
    const auto rec = glassy::run_pspin_quench(par);
    EXPECT_EQ(data(rec, "t"), (std::vector<double>{0, 10}));
    EXPECT_EQ(data(rec, "delta")[0], 0.0);
    EXPECT_GT(data(rec, "delta")[1], 0.01);
}

// Clones run after the main trajectory from a copy of its state: the main record is the one of
// the run without them, bit for bit. With several samples and replicas the means are the means
// of the per-sample arrays; same seed, same record.
TEST(clones, clones_leave_the_main_trajectory_and_repeat_with_the_seed) {
    auto par = clone_quench();
    par.samples = 2;
    par.replicas = 2;
    auto with = glassy::run_pspin_quench(par);
    glassy::test::expect_identical_records(glassy::run_pspin_quench(par), with);
    const std::size_t nl = data(with, "t").size();
    EXPECT_EQ(with.extra.at("clones/delta_samples").shape, (std::vector<std::uint64_t>{4, 2, nl}));
    EXPECT_EQ(with.extra.at("clones/barrier_samples").shape, (std::vector<std::uint64_t>{4, 2}));
    const auto& ds = data(with, "delta_samples");
    const std::size_t at = nl + 5; // birth 1, lag index 5
    EXPECT_NEAR(data(with, "delta")[at], (ds[at] + ds[2 * nl + at] + ds[4 * nl + at] + ds[6 * nl + at]) / 4, 1e-15);
    EXPECT_NE(ds[at], ds[2 * nl + at]); // replica 1 has its own clones
    std::erase_if(with.extra, [](const auto& kv) { return kv.first.rfind("clones/", 0) == 0; });
    for (const char* key : {"clones", "clone_tw", "clone_lags", "barrier_points"}) {
        EXPECT_TRUE(with.parameters.contains(key)) << key;
        with.parameters.erase(key);
    }
    par.clones = 0;
    par.clone_tw.clear();
    glassy::test::expect_identical_records(glassy::run_pspin_quench(par), with);
}

// Stopped in sample 1 inside the clones born at t_w = 1 (main 200 steps, clones 180 + 100 per
// sample: the stop hook's call 480 + 200 + 51 is after clone step 20 + 51), resumed: the
// identical record; likewise stopped in the main trajectory after the births.
TEST(clones, interrupted_in_a_clone_phase_and_resumed_is_bit_identical) {
    const auto dir = glassy::test::scratch_dir("clones_ckpt");
    auto par = clone_quench();
    par.samples = 2;
    const auto full = glassy::run_pspin_quench(par);
    const auto saved = glassy::test::interrupted_quench(par, 480 + 200 + 50, dir / "c.ckpt");
    EXPECT_EQ(saved.integer("sample"), 1);
    EXPECT_EQ(saved.integer("clones/phase"), 0);
    EXPECT_EQ(saved.integer("clones/step"), 71);
    EXPECT_GT(saved.arrays.count("clones/birth/1/0"), 0u); // the state of the next birth is held
    glassy::test::expect_resumes_to(par, saved, full);
    // In sample 0's main trajectory after both births (step 151): the births travel in the checkpoint.
    const auto early = glassy::test::interrupted_quench(par, 150, dir / "m.ckpt");
    EXPECT_EQ(early.integer("clones/main_done"), 0);
    EXPECT_GT(early.arrays.count("clones/birth/0/0"), 0u);
    glassy::test::expect_resumes_to(par, early, full);
    std::filesystem::remove_all(dir);
}

// The clone tables travel with the sample blocks (MPI ranks, --sample-offset parts): two blocks
// assemble into the record of one run.
TEST(clones, sample_blocks_carry_the_clones) {
    auto par = clone_quench();
    par.samples = 2;
    par.clone_lags = {0, 1, 4};
    const auto whole = glassy::run_pspin_quench(par);
    auto first = par, second = par;
    first.samples = second.samples = 1;
    second.sample_offset = 1;
    const auto rec = glassy::assemble_pspin_quench(
        par, {glassy::measure_pspin_samples(first), glassy::measure_pspin_samples(second)});
    glassy::test::expect_identical_records(whole, rec);
    EXPECT_GT(rec.extra.count("clones/delta_samples"), 0u);
}

TEST(clones, bad_clone_parameters_name_their_field) {
    const auto key_of = [](const glassy::pspin_quench_parameters& par) {
        try {
            glassy::validate(par);
        } catch (const glassy::field_error& e) {
            return e.key();
        }
        return std::string("none");
    };
    auto par = clone_quench();
    EXPECT_EQ(key_of(par), "none");
    par.clones = 1;
    EXPECT_EQ(key_of(par), "clones");
    par.clones = -2;
    EXPECT_EQ(key_of(par), "clones");
    for (const double tw : {0.0, 10.0, 12.0, -1.0, 0.01}) { // 0.01 rounds to step 0
        par = clone_quench();
        par.clone_tw = {tw};
        EXPECT_EQ(key_of(par), "clone_tw") << tw;
    }
    par = clone_quench();
    par.clone_lags = {11};
    EXPECT_EQ(key_of(par), "clone_lags");
}

TEST(clones, cost_and_memory_estimates) {
    auto par = clone_quench();
    par.samples = 2;
    const auto cost = glassy::cost_estimate(par);
    EXPECT_EQ(cost.main, 2 * 200.0);
    EXPECT_EQ(cost.clones, 2 * 3 * (180.0 + 100.0));
    EXPECT_EQ(glassy::memory_estimate(par).clones, 8.0 * 64 * (2 + 9 * 3));
    par.clones = 0;
    EXPECT_EQ(glassy::cost_estimate(par).clones, 0.0);
    EXPECT_EQ(glassy::memory_estimate(par).clones, 0.0);
}

} // namespace
