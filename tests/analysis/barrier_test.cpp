// Barriers and clones in the analysis (/barrier, /clones, issue 14): the summary blocks from
// hand-built records with known heights, the first linearly connected t_w, averaging, absent
// groups, and the one-line refusals of malformed groups.
#include "analysis/aging.hpp"
#include "analysis/report.hpp"
#include "dynamics/error.hpp"
#include "synthetic.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace glassy;

constexpr double nan_v = std::numeric_limits<double>::quiet_NaN();

record glass() {
    return test::pspin_record([](double tw, double t) { return t / (tw + t); }, {1, 10, 100, 1000}, {1, 10, 100}, 1e3);
}

// Six paths: heights 0, 0.01, 0.025 (ends -2 and -1: threshold 0.02 x 1.5 = 0.03, no rise),
// 0.03 (ends -1: threshold 0.02, a rise), 0.5 (a rise), and one not reached (NaN).
record glass_with_barrier() {
    record r = glass();
    test::add_barrier(r, {{1, 1, -1, -1, 0},
                          {1, 10, -1, -1, 0.01},
                          {10, 1, -2, -1, 0.025},
                          {10, 10, -1, -1, 0.03},
                          {100, 1, -1, -1, 0.5},
                          {100, 10, -1, -1, nan_v}});
    return r;
}

// The block's numbers are copies of the recorded heights (max, the median of an odd count) or
// counts, so they are asserted exactly: any other choice of rule or scale changes them.
TEST(barrier, block_numbers_from_known_heights) {
    const run_data run = from_record(glass_with_barrier(), "b.h5");
    const aging_summary s = analyse(run);
    ASSERT_TRUE(s.barrier);
    const auto j = to_json(run, s).at("barrier");
    EXPECT_EQ(j.at("pairs").get<int>(), 6);
    EXPECT_EQ(j.at("measured").get<int>(), 5);
    EXPECT_EQ(j.at("points").get<int>(), 3);
    EXPECT_EQ(j.at("max_height").get<double>(), 0.5);
    EXPECT_EQ(j.at("max_at").at("tw").get<double>(), 100.0);
    EXPECT_EQ(j.at("max_at").at("t").get<double>(), 1.0);
    EXPECT_EQ(j.at("median_height").get<double>(), 0.025);
    EXPECT_EQ(j.at("rising").get<int>(), 2);
    EXPECT_EQ(j.at("rising_fraction").get<double>(), 2.0 / 5);
    EXPECT_EQ(j.at("threshold").at("relative").get<double>(), 0.02);
    record no_points = glass_with_barrier(); // n_a = 0: read and summarised, no path to draw
    no_points.extra["barrier/alpha"] = {{0}, {}};
    no_points.extra["barrier/energy"] = {{6, 0}, {}};
    const run_data none = from_record(no_points, "b.h5");
    const aging_summary sn = analyse(none);
    EXPECT_EQ(sn.barrier->max_height, 0.5);
    const auto dir = std::filesystem::temp_directory_path() / ("glassy_barrier_" + std::to_string(::getpid()));
    report_options plain;
    plain.plots = false;
    write_report(none, sn, dir, plain); // tables and scripts, no path profile
    EXPECT_FALSE(std::filesystem::exists(dir / "barrier_paths.csv"));
    EXPECT_TRUE(std::filesystem::exists(dir / "barrier.csv"));
    std::filesystem::remove_all(dir);
    // A larger threshold: only the 0.5 path rises (0.03 <= 0.04 x 1).
    analysis_options o;
    o.connectivity_threshold = 0.04;
    const aging_summary wide = analyse(run, o);
    EXPECT_EQ(wide.barrier->rising, 1u);
    EXPECT_EQ(*wide.barrier->rising_fraction, 1.0 / 5);
    o.connectivity_threshold = 0;
    EXPECT_THROW((void)analyse(run, o), error);
}

