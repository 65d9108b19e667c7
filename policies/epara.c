/* `epara`: the EPARA policy (Wang et al., "EPARA: Parallelizing Categorized AI Inference in
 * Edge Clouds", arXiv 2511.00603, 2025), as designed in docs/architecture.md from the paper's
 * abstract and its authors' public material:
 *  - categorizer: latency- vs frequency-sensitive (SLO fps or hint), single- vs
 *    multi-device (memory, min_devices, or no single device meets the SLO);
 *  - allocator: per category, the parallel modes of its candidate instances (DP replicas
 *    with SLO-aware batching and MT co-location for latency x single; frame-level DP with
 *    multi-frame batches for frequency x single; for an LLM one device holds, replicas and
 *    TP groups of every width in a node, a group kept only where it serves more within the
 *    SLO than its devices would as replicas; for multi-device services TP groups in a node
 *    and PP chains over the fewest devices (pairs, triples, then chains of consecutive
 *    devices); instances sharing a device are labelled MT, which the host applies; a TP
 *    group of an LLM with other instances also hosts the other latency LLMs that fit
 *    (pooling: each prefills at the group's speed on every group));
 *  - state-aware scheduler: greedy maximization of sum_s w_s min(demand_s, supply_s) over
 *    those candidates under device memory (weights and the KV cache of the batch a
 *    candidate's capacity counts on) and compute budgets, each candidate costed by the larger
 *    of its memory share and device-time share per device; demand forecast by EWMA raised
 *    toward the recent peak (or the oracle), supply of running instances discounted by
 *    their backlog, hysteresis; when a service falls short on devices others took, two
 *    more plans with those devices (then every device it could use) priced higher, the
 *    plan covering most demand kept; instances share a device only where each meets its
 *    SLO at the slowdown the host applies (the scenario's MT factors at the expected number
 *    of instances busy at once: an LLM decoding keeps its device busy however light its
 *    load); a service left without an instance borrows from co-located LLMs' KV reserves,
 *    else, once the plan is done, joins a device whose instances it slows by less than it
 *    serves (requests weighted, each resident's loss against what it was planned to
 *    serve) if it carries its whole demand there; a latency LLM whose instances all prefill a
 *    long prompt past its TTFT gets the instance that prefills it fastest; devices left
 *    idle get an instance of the service with the least supply per unit of demand;
 *  - request router: serve locally if a local instance meets the deadline by its estimate
 *    (stretched by the co-location slowdown of busy neighbours), else dispatch to the
 *    earliest estimated completion including the link delay and the
 *    wait behind this node's own uplink queue (with a margin; an overloaded uplink goes to
 *    the requests with the most weight per byte first, at the rates the node has seen enter
 *    it over the last fraction of a second), reject
 *    early when nothing can meet it, and (LLMs) never past the running batch that keeps the
 *    TPOT SLO at the rate the instance admits; LLM prompts for a remote instance are
 *    forwarded to its node, which admits them on its current state, and a remote instance's
 *    synced backlog is aged with the prefills that arrived since (and this node's own
 *    sends); a frequency task's frames are spread over the replicas that meet the deadline
 *    in proportion to the frames per second each sustains (smooth weighted round-robin);
 *    EDF queues for latency tasks, FIFO (per stream) for frequency tasks; batches as large
 *    as the earliest deadline allows, after dropping what can no longer meet its deadline.
 * Every policy state is one node's (or the controller's): nothing here is shared between
 * nodes except through the view.
 * Every mechanism can be switched off by a policy parameter (see params below). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "epara/error.h"
#include "epara/policy_util.h"
#include "epara/profile.h"

#define MAX_SVC  64
#define MAX_CAND 65536
#define MAX_INST 8192
#define MAX_DEV  4096 /* devices whose replica capacity the TP trade-off compares */
/* Work this node sent to remote LLM instances since their last state sync: instances
 * tracked (direct-mapped by id; each node has its own state). */
#define SENT_SLOTS 64
/* mt_plan: the co-location slowdowns at which a candidate's capacity is priced (level 0:
 * alone); an expected slowdown counts as the next level up (within 2%: the model's own
 * error), beyond the last one as too slow. */
static const double mt_levels[] = {1, 1.05, 1.1, 1.2, 1.35, 1.5, 2, 2.5, 3, 4, 6, 8};
#define MT_LEVELS ((int)(sizeof mt_levels / sizeof mt_levels[0]))
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
    double alpha;       /* EWMA weight of the newest rate */
    double headroom;    /* supply target as a multiple of forecast demand */
    double extra;       /* spare capacity handed out up to this multiple of demand */
    double budget;      /* device time a device may be planned for (> 1: MT co-location) */
    int tpot_admit;     /* LLM: dispatch only to instances below their TPOT-bound batch */
    double peak_weight; /* 0..1: how far the forecast moves toward the recent peak rate */
    double peak_decay;  /* per placement period */
    int drop_doomed;    /* 0: early rejection drops only requests already past deadline */
    int mt_stretch;     /* 0: estimates ignore the slowdown of co-located busy instances */
    int mt_plan;        /* 0: the scheduler plans co-location by device-time shares only */
    int fill_idle;      /* 0: devices idle once demand is covered stay idle */
    int pool;           /* 0: a TP group hosts one LLM service only, no pooled plan */
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
    ep_link_adm link;     /* link_density: the uplink admission (epara/policy_util.h) */
    /* During one route call (mt_stretch): busy ready instances per device (devices below
     * MAX_DEV), so an instance alone on its devices skips the co-location scan. */
    int busy_dev[MAX_DEV];
    int busy_valid;
    int placed_once;
    int pooled; /* the last placement kept a pooled plan (plan_pooled) */
    /* LLM instances: the largest running batch that keeps the TPOT SLO (from the capacity
     * model), by instance id; 0 = not computed yet. */
    int tpot_batch[MAX_INST];
    double tpot_rate[MAX_INST];  /* the arrival rate tpot_batch was computed for */
    double admit_rate[MAX_INST]; /* requests/s the instance admits at that rate */
    const double *price;         /* during a placement: each device's price (NULL: 1) */
} epara_state;

/* The parameters ep_init reads: the one place their defaults and domains live (the host
 * refuses any other key or value; switches are 0 or 1, 1 = the mechanism on). */
static const ep_param_decl epara_params_decl[] = {
        {"categorize", 0, 1, 1, 1,
         "categorize services (0: every one latency, multi-device only by memory)"},
        {"forward", 0, 1, 1, 1, "dispatch to other nodes (0: serve only on the ingress node)"},
        {"mt", 0, 1, 1, 1, "co-locate instances on a device (0: at most one per device)"},
        {"mf", 0, 1, 1, 1, "multi-frame batches for frequency tasks (0: one frame at a time)"},
        {"parallel", 0, 1, 1, 1, "TP/PP groups for multi-device services (0: none)"},
        {"early_reject", 0, 1, 1, 1, "reject early and drop expired requests (0: never)"},
        {"edf", 0, 1, 1, 1, "EDF queues for latency tasks (0: FIFO)"},
        {"hysteresis", 0, 1, 1, 1, "keep instances across placements (0: re-place each period)"},
        {"link_aware", 0, 1, 1, 1, "estimates count the node's own uplink queue"},
        {"own_sent", 0, 1, 1, 1, "LLM estimates count what this node sent since the last sync"},
        {"inflow", 0, 1, 1, 1, "LLM estimates count what arrived elsewhere since the last sync"},
        {"llm_forward", 0, 1, 1, 1,
         "LLM prompts for a remote instance go to its node (0: straight to the instance)"},
        {"kv_reserve", 0, 1, 1, 1, "LLM candidates plan memory for the KV cache too"},
        {"link_density", 0, 1, 1, 1,
         "an overloaded uplink carries the most weight per byte first (0: arrival order)"},
        {"tail_replica", 0, 1, 1, 1, "a replica on a fast device for an LLM's long prompts"},
        {"tp_gain", 1, INFINITY, 0, 1,
         "a TP group of a single-device LLM must serve this many times its devices as replicas"},
        {"tail_slack", 0.01, 1, 0, 0.5,
         "tail_replica: a long prompt prefilled within this share of the TTFT needs nothing more"},
        {"tail_factor", 1, 1000, 0, 4,
         "tail_replica: a long prompt is this many times the service's mean prompt"},
        {"link_margin", 0, 10, 0, 0.5, "the uplink wait counts (1 + link_margin) times"},
        {"link_window", 0, 3600, 0, 0.25,
         "link_density: seconds over which a node measures its arrival rates (0: period means)"},
        {"max_hops", 0, 1e6, 1, 3, "forwards a request may take"},
        {"ewma_alpha", 1e-6, 1, 0, 0.5, "EWMA weight of the newest rate in the demand forecast"},
        {"headroom", 1, INFINITY, 0, 1.25, "supply target as a multiple of forecast demand"},
        {"extra", 1, INFINITY, 0, 3, "spare capacity handed out up to this multiple of demand"},
        {"device_budget", 1e-6, 8, 0, 1,
         "device time a device may be planned for (> 1: MT co-location)"},
        {"tpot_admit", 0, 1, 1, 1, "LLM: dispatch only to instances below their TPOT-bound batch"},
        {"peak_weight", 0, 1, 0, 0.5, "how far the forecast moves toward the recent peak rate"},
        {"peak_decay", 0, 1, 0, 0.9, "decay of the recent peak rate per placement period"},
        {"drop_doomed", 0, 1, 1, 1,
         "early_reject also drops queued requests a batch of one would finish late"},
        {"mt_stretch", 0, 1, 1, 1,
         "estimates stretch the work by the slowdown of co-located busy instances"},
        {"mt_plan", 0, 1, 1, 1,
         "co-located instances are planned at the scenario's MT slowdown: each meets its SLO "
         "with all busy (0: device-time shares only)"},
        {"fill_idle", 0, 1, 1, 1, "devices idle once demand is covered get an instance too"},
        {"pool", 0, 1, 1, 1,
         "latency LLMs share TP groups (MT): a group of an LLM with other instances hosts the "
         "others, and a plan from pooled groups is kept when its queueing estimate is higher"},
        {"score_time", 0, 1, 1, 1,
         "the greedy's cost of a candidate counts the device time it takes, not only memory"},
        {"contest", 0, 1000, 0, 5,
         "devices a service short of its demand contests are priced 1 + contest in two more "
         "plans, the one covering most demand kept (0: one plan)"},
        {"per_service", 0, 1, 1, 0,
         "objective: shares of each service's demand (1) or requests served (0)"},
        {NULL, 0, 0, 0, 0, NULL},
};

