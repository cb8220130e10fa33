#!/usr/bin/env bash
# Run HERE (Debian 12, with network), before scripts/gpu_check.sh runs on the GPU machine (no apt,
# no network): fetches with `apt-get download` the Debian packages the build needs into
# .gpu-debs/ (git-ignored; carry that one folder with the tree) and prints its size.
#   -dev packages: headers, CMake files and link symlinks (Boost headers, HDF5, Eigen, CLI11,
#                  nlohmann-json, GoogleTest + GoogleMock (GTest's CMake targets name both), zlib);
#   runtime:       every shared library libhdf5 and libhdf5_cpp load (ldd here, mapped to packages
#                  with dpkg -S) except glibc and libgcc: gpu_check.sh puts on LD_LIBRARY_PATH only
#                  those whose soname the GPU machine lacks; libstdc++6 only if its own is older.
# Not fetched: spdlog, Spectra, Google Benchmark (not needed by nets/ and net_quench), the compiler
# (the GPU machine's g++ is used), OpenMP (comes with g++). Boost is the whole header package
# (about 9.5 MB as a .deb, 15 MB in all): small enough to travel, so no header subset is made.
# Usage: bash scripts/gpu_prepare.sh            (idempotent; re-fetches only what is missing)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out="$here/.gpu-debs"
mkdir -p "$out"

dev=(libboost1.74-dev libhdf5-dev libeigen3-dev libcli11-dev nlohmann-json3-dev libgtest-dev libgmock-dev
  zlib1g-dev libaec-dev)

# The package owning a library file (usr-merged: /lib is /usr/lib).
owner() {
  local f=$1
  dpkg -S "$f" 2>/dev/null | head -1 | cut -d: -f1 ||
    dpkg -S "${f/#\/lib\//\/usr\/lib\/}" 2>/dev/null | head -1 | cut -d: -f1 || true
}

runtime=()
for lib in /usr/lib/x86_64-linux-gnu/libhdf5_serial.so.103 /usr/lib/x86_64-linux-gnu/libhdf5_serial_cpp.so.103; do
  [ -e "$lib" ] || { echo "gpu_prepare: $lib missing here (apt-get install libhdf5-dev first)" >&2; exit 1; }
  runtime+=("$(owner "$lib")")
  while read -r path; do
    pkg=$(owner "$path")
    [ -z "$pkg" ] && pkg=$(owner "$(readlink -f "$path")")
    [ -n "$pkg" ] && runtime+=("$pkg")
  done < <(ldd "$lib" | awk '$3 ~ /^\// {print $3}')
done
runtime+=(libstdc++6)
skip=" libc6 libgcc-s1 "
wanted=()
for p in "${dev[@]}" "${runtime[@]}"; do
  p=${p%%:*}
  [[ "$skip" == *" $p "* ]] && continue
  [[ " ${wanted[*]} " == *" $p "* ]] || wanted+=("$p")
done

missing=()
for p in "${wanted[@]}"; do
  compgen -G "$out/${p}_*.deb" >/dev/null || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  # apt-get download writes into the current folder; as root it warns that _apt cannot write there.
  (cd "$out" && apt-get download "${missing[@]}" 2>&1 | grep -v "^W: Download is performed unsandboxed" || true)
fi
for p in "${wanted[@]}"; do
  compgen -G "$out/${p}_*.deb" >/dev/null || { echo "gpu_prepare: could not fetch $p" >&2; exit 1; }
done
printf '%s\n' "${wanted[@]}" >"$out/packages.txt"
echo "gpu_prepare: ${#wanted[@]} packages in $out, $(du -sh "$out" | cut -f1) (the run tool carries 64 MiB at most)"
