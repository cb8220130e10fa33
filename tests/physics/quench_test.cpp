// The finite-N quench (physics/quench.hpp): reproducibility, Delta's bounds, replicas as samples,
// bit-identical resumption of a replica run, float32 couplings in the record, samples cut into
// blocks (--sample-offset, the MPI ranks of pspin_quench) giving the record of one run.
#include "physics/quench.hpp"

#include <gtest/gtest.h>

#include "support/record_compare.hpp"
#include "support/scratch.hpp"
#include <omp.h>

#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

TEST(quench, same_seed_same_record_and_thread_count_does_not_matter) {
    glassy::pspin_quench_parameters par;
    par.n = 40;
    par.tmax = 5;
    par.samples = 2;
    omp_set_num_threads(1);
    const auto a = glassy::run_pspin_quench(par);
    omp_set_num_threads(2);
    const auto b = glassy::run_pspin_quench(par);
    EXPECT_EQ(a.energy, b.energy);
    for (Eigen::Index i = 0; i < a.aging.delta.size(); ++i) {
        const double x = a.aging.delta.data()[i], y = b.aging.delta.data()[i];
        EXPECT_TRUE((std::isnan(x) && std::isnan(y)) || x == y);
    }
    par.seed = 2;
    const auto c = glassy::run_pspin_quench(par);
    EXPECT_NE(a.energy.back(), c.energy.back());
}

TEST(quench, delta_is_zero_at_equal_times_and_bounded_by_four) {
    glassy::pspin_quench_parameters par;
    par.n = 32;
    par.tmax = 50;
    par.temperature = 2.0;
    const auto rec = glassy::run_pspin_quench(par);
    ASSERT_EQ(rec.aging.t.front(), 0.0);
    for (Eigen::Index i = 0; i < rec.aging.delta.rows(); ++i) {
        EXPECT_EQ(rec.aging.delta(i, 0), 0.0);
        for (Eigen::Index j = 0; j < rec.aging.delta.cols(); ++j) {
            const double d = rec.aging.delta(i, j);
            if (std::isnan(d)) continue;
            EXPECT_GE(d, 0.0);
            EXPECT_LE(d, 4.0);
        }
    }
    // At T = 2 the system decorrelates: Delta at the longest lag is near 2 (C -> 0).
    EXPECT_NEAR(rec.aging.delta(0, rec.aging.delta.cols() - 2), 2.0, 0.6);
}

TEST(quench_replicas, replicas_count_as_samples_and_replica_zero_is_the_single_run) {
    glassy::pspin_quench_parameters par;
    par.n = 40;
    par.tmax = 4;
    par.samples = 2;
    const auto single = glassy::run_pspin_quench(par);
    par.replicas = 3;
    const auto rep = glassy::run_pspin_quench(par);
    ASSERT_EQ(rep.energy_samples.rows(), 6);
    ASSERT_EQ(rep.aging.delta_samples.size(), 6u);
    EXPECT_EQ(rep.parameters.at("replicas"), 3);
    EXPECT_EQ(rep.parameters.at("samples_completed"), 2);
    EXPECT_FALSE(single.parameters.contains("replicas"));
    // Replica 0 of sample s has the single run's seeds; only the summation order of the batched
    // gradient differs (1e-16 relative), amplified by at most e^{O(1) t} over t = 4.
    for (int s = 0; s < 2; ++s) {
        for (Eigen::Index k = 0; k < rep.energy_samples.cols(); ++k)
            EXPECT_NEAR(rep.energy_samples(3 * s, k), single.energy_samples(s, k), 1e-9) << "sample " << s;
        // The other replicas have their own initial conditions: at t = 4 the energies differ by
        // O(N^-1/2) sample-to-sample fluctuations, never by less than 1e-6.
        for (int r = 1; r < 3; ++r)
            EXPECT_GT(std::abs(rep.energy_samples(3 * s + r, 0) - rep.energy_samples(3 * s, 0)), 1e-6);
    }
    // The mean energy is the mean over all n_s = 6 rows.
    const Eigen::Index last = rep.energy_samples.cols() - 1;
    EXPECT_NEAR(rep.energy[static_cast<std::size_t>(last)], rep.energy_samples.col(last).mean(), 1e-14);
}

