/* The simulator host, request side: network sends, the request pool and its records, the
 * views the policy sees (current on the routing node, synced elsewhere), routing through the
 * policy, instance queues and busy periods. Every request gets exactly one record. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"
#include "node_internal.h"

static const char *const outcome_names[] = {"completed", "rejected", "dropped", "unfinished"};

const char *
ep_outcome_name(ep_outcome o)
{
    return (unsigned)o < 4 ? outcome_names[o] : "unknown";
}

/* --- network -------------------------------------------------------------------------- */

ep_dur
node_delay(const node_rt *s, int a, int b, int64_t bytes)
{
    if (a == b)
        return 0;
    const node_pipe *u = &s->up[s->sc->nodes[a].link], *d = &s->down[s->sc->nodes[b].link];
    return node_pipe_cost(u, bytes) + u->latency + node_pipe_cost(d, bytes) + d->latency;
}

ep_dur
node_view_delay(const ep_view *v, int a, int b, int64_t bytes)
{
    return node_delay(v->host_, a, b, bytes);
}

void
node_send(node_rt *s, node_request *r, int dst)
{
    if (r->at_node == dst) { /* at rest on its node, dst_node is at_node: arrives at once */
        node_arrive(s, r);
        return;
    }
    EP_ASSERT(s->port.send); /* only roles that host instances route */
    s->port.send(s, r, dst);
}

void
node_arrive_event(node_rt *s, node_event *ev)
{
    node_arrive(s, EP_CONTAINER_OF(ev, node_request, ev));
}

void
node_arrive(node_rt *s, node_request *r)
{
    r->at_node = r->dst_node;
    if (!s->node_up[r->at_node]) {
        node_request_finish(s, r, EP_OUT_DROPPED, "node down");
        return;
    }
    if (r->target >= 0) {
        node_instance *in = s->inst[r->target];
        if (!in->retired && s->node_up[in->node] && node_is_local(s, in->node)) {
            node_enqueue(s, r, in);
            return;
        }
        r->target = -1; /* its instance went away in transit: node_route again */
    }
    node_route(s, r);
}

/* --- requests ------------------------------------------------------------------------- */

node_request *
node_request_alloc(node_rt *s)
{
    node_request *r = s->pool;
    if (r) {
        s->pool = r->pool_next;
    } else {
        r = malloc(sizeof *r);
        if (!r)
            return NULL;
    }
    memset(r, 0, sizeof *r);
    ep_list_node_init(&r->qnode);
    node_event_init(&r->ev, node_arrive_event, EV_TRANSFER, 0);
    s->in_flight++;
    return r;
}

void
node_request_free_bytes(node_request *r)
{
    free(r->payload);
    free(r->output);
    r->payload = r->output = NULL;
    r->payload_len = r->output_len = r->output_cap = 0;
}

static int
slo_met(const ep_scenario *sc, const ep_record *rec)
{
    const ep_service *svc = &sc->services[rec->service];
    if (rec->outcome != EP_OUT_COMPLETED)
        return 0;
    if (svc->kind == EP_SVC_LLM) {
        if (rec->first_token - rec->arrival > svc->slo.ttft)
            return 0;
        if (rec->output > 1) {
            double tpot = (double)(rec->done - rec->first_token) / (double)(rec->output - 1);
            if (tpot > (double)svc->slo.tpot)
                return 0;
        }
        return 1;
    }
    ep_dur limit = svc->slo.fps > 0 ? svc->slo.frame_deadline : svc->slo.deadline;
    return rec->done - rec->arrival <= limit;
}

void
node_request_finish(node_rt *s, node_request *r, ep_outcome o, const char *reason)
{
    ep_record *rec = &r->rec;
    rec->outcome = o;
    rec->reason = reason;
    if (o != EP_OUT_COMPLETED && rec->done == 0)
        rec->done = s->eng.now;
    rec->slo_met = slo_met(s->sc, rec);
    rec->in_window = rec->arrival >= s->window_lo && rec->arrival < s->window_hi;
    if (rec->instance < 0 && r->target >= 0)
        rec->instance = r->target;
    if (s->port.finished)
        s->port.finished(s, r);
    if (!s->quiet) { /* a failed run reports nothing */
        node_metrics_add(s->m, s->sc, rec);
        if (s->opts.on_record)
            s->opts.on_record(s->opts.ctx, rec);
    }
    s->in_flight--;
    node_request_free_bytes(r);
    r->pool_next = s->pool;
    s->pool = r;
}

