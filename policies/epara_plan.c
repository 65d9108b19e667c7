/* epara's state-aware scheduler: one placement plan over the candidates (epara_cand.c),
 * costed under device memory, time and co-location: running instances kept, the greedy,
 * services left without an instance covered, long-prompt instances, idle devices filled,
 * pooling, contested devices priced. Policy description: epara.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "epara_internal.h"
#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

/* --- state-aware scheduler ---------------------------------------------------------------- */

/* The busy shares of the instances on device d (at most MT_SLOTS) into u; returns how many. */
static int
dev_busy(const plan *pl, int d, double *u)
{
    int m = pl->count[d] < MT_SLOTS ? pl->count[d] : MT_SLOTS;
    for (int i = 0; i < m; i++)
        u[i] = pl->slot[(size_t)d * MT_SLOTS + (size_t)i].busy;
    return m;
}

/* MT as the host runs it (mt_plan): candidate c, serving `serve` requests/s, joins
 * devices that hold others only where it meets its own SLO at the slowdown their busy time
 * causes it and every instance there tolerates the slowdown it adds to theirs; *level gets
 * c's own level. Returns the requests/s it then serves within its SLO (its full capacity
 * when alone), 0 when it does not fit. Without mt_plan, device-time shares only. */
static double
mt_room(const epara_state *st, const ep_view *v, cands *cs, cand *c, const plan *pl, double serve,
        int *level)
{
    *level = 0;
    int shared = 0;
    for (int j = 0; j < c->spec.ndev; j++)
        shared |= pl->count[c->spec.devs[j]] > 0;
    if (!shared)
        return c->full;
    if (!st->p.mt)
        return 0;
    if (!st->p.mt_plan)
        return c->full;
    double u[MT_SLOTS + 1];
    for (int j = 0; j < c->spec.ndev; j++) {
        int d = c->spec.devs[j], m = pl->count[d];
        if (m == 0)
            continue;
        if (m >= MT_SLOTS)
            return 0;
        dev_busy(pl, d, u);
        int l = epr_mt_level(v, u, m);
        if (l > *level)
            *level = l;
        /* The resident slowed most: the one whose own busy time counts least (dropped). */
        int least = 0;
        for (int i = 1; i < m; i++)
            if (u[i] < u[least])
                least = i;
        u[least] = epr_busy_share(v, c, serve);
        if (epr_mt_level(v, u, m) > pl->tol[d])
            return 0; /* too slow for an instance there */
    }
    return epr_cap_at_level(v, cs, c, *level);
}

/* The supply candidate c adds to the plan if memory, the devices' time left and MT allow
 * (0: it does not fit); *use gets the device time it takes (for `want` requests/s, or all
 * it has when want is 0 or more than it serves), *level its slowdown level. */
static double
fit(const epara_state *st, const ep_view *v, cands *cs, cand *c, const plan *pl, double want,
    double *use, int *level)
{
    double b = 1.0;
    for (int j = 0; j < c->spec.ndev; j++) {
        int d = c->spec.devs[j];
        if (pl->freem[d] < c->mem)
            return 0;
        if (pl->budget[d] < b)
            b = pl->budget[d];
    }
    if (b < 0.05)
        return 0;
    double supply = c->cap * b;
    double lim = mt_room(st, v, cs, c, pl, want > 0 && want < supply ? want : supply, level);
    if (!(lim > 0))
        return 0;
    if (supply > lim)
        supply = lim;
    *use = want > 0 && want < supply ? want / c->cap : b;
    return supply;
}

/* Puts candidate c (index i) into the plan: its memory and device time taken, and with
 * mt_plan its busy time added and its devices' tolerance lowered to the highest slowdown
 * level (its own or more) at which it still serves `serve` requests/s within its SLO. */
static void
occupy(const epara_state *st, const ep_view *v, cands *cs, int i, plan *pl, double use,
       double serve, double gave, int level)
{
    cand *c = &cs->c[i];
    int tol = MT_LEVELS - 1;
    double u = 0;
    if (st->p.mt_plan && st->p.mt) {
        for (tol = level; tol + 1 < MT_LEVELS && epr_cap_at_level(v, cs, c, tol + 1) >= serve;)
            tol++;
        u = epr_busy_share(v, c, serve);
    }
    for (int j = 0; j < c->spec.ndev; j++) {
        int d = c->spec.devs[j];
        pl->freem[d] = pl->freem[d] > c->mem ? pl->freem[d] - c->mem : 0;
        pl->budget[d] -= use;
        if (pl->count[d] < MT_SLOTS)
            pl->slot[(size_t)d * MT_SLOTS + (size_t)pl->count[d]] =
                    (mt_slot){.busy = u, .serve = serve, .gave = gave, .who = i, .lvl = level};
        pl->count[d]++;
        if (tol < pl->tol[d])
            pl->tol[d] = tol;
    }
    pl->chosen[i] = 1;
}

