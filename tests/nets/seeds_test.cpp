// Several seeds as one record (nets/seeds.hpp, issue 17): the --seeds parser and join_seeds on
// hand-made records, whose means are known exactly (sums of a few binary fractions).
#include "nets/seeds.hpp"

#include "dynamics/error.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace glassy::nets {
namespace {

std::string error_of(const std::string& value) {
    try {
        (void)parse_seeds(value, "--seeds");
    } catch (const parameter_error& e) {
        return e.what();
    }
    return {};
}

TEST(seeds, parse_ranges_and_lists) {
    EXPECT_EQ(parse_seeds("1-3", "--seeds"), (std::vector<std::uint64_t>{1, 2, 3}));
    EXPECT_EQ(parse_seeds("7-7", "--seeds"), (std::vector<std::uint64_t>{7}));
    EXPECT_EQ(parse_seeds("5,2,9", "--seeds"), (std::vector<std::uint64_t>{5, 2, 9}));
    EXPECT_EQ(parse_seeds("0", "--seeds"), (std::vector<std::uint64_t>{0}));
    EXPECT_EQ(error_of("3-1"), "--seeds '3-1': the range ends below its start");
    EXPECT_EQ(error_of("a"), "--seeds 'a': 'a' is not a seed (an integer 0 .. 2^63 - 1)");
    EXPECT_EQ(error_of(""), "--seeds is empty (expected a-b or a,b,c)");
    EXPECT_EQ(error_of("1,2,1"), "--seeds '1,2,1': seed 1 is repeated");
    EXPECT_EQ(error_of("1,,2"), "--seeds '1,,2': '' is not a seed (an integer 0 .. 2^63 - 1)");
    EXPECT_EQ(error_of("1-"), "--seeds '1-': '' is not a seed (an integer 0 .. 2^63 - 1)");
    EXPECT_EQ(error_of("-3"), "--seeds '-3': '' is not a seed (an integer 0 .. 2^63 - 1)");
    EXPECT_EQ(error_of("9223372036854775808"),
              "--seeds '9223372036854775808': '9223372036854775808' is not a seed (an integer 0 .. 2^63 - 1)");
    EXPECT_EQ(error_of("0-1048576"), "--seeds '0-1048576': more than 2^20 seeds");
}

/// A net record of 3 times and 2 x 2 aging points whose values are `x` times small integers.
record run_of(double x) {
    record r;
    r.system = "net";
    r.method = "sgd";
    r.parameters = {{"seed", 1}, {"steps", 4}, {"input_mean", {x}}, {"input_std", {2 * x}}};
    r.time = {1, 2, 4};
    r.energy = {x, 2 * x, 3 * x};
    r.observables["train_loss"] = r.energy;
    r.observables["test_accuracy"] = {0.25 * x, 0.5 * x, 0.75 * x};
    r.aging.tw = {1, 2};
    r.aging.t = {1, 2};
    r.aging.delta = row_matrix{{x, 2 * x}, {3 * x, 4 * x}};
    r.aging.noise = {x, -x};
    r.extra["measurement/train_indices"] = {{2}, {x, x + 1}};
    r.extra_f32["snapshots/weights"] = {{2, 1}, {float(x), float(-x)}};
    return r;
}

TEST(seeds, join_keeps_each_seed_and_the_means_in_seed_order) {
    const record j = join_seeds({run_of(1.0), run_of(2.0), run_of(4.0)}, {3, 8, 5});
    EXPECT_EQ(j.time, (std::vector<double>{1, 2, 4}));
    EXPECT_EQ(j.energy, (std::vector<double>{7.0 / 3, 14.0 / 3, 21.0 / 3}));
    EXPECT_EQ(j.observables.at("test_accuracy"), (std::vector<double>{1.75 / 3, 3.5 / 3, 5.25 / 3}));
    ASSERT_EQ(j.energy_samples.rows(), 3);
    EXPECT_EQ(j.energy_samples(2, 1), 8.0);
    ASSERT_EQ(j.aging.delta_samples.size(), 3u);
    EXPECT_EQ(j.aging.delta_samples[1](1, 0), 6.0);
    EXPECT_EQ(j.aging.delta(1, 1), 28.0 / 3);
    EXPECT_EQ(j.aging.noise, (std::vector<double>{7.0 / 3, -7.0 / 3}));
    const auto& noise = j.extra.at("seeds/aging/noise");
    EXPECT_EQ(noise.shape, (std::vector<std::uint64_t>{3, 2}));
    EXPECT_EQ(noise.data, (std::vector<double>{1, -1, 2, -2, 4, -4}));
    EXPECT_EQ(j.extra.at("seeds/observables/test_accuracy").shape, (std::vector<std::uint64_t>{3, 3}));
    EXPECT_EQ(j.extra.at("seeds/measurement/train_indices").data, (std::vector<double>{1, 2, 2, 3, 4, 5}));
    EXPECT_EQ(j.extra.count("measurement/train_indices"), 0u);
    EXPECT_EQ(j.extra_f32.at("seeds/snapshots/weights").shape, (std::vector<std::uint64_t>{3, 2, 1}));
    EXPECT_EQ(j.extra_f32.count("snapshots/weights"), 0u);
    EXPECT_EQ(j.extra.at("seeds/input_std").data, (std::vector<double>{2, 4, 8}));
    EXPECT_EQ(j.extra_i64.at("seeds/seed").data, (std::vector<std::int64_t>{3, 8, 5}));
    EXPECT_EQ(j.parameters.dump(), R"({"seeds":[3,8,5],"steps":4})");
}

TEST(seeds, join_refuses_runs_that_do_not_belong_together) {
    record shorter = run_of(2.0);
    shorter.time.pop_back();
    EXPECT_THROW((void)join_seeds({run_of(1.0), shorter}, {1, 2}), record_error);
    record partial = run_of(2.0);
    partial.complete = false;
    EXPECT_THROW((void)join_seeds({run_of(1.0), partial}, {1, 2}), record_error);
    record reshaped = run_of(2.0);
    reshaped.extra["measurement/train_indices"] = {{1}, {2.0}};
    EXPECT_THROW((void)join_seeds({run_of(1.0), reshaped}, {1, 2}), record_error);
    EXPECT_THROW((void)join_seeds({run_of(1.0)}, {1, 2}), parameter_error);
}

} // namespace
} // namespace glassy::nets
