#!/usr/bin/env bash
# Usage: classify.sh <report.log>. Reads a sanitizer/libFuzzer report (of a fuzzer built by the
# `fuzz` preset) and prints `hdf5` when the defect is the HDF5 C library's on a corrupt file,
# outside glassy's code, `glassy` otherwise. The frame that decides is the innermost one that is
# not runtime (sanitizer interceptors and libFuzzer, i.e. frames of the fuzzer binary without a
# source line; libc; libstdc++; libgcc): of the crash, or of the allocation of every leaked block
# (LeakSanitizer; the rerun has full malloc stacks). `hdf5` when it lies in the HDF5 C library
# (libhdf5, libhdf5_serial) for the crash or for every leak; the HDF5 C++ wrapper (libhdf5_cpp),
# whose misuse glassy can avoid, counts as glassy's, and so does a leak report without frames.
set -euo pipefail
log=$1
# One innermost non-runtime frame per crash or leaked block, one a line.
frames=$(awk '
  /^(Direct|Indirect) leak of/ { want = 1; leaks = 1; next }
  /^ *#[0-9]+ 0x/ {
    if (!want && leaks) next
    if (!leaks && done) next
    if ($0 ~ /_fuzzer\+0x[0-9a-f]+\)/) next            # runtime compiled into the fuzzer
    if ($0 ~ /libc\.so|libstdc\+\+|libgcc|sysdeps\//) next
    print; want = 0; done = 1
  }
  END { if (leaks && want) print "(a leak without frames)" }' "$log")
[ -n "$frames" ] || { echo glassy; exit 0; }
while IFS= read -r frame; do
  [[ $frame =~ libhdf5(_serial)?\.so ]] || { echo glassy; exit 0; }
done <<<"$frames"
echo hdf5
