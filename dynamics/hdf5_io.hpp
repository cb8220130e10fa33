#pragma once
// Internal to glassy::dynamics (not a public header): the HDF5 and child-process helpers shared
// by the record (record.cpp) and checkpoint (checkpoint.cpp) readers and writers.
#include "dynamics/checkpoint.hpp"
#include "dynamics/error.hpp"
#include "dynamics/record.hpp"

#include <H5Cpp.h>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <concepts>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <numeric>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

namespace glassy::detail {

struct silence_hdf5 {
    silence_hdf5() { H5::Exception::dontPrint(); }
};
inline const silence_hdf5 g_silence;

template <class T>
H5::PredType mem_type();
template <>
inline H5::PredType mem_type<double>() {
    return H5::PredType::NATIVE_DOUBLE;
}
template <>
inline H5::PredType mem_type<float>() {
    return H5::PredType::NATIVE_FLOAT;
}
template <>
inline H5::PredType mem_type<std::int64_t>() {
    return H5::PredType::NATIVE_INT64;
}
template <class T>
H5::PredType file_type();
template <>
inline H5::PredType file_type<double>() {
    return H5::PredType::IEEE_F64LE;
}
template <>
inline H5::PredType file_type<float>() {
    return H5::PredType::IEEE_F32LE;
}
template <>
inline H5::PredType file_type<std::int64_t>() {
    return H5::PredType::STD_I64LE;
}

inline void write_string_attribute(H5::H5Object& obj, const std::string& name, const std::string& value) {
    const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
    H5::Attribute a = obj.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
    a.write(type, value);
}

inline void write_int_attribute(H5::H5Object& obj, const std::string& name, int value) {
    H5::Attribute a = obj.createAttribute(name, H5::PredType::STD_I32LE, H5::DataSpace(H5S_SCALAR));
    a.write(H5::PredType::NATIVE_INT, &value);
}

// The root group of a new file, with its "format" ("glassy-record", "glassy-checkpoint") and
// "format_version" (record_format_version) attributes written.
inline H5::Group write_format(H5::H5File& f, const char* format) {
    H5::Group root = f.openGroup("/");
    write_string_attribute(root, "format", format);
    write_int_attribute(root, "format_version", record_format_version);
    return root;
}

inline H5::Group ensure_groups_below(const H5::Group& g, const std::string& path, std::size_t start) {
    const std::size_t slash = path.find('/', start);
    if (slash == std::string::npos) return g;
    const std::string name = path.substr(start, slash - start);
    return ensure_groups_below(g.nameExists(name) ? g.openGroup(name) : g.createGroup(name), path, slash + 1);
}

inline H5::Group ensure_groups(H5::H5File& file, const std::string& path) {
    // Creates every group above the last component of `path`; returns the innermost.
    return ensure_groups_below(file.openGroup("/"), path, 0);
}

template <class T>
void write_dataset(H5::H5File& file, const std::string& path, const std::vector<hsize_t>& shape, const T* data) {
    H5::Group g = ensure_groups(file, path);
    const std::string leaf = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
    const H5::DataSpace space(static_cast<int>(shape.size()), shape.data());
    H5::DataSet ds = g.createDataSet(leaf, file_type<T>(), space);
    const hsize_t n = std::accumulate(shape.begin(), shape.end(), hsize_t{1}, std::multiplies<>());
    if (n > 0) ds.write(data, mem_type<T>());
}

inline void write_vector(H5::H5File& f, const std::string& path, const std::vector<double>& v) {
    write_dataset(f, path, {v.size()}, v.data());
}
inline void write_matrix(H5::H5File& f, const std::string& path, const row_matrix& m) {
    write_dataset(f, path, {static_cast<hsize_t>(m.rows()), static_cast<hsize_t>(m.cols())}, m.data());
}

inline void fsync_file(const std::filesystem::path& p) {
    const int fd = ::open(p.c_str(), O_RDONLY);
    if (fd < 0) throw record_error("cannot reopen " + p.string() + " to sync it");
    const int rc = ::fsync(fd);
    ::close(fd);
    if (rc != 0) throw record_error("fsync failed on " + p.string());
}

// ---- reading ----

// Throws record_error naming `path` unless it is an existing regular file in HDF5 format.
inline void require_hdf5_file(const std::filesystem::path& path, const char* what) {
    const std::string fname = path.string();
    if (!std::filesystem::exists(path)) throw record_error(fname + ": no such " + what);
    if (!std::filesystem::is_regular_file(path)) throw record_error(fname + ": not a regular file");
    try {
        if (H5::H5File::isHdf5(fname) <= 0) throw record_error(fname + ": not an HDF5 file");
    } catch (const H5::Exception&) {
        throw record_error(fname + ": not an HDF5 file");
    }
}
// Every value read from a file is checked for shape before HDF5 writes it into memory: the
// readers must refuse any malformed file with record_error (see tests/fuzz, docs/reliability.md).

// One file being read: its name, for messages, its size in bytes, and how many more values
// without storage (read as the fill value) it may supply.
struct source {
    std::string name;
    std::uint64_t bytes = 0;
    std::uint64_t fill_left = max_fill_values;
};

// A value read from a file, quoted for a one-line message: control bytes escaped, cut at 40.
inline std::string printable(const std::string& s) {
    std::string out = "'";
    for (std::size_t i = 0; i < std::min<std::size_t>(s.size(), 40); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\x%02x", c);
        out += (c < 0x20 || c == 0x7f) ? std::string(hex) : std::string(1, s[i]);
    }
    return out + (s.size() > 40 ? "...'" : "'");
}

// Throws unless `space` holds exactly one element: HDF5 would write every element of a larger
// one past a single value, and leave the value unset for an empty one.
inline void require_single(const H5::DataSpace& space, const std::string& what, const std::string& file) {
    if (space.getSimpleExtentNpoints() != 1) throw record_error(file + ": " + what + " is not a single value");
}

inline int read_int_attribute(const H5::H5Object& obj, const std::string& name, const std::string& file) {
    H5::Attribute a = obj.openAttribute(name);
    require_single(a.getSpace(), "attribute '" + name + "'", file);
    int value = 0;
    a.read(H5::PredType::NATIVE_INT, &value);
    return value;
}

inline void read_raw(const H5::Attribute& a, const H5::DataType& type, void* buf) { a.read(type, buf); }
inline void read_raw(const H5::DataSet& d, const H5::DataType& type, void* buf) { d.read(buf, type); }

// The text of a fixed-length string as its writer meant it, whatever padding the type
// declares (writers mislabel it: a Fortran "net     " may be stored null-padded): up to the
// first NUL, without trailing spaces. The one normalisation of strings read from files.
inline std::string unpadded(std::string raw) {
    raw.resize(std::min(raw.find('\0'), raw.size()));
    raw.erase(raw.find_last_not_of(' ') + 1); // npos + 1 == 0: all spaces
    return raw;
}

// Reads the single string of an attribute or dataset `o`, fixed (unpadded) or variable length.
// Not through the H5Cpp std::string overloads: they build a std::string from the null pointer
// HDF5 returns for a null variable-length string (a SEGV on a corrupt file).
template <class Object>
std::string read_single_string(const Object& o, const std::string& what, const std::string& file) {
    if (o.getTypeClass() != H5T_STRING) throw record_error(file + ": " + what + " is not a string");
    require_single(o.getSpace(), what, file);
    const H5::DataType type = o.getDataType();
    if (H5Tis_variable_str(type.getId()) > 0) {
        char* p = nullptr;
        read_raw(o, type, &p);
        std::string value = p != nullptr ? std::string(p) : std::string();
        H5free_memory(p);
        return value;
    }
    std::string value(type.getSize(), '\0');
    if (!value.empty()) read_raw(o, type, value.data());
    return unpadded(std::move(value));
}

inline std::string read_string_attribute(const H5::H5Object& obj, const std::string& name, const std::string& file) {
    if (!obj.attrExists(name)) throw record_error(file + ": not a glassy record (attribute '" + name + "' missing)");
    return read_single_string(obj.openAttribute(name), "attribute '" + name + "'", file);
}

// Reads string attribute `name` of `obj`; returns it if it is one of `allowed`,
// exactly, and throws "attribute 'NAME' of FILE is 'VALUE': expected A, B or C" otherwise.
inline std::string read_enumerated_attribute(const H5::H5Object& obj, const std::string& name,
                                             const std::vector<std::string>& allowed, const std::string& file) {
    std::string value = read_string_attribute(obj, name, file);
    if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return value;
    std::string expected;
    for (std::size_t k = 0; k < allowed.size(); ++k)
        expected += (k == 0 ? "" : k + 1 == allowed.size() ? " or " : ", ") + allowed[k];
    throw record_error("attribute '" + name + "' of " + file + " is " + printable(value) + ": expected " + expected);
}

// The systems a record describes and the methods of each (docs/format.md).
inline const std::map<std::string, std::vector<std::string>>& methods_of_systems() {
    static const std::map<std::string, std::vector<std::string>> m = {
        {"net", {"sgd", "sgld", "adam"}}, {"pspin", {"langevin", "heun", "metropolis", "ck"}}};
    return m;
}

// Throws unless this HDF5 library can read `ds` on its own: every filter of its pipeline
// available (h5py's LZF is not part of HDF5), and no data in other files (external storage,
// virtual datasets; glassy writes neither, and a record must not make a reader open others).
inline void require_readable_storage(const H5::DataSet& ds, const std::string& path, const std::string& file) {
    const H5::DSetCreatPropList plist = ds.getCreatePlist();
    if (plist.getLayout() == H5D_VIRTUAL || plist.getExternalCount() > 0)
        throw record_error(file + ": /" + path + " keeps its data in other files (virtual or external storage)");
    for (int k = 0; k < plist.getNfilters(); ++k) {
        unsigned flags = 0, config = 0;
        std::size_t n_values = 0;
        std::array<char, 64> name{};
        const H5Z_filter_t id = H5Pget_filter2(plist.getId(), static_cast<unsigned>(k), &flags, &n_values, nullptr,
                                               name.size() - 1, name.data(), &config);
        if (id < 0) throw H5::Exception("H5Pget_filter2", "cannot read the filter pipeline of /" + path);
        if (H5Zfilter_avail(id) > 0) continue;
        const std::string label = name[0] != '\0' ? printable(name.data()) + " (HDF5 filter " + std::to_string(id) + ")"
                                                  : "HDF5 filter " + std::to_string(id);
        throw record_error(
            file + ": /" + path + " is compressed with " + label +
            ", which this HDF5 library does not have (rewrite the file without it, e.g. h5repack -f NONE)");
    }
}

// Number of the `n` values of `ds` that have storage behind them; the others read as the
// fill value. Throws when written storage is smaller than the shape or larger than the file
// (a corrupt dataspace or layout).
inline std::uint64_t stored_values(const H5::DataSet& ds, std::uint64_t n, const std::string& path, const source& src) {
    H5D_space_status_t status{};
    if (H5Dget_space_status(ds.getId(), &status) < 0) throw H5::Exception("H5Dget_space_status", "failed");
    if (status == H5D_SPACE_STATUS_NOT_ALLOCATED) return 0; // created and never written
    const H5::DSetCreatPropList plist = ds.getCreatePlist();
    const std::size_t value_size = std::max<std::size_t>(ds.getDataType().getSize(), 1);
    const auto refuse = [&] {
        return record_error(src.name + ": /" + path + " stores fewer values than its shape says");
    };
    if (plist.getLayout() == H5D_CHUNKED) { // at most (chunks written) x (values per chunk)
        hsize_t chunks = 0;                 // (HDF5 1.10 refuses H5S_ALL here)
        if (H5Dget_num_chunks(ds.getId(), ds.getSpace().getId(), &chunks) < 0)
            throw H5::Exception("H5Dget_num_chunks", "cannot count the chunks of /" + path);
        std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(plist.getChunk(0, nullptr), 0)));
        if (!dims.empty()) plist.getChunk(static_cast<int>(dims.size()), dims.data());
        std::uint64_t covered = chunks;
        for (const hsize_t d : dims) covered = d != 0 && covered > n / d ? n : covered * d;
        covered = std::min(covered, n);
        // Unfiltered chunks hold their values as they are: they cannot outnumber the file's bytes.
        if (plist.getNfilters() == 0 && covered > src.bytes / value_size) throw refuse();
        return covered;
    }
    if (n > src.bytes / value_size || ds.getStorageSize() < n * value_size) throw refuse();
    return n;
}

