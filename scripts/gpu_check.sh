#!/usr/bin/env bash
# One command for the GPU machine (issue 18; x86-64, CUDA, PyTorch 2.x with its LibTorch, CMake,
# ninja, h5py; no apt, no network): builds glassy against that LibTorch and checks and times the
# CUDA path, in at most ~8 minutes. Writes OUTDIR/report.md, OUTDIR/logs/ and OUTDIR/records/.
#
#   bash scripts/gpu_check.sh OUTDIR             on the GPU machine
#   bash scripts/gpu_check.sh OUTDIR --dry-run   anywhere (e.g. here): every step that needs no GPU,
#                                                against Debian's LibTorch as the stand-in
#
# Before: bash scripts/gpu_prepare.sh (here, with network) fills .gpu-debs/, which must travel with
# the tree (the run tool: carry [".gpu-debs"]). Steps:
#   1. unpack the .debs with dpkg -x (or ar + tar) into BUILD/prefix, never into /; libraries the
#      machine lacks (and HDF5's always) go on LD_LIBRARY_PATH through BUILD/runtime;
#   2. configure against BUILD/prefix and the machine's LibTorch
#      (python3 -c 'import torch; print(torch.utils.cmake_prefix_path)'), CUDA from nvcc; build
#      net_quench and nets_tests with ninja on all cores;
#   3. the nets tests that concern the device (cuda*, torch_compat*, net_quench.*);
#   4. ms per SGD step of fc, smallnet, resnet18 (CIFAR-shaped synthetic data, batch 64 and 100):
#      net_quench (marginal time of 1000 steps: two runs, the record's timing.steps_s) beside
#      benchmarks/peers/torch_train.py (plain PyTorch, same GPU, with and without a per-step sync);
#      a 10^4-step resnet18 run for the measurement overhead, D's cost and the 10^6-step projection;
#   5. a smallnet quench on CUDA, on the CPU and on the CPU in float64, compared with h5py
#      (scripts/gpu_compare_records.py);
#   6. OUTDIR/report.md.
# Environment: GPU_CHECK_BUILD (build folder, default build/gpu-check), GPU_CHECK_OVERHEAD_STEPS
# (default 10000), GPU_CHECK_TIME_SCALE (step time limits x this), PYTHON (default: the first python3 that imports torch and h5py).
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [--dry-run]" >&2; exit 2; }
out=$(mkdir -p "$1" && cd "$1" && pwd)
dry=0
[ "${2:-}" = "--dry-run" ] && dry=1
build=${GPU_CHECK_BUILD:-$here/build/gpu-check}
prefix=$build/prefix
runtime=$build/runtime
overhead_steps=${GPU_CHECK_OVERHEAD_STEPS:-10000}
mkdir -p "$out/logs" "$out/records" "$build"
report=$out/report.md
steps_md=$out/.steps.md
: >"$steps_md"
t_start=$(date +%s)

# Time limits are for the 16-core GPU machine; a dry run on a small machine gets GPU_CHECK_TIME_SCALE
# (default 6) times as long.
scale=${GPU_CHECK_TIME_SCALE:-1}
[ $dry = 1 ] && scale=${GPU_CHECK_TIME_SCALE:-6}

# step NAME SECONDS CMD...: runs CMD with a time limit, its output in logs/NAME.log; one report line.
step() {
  local name=$1 limit=$(($2 * scale))
  shift 2
  local t0=$(date +%s) rc
  # A child bash runs the step (a shell function, exported below), so that timeout can stop it.
  timeout "$limit" bash -c 'set -o pipefail; "$@"' "$name" "$@" >"$out/logs/$name.log" 2>&1
  rc=$?
  local dt=$(($(date +%s) - t0))
  local status=ok
  [ $rc -ne 0 ] && status="FAILED (exit $rc; logs/$name.log)"
  [ $rc -eq 124 ] && status="TIMED OUT after ${limit} s (logs/$name.log)"
  echo "| $name | $status | $dt s |" >>"$steps_md"
  echo "gpu_check: $name: $status ($dt s)"
  return $rc
}
skip() { # skip NAME REASON
  echo "| $1 | skipped: $2 | |" >>"$steps_md"
  echo "gpu_check: $1: skipped: $2"
}

