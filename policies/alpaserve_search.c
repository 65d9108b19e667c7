/* alpaserve's placement (after AlpaServe's placement_policy/): memory planning, the
 * simulator-guided greedy on one device partition, the enumeration of partitions, and the
 * replan rule. Policy description: alpaserve.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alpaserve_internal.h"
#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

#define MAX_OPTS  8 /* partition options per device class */
#define MAX_CLASS 16

/* Services whose outcomes may change when svc gets a replica on g: those sharing a group,
 * transitively, with svc or with g's services. */
static uint64_t
component(const alpa_ctx *c, int svc, int g)
{
    uint64_t mask = (UINT64_C(1) << svc) | c->gm[g], prev;
    do {
        prev = mask;
        for (int h = 0; h < c->ng; h++)
            if (c->gm[h] & mask)
                mask |= c->gm[h];
    } while (mask != prev);
    return mask;
}

static void
add_rep(alpa_ctx *c, int svc, int g)
{
    c->gm[g] |= UINT64_C(1) << svc;
    c->rep[svc * c->ng + c->nrep[svc]++] = g;
    c->total++;
}

static void
drop_last_rep(alpa_ctx *c, int svc, int g)
{
    c->gm[g] &= ~(UINT64_C(1) << svc);
    c->nrep[svc]--;
    c->total--;
}

/* Candidates (svc, g) and (svc, h) are interchangeable: same kind of group, same services
 * on it, the same latencies for each of them. */
static int
equivalent(const alpa_ctx *c, int svc, int g, int h)
{
    const alpa_grp *a = &c->g[g], *b = &c->g[h];
    if (a->spec != b->spec || a->ndev != b->ndev || a->mode != b->mode || c->gm[g] != c->gm[h])
        return 0;
    uint64_t m = c->gm[g] | UINT64_C(1) << svc;
    for (int j = 0; j < c->ns; j++)
        if ((m >> j & 1) && alpa_par(c, j, g)->lat[0] != alpa_par(c, j, h)->lat[0])
            return 0;
    return 1;
}

static void
reset_partition(alpa_ctx *c)
{
    const ep_scenario *sc = c->sc;
    memset(c->gm, 0, (size_t)c->ng * sizeof *c->gm);
    memset(c->nrep, 0, sizeof c->nrep);
    memset(c->good, 0, sizeof c->good);
    memset(c->lsum, 0, sizeof c->lsum);
    c->total = 0;
    for (int d = 0; d < sc->ndevices; d++) {
        c->freem[d] = ep_pol_usable_mem(sc, d);
        c->nllm[d] = 0;
        c->kvmax[d] = 0;
    }
}

/* --- memory planning ----------------------------------------------------------------------- */

/* The rate the next replica of svc reserves for: an even share of the service's rate among
 * the replicas it has so far and that one. */
static double
share_of(const alpa_ctx *c, int svc)
{
    return c->rate[svc] / (c->nrep[svc] + 1);
}

/* Re-plans svc's candidates (the groups without it) for its next replica, after it got one:
 * an LLM's reservation shrinks with its share. Placed replicas keep theirs (it is what their
 * devices were charged), so no reservation is ever lowered below what was checked. */
static void
replan_next(alpa_ctx *c, int svc)
{
    if (c->sc->services[svc].kind != EP_SVC_LLM)
        return;
    for (int g = 0; g < c->ng; g++)
        if (!(c->gm[g] >> svc & 1))
            alpa_replica_params(c, svc, &c->g[g], share_of(c, svc), 0, &c->p[svc * c->ng + g]);
}

/* Whether a replica of svc fits on group g beside what its devices already hold, with the KV
 * cache every LLM replica reserves (alpa_par()->kv): the host splits what weights and reserves
 * leave on a device evenly among the LLM instances there (node/place.c, share_kv), so each
 * device must leave every LLM on it its per-device need, i.e. left >= n x the largest. */
