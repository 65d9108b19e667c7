/* epara's request router: deadline estimates (co-location stretch, this node's own sends
 * and uplink queue, what arrived elsewhere since the last sync), the TPOT-bound batch,
 * frame-level DP and early rejection. Policy description: epara.c. */
#include <math.h>
#include <string.h>

#include "epara_internal.h"
#include "epara/policies/policy_util.h"

/* --- request router --------------------------------------------------------------------- */

/* The entry of instance iv in this node's notes of what it sent. */
static sent_work *
sent_slot(epara_state *st, const ep_instance_view *iv)
{
    return iv->id < 0 ? NULL : &st->sent[iv->id % SENT_SLOTS];
}

static ep_dur
sent_since_sync(epara_state *st, const ep_view *view, const ep_request_info *req, int i)
{
    const ep_instance_view *iv = &view->inst[i];
    if (!st->p.own_sent || iv->node == req->at_node ||
        view->sc->services[iv->spec.service].kind != EP_SVC_LLM)
        return 0;
    sent_work *w = sent_slot(st, iv);
    return w && w->inst == iv->id + 1 && w->synced_at == iv->synced_at ? w->work : 0;
}

/* Notes the prefill work of LLM prompt req dispatched to remote instance iv (own_sent). */
static void
note_sent(epara_state *st, const ep_view *view, const ep_request_info *req,
          const ep_instance_view *iv)
{
    if (!st->p.own_sent)
        return;
    sent_work *w = sent_slot(st, iv);
    if (!w || iv->node == req->at_node)
        return;
    if (w->inst != iv->id + 1 || w->synced_at != iv->synced_at)
        *w = (sent_work){iv->id + 1, iv->synced_at, 0};
    w->work += ep_pol_llm_iteration(view, &iv->spec, req->input,
                                    (double)req->input * (double)req->input, 0, 0);
}

/* Counts the busy ready instances of each device for this route call (none when the
 * scenario has more devices than the table). */
static void
busy_devices(epara_state *st, const ep_view *view, int on)
{
    st->busy_valid = 0;
    if (!on || view->sc->ndevices > MAX_DEV)
        return;
    memset(st->busy_dev, 0, (size_t)view->sc->ndevices * sizeof *st->busy_dev);
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *o = &view->inst[i];
        if (o->ready && o->running > 0)
            for (int d = 0; d < o->spec.ndev; d++)
                st->busy_dev[o->spec.devs[d]]++;
    }
    st->busy_valid = 1;
}

/* Whether another busy ready instance may share a device with iv (1 when unknown): else
 * ep_pol_mt_stretch would find none. */
static int
shares_busy_device(const epara_state *st, const ep_instance_view *iv)
{
    if (!st->busy_valid)
        return 1;
    int self = iv->ready && iv->running > 0;
    for (int d = 0; d < iv->spec.ndev; d++)
        if (st->busy_dev[iv->spec.devs[d]] > self)
            return 1;
    return 0;
}

/* The co-location slowdown iv runs at now (ep_pol_mt_stretch), skipping the scan where no
 * other busy instance shares its devices. */
static double
stretch_now(const epara_state *st, const ep_view *view, const ep_instance_view *iv)
{
    return shares_busy_device(st, iv) ? ep_pol_mt_stretch(view, iv) : 1.0;
}

/* Estimated completion on instance i: ep_pol_estimate plus, when the request has to leave
 * this node, the wait behind what this node's uplink still has to send (its own NIC queue:
 * a burst of frames on a slow link would otherwise be sent to miss their deadlines). */