/* Takes candidate i if it fits (fit); returns the supply it adds (0 when it does not fit).
 * An instance on a device already serving others gets only the device time left (MT);
 * without MT a device holds one instance. */
double
epr_take(const epara_state *st, const ep_view *v, cands *cs, int i, plan *pl, double want)
{
    double use = 0;
    int level = 0;
    double supply = fit(st, v, cs, &cs->c[i], pl, want, &use, &level);
    if (supply > 0)
        occupy(st, v, cs, i, pl, use, want > 0 && want < supply ? want : supply, supply, level);
    return supply;
}

/* Value of taking candidate c for a service that still wants `want` requests/s: its
 * weighted gain per unit of the memory it occupies (fractions of its devices). */
static double
cand_score(const epara_state *st, const ep_view *view, const cand *c, double want,
           const double *demand)
{
    const ep_scenario *sc = view->sc;
    int s = c->spec.service;
    double serve = c->cap < want ? c->cap : want;
    double gain = sc->services[s].weight * serve;
    if (st->p.per_service && demand[s] > 0)
        gain /= demand[s]; /* the share of the service's demand it covers */
    /* What it occupies on each device: the larger of its share of the memory and of the
     * device's time (serving `serve` requests/s of the `full` it sustains alone). */
    double timefrac = c->full > 0 && st->p.score_time ? serve / c->full : 0, cost = 0;
    for (int j = 0; j < c->spec.ndev; j++) {
        int d = c->spec.devs[j];
        double memfrac = c->mem / ep_pol_usable_mem(sc, d);
        cost += (memfrac > timefrac ? memfrac : timefrac) * (st->price ? st->price[d] : 1);
    }
    return gain / (cost + 1e-9);
}

typedef struct keep {
    int inst, cand;
    double score;
} keep;

static int
keep_cmp(const void *a, const void *b)
{
    const keep *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->inst - y->inst; /* deterministic among equals */
}

/* Keeps running instances of services whose supply is below mult x demand, the most
 * valuable first (as the greedy would order them), so a cheap instance sharing a device
 * with an expensive one is not crowded out by the order instances happen to be listed. */
void
epr_keep_running(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
                 const double *demand, double mult)
{
    int *chosen = pl->chosen;
    double *supply = pl->supply;
    double horizon = (double)view->placement_period / 1e9;
    keep *ks = calloc((size_t)view->ninst + 1, sizeof *ks);
    if (!ks)
        return; /* nothing kept: the greedy still places what is needed */
    int nk = 0;
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *iv = &view->inst[i];
        if (!iv->active || !view->node_up[iv->node])
            continue;
        for (int k = 0; k < cs->n; k++) {
            if (chosen[k] || cs->c[k].tail_only ||
                !ep_spec_same_instance(&cs->c[k].spec, &iv->spec))
                continue;
            int s = iv->spec.service;
            ks[nk++] = (keep){i, k, cand_score(st, view, &cs->c[k], demand[s] * mult, demand)};
            break;
        }
    }
    qsort(ks, (size_t)nk, sizeof *ks, keep_cmp);
    for (int j = 0; j < nk; j++) {
        const ep_instance_view *iv = &view->inst[ks[j].inst];
        int s = iv->spec.service, k = ks[j].cand;
        if (chosen[k] || (supply[s] > 0 && supply[s] >= demand[s] * mult))
            continue;
        double add = epr_take(st, view, cs, k, pl, demand[s] * mult - supply[s]);
        if (add > 0) {
            double backlog = (double)iv->backlog / 1e9;
            double discount = horizon > 0 ? 1 - backlog / horizon : 1;
            supply[s] += add * (discount > 0.2 ? discount : 0.2);
        }
    }
    free(ks);
}

/* Adds the candidate with the largest weighted gain in min(mult x demand, supply) per unit
 * of memory it occupies (cost-benefit greedy for the knapsack constraints) until none
 * gains. */
