/* Internal to the epara policy (policies/epara*.c): its parameters, state, candidates and
 * plans, shared by epara.c (description, parameters, categorizer, the placement round,
 * batching, the ops table), epara_cand.c (candidate instances and their capacities under
 * co-location), epara_plan.c (the greedy scheduler's plan), epara_pool.c (the pooled plan)
 * and epara_route.c (the request router). Not a public header. */
#ifndef EPARA_POLICIES_EPARA_INTERNAL_H
#define EPARA_POLICIES_EPARA_INTERNAL_H

#include "epara/policies/policy.h"
#include "epara/policies/policy_util.h"

#define MAX_SVC  64
#define MAX_CAND 65536
#define MAX_INST 8192
#define MAX_DEV  4096 /* devices whose replica capacity the TP trade-off compares */
/* Work this node sent to remote LLM instances since their last state sync: instances
 * tracked (direct-mapped by id; each node has its own state). */
#define SENT_SLOTS 64
/* mt_plan: the co-location slowdowns at which a candidate's capacity is priced (level 0:
 * alone); an expected slowdown counts as the next level up (within 2%: the model's own
 * error), beyond the last one as too slow. MT_LEVELS of them (epara_cand.c). */
#define MT_LEVELS 12
extern const double epr_mt_levels[];
/* mt_plan: instances a device may hold */
#define MT_SLOTS 8

typedef struct epara_params {
    int categorize;     /* 0: every service latency, multi-device only by memory */
    int forward;        /* 0: serve only on the ingress node (no dispatch elsewhere) */
    int mt;             /* 0: at most one instance per device */
    int mf;             /* 0: frequency tasks batch one frame at a time */
    int parallel;       /* 0: no TP/PP groups (multi-device services cannot be placed) */
    int early_reject;   /* 0: never reject early, never drop expired requests */
    int edf;            /* 0: FIFO queues for latency tasks too */
    int hysteresis;     /* 0: re-place from scratch every period */
    int link_aware;     /* 0: estimates ignore what is queued on the node's own uplink */
    int own_sent;       /* 0: LLM estimates ignore what this node sent since the last sync */
    int inflow;         /* 0: LLM estimates ignore what arrived elsewhere since the last sync */
    int llm_forward;    /* 0: LLM requests go straight to a remote instance, not to its node */
    int kv_reserve;     /* 0: LLM candidates plan memory for their weights only */
    int link_density;   /* 0: an overloaded uplink carries requests in arrival order only */
    int tail_replica;   /* 0: no replica on a fast device for an LLM's long prompts */
    double tp_gain;     /* a TP group of a single-device LLM must serve this many times
                           what its devices would as replicas */
    double tail_slack;  /* tail_replica: a long prompt prefilled within this share of the
                           TTFT needs no other instance */
    double tail_factor; /* tail_replica: a long prompt is this many times the mean */
    double link_margin; /* the uplink wait counts (1 + link_margin) times: a margin for
                           what the estimate misses, paid at the deadline otherwise */
    double link_window; /* link_density: seconds over which a node measures the rates of
                           the requests entering it (0: the period means of the view) */
    int max_hops;
    double local_slack; /* LLM: local-first only when the local estimate is within this
                           share of the time to the deadline (the rest is margin for what
                           the estimate cannot know: prompts admitted with it later) */
    double alpha;       /* EWMA weight of the newest rate */
    double headroom;    /* supply target as a multiple of forecast demand */
    double extra;       /* spare capacity handed out up to this multiple of demand */
    double budget;      /* device time a device may be planned for (> 1: MT co-location) */
    int tpot_admit;     /* LLM: dispatch only to instances below their TPOT-bound batch */
    double stall_admit; /* LLM: the prefill share an instance is sent over a mean output's
                           decode life, at most this many times what its TPOT allows (0: off) */
    int tpot_stretch;   /* LLM: that batch at the co-location slowdown of now, none where
                           one request alone would miss its TPOT (default 0: alone, at least
                           one) */
    double peak_weight; /* 0..1: how far the forecast moves toward the recent peak rate */
    double peak_decay;  /* per placement period */
    int drop_doomed;    /* 0: early rejection drops only requests already past deadline */
    int mt_stretch;     /* 0: estimates ignore the slowdown of co-located busy instances */
    int mt_plan;        /* 0: the scheduler plans co-location by device-time shares only */
    int fill_idle;      /* 0: devices idle once demand is covered stay idle */
    int pool;           /* 0: a TP group hosts one LLM service only, no pooled plan */
    int pool_load;      /* 0: pooled members keep two long prompts' KV, split not valued */
    int pool_split;     /* 0: a pooled guest is a TP instance on the group's devices only */
    int score_time;     /* the greedy counts device time as well as memory */
    int per_service;    /* objective: shares of each service's demand (1) or requests (0) */
    double contest;     /* price above 1 of a device a service short of demand found taken */
} epara_params;

