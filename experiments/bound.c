/* The fluid upper bound (epara/experiments/bound.h, docs/decisions/0002-bound.md): demand per
 * placement period counted from the traces exactly as the simulator replays them, candidate
 * instances with their SLO-bounded capacities, and one GLPK linear program over all periods,
 * in which a request may be served in a later period than its arrival's while its SLO still
 * allows. Its starting basis comes from each period (block) solved alone, as a small LP in
 * rate form whose matrix is the same in every block: built once, re-solved from the last
 * basis with each block's demand bounds. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glpk.h>

#include "bound_burst.h"
#include "epara/experiments/bound.h"
#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"
#include "epara/node/arrivals.h"

#define MAX_PERIODS 1000000
#define TOL         1e-6
#define MT_MAX      64 /* most co-located instances considered per device */
#define KV_LEVELS   8
#define KV_RATIO    0.7
#define UPLINK_BINS 64 /* most bins a period per (service, ingress node) for the uplink caps */

typedef struct cand {
    ep_instance_spec spec;
    double cap_per_s; /* c_k */
    double mem_bytes; /* per device of the instance */
    double burst;     /* req/s it can start within its service's burst horizon (bound_burst.h) */
    int reps;         /* R_k: replicas that fit on its devices at once (at most MT_MAX) */
    int deployed;     /* x > TOL in some period */
} cand;

typedef struct bnd {
    const ep_scenario *sc;
    const ep_run_opts *opts;
    char *err;
    size_t errlen;
    ep_time end, cutoff, lo, hi;
    ep_dur period;     /* P (the window length when the scenario has none) */
    int64_t p_first;   /* index of the first period overlapping the window */
    int64_t np;        /* periods overlapping the window */
    double *demand;    /* np x nservices: arrivals in the window, per period and service */
    double *dem_in;    /* np x nservices x nnodes: the same by ingress node */
    double *sum_bytes; /* per service: payload bytes of all replayed rows */
    double *total;     /* per service: arrivals in the window */
    double *unserv;    /* per service: of those, requests no placement can serve */
    ep_servable *feas; /* the verdicts on single requests */
    int64_t why[EP_UNSERVABLE_COUNT_]; /* unservable requests in the window by reason */
    double *sum_in, *sum_out, *rows;
    int64_t *max_out; /* per service: the longest output of its servable rows */
    int64_t *arrivals;
    double *rate, *mean_in, *mean_out;
    ep_category *cat;
    int *node_up, *link_up;
    ep_view view;
    cand *c;
    int nc, capc;
    /* Network flows: pairs (service, ingress node) with demand in the window, and flows
     * (pair, entry node) from each pair to every node where a candidate of its service
     * takes requests in (the node of its first device). */
    int *pair_s, *pair_i, npairs;
    int *flow_pair, *flow_n, nflows;
    int *at_row;    /* nservices x nnodes: row of (s, n), 0 when no candidate enters at n */
    double *served; /* Y_s */
    ep_burst burst; /* arrivals per burst bin, per service */
    ep_burst lbins; /* arrivals per burst bin, per (service, ingress node): uplink caps */
    int *lkey;      /* nservices x nnodes: the (service, ingress node) key of lbins, or -1 */
    double solve_s;
    int64_t lps;
} bnd;

static int
fail(bnd *b, int code, const char *msg, const char *arg)
{
    if (b->err && b->errlen)
        snprintf(b->err, b->errlen, "bound: %s%s%s", msg, arg ? ": " : "", arg ? arg : "");
    return code;
}

static double
now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The simulator's time window (node/setup.c): end and cutoff from ep_arrivals_end (the duration,
 * or the longest workload's one pass), window [warm-up, end - cool-down + 1), or
 * [0, end + 1) when that is empty. */
static int
window(bnd *b)
{
    const ep_scenario *sc = b->sc;
    ep_dur dur = b->opts->duration > 0 ? b->opts->duration : sc->run.duration;
    const char *bad = NULL;
    int e = ep_arrivals_end(b->opts->traces, sc, b->opts->rate_scale, dur, &b->end, &bad);
    if (e)
        return fail(b, e, ep_arrivals_end_error(e), bad);
    b->cutoff = dur > 0 ? dur : b->end + 1;
    ep_arrivals_window(sc, b->end, &b->lo, &b->hi);
    b->period = sc->run.placement_period > 0 ? sc->run.placement_period : b->hi - b->lo;
    if (sc->run.placement_period > 0) {
        b->p_first = b->lo / b->period;
        b->np = (b->hi - 1) / b->period - b->p_first + 1;
    } else {
        b->p_first = 0;
        b->np = 1;
    }
    if (b->np > MAX_PERIODS)
        return fail(b, EP_EINVAL, "more than 1,000,000 placement periods in the window", NULL);
    return 0;
}

/* Bins of at most `most` a period, fewer when keys x periods x most would pass about 4
 * million (at least 4). */
static int
bins_per_period(int keys, int64_t np, int most)
{
    double room = 4e6 / ((double)(keys > 0 ? keys : 1) * (double)(np > 0 ? np : 1));
    return room >= most ? most : room >= 4 ? (int)room : 4;
}

/* The burst bins: per service (bound_burst.h), and per (service, ingress node) for the
 * uplink caps (uplink_caps). */
static int
burst_bins(bnd *b)
{
    const ep_scenario *sc = b->sc;
    int ns = sc->nservices, nn = sc->nnodes, nk = 0, rc;
    double per = ep_dur_to_s(b->period);
    double *h = calloc((size_t)ns * nn + 1, sizeof *h);
    b->lkey = malloc(((size_t)ns * nn + 1) * sizeof *b->lkey);
    if (!h || !b->lkey) {
        free(h);
        return EP_ENOMEM;
    }
    for (int s = 0; s < ns; s++)
        h[s] = ep_burst_horizon(&sc->services[s]);
    rc = ep_burst_init(&b->burst, h, ns, per, b->np, bins_per_period(ns, b->np, EP_BURST_MAX_BINS));
    for (int i = 0; i < ns * nn; i++)
        b->lkey[i] = -1;
    for (int w = 0; w < sc->nworkloads; w++)
        for (int i = 0; i < sc->workloads[w].ningress; i++) {
            int s = sc->workloads[w].service, *k = &b->lkey[s * nn + sc->workloads[w].ingress[i]];
            if (*k < 0) {
                *k = nk;
                h[nk++] = ep_burst_horizon(&sc->services[s]);
            }
        }
    if (!rc)
        rc = ep_burst_init(&b->lbins, h, nk, per, b->np, bins_per_period(nk, b->np, UPLINK_BINS));
    free(h);
    return rc;
}

/* Streams every workload as the simulator does (ep_arrivals: time-compressed, tiled, replayed
 * while < cutoff); counts the arrivals
 * inside the window per period and service, and the request sizes of all replayed rows
 * (with the simulator's defaults for missing sizes). */
