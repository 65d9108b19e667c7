/* The node runtime's internals (node/README.md), shared by the node/ files and by its two
 * drivers, the simulator (sim/) and the live roles (exec/live.c): the event queue, the
 * runtime state of links, devices, instances and requests, and the port a driver fills. Invariant:
 * every request struct is in exactly one place (in transit, in an instance queue, running, or back
 * in the pool) and gets exactly one record before it returns to the pool. */
#ifndef EPARA_NODE_INTERNAL_H
#define EPARA_NODE_INTERNAL_H

#include "epara/heap.h"
#include "epara/list.h"
#include "epara/policy.h"
#include "epara/arrivals.h"
#include "epara/node.h"
#include "epara/store.h"

typedef struct sim sim;
typedef struct sim_event sim_event;
typedef void (*sim_event_fn)(sim *s, sim_event *ev);

/* Events are embedded in the objects they concern: scheduling allocates nothing. */
struct sim_event {
    ep_heap_node node;
    ep_time at;
    uint64_t seq;
    sim_event_fn fn;
    uint32_t kind; /* for the event-log hash */
    uint32_t obj;  /* object id, for the event-log hash */
};

enum sim_event_kind {
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

typedef struct sim_engine {
    ep_heap heap;
    ep_time now;
    uint64_t seq;
    uint64_t events;
    uint64_t hash;
} sim_engine;

void sim_engine_init(sim_engine *e);
void sim_engine_fini(sim_engine *e);
void sim_event_init(sim_event *ev, sim_event_fn fn, uint32_t kind, uint32_t obj);
/* Schedules ev (not currently scheduled) at time at >= now. Returns 0 or EP_ENOMEM. */
int sim_schedule(sim_engine *e, sim_event *ev, ep_time at);
void sim_cancel(sim_engine *e, sim_event *ev);
int sim_event_pending(const sim_event *ev);
/* Pops the next event, advances now, folds it into the hash; NULL when none or past
 * `until`. */
sim_event *sim_engine_next(sim_engine *e, ep_time until);

/* --- network (net.c) ------------------------------------------------------------------ */

/* One direction of a link: a FIFO server. */
typedef struct sim_pipe {
    ep_time busy_until;
    double bw; /* bytes/s */
    ep_dur latency;
    double loss;
} sim_pipe;

/* Time a transfer of `bytes` entering the pipe at `now` arrives at the far end; the pipe is
 * reserved FIFO (a later transfer waits for this one to leave). */
ep_time sim_pipe_send(sim_pipe *p, ep_time now, int64_t bytes);
/* Unloaded time of `bytes` over the pipe. */
ep_dur sim_pipe_cost(const sim_pipe *p, int64_t bytes);

/* --- requests ------------------------------------------------------------------------- */

typedef struct sim_request {
    sim_event ev;       /* transfers and response delivery */
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
    struct sim_request *pool_next;
} sim_request;

/* --- instances (dnn.c, llm.c) ------------------------------------------------------- */

typedef struct sim_instance {
    sim_event ev; /* batch / iteration done, load done */
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
    int dev_wait;       /* waiting for its device (sim_instance_kick) */
    int excl;           /* running as SINGLE: its device to itself (sim_instance_begin) */
    ep_dur pp_interval; /* PP: time between batch starts (slowest stage) */
    ep_time pp_free_at;
    /* LLM */
    int64_t kv_cap, kv_used;
    ep_dur queued_prefill; /* sum of the queued requests' own prefill estimates */
    int64_t iter_prefill_tokens;
    /* stats */
    int64_t served;
} sim_instance;

#define SIM_PLOG_TIMERS 16 /* timers one policy call may arm that a log keeps */

/* Where the host hands off what leaves it: a process of a live testbed sets these
 * (exec/live.c, through sim_setup); the simulator leaves them NULL and keeps everything inside, on
 * its network model and cost model. */
typedef struct sim_port {
    /* Request r leaves its node for node dst (required where requests are routed): the
     * simulator's network model (sim/transfer.c), a testbed node's transport. */
    void (*send)(sim *s, sim_request *r, int dst);
    /* A sync tick: this process reports its state (a node: to its peers and the
     * controller) instead of snapshotting every instance. */
    void (*sync)(sim *s);
    /* Runs a batch or iteration on a real engine and returns its measured duration (which
     * includes any co-location slowdown), or -1 when the cost model's t stands. */
    ep_dur (*run)(sim *s, sim_instance *in, int batch, ep_dur t);
    /* A new request from the workload (the loadgen: hands it to its ingress node). */
    void (*arrival)(sim *s, sim_request *r);
    /* A new placement was applied (the controller: hands it to the nodes). */
    void (*placed)(sim *s, const ep_placement *p);
    /* Request r got its record and returns to the pool (the loadgen: no longer pending). */
    void (*finished)(sim *s, sim_request *r);
} sim_port;

/* Who drives the host: the simulator (every node local, time from the event heap) or one
 * process of a live testbed (exec/live.c; include/epara/live.h). */
typedef enum sim_role {
    SIM_ROLE_SIM,
    SIM_ROLE_CONTROLLER,
    SIM_ROLE_NODE,
    SIM_ROLE_LOADGEN
} sim_role;

struct sim {
    const ep_scenario *sc;
    ep_sim_opts opts;
    sim_role role;
    int local;     /* SIM_ROLE_NODE: the node this process hosts */
    sim_port port; /* filled by the driver (NULL entries: not used by the role) */
    /* policy call log (opts.policy_log): timers armed by the call being logged */
    struct sim_plog_timer {
        ep_dur after;
        uint64_t cookie;
    } plog_timers[SIM_PLOG_TIMERS];
    int plog_ntimers, plog_active;
    sim_engine eng;
    const ep_policy_ops *pol;
    /* Policy states, one per node and one for the controller (index nnodes), as each process
     * of a live testbed has its own: pol_states[i] is NULL where the role does not use it.
     * Each has its own RNG stream (sim_pol_stream). Reach them through sim_pol_state. */
    void **pol_states;
    ep_rng *pol_rngs;
    int pol_owner; /* the state selected last (node, -1: controller): timers armed are its */
    ep_env env;
    ep_view view;
    ep_category *cat;
    /* cluster runtime */
    sim_pipe *up, *down; /* per link: node->switch, switch->node */
    ep_time *up_free;    /* per link: up[l].busy_until, for the view (uplink_free) */
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
    ep_dur sync_delay;        /* sync_delay fault: sync messages arrive this late */
    double *dev_slow;         /* slow_device fault: per device time multiplier (1: normal) */
    int *dev_busy;            /* busy instances per device (MT slowdown) */
    int *dev_excl;            /* busy SINGLE-mode instances per device (0 or 1) */
    int *dev_waiters;         /* instances waiting for a device a SINGLE one holds, per device */
    double *dev_busy_s;       /* time with at least one busy instance, per device */
    ep_time *dev_since;       /* when the device last turned busy */
    sim_instance **inst;
    int ninst, cap_inst;
    ep_instance_view *iview;  /* the view handed to the policy */
    ep_instance_view *synced; /* every instance as of the last state sync */
    /* sim_refresh_view's shortcut (simulator, no partition in view): while iview_synced,
     * iview equals synced except the entries current_idx[0..ncurrent) of the node it was last
     * refreshed for. Whatever writes synced or adds an instance clears it. */
    int iview_synced;
    int *current_idx;
    int ncurrent;
    int *inst_node; /* inst[i]->node, dense (scanned per refresh) */
    int sync_loss;
    struct sim_fault_ev *faults;
    sim_event sync_ev, place_ev;
    /* workload */
    struct sim_source *src;
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
    sim_request *pool;
    uint64_t next_id;
    int64_t in_flight;
    /* metrics */
    struct sim_metrics *m;
    ep_sim_result *res;
    int failed;          /* first error code from deep inside the run */
    ep_time *qdl, *qarr; /* scratch for pick_batch queue views */
    int qcap;
    int quiet; /* records are not reported (tear-down after a failure) */
};

/* The policy state of node (< 0: the controller's), which the role must hold (asserted);
 * selects it: env.rng becomes its stream, and timers armed until the next selection belong
 * to it (on_timer runs on it). Call it right before each hook. */
void *sim_pol_state(sim *s, int node);
/* The RNG stream of node's policy state (< 0: the controller's, EP_STREAM_POLICY as it has
 * always been; a node's is derived from its index). */
uint64_t sim_pol_stream(int node);

/* 1 when node's instances are hosted by this process. */
static inline int
sim_is_local(const sim *s, int node)
{
    return s->role == SIM_ROLE_SIM || (s->role == SIM_ROLE_NODE && node == s->local);
}

/* 1 when nodes a and b can exchange messages (the same side of any partition). */
static inline int
sim_reachable(const sim *s, int a, int b)
{
    return !s->part || s->cut[a] == s->cut[b];
}

/* Host helpers used by dnn.c / llm.c. */
/* 1 when a partition separates the instance's devices (a pipeline across the cut). */
int sim_instance_split(const sim *s, const sim_instance *in);
/* Batch / iteration time multiplier of the instance's slowest device (slow_device faults). */
double sim_instance_slow(const sim *s, const sim_instance *in);
void sim_request_finish(sim *s, sim_request *r, ep_outcome o, const char *reason);
void sim_instance_kick(sim *s, sim_instance *in);
/* Marks whether the instance waits for a device a SINGLE-mode instance holds (or, SINGLE
 * itself, for a device another instance runs on): sim_instance_end kicks the waiters. */
void sim_instance_wait(sim *s, sim_instance *in, int wait);
/* Marks the instance's devices busy from now; returns t stretched by the MT slowdown of
 * the devices' concurrently busy instances. The caller schedules the instance's event. */
ep_dur sim_instance_begin(sim *s, sim_instance *in, ep_dur t);
/* Ends the busy period: devices freed, busy time accounted, in->busy = 0. */
void sim_instance_end(sim *s, sim_instance *in);
void sim_dnn_start(sim *s, sim_instance *in);
void sim_llm_start(sim *s, sim_instance *in);
int sim_llm_admit(sim *s, sim_instance *in, sim_request *r);
void sim_dnn_batch_done(sim *s, sim_event *ev);
void sim_dnn_request_done(sim *s, sim_event *ev);
void sim_llm_iter_done(sim *s, sim_event *ev);
/* Sends request r from its node to node dst (or delivers the response when r->delivering). */
void sim_send(sim *s, sim_request *r, int dst);
ep_dur sim_delay(const sim *s, int a, int b, int64_t bytes);
/* Bytes of a DNN request's reply (its result, e.g. a mask or labels). */
#define SIM_DNN_REPLY_BYTES 1000

/* host.c / place.c / setup.c internals */
/* One workload source: a streaming reader and the arrival event of its next row. */
typedef struct sim_source {
    sim_event ev;
    ep_arrivals rp; /* the workload's arrivals (epara/arrivals.h) */
    const ep_workload *w;
    ep_trace_row row; /* next row, valid while has_row */
    int has_row;
    ep_time next_at;
    int rr; /* round-robin over ingress nodes */
} sim_source;

/* A policy timer: a rare event, allocated when armed and freed when run. */
typedef struct sim_timer {
    sim_event ev;
    uint64_t cookie;
    int owner; /* the policy state whose hook armed it (node, -1: controller) */
} sim_timer;

/* A state sync message delayed by a sync_delay fault: the snapshot of every instance taken
 * at a sync tick, applied when it arrives (a rare event, allocated when sent). */
typedef struct sim_sync_msg {
    sim_event ev;
    int n;
    ep_instance_view v[];
} sim_sync_msg;

void sim_sync_deliver(sim *s, sim_event *ev);

/* A scheduled fault. */
typedef struct sim_fault_ev {
    sim_event ev;
    const ep_fault *f;
} sim_fault_ev;

ep_dur sim_view_delay(const ep_view *v, int a, int b, int64_t bytes);
/* Request r arrives at its destination node (r->dst_node): queued on the instance it was
 * sent to, or routed there again. */
void sim_arrive(sim *s, sim_request *r);
/* sim_arrive as an event (EV_TRANSFER, on the request's own event): a request a driver
 * delivers later, e.g. a live node's forward held until its emulated arrival. */
void sim_arrive_event(sim *s, sim_event *ev);
void sim_route(sim *s, sim_request *r);
void sim_enqueue(sim *s, sim_request *r, sim_instance *in);
sim_request *sim_request_alloc(sim *s);
/* Instance in as it is now, as its own node sees it (not as of the last sync), into *v. */
void sim_current_view(sim *s, const sim_instance *in, ep_instance_view *v);
void sim_refresh_view(sim *s, int at_node);
void sim_sync_tick(sim *s, sim_event *ev);
void sim_instance_event(sim *s, sim_event *ev);
int sim_do_place(sim *s, int initial);
void sim_place_tick(sim *s, sim_event *ev);
void sim_timer_fire(sim *s, sim_event *ev);
void sim_timer_arm(void *host, ep_dur after, uint64_t cookie);
/* place.c: stops what the instance is doing and drops every request it holds (why: the
 * reason). */
void sim_instance_drop(sim *s, sim_instance *in, const char *why);
/* place.c: node goes down (its instances drop what they hold and stop, loads included), or
 * comes back (instances placed on it load from now). */
void sim_node_fail(sim *s, int node);
void sim_node_restore(sim *s, int node);
/* Applies a desired placement (place.c); initial: instances ready at once. */
int sim_apply_placement(sim *s, ep_placement *p, int initial);
/* Rates over the period since the last placement (place.c). */
void sim_update_demand(sim *s);
/* setup.c: set-up for a role (everything before the loop) and tear-down. */
/* setup.c: "msg: arg" into err (when given); returns code. */
int sim_err(char *err, size_t len, int code, const char *msg, const char *arg);
int sim_setup(sim *s, const ep_scenario *sc, const ep_sim_opts *opts, ep_sim_result *out,
              sim_role role, int local, const sim_port *port, char *err, size_t errlen);
void sim_drain(sim *s);
void sim_free(sim *s);
void sim_arrival(sim *s, sim_event *ev);

/* plog.c: the policy call log. Each call: begin (kind, the state selected by sim_pol_state,
 * time, view), inputs and outputs as data, end (timers armed). All no-ops without
 * opts.policy_log. */
enum { SIM_PL_CATEGORIZE = 1, SIM_PL_PLACE, SIM_PL_ROUTE, SIM_PL_BATCH, SIM_PL_TIMER, SIM_PL_INIT };
void sim_plog_header(sim *s, uint64_t seed);
void sim_plog_begin(sim *s, int kind);
void sim_plog_data(sim *s, const void *p, size_t n);
void sim_plog_end(sim *s);
void sim_plog_timer(sim *s, ep_dur after, uint64_t cookie);
const char *sim_plog_kind_name(int kind);

/* metrics.c */
struct sim_metrics *sim_metrics_new(int nservices);
void sim_metrics_free(struct sim_metrics *m);
void sim_metrics_add(struct sim_metrics *m, const ep_scenario *sc, const ep_record *r);
/* Fills the result; EP_ENOMEM when a histogram could not be allocated during the run. */
int sim_metrics_finish(struct sim_metrics *m, const ep_scenario *sc, ep_sim_result *res);

#endif
