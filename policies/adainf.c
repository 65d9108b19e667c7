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
 *     (sim/place.c); a placement keeps every LLM's reservation within that share, and rates
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

typedef struct cand {
    int svc;
    double d, w;
    int multi; /* needs a tensor-parallel group on this node */
} cand;

typedef struct pair {
    int node, svc;
    double d;
} pair;

/* Per (node, service). */
typedef struct nsv {
    double share;         /* fraction of s's requests entering n (the workload mapping) */
    double dem;           /* demand estimate of the requests of s entering n, req/s */
    double pdem;          /* a server's: the demand of its area */
    double unit;          /* a server's: devices busy per request/s at its best option */
    int64_t cnt;          /* arrivals counted at n since the last plan */
    int home;             /* the server of the requests of s entering n; -1: none */
    signed char lvl;      /* a server's: 2 an SLO capacity, 1 a lone request in time, 0 neither */
    signed char multi;    /* a server's: its best level needs a tensor-parallel group */
    unsigned char area;   /* a server's: some ingress node is homed there */
    unsigned char chosen; /* a server's: in the subset it serves now */
} nsv;

/* Per device of the node being packed: usable memory, weights and reserves placed, the
 * largest KV reservation (bytes), device time left; LLM instances; kv_split's scratch. */
typedef struct pdev {
    double usable, wmem, kvres, tshare, left;
    int nllm, nl;
} pdev;

/* Per plan slot: the rate it carries (unshared), its need and busy fraction, its
 * co-location level (bk: of best[]), its candidate, the KV tokens the host gives it. */
typedef struct pslot {
    double x, need, busy, k, bk;
    int cand;
    int64_t kv;
} pslot;

typedef struct ada_state {
    /* parameters */
    double ewma, max_util, hysteresis;
    int admission, drop_expired, exhaustive_max;
    int link_admission; /* EPARA's uplink admission added (not part of AdaInf) */
    ep_link_adm link;
    /* sizes */
    int nnodes, nsvc, maxdev;
    nsv *ns;               /* nnodes x nsvc */
    unsigned char *server; /* per node: an edge server */
    /* homing, done once (at the first hook called after init) */
    int homed;
    double *load;     /* per node: planned device time */
    signed char *top; /* per service: the best level of any server */
    pair *pend;       /* pairs waiting for a home */
    /* demand */
    ep_time last_place;
    int planned, counted;
    /* previous plan */
    ep_instance_spec *prev; /* per node: maxdev * nsvc slots */
    int *nprev;
    /* scratch for planning one node */
    cand *cands;
    /* Per (candidate, slot): slot j < maxdev is a single-device replica on the node's device
     * j, slot maxdev + g a tensor-parallel group of g devices. < 0: not computed. */
    int nslot;
    double *capc; /* SLO capacity by co-location level, with the KV the devices hold alone */
    int *capb;    /* the batch that achieves it */
    double *lone; /* time one request alone takes (DNN: batch 1; LLM: prefill + decode) */
    pdev *dv;
    ep_instance_spec *plan, *best;
    pslot *sl;
} ada_state;

/* --- sizes and capacities -------------------------------------------------------------- */

static void
llm_sizes(const ep_view *v, int s, double *in, double *out)
{
    *in = v->mean_input && v->mean_input[s] >= 1 ? v->mean_input[s] : 512;
    *out = v->mean_output && v->mean_output[s] >= 1 ? v->mean_output[s] : 128;
}

