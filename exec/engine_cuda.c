/* The cuda engine: the cpu engine (engine_cpu.c) with its forward passes on one GPU through
 * the ep_cuda_* kernels. Models are made on the host exactly as the cpu engine makes them and
 * uploaded, prompt tokens, DNN inputs, greedy decoding and slot clamping at max_seq_len are
 * the cpu engine's, so both kinds compute the same function. Built only with ep_cuda. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"
#include "epara/engine_cuda.h"
#include "epara/error.h"

typedef struct cuda_engine {
    char device[128]; /* "NVIDIA H100 (sm_90)" */
} cuda_engine;

typedef struct cuda_inst {
    /* LLM */
    ep_cuda_llm *llm;
    ep_cuda_llm_seq **seqs; /* [nslots]; NULL while a slot is empty */
    int *next;              /* [nslots] token the slot's next decode feeds */
    int *toks;              /* [max(max_seq_len, nslots)] prefill tokens, then decode tokens */
    ep_cuda_llm_seq **dseqs;
    int *dslots;
    float *logits; /* host, [logits_rows][vocab] */
    int logits_rows;
    /* DNN */
    ep_cuda_seg *seg;
    int side;
    float *img; /* host, [img_cap][channels][side][side], as the cpu engine's */
    float *out; /* host, [img_cap][classes][side][side] */
    int img_cap;
} cuda_inst;

/* "what: error (CUDA's message)"; the CUDA message only for errors that come with one. */
static void
cuda_seterr(char *err, size_t errlen, const char *what, int rc)
{
    const char *why = ep_cuda_last_error();

    if (!err || !errlen)
        return;
    if ((rc == EP_EIO || rc == EP_ENOTSUP || rc == EP_ENOMEM) && why[0])
        snprintf(err, errlen, "%s: %s (%s)", what, ep_strerror(rc), why);
    else
        snprintf(err, errlen, "%s: %s", what, ep_strerror(rc));
}

static int
cuda_available(void)
{
    return ep_cuda_available();
}

static int
cuda_open(ep_engine *e, char *err, size_t errlen)
{
    int rc;

    if (!ep_cuda_available()) {
        if (err && errlen)
            snprintf(err, errlen, "no CUDA device (%s)", ep_cuda_last_error());
        return EP_ENOTSUP;
    }
    if ((rc = exec_engine_check_shapes(e, err, errlen)) != 0)
        return rc;
    cuda_engine *c = calloc(1, sizeof *c);
    if (!c) {
        cuda_seterr(err, errlen, "cuda engine", EP_ENOMEM);
        return EP_ENOMEM;
    }
    if ((rc = ep_cuda_device_name(c->device, sizeof c->device, NULL)) != 0) {
        cuda_seterr(err, errlen, "CUDA device", rc);
        free(c);
        return rc;
    }
    e->state = c;
    return 0;
}

static void
cuda_close(ep_engine *e)
{
    free(e->state);
    e->state = NULL;
}

static void
cuda_unload(ep_engine_inst *i)
{
    cuda_inst *c = i->impl;

    if (!c)
        return;
    for (int s = 0; c->seqs && s < i->nslots; s++)
        ep_cuda_llm_seq_free(c->seqs[s]);
    free(c->seqs);
    free(c->next);
    free(c->toks);
    free(c->dseqs);
    free(c->dslots);
    free(c->logits);
    ep_cuda_llm_free(c->llm);
    ep_cuda_seg_free(c->seg);
    free(c->img);
    free(c->out);
    free(c);
    i->impl = NULL;
}

/* The segmentation net of the cpu engine (same seed), uploaded. */
static int
load_seg(const ep_engine *e, cuda_inst *c, uint64_t seed, char *err, size_t errlen)
{
    ep_seg *host = NULL;
    int rc = ep_seg_new(&e->o.seg, seed, &host);

    if (rc) {
        cuda_seterr(err, errlen, "segmentation net", rc);
        return rc;
    }
    rc = ep_cuda_seg_new(host, &c->seg);
    ep_seg_free(host);
    if (rc)
        cuda_seterr(err, errlen, "segmentation net upload", rc);
    return rc;
}

/* The decoder of the cpu engine (same seed, or the checkpoint), uploaded. */
static int
load_llm(const ep_engine *e, cuda_inst *c, uint64_t seed, char *err, size_t errlen)
{
    ep_llm *host = NULL;
    int rc;

    if (e->o.checkpoint) {
        rc = ep_llm_load(e->o.checkpoint, &host, err, errlen);
    } else {
        rc = ep_llm_new(&e->o.llm, seed, &host);
        if (rc)
            cuda_seterr(err, errlen, "decoder", rc);
    }
    if (rc)
        return rc;
    rc = ep_cuda_llm_new(host, &c->llm);
    ep_llm_free(host);
    if (rc)
        cuda_seterr(err, errlen, "decoder upload", rc);
    return rc;
}

