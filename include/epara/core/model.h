/* The world model shared by the simulator, the executor and the policies (docs/architecture.md):
 * device specs, nodes, devices and links of an edge cluster; services with their SLOs;
 * profile tables; the workload mapping; run parameters. Plain data, owned by one
 * ep_scenario; ids are indexes into the scenario's arrays. Times are int64 ns. */
#ifndef EPARA_MODEL_H
#define EPARA_MODEL_H

#include "epara/core/common.h"
#include "epara/core/time.h"

#define EP_NAME_MAX       64
#define EP_PATH_MAX       1024
#define EP_TRACE_NAME_MAX 128  /* bytes of a trace's name, NUL included */
#define EP_MAX_INGRESS    1024 /* ingress nodes of one workload */
/* Sizes of an LLM request whose trace row gives none (and of a service before its first
 * request, where a policy has no mean yet), in tokens. */
#define EP_DEFAULT_INPUT_TOKENS  512
#define EP_DEFAULT_OUTPUT_TOKENS 128

typedef enum ep_device_kind { EP_DEV_GPU, EP_DEV_CPU, EP_DEV_NPU } ep_device_kind;
typedef enum ep_node_class { EP_NODE_SERVER, EP_NODE_EMBEDDED, EP_NODE_MICRO } ep_node_class;

/* A device class: the key of profiles, and the numbers the cost model needs (epara/core/profile.h
 * documents the model; docs/calibration.md the defaults' sources). Efficiencies and other
 * model constants left <= 0 take the defaults EP_DEFAULT_* of epara/core/profile.h. */
typedef struct ep_device_spec {
    char name[EP_NAME_MAX]; /* e.g. "rtx4090", "orin-agx", "rpi5" */
    ep_device_kind kind;
    int64_t mem_bytes;
    double mem_bw_bytes_per_s;  /* memory bandwidth */
    double peak_flops;          /* dense FP16 tensor (GPU) or FP32 (CPU) peak, FLOP/s */
    double compute_eff;         /* fraction of peak_flops large dense GEMMs reach */
    double mem_eff;             /* fraction of bandwidth streaming weights reaches */
    double attn_eff;            /* prefill attention: fraction of peak for long prompts ... */
    double attn_half_tokens;    /* ... reached at half by prompts of this many tokens */
    double kv_eff;              /* decode attention: fraction of bandwidth KV reads reach at
                                   large batch ... */
    double kv_half_batch;       /* ... reached at half by this decode batch */
    ep_dur kernel_floor;        /* LLM: small kernels (norms, RoPE, activations, adds) per
                                   layer and iteration, at least */
    double dnn_eff;             /* fraction of peak_flops a DNN batch reaches */
    double mem_util;            /* fraction of memory an engine may use (default 0.9) */
    ep_dur batch_overhead;      /* fixed cost per batch / iteration (host, launches) */
    double load_bw_bytes_per_s; /* weight loading bandwidth (disk/PCIe) */
    int serial; /* 1: one batch at a time on a device (co-located instances take turns, as a
                   single-threaded engine on one core); 0: MT instances run at once, each
                   slowed by the co-location factor */
} ep_device_spec;

typedef struct ep_device {
    int node; /* owning node */
    int spec; /* index in ep_scenario.specs */
} ep_device;

typedef struct ep_node {
    char name[EP_NAME_MAX];
    ep_node_class cls;
    int cores;
    int64_t mem_bytes;
    int dev0, ndev;              /* devices dev0 .. dev0+ndev-1 */
    int link;                    /* uplink to the edge switch */
    double intra_bw_bytes_per_s; /* device-to-device inside the node (TP all-reduce) */
} ep_node;

/* A full-duplex link between a node and the edge switch (star topology): each direction is
 * its own FIFO. A transfer of B bytes takes latency + B / bandwidth on each link. */
typedef struct ep_link {
    char name[EP_NAME_MAX];
    double bw_bytes_per_s;
    ep_dur latency;
    double loss; /* packet loss probability, modelled as retransmission time */
    /* Bytes per packet on the wire (IP MTU), framing counted: a transfer of B bytes then
     * occupies the link for B plus EP_LINK_FRAME_BYTES per packet of at most mtu -
     * EP_LINK_IP_TCP_BYTES of it (TCP over IPv4 with timestamps, in Ethernet frames), as
     * the TCP connection of a live testbed sends it. 0: B alone. */
    int mtu;
} ep_link;

