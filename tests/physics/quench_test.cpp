// The finite-N quench (physics/quench.hpp): reproducibility, Delta's bounds, replicas as samples,
// bit-identical resumption of a replica run, float32 couplings in the record.
#include "physics/quench.hpp"

#include <gtest/gtest.h>

#include "support/record_compare.hpp"
#include "support/scratch.hpp"
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <string>

TEST(quench, same_seed_same_record_and_thread_count_does_not_matter) {
    glassy::pspin_quench_parameters par;
    par.n = 40;
    par.tmax = 5;
    par.samples = 2;
    omp_set_num_threads(1);
    const auto a = glassy::run_pspin_quench(par);
    omp_set_num_threads(2);
    const auto b = glassy::run_pspin_quench(par);
    EXPECT_EQ(a.energy, b.energy);
    for (Eigen::Index i = 0; i < a.aging.delta.size(); ++i) {
        const double x = a.aging.delta.data()[i], y = b.aging.delta.data()[i];
        EXPECT_TRUE((std::isnan(x) && std::isnan(y)) || x == y);
    }
    par.seed = 2;
    const auto c = glassy::run_pspin_quench(par);
    EXPECT_NE(a.energy.back(), c.energy.back());
}

TEST(quench, delta_is_zero_at_equal_times_and_bounded_by_four) {
    glassy::pspin_quench_parameters par;
    par.n = 32;
    par.tmax = 50;
    par.temperature = 2.0;
    const auto rec = glassy::run_pspin_quench(par);
    ASSERT_EQ(rec.aging.t.front(), 0.0);
    for (Eigen::Index i = 0; i < rec.aging.delta.rows(); ++i) {
        EXPECT_EQ(rec.aging.delta(i, 0), 0.0);
        for (Eigen::Index j = 0; j < rec.aging.delta.cols(); ++j) {
            const double d = rec.aging.delta(i, j);
            if (std::isnan(d)) continue;
            EXPECT_GE(d, 0.0);
            EXPECT_LE(d, 4.0);
        }
    }
    // At T = 2 the system decorrelates: Delta at the longest lag is near 2 (C -> 0).
    EXPECT_NEAR(rec.aging.delta(0, rec.aging.delta.cols() - 2), 2.0, 0.6);
}

TEST(quench_replicas, replicas_count_as_samples_and_replica_zero_is_the_single_run) {
    glassy::pspin_quench_parameters par;
    par.n = 40;
    par.tmax = 4;
    par.samples = 2;
    const auto single = glassy::run_pspin_quench(par);
    par.replicas = 3;
    const auto rep = glassy::run_pspin_quench(par);
    ASSERT_EQ(rep.energy_samples.rows(), 6);
    ASSERT_EQ(rep.aging.delta_samples.size(), 6u);
    EXPECT_EQ(rep.parameters.at("replicas"), 3);
    EXPECT_EQ(rep.parameters.at("samples_completed"), 2);
    EXPECT_FALSE(single.parameters.contains("replicas"));
    // Replica 0 of sample s has the single run's seeds; only the summation order of the batched
    // gradient differs (1e-16 relative), amplified by at most e^{O(1) t} over t = 4.
    for (int s = 0; s < 2; ++s) {
        for (Eigen::Index k = 0; k < rep.energy_samples.cols(); ++k)
            EXPECT_NEAR(rep.energy_samples(3 * s, k), single.energy_samples(s, k), 1e-9) << "sample " << s;
        // The other replicas have their own initial conditions: at t = 4 the energies differ by
        // O(N^-1/2) sample-to-sample fluctuations, never by less than 1e-6.
        for (int r = 1; r < 3; ++r)
            EXPECT_GT(std::abs(rep.energy_samples(3 * s + r, 0) - rep.energy_samples(3 * s, 0)), 1e-6);
    }
    // The mean energy is the mean over all n_s = 6 rows.
    const Eigen::Index last = rep.energy_samples.cols() - 1;
    EXPECT_NEAR(rep.energy[static_cast<std::size_t>(last)], rep.energy_samples.col(last).mean(), 1e-14);
}

TEST(quench_replicas, thread_count_does_not_matter_with_replicas) {
    glassy::pspin_quench_parameters par;
    par.n = 100;
    par.tmax = 2;
    par.replicas = 5;
    par.method = glassy::quench_method::heun;
    omp_set_num_threads(1);
    const auto a = glassy::run_pspin_quench(par);
    omp_set_num_threads(2);
    const auto b = glassy::run_pspin_quench(par);
    EXPECT_EQ(a.energy, b.energy);
    EXPECT_TRUE(glassy::test::same(a.energy_samples, b.energy_samples));
}

TEST(quench_replicas, interrupted_and_resumed_replica_run_is_bit_identical) {
    const auto dir = glassy::test::scratch_dir("replica_ckpt");
    for (const std::string method : {"langevin", "heun", "metropolis"}) {
        glassy::pspin_quench_parameters par;
        par.n = 24;
        par.tmax = 20;
        par.samples = 2;
        par.replicas = 3;
        par.method = glassy::parse_quench_method(method);
        const auto full = glassy::run_pspin_quench(par);
        // Stop in the middle of sample 1 (hooks.stop is asked per step of the current sample).
        glassy::run_control control;
        control.checkpoint_path = dir / (method + ".ckpt");
        glassy::run_hooks hooks;
        int calls = 0;
        const int stop_after = method == "metropolis" ? 20 + 7 : 400 + 123;
        hooks.stop = [&](std::int64_t) { return ++calls > stop_after; };
        const auto partial = glassy::run_pspin_quench(par, hooks, control);
        ASSERT_FALSE(partial.complete) << method;
        const glassy::checkpoint saved = glassy::read_checkpoint(control.checkpoint_path);
        EXPECT_EQ(saved.integer("sample"), 1) << method;
        glassy::run_control resume;
        resume.checkpoint_path = control.checkpoint_path;
        resume.resume = &saved;
        const auto resumed = glassy::run_pspin_quench(par, {}, resume);
        ASSERT_TRUE(resumed.complete) << method;
        EXPECT_EQ(resumed.energy, full.energy) << method;
        EXPECT_TRUE(glassy::test::same(resumed.energy_samples, full.energy_samples)) << method;
        ASSERT_EQ(resumed.aging.delta_samples.size(), 6u);
        for (std::size_t k = 0; k < 6; ++k)
            EXPECT_TRUE(glassy::test::same(resumed.aging.delta_samples[k], full.aging.delta_samples[k])) << method;
        if (method == "metropolis") {
            EXPECT_EQ(resumed.observables.at("acceptance"), full.observables.at("acceptance"));
        }
    }
    std::filesystem::remove_all(dir);
}

TEST(quench_float32, float32_run_is_close_to_float64_and_recorded) {
    glassy::pspin_quench_parameters par;
    par.n = 40;
    par.tmax = 2;
    par.replicas = 2;
    const auto a = glassy::run_pspin_quench(par);
    par.couplings = glassy::coupling_precision::float32;
    const auto b = glassy::run_pspin_quench(par);
    EXPECT_EQ(b.parameters.at("couplings"), "float32");
    EXPECT_FALSE(a.parameters.contains("couplings"));
    // Couplings perturbed by 6e-8 relative, same noise: trajectories agree to ~1e-7 e^{O(t)}.
    EXPECT_NEAR(a.energy.back(), b.energy.back(), 1e-5);
    EXPECT_NE(a.energy.back(), b.energy.back());
    EXPECT_THROW((void)glassy::parse_coupling_precision("float16"), glassy::field_error);
}
