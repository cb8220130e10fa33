// The Hessian part of the analysis (/hessian, issue 13): values at the last measurement, the
// power-law decay of the negative fraction, errors over samples and records, summary.json.
#include "analysis/aging.hpp"
#include "dynamics/error.hpp"
#include "synthetic.hpp"
#include "tests/support/sample_record.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace glassy;

// A glass record with /hessian at 21 times over four decades, negative fraction 0.3 t^-0.5.
record glass_with_hessian() {
    record r = test::pspin_record([](double, double t) { return t; }, {1, 10}, {1, 2}, 1e4);
    test::add_hessian(r, test::log_grid(0, 4, 5), [](double t) { return 0.3 / std::sqrt(t); });
    return r;
}

// Noise-free power law: the fit is exact up to rounding (ln of 21 values, a least-squares line:
// relative errors ~1e-15; 1e-9 leaves room and still fails for any wrong exponent).
TEST(hessian, exact_power_law_decay_of_the_negative_fraction) {
    const run_data run = from_record(glass_with_hessian(), "glass.h5");
    const aging_summary s = analyse(run);
    ASSERT_TRUE(s.hessian);
    ASSERT_TRUE(s.hessian->decay) << s.hessian->decay_reason;
    EXPECT_NEAR(-s.hessian->decay->slope, 0.5, 1e-9);
    EXPECT_NEAR(s.hessian->decay->slope_err, 0.0, 1e-9);
    EXPECT_NEAR(std::exp(s.hessian->decay->intercept), 0.3, 1e-9);
    EXPECT_EQ(s.hessian->decay->n, 21u);
    EXPECT_DOUBLE_EQ(s.hessian->decay_t_min, 1.0);
    EXPECT_NEAR(s.hessian->decay_t_max, 1e4, 1e-8);
    const auto j = to_json(run, s).at("hessian");
    EXPECT_NEAR(j.at("negative_fraction_decay").at("exponent").get<double>(), 0.5, 1e-9);
    EXPECT_NEAR(j.at("negative_fraction_decay").at("amplitude").get<double>(), 0.3, 1e-9);
    EXPECT_EQ(j.at("negative_fraction_decay").at("points").get<int>(), 21);
    EXPECT_TRUE(j.at("negative_fraction_decay_reason").is_null());
}

// Values at the last time: top eigenvalue k + 1/(1 + t), fractions, trace and its error as
// written by add_hessian at t = 1e4 (exact copies, no arithmetic).
TEST(hessian, values_at_the_last_measurement) {
    const run_data run = from_record(glass_with_hessian(), "glass.h5");
    const auto j = to_json(run, analyse(run)).at("hessian");
    const double t = run.hessian.t.back();
    EXPECT_EQ(j.at("measurements").get<int>(), 21);
    EXPECT_EQ(j.at("k").get<int>(), 3);
    EXPECT_EQ(j.at("t_last").get<double>(), t);
    EXPECT_EQ(j.at("top_eigenvalue").get<double>(), 3 + 1 / (1 + t));
    EXPECT_EQ(j.at("negative_fraction").get<double>(), 0.3 / std::sqrt(t));
    EXPECT_EQ(j.at("flat_fraction").get<double>(), 0.02 * std::pow(t, 0.2));
    EXPECT_EQ(j.at("trace").get<double>(), 2 + 1 / t);
    EXPECT_EQ(j.at("trace_err").get<double>(), 0.1);
    EXPECT_TRUE(j.at("negative_fraction_err").is_null()); // one sample, one record: not estimable
}

// Multiplicative log-normal noise of sd sigma = 0.1 on 41 measurements: the least-squares
// slope of ln frac against ln t has standard error sigma / sqrt(S_xx). Over 400 seeds the
// reported error must be that (its mean within 5 %: it scatters by 1/sqrt(2 x 39) = 11 % per
// seed, 0.6 % for the mean of 400) and |a - 0.5| <= 2 reported errors must hold in 94.7 % of
// the fits (Student t, 39 degrees of freedom): asserted within [0.91, 0.98], +-3 binomial sd
// (1.1 %). One fixed seed must also lie within 4 errors.
TEST(hessian, noisy_decay_exponent_within_its_standard_error) {
    const std::vector<double> t = test::log_grid(0, 4, 10);
    double sxx = 0, mean_x = 0;
    for (double v : t) mean_x += std::log(v) / static_cast<double>(t.size());
    for (double v : t) sxx += (std::log(v) - mean_x) * (std::log(v) - mean_x);
    const double sigma = 0.1, expected_err = sigma / std::sqrt(sxx);
    int covered = 0;
    double err_sum = 0;
    const int seeds = 400;
    for (int seed = 0; seed < seeds; ++seed) {
        std::mt19937_64 rng(static_cast<unsigned>(seed));
        std::normal_distribution<double> noise(0.0, sigma);
        hessian_series h;
        h.t = t;
        h.top = row_matrix(static_cast<Eigen::Index>(t.size()), 0);
        for (double v : t) h.negative_fraction.push_back(0.3 / std::sqrt(v) * std::exp(noise(rng)));
        const hessian_summary s = summarise_hessian(h);
        ASSERT_TRUE(s.decay);
        const double a = -s.decay->slope, err = s.decay->slope_err;
        err_sum += err;
        covered += std::abs(a - 0.5) <= 2 * err;
        if (seed == 0) {
            EXPECT_LT(std::abs(a - 0.5), 4 * err);
        }
    }
    EXPECT_NEAR(err_sum / seeds / expected_err, 1.0, 0.05);
    EXPECT_GE(covered, 0.91 * seeds);
    EXPECT_LE(covered, 0.98 * seeds);
}

