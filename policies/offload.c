/* `offload`: cooperative edge offloading (docs/architecture.md, baselines). Invariant: a request is
 * served at its ingress node unless that node has no instance or its instance is overloaded;
 * then it moves to the least-loaded node holding an instance (nearer first on ties), at most
 * `max_hops` times. One replica per service per node where it fits, placed once.
 *
 * Sources (read for this file): peer offloading between cooperative edge servers to absorb
 * bursty, spatially imbalanced arrivals ("Peer Offloading in Mobile Edge Computing with
 * Worst-Case Response Time Guarantees", arXiv 2004.06453); distributed online load balancing
 * among edge nodes that share load when overloaded, and how stale load information hurts it
 * (Beraldi, Canali, Lancellotti, Proietti Mattia, "On the impact of stale information on
 * distributed online load balancing protocols for edge computing", Computer Networks 2022);
 * joining the least-loaded server by the last status update each holds (delta-DJSQ, a
 * distributed join-the-shortest-queue policy; KTH DiVA record 1719377). The rule below is the
 * threshold form of these schemes, with the threshold set by the request's own deadline:
 *   - overloaded: the local instance's estimated completion (ep_pol_estimate: its backlog
 *     plus this request's service time) misses the request's deadline, or (LLM) its free KV
 *     cache cannot take the request. Otherwise the request is served locally.
 *   - target: among other up nodes holding a ready instance of the service, the one whose
 *     best instance has the least load (estimated time to serve this request there, as of the
 *     last state sync, transfer excluded); ties go to the nearer node (view->delay). The
 *     request moves only if that load plus the transfer beats the local load (or there is no
 *     local instance); otherwise it stays, overloaded or not.
 *   - a node reached after max_hops forwards serves the request on its own best instance, or
 *     rejects it when it has none.
 * Placement: services in decreasing weighted demand take turns: each round every service gets
 * one more replica, on its next node in preference order (nodes where its requests enter
 * first, then the faster device) where its memory fits; so under memory pressure every
 * service is replicated before any is replicated twice. On a node, the device with the
 * highest SLO-bounded capacity that fits; a service no single device of the node holds (or
 * serves) gets one tensor-parallel group of the fewest devices of the node, else none. FIFO
 * queues; greedy batches up to max_batch.
 * Parameters (defaults; chosen as the best on edge-default): max_hops 1; slo_filter 2 (which
 * devices may host a replica: 0 any with memory, 1 those where a lone request meets the SLO,
 * 2 those with a positive SLO capacity, ep_pol_capacity); admission 1 (reject a request that
 * cannot meet its deadline locally nor at the target); drop_expired 1 (drop queued requests
 * already late: misses either way); link_admission 0 (1 adds EPARA's uplink admission,
 * policies/link.c, which peer offloading does not have: the measured row "offload + EPARA's
 * link admission" separates EPARA's link handling from the rest of its gain). */
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/policies/policy.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

typedef struct off_state {
    int placed;
    int max_hops, slo_filter, drop_expired, admission;
    int link_admission; /* EPARA's uplink admission added (not part of offloading) */
    ep_link_adm link;
} off_state;

/* The parameters off_init reads, with their defaults and domains. */
static const ep_param_decl off_params_decl[] = {
        {"max_hops", 1, 16, 1, 1, "moves a request may take before it is served or rejected"},
        {"slo_filter", 0, 2, 1, 2,
         "devices that may host a replica: 0 any with memory, 1 where a lone request meets "
         "the SLO, 2 with a positive SLO capacity"},
        {"admission", 0, 1, 1, 1,
         "reject a request that cannot meet its deadline locally nor at the target"},
        {"drop_expired", 0, 1, 1, 1, "drop queued requests already past their deadline"},
        EP_LINK_ADM_PARAM,
        {NULL, 0, 0, 0, 0, NULL},
};

static int
off_init(void *state, const ep_env *env, const ep_view *view, const ep_param *params, int n)
{
    (void)env;
    off_state *st = state;
    /* The host checked them already; a direct caller gets the same answer. */
    if (ep_param_check("offload", off_params_decl, view->sc, params, n, NULL, 0))
        return EP_EINVAL;
    st->max_hops = (int)ep_param_value(off_params_decl, params, n, "max_hops");
    st->slo_filter = (int)ep_param_value(off_params_decl, params, n, "slo_filter");
    st->drop_expired = ep_param_value(off_params_decl, params, n, "drop_expired") != 0;
    st->admission = ep_param_value(off_params_decl, params, n, "admission") != 0;
    st->link_admission = ep_param_value(off_params_decl, params, n, "link_admission") != 0;
    if (st->link_admission)
        ep_link_adm_init(&st->link, view, EP_LINK_ADM_MARGIN, EP_LINK_ADM_WINDOW);
    return 0;
}