// Reads dataset `path` of `file` as T, as HDF5 and h5py read it (unwritten values are the
// fill value), after checking its shape against its storage and the fill values `src` has left.
template <class T>
nd_array<T> read_dataset(const H5::H5File& file, const std::string& path, source& src) {
    if (!file.nameExists(path)) throw record_error(src.name + ": dataset /" + path + " missing");
    H5::DataSet ds = file.openDataSet(path);
    require_readable_storage(ds, path, src.name);
    const H5::DataSpace space = ds.getSpace();
    const int rank = space.getSimpleExtentNdims();
    std::vector<hsize_t> dims(static_cast<std::size_t>(std::max(rank, 0)));
    if (rank > 0) space.getSimpleExtentDims(dims.data());
    nd_array<T> out;
    out.shape.assign(dims.begin(), dims.end());
    hsize_t n = 1;
    for (const hsize_t d : dims) {
        if (d != 0 && n > std::numeric_limits<hsize_t>::max() / d)
            throw record_error(src.name + ": /" + path + " has an impossible shape");
        n *= d;
    }
    const std::uint64_t unwritten = n - stored_values(ds, n, path, src);
    if (unwritten > src.fill_left)
        throw record_error(src.name + ": /" + path + " stores fewer values than its shape says (" +
                           std::to_string(n - unwritten) + " of " + std::to_string(n) + "; a file may leave at most " +
                           std::to_string(max_fill_values) + " values unwritten)");
    src.fill_left -= unwritten;
    out.data.resize(n);
    try {
        if (n > 0) ds.read(out.data.data(), mem_type<T>());
    } catch (const H5::Exception& e) {
        throw record_error(src.name + ": /" + path + " is unreadable (" + e.getDetailMsg() + ")");
    }
    return out;
}

