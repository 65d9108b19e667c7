/* A live testbed on this machine (exec/testbed.c, exec/README.md): the controller, one node
 * agent per scenario node and the loadgen, started as processes of this epara binary
 * (`epara controller|node|loadgen`) with one key, one port range, one epoch and one time
 * scale; faults injected at their trace times; everything torn down at the end. With netns,
 * each node runs in its own network namespace, its scenario link shaped by tc (root).
 *
 * Lifecycle: ep_testbed_open (key, ports, namespaces), ep_testbed_start (the processes),
 * ep_testbed_wait (faults, the loadgen's end, tear-down), then the loadgen's output
 * (ep_testbed_output, ep_testbed_json_add), ep_testbed_close. It prints nothing. */
#ifndef EPARA_TESTBED_H
#define EPARA_TESTBED_H

#include <stdio.h>

#include "epara/exec/exec.h"
#include "epara/core/model.h"

/* Most faults one testbed injects. */
#define EP_TESTBED_MAX_FAULTS 16

typedef enum ep_testbed_fault_kind {
    EP_TESTBED_KILL,      /* kill -9 of a node's process or the controller's */
    EP_TESTBED_LINK_DOWN, /* (netns) the node's link taken down */
    EP_TESTBED_LINK_UP,   /* (netns) and up again */
    EP_TESTBED_LINK_LOSS, /* (netns) the node's link drops each packet with probability loss */
} ep_testbed_fault_kind;

/* A fault injected once the testbed's trace time reaches at_s. */
typedef struct ep_testbed_fault {
    ep_testbed_fault_kind what;
    int node;    /* scenario node index; -1: the controller (EP_TESTBED_KILL only) */
    double loss; /* EP_TESTBED_LINK_LOSS: packet loss probability in [0, 1] (0: none) */
    double at_s; /* trace seconds */
} ep_testbed_fault;

/* A node whose clock reads ahead of the others' (a test of the clock offset estimation). */
typedef struct ep_testbed_clock {
    int node;
    double ahead_ms; /* negative: behind */
} ep_testbed_clock;

/* How the links between the processes are made. */
typedef enum ep_testbed_links {
    EP_TESTBED_LINKS_EMULATED, /* loopback: the processes emulate the scenario's links */
    EP_TESTBED_LINKS_NETEM,    /* netns, tc netem: rate, delay and loss shaped for real */
    EP_TESTBED_LINKS_TBF_LOSS, /* netns, tc tbf (rate), latency emulated, loss by iptables */
    EP_TESTBED_LINKS_TBF,      /* netns, tc tbf (rate), latency emulated, no packet loss */
} ep_testbed_links;

/* Strings are borrowed until ep_testbed_close; sc and faults only for ep_testbed_open. */
typedef struct ep_testbed_opts {
    /* Its node count and (netns) the nodes' links. */
    const ep_scenario *sc;
    /* NULL-terminated: the arguments every process gets after its role (--scenario,
     * --policy, --seed, ...: those of `epara controller`, `node` and `loadgen`). The testbed
     * adds --host, --node-ip and --base-port (or --deploy), --real-links or
     * --real-bandwidth, --key-file, --epoch, --time-scale, --node and --policy-log itself. */
    const char *const *args;
    const char *const *loadgen_args; /* the loadgen's own after those (may be NULL) */
    const char *key_file;            /* NULL: a fresh random key in a temporary file */
    const char *host;                /* NULL: 127.0.0.1; netns: replaced by the bridge's address */
    const char *node_ip; /* NULL: nodes listen on host; netns: replaced by node 0's address */
    int real_links;      /* as ep_exec_opts.real_links; netns: 1 with netem, else 2 */
    int base_port;       /* 0: a free range on 127.0.0.1 */
    /* A deployment file (epara/exec/deploy.h) and what it says, read against sc: every
     * process listens where its line says (--deploy FILE replaces host, node_ip and
     * base_port); with netns each namespace takes its node's address. NULL: none. */
    const char *deploy_file;
    const struct ep_deploy *deploy;
    double time_scale;              /* trace seconds per wall second (> 0) */
    int netns;                      /* 1: nodes in network namespaces, links shaped by tc (root) */
    const char *logs;               /* NULL, or a directory: each process's stderr in DIR/<name>.log
                                       (names: controller, node-K, loadgen) */
    const char *policy_log;         /* NULL, or a directory: the controller and each node log their
                                       policy calls to DIR/<name>.plog */
    const ep_testbed_fault *faults; /* at most EP_TESTBED_MAX_FAULTS, copied */
    int nfaults;
    const ep_testbed_clock *clocks; /* at most EP_TESTBED_MAX_FAULTS, copied */
    int nclocks;
    /* NULL, or ncpus CPU numbers: node k runs pinned to cpus[k % ncpus] (its --cpus); the
     * controller and the loadgen are not pinned. Borrowed until ep_testbed_close. */
    const int *cpus;
    int ncpus;
    /* Recorded in the summary's testbed object (ep_testbed_json_add) only. */
    const char *engine;
    double sync_loss_from_s, sync_loss_until_s; /* until <= from: none */
} ep_testbed_opts;

