#include "analysis/aging.hpp"
#include "analysis/report.hpp"
#include "dynamics/error.hpp"
#include "synthetic.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

namespace {

using namespace glassy;

// Pure diffusion Delta = 2 D(t_w) t with D varying with t_w: exponent 1 and Delta/D identical
// for every t_w (spread 0 up to rounding) in both panels.
TEST(aging, pure_diffusion_has_exponent_one_and_perfect_collapse) {
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
TEST(aging, network_regimes_within_uncertainty) {
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
TEST(aging, plateau_height_and_qea) {
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
TEST(aging, aging_scaling_collapses_in_t_over_tw) {
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
TEST(aging, glass_aging_regime_collapses_in_t_over_tw) {
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
TEST(aging, saturation_at_two_is_no_plateau) {
    const record r = test::pspin_record([](double, double t) { return 2 * (1 - std::exp(-t)); }, {10, 100},
                                        test::log_grid(-2, 4, 10), 1e4 + 100);
    EXPECT_FALSE(analyse(from_record(r, "p.h5")).plateau);
}

// A network run stopped early has D = NaN at unreached t_w: the other rows are still rescaled.
TEST(aging, partial_noise_still_rescales) {
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

// An integer-rounded log grid of lags without de-duplication (1, 1, 1, 1, 1, 1, 2, ...) and a
// t_w so close to the end of the run that only the lags equal to 1 are reached: that row has
// one distinct lag and gets no exponent (it used to end the analysis with "fit_line: all x
// values are equal"); the others still give exponent 1 and Delta/D collapses exactly; the
// summary names the file and dataset.
TEST(aging, repeated_lags_are_handled) {
    record r = test::net_record(100, 1e4, 0.0, 1);
    std::vector<double> lags;
    for (double t : test::log_grid(0, 5, 30)) lags.push_back(std::round(t));
    const std::vector<double> tw = {10, 100, 1000, 3e4, 1e5 - 1};
    test::fill_aging(r, tw, lags, 1e5, [](double w, double t) { return 2 * 1e-3 * std::pow(w, -0.3) * t; });
    r.aging.noise.clear();
    for (double w : tw) r.aging.noise.push_back(1e-3 * std::pow(w, -0.3));
    const run_data run = from_record(r, "rounded.h5");
    const aging_summary s = analyse(run);
    ASSERT_EQ(s.exponent_per_tw.size(), 5u);
    EXPECT_FALSE(s.exponent_per_tw[4]);
    for (int i = 0; i < 4; ++i) {
        ASSERT_TRUE(s.exponent_per_tw[static_cast<std::size_t>(i)]);
        EXPECT_NEAR(*s.exponent_per_tw[static_cast<std::size_t>(i)], 1.0, 1e-9);
    }
    ASSERT_TRUE(s.diffusive);
    EXPECT_DOUBLE_EQ(s.diffusive_tw, 3e4);
    ASSERT_TRUE(s.collapse_below && s.collapse_below->spread);
    EXPECT_NEAR(*s.collapse_below->spread, 0.0, 1e-9);
    const auto j = to_json(run, s);
    ASSERT_TRUE(j.contains("notes"));
    ASSERT_EQ(j["notes"].size(), 1u) << j["notes"].dump();
    EXPECT_NE(j["notes"][0].get<std::string>().find("rounded.h5 /aging/t"), std::string::npos) << j["notes"].dump();
}

// Measurement times given twice each (a record concatenated with itself, sorted): the loss fit
// counts them as replicates (same t1, t2 as once; it used to keep the first of each) and the
// summary names the file and /time.
TEST(aging, repeated_times_in_the_loss_fit) {
    const record once = test::net_record(100, 1e4, 0.03, 7);
    record twice = once;
    twice.time.clear();
    twice.energy.clear();
    for (std::size_t i = 0; i < once.time.size(); ++i)
        for (int k = 0; k < 2; ++k) {
            twice.time.push_back(once.time[i]);
            twice.energy.push_back(once.energy[i]);
        }
    twice.observables.clear();
    const aging_summary a = analyse(from_record(once, "once.h5"));
    const run_data run = from_record(twice, "twice.h5");
    const aging_summary b = analyse(run);
    ASSERT_TRUE(a.t1 && a.t2 && b.t1 && b.t2);
    EXPECT_NEAR(*b.t1, *a.t1, 1e-9 * *a.t1);
    EXPECT_NEAR(*b.t2, *a.t2, 1e-9 * *a.t2);
    const auto j = to_json(run, b);
    ASSERT_TRUE(j.contains("notes") && j["notes"].size() == 1u) << j.dump();
    EXPECT_NE(j["notes"][0].get<std::string>().find("twice.h5 /time"), std::string::npos) << j["notes"].dump();
}

// find_plateau on a lag grid given three times over (Delta columns repeated): the same plateau
// as on the plain grid (the local-slope fits of the window used to see three equal lags).
TEST(aging, plateau_with_repeated_lags) {
    const double P = 0.722;
    auto f = [P](double tw, double t) { return P * (1 - std::exp(-t)) + (2 - P) * (1 - std::exp(-t / tw)); };
    const std::vector<double> lags = test::log_grid(-2, 4, 10);
    std::vector<double> lags3;
    for (double t : lags)
        for (int k = 0; k < 3; ++k) lags3.push_back(t);
    const record a = test::pspin_record(f, {1e3, 1e5}, lags, 1e5 + 1e4);
    const record b = test::pspin_record(f, {1e3, 1e5}, lags3, 1e5 + 1e4);
    const auto pa = find_plateau(a.aging.t, a.aging.delta, a.aging.tw);
    const auto pb = find_plateau(b.aging.t, b.aging.delta, b.aging.tw);
    ASSERT_TRUE(pa && pb);
    EXPECT_DOUBLE_EQ(pb->height, pa->height);
    EXPECT_DOUBLE_EQ(pb->t_start, pa->t_start);
    EXPECT_DOUBLE_EQ(pb->t_end, pa->t_end);
    // Curve spread: a repeated abscissa is one point with the mean y.
    const spread_measure m = curve_spread({{{0, 1, 1, 2}, {0, 0, 0.4, 0}}, {{0, 1, 2}, {0, 0, 0}}});
    ASSERT_TRUE(m.spread);
    EXPECT_NEAR(*m.spread, std::sqrt(0.02 / 3), 1e-12); // sd 0.2/sqrt(2) at x = 1 only
}

// A network record whose loss falls as one straight line in log10 t (no crossover at all).
record straight_line_net(double sigma, unsigned seed) {
    record r = test::net_record(100, 1e4, 0.0, seed);
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0.0, sigma);
    for (std::size_t i = 0; i < r.time.size(); ++i) {
        r.energy[i] = 2.3 - 0.4 * std::log10(r.time[i]) + (sigma > 0 ? noise(rng) : 0.0);
        r.observables["train_loss"][i] = r.energy[i];
    }
    return r;
}

// No crossover: t1 and t2 are null with a reason (noise-free, and noisy with a fixed seed), all
// waiting times fall in one panel, and the loss figure draws neither the t marks nor a fit.
TEST(aging, straight_line_loss_has_no_t1_t2) {
    for (double sigma : {0.0, 0.03}) {
        const record r = straight_line_net(sigma, 5);
        const run_data run = from_record(r, "line.h5");
        const aging_summary s = analyse(run);
        const auto j = to_json(run, s);
        EXPECT_TRUE(j["t1"].is_null()) << "sigma " << sigma << ": t1 = " << j["t1"];
        EXPECT_TRUE(j["t2"].is_null()) << "sigma " << sigma << ": t2 = " << j["t2"];
        ASSERT_TRUE(j.contains("t1_reason") && j["t1_reason"].is_string()) << j.dump();
        ASSERT_TRUE(j.contains("t2_reason") && j["t2_reason"].is_string()) << j.dump();
        EXPECT_NE(j["t1_reason"].get<std::string>().find("not determined"), std::string::npos);
        EXPECT_NE(j["t2_reason"].get<std::string>().find("not determined"), std::string::npos);
        EXPECT_TRUE(j.contains("t2_note"));
        EXPECT_EQ(s.panel, (std::vector<int>(5, 0)));

        const auto dir = std::filesystem::temp_directory_path() /
                         ("glassy_line_" + std::to_string(::getpid()) + "_" + std::to_string(sigma > 0));
        report_options o;
        o.plots = false;
        (void)write_report(run, s, dir, o);
        std::ifstream in(dir / "fig2_loss.gp");
        std::stringstream gp;
        gp << in.rdbuf();
        EXPECT_EQ(gp.str().find("set arrow"), std::string::npos) << gp.str();
        EXPECT_EQ(gp.str().find("loss_fit.csv"), std::string::npos) << gp.str();
        std::filesystem::remove_all(dir);
    }
}

// The figures name delta.csv columns by number (t = 5, t/t_w = 6, Delta = 7, Delta/D = 9):
// the table's header (docs/analysis.md) and the script of Figure 4 must agree with them.
TEST(report, delta_table_columns_are_those_the_figures_plot) {
    const run_data run = from_record(test::net_record(100, 1e4, 0.0, 1), "net.h5");
    const aging_summary s = analyse(run);
    ASSERT_TRUE(s.has_noise);
    const auto dir = std::filesystem::temp_directory_path() / ("glassy_columns_" + std::to_string(::getpid()));
    report_options o;
    o.plots = false;
    (void)write_report(run, s, dir, o);
    std::ifstream csv(dir / "delta.csv");
    std::string header;
    std::getline(csv, header);
    EXPECT_EQ(header, "w,tw,D,panel,t,t_over_tw,delta,delta_err,delta_over_D");
    std::ifstream in(dir / "fig4_delta_over_D.gp");
    std::stringstream gp;
    gp << in.rdbuf();
    EXPECT_NE(gp.str().find("? $5 : NaN):($9 > 0 ? $9 : NaN)"), std::string::npos) << gp.str();
    std::filesystem::remove_all(dir);
}

// One crossover only: flat then falling (true t1 = 100, t2 past the run) gives t1 alone;
// falling then slow (t1 before the first time, t2 = 1000) gives t2 alone, with a reason
// for the other (noise sd 0.03, fixed seed).
TEST(aging, one_crossover_gives_one_regime) {
    const std::pair<double, double> cases[2] = {{100, 1e7}, {0.01, 1e3}};
    for (int k = 0; k < 2; ++k) {
        record r = test::net_record(100, 1e4, 0.0, 3);
        std::mt19937_64 rng(3);
        std::normal_distribution<double> noise(0.0, 0.03);
        for (std::size_t i = 0; i < r.time.size(); ++i)
            r.energy[i] =
                test::three_regime_loss(r.time[i], cases[k].first, cases[k].second, 2.3, 0.05, -0.01) + noise(rng);
        const run_data run = from_record(r, "one.h5");
        const aging_summary s = analyse(run);
        const auto j = to_json(run, s);
        const char* given = k == 0 ? "t1" : "t2";
        const char* absent = k == 0 ? "t2" : "t1";
        const double truth = k == 0 ? cases[k].first : cases[k].second;
        ASSERT_TRUE(j[given].is_number()) << j.dump();
        // Within a tenth of a decade (3 loss points at 30 per decade) of the true crossover.
        EXPECT_NEAR(std::log10(j[given].get<double>()), std::log10(truth), 0.1) << j.dump();
        EXPECT_TRUE(j[std::string(given) + "_range"].is_array());
        EXPECT_TRUE(j[absent].is_null()) << j.dump();
        ASSERT_TRUE(j[std::string(absent) + "_reason"].is_string());
        EXPECT_NE(j[std::string(absent) + "_reason"].get<std::string>().find("only one crossover"), std::string::npos);
        EXPECT_EQ(j["loss_fit"]["breakpoints_determined"], 1);
    }
}

// D at the rounding level of the estimator (the batched D of --noise-samples 1 before it
// returned exact zeros: +-1e-13 .. 1e-11) must not rescale Delta by 1e11.
TEST(aging, noise_at_rounding_level_is_not_used) {
    record r = test::net_record(100, 1e4, 0.0, 1);
    // Mixed signs: a negative D shows rounding errors of its size; every D here is within 10x of it.
    r.aging.noise = {1e-13, -2e-13, 3e-12, 1e-13, -1e-11};
    run_data run = from_record(r, "n.h5");
    aging_summary s = analyse(run);
    EXPECT_FALSE(s.has_noise);
    row_matrix q = delta_over_noise(run);
    for (Eigen::Index i = 0; i < q.rows(); ++i) EXPECT_TRUE(std::isnan(q(i, 5))) << "row " << i;
    auto j = to_json(run, s);
    ASSERT_TRUE(j.contains("delta_over_D_reason") && j["delta_over_D_reason"].is_string()) << j.dump();
    EXPECT_NE(j["delta_over_D_reason"].get<std::string>().find("rounding"), std::string::npos);

    // All positive but from one noise sample: D is 0 in exact arithmetic.
    r.aging.noise.assign(5, 1e-13);
    r.parameters["noise_samples"] = 1;
    run = from_record(r, "n.h5");
    s = analyse(run);
    EXPECT_FALSE(s.has_noise);
    j = to_json(run, s);
    ASSERT_TRUE(j["delta_over_D_reason"].is_string()) << j.dump();
    EXPECT_NE(j["delta_over_D_reason"].get<std::string>().find("noise_samples = 1"), std::string::npos);

    // One D 10 decades below the others (relative floor 1e-8): that row only is not rescaled.
    r.parameters["noise_samples"] = 100;
    r.aging.noise = {1e-3, 1e-3, 1e-3, 1e-3, 1e-13};
    run = from_record(r, "n.h5");
    s = analyse(run);
    EXPECT_TRUE(s.has_noise);
    q = delta_over_noise(run);
    EXPECT_NEAR(q(0, 5), r.aging.delta(0, 5) / 1e-3, 1e-9);
    EXPECT_TRUE(std::isnan(q(4, 0)));
    j = to_json(run, s);
    EXPECT_TRUE(j["waiting_times"]["noise_reason"][0].is_null());
    EXPECT_TRUE(j["waiting_times"]["noise_reason"][4].is_string()) << j["waiting_times"].dump();
}

TEST(aging, curve_spread_by_hand) {
    // Two curves differing by a constant 0.2: sample sd 0.2/sqrt(2) on the overlap [1, 2].
    const spread_measure m = curve_spread({{{0, 1, 2}, {0, 0, 0}}, {{1, 2, 3}, {0.2, 0.2, 0.2}}});
    ASSERT_TRUE(m.spread);
    EXPECT_NEAR(*m.spread, 0.2 / std::sqrt(2.0), 1e-12);
    EXPECT_EQ(m.points, 2u);
}

// Three records differing only in seed: mean and standard error sd/sqrt(n) by hand:
// values 1, 2, 4 -> mean 7/3, sample variance 7/3, standard error sqrt(7)/3.
TEST(averaging, mean_and_standard_error) {
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

TEST(averaging, refuses_different_parameters) {
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

// Two records of one run (a file given twice, a byte copy, or the same seed) would average to
// zero error bars: refused, naming both and the seed; identical data without a seed too.
TEST(averaging, refuses_repeated_runs) {
    const record a = test::pspin_record([](double, double t) { return t; }, {1, 10}, {1, 2}, 100);
    record other = a;
    other.parameters["seed"] = 2;
    other.energy[3] += 0.1;
    try {
        (void)average_records({a, other, a}, {"a.h5", "c.h5", "b.h5"});
        FAIL() << "no throw";
    } catch (const record_error& e) {
        EXPECT_NE(std::string(e.what()).find("records a.h5 and b.h5 are the same run (seed 1)"), std::string::npos)
            << e.what();
    }
    record n1 = a, n2 = a;
    n1.parameters.erase("seed");
    n2.parameters.erase("seed");
    try {
        (void)average_records({n1, n2}, {"x.h5", "y.h5"});
        FAIL() << "no throw";
    } catch (const record_error& e) {
        EXPECT_NE(std::string(e.what()).find("x.h5 and y.h5 are the same run"), std::string::npos) << e.what();
    }
}

// A complete and a partial run: the message says which run is incomplete and why (it used to
// be "parameter 'stop_reason' is missing in one of them").
TEST(averaging, refuses_incomplete_run) {
    const record a = test::pspin_record([](double, double t) { return t; }, {1, 10}, {1, 2}, 100);
    record b = a;
    b.parameters["seed"] = 2;
    b.complete = false;
    b.parameters["stop_reason"] = "interrupted at t = 5 of sample 0";
    try {
        (void)average_records({a, b}, {"a.h5", "b.h5"});
        FAIL() << "no throw";
    } catch (const record_error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("b.h5 is an incomplete run"), std::string::npos) << m;
        EXPECT_NE(m.find("interrupted at t = 5"), std::string::npos) << m;
        EXPECT_NE(m.find("average complete runs only"), std::string::npos) << m;
    }
}

// The record's `system` is parsed once (from_record) into system_kind; its spelling comes back
// unchanged in summary.json, and anything else is refused with the value named.
TEST(system_kind, parsed_once_and_spelled_as_in_the_record) {
    for (const char* name : {"pspin", "net"}) EXPECT_EQ(to_string(parse_system_kind(name)), name);
    EXPECT_EQ(parse_system_kind("net"), system_kind::net);
    EXPECT_EQ(parse_system_kind("pspin"), system_kind::pspin);
    try {
        (void)parse_system_kind("Net");
        ADD_FAILURE() << "no throw";
    } catch (const record_error& e) {
        EXPECT_NE(std::string(e.what()).find("unknown system 'Net'"), std::string::npos) << e.what();
    }
    const run_data net = from_record(test::net_record(100, 1e4, 0.0, 1), "n.h5");
    EXPECT_EQ(net.system, system_kind::net);
    EXPECT_EQ(to_json(net, analyse(net)).at("system"), "net");
    const run_data glass =
        from_record(test::pspin_record([](double, double t) { return t; }, {1}, {1, 2}, 100), "g.h5");
    EXPECT_EQ(glass.system, system_kind::pspin);
    EXPECT_EQ(to_json(glass, analyse(glass)).at("system"), "pspin");
}

// Per-sample data of a single record give its error bars.
TEST(averaging, single_record_uses_samples) {
    record r = test::pspin_record([](double, double t) { return t; }, {1}, {1, 2}, 100);
    r.energy_samples = row_matrix::Zero(2, static_cast<Eigen::Index>(r.time.size()));
    r.energy_samples(0, 0) = 1;
    r.energy_samples(1, 0) = 3;
    const run_data d = from_record(r, "r.h5");
    EXPECT_NEAR(d.energy_err[0], 1.0, 1e-12); // sd sqrt(2), / sqrt(2)
    EXPECT_EQ(d.n_error_samples, 2u);
}

} // namespace
