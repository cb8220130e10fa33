// Tests of the run layer (dynamics/run_control.hpp) and of the checkpoint pieces every run uses:
// when a trigger is due, how a run's end marks its record, observers on their own schedule,
// and the matrix / vector entries of a checkpoint.
#include "dynamics/checkpoint.hpp"
#include "dynamics/error.hpp"
#include "dynamics/recorders.hpp"
#include "dynamics/run_control.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>
#include <vector>

namespace glassy {
namespace {

TEST(trigger, default_is_never_due) {
    const trigger never;
    for (std::int64_t step = 0; step < 100; ++step) EXPECT_FALSE(never.due(step)) << step;
}

TEST(trigger, every_n_steps_is_due_at_the_multiples_of_n) {
    const trigger every(7, 0);
    std::vector<std::int64_t> due;
    for (std::int64_t step = 1; step <= 30; ++step)
        if (every.due(step)) due.push_back(step);
    EXPECT_EQ(due, (std::vector<std::int64_t>{7, 14, 21, 28}));
}

// By wall time: not due right after reset() with an hour to go; due once the interval has
// passed (the sleep lasts at least the interval, whatever the machine's load).
TEST(trigger, every_t_seconds_is_due_once_t_has_passed_since_reset) {
    trigger hourly(0, 3600.0);
    hourly.reset();
    EXPECT_FALSE(hourly.due(1));
    trigger fast(0, 0.002);
    fast.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    EXPECT_TRUE(fast.due(1));
    fast.reset();
    trigger both(1000, 3600.0);
    both.reset();
    EXPECT_TRUE(both.due(2000));
    EXPECT_FALSE(both.due(2001));
}

TEST(run_end, marks_the_record_complete_or_stopped_with_its_message) {
    record done;
    run_end{}.mark(done);
    EXPECT_TRUE(done.complete);
    EXPECT_FALSE(done.parameters.contains("stop_reason"));

    record stopped;
    stopped.parameters = nlohmann::json::object();
    const run_end interrupted{stop_reason::interrupted, "interrupted at step 5 of 300"};
    interrupted.mark(stopped);
    EXPECT_FALSE(stopped.complete);
    EXPECT_EQ(stopped.parameters.at("stop_reason"), "interrupted at step 5 of 300");

    record quiet; // a CK run stores no message
    run_end{stop_reason::interrupted, ""}.mark(quiet);
    EXPECT_FALSE(quiet.complete);
    EXPECT_FALSE(quiet.parameters.contains("stop_reason"));

    record converged; // a stopping rule met: complete, with its reason
    converged.parameters = nlohmann::json::object();
    run_end{stop_reason::converged, "training loss 8e-11 below --stop-loss 1e-10 at step 40"}.mark(converged);
    EXPECT_TRUE(converged.complete);
    EXPECT_EQ(converged.parameters.at("stop_reason"), "training loss 8e-11 below --stop-loss 1e-10 at step 40");
}

struct counting_observer {
    std::vector<std::int64_t> steps;
    void operator()(int, double, std::int64_t step, double) { steps.push_back(step); }
};

TEST(on_schedule, fires_only_at_its_own_steps) {
    counting_observer seen;
    on_schedule<counting_observer> observer{schedule({2, 5, 9}), seen};
    for (std::int64_t step = 0; step <= 6; ++step) observer(0, 0.0, step, 0.0);
    EXPECT_EQ(seen.steps, (std::vector<std::int64_t>{2, 5}));
}

TEST(checkpoint_entries, matrix_and_vectors_round_trip_exactly) {
    checkpoint c;
    row_matrix m(2, 3);
    m << 1, 2, 3, 4, 5, 6.5;
    c.put_matrix("t/delta", m);
    EXPECT_EQ(c.matrix("t/delta"), m);
    EXPECT_EQ(c.arrays.at("t/delta").shape, (std::vector<std::uint64_t>{2, 3}));
    const Eigen::VectorXd d = Eigen::VectorXd::LinSpaced(4, 0.1, 0.4);
    const Eigen::VectorXf f = Eigen::VectorXf::LinSpaced(3, 1.5f, 2.5f);
    c.put_vector("d", d);
    c.put_vector("f", f);
    EXPECT_EQ(c.arrays.count("d"), 1u);
    EXPECT_EQ(c.arrays_f32.count("f"), 1u);
    EXPECT_EQ(*c.find_vector<double>("d", 4), d);
    EXPECT_EQ(*c.find_vector<float>("f", 3), f);
    EXPECT_FALSE(c.find_vector<double>("absent", 4).has_value());
    EXPECT_THROW((void)c.find_vector<double>("d", 5), record_error);
    EXPECT_THROW((void)c.matrix("d"), record_error);      // one-dimensional
    EXPECT_THROW((void)c.matrix("absent"), record_error); // missing
}

} // namespace
} // namespace glassy
