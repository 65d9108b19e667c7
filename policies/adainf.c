/* `adainf`: per-edge-server multi-model serving after AdaInf (Shen et al., "AdaInf: Data Drift
 * Adaptive Scheduling for Accurate and SLO-guaranteed Multiple-Model Inference Serving at Edge
 * Servers", ACM SIGCOMM 2023). Invariant: a request is served on its ingress node or rejected
 * there, never forwarded. Each node's devices are split among the services whose requests
 * enter it by what each needs to meet its SLO at its rate, re-planned every placement period.
 *
 * Sources (read for this file): the paper's abstract (ACM SIGCOMM'23; AMiner page 65268d5c...)
 * says AdaInf "allocates GPU amount among applications based on their SLOs" and, for each
 * application, "splits GPU time between retraining and inference to satisfy its SLO"; the
 * authors' repository (github.com/ss7krd/AdaInf: README "scheduling.cu has the code for the
 * space and time allocation"; Graph/Data analysis/impact_gpuSpace_batchSize.py plots the
 * worst-case latency by batch size under 25-100% of the GPU's space) shows that the allocation
 * picks GPU space/time and batch size so the worst-case latency meets the SLO. The paper's
 * body and scheduling.cu were not available to us. Out of scope: data drift, incremental
 * retraining, early exits and CPU-GPU memory transfers (our services have no retraining jobs,
 * so an application's whole GPU share goes to inference).
 *
 * Our rendering, per node n, at time 0 and every placement period:
 *   - demand d(n,s), requests of s entering n per second: before the first period the view's
 *     per-service rate split over the scenario's workload mapping (each workload of s an equal
 *     part, spread evenly over its ingress nodes, as the host spreads it round-robin); then an
 *     EWMA of the arrivals this policy counted at n (an edge server knows its own request
 *     rates); with oracle=1 the oracle rate split over the mapping.
 *   - SLO capacity cap(s,j,k) of a replica of s on device j: ep_pol_capacity's rule (the
 *     largest batch whose worst case, one batch waited for and one run, meets the deadline;
 *     LLM: the running batch that keeps TTFT and TPOT) with every batch or iteration slowed
 *     by the host's MT factor at k co-located busy instances (our analog of AdaInf's GPU
 *     space); when no batch qualifies but a lone request meets the SLO, the lone-request rate.
 *   - time split: replicas are packed first with unshared capacities (s takes the share
 *     d / cap of a device; a service needing more than what is left of one device gets
 *     replicas on further devices of n: data parallel inside the server, never across nodes;
 *     one that no single device of n serves runs tensor parallel over the fewest devices of
 *     n). Then each replica is re-rated at k = 1 + the busy fractions of the instances beside
 *     it, and where a device's needs exceed `max_util` they are scaled down in proportion
 *     (AdaInf splits GPU time by SLO need). Replicas that then meet no SLO are dropped.
 *   - when n cannot serve everything (memory, time, slowdown), the subset of its services
 *     maximizing the weighted SLO-bounded supply sum w min(d, supply) is kept (all subsets up
 *     to `exhaustive_max` candidates; higher w*d packs first); the previous subset stays
 *     unless the new one is better by more than `hysteresis` (a reload costs service time).
 *   - batch: a DNN replica runs the largest batch whose worst case, slowed as if every
 *     instance on its device were busy, meets the deadline; an LLM replica caps its running
 *     batch at its SLO-capacity batch. Co-located single-device instances are marked MT.
 * A request entering a node with no instance of its service is rejected there (e.g. at micro
 * nodes whose CPU meets no SLO; best_effort=1 still places such services where memory allows,
 * to run late). Routing: the local replica with the earliest estimated completion;
 * admission=1 rejects at once a request no local replica can finish in time. FIFO queues;
 * greedy batches up to the replica's batch; drop_expired=1 drops queued requests already
 * late (misses either way).
 * Parameters (defaults; chosen as the best on edge-default, both trace sets): ewma 0.25,
 * hysteresis 0.5, max_util 1.0, admission 1, drop_expired 1, best_effort 0, exhaustive_max 10.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "epara/error.h"
#include "epara/policy.h"
#include "epara/policy_util.h"
#include "epara/profile.h"

#define MAX_CAND 31 /* candidates per node (bits of a subset mask) */
#define KSTEPS   64 /* cached co-location levels: k = 1 + i / 8 */
#define MIN_RATE 1e-3

typedef struct cand {
    int svc;
    double d, w;
    int multi; /* needs a tensor-parallel group on this node */
} cand;

