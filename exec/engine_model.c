/* The instances of the kinds that run the real models (cpu, cuda), over the kind's model table
 * (exec_model_ops in engine_impl.h). An LLM slot owns a sequence from its first prefill to its
 * release and remembers its greedy next token; a slot's cache never exceeds max_seq_len (the
 * newest cached tokens make room), so long sequences cost what a full cache costs. Written once
 * so that every such kind feeds its models the same work and computes the same function. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_impl.h"
#include "epara/core/error.h"

typedef struct model_inst {
    const exec_model_ops *m;
    /* LLM */
    void *llm;
    void **seqs;   /* [nslots]; NULL while a slot is empty */
    int *next;     /* [nslots] token the slot's next decode feeds */
    int *toks;     /* [max(max_seq_len, nslots)] prefill tokens, then decode tokens */
    void **dseqs;  /* [nslots] the decode batch's sequences */
    void *dtyped;  /* room for nslots pointers: m->decode_batch's scratch */
    int *dslots;   /* [nslots] the decode batch's slots */
    float *logits; /* host, [logits_rows][vocab] */
    int logits_rows;
    /* DNN */
    void *seg;
    int side;
    float *img; /* host, [img_cap][channels][side][side], deterministic pseudo-random */
    float *out; /* host, [img_cap][classes][side][side] */
    int img_cap;
    int img_given; /* some images were taken from request bytes (ep_engine_dnn_io) */
} model_inst;

void
exec_model_seterr(const exec_model_ops *m, char *err, size_t errlen, const char *what, int rc)
{
    const char *why = m->why ? m->why(rc) : NULL;

    if (!err || !errlen)
        return;
    if (why)
        snprintf(err, errlen, "%s: %s (%s)", what, ep_strerror(rc), why);
    else
        snprintf(err, errlen, "%s: %s", what, ep_strerror(rc));
}

/* "<kind> engine: error" for a failure of this file's own work (memory). */
static void
inst_seterr(const ep_engine_inst *i, char *err, size_t errlen, int rc)
{
    char what[64];

    snprintf(what, sizeof what, "%s engine", i->eng->ops->name);
    exec_model_seterr(i->eng->ops->model, err, errlen, what, rc);
}

void
exec_model_unload(ep_engine_inst *i)
{
    model_inst *c = i->impl;

    if (!c)
        return;
    for (int s = 0; c->seqs && s < i->nslots; s++)
        if (c->seqs[s])
            c->m->seq_free(c->seqs[s]);
    free(c->seqs);
    free(c->next);
    free(c->toks);
    free(c->dseqs);
    free(c->dtyped);
    free(c->dslots);
    free(c->logits);
    if (c->llm)
        c->m->llm_free(c->llm);
    if (c->seg)
        c->m->seg_free(c->seg);
    free(c->img);
    free(c->out);
    free(c);
    i->impl = NULL;
}

/* The segmentation net of service i->svc: the cpu kernels' (same seed), made the kind's. */
static int
load_seg(ep_engine_inst *i, model_inst *c, uint64_t seed, char *err, size_t errlen)
{
    const ep_engine *e = i->eng;
    ep_seg *host = NULL;
    int rc = ep_seg_new(&e->o.seg, seed, &host);

    if (rc) {
        exec_model_seterr(c->m, err, errlen, "segmentation net", rc);
        return rc;
    }
    return c->m->seg_adopt(host, &c->seg, err, errlen);
}

/* The decoder of service i->svc: the cpu kernels' (same seed, or the checkpoint), made the
 * kind's. */
static int
load_llm(ep_engine_inst *i, model_inst *c, uint64_t seed, char *err, size_t errlen)
{
    const ep_engine *e = i->eng;
    ep_llm *host = NULL;
    int rc;

    if (e->o.checkpoint) {
        rc = ep_llm_load(e->o.checkpoint, &host, err, errlen);
    } else {
        rc = ep_llm_new(&e->o.llm, seed, &host);
        if (rc)
            exec_model_seterr(c->m, err, errlen, "decoder", rc);
    }
    if (rc)
        return rc;
    return c->m->llm_adopt(host, &c->llm, err, errlen);
}