pick_python() {
  for p in ${PYTHON:-} python3 /usr/bin/python3; do
    command -v "$p" >/dev/null 2>&1 && "$p" -c 'import torch, h5py' 2>/dev/null && { echo "$p"; return; }
  done
  for p in ${PYTHON:-} python3 /usr/bin/python3; do
    command -v "$p" >/dev/null 2>&1 && "$p" -c 'import h5py' 2>/dev/null && { echo "$p"; return; }
  done
}
py=$(pick_python)
has_torch_py=0
[ -n "$py" ] && "$py" -c 'import torch' 2>/dev/null && has_torch_py=1
has_gpu=0
[ $dry = 0 ] && [ $has_torch_py = 1 ] && "$py" -c 'import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null && has_gpu=1

# ---- 1. unpack ----------------------------------------------------------------------------------
unpack() {
  local debs=$here/.gpu-debs
  compgen -G "$debs/*.deb" >/dev/null || { echo "no .deb in $debs: run scripts/gpu_prepare.sh first"; return 1; }
  rm -rf "$prefix" "$runtime"
  mkdir -p "$prefix" "$runtime"
  for d in "$debs"/*.deb; do
    if command -v dpkg >/dev/null 2>&1; then
      dpkg -x "$d" "$prefix" || return 1
    else # ar + tar: the data member of a .deb
      (cd "$build" && rm -rf deb.tmp && mkdir deb.tmp && cd deb.tmp && ar x "$d" && tar -xf data.tar.* -C "$prefix") || return 1
    fi
  done
  link_runtime
  echo "unpacked $(ls "$debs"/*.deb | wc -l) packages into $prefix ($(du -sh "$prefix" | cut -f1))"
  echo "on LD_LIBRARY_PATH through $runtime: $(ls "$runtime" | tr '\n' ' ')"
}

# HDF5 and its compression libraries always from the prefix (they match its headers); any other
# library only if the machine has no library of that soname; libstdc++ only if the machine's is older
# than GCC 12's (GLIBCXX_3.4.30), which the Debian 12 libraries were built with.
link_runtime() {
  local f soname system_cxx cache
  # The machine's library cache (ldconfig is in /sbin, often not on a user's PATH); without one,
  # every library comes from the prefix.
  cache=$( (command -v ldconfig >/dev/null && ldconfig -p) || /sbin/ldconfig -p 2>/dev/null || true)
  for f in "$prefix"/usr/lib/x86_64-linux-gnu/*.so.* "$prefix"/lib/x86_64-linux-gnu/*.so.*; do
    [ -e "$f" ] || continue
    soname=$(basename "$f")
    [[ "$soname" =~ \.so\.[0-9]+$ ]] || continue # the soname links only
    case "$soname" in
    libhdf5* | libsz.so.* | libaec.so.*) ;;
    libstdc++.so.*)
      system_cxx=$(awk '/libstdc\+\+\.so\.6 .*x86-64/ {print $NF; exit}' <<<"$cache")
      [ -n "$system_cxx" ] && grep -qa GLIBCXX_3.4.30 "$system_cxx" && continue ;;
    *) grep -q "^[[:space:]]*$soname " <<<"$cache" && continue ;;
    esac
    ln -sf "$f" "$runtime/$soname"
  done
}

# ---- 2. configure and build --------------------------------------------------------------------
torch_prefix() {
  if [ $dry = 1 ] || [ $has_torch_py = 0 ]; then
    echo /usr/lib/x86_64-linux-gnu/cmake/Torch # Debian's LibTorch 1.13, the stand-in
  else
    "$py" -c 'import torch; print(torch.utils.cmake_prefix_path)'
  fi
}

configure() {
  local tp nvcc arch args=()
  tp=$(torch_prefix)
  # CMAKE_LIBRARY_ARCHITECTURE: the .debs use Debian's multiarch folders (lib/x86_64-linux-gnu), which
  # CMake searches only when it knows the architecture (not on RPM-style systems).
  args+=(-S "$here" -B "$build/glassy" -G Ninja -DCMAKE_BUILD_TYPE=Release -DGLASSY_BUILD_TESTS=ON -DGLASSY_WITH_MPI=OFF
    "-DCMAKE_PREFIX_PATH=$prefix/usr;$tp" -DCMAKE_LIBRARY_ARCHITECTURE=x86_64-linux-gnu
    "-DHDF5_ROOT=$prefix/usr/lib/x86_64-linux-gnu/hdf5/serial" -DHDF5_NO_FIND_PACKAGE_CONFIG_FILE=ON
    -DHDF5_C_COMPILER_EXECUTABLE=/nonexistent -DHDF5_CXX_COMPILER_EXECUTABLE=/nonexistent)
  [ $dry = 1 ] && args+=("-DTorch_DIR=$tp")
  command -v ccache >/dev/null 2>&1 && args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  if [ $dry = 0 ]; then
    nvcc=$(command -v nvcc || ls /usr/local/cuda/bin/nvcc 2>/dev/null || true)
    [ -n "$nvcc" ] && args+=("-DCMAKE_CUDA_COMPILER=$nvcc" "-DCUDAToolkit_ROOT=$(dirname "$(dirname "$nvcc")")")
    arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' .')
    [ -n "$arch" ] && args+=("-DCMAKE_CUDA_ARCHITECTURES=$arch") && export TORCH_CUDA_ARCH_LIST="${arch:0:-1}.${arch: -1}"
  fi
  echo "cmake ${args[*]}"
  LD_LIBRARY_PATH=$runtime${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} cmake "${args[@]}" || return 1
  # Where each dependency was found: from the prefix, as intended?
  grep -E '^(Eigen3_DIR|nlohmann_json_DIR|CLI11_DIR|Boost_DIR|GTest_DIR|HDF5_CXX_INCLUDE_DIR|HDF5_hdf5_cpp_LIBRARY_RELEASE|ZLIB_INCLUDE_DIR|Torch_DIR)' \
    "$build/glassy/CMakeCache.txt"
}

build_targets() {
  LD_LIBRARY_PATH=$runtime${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
    cmake --build "$build/glassy" -j "$(nproc)" --target net_quench nets_tests
}

with_runtime() { LD_LIBRARY_PATH=$runtime${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} "$@"; }

# ---- 3. tests -----------------------------------------------------------------------------------
device_tests() {
  with_runtime "$build/glassy/tests/nets_tests" --gtest_filter='cuda*:torch_compat*:cuda_settings*:net_quench.*' \
    --gtest_output="xml:$out/logs/nets_tests.xml"
}

# ---- 4. timing ----------------------------------------------------------------------------------
net_quench() { with_runtime "$build/glassy/apps/net_quench" "$@"; }

# steps_seconds RECORD: the record's timing.steps_s
steps_seconds() { "$py" -c 'import h5py,json,sys; print(json.loads(h5py.File(sys.argv[1],"r").attrs["parameters"])["timing"]["steps_s"])' "$1"; }

# glassy_ms MODEL BATCH DEVICE: marginal ms per step between a 200- and a 1200-step run (warm-up
# and first-step costs cancel); few measurements (64 samples, 2 points per decade).
glassy_ms() {
  local model=$1 batch=$2 device=$3 n s200 s1200
  for n in 200 1200; do
    net_quench --model "$model" --dataset synthetic --synthetic-channels 3 --synthetic-size 32 \
      --synthetic-train 10000 --synthetic-test 1000 --batch "$batch" --steps $n --device "$device" \
      --noise-samples 64 --eval-samples 64 --points-per-decade 2 --tw-per-decade 1 --quiet --force \
      --out "$build/timing.h5" >/dev/null || return 1
    [ $n = 200 ] && s200=$(steps_seconds "$build/timing.h5") || s1200=$(steps_seconds "$build/timing.h5")
  done
  "$py" -c "print(f'{1e3 * ($s1200 - $s200) / 1000:.3f}')"
}

# peer_ms MODEL BATCH DEVICE: "ms-without-sync ms-with-sync" (one process, both timings)
peer_ms() {
  "$py" "$here/benchmarks/peers/torch_train.py" --model "$1" --batch "$2" --device "$3" --also-sync \
    --dataset synthetic --steps 300 --threads "$(nproc)" | awk '{printf "%s ", $2}'
}

ratio() { "$py" -c "print(f'{$1 / $2:.2f}')" 2>/dev/null || echo n/a; }

timing() {
  local device=cuda model batch g p ps
  [ $has_gpu = 0 ] && device=cpu
  echo "| model | batch | device | net_quench ms/step | PyTorch ms/step | PyTorch + loss.item() ms/step | PyTorch / net_quench | (PyTorch + item) / net_quench |"
  echo "|---|---|---|---|---|---|---|---|"
  for model in fc smallnet resnet18; do
    for batch in 64 100; do
      [ $dry = 1 ] && [ $model = resnet18 ] && continue # 2 CPU cores: minutes per step count
      g=$(glassy_ms $model $batch $device) || return 1
      p="n/a (no PyTorch here)" ps=$p
      if [ $has_torch_py = 1 ]; then
        read -r p ps < <(peer_ms $model $batch $device) && [ -n "$ps" ] || return 1
      fi
      echo "| $model | $batch | $device | $g | $p | $ps | $(ratio "$p" "$g") | $(ratio "$ps" "$g") |"
    done
  done
}

# overhead_run: a bare resnet18 run of GPU_CHECK_OVERHEAD_STEPS steps with the default measurements.
overhead_run() {
  local model=resnet18 steps=$overhead_steps device=cuda
  [ $has_gpu = 0 ] && { model=smallnet; steps=300; device=cpu; }
  net_quench --model $model --dataset synthetic --synthetic-channels 3 --synthetic-size 32 \
    --synthetic-train 50000 --synthetic-test 10000 --batch 100 --steps "$steps" --device $device \
    --quiet --force --out "$out/records/overhead_${model}_${device}.h5" || return 1
  "$py" - "$out/records/overhead_${model}_${device}.h5" <<'EOF'
import h5py, json, sys
p = json.loads(h5py.File(sys.argv[1], "r").attrs["parameters"])
t, steps = p["timing"], p["steps_done"]
tw = len(h5py.File(sys.argv[1], "r")["aging"]["tw"])
measured = t["metrics_s"] + t["noise_s"] + t["aging_s"]
ms = 1e3 * t["steps_s"] / steps
print(f"- {p['model']} on {p['device']}, batch {p['batch']}, {steps} steps: {ms:.3f} ms/step (incl. warm-up), "
      f"measurements {measured:.1f} s = {100 * measured / t['steps_s']:.1f} % of the steps "
      f"(evaluations {t['metrics_s']:.1f} s, D {t['noise_s']:.1f} s for {tw} waiting times "
      f"= {t['noise_s'] / max(tw, 1):.2f} s per D on {p['noise_samples']} samples, Delta {t['aging_s']:.1f} s)")
print(f"- projected 10^6-step run: {1e6 * ms * (1 + measured / t['steps_s']) / 3.6e6:.2f} h "
      f"(10^6 x {ms:.3f} ms x {1 + measured / t['steps_s']:.3f})")
EOF
}

# ---- 5. CPU vs CUDA records ---------------------------------------------------------------------
quench_records() {
  local gpu=cuda
  [ $has_gpu = 0 ] && gpu=cpu # stand-in: the CPU with another thread count
  for run in "cpu float32 1" "cpu float64 1" "$gpu float32 2"; do
    set -- $run
    net_quench --model smallnet --dataset synthetic --synthetic-train 6000 --synthetic-test 1000 --batch 100 \
      --lr 0.05 --steps 1000 --noise-samples 256 --eval-samples 256 --device "$1" --dtype "$2" --threads "$3" \
      --quiet --force --out "$out/records/smallnet_$1_$2_threads$3.h5" || return 1
  done
  "$py" "$here/scripts/gpu_compare_records.py" "$out/records/smallnet_cpu_float32_threads1.h5" \
    "$out/records/smallnet_${gpu}_float32_threads2.h5" "$out/records/smallnet_cpu_float64_threads1.h5"
}

# ---- 6. report ----------------------------------------------------------------------------------
environment() {
  echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); mode: $([ $dry = 1 ] && echo 'dry run (no GPU parts)' || echo 'GPU run')"
  echo "- machine: $(nproc) cores, $(uname -m), glibc $(ldd --version 2>/dev/null | head -1 | awk '{print $NF}')"
  echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo none)"
  echo "- compiler: $(c++ --version 2>/dev/null | head -1); $(cmake --version | head -1); ninja $(ninja --version 2>/dev/null)"
  echo "- nvcc: $( (command -v nvcc >/dev/null && nvcc --version | tail -1) || echo none)"
  echo "- python: ${py:-none}; torch: $([ $has_torch_py = 1 ] && "$py" -c 'import torch; print(torch.__version__, "CUDA", torch.version.cuda, "available" if torch.cuda.is_available() else "not available")' || echo none)"
  echo "- LibTorch built against: $(torch_prefix)"
}

run_all() {
  step unpack 180 unpack || return
  step configure 240 configure || return
  step build 420 build_targets || return
  step device_tests 240 device_tests
  if [ $has_gpu = 0 ]; then skip "CUDA tests" "no GPU (they GTEST_SKIP; the CPU ones ran)"; fi
  step timing 300 timing
  step overhead 400 overhead_run
  step quench_records 300 quench_records
}

export here out dry build prefix runtime overhead_steps py has_gpu has_torch_py
export -f unpack link_runtime torch_prefix configure build_targets with_runtime device_tests net_quench \
  steps_seconds glassy_ms peer_ms ratio timing overhead_run quench_records
run_all
{
  echo "# gpu_check report"
  echo
  environment
  echo
  echo "| step | status | wall |"
  echo "|---|---|---|"
  cat "$steps_md"
  echo
  [ $has_gpu = 0 ] && echo "**No GPU: the CUDA parts were skipped; the figures below are the CPU stand-in, not H200 figures.**" && echo
  echo "## Dependencies found (from the prefix?)"
  echo '```'
  grep -E '_DIR|HDF5|ZLIB|Torch' "$out/logs/configure.log" | grep -E '^[A-Za-z_0-9]+:' || true
  echo '```'
  echo "## Device tests"
  echo '```'
  grep -E '^\[  (PASSED|FAILED|SKIPPED) |tests? (ran|from)|^\[  FAILED' "$out/logs/device_tests.log" 2>/dev/null | tail -15 || true
  echo '```'
  echo "## SGD step time (marginal, 1000 steps)"
  grep '^|' "$out/logs/timing.log" 2>/dev/null || echo "(no timing: logs/timing.log)"
  echo
  echo "## Measurement overhead and projection"
  grep '^- ' "$out/logs/overhead.log" 2>/dev/null || echo "(none: logs/overhead.log)"
  echo
  echo "## smallnet record, $([ $has_gpu = 1 ] && echo 'CUDA vs CPU' || echo 'CPU 2 threads vs CPU 1 thread (stand-in)') (reference: CPU float64)"
  grep '^|' "$out/logs/quench_records.log" 2>/dev/null || echo "(none: logs/quench_records.log)"
  echo
  echo "Whole run: $(($(date +%s) - t_start)) s."
} >"$report"
rm -f "$steps_md"
echo "gpu_check: report in $report"
grep -q "FAILED\|TIMED OUT" "$report" && exit 1
exit 0
