/* The node runtime, set-up side: workload sources streamed from the trace database (the
 * simulator and the loadgen replay them), the time window, the policy states, set-up for a
 * role, draining what is left into unfinished records, and tear-down. The drivers (sim/run.c,
 * exec/live.c) run the loop. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/core/profile.h"
#include "node_internal.h"

/* --- workload ------------------------------------------------------------------------- */

static int
source_advance(node_rt *s, node_source *src)
{
    ep_time at;
    int rc = ep_arrivals_next(&src->rp, &src->row, &at);
    if (rc < 0)
        return rc;
    src->has_row = rc == 1;
    if (!src->has_row)
        return 0;
    src->next_at = at < s->eng.now ? s->eng.now : at;
    return node_schedule(&s->eng, &src->ev, src->next_at);
}

void
node_arrival(node_rt *s, node_event *ev)
{
    node_source *src = EP_CONTAINER_OF(ev, node_source, ev);
    const ep_workload *w = src->w;
    const ep_service *svc = &s->sc->services[w->service];
    node_request *r = node_request_alloc(s);
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
        rec->input = src->row.input > 0 ? src->row.input : EP_DEFAULT_INPUT_TOKENS;
        rec->output = src->row.output > 0 ? src->row.output : EP_DEFAULT_OUTPUT_TOKENS;
        r->bytes = rec->input * svc->bytes_per_token;
        r->deadline = rec->arrival + svc->slo.ttft;
    } else {
        rec->input = src->row.input > 0 ? src->row.input : svc->input_bytes;
        rec->output = 1;
        r->bytes = rec->input;
        r->deadline =
                rec->arrival + (svc->slo.fps > 0 ? svc->slo.frame_deadline : svc->slo.deadline);
    }
    int si = w->service;
    s->arrivals[si]++;
    s->sum_in[si] += (double)rec->input;
    s->sum_out[si] += (double)rec->output;
    s->mean_in[si] = s->sum_in[si] / (double)s->arrivals[si];
    s->mean_out[si] = s->sum_out[si] / (double)s->arrivals[si];
    int err = source_advance(s, src);
    if (err && !s->failed)
        s->failed = err;
    if (s->port.arrival) {
        s->port.arrival(s, r);
        return;
    }
    if (!s->node_up[rec->ingress]) {
        node_request_finish(s, r, EP_OUT_DROPPED, "ingress node down");
        return;
    }
    node_route(s, r);
}

/* --- set-up, run, tear-down ------------------------------------------------------------- */

int
node_err(char *err, size_t len, int code, const char *msg, const char *arg)
{
    if (err && len)
        snprintf(err, len, "%s%s%s", msg, arg ? ": " : "", arg ? arg : "");
    return code;
}

/* Finishes every request still in the system as unfinished and frees what events own. */
void
node_drain(node_rt *s)
{
    for (int i = 0; i < s->ninst; i++) {
        node_instance *in = s->inst[i];
        ep_list_node *n;
        while ((n = ep_list_pop_front(&in->running)) != NULL)
            node_request_finish(s, EP_CONTAINER_OF(n, node_request, qnode), EP_OUT_UNFINISHED,
                                "still running when the run ended");
        while ((n = ep_list_pop_front(&in->queue)) != NULL)
            node_request_finish(s, EP_CONTAINER_OF(n, node_request, qnode), EP_OUT_UNFINISHED,
                                "still queued when the run ended");
    }
    for (int d = 0; d < s->sc->ndevices; d++) /* devices still busy when the run ended */
        if (s->dev_busy && s->dev_since && s->dev_busy[d] > 0) {
            s->dev_busy_s[d] += ep_dur_to_s(s->eng.now - s->dev_since[d]);
            s->dev_busy[d] = 0;
        }
    ep_heap_node *hn;
    while ((hn = ep_heap_pop(&s->eng.heap)) != NULL) {
        node_event *ev = EP_CONTAINER_OF(hn, node_event, node);
        if (ev->kind == EV_TRANSFER || ev->fn == node_dnn_request_done)
            node_request_finish(s, EP_CONTAINER_OF(ev, node_request, ev), EP_OUT_UNFINISHED,
                                "in transit when the run ended");
        else if (ev->fn == node_timer_fire)
            free(EP_CONTAINER_OF(ev, node_timer, ev));
        else if (ev->fn == node_sync_deliver)
            free(EP_CONTAINER_OF(ev, node_sync_msg, ev));
    }
}