typedef struct ada_state {
    /* parameters */
    double ewma, max_util, hysteresis;
    int admission, drop_expired, best_effort, exhaustive_max;
    /* sizes */
    int nnodes, nsvc, maxdev;
    /* demand */
    ep_time last_place;
    int planned;
    int64_t *cnt;  /* arrivals per (node, service) counted since the last plan */
    double *dem;   /* demand estimate per (node, service), req/s */
    double *share; /* per (node, service): fraction of s's requests entering n (mapping) */
    /* previous plan */
    unsigned char *chosen;  /* per (node, service) */
    ep_instance_spec *prev; /* per node: maxdev * nsvc slots */
    int *nprev;
    /* scratch for planning one node */
    cand *cands;
    /* Per (candidate, slot): slot j < maxdev is a single-device replica on the node's device
     * j, slot maxdev + g a tensor-parallel group of g devices. < 0: not computed. */
    int nslot;
    double *capc; /* SLO capacity by co-location level */
    double *lone; /* time one request alone takes (DNN: batch 1; LLM: prefill + decode) */
    double *freem, *tshare;
    ep_instance_spec *plan, *best;
    double *pshare;                       /* per plan slot: device share taken */
    int *pcand;                           /* per plan slot: candidate */
    double *px, *pneed, *pbusy, *pk, *bk; /* pk: co-location level; bk: of best[] */
} ada_state;

static int
ada_init(void *state, const ep_env *env, const ep_view *v, const ep_param *params, int n)
{
    (void)env;
    ada_state *st = state;
    const ep_scenario *sc = v->sc;
    st->ewma = ep_param_get(params, n, "ewma", 0.25);
    st->max_util = ep_param_get(params, n, "max_util", 1.0);
    st->hysteresis = ep_param_get(params, n, "hysteresis", 0.5);
    st->admission = ep_param_get(params, n, "admission", 1) != 0;
    st->drop_expired = ep_param_get(params, n, "drop_expired", 1) != 0;
    st->best_effort = ep_param_get(params, n, "best_effort", 0) != 0;
    double ex = ep_param_get(params, n, "exhaustive_max", 10);
    if (!(st->ewma > 0 && st->ewma <= 1) || !(st->max_util > 0 && st->max_util <= 100) ||
        !(st->hysteresis >= 0) || !(ex >= 0 && ex <= 20))
        return EP_EINVAL;
    st->exhaustive_max = (int)ex;
    st->nnodes = sc->nnodes;
    st->nsvc = sc->nservices;
    st->maxdev = 1;
    for (int i = 0; i < sc->nnodes; i++)
        if (sc->nodes[i].ndev > st->maxdev)
            st->maxdev = sc->nodes[i].ndev;
    size_t ns = (size_t)st->nnodes * (size_t)st->nsvc + 1;
    size_t slots = (size_t)st->maxdev * (size_t)st->nsvc + 1;
    st->cnt = calloc(ns, sizeof *st->cnt);
    st->dem = calloc(ns, sizeof *st->dem);
    st->share = calloc(ns, sizeof *st->share);
    st->chosen = calloc(ns, 1);
    st->prev = calloc(slots * (size_t)st->nnodes, sizeof *st->prev);
    st->nprev = calloc((size_t)st->nnodes + 1, sizeof *st->nprev);
    st->cands = calloc((size_t)st->nsvc + 1, sizeof *st->cands);
    st->nslot = st->maxdev + EP_MAX_STAGE_DEVS + 1;
    size_t cslots = (size_t)(st->nsvc + 1) * (size_t)st->nslot;
    st->capc = calloc(cslots * KSTEPS, sizeof *st->capc);
    st->lone = calloc(cslots, sizeof *st->lone);
    st->freem = calloc((size_t)st->maxdev, sizeof *st->freem);
    st->tshare = calloc((size_t)st->maxdev, sizeof *st->tshare);
    st->plan = calloc(slots, sizeof *st->plan);
    st->best = calloc(slots, sizeof *st->best);
    st->pshare = calloc(slots, sizeof *st->pshare);
    st->pcand = calloc(slots, sizeof *st->pcand);
    st->px = calloc(slots, sizeof *st->px);
    st->pneed = calloc(slots, sizeof *st->pneed);
    st->pbusy = calloc(slots, sizeof *st->pbusy);
    st->pk = calloc(slots, sizeof *st->pk);
    st->bk = calloc(slots, sizeof *st->bk);
    if (!st->cnt || !st->dem || !st->share || !st->chosen || !st->prev || !st->nprev ||
        !st->cands || !st->capc || !st->lone || !st->freem || !st->tshare || !st->plan ||
        !st->best || !st->pshare || !st->pcand || !st->px || !st->pneed || !st->pbusy || !st->pk ||
        !st->bk)
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
                    st->share[(size_t)w->ingress[i] * (size_t)st->nsvc + (size_t)s] +=
                            1.0 / nw / w->ningress;
        }
    }
    return 0;
}

