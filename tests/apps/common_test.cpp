// The helpers shared by the apps (apps/common.hpp): refusing flags that have no effect, and the
// one-time duration estimate every run prints after its first seconds; how the samples are shared
// among MPI ranks (apps/ensemble.hpp).
#include "apps/common.hpp"
#include "apps/ensemble.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>

TEST(app_common, refuse_given_names_the_first_given_flag) {
    CLI::App app{"test"};
    int a = 0, b = 0;
    app.add_option("--alpha", a);
    app.add_option("--beta", b);
    const char* argv[] = {"test", "--beta", "2"};
    app.parse(3, const_cast<char**>(argv));
    EXPECT_NO_THROW(glassy::app::refuse_given(app, {"--alpha"}, "with x"));
    try {
        glassy::app::refuse_given(app, {"--alpha", "--beta"}, "with --method ck (why)");
        FAIL() << "not refused";
    } catch (const glassy::parameter_error& e) {
        EXPECT_EQ(std::string(e.what()), "--beta has no effect with --method ck (why)");
    }
}

TEST(app_common, durations_read_in_two_units_at_most) {
    using glassy::app::format_duration;
    EXPECT_EQ(format_duration(42.4), "42 s");
    EXPECT_EQ(format_duration(200), "3 min 20 s");
    EXPECT_EQ(format_duration(12000), "3 h 20 min");
    EXPECT_EQ(format_duration(5 * 86400 + 4 * 3600 + 59), "5 d 4 h");
    EXPECT_EQ(format_duration(1e12), "3.2e+04 years"); // 1e12 s / (365.25 * 86400 s)
    EXPECT_EQ(format_duration(-1), "unknown");
}

// --dt 1e-9 --tmax 1e9 is 1e18 steps: at 1e6 steps/s, 31700 years.
TEST(app_common, the_estimate_is_the_remaining_steps_at_the_measured_rate) {
    EXPECT_EQ(
        glassy::app::estimate_text(1e6, 1'000'000'000'000'000'000LL, 1'000'000'000'000'000'000LL),
        "estimated time left 3.2e+04 years (1000000000000000000 of 1000000000000000000 steps to go at 1e+06 steps/s)");
    EXPECT_EQ(glassy::app::estimate_text(50, 9000, 10000),
              "estimated time left 3 min 0 s (9000 of 10000 steps to go at 50 steps/s)");
}

TEST(app_ensemble, shares_cover_the_items_in_rank_order_and_differ_by_one_at_most) {
    using glassy::app::share_of;
    for (int items = 1; items <= 12; ++items)
        for (int ranks = 1; ranks <= items; ++ranks) {
            int next = 0, smallest = items, largest = 0;
            for (int r = 0; r < ranks; ++r) {
                const auto s = share_of(r, ranks, items);
                EXPECT_EQ(s.first, next) << items << " items, rank " << r << " of " << ranks;
                next += s.count;
                smallest = std::min(smallest, s.count);
                largest = std::max(largest, s.count);
            }
            EXPECT_EQ(next, items);
            EXPECT_LE(largest - smallest, 1);
            EXPECT_EQ(share_of(0, ranks, items).count, largest); // rank 0 ends last
        }
    EXPECT_EQ(share_of(1, 3, 8).first, 3); // 3 + 3 + 2
    EXPECT_EQ(share_of(2, 3, 8).count, 2);
}

TEST(app_ensemble, launched_ranks_reads_the_launchers_environment) {
    ::unsetenv("PMI_SIZE");
    ::setenv("OMPI_COMM_WORLD_SIZE", "3", 1);
    EXPECT_EQ(glassy::app::launched_ranks(), 3);
    ::setenv("OMPI_COMM_WORLD_SIZE", "1", 1);
    EXPECT_EQ(glassy::app::launched_ranks(), 1);
    ::unsetenv("OMPI_COMM_WORLD_SIZE");
    EXPECT_EQ(glassy::app::launched_ranks(), 1);
    ::setenv("PMI_SIZE", "4", 1);
    EXPECT_EQ(glassy::app::launched_ranks(), 4);
    ::unsetenv("PMI_SIZE");
}