static int
count_demand(bnd *b)
{
    const ep_scenario *sc = b->sc;
    int ns = sc->nservices;
    for (int i = 0; i < sc->nworkloads; i++) {
        const ep_workload *w = &sc->workloads[i];
        const ep_service *svc = &sc->services[w->service];
        int llm = svc->kind == EP_SVC_LLM;
        int rr = 0; /* the simulator's round robin over the workload's ingress nodes */
        ep_arrivals rp;
        int rc = ep_arrivals_open(&rp, b->opts->traces, w, b->opts->rate_scale, b->cutoff);
        if (rc)
            return fail(b, rc, "cannot read workload trace", w->trace);
        ep_trace_row row;
        ep_time at;
        while ((rc = ep_arrivals_next(&rp, &row, &at)) == 1) {
            int s = w->service;
            int in = w->ingress[rr++ % w->ningress];
            int64_t input = row.input > 0 ? row.input : llm ? 512 : svc->input_bytes;
            int64_t output = row.output > 0 ? row.output : llm ? 128 : 1;
            /* A request no placement serves in time is a miss for the bound too: it counts
             * among the requests, not in the demand, nor in the sizes the capacities use. */
            ep_unservable v = ep_servable_check(b->feas, s, input, output, row.exec);
            int ok = v == EP_SERVABLE;
            b->arrivals[s]++;
            if (ok) {
                b->rows[s] += 1;
                b->sum_in[s] += (double)input;
                b->sum_bytes[s] +=
                        llm ? (double)input * (double)svc->bytes_per_token : (double)input;
                b->sum_out[s] += (double)output;
                if (output > b->max_out[s])
                    b->max_out[s] = output;
            }
            if (at < b->lo || at >= b->hi)
                continue;
            b->total[s] += 1;
            if (!ok) {
                b->unserv[s] += 1;
                b->why[v]++;
                continue;
            }
            int64_t p = sc->run.placement_period > 0 ? at / b->period - b->p_first : 0;
            EP_ASSERT(p >= 0 && p < b->np);
            b->demand[p * ns + s] += 1;
            ep_time p0 = sc->run.placement_period > 0 ? (b->p_first + p) * b->period : b->lo;
            ep_burst_count(&b->burst, s, p, ep_dur_to_s(at - p0));
            if (b->lkey[s * sc->nnodes + in] >= 0)
                ep_burst_count(&b->lbins, b->lkey[s * sc->nnodes + in], p, ep_dur_to_s(at - p0));
            b->dem_in[(p * ns + s) * sc->nnodes + in] += 1;
        }
        ep_arrivals_close(&rp);
        if (rc < 0)
            return fail(b, rc, "cannot read workload trace", w->trace);
    }
    double span_s = ep_dur_to_s(b->end) > 0 ? ep_dur_to_s(b->end) : 1;
    for (int s = 0; s < ns; s++) {
        b->mean_in[s] = b->rows[s] > 0 ? b->sum_in[s] / b->rows[s] : 0;
        b->mean_out[s] = b->rows[s] > 0 ? b->sum_out[s] / b->rows[s] : 0;
        b->rate[s] = (double)b->arrivals[s] / span_s;
    }
    return 0;
}

static int
fits(const bnd *b, int svc, const int *devs, int n)
{
    double need = (double)ep_cost_instance_mem(b->sc, svc, n);
    for (int i = 0; i < n; i++)
        if (need > ep_pol_usable_mem(b->sc, devs[i]))
            return 0;
    return 1;
}

/* Appends candidate sp with capacity cap, burst rate burst and memory mem per device. */
static int
push_cand(bnd *b, const ep_instance_spec *sp, double cap, double burst, double mem)
{
    if (b->nc == b->capc) {
        int nc = b->capc ? b->capc * 2 : 64;
        cand *c = realloc(b->c, (size_t)nc * sizeof *c);
        if (!c)
            return EP_ENOMEM;
        b->c = c;
        b->capc = nc;
    }
    cand *k = &b->c[b->nc++];
    k->spec = *sp;
    k->cap_per_s = cap;
    k->burst = burst;
    k->mem_bytes = mem;
    k->reps = MT_MAX;
    for (int i = 0; i < sp->ndev; i++) {
        double r = floor(ep_pol_usable_mem(b->sc, sp->devs[i]) / mem);
        if (r < k->reps)
            k->reps = r < 1 ? 1 : (int)r;
    }
    k->deployed = 0;
    return 0;
}

/* Adds candidate (svc, mode, devs) when it fits and its capacity is positive; *added tells
 * whether it did. An LLM instance (not a pipeline) whose service has a KV cache comes as
 * KV_LEVELS candidates (docs/decisions/0002-bound.md, "KV cache"): level j stands for every
 * instance whose KV capacity lies in (K KV_RATIO^(j+1), K KV_RATIO^j] (K: the instance's KV
 * alone on its devices; the last level down to 0), with the capacity and burst rate at the
 * top of that range and the memory (weights, reserve and KV) at its bottom, so each level
 * bounds every instance it stands for. */
static int
add_cand(bnd *b, int svc, ep_mode mode, const int *devs, int n, int *added)
{
    *added = 0;
    if (!fits(b, svc, devs, n))
        return 0;
    ep_instance_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.service = svc;
    sp.mode = mode;
    sp.ndev = n;
    memcpy(sp.devs, devs, (size_t)n * sizeof *devs);
    sp.order = EP_QUEUE_FIFO;
    const ep_service *v = &b->sc->services[svc];
    double mem = (double)ep_cost_instance_mem(b->sc, svc, n);
    if (v->kind == EP_SVC_LLM && v->kv_bytes_per_token > 0 && mode != EP_MODE_PP) {
        double K = (double)ep_pol_kv_capacity(&b->view, &sp), top = K;
        for (int l = 0; l < KV_LEVELS && top >= 1; l++, top *= KV_RATIO) {
            double bottom = l + 1 < KV_LEVELS ? top * KV_RATIO : 0;
            int bb, rc;
            double cap = ep_pol_capacity_at(&b->view, &sp, 1, (int64_t)top, INFINITY, 0, &bb, NULL);
            if (!(cap > 0) || !isfinite(cap))
                break; /* lower levels hold less KV: no more capacity */
            double burst = ep_burst_rate(&b->view, &sp, (int64_t)top);
            if ((rc = push_cand(b, &sp, cap, burst,
                                mem + bottom * (double)v->kv_bytes_per_token / n)))
                return rc;
            *added = 1;
        }
        return 0;
    }
    double cap = ep_pol_capacity(&b->view, &sp, NULL);
    if (mode == EP_MODE_PP && n == 2) {
        /* Stage order matters for a DNN pipeline's interval: keep the better order. */
        ep_instance_spec rev = sp;
        rev.devs[0] = devs[1];
        rev.devs[1] = devs[0];
        double cr = ep_pol_capacity(&b->view, &rev, NULL);
        if (cr > cap) {
            cap = cr;
            sp = rev;
        }
    }
    if (!(cap > 0) || !isfinite(cap))
        return 0;
    int rc = push_cand(b, &sp, cap, ep_burst_rate(&b->view, &sp, -1), mem);
    *added = rc == 0;
    return rc;
}

static int
node_of(const ep_scenario *sc, int dev)
{
    return sc->devices[dev].node;
}

/* Multi-device candidates of service s: TP over disjoint groups of k devices in each node,
 * PP over every pair of devices on different nodes; when no candidate so far serves s (*any
 * is 0: none fits with a positive capacity), PP chains of k = 3..8 devices (disjoint, in
 * device order, over the devices that hold a k-share). */
static int
multi_cands(bnd *b, int s, int *any)
{
    const ep_scenario *sc = b->sc;
    int devs[EP_MAX_STAGE_DEVS], added, rc;
    for (int n = 0; n < sc->nnodes; n++) {
        const ep_node *nd = &sc->nodes[n];
        for (int k = 2; k <= nd->ndev && k <= EP_MAX_STAGE_DEVS; k++)
            for (int j = 0; (j + 1) * k <= nd->ndev; j++) {
                for (int i = 0; i < k; i++)
                    devs[i] = nd->dev0 + j * k + i;
                if ((rc = add_cand(b, s, EP_MODE_TP, devs, k, &added)) != 0)
                    return rc;
                *any |= added;
            }
    }
    for (int a = 0; a < sc->ndevices; a++)
        for (int z = a + 1; z < sc->ndevices; z++) {
            if (node_of(sc, a) == node_of(sc, z))
                continue;
            devs[0] = a;
            devs[1] = z;
            if ((rc = add_cand(b, s, EP_MODE_PP, devs, 2, &added)) != 0)
                return rc;
            *any |= added;
        }
    for (int k = 3; !*any && k <= EP_MAX_STAGE_DEVS; k++) {
        double need = (double)ep_cost_instance_mem(sc, s, k);
        int got = 0;
        for (int d = 0; d < sc->ndevices; d++) {
            if (ep_pol_usable_mem(sc, d) < need)
                continue;
            devs[got++] = d;
            if (got == k) {
                if ((rc = add_cand(b, s, EP_MODE_PP, devs, k, &added)) != 0)
                    return rc;
                *any |= added;
                got = 0;
            }
        }
    }
    return 0;
}

