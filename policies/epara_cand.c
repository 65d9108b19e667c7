/* epara's candidate instances: per category, the replicas, TP groups and PP chains the
 * scheduler chooses from, and their capacities within the SLO at each co-location
 * slowdown level (the MT model the plan prices co-location with). Policy description:
 * epara.c. */
#include <math.h>
#include <string.h>

#include "epara_internal.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

/* --- allocator: candidate instances per category -------------------------------------- */

/* The co-location slowdown levels (epara_internal.h). */
const double epr_mt_levels[] = {1, 1.05, 1.1, 1.2, 1.35, 1.5, 2, 2.5, 3, 4, 6, 8};
_Static_assert(sizeof epr_mt_levels / sizeof epr_mt_levels[0] == MT_LEVELS,
               "MT_LEVELS counts epr_mt_levels");

/* The capacity of candidate sp (ep_pol_capacity_at, lone for LLMs) slowed to
 * mt_levels[level] by co-located instances (level 0: alone), memoized where it does not
 * depend on which devices it is (SINGLE and TP; PP crosses links and is priced each
 * time). */
static double
cand_capacity(const ep_view *v, cands *cs, const ep_instance_spec *sp, int lone, int level,
              int *batch)
{
    const ep_scenario *sc = v->sc;
    int memo = sp->mode == EP_MODE_SINGLE || sp->mode == EP_MODE_TP;
    cap_memo key = {0};
    if (memo) {
        const ep_device *d = &sc->devices[sp->devs[0]];
        key = (cap_memo){sp->service,
                         (int)sp->mode,
                         sp->ndev,
                         d->spec,
                         sp->max_batch,
                         (int)sp->order,
                         level,
                         sp->mode == EP_MODE_TP ? sc->nodes[d->node].intra_bw_bytes_per_s : 0,
                         0,
                         0};
        for (int i = 0; i < cs->nmemo; i++) {
            const cap_memo *m = &cs->memo[i];
            if (m->service == key.service && m->mode == key.mode && m->ndev == key.ndev &&
                m->spec == key.spec && m->max_batch == key.max_batch && m->order == key.order &&
                m->level == key.level && m->intra_bw == key.intra_bw) {
                *batch = m->batch;
                return m->cap;
            }
        }
    }
    double cap = ep_pol_capacity_at(v, sp, epr_mt_levels[level], -1, INFINITY, lone, batch, NULL);
    if (memo && cs->nmemo < CAP_MEMO) {
        key.cap = cap;
        key.batch = *batch;
        cs->memo[cs->nmemo++] = key;
    }
    return cap;
}

static void
cand_add(const epara_state *st, const ep_view *v, cands *cs, const ep_instance_spec *sp)
{
    if (cs->n >= cs->cap)
        return;
    int batch = 0;
    /* An LLM whose mean prompt leaves no room for queueing within the TTFT still serves one
     * request at a time (lone): a wider group may then serve more. */
    int llm = v->sc->services[sp->service].kind == EP_SVC_LLM;
    double cap = cand_capacity(v, cs, sp, llm, 0, &batch);
    if (cap <= 0)
        return;
    cand *c = &cs->c[cs->n++];
    c->spec = *sp;
    c->cap = c->full = cap;
    c->mem = (double)ep_cost_instance_mem(v->sc, sp->service, sp->ndev);
    const ep_service *svc = &v->sc->services[sp->service];
    if (st->p.kv_reserve && svc->kind == EP_SVC_LLM && svc->kv_bytes_per_token > 0) {
        /* The KV cache of the batch its capacity counts on, per device: co-located
         * instances share what their weights leave, and an instance packed in with no
         * room for its cache could hold no request (or only short ones). */
        double in = v->mean_input[sp->service], out = v->mean_output[sp->service];
        c->mem += (double)batch * (in + out) * (double)svc->kv_bytes_per_token / sp->ndev;
    }
    c->tail_only = 0;
    c->havek = 0;
}

