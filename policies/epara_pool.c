/* epara's pooled plan: latency LLMs sharing TP groups, a plan started from such groups
 * and the prefill-queue estimate that weighs it against the greedy's. Policy
 * description: epara.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "epara_internal.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

/* --- pooled plan: latency LLMs sharing TP groups ------------------------------------------ */

/* The fluid greedy values an instance by the requests/s it serves, so it covers each latency
 * LLM service with the fewest, most nearly saturated instances: one TP group for a document
 * model, single GPUs for a small one. Under bursty arrivals and heavy-tailed prompts a
 * request's wait for prefill is what misses the TTFT, and it falls with the speed of the
 * queue it joins, not only with its load: two TP groups that each serve both services are one
 * queue twice as fast for either (statistical multiplexing, as AlpaServe places models).
 * The scheduler therefore builds a second plan that starts from such pooled groups and
 * keeps the one whose expected SLO-meeting requests (below) are higher. */

/* The slowdown level at which k instances busy at once on a device run. */
static int
busy_level(const ep_view *view, int k)
{
    return epr_level_of(k > 1 ? ep_cost_mt_slowdown(view->sc, k) : 1);
}

/* Whether s is a latency LLM with demand: what pooled groups serve. */
static int
poolable(const ep_view *view, int s, const double *demand)
{
    return view->sc->services[s].kind == EP_SVC_LLM && demand[s] > 0 &&
           view->cat[s].sensitivity != EP_SENS_FREQUENCY;
}

/* The representative of service a's pool (union-find over services, root[a] == a). */
static int
pool_root(int *root, int a)
{
    while (root[a] != a)
        a = root[a] = root[root[a]];
    return a;
}

/* Capacity cap of LLM candidate c at slowdown level `level`, or less when the LLM instances
 * sharing its devices (dm: the plan's, epr_dev_mem_add) leave it less KV: the host splits
 * what the weights of all instances on a device leave in equal shares among its LLM
 * instances, and a pooled instance under a steady load runs out of that share (preempting)
 * before it runs out of time. */
static double
kv_split_cap(const ep_view *view, const dev_mem *dm, const cand *c, int level, double cap)
{
    const ep_scenario *sc = view->sc;
    const ep_instance_spec *sp = &c->spec;
    double kv = INFINITY, per_tok = (double)sc->services[sp->service].kv_bytes_per_token / sp->ndev;
    int shared = 0;
    for (int j = 0; j < sp->ndev; j++) {
        const dev_mem *m = &dm[sp->devs[j]];
        shared |= m->nllm > 1;
        double share = (ep_pol_usable_mem(sc, sp->devs[j]) - m->wsum) / (m->nllm > 0 ? m->nllm : 1);
        double tok = share > 0 && per_tok > 0 ? share / per_tok : 0;
        if (tok < kv)
            kv = tok;
    }
    if (!shared || !(kv < INFINITY))
        return cap;
    int b = 0;
    double slow = epr_mt_levels[level < MT_LEVELS ? level : MT_LEVELS - 1];
    double at = ep_pol_capacity_at(view, sp, slow, (int64_t)kv, INFINITY, 1, &b, NULL);
    return at < cap ? at : cap;
}

/* Expected requests/s meeting the SLO of the latency LLM services under plan pl (the
 * others count their covered demand, as plan_cover does; -1: out of memory). Each instance
 * runs slowed by the instances sharing its devices, each busy for its share of its
 * service's forecast (mt_level). The services whose instances share a device, directly or
 * through another service, form one prefill queue: with P_s the prompts/s all of s's
 * instances prefill (mean prompt, slowed), its load is rho = sum lam_s / P_s and its wait an
 * M/G/1's with exponential prefills per service, P(W > t) = rho exp(-theta t), theta =
 * rho (1 - rho) / sum lam_s / P_s^2. A request of s sent to instance i (in proportion to
 * its slowed capacity) meets its TTFT when its prefill p_i (exponential) and its wait fit
 * in it. Rough, but it ranks a plan by what its queues' speed does to the tail, which the
 * fluid supply does not see. */
