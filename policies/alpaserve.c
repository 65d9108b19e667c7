/* `alpaserve`: AlpaServe (Z. Li, L. Zheng, Y. Zhong et al., "AlpaServe: Statistical
 * Multiplexing with Model Parallelism for Deep Learning Serving", OSDI 2023, arXiv
 * 2302.11665) behind the epara policy interface. This file: the description, parameters,
 * routing, batching and the ops table; alpaserve_search.c: placement (memory planning, the
 * greedy, partitions, replan rule); alpaserve_fastsim.c: the fast simulator. Only the paper's
 * abstract was readable to us; the algorithm follows the authors' code,
 * github.com/alpa-projects/mms:
 *  - placement_policy/model_parallelism.py (ModelParallelismSearch): enumerate partitions of
 *    the devices into groups with one parallel config each (enumerate_group_configs[_uneven]:
 *    power-of-two group sizes, the remainder in power-of-two groups, op <= 4, pp <= 8), place
 *    replicas on each partition, keep the best by simulated score; max_bs = 1 in the search.
 *  - placement_policy/base_policy.py: replica_placement_beam_search (the simulator-guided
 *    greedy: add the (model, group) replica with the best simulated score, one replica of a
 *    model per group, weights within group memory, until nothing fits);
 *    get_goodput_simulation (score = attainment - mean latency / 1e4 + replicas / 1e6);
 *    gen_train_workload (Gamma arrivals at each model's rate and CV, >= 100 s, >= 30000).
 *  - simulator/controller.py: simulate_requests (a request goes to the holding group free
 *    earliest; one that would finish after its SLO is dropped at no cost); select_group_id
 *    (dispatch to the group with the shortest queue); GroupManager.handle_request ("Drop
 *    this request if it will exceed deadline").
 *  - controller.py, GroupManager.check_slo / get_max_batch_under_slo, and pull requests #30
 *    and #92: the runtime rejects what cannot meet its deadline; with batching (on in
 *    serving, off in the placement search) it drops queued requests that would miss even
 *    alone and runs the largest batch that still meets the head request's deadline.
 * Here (our adaptations, for edge clusters, LLMs and this host):
 *  - place(): each device class is partitioned on its own (singles; groups of 2, 4, 8 as TP
 *    inside a node or PP across nodes); all combinations up to max_partitions, else one
 *    coordinate-descent pass. Per partition, the greedy (beam width 1) stops when no replica
 *    improves the score. The fast simulator samples Poisson arrivals (Gamma with param
 *    cv.<service>) at view->oracle_rate or view->rate over max(horizon_s, samples / rate),
 *    thinning services above max_per_service samples. Each replica is a FIFO server with
 *    its own clock (our host runs co-located instances concurrently, slowed by the MT
 *    factor, where AlpaServe runs one stream per group): latency = batch-1 time (DNN) or
 *    prefill (LLM TTFT) + mean network delay from the ingress nodes, occupancy = 1 / SLO
 *    capacity (as ep_pol_capacity), both stretched by ep_cost_mt_slowdown(k) for k - 1
 *    expected busy neighbours. Later ticks: demand is smoothed (ewma); after a drift over
 *    `drift` the search reruns and is adopted only if it places as many services and beats
 *    the current placement's score by replan_gain (equivalent groups keep replicas).
 *  - Memory planning with the KV cache (an adaptation: AlpaServe's models have no KV cache
 *    and its greedy checks weights only, which on LLMs packs replicas that then hold too
 *    few tokens to serve): an LLM replica reserves the cache of the batch its share of the
 *    demand needs, as adainf does: the smallest running batch whose SLO capacity
 *    (ep_pol_capacity_at) carries its share, capped at its SLO batch (the batch
 *    ep_pol_capacity's throughput assumes), at least 1; batch x (mean input + mean output)
 *    tokens x KV bytes per token, split over its devices. Its share: the service's rate / k
 *    for its k-th replica in the greedy (a later replica never lowers the reservation its
 *    devices were charged for an earlier one). A replica joins a group only if its weights
 *    and that cache fit beside what the group's devices hold, as the host shares memory: it
 *    splits what weights and reserves leave on a device evenly among the LLM instances there
 *    (node/place.c, share_kv), so a device holds n LLMs only if it leaves n x the largest
 *    per-device reservation among them. The fast simulator models each replica with its
 *    reserved cache, the least the host then gives it.
 *  - An LLM instance runs at most (max_batch) the SLO batch of the cache the host will give
 *    it under the placement (its even share; AlpaServe's runtime runs the largest batch that
 *    meets the SLO): at least the batch it reserved for, often more. A larger batch is safe:
 *    the host fixes each LLM instance's share when it applies a placement and an instance
 *    only ever uses its own, so its batch never takes KV reserved for another, and that
 *    batch x the mean request fits its share. A replica that stays on its group keeps its
 *    batch (a new one means a reload) while that is no larger and still carries its share;
 *    the replan rule scores the current placement with each replica at most its batch.
 *  - llama-13b on edge-default (26 GB) fits only on a pair of the four RTX 4090s, and
 *    AlpaServe's partitions are uniform per device class (two pairs, never a pair and two
 *    singles). At rate scale 1 it gets a pair (sd-gen, 0.3 requests/s, is then the service
 *    left out). From 2 up, llama-3b's demand exceeds what one replica carries, so its first
 *    replica reserves its SLO batch's cache (6 GB per GPU of a pair), and under the even
 *    split no other large LLM fits on its pair; llama-13b and llama-8b do not fit together
 *    on the other (weights and reserves 14 + 9 GB of a GPU's 21.6), and room is kept for the
 *    more requested first: llama-13b gets no replica. Not special-cased: placements compare
 *    by the services they hold, and these hold equally many.
 *  - Every model placed (AlpaServe's greedy adds replicas until memory is full, so every
 *    model gets one when memory allows; ours stops when nothing improves the score, and a
 *    rarely used model that slows its neighbours, like a diffusion model, would get none):
 *    while services are without a replica, a candidate must leave room for as many of them
 *    as fit together (the most requested first); when nothing improves the score, such a
 *    service still gets its best-scoring group; partitions compare by the services they
 *    place, then by score.
 *  - route(): the ready instance of the service with the shortest queue (queued + running:
 *    current on the routing node; elsewhere the last snapshot, drained at the instance's SLO
 *    capacity, plus what this policy sent since, as AlpaServe's controller counts its own
 *    dispatches), ties by estimate; admission=1 rejects when the estimate (ep_pol_estimate +
 *    unsynced sends, x MT slowdown of busy neighbours) misses the deadline; fallback=1 (not
 *    AlpaServe) first tries the other instances. Dispatch is centralized, as AlpaServe's
 *    controller receives every request (central_dispatch=1): a request entering another
 *    node is forwarded once to the dispatcher (the node with the most compute), whose state
 *    counts every dispatch; with one policy state per node, ingress-local dispatch
 *    (central_dispatch=0) sees only its own sends between state syncs. link_admission=1 (not
 *    AlpaServe, which has no notion of the uplink) then applies EPARA's uplink admission at
 *    the ingress (policies/link.c): it exists to measure how much of EPARA's gain is its link
 *    handling (the row "alpaserve + EPARA's link admission").
 *  - pick_batch(): expired requests dropped; the largest batch that meets every request in
 *    it that could meet its deadline alone. LLMs: the host's continuous batching (up to
 *    max_batch, above).
 *  - categorize(): ep_category_default, for the host's reports only (no categories).
 * Parameters: al_params below (policy.params; the host refuses other keys and values).
 * Cost (Release, one core): edge-default (12 devices, 7 services, ~5,400 samples) ~0.3-0.6 s
 * of searches per simulated hour. Sized for tens of devices: the greedy grows with devices x
 * replicas x samples. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alpaserve_internal.h"
#include "epara/core/error.h"
#include "epara/policies/policy.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

/* --- parameters --------------------------------------------------------------------------- */

