#pragma once
/// @file The N = infinity spherical p-spin: the Cugliandolo–Kurchan (CK) equations for the
/// correlation C(t,t') = (1/N) sigma(t).sigma(t') and the response R(t,t') after a quench at
/// t = 0 from temperature T0 (T0 = infinity: a uniformly random start) to temperature T
/// (docs/ck.md gives the equations as implemented). Time is the Langevin time of
/// design.md section 5 (unit friction), energies are per spin.
///
/// Pieces, in the System / Dynamics / Observer design of dynamics/concepts.hpp:
/// - ck_mixture: the covariance function f(q) = sum_p c_p q^p / 2;
/// - ck_system: the model (f, T, T0); its state_type is ck_state, the two-time grids;
/// - ck_reference: second-order Heun (Boost.Odeint explicit_generic_rk) on a uniform grid with
///   trapezoidal memory integrals, the full triangle stored; cost grows like t^3;
/// - ck_decimation: the Kim–Latz time-doubling scheme (fixed number of grid points, the step
///   doubles whenever the grid is full); cost grows like log t;
/// - equilibrium_correlation: the one-time mode-coupling equation above T_d.
#include "dynamics/concepts.hpp"

#include <concepts>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace glassy {

/// The covariance function f(q) = sum_p c_p q^p / 2 of a (mixed) spherical p-spin model:
/// E[H(s)H(s')] = N f(s.s'/N). Pure p-spin: the single term (p, 1).
class ck_mixture {
public:
    /// Parses "p:c,p:c,..." (e.g. "3:1" or "3:1,4:1"); a bare "p" means c_p = 1. Throws
    /// parameter_error unless every p is an integer >= 2, every c_p >= 0 and finite, and some
    /// c_p > 0.
    static ck_mixture parse(const std::string& text);
    /// The pure p-spin, f(q) = q^p / 2.
    static ck_mixture pure(int p);

    [[nodiscard]] double f(double q) const noexcept;  ///< f(q)
    [[nodiscard]] double f1(double q) const noexcept; ///< f'(q)
    [[nodiscard]] double f2(double q) const noexcept; ///< f''(q)
    /// p when the model is a pure p-spin, 0 for a mixture.
    [[nodiscard]] int pure_p() const noexcept;
    /// The (p, c_p) terms, p increasing.
    [[nodiscard]] const std::vector<std::pair<int, double>>& terms() const noexcept { return m_terms; }
    /// Canonical text "p:c,..." (round-trips through parse()).
    [[nodiscard]] std::string str() const;

private:
    std::vector<std::pair<int, double>> m_terms;
};

/// The two-time grids of a CK integration. Grid times are t_k = k * h, k = 0..n (the grid is
/// uniform at any moment; the decimation scheme doubles h and halves n when the grid is full).
/// Rows are indexed by the later time: c[i][j] = C(t_i, t_j) for j <= i.
/// The reference integrator fills c and r (R(t_i, t_j)); the decimation scheme fills c and
/// chi (chi(t_i, t_j) = integral_{t_j}^{t_i} R(t_i, s) ds) and the interval moments below.
/// The history vectors hold one entry per row ever computed (the observable time series).
struct ck_state {
    double h = 0.0;                       ///< current grid step
    std::int64_t n = 0;                   ///< index of the newest row
    std::int64_t rows_computed = 0;       ///< rows computed so far (steps taken + 1)
    std::vector<std::vector<double>> c;   ///< C(t_i, t_j), j <= i
    std::vector<std::vector<double>> r;   ///< R(t_i, t_j), j <= i (reference only)
    std::vector<std::vector<double>> chi; ///< chi(t_i, t_j), j <= i (decimation only)
    // Decimation only: averages over the grid interval l = [t_{l-1}, t_l] (l >= 1) of
    // functions of row i ("vertical": s -> F(C(t_i, s))) or of column j ("horizontal":
    // u -> C(u, t_j), stored transposed so that a column is contiguous).
    std::vector<std::vector<double>> cv, xv, f1v, f2v, gv; ///< [i][l]: C, chi, f'(C), f''(C), f''(C)C+f'(C)
    std::vector<std::vector<double>> dx;     ///< [i][l] = chi(t_i,t_{l-1}) - chi(t_i,t_l) = int_l R(t_i,s)ds
    std::vector<std::vector<double>> dq;     ///< [i][l] = dx - (C(t_i,t_l) - C(t_i,t_{l-1}))/T: the FDT-violating part
    std::vector<std::vector<double>> ct, xt; ///< [j][l] = C(t_l, t_j), chi(t_l, t_j), l >= j (columns, contiguous)
    std::vector<std::vector<double>> cht, xht; ///< [j][l], l > j: mean over u in l of C(u,t_j), chi(u,t_j)
    std::vector<double> time;                  ///< time of every row computed, increasing
    std::vector<double> energy;                ///< e(t) per spin at those times
    std::vector<double> mu;                    ///< Lagrange multiplier mu(t) at those times

