#include "analysis/aging.hpp"
#include "dynamics/error.hpp"
#include "synthetic.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace {

using namespace glassy;

// Pure diffusion Delta = 2 D(t_w) t with D varying with t_w: exponent 1 and Delta/D identical
// for every t_w (spread 0 up to rounding) in both panels.
TEST(Aging, PureDiffusionHasExponentOneAndPerfectCollapse) {
    const record r = test::net_record(100, 1e4, 0.0, 1);
    const run_data run = from_record(r, "net.h5");
    const aging_summary s = analyse(run);
    ASSERT_TRUE(s.diffusive);
    EXPECT_NEAR(s.diffusive->slope, 1.0, 1e-9);
    for (const auto& e : s.exponent_per_tw) {
        ASSERT_TRUE(e);
        EXPECT_NEAR(*e, 1.0, 1e-9);
    }
    ASSERT_TRUE(s.has_noise);
    ASSERT_TRUE(s.collapse_below && s.collapse_below->spread);
    ASSERT_TRUE(s.collapse_above && s.collapse_above->spread);
    EXPECT_NEAR(*s.collapse_below->spread, 0.0, 1e-9);
    EXPECT_NEAR(*s.collapse_above->spread, 0.0, 1e-9);
    EXPECT_EQ(s.collapse_below->curves, 3u); // t_w = 10, 100, 1000 < t2 = 1e4
    EXPECT_EQ(s.collapse_above->curves, 2u);
    // Without the D rescaling the curves do not collapse: D differs by 10^{0.3} per decade.
    EXPECT_FALSE(s.plateau);
}

// The net record's loss has t1 = 100, t2 = 1e4 (noise sd 0.03): found within the stated errors.
TEST(Aging, NetworkRegimesWithinUncertainty) {
    const record r = test::net_record(100, 1e4, 0.03, 7);
    const aging_summary s = analyse(from_record(r, "net.h5"));
    ASSERT_TRUE(s.t1 && s.t2 && s.t1_err && s.t2_err);
    EXPECT_LE(s.t1_range[0], 100.0);
    EXPECT_GE(s.t1_range[1], 100.0);
    EXPECT_LE(s.t2_range[0], 1e4);
    EXPECT_GE(s.t2_range[1], 1e4);
    EXPECT_NEAR(*s.t1, 100.0, 2 * *s.t1_err);
    EXPECT_NEAR(*s.t2, 1e4, 2 * *s.t2_err);
    EXPECT_EQ(s.panel, (std::vector<int>{0, 0, 0, 1, 1}));
    EXPECT_NEAR(s.final_values.at("train_accuracy").get<double>(), 1 - (0.05 - 0.01) / 2.6, 1e-9);
    const auto j = to_json(from_record(r, "net.h5"), s);
    for (const char* k : {"t1", "t1_err", "t2", "t2_err", "collapse", "diffusive_exponent", "final"})
        EXPECT_TRUE(j.contains(k)) << k;
    EXPECT_TRUE(j["collapse"].contains("below_t2"));
    EXPECT_TRUE(j["collapse"].contains("above_t2"));
}

// Delta = P (1 - e^{-t}) + (2 - P)(1 - e^{-t/t_w}), t_w = 1e5: flat from t ~ 3 to t ~ 2e3.
// Its local log-slope, t (P e^{-t} + (2 - P)/t_w) / Delta, is smallest near t ~ 10, where
// Delta - P = O(P e^{-10}, 1e-4): the flattest point of the 10-per-decade grid lies within 1% of P.
TEST(Aging, PlateauHeightAndQea) {
    const double P = 0.722;
    const record r = test::pspin_record(
        [P](double tw, double t) { return P * (1 - std::exp(-t)) + (2 - P) * (1 - std::exp(-t / tw)); }, {1e3, 1e5},
        test::log_grid(-2, 4, 10), 1e5 + 1e4);
    const aging_summary s = analyse(from_record(r, "p.h5"));
    ASSERT_TRUE(s.plateau);
    EXPECT_NEAR(s.plateau->height, P, 0.01 * P);
    EXPECT_DOUBLE_EQ(s.plateau->tw, 1e5);
    ASSERT_TRUE(s.q_ea);
    EXPECT_NEAR(*s.q_ea, 1 - P / 2, 0.005 * P);
    EXPECT_FALSE(s.t2);
    EXPECT_FALSE(s.t2_note.empty());
}

