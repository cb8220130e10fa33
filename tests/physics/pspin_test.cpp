// The spherical p-spin model (physics/pspin.hpp): energy, gradient and Hessian against brute
// force and finite differences, the normalisation of the couplings, the batched gradient of R
// replicas and the float32 coupling storage, and their independence of the thread count.
#include "dynamics/error.hpp"
#include "physics/pspin.hpp"

#include <gtest/gtest.h>

#include "tests/physics/pspin_support.hpp"
#include <omp.h>

#include <cmath>
#include <random>

using glassy::pspin_model;
using glassy::test::brute_energy;
using glassy::test::random_on_sphere;
using glassy::test::random_replicas;
using vec = Eigen::VectorXd;

class pspin_orders : public ::testing::TestWithParam<int> {};

TEST_P(pspin_orders, energy_matches_brute_force_and_gradient_matches_finite_differences) {
    const int p = GetParam(), n = 11;
    const pspin_model m(n, p, 7);
    const vec s = random_on_sphere(n, 3);
    vec g;
    const double h = m.gradient(s, g);
    EXPECT_NEAR(h, brute_energy(m, s), 1e-12);
    EXPECT_NEAR(m.energy(s), h, 1e-12);
    // Euler's theorem for a homogeneous polynomial of degree p: sigma . grad H = p H.
    EXPECT_NEAR(s.dot(g), p * h, 1e-11);
    const double eps = 1e-5; // central differences: error O(eps^2 * |H'''|) ~ 1e-9
    for (int i = 0; i < n; ++i) {
        vec a = s, b = s;
        a[i] += eps;
        b[i] -= eps;
        EXPECT_NEAR(g[i], (m.energy(a) - m.energy(b)) / (2 * eps), 1e-7) << "component " << i;
    }
}

TEST_P(pspin_orders, tangent_hessian_matches_second_derivative_along_geodesics) {
    const int p = GetParam(), n = 9;
    const pspin_model m(n, p, 11);
    const vec s = random_on_sphere(n, 5);
    const Eigen::MatrixXd hess = m.tangent_hessian(s);
    EXPECT_LT((hess - hess.transpose()).norm(), 1e-12);
    EXPECT_LT((hess * s).norm(), 1e-10); // acts on the tangent space only
    std::mt19937_64 rng(9);
    std::normal_distribution<double> gauss;
    for (int trial = 0; trial < 5; ++trial) {
        vec u(n);
        for (int i = 0; i < n; ++i) u[i] = gauss(rng);
        u -= (u.dot(s) / n) * s; // tangent
        u /= u.norm();
        const double r = std::sqrt(double(n));
        auto geo = [&](double t) { return vec(std::cos(t / r) * s + r * std::sin(t / r) * u); };
        const double eps = 1e-4;
        const double fd = (m.energy(geo(eps)) - 2 * m.energy(s) + m.energy(geo(-eps))) / (eps * eps);
        EXPECT_NEAR(u.dot(hess * u), fd, 1e-5); // O(eps^2) truncation + 1e-16/eps^2 rounding
    }
}

TEST_P(pspin_orders, rotation_delta_equals_energy_difference) {
    const int p = GetParam(), n = 10;
    const pspin_model m(n, p, 13);
    const vec s = random_on_sphere(n, 2);
    for (auto [i, j] : {std::pair{0, 3}, std::pair{7, 2}, std::pair{9, 8}}) {
        const double th = 0.37;
        vec r = s;
        r[i] = std::cos(th) * s[i] + std::sin(th) * s[j];
        r[j] = -std::sin(th) * s[i] + std::cos(th) * s[j];
        EXPECT_NEAR(m.rotation_delta(s, i, j, std::cos(th), std::sin(th)), m.energy(r) - m.energy(s), 1e-12);
    }
}

INSTANTIATE_TEST_SUITE_P(p, pspin_orders, ::testing::Values(2, 3, 4));