static ep_time
estimate(epara_state *st, const ep_view *view, const ep_env *env, const ep_request_info *req, int i)
{
    const ep_instance_view *iv = &view->inst[i];
    ep_time t = ep_pol_estimate(view, env, req, i) + sent_since_sync(st, view, req, i);
    if (st->p.mt_stretch) {
        /* co-located instances busy now slow this one's work down */
        double f = stretch_now(st, view, iv);
        if (f > 1) {
            ep_dur move = view->delay(view, req->at_node, iv->node, req->bytes);
            t = env->now + move + ep_round_i64((double)(t - env->now - move) * f);
        }
    }
    if (st->p.inflow && iv->node != req->at_node && iv->id >= 0 && iv->id < MAX_INST &&
        st->admit_rate[iv->id] > 0 && view->sc->services[iv->spec.service].kind == EP_SVC_LLM) {
        /* Its synced backlog has drained since, but requests kept arriving from every node
         * at the rate the instance admits: their prefills, at the service's mean prompt. */
        double in = view->mean_input[iv->spec.service];
        double p = (double)ep_pol_llm_iteration(view, &iv->spec, (int64_t)in, in * in, 0, 0);
        /* At most one sync period's worth: a view older than that is stale because state
         * messages are being lost or delayed, and what the instance did since is unknown
         * (its node, which the prompt is forwarded to, decides on its current state). */
        ep_dur age = env->now - iv->synced_at;
        if (age > view->sync_period && view->sync_period > 0)
            age = view->sync_period;
        double since = (double)age / 1e9;
        t += (ep_dur)(since * st->admit_rate[iv->id] * p);
    }
    if (st->p.link_aware && iv->node != req->at_node)
        t += ep_link_adm_wait(&st->link, view, env->now, req->at_node);
    return t;
}

/* Whether LLM instance iv already holds as many requests as it can run within the TPOT
 * SLO at the rate its service's requests now arrive at each of its `n` instances (adding
 * one more would slow every running request past it); at least one. With tpot_stretch (off
 * by default; docs/RESULTS.md) its iterations run at the slowdown of the co-located
 * instances the view shows running now (ep_pol_mt_stretch), and where even one request
 * alone would miss its TPOT there it holds none. Cached per instance until that rate or
 * slowdown changes. */
static int
full(epara_state *st, const ep_view *view, const ep_instance_view *iv, int n)
{
    if (iv->id < 0 || iv->id >= MAX_INST)
        return 0;
    int s = iv->spec.service;
    double lambda = n > 0 ? view->rate[s] / n : view->rate[s];
    double slow = st->p.tpot_stretch ? stretch_now(st, view, iv) : 1;
    if (st->tpot_slow[iv->id] != slow || st->tpot_rate[iv->id] != lambda) {
        /* Prefills interleave at the rate the instance admits, which is at most what it
         * sustains within the SLO: under overload the excess is rejected, not prefilled
         * (with the offered rate the limit would fall to one request and throughput
         * collapse exactly when it is needed). */
        double cap = ep_pol_capacity(view, &iv->spec, NULL);
        double admit = cap > 0 && lambda > cap ? cap : lambda;
        int lim = ep_pol_llm_batch_limit(view, &iv->spec, admit, slow);
        st->tpot_batch[iv->id] = lim > 0 || st->p.tpot_stretch ? lim : 1;
        st->tpot_rate[iv->id] = lambda;
        st->tpot_slow[iv->id] = slow;
        st->admit_rate[iv->id] = admit;
    }
    return iv->running + iv->queued >= st->tpot_batch[iv->id];
}

/* Prefill seconds prompt req costs on instance iv, at the slowdown of its busy neighbours. */
static double
prefill_s(epara_state *st, const ep_view *view, const ep_request_info *req,
          const ep_instance_view *iv)
{
    double p = ep_dur_to_s(ep_pol_llm_iteration(view, &iv->spec, req->input,
                                                (double)req->input * (double)req->input, 0, 0));
    return st->p.mt_stretch ? p * stretch_now(st, view, iv) : p;
}

/* The decay window of instance iv's sent prefill work: the decode life of a mean output at
 * the TPOT SLO (the span over which a request's TPOT is averaged), at least one TPOT. */
static double
stall_window(const ep_view *view, const ep_instance_view *iv)
{
    const ep_service *svc = &view->sc->services[iv->spec.service];
    double out = ep_pol_mean_output(view, iv->spec.service);
    return (out > 2 ? out - 1 : 1) * ep_dur_to_s(svc->slo.tpot);
}

/* The prefill seconds this node sent instance iv, decayed to now (0 for a new instance). */
static double
stall_load(epara_state *st, const ep_view *view, const ep_env *env, const ep_instance_view *iv)
{
    int k = iv->id % MAX_INST;
    if (iv->id < 0 || st->stall_inst[k] != iv->id + 1)
        return 0;
    double age = ep_dur_to_s(env->now - st->stall_at[k]);
    return st->stall_work[k] * exp(-(age > 0 ? age : 0) / stall_window(view, iv));
}

