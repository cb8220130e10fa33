#pragma once
// Helpers shared by the finite-N p-spin tests: random states on the sphere and a brute-force
// energy independent of the fast kernels.
#include "physics/pspin.hpp"

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

namespace glassy::test {

using vec = Eigen::VectorXd;
using glassy::pspin_model;

inline vec random_on_sphere(int n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> g;
    vec x(n);
    for (int i = 0; i < n; ++i) x[i] = g(rng);
    return x * (std::sqrt(double(n)) / x.norm());
}

// Brute-force energy from the coupling accessor (independent of the fast kernels).
inline double brute_energy(const pspin_model& m, const vec& s) {
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

inline Eigen::MatrixXd random_replicas(int n, int r, std::uint64_t seed) {
    Eigen::MatrixXd s(n, r);
    for (int c = 0; c < r; ++c) s.col(c) = random_on_sphere(n, seed + static_cast<std::uint64_t>(c));
    return s;
}
} // namespace glassy::test
