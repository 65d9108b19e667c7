/* EPARA's core decisions (policies/epara.c), each through the policy's own hooks on a small
 * hand-built scenario and view: the categorizer (latency vs frequency from the SLO and the
 * hint; single vs multi device from memory and from the SLO), the allocator's instance specs
 * per category (queue order, multi-frame batches, TP in a node, PP across nodes, pooling of
 * LLMs on a TP group), the router
 * (local first, earliest completion with the link delay, hop limit, early rejection, no
 * forwarding, frame-level DP) and pick_batch (the largest batch that meets its earliest
 * deadline). Where a mechanism has a switch (--param), the decision is shown to change when
 * it is off. */
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "baseline_fixture.h"

/* Categorizer: 24 GB GPUs. cam: fps only; img: a deadline; chat: an 8B LLM (fits one GPU);
 * both: fps and a deadline, no hint; hinted: the same, hinted latency; big: a 70B FP16 LLM
 * (140 GB); slow: a DNN that fits one GPU but whose batch of one (~0.3 s) exceeds its 250 ms
 * deadline there. */
static const char cat_yaml[] =
        "name: cat\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: a, class: server, cores: 16, mem_gb: 64, devices: [gpu, gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: cam, kind: dnn, params_m: 25, gflops: 8, slo: {fps: 30}}\n"
        "  - {name: img, kind: dnn, params_m: 25, gflops: 8, slo: {deadline_ms: 100}}\n"
        "  - {name: chat, kind: llm, params_b: 8, layers: 32, hidden: 4096,"
        " kv_kb_per_token: 128, slo: {ttft_ms: 2000, tpot_ms: 100}}\n"
        "  - {name: both, kind: dnn, params_m: 25, gflops: 8, slo: {fps: 30, deadline_ms: 50}}\n"
        "  - {name: hinted, kind: dnn, params_m: 25, gflops: 8, sensitivity: latency,"
        " slo: {fps: 30, deadline_ms: 50}}\n"
        "  - {name: big, kind: llm, params_b: 70, layers: 80, hidden: 8192,"
        " kv_kb_per_token: 320, slo: {ttft_ms: 5000, tpot_ms: 200}}\n"
        "  - {name: slow, kind: dnn, params_m: 25, gflops: 20000, slo: {deadline_ms: 250}}\n"
        "workload:\n"
        "  - {trace: t, service: img, ingress: a}\n";
enum { CAM, IMG, CHAT, BOTH, HINTED, BIG, SLOW };

/* Allocator and router: four single-GPU servers a..d; cam (30 fps stream), img (100 ms
 * deadline; a batch of b takes about 2 + 0.58 (b - 1) ms), chat (an 8B LLM). */
