/* Conformance suite run for every registered policy, under a fake environment (time and
 * state set by the test) and under the simulator: placements name valid devices and fit
 * in memory; routes dispatch to a ready instance of the request's service, forward to
 * another node, or reject with a reason; batches stay within 1..max_batch (or 0 to wait);
 * the same inputs give the same decisions; in the simulator every request gets exactly one
 * record and the policy never makes an invalid choice. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"
#include "epara/experiments/scenario.h"
#include "epara/experiments/prepare.h"
#include "epara/sim/sim.h"
#include "arrivals_count.h"

static const char yaml[] =
        "name: conformance\n"
        "run: {seed: 3, warmup_s: 0, cooldown_s: 0, placement_period_s: 5}\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "  - {name: orin, kind: gpu, mem_gb: 32, mem_bw_gbps: 204.8, peak_tflops: 42}\n"
        "  - {name: cpu, kind: cpu, mem_gb: 8, mem_bw_gbps: 17, peak_tflops: 0.15}\n"
        "nodes:\n"
        "  - {name: server, class: server, count: 2, cores: 32, mem_gb: 128,"
        " devices: [gpu, gpu], link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "  - {name: jetson, class: embedded, count: 2, cores: 12, mem_gb: 32,"
        " devices: [orin], link: {bw_gbps: 1, latency_ms: 0.5}}\n"
        "  - {name: rpi, class: micro, count: 2, cores: 4, mem_gb: 8, devices: [cpu],"
        " link: {bw_gbps: 0.1, latency_ms: 3}}\n"
        "services:\n"
        "  - {name: llm, kind: llm, params_b: 1.24, layers: 16, hidden: 2048,"
        " kv_kb_per_token: 32, slo: {ttft_ms: 1000, tpot_ms: 100}}\n"
        "  - {name: big, kind: llm, params_b: 13, layers: 40, hidden: 5120,"
        " kv_kb_per_token: 800, slo: {ttft_ms: 4000, tpot_ms: 200}}\n"
        "  - {name: seg, kind: dnn, params_m: 27.5, gflops: 62, act_mb: 2, input_kb: 200,"
        " max_batch: 8, slo: {deadline_ms: 150}}\n"
        "  - {name: cam, kind: dnn, params_m: 3.8, gflops: 8.4, act_mb: 1, input_kb: 50,"
        " max_batch: 16, slo: {fps: 30}, sensitivity: frequency}\n"
        "workload:\n"
        "  - {trace: t-llm, service: llm, ingress: [server, jetson],"
        " generate: {kind: poisson, rate: 3, duration_s: 60, seed: 1,"
        " sizes: \"lognormal:6,1,4,0.8\"}}\n"
        "  - {trace: t-big, service: big, ingress: server,"
        " generate: {kind: poisson, rate: 0.3, duration_s: 60, seed: 2,"
        " sizes: \"lognormal:6,1,4,0.8\"}}\n"
        "  - {trace: t-seg, service: seg, ingress: [rpi, jetson],"
        " generate: {kind: gamma, rate: 40, cv: 3, duration_s: 60, seed: 3}}\n"
        "  - {trace: t-cam, service: cam, ingress: rpi,"
        " generate: {kind: video, cameras: 4, fps: 30, jitter_ms: 2, duration_s: 60,"
        " seed: 4}}\n";

typedef struct fake {
    ep_scenario sc;
    ep_category cat[8];
    ep_instance_view inst[512];
    int node_up[16], link_up[16];
    int64_t arrivals[8];
    double rate[8], mean_in[8], mean_out[8];
    ep_view view;
    ep_rng rng;
    ep_env env;
    void *state;
} fake;

static ep_dur
star_delay(const ep_view *v, int a, int b, int64_t bytes)
{
    if (a == b)
        return 0;
    const ep_link *x = &v->sc->links[v->sc->nodes[a].link];
    const ep_link *y = &v->sc->links[v->sc->nodes[b].link];
    return x->latency + y->latency +
           (ep_dur)((double)bytes / x->bw_bytes_per_s * 1e9 +
                    (double)bytes / y->bw_bytes_per_s * 1e9);
}

static void
no_timer(void *host, ep_dur after, uint64_t cookie)
{
    (void)host;
    (void)after;
    (void)cookie;
}

static void
fake_init(fake *f, const ep_policy_ops *ops)
{
    memset(f, 0, sizeof *f);
    ep_parse_error pe;
    if (ep_scenario_load_text(yaml, strlen(yaml), "conformance", ".", &f->sc, &pe))
        fail_msg("scenario: %ld: %s", pe.line, pe.msg);
    for (int i = 0; i < f->sc.nnodes; i++)
        f->node_up[i] = 1;
    for (int i = 0; i < f->sc.nlinks; i++)
        f->link_up[i] = 1;
    double rates[] = {3, 0.3, 40, 120};
    for (int s = 0; s < f->sc.nservices; s++) {
        f->rate[s] = rates[s];
        f->mean_in[s] = f->sc.services[s].kind == EP_SVC_LLM ? 600 : 200000;
        f->mean_out[s] = f->sc.services[s].kind == EP_SVC_LLM ? 80 : 1;
    }
    ep_view *v = &f->view;
    v->sc = &f->sc;
    v->cat = f->cat;
    v->inst = f->inst;
    v->node_up = f->node_up;
    v->link_up = f->link_up;
    v->delay = star_delay;
    v->arrivals = f->arrivals;
    v->rate = f->rate;
    v->mean_input = f->mean_in;
    v->mean_output = f->mean_out;
    v->placement_period = 20 * EP_NS_PER_S;
    v->sync_period = 500 * EP_NS_PER_MS;
    assert_int_equal(ep_rng_init(&f->rng, 1, EP_STREAM_POLICY), 0);
    f->env.now = 0;
    f->env.rng = &f->rng;
    f->env.timer_arm = no_timer;
    f->state = calloc(1, ops->state_size ? ops->state_size : 1);
    assert_non_null(f->state);
    if (ops->init)
        assert_int_equal(ops->init(f->state, &f->env, v, f->sc.params, f->sc.nparams), 0);
    for (int s = 0; s < f->sc.nservices; s++) {
        if (ops->categorize)
            ops->categorize(f->state, v, s, &f->cat[s]);
        else
            ep_category_default(v, s, &f->cat[s]);
        assert_true(f->cat[s].sensitivity == EP_SENS_LATENCY ||
                    f->cat[s].sensitivity == EP_SENS_FREQUENCY);
    }
}

static void
fake_fini(fake *f, const ep_policy_ops *ops)
{
    if (ops->fini)
        ops->fini(f->state);
    free(f->state);
    ep_rng_fini(&f->rng);
    ep_scenario_fini(&f->sc);
}

/* Places, checks validity and memory, and installs the instances as ready and idle. */
static void
place_and_install(fake *f, const ep_policy_ops *ops)
{
    ep_instance_spec specs[512];
    ep_placement p = {specs, 0, 512, 0};
    if (!ops->place)
        return;
    assert_int_equal(ops->place(f->state, &f->env, &f->view, &p), 0);
    if (p.unchanged)
        return;
    double freem[64];
    for (int d = 0; d < f->sc.ndevices; d++)
        freem[d] = ep_pol_usable_mem(&f->sc, d);
    f->view.ninst = 0;
    for (int i = 0; i < p.n; i++) {
        const ep_instance_spec *sp = &p.inst[i];
        assert_true(sp->service >= 0 && sp->service < f->sc.nservices);
        assert_true(sp->ndev >= 1 && sp->ndev <= EP_MAX_STAGE_DEVS);
        for (int k = 0; k < sp->ndev; k++) {
            assert_true(sp->devs[k] >= 0 && sp->devs[k] < f->sc.ndevices);
            for (int j = 0; j < k; j++)
                assert_int_not_equal(sp->devs[j], sp->devs[k]);
        }
        if (sp->mode == EP_MODE_SINGLE || sp->mode == EP_MODE_MT)
            assert_int_equal(sp->ndev, 1);
        if (sp->mode == EP_MODE_TP)
            for (int k = 1; k < sp->ndev; k++)
                assert_int_equal(f->sc.devices[sp->devs[k]].node, f->sc.devices[sp->devs[0]].node);
        assert_true(ep_pol_fits(&f->view, sp, freem));
        ep_pol_take(&f->view, sp, freem);
        ep_instance_view *iv = &f->inst[f->view.ninst];
        memset(iv, 0, sizeof *iv);
        iv->spec = *sp;
        iv->id = f->view.ninst;
        iv->node = f->sc.devices[sp->devs[0]].node;
        iv->ready = 1;
        iv->active = 1;
        iv->kv_free = f->sc.services[sp->service].kind == EP_SVC_LLM
                              ? ep_pol_kv_capacity(&f->view, sp)
                              : -1;
        f->view.ninst++;
    }
}

