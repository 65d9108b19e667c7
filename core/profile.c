/* Execution-cost model (node/README.md, "Model"; epara/core/profile.h): a profile table from the
 * scenario when one covers the question, else an estimate from the device and model specs. Pure
 * functions of the scenario. Every duration is rounded to the nearest ns and saturates: it is never
 * negative and never exceeds EP_TIME_MAX. */
#include <math.h>

#include "epara/core/error.h"
#include "epara/core/profile.h"

/* Stand-ins for node and spec fields left at 0 (assumptions; the model's constants are in
 * epara/core/profile.h). */
#define DEFAULT_INTRA_BW 32e9 /* bytes/s, a PCIe 4.0 x16-class path between devices */
#define DEFAULT_LOAD_BW  2e9  /* bytes/s, an NVMe-class disk */

/* Share of a measured decode step at ctx_ref context that is taken to grow in proportion to
 * the context (KV reads, attention); the rest (weights, launches) is fixed. */
#define DECODE_CTX_SHARE 0.5

/* Largest ns count a double is converted from; just below INT64_MAX so that rounding is
 * defined. Anything at or beyond it saturates. */
#define NS_SATURATE 9.2e18

static ep_dur
round_ns(double ns)
{
    if (!(ns > 0)) /* negative, zero or NaN */
        return 0;
    if (ns >= NS_SATURATE)
        return EP_TIME_MAX;
    return ep_round_i64(ns);
}

static ep_dur
sat_add(ep_dur a, ep_dur b)
{
    if (a < 0)
        a = 0;
    if (b < 0)
        b = 0;
    return a > EP_TIME_MAX - b ? EP_TIME_MAX : a + b;
}

static double
or_default(double v, double dflt)
{
    return v > 0 ? v : dflt;
}

static const ep_device_spec *
spec_at(const ep_scenario *sc, int spec)
{
    EP_ASSERT(sc && spec >= 0 && spec < sc->nspecs);
    const ep_device_spec *d = &sc->specs[spec];
    /* The scenario loader refuses specs without these; a 0 here is a bug, not input. */
    EP_ASSERT(d->peak_flops > 0 && d->mem_bw_bytes_per_s > 0);
    return d;
}

static const ep_service *
service_at(const ep_scenario *sc, int svc)
{
    EP_ASSERT(sc && svc >= 0 && svc < sc->nservices);
    return &sc->services[svc];
}

static double
mem_eff(const ep_device_spec *d)
{
    return or_default(d->mem_eff, EP_DEFAULT_MEM_EFF);
}

static double
attn_eff_max(const ep_device_spec *d)
{
    return or_default(d->attn_eff, EP_DEFAULT_ATTN_EFF);
}

/* DNN: max(flops / (peak x dnn_eff), bytes / (bw x mem_eff)) + batch_overhead. */
static ep_dur
dnn_roofline(const ep_device_spec *d, double flops, double bytes)
{
    double compute_s = flops / (d->peak_flops * or_default(d->dnn_eff, EP_DEFAULT_DNN_EFF));
    double memory_s = bytes / (d->mem_bw_bytes_per_s * mem_eff(d));
    return sat_add(round_ns(fmax(compute_s, memory_s) * 1e9), d->batch_overhead);
}

typedef enum table_part { PART_MAIN, PART_DECODE } table_part;

/* The first table for (svc, spec) with points for the given part (PART_MAIN: DNN batch or
 * LLM prefill; PART_DECODE: LLM decode), or NULL. The scenario puts measured tables before
 * shipped ones, so the first match is the most trusted. */
static const ep_profile_table *
find_table(const ep_scenario *sc, int svc, int spec, table_part part)
{
    for (int i = 0; i < sc->nprofiles; i++) {
        const ep_profile_table *t = &sc->profiles[i];
        if (t->service != svc || t->spec != spec)
            continue;
        EP_ASSERT(t->n >= 0 && t->n <= EP_PROFILE_POINTS);
        EP_ASSERT(t->m >= 0 && t->m <= EP_PROFILE_POINTS);
        if ((part == PART_MAIN ? t->n : t->m) > 0)
            return t;
    }
    return NULL;
}

ep_dur
ep_interp(const int64_t *x, const ep_dur *y, int n, double v)
{
    EP_ASSERT(x && y && n >= 1 && !isnan(v));
    if (n == 1)
        return y[0] > 0 ? y[0] : 0;
    /* Segment i .. i+1: the first one below x[1], the last one above x[n-2], else the one
     * with x[i] <= v < x[i+1] (binary search). */
    int lo = 0, hi = n - 2;
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if ((double)x[mid] <= v)
            lo = mid;
        else
            hi = mid - 1;
    }
    double x0 = (double)x[lo], x1 = (double)x[lo + 1];
    double y0 = (double)y[lo], y1 = (double)y[lo + 1];
    if (!(x1 > x0)) /* a table that is not increasing: the loader should refuse it */
        return round_ns(y1);
    return round_ns(y0 + (y1 - y0) * ((v - x0) / (x1 - x0)));
}

