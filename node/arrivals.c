/* Workload replay (epara/node/arrivals.h): a trace's rows as run-time arrivals, time-compressed by
 * the rate scale and tiled copy after copy until the run's end. Invariant: arrivals come out
 * in non-decreasing time within one workload, and copy k + 1 starts one mean gap after the
 * last row of copy k. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/node/arrivals.h"

double
ep_arrivals_scale(const ep_workload *w, double rate_scale)
{
    double rs = rate_scale > 0 ? rate_scale : 1.0;
    return w->time_scale / (w->rate_scale * rs);
}

/* The first row's trace time (0 for an empty trace). */
static int
first_time(ep_store *st, const char *trace, ep_time *out)
{
    ep_trace_reader *r;
    ep_trace_row row;
    int rc = ep_trace_reader_open(st, trace, 0, EP_TIME_MAX, &r);
    if (rc)
        return rc;
    rc = ep_trace_reader_next(r, &row);
    ep_trace_reader_close(r);
    if (rc < 0)
        return rc;
    *out = rc == 1 ? row.arrival : 0;
    return 0;
}

/* Trace ns between copies of w's trace (meta m, first row at `first`); 0: it plays once. A
 * copy repeats the trace from its origin: [0, last row] and one mean gap (a generated
 * trace's lead before its first row is part of its arrival process; an imported one starts
 * at 0). A trace the scenario's generator made covers the generator's whole duration,
 * however early its last row came (a very bursty process may put all its rows in one
 * burst). */
static double
tile_period(const ep_workload *w, const ep_trace_meta *m, ep_time first)
{
    if (w->once || m->rows < 1)
        return 0;
    double last = (double)first + (double)m->span, len = last + last / (double)m->rows;
    const ep_trace_origin *o = w->origin;
    if (o && o->has_gen && strncmp(m->format, "gen-", 4) == 0 && (double)o->gen.duration > len)
        len = (double)o->gen.duration;
    return len;
}

int
ep_arrivals_open(ep_arrivals *rp, ep_store *st, const ep_workload *w, double rate_scale,
                 ep_time until)
{
    ep_trace_meta m;
    ep_time first;
    ep_trace_reader *r;
    int rc = ep_trace_meta_get(st, w->trace, &m);
    if (rc == 0)
        rc = first_time(st, w->trace, &first);
    if (rc == 0)
        rc = ep_trace_reader_open(st, w->trace, 0, EP_TIME_MAX, &r);
    if (rc)
        return rc;
    memset(rp, 0, sizeof *rp);
    rp->st = st;
    rp->w = w;
    rp->r = r;
    rp->scale = ep_arrivals_scale(w, rate_scale);
    rp->rows = m.rows;
    rp->until = until;
    rp->first = first;
    rp->period = tile_period(w, &m, first);
    return 0;
}

int
ep_arrivals_next(ep_arrivals *rp, ep_trace_row *row, ep_time *at)
{
    for (;;) {
        if (!rp->r)
            return 0;
        int rc = ep_trace_reader_next(rp->r, row);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            double t = (double)rp->w->offset +
                       ((double)row->arrival + (double)rp->copy * rp->period) * rp->scale;
            if (!(t < (double)rp->until)) {
                ep_trace_reader_close(rp->r);
                rp->r = NULL;
                return 0;
            }
            if (rp->copy > 0 && row->frame != EP_TRACE_NONE)
                row->frame += rp->copy * rp->rows;
            *at = (ep_time)llround(t);
            return 1;
        }
        /* End of this copy: the next one starts one mean gap after its last row. */
        ep_trace_reader_close(rp->r);
        rp->r = NULL;
        if (rp->period <= 0)
            return 0;
        rp->copy++;
        double t0 = (double)rp->w->offset +
                    ((double)rp->first + (double)rp->copy * rp->period) * rp->scale;
        if (!(t0 < (double)rp->until))
            return 0;
        if ((rc = ep_trace_reader_open(rp->st, rp->w->trace, 0, EP_TIME_MAX, &rp->r)) != 0)
            return rc < 0 ? rc : EP_EDB;
    }
}

void
ep_arrivals_close(ep_arrivals *rp)
{
    if (rp && rp->r) {
        ep_trace_reader_close(rp->r);
        rp->r = NULL;
    }
}

