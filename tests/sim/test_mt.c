/* The host applies the parallel mode of co-located instances: two DNN services on one GPU.
 * SINGLE: each has the device to itself, so their batches never overlap in time and none is
 * slowed down. MT: they run concurrently, each batch slowed by the co-location factor while
 * the other runs. A placement that only relabels an instance SINGLE <-> MT keeps it (no
 * reload). ep_placement_mark_mt labels what shares a device. On a serial device class
 * (`serial: true`) MT instances take turns as SINGLE ones do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sim_fixture.h"

static ep_mode g_first, g_then; /* the mode of both instances at t = 0, then from 5 s on */

typedef struct mt_state {
    int rounds;
} mt_state;

static int
mt_place(void *state, const ep_env *env, const ep_view *view, ep_placement *out)
{
    (void)env;
    mt_state *st = state;
    ep_mode m = st->rounds++ == 0 ? g_first : g_then;
    for (int s = 0; s < view->sc->nservices; s++) {
        ep_instance_spec sp = {.service = s, .mode = m, .ndev = 1, .devs = {0}};
        int rc = ep_placement_add(out, &sp);
        if (rc)
            return rc;
    }
    return 0;
}

static void
mt_route(void *state, const ep_env *env, const ep_view *view, const ep_request_info *req,
         ep_route *out)
{
    (void)state;
    (void)env;
    for (int i = 0; i < view->ninst; i++)
        if (view->inst[i].spec.service == req->service && view->inst[i].active) {
            out->kind = EP_ROUTE_DISPATCH;
            out->instance = view->inst[i].id;
            return;
        }
    out->kind = EP_ROUTE_REJECT;
    out->reason = "mt test: no instance";
}

static int
mt_pick_batch(void *state, const ep_env *env, const ep_view *view, int instance,
              const ep_queue_view *q, int *drop_expired)
{
    (void)state;
    (void)env;
    (void)view;
    (void)instance;
    *drop_expired = 0;
    return q->n < 8 ? q->n : 8;
}

static const ep_policy_ops mt_ops = {
        .name = "mt-test",
        .abi = EP_POLICY_ABI,
        .state_size = sizeof(mt_state),
        .summary = "test: two services on one GPU in a given mode",
        .place = mt_place,
        .route = mt_route,
        .pick_batch = mt_pick_batch,
};

/* Two segmentation services on fx's one GPU, Poisson at 150 req/s each for 10 s. */
static void
two_services(fx *f, const char *tag)
{
    fx_init(f, tag);
    f->sc.run.placement_period = 5 * EP_NS_PER_S;
    f->sc.mt_slowdown[1] = 1.5; /* two busy instances: each 1.5x slower */
    for (int s = 0; s < 2; s++) {
        ep_service *v = &f->svc[s];
        snprintf(v->name, sizeof v->name, "seg%d", s);
        v->kind = EP_SVC_DNN;
        v->weights_bytes = 55000000;
        v->flops_per_item = 62e9;
        v->max_batch = 8;
        v->input_bytes = 200000;
        v->slo.deadline = 500 * EP_NS_PER_MS;
        v->weight = 1;
        char name[16];
        snprintf(name, sizeof name, "p%d", s);
        fx_poisson(f, name, 150, 10, 7 + (uint64_t)s);
        ep_workload *w = &f->wl[s];
        snprintf(w->trace, sizeof w->trace, "%s", name);
        w->service = s;
        w->ingress[0] = 0;
        w->ningress = 1;
        w->rate_scale = 1;
        w->time_scale = 1;
    }
    f->sc.nservices = 2;
    f->sc.nworkloads = 2;
}

typedef struct span {
    ep_time a, b;
    int svc, batch;
} span;

/* The batches of the run (one per instance and start time) into out; returns how many. */
static int
batches(const fx *f, span *out, int cap)
{
    int n = 0;
    for (size_t i = 0; i < f->nrecs; i++) {
        const ep_record *r = &f->recs[i];
        if (r->outcome != EP_OUT_COMPLETED)
            continue;
        int k = 0;
        while (k < n && !(out[k].svc == r->service && out[k].a == r->dispatch))
            k++;
        if (k == n && n < cap)
            out[n++] = (span){r->dispatch, r->done, r->service, r->batch};
        else if (k < n && r->done > out[k].b)
            out[k].b = r->done;
    }
    return n;
}

/* Batches of different services that overlap in time. */
static int
overlaps(const span *b, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            k += b[i].svc != b[j].svc && b[i].a < b[j].b && b[j].a < b[i].b;
    return k;
}

/* The longest batch of `size` requests. */
static ep_dur
longest(const span *b, int n, int size)
{
    ep_dur m = 0;
    for (int i = 0; i < n; i++)
        if (b[i].batch == size && b[i].b - b[i].a > m)
            m = b[i].b - b[i].a;
    return m;
}

