#!/usr/bin/env bash
# Runs each glassy kernel beside the peer a user would write instead (numpy / plain PyTorch),
# in turn, on this machine, and prints the ratios. Needs the `bench` preset built:
#   cmake --preset bench && cmake --build --preset bench
# and python3-numpy (+ python3-torch for the network peers), MNIST under data/ (scripts/setup.sh).
# Usage: [OMP_NUM_THREADS=T] [ROUNDS=3] [FULL=1] benchmarks/run_peers.sh
#   ROUNDS: p-spin pairs (glassy, numpy) run back to back this many times; the median ratio is
#           the figure (the VM's memory bandwidth drifts with its neighbours' load).
#   FULL=1: also the 10^4-step smallnet run with measurements (~2.5 min) and the toy D peer (~2 min).
#   ONLY=pspin or ONLY=nets: one part only. ONLY=hessian: the Hessian (issue 13; ~5 min, only on request).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin="${BENCH_DIR:-$here/build/bench/benchmarks}"   # or a release tree configured with -DGLASSY_BUILD_BENCHMARKS=ON
apps="${APPS_DIR:-$(dirname "$bin")/apps}"
py=/usr/bin/python3
threads=${OMP_NUM_THREADS:-$(nproc)}
rounds=${ROUNDS:-3}
export OMP_NUM_THREADS=$threads
echo "# $(date -u '+%Y-%m-%d %H:%M UTC') $(nproc) cores, OMP_NUM_THREADS=$threads, load $(cut -d' ' -f1-3 /proc/loadavg)"

ms_of() { # first benchmark's real time in ms, from Google Benchmark JSON on stdin
  $py -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"][0]; print(b["real_time"] * {"s": 1e3, "ms": 1, "us": 1e-3, "ns": 1e-6}[b["time_unit"]])'
}

# --- pspin ---
if [ "${ONLY:-pspin}" = pspin ]; then
n=256
ratios=()
for r in $(seq "$rounds"); do
  ours=$("$bin/pspin_benchmark" --benchmark_filter="BM_langevin_step/$n/" --benchmark_min_time=1 --benchmark_format=json | ms_of)
  bw=$("$bin/pspin_benchmark" --benchmark_filter="BM_stream_read" --benchmark_min_time=1 --benchmark_format=json |
    $py -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"][0]; print(b["bytes_per_second"]/2**30)')
  peers=$($py "$here/benchmarks/peers/pspin_numpy.py" $n 10)
  peer=$(echo "$peers" | awk '$1 == "numpy_langevin_ms" {print $3}')
  peer_opt=$(echo "$peers" | awk '$1 == "numpy_langevin_opt_ms" {print $3}')
  line=$($py - "$ours" "$peer" "$bw" "$n" "$peer_opt" "$r" <<'PY'
import sys
ours, peer, bw, n, peer_opt, r = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5]), sys.argv[6]
coupling_gib = n*(n-1)*(n-2)/6*8/2**30
bound_ms = coupling_gib / bw * 1e3
print(f"{peer/ours:.2f} pspin round {r}, Langevin step N={n}: glassy {ours:.3f} ms, numpy einsum {peer:.2f} ms "
      f"(ratio {peer/ours:.1f}x), einsum optimize=True {peer_opt:.2f} ms (ratio {peer_opt/ours:.1f}x); "
      f"couplings {coupling_gib*1024:.1f} MiB / main-memory stream read {bw:.2f} GiB/s = bound {bound_ms:.3f} ms, "
      f"glassy at {bound_ms/ours*100:.0f}% of it (above 100%: the couplings stay in the L3)")
PY
)
  echo "${line#* }"
  ratios+=("${line%% *}")
done
$py -c 'import sys, statistics; r = [float(x) for x in sys.argv[1:]]; print(f"pspin: median ratio vs numpy einsum over {len(r)} rounds {statistics.median(r):.1f}x (min {min(r):.1f}x, max {max(r):.1f}x)")' "${ratios[@]}"
f32=$("$bin/pspin_benchmark" --benchmark_filter="BM_langevin_step_f32/$n/" --benchmark_min_time=1 --benchmark_format=json | ms_of)
printf "pspin Langevin step N=%s with --couplings float32: %.3f ms\n" "$n" "$f32"
fi
# --- end pspin ---

