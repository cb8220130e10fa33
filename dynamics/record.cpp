#include "dynamics/record.hpp"

#include "dynamics/hdf5_io.hpp"

namespace glassy {

using namespace detail;

row_matrix mean_of(const std::vector<row_matrix>& samples) {
    if (samples.empty()) return {};
    row_matrix m = row_matrix::Zero(samples.front().rows(), samples.front().cols());
    for (const auto& s : samples) {
        if (s.rows() != m.rows() || s.cols() != m.cols()) throw error("mean_of: samples differ in shape");
        m += s;
    }
    return m / static_cast<double>(samples.size());
}

void write_record(const record& rec, const std::filesystem::path& path) {
    if (rec.time.size() != rec.energy.size()) throw record_error("record: /time and /energy differ in length");
    write_atomically(path, "record", [&](H5::H5File& f) {
        H5::Group root = write_format(f, "glassy-record");
        write_string_attribute(root, "system", rec.system);
        write_string_attribute(root, "method", rec.method);
        write_string_attribute(root, "parameters", rec.parameters.dump());
        write_int_attribute(root, "complete", rec.complete ? 1 : 0);
        write_vector(f, "time", rec.time);
        write_vector(f, "energy", rec.energy);
        if (rec.energy_samples.size() > 0) write_matrix(f, "energy_samples", rec.energy_samples);
        for (const auto& [name, v] : rec.observables) {
            if (v.size() != rec.time.size())
                throw record_error("record: observable " + name + " differs in length from /time");
            write_vector(f, "observables/" + name, v);
        }
        if (!rec.aging.tw.empty()) {
            const auto& a = rec.aging;
            if (static_cast<std::size_t>(a.delta.rows()) != a.tw.size() ||
                static_cast<std::size_t>(a.delta.cols()) != a.t.size())
                throw record_error("record: /aging/delta shape differs from [n_w, n_l]");
            write_vector(f, "aging/tw", a.tw);
            write_vector(f, "aging/t", a.t);
            write_matrix(f, "aging/delta", a.delta);
            if (!a.noise.empty()) write_vector(f, "aging/noise", a.noise);
            if (!a.delta_samples.empty()) {
                std::vector<double> buf;
                buf.reserve(a.delta_samples.size() * static_cast<std::size_t>(a.delta.size()));
                for (const auto& s : a.delta_samples) {
                    if (s.rows() != a.delta.rows() || s.cols() != a.delta.cols())
                        throw record_error("record: a delta sample differs in shape");
                    buf.insert(buf.end(), s.data(), s.data() + s.size());
                }
                write_dataset(f, "aging/delta_samples",
                              {a.delta_samples.size(), static_cast<hsize_t>(a.delta.rows()),
                               static_cast<hsize_t>(a.delta.cols())},
                              buf.data());
            }
        }
        for (const auto& [p, arr] : rec.extra)
            write_dataset(f, p, std::vector<hsize_t>(arr.shape.begin(), arr.shape.end()), arr.data.data());
        for (const auto& [p, arr] : rec.extra_f32)
            write_dataset(f, p, std::vector<hsize_t>(arr.shape.begin(), arr.shape.end()), arr.data.data());
        for (const auto& [p, arr] : rec.extra_i64)
            write_dataset(f, p, std::vector<hsize_t>(arr.shape.begin(), arr.shape.end()), arr.data.data());
    });
}

namespace {

// read_record on the open file `f` (read_hdf5 has checked it and catches HDF5's exceptions).
record read_record_here(H5::H5File& f, const std::string& fname) {
    source src{fname, f.getFileSize()};
    H5::Group root = f.openGroup("/");
    record rec;
    if (read_string_attribute(root, "format", fname) != "glassy-record")
        throw record_error(fname + ": not a glassy record (format attribute is not 'glassy-record')");
    if (!root.attrExists("format_version")) throw record_error(fname + ": format_version missing");
    const int version = read_int_attribute(root, "format_version", fname);
    if (version > record_format_version)
        throw record_error(fname + ": format_version " + std::to_string(version) +
                           " is newer than this glassy reads (" + std::to_string(record_format_version) + ")");
    if (version < 1) throw record_error(fname + ": invalid format_version " + std::to_string(version));
    const auto& methods = methods_of_systems();
    std::vector<std::string> systems;
    for (const auto& [system, of_system] : methods) systems.push_back(system);
    rec.system = read_enumerated_attribute(root, "system", systems, fname);
    rec.method = read_enumerated_attribute(root, "method", methods.at(rec.system), fname);
    const std::string params = read_string_attribute(root, "parameters", fname);
    try {
        rec.parameters = nlohmann::json::parse(params);
    } catch (const nlohmann::json::exception&) {
        throw record_error(fname + ": attribute 'parameters' is not valid JSON");
    }
    if (root.attrExists("complete")) rec.complete = read_int_attribute(root, "complete", fname) != 0;
    rec.time = read_vector(f, "time", src);
    rec.energy = read_vector(f, "energy", src);
    if (rec.time.size() != rec.energy.size()) throw record_error(fname + ": /time and /energy differ in length");
    std::vector<std::string> paths;
    collect_datasets(root, "", paths, fname);
    for (const auto& p : paths) {
        if (p == "time" || p == "energy") continue;
        if (p == "energy_samples") {
            rec.energy_samples = read_matrix(f, p, src);
            if (static_cast<std::size_t>(rec.energy_samples.cols()) != rec.time.size())
                throw record_error(fname + ": /energy_samples differs in length from /time");
        } else if (p.rfind("observables/", 0) == 0) {
            auto v = read_vector(f, p, src);
            if (v.size() != rec.time.size()) throw record_error(fname + ": /" + p + " differs in length from /time");
            rec.observables[p.substr(12)] = std::move(v);
        } else if (p.rfind("aging/", 0) == 0) {
            continue; // read below, as a whole
        } else {
            const H5::DataSet ds = f.openDataSet(p);
            if (ds.getDataType().getSize() == 4 && ds.getTypeClass() == H5T_FLOAT)
                rec.extra_f32[p] = read_dataset<float>(f, p, src);
            else if (ds.getTypeClass() == H5T_INTEGER) rec.extra_i64[p] = read_dataset<std::int64_t>(f, p, src);
            else rec.extra[p] = read_dataset<double>(f, p, src);
        }
    }
    if (f.nameExists("aging")) {
        auto& a = rec.aging;
        a.tw = read_vector(f, "aging/tw", src);
        a.t = read_vector(f, "aging/t", src);
        a.delta = read_matrix(f, "aging/delta", src);
        if (static_cast<std::size_t>(a.delta.rows()) != a.tw.size() ||
            static_cast<std::size_t>(a.delta.cols()) != a.t.size())
            throw record_error(fname + ": /aging/delta shape is not [len(tw), len(t)]");
        if (f.nameExists("aging/noise")) {
            a.noise = read_vector(f, "aging/noise", src);
            if (a.noise.size() != a.tw.size())
                throw record_error(fname + ": /aging/noise differs in length from /aging/tw");
        }
        if (f.nameExists("aging/delta_samples")) {
            auto s = read_dataset<double>(f, "aging/delta_samples", src);
            if (s.shape.size() != 3 || s.shape[1] != a.tw.size() || s.shape[2] != a.t.size())
                throw record_error(fname + ": /aging/delta_samples shape is not [n_s, n_w, n_l]");
            const auto block = static_cast<std::size_t>(a.delta.size());
            for (std::uint64_t k = 0; k < s.shape[0]; ++k) {
                row_matrix m(a.delta.rows(), a.delta.cols());
                std::copy_n(s.data.begin() + static_cast<std::ptrdiff_t>(k * block), block, m.data());
                a.delta_samples.push_back(std::move(m));
            }
        }
    }
    return rec;
}

} // namespace

record read_record(const std::filesystem::path& path, read_isolation isolation) {
    return read_hdf5<record>(path, "file", "record", isolation, read_record_here);
}
} // namespace glassy