/* --- views ---------------------------------------------------------------------------- */

/* Live numbers of instance in, as its own node sees them. */
void
node_current_view(node_rt *s, const node_instance *in, ep_instance_view *v)
{
    const ep_scenario *sc = s->sc;
    v->spec = in->spec;
    v->id = in->id;
    v->node = in->node;
    v->ready = in->ready && !in->retired && s->node_up[in->node] && !node_instance_split(s, in);
    v->active = !in->retired;
    v->queued = (int)in->queue.len;
    v->running = in->nrunning;
    v->synced_at = s->eng.now;
    ep_dur rest = in->busy ? in->busy_since + in->batch_time - s->eng.now : 0;
    if (rest < 0)
        rest = 0;
    const ep_service *svc = &sc->services[in->spec.service];
    if (svc->kind == EP_SVC_LLM) {
        v->kv_free = in->kv_cap - in->kv_used;
        v->backlog = rest + in->queued_prefill;
    } else {
        v->kv_free = -1;
        int maxb = in->spec.max_batch > 0 ? in->spec.max_batch : svc->max_batch;
        int64_t batches = ((int64_t)in->queue.len + maxb - 1) / maxb;
        ep_dur interval;
        ep_dur one = ep_pol_dnn_batch(&s->view, &in->spec, maxb, &interval);
        v->backlog = rest + batches * (interval > 0 ? interval : one);
    }
}

/* The view from at_node (-1: the centralized scheduler, which sees every instance as it is now and
 * sits on the side of a partition that was not cut off). */
void
node_refresh_view(node_rt *s, int at_node)
{
    int vp = s->vpart; /* a partition the views know of (the simulator's sync sets it) */
    if (!vp && s->role == NODE_ROLE_ALL && at_node >= 0) {
        /* The common case, per routed request: every instance as synced but at_node's, current.
         * Only the entries that changed since the last refresh are copied. */
        if (!s->iview_synced) {
            if (s->ninst > 0)
                memcpy(s->iview, s->synced, (size_t)s->ninst * sizeof *s->iview);
            s->iview_synced = 1;
        } else {
            for (int j = 0; j < s->ncurrent; j++)
                s->iview[s->current_idx[j]] = s->synced[s->current_idx[j]];
        }
        s->ncurrent = 0;
        for (int i = 0; i < s->ninst; i++)
            if (s->inst_node[i] == at_node) {
                node_current_view(s, s->inst[i], &s->iview[i]);
                s->current_idx[s->ncurrent++] = i;
            }
        s->view.node_up = s->node_up;
        s->view.inst = s->iview;
        s->view.ninst = s->ninst;
        return;
    }
    s->iview_synced = 0;
    int side = vp && at_node >= 0 ? s->vcut[at_node] : 0;
    for (int i = 0; i < s->ninst; i++) {
        int node = s->inst[i]->node;
        int current =
                s->role == NODE_ROLE_ALL ? at_node < 0 || node == at_node : node_is_local(s, node);
        if (vp && s->vcut[node] != side) {
            s->iview[i] = s->frozen[i]; /* no sync crosses the cut: the last one before it */
            s->iview[i].ready = 0;
        } else if (current) {
            node_current_view(s, s->inst[i], &s->iview[i]);
        } else {
            s->iview[i] = s->synced[i];
        }
    }
    s->view.node_up = s->node_up;
    if (vp) {
        for (int n = 0; n < s->sc->nnodes; n++)
            s->vnode_up[n] = s->node_up[n] && s->vcut[n] == side;
        s->view.node_up = s->vnode_up;
    }
    s->view.inst = s->iview;
    s->view.ninst = s->ninst;
}

