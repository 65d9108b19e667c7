/* Wire protocol frames (include/epara/exec/wire.h): msgpack-c packs payloads; a small bounded
 * reader decodes them, so every read is checked against the end of the buffer and no
 * allocation is sized by an untrusted count beyond the message limits. Tags are
 * HMAC-SHA256 (libsodium), checked in constant time before the payload is parsed. */
#include "epara/exec/wire.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>
#include <sodium.h>

#include "epara/core/error.h"

/* Field counts of each message's top-level msgpack array. */
enum {
    NF_HELLO = 4,
    NF_PLACEMENT = 2,
    NF_SPEC = 5,
    NF_STATE = 4,
    NF_INST = 6,
    NF_REQUEST = 13,
    NF_RESULT = 12,
    NF_FORWARD = 4,
    NF_BYE = 2,
    NF_TIME = 6
};

_Static_assert(EP_MSG_PAYLOAD_MAX + (1 << 20) <= EP_WIRE_MAX_PAYLOAD,
               "a request's payload and its other fields fit in one frame");

const char *
ep_wire_type_name(unsigned type)
{
    switch (type) {
    case EP_WIRE_HELLO:
        return "hello";
    case EP_WIRE_PLACEMENT:
        return "placement";
    case EP_WIRE_STATE:
        return "state";
    case EP_WIRE_REQUEST:
        return "request";
    case EP_WIRE_RESULT:
        return "result";
    case EP_WIRE_FORWARD:
        return "forward";
    case EP_WIRE_BYE:
        return "bye";
    case EP_WIRE_TIME:
        return "time";
    default:
        return "unknown";
    }
}

/* ---- authentication ---- */

static void
tag_compute(const uint8_t *frame, size_t n, const uint8_t *key, size_t keylen,
            uint8_t tag[EP_WIRE_TAG_BYTES])
{
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, keylen);
    crypto_auth_hmacsha256_update(&st, frame, n);
    crypto_auth_hmacsha256_final(&st, tag);
    sodium_memzero(&st, sizeof st);
}

static void
put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (uint8_t)(v & 0xff);
        v >>= 8;
    }
}

static uint64_t
get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

static int
seal(unsigned type, const ep_wire_env *env, const uint8_t *payload, size_t plen, const uint8_t *key,
     size_t keylen, uint8_t **out, size_t *len)
{
    if ((!payload && plen) || !key || keylen < EP_WIRE_MIN_KEY_BYTES || !out || !len ||
        plen > EP_WIRE_MAX_PAYLOAD || type > 0xffff)
        return EP_EINVAL;
    size_t n = EP_WIRE_HEADER_BYTES + plen + EP_WIRE_TAG_BYTES;
    uint8_t *f = malloc(n);
    if (!f)
        return EP_ENOMEM;
    memcpy(f, EP_WIRE_MAGIC, 4);
    put_be(f + 4, EP_WIRE_VERSION, 2);
    put_be(f + 6, type, 2);
    put_be(f + 8, plen, 4);
    put_be(f + 12, env->sender, 4);
    put_be(f + 16, env->session, 8);
    put_be(f + 24, env->seq, 8);
    if (plen)
        memcpy(f + EP_WIRE_HEADER_BYTES, payload, plen);
    tag_compute(f, EP_WIRE_HEADER_BYTES + plen, key, keylen, f + EP_WIRE_HEADER_BYTES + plen);
    *out = f;
    *len = n;
    return 0;
}

static const ep_wire_env anon = {EP_WIRE_ANON, 0, 0};

int
ep_wire_seal(unsigned type, const uint8_t *payload, size_t plen, const uint8_t *key, size_t keylen,
             uint8_t **out, size_t *len)
{
    return seal(type, &anon, payload, plen, key, keylen, out, len);
}

int
ep_wire_replay_check(ep_wire_replay *r, const ep_wire_env *env)
{
    if (env->session < r->session || (env->session == r->session && env->seq <= r->seq))
        return EP_ERANGE;
    r->session = env->session;
    r->seq = env->seq;
    return 0;
}

/* ---- bounded msgpack reader ---- */

#define TRY(expr)         \
    do {                  \
        int rc_ = (expr); \
        if (rc_)          \
            return rc_;   \
    } while (0)

typedef struct rd {
    const uint8_t *p, *end;
    char *err;
    size_t errlen;
    const char *ctx; /* message or array name, e.g. "placement" */
    int idx;         /* element index within ctx, or -1 */
    int borrow;      /* payloads point into the frame instead of copies (the encoder's check) */
} rd;

