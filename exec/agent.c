/* One executor process (include/epara/exec/exec.h): a loop that keeps an ep_live host in step
 * with the wall clock and feeds it the messages that arrive. Sockets: one nng pull socket
 * listening on this process's address, one push socket dialing each peer it sends to
 * (nng reconnects by itself; sends never block: a refused send is counted and handled).
 * Frames that fail authentication or validation are dropped and counted. */
#include "epara/exec/deploy.h"
#include "epara/exec/exec.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

#if defined(__SANITIZE_ADDRESS__)
#define EP_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EP_LSAN 1
#endif
#endif
#ifdef EP_LSAN
#include <sanitizer/lsan_interface.h>
#endif

#include "epara/core/error.h"
#include "epara/core/heap.h"

#define MS EP_NS_PER_MS
/* Wall ns between looks at the clock and the flags: how late a signal is noticed. */
#define MAX_WAIT    (50 * MS)
#define HELLO_EVERY (200 * MS) /* wall ns between a node's HELLOs until it is placed */
/* Clock offsets: a node asks the controller (the loadgen a node) every CLOCK_ASK_FAST until
 * it holds CLOCK_SAMPLES samples and an uncertainty within CLOCK_GOOD (for at most
 * CLOCK_FAST_MAX questions: a slow network, or no answer), then every CLOCK_ASK; the estimate is
 * the offset of the sample with the shortest round trip among the last CLOCK_SAMPLES (NTP's clock
 * filter). The first samples, taken while the connections open, have the longest round trips. */
#define CLOCK_ASK_FAST (50 * MS)
#define CLOCK_ASK      (1000 * MS)
#define CLOCK_SAMPLES  8
#define CLOCK_GOOD     (1 * MS) /* trace ns */
#define CLOCK_FAST_MAX 40
/* Liveness (exec/README.md, Faults): a node silent for QUIET_SYNCS sync periods, and at
 * least QUIET_MIN, is down; one never heard from counts as up for FIRST_HEARD_WITHIN after
 * the epoch, while the processes start and connect. */
#define QUIET_SYNCS        3
#define QUIET_MIN          (1500 * MS)
#define FIRST_HEARD_WITHIN (5000 * MS)
#define OVH_MIN_S          1e-7 /* overhead histogram: 0.1 us .. 1000 s, 0.6% wide bins */
#define OVH_PER_DECADE     400
#define OVH_BINS           (10 * OVH_PER_DECADE + 2)
/* Dialers retry a lost peer after 20 ms, backing off to at most 500 ms: a restarted peer is
 * found within a sync period (500 ms in the scenarios) without busy redialing. */
#define RECONNECT_MIN_MS 20
#define RECONNECT_MAX_MS 500
#define SENT_CAP0        4096        /* loadgen: first size of the send-time window (ids) */
#define EINST_GROW       16          /* node: engine instance slots added at a time */
#define CLOSE_WAIT       (2000 * MS) /* at most this long for the sockets to close */
#define CLOSE_TICK       (10 * MS)
#define SLO_SPAN_MIN     (60 * EP_NS_PER_S) /* the smallest result timeout (slo_span) */
#define VERBOSE_DROPS    10 /* --verbose: messages logged for the first dropped frames */
#define DRAIN_MAX        64 /* messages handled in one loop turn at most */
/* Trace and wall times as doubles are clamped short of int64's range (9.22e18). */
#define TIME_CLAMP 9e18

typedef struct agent {
    const ep_exec_opts *o;
    const ep_scenario *sc;
    ep_live *live;
    ep_exec_stats *st;
    nng_socket in;
    nng_socket *out; /* per node (controller, loadgen, nodes' peers); id 0: not open */
    nng_socket ctl, lg;
    int nnodes;
    int64_t epoch; /* CLOCK_MONOTONIC ns of trace time 0 on this process's own clock */
    double scale;
    /* Clock offset estimation (exec/README.md, "Clocks"): corr is added to this process's
     * own trace clock (the controller's is its own; -1 err: no estimate yet), from the
     * samples of its questions (offset, round trip); the loadgen asks node ask_to next. */
    int64_t corr, corr_err;
    struct clock_sample {
        int64_t offset, delay;
    } samples[CLOCK_SAMPLES];
    int nsamples, nasked, ask_to;
    int64_t next_ask;
    int64_t *heard; /* wall ns of the last message from each node (0: never) */
    int *up;        /* what this process last told its host about each node */
    int placed;     /* node: a placement arrived */
    int64_t next_hello;
    /* controller: the latest placement, re-sent to nodes that say HELLO */
    ep_wire_msg last_place;
    int have_place;
    /* loadgen: by request id, how late it was sent (wall ns after its arrival time;
     * INT64_MIN: no pending request), and the overheads measured */
    int64_t *sent_at;
    int64_t sent_cap;
    uint64_t sent_base;
    /* dispatch overheads: a log-spaced histogram (OVH_PER_DECADE bins per decade from
     * OVH_MIN_S), so memory does not grow with the run */
    int64_t ovh[OVH_BINS];
    int64_t novh;
    /* the envelope of what this process sends, and what it has seen of each sender
     * (nodes, then the controller, then the loadgen) */
    uint32_t self_id;
    uint64_t session, seq;
    ep_wire_replay *replay;
    /* node with a real engine: its instances by host instance id, with the request held
     * in each LLM sequence slot (UINT64_MAX: free) */
    ep_engine *eng;
    struct eng_inst {
        ep_engine_inst *ei;
        uint64_t *slot_req;
        int nslots, next_evict;
    } * einst;
    int neinst;
    ep_engine_work *work;
    int work_cap;
    uint8_t *masks; /* node, payload mode: a DNN batch's masks, inputs and outputs */
    int64_t mask_cap;
    const uint8_t **io_in;
    int64_t *io_len;
    uint8_t **io_mask;
    int io_cap;
    /* Frames to one peer within a loop turn, sent as one transport message when the turn
     * ends (flush_all) or the message would pass EP_EXEC_BATCH_BYTES: nng's cost is per
     * message (docs/RESULTS.md, "epara bench exec"). By socket id, box[0..nbox). */
    struct outbox {
        nng_socket s;
        nng_msg *m;
        int frames;
    } * box;
    int nbox;
    /* node: RESULTs held until the response reaches the client over the emulated link */
    ep_heap held;
    uint64_t held_seq;
    int stopping; /* tearing down: records go out at once */
    int failed;
    char *err;
    size_t errlen;
} agent;

int64_t
ep_exec_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * EP_NS_PER_S + ts.tv_nsec;
}

void
ep_exec_addr(const ep_exec_opts *o, ep_live_role role, int node, char *buf, size_t len)
{
    if (o->deploy) {
        snprintf(buf, len, "%s", ep_deploy_url(o->deploy, role, node));
        return;
    }
    int port = o->base_port > 0 ? o->base_port : EP_EXEC_DEFAULT_PORT;
    port += role == EP_LIVE_CONTROLLER ? 0 : role == EP_LIVE_LOADGEN ? 1 : 2 + node;
    unsigned b[4];
    if (role == EP_LIVE_NODE && o->node_ip &&
        sscanf(o->node_ip, "%u.%u.%u.%u", &b[0], &b[1], &b[2], &b[3]) == 4) {
        uint32_t ip = (b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]) + (uint32_t)node;
        snprintf(buf, len, "tcp://%u.%u.%u.%u:%d", ip >> 24, (ip >> 16) & 255, (ip >> 8) & 255,
                 ip & 255, port);
        return;
    }
    snprintf(buf, len, "tcp://%s:%d", o->host ? o->host : "127.0.0.1", port);
}

