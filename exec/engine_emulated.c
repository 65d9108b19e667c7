/* The emulated engine: every batch or iteration sleeps the caller's estimate to an absolute
 * CLOCK_MONOTONIC deadline (start + est), so a run's time does not drift with wake-up
 * latency; it holds no model and no state, which lets one machine host many nodes. */
#include "engine_impl.h"

static int
emu_load(ep_engine_inst *i, char *err, size_t errlen)
{
    (void)i;
    (void)err;
    (void)errlen;
    return 0;
}

static void
emu_unload(ep_engine_inst *i)
{
    (void)i;
}

static void
emu_wait(ep_time start, ep_dur est)
{
    if (est > 0)
        exec_engine_sleep_until(start > EP_TIME_MAX - est ? EP_TIME_MAX : start + est);
}

static int
emu_dnn_batch(ep_engine_inst *i, int batch, const ep_engine_dnn_io *io, ep_time start, ep_dur est)
{
    (void)i;
    (void)batch;
    (void)io;
    emu_wait(start, est);
    return 0;
}

static int
emu_llm_iter(ep_engine_inst *i, const ep_engine_work *w, int n, ep_time start, ep_dur est)
{
    (void)i;
    (void)w;
    (void)n;
    emu_wait(start, est);
    return 0;
}

const exec_engine_ops exec_engine_emulated_ops = {
        .name = "emulated",
        .load = emu_load,
        .unload = emu_unload,
        .dnn_batch = emu_dnn_batch,
        .llm_iter = emu_llm_iter,
};