static void
off_categorize(void *state, const ep_view *view, int svc, ep_category *out)
{
    (void)state;
    ep_category_default(view, svc, out);
}

/* Requests per second an instance sustains within the SLO (ep_pol_capacity); when that is 0
 * but a lone request meets the SLO, the lone-request rate. 0: hopeless. */
static double
slo_capacity(const ep_view *v, const ep_instance_spec *sp, int strict)
{
    const ep_service *svc = &v->sc->services[sp->service];
    double c = ep_pol_capacity(v, sp, NULL);
    if (c > 0 || strict)
        return c;
    if (svc->kind == EP_SVC_DNN) {
        ep_dur limit = svc->slo.fps > 0 ? svc->slo.frame_deadline : svc->slo.deadline;
        ep_dur interval;
        ep_dur t = ep_pol_dnn_batch(v, sp, 1, &interval);
        if (t <= 0 || t > limit)
            return 0;
        return 1e9 / (double)(interval > 0 ? interval : t);
    }
    double in = ep_pol_mean_input(v, sp->service), out = ep_pol_mean_output(v, sp->service);
    ep_dur p = ep_pol_llm_iteration(v, sp, (int64_t)in, in * in, 0, 0);
    ep_dur d = ep_pol_llm_iteration(v, sp, 0, 0, 1, (int64_t)(in + out / 2));
    if (p > svc->slo.ttft || d > svc->slo.tpot || (double)ep_pol_kv_capacity(v, sp) < in + out)
        return 0;
    return 1e9 / ((double)p + out * (double)d);
}

/* --- placement ------------------------------------------------------------------------ */

typedef struct off_plan {
    const ep_view *v;
    double *freem;   /* per device */
    double *ingress; /* per (service, node): share of the service's requests entering there */
    double *speed;   /* per (service, node): best single-device capacity there (sort key) */
    int *pref;       /* per (service, rank): node */
    int *cursor;     /* per service: next rank to try */
    int slo_filter;
} off_plan;

/* Tries to place one replica of svc on node; fills sp. */
static int
try_node(const off_plan *p, int svc, int node, ep_instance_spec *sp)
{
    const ep_view *v = p->v;
    const ep_scenario *sc = v->sc;
    const ep_node *nd = &sc->nodes[node];
    memset(sp, 0, sizeof *sp);
    sp->service = svc;
    sp->order = EP_QUEUE_FIFO;
    if (!v->cat[svc].multi_device) {
        double need = (double)ep_cost_instance_mem(sc, svc, 1);
        int best = -1;
        double bcap = 0;
        for (int d = nd->dev0; d < nd->dev0 + nd->ndev; d++) {
            if (p->freem[d] < need)
                continue;
            sp->mode = EP_MODE_SINGLE;
            sp->ndev = 1;
            sp->devs[0] = d;
            double cap = slo_capacity(v, sp, p->slo_filter == 2);
            if (p->slo_filter && cap <= 0)
                continue;
            if (best < 0 || cap > bcap || (cap == bcap && p->freem[d] > p->freem[best])) {
                best = d;
                bcap = cap;
            }
        }
        if (best >= 0) {
            sp->mode = EP_MODE_SINGLE;
            sp->ndev = 1;
            sp->devs[0] = best;
            return 1;
        }
    }
    /* No single device holds (or serves) it here: the fewest devices of the node, TP. */
    for (int k = 2; k <= nd->ndev && k <= EP_MAX_STAGE_DEVS; k++) {
        double need = (double)ep_cost_instance_mem(sc, svc, k);
        int got = 0;
        for (int pick = 0; pick < k; pick++) {
            int best = -1;
            for (int d = nd->dev0; d < nd->dev0 + nd->ndev; d++) {
                int used = 0;
                for (int q = 0; q < got; q++)
                    used |= sp->devs[q] == d;
                if (!used && p->freem[d] >= need && (best < 0 || p->freem[d] > p->freem[best]))
                    best = d;
            }
            if (best < 0)
                break;
            sp->devs[got++] = best;
        }
        if (got < k)
            continue;
        sp->mode = EP_MODE_TP;
        sp->ndev = k;
        if (p->slo_filter && slo_capacity(v, sp, p->slo_filter == 2) <= 0)
            continue; /* a wider group may meet the SLO */
        return 1;
    }
    return 0;
}

