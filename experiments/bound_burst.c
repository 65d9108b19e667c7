/* Bursts inside a placement period for the fluid bound (bound_burst.h): arrivals binned by
 * each service's burst horizon, the concave cap's pieces, and an instance's burst rate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bound_burst.h"
#include "epara/core/error.h"
#include "epara/policies/policy_util.h"

static double
horizon(const ep_service *v)
{
    ep_dur h = v->kind == EP_SVC_LLM ? v->slo.ttft
               : v->slo.fps > 0      ? v->slo.frame_deadline
                                     : v->slo.deadline;
    return h > 0 ? ep_dur_to_s(h) : 0;
}

int
ep_burst_init(ep_burst *bb, const ep_scenario *sc, double per_s, int64_t np)
{
    memset(bb, 0, sizeof *bb);
    int ns = sc->nservices;
    bb->per = per_s;
    bb->h = calloc((size_t)ns + 1, sizeof *bb->h);
    bb->nbin = calloc((size_t)ns + 1, sizeof *bb->nbin);
    bb->off = calloc((size_t)ns + 1, sizeof *bb->off);
    if (!bb->h || !bb->nbin || !bb->off)
        return EP_ENOMEM;
    int64_t n = 0;
    for (int s = 0; s < ns; s++) {
        double h = horizon(&sc->services[s]);
        /* At least one bin whose window [start, end + H] ends inside the period, and not so
         * many bins that counting them costs more than it tells (1 ms). */
        if (h < 1e-3 || 2 * h > per_s || per_s / h > 1e6)
            continue;
        bb->h[s] = h;
        bb->nbin[s] = (int)ceil(per_s / h - 1e-9);
        bb->off[s] = n;
        n += np * bb->nbin[s];
    }
    bb->bins = calloc((size_t)n + 1, sizeof *bb->bins);
    return bb->bins ? 0 : EP_ENOMEM;
}

void
ep_burst_free(ep_burst *bb)
{
    free(bb->h);
    free(bb->nbin);
    free(bb->off);
    free(bb->bins);
    memset(bb, 0, sizeof *bb);
}

void
ep_burst_count(ep_burst *bb, int s, int64_t p, double at_s)
{
    if (bb->h[s] <= 0)
        return;
    int i = (int)floor(at_s / bb->h[s]);
    i = i < 0 ? 0 : i >= bb->nbin[s] ? bb->nbin[s] - 1 : i;
    bb->bins[bb->off[s] + p * bb->nbin[s] + i] += 1;
}

static int
desc(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* The pieces of one scale: coarse bins of f base bins (f H_s long), each window f H_s + H_s. */
static int
scale_pieces(const double *bin, int nb, double h, double per, int f, double total, double *v,
             double *jw, double *R, int max)
{
    int ne = 0;
    for (int i = 0; i * f < nb; i++) {
        double c = 0;
        for (int u = i * f; u < (i + 1) * f && u < nb; u++)
            c += bin[u];
        if ((double)((i + 1) * f + 1) * h <= per + 1e-9 && c > 0)
            v[ne++] = c; /* its window [i f h, ((i + 1) f + 1) h] ends inside the period */
    }
    qsort(v, (size_t)ne, sizeof *v, desc);
    /* j = 1 .. 8, then about 1.25x apart; the last piece takes every bin with arrivals. */
    int n = 0, i = 0;
    double top = 0; /* arrivals in the i fullest bins */
    for (int j = 1; j <= ne && n < max; j = j < 8 ? j + 1 : (int)ceil(j * 1.25)) {
        if (n == max - 1)
            j = ne;
        for (; i < j; i++)
            top += v[i];
        jw[n] = (double)j * (f + 1) * h;
        R[n++] = total - top;
    }
    if (ne > 0 && i < ne) {
        for (; i < ne; i++)
            top += v[i];
        jw[n] = (double)ne * (f + 1) * h;
        R[n++] = total - top;
    }
    return n;
}

int
ep_burst_pieces(const ep_burst *bb, int s, int64_t p, double *jw, double *R, int max)
{
    double h = bb->h[s];
    if (h <= 0 || max < 1)
        return 0;
    int nb = bb->nbin[s], n = 0;
    const double *bin = &bb->bins[bb->off[s] + p * nb];
    double *v = malloc((size_t)nb * sizeof *v), total = 0;
    if (!v)
        return -1;
    for (int i = 0; i < nb; i++)
        total += bin[i];
    for (int f = 1; (f + 1) * h <= bb->per + 1e-9 && n < max; f *= EP_BURST_SCALE_STEP) {
        int per_scale = max / EP_BURST_SCALES;
        n += scale_pieces(bin, nb, h, bb->per, f, total, v, jw + n, R + n,
                          per_scale < max - n ? per_scale : max - n);
    }
    free(v);
    return n;
}

double
ep_burst_rate(const ep_view *v, const ep_instance_spec *sp)
{
    const ep_service *svc = &v->sc->services[sp->service];
    int mb = ep_pol_max_batch(v, sp);
    double best = 0, limit = horizon(svc);
    if (svc->kind == EP_SVC_LLM) {
        double in = ep_pol_mean_input(v, sp->service);
        int64_t kv = ep_pol_kv_capacity(v, sp);
        for (int n = 1; n <= mb && (double)n * in <= (double)kv; n++) {
            double t =
                    ep_dur_to_s(ep_pol_llm_iteration(v, sp, (int64_t)(n * in), n * in * in, 0, 0));
            if (!(t > 0) || t > limit)
                break; /* prefill time grows with n */
            if (n / t > best)
                best = n / t;
        }
        if (sp->mode == EP_MODE_PP)
            best *= sp->ndev; /* the stages overlap: at most ndev batches in flight */
        return best;
    }
    for (int b = 1; b <= mb; b++) {
        ep_dur iv;
        double t = ep_dur_to_s(ep_pol_dnn_batch(v, sp, b, &iv));
        if (!(t > 0) || t > limit)
            break; /* batch time grows with b */
        double r = b / (iv > 0 ? ep_dur_to_s(iv) : t);
        if (r > best)
            best = r;
    }
    return best;
}
