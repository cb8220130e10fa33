// net_quench end to end (the executable built by CMake) and its handling of bad flags.
#include "dynamics/error.hpp"
#include "dynamics/record.hpp"
#include "nets/models.hpp"
#include "nets/quench.hpp"
#include "support/record_compare.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;

namespace {

struct result {
    int rc;
    std::string err;
};

/// Runs net_quench with `args`, the command line prefixed by `env` (e.g. "env -u OMP_NUM_THREADS").
result run_env(const std::string& env, const std::string& args) {
    const fs::path err = fs::temp_directory_path() / ("glassy_net_quench_err_" + std::to_string(::getpid()));
    const std::string cmd = env + " " + std::string(NET_QUENCH_EXE) + " " + args + " > /dev/null 2> " + err.string();
    const int status = std::system(cmd.c_str());
    std::ifstream f(err);
    std::stringstream ss;
    ss << f.rdbuf();
    fs::remove(err);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, ss.str()};
}

result run(const std::string& args) { return run_env("", args); }

/// The last line of `s`, without its newline (an error line may follow a BLAS warning).
std::string last_line(std::string s) {
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s.substr(s.rfind('\n') == std::string::npos ? 0 : s.rfind('\n') + 1);
}

std::size_t lines(const std::string& s) {
    std::size_t n = 0;
    for (char c : s) n += c == '\n';
    return n;
}

} // namespace

