/* Internal to the alpaserve policy (policies/alpaserve*.c): its state, the placement
 * search's context and the fast simulator's replica model, shared by alpaserve.c (parameters,
 * routing, batching), alpaserve_search.c (placement) and alpaserve_fastsim.c (the fast
 * simulator). Not a public header. */
#ifndef EPARA_POLICIES_ALPASERVE_INTERNAL_H
#define EPARA_POLICIES_ALPASERVE_INTERNAL_H

#include <stdint.h>

#include "epara/policies/policy.h"
#include "epara/policies/policy_util.h"

#define MAX_SVC   64
#define MAX_TRACK 4096
#define KMAX      8 /* co-location levels modelled */

/* What the router believes of a remote instance between syncs: its queue (queued + running)
 * as a fluid that drains at the instance's SLO capacity, starting from the last snapshot
 * and growing by one with each request this policy sends there. */
typedef struct alpa_track {
    int id;            /* instance id + 1 (0: empty) */
    ep_time synced_at; /* snapshot the belief starts from */
    double q;          /* queue believed at time `at` */
    ep_time at;
    double drain_s; /* seconds per request at its SLO capacity (0: unknown, no drain) */
} alpa_track;

typedef struct alpa_state {
    /* parameters */
    double horizon_s, samples, max_per_svc, replan_gain, drift, ewma;
    int admission, fallback, max_partitions;
    int link_admission; /* EPARA's uplink admission added (not part of AlpaServe) */
    int dispatcher;     /* the node every request is forwarded to first (-1: none) */
    ep_link_adm link;
    /* placement */
    int placed;
    ep_instance_spec *cur; /* the last placement returned (heap, freed in fini) */
    int ncur;
    double cv[MAX_SVC];        /* inter-arrival CV per service (param cv.<service>) */
    double rate[MAX_SVC];      /* smoothed demand */
    double plan_rate[MAX_SVC]; /* demand the last search used */
    /* routing: requests sent to remote instances since their last sync */
    alpa_track tr[MAX_TRACK];
} alpa_state;

/* --- the placement search's context and the fast simulator's model of one replica ------ */

typedef struct alpa_grp {
    int ndev, devs[EP_MAX_STAGE_DEVS];
    ep_mode mode;
    int spec;
} alpa_grp;

/* A replica of a service on a group, with k - 1 busy co-located instances (index k - 1):
 * latency and occupancy in seconds; occ <= 0 when it cannot meet the SLO at that level. */
typedef struct alpa_rparam {
    double lat[KMAX], occ[KMAX];
    double busy; /* seconds one lone request keeps the instance busy */
    double mem;  /* bytes per device: weights share + activation reserve */
    double kv;   /* LLM: bytes per device of the KV cache it reserves (DNN: 0) */
} alpa_rparam;

typedef struct alpa_smp {
    double t, w;
    int svc, idx;
} alpa_smp;

typedef struct alpa_ctx {
    const ep_view *v;
    const ep_scenario *sc;
    int ns;
    double rate[MAX_SVC], slo[MAX_SVC];
    alpa_smp *s;
    int n, cap;
    double wsum;
    /* the partition being searched */
    alpa_grp *g;
    int ng;
    alpa_rparam *p; /* ns x ng */
    uint64_t *gm;   /* per group: services placed */
    int *rep;       /* ns x ng: groups holding each service */
    int nrep[MAX_SVC];
    int total, nplaced;          /* replicas; services with one (after greedy()) */
    double *freem;               /* per device: usable memory less weights and reserves */
    int *nllm;                   /* per device: LLM replicas on it */
    double *kvmax;               /* per device: the largest KV need (alpa_rparam.kv) among them */
    double *sv_freem, *sv_kvmax; /* room_for()'s copies of the three */
    int *sv_nllm;
    double *lat, *occ, *clk; /* ns x ng: per replica, during one evaluation */
    double good[MAX_SVC], lsum[MAX_SVC];
    char *prefer; /* ns x ng: the replica exists in the current placement */
} alpa_ctx;

/* The placement (the ops table's place hook; alpaserve_search.c). */
int alpa_place(void *state, const ep_env *env, const ep_view *view, ep_placement *out);

/* The fast simulator (alpaserve_fastsim.c). */

/* The spec of a replica of svc on group g (FIFO; max_batch 0: the service's). */
ep_instance_spec alpa_spec_of(int svc, const alpa_grp *g);
/* The service's max batch, at least 1. */
int alpa_max_batch(const ep_scenario *sc, int svc);
/* The KV-cache tokens an LLM replica of sp reserves to carry x requests/s within its SLO
 * (the smallest such batch, capped at its SLO batch, x the mean request); 0: hopeless. */
int64_t alpa_planned_kv_tokens(const ep_view *v, const ep_instance_spec *sp, double x);
/* The latency and occupancy of a replica of svc on g at each co-location level and the
 * memory it plans per device, when it is to carry x requests/s running batches of at most
 * max_batch (0: the service's). */
void alpa_replica_params(const alpa_ctx *c, int svc, const alpa_grp *g, double x, int max_batch,
                         alpa_rparam *out);
/* Samples the arrivals of every service into c (0 or EP_ENOMEM). */
int alpa_sample(alpa_ctx *c, const alpa_state *st, ep_rng *rng);
/* Replays the sample for the services in mask on the current replicas; writes their good
 * weight and latency sums. */
void alpa_eval(alpa_ctx *c, uint64_t mask, double *good, double *lsum);
/* AlpaServe's score: attainment - mean latency / 1e4 + replicas / 1e6. */
double alpa_score(const alpa_ctx *c, const double *good, const double *lsum, int reps);

/* The parameters of svc's replica (placed or candidate) on group g. */
static inline const alpa_rparam *
alpa_par(const alpa_ctx *c, int svc, int g)
{
    return &c->p[svc * c->ng + g];
}

#endif
