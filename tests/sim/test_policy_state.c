/* Policy state per node: the simulator holds one policy state per node and one for the
 * controller, as each process of a live testbed has its own. A probe policy notes whose
 * state each call went to: route on the deciding node's, pick_batch on the node running the
 * instance, place on the controller's, on_timer on the state whose hook armed the timer,
 * every state initialized and categorized once before use and finished once. A testbed
 * process holds only its own state. A policy call log replays with the same states. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "epara/exec/live.h"
#include "sim_fixture.h"

#define NN     4 /* nodes, one GPU each */
#define MAGIC  0x57a7e5u
#define NOBODY (-2) /* a state no call has claimed yet */
#define CTRL   (-1) /* the controller */
#define MAXST  16

/* --- the probe policy --------------------------------------------------------------------- */

typedef struct probe_state {
    uint32_t magic; /* set by init */
    int owner;      /* the node (CTRL: controller) of the first call that showed it, or NOBODY */
    int cats;       /* categorize calls */
    int armed;      /* a timer armed from this state */
    int placed;
} probe_state;

static struct {
    int violations; /* a call on a state owned by another node (or the controller) */
    int uninit;     /* a call on a state init never saw, or categorized twice */
    int inits, finis, timers_ctrl, timers_node, forwards;
    int nstates; /* distinct states claimed */
    const void *state[MAXST];
    int owner[MAXST];
    int per_owner[NN + 1]; /* states claimed per owner ([NN]: the controller) */
} pr;

static void
claim(probe_state *st, int who)
{
    if (st->magic != MAGIC || st->cats == 0) {
        pr.uninit++;
        return;
    }
    if (st->owner == NOBODY) {
        st->owner = who;
        if (pr.nstates < MAXST) {
            pr.state[pr.nstates] = st;
            pr.owner[pr.nstates] = who;
        }
        pr.nstates++;
        pr.per_owner[who < 0 ? NN : who]++;
    } else if (st->owner != who) {
        pr.violations++;
    }
}

static int
probe_init(void *state, const ep_env *env, const ep_view *view, const ep_param *params, int n)
{
    (void)env;
    (void)view;
    (void)params;
    (void)n;
    probe_state *st = state;
    if (st->magic == MAGIC)
        pr.uninit++; /* initialized twice */
    st->magic = MAGIC;
    st->owner = NOBODY;
    pr.inits++;
    return 0;
}

static void
probe_categorize(void *state, const ep_view *view, int svc, ep_category *out)
{
    probe_state *st = state;
    if (st->magic != MAGIC || st->cats != svc)
        pr.uninit++; /* before init, or not once per service from service 0 */
    st->cats++;
    ep_category_default(view, svc, out);
}

/* One instance of service 0 per GPU; the same placement every period. */
static int
probe_place(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    probe_state *st = state;
    claim(st, CTRL);
    if (!st->armed) {
        env->timer_arm(env->host, 250 * EP_NS_PER_MS, 1000 + (uint64_t)(CTRL + 1));
        st->armed = 1;
    }
    if (st->placed) {
        out->unchanged = 1;
        return 0;
    }
    st->placed = 1;
    for (int d = 0; d < view->sc->ndevices; d++) {
        ep_instance_spec sp = {.service = 0, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {d}};
        int rc = ep_placement_add(out, &sp);
        if (rc)
            return rc;
    }
    return 0;
}

/* The ready instance of service s on node n, or -1. */
static int
instance_on(const ep_view *v, int s, int n)
{
    for (int i = 0; i < v->ninst; i++)
        if (v->inst[i].spec.service == s && v->inst[i].node == n && v->inst[i].ready)
            return v->inst[i].id;
    return -1;
}

/* Even nodes forward what enters them to the next node, which routes it again; odd nodes
 * serve locally, every third request on the next node's instance (dispatched there). */
static void
probe_route(void *state, const ep_env *env, const ep_view *view, const ep_request_info *req,
            ep_route *out)
{
    (void)env;
    claim(state, req->at_node);
    int n = req->at_node, nn = view->sc->nnodes;
    if (req->hops == 0 && n % 2 == 0) {
        out->kind = EP_ROUTE_FORWARD;
        out->node = (n + 1) % nn;
        pr.forwards++;
        return;
    }
    int i = instance_on(view, req->service, req->id % 3 == 0 ? (n + 1) % nn : n);
    if (i < 0) {
        out->kind = EP_ROUTE_REJECT;
        out->reason = "probe: no instance";
        return;
    }
    out->kind = EP_ROUTE_DISPATCH;
    out->instance = i;
}

