/* cuda engine: the cpu engine's Llama-style FP32 decoder (cpu_llm.c) on one GPU. Weights
 * are uploaded from a cpu model, regrouped so that Q/K/V and gate/up are one GEMM each;
 * matmuls are cuBLAS SGEMM, everything else is the kernels below. A sequence's device cache
 * holds K/V for positions [0, pos), and its position moves only after a pass succeeded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_common.cuh"

/* Attention block: 4 warps, one (row, head) pair per block. */
#define ATT_THREADS 128
/* Attention scores are staged in global memory, [rows][heads][max_seq_len]; at most this
 * many floats per launch (longer batches take several launches). */
#define ATT_CAP_FLOATS ((size_t)1 << 24)
/* gridDim.y limit. */
#define GRID_Y_MAX 65535

/* One token of a forward pass: its sequence's caches, its id and its position. */
struct row {
    float *k; /* [n_layers][max_seq_len][kv_dim] */
    float *v;
    int tok;
    int pos;
};

struct ep_cuda_llm {
    ep_llm_config cfg;
    int hs;   /* head size */
    int kvd;  /* kv_dim */
    int qkvd; /* dim + 2 kv_dim: one row of the fused Q/K/V projection */
    cudaStream_t stream;
    cublasHandle_t blas;
    float *weights;         /* one device block; the pointers below point into it */
    const float *emb;       /* [vocab][dim] */
    const float *rms_att;   /* [layers][dim] */
    const float *wqkv;      /* [layers][qkvd][dim]: wq, then wk, then wv */
    const float *wo;        /* [layers][dim][dim] */
    const float *rms_ffn;   /* [layers][dim] */
    const float *w13;       /* [layers][2 hidden][dim]: w1 (gate), then w3 (up) */
    const float *w2;        /* [layers][dim][hidden] */
    const float *rms_final; /* [dim] */
    const float *wcls;      /* [vocab][dim]; == emb when shared */
    const float *rope_cos;  /* [max_seq_len][head/2] */
    const float *rope_sin;
    /* Scratch for cap_rows rows and cap_logits logit rows (device unless noted). */
    int cap_rows, cap_logits, att_rows;
    float *scratch;
    float *x;      /* [rows][dim] residual stream */
    float *xb;     /* [rows][dim] normed input, then attention output */
    float *qkv;    /* [rows][qkvd] */
    float *hb;     /* [rows][2 hidden] gate | up; SwiGLU output in the gate npair */
    float *att;    /* [att_rows][heads][max_seq_len] */
    float *logits; /* [cap_logits][vocab] */
    struct row *rows_dev;
    struct row *rows_host; /* host */
};

struct ep_cuda_llm_seq {
    ep_cuda_llm *model;
    float *k; /* device, [n_layers][max_seq_len][kv_dim] */
    float *v;
    int pos;
};

/* ---- kernels (one block per row unless noted) ---- */

static __global__ void
k_embed(float *x, const float *emb, const struct row *rows, int d)
{
    const float *src = emb + (size_t)rows[blockIdx.x].tok * (size_t)d;
    float *dst = x + (size_t)blockIdx.x * (size_t)d;

    for (int i = threadIdx.x; i < d; i += blockDim.x)
        dst[i] = src[i];
}

/* out = g * x / rms(x), row by row; blockDim.x == EXEC_CUDA_THREADS. */
static __global__ void
k_rmsnorm(float *out, const float *x, const float *g, int d)
{
    __shared__ float sh[EXEC_CUDA_THREADS];
    const float *xr = x + (size_t)blockIdx.x * (size_t)d;
    float *o = out + (size_t)blockIdx.x * (size_t)d;
    float ss = 0.0f;

    for (int i = threadIdx.x; i < d; i += blockDim.x)
        ss += xr[i] * xr[i];
    ss = exec_block_sum(ss, sh);
    float scale = 1.0f / sqrtf(ss / (float)d + EP_LLM_RMS_EPS);
    for (int i = threadIdx.x; i < d; i += blockDim.x)
        o[i] = g[i] * (scale * xr[i]);
}

