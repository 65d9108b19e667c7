/* adainf (policies/adainf.c): nodes without a GPU, and servers whose devices meet no SLO for a
 * service, send its requests to one fixed GPU edge server (the nearest with room); each edge
 * server splits its GPUs among the services whose requests reach it by SLO need, with every
 * co-located LLM keeping a KV cache for its planned batch; the home admits or rejects and
 * never forwards again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "baseline_fixture.h"

extern const ep_policy_ops ep_policy_adainf;

/* s1, s2: servers with one big GPU; e1: an embedded board with a small GPU on which segC
 * meets its SLO only for a lone request (2 x 60 ms > 100 ms); pi1, pi2: CPU-only nodes.
 * Profiles make the SLO capacities exact: segA on big 400/s at batch 8, segB on big 1000/s
 * at batch 8, segC on big 400/s. */
static const char yaml[] =
        "name: ada\n"
        "run: {seed: 3, warmup_s: 0, cooldown_s: 0, placement_period_s: 10}\n"
        "devices:\n"
        "  - {name: big, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
        "  - {name: small, kind: gpu, mem_gb: 8, mem_bw_gbps: 200, peak_tflops: 20}\n"
        "  - {name: cpu, kind: cpu, mem_gb: 8, mem_bw_gbps: 17, peak_tflops: 0.15}\n"
        "nodes:\n"
        "  - {name: s1, class: server, cores: 16, mem_gb: 64, devices: [big],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "  - {name: s2, class: server, cores: 16, mem_gb: 64, devices: [big],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "  - {name: e1, class: embedded, cores: 8, mem_gb: 32, devices: [small],"
        " link: {bw_gbps: 1, latency_ms: 0.3}}\n"
        "  - {name: pi1, class: micro, cores: 4, mem_gb: 8, devices: [cpu],"
        " link: {bw_gbps: 0.1, latency_ms: 3}}\n"
        "  - {name: pi2, class: micro, cores: 4, mem_gb: 8, devices: [cpu],"
        " link: {bw_gbps: 0.1, latency_ms: 3}}\n"
        "services:\n"
        "  - {name: segA, kind: dnn, params_m: 27.5, gflops: 62, max_batch: 8,"
        " slo: {deadline_ms: 100}}\n"
        "  - {name: segB, kind: dnn, params_m: 3.8, gflops: 8.4, max_batch: 8,"
        " slo: {deadline_ms: 50}}\n"
        "  - {name: segC, kind: dnn, params_m: 27.5, gflops: 62, max_batch: 8,"
        " slo: {deadline_ms: 100}}\n"
        "profiles:\n"
        "  - {service: segA, device: big, batch: [1, 8], latency_ms: [5, 20]}\n"
        "  - {service: segB, device: big, batch: [1, 8], latency_ms: [2, 8]}\n"
        "  - {service: segC, device: big, batch: [1, 8], latency_ms: [5, 20]}\n"
        "  - {service: segC, device: small, batch: [1, 8], latency_ms: [60, 200]}\n"
        "workload:\n"
        "  - {trace: tA, service: segA, ingress: [pi1, pi2]}\n"
        "  - {trace: tB, service: segB, ingress: s1}\n"
        "  - {trace: tC, service: segC, ingress: e1}\n"
        "policy: adainf\n";

enum { S1 = 0, S2 = 1, E1 = 2, PI1 = 3, PI2 = 4, SEGA = 0, SEGB = 1, SEGC = 2 };

static int
count_on(const ep_placement *p, int svc, int node, const ep_scenario *sc)
{
    int n = 0;
    for (int i = 0; i < p->n; i++)
        n += p->inst[i].service == svc && sc->devices[p->inst[i].devs[0]].node == node;
    return n;
}

static const ep_instance_spec *
find_on(const ep_placement *p, int svc, int node, const ep_scenario *sc)
{
    for (int i = 0; i < p->n; i++)
        if (p->inst[i].service == svc && sc->devices[p->inst[i].devs[0]].node == node)
            return &p->inst[i];
    return NULL;
}

/* What the policy does with a request of svc at node `at` (hops forwards so far). */
static ep_route
route_at(bf *f, int svc, int ingress, int at, int hops, ep_dur deadline)
{
    ep_request_info r = {.id = 1,
                         .service = svc,
                         .ingress = ingress,
                         .at_node = at,
                         .hops = hops,
                         .arrival = f->env.now,
                         .deadline = f->env.now + deadline,
                         .input = 50000,
                         .bytes = 50000};
    ep_route out = {EP_ROUTE_DISPATCH, -1, -1, NULL};
    f->ops->route(f->pstate, &f->env, &f->view, &r, &out);
    return out;
}

/* The area scenario with policy parameters params ("{key: value, ...}"; NULL: none). */
static const char *
area_yaml(const char *params)
{
    static char y[sizeof yaml + 128];
    if (!params)
        return yaml;
    snprintf(y, sizeof y, "%.*spolicy: {name: adainf, params: %s}\n",
             (int)(strstr(yaml, "policy: adainf") - yaml), yaml, params);
    return y;
}

/* The area scenario's policy (with params) under a view of the given rates (segA, segB,
 * segC): pi1 and pi2 are 2 ms from s1, 5 ms from s2 and 9 ms from e1; e1 is 1 ms from s2 and
 * 2 ms from s1. */
static void
area_policy_with(bf *f, const char *tag, const char *params, double a, double b, double c)
{
    assert_int_equal(bf_init(f, area_yaml(params), tag), 0);
    double rate[3] = {a, b, c};
    bf_view(f, rate, NULL, NULL);
    for (int p = PI1; p <= PI2; p++) {
        f->delay_ms[p][S1] = 2;
        f->delay_ms[p][S2] = 5;
        f->delay_ms[p][E1] = 9;
    }
    f->delay_ms[E1][S1] = 2;
    f->delay_ms[E1][S2] = 1;
    assert_int_equal(bf_policy(f, "adainf"), 0);
}

static void
area_policy(bf *f, const char *tag, double a, double b, double c)
{
    area_policy_with(f, tag, NULL, a, b, c);
}

static void
test_gpu_less_nodes_send_their_requests_to_the_nearest_server_with_room(void **state)
{
    (void)state;
    /* s1 has room (segB 100/s needs 0.1 of its GPU; each Pi's segA 50/s needs 0.125): both
     * Pis go to s1, the nearest, which then plans segA beside its own segB. */
    bf f;
    area_policy(&f, "ada_near", 100, 100, 10);
    ep_instance_spec buf[32];
    ep_placement p = {buf, 0, 32, 0};
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    for (int pi = PI1; pi <= PI2; pi++) {
        ep_route r = route_at(&f, SEGA, pi, pi, 0, 100 * EP_NS_PER_MS);
        assert_int_equal(r.kind, EP_ROUTE_FORWARD);
        assert_int_equal(r.node, S1);
    }
    assert_int_equal(count_on(&p, SEGA, S1, &f.sc), 1);
    assert_int_equal(count_on(&p, SEGA, S2, &f.sc), 0);
    assert_int_equal(count_on(&p, SEGA, PI1, &f.sc) + count_on(&p, SEGA, PI2, &f.sc), 0);
    /* One GPU, two services: co-located (MT), each with the largest batch whose worst case,
     * slowed by the two busy at once, meets its deadline. */
    const ep_instance_spec *a = find_on(&p, SEGA, S1, &f.sc), *b = find_on(&p, SEGB, S1, &f.sc);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(a->devs[0], b->devs[0]);
    assert_int_equal(a->mode, EP_MODE_MT);
    assert_int_equal(b->mode, EP_MODE_MT);
    double slow = ep_cost_mt_slowdown(&f.sc, 2);
    for (int k = 0; k < 2; k++) {
        const ep_instance_spec *sp = k ? b : a;
        ep_dur limit = f.sc.services[sp->service].slo.deadline;
        ep_dur t = ep_cost_dnn_batch(&f.sc, sp->service, 0, sp->max_batch);
        assert_true(2.0 * (double)t * slow <= (double)limit);
        if (sp->max_batch < f.sc.services[sp->service].max_batch) {
            ep_dur t1 = ep_cost_dnn_batch(&f.sc, sp->service, 0, sp->max_batch + 1);
            assert_true(2.0 * (double)t1 * slow > (double)limit);
        }
    }
    bf_fini(&f);

    /* segB 950/s fills s1's GPU: the Pis go to s2, the next nearest with room. */
    area_policy(&f, "ada_full", 100, 950, 10);
    p.n = 0;
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    for (int pi = PI1; pi <= PI2; pi++) {
        ep_route r = route_at(&f, SEGA, pi, pi, 0, 100 * EP_NS_PER_MS);
        assert_int_equal(r.kind, EP_ROUTE_FORWARD);
        assert_int_equal(r.node, S2);
    }
    assert_int_equal(count_on(&p, SEGA, S2, &f.sc), 1);
    assert_int_equal(count_on(&p, SEGA, S1, &f.sc), 0);
    bf_fini(&f);
}

static void
test_a_server_whose_devices_meet_no_slo_for_a_service_sends_it_to_one_that_does(void **state)
{
    (void)state;
    bf f;
    area_policy(&f, "ada_lone", 100, 100, 10);
    ep_instance_spec buf[32];
    ep_placement p = {buf, 0, 32, 0};
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    /* e1's GPU meets segC's deadline only for a lone request: its segC goes to s2 (1 ms),
     * which plans for it; e1 hosts nothing. */
    ep_route r = route_at(&f, SEGC, E1, E1, 0, 100 * EP_NS_PER_MS);
    assert_int_equal(r.kind, EP_ROUTE_FORWARD);
    assert_int_equal(r.node, S2);
    assert_int_equal(count_on(&p, SEGC, S2, &f.sc), 1);
    for (int i = 0; i < p.n; i++)
        assert_int_not_equal(f.sc.devices[p.inst[i].devs[0]].node, E1);
    /* A server serves the services it meets the SLO for itself. */
    r = route_at(&f, SEGB, S1, S1, 0, 50 * EP_NS_PER_MS);
    assert_int_equal(r.kind, EP_ROUTE_REJECT); /* its own, and no instance in this view */
    assert_int_equal(count_on(&p, SEGB, S1, &f.sc), 1);
    bf_fini(&f);
}

static void
test_a_forwarded_request_is_served_or_rejected_never_forwarded_again(void **state)
{
    (void)state;
    bf f;
    area_policy(&f, "ada_hop", 100, 100, 10);
    /* segA at s1 (the Pis' home) with a ready instance: a forwarded request is dispatched. */
    ep_instance_spec sp = {SEGA, EP_MODE_SINGLE, 1, {f.sc.nodes[S1].dev0}, 8, EP_QUEUE_FIFO};
    int i = bf_add_instance(&f, &sp, 0);
    ep_route r = route_at(&f, SEGA, PI1, S1, 1, 100 * EP_NS_PER_MS);
    assert_int_equal(r.kind, EP_ROUTE_DISPATCH);
    assert_int_equal(r.instance, f.view.inst[i].id);
    /* At a server without an instance of it (s2), a forwarded request is rejected there. */
    r = route_at(&f, SEGA, PI1, S2, 1, 100 * EP_NS_PER_MS);
    assert_int_equal(r.kind, EP_ROUTE_REJECT);
    assert_non_null(r.reason);
    bf_fini(&f);
}

static void
test_admission_rejects_what_no_replica_on_the_server_can_finish_in_time(void **state)
{
    (void)state;
    bf f;
    area_policy(&f, "ada_adm", 100, 100, 10);
    ep_instance_spec sp = {SEGB, EP_MODE_SINGLE, 1, {f.sc.nodes[S1].dev0}, 8, EP_QUEUE_FIFO};
    bf_add_instance(&f, &sp, 80 * EP_NS_PER_MS);
    ep_route r = route_at(&f, SEGB, S1, S1, 0, 50 * EP_NS_PER_MS);
    assert_int_equal(r.kind, EP_ROUTE_REJECT);
    /* A second replica with a short queue takes it: the earliest estimated completion. */
    int soon = bf_add_instance(&f, &sp, 10 * EP_NS_PER_MS);
    r = route_at(&f, SEGB, S1, S1, 0, 50 * EP_NS_PER_MS);
    assert_int_equal(r.kind, EP_ROUTE_DISPATCH);
    assert_int_equal(r.instance, f.view.inst[soon].id);
    bf_fini(&f);

    /* admission=0: the late replica still gets it. */
    area_policy_with(&f, "ada_adm0", "{admission: 0}", 100, 100, 10);
    int late = bf_add_instance(&f, &sp, 80 * EP_NS_PER_MS);
    r = route_at(&f, SEGB, S1, S1, 0, 50 * EP_NS_PER_MS);
    assert_int_equal(r.kind, EP_ROUTE_DISPATCH);
    assert_int_equal(r.instance, f.view.inst[late].id);
    bf_fini(&f);
}

static void
test_an_unreachable_server_hands_its_area_to_the_nearest_live_one(void **state)
{
    (void)state;
    bf f;
    area_policy(&f, "ada_down", 100, 100, 10); /* the Pis' home is s1 */
    f.up[S1] = 0;                              /* node_up and link_up share the array */
    ep_route r = route_at(&f, SEGA, PI1, PI1, 0, 100 * EP_NS_PER_MS);
    assert_int_equal(r.kind, EP_ROUTE_REJECT); /* no live server has segA */
    ep_instance_spec sp = {SEGA, EP_MODE_SINGLE, 1, {f.sc.nodes[S2].dev0}, 8, EP_QUEUE_FIFO};
    bf_add_instance(&f, &sp, 0);
    r = route_at(&f, SEGA, PI1, PI1, 0, 100 * EP_NS_PER_MS);
    assert_int_equal(r.kind, EP_ROUTE_FORWARD);
    assert_int_equal(r.node, S2);
    f.up[S1] = 1;
    r = route_at(&f, SEGA, PI1, PI1, 0, 100 * EP_NS_PER_MS);
    assert_int_equal(r.node, S1); /* back home once it is up */
    bf_fini(&f);
}

/* duo: one server with two identical GPUs and two services P and Q of the same cost
 * (5 ms at batch 1, 20 ms at batch 8); pi: a CPU node whose P requests duo serves. */
static void
duo_policy(bf *f, const char *tag, double p_rate, double q_rate, int p_ms, int q_ms)
{
    char y[2048];
    snprintf(y, sizeof y,
             "name: duo\n"
             "devices:\n"
             "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
             "  - {name: cpu, kind: cpu, mem_gb: 8, mem_bw_gbps: 17, peak_tflops: 0.15}\n"
             "nodes:\n"
             "  - {name: duo, class: server, cores: 8, mem_gb: 64, devices: [gpu, gpu],"
             " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
             "  - {name: pi, class: micro, cores: 4, mem_gb: 8, devices: [cpu],"
             " link: {bw_gbps: 0.1, latency_ms: 3}}\n"
             "services:\n"
             "  - {name: P, kind: dnn, params_m: 27.5, gflops: 62, max_batch: 8,"
             " slo: {deadline_ms: %d}}\n"
             "  - {name: Q, kind: dnn, params_m: 27.5, gflops: 62, max_batch: 8,"
             " slo: {deadline_ms: %d}}\n"
             "profiles:\n"
             "  - {service: P, device: gpu, batch: [1, 8], latency_ms: [5, 20]}\n"
             "  - {service: Q, device: gpu, batch: [1, 8], latency_ms: [5, 20]}\n"
             "workload:\n"
             "  - {trace: tp, service: P, ingress: pi}\n"
             "  - {trace: tq, service: Q, ingress: duo}\n",
             p_ms, q_ms);
    assert_int_equal(bf_init(f, y, tag), 0);
    double rate[2] = {p_rate, q_rate};
    bf_view(f, rate, NULL, NULL);
    assert_int_equal(bf_policy(f, "adainf"), 0);
}

/* Replicas (devices) of P and Q that duo plans for the given demand and deadlines. */
static void
duo_split(double p_rate, double q_rate, int p_ms, int q_ms, int *np, int *nq, int *bp, int *bq)
{
    bf f;
    duo_policy(&f, "ada_duo", p_rate, q_rate, p_ms, q_ms);
    ep_instance_spec buf[16];
    ep_placement p = {buf, 0, 16, 0};
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    *np = count_on(&p, 0, 0, &f.sc);
    *nq = count_on(&p, 1, 0, &f.sc);
    *bp = *bq = 0;
    for (int i = 0; i < p.n; i++) {
        int *b = p.inst[i].service == 0 ? bp : bq;
        if (p.inst[i].max_batch > *b)
            *b = p.inst[i].max_batch;
    }
    bf_fini(&f);
}

static void
test_a_server_splits_its_gpus_by_slo_need(void **state)
{
    (void)state;
    int np, nq, bp, bq;
    /* Same SLO: the service with more demand gets both GPUs (600/s > one GPU's 400/s), the
     * other the rest of one; and the other way round. */
    duo_split(600, 100, 100, 100, &np, &nq, &bp, &bq);
    assert_int_equal(np, 2);
    assert_int_equal(nq, 1);
    duo_split(100, 600, 100, 100, &np, &nq, &bp, &bq);
    assert_int_equal(np, 1);
    assert_int_equal(nq, 2);
    /* Same demand (350/s each): the tighter SLO (22 ms: batch <= 3, 323/s per GPU) needs
     * more than a GPU and gets two, the looser one (100 ms: 400/s) one; smaller batches
     * for the tighter. */
    duo_split(350, 350, 100, 22, &np, &nq, &bp, &bq);
    assert_int_equal(np, 1);
    assert_int_equal(nq, 2);
    assert_true(bq < bp);
    duo_split(350, 350, 22, 100, &np, &nq, &bp, &bq);
    assert_int_equal(np, 2);
    assert_int_equal(nq, 1);
    assert_true(bp < bq);
    /* Little demand: one replica each, on GPUs of their own while there are enough. */
    bf f;
    duo_policy(&f, "ada_duo_low", 50, 50, 100, 100);
    ep_instance_spec buf[16];
    ep_placement p = {buf, 0, 16, 0};
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    assert_int_equal(p.n, 2);
    assert_int_not_equal(p.inst[0].devs[0], p.inst[1].devs[0]);
    assert_int_equal(p.inst[0].mode, EP_MODE_SINGLE);
    assert_int_equal(p.inst[1].mode, EP_MODE_SINGLE);
    bf_fini(&f);
}

static void
test_replans_from_the_demand_its_area_counts(void **state)
{
    (void)state;
    bf f;
    duo_policy(&f, "ada_replan", 100, 50, 100, 100);
    ep_instance_spec buf[16];
    ep_placement p = {buf, 0, 16, 0};
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    assert_int_equal(count_on(&p, 0, 0, &f.sc), 1);
    /* 30 s of P arrivals at the Pi at 2000/s, each sent to duo; then the next placement. */
    for (int i = 0; i < 60000; i++) {
        f.env.now = (ep_time)i * (30 * EP_NS_PER_S / 60000);
        ep_route r = route_at(&f, 0, 1, 1, 0, 100 * EP_NS_PER_MS);
        assert_int_equal(r.kind, EP_ROUTE_FORWARD);
        assert_int_equal(r.node, 0);
    }
    f.env.now = 30 * EP_NS_PER_S;
    p.n = 0;
    p.unchanged = 0;
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    assert_false(p.unchanged);
    /* EWMA 0.25 x 2000 + 0.75 x 100 = 575/s > 400/s: P on both GPUs. */
    assert_int_equal(count_on(&p, 0, 0, &f.sc), 2);
    bf_fini(&f);
}

/* KV tokens the host gives instance i of placement p (node/place.c: what the weights and
 * reserves leave on a device, split evenly among its LLM instances; 1/g of a token on each of
 * g devices). */
static int64_t
host_kv(const ep_scenario *sc, const ep_placement *p, int i)
{
    double share = 1e300;
    for (int q = 0; q < p->inst[i].ndev; q++) {
        int d = p->inst[i].devs[q], llms = 0;
        double left = ep_pol_usable_mem(sc, d);
        for (int m = 0; m < p->n; m++)
            for (int r = 0; r < p->inst[m].ndev; r++)
                if (p->inst[m].devs[r] == d) {
                    left -= (double)ep_cost_instance_mem(sc, p->inst[m].service, p->inst[m].ndev);
                    llms += sc->services[p->inst[m].service].kind == EP_SVC_LLM;
                }
        if (left / llms < share)
            share = left / llms;
    }
    const ep_service *s = &sc->services[p->inst[i].service];
    return share > 0 ? (int64_t)(share * p->inst[i].ndev / (double)s->kv_bytes_per_token) : 0;
}

/* A server of two GPUs of mem_gb each: a 13B LLM (26 GB: tensor parallel on 24 GB GPUs), a
 * 3B and a 1B LLM and a segmentation DNN, all entering it. Returns the LLM instances placed
 * and how many share a device with another LLM; every LLM's KV share holds its batch. */
static void
check_kv(int mem_gb, const double *rate, int *nllm, int *colocated, int *has13)
{
    char y[2048];
    snprintf(y, sizeof y,
             "name: kv\n"
             "devices:\n"
             "  - {name: gpu, kind: gpu, mem_gb: %d, mem_bw_gbps: 1008, peak_tflops: 165}\n"
             "nodes:\n"
             "  - {name: srv, class: server, cores: 32, mem_gb: 128, devices: [gpu, gpu],"
             " link: {bw_gbps: 10, latency_ms: 0.1}, intra_gbps: 25}\n"
             "services:\n"
             "  - {name: l13, kind: llm, params_b: 13, layers: 40, hidden: 5120,"
             " kv_kb_per_token: 800, slo: {ttft_ms: 2000, tpot_ms: 200}}\n"
             "  - {name: l3, kind: llm, params_b: 3.21, layers: 28, hidden: 3072,"
             " kv_kb_per_token: 112, slo: {ttft_ms: 450, tpot_ms: 40}}\n"
             "  - {name: l1, kind: llm, params_b: 1.24, layers: 16, hidden: 2048,"
             " kv_kb_per_token: 32, slo: {ttft_ms: 450, tpot_ms: 40}}\n"
             "  - {name: seg, kind: dnn, params_m: 27.5, gflops: 62, max_batch: 16,"
             " slo: {deadline_ms: 100}}\n"
             "workload:\n"
             "  - {trace: a, service: l13, ingress: srv}\n"
             "  - {trace: b, service: l3, ingress: srv}\n"
             "  - {trace: c, service: l1, ingress: srv}\n"
             "  - {trace: d, service: seg, ingress: srv}\n",
             mem_gb);
    bf f;
    assert_int_equal(bf_init(&f, y, "ada_kv"), 0);
    double in[4] = {1000, 1000, 1000, 200000}, out[4] = {200, 200, 200, 1};
    bf_view(&f, rate, in, out);
    assert_int_equal(bf_policy(&f, "adainf"), 0);
    ep_instance_spec buf[16];
    ep_placement p = {buf, 0, 16, 0};
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    *nllm = *colocated = *has13 = 0;
    for (int i = 0; i < p.n; i++) {
        if (f.sc.services[p.inst[i].service].kind != EP_SVC_LLM)
            continue;
        (*nllm)++;
        *has13 |= p.inst[i].service == 0;
        assert_true(p.inst[i].max_batch >= 1);
        int64_t kv = host_kv(&f.sc, &p, i);
        assert_true((double)kv >=
                    (double)p.inst[i].max_batch * (in[p.inst[i].service] + out[p.inst[i].service]));
        int beside = 0;
        for (int m = 0; m < p.n; m++)
            for (int q = 0; q < p.inst[i].ndev; q++)
                for (int r = 0; r < p.inst[m].ndev; r++)
                    beside |= m != i && p.inst[m].devs[r] == p.inst[i].devs[q] &&
                              f.sc.services[p.inst[m].service].kind == EP_SVC_LLM;
        *colocated += beside;
    }
    bf_fini(&f);
}

static void
test_co_located_llms_keep_a_kv_cache_for_their_planned_batch(void **state)
{
    (void)state;
    int n, colo, has13;
    /* 24 GB GPUs: the 13B model takes 14 GB of each; a 3B beside it would leave ~0.1 GB of
     * KV per LLM (a few hundred 13B tokens), so it is not put there. */
    double busy13[4] = {2, 0.5, 0.5, 20};
    check_kv(24, busy13, &n, &colo, &has13);
    assert_true(has13);
    assert_true(n >= 1);
    /* 48 GB GPUs: all three LLMs fit beside each other, each with KV for its batch. */
    double all[4] = {1, 3, 3, 20};
    check_kv(48, all, &n, &colo, &has13);
    assert_true(has13);
    assert_true(n >= 3);
    assert_true(colo >= 2);
}

/* One 24 GB GPU cannot hold both 15 GB models: the one with more weighted demand stays. */
static void
check_memory_priority(double weight_x, int expect_svc)
{
    char y[2048];
    snprintf(y, sizeof y,
             "name: mem\n"
             "devices:\n"
             "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
             "nodes:\n"
             "  - {name: n, class: server, cores: 8, mem_gb: 64, devices: [gpu],"
             " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
             "services:\n"
             "  - {name: X, kind: dnn, weights_gb: 15, gflops: 10, weight: %g,"
             " slo: {deadline_ms: 100}}\n"
             "  - {name: Y, kind: dnn, weights_gb: 15, gflops: 10, slo: {deadline_ms: 100}}\n"
             "workload:\n"
             "  - {trace: tx, service: X, ingress: n}\n"
             "  - {trace: ty, service: Y, ingress: n}\n",
             weight_x);
    bf f;
    assert_int_equal(bf_init(&f, y, "ada_mem"), 0);
    double rate[2] = {10, 30};
    bf_view(&f, rate, NULL, NULL);
    assert_int_equal(bf_policy(&f, "adainf"), 0);
    ep_instance_spec buf[16];
    ep_placement p = {buf, 0, 16, 0};
    assert_int_equal(f.ops->place(f.pstate, &f.env, &f.view, &p), 0);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.inst[0].service, expect_svc);
    assert_int_equal(p.inst[0].mode, EP_MODE_SINGLE);
    bf_fini(&f);
}