EP_PRINTF(3, 4)
static int
fail(rd *r, const char *field, const char *fmt, ...)
{
    if (r->err && r->errlen) {
        int k;
        if (r->idx >= 0)
            k = snprintf(r->err, r->errlen, "%s[%d].%s: ", r->ctx, r->idx, field);
        else
            k = snprintf(r->err, r->errlen, "%s.%s: ", r->ctx, field);
        if (k >= 0 && (size_t)k < r->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(r->err + k, r->errlen - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return EP_EPARSE;
}

static const char *
kind_of(uint8_t b)
{
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xcc && b <= 0xd3))
        return "integer";
    if ((b >= 0xa0 && b <= 0xbf) || (b >= 0xd9 && b <= 0xdb))
        return "string";
    if ((b >= 0x90 && b <= 0x9f) || b == 0xdc || b == 0xdd)
        return "array";
    if ((b >= 0x80 && b <= 0x8f) || b == 0xde || b == 0xdf)
        return "map";
    if (b >= 0xc4 && b <= 0xc6)
        return "binary";
    if (b == 0xc0)
        return "nil";
    if (b == 0xc2 || b == 0xc3)
        return "boolean";
    if (b == 0xca || b == 0xcb)
        return "float";
    if (b == 0xc1)
        return "reserved byte";
    return "extension";
}

/* Takes n bytes; NULL when fewer remain. */
static const uint8_t *
take(rd *r, size_t n)
{
    if ((size_t)(r->end - r->p) < n)
        return NULL;
    const uint8_t *q = r->p;
    r->p += n;
    return q;
}

static int
rd_truncated(rd *r, const char *field)
{
    return fail(r, field, "truncated");
}

/* Reads an array header with exactly `want` elements (want < 0: any count into *n). */
static int
rd_array(rd *r, const char *field, int want, int64_t *n)
{
    if (r->p >= r->end)
        return rd_truncated(r, field);
    uint8_t b = *r->p++;
    uint64_t count;
    if (b >= 0x90 && b <= 0x9f) {
        count = b & 0x0f;
    } else if (b == 0xdc || b == 0xdd) {
        int w = b == 0xdc ? 2 : 4;
        const uint8_t *q = take(r, (size_t)w);
        if (!q)
            return rd_truncated(r, field);
        count = get_be(q, w);
    } else {
        return fail(r, field, "expected array, got %s", kind_of(b));
    }
    if (want >= 0 && count != (uint64_t)want)
        return fail(r, field, "%" PRIu64 " fields, expected %d", count, want);
    if (n)
        *n = (int64_t)count;
    return 0;
}

/* Reads any msgpack integer into *neg (1 if negative) and magnitude-preserving forms. */
static int
rd_rawint(rd *r, const char *field, int *neg, uint64_t *u, int64_t *s)
{
    if (r->p >= r->end)
        return rd_truncated(r, field);
    uint8_t b = *r->p++;
    if (b <= 0x7f) {
        *neg = 0;
        *u = b;
        return 0;
    }
    if (b >= 0xe0) {
        *neg = 1;
        *s = (int8_t)b;
        return 0;
    }
    if (b >= 0xcc && b <= 0xd3) {
        static const int widths[] = {1, 2, 4, 8, 1, 2, 4, 8};
        int w = widths[b - 0xcc];
        const uint8_t *q = take(r, (size_t)w);
        if (!q)
            return rd_truncated(r, field);
        uint64_t v = get_be(q, w);
        if (b <= 0xcf) {
            *neg = 0;
            *u = v;
            return 0;
        }
        /* Sign-extend the w-byte two's complement value. */
        int64_t sv;
        if (w == 8) {
            sv = v > (uint64_t)INT64_MAX ? -(int64_t)(~v) - 1 : (int64_t)v;
        } else {
            uint64_t sign = UINT64_C(1) << (w * 8 - 1);
            sv = (v & sign) ? (int64_t)v - (int64_t)(sign << 1) : (int64_t)v;
        }
        if (sv >= 0) {
            *neg = 0;
            *u = (uint64_t)sv;
        } else {
            *neg = 1;
            *s = sv;
        }
        return 0;
    }
    return fail(r, field, "expected integer, got %s", kind_of(b));
}

static int
rd_int(rd *r, const char *field, int64_t lo, int64_t hi, int64_t *out)
{
    int neg = 0;
    uint64_t u = 0;
    int64_t s = 0;
    int rc = rd_rawint(r, field, &neg, &u, &s);
    if (rc)
        return rc;
    if (!neg) {
        if (u > (uint64_t)hi)
            return fail(r, field, "%" PRIu64 " out of range %" PRId64 "..%" PRId64, u, lo, hi);
        s = (int64_t)u;
    }
    if (s < lo || s > hi)
        return fail(r, field, "%" PRId64 " out of range %" PRId64 "..%" PRId64, s, lo, hi);
    *out = s;
    return 0;
}

static int
rd_i(rd *r, const char *field, int64_t lo, int64_t hi, int *out)
{
    int64_t v;
    int rc = rd_int(r, field, lo, hi, &v);
    if (!rc)
        *out = (int)v;
    return rc;
}

static int
rd_u64(rd *r, const char *field, uint64_t *out)
{
    int neg = 0;
    uint64_t u = 0;
    int64_t s = 0;
    int rc = rd_rawint(r, field, &neg, &u, &s);
    if (rc)
        return rc;
    if (neg)
        return fail(r, field, "%" PRId64 " is negative", s);
    *out = u;
    return 0;
}

/* Reads a string of 1..max bytes (0..max when empty_ok) with no NUL into buf[max + 1]. */
static int
rd_str(rd *r, const char *field, char *buf, size_t max, int empty_ok)
{
    if (r->p >= r->end)
        return rd_truncated(r, field);
    uint8_t b = *r->p++;
    uint64_t n;
    if (b >= 0xa0 && b <= 0xbf) {
        n = b & 0x1f;
    } else if (b >= 0xd9 && b <= 0xdb) {
        int w = 1 << (b - 0xd9);
        const uint8_t *q = take(r, (size_t)w);
        if (!q)
            return rd_truncated(r, field);
        n = get_be(q, w);
    } else {
        return fail(r, field, "expected string, got %s", kind_of(b));
    }
    if (n == 0 && !empty_ok)
        return fail(r, field, "empty");
    if (n > max)
        return fail(r, field, "%" PRIu64 " bytes, at most %zu", n, max);
    const uint8_t *q = take(r, (size_t)n);
    if (!q)
        return rd_truncated(r, field);
    if (memchr(q, '\0', (size_t)n))
        return fail(r, field, "contains a NUL byte");
    memcpy(buf, q, (size_t)n);
    buf[n] = '\0';
    return 0;
}

/* A binary's header: its length in *n (the bytes follow). `expected` names what the field
 * may be in the error for another type. */
static int
rd_bin_len(rd *r, const char *field, const char *expected, uint64_t *n)
{
    if (r->p >= r->end)
        return rd_truncated(r, field);
    uint8_t b = *r->p++;
    if (b < 0xc4 || b > 0xc6)
        return fail(r, field, "expected %s, got %s", expected, kind_of(b));
    int w = 1 << (b - 0xc4);
    const uint8_t *q = take(r, (size_t)w);
    if (!q)
        return rd_truncated(r, field);
    *n = get_be(q, w);
    return 0;
}

static int
rd_bin(rd *r, const char *field, uint8_t *buf, size_t want)
{
    uint64_t n = 0;
    TRY(rd_bin_len(r, field, "binary", &n));
    if (n != want)
        return fail(r, field, "%" PRIu64 " bytes, expected %zu", n, want);
    const uint8_t *q = take(r, want);
    if (!q)
        return rd_truncated(r, field);
    memcpy(buf, q, want);
    return 0;
}

/* nil (none: *out NULL, *len 0) or a binary of at most max bytes, copied (or, when
 * r->borrow, pointing into the frame). */
static int
rd_blob(rd *r, const char *field, int64_t max, uint8_t **out, int64_t *len)
{
    *out = NULL;
    *len = 0;
    if (r->p < r->end && *r->p == 0xc0) {
        r->p++;
        return 0;
    }
    uint64_t n = 0;
    TRY(rd_bin_len(r, field, "binary or nil", &n));
    if (n > (uint64_t)max)
        return fail(r, field, "%" PRIu64 " bytes, at most %" PRId64, n, max);
    const uint8_t *q = take(r, (size_t)n);
    if (!q)
        return rd_truncated(r, field);
    if (n == 0)
        return 0;
    if (r->borrow) {
        *out = (uint8_t *)(uintptr_t)q;
    } else {
        *out = malloc((size_t)n);
        if (!*out)
            return EP_ENOMEM;
        memcpy(*out, q, (size_t)n);
    }
    *len = (int64_t)n;
    return 0;
}

static int
rd_name(rd *r, const char *field, char *buf, size_t max)
{
    return rd_str(r, field, buf, max, 0);
}

/* ---- payload decoders: one per message type ---- */

static int
dec_hello(rd *r, ep_wire_hello *h)
{
    r->ctx = "hello";
    TRY(rd_array(r, "fields", NF_HELLO, NULL));
    TRY(rd_name(r, "name", h->name, EP_WIRE_NAME_MAX));
    TRY(rd_i(r, "node", 0, INT32_MAX, &h->node));
    TRY(rd_i(r, "protocol", 1, 65535, &h->protocol));
    return rd_bin(r, "auth", h->auth, EP_WIRE_TAG_BYTES);
}

static int
dec_spec(rd *r, ep_instance_spec *s)
{
    int64_t ndev = 0;
    TRY(rd_array(r, "fields", NF_SPEC, NULL));
    TRY(rd_i(r, "service", 0, INT32_MAX, &s->service));
    int mode;
    TRY(rd_i(r, "mode", EP_MODE_SINGLE, EP_MODE_PP, &mode));
    s->mode = (ep_mode)mode;
    TRY(rd_array(r, "devs", -1, &ndev));
    if (ndev < 1 || ndev > EP_MAX_STAGE_DEVS)
        return fail(r, "devs", "%" PRId64 " devices, %s %d", ndev,
                    ndev < 1 ? "at least" : "at most", ndev < 1 ? 1 : EP_MAX_STAGE_DEVS);
    s->ndev = (int)ndev;
    for (int i = 0; i < s->ndev; i++)
        TRY(rd_i(r, "devs", 0, INT32_MAX, &s->devs[i]));
    TRY(rd_i(r, "max_batch", 0, INT32_MAX, &s->max_batch));
    int order;
    TRY(rd_i(r, "order", EP_QUEUE_FIFO, EP_QUEUE_EDF, &order));
    s->order = (ep_queue_order)order;
    return 0;
}

static int
dec_count(rd *r, const char *field, int *n)
{
    int64_t k;
    TRY(rd_array(r, field, -1, &k));
    if (k > EP_MSG_MAX_INSTANCES)
        return fail(r, field, "%" PRId64 " instances, at most %d", k, EP_MSG_MAX_INSTANCES);
    *n = (int)k;
    return 0;
}

static int
dec_placement(rd *r, ep_wire_placement *pl)
{
    r->ctx = "placement";
    TRY(rd_array(r, "fields", NF_PLACEMENT, NULL));
    TRY(rd_int(r, "epoch", 0, INT64_MAX, &pl->epoch));
    int n = 0;
    TRY(dec_count(r, "inst", &n));
    if (n) {
        pl->inst = calloc((size_t)n, sizeof *pl->inst);
        if (!pl->inst)
            return EP_ENOMEM;
    }
    pl->n = n;
    for (int i = 0; i < n; i++) {
        r->idx = i;
        TRY(dec_spec(r, &pl->inst[i]));
    }
    return 0;
}

static int
dec_state(rd *r, ep_msg_state *st)
{
    r->ctx = "state";
    TRY(rd_array(r, "fields", NF_STATE, NULL));
    TRY(rd_i(r, "node", 0, INT32_MAX, &st->node));
    TRY(rd_int(r, "time", 0, INT64_MAX, &st->time));
    int n = 0;
    TRY(dec_count(r, "inst", &n));
    if (n) {
        st->inst = calloc((size_t)n, sizeof *st->inst);
        if (!st->inst)
            return EP_ENOMEM;
    }
    st->n = n;
    for (int i = 0; i < n; i++) {
        ep_msg_inst_state *v = &st->inst[i];
        r->idx = i;
        TRY(rd_array(r, "fields", NF_INST, NULL));
        TRY(rd_i(r, "id", 0, INT32_MAX, &v->id));
        TRY(rd_i(r, "queued", 0, INT32_MAX, &v->queued));
        TRY(rd_i(r, "running", 0, INT32_MAX, &v->running));
        TRY(rd_int(r, "backlog", 0, INT64_MAX, &v->backlog));
        TRY(rd_int(r, "kv_free", -1, INT64_MAX, &v->kv_free));
        TRY(rd_i(r, "ready", 0, 1, &v->ready));
    }
    r->idx = -1;
    int64_t k;
    TRY(rd_array(r, "demand", -1, &k));
    if (k > EP_MSG_MAX_SERVICES)
        return fail(r, "demand", "%" PRId64 " services, at most %d", k, EP_MSG_MAX_SERVICES);
    if (k) {
        st->demand = calloc((size_t)k, sizeof *st->demand);
        if (!st->demand)
            return EP_ENOMEM;
    }
    st->nsvc = (int)k;
    for (int i = 0; i < st->nsvc; i++) {
        ep_msg_demand *d = &st->demand[i];
        r->idx = i;
        TRY(rd_array(r, "demand", 3, NULL));
        TRY(rd_int(r, "arrivals", 0, INT64_MAX, &d->arrivals));
        TRY(rd_int(r, "sum_in", 0, INT64_MAX, &d->sum_in));
        TRY(rd_int(r, "sum_out", 0, INT64_MAX, &d->sum_out));
    }
    return 0;
}

static int
dec_request(rd *r, ep_msg_request *q)
{
    TRY(rd_array(r, "fields", NF_REQUEST, NULL));
    TRY(rd_u64(r, "id", &q->id));
    TRY(rd_i(r, "service", 0, INT32_MAX, &q->service));
    TRY(rd_i(r, "ingress", 0, INT32_MAX, &q->ingress));
    TRY(rd_i(r, "hops", 0, INT32_MAX, &q->hops));
    TRY(rd_int(r, "arrival", 0, INT64_MAX, &q->arrival));
    TRY(rd_int(r, "deadline", 0, INT64_MAX, &q->deadline));
    TRY(rd_int(r, "input", 0, INT64_MAX, &q->input));
    TRY(rd_int(r, "output", 0, INT64_MAX, &q->output));
    TRY(rd_int(r, "bytes", 0, INT64_MAX, &q->bytes));
    TRY(rd_int(r, "stream", -1, INT64_MAX, &q->stream));
    TRY(rd_int(r, "frame", -1, INT64_MAX, &q->frame));
    TRY(rd_int(r, "trace_exec", -1, INT64_MAX, &q->trace_exec));
    return rd_blob(r, "payload", EP_MSG_PAYLOAD_MAX, &q->payload, &q->payload_len);
}

static int
dec_result(rd *r, ep_msg_result *q)
{
    r->ctx = "result";
    TRY(rd_array(r, "fields", NF_RESULT, NULL));
    TRY(rd_u64(r, "id", &q->id));
    TRY(rd_i(r, "outcome", 0, 3, &q->outcome));
    TRY(rd_str(r, "reason", q->reason, EP_MSG_REASON_MAX, 1));
    TRY(rd_int(r, "dispatch", EP_MSG_NEVER, INT64_MAX, &q->dispatch));
    TRY(rd_int(r, "first_token", EP_MSG_NEVER, INT64_MAX, &q->first_token));
    TRY(rd_int(r, "done", EP_MSG_NEVER, INT64_MAX, &q->done));
    TRY(rd_i(r, "instance", -1, INT32_MAX, &q->instance));
    TRY(rd_i(r, "node", -1, INT32_MAX, &q->node));
    TRY(rd_i(r, "batch", 0, INT32_MAX, &q->batch));
    TRY(rd_i(r, "preemptions", 0, INT32_MAX, &q->preemptions));
    TRY(rd_i(r, "hops", 0, INT32_MAX, &q->hops));
    return rd_blob(r, "output", EP_MSG_PAYLOAD_MAX, &q->output, &q->output_len);
}

static int
dec_forward(rd *r, ep_msg_forward *f)
{
    r->ctx = "forward";
    TRY(rd_array(r, "fields", NF_FORWARD, NULL));
    r->ctx = "forward.request";
    TRY(dec_request(r, &f->req));
    r->ctx = "forward";
    int kind;
    TRY(rd_i(r, "kind", EP_MSG_TO_INSTANCE, EP_MSG_TO_NODE, &kind));
    f->kind = (ep_msg_target)kind;
    TRY(rd_i(r, "target", 0, INT32_MAX, &f->target));
    return rd_int(r, "deliver_at", -1, INT64_MAX, &f->deliver_at);
}

static int
dec_bye(rd *r, ep_wire_bye *b)
{
    r->ctx = "bye";
    TRY(rd_array(r, "fields", NF_BYE, NULL));
    TRY(rd_i(r, "node", -1, INT32_MAX, &b->node));
    return rd_i(r, "reason", 0, 65535, &b->reason);
}

/* A trace time of a TIME message: |t| < EP_WIRE_TIME_MAX, or EP_WIRE_NO_TIME where allowed. */
static int
rd_time(rd *r, const char *what, int none_ok, int64_t *t)
{
    if (none_ok && r->p < r->end && *r->p == 0xc0) { /* nil: no time */
        r->p++;
        *t = EP_WIRE_NO_TIME;
        return 0;
    }
    return rd_int(r, what, -EP_WIRE_TIME_MAX + 1, EP_WIRE_TIME_MAX - 1, t);
}

static int
dec_time(rd *r, ep_wire_time *t)
{
    r->ctx = "time";
    TRY(rd_array(r, "fields", NF_TIME, NULL));
    TRY(rd_i(r, "node", -1, INT32_MAX, &t->node));
    TRY(rd_time(r, "t1", 0, &t->t1));
    TRY(rd_time(r, "t2", 1, &t->t2));
    TRY(rd_time(r, "t3", 1, &t->t3));
    if ((t->t2 == EP_WIRE_NO_TIME) != (t->t3 == EP_WIRE_NO_TIME))
        return fail(r, "t3", "given without t2, or t2 without t3");
    TRY(rd_time(r, "offset", 0, &t->offset));
    return rd_int(r, "err", -1, EP_WIRE_TIME_MAX - 1, &t->err);
}

static int
dec_payload(rd *r, ep_wire_msg *m)
{
    switch (m->type) {
    case EP_WIRE_HELLO:
        return dec_hello(r, &m->u.hello);
    case EP_WIRE_PLACEMENT:
        return dec_placement(r, &m->u.placement);
    case EP_WIRE_STATE:
        return dec_state(r, &m->u.state);
    case EP_WIRE_REQUEST:
        r->ctx = "request";
        return dec_request(r, &m->u.request);
    case EP_WIRE_RESULT:
        return dec_result(r, &m->u.result);
    case EP_WIRE_FORWARD:
        return dec_forward(r, &m->u.forward);
    case EP_WIRE_BYE:
        return dec_bye(r, &m->u.bye);
    case EP_WIRE_TIME:
        return dec_time(r, &m->u.time);
    }
    return EP_EPARSE; /* not reached: the caller checked the type */
}

EP_PRINTF(3, 4)
static int
frame_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return EP_EPARSE;
}

