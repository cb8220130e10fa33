#pragma once
/// @file Energy barriers along paths between two times of one trajectory (issue 14, "straight
/// lines"): for pairs (t_w, t_w + t) the energy (p-spin: per spin; net: training loss) at evenly
/// spaced points of a path from x(t_w) to x(t_w + t). The path is the system's: the great circle on
/// the sphere for the p-spin (physics/barrier.hpp), the straight line in weight space for a network
/// (Freeman & Bruna 2017; Frankle et al. 2020, "linear mode connectivity"). Barrier height =
/// max along the path - max of its two ends: > 0 means the path rises above both ends.
#include "dynamics/checkpoint.hpp"
#include "dynamics/error.hpp"
#include "dynamics/fields.hpp"
#include "dynamics/record.hpp"
#include "dynamics/schedule.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace glassy {

/// One path of a barrier measurement: from the state at step tw to the state at step tw + lag.
struct barrier_pair {
    std::int64_t tw = 0;  ///< waiting step, >= 0
    std::int64_t lag = 0; ///< lag in steps, >= 1
    friend bool operator==(const barrier_pair&, const barrier_pair&) = default;
};

/// The pairs (t_w, t) of every waiting step and lag with t_w + t <= last, t_w-major (the row order
/// of /barrier/energy). Waiting steps and lags are sorted and made unique first; lags < 1 are
/// dropped (a path needs two states).
[[nodiscard]] inline std::vector<barrier_pair> barrier_pairs(std::vector<std::int64_t> tw_steps,
                                                             std::vector<std::int64_t> lag_steps, std::int64_t last) {
    const schedule waits(std::move(tw_steps)), lags(std::move(lag_steps));
    std::vector<barrier_pair> out;
    for (const auto tw : waits.steps())
        for (const auto lag : lags.steps())
            if (lag >= 1 && tw >= 0 && tw <= last - lag) out.push_back({tw, lag});
    return out;
}

/// The points alpha_k = k / (n - 1), k = 0 ... n - 1, of a path with n >= 2 points (both ends
/// included; /barrier/alpha). Throws field_error (key "barrier_points") for n < 2.
[[nodiscard]] inline std::vector<double> barrier_alphas(int n) {
    if (n < 2) throw field_error("barrier_points", "must be >= 2 (both ends of the path)");
    std::vector<double> a(static_cast<std::size_t>(n));
    for (int k = 0; k < n; ++k) a[static_cast<std::size_t>(k)] = static_cast<double>(k) / (n - 1);
    return a;
}

/// Barrier height of one path, max_k e_k - max(e_0, e_{n-1}) (>= 0; 0 when the maximum is at an
/// end). NaN when any entry is NaN (a path not measured). Needs n >= 1.
[[nodiscard]] inline double barrier_height(const Eigen::Ref<const Eigen::RowVectorXd>& energies) {
    if (energies.hasNaN()) return std::numeric_limits<double>::quiet_NaN();
    return energies.maxCoeff() - std::max(energies(0), energies(energies.size() - 1));
}

/// The /barrier datasets of a record (docs/format.md) from the paths of n_s >= 1 samples, each
/// [n_b, n_a] (barrier_recorder::energies, rows in `pairs` order), steps of length dt:
/// /barrier/tw and /barrier/t [n_b] (times: steps x dt), /barrier/alpha [n_a], /barrier/energy
/// [n_b, n_a] (sample mean) and /barrier/height [n_b] (sample mean of each sample's
/// barrier_height, not the height of the mean path); with n_s > 1 also energy_samples
/// [n_s, n_b, n_a] and height_samples [n_s, n_b]. Added to rec.extra; nothing when there is no
/// pair. Throws error when a sample's table does not have n_b x n_a entries.
void add_barrier_datasets(record& rec, const std::vector<barrier_pair>& pairs, double dt,
                          const std::vector<double>& alphas, const std::vector<row_matrix>& paths);

