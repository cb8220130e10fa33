// The `parameters` JSON of the p-spin and CK records, byte for byte: the literals below were
// written by the code before the field tables (issue 12, point 5) and must never change
// (docs/format.md: the record's parameters are a contract). Also: what a checkpoint stores
// reads back into the same parameters.
#include "physics/ck_run.hpp"
#include "physics/quench.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace glassy {
namespace {

pspin_quench_parameters metropolis_parameters() {
    pspin_quench_parameters par;
    par.p = 4;
    par.n = 40;
    par.temperature = 0.25;
    par.method = quench_method::metropolis;
    par.dt = 0.01;
    par.tmax = 123.5;
    par.samples = 2;
    par.replicas = 3;
    par.couplings = coupling_precision::float32;
    par.seed = 99;
    par.tw = {1.0, 10.0};
    par.per_decade = 5;
    par.theta_max = 0.2;
    return par;
}

ck_parameters mixed_reference_parameters() {
    ck_parameters p;
    p.mix = ck_mixture::parse("4:0.5,3:1");
    p.T = 0.7;
    p.T0 = 2.0;
    p.tmax = 50;
    p.scheme = ck_scheme::reference;
    p.dt = 0.05;
    p.grid = 64;
    p.copied = 3;
    p.tolerance = 1e-8;
    p.max_iterations = 50;
    p.tw_per_decade = 2;
    p.lags_per_decade = 5;
    p.output_points = 100;
    p.threads = 2;
    return p;
}

TEST(pspin_parameters, default_json_is_pinned) {
    EXPECT_EQ(
        to_json(pspin_quench_parameters{}).dump(),
        R"json({"N":256,"T":0.5,"dt":0.05,"initial_condition":"uniform on the sphere (T = infinity)","method":"langevin","num_parameters":256,"p":3,"per_decade":10,"samples":1,"seed":1,"theta_max":0.3,"time_unit":"Langevin time","tmax":1000.0,"tw":[]})json");
}

TEST(pspin_parameters, non_default_json_is_pinned) {
    EXPECT_EQ(
        to_json(metropolis_parameters()).dump(),
        R"json({"N":40,"T":0.25,"couplings":"float32","dt":1.0,"initial_condition":"uniform on the sphere (T = infinity)","method":"metropolis","num_parameters":40,"p":4,"per_decade":5,"replicas":3,"samples":2,"seed":99,"theta_max":0.2,"time_unit":"sweeps","tmax":123.5,"tw":[1.0,10.0]})json");
    pspin_quench_parameters heun;
    heun.method = quench_method::heun;
    heun.dt = 0.02;
    EXPECT_EQ(
        to_json(heun).dump(),
        R"json({"N":256,"T":0.5,"dt":0.02,"initial_condition":"uniform on the sphere (T = infinity)","method":"heun","num_parameters":256,"p":3,"per_decade":10,"samples":1,"seed":1,"theta_max":0.3,"time_unit":"Langevin time","tmax":1000.0,"tw":[]})json");
}

// --hessian adds its four keys (and only then; the pins above have none of them).
TEST(pspin_parameters, hessian_json_is_pinned) {
    pspin_quench_parameters par;
    par.hessian = true;
    par.hessian_per_decade = 4;
    EXPECT_EQ(
        to_json(par).dump(),
        R"json({"N":256,"T":0.5,"dt":0.05,"flat_epsilon":0.001,"hessian":true,"hessian_per_decade":4,"hessian_top":20,"initial_condition":"uniform on the sphere (T = infinity)","method":"langevin","num_parameters":256,"p":3,"per_decade":10,"samples":1,"seed":1,"theta_max":0.3,"time_unit":"Langevin time","tmax":1000.0,"tw":[]})json");
}

// Out-of-domain Hessian parameters are field errors naming their key.
TEST(pspin_parameters, hessian_parameters_are_validated) {
    const auto key_of = [](pspin_quench_parameters par) -> std::string {
        try {
            validate(par);
        } catch (const field_error& e) {
            return e.key();
        }
        return "";
    };
    pspin_quench_parameters par;
    par.hessian = true;
    EXPECT_EQ(key_of(par), "");
    for (const double eps : {0.0, -1e-3, 1.0, std::nan("")}) {
        auto bad = par;
        bad.flat_epsilon = eps;
        EXPECT_EQ(key_of(bad), "flat_epsilon") << eps;
    }
    auto top = par;
    top.hessian_top = 0;
    EXPECT_EQ(key_of(top), "hessian_top");
    auto decade = par;
    decade.hessian_per_decade = -1;
    EXPECT_EQ(key_of(decade), "hessian_per_decade");
}

// n_s n_h (N - 1) doubles kept and three N x N matrices of work; nothing without --hessian.
TEST(quench_memory, counts_the_hessian_spectra_and_work) {
    pspin_quench_parameters par = metropolis_parameters();
    EXPECT_EQ(memory_estimate(par).hessian, 0.0);
    par.hessian = true;
    const quench_memory m = memory_estimate(par);
    EXPECT_EQ(m.hessian, 8.0 * 2 * 3 * 2 * 39 + 3 * 8.0 * 40 * 40); // 2 samples x 3 replicas, 2 waiting times
    EXPECT_EQ(m.total(), m.couplings + m.replicas + m.hessian);
}

// --clones adds clones, clone_tw, clone_lags and barrier_points (the points between clones).
TEST(pspin_parameters, clones_json_is_pinned) {
    pspin_quench_parameters par;
    par.clones = 3;
    par.clone_tw = {10, 100};
    EXPECT_EQ(
        to_json(par).dump(),
        R"json({"N":256,"T":0.5,"barrier_points":21,"clone_lags":[],"clone_tw":[10.0,100.0],"clones":3,"dt":0.05,"initial_condition":"uniform on the sphere (T = infinity)","method":"langevin","num_parameters":256,"p":3,"per_decade":10,"samples":1,"seed":1,"theta_max":0.3,"time_unit":"Langevin time","tmax":1000.0,"tw":[]})json");
}

TEST(pspin_parameters, checkpoint_config_reads_back) {
    pspin_quench_parameters with_hessian = metropolis_parameters();
    with_hessian.hessian = true;
    with_hessian.hessian_top = 7;
    with_hessian.flat_epsilon = 0.01;
    pspin_quench_parameters with_clones;
    with_clones.clones = 2;
    with_clones.clone_lags = {0, 5};
    with_clones.barrier_points = 11;
    for (const auto& par : {pspin_quench_parameters{}, metropolis_parameters(), with_hessian, with_clones}) {
        checkpoint c;
        c.tool = "pspin_quench";
        c.config = to_json(par).dump();
        EXPECT_EQ(to_json(parameters_from_checkpoint(c)).dump(), c.config);
    }
}

TEST(ck_parameters, default_json_is_pinned) {
    EXPECT_EQ(
        to_json(ck_parameters{}).dump(),
        R"json({"N":"infinity","T":0.5,"T0":"infinity","copied":2,"dt":0.0001,"grid":512,"lags_per_decade":10,"max_iterations":200,"mix":"3:1","num_parameters":"infinity","output_points":512,"p":3,"scheme":"decimation","threads":0,"tmax":100000.0,"tolerance":1e-10,"tw_per_decade":4})json");
}

TEST(ck_parameters, non_default_json_is_pinned) {
    EXPECT_EQ(
        to_json(mixed_reference_parameters()).dump(),
        R"json({"N":"infinity","T":0.7,"T0":2.0,"copied":3,"dt":0.05,"grid":64,"lags_per_decade":5,"max_iterations":50,"mix":"3:1,4:0.5","num_parameters":"infinity","output_points":100,"p":null,"scheme":"reference","threads":2,"tmax":50.0,"tolerance":1e-08,"tw_per_decade":2})json");
}

TEST(ck_parameters, checkpoint_config_reads_back) {
    for (auto p : {ck_parameters{}, mixed_reference_parameters()}) {
        p.threads = 0; // not part of the configuration a checkpoint stores
        checkpoint c;
        c.tool = "pspin_quench";
        c.strings["kind"] = "ck";
        c.config = to_json(p).dump();
        EXPECT_EQ(to_json(ck_parameters_from_checkpoint(c)).dump(), c.config);
    }
}

// The scheme is parsed once, at the boundary (issue 12, point 4): names round-trip, an unknown
// one is a field_error naming "scheme".
TEST(ck_parameters, scheme_names_round_trip) {
    for (const auto scheme : {ck_scheme::decimation, ck_scheme::reference})
        EXPECT_EQ(parse_ck_scheme(to_string(scheme)), scheme);
    try {
        (void)parse_ck_scheme("rk4");
        ADD_FAILURE() << "rk4 accepted";
    } catch (const field_error& e) {
        EXPECT_EQ(e.key(), "scheme");
        EXPECT_EQ(std::string(e.what()), "scheme must be 'decimation' or 'reference' (got 'rk4')");
    }
}

// validate names the bad field by its key (the app prints its flag).
TEST(ck_parameters, validate_names_the_field) {
    struct bad_case {
        void (*spoil)(ck_parameters&);
        const char* key;
    };
    for (const auto& [spoil, key] :
         {bad_case{[](ck_parameters& p) { p.T = -1; }, "T"}, bad_case{[](ck_parameters& p) { p.T0 = 0; }, "T0"},
          bad_case{[](ck_parameters& p) { p.tmax = -1; }, "tmax"},
          bad_case{[](ck_parameters& p) { p.grid = 15; }, "grid"},
          bad_case{[](ck_parameters& p) { p.copied = 1; }, "copied"},
          bad_case{[](ck_parameters& p) { p.lags_per_decade = 0; }, "lags_per_decade"}}) {
        ck_parameters p;
        spoil(p);
        try {
            validate(p);
            ADD_FAILURE() << key << " accepted";
        } catch (const field_error& e) {
            EXPECT_EQ(e.key(), key);
        }
    }
}

// A checkpoint configuration with a bad mix or scheme is refused as a bad checkpoint; one
// without "threads" (as checkpoints store it) reads back threads = 0.
TEST(ck_parameters, checkpoint_config_is_parsed_once) {
    checkpoint c;
    c.tool = "pspin_quench";
    c.strings["kind"] = "ck";
    auto j = to_json(mixed_reference_parameters());
    j.erase("threads");
    c.config = j.dump();
    const ck_parameters p = ck_parameters_from_checkpoint(c);
    EXPECT_EQ(p.threads, 0);
    EXPECT_EQ(p.scheme, ck_scheme::reference);
    EXPECT_EQ(p.mix.terms(), (std::vector<std::pair<int, double>>{{3, 1.0}, {4, 0.5}}));
    for (const auto& [key, bad] : {std::pair<std::string, std::string>{"mix", "1:1"}, {"scheme", "rk4"}}) {
        auto spoilt = j;
        spoilt[key] = bad;
        c.config = spoilt.dump();
        EXPECT_THROW((void)ck_parameters_from_checkpoint(c), record_error) << key;
    }
}

// C(40, 3) = 9880 couplings; two waiting times; 3 replicas of 8 x 40 x (2 + 8) bytes.
TEST(quench_memory, counts_couplings_and_replica_vectors) {
    pspin_quench_parameters par = metropolis_parameters();
    par.p = 3;
    const quench_memory m = memory_estimate(par);
    EXPECT_EQ(m.couplings, 9880.0 * 4);
    EXPECT_EQ(m.replicas, 3 * 8.0 * 40 * (2 + 8));
    EXPECT_EQ(m.total(), m.couplings + m.replicas);
    par.couplings = coupling_precision::float64;
    par.replicas = 1;
    EXPECT_EQ(memory_estimate(par).couplings, 9880.0 * 8);
    EXPECT_EQ(memory_estimate(par).replicas, 8.0 * 40 * (2 + 8));
}

// Choices are parsed once, by name; an unknown name is refused naming its field.
TEST(pspin_parameters, choices_parse_their_names) {
    for (const auto m : {quench_method::langevin, quench_method::heun, quench_method::metropolis})
        EXPECT_EQ(parse_quench_method(to_string(m)), m);
    for (const auto c : {coupling_precision::float64, coupling_precision::float32})
        EXPECT_EQ(parse_coupling_precision(to_string(c)), c);
    try {
        (void)parse_quench_method("ck");
        ADD_FAILURE() << "ck is run_ck's";
    } catch (const field_error& e) {
        EXPECT_EQ(e.key(), "method");
    }
    EXPECT_THROW((void)parse_coupling_precision("float16"), field_error);
}

// validate names the field; an app prints its flag in place of the key.
TEST(pspin_parameters, validate_names_the_field) {
    pspin_quench_parameters par;
    par.per_decade = 0;
    try {
        validate(par);
        ADD_FAILURE() << "per_decade 0 accepted";
    } catch (const field_error& e) {
        EXPECT_EQ(e.key(), "per_decade");
        EXPECT_EQ(std::string(e.what()), "per_decade must be >= 1");
    }
}

} // namespace
} // namespace glassy
