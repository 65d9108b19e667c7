/* Helpers every policy (and the simulator) may use: memory accounting over the current
 * placement, the execution time of a batch or iteration on an instance of any parallel
 * mode, the throughput an instance sustains within its service's SLO, and the estimated
 * completion of a request sent to an instance. Pure functions of the view (core/ costs
 * plus the view's unloaded network delays). */
#ifndef EPARA_POLICY_UTIL_H
#define EPARA_POLICY_UTIL_H

#include "epara/policy.h"

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

/* Requests per second an instance of spec sp sustains within its service's SLO, with the
 * service's current mean request sizes; *batch (may be NULL) gets the batch size that
 * achieves it. DNN: the largest batch b with worst-case latency (one batch waited for, one
 * run; PP: interval + total) within the deadline, capacity b / cost(b) (PP: b / interval).
 * LLM: for each running batch B, decode step d(B) at mean context, prefill p(mean input):
 * lambda = B / (O d + B p) (O = mean output tokens), kept when the resulting TPOT
 * d / (1 - lambda p) <= tpot, B x (I + O) fits the KV cache and p <= ttft / 2; the best
 * such lambda. 0 when nothing meets the SLO. */
double ep_pol_capacity(const ep_view *v, const ep_instance_spec *sp, int *batch);

/* LLM: the largest running batch an instance of spec sp can hold while its requests keep
 * the TPOT SLO, when requests arrive at it at `lambda` per second (prefills of arrivals
 * stall the decodes: TPOT ~ d(B) / (1 - lambda p)); at least 1. */
int ep_pol_llm_batch_limit(const ep_view *v, const ep_instance_spec *sp, double lambda);

/* Estimated time request req completes (DNN) or gets its first token (LLM) if node
 * req->at_node sends it to instance inst now: transfer + the instance's backlog (as the
 * view knows it, aged by the time since it was synced) + its own service time. */
ep_time ep_pol_estimate(const ep_view *v, const ep_env *env, const ep_request_info *req, int inst);

/* Bytes per second link l delivers: its bandwidth less the expected retransmissions of its
 * loss (capped at 99%), as the simulator's links carry them (sim/net.c). */
double ep_pol_link_bw(const ep_link *l);

/* How long a transfer node `node` starts now waits behind what is already queued on its
 * uplink (0 when the host does not model link queues). */
ep_dur ep_pol_uplink_wait(const ep_view *v, ep_time now, int node);

#endif
