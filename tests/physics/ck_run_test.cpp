// Tests of the CK run layer (physics/ck_run.hpp): what run_ck leaves alone.
#include "physics/ck_run.hpp"

#include <gtest/gtest.h>
#include <omp.h>

namespace glassy {
namespace {

// The thread count is the app's choice (issue 12, point 6): run_ck records ck_parameters::threads
// but never changes the process-wide OpenMP setting.
TEST(ck_run, leaves_the_openmp_thread_count_alone) {
    const int before = omp_get_max_threads();
    omp_set_num_threads(3);
    ck_parameters p;
    p.scheme = "reference";
    p.tmax = 1.0;
    p.dt = 0.1;
    p.threads = 2;
    const record rec = run_ck(p);
    EXPECT_EQ(omp_get_max_threads(), 3);
    EXPECT_EQ(rec.parameters.at("threads"), 2);
    omp_set_num_threads(before);
}

} // namespace
} // namespace glassy
