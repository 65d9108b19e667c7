/* `alpaserve`: AlpaServe (Z. Li, L. Zheng, Y. Zhong et al., "AlpaServe: Statistical
 * Multiplexing with Model Parallelism for Deep Learning Serving", OSDI 2023, arXiv
 * 2302.11665) behind the epara policy interface. Only the paper's abstract was readable to
 * us; the algorithm follows the authors' code, github.com/alpa-projects/mms:
 *  - placement_policy/model_parallelism.py (ModelParallelismSearch): enumerate partitions of
 *    the devices into groups with one parallel config each (enumerate_group_configs[_uneven]:
 *    power-of-two group sizes, the remainder in power-of-two groups, op <= 4, pp <= 8), place
 *    replicas on each partition, keep the best by simulated score; max_bs = 1 in the search.
 *  - placement_policy/base_policy.py: replica_placement_beam_search (the simulator-guided
 *    greedy: add the (model, group) replica with the best simulated score, one replica of a
 *    model per group, weights within group memory, until nothing fits);
 *    get_goodput_simulation (score = attainment - mean latency / 1e4 + replicas / 1e6);
 *    gen_train_workload (Gamma arrivals at each model's rate and CV, >= 100 s, >= 30000).
 *  - simulator/controller.py: simulate_requests (a request goes to the holding group free
 *    earliest; one that would finish after its SLO is dropped at no cost); select_group_id
 *    (dispatch to the group with the shortest queue); GroupManager.handle_request ("Drop
 *    this request if it will exceed deadline").
 *  - controller.py, GroupManager.check_slo / get_max_batch_under_slo, and pull requests #30
 *    and #92: the runtime rejects what cannot meet its deadline; with batching (on in
 *    serving, off in the placement search) it drops queued requests that would miss even
 *    alone and runs the largest batch that still meets the head request's deadline.
 * Here (our adaptations, for edge clusters, LLMs and this host):
 *  - place(): each device class is partitioned on its own (singles; groups of 2, 4, 8 as TP
 *    inside a node or PP across nodes); all combinations up to max_partitions, else one
 *    coordinate-descent pass. Per partition, the greedy (beam width 1) stops when no replica
 *    improves the score. The fast simulator samples Poisson arrivals (Gamma with param
 *    cv.<service>) at view->oracle_rate or view->rate over max(horizon_s, samples / rate),
 *    thinning services above max_per_service samples. Each replica is a FIFO server with
 *    its own clock (our host runs co-located instances concurrently, slowed by the MT
 *    factor, where AlpaServe runs one stream per group): latency = batch-1 time (DNN) or
 *    prefill (LLM TTFT) + mean network delay from the ingress nodes, occupancy = 1 / SLO
 *    capacity (as ep_pol_capacity), both stretched by ep_cost_mt_slowdown(k) for k - 1
 *    expected busy neighbours. Later ticks: demand is smoothed (ewma); after a drift over
 *    `drift` the search reruns and is adopted only if it places as many services and beats
 *    the current placement's score by replan_gain (equivalent groups keep replicas).
 *  - Memory planning with the KV cache (an adaptation: AlpaServe's models have no KV cache
 *    and its greedy checks weights only, which on LLMs packs replicas that then hold too
 *    few tokens to serve): an LLM replica plans the cache of its SLO batch, the batch
 *    ep_pol_capacity's throughput assumes (batch x (mean input + mean output) tokens x KV
 *    bytes per token, split over its devices), and runs at most that batch (max_batch; as
 *    AlpaServe's runtime runs the largest batch that meets the SLO). A replica joins a group
 *    only if its weights and that cache fit beside what the group's devices hold, as the
 *    host shares memory: it splits what weights and reserves leave on a device evenly among
 *    the LLM instances there, so a device holds n LLMs only if it leaves n x the largest
 *    per-device need among them. The fast simulator models each replica with its planned
 *    cache, which the host then gives it at least.
 *  - Every model placed (AlpaServe's greedy adds replicas until memory is full, so every
 *    model gets one when memory allows; ours stops when nothing improves the score, and a
 *    rarely used model that slows its neighbours, like a diffusion model, would get none):
 *    while services are without a replica, a candidate must leave room for as many of them
 *    as fit together (the most requested first); when nothing improves the score, such a
 *    service still gets its best-scoring group; partitions compare by the services they
 *    place, then by score.
 *  - route(): the ready instance of the service with the shortest queue (queued + running:
 *    live on the routing node; elsewhere the last snapshot, drained at the instance's SLO
 *    capacity, plus what this policy sent since, as AlpaServe's controller counts its own
 *    dispatches), ties by estimate; admission=1 rejects when the estimate (ep_pol_estimate +
 *    unsynced sends, x MT slowdown of busy neighbours) misses the deadline; fallback=1 (not
 *    AlpaServe) first tries the other instances. No forwarding.
 *  - pick_batch(): expired requests dropped; the largest batch that meets every request in
 *    it that could meet its deadline alone. LLMs: the host's continuous batching (up to
 *    the SLO batch, above).
 *  - categorize(): ep_category_default, for the host's reports only (no categories).
 * Parameters: al_params below (policy.params; the host refuses other keys and values).
 * Cost (Release, one core): edge-default (12 devices, 7 services, ~5,400 samples) ~0.6 s of
 * searches per simulated hour. Sized for tens of devices: the greedy grows with devices x
 * replicas x samples. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/error.h"
#include "epara/policy.h"
#include "epara/policy_util.h"
#include "epara/profile.h"

#define MAX_SVC   64
#define MAX_TRACK 4096
#define KMAX      8 /* co-location levels modelled */
#define MAX_OPTS  8 /* partition options per device class */
#define MAX_CLASS 16