    /// Time of the newest row.
    [[nodiscard]] double now() const noexcept { return static_cast<double>(n) * h; }
};

/// Calls f(name, member) for every data member of a ck_state, in declaration order: the one list
/// the checkpoints use (ck_run.cpp), so a field added to ck_state must be added here or
/// tests/physics/ck_run_test.cpp fails (it checks that the members visited fill sizeof(ck_state)).
template <class State, class F>
    requires std::same_as<std::remove_const_t<State>, ck_state>
void for_each_field(State& x, F&& f) {
    f("h", x.h), f("n", x.n), f("rows_computed", x.rows_computed), f("c", x.c), f("r", x.r), f("chi", x.chi);
    f("cv", x.cv), f("xv", x.xv), f("f1v", x.f1v), f("f2v", x.f2v), f("gv", x.gv), f("dx", x.dx), f("dq", x.dq);
    f("ct", x.ct), f("xt", x.xt), f("cht", x.cht), f("xht", x.xht), f("time", x.time), f("energy", x.energy),
        f("mu", x.mu);
}

/// The CK model: f, the bath temperature T > 0 (T = 0 allowed) and the initial temperature T0
/// (infinity: start uniformly on the sphere; finite: start in equilibrium at T0, which must be
/// in the paramagnetic phase, T0 > T_d). Satisfies the `system` concept.
class ck_system {
public:
    using state_type = ck_state;
    /// Throws parameter_error for T < 0, T0 <= 0 or non-finite T, and for a finite T0 <= T_d
    /// (dynamical_temperature(mix); the message gives T_d): no paramagnetic equilibrium start.
    ck_system(ck_mixture mix, double T, double T0 = std::numeric_limits<double>::infinity());
    [[nodiscard]] const ck_mixture& mixture() const noexcept { return m_mix; }
    [[nodiscard]] double temperature() const noexcept { return m_T; }
    [[nodiscard]] double initial_temperature() const noexcept { return m_T0; }
    /// 1/T0 (0 for T0 = infinity): the weight of the initial-condition terms.
    [[nodiscard]] double beta0() const noexcept { return m_beta0; }
    /// Energy per spin and mu at t = 0: e = -f(1)/T0, mu = T + f'(1)/T0.
    [[nodiscard]] double initial_energy() const noexcept { return -m_beta0 * m_mix.f(1.0); }
    [[nodiscard]] double initial_mu() const noexcept { return m_T + m_beta0 * m_mix.f1(1.0); }

private:
    ck_mixture m_mix;
    double m_T;
    double m_T0;
    double m_beta0;
};

/// Reference integrator: uniform step h, Heun predictor-corrector (Boost.Odeint
/// explicit_generic_rk with Heun's tableau) on the newest row (C(t,t_j), R(t,t_j))_j, the
/// memory integrals by the trapezoidal rule over the stored triangle. Second order in h.
/// One step adds one row; cost O(n^2) per step, memory O(n^2). OpenMP over the history.
class ck_reference {
public:
    /// h > 0 (throws parameter_error otherwise).
    explicit ck_reference(double h);
    /// The state at t = 0: one row, C(0,0) = R(0^+,0) = 1.
    [[nodiscard]] ck_state initial_state(const ck_system& sys) const;
    /// Adds row n+1 (time advances by h).
    void step(const ck_system& sys, ck_state& x);
    [[nodiscard]] double dt() const noexcept { return m_h; }
    /// Time of the newest row (the driver's clock).
    [[nodiscard]] double time(const ck_state& x) const noexcept { return x.now(); }
    /// Number of steps from t = 0 to the first row with t >= tmax.
    [[nodiscard]] std::int64_t steps_to(double tmax) const;

private:
    double m_h;
};

