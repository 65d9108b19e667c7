/* `epara`: the EPARA policy (Wang et al., "EPARA: Parallelizing Categorized AI Inference in
 * Edge Clouds", arXiv 2511.00603, 2025), as designed in docs/architecture.md from the paper's
 * abstract and its authors' public material:
 *  - categorizer: latency- vs frequency-sensitive (SLO fps or hint), single- vs
 *    multi-device (memory, min_devices, or no single device meets the SLO);
 *  - allocator: per category, the parallel modes of its candidate instances (DP replicas
 *    with SLO-aware batching and MT co-location for latency x single; frame-level DP with
 *    multi-frame batches for frequency x single; for an LLM one device holds, replicas and
 *    TP groups of every width in a node, a group kept only where it serves more within the
 *    SLO than its devices would as replicas; for multi-device services TP groups in a node
 *    and PP chains over the fewest devices (pairs, triples, then chains of consecutive
 *    devices); instances sharing a device are labelled MT, which the host applies; a TP
 *    group of an LLM with other instances also hosts the other latency LLMs that fit
 *    (pooling: each prefills at the group's speed on every group), a service its own
 *    instances cover only where the group keeps the KV its own load needs);
 *  - state-aware scheduler: greedy maximization of sum_s w_s min(demand_s, supply_s) over
 *    those candidates under device memory (weights and the KV cache of the batch a
 *    candidate's capacity counts on) and compute budgets, each candidate costed by the larger
 *    of its memory share and device-time share per device; demand forecast by EWMA raised
 *    toward the recent peak (or the oracle), supply of running instances discounted by
 *    their backlog, hysteresis; when a service falls short on devices others took, two
 *    more plans with those devices (then every device it could use) priced higher, the
 *    plan covering most demand kept; instances share a device only where each meets its
 *    SLO at the slowdown the host applies (the scenario's MT factors at the expected number
 *    of instances busy at once: an LLM decoding keeps its device busy however light its
 *    load); a service left without an instance borrows from co-located LLMs' KV reserves,
 *    else, once the plan is done, joins a device whose instances it slows by less than it
 *    serves (requests weighted, each resident's loss against what it was planned to
 *    serve) if it carries its whole demand there; a latency LLM whose instances all prefill a
 *    long prompt past its TTFT gets the instance that prefills it fastest; devices left
 *    idle get an instance of the service with the least supply per unit of demand;
 *  - request router: serve locally if a local instance meets the deadline by its estimate
 *    (stretched by the co-location slowdown of busy neighbours; an LLM prompt only within
 *    `local_slack` of its time to the TTFT, the rest a margin), else dispatch to the
 *    earliest estimated completion including the link delay and the
 *    wait behind this node's own uplink queue (with a margin; an overloaded uplink goes to
 *    the requests with the most weight per byte first, at the rates the node has seen enter
 *    it over the last fraction of a second), reject
 *    early when nothing can meet it, and (LLMs) never past the running batch that keeps the
 *    TPOT SLO at the rate the instance admits (tpot_stretch, off by default: at the slowdown
 *    of the co-located instances running now), nor while the prefill work this node sent
 *    an instance that is decoding, over a mean output's decode life, would leave its
 *    requests' decode steps less than their TPOT allows (stall_admit: a burst above what the
 *    instances sustain is rejected, not admitted to make every request miss); LLM prompts for a
 * remote instance are forwarded to its node, which admits them on its current state, and a remote
 * instance's synced backlog is aged with the prefills that arrived since (and this node's own
 *    sends); a frequency task's frames are spread over the replicas that meet the deadline
 *    in proportion to the frames per second each sustains (smooth weighted round-robin);
 *    EDF queues for latency tasks, FIFO (per stream) for frequency tasks; batches as large
 *    as the earliest deadline allows, after dropping what can no longer meet its deadline.
 * Every policy state is one node's (or the controller's): nothing here is shared between
 * nodes except through the view.
 * Every mechanism can be switched off by a policy parameter (see params below).
 * This file: the description, parameters, categorizer, the placement round (ep_place),
 * batching and the ops table; epara_cand.c: candidate instances and their capacities under
 * co-location; epara_plan.c: the greedy scheduler's plan; epara_pool.c: the pooled plan;
 * epara_route.c: the request router (epara_internal.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "epara_internal.h"
#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

/* The parameters ep_init reads: the one place their defaults and domains live (the host
 * refuses any other key or value; switches are 0 or 1, 1 = the mechanism on). */
