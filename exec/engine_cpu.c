/* The cpu engine: real FP32 compute with the cpu kernels (cpu_llm.c, cpu_seg.c) on a small
 * configured shape. An LLM slot owns a KV cache from its first prefill to its release and
 * remembers its greedy next token; a slot's cache never exceeds max_seq_len (the newest
 * cached tokens make room), so long sequences cost what a full cache costs. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"
#include "epara/error.h"

typedef struct cpu_inst {
    /* LLM */
    ep_llm *llm;
    ep_llm_seq **seqs; /* [nslots]; NULL while a slot is empty */
    int *next;         /* [nslots] token the slot's next decode feeds */
    int *toks;         /* [max_seq_len] prefill tokens, then decode tokens */
    ep_llm_seq **dseqs;
    int *dslots;
    float *logits; /* [logits_rows][vocab] */
    int logits_rows;
    /* DNN */
    ep_seg *seg;
    int side;
    float *img; /* [img_cap][channels][side][side], deterministic pseudo-random */
    float *out; /* [img_cap][classes][side][side] */
    int img_cap;
} cpu_inst;

static void
cpu_seterr(char *err, size_t errlen, const char *what, int rc)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", what, ep_strerror(rc));
}

static int
cpu_open(ep_engine *e, char *err, size_t errlen)
{
    int rc = exec_engine_check_shapes(e, err, errlen);

    if (rc)
        return rc;
    if (e->o.threads > 0)
        openblas_set_num_threads(e->o.threads);
    return 0;
}

static void
cpu_unload(ep_engine_inst *i)
{
    cpu_inst *c = i->impl;

    if (!c)
        return;
    for (int s = 0; c->seqs && s < i->nslots; s++)
        ep_llm_seq_free(c->seqs[s]);
    free(c->seqs);
    free(c->next);
    free(c->toks);
    free(c->dseqs);
    free(c->dslots);
    free(c->logits);
    ep_llm_free(c->llm);
    ep_seg_free(c->seg);
    free(c->img);
    free(c->out);
    free(c);
    i->impl = NULL;
}

static int
cpu_load(ep_engine_inst *i, char *err, size_t errlen)
{
    const ep_engine *e = i->eng;
    cpu_inst *c = calloc(1, sizeof *c);
    int rc;

    if (!c) {
        cpu_seterr(err, errlen, "cpu engine", EP_ENOMEM);
        return EP_ENOMEM;
    }
    i->impl = c;
    uint64_t seed = ep_engine_model_seed(e->o.seed, i->svc);
    if (i->kind == EP_SVC_DNN) {
        c->side = e->o.seg_side;
        rc = ep_seg_new(&e->o.seg, seed, &c->seg);
        if (rc) {
            cpu_seterr(err, errlen, "segmentation net", rc);
            goto fail;
        }
        return 0;
    }
    if (e->o.checkpoint) {
        rc = ep_llm_load(e->o.checkpoint, &c->llm, err, errlen);
    } else {
        rc = ep_llm_new(&e->o.llm, seed, &c->llm);
        if (rc)
            cpu_seterr(err, errlen, "decoder", rc);
    }
    if (rc)
        goto fail;
    size_t n = (size_t)i->nslots;
    int seq = ep_llm_get_config(c->llm)->max_seq_len;
    c->seqs = calloc(n, sizeof *c->seqs);
    c->next = calloc(n, sizeof *c->next);
    c->dseqs = calloc(n, sizeof *c->dseqs);
    c->dslots = calloc(n, sizeof *c->dslots);
    c->toks = calloc((size_t)(seq > i->nslots ? seq : i->nslots), sizeof *c->toks);
    if (!c->seqs || !c->next || !c->dseqs || !c->dslots || !c->toks) {
        rc = EP_ENOMEM;
        cpu_seterr(err, errlen, "cpu engine", rc);
        goto fail;
    }
    return 0;
fail:
    cpu_unload(i);
    return rc;
}

/* Makes sure the logits buffer holds `rows` rows. */
static int
logits_reserve(cpu_inst *c, int rows)
{
    if (rows <= c->logits_rows)
        return 0;
    size_t vocab = (size_t)ep_llm_get_config(c->llm)->vocab_size;
    float *p = realloc(c->logits, (size_t)rows * vocab * sizeof *p);
    if (!p)
        return EP_ENOMEM;
    c->logits = p;
    c->logits_rows = rows;
    return 0;
}

