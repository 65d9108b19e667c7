/* The node runtime in real time (include/epara/exec/live.h): one role of a live testbed over the
 * same runtime (node/) as the simulator. The differences are confined here, to the port
 * each role fills, and to a few role checks in the runtime:
 * a node hosts only its own instances and hands requests leaving it to the transport, the
 * views of other nodes' instances and the cluster's demand come from state reports, the
 * loadgen sends the workload out and turns outcomes into records. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/core/rng.h"
#include "epara/core/time.h"
#include "epara/exec/live.h"
#include "node_internal.h" /* the runtime it drives (node/) */

#define LIVE_MAX_HELD_DEFAULT 65536 /* ep_live_opts.max_held when 0 */

/* One role's host and what only a live role keeps. */
struct ep_live {
    node_rt s; /* the host; live_of() finds the role from it */
    ep_run_result res;
    ep_live_hooks hooks;
    int64_t epoch;         /* last placement epoch applied or sent (-1: none) */
    int64_t max_held;      /* node: most requests held at once */
    int link_mode;         /* node: ep_live_opts.link_mode */
    ep_msg_demand *demand; /* demand per (node, service) as reported (nnodes x ns) */
    /* loadgen: requests awaiting an outcome, pending[id - pending_base]; the window slides
     * past the ids already recorded, so memory follows the requests outstanding, not the
     * run's length */
    node_request **pending;
    int64_t pending_cap, npending;
    uint64_t pending_base;
    ep_dur result_timeout; /* loadgen: ep_live_opts.result_timeout */
    char **reasons;        /* loadgen: interned reason strings of outcomes received */
    int nreasons;
    ep_live_item *items; /* node with real engines: scratch for LLM iterations */
    int items_cap;
    /* payload mode (ep_live_opts.payloads) */
    int payloads;
    uint64_t payload_seed;
    ep_live_payload_stats pay;
    node_instance *running;  /* node: the instance in the run hook now */
    node_request *finishing; /* node: the request whose record is being made */
    uint8_t *scratch;        /* node: made-up responses */
    int64_t scratch_cap;
};

/* The role whose host s is (every port hook gets the host). */
static ep_live *
live_of(node_rt *s)
{
    return EP_CONTAINER_OF(s, ep_live, s);
}

/* --- requests on the wire ----------------------------------------------------------------- */

static ep_msg_request
to_wire(const node_request *r)
{
    ep_msg_request q = {
            .id = r->rec.id,
            .service = r->rec.service,
            .ingress = r->rec.ingress,
            .hops = r->rec.hops,
            .arrival = r->rec.arrival,
            .deadline = r->deadline,
            .input = r->rec.input,
            .output = r->rec.output,
            .bytes = r->bytes,
            .stream = r->stream < 0 ? -1 : r->stream,
            .frame = r->frame < 0 ? -1 : r->frame,
            .trace_exec = r->exec < 0 ? -1 : r->exec,
            .payload = r->payload,
            .payload_len = r->payload ? r->payload_len : 0,
    };
    return q;
}

/* --- payloads ---------------------------------------------------------------------------- */

void
ep_live_payload_fill(uint64_t seed, uint64_t id, uint8_t *buf, int64_t len)
{
    uint64_t base = ep_splitmix64(seed ^ ep_splitmix64(id ^ UINT64_C(0x7061796c6f6164)));
    for (int64_t i = 0; i < len; i += 8) {
        uint64_t v = ep_splitmix64(base + (uint64_t)i);
        for (int k = 0; k < 8 && i + k < len; k++)
            buf[i + k] = (uint8_t)(v >> (8 * k));
    }
}

/* Node: makes request r's bytes when it has none yet (payload mode). EP_ERANGE when they
 * are above what a frame carries. */
static int
payload_make(ep_live *L, node_request *r)
{
    if (r->payload || r->bytes <= 0)
        return 0;
    if (r->bytes > EP_MSG_PAYLOAD_MAX)
        return EP_ERANGE;
    r->payload = malloc((size_t)r->bytes);
    if (!r->payload)
        return EP_ENOMEM;
    r->payload_len = r->bytes;
    ep_live_payload_fill(L->payload_seed, r->rec.id, r->payload, r->payload_len);
    return 0;
}

