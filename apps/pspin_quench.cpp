// pspin_quench: quench the spherical p-spin model from T = infinity and write a record.
#include "apps/common.hpp"
#include "dynamics/record.hpp"
#include "physics/quench.hpp"

#include <omp.h>

#include <cstdio>

int main(int argc, char** argv) {
    using namespace glassy;
    pspin_quench_parameters par;
    std::string out = "pspin_quench.h5";
    int threads = 0;
    bool force = false, quiet = false;

    CLI::App app{"Quench the spherical p-spin glass from T = infinity to T and record e(t) and "
                 "Delta(t_w, t_w + t).\nFinite N: --method langevin|heun|metropolis.",
                 "pspin_quench"};
    app.add_option("--p", par.p, "interaction order p (>= 2)")->capture_default_str();
    app.add_option("--N", par.n, "number of spins N (>= p)")->capture_default_str();
    app.add_option("--T", par.temperature, "temperature after the quench (>= 0)")->capture_default_str();
    app.add_option("--method", par.method, "langevin (Euler–Maruyama), heun (stochastic RK2), metropolis")->capture_default_str();
    app.add_option("--dt", par.dt, "Langevin time step (> 0); Metropolis counts sweeps")->capture_default_str();
    app.add_option("--tmax", par.tmax, "duration of the run (Langevin time or sweeps)")->capture_default_str();
    app.add_option("--samples", par.samples, "independent disorder samples and initial conditions")->capture_default_str();
    app.add_option("--seed", par.seed, "master random seed")->capture_default_str();
    app.add_option("--threads", threads, "OpenMP threads (0 = all cores)")->capture_default_str();
    app.add_option("--tw", par.tw, "waiting times t_w (default 1, 3.2, 10, ... up to tmax/2)");
    app.add_option("--per-decade", par.per_decade, "measurement points per decade of time")->capture_default_str();
    app.add_option("--theta-max", par.theta_max, "Metropolis rotation amplitude (radians)")->capture_default_str();
    app.add_option("--out", out, "output record (HDF5)")->capture_default_str();
    app.add_flag("--force", force, "overwrite an existing output file");
    app.add_flag("--quiet", quiet, "no progress line");
    if (const int rc = app::parse(app, argc, argv); rc >= 0) return rc;

    try {
        validate(par);
        if (threads < 0) throw parameter_error("--threads must be >= 0");
        app::check_output(out, force);
        if (threads > 0) omp_set_num_threads(threads);
        app::install_signal_handlers();

        if (!quiet)
            std::fprintf(stderr, "pspin_quench: p = %d, N = %d, T = %g, %s, dt = %g, tmax = %g, %d sample(s), %d thread(s)\n",
                         par.p, par.n, par.temperature, par.method.c_str(), par.method == "metropolis" ? 1.0 : par.dt,
                         par.tmax, par.samples, omp_get_max_threads());
        app::progress_line progress(!quiet);
        run_hooks hooks;
        hooks.progress_every = 50;
        hooks.progress = [&](std::int64_t done, std::int64_t total) { progress.update(done, total); };
        hooks.stop = [](std::int64_t) { return app::g_signal.load() != 0; };
        record rec = run_pspin_quench(par, hooks);
        progress.finish();
        rec.parameters["threads"] = omp_get_max_threads();
        rec.parameters["wall_seconds"] = progress.elapsed();
        write_record(rec, out);
        if (!rec.complete) {
            std::fprintf(stderr, "pspin_quench: interrupted; partial record written to %s\n", out.c_str());
            return 130;
        }
        std::printf("wrote %s: e(t = %g) = %.6f, %zu times, %zu waiting times, %.1f s\n", out.c_str(), rec.time.back(),
                    rec.energy.back(), rec.time.size(), rec.aging.tw.size(), progress.elapsed());
        return 0;
    } catch (const glassy::error& e) {
        std::fprintf(stderr, "pspin_quench: error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pspin_quench: error: %s\n", e.what());
        return 1;
    }
}
