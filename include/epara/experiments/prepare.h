/* Making a scenario's workload traces and measured profiles available in the trace database
 * before a run: each trace is used when present, else imported from its file, else generated
 * from its generator spec (the fallback with the same statistics), and the caller is told
 * which; the `profiles` table is read, written and imported (Vidur) here. */
#ifndef EPARA_PREPARE_H
#define EPARA_PREPARE_H

#include "epara/core/model.h"
#include "epara/traces/store.h"

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

/* One row of the `profiles` table (traces/README.md): a point of a (service, device) table. */
typedef struct ep_profile_row {
    const char *kind; /* "dnn", "prefill" or "decode"; borrowed */
    int64_t x;        /* batch (dnn, decode) or prompt tokens (prefill) */
    int64_t ctx_ref;  /* decode: context tokens per request; 0 otherwise (stored as NULL) */
    ep_dur latency;
} ep_profile_row;

/* Replaces every row of (service, device) in st's `profiles` table with rows[0..n), stamped
 * with source (may be NULL) and the current UTC time, in one transaction: the table is whole
 * or absent, and on failure the old rows stay. The writer of `epara profile` and `epara
 * profile import`. 0 or EP_EDB (err gets the message). */
int ep_profiles_replace(ep_store *st, const char *service, const char *device, const char *source,
                        const ep_profile_row *rows, int n, char *err, size_t errlen);

/* Vidur's GPU kernel profiles (Agrawal et al., "Vidur: A Large-Scale Simulation Framework for
 * LLM Inference", MLSys 2024; MIT license) as a profile table: the importer of `epara profile
 * import --format vidur` (experiments/profiles_vidur.c, experiments/README.md has the rules). */
#define EP_VIDUR_CTX_REF_DEFAULT 1024

/* One point of an imported table: row.latency = linear + attention + overhead. */
typedef struct ep_vidur_point {
    ep_profile_row row;
    ep_dur linear;    /* layers x (sum of the nine per-layer operator medians) + emb once,
                         from the mlp.csv row(s) with num_tokens = x; duplicates averaged */
    ep_dur attention; /* attention.csv's (layers x the per-layer attention interpolated to the
                         point) when the profile has attention_measured, else
                         ep_cost_llm_attention of the point */
    ep_dur overhead;  /* the device class's batch_overhead (kernel times exclude the host) */
} ep_vidur_point;

typedef struct ep_vidur_profile {
    ep_vidur_point pts[2 * EP_PROFILE_POINTS]; /* prefill points, then decode points, each
                                                  by increasing x */
    int nprefill, ndecode;
    long rows;              /* data rows of mlp.csv */
    long rows_tp1;          /* of them with num_tensor_parallel_workers = 1 (the ones used) */
    int64_t vocab_size;     /* the CSV's vocab_size (informational; 0 when it has none) */
    int attention_measured; /* 1: the attention is attention.csv's; 0: DIR has none, and the
                               attention is the cost model's */
    long attention_rows;    /* data rows of attention.csv (0 when absent) */
    long attention_prefill; /* of them single-device prefills of a whole prompt (used) */
    long attention_decode;  /* of them single-device decode rows (used) */
    const char *source;     /* the rows' `source` text (static) */
    char path[EP_PATH_MAX]; /* the mlp.csv read */
    char attention_path[EP_PATH_MAX]; /* DIR/attention.csv (read when attention_measured) */
} ep_vidur_profile;

/* Reads DIR/mlp.csv and, when DIR has one, DIR/attention.csv (borrowed path), and computes
 * the table of LLM service svc on device class spec of sc: up to EP_PROFILE_POINTS prefill
 * points at mlp.csv's token counts, spread geometrically from the smallest to the largest,
 * and decode points at its token counts in [1, max_batch] (ctx_ref context tokens per
 * request, >= 1), spread the same way. The attention of a point is attention.csv's
 * (single-device rows, interpolated) when the file exists, else the cost model's. Writes
 * nothing anywhere but *out (only on success). 0, EP_ENOENT (no DIR/mlp.csv), EP_EIO,
 * EP_EPARSE (a missing column, a bad cell, no row with one tensor-parallel worker, no
 * single-device prefill or decode row in attention.csv: FILE:LINE in err), EP_EINVAL (svc is
 * not an LLM, a file's n_embd differs from its hidden size: FILE:LINE in err, ctx_ref outside
 * [1, 1e9]), EP_ENOMEM. */
int ep_vidur_read(const char *dir, const ep_scenario *sc, int svc, int spec, int64_t ctx_ref,
                  ep_vidur_profile *out, char *err, size_t errlen);

/* ep_vidur_read, then ep_profiles_replace of its points under the service's and the device
 * class's names. out (may be NULL) receives the points. The errors of both. */
int ep_profiles_import_vidur(ep_store *st, const char *dir, const ep_scenario *sc, int svc,
                             int spec, int64_t ctx_ref, ep_vidur_profile *out, char *err,
                             size_t errlen);

#endif
