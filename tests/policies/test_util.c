/* Policy helpers: SLO-bounded capacity and the LLM batch limit against direct evaluation of
 * the cost model, memory accounting over a placement, greedy batches. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"
#include "epara/experiments/scenario.h"

static const char yaml[] =
        "name: util\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: n, class: server, cores: 8, mem_gb: 64, devices: [gpu, gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: llm, kind: llm, params_b: 8.03, layers: 32, hidden: 4096,"
        " kv_kb_per_token: 128, slo: {ttft_ms: 2000, tpot_ms: 100}}\n"
        "  - {name: seg, kind: dnn, params_m: 27.5, gflops: 62, max_batch: 16,"
        " slo: {deadline_ms: 100}}\n";

static ep_dur
no_delay(const ep_view *v, int a, int b, int64_t bytes)
{
    (void)v;
    (void)a;
    (void)b;
    (void)bytes;
    return 0;
}

typedef struct fix {
    ep_scenario sc;
    ep_category cat[2];
    double in[2], out[2], rate[2];
    ep_view v;
} fix;

static void
fix_init(fix *f)
{
    memset(f, 0, sizeof *f);
    ep_parse_error pe;
    assert_int_equal(ep_scenario_load_text(yaml, strlen(yaml), "util", ".", &f->sc, &pe), 0);
    f->in[0] = 2000;
    f->out[0] = 30;
    f->v.sc = &f->sc;
    f->v.cat = f->cat;
    f->v.delay = no_delay;
    f->v.mean_input = f->in;
    f->v.mean_output = f->out;
    f->v.rate = f->rate;
}

static ep_instance_spec
single(int svc, int dev)
{
    ep_instance_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.service = svc;
    sp.mode = EP_MODE_SINGLE;
    sp.ndev = 1;
    sp.devs[0] = dev;
    return sp;
}

static void
test_llm_batch_limit_is_the_largest_batch_within_tpot(void **state)
{
    (void)state;
    fix f;
    fix_init(&f);
    ep_instance_spec sp = single(0, 0);
    /* With no arrivals, the limit is the largest batch whose decode step (at the mean
     * context in + out / 2 per request) fits the TPOT SLO. */
    int lim = ep_pol_llm_batch_limit(&f.v, &sp, 0, 1);
    assert_true(lim > 1);
    ep_dur at = ep_pol_llm_iteration(&f.v, &sp, 0, 0, lim, (int64_t)((2000 + 15) * lim));
    assert_true(at <= 100 * EP_NS_PER_MS || lim == ep_pol_max_batch(&f.v, &sp));
    if (lim < ep_pol_max_batch(&f.v, &sp)) {
        ep_dur over =
                ep_pol_llm_iteration(&f.v, &sp, 0, 0, lim + 1, (int64_t)((2000 + 15) * (lim + 1)));
        /* one more request breaks either the TPOT or the KV cache */
        assert_true(over > 100 * EP_NS_PER_MS ||
                    (double)(lim + 1) * 2030.0 > (double)ep_pol_kv_capacity(&f.v, &sp));
    }
    /* Arrivals stall decodes with their prefills: the limit shrinks as the rate grows. */
    int lim_busy = ep_pol_llm_batch_limit(&f.v, &sp, 1.0, 1);
    assert_true(lim_busy <= lim);
    /* At a rate whose prefills alone fill the instance no batch keeps the TPOT. */
    assert_true(ep_pol_llm_batch_limit(&f.v, &sp, 1e6, 1) == 0);
    /* Slowed by co-located instances (x4), each decode step takes longer: a smaller batch,
     * and none once a batch of one misses the TPOT (x8). */
    int lim_slow = ep_pol_llm_batch_limit(&f.v, &sp, 0, 4);
    assert_true(lim_slow >= 1 && lim_slow < lim);
    ep_dur d1 = ep_pol_llm_iteration(&f.v, &sp, 0, 0, 1, 2015);
    assert_true(d1 < 100 * EP_NS_PER_MS && 8 * d1 > 100 * EP_NS_PER_MS);
    assert_int_equal(ep_pol_llm_batch_limit(&f.v, &sp, 0, 8), 0);
    ep_scenario_fini(&f.sc);
}

