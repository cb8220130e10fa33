#pragma once
/// @file Dynamics on the sphere |sigma|^2 = N for gradient systems with an Eigen state:
/// Langevin (Euler–Maruyama and stochastic Heun) and Metropolis rotations.
#include "dynamics/checkpoint.hpp"
#include "dynamics/concepts.hpp"
#include "dynamics/error.hpp"
#include "physics/pspin.hpp"

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>

namespace glassy {

/// Langevin dynamics on the sphere, d sigma/dt = -grad H - mu(t) sigma + eta,
/// <eta_i(t) eta_j(t')> = 2 T delta_ij delta(t - t'). Each step moves along the tangent force
/// F = -(grad H - (sigma.grad H / N) sigma) plus Gaussian noise sqrt(2 T dt) xi and is then
/// projected back onto the sphere, so |sigma|^2 = N holds to rounding after every step and
/// the Lagrange multiplier mu(t) = T - p e(t) is enforced implicitly.
/// scheme::euler is Euler–Maruyama (weak order 1); scheme::heun is the stochastic Heun
/// predictor–corrector (same noise in both stages), which is second order in dt for the
/// drift and removes most of the O(dt) bias of e(t) at equal dt (two gradients a step).
class langevin_dynamics {
public:
    enum class scheme { euler, heun };

    /// T >= 0 temperature, dt > 0 time step (units of the model's time); throws parameter_error.
    langevin_dynamics(double temperature, double dt, scheme s, std::uint64_t seed)
        : m_t(temperature), m_dt(dt), m_scheme(s), m_rng(seed) {
        if (!(temperature >= 0) || !std::isfinite(temperature)) throw parameter_error("langevin: T must be >= 0");
        if (!(dt > 0) || !std::isfinite(dt)) throw parameter_error("langevin: dt must be > 0");
    }

    [[nodiscard]] double dt() const noexcept { return m_dt; }
    [[nodiscard]] double temperature() const noexcept { return m_t; }
    /// The noise stream.
    [[nodiscard]] std::mt19937_64& rng() noexcept { return m_rng; }
    /// Text state of the noise stream (generator and Gaussian cache), for checkpoints.
    [[nodiscard]] std::string state() const { return to_state_string(m_rng) + " " + to_state_string(m_normal); }
    /// Restores what state() returned.
    void restore(const std::string& text) {
        std::istringstream in(text);
        in >> m_rng >> m_normal;
        if (in.fail()) throw error("langevin: corrupt generator state in checkpoint");
    }

    template <gradient_system S>
        requires std::same_as<typename S::state_type, Eigen::VectorXd>
    void step(const S& sys, Eigen::VectorXd& sigma) {
        const auto n = sigma.size();
        m_noise.resize(n);
        const double amp = std::sqrt(2.0 * m_t * m_dt);
        if (amp > 0)
            for (Eigen::Index i = 0; i < n; ++i) m_noise[i] = amp * m_normal(m_rng);
        else
            m_noise.setZero();
        tangent_force(sys, sigma, m_f1);
        if (m_scheme == scheme::euler) {
            sigma += m_dt * m_f1 + m_noise;
        } else {
            m_pred = sigma + m_dt * m_f1 + m_noise;
            normalize_to_sphere(m_pred);
            tangent_force(sys, m_pred, m_f2);
            sigma += 0.5 * m_dt * (m_f1 + m_f2) + m_noise;
        }
        normalize_to_sphere(sigma);
    }

private:
    template <class S>
    void tangent_force(const S& sys, const Eigen::VectorXd& sigma, Eigen::VectorXd& f) {
        sys.gradient(sigma, m_grad);
        const double radial = sigma.dot(m_grad) / static_cast<double>(sigma.size());
        f = -(m_grad - radial * sigma);
    }

    double m_t;
    double m_dt;
    scheme m_scheme;
    std::mt19937_64 m_rng;
    std::normal_distribution<double> m_normal;
    Eigen::VectorXd m_noise, m_grad, m_f1, m_f2, m_pred;
};

/// A system that can price a rotation of two coordinates (used by Metropolis).
template <class S>
concept rotation_system = system<S> && requires(const S& s, const typename S::state_type& x, int i, double c) {
    { s.rotation_delta(x, i, i, c, c) } -> std::convertible_to<double>;
};

/// Metropolis Monte Carlo on the sphere. One step is one sweep of N proposals; each proposal
/// rotates a random pair (i, j) of coordinates by an angle uniform in [-theta_max, theta_max],
/// which keeps |sigma|^2 = N exactly (the sweep ends with a renormalisation that only removes
/// rounding). Accepted with probability min(1, exp(-dE/T)) (T = 0: only dE <= 0).
/// Time is counted in sweeps (dt() = 1).
class metropolis_dynamics {
public:
    metropolis_dynamics(double temperature, double theta_max, std::uint64_t seed)
        : m_t(temperature), m_theta(theta_max), m_rng(seed) {
        if (!(temperature >= 0) || !std::isfinite(temperature)) throw parameter_error("metropolis: T must be >= 0");
        if (!(theta_max > 0) || theta_max > std::numbers::pi) throw parameter_error("metropolis: theta_max must be in (0, pi]");
    }
    [[nodiscard]] double dt() const noexcept { return 1.0; }
    [[nodiscard]] std::mt19937_64& rng() noexcept { return m_rng; }
    /// Text state (generator and acceptance counters), for checkpoints.
    [[nodiscard]] std::string state() const {
        return to_state_string(m_rng) + " " + std::to_string(m_proposed) + " " + std::to_string(m_accepted);
    }
    /// Restores what state() returned.
    void restore(const std::string& text) {
        std::istringstream in(text);
        in >> m_rng >> m_proposed >> m_accepted;
        if (in.fail()) throw error("metropolis: corrupt generator state in checkpoint");
    }
    /// Accepted / proposed moves since construction.
    [[nodiscard]] double acceptance() const noexcept {
        return m_proposed ? static_cast<double>(m_accepted) / static_cast<double>(m_proposed) : 0.0;
    }

    template <rotation_system S>
        requires std::same_as<typename S::state_type, Eigen::VectorXd>
    void step(const S& sys, Eigen::VectorXd& sigma) {
        const int n = static_cast<int>(sigma.size());
        std::uniform_int_distribution<int> pick(0, n - 1), pick_other(0, n - 2);
        std::uniform_real_distribution<double> angle(-m_theta, m_theta), unit(0.0, 1.0);
        for (int move = 0; move < n; ++move) {
            const int i = pick(m_rng);
            int j = pick_other(m_rng);
            if (j >= i) ++j;
            const double th = angle(m_rng);
            const double c = std::cos(th), s = std::sin(th);
            const double de = sys.rotation_delta(sigma, i, j, c, s);
            const double u = unit(m_rng);
            ++m_proposed;
            if (de <= 0 || (m_t > 0 && u < std::exp(-de / m_t))) {
                const double si = sigma[i], sj = sigma[j];
                sigma[i] = c * si + s * sj;
                sigma[j] = -s * si + c * sj;
                ++m_accepted;
            }
        }
        normalize_to_sphere(sigma);
    }

private:
    double m_t;
    double m_theta;
    std::mt19937_64 m_rng;
    std::uint64_t m_proposed = 0, m_accepted = 0;
};

} // namespace glassy