void
epr_candidates_for(const epara_state *st, const ep_view *v, int s, cands *cs)
{
    const ep_scenario *sc = v->sc;
    const ep_category *cat = &v->cat[s];
    ep_instance_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.service = s;
    int freq = cat->sensitivity == EP_SENS_FREQUENCY;
    sp.order = freq || !st->p.edf ? EP_QUEUE_FIFO : EP_QUEUE_EDF;
    /* Frequency tasks batch several frames (MF) unless switched off. */
    sp.max_batch = freq && !st->p.mf ? 1 : 0;
    int llm = sc->services[s].kind == EP_SVC_LLM;
    double single[MAX_DEV] = {0}; /* capacity as a replica, per device */
    /* Single devices: for a single-device service, and for an LLM one device holds (the
     * greedy weighs a TP group against as many replicas by what each serves within the
     * SLO: a wide group prefills long prompts faster, replicas serve more of short ones). */
    if (!cat->multi_device || (llm && st->p.parallel)) {
        sp.mode = EP_MODE_SINGLE;
        sp.ndev = 1;
        for (int d = 0; d < sc->ndevices; d++) {
            sp.devs[0] = d;
            int before = cs->n;
            cand_add(st, v, cs, &sp);
            if (d < MAX_DEV && cs->n > before)
                single[d] = cs->c[cs->n - 1].cap;
        }
    }
    if (!st->p.parallel || (!cat->multi_device && !llm))
        return;
    /* TP inside a node: every aligned group of k devices of one node that holds it, for
     * every width k from 2 to the node's devices that is a power of two (a TP degree divides
     * the model's attention heads: 2, 4, 8 in practice, as AlpaServe's groups), and for
     * frequency tasks every width (PP stages split layers, any count). */
    for (int n = 0; n < sc->nnodes; n++) {
        const ep_node *nd = &sc->nodes[n];
        for (int k = 2; k <= nd->ndev && k <= EP_MAX_STAGE_DEVS; k += freq ? 1 : k) {
            if ((double)ep_cost_instance_mem(sc, s, k) > ep_pol_usable_mem(sc, nd->dev0))
                continue;
            sp.mode = freq ? EP_MODE_PP : EP_MODE_TP;
            sp.ndev = k;
            for (int g = 0; g + k <= nd->ndev; g += k) {
                for (int j = 0; j < k; j++)
                    sp.devs[j] = nd->dev0 + g + j;
                int before = cs->n;
                cand_add(st, v, cs, &sp);
                if (cs->n == before)
                    continue;
                /* TP width against replica count: the group earns its devices only when it
                 * serves more within the SLO than they would as replicas. */
                double as_replicas = 0;
                for (int j = 0; j < k; j++)
                    as_replicas += sp.devs[j] < MAX_DEV ? single[sp.devs[j]] : 0;
                cs->c[cs->n - 1].tail_only = !cat->multi_device && as_replicas > 0 &&
                                             cs->c[cs->n - 1].cap <= st->p.tp_gain * as_replicas;
            }
        }
    }
    if (!cat->multi_device)
        return;
    /* PP over the fewest devices that hold it, next to the TP groups (when the nodes that
     * can hold a TP group are taken, a pipeline over boards still serves): every pair and triple of
     * devices; beyond three stages, chains of consecutive devices in device order (a node's
     * devices are adjacent there, so chains cross as few links as they can). */
    int first = cs->n;
    for (int k = 2; k <= EP_MAX_STAGE_DEVS && cs->n == first; k++) {
        double need = (double)ep_cost_instance_mem(sc, s, k);
        sp.mode = EP_MODE_PP;
        if (k > 3) {
            int chain[EP_MAX_STAGE_DEVS], len = 0;
            for (int d = 0; d < sc->ndevices; d++) {
                if (ep_pol_usable_mem(sc, d) < need)
                    continue;
                if (len == k) { /* slide the window by one device */
                    memmove(chain, chain + 1, (size_t)(k - 1) * sizeof *chain);
                    len--;
                }
                chain[len++] = d;
                if (len == k) {
                    sp.ndev = k;
                    memcpy(sp.devs, chain, (size_t)k * sizeof *chain);
                    cand_add(st, v, cs, &sp);
                }
            }
            continue;
        }
        for (int a = 0; a < sc->ndevices; a++) {
            if (ep_pol_usable_mem(sc, a) < need)
                continue;
            for (int b = a + 1; b < sc->ndevices; b++) {
                if (ep_pol_usable_mem(sc, b) < need)
                    continue;
                sp.ndev = 2;
                sp.devs[0] = a;
                sp.devs[1] = b;
                if (k == 2) {
                    cand_add(st, v, cs, &sp);
                    continue;
                }
                for (int c = b + 1; c < sc->ndevices; c++) {
                    if (ep_pol_usable_mem(sc, c) < need)
                        continue;
                    sp.ndev = 3;
                    sp.devs[2] = c;
                    cand_add(st, v, cs, &sp);
                }
            }
        }
    }
}

