/* `epara sweep` internals shared by its files: the parameter grid, the plan of runs (policies
 * x grid points, each with its identity key), running one run, and the local worker pool.
 * A plan is a pure function of the options and the scenario, so MPI ranks agree on it. */
#ifndef EPARA_CLI_SWEEP_H
#define EPARA_CLI_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "epara/model.h"
#include "epara/results.h"
#include "epara/store.h"

#define SWEEP_MAX_DIMS     16
#define SWEEP_MAX_POLICIES 32
#define SWEEP_MAX_RUNS     100000

typedef enum sweep_dim_kind {
    SWEEP_RATE,     /* rate_scale: multiplies every workload's rate */
    SWEEP_SEED,     /* seed: non-negative integer */
    SWEEP_DURATION, /* duration: seconds of the workload replayed */
    SWEEP_SLO,      /* slo_scale: multiplies every service's SLO times (cli_slo_scale) */
    SWEEP_PARAM     /* param.KEY: a policy parameter (text) */
} sweep_dim_kind;

/* One grid dimension: its values as canonical text (what goes into options and keys) and,
 * for the numeric kinds, as numbers. */
typedef struct sweep_dim {
    sweep_dim_kind kind;
    char key[EP_NAME_MAX]; /* the parameter's key (SWEEP_PARAM) */
    int nvals;
    char (*text)[EP_NAME_MAX];
    double *num;
} sweep_dim;

typedef struct sweep_grid {
    int ndims;
    sweep_dim dims[SWEEP_MAX_DIMS];
} sweep_grid;

/* Parses "name=lo:hi:step,name=a..b,name=v1|v2" (names: rate_scale, seed, duration,
 * slo_scale, param.KEY). 0, or -1 with the problem in err (bad input: the caller exits 2);
 * *g is zeroed first and owned by the caller either way (sweep_grid_fini). */
int sweep_grid_parse(const char *text, sweep_grid *g, char *err, size_t errlen);
void sweep_grid_fini(sweep_grid *g);

/* One planned run. policy, pkey and pval are borrowed from the policy list and the grid,
 * which must outlive the plan; options and key are owned by the plan. */
typedef struct sweep_run {
    const char *policy;
    double rate_scale;
    uint64_t seed;
    double duration_s; /* 0: the scenario's */
    double slo_scale;  /* multiplies every SLO time (1: the scenario's SLOs) */
    int nparams;
    const char *pkey[SWEEP_MAX_DIMS];
    const char *pval[SWEEP_MAX_DIMS];
    char *options; /* JSON stored in runs.options */
    char *key;     /* identity stored in runs.sweep_key */
} sweep_run;

typedef struct sweep_plan {
    sweep_run *runs;
    int n;
} sweep_plan;

/* The cross product policies x grid points, in a fixed order (policy outermost, then the
 * dimensions in the order given, the last varying fastest); at most SWEEP_MAX_RUNS.
 * Dimensions absent from the grid take: rate scale 1, the scenario's seed, duration_s, SLO
 * scale 1. scen_path (NULL: the embedded default) is recorded in options. 0, or -1 with err
 * (too many runs, out of memory). */
int sweep_plan_build(const sweep_grid *g, const char *const *policies, int npolicies,
                     const ep_scenario *sc, const char *scen_path, double duration_s, int records,
                     sweep_plan *out, char *err, size_t errlen);
void sweep_plan_fini(sweep_plan *p);

/* What every worker needs to run plan entries. */
typedef struct sweep_ctx {
    ep_scenario *sc;      /* loaded, traces prepared, profiles loaded; params restored after
                             each run */
    const char *trace_db; /* the trace database (opened read-only by workers) */
    const char *out;      /* results database the runs are written to */
    int records;          /* store per-request records (not for the bound) */
    char host[256];
} sweep_ctx;

/* One run's outcome; sent whole over a pipe, so it stays below PIPE_BUF. */
typedef struct sweep_result {
    int32_t worker, run, status; /* status: 0 done, else an exit status (1 or 2) */
    double wall_s, goodput_per_s, slo_attainment;
    char msg[400];
} sweep_result;

/* Connections one worker holds: the trace database (read-only) and the results database. */
typedef struct sweep_conn {
    ep_store *st;
    ep_results *res;
} sweep_conn;

/* Opens c's connections; on failure prints why and returns an exit status. */
int sweep_conn_open(const sweep_ctx *ctx, sweep_conn *c);
void sweep_conn_close(sweep_conn *c);

/* Runs plan entry r (index idx) and stores it in c->res under r->key; fills *out. */
void sweep_run_one(const sweep_ctx *ctx, sweep_conn *c, const sweep_run *r, int idx,
                   sweep_result *out);

/* Progress on stderr: a bar with runs done / total and the ETA on a terminal, one line per
 * run otherwise, nothing but failures when quiet. */
typedef struct sweep_progress {
    int total, done, failed;
    int bar, quiet;
    double t0, last_draw;
    const char *label; /* "sweep" or "sweep rank N" */
} sweep_progress;

void sweep_progress_init(sweep_progress *pg, int total, int quiet, const char *label);
void sweep_progress_run(sweep_progress *pg, const sweep_plan *plan, const sweep_result *r);
void sweep_progress_tick(sweep_progress *pg);
void sweep_progress_end(sweep_progress *pg);
double sweep_now(void);

/* Runs plan entries todo[0..ntodo) with `jobs` worker processes (forked after the caller has
 * closed its own SQLite connections; jobs 1: in this process), reporting to pg. Returns the
 * number of runs that failed, or -1 when the workers could not be started. */
int sweep_exec(const sweep_ctx *ctx, const sweep_plan *plan, const int *todo, int ntodo, int jobs,
               sweep_progress *pg);

/* Opens (creating) the results database for a sweep and lists the plan entries without a
 * completed run in it into *todo (malloc'ed), *ntodo. wal: leave it in WAL mode for
 * concurrent writers. dry_run: an absent database is not created (everything is to do).
 * Prints problems; returns an exit status. */
int sweep_todo(const char *out, const sweep_plan *plan, int wal, int dry_run, int **todo,
               int *ntodo);
/* Sets the results database back to a rollback journal (one file at rest). */
void sweep_settle(const char *out);

/* The command's options (cmd_sweep.c). */
typedef struct sweep_opts {
    const char *scen;     /* NULL: the embedded default */
    const char *trace_db; /* NULL: the scenario's */
    const char *out;
    const char *policies[SWEEP_MAX_POLICIES];
    int npolicies;
    sweep_grid grid;
    double duration_s;
    int jobs, records, quiet, dry_run;
} sweep_opts;

/* Loads the scenario (preparing its traces and profiles: quiet_prepare silences where they
 * came from), fills *ctx (ctx->sc = sc) and builds *plan. Prints problems; returns an exit
 * status (0: *sc and *plan are the caller's to free). */
int sweep_setup(const sweep_opts *o, int quiet_prepare, ep_scenario *sc, sweep_ctx *ctx,
                sweep_plan *plan);
/* Prints "policy xRATE seed N [duration S] [k=v ...]" of r into buf. */
void sweep_describe(const sweep_run *r, char *buf, size_t len);

/* `epara sweep --mpi` (sweep_mpi.c, built when CMake finds MPI): rank 0 plans and merges,
 * every rank runs a disjoint slice. Returns the exit status. */
int sweep_mpi_main(const sweep_opts *o);

#endif