/* Node: takes the bytes that came with request q into r, counted and checked against the
 * ones its ingress made. */
static void
payload_take(ep_live *L, node_request *r, ep_msg_request *q)
{
    if (!q->payload)
        return;
    r->payload = q->payload;
    r->payload_len = q->payload_len;
    q->payload = NULL;
    q->payload_len = 0;
    L->pay.received++;
    L->pay.received_bytes += r->payload_len;
    uint8_t probe[256];
    int64_t n = r->payload_len < (int64_t)sizeof probe ? r->payload_len : (int64_t)sizeof probe;
    ep_live_payload_fill(L->payload_seed, r->rec.id, probe, n);
    if (r->payload_len != r->bytes || memcmp(probe, r->payload, (size_t)n) != 0)
        L->pay.corrupt++;
}

static int
wire_valid(const node_rt *s, const ep_msg_request *q)
{
    return q->service >= 0 && q->service < s->sc->nservices && q->ingress >= 0 &&
           q->ingress < s->sc->nnodes;
}

static node_request *
from_wire(node_rt *s, const ep_msg_request *q)
{
    node_request *r = node_request_alloc(s);
    if (!r) {
        s->failed = EP_ENOMEM;
        return NULL;
    }
    ep_record *rec = &r->rec;
    rec->id = q->id;
    rec->service = q->service;
    rec->ingress = q->ingress;
    rec->hops = q->hops;
    rec->arrival = q->arrival;
    rec->input = q->input;
    rec->output = q->output;
    rec->instance = -1;
    rec->node = -1;
    r->deadline = q->deadline;
    r->bytes = q->bytes;
    r->stream = q->stream;
    r->frame = q->frame;
    r->exec = q->trace_exec < 0 ? EP_TRACE_NONE : q->trace_exec;
    r->target = -1;
    r->at_node = s->local;
    r->dst_node = s->local;
    return r;
}

/* Returns r to the pool without a record: it left this process, its record is made
 * where it ends. */
static void
release(node_rt *s, node_request *r)
{
    node_request_free_bytes(r);
    s->in_flight--;
    r->pool_next = s->pool;
    s->pool = r;
}

/* Port send of a node: request r leaves for node dst over the transport. */
static void
role_node_send(node_rt *s, node_request *r, int dst)
{
    ep_live *L = live_of(s);
    const ep_scenario *sc = s->sc;
    /* The emulated link: up this node's link (FIFO) to the switch here; the destination
     * queues it down its own link (ep_live_forward_in), where it sees every sender's
     * transfers, as the simulator's switch does. With real shaped links (netns) the
     * receiver ignores it and takes the message as it comes. */
    int lu = sc->nodes[r->at_node].link, ld = sc->nodes[dst].link;
    /* What this node's uplink still has to send (ep_view.uplink_free), in every link mode:
     * on shaped links too the node accounts its sends with the scenario's link model, so its
     * policy sees the same send queue as under the simulator (and, without payloads, the
     * bytes that do not travel are counted). */
    if (L->payloads) {
        int rc = payload_make(L, r);
        if (rc == EP_ERANGE) {
            L->pay.too_large++;
            node_request_finish(s, r, EP_OUT_REJECTED, "payload above the wire's bound");
            return;
        }
        if (rc) {
            s->failed = rc;
            node_request_finish(s, r, EP_OUT_DROPPED, "out of memory in the node");
            return;
        }
    }
    ep_time at = node_pipe_send(&s->up[lu], s->eng.now, r->bytes);
    s->up_free[lu] = s->up[lu].busy_until;
    if (L->link_mode == 2) /* bandwidth shaped for real: only the latency is modelled */
        at = s->eng.now + s->up[lu].latency + s->down[ld].latency;
    ep_msg_request q = to_wire(r);
    if (L->hooks.send(L->hooks.ctx, &q, dst, r->target, at) != 0) {
        node_request_finish(s, r, EP_OUT_DROPPED, "peer node unreachable");
        return;
    }
    if (q.payload) {
        L->pay.sent++;
        L->pay.sent_bytes += q.payload_len;
    }
    release(s, r);
}

