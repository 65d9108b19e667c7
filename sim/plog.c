/* Policy call log and replay (include/epara/sim.h, ep_policy_replay). The host writes every
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
 * init (output: init's return code), which starts its RNG stream (sim_pol_stream); a state's
 * categorize records run from service 0 up, each pass starting from no categories.
 * EPPLOG2 (one state for every node, no init records) is refused. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/error.h"
#include "sim_internal.h"

#define PLOG_MAGIC  "EPPLOG3\n"
#define PLOG_PREFIX "EPPLOG" /* any version: an older one is named in the error */

enum plog_kind {
    PL_CATEGORIZE = SIM_PL_CATEGORIZE,
    PL_PLACE = SIM_PL_PLACE,
    PL_ROUTE = SIM_PL_ROUTE,
    PL_BATCH = SIM_PL_BATCH,
    PL_TIMER = SIM_PL_TIMER,
    PL_INIT = SIM_PL_INIT,
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
w(sim *s, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, s->opts.policy_log) != n && !s->failed)
        s->failed = EP_EIO;
}

void
sim_plog_header(sim *s, uint64_t seed)
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
write_view(sim *s)
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
sim_plog_begin(sim *s, int kind)
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
sim_plog_timer(sim *s, ep_dur after, uint64_t cookie)
{
    if (!s->plog_active)
        return;
    if (s->plog_ntimers < SIM_PLOG_TIMERS) {
        s->plog_timers[s->plog_ntimers].after = after;
        s->plog_timers[s->plog_ntimers].cookie = cookie;
    }
    s->plog_ntimers++;
}

void
sim_plog_data(sim *s, const void *p, size_t n)
{
    if (s->opts.policy_log)
        w(s, p, n);
}

void
sim_plog_end(sim *s)
{
    if (!s->opts.policy_log)
        return;
    int32_t n = s->plog_ntimers < SIM_PLOG_TIMERS ? s->plog_ntimers : SIM_PLOG_TIMERS;
    w(s, &n, sizeof n);
    w(s, s->plog_timers, (size_t)n * sizeof *s->plog_timers);
    s->plog_active = 0;
}

/* --- replay ----------------------------------------------------------------------------- */

typedef struct rp {
    FILE *f;
    const char *path;
    char *err;
    size_t errlen;
    int64_t call;
    /* timers armed by the replayed call */
    struct sim_plog_timer t[SIM_PLOG_TIMERS];
    int nt;
} rp;

static int
rp_fail(rp *r, int code, const char *what)
{
    if (r->err && r->errlen)
        snprintf(r->err, r->errlen, "%s: call %" PRId64 ": %s", r->path, r->call, what);
    return code;
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
    if (r->nt < SIM_PLOG_TIMERS) {
        r->t[r->nt].after = after;
        r->t[r->nt].cookie = cookie;
    }
    r->nt++;
}

static int
read_view(rp *r, ep_view *v, const ep_scenario *sc, ep_instance_view **inst, int *cap, int *node_up,
          int *link_up, ep_time *upfree, int64_t *arr, double *rate, double *min, double *mout,
          double *orate)
{
    int32_t n;
    if (rd(r, &n, sizeof n))
        return EP_EPARSE;
    if (n < 0 || n > (1 << 24))
        return rp_fail(r, EP_EPARSE, "bad instance count");
    if (n > *cap) {
        ep_instance_view *a = realloc(*inst, (size_t)n * sizeof *a);
        if (!a)
            return EP_ENOMEM;
        *inst = a;
        *cap = n;
    }
    size_t ns = (size_t)sc->nservices;
    int32_t oracle;
    if (rd(r, *inst, (size_t)n * sizeof **inst) ||
        rd(r, node_up, (size_t)sc->nnodes * sizeof *node_up) ||
        rd(r, link_up, (size_t)sc->nlinks * sizeof *link_up) ||
        rd(r, upfree, (size_t)sc->nlinks * sizeof *upfree) || rd(r, arr, ns * sizeof *arr) ||
        rd(r, rate, ns * sizeof *rate) || rd(r, min, ns * sizeof *min) ||
        rd(r, mout, ns * sizeof *mout) || rd(r, &oracle, sizeof oracle))
        return EP_EPARSE;
    if (oracle && rd(r, orate, ns * sizeof *orate))
        return EP_EPARSE;
    v->inst = *inst;
    v->ninst = n;
    v->oracle_rate = oracle ? orate : NULL;
    return 0;
}

