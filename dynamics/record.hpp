#pragma once
/// @file The record: one HDF5 file per run (design.md section 3, docs/format.md), written by
/// both quench tools and read by aging_analysis. This is the only reader and writer of it.
#include "dynamics/recorders.hpp"

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace glassy {

/// Version of the record format written by this library; readers refuse newer versions.
inline constexpr int record_format_version = 1;

/// An n-dimensional array stored as an extra dataset (row-major data, shape in HDF5 order).
template <class Scalar>
struct nd_array {
    std::vector<std::uint64_t> shape; ///< dimensions, slowest first
    std::vector<Scalar> data;         ///< product(shape) values, row-major
    friend bool operator==(const nd_array&, const nd_array&) = default;
};

/// Two-time quantities: Delta(t_w, t_w + t) and the noise D(t_w).
struct aging_table {
    std::vector<double> tw;   ///< waiting times [n_w], units of record::time
    std::vector<double> t;    ///< lags [n_l], units of record::time
    row_matrix delta;         ///< Delta(t_w, t_w + t), [n_w, n_l], sample mean; NaN where not reached
    std::vector<row_matrix> delta_samples; ///< per sample [n_w, n_l]; empty when n_s <= 1
    std::vector<double> noise; ///< D(t_w) [n_w]: eq. 4 for nets, T for Langevin; may be empty
};

/// Everything one run writes. Optional parts are omitted from the file when empty.
struct record {
    std::string system;              ///< "pspin" or "net"
    std::string method;              ///< langevin, heun, metropolis, ck, sgd, sgld, ...
    nlohmann::json parameters = nlohmann::json::object(); ///< every parameter of the run
    bool complete = true;            ///< false for a partial record of an interrupted run
    std::vector<double> time;        ///< measurement times [n_t]
    std::vector<double> energy;      ///< energy per spin (p-spin, sample mean) or train loss (net)
    row_matrix energy_samples;       ///< [n_s, n_t]; empty when n_s <= 1
    std::map<std::string, std::vector<double>> observables; ///< /observables/<name>, [n_t] each
    aging_table aging;               ///< /aging/...; omitted when tw is empty
    std::map<std::string, nd_array<double>> extra;     ///< other datasets, key = path ("ck/C")
    std::map<std::string, nd_array<float>> extra_f32;  ///< float32 datasets ("snapshots/weights")
};

/// Writes `rec` to `path` atomically: to `path.tmp.<pid>` first, flushed, then renamed.
/// Never leaves a partial file under `path`. Throws record_error on any failure (e.g. the
/// directory is not writable), after removing the temporary file. Existing files are replaced.
void write_record(const record& rec, const std::filesystem::path& path);

/// Reads and validates a record: it must be HDF5, have format "glassy-record", a version
/// <= record_format_version and the required datasets with consistent shapes. Throws
/// record_error with a one-line message naming the file and the problem otherwise.
[[nodiscard]] record read_record(const std::filesystem::path& path);

/// Element-wise mean over samples of equal-shape matrices (NaN propagates).
[[nodiscard]] row_matrix mean_of(const std::vector<row_matrix>& samples);

} // namespace glassy
