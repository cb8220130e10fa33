#!/bin/bash
# Issue 12 before/after: the p-spin and net step benchmarks of two bench trees, interleaved rounds, one thread.
# Usage: OLD=<tree>/benchmarks NEW=<tree>/benchmarks [ROUNDS=6] benchmarks/issue12_before_after.sh
set -eu
: "${OLD:?set OLD to the before tree's benchmarks dir}" "${NEW:?set NEW to the after tree's benchmarks dir}"
pf='BM_langevin_step/(256|512)/|BM_langevin_step_f32/256/|BM_metropolis_sweep/256/|BM_pspin_gradient/256/'
nf='BM_SgdStep/(fc|smallnet)$|BM_Evaluate/fc/|BM_Noise/(fc|smallnet)_batched'
args=(--benchmark_min_time=0.3 --benchmark_repetitions=3 --benchmark_report_aggregates_only=true)
for round in $(seq 1 "${ROUNDS:-6}"); do
    for which in old new; do
        d=$OLD
        [ "$which" = new ] && d=$NEW
        echo "== round $round $which $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
        OMP_NUM_THREADS=1 "$d/pspin_benchmark" --benchmark_filter="$pf" "${args[@]}" 2>/dev/null | grep median
        OMP_NUM_THREADS=1 "$d/nets_benchmark" --benchmark_filter="$nf" "${args[@]}" 2>/dev/null | grep median
    done
done
