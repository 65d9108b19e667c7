/* `epara report` internals shared by cmd_report.c (loading runs, naming series, the per-run
 * exports), report_figs.c and report_cat.c (the aggregated tables each figure reads). The
 * results database is read through the queries of epara/sim/results.h; nothing here runs SQL. */
#ifndef EPARA_CLI_REPORT_H
#define EPARA_CLI_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "epara/sim/results.h"
#include "util.h"

typedef struct run_row {
    int64_t id, seed, requests, completed, rejected, dropped, unfinished;
    double rate, dur, slo, goodput, attain, p50, p99; /* slo: the SLO scale */
    char *scenario, *policy, *params, *summary;
    int series;
} run_row;

typedef struct series {
    char label[256];   /* policy [params] [duration] [@scenario] */
    char variant[256]; /* params as "no KEY" / "KEY=V" ("all on" when none) + the same tail */
    const char *policy;
} series;

/* A series' max rate scale at the target from `epara maxrate --out` (table max_rates). */
typedef struct series_max {
    int set;
    double max_rate, lo, hi, goodput; /* lo = max_rate (met), hi: the bracket's end (missed) */
} series_max;

typedef struct report {
    ep_results *db; /* opened read-only */
    const char *dir, *scenario;
    double at_rate;  /* --rate */
    double ref_rate; /* the swept rate scale nearest at_rate (NaN without runs) */
    char idle[512];  /* devices idle under every policy at ref_rate, and why ("" when none) */
    int quiet;
    run_row *runs;
    int n;
    series *ser;
    int nser;
    double *rates; /* distinct rate scales, ascending */
    int nrates;
    series_max *smax; /* per series; set where a stored maxrate result matches it */
} report;

/* A number ("%.10g"), nothing when not finite (an empty CSV field). */
void report_csv_num(FILE *f, double v);
int report_cmp_double(const void *a, const void *b);
/* Index of rate in rp->rates (which holds it). */
int report_rate_index(const report *rp, double rate);
/* Opens DIR/name atomically (cli_out); NULL (message printed) on failure. */
FILE *report_start(report *rp, cli_out *o, const char *name);
/* Commits the file and lists it with its row count unless quiet. 0 or -1. */
int report_finish(report *rp, cli_out *o, const char *name, long rows);

/* Whether rate is nearer to `at` (in ratio) than best (NaN: none yet); ties go lower. */
int report_nearer(double rate, double best, double at);
/* The swept rate scale of series k nearest rp->at_rate, or NaN without runs. */
double report_nearest_rate(const report *rp, int k);

/* The attainment target of max_rate.csv and of the max-rate marks in the figures. */
#define REPORT_MAX_RATE_TARGET 0.9

/* The figure tables (report_figs.c, report_cat.c); each returns 0 or -1 (message printed). */
int report_vs_rate(report *rp, const char *name, int attainment);
int report_max_rate(report *rp);
int report_ablation(report *rp);
int report_latency_cdf(report *rp);
int report_utilization(report *rp);
/* per_category.csv and per_service.csv: SLO attainment per task category and per service. */
int report_per_category(report *rp);
/* idle_devices.csv (device,reason): the devices no series uses at its reference rate, and why
 * (from the cost model of the runs' scenario); sets rp->idle. */
int report_idle_devices(report *rp);

#endif
