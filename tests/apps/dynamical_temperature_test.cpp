// T_d, the dynamical temperature below which pspin_quench --method ck refuses an equilibrium
// start (--T0), against closed forms of the plateau equation f'(q)(1 - q) = T^2 q.
#include "dynamics/error.hpp"
#include "physics/ck.hpp"
#include "physics/ck_run.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

using glassy::ck_mixture;
using glassy::dynamical_temperature;

// Pure p: T_d^2 = p (p-2)^(p-2) / (2 (p-1)^(p-1)); p = 3 gives 3/8, p = 4 gives 8/27; p = 2: 1.
TEST(dynamical_temperature, pure_p_spin_closed_form) {
    EXPECT_NEAR(dynamical_temperature(ck_mixture::pure(3)), std::sqrt(3.0 / 8.0), 1e-8);
    EXPECT_NEAR(dynamical_temperature(ck_mixture::pure(4)), std::sqrt(8.0 / 27.0), 1e-8);
    EXPECT_NEAR(dynamical_temperature(ck_mixture::pure(2)), 1.0, 1e-12);
    for (int p = 3; p <= 8; ++p) {
        const double td2 = p * std::pow(p - 2.0, p - 2) / (2 * std::pow(p - 1.0, p - 1));
        EXPECT_NEAR(dynamical_temperature(ck_mixture::pure(p)), std::sqrt(td2), 1e-8) << p;
    }
}

// f = (q^3 + q^4)/2: f'(q)(1-q)/q = (1-q)(3q/2 + 2q^2), stationary where 6q^2 - q - 3/2 = 0,
// q* = (1 + sqrt(37))/12.
TEST(dynamical_temperature, mixed_3_4_by_the_stationary_point) {
    const double q = (1.0 + std::sqrt(37.0)) / 12.0;
    const double td = std::sqrt((1 - q) * (1.5 * q + 2 * q * q));
    EXPECT_NEAR(td, 0.805166, 1e-6);
    EXPECT_NEAR(dynamical_temperature(ck_mixture::parse("3:1,4:1")), td, 1e-8);
    // A weighted mixture, 0.5 q^3 + 2 q^5 (f = sum c_p q^p / 2): stationary point of
    // (1-q)(0.75 q + 5 q^3) solved by bisection on its derivative 0.75 - 1.5 q + 15 q^2 - 20 q^3.
    double lo = 0.3, hi = 0.95;
    const auto d = [](double x) { return 0.75 - 1.5 * x + 15 * x * x - 20 * x * x * x; };
    for (int k = 0; k < 200; ++k) (d(0.5 * (lo + hi)) > 0 ? lo : hi) = 0.5 * (lo + hi);
    const double qs = 0.5 * (lo + hi);
    EXPECT_NEAR(dynamical_temperature(ck_mixture::parse("3:0.5,5:2")),
                std::sqrt((1 - qs) * (0.75 * qs + 5 * qs * qs * qs)), 1e-8);
}

// With a strong q^2 term the supremum is the q -> 0 limit f''(0) = c_2 (a continuous transition).
TEST(dynamical_temperature, continuous_case_is_the_q_to_0_limit) {
    EXPECT_NEAR(dynamical_temperature(ck_mixture::parse("2:1,4:0.1")), 1.0, 1e-12);
}

TEST(dynamical_temperature, validate_refuses_t0_at_or_below_it) {
    glassy::ck_parameters p;
    p.T0 = 0.6123;
    EXPECT_THROW(glassy::validate(p), glassy::parameter_error);
    p.T0 = 0.6125;
    EXPECT_NO_THROW(glassy::validate(p));
    p.mix = ck_mixture::parse("3:1,4:1");
    EXPECT_THROW(glassy::validate(p), glassy::parameter_error);
    p.T0 = 0.81;
    EXPECT_NO_THROW(glassy::validate(p));
}

// The model itself refuses the start, so every user of the CK integrators is covered.
TEST(dynamical_temperature, ck_system_refuses_t0_at_or_below_it) {
    EXPECT_THROW(glassy::ck_system(ck_mixture::pure(3), 0.5, 0.6), glassy::parameter_error);
    EXPECT_THROW(glassy::ck_system(ck_mixture::pure(3), 0.5, std::sqrt(3.0 / 8.0)), glassy::parameter_error);
    EXPECT_NO_THROW(glassy::ck_system(ck_mixture::pure(3), 0.5, 0.62));
    EXPECT_NO_THROW(glassy::ck_system(ck_mixture::pure(3), 0.5)); // T0 = infinity
    try {
        glassy::ck_system(ck_mixture::parse("3:1,4:1"), 0.5, 0.8);
        FAIL() << "not refused";
    } catch (const glassy::parameter_error& e) {
        EXPECT_NE(std::string(e.what()).find("T_d = 0.805166"), std::string::npos) << e.what();
    }
}
