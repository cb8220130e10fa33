// End-to-end tests of the aging_analysis app (path from CMake: GLASSY_AGING_ANALYSIS).
#include "analysis/gnuplot.hpp"
#include "dynamics/record.hpp"
#include "synthetic.hpp"

#include <H5Cpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace glassy;

struct app_run {
    int status = -1;
    std::string out, err;
};

std::string slurp(const fs::path& p) {
    std::ifstream f(p);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

class aging_analysis_app : public ::testing::Test {
protected:
    void SetUp() override {
        m_dir = fs::temp_directory_path() / ("glassy_analysis_" + std::to_string(::getpid()) + "_" +
                                             ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(m_dir);
        fs::create_directories(m_dir);
    }
    void TearDown() override {
        if (!HasFailure()) fs::remove_all(m_dir);
    }
    app_run run(const std::string& args) const {
        const fs::path o = m_dir / "stdout.txt", e = m_dir / "stderr.txt";
        const std::string cmd =
            std::string(GLASSY_AGING_ANALYSIS) + " " + args + " > " + o.string() + " 2> " + e.string();
        const int st = std::system(cmd.c_str());
        app_run r;
        r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        r.out = slurp(o);
        r.err = slurp(e);
        return r;
    }
    fs::path file(const std::string& name) const { return m_dir / name; }
    // Expects exit status `status` with exactly one line "aging_analysis: error: ..." on stderr.
    void expect_one_line_error(const std::string& args, const std::string& fragment, int status = 1) const {
        const app_run r = run(args);
        EXPECT_EQ(r.status, status) << args;
        EXPECT_EQ(r.err.rfind("aging_analysis: error: ", 0), 0u) << r.err;
        EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
        EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
    }
    fs::path m_dir;
};

TEST_F(aging_analysis_app, malformed_inputs_give_one_line_errors) {
    const fs::path good = file("good.h5");
    write_record(test::net_record(100, 1e4, 0.0, 1), good);

    { std::ofstream(file("text.h5")) << "not hdf5\n"; }
    expect_one_line_error(file("text.h5").string() + " --out " + file("o").string(), "not an HDF5 file");
    expect_one_line_error(file("absent.h5").string() + " --out " + file("o").string(), "no such file");

    fs::copy_file(good, file("format.h5"));
    {
        H5::H5File f(file("format.h5").string(), H5F_ACC_RDWR);
        H5::Group root = f.openGroup("/");
        root.removeAttr("format");
        const H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
        root.createAttribute("format", type, H5::DataSpace(H5S_SCALAR)).write(type, std::string("other"));
    }
    expect_one_line_error(file("format.h5").string() + " --out " + file("o").string(), "not a glassy record");

    fs::copy_file(good, file("version.h5"));
    {
        H5::H5File f(file("version.h5").string(), H5F_ACC_RDWR);
        const int v = 99;
        f.openGroup("/").openAttribute("format_version").write(H5::PredType::NATIVE_INT, &v);
    }
    expect_one_line_error(file("version.h5").string() + " --out " + file("o").string(), "newer");

    fs::copy_file(good, file("missing.h5"));
    {
        H5::H5File f(file("missing.h5").string(), H5F_ACC_RDWR);
        f.unlink("energy");
    }
    expect_one_line_error(file("missing.h5").string() + " --out " + file("o").string(), "/energy missing");

    record other = test::net_record(100, 1e4, 0.0, 2);
    other.parameters["lr"] = 0.1;
    write_record(other, file("other.h5"));
    expect_one_line_error(good.string() + " " + file("other.h5").string() + " --out " + file("o").string(),
                          "parameter 'lr' differs");

    expect_one_line_error("--compare " + good.string() + " --out " + file("o").string(), "exactly two");
    expect_one_line_error(good.string(), "--out", 2);
}

// The flags are parsed by app::parse, as in the other tools: a bad flag is one line naming the
// tool and pointing to --help, exit 2, and nothing is written.
TEST_F(aging_analysis_app, bad_flag_names_the_tool_and_exits2) {
    const fs::path good = file("good.h5");
    write_record(test::net_record(100, 1e4, 0.0, 1), good);
    const app_run r = run(good.string() + " --out " + file("o").string() + " --no-such-flag");
    EXPECT_EQ(r.status, 2);
    EXPECT_EQ(r.err.rfind("aging_analysis: error: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("--no-such-flag"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(" (see --help)\n"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_FALSE(fs::exists(file("o")));
    EXPECT_EQ(run("--help").status, 0);
}

// `aging_analysis a.h5 a.h5` (or a byte copy) used to average "two" records with zero error
// bars; a complete with a partial run was refused with "parameter 'stop_reason' is missing".
TEST_F(aging_analysis_app, refuses_repeated_and_incomplete_runs) {
    const fs::path a = file("a.h5");
    write_record(test::net_record(100, 1e4, 0.02, 3), a);
    const std::string out = " --no-plots --out " + file("o").string();
    expect_one_line_error(a.string() + " " + a.string() + out, "is given twice");
    expect_one_line_error(a.string() + " " + (m_dir / "." / "a.h5").string() + out, "is given twice");
    fs::copy_file(a, file("copy.h5"));
    expect_one_line_error(a.string() + " " + file("copy.h5").string() + out, "are the same run (seed 3)");
    EXPECT_FALSE(fs::exists(file("o") / "summary.json"));

    record partial = test::net_record(100, 1e4, 0.02, 4);
    partial.complete = false;
    partial.parameters["stop_reason"] = "interrupted at step 500 of 100000";
    write_record(partial, file("b.h5"));
    expect_one_line_error(a.string() + " " + file("b.h5").string() + out,
                          file("b.h5").string() + " is an incomplete run (stop_reason \"interrupted at step 500");
}

TEST_F(aging_analysis_app, averages_seeds_and_writes_tables) {
    for (unsigned s = 1; s <= 3; ++s) // name built by appends: GCC 12's -Wrestrict misfires on "s" + string here
        write_record(test::net_record(100, 1e4, 0.02, s),
                     file(std::string("s").append(std::to_string(s)).append(".h5")));
    const app_run r = run(file("s1.h5").string() + " " + file("s2.h5").string() + " " + file("s3.h5").string() +
                          " --no-plots --out " + file("avg").string());
    ASSERT_EQ(r.status, 0) << r.err;
    std::ifstream in(file("avg") / "summary.json");
    const auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j.at("n_records").get<int>(), 3);
    EXPECT_NEAR(j.at("diffusive_exponent").get<double>(), 1.0, 1e-9);
    EXPECT_NEAR(std::log10(j.at("t1").get<double>()), 2.0, 0.2);
    EXPECT_NEAR(std::log10(j.at("t2").get<double>()), 4.0, 0.2);
    for (const char* t : {"energy.csv", "observables.csv", "delta.csv", "waiting_times.csv", "loss_fit.csv"})
        EXPECT_GT(fs::file_size(file("avg") / t), 0u) << t;
}

// A CK record (method "ck", extra ck/... datasets, observable mu) and a record without
// /aging are analysed too; the extra datasets are listed in the summary.
TEST_F(aging_analysis_app, ck_and_records_without_aging) {
    record ck = test::pspin_record([](double tw, double t) { return 0.7 + 1.3 * (t / tw) / (1 + t / tw); }, {1, 10},
                                   test::log_grid(-1, 2, 10), 200);
    ck.method = "ck";
    ck.observables["mu"] = std::vector<double>(ck.time.size(), 1.0);
    ck.extra["ck/C"] = nd_array<double>{{2, 2}, {1, 0.5, 0.5, 1}};
    write_record(ck, file("ck.h5"));
    app_run r = run(file("ck.h5").string() + " --no-plots --out " + file("ck").string());
    ASSERT_EQ(r.status, 0) << r.err;
    std::ifstream in(file("ck") / "summary.json");
    const auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j.at("method"), "ck");
    EXPECT_EQ(j.at("extra_datasets").at(0), "ck/C");
    EXPECT_NEAR(j.at("energy_exponent").get<double>(), 0.7, 1e-4);
    EXPECT_TRUE(j.at("t2").is_null());

    record bare = test::pspin_record([](double, double t) { return t; }, {}, {}, 100);
    bare.aging = {};
    write_record(bare, file("bare.h5"));
    r = run(file("bare.h5").string() + " --no-plots --out " + file("bare").string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(fs::exists(file("bare") / "energy.csv"));
    EXPECT_FALSE(fs::exists(file("bare") / "delta.csv"));
}

TEST_F(aging_analysis_app, missing_gnuplot_still_writes_tables) {
    write_record(test::net_record(100, 1e4, 0.0, 1), file("n.h5"));
    const app_run r = run(file("n.h5").string() + " --gnuplot /nonexistent/gnuplot --out " + file("o").string());
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.err.find("gnuplot not found"), std::string::npos) << r.err;
    EXPECT_TRUE(fs::exists(file("o") / "summary.json"));
    EXPECT_TRUE(fs::exists(file("o") / "delta.csv"));
    EXPECT_TRUE(fs::exists(file("o") / "fig2_loss.gp"));
    EXPECT_FALSE(fs::exists(file("o") / "fig2_loss.png"));
}

TEST_F(aging_analysis_app, plots_are_produced) {
    if (!gnuplot_available("gnuplot")) GTEST_SKIP() << "gnuplot not installed";
    write_record(test::net_record(100, 1e4, 0.02, 1), file("net.h5"));
    const double P = 0.722;
    write_record(test::pspin_record(
                     [P](double tw, double t) { return P * (1 - std::exp(-t)) + (2 - P) * (1 - std::exp(-t / tw)); },
                     {10, 100, 1000, 1e4}, test::log_grid(-1, 4, 10), 2e4),
                 file("glass.h5"));
    record toy = test::net_record(100, 1e4, 0.02, 1);
    toy.parameters["model"] = "toy";
    toy.parameters["hidden"] = 10;
    write_record(toy, file("toy.h5"));

    auto expect_images = [&](const fs::path& dir, std::initializer_list<const char*> stems) {
        for (const char* s : stems)
            for (const char* ext : {".png", ".svg"}) {
                const fs::path p = dir / (std::string(s) + ext);
                ASSERT_TRUE(fs::exists(p)) << p;
                EXPECT_GT(fs::file_size(p), 1000u) << p;
            }
    };
    app_run r = run(file("net.h5").string() + " --out " + file("net").string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    expect_images(file("net"), {"fig2_loss", "fig3_delta", "fig4_delta_over_D"});

    r = run(file("glass.h5").string() + " --out " + file("glass").string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    expect_images(file("glass"), {"fig1a_energy", "fig1b_delta", "fig1c_aging_scaling", "fig4_delta_over_D"});

    r = run(file("toy.h5").string() + " --out " + file("toy").string());
    ASSERT_EQ(r.status, 0) << r.err;
    expect_images(file("toy"), {"fig5a_loss", "fig5b_delta"});

    r = run("--compare " + file("glass.h5").string() + " " + file("net.h5").string() + " --out " +
            file("cmp").string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    expect_images(file("cmp"), {"compare"});
    std::ifstream in(file("cmp") / "summary.json");
    const auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j.at("left").at("system"), "pspin");
    EXPECT_EQ(j.at("right").at("system"), "net");
}

} // namespace

namespace {

// a and b equal: the same keys, strings and literals; numbers within a relative 1e-9 (the
// same code gives the same bits; 1e-9 only forgives libm's last-bit differences between
// builds, e.g. glibc's FMA variants of exp/log/pow, amplified by a fit).
void expect_same_json(const nlohmann::json& a, const nlohmann::json& b, const std::string& where) {
    if (a.is_number() && b.is_number()) {
        const double x = a.get<double>(), y = b.get<double>();
        EXPECT_NEAR(x, y, 1e-9 * std::max(1.0, std::abs(y))) << where;
        return;
    }
    ASSERT_EQ(a.type_name(), b.type_name()) << where;
    if (a.is_object()) {
        std::vector<std::string> ka, kb;
        for (auto it = a.begin(); it != a.end(); ++it) ka.push_back(it.key());
        for (auto it = b.begin(); it != b.end(); ++it) kb.push_back(it.key());
        ASSERT_EQ(ka, kb) << where;
        for (const auto& k : ka) expect_same_json(a.at(k), b.at(k), where + "." + k);
    } else if (a.is_array()) {
        ASSERT_EQ(a.size(), b.size()) << where;
        for (std::size_t i = 0; i < a.size(); ++i) expect_same_json(a[i], b[i], where + "[" + std::to_string(i) + "]");
    } else {
        EXPECT_EQ(a, b) << where;
    }
}

// The glass of plots_are_produced: a plateau at 0.722, then aging in t/t_w.
record plateau_glass() {
    const double P = 0.722;
    return test::pspin_record(
        [P](double tw, double t) { return P * (1 - std::exp(-t)) + (2 - P) * (1 - std::exp(-t / tw)); },
        {10, 100, 1000, 1e4}, test::log_grid(-1, 4, 10), 2e4);
}

} // namespace

// Records without /hessian analyse exactly as before the Hessian was added: summary.json
// (but for `sources`, the path of the test's scratch file) equals the one written by
// aging_analysis of commit 0db8760 for the same records (tests/analysis/data/), and has no
// `hessian` block.
TEST_F(aging_analysis_app, summary_without_hessian_is_unchanged) {
    const std::pair<const char*, record> cases[] = {{"summary_net.json", test::net_record(100, 1e4, 0.02, 1)},
                                                    {"summary_glass.json", plateau_glass()}};
    for (const auto& [golden, rec] : cases) {
        const fs::path in = file(std::string(golden) + ".h5"), out = file(std::string("out_") + golden);
        write_record(rec, in);
        const app_run r = run(in.string() + " --no-plots --out " + out.string());
        ASSERT_EQ(r.status, 0) << r.err;
        std::ifstream got_file(out / "summary.json"), want_file(fs::path(GLASSY_ANALYSIS_DATA) / golden);
        auto got = nlohmann::json::parse(got_file), want = nlohmann::json::parse(want_file);
        EXPECT_FALSE(got.contains("hessian"));
        got.erase("sources");
        want.erase("sources");
        expect_same_json(got, want, golden);
    }
}

// A /hessian group of the wrong shape is one line naming the file and the dataset.
TEST_F(aging_analysis_app, bad_hessian_shape_is_one_line_naming_the_dataset) {
    record rec = test::net_record(100, 1e4, 0.0, 1);
    test::add_hessian(rec, test::log_grid(1, 4, 3), [](double t) { return 1 / t; });
    write_record(rec, file("h.h5"));
    {
        H5::H5File f(file("h.h5").string(), H5F_ACC_RDWR);
        f.unlink("hessian/negative_fraction");
        const hsize_t n = 3;
        const double v[3] = {0.1, 0.2, 0.3};
        f.createDataSet("hessian/negative_fraction", H5::PredType::IEEE_F64LE, H5::DataSpace(1, &n))
            .write(v, H5::PredType::NATIVE_DOUBLE);
    }
    expect_one_line_error(
        file("h.h5").string() + " --no-plots --out " + file("o").string(),
        file("h.h5").string() +
            ": /hessian/negative_fraction has shape [3], not [n_h] = [10] (n_h = the length of /hessian/t)");
    EXPECT_FALSE(fs::exists(file("o") / "summary.json"));
}

// The Hessian figures and tables of a network and of a glass whose index reaches 0 (the log
// axis then draws the positive values only), and --compare's side-by-side Hessian figure:
// gnuplot exits 0 on every script (no warning) and every image is there.
TEST_F(aging_analysis_app, hessian_plots_are_produced) {
    if (!gnuplot_available("gnuplot")) GTEST_SKIP() << "gnuplot not installed";
    record net = test::net_record(100, 1e4, 0.02, 1);
    test::add_hessian(
        net, test::log_grid(1, 5, 4), [](double t) { return 0.2 / std::sqrt(t); }, 20);
    write_record(net, file("net.h5"));
    record glass = plateau_glass();
    test::add_hessian(glass, test::log_grid(0, 4, 4), [](double t) { return t < 100 ? 0.3 / std::sqrt(t) : 0.0; });
    glass.extra.erase("hessian/trace_err");
    write_record(glass, file("glass.h5"));

    for (const char* name : {"net", "glass"}) {
        const app_run r = run(file(std::string(name) + ".h5").string() + " --out " + file(name).string());
        ASSERT_EQ(r.status, 0) << r.err;
        EXPECT_TRUE(r.err.empty()) << r.err;
        EXPECT_NE(r.out.find("Hessian at t = "), std::string::npos) << r.out;
        for (const char* stem : {"hessian_fractions", "hessian_top", "hessian_density"})
            for (const char* ext : {".png", ".svg"}) {
                const fs::path p = file(name) / (std::string(stem) + ext);
                ASSERT_TRUE(fs::exists(p)) << p;
                EXPECT_GT(fs::file_size(p), 1000u) << p;
            }
        for (const char* table : {"hessian.csv", "hessian_density.csv"})
            EXPECT_GT(fs::file_size(file(name) / table), 0u) << table;
        std::ifstream in(file(name) / "summary.json");
        const auto j = nlohmann::json::parse(in);
        EXPECT_TRUE(j.contains("hessian"));
        EXPECT_NE(std::find(j.at("plots").begin(), j.at("plots").end(), "hessian_fractions"), j.at("plots").end());
    }
    const app_run r = run("--compare " + file("glass.h5").string() + " " + file("net.h5").string() + " --out " +
                          file("cmp").string());
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(r.err.empty()) << r.err;
    for (const char* ext : {".png", ".svg"})
        EXPECT_GT(fs::file_size(file("cmp") / (std::string("compare_hessian") + ext)), 1000u);
    std::ifstream in(file("cmp") / "summary.json");
    EXPECT_EQ(nlohmann::json::parse(in).at("plots"), nlohmann::json::array({"compare", "compare_hessian"}));
}

namespace {

// A record with /barrier (six paths, the highest 0.5 at (t_w, t) = (100, 1)) and /clones at t_w =
// 10, 100, 1000, 10^4 whose barriers fall below 2 % of the final |energy| (loss) from t_w = 1000.
record with_barrier_and_clones(record r) {
    test::add_barrier(r, {{10, 1, -1, -1, 0},
                          {10, 10, -1, -1, 0.01},
                          {100, 1, -2, -1, 0.5},
                          {100, 10, -1, -1, 0.03},
                          {1000, 1, -1, -1, 0.02},
                          {1000, 10, -1, -1, 0.0}});
    const double scale = std::abs(r.energy.back());
    test::add_clones(r, {10, 100, 1000, 1e4}, {1, 10, 100, 1000}, r.time.back(),
                     [](double tw, double t) { return t / (tw + t); },
                     {0.5 * scale, 0.1 * scale, 0.01 * scale, 0.001 * scale});
    return r;
}

} // namespace

// The barrier and clone figures of a glass and of a network (with the test-accuracy drop), and
// --compare's side-by-side ones: gnuplot exits 0 on every script (the compare scripts are run
// here on what --no-plots wrote, to keep the test short) and the summary names them.
TEST_F(aging_analysis_app, barrier_and_clone_figures_are_produced) {
    record net = with_barrier_and_clones(test::net_record(100, 1e4, 0.02, 1));
    net.extra["clones/test_accuracy_drop"] = {{4}, {0.2, 0.1, 0.01, 0.0}};
    write_record(net, file("net.h5"));
    write_record(with_barrier_and_clones(plateau_glass()), file("glass.h5"));
    const bool plots = gnuplot_available("gnuplot");
    std::string args = file("glass.h5").string();
    if (!plots) args += " --no-plots";
    args += " --out ";
    args += file("g").string();
    const app_run r = run(args);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_NE(r.out.find("linearly connected from t_w = 1000"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("largest height 0.5 at (t_w, t) = (100, 1)"), std::string::npos) << r.out;
    for (const char* stem : {"barrier_height", "barrier_paths", "clones_delta", "clones_barrier"}) {
        EXPECT_TRUE(fs::exists(file("g") / (std::string(stem) + ".gp"))) << stem;
        if (plots) {
            EXPECT_GT(fs::file_size(file("g") / (std::string(stem) + ".png")), 1000u) << stem;
        }
    }
    EXPECT_TRUE(r.err.empty()) << r.err;
    const app_run c = run("--compare " + file("glass.h5").string() + " " + file("net.h5").string() +
                          " --no-plots --out " + file("cmp").string());
    ASSERT_EQ(c.status, 0) << c.err;
    std::ifstream in(file("cmp") / "summary.json");
    const auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j.at("plots"), nlohmann::json::array({"compare", "compare_barrier", "compare_clones"}));
    EXPECT_EQ(j.at("right").at("clones").at("per_tw")[0].at("test_accuracy_drop").get<double>(), 0.2);
    if (!plots) GTEST_SKIP() << "gnuplot not installed: scripts written, not run";
    for (const char* stem : {"compare_barrier", "compare_clones"}) {
        const gnuplot_result g = run_gnuplot("gnuplot", std::string(stem) + ".gp", file("cmp"));
        EXPECT_TRUE(g.ok) << stem << ": " << g.message;
        EXPECT_GT(fs::file_size(file("cmp") / (std::string(stem) + ".png")), 1000u) << stem;
    }
}

// --connectivity-threshold moves the first connected t_w (0.2: the barrier 0.1 x scale at t_w =
// 100 counts as connected) and is refused when not > 0 or with --merge, in one line.
TEST_F(aging_analysis_app, connectivity_threshold_flag) {
    write_record(with_barrier_and_clones(plateau_glass()), file("glass.h5"));
    const app_run r =
        run(file("glass.h5").string() + " --no-plots --connectivity-threshold 0.2 --out " + file("o").string());
    ASSERT_EQ(r.status, 0) << r.err;
    std::ifstream in(file("o") / "summary.json");
    const auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j.at("clones").at("connected_from_tw").get<double>(), 100.0);
    EXPECT_EQ(j.at("barrier").at("threshold").at("relative").get<double>(), 0.2);
    EXPECT_EQ(j.at("barrier").at("rising").get<int>(), 1); // only 0.5 > 0.2 x 1.5
    expect_one_line_error(file("glass.h5").string() + " --connectivity-threshold 0 --out " + file("z").string(),
                          "--connectivity-threshold must be > 0, got 0");
    EXPECT_FALSE(fs::exists(file("z") / "summary.json"));
    expect_one_line_error(file("glass.h5").string() + " --merge --connectivity-threshold 0.1 --out " +
                              file("m.h5").string(),
                          "--connectivity-threshold");
}
