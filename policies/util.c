/* Policy helpers: memory accounting, instance execution times in every parallel mode,
 * SLO-bounded instance capacity, and completion estimates for routing. */
#include <math.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

double
ep_pol_usable_mem(const ep_scenario *sc, int dev)
{
    const ep_device_spec *d = &sc->specs[sc->devices[dev].spec];
    return (double)d->mem_bytes * (d->mem_util > 0 ? d->mem_util : 0.9);
}

void
ep_pol_free_memory(const ep_view *v, double *freem)
{
    const ep_scenario *sc = v->sc;
    for (int d = 0; d < sc->ndevices; d++)
        freem[d] = ep_pol_usable_mem(sc, d);
    for (int i = 0; i < v->ninst; i++)
        if (v->inst[i].active)
            ep_pol_take(v, &v->inst[i].spec, freem);
}

int
ep_pol_fits(const ep_view *v, const ep_instance_spec *sp, const double *freem)
{
    double need = (double)ep_cost_instance_mem(v->sc, sp->service, sp->ndev);
    for (int k = 0; k < sp->ndev; k++)
        if (freem[sp->devs[k]] < need)
            return 0;
    return 1;
}

void
ep_pol_take(const ep_view *v, const ep_instance_spec *sp, double *freem)
{
    double need = (double)ep_cost_instance_mem(v->sc, sp->service, sp->ndev);
    for (int k = 0; k < sp->ndev; k++)
        freem[sp->devs[k]] -= need;
}

static int
dev_node(const ep_scenario *sc, int dev)
{
    return sc->devices[dev].node;
}

ep_dur
ep_pol_dnn_batch(const ep_view *v, const ep_instance_spec *sp, int b, ep_dur *interval)
{
    const ep_scenario *sc = v->sc;
    const ep_service *svc = &sc->services[sp->service];
    int spec0 = sc->devices[sp->devs[0]].spec;
    if (interval)
        *interval = 0;
    switch (sp->mode) {
    case EP_MODE_TP:
        return ep_cost_tp(sc, sp->service, dev_node(sc, sp->devs[0]), sp->ndev,
                          ep_cost_dnn_batch(sc, sp->service, spec0, b),
                          (int64_t)b * svc->act_bytes_per_item);
    case EP_MODE_PP: {
        ep_dur total = 0, slowest = 0;
        for (int k = 0; k < sp->ndev; k++) {
            int spec = sc->devices[sp->devs[k]].spec;
            ep_dur st = ep_cost_dnn_batch(sc, sp->service, spec, b) / sp->ndev;
            if (k + 1 < sp->ndev)
                st += v->delay(v, dev_node(sc, sp->devs[k]), dev_node(sc, sp->devs[k + 1]),
                               (int64_t)b * svc->act_bytes_per_item);
            total += st;
            if (st > slowest)
                slowest = st;
        }
        if (interval)
            *interval = slowest;
        return total;
    }
    default:
        return ep_cost_dnn_batch(sc, sp->service, spec0, b);
    }
}

ep_dur
ep_pol_llm_iteration(const ep_view *v, const ep_instance_spec *sp, int64_t pf_tokens, double pf_sq,
                     int decode_batch, int64_t ctx_tokens)
{
    const ep_scenario *sc = v->sc;
    const ep_service *svc = &sc->services[sp->service];
    int spec0 = sc->devices[sp->devs[0]].spec;
    switch (sp->mode) {
    case EP_MODE_TP: {
        ep_dur single = ep_cost_llm_iteration(sc, sp->service, spec0, pf_tokens, pf_sq,
                                              decode_batch, ctx_tokens);
        return ep_cost_tp(sc, sp->service, dev_node(sc, sp->devs[0]), sp->ndev, single,
                          (pf_tokens + decode_batch) * svc->hidden * 2);
    }
    case EP_MODE_PP: {
        ep_dur total = 0;
        for (int k = 0; k < sp->ndev; k++) {
            int spec = sc->devices[sp->devs[k]].spec;
            total += ep_cost_llm_iteration(sc, sp->service, spec, pf_tokens, pf_sq, decode_batch,
                                           ctx_tokens) /
                     sp->ndev;
            if (k + 1 < sp->ndev)
                total += v->delay(v, dev_node(sc, sp->devs[k]), dev_node(sc, sp->devs[k + 1]),
                                  (pf_tokens + decode_batch) * svc->hidden * 2);
        }
        return total;
    }
    default:
        return ep_cost_llm_iteration(sc, sp->service, spec0, pf_tokens, pf_sq, decode_batch,
                                     ctx_tokens);
    }
}