void
epr_greedy(const epara_state *st, const ep_view *view, cands *cs, plan *pl, const double *demand,
           double mult)
{
    double *supply = pl->supply;
    for (;;) {
        int best = -1;
        double best_score = 0;
        for (int k = 0; k < cs->n; k++) {
            if (pl->chosen[k] || cs->c[k].tail_only)
                continue;
            cand *c = &cs->c[k];
            int s = c->spec.service;
            double want = demand[s] * mult - supply[s];
            if (want <= 0)
                continue;
            /* A device already partly planned offers only its remaining time (and, shared,
             * what the co-location slowdown leaves). */
            double use = 0;
            int level = 0;
            cand scaled = *c;
            scaled.cap = fit(st, view, cs, c, pl, want, &use, &level);
            if (!(scaled.cap > 0))
                continue;
            double score = cand_score(st, view, &scaled, want, demand);
            if (score > best_score) {
                best_score = score;
                best = k;
            }
        }
        if (best < 0)
            return;
        int s = cs->c[best].spec.service;
        supply[s] += epr_take(st, view, cs, best, pl, demand[s] * mult - supply[s]);
        pl->chosen[best] = 1;
    }
}

/* Whether an instance of spec sp is running (active) now. */
static int
is_running(const ep_view *view, const ep_instance_spec *sp)
{
    for (int i = 0; i < view->ninst; i++)
        if (view->inst[i].active && ep_spec_same_instance(&view->inst[i].spec, sp))
            return 1;
    return 0;
}

/* Prefill time of a long prompt of `len` tokens on candidate c, or infinity when its KV
 * cache cannot hold the prompt. */
double
epr_long_prefill(const ep_view *view, const cand *c, double len)
{
    if ((double)ep_pol_kv_capacity(view, &c->spec) < len)
        return INFINITY;
    return (double)ep_pol_llm_iteration(view, &c->spec, (int64_t)len, len * len, 0, 0);
}

/* Long prompts. The greedy values LLM instances at the mean prompt, so a latency-sensitive
 * LLM service may end up only on instances that prefill a long prompt (tail_factor times
 * the mean) past its TTFT: slow embedded boards, or single GPUs where a TP group would be
 * twice as fast. It then gets one instance from the memory and time left that prefills it
 * fastest (a running one first, if within the TTFT): the router sends it the prompts no
 * other instance meets the TTFT for (it picks the earliest estimate). It plans a tenth of
 * the service's demand there and adds nothing to its planned supply. */
typedef struct tail_try {
    int k;
    double t;
    int run;
} tail_try;

static int
tail_try_cmp(const void *a, const void *b)
{
    const tail_try *x = a, *y = b;
    if (x->run != y->run)
        return y->run - x->run;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->k - y->k;
}

void
epr_tail_replicas(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
                  const double *demand)
{
    const int *chosen = pl->chosen;
    const ep_scenario *sc = view->sc;
    tail_try *try = malloc((size_t)(cs->n + 1) * sizeof *try);
    if (!try)
        return; /* no tail replica this round */
    for (int s = 0; s < sc->nservices; s++) {
        if (sc->services[s].kind != EP_SVC_LLM || view->cat[s].sensitivity == EP_SENS_FREQUENCY ||
            !(demand[s] > 0))
            continue;
        double len = st->p.tail_factor * view->mean_input[s];
        double ttft = (double)sc->services[s].slo.ttft, have = INFINITY;
        int placed = 0;
        for (int k = 0; k < cs->n; k++) {
            if (cs->c[k].spec.service != s || !chosen[k])
                continue;
            placed = 1;
            double t = epr_long_prefill(view, &cs->c[k], len);
            if (t < have)
                have = t;
        }
        if (!placed || have <= ttft * st->p.tail_slack)
            continue; /* none placed (handled before), or one prefills long prompts already */
        /* The candidates that prefill it faster than what is placed, running ones within
         * the TTFT first, then the fastest (ties: candidate order): tried in that order until
         * one fits. */
        int n = 0;
        for (int k = 0; k < cs->n; k++) {
            if (chosen[k] || cs->c[k].spec.service != s)
                continue;
            double t = epr_long_prefill(view, &cs->c[k], len);
            if (t < have)
                try[n++] = (tail_try){k, t, t <= ttft && is_running(view, &cs->c[k].spec)};
        }
        qsort(try, (size_t)n, sizeof *try, tail_try_cmp);
        for (int i = 0; i < n; i++)
            if (epr_take(st, view, cs, try[i].k, pl, demand[s] * 0.1) > 0)
                break;
    }
    free(try);
}

/* The KV per device that an LLM instance of spec sp keeps room for when pooled: two long
 * prompts (tail_factor x the mean, plus the mean output). */
double
epr_pool_need(const epara_state *st, const ep_view *view, const ep_instance_spec *sp)
{
    int t = sp->service;
    return 2 * (st->p.tail_factor * ep_pol_mean_input(view, t) + ep_pol_mean_output(view, t)) *
           (double)view->sc->services[t].kv_bytes_per_token / sp->ndev;
}

