#include "nets/seeds.hpp"

#include "dynamics/error.hpp"

#include <algorithm>
#include <charconv>
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

} // namespace glassy::nets
