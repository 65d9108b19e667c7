/* Tests for the wire protocol (exec/wire.c): every message type survives encode/decode
 * field for field; frames with a wrong magic, version, length, tag, type, msgpack type or
 * out-of-range value are refused with EP_EPARSE / EP_EINVAL and a message naming the field;
 * every truncation of a valid frame fails cleanly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "epara/core/error.h"
#include "epara/exec/wire.h"

static const uint8_t key[] = "0123456789abcdef-shared-secret";
static const uint8_t other_key[] = "0123456789abcdef-another-secret";

static ep_instance_spec specs[3] = {
        {.service = 0, .mode = EP_MODE_SINGLE, .ndev = 1, .devs = {4}, .max_batch = 8},
        {.service = 2,
         .mode = EP_MODE_PP,
         .ndev = 8,
         .devs = {0, 1, 2, 3, 4, 5, 6, 70000},
         .order = EP_QUEUE_EDF},
        {.service = 9, .mode = EP_MODE_TP, .ndev = 2, .devs = {10, 11}, .max_batch = 1}};

static ep_msg_inst_state views[2] = {
        {.id = 0, .queued = 3, .running = 1, .backlog = 12345678901LL, .kv_free = -1, .ready = 1},
        {.id = 77, .queued = 0, .running = 0, .backlog = 0, .kv_free = 1 << 20, .ready = 0}};

static ep_msg_demand demand[2] = {{.arrivals = 1000, .sum_in = 512000, .sum_out = 128000},
                                  {.arrivals = 0, .sum_in = 0, .sum_out = 0}};

static uint8_t payload_bytes[700] = {9, 8, 7, 0, 255}; /* a request's payload */
static uint8_t output_bytes[300] = {0, 1, 2, 255};

static ep_msg_request
sample_request(void)
{
    ep_msg_request q = {.id = UINT64_MAX - 5,
                        .service = 3,
                        .ingress = 19,
                        .hops = 2,
                        .arrival = 1000000000LL,
                        .deadline = INT64_MAX,
                        .input = 512,
                        .output = 128,
                        .bytes = 70000,
                        .stream = -1,
                        .frame = 42,
                        .trace_exec = -1,
                        .payload = payload_bytes,
                        .payload_len = sizeof payload_bytes};
    return q;
}

/* One sample message of each type, EP_WIRE_HELLO..EP_WIRE_TIME. */
static ep_wire_msg
sample(int type)
{
    ep_wire_msg m;
    memset(&m, 0, sizeof m);
    m.type = (ep_wire_type)type;
    switch (type) {
    case EP_WIRE_HELLO:
        strcpy(m.u.hello.name, "orin-agx-07");
        m.u.hello.node = 7;
        m.u.hello.protocol = EP_WIRE_VERSION;
        for (int i = 0; i < EP_WIRE_TAG_BYTES; i++)
            m.u.hello.auth[i] = (uint8_t)(i * 7 + 1);
        break;
    case EP_WIRE_PLACEMENT:
        m.u.placement.epoch = 12;
        m.u.placement.inst = specs;
        m.u.placement.n = 3;
        break;
    case EP_WIRE_STATE:
        m.u.state.node = 4;
        m.u.state.time = 5000000000LL;
        m.u.state.inst = views;
        m.u.state.n = 2;
        m.u.state.demand = demand;
        m.u.state.nsvc = 2;
        break;
    case EP_WIRE_REQUEST:
        m.u.request = sample_request();
        break;
    case EP_WIRE_RESULT:
        m.u.result = (ep_msg_result){.id = 99,
                                     .outcome = 2,
                                     .reason = "deadline passed in queue",
                                     .dispatch = 10,
                                     .first_token = EP_MSG_NEVER,
                                     .done = 300,
                                     .instance = -1,
                                     .node = 5,
                                     .batch = 4,
                                     .preemptions = 1,
                                     .hops = 2,
                                     .output = output_bytes,
                                     .output_len = sizeof output_bytes};
        break;
    case EP_WIRE_FORWARD:
        m.u.forward.req = sample_request();
        m.u.forward.kind = EP_MSG_TO_NODE;
        m.u.forward.target = 11;
        m.u.forward.deliver_at = 123456789;
        break;
    case EP_WIRE_BYE:
        m.u.bye.node = -1;
        m.u.bye.reason = 3;
        break;
    case EP_WIRE_TIME: /* an answer, before trace time 0 */
        m.u.time = (ep_wire_time){.node = 3,
                                  .t1 = -1500000000LL,
                                  .t2 = -1749000000LL,
                                  .t3 = -1748999000LL,
                                  .offset = -250000000LL,
                                  .err = 120000};
        break;
    }
    return m;
}

