#include "nets/datasets.hpp"

#include "dynamics/error.hpp"
#include "dynamics/fields.hpp"

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <random>
#include <string_view>

namespace glassy::nets {

namespace fs = std::filesystem;

image_set image_set::head(std::int64_t n) const {
    if (n < 0 || n > count)
        throw parameter_error("image_set::head: " + std::to_string(n) + " > " + std::to_string(count) + " images");
    image_set out = *this;
    out.count = n;
    if (!out.pixels.empty()) out.pixels.resize(static_cast<std::size_t>(n * image_size()));
    if (!out.values.empty()) out.values.resize(static_cast<std::size_t>(n * image_size()));
    out.labels.resize(static_cast<std::size_t>(n));
    return out;
}

namespace {

std::vector<std::uint8_t> read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw error("cannot open " + path.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool gzip_at(const std::vector<std::uint8_t>& b, std::size_t pos) {
    return b.size() >= pos + 2 && b[pos] == 0x1f && b[pos + 1] == 0x8b;
}

bool starts_with(const std::vector<std::uint8_t>& b, std::size_t pos, std::string_view magic) {
    return b.size() >= pos + magic.size() &&
           std::equal(magic.begin(), magic.end(), b.begin() + static_cast<std::ptrdiff_t>(pos),
                      [](char m, std::uint8_t c) { return static_cast<std::uint8_t>(m) == c; });
}

/// The leading text of `b` (up to 256 bytes, leading white space and a UTF-8 BOM skipped), lower case.
std::string leading_text(const std::vector<std::uint8_t>& b) {
    std::size_t i = starts_with(b, 0, "\xEF\xBB\xBF") ? 3 : 0;
    while (i < b.size() && std::isspace(b[i])) ++i;
    std::string s;
    for (; i < b.size() && s.size() < 256; ++i) s += static_cast<char>(std::tolower(b[i]));
    return s;
}

/// The recognised format of `b`, or empty.
std::string format_of(const std::vector<std::uint8_t>& b) {
    if (gzip_at(b, 0)) return "gzip-compressed data";
    if (starts_with(b, 0, "PK\x03\x04")) return "a zip archive";
    if (starts_with(b, 0, "BZh")) return "bzip2-compressed data";
    if (starts_with(b, 0,
                    "\xFD"
                    "7zXZ"))
        return "xz-compressed data";
    if (starts_with(b, 0, "\x28\xB5\x2F\xFD")) return "zstd-compressed data";
    if (starts_with(b, 257, "ustar")) return "a tar archive";
    if (starts_with(b, 0, "\x89PNG")) return "a PNG image";
    if (starts_with(b, 0, "\x89HDF")) return "an HDF5 file";
    if (b.size() >= 4 && b[0] == 0 && b[1] == 0) return "idx data";
    const std::string text = leading_text(b);
    if (text.rfind("<!doctype html", 0) == 0 || text.rfind("<html", 0) == 0 || text.find("<head") != std::string::npos)
        return "an HTML page (a web page saved in place of the data?)";
    if (text.rfind("<?xml", 0) == 0) return "an XML document";
    const std::size_t probe = std::min<std::size_t>(b.size(), 512);
    const bool printable = std::all_of(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(probe), [](std::uint8_t c) {
        return c == '\t' || c == '\n' || c == '\r' || (c >= 0x20 && c != 0x7f);
    });
    return printable ? "text" : "";
}

/// Inflates the gzip member starting at raw[pos], appending to `out`; returns the bytes it took.
std::size_t inflate_member(const std::vector<std::uint8_t>& raw, std::size_t pos, std::vector<std::uint8_t>& out,
                           const std::string& name, int member) {
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) throw error("zlib init failed for " + name);
    const auto fail = [&](const std::string& why) {
        inflateEnd(&zs);
        return error(name + ": " + why + " gzip member " + std::to_string(member) + " (at byte " + std::to_string(pos) +
                     ")");
    };
    std::vector<std::uint8_t> chunk(1 << 20);
    std::size_t fed = pos;
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (zs.avail_in == 0) {
            if (fed == raw.size()) throw fail("truncated");
            const std::size_t take = std::min<std::size_t>(raw.size() - fed, std::size_t{1} << 30);
            zs.next_in = const_cast<Bytef*>(raw.data() + fed); // zlib does not write its input
            zs.avail_in = static_cast<uInt>(take);
            fed += take;
        }
        zs.next_out = chunk.data();
        zs.avail_out = static_cast<uInt>(chunk.size());
        rc = inflate(&zs, Z_NO_FLUSH);
        if (rc != Z_OK && rc != Z_STREAM_END) throw fail("corrupt");
        out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
    }
    const std::size_t used = fed - zs.avail_in - pos;
    inflateEnd(&zs);
    return used;
}

/// Every gzip member of `raw` inflated and concatenated (`gzip -dc`); zero padding at the end is skipped.
std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& raw, const std::string& name) {
    std::vector<std::uint8_t> out;
    std::size_t pos = 0;
    for (int member = 1; pos < raw.size(); ++member) {
        if (!gzip_at(raw, pos)) {
            if (std::all_of(raw.begin() + static_cast<std::ptrdiff_t>(pos), raw.end(),
                            [](std::uint8_t c) { return c == 0; }))
                break;
            const std::vector<std::uint8_t> rest(raw.begin() + static_cast<std::ptrdiff_t>(pos), raw.end());
            throw error(name + ": " + std::to_string(rest.size()) + " bytes after gzip member " +
                        std::to_string(member - 1) + " are not gzip data (" + describe_bytes(rest) + ")");
        }
        pos += inflate_member(raw, pos, out, name, member);
    }
    return out;
}

} // namespace

