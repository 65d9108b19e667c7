/* The policy interface (policies/README.md): a policy is a static const ops table whose hooks see
 * time, randomness and timers only through ep_env, and the cluster only through a
 * read-only ep_view provided by the host (the simulator or the executor). Policies link
 * core/ only: no clock, no rand(), no I/O. The host allocates state_size bytes of state,
 * zeroed, for each decision maker: one per node and one for the controller (the simulator
 * holds them all, a testbed process only its own). Each hook gets the state of whoever makes
 * the call: route the deciding node's (req->at_node), pick_batch the node running the
 * instance, place the controller's, on_timer the state whose hook armed the timer. init,
 * then categorize for every service, run on every state at start, and fini on every state at
 * the end (including one whose init failed). Nothing in a state is shared between nodes or
 * with the controller: what one learns of the others comes only through the view.
 * env->rng is the state's own stream. */
#ifndef EPARA_POLICY_H
#define EPARA_POLICY_H

#include "epara/core/model.h"
#include "epara/core/rng.h"

#define EP_POLICY_ABI     1
#define EP_MAX_STAGE_DEVS 8

/* Parallel modes (policies/README.md; EPARA's allocator). */
typedef enum ep_mode {
    EP_MODE_SINGLE, /* one device (BS: dynamic batching) */
    EP_MODE_MT,     /* one device shared with other instances (co-location) */
    EP_MODE_TP,     /* tensor parallel over devices of one node */
    EP_MODE_PP      /* pipeline parallel over devices, possibly on several nodes */
} ep_mode;

typedef enum ep_queue_order { EP_QUEUE_FIFO, EP_QUEUE_EDF } ep_queue_order;

/* pick_batch's *drop_expired: what the host drops from the queue before taking the batch. */
enum { EP_DROP_NONE, EP_DROP_EXPIRED, EP_DROP_DOOMED };

/* Categories on both axes. */
typedef struct ep_category {
    ep_sensitivity sensitivity; /* latency or frequency (never AUTO once categorized) */
    int multi_device;           /* needs more than one device */
} ep_category;

/* One desired instance in a placement. */
typedef struct ep_instance_spec {
    int service;
    ep_mode mode;
    int ndev;
    int devs[EP_MAX_STAGE_DEVS]; /* devices; for PP in stage order */
    int max_batch;               /* 0: the service's max_batch */
    ep_queue_order order;
} ep_instance_spec;

typedef struct ep_placement {
    ep_instance_spec *inst; /* host-owned array of capacity cap */
    int n, cap;
    int unchanged; /* set by the policy to keep the current placement as it is */
} ep_placement;

/* Host view of one instance. Fields a remote node could only know by synchronization are
 * given as of the last sync for instances on other nodes than the one routing. */
typedef struct ep_instance_view {
    ep_instance_spec spec;
    int id;
    int node;          /* node of the first device (where requests are dispatched) */
    int ready;         /* loaded and its node up */
    int active;        /* part of the current placement (0: retired, draining what it holds) */
    int queued;        /* waiting requests */
    int running;       /* requests in the current batch / iteration */
    ep_dur backlog;    /* host estimate of time to drain the queued + running work */
    int64_t kv_free;   /* LLM: free KV tokens; -1 for DNN */
    ep_time synced_at; /* when these numbers were taken */
} ep_instance_view;

