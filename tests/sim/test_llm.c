/* LLM execution checks: an unloaded request's TTFT is the prefill estimate and its TPOT the
 * mean of the decode-step estimates; a request too large for the KV cache is rejected and
 * recorded, never lost; a cache too small for the offered batch preempts and recomputes,
 * yet every request completes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "epara/core/profile.h"
#include "sim_fixture.h"

/* Llama-3.1-8B on the fixture's 24 GB GPU. */
static void
llm_service(fx *f)
{
    ep_service *s = &f->svc[0];
    snprintf(s->name, sizeof s->name, "llama-8b");
    s->kind = EP_SVC_LLM;
    s->params = 8.03e9;
    s->weights_bytes = INT64_C(16060000000);
    s->layers = 32;
    s->hidden = 4096;
    s->kv_bytes_per_token = 131072;
    s->act_bytes_reserve = 1000000000;
    s->bytes_per_token = 4;
    s->max_batch = 256;
    s->slo.ttft = 2 * EP_NS_PER_S;
    s->slo.tpot = 100 * EP_NS_PER_MS;
    s->weight = 1;
    f->sc.nservices = 1;
}

static void
write_rows(fx *f, const char *name, int n, ep_dur gap, int64_t input, int64_t output)
{
    ep_trace_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "%s", name);
    ep_trace_writer *w;
    assert_int_equal(ep_trace_writer_begin(f->st, &m, 0, &w), 0);
    ep_trace_writer_set_origin(w, 0);
    for (int i = 0; i < n; i++) {
        ep_trace_row r;
        ep_trace_row_clear(&r);
        r.arrival = (ep_time)i * gap;
        r.input = input;
        r.output = output;
        assert_int_equal(ep_trace_writer_add(w, &r), 0);
    }
    assert_int_equal(ep_trace_writer_commit(w, NULL), 0);
    fx_workload(f, name);
}

static void
test_unloaded_request_ttft_and_tpot_equal_the_estimates(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "llm1");
    llm_service(&f);
    write_rows(&f, "one", 1, 0, 1000, 50);
    ep_run_result res;
    assert_int_equal(fx_run(&f, &res), 0);
    assert_int_equal(f.nrecs, 1);
    const ep_record *r = &f.recs[0];
    assert_int_equal(r->outcome, EP_OUT_COMPLETED);
    ep_dur prefill = ep_cost_llm_prefill(&f.sc, 0, 0, 1000);
    assert_int_equal(r->first_token - r->arrival, prefill);
    /* After the prefill the request holds 1001 tokens; decode steps see 1001 .. 1049. */
    ep_dur decode = 0;
    for (int k = 1; k < 50; k++)
        decode += ep_cost_llm_decode(&f.sc, 0, 0, 1, 1000 + k);
    assert_int_equal(r->done - r->first_token, decode);
    assert_true(r->slo_met);
    ep_run_result_fini(&res);
    fx_fini(&f);
}

static void
test_chunked_prefill_spreads_the_prompt_over_iterations(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "llmchunk");
    llm_service(&f);
    f.svc[0].prefill_chunk = 256;
    write_rows(&f, "one", 1, 0, 1000, 5);
    ep_run_result res;
    assert_int_equal(fx_run(&f, &res), 0);
    assert_int_equal(f.nrecs, 1);
    const ep_record *r = &f.recs[0];
    assert_int_equal(r->outcome, EP_OUT_COMPLETED);
    /* Chunks of 256, 256, 256 and 232 tokens, each attending over the prefix so far. */
    ep_dur ttft = 0;
    for (int64_t done = 0; done < 1000; done += 256) {
        int64_t take = 1000 - done < 256 ? 1000 - done : 256;
        ttft += ep_cost_llm_iteration(
                &f.sc, 0, 0, take, (double)take * (double)take + 2.0 * (double)take * (double)done,
                0, 0);
    }
    assert_int_equal(r->first_token - r->arrival, ttft);
    ep_run_result_fini(&res);
    fx_fini(&f);
}

static void
test_request_larger_than_the_kv_cache_is_rejected_and_recorded(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "llm2");
    llm_service(&f);
    int64_t cap = ep_cost_kv_capacity_tokens(&f.sc, 0, 0, 1);
    assert_true(cap > 0);
    write_rows(&f, "huge", 3, EP_NS_PER_S, cap, 10); /* prompt + output > capacity */
    ep_run_result res;
    assert_int_equal(fx_run(&f, &res), 0);
    assert_int_equal(f.nrecs, 3);
    for (size_t i = 0; i < f.nrecs; i++) {
        assert_int_equal(f.recs[i].outcome, EP_OUT_REJECTED);
        assert_non_null(strstr(f.recs[i].reason, "KV"));
    }
    assert_int_equal(res.requests, 3);
    assert_int_equal(res.rejected, 3);
    ep_run_result_fini(&res);
    fx_fini(&f);
}

static void
test_kv_pressure_preempts_and_still_completes_every_request(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "llm3");
    llm_service(&f);
    int64_t cap = ep_cost_kv_capacity_tokens(&f.sc, 0, 0, 1);
    /* 30 requests at once, each holding a tenth of the cache when admitted and 15% at its
     * end: nine are admitted, then they outgrow the cache while decoding. */
    int64_t in = cap / 10, out = cap / 20;
    write_rows(&f, "burst", 30, 0, in, out);
    ep_run_result res;
    assert_int_equal(fx_run(&f, &res), 0);
    assert_int_equal(f.nrecs, 30);
    for (size_t i = 0; i < f.nrecs; i++)
        assert_int_equal(f.recs[i].outcome, EP_OUT_COMPLETED);
    assert_true(res.preemptions > 0);
    ep_run_result_fini(&res);
    fx_fini(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_unloaded_request_ttft_and_tpot_equal_the_estimates),
            cmocka_unit_test(test_chunked_prefill_spreads_the_prompt_over_iterations),
            cmocka_unit_test(test_request_larger_than_the_kv_cache_is_rejected_and_recorded),
            cmocka_unit_test(test_kv_pressure_preempts_and_still_completes_every_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