std::string describe_bytes(const std::vector<std::uint8_t>& bytes) {
    if (bytes.empty()) return "an empty file";
    static const char* digits = "0123456789abcdef";
    std::string hex, text;
    for (std::size_t i = 0; i < std::min<std::size_t>(bytes.size(), 8); ++i) {
        if (i) hex += ' '; // char by char: GCC 12's -Wrestrict misfires on "const char*" + string&&
        hex += digits[bytes[i] >> 4];
        hex += digits[bytes[i] & 15];
        text += bytes[i] >= 0x20 && bytes[i] < 0x7f && bytes[i] != '"' ? static_cast<char>(bytes[i]) : '.';
    }
    const std::string format = format_of(bytes);
    return "starts with " + hex + " \"" + text + "\"" +
           (format.empty() ? ", an unknown format" : ", which looks like " + format);
}

std::vector<std::uint8_t> read_maybe_gzip(const fs::path& path) {
    std::vector<std::uint8_t> raw = read_file(path);
    return gzip_at(raw, 0) ? gunzip(raw, path.string()) : raw;
}

namespace {

std::uint32_t big_endian_u32(const std::uint8_t* p) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
}

} // namespace

idx_array parse_idx(const std::vector<std::uint8_t>& bytes, const std::string& what) {
    if (bytes.size() < 4)
        throw error(what + ": not an idx file (shorter than its 4-byte magic; " + describe_bytes(bytes) + ")");
    if (bytes[0] != 0 || bytes[1] != 0)
        throw error(what + ": not an idx file (bad magic number; " + describe_bytes(bytes) + ")");
    if (bytes[2] != 0x08)
        throw error(what + ": idx data type " + std::to_string(bytes[2]) + " is not unsigned byte (0x08)");
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
                    std::to_string(bytes.size() - header) +
                    (bytes.size() - header < total ? " (truncated)" : " (trailing data)"));
    out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
    return out;
}

namespace {

/// An idx file, plain or gzip: a file that is neither is reported as such, with what it looks like.
idx_array read_idx_file(const fs::path& path) {
    const std::vector<std::uint8_t> raw = read_file(path);
    if (gzip_at(raw, 0)) return parse_idx(gunzip(raw, path.string()), path.string() + " (inflated)");
    if (raw.size() < 4 || raw[0] != 0 || raw[1] != 0)
        throw error(path.string() + ": neither gzip nor idx data (bad magic number; " + describe_bytes(raw) + ")");
    return parse_idx(raw, path.string());
}

} // namespace

