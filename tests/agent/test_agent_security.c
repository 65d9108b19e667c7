/* A live node agent (ep_exec_run, role node) under hostile input: the test plays the
 * controller and the loadgen over nng and checks that only authentic, fresh frames from a
 * sender allowed to send them have any effect. A valid REQUEST is served (one RESULT);
 * the same frame again (replayed), a frame under another key, a truncated frame, a REQUEST
 * claiming to come from a node, and garbage are each dropped and counted, and the node keeps
 * serving afterwards. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

#include "epara/core/error.h"
#include "epara/exec/exec.h"
#include "epara/experiments/prepare.h"
#include "epara/experiments/scenario.h"

static const char yaml[] =
        "name: sec\n"
        "run: {seed: 1, warmup_s: 0, cooldown_s: 0, sync_period_ms: 200,"
        " placement_period_s: 3600}\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
        "nodes:\n"
        "  - {name: a, class: server, cores: 4, mem_gb: 16, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: seg, kind: dnn, params_m: 1, gflops: 1, input_kb: 1, max_batch: 4,"
        " slo: {deadline_ms: 1000}}\n"
        "profiles:\n"
        "  - {service: seg, device: gpu, batch: [1, 4], latency_ms: [1, 2]}\n"
        "workload:\n"
        "  - {trace: sec-t, service: seg, ingress: a,"
        " generate: {kind: poisson, rate: 1, duration_s: 30, seed: 1}}\n"
        "policy: static\n";

static const uint8_t key[] = "0123456789abcdef0123456789abcdef";
static const uint8_t other_key[] = "fedcba9876543210fedcba9876543210";

typedef struct fixture {
    ep_scenario sc;
    ep_store *st;
    char db[64];
    ep_exec_opts o;
    ep_exec_stats stats;
    volatile sig_atomic_t stop;
    pthread_t thread;
    int rc;
    nng_socket to_node, from_node, ctl_in;
} fixture;

static void *
run_node(void *arg)
{
    fixture *f = arg;
    char err[256];
    f->rc = ep_exec_run(&f->o, NULL, &f->stats, err, sizeof err);
    if (f->rc)
        fprintf(stderr, "node: %s\n", err);
    return NULL;
}

static void
send_frame(fixture *f, const uint8_t *p, size_t n)
{
    assert_int_equal(nng_send(f->to_node, (void *)p, n, 0), 0);
}

static uint8_t *
frame(const ep_wire_msg *m, uint32_t sender, uint64_t seq, const uint8_t *k, size_t *n)
{
    ep_wire_env env = {sender, 1000, seq};
    uint8_t *p;
    assert_int_equal(ep_wire_encode_env(m, &env, k, sizeof key - 1, &p, n), 0);
    return p;
}

static ep_wire_msg
request(uint64_t id, ep_time at)
{
    ep_wire_msg m;
    memset(&m, 0, sizeof m);
    m.type = EP_WIRE_REQUEST;
    m.u.request = (ep_msg_request){.id = id,
                                   .service = 0,
                                   .ingress = 0,
                                   .arrival = at,
                                   .deadline = at + 1000 * EP_NS_PER_MS,
                                   .input = 1000,
                                   .output = 1,
                                   .bytes = 1000,
                                   .stream = -1,
                                   .frame = -1,
                                   .trace_exec = -1};
    return m;
}

/* Results that come back within ms milliseconds: their ids into ids[], how many. (The node
 * also reports its clock estimate here once a second: not a result.) */
static int
results(fixture *f, int ms, uint64_t *ids, int cap)
{
    int n = 0;
    int64_t until = ep_exec_wall_ns() + (int64_t)ms * EP_NS_PER_MS;
    for (;;) {
        int64_t left = until - ep_exec_wall_ns();
        if (left <= 0)
            return n;
        nng_socket_set_ms(f->from_node, NNG_OPT_RECVTIMEO, (nng_duration)(left / EP_NS_PER_MS + 1));
        nng_msg *msg;
        if (nng_recvmsg(f->from_node, &msg, 0) != 0)
            return n;
        ep_wire_msg m;
        if (ep_wire_decode(nng_msg_body(msg), nng_msg_len(msg), key, sizeof key - 1, &m, NULL, 0) ==
                    0 &&
            m.type == EP_WIRE_RESULT && n < cap)
            ids[n++] = m.u.result.id;
        nng_msg_free(msg);
    }
}

static ep_time
now_trace(const fixture *f)
{
    return (ep_time)(ep_exec_wall_ns() - f->o.epoch_ns);
}