inline std::vector<double> read_vector(const H5::H5File& f, const std::string& path, source& src) {
    auto a = read_dataset<double>(f, path, src);
    if (a.shape.size() != 1) throw record_error(src.name + ": /" + path + " is not one-dimensional");
    return std::move(a.data);
}

inline row_matrix read_matrix(const H5::H5File& f, const std::string& path, source& src) {
    auto a = read_dataset<double>(f, path, src);
    if (a.shape.size() != 2) throw record_error(src.name + ": /" + path + " is not two-dimensional");
    row_matrix m(static_cast<Eigen::Index>(a.shape[0]), static_cast<Eigen::Index>(a.shape[1]));
    std::copy(a.data.begin(), a.data.end(), m.data());
    return m;
}

// Number of hard links to the object `obj` (its reference count).
inline unsigned hard_links(const H5::H5Object& obj) {
#if H5_VERSION_GE(1, 12, 0)
    H5O_info2_t info{};
    if (H5Oget_info3(obj.getId(), &info, H5O_INFO_BASIC) < 0) throw H5::Exception("H5Oget_info3", "failed");
#else
    H5O_info_t info{};
    if (H5Oget_info2(obj.getId(), &info, H5O_INFO_BASIC) < 0) throw H5::Exception("H5Oget_info2", "failed");
#endif
    return info.rc;
}

