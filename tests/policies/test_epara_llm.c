/* EPARA's LLM routing (policies/epara.c): a prompt for a remote instance is forwarded to
 * that instance's node, which admits it on its live state (llm_forward); under overload the
 * TPOT-bound batch is computed for the rate the instance admits, not the offered rate, so
 * it does not fall to one request (tpot_admit); a remote instance's stale backlog is aged
 * with the prefills that kept arriving since its sync (inflow); and the prompts this node
 * itself sent since then count too (own_sent); an instance its co-located neighbours slow
 * past its TPOT takes no prompt (tpot_stretch); a burst of prompts stops being sent to an
 * instance once their prefills would stall its decoding requests past the TPOT
 * (stall_admit). Each is switched off by its parameter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "baseline_fixture.h"

/* Two GPU servers a and b. */
#define TWO_SERVERS                                                                 \
    "devices:\n"                                                                    \
    "  - {name: gpu, kind: gpu, mem_gb: 48, mem_bw_gbps: 1000, peak_tflops: 165}\n" \
    "nodes:\n"                                                                      \
    "  - {name: a, class: server, cores: 16, mem_gb: 64, devices: [gpu],"           \
    " link: {bw_gbps: 10, latency_ms: 0.1}}\n"                                      \
    "  - {name: b, class: server, cores: 16, mem_gb: 64, devices: [gpu],"           \
    " link: {bw_gbps: 10, latency_ms: 0.1}}\n"

/* One 8B-class LLM with a 2 s TTFT and 100 ms TPOT. */
static const char yaml[] =
        "name: llm\n" TWO_SERVERS "services:\n"
        "  - {name: llm, kind: llm, params_b: 8, layers: 32, hidden: 4096,"
        " kv_kb_per_token: 128, max_batch: 64, slo: {ttft_ms: 2000, tpot_ms: 100}}\n"
        "workload:\n"
        "  - {trace: t, service: llm, ingress: a}\n";

enum { A = 0, B = 1 };

/* The policy over a view with rate req/s of 1,000-token prompts and 100-token answers, and
 * one ready instance on b's GPU; params as "k=v" pairs appended to the scenario. */
static void
setup(bf *f, const char *tag, double rate, const char *params)
{
    char y[2048];
    snprintf(y, sizeof y, "%spolicy:\n  name: epara\n  params: {%s}\n", yaml, params);
    assert_int_equal(bf_init(f, y, tag), 0);
    double in[1] = {1000}, out[1] = {100}, r[1] = {rate};
    bf_view(f, r, in, out);
    f->env.now = 10 * EP_NS_PER_S;
    assert_int_equal(bf_policy(f, "epara"), 0);
    ep_instance_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.service = 0;
    sp.mode = EP_MODE_SINGLE;
    sp.ndev = 1;
    sp.devs[0] = B;
    sp.order = EP_QUEUE_EDF;
    bf_add_instance(f, &sp, 0);
}

/* Routes request id (a 1,000-token prompt, 100-token answer, 2 s TTFT) entering at node at. */
static ep_route
route_at(bf *f, uint64_t id, int at)
{
    ep_request_info q;
    memset(&q, 0, sizeof q);
    q.id = id;
    q.service = 0;
    q.ingress = at;
    q.at_node = at;
    q.arrival = f->env.now;
    q.deadline = f->env.now + 2 * EP_NS_PER_S;
    q.input = 1000;
    q.output = 100;
    q.bytes = 4000;
    ep_route out;
    memset(&out, 0, sizeof out);
    f->ops->route(f->pstate, &f->env, &f->view, &q, &out);
    return out;
}

static ep_route
route_one(bf *f, uint64_t id)
{
    return route_at(f, id, A);
}

static void
test_a_prompt_for_a_remote_instance_goes_to_its_node(void **state)
{
    (void)state;
    bf f;
    setup(&f, "llm_fwd", 0.5, "");
    ep_route r = route_one(&f, 1);
    assert_int_equal(r.kind, EP_ROUTE_FORWARD);
    assert_int_equal(r.node, B);
    bf_fini(&f);
    /* Switched off: straight to the instance, on this node's view of it. */
    setup(&f, "llm_nofwd", 0.5, "llm_forward: 0");
    r = route_one(&f, 1);
    assert_int_equal(r.kind, EP_ROUTE_DISPATCH);
    assert_int_equal(r.instance, f.inst[0].id);
    bf_fini(&f);
}