static int
ep_init(void *state, const ep_env *env, const ep_view *view, const ep_param *params, int n)
{
    (void)env;
    epara_state *st = state;
    if (view->sc->nservices > MAX_SVC)
        return EP_EINVAL;
    /* The host checked them already; a direct caller gets the same answer. */
    if (ep_param_check("epara", epara_params_decl, view->sc, params, n, NULL, 0))
        return EP_EINVAL;
    epara_params *p = &st->p;
#define PARAM(key) ep_param_value(epara_params_decl, params, n, key)
    p->categorize = PARAM("categorize") != 0;
    p->forward = PARAM("forward") != 0;
    p->mt = PARAM("mt") != 0;
    p->mf = PARAM("mf") != 0;
    p->parallel = PARAM("parallel") != 0;
    p->early_reject = PARAM("early_reject") != 0;
    p->edf = PARAM("edf") != 0;
    p->hysteresis = PARAM("hysteresis") != 0;
    p->link_aware = PARAM("link_aware") != 0;
    p->own_sent = PARAM("own_sent") != 0;
    p->inflow = PARAM("inflow") != 0;
    p->llm_forward = PARAM("llm_forward") != 0;
    p->kv_reserve = PARAM("kv_reserve") != 0;
    p->link_density = PARAM("link_density") != 0;
    p->tail_replica = PARAM("tail_replica") != 0;
    p->tail_factor = PARAM("tail_factor");
    p->tail_slack = PARAM("tail_slack");
    p->tp_gain = PARAM("tp_gain");
    p->link_margin = PARAM("link_margin");
    p->link_window = PARAM("link_window");
    p->max_hops = (int)PARAM("max_hops");
    p->alpha = PARAM("ewma_alpha");
    p->headroom = PARAM("headroom");
    p->extra = PARAM("extra");
    p->budget = PARAM("device_budget");
    p->tpot_admit = PARAM("tpot_admit") != 0;
    p->peak_weight = PARAM("peak_weight");
    p->peak_decay = PARAM("peak_decay");
    p->per_service = PARAM("per_service") != 0;
    p->score_time = PARAM("score_time") != 0;
    p->fill_idle = PARAM("fill_idle") != 0;
    p->contest = PARAM("contest");
    p->pool = PARAM("pool") != 0;
    p->mt_stretch = PARAM("mt_stretch") != 0;
    p->mt_plan = PARAM("mt_plan") != 0;
    p->drop_doomed = PARAM("drop_doomed") != 0;
#undef PARAM
    ep_link_adm_init(&st->link, view, p->link_margin, p->link_window);
    return 0;
}

/* --- categorizer ---------------------------------------------------------------------- */

static void
ep_categorize(void *state, const ep_view *view, int svc, ep_category *out)
{
    epara_state *st = state;
    ep_category_default(view, svc, out);
    if (!st->p.categorize) {
        out->sensitivity = EP_SENS_LATENCY;
        return;
    }
    if (out->multi_device)
        return;
    /* Multi-device also when no single device that holds it meets the SLO alone. */
    const ep_scenario *sc = view->sc;
    if (sc->services[svc].use_trace_exec)
        return;
    ep_instance_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.service = svc;
    sp.mode = EP_MODE_SINGLE;
    sp.ndev = 1;
    double mem = (double)ep_cost_instance_mem(sc, svc, 1);
    for (int d = 0; d < sc->ndevices; d++) {
        if (ep_pol_usable_mem(sc, d) < mem)
            continue;
        sp.devs[0] = d;
        if (ep_pol_capacity(view, &sp, NULL) > 0)
            return;
    }
    out->multi_device = 1;
}

/* --- allocator: candidate instances per category -------------------------------------- */

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

/* The capacity of candidate sp (ep_pol_capacity_at, lone for LLMs) slowed to
 * mt_levels[level] by co-located instances (level 0: alone), memoized where it does not
 * depend on which devices it is (SINGLE and TP; PP crosses links and is priced each
 * time). */
static double
cand_capacity(const ep_view *v, cands *cs, const ep_instance_spec *sp, int lone, int level,
              int *batch)
{
    const ep_scenario *sc = v->sc;
    int memo = sp->mode == EP_MODE_SINGLE || sp->mode == EP_MODE_TP;
    cap_memo key = {0};
    if (memo) {
        const ep_device *d = &sc->devices[sp->devs[0]];
        key = (cap_memo){sp->service,
                         (int)sp->mode,
                         sp->ndev,
                         d->spec,
                         sp->max_batch,
                         (int)sp->order,
                         level,
                         sp->mode == EP_MODE_TP ? sc->nodes[d->node].intra_bw_bytes_per_s : 0,
                         0,
                         0};
        for (int i = 0; i < cs->nmemo; i++) {
            const cap_memo *m = &cs->memo[i];
            if (m->service == key.service && m->mode == key.mode && m->ndev == key.ndev &&
                m->spec == key.spec && m->max_batch == key.max_batch && m->order == key.order &&
                m->level == key.level && m->intra_bw == key.intra_bw) {
                *batch = m->batch;
                return m->cap;
            }
        }
    }
    double cap = ep_pol_capacity_at(v, sp, mt_levels[level], -1, INFINITY, lone, batch, NULL);
    if (memo && cs->nmemo < CAP_MEMO) {
        key.cap = cap;
        key.batch = *batch;
        cs->memo[cs->nmemo++] = key;
    }
    return cap;
}

static void
cand_add(const epara_state *st, const ep_view *v, cands *cs, const ep_instance_spec *sp)
{
    if (cs->n >= cs->cap)
        return;
    int batch = 0;
    /* An LLM whose mean prompt leaves no room for queueing within the TTFT still serves one
     * request at a time (lone): a wider group may then serve more. */
    int llm = v->sc->services[sp->service].kind == EP_SVC_LLM;
    double cap = cand_capacity(v, cs, sp, llm, 0, &batch);
    if (cap <= 0)
        return;
    cand *c = &cs->c[cs->n++];
    c->spec = *sp;
    c->cap = c->full = cap;
    c->mem = (double)ep_cost_instance_mem(v->sc, sp->service, sp->ndev);
    const ep_service *svc = &v->sc->services[sp->service];
    if (st->p.kv_reserve && svc->kind == EP_SVC_LLM && svc->kv_bytes_per_token > 0) {
        /* The KV cache of the batch its capacity counts on, per device: co-located
         * instances share what their weights leave, and an instance packed in with no
         * room for its cache could hold no request (or only short ones). */
        double in = v->mean_input[sp->service], out = v->mean_output[sp->service];
        c->mem += (double)batch * (in + out) * (double)svc->kv_bytes_per_token / sp->ndev;
    }
    c->tail_only = 0;
    c->havek = 0;
}

static void
candidates_for(const epara_state *st, const ep_view *v, int s, cands *cs)
{
    const ep_scenario *sc = v->sc;
    const ep_category *cat = &v->cat[s];
    ep_instance_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.service = s;
    int freq = cat->sensitivity == EP_SENS_FREQUENCY;
    sp.order = freq || !st->p.edf ? EP_QUEUE_FIFO : EP_QUEUE_EDF;
    /* Frequency tasks batch several frames (MF) unless switched off. */
    sp.max_batch = freq && !st->p.mf ? 1 : 0;
    int llm = sc->services[s].kind == EP_SVC_LLM;
    double single[MAX_DEV] = {0}; /* capacity as a replica, per device */
    /* Single devices: for a single-device service, and for an LLM one device holds (the
     * greedy weighs a TP group against as many replicas by what each serves within the
     * SLO: a wide group prefills long prompts faster, replicas serve more of short ones). */
    if (!cat->multi_device || (llm && st->p.parallel)) {
        sp.mode = EP_MODE_SINGLE;
        sp.ndev = 1;
        for (int d = 0; d < sc->ndevices; d++) {
            sp.devs[0] = d;
            int before = cs->n;
            cand_add(st, v, cs, &sp);
            if (d < MAX_DEV && cs->n > before)
                single[d] = cs->c[cs->n - 1].cap;
        }
    }
    if (!st->p.parallel || (!cat->multi_device && !llm))
        return;
    /* TP inside a node: every aligned group of k devices of one node that holds it, for
     * every width k from 2 to the node's devices that is a power of two (a TP degree divides
     * the model's attention heads: 2, 4, 8 in practice, as AlpaServe's groups), and for
     * frequency tasks every width (PP stages split layers, any count). */
    for (int n = 0; n < sc->nnodes; n++) {
        const ep_node *nd = &sc->nodes[n];
        for (int k = 2; k <= nd->ndev && k <= EP_MAX_STAGE_DEVS; k += freq ? 1 : k) {
            if ((double)ep_cost_instance_mem(sc, s, k) > ep_pol_usable_mem(sc, nd->dev0))
                continue;
            sp.mode = freq ? EP_MODE_PP : EP_MODE_TP;
            sp.ndev = k;
            for (int g = 0; g + k <= nd->ndev; g += k) {
                for (int j = 0; j < k; j++)
                    sp.devs[j] = nd->dev0 + g + j;
                int before = cs->n;
                cand_add(st, v, cs, &sp);
                if (cs->n == before)
                    continue;
                /* TP width against replica count: the group earns its devices only when it
                 * serves more within the SLO than they would as replicas. */
                double as_replicas = 0;
                for (int j = 0; j < k; j++)
                    as_replicas += sp.devs[j] < MAX_DEV ? single[sp.devs[j]] : 0;
                cs->c[cs->n - 1].tail_only = !cat->multi_device && as_replicas > 0 &&
                                             cs->c[cs->n - 1].cap <= st->p.tp_gain * as_replicas;
            }
        }
    }
    if (!cat->multi_device)
        return;
    /* PP over the fewest devices that hold it, next to the TP groups (when the nodes that
     * can hold a TP group are taken, a pipeline over boards still serves): every pair and triple of
     * devices; beyond three stages, chains of consecutive devices in device order (a node's
     * devices are adjacent there, so chains cross as few links as they can). */
    int first = cs->n;
    for (int k = 2; k <= EP_MAX_STAGE_DEVS && cs->n == first; k++) {
        double need = (double)ep_cost_instance_mem(sc, s, k);
        sp.mode = EP_MODE_PP;
        if (k > 3) {
            int chain[EP_MAX_STAGE_DEVS], len = 0;
            for (int d = 0; d < sc->ndevices; d++) {
                if (ep_pol_usable_mem(sc, d) < need)
                    continue;
                if (len == k) { /* slide the window by one device */
                    memmove(chain, chain + 1, (size_t)(k - 1) * sizeof *chain);
                    len--;
                }
                chain[len++] = d;
                if (len == k) {
                    sp.ndev = k;
                    memcpy(sp.devs, chain, (size_t)k * sizeof *chain);
                    cand_add(st, v, cs, &sp);
                }
            }
            continue;
        }
        for (int a = 0; a < sc->ndevices; a++) {
            if (ep_pol_usable_mem(sc, a) < need)
                continue;
            for (int b = a + 1; b < sc->ndevices; b++) {
                if (ep_pol_usable_mem(sc, b) < need)
                    continue;
                sp.ndev = 2;
                sp.devs[0] = a;
                sp.devs[1] = b;
                if (k == 2) {
                    cand_add(st, v, cs, &sp);
                    continue;
                }
                for (int c = b + 1; c < sc->ndevices; c++) {
                    if (ep_pol_usable_mem(sc, c) < need)
                        continue;
                    sp.ndev = 3;
                    sp.devs[2] = c;
                    cand_add(st, v, cs, &sp);
                }
            }
        }
    }
}

/* --- state-aware scheduler ---------------------------------------------------------------- */

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