static int
probe_pick_batch(void *state, const ep_env *env, const ep_view *view, int instance,
                 const ep_queue_view *q, int *drop_expired)
{
    probe_state *st = state;
    *drop_expired = 0;
    int node = -1;
    for (int i = 0; i < view->ninst; i++)
        if (view->inst[i].id == instance)
            node = view->inst[i].node;
    claim(st, node);
    if (!st->armed) {
        env->timer_arm(env->host, 100 * EP_NS_PER_MS, 1000 + (uint64_t)(node + 1));
        st->armed = 1;
    }
    return q->n < 4 ? q->n : 4;
}

static void
probe_on_timer(void *state, const ep_env *env, const ep_view *view, uint64_t cookie)
{
    (void)env;
    (void)view;
    int who = (int)(cookie - 1000) - 1; /* the owner of the state that armed it */
    claim(state, who);
    if (who == CTRL)
        pr.timers_ctrl++;
    else
        pr.timers_node++;
}

static void
probe_fini(void *state)
{
    const probe_state *st = state;
    if (st->magic == MAGIC)
        pr.finis++;
}

static const ep_policy_ops probe_ops = {
        .name = "probe-state",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(probe_state),
        .summary = "test: notes which policy state each call uses",
        .init = probe_init,
        .categorize = probe_categorize,
        .place = probe_place,
        .route = probe_route,
        .pick_batch = probe_pick_batch,
        .on_timer = probe_on_timer,
        .fini = probe_fini,
};

/* The view's rate of service 0 at the first placement: the prior before any arrival. */
static double first_rate = -1;

static int
rate_place(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    if (first_rate < 0)
        first_rate = view->rate[0];
    return probe_place(state, env, view, out);
}

static const ep_policy_ops rate_ops = {
        .name = "probe-rate",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(probe_state),
        .summary = "test: notes the rate the first placement sees",
        .init = probe_init,
        .categorize = probe_categorize,
        .place = rate_place,
        .route = probe_route,
        .pick_batch = probe_pick_batch,
        .on_timer = probe_on_timer,
        .fini = probe_fini,
};

/* --- the scenario: NN nodes, one GPU and one uplink each, requests entering at all ------- */

typedef struct cluster {
    fx f;
    ep_node node[NN];
    ep_device dev[NN];
    ep_link link[NN];
} cluster;

static void
cluster_init(cluster *c, const char *tag)
{
    fx *f = &c->f;
    fx_init(f, tag);
    for (int n = 0; n < NN; n++) {
        c->node[n] = f->node[0];
        snprintf(c->node[n].name, sizeof c->node[n].name, "n%d", n);
        c->node[n].dev0 = n;
        c->node[n].link = n;
        c->dev[n] = (ep_device){.node = n, .spec = 0};
        c->link[n] = f->link[0];
    }
    f->sc.nodes = c->node;
    f->sc.nnodes = NN;
    f->sc.devices = c->dev;
    f->sc.ndevices = NN;
    f->sc.links = c->link;
    f->sc.nlinks = NN;
    f->sc.run.placement_period = 5 * EP_NS_PER_S;
    ep_service *s = &f->svc[0];
    snprintf(s->name, sizeof s->name, "seg");
    s->kind = EP_SVC_DNN;
    s->weights_bytes = 55000000;
    s->flops_per_item = 62e9;
    s->max_batch = 8;
    s->input_bytes = 200000;
    s->slo.deadline = 100 * EP_NS_PER_MS;
    s->weight = 1;
    f->sc.nservices = 1;
    fx_poisson(f, "p", 400, 20, 5);
    fx_workload(f, "p");
    for (int n = 0; n < NN; n++)
        f->wl[0].ingress[n] = n;
    f->wl[0].ningress = NN;
}

/* --- tests --------------------------------------------------------------------------------- */

static void
test_each_hook_runs_on_the_state_of_the_node_that_makes_the_call(void **state)
{
    (void)state;
    cluster c;
    cluster_init(&c, "pstate");
    memset(&pr, 0, sizeof pr);
    ep_run_result res;
    assert_int_equal(fx_run_with(&c.f, &probe_ops, &res), 0);
    assert_true(res.requests > 5000);
    assert_true(res.completed > res.requests / 2);
    assert_true(res.forwarded > 1000); /* routed again at the next node */
    assert_true(pr.forwards > 1000);
    /* No state ever saw calls of two nodes (or a node and the controller). */
    assert_int_equal(pr.violations, 0);
    assert_int_equal(pr.uninit, 0);
    /* One state per node and the controller's: each initialized, used and finished once. */
    assert_int_equal(pr.inits, NN + 1);
    assert_int_equal(pr.finis, NN + 1);
    assert_int_equal(pr.nstates, NN + 1);
    for (int i = 0; i <= NN; i++)
        assert_int_equal(pr.per_owner[i], 1);
    /* Timers fire on the state that armed them: the controller's and the nodes'. */
    assert_int_equal(pr.timers_ctrl, 1);
    assert_int_equal(pr.timers_node, NN);
    ep_run_result_fini(&res);
    fx_fini(&c.f);
}

