#pragma once
/// @file Checkpoints (implemented in checkpoint.cpp): the full state of an interrupted run (RNG streams, schedule
/// position, snapshots, partial tables), stored as an HDF5 file of format "glassy-checkpoint", written atomically
/// (temporary file, fsync, rename) like records. Each tool decides what it stores; `config` must hold the run's
/// parameters so that a resume can refuse a different one.
#include "dynamics/error.hpp"
#include "dynamics/record.hpp"

#include <concepts>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace glassy {

/// A bag of named values making up one checkpoint.
struct checkpoint {
    std::string tool;                                  ///< writer, e.g. "pspin_quench"
    std::string config;                                ///< JSON of the run's parameters
    std::map<std::string, std::string> strings;        ///< e.g. RNG states (text)
    std::map<std::string, std::int64_t> integers;      ///< e.g. step counters
    std::map<std::string, nd_array<double>> arrays;    ///< numeric state (float64)
    std::map<std::string, nd_array<float>> arrays_f32; ///< float32 state (e.g. weights)

    /// Stores a one-dimensional array.
    void put(const std::string& key, const std::vector<double>& v) { arrays[key] = {{v.size()}, v}; }
    /// Reads a one-dimensional array; throws error if missing.
    [[nodiscard]] std::vector<double> vector(const std::string& key) const;
    /// Stores a matrix as a two-dimensional array (rows x cols, row-major).
    void put_matrix(const std::string& key, const row_matrix& m) {
        arrays[key] = {{static_cast<std::uint64_t>(m.rows()), static_cast<std::uint64_t>(m.cols())},
                       std::vector<double>(m.data(), m.data() + m.size())};
    }
    /// Reads what put_matrix stored; throws record_error if missing or not two-dimensional.
    [[nodiscard]] row_matrix matrix(const std::string& key) const;
    /// Stores a vector: doubles in `arrays`, floats in `arrays_f32` (one-dimensional).
    template <class Scalar>
        requires std::same_as<Scalar, double> || std::same_as<Scalar, float>
    void put_vector(const std::string& key, const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& v) {
        nd_array<Scalar> a{{static_cast<std::uint64_t>(v.size())}, std::vector<Scalar>(v.data(), v.data() + v.size())};
        if constexpr (std::same_as<Scalar, double>) arrays[key] = std::move(a);
        else arrays_f32[key] = std::move(a);
    }
    /// What put_vector stored under `key`, or nullopt when there is none; throws record_error
    /// when it does not hold exactly `size` values.
    template <class Scalar>
        requires std::same_as<Scalar, double> || std::same_as<Scalar, float>
    [[nodiscard]] std::optional<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>> find_vector(const std::string& key,
                                                                                      Eigen::Index size) const {
        const auto& from = [this]() -> const auto& {
            if constexpr (std::same_as<Scalar, double>) return arrays;
            else return arrays_f32;
        }();
        const auto it = from.find(key);
        if (it == from.end()) return std::nullopt;
        if (it->second.data.size() != static_cast<std::size_t>(size))
            throw record_error("checkpoint: '" + key + "' has the wrong size");
        return Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>(it->second.data.data(), size);
    }
    /// Reads an integer; throws error if missing.
    [[nodiscard]] std::int64_t integer(const std::string& key) const;
    /// Reads a string; throws error if missing.
    [[nodiscard]] const std::string& string(const std::string& key) const;
};

/// Writes atomically; throws record_error on failure (no file is left under `path` then).
void write_checkpoint(const checkpoint& c, const std::filesystem::path& path);
/// Reads and validates the format (and every dataset, as read_record does, isolation
/// included); throws record_error with a one-line message otherwise.
[[nodiscard]] checkpoint read_checkpoint(const std::filesystem::path& path,
                                         read_isolation isolation = read_isolation::child_process);

/// The checkpoint as one byte string, to send it to another process of the same job (the MPI
/// gather of pspin_quench, apps/ensemble.hpp): every entry, in the byte layout in which a child
/// process sends what it read (dynamics/hdf5_io.hpp), this machine's byte order; not a file format
/// (use write_checkpoint for files).
[[nodiscard]] std::string to_bytes(const checkpoint& c);
/// The checkpoint to_bytes wrote; throws record_error when `bytes` are not one (truncated or
/// with trailing bytes).
[[nodiscard]] checkpoint checkpoint_from_bytes(std::string_view bytes);

/// Text state of any object with stream operators (std RNG engines and distributions).
template <class T>
[[nodiscard]] std::string to_state_string(const T& x) {
    std::ostringstream s;
    s << x;
    return s.str();
}
/// Restores what to_state_string wrote; throws error if it does not parse.
template <class T>
void from_state_string(const std::string& text, T& x) {
    std::istringstream s(text);
    s >> x;
    if (s.fail()) throw error("checkpoint: corrupt generator state");
}

} // namespace glassy
