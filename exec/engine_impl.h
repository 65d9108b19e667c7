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

/* One engine kind. open, close, llm_release, next_token, max_tokens and describe may be
 * NULL. Work functions get the CLOCK_MONOTONIC instant the call started (an emulated
 * deadline is start + est); positions in i->pos are those before the iteration, and
 * engine.c advances them after success. */
struct exec_engine_ops {
    const char *name;
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

/* The CUDA engine's ops, or NULL when none is built. A CUDA engine (exec/cuda_*.cu) defines
 * this function and the build defines EP_HAVE_CUDA_ENGINE, which removes engine.c's stub. */
const exec_engine_ops *exec_engine_cuda_ops(void);

/* NULL when (cfg, side) is a DNN shape the cpu engine accepts, else the problem. */
const char *exec_engine_seg_problem(const ep_seg_config *cfg, int side);

/* CLOCK_MONOTONIC now, in ns. */
ep_time exec_engine_now(void);
/* Sleeps until CLOCK_MONOTONIC reaches `deadline` (absolute; resumes after signals). */
void exec_engine_sleep_until(ep_time deadline);

#endif