double
epr_plan_value(const epara_state *st, const ep_view *view, cands *cs, const plan *pl,
               const double *demand)
{
    const ep_scenario *sc = view->sc;
    int ns = sc->nservices, root[MAX_SVC], nch = 0;
    double cap[MAX_SVC] = {0}, lam[MAX_SVC] = {0}, full[MAX_SVC] = {0}, value = 0;
    double prate[MAX_SVC] = {0}; /* prompts/s its instances prefill, all busy */
    int *ch = malloc((size_t)(cs->n + 1) * sizeof *ch);
    int *dev_svc = malloc((size_t)(sc->ndevices + 1) * sizeof *dev_svc);
    double *icap = malloc((size_t)(cs->n + 1) * sizeof *icap);
    double *busy = malloc((size_t)(cs->n + 1) * sizeof *busy);
    double *pre = malloc((size_t)(cs->n + 1) * sizeof *pre);
    dev_mem *dm = calloc((size_t)sc->ndevices + 1, sizeof *dm); /* each device's KV split */
    if (!ch || !dev_svc || !icap || !busy || !pre || !dm) {
        value = -1;
        goto done;
    }
    for (int s = 0; s < ns; s++) {
        root[s] = s;
        lam[s] = st->forecast[s] > 0 ? st->forecast[s] : demand[s];
    }
    for (int k = 0; k < cs->n; k++)
        if (pl->chosen[k]) {
            ch[nch++] = k;
            full[cs->c[k].spec.service] += cs->c[k].full;
            epr_dev_mem_add(st, view, dm, &cs->c[k].spec, 0);
        }
    /* Each instance busy for its share of its service's forecast (split by capacity). */
    for (int i = 0; i < nch; i++) {
        const cand *c = &cs->c[ch[i]];
        int s = c->spec.service;
        busy[i] = full[s] > 0 ? epr_busy_share(view, c, lam[s] * c->full / full[s]) : 0;
    }
    for (int d = 0; d < sc->ndevices; d++)
        dev_svc[d] = -1;
    for (int i = 0; i < nch; i++) {
        int k = ch[i];
        cand *c = &cs->c[k];
        int s = c->spec.service, level = 0;
        if (!poolable(view, s, demand))
            continue;
        /* Slowed as the host slows it by the instances sharing its devices, each busy for
         * its share (mt_level; guests count, which plan slots do not hold). */
        for (int j = 0; j < c->spec.ndev; j++) {
            double u[MT_SLOTS];
            int m = 0, d = c->spec.devs[j];
            for (int o = 0; o < nch && m < MT_SLOTS; o++) {
                const ep_instance_spec *os = &cs->c[ch[o]].spec;
                for (int q = 0; q < os->ndev && o != i; q++)
                    if (os->devs[q] == d) {
                        u[m++] = busy[o];
                        break;
                    }
            }
            int l = epr_mt_level(view, u, m);
            if (l > level)
                level = l;
        }
        /* A group runs at the pace of its slowest device: instances on different devices of
         * it (replicas of a pool_split guest) slow it whenever any of them is busy. */
        if (c->spec.ndev > 1) {
            double idle = 1;
            for (int o = 0; o < nch; o++)
                if (o != i && ep_spec_shares_device(&cs->c[ch[o]].spec, &c->spec))
                    idle *= 1 - fmin(1, busy[o]);
            double any = 1 - idle;
            int l = epr_mt_level(view, &any, 1);
            if (l > level)
                level = l;
        }
        icap[k] = epr_cap_at_level(view, cs, c, level);
        if (st->p.pool_load)
            icap[k] = kv_split_cap(view, dm, c, level, icap[k]);
        cap[s] += icap[k];
        pre[k] = epr_long_prefill(view, c, ep_pol_mean_input(view, s)) / 1e9 *
                 epr_mt_levels[level < MT_LEVELS ? level : MT_LEVELS - 1];
        if (icap[k] > 0 && pre[k] > 0)
            prate[s] += 1 / pre[k];
        for (int j = 0; j < c->spec.ndev; j++) {
            int d = c->spec.devs[j], a, b;
            if (dev_svc[d] < 0) {
                dev_svc[d] = s;
                continue;
            }
            a = pool_root(root, s);
            b = pool_root(root, dev_svc[d]);
            root[a > b ? a : b] = a < b ? a : b;
        }
    }
    /* Per pool: its load and sum lam_s / P_s^2, whose ratio sets the M/G/1 wait. */
    double rho[MAX_SVC] = {0}, lm2[MAX_SVC] = {0};
    for (int s = 0; s < ns; s++) {
        root[s] = pool_root(root, s);
        if (!poolable(view, s, demand)) {
            value += sc->services[s].weight *
                     (pl->supply[s] < demand[s] ? pl->supply[s] : demand[s]);
            continue;
        }
        if (prate[s] > 0) {
            rho[root[s]] += lam[s] / prate[s];
            lm2[root[s]] += lam[s] / (prate[s] * prate[s]);
        }
    }
    double met[MAX_SVC] = {0};
    for (int i = 0; i < nch; i++) {
        int k = ch[i];
        const cand *c = &cs->c[k];
        int s = c->spec.service;
        if (!poolable(view, s, demand) || !(cap[s] > 0) || !(icap[k] > 0))
            continue;
        double r = rho[root[s]] < 0.999 ? rho[root[s]] : 0.999;
        double theta = lm2[root[s]] > 0 ? r * (1 - r) / lm2[root[s]] : INFINITY;
        double ttft = (double)sc->services[s].slo.ttft / 1e9;
        double p = pre[k];
        double slack = ttft > p ? ttft - p : 0;
        double ok = (p > 0 ? 1 - exp(-ttft / p) : 1) * (1 - r * exp(-theta * slack));
        met[s] += icap[k] / cap[s] * ok;
    }
    for (int s = 0; s < ns; s++)
        if (poolable(view, s, demand))
            value += sc->services[s].weight * (lam[s] < cap[s] ? lam[s] : cap[s]) * met[s];
done:
    free(ch);
    free(dev_svc);
    free(icap);
    free(busy);
    free(pre);
    free(dm);
    return value;
}