static int
cuda_load(ep_engine_inst *i, char *err, size_t errlen)
{
    const ep_engine *e = i->eng;
    cuda_inst *c = calloc(1, sizeof *c);
    int rc;

    if (!c) {
        cuda_seterr(err, errlen, "cuda engine", EP_ENOMEM);
        return EP_ENOMEM;
    }
    i->impl = c;
    uint64_t seed = ep_engine_model_seed(e->o.seed, i->svc);
    if (i->kind == EP_SVC_DNN) {
        c->side = e->o.seg_side;
        if ((rc = load_seg(e, c, seed, err, errlen)) != 0)
            goto fail;
        return 0;
    }
    if ((rc = load_llm(e, c, seed, err, errlen)) != 0)
        goto fail;
    size_t n = (size_t)i->nslots;
    int seq = ep_cuda_llm_get_config(c->llm)->max_seq_len;
    c->seqs = calloc(n, sizeof *c->seqs);
    c->next = calloc(n, sizeof *c->next);
    c->dseqs = calloc(n, sizeof *c->dseqs);
    c->dslots = calloc(n, sizeof *c->dslots);
    c->toks = calloc((size_t)(seq > i->nslots ? seq : i->nslots), sizeof *c->toks);
    if (!c->seqs || !c->next || !c->dseqs || !c->dslots || !c->toks) {
        rc = EP_ENOMEM;
        cuda_seterr(err, errlen, "cuda engine", rc);
        goto fail;
    }
    return 0;
fail:
    cuda_unload(i);
    return rc;
}

/* Makes sure the host logits buffer holds `rows` rows. */
static int
logits_reserve(cuda_inst *c, int rows)
{
    if (rows <= c->logits_rows)
        return 0;
    size_t vocab = (size_t)ep_cuda_llm_get_config(c->llm)->vocab_size;
    float *p = realloc(c->logits, (size_t)rows * vocab * sizeof *p);
    if (!p)
        return EP_ENOMEM;
    c->logits = p;
    c->logits_rows = rows;
    return 0;
}

/* Prefills `tokens` prompt tokens of slot s, whose sequence has taken in `logical` tokens
 * (the cpu engine's cpu_prefill, on the device). */
static int
cuda_prefill(ep_engine_inst *i, cuda_inst *c, int s, int tokens, int64_t logical)
{
    const ep_llm_config *cfg = ep_cuda_llm_get_config(c->llm);
    int max = cfg->max_seq_len, rc;

    if (!c->seqs[s] && (rc = ep_cuda_llm_seq_new(c->llm, &c->seqs[s])) != 0)
        return rc;
    ep_cuda_llm_seq *seq = c->seqs[s];
    /* Only the last max tokens fit; the tokens before them would be evicted anyway. */
    int n = tokens < max ? tokens : max;
    int64_t first = logical + tokens - n;
    if (ep_cuda_llm_seq_pos(seq) > max - n)
        ep_cuda_llm_seq_truncate(seq, max - n);
    for (int k = 0; k < n; k++)
        c->toks[k] = ep_engine_prompt_token(i->eng->o.seed, s, first + k, cfg->vocab_size);
    if ((rc = logits_reserve(c, 1)) != 0)
        return rc;
    rc = ep_cuda_llm_prefill(c->llm, seq, c->toks, n, c->logits);
    if (rc)
        return rc;
    c->next[s] = exec_engine_argmax(c->logits, cfg->vocab_size);
    return 0;
}