TEST(quench_replicas, thread_count_does_not_matter_with_replicas) {
    glassy::pspin_quench_parameters par;
    par.n = 100;
    par.tmax = 2;
    par.replicas = 5;
    par.method = glassy::quench_method::heun;
    omp_set_num_threads(1);
    const auto a = glassy::run_pspin_quench(par);
    omp_set_num_threads(2);
    const auto b = glassy::run_pspin_quench(par);
    EXPECT_EQ(a.energy, b.energy);
    EXPECT_TRUE(glassy::test::same(a.energy_samples, b.energy_samples));
}

TEST(quench_replicas, interrupted_and_resumed_replica_run_is_bit_identical) {
    const auto dir = glassy::test::scratch_dir("replica_ckpt");
    for (const std::string method : {"langevin", "heun", "metropolis"}) {
        glassy::pspin_quench_parameters par;
        par.n = 24;
        par.tmax = 20;
        par.samples = 2;
        par.replicas = 3;
        par.method = glassy::parse_quench_method(method);
        const auto full = glassy::run_pspin_quench(par);
        // Stop in the middle of sample 1 (hooks.stop is asked per step of the current sample).
        glassy::run_control control;
        control.checkpoint_path = dir / (method + ".ckpt");
        glassy::run_hooks hooks;
        int calls = 0;
        const int stop_after = method == "metropolis" ? 20 + 7 : 400 + 123;
        hooks.stop = [&](std::int64_t) { return ++calls > stop_after; };
        const auto partial = glassy::run_pspin_quench(par, hooks, control);
        ASSERT_FALSE(partial.complete) << method;
        const glassy::checkpoint saved = glassy::read_checkpoint(control.checkpoint_path);
        EXPECT_EQ(saved.integer("sample"), 1) << method;
        glassy::run_control resume;
        resume.checkpoint_path = control.checkpoint_path;
        resume.resume = &saved;
        const auto resumed = glassy::run_pspin_quench(par, {}, resume);
        ASSERT_TRUE(resumed.complete) << method;
        EXPECT_EQ(resumed.energy, full.energy) << method;
        EXPECT_TRUE(glassy::test::same(resumed.energy_samples, full.energy_samples)) << method;
        ASSERT_EQ(resumed.aging.delta_samples.size(), 6u);
        for (std::size_t k = 0; k < 6; ++k)
            EXPECT_TRUE(glassy::test::same(resumed.aging.delta_samples[k], full.aging.delta_samples[k])) << method;
        if (method == "metropolis") {
            EXPECT_EQ(resumed.observables.at("acceptance"), full.observables.at("acceptance"));
        }
    }
    std::filesystem::remove_all(dir);
}

TEST(quench_float32, float32_run_is_close_to_float64_and_recorded) {
    glassy::pspin_quench_parameters par;
    par.n = 40;
    par.tmax = 2;
    par.replicas = 2;
    const auto a = glassy::run_pspin_quench(par);
    par.couplings = glassy::coupling_precision::float32;
    const auto b = glassy::run_pspin_quench(par);
    EXPECT_EQ(b.parameters.at("couplings"), "float32");
    EXPECT_FALSE(a.parameters.contains("couplings"));
    // Couplings perturbed by 6e-8 relative, same noise: trajectories agree to ~1e-7 e^{O(t)}.
    EXPECT_NEAR(a.energy.back(), b.energy.back(), 1e-5);
    EXPECT_NE(a.energy.back(), b.energy.back());
    EXPECT_THROW((void)glassy::parse_coupling_precision("float16"), glassy::field_error);
}

