/* Workload replay (epara/arrivals.h): a trace's rows as run-time arrivals, time-compressed by
 * the rate scale and tiled copy after copy until the run's end. Invariant: arrivals come out
 * in non-decreasing time within one workload, and copy k + 1 starts one mean gap after the
 * last row of copy k. */
#include <math.h>
#include <string.h>

#include "epara/error.h"
#include "epara/arrivals.h"

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
    if (!w->once && m.rows >= 2 && m.span > 0)
        rp->period = (double)m.span + (double)m.span / (double)(m.rows - 1);
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
        if (duration > 0 && !w->once && m.rows >= 2 && m.span > 0)
            e = cutoff;
        if (e > last)
            last = e;
    }
    *bad = NULL;
    *end = last < cutoff ? last : cutoff;
    return 0;
}