// Fewer than three measurements with a positive negative fraction: no fit, a stated reason.
TEST(hessian, decay_needs_three_positive_points) {
    record r = test::pspin_record([](double, double t) { return t; }, {1, 10}, {1, 2}, 1e4);
    test::add_hessian(r, test::log_grid(0, 4, 2), [](double t) { return t < 5 ? 0.1 / t : 0.0; });
    const run_data run = from_record(r, "glass.h5");
    const aging_summary s = analyse(run);
    ASSERT_TRUE(s.hessian);
    EXPECT_FALSE(s.hessian->decay);
    const auto j = to_json(run, s).at("hessian");
    EXPECT_TRUE(j.at("negative_fraction_decay").is_null());
    EXPECT_EQ(j.at("negative_fraction_decay_reason").get<std::string>(),
              "fewer than 3 measurement times with t > 0 and negative_fraction > 0 (2)");
    EXPECT_EQ(j.at("negative_fraction").get<double>(), 0.0);
}

// Several samples in one record (tests/support's record with every /hessian dataset): the
// means are the record's, the errors sd / sqrt(n_s) over /hessian/..._samples; a recorded
// /hessian/trace_err is used as it is, else the trace's comes from /hessian/trace_samples.
TEST(hessian, errors_over_samples) {
    record r = test::hessian_sample_record();
    const run_data run = from_record(r, "h.h5");
    const hessian_series& h = run.hessian;
    ASSERT_EQ(h.t, (std::vector<double>{1, 10}));
    EXPECT_EQ(h.negative_fraction[1], 1.0 / 6);
    // samples {1/3, 0}: sd = (1/3) / sqrt(2), divided by sqrt(2): 1/6.
    EXPECT_NEAR(h.negative_fraction_err[1], 1.0 / 6, 1e-15);
    EXPECT_NEAR(h.flat_fraction_err[1], 1.0 / 6, 1e-15);
    EXPECT_EQ(h.flat_fraction_err[0], 0.0); // samples {0, 0}
    EXPECT_EQ(h.trace_err[0], 0.25);        // recorded
    EXPECT_TRUE(std::isnan(h.trace_err[1]));
    EXPECT_EQ(h.top(1, 0), 2.5);
    EXPECT_EQ(h.density(1, 1), 0.25);
    EXPECT_TRUE(run.extra_datasets.empty()); // /hessian is analysed, not listed as extra
    r.extra.erase("hessian/trace_err");
    // trace samples {1.5, 2.0}, {1.0, 3.25}: sd / sqrt(2) = |a - b| / 2.
    const run_data again = from_record(r, "h.h5");
    EXPECT_NEAR(again.hessian.trace_err[0], 0.25, 1e-15);
    EXPECT_NEAR(again.hessian.trace_err[1], 1.125, 1e-15);
    const auto j = to_json(again, analyse(again)).at("hessian");
    EXPECT_NEAR(j.at("trace_err").get<double>(), 1.125, 1e-15);
    EXPECT_EQ(j.at("top_eigenvalue").get<double>(), 2.5);
}

