/* Helpers every policy (and the simulator) may use: memory accounting over the current
 * placement, the execution time of a batch or iteration on an instance of any parallel
 * mode, the throughput an instance sustains within its service's SLO, and the estimated
 * completion of a request sent to an instance. Pure functions of the view (core/ costs
 * plus the view's unloaded network delays). */
#ifndef EPARA_POLICY_UTIL_H
#define EPARA_POLICY_UTIL_H

#include "epara/policies/policy.h"

/* Usable memory of device dev: mem_bytes x mem_util. */
double ep_pol_usable_mem(const ep_scenario *sc, int dev);

/* Free memory per device (sc->ndevices entries) left by the instances in the view. */
void ep_pol_free_memory(const ep_view *v, double *freem);

/* Whether spec fits in freem (bytes per device); ep_pol_take subtracts it. */
int ep_pol_fits(const ep_view *v, const ep_instance_spec *sp, const double *freem);
void ep_pol_take(const ep_view *v, const ep_instance_spec *sp, double *freem);

/* DNN: time of one batch of b on an instance of spec sp (no queueing): SINGLE/MT one device;
 * TP compute / tp + all-reduces; PP the sum of stage shares on their own devices plus
 * activation transfers, with *interval (may be NULL) the slowest stage (the pipeline
 * accepts a batch every interval). *interval is 0 for non-PP modes. */
ep_dur ep_pol_dnn_batch(const ep_view *v, const ep_instance_spec *sp, int b, ep_dur *interval);

/* LLM: one continuous-batching iteration on an instance of spec sp (see
 * ep_cost_llm_iteration; TP and PP as for DNN batches, PP without micro-batch overlap). */
ep_dur ep_pol_llm_iteration(const ep_view *v, const ep_instance_spec *sp, int64_t pf_tokens,
                            double pf_sq, int decode_batch, int64_t ctx_tokens);

/* The largest batch of an instance: its spec's max_batch, else its service's, at least 1. */
int ep_pol_max_batch(const ep_view *v, const ep_instance_spec *sp);

/* Greedy batching: everything queued, up to the instance's max batch. */
int ep_pol_greedy_batch(const ep_view *v, int instance, const ep_queue_view *q);

/* KV-cache tokens of an LLM instance (the smallest stage device bounds each share). */
int64_t ep_pol_kv_capacity(const ep_view *v, const ep_instance_spec *sp);
/* Service s's running mean prompt / output length in tokens (EP_DEFAULT_INPUT_TOKENS /
 * EP_DEFAULT_OUTPUT_TOKENS before it has one). */
double ep_pol_mean_input(const ep_view *v, int s);
double ep_pol_mean_output(const ep_view *v, int s);

/* Requests per second an instance of spec sp sustains within its service's SLO, with the
 * service's current mean request sizes; *batch (may be NULL) gets the batch size that
 * achieves it. DNN: the largest batch b with worst-case latency (one batch waited for, one
 * run; PP: interval + total) within the deadline, capacity b / cost(b) (PP: b / interval).
 * LLM: for each running batch B, decode step d(B) at mean context, prefill p(mean input):
 * lambda = B / (O d + B p) (O = mean output tokens), kept when the resulting TPOT
 * d / (1 - lambda p) <= tpot, B x (I + O) fits the KV cache and p <= ttft / 2; the best
 * such lambda. 0 when nothing meets the SLO. */
double ep_pol_capacity(const ep_view *v, const ep_instance_spec *sp, int *batch);

/* ep_pol_capacity's rule with every batch or iteration slowed by `slow` (>= 1: the MT factor
 * of the instance's device; 1: alone) and, for an LLM, at most kv KV-cache tokens (< 0: what
 * its devices hold alone, ep_pol_kv_capacity). lone: when no batch qualifies but a lone
 * request meets the SLO (DNN: its batch time within the deadline; LLM: prefill within the
 * TTFT, one decode step within the TPOT), that request's rate instead of 0 (LLM: at most
 * the rate whose prefills, each stalling the running request's decode, keep its TPOT:
 * (1 - d / tpot) / p). Returns requests
 * per second (0 when hopeless); *batch (not NULL) gets the batch achieving it; *reach (may be
 * NULL) the smallest batch whose capacity (the best over batches up to it) reaches target
 * requests per second, else *batch: the batch an instance needs to carry target within its
 * SLO. With slow 1, kv < 0, lone 0 it equals ep_pol_capacity. */
double ep_pol_capacity_at(const ep_view *v, const ep_instance_spec *sp, double slow, int64_t kv,
                          double target, int lone, int *batch, int *reach);

/* LLM: the largest running batch an instance of spec sp can hold while its requests keep
 * the TPOT SLO, when requests arrive at it at `lambda` per second (prefills of arrivals
 * stall the decodes: TPOT ~ d(B) / (1 - lambda p)) and its iterations run slowed by `slow`
 * (>= 1: co-location; 1: alone); 0 when even a batch of one misses the TPOT. */
int ep_pol_llm_batch_limit(const ep_view *v, const ep_instance_spec *sp, double lambda,
                           double slow);

/* Estimated time request req completes (DNN) or gets its first token (LLM) if node
 * req->at_node sends it to instance inst now: transfer + the instance's backlog (as the
 * view knows it, aged by the time since it was synced) + its own service time. */
ep_time ep_pol_estimate(const ep_view *v, const ep_env *env, const ep_request_info *req, int inst);

/* The co-location slowdown iv's work runs at now: ep_cost_mt_slowdown of the instances
 * (itself and those with a running batch, as the view knows them) sharing one of its devices;
 * 1 when it runs alone. */