int
ep_arrivals_end(ep_store *st, const ep_scenario *sc, double rate_scale, ep_dur duration,
                ep_time *end, const char **bad)
{
    ep_time cutoff = duration > 0 ? duration : EP_TIME_MAX, last = 0;
    for (int i = 0; i < sc->nworkloads; i++) {
        const ep_workload *w = &sc->workloads[i];
        *bad = w->trace;
        if (w->ningress < 1 || w->service < 0 || w->service >= sc->nservices)
            return EP_EINVAL;
        ep_trace_meta m;
        ep_time t0;
        int rc = st ? ep_trace_meta_get(st, w->trace, &m) : EP_ENOENT;
        if (rc == 0)
            rc = first_time(st, w->trace, &t0);
        if (rc)
            return rc;
        double l = (double)w->offset + (double)(t0 + m.span) * ep_arrivals_scale(w, rate_scale);
        ep_time e = (ep_time)llround(l < 9e18 ? l : 9e18);
        if (duration > 0 && tile_period(w, &m, t0) > 0)
            e = cutoff;
        if (e > last)
            last = e;
    }
    *bad = NULL;
    *end = last < cutoff ? last : cutoff;
    return 0;
}

const char *
ep_arrivals_end_error(int rc)
{
    return rc == EP_EINVAL   ? "workload without service or ingress"
           : rc == EP_ENOENT ? "workload trace not in the trace database"
                             : "cannot read workload trace";
}

void
ep_arrivals_window(const ep_scenario *sc, ep_time end, ep_time *lo, ep_time *hi)
{
    *lo = sc->run.warmup;
    *hi = end - sc->run.cooldown + 1; /* the last arrival is inside */
    if (*hi <= *lo + 1) {             /* nothing left between the warm-up and cool-down */
        *lo = 0;
        *hi = end + 1;
    }
}

/* Defaults of a row without sizes, as the simulator fills them in. */
static void
row_sizes(const ep_service *svc, const ep_trace_row *row, int64_t *in, int64_t *out)
{
    if (svc->kind == EP_SVC_LLM) {
        *in = row->input > 0 ? row->input : EP_DEFAULT_INPUT_TOKENS;
        *out = row->output > 0 ? row->output : EP_DEFAULT_OUTPUT_TOKENS;
    } else {
        *in = row->input > 0 ? row->input : svc->input_bytes;
        *out = 1;
    }
}

int
ep_arrivals_unservable(ep_store *st, const ep_scenario *sc, double rate_scale, ep_dur duration,
                       int64_t *total, int64_t *why, int64_t *per_svc)
{
    ep_time end, lo, hi;
    const char *bad;
    int rc = ep_arrivals_end(st, sc, rate_scale, duration, &end, &bad);
    if (rc)
        return rc;
    ep_arrivals_window(sc, end, &lo, &hi);
    ep_time until = duration > 0 ? duration : end + 1;
    ep_servable *f;
    if ((rc = ep_servable_new(sc, &f)) != 0)
        return rc;
    int64_t n = 0, w[EP_UNSERVABLE_COUNT_] = {0};
    int64_t *ps = calloc((size_t)sc->nservices + 1, sizeof *ps);
    if (!ps)
        rc = EP_ENOMEM;
    for (int i = 0; i < sc->nworkloads && !rc; i++) {
        const ep_workload *wl = &sc->workloads[i];
        const ep_service *svc = &sc->services[wl->service];
        /* A DNN without per-request execution times gets one verdict for all its requests. */
        int constant = svc->kind != EP_SVC_LLM && !svc->use_trace_exec;
        ep_unservable v0 = ep_servable_check(f, wl->service, svc->input_bytes, 1, EP_TRACE_NONE);
        if (constant && v0 == EP_SERVABLE)
            continue;
        ep_arrivals a;
        ep_trace_row row;
        ep_time at;
        if ((rc = ep_arrivals_open(&a, st, wl, rate_scale, until)) != 0)
            break;
        while ((rc = ep_arrivals_next(&a, &row, &at)) == 1) {
            if (at < lo || at >= hi)
                continue;
            int64_t in, out;
            row_sizes(svc, &row, &in, &out);
            ep_unservable v = constant ? v0 : ep_servable_check(f, wl->service, in, out, row.exec);
            if (v != EP_SERVABLE) {
                n++;
                w[v]++;
                ps[wl->service]++;
            }
        }
        ep_arrivals_close(&a);
    }
    if (rc == 0) {
        if (total)
            *total = n;
        if (why)
            memcpy(why, w, sizeof w);
        if (per_svc)
            memcpy(per_svc, ps, (size_t)sc->nservices * sizeof *ps);
    }
    free(ps);
    ep_servable_free(f);
    return rc;
}