TEST(pspin, couplings_are_stored_once_per_tuple) {
    const pspin_model m(40, 3, 1);
    EXPECT_EQ(m.num_couplings(), 40u * 39u * 38u / 6u);
    EXPECT_EQ(m.coupling_bytes(), m.num_couplings() * sizeof(double));
    EXPECT_THROW(pspin_model(2, 3, 1), glassy::parameter_error);
    EXPECT_THROW(pspin_model(5, 1, 1), glassy::parameter_error);
}

// Var(H)/N over couplings and sigma uniform on the sphere. For p = 3 the exact finite-N value
// is 3/N^3 binom(N,3) E[s1^2 s2^2 s3^2] = (N-1)(N-2) / (2 (N+2)(N+4)), which tends to 1/2.
TEST(pspin, normalisation_variance_of_h_over_n_tends_to_one_half) {
    for (const int n : {24, 96}) {
        const int samples = n == 24 ? 3000 : 600;
        double sum2 = 0, sum4 = 0;
        for (int k = 0; k < samples; ++k) {
            const pspin_model m(n, 3, 1000 + k);
            const double h = m.energy(random_on_sphere(n, 50000 + k));
            sum2 += h * h / n;
            sum4 += (h * h / n) * (h * h / n);
        }
        const double mean = sum2 / samples;
        const double se = std::sqrt((sum4 / samples - mean * mean) / samples);
        const double exact = double(n - 1) * (n - 2) / (2.0 * (n + 2) * (n + 4));
        EXPECT_NEAR(mean, exact, 4 * se) << "N = " << n;
        EXPECT_NEAR(exact, 0.5, 5.0 / n); // the finite-N correction is -9/(2N) + O(1/N^2)
    }
}

TEST(pspin, gradient_is_identical_for_one_and_two_threads) {
    const pspin_model m(150, 3, 3);
    const vec s = random_on_sphere(150, 4);
    vec g1, g2;
    omp_set_num_threads(1);
    const double h1 = m.gradient(s, g1);
    omp_set_num_threads(2);
    const double h2 = m.gradient(s, g2);
    EXPECT_EQ(h1, h2);
    EXPECT_TRUE(g1 == g2);
}

TEST(pspin_batch, batched_gradient_equals_single_gradients_to_1e12) {
    // N = 100: binom(100, 3) = 161700 couplings, several blocks of the partition.
    const pspin_model m(100, 3, 11);
    for (int r : {1, 2, 3, 4, 5, 8, 11, 16}) {
        const Eigen::MatrixXd s = random_replicas(100, r, 50);
        Eigen::MatrixXd g;
        const Eigen::VectorXd e = m.gradient_batch(s, g);
        ASSERT_EQ(g.rows(), 100);
        ASSERT_EQ(g.cols(), r);
        ASSERT_EQ(e.size(), r);
        for (int c = 0; c < r; ++c) {
            vec gs;
            const double es = m.gradient(s.col(c), gs);
            // Same sums in another order: agreement to rounding, |dg| <= 1e-12 |g|.
            EXPECT_LE((g.col(c) - gs).norm(), 1e-12 * gs.norm()) << "R = " << r << ", replica " << c;
            EXPECT_NEAR(e[c], es, 1e-12 * std::abs(es)) << "R = " << r << ", replica " << c;
            if (r == 1) {
                EXPECT_EQ(e[c], es); // one column is the single kernel, bit for bit
                EXPECT_TRUE(g.col(c) == gs);
            }
        }
    }
}

TEST(pspin_batch, batched_gradient_is_identical_for_any_thread_count) {
    const pspin_model m(130, 3, 12);
    const Eigen::MatrixXd s = random_replicas(130, 7, 60);
    Eigen::MatrixXd g1, g3;
    omp_set_num_threads(1);
    const Eigen::VectorXd e1 = m.gradient_batch(s, g1);
    omp_set_num_threads(3);
    const Eigen::VectorXd e3 = m.gradient_batch(s, g3);
    omp_set_num_threads(2);
    EXPECT_TRUE(e1 == e3);
    EXPECT_TRUE(g1 == g3);
}

