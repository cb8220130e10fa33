#include "dynamics/record.hpp"
#include "support/record_compare.hpp"
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
    const auto r =
        run_command(exe + " --method ck --scheme reference --T 0.5 --tmax 4 --quiet --force --out " + out.string());
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
    for (const std::string flags :
         {"--method ck --N 10", "--method ck --checkpoint-every 10x", "--method ck --mix 3:x", "--method ck --T -1"}) {
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
                                       std::to_string(ref.samples) + " --method " + ref.method + " --threads " +
                                       threads + " --quiet --force --out " + out.string());
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

// Issue 11 §4: step counts that overflow the 64-bit counters are refused before any work (they
// used to wrap and run one step with a record marked complete), and every run says at start how
// many steps it will take.
TEST(pspin_quench_app, step_counts_beyond_the_64_bit_counter_are_refused) {
    const auto out = scratch() / "overflow.h5";
    fs::remove(out);
    for (const std::string flags : {"--dt 1e-10 --tmax 1e9", "--tmax 1e300", "--method metropolis --tmax 1e19",
                                    "--dt 1e-9 --tmax 1e9 --samples 5"}) {
        const auto r = run_command(exe + " --N 16 " + flags + " --quiet --out " + out.string());
        EXPECT_EQ(r.status, 1) << flags << ": " << r.output;
        EXPECT_EQ(glassy::test::count_lines(r.output), 1) << flags << ": " << r.output;
        EXPECT_NE(r.output.find("--tmax / --dt asks for"), std::string::npos) << flags << ": " << r.output;
        EXPECT_FALSE(fs::exists(out)) << flags;
    }
}

