// Hessian spectra of a network's training loss (nets/hessian.hpp, issue 13): the Hessian-vector
// product against finite differences of gradients; Spectra's top-k, Hutchinson's trace and the SLQ
// distribution against the dense eigendecomposition of the exact Hessian (built column by column
// from products) of a small float64 network; and in net_quench: same seed -> same record, the
// trajectory unchanged by the measurement, resume bit-identical, bad input refused in one line.
#include "nets/hessian.hpp"
#include "nets/quench.hpp"
#include "nets_support.hpp"
#include "support/record_compare.hpp"
#include "support/run_command.hpp"
#include "support/scratch.hpp"

#include <Eigen/Eigenvalues>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numbers>
#include <numeric>
#include <random>

namespace glassy::nets {
namespace {

// The toy model (ReLU hidden layer, sigmoid outputs, MSE) on 6 x 6 synthetic images, h = 15:
// M = 36*15 + 15 + 15*10 + 10 = 715 weights, float64, on 200 samples.
struct small_problem {
    dataset_pair data = testing::small_data(200, 10, 1, 6);
    std::unique_ptr<network_system> sys = testing::make_system(model_kind::toy, data, torch::kFloat64, 15);
    std::vector<std::int64_t> samples = all_samples(200);

    static std::vector<std::int64_t> all_samples(std::int64_t n) {
        std::vector<std::int64_t> s(static_cast<std::size_t>(n));
        std::iota(s.begin(), s.end(), std::int64_t{0});
        return s;
    }
};

/// Adds `step` * v to the weights (parameters() order).
void shift_weights(const network_system& sys, const Eigen::VectorXd& v, double step) {
    torch::NoGradGuard no_grad;
    Eigen::Index offset = 0;
    for (auto& p : sys.model().parameters()) {
        const torch::Tensor d =
            torch::from_blob(const_cast<double*>(v.data() + offset), p.sizes(), torch::kFloat64).clone();
        p.add_(d, step);
        offset += p.numel();
    }
}

Eigen::VectorXd unit_random(Eigen::Index n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    Eigen::VectorXd v(n);
    for (Eigen::Index i = 0; i < n; ++i) v[i] = normal(rng);
    return v.normalized();
}

TEST(hessian, product_matches_a_central_difference_of_gradients) {
    small_problem p;
    const Eigen::VectorXd v = unit_random(715, 5);
    Eigen::VectorXd hv;
    {
        const loss_hessian h(*p.sys, p.samples);
        ASSERT_EQ(h.size(), 715);
        hv = h.product(v);
    }
    // (g(w + e v) - g(w - e v)) / 2e = H v + O(e^2): with e = 1e-5 the truncation (~1e-10 |H v|) and
    // the rounding (2^-53 |g| / e ~ 1e-11) lie far below the tolerance.
    const double e = 1e-5;
    shift_weights(*p.sys, v, e);
    const Eigen::VectorXd plus = loss_hessian(*p.sys, p.samples).gradient();
    shift_weights(*p.sys, v, -2 * e);
    const Eigen::VectorXd minus = loss_hessian(*p.sys, p.samples).gradient();
    const Eigen::VectorXd fd = (plus - minus) / (2 * e);
    ASSERT_GT(hv.norm(), 0.0);
    EXPECT_LT((fd - hv).norm(), 1e-6 * hv.norm()) << "|H v| = " << hv.norm();
}

/// The exact Hessian (column j = H e_j, before symmetrisation) and its eigenvalues (ascending), and
/// the operator of the products; built once per process (it takes M products) and only read.
struct exact_spectrum {
    small_problem p;
    loss_hessian h{*p.sys, p.samples};
    Eigen::MatrixXd raw = columns();
    Eigen::MatrixXd dense = 0.5 * (raw + raw.transpose());
    Eigen::VectorXd eigenvalues = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(dense).eigenvalues();
    linear_operator op = [this](const double* x, double* y) { h.product(x, y); };

