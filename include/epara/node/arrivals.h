/* How a workload's trace becomes arrivals, one rule for every consumer (the simulator, the
 * testbed's load generator, the bound and the pre-run checks; docs/decisions/0004-rate-
 * scaling.md). Arrival of row i in copy k:
 *   offset + (t_i + k x period) x scale,   scale = time_scale / (rate_scale x run rate scale)
 * where t_i is the row's trace time (from the trace's origin) and period = the last row's
 * time plus the mean gap (last / rows), or the duration of the scenario's generator for a
 * trace it made, if longer: each copy repeats the trace from its origin. Copies follow each other
 * until `until` (exclusive): a rate scale compresses the trace, and the compressed trace is tiled
 * so that the whole run window holds traffic with the trace's own burstiness. A workload with tile:
 * false (or a trace whose rows all lie at its origin) plays once. */
#ifndef EPARA_ARRIVALS_H
#define EPARA_ARRIVALS_H

#include "epara/core/model.h"
#include "epara/policies/policy_util.h"
#include "epara/traces/store.h"

/* One workload's arrival stream. Fields are private; embed it, open, next, close. */
typedef struct ep_arrivals {
    ep_store *st;
    const ep_workload *w;
    ep_trace_reader *r;
    double scale;  /* ns of run time per ns of trace time */
    double period; /* trace ns between copies; 0: one copy */
    int64_t rows;  /* rows of one copy */
    int64_t copy;  /* the copy being read */
    ep_time until; /* arrivals at or after this are not replayed */
    ep_time first; /* the first row's trace time */
} ep_arrivals;

/* The run-time multiplier of workload w's trace times at run rate scale rate_scale (<= 0
 * means 1): time_scale / (rate_scale x rate_scale). */
double ep_arrivals_scale(const ep_workload *w, double rate_scale);

/* Opens w's stream from store st (borrowed; both must outlive the replay) at run rate scale
 * rate_scale, replaying arrivals before `until`. 0, EP_ENOENT (trace not in the store) or
 * EP_EDB; *rp is initialized only on success. */
int ep_arrivals_open(ep_arrivals *rp, ep_store *st, const ep_workload *w, double rate_scale,
                     ep_time until);

/* The next arrival: its row (the frame number of copy k is advanced by k x rows, so frames
 * keep increasing along a stream) and run time *at. 1 when one was read, 0 at the end,
 * EP_EDB on a read error. Text fields of *row stay valid until the next call. */
int ep_arrivals_next(ep_arrivals *rp, ep_trace_row *row, ep_time *at);

/* Closes the reader; a zeroed or closed replay is a no-op. */
void ep_arrivals_close(ep_arrivals *rp);

/* The end of a run of scenario sc: the latest of the workloads' ends, cut at `duration` when
 * > 0, where a tiled workload ends at `duration` (it fills the run) and one that plays once
 * (or any workload when there is no duration) at the last arrival of one pass: without a
 * duration the longest workload sets the end and the others tile up to it.
 * EP_EINVAL names a workload without service or ingress; EP_ENOENT / EP_EDB a trace that
 * cannot be read (`bad` gets the trace's name). */
int ep_arrivals_end(ep_store *st, const ep_scenario *sc, double rate_scale, ep_dur duration,
                    ep_time *end, const char **bad);

/* What an error of ep_arrivals_end means, for a message that names the trace. */
const char *ep_arrivals_end_error(int rc);

/* The measured window of a run ending at `end`: [warm-up, end - cool-down + 1), or the whole
 * run [0, end + 1) when the warm-up and cool-down leave nothing between them. */
void ep_arrivals_window(const ep_scenario *sc, ep_time end, ep_time *lo, ep_time *hi);

/* Counts the requests arriving in the measured window of a run (rate_scale, duration as for
 * ep_arrivals_end) that no placement can serve within their SLO (ep_servable_check):
 * *total, per reason why[EP_UNSERVABLE_COUNT_] and per service per_svc[sc->nservices] (each
 * may be NULL; written only on success). Reads only the workloads whose service can have
 * such requests. 0, EP_ENOMEM, or as ep_arrivals_end. */
int ep_arrivals_unservable(ep_store *st, const ep_scenario *sc, double rate_scale, ep_dur duration,
                           int64_t *total, int64_t *why, int64_t *per_svc);

#endif