static int
fits(const alpa_ctx *c, int svc, int g)
{
    const alpa_rparam *p = alpa_par(c, svc, g);
    int llm = c->sc->services[svc].kind == EP_SVC_LLM;
    for (int k = 0; k < c->g[g].ndev; k++) {
        int d = c->g[g].devs[k];
        double left = c->freem[d] - p->mem;
        double m = llm && p->kv > c->kvmax[d] ? p->kv : c->kvmax[d];
        if (left < 0 || left < (c->nllm[d] + llm) * m)
            return 0;
    }
    return 1;
}

static void
take(alpa_ctx *c, int svc, int g)
{
    const alpa_rparam *p = alpa_par(c, svc, g);
    int llm = c->sc->services[svc].kind == EP_SVC_LLM;
    for (int k = 0; k < c->g[g].ndev; k++) {
        int d = c->g[g].devs[k];
        c->freem[d] -= p->mem;
        c->nllm[d] += llm;
        if (llm && p->kv > c->kvmax[d])
            c->kvmax[d] = p->kv;
    }
}

/* Whether some group could take a replica of svc now: one that meets its SLO and fits. */
static int
placeable(const alpa_ctx *c, int svc)
{
    for (int g = 0; g < c->ng; g++)
        if (!(c->gm[g] >> svc & 1) && alpa_par(c, svc, g)->occ[0] > 0 && fits(c, svc, g))
            return 1;
    return 0;
}

/* The services of `want` that can all be given a replica at once from the current memory
 * state: each in turn, the most requested first (the score weighs services by their
 * requests), into the group that can serve it within its SLO and fits it most tightly.
 * Leaves the state as it was. */
static uint64_t
room_for(alpa_ctx *c, uint64_t want)
{
    int nd = c->sc->ndevices;
    memcpy(c->sv_freem, c->freem, (size_t)nd * sizeof *c->freem);
    memcpy(c->sv_kvmax, c->kvmax, (size_t)nd * sizeof *c->kvmax);
    memcpy(c->sv_nllm, c->nllm, (size_t)nd * sizeof *c->nllm);
    uint64_t left = want, got = 0;
    while (left) {
        int u = -1;
        for (int s = 0; s < c->ns; s++)
            if ((left >> s & 1) && (u < 0 || c->rate[s] > c->rate[u]))
                u = s;
        left &= ~(UINT64_C(1) << u);
        int best = -1;
        double tight = INFINITY;
        for (int g = 0; g < c->ng; g++) {
            if (alpa_par(c, u, g)->occ[0] <= 0 || !fits(c, u, g))
                continue;
            double after = c->freem[c->g[g].devs[0]] - alpa_par(c, u, g)->mem;
            if (after < tight) {
                tight = after;
                best = g;
            }
        }
        if (best >= 0) {
            take(c, u, best);
            got |= UINT64_C(1) << u;
        }
    }
    memcpy(c->freem, c->sv_freem, (size_t)nd * sizeof *c->freem);
    memcpy(c->kvmax, c->sv_kvmax, (size_t)nd * sizeof *c->kvmax);
    memcpy(c->nllm, c->sv_nllm, (size_t)nd * sizeof *c->nllm);
    return got;
}

/* Whether adding svc on g would take the room the services of `keep` (other than svc) need
 * to get a replica each. */
static int
crowds(alpa_ctx *c, int svc, int g, uint64_t keep)
{
    keep &= ~(UINT64_C(1) << svc);
    if (!keep)
        return 0;
    double freem[EP_MAX_STAGE_DEVS], kvmax[EP_MAX_STAGE_DEVS];
    int nllm[EP_MAX_STAGE_DEVS];
    for (int k = 0; k < c->g[g].ndev; k++) {
        int d = c->g[g].devs[k];
        freem[k] = c->freem[d];
        kvmax[k] = c->kvmax[d];
        nllm[k] = c->nllm[d];
    }
    take(c, svc, g);
    int bad = room_for(c, keep) != keep;
    for (int k = 0; k < c->g[g].ndev; k++) {
        int d = c->g[g].devs[k];
        c->freem[d] = freem[k];
        c->kvmax[d] = kvmax[k];
        c->nllm[d] = nllm[k];
    }
    return bad;
}

