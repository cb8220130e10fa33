#!/usr/bin/env bash
# Runs each glassy kernel beside the peer a user would write instead (numpy / plain PyTorch),
# in turn, on this machine, and prints the ratios. Needs the `bench` preset built:
#   cmake --preset bench && cmake --build --preset bench
# and python3-numpy (+ python3-torch for the network peers). Usage: benchmarks/run_peers.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin="${BENCH_DIR:-$here/build/bench/benchmarks}"   # or a release tree configured with -DGLASSY_BUILD_BENCHMARKS=ON
py=/usr/bin/python3
threads=${OMP_NUM_THREADS:-$(nproc)}
export OMP_NUM_THREADS=$threads
echo "# $(date -u +%Y-%m-%d) $(nproc) cores, OMP_NUM_THREADS=$threads"

# --- pspin ---
n=256
ours=$("$bin/pspin_benchmark" --benchmark_filter="BM_langevin_step/$n/" --benchmark_min_time=1 --benchmark_format=json |
  $py -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"][0]; print(b["real_time"]/1e3 if b["time_unit"]=="us" else b["real_time"])')
bw=$("$bin/pspin_benchmark" --benchmark_filter="BM_stream_read" --benchmark_min_time=1 --benchmark_format=json |
  $py -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"][0]; print(b["bytes_per_second"]/2**30)')
peers=$($py "$here/benchmarks/peers/pspin_numpy.py" $n 10)
peer=$(echo "$peers" | awk '$1 == "numpy_langevin_ms" {print $3}')
peer_opt=$(echo "$peers" | awk '$1 == "numpy_langevin_opt_ms" {print $3}')
$py - "$ours" "$peer" "$bw" "$n" "$peer_opt" <<'PY'
import sys
ours, peer, bw, n, peer_opt = float(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
coupling_gib = n*(n-1)*(n-2)/6*8/2**30
bound_ms = coupling_gib / bw * 1e3
print(f"pspin Langevin step N={n}: glassy {ours:.3f} ms, numpy einsum {peer:.3f} ms (ratio {peer/ours:.1f}x), "
      f"numpy einsum optimize=True {peer_opt:.3f} ms (ratio {peer_opt/ours:.1f}x)")
print(f"  couplings {coupling_gib*1024:.1f} MiB, stream read {bw:.2f} GiB/s -> bound {bound_ms:.3f} ms, "
      f"glassy at {bound_ms/ours*100:.0f}% of the bandwidth bound")
PY
# --- end pspin ---

# --- nets ---
if [ -x "$bin/nets_benchmark" ] && $py -c 'import torch' 2>/dev/null; then
  for model in fc smallnet; do
    ours=$("$bin/nets_benchmark" --benchmark_filter="BM_SgdStep/$model\$" --benchmark_min_time=1 --benchmark_format=json |
      $py -c 'import json,sys; b=json.load(sys.stdin)["benchmarks"][0]; print(b["real_time"] * {"ms": 1, "us": 1e-3, "ns": 1e-6}[b["time_unit"]])')
    peer=$($py "$here/benchmarks/peers/torch_train.py" --model $model --threads "$threads" --steps 200 | awk '{print $2}')
    $py -c "import sys; o, p = float(sys.argv[1]), float(sys.argv[2]); print(f'net SGD step $model batch 100: glassy {o:.3f} ms, PyTorch {p:.3f} ms, ratio {p/o:.2f}x')" "$ours" "$peer"
  done
fi
# --- end nets ---
