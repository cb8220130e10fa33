#!/usr/bin/env bash
# Lists the functions over 80 lines (the project rule; .clang-tidy, readability-function-size)
# in the given C++ files, one line each:  FILE:LINE: NAME: N lines
#   scripts/function-size.sh FILE...            the files to check (.cpp or .hpp)
#   scripts/function-size.sh                    every tracked .cpp/.hpp under analysis/ apps/
#                                               dynamics/ nets/ physics/
# Uses the compile commands of a configured build: BUILD_DIR (default: the first of build/ci,
# build/release, build/debug, build/* holding compile_commands.json). Counts lines of the
# body, comments and blank lines included (clang-tidy's LineThreshold). Exits 1 when a
# function is over, 0 when none is, 2 on a setup error. clang-tidy-16 by default (CLANG_TIDY=...
# overrides it); JOBS=n runs n files at a time (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
ct=${CLANG_TIDY:-clang-tidy-16}
command -v "$ct" >/dev/null 2>&1 || { echo "function-size: $ct not found (run scripts/install-deps.sh, or set CLANG_TIDY)" >&2; exit 2; }
build=${BUILD_DIR:-}
if [ -z "$build" ]; then
  for d in build/ci build/release build/debug build/*; do
    if [ -f "$d/compile_commands.json" ]; then build=$d; break; fi
  done
fi
[ -n "$build" ] && [ -f "$build/compile_commands.json" ] ||
  { echo "function-size: no compile_commands.json (configure a build, e.g. cmake --preset ci, or set BUILD_DIR)" >&2; exit 2; }
if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files -- 'analysis/*.[ch]pp' 'apps/*.[ch]pp' 'dynamics/*.[ch]pp' 'nets/*.[ch]pp' 'physics/*.[ch]pp')
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# One clang-tidy per file, only this check; its warning and the "N lines" note that follows are
# joined into one line. GCC-only flags of the compile commands are ignored by clang. omp.h
# comes from libomp-dev (LLVM 14's, the one Debian 12 installs beside clang; libomp-16-dev
# would replace it), searched after clang-16's own headers.
omp=$(dirname "$(ls /usr/lib/llvm-*/lib/clang/*/include/omp.h 2>/dev/null | head -1)")
printf '%s\n' "${files[@]}" | xargs -P "${JOBS:-1}" -I{} sh -c \
  "$ct -p '$build' --quiet --checks='-*,readability-function-size' --header-filter='^\$' --extra-arg=-Wno-unknown-warning-option --extra-arg=-ferror-limit=0 --extra-arg=-idirafter'$omp' '{}' > '$tmp/'\$(echo '{}' | tr / _).log 2>&1 || true"
cat "$tmp"/*.log | awk '
  /warning: function .* exceeds recommended size\/complexity thresholds/ {
    split($0, a, ": warning: "); loc = a[1]; sub(/:[0-9]+$/, "", loc)
    match($0, /function \x27[^\x27]*\x27/); name = substr($0, RSTART + 10, RLENGTH - 11); next }
  /note: [0-9]+ lines including whitespace and comments/ && loc != "" {
    match($0, /note: [0-9]+ lines/); n = substr($0, RSTART + 6, RLENGTH - 12)
    print loc ": " name ": " n " lines"; loc = "" }' | sed "s|^$PWD/||" | sort -u > "$tmp/over"
# clang cannot compile LibTorch 1.13's headers in C++20 mode (std::vector<c10::IValue> of an
# incomplete type); those errors lie in /usr and leave our functions parsed and counted. An
# error anywhere else means a file was not understood: fail rather than under-report.
if grep -h "error:" "$tmp"/*.log | grep -v '^/usr/' | grep -q .; then
  grep -h "error:" "$tmp"/*.log | grep -v '^/usr/' | head -5 >&2
  echo "function-size: clang-tidy could not parse some files (errors above)" >&2
  exit 2
fi
cat "$tmp/over"
n=$(wc -l < "$tmp/over")
if [ "$n" -gt 0 ]; then echo "function-size: $n functions over 80 lines in ${#files[@]} files" >&2; exit 1; fi
echo "function-size: no function over 80 lines in ${#files[@]} files" >&2
