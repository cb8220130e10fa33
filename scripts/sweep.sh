#!/usr/bin/env bash
# A sweep (issue 15): ordinary net_quench runs over a grid of one parameter, two at a time, each
# on one thread. Writes OUT/<param>=<value>.h5 per point; rerun with the same arguments to resume
# (docs/analysis.md, "Sweeps"). Then: aging_analysis --sweep OUT/*.h5 --out OUT/analysis
usage() {
  cat <<'EOF'
Usage: scripts/sweep.sh --param NAME (--values "V1 V2 ..." | --log LO:HI:N) --out DIR
                        [--jobs 2] [--bin BUILD/apps] [--dry-run] -- [net_quench flags ...]
  --param NAME   the swept flag of net_quench: width, depth, hidden, train-size, input-dim, lr, batch
  --values LIST  the grid as a list (space- or comma-separated)
  --log LO:HI:N  N log-spaced values from LO to HI (rounded to integers, repeats dropped, for all
                 but lr)
  --out DIR      one record per point: DIR/NAME=VALUE.h5 (created)
  --jobs J       runs at a time (default 2; each run gets --threads 1 unless --threads is given)
  --bin DIR      where net_quench is (default: build/release/apps, else build/ci/apps)
  --dry-run      print the commands, run nothing
  -- FLAGS       passed to every run (all but --out, --resume and the swept flag)
A point whose record exists and is complete is skipped; a point with a checkpoint
(DIR/NAME=VALUE.h5.ckpt, left by an interrupted run or --checkpoint-every) is resumed with
--resume; a partial record without a checkpoint is run again. Exit status: 0 when every run
succeeded, 1 otherwise (see DIR/NAME=VALUE.log). A second sweep into a DIR whose sweep is still
running is refused (DIR/.sweep.lock, flock).
EOF
}
set -euo pipefail
die() { echo "sweep.sh: error: $*" >&2; exit 2; }
here=$(cd "$(dirname "$0")/.." && pwd)
param="" values="" log="" out="" jobs=2 bin="" dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --param|--values|--log|--out|--jobs|--bin)
      [ $# -ge 2 ] || die "$1 needs a value"
      case "$1" in --param) param=$2 ;; --values) values=$2 ;; --log) log=$2 ;; --out) out=$2 ;;
                   --jobs) jobs=$2 ;; --bin) bin=$2 ;; esac
      shift 2 ;;
    --dry-run) dry=1; shift ;;
    --) shift; break ;;
    *) die "unknown argument $1 (net_quench flags go after --; see --help)" ;;
  esac
done
pass=("$@")
case "$param" in
  width|depth|hidden|train-size|input-dim|batch) integer=1 ;;
  lr) integer=0 ;;
  "") die "--param is required (width, depth, hidden, train-size, input-dim, lr, batch)" ;;
  *) die "--param $param is not a swept parameter (width, depth, hidden, train-size, input-dim, lr, batch)" ;;
esac
[ -n "$out" ] || die "--out DIR is required"
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer, got '$jobs'"
for f in "${pass[@]}"; do
  case "$f" in
    --$param|--$param=*|--out|--out=*|--resume|--resume=*|--checkpoint|--checkpoint=*)
      die "$f after -- is set by the sweep (each point has its own --$param, --out and checkpoint)" ;;
  esac
done
if [ -n "$log" ]; then
  [ -z "$values" ] || die "give --values or --log, not both"
  IFS=: read -r lo hi n <<<"$log"
  [[ "${n:-}" =~ ^[1-9][0-9]*$ ]] || die "--log $log: N must be a positive integer (LO:HI:N)"
  values=$(awk -v lo="$lo" -v hi="$hi" -v n="$n" -v isint="$integer" 'BEGIN {
    if (!(lo + 0 > 0 && hi + 0 >= lo + 0) || lo !~ /^[0-9.eE+-]+$/ || hi !~ /^[0-9.eE+-]+$/) exit 1
    for (k = 0; k < n; ++k) {
      v = n == 1 ? lo : exp(log(lo) + k * (log(hi) - log(lo)) / (n - 1))
      s = isint ? sprintf("%d", v + 0.5) : sprintf("%.6g", v)
      if (!(s in seen)) { seen[s] = 1; printf "%s ", s }
    } }') || die "--log $log: needs 0 < LO <= HI (LO:HI:N)"
