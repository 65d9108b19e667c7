/* The node runtime (node/README.md): the host that one or every node of an edge cluster runs
 * -- routing through the policy, instance queues, DNN batching, LLM continuous batching with
 * KV accounting, placement application, state sync, one record per request -- and what it
 * reports. Two drivers run it: the simulator (epara/sim/sim.h: every node in one process, on
 * simulated time) and a live testbed's processes (epara/exec/live.h: one role per process, on the
 * wall clock). Run options, records, decisions and results are the same under both. */
#ifndef EPARA_NODE_H
#define EPARA_NODE_H

#include <stdio.h>

#include "epara/core/model.h"
#include "epara/policies/policy.h"
#include "epara/policies/policy_util.h"
#include "epara/traces/store.h"

typedef enum ep_outcome {
    EP_OUT_COMPLETED, /* finished (SLO met or not: see slo_met) */
    EP_OUT_REJECTED,  /* refused by the policy or by admission (e.g. too large for KV) */
    EP_OUT_DROPPED,   /* lost to a fault (node or link down) or dropped as expired */
    EP_OUT_UNFINISHED /* still in the system when the run ended */
} ep_outcome;

/* One request's outcome: every request that arrives gets exactly one. */
typedef struct ep_record {
    uint64_t id;
    int service;
    int ingress;
    ep_outcome outcome;
    const char *reason; /* static text; NULL when completed */
    int slo_met;
    int in_window; /* arrival inside the measured window */
    ep_time arrival, dispatch, first_token, done;
    int instance, node, hops, batch;
    int64_t input, output;
    int preemptions;
} ep_record;

/* One policy decision, for the decision log (replaying an executor run through the
 * simulator and diffing decisions). Pointers are borrowed for the callback. */
typedef enum ep_decision_kind {
    EP_DECIDE_PLACE, /* a new placement: inst[0..ninst) */
    EP_DECIDE_ROUTE, /* a routing decision for request `request` at node `node` */
    EP_DECIDE_BATCH  /* a batch of `batch` requests started on `instance` */
} ep_decision_kind;

typedef struct ep_decision {
    ep_decision_kind kind;
    ep_time at;
    uint64_t request;
    int node;                     /* ROUTE: the deciding node */
    const ep_route *route;        /* ROUTE */
    int instance, batch;          /* BATCH */
    const ep_instance_spec *inst; /* PLACE */
    int ninst;                    /* PLACE */
} ep_decision;

typedef struct ep_run_result ep_run_result;

/* What the bound (ep_bound_run) maximizes; the simulator ignores it. */
typedef enum ep_bound_objective {
    EP_BOUND_OBJ_REQUESTS, /* requests served within their SLO: overall attainment */
    EP_BOUND_OBJ_MEAN,     /* the mean attainment over services with requests */
    EP_BOUND_OBJ_MIN,      /* the lowest attainment of any service with requests */
    EP_BOUND_OBJ_SERVICE   /* one service's requests (bound_service) */
} ep_bound_objective;

/* The options of one run of a scenario, under either driver (ep_sim_run, or each process of
 * a live testbed, ep_live_opts.sim). */
