/* Run metrics (docs/architecture.md): per service and overall counts of outcomes, SLO attainment
 * and goodput over the measured window (arrivals in [warm-up, end - cool-down]; rejected,
 * dropped and unfinished requests count as misses). Latency quantiles come from log-linear
 * histograms (256 sub-buckets per power of two: relative error below 0.4%), so memory
 * does not grow with the number of requests; means are exact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "node_internal.h"

/* Latencies in ns: bucket = (power of two, 8-bit mantissa). Values below 256 ns are exact;
 * values past 2^46 ns (about 19.5 h) share the last bucket. */
#define SUB_BITS 8
#define SUB      (1 << SUB_BITS)
#define MAX_EXP  46
#define NBUCKETS ((MAX_EXP - SUB_BITS + 2) * SUB)

typedef struct hist {
    uint32_t *b; /* NBUCKETS counts, allocated on first use */
    int64_t n;
    double sum_s;
} hist;

static int
bucket_of(int64_t v)
{
    if (v < SUB)
        return v < 0 ? 0 : (int)v;
    int e = 63 - __builtin_clzll((unsigned long long)v); /* v in [2^e, 2^(e+1)) */
    if (e > MAX_EXP)
        return NBUCKETS - 1;
    int mant = (int)((v >> (e - SUB_BITS)) & (SUB - 1));
    return (e - SUB_BITS + 1) * SUB + mant;
}

/* Midpoint of a bucket, in ns. */
static double
bucket_mid(int i)
{
    if (i < SUB)
        return i;
    int e = i / SUB + SUB_BITS - 1, mant = i % SUB;
    double lo = ldexp(1.0, e) + (double)mant * ldexp(1.0, e - SUB_BITS);
    return lo + ldexp(1.0, e - SUB_BITS) / 2;
}

typedef struct svc_acc {
    int64_t requests, completed, rejected, dropped, unfinished, slo_met;
    hist lat, ttft, tpot;
} svc_acc;

struct node_metrics {
    int n;
    svc_acc *s;
    hist all_lat;
    int oom;
};

static void
push(struct node_metrics *m, hist *h, ep_dur v)
{
    if (!h->b && !(h->b = calloc(NBUCKETS, sizeof *h->b))) {
        m->oom = 1;
        return;
    }
    h->b[bucket_of(v)]++;
    h->n++;
    h->sum_s += ep_dur_to_s(v);
}

struct node_metrics *
node_metrics_new(int nservices)
{
    struct node_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->n = nservices;
    m->s = calloc((size_t)nservices + 1, sizeof *m->s);
    if (!m->s) {
        free(m);
        return NULL;
    }
    return m;
}

void
node_metrics_free(struct node_metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        free(m->s[i].lat.b);
        free(m->s[i].ttft.b);
        free(m->s[i].tpot.b);
    }
    free(m->s);
    free(m->all_lat.b);
    free(m);
}

void
node_metrics_add(struct node_metrics *m, const ep_scenario *sc, const ep_record *r)
{
    if (!r->in_window)
        return;
    svc_acc *a = &m->s[r->service];
    a->requests++;
    switch (r->outcome) {
    case EP_OUT_COMPLETED: {
        a->completed++;
        ep_dur lat = r->done - r->arrival;
        push(m, &a->lat, lat);
        push(m, &m->all_lat, lat);
        if (sc->services[r->service].kind == EP_SVC_LLM) {
            push(m, &a->ttft, r->first_token - r->arrival);
            if (r->output > 1)
                push(m, &a->tpot, (r->done - r->first_token) / (r->output - 1));
        }
        break;
    }
    case EP_OUT_REJECTED:
        a->rejected++;
        break;
    case EP_OUT_DROPPED:
        a->dropped++;
        break;
    default:
        a->unfinished++;
        break;
    }
    a->slo_met += r->slo_met;
}

/* The p-quantile in seconds: the bucket holding the ceil(p n)-th smallest value. */
static double
q(const hist *h, double p)
{
    if (h->n == 0)
        return NAN;
    int64_t rank = (int64_t)ceil(p * (double)h->n);
    if (rank < 1)
        rank = 1;
    int64_t seen = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank)
            return bucket_mid(i) / 1e9;
    }
    return bucket_mid(NBUCKETS - 1) / 1e9;
}

static double
mean(const hist *h)
{
    return h->n ? h->sum_s / (double)h->n : NAN;
}

int
node_metrics_finish(struct node_metrics *m, const ep_scenario *sc, ep_run_result *res)
{
    if (m->oom)
        return EP_ENOMEM;
    (void)sc;
    double w = res->window_s > 0 ? res->window_s : 1;
    for (int i = 0; i < m->n; i++) {
        svc_acc *a = &m->s[i];
        ep_run_service_stats *o = &res->svc[i];
        o->requests = a->requests;
        o->completed = a->completed;
        o->rejected = a->rejected;
        o->dropped = a->dropped;
        o->unfinished = a->unfinished;
        o->slo_met = a->slo_met;
        o->goodput_per_s = (double)a->slo_met / w;
        o->slo_attainment = a->requests ? (double)a->slo_met / (double)a->requests : NAN;
        o->p50_latency_s = q(&a->lat, 0.5);
        o->p90_latency_s = q(&a->lat, 0.9);
        o->p99_latency_s = q(&a->lat, 0.99);
        o->mean_latency_s = mean(&a->lat);
        o->p50_ttft_s = q(&a->ttft, 0.5);
        o->p99_ttft_s = q(&a->ttft, 0.99);
        o->p50_tpot_s = q(&a->tpot, 0.5);
        o->p99_tpot_s = q(&a->tpot, 0.99);
        res->requests += a->requests;
        res->completed += a->completed;
        res->rejected += a->rejected;
        res->dropped += a->dropped;
        res->unfinished += a->unfinished;
        res->slo_met += a->slo_met;
    }
    res->goodput_per_s = (double)res->slo_met / w;
    res->slo_attainment = res->requests ? (double)res->slo_met / (double)res->requests : NAN;
    res->p50_latency_s = q(&m->all_lat, 0.5);
    res->p90_latency_s = q(&m->all_lat, 0.9);
    res->p99_latency_s = q(&m->all_lat, 0.99);
    res->mean_latency_s = mean(&m->all_lat);
    return 0;
}