/* Loadgen: the slot of request id, or NULL when outside the window. */
static node_request **
pending_slot(ep_live *L, uint64_t id)
{
    if (id < L->pending_base || id - L->pending_base >= (uint64_t)L->pending_cap)
        return NULL;
    return &L->pending[id - L->pending_base];
}

/* Makes the window hold id: slides it past the recorded ids at its start, then grows. */
static int
pending_reserve(ep_live *L, uint64_t id)
{
    if (id < L->pending_base)
        return EP_EINVAL;
    if (id - L->pending_base < (uint64_t)L->pending_cap)
        return 0;
    int64_t k = 0;
    while (k < L->pending_cap && !L->pending[k])
        k++;
    if (k > 0) {
        memmove(L->pending, L->pending + k, (size_t)(L->pending_cap - k) * sizeof *L->pending);
        memset(L->pending + L->pending_cap - k, 0, (size_t)k * sizeof *L->pending);
        L->pending_base += (uint64_t)k;
    }
    if (L->npending == 0)
        L->pending_base = id; /* nothing outstanding: start the window here */
    int64_t cap = L->pending_cap ? L->pending_cap : 4096;
    while ((uint64_t)cap <= id - L->pending_base)
        cap *= 2;
    if (cap > L->pending_cap) {
        node_request **p = realloc(L->pending, (size_t)cap * sizeof *p);
        if (!p)
            return EP_ENOMEM;
        memset(p + L->pending_cap, 0, (size_t)(cap - L->pending_cap) * sizeof *p);
        L->pending = p;
        L->pending_cap = cap;
    }
    return 0;
}

/* Port arrival of the loadgen: a new request goes to its ingress node, pending until its
 * outcome comes back. */
static void
loadgen_send(node_rt *s, node_request *r)
{
    ep_live *L = live_of(s);
    uint64_t id = r->rec.id;
    if (pending_reserve(L, id) != 0) {
        s->failed = EP_ENOMEM;
        node_request_finish(s, r, EP_OUT_DROPPED, "out of memory in the loadgen");
        return;
    }
    *pending_slot(L, id) = r;
    L->npending++;
    ep_msg_request q = to_wire(r);
    if (L->hooks.send(L->hooks.ctx, &q, r->rec.ingress, -1, s->eng.now) != 0)
        node_request_finish(s, r, EP_OUT_DROPPED, "ingress node unreachable");
}

/* --- state and demand --------------------------------------------------------------------- */

/* Recomputes the demand the policy sees from the live reports: kept current on every
 * arrival and every state report, so placements read it as it is. */
static void
live_demand(node_rt *s)
{
    ep_live *L = live_of(s);
    const ep_scenario *sc = s->sc;
    int ns = sc->nservices;
    for (int k = 0; k < ns; k++) {
        int64_t arr = 0;
        double in = 0, out = 0;
        for (int n = 0; n < sc->nnodes; n++) {
            const ep_msg_demand *d = &L->demand[n * ns + k];
            arr += d->arrivals;
            in += (double)d->sum_in;
            out += (double)d->sum_out;
        }
        s->arrivals[k] = arr;
        if (arr > 0) { /* running means replace the priors from the first arrival on */
            s->mean_in[k] = in / (double)arr;
            s->mean_out[k] = out / (double)arr;
        }
    }
}

/* Port sync of a node: its instances' state and its demand to its peers and the
 * controller. */
static void
role_node_sync(node_rt *s)
{
    ep_live *L = live_of(s);
    int n = 0;
    for (int i = 0; i < s->ninst; i++)
        n += s->inst[i]->node == s->local;
    int skip = n > EP_MSG_MAX_INSTANCES ? n - EP_MSG_MAX_INSTANCES : 0; /* oldest first */
    ep_msg_inst_state *v = calloc((size_t)n + 1, sizeof *v);
    if (!v) {
        s->failed = EP_ENOMEM;
        return;
    }
    int k = 0;
    for (int i = 0; i < s->ninst; i++) {
        if (s->inst[i]->node != s->local)
            continue;
        ep_instance_view *iv = &s->synced[i];
        node_current_view(s, s->inst[i], iv);
        if (skip > 0) {
            skip--;
            continue;
        }
        v[k++] = (ep_msg_inst_state){iv->id,      iv->queued,  iv->running,
                                     iv->backlog, iv->kv_free, iv->ready};
    }
    ep_msg_state st = {.node = s->local,
                       .time = s->eng.now,
                       .inst = v,
                       .n = k,
                       .demand = &L->demand[s->local * s->sc->nservices],
                       .nsvc = s->sc->nservices};
    if (L->hooks.on_sync)
        L->hooks.on_sync(L->hooks.ctx, &st);
    free(v);
}