/* --- the greedy ---------------------------------------------------------------------------- */

/* The best next replica by simulated score: (service in svcs, group) pairs the group can
 * serve within the SLO and hold (fits()), that leave room for the services of `keep` (one
 * replica each), scoring above `floor`. Writes *bs = -1 when none does; else the pair, its
 * per-service outcomes and its score (the return value). seen: scratch of ng + 1 ints. */
static double
best_candidate(alpa_ctx *c, uint64_t svcs, uint64_t keep, double floor, int *seen, int *bs, int *bg,
               double *bgood, double *blsum)
{
    double best = floor;
    *bs = *bg = -1;
    for (int s = 0; s < c->ns; s++) {
        if (!(svcs >> s & 1))
            continue;
        int nseen = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (int g = 0; g < c->ng; g++) {
                if ((c->prefer[s * c->ng + g] != 0) != (pass == 0))
                    continue;
                if ((c->gm[g] >> s & 1) || alpa_par(c, s, g)->occ[0] <= 0 || !fits(c, s, g))
                    continue;
                int dup = 0;
                for (int i = 0; i < nseen && !dup; i++)
                    dup = equivalent(c, s, g, seen[i]);
                if (dup || crowds(c, s, g, keep))
                    continue;
                seen[nseen++] = g;
                uint64_t mask = component(c, s, g);
                double ngood[MAX_SVC], nlsum[MAX_SVC];
                memcpy(ngood, c->good, sizeof ngood);
                memcpy(nlsum, c->lsum, sizeof nlsum);
                add_rep(c, s, g);
                alpa_eval(c, mask, ngood, nlsum);
                double sc = alpa_score(c, ngood, nlsum, c->total);
                drop_last_rep(c, s, g);
                if (sc > best + 1e-12) {
                    best = sc;
                    *bs = s;
                    *bg = g;
                    memcpy(bgood, ngood, sizeof ngood);
                    memcpy(blsum, nlsum, sizeof nlsum);
                }
            }
        }
    }
    return best;
}

/* The simulation-guided greedy on the current partition (beam width 1): add the replica that
 * raises the score most while keeping room for the services still without a replica (as
 * many as fit together, the most requested first); when none raises it, give a service
 * without a replica its best group anyway (AlpaServe places every model); stop when neither
 * is possible. Returns the score; c->nplaced gets the services with a replica. */
static double
greedy(alpa_ctx *c)
{
    reset_partition(c);
    double cur = alpa_score(c, c->good, c->lsum, 0);
    int *seen = malloc(((size_t)c->ng + 1) * sizeof *seen);
    c->nplaced = 0;
    if (!seen)
        return -INFINITY;
    uint64_t all = c->ns == 64 ? ~UINT64_C(0) : (UINT64_C(1) << c->ns) - 1;
    for (;;) {
        uint64_t want = 0;
        for (int s = 0; s < c->ns; s++)
            if (c->nrep[s] == 0 && placeable(c, s))
                want |= UINT64_C(1) << s;
        uint64_t keep = room_for(c, want);
        double bgood[MAX_SVC], blsum[MAX_SVC];
        int bs, bg;
        double best = best_candidate(c, all, keep, cur, seen, &bs, &bg, bgood, blsum);
        if (bs < 0 && want)
            best = best_candidate(c, want, keep, -INFINITY, seen, &bs, &bg, bgood, blsum);
        if (bs < 0 && want) /* every one left would crowd out another: place one of them */
            best = best_candidate(c, want, 0, -INFINITY, seen, &bs, &bg, bgood, blsum);
        if (bs < 0)
            break;
        take(c, bs, bg);
        add_rep(c, bs, bg);
        replan_next(c, bs);
        memcpy(c->good, bgood, sizeof bgood);
        memcpy(c->lsum, blsum, sizeof blsum);
        cur = best;
    }
    free(seen);
    for (int s = 0; s < c->ns; s++)
        c->nplaced += c->nrep[s] > 0;
    return cur;
}