/* Every service gets the multi-device candidates, not only those the default categorizer
 * calls multi-device (memory): a categorizer may also choose TP/PP because no single device
 * meets the SLO (EPARA's does: policies/README.md), and the bound must cover every policy.
 * Services forced multi-device (min_devices > 1, or too large for any device) get no SINGLE
 * candidates. */
static int
candidates(bnd *b)
{
    const ep_scenario *sc = b->sc;
    for (int s = 0; s < sc->nservices; s++) {
        if (b->total[s] - b->unserv[s] <= 0)
            continue; /* no servable demand in the window: nothing to serve */
        int rc, added, any = 0;
        for (int d = 0; d < sc->ndevices && !b->cat[s].multi_device; d++) {
            if ((rc = add_cand(b, s, EP_MODE_SINGLE, &d, 1, &added)) != 0)
                return fail(b, rc, "out of memory", NULL);
            any |= added;
        }
        if ((rc = multi_cands(b, s, &any)) != 0)
            return fail(b, rc, "out of memory", NULL);
    }
    return 0;
}

/* The co-location (MT) envelope of one device. With j busy instances on a device each runs
 * slowdown(j) times slower (ep_cost_mt_slowdown), so the device delivers g(j) = j /
 * slowdown(j) instance-capacities at once (1.62 for j = 2 with the default table). With n
 * instances resident, at most max_{i <= n} g(i); over a period whose time-averaged number of
 * resident instances is X, at most the concave envelope G(X) of those points (Jensen). G is
 * piecewise linear: sum_k r_k / c_k <= a + b X for each piece (a, b). jmax (1..MT_MAX): the
 * most instances the device can hold at once. Returns the number of pieces written to out
 * (at most jmax + 1); the last one is flat (b = 0, a = the largest g). */
typedef struct piece {
    double a, b;
} piece;

static int
mt_pieces(const ep_scenario *sc, int jmax, piece *out)
{
    double hx[MT_MAX + 1], hy[MT_MAX + 1], best = 0;
    int nh = 0;
    for (int j = 0; j <= jmax; j++) {
        double g = j ? (double)j / ep_cost_mt_slowdown(sc, j) : 0;
        if (g > best)
            best = g;
        /* Upper hull of (j, best), x increasing: drop the last vertex while it lies on or
         * below the segment from the one before it to the new point. */
        while (nh >= 2 && (hx[nh - 1] - hx[nh - 2]) * (best - hy[nh - 2]) -
                                          (hy[nh - 1] - hy[nh - 2]) * ((double)j - hx[nh - 2]) >=
                                  0)
            nh--;
        hx[nh] = (double)j;
        hy[nh] = best;
        nh++;
    }
    int n = 0;
    for (int i = 0; i + 1 < nh; i++) {
        double slope = (hy[i + 1] - hy[i]) / (hx[i + 1] - hx[i]);
        if (slope <= 0)
            break; /* the rest is flat: the last piece below covers it */
        out[n].b = slope;
        out[n].a = hy[i] - slope * hx[i];
        n++;
    }
    out[n].a = best;
    out[n].b = 0;
    return n + 1;
}

static int
entry_node(const bnd *b, const cand *c)
{
    return b->sc->devices[c->spec.devs[0]].node;
}

/* Lists the (service, ingress) pairs with demand in the window and, for each, a flow to
 * every node where a candidate of its service takes requests in. */
static int
flows(bnd *b)
{
    const ep_scenario *sc = b->sc;
    int ns = sc->nservices, nn = sc->nnodes;
    size_t sn = (size_t)ns * (size_t)nn + 1;
    b->at_row = calloc(sn, sizeof *b->at_row);
    b->pair_s = calloc(sn, sizeof *b->pair_s);
    b->pair_i = calloc(sn, sizeof *b->pair_i);
    b->flow_pair = calloc(sn * (size_t)nn, sizeof *b->flow_pair);
    b->flow_n = calloc(sn * (size_t)nn, sizeof *b->flow_n);
    if (!b->at_row || !b->pair_s || !b->pair_i || !b->flow_pair || !b->flow_n)
        return EP_ENOMEM;
    for (int k = 0; k < b->nc; k++)
        b->at_row[b->c[k].spec.service * nn + entry_node(b, &b->c[k])] = 1;
    for (int s = 0; s < ns; s++)
        for (int i = 0; i < nn; i++) {
            double d = 0;
            for (int64_t p = 0; p < b->np; p++)
                d += b->dem_in[(p * ns + s) * nn + i];
            if (d <= 0)
                continue;
            int q = b->npairs++;
            b->pair_s[q] = s;
            b->pair_i[q] = i;
            for (int n = 0; n < nn; n++)
                if (b->at_row[s * nn + n]) {
                    b->flow_pair[b->nflows] = q;
                    b->flow_n[b->nflows++] = n;
                }
        }
    return 0;
}

typedef struct lp_build {
    int *ia, *ja;
    double *ar;
    int n, cap;
} lp_build;

static int
put(lp_build *m, int row, int col, double v)
{
    if (m->n + 1 >= m->cap) {
        int nc = m->cap ? m->cap * 2 : 1024;
        int *ia = realloc(m->ia, (size_t)nc * sizeof *ia);
        if (ia)
            m->ia = ia;
        int *ja = realloc(m->ja, (size_t)nc * sizeof *ja);
        if (ja)
            m->ja = ja;
        double *ar = realloc(m->ar, (size_t)nc * sizeof *ar);
        if (ar)
            m->ar = ar;
        if (!ia || !ja || !ar)
            return EP_ENOMEM;
        m->cap = nc;
    }
    m->n++; /* GLPK's arrays start at 1 */
    m->ia[m->n] = row;
    m->ja[m->n] = col;
    m->ar[m->n] = v;
    return 0;
}

/* The LP over all periods at once. Periods are grouped m at a time into blocks (m = 1 unless
 * that would make more than MAX_BLOCKS blocks or MAX_COLUMNS block columns: merging periods
 * only relaxes the LP, since a block's time-averaged placement is feasible for any
 * placements of its periods, memory rows being linear and the MT envelope concave). A
 * request of s arriving in block a may be served in blocks a .. last_block(s, a): up to the
 * one holding min(end of a, window end) + H_s, H_s the latest completion after arrival its
 * SLO allows (docs/decisions/0002-bound.md, "Carry-over"); one block after the window's last
 * gives carried work the capacity a policy has until hi + max H_s. Columns per block: x_k,
 * r_k (req/s served by k), g_f (req/s of a flow); then y(q, a, t): requests of pair q
 * arriving in block a served in block t (and z, the lowest attainment, for
 * EP_BOUND_OBJ_MIN). Rows per block: capacity (nc), pair intake (npairs), memory (nd), links
 * up and down (2 nl), (service, entry node) (nat), MT pieces (npc); then one demand row per
 * (q, a) with arrivals, one carry row per (service, block) that takes carried requests, and
 * the min rows. */
typedef struct jlp {
    int nb, na, m;      /* blocks, blocks with arrivals, periods per block */
    double start, blen; /* the first block's start and a block's length, in seconds */
    double lo, hi;      /* the window */
    double *T;          /* nb: seconds of capacity per block */
    double *W;          /* nb: seconds of the block inside the window */
    double *dq;         /* na x npairs: arrivals of pair q in block a */
    int nbc, nbr;       /* columns and rows per block */
    int nat, npc;       /* (service, entry node) rows and MT rows per block */
    int *at_idx;        /* ns x nn: 0-based index among the at rows, -1 when none */
    int *pc_first;      /* nd + 1: the first MT row of each device (offsets into npc) */
    piece *pc;          /* npc pieces, device after device */
    int ny;             /* y columns */
    int *y_q, *y_a, *y_t;
    int no_dem_rows; /* the one-block LP of block_bases: y's bounds alone hold the demand */
    int min_rows;    /* EP_BOUND_OBJ_MIN: the first of its rows (one per service), else 0 */
    double *cmax;    /* per service: the most req/s the whole cluster could serve of it */
    int nburst;      /* (service, block) pairs with burst rows */
    int *burst_y;    /* nburst: their column Y (requests of s arriving in a, served) */
    int *burst_e;    /* nburst: their row Y - sum of those y = 0 */
} jlp;

