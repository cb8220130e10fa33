#pragma once
/// @file Barriers and clones in the analysis (issue 14; docs/analysis.md, "Barriers and clones"):
/// the record's /barrier group (energy or loss along paths between two times of one trajectory)
/// and /clones group (copies of the system taken at t_w and evolved with independent noise,
/// Barrat, Burioni & Mezard 1996; for networks Frankle et al. 2020, "linear mode connectivity"),
/// their shape checks, means over records, and the summary blocks `barrier` and `clones`.
/// Pure computation on in-memory data: no printing, no files.
#include "dynamics/record.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace glassy {

/// The datasets of one group of a record (record::extra "GROUP/NAME"), each checked against its
/// documented shape before it is used: a mismatch is a record_error naming the file and the
/// dataset, on one line, e.g. `run.h5: /barrier/height has shape [3], not [n_b] = [4] (...)`.
class dataset_group {
public:
    /// `rec` and `source` (the file name for messages) must outlive the object.
    dataset_group(const record& rec, const std::string& source, std::string group);
    /// The dataset GROUP/`name`, or nullptr when the record lacks it.
    [[nodiscard]] const nd_array<double>* find(const std::string& name) const;
    /// Whether the record has any dataset in the group (float64, float32 or int64).
    [[nodiscard]] bool any() const;
    /// Throws unless `name` (when present) has the shape `want`; 0 in `want` accepts any size,
    /// `meaning` names its symbols for the message.
    void require_shape(const std::string& name, const std::vector<std::uint64_t>& want,
                       const std::string& meaning) const;
    /// Throws "/GROUP/`name` missing (`why`)" when the record lacks `name`.
    void require_present(const std::string& name, const std::string& why) const;
    /// The vector `name` [n] (shape checked before), or n NaN when absent.
    [[nodiscard]] std::vector<double> vector_or_nan(const std::string& name, std::size_t n) const;
    /// The dataset `name` as a matrix [shape[0], product of the other dimensions] (a per-sample
    /// table [n_s, ...] becomes one row per sample), or `rows` x 0 when absent.
    [[nodiscard]] row_matrix matrix(const std::string& name, std::size_t rows) const;
    /// Throws record_error "SOURCE: `what`".
    [[noreturn]] void refuse(const std::string& what) const;

private:
    const record& m_rec;
    const std::string& m_source;
    std::string m_group;
};

/// "[2, 3]": a shape for messages.
[[nodiscard]] std::string shape_text(const std::vector<std::uint64_t>& shape);

/// Standard errors sd / sqrt(n_s) over the rows (samples) of `samples`, one per column (n_s - 1
/// sample deviation); NaN [n] when there are fewer than two rows.
[[nodiscard]] std::vector<double> column_errors(const row_matrix& samples, std::size_t n);

/// The record's /barrier group (docs/format.md) as the analysis uses it: n_b paths between
/// x(t_w) and x(t_w + t), n_a points each. Empty `tw` when the record has no /barrier group.
struct barrier_series {
    std::vector<double> tw;         ///< t_w of each path [n_b], units of /time
    std::vector<double> t;          ///< lag t of each path [n_b] (the path ends at t_w + t)
    std::vector<double> alpha;      ///< points of the path in [0, 1] [n_a]
    row_matrix energy;              ///< energy per spin (p-spin) or train loss (net) along each path [n_b, n_a]
    std::vector<double> height;     ///< barrier height max_path - max(ends) [n_b]; NaN where not measured
    std::vector<double> height_err; ///< its standard error [n_b] over samples or records (NaN when not estimable)
};

/// The record's /clones group (docs/format.md) as the analysis uses it. Empty `tw` when the
/// record has no /clones group.
struct clone_series {
    std::vector<double> tw;          ///< waiting times at which clones were taken [n_c]
    std::vector<double> t;           ///< lags [n_l], units of /time
    row_matrix delta;                ///< Delta_AB(t_w, t) = (1/n)|x_A - x_B|^2, pair mean [n_c, n_l]; NaN past the run
    row_matrix delta_err;            ///< its standard error [n_c, n_l] (NaN when not estimable)
    std::vector<double> barrier;     ///< barrier between the clones at the end of their run [n_c]
    std::vector<double> barrier_err; ///< its standard error [n_c]
    std::vector<double> test_accuracy_drop; ///< nets: test-accuracy drop along that line [n_c]; empty when not recorded
};

/// The /barrier group of `rec` (record::extra "barrier/..."), shapes checked against
/// docs/format.md (tw, t, height [n_b]; alpha [n_a]; energy [n_b, n_a]; energy_samples
/// [n_s, n_b, n_a]; height_samples [n_s, n_b]). Throws record_error with one line naming `source`
/// and the dataset on a wrong shape, or when tw, t, alpha, energy or height is missing beside
/// other /barrier data. height_err: sd / sqrt(n_s) over /barrier/height_samples (n_s > 1), or
/// over the seeds of a `net_quench --seeds` record (/seeds/barrier/height [n_s, n_b], its
/// /seeds/barrier/energy [n_s, n_b, n_a] shape-checked too).
[[nodiscard]] barrier_series barrier_from(const record& rec, const std::string& source);

/// The /clones group of `rec` (tw [n_c], t [n_l], delta [n_c, n_l], barrier [n_c],
/// test_accuracy_drop [n_c]; per-sample delta_samples [n_s, n_c, n_l], barrier_samples
/// [n_s, n_c]), checked as barrier_from checks /barrier (tw, t, delta and barrier required).
[[nodiscard]] clone_series clones_from(const record& rec, const std::string& source);

