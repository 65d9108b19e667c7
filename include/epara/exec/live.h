/* The node runtime in real time (exec/README.md, node/README.md): the executor's processes
 * drive the same runtime as `epara sim` (ep_node) -- request routing through the policy, instance
 * queues, batching, continuous batching with KV accounting, placement application, state sync --
 * but each process owns one role and time comes from the wall clock instead of the event heap:
 *
 *   controller  runs the policy's place() every placement period over the state the nodes
 *               report, and hands each new placement to on_placement (it hosts nothing);
 *   node k      hosts the instances placed on node k, routes the requests that reach it,
 *               hands requests leaving it to `send`, reports outcomes to on_record and
 *               its instances' state to on_sync every sync period;
 *   loadgen     replays the scenario's workload from the trace database at the trace's
 *               times, hands each request to `send` (to its ingress node) and turns the
 *               outcomes that come back (ep_live_result) into the records and the summary
 *               `epara sim` reports.
 *
 * Time is ns since the testbed's epoch, in trace time. The caller's loop alternates
 * ep_live_advance(now) (runs every internal event due by now: batch and iteration ends,
 * timers, sync and placement ticks, emulated link deliveries) with the calls below for the
 * messages it receives, and sleeps until ep_live_next() or the next message. Not thread
 * safe: one thread drives one ep_live. */
#ifndef EPARA_LIVE_H
#define EPARA_LIVE_H

#include "epara/node/node.h"
#include "epara/exec/msg.h"

typedef struct ep_live ep_live;

typedef enum ep_live_role { EP_LIVE_CONTROLLER, EP_LIVE_NODE, EP_LIVE_LOADGEN } ep_live_role;

/* One request's share of an LLM iteration a real engine runs (ep_live_hooks.run), or, in
 * payload mode, one item of a DNN batch (tokens 1, decode 0, fresh 1, emits 1). */
typedef struct ep_live_item {
    uint64_t request;
    int tokens; /* prompt tokens prefilled in this iteration, or 1 for a decode */
    int decode; /* 1: decodes one token; 0: prefills `tokens` */
    int fresh;  /* 1: the request's sequence starts over (first prefill, or recompute after
                   preemption): its engine state must be reset first */
    int emits;  /* 1: the item ends with a token of the response (a decode, or the prefill
                   that finishes the prompt): ep_live_output_add takes it */
    /* Payload mode: the request's bytes (image, prompt token ids), borrowed for the call;
     * NULL with payload_len 0 otherwise. */
    const uint8_t *payload;
    int64_t payload_len;
} ep_live_item;

typedef struct ep_live_hooks {
    void *ctx;
    /* A request leaves this process. Node: to node `dst`, for instance `instance` there (or
     * -1: routed again at dst), reaching the switch at `deliver_at` over the emulated link
     * (up this node's link, FIFO; the receiver queues it down its own link and holds it
     * until then). Loadgen: to its
     * ingress node dst (instance -1, deliver_at now). The request's fields are borrowed.
     * Returns 0, or nonzero when dst cannot be reached now: the request is then recorded
     * as dropped. Required for nodes and the loadgen. */
    int (*send)(void *ctx, const ep_msg_request *req, int dst, int instance, ep_time deliver_at);
    /* Controller: a new placement to push to every node (specs borrowed). */
    void (*on_placement)(void *ctx, int64_t epoch, const ep_instance_spec *inst, int n);
    /* Node: the state to report to peers and the controller (borrowed; see ep_msg_state). */
    void (*on_sync)(void *ctx, const ep_msg_state *st);
    /* Node with real engines (may be NULL: emulated, a batch takes the cost model's time):
     * runs the batch (DNN: `batch` items; items NULL, or in payload mode the batch's
     * requests in items[0..n)) or LLM iteration (items[0..n)) that
     * instance `instance` starts now, blocking, and returns how long it took in trace ns
     * (< 0: the engine failed; the cost model's `est` is used and the failure counted).
     * The batch then ends that long after it started, without co-location slowdown (the
     * real engine's time has it). */
    ep_dur (*run)(void *ctx, int instance, const ep_instance_spec *spec, int batch,
                  const ep_live_item *items, int n, ep_dur est);
} ep_live_hooks;

typedef struct ep_live_opts {
    ep_live_role role;
    int node; /* EP_LIVE_NODE: this node's index */
    /* As for ep_sim_run: policy, seed, rate_scale, duration, traces (the workload's trace
     * database: the loadgen replays it; every role reads the demand priors from it),
     * on_record (node: each request that ends here; loadgen: every request's final
     * record), on_decision. on_progress is not used. */
    ep_run_opts sim;
    ep_live_hooks hooks;
    /* Node: most requests held at once (queued, running, held for a link); a request that
     * would exceed it is rejected at once, "node at its request limit" (0: 65536). */
    int64_t max_held;
    /* Node: what the links between nodes are. 0: emulated from the scenario (a forwarded
     * request's deliver_at is its modelled arrival at the switch, up the sender's link, and
     * the receiver queues it down its own, both FIFO, as the simulator); 1: real (shaped
     * bandwidth and latency; deliver_at is ignored by the receiver); 2: real bandwidth only
     * (deliver_at carries just the two links' latency). */
    int link_mode;
    /* Loadgen: a request with no outcome this long after its arrival is recorded as dropped,
     * "no result from the testbed", at once (and a late outcome ignored); 0: only at
     * ep_live_finish. Bounds the loadgen's memory when a node dies with requests. */
    ep_dur result_timeout;
    /* Payload mode (exec/README.md, "Payloads"): a node gives each request bytes of its
     * size (`bytes`: an image's, a prompt's token ids at bytes_per_token each, made from
     * payload_seed and the request's id, ep_live_payload_fill) when it first needs them,
     * sends them with the request to the node that serves it and a response of its output
     * (a mask, token ids) back with its result; a real engine computes on them. The
     * loadgen counts what comes back. Off: requests travel as their descriptions. */
    int payloads;
    uint64_t payload_seed;
} ep_live_opts;