static int
drop_send(void *ctx, const ep_msg_request *req, int dst, int instance, ep_time deliver_at)
{
    (void)req;
    (void)dst;
    (void)instance;
    (void)deliver_at;
    (*(int *)ctx)++;
    return 0;
}

static ep_instance_spec placed[NN];
static int nplaced;

static void
keep_placement(void *ctx, int64_t epoch, const ep_instance_spec *inst, int n)
{
    (void)ctx;
    (void)epoch;
    nplaced = n < NN ? n : NN;
    memcpy(placed, inst, (size_t)nplaced * sizeof *inst);
}

/* A testbed process holds just its own state: the controller's places, node 2's routes
 * and batches. */
static void
test_a_testbed_process_holds_only_its_own_state(void **state)
{
    (void)state;
    cluster c;
    cluster_init(&c, "pstate_live");
    memset(&pr, 0, sizeof pr);
    int sent = 0;
    ep_live_opts o;
    memset(&o, 0, sizeof o);
    o.sim.traces = c.f.st;
    o.sim.policy_ops = &probe_ops;
    o.hooks.ctx = &sent;
    o.hooks.send = drop_send;
    o.hooks.on_placement = keep_placement;
    char err[256] = "";

    o.role = EP_LIVE_CONTROLLER;
    ep_live *ctl;
    assert_int_equal(ep_live_new(&c.f.sc, &o, &ctl, err, sizeof err), 0);
    assert_int_equal(pr.inits, 1);
    assert_int_equal(nplaced, NN);
    assert_int_equal(pr.nstates, 1);
    assert_int_equal(pr.owner[0], CTRL);
    assert_int_equal(ep_live_finish(ctl, NULL), 0);
    assert_int_equal(pr.finis, 1);

    memset(&pr, 0, sizeof pr);
    o.role = EP_LIVE_NODE;
    o.node = 2;
    ep_live *nd;
    assert_int_equal(ep_live_new(&c.f.sc, &o, &nd, err, sizeof err), 0);
    assert_int_equal(pr.inits, 1);
    assert_int_equal(ep_live_apply(nd, 0, placed, nplaced), 0);
    ep_msg_request q = {.id = 1,
                        .service = 0,
                        .ingress = 2,
                        .deadline = 100 * EP_NS_PER_MS,
                        .input = 200000,
                        .output = 1,
                        .bytes = 200000,
                        .stream = -1,
                        .frame = -1,
                        .trace_exec = -1};
    assert_int_equal(ep_live_arrival(nd, &q), 0); /* forwarded to node 3 */
    assert_int_equal(sent, 1);
    ep_msg_forward fw = {.req = q, .kind = EP_MSG_TO_NODE, .target = 2, .deliver_at = -1};
    fw.req.id = 4; /* handed back with a hop: node 2 serves it */
    fw.req.hops = 1;
    assert_int_equal(ep_live_forward_in(nd, &fw), 0);
    assert_int_equal(ep_live_advance(nd, 50 * EP_NS_PER_MS), 0);
    assert_int_equal(sent, 1);
    assert_int_equal(pr.violations, 0);
    assert_int_equal(pr.uninit, 0);
    assert_int_equal(pr.nstates, 1);
    assert_int_equal(pr.owner[0], 2);
    assert_int_equal(ep_live_finish(nd, NULL), 0);
    assert_int_equal(pr.finis, 1);
    fx_fini(&c.f);
}

/* A simulator log holds every node's calls; its replay keeps them on separate states, so a
 * policy whose routers keep per-node state (EPARA's round robin, its sent-work notes)
 * replays identically. */