static void
encode_ok(const ep_wire_msg *m, uint8_t **f, size_t *n)
{
    assert_int_equal(ep_wire_encode(m, key, sizeof key - 1, f, n), 0);
    assert_non_null(*f);
}

/* Decodes buf expecting failure code rc with `needle` in the message. */
static void
expect_fail(const uint8_t *buf, size_t len, int rc, const char *needle)
{
    ep_wire_msg m;
    memset(&m, 0xAB, sizeof m);
    ep_wire_msg before = m;
    char err[256];
    int got = ep_wire_decode(buf, len, key, sizeof key - 1, &m, err, sizeof err);
    if (got != rc || !strstr(err, needle))
        fail_msg("got %d \"%s\", want %d with \"%s\"", got, err, rc, needle);
    assert_memory_equal(&m, &before, sizeof m); /* out untouched on failure */
}

static void
test_every_message_type_round_trips_field_by_field(void **state)
{
    (void)state;
    for (int t = EP_WIRE_HELLO; t <= EP_WIRE_TIME; t++) {
        ep_wire_msg m = sample(t), d;
        uint8_t *f;
        size_t n;
        encode_ok(&m, &f, &n);
        char err[128];
        assert_int_equal(ep_wire_decode(f, n, key, sizeof key - 1, &d, err, sizeof err), 0);
        assert_true(ep_wire_msg_equal(&m, &d));
        assert_int_equal(d.type, t);
        switch (t) {
        case EP_WIRE_HELLO:
            assert_string_equal(d.u.hello.name, "orin-agx-07");
            assert_int_equal(d.u.hello.node, 7);
            assert_int_equal(d.u.hello.protocol, EP_WIRE_VERSION);
            assert_memory_equal(d.u.hello.auth, m.u.hello.auth, EP_WIRE_TAG_BYTES);
            break;
        case EP_WIRE_PLACEMENT:
            assert_int_equal(d.u.placement.epoch, 12);
            assert_int_equal(d.u.placement.n, 3);
            for (int i = 0; i < 3; i++) {
                const ep_instance_spec *a = &specs[i], *b = &d.u.placement.inst[i];
                assert_int_equal(a->service, b->service);
                assert_int_equal(a->mode, b->mode);
                assert_int_equal(a->ndev, b->ndev);
                assert_memory_equal(a->devs, b->devs, sizeof(int) * (size_t)a->ndev);
                assert_int_equal(a->max_batch, b->max_batch);
                assert_int_equal(a->order, b->order);
            }
            break;
        case EP_WIRE_STATE:
            assert_int_equal(d.u.state.node, 4);
            assert_int_equal(d.u.state.time, 5000000000LL);
            assert_int_equal(d.u.state.n, 2);
            for (int i = 0; i < 2; i++) {
                const ep_msg_inst_state *a = &views[i], *b = &d.u.state.inst[i];
                assert_int_equal(a->id, b->id);
                assert_int_equal(a->queued, b->queued);
                assert_int_equal(a->running, b->running);
                assert_int_equal(a->backlog, b->backlog);
                assert_int_equal(a->kv_free, b->kv_free);
                assert_int_equal(a->ready, b->ready);
            }
            assert_int_equal(d.u.state.nsvc, 2);
            for (int i = 0; i < 2; i++) {
                assert_int_equal(d.u.state.demand[i].arrivals, demand[i].arrivals);
                assert_int_equal(d.u.state.demand[i].sum_in, demand[i].sum_in);
                assert_int_equal(d.u.state.demand[i].sum_out, demand[i].sum_out);
            }
            break;
        case EP_WIRE_REQUEST:
        case EP_WIRE_FORWARD: {
            const ep_msg_request *b = t == EP_WIRE_REQUEST ? &d.u.request : &d.u.forward.req;
            assert_true(b->id == UINT64_MAX - 5);
            assert_int_equal(b->service, 3);
            assert_int_equal(b->ingress, 19);
            assert_int_equal(b->hops, 2);
            assert_int_equal(b->arrival, 1000000000LL);
            assert_true(b->deadline == INT64_MAX);
            assert_int_equal(b->input, 512);
            assert_int_equal(b->output, 128);
            assert_int_equal(b->bytes, 70000);
            assert_int_equal(b->stream, -1);
            assert_int_equal(b->frame, 42);
            assert_int_equal(b->trace_exec, -1);
            if (t == EP_WIRE_FORWARD) {
                assert_int_equal(d.u.forward.kind, EP_MSG_TO_NODE);
                assert_int_equal(d.u.forward.target, 11);
                assert_int_equal(d.u.forward.deliver_at, 123456789);
            }
            break;
        }
        case EP_WIRE_RESULT:
            assert_int_equal(d.u.result.id, 99);
            assert_int_equal(d.u.result.outcome, 2);
            assert_string_equal(d.u.result.reason, "deadline passed in queue");
            assert_int_equal(d.u.result.hops, 2);
            assert_int_equal(d.u.result.dispatch, 10);
            assert_int_equal(d.u.result.first_token, EP_MSG_NEVER);
            assert_int_equal(d.u.result.done, 300);
            assert_int_equal(d.u.result.instance, -1);
            assert_int_equal(d.u.result.node, 5);
            assert_int_equal(d.u.result.batch, 4);
            assert_int_equal(d.u.result.preemptions, 1);
            break;
        case EP_WIRE_BYE:
            assert_int_equal(d.u.bye.node, -1);
            assert_int_equal(d.u.bye.reason, 3);
            break;
        case EP_WIRE_TIME:
            assert_int_equal(d.u.time.node, 3);
            assert_int_equal(d.u.time.t1, -1500000000LL);
            assert_int_equal(d.u.time.t2, -1749000000LL);
            assert_int_equal(d.u.time.t3, -1748999000LL);
            assert_int_equal(d.u.time.offset, -250000000LL);
            assert_int_equal(d.u.time.err, 120000);
            break;
        }
        ep_wire_msg_free(&d);
        free(f);
    }
}