/* Port run of a node with real engines (ep_live_hooks.run): the batch or iteration's
 * measured duration, or -1 when the cost model's t stands (the engine failed). */
static ep_dur
role_node_run(node_rt *s, node_instance *in, int batch, ep_dur t)
{
    ep_live *L = live_of(s);
    int n = 0, llm = s->sc->services[in->spec.service].kind == EP_SVC_LLM;
    if (llm || L->payloads) {
        if (in->nrunning > L->items_cap) {
            ep_live_item *a = realloc(L->items, (size_t)in->nrunning * 2 * sizeof *a);
            if (!a) {
                s->failed = EP_ENOMEM;
                return -1;
            }
            L->items = a;
            L->items_cap = in->nrunning * 2;
        }
        EP_LIST_FOREACH(&in->running, ln)
        {
            node_request *r = EP_CONTAINER_OF(ln, node_request, qnode);
            if (L->payloads && payload_make(L, r) == EP_ENOMEM)
                s->failed = EP_ENOMEM; /* it runs on the engine's own input */
            ep_live_item it = {.request = r->rec.id,
                               .tokens = 1,
                               .decode = llm,
                               .fresh = !llm,
                               .emits = 1,
                               .payload = r->payload,
                               .payload_len = r->payload ? r->payload_len : 0};
            if (llm && !r->prefilled) {
                if (r->chunk <= 0)
                    continue;
                it.tokens = (int)(r->chunk < INT32_MAX ? r->chunk : INT32_MAX);
                it.decode = 0;
                it.fresh = r->prefill_done == 0;
                it.emits = r->prefill_done + r->chunk >= r->kv_held;
            }
            L->items[n++] = it;
        }
    }
    L->running = in;
    ep_dur m = L->hooks.run(L->hooks.ctx, in->id, &in->spec, batch, n ? L->items : NULL, n, t);
    L->running = NULL;
    return m >= 0 ? m : -1;
}

/* Port finished of a node: the request whose record on_record gets next. */
static void
node_finished(node_rt *s, node_request *r)
{
    live_of(s)->finishing = r;
}

/* Port finished of the loadgen: the request is no longer pending. */
static void
loadgen_finished(node_rt *s, node_request *r)
{
    ep_live *L = live_of(s);
    node_request **slot = pending_slot(L, r->rec.id);
    if (slot && *slot == r) {
        *slot = NULL;
        L->npending--;
    }
}

/* Port placed of the controller: the placement goes to every node as the next epoch. */
static void
controller_placed(node_rt *s, const ep_placement *p)
{
    ep_live *L = live_of(s);
    L->epoch++;
    if (L->hooks.on_placement)
        L->hooks.on_placement(L->hooks.ctx, L->epoch, p->inst, p->n);
}

/* The port of a role: where its host hands off what leaves the process. */
static node_port
role_port(ep_live_role role, const ep_live_hooks *hooks)
{
    node_port port = {.stopwatch = ep_mono_s};
    if (role == EP_LIVE_NODE) {
        port.send = role_node_send;
        port.sync = role_node_sync;
        port.finished = node_finished;
        if (hooks->run)
            port.run = role_node_run;
    } else if (role == EP_LIVE_LOADGEN) {
        port.arrival = loadgen_send;
        port.finished = loadgen_finished;
    } else {
        port.placed = controller_placed;
    }
    return port;
}

/* --- the public API ----------------------------------------------------------------------- */

