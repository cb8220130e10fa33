#pragma once
// Test support: exact, dataset-by-dataset comparison of two records (NaN equals NaN).
#include "dynamics/record.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace glassy::test {

inline bool same(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!((std::isnan(a[i]) && std::isnan(b[i])) || a[i] == b[i])) return false;
    return true;
}

inline bool same(const row_matrix& a, const row_matrix& b) {
    return a.rows() == b.rows() && a.cols() == b.cols() &&
           same(std::vector<double>(a.data(), a.data() + a.size()), std::vector<double>(b.data(), b.data() + b.size()));
}

/// Every attribute and dataset equal, bit for bit; run-environment parameters (wall time,
/// threads) excluded.
inline void expect_identical_records(const record& a, const record& b) {
    auto pa = a.parameters, pb = b.parameters;
    for (const char* k : {"wall_seconds", "threads", "timing"}) {
        pa.erase(k);
        pb.erase(k);
    }
    EXPECT_EQ(pa, pb);
    EXPECT_EQ(a.system, b.system);
    EXPECT_EQ(a.method, b.method);
    EXPECT_EQ(a.complete, b.complete);
    EXPECT_TRUE(same(a.time, b.time));
    EXPECT_TRUE(same(a.energy, b.energy));
    EXPECT_TRUE(same(a.energy_samples, b.energy_samples));
    ASSERT_EQ(a.observables.size(), b.observables.size());
    for (const auto& [k, v] : a.observables) EXPECT_TRUE(same(v, b.observables.at(k))) << k;
    EXPECT_TRUE(same(a.aging.tw, b.aging.tw));
    EXPECT_TRUE(same(a.aging.t, b.aging.t));
    EXPECT_TRUE(same(a.aging.delta, b.aging.delta));
    ASSERT_EQ(a.aging.delta_samples.size(), b.aging.delta_samples.size());
    for (std::size_t s = 0; s < a.aging.delta_samples.size(); ++s)
        EXPECT_TRUE(same(a.aging.delta_samples[s], b.aging.delta_samples[s])) << "sample " << s;
    EXPECT_TRUE(same(a.aging.noise, b.aging.noise));
    ASSERT_EQ(a.extra.size(), b.extra.size());
    for (const auto& [k, v] : a.extra) {
        EXPECT_EQ(v.shape, b.extra.at(k).shape) << k;
        EXPECT_TRUE(same(v.data, b.extra.at(k).data)) << k;
    }
    ASSERT_EQ(a.extra_f32.size(), b.extra_f32.size());
    for (const auto& [k, v] : a.extra_f32) {
        EXPECT_EQ(v.shape, b.extra_f32.at(k).shape) << k;
        EXPECT_TRUE(v.data == b.extra_f32.at(k).data) << k; // float32, bit for bit
    }
    EXPECT_EQ(a.extra_i64, b.extra_i64);
}

} // namespace glassy::test