typedef struct ep_view {
    const ep_scenario *sc;
    const ep_category *cat; /* per service */
    const ep_instance_view *inst;
    int ninst;
    const int *node_up; /* per node */
    const int *link_up; /* per link */
    /* Per link: when its uplink (node to switch) will have sent what is queued on it now
     * (<= now: idle). A node knows its own send queue; a policy reads only the deciding
     * node's (ep_pol_uplink_wait). NULL where the host does not model link queues. */
    const ep_time *uplink_free;
    /* Demand, per service. arrivals: requests arrived so far (all nodes; a centralized
     * scheduler learns them at its placement ticks). rate: arrivals per second over the
     * last placement period; before the first period ends, the long-run mean rate of the
     * service's traces (what an operator knows from history). oracle_rate: arrivals per
     * second in the coming placement period, only when the policy parameter oracle=1
     * (upper-bound studies), else NULL. mean_input / mean_output: running means of the
     * request sizes seen (tokens for LLMs, bytes for DNNs), or the traces' means before
     * any arrival. */
    const int64_t *arrivals;
    const double *rate;
    const double *oracle_rate;
    const double *mean_input;
    const double *mean_output;
    ep_dur placement_period;
    ep_dur sync_period;
    /* Unloaded one-way delay of `bytes` from node a to node b (0 when a == b). */
    ep_dur (*delay)(const struct ep_view *v, int a, int b, int64_t bytes);
    void *host_;
} ep_view;

/* A request as the router sees it. */
typedef struct ep_request_info {
    uint64_t id;
    int service;
    int ingress;
    int at_node; /* node deciding now */
    int hops;    /* forwards so far */
    ep_time arrival;
    ep_time deadline; /* first-token deadline for LLMs, completion deadline otherwise */
    int64_t input;    /* tokens (LLM) or bytes */
    int64_t output;   /* tokens (LLM) */
    int64_t bytes;    /* payload to move if dispatched elsewhere */
    int64_t stream, frame;
} ep_request_info;

typedef enum ep_route_kind {
    EP_ROUTE_DISPATCH, /* send to instance `instance` (transfer if on another node) */
    EP_ROUTE_FORWARD,  /* send to node `node`, which routes again */
    EP_ROUTE_REJECT    /* refuse now (counted as a miss) */
} ep_route_kind;

typedef struct ep_route {
    ep_route_kind kind;
    int instance;
    int node;
    const char *reason; /* static text, for REJECT */
} ep_route;

/* The environment: time, randomness, timers. now is constant within one hook call. */
typedef struct ep_env {
    ep_time now;
    ep_rng *rng; /* the policy's own stream */
    /* Arms a one-shot timer: on_timer(cookie) runs `after` from now. */
    void (*timer_arm)(void *host, ep_dur after, uint64_t cookie);
    void *host;
} ep_env;

/* A DNN instance's queue as pick_batch sees it, in queue order. */
typedef struct ep_queue_view {
    int n;
    const ep_time *deadline; /* n entries: the latest completion on this instance that meets
                              * the request's SLO (its deadline less the reply's transfer) */
    const ep_time *arrival;  /* n entries */
} ep_queue_view;

/* One policy parameter a policy accepts (`--param KEY=VALUE`, scenario `policy.params`):
 * its value must be one finite number in [lo, hi], a whole number when integer is set
 * (switches are integer in [0, 1]). A policy's table ends with an entry whose key is NULL. */
typedef struct ep_param_decl {
    const char *key;
    double lo, hi;
    int integer;
    double dflt;
    const char *help; /* one line: what it does */
} ep_param_decl;

typedef struct ep_policy_ops {
    const char *name;
    int abi; /* EP_POLICY_ABI */
    size_t state_size;
    const char *summary;
    /* The parameters the policy reads (NULL-terminated; NULL: it takes none). The host
     * refuses any other key and any value outside its domain before init. */
    const ep_param_decl *params;
    /* Called once before anything else. params are the scenario's policy params. */
    int (*init)(void *state, const ep_env *env, const ep_view *view, const ep_param *params,
                int nparams);
    /* Categorizes service svc. */
    void (*categorize)(void *state, const ep_view *view, int svc, ep_category *out);
    /* Computes the desired placement (at start and every placement period). */
    int (*place)(void *state, const ep_env *env, const ep_view *view, ep_placement *out);
    /* Decides what node at_node does with a request. */
    void (*route)(void *state, const ep_env *env, const ep_view *view, const ep_request_info *req,
                  ep_route *out);
    /* DNN instance idle with a non-empty queue: how many head requests to run as one batch
     * (1..max_batch), or 0 to wait (then arm a timer); *drop_expired asks the host to drop
     * queued requests first: EP_DROP_EXPIRED those whose due time (above) has passed,
     * EP_DROP_DOOMED also those that would miss it even run alone now (a batch of one priced
     * by the cost model); the batch is then taken from what remains. */
    int (*pick_batch)(void *state, const ep_env *env, const ep_view *view, int instance,
                      const ep_queue_view *q, int *drop_expired);
    void (*on_timer)(void *state, const ep_env *env, const ep_view *view, uint64_t cookie);
    void (*fini)(void *state);
} ep_policy_ops;