/* The busy shares of the instances on device d (at most MT_SLOTS) into u; returns how many. */
static int
dev_busy(const plan *pl, int d, double *u)
{
    int m = pl->count[d] < MT_SLOTS ? pl->count[d] : MT_SLOTS;
    for (int i = 0; i < m; i++)
        u[i] = pl->slot[(size_t)d * MT_SLOTS + (size_t)i].busy;
    return m;
}

/* Candidate c's capacity slowed to mt_levels[level], computed once per round and level. */
static double
cap_at_level(const ep_view *v, cands *cs, cand *c, int level)
{
    if (level <= 0)
        return c->full;
    if (level >= MT_LEVELS)
        return 0;
    if (!(c->havek & (1u << level))) {
        int batch = 0, llm = v->sc->services[c->spec.service].kind == EP_SVC_LLM;
        c->capk[level - 1] = cand_capacity(v, cs, &c->spec, llm, level, &batch);
        c->havek |= 1u << level;
    }
    return c->capk[level - 1];
}

/* The share of time candidate c is busy serving `serve` requests/s alone: its device time
 * for a DNN; for an LLM at least the time some request of it is decoding (continuous
 * batching runs an iteration whenever one is in flight: a few requests a second of a
 * chatbot keep it busy all the time). */
static double
busy_share(const ep_view *v, const cand *c, double serve)
{
    double u = c->full > 0 ? serve / c->full : 1;
    int s = c->spec.service;
    if (v->sc->services[s].kind == EP_SVC_LLM) {
        double in = ep_pol_mean_input(v, s), out = ep_pol_mean_output(v, s);
        double step =
                (double)ep_pol_llm_iteration(v, &c->spec, 0, 0, 1, (int64_t)(in + out / 2)) / 1e9;
        if (serve * out * step > u)
            u = serve * out * step;
    }
    return u < 1 ? u : 1;
}

/* The lowest level of mt_levels that covers slowdown factor slow (MT_LEVELS: none). */
static int
level_of(double slow)
{
    int level = 0;
    while (level < MT_LEVELS && mt_levels[level] * 1.02 < slow)
        level++;
    return level;
}

/* The slowdown level for one instance whose co-located instances are busy u[0..n-1] of
 * the time alone: the host slows k busy instances by ep_cost_mt_slowdown(k) (the
 * scenario's measured factors), and slowed work stays busy that much longer, so the
 * instances busy at once, k = 1 + sum min(1, u_j x slowdown(k)), are found by iterating
 * from k = 1 + sum u_j (the factors interpolated between whole k). */
static int
mt_level(const ep_view *v, const double *u, int n)
{
    if (n <= 0)
        return 0;
    double k = 1, slow = 1;
    for (int it = 0; it < 16; it++) {
        double next = 1;
        for (int j = 0; j < n; j++)
            next += fmin(1, u[j] * slow);
        int lo = (int)next;
        slow = ep_cost_mt_slowdown(v->sc, lo);
        if (next > lo)
            slow += (next - lo) * (ep_cost_mt_slowdown(v->sc, lo + 1) - slow);
        if (fabs(next - k) < 1e-3)
            break;
        k = next;
    }
    return level_of(slow);
}

/* MT as the host runs it (mt_plan): candidate c, serving `serve` requests/s, joins
 * devices that hold others only where it meets its own SLO at the slowdown their busy time
 * causes it and every instance there tolerates the slowdown it adds to theirs; *level gets
 * c's own level. Returns the requests/s it then serves within its SLO (its full capacity
 * when alone), 0 when it does not fit. Without mt_plan, device-time shares only. */
static double
mt_room(const epara_state *st, const ep_view *v, cands *cs, cand *c, const plan *pl, double serve,
        int *level)
{
    *level = 0;
    int shared = 0;
    for (int j = 0; j < c->spec.ndev; j++)
        shared |= pl->count[c->spec.devs[j]] > 0;
    if (!shared)
        return c->full;
    if (!st->p.mt)
        return 0;
    if (!st->p.mt_plan)
        return c->full;
    double u[MT_SLOTS + 1];
    for (int j = 0; j < c->spec.ndev; j++) {
        int d = c->spec.devs[j], m = pl->count[d];
        if (m == 0)
            continue;
        if (m >= MT_SLOTS)
            return 0;
        dev_busy(pl, d, u);
        int l = mt_level(v, u, m);
        if (l > *level)
            *level = l;
        /* The resident slowed most: the one whose own busy time counts least (dropped). */
        int least = 0;
        for (int i = 1; i < m; i++)
            if (u[i] < u[least])
                least = i;
        u[least] = busy_share(v, c, serve);
        if (mt_level(v, u, m) > pl->tol[d])
            return 0; /* too slow for an instance there */
    }
    return cap_at_level(v, cs, c, *level);
}

/* The supply candidate c adds to the plan if memory, the devices' time left and MT allow
 * (0: it does not fit); *use gets the device time it takes (for `want` requests/s, or all
 * it has when want is 0 or more than it serves), *level its slowdown level. */
static double
fit(const epara_state *st, const ep_view *v, cands *cs, cand *c, const plan *pl, double want,
    double *use, int *level)
{
    double b = 1.0;
    for (int j = 0; j < c->spec.ndev; j++) {
        int d = c->spec.devs[j];
        if (pl->freem[d] < c->mem)
            return 0;
        if (pl->budget[d] < b)
            b = pl->budget[d];
    }
    if (b < 0.05)
        return 0;
    double supply = c->cap * b;
    double lim = mt_room(st, v, cs, c, pl, want > 0 && want < supply ? want : supply, level);
    if (!(lim > 0))
        return 0;
    if (supply > lim)
        supply = lim;
    *use = want > 0 && want < supply ? want / c->cap : b;
    return supply;
}

/* Puts candidate c (index i) into the plan: its memory and device time taken, and with
 * mt_plan its busy time added and its devices' tolerance lowered to the highest slowdown
 * level (its own or more) at which it still serves `serve` requests/s within its SLO. */
static void
occupy(const epara_state *st, const ep_view *v, cands *cs, int i, plan *pl, double use,
       double serve, double gave, int level)
{
    cand *c = &cs->c[i];
    int tol = MT_LEVELS - 1;
    double u = 0;
    if (st->p.mt_plan && st->p.mt) {
        for (tol = level; tol + 1 < MT_LEVELS && cap_at_level(v, cs, c, tol + 1) >= serve;)
            tol++;
        u = busy_share(v, c, serve);
    }
    for (int j = 0; j < c->spec.ndev; j++) {
        int d = c->spec.devs[j];
        pl->freem[d] = pl->freem[d] > c->mem ? pl->freem[d] - c->mem : 0;
        pl->budget[d] -= use;
        if (pl->count[d] < MT_SLOTS)
            pl->slot[(size_t)d * MT_SLOTS + (size_t)pl->count[d]] =
                    (mt_slot){.busy = u, .serve = serve, .gave = gave, .who = i, .lvl = level};
        pl->count[d]++;
        if (tol < pl->tol[d])
            pl->tol[d] = tol;
    }
    pl->chosen[i] = 1;
}

/* Takes candidate i if it fits (fit); returns the supply it adds (0 when it does not fit).
 * An instance on a device already serving others gets only the device time left (MT);
 * without MT a device holds one instance. */
static double
take(const epara_state *st, const ep_view *v, cands *cs, int i, plan *pl, double want)
{
    double use = 0;
    int level = 0;
    double supply = fit(st, v, cs, &cs->c[i], pl, want, &use, &level);
    if (supply > 0)
        occupy(st, v, cs, i, pl, use, want > 0 && want < supply ? want : supply, supply, level);
    return supply;
}

/* Value of taking candidate c for a service that still wants `want` requests/s: its
 * weighted gain per unit of the memory it occupies (fractions of its devices). */
static double
cand_score(const epara_state *st, const ep_view *view, const cand *c, double want,
           const double *demand)
{
    const ep_scenario *sc = view->sc;
    int s = c->spec.service;
    double serve = c->cap < want ? c->cap : want;
    double gain = sc->services[s].weight * serve;
    if (st->p.per_service && demand[s] > 0)
        gain /= demand[s]; /* the share of the service's demand it covers */
    /* What it occupies on each device: the larger of its share of the memory and of the
     * device's time (serving `serve` requests/s of the `full` it sustains alone). */
    double timefrac = c->full > 0 && st->p.score_time ? serve / c->full : 0, cost = 0;
    for (int j = 0; j < c->spec.ndev; j++) {
        int d = c->spec.devs[j];
        double memfrac = c->mem / ep_pol_usable_mem(sc, d);
        cost += (memfrac > timefrac ? memfrac : timefrac) * (st->price ? st->price[d] : 1);
    }
    return gain / (cost + 1e-9);
}

typedef struct keep {
    int inst, cand;
    double score;
} keep;

static int
keep_cmp(const void *a, const void *b)
{
    const keep *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return x->inst - y->inst; /* deterministic among equals */
}

/* Keeps running instances of services whose supply is below mult x demand, the most
 * valuable first (as the greedy would order them), so a cheap instance sharing a device
 * with an expensive one is not crowded out by the order instances happen to be listed. */
static void
keep_running(const epara_state *st, const ep_view *view, cands *cs, plan *pl, const double *demand,
             double mult)
{
    int *chosen = pl->chosen;
    double *supply = pl->supply;
    double horizon = (double)view->placement_period / 1e9;
    keep *ks = calloc((size_t)view->ninst + 1, sizeof *ks);
    if (!ks)
        return; /* nothing kept: the greedy still places what is needed */
    int nk = 0;
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *iv = &view->inst[i];
        if (!iv->active || !view->node_up[iv->node])
            continue;
        for (int k = 0; k < cs->n; k++) {
            if (chosen[k] || cs->c[k].tail_only ||
                !ep_spec_same_instance(&cs->c[k].spec, &iv->spec))
                continue;
            int s = iv->spec.service;
            ks[nk++] = (keep){i, k, cand_score(st, view, &cs->c[k], demand[s] * mult, demand)};
            break;
        }
    }
    qsort(ks, (size_t)nk, sizeof *ks, keep_cmp);
    for (int j = 0; j < nk; j++) {
        const ep_instance_view *iv = &view->inst[ks[j].inst];
        int s = iv->spec.service, k = ks[j].cand;
        if (chosen[k] || (supply[s] > 0 && supply[s] >= demand[s] * mult))
            continue;
        double add = take(st, view, cs, k, pl, demand[s] * mult - supply[s]);
        if (add > 0) {
            double backlog = (double)iv->backlog / 1e9;
            double discount = horizon > 0 ? 1 - backlog / horizon : 1;
            supply[s] += add * (discount > 0.2 ? discount : 0.2);
        }
    }
    free(ks);
}

/* Adds the candidate with the largest weighted gain in min(mult x demand, supply) per unit
 * of memory it occupies (cost-benefit greedy for the knapsack constraints) until none
 * gains. */