TEST(pspin_batch, generic_p_falls_back_to_single_gradients_and_bad_shapes_throw) {
    const pspin_model m(20, 4, 13);
    const Eigen::MatrixXd s = random_replicas(20, 3, 70);
    Eigen::MatrixXd g;
    const Eigen::VectorXd e = m.gradient_batch(s, g);
    for (int c = 0; c < 3; ++c) {
        vec gs;
        EXPECT_EQ(e[c], m.gradient(s.col(c), gs));
        EXPECT_TRUE(g.col(c) == gs);
    }
    EXPECT_THROW((void)m.gradient_batch(Eigen::MatrixXd(19, 2), g), glassy::parameter_error);
    EXPECT_THROW((void)m.gradient_batch(Eigen::MatrixXd(20, 0), g), glassy::parameter_error);
}

TEST(pspin_float32, couplings_are_the_float64_draws_rounded_and_take_half_the_memory) {
    using glassy::coupling_precision;
    const pspin_model m64(30, 3, 21), m32(30, 3, 21, coupling_precision::float32);
    EXPECT_EQ(m32.precision(), coupling_precision::float32);
    EXPECT_EQ(m32.num_couplings(), m64.num_couplings());
    EXPECT_EQ(2 * m32.coupling_bytes(), m64.coupling_bytes());
    for (const std::vector<int>& c : {std::vector<int>{0, 1, 2}, {3, 17, 29}, {10, 11, 28}})
        EXPECT_EQ(m32.coupling(c), static_cast<double>(static_cast<float>(m64.coupling(c))));
    // Kernels read float, accumulate in double: energy equals the brute-force sum over the
    // stored (rounded) couplings to double rounding.
    const vec s = random_on_sphere(30, 22);
    EXPECT_NEAR(m32.energy(s), brute_energy(m32, s), 1e-12 * std::abs(brute_energy(m32, s)));
    const pspin_model g32(8, 4, 23, coupling_precision::float32); // generic-p kernel
    const vec s8 = random_on_sphere(8, 24);
    EXPECT_NEAR(g32.energy(s8), brute_energy(g32, s8), 1e-12 * std::abs(brute_energy(g32, s8)) + 1e-14);
}

TEST(pspin_float32, gradient_differs_from_float64_by_float_rounding_only) {
    using glassy::coupling_precision;
    const pspin_model m64(120, 3, 25), m32(120, 3, 25, coupling_precision::float32);
    const vec s = random_on_sphere(120, 26);
    vec g64, g32;
    const double e64 = m64.gradient(s, g64), e32 = m32.gradient(s, g32);
    // Each coupling carries a relative error <= 2^-24 = 6e-8 with random sign: the sums agree
    // to about 6e-8 relative; 1e-6 leaves a wide margin, and a kernel reading garbage fails it.
    EXPECT_LE((g32 - g64).norm(), 1e-6 * g64.norm());
    EXPECT_NEAR(e32, e64, 1e-6 * std::abs(e64));
    EXPECT_GT((g32 - g64).norm(), 0.0); // really float storage
    // Batched float32 = single float32 to double rounding, and independent of the threads.
    const Eigen::MatrixXd sb = random_replicas(120, 6, 27);
    Eigen::MatrixXd gb1, gb3;
    omp_set_num_threads(1);
    const Eigen::VectorXd eb1 = m32.gradient_batch(sb, gb1);
    omp_set_num_threads(3);
    const Eigen::VectorXd eb3 = m32.gradient_batch(sb, gb3);
    omp_set_num_threads(2);
    EXPECT_TRUE(gb1 == gb3);
    EXPECT_TRUE(eb1 == eb3);
    for (int c = 0; c < 6; ++c) {
        vec gs;
        const double es = m32.gradient(sb.col(c), gs);
        EXPECT_LE((gb1.col(c) - gs).norm(), 1e-12 * gs.norm());
        EXPECT_NEAR(eb1[c], es, 1e-12 * std::abs(es));
    }
}
