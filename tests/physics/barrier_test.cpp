// Barriers along paths (issue 14, "straight lines"): the generic recorder and height on hand-built
// one-dimensional landscapes (a convex well: no barrier; a double well: the known height), the
// great circle on the sphere (on the sphere, the geodesic, its midpoint), the p = 2 energy along it
// (an exact sinusoid), and pspin_quench --barrier (ends equal the recorded energies, the run is
// unchanged, interrupted + resumed is bit-identical).
#include "dynamics/barrier.hpp"
#include "dynamics/error.hpp"
#include "physics/barrier.hpp"
#include "physics/quench.hpp"

#include <gtest/gtest.h>

#include <Eigen/LU>

#include "support/record_compare.hpp"
#include "support/scratch.hpp"
#include "tests/physics/pspin_support.hpp"
#include "tests/physics/quench_support.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace {

using vec = Eigen::VectorXd;

// The straight line between two one-dimensional states through the landscape f.
struct line_1d {
    double (*f)(double);
    Eigen::RowVectorXd operator()(int, const vec& a, const vec& b, const std::vector<double>& alphas) const {
        Eigen::RowVectorXd e(static_cast<Eigen::Index>(alphas.size()));
        for (std::size_t k = 0; k < alphas.size(); ++k)
            e(static_cast<Eigen::Index>(k)) = f((1 - alphas[k]) * a(0) + alphas[k] * b(0));
        return e;
    }
};

// Feeds the states x(step) = path[step] to a recorder of the pairs (0, lag) for every lag.
glassy::row_matrix record_paths(double (*f)(double), const std::vector<double>& path) {
    const auto last = static_cast<std::int64_t>(path.size()) - 1;
    std::vector<std::int64_t> lags;
    for (std::int64_t l = 1; l <= last; ++l) lags.push_back(l);
    glassy::barrier_recorder<vec, line_1d> rec(glassy::barrier_pairs({0}, lags, last), glassy::barrier_alphas(21),
                                               line_1d{f});
    const glassy::schedule when = rec.required_steps();
    for (const auto step : when.steps()) rec(0, vec::Constant(1, path[static_cast<std::size_t>(step)]), step, 0.0);
    return rec.energies();
}

TEST(barrier, a_convex_well_has_no_barrier_and_a_double_well_its_height) {
    const auto convex = record_paths([](double x) { return x * x; }, {-1.0, 2.0, 0.5});
    for (Eigen::Index b = 0; b < convex.rows(); ++b) EXPECT_LE(glassy::barrier_height(convex.row(b)), 0.0);
    // (x^2 - 1)^2 from -1 to +1 passes x = 0 (alpha = 1/2, point 10 of 21) at height 1 above both ends.
    const auto wells = record_paths([](double x) { return (x * x - 1) * (x * x - 1); }, {-1.0, 1.0});
    ASSERT_EQ(wells.rows(), 1);
    EXPECT_EQ(glassy::barrier_height(wells.row(0)), 1.0);
    EXPECT_EQ(wells(0, 10), 1.0);
}