static const char dnn_yaml[] =
        "name: dnn\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: a, class: server, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "  - {name: b, class: server, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "  - {name: c, class: server, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "  - {name: d, class: server, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: cam, kind: dnn, params_m: 25, gflops: 8, max_batch: 16, slo: {fps: 30}}\n"
        "  - {name: img, kind: dnn, params_m: 25, gflops: 8, max_batch: 32,"
        " slo: {deadline_ms: 100}}\n"
        "  - {name: chat, kind: llm, params_b: 8, layers: 32, hidden: 4096,"
        " kv_kb_per_token: 128, slo: {ttft_ms: 2000, tpot_ms: 100}}\n"
        "profiles:\n"
        "  - {service: cam, device: gpu, batch: [1, 16], latency_ms: [2, 12]}\n"
        "  - {service: img, device: gpu, batch: [1, 32], latency_ms: [2, 20]}\n"
        "workload:\n"
        "  - {trace: t, service: img, ingress: a}\n";
enum { D_CAM, D_IMG, D_CHAT };
enum { NA, NB, NC, ND }; /* nodes (and their GPUs) of dnn_yaml */

/* A 13B FP16 LLM (27 GB with its workspace) on 24 GB GPUs: a server with four, and an edge
 * node with one. */
static const char tp_yaml[] =
        "name: tp\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: srv, class: server, cores: 32, mem_gb: 128, devices: [gpu, gpu, gpu, gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}, intra_gbps: 25}\n"
        "  - {name: edge, class: server, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: big, kind: llm, params_b: 13, layers: 40, hidden: 5120,"
        " kv_kb_per_token: 800, slo: {ttft_ms: 4000, tpot_ms: 200}}\n"
        "workload:\n"
        "  - {trace: t, service: big, ingress: srv}\n";

/* A 70B FP16 LLM (141 GB) on single-GPU servers: no node holds it, with TP or alone. %s: the
 * GPU's memory; %d: how many servers. */
static const char pp_yaml_fmt[] =
        "name: pp\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: %s, mem_bw_gbps: 3350, peak_tflops: 990}\n"
        "nodes:\n"
        "  - {name: srv, class: server, count: %d, cores: 32, mem_gb: 256, devices: [gpu],"
        " link: {bw_gbps: 100, latency_ms: 0.05}}\n"
        "services:\n"
        "  - {name: big, kind: llm, params_b: 70, layers: 80, hidden: 8192,"
        " kv_kb_per_token: 320, slo: {ttft_ms: 5000, tpot_ms: 300}}\n"
        "workload:\n"
        "  - {trace: t, service: big, ingress: srv}\n";

/* Loads yaml with the epara policy and params ("k: v, ..."), builds a view with `rate`
 * requests/s per service (LLMs: 1,000-token prompts, 100-token answers), initializes the
 * policy and lets it categorize every service into the view. */
static void
setup(bf *f, const char *yaml, const char *tag, const char *params, double rate)
{
    char y[4096];
    snprintf(y, sizeof y, "%spolicy:\n  name: epara\n  params: {%s}\n", yaml, params);
    assert_int_equal(bf_init(f, y, tag), 0);
    double r[BF_MAX], in[BF_MAX], out[BF_MAX];
    for (int s = 0; s < f->sc.nservices; s++) {
        int llm = f->sc.services[s].kind == EP_SVC_LLM;
        r[s] = rate;
        in[s] = llm ? 1000 : (double)f->sc.services[s].input_bytes;
        out[s] = llm ? 100 : 0;
    }
    bf_view(f, r, in, out);
    f->env.now = 10 * EP_NS_PER_S;
    assert_int_equal(bf_policy(f, "epara"), 0);
    for (int s = 0; s < f->sc.nservices; s++)
        f->ops->categorize(f->pstate, &f->view, s, &f->cat[s]);
}

static ep_category
category(const char *params, const char *tag, int svc)
{
    bf f;
    setup(&f, cat_yaml, tag, params, 1);
    ep_category c = f.cat[svc];
    bf_fini(&f);
    return c;
}

/* The policy's placement for the view (up to 256 instances) into buf; returns how many. */
static int
place(bf *f, ep_instance_spec *buf)
{
    ep_placement p = {buf, 0, 256, 0};
    assert_int_equal(f->ops->place(f->pstate, &f->env, &f->view, &p), 0);
    assert_false(p.unchanged);
    return p.n;
}

/* The placement's first instance of service svc (NULL: none). */
static const ep_instance_spec *
first_of(const ep_instance_spec *buf, int n, int svc)
{
    for (int i = 0; i < n; i++)
        if (buf[i].service == svc)
            return &buf[i];
    return NULL;
}

/* An instance of svc on device dev (one device, the allocator's spec for its category) with
 * the given backlog; returns its view index (= id). */
static int
add(bf *f, int svc, int dev, ep_dur backlog_ms)
{
    ep_instance_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.service = svc;
    sp.mode = EP_MODE_SINGLE;
    sp.ndev = 1;
    sp.devs[0] = dev;
    sp.order = f->cat[svc].sensitivity == EP_SENS_FREQUENCY ? EP_QUEUE_FIFO : EP_QUEUE_EDF;
    return bf_add_instance(f, &sp, backlog_ms * EP_NS_PER_MS);
}

/* Routes one request of svc entering node `at` after `hops` forwards, due in deadline_ms. */
static ep_route
route(bf *f, int svc, int at, int hops, ep_dur deadline_ms)
{
    static uint64_t id;
    ep_request_info q;
    memset(&q, 0, sizeof q);
    q.id = ++id;
    q.service = svc;
    q.ingress = at;
    q.at_node = at;
    q.hops = hops;
    q.arrival = f->env.now;
    q.deadline = f->env.now + deadline_ms * EP_NS_PER_MS;
    int llm = f->sc.services[svc].kind == EP_SVC_LLM;
    q.input = llm ? 1000 : f->sc.services[svc].input_bytes;
    q.output = llm ? 100 : 0;
    q.bytes = llm ? 4000 : f->sc.services[svc].input_bytes;
    ep_route out;
    memset(&out, 0, sizeof out);
    f->ops->route(f->pstate, &f->env, &f->view, &q, &out);
    return out;
}

static void
assert_dispatch(ep_route r, int instance)
{
    assert_int_equal(r.kind, EP_ROUTE_DISPATCH);
    assert_int_equal(r.instance, instance);
}

/* --- categorizer ------------------------------------------------------------------------- */

static void
test_a_frame_rate_makes_a_service_frequency_sensitive(void **state)
{
    (void)state;
    assert_int_equal(category("", "c_cam", CAM).sensitivity, EP_SENS_FREQUENCY);
    assert_int_equal(category("", "c_img", IMG).sensitivity, EP_SENS_LATENCY);
    assert_int_equal(category("", "c_chat", CHAT).sensitivity, EP_SENS_LATENCY);
    assert_int_equal(category("", "c_both", BOTH).sensitivity, EP_SENS_FREQUENCY);
    /* Not categorized: every service is latency-sensitive. */
    assert_int_equal(category("categorize: 0", "c_cam0", CAM).sensitivity, EP_SENS_LATENCY);
    assert_int_equal(category("categorize: 0", "c_both0", BOTH).sensitivity, EP_SENS_LATENCY);
}

static void
test_a_latency_hint_overrides_the_frame_rate(void **state)
{
    (void)state;
    /* Same SLO (fps and deadline) as `both`, which the frame rate makes frequency. */
    assert_int_equal(category("", "c_hint", HINTED).sensitivity, EP_SENS_LATENCY);
    assert_int_equal(category("", "c_nohint", BOTH).sensitivity, EP_SENS_FREQUENCY);
}

static void
test_a_model_larger_than_any_device_is_multi_device(void **state)
{
    (void)state;
    assert_true(category("", "c_big", BIG).multi_device);
    assert_false(category("", "c_chat1", CHAT).multi_device);
    assert_false(category("", "c_img1", IMG).multi_device);
}

static void
test_a_model_too_slow_on_one_device_for_its_deadline_is_multi_device(void **state)
{
    (void)state;
    bf f;
    setup(&f, cat_yaml, "c_slow", "", 1);
    /* It fits one GPU, and a batch of one there takes longer than its deadline. */
    ep_instance_spec sp = {.service = SLOW, .mode = EP_MODE_SINGLE, .ndev = 1};
    assert_true((double)ep_cost_instance_mem(&f.sc, SLOW, 1) < ep_pol_usable_mem(&f.sc, 0));
    assert_true(ep_pol_dnn_batch(&f.view, &sp, 1, NULL) > f.sc.services[SLOW].slo.deadline);
    assert_true(f.cat[SLOW].multi_device);
    assert_int_equal(f.cat[SLOW].sensitivity, EP_SENS_LATENCY);
    bf_fini(&f);
    assert_false(category("categorize: 0", "c_slow0", SLOW).multi_device);
}

/* categorize=0: every service latency-sensitive, and multi-device only where memory requires
 * it (a model no device holds could not be placed otherwise). */
static void
test_without_categorize_every_service_is_latency_and_multi_only_by_memory(void **state)
{
    (void)state;
    for (int s = CAM; s <= SLOW; s++) {
        char tag[32];
        snprintf(tag, sizeof tag, "c_off%d", s);
        ep_category c = category("categorize: 0", tag, s);
        assert_int_equal(c.sensitivity, EP_SENS_LATENCY);
        if (s != BIG)
            assert_false(c.multi_device);
    }
    assert_true(category("categorize: 0", "c_offbig", BIG).multi_device);
}

/* --- scheduler: provisioning for demand ---------------------------------------------------- */

/* One 8B LLM on two servers of four 24 GB GPUs each. */
static const char prov_yaml[] =
        "name: prov\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: srv, class: server, count: 2, cores: 32, mem_gb: 128,"
        " devices: [gpu, gpu, gpu, gpu], link: {bw_gbps: 10, latency_ms: 0.1}, intra_gbps: 25}\n"
        "services:\n"
        "  - {name: chat, kind: llm, params_b: 8, layers: 32, hidden: 4096,"
        " kv_kb_per_token: 128, slo: {ttft_ms: 2000, tpot_ms: 100}}\n"
        "workload:\n"
        "  - {trace: t, service: chat, ingress: srv}\n";

/* Distinct devices the placement in buf[0..n) uses. */
static int
devices_used(const bf *f, const ep_instance_spec *buf, int n)
{
    int used[BF_MAX] = {0}, k = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < buf[i].ndev; j++)
            if (buf[i].devs[j] < f->sc.ndevices && !used[buf[i].devs[j]]++)
                k++;
    return k;
}

/* The rate (requests/s) one replica of the service sustains within its SLO on device 0. */
static double
replica_rate(bf *f)
{
    ep_instance_spec sp = {.service = 0, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {0}};
    double c = ep_pol_capacity(&f->view, &sp, NULL);
    assert_true(c > 0);
    return c;
}

static void
test_demand_for_six_replicas_gets_at_least_six_devices(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    bf f;
    /* Nothing handed to idle devices beyond demand: the greedy alone provisions. */
    setup(&f, prov_yaml, "p_six", "fill_idle: 0, extra: 1", 1);
    double c = replica_rate(&f);
    bf_fini(&f);
    char params[128];
    /* Demand for six replicas (the forecast is raised by `headroom`, 1.25): 4.7 x 1.25 > 5. */
    setup(&f, prov_yaml, "p_six", "fill_idle: 0, extra: 1", 4.7 * c);
    int n = place(&f, buf);
    assert_true(devices_used(&f, buf, n) >= 6);
    bf_fini(&f);
    /* A tenth of that demand needs one device, and idle ones stay idle without fill_idle. */
    setup(&f, prov_yaml, "p_one", "fill_idle: 0, extra: 1, tail_replica: 0", 0.47 * c);
    n = place(&f, buf);
    assert_true(devices_used(&f, buf, n) <= 2);
    bf_fini(&f);
    /* With it, every idle device gets an instance. */
    snprintf(params, sizeof params, "extra: 1, tail_replica: 0");
    setup(&f, prov_yaml, "p_fill", params, 0.47 * c);
    n = place(&f, buf);
    assert_int_equal(devices_used(&f, buf, n), 8);
    bf_fini(&f);
}