#define MAX_BLOCKS  240
#define MAX_COLUMNS 40000

static int
col_x(const jlp *j, int t, int k)
{
    return t * j->nbc + k + 1;
}
static int
col_r(const bnd *b, const jlp *j, int t, int k)
{
    return t * j->nbc + b->nc + k + 1;
}
static int
col_g(const bnd *b, const jlp *j, int t, int f)
{
    return t * j->nbc + 2 * b->nc + f + 1;
}
static int
row_cap(const jlp *j, int t, int k)
{
    return t * j->nbr + k + 1;
}
static int
row_in(const bnd *b, const jlp *j, int t, int q)
{
    return t * j->nbr + b->nc + q + 1;
}
static int
row_mem(const bnd *b, const jlp *j, int t, int d)
{
    return t * j->nbr + b->nc + b->npairs + d + 1;
}
static int
row_link(const bnd *b, const jlp *j, int t, int l, int down)
{
    return t * j->nbr + b->nc + b->npairs + b->sc->ndevices + down * b->sc->nlinks + l + 1;
}
static int
row_at(const bnd *b, const jlp *j, int t, int s, int n)
{
    int i = j->at_idx[s * b->sc->nnodes + n];
    EP_ASSERT(i >= 0);
    return t * j->nbr + b->nc + b->npairs + b->sc->ndevices + 2 * b->sc->nlinks + i + 1;
}
static int
row_mt(const bnd *b, const jlp *j, int t, int i)
{
    return t * j->nbr + b->nc + b->npairs + b->sc->ndevices + 2 * b->sc->nlinks + j->nat + i + 1;
}

static void
jlp_free(jlp *j)
{
    free(j->T);
    free(j->W);
    free(j->cmax);
    free(j->dq);
    free(j->at_idx);
    free(j->pc_first);
    free(j->pc);
    free(j->y_q);
    free(j->y_a);
    free(j->y_t);
    free(j->burst_y);
    free(j->burst_e);
}

/* The latest completion after arrival that service s's SLO allows: a DNN's deadline (a
 * stream's frame deadline); an LLM's TTFT plus its TPOT for every token after the first of
 * the longest output among its servable rows. */
static double
horizon_s(const bnd *b, int s)
{
    const ep_service *v = &b->sc->services[s];
    if (v->kind == EP_SVC_LLM) {
        double extra = b->max_out[s] > 1 ? (double)(b->max_out[s] - 1) : 0;
        return ep_dur_to_s(v->slo.ttft) + extra * ep_dur_to_s(v->slo.tpot);
    }
    return ep_burst_horizon(v); /* a DNN's burst horizon is its whole deadline */
}

/* Uplink caps (docs/decisions/0002-bound.md, "Uplinks"): requests of s entering at node i,
 * where no candidate of s takes requests in, all cross i's uplink, between their arrival and
 * their burst horizon H_s later; of those arriving in block a, at most the cheapest partition
 * of the block's bins into intervals of sum min(arrivals, B (|I| + H_s) / bytes_s) can be
 * served (B: the uplink's bytes/s, bytes_s: the service's mean payload), whatever the
 * placement. Lowers the pair's demand in the block to that cap. */
static int
uplink_caps(const bnd *b, jlp *j)
{
    const ep_scenario *sc = b->sc;
    int nn = sc->nnodes;
    for (int q = 0; q < b->npairs; q++) {
        int s = b->pair_s[q], i = b->pair_i[q], key = b->lkey[s * nn + i];
        double bytes = b->rows[s] > 0 ? b->sum_bytes[s] / b->rows[s] : 0;
        double bw = ep_pol_link_bw(&sc->links[sc->nodes[i].link]);
        if (key < 0 || b->at_row[s * nn + i] || !(bytes > 0) || !(bw > 0))
            continue;
        for (int a = 0; a < j->na; a++) {
            double *d = &j->dq[a * b->npairs + q];
            if (*d <= 0)
                continue;
            double cap = ep_burst_cap(&b->lbins, key, (int64_t)a * j->m, j->m, bw / bytes);
            if (cap < 0)
                return EP_ENOMEM;
            *d = cap < *d ? cap : *d;
        }
    }
    return 0;
}

/* Blocks, their seconds, each service's carry-over and the demand per block. */
static int
jlp_blocks(const bnd *b, jlp *j)
{
    const ep_scenario *sc = b->sc;
    int ns = sc->nservices, nn = sc->nnodes;
    double per = ep_dur_to_s(b->period), hmax = 0;
    for (int s = 0; s < ns; s++)
        if (b->total[s] > b->unserv[s] && horizon_s(b, s) > hmax)
            hmax = horizon_s(b, s);
    /* Blocks (with the one after the window) cap the LP's size: at most MAX_BLOCKS, and
     * at most MAX_COLUMNS block columns in all. */
    int64_t m = 1, nbc = 2 * (int64_t)b->nc + b->nflows;
    for (;; m++) {
        int64_t nb = (b->np + m - 1) / m + (hmax > 0);
        if (nb <= MAX_BLOCKS && (nb * nbc <= MAX_COLUMNS || m >= b->np))
            break;
    }
    double blen = per * (double)m;
    j->m = (int)m;
    j->na = (int)((b->np + m - 1) / m);
    j->blen = blen;
    j->lo = ep_dur_to_s(b->lo);
    j->hi = ep_dur_to_s(b->hi);
    j->start = sc->run.placement_period > 0 ? ep_dur_to_s(b->p_first * b->period) : j->lo;
    /* Requests may be served until hi + hmax: past the last block, in one more block. */
    double end = j->start + blen * j->na;
    j->nb = j->na + (j->hi + hmax > end);
    j->T = calloc((size_t)j->nb, sizeof *j->T);
    j->W = calloc((size_t)j->nb, sizeof *j->W);
    j->dq = calloc((size_t)j->na * (size_t)(b->npairs + 1), sizeof *j->dq);
    if (!j->T || !j->W || !j->dq)
        return EP_ENOMEM;
    /* A block's capacity runs from the later of its start and the window's to the earlier
     * of its end and hi + hmax; W: its seconds inside the window. */
    for (int t = 0; t < j->na; t++) {
        double a = j->start + blen * t, z = a + blen, a0 = a > j->lo ? a : j->lo;
        j->T[t] = (z < j->hi + hmax ? z : j->hi + hmax) - a0;
        j->W[t] = (z < j->hi ? z : j->hi) - a0;
    }
    if (j->nb > j->na)
        j->T[j->na] = j->hi + hmax - end;
    for (int64_t p = 0; p < b->np; p++)
        for (int q = 0; q < b->npairs; q++)
            j->dq[(p / m) * b->npairs + q] +=
                    b->dem_in[(p * ns + b->pair_s[q]) * nn + b->pair_i[q]];
    return uplink_caps(b, j);
}

/* The last block in which a request of s arriving in block a may be served: the one holding
 * the earlier of a's end and hi, plus H_s (the block after the window past them). */
static int
last_block(const bnd *b, const jlp *j, int s, int a)
{
    if (j->nb == 1)
        return 0;
    double z = j->start + j->blen * (a + 1);
    double tau = (z < j->hi ? z : j->hi) + horizon_s(b, s);
    double t = floor((tau - j->start) / j->blen);
    return t < a ? a : t >= j->na ? j->nb - 1 : (int)t;
}