/* Rotates the row's queries in place (consecutive pairs of each head, llama2.c convention)
 * and writes its rotated key and its value into its sequence's cache of this layer
 * (cache_off = layer * max_seq_len * kv_dim) at its position. */
static __global__ void
k_rope_store(float *qkv, const struct row *rows, const float *cos_t, const float *sin_t, int d,
             int kvd, int hs, int qkvd, size_t cache_off)
{
    struct row rw = rows[blockIdx.x];
    float *q = qkv + (size_t)blockIdx.x * (size_t)qkvd;
    const float *k = q + d, *v = q + d + kvd;
    int npair = hs / 2;
    const float *c = cos_t + (size_t)rw.pos * (size_t)npair;
    const float *s = sin_t + (size_t)rw.pos * (size_t)npair;
    float *kc = rw.k + cache_off + (size_t)rw.pos * (size_t)kvd;
    float *vc = rw.v + cache_off + (size_t)rw.pos * (size_t)kvd;

    for (int p = threadIdx.x; p < d / 2; p += blockDim.x) {
        int j = p % npair;
        float v0 = q[2 * p], v1 = q[2 * p + 1];
        q[2 * p] = v0 * c[j] - v1 * s[j];
        q[2 * p + 1] = v0 * s[j] + v1 * c[j];
    }
    for (int p = threadIdx.x; p < kvd / 2; p += blockDim.x) {
        int j = p % npair;
        float v0 = k[2 * p], v1 = k[2 * p + 1];
        kc[2 * p] = v0 * c[j] - v1 * s[j];
        kc[2 * p + 1] = v0 * s[j] + v1 * c[j];
    }
    for (int i = threadIdx.x; i < kvd; i += blockDim.x)
        vc[i] = v[i];
}

/* Causal attention of row row0 + blockIdx.y, head blockIdx.x over its sequence's cache of
 * this layer, positions [0, pos] (the rows of this pass are already in the cache, so a
 * prefill row sees the rows before it). Query head h reads kv head h / group (GQA). Scores
 * go to att (this block's [max_seq_len] slice), the output to out[row][h * hs ..]. */
static __global__ void
k_attention(float *out, const float *qkv, const struct row *rows, float *att, int row0, int d,
            int kvd, int hs, int group, int qkvd, int seq_len, size_t cache_off, float scale)
{
    __shared__ float sh[ATT_THREADS];
    int h = blockIdx.x, r = row0 + (int)blockIdx.y;
    struct row rw = rows[r];
    int n = rw.pos + 1;
    const float *q = qkv + (size_t)r * (size_t)qkvd + (size_t)h * (size_t)hs;
    size_t kv_off = cache_off + (size_t)(h / group) * (size_t)hs;
    const float *kc = rw.k + kv_off, *vc = rw.v + kv_off;
    float *a = att + ((size_t)blockIdx.y * gridDim.x + (size_t)h) * (size_t)seq_len;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
    float mx = -INFINITY, sum = 0.0f;

    /* A warp per position: the lanes read one cached key contiguously. */
    for (int t = warp; t < n; t += nwarps) {
        const float *kt = kc + (size_t)t * (size_t)kvd;
        float s = 0.0f;
        for (int i = lane; i < hs; i += 32)
            s += q[i] * kt[i];
        s = exec_warp_sum(s) * scale;
        if (lane == 0)
            a[t] = s;
        mx = fmaxf(mx, s);
    }
    mx = exec_block_max(mx, sh); /* also orders the score writes before the reads below */
    for (int t = threadIdx.x; t < n; t += blockDim.x) {
        float e = expf(a[t] - mx);
        a[t] = e;
        sum += e;
    }
    sum = exec_block_sum(sum, sh);
    float inv = 1.0f / sum;
    float *o = out + (size_t)r * (size_t)d + (size_t)h * (size_t)hs;
    for (int i = threadIdx.x; i < hs; i += blockDim.x) {
        float acc = 0.0f;
        for (int t = 0; t < n; t++)
            acc += a[t] * vc[(size_t)t * (size_t)kvd + (size_t)i];
        o[i] = acc * inv;
    }
}

