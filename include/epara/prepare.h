/* Making a scenario's workload traces available in the trace database before a run:
 * each trace is used when present, else imported from its file, else generated from its
 * generator spec (the fallback with the same statistics), and the caller is told which. */
#ifndef EPARA_PREPARE_H
#define EPARA_PREPARE_H

#include "epara/model.h"
#include "epara/store.h"

/* Receives one line per trace saying where it came from. */
typedef void (*ep_prepare_log_fn)(void *ctx, const char *msg);

/* Ensures every workload trace of sc exists in st. Returns 0, or EP_ENOENT (a trace is
 * absent and cannot be imported or generated), EP_EPARSE (its file is malformed: the
 * message in err names FILE:LINE), EP_EINVAL (a generator spec is invalid), EP_EDB;
 * err gets the message. */
int ep_scenario_prepare_traces(const ep_scenario *sc, ep_store *st, ep_prepare_log_fn log,
                               void *ctx, char *err, size_t errlen);

/* Loads the measured profiles of the trace database's `profiles` table (service, device,
 * kind dnn|prefill|decode, x = batch or prompt tokens, latency_ns, ctx_ref) for every
 * (service, device class) of sc, and puts them ahead of the scenario's own tables so they
 * take precedence. *loaded receives the number of tables added. 0, EP_EDB, EP_EINVAL (more
 * than EP_PROFILE_POINTS points), EP_ENOMEM; err gets the message. */
int ep_scenario_load_profiles(ep_scenario *sc, ep_store *st, int *loaded, char *err, size_t errlen);

#endif