/* Whether sending req to LLM instance i would stall the requests it decodes past their
 * TPOT: prefills run before decode steps, so a request decoding through a share f of
 * prefill time has a TPOT of d / (1 - f), d the decode step at the running batch; over a
 * mean output's decode life W the prefill work this node sent (decayed with time constant
 * W), this prompt's included, may fill at most stall_admit (1 - d / TPOT) of W. In a burst
 * above what the instances sustain, admitting every prompt that meets its TTFT makes the
 * running requests, then the admitted ones, miss their TPOT (the rate-based TPOT-bound
 * batch, tpot_admit, sees the period's mean rate only). */
static int
stalls(epara_state *st, const ep_view *view, const ep_env *env, const ep_request_info *req, int i)
{
    const ep_instance_view *iv = &view->inst[i];
    if (iv->running <= 0 || iv->id < 0)
        return 0;
    const ep_service *svc = &view->sc->services[iv->spec.service];
    double out = ep_pol_mean_output(view, iv->spec.service);
    double in = ep_pol_mean_input(view, iv->spec.service);
    double d = ep_dur_to_s(ep_pol_llm_iteration(view, &iv->spec, 0, 0, iv->running,
                                                (int64_t)((in + out / 2) * iv->running)));
    double share = 1 - d / ep_dur_to_s(svc->slo.tpot);
    double w = stall_window(view, iv);
    double f = (stall_load(st, view, env, iv) + prefill_s(st, view, req, iv)) / w;
    return f > st->p.stall_admit * (share > 0 ? share : 0);
}

/* Notes the prefill work of LLM prompt req dispatched to instance iv (stall_admit). */
static void
note_stall(epara_state *st, const ep_view *view, const ep_env *env, const ep_request_info *req,
           const ep_instance_view *iv)
{
    if (st->p.stall_admit <= 0 || iv->id < 0)
        return;
    int k = iv->id % MAX_INST;
    double load = stall_load(st, view, env, iv);
    st->stall_inst[k] = iv->id + 1;
    st->stall_work[k] = load + prefill_s(st, view, req, iv);
    st->stall_at[k] = env->now;
}

/* Frame-level DP: a frequency task's frames are spread over the replicas that meet the
 * frame's deadline by their estimate, each in proportion to the frames per second it
 * sustains within the SLO (smooth weighted round-robin: a fast GPU gets more frames than
 * an embedded board, and a replica sharing its device (MT) its share). The id of the
 * instance chosen, or -1 when fewer than two qualify (the earliest estimate decides). */
static dp_slot *
dp_slot_of(epara_state *st, const ep_view *view, const ep_instance_view *iv)
{
    dp_slot *d = &st->dp[iv->id % MAX_INST];
    if (d->inst != iv->id + 1)
        *d = (dp_slot){iv->id + 1, ep_pol_capacity(view, &iv->spec, NULL), 0};
    return d;
}

static int
frame_dp(epara_state *st, const ep_env *env, const ep_view *view, const ep_request_info *req)
{
    double total = 0;
    int ok = 0;
    dp_slot *best = NULL;
    const ep_instance_view *pick = NULL;
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *iv = &view->inst[i];
        if (iv->spec.service != req->service || !iv->ready || iv->id < 0 ||
            estimate(st, view, env, req, i) > req->deadline)
            continue;
        dp_slot *d = dp_slot_of(st, view, iv);
        if (!(d->rate > 0))
            continue;
        ok++;
        total += d->rate;
        d->credit += d->rate;
        if (!best || d->credit > best->credit) {
            best = d;
            pick = iv;
        }
    }
    if (ok < 2) {
        /* No choice to spread: what was credited this round is taken back, or a replica
         * that alone met the deadline for a while would carry a surplus that later sends it
         * every frame of every node in a row. */
        if (best)
            best->credit -= total;
        return -1;
    }
    best->credit -= total;
    return pick->id;
}

static void
reject(ep_route *out, const char *reason)
{
    out->kind = EP_ROUTE_REJECT;
    out->reason = reason;
}

static void
dispatch(ep_route *out, int instance)
{
    out->kind = EP_ROUTE_DISPATCH;
    out->instance = instance;
}

