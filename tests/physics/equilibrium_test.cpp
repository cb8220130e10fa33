// Equilibrium of the finite-N quench above T_d (physics validation of the steppers and the
// quench together, kept apart from the unit tests).
#include "physics/quench.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

// Equilibrium above T_d. In the paramagnet the equilibrium energy per spin is -beta v(N),
// v(N) = E[H^2]/N for sigma uniform on the sphere = (N-1)(N-2)/(2(N+2)(N+4)) (this is
// -1/(2T) up to the finite-N factor; the reweighting of sigma by exp(-beta H) changes it only at
// O(1/N^2)). Tolerance: 4 standard errors of the sample mean of the time averages + 1/N^2 +
// the time-step bias (Heun, dt = 0.02: O(dt^2)).
TEST(equilibrium, energy_at_t1_is_minus_one_half_up_to_finite_n) {
    const int n = 64, samples = 8;
    const double temperature = 1.0;
    const double v = double(n - 1) * (n - 2) / (2.0 * (n + 2) * (n + 4));
    for (const std::string method : {"heun", "metropolis"}) {
        glassy::pspin_quench_parameters par;
        par.n = n;
        par.temperature = temperature;
        par.method = glassy::parse_quench_method(method);
        par.dt = 0.02;
        par.tmax = method == "heun" ? 60 : 400;
        par.samples = samples;
        par.seed = 17;
        par.per_decade = 40;
        par.tw = {1};
        par.theta_max = 1.0;
        const auto rec = glassy::run_pspin_quench(par);
        ASSERT_EQ(rec.energy_samples.rows(), samples);
        std::vector<double> avg(samples, 0.0);
        int count = 0;
        for (std::size_t k = 0; k < rec.time.size(); ++k)
            if (rec.time[k] >= par.tmax / 3) {
                ++count;
                for (int s = 0; s < samples; ++s) avg[s] += rec.energy_samples(s, k);
            }
        ASSERT_GT(count, 5);
        double mean = 0, var = 0;
        for (double& a : avg) mean += (a /= count) / samples;
        for (double a : avg) var += (a - mean) * (a - mean) / (samples - 1);
        const double se = std::sqrt(var / samples);
        const double expected = -v / temperature;
        EXPECT_NEAR(mean, expected, 4 * se + 1.0 / (n * n) + 0.005) << method << " se " << se;
        EXPECT_NEAR(expected, -1 / (2 * temperature), 5.0 / n);
    }
}