/* The KV per device that an LLM instance of spec sp needs to carry lam requests/s within its
 * SLO, at least what epr_pool_need keeps: the batch that reaches that rate
 * (ep_pol_capacity_at's reach), each request holding its prompt and output. What a TP group
 * keeps for its own load before guests may split its memory: a group serving a steady chat
 * load holds tens of requests' KV, not two prompts'. */
static double
load_need(const epara_state *st, const ep_view *view, const ep_instance_spec *sp, double lam)
{
    int t = sp->service, b = 0, reach = 0;
    double need = epr_pool_need(st, view, sp);
    if (!(lam > 0))
        return need;
    ep_pol_capacity_at(view, sp, 1, -1, lam, 0, &b, &reach);
    double tok = reach * (ep_pol_mean_input(view, t) + ep_pol_mean_output(view, t));
    double mine = tok * (double)view->sc->services[t].kv_bytes_per_token / sp->ndev;
    return mine > need ? mine : need;
}

void
epr_dev_mem_add(const epara_state *st, const ep_view *view, dev_mem *dm, const ep_instance_spec *sp,
                double lam)
{
    int llm = view->sc->services[sp->service].kind == EP_SVC_LLM;
    double w = (double)ep_cost_instance_mem(view->sc, sp->service, sp->ndev);
    double need = llm ? load_need(st, view, sp, lam) : 0;
    double need2 = llm ? epr_pool_need(st, view, sp) : 0;
    for (int j = 0; j < sp->ndev; j++) {
        dev_mem *m = &dm[sp->devs[j]];
        m->wsum += w;
        m->nllm += llm;
        if (need > m->need)
            m->need = need;
        if (need2 > m->need2)
            m->need2 = need2;
    }
}

int
epr_split_guest(const ep_view *view, const cands *cs, int s, const ep_instance_spec *g,
                const cand *alt, int *out, double *full)
{
    *full = 0;
    if (view->cat[s].multi_device)
        return 0;
    for (int j = 0; j < g->ndev; j++) {
        out[j] = -1;
        for (int k = 0; k < cs->n && out[j] < 0; k++) {
            const ep_instance_spec *sp = &cs->c[k].spec;
            if (sp->service == s && sp->ndev == 1 && sp->mode == EP_MODE_SINGLE &&
                sp->devs[0] == g->devs[j])
                out[j] = k;
        }
        if (out[j] < 0)
            return 0;
        *full += cs->c[out[j]].full;
    }
    return *full > alt->full;
}

/* Pooling (MT for LLMs on a TP group): a TP group chosen for an LLM service that has other
 * instances too also hosts every other single-device latency LLM service with demand whose
 * weights fit beside it, as long as each LLM instance on its devices keeps the KV cache of
 * two long prompts (tail_factor x the mean) as the host splits the memory (what the weights
 * leave, in equal shares), and, unless the guest's service is short of its demand on its own
 * instances, the KV its share of its own demand needs (pool_load, load_need): a burst or a
 * long prompt of either service is then prefilled at the group's speed on every such group,
 * not only on its own (statistical multiplexing). A group that is its service's only
 * instance is left to it: guests there would take the time it has nowhere else to find.
 * With split_ok (the plan kept is pooled with replica guests, pool_split), a guest whose
 * replicas on the group's devices serve more than its TP instance there joins as those
 * replicas when none of them is chosen already; where they are (the pooled plan's guests),
 * its TP instance joins as well if the memory holds it: the router sends it the long
 * prompts it prefills sooner. Linear in the candidates (one pass per chosen group). */
