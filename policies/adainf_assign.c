/* adainf's edge servers and their areas: what each server's devices offer each service and
 * the fixed home of every (ingress node, service) pair. Invariant: homes are assigned once,
 * from the view of the first hook called, so every host fixes the same ones. Policy
 * description: adainf.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adainf_internal.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

/* What node's devices offer s with nothing beside it: 2 when a device (or a tensor-parallel
 * group of the node's first devices) has an SLO capacity, 1 when one only meets the SLO for a
 * lone request, 0 otherwise. *unit gets the devices busy per request/s of the best option
 * (the fewest devices at the best level), *multi whether that option is a TP group. */
static int
node_level(const ep_view *v, int node, int s, double *unit, int *multi)
{
    const ep_scenario *sc = v->sc;
    const ep_node *nd = &sc->nodes[node];
    ep_category cat;
    ep_category_default(v, s, &cat);
    int lv = 0, bg = 0;
    *unit = 0;
    *multi = 0;
    for (int g = 1; g <= nd->ndev && g <= EP_MAX_STAGE_DEVS && lv < 2; g++) {
        if (g == 1 && cat.multi_device)
            continue;
        double mem = (double)ep_cost_instance_mem(sc, s, g);
        for (int j = 0; j < (g == 1 ? nd->ndev : 1); j++) {
            ep_instance_spec sp;
            memset(&sp, 0, sizeof sp);
            sp.service = s;
            sp.ndev = g;
            sp.mode = g > 1 ? EP_MODE_TP : EP_MODE_SINGLE;
            int fits = 1;
            for (int q = 0; q < g; q++) {
                sp.devs[q] = nd->dev0 + (g == 1 ? j : q);
                fits &= ep_pol_usable_mem(sc, sp.devs[q]) >= mem;
            }
            if (!fits)
                continue;
            int b, l = 2;
            double cap = ep_pol_capacity_at(v, &sp, 1, -1, 0, 0, &b, NULL);
            if (cap <= 0) {
                l = 1;
                cap = ep_pol_capacity_at(v, &sp, 1, -1, 0, 1, &b, NULL);
            }
            /* A higher level wins; at the same level, fewer devices, then the lower unit. */
            if (cap <= 0 || l < lv || (l == lv && (g > bg || g / cap >= *unit)))
                continue;
            lv = l;
            bg = g;
            *unit = g / cap;
            *multi = g > 1;
        }
    }
    return lv;
}

/* Bytes one request of s carries to its server. */
static int64_t
request_bytes(const ep_view *v, int s)
{
    const ep_service *svc = &v->sc->services[s];
    if (svc->kind == EP_SVC_LLM) {
        double in, out;
        ada_llm_sizes(v, s, &in, &out);
        return (int64_t)in * (svc->bytes_per_token > 0 ? svc->bytes_per_token : 4);
    }
    if (v->mean_input && v->mean_input[s] >= 1)
        return (int64_t)v->mean_input[s];
    return svc->input_bytes > 0 ? svc->input_bytes : 1;
}

static int
cmp_pair(const void *a, const void *b)
{
    const ada_pair *x = a, *y = b;
    if (x->d != y->d)
        return x->d > y->d ? -1 : 1;
    if (x->node != y->node)
        return x->node - y->node;
    return x->svc - y->svc;
}

/* Fixes the home of every (ingress node, service) pair (see adainf.c's file comment) from the
 * view of the first hook called: the traces' long-run rates and mean sizes in every host (a
 * replay's init sees no rates; a live testbed's node processes never plan). */
void
ada_assign_homes(ada_state *st, const ep_view *v)
{
    const ep_scenario *sc = v->sc;
    int nn = st->nnodes, ns = st->nsvc;
    size_t nx = (size_t)nn * (size_t)ns;
    double *load = st->load;
    signed char *top = st->top;
    ada_pair *pend = st->pend;
    st->homed = 1;
    for (int n = 0; n < nn; n++) {
        for (int s = 0; s < ns && st->server[n]; s++) {
            size_t ix = (size_t)n * (size_t)ns + (size_t)s;
            int multi;
            st->ns[ix].lvl = (signed char)node_level(v, n, s, &st->ns[ix].unit, &multi);
            st->ns[ix].multi = (signed char)multi;
            if (st->ns[ix].lvl > top[s])
                top[s] = st->ns[ix].lvl;
        }
    }
    /* Servers first take their own demand; the other pairs go largest first. */
    size_t np = 0;
    for (int n = 0; n < nn; n++) {
        for (int s = 0; s < ns; s++) {
            size_t ix = (size_t)n * (size_t)ns + (size_t)s;
            st->ns[ix].home = -1;
            if (st->ns[ix].share <= 0 || top[s] == 0)
                continue;
            double d = (v->rate ? v->rate[s] : 0) * st->ns[ix].share;
            if (d < ADA_MIN_RATE)
                d = ADA_MIN_RATE;
            if (st->server[n] && st->ns[ix].lvl == top[s]) {
                st->ns[ix].home = n;
                load[n] += d * st->ns[ix].unit;
            } else {
                pend[np++] = (ada_pair){n, s, d};
            }
        }
    }
    qsort(pend, np, sizeof *pend, cmp_pair);
    for (size_t i = 0; i < np; i++) {
        int n = pend[i].node, s = pend[i].svc, best = -1, bfeas = 0;
        double bdelay = 0, bspare = 0;
        int64_t bytes = request_bytes(v, s);
        for (int m = 0; m < nn; m++) {
            size_t mx = (size_t)m * (size_t)ns + (size_t)s;
            if (m == n || !st->server[m] || st->ns[mx].lvl != top[s])
                continue;
            double need = pend[i].d * st->ns[mx].unit;
            double spare = sc->nodes[m].ndev * st->max_util - load[m] - need;
            int feas = spare >= 0;
            double delay = v->delay ? (double)v->delay(v, n, m, bytes) : 0;
            int better = best < 0 || feas > bfeas;
            if (!better && feas == bfeas) {
                if (!feas)
                    better = spare > bspare;
                else if (fabs(delay - bdelay) >= 1e3)
                    better = delay < bdelay;
                else
                    better = spare > bspare;
            }
            if (better) {
                best = m;
                bfeas = feas;
                bdelay = delay;
                bspare = spare;
            }
        }
        st->ns[(size_t)n * (size_t)ns + (size_t)s].home = best;
        if (best >= 0)
            load[best] += pend[i].d * st->ns[(size_t)best * (size_t)ns + (size_t)s].unit;
    }
    for (size_t ix = 0; ix < nx; ix++)
        if (st->ns[ix].home >= 0)
            st->ns[(size_t)st->ns[ix].home * (size_t)ns + ix % (size_t)ns].area = 1;
}
