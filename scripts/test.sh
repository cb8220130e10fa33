#!/usr/bin/env bash
# Command 2 of the README (and what CI runs): install dependencies if missing, then
#   1. the sanitizer suite (AddressSanitizer + UBSan, everything that does not link LibTorch),
#   2. the libFuzzer harnesses of the file readers (FUZZ_SECONDS each, default 10: a smoke run; longer
#      campaigns: scripts/fuzz.sh with FUZZ_SECONDS=600),
#   3. the whole test suite, ci preset, with ctest, two tests at a time (its summary is the last line).
# GLASSY_QUICK=1 skips 1 and 2 (for a quick local check).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/install-deps.sh
if [ "${GLASSY_QUICK:-0}" != 1 ]; then
  bash scripts/sanitize.sh
  FUZZ_SECONDS=${FUZZ_SECONDS:-10} bash scripts/fuzz.sh
fi
cmake --preset ci
cmake --build --preset ci
ctest --preset ci
