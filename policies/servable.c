/* Requests no placement can serve within their SLO, even alone on an idle cluster
 * (epara/policies/policy_util.h, ep_servable_*). Per service, the device groups any policy may
 * place (one device, tensor parallel over k devices of a node; each distinct group once) with their
 * KV capacity and the longest prompt whose prefill, and whose first decode step, each alone, meets
 * the TTFT and the TPOT; pipelines over up to EP_MAX_STAGE_DEVS devices are covered by what bounds
 * every pipeline: the KV of the largest chain and the time of the fastest device (a pipeline's
 * stages each run 1/k of the layers on their own device, so its time is at least the fastest
 * device's). Invariant: a request called unservable misses its SLO under every placement, so the
 * bound may leave it out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"

/* One device group of one service: KV tokens and the longest prompt meeting each SLO. */
typedef struct sv_group {
    int64_t kv;        /* KV-cache tokens (0: the model does not fit) */
    int64_t max_pf;    /* longest prompt whose prefill alone is within the TTFT */
    int64_t max_dec;   /* longest context whose decode step alone is within the TPOT */
    double exec_scale; /* trace execution times: fastest class / this group's */
    ep_dur dnn;        /* DNN: a batch of one */
} sv_group;

typedef struct sv_service {
    sv_group *g;
    int n;
    int holds;        /* some group (pipelines included) holds the model */
    int64_t pp_kv;    /* the largest pipeline's KV tokens */
    int64_t any_pf;   /* longest prompt within the TTFT on the fastest device (pipelines) */
    int64_t any_dec;  /* longest context within the TPOT on the fastest device */
    ep_dur dnn_best;  /* DNN: the shortest batch of one of any group */
    double exec_best; /* trace execution: the smallest time factor of any group */
    ep_dur deadline;
} sv_service;

struct ep_servable {
    const ep_scenario *sc;
    ep_view v;
    sv_service *svc;
};

/* The largest x in [0, hi] with t(x) <= limit, for t non-decreasing in x (0 when even x = 1
 * is over). */
static int64_t
largest_within(const ep_view *v, const ep_instance_spec *sp, int prefill, ep_dur limit, int64_t hi)
{
    int64_t lo = 0;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo + 1) / 2;
        ep_dur t = prefill ? ep_pol_llm_iteration(v, sp, mid, (double)mid * (double)mid, 0, 0)
                           : ep_pol_llm_iteration(v, sp, 0, 0, 1, mid);
        if (t <= limit)
            lo = mid;
        else
            hi = mid - 1;
    }
    return lo;
}

#define SV_MAX_TOKENS (INT64_C(1) << 40)

static void
rate_group(const ep_view *v, const ep_service *svc, const ep_instance_spec *sp, sv_group *g)
{
    const ep_scenario *sc = v->sc;
    memset(g, 0, sizeof *g);
    double best = 0;
    for (int i = 0; i < sc->nspecs; i++)
        if (sc->specs[i].peak_flops > best)
            best = sc->specs[i].peak_flops;
    const ep_device_spec *d0 = &sc->specs[sc->devices[sp->devs[0]].spec];
    g->exec_scale = (d0->peak_flops > 0 ? best / d0->peak_flops : INFINITY) /
                    (sp->mode == EP_MODE_TP ? sp->ndev : 1);
    if (svc->kind == EP_SVC_LLM) {
        g->kv = ep_pol_kv_capacity(v, sp);
        int64_t hi = g->kv > 0 ? g->kv : SV_MAX_TOKENS;
        g->max_pf = largest_within(v, sp, 1, svc->slo.ttft, hi);
        g->max_dec = largest_within(v, sp, 0, svc->slo.tpot, hi);
    } else {
        g->dnn = ep_pol_dnn_batch(v, sp, 1, NULL);
    }
}

static int
fits(const ep_scenario *sc, int s, const int *devs, int n)
{
    double need = (double)ep_cost_instance_mem(sc, s, n);
    for (int i = 0; i < n; i++)
        if (need > ep_pol_usable_mem(sc, devs[i]))
            return 0;
    return 1;
}

/* Whether two groups of one mode are alike: the same device classes in order and, for TP,
 * the same intra-node bandwidth. */
