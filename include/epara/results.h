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

#endif
