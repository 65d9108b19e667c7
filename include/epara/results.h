/* The results database: one row per run (scenario text, seed, policy, git revision, host,
 * options, summary), per-service and per-device breakdowns, and optional per-request
 * records. A run is written in one transaction: an interrupted run leaves no trace. */
#ifndef EPARA_RESULTS_H
#define EPARA_RESULTS_H

#include "epara/sim.h"

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
int ep_results_commit(ep_results *r, const ep_scenario *sc, const ep_sim_result *res,
                      const char *summary_json);
/* Rolls back the run being written. */
void ep_results_abort(ep_results *r);

/* The summary of result r of scenario sc: the JSON object `epara sim --json` prints and
 * ep_results_commit stores (goodput, attainment, outcome counts, latencies, engine
 * statistics, per-service and per-device breakdowns); a new reference (jansson), NULL when
 * out of memory. */
struct json_t;
struct json_t *ep_sim_summary_json(const ep_scenario *sc, const ep_sim_result *r);

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

#endif
