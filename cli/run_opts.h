/* The options of a run that `epara sim`, `epara maxrate` and the testbed's processes
 * (`epara controller|node|loadgen|testbed`) share: the scenario and its traces, the policy
 * and its parameters, the seed and the workload's scales. One parser, one set of ranges and
 * messages, one way to load the scenario they name. */
#ifndef EPARA_CLI_RUN_OPTS_H
#define EPARA_CLI_RUN_OPTS_H

#include <getopt.h>

#include "epara/core/model.h"
#include "epara/traces/store.h"
#include "util.h"

typedef struct cli_run {
    const char *scenario; /* NULL: the embedded default */
    const char *trace_db; /* NULL: the scenario's */
    const char *policy;   /* NULL: the scenario's */
    cli_params params;
    uint64_t seed;
    int seed_set;
    double rate;     /* --rate-scale, 1 unless given */
    double duration; /* --duration in trace seconds, 0: the scenario's */
    double slo;      /* --slo-scale, 1 unless given */
} cli_run;

/* What an option group's parser says of one option: CLI_OPT_TAKEN, CLI_OPT_OTHER (not an
 * option of its group), or else the exit status of a bad value, the problem printed. */
enum { CLI_OPT_TAKEN = 0, CLI_OPT_OTHER = -2 };

/* getopt_long codes of the shared options: above every short option and every code a
 * command gives its own long options (those stay below CLI_RUN_OPT_BASE). */
enum {
    CLI_RUN_OPT_BASE = 0x1000,
    CLI_RUN_SCENARIO = CLI_RUN_OPT_BASE,
    CLI_RUN_TRACE_DB,
    CLI_RUN_POLICY,
    CLI_RUN_PARAM,
    CLI_RUN_SEED,
    CLI_RUN_RATE,
    CLI_RUN_DURATION,
    CLI_RUN_SLO
};

/* The longopts entries, for a command's table: every shared option but --rate-scale, which
 * a command that searches the rate (maxrate) does not take. */
/* clang-format off */
#define CLI_RUN_LONGOPTS                                            \
    {"scenario", required_argument, NULL, CLI_RUN_SCENARIO},        \
    {"trace-db", required_argument, NULL, CLI_RUN_TRACE_DB},        \
    {"policy", required_argument, NULL, CLI_RUN_POLICY},            \
    {"param", required_argument, NULL, CLI_RUN_PARAM},              \
    {"seed", required_argument, NULL, CLI_RUN_SEED},                \
    {"duration", required_argument, NULL, CLI_RUN_DURATION},        \
    {"slo-scale", required_argument, NULL, CLI_RUN_SLO}
#define CLI_RUN_LONGOPT_RATE {"rate-scale", required_argument, NULL, CLI_RUN_RATE}
/* clang-format on */

/* The defaults: nothing named, scales 1, the scenario's duration. */
void cli_run_init(cli_run *r);
/* Takes option ch (a getopt_long code) with its argument when it is a shared one. */
int cli_run_opt(cli_run *r, int ch, const char *arg);
/* Whether --policy names a known policy (bound_ok: or the LP bound). Prints the problem with
 * `hint` after it (where to find the names) and returns EXIT_USAGE, else 0. */
int cli_run_check_policy(const cli_run *r, int bound_ok, const char *hint);
/* Loads the scenario with the --param values applied and checked (before any trace is
 * prepared), prepares its traces (*st; quiet: no progress) and scales its SLOs by
 * --slo-scale. Returns 0, or an exit status after printing the problem (nothing is left to
 * release then). */
int cli_run_load(const cli_run *r, ep_scenario *sc, ep_store **st, int quiet);

#endif