/* The loop's clock: CLOCK_MONOTONIC (the epoch, given on the wall clock, is converted once
 * at start), so the hosts' time never jumps with the wall clock. */
static int64_t
mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * EP_NS_PER_S + ts.tv_nsec;
}

/* This process's own trace clock at monotonic wall ns `wall` (no correction). */
static ep_time
own_trace_at(const agent *a, int64_t wall)
{
    double t = (double)(wall - a->epoch) * a->scale;
    return t < -TIME_CLAMP ? INT64_MIN / 2 : t > TIME_CLAMP ? INT64_MAX / 2 : (ep_time)t;
}

/* The trace time at `wall`: this process's own clock plus its estimated offset, i.e. the
 * controller's clock as well as it is known. */
static ep_time
trace_at(const agent *a, int64_t wall)
{
    return own_trace_at(a, wall) + a->corr;
}

static int64_t
wall_at(const agent *a, ep_time t)
{
    double w = (double)(t - a->corr) / a->scale;
    return w > TIME_CLAMP ? INT64_MAX / 2 : a->epoch + (int64_t)w;
}

static int
fail(agent *a, int code, const char *what, const char *addr, int nrv)
{
    if (a->err && a->errlen)
        snprintf(a->err, a->errlen, "%s %s: %s", what, addr, nng_strerror(nrv));
    return code;
}

/* --- sending -------------------------------------------------------------------------- */

/* Encodes m with this process's envelope (sender, session, next sequence number). */
static int
encode(agent *a, const ep_wire_msg *m, uint8_t **f, size_t *n)
{
    ep_wire_env env = {a->self_id, a->session, ++a->seq};
    return ep_wire_encode_env(m, &env, a->o->key, a->o->keylen, f, n);
}

/* Sends what b holds (its frames one after another, ep_wire_frame_len) as one message. */
static void
flush_box(agent *a, struct outbox *b)
{
    if (!b->m)
        return;
#ifdef EP_LSAN
    /* What goes out as the process stops (its last state, BYE) can stay in nng's queue for a
     * peer that has gone: close_sockets then leaves the closing to the exit, and with it the
     * message, which the leak check must not count as ours. */
    if (a->stopping)
        __lsan_ignore_object(b->m);
#endif
    if (nng_sendmsg(b->s, b->m, NNG_FLAG_NONBLOCK) == 0) {
        a->st->msgs_out += b->frames;
    } else {
        nng_msg_free(b->m);
        a->st->send_failed += b->frames;
    }
    b->m = NULL;
    b->frames = 0;
}

static void
flush_all(agent *a)
{
    for (int i = 0; i < a->nbox; i++)
        flush_box(a, &a->box[i]);
}

/* Queues frame f for socket s (one of those open_boxes counted) until the loop turn ends.
 * A frame that cannot be queued is counted as a failed send (-1). */
static int
send_frame(agent *a, nng_socket s, const uint8_t *f, size_t n)
{
    int id = nng_socket_id(s);
    if (id <= 0 || id >= a->nbox)
        return -1;
    struct outbox *b = &a->box[id];
    if (b->m && nng_msg_len(b->m) + n > EP_EXEC_BATCH_BYTES)
        flush_box(a, b);
    if (!b->m && nng_msg_alloc(&b->m, 0) != 0) {
        b->m = NULL;
        a->st->send_failed++;
        return -1;
    }
    if (nng_msg_append(b->m, f, n) != 0) {
        a->st->send_failed++;
        return -1;
    }
    b->s = s;
    b->frames++;
    return 0;
}

static int
send_msg(agent *a, nng_socket s, const ep_wire_msg *m)
{
    uint8_t *f;
    size_t n;
    int rc = encode(a, m, &f, &n);
    if (rc) {
        a->st->send_failed++;
        return -1;
    }
    rc = send_frame(a, s, f, n);
    free(f);
    return rc;
}

/* As send_msg, and out at once with what is queued for s: a clock question or answer
 * carries the time it leaves. */
static int
send_now(agent *a, nng_socket s, const ep_wire_msg *m)
{
    int rc = send_msg(a, s, m);
    int id = nng_socket_id(s);
    if (id > 0 && id < a->nbox)
        flush_box(a, &a->box[id]);
    return rc;
}

/* The loadgen's send times, sent_at[id - sent_base]: a window that slides past the ids
 * already answered (INT64_MIN), so memory follows the requests outstanding. */
static int
sent_reserve(agent *a, uint64_t id)
{
    if (id < a->sent_base)
        return -1;
    if (id - a->sent_base < (uint64_t)a->sent_cap)
        return 0;
    int64_t k = 0;
    while (k < a->sent_cap &&
           (a->sent_at[k] == INT64_MIN || !ep_live_is_pending(a->live, a->sent_base + (uint64_t)k)))
        k++;
    if (k > 0) {
        memmove(a->sent_at, a->sent_at + k, (size_t)(a->sent_cap - k) * sizeof *a->sent_at);
        for (int64_t i = a->sent_cap - k; i < a->sent_cap; i++)
            a->sent_at[i] = INT64_MIN;
        a->sent_base += (uint64_t)k;
    }
    if (k == a->sent_cap)
        a->sent_base = id;
    int64_t cap = a->sent_cap ? a->sent_cap : SENT_CAP0;
    while ((uint64_t)cap <= id - a->sent_base)
        cap *= 2;
    if (cap > a->sent_cap) {
        int64_t *p = realloc(a->sent_at, (size_t)cap * sizeof *p);
        if (!p)
            return -1;
        for (int64_t i = a->sent_cap; i < cap; i++)
            p[i] = INT64_MIN;
        a->sent_at = p;
        a->sent_cap = cap;
    }
    return 0;
}

static int
hook_send(void *ctx, const ep_msg_request *req, int dst, int instance, ep_time deliver_at)
{
    agent *a = ctx;
    if (dst < 0 || dst >= a->nnodes)
        return -1;
    ep_wire_msg m;
    memset(&m, 0, sizeof m);
    if (a->o->role == EP_LIVE_LOADGEN) {
        m.type = EP_WIRE_REQUEST;
        m.u.request = *req;
        if (sent_reserve(a, req->id) != 0)
            return -1;
        a->sent_at[req->id - a->sent_base] = mono_ns() - wall_at(a, req->arrival);
    } else {
        m.type = EP_WIRE_FORWARD;
        m.u.forward.req = *req;
        m.u.forward.kind = instance >= 0 ? EP_MSG_TO_INSTANCE : EP_MSG_TO_NODE;
        m.u.forward.target = instance >= 0 ? instance : dst;
        m.u.forward.deliver_at = deliver_at;
    }
    return send_msg(a, a->out[dst], &m);
}

