/* cpu engine: Llama-style FP32 decoder (RMSNorm, RoPE, GQA attention, SwiGLU) on BLAS.
 * All weights live in one block in llama2.c order; a sequence's cache holds K/V for
 * positions [0, pos), and a forward pass changes a sequence only once it cannot fail. */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/exec/engine_cpu.h"
#include "epara/core/error.h"
#include "epara/core/rng.h"
#include "engine_impl.h"

/* RNG stream of the random weights ("llm"), separate from every simulator stream. */
#define LLM_STREAM   0x6c6c6d00u
#define DIM_MAX      (1 << 20)
#define LAYERS_MAX   4096
#define HEADER_BYTES 28

struct ep_llm {
    ep_llm_config cfg;
    ep_llm_weights w;
    float *block; /* every tensor; wcls aliases token_embedding when shared */
    int head_size;
    int kv_dim;
};

struct ep_llm_seq {
    const ep_llm *model;
    float *k; /* [n_layers][max_seq_len][kv_dim] */
    float *v;
    int pos;
};

static const char *
config_problem(const ep_llm_config *c)
{
    if (c->dim < 1 || c->dim > DIM_MAX || c->hidden_dim < 1 || c->hidden_dim > DIM_MAX ||
        c->n_heads < 1 || c->n_heads > DIM_MAX || c->n_kv_heads < 1 || c->n_kv_heads > DIM_MAX ||
        c->vocab_size < 1 || c->vocab_size > DIM_MAX || c->max_seq_len < 1 ||
        c->max_seq_len > DIM_MAX)
        return "dimensions must be in [1, 2^20]";
    if (c->n_layers < 1 || c->n_layers > LAYERS_MAX)
        return "n_layers must be in [1, 4096]";
    if (c->dim % c->n_heads != 0)
        return "dim must be a multiple of n_heads";
    if ((c->dim / c->n_heads) % 2 != 0)
        return "head size (dim / n_heads) must be even";
    if (c->n_kv_heads > c->n_heads || c->n_heads % c->n_kv_heads != 0)
        return "n_heads must be a multiple of n_kv_heads";
    if (!(c->rope_theta > 0.0f) || !isfinite(c->rope_theta))
        return "rope_theta must be positive and finite";
    return NULL;
}

const char *
ep_llm_config_problem(const ep_llm_config *cfg)
{
    return cfg ? config_problem(cfg) : "no config";
}

/* Floats in the block (llama2.c tensors without the RoPE tables). Bounded by the limits of
 * config_problem, so no overflow. */
static uint64_t
weight_floats(const ep_llm_config *c)
{
    uint64_t d = (uint64_t)c->dim, h = (uint64_t)c->hidden_dim, l = (uint64_t)c->n_layers;
    uint64_t voc = (uint64_t)c->vocab_size;
    uint64_t kv = (uint64_t)c->n_kv_heads * (d / (uint64_t)c->n_heads);

    return voc * d + 2 * l * d + 2 * l * d * d + 2 * l * kv * d + 3 * l * d * h + d +
           (c->shared_classifier ? 0 : voc * d);
}

static void
set_pointers(ep_llm *m)
{
    const ep_llm_config *c = &m->cfg;
    size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim, l = (size_t)c->n_layers;
    size_t kv = (size_t)m->kv_dim, voc = (size_t)c->vocab_size;
    float *p = m->block;

    m->w.token_embedding = p, p += voc * d;
    m->w.rms_att = p, p += l * d;
    m->w.wq = p, p += l * d * d;
    m->w.wk = p, p += l * kv * d;
    m->w.wv = p, p += l * kv * d;
    m->w.wo = p, p += l * d * d;
    m->w.rms_ffn = p, p += l * d;
    m->w.w1 = p, p += l * h * d;
    m->w.w2 = p, p += l * d * h;
    m->w.w3 = p, p += l * h * d;
    m->w.rms_final = p, p += d;
    m->w.wcls = c->shared_classifier ? m->w.token_embedding : p;
}

