#pragma once
/// @file The aging analysis of one run (or of an average of runs): regimes t1/t2 of the loss,
/// Delta and Delta/D per waiting time, collapse measures, diffusive exponent, plateau and
/// q_EA, aging scaling in t/t_w and the power-law approach of the energy. Definitions in
/// docs/analysis.md. Pure computation on in-memory data: no printing, no files.
#include "analysis/barrier.hpp"
#include "analysis/fit.hpp"
#include "dynamics/record.hpp"

#include <nlohmann/json.hpp>

#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace glassy {

/// What a record describes, its `system` attribute (docs/format.md): the spherical p-spin glass
/// (finite N, or N = infinity by the CK equations) or a network trained by SGD/SGLD. Parsed once,
/// where a record becomes run_data (from_record); the analysis branches on this value only.
enum class system_kind { pspin, net };

/// Parses a record's `system`: "pspin" or "net". Throws record_error naming the value otherwise.
[[nodiscard]] system_kind parse_system_kind(const std::string& name);
/// The record's spelling of `kind` ("pspin", "net"): what parse_system_kind accepts, and what
/// summary.json and the figure titles print.
[[nodiscard]] std::string to_string(system_kind kind);

/// Hessian spectra along the trajectory (the record's /hessian group, issue 13; docs/format.md)
/// as the analysis uses them: the mean over samples (and records) with standard errors. Empty
/// `t` when the record has no /hessian group; a member the record lacks is NaN [n_h] (top: no
/// columns, density: empty).
struct hessian_series {
    std::vector<double> t;                     ///< measurement times [n_h], units of /time
    row_matrix top;                            ///< the k largest eigenvalues, largest first [n_h, k]
    std::vector<double> negative_fraction;     ///< fraction of eigenvalues < 0 [n_h]
    std::vector<double> negative_fraction_err; ///< its standard error [n_h] (NaN when not estimable)
    std::vector<double> flat_fraction;         ///< fraction with |lambda| <= epsilon max|lambda| [n_h]
    std::vector<double> flat_fraction_err;     ///< its standard error [n_h]
    std::vector<double> trace;                 ///< trace of the Hessian [n_h]
    std::vector<double> trace_err;             ///< /hessian/trace_err (nets: Hutchinson), else over samples [n_h]
    std::vector<double> density_grid;          ///< eigenvalues of the density [n_g]
    row_matrix density;                        ///< spectral density [n_h, n_g] (empty when not recorded)
};

/// One run, or the average of several runs of the same parameters, with standard errors.
/// Errors are NaN where they cannot be estimated (a single run without per-sample data).
struct run_data {
    system_kind system = system_kind::pspin;              ///< the record's `system`
    std::string method;                                   ///< langevin, heun, metropolis, ck, sgd, ...
    nlohmann::json parameters = nlohmann::json::object(); ///< parameters of the first record
    std::vector<std::string> sources;                     ///< file names the data came from
    std::size_t n_records = 0;                            ///< records averaged
    std::size_t n_error_samples = 0; ///< samples behind the error bars (records, or per-record samples)
    bool complete = true;            ///< false if any record is a partial (interrupted) run
    std::vector<double> time;        ///< measurement times [n_t]
    std::vector<double> energy;      ///< mean energy per spin or train loss [n_t]
    std::vector<double> energy_err;  ///< its standard error [n_t]
    std::map<std::string, std::vector<double>> observables;     ///< mean /observables/<name>
    std::map<std::string, std::vector<double>> observables_err; ///< their standard errors
    /// Per-seed /observables of a `net_quench --seeds` record: /seeds/observables/<name>
    /// [n_s, n_t] (docs/format.md, "Several seeds"); empty for other records and for averages.
    std::map<std::string, row_matrix> observables_samples;
    std::vector<double> tw;                  ///< waiting times [n_w]
    std::vector<double> lag;                 ///< lags t [n_l]
    row_matrix delta;                        ///< mean Delta(t_w, t_w + t) [n_w, n_l]; NaN where not reached
    row_matrix delta_err;                    ///< its standard error [n_w, n_l]
    std::vector<double> noise;               ///< mean D(t_w) [n_w] (empty when unknown)
    std::vector<double> noise_err;           ///< its standard error [n_w]
    std::vector<std::string> extra_datasets; ///< names of other datasets (e.g. "ck/C"), listed only
    hessian_series hessian;                  ///< /hessian (empty t when the record has none)
    barrier_series barrier;                  ///< /barrier (empty tw when the record has none)
    clone_series clones;                     ///< /clones (empty tw when the record has none)
};

