/* The discrete-event simulator (sim/README.md): replays a scenario's workload, streamed from
 * the trace database, on its simulated edge cluster under one policy, and reports goodput,
 * SLO attainment and latencies. Every node runs the node runtime (epara/node/node.h) in one
 * process; the network and the faults are simulated. Deterministic: the same scenario,
 * options and seed give the same results and the same event-log hash. */
#ifndef EPARA_SIM_H
#define EPARA_SIM_H

#include "epara/node/node.h"

/* Runs the simulation. err gets a message on failure: EP_EINVAL (bad options/scenario for
 * the simulator, e.g. unknown policy), EP_ENOENT (a workload trace is not in the
 * database), EP_ENOMEM, EP_EDB. Free the result with ep_run_result_fini. */
int ep_sim_run(const ep_scenario *sc, const ep_run_opts *opts, ep_run_result *out, char *err,
               size_t errlen);

/* Engine benchmark (hold model): `pending` events in the heap, `events` pops each
 * rescheduling one event. Reports events per second and the event-log hash. */
int ep_sim_bench_hold(int pending, uint64_t events, double *events_per_s, uint64_t *hash);

#endif
