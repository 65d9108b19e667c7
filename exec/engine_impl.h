/* Inside the engine interface (exec/ only): the state every engine shares and the ops table
 * each kind implements. engine.c validates arguments, keeps LLM slot positions and measures
 * time; an ops function sees only valid work and changes nothing on EP_EINVAL. */
#ifndef EPARA_EXEC_ENGINE_IMPL_H
#define EPARA_EXEC_ENGINE_IMPL_H

#include "epara/exec/engine.h"

typedef struct exec_engine_ops exec_engine_ops;
typedef struct exec_model_ops exec_model_ops;

struct ep_engine {
    const ep_scenario *sc;
    ep_engine_opts o; /* o.checkpoint points into checkpoint[] or is NULL */
    char checkpoint[EP_PATH_MAX];
    const exec_engine_ops *ops;
    void *state; /* the kind's per-engine state (ops->open) */
};

struct ep_engine_inst {
    ep_engine *eng;
    int svc, spec;
    ep_service_kind kind;
    int nslots;   /* LLM: slots; 0 for DNN */
    int64_t *pos; /* LLM: tokens per slot (logical, never clamped) */
    void *impl;   /* the kind's per-instance state (ops->load) */
};

/* One engine kind. available, open, close, llm_release, next_token, max_tokens and describe
 * may be NULL (available NULL: the kind can always open). Work functions get the CLOCK_MONOTONIC
 * instant the call started (an emulated deadline is start + est); positions in i->pos are those
 * before the iteration, and engine.c advances them after success. A kind that runs the real
 * models (cpu, cuda) sets `model` and takes its instance functions from engine_model.c
 * (EXEC_MODEL_ENGINE_OPS); model is NULL for the others. */
struct exec_engine_ops {
    const char *name;
    const exec_model_ops *model;
    int (*available)(void);
    int (*open)(ep_engine *e, char *err, size_t errlen);
    void (*close)(ep_engine *e);
    int (*load)(ep_engine_inst *i, char *err, size_t errlen);
    void (*unload)(ep_engine_inst *i);
    int (*dnn_batch)(ep_engine_inst *i, int batch, const ep_engine_dnn_io *io, ep_time start,
                     ep_dur est);
    int64_t (*mask_bytes)(const ep_engine_inst *i); /* NULL: 0 */
    int (*llm_iter)(ep_engine_inst *i, const ep_engine_work *w, int n, ep_time start, ep_dur est);
    void (*llm_release)(ep_engine_inst *i, int slot);
    int (*next_token)(const ep_engine_inst *i, int slot);
    int (*max_tokens)(const ep_engine_inst *i);
    void (*describe)(const ep_engine_inst *i, char *buf, size_t len);
};

extern const exec_engine_ops exec_engine_emulated_ops;
extern const exec_engine_ops exec_engine_cpu_ops;

/* ---- kinds that run the real models (engine_model.c) ----
 * engine_model.c keeps, once for every such kind, what does not depend on where the forward
 * passes run: instance state, an LLM slot's sequence from its first prefill to its release,
 * clamping at max_seq_len, prompt tokens, prefill items and the decode batch of an iteration,
 * greedy next tokens, the DNN input images and batches, descriptions. A kind supplies its
 * models through this table; the handles (void *) are the kind's own model, sequence and net
 * objects. Logits and images are always host memory. Every entry is required except why and
 * device. */
struct exec_model_ops {
    /* Text beyond ep_strerror(rc) for an error of this kind (a device's message), or NULL. */
    const char *(*why)(int rc);
    /* " on <device>" ends descriptions when this returns non-NULL. */
    const char *(*device)(const ep_engine *e);
    /* Makes the kind's decoder from `host` (as the cpu kernels build it; takes ownership in
     * every case). Returns 0 and *out, or an error with a message in err. */
    int (*llm_adopt)(ep_llm *host, void **out, char *err, size_t errlen);
    void (*llm_free)(void *llm);
    const ep_llm_config *(*llm_config)(const void *llm);
    /* The kernels' sequence functions (ep_llm_seq_new, ...) for the kind's decoder. */
    int (*seq_new)(void *llm, void **out);
    void (*seq_free)(void *seq);
    int (*seq_pos)(const void *seq);
    void (*seq_truncate)(void *seq, int pos);
    /* As ep_llm_prefill, with the vocab_size logits of the last token to host memory. */
    int (*prefill)(void *llm, void *seq, const int *tokens, int n, float *logits);
    /* As ep_llm_decode_batch over seqs[0, n): `scratch` is caller memory with room for n
     * pointers (sizeof(void *) each) where the kind builds the typed array its kernel takes. */
    int (*decode_batch)(void *llm, void *const *seqs, void *scratch, const int *tokens, int n,
                        float *logits);
    /* As llm_adopt, for the segmentation net. */
    int (*seg_adopt)(ep_seg *host, void **out, char *err, size_t errlen);
    void (*seg_free)(void *seg);
    const ep_seg_config *(*seg_config)(const void *seg);
    /* As ep_seg_forward, images in and logits out in host memory. */
    int (*seg_forward)(void *seg, const float *images, int batch, int h, int w, float *logits);
};

