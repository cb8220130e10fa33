#pragma once
/// @file Steppers on the sphere |sigma|^2 = N for gradient systems with an Eigen state: Langevin
/// (Euler–Maruyama and stochastic Heun) and Metropolis rotations. Each advances one state, or
/// the R replicas of one model held by a `replicas` system, with the same arithmetic: in the
/// manner of odeint's stochastic_euler, the stepper does the arithmetic, `tangent_drift`
/// supplies the drift and `gaussian_noise` the noise (one stream per replica).
#include "dynamics/checkpoint.hpp"
#include "dynamics/concepts.hpp"
#include "dynamics/error.hpp"
#include "physics/pspin.hpp"

#include <Eigen/Core>

#include <cmath>
#include <cstdint>
#include <numbers>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace glassy {

/// R replicas of one model: R states sharing its couplings (disorder), each with its own initial
/// condition and noise. The system a batched run hands to integrate(); replica r is x[r].
template <class Model>
struct replicas {
    using state_type = std::vector<typename Model::state_type>; ///< R states, R >= 1
    const Model* model;                                         ///< not owned
};

/// A gradient system that also takes the gradients of R states in one call, as
/// pspin_model::gradient_batch: x is N x R (column r = state r), g receives dH/dx column by
/// column, the R total energies are returned.
template <class S>
concept batch_gradient_system =
    gradient_system<S> && requires(const S& s, const Eigen::MatrixXd& x, Eigen::MatrixXd& g) {
        { s.gradient_batch(x, g) } -> std::convertible_to<Eigen::VectorXd>;
    };

/// Packs R states of equal size as the columns of an N x R matrix.
inline void pack_columns(std::span<const Eigen::VectorXd> x, Eigen::MatrixXd& m) {
    m.resize(x.front().size(), static_cast<Eigen::Index>(x.size()));
    for (std::size_t r = 0; r < x.size(); ++r) m.col(static_cast<Eigen::Index>(r)) = x[r];
}

/// Total energies H(x_r) of the R replicas (not per spin): one batched gradient when the model
/// has one and R > 1, gradient() of the one state when R = 1 (the same bits).
template <gradient_system Model>
[[nodiscard]] Eigen::VectorXd replica_energies(const replicas<Model>& sys, const std::vector<Eigen::VectorXd>& x) {
    Eigen::MatrixXd packed, grads;
    pack_columns(x, packed);
    if constexpr (batch_gradient_system<Model>) {
        return sys.model->gradient_batch(packed, grads);
    } else {
        Eigen::VectorXd e(static_cast<Eigen::Index>(x.size())), g;
        for (std::size_t r = 0; r < x.size(); ++r) e[static_cast<Eigen::Index>(r)] = sys.model->gradient(x[r], g);
        return e;
    }
}

/// The drift of Langevin dynamics on the sphere: for each state x_r the tangent force
/// F_r = -(grad H(x_r) - (x_r . grad H(x_r) / N) x_r), i.e. minus the gradient with its radial
/// part removed (units of the model's energy per unit of x). For R > 1 states of a
/// batch_gradient_system all gradients come from one batched call; otherwise gradient() per
/// state (R = 1: the same bits as a batched call with one column). Holds scratch buffers only.
class tangent_drift {
public:
    /// Writes F_r into f[r] (f resized to R = x.size() >= 1).
    template <gradient_system S>
    void operator()(const S& sys, std::span<const Eigen::VectorXd> x, std::vector<Eigen::VectorXd>& f) {
        f.resize(x.size());
        if constexpr (batch_gradient_system<S>) {
            if (x.size() > 1) {
                pack_columns(x, m_packed);
                sys.gradient_batch(m_packed, m_grads);
                for (std::size_t r = 0; r < x.size(); ++r) {
                    m_grad = m_grads.col(static_cast<Eigen::Index>(r));
                    tangent(x[r], m_grad, f[r]);
                }
                return;
            }
        }
        for (std::size_t r = 0; r < x.size(); ++r) {
            sys.gradient(x[r], m_grad);
            tangent(x[r], m_grad, f[r]);
        }
    }

private:
    static void tangent(const Eigen::VectorXd& x, const Eigen::VectorXd& g, Eigen::VectorXd& f) {
        const double radial = x.dot(g) / static_cast<double>(x.size());
        f = -(g - radial * x);
    }