image_set read_idx_pair(const fs::path& images, const fs::path& labels) {
    const idx_array im = read_idx_file(images);
    const idx_array lb = read_idx_file(labels);
    if (im.dims.size() != 3)
        throw error(images.string() + ": idx images must have 3 dimensions, found " + std::to_string(im.dims.size()));
    if (lb.dims.size() != 1)
        throw error(labels.string() + ": idx labels must have 1 dimension, found " + std::to_string(lb.dims.size()));
    if (im.dims[0] != lb.dims[0])
        throw error(images.string() + " holds " + std::to_string(im.dims[0]) + " images but " + labels.string() +
                    " holds " + std::to_string(lb.dims[0]) + " labels");
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
        const std::vector<std::uint8_t> raw = read_file(f);
        if (raw.empty() || raw.size() % record != 0)
            throw error(f.string() + ": size " + std::to_string(raw.size()) + " is not a whole number of " +
                        std::to_string(record) + "-byte CIFAR records (truncated or wrong format; " +
                        describe_bytes(raw) + ")");
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
    const std::uint64_t limit =
        std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % n;
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
        std::swap(s.labels[static_cast<std::size_t>(i)],
                  s.labels[uniform_below(rng, static_cast<std::uint64_t>(i + 1))]);
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

void validate(const synthetic_options& o) {
    for (const auto& [key, value] :
         {std::pair{"train_count", o.train_count}, std::pair{"test_count", o.test_count},
          std::pair{"channels", o.channels}, std::pair{"height", o.height}, std::pair{"width", o.width}})
        if (value < 1) throw field_error(std::string("synthetic/") + key, "must be >= 1");
    if (o.classes < 2) throw field_error("synthetic/classes", "must be >= 2");
    if (o.noise < 0) throw field_error("synthetic/noise", "must be >= 0");
}

dataset_pair make_synthetic(const synthetic_options& o) {
    validate(o);
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

/// A uniform double in (0, 1] from the top 53 bits of one draw.
double uniform_open_zero(std::mt19937_64& rng) { return static_cast<double>((rng() >> 11) + 1) * 0x1p-53; }

image_set random_split(const random_options& o, std::int64_t count, std::mt19937_64& rng) {
    image_set s;
    s.count = count;
    s.channels = s.height = 1;
    s.width = o.input_dim;
    s.classes = 2;
    s.values.resize(static_cast<std::size_t>(count * o.input_dim));
    s.labels.resize(static_cast<std::size_t>(count));
    constexpr double two_pi = 6.283185307179586476925286766559;
    double* x = s.values.data();
    for (std::int64_t i = 0; i < count; ++i) {
        for (std::int64_t k = 0; k < o.input_dim; k += 2) {
            const double r = std::sqrt(-2.0 * std::log(uniform_open_zero(rng)));
            const double phi = two_pi * uniform_open_zero(rng);
            x[k] = r * std::cos(phi);
            if (k + 1 < o.input_dim) x[k + 1] = r * std::sin(phi);
        }
        x += o.input_dim;
        s.labels[static_cast<std::size_t>(i)] = static_cast<std::int64_t>(rng() & 1u);
    }
    return s;
}

} // namespace

void validate(const random_options& o) {
    if (o.input_dim < 1) throw field_error("random/input_dim", "must be >= 1");
    if (o.train_count < 1) throw field_error("random/train_size", "must be >= 1");
}

dataset_pair make_random(const random_options& o) {
    validate(o);
    std::mt19937_64 rng(o.seed);
    dataset_pair d;
    d.name = "random";
    d.train = random_split(o, o.train_count, rng);
    d.test = random_split(o, o.train_count, rng);
    return d;
}

label_kind parse_label_kind(const std::string& name) {
    if (name == "classes") return label_kind::classes;
    if (name == "parity") return label_kind::parity;
    throw field_error("labels", "must be classes or parity (got '" + name + "')");
}

std::string to_string(label_kind kind) { return kind == label_kind::parity ? "parity" : "classes"; }

void relabel(dataset_pair& data, label_kind kind) {
    if (kind == label_kind::classes) return;
    for (image_set* s : {&data.train, &data.test}) {
        for (auto& l : s->labels) l %= 2;
        s->classes = 2;
    }
}

namespace {

/// What a dataset needs: its file names (idx files may also be name.gz) and where to look.
struct dataset_layout {
    std::vector<std::string> names;
    bool gzip_allowed;
    std::vector<fs::path> folders;
};

dataset_layout layout_of(dataset_kind kind, const fs::path& root) {
    const std::vector<std::string> idx = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                          "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};
    switch (kind) {
    case dataset_kind::mnist:
        return {idx, true, {root / "mnist", root / "mnist" / "data", root}};
    case dataset_kind::fashion_mnist:
        return {idx, true, {root / "fashion-mnist", root, "/usr/share/datasets/fashion-mnist"}};
    case dataset_kind::cifar10:
        return {{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin",
                 "test_batch.bin"},
                false,
                {root / "cifar-10-batches-bin", root}};
    case dataset_kind::cifar100:
        return {{"train.bin", "test.bin"}, false, {root / "cifar-100-binary", root}};
    case dataset_kind::synthetic:
    case dataset_kind::random:
        break;
    }
    throw parameter_error("load_dataset: the " + to_string(kind) +
                          " dataset is generated (make_synthetic, make_random), not loaded");
}

/// dir/name, else dir/name.gz when allowed; empty if neither is a regular file.
fs::path file_in(const fs::path& dir, const std::string& name, bool gzip_allowed) {
    if (fs::is_regular_file(dir / name)) return fs::absolute(dir / name);
    if (gzip_allowed && fs::is_regular_file(dir / (name + ".gz"))) return fs::absolute(dir / (name + ".gz"));
    return {};
}

/// The files of the first folder that holds all of them; missing_data_error listing every folder and what it lacks.
std::vector<fs::path> find_files(const std::string& dataset, const dataset_layout& l) {
    std::string searched;
    for (const auto& dir : l.folders) {
        std::vector<fs::path> found;
        std::string missing;
        for (const auto& n : l.names) {
            found.push_back(file_in(dir, n, l.gzip_allowed));
            if (found.back().empty()) missing += (missing.empty() ? "" : ", ") + n;
        }
        if (missing.empty()) return found;
        const bool none = std::all_of(found.begin(), found.end(), [](const fs::path& f) { return f.empty(); });
        searched += (searched.empty() ? "" : "; ") + dir.string() +
                    (!fs::is_directory(dir) ? " (no such folder)"
                     : none                 ? " (none of them)"
                                            : " (lacks " + missing + ")");
    }
    std::string names;
    for (const auto& n : l.names) names += (names.empty() ? "" : ", ") + n;
    throw missing_data_error(dataset + ": no folder holds all of " + names +
                             (l.gzip_allowed ? " (each plain or .gz)" : "") + "; looked in " + searched);
}

} // namespace

dataset_kind parse_dataset_kind(const std::string& name) {
    if (name == "mnist") return dataset_kind::mnist;
    if (name == "fashion-mnist") return dataset_kind::fashion_mnist;
    if (name == "cifar10") return dataset_kind::cifar10;
    if (name == "cifar100") return dataset_kind::cifar100;
    if (name == "synthetic") return dataset_kind::synthetic;
    if (name == "random") return dataset_kind::random;
    throw field_error("dataset",
                      "must be mnist, fashion-mnist, cifar10, cifar100, synthetic or random (got '" + name + "')");
}

std::string to_string(dataset_kind kind) {
    switch (kind) {
    case dataset_kind::mnist:
        return "mnist";
    case dataset_kind::fashion_mnist:
        return "fashion-mnist";
    case dataset_kind::cifar10:
        return "cifar10";
    case dataset_kind::cifar100:
        return "cifar100";
    case dataset_kind::synthetic:
        return "synthetic";
    case dataset_kind::random:
        return "random";
    }
    return "?";
}

dataset_pair load_dataset(dataset_kind kind, const fs::path& data_dir) {
    const dataset_layout layout = layout_of(kind, data_dir);
    dataset_pair d;
    d.name = to_string(kind);
    d.files = find_files(d.name, layout);
    const auto& f = d.files;
    if (kind == dataset_kind::cifar10) {
        d.train = read_cifar({f.begin(), f.begin() + 5}, cifar_kind::cifar10);
        d.test = read_cifar({f[5]}, cifar_kind::cifar10);
    } else if (kind == dataset_kind::cifar100) {
        d.train = read_cifar({f[0]}, cifar_kind::cifar100);
        d.test = read_cifar({f[1]}, cifar_kind::cifar100);
    } else {
        d.train = read_idx_pair(f[0], f[1]);
        d.test = read_idx_pair(f[2], f[3]);
    }
    return d;
}

namespace {
__extension__ typedef unsigned __int128 uint128; // GCC/Clang; exact pixel sums
} // namespace

channel_stats compute_channel_stats(const image_set& set) {
    channel_stats st;
    if (!set.values.empty()) {
        st.mean.assign(static_cast<std::size_t>(set.channels), 0.0);
        st.std.assign(static_cast<std::size_t>(set.channels), 1.0);
        return st;
    }
    const std::int64_t plane = set.height * set.width;
    const auto n = static_cast<uint128>(set.count) * static_cast<uint128>(plane);
    for (std::int64_t c = 0; c < set.channels; ++c) {
        uint128 s1 = 0, s2 = 0; // exact: < 2^64 * 255^2 for any set that fits in memory
        for (std::int64_t i = 0; i < set.count; ++i) {
            const std::uint8_t* p = set.pixels.data() + (i * set.channels + c) * plane;
            std::uint64_t a1 = 0, a2 = 0;
            for (std::int64_t k = 0; k < plane; ++k) {
                a1 += p[k];
                a2 += static_cast<std::uint64_t>(p[k]) * p[k];
            }
            s1 += a1;
            s2 += a2;
        }
        // n^2 var = n s2 - s1^2 >= 0 (Cauchy-Schwarz), exactly, in 128 bits for n < 2^32 pixels per channel.
        const double nn = static_cast<double>(n);
        const double var = n == 0 ? 0.0 : static_cast<double>(n * s2 - s1 * s1) / (nn * nn) / (255.0 * 255.0);
        const double sd = std::sqrt(var);
        st.mean.push_back(n == 0 ? 0.0 : static_cast<double>(s1) / nn / 255.0);
        st.std.push_back(sd < constant_channel_std ? 1.0 : sd);
    }
    return st;
}

std::vector<std::int64_t> class_balanced_order(const image_set& set, std::uint64_t seed) {
    std::vector<std::vector<std::int64_t>> by_class(static_cast<std::size_t>(std::max<std::int64_t>(set.classes, 0)));
    for (std::int64_t i = 0; i < set.count; ++i) {
        const std::int64_t l = set.labels[static_cast<std::size_t>(i)];
        if (l < 0 || l >= set.classes)
            throw parameter_error("class_balanced_order: label " + std::to_string(l) + " out of range");
        by_class[static_cast<std::size_t>(l)].push_back(i);
    }
    std::mt19937_64 rng(seed);
    for (auto& members : by_class)
        for (std::size_t i = members.size(); i > 1; --i) std::swap(members[i - 1], members[uniform_below(rng, i)]);
    std::vector<std::int64_t> order;
    order.reserve(static_cast<std::size_t>(set.count));
    for (std::size_t round = 0; order.size() < static_cast<std::size_t>(set.count); ++round)
        for (const auto& members : by_class)
            if (round < members.size()) order.push_back(members[round]);
    return order;
}

std::vector<std::int64_t> label_counts(const image_set& set, const std::vector<std::int64_t>& indices) {
    std::vector<std::int64_t> counts(static_cast<std::size_t>(std::max<std::int64_t>(set.classes, 0)), 0);
    for (const auto i : indices) {
        if (i < 0 || i >= set.count)
            throw parameter_error("label_counts: index " + std::to_string(i) + " out of range");
        ++counts[static_cast<std::size_t>(set.labels[static_cast<std::size_t>(i)])];
    }
    return counts;
}

bool badly_unbalanced(const std::vector<std::int64_t>& counts) {
    if (counts.empty()) return false;
    const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
    return *lo == 0 || *hi > 2 * *lo;
}

} // namespace glassy::nets
