#pragma once
// Shared helpers of the nets tests: small synthetic systems.
#include "nets/datasets.hpp"
#include "nets/models.hpp"
#include "nets/network.hpp"
#include "nets/quench.hpp"
#include "support/record_compare.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace glassy::nets::testing {

/// A synthetic dataset of `train` / `test` images of the given shape (seeded).
inline dataset_pair small_data(std::int64_t train, std::int64_t test, std::int64_t channels = 1, std::int64_t side = 28,
                               std::uint64_t seed = 7) {
    synthetic_options o;
    o.train_count = train;
    o.test_count = test;
    o.channels = channels;
    o.height = side;
    o.width = side;
    o.seed = seed;
    return make_synthetic(o);
}

/// A network system of `kind` on `data`, initialised from torch seed `seed`.
inline std::unique_ptr<network_system> make_system(model_kind kind, const dataset_pair& data, torch::Dtype dtype,
                                                   std::int64_t hidden = 100, std::uint64_t seed = 3) {
    torch::manual_seed(seed);
    const input_shape shape{data.train.channels, data.train.height, data.train.width, data.train.classes};
    auto model = make_model(kind, shape, {.hidden = hidden});
    return std::make_unique<network_system>(model, data.train, data.test, compute_channel_stats(data.train),
                                            network_options{torch::kCPU, dtype});
}

/// Expects that constructing a quench from `o` throws field_error whose key is `key` (the library
/// names the field; the app prints its flag: issue 12 section 5).
inline void expect_refused(const quench_options& o, const std::string& key) {
    try {
        quench q(o);
        ADD_FAILURE() << key << " accepted";
    } catch (const field_error& e) {
        EXPECT_EQ(e.key(), key) << e.what();
    }
}

/// Expects that a quench of `o` resumed from checkpoint `c` writes exactly `reference` (the record
/// of the same run without interruption; glassy::test::expect_identical_records).
inline void expect_resumes_to(const quench_options& o, const checkpoint& c, const record& reference) {
    quench q(o);
    run_control control;
    control.resume = &c;
    test::expect_identical_records(reference, q.run({}, control));
}

} // namespace glassy::nets::testing
