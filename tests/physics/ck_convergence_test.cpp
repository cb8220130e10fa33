// Convergence and long-time tests of the CK integrators: measured order of the reference
// integrator, agreement of the two schemes, and the approach to the threshold at T = 0.5.
#include "physics/ck.hpp"
#include "physics/ck_run.hpp"

#include "dynamics/error.hpp"
#include "dynamics/record.hpp"
#include "tests/physics/ck_support.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <limits>

namespace glassy {
namespace {

using ck_test::history_at;
using ck_test::run_decimation;
using ck_test::run_reference;

// Second order: halving h divides the error of e(2) and C(2,1) by 4 (accepted in [3.5, 4.5]).
TEST(ck_reference, second_order_in_the_step) {
    const ck_system sys(ck_mixture::pure(3), 0.5);
    double e[3], c[3];
    int k = 0;
    for (const double h : {0.04, 0.02, 0.01}) {
        const auto x = run_reference(sys, 2.0, h);
        e[k] = x.energy.back();
        c[k] = x.c[static_cast<std::size_t>(x.n)][static_cast<std::size_t>(x.n / 2)];
        ++k;
    }
    const double re = (e[0] - e[1]) / (e[1] - e[2]);
    const double rc = (c[0] - c[1]) / (c[1] - c[2]);
    EXPECT_GT(re, 3.5);
    EXPECT_LT(re, 4.5);
    EXPECT_GT(rc, 3.5);
    EXPECT_LT(rc, 4.5);
}

// The decimation scheme agrees with the Richardson-extrapolated reference solution up to t = 10
// (T = 0.5). Measured differences: grid 128: 1e-3, grid 256: 2.6e-4 (C) and 5e-5 (e); the
// error must fall when the grid doubles.
TEST(ck_decimation, agrees_with_reference) {
    const ck_system sys(ck_mixture::pure(3), 0.5);
    const auto r1 = run_reference(sys, 10.0, 0.02);
    const auto r2 = run_reference(sys, 10.0, 0.01);
    const auto richardson = [](double coarse, double fine) { return fine + (fine - coarse) / 3.0; };
    const double e_ref = richardson(r1.energy.back(), r2.energy.back());
    const double c105 = richardson(ck_interpolate_c(r1, 10.0, 5.0), ck_interpolate_c(r2, 10.0, 5.0));
    const double c101 = richardson(ck_interpolate_c(r1, 10.0, 1.0), ck_interpolate_c(r2, 10.0, 1.0));
    double err_prev = 1.0;
    for (const int grid : {128, 256}) {
        const auto x = run_decimation(sys, 10.0, grid);
        const double e = history_at(x, x.energy, 10.0);
        const double err = std::max({std::abs(e - e_ref), std::abs(ck_interpolate_c(x, 10.0, 5.0) - c105),
                                     std::abs(ck_interpolate_c(x, 10.0, 1.0) - c101)});
        EXPECT_LT(err, grid == 128 ? 2e-3 : 5e-4) << "grid " << grid;
        EXPECT_LT(err, err_prev);
        err_prev = err;
    }
}

// T = 0.5 < T_d: the long-time dynamics approaches the threshold (design.md 5, q_EA = 0.6388241,
// e_th = -0.8866928, x = 0.5654). One run to t = 10^4 on a grid of 256:
// - e(t) decreases and stays above e_th; at t = 10^4 e - e_th = 1.5e-3 (measured; the
//   approach is a slow power law), so we require 0 < e - e_th < 4e-3 and that e - e_th shrinks
//   by at least 2x per decade from 100 to 10^4;
// - the plateau: C at lags h..3h (52..157 at the end, far beyond the fast relaxation and far
//   below t) lies within 0.02 above q_EA (it approaches q_EA from above like the time-translation-
//   invariant part decays); Delta there is 2(1 - C) ~ 0.72;
// - the FDT part: T chi = 1 - C above the plateau; below it the slope of T chi versus C
//   (least squares over 0.1 < C < 0.5) is -x within 0.05 (measured -0.547 at t = 10^4,
//   drifting towards -0.5654).
TEST(ck_threshold, approach_at_half_temperature) {
    const double T = 0.5;
    const auto th = ck_test::pure_threshold(3, T);
    ASSERT_NEAR(th.q, 0.6388241, 1e-6);
    ASSERT_NEAR(th.e, -0.8866928, 1e-6);
    const ck_system sys(ck_mixture::pure(3), T);
    const auto x = run_decimation(sys, 1e4, 256);
    // Monotone up to the small jumps a decimation makes (measured below 5e-6).
    for (std::size_t k = 1; k < x.energy.size(); ++k) ASSERT_LT(x.energy[k], x.energy[k - 1] + 2e-5);
    EXPECT_GT(x.energy.back() - th.e, 0.0);
    EXPECT_LT(x.energy.back() - th.e, 4e-3);
    const double g2 = history_at(x, x.energy, 100.0) - th.e;
    const double g3 = history_at(x, x.energy, 1000.0) - th.e;
    const double g4 = history_at(x, x.energy, 9000.0) - th.e;
    EXPECT_GT(g2 / g3, 2.0);
    EXPECT_GT(g3 / g4, 2.0);

    // Near the plateau at lags h..3h (h = 52): C(t, t - 52) = 0.6649 at N = 256 and 0.6662 at
    // N = 512 with the aged band (issue 16; the old stale copy gave 0.6584 and 0.6631): at a finite
    // t_w the plateau lies above q_EA (Delta below 2(1 - q_EA)), so the bound is q_EA + 0.03.
    const auto i = static_cast<std::size_t>(x.n);
    for (std::size_t lag = 1; lag <= 3; ++lag) {
        const double c = x.c[i][i - lag];
        EXPECT_GT(c, th.q) << "lag " << lag;
        EXPECT_LT(c, th.q + 0.03) << "lag " << lag;
        EXPECT_NEAR(2.0 - 2.0 * c, 2.0 * (1.0 - th.q), 0.06);
        EXPECT_NEAR(T * ck_chi(x, x.n, static_cast<std::int64_t>(i - lag)), 1.0 - c, 0.01);
    }
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    int n = 0;
    for (std::size_t j = 0; j <= i; ++j) {
        const double c = x.c[i][j];
        if (c <= 0.1 || c >= 0.5) continue;
        const double y = T * ck_chi(x, x.n, static_cast<std::int64_t>(j));
        sx += c;
        sy += y;
        sxx += c * c;
        sxy += c * y;
        ++n;
    }
    ASSERT_GT(n, 20);
    const double slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    EXPECT_NEAR(-slope, th.x, 0.05);
}

// Issue 16, point 3: the copied band ages with the first solved column (ck_decimation,
// age_near_diagonal). On a coarse grid (N = 64) the stale copy of the band took e(t) below e_th
// by t = 1e5 (measured e - e_th = +2.0e-5 at 1e4, -1.4e-3 at 1e5, -7.9e-2 at 1e6); with the aged
// band e(t) stays above the threshold and still decreases (+9.6e-4 at 1e4, +1.3e-4 at 1e5).
TEST(ck_threshold, coarse_grid_stays_above_the_threshold) {
    const auto th = ck_test::pure_threshold(3, 0.5);
    const ck_system sys(ck_mixture::pure(3), 0.5);
    const auto x = run_decimation(sys, 1e5, 64);
    const double g4 = history_at(x, x.energy, 1e4) - th.e;
    const double g5 = x.energy.back() - th.e;
    EXPECT_GT(g5, 0.0);
    EXPECT_GT(g4, 2.0 * g5);
}

// T = 0 (no FDT part in the scheme): e(t) approaches e_th(0) = -2/sqrt(3) = -1.1547005 from above
// (measured e(10^4) - e_th = 1.4e-3 on a grid of 256).
TEST(ck_threshold, approach_at_zero_temperature) {
    const double e_th0 = -2.0 / std::sqrt(3.0);
    const ck_system sys(ck_mixture::pure(3), 0.0);
    const auto x = run_decimation(sys, 1e4, 256);
    EXPECT_GT(x.energy.back() - e_th0, 0.0);
    EXPECT_LT(x.energy.back() - e_th0, 3e-3);
    EXPECT_GT((history_at(x, x.energy, 100.0) - e_th0) / (x.energy.back() - e_th0), 4.0);
}

// The mixed 3+4 model at T = 0 (no FDT part): e(t) approaches its threshold energy e_th(0) =
// -71/42 (zero_temperature_threshold_energy) from above, and crosses -1.68, the energy of the most
// numerous marginal minima (docs/ck.md section 1). Measured on a grid of 128: e - e_th = 1.97e-2,
// 6.6e-3 at t = 10^2, 10^3 and e(10^3) = -1.68383 (grid 256: -1.68482; the estimated error of
// the grid-128 value is +2.1e-3, finer grids lie lower), so e(10^3) < -1.681 has a 1e-3 margin.
TEST(ck_threshold, mixed_model_at_zero_temperature_stays_above_its_threshold) {
    const auto mix = ck_mixture::parse("3:1,4:1");
    const double e_th0 = zero_temperature_threshold_energy(mix);
    const ck_system sys(mix, 0.0);
    const auto x = run_decimation(sys, 1e3, 128);
    for (std::size_t k = 0; k < x.energy.size(); ++k) ASSERT_GT(x.energy[k] - e_th0, 0.0) << "t = " << x.time[k];
    const double g2 = history_at(x, x.energy, 100.0) - e_th0;
    const double g3 = x.energy.back() - e_th0;
    EXPECT_GT(g2, 2.0 * g3);
    EXPECT_LT(x.energy.back(), -1.681);
}

// Lags under the grid resolution (t < 2h): Delta(t_w, t_w + 0.1) is filled from the short-time
// expansion C = 1 - T tau + (T mu + de/dt) tau^2 / 2 (ck_short_lag_correlation; docs/ck.md) instead
// of NaN. Against the reference scheme (h = 0.02, C error ~1e-4): the truncation error at tau = 0.1,
// T = 0.5 was measured 4.5e-4 to 8.5e-4 in C for t_w = 1 to 10 (it scales as tau^3: 8x from 0.05),
// so Delta is asked to 2.5e-3. Lag 0.2 stays NaN where unresolved (past short_lag_max).
TEST(ck_run, short_lags_from_the_expansion) {
    ck_parameters p;
    p.tmax = 12.0;
    p.grid = 64;
    p.dt = 1e-3;
    const record rec = run_ck(p, {});
    const ck_system sys(ck_mixture::pure(3), 0.5);
    const auto ref = run_reference(sys, 6.0, 0.02);
    const auto& ag = rec.aging;
    int filled = 0;
    for (std::size_t w = 0; w < ag.tw.size(); ++w) {
        const double d = ag.delta(static_cast<Eigen::Index>(w), 0);
        ASSERT_NEAR(ag.t[0], 0.1, 1e-12);
        ASSERT_FALSE(std::isnan(d)) << "t_w = " << ag.tw[w];
        EXPECT_NEAR(d, 2.0 - 2.0 * ck_interpolate_c(ref, ag.tw[w] + 0.1, ag.tw[w]), 2.5e-3) << ag.tw[w];
        filled += ag.tw[w] > 3.0 ? 1 : 0;
    }
    EXPECT_EQ(filled, 2); // t_w = 3.16, 5.62: lag 0.1 is under 2h there (h = 0.064 from t = 2.05)
}

// Issue 16, point 3: with slow_row_factor 10 (the error estimate's N/2 grid) a row whose
// iteration is still above 1e3 tolerance at max_iterations goes on (up to 10x) instead of
// throwing: the N = 256 grid at T = 0.5 stalled at t = 7.26e7 with the default 200 (rows need up
// to 598 there) and now reaches 1e8 (docs/ck.md section 3). Here with a cap of 2 iterations, which
// rows at t ~ 1 exceed (3 typical): with factor 1 (the run's own grid) the run throws; with 10 it
// completes and agrees with the default one to the accepted change (1e3 tolerance = 1e-7;
// measured 1.3e-8 in e(10)), and a tolerance no row can reach still ends in divergence_error.
TEST(ck_decimation, slow_rows_go_on_past_max_iterations) {
    const ck_system sys(ck_mixture::pure(3), 0.5);
    ck_decimation_options opt;
    opt.grid = 32;
    const auto run = [&](const ck_decimation_options& o) {
        ck_decimation dyn(o);
        ck_state x = dyn.initial_state(sys);
        for (std::int64_t s = 0, n = dyn.steps_to(10.0); s < n; ++s) dyn.step(sys, x);
        return x;
    };
    const auto ref = run(opt);
    opt.max_iterations = 2;
    EXPECT_THROW((void)run(opt), divergence_error); // slow_row_factor 1, the run's own grid
    opt.slow_row_factor = 10;                       // the error estimate's N/2 grid
    const auto capped = run(opt);
    EXPECT_NEAR(capped.energy.back(), ref.energy.back(), 1e-6);
    opt.tolerance = 1e-300;
    EXPECT_THROW((void)run(opt), divergence_error);
}

// run_ck: the record has every dataset of docs/ck.md with consistent shapes, survives a write /
// read round trip, and Delta is NaN exactly where t_w + t is past tmax.
TEST(ck_run, record_contents) {
    for (const char* scheme : {"decimation", "reference"}) {
        ck_parameters p;
        p.scheme = parse_ck_scheme(scheme);
        p.tmax = 20.0;
        p.grid = 64;
        p.dt = std::string(scheme) == "reference" ? 0.05 : 1e-3;
        p.output_points = 100;
        std::int64_t progress_calls = 0;
        run_hooks hooks;
        hooks.progress = [&](std::int64_t, std::int64_t) { ++progress_calls; };
        const record rec = run_ck(p, hooks);
        EXPECT_GT(progress_calls, 0);
        EXPECT_EQ(rec.system, "pspin");
        EXPECT_EQ(rec.method, "ck");
        EXPECT_EQ(rec.parameters.at("num_parameters"), "infinity");
        EXPECT_EQ(rec.parameters.at("T0"), "infinity");
        EXPECT_EQ(rec.parameters.at("p"), 3);
        EXPECT_EQ(rec.parameters.at("scheme"), scheme);
        ASSERT_EQ(rec.time.size(), rec.energy.size());
        ASSERT_EQ(rec.observables.at("mu").size(), rec.time.size());
        EXPECT_GE(rec.time.back(), 20.0);
        for (std::size_t k = 0; k < rec.time.size(); ++k)
            EXPECT_NEAR(rec.observables.at("mu")[k], 0.5 - 3.0 * rec.energy[k], 1e-10);
        const auto& ag = rec.aging;
        ASSERT_EQ(static_cast<std::size_t>(ag.delta.rows()), ag.tw.size());
        ASSERT_EQ(static_cast<std::size_t>(ag.delta.cols()), ag.t.size());
        ASSERT_EQ(ag.noise.size(), ag.tw.size());
        for (std::size_t w = 0; w < ag.tw.size(); ++w) {
            EXPECT_EQ(ag.noise[w], 0.5);
            for (std::size_t l = 0; l < ag.t.size(); ++l) {
                const double d = ag.delta(static_cast<Eigen::Index>(w), static_cast<Eigen::Index>(l));
                if (ag.tw[w] + ag.t[l] > p.tmax) {
                    EXPECT_TRUE(std::isnan(d));
                }
                if (!std::isnan(d)) {
                    EXPECT_GT(d, 0.0);
                    EXPECT_LT(d, 2.0);
                }
            }
        }
        // Delta(1, 1 + 1) = 2 - 2 C(2, 1) is resolved by both schemes.
        const auto& times = rec.extra.at("ck/times");
        const auto m = times.shape[0];
        EXPECT_LE(m, 101U);
        for (const char* key : {"ck/C", "ck/R", "ck/chi"}) {
            const auto& a = rec.extra.at(key);
            ASSERT_EQ(a.shape.size(), 2U);
            EXPECT_EQ(a.shape[0], m);
            EXPECT_EQ(a.shape[1], m);
            ASSERT_EQ(a.data.size(), m * m);
        }
        EXPECT_EQ(rec.extra.at("ck/C").data[0], 1.0);
        EXPECT_EQ(rec.extra.at("ck/R").data[m * m - 1], 1.0);
        const auto path = std::filesystem::temp_directory_path() / (std::string("ck_record_test_") + scheme + ".h5");
        write_record(rec, path);
        const record back = read_record(path);
        EXPECT_EQ(back.energy, rec.energy);
        EXPECT_EQ(back.extra.at("ck/C").data, rec.extra.at("ck/C").data);
        std::filesystem::remove(path);
    }
}

// The OpenMP loops only split independent columns: the result must not depend on the number
// of threads (bit for bit), on a grid large enough for the parallel branch (>= 192 columns).
TEST(ck_threads, result_independent_of_thread_count) {
    const ck_system sys(ck_mixture::pure(3), 0.5);
    const int before = omp_get_max_threads();
    omp_set_num_threads(1);
    const auto one = run_decimation(sys, 0.05, 384);
    omp_set_num_threads(2);
    const auto two = run_decimation(sys, 0.05, 384);
    omp_set_num_threads(before);
    ASSERT_EQ(one.energy.size(), two.energy.size());
    EXPECT_EQ(one.energy, two.energy);
    EXPECT_EQ(one.c[static_cast<std::size_t>(one.n)], two.c[static_cast<std::size_t>(two.n)]);
}

TEST(ck_run, validate_rejects_bad_parameters) {
    ck_parameters p;
    p.tmax = -1;
    EXPECT_THROW(validate(p), parameter_error);
    p = {};
    p.scheme = ck_scheme::reference;
    p.tmax = 1e6;
    EXPECT_THROW(validate(p), parameter_error);
    EXPECT_NO_THROW(validate(ck_parameters{}));
}

} // namespace
} // namespace glassy
