/* The hold model (a classic event-list benchmark): `pending` events stay scheduled; each
 * event popped schedules one successor an exponential time later. Measures the engine
 * alone: heap, dispatch and the event-log hash. */
#include <stdlib.h>
#include <time.h>

#include "epara/core/error.h"
#include "epara/core/rng.h"
#include "epara/sim/sim.h"
#include "node_internal.h"

typedef struct hold_ev {
    node_event ev;
} hold_ev;

typedef struct hold {
    node_engine *e;
    ep_rng rng;
} hold;

static hold *hold_ctx_; /* the callback's context: node_event_fn takes a node_rt * */

static void
hold_fire(node_rt *s, node_event *ev)
{
    (void)s;
    hold *h = hold_ctx_;
    ep_dur d = (ep_dur)(ep_rng_exponential(&h->rng, 1e6) + 1);
    node_schedule(h->e, ev, h->e->now + d);
}

int
ep_sim_bench_hold(int pending, uint64_t events, double *events_per_s, uint64_t *hash)
{
    if (pending < 1 || events < 1)
        return EP_EINVAL;
    node_engine e;
    node_engine_init(&e);
    hold h = {&e, {0}};
    if (ep_rng_init(&h.rng, 1, EP_STREAM_ARRIVALS))
        return EP_ENOMEM;
    hold_ev *evs = calloc((size_t)pending, sizeof *evs);
    int rc = evs ? ep_heap_reserve(&e.heap, (size_t)pending) : EP_ENOMEM;
    if (rc)
        goto done;
    hold_ctx_ = &h;
    for (int i = 0; i < pending; i++) {
        node_event_init(&evs[i].ev, hold_fire, EV_HOLD, (uint32_t)i);
        node_schedule(&e, &evs[i].ev, (ep_time)(ep_rng_exponential(&h.rng, 1e6)));
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (uint64_t k = 0; k < events; k++) {
        node_event *ev = node_engine_next(&e, EP_TIME_MAX);
        ev->fn(NULL, ev);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    *events_per_s = t > 0 ? (double)events / t : 0;
    *hash = e.hash;
done:
    free(evs);
    ep_rng_fini(&h.rng);
    node_engine_fini(&e);
    return rc;
}