typedef struct ep_run_opts {
    const char *policy; /* NULL: the scenario's */
    uint64_t seed;      /* used when seed_set, else the scenario's */
    int seed_set;
    double rate_scale; /* multiplies every workload's rate (1 when 0) */
    ep_dur duration;   /* > 0: replay only the first `duration` of the workload */
    ep_store *traces;  /* open trace database holding the workload's traces */
    /* When set, this policy (borrowed for the run) instead of a built-in one found by name:
     * a policy outside the registry, e.g. a test's probe. */
    const ep_policy_ops *policy_ops;
    /* Called for every record (may be NULL). */
    void (*on_record)(void *ctx, const ep_record *rec);
    void *ctx;
    /* Called for every placement, route and batch decision (may be NULL). */
    void (*on_decision)(void *ctx, const ep_decision *d);
    /* Called once before the run (the bound: before its LPs) with the requests of the
     * window no placement can serve within their SLO: r's unservable, unservable_why and
     * svc[].unservable are filled, nothing else yet (may be NULL). */
    void (*on_unservable)(void *ctx, const ep_run_result *r);
    /* Called about every 2^20 events with progress in [0, 1] (may be NULL). */
    void (*on_progress)(void *ctx, double frac, ep_time now, uint64_t events);
    /* When set, every call into the policy is written here with its inputs and outputs,
     * for ep_policy_replay (may be NULL). */
    FILE *policy_log;
    /* The bound only: what its LP maximizes, and the service of EP_BOUND_OBJ_SERVICE. */
    ep_bound_objective bound_objective;
    int bound_service;
} ep_run_opts;

#define EP_RUN_MAX_SERVICES 64

typedef struct ep_run_service_stats {
    int64_t requests, completed, rejected, dropped, unfinished, slo_met;
    double goodput_per_s, slo_attainment;
    double p50_latency_s, p90_latency_s, p99_latency_s, mean_latency_s;
    double p50_ttft_s, p99_ttft_s, p50_tpot_s, p99_tpot_s;
    ep_category category;
    int64_t unservable; /* of `requests`: no placement can serve them (ep_servable_check) */
} ep_run_service_stats;

/* What a run reports: the simulator's ep_sim_run, and the testbed's loadgen from the
 * outcomes that come back; the same fields under both. */
struct ep_run_result {
    char policy[EP_NAME_MAX];
    uint64_t seed;
    double window_s; /* measured window length */
    int64_t requests, completed, rejected, dropped, unfinished, slo_met;
    int64_t forwarded, preemptions, placements, instances, placements_refused;
    /* Of `requests`: those no placement can serve within their SLO even alone (counted
     * before the run, by ep_arrivals_unservable), in all and by reason. */
    int64_t unservable, unservable_why[EP_UNSERVABLE_COUNT_];
    double goodput_per_s, slo_attainment;
    double p50_latency_s, p90_latency_s, p99_latency_s, mean_latency_s;
    uint64_t events;
    double wall_s, events_per_s;
    double sim_time_s;
    uint64_t event_hash;      /* FNV-1a over (time, kind, object) of every event */
    double place_time_s;      /* total time in the policy's place() */
    int64_t placement_rounds; /* calls of the policy's place() */
    int nservices;
    ep_run_service_stats svc[EP_RUN_MAX_SERVICES];
    double *device_busy_s; /* per device busy time (malloc'ed; ndevices) */
    int ndevices;
};

/* Frees what a result holds (its per-device times). */
void ep_run_result_fini(ep_run_result *r);

const char *ep_outcome_name(ep_outcome o);

/* What ep_policy_replay went through. */
typedef struct ep_replay_result {
    char policy[EP_NAME_MAX];
    uint64_t seed;
    int role, node; /* of the host that wrote the log (0 simulator, 1 controller, 2 node) */
    int64_t calls, routes, batches, places, timers;
    int states; /* policy states replayed: the simulator's one per node plus the controller's,
                   a testbed process's one */
} ep_replay_result;

/* Replays a policy call log (ep_run_opts.policy_log, written by the simulator or by any
 * process of a live testbed) through a fresh instance of the same policy on scenario sc
 * (the one the writer ran, with the same options) and checks that every decision and every
 * timer armed is identical. Returns 0 when all are; EP_ERANGE at the first difference,
 * EP_EINVAL (another scenario, options or policy), EP_EPARSE (not a log of this build,
 * truncated), EP_ENOMEM; the message (path, call number, what differed) goes to err. */
int ep_policy_replay(const ep_scenario *sc, FILE *log, const char *path, ep_replay_result *out,
                     char *err, size_t errlen);

#endif
