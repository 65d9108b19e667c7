/* adainf (policies/adainf.c): every node serves only the requests that enter it; its devices
 * are split among those services by SLO need (co-location, data-parallel replicas, batch
 * sizes), re-planned from the demand each node sees; nodes that meet no SLO reject. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "baseline_fixture.h"

/* s1: one big GPU, receives segA and segB; s2: two small GPUs, receives segB; pi: a CPU that
 * meets no SLO, receives segA. Profiles make the SLO capacities exact: segA on big 400/s at
 * batch 8, segB on big 1000/s at batch 8, segB on small 230/s at batch 5 (2 t(b) <= 50 ms). */
static const char yaml[] =
        "name: ada\n"
        "run: {seed: 3, warmup_s: 0, cooldown_s: 0, placement_period_s: 10}\n"
        "devices:\n"
        "  - {name: big, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
        "  - {name: small, kind: gpu, mem_gb: 8, mem_bw_gbps: 200, peak_tflops: 20}\n"
        "  - {name: cpu, kind: cpu, mem_gb: 8, mem_bw_gbps: 17, peak_tflops: 0.15}\n"
        "nodes:\n"
        "  - {name: s1, class: server, cores: 16, mem_gb: 64, devices: [big],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "  - {name: s2, class: embedded, cores: 8, mem_gb: 32, devices: [small, small],"
        " link: {bw_gbps: 1, latency_ms: 0.3}}\n"
        "  - {name: pi, class: micro, cores: 4, mem_gb: 8, devices: [cpu],"
        " link: {bw_gbps: 0.1, latency_ms: 3}}\n"
        "services:\n"
        "  - {name: segA, kind: dnn, params_m: 27.5, gflops: 62, max_batch: 8,"
        " slo: {deadline_ms: 100}}\n"
        "  - {name: segB, kind: dnn, params_m: 3.8, gflops: 8.4, max_batch: 8,"
        " slo: {deadline_ms: 50}}\n"
        "profiles:\n"
        "  - {service: segA, device: big, batch: [1, 8], latency_ms: [5, 20]}\n"
        "  - {service: segB, device: big, batch: [1, 8], latency_ms: [2, 8]}\n"
        "  - {service: segB, device: small, batch: [1, 8], latency_ms: [8, 32]}\n"
        "workload:\n"
        "  - {trace: tA, service: segA, ingress: [s1, pi]}\n"
        "  - {trace: tB1, service: segB, ingress: s1}\n"
        "  - {trace: tB2, service: segB, ingress: s2}\n"
        "policy: adainf\n";

enum { S1 = 0, S2 = 1, PI = 2, SEGA = 0, SEGB = 1 };

static int
count_on(const ep_placement *p, int svc, int node, const ep_scenario *sc)
{
    int n = 0;
    for (int i = 0; i < p->n; i++)
        n += p->inst[i].service == svc && sc->devices[p->inst[i].devs[0]].node == node;
    return n;
}

static const ep_instance_spec *
find_on(const ep_placement *p, int svc, int node, const ep_scenario *sc)
{
    for (int i = 0; i < p->n; i++)
        if (p->inst[i].service == svc && sc->devices[p->inst[i].devs[0]].node == node)
            return &p->inst[i];
    return NULL;
}

static void
test_place_splits_each_node_among_the_services_entering_it(void **state)
{
    (void)state;
    bf f;
    assert_int_equal(bf_init(&f, yaml, "ada_place"), 0);
    /* segA 50/s: 25 at s1, 25 at pi; segB 800/s: 400 at s1 (tB1), 400 at s2 (tB2). */
    double rate[2] = {50, 800};
    bf_view(&f, rate, NULL, NULL);
    assert_int_equal(bf_policy(&f, "adainf"), 0);
    ep_instance_spec buf[64];
    ep_placement p = {buf, 0, 64, 0};
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    assert_false(p.unchanged);
    /* s1: both services co-located on its one GPU (MT), one replica each. */
    assert_int_equal(count_on(&p, SEGA, S1, &f.sc), 1);
    assert_int_equal(count_on(&p, SEGB, S1, &f.sc), 1);
    const ep_instance_spec *a = find_on(&p, SEGA, S1, &f.sc), *b = find_on(&p, SEGB, S1, &f.sc);
    assert_int_equal(a->devs[0], b->devs[0]);
    assert_int_equal(a->mode, EP_MODE_MT);
    assert_int_equal(b->mode, EP_MODE_MT);
    /* s2: segB needs 400 / 230 = 1.7 small GPUs: a replica on each device, no segA. */
    assert_int_equal(count_on(&p, SEGB, S2, &f.sc), 2);
    assert_int_equal(count_on(&p, SEGA, S2, &f.sc), 0);
    int d0 = -1;
    for (int i = 0; i < p.n; i++)
        if (p.inst[i].service == SEGB && f.sc.devices[p.inst[i].devs[0]].node == S2) {
            assert_int_equal(p.inst[i].mode, EP_MODE_SINGLE);
            assert_int_not_equal(p.inst[i].devs[0], d0);
            d0 = p.inst[i].devs[0];
            assert_int_equal(p.inst[i].max_batch, 5); /* 2 t(5) = 43 ms, 2 t(6) = 50.3 ms */
        }
    /* pi: the CPU meets neither SLO, nothing placed. */
    assert_int_equal(count_on(&p, SEGA, PI, &f.sc) + count_on(&p, SEGB, PI, &f.sc), 0);
    /* Batches on s1: the largest whose worst case, slowed by 2 co-located instances, fits. */
    double slow = ep_cost_mt_slowdown(&f.sc, 2);
    for (int k = 0; k < 2; k++) {
        const ep_instance_spec *sp = k ? b : a;
        ep_dur limit = f.sc.services[sp->service].slo.deadline;
        ep_dur t = ep_cost_dnn_batch(&f.sc, sp->service, 0, sp->max_batch);
        assert_true(2.0 * (double)t * slow <= (double)limit);
        if (sp->max_batch < f.sc.services[sp->service].max_batch) {
            ep_dur t1 = ep_cost_dnn_batch(&f.sc, sp->service, 0, sp->max_batch + 1);
            assert_true(2.0 * (double)t1 * slow > (double)limit);
        }
    }
    bf_fini(&f);
}

static void
test_replans_from_the_demand_each_node_counts(void **state)
{
    (void)state;
    bf f;
    assert_int_equal(bf_init(&f, yaml, "ada_replan"), 0);
    double rate[2] = {50, 80}; /* segB 40/s at s2: one small GPU is enough */
    bf_view(&f, rate, NULL, NULL);
    assert_int_equal(bf_policy(&f, "adainf"), 0);
    ep_instance_spec buf[64];
    ep_placement p = {buf, 0, 64, 0};
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    assert_int_equal(count_on(&p, SEGB, S2, &f.sc), 1);
    /* 30 s of segB arrivals at s2 at 1200/s, seen by the router there (no instance in this
     * view: each is rejected, never sent elsewhere), then the next placement. */
    for (int i = 0; i < 36000; i++) {
        f.env.now = (ep_time)i * (30 * EP_NS_PER_S / 36000);
        ep_request_info r = {.id = (uint64_t)i,
                             .service = SEGB,
                             .ingress = S2,
                             .at_node = S2,
                             .arrival = f.env.now,
                             .deadline = f.env.now + 50 * EP_NS_PER_MS,
                             .input = 1000,
                             .bytes = 1000};
        ep_route out = {EP_ROUTE_DISPATCH, 0, 0, NULL};
        f.ops->route(f.pstate, &f.env, &f.view, &r, &out);
        assert_int_equal(out.kind, EP_ROUTE_REJECT);
    }
    f.env.now = 30 * EP_NS_PER_S;
    p.n = 0;
    p.unchanged = 0;
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    assert_false(p.unchanged);
    /* EWMA 0.25 x 1200 + 0.75 x 40 = 330/s > 230/s: a second replica on s2. */
    assert_int_equal(count_on(&p, SEGB, S2, &f.sc), 2);
    assert_int_equal(count_on(&p, SEGB, S1, &f.sc), 1); /* s1 is left as it was */
    bf_fini(&f);
}

/* One 24 GB GPU cannot hold both 15 GB models: the one with more weighted demand stays. */
static void
check_memory_priority(double weight_x, int expect_svc)
{
    char y[2048];
    snprintf(y, sizeof y,
             "name: mem\n"
             "devices:\n"
             "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
             "nodes:\n"
             "  - {name: n, class: server, cores: 8, mem_gb: 64, devices: [gpu],"
             " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
             "services:\n"
             "  - {name: X, kind: dnn, weights_gb: 15, gflops: 10, weight: %g,"
             " slo: {deadline_ms: 100}}\n"
             "  - {name: Y, kind: dnn, weights_gb: 15, gflops: 10, slo: {deadline_ms: 100}}\n"
             "workload:\n"
             "  - {trace: tx, service: X, ingress: n}\n"
             "  - {trace: ty, service: Y, ingress: n}\n",
             weight_x);
    bf f;
    assert_int_equal(bf_init(&f, y, "ada_mem"), 0);
    double rate[2] = {10, 30};
    bf_view(&f, rate, NULL, NULL);
    assert_int_equal(bf_policy(&f, "adainf"), 0);
    ep_instance_spec buf[16];
    ep_placement p = {buf, 0, 16, 0};
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.inst[0].service, expect_svc);
    assert_int_equal(p.inst[0].mode, EP_MODE_SINGLE);
    bf_fini(&f);
}