static const ep_param_decl epara_params_decl[] = {
        {"categorize", 0, 1, 1, 1,
         "categorize services (0: every one latency, multi-device only by memory)"},
        {"forward", 0, 1, 1, 1, "dispatch to other nodes (0: serve only on the ingress node)"},
        {"mt", 0, 1, 1, 1, "co-locate instances on a device (0: at most one per device)"},
        {"mf", 0, 1, 1, 1, "multi-frame batches for frequency tasks (0: one frame at a time)"},
        {"parallel", 0, 1, 1, 1, "TP/PP groups for multi-device services (0: none)"},
        {"early_reject", 0, 1, 1, 1, "reject early and drop expired requests (0: never)"},
        {"edf", 0, 1, 1, 1, "EDF queues for latency tasks (0: FIFO)"},
        {"hysteresis", 0, 1, 1, 1, "keep instances across placements (0: re-place each period)"},
        {"link_aware", 0, 1, 1, 1, "estimates count the node's own uplink queue"},
        {"own_sent", 0, 1, 1, 1, "LLM estimates count what this node sent since the last sync"},
        {"inflow", 0, 1, 1, 1, "LLM estimates count what arrived elsewhere since the last sync"},
        {"llm_forward", 0, 1, 1, 1,
         "LLM prompts for a remote instance go to its node (0: straight to the instance)"},
        {"kv_reserve", 0, 1, 1, 1, "LLM candidates plan memory for the KV cache too"},
        {"link_density", 0, 1, 1, 1,
         "an overloaded uplink carries the most weight per byte first (0: arrival order)"},
        {"tail_replica", 0, 1, 1, 1, "a replica on a fast device for an LLM's long prompts"},
        {"tp_gain", 1, INFINITY, 0, 1,
         "a TP group of a single-device LLM must serve this many times its devices as replicas"},
        {"tail_slack", 0.01, 1, 0, 0.5,
         "tail_replica: a long prompt prefilled within this share of the TTFT needs nothing more"},
        {"tail_factor", 1, 1000, 0, 4,
         "tail_replica: a long prompt is this many times the service's mean prompt"},
        {"link_margin", 0, 10, 0, 0.5, "the uplink wait counts (1 + link_margin) times"},
        {"link_window", 0, 3600, 0, 0.25,
         "link_density: seconds over which a node measures its arrival rates (0: period means)"},
        {"max_hops", 0, 1e6, 1, 3, "forwards a request may take"},
        {"local_slack", 0.05, 1, 0, 0.7,
         "LLM: the ingress node serves a prompt itself only when its estimate is within this "
         "share of the time to the deadline (1: anywhere within the deadline)"},
        {"ewma_alpha", 1e-6, 1, 0, 0.5, "EWMA weight of the newest rate in the demand forecast"},
        {"headroom", 1, INFINITY, 0, 1.25, "supply target as a multiple of forecast demand"},
        {"extra", 1, INFINITY, 0, 3, "spare capacity handed out up to this multiple of demand"},
        {"device_budget", 1e-6, 8, 0, 1,
         "device time a device may be planned for (> 1: MT co-location)"},
        {"tpot_admit", 0, 1, 1, 1, "LLM: dispatch only to instances below their TPOT-bound batch"},
        {"stall_admit", 0, 10, 0, 0.5,
         "LLM: dispatch to an instance with running requests only while the prefill work this "
         "node sent it over a mean output's decode life, this prompt's included, stays within "
         "this many times the share its decode steps leave within the TPOT (0: off)"},
        {"tpot_stretch", 0, 1, 1, 0,
         "LLM: the TPOT-bound batch counts the slowdown of the co-located instances running "
         "now, and an instance where one request alone would miss its TPOT takes none (0: "
         "alone, at least one; off by default, see docs/RESULTS.md)"},
        {"peak_weight", 0, 1, 0, 0.5, "how far the forecast moves toward the recent peak rate"},
        {"peak_decay", 0, 1, 0, 0.9, "decay of the recent peak rate per placement period"},
        {"drop_doomed", 0, 1, 1, 1,
         "early_reject also drops queued requests a batch of one would finish late"},
        {"mt_stretch", 0, 1, 1, 1,
         "estimates stretch the work by the slowdown of co-located busy instances"},
        {"mt_plan", 0, 1, 1, 1,
         "co-located instances are planned at the scenario's MT slowdown: each meets its SLO "
         "with all busy (0: device-time shares only)"},
        {"fill_idle", 0, 1, 1, 1, "devices idle once demand is covered get an instance too"},
        {"pool", 0, 1, 1, 1,
         "latency LLMs share TP groups (MT): a group of an LLM with other instances hosts the "
         "others, and a plan from pooled groups is kept when its queueing estimate is higher"},
        {"pool_load", 0, 1, 1, 1,
         "pool: a TP group takes a covered service as guest only while it keeps the KV its "
         "own share of demand needs, and plans value pooled members at their KV share (0: two "
         "long prompts' KV each, the split not valued)"},
        {"pool_split", 0, 1, 1, 1,
         "pool: a guest one device holds joins a TP group as a replica on each of its devices "
         "when those serve more within the SLO than a TP instance of it there and that pooled "
         "plan too beats the greedy's (0: guests are TP instances only)"},
        {"score_time", 0, 1, 1, 1,
         "the greedy's cost of a candidate counts the device time it takes, not only memory"},
        {"contest", 0, 1000, 0, 5,
         "devices a service short of its demand contests are priced 1 + contest in two more "
         "plans, the one covering most demand kept (0: one plan)"},
        {"per_service", 0, 1, 1, 0,
         "objective: shares of each service's demand (1) or requests served (0)"},
        {NULL, 0, 0, 0, 0, NULL},
};