static void
ada_fini(void *state)
{
    ada_state *st = state;
    free(st->cnt);
    free(st->dem);
    free(st->share);
    free(st->chosen);
    free(st->prev);
    free(st->nprev);
    free(st->cands);
    free(st->capc);
    free(st->lone);
    free(st->freem);
    free(st->tshare);
    free(st->plan);
    free(st->best);
    free(st->pshare);
    free(st->pcand);
    free(st->px);
    free(st->pneed);
    free(st->pbusy);
    free(st->pk);
    free(st->bk);
}

static void
ada_categorize(void *state, const ep_view *view, int svc, ep_category *out)
{
    (void)state;
    ep_category_default(view, svc, out);
}

/* --- SLO capacity under co-location --------------------------------------------------- */

/* ep_pol_capacity's rule with every batch or iteration slowed by f (the MT factor of the
 * instance's device); a lone request's rate (batch 1) when no batch qualifies but a lone
 * request meets the SLO; 0 when hopeless. *batch gets the batch. */
static double
capacity_f(const ep_view *v, const ep_instance_spec *sp, double f, int *batch)
{
    const ep_service *svc = &v->sc->services[sp->service];
    int mb = sp->max_batch > 0 ? sp->max_batch : svc->max_batch;
    if (mb < 1)
        mb = 1;
    double best = 0;
    int bb = 0;
    if (svc->kind == EP_SVC_DNN) {
        double limit = (double)(svc->slo.fps > 0 ? svc->slo.frame_deadline : svc->slo.deadline);
        for (int b = 1; b <= mb; b++) {
            ep_dur interval;
            double t = (double)ep_pol_dnn_batch(v, sp, b, &interval) * f;
            double iv = (double)interval * f;
            double worst = sp->mode == EP_MODE_PP ? iv + t : 2.0 * t;
            if (worst > limit) {
                if (b == 1 && t > 0 && t <= limit) {
                    best = 1e9 / (iv > 0 ? iv : t);
                    bb = 1;
                }
                break; /* batch time grows with b */
            }
            double cap = (double)b / ((iv > 0 ? iv : t) / 1e9);
            if (cap > best) {
                best = cap;
                bb = b;
            }
        }
        *batch = bb;
        return best;
    }
    double in = v->mean_input && v->mean_input[sp->service] >= 1 ? v->mean_input[sp->service] : 512;
    double out =
            v->mean_output && v->mean_output[sp->service] >= 1 ? v->mean_output[sp->service] : 128;
    int64_t kv = ep_pol_kv_capacity(v, sp);
    double p = (double)ep_pol_llm_iteration(v, sp, (int64_t)in, in * in, 0, 0) * f / 1e9;
    double ttft = (double)svc->slo.ttft / 1e9, tpot = (double)svc->slo.tpot / 1e9;
    if (kv <= 0 || (double)kv < in + out) {
        *batch = 0;
        return 0;
    }
    for (int b = 1; p <= ttft / 2 && b <= mb; b++) {
        if ((double)b * (in + out) > (double)kv)
            break;
        double d = (double)ep_pol_llm_iteration(v, sp, 0, 0, b, (int64_t)((in + out / 2) * b)) * f /
                   1e9;
        double lambda = (double)b / (out * d + (double)b * p);
        double lp = lambda * p;
        if (lp >= 1 || d / (1 - lp) > tpot)
            continue;
        if (lambda > best) {
            best = lambda;
            bb = b;
        }
    }
    if (best <= 0) {
        double d1 = (double)ep_pol_llm_iteration(v, sp, 0, 0, 1, (int64_t)(in + out / 2)) * f / 1e9;
        if (p <= ttft && d1 <= tpot) {
            best = 1 / (p + out * d1);
            bb = 1;
        }
    }
    *batch = bb;
    return best;
}

/* The MT slowdown at a fractional number k of busy co-located instances (linear between the
 * host's integer levels). */
static double
slowdown_at(const ep_scenario *sc, double k)
{
    if (k <= 1)
        return 1;
    int lo = (int)k;
    double a = ep_cost_mt_slowdown(sc, lo), b = ep_cost_mt_slowdown(sc, lo + 1);
    return a + (k - lo) * (b - a);
}