static void
greedy(const epara_state *st, const ep_view *view, cands *cs, plan *pl, const double *demand,
       double mult)
{
    double *supply = pl->supply;
    for (;;) {
        int best = -1;
        double best_score = 0;
        for (int k = 0; k < cs->n; k++) {
            if (pl->chosen[k] || cs->c[k].tail_only)
                continue;
            cand *c = &cs->c[k];
            int s = c->spec.service;
            double want = demand[s] * mult - supply[s];
            if (want <= 0)
                continue;
            /* A device already partly planned offers only its remaining time (and, shared,
             * what the co-location slowdown leaves). */
            double use = 0;
            int level = 0;
            cand scaled = *c;
            scaled.cap = fit(st, view, cs, c, pl, want, &use, &level);
            if (!(scaled.cap > 0))
                continue;
            double score = cand_score(st, view, &scaled, want, demand);
            if (score > best_score) {
                best_score = score;
                best = k;
            }
        }
        if (best < 0)
            return;
        int s = cs->c[best].spec.service;
        supply[s] += take(st, view, cs, best, pl, demand[s] * mult - supply[s]);
        pl->chosen[best] = 1;
    }
}

/* Whether an instance of spec sp is running (active) now. */
static int
is_running(const ep_view *view, const ep_instance_spec *sp)
{
    for (int i = 0; i < view->ninst; i++)
        if (view->inst[i].active && ep_spec_same_instance(&view->inst[i].spec, sp))
            return 1;
    return 0;
}

/* Prefill time of a long prompt of `len` tokens on candidate c, or infinity when its KV
 * cache cannot hold the prompt. */
static double
long_prefill(const ep_view *view, const cand *c, double len)
{
    if ((double)ep_pol_kv_capacity(view, &c->spec) < len)
        return INFINITY;
    return (double)ep_pol_llm_iteration(view, &c->spec, (int64_t)len, len * len, 0, 0);
}

/* Long prompts. The greedy values LLM instances at the mean prompt, so a latency-sensitive
 * LLM service may end up only on instances that prefill a long prompt (tail_factor times
 * the mean) past its TTFT: slow embedded boards, or single GPUs where a TP group would be
 * twice as fast. It then gets one instance from the memory and time left that prefills it
 * fastest (a running one first, if within the TTFT): the router sends it the prompts no
 * other instance meets the TTFT for (it picks the earliest estimate). It plans a tenth of
 * the service's demand there and adds nothing to its planned supply. */
typedef struct tail_try {
    int k;
    double t;
    int run;
} tail_try;

static int
tail_try_cmp(const void *a, const void *b)
{
    const tail_try *x = a, *y = b;
    if (x->run != y->run)
        return y->run - x->run;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return x->k - y->k;
}

static void
tail_replicas(const epara_state *st, const ep_view *view, cands *cs, plan *pl, const double *demand)
{
    const int *chosen = pl->chosen;
    const ep_scenario *sc = view->sc;
    tail_try *try = malloc((size_t)(cs->n + 1) * sizeof *try);
    if (!try)
        return; /* no tail replica this round */
    for (int s = 0; s < sc->nservices; s++) {
        if (sc->services[s].kind != EP_SVC_LLM || view->cat[s].sensitivity == EP_SENS_FREQUENCY ||
            !(demand[s] > 0))
            continue;
        double len = st->p.tail_factor * view->mean_input[s];
        double ttft = (double)sc->services[s].slo.ttft, have = INFINITY;
        int placed = 0;
        for (int k = 0; k < cs->n; k++) {
            if (cs->c[k].spec.service != s || !chosen[k])
                continue;
            placed = 1;
            double t = long_prefill(view, &cs->c[k], len);
            if (t < have)
                have = t;
        }
        if (!placed || have <= ttft * st->p.tail_slack)
            continue; /* none placed (handled before), or one prefills long prompts already */
        /* The candidates that prefill it faster than what is placed, running ones within
         * the TTFT first, then the fastest (ties: candidate order): tried in that order until
         * one fits. */
        int n = 0;
        for (int k = 0; k < cs->n; k++) {
            if (chosen[k] || cs->c[k].spec.service != s)
                continue;
            double t = long_prefill(view, &cs->c[k], len);
            if (t < have)
                try[n++] = (tail_try){k, t, t <= ttft && is_running(view, &cs->c[k].spec)};
        }
        qsort(try, (size_t)n, sizeof *try, tail_try_cmp);
        for (int i = 0; i < n; i++)
            if (take(st, view, cs, try[i].k, pl, demand[s] * 0.1) > 0)
                break;
    }
    free(try);
}

/* Memory each device's chosen instances hold for their weights (wsum), its LLM instances
 * (nllm) and the largest KV per device any of them must keep (need): what pooling checks a
 * guest against, kept as guests are added. */
typedef struct dev_mem {
    double wsum, need;
    int nllm;
} dev_mem;

/* The KV per device that an LLM instance of spec sp keeps room for when pooled: two long
 * prompts (tail_factor x the mean, plus the mean output). */
static double
pool_need(const epara_state *st, const ep_view *view, const ep_instance_spec *sp)
{
    int t = sp->service;
    return 2 * (st->p.tail_factor * ep_pol_mean_input(view, t) + ep_pol_mean_output(view, t)) *
           (double)view->sc->services[t].kv_bytes_per_token / sp->ndev;
}

static void
dev_mem_add(const epara_state *st, const ep_view *view, dev_mem *dm, const ep_instance_spec *sp)
{
    int llm = view->sc->services[sp->service].kind == EP_SVC_LLM;
    double w = (double)ep_cost_instance_mem(view->sc, sp->service, sp->ndev);
    double need = llm ? pool_need(st, view, sp) : 0;
    for (int j = 0; j < sp->ndev; j++) {
        dev_mem *m = &dm[sp->devs[j]];
        m->wsum += w;
        m->nllm += llm;
        if (need > m->need)
            m->need = need;
    }
}

/* Pooling (MT for LLMs on a TP group): a TP group chosen for an LLM service that has other
 * instances too also hosts every other single-device latency LLM service with demand whose
 * weights fit beside it, as long as each LLM instance on its devices keeps the KV cache of
 * two long prompts (tail_factor x the mean) as the host splits the memory (what the weights
 * leave, in equal shares): a burst or a long prompt of either service is then prefilled at
 * the group's speed on every such group, not only on its own (statistical multiplexing). A
 * group that is its service's only instance is left to it: guests there would take the time
 * it has nowhere else to find. Linear in the candidates (one pass per chosen group). */
static void
pool(const epara_state *st, const ep_view *view, cands *cs, int *chosen, const double *demand)
{
    const ep_scenario *sc = view->sc;
    int n0 = cs->n, per_svc[MAX_SVC] = {0};
    dev_mem *dm = calloc((size_t)sc->ndevices + 1, sizeof *dm);
    if (!dm)
        return; /* no pooling: the placement stands as it is */
    for (int k = 0; k < n0; k++)
        if (chosen[k]) {
            per_svc[cs->c[k].spec.service]++;
            dev_mem_add(st, view, dm, &cs->c[k].spec);
        }
    for (int g = 0; g < n0; g++) {
        const cand *grp = &cs->c[g];
        if (chosen[g] != 1 || grp->spec.ndev < 2 || grp->spec.mode != EP_MODE_TP ||
            sc->services[grp->spec.service].kind != EP_SVC_LLM || per_svc[grp->spec.service] < 2)
            continue;
        for (int k = 0; k < n0; k++) {
            const cand *c = &cs->c[k];
            int b = c->spec.service;
            if (chosen[k] || c->spec.ndev != grp->spec.ndev || c->spec.mode != EP_MODE_TP ||
                c->spec.devs[0] != grp->spec.devs[0] || sc->services[b].kind != EP_SVC_LLM ||
                !(demand[b] > 0) || view->cat[b].sensitivity == EP_SENS_FREQUENCY ||
                view->cat[b].multi_device)
                continue;
            int ok = 1;
            double w = (double)ep_cost_instance_mem(sc, b, c->spec.ndev);
            double need = pool_need(st, view, &c->spec);
            for (int j = 0; j < c->spec.ndev && ok; j++) {
                int d = c->spec.devs[j];
                const dev_mem *m = &dm[d];
                ok = d == grp->spec.devs[j];
                double share = (ep_pol_usable_mem(sc, d) - m->wsum - w) / (m->nllm + 1);
                ok = ok && share >= need && share >= m->need;
            }
            if (!ok)
                continue;
            chosen[k] = 2; /* a guest: not a group others are pooled on */
            per_svc[b]++;
            dev_mem_add(st, view, dm, &c->spec);
        }
    }
    for (int k = 0; k < n0; k++)
        if (chosen[k] == 2)
            chosen[k] = 1;
    free(dm);
}

/* Devices left idle once demand is covered get an instance too: supply is an estimate (a
 * burst, a long prompt or a stale view can need more), and an idle device serves nothing.
 * Each round, the service with the least supply per unit of demand that has a candidate
 * on idle devices only takes its best-scoring one there (its requests spill over to it
 * when the others fall behind). */
static void
fill_idle(const epara_state *st, const ep_view *view, cands *cs, plan *pl, const double *demand)
{
    const int *chosen = pl->chosen, *count = pl->count;
    const double *freem = pl->freem;
    double *supply = pl->supply;
    for (;;) {
        int best = -1;
        double best_ratio = INFINITY, best_score = 0;
        for (int k = 0; k < cs->n; k++) {
            const cand *c = &cs->c[k];
            int s = c->spec.service, idle = 1;
            if (chosen[k] || c->tail_only || !(demand[s] > 0))
                continue;
            for (int j = 0; j < c->spec.ndev && idle; j++)
                idle = count[c->spec.devs[j]] == 0 && freem[c->spec.devs[j]] >= c->mem;
            if (!idle)
                continue;
            double ratio = supply[s] / demand[s];
            double score = cand_score(st, view, c, demand[s], demand);
            if (ratio < best_ratio || (ratio == best_ratio && score > best_score)) {
                best_ratio = ratio;
                best_score = score;
                best = k;
            }
        }
        if (best < 0)
            return;
        double add = take(st, view, cs, best, pl, 0);
        if (!(add > 0))
            return; /* cannot happen: it fits an idle device */
        supply[cs->c[best].spec.service] += add;
    }
}

/* Service s, with no instance, borrows from the KV reserves LLM instances planned (kv_reserve):
 * its best candidate (a running one first) whose devices keep, for every LLM instance on
 * them (itself included), the KV of two long prompts (what pooling keeps) once the host
 * splits the memory the weights leave. *dm: the chosen instances' weights and KV needs per
 * device, computed on first use. Returns 1 when it placed one. */