/* Offered 100x what one instance sustains: the instance still takes a batch of several
 * requests (the excess is what gets rejected), instead of one at a time. */
static void
test_overload_does_not_shrink_the_tpot_batch_to_one(void **state)
{
    (void)state;
    bf f;
    setup(&f, "llm_over", 0.5, "");
    ep_instance_spec sp = f.inst[0].spec;
    double cap = ep_pol_capacity(&f.view, &sp, NULL);
    assert_true(cap > 0.5);
    int at_cap = ep_pol_llm_batch_limit(&f.view, &sp, cap, 1);
    assert_true(at_cap > 2);
    /* At the offered rate not even one request keeps its TPOT: what the rate cap avoids. */
    assert_int_equal(ep_pol_llm_batch_limit(&f.view, &sp, 100 * cap, 1), 0);
    f.rate[0] = 100 * cap;
    f.inst[0].running = at_cap - 1;
    ep_route r = route_one(&f, 1);
    assert_int_equal(r.kind, EP_ROUTE_FORWARD);
    /* Full at the batch the capacity counts on. */
    f.inst[0].running = at_cap;
    r = route_one(&f, 2);
    assert_int_equal(r.kind, EP_ROUTE_REJECT);
    bf_fini(&f);
}

/* A remote instance synced one sync period (0.5 s) ago with a backlog B: requests kept
 * arriving there at its admitted rate since, adding their prefills (I). B is chosen so
 * that the stale view alone meets the 2 s TTFT with I/2 to spare and the aged one misses
 * it by I/2: rejected at once instead of failing late. A view older than a sync period
 * (state messages lost) adds no more than one period's arrivals. */
static void
stale(bf *f, const char *tag, const char *params, ep_dur age, ep_route *r)
{
    setup(f, tag, 0.5, params);
    ep_instance_spec sp = f->inst[0].spec;
    double cap = ep_pol_capacity(&f->view, &sp, NULL);
    assert_true(cap > 0);
    f->rate[0] = 10 * cap; /* the instance admits `cap` per second */
    ep_dur own = ep_pol_llm_iteration(&f->view, &sp, 1000, 1e6, 0, 0);
    ep_dur inflow = (ep_dur)(0.5 * cap * (double)own); /* one period's prefills */
    assert_true(inflow > 100 * EP_NS_PER_MS);
    f->inst[0].synced_at = f->env.now - age;
    f->inst[0].backlog = 2 * EP_NS_PER_S - own - inflow / 2 + age;
    *r = route_one(f, 1);
    bf_fini(f);
}

static void
test_a_stale_backlog_is_aged_with_the_arrivals_since_its_sync(void **state)
{
    (void)state;
    bf f;
    ep_route r;
    stale(&f, "llm_inflow", "", 500 * EP_NS_PER_MS, &r);
    assert_int_equal(r.kind, EP_ROUTE_REJECT);
    stale(&f, "llm_noinflow", "inflow: 0", 500 * EP_NS_PER_MS, &r);
    assert_int_equal(r.kind, EP_ROUTE_FORWARD);
    /* 4 s old, with an empty queue then: one period's arrivals, not eight, so it meets the
     * deadline (its node decides on its live state). */
    setup(&f, "llm_lost", 0.5, "");
    f.rate[0] = 10 * ep_pol_capacity(&f.view, &f.inst[0].spec, NULL);
    f.inst[0].synced_at = f.env.now - 4 * EP_NS_PER_S;
    r = route_one(&f, 2);
    assert_int_equal(r.kind, EP_ROUTE_FORWARD);
    bf_fini(&f);
}

/* Without forwarding, the prompts this node dispatched since the instance's last sync add
 * to its estimate: enough of them and the next request cannot meet its deadline there. */
