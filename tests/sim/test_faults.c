/* Fault injection: while a node is down its queued and running requests are dropped and
 * arrivals at it are dropped; when it comes back its instances reload (load time) and
 * serve again; every request still gets exactly one record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "epara/profile.h"
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
    ep_gen_spec g;
    ep_gen_spec_init(&g);
    g.rate_per_s = 200;
    g.duration = 100 * EP_NS_PER_S;
    g.seed = 3;
    ep_trace_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "p");
    ep_trace_writer *w;
    assert_int_equal(ep_trace_writer_begin(f.st, &m, 0, &w), 0);
    ep_trace_writer_set_origin(w, 0);
    char err[128];
    assert_int_equal(ep_trace_generate(&g, ep_trace_writer_sink, w, err, sizeof err), 0);
    assert_int_equal(ep_trace_writer_commit(w, &m), 0);
    fx_workload(&f, "p");
    ep_fault faults[] = {{30 * EP_NS_PER_S, EP_FAULT_NODE_DOWN, 0},
                         {60 * EP_NS_PER_S, EP_FAULT_NODE_UP, 0}};
    f.sc.faults = faults;
    f.sc.nfaults = 2;
    ep_sim_result res;
    assert_int_equal(fx_run(&f, &res), 0);
    assert_int_equal((int64_t)f.nrecs, m.rows);
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
    ep_sim_result_fini(&res);
    f.sc.faults = NULL;
    fx_fini(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_node_down_drops_and_node_up_reloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