/* TP width against replica count: an 8B model that one GPU serves well runs as replicas (a
 * TP pair over PCIe serves less than its two GPUs would alone); demand beyond one GPU is
 * met by more replicas, not wider groups. */
static void
test_replicas_are_preferred_to_tp_groups_that_serve_less(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    bf f;
    setup(&f, prov_yaml, "p_tp", "fill_idle: 0", 1);
    double c = replica_rate(&f);
    ep_instance_spec pair = {.service = 0, .mode = EP_MODE_TP, .ndev = 2, .devs = {0, 1}};
    double c2 = ep_pol_capacity(&f.view, &pair, NULL);
    bf_fini(&f);
    assert_true(c2 < 2 * c); /* the premise */
    setup(&f, prov_yaml, "p_tp", "fill_idle: 0", 3 * c);
    int n = place(&f, buf);
    assert_true(n >= 3);
    for (int i = 0; i < n; i++)
        assert_int_equal(buf[i].ndev, 1);
    bf_fini(&f);
}

/* Two servers with two RTX 4090-class GPUs each (a TP pair per server). */
#define TWO_PAIRS                                                                           \
    "devices:\n"                                                                            \
    "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"         \
    "nodes:\n"                                                                              \
    "  - {name: srv, class: server, count: 2, cores: 32, mem_gb: 128, devices: [gpu, gpu]," \
    " link: {bw_gbps: 10, latency_ms: 0.1}, intra_gbps: 25}\n"

/* Pooling: two servers with two GPUs each. big: an 8B LLM whose TTFT only a TP pair meets
 * (a 1,000-token prompt takes ~0.16 s on one GPU), so it gets a pair on each server; small:
 * a 1B LLM one GPU serves. With pool, small also runs on big's pairs (MT), beside its own
 * replicas; without it, small has single-GPU replicas only. */
static const char pool_yaml[] =
        "name: pool\n" TWO_PAIRS "services:\n"
        "  - {name: big, kind: llm, params_b: 8, layers: 32, hidden: 4096,"
        " kv_kb_per_token: 128, slo: {ttft_ms: 150, tpot_ms: 100}}\n"
        "  - {name: small, kind: llm, params_b: 1, layers: 16, hidden: 2048,"
        " kv_kb_per_token: 32, slo: {ttft_ms: 2000, tpot_ms: 100}}\n"
        "workload:\n"
        "  - {trace: t, service: big, ingress: srv}\n";

/* The TP instance of svc on devices d0, d1 in the placement, or NULL. */
static const ep_instance_spec *
pair_of(const ep_instance_spec *buf, int n, int svc, int d0, int d1)
{
    for (int i = 0; i < n; i++)
        if (buf[i].service == svc && buf[i].ndev == 2 && buf[i].devs[0] == d0 &&
            buf[i].devs[1] == d1)
            return &buf[i];
    return NULL;
}

/* A crashed node, or one its uplink cuts off, takes no new instance: everything goes to the
 * other server (before, the greedy kept choosing the dead node's GPUs every round). With
 * every node down the view says nothing, and node 0 is used again. */
static void
test_a_node_that_is_down_or_cut_off_gets_no_instance(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    for (int cut = 0; cut <= 1; cut++) {
        bf f;
        setup(&f, pool_yaml, cut ? "down_link" : "down_node", "", 1.5);
        /* The fixture's node_up and link_up are one array; node 0's link is link 0. */
        f.up[0] = 0;
        int n = place(&f, buf);
        assert_true(n >= 2);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < buf[i].ndev; j++)
                assert_int_not_equal(f.sc.devices[buf[i].devs[j]].node, 0);
        bf_fini(&f);
    }
    /* Every node silent (a testbed controller that hears no state message): the view knows
     * nothing, and the placement goes on as if every node were up instead of retiring all. */
    bf f;
    setup(&f, pool_yaml, "down_all", "", 1.5);
    for (int i = 0; i < f.sc.nnodes; i++)
        f.up[i] = 0;
    int n = place(&f, buf), on0 = 0;
    for (int i = 0; i < n; i++)
        on0 |= f.sc.devices[buf[i].devs[0]].node == 0;
    assert_true(n >= 2 && on0);
    bf_fini(&f);
}

/* The single-device instance of service svc on device d, or NULL. */
static const ep_instance_spec *
one_on(const ep_instance_spec *buf, int n, int svc, int d)
{
    for (int i = 0; i < n; i++)
        if (buf[i].service == svc && buf[i].ndev == 1 && buf[i].devs[0] == d)
            return &buf[i];
    return NULL;
}

static void
test_a_tp_group_with_siblings_also_hosts_the_other_llms(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    bf f;
    setup(&f, pool_yaml, "pool_on", "", 1.5);
    assert_int_equal(f.cat[0].multi_device, 1); /* the premise: no GPU alone meets big's TTFT */
    int n = place(&f, buf);
    for (int d = 0; d < 4; d += 2) {
        assert_non_null(pair_of(buf, n, 0, d, d + 1));
        assert_non_null(pair_of(buf, n, 1, d, d + 1)); /* small pooled on big's pair */
    }
    bf_fini(&f);
    setup(&f, pool_yaml, "pool_off", "pool: 0", 1.5);
    n = place(&f, buf);
    assert_non_null(pair_of(buf, n, 0, 0, 1));
    for (int i = 0; i < n; i++)
        if (buf[i].service == 1)
            assert_int_equal(buf[i].ndev, 1);
    bf_fini(&f);
    /* Demand one pair covers: big's only pair is left to it. */
    setup(&f, pool_yaml, "pool_one", "fill_idle: 0, extra: 1", 0.05);
    n = place(&f, buf);
    int pairs = 0;
    for (int i = 0; i < n; i++)
        pairs += buf[i].service == 0 && buf[i].ndev == 2;
    assert_int_equal(pairs, 1);
    for (int i = 0; i < n; i++)
        if (buf[i].service == 1)
            assert_int_equal(buf[i].ndev, 1);
    bf_fini(&f);
}

/* Pooling keeps what the group's own load needs (pool_load): two servers with a TP pair each
 * and an edge GPU; big, an 8B chat model at 8 requests/s with 1,000-token answers, keeps
 * about a hundred requests decoding on each pair, more KV than its share once small's
 * weights join the pair and the memory is split two ways. small (a 1B model at 0.5
 * requests/s), covered by its replica on the edge GPU, is then no guest on the pairs, and
 * the pooled plan, valued with each member's KV share, is not kept. With pool_load 0 (a
 * member keeps two long prompts' KV, the plan's value ignores the split) small shares big's
 * pairs, in the KV that big's decodes need (pool_split 0: the guests here are TP ones). */
static const char chat_pool_yaml[] =
        "name: chat_pool\n" TWO_PAIRS
        "  - {name: edge, class: server, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: big, kind: llm, params_b: 8, layers: 32, hidden: 4096,"
        " kv_kb_per_token: 128, slo: {ttft_ms: 2000, tpot_ms: 100}}\n"
        "  - {name: small, kind: llm, params_b: 1, layers: 16, hidden: 2048,"
        " kv_kb_per_token: 32, slo: {ttft_ms: 2000, tpot_ms: 100}}\n"
        "workload:\n"
        "  - {trace: t, service: big, ingress: srv}\n";

