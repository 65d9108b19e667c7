/* Options shared by `epara controller|node|loadgen` and `epara testbed` (cmd_exec.c). */
#ifndef EPARA_CLI_EXEC_CLI_H
#define EPARA_CLI_EXEC_CLI_H

#include <stdint.h>

#include "cpus.h"
#include "epara/exec/exec.h"
#include "run_opts.h"
#include "util.h"

typedef struct exec_cli {
    cli_run run; /* --scenario, --policy, --seed, the scales, ... (run_opts.h) */
    const char *host, *key_file, *out, *engine, *logs;
    double time_scale, run_for, grace;
    int node, base_port, real_links, records, json, verbose, netns, quiet;
    int64_t epoch;
    /* --engine, --llm-shape, --dnn-shape, --threads, --checkpoint (node, testbed) */
    ep_engine_opts eng;
    const char *llm_shape, *dnn_shape, *checkpoint;
    const char *policy_log; /* roles: a file; testbed: a directory of <role>.plog */
    int64_t threads;
    int64_t max_held;       /* --max-held (node, testbed) */
    double sync_loss[2];    /* --sync-loss S:E (controller, node, testbed): trace seconds */
    const char *node_ip;    /* --node-ip: node k listens on this IPv4 address + k */
    const char *deploy;     /* --deploy: the deployment file */
    double clock_offset_ms; /* --clock-offset-ms: this process's clock reads this far ahead */
    int no_clock_sync;      /* --no-clock-sync: keep the own clock, estimate no offset */
    int payloads;           /* --payloads 1, --no-payloads 0; -1: not given (testbed: on with
                               --netns, else off; roles: off) */
    int cpus[CLI_CPUS_MAX]; /* --cpus: roles run on these CPUs; testbed: node k on the k-th */
    int ncpus;
} exec_cli;

/* Parses the options (testbed: also --netns, --keep-logs). help: the --help text in parts,
 * NULL-terminated. Returns 0, -1 after printing --help, or an exit status after printing the
 * problem. */
int exec_cli_parse(exec_cli *c, int argc, char **argv, const char *const *help, int testbed);

/* Runs one role in this process with the parsed options. The loadgen prints its table
 * (without --json) and, with --json, its JSON summary, unless summary is given: then the
 * summary is returned there for the caller to print (a new reference). Returns an exit
 * status. */
struct json_t;
int exec_cli_role(exec_cli *c, ep_live_role role, ep_exec_stats *stats, struct json_t **summary);

/* Reads the shared key from path (or $EPARA_KEY when path is NULL) into key[cap]; trailing
 * newlines are not part of it. Prints the problem and returns -1 when it is missing or
 * shorter than EP_WIRE_MIN_KEY_BYTES. */
int exec_read_key(const char *path, uint8_t *key, size_t cap, size_t *len);

#endif
