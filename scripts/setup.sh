#!/usr/bin/env bash
# Command 1 of the README: install dependencies and data, build (release preset), and run a
# short demo quench of the p-spin at T = 0.5. Prints where the results are.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
mkdir -p out
echo "setup: running the demo quench (spherical 3-spin, N = 256, T = 0.5) ..."
./build/release/apps/pspin_quench --T 0.5 --force --out out/pspin_T0.5.h5
echo "setup: done. Tools are in build/release/apps/, the demo record is out/pspin_T0.5.h5"