void
epr_pool(const epara_state *st, const ep_view *view, cands *cs, int *chosen, const double *demand,
         int split_ok)
{
    const ep_scenario *sc = view->sc;
    int n0 = cs->n, per_svc[MAX_SVC] = {0};
    double full[MAX_SVC] = {0};
    dev_mem *dm = calloc((size_t)sc->ndevices + 1, sizeof *dm);
    if (!dm)
        return; /* no pooling: the placement stands as it is */
    for (int k = 0; k < n0; k++)
        if (chosen[k]) {
            per_svc[cs->c[k].spec.service]++;
            full[cs->c[k].spec.service] += cs->c[k].full;
        }
    /* Each chosen instance keeps the KV of its share of its service's demand (by capacity). */
    for (int k = 0; k < n0; k++)
        if (chosen[k]) {
            int s = cs->c[k].spec.service;
            double lam = full[s] > 0 && st->p.pool_load ? demand[s] * cs->c[k].full / full[s] : 0;
            epr_dev_mem_add(st, view, dm, &cs->c[k].spec, lam);
        }
    for (int g = 0; g < n0; g++) {
        const cand *grp = &cs->c[g];
        if (chosen[g] != 1 || grp->spec.ndev < 2 || grp->spec.mode != EP_MODE_TP ||
            sc->services[grp->spec.service].kind != EP_SVC_LLM || per_svc[grp->spec.service] < 2)
            continue;
        for (int k = 0; k < n0; k++) {
            const cand *c = &cs->c[k];
            int b = c->spec.service;
            if (chosen[k] || c->spec.ndev != grp->spec.ndev || c->spec.mode != EP_MODE_TP ||
                c->spec.devs[0] != grp->spec.devs[0] || sc->services[b].kind != EP_SVC_LLM ||
                !(demand[b] > 0) || view->cat[b].sensitivity == EP_SENS_FREQUENCY ||
                view->cat[b].multi_device)
                continue;
            int ok = 1, sk[EP_MAX_STAGE_DEVS];
            double sfull = 0;
            int split = split_ok && epr_split_guest(view, cs, b, &grp->spec, c, sk, &sfull);
            for (int j = 0; j < c->spec.ndev && split; j++)
                split = !chosen[sk[j]];
            const ep_instance_spec *gs = split ? &cs->c[sk[0]].spec : &c->spec;
            double w = (double)ep_cost_instance_mem(sc, b, gs->ndev);
            double need = epr_pool_need(st, view, gs);
            /* A service short of its demand on its own instances takes the group's memory
             * down to two long prompts' KV per member; one covered only down to what each
             * member's load needs. */
            int short_of = full[b] < demand[b];
            for (int j = 0; j < c->spec.ndev && ok; j++) {
                int d = c->spec.devs[j];
                const dev_mem *m = &dm[d];
                ok = d == grp->spec.devs[j];
                double share = (ep_pol_usable_mem(sc, d) - m->wsum - w) / (m->nllm + 1);
                ok = ok && share >= need && share >= (short_of ? m->need2 : m->need);
            }
            if (!ok)
                continue;
            per_svc[b]++;
            if (!split) {
                chosen[k] = 2; /* a guest: not a group others are pooled on */
                epr_dev_mem_add(st, view, dm, &c->spec, 0);
                continue;
            }
            for (int j = 0; j < c->spec.ndev; j++) {
                chosen[sk[j]] = 2;
                epr_dev_mem_add(st, view, dm, &cs->c[sk[j]].spec, 0);
            }
        }
    }
    for (int k = 0; k < n0; k++)
        if (chosen[k] == 2)
            chosen[k] = 1;
    free(dm);
}

/* Devices left idle once demand is covered get an instance too: supply is an estimate (a
 * burst, a long prompt or a stale view can need more), and an idle device serves nothing.
 * Each round, the service with the least supply per unit of demand that has a candidate
 * on idle devices only takes its best-scoring one there (its requests spill over to it
 * when the others fall behind). */
void
epr_fill_idle(const epara_state *st, const ep_view *view, cands *cs, plan *pl, const double *demand)
{
    const int *chosen = pl->chosen, *count = pl->count;
    const double *freem = pl->freem;
    double *supply = pl->supply;
    for (;;) {
        int best = -1;
        double best_ratio = INFINITY, best_score = 0;
        for (int k = 0; k < cs->n; k++) {
            const cand *c = &cs->c[k];
            int s = c->spec.service, idle = 1;
            if (chosen[k] || c->tail_only || !(demand[s] > 0))
                continue;
            for (int j = 0; j < c->spec.ndev && idle; j++)
                idle = count[c->spec.devs[j]] == 0 && freem[c->spec.devs[j]] >= c->mem;
            if (!idle)
                continue;
            double ratio = supply[s] / demand[s];
            double score = cand_score(st, view, c, demand[s], demand);
            if (ratio < best_ratio || (ratio == best_ratio && score > best_score)) {
                best_ratio = ratio;
                best_score = score;
                best = k;
            }
        }
        if (best < 0)
            return;
        double add = epr_take(st, view, cs, best, pl, 0);
        if (!(add > 0))
            return; /* cannot happen: it fits an idle device */
        supply[cs->c[best].spec.service] += add;
    }
}

/* Service s, with no instance, borrows from the KV reserves LLM instances planned (kv_reserve):
 * its best candidate (a running one first) whose devices keep, for every LLM instance on
 * them (itself included), the KV of two long prompts (what pooling keeps) once the host
 * splits the memory the weights leave. *dm: the chosen instances' weights and KV needs per
 * device, computed on first use. Returns 1 when it placed one. */