/* The instance functions of a kind with a model table; each kind lists them with
 * EXEC_MODEL_ENGINE_OPS in its exec_engine_ops. */
int exec_model_load(ep_engine_inst *i, char *err, size_t errlen);
void exec_model_unload(ep_engine_inst *i);
int exec_model_dnn_batch(ep_engine_inst *i, int batch, const ep_engine_dnn_io *io, ep_time start,
                         ep_dur est);
int64_t exec_model_mask_bytes(const ep_engine_inst *i);
int exec_model_llm_iter(ep_engine_inst *i, const ep_engine_work *w, int n, ep_time start,
                        ep_dur est);
void exec_model_llm_release(ep_engine_inst *i, int slot);
int exec_model_next_token(const ep_engine_inst *i, int slot);
int exec_model_max_tokens(const ep_engine_inst *i);
void exec_model_describe(const ep_engine_inst *i, char *buf, size_t len);

#define EXEC_MODEL_ENGINE_OPS                                                                \
    .load = exec_model_load, .unload = exec_model_unload, .dnn_batch = exec_model_dnn_batch, \
    .llm_iter = exec_model_llm_iter, .llm_release = exec_model_llm_release,                  \
    .next_token = exec_model_next_token, .max_tokens = exec_model_max_tokens,                \
    .describe = exec_model_describe, .mask_bytes = exec_model_mask_bytes

/* "what: error", plus " (why)" when m->why has more to say, into err (errlen bytes; may be
 * NULL). */
void exec_model_seterr(const exec_model_ops *m, char *err, size_t errlen, const char *what, int rc);

/* The CUDA engine's ops, or NULL when none is built. engine_cuda.c defines this function
 * when the build has ep_cuda (exec/cuda.cmake), which also defines EP_HAVE_CUDA_ENGINE for
 * engine.c and so removes its stub. */
const exec_engine_ops *exec_engine_cuda_ops(void);

/* NULL when (cfg, side) is a DNN shape the cpu engine accepts, else the problem. */
const char *exec_engine_seg_problem(const ep_seg_config *cfg, int side);
/* Checks e's LLM shape (unless a checkpoint gives it) and DNN shape as the cpu kernels need
 * them, for every kind that runs them. Returns 0, or EP_EINVAL with "LLM shape: ..." or
 * "DNN shape: ..." in err (errlen bytes, may be NULL). */
int exec_engine_check_shapes(const ep_engine *e, char *err, size_t errlen);

/* The DNN input images of an engine of seed `seed`: floats [from, to) of the endless stream
 * of pixel values in [0, 1) hashed from the seed and each value's index, written to
 * img[from, to) (img holds at least `to` floats). The same for every kind. */
void exec_engine_images(uint64_t seed, float *img, size_t from, size_t to);
/* Index of the largest of x[0, n) (the first on ties), n >= 1: the greedy next token. */
int exec_engine_argmax(const float *x, int n);

/* CLOCK_MONOTONIC now, in ns. */
ep_time exec_engine_now(void);
/* Sleeps until CLOCK_MONOTONIC reaches `deadline` (absolute; resumes after signals). */
void exec_engine_sleep_until(ep_time deadline);

/* Writes a formatted message into err[errlen] (nothing when err is NULL or errlen 0). */
void exec_seterr(char *err, size_t errlen, const char *fmt, ...) EP_PRINTF(3, 4);

#endif
