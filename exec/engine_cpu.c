/* The cpu engine: real FP32 compute with the cpu kernels (cpu_llm.c, cpu_seg.c) on a small
 * configured shape. Instances, slots and batches are engine_model.c's; this file hands it the
 * kernels (the host models are used as they are built). */
#include <cblas.h>

#include "engine_impl.h"

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

static int
llm_adopt(ep_llm *host, void **out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    *out = host;
    return 0;
}

static void
llm_free(void *llm)
{
    ep_llm_free(llm);
}

static const ep_llm_config *
llm_config(const void *llm)
{
    return ep_llm_get_config(llm);
}

static int
seq_new(void *llm, void **out)
{
    ep_llm_seq *s = NULL;
    int rc = ep_llm_seq_new(llm, &s);

    if (rc == 0)
        *out = s;
    return rc;
}

static void
seq_free(void *seq)
{
    ep_llm_seq_free(seq);
}

static int
seq_pos(const void *seq)
{
    return ep_llm_seq_pos(seq);
}

static void
seq_truncate(void *seq, int pos)
{
    ep_llm_seq_truncate(seq, pos);
}

static int
prefill(void *llm, void *seq, const int *tokens, int n, float *logits)
{
    return ep_llm_prefill(llm, seq, tokens, n, logits);
}

_Static_assert(sizeof(ep_llm_seq *) <= sizeof(void *), "decode scratch holds void pointers");

static int
decode_batch(void *llm, void *const *seqs, void *scratch, const int *tokens, int n, float *logits)
{
    ep_llm_seq **typed = scratch;

    for (int k = 0; k < n; k++)
        typed[k] = seqs[k];
    return ep_llm_decode_batch(llm, typed, tokens, n, logits);
}

static int
seg_adopt(ep_seg *host, void **out, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    *out = host;
    return 0;
}

static void
seg_free(void *seg)
{
    ep_seg_free(seg);
}

static const ep_seg_config *
seg_config(const void *seg)
{
    return ep_seg_get_config(seg);
}

static int
seg_forward(void *seg, const float *images, int batch, int h, int w, float *logits)
{
    return ep_seg_forward(seg, images, batch, h, w, logits);
}

static const exec_model_ops cpu_model = {
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

const exec_engine_ops exec_engine_cpu_ops = {
        .name = "cpu",
        .model = &cpu_model,
        .open = cpu_open,
        EXEC_MODEL_ENGINE_OPS,
};