static void
test_short_memory_keeps_the_services_with_more_weighted_demand(void **state)
{
    (void)state;
    check_memory_priority(1, 1); /* Y: 30/s beats X: 10/s */
    check_memory_priority(5, 0); /* X weighted 5: 50 beats 30 */
}

static void
write_traces(bf *f)
{
    assert_int_equal(bf_poisson(f, "tA", 100, 30, 1, 50000), 0);
    assert_int_equal(bf_poisson(f, "tB", 300, 30, 2, 50000), 0);
    assert_int_equal(bf_poisson(f, "tC", 5, 30, 3, 200000), 0);
}

static void
test_in_the_simulator_gpu_less_nodes_are_served_by_one_edge_server_each(void **state)
{
    (void)state;
    bf f;
    assert_int_equal(bf_init(&f, yaml, "ada_sim"), 0);
    write_traces(&f);
    ep_run_result res;
    assert_int_equal(bf_run(&f, "adainf", &res), 0);
    assert_true(res.requests > 10000);
    assert_int_equal((int64_t)f.nrecs, res.requests);
    unsigned char *seen = calloc(f.nrecs, 1);
    assert_non_null(seen);
    int64_t pi_total = 0, pi_done = 0, pi_met = 0, c_done = 0, fwd = 0;
    int server_of[5] = {-1, -1, -1, -1, -1};
    for (size_t i = 0; i < f.nrecs; i++) {
        const ep_record *r = &f.recs[i];
        assert_true(r->id < f.nrecs);
        assert_false(seen[r->id]); /* exactly one record per request */
        seen[r->id] = 1;
        assert_true(r->hops <= 1);
        fwd += r->hops;
        if (r->ingress == PI1 || r->ingress == PI2 || r->ingress == E1) {
            assert_true(r->ingress == E1 || r->service == SEGA);
            if (r->outcome != EP_OUT_COMPLETED)
                continue;
            /* Served on a GPU server, always the same one for a node. */
            assert_true(r->node == S1 || r->node == S2);
            assert_int_equal(r->hops, 1);
            if (server_of[r->ingress] < 0)
                server_of[r->ingress] = r->node;
            assert_int_equal(r->node, server_of[r->ingress]);
            if (r->ingress == E1) {
                c_done++;
                continue;
            }
            pi_done++;
            pi_met += r->slo_met;
        } else {
            assert_int_equal(r->hops, 0);
        }
        if (r->ingress == PI1 || r->ingress == PI2)
            pi_total++;
    }
    for (size_t i = 0; i < f.nrecs; i++)
        assert_true(seen[i]);
    free(seen);
    assert_int_equal(res.forwarded, fwd);
    assert_true(pi_done > 2500);
    assert_true(pi_met > 0.95 * (double)pi_done);
    assert_true(c_done > 100);
    ep_run_result_fini(&res);
    bf_fini(&f);
}