void
node_free(node_rt *s)
{
    for (int i = 0; i < s->nsrc; i++)
        ep_arrivals_close(&s->src[i].rp);
    free(s->src);
    for (int i = 0; i < s->ninst; i++)
        free(s->inst[i]);
    free(s->inst);
    free(s->iview);
    free(s->synced);
    free(s->current_idx);
    free(s->inst_node);
    free(s->frozen);
    free(s->cut);
    free(s->vcut);
    free(s->vnode_up);
    free(s->dev_slow);
    while (s->pool) {
        node_request *r = s->pool;
        s->pool = r->pool_next;
        free(r);
    }
    for (int i = 0; s->pol_states && s->pol_rngs && i <= s->sc->nnodes; i++) {
        if (s->pol_states[i] && s->pol->fini)
            s->pol->fini(s->pol_states[i]);
        free(s->pol_states[i]);
        ep_rng_fini(&s->pol_rngs[i]);
    }
    free(s->pol_states);
    free(s->pol_rngs);
    free(s->up);
    free(s->up_free);
    free(s->down);
    free(s->node_up);
    free(s->link_up);
    free(s->dev_busy);
    free(s->dev_excl);
    free(s->dev_waiters);
    free(s->dev_since);
    free(s->cat);
    free(s->arrivals);
    free(s->arrivals_at_place);
    free(s->rate);
    free(s->mean_in);
    free(s->mean_out);
    free(s->sum_in);
    free(s->sum_out);
    free(s->oracle);
    free(s->oracle_rate);
    free(s->qdl);
    free(s->qarr);
    node_metrics_free(s->m);
    node_engine_fini(&s->eng);
}

/* --- policy states ----------------------------------------------------------------------- */

uint64_t
node_pol_stream(int node)
{
    /* The controller keeps the stream the policy has always drawn from; node k's is k in the
     * upper half of the id space, clear of the well-known ids (epara/core/rng.h). */
    return node < 0 ? EP_STREAM_POLICY : ((uint64_t)EP_STREAM_POLICY << 32) + (uint64_t)node;
}

void *
node_pol_state(node_rt *s, int node)
{
    int i = node < 0 ? s->sc->nnodes : node;
    EP_ASSERT(i <= s->sc->nnodes && s->pol_states[i] != NULL);
    s->env.rng = &s->pol_rngs[i];
    s->pol_owner = node < 0 ? -1 : node;
    return s->pol_states[i];
}

/* Allocates the policy states the role uses, zeroed, each with its RNG stream: the
 * simulator every node's and the controller's, a testbed process the one it is (the
 * loadgen the controller's slot, for categories only). */
static int
pol_alloc(node_rt *s, uint64_t seed)
{
    int nn = s->sc->nnodes;
    s->pol_states = calloc((size_t)nn + 1, sizeof *s->pol_states);
    s->pol_rngs = calloc((size_t)nn + 1, sizeof *s->pol_rngs);
    if (!s->pol_states || !s->pol_rngs)
        return EP_ENOMEM;
    for (int i = 0; i <= nn; i++) {
        int node = i < nn ? i : -1;
        int used = s->role == NODE_ROLE_ALL ||
                   (s->role == NODE_ROLE_NODE ? node == s->local : node < 0);
        if (!used)
            continue;
        s->pol_states[i] = calloc(1, s->pol->state_size ? s->pol->state_size : 1);
        if (!s->pol_states[i] || ep_rng_init(&s->pol_rngs[i], seed, node_pol_stream(node)))
            return EP_ENOMEM;
    }
    return 0;
}