static size_t
slot_of(const ada_state *st, const ep_view *v, int node, int c, const ep_instance_spec *sp)
{
    int slot = sp->ndev == 1 ? sp->devs[0] - v->sc->nodes[node].dev0 : st->maxdev + sp->ndev;
    return (size_t)c * (size_t)st->nslot + (size_t)slot;
}

/* SLO capacity of plan instance sp (candidate c) sharing its device with k - 1 other busy
 * instances on average (k >= 1, fractional; cached in steps of 1/8). A tensor-parallel
 * group is cached by its size: the devices of one node are taken to be of one class. */
static double
cap_at(ada_state *st, const ep_view *v, int node, int c, const ep_instance_spec *sp, double k)
{
    double q = (k - 1) * 8;
    int i = q < 0 ? 0 : (int)(q + 0.5);
    double *slot = NULL;
    if (i < KSTEPS) {
        slot = &st->capc[slot_of(st, v, node, c, sp) * KSTEPS + (size_t)i];
        if (*slot >= 0)
            return *slot;
    }
    int b;
    double cap = capacity_f(v, sp, slowdown_at(v->sc, 1 + i / 8.0), &b);
    if (slot)
        *slot = cap;
    return cap;
}

/* Time one request alone takes on sp (its service time at no load). */
static double
lone_at(ada_state *st, const ep_view *v, int node, int c, const ep_instance_spec *sp)
{
    double *slot = &st->lone[slot_of(st, v, node, c, sp)];
    if (*slot >= 0)
        return *slot;
    const ep_service *svc = &v->sc->services[sp->service];
    double t;
    if (svc->kind == EP_SVC_DNN) {
        t = (double)ep_pol_dnn_batch(v, sp, 1, NULL) / 1e9;
    } else {
        double in =
                v->mean_input && v->mean_input[sp->service] >= 1 ? v->mean_input[sp->service] : 512;
        double out = v->mean_output && v->mean_output[sp->service] >= 1
                             ? v->mean_output[sp->service]
                             : 128;
        t = ((double)ep_pol_llm_iteration(v, sp, (int64_t)in, in * in, 0, 0) +
             out * (double)ep_pol_llm_iteration(v, sp, 0, 0, 1, (int64_t)(in + out / 2))) /
            1e9;
    }
    *slot = t;
    return t;
}

/* --- demand --------------------------------------------------------------------------- */

static void
update_demand(ada_state *st, const ep_env *env, const ep_view *v)
{
    size_t ns = (size_t)st->nnodes * (size_t)st->nsvc;
    double span = (double)(env->now - st->last_place) / 1e9;
    if (st->planned && span <= 0 && !v->oracle_rate)
        return; /* a second plan at the same time: nothing new was seen */
    for (size_t i = 0; i < ns; i++) {
        int s = (int)(i % (size_t)st->nsvc);
        if (v->oracle_rate) {
            st->dem[i] = v->oracle_rate[s] * st->share[i];
        } else if (!st->planned) {
            st->dem[i] = (v->rate ? v->rate[s] : 0) * st->share[i];
        } else {
            double obs = (double)st->cnt[i] / span;
            st->dem[i] = st->ewma * obs + (1 - st->ewma) * st->dem[i];
        }
        st->cnt[i] = 0;
    }
    st->last_place = env->now;
}

/* --- packing one node ------------------------------------------------------------------- */

static int
has_replica(const ep_instance_spec *plan, int np, int svc, int dev)
{
    for (int i = 0; i < np; i++)
        if (plan[i].service == svc && plan[i].devs[0] == dev)
            return 1;
    return 0;
}

/* The previous plan's instance of node on the same service and devices as sp, or NULL. */
static const ep_instance_spec *
prev_instance(const ada_state *st, int node, const ep_instance_spec *sp)
{
    const ep_instance_spec *prev = &st->prev[(size_t)node * (size_t)st->maxdev * st->nsvc];
    for (int m = 0; m < st->nprev[node]; m++) {
        const ep_instance_spec *o = &prev[m];
        int same = o->service == sp->service && o->ndev == sp->ndev;
        for (int q = 0; q < sp->ndev && same; q++)
            same = o->devs[q] == sp->devs[q];
        if (same)
            return o;
    }
    return NULL;
}

/* A tensor-parallel group of k devices of node with room for svc (most free memory first);
 * 0 when none. */
