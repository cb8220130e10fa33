#include "nets/datasets.hpp"

#include "dynamics/error.hpp"

#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <random>

namespace glassy::nets {

namespace fs = std::filesystem;

image_set image_set::head(std::int64_t n) const {
    if (n < 0 || n > count) throw parameter_error("image_set::head: " + std::to_string(n) + " > " + std::to_string(count) + " images");
    image_set out = *this;
    out.count = n;
    out.pixels.resize(static_cast<std::size_t>(n * image_size()));
    out.labels.resize(static_cast<std::size_t>(n));
    return out;
}

std::vector<std::uint8_t> read_maybe_gzip(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw error("cannot open " + path.string());
    std::vector<std::uint8_t> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (raw.size() < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return raw;

    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw error("zlib init failed for " + path.string());
    std::vector<std::uint8_t> out;
    std::vector<std::uint8_t> chunk(1 << 20);
    zs.next_in = raw.data();
    zs.avail_in = static_cast<uInt>(raw.size());
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        zs.next_out = chunk.data();
        zs.avail_out = static_cast<uInt>(chunk.size());
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            inflateEnd(&zs);
            throw error("corrupt or truncated gzip file " + path.string());
        }
        out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
        if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
            inflateEnd(&zs);
            throw error("truncated gzip file " + path.string());
        }
    }
    inflateEnd(&zs);
    return out;
}

namespace {

std::uint32_t big_endian_u32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

} // namespace

idx_array parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& what) {
    if (bytes.size() < 4) throw error(what + ": not an idx file (shorter than its 4-byte magic)");
    if (bytes[0] != 0 || bytes[1] != 0)
        throw error(what + ": not an idx file (bad magic number)");
    if (bytes[2] != 0x08) throw error(what + ": idx data type " + std::to_string(bytes[2]) + " is not unsigned byte (0x08)");
    const std::size_t ndim = bytes[3];
    if (ndim == 0 || ndim > 4) throw error(what + ": idx file with " + std::to_string(ndim) + " dimensions");
    const std::size_t header = 4 + 4 * ndim;
    if (bytes.size() < header) throw error(what + ": truncated idx header");
    idx_array out;
    std::uint64_t total = 1;
    for (std::size_t d = 0; d < ndim; ++d) {
        const std::uint32_t n = big_endian_u32(bytes.data() + 4 + 4 * d);
        out.dims.push_back(n);
        total *= n;
    }
    if (bytes.size() - header != total)
        throw error(what + ": idx header announces " + std::to_string(total) + " bytes of data but the file holds " +
                    std::to_string(bytes.size() - header) + (bytes.size() - header < total ? " (truncated)" : " (trailing data)"));
    out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
    return out;
}

image_set read_idx_pair(const fs::path& images, const fs::path& labels) {
    const idx_array im = parse_idx(read_maybe_gzip(images), images.string());
    const idx_array lb = parse_idx(read_maybe_gzip(labels), labels.string());
    if (im.dims.size() != 3) throw error(images.string() + ": idx images must have 3 dimensions, found " + std::to_string(im.dims.size()));
    if (lb.dims.size() != 1) throw error(labels.string() + ": idx labels must have 1 dimension, found " + std::to_string(lb.dims.size()));
    if (im.dims[0] != lb.dims[0])
        throw error(images.string() + " holds " + std::to_string(im.dims[0]) + " images but " + labels.string() + " holds " +
                    std::to_string(lb.dims[0]) + " labels");
    image_set s;
    s.count = im.dims[0];
    s.channels = 1;
    s.height = im.dims[1];
    s.width = im.dims[2];
    s.classes = 10;
    s.pixels = im.data;
    s.labels.reserve(lb.data.size());
    for (const auto l : lb.data) {
        if (l >= 10) throw error(labels.string() + ": label " + std::to_string(l) + " out of range 0..9");
        s.labels.push_back(l);
    }
    return s;
}

