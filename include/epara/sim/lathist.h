/* A run's latency histogram (sim/lathist.c): what `epara sweep` and `epara sim --out` keep of
 * the measured window's requests instead of one record each (the stored summary's
 * "latency_hist"): completed requests by end-to-end latency in log-spaced buckets, and the
 * count of every outcome, so a latency CDF that shows its misses needs a few hundred numbers
 * per run. */
#ifndef EPARA_LATHIST_H
#define EPARA_LATHIST_H

#include <stdint.h>

#include "epara/sim/sim.h"

#define EP_LATHIST_LO_S       1e-4 /* lower edge of bucket 0 (s) */
#define EP_LATHIST_PER_DECADE 40   /* buckets per factor 10 (each ~5.9% wide) */
#define EP_LATHIST_NB         320  /* 100 us .. 10^4 s; outside values go to the end buckets */

typedef struct ep_lathist {
    int64_t bucket[EP_LATHIST_NB]; /* completed requests by latency */
    int64_t requests;              /* every outcome */
    int64_t completed, slo_met, rejected, dropped, unfinished;
} ep_lathist;

/* Counts one request when it arrived in the measured window (others are ignored). */
void ep_lathist_add(ep_lathist *h, const ep_record *rec);
/* Counts one in-window request by its outcome ("completed", "rejected", "dropped",
 * "unfinished"), its SLO flag and, when completed, its latency in seconds. */
void ep_lathist_count(ep_lathist *h, const char *outcome, int slo_met, double latency_s);

struct json_t;
/* {"lo_s","per_decade","requests","completed","slo_met","rejected","dropped","unfinished",
 * "buckets":[[index,count],...]} (non-empty buckets only); NULL when out of memory. */
struct json_t *ep_lathist_json(const ep_lathist *h);
/* Adds the histogram of a "latency_hist" object to h. 0, or EP_EPARSE (h unchanged) when it
 * is missing, malformed or of another bucket layout. */
int ep_lathist_merge_json(ep_lathist *h, const struct json_t *o);
/* The latency (s) within which a fraction q in (0, 1] of all requests completed (nearest
 * rank, log-interpolated inside its bucket); NaN when fewer than that completed. */
double ep_lathist_quantile(const ep_lathist *h, double q);

#endif
