/* offload (policies/offload.c): a request is served at its ingress node unless the local
 * instance would miss its deadline (or there is none); then it moves once to the
 * least-loaded node holding an instance, nearer first on ties; one replica per service per
 * node where it fits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "baseline_fixture.h"

/* Three GPU servers (a, b, c) and a micro node whose CPU meets no SLO. seg on the GPU: 10 ms
 * at batch 1, 40 ms at batch 8, so one GPU sustains 200/s within the 100 ms deadline. */
static const char yaml[] =
        "name: off\n"
        "run: {seed: 5, warmup_s: 0, cooldown_s: 0}\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
        "  - {name: cpu, kind: cpu, mem_gb: 8, mem_bw_gbps: 17, peak_tflops: 0.15}\n"
        "nodes:\n"
        "  - {name: a, class: server, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "  - {name: b, class: server, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "  - {name: c, class: server, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 1}}\n"
        "  - {name: pi, class: micro, cores: 4, mem_gb: 8, devices: [cpu],"
        " link: {bw_gbps: 0.1, latency_ms: 3}}\n"
        "services:\n"
        "  - {name: seg, kind: dnn, params_m: 27.5, gflops: 62, max_batch: 8,"
        " slo: {deadline_ms: 100}}\n"
        "profiles:\n"
        "  - {service: seg, device: gpu, batch: [1, 8], latency_ms: [10, 40]}\n"
        "workload:\n"
        "  - {trace: ta, service: seg, ingress: a}\n"
        "policy: offload\n";

enum { A = 0, B = 1, C = 2, PI = 3 };

/* The policy (admission: its parameter) with the placement it chose as the view's (ready,
 * idle) instances. */
static void
setup_placed(bf *f, const char *tag, int admission)
{
    assert_int_equal(bf_init(f, yaml, tag), 0);
    snprintf(f->sc.params[0].key, sizeof f->sc.params[0].key, "admission");
    snprintf(f->sc.params[0].value, sizeof f->sc.params[0].value, "%d", admission);
    f->sc.nparams = 1;
    double rate[1] = {20};
    bf_view(f, rate, NULL, NULL);
    assert_int_equal(bf_policy(f, "offload"), 0);
    ep_instance_spec buf[16];
    ep_placement p = {buf, 0, 16, 0};
    assert_int_equal(f->ops->place(f->pstate, &f->env, &f->view, &p), 0);
    /* One replica on each GPU node, none on the micro node (its CPU meets no SLO). */
    assert_int_equal(p.n, 3);
    for (int i = 0; i < p.n; i++) {
        assert_int_equal(p.inst[i].service, 0);
        assert_int_equal(p.inst[i].mode, EP_MODE_SINGLE);
        assert_int_equal(f->sc.devices[p.inst[i].devs[0]].node, i == 0 ? A : i == 1 ? B : C);
    }
    for (int i = 0; i < p.n; i++)
        bf_add_instance(f, &p.inst[i], 0);
    f->delay_ms[A][B] = 1;
    f->delay_ms[A][C] = 5;
    f->delay_ms[PI][B] = 4;
    f->delay_ms[PI][C] = 8;
    f->env.now = 1000 * EP_NS_PER_MS;
    for (int i = 0; i < f->view.ninst; i++)
        f->inst[i].synced_at = f->env.now;
}

static ep_route
route_at(bf *f, int node, int hops)
{
    ep_request_info r = {.id = 1,
                         .service = 0,
                         .ingress = hops ? A : node,
                         .at_node = node,
                         .hops = hops,
                         .arrival = f->env.now,
                         .deadline = f->env.now + 100 * EP_NS_PER_MS,
                         .input = 200000,
                         .bytes = 200000};
    ep_route out = {EP_ROUTE_REJECT, -1, -1, NULL};
    f->ops->route(f->pstate, &f->env, &f->view, &r, &out);
    return out;
}

static void
set_backlogs(bf *f, int a_ms, int b_ms, int c_ms)
{
    f->inst[0].backlog = a_ms * EP_NS_PER_MS;
    f->inst[1].backlog = b_ms * EP_NS_PER_MS;
    f->inst[2].backlog = c_ms * EP_NS_PER_MS;
}

static void
test_route_serves_locally_when_the_local_instance_meets_the_deadline(void **state)
{
    (void)state;
    bf f;
    setup_placed(&f, "off_local", 1);
    set_backlogs(&f, 60, 0, 0); /* 60 + 10 ms <= 100 ms: not overloaded, even if b is idle */
    ep_route r = route_at(&f, A, 0);
    assert_int_equal(r.kind, EP_ROUTE_DISPATCH);
    assert_int_equal(r.instance, 0);
    bf_fini(&f);
}

static void
test_route_forwards_an_overloaded_request_to_the_least_loaded_node(void **state)
{
    (void)state;
    bf f;
    setup_placed(&f, "off_fwd", 1);
    set_backlogs(&f, 200, 50, 20); /* a would finish at 210 ms; c is least loaded */
    ep_route r = route_at(&f, A, 0);
    assert_int_equal(r.kind, EP_ROUTE_FORWARD);
    assert_int_equal(r.node, C);
    /* Equal loads: the nearer node (b, 1 ms) wins over c (5 ms). */
    set_backlogs(&f, 200, 20, 20);
    r = route_at(&f, A, 0);
    assert_int_equal(r.kind, EP_ROUTE_FORWARD);
    assert_int_equal(r.node, B);
    /* A node with no instance forwards every request, to the least-loaded one. */
    set_backlogs(&f, 50, 30, 10);
    r = route_at(&f, PI, 0);
    assert_int_equal(r.kind, EP_ROUTE_FORWARD);
    assert_int_equal(r.node, C);
    bf_fini(&f);
}

static void
test_route_never_forwards_past_the_hop_limit(void **state)
{
    (void)state;
    bf f;
    setup_placed(&f, "off_hops", 0);
    set_backlogs(&f, 200, 0, 0);
    ep_route r = route_at(&f, A, 1); /* already forwarded once: stays, overloaded or not */
    assert_int_equal(r.kind, EP_ROUTE_DISPATCH);
    assert_int_equal(r.instance, 0);
    r = route_at(&f, PI, 1); /* forwarded to a node without an instance: rejected */
    assert_int_equal(r.kind, EP_ROUTE_REJECT);
    assert_non_null(r.reason);
    /* Without admission control a request nowhere in time still goes to the least loaded. */
    set_backlogs(&f, 500, 400, 300);
    r = route_at(&f, A, 0);
    assert_int_equal(r.kind, EP_ROUTE_FORWARD);
    assert_int_equal(r.node, C);
    bf_fini(&f);
}

static void
test_route_rejects_what_no_node_can_finish_in_time(void **state)
{
    (void)state;
    bf f;
    setup_placed(&f, "off_adm", 1);
    set_backlogs(&f, 500, 400, 300);
    ep_route r = route_at(&f, A, 0);
    assert_int_equal(r.kind, EP_ROUTE_REJECT);
    assert_non_null(r.reason);
    set_backlogs(&f, 200, 0, 0); /* at the hop limit, late: rejected rather than run late */
    r = route_at(&f, A, 1);
    assert_int_equal(r.kind, EP_ROUTE_REJECT);
    bf_fini(&f);
}

/* Under memory pressure every service gets a replica before any gets a second. */
static void
test_place_replicates_every_service_before_any_twice(void **state)
{
    (void)state;
    static const char y[] =
            "name: offmem\n"
            "devices:\n"
            "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
            "nodes:\n"
            "  - {name: n, class: server, count: 3, cores: 8, mem_gb: 64, devices: [gpu],"
            " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
            "services:\n"
            "  - {name: X, kind: dnn, weights_gb: 15, gflops: 10, slo: {deadline_ms: 100}}\n"
            "  - {name: Y, kind: dnn, weights_gb: 15, gflops: 10, slo: {deadline_ms: 100}}\n"
            "  - {name: Z, kind: dnn, weights_gb: 30, gflops: 10, slo: {deadline_ms: 100}}\n"
            "workload:\n"
            "  - {trace: tx, service: X, ingress: n-1}\n"
            "  - {trace: ty, service: Y, ingress: n-1}\n";
    bf f;
    assert_int_equal(bf_init(&f, y, "off_mem"), 0);
    double rate[3] = {10, 30, 5};
    bf_view(&f, rate, NULL, NULL);
    assert_int_equal(bf_policy(&f, "offload"), 0);
    ep_instance_spec buf[16];
    ep_placement p = {buf, 0, 16, 0};
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    /* One 15 GB model per 24 GB GPU: Y (more demand) at its ingress n-1, X at the next
     * node, then Y again; Z (30 GB) fits nowhere. */
    assert_int_equal(p.n, 3);
    int node_of[3][3] = {{0}};
    for (int i = 0; i < p.n; i++)
        node_of[p.inst[i].service][f.sc.devices[p.inst[i].devs[0]].node]++;
    assert_int_equal(node_of[1][0], 1);
    assert_int_equal(node_of[0][1], 1);
    assert_int_equal(node_of[1][2], 1);
    assert_int_equal(node_of[2][0] + node_of[2][1] + node_of[2][2], 0);
    /* Placed once: later periods keep it. */
    p.n = 0;
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    assert_true(p.unchanged);
    bf_fini(&f);
}

typedef struct tally {
    int64_t n, hops0, hops1, more, met, on[4];
} tally;

static tally
run_at_rate(bf *f, const char *tag, double rate)
{
    assert_int_equal(bf_init(f, yaml, tag), 0);
    assert_int_equal(bf_poisson(f, "ta", rate, 20, 11, 200000), 0);
    ep_run_result res;
    assert_int_equal(bf_run(f, "offload", &res), 0);
    assert_int_equal((int64_t)f->nrecs, res.requests);
    tally t;
    memset(&t, 0, sizeof t);
    unsigned char *seen = calloc(f->nrecs + 1, 1);
    assert_non_null(seen);
    for (size_t i = 0; i < f->nrecs; i++) {
        const ep_record *r = &f->recs[i];
        assert_true(r->id < f->nrecs);
        assert_false(seen[r->id]); /* exactly one record per request */
        seen[r->id] = 1;
        assert_int_equal(r->ingress, A);
        t.n++;
        t.hops0 += r->hops == 0;
        t.hops1 += r->hops == 1;
        t.more += r->hops > 1;
        t.met += r->slo_met;
        if (r->outcome == EP_OUT_COMPLETED) {
            assert_true(r->node >= A && r->node <= C);
            /* Served where it entered, or one hop away. */
            assert_int_equal(r->hops, r->node == A ? 0 : 1);
            t.on[r->node]++;
        }
    }
    free(seen);
    assert_int_equal(res.forwarded, t.hops1);
    ep_run_result_fini(&res);
    return t;
}

static void
test_unloaded_requests_are_served_at_their_ingress(void **state)
{
    (void)state;
    bf f;
    tally t = run_at_rate(&f, "off_light", 20);
    assert_true(t.n > 300);
    assert_int_equal(t.hops0, t.n);
    assert_int_equal(t.on[A], t.n);
    assert_int_equal(t.met, t.n);
    bf_fini(&f);
}

static void
test_overload_is_offloaded_once_to_other_nodes(void **state)
{
    (void)state;
    bf f;
    /* 400/s: twice what node a's GPU sustains within the deadline. */
    tally t = run_at_rate(&f, "off_heavy", 400);
    assert_true(t.n > 7000);
    assert_int_equal(t.more, 0);
    assert_true(t.hops1 > t.n / 4);
    assert_true(t.on[A] > t.n / 4);
    assert_true(t.on[B] > 0 && t.on[C] > 0);
    assert_true(t.met > 0.9 * (double)t.n); /* three GPUs carry it */
    bf_fini(&f);
}

static void
test_same_seed_gives_identical_runs(void **state)
{
    (void)state;
    bf a, b;
    tally ta = run_at_rate(&a, "off_det_a", 400);
    tally tb = run_at_rate(&b, "off_det_b", 400);
    assert_memory_equal(&ta, &tb, sizeof ta);
    assert_int_equal(a.nrecs, b.nrecs);
    assert_memory_equal(a.recs, b.recs, a.nrecs * sizeof *a.recs);
    bf_fini(&a);
    bf_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_route_serves_locally_when_the_local_instance_meets_the_deadline),
            cmocka_unit_test(test_route_forwards_an_overloaded_request_to_the_least_loaded_node),
            cmocka_unit_test(test_route_never_forwards_past_the_hop_limit),
            cmocka_unit_test(test_route_rejects_what_no_node_can_finish_in_time),
            cmocka_unit_test(test_place_replicates_every_service_before_any_twice),
            cmocka_unit_test(test_unloaded_requests_are_served_at_their_ingress),
            cmocka_unit_test(test_overload_is_offloaded_once_to_other_nodes),
            cmocka_unit_test(test_same_seed_gives_identical_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