/* The layout every block shares: the (service, entry node) row indexes, the MT envelope
 * pieces of every device (mt_pieces over the copies of its smallest candidate that fit),
 * cmax, and the columns and rows per block. */
static int
jlp_layout(const bnd *b, jlp *j)
{
    const ep_scenario *sc = b->sc;
    int nd = sc->ndevices, ns = sc->nservices, nn = sc->nnodes;
    j->at_idx = malloc(((size_t)ns * nn + 1) * sizeof *j->at_idx);
    j->pc_first = calloc((size_t)nd + 1, sizeof *j->pc_first);
    j->pc = malloc(((size_t)nd * (MT_MAX + 2) + 1) * sizeof *j->pc);
    if (!j->at_idx || !j->pc_first || !j->pc)
        return EP_ENOMEM;
    for (int i = 0; i < ns * nn; i++)
        j->at_idx[i] = b->at_row[i] ? j->nat++ : -1;
    for (int d = 0; d < nd; d++) {
        j->pc_first[d] = j->npc;
        double minm = 0;
        for (int k = 0; k < b->nc; k++)
            for (int i = 0; i < b->c[k].spec.ndev; i++)
                if (b->c[k].spec.devs[i] == d && (minm <= 0 || b->c[k].mem_bytes < minm))
                    minm = b->c[k].mem_bytes;
        if (minm <= 0)
            continue; /* no candidate uses d */
        double fitn = floor(ep_pol_usable_mem(sc, d) / minm);
        int jmax = fitn >= MT_MAX ? MT_MAX : fitn < 1 ? 1 : (int)fitn;
        j->npc += mt_pieces(sc, jmax, &j->pc[j->npc]);
    }
    j->pc_first[nd] = j->npc;
    /* cmax_s = sum_d G_d max_{k of s on d} c_k, G_d the envelope's top (its last piece):
     * a device delivers at most G_d instance-capacities, each at most the best c_k. */
    j->cmax = calloc((size_t)ns + 1, sizeof *j->cmax);
    double *best = calloc((size_t)ns * nd + 1, sizeof *best);
    if (!j->cmax || !best) {
        free(best);
        return EP_ENOMEM;
    }
    for (int k = 0; k < b->nc; k++)
        for (int i = 0; i < b->c[k].spec.ndev; i++) {
            double *x = &best[b->c[k].spec.service * nd + b->c[k].spec.devs[i]];
            if (b->c[k].cap_per_s > *x)
                *x = b->c[k].cap_per_s;
        }
    for (int s = 0; s < ns; s++)
        for (int d = 0; d < nd; d++)
            if (j->pc_first[d + 1] > j->pc_first[d])
                j->cmax[s] += j->pc[j->pc_first[d + 1] - 1].a * best[s * nd + d];
    free(best);
    j->nbc = 2 * b->nc + b->nflows;
    j->nbr = b->nc + b->npairs + nd + 2 * sc->nlinks + j->nat + j->npc;
    return 0;
}

/* The y columns: every (pair, arrival block with arrivals, serving block). */
static int
jlp_ys(const bnd *b, jlp *j)
{
    for (int pass = 0; pass < 2; pass++) {
        j->ny = 0;
        for (int q = 0; q < b->npairs; q++)
            for (int a = 0; a < j->na; a++) {
                if (j->dq[a * b->npairs + q] <= 0)
                    continue;
                int last = last_block(b, j, b->pair_s[q], a);
                for (int t = a; t <= last; t++, j->ny++)
                    if (pass) {
                        j->y_q[j->ny] = q;
                        j->y_a[j->ny] = a;
                        j->y_t[j->ny] = t;
                    }
            }
        if (!pass) {
            j->y_q = malloc(((size_t)j->ny + 1) * sizeof *j->y_q);
            j->y_a = malloc(((size_t)j->ny + 1) * sizeof *j->y_a);
            j->y_t = malloc(((size_t)j->ny + 1) * sizeof *j->y_t);
            if (!j->y_q || !j->y_a || !j->y_t)
                return EP_ENOMEM;
        }
    }
    return 0;
}

/* The objective coefficient of a request of service s (docs/decisions/0002-bound.md,
 * "Objective"): 1 (requests served: overall attainment), 1 / requests of s in the window
 * (the mean attainment over services), or 1 for one service and 0 for the others. */
static double
objective_coef(const bnd *b, int s)
{
    switch (b->opts->bound_objective) {
    case EP_BOUND_OBJ_MEAN:
    case EP_BOUND_OBJ_MIN: /* its objective is z; these weigh the blocks' warm start */
        return b->total[s] > 0 ? 1.0 / b->total[s] : 0;
    case EP_BOUND_OBJ_SERVICE:
        return s == b->opts->bound_service ? 1.0 : 0.0;
    default:
        return 1.0;
    }
}

/* The burst rows (docs/decisions/0002-bound.md, "Bursts"), when every block is one
 * placement period (the placement is then constant in a block): for each service s and
 * block a with pieces (ep_burst_pieces), a column Y = the requests of s arriving in a that
 * are served (a row Y - sum of their y = 0), columns v_d in [0, G_d rmax_sd] for each
 * device d holding a candidate of s (the req/s of s that d starts within H_s: at most
 * sum_{k of s on d} x_k burst_k / ndev_k, one row each; G_d the top of d's MT envelope,
 * rmax_sd the best burst_k / ndev_k on d), and one row per piece: Y - jw sum_d v_d <= R. */
static int
burst_rows(bnd *b, jlp *j, glp_prob *lp, lp_build *m)
{
    const ep_scenario *sc = b->sc;
    int ns = sc->nservices, nd = sc->ndevices, rc = 0, y0 = j->nb * j->nbc;
    size_t nsa = (size_t)ns * (size_t)j->na;
    double *rmax = calloc((size_t)ns * nd + 1, sizeof *rmax), jw[EP_BURST_MAX_PIECES],
           R[EP_BURST_MAX_PIECES];
    int *erow = calloc(nsa + 1, sizeof *erow), *vrow = malloc(((size_t)nd + 1) * sizeof *vrow);
    j->burst_y = malloc((nsa + 1) * sizeof *j->burst_y);
    j->burst_e = malloc((nsa + 1) * sizeof *j->burst_e);
    if (!rmax || !erow || !vrow || !j->burst_y || !j->burst_e) {
        rc = EP_ENOMEM;
        goto done;
    }
    for (int k = 0; k < b->nc; k++)
        for (int i = 0; i < b->c[k].spec.ndev; i++) {
            double *r = &rmax[b->c[k].spec.service * nd + b->c[k].spec.devs[i]];
            double x = b->c[k].burst / b->c[k].spec.ndev;
            *r = x > *r ? x : *r;
        }
    for (int s = 0; s < ns; s++)
        for (int a = 0; a < j->na; a++) {
            int np = ep_burst_pieces(&b->burst, s, a, jw, R, EP_BURST_MAX_PIECES);
            if (np < 0) {
                rc = EP_ENOMEM;
                goto done;
            }
            int nv = 0;
            for (int d = 0; d < nd; d++)
                nv += rmax[s * nd + d] > 0;
            if (np == 0 || nv == 0)
                continue;
            int Y = glp_add_cols(lp, 1 + nv), e = glp_add_rows(lp, 1 + nv + np), v = Y;
            glp_set_col_bnds(lp, Y, GLP_LO, 0, 0);
            glp_set_row_bnds(lp, e, GLP_FX, 0, 0);
            if ((rc = put(m, e, Y, 1.0)))
                goto done;
            j->burst_y[j->nburst] = Y;
            j->burst_e[j->nburst++] = e;
            erow[s * j->na + a] = e;
            for (int d = 0; d < nd; d++) {
                vrow[d] = 0;
                if (rmax[s * nd + d] <= 0)
                    continue;
                v++;
                vrow[d] = e + v - Y; /* v_d's row */
                double G = j->pc[j->pc_first[d + 1] - 1].a;
                glp_set_col_bnds(lp, v, GLP_DB, 0, G * rmax[s * nd + d]);
                glp_set_row_bnds(lp, vrow[d], GLP_UP, 0, 0);
                if ((rc = put(m, vrow[d], v, 1.0)))
                    goto done;
                for (int i = 0; i < np; i++)
                    if ((rc = put(m, e + 1 + nv + i, v, -jw[i])))
                        goto done;
            }
            for (int k = 0; k < b->nc; k++) {
                const cand *ck = &b->c[k];
                for (int i = 0; i < ck->spec.ndev && ck->spec.service == s && ck->burst > 0; i++)
                    if ((rc = put(m, vrow[ck->spec.devs[i]], col_x(j, a, k),
                                  -ck->burst / ck->spec.ndev)))
                        goto done;
            }
            for (int i = 0; i < np; i++) {
                glp_set_row_bnds(lp, e + 1 + nv + i, GLP_UP, 0, R[i]);
                if ((rc = put(m, e + 1 + nv + i, Y, 1.0)))
                    goto done;
            }
        }
    for (int i = 0; i < j->ny; i++) {
        int e = erow[b->pair_s[j->y_q[i]] * j->na + j->y_a[i]];
        if (e && (rc = put(m, e, y0 + i + 1, -1.0)))
            goto done;
    }
done:
    free(rmax);
    free(erow);
    free(vrow);
    return rc;
}

