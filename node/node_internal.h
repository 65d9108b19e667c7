/* The node runtime's internals (node/README.md), shared by the node/ files and by its two
 * drivers, the simulator (sim/) and the live roles (exec/live.c): the event queue, the
 * runtime state of links, devices, instances and requests, and the port a driver fills. Invariant:
 * every request struct is in exactly one place (in transit, in an instance queue, running, or back
 * in the pool) and gets exactly one record before it returns to the pool. */
#ifndef EPARA_NODE_INTERNAL_H
#define EPARA_NODE_INTERNAL_H

#include "epara/core/heap.h"
#include "epara/core/list.h"
#include "epara/policies/policy.h"
#include "epara/node/arrivals.h"
#include "epara/node/node.h"
#include "epara/traces/store.h"

typedef struct node_rt node_rt;
typedef struct node_event node_event;
typedef void (*node_event_fn)(node_rt *s, node_event *ev);

/* Events are embedded in the objects they concern: scheduling allocates nothing. */
struct node_event {
    ep_heap_node node;
    ep_time at;
    uint64_t seq;
    node_event_fn fn;
    uint32_t kind; /* for the event-log hash */
    uint32_t obj;  /* object id, for the event-log hash */
};

enum node_event_kind {
    EV_ARRIVAL = 1,
    EV_TRANSFER,
    EV_BATCH_DONE,
    EV_ITER_DONE,
    EV_SYNC,
    EV_PLACE,
    EV_LOAD_DONE,
    EV_FAULT,
    EV_TIMER,
    EV_HOLD,
    EV_SYNC_DELIVER /* a delayed state sync message arrives (sync_delay fault) */
};

typedef struct node_engine {
    ep_heap heap;
    ep_time now;
    uint64_t seq;
    uint64_t events;
    uint64_t hash;
} node_engine;

void node_engine_init(node_engine *e);
void node_engine_fini(node_engine *e);
void node_event_init(node_event *ev, node_event_fn fn, uint32_t kind, uint32_t obj);
/* Schedules ev (not currently scheduled) at time at >= now. Returns 0 or EP_ENOMEM. */
int node_schedule(node_engine *e, node_event *ev, ep_time at);
void node_cancel(node_engine *e, node_event *ev);
int node_event_pending(const node_event *ev);
/* Pops the next event, advances now, folds it into the hash; NULL when none or past
 * `until`. */
node_event *node_engine_next(node_engine *e, ep_time until);

/* --- network (net.c) ------------------------------------------------------------------ */

/* One direction of a link: a FIFO server. */
typedef struct node_pipe {
    ep_time busy_until;
    double bw; /* bytes/s */
    ep_dur latency;
    double loss;
    const ep_link *link; /* framing (ep_link_wire_bytes) */
} node_pipe;

/* Time a transfer of `bytes` entering the pipe at `now` arrives at the far end; the pipe is
 * reserved FIFO (a later transfer waits for this one to leave). */
ep_time node_pipe_send(node_pipe *p, ep_time now, int64_t bytes);
/* Unloaded time of `bytes` over the pipe. */
ep_dur node_pipe_cost(const node_pipe *p, int64_t bytes);

/* --- requests ------------------------------------------------------------------------- */

typedef struct node_request {
    node_event ev;      /* transfers and response delivery */
    ep_list_node qnode; /* instance queue or running list */
    ep_record rec;
    ep_time deadline; /* DNN completion / LLM first-token deadline */
    ep_time due;      /* once queued: the latest completion on its instance that still gets
                       * the result to the ingress by the deadline (the deadline less the
                       * reply's transfer; LLMs: the deadline) */
    int64_t bytes;    /* payload to move */
    int64_t stream, frame;
    ep_dur exec;   /* trace's observed execution time, or EP_TRACE_NONE */
    int at_node;   /* where it is (or is heading) */
    int target;    /* instance it is dispatched to, -1 while routing */
    int hop_stage; /* 0: to the switch, 1: switch to destination */
    int dst_node;
    int delivering; /* the transfer carries the response back to the ingress */
    /* LLM state */
    int64_t generated;    /* output tokens produced */
    int64_t kv_held;      /* KV tokens held */
    int prefilled;        /* prompt (+ recompute) processed */
    ep_dur prefill_est;   /* its prefill estimate while queued (LLM backlog accounting) */
    int64_t prefill_done; /* prompt tokens already prefilled (chunked prefill) */
    int64_t chunk;        /* prompt tokens prefilled in the current iteration */
    /* A live node in payload mode (exec/): the request's bytes and its response's, owned
     * (freed when it ends or leaves the process); NULL in the simulator. */
    uint8_t *payload, *output;
    int64_t payload_len, output_len, output_cap;
    struct node_request *pool_next;
} node_request;