/* --- partitions --------------------------------------------------------------------------------
 */

typedef struct copt {
    int size;
    ep_mode mode;
} copt;

typedef struct dclass {
    int spec, n;
    int *devs; /* devices of the class in index order (a node's devices are adjacent) */
    copt opt[MAX_OPTS];
    int nopt;
} dclass;

static int
same_node(const ep_scenario *sc, const int *devs, int n)
{
    for (int i = 1; i < n; i++)
        if (sc->devices[devs[i]].node != sc->devices[devs[0]].node)
            return 0;
    return 1;
}

/* Groups of class cl under option o appended to out; -1 when the option is not valid (a TP
 * group would span nodes). Full groups of o.size, the remainder in power-of-two groups
 * (AlpaServe's enumerate_group_configs_uneven; remainder groups are PP). */
static int
class_groups(const ep_scenario *sc, const dclass *cl, copt o, alpa_grp *out)
{
    int i = 0, ng = 0;
    while (i < cl->n) {
        int k = o.size;
        if (cl->n - i < k)
            for (k = 1; 2 * k <= cl->n - i; k *= 2)
                ;
        alpa_grp *g = &out[ng++];
        memset(g, 0, sizeof *g);
        g->ndev = k;
        g->spec = cl->spec;
        memcpy(g->devs, cl->devs + i, (size_t)k * sizeof *g->devs);
        if (k == 1) {
            g->mode = EP_MODE_SINGLE;
        } else if (o.mode == EP_MODE_TP && same_node(sc, g->devs, k)) {
            g->mode = EP_MODE_TP;
        } else {
            if (o.mode == EP_MODE_TP && k == o.size)
                return -1;
            g->mode = EP_MODE_PP;
        }
        i += k;
    }
    return ng;
}

static void
class_options(const ep_scenario *sc, dclass *cl, alpa_grp *scratch)
{
    cl->nopt = 0;
    cl->opt[cl->nopt++] = (copt){1, EP_MODE_SINGLE};
    for (int k = 2; k <= cl->n && k <= EP_MAX_STAGE_DEVS; k *= 2) {
        /* AlpaServe: op <= 4, pp <= 8. */
        if (k <= 4 && class_groups(sc, cl, (copt){k, EP_MODE_TP}, scratch) >= 0)
            cl->opt[cl->nopt++] = (copt){k, EP_MODE_TP};
        cl->opt[cl->nopt++] = (copt){k, EP_MODE_PP};
    }
}

/* Drops the options of a class under which no service fits (with the KV cache of one request,
 * the least any replica reserves) and meets its SLO on any group (they all leave the class
 * idle: one of them is enough). */
static void
prune_options(alpa_ctx *c, dclass *cl)
{
    int keep = 0;
    alpa_rparam rp;
    for (int o = 0; o < cl->nopt; o++) {
        int ng = class_groups(c->sc, cl, cl->opt[o], c->g), useful = 0;
        for (int g = 0; g < ng && !useful; g++)
            for (int s = 0; s < c->ns && !useful; s++) {
                alpa_replica_params(c, s, &c->g[g], 0, 0, &rp);
                int alone = rp.occ[0] > 0; /* meets the SLO and fits with its KV cache */
                for (int k = 0; k < c->g[g].ndev && alone; k++)
                    alone = ep_pol_usable_mem(c->sc, c->g[g].devs[k]) >= rp.mem + rp.kv;
                useful = alone;
            }
        if (useful)
            cl->opt[keep++] = cl->opt[o];
    }
    if (keep == 0)
        keep = 1; /* singles (option 0) */
    cl->nopt = keep;
}