/* hb[r] = gate | up (2h wide) -> gate npair = silu(gate) * up. Grid-stride. */
static __global__ void
k_swiglu(float *hb, int rows, int h)
{
    size_t n = (size_t)rows * (size_t)h, step = (size_t)gridDim.x * blockDim.x;

    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
        float *p = hb + (i / (size_t)h) * 2 * (size_t)h;
        size_t j = i % (size_t)h;
        float g = p[j];
        p[j] = g / (1.0f + expf(-g)) * p[(size_t)h + j];
    }
}

/* ---- host side ---- */

/* Row-major out[rows][n_out] (leading dimension ldo) = in[rows][n_in] (ld ldi) * w^T +
 * beta * out, w stored [n_out][n_in]. cuBLAS is column-major, where these buffers read as
 * out^T, in^T and w^T: so it computes out^T (n_out x rows) = op_T(w^T) * in^T. */
static int
gemm(ep_cuda_llm *m, float *out, int ldo, const float *in, int ldi, const float *w, int rows,
     int n_in, int n_out, float beta)
{
    const float one = 1.0f;

    return exec_cublas_check(exec_cublas.sgemm(m->blas, CUBLAS_OP_T, CUBLAS_OP_N, n_out, rows, n_in,
                                               &one, w, n_in, in, ldi, &beta, out, ldo),
                             "cublasSgemm");
}

static int
upload(ep_cuda_llm *m, const float *dst, const float *src, size_t n)
{
    return exec_cuda_check(
            cudaMemcpyAsync((void *)dst, src, n * sizeof(float), cudaMemcpyHostToDevice, m->stream),
            "cudaMemcpyAsync (weights)");
}

/* RoPE tables computed on the host exactly as cpu_llm.c computes the angles (double), so
 * both engines rotate by the same floats. */
static int
upload_rope(ep_cuda_llm *m)
{
    size_t npair = (size_t)m->hs / 2, n = (size_t)m->cfg.max_seq_len * npair;
    float *tab = (float *)malloc(2 * n * sizeof(float));
    int rc;

    if (!tab)
        return EP_ENOMEM;
    for (size_t p = 0; p < (size_t)m->cfg.max_seq_len; p++)
        for (size_t j = 0; j < npair; j++) {
            double freq = pow((double)m->cfg.rope_theta, -(double)(2 * j) / m->hs);
            double a = (double)p * freq;
            tab[p * npair + j] = (float)cos(a);
            tab[n + p * npair + j] = (float)sin(a);
        }
    rc = upload(m, m->rope_cos, tab, 2 * n);
    if (rc == 0) /* the copy reads tab until the stream gets there */
        rc = exec_cuda_check(cudaStreamSynchronize(m->stream), "cudaStreamSynchronize");
    free(tab);
    return rc;
}