/* What ep_testbed_open settled. */
typedef struct ep_testbed_info {
    int nnodes;
    int base_port; /* controller; loadgen base_port + 1, node k base_port + 2 + k (0: the
                      deployment names the ports) */
    ep_testbed_links links;
    int netns_id; /* netns: the namespaces are ep<id>n<k>; 0 without */
} ep_testbed_info;

typedef struct ep_testbed ep_testbed;

/* Prepares a testbed of o->sc: finds this process's binary, writes a key file unless one is
 * given, finds a free port range unless one is given and (netns) creates the bridge and the
 * namespaces with their shaped links. *out on success; close it with ep_testbed_close.
 * Errors (message in err, naming what failed): EP_EINVAL (options: no scenario, a fault on
 * a node the scenario lacks, a link fault without netns, too many faults), EP_EIO (no
 * binary, no key file, no free ports, namespaces), EP_ENOMEM. */
int ep_testbed_open(const ep_testbed_opts *o, ep_testbed **out, char *err, size_t errlen);

/* What ep_testbed_open settled; tb is not NULL. */
void ep_testbed_get_info(const ep_testbed *tb, ep_testbed_info *info);

/* Sets the epoch (trace time 0, once every process has had time to start and connect),
 * catches SIGINT and SIGTERM (a signal ends ep_testbed_wait early) and starts the
 * controller, the nodes and the loadgen, whose standard output is kept for
 * ep_testbed_output. Once per testbed, one testbed per process at a time. Errors (message
 * in err): EP_EIO (no temporary file for the loadgen's output), EP_ENOMEM. */
int ep_testbed_start(ep_testbed *tb, char *err, size_t errlen);

/* Injects the faults at their times until the loadgen ends or SIGINT or SIGTERM arrives
 * (then the loadgen gets SIGTERM and reports what it has); then stops the other processes
 * (SIGTERM, SIGKILL after 10 s), removes the namespaces and the key file it wrote and
 * restores the signal handlers. Returns the loadgen's exit status (0..255), or -1 when it
 * did not exit (killed by a signal) or never started. */
int ep_testbed_wait(ep_testbed *tb);

/* The loadgen's standard output, opened for reading (the caller closes it); NULL when it
 * cannot be opened. After ep_testbed_wait. */
FILE *ep_testbed_output(const ep_testbed *tb);

/* Adds to the loadgen's JSON summary (its "testbed" object, created when missing) what the
 * testbed knows: engine, nodes, time_scale, netns, links, how each process ended, the
 * faults injected (with done: whether each took effect) and sync_loss. After
 * ep_testbed_wait. Returns 0, or EP_ENOMEM. */
struct json_t;
int ep_testbed_json_add(const ep_testbed *tb, struct json_t *summary);

/* The loadgen's "testbed" object from its statistics: messages in and out, bad and replayed
 * frames, sends refused, late results, dispatch overhead and wall time. A new reference,
 * NULL when out of memory. */
struct json_t *ep_testbed_stats_json(const ep_exec_stats *st);

/* Stops whatever is still running (SIGKILL), removes the namespaces, the key file it wrote
 * and the loadgen's output, restores the signal handlers and frees tb. NULL: no-op. */
void ep_testbed_close(ep_testbed *tb);

#endif
