/* The simulator host, control side: applying the policy's placements (keep, retire, load),
 * policy timers, and what a node's failure and return do to its instances (the faults that
 * cause them: faults.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/core/profile.h"
#include "node_internal.h"

/* --- placement ------------------------------------------------------------------------ */

/* Checks one desired instance against the cluster; NULL when valid, else why not. */
static const char *
spec_invalid(const node_rt *s, const ep_instance_spec *sp)
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
grow_instances(node_rt *s)
{
    if (s->ninst < s->cap_inst)
        return 0;
    int cap = s->cap_inst ? s->cap_inst * 2 : 16;
    node_instance **a = realloc(s->inst, (size_t)cap * sizeof *a);
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
    ep_instance_view *z = realloc(s->frozen, (size_t)cap * sizeof *z);
    if (!z)
        return EP_ENOMEM;
    s->frozen = z;
    int *li = realloc(s->current_idx, (size_t)cap * sizeof *li);
    if (!li)
        return EP_ENOMEM;
    s->current_idx = li;
    int *nd = realloc(s->inst_node, (size_t)cap * sizeof *nd);
    if (!nd)
        return EP_ENOMEM;
    s->inst_node = nd;
    s->cap_inst = cap;
    s->view.inst = s->iview; /* never leave the policy's view pointing at the old array */
    return 0;
}

static void
retire(node_rt *s, node_instance *in)
{
    in->retired = 1;
    /* Waiting requests go back to the router on the instance's node. */
    ep_list_node *n;
    in->queued_prefill = 0;
    while ((n = ep_list_pop_front(&in->queue)) != NULL) {
        node_request *r = EP_CONTAINER_OF(n, node_request, qnode);
        r->target = -1;
        r->at_node = in->node;
        node_route(s, r);
    }
}

/* KV-cache capacity of every LLM instance: what its devices have left after the weights and
 * reserves of all instances placed on them, split evenly among the LLM instances sharing a
 * device; a k-device instance holds 1/k of each token's KV on each device. Instances that
 * shrink below their use are brought back under by preemption at their next iteration. */
static int
share_kv(node_rt *s)
{
    const ep_scenario *sc = s->sc;
    double *left = calloc((size_t)sc->ndevices + 1, sizeof *left);
    int *llms = calloc((size_t)sc->ndevices + 1, sizeof *llms);
    if (!left || !llms) {
        free(left);
        free(llms);
        return EP_ENOMEM;
    }
    for (int d = 0; d < sc->ndevices; d++) {
        const ep_device_spec *ds = &sc->specs[sc->devices[d].spec];
        left[d] = (double)ds->mem_bytes * (ds->mem_util > 0 ? ds->mem_util : 0.9);
    }
    for (int i = 0; i < s->ninst; i++) {
        const node_instance *in = s->inst[i];
        if (in->retired)
            continue;
        double mem = (double)ep_cost_instance_mem(sc, in->spec.service, in->spec.ndev);
        int llm = sc->services[in->spec.service].kind == EP_SVC_LLM;
        for (int k = 0; k < in->spec.ndev; k++) {
            left[in->spec.devs[k]] -= mem;
            llms[in->spec.devs[k]] += llm;
        }
    }
    for (int i = 0; i < s->ninst; i++) {
        node_instance *in = s->inst[i];
        const ep_service *svc = &sc->services[in->spec.service];
        if (in->retired || svc->kind != EP_SVC_LLM || svc->kv_bytes_per_token <= 0)
            continue;
        double share = INFINITY;
        for (int k = 0; k < in->spec.ndev; k++) {
            int d = in->spec.devs[k];
            double sh = left[d] / llms[d];
            if (sh < share)
                share = sh;
        }
        double tokens = share > 0 ? share * in->spec.ndev / (double)svc->kv_bytes_per_token : 0;
        in->kv_cap = (int64_t)tokens;
    }
    free(left);
    free(llms);
    return 0;
}

/* 1 when a device of the spec is on a node cut off by the partition in effect: the
 * scheduler (on the other side) can neither load nor retire an instance there. */
static int
spec_cut(const node_rt *s, const ep_instance_spec *sp)
{
    if (!s->part)
        return 0;
    for (int d = 0; d < sp->ndev; d++)
        if (sp->devs[d] >= 0 && sp->devs[d] < s->sc->ndevices &&
            s->cut[s->sc->devices[sp->devs[d]].node])
            return 1;
    return 0;
}

