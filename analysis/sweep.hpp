#pragma once
/// @file Sweeps (issue 15): network records that differ in one parameter (a width, a depth, the
/// training-set size P, ...), tabulated against that parameter and against N/P (N = number of
/// weights, P = training-set size), and the location of the jamming transition: where the final
/// training loss leaves zero (Geiger, Spigler et al. 2019, "Jamming transition as a paradigm to
/// understand the loss landscape of deep neural networks"). Definitions in docs/analysis.md,
/// "Sweeps". Pure computation: no printing, no files.
#include "analysis/aging.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace glassy {

/// Parameter keys a sweep's records may differ in besides the swept one: those that
/// averaging_ignored_parameters ignores except the seed (a sweep compares one draw of the data and
/// initialisation), and those that follow from the swept parameter or report how the run ended
/// (num_parameters, train_count, test_count, stop_reason).
inline const std::vector<std::string> sweep_ignored_parameters = {
    "out",        "threads",           "device",         "data_dir",    "wall_seconds", "timing",
    "steps_done", "samples_completed", "num_parameters", "train_count", "test_count",   "stop_reason"};

/// Dotted keys ("lr", "random.train_size") of the parameters that differ between the records of
/// `parameters` (objects are compared member by member; a key missing in one record differs),
/// sorted, without sweep_ignored_parameters.
[[nodiscard]] std::vector<std::string> differing_parameters(const std::vector<nlohmann::json>& parameters);

/// The swept key of a sweep over `parameters`: `requested` when not empty (every differing key
/// must be it), else the single differing key. Throws glassy::error with a one-line message
/// naming the differing keys (and the sources of the first two records that differ there) when
/// more than one key differs, none does, or fewer than two records are given. `sources` names the
/// records (same length as `parameters`).
[[nodiscard]] std::string sweep_key(const std::vector<nlohmann::json>& parameters,
                                    const std::vector<std::string>& sources, const std::string& requested = "");

/// One record of a sweep: its coordinates and the quantities of its aging_summary (NaN where the
/// record has none; losses are those of the evaluation samples, `/observables`).
struct sweep_row {
    std::string source;                   ///< the record's file name
    nlohmann::json value;                 ///< the swept key's value as recorded (a number, or "all")
    double x = 0;                         ///< that value as a number ("all" batch: P)
    double num_parameters = 0;            ///< N, parameters.num_parameters
    double train_count = 0;               ///< P, parameters.train_count
    double n_over_p = 0;                  ///< N / P
    double steps_done = 0;                ///< SGD steps run (parameters.steps_done)
    bool complete = true;                 ///< the record is complete
    bool converged = false;               ///< the run stopped on --stop-loss (stop_reason "converged ...")
    double initial_train_loss = 0;        ///< first finite train loss (t = 0)
    double train_loss = 0, test_loss = 0; ///< final values (aging_summary::final_values)
    double train_accuracy = 0, test_accuracy = 0;
    double unsatisfied_fraction = 0;               ///< final N_Delta / P on the train evaluation samples (hinge2)
    double test_unsatisfied_fraction = 0;          ///< the same on the test evaluation samples
    double t1 = 0, t2 = 0;                         ///< regimes of the loss (aging_summary)
    double collapse_below = 0, collapse_above = 0; ///< spread of ln(Delta/D) below / above t2
    double plateau = 0;                            ///< plateau height of Delta (NaN: no plateau)
    double diffusive_exponent = 0;                 ///< slope of ln Delta vs ln t at the largest usable t_w
    double hessian_top = 0, hessian_negative_fraction = 0, hessian_flat_fraction = 0, hessian_trace = 0; ///< at t_last
    /// Several seeds per point (`net_quench --seeds`, run_data::observables_samples): n_s (1 for a
    /// single run); the standard error of the final train loss over the seeds (NaN for one seed);
    /// each seed's first finite and final train loss [n_s] (one entry, the run's, for one run); and
    /// the fraction of seeds that are jammed by the locator's rule (set by make_sweep; 0 or 1 for
    /// one run). The transition itself is located on the mean train loss (train_loss).
    double seeds = 1;
    double train_loss_err = 0;
    std::vector<double> seed_initial_train_loss, seed_final_train_loss;
    double jammed_fraction = 0;
};

