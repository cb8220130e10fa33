#include "dynamics/checkpoint.hpp"
#include "dynamics/error.hpp"
#include "dynamics/record.hpp"
#include "support/record_compare.hpp"
#include "support/sample_record.hpp"
#include "support/scratch.hpp"

#include <gtest/gtest.h>

#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <vector>

namespace fs = std::filesystem;

namespace {

fs::path temp_path(const std::string& name) { return glassy::test::scratch_dir("record_test") / name; }

glassy::record sample_record() { return glassy::test::full_sample_record(); }

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
    EXPECT_TRUE(glassy::test::same(q.energy_samples, r.energy_samples));
    EXPECT_EQ(q.observables, r.observables);
    EXPECT_EQ(q.aging.tw, r.aging.tw);
    EXPECT_EQ(q.aging.t, r.aging.t);
    EXPECT_TRUE(glassy::test::same(q.aging.delta, r.aging.delta));
    ASSERT_EQ(q.aging.delta_samples.size(), 2u);
    EXPECT_TRUE(glassy::test::same(q.aging.delta_samples[1], r.aging.delta_samples[1]));
    EXPECT_EQ(q.aging.noise, r.aging.noise);
    EXPECT_EQ(q.extra, r.extra);
    EXPECT_EQ(q.extra_f32, r.extra_f32);
    EXPECT_EQ(q.extra_i64, r.extra_i64); // int64, exact
    // No temporary file is left beside the result.
    int files = 0;
    for (const auto& e : fs::directory_iterator(path.parent_path()))
        files += e.path().string().find(".tmp.") != std::string::npos;
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
    { std::ofstream(temp_path("text.h5")) << "hello"; }
    expect_error(temp_path("text.h5"), "not an HDF5 file");
    { H5::H5File f(temp_path("foreign.h5").string(), H5F_ACC_TRUNC); }
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

// ---- regressions found by fuzzing and by the crafted files of tests/fuzz (docs/reliability.md) ----
// Each malformed file below used to crash the reader (uncaught std::length_error, stack
// overflow, SEGV or stack-buffer overflow under ASan); each must now give one record_error.

namespace {

// Expects `read` to throw record_error whose one-line message contains `fragment`.
template <class Read>
void expect_record_error(Read&& read, const std::string& fragment) {
    try {
        read();
        ADD_FAILURE() << "no error (expected '" << fragment << "')";
    } catch (const glassy::record_error& e) {
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    }
}

// Writes a valid record (or checkpoint) to `name`, then lets `corrupt` edit it through HDF5.
template <class Corrupt>
fs::path corrupted_record(const std::string& name, Corrupt&& corrupt) {
    const auto path = temp_path(name);
    glassy::write_record(sample_record(), path);
    H5::H5File f(path.string(), H5F_ACC_RDWR);
    corrupt(f);
    return path;
}
template <class Corrupt>
fs::path corrupted_checkpoint(const std::string& name, Corrupt&& corrupt) {
    const auto path = temp_path(name);
    glassy::checkpoint c;
    c.tool = "t";
    c.config = "{}";
    c.strings["rng"] = "1 2 3";
    c.integers["step"] = 7;
    glassy::write_checkpoint(c, path);
    H5::H5File f(path.string(), H5F_ACC_RDWR);
    corrupt(f);
    return path;
}

// The fuzzer's first crash (record_fuzzer, seed full.h5): the 16 bytes of the current and
// maximum dimensions of /time's dataspace overwritten by "N2H514FileIExce\0", i.e. a shape of
// ~7e18 values; read_dataset resized a vector to it (std::length_error, not glassy::error).
// Below, the same mutation applied to a minimal record (h5py, /time = /energy = 0..6), stored
// as (offset, length, bytes) runs of the 8464-byte file; the bytes not listed are zero.
struct byte_run {
    std::size_t offset;
    std::size_t length;
    const char* bytes;
};
constexpr std::size_t fuzz_shape_size = 8464;
constexpr byte_run fuzz_shape_runs[] = {
    {0, 8, "\x89\x48\x44\x46\x0d\x0a\x1a\x0a"},
    {13, 6, "\x08\x08\x00\x04\x00\x10"},
    {32, 10, "\xff\xff\xff\xff\xff\xff\xff\xff\x10\x21"},
    {48, 8, "\xff\xff\xff\xff\xff\xff\xff\xff"},
    {64, 1, "\x60"},
    {72, 1, "\x01"},
    {80, 1, "\x88"},
    {88, 2, "\xa8\x02"},
    {96, 9, "\x01\x00\x07\x00\x01\x00\x00\x00\x18"},
    {112, 3, "\x10\x00\x10"},
    {120, 2, "\x20\x03"},
    {128, 2, "\x80\x01"},
    {136, 24, "\x54\x52\x45\x45\x00\x00\x01\x00\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"},
    {168, 2, "\xb0\x05"},
    {176, 1, "\x08"},
    {680, 4, "\x48\x45\x41\x50"},
    {688, 1, "\x58"},
    {696, 1, "\x18"},
    {704, 2, "\xc8\x02"},
    {720, 4, "\x74\x69\x6d\x65"},
    {728, 9, "\x65\x6e\x65\x72\x67\x79\x00\x00\x01"},
    {744, 1, "\x40"},
    {800, 3, "\x11\x00\x10"},
    {808, 1, "\x88"},
    {816, 2, "\xa8\x02"},
    {824, 3, "\x0c\x00\x40"},
    {832, 29,
     "\x01\x00\x07\x00\x14\x00\x08\x00\x66\x6f\x72\x6d\x61\x74\x00\x00\x19\x01\x01\x00\x10\x00\x00\x00"
     "\x10\x00\x00\x00\x01"},
    {866, 1, "\x08"},
    {872, 1, "\x01"},
    {880, 1, "\x0d"},
    {885, 1, "\x08"},
    {892, 7, "\x01\x00\x00\x00\x0c\x00\x38"},
    {904, 29,
     "\x01\x00\x0f\x00\x0c\x00\x08\x00\x66\x6f\x72\x6d\x61\x74\x5f\x76\x65\x72\x73\x69\x6f\x6e\x00\x00"
     "\x10\x08\x00\x00\x04"},
    {938, 1, "\x20"},
    {944, 1, "\x01"},
    {952, 1, "\x01"},
    {960, 3, "\x0c\x00\x40"},
    {968, 29,
     "\x01\x00\x07\x00\x14\x00\x08\x00\x73\x79\x73\x74\x65\x6d\x00\x00\x19\x01\x01\x00\x10\x00\x00\x00"
     "\x10\x00\x00\x00\x01"},
    {1002, 1, "\x08"},
    {1008, 1, "\x01"},
    {1016, 1, "\x03"},
    {1021, 1, "\x08"},
    {1028, 7, "\x02\x00\x00\x00\x0c\x00\x40"},
    {1040, 29,
     "\x01\x00\x07\x00\x14\x00\x08\x00\x6d\x65\x74\x68\x6f\x64\x00\x00\x19\x01\x01\x00\x10\x00\x00\x00"
     "\x10\x00\x00\x00\x01"},
    {1074, 1, "\x08"},
    {1080, 1, "\x01"},
    {1088, 1, "\x03"},
    {1093, 1, "\x08"},
    {1100, 7, "\x03\x00\x00\x00\x0c\x00\x48"},
    {1112, 18, "\x01\x00\x0b\x00\x14\x00\x08\x00\x70\x61\x72\x61\x6d\x65\x74\x65\x72\x73"},
    {1136, 13, "\x19\x01\x01\x00\x10\x00\x00\x00\x10\x00\x00\x00\x01"},
    {1154, 1, "\x08"},
    {1160, 1, "\x01"},
    {1168, 1, "\x02"},
    {1173, 1, "\x08"},
    {1180, 9, "\x04\x00\x00\x00\x01\x00\x05\x00\x01"},
    {1193, 1, "\x01"},
    {1200, 3, "\x01\x00\x18"},
    {1208, 3, "\x01\x01\x01"},
    {1216, 29,
     "\x4e\x32\x48\x35\x31\x34\x46\x69\x6c\x65\x49\x45\x78\x63\x65\x00\x03\x00\x18\x00\x01\x00\x00\x00"
     "\x11\x20\x3f\x00\x08"},
    {1250, 8, "\x40\x00\x34\x0b\x00\x34\xff\x03"},
    {1264, 12, "\x05\x00\x08\x00\x01\x00\x00\x00\x02\x02\x02\x01"},
    {1280, 3, "\x08\x00\x18"},
    {1288, 4, "\x03\x01\x00\x18"},
    {1298, 1, "\x38"},
    {1314, 1, "\x88"},
    {1456, 9, "\x53\x4e\x4f\x44\x01\x00\x02\x00\x10"},
    {1473, 1, "\x20"},
    {1504, 1, "\x08"},
    {1512, 2, "\xa0\x04"},
    {2048, 5, "\x47\x43\x4f\x4c\x01"},
    {2057, 1, "\x10"},
    {2064, 1, "\x01"},
    {2072, 1, "\x0d"},
    {2080, 17, "\x67\x6c\x61\x73\x73\x79\x2d\x72\x65\x63\x6f\x72\x64\x00\x00\x00\x02"},
    {2104, 1, "\x03"},
    {2112, 3, "\x6e\x65\x74"},
    {2120, 1, "\x03"},
    {2128, 1, "\x03"},
    {2136, 3, "\x73\x67\x64"},
    {2144, 1, "\x04"},
    {2152, 1, "\x02"},
    {2160, 2, "\x7b\x7d"},
    {2176, 2, "\x88\x0f"},
    {6158, 2, "\xf0\x3f"},
    {6167, 1, "\x40"},
    {6174, 2, "\x08\x40"},
    {6182, 2, "\x10\x40"},
    {6190, 2, "\x14\x40"},
    {6198, 2, "\x18\x40"},
    {6214, 2, "\xf0\x3f"},
    {6223, 1, "\x40"},
    {6230, 2, "\x08\x40"},
    {6238, 2, "\x10\x40"},
    {6246, 2, "\x14\x40"},
    {6254, 2, "\x18\x40"},
    {8192, 5, "\x01\x00\x05\x00\x01"},
    {8201, 1, "\x01"},
    {8208, 3, "\x01\x00\x18"},
    {8216, 3, "\x01\x01\x01"},
    {8224, 1, "\x07"},
    {8232, 1, "\x07"},
    {8240, 13, "\x03\x00\x18\x00\x01\x00\x00\x00\x11\x20\x3f\x00\x08"},
    {8258, 8, "\x40\x00\x34\x0b\x00\x34\xff\x03"},
    {8272, 12, "\x05\x00\x08\x00\x01\x00\x00\x00\x02\x02\x02\x01"},
    {8288, 3, "\x08\x00\x18"},
    {8296, 4, "\x03\x01\x38\x18"},
    {8306, 1, "\x38"},
    {8322, 1, "\x88"},
};

} // namespace

TEST(record_fuzz, dataset_shape_larger_than_its_storage_is_refused) {
    std::string bytes(fuzz_shape_size, '\0');
    for (const auto& r : fuzz_shape_runs) bytes.replace(r.offset, r.length, r.bytes, r.length);
    const auto path = temp_path("fuzz_shape.h5");
    std::ofstream(path, std::ios::binary) << bytes;
    ASSERT_EQ(fs::file_size(path), fuzz_shape_size);
    expect_record_error([&] { (void)glassy::read_record(path); }, "stores fewer values than its shape says");
    // The same bytes with the dimensions restored (7 values) read fine.
    const std::string seven("\x07\0\0\0\0\0\0\0\x07\0\0\0\0\0\0\0", 16);
    bytes.replace(bytes.find("N2H514FileIExce"), 16, seven);
    std::ofstream(path, std::ios::binary) << bytes;
    const auto rec = glassy::read_record(path);
    ASSERT_EQ(rec.time.size(), 7u);
    EXPECT_DOUBLE_EQ(rec.time[6], 6.0);
}

TEST(record_fuzz, unwritten_chunked_dataset_of_huge_shape_is_refused) {
    // A legal HDF5 dataset of 2^40 doubles with no chunk written: used to request 8 TiB.
    const auto path = corrupted_record("huge_chunked.h5", [](H5::H5File& f) {
        f.unlink("time");
        const hsize_t dims = hsize_t{1} << 40, chunk = 1024;
        H5::DSetCreatPropList plist;
        plist.setChunk(1, &chunk);
        f.createDataSet("time", H5::PredType::IEEE_F64LE, H5::DataSpace(1, &dims), plist);
    });
    expect_record_error([&] { (void)glassy::read_record(path); }, "stores fewer values than its shape says");
}

TEST(record_fuzz, group_linked_into_a_cycle_is_refused) {
    // A hard link from a group to itself: collect_datasets recursed until the stack overflowed.
    const auto path = corrupted_record("cycle.h5", [](H5::H5File& f) {
        f.createGroup("g");
        ASSERT_GE(H5Lcreate_hard(f.getId(), "g", f.getId(), "g/loop", H5P_DEFAULT, H5P_DEFAULT), 0);
    });
    expect_record_error([&] { (void)glassy::read_record(path); }, "linked more than once");
}

TEST(record_fuzz, attribute_with_several_values_is_refused) {
    // format_version as 8 ints was read into one int (stack overflow inside HDF5).
    const auto versions = corrupted_record("versions.h5", [](H5::H5File& f) {
        H5::Group root = f.openGroup("/");
        root.removeAttr("format_version");
        const hsize_t n = 8;
        const std::vector<int> ones(n, 1);
        root.createAttribute("format_version", H5::PredType::STD_I32LE, H5::DataSpace(1, &n))
            .write(H5::PredType::NATIVE_INT, ones.data());
    });
    expect_record_error([&] { (void)glassy::read_record(versions); },
                        "attribute 'format_version' is not a single value");
    // format as 4 variable-length strings was read into one char* (overflow, leaked strings).
    const auto formats = corrupted_record("formats.h5", [](H5::H5File& f) {
        H5::Group root = f.openGroup("/");
        root.removeAttr("format");
        const hsize_t n = 4;
        const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
        const char* values[n] = {"glassy-record", "glassy-record", "glassy-record", "glassy-record"};
        root.createAttribute("format", type, H5::DataSpace(1, &n)).write(type, values);
    });
    expect_record_error([&] { (void)glassy::read_record(formats); }, "attribute 'format' is not a single value");
}

TEST(record_fuzz, string_attribute_with_no_value_is_refused) {
    // format with a null dataspace: HDF5 left the char* unset and the reader read through it (SEGV).
    const auto path = corrupted_record("null_format.h5", [](H5::H5File& f) {
        H5::Group root = f.openGroup("/");
        root.removeAttr("format");
        root.createAttribute("format", H5::StrType(H5::PredType::C_S1, H5T_VARIABLE), H5::DataSpace(H5S_NULL));
    });
    expect_record_error([&] { (void)glassy::read_record(path); }, "attribute 'format' is not a single value");
}

TEST(record_fuzz, checkpoint_entries_with_several_values_are_refused) {
    // integers/step holding 1000 int64 was read into one int64 (stack-buffer-overflow).
    const auto ints = corrupted_checkpoint("ck_ints.h5", [](H5::H5File& f) {
        f.unlink("integers/step");
        const hsize_t n = 1000;
        const std::vector<std::int64_t> v(n, 3);
        f.createDataSet("integers/step", H5::PredType::STD_I64LE, H5::DataSpace(1, &n))
            .write(v.data(), H5::PredType::NATIVE_INT64);
    });
    expect_record_error([&] { (void)glassy::read_checkpoint(ints); }, "/integers/step is not a single value");
    // strings/rng holding 3 variable-length strings was read into one char* (stack overflow).
    const auto strs = corrupted_checkpoint("ck_strs.h5", [](H5::H5File& f) {
        f.unlink("strings/rng");
        const hsize_t n = 3;
        const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
        const char* values[n] = {"a", "b", "c"};
        f.createDataSet("strings/rng", type, H5::DataSpace(1, &n)).write(values, type);
    });
    expect_record_error([&] { (void)glassy::read_checkpoint(strs); }, "/strings/rng is not a single value");
    // The unmodified checkpoint still reads back.
    const auto good = corrupted_checkpoint("ck_good.h5", [](H5::H5File&) {});
    EXPECT_EQ(glassy::read_checkpoint(good).integer("step"), 7);
}

TEST(record_fuzz, null_variable_length_string_does_not_crash) {
    // A variable-length string stored as a null pointer (checkpoint_fuzzer): the H5Cpp
    // std::string overloads built a std::string from it (SEGV in strlen). It now reads as "".
    const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
    const char* null_string = nullptr;
    const auto record = corrupted_record(
        "null_string.h5", [&](H5::H5File& f) { f.openGroup("/").openAttribute("format").write(type, &null_string); });
    expect_record_error([&] { (void)glassy::read_record(record); }, "format attribute is not 'glassy-record'");
    const auto ck = corrupted_checkpoint(
        "null_string_ck.h5", [&](H5::H5File& f) { f.openDataSet("strings/rng").write(&null_string, type); });
    const auto c = glassy::read_checkpoint(ck);
    EXPECT_EQ(c.string("rng"), "");
    EXPECT_EQ(c.integer("step"), 7);
}

// ---- records from other writers (h5py, Fortran): fill values, padded strings, filters ----

namespace {

// Replaces `path` of `f` by a chunked [rows, cols] float64 dataset with chunks of one row and
// fill value `fill`, writing only the rows listed in `written` (row r holds 10 r + c).
void chunked_rows(H5::H5File& f, const std::string& path, hsize_t rows, hsize_t cols, double fill,
                  const std::vector<hsize_t>& written) {
    f.unlink(path);
    const hsize_t dims[2] = {rows, cols}, chunk[2] = {1, cols};
    H5::DSetCreatPropList plist;
    plist.setChunk(2, chunk);
    plist.setFillValue(H5::PredType::NATIVE_DOUBLE, &fill);
    H5::DataSet ds = f.createDataSet(path, H5::PredType::IEEE_F64LE, H5::DataSpace(2, dims), plist);
    for (const hsize_t r : written) {
        std::vector<double> row(cols);
        for (hsize_t c = 0; c < cols; ++c) row[c] = 10.0 * static_cast<double>(r) + static_cast<double>(c);
        H5::DataSpace file_space = ds.getSpace();
        const hsize_t start[2] = {r, 0}, count[2] = {1, cols};
        file_space.selectHyperslab(H5S_SELECT_SET, count, start);
        const H5::DataSpace mem_space(2, count);
        ds.write(row.data(), H5::PredType::NATIVE_DOUBLE, mem_space, file_space);
    }
}

// Replaces string attribute `name` of `/` by a fixed-length one of `value.size()` bytes
// (padding included) with the given pad type.
void fixed_string_attribute(H5::H5File& f, const std::string& name, const std::string& value, H5T_str_t pad) {
    H5::Group root = f.openGroup("/");
    root.removeAttr(name);
    H5::StrType type(H5::PredType::C_S1, value.size());
    type.setStrpad(pad);
    root.createAttribute(name, type, H5::DataSpace(H5S_SCALAR)).write(type, value.data());
}

void set_string_attribute(H5::H5File& f, const std::string& name, const std::string& value) {
    fixed_string_attribute(f, name, value + " ", H5T_STR_SPACEPAD);
}

} // namespace

TEST(record_other_writers, chunked_row_never_written_reads_as_the_fill_value) {
    // h5py: delta = f.create_dataset("aging/delta", (2, 2), chunks=(1, 2), fillvalue=nan), row 1
    // never written. HDF5 reads row 1 as NaN; the reader refused the file.
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const auto path =
        corrupted_record("unwritten_row.h5", [&](H5::H5File& f) { chunked_rows(f, "aging/delta", 2, 2, nan, {0}); });
    const auto rec = glassy::read_record(path);
    EXPECT_EQ(rec.aging.delta(0, 0), 0.0);
    EXPECT_EQ(rec.aging.delta(0, 1), 1.0);
    EXPECT_TRUE(std::isnan(rec.aging.delta(1, 0)));
    EXPECT_TRUE(std::isnan(rec.aging.delta(1, 1)));
}

TEST(record_other_writers, dataset_created_and_never_written_reads_as_the_fill_value) {
    // h5py: f.create_dataset("aging/noise", (2,)) (contiguous, fill value 0, never written),
    // and a chunked extra table with fill value 0.25 of which no chunk was written.
    const auto path = corrupted_record("unwritten.h5", [&](H5::H5File& f) {
        f.unlink("aging/noise");
        const hsize_t n = 2;
        f.createDataSet("aging/noise", H5::PredType::IEEE_F64LE, H5::DataSpace(1, &n));
        chunked_rows(f, "ck/C", 3, 2, 0.25, {});
    });
    const auto rec = glassy::read_record(path);
    EXPECT_EQ(rec.aging.noise, (std::vector<double>{0.0, 0.0}));
    const auto& c = rec.extra.at("ck/C");
    EXPECT_EQ(c.shape, (std::vector<std::uint64_t>{3, 2}));
    EXPECT_EQ(c.data, std::vector<double>(6, 0.25));
}

TEST(record_other_writers, unwritten_values_beyond_the_per_file_limit_are_refused) {
    // Each table alone is within max_fill_values; together they are one value past it.
    const hsize_t half = glassy::max_fill_values / 2;
    const auto path = corrupted_record("too_many_unwritten.h5", [&](H5::H5File& f) {
        chunked_rows(f, "ck/C", half, 1, 0.0, {});
        chunked_rows(f, "snapshots/weights", half + 1, 1, 0.0, {});
    });
    expect_record_error([&] { (void)glassy::read_record(path, glassy::read_isolation::in_process); },
                        "/snapshots/weights stores fewer values than its shape says (0 of 8388609;");
}

TEST(record_other_writers, padded_fixed_length_strings_are_read_unpadded) {
    // A Fortran writer: `system = "net     "`, space-padded; the analysis took it for a glass.
    // Also a null-padded method and a space-padded format (refused as not a glassy record).
    auto r = sample_record();
    r.system = "net";
    r.method = "sgd";
    const auto path = temp_path("padded.h5");
    glassy::write_record(r, path);
    {
        H5::H5File f(path.string(), H5F_ACC_RDWR);
        fixed_string_attribute(f, "system", "net     ", H5T_STR_SPACEPAD);
        fixed_string_attribute(f, "method", std::string("sgd\0\0\0\0\0", 8), H5T_STR_NULLPAD);
        fixed_string_attribute(f, "format", "glassy-record   ", H5T_STR_NULLTERM);
    }
    const auto rec = glassy::read_record(path);
    EXPECT_EQ(rec.system, "net");
    EXPECT_EQ(rec.method, "sgd");
}

TEST(record_other_writers, unknown_enumerated_values_are_refused_by_name) {
    const auto system =
        corrupted_record("system_xyz.h5", [](H5::H5File& f) { set_string_attribute(f, "system", "xyz"); });
    expect_record_error([&] { (void)glassy::read_record(system); },
                        "attribute 'system' of " + system.string() + " is 'xyz': expected net or pspin");
    // The method must be one of its system's: a p-spin record with an SGD method is refused.
    const auto method =
        corrupted_record("method_sgd.h5", [](H5::H5File& f) { set_string_attribute(f, "method", "sgd"); });
    expect_record_error([&] { (void)glassy::read_record(method); },
                        "attribute 'method' of " + method.string() +
                            " is 'sgd': expected langevin, heun, metropolis or ck");
    // Control characters are escaped: the message stays on one line.
    const auto control =
        corrupted_record("system_nl.h5", [](H5::H5File& f) { set_string_attribute(f, "system", "net\npspin"); });
    expect_record_error([&] { (void)glassy::read_record(control); }, "is 'net\\x0apspin': expected net or pspin");
}

namespace {

// A stand-in for h5py's LZF filter (id 32000): registered only while a file is written with
// it, so that the reader later meets a filter this HDF5 library does not have.
std::size_t identity_filter(unsigned, std::size_t, const unsigned[], std::size_t nbytes, std::size_t*, void**) {
    return nbytes;
}

} // namespace

TEST(record_other_writers, dataset_with_a_filter_this_hdf5_lacks_is_named) {
    constexpr H5Z_filter_t lzf = 32000;
    const H5Z_class2_t lzf_class = {H5Z_CLASS_T_VERS, lzf, 1, 1, "lzf", nullptr, nullptr, identity_filter};
    ASSERT_GE(H5Zregister(&lzf_class), 0);
    const auto path = corrupted_record("lzf.h5", [&](H5::H5File& f) {
        f.unlink("ck/C");
        const hsize_t dims[2] = {2, 2};
        H5::DSetCreatPropList plist;
        plist.setChunk(2, dims);
        plist.setFilter(lzf, H5Z_FLAG_OPTIONAL);
        const double v[4] = {1, 0.5, 0.5, 1};
        f.createDataSet("ck/C", H5::PredType::IEEE_F64LE, H5::DataSpace(2, dims), plist)
            .write(v, H5::PredType::NATIVE_DOUBLE);
    });
    ASSERT_GE(H5Zunregister(lzf), 0);
    const herr_t plugins = H5PLset_loading_state(0); // an installed LZF plugin must not be found
    expect_record_error([&] { (void)glassy::read_record(path); },
                        "/ck/C is compressed with 'lzf' (HDF5 filter 32000), which this HDF5 library does not have");
    if (plugins >= 0) H5PLset_loading_state(H5PL_ALL_PLUGIN);
}

// ---- inputs on which HDF5 1.10.8 itself crashes (kept aside by scripts/fuzz.sh) ----

namespace {

std::vector<fs::path> regression_inputs(const std::string& reader) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(fs::path(GLASSY_FUZZ_REGRESSIONS) / reader)) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace

TEST(record_hdf5_crashes, every_kept_input_gives_a_one_line_error) {
    // Found by record_fuzzer and checkpoint_fuzzer; each killed the reading tool (SEGV in
    // H5HG_read or H5C_protect in a plain build; overflows and absurd allocations under ASan).
    const auto records = regression_inputs("record"), checkpoints = regression_inputs("checkpoint");
    ASSERT_GE(records.size(), 5u);
    ASSERT_GE(checkpoints.size(), 1u);
    for (const auto& p : records) {
        SCOPED_TRACE(p.string());
        expect_record_error([&] { (void)glassy::read_record(p); }, p.string() + ": ");
    }
    for (const auto& p : checkpoints) {
        SCOPED_TRACE(p.string());
        expect_record_error([&] { (void)glassy::read_checkpoint(p); }, p.string() + ": ");
    }
}

TEST(record_hdf5_crashes, a_crash_inside_hdf5_is_reported_not_suffered) {
    // The global heap of this record is damaged: HDF5 dereferences a wild pointer in H5HG_read
    // when it reads a string attribute. In-process that kills the caller; through the child
    // process it is one record_error.
    const fs::path p = fs::path(GLASSY_FUZZ_REGRESSIONS) / "record" / "h5hg_read_segv.h5";
    EXPECT_DEATH((void)glassy::read_record(p, glassy::read_isolation::in_process), "");
    expect_record_error([&] { (void)glassy::read_record(p); },
                        p.string() + ": unreadable record (the HDF5 library crashed reading it: ");
}

TEST(record_hdf5_crashes, the_child_process_hands_back_every_field) {
    // Through the pipe from the child, a checkpoint and a record arrive exactly as an
    // in-process read gives them (float32, NaN, empty and nested parts included).
    glassy::checkpoint c;
    c.tool = "net_quench";
    c.config = R"({"steps":5})";
    c.strings["rng"] = "1 2 3";
    c.strings["empty"] = "";
    c.integers["step"] = -42;
    c.put("x", {0.1, std::numeric_limits<double>::quiet_NaN()});
    c.arrays["m"] = {{2, 0}, {}};
    c.arrays_f32["w"] = {{3}, {1.f, 2.5f, -3.f}};
    const auto ck = temp_path("child.ckpt");
    glassy::write_checkpoint(c, ck);
    const auto a = glassy::read_checkpoint(ck), b = glassy::read_checkpoint(ck, glassy::read_isolation::in_process);
    EXPECT_EQ(a.tool, b.tool);
    EXPECT_EQ(a.config, b.config);
    EXPECT_EQ(a.strings, b.strings);
    EXPECT_EQ(a.integers, b.integers);
    EXPECT_TRUE(glassy::test::same(a.vector("x"), b.vector("x")));
    EXPECT_EQ(a.arrays.at("m"), b.arrays.at("m"));
    EXPECT_EQ(a.arrays_f32, b.arrays_f32);
    const auto rec = temp_path("child.h5");
    glassy::write_record(sample_record(), rec);
    glassy::test::expect_identical_records(glassy::read_record(rec),
                                           glassy::read_record(rec, glassy::read_isolation::in_process));
}

TEST(checkpoint_bytes, to_bytes_round_trip_keeps_every_entry_and_damage_is_refused) {
    // How a block of samples crosses from one MPI rank to rank 0 (apps/ensemble.hpp).
    glassy::checkpoint c;
    c.tool = "pspin_quench";
    c.config = R"({"N":48})";
    c.strings["rng"] = "1 2 3";
    c.strings["empty"] = "";
    c.integers["step"] = -42;
    c.put("x", {0.1, std::numeric_limits<double>::quiet_NaN(), -0.0});
    c.arrays["m"] = {{2, 0}, {}};
    c.arrays_f32["w"] = {{3}, {1.f, 2.5f, -3.f}};
    const std::string bytes = glassy::to_bytes(c);
    const glassy::checkpoint back = glassy::checkpoint_from_bytes(bytes);
    EXPECT_EQ(back.tool, c.tool);
    EXPECT_EQ(back.config, c.config);
    EXPECT_EQ(back.strings, c.strings);
    EXPECT_EQ(back.integers, c.integers);
    ASSERT_EQ(back.arrays.size(), 2u);
    EXPECT_TRUE(glassy::test::same(back.vector("x"), c.vector("x")));
    EXPECT_TRUE(std::signbit(back.vector("x")[2])); // bit for bit: -0 stays -0
    EXPECT_EQ(back.arrays.at("m"), c.arrays.at("m"));
    EXPECT_EQ(back.arrays_f32, c.arrays_f32);
    expect_record_error([&] { (void)glassy::checkpoint_from_bytes(bytes.substr(0, bytes.size() - 1)); },
                        "checkpoint bytes: damaged (truncated or inconsistent)");
    expect_record_error([&] { (void)glassy::checkpoint_from_bytes(bytes + "x"); },
                        "checkpoint bytes: damaged (trailing bytes)");
}
