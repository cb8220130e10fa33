#pragma once
/// @file Writes the results of the aging analysis to a directory: summary.json, one CSV table
/// per plotted curve family, gnuplot scripts, and PNG + SVG plots (docs/analysis.md lists
/// every file). Never prints: problems with plotting come back as warnings.
#include "analysis/aging.hpp"
#include "analysis/sweep.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace glassy {

/// How reports are written.
struct report_options {
    std::string gnuplot = "gnuplot"; ///< gnuplot program (name looked up in PATH, or a path)
    bool plots = true;               ///< false: tables, scripts and summary only
    int width = 800;                 ///< PNG/SVG width of a one-panel figure, pixels
    int height = 500;                ///< its height; multi-panel figures are taller
};

/// What a report wrote.
struct report_result {
    std::vector<std::filesystem::path> files; ///< every file written, in order
    std::vector<std::string> warnings;        ///< one line each (gnuplot missing or failing)
    bool plotted = false;                     ///< at least one figure was produced
};

/// True for an under-parametrised network (toy model with fewer than 1000 hidden units):
/// its figures are labelled as the paper's Figure 5 instead of Figures 2 and 3.
[[nodiscard]] bool is_under_parametrised(const run_data& run);

/// Writes the report of one run (or average) into `dir` (created if needed). Throws
/// glassy::error when `dir` cannot be created or a file cannot be written.
report_result write_report(const run_data& run, const aging_summary& summary, const std::filesystem::path& dir,
                           const report_options& options = {});

/// Writes both reports into `dir`/left and `dir`/right, a combined `dir`/summary.json
/// ({"left": ..., "right": ...}) and the side-by-side figure `dir`/compare.{png,svg}:
/// energy or loss against log t, Delta against the lag and Delta/D against the lag; when both
/// runs have Hessian measurements also `dir`/compare_hessian.{png,svg}: the negative and flat
/// fractions, the largest eigenvalues and the spectral densities.
report_result write_comparison(const run_data& left, const aging_summary& left_summary, const run_data& right,
                               const aging_summary& right_summary, const std::filesystem::path& dir,
                               const report_options& options = {});

/// Writes the report of a sweep into `dir` (created if needed): sweep.csv (one row per record in
/// the order of `sweep.rows`, columns in docs/analysis.md, "Sweeps"), summary.json ({"sweep":
/// to_json(sweep), "runs": `runs`, "tables", "plots"}; `runs` holds each record's own summary)
/// and the figures sweep_n_over_p and sweep_value: the final losses (with the jamming
/// threshold), accuracies, unsatisfied fractions, t1/t2, collapse measures, plateau and diffusive
/// exponent (and the Hessian's values where recorded) against N/P and against the swept value,
/// with the transition interval marked. Throws glassy::error when a file cannot be written.
report_result write_sweep(const sweep_result& sweep, const nlohmann::json& runs, const std::filesystem::path& dir,
                          const report_options& options = {});

} // namespace glassy
