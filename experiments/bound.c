/* The fluid upper bound (epara/experiments/bound.h, docs/decisions/0002-bound.md): demand per
 * placement period counted from the traces exactly as the simulator replays them, candidate
 * instances with their SLO-bounded capacities, and one GLPK linear program per period. The LP is in
 * rate form (requests per second), so its matrix is the same in every period: it is built
 * once, and each period only changes the demand bounds and re-solves from the last basis. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <glpk.h>

#include "epara/experiments/bound.h"
#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"
#include "epara/node/arrivals.h"

#define MAX_PERIODS 1000000
#define TOL         1e-6
#define MT_MAX      64 /* most co-located instances considered per device */

typedef struct cand {
    ep_instance_spec spec;
    double cap_per_s; /* c_k */
    double mem_bytes; /* per device of the instance */
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

/* Seconds of period i (0-based from p_first) inside the window. */
static double
period_s(const bnd *b, int64_t i)
{
    if (b->sc->run.placement_period <= 0)
        return ep_dur_to_s(b->hi - b->lo);
    ep_time a = (b->p_first + i) * b->period, z = a + b->period;
    if (a < b->lo)
        a = b->lo;
    if (z > b->hi)
        z = b->hi;
    return z > a ? ep_dur_to_s(z - a) : 0;
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

/* Adds candidate (svc, mode, devs) when it fits and its capacity is positive; *added tells
 * whether it did. */
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
    if (b->nc == b->capc) {
        int nc = b->capc ? b->capc * 2 : 64;
        cand *c = realloc(b->c, (size_t)nc * sizeof *c);
        if (!c)
            return EP_ENOMEM;
        b->c = c;
        b->capc = nc;
    }
    cand *k = &b->c[b->nc++];
    k->spec = sp;
    k->cap_per_s = cap;
    k->mem_bytes = (double)ep_cost_instance_mem(b->sc, svc, n);
    k->reps = MT_MAX;
    for (int i = 0; i < n; i++) {
        double r = floor(ep_pol_usable_mem(b->sc, devs[i]) / k->mem_bytes);
        if (r < k->reps)
            k->reps = r < 1 ? 1 : (int)r;
    }
    k->deployed = 0;
    *added = 1;
    return 0;
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

/* Column and row indexes (GLPK counts from 1). Rows of (service, entry node) follow these,
 * then the MT envelope rows of every device, added by build_lp. */
#define COL_X(k)    ((k) + 1)
#define COL_R(k)    (b->nc + (k) + 1)
#define COL_G(f)    (2 * b->nc + (f) + 1)
#define COL_RHO(q)  (2 * b->nc + b->nflows + (q) + 1)
#define ROW_CAP(k)  ((k) + 1)
#define ROW_IN(q)   (b->nc + (q) + 1)
#define ROW_MEM(d)  (b->nc + b->npairs + (d) + 1)
#define ROW_UP(l)   (b->nc + b->npairs + nd + (l) + 1)
#define ROW_DOWN(l) (b->nc + b->npairs + nd + sc->nlinks + (l) + 1)

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

/* Builds the LP in rate form (every quantity of the period divided by T_p, so the matrix
 * does not depend on the period): columns x_k (replicas deployed, time-averaged), r_k
 * (req/s served by k), rho_s (req/s of s served); solve_period sets rho's bounds. */
static int
build_lp(bnd *b, glp_prob **out)
{
    const ep_scenario *sc = b->sc;
    int ns = sc->nservices, nd = sc->ndevices, nc = b->nc, rc = 0;
    lp_build m = {NULL, NULL, NULL, 0, 0};
    piece *pc = malloc((MT_MAX + 2) * sizeof *pc);
    glp_prob *lp = glp_create_prob();
    if (!pc) {
        rc = EP_ENOMEM;
        goto fail;
    }
    glp_set_obj_dir(lp, GLP_MAX);
    int nl = sc->nlinks, nn = sc->nnodes;
    glp_add_cols(lp, 2 * nc + b->nflows + b->npairs);
    glp_add_rows(lp, nc + b->npairs + nd + 2 * nl);
    /* Rows of (service, entry node): what the candidates entering there serve equals what
     * flows to them from the ingress nodes. */
    int nat = 0;
    for (int j = 0; j < ns * nn; j++)
        nat += b->at_row[j] != 0;
    int at0 = nat ? glp_add_rows(lp, nat) : 0;
    for (int j = 0, r = at0; j < ns * nn; j++)
        if (b->at_row[j]) {
            b->at_row[j] = r;
            glp_set_row_bnds(lp, r++, GLP_FX, 0, 0);
        }
    for (int k = 0; k < nc; k++) {
        const cand *ck = &b->c[k];
        glp_set_col_bnds(lp, COL_X(k), GLP_DB, 0, ck->reps);
        glp_set_col_bnds(lp, COL_R(k), GLP_LO, 0, 0);
        glp_set_row_bnds(lp, ROW_CAP(k), GLP_UP, 0, 0);
        if ((rc = put(&m, ROW_CAP(k), COL_R(k), 1.0)) ||
            (rc = put(&m, ROW_CAP(k), COL_X(k), -ck->cap_per_s)) ||
            (rc = put(&m, b->at_row[ck->spec.service * nn + entry_node(b, ck)], COL_R(k), 1.0)))
            goto fail;
        for (int i = 0; i < ck->spec.ndev; i++) {
            int d = ck->spec.devs[i];
            if ((rc = put(&m, ROW_MEM(d), COL_X(k), ck->mem_bytes / ep_pol_usable_mem(sc, d))))
                goto fail;
        }
    }
    for (int q = 0; q < b->npairs; q++) {
        int s = b->pair_s[q];
        glp_set_col_bnds(lp, COL_RHO(q), GLP_FX, 0, 0);
        glp_set_obj_coef(lp, COL_RHO(q), sc->services[s].weight > 0 ? sc->services[s].weight : 1);
        glp_set_row_bnds(lp, ROW_IN(q), GLP_FX, 0, 0);
        if ((rc = put(&m, ROW_IN(q), COL_RHO(q), -1.0)))
            goto fail;
    }
    /* Flows: from ingress i to entry node n; one that changes nodes crosses i's link up and
     * n's link down (node_send), each carrying at most bandwidth x (1 - loss) bytes/s. */
    for (int f = 0; f < b->nflows; f++) {
        int q = b->flow_pair[f], s = b->pair_s[q], i = b->pair_i[q], n = b->flow_n[f];
        double bytes = b->rows[s] > 0 ? b->sum_bytes[s] / b->rows[s] : 0;
        glp_set_col_bnds(lp, COL_G(f), GLP_LO, 0, 0);
        if ((rc = put(&m, ROW_IN(q), COL_G(f), 1.0)) ||
            (rc = put(&m, b->at_row[s * nn + n], COL_G(f), -1.0)))
            goto fail;
        if (i == n || bytes <= 0)
            continue;
        if ((rc = put(&m, ROW_UP(sc->nodes[i].link), COL_G(f), bytes)) ||
            (rc = put(&m, ROW_DOWN(sc->nodes[n].link), COL_G(f), bytes)))
            goto fail;
    }
    for (int l = 0; l < nl; l++) {
        double bw = ep_pol_link_bw(&sc->links[l]);
        glp_set_row_bnds(lp, ROW_UP(l), bw > 0 ? GLP_UP : GLP_FR, 0, bw);
        glp_set_row_bnds(lp, ROW_DOWN(l), bw > 0 ? GLP_UP : GLP_FR, 0, bw);
    }
    for (int d = 0; d < nd; d++) {
        glp_set_row_bnds(lp, ROW_MEM(d), GLP_UP, 0, 1);
        /* The most instances d holds at once: copies of its smallest candidate. */
        double minm = 0;
        for (int k = 0; k < nc; k++)
            for (int i = 0; i < b->c[k].spec.ndev; i++)
                if (b->c[k].spec.devs[i] == d && (minm <= 0 || b->c[k].mem_bytes < minm))
                    minm = b->c[k].mem_bytes;
        if (minm <= 0)
            continue; /* no candidate uses d */
        double fitn = floor(ep_pol_usable_mem(sc, d) / minm);
        int jmax = fitn >= MT_MAX ? MT_MAX : fitn < 1 ? 1 : (int)fitn;
        int np = mt_pieces(sc, jmax, pc);
        int row0 = glp_add_rows(lp, np);
        for (int j = 0; j < np; j++) {
            glp_set_row_bnds(lp, row0 + j, GLP_UP, 0, pc[j].a);
            for (int k = 0; k < nc; k++)
                for (int i = 0; i < b->c[k].spec.ndev; i++) {
                    if (b->c[k].spec.devs[i] != d)
                        continue;
                    if ((rc = put(&m, row0 + j, COL_R(k), 1.0 / b->c[k].cap_per_s)) ||
                        (pc[j].b > 0 && (rc = put(&m, row0 + j, COL_X(k), -pc[j].b))))
                        goto fail;
                }
        }
    }
    glp_load_matrix(lp, m.n, m.ia, m.ja, m.ar);
    glp_scale_prob(lp, GLP_SF_AUTO);
    glp_std_basis(lp);
fail:
    free(m.ia);
    free(m.ja);
    free(m.ar);
    free(pc);
    if (rc) {
        glp_delete_prob(lp);
        return rc;
    }
    *out = lp;
    return 0;
}

/* Solves period i (T = its seconds in the window): rho_si <= d[p][s][i] / T. Adds
 * y_s = T sum_i rho_si to b->served and T r_k / c_k to the busy time of each device of k. */
static int
solve_period(bnd *b, glp_prob *lp, int64_t i, double *busy)
{
    const ep_scenario *sc = b->sc;
    int ns = sc->nservices;
    const double *dem = &b->demand[i * ns];
    double t = period_s(b, i), want = 0;
    for (int s = 0; s < ns; s++)
        want += dem[s];
    if (want <= 0 || t <= 0)
        return 0;
    const double *din = &b->dem_in[i * ns * sc->nnodes];
    for (int q = 0; q < b->npairs; q++) {
        double d = din[b->pair_s[q] * sc->nnodes + b->pair_i[q]];
        glp_set_col_bnds(lp, COL_RHO(q), d > 0 ? GLP_DB : GLP_FX, 0, d / t);
    }
    glp_smcp parm;
    glp_init_smcp(&parm);
    parm.msg_lev = GLP_MSG_OFF;
    double t0 = now_s();
    int rc = glp_simplex(lp, &parm); /* from the previous period's basis */
    if (rc == GLP_EBADB || rc == GLP_ESING || rc == GLP_ECOND) {
        glp_std_basis(lp);
        rc = glp_simplex(lp, &parm);
    }
    b->solve_s += now_s() - t0;
    b->lps++;
    if (rc != 0 || glp_get_status(lp) != GLP_OPT) {
        char what[96];
        snprintf(what, sizeof what, "period %lld: glp_simplex returned %d, status %d",
                 (long long)(b->p_first + i), rc, glp_get_status(lp));
        return fail(b, EP_ERANGE, "LP not solved to optimality", what);
    }
    for (int q = 0; q < b->npairs; q++) {
        double d = din[b->pair_s[q] * sc->nnodes + b->pair_i[q]];
        double y = glp_get_col_prim(lp, COL_RHO(q)) * t;
        b->served[b->pair_s[q]] += y < 0 ? 0 : y > d ? d : y;
    }
    for (int k = 0; k < b->nc; k++) {
        cand *ck = &b->c[k];
        if (glp_get_col_prim(lp, COL_X(k)) > TOL)
            ck->deployed = 1;
        double r = glp_get_col_prim(lp, COL_R(k));
        for (int j = 0; j < ck->spec.ndev && r > 0; j++)
            busy[ck->spec.devs[j]] += t * r / ck->cap_per_s;
    }
    return 0;
}

static int
solve_all(bnd *b, ep_run_result *out)
{
    if (b->nc == 0)
        return 0; /* nothing can serve anything: the bound is 0 */
    glp_prob *lp;
    int rc = flows(b);
    if (!rc)
        rc = build_lp(b, &lp);
    if (rc)
        return fail(b, rc, "out of memory", NULL);
    for (int64_t i = 0; i < b->np && !rc; i++)
        rc = solve_period(b, lp, i, out->device_busy_s);
    glp_delete_prob(lp);
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
        !b->sum_out || !b->rows || !b->arrivals || !b->rate || !b->mean_in || !b->mean_out ||
        !b->cat || !b->served || !b->node_up || !b->link_up || !out->device_busy_s) {
        rc = fail(b, EP_ENOMEM, "out of memory", NULL);
        goto done;
    }
    if ((rc = ep_servable_new(sc, &b->feas)) != 0) {
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