/* A TP device group and the latency LLM services it can host together. */
typedef struct pgroup {
    int k[MAX_SVC];                     /* the candidate of each member on the group's devices */
    int n;                              /* members */
    int split[MAX_SVC];                 /* member i joins as replicas sk[i] (pool_split) */
    int sk[MAX_SVC][EP_MAX_STAGE_DEVS]; /* on each device of the group */
    double full[MAX_SVC];               /* requests/s member i serves alone */
    double work; /* sum over members of lam_s / (their capacity there): lower = faster */
} pgroup;

/* The members of the TP group of candidate g: latency LLM services with demand that have a
 * TP candidate on the same devices, the most work first, as long as every LLM instance
 * there keeps the KV of two long prompts once the host splits what the weights leave (as
 * pool does). */
static void
pgroup_members(const epara_state *st, const ep_view *view, cands *cs, int g, const double *demand,
               int split_ok, pgroup *pg)
{
    const ep_scenario *sc = view->sc;
    const ep_instance_spec *gs = &cs->c[g].spec;
    int kk[MAX_SVC], n = 0;
    for (int k = 0; k < cs->n; k++) {
        const ep_instance_spec *sp = &cs->c[k].spec;
        if (sp->mode != EP_MODE_TP || sp->ndev != gs->ndev ||
            memcmp(sp->devs, gs->devs, (size_t)gs->ndev * sizeof *sp->devs) != 0 ||
            !poolable(view, sp->service, demand) || n >= MAX_SVC)
            continue;
        kk[n++] = k;
    }
    /* pool_split: which services serve more there as replicas on its devices (rsk, rfull),
     * found once. Those that serve more as TP come first (the host runs TP; the others join
     * as replicas), then the most work first (insertion sort of ord: a handful of services). */
    int rep[MAX_SVC], rsk[MAX_SVC][EP_MAX_STAGE_DEVS], ord[MAX_SVC];
    double rfull[MAX_SVC];
    for (int i = 0; i < n; i++) {
        ord[i] = i;
        rep[i] = split_ok && epr_split_guest(view, cs, cs->c[kk[i]].spec.service, gs, &cs->c[kk[i]],
                                             rsk[i], &rfull[i]);
    }
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            int x = ord[j - 1], y = ord[j];
            const cand *a = &cs->c[kk[x]], *b = &cs->c[kk[y]];
            double wa = st->forecast[a->spec.service] / a->full;
            double wb = st->forecast[b->spec.service] / b->full;
            if (rep[y] > rep[x] || (rep[y] == rep[x] && wb <= wa))
                break;
            ord[j - 1] = y;
            ord[j] = x;
        }
    pg->n = 0;
    pg->work = 0;
    double wsum = 0, need = 0;
    for (int i = 0; i < n; i++) {
        int o = ord[i];
        const cand *c = &cs->c[kk[o]];
        /* A guest one device holds may join as a replica on each device (pool_split). */
        int split = rep[o] && pg->n > 0;
        double full = split ? rfull[o] : c->full;
        const int *sk = rsk[o];
        const ep_instance_spec *ms = split ? &cs->c[sk[0]].spec : &c->spec;
        double w = (double)ep_cost_instance_mem(sc, c->spec.service, ms->ndev);
        double nd = epr_pool_need(st, view, ms);
        double nmax = nd > need ? nd : need;
        int ok = 1, level = busy_level(view, pg->n + 1);
        for (int j = 0; j < gs->ndev && ok; j++)
            ok = (ep_pol_usable_mem(sc, gs->devs[j]) - wsum - w) / (pg->n + 1) >= nmax;
        /* Every member still meets its SLO with all of them busy at once. */
        for (int j = 0; j < (split ? gs->ndev : 1) && ok; j++)
            ok = epr_cap_at_level(view, cs, &cs->c[split ? sk[j] : kk[o]], level) > 0;
        for (int m = 0; m < pg->n && ok; m++)
            for (int j = 0; j < (pg->split[m] ? gs->ndev : 1) && ok; j++)
                ok = epr_cap_at_level(view, cs, &cs->c[pg->split[m] ? pg->sk[m][j] : pg->k[m]],
                                      level) > 0;
        if (!ok)
            continue;
        wsum += w;
        need = nmax;
        pg->split[pg->n] = split;
        pg->full[pg->n] = full;
        if (split)
            memcpy(pg->sk[pg->n], sk, (size_t)gs->ndev * sizeof *sk);
        pg->k[pg->n++] = kk[o];
        pg->work += st->forecast[c->spec.service] / full;
    }
}

