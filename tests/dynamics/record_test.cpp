#include "dynamics/error.hpp"
#include "dynamics/record.hpp"

#include <gtest/gtest.h>

#include <H5Cpp.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>

namespace fs = std::filesystem;

namespace {

fs::path temp_path(const std::string& name) {
    const auto dir = fs::temp_directory_path() / ("glassy_record_test_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    return dir / name;
}

glassy::record sample_record() {
    glassy::record r;
    r.system = "pspin";
    r.method = "langevin";
    r.parameters = {{"N", 64}, {"T", 0.5}, {"seed", 3}, {"num_parameters", 64}};
    r.time = {0, 1, 2};
    r.energy = {0.0, -0.5, -0.7};
    r.energy_samples = glassy::row_matrix{{0.0, -0.4, -0.6}, {0.0, -0.6, -0.8}};
    r.observables["mu"] = {0.5, 2.0, 2.6};
    r.aging.tw = {1, 2};
    r.aging.t = {0, 1};
    const double nan = std::numeric_limits<double>::quiet_NaN();
    r.aging.delta = glassy::row_matrix{{0.0, 0.3}, {0.0, nan}};
    r.aging.delta_samples = {glassy::row_matrix{{0.0, 0.2}, {0.0, nan}}, glassy::row_matrix{{0.0, 0.4}, {0.0, nan}}};
    r.aging.noise = {0.5, 0.5};
    r.extra["ck/C"] = {{2, 2}, {1.0, 0.5, 0.5, 1.0}};
    r.extra_f32["snapshots/weights"] = {{2, 3}, {1.f, 2.f, 3.f, 4.f, 5.f, 6.f}};
    return r;
}

bool same_matrix(const glassy::row_matrix& a, const glassy::row_matrix& b) {
    if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
    for (Eigen::Index i = 0; i < a.size(); ++i) {
        const double x = a.data()[i], y = b.data()[i];
        if (!((std::isnan(x) && std::isnan(y)) || x == y)) return false;
    }
    return true;
}

} // namespace

TEST(record, round_trip_preserves_every_dataset_and_attribute) {
    const auto path = temp_path("round.h5");
    const auto r = sample_record();
    glassy::write_record(r, path);
    const auto q = glassy::read_record(path);
    EXPECT_EQ(q.system, r.system);
    EXPECT_EQ(q.method, r.method);
    EXPECT_EQ(q.parameters, r.parameters);
    EXPECT_TRUE(q.complete);
    EXPECT_EQ(q.time, r.time);
    EXPECT_EQ(q.energy, r.energy);
    EXPECT_TRUE(same_matrix(q.energy_samples, r.energy_samples));
    EXPECT_EQ(q.observables, r.observables);
    EXPECT_EQ(q.aging.tw, r.aging.tw);
    EXPECT_EQ(q.aging.t, r.aging.t);
    EXPECT_TRUE(same_matrix(q.aging.delta, r.aging.delta));
    ASSERT_EQ(q.aging.delta_samples.size(), 2u);
    EXPECT_TRUE(same_matrix(q.aging.delta_samples[1], r.aging.delta_samples[1]));
    EXPECT_EQ(q.aging.noise, r.aging.noise);
    EXPECT_EQ(q.extra, r.extra);
    EXPECT_EQ(q.extra_f32, r.extra_f32);
    // No temporary file is left beside the result.
    int files = 0;
    for (const auto& e : fs::directory_iterator(path.parent_path())) files += e.path().string().find(".tmp.") != std::string::npos;
    EXPECT_EQ(files, 0);
}

TEST(record, mean_of_samples) {
    const auto r = sample_record();
    const auto m = glassy::mean_of(r.aging.delta_samples);
    EXPECT_NEAR(m(0, 1), 0.3, 1e-15);
    EXPECT_TRUE(std::isnan(m(1, 1)));
}

TEST(record, refuses_what_is_not_a_record) {
    auto expect_error = [](const fs::path& p, const std::string& fragment) {
        try {
            (void)glassy::read_record(p);
            ADD_FAILURE() << "no error for " << p;
        } catch (const glassy::record_error& e) {
            EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
            EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
        }
    };
    expect_error(temp_path("missing.h5"), "no such file");
    {
        std::ofstream(temp_path("text.h5")) << "hello";
    }
    expect_error(temp_path("text.h5"), "not an HDF5 file");
    {
        H5::H5File f(temp_path("foreign.h5").string(), H5F_ACC_TRUNC);
    }
    expect_error(temp_path("foreign.h5"), "not a glassy record");
    auto r = sample_record();
    glassy::write_record(r, temp_path("newer.h5"));
    {
        H5::H5File f(temp_path("newer.h5").string(), H5F_ACC_RDWR);
        auto a = f.openGroup("/").openAttribute("format_version");
        const int v = 99;
        a.write(H5::PredType::NATIVE_INT, &v);
    }
    expect_error(temp_path("newer.h5"), "newer");
    glassy::write_record(r, temp_path("nodelta.h5"));
    {
        H5::H5File f(temp_path("nodelta.h5").string(), H5F_ACC_RDWR);
        f.unlink("aging/delta");
    }
    expect_error(temp_path("nodelta.h5"), "/aging/delta missing");
}

TEST(record, inconsistent_records_are_not_written_and_leave_no_file) {
    auto r = sample_record();
    r.energy.pop_back();
    const auto path = temp_path("bad.h5");
    EXPECT_THROW(glassy::write_record(r, path), glassy::record_error);
    EXPECT_FALSE(fs::exists(path));
    EXPECT_THROW(glassy::write_record(sample_record(), temp_path("no/such/dir/x.h5")), glassy::record_error);
}