static int
is_llm(const ep_scenario *sc, int s)
{
    return sc->services[s].kind == EP_SVC_LLM;
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

/* k rounded to the cached steps of 1/8 (every rating of a plan uses the rounded level). */
static double
klevel(double k)
{
    double q = (k - 1) * 8;
    return 1 + (q < 0 ? 0 : floor(q + 0.5)) / 8;
}

static size_t
slot_of(const ada_state *st, const ep_view *v, int node, int c, const ep_instance_spec *sp)
{
    int slot = sp->ndev == 1 ? sp->devs[0] - v->sc->nodes[node].dev0 : st->maxdev + sp->ndev;
    return (size_t)c * (size_t)st->nslot + (size_t)slot;
}

/* SLO capacity of plan instance sp (candidate c) sharing its device with k - 1 other busy
 * instances on average (k >= 1, rounded by klevel) with kv KV tokens (< 0: alone); *batch gets
 * its batch. Cached per level at the KV the devices hold alone; a smaller kv reuses the cache
 * when the cached batch fits it (the best batch is then within reach). A tensor-parallel group
 * is cached by its size: the devices of one node are taken to be of one class. */
static double
cap_at(ada_state *st, const ep_view *v, int node, int c, const ep_instance_spec *sp, double k,
       int64_t kv, int *batch)
{
    double q = (klevel(k) - 1) * 8;
    int i = (int)q;
    double f = slowdown_at(v->sc, klevel(k));
    if (i < KSTEPS) {
        size_t ix = slot_of(st, v, node, c, sp) * KSTEPS + (size_t)i;
        if (st->capc[ix] < 0)
            st->capc[ix] = ep_pol_capacity_at(v, sp, f, -1, 0, 1, &st->capb[ix], NULL);
        double in = 0, out = 0;
        if (is_llm(v->sc, sp->service))
            llm_sizes(v, sp->service, &in, &out);
        if (kv < 0 || !is_llm(v->sc, sp->service) ||
            (double)st->capb[ix] * (in + out) <= (double)kv) {
            *batch = st->capb[ix];
            return st->capc[ix];
        }
    }
    return ep_pol_capacity_at(v, sp, f, kv, 0, 1, batch, NULL);
}

/* Time one request alone takes on sp (its service time at no load). */
static double
lone_at(ada_state *st, const ep_view *v, int node, int c, const ep_instance_spec *sp)
{
    double *slot = &st->lone[slot_of(st, v, node, c, sp)];
    if (*slot >= 0)
        return *slot;
    double t;
    if (!is_llm(v->sc, sp->service)) {
        t = (double)ep_pol_dnn_batch(v, sp, 1, NULL) / 1e9;
    } else {
        double in, out;
        llm_sizes(v, sp->service, &in, &out);
        t = ((double)ep_pol_llm_iteration(v, sp, (int64_t)in, in * in, 0, 0) +
             out * (double)ep_pol_llm_iteration(v, sp, 0, 0, 1, (int64_t)(in + out / 2))) /
            1e9;
    }
    *slot = t;
    return t;
}

/* --- edge servers and their areas ------------------------------------------------------ */

/* What node's devices offer s with nothing beside it: 2 when a device (or a tensor-parallel
 * group of the node's first devices) has an SLO capacity, 1 when one only meets the SLO for a
 * lone request, 0 otherwise. *unit gets the devices busy per request/s of the best option
 * (the fewest devices at the best level), *multi whether that option is a TP group. */
static int
node_level(const ep_view *v, int node, int s, double *unit, int *multi)
{
    const ep_scenario *sc = v->sc;
    const ep_node *nd = &sc->nodes[node];
    ep_category cat;
    ep_category_default(v, s, &cat);
    int lv = 0, bg = 0;
    *unit = 0;
    *multi = 0;
    for (int g = 1; g <= nd->ndev && g <= EP_MAX_STAGE_DEVS && lv < 2; g++) {
        if (g == 1 && cat.multi_device)
            continue;
        double mem = (double)ep_cost_instance_mem(sc, s, g);
        for (int j = 0; j < (g == 1 ? nd->ndev : 1); j++) {
            ep_instance_spec sp;
            memset(&sp, 0, sizeof sp);
            sp.service = s;
            sp.ndev = g;
            sp.mode = g > 1 ? EP_MODE_TP : EP_MODE_SINGLE;
            int fits = 1;
            for (int q = 0; q < g; q++) {
                sp.devs[q] = nd->dev0 + (g == 1 ? j : q);
                fits &= ep_pol_usable_mem(sc, sp.devs[q]) >= mem;
            }
            if (!fits)
                continue;
            int b, l = 2;
            double cap = ep_pol_capacity_at(v, &sp, 1, -1, 0, 0, &b, NULL);
            if (cap <= 0) {
                l = 1;
                cap = ep_pol_capacity_at(v, &sp, 1, -1, 0, 1, &b, NULL);
            }
            /* A higher level wins; at the same level, fewer devices, then the lower unit. */
            if (cap <= 0 || l < lv || (l == lv && (g > bg || g / cap >= *unit)))
                continue;
            lv = l;
            bg = g;
            *unit = g / cap;
            *multi = g > 1;
        }
    }
    return lv;
}

/* Bytes one request of s carries to its server. */
static int64_t
request_bytes(const ep_view *v, int s)
{
    const ep_service *svc = &v->sc->services[s];
    if (svc->kind == EP_SVC_LLM) {
        double in, out;
        llm_sizes(v, s, &in, &out);
        return (int64_t)in * (svc->bytes_per_token > 0 ? svc->bytes_per_token : 4);
    }
    if (v->mean_input && v->mean_input[s] >= 1)
        return (int64_t)v->mean_input[s];
    return svc->input_bytes > 0 ? svc->input_bytes : 1;
}

static int
cmp_pair(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->d != y->d)
        return x->d > y->d ? -1 : 1;
    if (x->node != y->node)
        return x->node - y->node;
    return x->svc - y->svc;
}

