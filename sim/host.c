/* The simulator host: builds the runtime cluster from a scenario, streams the workload from
 * the trace database, asks the policy for placements and routes, moves requests over the
 * network model, runs faults, synchronization and placement ticks, and gives every request
 * exactly one record. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "epara/error.h"
#include "epara/profile.h"
#include "sim_internal.h"

/* One workload source: a streaming reader and the arrival event of its next row. */
typedef struct sim_source {
    sim_event ev;
    ep_trace_reader *r;
    const ep_workload *w;
    ep_trace_row row; /* next row, valid while has_row */
    int has_row;
    ep_time next_at;
    double scale; /* arrival time multiplier */
    int rr;       /* round-robin over ingress nodes */
} sim_source;

/* A policy timer: a rare event, allocated when armed and freed when run. */
typedef struct sim_timer {
    sim_event ev;
    uint64_t cookie;
} sim_timer;

/* A scheduled fault. */
typedef struct sim_fault_ev {
    sim_event ev;
    const ep_fault *f;
} sim_fault_ev;

static const char *const outcome_names[] = {"completed", "rejected", "dropped", "unfinished"};

const char *
ep_outcome_name(ep_outcome o)
{
    return (unsigned)o < 4 ? outcome_names[o] : "unknown";
}

/* --- network -------------------------------------------------------------------------- */

ep_dur
sim_delay(const sim *s, int a, int b, int64_t bytes)
{
    if (a == b)
        return 0;
    const sim_pipe *u = &s->up[s->sc->nodes[a].link], *d = &s->down[s->sc->nodes[b].link];
    return sim_pipe_cost(u, bytes) + u->latency + sim_pipe_cost(d, bytes) + d->latency;
}

static ep_dur
view_delay(const ep_view *v, int a, int b, int64_t bytes)
{
    return sim_delay(v->host_, a, b, bytes);
}

static void transfer_hop(sim *s, sim_event *ev);
static void route(sim *s, sim_request *r);
static void enqueue(sim *s, sim_request *r, sim_instance *in);

void
sim_send(sim *s, sim_request *r, int dst)
{
    if (r->at_node == dst) {
        transfer_hop(s, &r->ev); /* arrives at once */
        return;
    }
    int lu = s->sc->nodes[r->at_node].link;
    if (!s->link_up[lu] || !s->link_up[s->sc->nodes[dst].link]) {
        sim_request_finish(s, r, EP_OUT_DROPPED, "link down");
        return;
    }
    r->dst_node = dst;
    r->hop_stage = 0;
    sim_event_init(&r->ev, transfer_hop, EV_TRANSFER, (uint32_t)r->rec.id);
    sim_schedule(&s->eng, &r->ev, sim_pipe_send(&s->up[lu], s->eng.now, r->bytes));
}

/* Transfer progress: at the switch, go down the destination's link; at the destination,
 * hand over to the instance or route again. */
static void
transfer_hop(sim *s, sim_event *ev)
{
    sim_request *r = EP_CONTAINER_OF(ev, sim_request, ev);
    if (r->at_node != r->dst_node && r->hop_stage == 0) {
        int ld = s->sc->nodes[r->dst_node].link;
        if (!s->link_up[ld]) {
            sim_request_finish(s, r, EP_OUT_DROPPED, "link down");
            return;
        }
        r->hop_stage = 1;
        sim_event_init(&r->ev, transfer_hop, EV_TRANSFER, (uint32_t)r->rec.id);
        sim_schedule(&s->eng, &r->ev, sim_pipe_send(&s->down[ld], s->eng.now, r->bytes));
        return;
    }
    r->at_node = r->dst_node;
    if (!s->node_up[r->at_node]) {
        sim_request_finish(s, r, EP_OUT_DROPPED, "node down");
        return;
    }
    if (r->target >= 0) {
        sim_instance *in = s->inst[r->target];
        if (!in->retired && s->node_up[in->node]) {
            enqueue(s, r, in);
            return;
        }
        r->target = -1; /* its instance went away in transit: route again */
    }
    route(s, r);
}

/* --- requests ------------------------------------------------------------------------- */

static sim_request *
request_alloc(sim *s)
{
    sim_request *r = s->pool;
    if (r) {
        s->pool = r->pool_next;
    } else {
        r = malloc(sizeof *r);
        if (!r)
            return NULL;
    }
    memset(r, 0, sizeof *r);
    ep_list_node_init(&r->qnode);
    sim_event_init(&r->ev, transfer_hop, EV_TRANSFER, 0);
    s->in_flight++;
    return r;
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
sim_request_finish(sim *s, sim_request *r, ep_outcome o, const char *reason)
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
    if (!s->quiet) { /* a failed run reports nothing */
        sim_metrics_add(s->m, s->sc, rec);
        if (s->opts.on_record)
            s->opts.on_record(s->opts.ctx, rec);
    }
    s->in_flight--;
    r->pool_next = s->pool;
    s->pool = r;
}

