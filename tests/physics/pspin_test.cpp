#include "physics/pspin.hpp"
#include "physics/quench.hpp"

#include <gtest/gtest.h>

#include "support/record_compare.hpp"
#include "support/scratch.hpp"
#include <omp.h>

#include <cmath>
#include <numeric>
#include <random>
#include <filesystem>
#include <unistd.h>

using glassy::pspin_model;
using vec = Eigen::VectorXd;

namespace {

vec random_on_sphere(int n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g;
    vec x(n);
    for (int i = 0; i < n; ++i) x[i] = g(rng);
    return x * (std::sqrt(double(n)) / x.norm());
}

// Brute-force energy from the coupling accessor (independent of the fast kernels).
double brute_energy(const pspin_model& m, const vec& s) {
    const int n = m.size(), p = m.order();
    std::vector<int> c(p);
    std::iota(c.begin(), c.end(), 0);
    double h = 0;
    for (;;) {
        double prod = m.coupling(c);
        for (int v : c) prod *= s[v];
        h -= prod;
        int k = p - 1;
        while (k >= 0 && c[k] == n - p + k) --k;
        if (k < 0) break;
        ++c[k];
        for (int r = k + 1; r < p; ++r) c[r] = c[r - 1] + 1;
    }
    return h;
}

} // namespace

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

// Equilibrium above T_d. In the paramagnet the equilibrium energy per spin is -beta v(N),
// v(N) = E[H^2]/N for sigma uniform on the sphere = (N-1)(N-2)/(2(N+2)(N+4)) (this is
// -1/(2T) up to the finite-N factor; the reweighting of sigma by exp(-beta H) changes it only at
// O(1/N^2)). Tolerance: 4 standard errors of the sample mean of the time averages + 1/N^2 +
// the time-step bias (Heun, dt = 0.02: O(dt^2)).
TEST(equilibrium, energy_at_t1_is_minus_one_half_up_to_finite_n) {
    const int n = 64, samples = 8;
    const double temperature = 1.0;
    const double v = double(n - 1) * (n - 2) / (2.0 * (n + 2) * (n + 4));
    for (const std::string method : {"heun", "metropolis"}) {
        glassy::pspin_quench_parameters par;
        par.n = n;
        par.temperature = temperature;
        par.method = glassy::parse_quench_method(method);
        par.dt = 0.02;
        par.tmax = method == "heun" ? 60 : 400;
        par.samples = samples;
        par.seed = 17;
        par.per_decade = 40;
        par.tw = {1};
        par.theta_max = 1.0;
        const auto rec = glassy::run_pspin_quench(par);
        ASSERT_EQ(rec.energy_samples.rows(), samples);
        std::vector<double> avg(samples, 0.0);
        int count = 0;
        for (std::size_t k = 0; k < rec.time.size(); ++k)
            if (rec.time[k] >= par.tmax / 3) {
                ++count;
                for (int s = 0; s < samples; ++s) avg[s] += rec.energy_samples(s, k);
            }
        ASSERT_GT(count, 5);
        double mean = 0, var = 0;
        for (double& a : avg) mean += (a /= count) / samples;
        for (double a : avg) var += (a - mean) * (a - mean) / (samples - 1);
        const double se = std::sqrt(var / samples);
        const double expected = -v / temperature;
        EXPECT_NEAR(mean, expected, 4 * se + 1.0 / (n * n) + 0.005) << method << " se " << se;
        EXPECT_NEAR(expected, -1 / (2 * temperature), 5.0 / n);
    }
}

TEST(quench, same_seed_same_record_and_thread_count_does_not_matter) {
    glassy::pspin_quench_parameters par;
    par.n = 40;
    par.tmax = 5;
    par.samples = 2;
    omp_set_num_threads(1);
    const auto a = glassy::run_pspin_quench(par);
    omp_set_num_threads(2);
    const auto b = glassy::run_pspin_quench(par);
    EXPECT_EQ(a.energy, b.energy);
    for (Eigen::Index i = 0; i < a.aging.delta.size(); ++i) {
        const double x = a.aging.delta.data()[i], y = b.aging.delta.data()[i];
        EXPECT_TRUE((std::isnan(x) && std::isnan(y)) || x == y);
    }
    par.seed = 2;
    const auto c = glassy::run_pspin_quench(par);
    EXPECT_NE(a.energy.back(), c.energy.back());
}

TEST(quench, delta_is_zero_at_equal_times_and_bounded_by_four) {
    glassy::pspin_quench_parameters par;
    par.n = 32;
    par.tmax = 50;
    par.temperature = 2.0;
    const auto rec = glassy::run_pspin_quench(par);
    ASSERT_EQ(rec.aging.t.front(), 0.0);
    for (Eigen::Index i = 0; i < rec.aging.delta.rows(); ++i) {
        EXPECT_EQ(rec.aging.delta(i, 0), 0.0);
        for (Eigen::Index j = 0; j < rec.aging.delta.cols(); ++j) {
            const double d = rec.aging.delta(i, j);
            if (std::isnan(d)) continue;
            EXPECT_GE(d, 0.0);
            EXPECT_LE(d, 4.0);
        }
    }
    // At T = 2 the system decorrelates: Delta at the longest lag is near 2 (C -> 0).
    EXPECT_NEAR(rec.aging.delta(0, rec.aging.delta.cols() - 2), 2.0, 0.6);
}

// ---- replicas: batched gradient and replica quench ----

