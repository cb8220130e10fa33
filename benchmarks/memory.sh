#!/usr/bin/env bash
# Peak resident memory of the bare tool runs (GNU time), next to what the code predicts:
# couplings binom(N,3) x 8 bytes for the p-spin, n_w x M x 4 bytes of live snapshots for nets.
# Usage: benchmarks/memory.sh [build dir]   (needs the `time` package: /usr/bin/time)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/release}/apps
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
peak() { /usr/bin/time -f "%M %e" "$@" 2>&1 >/dev/null | tail -1; } # "peak-KiB wall-s"
read -r kb wall < <(peak "$bin/pspin_quench" --T 0.5 --quiet --out "$tmp/p.h5")
echo "pspin_quench --T 0.5 (N = 256): peak RSS $((kb / 1024)) MiB, wall ${wall} s; couplings $(( 256*255*254/6*8 / 1048576 )) MiB"
read -r kb wall < <(peak "$bin/pspin_quench" --T 0.5 --N 512 --tmax 1 --quiet --out "$tmp/p512.h5")
echo "pspin_quench --N 512 --tmax 1: peak RSS $((kb / 1024)) MiB; couplings $(( 512*511*510/6*8 / 1048576 )) MiB (N^3/6 x 8 = $(( 512*512*512/6*8 / 1048576 )) MiB)"
if [ -x "$bin/net_quench" ]; then
  read -r kb wall < <(peak "$bin/net_quench" --model smallnet --quiet --out "$tmp/n.h5")
  echo "net_quench --model smallnet (M = 38,390, 5000 steps): peak RSS $((kb / 1024)) MiB, wall ${wall} s"
fi