static int
ep_init(void *state, const ep_env *env, const ep_view *view, const ep_param *params, int n)
{
    (void)env;
    epara_state *st = state;
    if (view->sc->nservices > MAX_SVC)
        return EP_EINVAL;
    /* The host checked them already; a direct caller gets the same answer. */
    if (ep_param_check("epara", epara_params_decl, view->sc, params, n, NULL, 0))
        return EP_EINVAL;
    epara_params *p = &st->p;
#define PARAM(key) ep_param_value(epara_params_decl, params, n, key)
    p->categorize = PARAM("categorize") != 0;
    p->forward = PARAM("forward") != 0;
    p->mt = PARAM("mt") != 0;
    p->mf = PARAM("mf") != 0;
    p->parallel = PARAM("parallel") != 0;
    p->early_reject = PARAM("early_reject") != 0;
    p->edf = PARAM("edf") != 0;
    p->hysteresis = PARAM("hysteresis") != 0;
    p->link_aware = PARAM("link_aware") != 0;
    p->own_sent = PARAM("own_sent") != 0;
    p->inflow = PARAM("inflow") != 0;
    p->llm_forward = PARAM("llm_forward") != 0;
    p->kv_reserve = PARAM("kv_reserve") != 0;
    p->link_density = PARAM("link_density") != 0;
    p->tail_replica = PARAM("tail_replica") != 0;
    p->tail_factor = PARAM("tail_factor");
    p->tail_slack = PARAM("tail_slack");
    p->tp_gain = PARAM("tp_gain");
    p->link_margin = PARAM("link_margin");
    p->link_window = PARAM("link_window");
    p->max_hops = (int)PARAM("max_hops");
    p->local_slack = PARAM("local_slack");
    p->alpha = PARAM("ewma_alpha");
    p->headroom = PARAM("headroom");
    p->extra = PARAM("extra");
    p->budget = PARAM("device_budget");
    p->tpot_admit = PARAM("tpot_admit") != 0;
    p->tpot_stretch = PARAM("tpot_stretch") != 0;
    p->stall_admit = PARAM("stall_admit");
    p->peak_weight = PARAM("peak_weight");
    p->peak_decay = PARAM("peak_decay");
    p->per_service = PARAM("per_service") != 0;
    p->score_time = PARAM("score_time") != 0;
    p->fill_idle = PARAM("fill_idle") != 0;
    p->contest = PARAM("contest");
    p->pool = PARAM("pool") != 0;
    p->pool_load = PARAM("pool_load") != 0;
    p->pool_split = PARAM("pool_split") != 0;
    p->mt_stretch = PARAM("mt_stretch") != 0;
    p->mt_plan = PARAM("mt_plan") != 0;
    p->drop_doomed = PARAM("drop_doomed") != 0;
#undef PARAM
    ep_link_adm_init(&st->link, view, p->link_margin, p->link_window);
    return 0;
}

/* --- categorizer ---------------------------------------------------------------------- */

