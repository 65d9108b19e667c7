/* DNN instances: a queue (FIFO or EDF), batches chosen by the policy's pick_batch, batch
 * latency from the cost model (profile table or roofline) with MT co-location slowdown,
 * TP (compute / tp + all-reduce) and PP (stages on their own devices; a new batch enters
 * every slowest-stage interval, each batch takes the sum of stage times and transfers). */
#include <math.h>
#include <stdlib.h>

#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"
#include "node_internal.h"

/* Duration of a batch of b requests on instance in (before MT slowdown). `reqs` are the
 * batch's requests (for services whose trace carries execution times). */
static ep_dur
batch_cost(node_rt *s, node_instance *in, int b, ep_list *reqs, ep_dur *interval)
{
    const ep_scenario *sc = s->sc;
    const ep_instance_spec *sp = &in->spec;
    const ep_service *svc = &sc->services[sp->service];
    int spec0 = sc->devices[sp->devs[0]].spec;
    *interval = 0;
    if (svc->use_trace_exec) {
        /* Observed execution times, scaled from the fastest device class to this one. */
        double best = 0;
        for (int i = 0; i < sc->nspecs; i++)
            if (sc->specs[i].peak_flops > best)
                best = sc->specs[i].peak_flops;
        double scale = best / sc->specs[spec0].peak_flops;
        double total = 0;
        EP_LIST_FOREACH(reqs, n)
        {
            node_request *r = EP_CONTAINER_OF(n, node_request, qnode);
            ep_dur e = r->exec != EP_TRACE_NONE ? r->exec
                                                : ep_cost_dnn_batch(sc, sp->service, spec0, 1);
            total += (double)e * scale;
        }
        return ep_round_i64(total / (sp->mode == EP_MODE_TP ? sp->ndev : 1));
    }
    return ep_pol_dnn_batch(&s->view, sp, b, interval);
}

/* Drops queued requests that can no longer be done in time (their due time, the deadline
 * less the reply's transfer, has passed), and with EP_DROP_DOOMED those that a batch of one
 * started now would finish after it. */
static void
drop_expired(node_rt *s, node_instance *in, int mode)
{
    ep_time doomed = s->eng.now;
    if (mode == EP_DROP_DOOMED)
        doomed += ep_pol_dnn_batch(&s->view, &in->spec, 1, NULL);
    ep_list_node *n = ep_list_first(&in->queue);
    while (n) {
        ep_list_node *next = ep_list_next(&in->queue, n);
        node_request *r = EP_CONTAINER_OF(n, node_request, qnode);
        if (r->due < s->eng.now) {
            ep_list_remove(&in->queue, n);
            node_request_finish(s, r, EP_OUT_DROPPED, "deadline passed in queue");
        } else if (r->due < doomed) {
            ep_list_remove(&in->queue, n);
            node_request_finish(s, r, EP_OUT_DROPPED, "cannot meet its deadline (dropped early)");
        }
        n = next;
    }
}