static int
borrow_kv(const epara_state *st, const ep_view *view, cands *cs, plan *pl, const double *demand,
          int s, dev_mem **dm)
{
    const ep_scenario *sc = view->sc;
    if (!*dm) {
        *dm = calloc((size_t)sc->ndevices + 1, sizeof **dm);
        if (!*dm)
            return 0; /* nothing borrowed this round */
        for (int k = 0; k < cs->n; k++)
            if (pl->chosen[k])
                epr_dev_mem_add(st, view, *dm, &cs->c[k].spec, 0);
    }
    int best = -1, best_run = 0, best_level = 0;
    double best_score = 0, best_cap = 0, best_b = 0;
    for (int k = 0; k < cs->n; k++) {
        cand *c = &cs->c[k];
        if (pl->chosen[k] || c->tail_only || c->spec.service != s)
            continue;
        int level = 0;
        /* Its weights (an LLM: and its own two long prompts, not its whole batch). */
        int llm = sc->services[s].kind == EP_SVC_LLM;
        double w = (double)ep_cost_instance_mem(sc, s, c->spec.ndev);
        double need = llm ? epr_pool_need(st, view, &c->spec) : 0, b = 1.0;
        int ok = 1;
        for (int j = 0; j < c->spec.ndev && ok; j++) {
            int d = c->spec.devs[j];
            const dev_mem *m = &(*dm)[d];
            double left = ep_pol_usable_mem(sc, d) - m->wsum - w;
            int nllm = m->nllm + llm;
            ok = left >= 0 && (nllm == 0 || left / nllm >= (need > m->need ? need : m->need));
            if (pl->budget[d] < b)
                b = pl->budget[d];
        }
        if (!ok || b < 0.05)
            continue;
        double lim = mt_room(st, view, cs, c, pl, c->cap * b, &level);
        if (!(lim > 0))
            continue;
        int run = is_running(view, &c->spec);
        cand scaled = *c;
        scaled.cap = c->cap * b < lim ? c->cap * b : lim;
        double score = cand_score(st, view, &scaled, demand[s] > 0 ? demand[s] : c->cap, demand);
        if (best < 0 || run > best_run || (run == best_run && score > best_score)) {
            best = k;
            best_run = run;
            best_score = score;
            best_cap = scaled.cap;
            best_b = b;
            best_level = level;
        }
    }
    if (best < 0)
        return 0;
    occupy(st, view, cs, best, pl, best_b, best_cap, best_cap, best_level);
    pl->supply[s] += best_cap;
    epr_dev_mem_add(st, view, *dm, &cs->c[best].spec, 0);
    return 1;
}

/* What candidate c, carrying `load` requests/s, costs the instances on its devices
 * (mt_plan): for each resident, what it was planned to serve beyond what it keeps, its
 * supply scaled by its capacity at the slowdown level it reaches with c beside it over its
 * capacity at the level it was planned at. Counted per instance, not against its service's total:
 * requests go to the instances near them, not to a fluid pool. lost[r] gets the requests/s service
 * r loses. Returns 0 when a device holds no room for another instance (MT_SLOTS). */
static int
residents_loss(const ep_view *v, cands *cs, const cand *c, const plan *pl, double load,
               double *lost)
{
    double busy[MT_SLOTS], u[MT_SLOTS];
    int seen[EP_MAX_STAGE_DEVS * MT_SLOTS], nseen = 0;
    double uc = epr_busy_share(v, c, load);
    for (int j = 0; j < c->spec.ndev; j++) {
        int d = c->spec.devs[j], m = pl->count[d];
        if (m >= MT_SLOTS)
            return 0;
        dev_busy(pl, d, busy);
        for (int i = 0; i < m; i++) {
            const mt_slot *sl = &pl->slot[(size_t)d * MT_SLOTS + (size_t)i];
            int dup = 0;
            for (int q = 0; q < nseen && !dup; q++)
                dup = seen[q] == sl->who;
            if (dup) /* a group across two of c's devices: counted once */
                continue;
            seen[nseen++] = sl->who;
            int n = 0;
            for (int q = 0; q < m; q++)
                if (q != i)
                    u[n++] = busy[q];
            u[n++] = uc;
            cand *r = &cs->c[sl->who];
            double was = epr_cap_at_level(v, cs, r, sl->lvl);
            double now = epr_cap_at_level(v, cs, r, epr_mt_level(v, u, n));
            double keeps = was > 0 ? sl->gave * now / was : 0;
            if (keeps < sl->serve)
                lost[r->spec.service] += sl->serve - keeps;
        }
    }
    return 1;
}