namespace {

// The samples of `par` cut into blocks of the given sizes, each measured on its own (as the
// ranks of an MPI job do), through to_bytes as over MPI, and assembled.
glassy::record assembled_from_blocks(const glassy::pspin_quench_parameters& par, const std::vector<int>& sizes) {
    std::vector<glassy::sample_block> blocks;
    int first = par.sample_offset;
    for (int size : sizes) {
        glassy::pspin_quench_parameters part = par;
        part.sample_offset = first;
        part.samples = size;
        first += size;
        const std::string bytes = glassy::to_bytes(glassy::measure_pspin_samples(part).save());
        blocks.push_back(glassy::sample_block::restore(glassy::checkpoint_from_bytes(bytes)));
    }
    return glassy::assemble_pspin_quench(par, blocks);
}

} // namespace

TEST(quench_blocks, samples_cut_into_blocks_give_the_record_of_one_run_bit_for_bit) {
    for (const std::string method : {"langevin", "metropolis"})
        for (const int replicas : {1, 2}) {
            glassy::pspin_quench_parameters par;
            par.n = 24;
            par.tmax = 6;
            par.samples = 5;
            par.replicas = replicas;
            par.method = glassy::parse_quench_method(method);
            const auto whole = glassy::run_pspin_quench(par);
            SCOPED_TRACE(method + ", replicas " + std::to_string(replicas));
            glassy::test::expect_identical_records(assembled_from_blocks(par, {2, 2, 1}), whole);
            glassy::test::expect_identical_records(assembled_from_blocks(par, {1, 4}), whole);
        }
}

TEST(quench_blocks, a_sample_offset_run_computes_exactly_those_samples_of_the_larger_run) {
    glassy::pspin_quench_parameters par;
    par.n = 24;
    par.tmax = 6;
    par.samples = 4;
    const auto whole = glassy::run_pspin_quench(par);
    par.sample_offset = 1;
    par.samples = 2;
    const auto part = glassy::run_pspin_quench(par);
    EXPECT_EQ(part.parameters.at("sample_offset"), 1);
    EXPECT_FALSE(whole.parameters.contains("sample_offset")); // absent at 0: records as before
    ASSERT_EQ(part.energy_samples.rows(), 2);
    for (Eigen::Index s = 0; s < 2; ++s) {
        EXPECT_TRUE(glassy::test::same(glassy::row_matrix(part.energy_samples.row(s)),
                                       glassy::row_matrix(whole.energy_samples.row(s + 1))))
            << s;
        EXPECT_TRUE(glassy::test::same(part.aging.delta_samples[static_cast<std::size_t>(s)],
                                       whole.aging.delta_samples[static_cast<std::size_t>(s + 1)]));
    }
    // The blocks of an offset run assemble into it as well.
    glassy::test::expect_identical_records(assembled_from_blocks(par, {1, 1}), part);
}

TEST(quench_blocks, blocks_that_do_not_cover_the_samples_in_order_are_refused) {
    glassy::pspin_quench_parameters par;
    par.n = 12;
    par.tmax = 2;
    par.samples = 3;
    glassy::pspin_quench_parameters part = par;
    part.samples = 1;
    const auto b0 = glassy::measure_pspin_samples(part);
    part.sample_offset = 2;
    const auto b2 = glassy::measure_pspin_samples(part);
    EXPECT_THROW((void)glassy::assemble_pspin_quench(par, {b0, b2}), glassy::error);     // sample 1 missing
    EXPECT_THROW((void)glassy::assemble_pspin_quench(par, {b0}), glassy::error);         // too few
    EXPECT_THROW((void)glassy::assemble_pspin_quench(par, {b0, b0, b2}), glassy::error); // overlap
}