int
node_apply_placement(node_rt *s, ep_placement *p, int initial)
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
        node_instance *in = s->inst[i];
        if (in->retired)
            continue;
        int found = -1;
        for (int k = 0; k < p->n && found < 0; k++)
            if (!keep[k] && ep_spec_same_instance(&in->spec, &p->inst[k]))
                found = k;
        if (found >= 0 || spec_cut(s, &in->spec)) { /* kept (beyond the cut: as it is) */
            if (found >= 0) {
                keep[found] = 1;
                in->spec.mode = p->inst[found].mode; /* SINGLE <-> MT: applied from now on */
            }
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
        if (spec_cut(s, sp))
            continue; /* the placement does not reach beyond the cut */
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
        node_instance *in = calloc(1, sizeof *in);
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
        node_event_init(&in->ev, node_instance_event, EV_BATCH_DONE, (uint32_t)in->id);
        s->inst_node[s->ninst] = in->node;
        s->inst[s->ninst++] = in;
        /* Every node knows the initial placement, ready at once; later instances are seen
         * loading until their node reports them ready. */
        in->ready = initial;
        node_current_view(s, in, &s->synced[in->id]);
        s->iview_synced = 0;
        s->frozen[in->id] = s->synced[in->id];
        s->res->instances++;
        if (initial || !node_is_local(s, in->node)) {
            in->ready = 1; /* remote instances: their node's reports say when they are */
        } else if (!s->node_up[in->node]) {
            /* Placed on a node that is down: it loads when the node comes back up. */
        } else {
            ep_dur load = 0;
            for (int d = 0; d < sp->ndev; d++) {
                ep_dur l = ep_cost_load(sc, sp->service, sc->devices[sp->devs[d]].spec, sp->ndev);
                if (l > load)
                    load = l;
            }
            node_event_init(&in->ev, node_instance_event, EV_LOAD_DONE, (uint32_t)in->id);
            node_schedule(&s->eng, &in->ev, s->eng.now + load);
        }
    }
    free(keep);
    free(used);
    if (!err)
        err = share_kv(s);
    return err;
}

/* Demand as of now: the rate over the period since the last placement, and the oracle's
 * rate for the coming period. */
void
node_update_demand(node_rt *s)
{
    const ep_scenario *sc = s->sc;
    ep_dur span = s->eng.now - s->last_place;
    for (int i = 0; i < sc->nservices; i++) {
        if (span > 0) {
            s->rate[i] = (double)(s->arrivals[i] - s->arrivals_at_place[i]) / ep_dur_to_s(span);
            s->arrivals_at_place[i] = s->arrivals[i];
        }
        if (s->oracle) {
            ep_dur period = sc->run.placement_period > 0 ? sc->run.placement_period : 1;
            int64_t p = s->eng.now / period;
            s->oracle_rate[i] =
                    p < s->nperiods ? s->oracle[p * sc->nservices + i] / ep_dur_to_s(period) : 0;
        }
    }
    if (span > 0)
        s->last_place = s->eng.now;
}

int
node_do_place(node_rt *s, int initial)
{
    node_update_demand(s);
    ep_placement p = {NULL, 0, 0, 0};
    p.cap = 1024;
    p.inst = calloc((size_t)p.cap, sizeof *p.inst);
    if (!p.inst)
        return EP_ENOMEM;
    node_refresh_view(s, -1);
    s->env.now = s->eng.now;
    double a = s->port.stopwatch ? s->port.stopwatch() : 0;
    void *st = node_pol_state(s, -1); /* the controller's */
    node_plog_begin(s, NODE_PL_PLACE);
    int err = s->pol->place ? s->pol->place(st, &s->env, &s->view, &p) : 0;
    double b = s->port.stopwatch ? s->port.stopwatch() : 0;
    if (s->opts.policy_log) {
        int32_t hdr[3] = {err, p.unchanged, p.n};
        node_plog_data(s, hdr, sizeof hdr);
        node_plog_data(s, p.inst, (size_t)p.n * sizeof *p.inst);
        node_plog_end(s);
    }
    s->res->placement_rounds++;
    s->res->place_time_s += b - a;
    if (!err && !p.unchanged) {
        s->res->placements++;
        if (s->opts.on_decision) {
            ep_decision dec = {
                    .kind = EP_DECIDE_PLACE, .at = s->eng.now, .inst = p.inst, .ninst = p.n};
            s->opts.on_decision(s->opts.ctx, &dec);
        }
        err = node_apply_placement(s, &p, initial);
        if (!err && s->port.placed)
            s->port.placed(s, &p);
    }
    free(p.inst);
    return err;
}

void
node_place_tick(node_rt *s, node_event *ev)
{
    int err = node_do_place(s, 0);
    if (err && !s->failed)
        s->failed = err;
    if (s->eng.now + s->sc->run.placement_period < s->end)
        node_schedule(&s->eng, ev, s->eng.now + s->sc->run.placement_period);
}

/* --- timers, node failure ---------------------------------------------------------------- */