// Errors of the heights over the samples: sd / sqrt(n_s) of /barrier/height_samples; over
// records: s / sqrt(n) of the heights; a record without /barrier is refused among ones with it.
TEST(barrier, errors_over_samples_and_records) {
    record r = glass_with_barrier();
    r.extra["barrier/height_samples"] = {{2, 6}, {0, 0, 0, 0, 0.4, nan_v, 0, 0.02, 0.05, 0.06, 0.6, nan_v}};
    const run_data one = from_record(r, "b.h5");
    EXPECT_NEAR(one.barrier.height_err[4], 0.1, 1e-15); // {0.4, 0.6}: sd 0.1 sqrt 2, / sqrt 2
    EXPECT_EQ(one.barrier.height_err[0], 0.0);
    EXPECT_TRUE(std::isnan(one.barrier.height_err[5]));
    r.extra["seeds/barrier/height"] = r.extra.at("barrier/height_samples"); // net_quench --seeds
    r.extra.erase("barrier/height_samples");
    EXPECT_NEAR(from_record(r, "b.h5").barrier.height_err[4], 0.1, 1e-15);
    r.extra["seeds/barrier/height"] = {{2, 5}, std::vector<double>(10, 0.0)};
    EXPECT_THROW((void)from_record(r, "b.h5"), record_error);
    std::vector<record> recs{glass_with_barrier(), glass_with_barrier()};
    recs[1].parameters["seed"] = 2;
    recs[1].energy[2] += 1; // independent runs
    recs[1].extra.at("barrier/height").data[4] = 0.7;
    const run_data mean = average_records(recs, {"a.h5", "b.h5"});
    EXPECT_NEAR(mean.barrier.height[4], 0.6, 1e-15);
    EXPECT_NEAR(mean.barrier.height_err[4], 0.1, 1e-15);
    std::erase_if(recs[1].extra, [](const auto& kv) { return kv.first.rfind("barrier/", 0) == 0; });
    try {
        (void)average_records(recs, {"a.h5", "b.h5"});
        ADD_FAILURE() << "no error";
    } catch (const record_error& e) {
        EXPECT_EQ(std::string(e.what()), "cannot average a.h5 and b.h5: only one of them has /barrier");
    }
}

// Clones at t_w = 1, 10, 100, 1000 (final energy of the run -0.8: threshold 0.02 x 0.8 = 0.016).
record glass_with_clones(const std::vector<double>& barrier) {
    record r = glass();
    r.energy.back() = -0.8;
    test::add_clones(
        r, {1, 10, 100, 1000}, {1, 10, 100}, 1e3 + 10, [](double tw, double t) { return 0.5 * t / (tw + t); }, barrier);
    return r;
}

std::optional<double> connected_from(const std::vector<double>& barrier, std::string* reason = nullptr) {
    const run_data run = from_record(glass_with_clones(barrier), "c.h5");
    const aging_summary s = analyse(run);
    if (reason) *reason = s.clones->connected_reason;
    return s.clones->connected_from_tw;
}

// The first t_w from which every measured clone pair is connected (barrier <= 0.016): after the
// last unconnected one; unmeasured (NaN) rows do not count; null with the reason when the
// largest measured t_w is not connected or nothing is measured.
TEST(clones, first_linearly_connected_waiting_time) {
    EXPECT_EQ(connected_from({0.5, 0.001, 0.05, 0.01}), 1000.0);
    EXPECT_EQ(connected_from({0.5, 0.001, 0.01, 0.01}), 10.0);
    EXPECT_EQ(connected_from({0.01, 0.001, 0.01, 0.01}), 1.0);
    EXPECT_EQ(connected_from({0.5, 0.001, 0.01, nan_v}), 10.0);
    const std::string largest =
        "the clones of the largest measured t_w = 1000 are not linearly connected (barrier 0.1 > 0.016)";
    std::string why;
    EXPECT_FALSE(connected_from({0.001, 0.001, 0.01, 0.1}, &why));
    EXPECT_EQ(why, largest);
    EXPECT_FALSE(connected_from({nan_v, nan_v, nan_v, nan_v}, &why));
    EXPECT_EQ(why, "no clone barrier measured (/clones/barrier is NaN at every t_w)");
    const run_data run = from_record(glass_with_clones({0.001, 0.001, 0.01, 0.1}), "c.h5");
    const auto j = to_json(run, analyse(run)).at("clones");
    EXPECT_TRUE(j.at("connected_from_tw").is_null());
    EXPECT_EQ(j.at("connected_from_tw_reason").get<std::string>(), largest);
}

// Per clone t_w: Delta_AB at the last lag it reached, the main run's Delta at the same (t_w,
// t) (copies: exact), the barrier and the verdict; the test-accuracy drop only when recorded.
TEST(clones, per_waiting_time_rows) {
    record r = glass_with_clones({0.5, 0.001, 0.05, 0.01});
    const run_data run = from_record(r, "c.h5");
    const auto j = to_json(run, analyse(run)).at("clones");
    EXPECT_NEAR(j.at("threshold").at("absolute").get<double>(), 0.016, 1e-17);
    EXPECT_EQ(j.at("threshold").at("energy_scale").get<double>(), 0.8);
    const auto& rows = j.at("per_tw");
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0].at("t_last").get<double>(), 100.0);
    EXPECT_EQ(rows[0].at("delta_ab").get<double>(), 0.5 * 100 / 101);
    EXPECT_EQ(rows[0].at("delta").get<double>(), 100.0 / 101); // /aging/delta at (1, 100)
    EXPECT_EQ(rows[3].at("t_last").get<double>(), 10.0);       // 1000 + 100 is past the run
    EXPECT_TRUE(rows[3].at("delta").is_null());                // /aging has no Delta(1000, 1010)
    EXPECT_EQ(rows[2].at("barrier").get<double>(), 0.05);
    EXPECT_FALSE(rows[2].at("connected").get<bool>());
    EXPECT_TRUE(rows[3].at("connected").get<bool>());
    EXPECT_FALSE(rows[0].contains("test_accuracy_drop"));
    r.extra["clones/test_accuracy_drop"] = {{4}, {0.1, 0.2, 0.3, 0.4}};
    const run_data net = from_record(r, "c.h5");
    EXPECT_EQ(to_json(net, analyse(net)).at("clones").at("per_tw")[1].at("test_accuracy_drop").get<double>(), 0.2);
}