// Every /hessian dataset of the wrong shape is refused with one line naming the file and the
// dataset (read_record keeps them as extra datasets; from_record checks them).
TEST(hessian, bad_shapes_are_refused_naming_the_dataset) {
    const std::vector<std::pair<std::string, std::vector<std::uint64_t>>> cases = {
        {"t", {2, 1}},
        {"negative_fraction", {3}},
        {"flat_fraction", {1}},
        {"trace", {2, 2}},
        {"trace_err", {4}},
        {"top", {3, 2}},
        {"top", {2}},
        {"density", {2, 2}},
        {"density_grid", {3, 1}},
        {"spectrum", {2, 3, 3}},
        {"spectrum", {2, 3}},
        {"negative_fraction_samples", {2, 3}},
        {"flat_fraction_samples", {3, 2}},
        {"trace_samples", {2}},
        {"samples", {2, 2}},
    };
    for (const auto& [name, shape] : cases) {
        record r = test::hessian_sample_record();
        std::uint64_t n = 1;
        for (const auto d : shape) n *= d;
        r.extra["hessian/" + name] = {shape, std::vector<double>(n, 0.0)};
        try {
            (void)from_record(r, "h.h5");
            ADD_FAILURE() << "no error for " << name;
        } catch (const record_error& e) {
            const std::string what = e.what();
            EXPECT_EQ(what.rfind("h.h5: /hessian/" + name + " has shape ", 0), 0u) << what;
            EXPECT_EQ(what.find('\n'), std::string::npos) << what;
        }
    }
    const auto expect_refused = [](const record& r, const std::string& message) {
        try {
            (void)from_record(r, "h.h5");
            ADD_FAILURE() << "no error (expected " << message << ")";
        } catch (const record_error& e) {
            EXPECT_EQ(std::string(e.what()), message);
        }
    };
    record r = test::hessian_sample_record();
    r.extra["hessian/trace"] = {{3}, {1, 2, 3}};
    expect_refused(r, "h.h5: /hessian/trace has shape [3], not [n_h] = [2] (n_h = the length of /hessian/t)");
    r = test::hessian_sample_record();
    r.extra.erase("hessian/t");
    expect_refused(r, "h.h5: /hessian/t missing (the other /hessian datasets, e.g. /hessian/density, need their "
                      "times)");
    r = test::hessian_sample_record();
    r.extra.erase("hessian/density_grid");
    expect_refused(r, "h.h5: /hessian/density_grid missing (/hessian/density and /hessian/density_grid go together)");
}

// Averaging records: fractions and trace mean +- standard error over the records; top and
// density the mean; a record without /hessian, or with other times, is refused by name.
TEST(hessian, averaging_records) {
    std::vector<record> recs;
    const double v[3] = {0.1, 0.2, 0.4};
    for (int k = 0; k < 3; ++k) {
        record r = glass_with_hessian();
        r.parameters["seed"] = k;
        r.energy[3] += k; // independent runs
        r.extra.at("hessian/negative_fraction").data.back() = v[k];
        r.extra.at("hessian/top").data[0] = 10 * v[k];     // (0, 0)
        r.extra.at("hessian/density").data[41 + 2] = v[k]; // (1, 2): 41 grid points
        recs.push_back(r);
    }
    const run_data a = average_records(recs, {"a.h5", "b.h5", "c.h5"});
    EXPECT_NEAR(a.hessian.negative_fraction.back(), 0.7 / 3, 1e-15);
    // deviations -0.1333, -0.0333, 0.1667: sum of squares 0.04667, / 2 / 3 -> sqrt = 0.0882
    EXPECT_NEAR(a.hessian.negative_fraction_err.back(), std::sqrt(0.14 / 3 / 6), 1e-15);
    EXPECT_NEAR(a.hessian.top(0, 0), 7.0 / 3, 1e-14);
    EXPECT_NEAR(a.hessian.density(1, 2), 0.7 / 3, 1e-15);
    EXPECT_EQ(a.hessian.trace_err.front(), 0.0); // equal traces: no spread over the records

    auto expect_refused = [](std::vector<record> two, const std::string& fragment) {
        try {
            (void)average_records(two, {"a.h5", "b.h5"});
            ADD_FAILURE() << "no error";
        } catch (const record_error& e) {
            EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
        }
    };
    record without = recs[1];
    std::erase_if(without.extra, [](const auto& kv) { return kv.first.rfind("hessian/", 0) == 0; });
    expect_refused({recs[0], without}, "cannot average a.h5 and b.h5: only one of them has /hessian");
    record later = recs[1];
    later.extra.at("hessian/t").data.back() *= 2;
    expect_refused({recs[0], later}, "Hessian measurement times (/hessian/t) differ");
}

// A record without /hessian: no hessian block, and the summary equals that of the same run
// with a /hessian group once the block is removed (the Hessian changes nothing else).
TEST(hessian, without_hessian_no_block_and_nothing_else_changes) {
    record plain = glass_with_hessian();
    std::erase_if(plain.extra, [](const auto& kv) { return kv.first.rfind("hessian/", 0) == 0; });
    const run_data a = from_record(plain, "glass.h5"), b = from_record(glass_with_hessian(), "glass.h5");
    const auto ja = to_json(a, analyse(a));
    auto jb = to_json(b, analyse(b));
    EXPECT_FALSE(ja.contains("hessian"));
    ASSERT_TRUE(jb.contains("hessian"));
    jb.erase("hessian");
    EXPECT_EQ(ja.dump(), jb.dump());
}

} // namespace
