#include "dynamics/error.hpp"
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

TEST(schedule, merge_truncate_and_lookup) {
    const glassy::schedule a(std::vector<std::int64_t>{5, 1, 3, 3});
    EXPECT_EQ(a.steps(), (std::vector<std::int64_t>{1, 3, 5}));
    const auto m = a.merged(glassy::schedule::linear(6, 2));
    EXPECT_EQ(m.steps(), (std::vector<std::int64_t>{0, 1, 2, 3, 4, 5, 6}));
    EXPECT_EQ(m.truncated(3).steps(), (std::vector<std::int64_t>{0, 1, 2, 3}));
    EXPECT_TRUE(a.contains(3));
    EXPECT_FALSE(a.contains(4));
    EXPECT_EQ(a.lower_index(4), 2u);
    EXPECT_THROW(glassy::schedule(std::vector<std::int64_t>{-1}), glassy::parameter_error);
    EXPECT_THROW(glassy::schedule::log_spaced(0, 10, 5), glassy::parameter_error);
}
