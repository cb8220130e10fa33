#!/usr/bin/env bash
# Checks that C++ files are laid out as .clang-format says (clang-format --dry-run --Werror):
#   scripts/check-format.sh              every tracked .cpp/.hpp/.h file
#   scripts/check-format.sh FILE...      only these files
# Prints clang-format's diagnostics for each misformatted line and exits 1 when any file
# differs; exits 0 when all are formatted. To fix a file: clang-format-16 -i FILE.
# The layout depends on the clang-format version, so one version is used: clang-format-16
# (Debian package, scripts/install-deps.sh); CLANG_FORMAT=... overrides it.
set -euo pipefail
cd "$(dirname "$0")/.."
cf=${CLANG_FORMAT:-clang-format-16}
if ! command -v "$cf" >/dev/null 2>&1; then
  echo "check-format: $cf not found (run scripts/install-deps.sh, or set CLANG_FORMAT)" >&2
  exit 2
fi
if [ $# -gt 0 ]; then
  files=("$@")
else
  mapfile -t files < <(git ls-files -- '*.cpp' '*.hpp' '*.h')
fi
bad=0
for f in "${files[@]}"; do
  "$cf" --style=file --dry-run --Werror "$f" || bad=$((bad + 1))
done
if [ "$bad" -gt 0 ]; then
  echo "check-format: $bad of ${#files[@]} files are not formatted (clang-format-16 -i FILE fixes one)" >&2
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
