/* The cuda engine: the cpu engine with its forward passes on one GPU through the ep_cuda_*
 * kernels. Instances, slots, prompt tokens, DNN inputs, greedy decoding and clamping at
 * max_seq_len are engine_model.c's, as for the cpu engine, and the models are the cpu
 * kernels' uploaded, so both kinds compute the same function. Built only with ep_cuda. */
#include <stdio.h>
#include <stdlib.h>

#include "engine_impl.h"
#include "epara/exec/engine_cuda.h"
#include "epara/core/error.h"

typedef struct cuda_engine {
    char device[128]; /* "NVIDIA H100 (sm_90)" */
} cuda_engine;

static const exec_model_ops cuda_model;

/* The CUDA message, for the errors that come with one. */
static const char *
cuda_why(int rc)
{
    const char *why = ep_cuda_last_error();

    if ((rc == EP_EIO || rc == EP_ENOTSUP || rc == EP_ENOMEM) && why[0])
        return why;
    return NULL;
}

/* "what: error (CUDA's message)"; the CUDA message only for errors that come with one. */
static void
cuda_seterr(char *err, size_t errlen, const char *what, int rc)
{
    exec_model_seterr(&cuda_model, err, errlen, what, rc);
}

static const char *
cuda_device(const ep_engine *e)
{
    const cuda_engine *ce = e->state;
    return ce->device;
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

/* The decoder the cpu engine would run (same seed, or the checkpoint), uploaded; the host
 * copy is freed. */
static int
llm_adopt(ep_llm *host, void **out, char *err, size_t errlen)
{
    ep_cuda_llm *m = NULL;
    int rc = ep_cuda_llm_new(host, &m);

    ep_llm_free(host);
    if (rc) {
        cuda_seterr(err, errlen, "decoder upload", rc);
        return rc;
    }
    *out = m;
    return 0;
}

static void
llm_free(void *llm)
{
    ep_cuda_llm_free(llm);
}

static const ep_llm_config *
llm_config(const void *llm)
{
    return ep_cuda_llm_get_config(llm);
}

/* One device KV cache per slot, from its first prefill to its release. */
static int
seq_new(void *llm, void **out)
{
    ep_cuda_llm_seq *s = NULL;
    int rc = ep_cuda_llm_seq_new(llm, &s);

    if (rc == 0)
        *out = s;
    return rc;
}

static void
seq_free(void *seq)
{
    ep_cuda_llm_seq_free(seq);
}

static int
seq_pos(const void *seq)
{
    return ep_cuda_llm_seq_pos(seq);
}

static void
seq_truncate(void *seq, int pos)
{
    ep_cuda_llm_seq_truncate(seq, pos);
}

/* Measured times include copying the token ids in and the logits out. */
static int
prefill(void *llm, void *seq, const int *tokens, int n, float *logits)
{
    return ep_cuda_llm_prefill(llm, seq, tokens, n, logits);
}

_Static_assert(sizeof(ep_cuda_llm_seq *) <= sizeof(void *), "decode scratch holds void pointers");

static int
decode_batch(void *llm, void *const *seqs, void *scratch, const int *tokens, int n, float *logits)
{
    ep_cuda_llm_seq **typed = scratch;

    for (int k = 0; k < n; k++)
        typed[k] = seqs[k];
    return ep_cuda_llm_decode_batch(llm, typed, tokens, n, logits);
}

/* The segmentation net the cpu engine would run (same seed), uploaded; the host copy is
 * freed. */
static int
seg_adopt(ep_seg *host, void **out, char *err, size_t errlen)
{
    ep_cuda_seg *n = NULL;
    int rc = ep_cuda_seg_new(host, &n);

    ep_seg_free(host);
    if (rc) {
        cuda_seterr(err, errlen, "segmentation net upload", rc);
        return rc;
    }
    *out = n;
    return 0;
}

static void
seg_free(void *seg)
{
    ep_cuda_seg_free(seg);
}

static const ep_seg_config *
seg_config(const void *seg)
{
    return ep_cuda_seg_get_config(seg);
}

/* Measured times include copying the images in and the logits out. */
static int
seg_forward(void *seg, const float *images, int batch, int h, int w, float *logits)
{
    return ep_cuda_seg_forward(seg, images, batch, h, w, logits);
}

static const exec_model_ops cuda_model = {
        .why = cuda_why,
        .device = cuda_device,
        .llm_adopt = llm_adopt,
        .llm_free = llm_free,
        .llm_config = llm_config,
        .seq_new = seq_new,
        .seq_free = seq_free,
        .seq_pos = seq_pos,
        .seq_truncate = seq_truncate,
        .prefill = prefill,
        .decode_batch = decode_batch,
        .seg_adopt = seg_adopt,
        .seg_free = seg_free,
        .seg_config = seg_config,
        .seg_forward = seg_forward,
};

static const exec_engine_ops cuda_ops = {
        .name = "cuda",
        .model = &cuda_model,
        .available = cuda_available,
        .open = cuda_open,
        .close = cuda_close,
        EXEC_MODEL_ENGINE_OPS,
};

const exec_engine_ops *
exec_engine_cuda_ops(void)
{
    return &cuda_ops;
}