static void
hook_placement(void *ctx, int64_t epoch, const ep_instance_spec *inst, int n)
{
    agent *a = ctx;
    ep_wire_msg_free(&a->last_place);
    memset(&a->last_place, 0, sizeof a->last_place);
    a->last_place.type = EP_WIRE_PLACEMENT;
    a->last_place.u.placement.epoch = epoch;
    a->have_place = 0;
    if (n > EP_MSG_MAX_INSTANCES)
        n = EP_MSG_MAX_INSTANCES;
    a->last_place.u.placement.inst = calloc((size_t)n + 1, sizeof *inst);
    if (!a->last_place.u.placement.inst) {
        a->failed = EP_ENOMEM;
        return;
    }
    if (n)
        memcpy(a->last_place.u.placement.inst, inst, (size_t)n * sizeof *inst);
    a->last_place.u.placement.n = n;
    a->have_place = 1;
    uint8_t *f;
    size_t len;
    if (encode(a, &a->last_place, &f, &len)) {
        a->st->send_failed++;
        return;
    }
    for (int k = 0; k < a->nnodes; k++)
        send_frame(a, a->out[k], f, len);
    free(f);
}

static void
hook_sync(void *ctx, const ep_msg_state *st)
{
    agent *a = ctx;
    ep_wire_msg m;
    memset(&m, 0, sizeof m);
    m.type = EP_WIRE_STATE;
    m.u.state = *st;
    uint8_t *f;
    size_t len;
    if (encode(a, &m, &f, &len)) {
        a->st->send_failed++;
        return;
    }
    send_frame(a, a->ctl, f, len);
    for (int k = 0; k < a->nnodes; k++)
        if (k != a->o->node)
            send_frame(a, a->out[k], f, len);
    free(f);
}

static void engine_release(agent *a, const ep_record *rec);

/* A frame held for sending at trace time `at`. */
typedef struct held_frame {
    ep_heap_node node;
    ep_wire_msg m; /* a RESULT (owns its output, a copy); encoded when sent, so sequence
                      numbers stay in sending order */
} held_frame;

static void
send_held(agent *a, ep_time now)
{
    int64_t at;
    while (ep_heap_min_key(&a->held, &at, NULL) && at <= now) {
        held_frame *h = EP_CONTAINER_OF(ep_heap_pop(&a->held), held_frame, node);
        send_msg(a, a->lg, &h->m);
        ep_wire_msg_free(&h->m);
        free(h);
    }
}

static ep_time
next_held(const agent *a)
{
    int64_t at;
    return ep_heap_min_key(&a->held, &at, NULL) ? at : EP_TIME_MAX;
}

/* Node: every record made here goes back to the loadgen as a RESULT, when the response
 * reaches the client (rec->done includes the emulated response link). */
static void
node_record(void *ctx, const ep_record *rec)
{
    agent *a = ctx;
    ep_wire_msg m;
    memset(&m, 0, sizeof m);
    m.type = EP_WIRE_RESULT;
    ep_msg_result *q = &m.u.result;
    q->id = rec->id;
    q->outcome = (int)rec->outcome;
    if (rec->reason)
        snprintf(q->reason, sizeof q->reason, "%s", rec->reason);
    q->dispatch = rec->dispatch > 0 ? rec->dispatch : EP_MSG_NEVER;
    q->first_token = rec->first_token > 0 ? rec->first_token : EP_MSG_NEVER;
    q->done = rec->done > 0 ? rec->done : EP_MSG_NEVER;
    q->instance = rec->instance >= 0 ? rec->instance : -1;
    q->node = rec->node >= 0 ? rec->node : -1;
    q->batch = rec->batch > 0 ? rec->batch : 0;
    q->preemptions = rec->preemptions;
    q->hops = rec->hops;
    /* Payload mode: the response's bytes travel with the result (borrowed until it goes). */
    q->output = (uint8_t *)(uintptr_t)ep_live_output(a->live, rec, &q->output_len);
    engine_release(a, rec);
    ep_time now = ep_live_now(a->live);
    if (a->o->real_links == 1 || rec->done <= now || a->stopping) {
        send_msg(a, a->lg, &m);
    } else {
        held_frame *h = malloc(sizeof *h);
        uint8_t *copy = q->output_len > 0 ? malloc((size_t)q->output_len) : NULL;
        if (h && (copy || q->output_len == 0)) {
            ep_heap_node_init(&h->node);
            h->m = m;
            if (copy)
                memcpy(copy, q->output, (size_t)q->output_len);
            h->m.u.result.output = copy;
            if (ep_heap_push(&a->held, &h->node, rec->done, a->held_seq++) != 0) {
                free(h);
                h = NULL;
            }
        } else {
            free(h);
            h = NULL;
        }
        if (!h) {
            free(copy);
            send_msg(a, a->lg, &m);
        }
    }
    if (a->o->sim.on_record)
        a->o->sim.on_record(a->o->sim.ctx, rec);
}

/* --- real engines ------------------------------------------------------------------------ */

static struct eng_inst *
engine_inst(agent *a, int instance, const ep_instance_spec *spec)
{
    if (instance >= a->neinst) {
        int n = instance + EINST_GROW;
        struct eng_inst *p = realloc(a->einst, (size_t)n * sizeof *p);
        if (!p)
            return NULL;
        memset(p + a->neinst, 0, (size_t)(n - a->neinst) * sizeof *p);
        a->einst = p;
        a->neinst = n;
    }
    struct eng_inst *e = &a->einst[instance];
    if (!e->ei) {
        char why[256];
        int spec_class = a->sc->devices[spec->devs[0]].spec;
        if (ep_engine_load(a->eng, spec->service, spec_class, &e->ei, why, sizeof why) != 0) {
            if (a->o->verbose)
                fprintf(stderr, "node %d: cannot load instance %d: %s\n", a->o->node, instance,
                        why);
            return NULL;
        }
        e->nslots = ep_engine_llm_slots(e->ei);
        if (e->nslots > 0) {
            e->slot_req = malloc((size_t)e->nslots * sizeof *e->slot_req);
            if (!e->slot_req) {
                ep_engine_unload(e->ei);
                e->ei = NULL;
                return NULL;
            }
            for (int k = 0; k < e->nslots; k++)
                e->slot_req[k] = UINT64_MAX;
        }
    }
    return e;
}

static int
slot_of(struct eng_inst *e, uint64_t req)
{
    for (int k = 0; k < e->nslots; k++)
        if (e->slot_req[k] == req)
            return k;
    return -1;
}

/* A slot for a request starting its sequence: its own (reset), a free one, or one taken
 * back from a request not in this iteration (it left the instance without ending here). */
static int
slot_fresh(struct eng_inst *e, uint64_t req, const ep_live_item *items, int n)
{
    int k = slot_of(e, req);
    if (k < 0)
        k = slot_of(e, UINT64_MAX);
    for (int tries = 0; k < 0 && tries < e->nslots; tries++) {
        int c = e->next_evict++ % e->nslots;
        int busy = 0;
        for (int i = 0; i < n && !busy; i++)
            busy = items[i].request == e->slot_req[c];
        if (!busy)
            k = c;
    }
    if (k >= 0) {
        ep_engine_llm_release(e->ei, k);
        e->slot_req[k] = req;
    }
    return k;
}

/* A DNN batch on instance e: on the requests' bytes and with their masks as their responses
 * (payload mode: items[0..n) are the batch's requests), else on the engine's own images. */