static void
test_empty_and_largest_placements_round_trip(void **state)
{
    (void)state;
    ep_wire_msg m = sample(EP_WIRE_PLACEMENT), d;
    m.u.placement.n = 0;
    m.u.placement.inst = NULL;
    uint8_t *f;
    size_t n;
    encode_ok(&m, &f, &n);
    assert_int_equal(ep_wire_decode(f, n, key, sizeof key - 1, &d, NULL, 0), 0);
    assert_int_equal(d.u.placement.n, 0);
    assert_null(d.u.placement.inst);
    free(f);

    ep_instance_spec *big = calloc(EP_MSG_MAX_INSTANCES + 1, sizeof *big);
    assert_non_null(big);
    for (int i = 0; i <= EP_MSG_MAX_INSTANCES; i++) {
        big[i].service = i;
        big[i].ndev = 1;
        big[i].devs[0] = i % 20;
    }
    m.u.placement.inst = big;
    m.u.placement.n = EP_MSG_MAX_INSTANCES;
    encode_ok(&m, &f, &n);
    assert_int_equal(ep_wire_decode(f, n, key, sizeof key - 1, &d, NULL, 0), 0);
    assert_true(ep_wire_msg_equal(&m, &d));
    ep_wire_msg_free(&d);
    assert_null(d.u.placement.inst);
    free(f);

    /* One over the limit: the encoder refuses, and so does the decoder. */
    m.u.placement.n = EP_MSG_MAX_INSTANCES + 1;
    assert_int_equal(ep_wire_encode(&m, key, sizeof key - 1, &f, &n), EP_EINVAL);
    free(big);
}