/// Turns one record into run_data. Standard errors come from /energy_samples,
/// /aging/delta_samples, /seeds/observables/<name> (net --seeds) and /hessian/..._samples when
/// the record has n_s > 1 samples (sd / sqrt(n_s)), NaN otherwise; the trace's from
/// /hessian/trace_err when recorded. A /seeds/observables/<name> whose shape is not [n_s, n_t]
/// (n_t = the length of /observables/<name>) is a record_error naming the file and the dataset.
/// For a p-spin record without /aging/noise, D(t_w) = parameters["T"] when present. The
/// /hessian datasets (record::extra "hessian/...") are checked against their shapes in
/// docs/format.md (n_h = len(/hessian/t)): throws record_error with a one-line message naming
/// `source` and the dataset otherwise, or when /hessian/t is missing beside other /hessian data;
/// /barrier and /clones likewise (barrier_from, clones_from). The analysed groups /hessian,
/// /barrier and /clones are not listed in extra_datasets.
[[nodiscard]] run_data from_record(const record& rec, const std::string& source);

/// Averages records of the same run parameters (every parameter equal except those in
/// averaging_ignored_parameters, same system, method, time grid, waiting times and lags, and
/// /hessian in all or none, with the same /hessian/t, density grid and number of top eigenvalues;
/// /barrier and /clones in all or none, with the same pairs and points, clone t_w and lags):
/// element-wise mean and standard error sd / sqrt(n) with the n - 1 sample deviation.
/// Throws record_error with a one-line message naming the two files and the first
/// difference otherwise. `sources` names the records in messages (same length as `recs`).
[[nodiscard]] run_data average_records(const std::vector<record>& recs, const std::vector<std::string>& sources);

/// Parameter keys that may differ between records that are averaged: the seed, and keys
/// that do not change the ensemble sampled (output path, threads, device, data directory)
/// or that report how the run went (wall time and its split, steps or samples done; a shorter run is
/// caught by its different time grid anyway).
inline const std::vector<std::string> averaging_ignored_parameters = {
    "seed", "out", "threads", "device", "data_dir", "wall_seconds", "timing", "steps_done", "samples_completed"};

/// Collapse of several curves: the RMS over abscissae of the sample standard deviation of
/// y across the curves defined there (linear interpolation in x; at least two curves).
struct spread_measure {
    std::optional<double> spread; ///< nullopt when fewer than two curves overlap anywhere
    std::size_t curves = 0;       ///< curves used
    std::size_t points = 0;       ///< abscissae where at least two curves were defined
};

/// A curve (x, y), x ascending (curve_spread merges repeated x: mean y).
struct curve {
    std::vector<double> x, y;
};

/// Spread of `curves` on the union of their abscissae (see spread_measure).
[[nodiscard]] spread_measure curve_spread(const std::vector<curve>& curves);

/// Where Delta(t_w, t_w + t) stays flat: height and the lag window.
struct plateau_estimate {
    double height = 0;             ///< Delta at t_flat, the flattest point of the window
    double t_flat = 0;             ///< lag where |d ln Delta / d ln t| (5-point fit) is smallest
    double t_start = 0, t_end = 0; ///< lags bounding the window
    double tw = 0;                 ///< waiting time of the row it was found in
};

/// The first window of consecutive lags spanning at least a factor `min_ratio` in t over
/// which max Delta / min Delta <= 1 + `tolerance`, starting after Delta has at least
/// doubled from its first positive value, with every Delta in it below `max_height`; searched in rows
/// from the largest t_w down. Returns nullopt when no row has such a window.
[[nodiscard]] std::optional<plateau_estimate> find_plateau(const std::vector<double>& lag, const row_matrix& delta,
                                                           const std::vector<double>& tw, double min_ratio = 10.0,
                                                           double tolerance = 0.15,
                                                           double max_height = std::numeric_limits<double>::infinity());

/// Largest plateau height the p-spin analysis accepts: Delta -> 2 is full decorrelation on
/// the sphere (q = 0), not an Edwards-Anderson plateau: windows reaching 1.9 (q < 0.05) are skipped.
inline constexpr double pspin_max_plateau = 1.9;

/// Relative floor on D(t_w): a D below noise_relative_floor times the largest D of the run is
/// taken for rounding of the estimator, not noise, and Delta is not divided by it.
inline constexpr double noise_relative_floor = 1e-8;

/// Eq. 4 is >= 0 in exact arithmetic, so a negative D measures the rounding error of its
/// run: a positive D within noise_negative_margin times the largest |negative D| is refused too.
inline constexpr double noise_negative_margin = 10.0;

/// Why each D(t_w) of `run` is not used to rescale Delta (nullopt where it is used): no or
/// mis-sized /aging/noise, a network run with parameters.noise_samples = 1 (a spread over one
/// sample is 0), D NaN, D <= 0, D below noise_relative_floor * max D, or D within
/// noise_negative_margin * |D| of a negative D of the same run. One entry per t_w.
[[nodiscard]] std::vector<std::optional<std::string>> noise_refusals(const run_data& run);

/// Fewest measurements with a positive negative fraction the power-law fit of its decay uses.
inline constexpr std::size_t min_decay_points = 3;