int
ep_live_new(const ep_scenario *sc, const ep_live_opts *o, ep_live **out, char *err, size_t errlen)
{
    *out = NULL;
    static const node_role roles[] = {NODE_ROLE_CONTROLLER, NODE_ROLE_NODE, NODE_ROLE_LOADGEN};
    const char *why = NULL;
    if ((unsigned)o->role > EP_LIVE_LOADGEN)
        why = "unknown role";
    else if (o->role == EP_LIVE_NODE && (o->node < 0 || o->node >= sc->nnodes))
        why = "node index outside the scenario's nodes";
    else if (o->role != EP_LIVE_CONTROLLER && !o->hooks.send)
        why = "no send hook";
    if (why) {
        if (err && errlen)
            snprintf(err, errlen, "%s", why);
        return EP_EINVAL;
    }
    ep_live *l = calloc(1, sizeof *l);
    if (!l)
        return EP_ENOMEM;
    l->hooks = o->hooks;
    l->epoch = -1;
    l->max_held = o->max_held > 0 ? o->max_held : LIVE_MAX_HELD_DEFAULT;
    l->link_mode = o->link_mode;
    l->result_timeout = o->result_timeout;
    l->payloads = o->payloads;
    l->pay.on = o->payloads != 0;
    l->payload_seed = o->payload_seed;
    l->demand = calloc((size_t)sc->nnodes * (size_t)sc->nservices + 1, sizeof *l->demand);
    node_port port = role_port(o->role, &o->hooks);
    int rc = l->demand ? node_setup(&l->s, sc, &o->sim, &l->res, roles[o->role],
                                    o->role == EP_LIVE_NODE ? o->node : -1, &port, err, errlen)
                       : EP_ENOMEM;
    if (!l->demand && err && errlen)
        snprintf(err, errlen, "out of memory");
    if (rc) {
        free(l->demand);
        free(l);
        return rc;
    }
    *out = l;
    return 0;
}

ep_time
ep_live_next(const ep_live *l)
{
    return node_next(&l->s);
}

/* Loadgen: records the oldest outstanding requests past their result timeout. Requests go
 * out in id order at their arrival times, so the oldest are at the window's start. */
static void
expire(ep_live *L)
{
    node_rt *s = &L->s;
    if (s->role != NODE_ROLE_LOADGEN || L->result_timeout <= 0)
        return;
    for (int64_t i = 0; i < L->pending_cap && L->npending > 0; i++) {
        node_request *r = L->pending[i];
        if (!r)
            continue;
        if (r->rec.arrival + L->result_timeout > s->eng.now)
            break;
        node_request_finish(s, r, EP_OUT_DROPPED, "no result from the testbed");
    }
}

int
ep_live_advance(ep_live *l, ep_time now)
{
    node_rt *s = &l->s;
    node_advance(s, now);
    expire(l);
    return s->failed;
}

int
ep_live_is_pending(const ep_live *l, uint64_t id)
{
    node_request **slot = pending_slot((ep_live *)l, id);
    return slot && *slot;
}

ep_time
ep_live_now(const ep_live *l)
{
    return l->s.eng.now;
}

int
ep_live_arrival(ep_live *l, ep_msg_request *q)
{
    node_rt *s = &l->s;
    if (s->role != NODE_ROLE_NODE || !wire_valid(s, q) || q->ingress != s->local)
        return EP_EINVAL;
    node_request *r = from_wire(s, q);
    if (!r)
        return EP_ENOMEM;
    payload_take(l, r, q);
    ep_msg_demand *d = &l->demand[s->local * s->sc->nservices + q->service];
    d->arrivals++;
    d->sum_in += q->input;
    d->sum_out += q->output;
    live_demand(s);
    if (s->in_flight > l->max_held) { /* shed overload explicitly, memory stays bounded */
        node_request_finish(s, r, EP_OUT_REJECTED, "node at its request limit");
        return s->failed;
    }
    node_route(s, r);
    return s->failed;
}

int
ep_live_forward_in(ep_live *l, ep_msg_forward *f)
{
    node_rt *s = &l->s;
    if (s->role != NODE_ROLE_NODE || !wire_valid(s, &f->req))
        return EP_EINVAL;
    node_request *r = from_wire(s, &f->req);
    if (!r)
        return EP_ENOMEM;
    payload_take(l, r, &f->req);
    if (s->in_flight > l->max_held) {
        node_request_finish(s, r, EP_OUT_REJECTED, "node at its request limit");
        return s->failed;
    }
    if (f->kind == EP_MSG_TO_INSTANCE && f->target < s->ninst)
        r->target = f->target; /* else (a placement not applied here yet): routed again */
    ep_time at = f->deliver_at > s->eng.now ? f->deliver_at : s->eng.now;
    if (l->link_mode == 0 && f->deliver_at >= 0) /* at the switch: down this node's link */
        at = node_pipe_send(&s->down[s->sc->nodes[s->local].link], at, f->req.bytes);
    node_event_init(&r->ev, node_arrive_event, EV_TRANSFER, (uint32_t)r->rec.id);
    return node_schedule(&s->eng, &r->ev, at);
}

