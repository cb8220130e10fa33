// The helpers shared by the apps (apps/common.hpp): refusing flags that have no effect, the
// one-time duration estimate every run prints after its first seconds, flags shared by two field
// tables, error messages naming flags, and the run-output flags; how the samples are shared
// among MPI ranks (apps/ensemble.hpp).
#include "apps/common.hpp"
#include "apps/ensemble.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <vector>

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

namespace {

struct first_struct {
    int steps = 5;
};
struct second_struct {
    int count = 7; // shares --steps with first_struct
    double rate = 0.5;
};

const glassy::field_table<first_struct>& first_fields() {
    static const glassy::field_table<first_struct> t = {{"/steps", "--steps", "steps", &first_struct::steps}};
    return t;
}
const glassy::field_table<second_struct>& second_fields() {
    static const glassy::field_table<second_struct> t = {{"/count", "--steps", "", &second_struct::count},
                                                         {"/rate", "--rate", "rate", &second_struct::rate}};
    return t;
}

void parse(CLI::App& app, std::vector<const char*> args) {
    args.insert(args.begin(), "test");
    app.parse(static_cast<int>(args.size()), const_cast<char**>(args.data()));
}

} // namespace

// Issue 12 §5: a flag two field tables name is one option; the second table's member takes its
// value only when it was given, and the flag names the field of either in messages.
TEST(app_common, a_flag_of_two_tables_is_shared) {
    for (const bool given : {true, false}) {
        CLI::App app{"test"};
        first_struct a;
        second_struct b;
        const glassy::app::flag_set<first_struct> first(app, first_fields(), a);
        const glassy::app::flag_set<second_struct> second(app, second_fields(), b);
        parse(app, given ? std::vector<const char*>{"--steps", "9"} : std::vector<const char*>{});
        first.apply();
        second.apply();
        EXPECT_EQ(a.steps, given ? 9 : 5);
        EXPECT_EQ(b.count, given ? 9 : 7) << "given " << given;
        EXPECT_EQ(second.flags(), (std::vector<std::string>{"--steps", "--rate"}));
        EXPECT_EQ(second.flags(true), std::vector<std::string>{"--rate"});
        EXPECT_EQ(glassy::app::first_given(app, second.flags()), given ? "--steps" : "");
        const glassy::field_error count("count", "must be >= 1");
        EXPECT_EQ(glassy::app::error_message(count, first, second), "--steps must be >= 1");
        EXPECT_EQ(glassy::app::error_message(glassy::field_error("rate", "must be > 0"), first, second),
                  "--rate must be > 0");
        // A key no set binds, and any other error, keep their own message.
        EXPECT_EQ(glassy::app::error_message(glassy::field_error("other", "is bad"), first, second), "other is bad");
        EXPECT_EQ(glassy::app::error_message(glassy::record_error("x.h5: not a record"), first), "x.h5: not a record");
    }
}

// Issue 12 §5: the run-output flags, one declaration for every tool: the checkpoint file is
// --checkpoint, else the resumed file, else OUT.ckpt; the interval is parsed into the trigger.
TEST(app_common, run_output_flags_give_the_checkpoint_file_and_trigger) {
    struct path_case {
        std::vector<const char*> args;
        std::string checkpoint;
    };
    for (const auto& [args, expected] : {path_case{{}, "tool.h5.ckpt"}, path_case{{"--out", "r.h5"}, "r.h5.ckpt"},
                                         path_case{{"--resume", "old.ckpt"}, "old.ckpt"},
                                         path_case{{"--resume", "old.ckpt", "--checkpoint", "new.ckpt"}, "new.ckpt"}}) {
        CLI::App app{"test"};
        glassy::app::run_output o{"tool.h5"};
        glassy::app::add_run_output_flags(app, o);
        parse(app, args);
        EXPECT_EQ(o.checkpoint_path(), expected);
    }
    CLI::App app{"test"};
    glassy::app::run_output o{"tool.h5"};
    glassy::app::add_run_output_flags(app, o);
    parse(app, {"--checkpoint-every", "2m", "--force", "--quiet"});
    EXPECT_TRUE(o.force && o.quiet);
    const glassy::run_control control = glassy::app::output_control(o, std::nullopt);
    EXPECT_EQ(control.checkpoint_path, "tool.h5.ckpt");
    EXPECT_EQ(control.resume, nullptr);
    EXPECT_EQ(control.checkpoint_every.every_seconds(), 120.0);
    EXPECT_EQ(control.checkpoint_every.every_steps(), 0);
    o.checkpoint_every = "2x";
    EXPECT_THROW((void)glassy::app::output_control(o, std::nullopt), glassy::parameter_error);
}
