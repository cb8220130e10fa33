#include "dynamics/schedule.hpp"

#include <gtest/gtest.h>

TEST(schedule, log_spaced_is_sorted_unique_and_bounded) {
    const auto s = glassy::schedule::log_spaced(1, 1000, 10);
    ASSERT_FALSE(s.empty());
    EXPECT_EQ(s.steps().front(), 0);
    EXPECT_EQ(s.steps().back(), 1000);
    for (std::size_t k = 1; k < s.size(); ++k) EXPECT_LT(s.steps()[k - 1], s.steps()[k]);
    // 3 decades at 10 per decade: 31 points plus 0, fewer after rounding duplicates at the start.
    EXPECT_GE(s.size(), 25u);
    EXPECT_LE(s.size(), 32u);
}