int
exec_model_load(ep_engine_inst *i, char *err, size_t errlen)
{
    const ep_engine *e = i->eng;
    model_inst *c = calloc(1, sizeof *c);
    int rc;

    if (!c) {
        inst_seterr(i, err, errlen, EP_ENOMEM);
        return EP_ENOMEM;
    }
    c->m = e->ops->model;
    i->impl = c;
    uint64_t seed = ep_engine_model_seed(e->o.seed, i->svc);
    if (i->kind == EP_SVC_DNN) {
        c->side = e->o.seg_side;
        if ((rc = load_seg(i, c, seed, err, errlen)) != 0)
            goto fail;
        return 0;
    }
    if ((rc = load_llm(i, c, seed, err, errlen)) != 0)
        goto fail;
    size_t n = (size_t)i->nslots;
    int seq = c->m->llm_config(c->llm)->max_seq_len;
    c->seqs = calloc(n, sizeof *c->seqs);
    c->next = calloc(n, sizeof *c->next);
    c->dseqs = calloc(n, sizeof *c->dseqs);
    c->dtyped = calloc(n, sizeof(void *));
    c->dslots = calloc(n, sizeof *c->dslots);
    c->toks = calloc((size_t)(seq > i->nslots ? seq : i->nslots), sizeof *c->toks);
    if (!c->seqs || !c->next || !c->dseqs || !c->dtyped || !c->dslots || !c->toks) {
        rc = EP_ENOMEM;
        inst_seterr(i, err, errlen, rc);
        goto fail;
    }
    return 0;
fail:
    exec_model_unload(i);
    return rc;
}

/* Makes sure the host logits buffer holds `rows` rows. */
static int
logits_reserve(model_inst *c, int rows)
{
    if (rows <= c->logits_rows)
        return 0;
    size_t vocab = (size_t)c->m->llm_config(c->llm)->vocab_size;
    float *p = realloc(c->logits, (size_t)rows * vocab * sizeof *p);
    if (!p)
        return EP_ENOMEM;
    c->logits = p;
    c->logits_rows = rows;
    return 0;
}

/* The token at position pos of slot s's sequence: the prompt's word there when it has one
 * (little-endian, modulo the vocabulary), else the engine's generated prompt token. */
