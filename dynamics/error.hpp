#pragma once
/// @file Error types thrown by glassy library code. Library code never prints or exits:
/// apps catch these and print what() as a one-line message.
#include <stdexcept>
#include <string>

namespace glassy {

/// Base class of every error glassy throws for bad input, bad files or failed numerics.
class error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// A record file is missing, not HDF5, not a glassy record, of a newer version or malformed.
class record_error : public error {
public:
    using error::error;
};

/// A parameter lies outside its domain (N < p, dt <= 0, ...).
class parameter_error : public error {
public:
    using error::error;
};

/// The dynamics produced a non-finite value (NaN/Inf energy or loss).
class divergence_error : public error {
public:
    using error::error;
};

} // namespace glassy