/* --- instances (dnn.c, llm.c) ------------------------------------------------------- */

typedef struct node_instance {
    node_event ev; /* batch / iteration done, load done */
    int id;
    ep_instance_spec spec;
    int node;
    int ready;
    int retired; /* removed from the placement: serves what it holds, takes nothing new */
    int busy;
    ep_list queue;   /* waiting requests */
    ep_list running; /* requests in the current batch / iteration */
    int nrunning;
    ep_dur batch_time; /* duration of the current batch / iteration */
    ep_time busy_since;
    int dev_wait;       /* waiting for its device (node_instance_kick) */
    int excl;           /* running as SINGLE: its device to itself (node_instance_begin) */
    ep_dur pp_interval; /* PP: time between batch starts (slowest stage) */
    ep_time pp_free_at;
    /* LLM */
    int64_t kv_cap, kv_used;
    ep_dur queued_prefill; /* sum of the queued requests' own prefill estimates */
    int64_t iter_prefill_tokens;
    /* stats */
    int64_t served;
} node_instance;

#define NODE_PLOG_TIMERS 16 /* timers one policy call may arm that a log keeps */

/* Where the host hands off what leaves it: a process of a live testbed sets these
 * (exec/live.c, through node_setup); the simulator leaves them NULL and keeps everything inside, on
 * its network model and cost model. */
typedef struct node_port {
    /* Request r leaves its node for node dst (required where requests are routed): the
     * simulator's network model (sim/transfer.c), a testbed node's transport. */
    void (*send)(node_rt *s, node_request *r, int dst);
    /* A sync tick: this process reports its state (the simulator: a snapshot of every
     * instance, node_snapshot, now or late; a node: to its peers and the controller). */
    void (*sync)(node_rt *s);
    /* Runs a batch or iteration on a real engine and returns its measured duration (which
     * includes any co-location slowdown), or -1 when the cost model's t stands. */
    ep_dur (*run)(node_rt *s, node_instance *in, int batch, ep_dur t);
    /* A new request from the workload (the loadgen: hands it to its ingress node). */
    void (*arrival)(node_rt *s, node_request *r);
    /* A new placement was applied (the controller: hands it to the nodes). */
    void (*placed)(node_rt *s, const ep_placement *p);
    /* Request r got its record and returns to the pool (the loadgen: no longer pending). */
    void (*finished)(node_rt *s, node_request *r);
    /* Seconds on a monotonic clock, to time the policy's place() (place_time_s); NULL: not
     * timed. The runtime reads no clock itself. */
    double (*stopwatch)(void);
} node_port;

/* What this runtime hosts: every node and the controller (the simulator, sim/; time from
 * the event queue alone) or one role of a live testbed (exec/live.c; include/epara/exec/live.h). */
typedef enum node_role {
    NODE_ROLE_ALL,
    NODE_ROLE_CONTROLLER,
    NODE_ROLE_NODE,
    NODE_ROLE_LOADGEN
} node_role;

/* The runtime of one process: the nodes it hosts (all, one, or none for the controller and
 * the loadgen), their instances and requests, the policy states, its views. */