/* The parameters al_init reads: the one place their defaults and domains live (the host
 * refuses any other key or value; "cv." is a prefix, followed by a service name). */
static const ep_param_decl al_params[] = {
        {"horizon_s", 1e-3, 1e6, 0, 100,
         "seconds of sampled arrivals the placement search replays"},
        {"samples", 1, 1e7, 1, 30000, "the sample spans at least this many requests"},
        {"max_per_service", 10, 1e7, 1, 3000,
         "a service with more sampled requests is thinned to this many (weighted)"},
        {"cv.", 1e-3, 100, 0, 1, "inter-arrival CV of the service's sampled arrivals (Gamma)"},
        {"ewma", 1e-3, 1, 0, 0.5, "weight of the last period's rate in the smoothed demand"},
        {"drift", 0, INFINITY, 0, 0.25,
         "the search reruns when demand moved by more than this fraction"},
        {"replan_gain", 0, INFINITY, 0, 0.02,
         "a new placement is adopted only if its score beats the current one's by this"},
        {"admission", 0, 1, 1, 1, "reject a request whose estimate misses its deadline"},
        {"fallback", 0, 1, 1, 0,
         "before rejecting, try the other replicas (not AlpaServe; 0: shortest queue only)"},
        {"central_dispatch", 0, 1, 1, 1,
         "requests go to one dispatcher node, as to AlpaServe's controller (0: the ingress)"},
        {"max_partitions", 1, 1e6, 1, 64,
         "enumerate all device partitions up to this many, else one coordinate-descent pass"},
        EP_LINK_ADM_PARAM,
        {NULL, 0, 0, 0, 0, NULL},
};

