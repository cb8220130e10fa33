#include "dynamics/record.hpp"
#include "support/run_command.hpp"
#include "support/scratch.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

namespace fs = std::filesystem;
using glassy::test::run_command;

namespace {
const std::string exe = GLASSY_PSPIN_QUENCH;

fs::path scratch() { return glassy::test::scratch_dir("pspin_app"); }
} // namespace

TEST(pspin_quench_app, tiny_run_writes_a_valid_record) {
    const auto out = scratch() / "tiny.h5";
    const auto r = run_command(exe + " --N 24 --T 0.5 --tmax 20 --samples 2 --quiet --force --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.output;
    const auto rec = glassy::read_record(out);
    EXPECT_EQ(rec.system, "pspin");
    EXPECT_EQ(rec.method, "langevin");
    EXPECT_EQ(rec.parameters.at("N"), 24);
    EXPECT_EQ(rec.parameters.at("num_parameters"), 24);
    EXPECT_EQ(rec.energy_samples.rows(), 2);
    EXPECT_EQ(rec.aging.delta_samples.size(), 2u);
    ASSERT_FALSE(rec.energy.empty());
    // Energy per spin starts near 0 (T = infinity) and decreases; stays above the ground state
    // scale -1.2 (e_th(T=0) = -1.1547, finite-N fluctuations are O(N^-1/2)).
    EXPECT_NEAR(rec.energy.front(), 0.0, 4.0 / std::sqrt(24.0));
    EXPECT_LT(rec.energy.back(), -0.5);
    EXPECT_GT(rec.energy.back(), -1.4);
    // mu = T - p e at every time.
    for (std::size_t k = 0; k < rec.time.size(); ++k)
        EXPECT_NEAR(rec.observables.at("mu")[k], 0.5 - 3 * rec.energy[k], 1e-12);
    for (double d : rec.aging.noise) EXPECT_EQ(d, 0.5);
}

TEST(pspin_quench_app, metropolis_and_heun_run) {
    for (const std::string m : {"heun", "metropolis"}) {
        const auto out = scratch() / (m + ".h5");
        const auto r = run_command(exe + " --N 16 --tmax 10 --quiet --force --method " + m + " --out " + out.string());
        ASSERT_EQ(r.status, 0) << r.output;
        EXPECT_EQ(glassy::read_record(out).method, m);
    }
}

TEST(pspin_quench_app, bad_flags_give_one_line_and_nonzero_exit) {
    const auto out = scratch() / "never.h5";
    for (const std::string flags : {"--N 2 --p 3", "--T -1", "--dt 0", "--dt -0.1", "--method foo", "--samples 0",
                                    "--N abc", "--bogus 1", "--tmax 0", "--N 6000"}) {
        const auto r = run_command(exe + " " + flags + " --quiet --out " + out.string());
        EXPECT_NE(r.status, 0) << flags;
        EXPECT_EQ(glassy::test::count_lines(r.output), 1) << flags << ": " << r.output;
        EXPECT_NE(r.output.find("error"), std::string::npos) << flags;
        EXPECT_FALSE(fs::exists(out)) << flags;
    }
}

TEST(pspin_quench_app, existing_output_is_not_overwritten_without_force) {
    const auto out = scratch() / "exists.h5";
    ASSERT_EQ(run_command(exe + " --N 8 --tmax 1 --quiet --force --out " + out.string()).status, 0);
    const auto before = fs::last_write_time(out);
    const auto r = run_command(exe + " --N 8 --tmax 1 --quiet --out " + out.string());
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find("--force"), std::string::npos);
    EXPECT_EQ(fs::last_write_time(out), before);
    const auto r2 = run_command(exe + " --N 8 --tmax 1 --quiet --out /nonexistent-dir/x.h5");
    EXPECT_NE(r2.status, 0);
    EXPECT_EQ(glassy::test::count_lines(r2.output), 1) << r2.output;
}

TEST(pspin_quench_app, help_exits_zero) {
    const auto r = run_command(exe + " --help");
    EXPECT_EQ(r.status, 0);
    EXPECT_NE(r.output.find("--method"), std::string::npos);
}