// Visits every dataset below `group_path`, collecting paths relative to the root. A group
// linked more than once (never written by glassy) is refused: it may close a cycle.
inline void collect_datasets(const H5::Group& g, const std::string& prefix, std::vector<std::string>& out,
                             const std::string& fname) {
    for (hsize_t k = 0; k < g.getNumObjs(); ++k) {
        const std::string name = g.getObjnameByIdx(k);
        const std::string path = prefix.empty() ? name : prefix + "/" + name;
        const H5G_obj_t type = g.getObjTypeByIdx(k);
        if (type == H5G_GROUP) {
            const H5::Group sub = g.openGroup(name);
            if (hard_links(sub) != 1) throw record_error(fname + ": group /" + path + " is linked more than once");
            collect_datasets(sub, path, out, fname);
        } else if (type == H5G_DATASET) out.push_back(path);
    }
}

// ---- reading in a child process: the result crosses a pipe as bytes ----
// Values go in this process's own byte order: only its own forked child writes them. Each
// count is checked against the bytes left, so damaged bytes give a record_error, not a crash.

struct wire_in {
    const char* p;
    const char* end;
    [[nodiscard]] std::size_t left() const { return static_cast<std::size_t>(end - p); }
};

[[noreturn]] inline void wire_damaged() { throw record_error("the reader process sent a damaged result"); }