static int
llm_init(ep_cuda_llm *m, const ep_llm *host)
{
    const ep_llm_config *c = ep_llm_get_config(host);
    const ep_llm_weights *w = ep_llm_get_weights(host);
    size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim, L = (size_t)c->n_layers;
    size_t voc = (size_t)c->vocab_size;

    m->cfg = *c;
    m->hs = c->dim / c->n_heads;
    m->kvd = c->n_kv_heads * m->hs;
    m->qkvd = c->dim + 2 * m->kvd;
    size_t kv = (size_t)m->kvd, qkv = (size_t)m->qkvd;
    size_t rope = (size_t)c->max_seq_len * (size_t)(m->hs / 2);
    size_t total = voc * d + 2 * L * d + L * qkv * d + L * d * d + 2 * L * h * d + L * d * h + d +
                   (c->shared_classifier ? 0 : voc * d) + 2 * rope;

    EXEC_TRY(exec_cuda_check(cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking),
                             "cudaStreamCreate"));
    EXEC_TRY(exec_cublas_load());
    EXEC_TRY(exec_cublas_check(exec_cublas.create(&m->blas), "cublasCreate"));
    EXEC_TRY(exec_cublas_check(exec_cublas.set_stream(m->blas, m->stream), "cublasSetStream"));
    /* Plain FP32 (no TF32 tensor cores), to stay comparable with the cpu engine. */
    EXEC_TRY(exec_cublas_check(exec_cublas.set_math_mode(m->blas, CUBLAS_DEFAULT_MATH),
                               "cublasSetMathMode"));
    EXEC_TRY(exec_cuda_check(cudaMalloc((void **)&m->weights, total * sizeof(float)),
                             "cudaMalloc (weights)"));

    float *p = m->weights;
    m->emb = p, p += voc * d;
    m->rms_att = p, p += L * d;
    m->wqkv = p, p += L * qkv * d;
    m->wo = p, p += L * d * d;
    m->rms_ffn = p, p += L * d;
    m->w13 = p, p += 2 * L * h * d;
    m->w2 = p, p += L * d * h;
    m->rms_final = p, p += d;
    if (c->shared_classifier) {
        m->wcls = m->emb;
    } else {
        m->wcls = p;
        p += voc * d;
    }
    m->rope_cos = p, p += rope;
    m->rope_sin = p;

    EXEC_TRY(upload(m, m->emb, w->token_embedding, voc * d));
    EXEC_TRY(upload(m, m->rms_att, w->rms_att, L * d));
    EXEC_TRY(upload(m, m->wo, w->wo, L * d * d));
    EXEC_TRY(upload(m, m->rms_ffn, w->rms_ffn, L * d));
    EXEC_TRY(upload(m, m->w2, w->w2, L * d * h));
    EXEC_TRY(upload(m, m->rms_final, w->rms_final, d));
    if (!c->shared_classifier)
        EXEC_TRY(upload(m, m->wcls, w->wcls, voc * d));
    for (size_t l = 0; l < L; l++) {
        const float *q = m->wqkv + l * qkv * d, *g = m->w13 + l * 2 * h * d;
        EXEC_TRY(upload(m, q, w->wq + l * d * d, d * d));
        EXEC_TRY(upload(m, q + d * d, w->wk + l * kv * d, kv * d));
        EXEC_TRY(upload(m, q + (d + kv) * d, w->wv + l * kv * d, kv * d));
        EXEC_TRY(upload(m, g, w->w1 + l * h * d, h * d));
        EXEC_TRY(upload(m, g + h * d, w->w3 + l * h * d, h * d));
    }
    return upload_rope(m); /* ends with a synchronization: every upload is done */
}