#define EP_LINK_IP_TCP_BYTES 52 /* IPv4 (20) and TCP with the timestamp option (32) */
#define EP_LINK_FRAME_BYTES  66 /* those and the Ethernet header (14) per packet */
#define EP_LINK_MTU_MIN      576
#define EP_LINK_MTU_MAX      65535

/* The bytes link l carries for a transfer of `bytes` (framing included when l->mtu > 0). */
double ep_link_wire_bytes(const ep_link *l, double bytes);

typedef enum ep_service_kind { EP_SVC_LLM, EP_SVC_DNN } ep_service_kind;
typedef enum ep_sensitivity { EP_SENS_AUTO, EP_SENS_LATENCY, EP_SENS_FREQUENCY } ep_sensitivity;

typedef struct ep_slo {
    ep_dur ttft;           /* LLM: time to first token */
    ep_dur tpot;           /* LLM: mean time per output token after the first */
    ep_dur deadline;       /* DNN latency tasks: end-to-end */
    double fps;            /* frequency tasks: target frame rate (0 when not a stream) */
    ep_dur frame_deadline; /* frequency tasks: deadline after a frame's arrival
                              (default: 2 frame periods, i.e. one period after the next
                              frame arrives) */
} ep_slo;

typedef struct ep_service {
    char name[EP_NAME_MAX];
    char model[EP_NAME_MAX];
    ep_service_kind kind;
    double params; /* parameter count */
    int64_t weights_bytes;
    int layers;
    int64_t hidden;
    int64_t vocab;              /* LLM: vocabulary size (0: unknown; every parameter then
                                   counts as a GEMM weight for every token) */
    int tied_embeddings;        /* LLM: the LM head shares the embedding's weights */
    int64_t kv_bytes_per_token; /* LLM */
    double flops_per_item;      /* DNN: FLOPs per input (image) */
    int64_t act_bytes_per_item; /* DNN: activation bytes per item between PP stages */
    int64_t act_bytes_reserve;  /* memory reserved for activations per instance */
    int64_t input_bytes;        /* DNN: payload bytes per request when the trace has none */
    int64_t bytes_per_token;    /* LLM: payload bytes per prompt/output token (default 4) */
    int max_batch;
    ep_slo slo;
    ep_sensitivity sensitivity; /* hint; AUTO lets the categorizer infer it */
    double weight;              /* popularity / priority weight */
    int min_devices;            /* 0: decided by memory; >1 forces a multi-device service */
    int64_t prefill_chunk;      /* LLM: most prompt tokens prefilled per iteration (chunked
                                   prefill); 0: a whole prompt in one iteration */
    int use_trace_exec;         /* DNN: a request's observed execution time in the trace (on
                                   the fastest device class) replaces the cost model */
} ep_service;

/* A measured or shipped profile table for (service, device spec). DNN: latency by batch.
 * LLM: prefill time by prompt tokens (batch 1), decode step time by batch at ctx_ref
 * context tokens per request. Linear interpolation between points; linear extrapolation
 * from the last two beyond the ends. */
#define EP_PROFILE_POINTS 32
typedef struct ep_profile_table {
    int service, spec;
    int n;
    int64_t x[EP_PROFILE_POINTS]; /* batch size or tokens, increasing */
    ep_dur y[EP_PROFILE_POINTS];
    int m; /* LLM decode points */
    int64_t dx[EP_PROFILE_POINTS];
    ep_dur dy[EP_PROFILE_POINTS];
    int64_t ctx_ref;
    char source[EP_NAME_MAX]; /* "scenario", "sqlite", ... */
} ep_profile_table;

struct ep_trace_origin;

/* A workload: which trace feeds which service through which ingress nodes, with scaling.
 * Where the trace comes from when the trace database lacks it (an import file, a generator
 * spec) is the traces module's ep_trace_origin (epara/traces/trace.h), which the scenario loader
 * allocates for each workload. */
