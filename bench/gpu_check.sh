#!/usr/bin/env bash
# GPU check of the cuda engine, for a machine with an NVIDIA GPU, its driver and the CUDA
# toolkit (nvcc, cuBLAS). Steps, each stopping the script on failure:
#   1. Release build with EPARA_CUDA=ON for this GPU's architecture (build-cuda/);
#   2. tests/exec/test_cuda (GPU vs cpu kernels: logits, caches, seg net) and
#      test_cuda_engine (the engine interface, kind cuda vs kind cpu: greedy tokens, slots,
#      clamping, DNN batches): must run, not skip;
#   3. `epara profile --engine cuda` of an LLM and a DNN service of the embedded scenario
#      (llama-1b, video-seg; default shapes, --dry-run): prints the measured tables;
#   4. the GPU tests under compute-sanitizer memcheck, when the toolkit has it;
#   5. both again from an ASan/UBSan Debug build (build-cuda-asan/; --no-asan skips);
#   6. bench/cuda_bench.c: prefill and decode tokens/s, segmentation images/s.
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
cuda_tests=(test_cuda test_cuda_engine)
cmake --build build-cuda -j "$jobs" --target "${cuda_tests[@]}" test_cpu_llm test_cpu_seg \
    test_engine epara ep_cuda_bench

# Runs a GPU test binary: a skip (77) on a GPU machine is a failure.
must_run() {
    local rc=0
    "$@" || rc=$?
    if [ "$rc" -eq 77 ]; then
        echo "gpu_check: $* skipped: it found no usable device on a GPU machine" >&2
        exit 1
    elif [ "$rc" -ne 0 ]; then
        echo "gpu_check: $* failed ($rc)" >&2
        exit 1
    fi
}

step "tests: cpu engine, then cuda engine against it"
build-cuda/tests/test_cpu_llm
build-cuda/tests/test_cpu_seg
build-cuda/tests/test_engine
for t in "${cuda_tests[@]}"; do
    must_run "build-cuda/tests/$t"
done

# The cuda engine behind `epara profile`, as a node would run it: default shapes (the cpu
# engine's stand-in decoder and segmentation net), default points, nothing written.
for svc in llama-1b video-seg; do
    step "epara profile --engine cuda --service $svc (embedded scenario)"
    build-cuda/epara profile --engine cuda --service "$svc" --dry-run --quiet
done

sanitizer=$(command -v compute-sanitizer || true)
[ -z "$sanitizer" ] && [ -x /usr/local/cuda/bin/compute-sanitizer ] &&
    sanitizer=/usr/local/cuda/bin/compute-sanitizer
if [ -n "$sanitizer" ]; then
    for t in "${cuda_tests[@]}"; do
        step "compute-sanitizer memcheck on $t"
        must_run "$sanitizer" --tool memcheck --error-exitcode 3 "build-cuda/tests/$t"
    done
else
    step "compute-sanitizer not found: memcheck skipped"
fi

if [ "$asan" -eq 1 ]; then
    step "ASan/UBSan Debug build (build-cuda-asan/): ${cuda_tests[*]}"
    cmake -S . -B build-cuda-asan ${gen[@]+"${gen[@]}"} -DCMAKE_BUILD_TYPE=Debug \
        -DEP_SANITIZE=address,undefined -DEPARA_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES="$arch" \
        >/dev/null
    cmake --build build-cuda-asan -j "$jobs" --target "${cuda_tests[@]}"
    # The environment tests/CMakeLists.txt gives test_cuda* under CTest.
    for t in "${cuda_tests[@]}"; do
        ASAN_OPTIONS=protect_shadow_gap=0 \
            LSAN_OPTIONS=suppressions=$PWD/tests/exec/cuda_lsan.supp \
            must_run "build-cuda-asan/tests/$t"
    done
fi

step "throughput (bench/cuda_bench.c)"
build-cuda/exec/ep_cuda_bench ${bench_args[@]+"${bench_args[@]}"}
printf '\ngpu_check: all steps passed\n'
