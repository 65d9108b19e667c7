/* Internal to the adainf policy (policies/adainf*.c): its state and what its files share:
 * adainf.c (description, parameters, lifecycle, demand, the place hook, routing, batching),
 * adainf_assign.c (edge servers and their areas) and adainf_plan.c (one server's plan).
 * Invariant: a node's homes are fixed once (ada_state.homed) and never change. Not a public
 * header. */
#ifndef EPARA_POLICIES_ADAINF_INTERNAL_H
#define EPARA_POLICIES_ADAINF_INTERNAL_H

#include <stdint.h>

#include "epara/policies/policy.h"
#include "epara/policies/policy_util.h"

#define ADA_KSTEPS   64 /* cached co-location levels: k = 1 + i / 8 */
#define ADA_MIN_RATE 1e-3

/* A service a server plans for: its demand d and weight w. */
typedef struct ada_cand {
    int svc;
    double d, w;
    int multi; /* needs a tensor-parallel group on this node */
} ada_cand;

/* An (ingress node, service) pair waiting for a home, with its demand d. */
typedef struct ada_pair {
    int node, svc;
    double d;
} ada_pair;

/* Per (node, service). */
typedef struct ada_nsv {
    double share;         /* fraction of s's requests entering n (the workload mapping) */
    double dem;           /* demand estimate of the requests of s entering n, req/s */
    double pdem;          /* a server's: the demand of its area */
    double unit;          /* a server's: devices busy per request/s at its best option */
    int64_t cnt;          /* arrivals counted at n since the last plan */
    int home;             /* the server of the requests of s entering n; -1: none */
    signed char lvl;      /* a server's: 2 an SLO capacity, 1 a lone request in time, 0 neither */
    signed char multi;    /* a server's: its best level needs a tensor-parallel group */
    unsigned char area;   /* a server's: some ingress node is homed there */
    unsigned char chosen; /* a server's: in the subset it serves now */
} ada_nsv;

/* Per device of the node being packed: usable memory, weights and reserves placed, the
 * largest KV reservation (bytes), device time left; LLM instances; kv_split's scratch. */
typedef struct ada_pdev {
    double usable, wmem, kvres, tshare, left;
    int nllm, nl;
} ada_pdev;

/* Per plan slot: the rate it carries (unshared), its need and busy fraction, its
 * co-location level (bk: of best[]), its candidate, the KV tokens the host gives it. */
typedef struct ada_pslot {
    double x, need, busy, k, bk;
    int cand;
    int64_t kv;
} ada_pslot;

typedef struct ada_state {
    /* parameters */
    double ewma, max_util, hysteresis;
    int admission, drop_expired, exhaustive_max;
    int link_admission; /* EPARA's uplink admission added (not part of AdaInf) */
    ep_link_adm link;
    /* sizes */
    int nnodes, nsvc, maxdev;
    ada_nsv *ns;           /* nnodes x nsvc */
    unsigned char *server; /* per node: an edge server */
    /* homing, done once (at the first hook called after init) */
    int homed;
    double *load;     /* per node: planned device time */
    signed char *top; /* per service: the best level of any server */
    ada_pair *pend;   /* pairs waiting for a home */
    /* demand */
    ep_time last_place;
    int planned, counted;
    /* previous plan */
    ep_instance_spec *prev; /* per node: maxdev * nsvc slots */
    int *nprev;
    /* scratch for planning one node */
    ada_cand *cands;
    /* Per (candidate, slot): slot j < maxdev is a single-device replica on the node's device
     * j, slot maxdev + g a tensor-parallel group of g devices. < 0: not computed. */
    int nslot;
    double *capc; /* SLO capacity by co-location level, with the KV the devices hold alone */
    int *capb;    /* the batch that achieves it */
    double *lone; /* time one request alone takes (DNN: batch 1; LLM: prefill + decode) */
    ada_pdev *dv;
    ep_instance_spec *plan, *best;
    ada_pslot *sl;
} ada_state;

/* Mean input and output tokens of LLM service s (512 and 128 when the view has none). */
static inline void
ada_llm_sizes(const ep_view *v, int s, double *in, double *out)
{
    *in = v->mean_input && v->mean_input[s] >= 1 ? v->mean_input[s] : 512;
    *out = v->mean_output && v->mean_output[s] >= 1 ? v->mean_output[s] : 128;
}

static inline int
ada_is_llm(const ep_scenario *sc, int s)
{
    return sc->services[s].kind == EP_SVC_LLM;
}

/* Fixes the home of every (ingress node, service) pair and marks the servers' areas; sets
 * st->homed (adainf_assign.c). */
void ada_assign_homes(ada_state *st, const ep_view *v);

/* Plans server node for the demand of its area (st->ns[].pdem): its chosen instances end in
 * st->best[0 .. return), their KV tokens in st->sl[], and st->ns[].chosen marks the subset it
 * serves (adainf_plan.c). */
int ada_plan_node(ada_state *st, const ep_view *v, int node);

#endif