static int
prompt_token(const ep_engine_inst *i, const ep_engine_work *w, int64_t pos, int vocab)
{
    if (w->prompt && pos < w->prompt_len / 4) {
        const uint8_t *b = w->prompt + 4 * pos;
        uint32_t v =
                (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
        return (int)(v % (uint32_t)vocab);
    }
    return ep_engine_prompt_token(i->eng->o.seed, w->slot, pos, vocab);
}

/* Prefills the tokens of work item w on its slot, whose sequence has taken in `logical`
 * tokens. */
static int
prefill(ep_engine_inst *i, model_inst *c, const ep_engine_work *w, int64_t logical)
{
    int s = w->slot, tokens = w->tokens;
    const ep_llm_config *cfg = c->m->llm_config(c->llm);
    int max = cfg->max_seq_len, rc;

    if (!c->seqs[s] && (rc = c->m->seq_new(c->llm, &c->seqs[s])) != 0)
        return rc;
    void *seq = c->seqs[s];
    /* Only the last max tokens fit; the tokens before them would be evicted anyway. */
    int n = tokens < max ? tokens : max;
    int64_t first = logical + tokens - n;
    if (c->m->seq_pos(seq) > max - n)
        c->m->seq_truncate(seq, max - n);
    for (int k = 0; k < n; k++)
        c->toks[k] = prompt_token(i, w, first + k, cfg->vocab_size);
    if ((rc = logits_reserve(c, 1)) != 0)
        return rc;
    rc = c->m->prefill(c->llm, seq, c->toks, n, c->logits);
    if (rc)
        return rc;
    c->next[s] = exec_engine_argmax(c->logits, cfg->vocab_size);
    return 0;
}

int
exec_model_llm_iter(ep_engine_inst *i, const ep_engine_work *w, int n, ep_time start, ep_dur est)
{
    model_inst *c = i->impl;
    const ep_llm_config *cfg = c->m->llm_config(c->llm);
    int nd = 0, rc;

    (void)start;
    (void)est;
    for (int k = 0; k < n; k++) {
        if (w[k].decode) {
            c->dslots[nd++] = w[k].slot;
            continue;
        }
        rc = prefill(i, c, &w[k], i->pos[w[k].slot]);
        if (rc)
            return rc;
    }
    if (nd == 0)
        return 0;
    if ((rc = logits_reserve(c, nd)) != 0)
        return rc;
    for (int k = 0; k < nd; k++) {
        int s = c->dslots[k];
        void *seq = c->seqs[s];
        if (c->m->seq_pos(seq) >= cfg->max_seq_len)
            c->m->seq_truncate(seq, cfg->max_seq_len - 1);
        c->dseqs[k] = seq;
        c->toks[k] = c->next[s];
    }
    rc = c->m->decode_batch(c->llm, c->dseqs, c->dtyped, c->toks, nd, c->logits);
    if (rc)
        return rc;
    for (int k = 0; k < nd; k++)
        c->next[c->dslots[k]] = exec_engine_argmax(c->logits + (size_t)k * (size_t)cfg->vocab_size,
                                                   cfg->vocab_size);
    return 0;
}

void
exec_model_llm_release(ep_engine_inst *i, int slot)
{
    model_inst *c = i->impl;

    if (c->seqs[slot])
        c->m->seq_free(c->seqs[slot]);
    c->seqs[slot] = NULL;
    c->next[slot] = 0;
}

int
exec_model_next_token(const ep_engine_inst *i, int slot)
{
    const model_inst *c = i->impl;
    return c->next[slot];
}

int
exec_model_max_tokens(const ep_engine_inst *i)
{
    const model_inst *c = i->impl;
    return c->m->llm_config(c->llm)->max_seq_len;
}

/* Grows the image buffers to `batch` images; new images get values in [0, 1) hashed from
 * the seed and their index (exec_engine_images), so every run and kind segments the same
 * inputs. */
static int
images_reserve(ep_engine_inst *i, model_inst *c, int batch)
{
    if (batch <= c->img_cap)
        return 0;
    const ep_seg_config *g = c->m->seg_config(c->seg);
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

int64_t
exec_model_mask_bytes(const ep_engine_inst *i)
{
    const model_inst *c = i->impl;
    return (int64_t)c->side * c->side;
}

/* An image of n values from `len` request bytes: value k is in[k mod len] / 255. */
static void
image_from_bytes(float *img, size_t n, const uint8_t *in, int64_t len)
{
    size_t m = (size_t)len;
    for (size_t k = 0, b = 0; k < n; k++, b = b + 1 == m ? 0 : b + 1)
        img[k] = (float)in[b] * (1.0f / 255.0f);
}

int
exec_model_dnn_batch(ep_engine_inst *i, int batch, const ep_engine_dnn_io *io, ep_time start,
                     ep_dur est)
{
    model_inst *c = i->impl;
    const ep_seg_config *g = c->m->seg_config(c->seg);
    size_t px = (size_t)c->side * (size_t)c->side, in = (size_t)g->in_channels * px;
    int rc;

    (void)start;
    (void)est;
    if ((rc = images_reserve(i, c, batch)) != 0)
        return rc;
    /* Images from request bytes; once some were, an item without them gets its generated
     * image back (the buffer no longer holds it). */
    for (int j = 0; j < batch; j++) {
        if (io && io->in && io->in_len && io->in_len[j] > 0) {
            image_from_bytes(c->img + (size_t)j * in, in, io->in[j], io->in_len[j]);
            c->img_given = 1;
        } else if (c->img_given) {
            exec_engine_images(i->eng->o.seed, c->img, (size_t)j * in, (size_t)(j + 1) * in);
        }
    }
    if ((rc = c->m->seg_forward(c->seg, c->img, batch, c->side, c->side, c->out)) != 0)
        return rc;
    for (int j = 0; io && io->mask && j < batch; j++) {
        if (!io->mask[j])
            continue;
        const float *lg = c->out + (size_t)j * (size_t)g->n_classes * px;
        int64_t n = io->mask_len < (int64_t)px ? io->mask_len : (int64_t)px;
        for (int64_t p = 0; p < n; p++) {
            int best = 0;
            for (int k = 1; k < g->n_classes; k++)
                if (lg[(size_t)k * px + (size_t)p] > lg[(size_t)best * px + (size_t)p])
                    best = k;
            io->mask[j][p] = (uint8_t)best;
        }
    }
    return 0;
}

void
exec_model_describe(const ep_engine_inst *i, char *buf, size_t len)
{
    const model_inst *c = i->impl;
    const char *kind = i->eng->ops->name;
    const char *dev = c->m->device ? c->m->device(i->eng) : NULL;
    const char *on = dev ? " on " : "";

    if (!dev)
        dev = "";
    if (i->kind == EP_SVC_DNN) {
        const ep_seg_config *g = c->m->seg_config(c->seg);
        snprintf(buf, len, "%s dnn channels=%d,width=%d,classes=%d,side=%d%s%s", kind,
                 g->in_channels, g->width, g->n_classes, c->side, on, dev);
        return;
    }
    const ep_llm_config *g = c->m->llm_config(c->llm);
    const char *ck = i->eng->o.checkpoint, *slash = ck ? strrchr(ck, '/') : NULL;
    snprintf(buf, len,
             "%s llm%s%s dim=%d,hidden=%d,layers=%d,heads=%d,kv_heads=%d,vocab=%d,seq=%d%s%s", kind,
             ck ? " " : "", ck ? (slash ? slash + 1 : ck) : "", g->dim, g->hidden_dim, g->n_layers,
             g->n_heads, g->n_kv_heads, g->vocab_size, g->max_seq_len, on, dev);
}