void
node_dnn_start(node_rt *s, node_instance *in)
{
    const ep_service *svc = &s->sc->services[in->spec.service];
    int maxb = in->spec.max_batch > 0 ? in->spec.max_batch : svc->max_batch;
    if (maxb < 1)
        maxb = 1;
    /* Show the policy the head of the queue (enough for any batch it may choose). */
    int n = (int)in->queue.len;
    int shown = n < 4 * maxb ? n : 4 * maxb;
    if (shown > s->qcap) {
        int nc = shown * 2;
        ep_time *a = realloc(s->qdl, (size_t)nc * sizeof *a);
        if (a)
            s->qdl = a;
        ep_time *b = a ? realloc(s->qarr, (size_t)nc * sizeof *b) : NULL;
        if (!a || !b) {
            s->failed = EP_ENOMEM;
            return;
        }
        s->qarr = b;
        s->qcap = nc;
    }
    ep_time *dl = s->qdl, *arr = s->qarr;
    int k = 0;
    EP_LIST_FOREACH(&in->queue, qn)
    {
        if (k == shown)
            break;
        node_request *r = EP_CONTAINER_OF(qn, node_request, qnode);
        dl[k] = r->due;
        arr[k] = r->rec.arrival;
        k++;
    }
    ep_queue_view q = {shown, dl, arr};
    int drop = 0;
    s->env.now = s->eng.now;
    node_refresh_view(s, in->node);
    int b;
    if (s->pol->pick_batch) {
        void *st = node_pol_state(s, in->node); /* the node running the instance */
        node_plog_begin(s, NODE_PL_BATCH);
        b = s->pol->pick_batch(st, &s->env, &s->view, in->id, &q, &drop);
        if (s->opts.policy_log) {
            int32_t hdr[2] = {in->id, shown}, o[2] = {b, drop};
            node_plog_data(s, hdr, sizeof hdr);
            node_plog_data(s, dl, (size_t)shown * sizeof *dl);
            node_plog_data(s, arr, (size_t)shown * sizeof *arr);
            node_plog_data(s, o, sizeof o);
            node_plog_end(s);
        }
    } else {
        b = n < maxb ? n : maxb;
    }
    if (drop) {
        drop_expired(s, in, drop);
        n = (int)in->queue.len;
        if (n == 0)
            return;
    }
    if (b <= 0)
        return; /* the policy waits (it armed a timer) */
    if (b > n)
        b = n;
    if (b > maxb)
        b = maxb;
    for (int i = 0; i < b; i++) {
        ep_list_node *qn = ep_list_pop_front(&in->queue);
        node_request *r = EP_CONTAINER_OF(qn, node_request, qnode);
        r->rec.dispatch = s->eng.now;
        r->rec.batch = b;
        ep_list_push_back(&in->running, qn);
    }
    in->nrunning = b;
    if (s->opts.on_decision) {
        ep_decision dec = {
                .kind = EP_DECIDE_BATCH, .at = s->eng.now, .instance = in->id, .batch = b};
        s->opts.on_decision(s->opts.ctx, &dec);
    }
    ep_dur interval;
    ep_dur t = batch_cost(s, in, b, &in->running, &interval);
    ep_dur real = s->port.run ? s->port.run(s, in, b, t) : -1;
    if (real >= 0) { /* a real engine ran it whole (no pipelining of its stages) */
        t = real;
        interval = 0;
    }
    t = node_instance_begin(s, in, t);
    double slow = node_instance_slow(s, in);
    if (slow > 1 && interval > 0) /* a throttled stage slows the pipeline's rate too */
        interval = ep_round_i64((double)interval * slow);
    if (in->spec.mode == EP_MODE_PP && interval > 0 && interval < t) {
        /* Pipelined: the batch leaves stage 1 after the slowest stage's time, when the next
         * batch may enter; each request completes when the whole pipeline is through. */
        ep_list_node *qn;
        while ((qn = ep_list_pop_front(&in->running)) != NULL) {
            node_request *r = EP_CONTAINER_OF(qn, node_request, qnode);
            r->target = in->id;
            node_event_init(&r->ev, node_dnn_request_done, EV_BATCH_DONE, (uint32_t)r->rec.id);
            node_schedule(&s->eng, &r->ev, s->eng.now + t);
        }
        in->batch_time = interval;
        node_schedule(&s->eng, &in->ev, s->eng.now + interval);
        return;
    }
    node_schedule(&s->eng, &in->ev, s->eng.now + t);
}

static void
complete(node_rt *s, node_instance *in, node_request *r)
{
    /* The result cannot cross a partition (nor leave a pipeline cut in two). */
    if (!node_reachable(s, in->node, r->rec.ingress) || node_instance_split(s, in)) {
        node_request_finish(s, r, EP_OUT_DROPPED, "network partition");
        return;
    }
    ep_dur back = node_delay(s, in->node, r->rec.ingress, NODE_DNN_REPLY_BYTES);
    r->rec.done = s->eng.now + back;
    r->rec.first_token = r->rec.done;
    in->served++;
    node_request_finish(s, r, EP_OUT_COMPLETED, NULL);
}

void
node_dnn_request_done(node_rt *s, node_event *ev)
{
    node_request *r = EP_CONTAINER_OF(ev, node_request, ev);
    complete(s, s->inst[r->target], r);
}

void
node_dnn_batch_done(node_rt *s, node_event *ev)
{
    node_instance *in = EP_CONTAINER_OF(ev, node_instance, ev);
    node_instance_end(s, in);
    ep_list_node *n;
    while ((n = ep_list_pop_front(&in->running)) != NULL)
        complete(s, in, EP_CONTAINER_OF(n, node_request, qnode));
    in->nrunning = 0;
    node_instance_kick(s, in);
}