double
ep_pol_mean_input(const ep_view *v, int s)
{
    return v->mean_input && v->mean_input[s] >= 1 ? v->mean_input[s] : EP_DEFAULT_INPUT_TOKENS;
}

double
ep_pol_mean_output(const ep_view *v, int s)
{
    return v->mean_output && v->mean_output[s] >= 1 ? v->mean_output[s] : EP_DEFAULT_OUTPUT_TOKENS;
}

int64_t
ep_pol_kv_capacity(const ep_view *v, const ep_instance_spec *sp)
{
    int64_t cap = INT64_MAX;
    for (int d = 0; d < sp->ndev; d++) {
        int64_t c = ep_cost_kv_capacity_tokens(v->sc, sp->service, v->sc->devices[sp->devs[d]].spec,
                                               sp->ndev);
        if (c < cap)
            cap = c;
    }
    return cap == INT64_MAX ? 0 : cap;
}

int
ep_pol_max_batch(const ep_view *v, const ep_instance_spec *sp)
{
    int mb = sp->max_batch > 0 ? sp->max_batch : v->sc->services[sp->service].max_batch;
    return mb > 0 ? mb : 1;
}

int
ep_pol_greedy_batch(const ep_view *v, int instance, const ep_queue_view *q)
{
    int mb = ep_pol_max_batch(v, &v->inst[instance].spec);
    return q->n < mb ? q->n : mb;
}

int
ep_pol_llm_batch_limit(const ep_view *v, const ep_instance_spec *sp, double lambda, double slow)
{
    const ep_service *svc = &v->sc->services[sp->service];
    double in = ep_pol_mean_input(v, sp->service), out = ep_pol_mean_output(v, sp->service);
    int64_t kv = ep_pol_kv_capacity(v, sp);
    double p = (double)ep_pol_llm_iteration(v, sp, (int64_t)in, in * in, 0, 0) * slow / 1e9;
    double lp = lambda > 0 ? lambda * p : 0;
    if (lp >= 1)
        return 0;
    double tpot = (double)svc->slo.tpot / 1e9;
    int best = 0, mb = ep_pol_max_batch(v, sp);
    for (int b = 1; b <= mb; b++) {
        if ((double)b * (in + out) > (double)kv)
            break;
        double d = (double)ep_pol_llm_iteration(v, sp, 0, 0, b, (int64_t)((in + out / 2) * b)) *
                   slow / 1e9;
        if (d / (1 - lp) > tpot)
            break; /* decode steps only grow with the batch */
        best = b;
    }
    return best;
}

double
ep_pol_capacity_at(const ep_view *v, const ep_instance_spec *sp, double slow, int64_t kv,
                   double target, int lone, int *batch, int *reach)
{
    const ep_service *svc = &v->sc->services[sp->service];
    int mb = ep_pol_max_batch(v, sp);
    double best = 0;
    int bb = 0, rb = 0;
    if (svc->kind == EP_SVC_DNN) {
        double limit = (double)(svc->slo.fps > 0 ? svc->slo.frame_deadline : svc->slo.deadline);
        for (int b = 1; b <= mb; b++) {
            ep_dur interval;
            double t = (double)ep_pol_dnn_batch(v, sp, b, &interval) * slow;
            double iv = (double)interval * slow;
            double worst = sp->mode == EP_MODE_PP ? iv + t : 2.0 * t;
            if (worst > limit) {
                if (b == 1 && lone && t > 0 && t <= limit) {
                    best = 1e9 / (iv > 0 ? iv : t);
                    bb = 1;
                }
                break; /* batch time grows with b */
            }
            double cap = (double)b / ((iv > 0 ? iv : t) / 1e9);
            if (cap > best) {
                best = cap;
                bb = b;
            }
            if (!rb && best >= target)
                rb = b;
        }
    } else {
        int s = sp->service;
        double in = ep_pol_mean_input(v, s), out = ep_pol_mean_output(v, s);
        if (kv < 0)
            kv = ep_pol_kv_capacity(v, sp);
        double p = (double)ep_pol_llm_iteration(v, sp, (int64_t)in, in * in, 0, 0) * slow / 1e9;
        double ttft = (double)svc->slo.ttft / 1e9, tpot = (double)svc->slo.tpot / 1e9;
        if (kv <= 0 || (double)kv < in + out) {
            *batch = 0;
            if (reach)
                *reach = 0;
            return 0;
        }
        for (int b = 1; p <= ttft / 2 && b <= mb; b++) {
            if ((double)b * (in + out) > (double)kv)
                break;
            double d = (double)ep_pol_llm_iteration(v, sp, 0, 0, b, (int64_t)((in + out / 2) * b)) *
                       slow / 1e9;
            double lambda = (double)b / (out * d + (double)b * p);
            double lp = lambda * p;
            if (lp >= 1 || d / (1 - lp) > tpot)
                continue;
            if (lambda > best) {
                best = lambda;
                bb = b;
            }
            if (!rb && best >= target)
                rb = b;
        }
        if (best <= 0 && lone) {
            double d1 = (double)ep_pol_llm_iteration(v, sp, 0, 0, 1, (int64_t)(in + out / 2)) *
                        slow / 1e9;
            if (p <= ttft && d1 <= tpot) {
                /* One request at a time, at most as often as the next one's prefill
                 * stalls its decode steps within the TPOT (the main loop's rule at batch
                 * 1: d1 / (1 - lambda p) <= tpot). */
                double busy = 1 / (p + out * d1), stall = (1 - d1 / tpot) / p;
                best = stall < busy ? stall : busy;
                bb = best > 0 ? 1 : 0;
            }
        }
    }
    *batch = bb;
    if (reach)
        *reach = rb ? rb : bb;
    return best;
}