namespace {
Eigen::MatrixXd random_replicas(int n, int r, std::uint64_t seed) {
    Eigen::MatrixXd s(n, r);
    for (int c = 0; c < r; ++c) s.col(c) = random_on_sphere(n, seed + static_cast<std::uint64_t>(c));
    return s;
}
} // namespace

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

TEST(quench_replicas, replicas_count_as_samples_and_replica_zero_is_the_single_run) {
    glassy::pspin_quench_parameters par;
    par.n = 40;
    par.tmax = 4;
    par.samples = 2;
    const auto single = glassy::run_pspin_quench(par);
    par.replicas = 3;
    const auto rep = glassy::run_pspin_quench(par);
    ASSERT_EQ(rep.energy_samples.rows(), 6);
    ASSERT_EQ(rep.aging.delta_samples.size(), 6u);
    EXPECT_EQ(rep.parameters.at("replicas"), 3);
    EXPECT_EQ(rep.parameters.at("samples_completed"), 2);
    EXPECT_FALSE(single.parameters.contains("replicas"));
    // Replica 0 of sample s has the single run's seeds; only the summation order of the batched
    // gradient differs (1e-16 relative), amplified by at most e^{O(1) t} over t = 4.
    for (int s = 0; s < 2; ++s) {
        for (Eigen::Index k = 0; k < rep.energy_samples.cols(); ++k)
            EXPECT_NEAR(rep.energy_samples(3 * s, k), single.energy_samples(s, k), 1e-9) << "sample " << s;
        // The other replicas have their own initial conditions: at t = 4 the energies differ by
        // O(N^-1/2) sample-to-sample fluctuations, never by less than 1e-6.
        for (int r = 1; r < 3; ++r)
            EXPECT_GT(std::abs(rep.energy_samples(3 * s + r, 0) - rep.energy_samples(3 * s, 0)), 1e-6);
    }
    // The mean energy is the mean over all n_s = 6 rows.
    const Eigen::Index last = rep.energy_samples.cols() - 1;
    EXPECT_NEAR(rep.energy[static_cast<std::size_t>(last)], rep.energy_samples.col(last).mean(), 1e-14);
}

TEST(quench_replicas, thread_count_does_not_matter_with_replicas) {
    glassy::pspin_quench_parameters par;
    par.n = 100;
    par.tmax = 2;
    par.replicas = 5;
    par.method = glassy::quench_method::heun;
    omp_set_num_threads(1);
    const auto a = glassy::run_pspin_quench(par);
    omp_set_num_threads(2);
    const auto b = glassy::run_pspin_quench(par);
    EXPECT_EQ(a.energy, b.energy);
    EXPECT_TRUE(glassy::test::same(a.energy_samples, b.energy_samples));
}

TEST(quench_replicas, interrupted_and_resumed_replica_run_is_bit_identical) {
    const auto dir = glassy::test::scratch_dir("replica_ckpt");
    for (const std::string method : {"langevin", "heun", "metropolis"}) {
        glassy::pspin_quench_parameters par;
        par.n = 24;
        par.tmax = 20;
        par.samples = 2;
        par.replicas = 3;
        par.method = glassy::parse_quench_method(method);
        const auto full = glassy::run_pspin_quench(par);
        // Stop in the middle of sample 1 (hooks.stop is asked per step of the current sample).
        glassy::quench_control control;
        control.checkpoint_path = dir / (method + ".ckpt");
        glassy::run_hooks hooks;
        int calls = 0;
        const int stop_after = method == "metropolis" ? 20 + 7 : 400 + 123;
        hooks.stop = [&](std::int64_t) { return ++calls > stop_after; };
        const auto partial = glassy::run_pspin_quench(par, hooks, control);
        ASSERT_FALSE(partial.complete) << method;
        const glassy::checkpoint saved = glassy::read_checkpoint(control.checkpoint_path);
        EXPECT_EQ(saved.integer("sample"), 1) << method;
        glassy::quench_control resume;
        resume.checkpoint_path = control.checkpoint_path;
        resume.resume = &saved;
        const auto resumed = glassy::run_pspin_quench(par, {}, resume);
        ASSERT_TRUE(resumed.complete) << method;
        EXPECT_EQ(resumed.energy, full.energy) << method;
        EXPECT_TRUE(glassy::test::same(resumed.energy_samples, full.energy_samples)) << method;
        ASSERT_EQ(resumed.aging.delta_samples.size(), 6u);
        for (std::size_t k = 0; k < 6; ++k) EXPECT_TRUE(glassy::test::same(resumed.aging.delta_samples[k], full.aging.delta_samples[k])) << method;
        if (method == "metropolis") {
            EXPECT_EQ(resumed.observables.at("acceptance"), full.observables.at("acceptance"));
        }
    }
    std::filesystem::remove_all(dir);
}

// ---- float32 couplings ----

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

TEST(quench_float32, float32_run_is_close_to_float64_and_recorded) {
    glassy::pspin_quench_parameters par;
    par.n = 40;
    par.tmax = 2;
    par.replicas = 2;
    const auto a = glassy::run_pspin_quench(par);
    par.couplings = glassy::coupling_precision::float32;
    const auto b = glassy::run_pspin_quench(par);
    EXPECT_EQ(b.parameters.at("couplings"), "float32");
    EXPECT_FALSE(a.parameters.contains("couplings"));
    // Couplings perturbed by 6e-8 relative, same noise: trajectories agree to ~1e-7 e^{O(t)}.
    EXPECT_NEAR(a.energy.back(), b.energy.back(), 1e-5);
    EXPECT_NE(a.energy.back(), b.energy.back());
    EXPECT_THROW((void)glassy::parse_coupling_precision("float16"), glassy::field_error);
}