/* Builds the whole LP (block after block; then the y columns and demand rows). */
static int
build_joint(bnd *b, jlp *j, glp_prob *lp)
{
    const ep_scenario *sc = b->sc;
    int nd = sc->ndevices, nn = sc->nnodes, nl = sc->nlinks, nc = b->nc, rc = 0;
    int *carry_row = NULL;
    lp_build m = {NULL, NULL, NULL, 0, 0};
    glp_set_obj_dir(lp, GLP_MAX);
    glp_add_cols(lp, j->nb * j->nbc + j->ny);
    glp_add_rows(lp, j->nb * j->nbr);
    for (int t = 0; t < j->nb; t++) {
        for (int k = 0; k < nc; k++) {
            const cand *ck = &b->c[k];
            glp_set_col_bnds(lp, col_x(j, t, k), GLP_DB, 0, ck->reps);
            glp_set_col_bnds(lp, col_r(b, j, t, k), GLP_LO, 0, 0);
            glp_set_row_bnds(lp, row_cap(j, t, k), GLP_UP, 0, 0);
            if ((rc = put(&m, row_cap(j, t, k), col_r(b, j, t, k), 1.0)) ||
                (rc = put(&m, row_cap(j, t, k), col_x(j, t, k), -ck->cap_per_s)) ||
                (rc = put(&m, row_at(b, j, t, ck->spec.service, entry_node(b, ck)),
                          col_r(b, j, t, k), 1.0)))
                goto fail;
            for (int i = 0; i < ck->spec.ndev; i++) {
                int d = ck->spec.devs[i];
                if ((rc = put(&m, row_mem(b, j, t, d), col_x(j, t, k),
                              ck->mem_bytes / ep_pol_usable_mem(sc, d))))
                    goto fail;
                for (int p = j->pc_first[d]; p < j->pc_first[d + 1]; p++)
                    if ((rc = put(&m, row_mt(b, j, t, p), col_r(b, j, t, k),
                                  1.0 / ck->cap_per_s)) ||
                        (j->pc[p].b > 0 &&
                         (rc = put(&m, row_mt(b, j, t, p), col_x(j, t, k), -j->pc[p].b))))
                        goto fail;
            }
        }
        for (int q = 0; q < b->npairs; q++)
            glp_set_row_bnds(lp, row_in(b, j, t, q), GLP_FX, 0, 0);
        for (int i = 0; i < sc->nservices * nn; i++)
            if (j->at_idx[i] >= 0)
                glp_set_row_bnds(lp, row_at(b, j, t, i / nn, i % nn), GLP_FX, 0, 0);
        /* Flows: from ingress i to entry node n; one that changes nodes crosses i's link up
         * and n's link down (node_send), each carrying at most bandwidth x (1 - loss)
         * bytes/s. */
        for (int f = 0; f < b->nflows; f++) {
            int q = b->flow_pair[f], s = b->pair_s[q], i = b->pair_i[q], n = b->flow_n[f];
            double bytes = b->rows[s] > 0 ? b->sum_bytes[s] / b->rows[s] : 0;
            glp_set_col_bnds(lp, col_g(b, j, t, f), GLP_LO, 0, 0);
            if ((rc = put(&m, row_in(b, j, t, q), col_g(b, j, t, f), 1.0)) ||
                (rc = put(&m, row_at(b, j, t, s, n), col_g(b, j, t, f), -1.0)))
                goto fail;
            if (i == n || bytes <= 0)
                continue;
            if ((rc = put(&m, row_link(b, j, t, sc->nodes[i].link, 0), col_g(b, j, t, f), bytes)) ||
                (rc = put(&m, row_link(b, j, t, sc->nodes[n].link, 1), col_g(b, j, t, f), bytes)))
                goto fail;
        }
        for (int l = 0; l < nl; l++) {
            double bw = ep_pol_link_bw(&sc->links[l]);
            glp_set_row_bnds(lp, row_link(b, j, t, l, 0), bw > 0 ? GLP_UP : GLP_FR, 0, bw);
            glp_set_row_bnds(lp, row_link(b, j, t, l, 1), bw > 0 ? GLP_UP : GLP_FR, 0, bw);
        }
        for (int d = 0; d < nd; d++) {
            glp_set_row_bnds(lp, row_mem(b, j, t, d), GLP_UP, 0, 1);
            for (int p = j->pc_first[d]; p < j->pc_first[d + 1]; p++)
                glp_set_row_bnds(lp, row_mt(b, j, t, p), GLP_UP, 0, j->pc[p].a);
        }
    }
    /* y(q, a, t), in requests: taken in by block t's flows at rate y / T_t, and from the
     * arrivals of q in block a (one demand row per (q, a)). */
    int y0 = j->nb * j->nbc, drow = 0;
    /* The lowest attainment (EP_BOUND_OBJ_MIN): maximize z, the last column, with
     * sum_{y of s} y / requests_s - z >= 0 for every service with requests. */
    if (b->opts->bound_objective == EP_BOUND_OBJ_MIN && !j->no_dem_rows) {
        int z = glp_add_cols(lp, 1), ns = b->sc->nservices;
        glp_set_col_bnds(lp, z, GLP_LO, 0, 0);
        glp_set_obj_coef(lp, z, 1.0);
        j->min_rows = glp_add_rows(lp, ns);
        for (int s = 0; s < ns; s++) {
            glp_set_row_bnds(lp, j->min_rows + s, b->total[s] > 0 ? GLP_LO : GLP_FR, 0, 0);
            if (b->total[s] > 0 && (rc = put(&m, j->min_rows + s, z, -1.0)))
                goto fail;
        }
    }
    /* Requests of s carried into block t all finish within H_s of its start: at most
     * cmax_s x min(H_s, T_t) of them (one row per service and block, made when needed). */
    int ns = b->sc->nservices;
    if (!j->no_dem_rows)
        carry_row = calloc((size_t)ns * j->nb + 1, sizeof *carry_row);
    if (!j->no_dem_rows && !carry_row) {
        rc = EP_ENOMEM;
        goto fail;
    }
    for (int i = 0; i < j->ny; i++) {
        int q = j->y_q[i], a = j->y_a[i], t = j->y_t[i];
        double d = j->dq[a * b->npairs + q];
        if (carry_row && t > a) {
            int sv = b->pair_s[q], *cr = &carry_row[sv * j->nb + t];
            if (!*cr) {
                double h = horizon_s(b, sv);
                *cr = glp_add_rows(lp, 1);
                glp_set_row_bnds(lp, *cr, GLP_UP, 0, j->cmax[sv] * (h < j->T[t] ? h : j->T[t]));
            }
            if ((rc = put(&m, *cr, y0 + i + 1, 1.0)))
                goto fail;
        }
        if (!j->no_dem_rows && (i == 0 || j->y_q[i - 1] != q || j->y_a[i - 1] != a)) {
            drow = glp_add_rows(lp, 1);
            glp_set_row_bnds(lp, drow, GLP_UP, 0, d);
        }
        glp_set_col_bnds(lp, y0 + i + 1, GLP_DB, 0, d);
        if (!j->min_rows)
            glp_set_obj_coef(lp, y0 + i + 1, objective_coef(b, b->pair_s[q]));
        int s = b->pair_s[q];
        if ((j->min_rows && (rc = put(&m, j->min_rows + s, y0 + i + 1, 1.0 / b->total[s]))) ||
            (!j->no_dem_rows && (rc = put(&m, drow, y0 + i + 1, 1.0))) ||
            (rc = put(&m, row_in(b, j, t, q), y0 + i + 1, j->T[t] > 0 ? -1.0 / j->T[t] : 0)))
            goto fail;
    }
    if (!j->no_dem_rows && j->m == 1 && (rc = burst_rows(b, j, lp, &m)))
        goto fail;
    glp_load_matrix(lp, m.n, m.ia, m.ja, m.ar);
    glp_scale_prob(lp, GLP_SF_AUTO);
    glp_std_basis(lp);
fail:
    free(carry_row);
    free(m.ia);
    free(m.ja);
    free(m.ar);
    return rc;
}

