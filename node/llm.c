/* LLM instances: iteration-level continuous batching (as in Orca and vLLM). Each iteration
 * prefills the newly admitted requests (their prompt, plus the tokens already generated
 * when they are recomputed after preemption; with a service's prefill_chunk, at most that
 * many prompt tokens per iteration, as in chunked prefill) and decodes one token for every
 * other running request. KV cache: a request holds prompt + generated tokens; admission waits while
 * the cache cannot hold a new request; when decoding would overflow it, the most recently admitted
 * requests are preempted (KV freed, recomputed later). A request whose prompt + output exceeds the
 * instance's whole cache is rejected at admission ("exceeds KV capacity"): it could never finish,
 * and is never silently lost. */
#include <math.h>

#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"
#include "node_internal.h"

static int64_t
ctx_tokens(const node_request *r)
{
    return r->rec.input + r->generated;
}

int
node_llm_admit(node_rt *s, node_instance *in, node_request *r)
{
    (void)s;
    if (r->rec.input + r->rec.output > in->kv_cap)
        return EP_EFULL;
    return 0;
}

static void
preempt_last(node_rt *s, node_instance *in)
{
    ep_list_node *n = ep_list_last(&in->running);
    node_request *r = EP_CONTAINER_OF(n, node_request, qnode);
    ep_list_remove(&in->running, n);
    in->nrunning--;
    in->kv_used -= r->kv_held;
    r->kv_held = 0;
    r->prefilled = 0;
    r->rec.preemptions++;
    s->res->preemptions++;
    ep_list_push_front(&in->queue, n);
    int64_t ctx = ctx_tokens(r);
    r->prefill_est =
            ep_pol_llm_iteration(&s->view, &in->spec, ctx, (double)ctx * (double)ctx, 0, 0);
    in->queued_prefill += r->prefill_est;
}

void
node_llm_start(node_rt *s, node_instance *in)
{
    const ep_service *svc = &s->sc->services[in->spec.service];
    int maxb = in->spec.max_batch > 0 ? in->spec.max_batch : svc->max_batch;
    if (maxb < 1)
        maxb = 1;
    /* Every running request gains one token this iteration: make room, newest first. */
    while (in->nrunning > 0 && in->kv_used + in->nrunning > in->kv_cap)
        preempt_last(s, in);
    /* Admit from the queue head while the batch and the cache allow. */
    for (;;) {
        ep_list_node *n = ep_list_first(&in->queue);
        if (!n || in->nrunning >= maxb)
            break;
        node_request *r = EP_CONTAINER_OF(n, node_request, qnode);
        int64_t need = ctx_tokens(r);
        if (in->kv_used + need + in->nrunning + 1 > in->kv_cap)
            break;
        ep_list_remove(&in->queue, n);
        in->queued_prefill -= r->prefill_est;
        ep_list_push_back(&in->running, n);
        in->nrunning++;
        r->kv_held = need;
        in->kv_used += need;
        r->prefilled = 0;
        r->prefill_done = 0;
        if (r->rec.dispatch == 0 && r->rec.preemptions == 0)
            r->rec.dispatch = s->eng.now;
    }
    if (in->nrunning == 0)
        return;
    int64_t pf = 0, ctx = 0;
    double pf_sq = 0;
    int dec = 0;
    /* Chunked prefill: at most `prefill_chunk` prompt tokens per iteration (0: whole
     * prompts), taken in admission order, so decodes are not stalled behind long prompts. */
    int64_t budget = svc->prefill_chunk > 0 ? svc->prefill_chunk : INT64_MAX;
    EP_LIST_FOREACH(&in->running, n)
    {
        node_request *r = EP_CONTAINER_OF(n, node_request, qnode);
        r->chunk = 0;
        if (r->prefilled) {
            dec++;
            ctx += r->kv_held;
            continue;
        }
        int64_t left = r->kv_held - r->prefill_done;
        int64_t take = left < budget ? left : budget;
        if (take <= 0)
            continue;
        budget -= take;
        r->chunk = take;
        pf += take;
        /* Causal attention of the new tokens over the whole prefix so far. */
        pf_sq += (double)take * (double)take + 2.0 * (double)take * (double)r->prefill_done;
    }
    ep_dur t = ep_pol_llm_iteration(&s->view, &in->spec, pf, pf_sq, dec, ctx);
    ep_dur real = s->port.run ? s->port.run(s, in, in->nrunning, t) : -1;
    if (real >= 0)
        t = real;
    t = node_instance_begin(s, in, t);
    node_schedule(&s->eng, &in->ev, s->eng.now + t);
}

void
node_llm_iter_done(node_rt *s, node_event *ev)
{
    node_instance *in = EP_CONTAINER_OF(ev, node_instance, ev);
    node_instance_end(s, in);
    int nb = in->nrunning;
    ep_list_node *n = ep_list_first(&in->running);
    while (n) {
        ep_list_node *next = ep_list_next(&in->running, n);
        node_request *r = EP_CONTAINER_OF(n, node_request, qnode);
        if (r->rec.batch < nb)
            r->rec.batch = nb;
        if (!r->prefilled) {
            r->prefill_done += r->chunk;
            if (r->prefill_done < r->kv_held) {
                n = next; /* prompt not finished: no token yet */
                continue;
            }
        }
        if (!node_reachable(s, in->node, r->rec.ingress)) {
            /* Its token cannot reach the client across a partition: the request is lost. */
            ep_list_remove(&in->running, n);
            in->nrunning--;
            in->kv_used -= r->kv_held;
            r->kv_held = 0;
            node_request_finish(s, r, EP_OUT_DROPPED, "network partition");
            n = next;
            continue;
        }
        r->prefilled = 1;
        r->generated++;
        r->kv_held++;
        in->kv_used++;
        ep_dur back = node_delay(s, in->node, r->rec.ingress,
                                 s->sc->services[r->rec.service].bytes_per_token);
        if (r->generated == 1)
            r->rec.first_token = s->eng.now + back;
        if (r->generated >= r->rec.output) {
            ep_list_remove(&in->running, n);
            in->nrunning--;
            in->kv_used -= r->kv_held;
            r->kv_held = 0;
            r->rec.done = s->eng.now + back;
            in->served++;
            node_request_finish(s, r, EP_OUT_COMPLETED, NULL);
        }
        n = next;
    }
    node_instance_kick(s, in);
}
