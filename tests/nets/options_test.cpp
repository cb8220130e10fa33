// The options JSON of net_quench (the checkpoint's configuration and the basis of the record's
// `parameters`), byte for byte: the literals below were written by the code before the field
// tables (issue 12, point 5) and must never change. Also: a checkpoint's configuration reads
// back into the same options, and a bad option throws a field_error with its key.
#include "nets/quench.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

namespace glassy::nets {
namespace {

quench_options toy_synthetic_options() {
    quench_options o;
    o.model = model_kind::toy;
    o.dataset = dataset_kind::synthetic;
    o.hidden = 7;
    o.batch = 32;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.temperature = 1e-3;
    o.steps = 300;
    o.seed = 7;
    o.dtype = dtype_kind::float64;
    o.noise_samples = 64;
    o.noise = noise_method::per_sample_loop;
    o.eval_samples = 128;
    o.points_per_decade = 7;
    o.tw_per_decade = 2;
    o.tw_first = 5;
    o.tw_steps = {10, 20};
    o.lag_steps = {1, 2};
    o.save_snapshots = true;
    o.grad_norm = true;
    o.synthetic.train_count = 256;
    o.synthetic.test_count = 64;
    o.synthetic.channels = 3;
    o.synthetic.height = o.synthetic.width = 8;
    return o;
}

/// Every option of issue 15 set (the JSON keys written only when used): fc of depth 3, random
/// data, hinge2, Adam, full batch, --stop-loss.
quench_options jamming_options() {
    quench_options o;
    o.model = model_kind::fc;
    o.depth = 3;
    o.width = 64;
    o.dataset = dataset_kind::random;
    o.random.input_dim = 30;
    o.random.train_count = 500;
    o.loss = loss_kind::hinge2;
    o.optimizer = optimizer_kind::adam;
    o.batch = full_batch;
    o.stop_loss = 1e-12;
    o.dtype = dtype_kind::float64;
    return o;
}

/// Parity labels on MNIST with the perceptron.
quench_options parity_options() {
    quench_options o;
    o.model = model_kind::linear;
    o.labels = label_kind::parity;
    o.loss = loss_kind::hinge2;
    return o;
}

quench_options hessian_options() {
    quench_options o;
    o.hessian = true;
    return o;
}

quench_options barrier_options() {
    quench_options o;
    o.barrier = true;
    return o;
}

quench_options clones_options() {
    quench_options o;
    o.clones = 4;
    return o;
}

TEST(net_options, default_json_is_pinned) {
    EXPECT_EQ(
        options_json(quench_options{}).dump(),
        R"json({"T":0.0,"batch":100,"dataset":"mnist","device":"cpu","dtype":"float32","eval_samples":1024,"grad_norm":false,"hidden":10000,"lr":0.1,"measurement_subset":"class_balanced","model":"smallnet","momentum":0.0,"noise_method":"batched","noise_samples":1024,"points_per_decade":10,"save_snapshots":false,"seed":1,"steps":5000,"tw_first":10,"tw_per_decade":3})json");
}

TEST(net_options, non_default_json_is_pinned) {
    EXPECT_EQ(
        options_json(toy_synthetic_options()).dump(),
        R"json({"T":0.001,"batch":32,"dataset":"synthetic","device":"cpu","dtype":"float64","eval_samples":128,"grad_norm":true,"hidden":7,"lag_steps":[1,2],"lr":0.05,"measurement_subset":"class_balanced","model":"toy","momentum":0.9,"noise_method":"per_sample_loop","noise_samples":64,"points_per_decade":7,"save_snapshots":true,"seed":7,"steps":300,"synthetic":{"channels":3,"classes":10,"height":8,"noise":96,"test_count":64,"train_count":256,"width":8},"tw_first":5,"tw_per_decade":2,"tw_steps":[10,20]})json");
}

// Issue 15: the new keys appear only when used, with these values.
TEST(net_options, jamming_json_is_pinned) {
    EXPECT_EQ(
        options_json(jamming_options()).dump(),
        R"json({"T":0.0,"batch":"all","dataset":"random","depth":3,"device":"cpu","dtype":"float64","eval_samples":1024,"grad_norm":false,"hidden":10000,"loss":"hinge2","lr":0.1,"measurement_subset":"class_balanced","model":"fc","momentum":0.0,"noise_method":"batched","noise_samples":1024,"optimizer":"adam","points_per_decade":10,"random":{"input_dim":30,"train_size":500},"save_snapshots":false,"seed":1,"steps":5000,"stop_loss":1e-12,"tw_first":10,"tw_per_decade":3,"width":64})json");
    EXPECT_EQ(
        options_json(parity_options()).dump(),
        R"json({"T":0.0,"batch":100,"dataset":"mnist","device":"cpu","dtype":"float32","eval_samples":1024,"grad_norm":false,"hidden":10000,"labels":"parity","loss":"hinge2","lr":0.1,"measurement_subset":"class_balanced","model":"linear","momentum":0.0,"noise_method":"batched","noise_samples":1024,"points_per_decade":10,"save_snapshots":false,"seed":1,"steps":5000,"tw_first":10,"tw_per_decade":3})json");
}

// Issue 15: the loss is written only when it is not the model's own, whatever --loss said.
TEST(net_options, the_models_own_loss_is_not_written) {
    quench_options o;
    o.model = model_kind::fc;
    const std::string plain = options_json(o).dump();
    o.loss = loss_kind::nll_log_softmax;
    EXPECT_EQ(options_json(o).dump(), plain);
    o.model = model_kind::toy;
    EXPECT_EQ(options_json(o).at("loss"), "nll_log_softmax");
    EXPECT_EQ(run_loss(o), loss_kind::nll_log_softmax);
    o.loss.reset();
    EXPECT_EQ(run_loss(o), loss_kind::mse_one_hot);
    EXPECT_FALSE(options_json(o).contains("loss"));
}

TEST(net_options, checkpoint_config_reads_back) {
    for (const auto& o : {quench_options{}, toy_synthetic_options(), jamming_options(), parity_options()}) {
        checkpoint c;
        c.tool = "net_quench";
        c.config = options_json(o).dump();
        EXPECT_EQ(options_json(options_from_checkpoint(c)).dump(), c.config);
    }
}

// Issue 12 §4: every choice parses back from the name it is written as, and an unknown name is
// refused with parameter_error.
TEST(net_options, choice_names_read_back) {
    for (const auto k : {dataset_kind::mnist, dataset_kind::fashion_mnist, dataset_kind::cifar10,
                         dataset_kind::cifar100, dataset_kind::synthetic})
        EXPECT_EQ(parse_dataset_kind(to_string(k)), k);
    EXPECT_EQ(to_string(dataset_kind::fashion_mnist), "fashion-mnist");
    for (const auto k : {device_kind::cpu, device_kind::cuda}) EXPECT_EQ(parse_device_kind(to_string(k)), k);
    for (const auto k : {dtype_kind::float32, dtype_kind::float64}) EXPECT_EQ(parse_dtype_kind(to_string(k)), k);
    for (const auto m : {noise_method::batched, noise_method::per_sample_loop}) {
        EXPECT_EQ(parse_noise_method(to_string(m)), m);
        EXPECT_EQ(parse_noise_method_flag(flag_name(m)), m);
    }
    EXPECT_EQ(flag_name(noise_method::per_sample_loop), "loop");
    EXPECT_EQ(to_string(noise_method::per_sample_loop), "per_sample_loop");
    EXPECT_THROW((void)parse_dataset_kind("imagenet"), parameter_error);
    EXPECT_THROW((void)parse_device_kind("tpu"), parameter_error);
    EXPECT_THROW((void)parse_dtype_kind("float16"), parameter_error);
    EXPECT_THROW((void)parse_noise_method_flag("per_sample_loop"), parameter_error);
    EXPECT_THROW((void)parse_noise_method("loop"), parameter_error);
}

// Issue 13: the Hessian options appear only with --hessian (above: the JSON without it is
// unchanged), all seven of them, after the others.
TEST(net_options, hessian_json_is_pinned) {
    quench_options o;
    o.hessian = true;
    EXPECT_EQ(
        options_json(o).dump(),
        R"json({"T":0.0,"batch":100,"dataset":"mnist","device":"cpu","dtype":"float32","eval_samples":1024,"flat_epsilon":0.001,"grad_norm":false,"hessian":true,"hessian_samples":1024,"hessian_slq_steps":80,"hessian_slq_vectors":2,"hessian_top":20,"hessian_trace_vectors":20,"hidden":10000,"lr":0.1,"measurement_subset":"class_balanced","model":"smallnet","momentum":0.0,"noise_method":"batched","noise_samples":1024,"points_per_decade":10,"save_snapshots":false,"seed":1,"steps":5000,"tw_first":10,"tw_per_decade":3})json");
    checkpoint c;
    c.tool = "net_quench";
    c.config = options_json(o).dump();
    EXPECT_EQ(options_json(options_from_checkpoint(c)).dump(), c.config);
}

// Issue 14: the barrier options appear only with --barrier (the JSON without it is unchanged, above),
// the lags as given (empty: the default), the lines' samples, and read back from a checkpoint.
TEST(net_options, barrier_json_is_pinned) {
    quench_options o = barrier_options();
    EXPECT_EQ(
        options_json(o).dump(),
        R"json({"T":0.0,"barrier":true,"barrier_lags":[],"barrier_points":21,"barrier_samples":128,"batch":100,"dataset":"mnist","device":"cpu","dtype":"float32","eval_samples":1024,"grad_norm":false,"hidden":10000,"lr":0.1,"measurement_subset":"class_balanced","model":"smallnet","momentum":0.0,"noise_method":"batched","noise_samples":1024,"points_per_decade":10,"save_snapshots":false,"seed":1,"steps":5000,"tw_first":10,"tw_per_decade":3})json");
    o.barrier_lags = {3, 30};
    checkpoint c;
    c.tool = "net_quench";
    c.config = options_json(o).dump();
    EXPECT_EQ(options_from_checkpoint(c).barrier_lags, (std::vector<std::int64_t>{3, 30}));
    EXPECT_EQ(options_json(options_from_checkpoint(c)).dump(), c.config);
}

// --clones adds clones, clone_tw, clone_lags and barrier_points (its lines' points), nothing else, and
// a checkpoint's configuration reads back.
TEST(net_options, clones_json_is_pinned_and_read_back) {
    quench_options o = clones_options();
    EXPECT_EQ(
        options_json(o).dump(),
        R"json({"T":0.0,"barrier_points":21,"batch":100,"clone_lags":[],"clone_tw":[],"clones":4,"dataset":"mnist","device":"cpu","dtype":"float32","eval_samples":1024,"grad_norm":false,"hidden":10000,"lr":0.1,"measurement_subset":"class_balanced","model":"smallnet","momentum":0.0,"noise_method":"batched","noise_samples":1024,"points_per_decade":10,"save_snapshots":false,"seed":1,"steps":5000,"tw_first":10,"tw_per_decade":3})json");
    o.clone_tw = {10, 100};
    o.clone_lags = {0, 5};
    checkpoint c;
    c.tool = "net_quench";
    c.config = options_json(o).dump();
    EXPECT_EQ(options_from_checkpoint(c).clone_tw, (std::vector<std::int64_t>{10, 100}));
    EXPECT_EQ(options_json(options_from_checkpoint(c)).dump(), c.config);
}

// Issue 12 §5: the field table is the whole options JSON: with every conditional field present in
// one of the option sets, its keys are exactly the table's (plus the constant measurement_subset),
// each key and flag once.
TEST(net_options, field_table_covers_the_json) {
    const std::vector<nlohmann::json> jsons = {options_json(toy_synthetic_options()), options_json(jamming_options()),
                                               options_json(parity_options()),        options_json(hessian_options()),
                                               options_json(barrier_options()),       options_json(clones_options())};
    std::set<std::string> keys, flags;
    for (const auto& f : quench_options_fields()) {
        EXPECT_TRUE(keys.insert(f.key).second) << f.key;
        if (!f.flag.empty()) {
            EXPECT_TRUE(flags.insert(f.flag).second) << f.flag;
        }
        const nlohmann::json::json_pointer at(f.key);
        EXPECT_TRUE(std::any_of(jsons.begin(), jsons.end(), [&](const nlohmann::json& j) { return j.contains(at); }))
            << f.key;
    }
    for (const auto& j : jsons) {
        const nlohmann::json flat = j.flatten();
        for (const auto& [key, value] : flat.items()) {
            (void)value;
            EXPECT_TRUE(keys.count(key) == 1 || key == "/measurement_subset" || key.rfind("/tw_steps/", 0) == 0 ||
                        key.rfind("/lag_steps/", 0) == 0)
                << key;
        }
    }
    EXPECT_EQ(flags.size(), 41u); // net_quench's training flags (docs/cli.md)
}

// A checkpoint whose configuration names an unknown choice is refused in one line.
TEST(net_options, checkpoint_with_an_unknown_choice_is_refused) {
    checkpoint c;
    c.tool = "net_quench";
    nlohmann::json j = options_json(quench_options{});
    j["device"] = "tpu";
    c.config = j.dump();
    EXPECT_THROW((void)options_from_checkpoint(c), record_error);
}

/// The key of the field_error that `f` throws ("" when it throws none, "?" for another error).
template <class F>
std::string key_thrown(F&& f) {
    try {
        f();
    } catch (const field_error& e) {
        return e.key();
    } catch (...) {
        return "?";
    }
    return {};
}

void random_data(quench_options& o) { o.dataset = dataset_kind::random; }
void with_hessian(quench_options& o) { o.hessian = true; }

bool is_table_key(const std::string& key) {
    for (const auto& f : quench_options_fields())
        if (f.key == "/" + key) return true;
    return false;
}

// Issue 12 §5: library messages name fields. Each bad option is a field_error whose key is the
// option's key in quench_options_fields() (so net_quench can print the flag), and what() starts
// with that key.
TEST(net_options, validation_errors_carry_the_field_key) {
    struct bad_case {
        void (*spoil)(quench_options&);
        const char* key;
        void (*base)(quench_options&) = [](quench_options&) {}; // the options spoilt: toy_synthetic_options, then this
    };
    for (const auto& [spoil, key, base] : {
             bad_case{[](quench_options& o) { o.steps = 0; }, "steps"},
             bad_case{[](quench_options& o) { o.steps = std::int64_t{1} << 62; }, "steps"},
             bad_case{[](quench_options& o) { o.noise_samples = 0; }, "noise_samples"},
             bad_case{[](quench_options& o) { o.eval_samples = 0; }, "eval_samples"},
             bad_case{[](quench_options& o) { o.lr = 0; }, "lr"},
             bad_case{[](quench_options& o) { o.momentum = 1; }, "momentum"},
             bad_case{[](quench_options& o) { o.temperature = -1; }, "T"},
             bad_case{[](quench_options& o) { o.hidden = 0; }, "hidden"},
             bad_case{[](quench_options& o) { o.points_per_decade = 0; }, "points_per_decade"},
             bad_case{[](quench_options& o) { o.tw_per_decade = 0; }, "tw_per_decade"},
             bad_case{[](quench_options& o) { o.tw_first = 0; }, "tw_first"},
             // issue 15's options and combinations
             bad_case{[](quench_options& o) { o.batch = -1; }, "batch"},
             bad_case{[](quench_options& o) { o.depth = 0; }, "depth"},
             bad_case{[](quench_options& o) { o.width = 0; }, "width"},
             bad_case{[](quench_options& o) { o.stop_loss = -1; }, "stop_loss"},
             bad_case{[](quench_options& o) { o.optimizer = optimizer_kind::adam; }, "optimizer"}, // momentum 0.9
             bad_case{[](quench_options& o) { o.loss = loss_kind::hinge2; }, "loss"},              // 10 classes
             bad_case{[](quench_options& o) { o.loss = loss_kind::hinge2; }, "loss", random_data},
             bad_case{[](quench_options& o) { o.labels = label_kind::parity; }, "labels", random_data},
             bad_case{[](quench_options& o) { o.model = model_kind::smallnet; }, "model", random_data},
             bad_case{[](quench_options& o) { o.random.input_dim = 0; }, "random/input_dim", random_data},
             bad_case{[](quench_options& o) { o.random.train_count = 0; }, "random/train_size", random_data},
             bad_case{[](quench_options& o) { o.synthetic.channels = 0; }, "synthetic/channels"},
             // issue 13's Hessian options (checked only with hessian)
             bad_case{[](quench_options& o) { o.hessian_top = 0; }, "hessian_top", with_hessian},
             bad_case{[](quench_options& o) { o.hessian_samples = 0; }, "hessian_samples", with_hessian},
             bad_case{[](quench_options& o) { o.flat_epsilon = 0; }, "flat_epsilon", with_hessian},
             bad_case{[](quench_options& o) { o.flat_epsilon = std::nan(""); }, "flat_epsilon", with_hessian},
             bad_case{[](quench_options& o) { o.hessian_trace_vectors = 0; }, "hessian_trace_vectors", with_hessian},
             bad_case{[](quench_options& o) { o.hessian_slq_steps = 0; }, "hessian_slq_steps", with_hessian},
             bad_case{[](quench_options& o) { o.hessian_slq_vectors = 0; }, "hessian_slq_vectors", with_hessian},
         }) {
        quench_options o = toy_synthetic_options();
        base(o);
        EXPECT_EQ(key_thrown([&] { validate(o); }), "") << key;
        spoil(o);
        EXPECT_EQ(key_thrown([&] { validate(o); }), key);
        EXPECT_TRUE(is_table_key(key)) << key;
    }
    // The parsers of the choices, and the synthetic sizes (checked where the data are made).
    EXPECT_EQ(key_thrown([] { (void)parse_model_kind("lenet"); }), "model");
    EXPECT_EQ(key_thrown([] { (void)parse_dataset_kind("imagenet"); }), "dataset");
    EXPECT_EQ(key_thrown([] { (void)parse_device_kind("tpu"); }), "device");
    EXPECT_EQ(key_thrown([] { (void)parse_dtype_kind("float16"); }), "dtype");
    EXPECT_EQ(key_thrown([] { (void)parse_noise_method_flag("fast"); }), "noise_method");
    EXPECT_EQ(key_thrown([] { (void)parse_noise_method("loop"); }), "noise_method");
    EXPECT_EQ(key_thrown([] { (void)parse_loss_kind("hinge1"); }), "loss");
    EXPECT_EQ(key_thrown([] { (void)parse_label_kind("odd"); }), "labels");
    EXPECT_EQ(key_thrown([] { (void)parse_optimizer_kind("rmsprop"); }), "optimizer");
    for (const std::string key : {"train_count", "test_count", "channels", "height", "width", "classes", "noise"}) {
        synthetic_options so;
        so.train_count = key == "train_count" ? 0 : so.train_count;
        so.test_count = key == "test_count" ? 0 : so.test_count;
        so.channels = key == "channels" ? 0 : so.channels;
        so.height = key == "height" ? 0 : so.height;
        so.width = key == "width" ? 0 : so.width;
        so.classes = key == "classes" ? 1 : so.classes;
        so.noise = key == "noise" ? -1 : so.noise;
        EXPECT_EQ(key_thrown([&] { (void)make_synthetic(so); }), "synthetic/" + key);
        EXPECT_TRUE(is_table_key("synthetic/" + key)) << key;
    }
    // What needs the data or the model is checked by quench's constructor (256 training images,
    // M = 3 * 8 * 8 * 7 + 7 + 7 * 10 + 10 weights), with the field's key too.
    for (const auto& [spoil, key, base] : {
             bad_case{[](quench_options& o) { o.batch = 257; }, "batch"},
             bad_case{[](quench_options& o) { o.hessian_top = 100'000; }, "hessian_top", with_hessian},
             bad_case{[](quench_options& o) { o.hessian_samples = 257; }, "hessian_samples", with_hessian},
         }) {
        quench_options o = toy_synthetic_options();
        base(o);
        spoil(o);
        EXPECT_EQ(key_thrown([&] { validate(o); }), "") << key;
        EXPECT_EQ(key_thrown([&] { quench q(o); }), key);
    }
    try {
        quench_options o;
        o.steps = 0;
        validate(o);
        ADD_FAILURE() << "steps 0 accepted";
    } catch (const field_error& e) {
        EXPECT_EQ(std::string(e.what()), "steps must be >= 1");
    }
}

} // namespace
} // namespace glassy::nets
