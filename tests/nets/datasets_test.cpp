// Readers of idx (plain and gzip) and CIFAR binaries on files written here, corrupt files
// (each must give a clear glassy::error), the synthetic dataset and channel statistics.
#include "dynamics/error.hpp"
#include "nets/datasets.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace glassy::nets;
namespace fs = std::filesystem;

namespace {

class TempDir : public ::testing::Test {
protected:
    void SetUp() override {
        m_dir = fs::temp_directory_path() /
                ("glassy_nets_" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + "_" +
                 std::to_string(::getpid()));
        fs::create_directories(m_dir);
    }
    void TearDown() override { fs::remove_all(m_dir); }
    fs::path m_dir;
};

void put_u32(std::vector<std::uint8_t>& v, std::uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<std::uint8_t>(x >> s));
}

std::vector<std::uint8_t> idx_images(std::uint32_t n, std::uint32_t rows, std::uint32_t cols) {
    std::vector<std::uint8_t> v{0, 0, 8, 3};
    put_u32(v, n);
    put_u32(v, rows);
    put_u32(v, cols);
    for (std::uint32_t i = 0; i < n * rows * cols; ++i) v.push_back(static_cast<std::uint8_t>((7 * i) % 256));
    return v;
}

std::vector<std::uint8_t> idx_labels(std::uint32_t n) {
    std::vector<std::uint8_t> v{0, 0, 8, 1};
    put_u32(v, n);
    for (std::uint32_t i = 0; i < n; ++i) v.push_back(static_cast<std::uint8_t>(i % 10));
    return v;
}

void write(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
    std::ofstream f(p, std::ios::binary);
    f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_gz(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
    gzFile f = gzopen(p.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
}

/// Message of the glassy::error thrown by f (fails if none is thrown).
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const glassy::error& e) {
        return e.what();
    }
    ADD_FAILURE() << "no glassy::error thrown";
    return {};
}

} // namespace

using IdxReader = TempDir;

TEST_F(IdxReader, ReadsPlainAndGzipIdentically) {
    write(m_dir / "im", idx_images(5, 4, 3));
    write(m_dir / "lb", idx_labels(5));
    write_gz(m_dir / "im.gz", idx_images(5, 4, 3));
    write_gz(m_dir / "lb.gz", idx_labels(5));
    const image_set a = read_idx_pair(m_dir / "im", m_dir / "lb");
    const image_set b = read_idx_pair(m_dir / "im.gz", m_dir / "lb.gz");
    EXPECT_EQ(a.count, 5);
    EXPECT_EQ(a.channels, 1);
    EXPECT_EQ(a.height, 4);
    EXPECT_EQ(a.width, 3);
    ASSERT_EQ(a.pixels.size(), 60u);
    EXPECT_EQ(a.pixels[13], (7 * 13) % 256);
    EXPECT_EQ(a.labels[4], 4);
    EXPECT_EQ(a.pixels, b.pixels);
    EXPECT_EQ(a.labels, b.labels);
}

TEST_F(IdxReader, RejectsWrongMagic) {
    auto im = idx_images(5, 4, 3);
    im[0] = 0x12;
    write(m_dir / "im", im);
    write(m_dir / "lb", idx_labels(5));
    EXPECT_NE(error_of([&] { (void)read_idx_pair(m_dir / "im", m_dir / "lb"); }).find("magic"), std::string::npos);
    auto im2 = idx_images(5, 4, 3);
    im2[2] = 0x0D; // float data
    write(m_dir / "im2", im2);
    EXPECT_NE(error_of([&] { (void)read_idx_pair(m_dir / "im2", m_dir / "lb"); }).find("unsigned byte"), std::string::npos);
}

TEST_F(IdxReader, RejectsTruncatedAndTrailing) {
    auto im = idx_images(5, 4, 3);
    im.resize(im.size() - 7);
    write(m_dir / "im", im);
    write(m_dir / "lb", idx_labels(5));
    EXPECT_NE(error_of([&] { (void)read_idx_pair(m_dir / "im", m_dir / "lb"); }).find("truncated"), std::string::npos);
    auto lb = idx_labels(5);
    lb.push_back(1);
    write(m_dir / "im2", idx_images(5, 4, 3));
    write(m_dir / "lb2", lb);
    EXPECT_NE(error_of([&] { (void)read_idx_pair(m_dir / "im2", m_dir / "lb2"); }).find("trailing"), std::string::npos);
    // A truncated gzip stream.
    auto bytes = idx_images(50, 28, 28);
    write_gz(m_dir / "big.gz", bytes);
    std::ifstream in(m_dir / "big.gz", std::ios::binary);
    std::vector<std::uint8_t> gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    gz.resize(gz.size() / 2);
    write(m_dir / "cut.gz", gz);
    EXPECT_NE(error_of([&] { (void)read_maybe_gzip(m_dir / "cut.gz"); }).find("gzip"), std::string::npos);
}

TEST_F(IdxReader, RejectsMismatchedCountsAndMissingFiles) {
    write(m_dir / "im", idx_images(5, 4, 3));
    write(m_dir / "lb", idx_labels(6));
    const std::string msg = error_of([&] { (void)read_idx_pair(m_dir / "im", m_dir / "lb"); });
    EXPECT_NE(msg.find("5 images"), std::string::npos) << msg;
    EXPECT_NE(msg.find("6 labels"), std::string::npos) << msg;
    EXPECT_NE(error_of([&] { (void)read_idx_pair(m_dir / "nope", m_dir / "lb"); }).find("cannot open"), std::string::npos);
    const std::string missing = error_of([&] { (void)load_dataset("mnist", m_dir); });
    EXPECT_NE(missing.find("train-images-idx3-ubyte"), std::string::npos) << missing;
    EXPECT_THROW((void)load_dataset("imagenet", m_dir), glassy::parameter_error);
}

