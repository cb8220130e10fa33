#include "nets/seeds.hpp"

#include "dynamics/error.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
#include <string>
#include <utility>

namespace glassy::nets {
namespace {

std::uint64_t parse_seed(const std::string& text, const std::string& flag, const std::string& value) {
    std::uint64_t s = 0;
    const char* end = text.data() + text.size();
    const auto [at, ec] = std::from_chars(text.data(), end, s);
    if (text.empty() || ec != std::errc() || at != end || s >= (std::uint64_t{1} << 63))
        throw parameter_error(flag + " '" + value + "': '" + text + "' is not a seed (an integer 0 .. 2^63 - 1)");
    return s;
}

/// The rows [n_s, n] of one vector per run (`get(run)`) and their mean, summed in run order.
template <class Get>
std::pair<row_matrix, std::vector<double>> rows_and_mean(const std::vector<record>& runs, Get get,
                                                         const std::string& what) {
    const std::size_t n = get(runs.front()).size();
    row_matrix rows(static_cast<Eigen::Index>(runs.size()), static_cast<Eigen::Index>(n));
    std::vector<double> sum(n, 0.0);
    for (std::size_t k = 0; k < runs.size(); ++k) {
        const std::vector<double> v = get(runs[k]);
        if (v.size() != n) throw record_error("join_seeds: " + what + " differs in length among the seeds");
        for (std::size_t i = 0; i < n; ++i) {
            rows(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(i)) = v[i];
            sum[i] += v[i];
        }
    }
    for (auto& x : sum) x /= static_cast<double>(runs.size());
    return {std::move(rows), std::move(sum)};
}

nd_array<double> as_array(const row_matrix& m) {
    return {{static_cast<std::uint64_t>(m.rows()), static_cast<std::uint64_t>(m.cols())},
            std::vector<double>(m.data(), m.data() + m.size())};
}

/// Every dataset of `member` in the runs, stacked as seeds/PATH [n_s, shape...].
template <class T>
void stack_extras(const std::vector<record>& runs, std::map<std::string, nd_array<T>> record::*member, record& out) {
    for (const auto& [path, first] : runs.front().*member) {
        nd_array<T>& all = (out.*member)["seeds/" + path];
        all.shape = {runs.size()};
        all.shape.insert(all.shape.end(), first.shape.begin(), first.shape.end());
        for (const record& r : runs) {
            const auto it = (r.*member).find(path);
            if (it == (r.*member).end() || it->second.shape != first.shape)
                throw record_error("join_seeds: /" + path + " is missing or differs in shape among the seeds");
            all.data.insert(all.data.end(), it->second.data.begin(), it->second.data.end());
        }
    }
}

void check_alike(const std::vector<record>& runs) {
    const record& a = runs.front();
    for (const record& r : runs) {
        if (!r.complete) throw record_error("join_seeds: a seed's run is incomplete");
        if (r.method != a.method || r.time != a.time || r.aging.tw != a.aging.tw || r.aging.t != a.aging.t)
            throw record_error("join_seeds: the seeds' runs differ in method, times, waiting times or lags");
        if (r.observables.size() != a.observables.size() || r.aging.noise.size() != a.aging.noise.size() ||
            r.extra.size() != a.extra.size() || r.extra_f32.size() != a.extra_f32.size() ||
            r.extra_i64.size() != a.extra_i64.size())
            throw record_error("join_seeds: the seeds' runs differ in their datasets");
    }
}

/// The per-seed arrays and their means: energy, observables, Delta, D.
void join_measurements(const std::vector<record>& runs, record& out) {
    auto [loss, energy] = rows_and_mean(
        runs, [](const record& r) { return r.energy; }, "/energy");
    out.energy = std::move(energy);
    out.energy_samples = std::move(loss);
    for (const auto& [name, first] : runs.front().observables) {
        auto [rows, mean] = rows_and_mean(
            runs, [&](const record& r) { return r.observables.at(name); }, "/observables/" + name);
        out.observables[name] = std::move(mean);
        out.extra["seeds/observables/" + name] = as_array(rows);
    }
    out.aging.delta_samples.clear();
    for (const record& r : runs) out.aging.delta_samples.push_back(r.aging.delta);
    if (!runs.front().aging.tw.empty()) out.aging.delta = mean_of(out.aging.delta_samples);
    if (!runs.front().aging.noise.empty()) {
        auto [rows, mean] = rows_and_mean(
            runs, [](const record& r) { return r.aging.noise; }, "/aging/noise");
        out.aging.noise = std::move(mean);
        out.extra["seeds/aging/noise"] = as_array(rows);
    }
}

/// /barrier (net_quench --barrier, issue 14): tw, t and alpha of the first run (the same options
/// give the same pairs), energy and height as means over the seeds summed in seed order (height: the
/// mean of the seeds' heights); each seed's energy and height stay under /seeds/barrier/.
void join_barrier(const std::vector<record>& runs, record& out) {
    if (runs.front().extra.count("barrier/energy") == 0) return;
    for (const char* path : {"barrier/tw", "barrier/t", "barrier/alpha"}) {
        out.extra[path] = runs.front().extra.at(path);
        out.extra.erase(std::string("seeds/") + path);
    }
    for (const char* path : {"barrier/energy", "barrier/height"}) {
        nd_array<double> mean = runs.front().extra.at(path);
        std::fill(mean.data.begin(), mean.data.end(), 0.0);
        for (const record& r : runs) // shapes checked by stack_extras
            for (std::size_t i = 0; i < mean.data.size(); ++i) mean.data[i] += r.extra.at(path).data[i];
        for (double& x : mean.data) x /= static_cast<double>(runs.size());
        out.extra[path] = std::move(mean);
    }
}

// ---- a record as checkpoint entries (save_run, restore_run) ----

// int64 values as float64, exact below 2^53 (hessian/samples: indices into a dataset).
nd_array<double> as_doubles(const nd_array<std::int64_t>& a, const std::string& path) {
    nd_array<double> out{a.shape, {}};
    out.data.reserve(a.data.size());
    for (const std::int64_t v : a.data) {
        if (v > (std::int64_t{1} << 53) || v < -(std::int64_t{1} << 53))
            throw record_error("save_run: /" + path + " holds an integer beyond 2^53");
        out.data.push_back(static_cast<double>(v));
    }
    return out;
}

nd_array<std::int64_t> as_integers(const nd_array<double>& a) {
    nd_array<std::int64_t> out{a.shape, {}};
    out.data.reserve(a.data.size());
    for (const double v : a.data) out.data.push_back(static_cast<std::int64_t>(v));
    return out;
}

// The entries of `from` whose key starts with `prefix`, keyed by the rest of the key.
template <class T>
std::map<std::string, T> entries_under(const std::map<std::string, T>& from, const std::string& prefix) {
    std::map<std::string, T> out;
    for (auto it = from.lower_bound(prefix); it != from.end() && it->first.rfind(prefix, 0) == 0; ++it)
        out.emplace(it->first.substr(prefix.size()), it->second);
    return out;
}

const nd_array<double>& array_at(const checkpoint& c, const std::string& key) {
    const auto it = c.arrays.find(key);
    if (it == c.arrays.end()) throw record_error("checkpoint: entry '" + key + "' missing");
    return it->second;
}

// The Delta of every sample, [n_s, n_w, n_l], and back.
nd_array<double> stacked(const std::vector<row_matrix>& samples) {
    nd_array<double> out{{samples.size(), 0, 0}, {}};
    if (samples.empty()) return out;
    out.shape = {samples.size(), static_cast<std::uint64_t>(samples.front().rows()),
                 static_cast<std::uint64_t>(samples.front().cols())};
    for (const row_matrix& m : samples) out.data.insert(out.data.end(), m.data(), m.data() + m.size());
    return out;
}

std::vector<row_matrix> unstacked(const nd_array<double>& a) {
    if (a.shape.size() != 3) throw record_error("checkpoint: aging/delta_samples is not three-dimensional");
    std::vector<row_matrix> out;
    const auto rows = static_cast<Eigen::Index>(a.shape[1]), cols = static_cast<Eigen::Index>(a.shape[2]);
    for (std::uint64_t k = 0; k < a.shape[0]; ++k)
        out.emplace_back(Eigen::Map<const row_matrix>(a.data.data() + k * a.shape[1] * a.shape[2], rows, cols));
    return out;
}

// Where the block's k-th finished record lives in a checkpoint.
std::string done_prefix(std::size_t k) { return "done/" + std::to_string(k) + "/"; }

} // namespace

std::vector<std::uint64_t> parse_seeds(const std::string& value, const std::string& flag) {
    if (value.empty()) throw parameter_error(flag + " is empty (expected a-b or a,b,c)");
    std::vector<std::uint64_t> seeds;
    if (const auto dash = value.find('-'); dash != std::string::npos) {
        const std::uint64_t a = parse_seed(value.substr(0, dash), flag, value);
        const std::uint64_t b = parse_seed(value.substr(dash + 1), flag, value);
        if (b < a) throw parameter_error(flag + " '" + value + "': the range ends below its start");
        if (b - a >= (std::uint64_t{1} << 20)) throw parameter_error(flag + " '" + value + "': more than 2^20 seeds");
        for (std::uint64_t s = a; s <= b; ++s) seeds.push_back(s);
        return seeds;
    }
    std::set<std::uint64_t> seen;
    for (std::size_t from = 0;;) {
        const std::size_t comma = value.find(',', from);
        const std::uint64_t s = parse_seed(value.substr(from, comma - from), flag, value);
        if (!seen.insert(s).second)
            throw parameter_error(flag + " '" + value + "': seed " + std::to_string(s) + " is repeated");
        seeds.push_back(s);
        if (comma == std::string::npos) return seeds;
        from = comma + 1;
    }
}

record join_seeds(const std::vector<record>& runs, const std::vector<std::uint64_t>& seeds) {
    if (runs.empty() || runs.size() != seeds.size())
        throw parameter_error("join_seeds: " + std::to_string(runs.size()) + " runs for " +
                              std::to_string(seeds.size()) + " seeds");
    check_alike(runs);
    record out = runs.front();
    join_measurements(runs, out);
    stack_extras(runs, &record::extra, out);
    stack_extras(runs, &record::extra_f32, out);
    stack_extras(runs, &record::extra_i64, out);
    for (const auto& [path, a] : runs.front().extra) out.extra.erase(path);
    for (const auto& [path, a] : runs.front().extra_f32) out.extra_f32.erase(path);
    for (const auto& [path, a] : runs.front().extra_i64) out.extra_i64.erase(path);
    join_barrier(runs, out);
    for (const char* key : {"input_mean", "input_std"}) {
        if (!out.parameters.contains(key)) continue;
        const auto rows =
            rows_and_mean(
                runs, [&](const record& r) { return r.parameters.at(key).get<std::vector<double>>(); }, key)
                .first;
        out.extra[std::string("seeds/") + key] = as_array(rows);
        out.parameters.erase(key);
    }
    out.extra_i64["seeds/seed"] = {{seeds.size()}, std::vector<std::int64_t>(seeds.begin(), seeds.end())};
    out.parameters.erase("seed");
    out.parameters["seeds"] = seeds;
    return out;
}

std::string seeds_text(const std::vector<std::uint64_t>& seeds) {
    std::string text;
    for (const std::uint64_t s : seeds) {
        if (!text.empty()) text += ',';
        text += std::to_string(s);
    }
    return text;
}

void save_run(const record& run, checkpoint& c, const std::string& prefix) {
    c.strings[prefix + "system"] = run.system;
    c.strings[prefix + "method"] = run.method;
    c.strings[prefix + "parameters"] = run.parameters.dump();
    c.integers[prefix + "complete"] = run.complete ? 1 : 0;
    c.put(prefix + "time", run.time);
    c.put(prefix + "energy", run.energy);
    c.put_matrix(prefix + "energy_samples", run.energy_samples);
    for (const auto& [name, v] : run.observables) c.put(prefix + "observables/" + name, v);
    c.put(prefix + "aging/tw", run.aging.tw);
    c.put(prefix + "aging/t", run.aging.t);
    c.put_matrix(prefix + "aging/delta", run.aging.delta);
    c.arrays[prefix + "aging/delta_samples"] = stacked(run.aging.delta_samples);
    c.put(prefix + "aging/noise", run.aging.noise);
    for (const auto& [path, a] : run.extra) c.arrays[prefix + "extra/" + path] = a;
    for (const auto& [path, a] : run.extra_f32) c.arrays_f32[prefix + "extra_f32/" + path] = a;
    for (const auto& [path, a] : run.extra_i64) c.arrays[prefix + "extra_i64/" + path] = as_doubles(a, path);
}

record restore_run(const checkpoint& c, const std::string& prefix) {
    record run;
    run.system = c.string(prefix + "system");
    run.method = c.string(prefix + "method");
    try {
        run.parameters = nlohmann::json::parse(c.string(prefix + "parameters"));
    } catch (const nlohmann::json::exception& e) {
        throw record_error("checkpoint: " + prefix + "parameters is not JSON (" + e.what() + ")");
    }
    run.complete = c.integer(prefix + "complete") != 0;
    run.time = c.vector(prefix + "time");
    run.energy = c.vector(prefix + "energy");
    run.energy_samples = c.matrix(prefix + "energy_samples");
    for (const auto& [name, a] : entries_under(c.arrays, prefix + "observables/")) run.observables[name] = a.data;
    run.aging.tw = c.vector(prefix + "aging/tw");
    run.aging.t = c.vector(prefix + "aging/t");
    run.aging.delta = c.matrix(prefix + "aging/delta");
    run.aging.delta_samples = unstacked(array_at(c, prefix + "aging/delta_samples"));
    run.aging.noise = c.vector(prefix + "aging/noise");
    run.extra = entries_under(c.arrays, prefix + "extra/");
    run.extra_f32 = entries_under(c.arrays_f32, prefix + "extra_f32/");
    for (const auto& [path, a] : entries_under(c.arrays, prefix + "extra_i64/")) run.extra_i64[path] = as_integers(a);
    return run;
}

checkpoint seed_block::save() const {
    checkpoint c;
    c.strings["seeds/list"] = seeds_text(seeds);
    c.integers["seeds/first"] = first;
    c.integers["seeds/count"] = count;
    c.integers["seeds/done"] = static_cast<std::int64_t>(done.size());
    c.integers["seeds/stop_reason"] = static_cast<std::int64_t>(end.reason);
    c.strings["seeds/stop_message"] = end.message;
    for (std::size_t k = 0; k < done.size(); ++k) save_run(done[k], c, done_prefix(k));
    return c;
}

seed_block seed_block::restore(const checkpoint& c) {
    seed_block b;
    try {
        b.seeds = parse_seeds(c.string("seeds/list"), "seeds/list");
    } catch (const parameter_error& e) {
        throw record_error(std::string("checkpoint: ") + e.what());
    }
    const std::int64_t first = c.integer("seeds/first"), count = c.integer("seeds/count"),
                       done = c.integer("seeds/done"), reason = c.integer("seeds/stop_reason");
    const auto n = static_cast<std::int64_t>(b.seeds.size());
    if (first < 0 || count < 1 || first + count > n || done < 0 || done > count)
        throw record_error("checkpoint: seeds/first, seeds/count or seeds/done do not fit the " + std::to_string(n) +
                           " seeds of seeds/list");
    if (reason < 0 || reason > static_cast<std::int64_t>(stop_reason::converged))
        throw record_error("checkpoint: bad seeds/stop_reason");
    b.first = static_cast<int>(first);
    b.count = static_cast<int>(count);
    b.end = {static_cast<stop_reason>(reason), c.string("seeds/stop_message")};
    for (std::int64_t k = 0; k < done; ++k) b.done.push_back(restore_run(c, done_prefix(static_cast<std::size_t>(k))));
    return b;
}

bool is_seeds_checkpoint(const checkpoint& c) { return c.strings.count("seeds/list") > 0; }

} // namespace glassy::nets