static int
tp_group(const ada_state *st, const ep_scenario *sc, int node, int svc, int k, ep_instance_spec *sp)
{
    const ep_node *nd = &sc->nodes[node];
    double need = (double)ep_cost_instance_mem(sc, svc, k);
    sp->ndev = k;
    sp->mode = EP_MODE_TP;
    /* The previous plan's group when it still has room (no reload). */
    const ep_instance_spec *prev = &st->prev[(size_t)node * (size_t)st->maxdev * st->nsvc];
    for (int m = 0; m < st->nprev[node]; m++) {
        if (prev[m].service != svc || prev[m].ndev != k)
            continue;
        int room = 1;
        for (int q = 0; q < k; q++)
            room &= st->freem[prev[m].devs[q] - nd->dev0] >= need;
        if (room) {
            memcpy(sp->devs, prev[m].devs, sizeof sp->devs);
            return 1;
        }
    }
    int got = 0;
    for (int pick = 0; pick < k; pick++) {
        int best = -1;
        for (int j = 0; j < nd->ndev; j++) {
            int used = 0;
            for (int q = 0; q < got; q++)
                used |= sp->devs[q] == nd->dev0 + j;
            if (!used && st->freem[j] >= need && (best < 0 || st->freem[j] > st->freem[best]))
                best = j;
        }
        if (best < 0)
            return 0;
        sp->devs[got++] = nd->dev0 + best;
    }
    return 1;
}

/* Places candidate c (a TP group) in phase A; returns the instances added (0 or 1). */
static int
pack_multi(ada_state *st, const ep_view *v, int node, int c, int n)
{
    const ep_scenario *sc = v->sc;
    const ep_node *nd = &sc->nodes[node];
    const cand *cd = &st->cands[c];
    for (int k = 2; k <= nd->ndev && k <= EP_MAX_STAGE_DEVS; k++) {
        ep_instance_spec sp;
        memset(&sp, 0, sizeof sp);
        sp.service = cd->svc;
        if (!tp_group(st, sc, node, cd->svc, k, &sp))
            continue;
        double cap = cap_at(st, v, node, c, &sp, 1);
        if (cap <= 0)
            continue; /* a wider group may meet the SLO */
        double take = cd->d / cap;
        for (int q = 0; q < k; q++)
            if (st->tshare[sp.devs[q] - nd->dev0] < take)
                take = st->tshare[sp.devs[q] - nd->dev0];
        if (take <= 0)
            return 0;
        double need = (double)ep_cost_instance_mem(sc, cd->svc, k);
        for (int q = 0; q < k; q++) {
            st->tshare[sp.devs[q] - nd->dev0] -= take;
            st->freem[sp.devs[q] - nd->dev0] -= need;
        }
        st->plan[n] = sp;
        st->pshare[n] = take;
        st->pcand[n] = c;
        return 1;
    }
    return 0;
}

/* Packs the candidates in mask onto node's devices. Phase A assigns replicas and device
 * shares with unshared capacities; phase B re-rates every replica at the expected
 * co-location level of its device, drops replicas that then meet no SLO, and scores the
 * plan: sum w min(d, supply). The instances end in st->plan[0 .. *np). */