static void
test_a_multi_node_log_replays_with_one_state_per_node(void **state)
{
    (void)state;
    cluster c;
    cluster_init(&c, "pstate_log");
    snprintf(c.f.sc.policy, sizeof c.f.sc.policy, "epara");
    ep_run_result plain;
    assert_int_equal(fx_run(&c.f, &plain), 0);
    FILE *log = tmpfile();
    assert_non_null(log);
    ep_run_opts o;
    memset(&o, 0, sizeof o);
    o.traces = c.f.st;
    o.policy_log = log;
    ep_run_result res;
    char err[256] = "";
    assert_int_equal(ep_sim_run(&c.f.sc, &o, &res, err, sizeof err), 0);
    assert_true(res.requests > 5000);
    assert_int_equal(res.event_hash, plain.event_hash); /* logging changes nothing */
    rewind(log);
    ep_replay_result rr;
    int rc = ep_policy_replay(&c.f.sc, log, "log", &rr, err, sizeof err);
    if (rc)
        fprintf(stderr, "%s\n", err);
    assert_int_equal(rc, 0);
    assert_int_equal(rr.states, NN + 1);
    assert_true(rr.routes >= res.requests);
    assert_true(rr.batches > 0);
    assert_true(rr.places >= 1);
    fclose(log);
    ep_run_result_fini(&res);
    ep_run_result_fini(&plain);
    fx_fini(&c.f);
}

/* A log of the format with one state for every node is refused, by name. */
static void
test_an_older_log_format_is_refused_with_a_clear_error(void **state)
{
    (void)state;
    cluster c;
    cluster_init(&c, "pstate_old");
    FILE *log = tmpfile();
    assert_non_null(log);
    char buf[4096];
    memset(buf, 0, sizeof buf);
    memcpy(buf, "EPPLOG2\n", 8);
    assert_int_equal(fwrite(buf, 1, sizeof buf, log), sizeof buf);
    rewind(log);
    ep_replay_result rr;
    char err[256] = "";
    assert_int_equal(ep_policy_replay(&c.f.sc, log, "old.plog", &rr, err, sizeof err), EP_EPARSE);
    assert_non_null(strstr(err, "EPPLOG2"));
    assert_non_null(strstr(err, "another format"));
    fclose(log);
    fx_fini(&c.f);
}

/* The prior rate before any arrival is the trace's rows over the period it repeats with: a
 * very bursty generated trace (Gamma, CV 20) puts its rows within a small part of the
 * generator's hour, and rows / span (the rule before) overstated its rate (to 3.6e9 req/s on
 * a 5-row trace whose rows came within 42 ns, which starved every other service of EPARA's
 * 50-node cluster study). */
static void
test_the_prior_rate_of_a_bursty_generated_trace_counts_its_whole_period(void **state)
{
    (void)state;
    cluster c;
    cluster_init(&c, "prior");
    ep_gen_spec g;
    ep_gen_spec_init(&g);
    g.kind = EP_GEN_GAMMA;
    g.rate_per_s = 0.01;
    g.cv = 20;
    g.duration = 3600 * EP_NS_PER_S;
    /* the first seed whose trace is one burst within less than half the hour */
    int64_t rows = 0;
    ep_trace_meta m;
    char name[32];
    for (g.seed = 1; g.seed < 200; g.seed++) {
        snprintf(name, sizeof name, "bursty%d", (int)g.seed);
        rows = fx_gen_trace(&c.f, name, &g);
        assert_int_equal(ep_trace_meta_get(c.f.st, name, &m), 0);
        if (rows >= 2 && (double)m.span < 0.5 * 3600e9)
            break;
    }
    fx_workload(&c.f, name);
    ep_trace_origin org = {.has_gen = 1, .gen = g};
    c.f.wl[0].origin = &org; /* the fixture's scenario is not ep_scenario_fini'd */
    c.f.sc.run.duration = 20 * EP_NS_PER_S;
    assert_true(rows >= 2 && (double)m.span < 0.5 * 3600e9); /* the premise: a burst */
    first_rate = -1;
    memset(&pr, 0, sizeof pr);
    ep_run_result res;
    assert_int_equal(fx_run_with(&c.f, &rate_ops, &res), 0);
    double want = (double)rows / 3600.0;
    assert_true(fabs(first_rate - want) <= 1e-6 * want);
    ep_run_result_fini(&res);
    fx_fini(&c.f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_each_hook_runs_on_the_state_of_the_node_that_makes_the_call),
            cmocka_unit_test(test_a_testbed_process_holds_only_its_own_state),
            cmocka_unit_test(test_a_multi_node_log_replays_with_one_state_per_node),
            cmocka_unit_test(test_an_older_log_format_is_refused_with_a_clear_error),
            cmocka_unit_test(
                    test_the_prior_rate_of_a_bursty_generated_trace_counts_its_whole_period),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
