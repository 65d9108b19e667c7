/* `static`: the floor every policy should beat. One replica per service, placed once on
 * the fastest device (peak FLOP/s) that still holds it (a multi-device service on the
 * fewest devices of one node, tensor parallel, else pipelined over the largest free
 * devices); round-robin dispatch over the service's replicas; FIFO queues; greedy batches
 * (everything queued, up to max_batch). No forwarding decisions, no re-placement. */
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/policies/policy.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

#define MAX_SVC 64

typedef struct static_state {
    int placed;
    uint32_t rr[MAX_SVC];
} static_state;

static int
st_init(void *state, const ep_env *env, const ep_view *view, const ep_param *params, int n)
{
    (void)state;
    (void)env;
    (void)params;
    (void)n;
    return view->sc->nservices > MAX_SVC ? EP_EINVAL : 0;
}

static double
usable(const ep_scenario *sc, int dev)
{
    const ep_device_spec *d = &sc->specs[sc->devices[dev].spec];
    return (double)d->mem_bytes * d->mem_util;
}

/* The best node-local group: the fewest devices of one node that hold the service. */
static int
place_multi(const ep_scenario *sc, int svc, double *freem, ep_instance_spec *sp)
{
    for (int k = 2; k <= EP_MAX_STAGE_DEVS; k++) {
        double need = (double)ep_cost_instance_mem(sc, svc, k);
        for (int n = 0; n < sc->nnodes; n++) {
            const ep_node *nd = &sc->nodes[n];
            int got = 0;
            for (int d = nd->dev0; d < nd->dev0 + nd->ndev && got < k; d++)
                if (freem[d] >= need)
                    sp->devs[got++] = d;
            if (got == k) {
                sp->mode = EP_MODE_TP;
                sp->ndev = k;
                return 0;
            }
        }
        /* Pipeline over the k devices with the most free memory, across nodes. */
        int got = 0;
        for (int pick = 0; pick < k; pick++) {
            int best = -1;
            for (int d = 0; d < sc->ndevices; d++) {
                int used = 0;
                for (int j = 0; j < got; j++)
                    used |= sp->devs[j] == d;
                if (!used && freem[d] >= need && (best < 0 || freem[d] > freem[best]))
                    best = d;
            }
            if (best < 0)
                break;
            sp->devs[got++] = best;
        }
        if (got == k) {
            sp->mode = EP_MODE_PP;
            sp->ndev = k;
            return 0;
        }
    }
    return EP_EFULL;
}

static int
st_place(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    (void)env;
    static_state *st = state;
    if (st->placed) {
        out->unchanged = 1;
        return 0;
    }
    st->placed = 1;
    const ep_scenario *sc = view->sc;
    double *freem = calloc((size_t)sc->ndevices + 1, sizeof *freem);
    if (!freem)
        return EP_ENOMEM;
    for (int d = 0; d < sc->ndevices; d++)
        freem[d] = usable(sc, d);
    for (int s = 0; s < sc->nservices; s++) {
        ep_instance_spec sp;
        memset(&sp, 0, sizeof sp);
        sp.service = s;
        sp.order = EP_QUEUE_FIFO;
        double need = (double)ep_cost_instance_mem(sc, s, 1);
        /* The fastest device that holds it; among equals, the one with most room left. */
        int best = -1;
        if (!view->cat[s].multi_device)
            for (int d = 0; d < sc->ndevices; d++) {
                if (freem[d] < need)
                    continue;
                double f = sc->specs[sc->devices[d].spec].peak_flops;
                double fb = best < 0 ? 0 : sc->specs[sc->devices[best].spec].peak_flops;
                if (best < 0 || f > fb || (f == fb && freem[d] > freem[best]))
                    best = d;
            }
        if (best >= 0) {
            sp.mode = EP_MODE_SINGLE;
            sp.ndev = 1;
            sp.devs[0] = best;
        } else if (place_multi(sc, s, freem, &sp) != 0) {
            continue; /* fits nowhere: its requests are rejected ("no instance") */
        }
        double per = (double)ep_cost_instance_mem(sc, s, sp.ndev);
        for (int i = 0; i < sp.ndev; i++)
            freem[sp.devs[i]] -= per;
        if (ep_placement_add(out, &sp) != 0)
            break;
    }
    free(freem);
    return 0;
}

static void
st_route(void *state, const ep_env *env, const ep_view *view, const ep_request_info *req,
         ep_route *out)
{
    (void)env;
    static_state *st = state;
    int n = 0;
    for (int i = 0; i < view->ninst; i++)
        n += view->inst[i].spec.service == req->service && view->inst[i].ready;
    if (n == 0) {
        out->kind = EP_ROUTE_REJECT;
        out->reason = "no instance of the service";
        return;
    }
    uint32_t k = st->rr[req->service]++ % (uint32_t)n;
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *iv = &view->inst[i];
        if (iv->spec.service == req->service && iv->ready && k-- == 0) {
            out->kind = EP_ROUTE_DISPATCH;
            out->instance = iv->id;
            return;
        }
    }
}

static void
st_categorize(void *state, const ep_view *view, int svc, ep_category *out)
{
    (void)state;
    ep_category_default(view, svc, out);
}

static int
st_pick_batch(void *state, const ep_env *env, const ep_view *view, int instance,
              const ep_queue_view *q, int *drop_expired)
{
    (void)state;
    (void)env;
    *drop_expired = 0;
    return ep_pol_greedy_batch(view, instance, q);
}

/* The placement, co-location labelled MT: co-located instances run concurrently on their
 * device (ep_placement_mark_mt). */
static int
st_place_mt(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    int rc = st_place(state, env, view, out);
    if (rc == 0 && !out->unchanged)
        ep_placement_mark_mt(out);
    return rc;
}

const ep_policy_ops ep_policy_static = {
        .name = "static",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(static_state),
        .summary = "one replica per service, round-robin, FIFO (the floor)",
        .params = NULL, /* none of its own */
        .init = st_init,
        .categorize = st_categorize,
        .place = st_place_mt,
        .route = st_route,
        .pick_batch = st_pick_batch,
};