void
node_timer_fire(node_rt *s, node_event *ev)
{
    node_timer *t = EP_CONTAINER_OF(ev, node_timer, ev);
    uint64_t cookie = t->cookie;
    int owner = t->owner;
    free(t);
    if (s->pol->on_timer) {
        /* On the state whose hook armed it, seeing what that node (or the controller) sees. */
        node_refresh_view(s, owner);
        s->env.now = s->eng.now;
        void *st = node_pol_state(s, owner);
        node_plog_begin(s, NODE_PL_TIMER);
        node_plog_data(s, &cookie, sizeof cookie);
        s->pol->on_timer(st, &s->env, &s->view, cookie);
        node_plog_end(s);
    }
    /* A policy that waited in pick_batch gets another look at idle instances. */
    for (int i = 0; i < s->ninst; i++)
        node_instance_kick(s, s->inst[i]);
}

void
node_timer_arm(void *host, ep_dur after, uint64_t cookie)
{
    node_rt *s = host;
    node_plog_timer(s, after, cookie);
    node_timer *t = malloc(sizeof *t);
    if (!t) {
        s->failed = EP_ENOMEM;
        return;
    }
    t->cookie = cookie;
    t->owner = s->pol_owner;
    node_event_init(&t->ev, node_timer_fire, EV_TIMER, (uint32_t)cookie);
    node_schedule(&s->eng, &t->ev, s->eng.now + (after > 0 ? after : 0));
}

void
node_instance_drop(node_rt *s, node_instance *in, const char *why)
{
    ep_list_node *n;
    if (in->busy) {
        node_cancel(&s->eng, &in->ev);
        node_instance_end(s, in);
    }
    while ((n = ep_list_pop_front(&in->running)) != NULL)
        node_request_finish(s, EP_CONTAINER_OF(n, node_request, qnode), EP_OUT_DROPPED, why);
    while ((n = ep_list_pop_front(&in->queue)) != NULL)
        node_request_finish(s, EP_CONTAINER_OF(n, node_request, qnode), EP_OUT_DROPPED, why);
    in->nrunning = 0;
    in->kv_used = 0;
    in->queued_prefill = 0;
    node_instance_wait(s, in, 0);
}

void
node_node_fail(node_rt *s, int node)
{
    s->node_up[node] = 0;
    for (int i = 0; i < s->ninst; i++) {
        node_instance *in = s->inst[i];
        if (in->node != node)
            continue;
        if (!in->busy && node_event_pending(&in->ev))
            node_cancel(&s->eng, &in->ev); /* a load in progress */
        node_instance_drop(s, in, "node down");
        in->ready = 0;
    }
}

void
node_node_restore(node_rt *s, int node)
{
    const ep_scenario *sc = s->sc;
    s->node_up[node] = 1;
    for (int i = 0; i < s->ninst; i++) {
        node_instance *in = s->inst[i];
        /* Placed while the node was down: loaded from now on (never twice). */
        if (in->node != node || in->retired || node_event_pending(&in->ev))
            continue;
        in->ready = 0;
        ep_dur load = ep_cost_load(sc, in->spec.service, sc->devices[in->spec.devs[0]].spec,
                                   in->spec.ndev);
        node_event_init(&in->ev, node_instance_event, EV_LOAD_DONE, (uint32_t)in->id);
        node_schedule(&s->eng, &in->ev, s->eng.now + load);
    }
}

void
node_partition(node_rt *s, const int *nodes, int n)
{
    /* What the nodes across the cut last heard of each instance. */
    if (s->ninst > 0)
        memcpy(s->frozen, s->synced, (size_t)s->ninst * sizeof *s->frozen);
    memset(s->cut, 0, (size_t)s->sc->nnodes * sizeof *s->cut);
    for (int i = 0; i < n; i++)
        s->cut[nodes[i]] = 1;
    s->part = 1;
    s->part_since = s->eng.now;
    /* A pipeline with stages on both sides cannot run: what it holds is lost. */
    for (int i = 0; i < s->ninst; i++)
        if (node_instance_split(s, s->inst[i]) && s->node_up[s->inst[i]->node])
            node_instance_drop(s, s->inst[i], "network partition");
}

void
node_heal(node_rt *s)
{
    s->part = 0;
    s->part_since = s->eng.now;
    memset(s->cut, 0, (size_t)s->sc->nnodes * sizeof *s->cut);
    for (int i = 0; i < s->ninst; i++)
        node_instance_kick(s, s->inst[i]);
}

void
node_partition_learn(node_rt *s)
{
    if (s->eng.now > s->part_since) {
        /* A round of sync messages missed across the cut (or received again after the heal)
         * is how the nodes learn of the partition (or of its end): the first tick after it,
         * not one at the same instant. */
        s->vpart = s->part;
        memcpy(s->vcut, s->cut, (size_t)s->sc->nnodes * sizeof *s->cut);
    }
}