/* Applies a snapshot: an instance's view is replaced only by a newer one (delayed messages
 * may arrive out of order when the delay shrinks). */
static void
apply_sync(node_rt *s, const ep_instance_view *v, int n)
{
    for (int i = 0; i < n && i < s->ninst; i++)
        if (v[i].synced_at >= s->synced[i].synced_at) {
            s->synced[i] = v[i];
            s->iview_synced = 0;
        }
}

void
node_sync_deliver(node_rt *s, node_event *ev)
{
    node_sync_msg *m = EP_CONTAINER_OF(ev, node_sync_msg, ev);
    apply_sync(s, m->v, m->n);
    free(m);
}

void
node_snapshot(node_rt *s)
{
    for (int i = 0; i < s->ninst; i++)
        node_current_view(s, s->inst[i], &s->synced[i]);
    s->iview_synced = 0;
}

void
node_snapshot_later(node_rt *s, ep_dur delay)
{
    node_sync_msg *m = malloc(sizeof *m + (size_t)s->ninst * sizeof m->v[0] + 1);
    if (!m) {
        s->failed = EP_ENOMEM;
        return;
    }
    m->n = s->ninst;
    for (int i = 0; i < s->ninst; i++)
        node_current_view(s, s->inst[i], &m->v[i]);
    node_event_init(&m->ev, node_sync_deliver, EV_SYNC_DELIVER, 0);
    node_schedule(&s->eng, &m->ev, s->eng.now + delay);
}

void
node_sync_tick(node_rt *s, node_event *ev)
{
    s->port.sync(s);
    node_schedule(&s->eng, ev, s->eng.now + s->sc->run.sync_period);
}

/* --- routing and queues --------------------------------------------------------------- */

void
node_enqueue(node_rt *s, node_request *r, node_instance *in)
{
    r->target = in->id;
    r->rec.instance = in->id;
    r->rec.node = in->node;
    if (node_instance_split(s, in)) {
        node_request_finish(s, r, EP_OUT_DROPPED, "network partition");
        return;
    }
    const ep_service *svc = &s->sc->services[in->spec.service];
    if (svc->kind == EP_SVC_LLM && node_llm_admit(s, in, r) != 0) {
        node_request_finish(s, r, EP_OUT_REJECTED, "exceeds KV capacity of the instance");
        return;
    }
    r->due = r->deadline;
    if (svc->kind == EP_SVC_DNN)
        r->due -= node_delay(s, in->node, r->rec.ingress, NODE_DNN_REPLY_BYTES);
    if (in->spec.order == EP_QUEUE_EDF) {
        /* Insert after every request due earlier or at the same time (stable). */
        ep_list_node *pos = NULL;
        for (ep_list_node *n = ep_list_last(&in->queue); n;
             n = n->prev == &in->queue.head ? NULL : n->prev) {
            if (EP_CONTAINER_OF(n, node_request, qnode)->due <= r->due) {
                pos = n;
                break;
            }
        }
        if (pos)
            ep_list_insert_before(&in->queue, pos->next, &r->qnode);
        else
            ep_list_push_front(&in->queue, &r->qnode);
    } else {
        ep_list_push_back(&in->queue, &r->qnode);
    }
    if (svc->kind == EP_SVC_LLM) {
        int64_t ctx = r->rec.input + r->generated;
        r->prefill_est =
                ep_pol_llm_iteration(&s->view, &in->spec, ctx, (double)ctx * (double)ctx, 0, 0);
        in->queued_prefill += r->prefill_est;
    }
    node_instance_kick(s, in);
}