static int
cuda_llm_iter(ep_engine_inst *i, const ep_engine_work *w, int n, ep_time start, ep_dur est)
{
    cuda_inst *c = i->impl;
    const ep_llm_config *cfg = ep_cuda_llm_get_config(c->llm);
    int nd = 0, rc;

    (void)start;
    (void)est;
    for (int k = 0; k < n; k++) {
        if (w[k].decode) {
            c->dslots[nd++] = w[k].slot;
            continue;
        }
        rc = cuda_prefill(i, c, w[k].slot, w[k].tokens, i->pos[w[k].slot]);
        if (rc)
            return rc;
    }
    if (nd == 0)
        return 0;
    if ((rc = logits_reserve(c, nd)) != 0)
        return rc;
    for (int k = 0; k < nd; k++) {
        int s = c->dslots[k];
        ep_cuda_llm_seq *seq = c->seqs[s];
        if (ep_cuda_llm_seq_pos(seq) >= cfg->max_seq_len)
            ep_cuda_llm_seq_truncate(seq, cfg->max_seq_len - 1);
        c->dseqs[k] = seq;
        c->toks[k] = c->next[s];
    }
    rc = ep_cuda_llm_decode_batch(c->llm, c->dseqs, c->toks, nd, c->logits);
    if (rc)
        return rc;
    for (int k = 0; k < nd; k++)
        c->next[c->dslots[k]] = exec_engine_argmax(c->logits + (size_t)k * (size_t)cfg->vocab_size,
                                                   cfg->vocab_size);
    return 0;
}

static void
cuda_llm_release(ep_engine_inst *i, int slot)
{
    cuda_inst *c = i->impl;

    ep_cuda_llm_seq_free(c->seqs[slot]);
    c->seqs[slot] = NULL;
    c->next[slot] = 0;
}

static int
cuda_next_token(const ep_engine_inst *i, int slot)
{
    const cuda_inst *c = i->impl;
    return c->next[slot];
}

static int
cuda_max_tokens(const ep_engine_inst *i)
{
    const cuda_inst *c = i->impl;
    return ep_cuda_llm_get_config(c->llm)->max_seq_len;
}

/* Grows the host image buffers to `batch` images, the cpu engine's inputs. */
static int
images_reserve(ep_engine_inst *i, cuda_inst *c, int batch)
{
    if (batch <= c->img_cap)
        return 0;
    const ep_seg_config *g = ep_cuda_seg_get_config(c->seg);
    size_t px = (size_t)c->side * (size_t)c->side;
    size_t in = (size_t)g->in_channels * px, outn = (size_t)g->n_classes * px;
    float *img = realloc(c->img, (size_t)batch * in * sizeof *img);
    if (!img)
        return EP_ENOMEM;
    c->img = img;
    float *out = realloc(c->out, (size_t)batch * outn * sizeof *out);
    if (!out)
        return EP_ENOMEM;
    c->out = out;
    exec_engine_images(i->eng->o.seed, img, (size_t)c->img_cap * in, (size_t)batch * in);
    c->img_cap = batch;
    return 0;
}

static int
cuda_dnn_batch(ep_engine_inst *i, int batch, ep_time start, ep_dur est)
{
    cuda_inst *c = i->impl;
    int rc;

    (void)start;
    (void)est;
    if ((rc = images_reserve(i, c, batch)) != 0)
        return rc;
    /* Measured time includes copying the images in and the logits out. */
    return ep_cuda_seg_forward(c->seg, c->img, batch, c->side, c->side, c->out);
}

static void
cuda_describe(const ep_engine_inst *i, char *buf, size_t len)
{
    const cuda_inst *c = i->impl;
    const cuda_engine *ce = i->eng->state;

    if (i->kind == EP_SVC_DNN) {
        const ep_seg_config *g = ep_cuda_seg_get_config(c->seg);
        snprintf(buf, len, "cuda dnn channels=%d,width=%d,classes=%d,side=%d on %s", g->in_channels,
                 g->width, g->n_classes, c->side, ce->device);
        return;
    }
    const ep_llm_config *g = ep_cuda_llm_get_config(c->llm);
    const char *ck = i->eng->o.checkpoint, *slash = ck ? strrchr(ck, '/') : NULL;
    snprintf(buf, len,
             "cuda llm%s%s dim=%d,hidden=%d,layers=%d,heads=%d,kv_heads=%d,vocab=%d,seq=%d on %s",
             ck ? " " : "", ck ? (slash ? slash + 1 : ck) : "", g->dim, g->hidden_dim, g->n_layers,
             g->n_heads, g->n_kv_heads, g->vocab_size, g->max_seq_len, ce->device);
}

static const exec_engine_ops cuda_ops = {
        .name = "cuda",
        .available = cuda_available,
        .open = cuda_open,
        .close = cuda_close,
        .load = cuda_load,
        .unload = cuda_unload,
        .dnn_batch = cuda_dnn_batch,
        .llm_iter = cuda_llm_iter,
        .llm_release = cuda_llm_release,
        .next_token = cuda_next_token,
        .max_tokens = cuda_max_tokens,
        .describe = cuda_describe,
};

const exec_engine_ops *
exec_engine_cuda_ops(void)
{
    return &cuda_ops;
}