TEST(pspin_quench_app, the_step_count_is_printed_at_start) {
    const auto out = scratch() / "steps.h5";
    // tmax / dt = 5 / 0.05 = 100 steps per sample, 2 samples.
    const auto r = run_command(exe + " --N 16 --tmax 5 --samples 2 --force --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(", 200 steps, "), std::string::npos) << r.output;
    const auto ck = run_command(exe + " --method ck --scheme reference --tmax 1 --force --out " + out.string());
    ASSERT_EQ(ck.status, 0) << ck.output;
    EXPECT_NE(ck.output.find(", 50 steps"), std::string::npos) << ck.output; // 1 / 0.02
    const auto quiet = run_command(exe + " --N 16 --tmax 5 --quiet --force --out " + out.string());
    EXPECT_EQ(glassy::test::count_lines(quiet.output), 1) << quiet.output; // only "wrote ...": --quiet stays quiet
}

// Issue 11 §4: an equilibrium start at T0 <= T_d does not exist (the run used to go on and
// report e = -1.56, below the ground state); the message gives T_d.
TEST(pspin_quench_app, ck_t0_at_or_below_the_dynamical_temperature_is_refused) {
    const auto out = scratch() / "t0.h5";
    fs::remove(out);
    struct refused_case {
        std::string flags, td;
    };
    for (const auto& [flags, td] :
         {refused_case{"--T0 0.3", "T_d = 0.612372"}, refused_case{"--T0 0.5 --T 0.5", "T_d = 0.612372"},
          refused_case{"--T0 0.61", "T_d = 0.612372"}, refused_case{"--mix 3:1,4:1 --T0 0.8", "T_d = 0.805166"}}) {
        const auto r = run_command(exe + " --method ck --tmax 1 " + flags + " --quiet --out " + out.string());
        EXPECT_EQ(r.status, 1) << flags << ": " << r.output;
        EXPECT_EQ(glassy::test::count_lines(r.output), 1) << flags << ": " << r.output;
        EXPECT_NE(r.output.find(td), std::string::npos) << flags << ": " << r.output;
        EXPECT_FALSE(fs::exists(out)) << flags;
    }
    // Just above T_d the start exists: e(0) = -f(1)/T0 = -1/(2 T0).
    const auto r =
        run_command(exe + " --method ck --scheme reference --tmax 0.1 --T0 0.62 --quiet --force --out " + out.string());
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NEAR(glassy::read_record(out).energy.front(), -1.0 / (2 * 0.62), 1e-12);
}

// Issue 11 §4: a flag that the chosen method or model ignores is refused with one line naming
// it (CK flags used to be silently ignored by the finite-N methods, and so on).
TEST(pspin_quench_app, flags_without_effect_are_refused) {
    const auto out = scratch() / "noeffect.h5";
    fs::remove(out);
    struct refused_case {
        std::string flags, flag;
    };
    for (const auto& [flags, flag] :
         {refused_case{"--T0 2", "--T0"}, refused_case{"--mix 3:1", "--mix"},
          refused_case{"--scheme reference", "--scheme"}, refused_case{"--grid 64", "--grid"},
          refused_case{"--method heun --T0 2", "--T0"}, refused_case{"--method metropolis --grid 64", "--grid"},
          refused_case{"--method metropolis --dt 0.1", "--dt"}, refused_case{"--theta-max 0.2", "--theta-max"},
          refused_case{"--method heun --theta-max 0.2", "--theta-max"}, refused_case{"--method ck --N 64", "--N"},
          refused_case{"--method ck --replicas 2", "--replicas"},
          refused_case{"--method ck --couplings float32", "--couplings"},
          refused_case{"--method ck --seed 2", "--seed"}, refused_case{"--method ck --tw 1", "--tw"},
          refused_case{"--method ck --mix 3:1 --p 4", "--p"},
          refused_case{"--method ck --scheme reference --grid 64", "--grid"}}) {
        const auto r = run_command(exe + " --tmax 1 " + flags + " --quiet --out " + out.string());
        EXPECT_EQ(r.status, 1) << flags << ": " << r.output;
        EXPECT_EQ(glassy::test::count_lines(r.output), 1) << flags << ": " << r.output;
        EXPECT_NE(r.output.find(flag + " has no effect"), std::string::npos) << flags << ": " << r.output;
        EXPECT_FALSE(fs::exists(out)) << flags;
    }
}

TEST(pspin_quench_app, sample_offset_parts_merged_by_aging_analysis_give_the_record_of_one_run) {
    // A job array without MPI (docs/cluster.md): parts --sample-offset K, then aging_analysis --merge.
    const auto dir = scratch();
    const std::string args = " --N 20 --T 0.5 --tmax 10 --method metropolis --quiet --force --out ";
    const auto whole = dir / "whole.h5", p0 = dir / "part0.h5", p2 = dir / "part2.h5", merged = dir / "merged.h5";
    ASSERT_EQ(run_command(exe + " --samples 3" + args + whole.string()).status, 0);
    ASSERT_EQ(run_command(exe + " --samples 2 --sample-offset 0" + args + p0.string()).status, 0);
    ASSERT_EQ(run_command(exe + " --samples 1 --sample-offset 2" + args + p2.string()).status, 0);
    const std::string merge = std::string(GLASSY_AGING_ANALYSIS) + " --merge ";
    const auto m = run_command(merge + p2.string() + " " + p0.string() + " --force --out " + merged.string());
    ASSERT_EQ(m.status, 0) << m.output;
    glassy::test::expect_identical_records(glassy::read_record(merged), glassy::read_record(whole));
    // A record that is not a part is refused with one line naming it.
    const auto gap = run_command(merge + p2.string() + " " + whole.string() + " --force --out " + merged.string());
    EXPECT_NE(gap.status, 0);
    EXPECT_EQ(glassy::test::count_lines(gap.output), 1) << gap.output;
    EXPECT_NE(gap.output.find("no /sample_block"), std::string::npos) << gap.output;
}

// Issue 13: bad --hessian input is refused with one line naming the flag, before any work.
TEST(pspin_quench_app, bad_hessian_input_is_refused_before_any_work) {
    const auto out = scratch() / "hessian_bad.h5";
    fs::remove(out);
    struct refused_case {
        std::string flags, text;
    };
    for (const auto& [flags, text] :
         {refused_case{"--hessian --flat-epsilon 0", "--flat-epsilon must be in (0, 1)"},
          refused_case{"--hessian --flat-epsilon -1", "--flat-epsilon must be in (0, 1)"},
          refused_case{"--hessian --hessian-per-decade 0", "--hessian-per-decade must be >= 1"},
          refused_case{"--hessian --hessian-top 0", "--hessian-top must be >= 1"},
          refused_case{"--hessian-top 5", "--hessian-top has no effect without --hessian"},
          refused_case{"--flat-epsilon 0.01", "--flat-epsilon has no effect without --hessian"},
          refused_case{"--method ck --hessian", "--hessian has no effect with --method ck"},
          // 3 x 8 N^2 bytes of dense work at N = 2^20: about 24 TiB, more than any machine here.
          refused_case{"--hessian --p 2 --N 1048576", "--hessian at --N 1048576"}}) {
        const auto r = run_command(exe + " --tmax 1 " + flags + " --quiet --out " + out.string());
        EXPECT_EQ(r.status, 1) << flags << ": " << r.output;
        EXPECT_EQ(glassy::test::count_lines(r.output), 1) << flags << ": " << r.output;
        EXPECT_NE(r.output.find(text), std::string::npos) << flags << ": " << r.output;
        EXPECT_FALSE(fs::exists(out)) << flags;
    }
}

// --hessian writes the /hessian datasets (h5 round trip) and leaves the rest of the record as without it.
TEST(pspin_quench_app, hessian_run_writes_the_hessian_datasets) {
    const auto bare = scratch() / "hessian_bare.h5";
    const auto with = scratch() / "hessian_with.h5";
    const std::string args = " --N 20 --tmax 10 --samples 2 --threads 1 --quiet --force --out ";
    ASSERT_EQ(run_command(exe + args + bare.string()).status, 0);
    const auto r = run_command(exe + args + with.string() + " --hessian --hessian-top 4");
    ASSERT_EQ(r.status, 0) << r.output;
    const auto a = glassy::read_record(bare), b = glassy::read_record(with);
    EXPECT_EQ(a.energy, b.energy);
    EXPECT_EQ(b.parameters.at("hessian"), true);
    EXPECT_EQ(b.parameters.at("hessian_top"), 4);
    EXPECT_EQ(b.parameters.at("flat_epsilon"), 1e-3);
    EXPECT_FALSE(a.parameters.contains("hessian"));
    EXPECT_EQ(b.extra.at("hessian/spectrum").shape, (std::vector<std::uint64_t>{2, 2, 19})); // t_w = 1, 3.2 (<= tmax/2)
}

// The spectra travel with a part record's samples: parts with --hessian merge into the whole run's record.
TEST(pspin_quench_app, hessian_parts_merge_into_the_record_of_one_run) {
    const auto dir = scratch();
    const std::string args = " --N 20 --tmax 10 --hessian --hessian-per-decade 3 --quiet --force --out ";
    const auto whole = dir / "h_whole.h5", p0 = dir / "h_part0.h5", p1 = dir / "h_part1.h5", merged = dir / "h_m.h5";
    ASSERT_EQ(run_command(exe + " --samples 3" + args + whole.string()).status, 0);
    ASSERT_EQ(run_command(exe + " --samples 1 --sample-offset 0" + args + p0.string()).status, 0);
    ASSERT_EQ(run_command(exe + " --samples 2 --sample-offset 1" + args + p1.string()).status, 0);
    const auto m = run_command(std::string(GLASSY_AGING_ANALYSIS) + " --merge " + p1.string() + " " + p0.string() +
                               " --force --out " + merged.string());
    ASSERT_EQ(m.status, 0) << m.output;
    const auto a = glassy::read_record(whole);
    ASSERT_GT(a.extra.count("hessian/spectrum"), 0u);
    glassy::test::expect_identical_records(glassy::read_record(merged), a);
}

TEST(pspin_quench_app, aging_analysis_refuses_to_run_as_one_of_several_mpi_ranks) {
    // Every rank would write the same --out: one line, exit 1, nothing written.
    const auto out = scratch() / "ranks.h5";
    fs::remove(out);
    const auto r = run_command("OMPI_COMM_WORLD_SIZE=2 " + std::string(GLASSY_AGING_ANALYSIS) + " --merge a.h5 --out " +
                               out.string());
    EXPECT_EQ(r.status, 1);
    EXPECT_EQ(glassy::test::count_lines(r.output), 1) << r.output;
    EXPECT_NE(r.output.find("started as one of 2 MPI ranks"), std::string::npos) << r.output;
    EXPECT_FALSE(fs::exists(out));
}

// Issue 12 §5: a CK parameter out of its domain is named by its flag, also where the flag is
// shared with the finite-N methods (--per-decade sets lags_per_decade, --p a pure model).
TEST(pspin_quench_app, ck_errors_name_the_flag) {
    const auto out = scratch() / "ck_flag.h5";
    fs::remove(out);
    struct flagged_case {
        std::string flags, message;
    };
    for (const auto& [flags, message] :
         {flagged_case{"--per-decade 0", "pspin_quench: error: --per-decade must be >= 1"},
          flagged_case{"--p 1", "pspin_quench: error: --p must be >= 2 (got 1)"},
          flagged_case{"--T -1", "pspin_quench: error: --T must be finite and >= 0"},
          flagged_case{"--grid 15", "pspin_quench: error: --grid must be even and >= 16"},
          flagged_case{"--tmax -1", "pspin_quench: error: --tmax must be finite and > 0"}}) {
        const auto r = run_command(exe + " --method ck " + flags + " --quiet --out " + out.string());
        EXPECT_EQ(r.status, 1) << flags << ": " << r.output;
        EXPECT_EQ(r.output, message + "\n") << flags;
        EXPECT_FALSE(fs::exists(out)) << flags;
    }
}

// Issue 14: bad --clones input is refused with one line naming the flag, before any work.
TEST(pspin_quench_app, bad_clone_input_is_refused_before_any_work) {
    const auto out = scratch() / "clones_bad.h5";
    fs::remove(out);
    struct refused_case {
        std::string flags, text;
    };
    for (const auto& [flags, text] :
         {refused_case{"--clones 1", "--clones must be >= 2"},
          refused_case{"--clones 2 --clone-tw 0", "--clone-tw values must lie in (0, tmax)"},
          refused_case{"--clones 2 --clone-tw 1", "--clone-tw values must lie in (0, tmax)"}, // = tmax
          refused_case{"--clones 2 --clone-lags 2", "--clone-lags values must lie in [0, tmax]"},
          refused_case{"--clone-tw 0.5", "--clone-tw has no effect without --clones"},
          refused_case{"--barrier-points 5", "--barrier-points has no effect without --barrier or --clones"},
          refused_case{"--method ck --clones 2", "--clones has no effect with --method ck"}}) {
        const auto r = run_command(exe + " --tmax 1 " + flags + " --quiet --out " + out.string());
        EXPECT_EQ(r.status, 1) << flags << ": " << r.output;
        EXPECT_EQ(glassy::test::count_lines(r.output), 1) << flags << ": " << r.output;
        EXPECT_NE(r.output.find(text), std::string::npos) << flags << ": " << r.output;
        EXPECT_FALSE(fs::exists(out)) << flags;
    }
}

// --clones prints its cost before the run (2 samples x 200 main steps; 2 clones from step 40:
// 2 x 2 x 160 = 640 clone steps, 2.60 times the run without them), and the clones travel with
// the samples of --sample-offset parts: merged, the record of one run.
TEST(pspin_quench_app, clone_runs_print_their_cost_and_merge_from_parts) {
    const auto dir = scratch();
    const std::string args = " --N 20 --T 0.5 --tmax 10 --clones 2 --clone-tw 2 --clone-lags 0 1 4 --force --out ";
    const auto whole = dir / "c_whole.h5", p0 = dir / "c_part0.h5", p1 = dir / "c_part1.h5", merged = dir / "c_m.h5";
    const auto w = run_command(exe + " --samples 2" + args + whole.string());
    ASSERT_EQ(w.status, 0) << w.output;
    EXPECT_NE(w.output.find("640 clone replica-steps after the 400 of the main trajectories, 2.60x"), std::string::npos)
        << w.output;
    ASSERT_EQ(run_command(exe + " --quiet --samples 1 --sample-offset 0" + args + p0.string()).status, 0);
    ASSERT_EQ(run_command(exe + " --quiet --samples 1 --sample-offset 1" + args + p1.string()).status, 0);
    const auto m = run_command(std::string(GLASSY_AGING_ANALYSIS) + " --merge " + p1.string() + " " + p0.string() +
                               " --force --out " + merged.string());
    ASSERT_EQ(m.status, 0) << m.output;
    const auto a = glassy::read_record(whole);
    EXPECT_EQ(a.extra.at("clones/delta").shape, (std::vector<std::uint64_t>{1, 3}));
    EXPECT_EQ(a.extra.at("clones/barrier_samples").shape, (std::vector<std::uint64_t>{2, 1}));
    glassy::test::expect_identical_records(glassy::read_record(merged), a);
}
