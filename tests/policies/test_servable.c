/* Requests no placement can serve (ep_servable_*, ep_arrivals_unservable): a prompt whose
 * prefill alone is longer than the TTFT on every device group, a prompt and output larger
 * than every group's KV cache, a model no group holds, a DNN slower than its deadline; the
 * bound leaves them out of its demand, so no policy beats it, and the simulator counts them
 * before the run. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "epara/node/arrivals.h"
#include "epara/experiments/bound.h"
#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/experiments/scenario.h"
#include "epara/sim/sim.h"
#include "epara/traces/store.h"

/* Two servers with two RTX-4090-class GPUs each (PCIe), one Jetson; an 8B LLM with a 1 s
 * TTFT, a 70B LLM (140 GB: only a pipeline over many devices holds it, and nothing here has
 * that much), a DNN whose batch of one takes longer than its deadline. */
static const char yaml[] =
        "name: servable\n"
        "run: {seed: 1, warmup_s: 0, cooldown_s: 0, placement_period_s: 10}\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "  - {name: orin, kind: gpu, mem_gb: 32, mem_bw_gbps: 204.8, peak_tflops: 42}\n"
        "nodes:\n"
        "  - {name: server, class: server, count: 2, cores: 32, mem_gb: 128,"
        " devices: [gpu, gpu], link: {bw_gbps: 10, latency_ms: 0.1}, intra_gbps: 25}\n"
        "  - {name: jetson, class: embedded, count: 1, cores: 12, mem_gb: 32,"
        " devices: [orin], link: {bw_gbps: 1, latency_ms: 0.3}}\n"
        "services:\n"
        "  - {name: llm, kind: llm, params_b: 8, layers: 32, hidden: 4096,"
        " kv_kb_per_token: 128, slo: {ttft_ms: 1000, tpot_ms: 100}}\n"
        "  - {name: huge, kind: llm, params_b: 70, layers: 80, hidden: 8192,"
        " kv_kb_per_token: 320, slo: {ttft_ms: 5000, tpot_ms: 200}}\n"
        "  - {name: slow, kind: dnn, params_m: 100, gflops: 100000, input_kb: 10,"
        " max_batch: 1, slo: {deadline_ms: 10}}\n"
        "workload:\n"
        "  - {trace: prompts, service: llm, ingress: server}\n";

typedef struct fixture {
    ep_scenario sc;
    ep_store *st;
    char db[64];
} fixture;

/* Rows of trace `prompts`, one a second: input and output tokens of each. */
static void
write_prompts(fixture *f, const int64_t *in, const int64_t *out, int n)
{
    ep_trace_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "prompts");
    ep_trace_writer *w;
    assert_int_equal(ep_trace_writer_begin(f->st, &m, 0, &w), 0);
    ep_trace_writer_set_origin(w, 0);
    for (int i = 0; i < n; i++) {
        ep_trace_row r;
        ep_trace_row_clear(&r);
        r.arrival = (ep_time)i * EP_NS_PER_S;
        r.input = in[i];
        r.output = out[i];
        assert_int_equal(ep_trace_writer_add(w, &r), 0);
    }
    assert_int_equal(ep_trace_writer_commit(w, NULL), 0);
}

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    ep_parse_error pe;
    assert_int_equal(ep_scenario_load_text(yaml, strlen(yaml), "servable", ".", &f->sc, &pe), 0);
    snprintf(f->db, sizeof f->db, "test_servable_%ld.db", (long)getpid());
    remove(f->db);
    assert_int_equal(ep_store_open(f->db, 0, &f->st, NULL, 0), 0);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    ep_store_close(f->st);
    remove(f->db);
    ep_scenario_fini(&f->sc);
    free(f);
    return 0;
}

