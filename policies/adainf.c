/* `adainf`: edge-server multi-model serving after AdaInf (Shen et al., "AdaInf: Data Drift
 * Adaptive Scheduling for Accurate and SLO-guaranteed Multiple-Model Inference Serving at Edge
 * Servers", ACM SIGCOMM 2023). Invariant: a request is served by the one edge server that its
 * ingress node is assigned for its service (the node itself when it can meet the SLO), or
 * rejected; each edge server plans its own GPUs for the demand of its area only.
 *
 * Sources (read for this file): the paper's abstract (ACM SIGCOMM'23; AMiner page 65268d5c...)
 * says AdaInf "allocates GPU amount among applications based on their SLOs" and, for each
 * application, "splits GPU time between retraining and inference to satisfy its SLO"; the
 * authors' repository (github.com/ss7krd/AdaInf: README "scheduling.cu has the code for the
 * space and time allocation"; Graph/Data analysis/impact_gpuSpace_batchSize.py plots the
 * worst-case latency by batch size under 25-100% of the GPU's space) shows that the allocation
 * picks GPU space/time and batch size so the worst-case latency meets the SLO. The paper's
 * body and scheduling.cu were not available to us.
 *
 * Kept from the paper: end devices send their requests to a GPU edge server; each edge server
 * splits its GPUs among the applications whose requests reach it by what each needs to meet
 * its SLO at its rate; batch sizes keep the worst-case latency (one batch waited for, one run)
 * within the SLO; plans are redone periodically from the observed request rates.
 * Out of scope: the retraining half (drift detection, incremental retraining and its share of
 * GPU time, early exits, CPU-GPU memory transfers): our services have no retraining jobs, so an
 * application's whole GPU share goes to inference.
 * Adapted, and why:
 *   - edge servers and their areas. The nodes with a GPU (any accelerator; every node with a
 *     device when the cluster has none) are edge servers. Each (ingress node, service) pair gets
 *     a fixed home: the node itself when it is a server whose devices have an SLO capacity for
 *     s (level 2: some batch meets the SLO; level 1, a lone request in time, counts only when
 *     no server reaches 2); else (GPU-less nodes, and servers that meet no SLO for s, e.g. an
 *     LLM whose prefill alone exceeds half its TTFT on a Jetson) the server of the best level
 *     that has room in its planned device time (demand x devices per request/s, servers' own
 *     demand first, then the largest pairs) at the lowest network delay for one request; equal
 *     delays go to the one with more time to spare. AdaInf's end devices are tied to their
 *     edge server the same way. The homes are fixed from the view of the first hook called
 *     (the traces' long-run rates and mean sizes), so every process of a live testbed, and a
 *     replay, fixes the same ones. A node forwards a new request to its home; the home serves
 *     or rejects it (one hop; servers do not share work). When the home is down or cut off,
 *     the nearest reachable server with a ready instance of s takes it.
 *   - GPU space: our hosts have no MPS-style partitions. An application's space is an
 *     instance co-located with others (MT) that runs at the same time as they do, every batch
 *     or iteration slowed by the host's MT factor at k busy instances.
 *   - memory: planned with each LLM's KV cache at the batch its plan assumes. The host splits
 *     what a device's weights and reserves leave evenly among the LLM instances on it
 *     (node/place.c); a placement keeps every LLM's reservation within that share, and rates
 *     each LLM, and sets its batch, with the KV tokens the share gives it.
 * Our rendering, per edge server n, at time 0 and every placement period:
 *   - demand d(n,s): the sum over n's area (the ingress nodes homed at n for s) of the
 *     requests of s entering each: before the first period the view's per-service rate split
 *     over the scenario's workload mapping (each workload of s an equal part, spread evenly
 *     over its ingress nodes, as the host spreads it round-robin); then an EWMA of the
 *     arrivals this policy counted at each ingress node (where it routes none, as a live
 *     controller, of the view's rate split the same way); with oracle=1 the oracle rate split.
 *   - SLO capacity cap(s,j,k,kv) of a replica of s on device j: ep_pol_capacity's rule (the
 *     largest batch whose worst case, one batch waited for and one run, meets the deadline;
 *     LLM: the running batch that keeps TTFT and TPOT and fits kv KV tokens) with every batch
 *     or iteration slowed by the MT factor at k; when no batch qualifies but a lone request
 *     meets the SLO, the lone-request rate.
 *   - split (phase A): s takes the share d / cap of a device's time (max_util of it in all);
 *     a service that no single device of n serves within its SLO gets a tensor-parallel group
 *     of the fewest devices of n first; then, in rounds, every service gets one replica before
 *     any gets a data-parallel one on a further device of n (never across servers). A
 *     replica fits a device when its weights and reserve leave every LLM there (itself
 *     included) at least the device's largest KV reservation; an LLM reserves the KV of the
 *     smallest batch that carries its rate. A service's first replica may go where memory
 *     allows but the time is planned out (co-located instances run at once; phase B rates
 *     what that costs).
 *   - rating (phase B): each replica is re-rated at k = 1 + the busy fractions of the
 *     instances beside it and at the KV tokens the host will give it; one that needs more
 *     than max_util of its own time carries that much less, one that meets no SLO drops.
 *   - when n cannot serve everything (memory, time, slowdown), the subset of its services
 *     maximizing the weighted SLO-bounded supply sum w min(d, supply) is kept (all subsets up
 *     to `exhaustive_max` candidates; higher w*d packs first); the previous subset stays
 *     unless the new one is better by more than `hysteresis` (a reload costs service time).
 *   - batch: a DNN replica runs the largest batch whose worst case, slowed as if every
 *     instance on its device were busy, meets the deadline; an LLM replica caps its running
 *     batch at its SLO-capacity batch within its KV share. Co-located single-device instances
 *     are marked MT.
 * Routing at the home: the local replica with the earliest estimated completion; admission=1
 * rejects at once a request no local replica can finish in time. FIFO queues; greedy batches
 * up to the replica's batch; drop_expired=1 drops queued requests already late (misses
 * either way). Parameters: ada_params below (defaults: ewma 0.25, hysteresis 0.5, max_util
 * 1.0, admission 1, drop_expired 1, exhaustive_max 10; on edge-default, hysteresis 0..1 and
 * ewma 0.25..1 move overall attainment at x1 and x4 by < 0.001); link_admission 0 (1 adds EPARA's
 * uplink admission, policies/link.c, at the ingress node: AdaInf has no notion of the uplink
 * queue, so the row "adainf + EPARA's link admission" separates that piece of EPARA's gain).
 * Files: this one (parameters, lifecycle, demand, the place hook, routing, batching),
 * adainf_assign.c (edge servers and their areas), adainf_plan.c (one server's plan: split,
 * rating, subset, batches), adainf_internal.h (the state they share).
 */