static int
alike(const ep_scenario *sc, const ep_instance_spec *a, const ep_instance_spec *b)
{
    if (a->mode != b->mode || a->ndev != b->ndev)
        return 0;
    for (int i = 0; i < a->ndev; i++)
        if (sc->devices[a->devs[i]].spec != sc->devices[b->devs[i]].spec)
            return 0;
    return a->mode != EP_MODE_TP ||
           sc->nodes[sc->devices[a->devs[0]].node].intra_bw_bytes_per_s ==
                   sc->nodes[sc->devices[b->devs[0]].node].intra_bw_bytes_per_s;
}

static int
add_group(ep_servable *f, sv_service *ss, ep_instance_spec *seen, int *nseen, int cap,
          const ep_instance_spec *sp)
{
    for (int i = 0; i < *nseen; i++)
        if (alike(f->sc, &seen[i], sp))
            return 0;
    if (*nseen == cap)
        return 0; /* more distinct groups than devices: cannot happen */
    seen[(*nseen)++] = *sp;
    sv_group *g = realloc(ss->g, (size_t)(ss->n + 1) * sizeof *g);
    if (!g)
        return EP_ENOMEM;
    ss->g = g;
    rate_group(&f->v, &f->sc->services[sp->service], sp, &g[ss->n++]);
    return 0;
}

static int
build_service(ep_servable *f, int s, ep_instance_spec *seen, int cap)
{
    const ep_scenario *sc = f->sc;
    const ep_service *svc = &sc->services[s];
    sv_service *ss = &f->svc[s];
    ss->deadline = svc->slo.fps > 0 ? svc->slo.frame_deadline : svc->slo.deadline;
    ss->dnn_best = EP_TIME_MAX;
    ss->exec_best = INFINITY;
    int nseen = 0, rc;
    ep_instance_spec sp;
    memset(&sp, 0, sizeof sp);
    sp.service = s;
    /* Single devices and TP groups of every size inside each node, where the model fits. */
    for (int n = 0; n < sc->nnodes; n++) {
        const ep_node *nd = &sc->nodes[n];
        for (int k = 1; k <= nd->ndev && k <= EP_MAX_STAGE_DEVS; k++) {
            sp.mode = k == 1 ? EP_MODE_SINGLE : EP_MODE_TP;
            sp.ndev = k;
            for (int j = 0; j + k <= nd->ndev; j++) {
                for (int i = 0; i < k; i++)
                    sp.devs[i] = nd->dev0 + j + i;
                if (fits(sc, s, sp.devs, k) && (rc = add_group(f, ss, seen, &nseen, cap, &sp)))
                    return rc;
            }
        }
    }
    for (int i = 0; i < ss->n; i++) {
        ss->holds |= svc->kind != EP_SVC_LLM || ss->g[i].kv > 0;
        if (ss->g[i].dnn < ss->dnn_best)
            ss->dnn_best = ss->g[i].dnn;
        if (ss->g[i].exec_scale < ss->exec_best)
            ss->exec_best = ss->g[i].exec_scale;
    }
    /* Pipelines: k devices with the most usable memory (any nodes) give the most KV; the
     * fastest device (fit or not) bounds every pipeline's time. */
    int order[EP_MAX_STAGE_DEVS];
    int nord = 0;
    for (int k = 0; k < EP_MAX_STAGE_DEVS && k < sc->ndevices; k++) {
        int pick = -1;
        for (int d = 0; d < sc->ndevices; d++) {
            int used = 0;
            for (int i = 0; i < nord; i++)
                used |= order[i] == d;
            if (!used && (pick < 0 || ep_pol_usable_mem(sc, d) > ep_pol_usable_mem(sc, pick)))
                pick = d;
        }
        order[nord++] = pick;
    }
    sp.mode = EP_MODE_PP;
    for (int k = 2; k <= nord; k++) {
        if (!fits(sc, s, order, k))
            continue;
        ss->holds = 1;
        sp.ndev = k;
        memcpy(sp.devs, order, (size_t)k * sizeof *order);
        if (svc->kind == EP_SVC_LLM) {
            int64_t kv = ep_pol_kv_capacity(&f->v, &sp);
            if (kv > ss->pp_kv)
                ss->pp_kv = kv;
        }
    }
    if (ss->pp_kv > 0 || (svc->kind != EP_SVC_LLM && ss->holds)) {
        sv_group g;
        sp.mode = EP_MODE_SINGLE;
        sp.ndev = 1;
        for (int d = 0; d < sc->ndevices; d++) {
            sp.devs[0] = d;
            rate_group(&f->v, svc, &sp, &g);
            if (g.max_pf > ss->any_pf)
                ss->any_pf = g.max_pf;
            if (g.max_dec > ss->any_dec)
                ss->any_dec = g.max_dec;
            if (g.dnn < ss->dnn_best)
                ss->dnn_best = g.dnn;
            if (g.exec_scale < ss->exec_best)
                ss->exec_best = g.exec_scale;
        }
    }
    return 0;
}