static void
ep_categorize(void *state, const ep_view *view, int svc, ep_category *out)
{
    epara_state *st = state;
    ep_category_default(view, svc, out);
    if (!st->p.categorize) {
        out->sensitivity = EP_SENS_LATENCY;
        return;
    }
    if (out->multi_device)
        return;
    /* Multi-device also when no single device that holds it meets the SLO alone. */
    const ep_scenario *sc = view->sc;
    if (sc->services[svc].use_trace_exec)
        return;
    ep_instance_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.service = svc;
    sp.mode = EP_MODE_SINGLE;
    sp.ndev = 1;
    double mem = (double)ep_cost_instance_mem(sc, svc, 1);
    for (int d = 0; d < sc->ndevices; d++) {
        if (ep_pol_usable_mem(sc, d) < mem)
            continue;
        sp.devs[0] = d;
        if (ep_pol_capacity(view, &sp, NULL) > 0)
            return;
    }
    out->multi_device = 1;
}

/* Whether a pooled plan valued v replaces the greedy's, valued va: the kind of plan kept last
 * round needs to lose by 2% to be replaced (a move costs model loads). */
static int
pooled_wins(const epara_state *st, double v, double va)
{
    return st->pooled ? v >= va * 0.98 : v > va * 1.02;
}

static int
ep_place(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    (void)env;
    epara_state *st = state;
    const ep_scenario *sc = view->sc;
    int ns = sc->nservices;
    /* Demand forecast: EWMA of the period rates, raised toward the recent peak for bursty
     * services (the peak decays by peak_decay per period). */
    for (int s = 0; s < ns; s++) {
        double r = view->oracle_rate ? view->oracle_rate[s] : view->rate[s];
        st->forecast[s] =
                st->have_forecast ? st->p.alpha * r + (1 - st->p.alpha) * st->forecast[s] : r;
        st->peak[s] = r > st->peak[s] * st->p.peak_decay ? r : st->peak[s] * st->p.peak_decay;
        double burst = st->p.peak_weight * st->peak[s] + (1 - st->p.peak_weight) * st->forecast[s];
        if (burst > st->forecast[s] && !view->oracle_rate)
            st->forecast[s] = burst;
    }
    st->have_forecast = 1;
    static const cands none; /* the memo starts empty */
    cands cs = none;
    /* Not zeroed: cand_add writes every field of the entries below cs.n, the only ones read
     * (zeroing 65,536 candidates every round was a tenth of a default-scenario run). */
    cs.c = malloc(MAX_CAND * sizeof(cand));
    cs.cap = MAX_CAND;
    plan a = {0}, b = {0}, best = {0}; /* best: the pooled plan of the best width so far */
    int split = 0; /* the plan kept is pooled with replica guests (pool_split) */
    double *price = calloc((size_t)sc->ndevices + 1, sizeof *price);
    int rc = 0;
    if (!cs.c || !price) {
        rc = EP_ENOMEM;
        goto done;
    }
    for (int s = 0; s < ns; s++)
        epr_candidates_for(st, view, s, &cs);
    if ((rc = epr_plan_init(st, view, cs.n, &a)) != 0)
        goto done;
    double demand[MAX_SVC] = {0};
    for (int s = 0; s < ns; s++)
        demand[s] = st->forecast[s] * st->p.headroom;
    /* First cover the forecast demand; where a service fell short on devices others took,
     * plan again with those devices priced higher and keep the plan covering more. */
    st->price = NULL;
    double covered = epr_plan_cover(st, view, &cs, &a, demand);
    for (int all = 0; all <= 1 && st->p.contest > 0; all++) {
        epr_plan_free(&b);
        if (epr_contested(st, view, &cs, &a, demand, all, price) == 0)
            continue;
        if ((rc = epr_plan_init(st, view, cs.n, &b)) != 0)
            goto done;
        st->price = price;
        double more = epr_plan_cover(st, view, &cs, &b, demand);
        st->price = NULL;
        if (more > covered * (1 + 1e-9)) {
            plan t = a;
            a = b;
            b = t;
            covered = more;
        }
    }
    /* A plan from pooled TP groups instead, of the group width whose plan serves the most
     * within the SLO, when it serves more than the greedy's (the kind of plan kept last
     * round needs to lose by 2% to be replaced: a move costs model loads). */
    if (st->p.pool) {
        double va = epr_plan_value(st, view, &cs, &a, demand), vbest = -1;
        int wbest = 0;
        for (int w = 2; w <= EP_MAX_STAGE_DEVS && va >= 0; w++) {
            int any = 0;
            for (int k = 0; k < cs.n && !any; k++)
                any = epr_pooled_tp(view, &cs.c[k], demand, w);
            if (!any)
                continue;
            epr_plan_free(&b);
            if ((rc = epr_plan_init(st, view, cs.n, &b)) != 0)
                goto done;
            if (epr_plan_pooled(st, view, &cs, &b, demand, w, 0) == 0)
                continue;
            double vb = epr_plan_value(st, view, &cs, &b, demand);
            if (vb > vbest) {
                vbest = vb;
                wbest = w;
                plan t = best;
                best = b;
                b = t;
            }
        }
        int use = wbest > 0 && pooled_wins(st, vbest, va);
        /* pool_split: the same width with the guests that serve more as replicas joining as
         * replicas, kept when it too beats the greedy's plan. The estimate values plans at
         * the forecast mean, where a TP guest's faster prefill counts and a burst, in which
         * replicas prefill more prompts per second than a TP instance on the same devices,
         * does not. */
        if (use && st->p.pool_split) {
            epr_plan_free(&b);
            if ((rc = epr_plan_init(st, view, cs.n, &b)) != 0)
                goto done;
            if (epr_plan_pooled(st, view, &cs, &b, demand, wbest, 1) > 0) {
                double vs = epr_plan_value(st, view, &cs, &b, demand);
                if (pooled_wins(st, vs, va)) {
                    split = 1;
                    plan t = best;
                    best = b;
                    b = t;
                }
            }
        }
        if (use) {
            plan t = a;
            a = best;
            best = t;
        }
        st->pooled = use;
    }
    /* Then hand out spare capacity up to `extra` times demand (running instances first),
     * a replica for long prompts, idle devices, pooling. */
    if (st->p.hysteresis && st->placed_once)
        epr_keep_running(st, view, &cs, &a, demand, st->p.extra);
    epr_greedy(st, view, &cs, &a, demand, st->p.extra);
    if (st->p.tail_replica)
        epr_tail_replicas(st, view, &cs, &a, demand);
    if (st->p.fill_idle)
        epr_fill_idle(st, view, &cs, &a, demand);
    /* A service still without an instance (a bursty code model beside busy frames). */
    for (int s = 0; s < ns; s++)
        if (!(a.supply[s] > 0))
            epr_slow_to_cover(st, view, &cs, &a, demand, s);
    /* After fill_idle: the guests take no device, only the memory the host splits. */
    if (st->p.pool)
        epr_pool(st, view, &cs, a.chosen, demand, split);
    for (int k = 0; k < cs.n && !rc; k++)
        if (a.chosen[k])
            rc = ep_placement_add(out, &cs.c[k].spec);
    /* MT: instances sharing a device run concurrently on it (the host applies the mode). */
    if (!rc)
        ep_placement_mark_mt(out);
    st->placed_once = 1;
done:
    st->price = NULL;
    free(cs.c);
    free(price);
    epr_plan_free(&a);
    epr_plan_free(&b);
    epr_plan_free(&best);
    return rc;
}