static void
test_same_seed_gives_identical_runs(void **state)
{
    (void)state;
    bf a, b;
    assert_int_equal(bf_init(&a, yaml, "ada_det_a"), 0);
    assert_int_equal(bf_init(&b, yaml, "ada_det_b"), 0);
    write_traces(&a);
    write_traces(&b);
    ep_run_result ra, rb;
    assert_int_equal(bf_run(&a, "adainf", &ra), 0);
    assert_int_equal(bf_run(&b, "adainf", &rb), 0);
    assert_int_equal(ra.event_hash, rb.event_hash);
    assert_int_equal(ra.slo_met, rb.slo_met);
    assert_int_equal(ra.placements, rb.placements);
    assert_int_equal(a.nrecs, b.nrecs);
    assert_memory_equal(a.recs, b.recs, a.nrecs * sizeof *a.recs);
    ep_run_result_fini(&ra);
    ep_run_result_fini(&rb);
    bf_fini(&a);
    bf_fini(&b);
}

static void
test_params_table_declares_exactly_the_keys_it_reads(void **state)
{
    (void)state;
    static const char *const keys[] = {"ewma",          "hysteresis",   "max_util",
                                       "admission",     "drop_expired", "exhaustive_max",
                                       "link_admission"};
    const ep_param_decl *d = ep_policy_adainf.params;
    assert_non_null(d);
    int n = 0;
    for (; d[n].key; n++) {
        int known = 0;
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
            known |= strcmp(d[n].key, keys[k]) == 0;
        assert_true(known);
        assert_true(d[n].lo <= d[n].dflt && d[n].dflt <= d[n].hi);
        assert_non_null(d[n].help);
        if (strcmp(d[n].key, "admission") == 0 || strcmp(d[n].key, "drop_expired") == 0 ||
            strcmp(d[n].key, "link_admission") == 0) {
            assert_true(d[n].integer);
            assert_true(d[n].lo == 0 && d[n].hi == 1);
        }
    }
    assert_int_equal(n, (int)(sizeof keys / sizeof *keys));
    /* init accepts the declared defaults and refuses a value outside a domain. */
    bf f;
    area_policy(&f, "ada_params", 100, 100, 10);
    bf_fini(&f);
    assert_int_equal(bf_init(&f, area_yaml("{ewma: 0}"), "ada_params0"), 0);
    bf_view(&f, NULL, NULL, NULL);
    assert_int_equal(bf_policy(&f, "adainf"), EP_EINVAL);
    bf_fini(&f);
}

