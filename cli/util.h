/* Helpers shared by the epara subcommands: argument parsing with clear errors, exit
 * codes, and output that is written whole or not at all. */
#ifndef EPARA_CLI_UTIL_H
#define EPARA_CLI_UTIL_H

#include <stdio.h>

#include "epara/core/common.h"
#include "epara/core/model.h"
#include "epara/traces/store.h"

/* Exit codes: 0 success, 1 runtime failure (database, I/O), 2 bad input or usage. */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

typedef struct cli_cmd {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_cmd;

/* Prints "epara: <msg>" to stderr. */
void cli_err(const char *fmt, ...) EP_PRINTF(1, 2);

/* Strict numeric option parsing: the whole text must be a number in [lo, hi]. On failure
 * prints "epara: --opt: ..." and returns -1. */
int cli_double(const char *opt, const char *text, double lo, double hi, double *out);
int cli_i64(const char *opt, const char *text, int64_t lo, int64_t hi, int64_t *out);
int cli_u64(const char *opt, const char *text, uint64_t *out);
/* "a,b,c" into at most max sorted distinct values in [1, hi]; returns the count or -1
 * (after printing the problem). */
int cli_i64_list(const char *opt, const char *text, int64_t hi, int64_t *out, int max);

/* Opens the store, printing the reason on failure. Returns NULL on error. */
ep_store *cli_store_open(const char *path, int flags);

/* Finds and runs a subcommand of table (argv[0] is the command group name, used in
 * messages). Handles "help", "--help" and an unknown name (exit 2). */
int cli_dispatch(const char *group, const cli_cmd *table, size_t n, int argc, char **argv);

/* A file written through a temporary in the same directory and renamed into place on
 * success, so a failure never leaves a half-written output. path "-" is stdout. */
typedef struct cli_out {
    FILE *f;
    char path[4096];
    char tmp[4096];
} cli_out;
int cli_out_open(cli_out *o, const char *path);
/* Commits (rename) when ok, otherwise removes the temporary. Returns 0 or -1. */
int cli_out_close(cli_out *o, int ok);
/* Checks, before any work, that output file `path` (option `opt`, for the message) can be
 * written: not a directory, its directory takes new files (probed with a file created and
 * removed at once), and an existing file opens for writing (unchanged). Prints the reason
 * and returns -1 when not; 0 otherwise. */
int cli_out_check(const char *opt, const char *path);

/* Default trace database of the trace commands. */
#define DEFAULT_DB "traces.db"

/* Prints text to stdout (exit 0) when want_help, else to stderr (exit 2). */
int cli_help_or_usage(int want_help, const char *text);
/* Prints the message for a store error about trace `name` during `what`; returns the exit
 * status (2 for the caller's mistakes, 1 for database failures). */
int cli_store_fail(ep_store *st, const char *what, const char *name, int err);
/* "<verb> N rows into trace 'NAME' (span S s, R req/s)" on stdout. */
void cli_print_written(const ep_trace_meta *m, const char *verb);

/* Loads scenario `path` (NULL: the embedded default), opens its trace database (trace_db
 * overrides the scenario's), prepares every workload trace and loads measured profiles.
 * Prints what went wrong; returns an exit status (0: *sc and *st are the caller's). */
int cli_scenario_open(const char *path, const char *trace_db, int quiet, ep_scenario *sc,
                      ep_store **st);
/* cli_scenario_open in two steps, so that a command can check the scenario (its policy
 * parameters) before any trace is imported or generated: load (0: *sc is the caller's),
 * then prepare (on failure *sc is freed). Both print what went wrong and return an exit
 * status. */
int cli_scenario_load(const char *path, ep_scenario *sc);
int cli_scenario_prepare(ep_scenario *sc, const char *trace_db, int quiet, ep_store **st);
/* How messages name scenario file `path` (NULL: the embedded default). */
const char *cli_scenario_name(const char *path);

/* Adds or replaces policy parameter "KEY=VALUE" in sc (for --param; ep_scenario_param_put).
 * Prints the problem and returns -1 when the text is malformed or the table is full. */
int cli_param_set(ep_scenario *sc, const char *kv);
struct ep_run_result;
/* The per-service table `epara sim` prints without --json. */
void cli_sim_print_table(const ep_scenario *sc, const struct ep_run_result *r);

/* Writes s (NULL: nothing) as one CSV field, quoted (RFC 4180) when it holds a comma, a
 * quote or a line break. */
void cli_csv_field(FILE *f, const char *s);

/* The --param KEY=VALUE options of a command, applied to the scenario once it is loaded. */
typedef struct cli_params {
    const char *kv[EP_MAX_PARAMS];
    int n;
} cli_params;
/* Records one --param (prints the problem and returns -1 when there are too many). */
int cli_params_add(cli_params *p, const char *kv);
/* Applies every recorded --param with cli_param_set; -1 on the first malformed one. */
int cli_params_apply(const cli_params *p, ep_scenario *sc);

/* Checks the policy parameters a run of `policy` (NULL or "": the scenario's; "bound":
 * host keys only, the bound reads none) on sc would get: sc->params overridden by
 * keys[i]=vals[i] (i < n; a later key wins, as --param and sweep grids apply them), each
 * against the policy's declared parameters (ep_param_check). Prints the first problem,
 * naming where it came from: `from` (e.g. "--param") for an override, else the scenario
 * file scen (NULL: the embedded default); returns EXIT_USAGE then, else 0. */
int cli_policy_params_check(const ep_scenario *sc, const char *scen, const char *policy,
                            const char *const *keys, const char *const *vals, int n,
                            const char *from);
/* cli_policy_params_check with a command's --param options as the overrides (whether or
 * not they were applied to sc already). */
int cli_params_check(const cli_params *p, const ep_scenario *sc, const char *scen,
                     const char *policy);

/* Whether stderr is a terminal (progress lines are drawn only then). */
int cli_tty(void);

#endif
