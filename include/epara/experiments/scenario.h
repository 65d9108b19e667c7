/* Scenario files (experiments/scenarios/README.md): a YAML document describing an edge cluster, its
 * services and SLOs, profile tables, the workload mapping (traces -> services -> ingress nodes),
 * the policy, faults and run parameters, loaded into an ep_scenario (epara/core/model.h). The
 * format is documented key by key in experiments/scenarios/README.md. */
#ifndef EPARA_SCENARIO_H
#define EPARA_SCENARIO_H

#include "epara/core/model.h"
#include "epara/traces/trace.h"

/* Largest scenario text accepted (bytes). */
#define EP_SCENARIO_MAX_TEXT (16 * 1024 * 1024)

/* Loads the scenario file at `path`. Relative paths inside it (run.trace_db,
 * workload[].import.file) resolve against the file's directory. On success fills *out
 * (which the caller frees with ep_scenario_fini) and returns 0; out->path is `path`,
 * out->text a malloc'ed copy of the file. On failure *out is not written and nothing
 * leaks: EP_EIO when the file cannot be read (err->line 0, err->msg says why), EP_EPARSE for
 * malformed or invalid content (err->line/col 1-based, err->msg "FIELD.PATH: problem"),
 * EP_ENOMEM. err may not be NULL. */
int ep_scenario_load_file(const char *path, ep_scenario *out, ep_parse_error *err);

/* Loads a scenario from text[0..len) (need not be NUL-terminated). `name` is recorded in
 * out->path for messages (NULL: "<text>"); `base_dir` is the directory relative paths
 * resolve against (NULL or "": the current directory). Errors as ep_scenario_load_file. */
int ep_scenario_load_text(const char *text, size_t len, const char *name, const char *base_dir,
                          ep_scenario *out, ep_parse_error *err);

/* The embedded default scenario (experiments/scenarios/edge-default.yaml, built in): static
 * NUL-terminated text; *len (when len is not NULL) receives its length without the NUL.
 * Load it with ep_scenario_load_text(text, len, "edge-default", ".", ...). */
const char *ep_scenario_default_text(size_t *len);

/* Adds or replaces policy parameter key = value in sc (for --param and sweep grids). 0, or
 * EP_EINVAL when either is EP_NAME_MAX bytes or longer, EP_EFULL when the table is full
 * (EP_MAX_PARAMS); sc is unchanged then. */
int ep_scenario_param_put(ep_scenario *sc, const char *key, const char *value);

/* The range of an SLO scale (--slo-scale, sweep grid slo_scale). */
#define EP_SLO_SCALE_MIN 1e-3
#define EP_SLO_SCALE_MAX 1e3

/* Multiplies every service's SLO times (ttft, tpot, deadline, frame_deadline) by x, in
 * [EP_SLO_SCALE_MIN, EP_SLO_SCALE_MAX] (the caller checks); fps is unchanged. Times that are
 * set stay at least 1 ns; unset (0) ones stay 0. Applied after loading a scenario. */
void ep_scenario_scale_slos(ep_scenario *sc, double x);

#endif