/* Chooses where request req goes (epr_route records what it dispatched). */
static void
route(epara_state *st, const ep_env *env, const ep_view *view, const ep_request_info *req,
      ep_route *out)
{
    int best_local = -1, best_any = -1, n = 0;
    ep_time t_local = EP_TIME_MAX, t_any = EP_TIME_MAX;
    int freq = view->cat[req->service].sensitivity == EP_SENS_FREQUENCY;
    int llm = view->sc->services[req->service].kind == EP_SVC_LLM, nready = 0;
    for (int i = 0; llm && i < view->ninst; i++)
        nready += view->inst[i].spec.service == req->service && view->inst[i].ready;
    for (int i = 0; i < view->ninst; i++) {
        const ep_instance_view *iv = &view->inst[i];
        if (iv->spec.service != req->service || !iv->ready)
            continue;
        n++;
        if (llm && st->p.tpot_admit && full(st, view, iv, nready))
            continue;
        if (llm && st->p.stall_admit > 0 && stalls(st, view, env, req, i))
            continue;
        ep_time t = estimate(st, view, env, req, i);
        if (iv->node == req->at_node && t < t_local) {
            t_local = t;
            best_local = i;
        }
        if (t < t_any) {
            t_any = t;
            best_any = i;
        }
    }
    if (n == 0) {
        reject(out, "no instance of the service");
        return;
    }
    if (best_any < 0) {
        reject(out, "every instance is at its TPOT-bound batch");
        return;
    }
    /* Local first, with a margin for an LLM prompt: its estimate on a continuously batched
     * instance cannot see the prompts admitted beside it later, which stall its prefill and
     * decode; a node whose own instance is just within the TTFT sends the prompt to a
     * faster one instead of keeping it (the prompt is a few kilobytes). */
    ep_time local_by = req->deadline;
    if (llm && st->p.local_slack < 1 && req->deadline > env->now)
        local_by = env->now + (ep_dur)(st->p.local_slack * (double)(req->deadline - env->now));
    if (best_local >= 0 && (t_local <= local_by || !st->p.forward)) {
        dispatch(out, view->inst[best_local].id);
        return;
    }
    if (!st->p.forward || req->hops >= st->p.max_hops) {
        if (best_local >= 0) {
            dispatch(out, view->inst[best_local].id);
            return;
        }
        if (!st->p.forward) {
            reject(out, "no local instance");
            return;
        }
    }
    if (st->p.link_density && req->hops == 0 && view->inst[best_any].node != req->at_node &&
        !ep_link_adm_admit(&st->link, view, env->now, req->at_node, req->service)) {
        reject(out, "uplink overloaded: kept for requests with fewer bytes");
        return;
    }
    if (t_any > req->deadline && st->p.early_reject) {
        reject(out, "no instance can meet the deadline");
        return;
    }
    if (freq) {
        int pick = frame_dp(st, env, view, req);
        if (pick >= 0) {
            dispatch(out, pick);
            return;
        }
    }
    const ep_instance_view *best = &view->inst[best_any];
    if (llm && st->p.llm_forward && best->node != req->at_node && req->hops < st->p.max_hops) {
        /* An LLM prompt is a few kilobytes: hand it to the node of the best instance, which
         * admits it on its current state (or sends it on) instead of this node's stale view. */
        out->kind = EP_ROUTE_FORWARD;
        out->node = best->node;
        return;
    }
    dispatch(out, best->id);
}

void
epr_route(void *state, const ep_env *env, const ep_view *view, const ep_request_info *req,
          ep_route *out)
{
    epara_state *st = state;
    if (req->hops == 0 && st->p.link_density)
        ep_link_adm_note(&st->link, req->at_node, req->service, env->now);
    busy_devices(st, view, st->p.mt_stretch || st->p.tpot_stretch);
    route(st, env, view, req, out);
    st->busy_valid = 0;
    if (out->kind != EP_ROUTE_DISPATCH || view->sc->services[req->service].kind != EP_SVC_LLM)
        return;
    for (int i = 0; i < view->ninst; i++)
        if (view->inst[i].id == out->instance) {
            note_sent(st, view, req, &view->inst[i]);
            note_stall(st, view, env, req, &view->inst[i]);
            break;
        }
}