// Delta = g(t/t_w), g(x) = 2x/(1+x): collapses in t/t_w. Linear interpolation of ln g against
// ln x on a grid of spacing h = ln(10)/20 errs by at most h^2/8 * max|d^2 ln g/du^2| = h^2/32
// < 5e-4, so the spread in t/t_w is below 1e-3; at equal t the curves differ by ~ln(t_w ratio).
TEST(Aging, AgingScalingCollapsesInTOverTw) {
    const record r = test::pspin_record([](double tw, double t) { return 2 * (t / tw) / (1 + t / tw); },
                                        {150, 2000, 3e4}, test::log_grid(0, 6, 20), 2e6);
    const aging_summary s = analyse(from_record(r, "p.h5"));
    ASSERT_TRUE(s.scaling_t_over_tw && s.scaling_t_over_tw->spread);
    ASSERT_TRUE(s.scaling_t && s.scaling_t->spread);
    EXPECT_LT(*s.scaling_t_over_tw->spread, 1e-3);
    EXPECT_GT(*s.scaling_t->spread, 1.0);
    // Energy -1 + 0.5 t^-0.7: the power-law fit recovers the exponent and asymptote.
    ASSERT_TRUE(s.energy_fit);
    EXPECT_NEAR(s.energy_fit->exponent, 0.7, 1e-4);
    EXPECT_NEAR(s.energy_fit->y_inf, -1.0, 1e-6);
    ASSERT_TRUE(s.exp_tau);
}

// A glass: plateau P, then aging escape (2 - P)(1 - exp(-t/t_w)) towards the decorrelated
// value 2. The saturation at 2 is not taken for a plateau, and in the aging regime
// (Delta > 1.15 P) the curves collapse in t/t_w (interpolation error < 1e-3, as above) but
// not in t (t_w spans two decades).
TEST(Aging, GlassAgingRegimeCollapsesInTOverTw) {
    const double P = 0.722;
    const record r = test::pspin_record(
        [P](double tw, double t) { return P * (1 - std::exp(-t)) + (2 - P) * (1 - std::exp(-t / tw)); },
        {1e3, 1e4, 1e5}, test::log_grid(-2, 7, 20), 1e7 + 1e5);
    const aging_summary s = analyse(from_record(r, "p.h5"));
    ASSERT_TRUE(s.plateau);
    EXPECT_NEAR(s.plateau->height, P, 0.02 * P);
    EXPECT_NEAR(s.scaling_min_delta, 1.15 * s.plateau->height, 1e-12);
    ASSERT_TRUE(s.scaling_t_over_tw && s.scaling_t_over_tw->spread && s.scaling_t && s.scaling_t->spread);
    EXPECT_LT(*s.scaling_t_over_tw->spread, 1e-3);
    EXPECT_GT(*s.scaling_t->spread, 0.1);
}

// Only a flat Delta at the decorrelated value 2: no Edwards-Anderson plateau for the p-spin.
TEST(Aging, SaturationAtTwoIsNoPlateau) {
    const record r = test::pspin_record([](double, double t) { return 2 * (1 - std::exp(-t)); }, {10, 100},
                                        test::log_grid(-2, 4, 10), 1e4 + 100);
    EXPECT_FALSE(analyse(from_record(r, "p.h5")).plateau);
}

// A network run stopped early has D = NaN at unreached t_w: the other rows are still rescaled.
TEST(Aging, PartialNoiseStillRescales) {
    record r = test::net_record(100, 1e4, 0.0, 1);
    r.aging.noise.front() = std::numeric_limits<double>::quiet_NaN();
    const run_data run = from_record(r, "n.h5");
    const aging_summary s = analyse(run);
    EXPECT_TRUE(s.has_noise);
    const row_matrix q = delta_over_noise(run);
    EXPECT_NEAR(q(1, 3), 2 * r.aging.t[3], 1e-9);
    EXPECT_TRUE(std::isnan(q(0, 0)));
    ASSERT_TRUE(s.collapse_below && s.collapse_below->spread);
    EXPECT_EQ(s.collapse_below->curves, 2u); // the NaN row gives an empty curve, not counted
    EXPECT_NEAR(*s.collapse_below->spread, 0.0, 1e-9);
}