static double
pack(ada_state *st, const ep_view *v, int node, int nc, uint32_t mask, int *np)
{
    const ep_scenario *sc = v->sc;
    const ep_node *nd = &sc->nodes[node];
    for (int j = 0; j < nd->ndev; j++) {
        st->freem[j] = ep_pol_usable_mem(sc, nd->dev0 + j);
        st->tshare[j] = st->max_util;
    }
    int n = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int c = 0; c < nc; c++) {
            const cand *cd = &st->cands[c];
            if (!(mask >> c & 1u) || cd->multi != (pass == 0))
                continue;
            if (cd->multi) {
                n += pack_multi(st, v, node, c, n);
                continue;
            }
            double need = (double)ep_cost_instance_mem(sc, cd->svc, 1);
            double unmet = cd->d;
            while (unmet > 1e-12) {
                int best = -1, bwas = 0;
                double gain = 0, bcap = 0;
                for (int j = 0; j < nd->ndev; j++) {
                    if (st->freem[j] < need || has_replica(st->plan, n, cd->svc, nd->dev0 + j))
                        continue;
                    ep_instance_spec sp;
                    memset(&sp, 0, sizeof sp);
                    sp.service = cd->svc;
                    sp.ndev = 1;
                    sp.devs[0] = nd->dev0 + j;
                    double cap = cap_at(st, v, node, c, &sp, 1);
                    double g = st->tshare[j] * cap;
                    if (g > unmet)
                        g = unmet;
                    /* Ties: the device it was on (no reload), then the faster one. */
                    int was = prev_instance(st, node, &sp) != NULL;
                    if (cap > 0 &&
                        (g > gain || (g == gain && (was > bwas || (was == bwas && cap > bcap))))) {
                        best = j;
                        bwas = was;
                        gain = g;
                        bcap = cap;
                    }
                }
                if (best < 0 || gain <= 0)
                    break;
                ep_instance_spec *sp = &st->plan[n];
                memset(sp, 0, sizeof *sp);
                sp->service = cd->svc;
                sp->mode = EP_MODE_SINGLE;
                sp->ndev = 1;
                sp->devs[0] = nd->dev0 + best;
                st->pshare[n] = gain / bcap;
                st->pcand[n] = c;
                n++;
                st->tshare[best] -= gain / bcap;
                st->freem[best] -= need;
                unmet -= gain;
            }
        }
    }
    /* Phase B: replica i carries x_i = share x unshared capacity of the demand and is busy a
     * fraction u_i of the time (DNN: x_i times a lone request's time, at most 1; LLM: the
     * chance that one of its requests runs, 1 - exp(-x_i T_lone)). The other replicas on its
     * device(s) slow it as k = 1 + sum of their u (the host's MT factor at that level); it
     * then needs x_i / cap(k) of the device's time. Where a device's needs exceed max_util
     * they are scaled down in proportion (AdaInf splits GPU time by need); a replica that
     * meets no SLO at its k is dropped. */
    double *x = st->px, *need = st->pneed, *load = st->tshare, *busy = st->pbusy;
    for (int j = 0; j < nd->ndev; j++)
        load[j] = 0;
    for (int i = 0; i < n; i++) {
        const ep_instance_spec *sp = &st->plan[i];
        x[i] = st->pshare[i] * cap_at(st, v, node, st->pcand[i], sp, 1);
        double lt = lone_at(st, v, node, st->pcand[i], sp);
        double u = sc->services[sp->service].kind == EP_SVC_DNN ? x[i] * lt : 1 - exp(-x[i] * lt);
        busy[i] = u < 1 ? u : 1;
    }
    for (int i = 0; i < n; i++) {
        const ep_instance_spec *sp = &st->plan[i];
        double k = 1;
        for (int q = 0; q < sp->ndev; q++) {
            double kq = 1;
            for (int m = 0; m < n; m++)
                for (int r = 0; r < st->plan[m].ndev && m != i; r++)
                    if (st->plan[m].devs[r] == sp->devs[q])
                        kq += busy[m];
            if (kq > k)
                k = kq;
        }
        st->pk[i] = k;
        double cap = cap_at(st, v, node, st->pcand[i], sp, k);
        need[i] = cap > 0 ? x[i] / cap : -1;
        for (int q = 0; q < sp->ndev && need[i] > 0; q++)
            load[sp->devs[q] - nd->dev0] += need[i];
    }
    double supply[MAX_CAND];
    for (int c = 0; c < nc; c++)
        supply[c] = 0;
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (need[i] < 0)
            continue;
        double scale = 1;
        for (int q = 0; q < st->plan[i].ndev; q++) {
            double l = load[st->plan[i].devs[q] - nd->dev0];
            if (l > st->max_util && st->max_util / l < scale)
                scale = st->max_util / l;
        }
        supply[st->pcand[i]] += x[i] * scale;
        st->plan[kept] = st->plan[i];
        st->pshare[kept] = st->pshare[i];
        st->pcand[kept] = st->pcand[i];
        st->pk[kept] = st->pk[i];
        kept++;
    }
    double score = 0;
    for (int c = 0; c < nc; c++)
        score += st->cands[c].w * (supply[c] < st->cands[c].d ? supply[c] : st->cands[c].d);
    *np = kept;
    return score;
}

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

/* Modes and batch sizes of st->best[0 .. n). DNN: the largest batch whose worst case, slowed
 * as if every instance on the device were busy, meets the deadline (AdaInf bounds the
 * worst-case latency), or the previous smaller batch of an instance that stays. LLM: the
 * SLO-capacity running batch at the expected co-location level, kept by an instance that
 * stays (a tweak from drifting request sizes is not worth a reload). */