/* Builds the partition for one option per class into c->g; computes replica parameters (each
 * service's first replica: it reserves for the service's whole rate). */
static void
build_partition(alpa_ctx *c, const dclass *cls, int ncls, const int *choice)
{
    c->ng = 0;
    for (int i = 0; i < ncls; i++)
        c->ng += class_groups(c->sc, &cls[i], cls[i].opt[choice[i]], c->g + c->ng);
    for (int s = 0; s < c->ns; s++)
        for (int g = 0; g < c->ng; g++)
            alpa_replica_params(c, s, &c->g[g], c->rate[s], 0, &c->p[s * c->ng + g]);
}

/* Whether instance spec sp runs on exactly group g. */
static int
on_group(const alpa_grp *g, const ep_instance_spec *sp)
{
    return g->ndev == sp->ndev && g->mode == sp->mode &&
           memcmp(g->devs, sp->devs, (size_t)sp->ndev * sizeof *sp->devs) == 0;
}

/* Marks in c->prefer the replicas of the current placement that exist in this partition. */
static void
mark_prefer(alpa_ctx *c, const alpa_state *st)
{
    memset(c->prefer, 0, (size_t)c->ns * (size_t)c->ng);
    for (int i = 0; i < st->ncur; i++) {
        const ep_instance_spec *sp = &st->cur[i];
        for (int g = 0; g < c->ng; g++)
            if (on_group(&c->g[g], sp))
                c->prefer[sp->service * c->ng + g] = 1;
    }
}

/* The best placement found so far. */
typedef struct found {
    double score;
    alpa_grp *g;
    uint64_t *gm;
    int ng, nplaced;
} found;

/* Placements compare by the services they give a replica (AlpaServe places every model; a
 * partition that cannot hold one must not win by leaving it out), then by score. */
static int
better(int placed, double sc, int than_placed, double than_sc)
{
    return placed != than_placed ? placed > than_placed : sc > than_sc;
}

static void
keep_if_better(alpa_ctx *c, found *b, double sc)
{
    if (!better(c->nplaced, sc, b->nplaced, b->score))
        return;
    b->score = sc;
    b->nplaced = c->nplaced;
    b->ng = c->ng;
    memcpy(b->g, c->g, (size_t)c->ng * sizeof *c->g);
    memcpy(b->gm, c->gm, (size_t)c->ng * sizeof *c->gm);
}

static double
search_one(alpa_ctx *c, const alpa_state *st, const dclass *cls, int ncls, const int *choice,
           found *b)
{
    build_partition(c, cls, ncls, choice);
    mark_prefer(c, st);
    double sc = greedy(c);
    keep_if_better(c, b, sc);
    return sc;
}

/* Enumerates partitions (all of them, or one coordinate-descent pass over the classes). */
static void
search(alpa_ctx *c, const alpa_state *st, dclass *cls, int ncls, found *b)
{
    int choice[MAX_CLASS] = {0};
    double combos = 1;
    for (int i = 0; i < ncls; i++)
        combos *= cls[i].nopt;
    if (combos <= st->max_partitions) {
        for (;;) {
            search_one(c, st, cls, ncls, choice, b);
            int i = 0;
            while (i < ncls && ++choice[i] == cls[i].nopt)
                choice[i++] = 0;
            if (i == ncls)
                break;
        }
        return;
    }
    double cur = search_one(c, st, cls, ncls, choice, b);
    int cur_placed = c->nplaced;
    for (int i = 0; i < ncls; i++) {
        int keep = choice[i];
        for (int o = 0; o < cls[i].nopt; o++) {
            if (o == keep)
                continue;
            choice[i] = o;
            double sc = search_one(c, st, cls, ncls, choice, b);
            if (better(c->nplaced, sc, cur_placed, cur)) {
                cur = sc;
                cur_placed = c->nplaced;
                keep = o;
            }
        }
        choice[i] = keep;
    }
}