static int
dnn_run(agent *a, struct eng_inst *e, int batch, const ep_live_item *items, int n, ep_dur est,
        ep_dur *took)
{
    int64_t mb = ep_engine_dnn_mask_bytes(e->ei);
    if (!items || n < batch)
        return ep_engine_dnn_batch(e->ei, batch, est, took);
    if (batch > a->io_cap) {
        int cap = batch * 2;
        const uint8_t **in = realloc(a->io_in, (size_t)cap * sizeof *in);
        if (in)
            a->io_in = in;
        int64_t *len = realloc(a->io_len, (size_t)cap * sizeof *len);
        if (len)
            a->io_len = len;
        uint8_t **mask = realloc(a->io_mask, (size_t)cap * sizeof *mask);
        if (mask)
            a->io_mask = mask;
        if (!in || !len || !mask)
            return EP_ENOMEM;
        a->io_cap = cap;
    }
    if (mb > 0 && (int64_t)batch * mb > a->mask_cap) {
        uint8_t *p = realloc(a->masks, (size_t)batch * (size_t)mb);
        if (!p)
            return EP_ENOMEM;
        a->masks = p;
        a->mask_cap = (int64_t)batch * mb;
    }
    for (int j = 0; j < batch; j++) {
        a->io_in[j] = items[j].payload;
        a->io_len[j] = items[j].payload_len;
        a->io_mask[j] = mb > 0 ? a->masks + (size_t)j * (size_t)mb : NULL;
    }
    ep_engine_dnn_io io = {a->io_in, a->io_len, mb > 0 ? a->io_mask : NULL, mb};
    int rc = ep_engine_dnn_batch_io(e->ei, batch, &io, est, took);
    for (int j = 0; j < batch && rc == 0 && mb > 0; j++)
        ep_live_output_add(a->live, items[j].request, a->io_mask[j], mb);
    return rc;
}

static ep_dur
hook_run(void *ctx, int instance, const ep_instance_spec *spec, int batch,
         const ep_live_item *items, int n, ep_dur est)
{
    agent *a = ctx;
    struct eng_inst *e = engine_inst(a, instance, spec);
    ep_dur took = -1;
    ep_dur est_wall = (ep_dur)((double)est / a->scale);
    int rc = EP_EINVAL;
    if (e && e->nslots == 0) {
        rc = dnn_run(a, e, batch < EP_ENGINE_BATCH_MAX ? batch : EP_ENGINE_BATCH_MAX, items, n,
                     est_wall, &took);
    } else if (e && n > 0) {
        if (n > a->work_cap) {
            ep_engine_work *w = realloc(a->work, (size_t)n * 2 * sizeof *w);
            if (!w)
                return -1;
            a->work = w;
            a->work_cap = n * 2;
        }
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            int k = items[i].fresh ? slot_fresh(e, items[i].request, items, n)
                                   : slot_of(e, items[i].request);
            if (k < 0 && !items[i].fresh) /* its sequence was taken back: start over */
                k = slot_fresh(e, items[i].request, items, n);
            ok = k >= 0;
            int tok =
                    items[i].tokens < EP_ENGINE_TOKENS_MAX ? items[i].tokens : EP_ENGINE_TOKENS_MAX;
            int decode = items[i].decode && ep_engine_llm_pos(e->ei, k) > 0;
            a->work[i] =
                    (ep_engine_work){k, decode ? 1 : tok, decode, decode ? NULL : items[i].payload,
                                     decode ? 0 : items[i].payload_len};
        }
        if (ok)
            rc = ep_engine_llm_iter(e->ei, a->work, n, est_wall, &took);
        /* Payload mode: each token the iteration ends with goes into its response. */
        for (int i = 0; i < n && rc == 0 && a->o->payloads; i++) {
            int tok = items[i].emits ? ep_engine_llm_next_token(e->ei, a->work[i].slot) : -1;
            if (tok < 0)
                continue;
            uint8_t b[4] = {(uint8_t)tok, (uint8_t)(tok >> 8), (uint8_t)(tok >> 16),
                            (uint8_t)(tok >> 24)};
            ep_live_output_add(a->live, items[i].request, b, 4);
        }
    }
    if (rc != 0) {
        a->st->engine_failures++;
        return -1;
    }
    a->st->engine_runs++;
    return (ep_dur)((double)took * a->scale);
}

/* A request ended on this node: its sequence slot is free again. */
static void
engine_release(agent *a, const ep_record *rec)
{
    if (!a->eng || rec->instance < 0 || rec->instance >= a->neinst)
        return;
    struct eng_inst *e = &a->einst[rec->instance];
    int k = e->ei ? slot_of(e, rec->id) : -1;
    if (k >= 0) {
        ep_engine_llm_release(e->ei, k);
        e->slot_req[k] = UINT64_MAX;
    }
}

/* --- receiving ----------------------------------------------------------------------------- */

static void
heard_from(agent *a, int node, int64_t wall)
{
    if (node >= 0 && node < a->nnodes)
        a->heard[node] = wall;
}

/* Marks nodes silent for three sync periods (at least 1.5 s) down, and back up when they
 * report again. Nodes never heard from count as up for the first seconds. */
static void
liveness(agent *a, int64_t wall)
{
    double sync_wall = (double)a->sc->run.sync_period / a->scale;
    int64_t quiet = (int64_t)fmax(QUIET_SYNCS * sync_wall, (double)QUIET_MIN);
    for (int k = 0; k < a->nnodes; k++) {
        if (a->o->role == EP_LIVE_NODE && k == a->o->node)
            continue;
        int up = (a->heard[k] && wall - a->heard[k] <= quiet) ||
                 wall - wall_at(a, 0) <= FIRST_HEARD_WITHIN;
        if (up != a->up[k]) {
            a->up[k] = up;
            ep_live_node_up(a->live, k, up);
            if (a->o->verbose)
                fprintf(stderr, "%s: node %d %s\n",
                        a->o->role == EP_LIVE_CONTROLLER ? "controller" : "node", k,
                        up ? "reachable" : "lost (no state reports)");
        }
    }
}

/* --- clocks ------------------------------------------------------------------------------- */

/* An answer to this process's question, received at `wall`: one sample of the offset to
 * the answerer's clock, and the estimate moved to the sample with the shortest round trip
 * among the last CLOCK_SAMPLES (the one least stretched by queueing on the way). */
static void
clock_sample(agent *a, const ep_wire_time *t, int64_t wall)
{
    int64_t t4 = own_trace_at(a, wall);
    int64_t delay = (t4 - t->t1) - (t->t3 - t->t2);
    struct clock_sample *s = &a->samples[a->nsamples++ % CLOCK_SAMPLES];
    s->offset = ((t->t2 - t->t1) + (t->t3 - t4)) / 2;
    s->delay = delay > 0 ? delay : 0;
    int n = a->nsamples < CLOCK_SAMPLES ? a->nsamples : CLOCK_SAMPLES;
    const struct clock_sample *best = &a->samples[0];
    for (int i = 1; i < n; i++)
        if (a->samples[i].delay < best->delay)
            best = &a->samples[i];
    a->corr = best->offset;
    a->corr_err = best->delay / 2;
    a->st->clock_samples = a->nsamples;
    a->st->clock_ahead_ms = -(double)a->corr / 1e6;
    a->st->clock_err_ms = (double)a->corr_err / 1e6;
    if (a->o->verbose &&
        (a->nsamples == 1 || a->nsamples == CLOCK_SAMPLES || a->nsamples == CLOCK_FAST_MAX))
        fprintf(stderr, "epara: clock %.3f ms ahead of the controller's (+- %.3f ms, %d samples)\n",
                a->st->clock_ahead_ms, a->st->clock_err_ms, a->nsamples);
}

