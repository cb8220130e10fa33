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
exclude='^equilibrium\.energy_at_t1_is_minus_one_half_up_to_finite_n$'
ctest --preset asan -j"$jobs" -E "$exclude" "$@"
done_at=$(date +%s)
echo "sanitize: build $((built - start)) s, tests $((done_at - built)) s, total $((done_at - start)) s"