static void
test_a_tp_group_keeps_the_kv_its_own_load_needs(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    for (int on = 1; on >= 0; on--) {
        bf f;
        setup(&f, chat_pool_yaml, on ? "load_on" : "load_off",
              on ? "pool_split: 0" : "pool_split: 0, pool_load: 0", 1.5);
        double r[BF_MAX] = {8, 0.5}, in[BF_MAX] = {1000, 1000}, out[BF_MAX] = {1000, 100};
        bf_view(&f, r, in, out);
        int n = place(&f, buf), pairs = 0, guests = 0, own = 0;
        for (int d = 0; d < 4; d += 2) {
            pairs += pair_of(buf, n, 0, d, d + 1) != NULL;
            guests += pair_of(buf, n, 1, d, d + 1) != NULL;
        }
        for (int i = 0; i < n; i++)
            own += buf[i].service == 1 && buf[i].ndev == 1;
        assert_int_equal(pairs, 2); /* the premise: big holds both pairs */
        if (on) {
            assert_true(own >= 1); /* small on the edge GPU */
            assert_int_equal(guests, 0);
        } else {
            assert_true(guests >= 1);
        }
        bf_fini(&f);
    }
}

/* Long prompts (a document QA model and a summarizer, 7,590-token prompts on average):
 * fluid supply covers the QA model with one TP pair and the summarizer with single GPUs,
 * each queue nearly saturated. The pooled plan puts both services on both pairs (one queue
 * twice as fast for either), which the scheduler's queueing estimate prefers; without
 * pooling no service shares a pair. */
static const char lc_yaml[] =
        "name: lc\n" TWO_PAIRS "services:\n"
        "  - {name: docqa, kind: llm, params_b: 8, layers: 32, hidden: 4096,"
        " kv_kb_per_token: 128, prefill_chunk: 8192, slo: {ttft_ms: 5000, tpot_ms: 150}}\n"
        "  - {name: summ, kind: llm, params_b: 3.2, layers: 28, hidden: 3072,"
        " kv_kb_per_token: 112, prefill_chunk: 8192, slo: {ttft_ms: 5000, tpot_ms: 150}}\n"
        "workload:\n"
        "  - {trace: t, service: docqa, ingress: srv}\n";

static void
test_latency_llms_with_long_prompts_pool_on_tp_groups(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    for (int on = 1; on >= 0; on--) {
        bf f;
        setup(&f, lc_yaml, on ? "lc_pool" : "lc_nopool", on ? "" : "pool: 0", 1);
        double r[BF_MAX] = {0.5, 0.5}, in[BF_MAX] = {7590, 7590}, out[BF_MAX] = {182, 182};
        bf_view(&f, r, in, out);
        int n = place(&f, buf), shared = 0;
        for (int d = 0; d < 4; d += 2)
            shared += pair_of(buf, n, 0, d, d + 1) && pair_of(buf, n, 1, d, d + 1);
        assert_int_equal(shared, on ? 2 : 0);
        bf_fini(&f);
    }
}

/* TP degrees are powers of two (a degree divides the model's attention heads): two servers
 * with four L4-class GPUs each (300 GB/s, PCIe between them), a 1.5B and a 7B code model
 * (12 and 28 heads) with 2,000-token prompts, without pooling. Before, the allocator also
 * tried aligned groups of three, and the greedy took them. */
static const char width_yaml[] =
        "name: width\n"
        "devices:\n"
        "  - {name: l4, kind: gpu, mem_gb: 24, mem_bw_gbps: 300, peak_tflops: 121}\n"
        "nodes:\n"
        "  - {name: srv, class: server, count: 2, cores: 32, mem_gb: 128,"
        " devices: [l4, l4, l4, l4], link: {bw_gbps: 10, latency_ms: 0.1}, intra_gbps: 25}\n"
        "services:\n"
        "  - {name: small, kind: llm, params_b: 1.54, layers: 28, hidden: 1536,"
        " kv_kb_per_token: 28, slo: {ttft_ms: 500, tpot_ms: 50}}\n"
        "  - {name: code, kind: llm, params_b: 7.61, layers: 28, hidden: 3584,"
        " kv_kb_per_token: 56, slo: {ttft_ms: 2000, tpot_ms: 100}}\n"
        "workload:\n"
        "  - {trace: t, service: small, ingress: srv}\n";

static void
test_tp_degrees_are_powers_of_two(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    bf f;
    setup(&f, width_yaml, "width", "pool: 0", 1);
    double r[BF_MAX] = {2, 1}, in[BF_MAX] = {2000, 2000}, out[BF_MAX] = {28, 28};
    bf_view(&f, r, in, out);
    int n = place(&f, buf), tp = 0;
    for (int i = 0; i < n; i++) {
        if (buf[i].mode != EP_MODE_TP)
            continue;
        tp++;
        assert_int_equal(buf[i].ndev & (buf[i].ndev - 1), 0);
    }
    assert_true(tp >= 2); /* the models do take TP groups here */
    bf_fini(&f);
}

/* pool_split, on width_yaml's cluster (PCIe between L4-class GPUs), 4 and 1 requests/s: a
 * TP group of the 1.5B model prefills a 2,000-token prompt faster than one GPU, but its GPUs
 * serve more prompts per second within the SLO as replicas (about 16/s against 12/s for
 * four: the all-reduces and the narrower GEMMs take device time). The pooled plan is kept,
 * and on each of the 7B model's TP groups the 1.5B model runs as a replica on every GPU
 * (its TP instance may join too where memory allows, for the long prompts); with
 * pool_split=0 it joins each group as TP only, with no replica there. */
static void
test_a_small_guest_joins_a_tp_group_as_replicas_where_they_serve_more(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    for (int on = 1; on >= 0; on--) {
        bf f;
        setup(&f, width_yaml, on ? "split_on" : "split_off", on ? "" : "pool_split: 0", 1);
        double r[BF_MAX] = {4, 1}, in[BF_MAX] = {2000, 2000}, out[BF_MAX] = {28, 28};
        bf_view(&f, r, in, out);
        int n = place(&f, buf), groups = 0, as_tp = 0, as_replicas = 0;
        for (int i = 0; i < n; i++) {
            const ep_instance_spec *g = &buf[i];
            if (g->service != 1 || g->mode != EP_MODE_TP)
                continue;
            groups++;
            int all = 1;
            for (int j = 0; j < g->ndev; j++)
                all = all && one_on(buf, n, 0, g->devs[j]);
            as_replicas += all;
            for (int k = 0; k < n; k++)
                as_tp += buf[k].service == 0 && buf[k].ndev == g->ndev &&
                         buf[k].devs[0] == g->devs[0];
        }
        assert_true(groups >= 1); /* the premise: code runs TP groups */
        if (on) {
            assert_int_equal(as_replicas, groups);
        } else {
            assert_int_equal(as_replicas, 0);
            assert_int_equal(as_tp, groups);
        }
        bf_fini(&f);
    }
}

/* Coverage: one GPU. gen, a small generator (1.5 GB with its workspace), scores first and
 * takes its share; chat, an 8B LLM, then plans the KV cache of its whole capacity batch
 * (~5 GB beside 16 GB of weights) and no longer fits. It borrows from that reserve, keeping
 * two long prompts' KV, instead of getting no instance (before: every chat request
 * rejected); without kv_reserve it fits anyway. */