/* A model with an uninitialized block; the config must be valid. */
static int
model_alloc(const ep_llm_config *cfg, ep_llm **out)
{
    uint64_t n = weight_floats(cfg);
    ep_llm *m;

    if (n > SIZE_MAX / sizeof(float))
        return EP_ENOMEM;
    m = calloc(1, sizeof(*m));
    if (!m)
        return EP_ENOMEM;
    m->cfg = *cfg;
    m->head_size = cfg->dim / cfg->n_heads;
    m->kv_dim = cfg->n_kv_heads * m->head_size;
    m->block = malloc((size_t)n * sizeof(float));
    if (!m->block) {
        free(m);
        return EP_ENOMEM;
    }
    set_pointers(m);
    *out = m;
    return 0;
}

static void
fill_gauss(ep_rng *rng, float *p, size_t n, double mean, double sigma)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)(mean + ep_rng_gaussian(rng, sigma));
}

int
ep_llm_new(const ep_llm_config *cfg, uint64_t seed, ep_llm **out)
{
    ep_llm *m = NULL;
    ep_rng rng;
    int rc;

    if (!cfg || !out || config_problem(cfg))
        return EP_EINVAL;
    rc = model_alloc(cfg, &m);
    if (rc < 0)
        return rc;
    rc = ep_rng_init(&rng, seed, LLM_STREAM);
    if (rc < 0) {
        ep_llm_free(m);
        return rc;
    }
    size_t d = (size_t)cfg->dim, h = (size_t)cfg->hidden_dim, l = (size_t)cfg->n_layers;
    size_t kv = (size_t)m->kv_dim, voc = (size_t)cfg->vocab_size;
    double sd = 1.0 / sqrt((double)d), sh = 1.0 / sqrt((double)h);

    fill_gauss(&rng, m->w.token_embedding, voc * d, 0.0, 1.0);
    fill_gauss(&rng, m->w.rms_att, l * d, 1.0, 0.1);
    fill_gauss(&rng, m->w.wq, l * d * d, 0.0, sd);
    fill_gauss(&rng, m->w.wk, l * kv * d, 0.0, sd);
    fill_gauss(&rng, m->w.wv, l * kv * d, 0.0, sd);
    fill_gauss(&rng, m->w.wo, l * d * d, 0.0, sd);
    fill_gauss(&rng, m->w.rms_ffn, l * d, 1.0, 0.1);
    fill_gauss(&rng, m->w.w1, l * h * d, 0.0, sd);
    fill_gauss(&rng, m->w.w2, l * d * h, 0.0, sh);
    fill_gauss(&rng, m->w.w3, l * h * d, 0.0, sd);
    fill_gauss(&rng, m->w.rms_final, d, 1.0, 0.1);
    if (!cfg->shared_classifier)
        fill_gauss(&rng, m->w.wcls, voc * d, 0.0, sd);
    ep_rng_fini(&rng);
    *out = m;
    return 0;
}

static int
read_floats(FILE *f, float *p, size_t n)
{
    return fread(p, sizeof(float), n, f) == n ? 0 : -1;
}