#include <stdlib.h>
#include <string.h>

#include "adainf_internal.h"
#include "epara/core/error.h"
#include "epara/policies/policy.h"
#include "epara/policies/policy_util.h"

static const ep_param_decl ada_params[] = {
        {"ewma", 0.01, 1, 0, 0.25, "weight of the last period's arrivals in the demand EWMA"},
        {"hysteresis", 0, 10, 0, 0.5,
         "a server keeps its service subset unless another is better by this fraction"},
        {"max_util", 0.1, 10, 0, 1.0,
         "device time a server shares out per device, and the most of its own time a replica "
         "is planned busy (1: all)"},
        {"admission", 0, 1, 1, 1, "1: reject at once a request no replica can finish in time"},
        {"drop_expired", 0, 1, 1, 1, "1: drop queued requests already past their deadline"},
        {"exhaustive_max", 0, 20, 1, 10,
         "a server with at most this many services tries every subset of them"},
        EP_LINK_ADM_PARAM,
        {NULL, 0, 0, 0, 0, NULL},
};

/* --- lifecycle -------------------------------------------------------------------------- */

static int
ada_init(void *state, const ep_env *env, const ep_view *v, const ep_param *params, int n)
{
    (void)env;
    ada_state *st = state;
    const ep_scenario *sc = v->sc;
    /* The host checked them already; a direct caller gets the same answer. */
    if (ep_param_check("adainf", ada_params, sc, params, n, NULL, 0))
        return EP_EINVAL;
#define PARAM(key) ep_param_value(ada_params, params, n, key)
    st->ewma = PARAM("ewma");
    st->max_util = PARAM("max_util");
    st->hysteresis = PARAM("hysteresis");
    st->admission = PARAM("admission") != 0;
    st->drop_expired = PARAM("drop_expired") != 0;
    st->exhaustive_max = (int)PARAM("exhaustive_max");
    st->link_admission = PARAM("link_admission") != 0;
#undef PARAM
    if (st->link_admission)
        ep_link_adm_init(&st->link, v, EP_LINK_ADM_MARGIN, EP_LINK_ADM_WINDOW);
    st->nnodes = sc->nnodes;
    st->nsvc = sc->nservices;
    st->maxdev = 1;
    for (int i = 0; i < sc->nnodes; i++)
        if (sc->nodes[i].ndev > st->maxdev)
            st->maxdev = sc->nodes[i].ndev;
    size_t ns = (size_t)st->nnodes * (size_t)st->nsvc + 1;
    size_t slots = (size_t)st->maxdev * (size_t)st->nsvc + 1;
    st->ns = calloc(ns, sizeof *st->ns);
    st->server = calloc((size_t)st->nnodes + 1, 1);
    st->load = calloc((size_t)st->nnodes + 1, sizeof *st->load);
    st->top = calloc((size_t)st->nsvc + 1, 1);
    st->pend = calloc(ns, sizeof *st->pend);
    st->prev = calloc(slots * (size_t)st->nnodes, sizeof *st->prev);
    st->nprev = calloc((size_t)st->nnodes + 1, sizeof *st->nprev);
    st->cands = calloc((size_t)st->nsvc + 1, sizeof *st->cands);
    st->nslot = st->maxdev + EP_MAX_STAGE_DEVS + 1;
    size_t cslots = (size_t)(st->nsvc + 1) * (size_t)st->nslot;
    st->capc = calloc(cslots * ADA_KSTEPS, sizeof *st->capc);
    st->capb = calloc(cslots * ADA_KSTEPS, sizeof *st->capb);
    st->lone = calloc(cslots, sizeof *st->lone);
    st->dv = calloc((size_t)st->maxdev, sizeof *st->dv);
    st->plan = calloc(slots, sizeof *st->plan);
    st->best = calloc(slots, sizeof *st->best);
    st->sl = calloc(slots, sizeof *st->sl);
    if (!st->ns || !st->server || !st->load || !st->top || !st->pend || !st->prev || !st->nprev ||
        !st->cands || !st->capc || !st->capb || !st->lone || !st->dv || !st->plan || !st->best ||
        !st->sl)
        return EP_ENOMEM;
    for (int s = 0; s < sc->nservices; s++) {
        int nw = 0;
        for (int k = 0; k < sc->nworkloads; k++)
            nw += sc->workloads[k].service == s;
        for (int k = 0; k < sc->nworkloads; k++) {
            const ep_workload *w = &sc->workloads[k];
            if (w->service != s || w->ningress < 1)
                continue;
            for (int i = 0; i < w->ningress; i++)
                if (w->ingress[i] >= 0 && w->ingress[i] < sc->nnodes)
                    st->ns[(size_t)w->ingress[i] * (size_t)st->nsvc + (size_t)s].share +=
                            1.0 / nw / w->ningress;
        }
    }
    /* The edge servers: nodes with a GPU (any accelerator), else every node with a device. */
    int any = 0;
    for (int i = 0; i < sc->nnodes; i++) {
        const ep_node *nd = &sc->nodes[i];
        for (int j = 0; j < nd->ndev; j++)
            st->server[i] |= sc->specs[sc->devices[nd->dev0 + j].spec].kind != EP_DEV_CPU;
        any |= st->server[i];
    }
    for (int i = 0; i < sc->nnodes && !any; i++)
        st->server[i] = sc->nodes[i].ndev > 0;
    return 0;
}