/* The last resort for service s, still without an instance once every other step of the
 * plan is done and none fits the slowdown the others tolerate (mt_plan): the candidate
 * whose requests/s within its SLO outweigh what the instances beside it then lose (each
 * service weighted; residents_loss), a service left without an instance losing every
 * request. Returns 1 when it placed one. */
int
epr_slow_to_cover(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
                  const double *demand, int s)
{
    const ep_scenario *sc = view->sc;
    if (!st->p.mt || !st->p.mt_plan)
        return 0;
    int best = -1, best_level = 0;
    double best_net = 0, best_serve = 0, best_load = 0, best_b = 0, best_lost[MAX_SVC];
    double u[MT_SLOTS];
    for (int k = 0; k < cs->n; k++) {
        cand *c = &cs->c[k];
        if (pl->chosen[k] || c->tail_only || c->spec.service != s)
            continue;
        double b = 1.0;
        int level = 0, ok = 1;
        for (int j = 0; j < c->spec.ndev && ok; j++) {
            int d = c->spec.devs[j], m = pl->count[d];
            ok = pl->freem[d] >= c->mem && m < MT_SLOTS;
            if (pl->budget[d] < b)
                b = pl->budget[d];
            if (ok && m > 0) {
                int l = epr_mt_level(view, u, dev_busy(pl, d, u));
                if (l > level)
                    level = l;
            }
        }
        if (!ok || b < 0.05)
            continue;
        /* It serves what its share of the device's time allows, but as the service's only
         * instance it gets all the demand: busy as long as that keeps it. Not where the
         * demand is more than it serves slowed: busy all the time, it would reject most of
         * what it gets and slow every resident by the full factor, more than their planned
         * busy shares tell. */
        double cap = epr_cap_at_level(view, cs, c, level);
        double want = demand[s] > 0 ? demand[s] : cap;
        double serve = fmin(cap * b, want), load = want;
        double lost[MAX_SVC] = {0};
        if (!(serve > 0) || want > cap || !residents_loss(view, cs, c, pl, load, lost))
            continue;
        double net = sc->services[s].weight * serve;
        for (int r = 0; r < sc->nservices; r++)
            net -= sc->services[r].weight * lost[r];
        if (net > best_net) {
            best = k;
            best_net = net;
            best_serve = serve;
            best_load = load;
            best_b = b;
            best_level = level;
            memcpy(best_lost, lost, sizeof lost);
        }
    }
    if (best < 0)
        return 0;
    occupy(st, view, cs, best, pl, best_b, best_load, best_serve, best_level);
    pl->supply[s] += best_serve;
    for (int r = 0; r < sc->nservices; r++)
        pl->supply[r] = fmax(pl->supply[r] - best_lost[r], 0);
    return 1;
}

/* A service with no instance at all gets one before spare capacity is handed out: the first
 * of its candidates that fits the memory and time left; else (kv_reserve) one that borrows
 * from the KV reserves LLM instances planned there (borrow_kv). Without it a service placed
 * last (an image generator beside chat models, or an LLM behind a cheaper service) loses
 * every request to the headroom others planned. */
static void
cover_unserved(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
               const double *demand)
{
    dev_mem *dm = NULL;
    for (int s = 0; s < view->sc->nservices; s++) {
        if (pl->supply[s] > 0)
            continue;
        int done = 0;
        for (int k = 0; k < cs->n && !done; k++) {
            if (pl->chosen[k] || cs->c[k].tail_only || cs->c[k].spec.service != s)
                continue;
            double add = epr_take(st, view, cs, k, pl, 0);
            if (add > 0) {
                pl->supply[s] += add;
                done = 1;
            }
        }
        if (!done && st->p.kv_reserve)
            borrow_kv(st, view, cs, pl, demand, s, &dm);
    }
    free(dm);
}

void
epr_plan_free(plan *pl)
{
    free(pl->chosen);
    free(pl->count);
    free(pl->tol);
    free(pl->freem);
    free(pl->budget);
    free(pl->slot);
    memset(pl, 0, sizeof *pl);
}

/* An empty plan over every device. A device on a node that is down, or cut off by its
 * uplink, takes no new instance: the scheduler's view says so (a crash or a link failure).
 * Running instances there are not kept either (keep_running). When the view has no node up
 * at all, it knows nothing (a testbed's controller that hears no state message takes every
 * node for silent): the placement then ignores it rather than retire everything. */