static void
test_own_dispatches_since_the_sync_count(void **state)
{
    (void)state;
    for (int own = 0; own <= 1; own++) {
        bf f;
        setup(&f, own ? "llm_own" : "llm_noown", 0.5,
              own ? "llm_forward: 0, inflow: 0, tpot_admit: 0"
                  : "llm_forward: 0, inflow: 0, tpot_admit: 0, own_sent: 0");
        f.inst[0].synced_at = f.env.now - 100 * EP_NS_PER_MS;
        int dispatched = 0;
        for (uint64_t id = 1; id <= 40; id++) {
            ep_route r = route_one(&f, id);
            if (r.kind != EP_ROUTE_DISPATCH)
                break;
            dispatched++;
        }
        /* A 1,000-token prefill takes ~0.16 s on this GPU: about 12 fit in the 2 s TTFT. */
        if (own) {
            assert_true(dispatched >= 6);
            assert_true(dispatched <= 15);
        } else {
            assert_int_equal(dispatched, 40);
        }
        bf_fini(&f);
    }
}

/* A small LLM with 450 ms TTFT on a big slow embedded board (more requests per byte of its
 * memory) and a fast GPU: the greedy, costing memory only (score_time=0) and leaving idle
 * devices idle (fill_idle=0), places it on the board; with tail_replica a replica goes on the
 * GPU too, for the prompts the board cannot prefill in time. */
