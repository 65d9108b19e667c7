/* cuda engine internals shared by cuda_llm.cu and cuda_seg.cu: CUDA/cuBLAS status checks
 * that map to EP_E* codes and record a message for ep_cuda_last_error(), cuBLAS loaded on
 * first use, launch helpers and block reductions. Every CUDA or cuBLAS call of the engine
 * goes through a check. */
#ifndef EPARA_EXEC_CUDA_COMMON_CUH
#define EPARA_EXEC_CUDA_COMMON_CUH

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <stddef.h>

extern "C" { /* C headers without C++ guards */
#include "epara/exec/engine_cpu.h"
#include "epara/core/error.h"
}
#include "epara/exec/engine_cuda.h"

/* Threads per block of the row-wise and elementwise kernels (a power of two, >= 64). */
#define EXEC_CUDA_THREADS 256
/* Most blocks of a grid-stride launch. */
#define EXEC_CUDA_MAX_BLOCKS 65535

/* 0 for cudaSuccess; otherwise records "<what>: <CUDA message>" and returns EP_ENOMEM,
 * EP_ENOTSUP (no driver or device) or EP_EIO. */
int exec_cuda_check(cudaError_t e, const char *what);
/* As exec_cuda_check for cuBLAS statuses (EP_ENOMEM for ALLOC_FAILED, else EP_EIO). */
int exec_cublas_check(cublasStatus_t s, const char *what);
/* The cuBLAS functions the engine calls. cuBLAS is opened with dlopen on first use rather
 * than linked: everything that links ep_exec links the cuda engine, and loading cuBLAS costs
 * every process about 0.1 s and 100 MB of private memory, which only processes that run
 * the cuda engine should pay. Valid after exec_cublas_load() returned 0. */
struct exec_cublas_api {
    decltype(&cublasCreate) create;
    decltype(&cublasDestroy) destroy;
    decltype(&cublasSetStream) set_stream;
    decltype(&cublasSetMathMode) set_math_mode;
    decltype(&cublasSgemm) sgemm;
    decltype(&cublasSgemmStridedBatched) sgemm_strided_batched;
    decltype(&cublasGetStatusString) status_string;
};
extern exec_cublas_api exec_cublas;
/* Loads cuBLAS once per process (libcublas.so.<major> from the loader's path, else the
 * toolkit's library the build found); thread-safe. 0, or EP_ENOTSUP with the reason recorded
 * for ep_cuda_last_error() (every call after a failure fails the same way). */
int exec_cublas_load(void);

/* Checks the launch of the kernel just queued (a bad configuration or a missing device
 * image); errors of the running kernel surface at the next synchronization. */
int exec_cuda_launched(const char *kernel);

/* Returns from the calling function with the error code of a failed check. */
#define EXEC_TRY(expr)    \
    do {                  \
        int rc_ = (expr); \
        if (rc_ < 0)      \
            return rc_;   \
    } while (0)

/* Blocks for a grid-stride loop over n elements. */
static inline unsigned
exec_cuda_blocks(size_t n)
{
    size_t b = (n + EXEC_CUDA_THREADS - 1) / EXEC_CUDA_THREADS;

    return (unsigned)(b < 1 ? 1 : b > EXEC_CUDA_MAX_BLOCKS ? EXEC_CUDA_MAX_BLOCKS : b);
}

/* Sum of v over the block (blockDim.x a power of two); sh holds blockDim.x floats. Every
 * thread of the block must call it; every thread gets the sum. */
static __device__ __forceinline__ float
exec_block_sum(float v, float *sh)
{
    unsigned t = threadIdx.x;

    sh[t] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s)
            sh[t] += sh[t + s];
        __syncthreads();
    }
    v = sh[0];
    __syncthreads(); /* sh may be reused right after */
    return v;
}

/* Maximum of v over the block; same rules as exec_block_sum. */
static __device__ __forceinline__ float
exec_block_max(float v, float *sh)
{
    unsigned t = threadIdx.x;

    sh[t] = v;
    __syncthreads();
    for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
        if (t < s)
            sh[t] = fmaxf(sh[t], sh[t + s]);
        __syncthreads();
    }
    v = sh[0];
    __syncthreads();
    return v;
}

/* Sum of v over the 32 lanes of the calling warp (all lanes active); every lane gets it. */
static __device__ __forceinline__ float
exec_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

#endif