TEST(quench_blocks, a_stopped_block_leaves_the_samples_finished_before_it_as_one_process_does) {
    glassy::pspin_quench_parameters par;
    par.n = 16;
    par.tmax = 10;
    par.samples = 4;
    // hooks.stop that stops at step 50 of the k-th sample it sees (steps restart at each sample;
    // the run copies hooks.stop for each sample, so the count lives outside the copies).
    const auto stop_in = [](int k) {
        auto seen = std::make_shared<std::pair<int, std::int64_t>>(0, -1); // samples seen, last step
        return [k, seen](std::int64_t step) {
            if (step < seen->second) ++seen->first;
            seen->second = step;
            return seen->first == k && step >= 50;
        };
    };
    glassy::run_hooks hooks;
    hooks.stop = stop_in(2); // one process, stopped inside sample 2
    const auto single = glassy::run_pspin_quench(par, hooks);
    ASSERT_FALSE(single.complete);
    ASSERT_EQ(single.parameters.at("samples_completed"), 2);
    // Blocks {0, 1} (finished) and {2, 3}, stopped inside its first sample: the same partial record.
    glassy::pspin_quench_parameters part = par;
    part.samples = 2;
    const auto b0 = glassy::measure_pspin_samples(part);
    part.sample_offset = 2;
    hooks.stop = stop_in(0);
    const auto b1 = glassy::measure_pspin_samples(part, hooks);
    ASSERT_TRUE(b1.end.stopped());
    glassy::test::expect_identical_records(glassy::assemble_pspin_quench(par, {b0, b1}), single);
}

namespace {

// The part record of samples [first, first + count) of `par`, named "part_<first>".
glassy::named_record part_record(glassy::pspin_quench_parameters par, int first, int count) {
    par.sample_offset = first;
    par.samples = count;
    return {"part_" + std::to_string(first),
            glassy::assemble_pspin_quench(par, {glassy::measure_pspin_samples(par)}, true)};
}

// The one-line message merge_pspin_parts throws for `parts`.
std::string merge_error(const std::vector<glassy::named_record>& parts) {
    try {
        (void)glassy::merge_pspin_parts(parts);
    } catch (const glassy::parameter_error& e) {
        return e.what();
    }
    return "(merged)";
}

} // namespace

TEST(quench_blocks, part_records_merge_into_the_record_of_one_run_in_any_order) {
    for (const std::string method : {"langevin", "metropolis"}) {
        glassy::pspin_quench_parameters par;
        par.n = 20;
        par.tmax = 5;
        par.samples = 5;
        par.replicas = method == "langevin" ? 2 : 1;
        par.method = glassy::parse_quench_method(method);
        const auto whole = glassy::run_pspin_quench(par);
        const auto merged =
            glassy::merge_pspin_parts({part_record(par, 3, 2), part_record(par, 0, 1), part_record(par, 1, 2)});
        SCOPED_TRACE(method);
        EXPECT_FALSE(merged.extra.count("sample_block/done/0/energy")); // the whole run is no part
        glassy::test::expect_identical_records(merged, whole);
    }
}

TEST(quench_blocks, parts_that_do_not_belong_together_are_refused_naming_them) {
    glassy::pspin_quench_parameters par;
    par.n = 12;
    par.tmax = 2;
    par.samples = 6;
    const auto a = part_record(par, 0, 2), b = part_record(par, 2, 2), c = part_record(par, 3, 2);
    EXPECT_EQ(merge_error({a, c}), "no part holds sample 2 (between part_0 and part_3)");
    EXPECT_EQ(merge_error({a, b, c}), "part_2 and part_3 overlap (sample 3 in both)");
    glassy::pspin_quench_parameters hot = par;
    hot.temperature = 1.0;
    EXPECT_EQ(merge_error({a, part_record(hot, 2, 2)}),
              "part_0 and part_2 are not parts of one run: parameter 'T' differs");
    glassy::named_record plain{"plain", glassy::run_pspin_quench(par)};
    EXPECT_EQ(merge_error({plain}), "plain: no /sample_block (write the parts with --sample-offset)");
    glassy::named_record cut = b;
    cut.rec.complete = false;
    EXPECT_EQ(merge_error({a, cut}), "part_2: an incomplete part (resume or rerun it first)");
}
