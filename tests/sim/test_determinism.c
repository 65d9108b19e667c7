/* Determinism: the same scenario and seed give identical results and the same event-log
 * hash; a different workload gives a different hash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sim_fixture.h"

static void
setup_run(fx *f, const char *tag, uint64_t seed)
{
    fx_init(f, tag);
    ep_service *s = &f->svc[0];
    snprintf(s->name, sizeof s->name, "seg");
    s->kind = EP_SVC_DNN;
    s->weights_bytes = 55000000;
    s->flops_per_item = 62e9;
    s->act_bytes_per_item = 8000000;
    s->max_batch = 8;
    s->input_bytes = 200000;
    s->slo.deadline = 100 * EP_NS_PER_MS;
    s->weight = 1;
    f->sc.nservices = 1;
    ep_gen_spec g;
    ep_gen_spec_init(&g);
    g.kind = EP_GEN_GAMMA;
    g.cv = 3;
    g.rate_per_s = 300;
    g.seed = seed;
    g.duration = 60 * EP_NS_PER_S;
    fx_gen_trace(f, "g", &g);
    fx_workload(f, "g");
}

static void
test_same_scenario_and_seed_give_identical_results_and_hash(void **state)
{
    (void)state;
    fx a, b, c;
    ep_run_result ra, rb, rc;
    setup_run(&a, "det_a", 7);
    setup_run(&b, "det_b", 7);
    setup_run(&c, "det_c", 8);
    assert_int_equal(fx_run(&a, &ra), 0);
    assert_int_equal(fx_run(&b, &rb), 0);
    assert_int_equal(fx_run(&c, &rc), 0);
    assert_true(ra.requests > 10000);
    assert_int_equal(ra.event_hash, rb.event_hash);
    assert_int_equal(ra.events, rb.events);
    assert_int_equal(ra.slo_met, rb.slo_met);
    assert_true(ra.p99_latency_s == rb.p99_latency_s);
    assert_int_equal(a.nrecs, b.nrecs);
    assert_memory_equal(a.recs, b.recs, a.nrecs * sizeof *a.recs);
    assert_true(ra.event_hash != rc.event_hash);
    ep_run_result_fini(&ra);
    ep_run_result_fini(&rb);
    ep_run_result_fini(&rc);
    fx_fini(&a);
    fx_fini(&b);
    fx_fini(&c);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_same_scenario_and_seed_give_identical_results_and_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
