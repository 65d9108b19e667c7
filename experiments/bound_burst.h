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

#define EP_BURST_MAX_PIECES 96
#define EP_BURST_SCALES     4 /* bins of H_s, 4 H_s, 16 H_s, 64 H_s (those that fit) */
#define EP_BURST_SCALE_STEP 4

typedef struct ep_burst {
    double per;   /* a period's length, s */
    double *h;    /* per service: H_s in s, 0 when the service gets no bins */
    int *nbin;    /* per service: bins per period */
    int64_t *off; /* per service: its first bin */
    double *bins; /* arrivals per (service, period, bin) */
} ep_burst;

/* Bins for every service whose period holds at least two bins of H_s (the bins whose
 * H_s-window ends inside the period are the ones ranked). per_s: the period's length; np:
 * periods. Returns 0 or EP_ENOMEM. */
int ep_burst_init(ep_burst *bb, const ep_scenario *sc, double per_s, int64_t np);
void ep_burst_free(ep_burst *bb);

/* Counts one arrival of service s in period p, at_s seconds after the period's start. */
void ep_burst_count(ep_burst *bb, int s, int64_t p, double at_s);

/* The pieces of the cap on the requests of s arriving in period p that are served: with C
 * the req/s of s the period's instances can start within H_s (prefills for an LLM, batches
 * for a DNN), served <= R[i] + jw[i] C for every piece i. At each scale f = 1, 4, 16, 64
 * (coarse bins of f H_s, while f H_s + H_s fits in the period) and for j = 1, 2, .., 8,
 * then about 1.25x apart, and the number of coarse bins with arrivals: the j fullest coarse
 * bins can each take at most C (f + 1) H_s (their arrivals must be served between the
 * bin's start and its end plus H_s), R = the period's other arrivals. Coarse bins whose
 * window would end past the period (whose work may fall on the next period's instances)
 * always count in R.
 * Writes at most max pieces; returns how many (0: no bins for s, or no arrivals). */
int ep_burst_pieces(const ep_burst *bb, int s, int64_t p, double *jw, double *R, int max);

/* The most req/s of its service instance sp can start within the burst horizon, counting
 * no other work: an LLM's best prefill throughput n / t(n prefills of the mean prompt) over
 * n up to its batch limit and KV, with t <= TTFT (a pipeline: its stages overlap, n ndev /
 * t); a DNN's best batch rate b / interval with a batch time <= the deadline. */
double ep_burst_rate(const ep_view *v, const ep_instance_spec *sp);

#endif