TEST(Aging, CurveSpreadByHand) {
    // Two curves differing by a constant 0.2: sample sd 0.2/sqrt(2) on the overlap [1, 2].
    const spread_measure m = curve_spread({{{0, 1, 2}, {0, 0, 0}}, {{1, 2, 3}, {0.2, 0.2, 0.2}}});
    ASSERT_TRUE(m.spread);
    EXPECT_NEAR(*m.spread, 0.2 / std::sqrt(2.0), 1e-12);
    EXPECT_EQ(m.points, 2u);
}

// Three records differing only in seed: mean and standard error sd/sqrt(n) by hand:
// values 1, 2, 4 -> mean 7/3, sample variance 7/3, standard error sqrt(7)/3.
TEST(Averaging, MeanAndStandardError) {
    std::vector<record> recs;
    const double v[3] = {1, 2, 4};
    for (int k = 0; k < 3; ++k) {
        record r = test::pspin_record([](double, double t) { return t; }, {1, 10}, {1, 2}, 100);
        r.parameters["seed"] = k;
        r.parameters["out"] = "run" + std::to_string(k) + ".h5";
        r.parameters["wall_seconds"] = 1.5 * k; // how the run went, not what it was
        r.parameters["timing"] = {{"steps_s", 1.0 + k}, {"noise_s", 0.1 * k}};
        r.energy[5] = v[k];
        r.aging.delta(1, 0) = 10 * v[k];
        r.aging.noise = {v[k], v[k]};
        recs.push_back(r);
    }
    const run_data a = average_records(recs, {"a.h5", "b.h5", "c.h5"});
    EXPECT_EQ(a.n_records, 3u);
    EXPECT_NEAR(a.energy[5], 7.0 / 3, 1e-12);
    EXPECT_NEAR(a.energy_err[5], std::sqrt(7.0) / 3, 1e-12);
    EXPECT_NEAR(a.delta(1, 0), 70.0 / 3, 1e-12);
    EXPECT_NEAR(a.delta_err(1, 0), 10 * std::sqrt(7.0) / 3, 1e-12);
    EXPECT_NEAR(a.noise[0], 7.0 / 3, 1e-12);
    EXPECT_NEAR(a.delta_err(0, 0), 0.0, 1e-12); // equal values
    EXPECT_NEAR(a.energy_err[0], 0.0, 1e-12);
}

TEST(Averaging, RefusesDifferentParameters) {
    record a = test::pspin_record([](double, double t) { return t; }, {1}, {1}, 100);
    record b = a;
    b.parameters["N"] = 200;
    try {
        (void)average_records({a, b}, {"a.h5", "b.h5"});
        FAIL() << "no throw";
    } catch (const record_error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("'N'"), std::string::npos) << m;
        EXPECT_EQ(m.find('\n'), std::string::npos);
    }
    record c = a;
    c.aging.t = {2};
    EXPECT_THROW((void)average_records({a, c}, {"a.h5", "c.h5"}), record_error);
    record d = a;
    d.method = "heun";
    EXPECT_THROW((void)average_records({a, d}, {"a.h5", "d.h5"}), record_error);
}

// Per-sample data of a single record give its error bars.
TEST(Averaging, SingleRecordUsesSamples) {
    record r = test::pspin_record([](double, double t) { return t; }, {1}, {1, 2}, 100);
    r.energy_samples = row_matrix::Zero(2, static_cast<Eigen::Index>(r.time.size()));
    r.energy_samples(0, 0) = 1;
    r.energy_samples(1, 0) = 3;
    const run_data d = from_record(r, "r.h5");
    EXPECT_NEAR(d.energy_err[0], 1.0, 1e-12); // sd sqrt(2), / sqrt(2)
    EXPECT_EQ(d.n_error_samples, 2u);
}

} // namespace