static void
test_only_fresh_authentic_frames_count(void **state)
{
    (void)state;
    fixture F, *f = &F;
    memset(f, 0, sizeof *f);
    ep_parse_error pe;
    assert_int_equal(ep_scenario_load_text(yaml, sizeof yaml - 1, "sec.yaml", ".", &f->sc, &pe), 0);
    snprintf(f->db, sizeof f->db, "/tmp/epara-sec-%d.db", (int)getpid());
    unlink(f->db);
    char err[256];
    assert_int_equal(ep_store_open(f->db, 0, &f->st, err, sizeof err), 0);
    assert_int_equal(ep_scenario_prepare_traces(&f->sc, f->st, NULL, NULL, err, sizeof err), 0);

    int base = 41000 + (int)(getpid() % 20000);
    f->o.sc = &f->sc;
    f->o.role = EP_LIVE_NODE;
    f->o.node = 0;
    f->o.sim.traces = f->st;
    f->o.base_port = base;
    f->o.key = key;
    f->o.keylen = sizeof key - 1;
    f->o.epoch_ns = ep_exec_wall_ns();
    f->o.time_scale = 1;
    f->o.stop = &f->stop;
    char addr[128];
    /* Play the loadgen (results come here) and the controller (HELLO, STATE come here). */
    assert_int_equal(nng_pull0_open(&f->from_node), 0);
    ep_exec_addr(&f->o, EP_LIVE_LOADGEN, 0, addr, sizeof addr);
    assert_int_equal(nng_listen(f->from_node, addr, NULL, 0), 0);
    assert_int_equal(nng_pull0_open(&f->ctl_in), 0);
    ep_exec_addr(&f->o, EP_LIVE_CONTROLLER, 0, addr, sizeof addr);
    assert_int_equal(nng_listen(f->ctl_in, addr, NULL, 0), 0);
    assert_int_equal(pthread_create(&f->thread, NULL, run_node, f), 0);
    assert_int_equal(nng_push0_open(&f->to_node), 0);
    ep_exec_addr(&f->o, EP_LIVE_NODE, 0, addr, sizeof addr);
    assert_int_equal(nng_dial(f->to_node, addr, NULL, NNG_FLAG_NONBLOCK), 0);
    nng_socket_set_ms(f->to_node, NNG_OPT_SENDTIMEO, 5000);

    /* The placement: one instance of seg on the node's device. */
    ep_wire_msg pm;
    memset(&pm, 0, sizeof pm);
    pm.type = EP_WIRE_PLACEMENT;
    ep_instance_spec spec = {.service = 0, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {0}};
    pm.u.placement.epoch = 0;
    pm.u.placement.inst = &spec;
    pm.u.placement.n = 1;
    size_t n;
    uint8_t *p = frame(&pm, EP_WIRE_CONTROLLER, 1, key, &n);
    send_frame(f, p, n);
    free(p);
    struct timespec pause = {0, 300000000};
    nanosleep(&pause, NULL);

    uint64_t ids[16];
    ep_wire_msg r1 = request(1, now_trace(f));
    uint8_t *good = frame(&r1, EP_WIRE_LOADGEN, 1, key, &n);
    send_frame(f, good, n);
    int k = results(f, 2000, ids, 16);
    assert_int_equal(k, 1);
    assert_int_equal(ids[0], 1);

    send_frame(f, good, n); /* replayed */
    ep_wire_msg r2 = request(2, now_trace(f));
    size_t n2;
    uint8_t *forged = frame(&r2, EP_WIRE_LOADGEN, 2, other_key, &n2); /* wrong key */
    send_frame(f, forged, n2);
    ep_wire_msg r3 = request(3, now_trace(f));
    size_t n3;
    uint8_t *cut = frame(&r3, EP_WIRE_LOADGEN, 3, key, &n3);
    send_frame(f, cut, n3 - 5); /* truncated */
    ep_wire_msg r4 = request(4, now_trace(f));
    size_t n4;
    uint8_t *spoof = frame(&r4, 0, 4, key, &n4); /* a node may not send REQUESTs */
    send_frame(f, spoof, n4);
    send_frame(f, (const uint8_t *)"garbage, not a frame", 20);
    assert_int_equal(results(f, 700, ids, 16), 0);

    ep_wire_msg r5 = request(5, now_trace(f)); /* still serving */
    size_t n5;
    uint8_t *next = frame(&r5, EP_WIRE_LOADGEN, 5, key, &n5);
    send_frame(f, next, n5);
    k = results(f, 2000, ids, 16);
    assert_int_equal(k, 1);
    assert_int_equal(ids[0], 5);

    f->stop = 1;
    pthread_join(f->thread, NULL);
    assert_int_equal(f->rc, 0);
    assert_int_equal(f->stats.bad_frames, 5);
    assert_int_equal(f->stats.replayed, 1);
    free(good);
    free(forged);
    free(cut);
    free(spoof);
    free(next);
    nng_close(f->to_node);
    nng_close(f->from_node);
    nng_close(f->ctl_in);
    ep_store_close(f->st);
    ep_scenario_fini(&f->sc);
    unlink(f->db);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_only_fresh_authentic_frames_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
