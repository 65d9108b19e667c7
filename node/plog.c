/* Policy call log and replay (include/epara/sim/sim.h, ep_policy_replay). The host writes every
 * call into the policy -- init, categorize, place, route, pick_batch, on_timer -- with the
 * policy state it went to, the exact view and inputs it saw and the outputs it got
 * (decisions and timers armed). Replaying feeds the same calls, in the same order, to fresh
 * states of the same compiled policy, one per state the writer had (each node's, the
 * controller's), and checks that every output is identical: a policy is a pure function of
 * its calls (docs/architecture.md), so a testbed process's decisions must replay through the
 * simulator's policy library unchanged.
 *
 * Format: binary, in the byte order and struct layout of the build that wrote it (the
 * header records the layout sizes; another build refuses the log). Header: magic
 * "EPPLOG3\n", layout sizes, policy name, seed, role, node, scenario counts and checksum,
 * params. Then records: u32 kind, i32 state (the node whose state the call used, -1: the
 * controller's), i64 now, [view], inputs, outputs, timers. A state's first record is its
 * init (output: init's return code), which starts its RNG stream (node_pol_stream); a state's
 * categorize records run from service 0 up, each pass starting from no categories.
 * EPPLOG2 (one state for every node, no init records) is refused. Every value a record gives
 * the policy is checked first against the scenario and the host's bounds (indexes in range,
 * counts, sizes and times sane): a log that breaks one is refused as corrupt, the call and the
 * value named, before a policy could read out of bounds with it. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/traces/trace.h"
#include "node_internal.h"

#define PLOG_MAGIC  "EPPLOG3\n"
#define PLOG_PREFIX "EPPLOG" /* any version: an older one is named in the error */

enum plog_kind {
    PL_CATEGORIZE = NODE_PL_CATEGORIZE,
    PL_PLACE = NODE_PL_PLACE,
    PL_ROUTE = NODE_PL_ROUTE,
    PL_BATCH = NODE_PL_BATCH,
    PL_TIMER = NODE_PL_TIMER,
    PL_INIT = NODE_PL_INIT,
    PL_END
};

static const char *const kind_names[] = {"",      "categorize", "place", "route",
                                         "batch", "timer",      "init",  "end"};

typedef struct plog_header {
    char magic[8];
    uint32_t sz_view, sz_req, sz_spec, sz_cat;
    char policy[EP_NAME_MAX];
    uint64_t seed;
    int32_t role, node;
    int32_t nservices, nnodes, nlinks, ndevices, nparams;
    uint64_t checksum;
} plog_header;

/* FNV-1a over the parts of the scenario a policy reads that options can change. */
static uint64_t
scenario_checksum(const ep_scenario *sc)
{
    uint64_t h = 1469598103934665603ull;
    const unsigned char *p = (const unsigned char *)sc->services;
    size_t n = (size_t)sc->nservices * sizeof *sc->services;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    h ^= (uint64_t)sc->run.placement_period * 31 + (uint64_t)sc->run.sync_period;
    return h;
}

/* --- writing ---------------------------------------------------------------------------- */

static void
w(node_rt *s, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, s->opts.policy_log) != n && !s->failed)
        s->failed = EP_EIO;
}

void
node_plog_header(node_rt *s, uint64_t seed)
{
    const ep_scenario *sc = s->sc;
    if (!s->opts.policy_log)
        return;
    plog_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, PLOG_MAGIC, 8);
    h.sz_view = sizeof(ep_instance_view);
    h.sz_req = sizeof(ep_request_info);
    h.sz_spec = sizeof(ep_instance_spec);
    h.sz_cat = sizeof(ep_category);
    snprintf(h.policy, sizeof h.policy, "%s", s->pol->name);
    h.seed = seed;
    h.role = (int32_t)s->role;
    h.node = s->local;
    h.nservices = sc->nservices;
    h.nnodes = sc->nnodes;
    h.nlinks = sc->nlinks;
    h.ndevices = sc->ndevices;
    h.nparams = sc->nparams;
    h.checksum = scenario_checksum(sc);
    w(s, &h, sizeof h);
    w(s, sc->params, (size_t)sc->nparams * sizeof *sc->params);
}

