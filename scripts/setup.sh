#!/usr/bin/env bash
# Command 1 of the README: install dependencies and data, build (release preset), and run the
# short demo: a p-spin quench (N = 256, T = 0.5), a network quench (Small Net on MNIST) and
# aging_analysis --compare of the two. Everything lands in out/demo/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
bash scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
demo=out/demo
mkdir -p "$demo"
B=build/release/apps
echo "setup: 1/3 p-spin quench (spherical 3-spin, N = 256, T = 0.5, t = 0..1000) ..."
$B/pspin_quench --T 0.5 --force --out "$demo/pspin.h5"
echo "setup: 2/3 network quench (Small Net, MNIST, SGD lr 0.1, 5000 steps) ..."
$B/net_quench --model smallnet --force --out "$demo/smallnet.h5"
echo "setup: 3/3 analysis and plots ..."
$B/aging_analysis --compare "$demo/pspin.h5" "$demo/smallnet.h5" --out "$demo/compare"
echo "setup: done. Tools: $B/. Records: $demo/*.h5. Plots and summaries: $demo/compare/ (compare.png, left/, right/)"