/* A TIME message from peer `from`: a node's question to the controller (answered), its
 * copy to the loadgen (its report, kept), the loadgen's question to a node (answered once
 * the node's own clock is estimated), or an answer to this process's question. */
static void
clock_msg(agent *a, int from, const ep_wire_time *t, int64_t wall)
{
    ep_live_role role = a->o->role;
    if (t->t2 != EP_WIRE_NO_TIME) {
        if ((role == EP_LIVE_NODE && from == a->nnodes && t->node == a->o->node) ||
            (role == EP_LIVE_LOADGEN && from < a->nnodes && t->node == -1))
            clock_sample(a, t, wall);
        return;
    }
    if (role == EP_LIVE_LOADGEN) {
        if (from < a->nnodes && t->node == from && from < EP_EXEC_MAX_NODES) {
            a->st->node_clock_ahead_ms[from] = -(double)t->offset / 1e6;
            a->st->node_clock_err_ms[from] = t->err < 0 ? -1 : (double)t->err / 1e6;
        }
        return;
    }
    nng_socket to;
    if (role == EP_LIVE_CONTROLLER && from < a->nnodes && t->node == from)
        to = a->out[from];
    else if (role == EP_LIVE_NODE && from == a->nnodes + 1 && t->node == -1 &&
             (a->corr_err >= 0 || a->o->no_clock_sync))
        to = a->lg;
    else
        return;
    ep_wire_msg m;
    memset(&m, 0, sizeof m);
    m.type = EP_WIRE_TIME;
    m.u.time = *t;
    m.u.time.t2 = trace_at(a, wall);
    m.u.time.t3 = trace_at(a, mono_ns());
    send_now(a, to, &m);
}

/* A node asks the controller (and reports its estimate to the loadgen), the loadgen asks
 * the nodes in turn, every CLOCK_ASK_FAST while samples are few, then every CLOCK_ASK. */
static void
clock_ask_if_due(agent *a, int64_t w)
{
    const ep_exec_opts *o = a->o;
    if (o->no_clock_sync || o->role == EP_LIVE_CONTROLLER || w < a->next_ask || a->nnodes == 0)
        return;
    ep_wire_msg m;
    memset(&m, 0, sizeof m);
    m.type = EP_WIRE_TIME;
    m.u.time = (ep_wire_time){.node = o->role == EP_LIVE_NODE ? o->node : -1,
                              .t1 = own_trace_at(a, w),
                              .t2 = EP_WIRE_NO_TIME,
                              .t3 = EP_WIRE_NO_TIME,
                              .offset = a->corr,
                              .err = a->corr_err};
    if (o->role == EP_LIVE_NODE) {
        send_now(a, a->ctl, &m);
        send_now(a, a->lg, &m);
    } else {
        send_now(a, a->out[a->ask_to], &m);
        a->ask_to = (a->ask_to + 1) % a->nnodes;
    }
    int fast = ++a->nasked < CLOCK_FAST_MAX &&
               (a->nsamples < CLOCK_SAMPLES || a->corr_err > CLOCK_GOOD);
    a->next_ask = w + (fast ? CLOCK_ASK_FAST : CLOCK_ASK);
}

static void
record_overhead(agent *a, const ep_msg_result *q, int64_t wall)
{
    if (q->id < a->sent_base || q->id - a->sent_base >= (uint64_t)a->sent_cap)
        return;
    int64_t *slot = &a->sent_at[q->id - a->sent_base];
    int64_t late_send = *slot;
    *slot = INT64_MIN;
    if (late_send == INT64_MIN || q->outcome != EP_OUT_COMPLETED || q->done == EP_MSG_NEVER)
        return;
    double v = (double)(late_send + (wall - wall_at(a, q->done))) / (double)EP_NS_PER_S;
    int bin = v <= OVH_MIN_S ? 0 : 1 + (int)(log10(v / OVH_MIN_S) * OVH_PER_DECADE);
    a->ovh[bin < OVH_BINS ? bin : OVH_BINS - 1]++;
    a->novh++;
}

static void
handle(agent *a, const uint8_t *buf, size_t len, int64_t wall)
{
    ep_wire_msg m;
    char why[256];
    ep_wire_env env;
    if (ep_wire_decode_env(buf, len, a->o->key, a->o->keylen, &m, &env, why, sizeof why) != 0) {
        if (a->o->verbose && a->st->bad_frames < VERBOSE_DROPS)
            fprintf(stderr, "dropped a message: %s\n", why);
        a->st->bad_frames++;
        return;
    }
    /* Who may send what, and each sender's frames once, in order. */
    int from = env.sender == EP_WIRE_CONTROLLER   ? a->nnodes
               : env.sender == EP_WIRE_LOADGEN    ? a->nnodes + 1
               : env.sender < (uint32_t)a->nnodes ? (int)env.sender
                                                  : -1;
    int node_msg = m.type == EP_WIRE_HELLO || m.type == EP_WIRE_STATE || m.type == EP_WIRE_RESULT ||
                   m.type == EP_WIRE_FORWARD;
    int allowed = from >= 0 && (m.type == EP_WIRE_BYE || m.type == EP_WIRE_TIME ||
                                (from < a->nnodes    ? node_msg
                                 : from == a->nnodes ? m.type == EP_WIRE_PLACEMENT
                                                     : m.type == EP_WIRE_REQUEST));
    if (!allowed || ep_wire_replay_check(&a->replay[from], &env) != 0) {
        if (a->o->verbose && a->st->bad_frames < VERBOSE_DROPS)
            fprintf(stderr, "dropped a message: %s\n",
                    !allowed ? "unexpected sender for its type" : "replayed or stale frame");
        if (allowed)
            a->st->replayed++;
        a->st->bad_frames++;
        ep_wire_msg_free(&m);
        return;
    }
    a->st->msgs_in++;
    ep_live_role role = a->o->role;
    int rc = 0;
    switch (m.type) {
    case EP_WIRE_HELLO:
        if (role == EP_LIVE_CONTROLLER && m.u.hello.node < a->nnodes) {
            heard_from(a, m.u.hello.node, wall);
            if (a->have_place)
                send_msg(a, a->out[m.u.hello.node], &a->last_place);
        }
        break;
    case EP_WIRE_PLACEMENT:
        if (role == EP_LIVE_NODE) {
            rc = ep_live_apply(a->live, m.u.placement.epoch, m.u.placement.inst, m.u.placement.n);
            a->placed = 1;
        }
        break;
    case EP_WIRE_STATE:
        if (role != EP_LIVE_LOADGEN && a->o->sync_loss_until > a->o->sync_loss_from) {
            ep_time t = trace_at(a, wall);
            if (t >= a->o->sync_loss_from && t < a->o->sync_loss_until) {
                a->st->state_lost++; /* the injected fault: as if lost on the network */
                break;
            }
        }
        if (role != EP_LIVE_LOADGEN) {
            heard_from(a, m.u.state.node, wall);
            ep_live_state_in(a->live, &m.u.state);
        }
        break;
    case EP_WIRE_REQUEST:
        if (role == EP_LIVE_NODE) {
            rc = ep_live_arrival(a->live, &m.u.request);
            if (rc == EP_EINVAL) { /* not ours to serve: say so, so it is not lost */
                ep_wire_msg r;
                memset(&r, 0, sizeof r);
                r.type = EP_WIRE_RESULT;
                r.u.result = (ep_msg_result){.id = m.u.request.id,
                                             .outcome = EP_OUT_REJECTED,
                                             .reason = "invalid request for this node",
                                             .dispatch = EP_MSG_NEVER,
                                             .first_token = EP_MSG_NEVER,
                                             .done = EP_MSG_NEVER,
                                             .instance = -1,
                                             .node = a->o->node};
                send_msg(a, a->lg, &r);
                rc = 0;
            }
        }
        break;
    case EP_WIRE_FORWARD:
        if (role == EP_LIVE_NODE) {
            if (a->o->real_links == 1) /* 2: the sender set the links' latency only */
                m.u.forward.deliver_at = -1;
            rc = ep_live_forward_in(a->live, &m.u.forward);
            if (rc == EP_EINVAL)
                rc = 0; /* validated at the sender; a bad one is counted and dropped */
        }
        break;
    case EP_WIRE_RESULT:
        if (role == EP_LIVE_LOADGEN) {
            if (ep_live_result(a->live, &m.u.result))
                record_overhead(a, &m.u.result, wall);
            else
                a->st->late_results++;
        }
        break;
    case EP_WIRE_BYE:
        if (m.u.bye.node >= 0 && m.u.bye.node < a->nnodes && role != EP_LIVE_LOADGEN) {
            a->heard[m.u.bye.node] = 1; /* long ago: down at the next look */
        }
        break;
    case EP_WIRE_TIME:
        clock_msg(a, from, &m.u.time, wall);
        break;
    }
    ep_wire_msg_free(&m);
    if (rc && !a->failed)
        a->failed = rc;
}

