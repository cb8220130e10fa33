// One call into each installed glassy library; prints what it checked and exits 1 on a wrong
// result. Headers are included as in the source tree ("physics/pspin.hpp").
#include "analysis/fit.hpp"
#include "dynamics/schedule.hpp"
#include "physics/pspin.hpp"
#ifdef GLASSY_CONSUMER_NETS
#include "nets/models.hpp"
#endif

#include <cmath>
#include <cstdio>
#include <vector>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
    std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) ++failures;
}

} // namespace

int main() {
    // dynamics: a linear schedule 0, 10, ..., 100 holds 11 steps, the last one 100.
    const auto sched = glassy::schedule::linear(100, 10);
    expect(sched.steps().size() == 11 && sched.steps().back() == 100, "dynamics: schedule::linear(100, 10)");

    // physics: H is a homogeneous polynomial of odd degree p = 3, so H(-sigma) = -H(sigma)
    // exactly (the same products with every sign flipped); |sigma|^2 = N.
    const glassy::pspin_model model(16, 3, 42);
    const Eigen::VectorXd sigma = Eigen::VectorXd::Ones(16);
    const double h = model.energy(sigma);
    expect(std::isfinite(h) && h != 0.0 && model.energy(-sigma) == -h, "physics: pspin_model::energy odd in sigma");

    // analysis: the least-squares line through (0, 1), (1, 3), (2, 5) is y = 1 + 2x.
    const auto fit = glassy::fit_line({0.0, 1.0, 2.0}, {1.0, 3.0, 5.0});
    expect(std::abs(fit.slope - 2.0) < 1e-12 && std::abs(fit.intercept - 1.0) < 1e-12, "analysis: fit_line");

#ifdef GLASSY_CONSUMER_NETS
    // nets: model names round-trip through the parser.
    using glassy::nets::model_kind;
    expect(glassy::nets::parse_model_kind(glassy::nets::to_string(model_kind::resnet18)) == model_kind::resnet18,
           "nets: parse_model_kind(to_string(resnet18))");
#endif
    return failures == 0 ? 0 : 1;
}