TEST(barrier, pairs_alphas_and_heights) {
    const auto pairs = glassy::barrier_pairs({10, 0, 10}, {5, 0, 20}, 25);
    const std::vector<glassy::barrier_pair> want{{0, 5}, {0, 20}, {10, 5}};
    EXPECT_EQ(pairs, want); // sorted, unique, lag 0 dropped, t_w + t <= last
    const auto a = glassy::barrier_alphas(5);
    EXPECT_EQ(a, (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
    EXPECT_THROW((void)glassy::barrier_alphas(1), glassy::parameter_error);
    Eigen::RowVectorXd e(3);
    e << 1, 0.5, 2;
    EXPECT_EQ(glassy::barrier_height(e), 0.0);
    e << 1, std::nan(""), 2;
    EXPECT_TRUE(std::isnan(glassy::barrier_height(e)));
}

// Points of the great circle: on the sphere, equal angles between neighbours (the geodesic at
// constant speed), the midpoint is the normalised sum, the ends are exact.
TEST(barrier, great_circle_is_the_geodesic_on_the_sphere) {
    const int n = 64;
    const vec a = glassy::test::random_on_sphere(n, 5), b = glassy::test::random_on_sphere(n, 6);
    const auto alphas = glassy::barrier_alphas(21);
    const double theta = std::acos(a.dot(b) / n);
    std::vector<vec> pts;
    for (double al : alphas) pts.push_back(glassy::great_circle_point(a, b, al));
    EXPECT_EQ(pts.front(), a);
    EXPECT_EQ(pts.back(), b);
    for (std::size_t k = 0; k < pts.size(); ++k) {
        EXPECT_NEAR(pts[k].squaredNorm(), n, 1e-10 * n) << k;
        if (k == 0) continue;
        const double step = std::acos(std::clamp(pts[k].dot(pts[k - 1]) / n, -1.0, 1.0));
        EXPECT_NEAR(step, theta / 20, 1e-7) << k;
    }
    const vec mid = std::sqrt(double(n)) * (a + b).normalized();
    EXPECT_LT((pts[10] - mid).norm(), 1e-10 * std::sqrt(double(n)));
    EXPECT_EQ(glassy::great_circle_point(a, a, 0.3), a);
}

// For p = 2 the energy on a great circle sigma(phi) = cos(phi) u + sin(phi) v is a quadratic form
// in (cos phi, sin phi): e(phi) = c0 + c1 cos(2 phi) + c2 sin(2 phi) exactly. Fit on three points,
// check all 21 to rounding.
TEST(barrier, p2_energy_along_a_great_circle_is_a_sinusoid) {
    const int n = 50;
    const glassy::pspin_model model(n, 2, 11);
    const vec a = glassy::test::random_on_sphere(n, 8), b = glassy::test::random_on_sphere(n, 9);
    const auto alphas = glassy::barrier_alphas(21);
    const Eigen::RowVectorXd e = glassy::great_circle_energies(model, a, b, alphas);
    const double theta = std::acos(a.dot(b) / n);
    Eigen::Matrix3d m;
    Eigen::Vector3d rhs;
    for (int r = 0; r < 3; ++r) {
        const double phi = alphas[static_cast<std::size_t>(7 * r)] * theta;
        m.row(r) << 1, std::cos(2 * phi), std::sin(2 * phi);
        rhs(r) = e(7 * r);
    }
    const Eigen::Vector3d c = m.fullPivLu().solve(rhs);
    for (std::size_t k = 0; k < alphas.size(); ++k) {
        const double phi = alphas[k] * theta;
        EXPECT_NEAR(e(static_cast<Eigen::Index>(k)), c(0) + c(1) * std::cos(2 * phi) + c(2) * std::sin(2 * phi), 1e-12)
            << k;
    }
    EXPECT_DOUBLE_EQ(e(0), model.energy(a) / n);
}

glassy::pspin_quench_parameters barrier_quench() {
    glassy::pspin_quench_parameters par;
    par.n = 40;
    par.tmax = 10; // 200 steps: energies at steps 20, 160, 180 among the measured ones
    par.tw = {1};
    par.barrier = true;
    par.barrier_lags = {7, 8};
    return par;
}

// The ends of each path are the configurations at t_w and t_w + t: their energies are the
// recorded e(t) (the recorder's batched gradient sums and pspin_model::energy add in another
// order: equal to 1e-12).
TEST(barrier_quench, ends_of_the_paths_are_the_recorded_energies) {
    const auto rec = glassy::run_pspin_quench(barrier_quench());
    const auto& tw = rec.extra.at("barrier/tw").data;
    const auto& t = rec.extra.at("barrier/t").data;
    const auto& e = rec.extra.at("barrier/energy").data;
    ASSERT_EQ(rec.extra.at("barrier/energy").shape, (std::vector<std::uint64_t>{2, 21}));
    ASSERT_EQ(rec.extra.at("barrier/alpha").data.size(), 21u);
    const auto energy_at = [&](double time) {
        const auto at =
            std::find_if(rec.time.begin(), rec.time.end(), [&](double x) { return std::abs(x - time) < 1e-9; });
        EXPECT_NE(at, rec.time.end()) << time;
        return rec.energy[static_cast<std::size_t>(at - rec.time.begin())];
    };
    for (std::size_t b = 0; b < 2; ++b) {
        EXPECT_NEAR(e[b * 21], energy_at(tw[b]), 1e-12) << b;
        EXPECT_NEAR(e[b * 21 + 20], energy_at(tw[b] + t[b]), 1e-12) << b;
        const double top =
            *std::max_element(e.begin() + static_cast<long>(b * 21), e.begin() + static_cast<long>(b * 21 + 21));
        EXPECT_EQ(rec.extra.at("barrier/height").data[b], top - std::max(e[b * 21], e[b * 21 + 20]));
    }
    EXPECT_EQ(rec.parameters.at("barrier_points"), 21);
}

// Measuring barriers only reads the trajectory; samples give means and per-sample arrays.
TEST(barrier_quench, measuring_barriers_does_not_change_the_run) {
    auto par = barrier_quench();
    par.samples = 2;
    par.replicas = 2;
    auto with = glassy::run_pspin_quench(par);
    EXPECT_EQ(with.extra.at("barrier/energy_samples").shape, (std::vector<std::uint64_t>{4, 2, 21}));
    EXPECT_EQ(with.extra.at("barrier/height_samples").shape, (std::vector<std::uint64_t>{4, 2}));
    const auto& hs = with.extra.at("barrier/height_samples").data;
    EXPECT_NEAR(with.extra.at("barrier/height").data[1], (hs[1] + hs[3] + hs[5] + hs[7]) / 4, 1e-15);
    std::erase_if(with.extra, [](const auto& kv) { return kv.first.rfind("barrier/", 0) == 0; });
    for (const char* key : {"barrier", "barrier_lags", "barrier_points"}) {
        EXPECT_TRUE(with.parameters.contains(key)) << key;
        with.parameters.erase(key);
    }
    par.barrier = false;
    par.barrier_lags.clear();
    glassy::test::expect_identical_records(glassy::run_pspin_quench(par), with);
}

// Stopped in sample 1 between a waiting time and the end of its paths, resumed: the identical record.
TEST(barrier_quench, interrupted_and_resumed_run_is_bit_identical) {
    const auto dir = glassy::test::scratch_dir("barrier_ckpt");
    auto par = barrier_quench();
    par.samples = 2;
    const auto full = glassy::run_pspin_quench(par);
    const auto saved = glassy::test::interrupted_quench(par, 200 + 100, dir / "b.ckpt"); // sample 1, step 100
    EXPECT_EQ(saved.integer("sample"), 1);
    EXPECT_GT(saved.arrays.count("barrier/snapshot/20"), 0u); // the snapshot at t_w is held
    glassy::test::expect_resumes_to(par, saved, full);
    std::filesystem::remove_all(dir);
}

TEST(barrier_quench, bad_barrier_parameters_name_their_field) {
    auto par = barrier_quench();
    par.barrier_points = 1;
    EXPECT_THROW(glassy::validate(par), glassy::field_error);
    par = barrier_quench();
    par.barrier_lags = {0.01}; // below one step (dt = 0.05)
    EXPECT_THROW(glassy::validate(par), glassy::field_error);
    par.barrier_lags = {11};
    EXPECT_THROW(glassy::validate(par), glassy::field_error);
}

} // namespace