/* --- sockets ---------------------------------------------------------------------------- */

static int
open_out(agent *a, nng_socket *s, ep_live_role role, int node)
{
    char addr[EP_DEPLOY_URL_MAX];
    ep_exec_addr(a->o, role, node, addr, sizeof addr);
    int rv = nng_push0_open(s);
    if (!rv)
        rv = nng_socket_set_int(*s, NNG_OPT_SENDBUF, EP_EXEC_SEND_BUFFER);
    if (!rv)
        rv = nng_socket_set_ms(*s, NNG_OPT_RECONNMINT, RECONNECT_MIN_MS);
    if (!rv)
        rv = nng_socket_set_ms(*s, NNG_OPT_RECONNMAXT, RECONNECT_MAX_MS);
    if (!rv)
        rv = nng_dial(*s, addr, NULL, NNG_FLAG_NONBLOCK);
    return rv ? fail(a, EP_EIO, "cannot dial", addr, rv) : 0;
}

static int
open_sockets(agent *a)
{
    const ep_exec_opts *o = a->o;
    char addr[EP_DEPLOY_URL_MAX];
    ep_exec_addr(o, o->role, o->node, addr, sizeof addr);
    int rv = nng_pull0_open(&a->in);
    if (!rv)
        rv = nng_socket_set_size(a->in, NNG_OPT_RECVMAXSZ, EP_EXEC_MAX_FRAME);
    if (!rv)
        rv = nng_listen(a->in, addr, NULL, 0);
    if (rv)
        return fail(a, EP_EIO, "cannot listen on", addr, rv);
    if (o->verbose)
        fprintf(stderr, "epara: listening on %s\n", addr);
    int rc;
    if (o->role == EP_LIVE_NODE) {
        if ((rc = open_out(a, &a->ctl, EP_LIVE_CONTROLLER, 0)) != 0 ||
            (rc = open_out(a, &a->lg, EP_LIVE_LOADGEN, 0)) != 0)
            return rc;
    }
    for (int k = 0; k < a->nnodes; k++)
        if (!(o->role == EP_LIVE_NODE && k == o->node) &&
            (rc = open_out(a, &a->out[k], EP_LIVE_NODE, k)) != 0)
            return rc;
    return 0;
}

/* One outbox per socket id of this process's sockets (nng numbers them from 1). */
static int
open_boxes(agent *a)
{
    int top = nng_socket_id(a->in);
    if (nng_socket_id(a->ctl) > top)
        top = nng_socket_id(a->ctl);
    if (nng_socket_id(a->lg) > top)
        top = nng_socket_id(a->lg);
    for (int k = 0; k < a->nnodes; k++)
        if (nng_socket_id(a->out[k]) > top)
            top = nng_socket_id(a->out[k]);
    a->box = calloc((size_t)top + 1, sizeof *a->box);
    if (!a->box)
        return EP_ENOMEM;
    a->nbox = top + 1;
    return 0;
}

/* The sockets to close, handed to a closer thread. */
typedef struct closer {
    nng_socket *s;
    int n;
    atomic_int done;
} closer;

static void *
close_all(void *arg)
{
    closer *c = arg;
    for (int i = 0; i < c->n; i++)
        nng_close(c->s[i]);
    atomic_store(&c->done, 1);
    return NULL;
}

/* Closes every socket, waiting at most two seconds: nng_close can wait indefinitely for a
 * dialer whose peer has gone away, and a process tearing down must not hang on that. The
 * closer thread (and what it holds) is left behind only in that case. */
static void
close_sockets(agent *a)
{
    closer *c = calloc(1, sizeof *c);
    nng_socket *s = calloc((size_t)a->nnodes + 3, sizeof *s);
    if (!c || !s) {
        free(c);
        free(s);
        return;
    }
    int n = 0;
    if (nng_socket_id(a->in) > 0)
        s[n++] = a->in;
    if (nng_socket_id(a->ctl) > 0)
        s[n++] = a->ctl;
    if (nng_socket_id(a->lg) > 0)
        s[n++] = a->lg;
    for (int k = 0; a->out && k < a->nnodes; k++)
        if (nng_socket_id(a->out[k]) > 0)
            s[n++] = a->out[k];
    c->s = s;
    c->n = n;
    pthread_t t;
    if (pthread_create(&t, NULL, close_all, c) != 0) {
        free(c);
        free(s);
        return;
    }
    struct timespec tick = {0, (long)CLOSE_TICK};
    for (int i = 0; i < CLOSE_WAIT / CLOSE_TICK && !atomic_load(&c->done); i++)
        nanosleep(&tick, NULL);
    if (atomic_load(&c->done)) {
        pthread_join(t, NULL);
        free(c);
        free(s);
    } else {
        pthread_detach(t);
    }
}

/* The q-quantile of the overhead histogram: the upper edge of the bin holding it (bin 0:
 * at most OVH_MIN_S). */