static const char cover_yaml[] =
        "name: cover\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: srv, class: server, count: 1, cores: 32, mem_gb: 128, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: chat, kind: llm, params_b: 8, layers: 32, hidden: 4096,"
        " kv_kb_per_token: 128, slo: {ttft_ms: 2000, tpot_ms: 100}}\n"
        "  - {name: gen, kind: dnn, params_b: 0.5, reserve_mb: 500, gflops: 1000,"
        " slo: {deadline_ms: 1000}}\n"
        "workload:\n"
        "  - {trace: t, service: chat, ingress: srv}\n";

static void
test_a_service_left_without_memory_borrows_from_kv_reserves(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    const char *params[] = {"fill_idle: 0", "fill_idle: 0, kv_reserve: 0"};
    for (int i = 0; i < 2; i++) {
        bf f;
        setup(&f, cover_yaml, i ? "cover_nokv" : "cover", params[i], 2);
        int n = place(&f, buf);
        assert_non_null(first_of(buf, n, 0));
        assert_non_null(first_of(buf, n, 1));
        bf_fini(&f);
    }
}

/* Contested devices: a server with two fast GPUs and two boards with slow ones. gen, an
 * image generator, meets its deadline only on a fast GPU and wants 1.5 of them; cam's
 * frames run on either, a fast GPU serving them most cheaply, and the two boards hold what
 * cam wants. One instance per device (mt: 0). The greedy alone gives cam a fast GPU (its
 * best gain per share) and gen the other (gen short of demand); the second plan, with the
 * device gen found taken priced higher, sends cam to the boards and gives gen both. */
static const char contest_yaml[] =
        "name: contest\n"
        "devices:\n"
        "  - {name: fast, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "  - {name: slow, kind: gpu, mem_gb: 32, mem_bw_gbps: 204.8, peak_tflops: 42.5}\n"
        "nodes:\n"
        "  - {name: srv, class: server, count: 1, cores: 32, mem_gb: 128, devices: [fast, fast],"
        " link: {bw_gbps: 10, latency_ms: 0.1}, intra_gbps: 25}\n"
        "  - {name: brd, class: embedded, count: 2, cores: 12, mem_gb: 32, devices: [slow],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: gen, kind: dnn, params_m: 500, gflops: 20000, max_batch: 1,"
        " slo: {deadline_ms: 1000}, sensitivity: latency}\n"
        "  - {name: cam, kind: dnn, params_m: 4, gflops: 200, max_batch: 8, slo: {fps: 30}}\n"
        "workload:\n"
        "  - {trace: t, service: gen, ingress: srv}\n";

/* Instances of svc in buf[0..n) on devices of class spec. */
static int
on_class(const bf *f, const ep_instance_spec *buf, int n, int svc, int spec)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += buf[i].service == svc && f->sc.devices[buf[i].devs[0]].spec == spec;
    return k;
}

static void
test_a_device_only_one_service_can_use_is_left_to_it(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    for (int contest = 0; contest <= 1; contest++) {
        bf f;
        setup(&f, contest_yaml, contest ? "contest" : "contest_off",
              contest ? "mt: 0, fill_idle: 0, extra: 1, tail_replica: 0"
                      : "mt: 0, fill_idle: 0, extra: 1, tail_replica: 0, contest: 0",
              1);
        ep_instance_spec g = {.service = 0, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {0}};
        ep_instance_spec cf = {.service = 1, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {0}};
        ep_instance_spec cs = {.service = 1, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {2}};
        double gen = ep_pol_capacity(&f.view, &g, NULL);
        double cam_fast = ep_pol_capacity(&f.view, &cf, NULL);
        double cam_slow = ep_pol_capacity(&f.view, &cs, NULL);
        g.devs[0] = 2;
        /* the premise: gen only on a fast GPU, cam cheaper there than on a board */
        assert_true(gen > 0 && ep_pol_capacity(&f.view, &g, NULL) == 0);
        assert_true(cam_fast > 1.5 * cam_slow && cam_slow > 0);
        f.rate[0] = 1.5 * gen / 1.25; /* demand: forecast x headroom 1.25 */
        f.rate[1] = 1.6 * cam_slow / 1.25;
        int n = place(&f, buf);
        assert_int_equal(on_class(&f, buf, n, 0, 0), contest ? 2 : 1);
        assert_int_equal(on_class(&f, buf, n, 1, 1), contest ? 2 : 0);
        bf_fini(&f);
    }
}

/* MT at the host's slowdown: two GPUs on two servers, where two busy instances on one run
 * three times slower each (mt_slowdown). chat, an 8B LLM whose decode step (~23 ms) meets
 * its 40 ms TPOT alone but not slowed three times, is busy all the time at 1 request/s
 * (100-token answers); img keeps a GPU busy half the time. Planned by device-time shares
 * (mt_plan: 0) both fit on the first GPU; at the slowdown their busy time causes, img there
 * would push chat past its TPOT, so it gets the other GPU. */
static const char mtplan_yaml[] =
        "name: mtplan\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: srv, class: server, count: 2, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: chat, kind: llm, params_b: 8, layers: 32, hidden: 4096,"
        " kv_kb_per_token: 128, slo: {ttft_ms: 2000, tpot_ms: 40}}\n"
        "  - {name: img, kind: dnn, params_m: 25, gflops: 8, max_batch: 32,"
        " slo: {deadline_ms: 100}}\n"
        "profiles:\n"
        "  - {service: img, device: gpu, batch: [1, 32], latency_ms: [2, 20]}\n"
        "mt_slowdown: [1.0, 3.0]\n"
        "workload:\n"
        "  - {trace: t, service: chat, ingress: srv}\n";

static void
test_co_location_is_planned_at_the_hosts_slowdown(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    for (int mtp = 0; mtp <= 1; mtp++) {
        bf f;
        setup(&f, mtplan_yaml, mtp ? "mtplan" : "mtplan_off",
              mtp ? "fill_idle: 0, extra: 1, tail_replica: 0, kv_reserve: 0, contest: 0"
                  : "fill_idle: 0, extra: 1, tail_replica: 0, kv_reserve: 0, contest: 0, "
                    "mt_plan: 0",
              1);
        ep_instance_spec c = {.service = 0, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {0}};
        ep_instance_spec g = {.service = 1, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {0}};
        /* the premise: chat meets its TPOT alone, not three times slower */
        assert_true(ep_pol_capacity(&f.view, &c, NULL) > 1.25);
        int batch = 0;
        assert_true(ep_pol_capacity_at(&f.view, &c, 3.0, -1, INFINITY, 1, &batch, NULL) == 0);
        f.rate[1] = 0.5 * ep_pol_capacity(&f.view, &g, NULL) / 1.25; /* x headroom 1.25 */
        int n = place(&f, buf);
        const ep_instance_spec *chat = first_of(buf, n, 0), *img = first_of(buf, n, 1);
        assert_non_null(chat);
        assert_non_null(img);
        assert_int_equal(n, 2);
        if (mtp)
            assert_int_not_equal(chat->devs[0], img->devs[0]);
        else
            assert_int_equal(chat->devs[0], img->devs[0]);
        bf_fini(&f);
    }
}

/* One GPU shared by a light image service placed first and a heavier segmentation
 * service; %s is the segmentation service's weight. */