int
ep_wire_decode(const uint8_t *buf, size_t len, const uint8_t *key, size_t keylen, ep_wire_msg *out,
               char *err, size_t errlen)
{
    return ep_wire_decode_env(buf, len, key, keylen, out, NULL, err, errlen);
}

/* Clears the payload pointers of a message decoded with borrowed payloads (they point into
 * its frame), so that ep_wire_msg_free leaves them alone. */
static void
forget_blobs(ep_wire_msg *m)
{
    if (m->type == EP_WIRE_REQUEST || m->type == EP_WIRE_FORWARD) {
        ep_msg_request *q = m->type == EP_WIRE_REQUEST ? &m->u.request : &m->u.forward.req;
        q->payload = NULL;
        q->payload_len = 0;
    } else if (m->type == EP_WIRE_RESULT) {
        m->u.result.output = NULL;
        m->u.result.output_len = 0;
    }
}

size_t
ep_wire_frame_len(const uint8_t *buf, size_t len)
{
    if (!buf || len < EP_WIRE_HEADER_BYTES || memcmp(buf, EP_WIRE_MAGIC, 4) != 0 ||
        get_be(buf + 4, 2) != EP_WIRE_VERSION)
        return 0;
    uint64_t plen = get_be(buf + 8, 4);
    if (plen > EP_WIRE_MAX_PAYLOAD)
        return 0;
    size_t want = EP_WIRE_HEADER_BYTES + (size_t)plen + EP_WIRE_TAG_BYTES;
    return want <= len ? want : 0;
}