/* Prefill work a node dispatched to a remote instance after the view of it was synced:
 * the synced backlog does not hold it yet, and every node routing on the same stale view
 * would otherwise pile onto the instance that looked idle. Only the node's own sends
 * (what it knows); reset when a newer view of the instance arrives. */
typedef struct sent_work {
    int inst; /* instance id + 1 (0: empty) */
    ep_time synced_at;
    ep_dur work;
} sent_work;

/* Frame-level DP: an instance's smooth weighted round-robin credit and the frames per
 * second it sustains within the SLO (computed once per instance). */
typedef struct dp_slot {
    int inst; /* instance id + 1 (0: empty) */
    double rate, credit;
} dp_slot;

typedef struct epara_state {
    epara_params p;
    sent_work sent[SENT_SLOTS];
    int have_forecast;
    double forecast[MAX_SVC];
    double peak[MAX_SVC];
    dp_slot dp[MAX_INST]; /* frame_dp, by instance id modulo MAX_INST */
    ep_link_adm link;     /* link_density: the uplink admission (epara/policies/policy_util.h) */
    /* During one route call (mt_stretch, tpot_stretch): busy ready instances per device (devices
     * below MAX_DEV), so an instance alone on its devices skips the co-location scan. */
    int busy_dev[MAX_DEV];
    int busy_valid;
    int placed_once;
    int pooled; /* the last placement kept a pooled plan (plan_pooled) */
    /* LLM instances: the largest running batch that keeps the TPOT SLO (from the capacity
     * model), by instance id; not computed yet while tpot_slow is 0. */
    int tpot_batch[MAX_INST];
    double tpot_rate[MAX_INST];  /* the arrival rate tpot_batch was computed for */
    double admit_rate[MAX_INST]; /* requests/s the instance admits at that rate */
    double tpot_slow[MAX_INST];  /* the co-location slowdown it was computed at */
    /* stall_admit: prefill seconds this node dispatched to each instance, decaying with
     * time constant stall_w (a mean output's decode life), as of stall_at; by id + 1 */
    int stall_inst[MAX_INST];
    double stall_work[MAX_INST];
    ep_time stall_at[MAX_INST];
    const double *price; /* during a placement: each device's price (NULL: 1) */
} epara_state;

/* --- candidates and plans ----------------------------------------------------------------- */

typedef struct cand {
    ep_instance_spec spec;
    double cap;     /* requests/s within the SLO (on what is left of its devices' time) */
    double full;    /* requests/s within the SLO with its devices to itself */
    double mem;     /* bytes per device */
    int tail_only;  /* a TP group that serves no more than its devices as replicas would:
                       placed only for the prompts no replica prefills within the TTFT */
    unsigned havek; /* bit l: capk[l - 1] computed this round */
    double capk[MT_LEVELS - 1]; /* requests/s within the SLO slowed to mt_levels[l] */
} cand;

/* Capacities already computed this round, by what they depend on: a replica's or a TP
 * group's is the same on every device of the same class (and, for TP, the same intra-node
 * bandwidth), so a cluster of many identical nodes prices each shape once. */
#define CAP_MEMO 512
typedef struct cap_memo {
    int service, mode, ndev, spec, max_batch, order, level;
    double intra_bw;
    double cap;
    int batch;
} cap_memo;

typedef struct cands {
    cand *c;
    int n, cap;
    cap_memo memo[CAP_MEMO];
    int nmemo;
} cands;

/* One instance on a device of a plan, as mt_plan weighs co-location. */
typedef struct mt_slot {
    double busy;  /* share of time it is busy alone */
    double serve; /* requests/s it is planned to serve */
    double gave;  /* the supply it added to its service */
    int who;      /* its candidate */
    int lvl;      /* the slowdown level that supply was priced at */
} mt_slot;

/* One placement plan under construction: the candidates chosen, what each device has left
 * (memory, time budget, instances: slot[d * MT_SLOTS + i] the i-th on device d, the first
 * MT_SLOTS of them) and the highest slowdown level its instances all tolerate, and the
 * supply planned per service. */
typedef struct plan {
    int *chosen, *count, *tol;
    double *freem, *budget;
    mt_slot *slot;
    double supply[MAX_SVC];
} plan;

/* --- candidates (epara_cand.c) --------------------------------------------------------- */

