// Sweeps (analysis/sweep.hpp): the jamming-transition locator on hand-made tables, the swept key
// of a set of parameters, and aging_analysis --sweep on small records written here.
#include "analysis/sweep.hpp"
#include "dynamics/error.hpp"
#include "dynamics/record.hpp"
#include "synthetic.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace glassy;

std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// Final losses of an idealised sweep: jammed (0.1) below N/P = 0.5, zero loss (1e-12) above.
const std::vector<double> ratios = {0.1, 0.2, 0.4, 0.6, 1.0, 2.0};
const std::vector<double> initial(6, 0.5);

} // namespace

// Jammed means final > 1e-3 x initial = 5e-4: the last jammed point is 0.4, the next 0.6; the
// estimate is their geometric mean. The input order does not matter (sorted by the axis).
TEST(sweep_transition, bracketed_between_the_last_jammed_point_and_the_next) {
    const std::vector<double> axis = {2.0, 0.4, 0.1, 1.0, 0.6, 0.2};
    const std::vector<double> loss = {1e-12, 0.02, 0.1, 1e-12, 1e-12, 0.06};
    const transition t = locate_transition(axis, loss, initial);
    ASSERT_TRUE(t.bracketed) << t.reason;
    EXPECT_EQ(t.lo, 0.4);
    EXPECT_EQ(t.hi, 0.6);
    EXPECT_NEAR(t.estimate, std::sqrt(0.24), 1e-15);
    EXPECT_EQ(t.lo_index, 2u); // positions in ascending order
    EXPECT_EQ(t.hi_index, 3u);
    EXPECT_TRUE(t.out_of_order.empty());
    // The threshold is relative: at 0.1 of the initial loss (0.05), 0.02 (at 0.4) is no longer jammed.
    const transition u = locate_transition(axis, loss, initial, 0.1);
    ASSERT_TRUE(u.bracketed);
    EXPECT_EQ(u.lo, 0.2);
    EXPECT_EQ(u.hi, 0.4);
}

TEST(sweep_transition, not_bracketed_says_on_which_side) {
    const transition all_jammed = locate_transition(ratios, std::vector<double>(6, 0.1), initial);
    EXPECT_FALSE(all_jammed.bracketed);
    EXPECT_NE(all_jammed.reason.find("every point is jammed"), std::string::npos) << all_jammed.reason;
    const transition none = locate_transition(ratios, std::vector<double>(6, 1e-9), initial);
    EXPECT_FALSE(none.bracketed);
    EXPECT_NE(none.reason.find("no point is jammed"), std::string::npos) << none.reason;
    // The largest N/P jammed while smaller ones reached zero: no bracket, said so.
    const transition last = locate_transition(ratios, {0.1, 1e-9, 1e-9, 1e-9, 1e-9, 0.1}, initial);
    EXPECT_FALSE(last.bracketed);
    EXPECT_NE(last.reason.find("last point is jammed"), std::string::npos) << last.reason;
}

// Non-monotone: an unjammed point (0.2) below a jammed one (0.6). The bracket is taken at the LAST
// jammed point, and the points out of order are listed; a non-finite loss is left out.
TEST(sweep_transition, non_monotone_uses_the_last_jammed_point_and_lists_the_others) {
    const double nan = std::nan("");
    const transition t = locate_transition(ratios, {0.1, 1e-9, 0.1, 0.1, nan, 1e-9}, initial);
    ASSERT_TRUE(t.bracketed) << t.reason;
    EXPECT_EQ(t.lo, 0.6);
    EXPECT_EQ(t.hi, 2.0); // 1.0 has no finite loss
    EXPECT_EQ(t.out_of_order, std::vector<double>{0.2});
    EXPECT_EQ(t.excluded, std::vector<std::size_t>{4});
}

TEST(sweep_transition, refuses_repeated_axis_values_and_bad_thresholds) {
    EXPECT_THROW((void)locate_transition({0.1, 0.1}, {1, 0}, {1, 1}), error);
    EXPECT_THROW((void)locate_transition(ratios, initial, initial, 0.0), error);
    EXPECT_THROW((void)locate_transition(ratios, initial, initial, 1.0), error);
    EXPECT_THROW((void)locate_transition(ratios, {1.0}, initial), error);
}