static int
decode_frame(const uint8_t *buf, size_t len, const uint8_t *key, size_t keylen, ep_wire_msg *out,
             ep_wire_env *env, char *err, size_t errlen, int borrow)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out || (!buf && len))
        return EP_EINVAL;
    if (len < EP_WIRE_HEADER_BYTES)
        return frame_fail(err, errlen, "frame: %zu bytes, header needs %d", len,
                          EP_WIRE_HEADER_BYTES);
    if (memcmp(buf, EP_WIRE_MAGIC, 4) != 0)
        return frame_fail(err, errlen, "frame.magic: not \"%s\"", EP_WIRE_MAGIC);
    uint64_t version = get_be(buf + 4, 2);
    if (version != EP_WIRE_VERSION)
        return frame_fail(err, errlen, "frame.version: %" PRIu64 ", expected %d", version,
                          EP_WIRE_VERSION);
    unsigned type = (unsigned)get_be(buf + 6, 2);
    uint64_t plen = get_be(buf + 8, 4);
    if (plen > EP_WIRE_MAX_PAYLOAD)
        return frame_fail(err, errlen, "frame.length: %" PRIu64 " bytes, at most %u", plen,
                          EP_WIRE_MAX_PAYLOAD);
    size_t want = EP_WIRE_HEADER_BYTES + (size_t)plen + EP_WIRE_TAG_BYTES;
    if (len < want)
        return frame_fail(err, errlen, "frame.length: %zu bytes, header says %zu", len, want);
    if (len > want)
        return frame_fail(err, errlen, "frame: %zu trailing bytes", len - want);

    uint8_t tag[EP_WIRE_TAG_BYTES];
    if (!key || keylen < EP_WIRE_MIN_KEY_BYTES) {
        if (err && errlen)
            snprintf(err, errlen, "authentication failed");
        return EP_EINVAL;
    }
    tag_compute(buf, EP_WIRE_HEADER_BYTES + (size_t)plen, key, keylen, tag);
    if (sodium_memcmp(tag, buf + EP_WIRE_HEADER_BYTES + plen, EP_WIRE_TAG_BYTES) != 0) {
        if (err && errlen)
            snprintf(err, errlen, "authentication failed");
        return EP_EINVAL;
    }
    if (type < EP_WIRE_HELLO || type > EP_WIRE_TIME)
        return frame_fail(err, errlen, "frame.type: unknown message type %u", type);

    ep_wire_msg m;
    memset(&m, 0, sizeof m);
    m.type = (ep_wire_type)type;
    rd r = {buf + EP_WIRE_HEADER_BYTES,
            buf + EP_WIRE_HEADER_BYTES + plen,
            err,
            errlen,
            "",
            -1,
            borrow};
    int rc = dec_payload(&r, &m);
    if (!rc && r.p != r.end)
        rc = frame_fail(err, errlen, "%s: %td trailing payload bytes", ep_wire_type_name(type),
                        r.end - r.p);
    if (rc) {
        if (rc == EP_ENOMEM && err && errlen)
            snprintf(err, errlen, "%s", ep_strerror(rc));
        if (borrow)
            forget_blobs(&m);
        ep_wire_msg_free(&m);
        return rc;
    }
    *out = m;
    if (env) {
        env->sender = (uint32_t)get_be(buf + 12, 4);
        env->session = get_be(buf + 16, 8);
        env->seq = get_be(buf + 24, 8);
    }
    return 0;
}