static double
ovh_quantile(const agent *a, double q)
{
    int64_t want = (int64_t)ceil(q * (double)a->novh), seen = 0;
    for (int b = 0; b < OVH_BINS; b++) {
        seen += a->ovh[b];
        if (seen >= want && seen > 0)
            return b == 0 ? OVH_MIN_S : OVH_MIN_S * pow(10, (double)b / OVH_PER_DECADE);
    }
    return OVH_MIN_S * pow(10, (double)(OVH_BINS - 1) / OVH_PER_DECADE);
}

/* --- the loop --------------------------------------------------------------------------- */

/* Twice the longest SLO time of the scenario's services, at least 60 s: long enough for
 * any request that can still meet its SLO. */
static ep_dur
slo_span(const ep_scenario *sc)
{
    ep_dur span = SLO_SPAN_MIN;
    for (int i = 0; i < sc->nservices; i++) {
        const ep_slo *slo = &sc->services[i].slo;
        ep_dur t = slo->ttft > slo->deadline ? slo->ttft : slo->deadline;
        if (slo->frame_deadline > t)
            t = slo->frame_deadline;
        if (t < EP_TIME_MAX / 4 && 2 * t > span)
            span = 2 * t;
    }
    return span;
}

/* How long the loadgen waits for outcomes after the last arrival: --grace, else the SLO
 * span. */
static ep_dur
grace_of(const ep_exec_opts *o)
{
    return o->grace > 0 ? o->grace : slo_span(o->sc);
}

static int
done_yet(agent *a, ep_time now)
{
    const ep_exec_opts *o = a->o;
    if (o->stop && *o->stop)
        return 1;
    if (o->role == EP_LIVE_LOADGEN) {
        if (!ep_live_sources_done(a->live))
            return 0;
        ep_dur grace = grace_of(o);
        return ep_live_pending(a->live) == 0 || now > ep_live_end(a->live) + grace;
    }
    return o->run_for > 0 && now >= o->run_for;
}

/* The options a run cannot start without; 0 or EP_EINVAL with the reason in err. */
static int
check_opts(const ep_exec_opts *o, char *err, size_t errlen)
{
    if (o->sc && o->key && o->keylen >= EP_WIRE_MIN_KEY_BYTES && o->time_scale > 0 &&
        o->sc->nnodes <= EP_EXEC_MAX_NODES)
        return 0;
    if (err && errlen)
        snprintf(err, errlen, "%s",
                 !o->key || o->keylen < EP_WIRE_MIN_KEY_BYTES
                         ? "a shared key of at least 16 bytes is needed"
                 : !(o->time_scale > 0) ? "time scale must be > 0"
                                        : "bad options");
    return EP_EINVAL;
}

/* Allocates the agent's tables and opens its sockets. */
static int
agent_init(agent *a, const ep_exec_opts *o, ep_exec_stats *stats, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->o = o;
    a->sc = o->sc;
    a->st = stats;
    a->nnodes = o->sc->nnodes;
    /* on CLOCK_MONOTONIC, as this process's (possibly skewed) wall clock places it */
    a->epoch = o->epoch_ns - (ep_exec_wall_ns() + o->clock_skew_ns - mono_ns());
    a->corr_err = -1;
    a->ask_to = o->role == EP_LIVE_LOADGEN ? 0 : -1;
    stats->clock_sync = !o->no_clock_sync;
    stats->clock_err_ms = -1;
    for (int k = 0; k < EP_EXEC_MAX_NODES; k++)
        stats->node_clock_err_ms[k] = -1;
    a->scale = o->time_scale;
    a->err = err;
    a->errlen = errlen;
    ep_heap_init(&a->held);
    a->out = calloc((size_t)a->nnodes + 1, sizeof *a->out);
    a->heard = calloc((size_t)a->nnodes + 1, sizeof *a->heard);
    a->replay = calloc((size_t)a->nnodes + 2, sizeof *a->replay);
    a->self_id = o->role == EP_LIVE_CONTROLLER ? EP_WIRE_CONTROLLER
                 : o->role == EP_LIVE_LOADGEN  ? EP_WIRE_LOADGEN
                                               : (uint32_t)o->node;
    a->session = (uint64_t)ep_exec_wall_ns();
    a->up = calloc((size_t)a->nnodes + 1, sizeof *a->up);
    if (!a->out || !a->heard || !a->up || !a->replay)
        return EP_ENOMEM;
    for (int k = 0; k < a->nnodes; k++)
        a->up[k] = 1;
    int rc = open_sockets(a);
    return rc ? rc : open_boxes(a);
}

/* The runtime this process drives (its role's share of the nodes), with the agent's hooks
 * (transport, placement and state to the wire, real engines for a node). */
static int
runtime_open(agent *a, char *err, size_t errlen)
{
    const ep_exec_opts *o = a->o;
    ep_live_opts lo;
    memset(&lo, 0, sizeof lo);
    lo.role = o->role;
    lo.node = o->node;
    lo.sim = o->sim;
    lo.max_held = o->max_held;
    lo.link_mode = o->real_links;
    lo.payloads = o->payloads;
    lo.payload_seed = ep_splitmix64((o->sim.seed_set ? o->sim.seed : o->sc->run.seed) ^
                                    UINT64_C(0x6279746573));
    /* A request unanswered this long after its arrival is lost (e.g. with a killed node). */
    if (o->role == EP_LIVE_LOADGEN)
        lo.result_timeout = grace_of(o) > slo_span(o->sc) ? grace_of(o) : slo_span(o->sc);
    if (o->role == EP_LIVE_NODE) {
        lo.sim.on_record = node_record;
        lo.sim.ctx = a;
    }
    lo.hooks.ctx = a;
    lo.hooks.send = hook_send;
    lo.hooks.on_placement = hook_placement;
    lo.hooks.on_sync = hook_sync;
    if (o->role == EP_LIVE_NODE && o->engine && o->engine->kind != EP_ENGINE_EMULATED) {
        int rc = ep_engine_open(o->sc, o->engine, &a->eng, err, errlen);
        if (rc)
            return rc;
        lo.hooks.run = hook_run;
    }
    return ep_live_new(o->sc, &lo, &a->live, err, errlen);
}

/* A node not yet placed says HELLO to the controller every HELLO_EVERY. */
static void
hello_if_due(agent *a, int64_t w)
{
    const ep_exec_opts *o = a->o;
    if (o->role != EP_LIVE_NODE || a->placed || w < a->next_hello)
        return;
    ep_wire_msg h;
    memset(&h, 0, sizeof h);
    h.type = EP_WIRE_HELLO;
    snprintf(h.u.hello.name, sizeof h.u.hello.name, "%s", o->sc->nodes[o->node].name);
    h.u.hello.node = o->node;
    h.u.hello.protocol = EP_WIRE_VERSION;
    send_msg(a, a->ctl, &h);
    a->next_hello = w + HELLO_EVERY;
}

/* Handles each frame of a transport message (a peer's frames of one loop turn); what does
 * not split into whole frames is one bad frame, handled as such (and its rest dropped). */
static void
handle_all(agent *a, const uint8_t *buf, size_t len, int64_t wall)
{
    size_t off = 0;
    while (off < len) {
        size_t n = ep_wire_frame_len(buf + off, len - off);
        if (n == 0) {
            handle(a, buf + off, len - off, wall); /* counted and explained there */
            return;
        }
        handle(a, buf + off, n, wall);
        off += n;
    }
}