static int
off_place(void *state, const ep_env *env, const ep_view *v, ep_placement *out)
{
    (void)env;
    off_state *st = state;
    if (st->placed) {
        out->unchanged = 1;
        return 0;
    }
    st->placed = 1;
    const ep_scenario *sc = v->sc;
    int S = sc->nservices, N = sc->nnodes;
    size_t sn = (size_t)S * (size_t)N + 1;
    off_plan p = {v,
                  calloc((size_t)sc->ndevices + 1, sizeof(double)),
                  calloc(sn, sizeof(double)),
                  calloc(sn, sizeof(double)),
                  calloc(sn, sizeof(int)),
                  calloc((size_t)S + 1, sizeof(int)),
                  st->slo_filter};
    int *order = calloc((size_t)S + 1, sizeof *order);
    int *done = calloc((size_t)S + 1, sizeof *done);
    int *per_dev = calloc((size_t)sc->ndevices + 1, sizeof *per_dev);
    int first = out->n;
    int rc = 0;
    if (!p.freem || !p.ingress || !p.speed || !p.pref || !p.cursor || !order || !done || !per_dev) {
        rc = EP_ENOMEM;
        goto done;
    }
    for (int d = 0; d < sc->ndevices; d++)
        p.freem[d] = ep_pol_usable_mem(sc, d);
    for (int s = 0; s < S; s++) {
        int nw = 0;
        for (int k = 0; k < sc->nworkloads; k++)
            nw += sc->workloads[k].service == s;
        for (int k = 0; k < sc->nworkloads; k++) {
            const ep_workload *w = &sc->workloads[k];
            if (w->service != s || w->ningress < 1)
                continue;
            for (int i = 0; i < w->ningress; i++)
                if (w->ingress[i] >= 0 && w->ingress[i] < N)
                    p.ingress[(size_t)s * (size_t)N + (size_t)w->ingress[i]] +=
                            1.0 / nw / w->ningress;
        }
        /* Speed of a node for s: its best single-device SLO capacity (memory aside). */
        for (int n = 0; n < N; n++) {
            double best = 0;
            const ep_node *nd = &sc->nodes[n];
            for (int d = nd->dev0; d < nd->dev0 + nd->ndev; d++) {
                ep_instance_spec sp;
                memset(&sp, 0, sizeof sp);
                sp.service = s;
                sp.mode = EP_MODE_SINGLE;
                sp.ndev = 1;
                sp.devs[0] = d;
                double c = slo_capacity(v, &sp, p.slo_filter == 2);
                if (c > best)
                    best = c;
            }
            p.speed[(size_t)s * (size_t)N + (size_t)n] = best;
        }
        /* Preference: ingress share, then speed, then index (insertion sort). */
        int *pref = &p.pref[(size_t)s * (size_t)N];
        for (int n = 0; n < N; n++) {
            int at = n;
            const double *ing = &p.ingress[(size_t)s * (size_t)N];
            const double *spd = &p.speed[(size_t)s * (size_t)N];
            while (at > 0) {
                int o = pref[at - 1];
                int before = ing[n] != ing[o] ? ing[n] > ing[o] : spd[n] > spd[o];
                if (!before)
                    break;
                pref[at] = pref[at - 1];
                at--;
            }
            pref[at] = n;
        }
        /* Services by weighted demand, decreasing. */
        double key = (v->rate ? v->rate[s] : 0) *
                     (sc->services[s].weight > 0 ? sc->services[s].weight : 1);
        int at = s;
        while (at > 0) {
            int o = order[at - 1];
            double ko = (v->rate ? v->rate[o] : 0) *
                        (sc->services[o].weight > 0 ? sc->services[o].weight : 1);
            if (!(key > ko))
                break;
            order[at] = order[at - 1];
            at--;
        }
        order[at] = s;
    }
    /* Rounds: each service one more replica per round, on its next feasible node. */
    for (int progress = 1; progress && !rc;) {
        progress = 0;
        for (int i = 0; i < S && !rc; i++) {
            int s = order[i];
            while (!done[s]) {
                if (p.cursor[s] >= N) {
                    done[s] = 1;
                    break;
                }
                int node = p.pref[(size_t)s * (size_t)N + (size_t)p.cursor[s]++];
                ep_instance_spec sp;
                if (!try_node(&p, s, node, &sp))
                    continue;
                double need = (double)ep_cost_instance_mem(sc, s, sp.ndev);
                for (int q = 0; q < sp.ndev; q++) {
                    p.freem[sp.devs[q]] -= need;
                    per_dev[sp.devs[q]]++;
                }
                rc = ep_placement_add(out, &sp);
                progress = 1;
                break;
            }
        }
    }
    /* Co-located single-device instances run as MT. */
    for (int i = first; i < out->n; i++)
        if (out->inst[i].mode == EP_MODE_SINGLE && per_dev[out->inst[i].devs[0]] > 1)
            out->inst[i].mode = EP_MODE_MT;
done:
    free(p.freem);
    free(p.ingress);
    free(p.speed);
    free(p.pref);
    free(p.cursor);
    free(order);
    free(done);
    free(per_dev);
    return rc;
}

/* --- requests ------------------------------------------------------------------------- */

static int
link_ok(const ep_view *v, int a, int b)
{
    if (!v->link_up)
        return 1;
    return v->link_up[v->sc->nodes[a].link] && v->link_up[v->sc->nodes[b].link];
}