/// Observer that measures barriers along a trajectory: keeps the state at each waiting step of
/// its pairs, and at step t_w + t stores the row path_energy(system, x(t_w), x(t_w + t), alphas)
/// (n_a values) of every pair ending there. Rows not reached stay NaN. A snapshot is released
/// after its last pair. Must be called at every step of required_steps() (merge it into the run's
/// schedule); other calls are ignored. PathEnergy: (const System&, const State& a, const State& b,
/// const std::vector<double>& alphas) -> Eigen::RowVectorXd of n_a values. It only reads the state.
template <class State, class PathEnergy>
class barrier_recorder {
public:
    barrier_recorder(std::vector<barrier_pair> pairs, std::vector<double> alphas, PathEnergy path_energy)
        : m_pairs(std::move(pairs)),
          m_alphas(std::move(alphas)),
          m_path_energy(std::move(path_energy)),
          m_energy(row_matrix::Constant(static_cast<Eigen::Index>(m_pairs.size()),
                                        static_cast<Eigen::Index>(m_alphas.size()),
                                        std::numeric_limits<double>::quiet_NaN())) {
        for (std::size_t k = 0; k < m_pairs.size(); ++k) {
            m_last_use[m_pairs[k].tw] = std::max(m_last_use[m_pairs[k].tw], m_pairs[k].tw + m_pairs[k].lag);
            m_targets[m_pairs[k].tw + m_pairs[k].lag].push_back(k);
        }
    }

    /// Every step at which the recorder must be called: the waiting steps and the ends.
    [[nodiscard]] schedule required_steps() const {
        std::vector<std::int64_t> s;
        for (const auto& p : m_pairs) {
            s.push_back(p.tw);
            s.push_back(p.tw + p.lag);
        }
        return schedule(std::move(s));
    }

    template <class System>
    void operator()(const System& sys, const State& x, std::int64_t step, double) {
        if (m_last_use.count(step) > 0) m_snapshots[step] = x;
        if (const auto it = m_targets.find(step); it != m_targets.end())
            for (const std::size_t k : it->second)
                if (const auto snap = m_snapshots.find(m_pairs[k].tw); snap != m_snapshots.end())
                    m_energy.row(static_cast<Eigen::Index>(k)) = m_path_energy(sys, snap->second, x, m_alphas);
        std::erase_if(m_snapshots, [&](const auto& s) { return m_last_use.at(s.first) <= step; });
    }

    [[nodiscard]] const std::vector<barrier_pair>& pairs() const noexcept { return m_pairs; }
    [[nodiscard]] const std::vector<double>& alphas() const noexcept { return m_alphas; }
    /// The energies along the paths, [n_b, n_a] (pairs() order); NaN rows not yet reached.
    [[nodiscard]] const row_matrix& energies() const noexcept { return m_energy; }

    /// Saves PREFIXenergy and the held snapshots as PREFIXsnapshot/<step>.
    void save(checkpoint& c, const std::string& prefix) const {
        c.put_matrix(prefix + "energy", m_energy);
        for (const auto& [step, x] : m_snapshots) c.put_vector(prefix + "snapshot/" + std::to_string(step), x);
    }
    /// Restores what save() wrote under `prefix`; snapshots hold `size` values. Throws record_error
    /// when the table is missing or has the wrong shape.
    void restore(const checkpoint& c, const std::string& prefix, Eigen::Index size) {
        row_matrix e = c.matrix(prefix + "energy");
        if (e.rows() != m_energy.rows() || e.cols() != m_energy.cols())
            throw record_error("checkpoint: " + prefix + "energy has the wrong shape");
        m_energy = std::move(e);
        m_snapshots.clear();
        for (const auto& [step, unused] : m_last_use)
            if (auto x =
                    c.template find_vector<typename State::Scalar>(prefix + "snapshot/" + std::to_string(step), size))
                m_snapshots[step] = std::move(*x);
    }

private:
    std::vector<barrier_pair> m_pairs;
    std::vector<double> m_alphas;
    PathEnergy m_path_energy;
    row_matrix m_energy;
    std::map<std::int64_t, std::int64_t> m_last_use;            // waiting step -> its last end step
    std::map<std::int64_t, std::vector<std::size_t>> m_targets; // end step -> pairs ending there
    std::map<std::int64_t, State> m_snapshots;                  // waiting step -> state
};

} // namespace glassy