static int
borrow_kv(const epara_state *st, const ep_view *view, cands *cs, plan *pl, const double *demand,
          int s, dev_mem **dm)
{
    const ep_scenario *sc = view->sc;
    if (!*dm) {
        *dm = calloc((size_t)sc->ndevices + 1, sizeof **dm);
        if (!*dm)
            return 0; /* nothing borrowed this round */
        for (int k = 0; k < cs->n; k++)
            if (pl->chosen[k])
                dev_mem_add(st, view, *dm, &cs->c[k].spec);
    }
    int best = -1, best_run = 0, best_level = 0;
    double best_score = 0, best_cap = 0, best_b = 0;
    for (int k = 0; k < cs->n; k++) {
        cand *c = &cs->c[k];
        if (pl->chosen[k] || c->tail_only || c->spec.service != s)
            continue;
        int level = 0;
        /* Its weights (an LLM: and its own two long prompts, not its whole batch). */
        int llm = sc->services[s].kind == EP_SVC_LLM;
        double w = (double)ep_cost_instance_mem(sc, s, c->spec.ndev);
        double need = llm ? pool_need(st, view, &c->spec) : 0, b = 1.0;
        int ok = 1;
        for (int j = 0; j < c->spec.ndev && ok; j++) {
            int d = c->spec.devs[j];
            const dev_mem *m = &(*dm)[d];
            double left = ep_pol_usable_mem(sc, d) - m->wsum - w;
            int nllm = m->nllm + llm;
            ok = left >= 0 && (nllm == 0 || left / nllm >= (need > m->need ? need : m->need));
            if (pl->budget[d] < b)
                b = pl->budget[d];
        }
        if (!ok || b < 0.05)
            continue;
        double lim = mt_room(st, view, cs, c, pl, c->cap * b, &level);
        if (!(lim > 0))
            continue;
        int run = is_running(view, &c->spec);
        cand scaled = *c;
        scaled.cap = c->cap * b < lim ? c->cap * b : lim;
        double score = cand_score(st, view, &scaled, demand[s] > 0 ? demand[s] : c->cap, demand);
        if (best < 0 || run > best_run || (run == best_run && score > best_score)) {
            best = k;
            best_run = run;
            best_score = score;
            best_cap = scaled.cap;
            best_b = b;
            best_level = level;
        }
    }
    if (best < 0)
        return 0;
    occupy(st, view, cs, best, pl, best_b, best_cap, best_cap, best_level);
    pl->supply[s] += best_cap;
    dev_mem_add(st, view, *dm, &cs->c[best].spec);
    return 1;
}

/* What candidate c, carrying `load` requests/s, costs the instances on its devices
 * (mt_plan): for each resident, what it was planned to serve beyond what it keeps, its
 * supply scaled by its capacity at the slowdown level it reaches with c beside it over its
 * capacity at the level it was planned at. Counted per instance, not against its service's total:
 * requests go to the instances near them, not to a fluid pool. lost[r] gets the requests/s service
 * r loses. Returns 0 when a device holds no room for another instance (MT_SLOTS). */
static int
residents_loss(const ep_view *v, cands *cs, const cand *c, const plan *pl, double load,
               double *lost)
{
    double busy[MT_SLOTS], u[MT_SLOTS];
    int seen[EP_MAX_STAGE_DEVS * MT_SLOTS], nseen = 0;
    double uc = busy_share(v, c, load);
    for (int j = 0; j < c->spec.ndev; j++) {
        int d = c->spec.devs[j], m = pl->count[d];
        if (m >= MT_SLOTS)
            return 0;
        dev_busy(pl, d, busy);
        for (int i = 0; i < m; i++) {
            const mt_slot *sl = &pl->slot[(size_t)d * MT_SLOTS + (size_t)i];
            int dup = 0;
            for (int q = 0; q < nseen && !dup; q++)
                dup = seen[q] == sl->who;
            if (dup) /* a group across two of c's devices: counted once */
                continue;
            seen[nseen++] = sl->who;
            int n = 0;
            for (int q = 0; q < m; q++)
                if (q != i)
                    u[n++] = busy[q];
            u[n++] = uc;
            cand *r = &cs->c[sl->who];
            double was = cap_at_level(v, cs, r, sl->lvl);
            double now = cap_at_level(v, cs, r, mt_level(v, u, n));
            double keeps = was > 0 ? sl->gave * now / was : 0;
            if (keeps < sl->serve)
                lost[r->spec.service] += sl->serve - keeps;
        }
    }
    return 1;
}

/* The last resort for service s, still without an instance once every other step of the
 * plan is done and none fits the slowdown the others tolerate (mt_plan): the candidate
 * whose requests/s within its SLO outweigh what the instances beside it then lose (each
 * service weighted; residents_loss), a service left without an instance losing every
 * request. Returns 1 when it placed one. */
static int
slow_to_cover(const epara_state *st, const ep_view *view, cands *cs, plan *pl, const double *demand,
              int s)
{
    const ep_scenario *sc = view->sc;
    if (!st->p.mt || !st->p.mt_plan)
        return 0;
    int best = -1, best_level = 0;
    double best_net = 0, best_serve = 0, best_load = 0, best_b = 0, best_lost[MAX_SVC];
    double u[MT_SLOTS];
    for (int k = 0; k < cs->n; k++) {
        cand *c = &cs->c[k];
        if (pl->chosen[k] || c->tail_only || c->spec.service != s)
            continue;
        double b = 1.0;
        int level = 0, ok = 1;
        for (int j = 0; j < c->spec.ndev && ok; j++) {
            int d = c->spec.devs[j], m = pl->count[d];
            ok = pl->freem[d] >= c->mem && m < MT_SLOTS;
            if (pl->budget[d] < b)
                b = pl->budget[d];
            if (ok && m > 0) {
                int l = mt_level(view, u, dev_busy(pl, d, u));
                if (l > level)
                    level = l;
            }
        }
        if (!ok || b < 0.05)
            continue;
        /* It serves what its share of the device's time allows, but as the service's only
         * instance it gets all the demand: busy as long as that keeps it. Not where the
         * demand is more than it serves slowed: busy all the time, it would reject most of
         * what it gets and slow every resident by the full factor, more than their planned
         * busy shares tell. */
        double cap = cap_at_level(view, cs, c, level);
        double want = demand[s] > 0 ? demand[s] : cap;
        double serve = fmin(cap * b, want), load = want;
        double lost[MAX_SVC] = {0};
        if (!(serve > 0) || want > cap || !residents_loss(view, cs, c, pl, load, lost))
            continue;
        double net = sc->services[s].weight * serve;
        for (int r = 0; r < sc->nservices; r++)
            net -= sc->services[r].weight * lost[r];
        if (net > best_net) {
            best = k;
            best_net = net;
            best_serve = serve;
            best_load = load;
            best_b = b;
            best_level = level;
            memcpy(best_lost, lost, sizeof lost);
        }
    }
    if (best < 0)
        return 0;
    occupy(st, view, cs, best, pl, best_b, best_load, best_serve, best_level);
    pl->supply[s] += best_serve;
    for (int r = 0; r < sc->nservices; r++)
        pl->supply[r] = fmax(pl->supply[r] - best_lost[r], 0);
    return 1;
}

/* A service with no instance at all gets one before spare capacity is handed out: the first
 * of its candidates that fits the memory and time left; else (kv_reserve) one that borrows
 * from the KV reserves LLM instances planned there (borrow_kv). Without it a service placed
 * last (an image generator beside chat models, or an LLM behind a cheaper service) loses
 * every request to the headroom others planned. */
static void
cover_unserved(const epara_state *st, const ep_view *view, cands *cs, plan *pl,
               const double *demand)
{
    dev_mem *dm = NULL;
    for (int s = 0; s < view->sc->nservices; s++) {
        if (pl->supply[s] > 0)
            continue;
        int done = 0;
        for (int k = 0; k < cs->n && !done; k++) {
            if (pl->chosen[k] || cs->c[k].tail_only || cs->c[k].spec.service != s)
                continue;
            double add = take(st, view, cs, k, pl, 0);
            if (add > 0) {
                pl->supply[s] += add;
                done = 1;
            }
        }
        if (!done && st->p.kv_reserve)
            borrow_kv(st, view, cs, pl, demand, s, &dm);
    }
    free(dm);
}

static void
plan_free(plan *pl)
{
    free(pl->chosen);
    free(pl->count);
    free(pl->tol);
    free(pl->freem);
    free(pl->budget);
    free(pl->slot);
    memset(pl, 0, sizeof *pl);
}

/* An empty plan over every device. A device on a node that is down, or cut off by its
 * uplink, takes no new instance: the scheduler's view says so (a crash or a link failure).
 * Running instances there are not kept either (keep_running). When the view has no node up
 * at all, it knows nothing (a testbed's controller that hears no state message takes every
 * node for silent): the placement then ignores it rather than retire everything. */
static int
plan_init(const epara_state *st, const ep_view *view, int ncand, plan *pl)
{
    const ep_scenario *sc = view->sc;
    memset(pl, 0, sizeof *pl);
    pl->chosen = calloc((size_t)ncand + 1, sizeof *pl->chosen);
    pl->count = calloc((size_t)sc->ndevices + 1, sizeof *pl->count);
    pl->tol = calloc((size_t)sc->ndevices + 1, sizeof *pl->tol);
    pl->freem = calloc((size_t)sc->ndevices + 1, sizeof *pl->freem);
    pl->budget = calloc((size_t)sc->ndevices + 1, sizeof *pl->budget);
    pl->slot = calloc((size_t)(sc->ndevices + 1) * MT_SLOTS, sizeof *pl->slot);
    if (!pl->chosen || !pl->count || !pl->tol || !pl->freem || !pl->budget || !pl->slot) {
        plan_free(pl);
        return EP_ENOMEM;
    }
    int any_up = 0;
    for (int n = 0; n < sc->nnodes && !any_up; n++)
        any_up = !view->node_up || view->node_up[n];
    for (int d = 0; d < sc->ndevices; d++) {
        const ep_node *nd = &sc->nodes[sc->devices[d].node];
        int node = sc->devices[d].node;
        int usable = !any_up || ((!view->node_up || view->node_up[node]) &&
                                 (!view->link_up || view->link_up[nd->link]));
        pl->freem[d] = usable ? ep_pol_usable_mem(sc, d) : 0;
        pl->budget[d] = usable ? (st->p.mt ? st->p.budget : 1.0) : 0;
        pl->tol[d] = MT_LEVELS - 1;
    }
    return 0;
}

/* The first round of a plan: running instances that are still useful are kept first
 * (hysteresis: a move costs a model load), their supply discounted by the backlog they
 * carry (state-aware), then the greedy adds instances until the forecast demand (x
 * headroom) of every service is covered, then a service with no instance gets one. Returns
 * the weighted demand covered, sum_s w_s min(demand_s, supply_s). */
static double
plan_cover(const epara_state *st, const ep_view *view, cands *cs, plan *pl, const double *demand)
{
    if (st->p.hysteresis && st->placed_once)
        keep_running(st, view, cs, pl, demand, 1.0);
    greedy(st, view, cs, pl, demand, 1.0);
    cover_unserved(st, view, cs, pl, demand);
    double covered = 0;
    for (int s = 0; s < view->sc->nservices; s++)
        covered += view->sc->services[s].weight *
                   (pl->supply[s] < demand[s] ? pl->supply[s] : demand[s]);
    return covered;
}

/* Devices contested by a service short of its demand: those where one of its candidates
 * did not fit the memory or time the plan left (all = 0), or every device of its
 * candidates once one did not fit (all = 1: also those it holds, so that others move off
 * them). They get price 1 + contest (the others 1); returns how many. The greedy values a
 * share of a device at its price, so a service that runs almost as well elsewhere (frames
 * on embedded boards) leaves such devices to one that has nowhere else to go (an image
 * generator only a large GPU serves in time), which a greedy by gain per share alone
 * never does. */