/* The largest batch whose completion meets the earliest deadline among its requests. With
 * early rejection the host first drops what can no longer meet its deadline (expired, and
 * with drop_doomed what a batch of one would finish late), so the batch is taken from the
 * requests that can. */
static int
ep_pick_batch(void *state, const ep_env *env, const ep_view *view, int instance,
              const ep_queue_view *q, int *drop_expired)
{
    epara_state *st = state;
    const ep_instance_view *iv = &view->inst[instance];
    int maxb = ep_pol_max_batch(view, &iv->spec);
    *drop_expired = !st->p.early_reject ? EP_DROP_NONE
                    : st->p.drop_doomed ? EP_DROP_DOOMED
                                        : EP_DROP_EXPIRED;
    ep_time cut = env->now; /* what the host drops: deadlines before it */
    if (*drop_expired == EP_DROP_DOOMED)
        cut += ep_pol_dnn_batch(view, &iv->spec, 1, NULL);
    int best = 0, b = 0;
    ep_time earliest = EP_TIME_MAX;
    for (int k = 0; k < q->n && b < maxb; k++) {
        if (*drop_expired != EP_DROP_NONE && q->deadline[k] < cut)
            continue; /* dropped before the batch is taken */
        b++;
        if (q->deadline[k] < earliest)
            earliest = q->deadline[k];
        if (env->now + ep_pol_dnn_batch(view, &iv->spec, b, NULL) <= earliest)
            best = b;
    }
    /* Nothing can make the head's deadline: run a full batch for those behind it. */
    return best > 0 ? best : (b > 0 ? b : 1);
}

const ep_policy_ops ep_policy_epara = {
        .name = "epara",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(epara_state),
        .summary = "EPARA: categorized parallelism, state-aware placement, deadline routing",
        .params = epara_params_decl,
        .init = ep_init,
        .categorize = ep_categorize,
        .place = ep_place,
        .route = epr_route,
        .pick_batch = ep_pick_batch,
};
