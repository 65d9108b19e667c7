/* Test helper: how many arrivals a run of scenario sc replays (epara/node/arrivals.h: every
 * workload time-compressed by rate_scale and tiled until the run's end). Header-only. */
#ifndef EPARA_TESTS_ARRIVALS_COUNT_H
#define EPARA_TESTS_ARRIVALS_COUNT_H

#include <stdint.h>

#include "epara/node/arrivals.h"

/* Arrivals of all workloads of sc in a run of `duration` (0: the scenario's own), or a
 * negative EP_E* code. */
static inline int64_t
rc_arrivals(ep_store *st, const ep_scenario *sc, double rate_scale, ep_dur duration)
{
    ep_dur dur = duration > 0 ? duration : sc->run.duration;
    ep_time end;
    const char *bad;
    int rc = ep_arrivals_end(st, sc, rate_scale, dur, &end, &bad);
    if (rc)
        return rc;
    int64_t n = 0;
    for (int i = 0; i < sc->nworkloads; i++) {
        ep_arrivals rp;
        ep_trace_row row;
        ep_time at;
        if ((rc = ep_arrivals_open(&rp, st, &sc->workloads[i], rate_scale,
                                   dur > 0 ? dur : end + 1)) != 0)
            return rc;
        while ((rc = ep_arrivals_next(&rp, &row, &at)) == 1)
            n++;
        ep_arrivals_close(&rp);
        if (rc < 0)
            return rc;
    }
    return n;
}

#endif