/* Registry: every built-in policy. */
const ep_policy_ops *ep_policy_find(const char *name);
/* NULL-terminated list of all policies. */
const ep_policy_ops *const *ep_policy_all(void);

/* Policy parameters (ep_param_decl). A declared key ending in '.' is a prefix: it accepts
 * that prefix followed by the name of one of the scenario's services (e.g. "cv." accepts
 * "cv.chat"). */

/* The parameters the host reads for every policy (the simulator's oracle=1), accepted
 * besides each policy's own; static, NULL-key-terminated. */
const ep_param_decl *ep_param_host(void);

/* The entry of decls (NULL-key-terminated; NULL: none) declaring key: the one equal to it,
 * or a prefix entry key extends by at least one character. NULL when none or key is NULL. */
const ep_param_decl *ep_param_decl_find(const ep_param_decl *decls, const char *key);

/* The value of parameter key in params[0..n) (the last occurrence, as ep_param_get), or its
 * declared default when absent or not a number. key must be declared in decls (asserted):
 * a policy's init reads its parameters through its own table. */
double ep_param_value(const ep_param_decl *decls, const ep_param *params, int n, const char *key);

/* The domain of d as text for messages and listings ("a whole number in [0, 1]", "a number
 * >= 1"); buf (len bytes) is always terminated when len > 0. */
void ep_param_domain(const ep_param_decl *d, char *buf, size_t len);

/* Checks params[0..n) against decls (the parameters of the policy named `policy`, which only
 * names it in messages; NULL: none) and the host's parameters: every key declared, every
 * value one finite number (as ep_param_get parses it) in the key's domain. Prefix keys must
 * name a service of sc (any non-empty suffix when sc is NULL). Returns 0, or EP_EINVAL with
 * the first problem in err (may be NULL): "unknown policy parameter 'K' for policy P
 * (accepted: ...)" or "policy parameter K=V for policy P: not <domain>". */
int ep_param_check(const char *policy, const ep_param_decl *decls, const ep_scenario *sc,
                   const ep_param *params, int n, char *err, size_t errlen);
/* ep_param_check with the name and parameters of ops. The hosts call it before init. */
int ep_policy_check_params(const ep_policy_ops *ops, const ep_scenario *sc, const ep_param *params,
                           int n, char *err, size_t errlen);

/* Default categorization from the service description (used by policies that do not
 * categorize on their own): frequency when the SLO sets fps or the hint says so;
 * multi-device when the instance memory exceeds the largest device's usable memory or
 * min_devices > 1. */
void ep_category_default(const ep_view *view, int svc, ep_category *out);

/* Placement helper: appends an instance spec; EP_EFULL when out is full. */
int ep_placement_add(ep_placement *out, const ep_instance_spec *spec);

/* Labels the co-location in out: a single-device instance (SINGLE or MT) whose device holds
 * another instance of out becomes EP_MODE_MT, one alone on its device EP_MODE_SINGLE. The
 * host applies the mode: a SINGLE instance has its device to itself (nothing else runs there
 * while it does), MT instances run concurrently, slowed by the co-location factor. */
void ep_placement_mark_mt(ep_placement *out);

/* Whether a and b describe the same instance: same service, devices, batch limit and queue
 * order, and the same mode except that SINGLE and MT (alone on the device or sharing it)
 * are the same instance: the host keeps it, applying the new mode. */
int ep_spec_same_instance(const ep_instance_spec *a, const ep_instance_spec *b);

/* Whether a and b have a device in common. */
int ep_spec_shares_device(const ep_instance_spec *a, const ep_instance_spec *b);

#endif