int
ep_wire_decode_env(const uint8_t *buf, size_t len, const uint8_t *key, size_t keylen,
                   ep_wire_msg *out, ep_wire_env *env, char *err, size_t errlen)
{
    return decode_frame(buf, len, key, keylen, out, env, err, errlen, 0);
}

/* ---- encoder ---- */

static int
pk_i(msgpack_packer *pk, int64_t v)
{
    return msgpack_pack_int64(pk, v);
}

/* A TIME message's time: |t| < EP_WIRE_TIME_MAX, or EP_WIRE_NO_TIME where none_ok. */
static int
time_ok(int64_t t, int none_ok)
{
    return (none_ok && t == EP_WIRE_NO_TIME) || (t > -EP_WIRE_TIME_MAX && t < EP_WIRE_TIME_MAX);
}

/* nil for none, else the bytes as a binary (their bounds checked by the caller). */
static int
pk_blob(msgpack_packer *pk, const uint8_t *p, int64_t n)
{
    if (n <= 0)
        return msgpack_pack_nil(pk);
    return msgpack_pack_bin(pk, (size_t)n) | msgpack_pack_bin_body(pk, p, (size_t)n);
}

static int
blob_ok(const uint8_t *p, int64_t n)
{
    return n >= 0 && n <= EP_MSG_PAYLOAD_MAX && (n == 0 || p);
}

