/* cuda engine: the cpu engine's segmentation net (cpu_seg.c) on one GPU. Activations are
 * [image][channel][y][x]; each convolution is an im2col kernel, one strided-batched SGEMM
 * over a chunk of images and a bias/ReLU/skip kernel. logits_out is written only at the
 * end, after every chunk succeeded. */
#include <stdlib.h>

#include "cuda_common.cuh"

#define SIDE_MAX 4096
/* Activations and im2col columns of one chunk of images, at most this many floats (a chunk
 * is at least one image). */
#define CHUNK_CAP_FLOATS ((size_t)1 << 26)

struct ep_cuda_seg {
    ep_seg_config cfg;
    cudaStream_t stream;
    cublasHandle_t blas;
    float *weights; /* one device block; the pointers below point into it */
    const float *c1w, *c1b, *c2w, *c2b, *c3w, *c3b, *c4w, *c4b, *hw, *hb;
    float *scratch;
    size_t cap; /* floats in scratch */
};

/* Grid-stride index loop. */
#define FOR_EACH(i, n)                                                      \
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < (n); \
         i += (size_t)gridDim.x * blockDim.x)

/* cols[b][ch * 9 + ky * 3 + kx][y * w + x] = in[b][ch][y + ky - 1][x + kx - 1], 0 outside. */
static __global__ void
k_im2col(float *cols, const float *in, int nb, int c, int h, int w)
{
    size_t hw = (size_t)h * (size_t)w, rows = (size_t)c * 9;

    FOR_EACH(i, (size_t)nb * rows * hw)
    {
        size_t px = i % hw, kk = (i / hw) % rows, b = i / hw / rows;
        int ch = (int)(kk / 9), ky = (int)(kk % 9) / 3, kx = (int)(kk % 3);
        int sy = (int)(px / (size_t)w) + ky - 1, sx = (int)(px % (size_t)w) + kx - 1;
        cols[i] = (sy < 0 || sy >= h || sx < 0 || sx >= w)
                          ? 0.0f
                          : in[((b * (size_t)c + (size_t)ch) * (size_t)h + (size_t)sy) * (size_t)w +
                               (size_t)sx];
    }
}

/* out[b][o][p] = act(out[b][o][p] + bias[o]) (+ skip[b][o][p] when skip is not NULL). */
static __global__ void
k_bias_act(float *out, const float *bias, const float *skip, int nb, int co, size_t hw, int relu)
{
    FOR_EACH(i, (size_t)nb * (size_t)co * hw)
    {
        float v = out[i] + bias[(i / hw) % (size_t)co];
        if (relu && v < 0.0f)
            v = 0.0f;
        out[i] = skip ? v + skip[i] : v;
    }
}

/* 2x2 max-pool of `planes` planes of h x w (both even). */
static __global__ void
k_maxpool(float *out, const float *in, size_t planes, int h, int w)
{
    size_t h2 = (size_t)h / 2, w2 = (size_t)w / 2;

    FOR_EACH(i, planes * h2 * w2)
    {
        size_t x = i % w2, y = (i / w2) % h2, p = i / w2 / h2;
        const float *s = in + (p * (size_t)h + 2 * y) * (size_t)w + 2 * x;
        out[i] = fmaxf(fmaxf(s[0], s[1]), fmaxf(s[w], s[w + 1]));
    }
}

/* Nearest 2x upsample of `planes` planes of h/2 x w/2 to h x w. */
static __global__ void
k_upsample(float *out, const float *in, size_t planes, int h, int w)
{
    size_t h2 = (size_t)h / 2, w2 = (size_t)w / 2;

    FOR_EACH(i, planes * (size_t)h * (size_t)w)
    {
        size_t x = i % (size_t)w, y = (i / (size_t)w) % (size_t)h, p = i / (size_t)w / (size_t)h;
        out[i] = in[(p * h2 + y / 2) * w2 + x / 2];
    }
}

/* For each of nb images: out[co][hw] = wt[co][k] * in[k][hw] (row-major). Column-major
 * cuBLAS sees out^T = in^T * wt^T, with the weights shared (stride 0). */
static int
gemm_batched(ep_cuda_seg *n, float *out, const float *wt, const float *in, int k, int co, size_t hw,
             int nb)
{
    const float one = 1.0f, zero = 0.0f;

    return exec_cublas_check(exec_cublas.sgemm_strided_batched(
                                     n->blas, CUBLAS_OP_N, CUBLAS_OP_N, (int)hw, co, k, &one, in,
                                     (int)hw, (long long)k * (long long)hw, wt, k, 0, &zero, out,
                                     (int)hw, (long long)co * (long long)hw, nb),
                             "cublasSgemmStridedBatched");
}

