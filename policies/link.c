/* EPARA's uplink admission as a component any policy can embed (epara/policies/policy_util.h,
 * ep_link_adm_*): while a node's uplink has a queue, the services leaving the node share it
 * densest first (most weight per byte), each admitted at its share by a deterministic
 * credit; rates are what the node itself has seen enter it over the last `window` seconds
 * (or, with window 0, the view's period means split over the workloads' ingress nodes).
 * ep_link_adm_route applies it, with the uplink-aware deadline check, to a decision a policy
 * has already made. Invariant: it only ever turns a decision that leaves the node into a
 * rejection; it never changes where a request goes. */
#include <math.h>

#include "epara/policies/policy_util.h"

void
ep_link_adm_init(ep_link_adm *a, const ep_view *v, double margin, double window)
{
    /* a is zeroed (the host zeroes policy state): clearing it here would touch every page
     * of it in each node's state. */
    a->margin = margin;
    a->window = window;
    const ep_scenario *sc = v->sc;
    for (int s = 0; s < sc->nservices && s < EP_LINK_SVC; s++) {
        int nw = 0;
        for (int w = 0; w < sc->nworkloads; w++)
            nw += sc->workloads[w].service == s && sc->workloads[w].ningress >= 1;
        for (int w = 0; w < sc->nworkloads && nw > 0; w++) {
            const ep_workload *wl = &sc->workloads[w];
            if (wl->service != s || wl->ningress < 1)
                continue;
            for (int j = 0; j < wl->ningress; j++)
                if (wl->ingress[j] >= 0 && wl->ingress[j] < EP_LINK_NODES)
                    a->ingress_share[wl->ingress[j]][s] += 1.0 / wl->ningress;
        }
        for (int k = 0; k < EP_LINK_NODES && k < sc->nnodes && nw > 0; k++)
            a->ingress_share[k][s] /= nw;
    }
}

/* Requests/s of service s entering node n as n counts them, decayed to `now`. */
static double
in_rate(const ep_link_adm *a, int n, int s, ep_time now)
{
    double dt = (double)(now - a->in_at[n][s]) / 1e9;
    return a->in_rate[n][s] * exp(-(dt > 0 ? dt : 0) / a->window);
}

void
ep_link_adm_note(ep_link_adm *a, int n, int s, ep_time now)
{
    if (a->window <= 0 || n < 0 || n >= EP_LINK_NODES || s < 0 || s >= EP_LINK_SVC)
        return;
    a->in_rate[n][s] = in_rate(a, n, s, now) + 1.0 / a->window;
    a->in_at[n][s] = now;
}

/* Payload bytes of one request of service s (the view's mean size). */
static double
req_bytes(const ep_view *v, int s)
{
    const ep_service *svc = &v->sc->services[s];
    double in = v->mean_input[s] > 0 ? v->mean_input[s] : (double)svc->input_bytes;
    return svc->kind == EP_SVC_LLM ? in * (double)svc->bytes_per_token : in;
}

/* The share of service s's requests at node n that n's uplink is given when the services
 * leaving n bring more bytes than it carries: the link goes to the most requests (weighted)
 * per byte first, as the goodput objective wants (four 50 kB frames before one 200 kB
 * image). Services with a ready instance on n stay local and are not counted. 1 when the
 * link suffices. */
static double
link_share(const ep_link_adm *a, const ep_view *v, ep_time now, int n, int s)
{
    const ep_scenario *sc = v->sc;
    double bw = ep_pol_link_bw(&sc->links[sc->nodes[n].link]);
    if (bw <= 0 || s >= EP_LINK_SVC)
        return 1;
    double brate[EP_LINK_SVC] = {0}, dens[EP_LINK_SVC] = {0}, total = 0;
    int ns = sc->nservices < EP_LINK_SVC ? sc->nservices : EP_LINK_SVC;
    int local[EP_LINK_SVC] = {0}; /* a ready instance of the service on n */
    for (int i = 0; i < v->ninst; i++) {
        const ep_instance_view *iv = &v->inst[i];
        if (iv->ready && iv->node == n && iv->spec.service < ns)
            local[iv->spec.service] = 1;
    }
    for (int k = 0; k < ns; k++) {
        double r = a->window > 0 ? in_rate(a, n, k, now) : v->rate[k] * a->ingress_share[n][k];
        if (r <= 0)
            continue;
        double b = req_bytes(v, k);
        if (local[k] || b <= 0)
            continue;
        brate[k] = r * b;
        dens[k] = (sc->services[k].weight > 0 ? sc->services[k].weight : 1) / b;
        total += brate[k];
    }
    if (total <= bw || brate[s] <= 0)
        return 1;
    /* Fill the link densest first; s gets what is left when its turn comes. */
    double left = bw;
    int used[EP_LINK_SVC] = {0};
    for (;;) {
        int best = -1;
        for (int k = 0; k < ns; k++)
            if (!used[k] && brate[k] > 0 && (best < 0 || dens[k] > dens[best]))
                best = k;
        if (best < 0)
            return 1;
        if (best == s)
            return left <= 0 ? 0 : left >= brate[s] ? 1 : left / brate[s];
        used[best] = 1;
        left -= brate[best];
    }
}

int
ep_link_adm_admit(ep_link_adm *a, const ep_view *v, ep_time now, int n, int s)
{
    if (n < 0 || n >= EP_LINK_NODES || s < 0 || ep_pol_uplink_wait(v, now, n) <= 0)
        return 1; /* nothing queued on the link: it keeps up */
    double f = link_share(a, v, now, n, s);
    if (f >= 1)
        return 1;
    float *c = &a->credit[n][s];
    *c += (float)f;
    if (*c >= 1) {
        *c -= 1;
        return 1;
    }
    return 0;
}

ep_dur
ep_link_adm_wait(const ep_link_adm *a, const ep_view *v, ep_time now, int n)
{
    ep_dur wait = ep_pol_uplink_wait(v, now, n);
    return wait + (ep_dur)(a->margin * (double)wait);
}

void
ep_link_adm_route(ep_link_adm *a, const ep_env *env, const ep_view *v, const ep_request_info *req,
                  ep_route *out)
{
    if (req->hops == 0)
        ep_link_adm_note(a, req->at_node, req->service, env->now);
    if (req->hops > 0 || out->kind == EP_ROUTE_REJECT)
        return;
    int inst = -1, to = out->node;
    if (out->kind == EP_ROUTE_DISPATCH) {
        for (int i = 0; i < v->ninst && inst < 0; i++)
            if (v->inst[i].id == out->instance)
                inst = i;
        if (inst < 0)
            return;
        to = v->inst[inst].node;
    }
    if (to == req->at_node)
        return;
    ep_dur wait = ep_link_adm_wait(a, v, env->now, req->at_node);
    ep_time done = inst >= 0 ? ep_pol_estimate(v, env, req, inst)
                             : env->now + v->delay(v, req->at_node, to, req->bytes);
    if (wait > 0 && done + wait > req->deadline) {
        out->kind = EP_ROUTE_REJECT;
        out->reason = "the uplink's queue would make it late";
        return;
    }
    if (!ep_link_adm_admit(a, v, env->now, req->at_node, req->service)) {
        out->kind = EP_ROUTE_REJECT;
        out->reason = "uplink overloaded: kept for requests with fewer bytes";
    }
}