/// The `hessian` block of summary.json (docs/analysis.md, "Hessian"): the values at the last
/// measurement and the decay of the negative fraction.
struct hessian_summary {
    std::size_t measurements = 0;                                   ///< n_h
    std::size_t k = 0;                                              ///< eigenvalues per row of /hessian/top
    double t_last = 0;                                              ///< the last measurement time
    std::optional<double> top;                                      ///< largest eigenvalue at t_last
    std::optional<double> negative_fraction, negative_fraction_err; ///< at t_last
    std::optional<double> flat_fraction, flat_fraction_err;         ///< at t_last
    std::optional<double> trace, trace_err;                         ///< at t_last
    /// negative_fraction = A t^-a: least squares of ln negative_fraction against ln t over the
    /// measurements with t > 0 and negative_fraction > 0 (slope = -a, intercept = ln A).
    std::optional<line_fit> decay;
    double decay_t_min = 0, decay_t_max = 0; ///< range of t the fit used
    std::string decay_reason;                ///< why `decay` is absent (empty when it is given)
};

/// The hessian_summary of `h` (precondition: h.t not empty).
[[nodiscard]] hessian_summary summarise_hessian(const hessian_series& h);

/// Settings of analyse(); the defaults are the documented ones.
struct analysis_options {
    std::size_t breakpoint_grid = 200;      ///< candidate breakpoints per axis in the t1/t2 search
    std::size_t min_points_per_segment = 3; ///< points required in each of the three segments
    std::size_t min_diffusive_points = 4;   ///< valid lags required for the diffusive exponent
    /// Relative threshold of linear connectivity (barrier_summary, clone_summary), > 0.
    double connectivity_threshold = default_connectivity_threshold;
};

/// Everything summary.json reports, computed from run_data (see docs/analysis.md).
struct aging_summary {
    std::optional<three_segment_fit> loss_fit;         ///< fit of train loss vs log10 t (networks)
    std::optional<double> t1, t1_err, t2, t2_err;      ///< regimes (networks), time units; null when not determined
    double t1_range[2] = {0, 0}, t2_range[2] = {0, 0}; ///< profile intervals [lo, hi]
    std::string t1_reason, t2_reason;                  ///< why t1 / t2 is null (empty when given)
    std::string t2_note;                               ///< why t2 is absent (glasses, too few points, not determined)
    std::vector<std::string> notes; ///< data oddities handled (repeated times or lags), with file and dataset
    std::vector<int> panel;         ///< per t_w: 0 = below t2 (or no t2), 1 = above
    std::vector<std::optional<std::string>> noise_reason;         ///< per t_w: why D is not used (noise_refusals)
    bool has_noise = false;                                       ///< D(t_w) usable for at least one t_w
    std::optional<spread_measure> collapse_below, collapse_above; ///< spread of ln(Delta/D) at equal lag
    std::optional<line_fit> diffusive;                            ///< ln Delta vs ln t at the largest usable t_w
    double diffusive_tw = 0;                                      ///< that t_w
    std::vector<std::optional<double>> exponent_per_tw;           ///< slope of ln Delta vs ln t per t_w
    std::optional<plateau_estimate> plateau;                      ///< Delta plateau, if any
    std::optional<double> q_ea;                                   ///< 1 - plateau/2 (p-spin only)
    std::optional<spread_measure> scaling_t_over_tw, scaling_t;   ///< spread of ln Delta vs ln(t/t_w) and vs ln t
    double scaling_min_delta = 0;                                 ///< only Delta above this entered the scaling spreads
    std::optional<power_law_fit> energy_fit;                      ///< e(t) = e_inf + A t^-a (glasses)
    double energy_fit_tmin = 0;                                   ///< smallest time used in that fit
    std::optional<double> exp_tau;                                ///< time constant of the comparison exponential
    nlohmann::json final_values = nlohmann::json::object();       ///< last train/test loss, accuracy
    std::optional<hessian_summary> hessian;                       ///< when the run has /hessian
    std::optional<barrier_summary> barrier;                       ///< when the run has /barrier
    std::optional<clone_summary> clones;                          ///< when the run has /clones
};

/// Runs the analysis. Never throws for missing optional parts (they are left empty);
/// throws glassy::error only for inconsistent run_data shapes or a connectivity_threshold that
/// is not > 0.
[[nodiscard]] aging_summary analyse(const run_data& run, const analysis_options& options = {});

/// Delta / D(t_w) (NaN in the rows that noise_refusals refuses).
[[nodiscard]] row_matrix delta_over_noise(const run_data& run);

/// The comparison exponential of Figure 1(a): e_inf + (e_0 - e_inf) exp(-(t - t_0) / tau),
/// evaluated at `t`; e_inf from the power-law fit (else the last energy), tau = summary.exp_tau.
[[nodiscard]] std::vector<double> comparison_exponential(const run_data& run, const aging_summary& s);

/// summary.json content (field names of design.md section 3; documented in docs/analysis.md).
[[nodiscard]] nlohmann::json to_json(const run_data& run, const aging_summary& s);

} // namespace glassy