int
ep_llm_load(const char *path, ep_llm **out, char *err, size_t errlen)
{
    ep_llm_config cfg;
    ep_llm *m = NULL;
    int32_t hdr[7];
    const char *why;
    long len;
    int rc;

    if (!path || !out)
        return EP_EINVAL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        exec_seterr(err, errlen, "%s: %s", path, strerror(e));
        return e == ENOENT ? EP_ENOENT : EP_EIO;
    }
    if (fread(hdr, sizeof(hdr[0]), 7, f) != 7) {
        exec_seterr(err, errlen, "%s: shorter than the %d-byte llama2.c header", path,
                    HEADER_BYTES);
        rc = EP_EPARSE;
        goto fail;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.dim = hdr[0];
    cfg.hidden_dim = hdr[1];
    cfg.n_layers = hdr[2];
    cfg.n_heads = hdr[3];
    cfg.n_kv_heads = hdr[4];
    cfg.vocab_size = hdr[5] == INT32_MIN ? 0 : abs(hdr[5]);
    cfg.shared_classifier = hdr[5] > 0;
    cfg.max_seq_len = hdr[6];
    cfg.rope_theta = 10000.0f;
    why = config_problem(&cfg);
    if (why) {
        exec_seterr(err, errlen,
                    "%s: bad header (dim %d, hidden %d, layers %d, heads %d, kv heads %d, "
                    "vocab %d, seq %d): %s",
                    path, hdr[0], hdr[1], hdr[2], hdr[3], hdr[4], hdr[5], hdr[6], why);
        rc = EP_EPARSE;
        goto fail;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 ||
        fseek(f, HEADER_BYTES, SEEK_SET) != 0) {
        exec_seterr(err, errlen, "%s: cannot seek: %s", path, strerror(errno));
        rc = EP_EIO;
        goto fail;
    }
    uint64_t rope_floats = (uint64_t)cfg.max_seq_len * (uint64_t)(cfg.dim / cfg.n_heads);
    uint64_t want = HEADER_BYTES + 4 * (weight_floats(&cfg) + rope_floats);
    if ((uint64_t)len != want) {
        exec_seterr(err, errlen, "%s: %ld bytes, but the header implies %llu", path, len,
                    (unsigned long long)want);
        rc = EP_EPARSE;
        goto fail;
    }
    rc = model_alloc(&cfg, &m);
    if (rc < 0) {
        exec_seterr(err, errlen, "%s: %s", path, ep_strerror(rc));
        goto fail;
    }
    /* Everything up to rms_final is contiguous in both the file and the block. */
    size_t head = (size_t)(m->w.rms_final - m->block) + (size_t)cfg.dim;
    if (read_floats(f, m->block, head) < 0 ||
        fseek(f, (long)(rope_floats * sizeof(float)), SEEK_CUR) != 0 ||
        (!cfg.shared_classifier &&
         read_floats(f, m->w.wcls, (size_t)cfg.vocab_size * (size_t)cfg.dim) < 0)) {
        exec_seterr(err, errlen, "%s: read error", path);
        rc = EP_EIO;
        goto fail;
    }
    fclose(f);
    *out = m;
    return 0;
fail:
    ep_llm_free(m);
    fclose(f);
    return rc;
}

void
ep_llm_free(ep_llm *m)
{
    if (!m)
        return;
    free(m->block);
    free(m);
}

const ep_llm_config *
ep_llm_get_config(const ep_llm *m)
{
    return &m->cfg;
}

const ep_llm_weights *
ep_llm_get_weights(const ep_llm *m)
{
    return &m->w;
}

int
ep_llm_seq_new(const ep_llm *m, ep_llm_seq **out)
{
    ep_llm_seq *s;
    size_t n;

    if (!m || !out)
        return EP_EINVAL;
    n = (size_t)m->cfg.n_layers * (size_t)m->cfg.max_seq_len * (size_t)m->kv_dim;
    s = calloc(1, sizeof(*s));
    if (!s)
        return EP_ENOMEM;
    s->model = m;
    s->k = calloc(n, sizeof(float));
    s->v = calloc(n, sizeof(float));
    if (!s->k || !s->v) {
        ep_llm_seq_free(s);
        return EP_ENOMEM;
    }
    *out = s;
    return 0;
}

void
ep_llm_seq_free(ep_llm_seq *s)
{
    if (!s)
        return;
    free(s->k);
    free(s->v);
    free(s);
}

int
ep_llm_seq_pos(const ep_llm_seq *s)
{
    return s->pos;
}

void
ep_llm_seq_reset(ep_llm_seq *s)
{
    s->pos = 0;
}

void
ep_llm_seq_truncate(ep_llm_seq *s, int pos)
{
    if (pos >= 0 && pos < s->pos)
        s->pos = pos;
}

void
ep_llm_seq_cache(const ep_llm_seq *s, const float **k, const float **v)
{
    *k = s->k;
    *v = s->v;
}

/* ---- forward pass ---- */

struct scratch {
    float *x;   /* [rows][dim] residual stream */
    float *xb;  /* [rows][dim] normed input, then attention output */
    float *xo;  /* [rows][dim] projection output */
    float *q;   /* [rows][dim] */
    float *k;   /* [rows][kv_dim] */
    float *v;   /* [rows][kv_dim] */
    float *hb;  /* [rows][hidden] */
    float *hb2; /* [rows][hidden] */
    float *att; /* [max_seq_len] */
    float *mem;
};