static void
write_view(node_rt *s)
{
    const ep_scenario *sc = s->sc;
    const ep_view *v = &s->view;
    int32_t n = v->ninst;
    w(s, &n, sizeof n);
    w(s, v->inst, (size_t)n * sizeof *v->inst);
    w(s, v->node_up, (size_t)sc->nnodes * sizeof *v->node_up);
    w(s, v->link_up, (size_t)sc->nlinks * sizeof *v->link_up);
    w(s, v->uplink_free, (size_t)sc->nlinks * sizeof *v->uplink_free);
    size_t ns = (size_t)sc->nservices;
    w(s, v->arrivals, ns * sizeof *v->arrivals);
    w(s, v->rate, ns * sizeof *v->rate);
    w(s, v->mean_input, ns * sizeof *v->mean_input);
    w(s, v->mean_output, ns * sizeof *v->mean_output);
    int32_t oracle = v->oracle_rate != NULL;
    w(s, &oracle, sizeof oracle);
    if (oracle)
        w(s, v->oracle_rate, ns * sizeof *v->oracle_rate);
}

void
node_plog_begin(node_rt *s, int kind)
{
    if (!s->opts.policy_log)
        return;
    uint32_t k = (uint32_t)kind;
    int32_t state = s->pol_owner;
    w(s, &k, sizeof k);
    w(s, &state, sizeof state);
    w(s, &s->env.now, sizeof s->env.now);
    write_view(s);
    s->plog_ntimers = 0;
    s->plog_active = 1;
}

void
node_plog_timer(node_rt *s, ep_dur after, uint64_t cookie)
{
    if (!s->plog_active)
        return;
    if (s->plog_ntimers < NODE_PLOG_TIMERS) {
        s->plog_timers[s->plog_ntimers].after = after;
        s->plog_timers[s->plog_ntimers].cookie = cookie;
    }
    s->plog_ntimers++;
}

void
node_plog_data(node_rt *s, const void *p, size_t n)
{
    if (s->opts.policy_log)
        w(s, p, n);
}

void
node_plog_end(node_rt *s)
{
    if (!s->opts.policy_log)
        return;
    int32_t n = s->plog_ntimers < NODE_PLOG_TIMERS ? s->plog_ntimers : NODE_PLOG_TIMERS;
    w(s, &n, sizeof n);
    w(s, s->plog_timers, (size_t)n * sizeof *s->plog_timers);
    s->plog_active = 0;
}

/* --- replay ----------------------------------------------------------------------------- */

/* Sanity bounds on the counts a record gives (a larger one is a corrupt log, not a big run). */
#define RP_MAX_INSTANCES (1 << 24) /* instances in a logged view */
#define RP_MAX_PLACED    (1 << 20) /* instance specs in a logged placement */
#define RP_MAX_QUEUE     (1 << 24) /* requests in a logged pick_batch queue */
/* Bounds on the values a record's view and inputs give where the scenario sets none, far
 * above anything the host gives: the policies add, multiply and convert them unchecked. */
#define RP_MAX_TIME   (INT64_C(1) << 60)        /* |a time or duration|, ns (36 years) */
#define RP_MAX_SIZE   EP_TRACE_MAX_SIZE         /* a request's input, output; their means */
#define RP_MAX_AMOUNT INT64_C(1000000000000000) /* bytes, KV tokens, arrivals, rates */
/* Instances a replayed place may set: the capacity the host gives it (node_do_place). */
#define RP_PLACE_CAP 1024
/* Bytes added to a buffer sized by a logged count, so that a count of 0 still allocates
 * (malloc(0) may return NULL, which would read as out of memory). */
#define RP_SPEC_PAD  1 /* the logged placement's specs */
#define RP_QUEUE_PAD 8 /* each of a pick_batch queue's arrays */
/* Room for what went wrong, before the path and call number are put in front. */
#define RP_WHAT_MAX 256
/* The magic's length less its newline: the format's name as an error message gives it. */
#define PLOG_NAME_LEN 7

/* The outputs a route record logs (node_route), in order. */
enum { RT_KIND, RT_INSTANCE, RT_NODE, RT_NOUT };
/* The outputs a pick_batch record logs (the DNN host), in order. */
enum { BT_SIZE, BT_DROP, BT_NOUT };

typedef struct rp {
    FILE *f;
    const char *path;
    char *err;
    size_t errlen;
    int64_t call;
    /* timers armed by the replayed call */
    struct node_plog_timer t[NODE_PLOG_TIMERS];
    int nt;
} rp;

/* A replay in progress: the log, the policy and the scenario it was written for, a host with
 * just what views need, the view's buffers (refilled by every record) and the policy states. */
typedef struct replay {
    rp r;                  /* the log, the call number, the error, the timers armed */
    const ep_scenario *sc; /* the caller's scenario */
    ep_scenario copy;      /* sc with the logged parameters, as the writer's was */
    plog_header h;         /* the log's header */
    const ep_policy_ops *pol;
    ep_replay_result *out;
    node_rt S; /* the host: the scenario, link pipes for delays */
    ep_view view;
    ep_env env;
    ep_instance_view *inst; /* the view's instances, icap of them allocated */
    int icap;
    int *node_up, *link_up;
    ep_time *upfree;
    int64_t *arr;
    double *rate, *min, *mout, *orate;
    ep_category *cat;
    /* The states the writer had, as its init records create them: [node], [nnodes] the
     * controller's; NULL until then. One RNG each. */
    int nst;
    void **states;
    ep_rng *rngs;
    ep_time *qdl, *qarr; /* the last pick_batch queue's deadlines and arrivals */
} replay;