ep_dur
ep_cost_dnn_batch(const ep_scenario *sc, int svc, int spec, int batch)
{
    const ep_device_spec *d = spec_at(sc, spec);
    const ep_service *s = service_at(sc, svc);
    if (batch < 1)
        return 0;
    const ep_profile_table *t = find_table(sc, svc, spec, PART_MAIN);
    if (t)
        return ep_interp(t->x, t->y, t->n, (double)batch);
    double flops = (double)batch * s->flops_per_item;
    /* Weights read once; activations written and read once per item. */
    double bytes = (double)s->weights_bytes + 2.0 * batch * (double)s->act_bytes_per_item;
    return dnn_roofline(d, flops, bytes);
}

/* Seconds of the attention part of an LLM iteration (epara/core/profile.h). Causal prefill
 * attention: QK^T and AV over half the L x L square, 2 FLOPs per MAC: 2 x layers x hidden x
 * L^2, at an efficiency that grows with the prompt (short prompts leave the tensor cores
 * idle). Decode: QK^T and AV over the whole context, 4 x layers x hidden x ctx FLOPs, bound
 * by reading the KV, at a bandwidth efficiency that grows with the batch; each new token
 * also writes its KV. */
static double
llm_attention_s(const ep_device_spec *d, const ep_service *s, int64_t prefill_tokens,
                double prefill_sq, int decode_batch, int64_t ctx_tokens)
{
    double lh = (double)s->layers * (double)s->hidden;
    double bw = d->mem_bw_bytes_per_s, kv = (double)s->kv_bytes_per_token;
    double amax = attn_eff_max(d), t = 0;
    if (prefill_tokens > 0 && prefill_sq > 0) {
        /* eff = amax x len / (len + half), len = sq / tokens: FLOPs / (peak x eff) is
         * 2 lh sq (sq + half x tokens) / (peak x amax x sq). */
        double half = or_default(d->attn_half_tokens, EP_DEFAULT_ATTN_HALF_TOKENS);
        t += fmax(2.0 * lh * (prefill_sq + half * (double)prefill_tokens) / (d->peak_flops * amax),
                  kv * (double)prefill_tokens / (bw * mem_eff(d)));
    }
    if (decode_batch > 0) {
        /* eff = kv_eff x b / (b + half). */
        double b = (double)decode_batch;
        double half = or_default(d->kv_half_batch, EP_DEFAULT_KV_HALF_BATCH);
        double ke = or_default(d->kv_eff, EP_DEFAULT_KV_EFF);
        t += fmax(4.0 * lh * (double)ctx_tokens / (d->peak_flops * amax),
                  kv * ((double)ctx_tokens + b) * (b + half) / (bw * ke * b));
    }
    return t;
}

/* (1 + r^2.5)^(1/2.5) for 0 <= r <= 1: blend(c, m) / max(c, m) (epara/core/profile.h). Away
 * from the knee (r^2.5 < 0.01, most iterations) a 4-term binomial series, exact to 1e-11,
 * instead of pow. */
static double
blend_factor(double r)
{
    double t = r * r * sqrt(r);
    if (t < 0.01)
        return 1.0 + t * (0.4 + t * (-0.12 + t * (0.064 - t * 0.0416)));
    return pow(1.0 + t, 1.0 / EP_ROOFLINE_BLEND);
}