    Eigen::MatrixXd m_packed, m_grads;
    Eigen::VectorXd m_grad;
};

/// The noise of Langevin dynamics: R independent streams (std::mt19937_64 and a standard normal
/// distribution each), stream r drawing the increments of replica r.
class gaussian_noise {
public:
    /// One stream per seed.
    explicit gaussian_noise(const std::vector<std::uint64_t>& seeds)
        : m_rng(seeds.begin(), seeds.end()), m_normal(seeds.size()) {}

    /// Number of streams R.
    [[nodiscard]] std::size_t size() const noexcept { return m_rng.size(); }
    /// Stream r.
    [[nodiscard]] std::mt19937_64& rng(std::size_t r) { return m_rng.at(r); }
    /// xi[r] = amplitude * (n i.i.d. standard normals from stream r), for r < size(); zero
    /// (no draws) when amplitude is 0.
    void draw(double amplitude, Eigen::Index n, std::vector<Eigen::VectorXd>& xi) {
        xi.resize(m_rng.size());
        for (std::size_t r = 0; r < m_rng.size(); ++r) {
            xi[r].resize(n);
            if (amplitude > 0)
                for (Eigen::Index i = 0; i < n; ++i) xi[r][i] = amplitude * m_normal[r](m_rng[r]);
            else xi[r].setZero();
        }
    }
    /// Text state of stream r (generator and Gaussian cache), for checkpoints.
    [[nodiscard]] std::string state(std::size_t r) const {
        return to_state_string(m_rng.at(r)) + " " + to_state_string(m_normal.at(r));
    }
    /// Restores what state(r) returned; throws glassy::error on corrupt text.
    void restore(std::size_t r, const std::string& text) {
        std::istringstream in(text);
        in >> m_rng.at(r) >> m_normal.at(r);
        if (in.fail()) throw error("langevin: corrupt generator state in checkpoint");
    }

private:
    std::vector<std::mt19937_64> m_rng;
    std::vector<std::normal_distribution<double>> m_normal;
};

/// Langevin dynamics on the sphere, d sigma/dt = -grad H - mu(t) sigma + eta,
/// <eta_i(t) eta_j(t')> = 2 T delta_ij delta(t - t'). Each step moves along the tangent force
/// F (tangent_drift) plus Gaussian noise sqrt(2 T dt) xi (gaussian_noise) and is then
/// projected back onto the sphere, so |sigma|^2 = N holds to rounding after every step and
/// the Lagrange multiplier mu(t) = T - p e(t) is enforced implicitly.
/// scheme::euler is Euler–Maruyama (weak order 1); scheme::heun is the stochastic Heun
/// predictor–corrector (same noise in both stages), which is second order in dt for the
/// drift and removes most of the O(dt) bias of e(t) at equal dt (two gradients a step).
/// Steps one state (a gradient_system with an Eigen::VectorXd state) or the R replicas of a
/// `replicas` system, replica r with noise stream r; the arithmetic per replica is the same,
/// so replica r of a batch is, up to the summation order of a batched gradient (R > 1), the
/// one-state run with seed r.
class langevin_dynamics {
public:
    enum class scheme { euler, heun };