/* Builds a sealed frame of type `type` from raw msgpack bytes. */
static uint8_t *
seal(unsigned type, const uint8_t *p, size_t plen, size_t *n)
{
    uint8_t *f;
    assert_int_equal(ep_wire_seal(type, p, plen, key, sizeof key - 1, &f, n), 0);
    return f;
}

static void
test_frame_header_errors_are_rejected(void **state)
{
    (void)state;
    ep_wire_msg m = sample(EP_WIRE_BYE);
    uint8_t *f;
    size_t n;
    encode_ok(&m, &f, &n);

    f[0] = 'X';
    expect_fail(f, n, EP_EPARSE, "frame.magic");
    f[0] = 'E';
    f[5] = 1;
    expect_fail(f, n, EP_EPARSE, "frame.version: 1");
    f[5] = EP_WIRE_VERSION;

    uint8_t *g = malloc(n + 1);
    assert_non_null(g);
    memcpy(g, f, n);
    g[n] = 0;
    expect_fail(g, n + 1, EP_EPARSE, "1 trailing bytes");
    g[11]++; /* payload length no longer matches the frame */
    expect_fail(g, n, EP_EPARSE, "frame.length");
    g[8] = 0xff; /* over EP_WIRE_MAX_PAYLOAD */
    expect_fail(g, n, EP_EPARSE, "at most");
    free(g);
    free(f);
}

/* Frames one after another in one transport message split at the lengths their headers
 * give; a truncated, foreign or other-version start gives 0. */
static void
test_frames_split_at_their_lengths(void **state)
{
    (void)state;
    ep_wire_msg a = sample(EP_WIRE_REQUEST), b = sample(EP_WIRE_STATE), d;
    uint8_t *fa, *fb;
    size_t na, nb;
    encode_ok(&a, &fa, &na);
    encode_ok(&b, &fb, &nb);
    uint8_t *two = malloc(na + nb);
    assert_non_null(two);
    memcpy(two, fa, na);
    memcpy(two + na, fb, nb);
    assert_int_equal(ep_wire_frame_len(two, na + nb), na);
    assert_int_equal(ep_wire_frame_len(two + na, nb), nb);
    char err[128];
    assert_int_equal(ep_wire_decode(two + na, nb, key, sizeof key - 1, &d, err, sizeof err), 0);
    assert_true(ep_wire_msg_equal(&b, &d));
    ep_wire_msg_free(&d);
    assert_int_equal(ep_wire_frame_len(two, na - 1), 0);                   /* truncated */
    assert_int_equal(ep_wire_frame_len(two, EP_WIRE_HEADER_BYTES - 1), 0); /* no header */
    assert_int_equal(ep_wire_frame_len(NULL, 0), 0);
    two[5] = EP_WIRE_VERSION - 1; /* another version: not split */
    assert_int_equal(ep_wire_frame_len(two, na + nb), 0);
    two[5] = EP_WIRE_VERSION;
    two[0] = 'X';
    assert_int_equal(ep_wire_frame_len(two, na + nb), 0);
    free(two);
    free(fa);
    free(fb);
}

static void
test_tag_mismatch_fails_authentication(void **state)
{
    (void)state;
    ep_wire_msg m = sample(EP_WIRE_REQUEST), d;
    uint8_t *f;
    size_t n;
    encode_ok(&m, &f, &n);
    char err[64];
    assert_int_equal(ep_wire_decode(f, n, other_key, sizeof other_key - 1, &d, err, sizeof err),
                     EP_EINVAL);
    assert_string_equal(err, "authentication failed");
    assert_int_equal(ep_wire_decode(f, n, key, 8, &d, err, sizeof err), EP_EINVAL);

    f[EP_WIRE_HEADER_BYTES + 3] ^= 1; /* payload bit flip */
    expect_fail(f, n, EP_EINVAL, "authentication failed");
    f[EP_WIRE_HEADER_BYTES + 3] ^= 1;
    f[n - 1] ^= 0x80; /* tag bit flip */
    expect_fail(f, n, EP_EINVAL, "authentication failed");
    f[n - 1] ^= 0x80;
    f[7] = EP_WIRE_RESULT; /* type changed after sealing */
    expect_fail(f, n, EP_EINVAL, "authentication failed");
    free(f);
}