int
ep_servable_new(const ep_scenario *sc, ep_servable **out)
{
    ep_servable *f = calloc(1, sizeof *f);
    ep_instance_spec *seen = calloc((size_t)sc->ndevices * EP_MAX_STAGE_DEVS + 1, sizeof *seen);
    ep_category *cat = calloc((size_t)sc->nservices + 1, sizeof *cat);
    int rc = EP_ENOMEM;
    if (!f || !seen || !cat || !(f->svc = calloc((size_t)sc->nservices + 1, sizeof *f->svc)))
        goto fail;
    f->sc = sc;
    f->v.sc = sc;
    f->v.cat = cat;
    f->v.delay = ep_pol_star_delay;
    for (int s = 0; s < sc->nservices; s++)
        if ((rc = build_service(f, s, seen, sc->ndevices * EP_MAX_STAGE_DEVS)) != 0)
            goto fail;
    free(seen);
    *out = f;
    return 0;
fail:
    free(seen);
    if (f)
        f->v.cat = cat;
    else
        free(cat);
    ep_servable_free(f);
    return rc;
}

void
ep_servable_free(ep_servable *f)
{
    if (!f)
        return;
    for (int s = 0; f->svc && s < f->sc->nservices; s++)
        free(f->svc[s].g);
    free(f->svc);
    free((void *)f->v.cat);
    free(f);
}

ep_unservable
ep_servable_check(const ep_servable *f, int svc, int64_t input, int64_t output, ep_dur exec)
{
    const sv_service *ss = &f->svc[svc];
    const ep_service *sv = &f->sc->services[svc];
    if (!ss->holds)
        return EP_UNSERVABLE_MEMORY;
    if (sv->kind != EP_SVC_LLM) {
        if (sv->use_trace_exec && exec >= 0)
            return (double)exec * ss->exec_best <= (double)ss->deadline ? EP_SERVABLE
                                                                        : EP_UNSERVABLE_DEADLINE;
        return ss->dnn_best <= ss->deadline ? EP_SERVABLE : EP_UNSERVABLE_DEADLINE;
    }
    int64_t kv = input + output, max_kv = ss->pp_kv, max_pf = ss->any_pf, max_dec = ss->any_dec;
    for (int i = 0; i < ss->n; i++) {
        const sv_group *g = &ss->g[i];
        if (g->kv >= kv && g->max_pf >= input && g->max_dec >= input)
            return EP_SERVABLE;
        if (g->kv > max_kv)
            max_kv = g->kv;
        if (g->kv > 0 && g->max_pf > max_pf)
            max_pf = g->max_pf;
        if (g->kv > 0 && g->max_dec > max_dec)
            max_dec = g->max_dec;
    }
    if (kv > max_kv)
        return EP_UNSERVABLE_KV;
    if (input > max_pf)
        return EP_UNSERVABLE_TTFT;
    if (input > max_dec)
        return EP_UNSERVABLE_TPOT;
    if (ss->pp_kv >= kv && ss->any_pf >= input && ss->any_dec >= input)
        return EP_SERVABLE; /* a pipeline may serve it: the bound cannot rule it out */
    return EP_UNSERVABLE_GROUP;
}

const char *
ep_unservable_name(ep_unservable why)
{
    switch (why) {
    case EP_SERVABLE:
        return "servable";
    case EP_UNSERVABLE_MEMORY:
        return "no device group holds the model";
    case EP_UNSERVABLE_KV:
        return "prompt and output exceed every device group's KV cache";
    case EP_UNSERVABLE_TTFT:
        return "the prefill alone takes longer than the TTFT on every device group";
    case EP_UNSERVABLE_TPOT:
        return "one decode step alone takes longer than the TPOT on every device group";
    case EP_UNSERVABLE_GROUP:
        return "no device group both holds its KV cache and meets its TTFT and TPOT";
    case EP_UNSERVABLE_DEADLINE:
        return "a batch of one takes longer than the deadline on every device group";
    default:
        return "?";
    }
}

const char *
ep_unservable_key(ep_unservable why)
{
    static const char *const keys[] = {"servable", "memory", "kv",      "ttft",
                                       "tpot",     "group",  "deadline"};
    return (unsigned)why < EP_UNSERVABLE_COUNT_ ? keys[why] : "?";
}
