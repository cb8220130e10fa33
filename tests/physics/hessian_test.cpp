// The Riemannian Hessian of the spherical p-spin (physics/hessian.hpp): the fast p = 3 Euclidean
// Hessian against brute force, the tangent spectrum against the projected matrix and against
// second differences along geodesics, the exact trace identity of the pure model, the summary of a
// spectrum, the semicircle law of the index, and the --hessian measurement in a quench.
#include "dynamics/error.hpp"
#include "physics/hessian.hpp"
#include "physics/quench.hpp"

#include <gtest/gtest.h>

#include "support/record_compare.hpp"
#include "support/scratch.hpp"
#include "tests/physics/pspin_support.hpp"
#include "tests/physics/quench_support.hpp"
#include <Eigen/Eigenvalues>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>
#include <numeric>
#include <random>

namespace {

using glassy::pspin_model;
using glassy::test::random_on_sphere;
using vec = Eigen::VectorXd;
using mat = Eigen::MatrixXd;

// Brute-force Euclidean Hessian from the coupling accessor: d^2/ds_a ds_b of -sum J prod s over
// every tuple, independent of both kernels.
mat brute_hessian(const pspin_model& m, const vec& s) {
    const int n = m.size(), p = m.order();
    mat h = mat::Zero(n, n);
    std::vector<int> c(static_cast<std::size_t>(p));
    std::iota(c.begin(), c.end(), 0);
    for (;;) {
        const double j = m.coupling(c);
        for (int a = 0; a < p; ++a)
            for (int b = 0; b < p; ++b) {
                if (a == b) continue;
                double prod = -j;
                for (int r = 0; r < p; ++r)
                    if (r != a && r != b) prod *= s[c[static_cast<std::size_t>(r)]];
                h(c[static_cast<std::size_t>(a)], c[static_cast<std::size_t>(b)]) += prod;
            }
        int k = p - 1;
        while (k >= 0 && c[static_cast<std::size_t>(k)] == n - p + k) --k;
        if (k < 0) break;
        ++c[static_cast<std::size_t>(k)];
        for (int r = k + 1; r < p; ++r) c[static_cast<std::size_t>(r)] = c[static_cast<std::size_t>(r) - 1] + 1;
    }
    return h;
}

class hessian_orders : public ::testing::TestWithParam<int> {};

TEST_P(hessian_orders, euclidean_hessian_matches_brute_force_with_a_zero_diagonal) {
    const int p = GetParam(), n = 13;
    for (const auto precision : {glassy::coupling_precision::float64, glassy::coupling_precision::float32}) {
        const pspin_model m(n, p, 21, precision);
        const vec s = random_on_sphere(n, 4);
        const mat h = m.hessian(s);
        EXPECT_LT((h - brute_hessian(m, s)).cwiseAbs().maxCoeff(), 1e-13); // rounding of ~N terms of O(1)
        EXPECT_EQ(h.diagonal().cwiseAbs().maxCoeff(), 0.0);                // H is linear in each spin
        EXPECT_EQ((h - h.transpose()).cwiseAbs().maxCoeff(), 0.0);
    }
}

// The spectrum in the Householder basis is the projected N x N matrix's without its radial zero mode.
TEST_P(hessian_orders, tangent_spectrum_is_the_projected_spectrum_without_the_radial_zero) {
    const int p = GetParam(), n = 9;
    const pspin_model m(n, p, 11);
    const vec s = random_on_sphere(n, 5);
    const vec spectrum = glassy::tangent_spectrum(m, s);
    ASSERT_EQ(spectrum.size(), n - 1);
    EXPECT_TRUE(std::is_sorted(spectrum.data(), spectrum.data() + spectrum.size()));
    const Eigen::SelfAdjointEigenSolver<mat> projected(m.tangent_hessian(s), Eigen::EigenvaluesOnly);
    std::vector<double> with_zero(spectrum.data(), spectrum.data() + spectrum.size());
    with_zero.push_back(0.0);
    std::sort(with_zero.begin(), with_zero.end());
    for (int i = 0; i < n; ++i) EXPECT_NEAR(projected.eigenvalues()[i], with_zero[static_cast<std::size_t>(i)], 1e-12);
    const mat b = glassy::tangent_basis(s);
    EXPECT_LT((b.transpose() * b - mat::Identity(n - 1, n - 1)).norm(), 1e-14); // orthonormal
    EXPECT_LT((b.transpose() * s).norm(), 1e-13);                               // tangent
}

// Every eigenvalue of the full-spectrum path is the second derivative of H along the geodesic
// through sigma whose velocity is its eigenvector (mapped out of the tangent basis).
TEST_P(hessian_orders, every_eigenvalue_is_a_second_difference_along_its_geodesic) {
    const int p = GetParam(), n = 9;
    const pspin_model m(n, p, 17);
    const vec s = random_on_sphere(n, 6);
    const Eigen::SelfAdjointEigenSolver<mat> solver(glassy::tangent_hessian_matrix(m, s));
    const vec spectrum = glassy::tangent_spectrum(m, s);
    const mat b = glassy::tangent_basis(s);
    const double r = std::sqrt(double(n));
    for (int k = 0; k < n - 1; ++k) {
        EXPECT_NEAR(solver.eigenvalues()[k], spectrum[k], 1e-13);
        const vec u = b * solver.eigenvectors().col(k); // unit tangent vector
        auto geo = [&](double t) { return vec(std::cos(t / r) * s + r * std::sin(t / r) * u); };
        const double eps = 1e-4;
        const double fd = (m.energy(geo(eps)) - 2 * m.energy(s) + m.energy(geo(-eps))) / (eps * eps);
        EXPECT_NEAR(spectrum[k], fd, 1e-5) << "eigenvalue " << k; // O(eps^2) truncation + 1e-16/eps^2 rounding
    }
}

// Trace identity (docs/physics.md, "Hessian"): Tr Hess = -p H (N + p - 2) / N for the pure model.
TEST_P(hessian_orders, trace_identity_of_the_pure_model) {
    const int p = GetParam();
    for (const int n : {9, 40}) {
        const pspin_model m(n, p, 23);
        for (std::uint64_t seed = 1; seed <= 3; ++seed) {
            const vec s = random_on_sphere(n, seed);
            const double h = m.energy(s);
            const double trace = glassy::tangent_spectrum(m, s).sum();
            EXPECT_NEAR(trace, -p * h * (n + p - 2) / n, 1e-10) << "N = " << n;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(p, hessian_orders, ::testing::Values(2, 3, 4));

TEST(hessian, p3_hessian_does_not_depend_on_the_thread_count) {
    const pspin_model m(150, 3, 5);
    const vec s = random_on_sphere(150, 8);
    omp_set_num_threads(1);
    const mat a = m.hessian(s);
    omp_set_num_threads(2);
    const mat b = m.hessian(s);
    EXPECT_EQ((a - b).cwiseAbs().maxCoeff(), 0.0);
}

TEST(hessian, summary_counts_fractions_top_trace_and_a_normalised_density) {
    vec l(6);
    l << -2.0, -1e-4, 0.0, 5e-4, 1.5, 4.0;
    const glassy::spectral_grid grid{-3.0, 5.0, 8};              // unit bins
    const auto s = glassy::summarize_spectrum(l, 1e-3, 3, grid); // flat: |l| <= 1e-3 max|l| = 4e-3
    EXPECT_DOUBLE_EQ(s.negative_fraction, 2.0 / 6);
    EXPECT_DOUBLE_EQ(s.flat_fraction, 3.0 / 6); // -1e-4, 0, 5e-4
    EXPECT_DOUBLE_EQ(s.trace, -2.0 - 1e-4 + 5e-4 + 1.5 + 4.0);
    EXPECT_EQ(s.top, (std::vector<double>{4.0, 1.5, 5e-4}));
    ASSERT_EQ(s.density.size(), 8u);
    EXPECT_DOUBLE_EQ(std::accumulate(s.density.begin(), s.density.end(), 0.0) * grid.width(), 1.0);
    EXPECT_DOUBLE_EQ(s.density[1], 1.0 / 6);                                 // -2 in [-2, -1)
    EXPECT_DOUBLE_EQ(s.density[2], 1.0 / 6);                                 // -1e-4 in [-1, 0)
    EXPECT_DOUBLE_EQ(s.density[3], 2.0 / 6);                                 // 0, 5e-4 in [0, 1)
    EXPECT_EQ(glassy::summarize_spectrum(l, 1e-3, 50, grid).top.size(), 6u); // k = min(k, n)
}

// F(x) against a numerical integral of the semicircle density (2 / (pi R^2)) sqrt(R^2 - x^2).
TEST(hessian, semicircle_index_is_the_mass_below_zero) {
    for (const int p : {2, 3, 4}) {
        const double r = glassy::semicircle_radius(p);
        EXPECT_NEAR(r, 2 * std::sqrt(p * (p - 1) / 2.0), 1e-15);
        EXPECT_DOUBLE_EQ(glassy::semicircle_negative_fraction(p, 0.0), 0.5);
        EXPECT_DOUBLE_EQ(glassy::semicircle_negative_fraction(p, -r / p), 0.0); // threshold energy
        EXPECT_DOUBLE_EQ(glassy::semicircle_negative_fraction(p, -1.5 * r / p), 0.0);
        for (const double e : {-0.9 * r / p, -0.3 * r / p, 0.2 * r / p}) {
            const double c = -p * e; // centre
            const int steps = 200000;
            double mass = 0;
            for (int i = 0; i < steps; ++i) { // midpoint rule over [c - r, min(0, c + r)]
                const double lo = c - r, hi = std::min(0.0, c + r);
                if (hi <= lo) break;
                const double x = lo + (i + 0.5) * (hi - lo) / steps - c;
                mass += 2 / (std::numbers::pi * r * r) * std::sqrt(r * r - x * x) * (hi - lo) / steps;
            }
            EXPECT_NEAR(glassy::semicircle_negative_fraction(p, e), mass, 1e-6) << "p = " << p << ", e = " << e;
        }
    }
}

TEST(hessian, recorder_saves_and_restores_its_rows) {
    const pspin_model m(12, 3, 2);
    glassy::hessian_recorder rec;
    rec(m, random_on_sphere(12, 1), 0, 0.0);
    rec(m, random_on_sphere(12, 2), 7, 0.35);
    glassy::checkpoint c;
    rec.save(c, "x/");
    glassy::hessian_recorder back;
    back.restore(c, "x/", 12);
    EXPECT_EQ(back.times(), rec.times());
    EXPECT_TRUE(glassy::test::same(back.spectra(), rec.spectra()));
    EXPECT_EQ(back.spectra().rows(), 2);
    EXPECT_EQ(back.spectra().cols(), 11);
    EXPECT_THROW(back.restore(c, "x/", 13), glassy::record_error);
    glassy::checkpoint empty;
    back.restore(empty, "x/", 12); // nothing saved: no rows
    EXPECT_EQ(back.spectra().rows(), 0);
}

glassy::pspin_quench_parameters small_quench() {
    glassy::pspin_quench_parameters par;
    par.n = 40;
    par.tmax = 20;
    par.samples = 2;
    par.replicas = 2;
    return par;
}

// The measurement only reads the state: energies, Delta and every other dataset are unchanged, also
// with a denser Hessian schedule (steps the other observers do not have).
TEST(hessian_quench, measuring_the_hessian_does_not_change_the_run) {
    auto par = small_quench();
    const auto bare = glassy::run_pspin_quench(par);
    par.hessian = true;
    par.hessian_per_decade = 7;
    auto with = glassy::run_pspin_quench(par);
    ASSERT_GT(with.extra.count("hessian/spectrum"), 0u);
    std::erase_if(with.extra, [](const auto& kv) { return kv.first.rfind("hessian/", 0) == 0; });
    for (const char* key : {"hessian", "hessian_per_decade", "hessian_top", "flat_epsilon"}) {
        EXPECT_TRUE(with.parameters.contains(key)) << key;
        with.parameters.erase(key);
    }
    glassy::test::expect_identical_records(bare, with);
}

TEST(hessian_quench, record_holds_every_dataset_with_its_shape) {
    auto par = small_quench();
    par.hessian = true;
    par.hessian_top = 5;
    const auto rec = glassy::run_pspin_quench(par);
    const auto tw = glassy::hessian_steps(par).steps();
    const std::uint64_t nh = tw.size(), ns = 4, k = 5, ng = 128, n1 = 39;
    const auto shape = [&](const std::string& name) { return rec.extra.at("hessian/" + name).shape; };
    EXPECT_EQ(shape("t"), (std::vector<std::uint64_t>{nh}));
    EXPECT_EQ(shape("top"), (std::vector<std::uint64_t>{nh, k}));
    EXPECT_EQ(shape("top_samples"), (std::vector<std::uint64_t>{ns, nh, k}));
    EXPECT_EQ(shape("spectrum"), (std::vector<std::uint64_t>{ns, nh, n1}));
    EXPECT_EQ(shape("density_grid"), (std::vector<std::uint64_t>{ng}));
    EXPECT_EQ(shape("density"), (std::vector<std::uint64_t>{nh, ng}));
    for (const char* name : {"negative_fraction", "flat_fraction", "trace"}) {
        EXPECT_EQ(shape(name), (std::vector<std::uint64_t>{nh})) << name;
        EXPECT_EQ(shape(std::string(name) + "_samples"), (std::vector<std::uint64_t>{ns, nh})) << name;
    }
    for (std::size_t h = 0; h < nh; ++h) EXPECT_DOUBLE_EQ(rec.extra.at("hessian/t").data[h], 0.05 * tw[h]);
    // The sample mean of the trace is the mean of the per-sample traces, each the identity's value.
    const auto& density = rec.extra.at("hessian/density").data;
    for (std::size_t h = 0; h < nh; ++h) {
        double integral = 0;
        for (std::size_t g = 0; g < ng; ++g) integral += density[h * ng + g];
        EXPECT_NEAR(integral * glassy::hessian_grid(3).width(), 1.0, 1e-12) << "time " << h; // all on the grid
        const double top0 = rec.extra.at("hessian/top").data[h * k];
        EXPECT_GE(top0, rec.extra.at("hessian/top").data[h * k + 1]); // largest first
    }
}

// Large N: the index of a T = 0 quench follows the semicircle law at the measured energy.
// N = 512, one sample: at each time |n_neg - (N - 1) F(p e / R)| <= 6 eigenvalues (docs/physics.md,
// "Hessian": counting fluctuations of a GOE, std ~ sqrt(2 ln N) / pi ~ 1.6, plus O(1) finite-N
// corrections of the edge and of the centre, -p e (N + p - 2)/(N - 1) instead of -p e).
TEST(hessian_quench, index_of_a_zero_temperature_quench_follows_the_semicircle) {
    glassy::pspin_quench_parameters par;
    par.n = 512;
    par.temperature = 0;
    par.tmax = 5;
    par.tw = {0, 0.5, 1, 2, 5};
    par.hessian = true;
    par.seed = 3;
    const auto rec = glassy::run_pspin_quench(par);
    const auto& t = rec.extra.at("hessian/t").data;
    const auto& index = rec.extra.at("hessian/negative_fraction").data;
    ASSERT_EQ(t.size(), 5u);
    for (std::size_t h = 0; h < t.size(); ++h) {
        const auto at = std::find(rec.time.begin(), rec.time.end(), t[h]);
        ASSERT_NE(at, rec.time.end());
        const double e = rec.energy[static_cast<std::size_t>(at - rec.time.begin())];
        const double predicted = glassy::semicircle_negative_fraction(3, e);
        EXPECT_NEAR(index[h] * 511, predicted * 511, 6.0) << "t = " << t[h] << ", e = " << e;
    }
    EXPECT_LT(index.back(), index.front()); // the index falls as the energy does
}

} // namespace

namespace {

// Stopped in the middle of sample 1 (spectra of sample 0 done, some of sample 1 measured) and
// resumed from the checkpoint: the record is the uninterrupted one, /hessian included.
TEST(hessian_quench, interrupted_and_resumed_run_is_bit_identical) {
    const auto dir = glassy::test::scratch_dir("hessian_ckpt");
    for (const auto method : {glassy::quench_method::langevin, glassy::quench_method::metropolis}) {
        auto par = small_quench();
        par.method = method;
        par.hessian = true;
        par.hessian_per_decade = 5;
        const auto full = glassy::run_pspin_quench(par);
        const int stop_after = method == glassy::quench_method::metropolis ? 20 + 7 : 400 + 123;
        const auto saved = glassy::test::interrupted_quench(par, stop_after, dir / "h.ckpt");
        EXPECT_EQ(saved.integer("sample"), 1);
        EXPECT_GT(saved.arrays.count("hessian/spectrum"), 0u); // sample 1 had measured spectra
        glassy::test::expect_resumes_to(par, saved, full);
    }
    std::filesystem::remove_all(dir);
}

} // namespace