static const char slowcover_yaml_fmt[] =
        "name: slowcover\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: srv, class: server, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: img, kind: dnn, params_m: 25, gflops: 8, max_batch: 32,"
        " slo: {deadline_ms: 100}}\n"
        "  - {name: seg, kind: dnn, params_m: 50, gflops: 60, max_batch: 8, weight: %s,"
        " slo: {deadline_ms: 100}}\n"
        "profiles:\n"
        "  - {service: img, device: gpu, batch: [1, 32], latency_ms: [2, 20]}\n"
        "  - {service: seg, device: gpu, batch: [1, 8], latency_ms: [10, 40]}\n"
        "mt_slowdown: [1.0, 1.3]\n"
        "workload:\n"
        "  - {trace: t, service: img, ingress: srv}\n";

/* A service that no device holds within the slowdown the others tolerate (mt_plan) still
 * gets an instance where the requests it serves outweigh those it costs the others (a
 * service without one loses every request); not where they weigh less, nor where its
 * demand is more than it serves slowed (busy all the time, it would slow the others by the
 * full factor). */
static void
test_a_service_without_an_instance_joins_where_it_serves_more_than_it_slows(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    const char *weights[] = {"1", "0.05", "1"};
    const double seg_rate[] = {0.5, 0.5, 1}; /* x its capacity alone */
    for (int w = 0; w < 3; w++) {
        char y[2048];
        snprintf(y, sizeof y, slowcover_yaml_fmt, weights[w]);
        bf f;
        setup(&f, y, w ? "slowcover_light" : "slowcover",
              "fill_idle: 0, tail_replica: 0, contest: 0, device_budget: 2", 1);
        ep_instance_spec g = {.service = 0, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {0}};
        ep_instance_spec sg = {.service = 1, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {0}};
        double img = ep_pol_capacity(&f.view, &g, NULL), seg = ep_pol_capacity(&f.view, &sg, NULL);
        /* img planned for 0.75 of what it serves alone (x headroom 1.25) loses a little of it
         * slowed 1.35x; seg slowed that much still serves its demand */
        f.rate[0] = 0.6 * img;
        f.rate[1] = seg_rate[w] * seg;
        int batch = 0;
        double img_slow = ep_pol_capacity_at(&f.view, &g, 1.35, -1, INFINITY, 0, &batch, NULL);
        double seg_slow = ep_pol_capacity_at(&f.view, &sg, 1.35, -1, INFINITY, 0, &batch, NULL);
        assert_true(img_slow < 0.75 * img && 0.75 * img - img_slow < 0.625 * seg);
        assert_true(0.625 * seg < seg_slow);
        int n = place(&f, buf);
        const ep_instance_spec *a = first_of(buf, n, 0), *b = first_of(buf, n, 1);
        assert_non_null(a);
        if (w == 0) {
            assert_non_null(b); /* its frames outweigh those img loses */
            assert_int_equal(a->devs[0], b->devs[0]);
        } else {
            assert_null(b); /* weighted 0.05 they do not; at 1.25x its capacity it is overrun */
        }
        bf_fini(&f);
    }
}

/* --- allocator ---------------------------------------------------------------------------- */

static void
test_frequency_tasks_get_fifo_queues_and_multi_frame_batches(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    bf f;
    setup(&f, dnn_yaml, "a_mf", "", 20);
    assert_int_equal(f.cat[D_CAM].sensitivity, EP_SENS_FREQUENCY);
    int n = place(&f, buf);
    const ep_instance_spec *cam = first_of(buf, n, D_CAM);
    assert_non_null(cam);
    assert_int_equal(cam->order, EP_QUEUE_FIFO);
    assert_int_equal(cam->max_batch, 0); /* the service's max_batch: several frames */
    bf_fini(&f);
    setup(&f, dnn_yaml, "a_nomf", "mf: 0", 20);
    n = place(&f, buf);
    cam = first_of(buf, n, D_CAM);
    assert_non_null(cam);
    assert_int_equal(cam->order, EP_QUEUE_FIFO);
    assert_int_equal(cam->max_batch, 1); /* one frame at a time */
    bf_fini(&f);
}

static void
test_latency_tasks_get_edf_queues(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    bf f;
    setup(&f, dnn_yaml, "a_edf", "", 20);
    assert_int_equal(f.cat[D_IMG].sensitivity, EP_SENS_LATENCY);
    int n = place(&f, buf);
    for (int s = D_IMG; s <= D_CHAT; s++) {
        const ep_instance_spec *sp = first_of(buf, n, s);
        assert_non_null(sp);
        assert_int_equal(sp->order, EP_QUEUE_EDF);
        assert_int_equal(sp->max_batch, 0);
    }
    bf_fini(&f);
    setup(&f, dnn_yaml, "a_noedf", "edf: 0", 20);
    n = place(&f, buf);
    for (int s = D_IMG; s <= D_CHAT; s++) {
        const ep_instance_spec *sp = first_of(buf, n, s);
        assert_non_null(sp);
        assert_int_equal(sp->order, EP_QUEUE_FIFO);
    }
    bf_fini(&f);
}

static void
test_a_multi_device_llm_gets_a_tp_group_inside_one_node(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    bf f;
    setup(&f, tp_yaml, "a_tp", "", 1);
    assert_true(f.cat[0].multi_device);
    int n = place(&f, buf);
    assert_true(n >= 1);
    for (int i = 0; i < n; i++) {
        assert_int_equal(buf[i].mode, EP_MODE_TP);
        assert_true(buf[i].ndev >= 2);
        for (int j = 0; j < buf[i].ndev; j++)
            assert_int_equal(f.sc.devices[buf[i].devs[j]].node, 0);
    }
    bf_fini(&f);
}

static void
test_a_model_no_node_holds_gets_a_pipeline_across_nodes(void **state)
{
    (void)state;
    char y[2048];
    snprintf(y, sizeof y, pp_yaml_fmt, "96", 2);
    ep_instance_spec buf[256];
    bf f;
    setup(&f, y, "a_pp", "", 0.5);
    assert_true(f.cat[0].multi_device);
    int n = place(&f, buf);
    assert_true(n >= 1);
    assert_int_equal(buf[0].mode, EP_MODE_PP);
    assert_int_equal(buf[0].ndev, 2);
    assert_int_not_equal(f.sc.devices[buf[0].devs[0]].node, f.sc.devices[buf[0].devs[1]].node);
    bf_fini(&f);
}

/* On 48 GB GPUs the 70B model needs a pipeline of four (35 GB + 1 GB workspace per stage): PP
 * over the fewest devices that hold it, beyond pairs and triples too. */
static void
test_a_model_that_needs_four_stages_gets_a_four_stage_pipeline(void **state)
{
    (void)state;
    char y[2048];
    snprintf(y, sizeof y, pp_yaml_fmt, "48", 4);
    ep_instance_spec buf[256];
    bf f;
    setup(&f, y, "a_pp4", "", 0.5);
    ep_servable *sv = NULL;
    assert_int_equal(ep_servable_new(&f.sc, &sv), 0);
    assert_int_equal(ep_servable_check(sv, 0, 1000, 100, EP_TRACE_NONE), EP_SERVABLE);
    ep_servable_free(sv);
    /* A chain over four GPUs of four servers would serve it within its SLO. */
    ep_instance_spec pp4 = {.service = 0, .mode = EP_MODE_PP, .ndev = 4, .devs = {0, 1, 2, 3}};
    assert_true(ep_pol_capacity(&f.view, &pp4, NULL) > 0);
    int n = place(&f, buf);
    assert_true(n >= 1);
    assert_int_equal(buf[0].mode, EP_MODE_PP);
    assert_int_equal(buf[0].ndev, 4);
    bf_fini(&f);
}