/* Plan pl (empty) starts from pooled TP groups of `width` devices: disjoint groups with two
 * or more members, the most members then the fastest first, until the pooled load of their services
 * falls to 1 / extra (the share of spare capacity the greedy hands out) or none is left; each
 * group's first member takes its devices (the host), the others join it as guests (memory
 * only, as pool places them) and every member's supply grows by its share of the group's
 * time (in proportion to its work). Then the greedy covers the rest. Returns the groups
 * placed (0: no pooled plan). With split (pool_split), the services whose replicas on the
 * group's devices serve more than their TP instance there come last (the host runs TP) and
 * join as a replica on each device. */
int
epr_pooled_tp(const ep_view *view, const cand *c, const double *demand, int width)
{
    return c->spec.mode == EP_MODE_TP && c->spec.ndev == width &&
           poolable(view, c->spec.service, demand);
}

int
epr_plan_pooled(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
                const double *demand, int width, int split)
{
    const ep_scenario *sc = view->sc;
    int n = 0, npool = 0, ntp = 0, nsplit = 0;
    for (int g = 0; g < cs->n; g++)
        ntp += epr_pooled_tp(view, &cs->c[g], demand, width);
    if (ntp == 0)
        return 0;
    pgroup *pg = malloc((size_t)ntp * sizeof *pg);
    if (!pg)
        return 0;
    for (int g = 0; g < cs->n; g++) {
        if (!epr_pooled_tp(view, &cs->c[g], demand, width))
            continue;
        pgroup_members(st, view, cs, g, demand, split, &pg[n]);
        if (pg[n].n < 2 || pg[n].k[0] != g)
            continue; /* one entry per device group: the one its first member names */
        n++;
    }
    double cap[MAX_SVC] = {0};
    for (;;) {
        double rho = 0;
        for (int s = 0; s < sc->nservices; s++)
            if (cap[s] > 0)
                rho += st->forecast[s] / cap[s];
        if (npool > 0 && rho <= 1 / st->p.extra)
            break;
        int best = -1;
        for (int i = 0; i < n; i++) {
            const ep_instance_spec *sp = &cs->c[pg[i].k[0]].spec;
            int open = pg[i].n > 0;
            for (int j = 0; j < sp->ndev && open; j++)
                open = pl->count[sp->devs[j]] == 0 && pl->freem[sp->devs[j]] > 0;
            if (open && (best < 0 || pg[i].n > pg[best].n ||
                         (pg[i].n == pg[best].n && pg[i].work < pg[best].work)))
                best = i;
        }
        if (best < 0)
            break;
        const pgroup *b = &pg[best];
        if (!(epr_take(st, view, cs, b->k[0], pl, 0) > 0)) {
            pg[best].n = 0; /* does not fit after all: never again */
            continue;
        }
        npool++;
        for (int i = 0; i < b->n; i++) {
            const cand *c = &cs->c[b->k[i]];
            int s = c->spec.service;
            double share = b->work > 0 ? st->forecast[s] / b->full[i] / b->work : 1.0 / b->n;
            pl->supply[s] += b->full[i] * share;
            cap[s] += b->full[i];
            if (i == 0)
                continue;
            nsplit += b->split[i];
            double w = (double)ep_cost_instance_mem(sc, s, b->split[i] ? 1 : c->spec.ndev);
            for (int j = 0; j < c->spec.ndev; j++) {
                double *fm = &pl->freem[c->spec.devs[j]];
                *fm = *fm > w ? *fm - w : 0;
                if (b->split[i])
                    pl->chosen[b->sk[i][j]] = 1;
            }
            if (!b->split[i])
                pl->chosen[b->k[i]] = 1;
        }
    }
    free(pg);
    if (split && nsplit == 0)
        return 0; /* the same plan as without split */
    if (npool > 0)
        epr_plan_cover(st, view, cs, pl, demand);
    return npool;
}