static int
al_init(void *state, const ep_env *env, const ep_view *view, const ep_param *params, int n)
{
    (void)env;
    alpa_state *st = state;
    if (view->sc->nservices > MAX_SVC)
        return EP_EINVAL;
    /* The host checked them already; a direct caller gets the same answer. */
    if (ep_param_check("alpaserve", al_params, view->sc, params, n, NULL, 0))
        return EP_EINVAL;
#define PARAM(key) ep_param_value(al_params, params, n, key)
    st->horizon_s = PARAM("horizon_s");
    st->samples = PARAM("samples");
    st->max_per_svc = PARAM("max_per_service");
    st->replan_gain = PARAM("replan_gain");
    st->drift = PARAM("drift");
    st->ewma = PARAM("ewma");
    st->admission = PARAM("admission") != 0;
    st->fallback = PARAM("fallback") != 0;
    st->max_partitions = (int)PARAM("max_partitions");
    st->link_admission = PARAM("link_admission") != 0;
    st->dispatcher = -1;
    if (PARAM("central_dispatch") != 0) { /* the node with the most compute */
        double most = -1;
        for (int k = 0; k < view->sc->nnodes; k++) {
            double f = 0;
            const ep_node *nd = &view->sc->nodes[k];
            for (int d = nd->dev0; d < nd->dev0 + nd->ndev; d++)
                f += view->sc->specs[view->sc->devices[d].spec].peak_flops;
            if (f > most) {
                most = f;
                st->dispatcher = k;
            }
        }
    }
    for (int s = 0; s < view->sc->nservices; s++) {
        char key[EP_NAME_MAX + 4];
        snprintf(key, sizeof key, "cv.%s", view->sc->services[s].name);
        st->cv[s] = PARAM(key);
    }
#undef PARAM
    if (st->link_admission)
        ep_link_adm_init(&st->link, view, EP_LINK_ADM_MARGIN, EP_LINK_ADM_WINDOW);
    return 0;
}

static void
al_fini(void *state)
{
    alpa_state *st = state;
    free(st->cur);
    st->cur = NULL;
}

/* --- routing and batching ------------------------------------------------------------------------
 */

static double
drained(const alpa_track *t, double q, ep_time from, ep_time to)
{
    if (t->drain_s > 0 && to > from)
        q -= ep_dur_to_s(to - from) / t->drain_s;
    return q > 0 ? q : 0;
}