/* Sets up one policy state as a testbed process sets up its own: init (not on the loadgen,
 * which has no policy), then every service categorized, from no categories (s->cat). */
static int
pol_setup(node_rt *s, int node, char *err, size_t errlen)
{
    const ep_scenario *sc = s->sc;
    void *st = node_pol_state(s, node);
    if (node_hosts(s) || node_places(s)) { /* the loadgen has no policy */
        node_plog_begin(s, NODE_PL_INIT);
        int rc = s->pol->init ? s->pol->init(st, &s->env, &s->view, sc->params, sc->nparams) : 0;
        int32_t o = rc;
        node_plog_data(s, &o, sizeof o);
        node_plog_end(s);
        if (rc)
            return node_err(err, errlen, rc, "policy refused the scenario's parameters",
                            s->pol->name);
    }
    memset(s->cat, 0, (size_t)sc->nservices * sizeof *s->cat);
    for (int i = 0; i < sc->nservices; i++) {
        node_plog_begin(s, NODE_PL_CATEGORIZE);
        if (s->pol->categorize)
            s->pol->categorize(st, &s->view, i, &s->cat[i]);
        else
            ep_category_default(&s->view, i, &s->cat[i]);
        int32_t svc = i;
        node_plog_data(s, &svc, sizeof svc);
        node_plog_data(s, &s->cat[i], sizeof s->cat[i]);
        node_plog_end(s);
    }
    return 0;
}

/* What the policy may know before any arrival: each service's long-run mean rate (rows /
 * the period its traces repeat with, or their span when played once; scaled) and mean sizes (from
 * up to the first 10,000 rows); with the policy parameter oracle=1, the true arrivals of every
 * placement period. */
static int
demand_priors(node_rt *s)
{
    const ep_scenario *sc = s->sc;
    int n = sc->nservices;
    double *cnt = calloc((size_t)n + 1, sizeof *cnt);
    if (!cnt)
        return EP_ENOMEM;
    int oracle = ep_param_get(sc->params, sc->nparams, "oracle", 0) != 0;
    ep_dur period = sc->run.placement_period > 0 ? sc->run.placement_period : s->end + 1;
    if (oracle) {
        s->nperiods = s->end / period + 2;
        s->oracle = calloc((size_t)(s->nperiods * n), sizeof *s->oracle);
        if (!s->oracle) {
            free(cnt);
            return EP_ENOMEM;
        }
    }
    int rc = 0;
    for (int i = 0; i < s->nsrc && !rc; i++) {
        node_source *src = &s->src[i];
        const ep_workload *w = src->w;
        ep_trace_meta m;
        if ((rc = ep_trace_meta_get(s->opts.traces, w->trace, &m)) != 0)
            break;
        /* Over the period it repeats with (what a generated trace covers, not only its
         * rows: a very bursty one may hold all of them within nanoseconds), else its span. */
        double span = (src->rp.period > 0 ? src->rp.period : (double)m.span) * src->rp.scale;
        if (span > 0)
            s->rate[w->service] += (double)m.rows / (span / 1e9);
        ep_trace_reader *r;
        if ((rc = ep_trace_reader_open(s->opts.traces, w->trace, 0, EP_TIME_MAX, &r)) != 0)
            break;
        ep_trace_row row;
        int64_t k = 0;
        int got = 0;
        while (k < 10000 && (got = ep_trace_reader_next(r, &row)) == 1) {
            const ep_service *svc = &sc->services[w->service];
            int llm = svc->kind == EP_SVC_LLM;
            s->sum_in[w->service] += (double)(row.input > 0 ? row.input
                                              : llm         ? 512
                                                            : svc->input_bytes);
            s->sum_out[w->service] += (double)(row.output > 0 ? row.output : llm ? 128 : 1);
            cnt[w->service]++;
            k++;
        }
        ep_trace_reader_close(r);
        if (k < 10000 && got < 0)
            rc = got;
        if (!oracle || rc)
            continue;
        /* The oracle counts the arrivals exactly as they will be replayed. */
        ep_arrivals rp;
        ep_time at;
        if ((rc = ep_arrivals_open(&rp, s->opts.traces, w, s->opts.rate_scale, s->cutoff)) != 0)
            break;
        while ((got = ep_arrivals_next(&rp, &row, &at)) == 1) {
            int64_t p = at / period;
            if (p < s->nperiods)
                s->oracle[p * n + w->service] += 1;
        }
        ep_arrivals_close(&rp);
        if (got < 0)
            rc = got;
    }
    for (int i = 0; i < n; i++) {
        s->mean_in[i] = cnt[i] > 0 ? s->sum_in[i] / cnt[i] : 0;
        s->mean_out[i] = cnt[i] > 0 ? s->sum_out[i] / cnt[i] : 0;
        s->sum_in[i] = s->sum_out[i] = 0; /* the running means start with the first arrival */
    }
    free(cnt);
    return rc;
}