double ep_pol_mt_stretch(const ep_view *v, const ep_instance_view *iv);

/* Bytes per second link l delivers: its bandwidth less the expected retransmissions of its
 * loss (capped at 99%), as the simulator's links carry them (node/net.c). */
double ep_pol_link_bw(const ep_link *l);

/* The unloaded star-topology delay of `bytes` from node a to node b, as the simulator's
 * links carry them: up a's link and down b's, each latency + bytes / ep_pol_link_bw (0 when
 * a == b). A view's `delay` for hosts without link state (the bound, pre-run checks). */
ep_dur ep_pol_star_delay(const ep_view *v, int a, int b, int64_t bytes);

/* How long a transfer node `node` starts now waits behind what is already queued on its
 * uplink (0 when the host does not model link queues). */
ep_dur ep_pol_uplink_wait(const ep_view *v, ep_time now, int node);

/* EPARA's uplink admission as a component (policies/link.c) that any policy embeds in its
 * state: while a node's uplink has a queue, the services leaving the node share it densest
 * first (most weight per byte), each admitted at its share by a deterministic credit. Rates
 * are those the node has seen enter it over the last `window` seconds (0: the view's period
 * means split over the workloads' ingress nodes). Nodes and services beyond the arrays'
 * sizes are always admitted. */
#define EP_LINK_NODES 256
#define EP_LINK_SVC   64
typedef struct ep_link_adm {
    double margin; /* the uplink wait counts (1 + margin) times in deadline checks */
    double window; /* seconds of arrivals a node's rates cover (0: the view's means) */
    float credit[EP_LINK_NODES][EP_LINK_SVC];
    double ingress_share[EP_LINK_NODES][EP_LINK_SVC];
    double in_rate[EP_LINK_NODES][EP_LINK_SVC];
    ep_time in_at[EP_LINK_NODES][EP_LINK_SVC];
} ep_link_adm;

/* The parameter a baseline declares to take EPARA's uplink admission (off by default: the
 * baseline as published), with EPARA's margin and window. */
#define EP_LINK_ADM_PARAM                                                                       \
    {                                                                                           \
        "link_admission", 0, 1, 1, 0,                                                           \
                "add EPARA's uplink admission (reject what the node's uplink queue would make " \
                "late; an "                                                                     \
                "overloaded uplink carries the most requests per byte first)"                   \
    }
#define EP_LINK_ADM_MARGIN 0.5
#define EP_LINK_ADM_WINDOW 0.25

/* Initializes *a, which must be zeroed (as the host zeroes policy state), for the scenario of
 * view v (the workloads' ingress shares). */
void ep_link_adm_init(ep_link_adm *a, const ep_view *v, double margin, double window);
/* Counts a request of service s entering node n at now (call once per request, hops 0). */
void ep_link_adm_note(ep_link_adm *a, int n, int s, ep_time now);
/* Whether a request of s may leave node n now (1 while n's uplink has no queue). */
int ep_link_adm_admit(ep_link_adm *a, const ep_view *v, ep_time now, int n, int s);
/* The wait behind n's uplink queue, counted (1 + margin) times. */
ep_dur ep_link_adm_wait(const ep_link_adm *a, const ep_view *v, ep_time now, int n);
/* Applies the admission to a route a policy chose for req (on the ingress node, hops 0):
 * counts the arrival; a dispatch or forward that leaves the node is turned into a rejection
 * when its estimate plus the counted uplink wait misses the deadline, or when the uplink's
 * share for the service is used up. Never changes where a request goes. */
void ep_link_adm_route(ep_link_adm *a, const ep_env *env, const ep_view *v,
                       const ep_request_info *req, ep_route *out);

/* Requests that no placement can serve within their SLO even alone on an idle cluster:
 * every device group a policy may place (one device, TP inside a node, a pipeline of up to
 * EP_MAX_STAGE_DEVS devices) either cannot hold the request's KV cache, or its prefill
 * alone exceeds the TTFT, or one decode step alone the TPOT (LLM), or a batch of one the
 * deadline (DNN; a trace's execution time scaled as the simulator scales it). Network
 * delays are not counted, so the verdict is never stricter than the truth. */
typedef enum ep_unservable {
    EP_SERVABLE = 0,
    EP_UNSERVABLE_MEMORY,   /* no device group holds the model's weights */
    EP_UNSERVABLE_KV,       /* prompt + output exceed every group's KV cache */
    EP_UNSERVABLE_TTFT,     /* the prefill alone is longer than the TTFT everywhere */
    EP_UNSERVABLE_TPOT,     /* one decode step alone is longer than the TPOT everywhere */
    EP_UNSERVABLE_GROUP,    /* no one group has the KV and meets both TTFT and TPOT */
    EP_UNSERVABLE_DEADLINE, /* DNN: a batch of one is longer than the deadline everywhere */
    EP_UNSERVABLE_COUNT_
} ep_unservable;

typedef struct ep_servable ep_servable;

/* Prepares the per-service verdicts for scenario sc (borrowed; it must outlive *out).
 * 0 or EP_ENOMEM. */
int ep_servable_new(const ep_scenario *sc, ep_servable **out);
void ep_servable_free(ep_servable *f); /* NULL is a no-op */

/* The verdict for one request of service svc: input and output tokens (LLM), exec its
 * trace's execution time or -1 (none) (services with use_trace_exec). */
ep_unservable ep_servable_check(const ep_servable *f, int svc, int64_t input, int64_t output,
                                ep_dur exec);

/* A sentence for a verdict, and a one-word key (JSON). */
const char *ep_unservable_name(ep_unservable why);
const char *ep_unservable_key(ep_unservable why);

#endif