/* Fixes the home of every (ingress node, service) pair (see the file comment) from the view of
 * the first hook called: the traces' long-run rates and mean sizes in every host (a replay's
 * init sees no rates; a live testbed's node processes never plan). */
static void
assign_homes(ada_state *st, const ep_view *v)
{
    const ep_scenario *sc = v->sc;
    int nn = st->nnodes, ns = st->nsvc;
    size_t nx = (size_t)nn * (size_t)ns;
    double *load = st->load;
    signed char *top = st->top;
    pair *pend = st->pend;
    st->homed = 1;
    for (int n = 0; n < nn; n++) {
        for (int s = 0; s < ns && st->server[n]; s++) {
            size_t ix = (size_t)n * (size_t)ns + (size_t)s;
            int multi;
            st->ns[ix].lvl = (signed char)node_level(v, n, s, &st->ns[ix].unit, &multi);
            st->ns[ix].multi = (signed char)multi;
            if (st->ns[ix].lvl > top[s])
                top[s] = st->ns[ix].lvl;
        }
    }
    /* Servers first take their own demand; the other pairs go largest first. */
    size_t np = 0;
    for (int n = 0; n < nn; n++) {
        for (int s = 0; s < ns; s++) {
            size_t ix = (size_t)n * (size_t)ns + (size_t)s;
            st->ns[ix].home = -1;
            if (st->ns[ix].share <= 0 || top[s] == 0)
                continue;
            double d = (v->rate ? v->rate[s] : 0) * st->ns[ix].share;
            if (d < MIN_RATE)
                d = MIN_RATE;
            if (st->server[n] && st->ns[ix].lvl == top[s]) {
                st->ns[ix].home = n;
                load[n] += d * st->ns[ix].unit;
            } else {
                pend[np++] = (pair){n, s, d};
            }
        }
    }
    qsort(pend, np, sizeof *pend, cmp_pair);
    for (size_t i = 0; i < np; i++) {
        int n = pend[i].node, s = pend[i].svc, best = -1, bfeas = 0;
        double bdelay = 0, bspare = 0;
        int64_t bytes = request_bytes(v, s);
        for (int m = 0; m < nn; m++) {
            size_t mx = (size_t)m * (size_t)ns + (size_t)s;
            if (m == n || !st->server[m] || st->ns[mx].lvl != top[s])
                continue;
            double need = pend[i].d * st->ns[mx].unit;
            double spare = sc->nodes[m].ndev * st->max_util - load[m] - need;
            int feas = spare >= 0;
            double delay = v->delay ? (double)v->delay(v, n, m, bytes) : 0;
            int better = best < 0 || feas > bfeas;
            if (!better && feas == bfeas) {
                if (!feas)
                    better = spare > bspare;
                else if (fabs(delay - bdelay) >= 1e3)
                    better = delay < bdelay;
                else
                    better = spare > bspare;
            }
            if (better) {
                best = m;
                bfeas = feas;
                bdelay = delay;
                bspare = spare;
            }
        }
        st->ns[(size_t)n * (size_t)ns + (size_t)s].home = best;
        if (best >= 0)
            load[best] += pend[i].d * st->ns[(size_t)best * (size_t)ns + (size_t)s].unit;
    }
    for (size_t ix = 0; ix < nx; ix++)
        if (st->ns[ix].home >= 0)
            st->ns[(size_t)st->ns[ix].home * (size_t)ns + ix % (size_t)ns].area = 1;
}

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
    st->capc = calloc(cslots * KSTEPS, sizeof *st->capc);
    st->capb = calloc(cslots * KSTEPS, sizeof *st->capb);
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
        assign_homes(st, view);
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

