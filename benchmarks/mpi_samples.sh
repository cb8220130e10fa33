#!/bin/bash
# Issue 17: S samples of pspin_quench, then SEEDS fc trainings of net_quench --seeds (when BIN has
# net_quench; SEEDS=0 skips them), on one rank against mpirun -np R (one thread per rank),
# interleaved rounds; prints the wall times and checks that the two records are identical.
# Usage: BIN=<tree>/apps [R=2] [S=8] [N=256] [TMAX=100] [SEEDS=4] [STEPS=2000] [ROUNDS=3]
#        benchmarks/mpi_samples.sh
set -eu
: "${BIN:?set BIN to the apps dir of a build tree}"
R=${R:-2} S=${S:-8} N=${N:-256} TMAX=${TMAX:-100}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
SEEDS=${SEEDS:-4}
[ -x "$BIN/net_quench" ] || SEEDS=0
# compare NAME TOOL ARGS...: one rank against mpirun -np R, ROUNDS interleaved rounds, then h5diff.
compare() {
    local name=$1 tool=$2
    shift 2
    for round in $(seq 1 "${ROUNDS:-3}"); do
        echo "== $name, round $round $(date -u +%H:%M:%S) load $(cut -d' ' -f1 /proc/loadavg)"
        s=$(date +%s.%N)
        "$BIN/$tool" "$@" --out "$out/one.h5" >/dev/null
        one=$(echo "$(date +%s.%N) - $s" | bc)
        s=$(date +%s.%N)
        mpirun -np "$R" --oversubscribe "$BIN/$tool" "$@" --out "$out/mpi.h5" >/dev/null
        many=$(echo "$(date +%s.%N) - $s" | bc)
        echo "one rank ${one} s, mpirun -np $R ${many} s, speed-up $(echo "scale=2; $one / $many" | bc)"
    done
    # The records agree in every dataset (the root attributes differ: parameters holds the wall time, ranks).
    h5diff --exclude-attribute / "$out/one.h5" "$out/mpi.h5" && echo "$name records: every dataset identical (h5diff)"
}
compare "pspin_quench N=$N, $S samples" pspin_quench --N "$N" --T 0.5 --samples "$S" --tmax "$TMAX" --threads 1 \
    --quiet --force
if [ "$SEEDS" -gt 0 ]; then
    compare "net_quench fc, $SEEDS seeds" net_quench --model fc --dataset synthetic --seeds "1-$SEEDS" \
        --steps "${STEPS:-2000}" --threads 1 --quiet --force
fi