/// Accuracy and size parameters of the decimation scheme.
struct ck_decimation_options {
    int grid = 512;           ///< N: the grid holds rows 0..N; when full, every second row and
                              ///< column is dropped and the step doubles (even, >= 16)
    int copied = 2;           ///< entries with t - t' <= copied * h are carried over from the previous
                              ///< row (time-translation invariance at short lags), >= 2
    double h0 = 1e-4;         ///< initial step (the first rows are a Taylor expansion)
    double tolerance = 1e-10; ///< fixed-point tolerance of the implicit step (max abs change)
    int max_iterations = 200; ///< per row; past it a change < 1e3 tolerance is accepted, and a row
                              ///< goes on to slow_row_factor x this while it is not; divergence_error then
    /// How far past max_iterations a slowly contracting row may go (>= 1; 1: divergence_error at
    /// max_iterations). 1 for the run itself: slow rows there mark where the grid stops resolving
    /// the dynamics (the 3+4 model at T = 0 from t ~ 6e4 goes on to wrong energies with 10); 10 for
    /// the N/2 grid of the error estimate (run_ck), whose slow rows at T = 0.5 from t ~ 1e7 converge.
    int slow_row_factor = 1;
};

/// Long-time integrator: the time-doubling scheme of Kim & Latz (2001). The two-time grid has
/// N+1 points in each time on [0, t] with uniform step h; rows are computed by an implicit
/// BDF2 step solved by Anderson-accelerated fixed-point iteration. The response measure is
/// split as R ds = dC/T + dQ (FDT part + slow violation part): the FDT part is integrated
/// exactly or by parts against interval averages (moments) of the fast factor, the slow part
/// by products of moments, so no fast variation inside an interval is lost when h grows
/// (docs/ck.md section 3). When the grid is full, points and moments are decimated by two and
/// h doubles. Cost O(N^3) per doubling, i.e. O(N^3 log t); memory O(N^2). OpenMP over the
/// columns of a row.
class ck_decimation {
public:
    /// Throws parameter_error on bad options.
    explicit ck_decimation(ck_decimation_options opt = {});
    /// Rows 0..copied from the short-time expansion, step h0.
    [[nodiscard]] ck_state initial_state(const ck_system& sys) const;
    /// Adds the next row (decimating first when the grid is full).
    void step(const ck_system& sys, ck_state& x);
    /// The initial step (the driver's nominal dt; the clock is time()).
    [[nodiscard]] double dt() const noexcept { return m_opt.h0; }
    [[nodiscard]] double time(const ck_state& x) const noexcept { return x.now(); }
    /// Number of steps from the initial state to the first row with t >= tmax.
    [[nodiscard]] std::int64_t steps_to(double tmax) const;
    [[nodiscard]] const ck_decimation_options& options() const noexcept { return m_opt; }
    /// Iterations used by the last step (diagnostics).
    [[nodiscard]] int last_iterations() const noexcept { return m_last_iterations; }

private:
    struct row;
    struct anderson_history;
    void decimate(ck_state& x, double a) const;
    // The stages of step(), in order (ck.cpp).
    row begin_row(const ck_system& sys, const ck_state& x);
    static void copy_near_diagonal(const row& r, ck_state& x);
    void age_near_diagonal(const ck_system& sys, const row& r, ck_state& x) const;
    static void age_band_moments(const ck_system& sys, const row& r, ck_state& x);
    static void predict(const row& r, ck_state& x);
    double refresh_row(const ck_system& sys, const row& r, ck_state& x);
    double iterate_row(const row& r, const ck_state& x, double mu);
    void anderson_mix(const row& r, ck_state& x, anderson_history& history) const;
    [[nodiscard]] bool converged(const row& r, double change, int it) const;
    void finish_row(const ck_system& sys, const row& r, ck_state& x);

    ck_decimation_options m_opt;
    int m_last_iterations = 0;
    std::vector<double> m_w, m_f1, m_f2, m_g, m_dphi; // scratch, row-sized
    std::vector<double> m_cnew, m_xnew;               // scratch: the iterated solved columns
};

/// Energy per spin of the newest row: e(t) = -int_0^t f'(C(t,s)) R(t,s) ds - f(C(t,0))/T0.
[[nodiscard]] double ck_energy(const ck_system& sys, const ck_state& x);
/// mu(t) of the newest row.
[[nodiscard]] double ck_mu(const ck_system& sys, const ck_state& x);

/// C(ta, tb) for any 0 <= tb <= ta <= now, interpolated quadratically in both times from the
/// grid (exact at grid points). Reliable where ta - tb >= 2h (the kink of C on the diagonal is
/// not interpolated across); throws glassy::error when the times are outside the grid.
[[nodiscard]] double ck_interpolate_c(const ck_state& x, double ta, double tb);

