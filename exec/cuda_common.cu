/* cuda engine: device discovery and the error bookkeeping of every CUDA and cuBLAS call
 * (cuda_common.cuh). A failure never exits; it becomes an EP_E* code and a message. */
#include <stdio.h>

#include "cuda_common.cuh"

static thread_local char last_error[256];

static void
record(const char *what, const char *why)
{
    snprintf(last_error, sizeof(last_error), "%s: %s", what, why);
}

int
exec_cuda_check(cudaError_t e, const char *what)
{
    if (e == cudaSuccess)
        return 0;
    record(what, cudaGetErrorString(e));
    switch (e) {
    case cudaErrorMemoryAllocation:
        return EP_ENOMEM;
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver:
    case cudaErrorStubLibrary:
    case cudaErrorDevicesUnavailable:
    case cudaErrorSystemDriverMismatch:
    case cudaErrorCompatNotSupportedOnDevice:
    case cudaErrorNoKernelImageForDevice:
        return EP_ENOTSUP;
    default:
        return EP_EIO;
    }
}

int
exec_cublas_check(cublasStatus_t s, const char *what)
{
    if (s == CUBLAS_STATUS_SUCCESS)
        return 0;
    record(what, cublasGetStatusString(s));
    return s == CUBLAS_STATUS_ALLOC_FAILED ? EP_ENOMEM : EP_EIO;
}

int
exec_cuda_launched(const char *kernel)
{
    return exec_cuda_check(cudaGetLastError(), kernel);
}

extern "C" int
ep_cuda_available(void)
{
    int n = 0;

    if (exec_cuda_check(cudaGetDeviceCount(&n), "cudaGetDeviceCount") < 0) {
        (void)cudaGetLastError(); /* not sticky: later calls must not see it */
        return 0;
    }
    if (n < 1) {
        record("cudaGetDeviceCount", "no CUDA device");
        return 0;
    }
    return 1;
}

extern "C" int
ep_cuda_device_name(char *buf, size_t len, size_t *mem_bytes)
{
    cudaDeviceProp prop;
    int dev;

    if (!buf || len == 0)
        return EP_EINVAL;
    EXEC_TRY(exec_cuda_check(cudaGetDevice(&dev), "cudaGetDevice"));
    EXEC_TRY(exec_cuda_check(cudaGetDeviceProperties(&prop, dev), "cudaGetDeviceProperties"));
    snprintf(buf, len, "%s (sm_%d%d)", prop.name, prop.major, prop.minor);
    if (mem_bytes)
        *mem_bytes = prop.totalGlobalMem;
    return 0;
}

extern "C" const char *
ep_cuda_last_error(void)
{
    return last_error;
}
