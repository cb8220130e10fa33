#include "dynamics/clones.hpp"

#include "dynamics/error.hpp"

namespace glassy {

void add_clone_datasets(record& rec, const std::vector<double>& tw, const std::vector<double>& t,
                        const std::vector<row_matrix>& delta, const std::vector<std::vector<double>>& barrier) {
    if (tw.empty() || delta.empty()) return;
    const std::size_t nc = tw.size(), nl = t.size(), ns = delta.size();
    if (barrier.size() != ns) throw error("add_clone_datasets: delta and barrier hold different sample counts");
    std::vector<double> mean_delta(nc * nl, 0.0), mean_barrier(nc, 0.0), delta_per, barrier_per;
    const auto n = static_cast<double>(ns);
    for (std::size_t s = 0; s < ns; ++s) {
        if (static_cast<std::size_t>(delta[s].rows()) != nc || static_cast<std::size_t>(delta[s].cols()) != nl ||
            barrier[s].size() != nc)
            throw error("add_clone_datasets: a sample's clone arrays are not [n_c, n_l] and [n_c]");
        for (std::size_t c = 0; c < nc; ++c) {
            for (std::size_t l = 0; l < nl; ++l) {
                const double d = delta[s](static_cast<Eigen::Index>(c), static_cast<Eigen::Index>(l));
                mean_delta[c * nl + l] += d / n;
                delta_per.push_back(d);
            }
            mean_barrier[c] += barrier[s][c] / n;
            barrier_per.push_back(barrier[s][c]);
        }
    }
    rec.extra["clones/tw"] = {{nc}, tw};
    rec.extra["clones/t"] = {{nl}, t};
    rec.extra["clones/delta"] = {{nc, nl}, std::move(mean_delta)};
    rec.extra["clones/barrier"] = {{nc}, std::move(mean_barrier)};
    if (ns > 1) {
        rec.extra["clones/delta_samples"] = {{ns, nc, nl}, std::move(delta_per)};
        rec.extra["clones/barrier_samples"] = {{ns, nc}, std::move(barrier_per)};
    }
}

} // namespace glassy
