#!/usr/bin/env bash
# GPU check of the cuda engine, for a machine with an NVIDIA GPU, its driver and the CUDA
# toolkit (nvcc, cuBLAS). Steps, each stopping the script on failure:
#   1. Release build with EPARA_CUDA=ON for this GPU's architecture (build-cuda/);
#   2. tests/exec/test_cuda (GPU vs cpu engine logits, caches, seg net): must run, not skip;
#   3. the same under compute-sanitizer memcheck, when the toolkit has it;
#   4. test_cuda again from an ASan/UBSan Debug build (build-cuda-asan/; --no-asan skips);
#   5. bench/cuda_bench.c: prefill and decode tokens/s, segmentation images/s.
# Needs the project's build dependencies (`make deps`). Takes a few minutes, mostly nvcc.
# Usage: bench/gpu_check.sh [--no-asan] [-- ep_cuda_bench options, e.g. --cpu --layers 24]
set -euo pipefail
cd "$(dirname "$0")/.."

asan=1
bench_args=()
while [ $# -gt 0 ]; do
    case "$1" in
    --no-asan) asan=0 ;;
    --) shift; bench_args=("$@"); break ;;
    *) echo "usage: $0 [--no-asan] [-- ep_cuda_bench options]" >&2; exit 2 ;;
    esac
    shift
done

step() { printf '\n== %s\n' "$*"; }

step "GPU"
nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv
cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
arch=${CUDA_ARCH:-$cap}
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
jobs=$(nproc 2>/dev/null || echo 4)

step "Release build for sm_$arch (build-cuda/)"
cmake -S . -B build-cuda ${gen[@]+"${gen[@]}"} -DCMAKE_BUILD_TYPE=Release -DEPARA_CUDA=ON \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" >/dev/null
cmake --build build-cuda -j "$jobs" --target test_cuda test_cpu_llm test_cpu_seg ep_cuda_bench

step "tests: cpu engine, then cuda engine against it"
build-cuda/tests/test_cpu_llm
build-cuda/tests/test_cpu_seg
rc=0
build-cuda/tests/test_cuda || rc=$?
if [ "$rc" -eq 77 ]; then
    echo "gpu_check: test_cuda skipped: it found no usable device on a GPU machine" >&2
    exit 1
elif [ "$rc" -ne 0 ]; then
    echo "gpu_check: test_cuda failed ($rc)" >&2
    exit 1
fi

sanitizer=$(command -v compute-sanitizer || true)
[ -z "$sanitizer" ] && [ -x /usr/local/cuda/bin/compute-sanitizer ] &&
    sanitizer=/usr/local/cuda/bin/compute-sanitizer
if [ -n "$sanitizer" ]; then
    step "compute-sanitizer memcheck on test_cuda"
    "$sanitizer" --tool memcheck --error-exitcode 3 build-cuda/tests/test_cuda
else
    step "compute-sanitizer not found: memcheck skipped"
fi

if [ "$asan" -eq 1 ]; then
    step "ASan/UBSan Debug build (build-cuda-asan/): test_cuda"
    cmake -S . -B build-cuda-asan ${gen[@]+"${gen[@]}"} -DCMAKE_BUILD_TYPE=Debug \
        -DEP_SANITIZE=address,undefined -DEPARA_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
        >/dev/null
    cmake --build build-cuda-asan -j "$jobs" --target test_cuda
    # The environment tests/CMakeLists.txt gives test_cuda under CTest.
    ASAN_OPTIONS=protect_shadow_gap=0 LSAN_OPTIONS=suppressions=$PWD/tests/exec/cuda_lsan.supp \
        build-cuda-asan/tests/test_cuda
fi

step "throughput (bench/cuda_bench.c)"
build-cuda/exec/ep_cuda_bench ${bench_args[@]+"${bench_args[@]}"}
printf '\ngpu_check: all steps passed\n'
