/* Bursts inside a placement period, for the fluid bound (docs/decisions/0002-bound.md,
 * "Bursts"): each service's arrivals in bins of its burst horizon H_s (an LLM's TTFT: its
 * prefill must end by then; a DNN's deadline or frame deadline), and the pieces of the
 * concave cap on how many of a period's requests instances that together start at most C
 * req/s of the service can serve. Private to experiments/bound.c. */
#ifndef EPARA_BOUND_BURST_H
#define EPARA_BOUND_BURST_H

#include <stdint.h>

#include "epara/core/model.h"
#include "epara/policies/policy.h"

#define EP_BURST_GRID       16 /* values of C a piece is computed at */
#define EP_BURST_MAX_PIECES EP_BURST_GRID
#define EP_BURST_MAX_SPAN   64  /* intervals up to this many H (longer: the period's rows) */
#define EP_BURST_MAX_BINS   256 /* more bins of H in a period are merged g at a time */

/* Arrivals per (key, period, bin) for keys with a horizon H each (a service; or a pair of a
 * service and its ingress node): bins of width w = g H, g the smallest integer keeping at
 * most max_bins bins in a period. */
typedef struct ep_burst {
    double per;   /* a period's length, s */
    int64_t np;   /* periods */
    double *h;    /* per key: H in s, 0 when the key gets no bins */
    double *w;    /* per key: its bins' width, s */
    int *nbin;    /* per key: bins per period */
    int64_t *off; /* per key: its first bin */
    double *bins; /* arrivals per (key, period, bin) */
} ep_burst;

/* The burst horizon H of service v: an LLM's TTFT (its prefill ends by then), a DNN's
 * deadline or a stream's frame deadline (its batch ends by then); 0 when it has none. */
double ep_burst_horizon(const ep_service *v);

/* Bins for every key whose period holds at least two spans of its horizon h[key] (an
 * interval can then end H before the period does). per_s: the period's length; np:
 * periods. Returns 0 or EP_ENOMEM. */
int ep_burst_init(ep_burst *bb, const double *h, int nkeys, double per_s, int64_t np, int max_bins);
void ep_burst_free(ep_burst *bb);

/* Counts one arrival of key s in period p, at_s seconds after the period's start. */
void ep_burst_count(ep_burst *bb, int s, int64_t p, double at_s);

/* The pieces of the cap on the requests of s arriving in period p that are served: with C
 * the req/s of s the period's instances can start within H_s (prefills for an LLM, batches
 * for a DNN), served <= R[i] + jw[i] C for every piece i. The requests arriving in an
 * interval I of the period must be served between its start and its end plus H_s, so at
 * most C (|I| + H_s) of them (when that window ends inside the period: work past it may fall
 * on the next period's instances); for any partition of the period into intervals of bins,
 * the sum over
 * its intervals of min(arrivals, C (|I| + H_s)) caps the served ones. Each piece is the
 * cheapest partition at one C of EP_BURST_GRID values from half the period's mean rate to
 * the fullest bin's count / H_s (dynamic programming; interval lengths 1..16 bins, then
 * about 1.25x apart, up to EP_BURST_MAX_SPAN H_s), each interval's term kept as the branch
 * that attains its minimum: valid at every C, tight at that one. Writes at most max pieces;
 * returns how many (0: no bins for s, no arrivals or no interval that caps; -1: out of
 * memory). */
int ep_burst_pieces(const ep_burst *bb, int s, int64_t p, double *jw, double *R, int max);

/* The most of key s's arrivals in periods p0 .. p0 + m - 1 that a server of fixed rate c
 * (req/s) can take within H of their arrival, windows free to end after the periods (an
 * uplink's bandwidth does not change with the placement): the cheapest partition of those
 * periods' bins into intervals of sum min(arrivals, c (|I| + H)). INFINITY when s has no
 * bins; -1 when out of memory. */
double ep_burst_cap(const ep_burst *bb, int s, int64_t p0, int m, double c);

/* The most req/s of its service instance sp can start within the burst horizon, counting
 * no other work: an LLM's best prefill throughput n / t(n prefills of the mean prompt) over
 * n up to its batch limit and KV, with t <= TTFT (a pipeline: its stages overlap, n ndev /
 * t); a DNN's best batch rate b / interval with a batch time <= the deadline. kv: an LLM
 * instance's KV capacity in tokens (< 0: all its devices hold beside its weights). */
double ep_burst_rate(const ep_view *v, const ep_instance_spec *sp, int64_t kv);

#endif