inline void put(std::string& o, std::uint64_t v) { o.append(reinterpret_cast<const char*>(&v), sizeof v); }
inline void get(wire_in& i, std::uint64_t& v) {
    if (i.left() < sizeof v) wire_damaged();
    std::memcpy(&v, i.p, sizeof v);
    i.p += sizeof v;
}
inline void put(std::string& o, std::int64_t v) { put(o, static_cast<std::uint64_t>(v)); }
inline void get(wire_in& i, std::int64_t& v) {
    std::uint64_t u = 0;
    get(i, u);
    v = static_cast<std::int64_t>(u);
}
inline void put(std::string& o, bool v) { put(o, std::uint64_t{v}); }
inline void get(wire_in& i, bool& v) {
    std::uint64_t u = 0;
    get(i, u);
    v = u != 0;
}
// Reads a count of elements of `size` bytes each, checked against the bytes left.
inline std::size_t get_count(wire_in& i, std::size_t size) {
    std::uint64_t n = 0;
    get(i, n);
    if (n > i.left() / std::max<std::size_t>(size, 1)) wire_damaged();
    return static_cast<std::size_t>(n);
}
inline void put(std::string& o, const std::string& s) {
    put(o, std::uint64_t{s.size()});
    o += s;
}
inline void get(wire_in& i, std::string& s) {
    const std::size_t n = get_count(i, 1);
    s.assign(i.p, n);
    i.p += n;
}
inline void put(std::string& o, const nlohmann::json& j) { put(o, j.dump()); }
inline void get(wire_in& i, nlohmann::json& j) {
    std::string s;
    get(i, s);
    j = nlohmann::json::parse(s, nullptr, false);
    if (j.is_discarded()) wire_damaged();
}
inline void put(std::string& o, const row_matrix& m);
inline void get(wire_in& i, row_matrix& m);
template <class T>
void put(std::string& o, const std::vector<T>& v);
template <class T>
void get(wire_in& i, std::vector<T>& v);
template <class T>
void put(std::string& o, const nd_array<T>& a);
template <class T>
void get(wire_in& i, nd_array<T>& a);
template <class V>
void put(std::string& o, const std::map<std::string, V>& m);
template <class V>
void get(wire_in& i, std::map<std::string, V>& m);

