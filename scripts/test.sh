#!/usr/bin/env bash
# Command 2 of the README (and what CI runs): install dependencies if missing, build with the
# ci preset and run the whole test suite with ctest.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/install-deps.sh
cmake --preset ci
cmake --build --preset ci
ctest --preset ci
