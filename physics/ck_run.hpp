#pragma once
/// @file One call for the app: integrate the CK equations of a quench and return the record
/// (system "pspin", method "ck"; datasets in docs/ck.md).
#include "dynamics/checkpoint.hpp"
#include "dynamics/driver.hpp"
#include "dynamics/fields.hpp"
#include "dynamics/record.hpp"
#include "dynamics/run_control.hpp"
#include "physics/ck.hpp"

#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>

namespace glassy {

/// The CK integration scheme.
enum class ck_scheme {
    decimation, ///< ck_decimation: Kim–Latz time doubling, cost ~ log t (long times)
    reference   ///< ck_reference: uniform grid of step dt, cost ~ t^3 (short times)
};

/// Parses "decimation" or "reference"; throws field_error (key "scheme") otherwise.
[[nodiscard]] ck_scheme parse_ck_scheme(const std::string& name);
/// The name parse_ck_scheme accepts.
[[nodiscard]] std::string to_string(ck_scheme scheme);

/// Every parameter of a CK run (pspin_quench maps --p --T --T0 --tmax --dt --mix --scheme --grid
/// --per-decade through ck_parameters_fields(), and --threads, onto them).
struct ck_parameters {
    ck_mixture mix = ck_mixture::pure(3); ///< f(q) = sum_p c_p q^p / 2 ("p:c,..." in JSON and on the command line)
    double T = 0.5;                       ///< bath temperature after the quench (>= 0)
    double T0 = std::numeric_limits<double>::infinity(); ///< initial temperature (> T_d, or infinity)
    double tmax = 1e5;                        ///< final time (Langevin time units); the default run takes ~30 s
    ck_scheme scheme = ck_scheme::decimation; ///< integration scheme
    double dt = 0.0;                          ///< step: reference h (default 0.02) or the decimation's initial step
                                              ///< h0 (default 1e-4); 0 = default
    int grid = 512;                           ///< decimation: grid points N per time (even, >= 16)
    int copied = 2;                           ///< decimation: diagonal band carried over (>= 2)
    double tolerance = 1e-10;                 ///< decimation: fixed-point tolerance per row
    int max_iterations = 200;                 ///< decimation: iteration cap per row
    int tw_per_decade = 4;                    ///< aging table: waiting times 10^(k/tw_per_decade) in [1, tmax/2]
    int lags_per_decade = 10;                 ///< aging table: lags 10^(k/lags_per_decade) in [0.1, tmax]
    int output_points = 512;                  ///< at most this many grid times in /ck/* (the reference grid is thinned)
    int threads = 0;                          ///< OpenMP threads the caller runs with (0 = OpenMP default): recorded in
                     ///< the parameters only; run_ck never changes the thread count (the app does)
};

/// The field table of ck_parameters (dynamics/fields.hpp): every field with its JSON key as in
/// the record's `parameters` (docs/ck.md) and its pspin_quench flag: the CK-only --mix, --T0,
/// --scheme, --grid, and the flags shared with the finite-N methods, --p (a pure mix), --T,
/// --tmax, --dt and --per-decade (lags_per_decade), which pspin_quench binds to
/// pspin_quench_fields() first (app::flag_set shares them). "p" is the pure model's p, null for
/// a mixture (written from mix, not read back); "dt" is written as the step used (the scheme's
/// default for 0), "T0" as "infinity" when infinite; "threads" is not required when reading back
/// (a checkpoint's configuration leaves it out). to_json adds "num_parameters" and "N".
[[nodiscard]] const field_table<ck_parameters>& ck_parameters_fields();

/// Checks every field; throws field_error (a parameter_error) with a one-line message naming
/// the bad one by its key, or, from ck_system, parameter_error for a finite T0 at or below the
/// dynamical temperature of the mixture, dynamical_temperature(), where the equilibrium start
/// does not exist (the message gives T_d).
void validate(const ck_parameters& p);

/// Number of integration steps of the run, from t = 0 to tmax (what hooks.progress counts).
[[nodiscard]] std::int64_t ck_steps(const ck_parameters& p);

/// Integrates the CK equations with glassy::integrate and returns the record:
/// /time, /energy (e(t) per spin), /observables/mu, /aging/{tw,t,delta,noise}
/// (Delta = 2 - 2 C(t_w + t, t_w); NaN past tmax or where the lag is under two grid steps at
/// t_w + t), and extra "ck/times", "ck/C", "ck/R", "ck/chi" (final grid; docs/ck.md).
/// `hooks.progress` is called with (step, total steps); `hooks.stop` ends the run early and the
/// record is then marked incomplete. Throws parameter_error, divergence_error.
[[nodiscard]] record run_ck(const ck_parameters& p, const run_hooks& hooks = {});

/// The whole state of a CK run as checkpoint entries (every field of for_each_field: the grid,
/// interval moments and histories), and back; the layout is that of every CK checkpoint so far.
/// restore throws record_error when an entry is missing or corrupt.
void save(checkpoint& c, const ck_state& x);
void restore(const checkpoint& c, ck_state& x);

/// run_ck with checkpoints (dynamics/run_control.hpp): the whole two-time state (save above),
/// the recorders and the step, so a resumed run gives the record of the uninterrupted one, bit
/// for bit (same binary and CPU); written between steps. When hooks.stop stops the run and a
/// checkpoint path is set, a final checkpoint is written. Throws record_error for a checkpoint of
/// another configuration.
[[nodiscard]] record run_ck(const ck_parameters& p, const run_hooks& hooks, const run_control& control);

/// True when `c` was written by a CK run (pspin_quench --method ck).
[[nodiscard]] bool is_ck_checkpoint(const checkpoint& c);
/// The parameters stored in a CK checkpoint (read through ck_parameters_fields(); threads = 0);
/// throws record_error if it is not one or its configuration cannot be read.
[[nodiscard]] ck_parameters ck_parameters_from_checkpoint(const checkpoint& c);

/// JSON of the parameters as written in the record: the fields of ck_parameters_fields(), plus
/// "num_parameters" and "N" ("infinity").
[[nodiscard]] nlohmann::json to_json(const ck_parameters& p);

} // namespace glassy