static void
test_unknown_type_is_rejected(void **state)
{
    (void)state;
    const uint8_t p[] = {0x92, 0x00, 0x00};
    size_t n;
    uint8_t *f = seal(0, p, sizeof p, &n);
    expect_fail(f, n, EP_EPARSE, "unknown message type 0");
    free(f);
    f = seal(EP_WIRE_TIME + 1, p, sizeof p, &n);
    expect_fail(f, n, EP_EPARSE, "unknown message type 9");
    free(f);
    f = seal(EP_WIRE_BYE, p, sizeof p, &n); /* the same payload under a known type is fine */
    ep_wire_msg d;
    assert_int_equal(ep_wire_decode(f, n, key, sizeof key - 1, &d, NULL, 0), 0);
    free(f);
}

typedef struct bad_payload {
    unsigned type;
    uint8_t bytes[48];
    size_t len;
    const char *needle;
} bad_payload;

/* Raw msgpack payloads, each with one defect, and the message it must produce. */
static const bad_payload bad[] = {
        /* placement [0, [[1, 0, [9 devices], 0, 0]]] */
        {EP_WIRE_PLACEMENT,
         {0x92, 0x00, 0x91, 0x95, 0x01, 0x00, 0x99, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0x00, 0x00},
         18,
         "placement[0].devs: 9 devices, at most 8"},
        {EP_WIRE_PLACEMENT,
         {0x92, 0x00, 0x91, 0x95, 0x01, 0x00, 0x90, 0x00, 0x00},
         9,
         "placement[0].devs: 0 devices, at least 1"},
        {EP_WIRE_PLACEMENT,
         {0x92, 0x00, 0x91, 0x95, 0x01, 0x04, 0x91, 0x00, 0x00, 0x00},
         10,
         "placement[0].mode: 4 out of range"},
        {EP_WIRE_PLACEMENT, {0x92, 0xff, 0x90}, 3, "placement.epoch: -1 out of range"},
        {EP_WIRE_PLACEMENT,
         {0x92, 0x00, 0xdd, 0x00, 0x00, 0x10, 0x01},
         7,
         "placement.inst: 4097 instances, at most 4096"},
        {EP_WIRE_PLACEMENT,
         {0x92, 0x00, 0xdd, 0xff, 0xff, 0xff, 0xff},
         7,
         "instances, at most 4096"},
        {EP_WIRE_STATE,
         {0x94, 0x01, 0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0, 0x90},
         12,
         "state.time: -9223372036854775808 out of range"},
        {EP_WIRE_STATE,
         {0x94, 0x01, 0x02, 0x91, 0x96, 0x00, 0x00, 0x00, 0x00, 0xfe, 0x01},
         11,
         "state[0].kv_free: -2 out of range"},
        {EP_WIRE_STATE,
         {0x94, 0x01, 0x02, 0x91, 0x96, 0x00, 0x00, 0x00, 0x00, 0xff, 0xc3},
         11,
         "state[0].ready: expected integer, got boolean"},
        {EP_WIRE_HELLO, {0x94, 0xa0, 0x00, 0x01, 0xc4, 0x00}, 6, "hello.name: empty"},
        {EP_WIRE_HELLO, {0x94, 0xd9, 64}, 3, "hello.name: 64 bytes, at most 63"},
        {EP_WIRE_HELLO,
         {0x94, 0xa2, 'a', 0x00, 0x00, 0x01, 0xc4, 0x00},
         8,
         "hello.name: contains a NUL byte"},
        {EP_WIRE_HELLO,
         {0x94, 0xa1, 'a', 0x00, 0x01, 0xc4, 0x01, 0x00},
         8,
         "hello.auth: 1 bytes, expected 32"},
        {EP_WIRE_HELLO, {0x94, 0xa1, 'a', 0xcb}, 4, "hello.node: expected integer, got float"},
        {EP_WIRE_HELLO, {0x93}, 1, "hello.fields: 3 fields, expected 4"},
        {EP_WIRE_HELLO, {0x81}, 1, "hello.fields: expected array, got map"},
        {EP_WIRE_HELLO, {0}, 0, "hello.fields: truncated"},
        {EP_WIRE_REQUEST,
         {0x9d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfe},
         13,
         "request.trace_exec: -2 out of range"},
        {EP_WIRE_REQUEST, {0x9d, 0xff}, 2, "request.id: -1 is negative"},
        {EP_WIRE_REQUEST,
         {0x9d, 0x01, 0xce, 0x80, 0x00, 0x00, 0x00},
         7,
         "request.service: 2147483648 out of range"},
        {EP_WIRE_RESULT, {0x9c, 0x01, 0x04}, 3, "result.outcome: 4 out of range"},
        {EP_WIRE_RESULT, {0x9c, 0x01, 0x00, 0xa0, 0xfe}, 5, "result.dispatch: -2 out of range"},
        {EP_WIRE_RESULT,
         {0x9c, 0x01, 0x00, 0x00},
         4,
         "result.reason: expected string, got integer"},
        {EP_WIRE_STATE,
         {0x94, 0x01, 0x02, 0x90, 0x91, 0x93, 0x00, 0x00, 0xff},
         9,
         "state[0].sum_out: -1 out of range"},
        {EP_WIRE_STATE,
         {0x94, 0x01, 0x02, 0x90, 0xdc, 0x00, 0x41},
         7,
         "state.demand: 65 services, at most 64"},
        {EP_WIRE_FORWARD,
         {0x94, 0x9d, 0x01, 0x00, 0x00, 0x00, 0xff},
         7,
         "forward.request.arrival: -1 out of range"},
        {EP_WIRE_FORWARD,
         {0x94, 0x9d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0,
          0x02},
         16,
         "forward.kind: 2 out of range"},
        {EP_WIRE_BYE, {0x92, 0x00, 0x00, 0xc0}, 4, "bye: 1 trailing payload bytes"},
        {EP_WIRE_BYE, {0x92, 0x00, 0xcd, 0x00}, 4, "bye.reason: truncated"},
        {EP_WIRE_BYE,
         {0x92, 0x00, 0xcf, 0, 0, 0, 0, 0, 1, 0, 0},
         11,
         "bye.reason: 65536 out of range"},
        {EP_WIRE_TIME,
         {0x96, 0x00, 0x01, 0xc0, 0x02, 0x00, 0x00},
         7,
         "time.t3: given without t2, or t2 without t3"},
        {EP_WIRE_TIME, {0x96, 0x00, 0xc0}, 3, "time.t1: expected integer, got nil"},
        {EP_WIRE_TIME, {0x96, 0xfe, 0x01}, 3, "time.node: -2 out of range"},
        {EP_WIRE_TIME, {0x96, 0x00, 0x01, 0xc0, 0xc0, 0x00, 0xfe}, 7, "time.err: -2 out of range"},
};