static void
test_capacity_meets_the_slo_and_reports_its_batch(void **state)
{
    (void)state;
    fix f;
    fix_init(&f);
    ep_instance_spec sp = single(1, 0);
    int b = 0;
    double cap = ep_pol_capacity(&f.v, &sp, &b);
    assert_true(b >= 1 && b <= 16);
    /* worst case: one batch waited for and one run, within the 100 ms deadline */
    assert_true(2 * ep_pol_dnn_batch(&f.v, &sp, b, NULL) <= 100 * EP_NS_PER_MS);
    double want = (double)b / ((double)ep_pol_dnn_batch(&f.v, &sp, b, NULL) / 1e9);
    assert_true(cap > 0.999 * want && cap < 1.001 * want);
    ep_scenario_fini(&f.sc);
}

/* A prompt whose prefill leaves no room for queueing (p > TTFT / 2) is served lone: one
 * request at a time, at most as often as the next prefill, stalling the running request's
 * decode steps, keeps its TPOT: (1 - d / tpot) / p, below the busy server's 1 / (p + O d)
 * (before, that busy rate: a device whose TPOT only an idle instance meets looked able to
 * serve a request every p + O d). */
static void
test_a_lone_llm_request_rate_keeps_the_tpot_under_prefill_stalls(void **state)
{
    (void)state;
    fix f;
    fix_init(&f);
    f.in[0] = 8000;
    f.out[0] = 2;
    ep_instance_spec sp = single(0, 0);
    double p = (double)ep_pol_llm_iteration(&f.v, &sp, 8000, 8000.0 * 8000.0, 0, 0) / 1e9;
    double d = (double)ep_pol_llm_iteration(&f.v, &sp, 0, 0, 1, 8001) / 1e9;
    assert_true(p > 1.0 && p <= 2.0 && d < 0.1); /* the premise: lone, within the SLO */
    int b = 0;
    assert_true(ep_pol_capacity(&f.v, &sp, &b) == 0);
    double cap = ep_pol_capacity_at(&f.v, &sp, 1, -1, INFINITY, 1, &b, NULL);
    double stall = (1 - d / 0.1) / p, busy = 1 / (p + 2 * d);
    assert_true(stall < busy);
    assert_int_equal(b, 1);
    assert_true(cap > 0.999 * stall && cap < 1.001 * stall);
    ep_scenario_fini(&f.sc);
}

static void
test_free_memory_counts_only_active_instances(void **state)
{
    (void)state;
    fix f;
    fix_init(&f);
    ep_instance_view iv[2];
    memset(iv, 0, sizeof iv);
    iv[0].spec = single(0, 0);
    iv[0].active = 1;
    iv[1].spec = single(0, 1);
    iv[1].active = 0; /* retired: its memory is being given back */
    f.v.inst = iv;
    f.v.ninst = 2;
    double freem[2];
    ep_pol_free_memory(&f.v, freem);
    double usable = ep_pol_usable_mem(&f.sc, 0);
    double need = (double)ep_cost_instance_mem(&f.sc, 0, 1);
    assert_true(freem[0] > usable - need - 1 && freem[0] < usable - need + 1);
    assert_true(freem[1] > usable - 1);
    assert_true(ep_pol_fits(&f.v, &iv[1].spec, freem));
    ep_pol_take(&f.v, &iv[1].spec, freem);
    assert_false(ep_pol_fits(&f.v, &iv[1].spec, freem)); /* 17 GB twice exceeds 21.6 */
    ep_scenario_fini(&f.sc);
}

static void
test_greedy_batch_takes_the_queue_up_to_the_max_batch(void **state)
{
    (void)state;
    fix f;
    fix_init(&f);
    ep_instance_view iv;
    memset(&iv, 0, sizeof iv);
    iv.spec = single(1, 0);
    f.v.inst = &iv;
    f.v.ninst = 1;
    ep_queue_view q = {5, NULL, NULL};
    assert_int_equal(ep_pol_greedy_batch(&f.v, 0, &q), 5);
    q.n = 40;
    assert_int_equal(ep_pol_greedy_batch(&f.v, 0, &q), 16);
    iv.spec.max_batch = 4;
    assert_int_equal(ep_pol_greedy_batch(&f.v, 0, &q), 4);
    ep_scenario_fini(&f.sc);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_llm_batch_limit_is_the_largest_batch_within_tpot),
            cmocka_unit_test(test_capacity_meets_the_slo_and_reports_its_batch),
            cmocka_unit_test(test_a_lone_llm_request_rate_keeps_the_tpot_under_prefill_stalls),
            cmocka_unit_test(test_free_memory_counts_only_active_instances),
            cmocka_unit_test(test_greedy_batch_takes_the_queue_up_to_the_max_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