/* node_setup, 1: the result's header and the runtime state of links, nodes and devices, all
 * up, the demand the policy sees, the policy states. */
static int
setup_state(node_rt *s, uint64_t seed, char *err, size_t errlen)
{
    const ep_scenario *sc = s->sc;
    ep_run_result *out = s->res;
    snprintf(out->policy, sizeof out->policy, "%s", s->pol->name);
    out->seed = seed;
    out->nservices = sc->nservices;
    out->ndevices = sc->ndevices;
    out->device_busy_s = calloc((size_t)sc->ndevices + 1, sizeof(double));
    s->dev_busy_s = out->device_busy_s;
    s->up = calloc((size_t)sc->nlinks + 1, sizeof *s->up);
    s->up_free = calloc((size_t)sc->nlinks + 1, sizeof *s->up_free);
    s->down = calloc((size_t)sc->nlinks + 1, sizeof *s->down);
    s->node_up = calloc((size_t)sc->nnodes + 1, sizeof *s->node_up);
    s->link_up = calloc((size_t)sc->nlinks + 1, sizeof *s->link_up);
    s->cut = calloc((size_t)sc->nnodes + 1, sizeof *s->cut);
    s->vcut = calloc((size_t)sc->nnodes + 1, sizeof *s->vcut);
    s->vnode_up = calloc((size_t)sc->nnodes + 1, sizeof *s->vnode_up);
    s->dev_slow = calloc((size_t)sc->ndevices + 1, sizeof *s->dev_slow);
    s->dev_busy = calloc((size_t)sc->ndevices + 1, sizeof *s->dev_busy);
    s->dev_excl = calloc((size_t)sc->ndevices + 1, sizeof *s->dev_excl);
    s->dev_waiters = calloc((size_t)sc->ndevices + 1, sizeof *s->dev_waiters);
    s->dev_since = calloc((size_t)sc->ndevices + 1, sizeof *s->dev_since);
    s->cat = calloc((size_t)sc->nservices + 1, sizeof *s->cat);
    size_t ns = (size_t)sc->nservices + 1;
    s->arrivals = calloc(ns, sizeof *s->arrivals);
    s->arrivals_at_place = calloc(ns, sizeof *s->arrivals_at_place);
    s->rate = calloc(ns, sizeof *s->rate);
    s->mean_in = calloc(ns, sizeof *s->mean_in);
    s->mean_out = calloc(ns, sizeof *s->mean_out);
    s->sum_in = calloc(ns, sizeof *s->sum_in);
    s->sum_out = calloc(ns, sizeof *s->sum_out);
    s->oracle_rate = calloc(ns, sizeof *s->oracle_rate);
    s->m = node_metrics_new(sc->nservices);
    if (!s->arrivals || !s->arrivals_at_place || !s->rate || !s->mean_in || !s->mean_out ||
        !s->sum_in || !s->sum_out || !s->oracle_rate || !out->device_busy_s || !s->up ||
        !s->up_free || !s->down || !s->node_up || !s->link_up || !s->cut || !s->vcut ||
        !s->vnode_up || !s->dev_slow || !s->dev_busy || !s->dev_excl || !s->dev_waiters ||
        !s->dev_since || !s->cat || !s->m || pol_alloc(s, seed) != 0)
        return node_err(err, errlen, EP_ENOMEM, "out of memory", NULL);
    for (int i = 0; i < sc->nlinks; i++) {
        node_pipe p = {0, sc->links[i].bw_bytes_per_s, sc->links[i].latency, sc->links[i].loss,
                       &sc->links[i]};
        s->up[i] = s->down[i] = p;
        s->link_up[i] = 1;
    }
    for (int i = 0; i < sc->nnodes; i++)
        s->node_up[i] = 1;
    for (int i = 0; i < sc->ndevices; i++)
        s->dev_slow[i] = 1;
    return 0;
}