static const char two_kinds[] =
        "name: tail\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "  - {name: board, kind: gpu, mem_gb: 64, mem_bw_gbps: 204.8, peak_tflops: 42.5}\n"
        "nodes:\n"
        "  - {name: srv, class: server, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "  - {name: emb, class: embedded, cores: 12, mem_gb: 64, devices: [board],"
        " link: {bw_gbps: 1, latency_ms: 0.3}}\n"
        "services:\n"
        "  - {name: small, kind: llm, params_b: 1.24, layers: 16, hidden: 2048,"
        " kv_kb_per_token: 32, slo: {ttft_ms: 450, tpot_ms: 40}}\n"
        "workload:\n"
        "  - {trace: t, service: small, ingress: emb}\n";

static int
placed_on(const char *params, const char *tag, int dev)
{
    char y[2048];
    snprintf(y, sizeof y, "%spolicy:\n  name: epara\n  params: {%s}\n", two_kinds, params);
    bf f;
    assert_int_equal(bf_init(&f, y, tag), 0);
    double in[1] = {800}, out[1] = {250}, r[1] = {0.3};
    bf_view(&f, r, in, out);
    assert_int_equal(bf_policy(&f, "epara"), 0);
    ep_instance_spec buf[16];
    ep_placement p = {buf, 0, 16, 0};
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    int n = 0;
    for (int i = 0; i < p.n; i++)
        n += p.inst[i].ndev == 1 && p.inst[i].devs[0] == dev;
    bf_fini(&f);
    return n;
}

static void
test_a_fast_replica_serves_the_long_prompts(void **state)
{
    (void)state;
    const char *off = "score_time: 0, fill_idle: 0, tail_replica: 0";
    assert_true(placed_on(off, "tail_off", 1) >= 1);
    assert_int_equal(placed_on(off, "tail_off2", 0), 0);
    assert_int_equal(placed_on("score_time: 0, fill_idle: 0, tail_replica: 1", "tail_on", 0), 1);
}

/* tpot_stretch: b's GPU also holds an image model; two busy instances there run twice as
 * slow (mt_slowdown), and the LLM's decode step (~18 ms) meets its 30 ms TPOT alone but
 * not slowed twice. While the image model runs a batch, the LLM instance takes no prompt
 * (the only instance: rejected, where it would miss its TPOT anyway); idle, it takes one.
 * Switched off, it takes one either way (at least a batch of one). */
static const char mt_yaml[] =
        "name: llm_mt\n" TWO_SERVERS "services:\n"
        "  - {name: llm, kind: llm, params_b: 8, layers: 32, hidden: 4096,"
        " kv_kb_per_token: 128, max_batch: 64, slo: {ttft_ms: 2000, tpot_ms: 30}}\n"
        "  - {name: img, kind: dnn, params_m: 25, gflops: 8, max_batch: 32,"
        " slo: {deadline_ms: 100}}\n"
        "mt_slowdown: [1.0, 2.0]\n"
        "workload:\n"
        "  - {trace: t, service: llm, ingress: a}\n";

static void
test_an_instance_slowed_past_its_tpot_takes_no_prompt(void **state)
{
    (void)state;
    for (int stretch = 0; stretch <= 1; stretch++)
        for (int busy = 0; busy <= 1; busy++) {
            bf f;
            char y[2048];
            snprintf(y, sizeof y, "%spolicy:\n  name: epara\n  params: {tpot_stretch: %d}\n",
                     mt_yaml, stretch);
            assert_int_equal(bf_init(&f, y, stretch ? "llm_mt1" : "llm_mt0"), 0);
            double in[2] = {1000, 50000}, out[2] = {100, 0}, r[2] = {0.1, 10};
            bf_view(&f, r, in, out);
            f.env.now = 10 * EP_NS_PER_S;
            assert_int_equal(bf_policy(&f, "epara"), 0);
            ep_instance_spec sp;
            memset(&sp, 0, sizeof sp);
            sp.mode = EP_MODE_SINGLE;
            sp.ndev = 1;
            sp.devs[0] = B;
            sp.order = EP_QUEUE_EDF;
            bf_add_instance(&f, &sp, 0);
            sp.service = 1;
            int img = bf_add_instance(&f, &sp, 0);
            f.inst[img].running = busy;
            /* the premise: within the TPOT alone, past it slowed twice */
            double d = (double)ep_pol_llm_iteration(&f.view, &f.inst[0].spec, 0, 0, 1, 1050) / 1e9;
            assert_true(d < 0.03 && 2 * d > 0.03);
            ep_route rt = route_one(&f, 1);
            if (stretch && busy)
                assert_int_equal(rt.kind, EP_ROUTE_REJECT);
            else
                assert_int_not_equal(rt.kind, EP_ROUTE_REJECT);
            bf_fini(&f);
        }
}

/* A burst of prompts at one instant on b, whose instance decodes 5 requests: with
 * stall_admit (0.5) it takes prompts while their prefill seconds stay within 0.5 (1 - d /
 * TPOT) of a mean output's decode life W = 99 x 100 ms, then rejects (every other check
 * passes: the view, and so the TTFT estimate, does not change within the burst); the work
 * sent decays with time constant W, so prompts are taken again later. Switched off, every
 * prompt of the burst is sent. */
static int
burst(bf *f, int n)
{
    int sent = 0;
    for (int i = 0; i < n; i++)
        sent += route_at(f, (uint64_t)i + 1, B).kind == EP_ROUTE_DISPATCH;
    return sent;
}

static void
test_a_burst_stops_before_it_stalls_the_decoding_requests(void **state)
{
    (void)state;
    bf f;
    setup(&f, "llm_stall", 0.5, "");
    f.inst[0].running = 5;
    const ep_instance_spec *sp = &f.inst[0].spec;
    double p = (double)ep_pol_llm_iteration(&f.view, sp, 1000, 1e6, 0, 0) / 1e9;
    double d = (double)ep_pol_llm_iteration(&f.view, sp, 0, 0, 5, 5 * 1050) / 1e9;
    double allowed = 0.5 * (1 - d / 0.1) * 99 * 0.1;
    int expect = (int)(allowed / p);
    assert_true(expect >= 3 && expect < 100);
    assert_int_equal(burst(&f, 200), expect);
    /* An instance decoding nothing takes the prompt: no one to stall. */
    f.inst[0].running = 0;
    assert_int_equal(burst(&f, 1), 1);
    f.inst[0].running = 5;
    assert_int_equal(burst(&f, 1), 0);
    /* After 3 W the work sent has decayed to e^-3 of it: room again. */
    f.env.now += 3 * 99 * EP_NS_PER_S / 10;
    assert_true(burst(&f, 200) >= expect * 9 / 10);
    bf_fini(&f);
    setup(&f, "llm_nostall", 0.5, "stall_admit: 0");
    f.inst[0].running = 5;
    assert_int_equal(burst(&f, 200), 200);
    bf_fini(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_a_prompt_for_a_remote_instance_goes_to_its_node),
            cmocka_unit_test(test_overload_does_not_shrink_the_tpot_batch_to_one),
            cmocka_unit_test(test_an_instance_slowed_past_its_tpot_takes_no_prompt),
            cmocka_unit_test(test_a_stale_backlog_is_aged_with_the_arrivals_since_its_sync),
            cmocka_unit_test(test_own_dispatches_since_the_sync_count),
            cmocka_unit_test(test_a_fast_replica_serves_the_long_prompts),
            cmocka_unit_test(test_a_burst_stops_before_it_stalls_the_decoding_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