static void
test_malformed_payloads_are_rejected_naming_the_field(void **state)
{
    (void)state;
    for (size_t i = 0; i < EP_ARRAY_LEN(bad); i++) {
        size_t n;
        uint8_t *f = seal(bad[i].type, bad[i].bytes, bad[i].len, &n);
        expect_fail(f, n, EP_EPARSE, bad[i].needle);
        free(f);
    }
}

static void
test_encoder_refuses_messages_the_decoder_would_reject(void **state)
{
    (void)state;
    uint8_t *f = NULL;
    size_t n;
    ep_wire_msg m = sample(EP_WIRE_REQUEST);
    m.u.request.arrival = -5;
    assert_int_equal(ep_wire_encode(&m, key, sizeof key - 1, &f, &n), EP_EINVAL);
    m = sample(EP_WIRE_HELLO);
    memset(m.u.hello.name, 'x', sizeof m.u.hello.name); /* no terminator */
    assert_int_equal(ep_wire_encode(&m, key, sizeof key - 1, &f, &n), EP_EINVAL);
    m = sample(EP_WIRE_PLACEMENT);
    ep_instance_spec s = specs[0];
    s.ndev = 9;
    m.u.placement.inst = &s;
    m.u.placement.n = 1;
    assert_int_equal(ep_wire_encode(&m, key, sizeof key - 1, &f, &n), EP_EINVAL);
    m = sample(EP_WIRE_TIME); /* t3 without t2 */
    m.u.time.t2 = EP_WIRE_NO_TIME;
    assert_int_equal(ep_wire_encode(&m, key, sizeof key - 1, &f, &n), EP_EINVAL);
    m = sample(EP_WIRE_TIME);
    m.u.time.t1 = EP_WIRE_TIME_MAX;
    assert_int_equal(ep_wire_encode(&m, key, sizeof key - 1, &f, &n), EP_EINVAL);
    m = sample(EP_WIRE_BYE);
    m.type = (ep_wire_type)42;
    assert_int_equal(ep_wire_encode(&m, key, sizeof key - 1, &f, &n), EP_EINVAL);
    m = sample(EP_WIRE_BYE);
    assert_int_equal(ep_wire_encode(&m, key, 15, &f, &n), EP_EINVAL);
    assert_null(f);
}