static int
check_timers(rp *r)
{
    int32_t n;
    struct sim_plog_timer t[SIM_PLOG_TIMERS];
    if (rd(r, &n, sizeof n))
        return EP_EPARSE;
    if (n < 0 || n > SIM_PLOG_TIMERS || rd(r, t, (size_t)n * sizeof *t))
        return rp_fail(r, EP_EPARSE, "bad timer list");
    int got = r->nt < SIM_PLOG_TIMERS ? r->nt : SIM_PLOG_TIMERS;
    if (got != n)
        return rp_fail(r, EP_ERANGE, "a different number of timers armed");
    for (int i = 0; i < n; i++)
        if (t[i].after != r->t[i].after || t[i].cookie != r->t[i].cookie)
            return rp_fail(r, EP_ERANGE, "a different timer armed");
    return 0;
}

int
ep_policy_replay(const ep_scenario *sc, FILE *f, const char *path, ep_replay_result *out, char *err,
                 size_t errlen)
{
    memset(out, 0, sizeof *out);
    rp R = {f, path ? path : "log", err, errlen, 0, {{0, 0}}, 0}, *r = &R;
    plog_header h;
    if (fread(&h, 1, sizeof h, f) != sizeof h || memcmp(h.magic, PLOG_PREFIX, 6) != 0)
        return rp_fail(r, EP_EPARSE, "not a policy log (bad magic)");
    if (memcmp(h.magic, PLOG_MAGIC, 8) != 0) {
        char what[256];
        snprintf(what, sizeof what,
                 "a policy log of another format (%.7s; this build reads %.7s, with one policy "
                 "state per node): write it again with this build",
                 h.magic, PLOG_MAGIC);
        return rp_fail(r, EP_EPARSE, what);
    }
    if (h.sz_view != sizeof(ep_instance_view) || h.sz_req != sizeof(ep_request_info) ||
        h.sz_spec != sizeof(ep_instance_spec) || h.sz_cat != sizeof(ep_category))
        return rp_fail(r, EP_EPARSE, "written by a build with another layout");
    h.policy[EP_NAME_MAX - 1] = '\0';
    if (h.nservices != sc->nservices || h.nnodes != sc->nnodes || h.nlinks != sc->nlinks ||
        h.ndevices != sc->ndevices || h.nparams < 0 || h.nparams > EP_MAX_PARAMS)
        return rp_fail(r, EP_EINVAL, "written for another scenario");
    ep_param params[EP_MAX_PARAMS];
    if (rd(r, params, (size_t)h.nparams * sizeof *params))
        return EP_EPARSE;
    /* The replay's scenario carries the logged parameters, as the writer's did. */
    ep_scenario copy = *sc;
    memcpy(copy.params, params, (size_t)h.nparams * sizeof *params);
    copy.nparams = h.nparams;
    if (scenario_checksum(&copy) != h.checksum)
        return rp_fail(r, EP_EINVAL,
                       "written for another scenario or options (services, SLOs, periods)");
    const ep_policy_ops *pol = ep_policy_find(h.policy);
    if (!pol)
        return rp_fail(r, EP_EINVAL, "unknown policy");
    snprintf(out->policy, sizeof out->policy, "%s", pol->name);
    out->seed = h.seed;
    out->role = h.role;
    out->node = h.node;

    /* A host with just what views need: the scenario, link pipes for delays. */
    sim S;
    memset(&S, 0, sizeof S);
    S.sc = &copy;
    size_t ns = (size_t)sc->nservices + 1;
    S.up = calloc((size_t)sc->nlinks + 1, sizeof *S.up);
    S.down = calloc((size_t)sc->nlinks + 1, sizeof *S.down);
    int *node_up = calloc((size_t)sc->nnodes + 1, sizeof *node_up);
    int *link_up = calloc((size_t)sc->nlinks + 1, sizeof *link_up);
    ep_time *upfree = calloc((size_t)sc->nlinks + 1, sizeof *upfree);
    int64_t *arr = calloc(ns, sizeof *arr);
    double *rate = calloc(ns, sizeof *rate), *min = calloc(ns, sizeof *min);
    double *mout = calloc(ns, sizeof *mout), *orate = calloc(ns, sizeof *orate);
    ep_category *cat = calloc(ns, sizeof *cat);
    /* The states the writer had, as its init records create them: [node], [nnodes] the
     * controller's; NULL until then. */
    int nst = sc->nnodes + 1;
    void **states = calloc((size_t)nst, sizeof *states);
    ep_rng *rngs = calloc((size_t)nst, sizeof *rngs);
    ep_instance_view *inst = NULL;
    int icap = 0, rc = 0;
    ep_instance_spec *spec = NULL;
    ep_time *qdl = NULL, *qarr = NULL;
    if (!S.up || !S.down || !node_up || !link_up || !upfree || !arr || !rate || !min || !mout ||
        !orate || !cat || !states || !rngs) {
        rc = EP_ENOMEM;
        goto done;
    }
    for (int i = 0; i < sc->nlinks; i++) {
        sim_pipe p = {0, sc->links[i].bw_bytes_per_s, sc->links[i].latency, sc->links[i].loss};
        S.up[i] = S.down[i] = p;
    }
    ep_view view;
    memset(&view, 0, sizeof view);
    view.sc = &copy;
    view.cat = cat;
    view.node_up = node_up;
    view.link_up = link_up;
    view.uplink_free = upfree;
    view.arrivals = arr;
    view.rate = rate;
    view.mean_input = min;
    view.mean_output = mout;
    view.placement_period = sc->run.placement_period;
    view.sync_period = sc->run.sync_period;
    view.delay = sim_view_delay;
    view.host_ = &S;
    ep_env env = {0, NULL, rp_timer_arm, r};
    for (;;) {
        uint32_t kind;
        size_t got = fread(&kind, 1, sizeof kind, f);
        if (got == 0 && feof(f))
            break;
        r->call++;
        if (got != sizeof kind || kind < PL_CATEGORIZE || kind >= PL_END) {
            rc = rp_fail(r, EP_EPARSE, "bad record kind");
            break;
        }
        int32_t who;
        if ((rc = rd(r, &who, sizeof who)) != 0 || (rc = rd(r, &env.now, sizeof env.now)) != 0)
            break;
        if (who < -1 || who >= sc->nnodes) {
            rc = rp_fail(r, EP_EPARSE, "bad policy state");
            break;
        }
        int si = who < 0 ? sc->nnodes : who;
        if ((kind == PL_INIT) != (states[si] == NULL)) {
            rc = rp_fail(r, EP_EPARSE,
                         kind == PL_INIT ? "a policy state initialized twice"
                                         : "a call on a policy state never initialized");
            break;
        }
        if ((rc = read_view(r, &view, sc, &inst, &icap, node_up, link_up, upfree, arr, rate, min,
                            mout, orate)) != 0)
            break;
        r->nt = 0;
        char what[256];
        void *state = states[si];
        env.rng = &rngs[si];
        switch (kind) {
        case PL_INIT: {
            int32_t want;
            if ((rc = rd(r, &want, sizeof want)) != 0)
                break;
            states[si] = state = calloc(1, pol->state_size ? pol->state_size : 1);
            if (!state || ep_rng_init(&rngs[si], h.seed, sim_pol_stream(who)) != 0) {
                rc = EP_ENOMEM;
                break;
            }
            out->states++;
            out->calls++;
            int mine = pol->init ? pol->init(state, &env, &view, copy.params, copy.nparams) : 0;
            if (mine != want) {
                snprintf(what, sizeof what, "init: returned %d, logged %d", mine, (int)want);
                rc = rp_fail(r, EP_ERANGE, what);
            }
            break;
        }
        case PL_CATEGORIZE: {
            int32_t svc;
            ep_category want, mine;
            if ((rc = rd(r, &svc, sizeof svc)) != 0 || (rc = rd(r, &want, sizeof want)) != 0)
                break;
            if (svc < 0 || svc >= sc->nservices) {
                rc = rp_fail(r, EP_EPARSE, "bad service");
                break;
            }
            memset(&mine, 0, sizeof mine);
            if (svc == 0) /* a state's pass starts from no categories, as the host's does */
                memset(cat, 0, (size_t)sc->nservices * sizeof *cat);
            if (pol->categorize)
                pol->categorize(state, &view, svc, &mine);
            else
                ep_category_default(&view, svc, &mine);
            cat[svc] = mine;
            if (mine.sensitivity != want.sensitivity || mine.multi_device != want.multi_device) {
                snprintf(what, sizeof what, "categorize(%s): a different category",
                         sc->services[svc].name);
                rc = rp_fail(r, EP_ERANGE, what);
            }
            out->calls++;
            break;
        }
        case PL_PLACE: {
            int32_t n, unchanged, prc;
            if ((rc = rd(r, &prc, sizeof prc)) != 0 || (rc = rd(r, &unchanged, sizeof unchanged)) ||
                (rc = rd(r, &n, sizeof n)) != 0)
                break;
            if (n < 0 || n > (1 << 20)) {
                rc = rp_fail(r, EP_EPARSE, "bad placement size");
                break;
            }
            ep_instance_spec *want = malloc((size_t)n * sizeof *want + 1);
            ep_placement p = {calloc(1024, sizeof *p.inst), 0, 1024, 0};
            spec = want;
            if (!want || !p.inst) {
                free(p.inst);
                rc = EP_ENOMEM;
                break;
            }
            if ((rc = rd(r, want, (size_t)n * sizeof *want)) != 0) {
                free(p.inst);
                break;
            }
            int mrc = pol->place ? pol->place(state, &env, &view, &p) : 0;
            int same = mrc == prc && p.unchanged == unchanged && p.n == n;
            for (int i = 0; same && i < n; i++)
                same = memcmp(&p.inst[i], &want[i], sizeof *want) == 0;
            free(p.inst);
            free(want);
            spec = NULL;
            if (!same)
                rc = rp_fail(r, EP_ERANGE, "place: a different placement");
            out->places++;
            out->calls++;
            break;
        }
        case PL_ROUTE: {
            ep_request_info req;
            int32_t o[3];
            if ((rc = rd(r, &req, sizeof req)) != 0 || (rc = rd(r, o, sizeof o)) != 0)
                break;
            ep_route d = {EP_ROUTE_REJECT, -1, -1, NULL};
            pol->route(state, &env, &view, &req, &d);
            if ((int)d.kind != o[0] || (d.kind == EP_ROUTE_DISPATCH && d.instance != o[1]) ||
                (d.kind == EP_ROUTE_FORWARD && d.node != o[2])) {
                snprintf(what, sizeof what,
                         "route of request %" PRIu64 ": logged %d/%d/%d, replayed %d/%d/%d", req.id,
                         o[0], o[1], o[2], (int)d.kind, d.instance, d.node);
                rc = rp_fail(r, EP_ERANGE, what);
            }
            out->routes++;
            out->calls++;
            break;
        }
        case PL_BATCH: {
            int32_t inst_id, n, o[2];
            if ((rc = rd(r, &inst_id, sizeof inst_id)) != 0 || (rc = rd(r, &n, sizeof n)) != 0)
                break;
            if (n < 0 || n > (1 << 24)) {
                rc = rp_fail(r, EP_EPARSE, "bad queue length");
                break;
            }
            ep_time *a = realloc(qdl, (size_t)n * sizeof *a + 8);
            if (a)
                qdl = a;
            ep_time *b = a ? realloc(qarr, (size_t)n * sizeof *b + 8) : NULL;
            if (!a || !b) {
                rc = EP_ENOMEM;
                break;
            }
            qarr = b;
            if ((rc = rd(r, qdl, (size_t)n * sizeof *qdl)) != 0 ||
                (rc = rd(r, qarr, (size_t)n * sizeof *qarr)) != 0 || (rc = rd(r, o, sizeof o)) != 0)
                break;
            ep_queue_view q = {n, qdl, qarr};
            int drop = 0;
            int bsz =
                    pol->pick_batch ? pol->pick_batch(state, &env, &view, inst_id, &q, &drop) : -1;
            if (bsz != o[0] || drop != o[1])
                rc = rp_fail(r, EP_ERANGE, "pick_batch: a different batch");
            out->batches++;
            out->calls++;
            break;
        }
        case PL_TIMER: {
            uint64_t cookie;
            if ((rc = rd(r, &cookie, sizeof cookie)) != 0)
                break;
            if (pol->on_timer)
                pol->on_timer(state, &env, &view, cookie);
            out->timers++;
            out->calls++;
            break;
        }
        }
        if (!rc)
            rc = check_timers(r);
        if (rc)
            break;
    }
done:
    for (int i = 0; states && rngs && i < nst; i++) {
        if (states[i] && pol->fini)
            pol->fini(states[i]);
        free(states[i]);
        ep_rng_fini(&rngs[i]);
    }
    free(states);
    free(rngs);
    free(spec);
    free(S.up);
    free(S.down);
    free(node_up);
    free(link_up);
    free(upfree);
    free(arr);
    free(rate);
    free(min);
    free(mout);
    free(orate);
    free(cat);
    free(inst);
    free(qdl);
    free(qarr);
    if (rc == EP_ENOMEM)
        rp_fail(r, rc, "out of memory");
    return rc;
}

const char *
sim_plog_kind_name(int kind)
{
    return kind > 0 && kind < PL_END ? kind_names[kind] : "?";
}