/* Adds every candidate instance of service s (per its category) to cs. */
void epr_candidates_for(const epara_state *st, const ep_view *v, int s, cands *cs);
/* Candidate c's capacity slowed to epr_mt_levels[level], computed once per round and level. */
double epr_cap_at_level(const ep_view *v, cands *cs, cand *c, int level);
/* The share of time candidate c is busy serving `serve` requests/s alone. */
double epr_busy_share(const ep_view *v, const cand *c, double serve);
/* The lowest level of epr_mt_levels that covers slowdown factor slow (MT_LEVELS: none). */
int epr_level_of(double slow);
/* The slowdown level for one instance whose co-located instances are busy u[0..n-1] of the
 * time alone. */
int epr_mt_level(const ep_view *v, const double *u, int n);

/* --- the greedy scheduler's plan (epara_plan.c) ----------------------------------------- */

/* Takes candidate i if it fits; returns the supply it adds (0 when it does not fit). */
double epr_take(const epara_state *st, const ep_view *v, cands *cs, int i, plan *pl, double want);
/* Keeps running instances of services whose supply is below mult x demand. */
void epr_keep_running(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
                      const double *demand, double mult);
/* Adds candidates by weighted gain per unit of what they occupy until none gains. */
void epr_greedy(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
                const double *demand, double mult);
/* Prefill time of a prompt of `len` tokens on candidate c (infinity: its KV cannot hold it). */
double epr_long_prefill(const ep_view *view, const cand *c, double len);
/* An instance for the long prompts of each latency LLM (tail_replica). */
void epr_tail_replicas(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
                       const double *demand);
/* The KV per device that an LLM instance of spec sp keeps room for when pooled. */
double epr_pool_need(const epara_state *st, const ep_view *view, const ep_instance_spec *sp);
/* Memory each device's chosen instances hold for their weights (wsum), its LLM instances
 * (nllm; the host splits what the weights leave equally among them) and the largest KV per
 * device any of them must keep: for its share of its service's demand (need; pool_load) or
 * for two long prompts (need2). What pooling checks a guest against, kept as guests are
 * added, and what the pooled plan's value reads each member's KV share from. */
typedef struct dev_mem {
    double wsum, need, need2;
    int nllm;
} dev_mem;
/* Adds instance sp, carrying lam requests/s (0: its need is two long prompts'), to dm. */
void epr_dev_mem_add(const epara_state *st, const ep_view *view, dev_mem *dm,
                     const ep_instance_spec *sp, double lam);
/* pool_split: 1 when service s is a single-device one with a single-device candidate on each
 * device of group g (out[j] on g->devs[j]) and those serve more requests/s within the SLO
 * together (*full) than TP candidate alt on the same devices; else 0. */
int epr_split_guest(const ep_view *view, const cands *cs, int s, const ep_instance_spec *g,
                    const cand *alt, int *out, double *full);
/* Pooling: chosen TP groups of LLMs also host the other latency LLMs that fit (pool). */
void epr_pool(const epara_state *st, const ep_view *view, cands *cs, int *chosen,
              const double *demand, int split_ok);
/* Devices left idle once demand is covered get an instance too (fill_idle). */
void epr_fill_idle(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
                   const double *demand);
/* The last resort for service s, still without an instance; 1 when it placed one. */
int epr_slow_to_cover(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
                      const double *demand, int s);
void epr_plan_free(plan *pl);
/* An empty plan over every device (0 or EP_ENOMEM). */
int epr_plan_init(const epara_state *st, const ep_view *view, int ncand, plan *pl);
/* The first round of a plan; returns the weighted demand covered. */
double epr_plan_cover(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
                      const double *demand);
/* Prices the devices contested by a service short of its demand; returns how many. */
int epr_contested(const epara_state *st, const ep_view *view, cands *cs, const plan *pl,
                  const double *demand, int all, double *price);

/* --- the pooled plan (epara_pool.c) ----------------------------------------------------- */

/* Expected requests/s meeting the SLO under plan pl (-1: out of memory). */
double epr_plan_value(const epara_state *st, const ep_view *view, cands *cs, const plan *pl,
                      const double *demand);
/* Whether candidate c is a TP group of `width` devices of a latency LLM with demand. */
int epr_pooled_tp(const ep_view *view, const cand *c, const double *demand, int width);
/* Plan pl (empty) from pooled TP groups of `width` devices, then the greedy; returns the
 * groups placed (0: no pooled plan). With split (pool_split), a guest whose replicas serve
 * more than its TP instance joins as a replica on each device, and 0 is returned when no
 * guest does. */
int epr_plan_pooled(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
                    const double *demand, int width, int split);

/* --- the request router (epara_route.c) ------------------------------------------------- */

/* The route hook. */
void epr_route(void *state, const ep_env *env, const ep_view *view, const ep_request_info *req,
               ep_route *out);

#endif
