#!/usr/bin/env bash
# Builds the `asan` preset (GCC, AddressSanitizer + UndefinedBehaviorSanitizer, no LibTorch) and
# runs every test it configures (dynamics, physics, ck, analysis, apps end-to-end). Exits
# non-zero on a build failure, a failing test or any sanitizer report (reports abort the test).
# Usage: bash scripts/sanitize.sh [extra ctest args]. JOBS (default 2) sets the build parallelism.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
jobs=${JOBS:-2}

# Leaks are errors; the first report aborts the process so ctest sees a failure.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

start=$(date +%s)
cmake --preset asan >/dev/null
cmake --build --preset asan -j"$jobs"
built=$(date +%s)
# Tests excluded under ASan (each exceeds ~60 s there; they still run in the release suite):
#   equilibrium.energy_at_t1_is_minus_one_half_up_to_finite_n: long Langevin runs at several N
#   (38 to 108 s under ASan on the shared 2-core machine); its code paths (p-spin forces,
#   Langevin steps, the driver) are exercised by the other physics and apps tests.
# Also excluded (22-50 s each under ASan, 131 s in all; CI is held under 30 minutes), whose code paths
# faster sanitized tests run: pspin_resume.sigint_... (signals, partial records: the sigkill/resume
# tests), pspin.normalisation_variance_... (a statistical test of the couplings the other pspin tests
# build), ck_mixed.dynamical_transition_... and ck_threshold.approach_at_zero_temperature (the CK
# solver: the other ck_* tests).
# Also excluded (CI of 41cd30b: 113 s and 61 s under ASan): hessian_quench.index_of_a_zero_..._semicircle
# (N = 256 spectra at many times; the Hessian code runs sanitized in hessian_quench.record_holds_...,
# measuring_the_hessian_..., interrupted_and_resumed_... and the physics hessian_* tests) and
# ck_decimation.agrees_with_reference (long decimated CK runs; the decimation code runs sanitized in
# the other ck_* and ck_run tests).
exclude='^(hessian_quench\.index_of_a_zero_temperature_quench_follows_the_semicircle|ck_decimation\.agrees_with_reference|equilibrium\.energy_at_t1_is_minus_one_half_up_to_finite_n|pspin_resume\.sigint_writes_a_partial_record_and_a_checkpoint_that_resumes|pspin\.normalisation_variance_of_h_over_n_tends_to_one_half|ck_mixed\.dynamical_transition_between07_and09|ck_threshold\.approach_at_zero_temperature)$'
ctest --preset asan -j"$jobs" -E "$exclude" "$@"
done_at=$(date +%s)
echo "sanitize: build $((built - start)) s, tests $((done_at - built)) s, total $((done_at - start)) s"
