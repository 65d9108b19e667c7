/* Run metrics (DESIGN.md §6): per service and overall counts of outcomes, SLO attainment
 * and goodput over the measured window (arrivals in [warm-up, end - cool-down); rejected,
 * dropped and unfinished requests count as misses), and exact latency quantiles. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "epara/error.h"
#include "sim_internal.h"

typedef struct dvec {
    double *v;
    size_t n, cap;
} dvec;

typedef struct svc_acc {
    int64_t requests, completed, rejected, dropped, unfinished, slo_met;
    dvec lat, ttft, tpot;
} svc_acc;

struct sim_metrics {
    int n;
    svc_acc *s;
    dvec all_lat;
    int oom;
};

static void
push(struct sim_metrics *m, dvec *a, double x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        double *v = realloc(a->v, cap * sizeof *v);
        if (!v) {
            m->oom = 1;
            return;
        }
        a->v = v;
        a->cap = cap;
    }
    a->v[a->n++] = x;
}

struct sim_metrics *
sim_metrics_new(int nservices)
{
    struct sim_metrics *m = calloc(1, sizeof *m);
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
sim_metrics_free(struct sim_metrics *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        free(m->s[i].lat.v);
        free(m->s[i].ttft.v);
        free(m->s[i].tpot.v);
    }
    free(m->s);
    free(m->all_lat.v);
    free(m);
}

void
sim_metrics_add(struct sim_metrics *m, const ep_scenario *sc, const ep_record *r)
{
    if (!r->in_window)
        return;
    svc_acc *a = &m->s[r->service];
    a->requests++;
    switch (r->outcome) {
    case EP_OUT_COMPLETED: {
        a->completed++;
        double lat = ep_dur_to_s(r->done - r->arrival);
        push(m, &a->lat, lat);
        push(m, &m->all_lat, lat);
        if (sc->services[r->service].kind == EP_SVC_LLM) {
            push(m, &a->ttft, ep_dur_to_s(r->first_token - r->arrival));
            if (r->output > 1)
                push(m, &a->tpot, ep_dur_to_s(r->done - r->first_token) / (double)(r->output - 1));
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

static double
q(dvec *a, double p)
{
    return a->n ? gsl_stats_quantile_from_sorted_data(a->v, 1, a->n, p) : NAN;
}

static double
mean(dvec *a)
{
    return a->n ? gsl_stats_mean(a->v, 1, a->n) : NAN;
}

void
sim_metrics_finish(struct sim_metrics *m, const ep_scenario *sc, ep_sim_result *res)
{
    (void)sc;
    double w = res->window_s > 0 ? res->window_s : 1;
    for (int i = 0; i < m->n; i++) {
        svc_acc *a = &m->s[i];
        ep_sim_service_stats *o = &res->svc[i];
        o->requests = a->requests;
        o->completed = a->completed;
        o->rejected = a->rejected;
        o->dropped = a->dropped;
        o->unfinished = a->unfinished;
        o->slo_met = a->slo_met;
        o->goodput_per_s = (double)a->slo_met / w;
        o->slo_attainment = a->requests ? (double)a->slo_met / (double)a->requests : NAN;
        gsl_sort(a->lat.v, 1, a->lat.n);
        gsl_sort(a->ttft.v, 1, a->ttft.n);
        gsl_sort(a->tpot.v, 1, a->tpot.n);
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
    gsl_sort(m->all_lat.v, 1, m->all_lat.n);
    res->p50_latency_s = q(&m->all_lat, 0.5);
    res->p90_latency_s = q(&m->all_lat, 0.9);
    res->p99_latency_s = q(&m->all_lat, 0.99);
    res->mean_latency_s = mean(&m->all_lat);
}