// The swept key: the one parameter (dotted for nested objects) that differs, ignoring what
// follows from it (num_parameters, train_count) and how the run went; more than one: refused
// with the keys and the files named; --sweep-key names the key when others differ.
// The half-jammed point: the perceptron at d = 20 with 16 seeds per P (docs/reproducing-the-paper.md)
// has jammed fractions 15/16 ... 0 on N/P = 0.357 ... 0.833, exactly 1/2 at N/P = 0.5: that point
// is the estimate, bracketed by [0.5, 0.556]. Between 3/4 at 1 and 1/4 at 4 the crossing is the
// middle in ln: 2. A fraction below 1/2 before the crossing is out of order; no crossing on
// either side is said, not given a number.
TEST(sweep_transition, half_jammed_point_of_several_seeds) {
    const std::vector<double> ratio = {0.833, 0.714, 0.625, 0.556, 0.5, 0.455, 0.417, 0.357};
    const std::vector<double> fraction = {0, 0, 1.0 / 16, 4.0 / 16, 8.0 / 16, 12.0 / 16, 14.0 / 16, 15.0 / 16};
    const transition t = locate_half_jammed(ratio, fraction);
    ASSERT_TRUE(t.bracketed) << t.reason;
    EXPECT_EQ(t.lo, 0.5);
    EXPECT_EQ(t.hi, 0.556);
    EXPECT_EQ(t.estimate, 0.5);
    EXPECT_TRUE(t.out_of_order.empty());
    EXPECT_NEAR(locate_half_jammed({1, 4}, {0.75, 0.25}).estimate, 2.0, 1e-14);
    EXPECT_EQ(locate_half_jammed({1, 2, 4}, {0.25, 0.75, 0.25}).out_of_order, std::vector<double>{1});
    EXPECT_FALSE(locate_half_jammed({1, 2}, {0.5, 0.75}).bracketed);
    EXPECT_NE(locate_half_jammed({1, 2}, {0.4, 0}).reason.find("below the first point"), std::string::npos);
    EXPECT_THROW((void)locate_half_jammed({1, 2}, {0.5}), error);
}

TEST(sweep_key, finds_the_one_differing_key_and_refuses_more) {
    using nlohmann::json;
    const json a = {{"model", "linear"}, {"random", {{"train_size", 50}, {"input_dim", 10}}},
                    {"lr", 1.0},         {"num_parameters", 10},
                    {"train_count", 50}, {"wall_seconds", 1.5},
                    {"seed", 1}};
    json b = a;
    b["random"]["train_size"] = 80;
    b["train_count"] = 80;
    b["wall_seconds"] = 2.5;
    EXPECT_EQ(sweep_key({a, b}, {"a.h5", "b.h5"}), "random.train_size");
    EXPECT_EQ(sweep_key({a, b}, {"a.h5", "b.h5"}, "random.train_size"), "random.train_size");
    json c = b;
    c["seed"] = 2;
    EXPECT_EQ(differing_parameters({a, c}), (std::vector<std::string>{"random.train_size", "seed"}));
    try {
        (void)sweep_key({a, c}, {"a.h5", "c.h5"});
        FAIL() << "two differing keys accepted";
    } catch (const error& e) {
        const std::string m = e.what();
        EXPECT_NE(m.find("random.train_size, seed"), std::string::npos) << m;
        EXPECT_NE(m.find("a.h5"), std::string::npos) << m;
        EXPECT_EQ(m.find('\n'), std::string::npos);
    }
    EXPECT_THROW((void)sweep_key({a, c}, {"a.h5", "c.h5"}, "random.train_size"), error); // seed still differs
    EXPECT_THROW((void)sweep_key({a, a}, {"a.h5", "a2.h5"}), error);                     // nothing swept
    EXPECT_THROW((void)sweep_key({a}, {"a.h5"}), error);                                 // one record
}