static void
test_without_parallel_no_multi_device_instance_is_placed(void **state)
{
    (void)state;
    ep_instance_spec buf[256];
    char y[2048];
    snprintf(y, sizeof y, pp_yaml_fmt, "96", 2);
    const char *yamls[] = {tp_yaml, y};
    for (int k = 0; k < 2; k++) {
        bf f;
        setup(&f, yamls[k], k ? "a_nopar_pp" : "a_nopar_tp", "parallel: 0", 1);
        assert_true(f.cat[0].multi_device);
        int n = place(&f, buf);
        for (int i = 0; i < n; i++)
            assert_int_equal(buf[i].ndev, 1);
        assert_int_equal(n, 0); /* it fits no single device either */
        bf_fini(&f);
    }
}

/* --- router ------------------------------------------------------------------------------- */

static void
test_a_local_instance_meeting_the_deadline_wins_over_a_faster_remote_one(void **state)
{
    (void)state;
    bf f;
    setup(&f, dnn_yaml, "r_local", "", 20);
    int local = add(&f, D_IMG, NA, 50); /* ~52 ms */
    int remote = add(&f, D_IMG, NB, 0); /* ~3 ms with the 1 ms transfer */
    assert_dispatch(route(&f, D_IMG, NA, 0, 100), local);
    /* The same local instance past the deadline: the remote one. */
    f.inst[local].backlog = 150 * EP_NS_PER_MS;
    assert_dispatch(route(&f, D_IMG, NA, 0, 100), remote);
    bf_fini(&f);
}

static void
test_otherwise_the_earliest_completion_counting_the_link_delay_wins(void **state)
{
    (void)state;
    bf f;
    setup(&f, dnn_yaml, "r_link", "", 20);
    add(&f, D_IMG, NA, 200);        /* local: late */
    int b = add(&f, D_IMG, NB, 0);  /* idle, behind a 60 ms link */
    int c = add(&f, D_IMG, NC, 20); /* 20 ms backlog, 1 ms away */
    f.delay_ms[NA][NB] = 60;
    assert_dispatch(route(&f, D_IMG, NA, 0, 100), c);
    f.delay_ms[NA][NB] = 1;
    assert_dispatch(route(&f, D_IMG, NA, 0, 100), b);
    bf_fini(&f);
}

/* An LLM prompt stays on its ingress node only when the local estimate is within
 * local_slack (default 0.7) of the time to its TTFT: the estimate cannot see the prompts
 * admitted beside it later. */
static void
test_an_llm_prompt_stays_local_only_with_a_margin_to_its_ttft(void **state)
{
    (void)state;
    bf f;
    setup(&f, dnn_yaml, "r_slack", "", 0.5);
    int local = add(&f, D_CHAT, NA, 1000); /* about half of the 2 s TTFT */
    add(&f, D_CHAT, NB, 0);
    assert_dispatch(route(&f, D_CHAT, NA, 0, 2000), local);
    f.inst[local].backlog = 1600 * EP_NS_PER_MS; /* within the TTFT, not within 0.7 of it */
    ep_route r = route(&f, D_CHAT, NA, 0, 2000);
    assert_int_equal(r.kind, EP_ROUTE_FORWARD);
    assert_int_equal(r.node, NB);
    bf_fini(&f);
    /* local_slack 1: local whenever its estimate meets the deadline. */
    setup(&f, dnn_yaml, "r_slack1", "local_slack: 1", 0.5);
    local = add(&f, D_CHAT, NA, 1600);
    add(&f, D_CHAT, NB, 0);
    assert_dispatch(route(&f, D_CHAT, NA, 0, 2000), local);
    bf_fini(&f);
    /* Frames and DNN requests keep local-first at the deadline itself. */
    setup(&f, dnn_yaml, "r_slack_dnn", "local_slack: 0.1", 20);
    local = add(&f, D_IMG, NA, 50);
    add(&f, D_IMG, NB, 0);
    assert_dispatch(route(&f, D_IMG, NA, 0, 100), local);
    bf_fini(&f);
}

static void
test_at_the_hop_limit_a_request_is_not_sent_on(void **state)
{
    (void)state;
    bf f;
    setup(&f, dnn_yaml, "r_hops", "", 20);
    int local = add(&f, D_IMG, NA, 200);
    int remote = add(&f, D_IMG, NB, 0);
    assert_dispatch(route(&f, D_IMG, NA, 2, 100), remote);
    assert_dispatch(route(&f, D_IMG, NA, 3, 100), local); /* max_hops 3 */
    bf_fini(&f);
    setup(&f, dnn_yaml, "r_hops5", "max_hops: 5", 20);
    add(&f, D_IMG, NA, 200);
    remote = add(&f, D_IMG, NB, 0);
    assert_dispatch(route(&f, D_IMG, NA, 3, 100), remote);
    bf_fini(&f);
    /* An LLM prompt for a remote instance is forwarded to its node, but not past the limit. */
    setup(&f, dnn_yaml, "r_hops_llm", "", 0.5);
    remote = add(&f, D_CHAT, NB, 0);
    ep_route r = route(&f, D_CHAT, NA, 2, 2000);
    assert_int_equal(r.kind, EP_ROUTE_FORWARD);
    assert_int_equal(r.node, NB);
    assert_dispatch(route(&f, D_CHAT, NA, 3, 2000), remote);
    bf_fini(&f);
}

static void
test_a_request_no_instance_can_serve_in_time_is_rejected_early(void **state)
{
    (void)state;
    bf f;
    setup(&f, dnn_yaml, "r_reject", "", 20);
    add(&f, D_IMG, NA, 200);
    add(&f, D_IMG, NB, 150);
    ep_route r = route(&f, D_IMG, NA, 0, 100);
    assert_int_equal(r.kind, EP_ROUTE_REJECT);
    assert_non_null(r.reason);
    bf_fini(&f);
    setup(&f, dnn_yaml, "r_noreject", "early_reject: 0", 20);
    add(&f, D_IMG, NA, 200);
    int b = add(&f, D_IMG, NB, 150);
    assert_dispatch(route(&f, D_IMG, NA, 0, 100), b); /* the earliest, late */
    bf_fini(&f);
}

static void
test_without_forward_nothing_is_sent_to_another_node(void **state)
{
    (void)state;
    for (int fwd = 0; fwd <= 1; fwd++) {
        bf f;
        setup(&f, dnn_yaml, fwd ? "r_fwd" : "r_nofwd", fwd ? "" : "forward: 0", 20);
        int local = add(&f, D_IMG, NA, 200);
        int remote = add(&f, D_IMG, NB, 0);
        assert_dispatch(route(&f, D_IMG, NA, 0, 100), fwd ? remote : local);
        /* No local instance at all. */
        f.inst[local].ready = 0;
        ep_route r = route(&f, D_IMG, NA, 0, 100);
        if (fwd) {
            assert_dispatch(r, remote);
        } else {
            assert_int_equal(r.kind, EP_ROUTE_REJECT);
        }
        bf_fini(&f);
    }
}

/* Frames entering a node without an instance, replicas on b and c (idle) and d (late): the
 * stream is spread over b and c; categorized as latency, every frame goes to the earliest. */