/* node_setup, 2: a streaming reader per workload, the measured window, the demand priors and
 * (the simulator and the loadgen, which report them) the unservable requests. */
static int
setup_sources(node_rt *s, char *err, size_t errlen)
{
    const ep_scenario *sc = s->sc;
    const ep_run_opts *opts = &s->opts;
    ep_run_result *out = s->res;
    int rc = 0;
    double rs = opts->rate_scale > 0 ? opts->rate_scale : 1.0;
    ep_dur dur = opts->duration > 0 ? opts->duration : sc->run.duration;
    s->src = calloc((size_t)sc->nworkloads + 1, sizeof *s->src);
    if (!s->src)
        return node_err(err, errlen, EP_ENOMEM, "out of memory", NULL);
    const char *bad = NULL;
    if ((rc = ep_arrivals_end(opts->traces, sc, rs, dur, &s->end, &bad)) != 0)
        return node_err(err, errlen, rc, ep_arrivals_end_error(rc), bad);
    /* Arrivals before the end are replayed; without a duration the end itself is one. */
    s->cutoff = dur > 0 ? dur : s->end + 1;
    for (int i = 0; i < sc->nworkloads; i++) {
        const ep_workload *w = &sc->workloads[i];
        node_source *src = &s->src[i];
        src->w = w;
        if ((rc = ep_arrivals_open(&src->rp, opts->traces, w, rs, s->cutoff)) != 0)
            return node_err(err, errlen, rc, "cannot read workload trace", w->trace);
        s->nsrc = i + 1;
        node_event_init(&src->ev, node_arrival, EV_ARRIVAL, (uint32_t)i);
    }
    if ((rc = demand_priors(s)) != 0)
        return node_err(err, errlen, rc, "cannot read workload traces for demand priors", NULL);
    ep_arrivals_window(sc, s->end, &s->window_lo, &s->window_hi);
    out->window_s = ep_dur_to_s(s->window_hi - s->window_lo);
    if (node_replays(s)) {
        int64_t per[EP_RUN_MAX_SERVICES];
        if ((rc = ep_arrivals_unservable(opts->traces, sc, rs, dur, &out->unservable,
                                         out->unservable_why, per)) != 0)
            return node_err(err, errlen, rc, "cannot count the unservable requests", NULL);
        for (int i = 0; i < sc->nservices; i++)
            out->svc[i].unservable = per[i];
        if (opts->on_unservable)
            opts->on_unservable(opts->ctx, out);
    }
    return 0;
}

/* node_setup, 3: the policy's environment and view, its states set up (categories), the
 * initial placement where this process places. */
