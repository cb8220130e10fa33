#!/usr/bin/env bash
# Threads on a shared machine: times each tool with --threads 1 and --threads 2, on the machine as
# it is ("idle") and with one core kept busy by another process (`yes > /dev/null`, pinned nowhere),
# interleaved over several rounds, and prints the medians and the ratios t(2 threads) / t(1 thread).
# Goal (issue 11 §5): busy, ratio <= 1.2; idle, ratio < 1.
# Usage: [ROUNDS=5] [TOOLS="pspin ck net"] (or smallnet: 200 SGD steps of the Small Net; resnet18: 30 steps on CIFAR-shaped synthetic data, ~2.5 min a run) benchmarks/contention.sh [build dir, default build/release]
#   The apps' own OpenMP wait setting is measured unless the environment sets OMP_WAIT_POLICY or
#   GOMP_SPINCOUNT (then that one: GOMP_SPINCOUNT=300000 is libgomp's spinning default, as before).
#   Each run is short (about 1-4 s on an idle 2-core VM); the wall time includes start-up.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$here/build/release}/apps
rounds=${ROUNDS:-5}
tools=${TOOLS:-pspin ck net}
tmp=$(mktemp -d)
busy=""
stop_busy() { if [ -n "$busy" ]; then kill "$busy" 2>/dev/null || true; wait "$busy" 2>/dev/null || true; busy=""; fi; }
trap 'stop_busy; rm -rf "$tmp"' EXIT
for t in $tools; do
  case $t in pspin | ck | net | smallnet | resnet18) ;; *) echo "contention.sh: unknown tool '$t' in TOOLS (pspin, ck, net, smallnet, resnet18)" >&2; exit 2 ;; esac
done

command_of() { # the timed command line of a tool
  case $1 in
    pspin) echo "$bin/pspin_quench --T 0.5 --tmax 50 --quiet --force --out $tmp/pspin.h5" ;;
    ck) echo "$bin/pspin_quench --method ck --T 0.5 --tmax 30 --quiet --force --out $tmp/ck.h5" ;;
    net) echo "$bin/net_quench --model fc --steps 1000 --quiet --force --out $tmp/net.h5" ;;
    smallnet) echo "$bin/net_quench --model smallnet --steps 200 --quiet --force --out $tmp/smallnet.h5" ;;
    resnet18) echo "$bin/net_quench --model resnet18 --dataset synthetic --synthetic-channels 3 --synthetic-size 32 --steps 30 --noise-samples 64 --eval-samples 64 --quiet --force --out $tmp/resnet18.h5" ;;
  esac
}
seconds() { # wall seconds of one run
  local s e
  s=$(date +%s.%N)
  $1 --threads "$2" > /dev/null
  e=$(date +%s.%N)
  awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f\n", e - s }'
}

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
     "OMP_WAIT_POLICY=${OMP_WAIT_POLICY-unset} GOMP_SPINCOUNT=${GOMP_SPINCOUNT-unset}, $rounds rounds"
for t in $tools; do echo "# $t: $(command_of "$t") --threads 1|2"; done
for r in $(seq "$rounds"); do
  # Alternate the order of the loads and of the thread counts from round to round.
  if [ $((r % 2)) = 1 ]; then loads="idle busy"; order="1 2"; else loads="busy idle"; order="2 1"; fi
  for load in $loads; do
    if [ "$load" = busy ]; then yes > /dev/null & busy=$!; sleep 0.2; fi
    for t in $tools; do
      for n in $order; do echo "$t $load $n $(seconds "$(command_of "$t")" "$n")" >> "$tmp/times"; done
    done
    stop_busy
  done
  echo "# round $r done, load $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "# $(date -u '+%H:%M UTC') end, load $(cut -d' ' -f1-3 /proc/loadavg)"
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
range() { sort -n | awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%s-%s", lo, hi }'; }
printf '%-6s %-5s %20s %20s %8s  %s\n' tool load "1 thread: median s" "2 threads: median s" ratio goal
for t in $tools; do
  for load in idle busy; do
    m1=$(awk -v t="$t" -v l="$load" '$1 == t && $2 == l && $3 == 1 { print $4 }' "$tmp/times" | median)
    m2=$(awk -v t="$t" -v l="$load" '$1 == t && $2 == l && $3 == 2 { print $4 }' "$tmp/times" | median)
    r1=$(awk -v t="$t" -v l="$load" '$1 == t && $2 == l && $3 == 1 { print $4 }' "$tmp/times" | range)
    r2=$(awk -v t="$t" -v l="$load" '$1 == t && $2 == l && $3 == 2 { print $4 }' "$tmp/times" | range)
    awk -v t="$t" -v l="$load" -v m1="$m1" -v m2="$m2" -v r1="$r1" -v r2="$r2" 'BEGIN {
      ratio = m2 / m1; ok = (l == "busy") ? (ratio <= 1.2) : (ratio < 1)
      printf "%-6s %-5s %8.2f (%s) %8.2f (%s) %8.2f  %s\n", t, l, m1, r1, m2, r2, ratio,
             (l == "busy" ? "<= 1.2: " : "< 1: ") (ok ? "met" : "NOT met") }'
  done
done
