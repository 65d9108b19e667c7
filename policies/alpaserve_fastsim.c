/* alpaserve's fast simulator (after AlpaServe's simulator/): the latency and occupancy of
 * one replica at each co-location level, the sampled workload, and the replay that scores a
 * placement. Policy description: alpaserve.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alpaserve_internal.h"
#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

/* --- the fast simulator's model of one replica ----------------------------------------------- */

ep_instance_spec
alpa_spec_of(int svc, const alpa_grp *g)
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

int
alpa_max_batch(const ep_scenario *sc, int svc)
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

/* The KV-cache tokens an LLM replica of spec sp reserves to carry x requests per second
 * within its SLO: the smallest running batch whose SLO capacity (ep_pol_capacity_at: alone,
 * with the KV cache its devices hold) reaches x, capped at its SLO batch (the batch
 * ep_pol_capacity's throughput assumes), times (mean input + mean output); 0 when it meets
 * the SLO at no batch. */
int64_t
alpa_planned_kv_tokens(const ep_view *v, const ep_instance_spec *sp, double x)
{
    int b = 0, reach = 0;
    double in, o;
    mean_tokens(v, sp->service, &in, &o);
    if (ep_pol_capacity_at(v, sp, 1, -1, x, 0, &b, &reach) <= 0 || reach < 1)
        return 0;
    return (int64_t)ceil((double)reach * (in + o));
}

/* Mean one-way request delay from the service's ingress nodes to node `to`, plus the
 * response's way back (DNN: a 1 KB result, LLM: one token). */
static double
net_delay(const alpa_ctx *c, int svc, int to)
{
    const ep_scenario *sc = c->sc;
    const ep_service *s = &sc->services[svc];
    double in = c->v->mean_input ? c->v->mean_input[svc] : 0;
    int64_t req, resp;
    if (s->kind == EP_SVC_LLM) {
        int64_t bpt = s->bytes_per_token > 0 ? s->bytes_per_token : 4;
        req = (int64_t)((in > 0 ? in : EP_DEFAULT_INPUT_TOKENS) * (double)bpt);
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

/* kv: the KV-cache tokens the replica reserves (alpa_planned_kv_tokens). */
static void
llm_params(const alpa_ctx *c, const ep_instance_spec *sp, const double *slow, double net,
           int64_t kv, alpa_rparam *out)
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
     * 1 / slow, TPOT and prefill by slow. With kv the reserved cache, level 1 (alone)
     * carries at least the rate it reserved for; busier levels keep smaller batches. */
    int mb = alpa_max_batch(c->sc, sp->service);
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
dnn_params(const alpa_ctx *c, const ep_instance_spec *sp, const double *slow, double net,
           alpa_rparam *out)
{
    const ep_service *svc = &c->sc->services[sp->service];
    double limit = (double)(svc->slo.fps > 0 ? svc->slo.frame_deadline : svc->slo.deadline) / 1e9;
    double best[KMAX] = {0};
    int mb = alpa_max_batch(c->sc, sp->service);
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
 * per device, when it is to carry x requests per second running batches of at most
 * max_batch (0: the service's). An LLM replica reserves the KV cache of the smallest batch
 * that carries x within its SLO (alpa_planned_kv_tokens) and is modelled with that cache:
 * placement (fits()) guarantees the host gives it at least as much. */
void
alpa_replica_params(const alpa_ctx *c, int svc, const alpa_grp *g, double x, int max_batch,
                    alpa_rparam *out)
{
    memset(out, 0, sizeof *out);
    double slow[KMAX];
    for (int k = 0; k < KMAX; k++)
        slow[k] = ep_cost_mt_slowdown(c->sc, k + 1);
    ep_instance_spec sp = alpa_spec_of(svc, g);
    const ep_service *s = &c->sc->services[svc];
    double net = net_delay(c, svc, c->sc->devices[g->devs[0]].node);
    out->mem = (double)ep_cost_instance_mem(c->sc, svc, g->ndev);
    if (s->kind == EP_SVC_LLM) {
        ep_instance_spec capped = sp;
        capped.max_batch = max_batch;
        int64_t kv = alpa_planned_kv_tokens(c->v, &capped, x);
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
    const alpa_smp *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->idx - y->idx;
}

static int
push_smp(alpa_ctx *c, double t, double w, int svc)
{
    if (c->n == c->cap) {
        int nc = c->cap ? c->cap * 2 : 4096;
        alpa_smp *s = realloc(c->s, (size_t)nc * sizeof *s);
        if (!s)
            return EP_ENOMEM;
        c->s = s;
        c->cap = nc;
    }
    c->s[c->n] = (alpa_smp){t, w, svc, c->n};
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
int
alpa_sample(alpa_ctx *c, const alpa_state *st, ep_rng *rng)
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

/* Co-location level of svc's replica on group g: 1 + the expected number of busy other
 * instances there, each service's rate split evenly over its replicas. An LLM instance
 * serves its requests concurrently (continuous batching, an M/G/inf queue): busy with
 * probability 1 - exp(-lambda R), R a lone request's residence; a DNN instance serves
 * batches one at a time: busy lambda x batch-1 time of the time. */
static int
level(const alpa_ctx *c, int svc, int g)
{
    double sum = 0;
    for (int j = 0; j < c->ns; j++) {
        if (j == svc || !(c->gm[g] >> j & 1))
            continue;
        double x = c->rate[j] / (c->nrep[j] > 0 ? c->nrep[j] : 1) * alpa_par(c, j, g)->busy;
        sum += c->sc->services[j].kind == EP_SVC_LLM ? 1 - exp(-x) : (x < 1 ? x : 1);
    }
    int k = 1 + (int)lround(sum);
    return k > KMAX ? KMAX : k;
}

/* Replays the sample for the services in `mask` on the current replicas: each request goes
 * to the replica free earliest; it meets its SLO there or is dropped at no cost (AlpaServe's
 * fast simulator). Writes good weight and latency sums of those services. */
void
alpa_eval(alpa_ctx *c, uint64_t mask, double *good, double *lsum)
{
    int ng = c->ng;
    for (int s = 0; s < c->ns; s++) {
        if (!(mask >> s & 1))
            continue;
        good[s] = lsum[s] = 0;
        for (int k = 0; k < c->nrep[s]; k++) {
            int g = c->rep[s * ng + k], r = s * ng + g, lv = level(c, s, g) - 1;
            c->lat[r] = alpa_par(c, s, g)->lat[lv];
            c->occ[r] = alpa_par(c, s, g)->occ[lv];
            c->clk[r] = 0;
        }
    }
    for (int i = 0; i < c->n; i++) {
        const alpa_smp *q = &c->s[i];
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
double
alpa_score(const alpa_ctx *c, const double *good, const double *lsum, int reps)
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
