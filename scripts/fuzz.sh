#!/usr/bin/env bash
# Builds the libFuzzer harnesses (`fuzz` preset: clang++, ASan + UBSan, no LibTorch) and runs
# each for FUZZ_SECONDS (default 30) on a fresh copy of its seed corpus (written by
# fuzz_make_seeds: valid files from the writers and truncated copies). Prints, per fuzzer, the
# seconds run, executions, final corpus size and the defects found. Exits non-zero if any
# fuzzer finds a crash, leak, timeout or out-of-memory in glassy's code; the input is kept in
# build/fuzz/artifacts/ (reproduce: `build/fuzz/tests/fuzz/<fuzzer> <input>`). Defects inside
# HDF5 itself do not fail the run unless the tools' reader (the fuzzers with
# GLASSY_FUZZ_ISOLATION=child_process) dies on them too (see below). Needs: clang, libclang-rt-14-dev, libomp-dev.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
seconds=${FUZZ_SECONDS:-30}
jobs=${JOBS:-2}
build=${FUZZ_BUILD:-build/fuzz}   # another build folder, e.g. for a second checkout's work
only=${FUZZ_ONLY:-.}              # extended regex of the fuzzers to run (default: all)

# name:max_len (bytes; the largest seeds: record other_writer.h5 ~20 kB, others ~15 kB). The nets fuzzers go in the marked place.
fuzzers=(
  record_fuzzer:24576
  checkpoint_fuzzer:16384
  # --- nets fuzzers ---
  idx_fuzzer:4096
  cifar_fuzzer:8192
  # --- end nets fuzzers ---
)
targets=(fuzz_make_seeds)
selected=()
for f in "${fuzzers[@]}"; do [[ ${f%%:*} =~ $only ]] && selected+=("$f"); done
fuzzers=("${selected[@]}")
for f in "${fuzzers[@]}"; do targets+=("${f%%:*}"); done

start=$(date +%s)
cmake --preset fuzz -B "$build" >/dev/null
cmake --build "$build" -j"$jobs" --target "${targets[@]}"
echo "fuzz: build $(( $(date +%s) - start )) s"

bin=$build/tests/fuzz
artifacts=$build/artifacts
mkdir -p "$artifacts"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin/fuzz_make_seeds" "$tmp/seeds"
# Seeds of the dataset readers: tiny valid idx files (plain and gzip) and CIFAR records.
mkdir -p "$tmp/seeds/idx" "$tmp/seeds/cifar"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02\x01\x02\x03\x04\x05\x06\x07\x08' >"$tmp/seeds/idx/images"
printf '\x00\x00\x08\x01\x00\x00\x00\x02\x03\x07' >"$tmp/seeds/idx/labels"
gzip -c "$tmp/seeds/idx/images" >"$tmp/seeds/idx/images.gz"
head -c 10 "$tmp/seeds/idx/images" >"$tmp/seeds/idx/truncated"
{ printf '\x03'; head -c 3072 /dev/zero; printf '\x09'; head -c 3072 /dev/zero; } >"$tmp/seeds/cifar/cifar10"
{ printf '\x01\x05'; head -c 3072 /dev/zero; } >"$tmp/seeds/cifar/cifar100"
head -c 100 "$tmp/seeds/cifar/cifar10" >"$tmp/seeds/cifar/truncated"

