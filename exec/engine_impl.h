/* Inside the engine interface (exec/ only): the state every engine shares and the ops table
 * each kind implements. engine.c validates arguments, keeps LLM slot positions and measures
 * time; an ops function sees only valid work and changes nothing on EP_EINVAL. */
#ifndef EPARA_EXEC_ENGINE_IMPL_H
#define EPARA_EXEC_ENGINE_IMPL_H

#include "epara/engine.h"

typedef struct exec_engine_ops exec_engine_ops;

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
 * before the iteration, and engine.c advances them after success. */
struct exec_engine_ops {
    const char *name;
    int (*available)(void);
    int (*open)(ep_engine *e, char *err, size_t errlen);
    void (*close)(ep_engine *e);
    int (*load)(ep_engine_inst *i, char *err, size_t errlen);
    void (*unload)(ep_engine_inst *i);
    int (*dnn_batch)(ep_engine_inst *i, int batch, ep_time start, ep_dur est);
    int (*llm_iter)(ep_engine_inst *i, const ep_engine_work *w, int n, ep_time start, ep_dur est);
    void (*llm_release)(ep_engine_inst *i, int slot);
    int (*next_token)(const ep_engine_inst *i, int slot);
    int (*max_tokens)(const ep_engine_inst *i);
    void (*describe)(const ep_engine_inst *i, char *buf, size_t len);
};

extern const exec_engine_ops exec_engine_emulated_ops;
extern const exec_engine_ops exec_engine_cpu_ops;

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

#endif