static void
test_frames_of_a_stream_are_spread_over_the_replicas_that_meet_the_deadline(void **state)
{
    (void)state;
    for (int categorize = 0; categorize <= 1; categorize++) {
        bf f;
        setup(&f, dnn_yaml, categorize ? "r_dp" : "r_nodp", categorize ? "" : "categorize: 0", 20);
        assert_int_equal(f.cat[D_CAM].sensitivity,
                         categorize ? EP_SENS_FREQUENCY : EP_SENS_LATENCY);
        int b = add(&f, D_CAM, NB, 0), c = add(&f, D_CAM, NC, 0), d = add(&f, D_CAM, ND, 100);
        int count[BF_MAX] = {0};
        for (int k = 0; k < 6; k++) {
            ep_route r = route(&f, D_CAM, NA, 0, 66);
            assert_int_equal(r.kind, EP_ROUTE_DISPATCH);
            count[r.instance]++;
        }
        assert_int_equal(count[d], 0);
        assert_int_equal(count[b], categorize ? 3 : 6);
        assert_int_equal(count[c], categorize ? 3 : 0);
        bf_fini(&f);
    }
}

/* --- pick_batch --------------------------------------------------------------------------- */

/* Ten queued requests due in 1 s, but the seventh is due just before a batch of seven ends:
 * a batch of six (the largest that meets every deadline in it). */
/* While one replica alone meets the deadline it gets the frames (earliest estimate), and it
 * builds no credit from that: once both meet it again they alternate, instead of the one
 * that stood alone taking every frame until a surplus is spent. */
static void
test_frames_routed_without_a_choice_leave_no_surplus(void **state)
{
    (void)state;
    bf f;
    setup(&f, dnn_yaml, "r_dp_credit", "", 20);
    int b = add(&f, D_CAM, NB, 0), c = add(&f, D_CAM, NC, 100);
    for (int k = 0; k < 8; k++)
        assert_dispatch(route(&f, D_CAM, NA, 0, 66), b);
    f.inst[c].backlog = 0; /* c catches up */
    int count[BF_MAX] = {0};
    for (int k = 0; k < 4; k++) {
        ep_route r = route(&f, D_CAM, NA, 0, 66);
        assert_int_equal(r.kind, EP_ROUTE_DISPATCH);
        count[r.instance]++;
    }
    assert_int_equal(count[b], 2);
    assert_int_equal(count[c], 2);
    bf_fini(&f);
}

static void
test_the_batch_is_the_largest_that_meets_its_earliest_deadline(void **state)
{
    (void)state;
    for (int early = 0; early <= 1; early++) {
        bf f;
        setup(&f, dnn_yaml, early ? "p_batch" : "p_batch0", early ? "" : "early_reject: 0", 20);
        int i = add(&f, D_IMG, NA, 0);
        ep_dur t7 = ep_pol_dnn_batch(&f.view, &f.inst[i].spec, 7, NULL);
        assert_true(t7 > ep_pol_dnn_batch(&f.view, &f.inst[i].spec, 6, NULL));
        ep_time dl[10], arr[10];
        for (int k = 0; k < 10; k++) {
            dl[k] = f.env.now + EP_NS_PER_S;
            arr[k] = f.env.now;
        }
        dl[6] = f.env.now + t7 - 1;
        ep_queue_view q = {10, dl, arr};
        int drop = -1;
        assert_int_equal(f.ops->pick_batch(f.pstate, &f.env, &f.view, i, &q, &drop), 6);
        /* Early rejection drops what can no longer meet its deadline (EP_DROP_DOOMED). */
        assert_int_equal(drop, early ? EP_DROP_DOOMED : EP_DROP_NONE);
        /* Nothing tight: everything queued. */
        dl[6] = f.env.now + EP_NS_PER_S;
        assert_int_equal(f.ops->pick_batch(f.pstate, &f.env, &f.view, i, &q, &drop), 10);
        /* A head request no batch of one can finish in time: with early rejection the host
         * drops it and the batch counts only the nine behind it. */
        dl[0] = f.env.now + 1;
        assert_int_equal(f.ops->pick_batch(f.pstate, &f.env, &f.view, i, &q, &drop),
                         early ? 9 : 10);
        bf_fini(&f);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_a_frame_rate_makes_a_service_frequency_sensitive),
            cmocka_unit_test(test_a_latency_hint_overrides_the_frame_rate),
            cmocka_unit_test(test_a_model_larger_than_any_device_is_multi_device),
            cmocka_unit_test(test_a_model_too_slow_on_one_device_for_its_deadline_is_multi_device),
            cmocka_unit_test(
                    test_without_categorize_every_service_is_latency_and_multi_only_by_memory),
            cmocka_unit_test(test_a_tp_group_with_siblings_also_hosts_the_other_llms),
            cmocka_unit_test(test_a_tp_group_keeps_the_kv_its_own_load_needs),
            cmocka_unit_test(test_latency_llms_with_long_prompts_pool_on_tp_groups),
            cmocka_unit_test(test_tp_degrees_are_powers_of_two),
            cmocka_unit_test(test_a_small_guest_joins_a_tp_group_as_replicas_where_they_serve_more),
            cmocka_unit_test(test_a_node_that_is_down_or_cut_off_gets_no_instance),
            cmocka_unit_test(test_a_service_left_without_memory_borrows_from_kv_reserves),
            cmocka_unit_test(test_a_device_only_one_service_can_use_is_left_to_it),
            cmocka_unit_test(test_co_location_is_planned_at_the_hosts_slowdown),
            cmocka_unit_test(
                    test_a_service_without_an_instance_joins_where_it_serves_more_than_it_slows),
            cmocka_unit_test(test_frequency_tasks_get_fifo_queues_and_multi_frame_batches),
            cmocka_unit_test(test_latency_tasks_get_edf_queues),
            cmocka_unit_test(test_a_multi_device_llm_gets_a_tp_group_inside_one_node),
            cmocka_unit_test(test_a_model_no_node_holds_gets_a_pipeline_across_nodes),
            cmocka_unit_test(test_a_model_that_needs_four_stages_gets_a_four_stage_pipeline),
            cmocka_unit_test(test_without_parallel_no_multi_device_instance_is_placed),
            cmocka_unit_test(
                    test_a_local_instance_meeting_the_deadline_wins_over_a_faster_remote_one),
            cmocka_unit_test(test_otherwise_the_earliest_completion_counting_the_link_delay_wins),
            cmocka_unit_test(test_an_llm_prompt_stays_local_only_with_a_margin_to_its_ttft),
            cmocka_unit_test(test_at_the_hop_limit_a_request_is_not_sent_on),
            cmocka_unit_test(test_a_request_no_instance_can_serve_in_time_is_rejected_early),
            cmocka_unit_test(test_without_forward_nothing_is_sent_to_another_node),
            cmocka_unit_test(
                    test_frames_of_a_stream_are_spread_over_the_replicas_that_meet_the_deadline),
            cmocka_unit_test(test_frames_routed_without_a_choice_leave_no_surplus),
            cmocka_unit_test(test_the_batch_is_the_largest_that_meets_its_earliest_deadline),
            cmocka_unit_test(test_demand_for_six_replicas_gets_at_least_six_devices),
            cmocka_unit_test(test_replicas_are_preferred_to_tp_groups_that_serve_less),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