static void
test_verdicts_name_what_no_device_group_can_do(void **state)
{
    fixture *f = *state;
    ep_servable *v;
    assert_int_equal(ep_servable_new(&f->sc, &v), 0);
    /* 1,000 tokens: 16 TFLOP-ms of prefill, well inside 1 s on one GPU. */
    assert_int_equal(ep_servable_check(v, 0, 1000, 200, EP_TRACE_NONE), EP_SERVABLE);
    /* 2,000,000 tokens x 128 kB = 256 GB of KV: more than all five devices hold. */
    assert_int_equal(ep_servable_check(v, 0, 2000000, 10, EP_TRACE_NONE), EP_UNSERVABLE_KV);
    /* 200,000 tokens (26 GB of KV): a pipeline over all five devices would hold it, but its
     * prefill (~3e15 FLOP) is far over the TTFT anywhere. */
    assert_int_equal(ep_servable_check(v, 0, 200000, 10, EP_TRACE_NONE), EP_UNSERVABLE_TTFT);
    /* 20,000 tokens (2.6 GB of KV fits): 2 x 8e9 x 2e4 = 3.2e14 FLOP, over 1 s even with
     * tensor parallelism over a server's two GPUs. */
    assert_int_equal(ep_servable_check(v, 0, 20000, 10, EP_TRACE_NONE), EP_UNSERVABLE_TTFT);
    /* 140 GB of weights: 5 x 24 GB x 0.9 + 32 GB x 0.9 < 140 GB. */
    assert_int_equal(ep_servable_check(v, 1, 100, 10, EP_TRACE_NONE), EP_UNSERVABLE_MEMORY);
    /* 100 TFLOP per item: ~1.5 s on a GPU, never 10 ms. */
    assert_int_equal(ep_servable_check(v, 2, 10000, 1, EP_TRACE_NONE), EP_UNSERVABLE_DEADLINE);
    for (int k = 0; k < EP_UNSERVABLE_COUNT_; k++) {
        assert_true(strlen(ep_unservable_name((ep_unservable)k)) > 5);
        assert_string_not_equal(ep_unservable_key((ep_unservable)k), "?");
    }
    ep_servable_free(v);
    ep_servable_free(NULL);
}

/* The verdict follows the SLO: the 20,000-token prompt is servable with a 5 s TTFT. */
static void
test_a_looser_ttft_makes_the_long_prompt_servable(void **state)
{
    fixture *f = *state;
    f->sc.services[0].slo.ttft = 5 * EP_NS_PER_S;
    ep_servable *v;
    assert_int_equal(ep_servable_new(&f->sc, &v), 0);
    assert_int_equal(ep_servable_check(v, 0, 20000, 10, EP_TRACE_NONE), EP_SERVABLE);
    ep_servable_free(v);
    f->sc.services[0].slo.ttft = EP_NS_PER_S;
}

/* 60 prompts, one a second: every third is 20,000 tokens (TTFT), every fifth 2,000,000 (KV). */
static void
light_long_prompts(fixture *f, int64_t *want_ttft, int64_t *want_kv)
{
    int64_t in[60], out[60];
    *want_ttft = *want_kv = 0;
    for (int i = 0; i < 60; i++) {
        in[i] = i % 5 == 0 ? 2000000 : i % 3 == 0 ? 20000 : 800;
        out[i] = 50;
        *want_kv += i % 5 == 0;
        *want_ttft += i % 5 != 0 && i % 3 == 0;
    }
    write_prompts(f, in, out, 60);
}

static void
test_the_bound_leaves_out_what_nothing_serves_and_no_policy_beats_it(void **state)
{
    fixture *f = *state;
    int64_t want_ttft, want_kv;
    light_long_prompts(f, &want_ttft, &want_kv);
    f->sc.workloads[0].once = 1; /* exactly the 60 rows */
    int64_t total, why[EP_UNSERVABLE_COUNT_], per[3];
    assert_int_equal(ep_arrivals_unservable(f->st, &f->sc, 1, 0, &total, why, per), 0);
    assert_int_equal(why[EP_UNSERVABLE_TTFT], want_ttft);
    assert_int_equal(why[EP_UNSERVABLE_KV], want_kv);
    assert_int_equal(total, want_ttft + want_kv);
    assert_int_equal(per[0], total);

    ep_run_opts o;
    memset(&o, 0, sizeof o);
    o.traces = f->st;
    ep_run_result b;
    char err[256] = "";
    assert_int_equal(ep_bound_run(&f->sc, &o, &b, err, sizeof err), 0);
    assert_int_equal(b.requests, 60);
    assert_int_equal(b.unservable, total);
    /* Light load: everything else is served, nothing unservable is. */
    assert_true(fabs(b.slo_attainment - (double)(60 - total) / 60) < 1e-6);
    for (const ep_policy_ops *const *p = ep_policy_all(); *p; p++) {
        o.policy = (*p)->name;
        ep_run_result r;
        if (ep_sim_run(&f->sc, &o, &r, err, sizeof err))
            fail_msg("%s: %s", (*p)->name, err);
        assert_int_equal(r.unservable, total);
        assert_int_equal(r.svc[0].unservable, total);
        if (r.slo_met > b.slo_met)
            fail_msg("%s meets %lld SLOs, the bound %lld", (*p)->name, (long long)r.slo_met,
                     (long long)b.slo_met);
        ep_run_result_fini(&r);
    }
    ep_run_result_fini(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_verdicts_name_what_no_device_group_can_do, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_a_looser_ttft_makes_the_long_prompt_servable,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_the_bound_leaves_out_what_nothing_serves_and_no_policy_beats_it, setup,
                    teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