static int
scratch_alloc(struct scratch *s, const ep_llm *m, int rows)
{
    size_t r = (size_t)rows, d = (size_t)m->cfg.dim, kv = (size_t)m->kv_dim;
    size_t h = (size_t)m->cfg.hidden_dim;
    size_t n = r * (4 * d + 2 * kv + 2 * h) + (size_t)m->cfg.max_seq_len;
    float *p = malloc(n * sizeof(float));

    if (!p)
        return EP_ENOMEM;
    s->mem = p;
    s->x = p, p += r * d;
    s->xb = p, p += r * d;
    s->xo = p, p += r * d;
    s->q = p, p += r * d;
    s->k = p, p += r * kv;
    s->v = p, p += r * kv;
    s->hb = p, p += r * h;
    s->hb2 = p, p += r * h;
    s->att = p;
    return 0;
}

/* out[rows][n_out] = in[rows][n_in] * w^T, with w stored [n_out][n_in]. */
static void
matmul(float *out, const float *in, const float *w, int rows, int n_in, int n_out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n_out, n_in, 1.0f, in, n_in, w, n_in,
                0.0f, out, n_out);
}

static void
rmsnorm(float *o, const float *x, const float *g, int n)
{
    double ss = 0.0;

    for (int i = 0; i < n; i++)
        ss += (double)x[i] * (double)x[i];
    float scale = (float)(1.0 / sqrt(ss / n + (double)EP_LLM_RMS_EPS));
    for (int i = 0; i < n; i++)
        o[i] = g[i] * (scale * x[i]);
}

/* Rotates consecutive pairs (llama2.c convention) of each head of vec (n = heads * hs). */
static void
rope(float *vec, int n, int hs, int pos, double theta)
{
    for (int i = 0; i < n; i += 2) {
        double freq = pow(theta, -(double)(i % hs) / hs);
        double a = pos * freq;
        float c = (float)cos(a), s = (float)sin(a);
        float v0 = vec[i], v1 = vec[i + 1];
        vec[i] = v0 * c - v1 * s;
        vec[i + 1] = v0 * s + v1 * c;
    }
}

