/* adainf's per-server plan: SLO capacities at a co-location level and KV share, phase A
 * (memory with each LLM's KV reservation, device time split by SLO need), phase B (re-rating
 * at the expected co-location), the subset search and batch sizes. Invariant: a server plans
 * only its own devices, for its own area's demand. Policy description: adainf.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adainf_internal.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

#define MAX_CAND 31 /* candidates per node (bits of a subset mask) */

/* --- sizes and capacities -------------------------------------------------------------- */

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
    if (i < ADA_KSTEPS) {
        size_t ix = slot_of(st, v, node, c, sp) * ADA_KSTEPS + (size_t)i;
        if (st->capc[ix] < 0)
            st->capc[ix] = ep_pol_capacity_at(v, sp, f, -1, 0, 1, &st->capb[ix], NULL);
        double in = 0, out = 0;
        if (ada_is_llm(v->sc, sp->service))
            ada_llm_sizes(v, sp->service, &in, &out);
        if (kv < 0 || !ada_is_llm(v->sc, sp->service) ||
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
    if (!ada_is_llm(v->sc, sp->service)) {
        t = (double)ep_pol_dnn_batch(v, sp, 1, NULL) / 1e9;
    } else {
        double in, out;
        ada_llm_sizes(v, sp->service, &in, &out);
        t = ((double)ep_pol_llm_iteration(v, sp, (int64_t)in, in * in, 0, 0) +
             out * (double)ep_pol_llm_iteration(v, sp, 0, 0, 1, (int64_t)(in + out / 2))) /
            1e9;
    }
    *slot = t;
    return t;
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
    int llm = ada_is_llm(sc, sp->service);
    double mem = (double)ep_cost_instance_mem(sc, sp->service, sp->ndev), resv = 0;
    if (llm) {
        int b, reach;
        double in, out;
        ada_llm_sizes(v, sp->service, &in, &out);
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
    int llm = ada_is_llm(sc, svc);
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
    const ada_cand *cd = &st->cands[c];
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
    const ada_cand *cd = &st->cands[c];
    double mem = (double)ep_cost_instance_mem(sc, cd->svc, 1);
    int llm = ada_is_llm(sc, cd->svc), best = -1, bwas = 0;
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

/* The KV tokens the host gives each instance of plan[0 .. n) on node (node/place.c: what the
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
            st->dv[plan[i].devs[q] - nd->dev0].nl += ada_is_llm(sc, plan[i].service);
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
        double x = st->sl[i].x, u = ada_is_llm(sc, sp->service) ? 1 - exp(-x * lt) : x * lt;
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
        const ada_pslot *q = &st->sl[i];
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
        if (!ada_is_llm(sc, sp->service)) {
            ep_pol_capacity_at(v, sp, ep_cost_mt_slowdown(sc, k), -1, 0, 1, &b, NULL);
            if (b < 1)
                b = 1;
            sp->max_batch = old && old->max_batch <= b ? old->max_batch : b;
            continue;
        }
        double in, out;
        ada_llm_sizes(v, sp->service, &in, &out);
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
        ada_cand cd = {s, st->ns[ix].pdem > ADA_MIN_RATE ? st->ns[ix].pdem : ADA_MIN_RATE,
                       sc->services[s].weight > 0 ? sc->services[s].weight : 1, st->ns[ix].multi};
        int at = nc;
        while (at > 0) {
            const ada_cand *o = &st->cands[at - 1];
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
    for (size_t q = 0; q < (size_t)nc * (size_t)st->nslot * ADA_KSTEPS; q++)
        st->capc[q] = -1;
    for (size_t q = 0; q < (size_t)nc * (size_t)st->nslot; q++)
        st->lone[q] = -1;
    return nc;
}

/* Plans node; the chosen instances end in st->best[0 .. return). */
int
ada_plan_node(ada_state *st, const ep_view *v, int node)
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