/* What the router believes of a remote instance between syncs: its queue (queued + running)
 * as a fluid that drains at the instance's SLO capacity, starting from the last snapshot
 * and growing by one with each request this policy sends there. */
typedef struct track {
    int id;            /* instance id + 1 (0: empty) */
    ep_time synced_at; /* snapshot the belief starts from */
    double q;          /* queue believed at time `at` */
    ep_time at;
    double drain_s; /* seconds per request at its SLO capacity (0: unknown, no drain) */
} track;

typedef struct alpa_state {
    /* parameters */
    double horizon_s, samples, max_per_svc, replan_gain, drift, ewma;
    int admission, fallback, max_partitions;
    /* placement */
    int placed;
    ep_instance_spec *cur; /* the last placement returned (heap, freed in fini) */
    int ncur;
    double cv[MAX_SVC];        /* inter-arrival CV per service (param cv.<service>) */
    double rate[MAX_SVC];      /* smoothed demand */
    double plan_rate[MAX_SVC]; /* demand the last search used */
    /* routing: requests sent to remote instances since their last sync */
    track tr[MAX_TRACK];
} alpa_state;

/* --- parameters --------------------------------------------------------------------------- */

/* The parameters al_init reads: the one place their defaults and domains live (the host
 * refuses any other key or value; "cv." is a prefix, followed by a service name). */
static const ep_param_decl al_params[] = {
        {"horizon_s", 1e-3, 1e6, 0, 100,
         "seconds of sampled arrivals the placement search replays"},
        {"samples", 1, 1e7, 1, 30000, "the sample spans at least this many requests"},
        {"max_per_service", 10, 1e7, 1, 3000,
         "a service with more sampled requests is thinned to this many (weighted)"},
        {"cv.", 1e-3, 100, 0, 1, "inter-arrival CV of the service's sampled arrivals (Gamma)"},
        {"ewma", 1e-3, 1, 0, 0.5, "weight of the last period's rate in the smoothed demand"},
        {"drift", 0, INFINITY, 0, 0.25,
         "the search reruns when demand moved by more than this fraction"},
        {"replan_gain", 0, INFINITY, 0, 0.02,
         "a new placement is adopted only if its score beats the current one's by this"},
        {"admission", 0, 1, 1, 1, "reject a request whose estimate misses its deadline"},
        {"fallback", 0, 1, 1, 0,
         "before rejecting, try the other replicas (not AlpaServe; 0: shortest queue only)"},
        {"max_partitions", 1, 1e6, 1, 64,
         "enumerate all device partitions up to this many, else one coordinate-descent pass"},
        {NULL, 0, 0, 0, 0, NULL},
};

static int
al_init(void *state, const ep_env *env, const ep_view *view, const ep_param *params, int n)
{
    (void)env;
    alpa_state *st = state;
    if (view->sc->nservices > MAX_SVC)
        return EP_EINVAL;
    /* The host checked them already; a direct caller gets the same answer. */
    if (ep_param_check("alpaserve", al_params, view->sc, params, n, NULL, 0))
        return EP_EINVAL;
#define PARAM(key) ep_param_value(al_params, params, n, key)
    st->horizon_s = PARAM("horizon_s");
    st->samples = PARAM("samples");
    st->max_per_svc = PARAM("max_per_service");
    st->replan_gain = PARAM("replan_gain");
    st->drift = PARAM("drift");
    st->ewma = PARAM("ewma");
    st->admission = PARAM("admission") != 0;
    st->fallback = PARAM("fallback") != 0;
    st->max_partitions = (int)PARAM("max_partitions");
    for (int s = 0; s < view->sc->nservices; s++) {
        char key[EP_NAME_MAX + 4];
        snprintf(key, sizeof key, "cv.%s", view->sc->services[s].name);
        st->cv[s] = PARAM(key);
    }
#undef PARAM
    return 0;
}

static void
al_fini(void *state)
{
    alpa_state *st = state;
    free(st->cur);
    st->cur = NULL;
}

/* --- the fast simulator's model of one replica ----------------------------------------------- */

typedef struct grp {
    int ndev, devs[EP_MAX_STAGE_DEVS];
    ep_mode mode;
    int spec;
} grp;

/* A replica of a service on a group, with k - 1 busy co-located instances (index k - 1):
 * latency and occupancy in seconds; occ <= 0 when it cannot meet the SLO at that level. */
typedef struct rparam {
    double lat[KMAX], occ[KMAX];
    double busy; /* seconds one lone request keeps the instance busy */
    double mem;  /* bytes per device: weights share + activation reserve */
    double kv;   /* LLM: bytes per device of the KV cache of its SLO batch (DNN: 0) */
} rparam;