/* Candidate c's capacity slowed to mt_levels[level], computed once per round and level. */
double
epr_cap_at_level(const ep_view *v, cands *cs, cand *c, int level)
{
    if (level <= 0)
        return c->full;
    if (level >= MT_LEVELS)
        return 0;
    if (!(c->havek & (1u << level))) {
        int batch = 0, llm = v->sc->services[c->spec.service].kind == EP_SVC_LLM;
        c->capk[level - 1] = cand_capacity(v, cs, &c->spec, llm, level, &batch);
        c->havek |= 1u << level;
    }
    return c->capk[level - 1];
}

/* The share of time candidate c is busy serving `serve` requests/s alone: its device time
 * for a DNN; for an LLM at least the time some request of it is decoding (continuous
 * batching runs an iteration whenever one is in flight: a few requests a second of a
 * chatbot keep it busy all the time). */
double
epr_busy_share(const ep_view *v, const cand *c, double serve)
{
    double u = c->full > 0 ? serve / c->full : 1;
    int s = c->spec.service;
    if (v->sc->services[s].kind == EP_SVC_LLM) {
        double in = ep_pol_mean_input(v, s), out = ep_pol_mean_output(v, s);
        double step =
                (double)ep_pol_llm_iteration(v, &c->spec, 0, 0, 1, (int64_t)(in + out / 2)) / 1e9;
        if (serve * out * step > u)
            u = serve * out * step;
    }
    return u < 1 ? u : 1;
}

/* The lowest level of mt_levels that covers slowdown factor slow (MT_LEVELS: none). */
int
epr_level_of(double slow)
{
    int level = 0;
    while (level < MT_LEVELS && epr_mt_levels[level] * 1.02 < slow)
        level++;
    return level;
}

/* The slowdown level for one instance whose co-located instances are busy u[0..n-1] of
 * the time alone: the host slows k busy instances by ep_cost_mt_slowdown(k) (the
 * scenario's measured factors), and slowed work stays busy that much longer, so the
 * instances busy at once, k = 1 + sum min(1, u_j x slowdown(k)), are found by iterating
 * from k = 1 + sum u_j (the factors interpolated between whole k). */
int
epr_mt_level(const ep_view *v, const double *u, int n)
{
    if (n <= 0)
        return 0;
    double k = 1, slow = 1;
    for (int it = 0; it < 16; it++) {
        double next = 1;
        for (int j = 0; j < n; j++)
            next += fmin(1, u[j] * slow);
        int lo = (int)next;
        slow = ep_cost_mt_slowdown(v->sc, lo);
        if (next > lo)
            slow += (next - lo) * (ep_cost_mt_slowdown(v->sc, lo + 1) - slow);
        if (fabs(next - k) < 1e-3)
            break;
        k = next;
    }
    return epr_level_of(slow);
}