int
ep_live_apply(ep_live *l, int64_t epoch, const ep_instance_spec *inst, int n)
{
    node_rt *s = &l->s;
    if (s->role != NODE_ROLE_NODE || n < 0)
        return EP_EINVAL;
    if (epoch <= l->epoch)
        return 0;
    ep_placement p = {calloc((size_t)n + 1, sizeof *p.inst), n, n, 0};
    if (!p.inst)
        return EP_ENOMEM;
    if (n)
        memcpy(p.inst, inst, (size_t)n * sizeof *inst);
    l->epoch = epoch;
    node_update_demand(s);
    s->res->placements++;
    int rc = node_apply_placement(s, &p, epoch == 0);
    free(p.inst);
    return rc;
}

void
ep_live_state_in(ep_live *l, const ep_msg_state *st)
{
    node_rt *s = &l->s;
    if (s->role == NODE_ROLE_LOADGEN || st->node < 0 || st->node >= s->sc->nnodes ||
        node_is_local(s, st->node))
        return;
    for (int i = 0; i < st->n; i++) {
        const ep_msg_inst_state *w = &st->inst[i];
        if (w->id < 0 || w->id >= s->ninst || s->inst[w->id]->node != st->node)
            continue; /* an instance of a placement not applied here yet */
        ep_instance_view *v = &s->synced[w->id];
        v->queued = w->queued;
        v->running = w->running;
        v->backlog = w->backlog;
        v->kv_free = w->kv_free;
        v->ready = w->ready && !s->inst[w->id]->retired;
        v->active = !s->inst[w->id]->retired;
        v->synced_at = st->time;
    }
    if (st->nsvc == s->sc->nservices) {
        memcpy(&l->demand[st->node * s->sc->nservices], st->demand,
               (size_t)st->nsvc * sizeof *st->demand);
        live_demand(s);
    }
}

void
ep_live_node_up(ep_live *l, int node, int up)
{
    node_rt *s = &l->s;
    if (node >= 0 && node < s->sc->nnodes && !node_is_local(s, node))
        s->node_up[node] = up != 0;
}

static const char *
intern(ep_live *L, const char *reason)
{
    if (!reason || !reason[0])
        return NULL;
    for (int i = 0; i < L->nreasons; i++)
        if (strcmp(L->reasons[i], reason) == 0)
            return L->reasons[i];
    char **a = realloc(L->reasons, (size_t)(L->nreasons + 1) * sizeof *a);
    char *c = a ? strdup(reason) : NULL;
    if (a)
        L->reasons = a;
    if (!c)
        return "reason not kept: out of memory";
    L->reasons[L->nreasons++] = c;
    return c;
}

int
ep_live_result(ep_live *l, const ep_msg_result *res)
{
    node_rt *s = &l->s;
    node_request **slot = s->role == NODE_ROLE_LOADGEN ? pending_slot(l, res->id) : NULL;
    if (!slot || !*slot || res->outcome < 0 || res->outcome > EP_OUT_UNFINISHED)
        return 0;
    node_request *r = *slot;
    ep_record *rec = &r->rec;
    if (res->output_len > 0) {
        l->pay.outputs++;
        l->pay.output_bytes += res->output_len;
    }
    rec->dispatch = res->dispatch == EP_MSG_NEVER ? 0 : res->dispatch;
    rec->first_token = res->first_token == EP_MSG_NEVER ? 0 : res->first_token;
    rec->done = res->done == EP_MSG_NEVER ? 0 : res->done;
    rec->instance = res->instance;
    rec->node = res->node;
    rec->batch = res->batch;
    rec->preemptions = res->preemptions;
    rec->hops = res->hops;
    if (res->hops > 0 && res->node != rec->ingress)
        s->res->forwarded++;
    s->res->preemptions += res->preemptions;
    node_request_finish(s, r, (ep_outcome)res->outcome, intern(l, res->reason));
    return 1;
}