typedef struct smp {
    double t, w;
    int svc, idx;
} smp;

typedef struct ctx {
    const ep_view *v;
    const ep_scenario *sc;
    int ns;
    double rate[MAX_SVC], slo[MAX_SVC];
    smp *s;
    int n, cap;
    double wsum;
    /* the partition being searched */
    grp *g;
    int ng;
    rparam *p;    /* ns x ng */
    uint64_t *gm; /* per group: services placed */
    int *rep;     /* ns x ng: groups holding each service */
    int nrep[MAX_SVC];
    int total, nplaced;          /* replicas; services with one (after greedy()) */
    double *freem;               /* per device: usable memory less weights and reserves */
    int *nllm;                   /* per device: LLM replicas on it */
    double *kvmax;               /* per device: the largest KV need (rparam.kv) among them */
    double *sv_freem, *sv_kvmax; /* room_for()'s copies of the three */
    int *sv_nllm;
    double *lat, *occ, *clk; /* ns x ng: per replica, during one evaluation */
    double good[MAX_SVC], lsum[MAX_SVC];
    char *prefer; /* ns x ng: the replica exists in the current placement */
} ctx;

static ep_instance_spec
spec_of(int svc, const grp *g)
{
    ep_instance_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.service = svc;
    sp.mode = g->mode;
    sp.ndev = g->ndev;
    memcpy(sp.devs, g->devs, sizeof sp.devs);
    sp.order = EP_QUEUE_FIFO;
    return sp;
}

static int
max_batch(const ep_scenario *sc, int svc)
{
    int mb = sc->services[svc].max_batch;
    return mb > 0 ? mb : 1;
}

/* An LLM's mean input and output tokens, with ep_pol_capacity's defaults. */
static void
mean_tokens(const ep_view *v, int svc, double *in, double *out)
{
    *in = v->mean_input ? v->mean_input[svc] : 0;
    *out = v->mean_output ? v->mean_output[svc] : 0;
    if (*in < 1)
        *in = 512;
    if (*out < 1)
        *out = 128;
}

/* The KV-cache tokens an LLM replica of spec sp plans for: its SLO batch (the batch
 * ep_pol_capacity's throughput assumes) x (mean input + mean output); 0 when it cannot
 * meet the SLO. *batch (may be NULL) gets the batch. */
static int64_t
planned_kv_tokens(const ep_view *v, const ep_instance_spec *sp, int *batch)
{
    int b = 0;
    double in, o;
    mean_tokens(v, sp->service, &in, &o);
    if (ep_pol_capacity(v, sp, &b) <= 0 || b < 1)
        return 0;
    if (batch)
        *batch = b;
    return (int64_t)ceil((double)b * (in + o));
}

/* Mean one-way request delay from the service's ingress nodes to node `to`, plus the
 * response's way back (DNN: a 1 KB result, LLM: one token). */
static double
net_delay(const ctx *c, int svc, int to)
{
    const ep_scenario *sc = c->sc;
    const ep_service *s = &sc->services[svc];
    double in = c->v->mean_input ? c->v->mean_input[svc] : 0;
    int64_t req, resp;
    if (s->kind == EP_SVC_LLM) {
        int64_t bpt = s->bytes_per_token > 0 ? s->bytes_per_token : 4;
        req = (int64_t)((in > 0 ? in : 512) * (double)bpt);
        resp = bpt;
    } else {
        req = in > 0 ? (int64_t)in : s->input_bytes;
        resp = 1000;
    }
    double sum = 0;
    int n = 0;
    for (int w = 0; w < sc->nworkloads; w++) {
        const ep_workload *wl = &sc->workloads[w];
        if (wl->service != svc)
            continue;
        for (int i = 0; i < wl->ningress; i++) {
            int from = wl->ingress[i];
            sum += (double)(c->v->delay(c->v, from, to, req) + c->v->delay(c->v, to, from, resp));
            n++;
        }
    }
    return n ? sum / n / 1e9 : 0;
}

/* kv: the KV-cache tokens the replica is planned to have (its SLO batch's). */
static void
llm_params(const ctx *c, const ep_instance_spec *sp, const double *slow, double net, int64_t kv,
           rparam *out)
{
    const ep_view *v = c->v;
    const ep_service *svc = &c->sc->services[sp->service];
    double in, o;
    mean_tokens(v, sp->service, &in, &o);
    if (kv <= 0)
        return;
    double p = (double)ep_pol_llm_iteration(v, sp, (int64_t)in, in * in, 0, 0) / 1e9;
    double d1 = (double)ep_pol_llm_iteration(v, sp, 0, 0, 1, (int64_t)(in + o / 2)) / 1e9;
    double ttft = (double)svc->slo.ttft / 1e9, tpot = (double)svc->slo.tpot / 1e9;
    double best[KMAX] = {0};
    out->busy = p + o * d1;
    /* As ep_pol_capacity, with every iteration stretched by the slowdown: lambda scales by
     * 1 / slow, TPOT and prefill by slow. With kv its SLO batch's cache, level 1 (alone)
     * gives ep_pol_capacity's throughput; busier levels keep smaller batches. */
    int mb = max_batch(c->sc, sp->service);
    for (int b = 1; b <= mb; b++) {
        if ((double)b * (in + o) > (double)kv)
            break;
        double d = (double)ep_pol_llm_iteration(v, sp, 0, 0, b, (int64_t)((in + o / 2) * b)) / 1e9;
        double lambda = (double)b / (o * d + (double)b * p);
        double lp = lambda * p;
        if (lp >= 1)
            continue;
        double tp = d / (1 - lp);
        for (int k = 0; k < KMAX; k++)
            if (p * slow[k] <= ttft / 2 && tp * slow[k] <= tpot && lambda / slow[k] > best[k])
                best[k] = lambda / slow[k];
    }
    for (int k = 0; k < KMAX; k++) {
        out->lat[k] = p * slow[k] + net;
        out->occ[k] = best[k] > 0 ? 1 / best[k] : 0;
    }
}