struct node_rt {
    const ep_scenario *sc;
    ep_run_opts opts;
    node_role role;
    int local;      /* NODE_ROLE_NODE: the node this process hosts */
    node_port port; /* filled by the driver (NULL entries: not used by the role) */
    /* policy call log (opts.policy_log): timers armed by the call being logged */
    struct node_plog_timer {
        ep_dur after;
        uint64_t cookie;
    } plog_timers[NODE_PLOG_TIMERS];
    int plog_ntimers, plog_active;
    node_engine eng;
    const ep_policy_ops *pol;
    /* Policy states, one per node and one for the controller (index nnodes), as each process
     * of a live testbed has its own: pol_states[i] is NULL where the role does not use it.
     * Each has its own RNG stream (node_pol_stream). Reach them through node_pol_state. */
    void **pol_states;
    ep_rng *pol_rngs;
    int pol_owner; /* the state selected last (node, -1: controller): timers armed are its */
    ep_env env;
    ep_view view;
    ep_category *cat;
    /* cluster runtime */
    node_pipe *up, *down; /* per link: node->switch, switch->node */
    ep_time *up_free;     /* per link: up[l].busy_until, for the view (uplink_free) */
    int *node_up, *link_up;
    /* Partition: cut[n] is 1 for the nodes cut off while `part` is set; nodes reach each
     * other only on the same side. Views learn it late: vcut / vpart are the partition as
     * of the last sync tick (a missed round of sync messages reveals it, the first round
     * after the heal ends it). While vpart, a routing node sees the nodes across the cut as
     * down (vnode_up) and their instances as frozen (last synced before the cut), not ready. */
    int *cut, *vcut, *vnode_up;
    int part, vpart;
    ep_time part_since;       /* when the partition began or healed last */
    ep_instance_view *frozen; /* every instance as of the last sync before the partition */
    double *dev_slow;         /* slow_device fault: per device time multiplier (1: normal) */
    int *dev_busy;            /* busy instances per device (MT slowdown) */
    int *dev_excl;            /* busy SINGLE-mode instances per device (0 or 1) */
    int *dev_waiters;         /* instances waiting for a device a SINGLE one holds, per device */
    double *dev_busy_s;       /* time with at least one busy instance, per device */
    ep_time *dev_since;       /* when the device last turned busy */
    node_instance **inst;
    int ninst, cap_inst;
    ep_instance_view *iview;  /* the view handed to the policy */
    ep_instance_view *synced; /* every instance as of the last state sync */
    /* node_refresh_view's shortcut (simulator, no partition in view): while iview_synced,
     * iview equals synced except the entries current_idx[0..ncurrent) of the node it was last
     * refreshed for. Whatever writes synced or adds an instance clears it. */
    int iview_synced;
    int *current_idx;
    int ncurrent;
    int *inst_node; /* inst[i]->node, dense (scanned per refresh) */
    node_event sync_ev, place_ev;
    /* workload */
    struct node_source *src;
    int nsrc;
    ep_time end;    /* last arrival considered */
    ep_time cutoff; /* arrivals at or after this are not replayed */
    ep_time window_lo, window_hi;
    /* demand seen by the policy (per service; see ep_view) */
    int64_t *arrivals, *arrivals_at_place;
    double *rate, *mean_in, *mean_out, *sum_in, *sum_out;
    double *oracle;      /* nperiods x nservices arrivals, when the policy asks (oracle=1) */
    double *oracle_rate; /* the view's per-service slice for the coming period */
    int64_t nperiods;
    ep_time last_place;
    /* requests */
    node_request *pool;
    uint64_t next_id;
    int64_t in_flight;
    /* metrics */
    struct node_metrics *m;
    ep_run_result *res;
    int failed;          /* first error code from deep inside the run */
    ep_time *qdl, *qarr; /* scratch for pick_batch queue views */
    int qcap;
    int quiet; /* records are not reported (tear-down after a failure) */
};

/* The policy state of node (< 0: the controller's), which the role must hold (asserted);
 * selects it: env.rng becomes its stream, and timers armed until the next selection belong
 * to it (on_timer runs on it). Call it right before each hook. */
void *node_pol_state(node_rt *s, int node);
/* The RNG stream of node's policy state (< 0: the controller's, EP_STREAM_POLICY as it has
 * always been; a node's is derived from its index). */
uint64_t node_pol_stream(int node);

/* What a role does, asked where set-up differs by role: hosts instances, routes and reports
 * its state (the simulator, a node); places (the simulator, the controller); replays the
 * workload (the simulator, the loadgen); runs the policy at all (every role but the loadgen). */
