#pragma once
/// @file Observers used by every system: a scalar recorder (energy, loss, any observable) and
/// the two-time recorder of Delta(t_w, t_w + t).
#include "dynamics/checkpoint.hpp"
#include "dynamics/concepts.hpp"
#include "dynamics/error.hpp"
#include "dynamics/schedule.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace glassy {

/// Snapshots of Eigen vectors: a copy; distance (1/n)|a - b|^2 in double precision.
template <class Scalar>
struct snapshot_traits<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>> {
    using snapshot_type = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
    static snapshot_type take(const snapshot_type& x) { return x; }
    static double mean_squared_distance(const snapshot_type& a, const snapshot_type& b) {
        return (a.template cast<double>() - b.template cast<double>()).squaredNorm() / static_cast<double>(a.size());
    }
};

/// Records named scalar observables f(system, state) at every step it is called on.
/// Each function is evaluated once per call; values and times are kept in call order.
/// Observables that come out of one computation (the energies of R replicas from one batched
/// gradient) are added together as a group, evaluated once per call for all their names.
template <class System>
class scalar_recorder {
public:
    using function_type = std::function<double(const System&, const typename System::state_type&)>;
    /// Computes a group of observables at once: one value per name, in the order of the names.
    using group_function = std::function<std::vector<double>(const System&, const typename System::state_type&)>;

    /// Adds an observable `name` (e.g. "energy", "mu") computed by `f`.
    void add(std::string name, function_type f) {
        add({std::move(name)}, [f = std::move(f)](const System& s, const typename System::state_type& x) {
            return std::vector<double>{f(s, x)};
        });
    }
    /// Adds the observables `names`, all computed by one call of `f` (which must return
    /// names.size() values; a call that does not throws glassy::error).
    void add(std::vector<std::string> names, group_function f) {
        m_groups.push_back({m_names.size(), names.size(), std::move(f)});
        for (auto& name : names) m_names.push_back(std::move(name));
        m_values.resize(m_names.size());
    }
    void operator()(const System& s, const typename System::state_type& x, std::int64_t step, double t) {
        m_steps.push_back(step);
        m_times.push_back(t);
        for (const auto& g : m_groups) {
            const std::vector<double> v = g.f(s, x);
            if (v.size() != g.count)
                throw error("scalar_recorder: a group function returned the wrong number of values");
            for (std::size_t k = 0; k < g.count; ++k) m_values[g.first + k].push_back(v[k]);
        }
    }
    [[nodiscard]] const std::vector<double>& times() const noexcept { return m_times; }
    [[nodiscard]] const std::vector<std::int64_t>& steps() const noexcept { return m_steps; }
    [[nodiscard]] const std::vector<std::string>& names() const noexcept { return m_names; }
    /// Values of observable `name`; throws glassy::error if unknown.
    [[nodiscard]] const std::vector<double>& values(const std::string& name) const {
        const auto it = std::find(m_names.begin(), m_names.end(), name);
        if (it == m_names.end()) throw error("scalar_recorder: unknown observable " + name);
        return m_values[static_cast<std::size_t>(it - m_names.begin())];
    }

    /// Restores recorded values (checkpoints): steps, times and one series per observable in
    /// the order they were added. Throws error on a shape mismatch.
    void restore(std::vector<std::int64_t> steps, std::vector<double> times, std::vector<std::vector<double>> values) {
        if (values.size() != m_names.size() || steps.size() != times.size())
            throw error("scalar_recorder::restore: shape mismatch");
        for (const auto& v : values)
            if (v.size() != times.size()) throw error("scalar_recorder::restore: shape mismatch");
        m_steps = std::move(steps);
        m_times = std::move(times);
        m_values = std::move(values);
    }
    /// Saves everything recorded under `prefix`: PREFIXstep, PREFIXtime and PREFIXname for each
    /// observable (as double arrays).
    void save(checkpoint& c, const std::string& prefix) const {
        c.put(prefix + "step", std::vector<double>(m_steps.begin(), m_steps.end()));
        c.put(prefix + "time", m_times);
        for (std::size_t k = 0; k < m_names.size(); ++k) c.put(prefix + m_names[k], m_values[k]);
    }
    /// Restores what save() wrote under `prefix`. Throws record_error when an entry is missing,
    /// error on a shape mismatch.
    void restore(const checkpoint& c, const std::string& prefix) {
        const auto steps = c.vector(prefix + "step");
        std::vector<std::vector<double>> values;
        for (const auto& name : m_names) values.push_back(c.vector(prefix + name));
        restore(std::vector<std::int64_t>(steps.begin(), steps.end()), c.vector(prefix + "time"), std::move(values));
    }

private:
    struct group {
        std::size_t first, count; // names [first, first + count)
        group_function f;
    };
    std::vector<std::string> m_names;
    std::vector<group> m_groups;
    std::vector<std::vector<double>> m_values;
    std::vector<std::int64_t> m_steps;
    std::vector<double> m_times;
};

/// Calls `observer` only at the steps of its own schedule `when`. integrate fires every observer
/// at each step of the run's schedule (the union of theirs); this keeps *when* an observer
/// measures apart from *what* it measures (HOOMD's Trigger and Analyzer).
template <class Observer>
struct on_schedule {
    schedule when;
    Observer& observer;
    template <class System, class State>
    void operator()(const System& s, const State& x, std::int64_t step, double t) {
        if (when.contains(step)) observer(s, x, step, t);
    }
};