static void
check_route(fake *f, const ep_policy_ops *ops, const ep_request_info *req, ep_route *out)
{
    memset(out, 0, sizeof *out);
    out->kind = EP_ROUTE_REJECT;
    ops->route(f->state, &f->env, &f->view, req, out);
    switch (out->kind) {
    case EP_ROUTE_DISPATCH:
        assert_true(out->instance >= 0 && out->instance < f->view.ninst);
        assert_int_equal(f->inst[out->instance].spec.service, req->service);
        assert_true(f->inst[out->instance].ready);
        break;
    case EP_ROUTE_FORWARD:
        assert_true(out->node >= 0 && out->node < f->sc.nnodes);
        assert_int_not_equal(out->node, req->at_node);
        break;
    case EP_ROUTE_REJECT:
        assert_non_null(out->reason);
        break;
    default:
        fail_msg("route kind %d", (int)out->kind);
    }
}

static void
conformance_fake(const ep_policy_ops *ops)
{
    fake f, g;
    fake_init(&f, ops);
    fake_init(&g, ops);
    place_and_install(&f, ops);
    place_and_install(&g, ops);
    assert_int_equal(f.view.ninst, g.view.ninst);
    assert_memory_equal(f.inst, g.inst, (size_t)f.view.ninst * sizeof f.inst[0]);
    /* Routes from every node for every service, at two times; identical across copies. */
    for (int t = 0; t < 2; t++) {
        f.env.now = g.env.now = t * EP_NS_PER_S;
        for (int s = 0; s < f.sc.nservices; s++) {
            for (int n = 0; n < f.sc.nnodes; n++) {
                const ep_service *svc = &f.sc.services[s];
                ep_request_info req = {
                        .id = (uint64_t)(s * 100 + n),
                        .service = s,
                        .ingress = n,
                        .at_node = n,
                        .arrival = f.env.now,
                        .deadline = f.env.now + (svc->kind == EP_SVC_LLM ? svc->slo.ttft
                                                 : svc->slo.fps > 0      ? svc->slo.frame_deadline
                                                                         : svc->slo.deadline),
                        .input = svc->kind == EP_SVC_LLM ? 600 : 200000,
                        .output = svc->kind == EP_SVC_LLM ? 80 : 1,
                        .bytes = svc->kind == EP_SVC_LLM ? 2400 : 200000,
                        .stream = n,
                        .frame = t,
                };
                ep_route a, b;
                check_route(&f, ops, &req, &a);
                check_route(&g, ops, &req, &b);
                assert_int_equal(a.kind, b.kind);
                assert_int_equal(a.instance, b.instance);
            }
        }
    }
    /* Batches within range for every DNN instance and a few queue shapes. */
    if (ops->pick_batch) {
        ep_time dl[64], arr[64];
        for (int i = 0; i < f.view.ninst; i++) {
            const ep_instance_view *iv = &f.inst[i];
            const ep_service *svc = &f.sc.services[iv->spec.service];
            if (svc->kind == EP_SVC_LLM)
                continue;
            int maxb = iv->spec.max_batch > 0 ? iv->spec.max_batch : svc->max_batch;
            for (int n = 1; n <= 64; n *= 4) {
                for (int k = 0; k < n; k++) {
                    arr[k] = f.env.now - k * EP_NS_PER_MS;
                    dl[k] = arr[k] + svc->slo.deadline;
                }
                ep_queue_view q = {n, dl, arr};
                int drop = 0;
                int b = ops->pick_batch(f.state, &f.env, &f.view, i, &q, &drop);
                assert_true(b >= 0 && b <= n && b <= maxb);
            }
        }
    }
    fake_fini(&f, ops);
    fake_fini(&g, ops);
}