/* Waits for the next message until the runtime's next event (or MAX_WAIT) and handles it:
 * 0, or an error that ends the run. */
static int
wait_and_handle(agent *a, int64_t w, ep_time now)
{
    const ep_exec_opts *o = a->o;
    ep_time next = ep_live_next(a->live);
    if (next_held(a) < next)
        next = next_held(a);
    int64_t wnext = next == EP_TIME_MAX ? w + MAX_WAIT : wall_at(a, next);
    if (now < 0 && wnext > wall_at(a, 0))
        wnext = wall_at(a, 0);
    int64_t wait = wnext - w;
    if (wait > MAX_WAIT)
        wait = MAX_WAIT;
    nng_msg *msg = NULL;
    int rv;
    if (wait >= MS) {
        nng_socket_set_ms(a->in, NNG_OPT_RECVTIMEO, (nng_duration)(wait / MS));
        rv = nng_recvmsg(a->in, &msg, 0);
    } else {
        rv = nng_recvmsg(a->in, &msg, NNG_FLAG_NONBLOCK);
        if (rv == NNG_EAGAIN && wait > 0) {
            struct timespec ts = {(time_t)(wnext / EP_NS_PER_S), (long)(wnext % EP_NS_PER_S)};
            while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
                if (o->stop && *o->stop)
                    break;
        }
    }
    /* Then what else has arrived, up to DRAIN_MAX messages, before the loop turns: a
     * busy process (the loadgen, with every node's results) would otherwise take one
     * message per turn and fall behind. */
    for (int k = 0; rv == 0; k++) {
        int64_t wr = mono_ns();
        ep_time tr = trace_at(a, wr);
        int rc = tr >= 0 ? ep_live_advance(a->live, tr) : 0;
        if (!rc)
            handle_all(a, nng_msg_body(msg), nng_msg_len(msg), wr);
        nng_msg_free(msg);
        if (rc || k + 1 >= DRAIN_MAX)
            return rc;
        rv = nng_recvmsg(a->in, &msg, NNG_FLAG_NONBLOCK);
        if (rv == NNG_EAGAIN)
            return 0;
    }
    if (rv != NNG_ETIMEDOUT && rv != NNG_EAGAIN && rv != NNG_EINTR)
        return fail(a, EP_EIO, "receive failed on", "this process's socket", rv);
    return 0;
}

/* The event loop: runs the runtime on the wall clock until the run is done. */
static int
run_loop(agent *a)
{
    const ep_exec_opts *o = a->o;
    for (;;) {
        int64_t w = mono_ns();
        ep_time now = trace_at(a, w);
        int rc = now >= 0 ? ep_live_advance(a->live, now) : 0;
        if (rc)
            return rc;
        send_held(a, now);
        if (a->failed)
            return a->failed;
        if (done_yet(a, now))
            return 0;
        if (o->role != EP_LIVE_LOADGEN && now >= 0)
            liveness(a, w);
        hello_if_due(a, w);
        clock_ask_if_due(a, w);
        flush_all(a); /* what this turn sent, one message per peer */
        if ((rc = wait_and_handle(a, w, now)) != 0)
            return rc;
    }
}

/* A node or the controller says BYE to every peer (the nodes, and a node to the controller
 * too), so they mark it down at once instead of after its silence. */
static void
say_bye(agent *a)
{
    const ep_exec_opts *o = a->o;
    if (o->role != EP_LIVE_NODE && o->role != EP_LIVE_CONTROLLER)
        return;
    ep_wire_msg b;
    memset(&b, 0, sizeof b);
    b.type = EP_WIRE_BYE;
    b.u.bye.node = o->role == EP_LIVE_NODE ? o->node : -1;
    for (int k = 0; k < a->nnodes; k++)
        if (!(o->role == EP_LIVE_NODE && k == o->node))
            send_msg(a, a->out[k], &b);
    if (o->role == EP_LIVE_NODE)
        send_msg(a, a->ctl, &b);
}

/* The end of a run: BYE, the overhead statistics, what is still held sent, and the
 * runtime's result: rc, or the runtime's own error. */
static int
finish(agent *a, int rc, ep_run_result *out, ep_exec_stats *stats)
{
    say_bye(a);
    if (a->novh > 0) {
        stats->overhead_n = a->novh;
        stats->overhead_p50_s = ovh_quantile(a, 0.5);
        stats->overhead_p99_s = ovh_quantile(a, 0.99);
    }
    a->stopping = 1;
    send_held(a, EP_TIME_MAX);
    flush_all(a);
    stats->payload = ep_live_payload_counts(a->live);
    ep_run_result r;
    int frc = ep_live_finish(a->live, &r);
    a->live = NULL;
    if (!rc)
        rc = frc;
    if (out && !rc)
        *out = r;
    else
        ep_run_result_fini(&r);
    if (rc && a->err && a->errlen && !a->err[0])
        snprintf(a->err, a->errlen, "%s", ep_strerror(rc));
    return rc;
}

/* Frees what agent_init and the run allocated (safe on a partly initialized agent). */
static void
agent_fini(agent *a)
{
    ep_live_finish(a->live, NULL);
    close_sockets(a);
    ep_wire_msg_free(&a->last_place);
    ep_heap_node *hn;
    while ((hn = ep_heap_pop(&a->held)) != NULL) {
        held_frame *h = EP_CONTAINER_OF(hn, held_frame, node);
        ep_wire_msg_free(&h->m);
        free(h);
    }
    ep_heap_fini(&a->held);
    for (int i = 0; i < a->nbox; i++)
        nng_msg_free(a->box[i].m);
    free(a->box);
    free(a->out);
    free(a->heard);
    free(a->up);
    free(a->replay);
    free(a->sent_at);
    for (int i = 0; i < a->neinst; i++) {
        ep_engine_unload(a->einst[i].ei);
        free(a->einst[i].slot_req);
    }
    free(a->einst);
    free(a->work);
    free(a->masks);
    free(a->io_in);
    free(a->io_len);
    free(a->io_mask);
    ep_engine_close(a->eng);
}

int
ep_exec_run(const ep_exec_opts *o, ep_run_result *out, ep_exec_stats *stats, char *err,
            size_t errlen)
{
    ep_exec_stats local_stats;
    if (!stats)
        stats = &local_stats;
    memset(stats, 0, sizeof *stats);
    if (out)
        memset(out, 0, sizeof *out);
    int rc = check_opts(o, err, errlen);
    if (rc)
        return rc;
    int64_t w0 = mono_ns();
    agent A, *a = &A;
    if ((rc = agent_init(a, o, stats, err, errlen)) == 0 &&
        (rc = runtime_open(a, err, errlen)) == 0)
        rc = finish(a, run_loop(a), out, stats);
    agent_fini(a);
    stats->wall_s = (double)(mono_ns() - w0) / (double)EP_NS_PER_S;
    if (stats->state_lost > 0) {
        char who[32] = "controller";
        if (o->role == EP_LIVE_NODE)
            snprintf(who, sizeof who, "node %d", o->node);
        fprintf(stderr, "epara: %s: %lld state messages dropped by --sync-loss\n", who,
                (long long)stats->state_lost);
    }
    return rc;
}
