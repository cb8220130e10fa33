#pragma once
/// @file The record: one HDF5 file per run (design.md section 3, docs/format.md), written by
/// both quench tools and read by aging_analysis. This is the only reader and writer of it.
#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace glassy {

/// Row-major dense matrix of doubles, the layout of HDF5 datasets.
using row_matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

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
    std::vector<double> tw;                ///< waiting times [n_w], units of record::time
    std::vector<double> t;                 ///< lags [n_l], units of record::time
    row_matrix delta;                      ///< Delta(t_w, t_w + t), [n_w, n_l], sample mean; NaN where not reached
    std::vector<row_matrix> delta_samples; ///< per sample [n_w, n_l]; empty when n_s <= 1
    std::vector<double> noise;             ///< D(t_w) [n_w]: eq. 4 for nets, T for Langevin; may be empty
};

/// Everything one run writes. Optional parts are omitted from the file when empty.
struct record {
    std::string system;                                   ///< "pspin" or "net"
    std::string method;                                   ///< langevin, heun, metropolis, ck, sgd, sgld, ...
    nlohmann::json parameters = nlohmann::json::object(); ///< every parameter of the run
    bool complete = true;                                 ///< false for a partial record of an interrupted run
    std::vector<double> time;                             ///< measurement times [n_t]
    std::vector<double> energy;                           ///< energy per spin (p-spin, sample mean) or train loss (net)
    row_matrix energy_samples;                            ///< [n_s, n_t]; empty when n_s <= 1
    std::map<std::string, std::vector<double>> observables;  ///< /observables/<name>, [n_t] each
    aging_table aging;                                       ///< /aging/...; omitted when tw is empty
    std::map<std::string, nd_array<double>> extra;           ///< other datasets, key = path ("ck/C")
    std::map<std::string, nd_array<float>> extra_f32;        ///< float32 datasets ("snapshots/weights")
    std::map<std::string, nd_array<std::int64_t>> extra_i64; ///< int64 datasets ("hessian/samples")
};

/// Writes `rec` to `path` atomically: to `path.tmp.<pid>` first, flushed, then renamed.
/// Never leaves a partial file under `path`. Throws record_error on any failure (e.g. the
/// directory is not writable), after removing the temporary file. Existing files are replaced.
void write_record(const record& rec, const std::filesystem::path& path);

/// Most values a reader accepts, per file, that have no stored data behind them (chunks never
/// written, datasets created and never written) and so read as the dataset's fill value, as
/// HDF5 and h5py read them. A larger number is refused as a corrupt shape: it would only fill
/// memory (a damaged dataspace claims up to 2^64 values).
inline constexpr std::uint64_t max_fill_values = std::uint64_t{1} << 24;

/// How a reader protects its caller from the HDF5 library itself crashing on a corrupt file
/// (HDF5 does not promise to survive damaged heaps; docs/reliability.md lists what it does).
enum class read_isolation {
    /// Read the file in a forked child process, which sends what it read (or its error) back
    /// through a pipe: HDF5 never runs on the file in this process, so neither its crashes
    /// nor a heap it corrupts without crashing reach the caller. A child killed by a signal
    /// (or by a sanitizer) becomes a record_error "FILE: unreadable record (the HDF5 library
    /// crashed reading it: ...)". Costs a fork and a copy of the values through the pipe (the
    /// caller holds them twice for a moment). Precondition: no other thread of the process is
    /// inside HDF5 meanwhile. Hangs inside HDF5 are not caught.
    child_process,
    /// Read only in this process: a crash inside HDF5 kills the caller. For the fuzzers (which
    /// must see every crash) and for files this process wrote itself.
    in_process,
};

/// Reads and validates a record: it must be HDF5, have format "glassy-record", a version
/// <= record_format_version, `system` "pspin" or "net", a `method` of that system (see
/// docs/format.md; fixed-length strings are read up to their first NUL and without trailing
/// spaces), the required datasets with consistent shapes, and its datasets readable by this
/// HDF5 library (a filter it lacks, e.g. LZF, is named). Unwritten values read as the fill
/// value (at most max_fill_values per file). Throws record_error with a one-line message
/// naming the file and the problem (the attribute or dataset) otherwise.
[[nodiscard]] record read_record(const std::filesystem::path& path,
                                 read_isolation isolation = read_isolation::child_process);

/// Element-wise mean over samples of equal-shape matrices (NaN propagates).
[[nodiscard]] row_matrix mean_of(const std::vector<row_matrix>& samples);

} // namespace glassy