static void
run_mode(fx *f, ep_mode first, ep_mode then, ep_run_result *res)
{
    g_first = first;
    g_then = then;
    assert_int_equal(fx_run_with(f, &mt_ops, res), 0);
    assert_true(res->completed > res->requests * 9 / 10);
    free(res->device_busy_s); /* the result's (ep_run_result) */
    res->device_busy_s = NULL;
}

/* Both services' instances in mode m (on a serial device class when serial): their
 * batches never overlap in time. */
static void
expect_turns(const char *tag, ep_mode m, int serial)
{
    fx f;
    two_services(&f, tag);
    f.sc.specs[f.sc.devices[0].spec].serial = serial;
    ep_run_result res;
    run_mode(&f, m, m, &res);
    static span b[8192];
    int n = batches(&f, b, 8192);
    assert_true(n > 100);
    assert_int_equal(overlaps(b, n), 0);
    fx_fini(&f);
}

static void
test_single_instances_have_the_device_to_themselves(void **state)
{
    (void)state;
    expect_turns("mt_single", EP_MODE_SINGLE, 0);
}

static void
test_mt_instances_run_concurrently_and_slow_each_other(void **state)
{
    (void)state;
    fx f, g;
    two_services(&f, "mt_mt");
    two_services(&g, "mt_ref");
    ep_run_result res;
    run_mode(&f, EP_MODE_MT, EP_MODE_MT, &res);
    run_mode(&g, EP_MODE_SINGLE, EP_MODE_SINGLE, &res);
    static span b[8192], c[8192];
    int n = batches(&f, b, 8192), m = batches(&g, c, 8192);
    assert_true(overlaps(b, n) > 10);
    /* A batch of one alone takes t; under MT some take 1.5 t. */
    ep_dur alone = longest(c, m, 1), mt = longest(b, n, 1);
    assert_true(alone > 0);
    assert_true((double)mt > 1.3 * (double)alone);
    fx_fini(&f);
    fx_fini(&g);
}

static void
test_mt_instances_take_turns_on_a_serial_device(void **state)
{
    (void)state;
    expect_turns("mt_serial", EP_MODE_MT, 1);
}

static void
test_relabelling_single_to_mt_keeps_the_instances(void **state)
{
    (void)state;
    fx f;
    two_services(&f, "mt_relabel");
    ep_run_result res;
    run_mode(&f, EP_MODE_SINGLE, EP_MODE_MT, &res);
    assert_int_equal(res.instances, 2); /* kept through the relabel, not loaded again */
    static span b[8192];
    int n = batches(&f, b, 8192), before = 0, after = 0;
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (b[i].svc != b[j].svc && b[i].a < b[j].b && b[j].a < b[i].b) {
                /* No overlap before the relabel at 5 s, some after. */
                if (b[i].a < 5 * EP_NS_PER_S && b[j].a < 5 * EP_NS_PER_S)
                    before++;
                else
                    after++;
            }
    assert_int_equal(before, 0);
    assert_true(after > 0);
    fx_fini(&f);
}

static void
test_mark_mt_labels_what_shares_a_device(void **state)
{
    (void)state;
    ep_instance_spec buf[4] = {
            {.service = 0, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {0}},
            {.service = 1, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {0}},
            {.service = 2, .mode = EP_MODE_MT, .ndev = 1, .devs = {1}},
            {.service = 3, .mode = EP_MODE_TP, .ndev = 2, .devs = {2, 3}},
    };
    ep_placement p = {buf, 4, 4, 0};
    ep_placement_mark_mt(&p);
    assert_int_equal(buf[0].mode, EP_MODE_MT);
    assert_int_equal(buf[1].mode, EP_MODE_MT);
    assert_int_equal(buf[2].mode, EP_MODE_SINGLE); /* alone on its device */
    assert_int_equal(buf[3].mode, EP_MODE_TP);
    /* A single-device instance on a device of a TP group shares it. */
    buf[2].devs[0] = 3;
    ep_placement_mark_mt(&p);
    assert_int_equal(buf[2].mode, EP_MODE_MT);
    assert_true(ep_spec_same_instance(
            &buf[0],
            &(ep_instance_spec){.service = 0, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {0}}));
    assert_false(ep_spec_same_instance(
            &buf[3],
            &(ep_instance_spec){.service = 3, .mode = EP_MODE_PP, .ndev = 2, .devs = {2, 3}}));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_single_instances_have_the_device_to_themselves),
            cmocka_unit_test(test_mt_instances_run_concurrently_and_slow_each_other),
            cmocka_unit_test(test_mt_instances_take_turns_on_a_serial_device),
            cmocka_unit_test(test_relabelling_single_to_mt_keeps_the_instances),
            cmocka_unit_test(test_mark_mt_labels_what_shares_a_device),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