static inline int
node_hosts(const node_rt *s)
{
    return s->role == NODE_ROLE_ALL || s->role == NODE_ROLE_NODE;
}
static inline int
node_places(const node_rt *s)
{
    return s->role == NODE_ROLE_ALL || s->role == NODE_ROLE_CONTROLLER;
}
static inline int
node_replays(const node_rt *s)
{
    return s->role == NODE_ROLE_ALL || s->role == NODE_ROLE_LOADGEN;
}

/* 1 when node's instances are hosted by this process. */
static inline int
node_is_local(const node_rt *s, int node)
{
    return s->role == NODE_ROLE_ALL || (s->role == NODE_ROLE_NODE && node == s->local);
}

/* 1 when nodes a and b can exchange messages (the same side of any partition). */
static inline int
node_reachable(const node_rt *s, int a, int b)
{
    return !s->part || s->cut[a] == s->cut[b];
}

/* Host helpers used by dnn.c / llm.c. */
/* 1 when a partition separates the instance's devices (a pipeline across the cut). */
int node_instance_split(const node_rt *s, const node_instance *in);
/* Batch / iteration time multiplier of the instance's slowest device (slow_device faults). */
double node_instance_slow(const node_rt *s, const node_instance *in);
void node_request_finish(node_rt *s, node_request *r, ep_outcome o, const char *reason);
/* Frees a request's payload and output bytes (a live node's). */
void node_request_free_bytes(node_request *r);
void node_instance_kick(node_rt *s, node_instance *in);
/* Marks whether the instance waits for a device a SINGLE-mode instance holds (or, SINGLE
 * itself, for a device another instance runs on): node_instance_end kicks the waiters. */
void node_instance_wait(node_rt *s, node_instance *in, int wait);
/* Marks the instance's devices busy from now; returns t stretched by the MT slowdown of
 * the devices' concurrently busy instances. The caller schedules the instance's event. */
ep_dur node_instance_begin(node_rt *s, node_instance *in, ep_dur t);
/* Ends the busy period: devices freed, busy time accounted, in->busy = 0. */
void node_instance_end(node_rt *s, node_instance *in);
void node_dnn_start(node_rt *s, node_instance *in);
void node_llm_start(node_rt *s, node_instance *in);
int node_llm_admit(node_rt *s, node_instance *in, node_request *r);
void node_dnn_batch_done(node_rt *s, node_event *ev);
void node_dnn_request_done(node_rt *s, node_event *ev);
void node_llm_iter_done(node_rt *s, node_event *ev);
/* Sends request r from its node to node dst (or delivers the response when r->delivering). */
void node_send(node_rt *s, node_request *r, int dst);
ep_dur node_delay(const node_rt *s, int a, int b, int64_t bytes);
/* Bytes of a DNN request's reply (its result, e.g. a mask or labels). */
#define NODE_DNN_REPLY_BYTES 1000

/* host.c / place.c / setup.c internals */
/* One workload source: a streaming reader and the arrival event of its next row. */
typedef struct node_source {
    node_event ev;
    ep_arrivals rp; /* the workload's arrivals (epara/node/arrivals.h) */
    const ep_workload *w;
    ep_trace_row row; /* next row, valid while has_row */
    int has_row;
    ep_time next_at;
    int rr; /* round-robin over ingress nodes */
} node_source;

/* A policy timer: a rare event, allocated when armed and freed when run. */
typedef struct node_timer {
    node_event ev;
    uint64_t cookie;
    int owner; /* the policy state whose hook armed it (node, -1: controller) */
} node_timer;

/* A state sync message delayed by a sync_delay fault: the snapshot of every instance taken
 * at a sync tick, applied when it arrives (a rare event, allocated when sent). */
typedef struct node_sync_msg {
    node_event ev;
    int n;
    ep_instance_view v[];
} node_sync_msg;

void node_sync_deliver(node_rt *s, node_event *ev);
/* Every instance's current view becomes the synced one now (a sync round that arrives at
 * once), or after delay (node_sync_msg: one that arrives late). */
void node_snapshot(node_rt *s);
void node_snapshot_later(node_rt *s, ep_dur delay);

ep_dur node_view_delay(const ep_view *v, int a, int b, int64_t bytes);
/* Request r arrives at its destination node (r->dst_node): queued on the instance it was
 * sent to, or routed there again. */