static void
test_every_truncation_of_a_frame_fails_cleanly(void **state)
{
    (void)state;
    for (int t = EP_WIRE_HELLO; t <= EP_WIRE_TIME; t++) {
        ep_wire_msg m = sample(t), d;
        uint8_t *f;
        size_t n;
        encode_ok(&m, &f, &n);
        for (size_t k = 0; k < n; k++) {
            /* An exact-size copy, so ASan sees any read past k. */
            uint8_t *g = malloc(k ? k : 1);
            assert_non_null(g);
            memcpy(g, f, k);
            char err[128];
            int rc = ep_wire_decode(g, k, key, sizeof key - 1, &d, err, sizeof err);
            assert_int_equal(rc, EP_EPARSE);
            assert_true(err[0] != '\0');
            free(g);
        }
        free(f);
    }
}

/* The envelope travels authenticated: read back as written, and a changed sender or
 * sequence number fails the tag. */
static void
test_envelope_is_authenticated(void **state)
{
    (void)state;
    ep_wire_msg m = sample(EP_WIRE_REQUEST), d;
    ep_wire_env env = {7, 1700000000123456789ull, 42}, got;
    uint8_t *f;
    size_t n;
    assert_int_equal(ep_wire_encode_env(&m, &env, key, sizeof key - 1, &f, &n), 0);
    assert_int_equal(ep_wire_decode_env(f, n, key, sizeof key - 1, &d, &got, NULL, 0), 0);
    assert_int_equal(got.sender, 7);
    assert_true(got.session == env.session);
    assert_true(got.seq == 42);
    assert_true(ep_wire_msg_equal(&m, &d));
    ep_wire_msg_free(&d);
    for (int off = 12; off < EP_WIRE_HEADER_BYTES; off += 5) {
        f[off] ^= 0x10;
        char why[128];
        assert_int_equal(ep_wire_decode_env(f, n, key, sizeof key - 1, &d, &got, why, sizeof why),
                         EP_EINVAL);
        assert_string_equal(why, "authentication failed");
        f[off] ^= 0x10;
    }
    free(f);
}

/* A receiver takes each sender's frames once, in order: copies and older ones are stale;
 * a newer session (the sender restarted) starts over. */
static void
test_replay_filter(void **state)
{
    (void)state;
    ep_wire_replay r = {0, 0};
    ep_wire_env a = {3, 100, 1}, b = {3, 100, 2}, old = {3, 99, 50}, next = {3, 101, 1};
    assert_int_equal(ep_wire_replay_check(&r, &a), 0);
    assert_int_equal(ep_wire_replay_check(&r, &a), EP_ERANGE); /* the same frame again */
    assert_int_equal(ep_wire_replay_check(&r, &b), 0);
    assert_int_equal(ep_wire_replay_check(&r, &a), EP_ERANGE);   /* an earlier one */
    assert_int_equal(ep_wire_replay_check(&r, &old), EP_ERANGE); /* an older session */
    assert_int_equal(ep_wire_replay_check(&r, &next), 0);
    assert_int_equal(ep_wire_replay_check(&r, &b), EP_ERANGE);
}