static alpa_track *
slot(alpa_state *st, const ep_view *v, const ep_instance_view *iv)
{
    alpa_track *t = &st->tr[(unsigned)iv->id % MAX_TRACK];
    if (t->id != iv->id + 1) {
        double cap = ep_pol_capacity(v, &iv->spec, NULL);
        t->id = iv->id + 1;
        t->drain_s = cap > 0 ? 1 / cap : 0;
        t->synced_at = iv->synced_at - 1;
    }
    if (t->synced_at != iv->synced_at) {
        t->synced_at = iv->synced_at;
        t->q = iv->queued + iv->running;
        t->at = iv->synced_at;
    }
    return t;
}

/* The instance's queue (queued + running) as the routing node knows it: current for its own
 * instances; for remote ones the belief above (AlpaServe's controller counts the requests it
 * dispatched and not yet answered; we see answers only at syncs). *extra gets the requests
 * the belief holds beyond the drained snapshot, i.e. sent since the sync. */
static int
queue_len(alpa_state *st, const ep_view *v, const ep_env *env, const ep_request_info *req,
          const ep_instance_view *iv, double *extra)
{
    *extra = 0;
    if (iv->node == req->at_node)
        return iv->queued + iv->running;
    alpa_track *t = slot(st, v, iv);
    double q = drained(t, t->q, t->at, env->now);
    double snap = drained(t, iv->queued + iv->running, iv->synced_at, env->now);
    *extra = q > snap ? q - snap : 0;
    return (int)ceil(q - 1e-9);
}

/* Estimated completion (first token for LLMs): ep_pol_estimate plus the work sent since the
 * last sync, the instance's share stretched by the co-location slowdown of the instances
 * busy on its device (AlpaServe's runtime corrects its latency model by the measured ratio
 * in the same spirit). */
static ep_time
estimate(const ep_view *v, const ep_env *env, const ep_request_info *req,
         const ep_instance_view *iv, double pend)
{
    ep_dur move = v->delay(v, req->at_node, iv->node, req->bytes);
    ep_dur work = ep_pol_estimate(v, env, req, iv->id) - env->now - move;
    if (pend > 0) {
        const ep_service *svc = &v->sc->services[iv->spec.service];
        ep_dur per;
        if (svc->kind == EP_SVC_LLM) {
            double in = v->mean_input ? v->mean_input[iv->spec.service] : 0;
            if (in < 1)
                in = 512;
            per = ep_pol_llm_iteration(v, &iv->spec, (int64_t)in, in * in, 0, 0);
        } else {
            int mb = iv->spec.max_batch > 0 ? iv->spec.max_batch
                                            : alpa_max_batch(v->sc, iv->spec.service);
            per = ep_pol_dnn_batch(v, &iv->spec, mb, NULL) / mb;
        }
        work += ep_round_i64(pend * (double)per);
    }
    work = ep_round_i64((double)work * ep_pol_mt_stretch(v, iv));
    return env->now + move + work;
}

/* AlpaServe's dispatch and admission (the header's route()). */
static void
route(alpa_state *st, const ep_env *env, const ep_view *view, const ep_request_info *req,
      ep_route *out)
{
    int best = -1, bq = 0;
    ep_time bt = 0;
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *iv = &view->inst[i];
        if (iv->spec.service != req->service || !iv->ready)
            continue;
        double pend;
        int q = queue_len(st, view, env, req, iv, &pend);
        if (best >= 0 && q > bq)
            continue;
        ep_time t = estimate(view, env, req, iv, pend);
        if (best < 0 || q < bq || t < bt) {
            best = i;
            bq = q;
            bt = t;
        }
    }
    if (best < 0) {
        out->kind = EP_ROUTE_REJECT;
        out->reason = "no instance of the service";
        return;
    }
    if (st->admission && bt > req->deadline) {
        /* AlpaServe's group rejects what it cannot finish in time; fallback=1 first looks
         * for any instance that can. */
        int alt = -1;
        for (int i = 0; st->fallback && i < view->ninst; i++) {
            const ep_instance_view *iv = &view->inst[i];
            if (iv->spec.service != req->service || !iv->ready || i == best)
                continue;
            double pend;
            queue_len(st, view, env, req, iv, &pend);
            ep_time t = estimate(view, env, req, iv, pend);
            if (t <= req->deadline && (alt < 0 || t < bt)) {
                alt = i;
                bt = t;
            }
        }
        if (alt < 0) {
            out->kind = EP_ROUTE_REJECT;
            out->reason = "would miss its SLO (AlpaServe admission)";
            return;
        }
        best = alt;
    }
    out->kind = EP_ROUTE_DISPATCH;
    out->instance = view->inst[best].id;
}

