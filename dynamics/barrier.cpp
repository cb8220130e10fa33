#include "dynamics/barrier.hpp"

namespace glassy {

namespace {

nd_array<double> array_of(std::vector<std::uint64_t> shape, std::vector<double> data) {
    return {std::move(shape), std::move(data)};
}

} // namespace

void add_barrier_datasets(record& rec, const std::vector<barrier_pair>& pairs, double dt,
                          const std::vector<double>& alphas, const std::vector<row_matrix>& paths) {
    if (pairs.empty() || paths.empty()) return;
    const std::size_t nb = pairs.size(), na = alphas.size(), ns = paths.size();
    std::vector<double> tw, t, energy(nb * na, 0.0), height(nb, 0.0), energy_per, height_per;
    for (const auto& p : pairs) {
        tw.push_back(static_cast<double>(p.tw) * dt);
        t.push_back(static_cast<double>(p.lag) * dt);
    }
    for (const auto& path : paths) {
        if (static_cast<std::size_t>(path.rows()) != nb || static_cast<std::size_t>(path.cols()) != na)
            throw error("add_barrier_datasets: a sample's paths are not [n_b, n_a]");
        for (std::size_t b = 0; b < nb; ++b) {
            const auto row = path.row(static_cast<Eigen::Index>(b));
            const double h = barrier_height(row);
            height[b] += h / static_cast<double>(ns);
            height_per.push_back(h);
            for (std::size_t a = 0; a < na; ++a) {
                energy[b * na + a] += row(static_cast<Eigen::Index>(a)) / static_cast<double>(ns);
                energy_per.push_back(row(static_cast<Eigen::Index>(a)));
            }
        }
    }
    rec.extra["barrier/tw"] = array_of({nb}, std::move(tw));
    rec.extra["barrier/t"] = array_of({nb}, std::move(t));
    rec.extra["barrier/alpha"] = array_of({na}, alphas);
    rec.extra["barrier/energy"] = array_of({nb, na}, std::move(energy));
    rec.extra["barrier/height"] = array_of({nb}, std::move(height));
    if (ns > 1) {
        rec.extra["barrier/energy_samples"] = array_of({ns, nb, na}, std::move(energy_per));
        rec.extra["barrier/height_samples"] = array_of({ns, nb}, std::move(height_per));
    }
}

} // namespace glassy