/// Two-time recorder: stores a snapshot at each waiting step t_w and measures
/// Delta(t_w, t_w + t) = (1/n)|x(t_w) - x(t_w + t)|^2 at each lag step t (see snapshot_traits).
/// Snapshots are released once their last lag is measured, so memory holds only the live
/// ones. Entries whose t_w + t is never reached stay NaN. Must be called at every step of
/// required_steps() (merge it into the run's schedule); other calls are ignored.
template <class State>
    requires snapshottable<State>
class two_time_recorder {
public:
    using traits = snapshot_traits<State>;
    using snapshot_type = typename traits::snapshot_type;

    /// tw_steps: waiting steps; lag_steps: lags in steps (lag 0 allowed, gives Delta = 0).
    two_time_recorder(std::vector<std::int64_t> tw_steps, std::vector<std::int64_t> lag_steps)
        : m_tw(schedule(std::move(tw_steps)).steps()),
          m_lag(schedule(std::move(lag_steps)).steps()),
          m_delta(row_matrix::Constant(static_cast<Eigen::Index>(m_tw.size()), static_cast<Eigen::Index>(m_lag.size()),
                                       std::numeric_limits<double>::quiet_NaN())),
          m_snapshots(m_tw.size()) {
        for (std::size_t i = 0; i < m_tw.size(); ++i)
            for (std::size_t j = 0; j < m_lag.size(); ++j) m_targets[m_tw[i] + m_lag[j]].emplace_back(i, j);
    }

    /// Every step at which the recorder must be called.
    [[nodiscard]] schedule required_steps() const {
        std::vector<std::int64_t> s(m_tw.begin(), m_tw.end());
        for (const auto& [step, unused] : m_targets) s.push_back(step);
        return schedule(std::move(s));
    }

    template <class System>
    void operator()(const System&, const State& x, std::int64_t step, double) {
        const auto tw_it = std::lower_bound(m_tw.begin(), m_tw.end(), step);
        if (tw_it != m_tw.end() && *tw_it == step)
            m_snapshots[static_cast<std::size_t>(tw_it - m_tw.begin())] = traits::take(x);
        const auto it = m_targets.find(step);
        if (it == m_targets.end()) return;
        std::optional<snapshot_type> now;
        for (const auto& [i, j] : it->second) {
            if (!m_snapshots[i]) continue; // t_w was before the recorder started
            if (m_lag[j] == 0) {
                m_delta(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = 0.0;
            } else {
                if (!now) now = traits::take(x);
                m_delta(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) =
                    traits::mean_squared_distance(*m_snapshots[i], *now);
            }
            if (j + 1 == m_lag.size()) m_snapshots[i].reset(); // last lag: release
        }
    }

    [[nodiscard]] const std::vector<std::int64_t>& tw_steps() const noexcept { return m_tw; }
    [[nodiscard]] const std::vector<std::int64_t>& lag_steps() const noexcept { return m_lag; }
    /// Delta(t_w, t_w + t), shape [n_w, n_l]; NaN where not measured.
    [[nodiscard]] const row_matrix& delta() const noexcept { return m_delta; }
    /// Number of snapshots currently held (for memory accounting).
    [[nodiscard]] std::size_t live_snapshots() const noexcept {
        return static_cast<std::size_t>(
            std::count_if(m_snapshots.begin(), m_snapshots.end(), [](const auto& s) { return s.has_value(); }));
    }
    /// Held snapshots, by waiting-time index (for checkpoints and saving weights).
    [[nodiscard]] const std::vector<std::optional<snapshot_type>>& snapshots() const noexcept { return m_snapshots; }
    /// Restores a checkpointed state (delta table and live snapshots).
    void restore(row_matrix delta, std::vector<std::optional<snapshot_type>> snapshots) {
        if (delta.rows() != m_delta.rows() || delta.cols() != m_delta.cols() || snapshots.size() != m_tw.size())
            throw error("two_time_recorder::restore: shape mismatch");
        m_delta = std::move(delta);
        m_snapshots = std::move(snapshots);
    }
    /// Saves the state under `prefix`: PREFIXdelta (the table) and PREFIXsnapshot/i for each live
    /// snapshot i (a vector: double or float, as the snapshot).
    void save(checkpoint& c, const std::string& prefix) const {
        c.put_matrix(prefix + "delta", m_delta);
        for (std::size_t i = 0; i < m_snapshots.size(); ++i)
            if (m_snapshots[i]) c.put_vector(prefix + "snapshot/" + std::to_string(i), *m_snapshots[i]);
    }
    /// Restores what save() wrote under `prefix`; snapshots must hold `size` values. Throws
    /// record_error (missing table, wrong size) or error (shape mismatch).
    void restore(const checkpoint& c, const std::string& prefix, Eigen::Index size) {
        std::vector<std::optional<snapshot_type>> snaps(m_tw.size());
        for (std::size_t i = 0; i < m_tw.size(); ++i)
            snaps[i] =
                c.template find_vector<typename snapshot_type::Scalar>(prefix + "snapshot/" + std::to_string(i), size);
        restore(c.matrix(prefix + "delta"), std::move(snaps));
    }

private:
    std::vector<std::int64_t> m_tw;
    std::vector<std::int64_t> m_lag;
    row_matrix m_delta;
    std::vector<std::optional<snapshot_type>> m_snapshots;
    std::map<std::int64_t, std::vector<std::pair<std::size_t, std::size_t>>> m_targets;
};

} // namespace glassy