static void
al_route(void *state, const ep_env *env, const ep_view *view, const ep_request_info *req,
         ep_route *out)
{
    alpa_state *st = state;
    if (st->dispatcher >= 0 && req->hops == 0 && req->at_node != st->dispatcher &&
        view->node_up[st->dispatcher]) {
        out->kind = EP_ROUTE_FORWARD; /* to the controller, which dispatches */
        out->node = st->dispatcher;
        if (st->link_admission) /* the forward leaves through this node's uplink */
            ep_link_adm_route(&st->link, env, view, req, out);
        return;
    }
    route(st, env, view, req, out);
    if (st->link_admission)
        ep_link_adm_route(&st->link, env, view, req, out);
    if (out->kind != EP_ROUTE_DISPATCH)
        return;
    /* Count what was sent to a remote instance (not what the link admission held back). */
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *iv = &view->inst[i];
        if (iv->id != out->instance || iv->node == req->at_node)
            continue;
        alpa_track *t = slot(st, view, iv);
        t->q = drained(t, t->q, t->at, env->now) + 1;
        t->at = env->now;
        break;
    }
}

static int
al_pick_batch(void *state, const ep_env *env, const ep_view *view, int instance,
              const ep_queue_view *q, int *drop_expired)
{
    (void)state;
    const ep_instance_view *iv = &view->inst[instance];
    int mb = iv->spec.max_batch > 0 ? iv->spec.max_batch
                                    : alpa_max_batch(view->sc, iv->spec.service);
    *drop_expired = 1;
    /* Over the requests left after the expired ones are dropped: grow the batch while it
     * meets every request in it that could meet its deadline alone. */
    ep_time now = env->now;
    ep_time t1 = now + ep_pol_dnn_batch(view, &iv->spec, 1, NULL);
    ep_time min_dl = EP_TIME_MAX;
    int b = 0, fresh = 0;
    for (int i = 0; i < q->n && fresh < mb; i++) {
        if (q->deadline[i] < now)
            continue;
        fresh++;
        if (q->deadline[i] >= t1 && q->deadline[i] < min_dl)
            min_dl = q->deadline[i];
        if (min_dl != EP_TIME_MAX && now + ep_pol_dnn_batch(view, &iv->spec, fresh, NULL) > min_dl)
            break;
        b = fresh;
    }
    return b > 0 ? b : (fresh > 0 ? 1 : (q->n < mb ? q->n : mb));
}

static void
al_categorize(void *state, const ep_view *view, int svc, ep_category *out)
{
    (void)state;
    ep_category_default(view, svc, out); /* reporting only: AlpaServe has no categories */
}

/* The placement, co-location labelled MT: co-located instances run concurrently on their
 * device (ep_placement_mark_mt). */
static int
alpa_place_mt(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    int rc = alpa_place(state, env, view, out);
    if (rc == 0 && !out->unchanged)
        ep_placement_mark_mt(out);
    return rc;
}

const ep_policy_ops ep_policy_alpaserve = {
        .name = "alpaserve",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(alpa_state),
        .summary = "AlpaServe (OSDI'23): simulation-guided model-parallel placement, "
                   "shortest-queue dispatch, SLO admission",
        .params = al_params,
        .init = al_init,
        .categorize = al_categorize,
        .place = alpa_place_mt,
        .route = al_route,
        .pick_batch = al_pick_batch,
        .fini = al_fini,
};