typedef struct counter {
    int64_t records, invalid;
} counter;

static void
count_record(void *ctx, const ep_record *r)
{
    counter *c = ctx;
    c->records++;
    if (r->reason && strstr(r->reason, "policy chose an invalid"))
        c->invalid++;
}

static void
conformance_sim(const ep_policy_ops *ops, ep_store *st, const char *param)
{
    ep_scenario sc;
    ep_parse_error pe;
    assert_int_equal(ep_scenario_load_text(yaml, strlen(yaml), "conformance", ".", &sc, &pe), 0);
    if (param) { /* one EPARA mechanism switched off: "name" = 0 */
        snprintf(sc.params[sc.nparams].key, sizeof sc.params[0].key, "%s", param);
        snprintf(sc.params[sc.nparams].value, sizeof sc.params[0].value, "0");
        sc.nparams++;
    }
    ep_run_result r1, r2;
    counter c1 = {0, 0}, c2 = {0, 0};
    ep_run_opts o;
    memset(&o, 0, sizeof o);
    o.policy = ops->name;
    o.traces = st;
    o.on_record = count_record;
    o.ctx = &c1;
    char err[256];
    int rc = ep_sim_run(&sc, &o, &r1, err, sizeof err);
    if (rc)
        fail_msg("%s: %s", ops->name, err);
    o.ctx = &c2;
    assert_int_equal(ep_sim_run(&sc, &o, &r2, err, sizeof err), 0);
    int64_t arrivals = rc_arrivals(st, &sc, 1, 0);
    assert_true(arrivals > 0);
    if (c1.records != arrivals)
        fail_msg("%s: %lld records for %lld arrivals", ops->name, (long long)c1.records,
                 (long long)arrivals);
    assert_int_equal(c1.invalid, 0);
    assert_int_equal(r1.placements_refused, 0);
    assert_int_equal(r1.event_hash, r2.event_hash);
    assert_int_equal(r1.slo_met, r2.slo_met);
    assert_int_equal(r1.requests, r1.completed + r1.rejected + r1.dropped + r1.unfinished);
    /* A device is busy at most all the time, however many instances share it (MT). */
    for (int d = 0; d < r1.ndevices; d++)
        assert_true(r1.device_busy_s[d] <= r1.sim_time_s + 1e-6);
    ep_run_result_fini(&r1);
    ep_run_result_fini(&r2);
    ep_scenario_fini(&sc);
}