    /// T >= 0 temperature, dt > 0 time step (units of the model's time), one seed per replica
    /// (R = seeds.size() >= 1); throws parameter_error.
    langevin_dynamics(double temperature, double dt, scheme s, const std::vector<std::uint64_t>& seeds)
        : m_t(temperature), m_dt(dt), m_scheme(s), m_noise(seeds) {
        if (!(temperature >= 0) || !std::isfinite(temperature)) throw parameter_error("langevin: T must be >= 0");
        if (!(dt > 0) || !std::isfinite(dt)) throw parameter_error("langevin: dt must be > 0");
        if (seeds.empty()) throw parameter_error("langevin: needs one seed per replica (got none)");
    }
    /// One state (R = 1).
    langevin_dynamics(double temperature, double dt, scheme s, std::uint64_t seed)
        : langevin_dynamics(temperature, dt, s, std::vector<std::uint64_t>{seed}) {}

    [[nodiscard]] double dt() const noexcept { return m_dt; }
    [[nodiscard]] double temperature() const noexcept { return m_t; }
    /// The noise stream of replica r.
    [[nodiscard]] std::mt19937_64& rng(std::size_t r = 0) { return m_noise.rng(r); }
    /// Text state of the noise stream of replica r (generator and Gaussian cache), for checkpoints.
    [[nodiscard]] std::string state(std::size_t r = 0) const { return m_noise.state(r); }
    /// Restores what state(r) returned; throws glassy::error on corrupt text.
    void restore(const std::string& text) { m_noise.restore(0, text); }
    void restore(std::size_t r, const std::string& text) { m_noise.restore(r, text); }

    /// One step of one state (R = 1).
    template <gradient_system S>
        requires std::same_as<typename S::state_type, Eigen::VectorXd>
    void step(const S& sys, Eigen::VectorXd& sigma) {
        advance(sys, std::span<Eigen::VectorXd>(&sigma, 1));
    }
    /// One step of every replica; throws parameter_error unless x holds R states.
    template <gradient_system Model>
        requires std::same_as<typename Model::state_type, Eigen::VectorXd>
    void step(const replicas<Model>& sys, std::vector<Eigen::VectorXd>& x) {
        if (x.size() != m_noise.size())
            throw parameter_error("langevin: the state does not hold one vector per replica");
        advance(*sys.model, std::span<Eigen::VectorXd>(x));
    }

private:
    template <class S>
    void advance(const S& sys, std::span<Eigen::VectorXd> x) {
        m_noise.draw(std::sqrt(2.0 * m_t * m_dt), x.front().size(), m_xi);
        m_drift(sys, x, m_f1);
        if (m_scheme == scheme::euler) {
            for (std::size_t r = 0; r < x.size(); ++r) {
                x[r] += m_dt * m_f1[r] + m_xi[r];
                normalize_to_sphere(x[r]);
            }
            return;
        }
        m_pred.resize(x.size());
        for (std::size_t r = 0; r < x.size(); ++r) {
            m_pred[r] = x[r] + m_dt * m_f1[r] + m_xi[r];
            normalize_to_sphere(m_pred[r]);
        }
        m_drift(sys, m_pred, m_f2);
        for (std::size_t r = 0; r < x.size(); ++r) {
            x[r] += 0.5 * m_dt * (m_f1[r] + m_f2[r]) + m_xi[r];
            normalize_to_sphere(x[r]);
        }
    }

    double m_t;
    double m_dt;
    scheme m_scheme;
    gaussian_noise m_noise;
    tangent_drift m_drift;
    std::vector<Eigen::VectorXd> m_xi, m_f1, m_f2, m_pred;
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
/// Time is counted in sweeps (dt() = 1). Steps one state or the R replicas of a `replicas`
/// system one after another, replica r with its own generator and acceptance counters.
class metropolis_dynamics {
public:
    /// T >= 0, theta_max in (0, pi], one seed per replica (R = seeds.size() >= 1); throws
    /// parameter_error.
    metropolis_dynamics(double temperature, double theta_max, const std::vector<std::uint64_t>& seeds)
        : m_t(temperature), m_theta(theta_max), m_chains(seeds.begin(), seeds.end()) {
        if (!(temperature >= 0) || !std::isfinite(temperature)) throw parameter_error("metropolis: T must be >= 0");
        if (!(theta_max > 0) || theta_max > std::numbers::pi)
            throw parameter_error("metropolis: theta_max must be in (0, pi]");
        if (seeds.empty()) throw parameter_error("metropolis: needs one seed per replica (got none)");
    }
    /// One state (R = 1).
    metropolis_dynamics(double temperature, double theta_max, std::uint64_t seed)
        : metropolis_dynamics(temperature, theta_max, std::vector<std::uint64_t>{seed}) {}