/* 3x3 convolution, zero padding 1, bias, ReLU, then + skip when skip is not NULL. */
static int
conv3(ep_cuda_seg *n, float *out, const float *in, const float *wt, const float *b, int ci, int co,
      int h, int w, int nb, float *cols, const float *skip)
{
    size_t hw = (size_t)h * (size_t)w;
    const int T = EXEC_CUDA_THREADS;

    k_im2col<<<exec_cuda_blocks((size_t)nb * (size_t)ci * 9 * hw), T, 0, n->stream>>>(cols, in, nb,
                                                                                      ci, h, w);
    EXEC_TRY(exec_cuda_launched("k_im2col"));
    EXEC_TRY(gemm_batched(n, out, wt, cols, ci * 9, co, hw, nb));
    k_bias_act<<<exec_cuda_blocks((size_t)nb * (size_t)co * hw), T, 0, n->stream>>>(out, b, skip,
                                                                                    nb, co, hw, 1);
    return exec_cuda_launched("k_bias_act");
}

static int
upload(ep_cuda_seg *n, const float *dst, const float *src, size_t count)
{
    return exec_cuda_check(cudaMemcpyAsync((void *)dst, src, count * sizeof(float),
                                           cudaMemcpyHostToDevice, n->stream),
                           "cudaMemcpyAsync (weights)");
}

static int
seg_init(ep_cuda_seg *n, const ep_seg *host)
{
    const ep_seg_config *c = ep_seg_get_config(host);
    const ep_seg_weights *hws = ep_seg_get_weights(host);
    size_t ci = (size_t)c->in_channels, w = (size_t)c->width, k = (size_t)c->n_classes;
    const struct {
        const float **dst;
        const float *src;
        size_t n;
    } t[] = {
            {&n->c1w, hws->c1w, w * ci * 9},    {&n->c1b, hws->c1b, w},
            {&n->c2w, hws->c2w, w * w * 9},     {&n->c2b, hws->c2b, w},
            {&n->c3w, hws->c3w, 2 * w * w * 9}, {&n->c3b, hws->c3b, 2 * w},
            {&n->c4w, hws->c4w, w * 2 * w * 9}, {&n->c4b, hws->c4b, w},
            {&n->hw, hws->hw, k * w},           {&n->hb, hws->hb, k},
    };
    size_t total = 0;

    n->cfg = *c;
    for (size_t i = 0; i < EP_ARRAY_LEN(t); i++)
        total += t[i].n;
    EXEC_TRY(exec_cuda_check(cudaStreamCreateWithFlags(&n->stream, cudaStreamNonBlocking),
                             "cudaStreamCreate"));
    EXEC_TRY(exec_cublas_load());
    EXEC_TRY(exec_cublas_check(exec_cublas.create(&n->blas), "cublasCreate"));
    EXEC_TRY(exec_cublas_check(exec_cublas.set_stream(n->blas, n->stream), "cublasSetStream"));
    EXEC_TRY(exec_cublas_check(exec_cublas.set_math_mode(n->blas, CUBLAS_DEFAULT_MATH),
                               "cublasSetMathMode"));
    EXEC_TRY(exec_cuda_check(cudaMalloc((void **)&n->weights, total * sizeof(float)),
                             "cudaMalloc (weights)"));
    float *p = n->weights;
    for (size_t i = 0; i < EP_ARRAY_LEN(t); i++) {
        *t[i].dst = p;
        EXEC_TRY(upload(n, p, t[i].src, t[i].n));
        p += t[i].n;
    }
    return exec_cuda_check(cudaStreamSynchronize(n->stream), "cudaStreamSynchronize");
}