static void
ada_fini(void *state)
{
    ada_state *st = state;
    free(st->ns);
    free(st->server);
    free(st->load);
    free(st->top);
    free(st->pend);
    free(st->prev);
    free(st->nprev);
    free(st->cands);
    free(st->capc);
    free(st->capb);
    free(st->lone);
    free(st->dv);
    free(st->plan);
    free(st->best);
    free(st->sl);
}

static void
ada_categorize(void *state, const ep_view *view, int svc, ep_category *out)
{
    ada_state *st = state;
    if (!st->homed)
        ada_assign_homes(st, view);
    ep_category_default(view, svc, out);
}

/* --- demand --------------------------------------------------------------------------- */

static void
update_demand(ada_state *st, const ep_env *env, const ep_view *v)
{
    size_t nx = (size_t)st->nnodes * (size_t)st->nsvc;
    double span = (double)(env->now - st->last_place) / 1e9;
    if (st->planned && span <= 0 && !v->oracle_rate)
        return; /* a second plan at the same time: nothing new was seen */
    for (size_t i = 0; i < nx; i++) {
        int s = (int)(i % (size_t)st->nsvc);
        double split = (v->rate ? v->rate[s] : 0) * st->ns[i].share;
        if (v->oracle_rate) {
            st->ns[i].dem = v->oracle_rate[s] * st->ns[i].share;
        } else if (!st->planned) {
            st->ns[i].dem = split;
        } else {
            double obs = st->counted ? (double)st->ns[i].cnt / span : split;
            st->ns[i].dem = st->ewma * obs + (1 - st->ewma) * st->ns[i].dem;
        }
        st->ns[i].cnt = 0;
        st->ns[i].pdem = 0;
    }
    for (size_t i = 0; i < nx; i++)
        if (st->ns[i].home >= 0)
            st->ns[(size_t)st->ns[i].home * (size_t)st->nsvc + i % (size_t)st->nsvc].pdem +=
                    st->ns[i].dem;
    st->last_place = env->now;
}