static void
dnn_params(const ctx *c, const ep_instance_spec *sp, const double *slow, double net, rparam *out)
{
    const ep_service *svc = &c->sc->services[sp->service];
    double limit = (double)(svc->slo.fps > 0 ? svc->slo.frame_deadline : svc->slo.deadline) / 1e9;
    double best[KMAX] = {0};
    int mb = max_batch(c->sc, sp->service);
    double t1 = 0;
    for (int b = 1; b <= mb; b++) {
        ep_dur iv;
        double t = (double)ep_pol_dnn_batch(c->v, sp, b, &iv) / 1e9;
        double interval = svc->use_trace_exec ? 0 : (double)iv / 1e9; /* the host does not
                                                                          pipeline those */
        if (b == 1)
            t1 = t;
        /* One batch waited for and one run (PP: interval + total), as ep_pol_capacity. */
        double worst = interval > 0 ? interval + t : 2 * t;
        if (worst > limit)
            break;
        for (int k = 0; k < KMAX; k++) {
            double cap = (double)b / ((interval > 0 ? interval : t) * slow[k]);
            if (worst * slow[k] <= limit && cap > best[k])
                best[k] = cap;
        }
    }
    out->busy = t1;
    for (int k = 0; k < KMAX; k++) {
        out->lat[k] = t1 * slow[k] + net;
        out->occ[k] = best[k] > 0 ? 1 / best[k] : 0;
    }
}

/* The replica's latency and occupancy at each co-location level and the memory it plans
 * per device. An LLM replica plans the KV cache of its SLO batch and is modelled with that
 * cache: placement (fits()) guarantees the host gives it at least as much. */
static void
replica_params(const ctx *c, int svc, const grp *g, rparam *out)
{
    memset(out, 0, sizeof *out);
    double slow[KMAX];
    for (int k = 0; k < KMAX; k++)
        slow[k] = ep_cost_mt_slowdown(c->sc, k + 1);
    ep_instance_spec sp = spec_of(svc, g);
    const ep_service *s = &c->sc->services[svc];
    double net = net_delay(c, svc, c->sc->devices[g->devs[0]].node);
    out->mem = (double)ep_cost_instance_mem(c->sc, svc, g->ndev);
    if (s->kind == EP_SVC_LLM) {
        int64_t kv = planned_kv_tokens(c->v, &sp, NULL);
        out->kv = (double)kv * (double)(s->kv_bytes_per_token > 0 ? s->kv_bytes_per_token : 0) /
                  g->ndev;
        llm_params(c, &sp, slow, net, kv, out);
    } else {
        dnn_params(c, &sp, slow, net, out);
    }
}

/* --- sampled workload ------------------------------------------------------------------------ */

static int
cmp_smp(const void *a, const void *b)
{
    const smp *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->idx - y->idx;
}

static int
push_smp(ctx *c, double t, double w, int svc)
{
    if (c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 4096;
        smp *s = realloc(c->s, (size_t)nc * sizeof *s);
        if (!s)
            return EP_ENOMEM;
        c->s = s;
        c->cap = nc;
    }
    c->s[c->n] = (smp){t, w, svc, c->n};
    c->n++;
    return 0;
}

/* An inter-arrival gap: exponential, or Gamma with squared CV cv2 (AlpaServe's
 * GammaProcess). */
static double
gap(ep_rng *rng, double mean, double cv2)
{
    if (cv2 == 1)
        return ep_rng_exponential(rng, mean);
    return ep_rng_gamma(rng, 1 / cv2, mean * cv2);
}

/* Poisson arrivals of every service over max(horizon, samples / total rate); a service with
 * more than max_per_svc expected arrivals is thinned by w (each sample weighs w). */
static int
sample(ctx *c, const alpa_state *st, ep_rng *rng)
{
    double total = 0;
    for (int s = 0; s < c->ns; s++)
        total += c->rate[s];
    double h = st->horizon_s;
    if (total > 0 && st->samples / total > h)
        h = st->samples / total;
    c->n = 0;
    c->wsum = 0;
    for (int s = 0; s < c->ns; s++) {
        if (c->rate[s] <= 0)
            continue;
        double expect = c->rate[s] * h;
        double w = expect > st->max_per_svc ? expect / st->max_per_svc : 1;
        double mean = w / c->rate[s], cv2 = st->cv[s] * st->cv[s];
        for (double t = gap(rng, mean, cv2); t < h; t += gap(rng, mean, cv2)) {
            if (push_smp(c, t, w, s))
                return EP_ENOMEM;
            c->wsum += w;
        }
    }
    if (c->n > 1)
        qsort(c->s, (size_t)c->n, sizeof *c->s, cmp_smp);
    return 0;
}