extern "C" int
ep_cuda_seg_new(const ep_seg *host, ep_cuda_seg **out)
{
    ep_cuda_seg *n;
    int rc;

    if (!host || !out)
        return EP_EINVAL;
    n = (ep_cuda_seg *)calloc(1, sizeof(*n));
    if (!n)
        return EP_ENOMEM;
    rc = seg_init(n, host);
    if (rc < 0) {
        ep_cuda_seg_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

extern "C" void
ep_cuda_seg_free(ep_cuda_seg *n)
{
    if (!n)
        return;
    if (n->stream)
        (void)cudaStreamSynchronize(n->stream);
    (void)cudaFree(n->scratch);
    (void)cudaFree(n->weights);
    if (n->blas)
        (void)exec_cublas.destroy(n->blas);
    if (n->stream)
        (void)cudaStreamDestroy(n->stream);
    free(n);
}

extern "C" const ep_seg_config *
ep_cuda_seg_get_config(const ep_cuda_seg *n)
{
    return &n->cfg;
}

static int
reserve(ep_cuda_seg *n, size_t floats)
{
    if (floats <= n->cap)
        return 0;
    (void)cudaFree(n->scratch);
    n->scratch = NULL;
    n->cap = 0;
    EXEC_TRY(exec_cuda_check(cudaMalloc((void **)&n->scratch, floats * sizeof(float)),
                             "cudaMalloc (scratch)"));
    n->cap = floats;
    return 0;
}

static int
queue_forward(ep_cuda_seg *n, const float *images, int batch, int h, int w, float *logits_out)
{
    int ci = n->cfg.in_channels, c = n->cfg.width, k = n->cfg.n_classes;
    size_t hw = (size_t)h * (size_t)w, hw2 = hw / 4, uc = (size_t)c;
    size_t cols_n = (size_t)(ci > 2 * c ? ci : 2 * c) * 9 * hw;
    /* input, columns, a1, a2, pool, a3, up, a4 */
    size_t per = (size_t)ci * hw + cols_n + 2 * uc * hw + uc * hw2 + 2 * uc * hw2 + 2 * uc * hw +
                 uc * hw;
    size_t chunk = CHUNK_CAP_FLOATS / per, out_n = (size_t)batch * (size_t)k * hw;
    const int T = EXEC_CUDA_THREADS;

    chunk = chunk < 1 ? 1 : chunk > (size_t)batch ? (size_t)batch : chunk;
    EXEC_TRY(reserve(n, out_n + chunk * per));
    float *logits = n->scratch, *x = logits + out_n, *cols = x + chunk * (size_t)ci * hw;
    float *a1 = cols + chunk * cols_n, *a2 = a1 + chunk * uc * hw, *pool = a2 + chunk * uc * hw;
    float *a3 = pool + chunk * uc * hw2, *up = a3 + chunk * 2 * uc * hw2;
    float *a4 = up + chunk * 2 * uc * hw;

    for (int b0 = 0; b0 < batch; b0 += (int)chunk) {
        int nb = batch - b0 < (int)chunk ? batch - b0 : (int)chunk;
        size_t unb = (size_t)nb;

        EXEC_TRY(exec_cuda_check(cudaMemcpyAsync(x, images + (size_t)b0 * (size_t)ci * hw,
                                                 unb * (size_t)ci * hw * sizeof(float),
                                                 cudaMemcpyHostToDevice, n->stream),
                                 "cudaMemcpyAsync (images)"));
        EXEC_TRY(conv3(n, a1, x, n->c1w, n->c1b, ci, c, h, w, nb, cols, NULL));
        EXEC_TRY(conv3(n, a2, a1, n->c2w, n->c2b, c, c, h, w, nb, cols, NULL));
        k_maxpool<<<exec_cuda_blocks(unb * uc * hw2), T, 0, n->stream>>>(pool, a2, unb * uc, h, w);
        EXEC_TRY(exec_cuda_launched("k_maxpool"));
        EXEC_TRY(conv3(n, a3, pool, n->c3w, n->c3b, c, 2 * c, h / 2, w / 2, nb, cols, NULL));
        k_upsample<<<exec_cuda_blocks(unb * 2 * uc * hw), T, 0, n->stream>>>(up, a3, unb * 2 * uc,
                                                                             h, w);
        EXEC_TRY(exec_cuda_launched("k_upsample"));
        EXEC_TRY(conv3(n, a4, up, n->c4w, n->c4b, 2 * c, c, h, w, nb, cols, a2));
        float *out = logits + (size_t)b0 * (size_t)k * hw;
        EXEC_TRY(gemm_batched(n, out, n->hw, a4, c, k, hw, nb));
        k_bias_act<<<exec_cuda_blocks(unb * (size_t)k * hw), T, 0, n->stream>>>(out, n->hb, NULL,
                                                                                nb, k, hw, 0);
        EXEC_TRY(exec_cuda_launched("k_bias_act"));
    }
    return exec_cuda_check(cudaMemcpyAsync(logits_out, logits, out_n * sizeof(float),
                                           cudaMemcpyDeviceToHost, n->stream),
                           "cudaMemcpyAsync (logits)");
}

extern "C" int
ep_cuda_seg_forward(ep_cuda_seg *n, const float *images, int batch, int h, int w, float *logits_out)
{
    int rc;

    if (!n || !images || !logits_out || batch < 1 || h < 2 || w < 2 || h > SIDE_MAX ||
        w > SIDE_MAX || h % 2 != 0 || w % 2 != 0)
        return EP_EINVAL;
    rc = queue_forward(n, images, batch, h, w, logits_out);
    if (rc < 0) {
        (void)cudaStreamSynchronize(n->stream);
        return rc;
    }
    return exec_cuda_check(cudaStreamSynchronize(n->stream), "cudaStreamSynchronize (forward)");
}