void node_arrive(node_rt *s, node_request *r);
/* node_arrive as an event (EV_TRANSFER, on the request's own event): a request a driver
 * delivers later, e.g. a live node's forward held until its emulated arrival. */
void node_arrive_event(node_rt *s, node_event *ev);
void node_route(node_rt *s, node_request *r);
void node_enqueue(node_rt *s, node_request *r, node_instance *in);
node_request *node_request_alloc(node_rt *s);
/* Instance in as it is now, as its own node sees it (not as of the last sync), into *v. */
void node_current_view(node_rt *s, const node_instance *in, ep_instance_view *v);
void node_refresh_view(node_rt *s, int at_node);
void node_sync_tick(node_rt *s, node_event *ev);
void node_instance_event(node_rt *s, node_event *ev);
int node_do_place(node_rt *s, int initial);
void node_place_tick(node_rt *s, node_event *ev);
void node_timer_fire(node_rt *s, node_event *ev);
void node_timer_arm(void *host, ep_dur after, uint64_t cookie);
/* place.c: stops what the instance is doing and drops every request it holds (why: the
 * reason). */
void node_instance_drop(node_rt *s, node_instance *in, const char *why);
/* place.c: node goes down (its instances drop what they hold and stop, loads included), or
 * comes back (instances placed on it load from now). */
void node_node_fail(node_rt *s, int node);
/* place.c: the network splits: nodes[0 .. n) are cut off from the rest (messages cross only
 * within a side; a pipeline with stages on both sides drops what it holds); node_heal ends
 * it. The views learn of either at the first sync round after it (node_partition_learn, which
 * the driver's sync calls). */
void node_partition(node_rt *s, const int *nodes, int n);
void node_heal(node_rt *s);
void node_partition_learn(node_rt *s);
void node_node_restore(node_rt *s, int node);
/* Applies a desired placement (place.c); initial: instances ready at once. */
int node_apply_placement(node_rt *s, ep_placement *p, int initial);
/* Rates over the period since the last placement (place.c). */
void node_update_demand(node_rt *s);
/* setup.c: set-up for a role (everything before the loop) and tear-down. */
/* host.c: how a driver runs the runtime's clock. node_next: the time of the next event
 * (EP_TIME_MAX: none). node_step: runs the next event due at or before until, at its own
 * time; 0 when there is none or the run has failed (s->failed), else 1. node_advance: every
 * event due at or before now, then the clock set to now (never backwards); returns
 * s->failed. */
ep_time node_next(const node_rt *s);
int node_step(node_rt *s, ep_time until);
int node_advance(node_rt *s, ep_time now);
/* setup.c: "msg: arg" into err (when given); returns code. */
int node_err(char *err, size_t len, int code, const char *msg, const char *arg);
int node_setup(node_rt *s, const ep_scenario *sc, const ep_run_opts *opts, ep_run_result *out,
               node_role role, int local, const node_port *port, char *err, size_t errlen);
void node_drain(node_rt *s);
void node_free(node_rt *s);
void node_arrival(node_rt *s, node_event *ev);

/* plog.c: the policy call log. Each call: begin (kind, the state selected by node_pol_state,
 * time, view), inputs and outputs as data, end (timers armed). All no-ops without
 * opts.policy_log. */
enum {
    NODE_PL_CATEGORIZE = 1,
    NODE_PL_PLACE,
    NODE_PL_ROUTE,
    NODE_PL_BATCH,
    NODE_PL_TIMER,
    NODE_PL_INIT
};
void node_plog_header(node_rt *s, uint64_t seed);
void node_plog_begin(node_rt *s, int kind);
void node_plog_data(node_rt *s, const void *p, size_t n);
void node_plog_end(node_rt *s);
void node_plog_timer(node_rt *s, ep_dur after, uint64_t cookie);
const char *node_plog_kind_name(int kind);

/* metrics.c */
struct node_metrics *node_metrics_new(int nservices);
void node_metrics_free(struct node_metrics *m);
void node_metrics_add(struct node_metrics *m, const ep_scenario *sc, const ep_record *r);
/* Fills the result; EP_ENOMEM when a histogram could not be allocated during the run. */
int node_metrics_finish(struct node_metrics *m, const ep_scenario *sc, ep_run_result *res);

#endif