TEST(pspin_quench_app, ck_method_writes_an_n_infinity_record) {
    const auto out = scratch() / "ck.h5";
    const auto r = run_command(exe + " --method ck --scheme reference --T 0.5 --tmax 4 --quiet --force --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.output;
    const auto rec = glassy::read_record(out);
    EXPECT_EQ(rec.method, "ck");
    EXPECT_EQ(rec.parameters.at("num_parameters"), "infinity");
    ASSERT_FALSE(rec.energy.empty());
    // Short-time series e(t) = -(p/2) t + (p^2 T / 4) t^2 + O(t^3) at t = 0.2: -0.3 + 0.045.
    std::size_t k = 0;
    for (std::size_t i = 0; i < rec.time.size(); ++i)
        if (std::abs(rec.time[i] - 0.2) < std::abs(rec.time[k] - 0.2)) k = i;
    const double t = rec.time[k];
    ASSERT_LT(std::abs(t - 0.2), 0.05);
    EXPECT_NEAR(rec.energy[k], -1.5 * t + 1.125 * t * t, 0.01); // O(t^3) remainder ~ 4 t^3
    EXPECT_TRUE(rec.extra.count("ck/C"));
    for (const std::string flags : {"--method ck --N 10", "--method ck --checkpoint-every 10x", "--method ck --mix 3:x",
                                    "--method ck --T -1"}) {
        const auto bad = run_command(exe + " " + flags + " --quiet --force --out " + (scratch() / "bad.h5").string());
        EXPECT_NE(bad.status, 0) << flags;
        EXPECT_EQ(glassy::test::count_lines(bad.output), 1) << flags << ": " << bad.output;
    }
}

// --replicas 1 reproduces, bit for bit, the records of the single-state kernel: reference values
// printed (%a) from records of the vectorised single-state kernel (the commit that introduced
// it, "p-spin: vectorised single-state kernel") with --N 20 --T 0.4 --tmax 12 --seed 7 (and
// --threads 1 or 2: results do not depend on it). pspin.cpp is compiled without FMA contraction,
// so the AVX-512, AVX2 and SSE2 clones give these same bits (checked by building without the
// clones); a change of the values means a change of the arithmetic, to be made on purpose.
TEST(pspin_quench_app, replicas_1_reproduces_the_single_kernel_records_bit_for_bit) {
    struct reference {
        std::string method;
        int samples;
        double e_last, e_mid, delta;
    };
    const std::vector<reference> refs = {
        {"langevin", 3, -0x1.4df04d56aa7f0p-1, -0x1.35c149a80236ep-1, 0x1.9ef33ed6496b3p-2},
        {"heun", 3, -0x1.5560286b3d3a4p-1, -0x1.3cd524f5a79e1p-1, 0x1.89eb16b0d48a8p-2},
        {"metropolis", 3, -0x1.47092b8f0dc7cp-2, -0x1.13bae4fcf700cp-2, 0.0},
        {"langevin", 1, -0x1.36de6c31f27e1p-1, -0x1.1e752da7e673bp-1, 0x1.9ede3ff84cc65p-2},
    };
    for (const auto& ref : refs)
        for (const std::string threads : {"1", "2"}) {
            const auto out = scratch() / ("ref_" + ref.method + ".h5");
            const auto r = run_command(exe + " --N 20 --T 0.4 --tmax 12 --seed 7 --replicas 1 --samples " +
                                       std::to_string(ref.samples) + " --method " + ref.method + " --threads " + threads +
                                       " --quiet --force --out " + out.string());
            ASSERT_EQ(r.status, 0) << r.output;
            const auto rec = glassy::read_record(out);
            const std::string what = ref.method + " K = " + std::to_string(ref.samples) + " threads " + threads;
            EXPECT_EQ(rec.energy.back(), ref.e_last) << what;
            EXPECT_EQ(rec.energy[rec.energy.size() / 2], ref.e_mid) << what;
            // Element 10 of the row-major table: Delta(t_w[0], lag[10]) where there are 11 lags or
            // more; for the short Metropolis run (fewer lags) an entry of the second row.
            ASSERT_GT(rec.aging.delta.size(), 10) << what;
            EXPECT_EQ(rec.aging.delta.data()[10], ref.delta) << what;
            EXPECT_FALSE(rec.parameters.contains("replicas")) << what;
        }
}

TEST(pspin_quench_app, four_replicas_are_four_samples_in_the_record) {
    const auto out = scratch() / "replicas.h5";
    const auto r = run_command(exe + " --N 24 --T 0.5 --tmax 20 --replicas 4 --quiet --force --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.output;
    const auto rec = glassy::read_record(out);
    EXPECT_EQ(rec.parameters.at("replicas"), 4);
    EXPECT_EQ(rec.parameters.at("samples"), 1);
    ASSERT_EQ(rec.energy_samples.rows(), 4);
    ASSERT_EQ(rec.aging.delta_samples.size(), 4u);
    const Eigen::Index last = rec.energy_samples.cols() - 1;
    // Shared couplings, own initial conditions and noise: the replicas are distinct, all
    // descend from e = 0 (T = infinity): each below -0.2 (O(N^-1/2) = 0.2 sample spread),
    // their mean below -0.5 as for independent samples, and /energy is their mean.
    EXPECT_LT(rec.energy.back(), -0.5);
    for (Eigen::Index s = 0; s < 4; ++s) {
        EXPECT_LT(rec.energy_samples(s, last), -0.2) << s;
        EXPECT_GT(rec.energy_samples(s, last), -1.4) << s;
        for (Eigen::Index q = 0; q < s; ++q) EXPECT_NE(rec.energy_samples(s, last), rec.energy_samples(q, last));
    }
    EXPECT_NEAR(rec.energy.back(), rec.energy_samples.col(last).mean(), 1e-14);
    const auto bad = run_command(exe + " --replicas 0 --quiet --force --out " + (scratch() / "bad.h5").string());
    EXPECT_NE(bad.status, 0);
    EXPECT_EQ(glassy::test::count_lines(bad.output), 1) << bad.output;
    EXPECT_NE(bad.output.find("--replicas"), std::string::npos) << bad.output;
}