/// Why the barrier series of two runs cannot be averaged (nullopt when they can): one has
/// /barrier and the other not, or their pairs or points differ.
[[nodiscard]] std::optional<std::string> barrier_difference(const barrier_series& x, const barrier_series& y);
/// Why the clone series of two runs cannot be averaged (nullopt when they can).
[[nodiscard]] std::optional<std::string> clones_difference(const clone_series& x, const clone_series& y);

/// Element-wise mean of `runs` (checked by barrier_difference), errors s / sqrt(n) over them.
[[nodiscard]] barrier_series average_barrier(const std::vector<barrier_series>& runs);
/// Element-wise mean of `runs` (checked by clones_difference), errors s / sqrt(n) over them.
[[nodiscard]] clone_series average_clones(const std::vector<clone_series>& runs);

/// Default relative threshold of linear connectivity: a path (or the line between two clones)
/// "rises" when its barrier exceeds 2 % of the energy scale of its ends (Frankle et al. 2020
/// call a network stable when the error rises by less than 2 %). `--connectivity-threshold`.
inline constexpr double default_connectivity_threshold = 0.02;

/// The `barrier` block of summary.json (docs/analysis.md, "Barriers and clones").
struct barrier_summary {
    std::size_t pairs = 0;                 ///< n_b
    std::size_t measured = 0;              ///< paths with a finite height
    std::size_t points = 0;                ///< n_a
    std::optional<double> max_height;      ///< largest height (nullopt when none measured)
    double max_tw = 0, max_t = 0;          ///< its (t_w, t)
    std::optional<double> median_height;   ///< median of the finite heights
    std::size_t rising = 0;                ///< paths with height > threshold x (|e(0)| + |e(1)|) / 2
    std::optional<double> rising_fraction; ///< rising / measured
    double threshold = 0;                  ///< the relative threshold used
};

/// The barrier_summary of `b` (precondition: b.tw not empty) with relative threshold
/// `threshold` (> 0): a path rises when height > threshold x the mean |energy| of its two ends.
[[nodiscard]] barrier_summary summarise_barrier(const barrier_series& b, double threshold);

/// One clone waiting time in the `clones` block.
struct clone_row {
    double tw = 0;                            ///< the clones' t_w
    std::optional<double> t_last;             ///< the last lag with a finite Delta_AB
    std::optional<double> delta_ab;           ///< Delta_AB at t_last
    std::optional<double> delta;              ///< Delta(t_w, t_w + t_last) of the main run (main_delta_at)
    std::optional<double> barrier;            ///< barrier between the clones (NaN in the record: nullopt)
    std::optional<double> barrier_err;        ///< its standard error
    std::optional<bool> connected;            ///< barrier <= threshold x energy_scale (nullopt without a barrier)
    std::optional<double> test_accuracy_drop; ///< nets, when recorded
};

/// The `clones` block of summary.json.
struct clone_summary {
    std::vector<clone_row> rows;              ///< one per clone t_w, in /clones/tw order
    double threshold = 0;                     ///< relative threshold
    std::optional<double> energy_scale;       ///< |energy (loss) of the main run at its last finite time|
    std::optional<double> absolute_threshold; ///< threshold x energy_scale
    std::optional<double> connected_from_tw;  ///< smallest t_w from which every measured row is connected
    std::string connected_reason;             ///< why connected_from_tw is absent (empty when given)
};

/// The two-time data of the main run (run_data's tw, lag, delta) that clone rows are set next to.
struct main_delta {
    const std::vector<double>& tw;  ///< waiting times [n_w]
    const std::vector<double>& lag; ///< lags [n_l]
    const row_matrix& delta;        ///< Delta(t_w, t_w + t) [n_w, n_l]
};

/// Delta(t_w, t_w + t) of the main run at a clone's t_w and lag t: the /aging value where t is on
/// its lag grid, else linear in ln t between the nearest finite lags below and above t;
/// nullopt when t_w is not on /aging/tw (within 1e-9 relative) or t is outside its finite lags.
[[nodiscard]] std::optional<double> main_delta_at(const main_delta& main, double tw, double t);

/// The clone_summary of `c` (precondition: c.tw not empty). The energy scale of the line
/// between two clones is |`final_energy`|, the main run's energy per spin or train loss at its
/// last finite time (the clones run to the end of the run, and the record does not keep their
/// own end energies); NaN: no scale, `connected` stays nullopt. Clones are linearly connected
/// when barrier <= threshold x scale; connected_from_tw is the smallest clone t_w from which
/// every clone t_w with a measured barrier is connected, nullopt with a reason when the largest
/// measured one is not (or none is measured). `main` gives the main run's Delta at the same t_w
/// and lag (main_delta_at).
[[nodiscard]] clone_summary summarise_clones(const clone_series& c, double final_energy, double threshold,
                                             const main_delta& main);

/// The `barrier` block of summary.json.
[[nodiscard]] nlohmann::json to_json(const barrier_summary& b);
/// The `clones` block of summary.json.
[[nodiscard]] nlohmann::json to_json(const clone_summary& c);

/// Index of the row of `grid` equal to `v` within 1e-9 relative, or nullopt.
[[nodiscard]] std::optional<std::size_t> find_on_grid(const std::vector<double>& grid, double v);

} // namespace glassy
