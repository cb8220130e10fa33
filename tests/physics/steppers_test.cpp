// The steppers on the sphere (physics/steppers.hpp): Langevin (Euler, Heun) and Metropolis, for
// one state and for the R replicas of a `replicas` system.
#include "physics/pspin.hpp"
#include "physics/steppers.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

using glassy::pspin_model;
using vec = Eigen::VectorXd;

TEST(dynamics, every_dynamics_keeps_the_sphere_to_1e10_after_1e4_steps) {
    const int n = 16;
    const pspin_model m(n, 3, 21);
    std::mt19937_64 rng(1);
    for (int which = 0; which < 3; ++which) {
        vec s = m.random_configuration(rng);
        if (which < 2) {
            glassy::langevin_dynamics d(
                0.5, 0.01,
                which == 0 ? glassy::langevin_dynamics::scheme::euler : glassy::langevin_dynamics::scheme::heun, 5);
            for (int k = 0; k < 10000; ++k) d.step(m, s);
        } else {
            glassy::metropolis_dynamics d(0.5, 0.3, 5);
            for (int k = 0; k < 10000; ++k) d.step(m, s);
            EXPECT_GT(d.acceptance(), 0.05);
        }
        EXPECT_NEAR(s.squaredNorm(), double(n), 1e-10) << "dynamics " << which;
    }
}

TEST(dynamics, zero_temperature_langevin_descends) {
    const pspin_model m(32, 3, 2);
    std::mt19937_64 rng(3);
    vec s = m.random_configuration(rng);
    glassy::langevin_dynamics d(0.0, 0.01, glassy::langevin_dynamics::scheme::heun, 1);
    double e = m.energy(s);
    for (int k = 0; k < 200; ++k) {
        d.step(m, s);
        const double e2 = m.energy(s);
        EXPECT_LE(e2, e + 1e-12);
        e = e2;
    }
}

namespace {
using replica_system = glassy::replicas<pspin_model>;
constexpr glassy::langevin_dynamics::scheme schemes[] = {glassy::langevin_dynamics::scheme::euler,
                                                         glassy::langevin_dynamics::scheme::heun};
} // namespace

// A batch of one replica is the one-state stepper: the same arithmetic, the same bits.
TEST(steppers, a_batch_of_one_replica_is_the_one_state_run_bit_for_bit) {
    const pspin_model m(40, 3, 31);
    std::mt19937_64 rng(4);
    const vec x0 = m.random_configuration(rng);
    const replica_system sys{&m};
    for (const auto s : schemes) {
        glassy::langevin_dynamics one(0.5, 0.05, s, 7), batch(0.5, 0.05, s, std::vector<std::uint64_t>{7});
        vec x = x0;
        std::vector<vec> xs{x0};
        for (int k = 0; k < 50; ++k) {
            one.step(m, x);
            batch.step(sys, xs);
        }
        EXPECT_TRUE(xs[0] == x);
        EXPECT_EQ(batch.state(0), one.state());
    }
    glassy::metropolis_dynamics one(0.5, 0.3, 7), batch(0.5, 0.3, std::vector<std::uint64_t>{7});
    vec x = x0;
    std::vector<vec> xs{x0};
    for (int k = 0; k < 20; ++k) {
        one.step(m, x);
        batch.step(sys, xs);
    }
    EXPECT_TRUE(xs[0] == x);
    EXPECT_EQ(batch.acceptance(0), one.acceptance());
}

