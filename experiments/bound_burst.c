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

/* The cap on the period's requests served, at one value of C, as the cheapest partition of
 * the period into intervals of bins (dynamic programming over interval ends). An interval of
 * bins [i, j) holding n arrivals serves at most min(n, C (its length + H)) of them (they
 * must be served between its start and its end plus H) when that window ends inside the
 * period, else all n may be. The partition's cap, with each interval's term kept as the
 * branch that attains it (n: into R; C (length + H): into jw), is a valid cap at every C. */
static void
partition_piece(const double *cum, int nb, double w, double h, double per, double c, double *F,
                int *from, char *slope, double *jw, double *R)
{
    F[0] = 0;
    for (int j = 1; j <= nb; j++) {
        double end = j == nb ? per : j * w;
        F[j] = INFINITY;
        for (int len = 1; len <= j && (len - 1) * w < EP_BURST_MAX_SPAN * h;
             len = len < 16 ? len + 1 : (int)ceil(len * 1.25)) {
            int i = j - len;
            double n = cum[j] - cum[i], span = end - i * w + h, f = F[i] + n;
            char sl = 0;
            if (end + h <= per + 1e-9 && c * span < n) {
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
        double end = j == nb ? per : j * w;
        if (slope[j])
            *jw += end - from[j] * w + h;
        else
            *R += cum[j] - cum[from[j]];
    }
}

int
ep_burst_pieces(const ep_burst *bb, int s, int64_t p, double *jw, double *R, int max)
{
    double h = bb->h[s];
    if (h <= 0 || max < 1)
        return 0;
    int nb = bb->nbin[s], g = (nb + EP_BURST_MAX_BINS - 1) / EP_BURST_MAX_BINS;
    int nc = (nb + g - 1) / g; /* bins of g H */
    const double *bin = &bb->bins[bb->off[s] + p * nb];
    double *cum = malloc(((size_t)nc + 1) * sizeof *cum), *F = malloc(((size_t)nc + 1) * sizeof *F);
    int *from = malloc(((size_t)nc + 1) * sizeof *from);
    char *slope = malloc((size_t)nc + 1);
    int n = 0;
    if (!cum || !F || !from || !slope) {
        n = -1;
        goto done;
    }
    double top = 0, w = g * h;
    cum[0] = 0;
    for (int i = 0; i < nc; i++) {
        double c = 0;
        for (int u = i * g; u < (i + 1) * g && u < nb; u++)
            c += bin[u];
        cum[i + 1] = cum[i] + c;
        top = c > top ? c : top;
    }
    double total = cum[nc];
    if (total <= 0)
        goto done;
    /* C from half the period's mean rate to the rate at which the fullest bin fits in H. */
    double lo = 0.5 * total / (bb->per + h), hi = top / h;
    if (hi < 2 * lo)
        hi = 2 * lo;
    int ng = max < EP_BURST_GRID ? max : EP_BURST_GRID;
    for (int k = 0; k < ng; k++) {
        double c = lo * pow(hi / lo, ng > 1 ? (double)k / (ng - 1) : 0), pj, pr;
        partition_piece(cum, nc, w, h, bb->per, c, F, from, slope, &pj, &pr);
        if (pj <= 0 || (n > 0 && fabs(pj - jw[n - 1]) < 1e-9 && fabs(pr - R[n - 1]) < 1e-6))
            continue; /* no cap (every interval at its arrivals) or the previous piece */
        jw[n] = pj;
        R[n++] = pr;
    }
done:
    free(cum);
    free(F);
    free(from);
    free(slope);
    return n;
}

double
ep_burst_rate(const ep_view *v, const ep_instance_spec *sp, int64_t kv)
{
    const ep_service *svc = &v->sc->services[sp->service];
    int mb = ep_pol_max_batch(v, sp);
    double best = 0, limit = horizon(svc);
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
