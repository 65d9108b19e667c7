/* Partition, sync delay and slow device faults. A partition drops what crosses the cut
 * (requests, results, LLM tokens) while each side keeps serving its own, routing nodes see
 * the far side as down from the first missed sync round, and everything crosses again after
 * the heal; a sync delay makes remote views older than the sync period; a slow device
 * stretches its batches by the factor. Every request gets exactly one record throughout. */
#include <setjmp.h>
#include <stdarg.h>
#include <math.h>
#include <stddef.h>

#include <cmocka.h>

#include "epara/core/profile.h"
#include "sim_fixture.h"

#define SYNC  (500 * EP_NS_PER_MS)
#define NSAMP 200000

/* Seconds as ep_time. */
static ep_time
S(double x)
{
    return (ep_time)llround(x * 1e9);
}

/* --- a probe policy: static's decisions, and a note of what each route call saw ---------- */

typedef struct sample {
    ep_time at;
    int node;        /* the routing node */
    int other_up;    /* node_up of the other node, as seen */
    int other_ready; /* the other node's instance: ready, as seen */
    ep_dur stale;    /* now - synced_at of the other node's instance */
} sample;

static sample samples[NSAMP];
static int nsamples;
static ep_policy_ops probe_ops;

static void
probe_route(void *state, const ep_env *env, const ep_view *view, const ep_request_info *req,
            ep_route *out)
{
    if (nsamples < NSAMP && view->sc->nnodes == 2) {
        sample *s = &samples[nsamples++];
        int other = 1 - req->at_node;
        s->at = env->now;
        s->node = req->at_node;
        s->other_up = view->node_up[other];
        s->other_ready = -1;
        for (int i = 0; i < view->ninst; i++)
            if (view->inst[i].node == other) {
                s->other_ready = view->inst[i].ready;
                s->stale = env->now - view->inst[i].synced_at;
            }
    }
    ep_policy_find("static")->route(state, env, view, req, out);
}

static int
run_probed(fx *f, ep_run_result *res)
{
    probe_ops = *ep_policy_find("static");
    probe_ops.name = "probe";
    probe_ops.route = probe_route;
    nsamples = 0;
    return fx_run_with(f, &probe_ops, res);
}

/* --- fixture: services, traces, a second node ------------------------------------------ */

/* SegFormer-B2-like DNN as service i (~0.9 ms per image on the fixture GPU). */
static void
dnn_service(fx *f, int i, const char *name)
{
    ep_service *s = &f->svc[i];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->kind = EP_SVC_DNN;
    s->weights_bytes = 55000000;
    s->flops_per_item = 62e9;
    s->max_batch = 8;
    s->input_bytes = 200000;
    s->slo.deadline = 100 * EP_NS_PER_MS;
    s->weight = 1;
}

/* Llama-3.2-1B-like LLM as service i. */
static void
llm_service(fx *f, int i, const char *name)
{
    ep_service *s = &f->svc[i];
    snprintf(s->name, sizeof s->name, "%s", name);
    s->kind = EP_SVC_LLM;
    s->params = 1.24e9;
    s->weights_bytes = INT64_C(2480000000);
    s->layers = 16;
    s->hidden = 2048;
    s->kv_bytes_per_token = 32768;
    s->act_bytes_reserve = 1000000000;
    s->bytes_per_token = 4;
    s->max_batch = 64;
    s->slo.ttft = 450 * EP_NS_PER_MS;
    s->slo.tpot = 40 * EP_NS_PER_MS;
    s->weight = 1;
}

/* Workload i: trace -> service i, entering at both nodes in turn (n0 first). */
static void
both_ingress(fx *f, int i, const char *trace)
{
    ep_workload *w = &f->wl[i];
    snprintf(w->trace, sizeof w->trace, "%s", trace);
    w->service = i;
    w->ingress[0] = 0;
    w->ingress[1] = 1;
    w->ningress = 2;
    w->rate_scale = 1;
    w->time_scale = 1;
    f->sc.nworkloads = i + 1;
}

static int
cut_reason(const ep_record *r)
{
    return r->reason && strcmp(r->reason, "network partition") == 0;
}

/* --- partition ------------------------------------------------------------------------- */