double
ep_pol_capacity(const ep_view *v, const ep_instance_spec *sp, int *batch)
{
    int b;
    double c = ep_pol_capacity_at(v, sp, 1, -1, INFINITY, 0, &b, NULL);
    if (batch)
        *batch = b;
    return c;
}

double
ep_pol_link_bw(const ep_link *l)
{
    /* With an mtu, what its packets' framing leaves of it: a full packet's share. */
    double packet = l->mtu > EP_LINK_IP_TCP_BYTES ? l->mtu - EP_LINK_IP_TCP_BYTES : 1;
    double frame = packet / ep_link_wire_bytes(l, packet);
    return l->bw_bytes_per_s * frame * (1.0 - (l->loss < 0.99 ? l->loss : 0.99));
}

static ep_dur
link_cost(const ep_link *l, int64_t bytes)
{
    double bw = ep_pol_link_bw(l);
    return l->latency + (bw > 0 ? ep_round_i64((double)bytes / bw * 1e9) : 0);
}

ep_dur
ep_pol_star_delay(const ep_view *v, int a, int b, int64_t bytes)
{
    if (a == b)
        return 0;
    const ep_scenario *sc = v->sc;
    return link_cost(&sc->links[sc->nodes[a].link], bytes) +
           link_cost(&sc->links[sc->nodes[b].link], bytes);
}

ep_dur
ep_pol_uplink_wait(const ep_view *v, ep_time now, int node)
{
    if (!v->uplink_free || node < 0 || node >= v->sc->nnodes)
        return 0;
    ep_time free_at = v->uplink_free[v->sc->nodes[node].link];
    return free_at > now ? free_at - now : 0;
}

double
ep_pol_mt_stretch(const ep_view *v, const ep_instance_view *iv)
{
    int k = 1;
    for (int i = 0; i < v->ninst; i++) {
        const ep_instance_view *o = &v->inst[i];
        if (o->id == iv->id || !o->ready || o->running == 0)
            continue;
        int shared = 0;
        for (int a = 0; a < o->spec.ndev && !shared; a++)
            for (int b = 0; b < iv->spec.ndev && !shared; b++)
                shared = o->spec.devs[a] == iv->spec.devs[b];
        k += shared;
    }
    return k > 1 ? ep_cost_mt_slowdown(v->sc, k) : 1.0;
}

ep_time
ep_pol_estimate(const ep_view *v, const ep_env *env, const ep_request_info *req, int inst)
{
    const ep_instance_view *iv = &v->inst[inst];
    ep_dur move = v->delay(v, req->at_node, iv->node, req->bytes);
    ep_dur backlog = iv->backlog - (env->now - iv->synced_at);
    if (backlog < 0)
        backlog = 0;
    ep_dur own;
    if (v->sc->services[iv->spec.service].kind == EP_SVC_LLM)
        own = ep_pol_llm_iteration(v, &iv->spec, req->input,
                                   (double)req->input * (double)req->input, iv->running, 0);
    else
        own = ep_pol_dnn_batch(v, &iv->spec, 1, NULL);
    return env->now + move + backlog + own;
}