fi
values=${values//,/ }
read -r -a grid <<<"$values"
[ ${#grid[@]} -gt 0 ] || die "the grid is empty: give --values \"V1 V2 ...\" or --log LO:HI:N"
declare -A seen=()
for v in "${grid[@]}"; do
  if [ "$param" = batch ] && [ "$v" = all ]; then :
  elif [ $integer = 1 ]; then [[ "$v" =~ ^[1-9][0-9]*$ ]] || die "--param $param: '$v' is not a positive integer"
  else [[ "$v" =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$ ]] && awk -v x="$v" 'BEGIN { exit !(x + 0 > 0) }' ||
         die "--param $param: '$v' is not a positive number"
  fi
  [ -z "${seen[$v]:-}" ] || die "the grid names $param = $v twice"
  seen[$v]=1
done
if [ -z "$bin" ]; then
  for b in "$here/build/release/apps" "$here/build/ci/apps"; do [ -x "$b/net_quench" ] && { bin=$b; break; }; done
fi
[ -n "$bin" ] && [ -x "$bin/net_quench" ] || die "no net_quench in ${bin:-build/release/apps or build/ci/apps} (--bin DIR)"
threads=(--threads 1)
for f in "${pass[@]}"; do case "$f" in --threads|--threads=*) threads=() ;; esac; done
mkdir -p "$out"
# One sweep at a time per folder: two would run the same points into the same records.
exec 9>"$out/.sweep.lock"
flock -n 9 || die "another sweep is running in $out (it holds $out/.sweep.lock); wait for it or use another --out"

# Whether record $1 is complete (its `complete` attribute; without h5dump, a record without a
# checkpoint is taken as complete: net_quench leaves a checkpoint whenever it stops early).
complete() {
  command -v h5dump >/dev/null || return 0
  h5dump -a complete "$1" 2>/dev/null | grep -q '(0): 1'
}

# One shell command per point still to run, one a line.
list=$(mktemp)
trap 'rm -f "$list"' EXIT
todo=0
for v in "${grid[@]}"; do
  rec="$out/$param=$v.h5"
  cmd=("$bin/net_quench" "${pass[@]}" "${threads[@]}" "--$param" "$v" --out "$rec" --quiet)
  if [ -e "$rec.ckpt" ]; then cmd+=(--resume "$rec.ckpt" --force); what="resume"
  elif [ -e "$rec" ] && complete "$rec"; then echo "skip $rec (complete)"; continue
  elif [ -e "$rec" ]; then cmd+=(--force); what="rerun (partial record without checkpoint)"
  else what="run"
  fi
  echo "$what $rec"
  todo=$((todo + 1))
  log=$(printf '%q' "$rec.log")
  printf '%s>%s 2>&1 || { echo "sweep.sh: failed: $(tail -n 1 %s) (%s)" >&2; exit 1; }\n' \
    "$(printf '%q ' "${cmd[@]}")" "$log" "$log" "$log" >>"$list"
done
[ $dry = 1 ] && { cat "$list"; exit 0; }
[ $todo -gt 0 ] || { echo "nothing to run: every record of the grid is complete"; exit 0; }
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
if ! tr '\n' '\0' <"$list" | xargs -0 -n 1 -P "$jobs" bash -c 'eval "$1"' _; then
  echo "sweep.sh: some runs failed; rerun the same command to resume" >&2
  exit 1
fi
echo "done: $todo run(s) in $out"
