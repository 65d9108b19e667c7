/* The results database: one row per run (scenario text, seed, policy, git revision, host,
 * options, summary), per-service and per-device breakdowns, and optional per-request
 * records. A run is written in one transaction: an interrupted run leaves no trace. */
#ifndef EPARA_RESULTS_H
#define EPARA_RESULTS_H

#include "epara/sim/sim.h"

typedef struct ep_results ep_results;

/* Provenance of one run. Strings are borrowed for the call. */
typedef struct ep_run_info {
    const ep_scenario *sc; /* must outlive the run being written (names in records) */
    const char *scenario_name;
    const char *scenario_text;
    const char *git_rev;
    const char *host;
    const char *options_json; /* the command's options, as JSON */
    double rate_scale;
    double duration_s;
    uint64_t seed;
    const char *policy;
} ep_run_info;

/* Opens or creates a results database. 0, or EP_EDB with the reason in err. */
int ep_results_open(const char *path, ep_results **out, char *err, size_t errlen);
void ep_results_close(ep_results *r);
const char *ep_results_errmsg(const ep_results *r);

/* Starts a run (opens the transaction); *run_id receives its id. */
int ep_results_begin(ep_results *r, const ep_run_info *info, int64_t *run_id);
/* Adds one request record to the run being written. */
int ep_results_add_record(ep_results *r, const ep_record *rec);
/* Stores the summary (and breakdowns) and commits the run. summary_json is the object
 * `epara sim --json` prints. */
int ep_results_commit(ep_results *r, const ep_scenario *sc, const ep_run_result *res,
                      const char *summary_json);
/* Rolls back the run being written. */
void ep_results_abort(ep_results *r);

/* The summary of result r of scenario sc: the JSON object `epara sim --json` prints and
 * ep_results_commit stores (goodput, attainment, outcome counts, latencies, engine
 * statistics, per-service and per-device breakdowns); a new reference (jansson), NULL when
 * out of memory. */
struct json_t;
struct json_t *ep_sim_summary_json(const ep_scenario *sc, const ep_run_result *r);

/* One `epara maxrate` result (table max_rates): the bracket [bracket_lo, bracket_hi] the
 * bisection ended with; NaN for what is unknown (max_rate_scale, bracket_lo, attainment,
 * requests_per_s and goodput_per_s when the target was never met). Strings are borrowed;
 * service NULL for an overall metric. */
typedef struct ep_max_rate_row {
    const char *scenario, *policy, *metric, *service;
    const char *options_json; /* slo_scale, duration_s and params, as epara sweep records them */
    const char *git_rev, *host;
    double attainment_target, max_rate_scale, bracket_lo, bracket_hi, attainment;
    double requests_per_s, goodput_per_s, duration_s, slo_scale, tol;
    uint64_t seed;
    int runs;
} ep_max_rate_row;

/* Stores one max_rates row (its own statement, outside any run). 0 or EP_EDB. */
int ep_results_add_max_rate(ep_results *r, const ep_max_rate_row *row);

/* Sweeps (epara sweep). A sweep run's identity is its sweep_key (the scenario, policy and
 * options, as text chosen by the caller): a run whose key already has a completed row is
 * not run again, which is how interrupted sweeps resume. */

/* Adds the column runs.sweep_key (TEXT, indexed; NULL for runs of other commands) when
 * absent (ALTER TABLE: older databases stay readable) and waits up to busy_ms for other
 * writers' locks from now on. 0 or EP_EDB. */
int ep_results_sweep_init(ep_results *r, int busy_ms);
/* Switches the journal to WAL (on: concurrent writers and readers, as in a sweep) or back to
 * a rollback journal (off: one file at rest). Needs no other open connection. 0 or EP_EDB. */
int ep_results_set_wal(ep_results *r, int on);
/* *found = 1 when a completed run (one with its summary) has this sweep_key, else 0.
 * Needs ep_results_sweep_init. 0 or EP_EDB (*found unchanged). */
int ep_results_sweep_has(ep_results *r, const char *key, int *found);
/* Sets the sweep_key of the run being written (between ep_results_begin and _commit). */
int ep_results_sweep_tag(ep_results *r, const char *key);
/* Copies every completed run of the results database at src_path (with its service, device
 * and record rows, under new run ids) into r in one transaction, skipping runs whose
 * sweep_key r already holds completed. *added / *skipped (each may be NULL) receive the
 * counts on success. Calls ep_results_sweep_init. 0, or EP_EDB (nothing copied). */
int ep_results_merge(ep_results *r, const char *src_path, int64_t *added, int64_t *skipped);