/* --- views ---------------------------------------------------------------------------- */

/* Live numbers of instance in, as its own node sees them. */
static void
live_view(sim *s, const sim_instance *in, ep_instance_view *v)
{
    const ep_scenario *sc = s->sc;
    v->spec = in->spec;
    v->id = in->id;
    v->node = in->node;
    v->ready = in->ready && !in->retired && s->node_up[in->node];
    v->queued = (int)in->queue.len;
    v->running = in->nrunning;
    v->synced_at = s->eng.now;
    ep_dur rest = in->busy ? in->busy_since + in->batch_time - s->eng.now : 0;
    if (rest < 0)
        rest = 0;
    const ep_service *svc = &sc->services[in->spec.service];
    int spec0 = sc->devices[in->spec.devs[0]].spec;
    if (svc->kind == EP_SVC_LLM) {
        v->kv_free = in->kv_cap - in->kv_used;
        int64_t toks = in->queued_tokens;
        v->backlog = rest + (toks ? ep_cost_llm_prefill(sc, in->spec.service, spec0, toks) : 0);
    } else {
        v->kv_free = -1;
        int maxb = in->spec.max_batch > 0 ? in->spec.max_batch : svc->max_batch;
        int64_t batches = ((int64_t)in->queue.len + maxb - 1) / maxb;
        v->backlog = rest + batches * ep_cost_dnn_batch(sc, in->spec.service, spec0, maxb);
    }
}

static void
refresh_view(sim *s, int at_node)
{
    for (int i = 0; i < s->ninst; i++) {
        if (at_node < 0 || s->inst[i]->node == at_node)
            live_view(s, s->inst[i], &s->iview[i]);
        else
            s->iview[i] = s->synced[i];
    }
    s->view.inst = s->iview;
    s->view.ninst = s->ninst;
}

static void
sync_tick(sim *s, sim_event *ev)
{
    if (!s->sync_loss)
        for (int i = 0; i < s->ninst; i++)
            live_view(s, s->inst[i], &s->synced[i]);
    sim_schedule(&s->eng, ev, s->eng.now + s->sc->run.sync_period);
}

/* --- routing and queues --------------------------------------------------------------- */