static void
finish_node(ada_state *st, const ep_view *v, int node, int n)
{
    const ep_scenario *sc = v->sc;
    for (int i = 0; i < n; i++) {
        ep_instance_spec *sp = &st->best[i];
        int k = 0;
        for (int q = 0; q < sp->ndev; q++) {
            int kd = 0;
            for (int m = 0; m < n; m++)
                for (int r = 0; r < st->best[m].ndev; r++)
                    kd += st->best[m].devs[r] == sp->devs[q];
            if (kd > k)
                k = kd;
        }
        const ep_instance_spec *old = prev_instance(st, node, sp);
        sp->order = EP_QUEUE_FIFO;
        /* MT marks an instance created beside others; one that stays keeps its mark (a label
         * is not worth a reload). */
        if (old)
            sp->mode = old->mode;
        else if (sp->mode == EP_MODE_SINGLE && k > 1)
            sp->mode = EP_MODE_MT;
        int b = 0;
        if (sc->services[sp->service].kind == EP_SVC_DNN) {
            capacity_f(v, sp, ep_cost_mt_slowdown(sc, k), &b);
            if (b < 1)
                b = 1;
            sp->max_batch = old && old->max_batch <= b ? old->max_batch : b;
        } else if (old) {
            sp->max_batch = old->max_batch;
        } else {
            capacity_f(v, sp, slowdown_at(sc, st->bk[i]), &b);
            sp->max_batch = b; /* 0: the service's max_batch */
        }
    }
}

/* best_effort: services entering node that no device serves within the SLO, placed where
 * memory is left (they run, late). */
static int
add_best_effort(ada_state *st, const ep_view *v, int node, int n)
{
    const ep_scenario *sc = v->sc;
    const ep_node *nd = &sc->nodes[node];
    for (int j = 0; j < nd->ndev; j++)
        st->freem[j] = ep_pol_usable_mem(sc, nd->dev0 + j);
    for (int i = 0; i < n; i++)
        for (int q = 0; q < st->best[i].ndev; q++)
            st->freem[st->best[i].devs[q] - nd->dev0] -=
                    (double)ep_cost_instance_mem(sc, st->best[i].service, st->best[i].ndev);
    for (int s = 0; s < st->nsvc; s++) {
        size_t ix = (size_t)node * (size_t)st->nsvc + (size_t)s;
        int have = 0;
        for (int i = 0; i < n; i++)
            have |= st->best[i].service == s;
        if (have || (st->share[ix] <= 0 && st->dem[ix] <= 0))
            continue;
        double need = (double)ep_cost_instance_mem(sc, s, 1);
        int best = -1;
        for (int j = 0; j < nd->ndev; j++)
            if (st->freem[j] >= need && (best < 0 || st->freem[j] > st->freem[best]))
                best = j;
        if (best < 0)
            continue;
        ep_instance_spec *sp = &st->best[n++];
        memset(sp, 0, sizeof *sp);
        sp->service = s;
        sp->mode = EP_MODE_SINGLE;
        sp->ndev = 1;
        sp->devs[0] = nd->dev0 + best;
        st->freem[best] -= need;
    }
    return n;
}

/* The node's candidates by priority: tensor-parallel ones first (they need whole devices),
 * then by w*d. Returns their number. */
static int
gather(ada_state *st, const ep_view *v, int node)
{
    const ep_scenario *sc = v->sc;
    const ep_node *nd = &sc->nodes[node];
    int nc = 0;
    for (int s = 0; s < st->nsvc; s++) {
        size_t ix = (size_t)node * (size_t)st->nsvc + (size_t)s;
        if (st->share[ix] <= 0 && st->dem[ix] <= 0)
            continue;
        cand cd = {s, st->dem[ix] > MIN_RATE ? st->dem[ix] : MIN_RATE,
                   sc->services[s].weight > 0 ? sc->services[s].weight : 1, 0};
        int single = 0;
        double need = (double)ep_cost_instance_mem(sc, s, 1);
        for (int j = 0; j < nd->ndev && !single && !v->cat[s].multi_device; j++) {
            if (ep_pol_usable_mem(sc, nd->dev0 + j) < need)
                continue;
            ep_instance_spec sp;
            memset(&sp, 0, sizeof sp);
            sp.service = s;
            sp.ndev = 1;
            sp.devs[0] = nd->dev0 + j;
            int b;
            single = capacity_f(v, &sp, 1, &b) > 0;
        }
        cd.multi = !single;
        if (cd.multi && nd->ndev < 2)
            continue; /* nothing on this node meets its SLO */
        int at = nc;
        while (at > 0) {
            const cand *o = &st->cands[at - 1];
            int before = cd.multi != o->multi ? cd.multi > o->multi : cd.w * cd.d > o->w * o->d;
            if (!before)
                break;
            st->cands[at] = st->cands[at - 1];
            at--;
        }
        st->cands[at] = cd;
        if (++nc == MAX_CAND)
            break;
    }
    /* Capacities are cached per candidate index, computed on first use. */
    for (size_t q = 0; q < (size_t)nc * (size_t)st->nslot * KSTEPS; q++)
        st->capc[q] = -1;
    for (size_t q = 0; q < (size_t)nc * (size_t)st->nslot; q++)
        st->lone[q] = -1;
    return nc;
}