/* Prefills `tokens` prompt tokens of slot s, whose sequence has taken in `logical` tokens. */
static int
cpu_prefill(ep_engine_inst *i, cpu_inst *c, int s, int tokens, int64_t logical)
{
    const ep_llm_config *cfg = ep_llm_get_config(c->llm);
    int max = cfg->max_seq_len, rc;

    if (!c->seqs[s] && (rc = ep_llm_seq_new(c->llm, &c->seqs[s])) != 0)
        return rc;
    ep_llm_seq *seq = c->seqs[s];
    /* Only the last max tokens fit; the tokens before them would be evicted anyway. */
    int n = tokens < max ? tokens : max;
    int64_t first = logical + tokens - n;
    if (ep_llm_seq_pos(seq) > max - n)
        ep_llm_seq_truncate(seq, max - n);
    for (int k = 0; k < n; k++)
        c->toks[k] = ep_engine_prompt_token(i->eng->o.seed, s, first + k, cfg->vocab_size);
    if ((rc = logits_reserve(c, 1)) != 0)
        return rc;
    rc = ep_llm_prefill(c->llm, seq, c->toks, n, c->logits);
    if (rc)
        return rc;
    c->next[s] = exec_engine_argmax(c->logits, cfg->vocab_size);
    return 0;
}

static int
cpu_llm_iter(ep_engine_inst *i, const ep_engine_work *w, int n, ep_time start, ep_dur est)
{
    cpu_inst *c = i->impl;
    const ep_llm_config *cfg = ep_llm_get_config(c->llm);
    int nd = 0, rc;

    (void)start;
    (void)est;
    for (int k = 0; k < n; k++) {
        if (w[k].decode) {
            c->dslots[nd++] = w[k].slot;
            continue;
        }
        rc = cpu_prefill(i, c, w[k].slot, w[k].tokens, i->pos[w[k].slot]);
        if (rc)
            return rc;
    }
    if (nd == 0)
        return 0;
    if ((rc = logits_reserve(c, nd)) != 0)
        return rc;
    for (int k = 0; k < nd; k++) {
        int s = c->dslots[k];
        ep_llm_seq *seq = c->seqs[s];
        if (ep_llm_seq_pos(seq) >= cfg->max_seq_len)
            ep_llm_seq_truncate(seq, cfg->max_seq_len - 1);
        c->dseqs[k] = seq;
        c->toks[k] = c->next[s];
    }
    rc = ep_llm_decode_batch(c->llm, c->dseqs, c->toks, nd, c->logits);
    if (rc)
        return rc;
    for (int k = 0; k < nd; k++)
        c->next[c->dslots[k]] = exec_engine_argmax(c->logits + (size_t)k * (size_t)cfg->vocab_size,
                                                   cfg->vocab_size);
    return 0;
}

static void
cpu_llm_release(ep_engine_inst *i, int slot)
{
    cpu_inst *c = i->impl;

    ep_llm_seq_free(c->seqs[slot]);
    c->seqs[slot] = NULL;
    c->next[slot] = 0;
}

static int
cpu_next_token(const ep_engine_inst *i, int slot)
{
    const cpu_inst *c = i->impl;
    return c->next[slot];
}

static int
cpu_max_tokens(const ep_engine_inst *i)
{
    const cpu_inst *c = i->impl;
    return ep_llm_get_config(c->llm)->max_seq_len;
}

/* Grows the image buffers to `batch` images; new images get values in [0, 1) hashed from
 * the seed and their index (exec_engine_images), so every run segments the same inputs. */
static int
images_reserve(ep_engine_inst *i, cpu_inst *c, int batch)
{
    if (batch <= c->img_cap)
        return 0;
    const ep_seg_config *g = ep_seg_get_config(c->seg);
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
cpu_dnn_batch(ep_engine_inst *i, int batch, ep_time start, ep_dur est)
{
    cpu_inst *c = i->impl;
    int rc;

    (void)start;
    (void)est;
    if ((rc = images_reserve(i, c, batch)) != 0)
        return rc;
    return ep_seg_forward(c->seg, c->img, batch, c->side, c->side, c->out);
}

static void
cpu_describe(const ep_engine_inst *i, char *buf, size_t len)
{
    const cpu_inst *c = i->impl;

    if (i->kind == EP_SVC_DNN) {
        const ep_seg_config *g = ep_seg_get_config(c->seg);
        snprintf(buf, len, "cpu dnn channels=%d,width=%d,classes=%d,side=%d", g->in_channels,
                 g->width, g->n_classes, c->side);
        return;
    }
    const ep_llm_config *g = ep_llm_get_config(c->llm);
    const char *ck = i->eng->o.checkpoint, *slash = ck ? strrchr(ck, '/') : NULL;
    snprintf(buf, len,
             "cpu llm%s%s dim=%d,hidden=%d,layers=%d,heads=%d,kv_heads=%d,vocab=%d,seq=%d",
             ck ? " " : "", ck ? (slash ? slash + 1 : ck) : "", g->dim, g->hidden_dim, g->n_layers,
             g->n_heads, g->n_kv_heads, g->vocab_size, g->max_seq_len);
}

const exec_engine_ops exec_engine_cpu_ops = {
        .name = "cpu",
        .open = cpu_open,
        .load = cpu_load,
        .unload = cpu_unload,
        .dnn_batch = cpu_dnn_batch,
        .llm_iter = cpu_llm_iter,
        .llm_release = cpu_llm_release,
        .next_token = cpu_next_token,
        .max_tokens = cpu_max_tokens,
        .describe = cpu_describe,
};
