/* The parameter-sweep engine behind `epara sweep` (experiments/sweep_*.c): the parameter
 * grid, the plan of runs (policies x grid points, each with its identity key), running and
 * storing one run, the results-database bookkeeping that makes a sweep resumable, the local
 * worker pool and the MPI ranks. A plan is a pure function of its inputs and the scenario,
 * so MPI ranks agree on it. Nothing here prints: problems come back as error codes with a
 * message, progress through the caller's hooks. */
#ifndef EPARA_SWEEP_H
#define EPARA_SWEEP_H

#include <stddef.h>
#include <stdint.h>

#include "epara/core/model.h"
#include "epara/sim/results.h"
#include "epara/traces/store.h"

#define EP_SWEEP_MAX_DIMS 16
#define EP_SWEEP_MAX_RUNS 100000

typedef enum ep_sweep_dim_kind {
    EP_SWEEP_RATE,     /* rate_scale: multiplies every workload's rate */
    EP_SWEEP_SEED,     /* seed: non-negative integer */
    EP_SWEEP_DURATION, /* duration: seconds of the workload replayed */
    EP_SWEEP_SLO,  /* slo_scale: multiplies every service's SLO times (ep_scenario_scale_slos) */
    EP_SWEEP_PARAM /* param.KEY: a policy parameter (text) */
} ep_sweep_dim_kind;

/* One grid dimension: its values as canonical text (what goes into options and keys) and,
 * for the numeric kinds, as numbers. */
typedef struct ep_sweep_dim {
    ep_sweep_dim_kind kind;
    char key[EP_NAME_MAX]; /* the parameter's key (EP_SWEEP_PARAM) */
    int nvals;
    char (*text)[EP_NAME_MAX];
    double *num;
} ep_sweep_dim;

typedef struct ep_sweep_grid {
    int ndims;
    ep_sweep_dim dims[EP_SWEEP_MAX_DIMS];
} ep_sweep_grid;

/* Parses "name=lo:hi:step,name=a..b,name=v1|v2" (names: rate_scale, seed, duration,
 * slo_scale, param.KEY). 0, or EP_EPARSE (EP_ENOMEM) with the problem in err, a message
 * naming the option --grid; *g is zeroed first and owned by the caller either way
 * (ep_sweep_grid_fini). */
int ep_sweep_grid_parse(const char *text, ep_sweep_grid *g, char *err, size_t errlen);
void ep_sweep_grid_fini(ep_sweep_grid *g);

/* One planned run. policy, pkey and pval are borrowed from the policy list and the grid,
 * which must outlive the plan; options and key are owned by the plan. */
typedef struct ep_sweep_run {
    const char *policy;
    double rate_scale;
    uint64_t seed;
    double duration_s; /* 0: the scenario's */
    double slo_scale;  /* multiplies every SLO time (1: the scenario's SLOs) */
    int nparams;
    const char *pkey[EP_SWEEP_MAX_DIMS];
    const char *pval[EP_SWEEP_MAX_DIMS];
    char *options; /* JSON stored in runs.options */
    char *key;     /* identity stored in runs.sweep_key */
} ep_sweep_run;

typedef struct ep_sweep_plan {
    ep_sweep_run *runs;
    int n;
} ep_sweep_plan;

/* The cross product policies x grid points, in a fixed order (policy outermost, then the
 * dimensions in the order given, the last varying fastest); at most EP_SWEEP_MAX_RUNS.
 * Dimensions absent from the grid take: rate scale 1, the scenario's seed, duration_s, SLO
 * scale 1. scen_path (NULL: the embedded default) is recorded in options. 0, or EP_ERANGE
 * (too many runs) or EP_ENOMEM with the problem in err. */
int ep_sweep_plan_build(const ep_sweep_grid *g, const char *const *policies, int npolicies,
                        const ep_scenario *sc, const char *scen_path, double duration_s,
                        int records, ep_sweep_plan *out, char *err, size_t errlen);
void ep_sweep_plan_fini(ep_sweep_plan *p);

/* What every worker needs to run plan entries. Strings are borrowed and must outlive the
 * sweep. */
typedef struct ep_sweep_ctx {
    ep_scenario *sc;      /* loaded, traces prepared, profiles loaded; params and SLOs
                             restored after each run */
    const char *trace_db; /* the trace database (opened read-only by workers) */
    const char *out;      /* results database the runs are written to */
    const char *git_rev;  /* stored with every run */
    int records;          /* store per-request records (not for the bound) */
    char host[256];       /* stored with every run */
} ep_sweep_ctx;

/* Fills *ctx with the arguments and this machine's host name. */
void ep_sweep_ctx_init(ep_sweep_ctx *ctx, ep_scenario *sc, const char *trace_db, const char *out,
                       int records, const char *git_rev);

/* One run's outcome; sent whole over a pipe, so it stays below PIPE_BUF. */
typedef struct ep_sweep_result {
    int32_t worker, run; /* run: the plan index */
    int32_t status;      /* 0 done, else a negative EP_E* code (msg says why) */
    double wall_s, goodput_per_s, slo_attainment;
    char msg[400];
} ep_sweep_result;