/* Best ready instance of svc on node for req: least estimated time to serve it there
 * (transfer from at_node excluded). -1 when none. */
static int
best_on_node(const ep_view *v, const ep_env *env, const ep_request_info *req, int node,
             ep_dur *load)
{
    int best = -1;
    ep_dur bl = 0;
    ep_dur move = node == req->at_node ? 0 : v->delay(v, req->at_node, node, req->bytes);
    for (int i = 0; i < v->ninst; i++) {
        const ep_instance_view *iv = &v->inst[i];
        if (iv->spec.service != req->service || iv->node != node || !iv->ready)
            continue;
        ep_dur l = ep_pol_estimate(v, env, req, i) - env->now - move;
        if (best < 0 || l < bl) {
            best = i;
            bl = l;
        }
    }
    *load = bl;
    return best;
}

static int
overloaded(const ep_view *v, const ep_env *env, const ep_request_info *req, int inst, ep_dur load)
{
    const ep_instance_view *iv = &v->inst[inst];
    if (env->now + load > req->deadline)
        return 1;
    return iv->kv_free >= 0 && iv->kv_free < req->input + req->output;
}

static void
route(const off_state *st, const ep_env *env, const ep_view *v, const ep_request_info *req,
      ep_route *out)
{
    ep_dur lload = 0;
    int local = best_on_node(v, env, req, req->at_node, &lload);
    if (local >= 0 && (req->hops >= st->max_hops || !overloaded(v, env, req, local, lload))) {
        if (st->admission && env->now + lload > req->deadline) {
            out->kind = EP_ROUTE_REJECT;
            out->reason = "offload: the deadline cannot be met";
            return;
        }
        out->kind = EP_ROUTE_DISPATCH;
        out->instance = v->inst[local].id;
        return;
    }
    if (req->hops >= st->max_hops) {
        out->kind = EP_ROUTE_REJECT;
        out->reason = "offload: no instance on the node offloaded to";
        return;
    }
    /* Least-loaded other node holding a ready instance; nearer on ties. */
    int target = -1;
    ep_dur tload = 0, tdelay = 0;
    for (int n = 0; n < v->sc->nnodes; n++) {
        if (n == req->at_node || (v->node_up && !v->node_up[n]) || !link_ok(v, req->at_node, n))
            continue;
        ep_dur l;
        if (best_on_node(v, env, req, n, &l) < 0)
            continue;
        ep_dur dl = v->delay(v, req->at_node, n, req->bytes);
        if (target < 0 || l < tload || (l == tload && dl < tdelay)) {
            target = n;
            tload = l;
            tdelay = dl;
        }
    }
    if (target >= 0 && (local < 0 || tload + tdelay < lload)) {
        if (st->admission && env->now + tload + tdelay > req->deadline &&
            (local < 0 || env->now + lload > req->deadline)) {
            out->kind = EP_ROUTE_REJECT;
            out->reason = "offload: the deadline cannot be met";
            return;
        }
        out->kind = EP_ROUTE_FORWARD;
        out->node = target;
        return;
    }
    if (local >= 0) {
        if (st->admission && env->now + lload > req->deadline) {
            out->kind = EP_ROUTE_REJECT;
            out->reason = "offload: the deadline cannot be met";
            return;
        }
        out->kind = EP_ROUTE_DISPATCH;
        out->instance = v->inst[local].id;
        return;
    }
    out->kind = EP_ROUTE_REJECT;
    out->reason = "offload: no instance of the service";
}

static void
off_route(void *state, const ep_env *env, const ep_view *v, const ep_request_info *req,
          ep_route *out)
{
    off_state *st = state;
    route(st, env, v, req, out);
    if (st->link_admission)
        ep_link_adm_route(&st->link, env, v, req, out);
}

static int
off_pick_batch(void *state, const ep_env *env, const ep_view *view, int instance,
               const ep_queue_view *q, int *drop_expired)
{
    (void)env;
    const off_state *st = state;
    *drop_expired = st->drop_expired;
    return ep_pol_greedy_batch(view, instance, q);
}

/* The placement, co-location labelled MT: co-located instances run concurrently on their
 * device (ep_placement_mark_mt). */
static int
off_place_mt(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    int rc = off_place(state, env, view, out);
    if (rc == 0 && !out->unchanged)
        ep_placement_mark_mt(out);
    return rc;
}

const ep_policy_ops ep_policy_offload = {
        .name = "offload",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(off_state),
        .summary = "cooperative edge offloading: local unless overloaded, then the "
                   "least-loaded node; a replica per service per node",
        .params = off_params_decl,
        .init = off_init,
        .categorize = off_categorize,
        .place = off_place_mt,
        .route = off_route,
        .pick_batch = off_pick_batch,
};
