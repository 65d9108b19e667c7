/* A run's latency histogram: what `epara sweep` and `epara sim --out` keep of the measured
 * window's requests instead of one record each (the stored summary's "latency_hist"):
 * completed requests by end-to-end latency in log-spaced buckets, and the count of every
 * outcome, so a latency CDF that shows its misses needs a few hundred numbers per run. */
#ifndef EPARA_CLI_LATHIST_H
#define EPARA_CLI_LATHIST_H

#include <stdint.h>

#include "epara/sim.h"

#define CLI_LATHIST_LO_S       1e-4 /* lower edge of bucket 0 (s) */
#define CLI_LATHIST_PER_DECADE 40   /* buckets per factor 10 (each ~5.9% wide) */
#define CLI_LATHIST_NB         320  /* 100 us .. 10^4 s; outside values go to the end buckets */

typedef struct cli_lathist {
    int64_t bucket[CLI_LATHIST_NB]; /* completed requests by latency */
    int64_t requests;               /* every outcome */
    int64_t completed, slo_met, rejected, dropped, unfinished;
} cli_lathist;

/* Counts one request when it arrived in the measured window (others are ignored). */
void cli_lathist_add(cli_lathist *h, const ep_record *rec);
/* Counts one in-window request by its outcome ("completed", "rejected", "dropped",
 * "unfinished"), its SLO flag and, when completed, its latency in seconds. */
void cli_lathist_count(cli_lathist *h, const char *outcome, int slo_met, double latency_s);

struct json_t;
/* {"lo_s","per_decade","requests","completed","slo_met","rejected","dropped","unfinished",
 * "buckets":[[index,count],...]} (non-empty buckets only); NULL when out of memory. */
struct json_t *cli_lathist_json(const cli_lathist *h);
/* Adds the histogram of a "latency_hist" object to h. -1 (h unchanged) when it is missing,
 * malformed or of another bucket layout. */
int cli_lathist_merge_json(cli_lathist *h, const struct json_t *o);
/* The latency (s) within which a fraction q in (0, 1] of all requests completed (nearest
 * rank, log-interpolated inside its bucket); NaN when fewer than that completed. */
double cli_lathist_quantile(const cli_lathist *h, double q);

#endif