/* glp_simplex from the LP's basis, once more from the standard basis when that one is bad
 * or singular; the time goes to b->solve_s and the LP to b->lps. */
static int
simplex(bnd *b, glp_prob *lp, const glp_smcp *parm)
{
    double t0 = now_s();
    int rc = glp_simplex(lp, parm);
    if (rc == GLP_EBADB || rc == GLP_ESING || rc == GLP_ECOND) {
        glp_std_basis(lp);
        rc = glp_simplex(lp, parm);
    }
    b->solve_s += now_s() - t0;
    b->lps++;
    return rc;
}

/* A starting basis for the whole LP from each block solved alone (no carry-over), as one
 * small LP in rate form whose bounds change from block to block (warm-started from the
 * last block's basis): the blocks' bases side by side, every demand row basic, the other y
 * nonbasic at 0. A block's y(q) basic without a y(q, t, t) in the whole LP (no arrivals of
 * q in t) gives its place to the aux of q's intake row, the same unit column there. The
 * result is primal feasible (no request carried), so the simplex only adds carry-over. */
static int
block_bases(bnd *b, const jlp *j, glp_prob *whole)
{
    jlp one = *j; /* the same layout (borrowed: not freed here) */
    one.nb = one.na = one.m = 1;
    one.no_dem_rows = 1;
    one.min_rows = 0;
    one.ny = 0;
    one.y_q = one.y_a = one.y_t = NULL;
    one.T = malloc(sizeof *one.T);
    one.dq = malloc(((size_t)b->npairs + 1) * sizeof *one.dq);
    glp_prob *lp = glp_create_prob();
    int rc = !one.T || !one.dq ? EP_ENOMEM : 0;
    if (!rc) {
        one.T[0] = 1;
        for (int q = 0; q < b->npairs; q++)
            one.dq[q] = 1; /* every pair gets its y column; bounds set per block */
        rc = jlp_ys(b, &one);
    }
    if (!rc)
        rc = build_joint(b, &one, lp);
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    int yw = j->nb * j->nbc, i = 0; /* i: the whole LP's y, in (q, a, t) order */
    int *ytt = calloc((size_t)b->npairs * (size_t)j->na + 1, sizeof *ytt);
    if (!rc && !ytt)
        rc = EP_ENOMEM;
    for (; !rc && i < j->ny; i++)
        if (j->y_a[i] == j->y_t[i])
            ytt[j->y_a[i] * b->npairs + j->y_q[i]] = yw + i + 1;
    for (int t = 0; t < j->nb && !rc; t++) {
        for (int q = 0; q < b->npairs; q++) {
            double d = t < j->na && j->T[t] > 0 ? j->dq[t * b->npairs + q] / j->T[t] : 0;
            glp_set_col_bnds(lp, one.nbc + q + 1, d > 0 ? GLP_DB : GLP_FX, 0, d);
        }
        int e = simplex(b, lp, &parm);
        if (e != 0 || glp_get_status(lp) != GLP_OPT) {
            rc = EP_ERANGE; /* no warm start: the whole LP starts from scratch */
            break;
        }
        for (int r = 1; r <= j->nbr; r++)
            glp_set_row_stat(whole, t * j->nbr + r, glp_get_row_stat(lp, r));
        for (int c = 1; c <= j->nbc; c++)
            glp_set_col_stat(whole, t * j->nbc + c, glp_get_col_stat(lp, c));
        for (int q = 0; q < b->npairs; q++) {
            int st = glp_get_col_stat(lp, one.nbc + q + 1); /* BS, NL or NU: same bounds */
            int col = t < j->na ? ytt[t * b->npairs + q] : 0;
            if (col)
                glp_set_col_stat(whole, col, st);
            else if (st == GLP_BS)
                glp_set_row_stat(whole, row_in(b, j, t, q), GLP_BS);
        }
    }
    for (int k = 0; k < j->ny && !rc; k++)
        if (j->y_a[k] != j->y_t[k])
            glp_set_col_stat(whole, yw + k + 1, GLP_NL);
    for (int r = j->nb * j->nbr + 1; r <= glp_get_num_rows(whole) && !rc; r++)
        glp_set_row_stat(whole, r, GLP_BS); /* the demand rows (and the min rows) */
    for (int c = yw + j->ny + 1; c <= glp_get_num_cols(whole) && !rc; c++)
        glp_set_col_stat(whole, c, GLP_NL); /* z, the burst rows' v */
    for (int u = 0; u < j->nburst && !rc; u++) {
        glp_set_col_stat(whole, j->burst_y[u], GLP_BS); /* Y in place of its row's aux */
        glp_set_row_stat(whole, j->burst_e[u], GLP_NS);
    }
    free(ytt);
    glp_delete_prob(lp);
    free(one.T);
    free(one.dq);
    free(one.y_q);
    free(one.y_a);
    free(one.y_t);
    return rc;
}

/* Solves the LP; adds each y to b->served and T_t r_k / c_k to the busy time of each
 * device of k. */
static int
solve_all(bnd *b, ep_run_result *out)
{
    if (b->nc == 0)
        return 0; /* nothing can serve anything: the bound is 0 */
    jlp J, *j = &J;
    memset(j, 0, sizeof *j);
    glp_prob *lp = glp_create_prob();
    int rc = flows(b);
    if (!rc)
        rc = jlp_blocks(b, j);
    if (!rc)
        rc = jlp_layout(b, j);
    if (!rc)
        rc = jlp_ys(b, j);
    if (!rc)
        rc = build_joint(b, j, lp);
    if (rc) {
        rc = fail(b, rc, "out of memory", NULL);
        goto done;
    }
    if (j->ny == 0)
        goto done; /* no demand in the window */
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    int warm = block_bases(b, j, lp);
    if (warm == EP_ENOMEM) {
        rc = fail(b, warm, "out of memory", NULL);
        goto done;
    }
    if (warm)
        glp_std_basis(lp);
    rc = simplex(b, lp, &parm);
    if (rc != 0 || glp_get_status(lp) != GLP_OPT) {
        char what[96];
        snprintf(what, sizeof what, "%d blocks: glp_simplex returned %d, status %d", j->nb, rc,
                 glp_get_status(lp));
        rc = fail(b, EP_ERANGE, "LP not solved to optimality", what);
        goto done;
    }
    int y0 = j->nb * j->nbc;
    for (int i = 0; i < j->ny; i++) {
        double y = glp_get_col_prim(lp, y0 + i + 1);
        b->served[b->pair_s[j->y_q[i]]] += y < 0 ? 0 : y;
    }
    for (int t = 0; t < j->nb; t++)
        for (int k = 0; k < b->nc; k++) {
            cand *ck = &b->c[k];
            if (glp_get_col_prim(lp, col_x(j, t, k)) > TOL)
                ck->deployed = 1;
            double r = glp_get_col_prim(lp, col_r(b, j, t, k));
            for (int i = 0; i < ck->spec.ndev && r > 0; i++)
                out->device_busy_s[ck->spec.devs[i]] += j->W[t] * r / ck->cap_per_s;
        }
done:
    glp_delete_prob(lp);
    jlp_free(j);
    return rc;
}