static int
enc_request(msgpack_packer *pk, const ep_msg_request *q)
{
    if (!blob_ok(q->payload, q->payload_len))
        return EP_EINVAL;
    int bad = msgpack_pack_array(pk, NF_REQUEST);
    bad |= msgpack_pack_uint64(pk, q->id);
    bad |= pk_i(pk, q->service) | pk_i(pk, q->ingress) | pk_i(pk, q->hops);
    bad |= pk_i(pk, q->arrival) | pk_i(pk, q->deadline);
    bad |= pk_i(pk, q->input) | pk_i(pk, q->output) | pk_i(pk, q->bytes);
    bad |= pk_i(pk, q->stream) | pk_i(pk, q->frame) | pk_i(pk, q->trace_exec);
    return bad | pk_blob(pk, q->payload, q->payload_len);
}

static int
enc_payload(msgpack_packer *pk, const ep_wire_msg *m)
{
    int bad = 0;
    switch (m->type) {
    case EP_WIRE_HELLO: {
        const ep_wire_hello *h = &m->u.hello;
        size_t n = strnlen(h->name, sizeof h->name);
        if (n == sizeof h->name)
            return EP_EINVAL;
        bad |= msgpack_pack_array(pk, NF_HELLO);
        bad |= msgpack_pack_str(pk, n) | msgpack_pack_str_body(pk, h->name, n);
        bad |= pk_i(pk, h->node) | pk_i(pk, h->protocol);
        bad |= msgpack_pack_bin(pk, EP_WIRE_TAG_BYTES) |
               msgpack_pack_bin_body(pk, h->auth, EP_WIRE_TAG_BYTES);
        break;
    }
    case EP_WIRE_PLACEMENT: {
        const ep_wire_placement *pl = &m->u.placement;
        if (pl->n < 0 || pl->n > EP_MSG_MAX_INSTANCES || (pl->n && !pl->inst))
            return EP_EINVAL;
        bad |= msgpack_pack_array(pk, NF_PLACEMENT) | pk_i(pk, pl->epoch);
        bad |= msgpack_pack_array(pk, (size_t)pl->n);
        for (int i = 0; i < pl->n; i++) {
            const ep_instance_spec *s = &pl->inst[i];
            if (s->ndev < 0 || s->ndev > EP_MAX_STAGE_DEVS)
                return EP_EINVAL;
            bad |= msgpack_pack_array(pk, NF_SPEC) | pk_i(pk, s->service) | pk_i(pk, s->mode);
            bad |= msgpack_pack_array(pk, (size_t)s->ndev);
            for (int d = 0; d < s->ndev; d++)
                bad |= pk_i(pk, s->devs[d]);
            bad |= pk_i(pk, s->max_batch) | pk_i(pk, s->order);
        }
        break;
    }
    case EP_WIRE_STATE: {
        const ep_msg_state *st = &m->u.state;
        if (st->n < 0 || st->n > EP_MSG_MAX_INSTANCES || (st->n && !st->inst))
            return EP_EINVAL;
        bad |= msgpack_pack_array(pk, NF_STATE) | pk_i(pk, st->node) | pk_i(pk, st->time);
        bad |= msgpack_pack_array(pk, (size_t)st->n);
        for (int i = 0; i < st->n; i++) {
            const ep_msg_inst_state *v = &st->inst[i];
            bad |= msgpack_pack_array(pk, NF_INST) | pk_i(pk, v->id) | pk_i(pk, v->queued);
            bad |= pk_i(pk, v->running) | pk_i(pk, v->backlog) | pk_i(pk, v->kv_free);
            bad |= pk_i(pk, v->ready);
        }
        if (st->nsvc < 0 || st->nsvc > EP_MSG_MAX_SERVICES || (st->nsvc && !st->demand))
            return EP_EINVAL;
        bad |= msgpack_pack_array(pk, (size_t)st->nsvc);
        for (int i = 0; i < st->nsvc; i++) {
            const ep_msg_demand *d = &st->demand[i];
            bad |= msgpack_pack_array(pk, 3) | pk_i(pk, d->arrivals) | pk_i(pk, d->sum_in);
            bad |= pk_i(pk, d->sum_out);
        }
        break;
    }
    case EP_WIRE_REQUEST:
        if (!blob_ok(m->u.request.payload, m->u.request.payload_len))
            return EP_EINVAL;
        bad |= enc_request(pk, &m->u.request);
        break;
    case EP_WIRE_RESULT: {
        const ep_msg_result *q = &m->u.result;
        if (!blob_ok(q->output, q->output_len))
            return EP_EINVAL;
        bad |= msgpack_pack_array(pk, NF_RESULT) | msgpack_pack_uint64(pk, q->id);
        size_t rn = strnlen(q->reason, sizeof q->reason);
        if (rn == sizeof q->reason)
            return EP_EINVAL;
        bad |= pk_i(pk, q->outcome) | msgpack_pack_str(pk, rn) |
               msgpack_pack_str_body(pk, q->reason, rn);
        bad |= pk_i(pk, q->dispatch) | pk_i(pk, q->first_token) | pk_i(pk, q->done);
        bad |= pk_i(pk, q->instance) | pk_i(pk, q->node);
        bad |= pk_i(pk, q->batch) | pk_i(pk, q->preemptions) | pk_i(pk, q->hops);
        bad |= pk_blob(pk, q->output, q->output_len);
        break;
    }
    case EP_WIRE_FORWARD: {
        const ep_msg_forward *f = &m->u.forward;
        if (!blob_ok(f->req.payload, f->req.payload_len))
            return EP_EINVAL;
        bad |= msgpack_pack_array(pk, NF_FORWARD) | enc_request(pk, &f->req);
        bad |= pk_i(pk, f->kind) | pk_i(pk, f->target) | pk_i(pk, f->deliver_at);
        break;
    }
    case EP_WIRE_BYE:
        bad |= msgpack_pack_array(pk, NF_BYE) | pk_i(pk, m->u.bye.node);
        bad |= pk_i(pk, m->u.bye.reason);
        break;
    case EP_WIRE_TIME: {
        const ep_wire_time *t = &m->u.time;
        if (!time_ok(t->t1, 0) || !time_ok(t->t2, 1) || !time_ok(t->t3, 1) ||
            (t->t2 == EP_WIRE_NO_TIME) != (t->t3 == EP_WIRE_NO_TIME) || !time_ok(t->offset, 0) ||
            t->err < -1 || t->err >= EP_WIRE_TIME_MAX || t->node < -1)
            return EP_EINVAL;
        bad |= msgpack_pack_array(pk, NF_TIME) | pk_i(pk, t->node) | pk_i(pk, t->t1);
        bad |= t->t2 == EP_WIRE_NO_TIME ? msgpack_pack_nil(pk) | msgpack_pack_nil(pk)
                                        : pk_i(pk, t->t2) | pk_i(pk, t->t3);
        bad |= pk_i(pk, t->offset) | pk_i(pk, t->err);
        break;
    }
    default:
        return EP_EINVAL;
    }
    return bad ? EP_ENOMEM : 0;
}

