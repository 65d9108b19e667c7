/* A DNN request is due on its instance by its deadline less its reply's transfer back to the
 * ingress: that is what pick_batch sees as the request's deadline and what the host drops
 * by. One GPU on n0, requests entering at n1 over a 20 ms link, a 100 ms deadline, 10 ms
 * batches of one, offered at 1.5x what the GPU serves: the queue fills to the deadline, and
 * a request whose batch would end after its due time would come back late. With
 * EP_DROP_DOOMED no completed request misses its SLO (before, those whose compute ended
 * within the reply's 20 ms of the deadline completed late, spending the GPU on misses). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sim_fixture.h"

#define DEADLINE_MS 100
#define SERVICE_MS  10

static ep_dur g_head_slack = -1; /* due - arrival of a queue head, as pick_batch saw it */
static ep_dur g_reply = -1;      /* the reply's transfer n0 -> n1 (view->delay) */

static int
due_place(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    (void)state;
    (void)env;
    (void)view;
    ep_instance_spec sp = {.service = 0, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {0}};
    return ep_placement_add(out, &sp);
}

static void
due_route(void *state, const ep_env *env, const ep_view *view, const ep_request_info *req,
          ep_route *out)
{
    (void)state;
    (void)env;
    (void)req;
    for (int i = 0; i < view->ninst; i++)
        if (view->inst[i].active) {
            out->kind = EP_ROUTE_DISPATCH;
            out->instance = view->inst[i].id;
            return;
        }
    out->kind = EP_ROUTE_REJECT;
    out->reason = "due test: no instance";
}

static int
due_pick_batch(void *state, const ep_env *env, const ep_view *view, int instance,
               const ep_queue_view *q, int *drop_expired)
{
    (void)state;
    (void)env;
    (void)instance;
    *drop_expired = EP_DROP_DOOMED;
    if (q->n > 0) {
        g_head_slack = q->deadline[0] - q->arrival[0];
        g_reply = view->delay(view, 0, 1, 1000);
    }
    return 1;
}

static const ep_policy_ops due_ops = {
        .name = "due-test",
        .abi = EP_POLICY_ABI,
        .summary = "test: one instance on n0, batches of one, doomed requests dropped",
        .place = due_place,
        .route = due_route,
        .pick_batch = due_pick_batch,
};

static void
test_overloaded_instance_completes_nothing_late_behind_a_slow_reply(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "due");
    /* n1: a camera hub 20 ms away (its own device unused). */
    fx_add_node(&f);
    f.link[1].latency = 20 * EP_NS_PER_MS;
    ep_service *s = &f.svc[0];
    snprintf(s->name, sizeof s->name, "seg");
    s->kind = EP_SVC_DNN;
    s->weights_bytes = 100000000;
    s->flops_per_item = 1e9;
    s->max_batch = 1;
    s->input_bytes = 1000;
    s->slo.deadline = DEADLINE_MS * EP_NS_PER_MS;
    s->weight = 1;
    f.sc.nservices = 1;
    ep_profile_table *p = &f.prof[0];
    p->service = 0;
    p->spec = 0;
    p->n = 1;
    p->x[0] = 1;
    p->y[0] = SERVICE_MS * EP_NS_PER_MS;
    f.sc.nprofiles = 1;
    fx_poisson(&f, "cams", 1.5 * 1000 / SERVICE_MS, 20, 5);
    fx_workload(&f, "cams");
    f.wl[0].ingress[0] = 1;

    ep_run_result res;
    assert_int_equal(fx_run_with(&f, &due_ops, &res), 0);
    int64_t completed = 0, late = 0, dropped = 0;
    for (size_t i = 0; i < f.nrecs; i++) {
        const ep_record *r = &f.recs[i];
        completed += r->outcome == EP_OUT_COMPLETED;
        late += r->outcome == EP_OUT_COMPLETED && !r->slo_met;
        dropped += r->outcome == EP_OUT_DROPPED;
    }
    assert_true(completed > 1500); /* the GPU ran at capacity ... */
    assert_true(dropped > 500);    /* ... and the overload was shed in its queue */
    assert_int_equal(late, 0);     /* but never by serving a request that would miss */
    assert_true(g_reply >= 20 * EP_NS_PER_MS);
    assert_int_equal(g_head_slack, DEADLINE_MS * EP_NS_PER_MS - g_reply);
    ep_run_result_fini(&res);
    fx_fini(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_overloaded_instance_completes_nothing_late_behind_a_slow_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