/* Score of the current placement (st->cur) on the current sample, each replica modelled as
 * the greedy would have placed it in this order (the k-th of a service reserving for 1/k of
 * its rate) but running at most the batch it was given; c->nplaced gets the services it
 * holds. */
static double
score_current(alpa_ctx *c, const alpa_state *st)
{
    c->ng = 0;
    for (int i = 0; i < st->ncur; i++) {
        const ep_instance_spec *sp = &st->cur[i];
        int g = 0;
        while (g < c->ng && !on_group(&c->g[g], sp))
            g++;
        if (g == c->ng) {
            alpa_grp *n = &c->g[c->ng++];
            memset(n, 0, sizeof *n);
            n->ndev = sp->ndev;
            n->mode = sp->mode;
            memcpy(n->devs, sp->devs, sizeof n->devs);
            n->spec = c->sc->devices[sp->devs[0]].spec;
        }
    }
    reset_partition(c);
    for (int i = 0; i < st->ncur; i++) {
        int s = st->cur[i].service;
        for (int g = 0; g < c->ng; g++)
            if (on_group(&c->g[g], &st->cur[i]) && !(c->gm[g] >> s & 1)) {
                alpa_replica_params(c, s, &c->g[g], share_of(c, s), st->cur[i].max_batch,
                                    &c->p[s * c->ng + g]);
                add_rep(c, s, g);
            }
    }
    uint64_t all = c->ns == 64 ? ~UINT64_C(0) : (UINT64_C(1) << c->ns) - 1;
    alpa_eval(c, all, c->good, c->lsum);
    c->nplaced = 0;
    for (int s = 0; s < c->ns; s++)
        c->nplaced += c->nrep[s] > 0;
    return alpa_score(c, c->good, c->lsum, c->total);
}

/* Rates for this placement: the oracle's when given, else the view's, smoothed after the
 * first placement. Returns the relative drift from the rates of the last search. */
static double
update_rates(alpa_state *st, const ep_view *v, int ns)
{
    double diff = 0, base = 0;
    for (int s = 0; s < ns; s++) {
        double r = v->oracle_rate ? v->oracle_rate[s] : v->rate ? v->rate[s] : 0;
        if (!v->oracle_rate && st->placed)
            r = st->ewma * r + (1 - st->ewma) * st->rate[s];
        st->rate[s] = r > 0 ? r : 0;
        diff += fabs(st->rate[s] - st->plan_rate[s]);
        base += st->plan_rate[s];
    }
    return base > 0 ? diff / base : (diff > 0 ? INFINITY : 0);
}

/* The KV-cache tokens the host will give each LLM instance of cur[0 .. n) (node/place.c,
 * share_kv: what the instances' weights and reserves leave on a device, split evenly among
 * the LLM instances on it; a g-device instance holds 1/g of each token on each); -1 for a
 * DNN or an LLM without a KV size. left, nl: scratch of ndevices entries. */
static void
host_kv(const ep_view *v, const ep_instance_spec *cur, int n, double *left, int *nl, int64_t *kv)
{
    const ep_scenario *sc = v->sc;
    for (int d = 0; d < sc->ndevices; d++) {
        left[d] = ep_pol_usable_mem(sc, d);
        nl[d] = 0;
    }
    for (int i = 0; i < n; i++) {
        double mem = (double)ep_cost_instance_mem(sc, cur[i].service, cur[i].ndev);
        for (int k = 0; k < cur[i].ndev; k++) {
            left[cur[i].devs[k]] -= mem;
            nl[cur[i].devs[k]] += sc->services[cur[i].service].kind == EP_SVC_LLM;
        }
    }
    for (int i = 0; i < n; i++) {
        const ep_service *svc = &sc->services[cur[i].service];
        kv[i] = -1;
        if (svc->kind != EP_SVC_LLM || svc->kv_bytes_per_token <= 0)
            continue;
        double share = INFINITY;
        for (int k = 0; k < cur[i].ndev; k++) {
            int d = cur[i].devs[k];
            double sh = left[d] / nl[d];
            if (sh < share)
                share = sh;
        }
        double tokens = share > 0 ? share * cur[i].ndev / (double)svc->kv_bytes_per_token : 0;
        kv[i] = (int64_t)tokens;
    }
}

