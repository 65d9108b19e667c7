/* The executor's processes (exec/README.md): `epara controller`, `epara node` and
 * `epara loadgen` each run one role of include/epara/exec/live.h over nng (TCP, push/pull), with
 * every message an authenticated frame of include/epara/exec/wire.h.
 *
 * Addresses: every process of one testbed shares a host and a base port: the controller
 * listens on base, the loadgen on base + 1, node k on base + 2 + k. Nothing listens beyond
 * the host given (loopback by default).
 *
 * Time: trace time t is wall time epoch + t / time_scale: every process of a testbed gets the
 * same epoch on the wall clock (CLOCK_REALTIME ns; agreed on one machine, and on several
 * with synchronized clocks), converts it once to CLOCK_MONOTONIC and keeps time on that,
 * so the policies' ep_env never sees the wall clock jump. Engines: emulated (a batch or iteration
 * ends when its profiled time has passed); links: emulated from the scenario's (a forwarded request
 * is handed over at its modelled arrival time) unless real_links is set (netns with tc shaping). */
#ifndef EPARA_EXEC_H
#define EPARA_EXEC_H

#include <signal.h>

#include "epara/exec/engine.h"
#include "epara/exec/live.h"
#include "epara/exec/wire.h"

#define EP_EXEC_DEFAULT_PORT 47600
#define EP_EXEC_MAX_NODES    1024
/* Bounds on what one process accepts and holds (exec/README.md). */
/* A frame: 1 MiB for a message's fields (a STATE of 4,096 instances) plus a payload. */
#define EP_EXEC_MAX_FRAME \
    (EP_WIRE_HEADER_BYTES + (1u << 20) + (size_t)EP_MSG_PAYLOAD_MAX + EP_WIRE_TAG_BYTES)
#define EP_EXEC_SEND_BUFFER 8192 /* messages queued per peer before sends fail */
/* A sender's frames to one peer within a loop turn travel as one message up to this size
 * (a frame that would pass it starts the next one). */
#define EP_EXEC_BATCH_BYTES (256u << 10)

typedef struct ep_exec_stats {
    int64_t msgs_in, msgs_out;
    int64_t bad_frames;   /* failed authentication or validation, replayed, or from a sender
                             that may not send that type (dropped, counted) */
    int64_t replayed;     /* of those: replayed or stale (a sender's earlier frame) */
    int64_t send_failed;  /* sends refused: peer not connected or its buffer full */
    int64_t late_results; /* loadgen: results for requests already recorded */
    int64_t state_lost;   /* controller, node: STATE messages dropped by sync_loss */
    int64_t engine_runs, engine_failures; /* node with a real engine */
    double wall_s;
    /* loadgen: wall round trip of each completed request minus its served time in the
     * testbed (done - arrival in trace time, over time_scale): the dispatch overhead */
    double overhead_p50_s, overhead_p99_s;
    int64_t overhead_n;
    /* Clocks: this process's estimate of how far its clock is ahead of the controller's
     * (trace ms; its correction with the sign turned) and the estimate's uncertainty (half
     * the round trip of the sample it rests on; -1: no estimate); loadgen: each node's last
     * report of its own (node_clock_err_ms -1: none arrived). */
    int clock_sync; /* 0: --no-clock-sync */
    double clock_ahead_ms, clock_err_ms;
    int64_t clock_samples;
    double node_clock_ahead_ms[EP_EXEC_MAX_NODES], node_clock_err_ms[EP_EXEC_MAX_NODES];
    ep_live_payload_stats payload; /* what payload mode moved (zero when off) */
} ep_exec_stats;

typedef struct ep_exec_opts {
    const ep_scenario *sc;
    ep_live_role role;
    int node;            /* EP_LIVE_NODE */
    ep_run_opts sim;     /* policy, seed, rate_scale, duration, traces, on_record, ... */
    const char *host;    /* NULL: 127.0.0.1 */
    const char *node_ip; /* NULL: nodes listen on host; else node k on node_ip + k */
    int base_port;       /* 0: EP_EXEC_DEFAULT_PORT */
    /* Where every process listens (epara/exec/deploy.h); when given, host, node_ip and
     * base_port are not used. */
    const struct ep_deploy *deploy;
    const uint8_t *key; /* shared secret, keylen >= EP_WIRE_MIN_KEY_BYTES */
    size_t keylen;
    int64_t epoch_ns;  /* CLOCK_REALTIME ns of trace time 0 */
    double time_scale; /* trace seconds per wall second (> 0; 1: real time) */
    int real_links;    /* 1: links shaped for real (bandwidth and latency): forwarded requests
                          are taken as they come; 2: only the bandwidth is (no netem): they are
                          held for the links' latency */
    ep_dur grace;      /* loadgen: wait this long (trace time) after the last arrival
                          for outstanding results; 0: 60 s */
    ep_dur run_for;    /* controller, node: stop at this trace time (0: on signal) */
    volatile sig_atomic_t *stop; /* set by a signal handler: stop now (may be NULL) */
    int verbose;                 /* log connections and peers lost to stderr */
    /* node: the engine (NULL or kind emulated: batches take the cost model's time; cpu,
     * cuda: each batch and iteration runs on the engine, which times it) */
    const ep_engine_opts *engine;
    int64_t max_held; /* node: most requests held at once (ep_live_opts.max_held; 0: 65536) */
    /* controller, node: a sync-message fault: every STATE message received while the trace
     * time is in [sync_loss_from, sync_loss_until) is dropped (counted in state_lost), as
     * if lost on the network; until <= from: none. */
    ep_time sync_loss_from, sync_loss_until;
    /* Clocks (exec/README.md, "Clocks"): this process's wall clock reads clock_skew_ns
     * ahead of the real one (a test of the offset estimation; 0: as it is); no_clock_sync:
     * nodes and the loadgen keep their own clocks instead of estimating their offsets. */
    int64_t clock_skew_ns;
    int no_clock_sync;
    /* node, loadgen: payload mode (ep_live_opts.payloads; exec/README.md, "Payloads"):
     * requests carry their bytes between nodes and responses theirs back. Every process of
     * a testbed must agree. */
    int payloads;
} ep_exec_opts;

/* Runs one process of a testbed until it is done (loadgen: every request has a record;
 * others: run_for or *stop). The loadgen fills *out (may be NULL for the others) as
 * `epara sim` does; free it with ep_run_result_fini. Errors (message in err): EP_EINVAL
 * (options), EP_EIO (cannot listen or dial: the address is in the message), EP_ENOMEM. */
int ep_exec_run(const ep_exec_opts *o, ep_run_result *out, ep_exec_stats *stats, char *err,
                size_t errlen);

/* The address of a role: "tcp://host:port" into buf. node: index for EP_LIVE_NODE. The
 * deployment's when given; else node k listens on node_ip + k (IPv4, counted as a 32-bit
 * number) when node_ip is given (each node in its own network namespace), else on host. */
void ep_exec_addr(const ep_exec_opts *o, ep_live_role role, int node, char *buf, size_t len);

/* CLOCK_REALTIME in ns. */
int64_t ep_exec_wall_ns(void);

#endif