static void
fill(const bnd *b, ep_run_result *out)
{
    const ep_scenario *sc = b->sc;
    double w = out->window_s > 0 ? out->window_s : 1, served = 0;
    for (int s = 0; s < sc->nservices; s++) {
        ep_run_service_stats *v = &out->svc[s];
        int64_t req = (int64_t)b->total[s];
        int64_t met = (int64_t)floor(b->served[s] + TOL);
        if (met > req)
            met = req;
        v->requests = req;
        v->completed = v->slo_met = met;
        v->rejected = req - met;
        v->goodput_per_s = b->served[s] / w;
        v->slo_attainment = req ? b->served[s] / (double)req : NAN;
        v->p50_latency_s = v->p90_latency_s = v->p99_latency_s = v->mean_latency_s = NAN;
        v->p50_ttft_s = v->p99_ttft_s = v->p50_tpot_s = v->p99_tpot_s = NAN;
        v->category = b->cat[s];
        out->requests += req;
        out->slo_met += met;
        served += b->served[s];
    }
    out->completed = out->slo_met;
    out->rejected = out->requests - out->slo_met;
    out->goodput_per_s = served / w;
    out->slo_attainment = out->requests ? served / (double)out->requests : NAN;
    out->p50_latency_s = out->p90_latency_s = out->p99_latency_s = out->mean_latency_s = NAN;
    out->placements = out->placement_rounds = b->lps;
    for (int k = 0; k < b->nc; k++)
        out->instances += b->c[k].deployed;
    out->place_time_s = b->solve_s;
    out->sim_time_s = out->window_s;
}

static void
bnd_free(bnd *b)
{
    free(b->demand);
    free(b->dem_in);
    free(b->sum_bytes);
    free(b->at_row);
    free(b->pair_s);
    free(b->pair_i);
    free(b->flow_pair);
    free(b->flow_n);
    free(b->total);
    free(b->unserv);
    ep_servable_free(b->feas);
    free(b->sum_in);
    free(b->sum_out);
    free(b->max_out);
    free(b->rows);
    free(b->arrivals);
    free(b->rate);
    free(b->mean_in);
    free(b->mean_out);
    free(b->cat);
    free(b->node_up);
    free(b->link_up);
    free(b->c);
    free(b->served);
    ep_burst_free(&b->burst);
    ep_burst_free(&b->lbins);
    free(b->lkey);
}

int
ep_bound_run(const ep_scenario *sc, const ep_run_opts *opts, ep_run_result *out, char *err,
             size_t errlen)
{
    double w0 = now_s();
    memset(out, 0, sizeof *out);
    bnd B, *b = &B;
    memset(b, 0, sizeof *b);
    b->sc = sc;
    b->opts = opts;
    b->err = err;
    b->errlen = errlen;
    int rc;
    if (!opts->traces) {
        rc = fail(b, EP_EINVAL, "no trace database", NULL);
        goto done;
    }
    if (sc->nservices > EP_RUN_MAX_SERVICES) {
        rc = fail(b, EP_EINVAL, "too many services for one run (max 64)", NULL);
        goto done;
    }
    snprintf(out->policy, sizeof out->policy, "%s", EP_BOUND_NAME);
    out->seed = opts->seed_set ? opts->seed : sc->run.seed;
    out->nservices = sc->nservices;
    out->ndevices = sc->ndevices;
    if ((rc = window(b)) != 0)
        goto done;
    out->window_s = ep_dur_to_s(b->hi - b->lo);
    size_t ns = (size_t)sc->nservices + 1;
    b->demand = calloc((size_t)b->np * ns, sizeof *b->demand);
    b->dem_in = calloc((size_t)b->np * ns * (size_t)(sc->nnodes + 1), sizeof *b->dem_in);
    b->sum_bytes = calloc(ns, sizeof *b->sum_bytes);
    b->total = calloc(ns, sizeof *b->total);
    b->unserv = calloc(ns, sizeof *b->unserv);
    b->sum_in = calloc(ns, sizeof *b->sum_in);
    b->sum_out = calloc(ns, sizeof *b->sum_out);
    b->max_out = calloc(ns, sizeof *b->max_out);
    b->rows = calloc(ns, sizeof *b->rows);
    b->arrivals = calloc(ns, sizeof *b->arrivals);
    b->rate = calloc(ns, sizeof *b->rate);
    b->mean_in = calloc(ns, sizeof *b->mean_in);
    b->mean_out = calloc(ns, sizeof *b->mean_out);
    b->cat = calloc(ns, sizeof *b->cat);
    b->served = calloc(ns, sizeof *b->served);
    b->node_up = calloc((size_t)sc->nnodes + 1, sizeof *b->node_up);
    b->link_up = calloc((size_t)sc->nlinks + 1, sizeof *b->link_up);
    out->device_busy_s = calloc((size_t)sc->ndevices + 1, sizeof *out->device_busy_s);
    if (!b->demand || !b->dem_in || !b->sum_bytes || !b->total || !b->unserv || !b->sum_in ||
        !b->sum_out || !b->max_out || !b->rows || !b->arrivals || !b->rate || !b->mean_in ||
        !b->mean_out || !b->cat || !b->served || !b->node_up || !b->link_up ||
        !out->device_busy_s) {
        rc = fail(b, EP_ENOMEM, "out of memory", NULL);
        goto done;
    }
    if ((rc = burst_bins(b)) != 0 || (rc = ep_servable_new(sc, &b->feas)) != 0) {
        rc = fail(b, rc, "out of memory", NULL);
        goto done;
    }
    /* Demand is compacted to the periods overlapping the window: np x nservices. */
    if ((rc = count_demand(b)) != 0)
        goto done;
    for (int s = 0; s < sc->nservices; s++) {
        out->svc[s].unservable = (int64_t)b->unserv[s];
        out->unservable += out->svc[s].unservable;
    }
    memcpy(out->unservable_why, b->why, sizeof b->why);
    if (opts->on_unservable)
        opts->on_unservable(opts->ctx, out);
    for (int i = 0; i < sc->nnodes; i++)
        b->node_up[i] = 1;
    for (int i = 0; i < sc->nlinks; i++)
        b->link_up[i] = 1;
    ep_view *v = &b->view;
    v->sc = sc;
    v->cat = b->cat;
    v->node_up = b->node_up;
    v->link_up = b->link_up;
    v->arrivals = b->arrivals;
    v->rate = b->rate;
    v->mean_input = b->mean_in;
    v->mean_output = b->mean_out;
    v->placement_period = sc->run.placement_period;
    v->sync_period = sc->run.sync_period;
    v->delay = ep_pol_star_delay;
    for (int s = 0; s < sc->nservices; s++)
        ep_category_default(v, s, &b->cat[s]);
    if ((rc = candidates(b)) != 0)
        goto done;
    int old_term = glp_term_out(GLP_OFF);
    rc = solve_all(b, out);
    glp_term_out(old_term);
    if (rc)
        goto done;
    fill(b, out);
done:
    bnd_free(b);
    if (rc) {
        free(out->device_busy_s);
        out->device_busy_s = NULL;
    }
    out->wall_s = now_s() - w0;
    return rc;
}
