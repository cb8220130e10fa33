#!/usr/bin/env bash
# Issue 13, p-spin: the index (fraction of negative Hessian eigenvalues) and the flat fraction
# along quenches at N = 512, p = 3, 4 samples, T = 0 and T = 0.5, against the large-N semicircle
# law F(p e / R), R = 2 sqrt(3), at the measured energy (docs/physics.md, "Hessian").
# Writes out/hessian/*.h5, out/hessian/*.csv, docs/img/hessian_index.png and prints the table of
# docs/reproducing-the-paper.md ("Flat directions"). 13 minutes on the 2-core VM under load (tmax 30).
# Usage: scripts/hessian_index.sh [build dir] [tmax]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/release}/apps
tmax=${2:-30}
out=$here/out/hessian
mkdir -p "$out" "$here/docs/img"
for T in 0 0.5; do
  "$bin/pspin_quench" --N 512 --samples 4 --T $T --tmax "$tmax" --hessian --hessian-per-decade 4 \
    --quiet --force --out "$out/T$T.h5"
done
# Per time: t, mean e (from the exact trace identity e = -trace / (p (N + p - 2))), measured
# index (mean, min, max over samples), the semicircle prediction at each sample's e (mean), flat fraction.
/usr/bin/python3 - "$out" <<'PY'
import sys, math, h5py, numpy as np
out = sys.argv[1]
def F(p, e):
    r = 2 * math.sqrt(p * (p - 1) / 2)
    x = min(1.0, max(-1.0, p * e / r))
    return 0.5 + (x * math.sqrt(1 - x * x) + math.asin(x)) / math.pi
for T in ("0", "0.5"):
    with h5py.File(f"{out}/T{T}.h5", "r") as f:
        t = f["hessian/t"][:]
        spec = f["hessian/spectrum"][:]            # [n_s, n_h, N - 1]
        flat = f["hessian/flat_fraction_samples"][:]
    ns, nh, m = spec.shape
    n, p = m + 1, 3
    e = -spec.sum(axis=2) / (p * (n + p - 2))      # [n_s, n_h]
    idx = (spec < 0).mean(axis=2)
    pred = np.vectorize(lambda x: F(p, x))(e)
    with open(f"{out}/T{T}.csv", "w") as c:
        c.write("t,e,index,index_min,index_max,semicircle,flat_fraction,lambda_min\n")
        for h in range(nh):
            c.write(f"{t[h]},{e[:, h].mean()},{idx[:, h].mean()},{idx[:, h].min()},{idx[:, h].max()},"
                    f"{pred[:, h].mean()},{flat[:, h].mean()},{spec[:, h, 0].mean()}\n")
    print(f"T = {T}: {ns} samples, N = {n}")
    print(f"{'t':>8} {'e':>9} {'index':>8} {'(N-1)x':>7} {'F(pe/R)':>8} {'(N-1)x':>7} {'flat':>8} {'lambda_min':>10}")
    for h in range(nh):
        print(f"{t[h]:8.3g} {e[:, h].mean():9.4f} {idx[:, h].mean():8.4f} {idx[:, h].mean() * m:7.2f} "
              f"{pred[:, h].mean():8.4f} {pred[:, h].mean() * m:7.2f} {flat[:, h].mean():8.5f} {spec[:, h, 0].mean():10.4f}")
PY
gnuplot <<GP
set terminal pngcairo size 1000,450 font ",11"
set output "$here/docs/img/hessian_index.png"
set datafile separator ","
set multiplot layout 1,2
R = 2*sqrt(3)
F(e) = (x = 3*e/R, x <= -1 ? 0 : x >= 1 ? 1 : 0.5 + (x*sqrt(1-x*x) + asin(x))/pi)
set title "index vs energy (N = 512, p = 3, 4 samples)"
set xlabel "e = H/N (from the trace)"
set ylabel "fraction of negative eigenvalues"
set xrange [-1.25:0.05]
set yrange [-0.02:0.55]
set key top left
set samples 400
set arrow from -2/sqrt(3),-0.02 to -2/sqrt(3),0.55 nohead dt 2 lc rgb "gray"
plot F(x) with lines lw 2 lc rgb "black" title "semicircle F(pe/R)", \
     "$out/T0.csv" every ::1 using 2:3 with points pt 7 ps 0.8 title "T = 0", \
     "$out/T0.5.csv" every ::1 using 2:3 with points pt 5 ps 0.8 title "T = 0.5"
unset arrow
set title "index vs time"
set xlabel "t"
set logscale x
set xrange [0.05:$tmax]
set logscale y
set yrange [1e-3:0.7]
set ylabel "fraction"
set key bottom left
plot "$out/T0.csv" every ::1 using 1:3 with linespoints pt 7 ps 0.7 title "index, T = 0", \
     "$out/T0.csv" every ::1 using 1:6 with lines dt 2 lw 2 title "semicircle at e(t), T = 0", \
     "$out/T0.5.csv" every ::1 using 1:3 with linespoints pt 5 ps 0.7 title "index, T = 0.5", \
     "$out/T0.5.csv" every ::1 using 1:6 with lines dt 2 lw 2 title "semicircle at e(t), T = 0.5"
unset multiplot
GP
echo "wrote $here/docs/img/hessian_index.png"