TEST(net_quench, tiny_run_writes_a_valid_record) {
    const fs::path out = fs::temp_directory_path() / ("glassy_net_quench_" + std::to_string(::getpid()) + ".h5");
    const result r = run(
        "--model smallnet --dataset synthetic --synthetic-train 300 --synthetic-test 60 --steps 40 "
        "--batch 30 --noise-samples 50 --eval-samples 100 --threads 1 --seed 3 --save-snapshots --grad-norm --out " +
        out.string());
    ASSERT_EQ(r.rc, 0) << r.err;
    const glassy::record rec = glassy::read_record(out);
    fs::remove(out);
    EXPECT_EQ(rec.system, "net");
    EXPECT_EQ(rec.method, "sgd");
    EXPECT_EQ(rec.parameters.at("num_parameters").get<std::int64_t>(), 38'390);
    EXPECT_EQ(rec.parameters.at("model"), "smallnet");
    EXPECT_EQ(rec.parameters.at("batch").get<int>(), 30);
    EXPECT_EQ(rec.parameters.at("input_std").size(), 1u);
    EXPECT_GT(rec.parameters.at("input_std")[0].get<double>(), 0.0);
    ASSERT_FALSE(rec.time.empty());
    EXPECT_EQ(rec.time.back(), 40.0);
    EXPECT_EQ(rec.energy, rec.observables.at("train_loss"));
    for (const char* name : {"train_accuracy", "test_loss", "test_accuracy", "grad_norm"})
        EXPECT_EQ(rec.observables.at(name).size(), rec.time.size()) << name;
    ASSERT_FALSE(rec.aging.tw.empty());
    EXPECT_EQ(rec.aging.noise.size(), rec.aging.tw.size());
    for (double d : rec.aging.noise) EXPECT_TRUE(std::isfinite(d) && d > 0.0);
    EXPECT_EQ(rec.aging.delta.rows(), static_cast<Eigen::Index>(rec.aging.tw.size()));
    EXPECT_GT(rec.aging.delta(0, 0), 0.0);
    EXPECT_EQ(rec.extra_f32.at("snapshots/weights").shape, (std::vector<std::uint64_t>{rec.aging.tw.size(), 38'390}));
    EXPECT_NE(r.err.find("snapshot memory"), std::string::npos) << r.err;
}

// Bad input is one line, exit 1 (2 for flag syntax), nothing written. Issue 12 §5: the library
// names a bad option by its field key and net_quench prints its flag. One case per path a refusal
// takes (each start of the tool costs LibTorch's load): flag syntax, a choice's parser, validate
// before any data (issue 15's and 13's options), the data folder, and quench's constructor once
// the data and the model exist. Every key of every check: net_options.validation_errors_carry_the_field_key.
TEST(net_quench, bad_flags_give_one_line_errors) {
    struct bad_case {
        std::string args, message; // message: the start of the error line after "net_quench: error: "
    };
    for (const auto& [args, message] : {
             bad_case{"--no-such-flag", "The following argument was not expected: --no-such-flag"},
             bad_case{"--model lenet", "--model must be toy, fc, smallnet, resnet18 or linear (got 'lenet')"},
             bad_case{"--model fc --width 0", "--width must be >= 1"},
             bad_case{"--model fc --optimizer adam --momentum 0.9",
                      "--optimizer adam takes neither --momentum nor --T"},
             bad_case{"--model fc --hessian --hessian-top 0", "--hessian-top must be >= 1"},
             bad_case{"--model fc --dataset mnist --data-dir /nonexistent/glassy",
                      "--data-dir /nonexistent/glassy does not exist"},
             bad_case{"--model fc --batch 500", "--batch 500 must lie in 1..100 (the number of training samples)"},
             bad_case{"--model toy --hidden 2 --hessian --hessian-top 10000", // M = 784 * 2 + 2 + 2 * 10 + 10
                      "--hessian-top 10000 must lie in 1..M = 1600 (the number of weights)"},
         }) {
        const std::string data = args.find("--dataset") == std::string::npos
                                     ? "--dataset synthetic --synthetic-train 100 --synthetic-test 20 "
                                     : "";
        const result r = run(data + "--threads 1 --quiet " + args + " --out /tmp/glassy_never_written.h5");
        EXPECT_EQ(r.rc, args == "--no-such-flag" ? 2 : 1) << args << " -> " << r.err;
        // One line (a BLAS warning may precede it).
        EXPECT_EQ(last_line(r.err).rfind("net_quench: error: " + message, 0), 0u) << args << " -> " << r.err;
        EXPECT_LE(lines(r.err), 2u) << args << " -> " << r.err;
    }
    EXPECT_FALSE(fs::exists("/tmp/glassy_never_written.h5"));
}

TEST(net_quench, device_cuda_without_a_gpu_is_one_line_before_any_work) {
    if (glassy::nets::cuda_available()) GTEST_SKIP() << "a CUDA device is present";
    const fs::path out = fs::temp_directory_path() / ("glassy_net_quench_cuda_" + std::to_string(::getpid()) + ".h5");
    // The check comes before the data are made and the model is built (quench's constructor), so
    // the start line (model size, snapshot memory) is never printed.
    const result r = run("--model resnet18 --dataset synthetic --synthetic-train 50000 --synthetic-channels 3 "
                         "--synthetic-size 32 --device cuda --threads 1 --out " +
                         out.string());
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_EQ(last_line(r.err).rfind("net_quench: error: --device cuda: ", 0), 0u) << r.err;
    EXPECT_LE(lines(r.err), 2u) << r.err;                                 // a BLAS warning may precede it
    EXPECT_EQ(r.err.find("snapshot memory"), std::string::npos) << r.err; // refused before the start line
    EXPECT_FALSE(fs::exists(out));
}

// Issue 15: hinge2 on random data and on the parity of a multi-class dataset; the record has the
// unsatisfied fractions on the time axis, the loss, the batch "all" and the sizes.
TEST(net_quench, hinge2_runs_record_the_unsatisfied_fraction) {
    const fs::path out = fs::temp_directory_path() / ("glassy_net_quench_h2_" + std::to_string(::getpid()) + ".h5");
    for (const std::string args :
         {"--model fc --depth 3 --width 9 --dataset random --input-dim 12 --train-size 40 --batch all --dtype float64",
          "--model fc --width 5 --depth 1 --dataset synthetic --synthetic-train 60 --synthetic-test 20 "
          "--synthetic-size 6 --labels parity --optimizer adam --lr 0.01 --batch 20"}) {
        const result r = run(args +
                             " --loss hinge2 --steps 30 --noise-samples 10 --eval-samples 40 --threads 1 "
                             "--quiet --force --out " +
                             out.string());
        ASSERT_EQ(r.rc, 0) << args << " -> " << r.err;
        const glassy::record rec = glassy::read_record(out);
        EXPECT_EQ(rec.parameters.at("loss"), "hinge2") << args;
        for (const char* name : {"unsatisfied_fraction", "test_unsatisfied_fraction"}) {
            ASSERT_EQ(rec.observables.at(name).size(), rec.time.size()) << name;
            for (double u : rec.observables.at(name)) EXPECT_TRUE(u >= 0.0 && u <= 1.0) << name << " " << u;
        }
        for (double d : rec.aging.noise) EXPECT_TRUE(std::isfinite(d) && d >= 0.0);
    }
    const glassy::record rec = glassy::read_record(out);
    EXPECT_EQ(rec.method, "adam");
    EXPECT_EQ(rec.parameters.at("labels"), "parity");
    EXPECT_EQ(rec.parameters.at("num_parameters").get<int>(), 36 * 5 + 5 + 5 + 1); // one output
    EXPECT_EQ(rec.parameters.at("depth"), 1);
    EXPECT_EQ(rec.parameters.at("width"), 5);
    fs::remove(out);
}

// Issue 15: --batch all is refused before the run when its activations cannot fit in memory
// (here ~480 GB: 20000 samples x 3 x 2e6 hidden units x 4 bytes).
TEST(net_quench, full_batch_larger_than_memory_is_refused) {
    const result r = run("--model toy --hidden 2000000 --dataset random --input-dim 10 --train-size 20000 --batch all "
                         "--steps 5 --threads 1 --quiet --out /tmp/glassy_never_written.h5");
    EXPECT_EQ(r.rc, 1) << r.err;
    EXPECT_NE(r.err.find("net_quench: error: --batch all: the activations of 20000 training samples"),
              std::string::npos)
        << r.err;
    EXPECT_LE(lines(r.err), 2u) << r.err;
    EXPECT_FALSE(fs::exists("/tmp/glassy_never_written.h5"));
}

TEST(net_quench, refuses_to_overwrite_without_force) {
    const fs::path out = fs::temp_directory_path() / ("glassy_net_quench_exists_" + std::to_string(::getpid()) + ".h5");
    { std::ofstream(out) << "x"; }
    const std::string args =
        "--model fc --dataset synthetic --synthetic-train 100 --synthetic-test 20 --steps 5 --batch 10 "
        "--noise-samples 10 --eval-samples 20 --quiet --out " +
        out.string();
    const result refused = run(args);
    EXPECT_EQ(refused.rc, 1);
    EXPECT_NE(refused.err.find("exists"), std::string::npos) << refused.err;
    const result forced = run(args + " --force");
    EXPECT_EQ(forced.rc, 0) << forced.err;
    EXPECT_EQ(glassy::read_record(out).parameters.at("steps").get<int>(), 5);
    fs::remove(out);
}

TEST(net_quench, help_exits_zero) {
    const result r = run("--help");
    EXPECT_EQ(r.rc, 0);
}

// Issue 11 §4: flags the chosen model or dataset ignores are refused in one line naming them.
TEST(net_quench, flags_without_effect_are_refused) {
    struct refused_case {
        std::string args, flag;
    };
    for (const auto& [args, flag] :
         {refused_case{"--model fc --dataset synthetic --hidden 10", "--hidden"},
          refused_case{"--model resnet18 --dataset synthetic --hidden 10", "--hidden"},
          refused_case{"--model fc --dataset mnist --synthetic-train 100", "--synthetic-train"},
          refused_case{"--model fc --dataset cifar10 --synthetic-size 8", "--synthetic-size"},
          refused_case{"--model fc --dataset synthetic --data-dir /tmp", "--data-dir"},
          refused_case{"--model toy --dataset synthetic --width 10", "--width"},
          refused_case{"--model linear --dataset synthetic --depth 3", "--depth"},
          refused_case{"--model fc --dataset synthetic --input-dim 5", "--input-dim"},
          refused_case{"--model linear --dataset random --data-dir /tmp", "--data-dir"}}) {
        const result r = run(args + " --steps 5 --quiet --out /tmp/glassy_never_written.h5");
        EXPECT_EQ(r.rc, 1) << args << " -> " << r.err;
        EXPECT_NE(r.err.find("net_quench: error: " + flag + " has no effect with --"), std::string::npos)
            << args << " -> " << r.err;
        EXPECT_LE(lines(r.err), 2u) << args << " -> " << r.err; // a BLAS warning may precede it
    }
    EXPECT_FALSE(fs::exists("/tmp/glassy_never_written.h5"));
}

// Issue 11 §4: a ResNet-18 on 8 x 8 images has 1 x 1 feature maps in its last BatchNorm layers,
// which cannot train on one image per minibatch: refused before the run, naming --batch (it used
// to fail inside LibTorch at the first step). Two images per batch, or no BatchNorm, are fine.
TEST(net_quench, batch_of_one_that_batch_norm_cannot_train_on_is_refused) {
    const fs::path out = fs::temp_directory_path() / ("glassy_net_quench_bn_" + std::to_string(::getpid()) + ".h5");
    const std::string common =
        "--dataset synthetic --synthetic-train 8 --synthetic-test 4 --synthetic-channels 3 --synthetic-size 8 "
        "--steps 2 --noise-samples 2 --eval-samples 4 --threads 1 --quiet --force --out " +
        out.string();
    const result refused = run("--model resnet18 --batch 1 " + common);
    EXPECT_EQ(refused.rc, 1) << refused.err;
    EXPECT_NE(refused.err.find("net_quench: error: --batch 1: resnet18 has a BatchNorm layer"), std::string::npos)
        << refused.err;
    EXPECT_LE(lines(refused.err), 2u) << refused.err;
    EXPECT_FALSE(fs::exists(out));
    const result two = run("--model resnet18 --batch 2 " + common);
    EXPECT_EQ(two.rc, 0) << two.err;
    const result fc = run("--model fc --batch 1 " + common);
    EXPECT_EQ(fc.rc, 0) << fc.err;
    fs::remove(out);
}

// Issue 11 §4: the number of steps is printed at start (the estimate follows after 3 s).
TEST(net_quench, the_step_count_is_printed_at_start) {
    const fs::path out = fs::temp_directory_path() / ("glassy_net_quench_steps_" + std::to_string(::getpid()) + ".h5");
    const result r =
        run("--model fc --dataset synthetic --synthetic-train 100 --synthetic-test 20 --steps 7 --batch 10 "
            "--noise-samples 10 --eval-samples 20 --threads 1 --force --out " +
            out.string());
    EXPECT_EQ(r.rc, 0) << r.err;
    EXPECT_NE(r.err.find(", 7 steps, "), std::string::npos) << r.err;
    fs::remove(out);
}

// Issue 11 §4: a step count whose t_w + lag would overflow the 64-bit step counters is refused
// before any work (timeout only guards against the old behaviour, a run of ~forever).
TEST(net_quench, step_counts_beyond_the_counters_are_refused) {
    const fs::path err = fs::temp_directory_path() / ("glassy_net_quench_steps_err_" + std::to_string(::getpid()));
    for (const std::string steps : {"4611686018427387904", "9223372036854775807"}) {
        const std::string cmd =
            "timeout 120 " + std::string(NET_QUENCH_EXE) + " --model fc --dataset synthetic --synthetic-train 100 " +
            "--synthetic-test 20 --batch 10 --noise-samples 10 --eval-samples 20 --threads 1 --quiet --steps " + steps +
            " --out /tmp/glassy_never_written.h5 > /dev/null 2> " + err.string();
        const int status = std::system(cmd.c_str());
        std::ifstream f(err);
        std::stringstream ss;
        ss << f.rdbuf();
        EXPECT_EQ(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 1) << steps << " -> " << ss.str();
        EXPECT_NE(ss.str().find("net_quench: error: --steps " + steps + " is more than the 64-bit step counters hold"),
                  std::string::npos)
            << ss.str();
    }
    fs::remove(err);
    EXPECT_FALSE(fs::exists("/tmp/glassy_never_written.h5"));
}

// Issue 11 §5: without --threads (and OMP_NUM_THREADS) the small models train on one thread, where
// two are slower even on idle cores, and resnet18 on every core with passive waiting (libgomp shows
// the spin count it read: 0 when passive). The record says which count ran.
TEST(net_quench, the_default_thread_count_follows_the_model) {
    const fs::path out =
        fs::temp_directory_path() / ("glassy_net_quench_threads_" + std::to_string(::getpid()) + ".h5");
    const std::string common =
        " --dataset synthetic --synthetic-train 8 --synthetic-test 4 --synthetic-channels 3 --synthetic-size 16 "
        "--steps 2 --batch 2 --noise-samples 2 --eval-samples 4 --quiet --force --out " +
        out.string();
    const std::string env = "env -u OMP_NUM_THREADS -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose";
    for (const std::string model : {"toy", "fc", "smallnet", "resnet18"}) {
        const result r = run_env(env, "--model " + model + common);
        ASSERT_EQ(r.rc, 0) << model << ": " << r.err;
        const auto threads = glassy::read_record(out.string()).parameters.at("threads").get<std::int64_t>();
        const std::int64_t cores = std::max(1u, std::thread::hardware_concurrency());
        EXPECT_EQ(threads, model == "resnet18" ? cores : 1) << model;
        const auto at = r.err.rfind("GOMP_SPINCOUNT = '"); // libgomp's display in the image that ran
        ASSERT_NE(at, std::string::npos) << model << ": " << r.err;
        EXPECT_EQ(r.err.substr(at + 18, 2) == "0'", threads > 1) << model << ": " << r.err;
    }
    EXPECT_EQ(glassy::nets::default_threads(glassy::nets::model_kind::fc, 16), 1);
    EXPECT_EQ(glassy::nets::default_threads(glassy::nets::model_kind::resnet18, 16), 16);
    EXPECT_THROW((void)glassy::nets::default_threads(glassy::nets::model_kind::resnet18, 0), glassy::parameter_error);
    fs::remove(out);
}

// Issue 17: --seeds trains one run per seed, one after another, into one record: each seed's
// arrays are those of the run with --seed alone, bit for bit, and the means are their sums in seed
// order over n_s (docs/format.md, "Several seeds").
TEST(net_quench, seeds_give_each_seeds_run_and_their_means) {
    const std::string tiny = "--model toy --hidden 4 --dataset synthetic --synthetic-train 64 --synthetic-test 16 "
                             "--synthetic-size 8 --batch 16 --steps 20 --noise-samples 16 --eval-samples 16 "
                             "--threads 1 --quiet --force --out ";
    const fs::path dir = fs::temp_directory_path() / ("glassy_net_seeds_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    std::vector<glassy::record> single;
    for (const char* seed : {"5", "2"}) {
        const fs::path out = dir / (std::string("seed") + seed + ".h5");
        ASSERT_EQ(run(tiny + out.string() + " --seed " + seed).rc, 0);
        single.push_back(glassy::read_record(out));
    }
    const fs::path out = dir / "seeds.h5";
    const result r = run(tiny + out.string() + " --seeds 5,2");
    ASSERT_EQ(r.rc, 0) << r.err;
    const glassy::record rec = glassy::read_record(out);
    const result bad = run(tiny + out.string() + " --seeds 3-1");
    fs::remove_all(dir);
    EXPECT_EQ(bad.rc, 1);
    EXPECT_EQ(last_line(bad.err), "net_quench: error: --seeds '3-1': the range ends below its start");

    EXPECT_EQ(rec.parameters.at("seeds"), nlohmann::json::array({5, 2}));
    EXPECT_FALSE(rec.parameters.contains("seed"));
    EXPECT_EQ(rec.time, single[0].time);
    ASSERT_EQ(rec.energy_samples.rows(), 2);
    ASSERT_EQ(rec.aging.delta_samples.size(), 2u);
    const auto& accuracy = rec.extra.at("seeds/observables/test_accuracy");
    const auto& indices = rec.extra.at("seeds/measurement/train_indices");
    const std::size_t nt = rec.time.size(), ni = single[0].extra.at("measurement/train_indices").data.size();
    for (std::size_t k = 0; k < 2; ++k) {
        for (std::size_t i = 0; i < nt; ++i) {
            EXPECT_EQ(rec.energy_samples(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(i)),
                      single[k].energy[i]);
            EXPECT_EQ(accuracy.data[k * nt + i], single[k].observables.at("test_accuracy")[i]);
        }
        EXPECT_TRUE(glassy::test::same(rec.aging.delta_samples[k], single[k].aging.delta)); // NaN where not reached
        for (std::size_t i = 0; i < ni; ++i)
            EXPECT_EQ(indices.data[k * ni + i], single[k].extra.at("measurement/train_indices").data[i]);
    }
    for (std::size_t i = 0; i < nt; ++i) {
        EXPECT_EQ(rec.energy[i], (single[0].energy[i] + single[1].energy[i]) / 2);
        EXPECT_EQ(rec.observables.at("test_loss")[i],
                  (single[0].observables.at("test_loss")[i] + single[1].observables.at("test_loss")[i]) / 2);
    }
    for (std::size_t w = 0; w < rec.aging.noise.size(); ++w)
        EXPECT_EQ(rec.aging.noise[w], (single[0].aging.noise[w] + single[1].aging.noise[w]) / 2);
    EXPECT_TRUE(
        glassy::test::same(rec.aging.delta, glassy::row_matrix((single[0].aging.delta + single[1].aging.delta) / 2)));
}