void
node_route(node_rt *s, node_request *r)
{
    ep_request_info ri = {
            .id = r->rec.id,
            .service = r->rec.service,
            .ingress = r->rec.ingress,
            .at_node = r->at_node,
            .hops = r->rec.hops,
            .arrival = r->rec.arrival,
            .deadline = r->deadline,
            .input = r->rec.input,
            .output = r->rec.output,
            .bytes = r->bytes,
            .stream = r->stream,
            .frame = r->frame,
    };
    node_refresh_view(s, r->at_node);
    s->env.now = s->eng.now;
    ep_route d = {EP_ROUTE_REJECT, -1, -1, "the policy's route gave no decision"};
    void *st = node_pol_state(s, r->at_node); /* the deciding node's */
    node_plog_begin(s, NODE_PL_ROUTE);
    s->pol->route(st, &s->env, &s->view, &ri, &d);
    if (s->opts.policy_log) {
        int32_t o[3] = {(int32_t)d.kind, d.instance, d.node};
        node_plog_data(s, &ri, sizeof ri);
        node_plog_data(s, o, sizeof o);
        node_plog_end(s);
    }
    if (s->opts.on_decision) {
        ep_decision dec = {.kind = EP_DECIDE_ROUTE,
                           .at = s->eng.now,
                           .request = ri.id,
                           .node = ri.at_node,
                           .route = &d};
        s->opts.on_decision(s->opts.ctx, &dec);
    }
    switch (d.kind) {
    case EP_ROUTE_DISPATCH: {
        if (d.instance < 0 || d.instance >= s->ninst ||
            s->inst[d.instance]->spec.service != r->rec.service) {
            node_request_finish(s, r, EP_OUT_REJECTED, "policy chose an invalid instance");
            return;
        }
        node_instance *in = s->inst[d.instance];
        if (in->node == r->at_node) {
            node_enqueue(s, r, in);
            return;
        }
        if (r->at_node == r->rec.ingress)
            s->res->forwarded++;
        r->rec.hops++;
        r->target = in->id;
        node_send(s, r, in->node);
        return;
    }
    case EP_ROUTE_FORWARD:
        if (d.node < 0 || d.node >= s->sc->nnodes || d.node == r->at_node) {
            node_request_finish(s, r, EP_OUT_REJECTED, "policy chose an invalid node");
            return;
        }
        if (r->at_node == r->rec.ingress)
            s->res->forwarded++;
        r->rec.hops++;
        r->target = -1;
        node_send(s, r, d.node);
        return;
    default:
        node_request_finish(s, r, EP_OUT_REJECTED, d.reason ? d.reason : "rejected by policy");
        return;
    }
}

int
node_instance_split(const node_rt *s, const node_instance *in)
{
    if (!s->part)
        return 0;
    for (int d = 1; d < in->spec.ndev; d++)
        if (s->cut[s->sc->devices[in->spec.devs[d]].node] != s->cut[in->node])
            return 1;
    return 0;
}

double
node_instance_slow(const node_rt *s, const node_instance *in)
{
    double f = 1;
    for (int d = 0; d < in->spec.ndev; d++)
        if (s->dev_slow[in->spec.devs[d]] > f)
            f = s->dev_slow[in->spec.devs[d]];
    return f;
}

static ep_dur
stretch(ep_dur t, double f)
{
    double scaled = (double)t * f;
    return scaled < 4e18 ? ep_round_i64(scaled) : (ep_dur)4e18;
}

/* Whether instance in has its devices to itself while it runs: in SINGLE mode, or on a
 * serial device class (one batch at a time whatever the mode). */
static int
runs_alone(const node_rt *s, const node_instance *in)
{
    if (in->spec.mode == EP_MODE_SINGLE)
        return 1;
    for (int d = 0; d < in->spec.ndev; d++)
        if (s->sc->specs[s->sc->devices[in->spec.devs[d]].spec].serial)
            return 1;
    return 0;
}

/* The parallel mode as the host applies it on a device: a SINGLE instance (or any on a
 * serial device) has its device to itself (it starts only when nothing else runs there,
 * and nothing else starts while it runs); MT instances (and TP/PP groups) run concurrently
 * with each other, slowed by the co-location factor (ep_cost_mt_slowdown). Whether
 * instance in may start now. */
static int
device_free_for(const node_rt *s, const node_instance *in)
{
    int single = runs_alone(s, in);
    for (int d = 0; d < in->spec.ndev; d++) {
        int dev = in->spec.devs[d];
        if (s->dev_excl[dev] > 0 || (single && s->dev_busy[dev] > 0))
            return 0;
    }
    return 1;
}

