#include "dynamics/driver.hpp"
#include "dynamics/recorders.hpp"

#include <gtest/gtest.h>

#include <cmath>

namespace {

// A deterministic test system: x_k(n) = n * (k + 1) / 10 after n steps, so every distance
// is known by hand: (1/d) sum_k ((n1 - n0)(k + 1)/10)^2.
struct line_system {
    using state_type = Eigen::VectorXd;
};
struct line_dynamics {
    double dt() const { return 0.5; }
    void step(const line_system&, Eigen::VectorXd& x) {
        for (Eigen::Index k = 0; k < x.size(); ++k) x[k] += (k + 1) / 10.0;
    }
};

double hand_delta(std::int64_t lag, int d) {
    double s = 0;
    for (int k = 0; k < d; ++k) s += std::pow(lag * (k + 1) / 10.0, 2);
    return s / d;
}

} // namespace

TEST(two_time_recorder, matches_a_hand_computed_trajectory) {
    const int d = 3;
    line_system sys;
    line_dynamics dyn;
    Eigen::VectorXd x = Eigen::VectorXd::Zero(d);
    glassy::two_time_recorder<Eigen::VectorXd> rec({2, 10, 40}, {0, 1, 5, 30});
    glassy::scalar_recorder<line_system> scal;
    scal.add("x0", [](const line_system&, const Eigen::VectorXd& s) { return s[0]; });
    glassy::run_state rs;
    const auto sched = rec.required_steps().merged(glassy::schedule::linear(50, 10));
    EXPECT_TRUE(glassy::integrate(dyn, sys, x, rs, 50, sched, rec, scal));
    EXPECT_EQ(rs.step, 50);
    const auto& delta = rec.delta();
    ASSERT_EQ(delta.rows(), 3);
    ASSERT_EQ(delta.cols(), 4);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(delta(i, 0), 0.0); // Delta(t_w, t_w) = 0
        for (int j = 1; j < 4; ++j) {
            const std::int64_t tw = rec.tw_steps()[i], lag = rec.lag_steps()[j];
            if (tw + lag > 50) EXPECT_TRUE(std::isnan(delta(i, j)));
            else EXPECT_NEAR(delta(i, j), hand_delta(lag, d), 1e-12);
        }
    }
    EXPECT_EQ(rec.live_snapshots(), 1u); // only t_w = 40 still waits (for lag 30, past the end)
    // Times reported to observers are step * dt.
    ASSERT_FALSE(scal.times().empty());
    EXPECT_DOUBLE_EQ(scal.times().back(), 25.0);
    EXPECT_NEAR(scal.values("x0").back(), 5.0, 1e-12);
    EXPECT_THROW(static_cast<void>(scal.values("nope")), glassy::error);
}

// A group (e.g. the energies of R replicas from one batched gradient) is computed once per call
// and gives one series per name; restore() takes the series in the order the names were added.
TEST(scalar_recorder, a_group_is_computed_once_per_call_for_all_its_names) {
    line_system sys;
    line_dynamics dyn;
    Eigen::VectorXd x = Eigen::VectorXd::Zero(2);
    glassy::scalar_recorder<line_system> scal;
    int calls = 0;
    scal.add({"x0", "x1"}, [&](const line_system&, const Eigen::VectorXd& s) {
        ++calls;
        return std::vector<double>{s[0], s[1]};
    });
    scal.add("sum", [](const line_system&, const Eigen::VectorXd& s) { return s.sum(); });
    glassy::run_state rs;
    EXPECT_TRUE(glassy::integrate(dyn, sys, x, rs, 10, glassy::schedule::linear(10, 5), scal));
    ASSERT_EQ(scal.times().size(), 3u); // steps 0, 5, 10
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(scal.names(), (std::vector<std::string>{"x0", "x1", "sum"}));
    EXPECT_NEAR(scal.values("x0").back(), 10 * 0.1, 1e-12);
    EXPECT_NEAR(scal.values("x1").back(), 10 * 0.2, 1e-12);
    EXPECT_NEAR(scal.values("sum").back(), 10 * 0.3, 1e-12);
    glassy::scalar_recorder<line_system> copy;
    copy.add({"x0", "x1"}, [](const line_system&, const Eigen::VectorXd&) { return std::vector<double>{0, 0}; });
    copy.add("sum", [](const line_system&, const Eigen::VectorXd&) { return 0.0; });
    copy.restore(scal.steps(), scal.times(), {scal.values("x0"), scal.values("x1"), scal.values("sum")});
    EXPECT_EQ(copy.values("x1"), scal.values("x1"));
    EXPECT_THROW(copy.restore(scal.steps(), scal.times(), {scal.values("x0")}), glassy::error);
    glassy::scalar_recorder<line_system> wrong;
    wrong.add({"a", "b"}, [](const line_system&, const Eigen::VectorXd&) { return std::vector<double>{1.0}; });
    EXPECT_THROW(wrong(sys, x, 0, 0.0), glassy::error);
}

TEST(driver, stops_when_asked_and_resumes_to_the_same_state) {
    line_system sys;
    line_dynamics dyn;
    Eigen::VectorXd x = Eigen::VectorXd::Zero(2);
    glassy::run_state rs;
    glassy::run_hooks hooks;
    hooks.stop = [](std::int64_t step) { return step == 7; };
    const auto sched = glassy::schedule::linear(20, 1);
    std::vector<std::int64_t> seen;
    auto watch = [&](const line_system&, const Eigen::VectorXd&, std::int64_t step, double) { seen.push_back(step); };
    EXPECT_FALSE(glassy::integrate(dyn, sys, x, rs, 20, sched, hooks, watch));
    EXPECT_EQ(rs.step, 7);
    EXPECT_EQ(seen.size(), 7u); // steps 0..6 observed; step 7 fires on resumption
    EXPECT_TRUE(glassy::integrate(dyn, sys, x, rs, 20, sched, hooks, watch));
    EXPECT_EQ(rs.step, 20);
    ASSERT_EQ(seen.size(), 21u); // every step observed exactly once
    for (std::size_t k = 0; k < seen.size(); ++k) EXPECT_EQ(seen[k], static_cast<std::int64_t>(k));
    EXPECT_NEAR(x[1], 20 * 0.2, 1e-12);
}