template <class T>
void put(std::string& o, const std::vector<T>& v) {
    put(o, std::uint64_t{v.size()});
    if constexpr (std::is_arithmetic_v<T>) {
        if (!v.empty()) o.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
    } else {
        for (const auto& x : v) put(o, x);
    }
}
template <class T>
void get(wire_in& i, std::vector<T>& v) {
    v.resize(get_count(i, std::is_arithmetic_v<T> ? sizeof(T) : sizeof(std::uint64_t)));
    if constexpr (std::is_arithmetic_v<T>) {
        if (!v.empty()) std::memcpy(v.data(), i.p, v.size() * sizeof(T));
        i.p += v.size() * sizeof(T);
    } else {
        for (auto& x : v) get(i, x);
    }
}
inline void put(std::string& o, const row_matrix& m) {
    put(o, static_cast<std::uint64_t>(m.rows()));
    put(o, std::vector<double>(m.data(), m.data() + m.size()));
}
inline void get(wire_in& i, row_matrix& m) {
    std::uint64_t rows = 0;
    std::vector<double> v;
    get(i, rows);
    get(i, v);
    if (rows == 0 ? !v.empty() : v.size() % rows != 0) wire_damaged();
    m = rows == 0 ? row_matrix()
                  : Eigen::Map<const row_matrix>(v.data(), static_cast<Eigen::Index>(rows),
                                                 static_cast<Eigen::Index>(v.size() / rows));
}
template <class T>
void put(std::string& o, const nd_array<T>& a) {
    put(o, a.shape);
    put(o, a.data);
}
template <class T>
void get(wire_in& i, nd_array<T>& a) {
    get(i, a.shape);
    get(i, a.data);
}
template <class V>
void put(std::string& o, const std::map<std::string, V>& m) {
    put(o, std::uint64_t{m.size()});
    for (const auto& [k, v] : m) {
        put(o, k);
        put(o, v);
    }
}
template <class V>
void get(wire_in& i, std::map<std::string, V>& m) {
    const std::size_t n = get_count(i, sizeof(std::uint64_t));
    for (std::size_t k = 0; k < n; ++k) {
        std::string key;
        get(i, key);
        get(i, m[key]);
    }
}

// Every field of a record or checkpoint, in one order, for put and get alike.
template <class R, class F>
    requires std::same_as<std::remove_const_t<R>, record>
inline void for_each_field(R& r, F&& f) {
    f(r.system), f(r.method), f(r.parameters), f(r.complete), f(r.time), f(r.energy), f(r.energy_samples);
    f(r.observables), f(r.aging.tw), f(r.aging.t), f(r.aging.delta), f(r.aging.delta_samples), f(r.aging.noise);
    f(r.extra), f(r.extra_f32), f(r.extra_i64);
}
template <class C, class F>
    requires std::same_as<std::remove_const_t<C>, checkpoint>
inline void for_each_field(C& c, F&& f) {
    f(c.tool), f(c.config), f(c.strings), f(c.integers), f(c.arrays), f(c.arrays_f32);
}