/* --- evaluation --------------------------------------------------------------------------------
 */

static const rparam *
par(const ctx *c, int svc, int g)
{
    return &c->p[svc * c->ng + g];
}

/* Co-location level of svc's replica on group g: 1 + the expected number of busy other
 * instances there, each service's rate split evenly over its replicas. An LLM instance
 * serves its requests concurrently (continuous batching, an M/G/inf queue): busy with
 * probability 1 - exp(-lambda R), R a lone request's residence; a DNN instance serves
 * batches one at a time: busy lambda x batch-1 time of the time. */
static int
level(const ctx *c, int svc, int g)
{
    double sum = 0;
    for (int j = 0; j < c->ns; j++) {
        if (j == svc || !(c->gm[g] >> j & 1))
            continue;
        double x = c->rate[j] / (c->nrep[j] > 0 ? c->nrep[j] : 1) * par(c, j, g)->busy;
        sum += c->sc->services[j].kind == EP_SVC_LLM ? 1 - exp(-x) : (x < 1 ? x : 1);
    }
    int k = 1 + (int)lround(sum);
    return k > KMAX ? KMAX : k;
}

/* Replays the sample for the services in `mask` on the current replicas: each request goes
 * to the replica free earliest; it meets its SLO there or is dropped at no cost (AlpaServe's
 * fast simulator). Writes good weight and latency sums of those services. */
static void
eval(ctx *c, uint64_t mask, double *good, double *lsum)
{
    int ng = c->ng;
    for (int s = 0; s < c->ns; s++) {
        if (!(mask >> s & 1))
            continue;
        good[s] = lsum[s] = 0;
        for (int k = 0; k < c->nrep[s]; k++) {
            int g = c->rep[s * ng + k], r = s * ng + g, lv = level(c, s, g) - 1;
            c->lat[r] = par(c, s, g)->lat[lv];
            c->occ[r] = par(c, s, g)->occ[lv];
            c->clk[r] = 0;
        }
    }
    for (int i = 0; i < c->n; i++) {
        const smp *q = &c->s[i];
        int s = q->svc;
        if (!(mask >> s & 1) || c->nrep[s] == 0)
            continue;
        int best = -1;
        double bc = INFINITY;
        for (int k = 0; k < c->nrep[s]; k++) {
            int r = s * ng + c->rep[s * ng + k];
            if (c->clk[r] < bc) {
                bc = c->clk[r];
                best = r;
            }
        }
        double start = bc > q->t ? bc : q->t;
        double lat = start - q->t + c->lat[best];
        if (c->occ[best] > 0 && lat <= c->slo[s]) {
            good[s] += q->w;
            lsum[s] += lat * q->w;
            c->clk[best] = start + c->occ[best] * q->w;
        }
    }
}

/* AlpaServe's score: attainment - mean latency / 1e4 + replicas / 1e6. */
static double
score(const ctx *c, const double *good, const double *lsum, int reps)
{
    double g = 0, l = 0;
    for (int s = 0; s < c->ns; s++) {
        g += good[s];
        l += lsum[s];
    }
    if (c->wsum <= 0)
        return reps * 1e-6;
    return g / c->wsum - l / c->wsum * 1e-4 + reps * 1e-6;
}

/* Services whose outcomes may change when svc gets a replica on g: those sharing a group,
 * transitively, with svc or with g's services. */
static uint64_t
component(const ctx *c, int svc, int g)
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
add_rep(ctx *c, int svc, int g)
{
    c->gm[g] |= UINT64_C(1) << svc;
    c->rep[svc * c->ng + c->nrep[svc]++] = g;
    c->total++;
}

static void
drop_last_rep(ctx *c, int svc, int g)
{
    c->gm[g] &= ~(UINT64_C(1) << svc);
    c->nrep[svc]--;
    c->total--;
}

/* Candidates (svc, g) and (svc, h) are interchangeable: same kind of group, same services
 * on it, the same latencies for each of them. */
static int
equivalent(const ctx *c, int svc, int g, int h)
{
    const grp *a = &c->g[g], *b = &c->g[h];
    if (a->spec != b->spec || a->ndev != b->ndev || a->mode != b->mode || c->gm[g] != c->gm[h])
        return 0;
    uint64_t m = c->gm[g] | UINT64_C(1) << svc;
    for (int j = 0; j < c->ns; j++)
        if ((m >> j & 1) && par(c, j, g)->lat[0] != par(c, j, h)->lat[0])
            return 0;
    return 1;
}

static void
reset_partition(ctx *c)
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

/* Whether a replica of svc fits on group g beside what its devices already hold, with the KV
 * cache of every LLM replica at its SLO batch: the host splits what weights and reserves
 * leave on a device evenly among the LLM instances there (sim/place.c, share_kv), so each
 * device must leave every LLM on it its per-device need, i.e. left >= n x the largest. */