static void
test_every_policy_conforms_under_a_fake_env(void **state)
{
    (void)state;
    for (const ep_policy_ops *const *p = ep_policy_all(); *p; p++) {
        assert_int_equal((*p)->abi, EP_POLICY_ABI);
        assert_non_null((*p)->route);
        conformance_fake(*p);
    }
}

static void
test_every_policy_conforms_under_the_simulator(void **state)
{
    (void)state;
    char db[64];
    snprintf(db, sizeof db, "test_conformance_%ld.db", (long)getpid());
    remove(db);
    ep_store *st;
    assert_int_equal(ep_store_open(db, 0, &st, NULL, 0), 0);
    ep_scenario sc;
    ep_parse_error pe;
    assert_int_equal(ep_scenario_load_text(yaml, strlen(yaml), "conformance", ".", &sc, &pe), 0);
    char err[256];
    assert_int_equal(ep_scenario_prepare_traces(&sc, st, NULL, NULL, err, sizeof err), 0);
    ep_scenario_fini(&sc);
    for (const ep_policy_ops *const *p = ep_policy_all(); *p; p++)
        conformance_sim(*p, st, NULL);
    /* EPARA with each mechanism off (hysteresis off re-places every period: many
     * instances, so the host's instance arrays grow under the policy). */
    static const char *const off[] = {"categorize",   "forward",      "mt",          "mf",
                                      "parallel",     "early_reject", "edf",         "hysteresis",
                                      "link_aware",   "own_sent",     "inflow",      "llm_forward",
                                      "link_density", "link_window",  "tail_replica"};
    const ep_policy_ops *epara = ep_policy_find("epara");
    for (size_t i = 0; epara && i < sizeof off / sizeof off[0]; i++)
        conformance_sim(epara, st, off[i]);
    ep_store_close(st);
    remove(db);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_policy_conforms_under_a_fake_env),
            cmocka_unit_test(test_every_policy_conforms_under_the_simulator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
