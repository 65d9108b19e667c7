/* Bursts inside a placement period for the fluid bound (bound_burst.h): arrivals binned by
 * each service's burst horizon, the concave cap's pieces, and an instance's burst rate. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bound_burst.h"
#include "epara/core/error.h"
#include "epara/policies/policy_util.h"

double
ep_burst_horizon(const ep_service *v)
{
    ep_dur h = v->kind == EP_SVC_LLM ? v->slo.ttft
               : v->slo.fps > 0      ? v->slo.frame_deadline
                                     : v->slo.deadline;
    return h > 0 ? ep_dur_to_s(h) : 0;
}

int
ep_burst_init(ep_burst *bb, const double *h, int nkeys, double per_s, int64_t np, int max_bins)
{
    memset(bb, 0, sizeof *bb);
    bb->per = per_s;
    bb->np = np;
    bb->h = calloc((size_t)nkeys + 1, sizeof *bb->h);
    bb->w = calloc((size_t)nkeys + 1, sizeof *bb->w);
    bb->nbin = calloc((size_t)nkeys + 1, sizeof *bb->nbin);
    bb->off = calloc((size_t)nkeys + 1, sizeof *bb->off);
    if (!bb->h || !bb->w || !bb->nbin || !bb->off)
        return EP_ENOMEM;
    int64_t n = 0;
    for (int s = 0; s < nkeys; s++) {
        /* At least one bin whose window [start, end + H] ends inside the period; none for a
         * horizon under 1 ms (too many bins for what they tell). */
        if (h[s] < 1e-3 || 2 * h[s] > per_s)
            continue;
        double nb = ceil(per_s / h[s] - 1e-9), g = ceil(nb / max_bins);
        bb->h[s] = h[s];
        bb->w[s] = g * h[s];
        bb->nbin[s] = (int)ceil(per_s / bb->w[s] - 1e-9);
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
    free(bb->w);
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
    int i = (int)floor(at_s / bb->w[s]);
    i = i < 0 ? 0 : i >= bb->nbin[s] ? bb->nbin[s] - 1 : i;
    bb->bins[bb->off[s] + p * bb->nbin[s] + i] += 1;
}

/* The cheapest partition, at rate c, of bins 0..nb-1 (arrivals cum[j] - cum[i] in bins
 * [i, j), bin k spanning [t0[k], t1[k])) into intervals (dynamic programming over interval
 * ends). An interval holding n arrivals serves at most min(n, c (its length + h)) of them
 * (they must be served between its start and its end plus h) when that window ends by
 * limit, else all n may be. The partition's cap, with each interval's term kept as the
 * branch that attains it (n: into *R; its length + h: into *jw), is a valid cap at every c;
 * returns its value at c. Intervals up to EP_BURST_MAX_SPAN h: 1..16 bins, then about 1.25x
 * apart. */
static double
partition(const double *cum, const double *t0, const double *t1, int nb, double h, double limit,
          double c, double *F, int *from, char *slope, double *jw, double *R)
{
    F[0] = 0;
    for (int j = 1; j <= nb; j++) {
        double end = t1[j - 1];
        F[j] = INFINITY;
        for (int len = 1; len <= j && end - t0[j - len] < EP_BURST_MAX_SPAN * h;
             len = len < 16 ? len + 1 : (int)ceil(len * 1.25)) {
            int i = j - len;
            double n = cum[j] - cum[i], span = end - t0[i] + h, f = F[i] + n;
            char sl = 0;
            if (end + h <= limit + 1e-9 && c * span < n) {
                f = F[i] + c * span;
                sl = 1;
            }
            if (f < F[j]) {
                F[j] = f;
                from[j] = i;
                slope[j] = sl;
            }
        }
    }
    *jw = *R = 0;
    for (int j = nb; j > 0; j = from[j]) {
        if (slope[j])
            *jw += t1[j - 1] - t0[from[j]] + h;
        else
            *R += cum[j] - cum[from[j]];
    }
    return F[nb];
}

/* Work arrays for partition over nb bins of key s from period p0 on, m periods (those that
 * exist), laid end to end: cumulative arrivals and each bin's span; *top: the fullest bin. */