// Writes all of `bytes` to `fd`; false if the pipe broke.
inline bool write_all(int fd, const std::string& bytes) {
    for (std::size_t done = 0; done < bytes.size();) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

// Reads `fd` to its end, straight into the string it returns.
inline std::string read_all(int fd) {
    std::string out;
    std::size_t size = 0;
    for (;;) {
        if (out.size() - size < (1 << 20)) out.resize(std::max<std::size_t>(2 * out.size(), 1 << 21));
        const ssize_t n = ::read(fd, out.data() + size, out.size() - size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        size += static_cast<std::size_t>(n);
    }
    out.resize(size);
    return out;
}

// What the child sends: 'v' and the value, or 'e' and the one-line error message.
template <class T, class Read>
std::string child_result(Read& read, const std::string& file, const char* what) {
    std::string out;
    try {
        const T value = read();
        out = "v";
        for_each_field(value, [&](const auto& x) { put(out, x); });
    } catch (const error& e) {
        out = std::string("e") + e.what();
    } catch (const std::exception& e) {
        out = "e" + file + ": unreadable " + what + " (" + e.what() + ")";
    }
    return out;
}

// Runs `read` (which returns a T: a record or a checkpoint) in a forked child process and
// returns what it read, or throws the record_error it threw. HDF5 thus never runs in this
// process on the file: a crash inside HDF5 kills the child only, and becomes one record_error
// naming `file`. A heap HDF5 corrupted without crashing dies with the child too. The child's
// stderr goes to /dev/null (its dying words are not the caller's message); it leaves with
// _exit, so no atexit handler (HDF5's would close the parent's open files) runs in it.
template <class T, class Read>
T read_in_child(const std::string& file, const char* what, Read&& read) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw record_error(file + ": cannot read the " + what + " in a child process (pipe failed)");
    ::fcntl(fds[0], F_SETPIPE_SZ, 1 << 20); // fewer switches between the two for big records
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        const int null = ::open("/dev/null", O_WRONLY);
        if (null >= 0) ::dup2(null, STDERR_FILENO);
        ::_exit(write_all(fds[1], child_result<T>(read, file, what)) ? 0 : 1);
    }
    ::close(fds[1]);
    const std::string bytes = pid > 0 ? read_all(fds[0]) : std::string();
    ::close(fds[0]);
    if (pid < 0) throw record_error(file + ": cannot read the " + what + " in a child process (fork failed)");
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) throw record_error(file + ": lost the process reading the " + what + " (waitpid failed)");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        const std::string how = WIFSIGNALED(status) ? std::string(::strsignal(WTERMSIG(status)))
                                                    : "exit status " + std::to_string(WEXITSTATUS(status));
        throw record_error(file + ": unreadable " + what + " (the HDF5 library crashed reading it: " + how + ")");
    }
    if (!bytes.empty() && bytes[0] == 'e') throw record_error(bytes.substr(1));
    if (bytes.empty() || bytes[0] != 'v')
        throw record_error(file + ": unreadable " + what + " (the reader process sent no result)");
    T value;
    wire_in in{bytes.data() + 1, bytes.data() + bytes.size()};
    try {
        for_each_field(value, [&](auto& x) { get(in, x); });
    } catch (const record_error& e) {
        throw record_error(file + ": unreadable " + what + " (" + e.what() + ")");
    }
    if (in.left() != 0)
        throw record_error(file + ": unreadable " + what + " (the reader process sent a damaged result)");
    return value;
}

// The read path of records and checkpoints: refuses a `path` that is not an HDF5 file
// (require_hdf5_file; `file_what` names it: "file", "checkpoint file"), then returns
// read_here(H5::H5File&, fname), in a child process with read_isolation::child_process
// (read_in_child); an HDF5 exception becomes one record_error "FILE: unreadable WHAT (detail)".
template <class T, class ReadHere>
T read_hdf5(const std::filesystem::path& path, const char* file_what, const char* what, read_isolation isolation,
            ReadHere&& read_here) {
    require_hdf5_file(path, file_what);
    const std::string fname = path.string();
    const auto read = [&]() -> T {
        try {
            H5::H5File f(fname, H5F_ACC_RDONLY);
            return read_here(f, fname);
        } catch (const H5::Exception& e) {
            throw record_error(fname + ": unreadable " + what + " (" + e.getDetailMsg() + ")");
        }
    };
    return isolation == read_isolation::child_process ? read_in_child<T>(fname, what, read) : read();
}

// Runs `fill(file)` on a temporary HDF5 file, then flushes, fsyncs and renames it to `path`.
template <class Fill>
void write_atomically(const std::filesystem::path& path, const char* what, Fill&& fill) {
    const std::filesystem::path tmp = path.string() + ".tmp." + std::to_string(::getpid());
    try {
        {
            H5::H5File f(tmp.string(), H5F_ACC_TRUNC);
            fill(f);
            f.flush(H5F_SCOPE_GLOBAL);
            f.close();
        }
        fsync_file(tmp);
        std::error_code ec;
        std::filesystem::rename(tmp, path, ec);
        if (ec) throw record_error("cannot rename " + tmp.string() + " to " + path.string() + ": " + ec.message());
    } catch (const H5::Exception& e) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        throw record_error(std::string("cannot write ") + what + " " + path.string() + ": " + e.getDetailMsg());
    } catch (...) {
        std::error_code ec;
        std::filesystem::remove(tmp, ec);
        throw;
    }
}

} // namespace glassy::detail
