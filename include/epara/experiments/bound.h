/* `bound` (docs/decisions/0002-bound.md): a fluid (LP-relaxation) upper bound on the goodput any
 * placement and routing could reach on a scenario's cluster and workload, under the capacity model
 * the policies use (ep_pol_capacity). It is not a runtime policy: nothing is routed or simulated;
 * demand is counted from the traces and one linear program over all placement periods is
 * solved with GLPK. The model is documented in full in docs/decisions/0002-bound.md. */
#ifndef EPARA_BOUND_H
#define EPARA_BOUND_H

#include <stddef.h>

#include "epara/core/model.h"
#include "epara/sim/sim.h"

/* The name under which `epara sim --policy` selects the bound, and its one-line summary. */
#define EP_BOUND_NAME    "bound"
#define EP_BOUND_SUMMARY "fluid LP upper bound on goodput (GLPK; not a runtime policy)"

/* Computes the bound for scenario sc over the same arrivals the simulator would replay with
 * the same options: opts->traces (required, borrowed) holds every workload trace;
 * opts->rate_scale and opts->duration scale and cut the workload as in ep_sim_run; the
 * measured window is the simulator's ([warm-up, end - cool-down], end = the last arrival
 * replayed). opts->policy, seed (only reported), on_record and on_progress are not used.
 *
 * The LP (docs/decisions/0002-bound.md), over all placement periods p at once
 * (sc->run.placement_period; one period when 0), grouped m at a time into blocks when the
 * LP would be too large (merging periods only relaxes it). d[a][s]: the requests of service
 * s arriving inside the window during block a; a request may be served in any block up to
 * the one holding min(end of a, window end) + H_s, H_s the latest completion its SLO allows
 * (a DNN's deadline or frame deadline; an LLM's TTFT plus TPOT times the longest output
 * among its servable rows minus one), in one more block after the window when that lies
 * past it. Candidates k = (service, mode, devices) with capacity c_k = ep_pol_capacity > 0
 * req/s (view: default categories, the traces' mean request sizes, unloaded star-topology
 * delays, no instances): SINGLE on every device that holds the service (unless the default
 * categorizer makes it multi-device), and for every service TP over disjoint groups of 2..8
 * devices inside a node and PP over every pair of devices on different nodes (the better
 * stage order); PP chains of 3..8 devices when nothing smaller serves it. m_k: memory per
 * device of k; U_d = mem_bytes x mem_util; R_k = min over k's devices of floor(U_d / m_k)
 * (at most 64). T_t: block t's seconds (from the window's start to hi + max H_s). Per
 * block t, variables x_k in [0, R_k] (replicas of k, averaged over t) and f_k >= 0
 * (requests k serves in t); y[s][a][t] >= 0, requests of s arriving in a served in t:
 *   maximize   the objective (opts->bound_objective): requests served (default), the mean
 *              over services of served / requests, the lowest of those (an extra z), or one
 *              service's requests served
 *   subject to f_k <= c_k T_t x_k                              for every k and t
 *              sum_{k of s} f_k = sum_a y[s][a][t]              for every s and t
 *              sum_t y[s][a][t] <= d[a][s]                     for every s and a
 *              sum_{a < t} y[s][a][t] <= C_s min(H_s, T_t)     (carried work finishes
 *                within H_s of t's start; C_s = sum_d G_d max_{k of s on d} c_k)
 *              sum_{k on d} x_k m_k / U_d <= 1                 for every device d and t
 *              sum_{k on d} f_k / c_k <= T_t (a_j + b_j sum_{k on d} x_k)  for every d, j, t
 * (with the network rows of the decision record per block) where (a_j, b_j) are the pieces
 * of the concave envelope G of g(i) = max_{i' <= i} i' /
 * ep_cost_mt_slowdown(i') over i = 0..J_d (J_d: copies of d's smallest candidate that fit in
 * U_d, at most 64): co-located busy instances run slowdown(i) times slower each, so a device
 * holding X instances on average delivers at most G(X) instance-capacities. When
 * co-location never gains (i / slowdown(i) <= 1) this is sum_{k on d} f_k / c_k <= T_t.
 * Where every block is one placement period, burst rows cap the requests of s arriving in a
 * that are served by what a's placement can start within s's burst horizon (TTFT, deadline)
 * over the cheapest partition of the period into intervals (decision record, "Bursts"); in
 * every block, requests entering at a node with no candidate of their service are capped by
 * what its uplink carries within that horizon ("Uplinks"). An LLM instance spec is 8
 * candidates by KV capacity, m_k counting the KV at the bottom of its range and c_k the
 * capacity at its top ("KV cache").
 * Solved in rate form with GLPK's simplex, from a basis made of each block solved alone.
 *
 * Results (the fields `epara sim --json` prints): policy "bound"; requests = arrivals in the
 * window; per service Y_s = sum_{a,t} y[s][a][t] (one optimal solution's split: a bound on
 * the metric the objective names, not on each service's count); slo_met = floor(Y_s) (1e-6
 * tolerance), completed = slo_met, rejected = requests - slo_met, dropped = unfinished = 0;
 * goodput_per_s = sum_s Y_s / window_s (unweighted, unrounded); slo_attainment = sum_s Y_s /
 * requests (NaN without requests); latencies NaN (a fluid model has none); events, event_hash,
 * forwarded, preemptions 0; placements = placement_rounds = LPs solved (each block alone for the
 * starting basis, then the whole); instances = candidates deployed (x > 1e-6) in at least one
 * block; place_time_s = time in GLPK; sim_time_s = window_s and device_busy_s[d] = sum_t W_t / T_t
 * sum_{k on d} f_k / c_k, W_t the seconds of t inside the window (instance-capacity seconds: busy /
 * sim_time is the fluid utilization, above 1 only by co-location gain); wall_s.
 *
 * Returns 0, or EP_EINVAL (no trace database, a workload without service or ingress, more
 * than EP_RUN_MAX_SERVICES services, more than 1,000,000 placement periods in the window),
 * EP_ENOENT (a workload trace is not in the database), EP_EDB, EP_ENOMEM, EP_ERANGE (GLPK
 * did not solve the LP to optimality); err (may be NULL) gets a message. *out is zeroed
 * first and owns device_busy_s on success only: free it with ep_run_result_fini. */
int ep_bound_run(const ep_scenario *sc, const ep_run_opts *opts, ep_run_result *out, char *err,
                 size_t errlen);

#endif
