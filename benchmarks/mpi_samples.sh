#!/bin/bash
# Issue 17: S samples of pspin_quench, then SEEDS fc trainings of net_quench --seeds (when BIN has
# net_quench; SEEDS=0 skips them), on one rank against mpirun -np R (one thread per rank),
# interleaved rounds; prints the wall times (for net_quench also the ceiling: R processes without MPI
# on shares of the seeds) and checks that the two records are identical.
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
# ceiling ARGS...: the net_quench seeds shared among R independent processes started together, without MPI:
# the speed-up this machine allows when all its cores are busy (they slow each other down through the
# shared cache and memory bandwidth), to set beside mpirun's.
ceiling() {
    local s r
    set -- "${@:1:$#-2}" # drop the trailing --seeds 1-SEEDS
    s=$(date +%s.%N)
    for r in $(seq 0 $((R - 1))); do
        "$BIN/net_quench" "$@" --seeds "$(seq -s, $((r + 1)) "$R" "$SEEDS")" --out "$out/part$r.h5" >/dev/null &
    done
    wait
    echo "$(date +%s.%N) - $s" | bc
}
# compare NAME TOOL ARGS...: one rank against mpirun -np R, ROUNDS interleaved rounds, then h5diff.
# For net_quench also the ceiling (R independent processes) in each round.
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
        if [ "$tool" = net_quench ]; then
            free=$(ceiling "$@")
            echo "ceiling: $R processes without MPI ${free} s, speed-up $(echo "scale=2; $one / $free" | bc)"
        fi
    done
    # The records agree in every dataset (the root attributes differ: parameters holds the wall time, ranks).
    h5diff --exclude-attribute / "$out/one.h5" "$out/mpi.h5" && echo "$name records: every dataset identical (h5diff)"
}
compare "pspin_quench N=$N, $S samples" pspin_quench --N "$N" --T 0.5 --samples "$S" --tmax "$TMAX" --threads 1 \
    --quiet --force
if [ "$SEEDS" -gt 0 ]; then
    compare "net_quench fc, $SEEDS seeds" net_quench --model fc --dataset synthetic --steps "${STEPS:-2000}" \
        --threads 1 --quiet --force --seeds "1-$SEEDS"
fi

