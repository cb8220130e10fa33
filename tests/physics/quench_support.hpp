#pragma once
// Interrupt-and-resume helpers for the finite-N quench tests (hessian_test, barrier_test).
#include "dynamics/checkpoint.hpp"
#include "physics/quench.hpp"

#include <gtest/gtest.h>

#include "support/record_compare.hpp"

#include <cstdint>
#include <filesystem>

namespace glassy::test {

/// Runs `par` with a checkpoint at `path`, stopped by its stop hook after `stop_after` steps
/// (counted over all samples); expects a partial record and returns the final checkpoint.
inline checkpoint interrupted_quench(const pspin_quench_parameters& par, int stop_after,
                                     const std::filesystem::path& path) {
    run_control control;
    control.checkpoint_path = path;
    run_hooks hooks;
    int calls = 0;
    hooks.stop = [&](std::int64_t) { return ++calls > stop_after; };
    EXPECT_FALSE(run_pspin_quench(par, hooks, control).complete);
    return read_checkpoint(path);
}

/// Resumes `par` from `saved` and expects the record `full` of the uninterrupted run, bit for bit.
inline void expect_resumes_to(const pspin_quench_parameters& par, const checkpoint& saved, const record& full) {
    run_control resume;
    resume.resume = &saved;
    const auto resumed = run_pspin_quench(par, {}, resume);
    ASSERT_TRUE(resumed.complete);
    expect_identical_records(full, resumed);
}

} // namespace glassy::test