int
ep_wire_encode(const ep_wire_msg *m, const uint8_t *key, size_t keylen, uint8_t **out, size_t *len)
{
    return ep_wire_encode_env(m, &anon, key, keylen, out, len);
}

int
ep_wire_encode_env(const ep_wire_msg *m, const ep_wire_env *env, const uint8_t *key, size_t keylen,
                   uint8_t **out, size_t *len)
{
    if (!m || !env || !key || keylen < EP_WIRE_MIN_KEY_BYTES || !out || !len)
        return EP_EINVAL;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint8_t *f = NULL;
    size_t n = 0;
    int rc = enc_payload(&pk, m);
    if (rc)
        goto fail;
    rc = seal((unsigned)m->type, env, (const uint8_t *)sb.data, sb.size, key, keylen, &f, &n);
    if (rc)
        goto fail;
    /* Validate by decoding: a message that breaks a limit is refused here, not by the peer. */
    ep_wire_msg check;
    rc = decode_frame(f, n, key, keylen, &check, NULL, NULL, 0, 1);
    if (rc) {
        rc = rc == EP_ENOMEM ? EP_ENOMEM : EP_EINVAL;
        goto fail;
    }
    forget_blobs(&check);
    ep_wire_msg_free(&check);
    msgpack_sbuffer_destroy(&sb);
    *out = f;
    *len = n;
    return 0;
fail:
    free(f);
    msgpack_sbuffer_destroy(&sb);
    return rc;
}