/* ---- Queries: reading a results database back (epara report and epara plot print what
 * these return; they run on a handle from ep_results_open_read or ep_results_open). The run
 * queries (ep_results_each_run, _each_service, _each_device) leave out runs without a
 * summary: runs never committed. Rows go to a callback, one at a time, in a fixed order;
 * their strings are borrowed for the call and NULL where the column is NULL; real numbers
 * are NaN where NULL. A callback returns 0 to go on; any other value stops the query, which
 * returns it. Otherwise a query returns 0, or EP_EDB with ep_results_errmsg() saying why. */

/* Opens an existing results database read-only, waiting up to 30 s for writers' locks;
 * creates nothing and checks no schema (the first query fails on a file that is not a
 * results database). Close with ep_results_close. 0, or EP_EDB with "PATH: reason" in err
 * (EP_ENOMEM likewise). */
int ep_results_open_read(const char *path, ep_results **out, char *err, size_t errlen);

/* One run (table runs). */
typedef struct ep_results_run {
    int64_t id;
    const char *scenario, *policy;
    const char *options_json; /* the command's options (ep_run_info) */
    const char *summary_json; /* never NULL: what ep_results_commit stored */
    double rate_scale, duration_s, goodput_per_s, slo_attainment, p50_latency_s, p99_latency_s;
    uint64_t seed;
    int64_t requests, completed, rejected, dropped, unfinished;
} ep_results_run;
typedef int (*ep_results_run_fn)(void *ctx, const ep_results_run *run);

/* Every completed run of scenario (NULL: of every scenario), by id. */
int ep_results_each_run(ep_results *r, const char *scenario, ep_results_run_fn fn, void *ctx);

/* *text and *name receive heap copies (the caller frees them) of run run_id's scenario text
 * and name (*name NULL when not stored). 0; EP_ENOENT when there is no such run or it has
 * no scenario text; EP_ENOMEM; EP_EDB. */
int ep_results_run_scenario(ep_results *r, int64_t run_id, char **text, char **name);

/* The run a breakdown row belongs to: its id, policy, rate scale and seed. */
typedef struct ep_results_run_ref {
    int64_t id;
    const char *policy;
    double rate_scale;
    uint64_t seed;
} ep_results_run_ref;

/* One service of one run (table run_services). */
typedef struct ep_results_service {
    ep_results_run_ref run;
    const char *service, *kind, *sensitivity; /* kind "llm" or "dnn"; "latency" or "frequency" */
    int multi_device;
    int64_t requests, completed, rejected, dropped, unfinished, slo_met;
    double goodput_per_s, slo_attainment, p50_latency_s, p90_latency_s, p99_latency_s;
    double p50_ttft_s, p99_ttft_s, p50_tpot_s, p99_tpot_s;
} ep_results_service;
typedef int (*ep_results_service_fn)(void *ctx, const ep_results_service *svc);

/* The services of completed runs, by run id and then in the order stored (the scenario's):
 * of run run_id only when run_id > 0, else of every run of scenario (NULL: every
 * scenario). */
int ep_results_each_service(ep_results *r, const char *scenario, int64_t run_id,
                            ep_results_service_fn fn, void *ctx);

/* One device of one run (table run_devices). */
typedef struct ep_results_device {
    ep_results_run_ref run;
    int device; /* index in the scenario's devices */
    const char *node, *spec;
    double busy_s, utilization; /* utilization: busy / simulated time */
} ep_results_device;
typedef int (*ep_results_device_fn)(void *ctx, const ep_results_device *dev);

/* The devices of completed runs, by run id and then device; which runs as for
 * ep_results_each_service. */
int ep_results_each_device(ep_results *r, const char *scenario, int64_t run_id,
                           ep_results_device_fn fn, void *ctx);

/* One request record (table records), as ep_results_add_record stored it: services and
 * nodes by name. */
typedef struct ep_results_record {
    int64_t id;
    const char *service, *ingress, *outcome, *reason, *node; /* node NULL: never placed */
    int slo_met, in_window;
    ep_time arrival, dispatch, first_token, done; /* ns, as in ep_record */
    int instance, hops, batch, preemptions;
    int64_t input, output;
} ep_results_record;
typedef int (*ep_results_record_fn)(void *ctx, const ep_results_record *rec);

/* *found = 1 when run run_id has request records (runs stored without records have none),
 * else 0. 0 or EP_EDB (*found unchanged). */
int ep_results_has_records(ep_results *r, int64_t run_id, int *found);
/* The request records of run run_id, in the order stored. */
int ep_results_each_record(ep_results *r, int64_t run_id, ep_results_record_fn fn, void *ctx);

typedef int (*ep_results_max_rate_fn)(void *ctx, const ep_max_rate_row *row);
/* Every max_rates row of scenario (NULL: every scenario), oldest first. A database without
 * a readable max_rates table (one written before `epara maxrate --out` existed) has none:
 * 0 without a call. */
int ep_results_each_max_rate(ep_results *r, const char *scenario, ep_results_max_rate_fn fn,
                             void *ctx);

#endif