// Without /barrier and /clones the summary has neither key and is the one of the same run with
// them once the two blocks are removed; the groups are analysed, not listed as extra datasets.
TEST(barrier, absent_groups_change_nothing) {
    record both = glass_with_barrier();
    const record clones = glass_with_clones({0.5, 0.001, 0.05, 0.01});
    for (const auto& [name, a] : clones.extra)
        if (name.rfind("clones/", 0) == 0) both.extra[name] = a;
    both.energy = clones.energy;
    record plain = both;
    std::erase_if(plain.extra, [](const auto& kv) {
        return kv.first.rfind("barrier/", 0) == 0 || kv.first.rfind("clones/", 0) == 0;
    });
    const run_data a = from_record(plain, "g.h5"), b = from_record(both, "g.h5");
    EXPECT_TRUE(b.extra_datasets.empty());
    const auto ja = to_json(a, analyse(a));
    auto jb = to_json(b, analyse(b));
    EXPECT_FALSE(ja.contains("barrier"));
    EXPECT_FALSE(ja.contains("clones"));
    ASSERT_TRUE(jb.contains("barrier") && jb.contains("clones"));
    jb.erase("barrier");
    jb.erase("clones");
    EXPECT_EQ(ja.dump(), jb.dump());
}

// Every malformed dataset of the two groups is one line naming the file and the dataset.
TEST(barrier, malformed_groups_are_refused_naming_the_dataset) {
    const auto refused = [](const record& r) -> std::string {
        try {
            (void)from_record(r, "m.h5");
        } catch (const record_error& e) {
            return e.what();
        }
        return "no error";
    };
    const std::vector<std::pair<std::string, std::vector<std::uint64_t>>> cases = {
        {"barrier/tw", {6, 1}},          {"barrier/t", {5}},
        {"barrier/height", {7}},         {"barrier/energy", {6, 4}},
        {"barrier/energy", {18}},        {"barrier/alpha", {3, 1}},
        {"barrier/height_samples", {6}}, {"barrier/energy_samples", {2, 6, 2}}};
    for (const auto& [name, shape] : cases) {
        record r = glass_with_barrier();
        std::uint64_t n = 1;
        for (const auto d : shape) n *= d;
        r.extra[name] = {shape, std::vector<double>(n, 0.0)};
        const std::string what = refused(r);
        EXPECT_EQ(what.rfind("m.h5: /" + name + " has shape ", 0), 0u) << what;
        EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
    record r = glass_with_barrier();
    r.extra["barrier/height"] = {{3}, {0, 0, 0}};
    EXPECT_EQ(refused(r), "m.h5: /barrier/height has shape [3], not [n_b] with n_b = 6 (n_b = the length of "
                          "/barrier/tw)");
    r = glass_with_barrier();
    r.extra.erase("barrier/alpha");
    EXPECT_EQ(refused(r), "m.h5: /barrier/alpha missing (the /barrier group needs tw, t, alpha, energy, height)");
    const std::vector<std::pair<std::string, std::vector<std::uint64_t>>> clone_cases = {
        {"clones/delta", {3, 4}}, {"clones/delta", {4, 3, 1}},        {"clones/barrier", {3}},
        {"clones/tw", {2, 2}},    {"clones/test_accuracy_drop", {5}}, {"clones/barrier_samples", {2, 3}},
        {"clones/t", {3, 1}},     {"clones/delta_samples", {2, 4, 2}}};
    for (const auto& [name, shape] : clone_cases) {
        record c = glass_with_clones({0, 0, 0, 0});
        std::uint64_t n = 1;
        for (const auto d : shape) n *= d;
        c.extra[name] = {shape, std::vector<double>(n, 0.0)};
        const std::string what = refused(c);
        EXPECT_EQ(what.rfind("m.h5: /" + name + " has shape ", 0), 0u) << what;
    }
    record c = glass_with_clones({0, 0, 0, 0});
    c.extra["clones/delta"] = {{4, 2}, std::vector<double>(8, 0.0)};
    EXPECT_EQ(refused(c), "m.h5: /clones/delta has shape [4, 2], not [n_c, n_l] = [4, 3] (n_c, n_l = the lengths of "
                          "/clones/tw and /clones/t)");
    c.extra.erase("clones/barrier");
    c.extra.erase("clones/delta");
    EXPECT_EQ(refused(c), "m.h5: /clones/delta missing (the /clones group needs tw, t, delta, barrier)");
}

} // namespace