void
ep_wire_msg_free(ep_wire_msg *m)
{
    if (!m)
        return;
    if (m->type == EP_WIRE_REQUEST || m->type == EP_WIRE_FORWARD) {
        ep_msg_request *q = m->type == EP_WIRE_REQUEST ? &m->u.request : &m->u.forward.req;
        free(q->payload);
        q->payload = NULL;
        q->payload_len = 0;
    } else if (m->type == EP_WIRE_RESULT) {
        free(m->u.result.output);
        m->u.result.output = NULL;
        m->u.result.output_len = 0;
    } else if (m->type == EP_WIRE_PLACEMENT) {
        free(m->u.placement.inst);
        m->u.placement.inst = NULL;
        m->u.placement.n = 0;
    } else if (m->type == EP_WIRE_STATE) {
        free(m->u.state.inst);
        m->u.state.inst = NULL;
        m->u.state.n = 0;
        free(m->u.state.demand);
        m->u.state.demand = NULL;
        m->u.state.nsvc = 0;
    }
}

/* ---- equality ---- */

static int
blob_equal(const uint8_t *a, int64_t na, const uint8_t *b, int64_t nb)
{
    return na == nb && (na <= 0 || memcmp(a, b, (size_t)na) == 0);
}

static int
request_equal(const ep_msg_request *a, const ep_msg_request *b)
{
    return a->id == b->id && a->service == b->service && a->ingress == b->ingress &&
           a->hops == b->hops && a->arrival == b->arrival && a->deadline == b->deadline &&
           a->input == b->input && a->output == b->output && a->bytes == b->bytes &&
           a->stream == b->stream && a->frame == b->frame && a->trace_exec == b->trace_exec &&
           blob_equal(a->payload, a->payload_len, b->payload, b->payload_len);
}

static int
spec_equal(const ep_instance_spec *a, const ep_instance_spec *b)
{
    if (a->service != b->service || a->mode != b->mode || a->ndev != b->ndev ||
        a->max_batch != b->max_batch || a->order != b->order)
        return 0;
    for (int d = 0; d < a->ndev && d < EP_MAX_STAGE_DEVS; d++)
        if (a->devs[d] != b->devs[d])
            return 0;
    return 1;
}

int
ep_wire_msg_equal(const ep_wire_msg *a, const ep_wire_msg *b)
{
    if (a->type != b->type)
        return 0;
    switch (a->type) {
    case EP_WIRE_HELLO:
        return strncmp(a->u.hello.name, b->u.hello.name, sizeof a->u.hello.name) == 0 &&
               a->u.hello.node == b->u.hello.node && a->u.hello.protocol == b->u.hello.protocol &&
               memcmp(a->u.hello.auth, b->u.hello.auth, EP_WIRE_TAG_BYTES) == 0;
    case EP_WIRE_PLACEMENT: {
        const ep_wire_placement *x = &a->u.placement, *y = &b->u.placement;
        if (x->epoch != y->epoch || x->n != y->n)
            return 0;
        for (int i = 0; i < x->n; i++)
            if (!spec_equal(&x->inst[i], &y->inst[i]))
                return 0;
        return 1;
    }
    case EP_WIRE_STATE: {
        const ep_msg_state *x = &a->u.state, *y = &b->u.state;
        if (x->node != y->node || x->time != y->time || x->n != y->n || x->nsvc != y->nsvc)
            return 0;
        for (int i = 0; i < x->nsvc; i++)
            if (x->demand[i].arrivals != y->demand[i].arrivals ||
                x->demand[i].sum_in != y->demand[i].sum_in ||
                x->demand[i].sum_out != y->demand[i].sum_out)
                return 0;
        for (int i = 0; i < x->n; i++) {
            const ep_msg_inst_state *p = &x->inst[i], *q = &y->inst[i];
            if (p->id != q->id || p->queued != q->queued || p->running != q->running ||
                p->backlog != q->backlog || p->kv_free != q->kv_free || p->ready != q->ready)
                return 0;
        }
        return 1;
    }
    case EP_WIRE_REQUEST:
        return request_equal(&a->u.request, &b->u.request);
    case EP_WIRE_RESULT: {
        const ep_msg_result *x = &a->u.result, *y = &b->u.result;
        return x->id == y->id && x->outcome == y->outcome &&
               strncmp(x->reason, y->reason, sizeof x->reason) == 0 && x->hops == y->hops &&
               x->dispatch == y->dispatch && x->first_token == y->first_token &&
               x->done == y->done && x->instance == y->instance && x->node == y->node &&
               x->batch == y->batch && x->preemptions == y->preemptions &&
               blob_equal(x->output, x->output_len, y->output, y->output_len);
    }
    case EP_WIRE_FORWARD:
        return request_equal(&a->u.forward.req, &b->u.forward.req) &&
               a->u.forward.kind == b->u.forward.kind &&
               a->u.forward.target == b->u.forward.target &&
               a->u.forward.deliver_at == b->u.forward.deliver_at;
    case EP_WIRE_BYE:
        return a->u.bye.node == b->u.bye.node && a->u.bye.reason == b->u.bye.reason;
    case EP_WIRE_TIME:
        return a->u.time.node == b->u.time.node && a->u.time.t1 == b->u.time.t1 &&
               a->u.time.t2 == b->u.time.t2 && a->u.time.t3 == b->u.time.t3 &&
               a->u.time.offset == b->u.time.offset && a->u.time.err == b->u.time.err;
    }
    return 0;
}