static void
enqueue(sim *s, sim_request *r, sim_instance *in)
{
    r->target = in->id;
    r->rec.instance = in->id;
    r->rec.node = in->node;
    const ep_service *svc = &s->sc->services[in->spec.service];
    if (svc->kind == EP_SVC_LLM && sim_llm_admit(s, in, r) != 0) {
        sim_request_finish(s, r, EP_OUT_REJECTED, "exceeds KV capacity of the instance");
        return;
    }
    if (in->spec.order == EP_QUEUE_EDF) {
        /* Insert after every request with an earlier or equal deadline (stable). */
        ep_list_node *pos = NULL;
        for (ep_list_node *n = ep_list_last(&in->queue); n;
             n = n->prev == &in->queue.head ? NULL : n->prev) {
            if (EP_CONTAINER_OF(n, sim_request, qnode)->deadline <= r->deadline) {
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
    in->queued_tokens += r->rec.input + r->generated;
    sim_instance_kick(s, in);
}

static void
route(sim *s, sim_request *r)
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
    refresh_view(s, r->at_node);
    s->env.now = s->eng.now;
    ep_route d = {EP_ROUTE_REJECT, -1, -1, "no route"};
    s->pol->route(s->pol_state, &s->env, &s->view, &ri, &d);
    switch (d.kind) {
    case EP_ROUTE_DISPATCH: {
        if (d.instance < 0 || d.instance >= s->ninst ||
            s->inst[d.instance]->spec.service != r->rec.service) {
            sim_request_finish(s, r, EP_OUT_REJECTED, "policy chose an invalid instance");
            return;
        }
        sim_instance *in = s->inst[d.instance];
        if (in->node == r->at_node) {
            enqueue(s, r, in);
            return;
        }
        if (r->at_node == r->rec.ingress)
            s->res->forwarded++;
        r->rec.hops++;
        r->target = in->id;
        sim_send(s, r, in->node);
        return;
    }
    case EP_ROUTE_FORWARD:
        if (d.node < 0 || d.node >= s->sc->nnodes || d.node == r->at_node) {
            sim_request_finish(s, r, EP_OUT_REJECTED, "policy chose an invalid node");
            return;
        }
        if (r->at_node == r->rec.ingress)
            s->res->forwarded++;
        r->rec.hops++;
        r->target = -1;
        sim_send(s, r, d.node);
        return;
    default:
        sim_request_finish(s, r, EP_OUT_REJECTED, d.reason ? d.reason : "rejected by policy");
        return;
    }
}

ep_dur
sim_instance_begin(sim *s, sim_instance *in, ep_dur t)
{
    /* MT: instances busy on the same device at the same time slow each other down. */
    int k_busy = 0;
    for (int d = 0; d < in->spec.ndev; d++) {
        int dev = in->spec.devs[d];
        if (++s->dev_busy[dev] > k_busy)
            k_busy = s->dev_busy[dev];
    }
    if (k_busy > 1) {
        double scaled = (double)t * ep_cost_mt_slowdown(s->sc, k_busy);
        t = scaled < 4e18 ? (ep_dur)llround(scaled) : (ep_dur)4e18;
    }
    in->busy = 1;
    in->busy_since = s->eng.now;
    in->batch_time = t;
    return t;
}

void
sim_instance_end(sim *s, sim_instance *in)
{
    for (int d = 0; d < in->spec.ndev; d++) {
        int dev = in->spec.devs[d];
        s->dev_busy[dev]--;
        s->dev_busy_s[dev] += ep_dur_to_s(s->eng.now - in->busy_since);
    }
    in->busy = 0;
}

void
sim_instance_kick(sim *s, sim_instance *in)
{
    if (!in->ready || in->busy || !s->node_up[in->node])
        return;
    if (s->sc->services[in->spec.service].kind == EP_SVC_LLM) {
        /* Iterations continue while requests run, even with an empty queue. */
        if (!ep_list_empty(&in->queue) || in->nrunning > 0)
            sim_llm_start(s, in);
    } else if (!ep_list_empty(&in->queue)) {
        sim_dnn_start(s, in);
    }
}

static void
instance_event(sim *s, sim_event *ev)
{
    sim_instance *in = EP_CONTAINER_OF(ev, sim_instance, ev);
    if (!in->ready) { /* load finished */
        in->ready = 1;
        sim_instance_kick(s, in);
        return;
    }
    if (s->sc->services[in->spec.service].kind == EP_SVC_LLM)
        sim_llm_iter_done(s, ev);
    else
        sim_dnn_batch_done(s, ev);
}

/* --- placement ------------------------------------------------------------------------ */

static int
spec_equal(const ep_instance_spec *a, const ep_instance_spec *b)
{
    if (a->service != b->service || a->mode != b->mode || a->ndev != b->ndev ||
        a->max_batch != b->max_batch || a->order != b->order)
        return 0;
    for (int i = 0; i < a->ndev; i++)
        if (a->devs[i] != b->devs[i])
            return 0;
    return 1;
}

/* Checks one desired instance against the cluster; NULL when valid, else why not. */
static const char *
spec_invalid(const sim *s, const ep_instance_spec *sp)
{
    const ep_scenario *sc = s->sc;
    if (sp->service < 0 || sp->service >= sc->nservices)
        return "unknown service";
    if (sp->ndev < 1 || sp->ndev > EP_MAX_STAGE_DEVS)
        return "bad device count";
    if ((sp->mode == EP_MODE_SINGLE || sp->mode == EP_MODE_MT) && sp->ndev != 1)
        return "single-device mode with several devices";
    for (int i = 0; i < sp->ndev; i++) {
        if (sp->devs[i] < 0 || sp->devs[i] >= sc->ndevices)
            return "unknown device";
        for (int j = 0; j < i; j++)
            if (sp->devs[j] == sp->devs[i])
                return "device listed twice";
        if (sp->mode == EP_MODE_TP &&
            sc->devices[sp->devs[i]].node != sc->devices[sp->devs[0]].node)
            return "tensor parallel across nodes";
    }
    return NULL;
}

static int
grow_instances(sim *s)
{
    if (s->ninst < s->cap_inst)
        return 0;
    int cap = s->cap_inst ? s->cap_inst * 2 : 16;
    sim_instance **a = realloc(s->inst, (size_t)cap * sizeof *a);
    if (!a)
        return EP_ENOMEM;
    s->inst = a;
    ep_instance_view *v = realloc(s->iview, (size_t)cap * sizeof *v);
    if (!v)
        return EP_ENOMEM;
    s->iview = v;
    ep_instance_view *w = realloc(s->synced, (size_t)cap * sizeof *w);
    if (!w)
        return EP_ENOMEM;
    s->synced = w;
    s->cap_inst = cap;
    return 0;
}

static void
retire(sim *s, sim_instance *in)
{
    in->retired = 1;
    /* Waiting requests go back to the router on the instance's node. */
    ep_list_node *n;
    in->queued_tokens = 0;
    while ((n = ep_list_pop_front(&in->queue)) != NULL) {
        sim_request *r = EP_CONTAINER_OF(n, sim_request, qnode);
        r->target = -1;
        r->at_node = in->node;
        route(s, r);
    }
}

static int
apply_placement(sim *s, ep_placement *p, int initial)
{
    const ep_scenario *sc = s->sc;
    int *keep = calloc((size_t)p->n + 1, sizeof *keep);
    double *used = calloc((size_t)sc->ndevices, sizeof *used);
    if (!keep || !used) {
        free(keep);
        free(used);
        return EP_ENOMEM;
    }
    /* Keep current instances that the new placement repeats; retire the others. */
    for (int i = 0; i < s->ninst; i++) {
        sim_instance *in = s->inst[i];
        if (in->retired)
            continue;
        int found = -1;
        for (int k = 0; k < p->n && found < 0; k++)
            if (!keep[k] && spec_equal(&in->spec, &p->inst[k]))
                found = k;
        if (found >= 0) {
            keep[found] = 1;
            for (int d = 0; d < in->spec.ndev; d++)
                used[in->spec.devs[d]] +=
                        (double)ep_cost_instance_mem(sc, in->spec.service, in->spec.ndev);
        } else {
            retire(s, in);
        }
    }
    int err = 0;
    for (int k = 0; k < p->n && !err; k++) {
        if (keep[k])
            continue;
        const ep_instance_spec *sp = &p->inst[k];
        const char *why = spec_invalid(s, sp);
        int64_t mem = why ? 0 : ep_cost_instance_mem(sc, sp->service, sp->ndev);
        for (int d = 0; !why && d < sp->ndev; d++) {
            const ep_device_spec *ds = &sc->specs[sc->devices[sp->devs[d]].spec];
            if (used[sp->devs[d]] + (double)mem > (double)ds->mem_bytes * ds->mem_util)
                why = "does not fit in device memory";
        }
        if (why) {
            s->res->placements_refused++;
            continue;
        }
        if ((err = grow_instances(s)) != 0)
            break;
        sim_instance *in = calloc(1, sizeof *in);
        if (!in) {
            err = EP_ENOMEM;
            break;
        }
        for (int d = 0; d < sp->ndev; d++)
            used[sp->devs[d]] += (double)mem;
        in->id = s->ninst;
        in->spec = *sp;
        in->node = sc->devices[sp->devs[0]].node;
        ep_list_init(&in->queue);
        ep_list_init(&in->running);
        sim_event_init(&in->ev, instance_event, EV_BATCH_DONE, (uint32_t)in->id);
        if (sc->services[sp->service].kind == EP_SVC_LLM) {
            /* The smallest stage device bounds the per-device share of the cache. */
            int64_t cap = INT64_MAX;
            for (int d = 0; d < sp->ndev; d++) {
                int64_t c = ep_cost_kv_capacity_tokens(sc, sp->service,
                                                       sc->devices[sp->devs[d]].spec, sp->ndev);
                if (c < cap)
                    cap = c;
            }
            in->kv_cap = cap;
        }
        s->inst[s->ninst++] = in;
        live_view(s, in, &s->synced[in->id]);
        s->res->instances++;
        if (initial) {
            in->ready = 1;
        } else {
            ep_dur load = 0;
            for (int d = 0; d < sp->ndev; d++) {
                ep_dur l = ep_cost_load(sc, sp->service, sc->devices[sp->devs[d]].spec, sp->ndev);
                if (l > load)
                    load = l;
            }
            sim_event_init(&in->ev, instance_event, EV_LOAD_DONE, (uint32_t)in->id);
            sim_schedule(&s->eng, &in->ev, s->eng.now + load);
        }
    }
    free(keep);
    free(used);
    return err;
}

static int
do_place(sim *s, int initial)
{
    ep_placement p = {NULL, 0, 0, 0};
    p.cap = 1024;
    p.inst = calloc((size_t)p.cap, sizeof *p.inst);
    if (!p.inst)
        return EP_ENOMEM;
    refresh_view(s, -1);
    s->env.now = s->eng.now;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int err = s->pol->place ? s->pol->place(s->pol_state, &s->env, &s->view, &p) : 0;
    clock_gettime(CLOCK_MONOTONIC, &b);
    s->res->place_time_s += (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    if (!err && !p.unchanged) {
        s->res->placements++;
        err = apply_placement(s, &p, initial);
    }
    free(p.inst);
    return err;
}

static void
place_tick(sim *s, sim_event *ev)
{
    int err = do_place(s, 0);
    if (err && !s->failed)
        s->failed = err;
    if (s->eng.now + s->sc->run.placement_period < s->end)
        sim_schedule(&s->eng, ev, s->eng.now + s->sc->run.placement_period);
}

/* --- timers and faults ------------------------------------------------------------------ */

static void
timer_fire(sim *s, sim_event *ev)
{
    sim_timer *t = EP_CONTAINER_OF(ev, sim_timer, ev);
    uint64_t cookie = t->cookie;
    free(t);
    if (s->pol->on_timer) {
        refresh_view(s, -1);
        s->env.now = s->eng.now;
        s->pol->on_timer(s->pol_state, &s->env, &s->view, cookie);
    }
    /* A policy that waited in pick_batch gets another look at idle instances. */
    for (int i = 0; i < s->ninst; i++)
        sim_instance_kick(s, s->inst[i]);
}

static void
timer_arm(void *host, ep_dur after, uint64_t cookie)
{
    sim *s = host;
    sim_timer *t = malloc(sizeof *t);
    if (!t) {
        s->failed = EP_ENOMEM;
        return;
    }
    t->cookie = cookie;
    sim_event_init(&t->ev, timer_fire, EV_TIMER, (uint32_t)cookie);
    sim_schedule(&s->eng, &t->ev, s->eng.now + (after > 0 ? after : 0));
}

static void
fail_instance(sim *s, sim_instance *in)
{
    ep_list_node *n;
    if (in->busy) {
        sim_cancel(&s->eng, &in->ev);
        sim_instance_end(s, in);
    } else if (sim_event_pending(&in->ev)) {
        sim_cancel(&s->eng, &in->ev); /* a load in progress */
    }
    while ((n = ep_list_pop_front(&in->running)) != NULL)
        sim_request_finish(s, EP_CONTAINER_OF(n, sim_request, qnode), EP_OUT_DROPPED, "node down");
    while ((n = ep_list_pop_front(&in->queue)) != NULL)
        sim_request_finish(s, EP_CONTAINER_OF(n, sim_request, qnode), EP_OUT_DROPPED, "node down");
    in->nrunning = 0;
    in->kv_used = 0;
    in->queued_tokens = 0;
    in->ready = 0;
}

static void
fault_fire(sim *s, sim_event *ev)
{
    sim_fault_ev *fe = EP_CONTAINER_OF(ev, sim_fault_ev, ev);
    const ep_fault *f = fe->f;
    const ep_scenario *sc = s->sc;
    switch (f->kind) {
    case EP_FAULT_NODE_DOWN:
        if (!s->node_up[f->target])
            break;
        s->node_up[f->target] = 0;
        for (int i = 0; i < s->ninst; i++)
            if (s->inst[i]->node == f->target)
                fail_instance(s, s->inst[i]);
        break;
    case EP_FAULT_NODE_UP:
        if (s->node_up[f->target])
            break;
        s->node_up[f->target] = 1;
        for (int i = 0; i < s->ninst; i++) {
            sim_instance *in = s->inst[i];
            if (in->node != f->target || in->retired)
                continue;
            ep_dur load = ep_cost_load(sc, in->spec.service, sc->devices[in->spec.devs[0]].spec,
                                       in->spec.ndev);
            sim_event_init(&in->ev, instance_event, EV_LOAD_DONE, (uint32_t)in->id);
            sim_schedule(&s->eng, &in->ev, s->eng.now + load);
        }
        break;
    case EP_FAULT_LINK_DOWN:
        s->link_up[f->target] = 0;
        break;
    case EP_FAULT_LINK_UP:
        s->link_up[f->target] = 1;
        break;
    case EP_FAULT_SYNC_LOSS:
        s->sync_loss = 1;
        break;
    case EP_FAULT_SYNC_OK:
        s->sync_loss = 0;
        break;
    }
}

/* --- workload ------------------------------------------------------------------------- */

static void arrival(sim *s, sim_event *ev);

static int
source_advance(sim *s, sim_source *src)
{
    int rc = ep_trace_reader_next(src->r, &src->row);
    if (rc < 0)
        return rc;
    src->has_row = rc == 1;
    if (!src->has_row)
        return 0;
    double t = (double)src->w->offset + (double)src->row.arrival * src->scale;
    if (!(t < (double)s->cutoff)) {
        src->has_row = 0;
        return 0;
    }
    src->next_at = (ep_time)llround(t);
    if (src->next_at < s->eng.now)
        src->next_at = s->eng.now;
    return sim_schedule(&s->eng, &src->ev, src->next_at);
}

static void
arrival(sim *s, sim_event *ev)
{
    sim_source *src = EP_CONTAINER_OF(ev, sim_source, ev);
    const ep_workload *w = src->w;
    const ep_service *svc = &s->sc->services[w->service];
    sim_request *r = request_alloc(s);
    if (!r) {
        s->failed = EP_ENOMEM;
        return;
    }
    ep_record *rec = &r->rec;
    rec->id = s->next_id++;
    rec->service = w->service;
    rec->ingress = w->ingress[src->rr++ % w->ningress];
    rec->arrival = s->eng.now;
    rec->instance = -1;
    rec->node = -1;
    r->target = -1;
    r->at_node = rec->ingress;
    r->dst_node = rec->ingress;
    r->stream = src->row.stream;
    r->frame = src->row.frame;
    r->exec = src->row.exec;
    if (svc->kind == EP_SVC_LLM) {
        rec->input = src->row.input > 0 ? src->row.input : 512;
        rec->output = src->row.output > 0 ? src->row.output : 128;
        r->bytes = rec->input * svc->bytes_per_token;
        r->deadline = rec->arrival + svc->slo.ttft;
    } else {
        rec->input = src->row.input > 0 ? src->row.input : svc->input_bytes;
        rec->output = 1;
        r->bytes = rec->input;
        r->deadline =
                rec->arrival + (svc->slo.fps > 0 ? svc->slo.frame_deadline : svc->slo.deadline);
    }
    int err = source_advance(s, src);
    if (err && !s->failed)
        s->failed = err;
    if (!s->node_up[rec->ingress]) {
        sim_request_finish(s, r, EP_OUT_DROPPED, "ingress node down");
        return;
    }
    route(s, r);
}

/* --- set-up, run, tear-down ------------------------------------------------------------- */

static int
setup_err(char *err, size_t len, int code, const char *msg, const char *arg)
{
    if (err && len)
        snprintf(err, len, "%s%s%s", msg, arg ? ": " : "", arg ? arg : "");
    return code;
}

/* Finishes every request still in the system as unfinished and frees what events own. */
static void
drain(sim *s)
{
    for (int i = 0; i < s->ninst; i++) {
        sim_instance *in = s->inst[i];
        ep_list_node *n;
        while ((n = ep_list_pop_front(&in->running)) != NULL)
            sim_request_finish(s, EP_CONTAINER_OF(n, sim_request, qnode), EP_OUT_UNFINISHED,
                               "still running when the run ended");
        while ((n = ep_list_pop_front(&in->queue)) != NULL)
            sim_request_finish(s, EP_CONTAINER_OF(n, sim_request, qnode), EP_OUT_UNFINISHED,
                               "still queued when the run ended");
        if (in->busy)
            for (int d = 0; d < in->spec.ndev; d++)
                s->dev_busy_s[in->spec.devs[d]] += ep_dur_to_s(s->eng.now - in->busy_since);
    }
    ep_heap_node *hn;
    while ((hn = ep_heap_pop(&s->eng.heap)) != NULL) {
        sim_event *ev = EP_CONTAINER_OF(hn, sim_event, node);
        if (ev->fn == transfer_hop || ev->fn == sim_dnn_request_done)
            sim_request_finish(s, EP_CONTAINER_OF(ev, sim_request, ev), EP_OUT_UNFINISHED,
                               "in transit when the run ended");
        else if (ev->fn == timer_fire)
            free(EP_CONTAINER_OF(ev, sim_timer, ev));
    }
}

static void
sim_free(sim *s)
{
    for (int i = 0; i < s->nsrc; i++)
        ep_trace_reader_close(s->src[i].r);
    free(s->src);
    for (int i = 0; i < s->ninst; i++)
        free(s->inst[i]);
    free(s->inst);
    free(s->iview);
    free(s->synced);
    while (s->pool) {
        sim_request *r = s->pool;
        s->pool = r->pool_next;
        free(r);
    }
    if (s->pol && s->pol->fini && s->pol_state)
        s->pol->fini(s->pol_state);
    free(s->pol_state);
    ep_rng_fini(&s->pol_rng);
    free(s->up);
    free(s->down);
    free(s->node_up);
    free(s->link_up);
    free(s->dev_busy);
    free(s->cat);
    free(s->faults);
    free(s->qdl);
    free(s->qarr);
    sim_metrics_free(s->m);
    sim_engine_fini(&s->eng);
}

int
ep_sim_run(const ep_scenario *sc, const ep_sim_opts *opts, ep_sim_result *out, char *err,
           size_t errlen)
{
    struct timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    memset(out, 0, sizeof *out);
    sim S, *s = &S;
    memset(s, 0, sizeof *s);
    s->sc = sc;
    s->opts = *opts;
    s->res = out;
    sim_engine_init(&s->eng);
    int rc = 0;
    const char *pname = opts->policy ? opts->policy : sc->policy;
    s->pol = ep_policy_find(pname[0] ? pname : "static");
    if (!s->pol) {
        rc = setup_err(err, errlen, EP_EINVAL, "unknown policy (see 'epara sim --help')", pname);
        goto done;
    }
    if (sc->nservices > EP_SIM_MAX_SERVICES) {
        rc = setup_err(err, errlen, EP_EINVAL, "too many services for one run (max 64)", NULL);
        goto done;
    }
    uint64_t seed = opts->seed_set ? opts->seed : sc->run.seed;
    snprintf(out->policy, sizeof out->policy, "%s", s->pol->name);
    out->seed = seed;
    out->nservices = sc->nservices;
    out->ndevices = sc->ndevices;
    out->device_busy_s = calloc((size_t)sc->ndevices + 1, sizeof(double));
    s->dev_busy_s = out->device_busy_s;
    s->up = calloc((size_t)sc->nlinks + 1, sizeof *s->up);
    s->down = calloc((size_t)sc->nlinks + 1, sizeof *s->down);
    s->node_up = calloc((size_t)sc->nnodes + 1, sizeof *s->node_up);
    s->link_up = calloc((size_t)sc->nlinks + 1, sizeof *s->link_up);
    s->dev_busy = calloc((size_t)sc->ndevices + 1, sizeof *s->dev_busy);
    s->cat = calloc((size_t)sc->nservices + 1, sizeof *s->cat);
    s->m = sim_metrics_new(sc->nservices);
    s->pol_state = calloc(1, s->pol->state_size ? s->pol->state_size : 1);
    if (!out->device_busy_s || !s->up || !s->down || !s->node_up || !s->link_up || !s->dev_busy ||
        !s->cat || !s->m || !s->pol_state || ep_rng_init(&s->pol_rng, seed, EP_STREAM_POLICY)) {
        rc = setup_err(err, errlen, EP_ENOMEM, "out of memory", NULL);
        goto done;
    }
    for (int i = 0; i < sc->nlinks; i++) {
        sim_pipe p = {0, sc->links[i].bw_bytes_per_s, sc->links[i].latency, sc->links[i].loss};
        s->up[i] = s->down[i] = p;
        s->link_up[i] = 1;
    }
    for (int i = 0; i < sc->nnodes; i++)
        s->node_up[i] = 1;

    /* Workload sources and the time window. */
    double rs = opts->rate_scale > 0 ? opts->rate_scale : 1.0;
    ep_dur dur = opts->duration > 0 ? opts->duration : sc->run.duration;
    s->cutoff = dur > 0 ? dur : EP_TIME_MAX;
    s->src = calloc((size_t)sc->nworkloads + 1, sizeof *s->src);
    if (!s->src) {
        rc = setup_err(err, errlen, EP_ENOMEM, "out of memory", NULL);
        goto done;
    }
    ep_time last = 0;
    for (int i = 0; i < sc->nworkloads; i++) {
        const ep_workload *w = &sc->workloads[i];
        sim_source *src = &s->src[i];
        src->w = w;
        src->scale = w->time_scale / (w->rate_scale * rs);
        ep_trace_meta m;
        int e = opts->traces ? ep_trace_meta_get(opts->traces, w->trace, &m) : EP_ENOENT;
        if (e == 0)
            e = ep_trace_reader_open(opts->traces, w->trace, 0, EP_TIME_MAX, &src->r);
        if (e) {
            rc = setup_err(err, errlen, e,
                           e == EP_ENOENT ? "workload trace not in the trace database"
                                          : "cannot read workload trace",
                           w->trace);
            goto done;
        }
        s->nsrc = i + 1;
        if (w->ningress < 1 || w->service < 0 || w->service >= sc->nservices) {
            rc = setup_err(err, errlen, EP_EINVAL, "workload without service or ingress", w->trace);
            goto done;
        }
        /* The last arrival: the first row's time plus the span (a trace may start after
         * its origin, e.g. a slice). */
        ep_trace_reader *peek;
        ep_trace_row first;
        ep_time t0 = 0;
        if (ep_trace_reader_open(opts->traces, w->trace, 0, EP_TIME_MAX, &peek) == 0) {
            if (ep_trace_reader_next(peek, &first) == 1)
                t0 = first.arrival;
            ep_trace_reader_close(peek);
        }
        double l = (double)w->offset + (double)(t0 + m.span) * src->scale;
        if (l > (double)last)
            last = (ep_time)llround(l < 9e18 ? l : 9e18);
        sim_event_init(&src->ev, arrival, EV_ARRIVAL, (uint32_t)i);
    }
    s->end = last < s->cutoff ? last : s->cutoff;
    s->window_lo = sc->run.warmup;
    s->window_hi = s->end - sc->run.cooldown + 1; /* the last arrival is inside */
    if (s->window_hi <= s->window_lo) {           /* too short for the warm-up and cool-down */
        s->window_lo = 0;
        s->window_hi = s->end + 1;
    }
    out->window_s = ep_dur_to_s(s->window_hi - s->window_lo);

    /* Policy: environment, view, categories, initial placement. */
    s->env.rng = &s->pol_rng;
    s->env.timer_arm = timer_arm;
    s->env.host = s;
    s->view.sc = sc;
    s->view.cat = s->cat;
    s->view.node_up = s->node_up;
    s->view.link_up = s->link_up;
    s->view.delay = view_delay;
    s->view.host_ = s;
    if (s->pol->init &&
        (rc = s->pol->init(s->pol_state, &s->env, &s->view, sc->params, sc->nparams)) != 0) {
        rc = setup_err(err, errlen, rc, "policy refused the scenario's parameters", s->pol->name);
        goto done;
    }
    for (int i = 0; i < sc->nservices; i++) {
        if (s->pol->categorize)
            s->pol->categorize(s->pol_state, &s->view, i, &s->cat[i]);
        else
            ep_category_default(&s->view, i, &s->cat[i]);
        out->svc[i].category = s->cat[i];
    }
    if ((rc = do_place(s, 1)) != 0) {
        rc = setup_err(err, errlen, rc, "initial placement failed", s->pol->name);
        goto done;
    }
    for (int i = 0; i < s->nsrc; i++)
        if ((rc = source_advance(s, &s->src[i])) != 0) {
            rc = setup_err(err, errlen, rc, "cannot read workload trace", s->src[i].w->trace);
            goto done;
        }
    sim_event_init(&s->sync_ev, sync_tick, EV_SYNC, 0);
    sim_event_init(&s->place_ev, place_tick, EV_PLACE, 0);
    if (sc->run.sync_period > 0)
        sim_schedule(&s->eng, &s->sync_ev, sc->run.sync_period);
    if (sc->run.placement_period > 0 && sc->run.placement_period < s->end)
        sim_schedule(&s->eng, &s->place_ev, sc->run.placement_period);
    s->faults = calloc((size_t)sc->nfaults + 1, sizeof *s->faults);
    if (!s->faults) {
        rc = setup_err(err, errlen, EP_ENOMEM, "out of memory", NULL);
        goto done;
    }
    for (int i = 0; i < sc->nfaults; i++) {
        s->faults[i].f = &sc->faults[i];
        sim_event_init(&s->faults[i].ev, fault_fire, EV_FAULT, (uint32_t)i);
        sim_schedule(&s->eng, &s->faults[i].ev, sc->faults[i].at);
    }

    /* The loop. Requests still in the system this long after the last arrival are
     * reported as unfinished. */
    ep_time until =
            s->end > EP_TIME_MAX - 600 * EP_NS_PER_S ? EP_TIME_MAX : s->end + 600 * EP_NS_PER_S;
    sim_event *ev;
    while (!s->failed && (ev = sim_engine_next(&s->eng, until)) != NULL) {
        ev->fn(s, ev);
        if (opts->on_progress && (s->eng.events & 0xfffff) == 0)
            opts->on_progress(opts->ctx, s->end > 0 ? (double)s->eng.now / (double)s->end : 1.0,
                              s->eng.now, s->eng.events);
        /* Periodic ticks stop once the workload is over, so the loop ends by itself. */
        if (s->eng.now >= s->end) {
            sim_cancel(&s->eng, &s->sync_ev);
            sim_cancel(&s->eng, &s->place_ev);
        }
    }
    if (s->failed) {
        rc = setup_err(err, errlen, s->failed, "simulation failed", ep_strerror(s->failed));
        goto done;
    }
    drain(s);
    out->sim_time_s = ep_dur_to_s(s->eng.now);
    out->events = s->eng.events;
    out->event_hash = s->eng.hash;
    if ((rc = sim_metrics_finish(s->m, sc, out)) != 0)
        rc = setup_err(err, errlen, rc, "out of memory for metrics", NULL);
done:
    if (rc) {
        s->quiet = 1;
        drain(s);
    }
    sim_free(s);
    clock_gettime(CLOCK_MONOTONIC, &w1);
    out->wall_s = (double)(w1.tv_sec - w0.tv_sec) + (double)(w1.tv_nsec - w0.tv_nsec) / 1e9;
    out->events_per_s = out->wall_s > 0 ? (double)out->events / out->wall_s : 0;
    if (rc) {
        free(out->device_busy_s);
        out->device_busy_s = NULL;
    }
    return rc;
}

void
ep_sim_result_fini(ep_sim_result *r)
{
    free(r->device_busy_s);
    r->device_busy_s = NULL;
}