/* Plans node; the chosen instances end in st->best[0 .. return). */
static int
plan_node(ada_state *st, const ep_view *v, int node)
{
    int nc = gather(st, v, node);
    uint32_t full = (1u << nc) - 1;
    uint32_t prev_mask = 0;
    for (int c = 0; c < nc; c++)
        if (st->chosen[(size_t)node * (size_t)st->nsvc + (size_t)st->cands[c].svc])
            prev_mask |= 1u << c;
    double best_score = -1;
    uint32_t best_mask = full;
    int np;
    if (nc <= st->exhaustive_max) {
        for (uint32_t m = full;; m--) {
            double s = pack(st, v, node, nc, m, &np);
            if (s > best_score * (1 + 1e-12)) {
                best_score = s;
                best_mask = m;
            }
            if (m == 0)
                break;
        }
    } else {
        best_score = pack(st, v, node, nc, full, &np);
    }
    if (st->planned && prev_mask != best_mask &&
        best_score <= pack(st, v, node, nc, prev_mask, &np) * (1 + st->hysteresis))
        best_mask = prev_mask;
    pack(st, v, node, nc, best_mask, &np);
    memcpy(st->best, st->plan, (size_t)np * sizeof *st->best);
    memcpy(st->bk, st->pk, (size_t)np * sizeof *st->bk);
    for (int s = 0; s < st->nsvc; s++)
        st->chosen[(size_t)node * (size_t)st->nsvc + (size_t)s] = 0;
    for (int c = 0; c < nc; c++)
        if (best_mask >> c & 1u)
            st->chosen[(size_t)node * (size_t)st->nsvc + (size_t)st->cands[c].svc] = 1;
    if (st->best_effort) {
        int with = add_best_effort(st, v, node, np);
        for (int i = np; i < with; i++)
            st->bk[i] = 1;
        np = with;
    }
    finish_node(st, v, node, np);
    return np;
}

static int
ada_place(void *state, const ep_env *env, const ep_view *v, ep_placement *out)
{
    ada_state *st = state;
    const ep_scenario *sc = v->sc;
    update_demand(st, env, v);
    int changed = !st->planned;
    for (int node = 0; node < sc->nnodes; node++) {
        if (sc->nodes[node].ndev < 1)
            continue;
        int n = plan_node(st, v, node);
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

static void
ada_route(void *state, const ep_env *env, const ep_view *v, const ep_request_info *req,
          ep_route *out)
{
    ada_state *st = state;
    /* A new arrival (not one handed back by a retired instance): count it for the node. */
    if (req->hops == 0 && req->at_node == req->ingress && req->arrival == env->now &&
        req->at_node >= 0 && req->at_node < st->nnodes && req->service >= 0 &&
        req->service < st->nsvc)
        st->cnt[(size_t)req->at_node * (size_t)st->nsvc + (size_t)req->service]++;
    int best = -1;
    ep_time bt = 0;
    for (int i = 0; i < v->ninst; i++) {
        const ep_instance_view *iv = &v->inst[i];
        if (iv->spec.service != req->service || iv->node != req->at_node || !iv->ready)
            continue;
        ep_time t = ep_pol_estimate(v, env, req, i);
        if (best < 0 || t < bt) {
            best = i;
            bt = t;
        }
    }
    if (best < 0) {
        out->kind = EP_ROUTE_REJECT;
        out->reason = "adainf: no instance of the service on the ingress node";
        return;
    }
    if (st->admission && bt > req->deadline) {
        out->kind = EP_ROUTE_REJECT;
        out->reason = "adainf: no local instance can meet the deadline";
        return;
    }
    out->kind = EP_ROUTE_DISPATCH;
    out->instance = v->inst[best].id;
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

const ep_policy_ops ep_policy_adainf = {
        .name = "adainf",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(ada_state),
        .summary = "AdaInf-like: each node serves its own requests, devices split by SLO need",
        .init = ada_init,
        .categorize = ada_categorize,
        .place = ada_place,
        .route = ada_route,
        .pick_batch = ada_pick_batch,
        .fini = ada_fini,
};