// Replica r of a batch follows the one-state run with seed r. Metropolis sweeps the replicas one
// after another: bit for bit. Langevin takes one batched gradient for R = 3, whose sums differ
// from gradient() at 1e-16 relative; over t = 2 (100 Heun steps, dt = 0.02) that grows by
// e^{O(t)}, far below 1e-10, while different noise streams put replicas O(1) apart.
TEST(steppers, each_replica_of_a_batch_follows_its_own_one_state_run) {
    const int n = 60;
    const pspin_model m(n, 3, 32);
    std::mt19937_64 rng(5);
    const std::vector<std::uint64_t> seeds{11, 12, 13};
    std::vector<vec> x0;
    for (std::size_t r = 0; r < seeds.size(); ++r) x0.push_back(m.random_configuration(rng));
    const replica_system sys{&m};
    for (const auto s : schemes) {
        glassy::langevin_dynamics batch(0.5, 0.02, s, seeds);
        std::vector<vec> xs = x0;
        for (int k = 0; k < 100; ++k) batch.step(sys, xs);
        for (std::size_t r = 0; r < seeds.size(); ++r) {
            glassy::langevin_dynamics one(0.5, 0.02, s, seeds[r]);
            vec x = x0[r];
            for (int k = 0; k < 100; ++k) one.step(m, x);
            EXPECT_LT((xs[r] - x).lpNorm<Eigen::Infinity>(), 1e-10) << "replica " << r;
            EXPECT_EQ(batch.state(r), one.state()) << "replica " << r; // the same draws
        }
        EXPECT_GT((xs[0] - xs[1]).norm(), 1.0);
    }
    glassy::metropolis_dynamics batch(0.5, 0.3, seeds);
    std::vector<vec> xs = x0;
    for (int k = 0; k < 10; ++k) batch.step(sys, xs);
    for (std::size_t r = 0; r < seeds.size(); ++r) {
        glassy::metropolis_dynamics one(0.5, 0.3, seeds[r]);
        vec x = x0[r];
        for (int k = 0; k < 10; ++k) one.step(m, x);
        EXPECT_TRUE(xs[r] == x) << "replica " << r;
        EXPECT_EQ(batch.acceptance(r), one.acceptance()) << "replica " << r;
    }
}

// state(r) / restore(r, text) carry a replica's noise stream: a restored stepper continues
// exactly as the original.
TEST(steppers, a_restored_noise_state_continues_the_same_run) {
    const pspin_model m(30, 3, 33);
    std::mt19937_64 rng(6);
    const replica_system sys{&m};
    std::vector<vec> xs{m.random_configuration(rng), m.random_configuration(rng)};
    glassy::langevin_dynamics a(0.5, 0.05, glassy::langevin_dynamics::scheme::heun, {1, 2});
    for (int k = 0; k < 7; ++k) a.step(sys, xs);
    glassy::langevin_dynamics b(0.5, 0.05, glassy::langevin_dynamics::scheme::heun, {8, 9});
    for (std::size_t r = 0; r < 2; ++r) b.restore(r, a.state(r));
    std::vector<vec> ys = xs;
    a.step(sys, xs);
    b.step(sys, ys);
    EXPECT_TRUE(xs[0] == ys[0] && xs[1] == ys[1]);
    EXPECT_THROW(b.restore(0, "not a generator"), glassy::error);
}

TEST(steppers, bad_parameters_and_a_wrong_replica_count_throw) {
    using glassy::parameter_error;
    using scheme = glassy::langevin_dynamics::scheme;
    EXPECT_THROW(glassy::langevin_dynamics(-1.0, 0.1, scheme::euler, 1), parameter_error);
    EXPECT_THROW(glassy::langevin_dynamics(0.5, 0.0, scheme::euler, 1), parameter_error);
    EXPECT_THROW(glassy::langevin_dynamics(0.5, 0.1, scheme::euler, std::vector<std::uint64_t>{}), parameter_error);
    EXPECT_THROW(glassy::metropolis_dynamics(0.5, 4.0, 1), parameter_error);
    const pspin_model m(10, 3, 34);
    std::mt19937_64 rng(7);
    std::vector<vec> xs{m.random_configuration(rng)};
    glassy::langevin_dynamics two(0.5, 0.1, scheme::euler, {1, 2});
    EXPECT_THROW(two.step(replica_system{&m}, xs), parameter_error);
    glassy::metropolis_dynamics mtwo(0.5, 0.3, std::vector<std::uint64_t>{1, 2});
    EXPECT_THROW(mtwo.step(replica_system{&m}, xs), parameter_error);
}

// The energies of R replicas come from one batched gradient: equal to energy() to rounding.
TEST(steppers, replica_energies_equal_the_one_state_energies) {
    const pspin_model m(50, 3, 35);
    std::mt19937_64 rng(8);
    std::vector<vec> xs;
    for (int r = 0; r < 4; ++r) xs.push_back(m.random_configuration(rng));
    const Eigen::VectorXd e = glassy::replica_energies(replica_system{&m}, xs);
    ASSERT_EQ(e.size(), 4);
    for (int r = 0; r < 4; ++r) EXPECT_NEAR(e[r], m.energy(xs[static_cast<std::size_t>(r)]), 1e-12 * std::abs(e[r]));
    const std::vector<vec> one{xs[0]};
    EXPECT_EQ(glassy::replica_energies(replica_system{&m}, one)[0], m.energy(xs[0])); // R = 1: gradient()
}