/* link_admission=1 adds EPARA's uplink admission at the ingress: a Pi whose uplink queue
 * would make the request late rejects it instead of sending it to its server. */
static void
test_link_admission_sheds_at_the_ingress_what_its_uplink_queue_makes_late(void **state)
{
    (void)state;
    for (int on = 0; on <= 1; on++) {
        bf f;
        area_policy_with(&f, "ada_link", on ? "{link_admission: 1}" : NULL, 100, 100, 10);
        ep_time up[8] = {0};
        f.view.uplink_free = up;
        ep_route r = route_at(&f, SEGA, PI1, PI1, 0, 100 * EP_NS_PER_MS);
        assert_int_equal(r.kind, EP_ROUTE_FORWARD); /* an idle uplink */
        assert_int_equal(r.node, S1);
        up[f.sc.nodes[PI1].link] = f.env.now + 200 * EP_NS_PER_MS;
        r = route_at(&f, SEGA, PI1, PI1, 0, 100 * EP_NS_PER_MS);
        assert_int_equal(r.kind, on ? EP_ROUTE_REJECT : EP_ROUTE_FORWARD);
        bf_fini(&f);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(
                    test_gpu_less_nodes_send_their_requests_to_the_nearest_server_with_room),
            cmocka_unit_test(
                    test_a_server_whose_devices_meet_no_slo_for_a_service_sends_it_to_one_that_does),
            cmocka_unit_test(test_a_forwarded_request_is_served_or_rejected_never_forwarded_again),
            cmocka_unit_test(
                    test_admission_rejects_what_no_replica_on_the_server_can_finish_in_time),
            cmocka_unit_test(test_an_unreachable_server_hands_its_area_to_the_nearest_live_one),
            cmocka_unit_test(test_a_server_splits_its_gpus_by_slo_need),
            cmocka_unit_test(test_replans_from_the_demand_its_area_counts),
            cmocka_unit_test(test_co_located_llms_keep_a_kv_cache_for_their_planned_batch),
            cmocka_unit_test(test_short_memory_keeps_the_services_with_more_weighted_demand),
            cmocka_unit_test(
                    test_in_the_simulator_gpu_less_nodes_are_served_by_one_edge_server_each),
            cmocka_unit_test(test_same_seed_gives_identical_runs),
            cmocka_unit_test(test_params_table_declares_exactly_the_keys_it_reads),
            cmocka_unit_test(
                    test_link_admission_sheds_at_the_ingress_what_its_uplink_queue_makes_late),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
