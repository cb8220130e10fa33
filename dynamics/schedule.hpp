#pragma once
/// @file Schedules: sorted sets of integer step indices at which observers fire.
/// Times are step indices (0 = initial condition); physical time is step * dt.
#include <cstdint>
#include <vector>

namespace glassy {

/// A sorted, duplicate-free list of step indices (>= 0). Immutable after construction.
class schedule {
public:
    schedule() = default;
    /// Takes any list of steps; sorts it and removes duplicates. Throws parameter_error on a
    /// negative step.
    explicit schedule(std::vector<std::int64_t> steps);

    /// Steps log-spaced between `first` and `last` inclusive with about `per_decade` points per
    /// decade (rounded to integers, duplicates removed); step 0 is added when include_zero.
    /// Preconditions: 1 <= first <= last, per_decade >= 1.
    static schedule log_spaced(std::int64_t first, std::int64_t last, int per_decade, bool include_zero = true);
    /// Every `stride`-th step from 0 to last inclusive (last is always included).
    static schedule linear(std::int64_t last, std::int64_t stride);

    /// Union of two schedules.
    [[nodiscard]] schedule merged(const schedule& other) const;
    /// Steps of this schedule that are <= last.
    [[nodiscard]] schedule truncated(std::int64_t last) const;

    [[nodiscard]] const std::vector<std::int64_t>& steps() const noexcept { return m_steps; }
    [[nodiscard]] std::size_t size() const noexcept { return m_steps.size(); }
    [[nodiscard]] bool empty() const noexcept { return m_steps.empty(); }
    [[nodiscard]] bool contains(std::int64_t step) const noexcept;
    /// Index of the first scheduled step >= step (size() when none).
    [[nodiscard]] std::size_t lower_index(std::int64_t step) const noexcept;

private:
    std::vector<std::int64_t> m_steps;
};

} // namespace glassy