/* Appends the placement b to out and keeps it as the current one. An LLM instance runs at
 * most the SLO batch of the KV cache the host will give it (host_kv; the largest batch that
 * keeps its SLO, as AlpaServe's runtime runs the largest batch that meets the SLO): never
 * less than the batch it reserved for (fits() left it that much), never more than its own
 * share holds. A replica that stays on its group keeps its batch (a new one would mean a
 * reload) while that is no larger and still carries its even share of the demand. */
static int
emit(alpa_state *st, const ep_view *v, const found *b, int ns, ep_placement *out)
{
    int n = 0, nd = v->sc->ndevices, err = EP_ENOMEM, nrep[MAX_SVC] = {0}, added = 0;
    for (int g = 0; g < b->ng; g++)
        for (int s = 0; s < ns; s++)
            n += (int)(b->gm[g] >> s & 1);
    ep_instance_spec *cur = calloc((size_t)n + 1, sizeof *cur);
    int64_t *kv = calloc((size_t)n + 1, sizeof *kv);
    int *gi = calloc((size_t)n + 1, sizeof *gi); /* each instance's group */
    double *left = calloc((size_t)nd + 1, sizeof *left);
    int *nl = calloc((size_t)nd + 1, sizeof *nl);
    if (!cur || !kv || !gi || !left || !nl)
        goto fail;
    n = 0;
    for (int g = 0; g < b->ng; g++)
        for (int s = 0; s < ns; s++)
            if (b->gm[g] >> s & 1) {
                gi[n] = g;
                cur[n++] = alpa_spec_of(s, &b->g[g]);
            }
    host_kv(v, cur, n, left, nl, kv);
    for (int i = 0; i < n; i++)
        nrep[cur[i].service]++;
    for (int i = 0; i < n; i++) {
        int s = cur[i].service, batch = 0, need = 0;
        if (v->sc->services[s].kind == EP_SVC_LLM &&
            ep_pol_capacity_at(v, &cur[i], 1, kv[i], st->rate[s] / nrep[s], 0, &batch, &need) > 0 &&
            batch >= 1) {
            cur[i].max_batch = batch;
            for (int j = 0; j < st->ncur; j++)
                if (st->cur[j].service == s && on_group(&b->g[gi[i]], &st->cur[j]) &&
                    st->cur[j].max_batch >= need && st->cur[j].max_batch <= batch)
                    cur[i].max_batch = st->cur[j].max_batch;
        }
        if (ep_placement_add(out, &cur[i]) != 0)
            break;
        added++;
    }
    free(st->cur);
    st->cur = cur;
    st->ncur = added;
    cur = NULL;
    err = 0;
fail:
    free(cur);
    free(kv);
    free(gi);
    free(left);
    free(nl);
    return err;
}