static int
contested(const epara_state *st, const ep_view *view, cands *cs, const plan *pl,
          const double *demand, int all, double *price)
{
    const ep_scenario *sc = view->sc;
    int n = 0, blocked[MAX_SVC] = {0};
    for (int d = 0; d < sc->ndevices; d++)
        price[d] = 1;
    for (int k = 0; k < cs->n; k++) {
        cand *c = &cs->c[k];
        int s = c->spec.service;
        if (pl->chosen[k] || c->tail_only || !(pl->supply[s] < 0.99 * demand[s]))
            continue;
        int level = 0;
        int shares = mt_room(st, view, cs, c, pl, c->cap, &level) > 0;
        for (int j = 0; j < c->spec.ndev; j++) {
            int d = c->spec.devs[j];
            if (shares && pl->freem[d] >= c->mem && pl->budget[d] >= 0.05)
                continue;
            blocked[s] = 1;
            if (!all && price[d] == 1) {
                price[d] = 1 + st->p.contest;
                n++;
            }
        }
    }
    for (int k = 0; k < cs->n && all; k++) {
        const cand *c = &cs->c[k];
        if (c->tail_only || !blocked[c->spec.service])
            continue;
        for (int j = 0; j < c->spec.ndev; j++)
            if (price[c->spec.devs[j]] == 1) {
                price[c->spec.devs[j]] = 1 + st->p.contest;
                n++;
            }
    }
    return n;
}

/* --- pooled plan: latency LLMs sharing TP groups ------------------------------------------ */

/* The fluid greedy values an instance by the requests/s it serves, so it covers each latency
 * LLM service with the fewest, most nearly saturated instances: one TP group for a document
 * model, single GPUs for a small one. Under bursty arrivals and heavy-tailed prompts a
 * request's wait for prefill is what misses the TTFT, and it falls with the speed of the
 * queue it joins, not only with its load: two TP groups that each serve both services are one
 * queue twice as fast for either (statistical multiplexing, as AlpaServe places models).
 * The scheduler therefore builds a second plan that starts from such pooled groups and
 * keeps the one whose expected SLO-meeting requests (below) are higher. */

/* The slowdown level at which k instances busy at once on a device run. */
static int
busy_level(const ep_view *view, int k)
{
    return level_of(k > 1 ? ep_cost_mt_slowdown(view->sc, k) : 1);
}

/* Whether s is a latency LLM with demand: what pooled groups serve. */
static int
poolable(const ep_view *view, int s, const double *demand)
{
    return view->sc->services[s].kind == EP_SVC_LLM && demand[s] > 0 &&
           view->cat[s].sensitivity != EP_SENS_FREQUENCY;
}

/* The representative of service a's pool (union-find over services, root[a] == a). */
static int
pool_root(int *root, int a)
{
    while (root[a] != a)
        a = root[a] = root[root[a]];
    return a;
}

/* Expected requests/s meeting the SLO of the latency LLM services under plan pl (the
 * others count their covered demand, as plan_cover does; -1: out of memory). Each instance
 * runs slowed by the instances sharing its devices, each busy for its share of its
 * service's forecast (mt_level). The services whose instances share a device, directly or
 * through another service, form one prefill queue: with P_s the prompts/s all of s's
 * instances prefill (mean prompt, slowed), its load is rho = sum lam_s / P_s and its wait an
 * M/G/1's with exponential prefills per service, P(W > t) = rho exp(-theta t), theta =
 * rho (1 - rho) / sum lam_s / P_s^2. A request of s sent to instance i (in proportion to
 * its slowed capacity) meets its TTFT when its prefill p_i (exponential) and its wait fit
 * in it. Rough, but it ranks a plan by what its queues' speed does to the tail, which the
 * fluid supply does not see. */
static double
plan_value(const epara_state *st, const ep_view *view, cands *cs, const plan *pl,
           const double *demand)
{
    const ep_scenario *sc = view->sc;
    int ns = sc->nservices, root[MAX_SVC], nch = 0;
    double cap[MAX_SVC] = {0}, lam[MAX_SVC] = {0}, full[MAX_SVC] = {0}, value = 0;
    double prate[MAX_SVC] = {0}; /* prompts/s its instances prefill, all busy */
    int *ch = malloc((size_t)(cs->n + 1) * sizeof *ch);
    int *dev_svc = malloc((size_t)(sc->ndevices + 1) * sizeof *dev_svc);
    double *icap = malloc((size_t)(cs->n + 1) * sizeof *icap);
    double *busy = malloc((size_t)(cs->n + 1) * sizeof *busy);
    double *pre = malloc((size_t)(cs->n + 1) * sizeof *pre);
    if (!ch || !dev_svc || !icap || !busy || !pre) {
        value = -1;
        goto done;
    }
    for (int s = 0; s < ns; s++) {
        root[s] = s;
        lam[s] = st->forecast[s] > 0 ? st->forecast[s] : demand[s];
    }
    for (int k = 0; k < cs->n; k++)
        if (pl->chosen[k]) {
            ch[nch++] = k;
            full[cs->c[k].spec.service] += cs->c[k].full;
        }
    /* Each instance busy for its share of its service's forecast (split by capacity). */
    for (int i = 0; i < nch; i++) {
        const cand *c = &cs->c[ch[i]];
        int s = c->spec.service;
        busy[i] = full[s] > 0 ? busy_share(view, c, lam[s] * c->full / full[s]) : 0;
    }
    for (int d = 0; d < sc->ndevices; d++)
        dev_svc[d] = -1;
    for (int i = 0; i < nch; i++) {
        int k = ch[i];
        cand *c = &cs->c[k];
        int s = c->spec.service, level = 0;
        if (!poolable(view, s, demand))
            continue;
        /* Slowed as the host slows it by the instances sharing its devices, each busy for
         * its share (mt_level; guests count, which plan slots do not hold). */
        for (int j = 0; j < c->spec.ndev; j++) {
            double u[MT_SLOTS];
            int m = 0, d = c->spec.devs[j];
            for (int o = 0; o < nch && m < MT_SLOTS; o++) {
                const ep_instance_spec *os = &cs->c[ch[o]].spec;
                for (int q = 0; q < os->ndev && o != i; q++)
                    if (os->devs[q] == d) {
                        u[m++] = busy[o];
                        break;
                    }
            }
            int l = mt_level(view, u, m);
            if (l > level)
                level = l;
        }
        icap[k] = cap_at_level(view, cs, c, level);
        cap[s] += icap[k];
        pre[k] = long_prefill(view, c, ep_pol_mean_input(view, s)) / 1e9 *
                 mt_levels[level < MT_LEVELS ? level : MT_LEVELS - 1];
        if (icap[k] > 0 && pre[k] > 0)
            prate[s] += 1 / pre[k];
        for (int j = 0; j < c->spec.ndev; j++) {
            int d = c->spec.devs[j], a, b;
            if (dev_svc[d] < 0) {
                dev_svc[d] = s;
                continue;
            }
            a = pool_root(root, s);
            b = pool_root(root, dev_svc[d]);
            root[a > b ? a : b] = a < b ? a : b;
        }
    }
    /* Per pool: its load and sum lam_s / P_s^2, whose ratio sets the M/G/1 wait. */
    double rho[MAX_SVC] = {0}, lm2[MAX_SVC] = {0};
    for (int s = 0; s < ns; s++) {
        root[s] = pool_root(root, s);
        if (!poolable(view, s, demand)) {
            value += sc->services[s].weight *
                     (pl->supply[s] < demand[s] ? pl->supply[s] : demand[s]);
            continue;
        }
        if (prate[s] > 0) {
            rho[root[s]] += lam[s] / prate[s];
            lm2[root[s]] += lam[s] / (prate[s] * prate[s]);
        }
    }
    double met[MAX_SVC] = {0};
    for (int i = 0; i < nch; i++) {
        int k = ch[i];
        const cand *c = &cs->c[k];
        int s = c->spec.service;
        if (!poolable(view, s, demand) || !(cap[s] > 0) || !(icap[k] > 0))
            continue;
        double r = rho[root[s]] < 0.999 ? rho[root[s]] : 0.999;
        double theta = lm2[root[s]] > 0 ? r * (1 - r) / lm2[root[s]] : INFINITY;
        double ttft = (double)sc->services[s].slo.ttft / 1e9;
        double p = pre[k];
        double slack = ttft > p ? ttft - p : 0;
        double ok = (p > 0 ? 1 - exp(-ttft / p) : 1) * (1 - r * exp(-theta * slack));
        met[s] += icap[k] / cap[s] * ok;
    }
    for (int s = 0; s < ns; s++)
        if (poolable(view, s, demand))
            value += sc->services[s].weight * (lam[s] < cap[s] ? lam[s] : cap[s]) * met[s];
done:
    free(ch);
    free(dev_svc);
    free(icap);
    free(busy);
    free(pre);
    return value;
}

/* A TP device group and the latency LLM services it can host together. */
typedef struct pgroup {
    int k[MAX_SVC]; /* the candidate of each member on the group's devices */
    int n;          /* members */
    double work;    /* sum over members of lam_s / (their capacity there): lower = faster */
} pgroup;

/* The members of the TP group of candidate g: latency LLM services with demand that have a
 * TP candidate on the same devices, the most work first, as long as every LLM instance
 * there keeps the KV of two long prompts once the host splits what the weights leave (as
 * pool does). */
static void
pgroup_members(const epara_state *st, const ep_view *view, cands *cs, int g, const double *demand,
               pgroup *pg)
{
    const ep_scenario *sc = view->sc;
    const ep_instance_spec *gs = &cs->c[g].spec;
    int kk[MAX_SVC], n = 0;
    for (int k = 0; k < cs->n; k++) {
        const ep_instance_spec *sp = &cs->c[k].spec;
        if (sp->mode != EP_MODE_TP || sp->ndev != gs->ndev ||
            memcmp(sp->devs, gs->devs, (size_t)gs->ndev * sizeof *sp->devs) != 0 ||
            !poolable(view, sp->service, demand) || n >= MAX_SVC)
            continue;
        kk[n++] = k;
    }
    /* Most work first (insertion sort: a handful of services). */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0; j--) {
            const cand *a = &cs->c[kk[j - 1]], *b = &cs->c[kk[j]];
            double wa = st->forecast[a->spec.service] / a->full;
            double wb = st->forecast[b->spec.service] / b->full;
            if (wb <= wa)
                break;
            int t = kk[j];
            kk[j] = kk[j - 1];
            kk[j - 1] = t;
        }
    pg->n = 0;
    pg->work = 0;
    double wsum = 0, need = 0;
    for (int i = 0; i < n; i++) {
        const cand *c = &cs->c[kk[i]];
        double w = (double)ep_cost_instance_mem(sc, c->spec.service, c->spec.ndev);
        double nd = pool_need(st, view, &c->spec);
        double nmax = nd > need ? nd : need;
        int ok = 1, level = busy_level(view, pg->n + 1);
        for (int j = 0; j < gs->ndev && ok; j++)
            ok = (ep_pol_usable_mem(sc, gs->devs[j]) - wsum - w) / (pg->n + 1) >= nmax;
        /* Every member still meets its SLO with all of them busy at once. */
        ok = ok && cap_at_level(view, cs, &cs->c[kk[i]], level) > 0;
        for (int m = 0; m < pg->n && ok; m++)
            ok = cap_at_level(view, cs, &cs->c[pg->k[m]], level) > 0;
        if (!ok)
            continue;
        wsum += w;
        need = nmax;
        pg->k[pg->n++] = kk[i];
        pg->work += st->forecast[c->spec.service] / c->full;
    }
}

