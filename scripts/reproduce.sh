#!/usr/bin/env bash
# CPU-sized reproduction of the paper's figures 1-5 and the glass/network comparison, from our
# own runs (docs/reproducing-the-paper.md lists the commands and the paper-sized versions).
# Writes records and analyses under out/paper/ and copies the PNGs to docs/img/.
# Takes 1-2 minutes on 2 cores (1 min 13 s on the development VM). Usage: scripts/reproduce.sh [build dir]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/release}/apps
out=$here/out/paper
mkdir -p "$out" "$here/docs/img"
run() { echo "+ $*" >&2; "$@"; }

# Figure 1: the p-spin at N = infinity (CK), quench to T = 0.5, t up to 1e4.
run "$bin/pspin_quench" --method ck --T 0.5 --tmax 1e4 --threads 1 --quiet --force --out "$out/ck_T0.5.h5"
# Figures 2-4: fc (20000 steps) and smallnet (5000 steps) on MNIST, batch 100, lr 0.1.
run "$bin/net_quench" --model fc --steps 20000 --quiet --force --out "$out/fc_mnist.h5"
run "$bin/net_quench" --model smallnet --steps 5000 --quiet --force --out "$out/smallnet_mnist.h5"
# Figure 5: the under-parametrised toy network (h = 10).
run "$bin/net_quench" --model toy --hidden 10 --steps 20000 --quiet --force --out "$out/toy10_mnist.h5"

for name in ck_T0.5 fc_mnist smallnet_mnist toy10_mnist; do
  run "$bin/aging_analysis" "$out/$name.h5" --out "$out/$name"
done
run "$bin/aging_analysis" --compare "$out/ck_T0.5.h5" "$out/smallnet_mnist.h5" --out "$out/compare"

cp "$out/ck_T0.5/fig1a_energy.png"       "$here/docs/img/fig1a_ck_energy.png"
cp "$out/ck_T0.5/fig1b_delta.png"        "$here/docs/img/fig1b_ck_delta.png"
cp "$out/fc_mnist/fig2_loss.png"         "$here/docs/img/fig2_fc_loss.png"
cp "$out/smallnet_mnist/fig2_loss.png"   "$here/docs/img/fig2_smallnet_loss.png"
cp "$out/smallnet_mnist/fig3_delta.png"  "$here/docs/img/fig3_smallnet_delta.png"
cp "$out/fc_mnist/fig3_delta.png"        "$here/docs/img/fig3_fc_delta.png"
cp "$out/smallnet_mnist/fig4_delta_over_D.png" "$here/docs/img/fig4_smallnet_delta_over_D.png"
cp "$out/fc_mnist/fig4_delta_over_D.png" "$here/docs/img/fig4_fc_delta_over_D.png"
for f in "$out"/toy10_mnist/fig5*.png; do cp "$f" "$here/docs/img/$(basename "${f%.png}")_toy10.png"; done
cp "$out/compare/compare.png"            "$here/docs/img/compare_ck_smallnet.png"
for name in fc_mnist smallnet_mnist toy10_mnist ck_T0.5; do
  echo "== $name"; cat "$out/$name/summary.json"; echo
done