    Eigen::MatrixXd columns() const {
        Eigen::MatrixXd a(h.size(), h.size());
        for (Eigen::Index j = 0; j < h.size(); ++j) a.col(j) = h.product(Eigen::VectorXd::Unit(h.size(), j));
        return a;
    }
    static const exact_spectrum& get() {
        static const exact_spectrum e;
        return e;
    }
};

TEST(hessian, spectra_top_k_matches_the_dense_eigendecomposition) {
    const exact_spectrum& e = exact_spectrum::get();
    const auto n = e.h.size();
    const eigenpairs pairs = top_eigenpairs(e.op, n, 20, 1e-10);
    const std::vector<double>& top = pairs.values;
    ASSERT_EQ(top.size(), 20u);
    for (std::size_t j = 0; j < top.size(); ++j) {
        const double exact = e.eigenvalues[n - 1 - static_cast<Eigen::Index>(j)];
        EXPECT_NEAR(top[j], exact, 1e-6 * std::abs(exact)) << "eigenvalue " << j;
    }
    // Started from the top Ritz vectors of one SLQ run (as measure_hessian does): the same values
    // in fewer products.
    Eigen::VectorXd start;
    Eigen::VectorXd z(n);
    std::mt19937_64 rng(3);
    for (Eigen::Index i = 0; i < n; ++i) z[i] = (rng() >> 63) != 0 ? 1.0 : -1.0;
    (void)lanczos_quadrature(e.op, n, z, hessian_settings{}.slq_steps, 20, &start);
    const eigenpairs warm = top_eigenpairs(e.op, n, 20, 1e-10, &start);
    for (std::size_t j = 0; j < top.size(); ++j) {
        const double exact = e.eigenvalues[n - 1 - static_cast<Eigen::Index>(j)];
        EXPECT_NEAR(warm.values[j], exact, 1e-6 * std::abs(exact)) << "eigenvalue " << j << ", warm start";
    }
    std::printf("Spectra top 20: %lld products from its own start, %lld from the SLQ Ritz vectors\n",
                static_cast<long long>(pairs.products), static_cast<long long>(warm.products));
    EXPECT_LT(warm.products, pairs.products);
    // The products are symmetric to rounding (the raw columns, before symmetrisation).
    EXPECT_LT((e.raw - e.raw.transpose()).norm(), 1e-10 * e.raw.norm());
}

TEST(hessian, hutchinson_trace_is_within_four_standard_errors) {
    const exact_spectrum& e = exact_spectrum::get();
    const double exact = e.dense.trace();
    const trace_estimate t = hutchinson_trace(e.op, e.h.size(), 100, 42);
    ASSERT_GT(t.error, 0.0);
    EXPECT_LT(std::abs(t.trace - exact), 4 * t.error) << "exact " << exact << ", estimate " << t.trace;
    // The standard error itself: the variance of z^T A z over Rademacher z is
    // 2 (|A|_F^2 - sum_i A_ii^2); the estimated error of 100 draws lies within a factor 2 of it.
    const double var = 2 * (e.dense.squaredNorm() - e.dense.diagonal().squaredNorm());
    const double theory = std::sqrt(var / 100.0);
    EXPECT_GT(t.error, 0.5 * theory);
    EXPECT_LT(t.error, 2.0 * theory);
}

TEST(hessian, deflated_trace_is_within_four_standard_errors_and_tighter) {
    const exact_spectrum& e = exact_spectrum::get();
    const double exact = e.dense.trace();
    const eigenpairs top = top_eigenpairs(e.op, e.h.size(), 20, 1e-10);
    ASSERT_EQ(top.vectors.cols(), 20);
    const trace_estimate plain = hutchinson_trace(e.op, e.h.size(), 100, 42);
    const trace_estimate t = hutchinson_trace(e.op, e.h.size(), 100, 42, &top);
    EXPECT_LT(std::abs(t.trace - exact), 4 * t.error) << "exact " << exact << ", estimate " << t.trace;
    // Its standard error against the theory for A' = H - sum_j theta_j u_j u_j^T (factor 2), and
    // below the plain estimator's on the same vectors (the outliers' theta_j^2 leave |A|_F^2).
    Eigen::MatrixXd deflated = e.dense;
    for (Eigen::Index j = 0; j < 20; ++j)
        deflated -= top.values[static_cast<std::size_t>(j)] * top.vectors.col(j) * top.vectors.col(j).transpose();
    const double theory = std::sqrt(2 * (deflated.squaredNorm() - deflated.diagonal().squaredNorm()) / 100.0);
    EXPECT_GT(t.error, 0.5 * theory);
    EXPECT_LT(t.error, 2.0 * theory);
    std::printf("trace standard error: plain %.4g, deflated by the top 20 %.4g (theory %.4g)\n", plain.error, t.error,
                theory);
    EXPECT_LT(t.error, plain.error);
}

/// sup_x |F_a(x) - F_b(x)| of two discrete distributions (points with weights summing to 1).
double kolmogorov_smirnov(std::vector<std::pair<double, double>> a, std::vector<std::pair<double, double>> b) {
    std::vector<double> xs;
    for (const auto& [x, w] : a) xs.push_back(x);
    for (const auto& [x, w] : b) xs.push_back(x);
    std::sort(xs.begin(), xs.end());
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    double fa = 0, fb = 0, d = 0;
    std::size_t i = 0, j = 0;
    for (const double x : xs) { // F at x (right-continuous): every point <= x counted
        while (i < a.size() && a[i].first <= x) fa += a[i++].second;
        while (j < b.size() && b[j].first <= x) fb += b[j++].second;
        d = std::max(d, std::abs(fa - fb));
    }
    return d;
}

/// SLQ with `starts` Rademacher starts of `steps` Lanczos steps each.
std::vector<gauss_quadrature> slq(const exact_spectrum& e, int starts, std::int64_t steps) {
    std::mt19937_64 rng(9);
    std::vector<gauss_quadrature> q;
    for (int v = 0; v < starts; ++v) {
        Eigen::VectorXd z(e.h.size());
        for (Eigen::Index i = 0; i < z.size(); ++i) z[i] = (rng() >> 63) != 0 ? 1.0 : -1.0;
        q.push_back(lanczos_quadrature(e.op, e.h.size(), z, steps));
    }
    return q;
}

/// The SLQ distribution (the mean of the quadratures) and the exact spectrum as weighted points.
std::pair<std::vector<std::pair<double, double>>, std::vector<std::pair<double, double>>>
distributions(const exact_spectrum& e, const std::vector<gauss_quadrature>& q) {
    std::vector<std::pair<double, double>> a, b;
    for (const auto& quad : q)
        for (std::size_t j = 0; j < quad.nodes.size(); ++j)
            a.emplace_back(quad.nodes[j], quad.weights[j] / static_cast<double>(q.size()));
    for (Eigen::Index i = 0; i < e.eigenvalues.size(); ++i)
        b.emplace_back(e.eigenvalues[i], 1.0 / static_cast<double>(e.eigenvalues.size()));
    return {a, b};
}

double ks_of(const exact_spectrum& e, const std::vector<gauss_quadrature>& q) {
    auto [a, b] = distributions(e, q);
    return kolmogorov_smirnov(std::move(a), std::move(b));
}

/// sup_x |F_a * N(0, sigma^2) - F_b * N(0, sigma^2)|: both distribution functions smoothed by the
/// record's Gaussian (hessian_series::write), on 20001 points spanning both +- 6 sigma. The grid
/// misses the sup by at most max density x spacing <= (1 / (sigma sqrt(2 pi))) x spacing < 0.002.
double smoothed_ks(const exact_spectrum& e, const std::vector<gauss_quadrature>& q, double sigma) {
    const auto [a, b] = distributions(e, q);
    const double lo = e.eigenvalues[0] - 6 * sigma, hi = e.eigenvalues[e.eigenvalues.size() - 1] + 6 * sigma;
    const auto cdf = [sigma](const std::vector<std::pair<double, double>>& pts, double x) {
        double f = 0;
        for (const auto& [p, w] : pts) f += w * 0.5 * std::erfc((p - x) / (sigma * std::numbers::sqrt2));
        return f;
    };
    double d = 0;
    for (int g = 0; g <= 20000; ++g) {
        const double x = lo + (hi - lo) * g / 20000.0;
        d = std::max(d, std::abs(cdf(a, x) - cdf(b, x)));
    }
    return d;
}

// What SLQ resolves. An m-node Gauss quadrature's distribution function can be off by up to the
// weight of a node wherever the spectrum piles up within a node spacing (Chebyshev-Markov-Stieltjes
// inequalities); the spacing is ~ pi (lambda_max - lambda_min) / (2m) inside the spectrum for ANY
// number of starts. This network's spectrum has 57 % of its weight within 1e-2 max|lambda| of 0, so
// the step-function KS distance needs m comparable to M (0.036 at m = 300 of M = 715: asserted below
// as the convergence check), which no affordable m reaches at M = 38,390. At the resolution the
// estimator and the record have — the Gaussian smoothing of /hessian/density, sigma = range / 100 —
// the default settings meet 0.05: that is the accuracy statement asserted at the defaults.
TEST(hessian, slq_distribution_is_within_ks_005_of_the_exact_spectrum) {
    const exact_spectrum& e = exact_spectrum::get();
    const auto n = e.h.size();
    const hessian_settings defaults;
    const std::vector<gauss_quadrature> d = slq(e, static_cast<int>(defaults.slq_vectors), defaults.slq_steps);
    double lo = e.eigenvalues[n - 1], hi = lo; // the record's grid: every node and the top eigenvalue
    for (const auto& quad : d)
        for (const double x : quad.nodes) {
            lo = std::min(lo, x);
            hi = std::max(hi, x);
        }
    const double sigma = (hi - lo) / 100.0;
    const double smoothed = smoothed_ks(e, d, sigma), step_default = ks_of(e, d);
    const std::vector<gauss_quadrature> q = slq(e, 4, 300);
    const double step300 = ks_of(e, q);
    std::printf("SLQ Kolmogorov-Smirnov distance: defaults (%lld starts x %lld steps) smoothed by sigma = range/100: "
                "%.3f, step functions: %.3f; 4 starts x 300 steps, step functions: %.3f\n",
                static_cast<long long>(defaults.slq_vectors), static_cast<long long>(defaults.slq_steps), smoothed,
                step_default, step300);
    EXPECT_LT(smoothed, 0.05);
    EXPECT_LT(step300, 0.05);
    EXPECT_LT(step300, step_default);
    // The fractions read from it against the exact counts (same band, from the exact max|lambda|).
    const double scale = std::max(std::abs(e.eigenvalues[0]), std::abs(e.eigenvalues[n - 1]));
    const spectral_fractions f = fractions(q, e.eigenvalues[n - 1], 1e-3);
    const spectral_fractions fd = fractions(d, e.eigenvalues[n - 1], 1e-3);
    EXPECT_NEAR(f.scale, scale, 1e-6 * scale); // the extreme Ritz values converge first
    double negative = 0, flat = 0;
    for (Eigen::Index i = 0; i < n; ++i) {
        negative += e.eigenvalues[i] < -1e-3 * scale;
        flat += std::abs(e.eigenvalues[i]) <= 1e-3 * scale;
    }
    std::printf("fractions: negative %.3f (defaults %.3f, exact %.3f), flat %.3f (defaults %.3f, exact %.3f)\n",
                f.negative, fd.negative, negative / static_cast<double>(n), f.flat, fd.flat,
                flat / static_cast<double>(n));
    EXPECT_NEAR(f.negative, negative / static_cast<double>(n), 0.05);
    EXPECT_NEAR(f.flat, flat / static_cast<double>(n), 0.05);
}

// Lanczos run to n steps on a diagonal matrix is exact: the nodes are the eigenvalues and the
// weights the squared components of the normalised start vector.
TEST(hessian, lanczos_quadrature_is_exact_on_a_full_krylov_space) {
    const int n = 40;
    const linear_operator diag = [](const double* x, double* y) {
        for (int i = 0; i < n; ++i) y[i] = (i + 1.0) * x[i];
    };
    Eigen::VectorXd v(n);
    for (int i = 0; i < n; ++i) v[i] = 1.0 + 0.1 * i;
    const gauss_quadrature q = lanczos_quadrature(diag, n, v, n);
    ASSERT_EQ(q.nodes.size(), static_cast<std::size_t>(n));
    const Eigen::VectorXd u = v.normalized();
    for (int i = 0; i < n; ++i) {
        EXPECT_NEAR(q.nodes[static_cast<std::size_t>(i)], i + 1.0, 1e-9);
        EXPECT_NEAR(q.weights[static_cast<std::size_t>(i)], u[i] * u[i], 1e-9);
    }
    // k = n takes the dense path, k < n - 1 Spectra's; both give n, n-1, ...
    const auto all = top_eigenpairs(diag, n, n).values;
    const auto three = top_eigenpairs(diag, n, 3, 1e-12).values;
    for (int j = 0; j < n; ++j) EXPECT_NEAR(all[static_cast<std::size_t>(j)], n - j, 1e-9);
    for (int j = 0; j < 3; ++j) EXPECT_NEAR(three[static_cast<std::size_t>(j)], n - j, 1e-9);
    // The smoothed density integrates to 1 (trapezoid on a grid covering 10 sigma beyond the nodes).
    std::vector<double> grid;
    for (int g = 0; g <= 2000; ++g) grid.push_back(-5.0 + 0.025 * g);
    const auto rho = smoothed_density({q}, grid, 0.5);
    double integral = 0;
    for (std::size_t g = 1; g < grid.size(); ++g) integral += 0.5 * (rho[g] + rho[g - 1]) * 0.025;
    EXPECT_NEAR(integral, 1.0, 1e-6);
}

// ---- net_quench with --hessian ----

quench_options tiny_options() {
    quench_options o;
    o.model = model_kind::fc;
    o.dataset = dataset_kind::synthetic;
    o.synthetic.train_count = 120;
    o.synthetic.test_count = 20;
    o.synthetic.height = o.synthetic.width = 6;
    o.batch = 20;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.temperature = 1e-4; // SGLD: the noise generator must not be disturbed by the measurement
    o.steps = 12;
    o.noise_samples = 20;
    o.eval_samples = 40;
    o.tw_steps = {2, 8};
    o.lag_steps = {1, 2, 4};
    o.seed = 4;
    o.hessian = true;
    o.hessian_top = 3;
    o.hessian_samples = 50;
    o.hessian_trace_vectors = 10;
    o.hessian_slq_steps = 12;
    o.hessian_slq_vectors = 2;
    return o;
}

record run_tiny(const quench_options& o) {
    quench q(o);
    return q.run();
}

TEST(net_hessian, same_seed_gives_the_identical_record_with_every_dataset) {
    const quench_options o = tiny_options();
    const record a = run_tiny(o), b = run_tiny(o);
    test::expect_identical_records(a, b);
    ASSERT_EQ(a.extra.count("hessian/top"), 1u);
    EXPECT_EQ(a.extra.at("hessian/t").data, (std::vector<double>{2, 8}));
    EXPECT_EQ(a.extra.at("hessian/top").shape, (std::vector<std::uint64_t>{2, 3}));
    EXPECT_EQ(a.extra.at("hessian/density").shape, (std::vector<std::uint64_t>{2, 401}));
    EXPECT_EQ(a.extra.at("hessian/quadrature_nodes").shape, (std::vector<std::uint64_t>{2, 2, 12}));
    ASSERT_EQ(a.extra_i64.at("hessian/samples").data.size(), 50u);
    const auto& top = a.extra.at("hessian/top").data;
    for (std::size_t r = 0; r < 2; ++r) { // largest first
        EXPECT_GE(top[3 * r], top[3 * r + 1]);
        EXPECT_GE(top[3 * r + 1], top[3 * r + 2]);
    }
    for (const char* name : {"hessian/negative_fraction", "hessian/flat_fraction"})
        for (const double f : a.extra.at(name).data) {
            EXPECT_GE(f, 0.0) << name;
            EXPECT_LE(f, 1.0 + 1e-12) << name;
        }
    EXPECT_EQ(a.parameters.at("hessian_top"), 3);
    EXPECT_EQ(a.parameters.at("flat_epsilon"), 1e-3);
}

TEST(net_hessian, the_measurement_does_not_change_the_trajectory) {
    quench_options with = tiny_options(), without = tiny_options();
    without.hessian = false;
    const record a = run_tiny(with), b = run_tiny(without);
    EXPECT_TRUE(test::same(a.time, b.time));
    EXPECT_TRUE(test::same(a.energy, b.energy));
    for (const auto& [k, v] : b.observables) EXPECT_TRUE(test::same(v, a.observables.at(k))) << k;
    EXPECT_TRUE(test::same(a.aging.delta, b.aging.delta));
    EXPECT_TRUE(test::same(a.aging.noise, b.aging.noise));
    EXPECT_EQ(b.extra.count("hessian/t"), 0u);
    EXPECT_FALSE(b.parameters.contains("hessian"));
}

TEST(net_hessian, resumed_run_keeps_the_measured_rows) {
    const auto ckpt = test::scratch_dir("net_hessian") / "resume.ckpt";
    std::filesystem::remove(ckpt);
    const quench_options o = tiny_options();
    const record reference = run_tiny(o);
    {
        quench q(o);
        run_hooks hooks;
        hooks.stop = [](std::int64_t step) { return step == 5; }; // after the t_w = 2 measurement
        run_control control;
        control.checkpoint_path = ckpt;
        EXPECT_FALSE(q.run(hooks, control).complete);
    }
    const checkpoint c = read_checkpoint(ckpt);
    EXPECT_EQ(c.vector("hessian/t"), (std::vector<double>{2}));
    testing::expect_resumes_to(o, c, reference);
}

TEST(net_hessian, bad_settings_are_refused_before_any_work) {
    // The library names the field by its key (issue 12 §5); the app prints the flag.
    quench_options o = tiny_options();
    o.hessian_top = 4'000'000;
    testing::expect_refused(o, "hessian_top");
    o = tiny_options();
    o.hessian_samples = 121; // > 120 training samples
    testing::expect_refused(o, "hessian_samples");
    o.hessian_samples = 0;
    testing::expect_refused(o, "hessian_samples");
    o = tiny_options();
    o.flat_epsilon = 0.0;
    testing::expect_refused(o, "flat_epsilon");
    // The app: one line naming the flag, and the Hessian settings without --hessian.
    const std::string exe = NET_QUENCH_EXE;
    const std::string args = " --model fc --dataset synthetic --synthetic-train 100 --synthetic-test 10 "
                             "--synthetic-size 6 --batch 10 --steps 5 --quiet --force --out " +
                             (test::scratch_dir("net_hessian") / "bad.h5").string();
    for (const std::string& bad : {std::string("--hessian --hessian-top 1000000"), std::string("--hessian-top 3"),
                                   std::string("--hessian --hessian-samples 101"),
                                   std::string("--hessian --hessian-samples 50 --flat-epsilon -1")}) {
        const auto r = test::run_command(exe + args + " " + bad);
        EXPECT_NE(r.status, 0) << bad;
        EXPECT_EQ(test::count_lines(r.output), 1) << bad << ": " << r.output;
        const std::string flag = bad.substr(bad.rfind("--"), bad.find(' ', bad.rfind("--")) - bad.rfind("--"));
        EXPECT_NE(r.output.find(flag), std::string::npos) << bad << ": " << r.output;
    }
}

} // namespace
} // namespace glassy::nets