# Fork mode keeps fuzzing past a crash, timeout or out-of-memory; each input that caused one is
# then rerun alone and classified by tests/fuzz/classify.sh: a defect in glassy's code fails
# the run, a defect inside HDF5 (it has known crashes and hangs on corrupt files, see
# docs/reliability.md) is counted and kept in build/fuzz/artifacts/hdf5/ without failing it,
# provided the reader the tools use (HDF5 in a child process) survives the same input.
export LSAN_OPTIONS="suppressions=$here/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
mkdir -p "$artifacts/hdf5"
failed=0
summary=()
for f in "${fuzzers[@]}"; do
  name=${f%%:*}; max_len=${f##*:}
  corpus="$tmp/corpus/$name"; found="$tmp/found/$name"
  mkdir -p "$corpus" "$found"
  cp "$tmp/seeds/${name%_fuzzer}"/* "$corpus"/
  t0=$(date +%s)
  rc=0
  TMPDIR="$tmp" "$bin/$name" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$seconds" -max_len="$max_len" -timeout=5 -rss_limit_mb=2048 \
    -artifact_prefix="$found/" "$corpus" >"$tmp/$name.log" 2>&1 || rc=$?
  t1=$(date +%s)
  execs=$(sed -n 's/^#\([0-9]*\): cov.*/\1/p' "$tmp/$name.log" | tail -1)
  size=$(find "$corpus" -type f | wc -l)
  ours=0; hdf5=0; flaky=0; timeouts_checked=0
  # The fork-mode parent exits non-zero whenever a child found something; that something is
  # judged below. Exiting non-zero with nothing found is a failure of its own.
  if [ "$rc" -ne 0 ] && [ -z "$(ls -A "$found")" ]; then
    echo "fuzz: $name exited $rc without a reproducer (log: $artifacts/$name.log)" >&2
    cp "$tmp/$name.log" "$artifacts/"; ours=1
  fi
  for a in "$found"/*; do
    [ -e "$a" ] || continue
    base=$(basename "$a")
    if [[ $base == timeout-* ]]; then
      timeouts_checked=$((timeouts_checked + 1))
      # Rerunning a timeout costs up to 5 s: check three, count the rest as HDF5's like them.
      if [ "$timeouts_checked" -gt 3 ]; then hdf5=$((hdf5 + 1)); cp "$a" "$artifacts/hdf5/$name-$base"; continue; fi
    fi
    # Full stacks on malloc for the rerun (too slow while fuzzing): lsan.supp needs them.
    if TMPDIR="$tmp" ASAN_OPTIONS="fast_unwind_on_malloc=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
        "$bin/$name" -timeout=5 -rss_limit_mb=2048 "$a" >"$tmp/rerun.log" 2>&1; then
      if [[ $base == leak-* ]]; then hdf5=$((hdf5 + 1)); cp "$a" "$artifacts/hdf5/$name-$base"  # suppressed HDF5 leak
      else flaky=$((flaky + 1)); fi   # did not reproduce alone (a slow input on a loaded machine)
      continue
    fi
    if [ "$(bash tests/fuzz/classify.sh "$tmp/rerun.log")" = hdf5 ]; then
      hdf5=$((hdf5 + 1)); cp "$a" "$artifacts/hdf5/$name-$base"
      # The tools read through a child process (read_isolation::child_process): they must
      # survive this input with a one-line error. A hang (timeout) is not checked here.
      if [[ $base != timeout-* ]] && ! GLASSY_FUZZ_ISOLATION=child_process TMPDIR="$tmp" "$bin/$name" -timeout=5 \
          -rss_limit_mb=2048 -artifact_prefix="$tmp/child-" "$a" >"$tmp/child.log" 2>&1; then
        ours=$((ours + 1)); cp "$a" "$artifacts/$name-$base"; cp "$tmp/child.log" "$artifacts/$name-$base.log"
        echo "fuzz: $name: a tool reading $artifacts/$name-$base through a child process dies too" >&2
      fi
    else
      ours=$((ours + 1)); cp "$a" "$artifacts/$name-$base"; cp "$tmp/rerun.log" "$artifacts/$name-$base.log"
      echo "fuzz: $name: defect in glassy's code, input $artifacts/$name-$base:" >&2
      grep -E '^(==[0-9]+==ERROR|SUMMARY)|what\(\)' "$tmp/rerun.log" | head -3 >&2 || true
    fi
  done
  result=ok; [ "$ours" -eq 0 ] || { result=FAILED; failed=1; }
  summary+=("$(printf '%-20s %8s %12s %8s %6s %6s %6s %s' "$name" "$((t1 - t0))" "${execs:-?}" "$size" \
    "$ours" "$hdf5" "$flaky" "$result")")
done
printf '%-20s %8s %12s %8s %6s %6s %6s %s\n' fuzzer seconds executions corpus glassy hdf5 flaky result
printf '%s\n' "${summary[@]}"
exit "$failed"