static void
test_short_memory_keeps_the_services_with_more_weighted_demand(void **state)
{
    (void)state;
    check_memory_priority(1, 1); /* Y: 30/s beats X: 10/s */
    check_memory_priority(5, 0); /* X weighted 5: 50 beats 30 */
}

static void
write_traces(bf *f)
{
    assert_int_equal(bf_poisson(f, "tA", 50, 30, 1, 200000), 0);
    assert_int_equal(bf_poisson(f, "tB1", 400, 30, 2, 50000), 0);
    assert_int_equal(bf_poisson(f, "tB2", 400, 30, 3, 50000), 0);
}

static void
test_requests_are_served_only_at_their_ingress_node(void **state)
{
    (void)state;
    bf f;
    assert_int_equal(bf_init(&f, yaml, "ada_sim"), 0);
    write_traces(&f);
    ep_sim_result res;
    assert_int_equal(bf_run(&f, "adainf", &res), 0);
    assert_true(res.requests > 20000);
    assert_int_equal((int64_t)f.nrecs, res.requests);
    assert_int_equal(res.forwarded, 0);
    unsigned char *seen = calloc(f.nrecs, 1);
    assert_non_null(seen);
    int64_t done[3][2] = {{0}}, met[3][2] = {{0}}, pi_rejected = 0;
    int inst_s2[8], ninst_s2 = 0;
    for (size_t i = 0; i < f.nrecs; i++) {
        const ep_record *r = &f.recs[i];
        assert_true(r->id < f.nrecs);
        assert_false(seen[r->id]); /* exactly one record per request */
        seen[r->id] = 1;
        assert_int_equal(r->hops, 0);
        if (r->outcome == EP_OUT_COMPLETED || r->node >= 0)
            assert_int_equal(r->node, r->ingress);
        if (r->ingress == PI) {
            assert_int_equal(r->outcome, EP_OUT_REJECTED);
            assert_non_null(r->reason);
            pi_rejected++;
            continue;
        }
        if (r->outcome == EP_OUT_COMPLETED) {
            done[r->ingress][r->service]++;
            met[r->ingress][r->service] += r->slo_met;
            if (r->ingress == S2) {
                int k = 0;
                while (k < ninst_s2 && inst_s2[k] != r->instance)
                    k++;
                if (k == ninst_s2 && ninst_s2 < 8)
                    inst_s2[ninst_s2++] = r->instance;
            }
        }
    }
    for (size_t i = 0; i < f.nrecs; i++)
        assert_true(seen[i]);
    free(seen);
    assert_true(pi_rejected > 500);
    /* s1 serves both of its services, s2 its segB on both devices, within the SLO. */
    assert_true(done[S1][SEGA] > 500 && done[S1][SEGB] > 8000 && done[S2][SEGB] > 8000);
    assert_int_equal(done[S2][SEGA], 0);
    assert_true(ninst_s2 >= 2);
    assert_true(met[S1][SEGA] > 0.95 * (double)done[S1][SEGA]);
    assert_true(met[S1][SEGB] > 0.95 * (double)done[S1][SEGB]);
    assert_true(met[S2][SEGB] > 0.95 * (double)done[S2][SEGB]);
    ep_sim_result_fini(&res);
    bf_fini(&f);
}

