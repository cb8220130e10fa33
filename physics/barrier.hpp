#pragma once
/// @file The p-spin's path for barrier measurements (pspin_quench --barrier, issue 14): the great
/// circle on the sphere |sigma|^2 = N between two configurations, and the energy per spin along it.
#include "physics/pspin.hpp"

#include <Eigen/Core>

#include <vector>

namespace glassy {

/// The point at fraction alpha in [0, 1] of the shorter great circle from a to b on the sphere
/// |sigma|^2 = N (N = a.size(); a and b on that sphere, same size):
///   sigma(alpha) = [sin((1 - alpha) theta) a + sin(alpha theta) b] / sin(theta),
///   cos(theta) = a.b / N (clamped to [-1, 1]),
/// the geodesic at constant speed theta sqrt(N) (spherical linear interpolation). alpha = 0 and
/// 1 give a and b exactly; theta = 0 (b = a) gives a. Antipodal ends (theta = pi) have no unique
/// great circle: the formula is used as is (it divides by sin(theta) ~ 1e-16); check before.
/// Throws parameter_error when the sizes differ.
[[nodiscard]] Eigen::VectorXd great_circle_point(const Eigen::VectorXd& a, const Eigen::VectorXd& b, double alpha);

/// The energy per spin H(sigma(alpha)) / N at each alpha (great_circle_point), as a row
/// [alphas.size()] (pspin_model::energy; /barrier/energy). Throws as great_circle_point.
[[nodiscard]] Eigen::RowVectorXd great_circle_energies(const pspin_model& model, const Eigen::VectorXd& a,
                                                       const Eigen::VectorXd& b, const std::vector<double>& alphas);

} // namespace glassy