/// C(t + tau, t) from its short-time expansion in the lag (docs/ck.md section 1, "Short lags"):
///   C(t + tau, t) = 1 - T tau + (T mu(t) + de/dt(t)) tau^2 / 2 + O(tau^3),
/// with mu(t) and de/dt(t) from the state's history (quadratic interpolation of x.mu, and the
/// derivative of the quadratic through x.energy, at t). For lags under the grid resolution, where
/// ck_interpolate_c does not apply. Throws glassy::error when t is outside the history.
[[nodiscard]] double ck_short_lag_correlation(const ck_system& sys, const ck_state& x, double t, double tau);

/// chi(t_i, t_j) of the grid: stored (decimation) or the trapezoidal integral of R (reference).
[[nodiscard]] double ck_chi(const ck_state& x, std::int64_t i, std::int64_t j);
/// R(t_i, t_j) of the grid: stored (reference) or, for the decimation scheme, the mean of
/// R(t_i, s) over the two intervals around t_j from chi differences (1 on the diagonal).
[[nodiscard]] double ck_response(const ck_state& x, std::int64_t i, std::int64_t j);

/// Dynamical (mode-coupling) temperature T_d of the model f: the largest T at which the plateau
/// equation of the equilibrium dynamics, f'(q) (1 - q) = T^2 q, has a solution q in (0, 1), i.e.
///   T_d^2 = sup_{0 < q < 1} f'(q) (1 - q) / q   (the q -> 0 limit is f''(0) = c_2).
/// Pure p-spin: T_d^2 = p (p-2)^(p-2) / (2 (p-1)^(p-1)) (p = 3: sqrt(3/8) = 0.612372...);
/// p = 2: T_d = 1 (the continuous transition). Computed by a scan of 4096 points in q and a
/// golden-section refinement of the best one (about 1e-12 relative in T_d^2 for a single maximum).
[[nodiscard]] double dynamical_temperature(const ck_mixture& mix);

/// Threshold energy per spin at T = 0 of the model f (docs/ck.md section 1, "Threshold energy at
/// T = 0"), the energy at which the dominant stationary points of H on the sphere are marginal
/// minima:
///   e_th(0) = -(f(1) f''(1) - f(1) f'(1) + f'(1)^2) / (f'(1) sqrt(f''(1))).
/// Two derivations give it: (Kac–Rice) at a stationary point E = H/N and the radial multiplier
/// lambda = s.grad H / N are jointly Gaussian (variances f(1)/N, (f''(1) + f'(1))/N, covariance
/// f'(1)/N) and independent of the tangent Hessian, a GOE of semicircle radius 2 sqrt(f''(1));
/// the lambda that dominates at energy E reaches the marginal value -2 sqrt(f''(1)) at e_th(0)
/// (Auffinger & Ben Arous, Ann. Probab. 41, 4214 (2013), their E_infinity for f(1) = 1); (CK) the
/// T -> 0 limit of the marginal one-step aging solution, mu = 2 sqrt(f''(1)) with q_EA = 1.
/// Pure p (f = q^p / 2): -sqrt(2(p-1)/p), p = 3: -2/sqrt(3) = -1.1547005 (design.md section 5;
/// -2 sqrt((p-1)/p) in the normalisation f = q^p); mixture "3:1,4:1": -71/42 = -1.6904762.
/// For a mixture it lies below -2 sqrt(f''(1)) f'(1) / (f''(1) + f'(1)) (-1.68 for "3:1,4:1"),
/// the energy of the most numerous (marginal) minima, which the T = 0 dynamics crosses.
[[nodiscard]] double zero_temperature_threshold_energy(const ck_mixture& mix);

/// Solution of the equilibrium mode-coupling equation (valid above T_d)
///   dC/dtau = -T C - (1/T) int_0^tau f'(C(tau - s)) dC/ds(s) ds,  C(0) = 1,
/// on the uniform grid tau_k = k h, k = 0..round(tau_max / h), by the trapezoidal rule with
/// a trapezoidal Stieltjes memory sum (second order in h). Throws parameter_error for T <= 0,
/// h <= 0 or tau_max < h.
[[nodiscard]] std::vector<double> equilibrium_correlation(const ck_mixture& mix, double T, double tau_max, double h);

} // namespace glassy