int
ep_live_output_add(ep_live *l, uint64_t request, const uint8_t *bytes, int64_t n)
{
    node_request *r = NULL;
    if (!l->running || n < 0)
        return EP_ENOENT;
    EP_LIST_FOREACH(&l->running->running, ln)
    {
        node_request *q = EP_CONTAINER_OF(ln, node_request, qnode);
        if (q->rec.id == request) {
            r = q;
            break;
        }
    }
    if (!r)
        return EP_ENOENT;
    if (r->output_len + n > EP_MSG_PAYLOAD_MAX)
        return EP_ERANGE;
    if (r->output_len + n > r->output_cap) {
        int64_t cap = r->output_cap ? r->output_cap : 256;
        while (cap < r->output_len + n)
            cap *= 2;
        if (cap > EP_MSG_PAYLOAD_MAX)
            cap = EP_MSG_PAYLOAD_MAX;
        uint8_t *p = realloc(r->output, (size_t)cap);
        if (!p)
            return EP_ENOMEM;
        r->output = p;
        r->output_cap = cap;
    }
    if (n)
        memcpy(r->output + r->output_len, bytes, (size_t)n);
    r->output_len += n;
    return 0;
}

const uint8_t *
ep_live_output(ep_live *l, const ep_record *rec, int64_t *len)
{
    *len = 0;
    node_request *r = l->finishing;
    if (!l->payloads || rec->outcome != EP_OUT_COMPLETED)
        return NULL;
    l->pay.outputs++;
    if (r && r->rec.id == rec->id && r->output_len > 0) {
        l->pay.engine_outputs++;
        l->pay.output_bytes += r->output_len;
        *len = r->output_len;
        return r->output;
    }
    const ep_service *svc = &l->s.sc->services[rec->service];
    int64_t n = svc->kind == EP_SVC_LLM ? rec->output * svc->bytes_per_token : NODE_DNN_REPLY_BYTES;
    if (n > EP_MSG_PAYLOAD_MAX)
        n = EP_MSG_PAYLOAD_MAX;
    if (n > l->scratch_cap) {
        uint8_t *p = realloc(l->scratch, (size_t)n);
        if (!p)
            return NULL;
        l->scratch = p;
        l->scratch_cap = n;
    }
    ep_live_payload_fill(l->payload_seed ^ UINT64_C(0x6f7574), rec->id, l->scratch, n);
    l->pay.output_bytes += n;
    *len = n;
    return l->scratch;
}

ep_live_payload_stats
ep_live_payload_counts(const ep_live *l)
{
    return l->pay;
}

int64_t
ep_live_pending(const ep_live *l)
{
    return l->npending;
}

int
ep_live_sources_done(const ep_live *l)
{
    for (int i = 0; i < l->s.nsrc; i++)
        if (l->s.src[i].has_row)
            return 0;
    return 1;
}

ep_time
ep_live_end(const ep_live *l)
{
    return l->s.end;
}

int
ep_live_finish(ep_live *l, ep_run_result *out)
{
    if (!l)
        return 0;
    node_rt *s = &l->s;
    for (int64_t i = 0; i < l->pending_cap; i++) /* loadgen: sent, no outcome came back */
        if (l->pending[i])
            node_request_finish(s, l->pending[i], EP_OUT_DROPPED, "no result from the testbed");
    l->npending = 0;
    node_drain(s);
    s->res->sim_time_s = ep_dur_to_s(s->eng.now);
    s->res->events = s->eng.events;
    s->res->event_hash = s->eng.hash;
    int rc = node_metrics_finish(s->m, s->sc, s->res);
    node_free(s);
    free(l->pending);
    free(l->items);
    for (int i = 0; i < l->nreasons; i++)
        free(l->reasons[i]);
    free(l->reasons);
    free(l->demand);
    free(l->scratch);
    if (out)
        *out = l->res;
    else
        ep_run_result_fini(&l->res);
    free(l);
    return rc;
}