/* --- placement ------------------------------------------------------------------------ */

static int
same_instance(const ep_instance_spec *a, const ep_instance_spec *b)
{
    if (a->service != b->service || a->mode != b->mode || a->ndev != b->ndev)
        return 0;
    for (int i = 0; i < a->ndev; i++)
        if (a->devs[i] != b->devs[i])
            return 0;
    return 1;
}

static int
ada_place(void *state, const ep_env *env, const ep_view *v, ep_placement *out)
{
    ada_state *st = state;
    const ep_scenario *sc = v->sc;
    if (!st->homed)
        ada_assign_homes(st, v);
    update_demand(st, env, v);
    int changed = !st->planned;
    for (int node = 0; node < sc->nnodes; node++) {
        if (!st->server[node] || sc->nodes[node].ndev < 1)
            continue;
        int n = ada_plan_node(st, v, node);
        ep_instance_spec *prev = &st->prev[(size_t)node * (size_t)st->maxdev * st->nsvc];
        if (n != st->nprev[node])
            changed = 1;
        for (int i = 0; i < n && !changed; i++) {
            int found = 0;
            for (int m = 0; m < st->nprev[node] && !found; m++)
                found = same_instance(&prev[m], &st->best[i]) &&
                        prev[m].max_batch == st->best[i].max_batch;
            changed = !found;
        }
        memcpy(prev, st->best, (size_t)n * sizeof *prev);
        st->nprev[node] = n;
    }
    st->planned = 1;
    if (!changed) {
        out->unchanged = 1;
        return 0;
    }
    for (int node = 0; node < sc->nnodes; node++) {
        const ep_instance_spec *prev = &st->prev[(size_t)node * (size_t)st->maxdev * st->nsvc];
        for (int i = 0; i < st->nprev[node]; i++) {
            int rc = ep_placement_add(out, &prev[i]);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* --- requests ------------------------------------------------------------------------- */

/* Whether node a can send to node b now (both up, both uplinks up). */
static int
reachable(const ep_view *v, int a, int b)
{
    const ep_scenario *sc = v->sc;
    if (v->node_up && !v->node_up[b])
        return 0;
    return !v->link_up || (v->link_up[sc->nodes[a].link] && v->link_up[sc->nodes[b].link]);
}

/* The home is gone: the nearest reachable server with a ready instance of s, or -1. */
static int
fallback_home(const ada_state *st, const ep_view *v, const ep_request_info *req)
{
    int best = -1;
    ep_dur bd = 0;
    for (int i = 0; i < v->ninst; i++) {
        const ep_instance_view *iv = &v->inst[i];
        int m = iv->node;
        if (iv->spec.service != req->service || !iv->ready || !iv->active || m == req->at_node ||
            m < 0 || m >= st->nnodes || !st->server[m] || !reachable(v, req->at_node, m))
            continue;
        ep_dur d = v->delay ? v->delay(v, req->at_node, m, req->bytes) : 0;
        if (best < 0 || d < bd || (d == bd && m < best)) {
            best = m;
            bd = d;
        }
    }
    return best;
}

static void
route_req(ada_state *st, const ep_env *env, const ep_view *v, const ep_request_info *req,
          ep_route *out)
{
    int node = req->at_node, s = req->service;
    if (!st->homed)
        ada_assign_homes(st, v);
    if (node < 0 || node >= st->nnodes || s < 0 || s >= st->nsvc) {
        out->kind = EP_ROUTE_REJECT;
        out->reason = "adainf: request outside the scenario";
        return;
    }
    size_t ix = (size_t)node * (size_t)st->nsvc + (size_t)s;
    /* A new arrival (not one handed back by a retired instance): count it for the node. */
    if (req->hops == 0 && node == req->ingress && req->arrival == env->now) {
        st->ns[ix].cnt++;
        st->counted = 1;
    }
    if (req->hops == 0 && st->ns[ix].home != node) {
        int h = st->ns[ix].home;
        if (h < 0) {
            out->kind = EP_ROUTE_REJECT;
            out->reason = "adainf: no edge server meets the service's SLO";
            return;
        }
        if (!reachable(v, node, h))
            h = fallback_home(st, v, req);
        if (h < 0) {
            out->kind = EP_ROUTE_REJECT;
            out->reason = "adainf: the edge server is unreachable";
            return;
        }
        out->kind = EP_ROUTE_FORWARD;
        out->node = h;
        return;
    }
    int best = -1;
    ep_time bt = 0;
    for (int i = 0; i < v->ninst; i++) {
        const ep_instance_view *iv = &v->inst[i];
        if (iv->spec.service != s || iv->node != node || !iv->ready)
            continue;
        ep_time t = ep_pol_estimate(v, env, req, i);
        if (best < 0 || t < bt) {
            best = i;
            bt = t;
        }
    }
    if (best < 0) {
        out->kind = EP_ROUTE_REJECT;
        out->reason = "adainf: no instance of the service on its edge server";
        return;
    }
    if (st->admission && bt > req->deadline) {
        out->kind = EP_ROUTE_REJECT;
        out->reason = "adainf: no replica on its edge server can meet the deadline";
        return;
    }
    out->kind = EP_ROUTE_DISPATCH;
    out->instance = v->inst[best].id;
}

static void
ada_route(void *state, const ep_env *env, const ep_view *v, const ep_request_info *req,
          ep_route *out)
{
    ada_state *st = state;
    route_req(st, env, v, req, out);
    if (st->link_admission)
        ep_link_adm_route(&st->link, env, v, req, out);
}

static int
ada_pick_batch(void *state, const ep_env *env, const ep_view *view, int instance,
               const ep_queue_view *q, int *drop_expired)
{
    (void)env;
    const ada_state *st = state;
    *drop_expired = st->drop_expired;
    return ep_pol_greedy_batch(view, instance, q);
}

/* The placement, co-location labelled MT: co-located instances run concurrently on their
 * device (ep_placement_mark_mt). */
static int
ada_place_mt(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    int rc = ada_place(state, env, view, out);
    if (rc == 0 && !out->unchanged)
        ep_placement_mark_mt(out);
    return rc;
}

const ep_policy_ops ep_policy_adainf = {
        .name = "adainf",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(ada_state),
        .summary = "AdaInf-like: GPU edge servers serve their areas, GPUs split by SLO need",
        .params = ada_params,
        .init = ada_init,
        .categorize = ada_categorize,
        .place = ada_place_mt,
        .route = ada_route,
        .pick_batch = ada_pick_batch,
        .fini = ada_fini,
};
