#include "dynamics/checkpoint.hpp"

#include "dynamics/hdf5_io.hpp"

namespace glassy {

using namespace detail;

std::vector<double> checkpoint::vector(const std::string& key) const {
    const auto it = arrays.find(key);
    if (it == arrays.end()) throw record_error("checkpoint: entry '" + key + "' missing");
    return it->second.data;
}
row_matrix checkpoint::matrix(const std::string& key) const {
    const auto it = arrays.find(key);
    if (it == arrays.end()) throw record_error("checkpoint: entry '" + key + "' missing");
    const nd_array<double>& a = it->second;
    if (a.shape.size() != 2 || a.shape[0] * a.shape[1] != a.data.size())
        throw record_error("checkpoint: entry '" + key + "' is not a two-dimensional table");
    row_matrix m(static_cast<Eigen::Index>(a.shape[0]), static_cast<Eigen::Index>(a.shape[1]));
    std::copy(a.data.begin(), a.data.end(), m.data());
    return m;
}
std::int64_t checkpoint::integer(const std::string& key) const {
    const auto it = integers.find(key);
    if (it == integers.end()) throw record_error("checkpoint: entry '" + key + "' missing");
    return it->second;
}
const std::string& checkpoint::string(const std::string& key) const {
    const auto it = strings.find(key);
    if (it == strings.end()) throw record_error("checkpoint: entry '" + key + "' missing");
    return it->second;
}

void write_checkpoint(const checkpoint& c, const std::filesystem::path& path) {
    write_atomically(path, "checkpoint", [&](H5::H5File& f) {
        H5::Group root = write_format(f, "glassy-checkpoint");
        write_string_attribute(root, "tool", c.tool);
        write_string_attribute(root, "config", c.config);
        const H5::StrType st(H5::PredType::C_S1, H5T_VARIABLE);
        for (const auto& [k, v] : c.strings) {
            const std::string p = "strings/" + k;
            H5::Group g = ensure_groups(f, p);
            g.createDataSet(p.substr(p.rfind('/') + 1), st, H5::DataSpace(H5S_SCALAR)).write(v, st);
        }
        for (const auto& [k, v] : c.integers) {
            const std::string p = "integers/" + k;
            H5::Group g = ensure_groups(f, p);
            g.createDataSet(p.substr(p.rfind('/') + 1), H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR))
                .write(&v, H5::PredType::NATIVE_INT64);
        }
        for (const auto& [k, a] : c.arrays)
            write_dataset(f, "arrays/" + k, std::vector<hsize_t>(a.shape.begin(), a.shape.end()), a.data.data());
        for (const auto& [k, a] : c.arrays_f32)
            write_dataset(f, "arrays_f32/" + k, std::vector<hsize_t>(a.shape.begin(), a.shape.end()), a.data.data());
    });
}

namespace {

// read_checkpoint on the open file `f` (read_hdf5 has checked it and catches HDF5's exceptions).
checkpoint read_checkpoint_here(H5::H5File& f, const std::string& fname) {
    source src{fname, f.getFileSize()};
    H5::Group root = f.openGroup("/");
    if (read_string_attribute(root, "format", fname) != "glassy-checkpoint")
        throw record_error(fname + ": not a glassy checkpoint");
    int version = 0;
    if (root.attrExists("format_version")) version = read_int_attribute(root, "format_version", fname);
    if (version != record_format_version)
        throw record_error(fname + ": checkpoint format_version " + std::to_string(version) + " is not supported");
    checkpoint c;
    c.tool = read_string_attribute(root, "tool", fname);
    c.config = read_string_attribute(root, "config", fname);
    std::vector<std::string> paths;
    collect_datasets(root, "", paths, fname);
    for (const auto& p : paths) {
        const auto slash = p.find('/');
        const std::string kind = p.substr(0, slash), key = p.substr(slash + 1);
        H5::DataSet ds = f.openDataSet(p);
        if (kind == "strings" || kind == "integers") {
            require_readable_storage(ds, p, fname);
            require_single(ds.getSpace(), "/" + p, fname);
        }
        if (kind == "strings") {
            c.strings[key] = read_single_string(ds, "/" + p, fname);
        } else if (kind == "integers") {
            std::int64_t v = 0;
            ds.read(&v, H5::PredType::NATIVE_INT64);
            c.integers[key] = v;
        } else if (kind == "arrays") {
            c.arrays[key] = read_dataset<double>(f, p, src);
        } else if (kind == "arrays_f32") {
            c.arrays_f32[key] = read_dataset<float>(f, p, src);
        }
    }
    return c;
}

} // namespace

checkpoint read_checkpoint(const std::filesystem::path& path, read_isolation isolation) {
    return read_hdf5<checkpoint>(path, "checkpoint file", "checkpoint", isolation, read_checkpoint_here);
}

std::string to_bytes(const checkpoint& c) {
    std::string out;
    for_each_field(c, [&](const auto& x) { put(out, x); });
    return out;
}

checkpoint checkpoint_from_bytes(std::string_view bytes) {
    checkpoint c;
    wire_in in{bytes.data(), bytes.data() + bytes.size()};
    try {
        for_each_field(c, [&](auto& x) { get(in, x); });
    } catch (const record_error&) {
        throw record_error("checkpoint bytes: damaged (truncated or inconsistent)");
    }
    if (in.left() != 0) throw record_error("checkpoint bytes: damaged (trailing bytes)");
    return c;
}

} // namespace glassy
