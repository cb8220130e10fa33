// aging_analysis: reads one or more records (or two to compare), runs the aging analysis and
// writes summary.json, CSV tables and gnuplot figures into --out DIR. See docs/analysis.md.
#include "analysis/aging.hpp"
#include "analysis/report.hpp"
#include "analysis/sweep.hpp"
#include "apps/common.hpp"
#include "apps/ensemble.hpp"
#include "dynamics/error.hpp"
#include "dynamics/record.hpp"
#include "physics/quench.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

namespace {

std::string num(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.4g", v);
    return buf;
}

std::string opt(const std::optional<double>& v) { return v && std::isfinite(*v) ? num(*v) : "n/a"; }

void print_hessian(const glassy::hessian_summary& h) {
    std::cout << "  Hessian at t = " << num(h.t_last) << ": largest eigenvalue " << opt(h.top) << ", negative fraction "
              << opt(h.negative_fraction) << ", flat fraction " << opt(h.flat_fraction) << ", trace " << opt(h.trace)
              << (h.trace_err ? " +- " + opt(h.trace_err) : "") << "\n";
    if (h.decay)
        std::cout << "  negative fraction ~ t^-a, a = " << num(-h.decay->slope) << " +- " << num(h.decay->slope_err)
                  << " (t = " << num(h.decay_t_min) << " .. " << num(h.decay_t_max) << ")\n";
    else std::cout << "  no decay fit of the negative fraction: " << h.decay_reason << "\n";
}

void print_barrier(const glassy::barrier_summary& b) {
    std::cout << "  barriers along the trajectory: " << b.measured << " of " << b.pairs << " paths measured";
    if (b.max_height)
        std::cout << ", largest height " << num(*b.max_height) << " at (t_w, t) = (" << num(b.max_tw) << ", "
                  << num(b.max_t) << "), median " << opt(b.median_height) << ", " << b.rising << " rise above "
                  << num(100 * b.threshold) << " % of their ends";
    std::cout << "\n";
}

void print_clones(const glassy::clone_summary& c) {
    std::cout << "  clones at " << c.rows.size() << " waiting time(s): ";
    if (c.connected_from_tw)
        std::cout << "linearly connected from t_w = " << num(*c.connected_from_tw)
                  << " (barrier <= " << opt(c.absolute_threshold) << ")\n";
    else std::cout << "no t_w from which they stay linearly connected: " << c.connected_reason << "\n";
}

void print_summary(const std::string& label, const glassy::run_data& run, const glassy::aging_summary& s) {
    std::cout << label << glassy::to_string(run.system) << " " << run.method << ", " << run.n_records << " record(s)"
              << (run.complete ? "" : " (incomplete run)") << "\n";
    if (s.t1) std::cout << "  t1 = " << num(*s.t1) << " +- " << num(*s.t1_err) << "\n";
    else if (!s.t1_reason.empty() && s.t1_reason != s.t2_reason) std::cout << "  " << s.t1_reason << "\n";
    if (s.t2) std::cout << "  t2 = " << num(*s.t2) << " +- " << num(*s.t2_err) << "\n";
    else if (!s.t2_note.empty()) std::cout << "  " << s.t2_note << "\n";
    for (const auto& n : s.notes) std::cout << "  note: " << n << "\n";
    if (!run.tw.empty() && !s.has_noise && !s.noise_reason.empty() && s.noise_reason.front())
        std::cout << "  Delta not rescaled: " << *s.noise_reason.front() << "\n";
    if (!run.tw.empty()) {
        std::cout << "  collapse (" << (s.has_noise ? "ln Delta/D" : "ln Delta")
                  << " spread): below t2 = " << (s.collapse_below ? opt(s.collapse_below->spread) : "n/a")
                  << ", above t2 = " << (s.collapse_above ? opt(s.collapse_above->spread) : "n/a") << "\n";
        if (s.diffusive)
            std::cout << "  diffusive exponent = " << num(s.diffusive->slope) << " (t_w = " << num(s.diffusive_tw)
                      << ")\n";
        if (s.plateau)
            std::cout << "  plateau = " << num(s.plateau->height) << (s.q_ea ? ", q_ea = " + num(*s.q_ea) : "") << "\n";
        if (s.scaling_t_over_tw)
            std::cout << "  aging scaling spread: in t/t_w " << opt(s.scaling_t_over_tw->spread) << ", in t "
                      << opt(s.scaling_t->spread) << "\n";
    }
    if (s.energy_fit)
        std::cout << "  energy exponent = " << num(s.energy_fit->exponent) << " +- " << num(s.energy_fit->exponent_err)
                  << ", e_inf = " << num(s.energy_fit->y_inf) << "\n";
    for (auto it = s.final_values.begin(); it != s.final_values.end(); ++it)
        std::cout << "  final " << it.key() << " = " << num(it.value().get<double>()) << "\n";
    if (s.hessian) print_hessian(*s.hessian);
    if (s.barrier) print_barrier(*s.barrier);
    if (s.clones) print_clones(*s.clones);
}

// Refuses a file named twice (same path, or two names of one file): averaging needs independent runs.
void require_distinct_files(const std::vector<std::string>& files) {
    for (std::size_t i = 0; i < files.size(); ++i)
        for (std::size_t j = i + 1; j < files.size(); ++j) {
            std::error_code ec;
            if (files[i] == files[j] || std::filesystem::equivalent(files[i], files[j], ec))
                throw glassy::error("file " + files[i] + " is given twice (also as " + files[j] +
                                    "): averaging needs independent runs");
        }
}

void print_result(const glassy::report_result& r, const std::string& dir) {
    std::size_t images = 0, tables = 0;
    for (const auto& f : r.files) {
        if (f.extension() == ".png" || f.extension() == ".svg") ++images;
        if (f.extension() == ".csv") ++tables;
    }
    std::cout << "wrote " << dir << "/summary.json, " << tables << " CSV table(s), " << images
              << " image(s) (PNG and SVG)\n";
    for (const auto& w : r.warnings) std::cerr << "aging_analysis: warning: " << w << "\n";
}

// Analyses two records side by side (--compare).
void compare(const std::vector<std::string>& files, const std::string& out, const glassy::analysis_options& analysis,
             const glassy::report_options& options) {
    if (files.size() != 2)
        throw glassy::error("--compare needs exactly two records, got " + std::to_string(files.size()));
    const glassy::run_data a = glassy::from_record(glassy::read_record(files[0]), files[0]);
    const glassy::run_data b = glassy::from_record(glassy::read_record(files[1]), files[1]);
    const auto sa = glassy::analyse(a, analysis), sb = glassy::analyse(b, analysis);
    print_summary("left:  ", a, sa);
    print_summary("right: ", b, sb);
    print_result(glassy::write_comparison(a, sa, b, sb, out, options), out);
}

// Analyses one record, or the average of several runs of the same parameters.
void analyse_average(const std::vector<std::string>& files, const std::string& out,
                     const glassy::analysis_options& analysis, const glassy::report_options& options) {
    require_distinct_files(files);
    std::vector<glassy::record> recs;
    for (const auto& f : files) recs.push_back(glassy::read_record(f));
    const glassy::run_data run = glassy::average_records(recs, files);
    const auto s = glassy::analyse(run, analysis);
    print_summary("", run, s);
    print_result(glassy::write_report(run, s, out, options), out);
}

// Joins the part records of one p-spin run (pspin_quench --sample-offset) into its record (--merge).
void merge(const std::vector<std::string>& files, const std::string& out, bool force) {
    require_distinct_files(files);
    glassy::app::check_output(out, force);
    std::vector<glassy::named_record> parts;
    for (const auto& f : files) parts.push_back({f, glassy::read_record(f)});
    const glassy::record rec = glassy::merge_pspin_parts(parts);
    glassy::write_record(rec, out);
    std::cout << "wrote " << out << ": samples " << rec.parameters.value("sample_offset", 0) << " to "
              << rec.parameters.value("sample_offset", 0) + rec.parameters.at("samples").get<int>() - 1 << " from "
              << files.size() << " part(s)\n";
}

/// How --sweep is asked for: the swept key (empty: the one that differs) and the jamming threshold.
struct sweep_flags {
    std::string key;
    double threshold = glassy::default_relative_threshold;
};

// Tabulates records that differ in one parameter and locates the transition (--sweep).
void sweep(const std::vector<std::string>& files, const std::string& out, const sweep_flags& flags,
           const glassy::analysis_options& analysis, const glassy::report_options& options) {
    require_distinct_files(files);
    if (!(flags.threshold > 0 && flags.threshold < 1))
        throw glassy::error("--sweep-threshold must be in (0, 1), got " + num(flags.threshold));
    std::vector<glassy::run_data> runs;
    std::vector<glassy::aging_summary> summaries;
    nlohmann::json each = nlohmann::json::array();
    for (const auto& f : files) runs.push_back(glassy::from_record(glassy::read_record(f), f));
    for (const auto& r : runs) {
        summaries.push_back(glassy::analyse(r, analysis));
        each.push_back({{"source", r.sources.front()}, {"summary", glassy::to_json(r, summaries.back())}});
    }
    const glassy::sweep_result s = glassy::make_sweep(runs, summaries, flags.key, flags.threshold);
    const glassy::transition& t = s.located;
    std::cout << "sweep over " << s.key << ": " << s.rows.size() << " records, ordered by " << s.axis << "\n";
    for (const auto& r : s.rows)
        std::cout << "  " << s.key << " = " << r.value.dump() << ": N/P = " << num(r.n_over_p) << ", final train loss "
                  << num(r.train_loss) << (r.train_loss > flags.threshold * r.initial_train_loss ? " (jammed)" : "")
                  << ", N_Delta/P = " << num(r.unsatisfied_fraction) << "\n";
    if (t.bracketed)
        std::cout << "transition: " << (s.axis == "N/P" ? "N*/P" : s.axis + "*") << " = " << num(t.estimate) << " in ["
                  << num(t.lo) << ", " << num(t.hi) << "]"
                  << (t.out_of_order.empty() ? "" : " (non-monotone: unjammed points below the interval)") << "\n";
    else std::cout << "transition not located: " << t.reason << "\n";
    if (const auto& h = s.half_jammed; h && h->bracketed)
        std::cout << "half of the seeds jammed at " << (s.axis == "N/P" ? "N*/P" : s.axis + "*") << " = "
                  << num(h->estimate) << " in [" << num(h->lo) << ", " << num(h->hi) << "]\n";
    else if (h) std::cout << "half-jammed point not located: " << h->reason << "\n";
    print_result(glassy::write_sweep(s, each, out, options), out);
}

} // namespace