/* A request's payload and a result's output travel whole up to EP_MSG_PAYLOAD_MAX bytes
 * (owned by the decoded message); beyond it the encoder refuses and the decoder names the
 * field. A message without them carries nil. */
static void
test_payloads_travel_whole_up_to_the_bound(void **state)
{
    (void)state;
    uint8_t *big = malloc((size_t)EP_MSG_PAYLOAD_MAX + 1);
    assert_non_null(big);
    for (int64_t i = 0; i <= EP_MSG_PAYLOAD_MAX; i++)
        big[i] = (uint8_t)(i * 131 + (i >> 13));
    for (int t = EP_WIRE_REQUEST; t <= EP_WIRE_FORWARD; t++) {
        ep_wire_msg m = sample(t), d;
        uint8_t **p = t == EP_WIRE_RESULT    ? &m.u.result.output
                      : t == EP_WIRE_REQUEST ? &m.u.request.payload
                                             : &m.u.forward.req.payload;
        int64_t *len = t == EP_WIRE_RESULT    ? &m.u.result.output_len
                       : t == EP_WIRE_REQUEST ? &m.u.request.payload_len
                                              : &m.u.forward.req.payload_len;
        uint8_t *f;
        size_t n;
        *p = big;
        *len = EP_MSG_PAYLOAD_MAX;
        encode_ok(&m, &f, &n);
        assert_true(n > (size_t)EP_MSG_PAYLOAD_MAX);
        assert_int_equal(ep_wire_decode(f, n, key, sizeof key - 1, &d, NULL, 0), 0);
        free(f); /* the decoded message has its own copy */
        assert_true(ep_wire_msg_equal(&m, &d));
        ep_wire_msg_free(&d);
        *len = EP_MSG_PAYLOAD_MAX + 1;
        assert_int_equal(ep_wire_encode(&m, key, sizeof key - 1, &f, &n), EP_EINVAL);
        *p = NULL;
        *len = 1;
        assert_int_equal(ep_wire_encode(&m, key, sizeof key - 1, &f, &n), EP_EINVAL);
        *len = 0; /* none: nil on the wire, NULL decoded */
        encode_ok(&m, &f, &n);
        assert_int_equal(ep_wire_decode(f, n, key, sizeof key - 1, &d, NULL, 0), 0);
        assert_true(ep_wire_msg_equal(&m, &d));
        free(f);
        ep_wire_msg_free(&d);
    }
    free(big);
    /* A binary header announcing one byte more than the bound. */
    uint8_t raw[] = {0x9d, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc6, 0, 0x40, 0, 1};
    size_t n;
    uint8_t *f = seal(EP_WIRE_REQUEST, raw, sizeof raw, &n);
    expect_fail(f, n, EP_EPARSE, "request.payload: 4194305 bytes, at most 4194304");
    free(f);
    raw[13] = 0x01; /* an integer where the payload goes */
    f = seal(EP_WIRE_REQUEST, raw, 14, &n);
    expect_fail(f, n, EP_EPARSE, "request.payload: expected binary or nil, got integer");
    free(f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_message_type_round_trips_field_by_field),
            cmocka_unit_test(test_empty_and_largest_placements_round_trip),
            cmocka_unit_test(test_frame_header_errors_are_rejected),
            cmocka_unit_test(test_frames_split_at_their_lengths),
            cmocka_unit_test(test_tag_mismatch_fails_authentication),
            cmocka_unit_test(test_unknown_type_is_rejected),
            cmocka_unit_test(test_malformed_payloads_are_rejected_naming_the_field),
            cmocka_unit_test(test_envelope_is_authenticated),
            cmocka_unit_test(test_replay_filter),
            cmocka_unit_test(test_encoder_refuses_messages_the_decoder_would_reject),
            cmocka_unit_test(test_every_truncation_of_a_frame_fails_cleanly),
            cmocka_unit_test(test_payloads_travel_whole_up_to_the_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