image_set read_cifar(const std::vector<fs::path>& files, cifar_kind kind) {
    const std::size_t label_bytes = kind == cifar_kind::cifar10 ? 1 : 2;
    const std::int64_t classes = kind == cifar_kind::cifar10 ? 10 : 100;
    const std::size_t image_bytes = 3 * 32 * 32;
    const std::size_t record = label_bytes + image_bytes;
    image_set s;
    s.channels = 3;
    s.height = 32;
    s.width = 32;
    s.classes = classes;
    for (const auto& f : files) {
        std::ifstream in(f, std::ios::binary);
        if (!in) throw error("cannot open " + f.string());
        std::vector<std::uint8_t> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (raw.empty() || raw.size() % record != 0)
            throw error(f.string() + ": size " + std::to_string(raw.size()) + " is not a whole number of " +
                        std::to_string(record) + "-byte CIFAR records (truncated or wrong format)");
        const std::size_t n = raw.size() / record;
        for (std::size_t i = 0; i < n; ++i) {
            const std::uint8_t* r = raw.data() + i * record;
            const std::int64_t label = r[label_bytes - 1];
            if (label >= classes)
                throw error(f.string() + ": record " + std::to_string(i) + " has label " + std::to_string(label) +
                            " out of range 0.." + std::to_string(classes - 1));
            s.labels.push_back(label);
            s.pixels.insert(s.pixels.end(), r + label_bytes, r + record);
        }
        s.count += static_cast<std::int64_t>(n);
    }
    return s;
}

namespace {

/// Uniform integer in [0, n) from raw 64-bit draws (rejection sampling: portable, unbiased).
std::uint64_t uniform_below(std::mt19937_64& rng, std::uint64_t n) {
    const std::uint64_t limit = std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
    std::uint64_t r = rng();
    while (r >= limit) r = rng();
    return r % n;
}

image_set synthetic_split(const synthetic_options& o, const std::vector<std::uint8_t>& prototypes, std::int64_t count,
                          std::mt19937_64& rng) {
    image_set s;
    s.count = count;
    s.channels = o.channels;
    s.height = o.height;
    s.width = o.width;
    s.classes = o.classes;
    const std::int64_t size = s.image_size();
    s.labels.resize(static_cast<std::size_t>(count));
    for (std::int64_t i = 0; i < count; ++i) s.labels[static_cast<std::size_t>(i)] = i % o.classes;
    for (std::int64_t i = count - 1; i > 0; --i)
        std::swap(s.labels[static_cast<std::size_t>(i)], s.labels[uniform_below(rng, static_cast<std::uint64_t>(i + 1))]);
    s.pixels.resize(static_cast<std::size_t>(count * size));
    const auto width = static_cast<std::uint64_t>(2 * o.noise + 1);
    for (std::int64_t i = 0; i < count; ++i) {
        const std::uint8_t* proto = prototypes.data() + s.labels[static_cast<std::size_t>(i)] * size;
        for (std::int64_t k = 0; k < size; ++k) {
            const auto v = static_cast<int>(proto[k]) + static_cast<int>(uniform_below(rng, width)) - o.noise;
            s.pixels[static_cast<std::size_t>(i * size + k)] = static_cast<std::uint8_t>(std::clamp(v, 0, 255));
        }
    }
    return s;
}

} // namespace

dataset_pair make_synthetic(const synthetic_options& o) {
    if (o.train_count < 1 || o.test_count < 1 || o.channels < 1 || o.height < 1 || o.width < 1 || o.classes < 2 || o.noise < 0)
        throw parameter_error("synthetic dataset: counts and sizes must be positive, classes >= 2, noise >= 0");
    std::mt19937_64 rng(o.seed);
    const std::int64_t size = o.channels * o.height * o.width;
    std::vector<std::uint8_t> prototypes(static_cast<std::size_t>(o.classes * size));
    for (auto& p : prototypes) p = static_cast<std::uint8_t>(uniform_below(rng, 256));
    dataset_pair d;
    d.name = "synthetic";
    d.train = synthetic_split(o, prototypes, o.train_count, rng);
    d.test = synthetic_split(o, prototypes, o.test_count, rng);
    return d;
}