/* Whether `mem` more bytes of weights and reserve on device j (of the node being packed),
 * from an LLM when llm is set, leave every LLM on j at least the device's largest KV
 * reservation under the host's even split; *kvb gets that split (bytes per LLM). */
static int
room(const ada_state *st, int j, double mem, int llm, double *kvb)
{
    double left = st->dv[j].usable - st->dv[j].wmem - mem;
    int n = st->dv[j].nllm + llm;
    if (left < 0 || (n > 0 && left / n < st->dv[j].kvres))
        return 0;
    *kvb = n > 0 ? left / n : left;
    return 1;
}

/* KV tokens of an LLM whose smallest per-device share is kvb bytes over g devices. */
static int64_t
kv_tokens(const ep_scenario *sc, int svc, double kvb, int g)
{
    int64_t per = sc->services[svc].kv_bytes_per_token;
    if (sc->services[svc].kind != EP_SVC_LLM)
        return -1;
    if (per <= 0)
        return 0;
    return kvb > 0 ? (int64_t)(kvb * g / (double)per) : 0;
}

/* Adds instance sp (candidate c) to the plan as slot n carrying rate x: its memory, its KV
 * reservation (the smallest batch that carries x within kv tokens) and device time share. */
static void
take(ada_state *st, const ep_view *v, int node, int c, int n, const ep_instance_spec *sp, double x,
     double tshare, int64_t kv)
{
    const ep_scenario *sc = v->sc;
    int llm = is_llm(sc, sp->service);
    double mem = (double)ep_cost_instance_mem(sc, sp->service, sp->ndev), resv = 0;
    if (llm) {
        int b, reach;
        double in, out;
        llm_sizes(v, sp->service, &in, &out);
        ep_pol_capacity_at(v, sp, 1, kv, x, 1, &b, &reach);
        resv = reach * (in + out) * (double)sc->services[sp->service].kv_bytes_per_token / sp->ndev;
    }
    for (int q = 0; q < sp->ndev; q++) {
        int j = sp->devs[q] - sc->nodes[node].dev0;
        st->dv[j].wmem += mem;
        st->dv[j].nllm += llm;
        if (resv > st->dv[j].kvres)
            st->dv[j].kvres = resv;
        st->dv[j].tshare -= tshare;
    }
    st->plan[n] = *sp;
    st->sl[n].x = x;
    st->sl[n].cand = c;
}

/* A tensor-parallel group of g devices of node with room for svc (the previous plan's group
 * when it still has room, else most free memory first); 0 when none. *kvb gets the group's
 * smallest per-device KV share. */