/// The sweep_row of one analysed record. `key` is the swept key (dotted). Throws glassy::error
/// naming `run.sources` when the record is not a network record with num_parameters and
/// train_count > 0, or the swept value is neither a number nor the batch "all".
[[nodiscard]] sweep_row make_sweep_row(const run_data& run, const aging_summary& summary, const std::string& key);

/// Rule of the transition locator: a point is **jammed** (its training loss did not reach zero)
/// when its final train loss > relative_threshold x its initial train loss.
inline constexpr double default_relative_threshold = 1e-3;

/// Where the final loss leaves zero along an axis (N/P, or the swept value when N/P is the same
/// at every point), from points ordered by that axis.
struct transition {
    bool bracketed = false;                 ///< a jammed point followed by an unjammed one
    double lo = 0, hi = 0;                  ///< axis values of the last jammed point and the next point
    double estimate = 0;                    ///< sqrt(lo hi): the middle of the interval on a log axis
    std::size_t lo_index = 0, hi_index = 0; ///< their positions in the sorted order
    std::vector<double> out_of_order;       ///< unjammed points below lo (a non-monotone sweep)
    std::vector<std::size_t> excluded;      ///< points with a non-finite loss (not used)
    std::string reason;                     ///< why `bracketed` is false (empty when it is true)
};

/// Locates the transition: orders the points by `axis` (which must hold distinct values), marks
/// each jammed or not (default_relative_threshold rule with `relative_threshold`), and brackets
/// the transition between the LAST jammed point and the point after it. Points with a
/// non-finite initial or final loss are excluded. Not bracketed when no point is jammed, every
/// point is jammed, or the last point is jammed. Throws glassy::error when the sizes differ,
/// two axis values coincide, or relative_threshold is not in (0, 1). Indices refer to the
/// sorted order, which is ascending `axis`.
[[nodiscard]] transition locate_transition(const std::vector<double>& axis, const std::vector<double>& final_loss,
                                           const std::vector<double>& initial_loss,
                                           double relative_threshold = default_relative_threshold);

/// Where half of the seeds are jammed, for sweeps with several seeds per point (Geiger, Spigler et
/// al. 2019 place N* where the fraction of jammed initialisations is 1/2; for the perceptron that
/// is Cover's capacity P = 2d at large d). Points are ordered by `axis` (distinct values, as for
/// locate_transition); the crossing is bracketed between the LAST point with jammed fraction
/// >= 1/2 and the point after it, and `estimate` interpolates the fraction linearly in ln(axis)
/// (lo itself when its fraction is exactly 1/2; linear in the axis when an end is <= 0). Points
/// with fraction < 1/2 below lo go to out_of_order; NaN fractions are excluded. Not bracketed,
/// with the reason, when no point or every point has fraction >= 1/2, or the last one has.
/// Throws glassy::error when the sizes differ or two axis values coincide.
[[nodiscard]] transition locate_half_jammed(const std::vector<double>& axis,
                                            const std::vector<double>& jammed_fraction);

/// A sweep: its key, its rows sorted by N/P (then by the swept value) and its transition.
struct sweep_result {
    std::string key;               ///< the swept key (dotted)
    std::string axis;              ///< "N/P", or the key when N/P is the same at every point
    double relative_threshold = 0; ///< the locator's threshold
    std::vector<sweep_row> rows;   ///< ordered by the axis
    transition located;            ///< on rows' axis values, from the (mean) train loss
    /// With several seeds at every point (sweep_row::seeds > 1): locate_half_jammed on the rows'
    /// jammed fractions; nullopt otherwise.
    std::optional<transition> half_jammed;
};

/// Builds the sweep of analysed records (runs[i] with summaries[i]): the key (sweep_key with
/// `requested`), rows sorted by the axis, each row's jammed_fraction, the transition. Throws glassy::error for records
/// that differ in more than one key, repeat a swept value, or are not network records.
[[nodiscard]] sweep_result make_sweep(const std::vector<run_data>& runs, const std::vector<aging_summary>& summaries,
                                      const std::string& requested_key = "",
                                      double relative_threshold = default_relative_threshold);

/// The `sweep` block of summary.json (docs/analysis.md, "Sweeps").
[[nodiscard]] nlohmann::json to_json(const sweep_result& s);

} // namespace glassy
