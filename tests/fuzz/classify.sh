#!/usr/bin/env bash
# Usage: classify.sh <report.log>. Reads a sanitizer/libFuzzer report (of a fuzzer built by the
# `fuzz` preset) and prints `hdf5` when the innermost frame that is not runtime (sanitizer
# interceptors and libFuzzer, i.e. frames of the fuzzer binary without a source line; libc;
# libstdc++; libgcc) lies in the HDF5 C library: a defect of HDF5 on a corrupt file, outside
# glassy's code. Prints `glassy` otherwise, including for the HDF5 C++ wrapper (libhdf5_cpp),
# whose misuse glassy can avoid, and for every leak (known HDF5 leaks go in lsan.supp instead).
set -euo pipefail
log=$1
if grep -q 'LeakSanitizer' "$log"; then echo glassy; exit 0; fi
frame=$(awk '
  /^ *#[0-9]+ 0x/ {
    if ($0 ~ /_fuzzer\+0x[0-9a-f]+\)/) next            # runtime compiled into the fuzzer
    if ($0 ~ /libc\.so|libstdc\+\+|libgcc|sysdeps\//) next
    print; exit
  }' "$log")
if [[ $frame =~ libhdf5(_serial)?\.so ]]; then echo hdf5; else echo glassy; fi