/* Connections one worker holds: the trace database (read-only) and the results database. */
typedef struct ep_sweep_conn {
    ep_store *st;
    ep_results *res;
} ep_sweep_conn;

/* Opens c's connections. 0, or an EP_E* code with the reason in err. */
int ep_sweep_conn_open(const ep_sweep_ctx *ctx, ep_sweep_conn *c, char *err, size_t errlen);
void ep_sweep_conn_close(ep_sweep_conn *c);

/* Runs plan entry r (index idx) and stores it in c->res under r->key; fills *out. */
void ep_sweep_run_one(const ep_sweep_ctx *ctx, ep_sweep_conn *c, const ep_sweep_run *r, int idx,
                      ep_sweep_result *out);

/* What a sweep tells its caller while its runs go on; members may be NULL. */
typedef struct ep_sweep_hooks {
    void *arg;
    /* A run ended, done or failed (r->run is its index in plan). */
    void (*on_result)(void *arg, const ep_sweep_plan *plan, const ep_sweep_result *r);
    /* While worker processes run: after each wait for results (at most 0.5 s). */
    void (*on_tick)(void *arg);
} ep_sweep_hooks;

/* Runs plan entries todo[0..ntodo) with `jobs` worker processes (forked after the caller has
 * closed its own SQLite connections; jobs 1: in this process), reporting each result to
 * hooks (may be NULL). Returns the number of runs that failed, or a negative EP_E* code with
 * the reason in err when the workers could not be started (or, jobs 1, the databases not
 * opened). */
int ep_sweep_exec(const ep_sweep_ctx *ctx, const ep_sweep_plan *plan, const int *todo, int ntodo,
                  int jobs, const ep_sweep_hooks *hooks, char *err, size_t errlen);

/* Opens (creating) the results database for a sweep and lists the plan entries without a
 * completed run in it into *todo (malloc'ed, increasing), *ntodo. dry_run: an absent
 * database is not created (everything is to do). 0, or EP_EDB or EP_ENOMEM with the reason
 * in err. */
int ep_sweep_todo(const char *out, const ep_sweep_plan *plan, int dry_run, int **todo, int *ntodo,
                  char *err, size_t errlen);
/* Sets the results database's journal: WAL (wal 1) lets worker processes store while
 * others read; a rollback journal (wal 0) leaves one file at rest. 0, or EP_EDB with the
 * reason in err (the sweep can go on without WAL: the busy timeout serializes writers). */
int ep_sweep_journal(const char *out, int wal, char *err, size_t errlen);

/* An MPI sweep as one rank sees it. */
typedef struct ep_sweep_mpi_info {
    int rank, size;
    int planned, todo; /* runs in the plan, of them not yet stored (every rank) */
    int mine;          /* of them, this rank's */
    int64_t failed;    /* when it returns 0 and not a dry run: runs failed or lost, all ranks */
    int setup_status;  /* when it returns EP_ECANCELED: the largest status setup returned */
} ep_sweep_mpi_info;

/* The caller's part of an MPI sweep; every member but setup may be NULL. */
typedef struct ep_sweep_mpi_ops {
    void *arg;
    /* Loads the scenario, fills *ctx and builds *plan (ep_sweep_ctx_init, ep_sweep_plan_build)
     * on this rank: rank 0 first (it prepares the traces), then, once it succeeded, every
     * other rank. 0, or a positive status (the sweep ends on every rank; *sc and *plan are
     * not to be freed). */
    int (*setup)(void *arg, int rank, ep_scenario *sc, ep_sweep_ctx *ctx, ep_sweep_plan *plan);
    /* This rank's runs are about to start (not in a dry run). */
    void (*on_start)(void *arg, const ep_sweep_mpi_info *info);
    /* This rank's runs ended; merging follows on rank 0. */
    void (*on_end)(void *arg, const ep_sweep_mpi_info *info);
    /* A line to show: a problem (error 1) or a note (error 0, "merged N runs of rank R"). */
    void (*on_note)(void *arg, int error, const char *msg);
    ep_sweep_hooks hooks; /* this rank's runs */
} ep_sweep_mpi_ops;

/* `epara sweep --mpi` (experiments/sweep_mpi.c, built only when CMake finds MPI: then
 * EP_HAVE_MPI is 1): initializes MPI; rank 0 sets up, then the others; rank 0 finds what is
 * left to run in `out` (dry_run: as ep_sweep_todo) and every rank runs a disjoint slice (entry
 * i of the runs to do goes to rank i mod size) with `jobs` workers. Rank 0 stores into out;
 * the other ranks into a private temporary database each (under $TMPDIR), which they send
 * whole to rank 0, which merges it by sweep key. Finalizes MPI and fills *info. The same on
 * every rank: 0 when the sweep ran (info->failed of its runs failed) or, dry_run, when the
 * plan was listed; EP_ECANCELED when setup failed on a rank; another EP_E* code when MPI
 * could not start or the results database not be read (said through on_note). */
int ep_sweep_mpi_run(const ep_sweep_mpi_ops *ops, const char *out, int jobs, int dry_run,
                     ep_sweep_mpi_info *info);

#endif