/* Plan pl (empty) starts from pooled TP groups of `width` devices: disjoint groups with two
 * or more members, the most members then the fastest first, until the pooled load of their services
 * falls to 1 / extra (the share of spare capacity the greedy hands out) or none is left; each
 * group's first member takes its devices (the host), the others join it as guests (memory
 * only, as pool places them) and every member's supply grows by its share of the group's
 * time (in proportion to its work). Then the greedy covers the rest. Returns the groups
 * placed (0: no pooled plan). */
static int
pooled_tp(const ep_view *view, const cand *c, const double *demand, int width)
{
    return c->spec.mode == EP_MODE_TP && c->spec.ndev == width &&
           poolable(view, c->spec.service, demand);
}

static int
plan_pooled(const epara_state *st, const ep_view *view, cands *cs, plan *pl, const double *demand,
            int width)
{
    const ep_scenario *sc = view->sc;
    int n = 0, npool = 0, ntp = 0;
    for (int g = 0; g < cs->n; g++)
        ntp += pooled_tp(view, &cs->c[g], demand, width);
    if (ntp == 0)
        return 0;
    pgroup *pg = malloc((size_t)ntp * sizeof *pg);
    if (!pg)
        return 0;
    for (int g = 0; g < cs->n; g++) {
        if (!pooled_tp(view, &cs->c[g], demand, width))
            continue;
        pgroup_members(st, view, cs, g, demand, &pg[n]);
        if (pg[n].n < 2 || pg[n].k[0] != g)
            continue; /* one entry per device group: the one its first member names */
        n++;
    }
    double cap[MAX_SVC] = {0};
    for (;;) {
        double rho = 0;
        for (int s = 0; s < sc->nservices; s++)
            if (cap[s] > 0)
                rho += st->forecast[s] / cap[s];
        if (npool > 0 && rho <= 1 / st->p.extra)
            break;
        int best = -1;
        for (int i = 0; i < n; i++) {
            const ep_instance_spec *sp = &cs->c[pg[i].k[0]].spec;
            int open = pg[i].n > 0;
            for (int j = 0; j < sp->ndev && open; j++)
                open = pl->count[sp->devs[j]] == 0 && pl->freem[sp->devs[j]] > 0;
            if (open && (best < 0 || pg[i].n > pg[best].n ||
                         (pg[i].n == pg[best].n && pg[i].work < pg[best].work)))
                best = i;
        }
        if (best < 0)
            break;
        const pgroup *b = &pg[best];
        if (!(take(st, view, cs, b->k[0], pl, 0) > 0)) {
            pg[best].n = 0; /* does not fit after all: never again */
            continue;
        }
        npool++;
        for (int i = 0; i < b->n; i++) {
            const cand *c = &cs->c[b->k[i]];
            int s = c->spec.service;
            double share = b->work > 0 ? st->forecast[s] / c->full / b->work : 1.0 / b->n;
            pl->supply[s] += c->full * share;
            cap[s] += c->full;
            if (i == 0)
                continue;
            pl->chosen[b->k[i]] = 1;
            double w = (double)ep_cost_instance_mem(sc, s, c->spec.ndev);
            for (int j = 0; j < c->spec.ndev; j++) {
                double *fm = &pl->freem[c->spec.devs[j]];
                *fm = *fm > w ? *fm - w : 0;
            }
        }
    }
    free(pg);
    if (npool > 0)
        plan_cover(st, view, cs, pl, demand);
    return npool;
}

static int
ep_place(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    (void)env;
    epara_state *st = state;
    const ep_scenario *sc = view->sc;
    int ns = sc->nservices;
    /* Demand forecast: EWMA of the period rates, raised toward the recent peak for bursty
     * services (the peak decays by peak_decay per period). */
    for (int s = 0; s < ns; s++) {
        double r = view->oracle_rate ? view->oracle_rate[s] : view->rate[s];
        st->forecast[s] =
                st->have_forecast ? st->p.alpha * r + (1 - st->p.alpha) * st->forecast[s] : r;
        st->peak[s] = r > st->peak[s] * st->p.peak_decay ? r : st->peak[s] * st->p.peak_decay;
        double burst = st->p.peak_weight * st->peak[s] + (1 - st->p.peak_weight) * st->forecast[s];
        if (burst > st->forecast[s] && !view->oracle_rate)
            st->forecast[s] = burst;
    }
    st->have_forecast = 1;
    static const cands none; /* the memo starts empty */
    cands cs = none;
    /* Not zeroed: cand_add writes every field of the entries below cs.n, the only ones read
     * (zeroing 65,536 candidates every round was a tenth of a default-scenario run). */
    cs.c = malloc(MAX_CAND * sizeof(cand));
    cs.cap = MAX_CAND;
    plan a = {0}, b = {0};
    double *price = calloc((size_t)sc->ndevices + 1, sizeof *price);
    int rc = 0;
    if (!cs.c || !price) {
        rc = EP_ENOMEM;
        goto done;
    }
    for (int s = 0; s < ns; s++)
        candidates_for(st, view, s, &cs);
    if ((rc = plan_init(st, view, cs.n, &a)) != 0)
        goto done;
    double demand[MAX_SVC] = {0};
    for (int s = 0; s < ns; s++)
        demand[s] = st->forecast[s] * st->p.headroom;
    /* First cover the forecast demand; where a service fell short on devices others took,
     * plan again with those devices priced higher and keep the plan covering more. */
    st->price = NULL;
    double covered = plan_cover(st, view, &cs, &a, demand);
    for (int all = 0; all <= 1 && st->p.contest > 0; all++) {
        plan_free(&b);
        if (contested(st, view, &cs, &a, demand, all, price) == 0)
            continue;
        if ((rc = plan_init(st, view, cs.n, &b)) != 0)
            goto done;
        st->price = price;
        double more = plan_cover(st, view, &cs, &b, demand);
        st->price = NULL;
        if (more > covered * (1 + 1e-9)) {
            plan t = a;
            a = b;
            b = t;
            covered = more;
        }
    }
    /* A plan from pooled TP groups instead, of the group width whose plan serves the most
     * within the SLO, when it serves more than the greedy's (the kind of plan kept last
     * round needs to lose by 2% to be replaced: a move costs model loads). */
    if (st->p.pool) {
        double va = plan_value(st, view, &cs, &a, demand), vbest = -1;
        int wbest = 0;
        for (int w = 2; w <= EP_MAX_STAGE_DEVS && va >= 0; w++) {
            int any = 0;
            for (int k = 0; k < cs.n && !any; k++)
                any = pooled_tp(view, &cs.c[k], demand, w);
            if (!any)
                continue;
            plan_free(&b);
            if ((rc = plan_init(st, view, cs.n, &b)) != 0)
                goto done;
            if (plan_pooled(st, view, &cs, &b, demand, w) == 0)
                continue;
            double vb = plan_value(st, view, &cs, &b, demand);
            if (vb > vbest) {
                vbest = vb;
                wbest = w;
            }
        }
        int use = wbest > 0 && (st->pooled ? vbest >= va * 0.98 : vbest > va * 1.02);
        if (use) {
            plan_free(&b);
            if ((rc = plan_init(st, view, cs.n, &b)) != 0)
                goto done;
            plan_pooled(st, view, &cs, &b, demand, wbest);
            plan t = a;
            a = b;
            b = t;
        }
        st->pooled = use;
    }
    /* Then hand out spare capacity up to `extra` times demand (running instances first),
     * a replica for long prompts, idle devices, pooling. */
    if (st->p.hysteresis && st->placed_once)
        keep_running(st, view, &cs, &a, demand, st->p.extra);
    greedy(st, view, &cs, &a, demand, st->p.extra);
    if (st->p.tail_replica)
        tail_replicas(st, view, &cs, &a, demand);
    if (st->p.fill_idle)
        fill_idle(st, view, &cs, &a, demand);
    /* A service still without an instance (a bursty code model beside busy frames). */
    for (int s = 0; s < ns; s++)
        if (!(a.supply[s] > 0))
            slow_to_cover(st, view, &cs, &a, demand, s);
    /* After fill_idle: the guests take no device, only the memory the host splits. */
    if (st->p.pool)
        pool(st, view, &cs, a.chosen, demand);
    for (int k = 0; k < cs.n && !rc; k++)
        if (a.chosen[k])
            rc = ep_placement_add(out, &cs.c[k].spec);
    /* MT: instances sharing a device run concurrently on it (the host applies the mode). */
    if (!rc)
        ep_placement_mark_mt(out);
    st->placed_once = 1;
done:
    st->price = NULL;
    free(cs.c);
    free(price);
    plan_free(&a);
    plan_free(&b);
    return rc;
}

/* --- request router --------------------------------------------------------------------- */

/* The entry of instance iv in this node's notes of what it sent. */
static sent_work *
sent_slot(epara_state *st, const ep_instance_view *iv)
{
    return iv->id < 0 ? NULL : &st->sent[iv->id % SENT_SLOTS];
}

static ep_dur
sent_since_sync(epara_state *st, const ep_view *view, const ep_request_info *req, int i)
{
    const ep_instance_view *iv = &view->inst[i];
    if (!st->p.own_sent || iv->node == req->at_node ||
        view->sc->services[iv->spec.service].kind != EP_SVC_LLM)
        return 0;
    sent_work *w = sent_slot(st, iv);
    return w && w->inst == iv->id + 1 && w->synced_at == iv->synced_at ? w->work : 0;
}

static void
note_sent(epara_state *st, const ep_view *view, const ep_request_info *req, int id)
{
    if (!st->p.own_sent || view->sc->services[req->service].kind != EP_SVC_LLM)
        return;
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *iv = &view->inst[i];
        if (iv->id != id)
            continue;
        sent_work *w = sent_slot(st, iv);
        if (!w || iv->node == req->at_node)
            return;
        if (w->inst != iv->id + 1 || w->synced_at != iv->synced_at)
            *w = (sent_work){iv->id + 1, iv->synced_at, 0};
        w->work += ep_pol_llm_iteration(view, &iv->spec, req->input,
                                        (double)req->input * (double)req->input, 0, 0);
        return;
    }
}

/* Counts the busy ready instances of each device for this route call (none when the
 * scenario has more devices than the table). */
static void
busy_devices(epara_state *st, const ep_view *view, int on)
{
    st->busy_valid = 0;
    if (!on || view->sc->ndevices > MAX_DEV)
        return;
    memset(st->busy_dev, 0, (size_t)view->sc->ndevices * sizeof *st->busy_dev);
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *o = &view->inst[i];
        if (o->ready && o->running > 0)
            for (int d = 0; d < o->spec.ndev; d++)
                st->busy_dev[o->spec.devs[d]]++;
    }
    st->busy_valid = 1;
}