/* What payload mode moved, per process (ep_live_payload_stats). */
typedef struct ep_live_payload_stats {
    int on;                           /* payload mode */
    int64_t sent, sent_bytes;         /* node: requests sent on with their bytes */
    int64_t received, received_bytes; /* node: requests that came with bytes */
    int64_t corrupt;                  /* node: of those, bytes not as made at the ingress */
    int64_t too_large;                /* node: rejected, bytes above EP_MSG_PAYLOAD_MAX */
    int64_t outputs, output_bytes;    /* node: responses sent; loadgen: received */
    int64_t engine_outputs;           /* node: responses a real engine computed */
} ep_live_payload_stats;

/* The bytes of request `id`'s payload: len bytes of a stream hashed from seed and id (every
 * process makes the same ones). */
void ep_live_payload_fill(uint64_t seed, uint64_t id, uint8_t *buf, int64_t len);

/* Sets up a role. The controller computes the initial placement (epoch 0) at once and
 * hands it to on_placement. Errors as for ep_sim_run, with a message in err. */
int ep_live_new(const ep_scenario *sc, const ep_live_opts *o, ep_live **out, char *err,
                size_t errlen);

/* Trace time of the next internal event, or EP_TIME_MAX when none is pending. */
ep_time ep_live_next(const ep_live *l);
/* Runs every internal event due at or before `now`, each at its own time, then sets the
 * clock to `now` (never backwards). Returns 0, or the first error of the run (EP_ENOMEM). */
int ep_live_advance(ep_live *l, ep_time now);
/* The current trace time of the host (after the last advance). */
ep_time ep_live_now(const ep_live *l);

/* Node: a request from the loadgen arrives at this ingress node now. Takes req->payload
 * (NULL afterwards) when it has one. */
int ep_live_arrival(ep_live *l, ep_msg_request *req);
/* Node: a request forwarded by a peer (f->deliver_at: held until then). Takes its payload
 * as ep_live_arrival. */
int ep_live_forward_in(ep_live *l, ep_msg_forward *f);
/* Node, from the run hook: appends n bytes of request `request`'s response (a token id, a
 * mask) computed by a real engine. Returns 0, EP_ENOENT when the request is not running
 * here, EP_ERANGE beyond EP_MSG_PAYLOAD_MAX, EP_ENOMEM. */
int ep_live_output_add(ep_live *l, uint64_t request, const uint8_t *bytes, int64_t n);
/* Node, from on_record: the response bytes of the request being recorded (rec), in
 * payload mode: what a real engine computed, else bytes of the size the simulator moves
 * back (DNN: its reply; LLM: output tokens at bytes_per_token), made from payload_seed.
 * Borrowed until on_record returns; *len 0 (and NULL) when none travels. */
const uint8_t *ep_live_output(ep_live *l, const ep_record *rec, int64_t *len);
/* What payload mode moved in this process so far. */
ep_live_payload_stats ep_live_payload_counts(const ep_live *l);
/* Node: applies placement `epoch` (epoch 0: the initial one, instances ready at once;
 * later ones load for the profiled load time). Placements must come in epoch order; an
 * epoch at or below the last applied one is ignored (returns 0). */
int ep_live_apply(ep_live *l, int64_t epoch, const ep_instance_spec *inst, int n);
/* Node and controller: a peer's state report (instances it hosts and its demand). */
void ep_live_state_in(ep_live *l, const ep_msg_state *st);
/* Node and controller: marks node `node` reachable or not (the policy sees it in
 * view.node_up; a node never marks itself down). */
void ep_live_node_up(ep_live *l, int node, int up);
/* Loadgen: the outcome of request res->id. Returns 1 when it completed a pending request,
 * 0 for an unknown or already recorded id (ignored: a duplicate or a late result). */
int ep_live_result(ep_live *l, const ep_msg_result *res);

/* Loadgen: whether request id is still awaiting its outcome. */
int ep_live_is_pending(const ep_live *l, uint64_t id);
/* Loadgen: requests sent with no outcome yet, and whether every request of the workload
 * has been sent. */
int64_t ep_live_pending(const ep_live *l);
int ep_live_sources_done(const ep_live *l);
/* Loadgen: the last arrival time of the workload (the run's end in trace time). */
ep_time ep_live_end(const ep_live *l);

/* Ends the run: every request still held gets its record (queued or running at a node:
 * unfinished; loadgen requests with no outcome: dropped, "no result from the testbed"),
 * and *out (may be NULL) receives the summary, as ep_sim_run fills it (free with
 * ep_run_result_fini). Then frees l. Returns 0 or EP_ENOMEM. NULL l is a no-op. */
int ep_live_finish(ep_live *l, ep_run_result *out);

#endif