TEST_F(IdxReader, LoadsMnistLayoutFromDataDir) {
    fs::create_directories(m_dir / "mnist" / "data");
    write(m_dir / "mnist" / "data" / "train-images-idx3-ubyte", idx_images(6, 28, 28));
    write_gz(m_dir / "mnist" / "data" / "train-labels-idx1-ubyte.gz", idx_labels(6));
    write(m_dir / "mnist" / "t10k-images-idx3-ubyte", idx_images(2, 28, 28));
    write(m_dir / "mnist" / "t10k-labels-idx1-ubyte", idx_labels(2));
    const dataset_pair d = load_dataset("mnist", m_dir);
    EXPECT_EQ(d.train.count, 6);
    EXPECT_EQ(d.test.count, 2);
    EXPECT_EQ(d.train.classes, 10);
}

using CifarReader = TempDir;

namespace {
std::vector<std::uint8_t> cifar_records(int n, int label_bytes, int label_mod) {
    std::vector<std::uint8_t> v;
    for (int i = 0; i < n; ++i) {
        for (int l = 0; l < label_bytes; ++l) v.push_back(static_cast<std::uint8_t>((i + l) % label_mod));
        for (int k = 0; k < 3072; ++k) v.push_back(static_cast<std::uint8_t>((i * 31 + k) % 256));
    }
    return v;
}
} // namespace

TEST_F(CifarReader, ReadsCifar10And100) {
    write(m_dir / "a.bin", cifar_records(3, 1, 10));
    write(m_dir / "b.bin", cifar_records(2, 1, 10));
    const image_set s = read_cifar({m_dir / "a.bin", m_dir / "b.bin"}, cifar_kind::cifar10);
    EXPECT_EQ(s.count, 5);
    EXPECT_EQ(s.channels, 3);
    EXPECT_EQ(s.height, 32);
    EXPECT_EQ(s.labels[2], 2);
    EXPECT_EQ(s.labels[4], 1);
    EXPECT_EQ(s.pixels[3072 * 1 + 5], (31 + 5) % 256);
    write(m_dir / "c.bin", cifar_records(4, 2, 100));
    const image_set f = read_cifar({m_dir / "c.bin"}, cifar_kind::cifar100);
    EXPECT_EQ(f.classes, 100);
    EXPECT_EQ(f.labels[3], 4); // fine label = second byte = (3 + 1) % 100
    EXPECT_EQ(f.pixels[3072 * 2], (2 * 31) % 256);
}

TEST_F(CifarReader, RejectsCorruptFiles) {
    auto v = cifar_records(3, 1, 10);
    v.resize(v.size() - 100);
    write(m_dir / "cut.bin", v);
    EXPECT_NE(error_of([&] { (void)read_cifar({m_dir / "cut.bin"}, cifar_kind::cifar10); }).find("whole number"), std::string::npos);
    write(m_dir / "bad.bin", cifar_records(3, 1, 200)); // labels up to 2 fine, make one 150
    auto w = cifar_records(3, 1, 10);
    w[3073] = 150;
    write(m_dir / "bad.bin", w);
    EXPECT_NE(error_of([&] { (void)read_cifar({m_dir / "bad.bin"}, cifar_kind::cifar10); }).find("out of range"), std::string::npos);
    // A CIFAR-100 file read as CIFAR-10: 3074-byte records are not a whole number of 3073.
    write(m_dir / "c100.bin", cifar_records(2, 2, 100));
    EXPECT_THROW((void)read_cifar({m_dir / "c100.bin"}, cifar_kind::cifar10), glassy::error);
    const std::string missing = error_of([&] { (void)load_dataset("cifar10", m_dir); });
    EXPECT_NE(missing.find("data_batch_1.bin"), std::string::npos) << missing;
}

TEST(Synthetic, ReproducibleBalancedAndShaped) {
    synthetic_options o;
    o.train_count = 200;
    o.test_count = 50;
    o.seed = 11;
    const dataset_pair a = make_synthetic(o), b = make_synthetic(o);
    EXPECT_EQ(a.train.pixels, b.train.pixels);
    EXPECT_EQ(a.test.labels, b.test.labels);
    EXPECT_EQ(a.train.image_size(), 784);
    std::vector<int> per_class(10, 0);
    for (auto l : a.train.labels) ++per_class[static_cast<std::size_t>(l)];
    for (int c : per_class) EXPECT_EQ(c, 20);
    o.seed = 12;
    EXPECT_NE(make_synthetic(o).train.pixels, a.train.pixels);
}

TEST(ChannelStats, MatchesDirectComputation) {
    image_set s;
    s.count = 2;
    s.channels = 2;
    s.height = 1;
    s.width = 2;
    s.classes = 2;
    s.pixels = {0, 255, 51, 51, /* image 2 */ 255, 0, 102, 102};
    s.labels = {0, 1};
    const channel_stats st = compute_channel_stats(s);
    EXPECT_NEAR(st.mean[0], 0.5, 1e-15);
    EXPECT_NEAR(st.std[0], 0.5, 1e-12);
    EXPECT_NEAR(st.mean[1], 0.3, 1e-15);
    EXPECT_NEAR(st.std[1], 0.1, 1e-12);
}