static int
setup_policy(node_rt *s, uint64_t seed, char *err, size_t errlen)
{
    const ep_scenario *sc = s->sc;
    ep_run_result *out = s->res;
    int rc = 0;
    s->env.timer_arm = node_timer_arm;
    s->env.host = s;
    s->view.sc = sc;
    s->view.cat = s->cat;
    s->view.node_up = s->node_up;
    s->view.link_up = s->link_up;
    s->view.uplink_free = s->up_free;
    s->view.delay = node_view_delay;
    s->view.arrivals = s->arrivals;
    s->view.rate = s->rate;
    s->view.oracle_rate = s->oracle ? s->oracle_rate : NULL;
    s->view.mean_input = s->mean_in;
    s->view.mean_output = s->mean_out;
    s->view.placement_period = sc->run.placement_period;
    s->view.sync_period = sc->run.sync_period;
    s->view.host_ = s;
    if (node_hosts(s) || node_places(s))
        node_plog_header(s, seed);
    /* The nodes' states first, the controller's last: the categories the host keeps (the
     * view's, the reports') are the controller's, on a testbed node the node's own. */
    for (int k = 0; k <= sc->nnodes; k++)
        if (s->pol_states[k] && (rc = pol_setup(s, k < sc->nnodes ? k : -1, err, errlen)) != 0)
            return rc;
    for (int i = 0; i < sc->nservices; i++)
        out->svc[i].category = s->cat[i];
    if (node_places(s) && (rc = node_do_place(s, 1)) != 0)
        return node_err(err, errlen, rc, "initial placement failed", s->pol->name);
    return 0;
}

/* node_setup, 4: the first events: each source's first arrival, the sync and placement
 * ticks of the roles that run them (the simulator schedules its faults itself, sim/faults.c). */
static int
setup_events(node_rt *s, char *err, size_t errlen)
{
    const ep_scenario *sc = s->sc;
    int rc = 0;
    for (int i = 0; i < s->nsrc && node_replays(s); i++)
        if ((rc = source_advance(s, &s->src[i])) != 0)
            return node_err(err, errlen, rc, "cannot read workload trace", s->src[i].w->trace);
    node_event_init(&s->sync_ev, node_sync_tick, EV_SYNC, 0);
    node_event_init(&s->place_ev, node_place_tick, EV_PLACE, 0);
    if (sc->run.sync_period > 0 && node_hosts(s))
        node_schedule(&s->eng, &s->sync_ev, sc->run.sync_period);
    if (sc->run.placement_period > 0 && sc->run.placement_period < s->end && node_places(s))
        node_schedule(&s->eng, &s->place_ev, sc->run.placement_period);
    return 0;
}

int
node_setup(node_rt *s, const ep_scenario *sc, const ep_run_opts *opts, ep_run_result *out,
           node_role role, int local, const node_port *port, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    memset(s, 0, sizeof *s);
    s->sc = sc;
    s->opts = *opts;
    s->res = out;
    s->role = role;
    s->local = local;
    if (port)
        s->port = *port;
    node_engine_init(&s->eng);
    int rc;
    const char *pname = opts->policy ? opts->policy : sc->policy;
    s->pol = opts->policy_ops ? opts->policy_ops : ep_policy_find(pname[0] ? pname : "static");
    if (!s->pol) {
        rc = node_err(err, errlen, EP_EINVAL, "unknown policy (see 'epara sim --help')", pname);
        goto done;
    }
    /* An unknown key or a value outside its domain is refused, never silently ignored. */
    if ((rc = ep_policy_check_params(s->pol, sc, sc->params, sc->nparams, err, errlen)) != 0)
        goto done;
    if (sc->nservices > EP_RUN_MAX_SERVICES) {
        rc = node_err(err, errlen, EP_EINVAL, "too many services for one run (max 64)", NULL);
        goto done;
    }
    uint64_t seed = opts->seed_set ? opts->seed : sc->run.seed;
    if ((rc = setup_state(s, seed, err, errlen)) != 0 ||
        (rc = setup_sources(s, err, errlen)) != 0 ||
        (rc = setup_policy(s, seed, err, errlen)) != 0 || (rc = setup_events(s, err, errlen)) != 0)
        goto done;
    return 0;
done:
    s->quiet = 1;
    node_drain(s);
    node_free(s);
    free(out->device_busy_s);
    out->device_busy_s = NULL;
    return rc;
}

void
ep_run_result_fini(ep_run_result *r)
{
    free(r->device_busy_s);
    r->device_busy_s = NULL;
}