extern "C" int
ep_cuda_llm_new(const ep_llm *host, ep_cuda_llm **out)
{
    ep_cuda_llm *m;
    int rc;

    if (!host || !out)
        return EP_EINVAL;
    m = (ep_cuda_llm *)calloc(1, sizeof(*m));
    if (!m)
        return EP_ENOMEM;
    rc = llm_init(m, host);
    if (rc < 0) {
        ep_cuda_llm_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static void
scratch_free(ep_cuda_llm *m)
{
    (void)cudaFree(m->scratch);
    (void)cudaFree(m->rows_dev);
    free(m->rows_host);
    m->scratch = NULL;
    m->rows_dev = NULL;
    m->rows_host = NULL;
    m->cap_rows = m->cap_logits = m->att_rows = 0;
}

extern "C" void
ep_cuda_llm_free(ep_cuda_llm *m)
{
    if (!m)
        return;
    if (m->stream)
        (void)cudaStreamSynchronize(m->stream);
    scratch_free(m);
    (void)cudaFree(m->weights);
    if (m->blas)
        (void)exec_cublas.destroy(m->blas);
    if (m->stream)
        (void)cudaStreamDestroy(m->stream);
    free(m);
}

extern "C" const ep_llm_config *
ep_cuda_llm_get_config(const ep_cuda_llm *m)
{
    return &m->cfg;
}

/* Makes the scratch hold at least `rows` rows and `logit_rows` logit rows. */
static int
reserve(ep_cuda_llm *m, int rows, int logit_rows)
{
    const ep_llm_config *c = &m->cfg;

    if (rows <= m->cap_rows && logit_rows <= m->cap_logits)
        return 0;
    rows = rows > m->cap_rows ? rows : m->cap_rows;
    logit_rows = logit_rows > m->cap_logits ? logit_rows : m->cap_logits;
    scratch_free(m);

    size_t r = (size_t)rows, d = (size_t)c->dim, h = (size_t)c->hidden_dim;
    size_t per_row_att = (size_t)c->n_heads * (size_t)c->max_seq_len;
    size_t att_rows = ATT_CAP_FLOATS / per_row_att;
    att_rows = att_rows < 1 ? 1 : att_rows > r ? r : att_rows;
    att_rows = att_rows > GRID_Y_MAX ? GRID_Y_MAX : att_rows;
    size_t n = r * (2 * d + (size_t)m->qkvd + 2 * h) + att_rows * per_row_att +
               (size_t)logit_rows * (size_t)c->vocab_size;

    m->rows_host = (struct row *)malloc(r * sizeof(struct row));
    if (!m->rows_host)
        return EP_ENOMEM;
    int rc = exec_cuda_check(cudaMalloc((void **)&m->scratch, n * sizeof(float)),
                             "cudaMalloc (scratch)");
    if (rc == 0)
        rc = exec_cuda_check(cudaMalloc((void **)&m->rows_dev, r * sizeof(struct row)),
                             "cudaMalloc (rows)");
    if (rc < 0) {
        scratch_free(m);
        return rc;
    }
    float *p = m->scratch;
    m->x = p, p += r * d;
    m->xb = p, p += r * d;
    m->qkv = p, p += r * (size_t)m->qkvd;
    m->hb = p, p += r * 2 * h;
    m->att = p, p += att_rows * per_row_att;
    m->logits = p;
    m->cap_rows = rows;
    m->cap_logits = logit_rows;
    m->att_rows = (int)att_rows;
    return 0;
}

/* Queues one pass over rows_host[0, rows): writes the rows' K/V into their caches; logits of
 * rows [from, rows) to logits_out when not NULL. Moves no position. */
static int
queue_forward(ep_cuda_llm *m, int rows, int from, float *logits_out)
{
    const ep_llm_config *c = &m->cfg;
    cudaStream_t st = m->stream;
    int d = c->dim, kvd = m->kvd, qkvd = m->qkvd, h = c->hidden_dim, hs = m->hs;
    size_t ud = (size_t)d, uh = (size_t)h, seq = (size_t)c->max_seq_len;
    int group = c->n_heads / c->n_kv_heads;
    float scale = 1.0f / sqrtf((float)hs);
    const int T = EXEC_CUDA_THREADS;

    EXEC_TRY(exec_cuda_check(cudaMemcpyAsync(m->rows_dev, m->rows_host,
                                             (size_t)rows * sizeof(struct row),
                                             cudaMemcpyHostToDevice, st),
                             "cudaMemcpyAsync (rows)"));
    k_embed<<<rows, T, 0, st>>>(m->x, m->emb, m->rows_dev, d);
    EXEC_TRY(exec_cuda_launched("k_embed"));
    for (int l = 0; l < c->n_layers; l++) {
        size_t ul = (size_t)l, cache_off = ul * seq * (size_t)kvd;

        k_rmsnorm<<<rows, T, 0, st>>>(m->xb, m->x, m->rms_att + ul * ud, d);
        EXEC_TRY(exec_cuda_launched("k_rmsnorm"));
        EXEC_TRY(gemm(m, m->qkv, qkvd, m->xb, d, m->wqkv + ul * (size_t)qkvd * ud, rows, d, qkvd,
                      0.0f));
        k_rope_store<<<rows, T, 0, st>>>(m->qkv, m->rows_dev, m->rope_cos, m->rope_sin, d, kvd, hs,
                                         qkvd, cache_off);
        EXEC_TRY(exec_cuda_launched("k_rope_store"));
        for (int r0 = 0; r0 < rows; r0 += m->att_rows) {
            int nr = rows - r0 < m->att_rows ? rows - r0 : m->att_rows;
            dim3 grid((unsigned)c->n_heads, (unsigned)nr);
            k_attention<<<grid, ATT_THREADS, 0, st>>>(m->xb, m->qkv, m->rows_dev, m->att, r0, d,
                                                      kvd, hs, group, qkvd, c->max_seq_len,
                                                      cache_off, scale);
            EXEC_TRY(exec_cuda_launched("k_attention"));
        }
        /* The residual adds ride on the GEMMs: beta = 1 accumulates into x. */
        EXEC_TRY(gemm(m, m->x, d, m->xb, d, m->wo + ul * ud * ud, rows, d, d, 1.0f));

        k_rmsnorm<<<rows, T, 0, st>>>(m->xb, m->x, m->rms_ffn + ul * ud, d);
        EXEC_TRY(exec_cuda_launched("k_rmsnorm"));
        EXEC_TRY(gemm(m, m->hb, 2 * h, m->xb, d, m->w13 + ul * 2 * uh * ud, rows, d, 2 * h, 0.0f));
        k_swiglu<<<exec_cuda_blocks((size_t)rows * uh), T, 0, st>>>(m->hb, rows, h);
        EXEC_TRY(exec_cuda_launched("k_swiglu"));
        EXEC_TRY(gemm(m, m->x, d, m->hb, 2 * h, m->w2 + ul * ud * uh, rows, h, d, 1.0f));
    }
    if (!logits_out)
        return 0;
    int nl = rows - from;
    size_t at = (size_t)from * ud;
    k_rmsnorm<<<nl, T, 0, st>>>(m->xb + at, m->x + at, m->rms_final, d);
    EXEC_TRY(exec_cuda_launched("k_rmsnorm"));
    EXEC_TRY(gemm(m, m->logits, c->vocab_size, m->xb + at, d, m->wcls, nl, d, c->vocab_size, 0.0f));
    return exec_cuda_check(cudaMemcpyAsync(logits_out, m->logits,
                                           (size_t)nl * (size_t)c->vocab_size * sizeof(float),
                                           cudaMemcpyDeviceToHost, st),
                           "cudaMemcpyAsync (logits)");
}

/* Runs the pass and waits for it; on failure, waits for whatever was queued too. */
static int
forward(ep_cuda_llm *m, int rows, int from, float *logits_out)
{
    int rc = queue_forward(m, rows, from, logits_out);

    if (rc < 0) {
        (void)cudaStreamSynchronize(m->stream);
        return rc;
    }
    return exec_cuda_check(cudaStreamSynchronize(m->stream), "cudaStreamSynchronize (forward)");
}

static int
tokens_ok(const ep_cuda_llm *m, const int *tokens, int n)
{
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab_size)
            return 0;
    return 1;
}

static int
seq_init(ep_cuda_llm_seq *s)
{
    const ep_cuda_llm *m = s->model;
    size_t bytes =
            (size_t)m->cfg.n_layers * (size_t)m->cfg.max_seq_len * (size_t)m->kvd * sizeof(float);

    EXEC_TRY(exec_cuda_check(cudaMalloc((void **)&s->k, bytes), "cudaMalloc (cache)"));
    EXEC_TRY(exec_cuda_check(cudaMalloc((void **)&s->v, bytes), "cudaMalloc (cache)"));
    EXEC_TRY(exec_cuda_check(cudaMemsetAsync(s->k, 0, bytes, m->stream), "cudaMemsetAsync"));
    EXEC_TRY(exec_cuda_check(cudaMemsetAsync(s->v, 0, bytes, m->stream), "cudaMemsetAsync"));
    return exec_cuda_check(cudaStreamSynchronize(m->stream), "cudaStreamSynchronize");
}

extern "C" int
ep_cuda_llm_seq_new(ep_cuda_llm *m, ep_cuda_llm_seq **out)
{
    ep_cuda_llm_seq *s;
    int rc;

    if (!m || !out)
        return EP_EINVAL;
    s = (ep_cuda_llm_seq *)calloc(1, sizeof(*s));
    if (!s)
        return EP_ENOMEM;
    s->model = m;
    rc = seq_init(s);
    if (rc < 0) {
        ep_cuda_llm_seq_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

extern "C" void
ep_cuda_llm_seq_free(ep_cuda_llm_seq *s)
{
    if (!s)
        return;
    (void)cudaFree(s->k);
    (void)cudaFree(s->v);
    free(s);
}

extern "C" int
ep_cuda_llm_seq_pos(const ep_cuda_llm_seq *s)
{
    return s->pos;
}

extern "C" void
ep_cuda_llm_seq_reset(ep_cuda_llm_seq *s)
{
    s->pos = 0;
}

extern "C" void
ep_cuda_llm_seq_truncate(ep_cuda_llm_seq *s, int pos)
{
    /* Attention reads positions [0, pos] only, so stale cache rows need no clearing. */
    if (pos >= 0 && pos < s->pos)
        s->pos = pos;
}

extern "C" int
ep_cuda_llm_seq_read_cache(const ep_cuda_llm_seq *s, float *k, float *v)
{
    if (!s)
        return EP_EINVAL;
    const ep_cuda_llm *m = s->model;
    size_t bytes =
            (size_t)m->cfg.n_layers * (size_t)m->cfg.max_seq_len * (size_t)m->kvd * sizeof(float);

    if (k)
        EXEC_TRY(exec_cuda_check(cudaMemcpyAsync(k, s->k, bytes, cudaMemcpyDeviceToHost, m->stream),
                                 "cudaMemcpyAsync (cache)"));
    if (v)
        EXEC_TRY(exec_cuda_check(cudaMemcpyAsync(v, s->v, bytes, cudaMemcpyDeviceToHost, m->stream),
                                 "cudaMemcpyAsync (cache)"));
    return exec_cuda_check(cudaStreamSynchronize(m->stream), "cudaStreamSynchronize");
}

extern "C" int
ep_cuda_llm_prefill(ep_cuda_llm *m, ep_cuda_llm_seq *seq, const int *tokens, int n,
                    float *logits_out)
{
    if (!m || !seq || !tokens || n < 1 || seq->model != m || !tokens_ok(m, tokens, n))
        return EP_EINVAL;
    if (n > m->cfg.max_seq_len - seq->pos)
        return EP_ERANGE;
    EXEC_TRY(reserve(m, n, logits_out ? 1 : 0));
    for (int r = 0; r < n; r++) {
        struct row *rw = &m->rows_host[r];
        rw->k = seq->k;
        rw->v = seq->v;
        rw->tok = tokens[r];
        rw->pos = seq->pos + r;
    }
    EXEC_TRY(forward(m, n, n - 1, logits_out));
    seq->pos += n;
    return 0;
}

extern "C" int
ep_cuda_llm_decode_batch(ep_cuda_llm *m, ep_cuda_llm_seq *const *seqs, const int *tokens, int batch,
                         float *logits_out)
{
    if (!m || !seqs || !tokens || batch < 1 || !tokens_ok(m, tokens, batch))
        return EP_EINVAL;
    for (int i = 0; i < batch; i++) {
        if (!seqs[i] || seqs[i]->model != m)
            return EP_EINVAL;
        for (int j = 0; j < i; j++)
            if (seqs[j] == seqs[i])
                return EP_EINVAL;
    }
    for (int i = 0; i < batch; i++)
        if (seqs[i]->pos >= m->cfg.max_seq_len)
            return EP_ERANGE;
    EXEC_TRY(reserve(m, batch, logits_out ? batch : 0));
    for (int r = 0; r < batch; r++) {
        struct row *rw = &m->rows_host[r];
        rw->k = seqs[r]->k;
        rw->v = seqs[r]->v;
        rw->tok = tokens[r];
        rw->pos = seqs[r]->pos;
    }
    EXEC_TRY(forward(m, batch, 0, logits_out));
    for (int i = 0; i < batch; i++)
        seqs[i]->pos++;
    return 0;
}