static int
tp_group(const ada_state *st, const ep_scenario *sc, int node, int svc, int g, ep_instance_spec *sp,
         double *kvb)
{
    const ep_node *nd = &sc->nodes[node];
    double mem = (double)ep_cost_instance_mem(sc, svc, g), share;
    int llm = is_llm(sc, svc);
    sp->ndev = g;
    sp->mode = EP_MODE_TP;
    const ep_instance_spec *prev = &st->prev[(size_t)node * (size_t)st->maxdev * st->nsvc];
    for (int m = 0; m < st->nprev[node]; m++) {
        if (prev[m].service != svc || prev[m].ndev != g)
            continue;
        int ok = 1;
        *kvb = INFINITY;
        for (int q = 0; q < g && ok; q++)
            if ((ok = room(st, prev[m].devs[q] - nd->dev0, mem, llm, &share)) && share < *kvb)
                *kvb = share;
        if (ok) {
            memcpy(sp->devs, prev[m].devs, sizeof sp->devs);
            return 1;
        }
    }
    int got = 0;
    double bleft = 0;
    *kvb = INFINITY;
    for (int pick = 0; pick < g; pick++) {
        int best = -1;
        for (int j = 0; j < nd->ndev; j++) {
            int used = 0;
            for (int q = 0; q < got; q++)
                used |= sp->devs[q] == nd->dev0 + j;
            double l = st->dv[j].usable - st->dv[j].wmem;
            if (!used && room(st, j, mem, llm, &share) && (best < 0 || l > bleft)) {
                best = j;
                bleft = l;
            }
        }
        if (best < 0)
            return 0;
        room(st, best, mem, llm, &share);
        if (share < *kvb)
            *kvb = share;
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
    for (int g = 2; g <= nd->ndev && g <= EP_MAX_STAGE_DEVS; g++) {
        ep_instance_spec sp;
        double kvb;
        memset(&sp, 0, sizeof sp);
        sp.service = cd->svc;
        if (!tp_group(st, sc, node, cd->svc, g, &sp, &kvb))
            continue;
        int64_t kv = kv_tokens(sc, cd->svc, kvb, g);
        int b;
        double cap = cap_at(st, v, node, c, &sp, 1, kv, &b);
        if (cap <= 0)
            continue; /* a wider group may meet the SLO */
        double t = cd->d / cap;
        for (int q = 0; q < g; q++)
            if (st->dv[sp.devs[q] - nd->dev0].tshare < t)
                t = st->dv[sp.devs[q] - nd->dev0].tshare;
        if (t <= 0)
            return 0;
        take(st, v, node, c, n, &sp, t * cap, t, kv);
        return 1;
    }
    return 0;
}

/* Places one single-device replica of candidate c as plan slot n on the device where it
 * carries the most of the candidate's unmet demand (capped by it). A candidate's first
 * replica may go where memory allows but device time is planned out (the device with the
 * most time left): co-located instances run at once, and phase B rates what that costs.
 * Returns the rate it carries, 0 when no device takes it. */
static double
pack_single(ada_state *st, const ep_view *v, int node, int c, int n, double unmet, int first)
{
    const ep_scenario *sc = v->sc;
    const ep_node *nd = &sc->nodes[node];
    const cand *cd = &st->cands[c];
    double mem = (double)ep_cost_instance_mem(sc, cd->svc, 1);
    int llm = is_llm(sc, cd->svc), best = -1, bwas = 0;
    double gain = 0, bcap = 0, btime = 0, otime = 0, ocap = 0;
    int64_t bkv = -1, okv = -1;
    int over = -1;
    ep_instance_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.service = cd->svc;
    sp.mode = EP_MODE_SINGLE;
    sp.ndev = 1;
    for (int j = 0; j < nd->ndev; j++) {
        double kvb;
        if (has_replica(st->plan, n, cd->svc, nd->dev0 + j) || !room(st, j, mem, llm, &kvb))
            continue;
        sp.devs[0] = nd->dev0 + j;
        int64_t kv = kv_tokens(sc, cd->svc, kvb, 1);
        int b;
        double cap = cap_at(st, v, node, c, &sp, 1, kv, &b);
        double g = st->dv[j].tshare * cap;
        if (g > unmet)
            g = unmet;
        /* Ties: the device it was on (no reload), then the one with more time left (less
         * co-location slowdown), then the faster one. */
        int was = prev_instance(st, node, &sp) != NULL;
        int tie = g == gain &&
                  (was > bwas || (was == bwas && (st->dv[j].tshare > btime ||
                                                  (st->dv[j].tshare == btime && cap > bcap))));
        if (first && cap > 0 && g <= 0 && (over < 0 || st->dv[j].tshare > otime)) {
            over = j;
            otime = st->dv[j].tshare;
            ocap = cap;
            okv = kv;
        }
        if (cap > 0 && g > 0 && (g > gain || tie)) {
            btime = st->dv[j].tshare;
            best = j;
            bwas = was;
            gain = g;
            bcap = cap;
            bkv = kv;
        }
    }
    if (best < 0 && over >= 0) {
        best = over;
        gain = unmet < ocap ? unmet : ocap;
        bcap = ocap;
        bkv = okv;
    }
    if (best < 0)
        return 0;
    sp.devs[0] = nd->dev0 + best;
    take(st, v, node, c, n, &sp, gain, gain / bcap, bkv);
    return gain;
}

/* The KV tokens the host gives each instance of plan[0 .. n) on node (sim/place.c: what the
 * weights and reserves of all of them leave on a device, split evenly among the LLM
 * instances on it; a g-device instance holds 1/g of each token on each); -1 for DNNs. */
static void
kv_split(ada_state *st, const ep_view *v, int node, const ep_instance_spec *plan, int n)
{
    const ep_scenario *sc = v->sc;
    const ep_node *nd = &sc->nodes[node];
    for (int j = 0; j < nd->ndev; j++) {
        st->dv[j].left = ep_pol_usable_mem(sc, nd->dev0 + j);
        st->dv[j].nl = 0;
    }
    for (int i = 0; i < n; i++) {
        double mem = (double)ep_cost_instance_mem(sc, plan[i].service, plan[i].ndev);
        for (int q = 0; q < plan[i].ndev; q++) {
            st->dv[plan[i].devs[q] - nd->dev0].left -= mem;
            st->dv[plan[i].devs[q] - nd->dev0].nl += is_llm(sc, plan[i].service);
        }
    }
    for (int i = 0; i < n; i++) {
        double share = INFINITY;
        for (int q = 0; q < plan[i].ndev; q++) {
            int j = plan[i].devs[q] - nd->dev0;
            double sh = st->dv[j].nl > 0 ? st->dv[j].left / st->dv[j].nl : st->dv[j].left;
            if (sh < share)
                share = sh;
        }
        st->sl[i].kv = kv_tokens(sc, plan[i].service, share, plan[i].ndev);
    }
}

/* Packs the candidates in mask onto node's devices. Phase A assigns replicas, device shares
 * and KV reservations with unshared capacities; phase B re-rates every replica at the
 * expected co-location level of its device and the KV tokens the host will give it, drops
 * replicas that then meet no SLO, and scores the plan: sum w min(d, supply). The instances
 * end in st->plan[0 .. *np). */
static double
pack(ada_state *st, const ep_view *v, int node, int nc, uint32_t mask, int *np)
{
    const ep_scenario *sc = v->sc;
    const ep_node *nd = &sc->nodes[node];
    for (int j = 0; j < nd->ndev; j++) {
        st->dv[j].usable = ep_pol_usable_mem(sc, nd->dev0 + j);
        st->dv[j].wmem = 0;
        st->dv[j].kvres = 0;
        st->dv[j].nllm = 0;
        st->dv[j].tshare = st->max_util;
    }
    /* Tensor-parallel groups first (they need whole devices), then single-device replicas in
     * rounds: every service gets its first replica before any gets a data-parallel one. */
    double unmet[MAX_CAND];
    int n = 0, got_one[MAX_CAND];
    for (int c = 0; c < nc; c++) {
        got_one[c] = 0;
        unmet[c] = mask >> c & 1u ? st->cands[c].d : 0;
        if (unmet[c] > 0 && st->cands[c].multi) {
            n += pack_multi(st, v, node, c, n);
            unmet[c] = 0;
        }
    }
    for (int progress = 1; progress;) {
        progress = 0;
        for (int c = 0; c < nc; c++) {
            if (unmet[c] <= 1e-12)
                continue;
            double got = pack_single(st, v, node, c, n, unmet[c], !got_one[c]);
            if (got > 0) {
                got_one[c] = 1;
                n++;
                unmet[c] -= got;
                progress = 1;
            } else {
                unmet[c] = 0; /* no device takes more of it */
            }
        }
    }
    /* Phase B: replica i carries x_i of the demand and is busy a fraction u_i of the time
     * (DNN: x_i times a lone request's time, at most 1; LLM: the chance that one of its
     * requests runs, 1 - exp(-x_i T_lone)). Co-located instances run at once (our analog of
     * AdaInf's GPU space): the others on its device(s) slow it as k = 1 + the sum of their u
     * (the host's MT factor at that level). With the KV tokens the host gives it, it then
     * needs x_i / cap(k, kv) of its own time; above max_util it carries that much less. A
     * replica that meets no SLO at its k and KV is dropped. */
    kv_split(st, v, node, st->plan, n);
    for (int i = 0; i < n; i++) {
        const ep_instance_spec *sp = &st->plan[i];
        double lt = lone_at(st, v, node, st->sl[i].cand, sp);
        double x = st->sl[i].x, u = is_llm(sc, sp->service) ? 1 - exp(-x * lt) : x * lt;
        st->sl[i].busy = u < 1 ? u : 1;
    }
    for (int i = 0; i < n; i++) {
        const ep_instance_spec *sp = &st->plan[i];
        double k = 1;
        for (int q = 0; q < sp->ndev; q++) {
            double kq = 1;
            for (int m = 0; m < n; m++)
                for (int r = 0; r < st->plan[m].ndev && m != i; r++)
                    if (st->plan[m].devs[r] == sp->devs[q])
                        kq += st->sl[m].busy;
            if (kq > k)
                k = kq;
        }
        int b;
        st->sl[i].k = klevel(k);
        double cap = cap_at(st, v, node, st->sl[i].cand, sp, st->sl[i].k, st->sl[i].kv, &b);
        st->sl[i].need = cap > 0 ? st->sl[i].x / cap : -1;
    }
    double supply[MAX_CAND];
    for (int c = 0; c < nc; c++)
        supply[c] = 0;
    int kept = 0;
    for (int i = 0; i < n; i++) {
        const pslot *q = &st->sl[i];
        if (q->need < 0)
            continue;
        supply[q->cand] += q->need > st->max_util ? q->x * st->max_util / q->need : q->x;
        st->plan[kept] = st->plan[i];
        st->sl[kept++] = *q;
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
 * SLO-capacity running batch at the expected co-location level within the KV tokens the host
 * gives it; an instance that stays keeps its batch while that fits its KV (a tweak from
 * drifting request sizes is not worth a reload). */
static void
finish_node(ada_state *st, const ep_view *v, int node, int n)
{
    const ep_scenario *sc = v->sc;
    kv_split(st, v, node, st->best, n);
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
        if (!is_llm(sc, sp->service)) {
            ep_pol_capacity_at(v, sp, ep_cost_mt_slowdown(sc, k), -1, 0, 1, &b, NULL);
            if (b < 1)
                b = 1;
            sp->max_batch = old && old->max_batch <= b ? old->max_batch : b;
            continue;
        }
        double in, out;
        llm_sizes(v, sp->service, &in, &out);
        int64_t fit = (int64_t)((double)st->sl[i].kv / (in + out));
        while (fit > 0 && (double)fit * (in + out) > (double)st->sl[i].kv)
            fit--; /* rounding */
        if (old && old->max_batch >= 1 && old->max_batch <= fit) {
            sp->max_batch = old->max_batch;
            continue;
        }
        sp->max_batch = 0; /* rate with the service's max batch */
        ep_pol_capacity_at(v, sp, slowdown_at(sc, st->sl[i].bk), st->sl[i].kv, 0, 1, &b, NULL);
        if (b > fit)
            b = (int)fit;
        sp->max_batch = b > 0 ? b : 1;
    }
}

/* The node's candidates by priority: tensor-parallel ones first (they need whole devices),
 * then by w*d. Returns their number. */
static int
gather(ada_state *st, const ep_view *v, int node)
{
    const ep_scenario *sc = v->sc;
    int nc = 0;
    for (int s = 0; s < st->nsvc; s++) {
        size_t ix = (size_t)node * (size_t)st->nsvc + (size_t)s;
        if (!st->ns[ix].area || st->ns[ix].lvl < 1)
            continue;
        cand cd = {s, st->ns[ix].pdem > MIN_RATE ? st->ns[ix].pdem : MIN_RATE,
                   sc->services[s].weight > 0 ? sc->services[s].weight : 1, st->ns[ix].multi};
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
    uint32_t full = nc > 0 ? (1u << nc) - 1 : 0;
    uint32_t prev_mask = 0;
    for (int c = 0; c < nc; c++)
        if (st->ns[(size_t)node * (size_t)st->nsvc + (size_t)st->cands[c].svc].chosen)
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
    for (int i = 0; i < np; i++)
        st->sl[i].bk = st->sl[i].k;
    for (int s = 0; s < st->nsvc; s++)
        st->ns[(size_t)node * (size_t)st->nsvc + (size_t)s].chosen = 0;
    for (int c = 0; c < nc; c++)
        if (best_mask >> c & 1u)
            st->ns[(size_t)node * (size_t)st->nsvc + (size_t)st->cands[c].svc].chosen = 1;
    finish_node(st, v, node, np);
    return np;
}

static int
ada_place(void *state, const ep_env *env, const ep_view *v, ep_placement *out)
{
    ada_state *st = state;
    const ep_scenario *sc = v->sc;
    if (!st->homed)
        assign_homes(st, v);
    update_demand(st, env, v);
    int changed = !st->planned;
    for (int node = 0; node < sc->nnodes; node++) {
        if (!st->server[node] || sc->nodes[node].ndev < 1)
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
        assign_homes(st, v);
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

const ep_policy_ops ep_policy_adainf = {
        .name = "adainf",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(ada_state),
        .summary = "AdaInf-like: GPU edge servers serve their areas, GPUs split by SLO need",
        .params = ada_params,
        .init = ada_init,
        .categorize = ada_categorize,
        .place = ada_place,
        .route = ada_route,
        .pick_batch = ada_pick_batch,
        .fini = ada_fini,
};