int
epr_plan_init(const epara_state *st, const ep_view *view, int ncand, plan *pl)
{
    const ep_scenario *sc = view->sc;
    memset(pl, 0, sizeof *pl);
    pl->chosen = calloc((size_t)ncand + 1, sizeof *pl->chosen);
    pl->count = calloc((size_t)sc->ndevices + 1, sizeof *pl->count);
    pl->tol = calloc((size_t)sc->ndevices + 1, sizeof *pl->tol);
    pl->freem = calloc((size_t)sc->ndevices + 1, sizeof *pl->freem);
    pl->budget = calloc((size_t)sc->ndevices + 1, sizeof *pl->budget);
    pl->slot = calloc((size_t)(sc->ndevices + 1) * MT_SLOTS, sizeof *pl->slot);
    if (!pl->chosen || !pl->count || !pl->tol || !pl->freem || !pl->budget || !pl->slot) {
        epr_plan_free(pl);
        return EP_ENOMEM;
    }
    int any_up = 0;
    for (int n = 0; n < sc->nnodes && !any_up; n++)
        any_up = !view->node_up || view->node_up[n];
    for (int d = 0; d < sc->ndevices; d++) {
        const ep_node *nd = &sc->nodes[sc->devices[d].node];
        int node = sc->devices[d].node;
        int usable = !any_up || ((!view->node_up || view->node_up[node]) &&
                                 (!view->link_up || view->link_up[nd->link]));
        pl->freem[d] = usable ? ep_pol_usable_mem(sc, d) : 0;
        pl->budget[d] = usable ? (st->p.mt ? st->p.budget : 1.0) : 0;
        pl->tol[d] = MT_LEVELS - 1;
    }
    return 0;
}

/* The first round of a plan: running instances that are still useful are kept first
 * (hysteresis: a move costs a model load), their supply discounted by the backlog they
 * carry (state-aware), then the greedy adds instances until the forecast demand (x
 * headroom) of every service is covered, then a service with no instance gets one. Returns
 * the weighted demand covered, sum_s w_s min(demand_s, supply_s). */
double
epr_plan_cover(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
               const double *demand)
{
    if (st->p.hysteresis && st->placed_once)
        epr_keep_running(st, view, cs, pl, demand, 1.0);
    epr_greedy(st, view, cs, pl, demand, 1.0);
    cover_unserved(st, view, cs, pl, demand);
    double covered = 0;
    for (int s = 0; s < view->sc->nservices; s++)
        covered += view->sc->services[s].weight *
                   (pl->supply[s] < demand[s] ? pl->supply[s] : demand[s]);
    return covered;
}

/* Devices contested by a service short of its demand: those where one of its candidates
 * did not fit the memory or time the plan left (all = 0), or every device of its
 * candidates once one did not fit (all = 1: also those it holds, so that others move off
 * them). They get price 1 + contest (the others 1); returns how many. The greedy values a
 * share of a device at its price, so a service that runs almost as well elsewhere (frames
 * on embedded boards) leaves such devices to one that has nowhere else to go (an image
 * generator only a large GPU serves in time), which a greedy by gain per share alone
 * never does. */
int
epr_contested(const epara_state *st, const ep_view *view, cands *cs, const plan *pl,
              const double *demand, int all, double *price)
{
    const ep_scenario *sc = view->sc;
    int n = 0, blocked[MAX_SVC] = {0};
    for (int d = 0; d < sc->ndevices; d++)
        price[d] = 1;
    for (int k = 0; k < cs->n; k++) {
        cand *c = &cs->c[k];
        int s = c->spec.service;
        if (pl->chosen[k] || c->tail_only || !(pl->supply[s] < 0.99 * demand[s]))
            continue;
        int level = 0;
        int shares = mt_room(st, view, cs, c, pl, c->cap, &level) > 0;
        for (int j = 0; j < c->spec.ndev; j++) {
            int d = c->spec.devs[j];
            if (shares && pl->freem[d] >= c->mem && pl->budget[d] >= 0.05)
                continue;
            blocked[s] = 1;
            if (!all && price[d] == 1) {
                price[d] = 1 + st->p.contest;
                n++;
            }
        }
    }
    for (int k = 0; k < cs->n && all; k++) {
        const cand *c = &cs->c[k];
        if (c->tail_only || !blocked[c->spec.service])
            continue;
        for (int j = 0; j < c->spec.ndev; j++)
            if (price[c->spec.devs[j]] == 1) {
                price[c->spec.devs[j]] = 1 + st->p.contest;
                n++;
            }
    }
    return n;
}