static void
softmax(float *x, int n)
{
    float mx = x[0];
    double sum = 0.0;

    for (int i = 1; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    for (int i = 0; i < n; i++)
        x[i] = (float)(x[i] / sum);
}

/* Causal attention of one row at position pos over seq's cache of layer l (already holding
 * positions [0, pos]); q is the row's queries, out its [dim] output. */
static void
attend(const ep_llm *m, const ep_llm_seq *seq, int l, int pos, const float *q, float *out,
       float *att)
{
    int hs = m->head_size, kvd = m->kv_dim, group = m->cfg.n_heads / m->cfg.n_kv_heads;
    size_t base = (size_t)l * (size_t)m->cfg.max_seq_len * (size_t)kvd;
    float scale = 1.0f / sqrtf((float)hs);

    for (int h = 0; h < m->cfg.n_heads; h++) {
        const float *kc = seq->k + base + (size_t)(h / group) * (size_t)hs;
        const float *vc = seq->v + base + (size_t)(h / group) * (size_t)hs;

        cblas_sgemv(CblasRowMajor, CblasNoTrans, pos + 1, hs, scale, kc, kvd, q + h * hs, 1, 0.0f,
                    att, 1);
        softmax(att, pos + 1);
        cblas_sgemv(CblasRowMajor, CblasTrans, pos + 1, hs, 1.0f, vc, kvd, att, 1, 0.0f,
                    out + h * hs, 1);
    }
}

/* Runs `rows` tokens. Row r belongs to seqs[r * stride] at position pos0[r * stride] + r *
 * (stride == 0): stride 0 is one sequence's consecutive tokens, stride 1 one token per
 * sequence. Logits of rows [from, rows) go to logits (if not NULL). Writes the caches at
 * the rows' positions but moves no position. */
static void
forward(const ep_llm *m, ep_llm_seq *const *seqs, int stride, const int *tokens, int rows, int from,
        float *logits, struct scratch *s)
{
    const ep_llm_config *c = &m->cfg;
    const ep_llm_weights *w = &m->w;
    int d = c->dim, kvd = m->kv_dim, hd = c->hidden_dim;
    size_t dd = (size_t)d, ud = (size_t)kvd, uh = (size_t)hd;
    size_t seq_len = (size_t)c->max_seq_len;

    for (int r = 0; r < rows; r++)
        memcpy(s->x + (size_t)r * dd, w->token_embedding + (size_t)tokens[r] * dd,
               dd * sizeof(float));
    for (int l = 0; l < c->n_layers; l++) {
        size_t ul = (size_t)l;
        for (int r = 0; r < rows; r++)
            rmsnorm(s->xb + (size_t)r * dd, s->x + (size_t)r * dd, w->rms_att + ul * dd, d);
        matmul(s->q, s->xb, w->wq + ul * dd * dd, rows, d, d);
        matmul(s->k, s->xb, w->wk + ul * ud * dd, rows, d, kvd);
        matmul(s->v, s->xb, w->wv + ul * ud * dd, rows, d, kvd);
        /* All rows' K/V enter the caches before any row attends, so a prefill row sees
         * the rows before it. */
        for (int r = 0; r < rows; r++) {
            ep_llm_seq *seq = seqs[r * stride];
            int pos = seq->pos + (stride == 0 ? r : 0);
            size_t at = (ul * seq_len + (size_t)pos) * ud;

            rope(s->q + (size_t)r * dd, d, m->head_size, pos, c->rope_theta);
            rope(s->k + (size_t)r * ud, kvd, m->head_size, pos, c->rope_theta);
            memcpy(seq->k + at, s->k + (size_t)r * ud, ud * sizeof(float));
            memcpy(seq->v + at, s->v + (size_t)r * ud, ud * sizeof(float));
        }
        for (int r = 0; r < rows; r++) {
            const ep_llm_seq *seq = seqs[r * stride];
            int pos = seq->pos + (stride == 0 ? r : 0);
            attend(m, seq, l, pos, s->q + (size_t)r * dd, s->xb + (size_t)r * dd, s->att);
        }
        matmul(s->xo, s->xb, w->wo + ul * dd * dd, rows, d, d);
        for (size_t i = 0; i < (size_t)rows * dd; i++)
            s->x[i] += s->xo[i];

        for (int r = 0; r < rows; r++)
            rmsnorm(s->xb + (size_t)r * dd, s->x + (size_t)r * dd, w->rms_ffn + ul * dd, d);
        matmul(s->hb, s->xb, w->w1 + ul * uh * dd, rows, d, hd);
        matmul(s->hb2, s->xb, w->w3 + ul * uh * dd, rows, d, hd);
        for (size_t i = 0; i < (size_t)rows * uh; i++) {
            float g = s->hb[i];
            s->hb[i] = g / (1.0f + expf(-g)) * s->hb2[i];
        }
        matmul(s->xo, s->hb, w->w2 + ul * dd * uh, rows, hd, d);
        for (size_t i = 0; i < (size_t)rows * dd; i++)
            s->x[i] += s->xo[i];
    }
    if (!logits)
        return;
    for (int r = from; r < rows; r++)
        rmsnorm(s->xb + (size_t)r * dd, s->x + (size_t)r * dd, w->rms_final, d);
    matmul(logits, s->xb + (size_t)from * dd, w->wcls, rows - from, d, c->vocab_size);
}

static int
tokens_ok(const ep_llm *m, const int *tokens, int n)
{
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= m->cfg.vocab_size)
            return 0;
    return 1;
}

int
ep_llm_prefill(const ep_llm *m, ep_llm_seq *seq, const int *tokens, int n, float *logits_out)
{
    struct scratch s;
    int rc;

    if (!m || !seq || !tokens || n < 1 || seq->model != m || !tokens_ok(m, tokens, n))
        return EP_EINVAL;
    if (n > m->cfg.max_seq_len - seq->pos)
        return EP_ERANGE;
    rc = scratch_alloc(&s, m, n);
    if (rc < 0)
        return rc;
    forward(m, &seq, 0, tokens, n, n - 1, logits_out, &s);
    seq->pos += n;
    free(s.mem);
    return 0;
}

int
ep_llm_decode_batch(const ep_llm *m, ep_llm_seq *const *seqs, const int *tokens, int batch,
                    float *logits_out)
{
    struct scratch s;
    int rc;

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
    rc = scratch_alloc(&s, m, batch);
    if (rc < 0)
        return rc;
    forward(m, seqs, 1, tokens, batch, 0, logits_out, &s);
    for (int i = 0; i < batch; i++)
        seqs[i]->pos++;
    free(s.mem);
    return 0;
}
