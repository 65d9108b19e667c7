/* cuda engine: device discovery and the error bookkeeping of every CUDA and cuBLAS call
 * (cuda_common.cuh). A failure never exits; it becomes an EP_E* code and a message. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#include "cuda_common.cuh"

#define EXEC_STR_(x) #x
#define EXEC_STR(x)  EXEC_STR_(x) /* expands x first: cublasCreate -> "cublasCreate_v2" */

static thread_local char last_error[640]; /* room for "cuBLAS: " + cublas_why */

exec_cublas_api exec_cublas;
static pthread_once_t cublas_once = PTHREAD_ONCE_INIT;
static int cublas_rc;
static char cublas_why[512];

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
    char code[32];

    if (s == CUBLAS_STATUS_SUCCESS)
        return 0;
    snprintf(code, sizeof(code), "cuBLAS status %d", (int)s);
    record(what, exec_cublas.status_string ? exec_cublas.status_string(s) : code);
    return s == CUBLAS_STATUS_ALLOC_FAILED ? EP_ENOMEM : EP_EIO;
}

/* Fills exec_cublas from the library (cublas_rc and cublas_why say how it went). */
static void
cublas_open(void)
{
    static const char *const names[] = {"libcublas.so." EXEC_STR(CUBLAS_VER_MAJOR),
                                        EXEC_CUBLAS_PATH};
    void *lib = NULL;
    exec_cublas_api api;

    for (size_t i = 0, len = 0; !lib && i < EP_ARRAY_LEN(names); i++) {
        lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!lib && len < sizeof(cublas_why)) {
            const char *why = dlerror();
            int w = snprintf(cublas_why + len, sizeof(cublas_why) - len, "%sdlopen %s",
                             i ? "; " : "", why ? why : names[i]);
            len += w > 0 ? (size_t)w : 0;
        }
    }
    if (!lib) {
        cublas_rc = EP_ENOTSUP;
        return;
    }
#define EXEC_LOAD(field, fn)                                                                   \
    do {                                                                                       \
        api.field = reinterpret_cast<decltype(api.field)>(dlsym(lib, EXEC_STR(fn)));           \
        if (!api.field) {                                                                      \
            snprintf(cublas_why, sizeof(cublas_why), "dlsym %s: not in cuBLAS", EXEC_STR(fn)); \
            cublas_rc = EP_ENOTSUP;                                                            \
            return; /* the library stays loaded, unused */                                     \
        }                                                                                      \
    } while (0)
    EXEC_LOAD(create, cublasCreate);
    EXEC_LOAD(destroy, cublasDestroy);
    EXEC_LOAD(set_stream, cublasSetStream);
    EXEC_LOAD(set_math_mode, cublasSetMathMode);
    EXEC_LOAD(sgemm, cublasSgemm);
    EXEC_LOAD(sgemm_strided_batched, cublasSgemmStridedBatched);
    EXEC_LOAD(status_string, cublasGetStatusString);
#undef EXEC_LOAD
    exec_cublas = api;
}

int
exec_cublas_load(void)
{
    if (pthread_once(&cublas_once, cublas_open) != 0) {
        record("cuBLAS", "pthread_once failed");
        return EP_EIO;
    }
    if (cublas_rc < 0)
        record("cuBLAS", cublas_why);
    return cublas_rc;
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