/* Estimate of one LLM iteration; see epara/core/profile.h. */
static ep_dur
llm_estimate(const ep_device_spec *d, const ep_service *s, int64_t prefill_tokens,
             double prefill_sq, int decode_batch, int64_t ctx_tokens)
{
    double new_tokens = (double)prefill_tokens + (double)decode_batch;
    /* Sequences that produce a token: the prefilled prompts count as one (the signature has
     * no count; the LM head is small beside the prompt's GEMMs). */
    double seqs = (double)decode_batch + (prefill_tokens > 0);
    double emb = s->vocab > 0 ? (double)s->vocab * (double)s->hidden : 0.0;
    double gemm_params = fmax(s->params - emb * (s->tied_embeddings ? 1.0 : 2.0), 0.0);
    double gemm_flops = 2.0 * gemm_params * new_tokens + 2.0 * emb * seqs;
    /* The embedding is a lookup: only an untied table is left unread. */
    double weights = (double)s->weights_bytes;
    if (emb > 0 && !s->tied_embeddings && s->params > 0)
        weights = fmax(weights * (1.0 - emb / s->params), 0.0);
    double inv_bw = 1.0 / (d->mem_bw_bytes_per_s * mem_eff(d));
    double c = gemm_flops / (d->peak_flops * or_default(d->compute_eff, EP_DEFAULT_COMPUTE_EFF));
    double m = weights * inv_bw;
    double hi = fmax(c, m);
    double gemm_s = hi > 0 ? hi * blend_factor(fmin(c, m) / hi) : 0;
    double floor_s =
            (double)(d->kernel_floor > 0 ? d->kernel_floor : EP_DEFAULT_KERNEL_FLOOR_NS) * 1e-9;
    double small_s =
            (double)s->layers * fmax(floor_s, new_tokens * EP_ELEMENTWISE_BYTES_PER_HIDDEN *
                                                      (double)s->hidden * inv_bw);
    double t = gemm_s + small_s +
               llm_attention_s(d, s, prefill_tokens, prefill_sq, decode_batch, ctx_tokens);
    return sat_add(round_ns(t * 1e9), d->batch_overhead);
}

/* Decode step from a table measured at ctx_ref tokens per request: the DECODE_CTX_SHARE of
 * it scales with the actual context per request, so
 *   step = dy(batch) x (1 + 0.5 x (ctx_per_req / ctx_ref - 1)), at least 0.5 x dy(batch).
 * Without a ctx_ref the table value is used as is. */
static ep_dur
decode_from_table(const ep_profile_table *t, int batch, int64_t ctx_tokens)
{
    ep_dur base = ep_interp(t->dx, t->dy, t->m, (double)batch);
    if (t->ctx_ref <= 0)
        return base;
    double per_req = (double)ctx_tokens / (double)batch;
    double factor = 1.0 + DECODE_CTX_SHARE * (per_req / (double)t->ctx_ref - 1.0);
    if (factor < 1.0 - DECODE_CTX_SHARE)
        factor = 1.0 - DECODE_CTX_SHARE;
    return round_ns((double)base * factor);
}

/* With tables, the prefill part comes from (x, y) at prefill_tokens and the decode part from
 * decode_from_table; a part without a table is estimated alone; the parts
 * add up (each already includes its overhead). Without any table for the parts present,
 * one joint estimate reads the weights once. An empty iteration costs 0. */
ep_dur
ep_cost_llm_iteration(const ep_scenario *sc, int svc, int spec, int64_t prefill_tokens,
                      double prefill_sq, int decode_batch, int64_t ctx_tokens)
{
    const ep_device_spec *d = spec_at(sc, spec);
    const ep_service *s = service_at(sc, svc);
    EP_ASSERT(prefill_tokens >= 0 && prefill_sq >= 0 && decode_batch >= 0 && ctx_tokens >= 0);
    if (prefill_tokens == 0 && decode_batch == 0)
        return 0;
    const ep_profile_table *pt = prefill_tokens > 0 ? find_table(sc, svc, spec, PART_MAIN) : NULL;
    const ep_profile_table *dt = decode_batch > 0 ? find_table(sc, svc, spec, PART_DECODE) : NULL;
    if (!pt && !dt)
        return llm_estimate(d, s, prefill_tokens, prefill_sq, decode_batch, ctx_tokens);
    ep_dur t = 0;
    if (prefill_tokens > 0)
        t = sat_add(t, pt ? ep_interp(pt->x, pt->y, pt->n, (double)prefill_tokens)
                          : llm_estimate(d, s, prefill_tokens, prefill_sq, 0, 0));
    if (decode_batch > 0)
        t = sat_add(t, dt ? decode_from_table(dt, decode_batch, ctx_tokens)
                          : llm_estimate(d, s, 0, 0, decode_batch, ctx_tokens));
    return t;
}

ep_dur
ep_cost_llm_attention(const ep_scenario *sc, int svc, int spec, int64_t prefill_tokens,
                      double prefill_sq, int decode_batch, int64_t ctx_tokens)
{
    EP_ASSERT(prefill_tokens >= 0 && prefill_sq >= 0 && decode_batch >= 0 && ctx_tokens >= 0);
    return round_ns(llm_attention_s(spec_at(sc, spec), service_at(sc, svc), prefill_tokens,
                                    prefill_sq, decode_batch, ctx_tokens) *
                    1e9);
}

ep_dur
ep_cost_llm_prefill(const ep_scenario *sc, int svc, int spec, int64_t tokens)
{
    return ep_cost_llm_iteration(sc, svc, spec, tokens, (double)tokens * (double)tokens, 0, 0);
}