/* Whether another busy ready instance may share a device with iv (1 when unknown): else
 * ep_pol_mt_stretch would find none. */
static int
shares_busy_device(const epara_state *st, const ep_instance_view *iv)
{
    if (!st->busy_valid)
        return 1;
    int self = iv->ready && iv->running > 0;
    for (int d = 0; d < iv->spec.ndev; d++)
        if (st->busy_dev[iv->spec.devs[d]] > self)
            return 1;
    return 0;
}

/* Estimated completion on instance i: ep_pol_estimate plus, when the request has to leave
 * this node, the wait behind what this node's uplink still has to send (its own NIC queue:
 * a burst of frames on a slow link would otherwise be sent to miss their deadlines). */
static ep_time
estimate(epara_state *st, const ep_view *view, const ep_env *env, const ep_request_info *req, int i)
{
    const ep_instance_view *iv = &view->inst[i];
    ep_time t = ep_pol_estimate(view, env, req, i) + sent_since_sync(st, view, req, i);
    if (st->p.mt_stretch && shares_busy_device(st, iv)) {
        /* co-located instances busy now slow this one's work down */
        double f = ep_pol_mt_stretch(view, iv);
        if (f > 1) {
            ep_dur move = view->delay(view, req->at_node, iv->node, req->bytes);
            t = env->now + move + ep_round_i64((double)(t - env->now - move) * f);
        }
    }
    if (st->p.inflow && iv->node != req->at_node && iv->id >= 0 && iv->id < MAX_INST &&
        st->admit_rate[iv->id] > 0 && view->sc->services[iv->spec.service].kind == EP_SVC_LLM) {
        /* Its synced backlog has drained since, but requests kept arriving from every node
         * at the rate the instance admits: their prefills, at the service's mean prompt. */
        double in = view->mean_input[iv->spec.service];
        double p = (double)ep_pol_llm_iteration(view, &iv->spec, (int64_t)in, in * in, 0, 0);
        /* At most one sync period's worth: a view older than that is stale because state
         * messages are being lost or delayed, and what the instance did since is unknown
         * (its node, which the prompt is forwarded to, decides on its current state). */
        ep_dur age = env->now - iv->synced_at;
        if (age > view->sync_period && view->sync_period > 0)
            age = view->sync_period;
        double since = (double)age / 1e9;
        t += (ep_dur)(since * st->admit_rate[iv->id] * p);
    }
    if (st->p.link_aware && iv->node != req->at_node)
        t += ep_link_adm_wait(&st->link, view, env->now, req->at_node);
    return t;
}

/* Whether LLM instance iv already holds as many requests as it can run within the TPOT
 * SLO at the rate its service's requests now arrive at each of its `n` instances (adding
 * one more would slow every running request past it). Cached per instance until that
 * rate changes. */
static int
full(epara_state *st, const ep_view *view, const ep_instance_view *iv, int n)
{
    if (iv->id < 0 || iv->id >= MAX_INST)
        return 0;
    int s = iv->spec.service;
    double lambda = n > 0 ? view->rate[s] / n : view->rate[s];
    if (st->tpot_batch[iv->id] == 0 || st->tpot_rate[iv->id] != lambda) {
        /* Prefills interleave at the rate the instance admits, which is at most what it
         * sustains within the SLO: under overload the excess is rejected, not prefilled
         * (with the offered rate the limit would fall to one request and throughput
         * collapse exactly when it is needed). */
        double cap = ep_pol_capacity(view, &iv->spec, NULL);
        double admit = cap > 0 && lambda > cap ? cap : lambda;
        st->tpot_batch[iv->id] = ep_pol_llm_batch_limit(view, &iv->spec, admit);
        st->tpot_rate[iv->id] = lambda;
        st->admit_rate[iv->id] = admit;
    }
    return iv->running + iv->queued >= st->tpot_batch[iv->id];
}

/* Frame-level DP: a frequency task's frames are spread over the replicas that meet the
 * frame's deadline by their estimate, each in proportion to the frames per second it
 * sustains within the SLO (smooth weighted round-robin: a fast GPU gets more frames than
 * an embedded board, and a replica sharing its device (MT) its share). The id of the
 * instance chosen, or -1 when fewer than two qualify (the earliest estimate decides). */
static dp_slot *
dp_slot_of(epara_state *st, const ep_view *view, const ep_instance_view *iv)
{
    dp_slot *d = &st->dp[iv->id % MAX_INST];
    if (d->inst != iv->id + 1)
        *d = (dp_slot){iv->id + 1, ep_pol_capacity(view, &iv->spec, NULL), 0};
    return d;
}

static int
frame_dp(epara_state *st, const ep_env *env, const ep_view *view, const ep_request_info *req)
{
    double total = 0;
    int ok = 0;
    dp_slot *best = NULL;
    const ep_instance_view *pick = NULL;
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *iv = &view->inst[i];
        if (iv->spec.service != req->service || !iv->ready || iv->id < 0 ||
            estimate(st, view, env, req, i) > req->deadline)
            continue;
        dp_slot *d = dp_slot_of(st, view, iv);
        if (!(d->rate > 0))
            continue;
        ok++;
        total += d->rate;
        d->credit += d->rate;
        if (!best || d->credit > best->credit) {
            best = d;
            pick = iv;
        }
    }
    if (ok < 2) {
        /* No choice to spread: what was credited this round is taken back, or a replica
         * that alone met the deadline for a while would carry a surplus that later sends it
         * every frame of every node in a row. */
        if (best)
            best->credit -= total;
        return -1;
    }
    best->credit -= total;
    return pick->id;
}

static void
reject(ep_route *out, const char *reason)
{
    out->kind = EP_ROUTE_REJECT;
    out->reason = reason;
}

static void
dispatch(ep_route *out, int instance)
{
    out->kind = EP_ROUTE_DISPATCH;
    out->instance = instance;
}

/* Chooses where request req goes (epara_route records what it dispatched). */
static void
route(epara_state *st, const ep_env *env, const ep_view *view, const ep_request_info *req,
      ep_route *out)
{
    int best_local = -1, best_any = -1, n = 0;
    ep_time t_local = EP_TIME_MAX, t_any = EP_TIME_MAX;
    int freq = view->cat[req->service].sensitivity == EP_SENS_FREQUENCY;
    int llm = view->sc->services[req->service].kind == EP_SVC_LLM, nready = 0;
    for (int i = 0; llm && i < view->ninst; i++)
        nready += view->inst[i].spec.service == req->service && view->inst[i].ready;
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *iv = &view->inst[i];
        if (iv->spec.service != req->service || !iv->ready)
            continue;
        n++;
        if (llm && st->p.tpot_admit && full(st, view, iv, nready))
            continue;
        ep_time t = estimate(st, view, env, req, i);
        if (iv->node == req->at_node && t < t_local) {
            t_local = t;
            best_local = i;
        }
        if (t < t_any) {
            t_any = t;
            best_any = i;
        }
    }
    if (n == 0) {
        reject(out, "no instance of the service");
        return;
    }
    if (best_any < 0) {
        reject(out, "every instance is at its TPOT-bound batch");
        return;
    }
    if (best_local >= 0 && (t_local <= req->deadline || !st->p.forward)) {
        dispatch(out, view->inst[best_local].id);
        return;
    }
    if (!st->p.forward || req->hops >= st->p.max_hops) {
        if (best_local >= 0) {
            dispatch(out, view->inst[best_local].id);
            return;
        }
        if (!st->p.forward) {
            reject(out, "no local instance");
            return;
        }
    }
    if (st->p.link_density && req->hops == 0 && view->inst[best_any].node != req->at_node &&
        !ep_link_adm_admit(&st->link, view, env->now, req->at_node, req->service)) {
        reject(out, "uplink overloaded: kept for requests with fewer bytes");
        return;
    }
    if (t_any > req->deadline && st->p.early_reject) {
        reject(out, "no instance can meet the deadline");
        return;
    }
    if (freq) {
        int pick = frame_dp(st, env, view, req);
        if (pick >= 0) {
            dispatch(out, pick);
            return;
        }
    }
    const ep_instance_view *best = &view->inst[best_any];
    if (llm && st->p.llm_forward && best->node != req->at_node && req->hops < st->p.max_hops) {
        /* An LLM prompt is a few kilobytes: hand it to the node of the best instance, which
         * admits it on its current state (or sends it on) instead of this node's stale view. */
        out->kind = EP_ROUTE_FORWARD;
        out->node = best->node;
        return;
    }
    dispatch(out, best->id);
}

static void
epara_route(void *state, const ep_env *env, const ep_view *view, const ep_request_info *req,
            ep_route *out)
{
    epara_state *st = state;
    if (req->hops == 0 && st->p.link_density)
        ep_link_adm_note(&st->link, req->at_node, req->service, env->now);
    busy_devices(st, view, st->p.mt_stretch);
    route(st, env, view, req, out);
    st->busy_valid = 0;
    if (out->kind == EP_ROUTE_DISPATCH)
        note_sent(st, view, req, out->instance);
}

/* The largest batch whose completion meets the earliest deadline among its requests. With
 * early rejection the host first drops what can no longer meet its deadline (expired, and
 * with drop_doomed what a batch of one would finish late), so the batch is taken from the
 * requests that can. */
static int
ep_pick_batch(void *state, const ep_env *env, const ep_view *view, int instance,
              const ep_queue_view *q, int *drop_expired)
{
    epara_state *st = state;
    const ep_instance_view *iv = &view->inst[instance];
    int maxb = ep_pol_max_batch(view, &iv->spec);
    *drop_expired = !st->p.early_reject ? EP_DROP_NONE
                    : st->p.drop_doomed ? EP_DROP_DOOMED
                                        : EP_DROP_EXPIRED;
    ep_time cut = env->now; /* what the host drops: deadlines before it */
    if (*drop_expired == EP_DROP_DOOMED)
        cut += ep_pol_dnn_batch(view, &iv->spec, 1, NULL);
    int best = 0, b = 0;
    ep_time earliest = EP_TIME_MAX;
    for (int k = 0; k < q->n && b < maxb; k++) {
        if (*drop_expired != EP_DROP_NONE && q->deadline[k] < cut)
            continue; /* dropped before the batch is taken */
        b++;
        if (q->deadline[k] < earliest)
            earliest = q->deadline[k];
        if (env->now + ep_pol_dnn_batch(view, &iv->spec, b, NULL) <= earliest)
            best = b;
    }
    /* Nothing can make the head's deadline: run a full batch for those behind it. */
    return best > 0 ? best : (b > 0 ? b : 1);
}

const ep_policy_ops ep_policy_epara = {
        .name = "epara",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(epara_state),
        .summary = "EPARA: categorized parallelism, state-aware placement, deadline routing",
        .params = epara_params_decl,
        .init = ep_init,
        .categorize = ep_categorize,
        .place = ep_place,
        .route = epara_route,
        .pick_batch = ep_pick_batch,
};