/* Two nodes; `static` puts the DNN "seg" on n0's GPU and the LLM "chat" on n1's. Requests
 * enter at both. n1 is cut off from 30.2 s to 60.2 s (between sync ticks, so the nodes
 * learn of the cut at 30.5 s and of the heal at 60.5 s). */
static void
test_partition_drops_cross_cut_traffic_each_side_serves_and_heal_restores(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "part");
    fx_add_node(&f);
    dnn_service(&f, 0, "seg");
    llm_service(&f, 1, "chat");
    f.sc.nservices = 2;
    int64_t rows = fx_poisson(&f, "p", 200, 100, 3) + fx_poisson(&f, "q", 4, 100, 4);
    both_ingress(&f, 0, "p");
    both_ingress(&f, 1, "q");
    int cut[] = {1};
    ep_fault faults[] = {
            {.at = S(30.2), .kind = EP_FAULT_PARTITION, .target = 1, .nodes = cut, .nnodes = 1},
            {.at = S(60.2), .kind = EP_FAULT_HEAL, .target = 1}};
    f.sc.faults = faults;
    f.sc.nfaults = 2;
    ep_run_result res;
    assert_int_equal(run_probed(&f, &res), 0);
    assert_int_equal((int64_t)f.nrecs, rows);
    assert_int_equal(res.requests, rows);

    int64_t same_done = 0, early_drop = 0, rejected = 0, inflight_drop = 0, llm_drop = 0;
    int64_t after = 0, dropped = 0;
    for (size_t i = 0; i < f.nrecs; i++) {
        const ep_record *r = &f.recs[i];
        int home = r->service == 0 ? 0 : 1; /* the node with the service's instance */
        dropped += r->outcome == EP_OUT_DROPPED;
        if (r->outcome == EP_OUT_DROPPED)
            assert_true(cut_reason(r)); /* nothing else is lost */
        if (r->ingress == home) {
            /* Each side keeps serving its own requests, through the partition. */
            assert_int_equal(r->outcome, EP_OUT_COMPLETED);
            same_done++;
            continue;
        }
        if (r->arrival >= S(30.2) && r->arrival < S(60.2))
            assert_int_not_equal(r->outcome, EP_OUT_COMPLETED);
        if (r->arrival >= S(30.2) && r->arrival < S(30.5)) {
            /* Routed before the nodes noticed: sent into the cut and lost there. */
            assert_int_equal(r->outcome, EP_OUT_DROPPED);
            early_drop++;
        } else if (r->arrival >= S(30.5) && r->arrival < S(60.2)) {
            /* Noticed: the policy sees no reachable instance and rejects. */
            assert_int_equal(r->outcome, EP_OUT_REJECTED);
            rejected++;
        } else if (r->arrival < S(30.2) && r->outcome == EP_OUT_DROPPED) {
            inflight_drop++; /* its request, result or tokens were crossing at the cut */
            llm_drop += r->service == 1;
        } else if (r->arrival >= S(60.5)) {
            assert_int_equal(r->outcome, EP_OUT_COMPLETED); /* healed */
            after++;
        }
    }
    assert_true(same_done > 9000);
    assert_true(early_drop >= 10); /* ~0.3 s x 100 req/s */
    assert_true(rejected > 2500);  /* ~29.7 s x 100 req/s */
    assert_true(llm_drop >= 1);    /* LLM requests generating at 30.2 s lose their tokens */
    assert_true(inflight_drop >= llm_drop);
    assert_true(after > 3500);
    assert_int_equal(res.dropped, dropped);

    /* What the routing nodes saw of the other node. */
    int seen_cut = 0, seen_before = 0, seen_after = 0;
    for (int i = 0; i < nsamples; i++) {
        const sample *s = &samples[i];
        if (s->at < S(30.5) || (s->at >= S(60.5))) {
            assert_true(s->other_up);
            assert_int_equal(s->other_ready, 1);
            assert_true(s->stale <= SYNC);
            seen_before += s->at < S(30.5);
            seen_after += s->at >= S(60.5);
        } else if (s->at < S(60.2)) {
            /* The far side: down, its instance not ready, as last synced before the cut. */
            assert_false(s->other_up);
            assert_int_equal(s->other_ready, 0);
            assert_true(s->at - s->stale <= S(30.2));
            seen_cut++;
        }
    }
    assert_true(seen_cut > 2500 && seen_before > 2500 && seen_after > 3500);
    ep_run_result_fini(&res);
    f.sc.faults = NULL;
    fx_fini(&f);
}