typedef struct dp_work {
    double *cum, *t0, *t1, *F;
    int *from;
    char *slope;
    int nb;
} dp_work;

static void
dp_free(dp_work *d)
{
    free(d->cum);
    free(d->t0);
    free(d->t1);
    free(d->F);
    free(d->from);
    free(d->slope);
}

static int
dp_load(dp_work *d, const ep_burst *bb, int s, int64_t p0, int m, double *top)
{
    memset(d, 0, sizeof *d);
    int nb = bb->nbin[s];
    int64_t pe = p0 + m < bb->np ? p0 + m : bb->np;
    size_t n = (size_t)(pe > p0 ? pe - p0 : 0) * (size_t)nb + 1;
    d->cum = malloc(n * sizeof *d->cum);
    d->t0 = malloc(n * sizeof *d->t0);
    d->t1 = malloc(n * sizeof *d->t1);
    d->F = malloc(n * sizeof *d->F);
    d->from = malloc(n * sizeof *d->from);
    d->slope = malloc(n);
    if (!d->cum || !d->t0 || !d->t1 || !d->F || !d->from || !d->slope) {
        dp_free(d);
        return EP_ENOMEM;
    }
    d->cum[0] = 0;
    *top = 0;
    for (int64_t p = p0; p < pe; p++)
        for (int i = 0; i < nb; i++, d->nb++) {
            double c = bb->bins[bb->off[s] + p * nb + i], base = (double)(p - p0) * bb->per;
            d->cum[d->nb + 1] = d->cum[d->nb] + c;
            d->t0[d->nb] = base + i * bb->w[s];
            d->t1[d->nb] = base + (i + 1 < nb ? (i + 1) * bb->w[s] : bb->per);
            *top = c > *top ? c : *top;
        }
    return 0;
}

int
ep_burst_pieces(const ep_burst *bb, int s, int64_t p, double *jw, double *R, int max)
{
    double h = bb->h[s], top;
    if (h <= 0 || max < 1)
        return 0;
    dp_work d;
    if (dp_load(&d, bb, s, p, 1, &top))
        return -1;
    int n = 0;
    double total = d.cum[d.nb];
    /* C from half the period's mean rate to the rate at which the fullest bin fits in H. */
    double lo = 0.5 * total / (bb->per + h), hi = top / h;
    if (hi < 2 * lo)
        hi = 2 * lo;
    int ng = max < EP_BURST_GRID ? max : EP_BURST_GRID;
    for (int k = 0; total > 0 && k < ng; k++) {
        double c = lo * pow(hi / lo, ng > 1 ? (double)k / (ng - 1) : 0), pj, pr;
        partition(d.cum, d.t0, d.t1, d.nb, h, bb->per, c, d.F, d.from, d.slope, &pj, &pr);
        if (pj <= 0 || (n > 0 && fabs(pj - jw[n - 1]) < 1e-9 && fabs(pr - R[n - 1]) < 1e-6))
            continue; /* no cap (every interval at its arrivals) or the previous piece */
        jw[n] = pj;
        R[n++] = pr;
    }
    dp_free(&d);
    return n;
}

double
ep_burst_cap(const ep_burst *bb, int s, int64_t p0, int m, double c)
{
    double top, jw, R;
    dp_work d;
    if (bb->h[s] <= 0)
        return INFINITY; /* no bins: no cap */
    if (dp_load(&d, bb, s, p0, m, &top))
        return -1;
    double cap = d.nb > 0 ? partition(d.cum, d.t0, d.t1, d.nb, bb->h[s], INFINITY, c, d.F, d.from,
                                      d.slope, &jw, &R)
                          : INFINITY;
    dp_free(&d);
    return cap;
}

double
ep_burst_rate(const ep_view *v, const ep_instance_spec *sp, int64_t kv)
{
    const ep_service *svc = &v->sc->services[sp->service];
    int mb = ep_pol_max_batch(v, sp);
    double best = 0, limit = ep_burst_horizon(svc);
    if (svc->kind == EP_SVC_LLM) {
        double in = ep_pol_mean_input(v, sp->service);
        if (kv < 0)
            kv = ep_pol_kv_capacity(v, sp);
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
