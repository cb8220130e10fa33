#include "dynamics/schedule.hpp"

#include "dynamics/error.hpp"

#include <algorithm>
#include <cmath>
#include <iterator>

namespace glassy {

schedule::schedule(std::vector<std::int64_t> steps) : m_steps(std::move(steps)) {
    std::sort(m_steps.begin(), m_steps.end());
    m_steps.erase(std::unique(m_steps.begin(), m_steps.end()), m_steps.end());
    if (!m_steps.empty() && m_steps.front() < 0) throw parameter_error("schedule: negative step");
}

schedule schedule::log_spaced(std::int64_t first, std::int64_t last, int per_decade, bool include_zero) {
    if (first < 1 || last < first || per_decade < 1)
        throw parameter_error("schedule::log_spaced: need 1 <= first <= last and per_decade >= 1");
    std::vector<std::int64_t> s;
    if (include_zero) s.push_back(0);
    const double l0 = std::log10(static_cast<double>(first));
    const double l1 = std::log10(static_cast<double>(last));
    const auto n = static_cast<std::int64_t>(std::ceil((l1 - l0) * per_decade));
    for (std::int64_t k = 0; k <= n; ++k) {
        const double l = (n == 0) ? l0 : l0 + (l1 - l0) * static_cast<double>(k) / static_cast<double>(n);
        s.push_back(std::clamp<std::int64_t>(std::llround(std::pow(10.0, l)), first, last));
    }
    s.push_back(last);
    return schedule(std::move(s));
}

schedule schedule::linear(std::int64_t last, std::int64_t stride) {
    if (last < 0 || stride < 1) throw parameter_error("schedule::linear: need last >= 0 and stride >= 1");
    std::vector<std::int64_t> s;
    for (std::int64_t k = 0; k <= last; k += stride) s.push_back(k);
    s.push_back(last);
    return schedule(std::move(s));
}

schedule schedule::merged(const schedule& other) const {
    std::vector<std::int64_t> s;
    s.reserve(size() + other.size());
    std::set_union(m_steps.begin(), m_steps.end(), other.m_steps.begin(), other.m_steps.end(), std::back_inserter(s));
    return schedule(std::move(s));
}

schedule schedule::truncated(std::int64_t last) const {
    std::vector<std::int64_t> s(m_steps.begin(), m_steps.begin() + static_cast<std::ptrdiff_t>(lower_index(last + 1)));
    return schedule(std::move(s));
}

bool schedule::contains(std::int64_t step) const noexcept {
    return std::binary_search(m_steps.begin(), m_steps.end(), step);
}

std::size_t schedule::lower_index(std::int64_t step) const noexcept {
    return static_cast<std::size_t>(std::lower_bound(m_steps.begin(), m_steps.end(), step) - m_steps.begin());
}

} // namespace glassy