/* --- sync delay ------------------------------------------------------------------------ */

static void
test_sync_delay_makes_remote_views_older_than_the_sync_period(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "syncdelay");
    fx_add_node(&f);
    dnn_service(&f, 0, "seg");
    f.sc.nservices = 1;
    int64_t rows = fx_poisson(&f, "p", 100, 90, 5);
    both_ingress(&f, 0, "p");
    ep_fault faults[] = {{.at = S(30), .kind = EP_FAULT_SYNC_DELAY, .delay = 2 * EP_NS_PER_S},
                         {.at = S(60), .kind = EP_FAULT_SYNC_DELAY, .delay = 0}};
    f.sc.faults = faults;
    f.sc.nfaults = 2;
    ep_run_result res;
    assert_int_equal(run_probed(&f, &res), 0);
    assert_int_equal((int64_t)f.nrecs, rows);
    int64_t completed = 0;
    for (size_t i = 0; i < f.nrecs; i++)
        completed += f.recs[i].outcome == EP_OUT_COMPLETED;
    assert_int_equal(completed, rows); /* late views, nothing lost */
    ep_dur max_before = 0, min_during = EP_TIME_MAX, max_during = 0, max_after = 0;
    int during = 0;
    for (int i = 0; i < nsamples; i++) {
        const sample *s = &samples[i];
        if (s->node != 1) /* n1 sees n0's instance through sync messages */
            continue;
        if (s->at < S(30) && s->stale > max_before)
            max_before = s->stale;
        if (s->at >= S(32.5) && s->at < S(60)) {
            during++;
            if (s->stale < min_during)
                min_during = s->stale;
            if (s->stale > max_during)
                max_during = s->stale;
        }
        if (s->at >= S(60) && s->stale > max_after)
            max_after = s->stale;
    }
    assert_true(during > 1000);
    assert_true(max_before <= SYNC);
    assert_true(min_during >= 2 * EP_NS_PER_S); /* taken at least 2 s before it is used */
    assert_true(max_during <= 2 * EP_NS_PER_S + SYNC);
    assert_true(max_after <= SYNC); /* the first prompt message wins over late ones */
    ep_run_result_fini(&res);
    f.sc.faults = NULL;
    fx_fini(&f);
}

/* --- slow device ----------------------------------------------------------------------- */

static void
test_slow_device_stretches_batches_by_its_factor_until_it_recovers(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "slow");
    dnn_service(&f, 0, "seg");
    f.sc.nservices = 1;
    int64_t rows = fx_poisson(&f, "p", 20, 90, 6);
    fx_workload(&f, "p");
    ep_fault faults[] = {
            {.at = S(30), .kind = EP_FAULT_SLOW, .target = 0, .device = -1, .factor = 4},
            {.at = S(60), .kind = EP_FAULT_SLOW, .target = 0, .device = 0, .factor = 1}};
    f.sc.faults = faults;
    f.sc.nfaults = 2;
    ep_run_result res;
    assert_int_equal(fx_run(&f, &res), 0);
    assert_int_equal((int64_t)f.nrecs, rows);
    ep_dur one = ep_cost_dnn_batch(&f.sc, 0, 0, 1);
    assert_true(one > 500 * EP_NS_PER_US);
    int n_normal = 0, n_slow = 0;
    for (size_t i = 0; i < f.nrecs; i++) {
        const ep_record *r = &f.recs[i];
        assert_int_equal(r->outcome, EP_OUT_COMPLETED);
        if (r->batch != 1)
            continue;
        ep_dur t = r->done - r->dispatch; /* same node: the result takes no time back */
        if (r->dispatch >= S(30) && r->dispatch < S(60)) {
            assert_true(llabs(t - 4 * one) <= 1);
            n_slow++;
        } else {
            assert_int_equal(t, one);
            n_normal++;
        }
    }
    assert_true(n_slow > 400 && n_normal > 800);
    ep_run_result_fini(&res);
    f.sc.faults = NULL;
    fx_fini(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(
                    test_partition_drops_cross_cut_traffic_each_side_serves_and_heal_restores),
            cmocka_unit_test(test_sync_delay_makes_remote_views_older_than_the_sync_period),
            cmocka_unit_test(test_slow_device_stretches_batches_by_its_factor_until_it_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