    [[nodiscard]] double dt() const noexcept { return 1.0; }
    /// The generator of replica r.
    [[nodiscard]] std::mt19937_64& rng(std::size_t r = 0) { return m_chains.at(r).rng; }
    /// Text state of replica r (generator and acceptance counters), for checkpoints.
    [[nodiscard]] std::string state(std::size_t r = 0) const {
        const chain& c = m_chains.at(r);
        return to_state_string(c.rng) + " " + std::to_string(c.proposed) + " " + std::to_string(c.accepted);
    }
    /// Restores what state(r) returned; throws glassy::error on corrupt text.
    void restore(const std::string& text) { restore(0, text); }
    void restore(std::size_t r, const std::string& text) {
        chain& c = m_chains.at(r);
        std::istringstream in(text);
        in >> c.rng >> c.proposed >> c.accepted;
        if (in.fail()) throw error("metropolis: corrupt generator state in checkpoint");
    }
    /// Accepted / proposed moves of replica r since construction (0 before the first sweep).
    [[nodiscard]] double acceptance(std::size_t r = 0) const {
        const chain& c = m_chains.at(r);
        return c.proposed ? static_cast<double>(c.accepted) / static_cast<double>(c.proposed) : 0.0;
    }

    /// One sweep of one state (R = 1).
    template <rotation_system S>
        requires std::same_as<typename S::state_type, Eigen::VectorXd>
    void step(const S& sys, Eigen::VectorXd& sigma) {
        sweep(m_chains.front(), sys, sigma);
    }
    /// One sweep of every replica, in replica order; throws parameter_error unless x holds R states.
    template <rotation_system Model>
        requires std::same_as<typename Model::state_type, Eigen::VectorXd>
    void step(const replicas<Model>& sys, std::vector<Eigen::VectorXd>& x) {
        if (x.size() != m_chains.size())
            throw parameter_error("metropolis: the state does not hold one vector per replica");
        for (std::size_t r = 0; r < x.size(); ++r) sweep(m_chains[r], *sys.model, x[r]);
    }

private:
    struct chain {
        explicit chain(std::uint64_t seed) : rng(seed) {}
        std::mt19937_64 rng;
        std::uint64_t proposed = 0, accepted = 0;
    };

    template <class S>
    void sweep(chain& c, const S& sys, Eigen::VectorXd& sigma) const {
        const int n = static_cast<int>(sigma.size());
        std::uniform_int_distribution<int> pick(0, n - 1), pick_other(0, n - 2);
        std::uniform_real_distribution<double> angle(-m_theta, m_theta), unit(0.0, 1.0);
        for (int move = 0; move < n; ++move) {
            const int i = pick(c.rng);
            int j = pick_other(c.rng);
            if (j >= i) ++j;
            const double th = angle(c.rng);
            const double cs = std::cos(th), sn = std::sin(th);
            const double de = sys.rotation_delta(sigma, i, j, cs, sn);
            const double u = unit(c.rng);
            ++c.proposed;
            if (de <= 0 || (m_t > 0 && u < std::exp(-de / m_t))) {
                const double si = sigma[i], sj = sigma[j];
                sigma[i] = cs * si + sn * sj;
                sigma[j] = -sn * si + cs * sj;
                ++c.accepted;
            }
        }
        normalize_to_sphere(sigma);
    }

    double m_t;
    double m_theta;
    std::vector<chain> m_chains;
};

} // namespace glassy