static void
test_same_seed_gives_identical_runs(void **state)
{
    (void)state;
    bf a, b;
    assert_int_equal(bf_init(&a, yaml, "ada_det_a"), 0);
    assert_int_equal(bf_init(&b, yaml, "ada_det_b"), 0);
    write_traces(&a);
    write_traces(&b);
    ep_sim_result ra, rb;
    assert_int_equal(bf_run(&a, "adainf", &ra), 0);
    assert_int_equal(bf_run(&b, "adainf", &rb), 0);
    assert_int_equal(ra.event_hash, rb.event_hash);
    assert_int_equal(ra.slo_met, rb.slo_met);
    assert_int_equal(ra.placements, rb.placements);
    assert_int_equal(a.nrecs, b.nrecs);
    assert_memory_equal(a.recs, b.recs, a.nrecs * sizeof *a.recs);
    ep_sim_result_fini(&ra);
    ep_sim_result_fini(&rb);
    bf_fini(&a);
    bf_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_place_splits_each_node_among_the_services_entering_it),
            cmocka_unit_test(test_replans_from_the_demand_each_node_counts),
            cmocka_unit_test(test_short_memory_keeps_the_services_with_more_weighted_demand),
            cmocka_unit_test(test_requests_are_served_only_at_their_ingress_node),
            cmocka_unit_test(test_same_seed_gives_identical_runs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