int
alpa_place(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    alpa_state *st = state;
    const ep_scenario *sc = view->sc;
    int ns = sc->nservices, nd = sc->ndevices;
    double drift = update_rates(st, view, ns);
    if (st->placed && drift <= st->drift) {
        out->unchanged = 1;
        return 0;
    }
    alpa_ctx c;
    memset(&c, 0, sizeof c);
    c.v = view;
    c.sc = sc;
    c.ns = ns;
    for (int s = 0; s < ns; s++) {
        const ep_service *svc = &sc->services[s];
        c.rate[s] = st->rate[s];
        c.slo[s] = (double)(svc->kind == EP_SVC_LLM ? svc->slo.ttft
                            : svc->slo.fps > 0      ? svc->slo.frame_deadline
                                                    : svc->slo.deadline) /
                   1e9;
    }
    size_t cells = (size_t)ns * (size_t)nd + 1;
    dclass cls[MAX_CLASS];
    int ncls = 0, used = 0, err = EP_ENOMEM, cur_placed = 0;
    double cur_score = -INFINITY;
    int *cdevs = malloc((size_t)(nd > 0 ? nd : 1) * sizeof *cdevs);
    found b = {-INFINITY, calloc((size_t)nd + 1, sizeof(alpa_grp)),
               calloc((size_t)nd + 1, sizeof(uint64_t)), 0, -1};
    c.g = calloc((size_t)nd + 1, sizeof *c.g);
    c.gm = calloc((size_t)nd + 1, sizeof *c.gm);
    c.p = calloc(cells, sizeof *c.p);
    c.rep = calloc(cells, sizeof *c.rep);
    c.freem = calloc((size_t)nd + 1, sizeof *c.freem);
    c.nllm = calloc((size_t)nd + 1, sizeof *c.nllm);
    c.kvmax = calloc((size_t)nd + 1, sizeof *c.kvmax);
    c.sv_freem = calloc((size_t)nd + 1, sizeof *c.sv_freem);
    c.sv_nllm = calloc((size_t)nd + 1, sizeof *c.sv_nllm);
    c.sv_kvmax = calloc((size_t)nd + 1, sizeof *c.sv_kvmax);
    c.lat = calloc(cells, sizeof *c.lat);
    c.occ = calloc(cells, sizeof *c.occ);
    c.clk = calloc(cells, sizeof *c.clk);
    c.prefer = calloc(cells, 1);
    if (!cdevs || !b.g || !b.gm || !c.g || !c.gm || !c.p || !c.rep || !c.freem || !c.nllm ||
        !c.kvmax || !c.sv_freem || !c.sv_nllm || !c.sv_kvmax || !c.lat || !c.occ || !c.clk ||
        !c.prefer)
        goto fail;
    /* Device classes, each with its devices in index order. */
    for (int d = 0; d < nd; d++) {
        int k = 0;
        while (k < ncls && cls[k].spec != sc->devices[d].spec)
            k++;
        if (k == ncls) {
            if (ncls == MAX_CLASS)
                continue; /* more classes than we partition: those devices stay unused */
            cls[ncls].spec = sc->devices[d].spec;
            cls[ncls].n = 0;
            ncls++;
        }
    }
    for (int k = 0; k < ncls; k++) {
        cls[k].devs = cdevs + used;
        for (int d = 0; d < nd; d++)
            if (sc->devices[d].spec == cls[k].spec)
                cls[k].devs[cls[k].n++] = d;
        used += cls[k].n;
        class_options(sc, &cls[k], c.g);
        prune_options(&c, &cls[k]);
    }
    if ((err = alpa_sample(&c, st, env->rng)) != 0)
        goto fail;
    if (st->placed) {
        cur_score = score_current(&c, st);
        cur_placed = c.nplaced;
    }
    search(&c, st, cls, ncls, &b);
    memcpy(st->plan_rate, st->rate, sizeof st->plan_rate);
    if (st->placed && (b.nplaced < cur_placed ||
                       (b.nplaced == cur_placed && b.score < cur_score + st->replan_gain))) {
        out->unchanged = 1;
        err = 0;
        goto fail;
    }
    st->placed = 1;
    err = emit(st, view, &b, ns, out);
fail:
    free(cdevs);
    free(b.g);
    free(b.gm);
    free(c.g);
    free(c.gm);
    free(c.p);
    free(c.rep);
    free(c.freem);
    free(c.nllm);
    free(c.kvmax);
    free(c.sv_freem);
    free(c.sv_nllm);
    free(c.sv_kvmax);
    free(c.lat);
    free(c.occ);
    free(c.clk);
    free(c.prefer);
    free(c.s);
    return err;
}