ep_dur
node_instance_begin(node_rt *s, node_instance *in, ep_dur t)
{
    /* MT: instances busy on the same device at the same time slow each other down. */
    int k_busy = 0, alone = runs_alone(s, in);
    for (int d = 0; d < in->spec.ndev; d++) {
        int dev = in->spec.devs[d];
        s->dev_excl[dev] += alone;
        in->excl = alone;
        if (s->dev_busy[dev]++ == 0)
            s->dev_since[dev] = s->eng.now; /* the device turns busy */
        if (s->dev_busy[dev] > k_busy)
            k_busy = s->dev_busy[dev];
    }
    if (k_busy > 1 && !s->port.run) /* a real engine's time includes the slowdown */
        t = stretch(t, ep_cost_mt_slowdown(s->sc, k_busy));
    /* A throttled device (slow_device fault) slows every batch that starts on it; a
     * multi-device instance runs at its slowest device's pace. */
    double slow = node_instance_slow(s, in);
    if (slow > 1)
        t = stretch(t, slow);
    in->busy = 1;
    in->busy_since = s->eng.now;
    in->batch_time = t;
    return t;
}

void
node_instance_end(node_rt *s, node_instance *in)
{
    int waiters = 0;
    for (int d = 0; d < in->spec.ndev; d++) {
        int dev = in->spec.devs[d];
        s->dev_excl[dev] -= in->excl;
        if (--s->dev_busy[dev] == 0) /* busy time: at least one instance running on it */
            s->dev_busy_s[dev] += ep_dur_to_s(s->eng.now - s->dev_since[dev]);
        waiters += s->dev_waiters[dev];
    }
    in->busy = 0;
    /* Instances that waited for one of these devices get another look, in id order. */
    for (int i = 0; waiters > 0 && i < s->ninst; i++)
        if (s->inst[i] != in && s->inst[i]->dev_wait)
            node_instance_kick(s, s->inst[i]);
}

void
node_instance_wait(node_rt *s, node_instance *in, int wait)
{
    if (wait == in->dev_wait)
        return;
    in->dev_wait = wait;
    for (int d = 0; d < in->spec.ndev; d++)
        s->dev_waiters[in->spec.devs[d]] += wait ? 1 : -1;
}

void
node_instance_kick(node_rt *s, node_instance *in)
{
    if (in->busy)
        return;
    int llm = s->sc->services[in->spec.service].kind == EP_SVC_LLM;
    /* Something to run (LLM iterations continue while requests run, even with an empty
     * queue), where it can run now. */
    int want = in->ready && s->node_up[in->node] && node_is_local(s, in->node) &&
               !node_instance_split(s, in) &&
               (!ep_list_empty(&in->queue) || (llm && in->nrunning > 0));
    int free_now = want && device_free_for(s, in);
    node_instance_wait(s, in, want && !free_now);
    if (!free_now)
        return;
    if (llm)
        node_llm_start(s, in);
    else
        node_dnn_start(s, in);
}

void
node_instance_event(node_rt *s, node_event *ev)
{
    node_instance *in = EP_CONTAINER_OF(ev, node_instance, ev);
    if (!in->ready) { /* load finished */
        in->ready = 1;
        node_instance_kick(s, in);
        return;
    }
    if (s->sc->services[in->spec.service].kind == EP_SVC_LLM)
        node_llm_iter_done(s, ev);
    else
        node_dnn_batch_done(s, ev);
}

/* --- driving the runtime ------------------------------------------------------------------ */

ep_time
node_next(const node_rt *s)
{
    ep_time at;
    return ep_heap_min_key(&s->eng.heap, &at, NULL) ? at : EP_TIME_MAX;
}

int
node_step(node_rt *s, ep_time until)
{
    node_event *ev;
    if (s->failed || (ev = node_engine_next(&s->eng, until)) == NULL)
        return 0;
    ev->fn(s, ev);
    return 1;
}

int
node_advance(node_rt *s, ep_time now)
{
    while (node_step(s, now))
        ;
    if (s->eng.now < now)
        s->eng.now = now;
    return s->failed;
}