int main(int argc, char** argv) {
    if (const int ranks = glassy::app::launched_ranks(); ranks > 1) { // every rank would write --out
        std::cerr << glassy::app::one_process_only("aging_analysis", ranks) << "\n";
        return 1;
    }
    CLI::App app{"aging_analysis: aging analysis of glassy records (p-spin, CK or network)", "aging_analysis"};
    std::vector<std::string> files;
    std::string out;
    bool compare_two = false, no_plots = false, merge_parts = false, force = false, sweep_mode = false;
    sweep_flags sweep_options;
    glassy::report_options options;
    glassy::analysis_options analysis;
    app.add_option("files", files, "record files (.h5); several = average of runs differing only in seed")->required();
    app.add_option("--out", out, "output directory (with --merge: the merged record, FILE.h5)")->required();
    app.add_flag("--compare", compare_two, "compare exactly two records side by side (glass first, network second)");
    app.add_option("--gnuplot", options.gnuplot, "gnuplot program")->capture_default_str();
    app.add_flag("--no-plots", no_plots, "write tables, scripts and summary only");
    app.add_flag(
        "--merge", merge_parts,
        "join the part records of one p-spin run (pspin_quench --sample-offset) into its record --out FILE.h5");
    app.add_flag("--sweep", sweep_mode,
                 "records that differ in one parameter (scripts/sweep.sh): table, plots against it and N/P, the "
                 "jamming transition");
    app.add_option("--sweep-key", sweep_options.key,
                   "with --sweep: the swept parameter (record key, e.g. width, random.train_size); default: the one "
                   "that differs");
    app.add_option("--sweep-threshold", sweep_options.threshold,
                   "with --sweep: a record is jammed when its final train loss > this x its initial loss")
        ->capture_default_str();
    app.add_option("--connectivity-threshold", analysis.connectivity_threshold,
                   "paths and clones are linearly connected when their barrier <= this x the |energy| (loss) "
                   "scale of their ends (Frankle et al.: 0.02)")
        ->capture_default_str();
    app.add_flag("--force", force, "with --merge: overwrite an existing output record");
    if (const int rc = glassy::app::parse(app, argc, argv); rc >= 0) return rc;
    options.plots = !no_plots;
    try {
        if (merge_parts)
            glassy::app::refuse_given(app,
                                      {"--compare", "--no-plots", "--gnuplot", "--sweep", "--connectivity-threshold"},
                                      "with --merge (it writes a record, no analysis)");
        if (compare_two) glassy::app::refuse_given(app, {"--sweep"}, "with --compare");
        if (!sweep_mode) glassy::app::refuse_given(app, {"--sweep-key", "--sweep-threshold"}, "without --sweep");
        else glassy::app::refuse_given(app, {"--force"}, "without --merge (the analysis writes into a directory)");
        if (!(analysis.connectivity_threshold > 0 && std::isfinite(analysis.connectivity_threshold)))
            throw glassy::error("--connectivity-threshold must be > 0, got " + num(analysis.connectivity_threshold));
        if (merge_parts) merge(files, out, force);
        else if (compare_two) compare(files, out, analysis, options);
        else if (sweep_mode) sweep(files, out, sweep_options, analysis, options);
        else analyse_average(files, out, analysis, options);
    } catch (const std::exception& e) {
        std::string msg = e.what();
        for (auto& c : msg)
            if (c == '\n') c = ' ';
        std::cerr << "aging_analysis: error: " << msg << "\n";
        return 1;
    }
    return 0;
}