# --- nets ---
if [ "${ONLY:-nets}" = nets ] && [ -x "$bin/nets_benchmark" ] && $py -c 'import torch' 2>/dev/null; then
  for model in fc smallnet toy; do
    ours=$("$bin/nets_benchmark" --benchmark_filter="BM_SgdStep/$model\$" --benchmark_min_time=1 --benchmark_format=json | ms_of)
    steps=200; [ "$model" = toy ] && steps=50
    peer=$($py "$here/benchmarks/peers/torch_train.py" --model $model --threads "$threads" --steps $steps | awk '{print $2}')
    $py -c "import sys; o, p = float(sys.argv[1]), float(sys.argv[2]); print(f'net SGD step $model batch 100: glassy {o:.3f} ms, PyTorch {p:.3f} ms, ratio {p/o:.2f}x')" "$ours" "$peer"
  done
  models="fc smallnet"; [ "${FULL:-0}" = 1 ] && models="fc smallnet toy"
  for model in $models; do
    ours=$("$bin/nets_benchmark" --benchmark_filter="BM_Noise/${model}_batched/" --benchmark_min_time=1 --benchmark_format=json | ms_of)
    repeats=2; [ "$model" = toy ] && repeats=1
    peer=$($py "$here/benchmarks/peers/torch_noise.py" --model $model --threads "$threads" --repeats $repeats | awk '{print $5}')
    $py -c "import sys; o, p = float(sys.argv[1]), float(sys.argv[2]); print(f'SGD noise D, $model, 1024 samples: glassy batched {o:.1f} ms, PyTorch per-sample loop {p:.1f} ms, ratio {p/o:.1f}x')" "$ours" "$peer"
  done
  # One 21-point line of net_quench --barrier (issue 14), smallnet, 1024 samples, side by side.
  ours=$("$bin/nets_benchmark" --benchmark_filter="BM_BarrierLine/smallnet/1024" --benchmark_min_time=1 --benchmark_format=json | ms_of)
  peer=$($py "$here/benchmarks/peers/torch_barrier_line.py" --model smallnet --threads "$threads" | awk '{print $5}')
  $py -c "import sys; o, p = float(sys.argv[1]), float(sys.argv[2]); print(f'barrier line, smallnet, 21 points x 1024 samples: glassy {o:.0f} ms, PyTorch {p:.0f} ms, ratio {p/o:.2f}x')" "$ours" "$peer"
  if [ -x "$apps/net_quench" ]; then
    runs="fc"; [ "${FULL:-0}" = 1 ] && runs="fc smallnet"
    for model in $runs; do
      out=$(mktemp -d)
      line=$("$apps/net_quench" --model $model --steps 10000 --threads "$threads" --data-dir "$here/data" --out "$out/r.h5" 2>/dev/null | grep '^time:')
      rm -rf "$out"
      echo "net_quench --model $model --steps 10000 (default measurements): $line"
    done
  fi
fi
# --- end nets ---

# --- hessian (issue 13): ONLY=hessian; smallnet, 1024 MNIST samples, top 20 + trace + SLQ ---
if [ "${ONLY:-}" = hessian ] && [ -x "$bin/nets_benchmark" ] && [ -x "$apps/net_quench" ]; then
  "$bin/nets_benchmark" --benchmark_filter='BM_(Gradient|HessianProduct)/(smallnet|fc)/' --benchmark_min_time=1
  # One measurement at t_w = 10 of a 30-step run (its weights saved for the peer), then the peer
  # on the same weights and samples, at the same tolerance, back to back.
  out=$(mktemp -d)
  "$apps/net_quench" --model smallnet --steps 30 --hessian --save-snapshots --threads "$threads" \
    --data-dir "$here/data" --quiet --out "$out/h.h5" >/dev/null
  $py -c 'import h5py, json, sys; f = h5py.File(sys.argv[1]); p = json.loads(f.attrs["parameters"]); print(f"glassy net_quench --hessian smallnet k=20 samples=1024 threads={p[\"threads\"]}: one measurement {p[\"timing\"][\"hessian_s\"]:.2f} s, top1 {f[\"hessian/top\"][0][0]:.6g} top20 {f[\"hessian/top\"][0][-1]:.6g} trace {f[\"hessian/trace\"][0]:.6g} +- {f[\"hessian/trace_err\"][0]:.3g}")' "$out/h.h5"
  $py "$here/benchmarks/peers/pyhessian_peer.py" "$out/h.h5" --threads "$threads" --tol 1e-6
  rm -rf "$out"
fi
# --- end hessian ---