static int
fits(const ctx *c, int svc, int g)
{
    const rparam *p = par(c, svc, g);
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
take(ctx *c, int svc, int g)
{
    const rparam *p = par(c, svc, g);
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
placeable(const ctx *c, int svc)
{
    for (int g = 0; g < c->ng; g++)
        if (!(c->gm[g] >> svc & 1) && par(c, svc, g)->occ[0] > 0 && fits(c, svc, g))
            return 1;
    return 0;
}

/* The services of `want` that can all be given a replica at once from the current memory
 * state: each in turn, the most requested first (the score weighs services by their
 * requests), into the group that can serve it within its SLO and fits it most tightly.
 * Leaves the state as it was. */
static uint64_t
room_for(ctx *c, uint64_t want)
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
            if (par(c, u, g)->occ[0] <= 0 || !fits(c, u, g))
                continue;
            double after = c->freem[c->g[g].devs[0]] - par(c, u, g)->mem;
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
crowds(ctx *c, int svc, int g, uint64_t keep)
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
best_candidate(ctx *c, uint64_t svcs, uint64_t keep, double floor, int *seen, int *bs, int *bg,
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
                if ((c->gm[g] >> s & 1) || par(c, s, g)->occ[0] <= 0 || !fits(c, s, g))
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
                eval(c, mask, ngood, nlsum);
                double sc = score(c, ngood, nlsum, c->total);
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
greedy(ctx *c)
{
    reset_partition(c);
    double cur = score(c, c->good, c->lsum, 0);
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
class_groups(const ep_scenario *sc, const dclass *cl, copt o, grp *out)
{
    int i = 0, ng = 0;
    while (i < cl->n) {
        int k = o.size;
        if (cl->n - i < k)
            for (k = 1; 2 * k <= cl->n - i; k *= 2)
                ;
        grp *g = &out[ng++];
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
class_options(const ep_scenario *sc, dclass *cl, grp *scratch)
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

/* Drops the options of a class under which no service fits (with its KV cache) and meets its
 * SLO on any group (they all leave the class idle: one of them is enough). */
static void
prune_options(ctx *c, dclass *cl)
{
    int keep = 0;
    rparam rp;
    for (int o = 0; o < cl->nopt; o++) {
        int ng = class_groups(c->sc, cl, cl->opt[o], c->g), useful = 0;
        for (int g = 0; g < ng && !useful; g++)
            for (int s = 0; s < c->ns && !useful; s++) {
                replica_params(c, s, &c->g[g], &rp);
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

/* Builds the partition for one option per class into c->g; computes replica parameters. */
static void
build_partition(ctx *c, const dclass *cls, int ncls, const int *choice)
{
    c->ng = 0;
    for (int i = 0; i < ncls; i++)
        c->ng += class_groups(c->sc, &cls[i], cls[i].opt[choice[i]], c->g + c->ng);
    for (int s = 0; s < c->ns; s++)
        for (int g = 0; g < c->ng; g++)
            replica_params(c, s, &c->g[g], &c->p[s * c->ng + g]);
}

/* Whether instance spec sp runs on exactly group g. */
static int
on_group(const grp *g, const ep_instance_spec *sp)
{
    return g->ndev == sp->ndev && g->mode == sp->mode &&
           memcmp(g->devs, sp->devs, (size_t)sp->ndev * sizeof *sp->devs) == 0;
}

/* Marks in c->prefer the replicas of the current placement that exist in this partition. */
static void
mark_prefer(ctx *c, const alpa_state *st)
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
    grp *g;
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
keep_if_better(ctx *c, found *b, double sc)
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
search_one(ctx *c, const alpa_state *st, const dclass *cls, int ncls, const int *choice, found *b)
{
    build_partition(c, cls, ncls, choice);
    mark_prefer(c, st);
    double sc = greedy(c);
    keep_if_better(c, b, sc);
    return sc;
}

/* Enumerates partitions (all of them, or one coordinate-descent pass over the classes). */
static void
search(ctx *c, const alpa_state *st, dclass *cls, int ncls, found *b)
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

/* Score of the current placement (st->cur) on the current sample; c->nplaced gets the
 * services it holds. */
static double
score_current(ctx *c, const alpa_state *st)
{
    c->ng = 0;
    for (int i = 0; i < st->ncur; i++) {
        const ep_instance_spec *sp = &st->cur[i];
        int g = 0;
        while (g < c->ng && !on_group(&c->g[g], sp))
            g++;
        if (g == c->ng) {
            grp *n = &c->g[c->ng++];
            memset(n, 0, sizeof *n);
            n->ndev = sp->ndev;
            n->mode = sp->mode;
            memcpy(n->devs, sp->devs, sizeof n->devs);
            n->spec = c->sc->devices[sp->devs[0]].spec;
        }
    }
    for (int s = 0; s < c->ns; s++)
        for (int g = 0; g < c->ng; g++)
            replica_params(c, s, &c->g[g], &c->p[s * c->ng + g]);
    reset_partition(c);
    for (int i = 0; i < st->ncur; i++)
        for (int g = 0; g < c->ng; g++)
            if (on_group(&c->g[g], &st->cur[i]) && !(c->gm[g] >> st->cur[i].service & 1))
                add_rep(c, st->cur[i].service, g);
    uint64_t all = c->ns == 64 ? ~UINT64_C(0) : (UINT64_C(1) << c->ns) - 1;
    eval(c, all, c->good, c->lsum);
    c->nplaced = 0;
    for (int s = 0; s < c->ns; s++)
        c->nplaced += c->nrep[s] > 0;
    return score(c, c->good, c->lsum, c->total);
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

/* Appends the placement b to out and keeps it as the current one. An LLM instance runs at
 * most its SLO batch: the batch its KV cache was planned for, the largest that keeps the TPOT
 * (AlpaServe's runtime runs the largest batch that meets the SLO). A replica that stays on
 * its group keeps its batch while that is no larger (a new one would mean a reload). */
static int
emit(alpa_state *st, const ep_view *v, const found *b, int ns, ep_placement *out)
{
    int n = 0;
    for (int g = 0; g < b->ng; g++)
        for (int s = 0; s < ns; s++)
            n += (int)(b->gm[g] >> s & 1);
    ep_instance_spec *cur = calloc((size_t)n + 1, sizeof *cur);
    if (!cur)
        return EP_ENOMEM;
    n = 0;
    for (int g = 0; g < b->ng; g++)
        for (int s = 0; s < ns; s++)
            if (b->gm[g] >> s & 1) {
                cur[n] = spec_of(s, &b->g[g]);
                int batch = 0;
                if (v->sc->services[s].kind == EP_SVC_LLM &&
                    planned_kv_tokens(v, &cur[n], &batch) > 0) {
                    cur[n].max_batch = batch;
                    for (int i = 0; i < st->ncur; i++)
                        if (st->cur[i].service == s && on_group(&b->g[g], &st->cur[i]) &&
                            st->cur[i].max_batch >= 1 && st->cur[i].max_batch <= batch)
                            cur[n].max_batch = st->cur[i].max_batch;
                }
                if (ep_placement_add(out, &cur[n]) != 0)
                    break;
                n++;
            }
    free(st->cur);
    st->cur = cur;
    st->ncur = n;
    return 0;
}

static int
al_place(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    alpa_state *st = state;
    const ep_scenario *sc = view->sc;
    int ns = sc->nservices, nd = sc->ndevices;
    double drift = update_rates(st, view, ns);
    if (st->placed && drift <= st->drift) {
        out->unchanged = 1;
        return 0;
    }
    ctx c;
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
    found b = {-INFINITY, calloc((size_t)nd + 1, sizeof(grp)),
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
    if ((err = sample(&c, st, env->rng)) != 0)
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

/* --- routing and batching ------------------------------------------------------------------------
 */

static double
drained(const track *t, double q, ep_time from, ep_time to)
{
    if (t->drain_s > 0 && to > from)
        q -= ep_dur_to_s(to - from) / t->drain_s;
    return q > 0 ? q : 0;
}

static track *
slot(alpa_state *st, const ep_view *v, const ep_instance_view *iv)
{
    track *t = &st->tr[(unsigned)iv->id % MAX_TRACK];
    if (t->id != iv->id + 1) {
        double cap = ep_pol_capacity(v, &iv->spec, NULL);
        t->id = iv->id + 1;
        t->drain_s = cap > 0 ? 1 / cap : 0;
        t->synced_at = iv->synced_at - 1;
    }
    if (t->synced_at != iv->synced_at) {
        t->synced_at = iv->synced_at;
        t->q = iv->queued + iv->running;
        t->at = iv->synced_at;
    }
    return t;
}

/* The instance's queue (queued + running) as the routing node knows it: live for its own
 * instances; for remote ones the belief above (AlpaServe's controller counts the requests it
 * dispatched and not yet answered; we see answers only at syncs). *extra gets the requests
 * the belief holds beyond the drained snapshot, i.e. sent since the sync. */
static int
queue_len(alpa_state *st, const ep_view *v, const ep_env *env, const ep_request_info *req,
          const ep_instance_view *iv, double *extra)
{
    *extra = 0;
    if (iv->node == req->at_node)
        return iv->queued + iv->running;
    track *t = slot(st, v, iv);
    double q = drained(t, t->q, t->at, env->now);
    double snap = drained(t, iv->queued + iv->running, iv->synced_at, env->now);
    *extra = q > snap ? q - snap : 0;
    return (int)ceil(q - 1e-9);
}

/* Estimated completion (first token for LLMs): ep_pol_estimate plus the work sent since the
 * last sync, the instance's share stretched by the co-location slowdown of the instances
 * busy on its device (AlpaServe's runtime corrects its latency model by the measured ratio
 * in the same spirit). */
static ep_time
estimate(const ep_view *v, const ep_env *env, const ep_request_info *req,
         const ep_instance_view *iv, double pend)
{
    ep_dur move = v->delay(v, req->at_node, iv->node, req->bytes);
    ep_dur work = ep_pol_estimate(v, env, req, iv->id) - env->now - move;
    if (pend > 0) {
        const ep_service *svc = &v->sc->services[iv->spec.service];
        ep_dur per;
        if (svc->kind == EP_SVC_LLM) {
            double in = v->mean_input ? v->mean_input[iv->spec.service] : 0;
            if (in < 1)
                in = 512;
            per = ep_pol_llm_iteration(v, &iv->spec, (int64_t)in, in * in, 0, 0);
        } else {
            int mb = iv->spec.max_batch > 0 ? iv->spec.max_batch
                                            : max_batch(v->sc, iv->spec.service);
            per = ep_pol_dnn_batch(v, &iv->spec, mb, NULL) / mb;
        }
        work += (ep_dur)llround(pend * (double)per);
    }
    int k = 1;
    for (int i = 0; i < v->ninst; i++) {
        const ep_instance_view *o = &v->inst[i];
        if (o->id == iv->id || !o->ready || o->running == 0)
            continue;
        int shared = 0;
        for (int a = 0; a < o->spec.ndev && !shared; a++)
            for (int b = 0; b < iv->spec.ndev && !shared; b++)
                shared = o->spec.devs[a] == iv->spec.devs[b];
        k += shared;
    }
    if (k > 1)
        work = (ep_dur)llround((double)work * ep_cost_mt_slowdown(v->sc, k));
    return env->now + move + work;
}

static void
al_route(void *state, const ep_env *env, const ep_view *view, const ep_request_info *req,
         ep_route *out)
{
    alpa_state *st = state;
    int best = -1, bq = 0;
    ep_time bt = 0;
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *iv = &view->inst[i];
        if (iv->spec.service != req->service || !iv->ready)
            continue;
        double pend;
        int q = queue_len(st, view, env, req, iv, &pend);
        if (best >= 0 && q > bq)
            continue;
        ep_time t = estimate(view, env, req, iv, pend);
        if (best < 0 || q < bq || t < bt) {
            best = i;
            bq = q;
            bt = t;
        }
    }
    if (best < 0) {
        out->kind = EP_ROUTE_REJECT;
        out->reason = "no instance of the service";
        return;
    }
    if (st->admission && bt > req->deadline) {
        /* AlpaServe's group rejects what it cannot finish in time; fallback=1 first looks
         * for any instance that can. */
        int alt = -1;
        for (int i = 0; st->fallback && i < view->ninst; i++) {
            const ep_instance_view *iv = &view->inst[i];
            if (iv->spec.service != req->service || !iv->ready || i == best)
                continue;
            double pend;
            queue_len(st, view, env, req, iv, &pend);
            ep_time t = estimate(view, env, req, iv, pend);
            if (t <= req->deadline && (alt < 0 || t < bt)) {
                alt = i;
                bt = t;
            }
        }
        if (alt < 0) {
            out->kind = EP_ROUTE_REJECT;
            out->reason = "would miss its SLO (AlpaServe admission)";
            return;
        }
        best = alt;
    }
    const ep_instance_view *iv = &view->inst[best];
    if (iv->node != req->at_node) {
        track *t = slot(st, view, iv);
        t->q = drained(t, t->q, t->at, env->now) + 1;
        t->at = env->now;
    }
    out->kind = EP_ROUTE_DISPATCH;
    out->instance = iv->id;
}

static int
al_pick_batch(void *state, const ep_env *env, const ep_view *view, int instance,
              const ep_queue_view *q, int *drop_expired)
{
    (void)state;
    const ep_instance_view *iv = &view->inst[instance];
    int mb = iv->spec.max_batch > 0 ? iv->spec.max_batch : max_batch(view->sc, iv->spec.service);
    *drop_expired = 1;
    /* Over the requests left after the expired ones are dropped: grow the batch while it
     * meets every request in it that could meet its deadline alone. */
    ep_time now = env->now;
    ep_time t1 = now + ep_pol_dnn_batch(view, &iv->spec, 1, NULL);
    ep_time min_dl = EP_TIME_MAX;
    int b = 0, live = 0;
    for (int i = 0; i < q->n && live < mb; i++) {
        if (q->deadline[i] < now)
            continue;
        live++;
        if (q->deadline[i] >= t1 && q->deadline[i] < min_dl)
            min_dl = q->deadline[i];
        if (min_dl != EP_TIME_MAX && now + ep_pol_dnn_batch(view, &iv->spec, live, NULL) > min_dl)
            break;
        b = live;
    }
    return b > 0 ? b : (live > 0 ? 1 : (q->n < mb ? q->n : mb));
}

static void
al_categorize(void *state, const ep_view *view, int svc, ep_category *out)
{
    (void)state;
    ep_category_default(view, svc, out); /* reporting only: AlpaServe has no categories */
}

const ep_policy_ops ep_policy_alpaserve = {
        .name = "alpaserve",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(alpa_state),
        .summary = "AlpaServe (OSDI'23): simulation-guided model-parallel placement, "
                   "shortest-queue dispatch, SLO admission",
        .params = al_params,
        .init = al_init,
        .categorize = al_categorize,
        .place = al_place,
        .route = al_route,
        .pick_batch = al_pick_batch,
        .fini = al_fini,
};
