/* Fault injection: while a node is down its queued and running requests are dropped and
 * arrivals at it are dropped; when it comes back its instances reload (load time) and
 * serve again, those placed on it while it was down included; every request still gets
 * exactly one record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "epara/core/profile.h"
#include "sim_fixture.h"

static void
test_node_down_drops_and_node_up_reloads(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "faults");
    ep_service *s = &f.svc[0];
    snprintf(s->name, sizeof s->name, "seg");
    s->kind = EP_SVC_DNN;
    s->weights_bytes = 2000000000; /* 1 s to load at 2 GB/s */
    s->flops_per_item = 62e9;
    s->max_batch = 4;
    s->input_bytes = 1000;
    s->slo.deadline = 100 * EP_NS_PER_MS;
    f.sc.nservices = 1;
    int64_t rows = fx_poisson(&f, "p", 200, 100, 3);
    fx_workload(&f, "p");
    ep_fault faults[] = {{.at = 30 * EP_NS_PER_S, .kind = EP_FAULT_NODE_DOWN, .target = 0},
                         {.at = 60 * EP_NS_PER_S, .kind = EP_FAULT_NODE_UP, .target = 0}};
    f.sc.faults = faults;
    f.sc.nfaults = 2;
    ep_run_result res;
    assert_int_equal(fx_run(&f, &res), 0);
    assert_int_equal((int64_t)f.nrecs, rows);
    ep_dur load = ep_cost_load(&f.sc, 0, 0, 1);
    assert_int_equal(load, EP_NS_PER_S);
    int64_t dropped = 0, done_after = 0;
    for (size_t i = 0; i < f.nrecs; i++) {
        const ep_record *r = &f.recs[i];
        if (r->arrival >= 30 * EP_NS_PER_S && r->arrival < 60 * EP_NS_PER_S) {
            assert_int_equal(r->outcome, EP_OUT_DROPPED);
            assert_non_null(strstr(r->reason, "down"));
        }
        if (r->outcome == EP_OUT_COMPLETED) {
            /* Nothing is served while the node is down or its instance reloads. */
            assert_false(r->done > 30 * EP_NS_PER_S && r->done < 60 * EP_NS_PER_S + load &&
                         r->dispatch >= 30 * EP_NS_PER_S);
            done_after += r->arrival >= 61 * EP_NS_PER_S;
        }
        dropped += r->outcome == EP_OUT_DROPPED;
    }
    assert_true(dropped >= 5000); /* ~30 s x 200 req/s */
    assert_true(done_after > 7000);
    assert_int_equal(res.dropped, dropped);
    ep_run_result_fini(&res);
    f.sc.faults = NULL;
    fx_fini(&f);
}

/* A policy that re-places its one instance in each of its first six rounds (alternating
 * max_batch makes it a new instance each time) on device 0, whether the node is up or not,
 * then keeps it, and dispatches to the newest ready instance. */
static int
flip_place(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    (void)env;
    (void)view;
    int *round = state;
    if (*round == 6) { /* from 60 s on: keep what there is */
        out->unchanged = 1;
        return 0;
    }
    ep_instance_spec sp = {.service = 0, .mode = EP_MODE_SINGLE, .ndev = 1};
    sp.max_batch = 1 + (*round)++ % 2;
    return ep_placement_add(out, &sp);
}

static void
flip_route(void *state, const ep_env *env, const ep_view *view, const ep_request_info *req,
           ep_route *out)
{
    (void)state;
    (void)env;
    (void)req;
    out->kind = EP_ROUTE_REJECT;
    out->reason = "no ready instance";
    for (int i = view->ninst - 1; i >= 0; i--)
        if (view->inst[i].ready && view->inst[i].active) {
            out->kind = EP_ROUTE_DISPATCH;
            out->instance = view->inst[i].id;
            return;
        }
}

static const ep_policy_ops flip_ops = {
        .name = "flip",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(int),
        .place = flip_place,
        .route = flip_route,
};

/* Node down from 30 s to 58 s; placements every 10 s put a new instance on it while it is
 * down (the one at 50 s would still be loading at 58 s: 10 s of weights). It loads once,
 * when the node is back, and serves from then on. */
static void
test_instances_placed_on_a_down_node_load_once_it_is_back(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "downplace");
    ep_service *s = &f.svc[0];
    snprintf(s->name, sizeof s->name, "big");
    s->kind = EP_SVC_DNN;
    s->weights_bytes = INT64_C(20000000000); /* 10 s to load at 2 GB/s */
    s->flops_per_item = 62e9;
    s->max_batch = 2;
    s->input_bytes = 1000;
    s->slo.deadline = 100 * EP_NS_PER_MS;
    f.sc.nservices = 1;
    f.sc.run.placement_period = 10 * EP_NS_PER_S;
    int64_t rows = fx_poisson(&f, "p", 20, 100, 4);
    fx_workload(&f, "p");
    ep_fault faults[] = {{.at = 30 * EP_NS_PER_S, .kind = EP_FAULT_NODE_DOWN, .target = 0},
                         {.at = 58 * EP_NS_PER_S, .kind = EP_FAULT_NODE_UP, .target = 0}};
    f.sc.faults = faults;
    f.sc.nfaults = 2;
    ep_run_result res;
    assert_int_equal(fx_run_with(&f, &flip_ops, &res), 0);
    assert_int_equal((int64_t)f.nrecs, rows);
    int64_t served_after = 0;
    for (size_t i = 0; i < f.nrecs; i++) {
        const ep_record *r = &f.recs[i];
        if (r->outcome != EP_OUT_COMPLETED)
            continue;
        /* Nothing runs while the node is down or before the instance placed at 50 s has
         * loaded (58 s + 10 s). */
        assert_false(r->dispatch >= 30 * EP_NS_PER_S && r->dispatch < 68 * EP_NS_PER_S);
        served_after += r->dispatch >= 68 * EP_NS_PER_S;
    }
    assert_true(served_after > 500);
    for (int d = 0; d < res.ndevices; d++) /* busy time never ran backwards */
        assert_true(res.device_busy_s[d] >= 0 && res.device_busy_s[d] <= res.sim_time_s);
    ep_run_result_fini(&res);
    f.sc.faults = NULL;
    fx_fini(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_node_down_drops_and_node_up_reloads),
            cmocka_unit_test(test_instances_placed_on_a_down_node_load_once_it_is_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