ep_dur
ep_cost_llm_decode(const ep_scenario *sc, int svc, int spec, int batch, int64_t ctx_tokens)
{
    return ep_cost_llm_iteration(sc, svc, spec, 0, 0, batch, ctx_tokens);
}

ep_dur
ep_cost_tp(const ep_scenario *sc, int svc, int node, int tp, ep_dur single, int64_t act_bytes)
{
    const ep_service *s = service_at(sc, svc);
    EP_ASSERT(node >= 0 && node < sc->nnodes);
    EP_ASSERT(tp >= 1 && single >= 0 && act_bytes >= 0);
    if (tp == 1)
        return single;
    double bw = or_default(sc->nodes[node].intra_bw_bytes_per_s, DEFAULT_INTRA_BW);
    double layers = s->layers > 0 ? (double)s->layers : 0.0;
    /* Two all-reduces per layer; a ring all-reduce moves 2 (tp-1)/tp of the bytes per device. */
    double ring = 2.0 * (double)(tp - 1) / (double)tp;
    double comm_s = 2.0 * layers * ring * (double)act_bytes / bw;
    return round_ns((double)single / (double)tp + comm_s * 1e9);
}

int64_t
ep_cost_kv_capacity_tokens(const ep_scenario *sc, int svc, int spec, int ndev)
{
    const ep_device_spec *d = spec_at(sc, spec);
    const ep_service *s = service_at(sc, svc);
    if (ndev < 1 || s->kv_bytes_per_token <= 0 || d->mem_bytes <= 0)
        return 0;
    double budget = floor((double)ndev * (double)d->mem_bytes *
                          or_default(d->mem_util, EP_DEFAULT_MEM_UTIL));
    if (budget >= NS_SATURATE) /* not time, but the same int64 limit */
        budget = NS_SATURATE;
    /* Integers from here on, so the floor is exact. */
    int64_t free_bytes = (int64_t)budget - (s->weights_bytes > 0 ? s->weights_bytes : 0);
    int64_t reserve = s->act_bytes_reserve > 0 ? s->act_bytes_reserve : 0;
    if (free_bytes <= 0 || reserve > free_bytes / ndev)
        return 0;
    free_bytes -= (int64_t)ndev * reserve;
    return free_bytes / s->kv_bytes_per_token;
}

int64_t
ep_cost_instance_mem(const ep_scenario *sc, int svc, int ndev)
{
    const ep_service *s = service_at(sc, svc);
    EP_ASSERT(ndev >= 1);
    int64_t w = s->weights_bytes > 0 ? s->weights_bytes : 0;
    int64_t r = s->act_bytes_reserve > 0 ? s->act_bytes_reserve : 0;
    /* Round the share up: ndev shares never hold less than the whole. */
    int64_t share = w / ndev + (w % ndev != 0);
    return share > INT64_MAX - r ? INT64_MAX : share + r;
}

ep_dur
ep_cost_load(const ep_scenario *sc, int svc, int spec, int ndev)
{
    const ep_device_spec *d = spec_at(sc, spec);
    const ep_service *s = service_at(sc, svc);
    EP_ASSERT(ndev >= 1);
    double bw = or_default(d->load_bw_bytes_per_s, DEFAULT_LOAD_BW);
    return round_ns((double)s->weights_bytes / (double)ndev / bw * 1e9);
}

/* Table entries at or below 0 are missing. A missing entry at k is extrapolated linearly from
 * the last two entries present below k (entry k = 1 counts as 1.0 when missing); with fewer
 * than two such points the slowdown is 1. Extrapolated values never drop below 1. */
double
ep_cost_mt_slowdown(const ep_scenario *sc, int k)
{
    EP_ASSERT(sc);
    const int nmt = (int)EP_ARRAY_LEN(sc->mt_slowdown);
    if (k <= 1)
        return 1.0;
    if (k <= nmt && sc->mt_slowdown[k - 1] > 0)
        return sc->mt_slowdown[k - 1];
    int lim = k - 1 < nmt ? k - 1 : nmt; /* entries 0 .. lim-1 lie below k */
    int a = -1, b = -1;                  /* the last two indexes present, a < b */
    for (int i = 0; i < lim; i++) {
        if (sc->mt_slowdown[i] > 0 || i == 0) {
            a = b;
            b = i;
        }
    }
    if (a < 0)
        return 1.0;
    double ya = sc->mt_slowdown[a] > 0 ? sc->mt_slowdown[a] : 1.0;
    double yb = sc->mt_slowdown[b] > 0 ? sc->mt_slowdown[b] : 1.0;
    /* Index i holds k = i + 1. */
    double v = yb + (yb - ya) / (double)(b - a) * (double)(k - 1 - b);
    return v > 1.0 ? v : 1.0;
}