namespace {

/// First existing file among dir/name and dir/name.gz, for each dir in order; empty if none.
fs::path find_file(const std::vector<fs::path>& dirs, const std::string& name) {
    for (const auto& d : dirs)
        for (const auto& candidate : {d / name, d / (name + ".gz")})
            if (fs::is_regular_file(candidate)) return candidate;
    return {};
}

std::string join(const std::vector<fs::path>& dirs) {
    std::string s;
    for (const auto& d : dirs) s += (s.empty() ? "" : ", ") + d.string();
    return s;
}

dataset_pair load_idx_dataset(const std::string& name, const std::vector<fs::path>& dirs) {
    const char* names[] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                           "t10k-labels-idx1-ubyte"};
    std::vector<fs::path> found;
    for (const char* n : names) {
        found.push_back(find_file(dirs, n));
        if (found.back().empty())
            throw error(name + ": no " + n + "[.gz] in " + join(dirs) + " (set --data-dir or GLASSY_DATA_DIR)");
    }
    dataset_pair d;
    d.name = name;
    d.train = read_idx_pair(found[0], found[1]);
    d.test = read_idx_pair(found[2], found[3]);
    return d;
}

std::vector<fs::path> existing_files(const fs::path& dir, const std::vector<std::string>& names, const std::string& dataset) {
    std::vector<fs::path> out;
    for (const auto& n : names) {
        const fs::path p = dir / n;
        if (!fs::is_regular_file(p)) throw error(dataset + ": missing " + p.string() + " (set --data-dir or GLASSY_DATA_DIR)");
        out.push_back(p);
    }
    return out;
}

} // namespace

dataset_pair load_dataset(const std::string& name, const fs::path& data_dir) {
    if (name == "mnist") return load_idx_dataset(name, {data_dir / "mnist", data_dir / "mnist" / "data"});
    if (name == "fashion-mnist")
        return load_idx_dataset(name, {data_dir / "fashion-mnist", fs::path("/usr/share/datasets/fashion-mnist")});
    if (name == "cifar10") {
        const fs::path dir = data_dir / "cifar-10-batches-bin";
        dataset_pair d;
        d.name = name;
        d.train = read_cifar(existing_files(dir, {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                                                  "data_batch_5.bin"}, name),
                             cifar_kind::cifar10);
        d.test = read_cifar(existing_files(dir, {"test_batch.bin"}, name), cifar_kind::cifar10);
        return d;
    }
    if (name == "cifar100") {
        const fs::path dir = data_dir / "cifar-100-binary";
        dataset_pair d;
        d.name = name;
        d.train = read_cifar(existing_files(dir, {"train.bin"}, name), cifar_kind::cifar100);
        d.test = read_cifar(existing_files(dir, {"test.bin"}, name), cifar_kind::cifar100);
        return d;
    }
    throw parameter_error("unknown dataset '" + name + "' (expected mnist, fashion-mnist, cifar10, cifar100 or synthetic)");
}

channel_stats compute_channel_stats(const image_set& set) {
    channel_stats st;
    const std::int64_t plane = set.height * set.width;
    for (std::int64_t c = 0; c < set.channels; ++c) {
        double sum = 0.0, sum2 = 0.0;
        for (std::int64_t i = 0; i < set.count; ++i) {
            const std::uint8_t* p = set.pixels.data() + (i * set.channels + c) * plane;
            std::uint64_t s1 = 0, s2 = 0;
            for (std::int64_t k = 0; k < plane; ++k) {
                s1 += p[k];
                s2 += static_cast<std::uint64_t>(p[k]) * p[k];
            }
            sum += static_cast<double>(s1);
            sum2 += static_cast<double>(s2);
        }
        const double n = static_cast<double>(set.count * plane);
        const double mean = sum / n / 255.0;
        const double var = std::max(0.0, sum2 / n / (255.0 * 255.0) - mean * mean);
        st.mean.push_back(mean);
        st.std.push_back(var > 0.0 ? std::sqrt(var) : 1.0);
    }
    return st;
}

} // namespace glassy::nets
