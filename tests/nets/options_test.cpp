// The options JSON of net_quench (the checkpoint's configuration and the basis of the record's
// `parameters`), byte for byte: the literals below were written by the code before the field
// tables (issue 12, point 5) and must never change. Also: a checkpoint's configuration reads
// back into the same options.
#include "nets/quench.hpp"

#include <gtest/gtest.h>

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

TEST(net_options, checkpoint_config_reads_back) {
    for (const auto& o : {quench_options{}, toy_synthetic_options()}) {
        checkpoint c;
        c.tool = "net_quench";
        c.config = options_json(o).dump();
        EXPECT_EQ(options_json(options_from_checkpoint(c)).dump(), c.config);
    }
}

} // namespace
} // namespace glassy::nets