namespace {

/// A network record of a width sweep: fc, width h, P = 100 training samples, N = 10 h weights;
/// the train loss decays from 0.5 to `final_loss` (last point), N_Delta/P ends at `unsat`.
record width_record(int width, double final_loss, double unsat) {
    record r = test::net_record(30, 3000, 0.0, 7);
    r.parameters = {{"model", "fc"},
                    {"dataset", "random"},
                    {"loss", "hinge2"},
                    {"width", width},
                    {"depth", 2},
                    {"lr", 0.1},
                    {"batch", "all"},
                    {"seed", 1},
                    {"num_parameters", 10 * width},
                    {"train_count", 100},
                    {"wall_seconds", 0.1 * width},
                    {"steps_done", 100000}};
    auto& loss = r.observables["train_loss"];
    for (std::size_t i = 0; i < loss.size(); ++i)
        loss[i] = 0.5 * std::pow(final_loss / 0.5, static_cast<double>(i) / static_cast<double>(loss.size() - 1));
    r.energy = loss;
    r.observables["unsatisfied_fraction"] = std::vector<double>(loss.size(), unsat);
    return r;
}

class sweep_app : public ::testing::Test {
protected:
    void SetUp() override {
        m_dir = fs::temp_directory_path() / ("glassy_sweep_" + std::to_string(::getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(m_dir);
        fs::create_directories(m_dir);
    }
    void TearDown() override {
        if (!HasFailure()) fs::remove_all(m_dir);
    }
    // Writes records of widths 2, 4, 8, 16 (N/P = 0.2 .. 1.6): jammed up to 4, zero loss above.
    std::string write_width_sweep() const {
        std::string files;
        for (const auto& [w, loss, unsat] :
             {std::tuple{8, 1e-11, 0.0}, {2, 0.05, 0.3}, {16, 1e-12, 0.0}, {4, 0.01, 0.2}}) {
            const fs::path f = m_dir / ("width=" + std::to_string(w) + ".h5");
            record r = width_record(w, loss, unsat);
            if (w == 16) test::add_hessian(r, {10, 100, 1000}, [](double t) { return 0.1 / t; });
            write_record(r, f);
            files.append(" ").append(f.string());
        }
        return files;
    }
    // Runs aging_analysis with `args` (joined by spaces), stdout and stderr to out.txt, err.txt.
    int run(std::initializer_list<std::string> args) const {
        std::string cmd = GLASSY_AGING_ANALYSIS;
        for (const auto& a : args) cmd.append(" ").append(a);
        cmd.append(" > ").append((m_dir / "out.txt").string()).append(" 2> ").append((m_dir / "err.txt").string());
        const int st = std::system(cmd.c_str());
        return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    fs::path m_dir;
};

} // namespace

// sweep.csv: one row per record ordered by N/P, the documented columns; summary.json: the sweep
// block with the key, the interval [0.4, 0.8] (widths 4 and 8) and N*/P = sqrt(0.32), and each
// record's own summary; the same records analysed twice give the same table byte for byte.
TEST_F(sweep_app, writes_the_table_and_locates_the_transition) {
    const std::string files = write_width_sweep();
    ASSERT_EQ(run({"--sweep --no-plots", files, "--out", (m_dir / "a").string()}), 0) << slurp(m_dir / "err.txt");
    const std::string csv = slurp(m_dir / "a" / "sweep.csv");
    std::istringstream in(csv);
    std::string header, line;
    std::getline(in, header);
    EXPECT_EQ(header.rfind("value,num_parameters,train_count,n_over_p,steps_done,complete,converged,jammed,"
                           "initial_train_loss,loss_threshold,train_loss,test_loss,train_accuracy,test_accuracy,"
                           "unsatisfied_fraction,test_unsatisfied_fraction,t1,t2,collapse_below_t2,collapse_above_t2,"
                           "plateau,diffusive_exponent,hessian_top",
                           0),
              0u)
        << header;
    std::vector<std::string> rows;
    while (std::getline(in, line)) rows.push_back(line);
    ASSERT_EQ(rows.size(), 4u);
    EXPECT_EQ(rows[0].rfind("2,20,100,0.2,", 0), 0u) << rows[0];
    EXPECT_EQ(rows[3].rfind("16,160,100,1.6,", 0), 0u) << rows[3];
    EXPECT_NE(rows[3].find("\"width=16.h5\""), std::string::npos);
    // Hessian columns: the values of the record's summary at its last measurement (t = 1000 of
    // test::add_hessian: top 3 + 1/1001, negative fraction 1e-4, flat 0.02 1000^0.2, trace 2.001);
    // nan for the records without /hessian.
    const auto cells = [](const std::string& l) {
        std::vector<std::string> c;
        std::stringstream ss(l);
        for (std::string x; std::getline(ss, x, ',');) c.push_back(x);
        return c;
    };
    const std::vector<std::string> names = cells(header), last = cells(rows[3]), first = cells(rows[0]);
    const auto column = [&](const std::string& name) {
        return static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
    };
    EXPECT_NEAR(std::stod(last.at(column("hessian_top"))), 3 + 1.0 / 1001, 1e-9);
    EXPECT_NEAR(std::stod(last.at(column("hessian_negative_fraction"))), 1e-4, 1e-12);
    EXPECT_NEAR(std::stod(last.at(column("hessian_flat_fraction"))), 0.02 * std::pow(1000.0, 0.2), 1e-9);
    EXPECT_NEAR(std::stod(last.at(column("hessian_trace"))), 2.001, 1e-9);
    EXPECT_EQ(first.at(column("hessian_top")), "nan");

    const auto j = nlohmann::json::parse(slurp(m_dir / "a" / "summary.json"));
    const auto& sw = j.at("sweep");
    EXPECT_EQ(sw.at("key"), "width");
    EXPECT_EQ(sw.at("points"), 4);
    EXPECT_FALSE(sw.contains("half_jammed")); // one seed per point
    EXPECT_EQ(sw.at("threshold").at("relative"), 1e-3);
    const auto& t = sw.at("transition");
    EXPECT_EQ(t.at("axis"), "N/P");
    ASSERT_TRUE(t.at("bracketed").get<bool>());
    EXPECT_NEAR(t.at("interval")[0].get<double>(), 0.4, 1e-15);
    EXPECT_NEAR(t.at("interval")[1].get<double>(), 0.8, 1e-15);
    EXPECT_NEAR(t.at("n_star_over_p").get<double>(), std::sqrt(0.32), 1e-14);
    EXPECT_NEAR(t.at("last_jammed").at("unsatisfied_fraction").get<double>(), 0.2, 1e-15);
    EXPECT_EQ(t.at("first_unjammed").at("unsatisfied_fraction"), 0.0);
    EXPECT_TRUE(t.at("monotone").get<bool>());
    ASSERT_EQ(j.at("runs").size(), 4u);
    EXPECT_TRUE(j.at("runs")[0].at("summary").contains("diffusive_exponent"));

    ASSERT_EQ(run({"--sweep --no-plots", files, "--out", (m_dir / "b").string()}), 0);
    EXPECT_EQ(slurp(m_dir / "b" / "sweep.csv"), csv);
}

// Records that differ in two parameters are refused in one line naming both keys; so are a
// repeated value, a non-network record and --sweep-threshold outside (0, 1).
TEST_F(sweep_app, refuses_mismatched_records_in_one_line) {
    const std::string files = write_width_sweep();
    record other = width_record(32, 1e-12, 0.0);
    other.parameters["lr"] = 0.2;
    write_record(other, m_dir / "lr.h5");
    EXPECT_EQ(run({"--sweep --no-plots", files, (m_dir / "lr.h5").string(), "--out", (m_dir / "x").string()}), 1);
    const std::string err = slurp(m_dir / "err.txt");
    EXPECT_NE(err.find("aging_analysis: error: the records differ in more than one parameter: lr, width"),
              std::string::npos)
        << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1);
    EXPECT_FALSE(fs::exists(m_dir / "x" / "sweep.csv"));

    record twice = width_record(8, 1e-12, 0.0);
    twice.parameters["seed"] = 1;
    write_record(twice, m_dir / "again.h5");
    EXPECT_EQ(run({"--sweep", files, (m_dir / "again.h5").string(), "--out", (m_dir / "y").string()}), 1);
    EXPECT_NE(slurp(m_dir / "err.txt").find("width = 8 twice"), std::string::npos) << slurp(m_dir / "err.txt");
    write_record(test::pspin_record([](double, double t) { return t; }, {10}, {1, 2}, 100), m_dir / "p.h5");
    EXPECT_EQ(
        run({"--sweep", (m_dir / "p.h5").string(), (m_dir / "width=2.h5").string(), "--out", (m_dir / "z").string()}),
        1);
    EXPECT_EQ(run({"--sweep --sweep-threshold 1", files, "--out", (m_dir / "w").string()}), 1);
    EXPECT_NE(slurp(m_dir / "err.txt").find("--sweep-threshold must be in (0, 1)"), std::string::npos);
    EXPECT_EQ(run({"--sweep-key width", files, "--out", (m_dir / "v").string()}), 1); // without --sweep
}

namespace {

/// `width_record` as a `net_quench --seeds 1-3` record: per-seed train losses decaying from 0.5 to
/// final[s] in /seeds/observables/train_loss [3, n_t], their mean in /observables/train_loss.
record seeds_record(int width, const std::vector<double>& final) {
    record r = width_record(width, 0.1, 0.0);
    r.parameters.erase("seed");
    r.parameters["seeds"] = {1, 2, 3};
    const std::size_t n = r.time.size();
    nd_array<double> per_seed{{final.size(), n}, {}};
    std::vector<double> mean(n, 0.0);
    for (double f : final)
        for (std::size_t i = 0; i < n; ++i) {
            per_seed.data.push_back(0.5 * std::pow(f / 0.5, static_cast<double>(i) / static_cast<double>(n - 1)));
            mean[i] += per_seed.data.back() / static_cast<double>(final.size());
        }
    r.observables["train_loss"] = mean;
    r.energy = mean;
    r.extra["seeds/observables/train_loss"] = per_seed;
    return r;
}

} // namespace

// Several seeds per point: sweep.csv gives n_s, the standard error of the final train loss over the
// seeds (sd / sqrt(3) of the three final values) and the fraction of seeds jammed by the same rule
// as the point (final > 1e-3 x initial 0.5): 2 of 3 at width 2, none at width 8. A per-seed table
// of the wrong shape is refused in one line naming the dataset.
TEST_F(sweep_app, several_seeds_per_point_give_the_jammed_fraction_and_the_spread) {
    const std::vector<double> narrow = {0.05, 1e-9, 0.02}, wide = {1e-11, 2e-11, 3e-11};
    write_record(seeds_record(2, narrow), m_dir / "width=2.h5");
    write_record(seeds_record(8, wide), m_dir / "width=8.h5");
    ASSERT_EQ(run({"--sweep --no-plots", (m_dir / "width=2.h5").string(), (m_dir / "width=8.h5").string(), "--out",
                   (m_dir / "a").string()}),
              0)
        << slurp(m_dir / "err.txt");
    std::istringstream in(slurp(m_dir / "a" / "sweep.csv"));
    std::vector<std::vector<std::string>> rows;
    for (std::string line; std::getline(in, line);) {
        rows.emplace_back();
        std::stringstream ss(line);
        for (std::string x; std::getline(ss, x, ',');) rows.back().push_back(x);
    }
    ASSERT_EQ(rows.size(), 3u);
    const auto at = [&](std::size_t row, const std::string& name) {
        const auto c = static_cast<std::size_t>(std::find(rows[0].begin(), rows[0].end(), name) - rows[0].begin());
        return rows.at(row).at(c);
    };
    const double m = (0.05 + 1e-9 + 0.02) / 3;
    double ss = 0;
    for (double f : narrow) ss += (f - m) * (f - m);
    EXPECT_EQ(at(1, "seeds"), "3");
    EXPECT_NEAR(std::stod(at(1, "train_loss_err")), std::sqrt(ss / 2 / 3), 1e-11); // 10 digits of 0.0145
    EXPECT_NEAR(std::stod(at(1, "jammed_fraction")), 2.0 / 3, 1e-10); // sweep.csv keeps 10 significant digits
    EXPECT_EQ(at(1, "jammed"), "1");                                  // the mean 0.0233 > 5e-4
    EXPECT_EQ(at(2, "jammed_fraction"), "0");
    const auto j = nlohmann::json::parse(slurp(m_dir / "a" / "summary.json"));
    EXPECT_NEAR(j.at("sweep").at("transition").at("last_jammed").at("jammed_fraction").get<double>(), 2.0 / 3, 1e-15);
    // Half of the seeds jammed between N/P = 0.2 (2/3) and 0.8 (0): a quarter of the way in ln.
    EXPECT_NEAR(j.at("sweep").at("half_jammed").at("n_star_over_p").get<double>(), 0.2 * std::sqrt(2.0), 1e-14);

    record bad = seeds_record(4, wide);
    bad.extra["seeds/observables/train_loss"].shape = {bad.time.size(), 3};
    write_record(bad, m_dir / "width=4.h5");
    EXPECT_EQ(run({"--sweep --no-plots", (m_dir / "width=2.h5").string(), (m_dir / "width=4.h5").string(), "--out",
                   (m_dir / "b").string()}),
              1);
    const std::string err = slurp(m_dir / "err.txt");
    EXPECT_NE(err.find("width=4.h5: /seeds/observables/train_loss is not [n_s, n_t]"), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
}
