#!/usr/bin/env bash
# Checks glassy as installed, from a built tree (CI: .ci/run, after the test suite):
#   tests/consumer/run.sh [BUILD_DIR]        (default build/ci)
#   1. cmake --install into a scratch prefix; build tests/consumer against it and run it;
#   2. cpack -G DEB; every package the .deb Depends on is installed here;
#   3. the .deb unpacked with dpkg -x into a scratch root (never into /): each tool's --help
#      runs, and the consumer builds and runs against the unpacked /usr.
# Scratch space: BUILD_DIR/package-check/ (removed first). Prints one line per step; exits
# non-zero at the first failure.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
build=$(cd "${1:-build/ci}" && pwd)
[ -f "$build/CPackConfig.cmake" ] || { echo "consumer: $build is not a configured glassy build" >&2; exit 2; }
scratch=$build/package-check
rm -rf "$scratch"
mkdir -p "$scratch"
with_torch=$(grep -q '^GLASSY_WITH_TORCH:BOOL=ON' "$build/CMakeCache.txt" && echo ON || echo OFF)
launcher=()
command -v ccache >/dev/null 2>&1 && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

consumer() { # consumer NAME PREFIX: configure, build and run tests/consumer against PREFIX
  cmake -S tests/consumer -B "$scratch/$1" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$2" \
    -DGLASSY_CONSUMER_NETS="$with_torch" "${launcher[@]}" >"$scratch/$1.log" 2>&1 &&
    cmake --build "$scratch/$1" >>"$scratch/$1.log" 2>&1 ||
    { cat "$scratch/$1.log" >&2; echo "consumer: building tests/consumer against $2 failed" >&2; exit 1; }
  "$scratch/$1/glassy_consumer" | sed 's/^/consumer:   /'
}

cmake --install "$build" --prefix "$scratch/prefix" >"$scratch/install.log"
echo "consumer: 1/3 installed into $scratch/prefix ($(find "$scratch/prefix" -type f | wc -l) files)"
consumer from-prefix "$scratch/prefix"

(cd "$build" && cpack -G DEB -B "$scratch/deb" >"$scratch/cpack.log" 2>&1) ||
  { cat "$scratch/cpack.log" >&2; echo "consumer: cpack -G DEB failed" >&2; exit 1; }
deb=$(ls "$scratch"/deb/*.deb)
depends=$(dpkg-deb -f "$deb" Depends)
echo "consumer: 2/3 $(basename "$deb"), Depends: $depends"
missing=()
for d in $(echo "$depends" | tr ',' '\n' | sed 's/([^)]*)//g; s/|.*//; s/ //g'); do
  dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q "install ok installed" || missing+=("$d")
done
[ ${#missing[@]} -eq 0 ] || { echo "consumer: the .deb depends on packages not installed here: ${missing[*]}" >&2; exit 1; }

root=$scratch/root
dpkg -x "$deb" "$root"
tools=(pspin_quench aging_analysis)
[ "$with_torch" = ON ] && tools+=(net_quench)
for t in "${tools[@]}"; do
  "$root/usr/bin/$t" --help >/dev/null || { echo "consumer: $t --help from the .deb failed" >&2; exit 1; }
done
echo "consumer: 3/3 .deb unpacked into $root: ${tools[*]} --help run"
consumer from-deb "$root/usr"
echo "consumer: installed package checked"