typedef struct ep_workload {
    char trace[EP_TRACE_NAME_MAX];
    int service;
    int ingress[EP_MAX_INGRESS];
    int ningress;      /* requests spread round-robin over the ingress nodes */
    double rate_scale; /* multiplies the request rate (divides arrival times) */
    double time_scale; /* multiplies arrival times (after rate_scale) */
    ep_dur offset;     /* added to every arrival */
    int once;          /* play the trace once (scenario tile: false); else tile it to fill
                          the run (epara/replay.h) */
    struct ep_trace_origin *origin; /* owned (ep_scenario_fini frees it); NULL: none given */
} ep_workload;

typedef enum ep_fault_kind {
    EP_FAULT_NODE_DOWN,
    EP_FAULT_NODE_UP,
    EP_FAULT_LINK_DOWN,
    EP_FAULT_LINK_UP,
    EP_FAULT_SYNC_LOSS, /* state synchronization messages lost while active */
    EP_FAULT_SYNC_OK,
    EP_FAULT_PARTITION,  /* nodes[0..nnodes) cut off from the others, both directions */
    EP_FAULT_HEAL,       /* the partition in effect ends */
    EP_FAULT_SYNC_DELAY, /* sync messages arrive `delay` late from now (0: on time again) */
    EP_FAULT_SLOW        /* devices of node `target` run `factor` x slower (1: normal again) */
} ep_fault_kind;

/* One scheduled fault. At most one partition is in effect at a time (the loader checks that
 * partitions and heals alternate). */
typedef struct ep_fault {
    ep_time at;
    ep_fault_kind kind;
    int target;    /* node or link index (link i is node i's uplink); PARTITION and HEAL: the
                      partition's first node; SYNC_LOSS / SYNC_OK: -1; SYNC_DELAY: 0 (unused) */
    int *nodes;    /* PARTITION: the cut-off nodes, owned by the scenario; NULL otherwise */
    int nnodes;    /* PARTITION: entries in nodes, >= 1 and < the cluster's nodes */
    int device;    /* SLOW: the one device (global index) slowed, or -1 for all the node's */
    double factor; /* SLOW: batch and iteration times multiplied by this (>= 1) */
    ep_dur delay;  /* SYNC_DELAY: added to every state sync message's delivery (>= 0) */
} ep_fault;

typedef struct ep_param {
    char key[EP_NAME_MAX];
    char value[EP_NAME_MAX];
} ep_param;

#define EP_MAX_PARAMS 64

typedef struct ep_run {
    uint64_t seed;
    ep_dur warmup, cooldown;    /* excluded from metrics at both ends */
    ep_dur duration;            /* 0: the whole workload */
    ep_dur sync_period;         /* state synchronization (default 500 ms) */
    ep_dur placement_period;    /* centralized placement (default 30 s) */
    char trace_db[EP_PATH_MAX]; /* trace database path (relative to the scenario file) */
} ep_run;

typedef struct ep_scenario {
    char path[EP_PATH_MAX]; /* file it came from, for messages */
    char name[EP_NAME_MAX];
    ep_device_spec *specs;
    int nspecs;
    ep_node *nodes;
    int nnodes;
    ep_device *devices;
    int ndevices;
    ep_link *links;
    int nlinks;
    ep_service *services;
    int nservices;
    ep_profile_table *profiles;
    int nprofiles;
    ep_workload *workloads;
    int nworkloads;
    ep_fault *faults;
    int nfaults;
    char policy[EP_NAME_MAX];
    ep_param params[EP_MAX_PARAMS];
    int nparams;
    double mt_slowdown[8]; /* per-instance slowdown with k co-located busy instances,
                              k = 1..8 (index k-1); defaults from the EPARA authors' measurement,
                              docs/sources.md */
    ep_run run;
    char *text; /* the scenario file's text, kept for results provenance */
} ep_scenario;

/* Frees everything a scenario owns (not the struct itself) and zeroes it; NULL is a no-op. */
void ep_scenario_fini(ep_scenario *sc);

/* Index of the named thing (the first with that name), or -1 when absent or name is NULL. */
int ep_scenario_find_service(const ep_scenario *sc, const char *name);
int ep_scenario_find_node(const ep_scenario *sc, const char *name);
int ep_scenario_find_spec(const ep_scenario *sc, const char *name);

/* Policy parameter lookup with a default; values parse as double. When a key repeats the
 * last occurrence wins (later settings override earlier ones). Returns dflt when the key is
 * absent, or when its value is not entirely one finite number (surrounding blanks allowed). */
double ep_param_get(const ep_param *params, int n, const char *key, double dflt);

#endif
