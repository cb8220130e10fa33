#pragma once
/// @file Clones (issue 14): K >= 2 copies of a state taken at a waiting time t_w, each continued
/// with its own noise (Barrat, Burioni & Mezard 1996, "Dynamics within metastable states in a
/// mean-field spin glass"; for networks Frankle et al. 2020, "linear mode connectivity"). Whether
/// the copies stay close (their mean pair distance stays below the plateau of Delta) tells whether
/// the system is confined in a state at t_w. Generic in the state: the pair averages and the
/// /clones datasets of a record; the runs that make the clones live with their systems
/// (physics/quench.hpp for the p-spin).
#include "dynamics/record.hpp"

#include <cstddef>
#include <limits>
#include <span>
#include <vector>

namespace glassy {

/// The mean over the K(K-1)/2 pairs a < b of f(x_a, x_b), summed in the order (0,1), (0,2), ...,
/// (1,2), ... (so the result is a fixed function of the clones). Needs K >= 2; NaN for K < 2.
template <class State, class PairFunction>
[[nodiscard]] double pair_mean(std::span<const State> clones, PairFunction f) {
    const std::size_t k = clones.size();
    if (k < 2) return std::numeric_limits<double>::quiet_NaN();
    double sum = 0;
    for (std::size_t a = 0; a < k; ++a)
        for (std::size_t b = a + 1; b < k; ++b) sum += f(clones[a], clones[b]);
    return sum / static_cast<double>(k * (k - 1) / 2);
}

/// Delta_AB = (1/n)|x_A - x_B|^2 averaged over the pairs of clones (pair_mean), n = the size of a
/// state (the p-spin: N spins on |sigma|^2 = N, so 0 <= Delta_AB <= 4; the same normalisation as
/// Delta(t_w, t_w + t) of the two-time recorder). State: an Eigen vector. Exactly 0 for identical
/// clones.
template <class State>
[[nodiscard]] double pair_mean_distance(std::span<const State> clones) {
    return pair_mean(
        clones, [](const State& a, const State& b) { return (a - b).squaredNorm() / static_cast<double>(a.size()); });
}

/// The /clones datasets of a record (docs/format.md) from n_s >= 1 samples: tw [n_c] and t [n_l]
/// (times), and per sample `delta` [n_c, n_l] (Delta_AB of the clones born at tw[c], at lag t[l]
/// after their birth; NaN where tw + t is past the run) and `barrier` [n_c] (the pair mean of the
/// barrier height between the clones at the end of the run). Writes /clones/tw, /clones/t,
/// /clones/delta [n_c, n_l] and /clones/barrier [n_c] (sample means, entry by entry, summed in
/// sample order), and with n_s > 1 delta_samples [n_s, n_c, n_l] and barrier_samples [n_s, n_c].
/// Nothing without samples or clone times. Throws error when a sample's arrays have other shapes.
void add_clone_datasets(record& rec, const std::vector<double>& tw, const std::vector<double>& t,
                        const std::vector<row_matrix>& delta, const std::vector<std::vector<double>>& barrier);

} // namespace glassy
