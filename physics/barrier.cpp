#include "physics/barrier.hpp"

#include "dynamics/error.hpp"

#include <algorithm>
#include <cmath>

namespace glassy {

Eigen::VectorXd great_circle_point(const Eigen::VectorXd& a, const Eigen::VectorXd& b, double alpha) {
    if (a.size() != b.size()) throw parameter_error("great_circle_point: the two configurations differ in size");
    const double n = static_cast<double>(a.size());
    const double theta = std::acos(std::clamp(a.dot(b) / n, -1.0, 1.0));
    if (alpha == 0.0 || theta == 0.0) return a;
    if (alpha == 1.0) return b;
    const double s = std::sin(theta);
    return (std::sin((1.0 - alpha) * theta) / s) * a + (std::sin(alpha * theta) / s) * b;
}

Eigen::RowVectorXd great_circle_energies(const pspin_model& model, const Eigen::VectorXd& a, const Eigen::VectorXd& b,
                                         const std::vector<double>& alphas) {
    Eigen::RowVectorXd e(static_cast<Eigen::Index>(alphas.size()));
    for (std::size_t k = 0; k < alphas.size(); ++k)
        e(static_cast<Eigen::Index>(k)) = model.energy(great_circle_point(a, b, alphas[k])) / model.size();
    return e;
}

} // namespace glassy