static int
rp_fail(rp *r, int code, const char *what)
{
    if (r->err && r->errlen)
        snprintf(r->err, r->errlen, "%s: call %" PRId64 ": %s", r->path, r->call, what);
    return code;
}

static int rp_failf(rp *r, int code, const char *fmt, ...) EP_PRINTF(3, 4);

/* rp_fail with what went wrong formatted (at most RP_WHAT_MAX bytes). */
static int
rp_failf(rp *r, int code, const char *fmt, ...)
{
    char what[RP_WHAT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return rp_fail(r, code, what);
}

static int
rd(rp *r, void *p, size_t n)
{
    return n == 0 || fread(p, 1, n, r->f) == n ? 0 : rp_fail(r, EP_EPARSE, "truncated log");
}

static void
rp_timer_arm(void *host, ep_dur after, uint64_t cookie)
{
    rp *r = host;
    if (r->nt < NODE_PLOG_TIMERS) {
        r->t[r->nt].after = after;
        r->t[r->nt].cookie = cookie;
    }
    r->nt++;
}

/* Reads the log's header and the parameters after it and checks them against this build and
 * scenario x->sc; sets x->h, x->copy (the scenario with the logged parameters), x->pol and the
 * header's fields of x->out. */
static int
replay_open(replay *x)
{
    rp *r = &x->r;
    const ep_scenario *sc = x->sc;
    plog_header *h = &x->h;
    if (fread(h, 1, sizeof *h, r->f) != sizeof *h ||
        memcmp(h->magic, PLOG_PREFIX, sizeof PLOG_PREFIX - 1) != 0)
        return rp_fail(r, EP_EPARSE, "not a policy log (bad magic)");
    if (memcmp(h->magic, PLOG_MAGIC, sizeof h->magic) != 0)
        return rp_failf(r, EP_EPARSE,
                        "a policy log of another format (%.*s; this build reads %.*s, with one "
                        "policy state per node): write it again with this build",
                        PLOG_NAME_LEN, h->magic, PLOG_NAME_LEN, PLOG_MAGIC);
    if (h->sz_view != sizeof(ep_instance_view) || h->sz_req != sizeof(ep_request_info) ||
        h->sz_spec != sizeof(ep_instance_spec) || h->sz_cat != sizeof(ep_category))
        return rp_fail(r, EP_EPARSE, "written by a build with another layout");
    h->policy[EP_NAME_MAX - 1] = '\0';
    if (h->nservices != sc->nservices || h->nnodes != sc->nnodes || h->nlinks != sc->nlinks ||
        h->ndevices != sc->ndevices || h->nparams < 0 || h->nparams > EP_MAX_PARAMS)
        return rp_fail(r, EP_EINVAL, "written for another scenario");
    ep_param params[EP_MAX_PARAMS];
    if (rd(r, params, (size_t)h->nparams * sizeof *params))
        return EP_EPARSE;
    /* The replay's scenario carries the logged parameters, as the writer's did. */
    x->copy = *sc;
    memcpy(x->copy.params, params, (size_t)h->nparams * sizeof *params);
    x->copy.nparams = h->nparams;
    if (scenario_checksum(&x->copy) != h->checksum)
        return rp_fail(r, EP_EINVAL,
                       "written for another scenario or options (services, SLOs, periods)");
    x->pol = ep_policy_find(h->policy);
    if (!x->pol)
        return rp_fail(r, EP_EINVAL, "unknown policy");
    snprintf(x->out->policy, sizeof x->out->policy, "%s", x->pol->name);
    x->out->seed = h->seed;
    x->out->role = h->role;
    x->out->node = h->node;
    return 0;
}

/* Allocates the host (link pipes for view delays), the view's arrays and the table of policy
 * states, and points the view and the policy's environment at them. 0 or EP_ENOMEM; what was
 * allocated is freed by replay_teardown either way. */
static int
replay_setup(replay *x)
{
    const ep_scenario *sc = x->sc;
    size_t ns = (size_t)sc->nservices + 1;
    x->S.sc = &x->copy;
    x->S.up = calloc((size_t)sc->nlinks + 1, sizeof *x->S.up);
    x->S.down = calloc((size_t)sc->nlinks + 1, sizeof *x->S.down);
    x->node_up = calloc((size_t)sc->nnodes + 1, sizeof *x->node_up);
    x->link_up = calloc((size_t)sc->nlinks + 1, sizeof *x->link_up);
    x->upfree = calloc((size_t)sc->nlinks + 1, sizeof *x->upfree);
    x->arr = calloc(ns, sizeof *x->arr);
    x->rate = calloc(ns, sizeof *x->rate);
    x->min = calloc(ns, sizeof *x->min);
    x->mout = calloc(ns, sizeof *x->mout);
    x->orate = calloc(ns, sizeof *x->orate);
    x->cat = calloc(ns, sizeof *x->cat);
    x->nst = sc->nnodes + 1;
    x->states = calloc((size_t)x->nst, sizeof *x->states);
    x->rngs = calloc((size_t)x->nst, sizeof *x->rngs);
    if (!x->S.up || !x->S.down || !x->node_up || !x->link_up || !x->upfree || !x->arr || !x->rate ||
        !x->min || !x->mout || !x->orate || !x->cat || !x->states || !x->rngs)
        return EP_ENOMEM;
    for (int i = 0; i < sc->nlinks; i++) {
        node_pipe p = {0, sc->links[i].bw_bytes_per_s, sc->links[i].latency, sc->links[i].loss,
                       &sc->links[i]};
        x->S.up[i] = x->S.down[i] = p;
    }
    ep_view *v = &x->view;
    memset(v, 0, sizeof *v);
    v->sc = &x->copy;
    v->cat = x->cat;
    v->node_up = x->node_up;
    v->link_up = x->link_up;
    v->uplink_free = x->upfree;
    v->arrivals = x->arr;
    v->rate = x->rate;
    v->mean_input = x->min;
    v->mean_output = x->mout;
    v->placement_period = sc->run.placement_period;
    v->sync_period = sc->run.sync_period;
    v->delay = node_view_delay;
    v->host_ = &x->S;
    ep_env env = {0, NULL, rp_timer_arm, &x->r};
    x->env = env;
    return 0;
}

/* Finishes the policy states and frees what replay_setup and the records allocated. */
static void
replay_teardown(replay *x)
{
    for (int i = 0; x->states && x->rngs && i < x->nst; i++) {
        if (x->states[i] && x->pol->fini)
            x->pol->fini(x->states[i]);
        free(x->states[i]);
        ep_rng_fini(&x->rngs[i]);
    }
    free(x->states);
    free(x->rngs);
    free(x->S.up);
    free(x->S.down);
    free(x->node_up);
    free(x->link_up);
    free(x->upfree);
    free(x->arr);
    free(x->rate);
    free(x->min);
    free(x->mout);
    free(x->orate);
    free(x->cat);
    free(x->inst);
    free(x->qdl);
    free(x->qarr);
}

/* Whether t is a time (or duration) within RP_MAX_TIME. */
static int
time_ok(ep_time t)
{
    return t >= -RP_MAX_TIME && t <= RP_MAX_TIME;
}

/* Whether v is a number in [0, hi] (not NaN). */
static int
num_ok(double v, double hi)
{
    return v >= 0 && v <= hi;
}

/* Checks instance i of a logged view of n instances as the host gives them (node_current_view
 * of an instance whose spec passed the placement's checks): the service, mode, devices, id
 * and node a policy indexes with in range, counts and times within bounds. */
static int
check_instance(rp *r, const ep_scenario *sc, const ep_instance_view *iv, int i, int n)
{
    const ep_instance_spec *sp = &iv->spec;
    int mode = (int)sp->mode, order = (int)sp->order;
    if (sp->service < 0 || sp->service >= sc->nservices)
        return rp_failf(r, EP_EPARSE, "instance %d names service %d of %d", i, sp->service,
                        sc->nservices);
    if (mode < EP_MODE_SINGLE || mode > EP_MODE_PP)
        return rp_failf(r, EP_EPARSE, "instance %d has parallel mode %d", i, mode);
    if (sp->ndev < 1 || sp->ndev > EP_MAX_STAGE_DEVS)
        return rp_failf(r, EP_EPARSE, "instance %d spans %d devices (1 to %d)", i, sp->ndev,
                        EP_MAX_STAGE_DEVS);
    for (int k = 0; k < sp->ndev; k++)
        if (sp->devs[k] < 0 || sp->devs[k] >= sc->ndevices)
            return rp_failf(r, EP_EPARSE, "instance %d names device %d of %d", i, sp->devs[k],
                            sc->ndevices);
    if (sp->max_batch < 0 || sp->max_batch > RP_MAX_QUEUE)
        return rp_failf(r, EP_EPARSE, "instance %d has max batch %d", i, sp->max_batch);
    if (order != EP_QUEUE_FIFO && order != EP_QUEUE_EDF)
        return rp_failf(r, EP_EPARSE, "instance %d has queue order %d", i, order);
    if (iv->id < 0 || iv->id >= n)
        return rp_failf(r, EP_EPARSE, "instance %d has id %d of %d", i, iv->id, n);
    if (iv->node < 0 || iv->node >= sc->nnodes)
        return rp_failf(r, EP_EPARSE, "instance %d names node %d of %d", i, iv->node, sc->nnodes);
    if (iv->queued < 0 || iv->queued > RP_MAX_QUEUE || iv->running < 0 ||
        iv->running > RP_MAX_QUEUE)
        return rp_failf(r, EP_EPARSE, "instance %d has %d queued and %d running requests", i,
                        iv->queued, iv->running);
    if (!time_ok(iv->backlog) || !time_ok(iv->synced_at))
        return rp_failf(r, EP_EPARSE,
                        "instance %d has backlog %" PRId64 " ns, synced at %" PRId64 " ns", i,
                        iv->backlog, iv->synced_at);
    if (iv->kv_free < -RP_MAX_AMOUNT || iv->kv_free > RP_MAX_AMOUNT)
        return rp_failf(r, EP_EPARSE, "instance %d has %" PRId64 " free KV tokens", i, iv->kv_free);
    return 0;
}

/* Checks the view read_view read: its instances, the uplinks' times and every service's
 * demand (arrivals, rates and mean sizes within bounds). */
static int
check_view(replay *x)
{
    rp *r = &x->r;
    const ep_scenario *sc = x->sc;
    const ep_view *v = &x->view;
    int rc;
    for (int i = 0; i < v->ninst; i++)
        if ((rc = check_instance(r, sc, &v->inst[i], i, v->ninst)) != 0)
            return rc;
    for (int l = 0; l < sc->nlinks; l++)
        if (!time_ok(x->upfree[l]))
            return rp_failf(r, EP_EPARSE, "link %d's uplink free at %" PRId64 " ns", l,
                            x->upfree[l]);
    double amount = (double)RP_MAX_AMOUNT, size = (double)RP_MAX_SIZE;
    for (int s = 0; s < sc->nservices; s++)
        if (x->arr[s] < 0 || x->arr[s] > RP_MAX_AMOUNT || !num_ok(x->rate[s], amount) ||
            (v->oracle_rate && !num_ok(x->orate[s], amount)) || !num_ok(x->min[s], size) ||
            !num_ok(x->mout[s], size))
            return rp_failf(r, EP_EPARSE,
                            "service %d's demand: %" PRId64 " arrivals, rate %g (oracle %g), "
                            "mean sizes %g and %g",
                            s, x->arr[s], x->rate[s], v->oracle_rate ? x->orate[s] : 0.0, x->min[s],
                            x->mout[s]);
    return 0;
}

/* Reads a record's view into x->view, growing the instance buffer as needed. */
static int
read_view(replay *x)
{
    rp *r = &x->r;
    const ep_scenario *sc = x->sc;
    ep_view *v = &x->view;
    int32_t n;
    if (rd(r, &n, sizeof n))
        return EP_EPARSE;
    if (n < 0 || n > RP_MAX_INSTANCES)
        return rp_fail(r, EP_EPARSE, "bad instance count");
    if (n > x->icap) {
        ep_instance_view *a = realloc(x->inst, (size_t)n * sizeof *a);
        if (!a)
            return EP_ENOMEM;
        x->inst = a;
        x->icap = n;
    }
    size_t ns = (size_t)sc->nservices;
    int32_t oracle;
    if (rd(r, x->inst, (size_t)n * sizeof *x->inst) ||
        rd(r, x->node_up, (size_t)sc->nnodes * sizeof *x->node_up) ||
        rd(r, x->link_up, (size_t)sc->nlinks * sizeof *x->link_up) ||
        rd(r, x->upfree, (size_t)sc->nlinks * sizeof *x->upfree) ||
        rd(r, x->arr, ns * sizeof *x->arr) || rd(r, x->rate, ns * sizeof *x->rate) ||
        rd(r, x->min, ns * sizeof *x->min) || rd(r, x->mout, ns * sizeof *x->mout) ||
        rd(r, &oracle, sizeof oracle))
        return EP_EPARSE;
    if (oracle != 0 && oracle != 1)
        return rp_fail(r, EP_EPARSE, "bad oracle flag");
    if (oracle && rd(r, x->orate, ns * sizeof *x->orate))
        return EP_EPARSE;
    v->inst = x->inst;
    v->ninst = n;
    v->oracle_rate = oracle ? x->orate : NULL;
    return check_view(x);
}

/* Reads the timers the record logs and checks the replayed call armed the same. */
static int
check_timers(rp *r)
{
    int32_t n;
    struct node_plog_timer t[NODE_PLOG_TIMERS];
    if (rd(r, &n, sizeof n))
        return EP_EPARSE;
    if (n < 0 || n > NODE_PLOG_TIMERS || rd(r, t, (size_t)n * sizeof *t))
        return rp_fail(r, EP_EPARSE, "bad timer list");
    int got = r->nt < NODE_PLOG_TIMERS ? r->nt : NODE_PLOG_TIMERS;
    if (got != n)
        return rp_fail(r, EP_ERANGE, "a different number of timers armed");
    for (int i = 0; i < n; i++)
        if (t[i].after != r->t[i].after || t[i].cookie != r->t[i].cookie)
            return rp_fail(r, EP_ERANGE, "a different timer armed");
    return 0;
}

/* The slot of x->states that state `who` of a record (a node, -1 the controller) names. */
static int
state_slot(const replay *x, int32_t who)
{
    return who < 0 ? x->sc->nnodes : who;
}

/* Reads the head of the next record -- its kind, the policy state it used, the time -- and
 * checks them, then reads its view. *end: the log ended cleanly before it. */
static int
replay_read_call(replay *x, uint32_t *kind, int32_t *who, int *end)
{
    rp *r = &x->r;
    size_t got = fread(kind, 1, sizeof *kind, r->f);
    if (got == 0 && feof(r->f)) {
        *end = 1;
        return 0;
    }
    r->call++;
    if (got != sizeof *kind || *kind < PL_CATEGORIZE || *kind >= PL_END)
        return rp_fail(r, EP_EPARSE, "bad record kind");
    int rc;
    if ((rc = rd(r, who, sizeof *who)) != 0 || (rc = rd(r, &x->env.now, sizeof x->env.now)) != 0)
        return rc;
    if (*who < -1 || *who >= x->sc->nnodes)
        return rp_fail(r, EP_EPARSE, "bad policy state");
    if (!time_ok(x->env.now))
        return rp_failf(r, EP_EPARSE, "time %" PRId64 " ns out of range", x->env.now);
    if ((*kind == PL_INIT) != (x->states[state_slot(x, *who)] == NULL))
        return rp_fail(r, EP_EPARSE,
                       *kind == PL_INIT ? "a policy state initialized twice"
                                        : "a call on a policy state never initialized");
    return read_view(x);
}

/* init: creates state slot si (with the writer's RNG stream for state who) and checks the
 * return code is the logged one. */
static int
replay_init(replay *x, int si, int32_t who)
{
    rp *r = &x->r;
    const ep_policy_ops *pol = x->pol;
    int32_t want;
    int rc;
    if ((rc = rd(r, &want, sizeof want)) != 0)
        return rc;
    void *state = x->states[si] = calloc(1, pol->state_size ? pol->state_size : 1);
    if (!state || ep_rng_init(&x->rngs[si], x->h.seed, node_pol_stream(who)) != 0)
        return EP_ENOMEM;
    x->out->states++;
    x->out->calls++;
    int mine = pol->init ? pol->init(state, &x->env, &x->view, x->copy.params, x->copy.nparams) : 0;
    if (mine != want)
        return rp_failf(r, EP_ERANGE, "init: returned %d, logged %d", mine, (int)want);
    return 0;
}

/* categorize: one service's category, checked against the logged one; it joins the view's
 * categories for the calls after it. */
static int
replay_categorize(replay *x, void *state)
{
    rp *r = &x->r;
    const ep_scenario *sc = x->sc;
    int32_t svc;
    ep_category want, mine;
    int rc;
    if ((rc = rd(r, &svc, sizeof svc)) != 0 || (rc = rd(r, &want, sizeof want)) != 0)
        return rc;
    if (svc < 0 || svc >= sc->nservices)
        return rp_fail(r, EP_EPARSE, "bad service");
    memset(&mine, 0, sizeof mine);
    if (svc == 0) /* a state's pass starts from no categories, as the host's does */
        memset(x->cat, 0, (size_t)sc->nservices * sizeof *x->cat);
    if (x->pol->categorize)
        x->pol->categorize(state, &x->view, svc, &mine);
    else
        ep_category_default(&x->view, svc, &mine);
    x->cat[svc] = mine;
    if (mine.sensitivity != want.sensitivity || mine.multi_device != want.multi_device)
        rc = rp_failf(r, EP_ERANGE, "categorize(%s): a different category", sc->services[svc].name);
    x->out->calls++;
    return rc;
}

/* 1 when the replayed placement p (place returned mrc) is the logged one: return code prc,
 * unchanged flag and the n specs want. */
static int
same_placement(const ep_placement *p, int mrc, int32_t prc, int32_t unchanged,
               const ep_instance_spec *want, int32_t n)
{
    int same = mrc == prc && p->unchanged == unchanged && p->n == n;
    for (int i = 0; same && i < n; i++)
        same = memcmp(&p->inst[i], &want[i], sizeof *want) == 0;
    return same;
}

/* place: the controller's placement, checked against the logged one. */
static int
replay_place(replay *x, void *state)
{
    rp *r = &x->r;
    int32_t n, unchanged, prc;
    int rc;
    if ((rc = rd(r, &prc, sizeof prc)) != 0 || (rc = rd(r, &unchanged, sizeof unchanged)) ||
        (rc = rd(r, &n, sizeof n)) != 0)
        return rc;
    if (n < 0 || n > RP_MAX_PLACED)
        return rp_fail(r, EP_EPARSE, "bad placement size");
    ep_instance_spec *want = malloc((size_t)n * sizeof *want + RP_SPEC_PAD);
    ep_placement p = {calloc(RP_PLACE_CAP, sizeof *p.inst), 0, RP_PLACE_CAP, 0};
    if (!want || !p.inst) {
        rc = EP_ENOMEM;
    } else if ((rc = rd(r, want, (size_t)n * sizeof *want)) == 0) {
        int mrc = x->pol->place ? x->pol->place(state, &x->env, &x->view, &p) : 0;
        if (!same_placement(&p, mrc, prc, unchanged, want, n))
            rc = rp_fail(r, EP_ERANGE, "place: a different placement");
        x->out->places++;
        x->out->calls++;
    }
    free(p.inst);
    free(want);
    return rc;
}

/* 1 when route decision d is the logged one (o[RT_NOUT]: the fields its kind uses). */
static int
same_route(const ep_route *d, const int32_t *o)
{
    return (int)d->kind == o[RT_KIND] &&
           !(d->kind == EP_ROUTE_DISPATCH && d->instance != o[RT_INSTANCE]) &&
           !(d->kind == EP_ROUTE_FORWARD && d->node != o[RT_NODE]);
}

/* Checks a logged request as the host gives it (node_route): its service and nodes in range,
 * its times and sizes within bounds. */
static int
check_request(rp *r, const ep_scenario *sc, const ep_request_info *q)
{
    if (q->service < 0 || q->service >= sc->nservices)
        return rp_failf(r, EP_EPARSE, "request %" PRIu64 " names service %d of %d", q->id,
                        q->service, sc->nservices);
    if (q->ingress < 0 || q->ingress >= sc->nnodes)
        return rp_failf(r, EP_EPARSE, "request %" PRIu64 " names ingress node %d of %d", q->id,
                        q->ingress, sc->nnodes);
    if (q->at_node < 0 || q->at_node >= sc->nnodes)
        return rp_failf(r, EP_EPARSE, "request %" PRIu64 " is at node %d of %d", q->id, q->at_node,
                        sc->nnodes);
    if (q->hops < 0)
        return rp_failf(r, EP_EPARSE, "request %" PRIu64 " has %d hops", q->id, q->hops);
    if (!time_ok(q->arrival) || !time_ok(q->deadline))
        return rp_failf(r, EP_EPARSE,
                        "request %" PRIu64 " arrived at %" PRId64 " ns, deadline %" PRId64 " ns",
                        q->id, q->arrival, q->deadline);
    if (q->input < 0 || q->input > RP_MAX_SIZE || q->output < 0 || q->output > RP_MAX_SIZE ||
        q->bytes < 0 || q->bytes > RP_MAX_AMOUNT)
        return rp_failf(r, EP_EPARSE,
                        "request %" PRIu64 " has input %" PRId64 ", output %" PRId64 ", %" PRId64
                        " bytes",
                        q->id, q->input, q->output, q->bytes);
    return 0;
}

/* route: one request's decision, checked against the logged one. */
static int
replay_route(replay *x, void *state)
{
    rp *r = &x->r;
    ep_request_info req;
    int32_t o[RT_NOUT];
    int rc;
    if ((rc = rd(r, &req, sizeof req)) != 0 || (rc = rd(r, o, sizeof o)) != 0 ||
        (rc = check_request(r, x->sc, &req)) != 0)
        return rc;
    ep_route d = {EP_ROUTE_REJECT, -1, -1, NULL};
    x->pol->route(state, &x->env, &x->view, &req, &d);
    if (!same_route(&d, o))
        rc = rp_failf(r, EP_ERANGE,
                      "route of request %" PRIu64 ": logged %d/%d/%d, replayed %d/%d/%d", req.id,
                      o[RT_KIND], o[RT_INSTANCE], o[RT_NODE], (int)d.kind, d.instance, d.node);
    x->out->routes++;
    x->out->calls++;
    return rc;
}

/* pick_batch: one instance's batch size and drop count from its logged queue, checked
 * against the logged ones. */
static int
replay_batch(replay *x, void *state)
{
    rp *r = &x->r;
    int32_t inst_id, n, o[BT_NOUT];
    int rc;
    if ((rc = rd(r, &inst_id, sizeof inst_id)) != 0 || (rc = rd(r, &n, sizeof n)) != 0)
        return rc;
    if (inst_id < 0 || inst_id >= x->view.ninst)
        return rp_failf(r, EP_EPARSE, "pick_batch on instance %d of %d", (int)inst_id,
                        x->view.ninst);
    if (n < 0 || n > RP_MAX_QUEUE)
        return rp_fail(r, EP_EPARSE, "bad queue length");
    ep_time *a = realloc(x->qdl, (size_t)n * sizeof *a + RP_QUEUE_PAD);
    if (a)
        x->qdl = a;
    ep_time *b = a ? realloc(x->qarr, (size_t)n * sizeof *b + RP_QUEUE_PAD) : NULL;
    if (!a || !b)
        return EP_ENOMEM;
    x->qarr = b;
    if ((rc = rd(r, x->qdl, (size_t)n * sizeof *x->qdl)) != 0 ||
        (rc = rd(r, x->qarr, (size_t)n * sizeof *x->qarr)) != 0 || (rc = rd(r, o, sizeof o)) != 0)
        return rc;
    for (int k = 0; k < n; k++)
        if (!time_ok(x->qdl[k]) || !time_ok(x->qarr[k]))
            return rp_failf(r, EP_EPARSE,
                            "pick_batch: queued request %d has deadline %" PRId64
                            " ns, arrival %" PRId64 " ns",
                            k, x->qdl[k], x->qarr[k]);
    ep_queue_view q = {n, x->qdl, x->qarr};
    int drop = 0;
    const ep_policy_ops *pol = x->pol;
    int bsz = pol->pick_batch ? pol->pick_batch(state, &x->env, &x->view, inst_id, &q, &drop) : -1;
    if (bsz != o[BT_SIZE] || drop != o[BT_DROP])
        rc = rp_fail(r, EP_ERANGE, "pick_batch: a different batch");
    x->out->batches++;
    x->out->calls++;
    return rc;
}

/* on_timer: fires the logged cookie (what it arms is checked by check_timers). */
static int
replay_timer(replay *x, void *state)
{
    uint64_t cookie;
    int rc;
    if ((rc = rd(&x->r, &cookie, sizeof cookie)) != 0)
        return rc;
    if (x->pol->on_timer)
        x->pol->on_timer(state, &x->env, &x->view, cookie);
    x->out->timers++;
    x->out->calls++;
    return 0;
}

/* Replays the call of a record whose head and view replay_read_call read, on the state it
 * names, then checks the timers it armed. */
static int
replay_call(replay *x, uint32_t kind, int32_t who)
{
    int si = state_slot(x, who), rc = 0;
    void *state = x->states[si];
    x->r.nt = 0;
    x->env.rng = &x->rngs[si];
    switch (kind) {
    case PL_INIT:
        rc = replay_init(x, si, who);
        break;
    case PL_CATEGORIZE:
        rc = replay_categorize(x, state);
        break;
    case PL_PLACE:
        rc = replay_place(x, state);
        break;
    case PL_ROUTE:
        rc = replay_route(x, state);
        break;
    case PL_BATCH:
        rc = replay_batch(x, state);
        break;
    case PL_TIMER:
        rc = replay_timer(x, state);
        break;
    }
    return rc ? rc : check_timers(&x->r);
}

int
ep_policy_replay(const ep_scenario *sc, FILE *f, const char *path, ep_replay_result *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof *out);
    replay X, *x = &X;
    memset(x, 0, sizeof *x);
    x->r.f = f;
    x->r.path = path ? path : "log";
    x->r.err = err;
    x->r.errlen = errlen;
    x->sc = sc;
    x->out = out;
    int rc = replay_open(x);
    if (rc)
        return rc;
    if ((rc = replay_setup(x)) == 0)
        for (;;) {
            uint32_t kind;
            int32_t who;
            int end = 0;
            if ((rc = replay_read_call(x, &kind, &who, &end)) != 0 || end ||
                (rc = replay_call(x, kind, who)) != 0)
                break;
        }
    replay_teardown(x);
    if (rc == EP_ENOMEM)
        rp_fail(&x->r, rc, "out of memory");
    return rc;
}

const char *
node_plog_kind_name(int kind)
{
    return kind > 0 && kind < PL_END ? kind_names[kind] : "?";
}
