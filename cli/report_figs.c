/* `epara report`: the aggregated tables behind each figure (plots/): metric vs rate
 * scale per series, the max rate scale at the attainment target, latency quantiles of all
 * requests (misses included) from each run's latency histogram or stored records,
 * per-device utilization and the EPARA ablation summary. Series are averaged over seeds;
 * cells without runs stay empty. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "epara/experiments/bound.h"
#include "epara/sim/lathist.h"
#include "report.h"

static void
header(FILE *f, const char *first, const report *rp, int use_variant)
{
    fputs(first, f);
    for (int k = 0; k < rp->nser; k++) {
        fputc(',', f);
        cli_csv_field(f, use_variant ? rp->ser[k].variant : rp->ser[k].label);
    }
    fputc('\n', f);
}

/* rate_scale, then the mean of the metric per series (blank where a series has no run). */
int
report_vs_rate(report *rp, const char *name, int attainment)
{
    size_t cells = (size_t)(rp->nrates ? rp->nrates : 1) * (size_t)(rp->nser ? rp->nser : 1);
    double *sum = calloc(cells, sizeof *sum);
    int *cnt = calloc(cells, sizeof *cnt);
    cli_out o;
    FILE *f = sum && cnt ? report_start(rp, &o, name) : NULL;
    if (!f) {
        free(sum);
        free(cnt);
        return -1;
    }
    for (int i = 0; i < rp->n; i++) {
        const run_row *r = &rp->runs[i];
        double v = attainment ? r->attain : r->goodput;
        size_t c = (size_t)report_rate_index(rp, r->rate) * (size_t)rp->nser + (size_t)r->series;
        if (isfinite(v)) {
            sum[c] += v;
            cnt[c]++;
        }
    }
    header(f, "rate_scale", rp, 0);
    for (int q = 0; q < rp->nrates; q++) {
        fprintf(f, "%.10g", rp->rates[q]);
        for (int k = 0; k < rp->nser; k++) {
            size_t c = (size_t)q * (size_t)rp->nser + (size_t)k;
            fputc(',', f);
            if (cnt[c])
                report_csv_num(f, sum[c] / cnt[c]);
        }
        fputc('\n', f);
    }
    free(sum);
    free(cnt);
    return report_finish(rp, &o, name, rp->nrates);
}

int
report_nearer(double rate, double best, double at)
{
    if (isnan(best))
        return 1;
    double d = fabs(log(rate / at)), bd = fabs(log(best / at));
    return d < bd || (d == bd && rate < best);
}

double
report_nearest_rate(const report *rp, int k)
{
    double best = NAN;
    for (int i = 0; i < rp->n; i++)
        if (rp->runs[i].series == k && report_nearer(rp->runs[i].rate, best, rp->at_rate))
            best = rp->runs[i].rate;
    return best;
}

int
report_ablation(report *rp)
{
    cli_out o;
    FILE *f = report_start(rp, &o, "ablation.csv");
    if (!f)
        return -1;
    fputs("variant,goodput_per_s,max_rate\n", f);
    long rows = 0;
    double *att = calloc((size_t)(rp->nrates ? rp->nrates : 1), sizeof *att);
    int *cnt = calloc((size_t)(rp->nrates ? rp->nrates : 1), sizeof *cnt);
    for (int k = 0; att && cnt && k < rp->nser; k++) {
        if (strcmp(rp->ser[k].policy, "epara") != 0)
            continue;
        double at = report_nearest_rate(rp, k), g = 0, maxr = 0;
        int ng = 0;
        memset(att, 0, (size_t)rp->nrates * sizeof *att);
        memset(cnt, 0, (size_t)rp->nrates * sizeof *cnt);
        for (int i = 0; i < rp->n; i++) {
            const run_row *r = &rp->runs[i];
            if (r->series != k)
                continue;
            if (r->rate == at && isfinite(r->goodput)) {
                g += r->goodput;
                ng++;
            }
            int q = report_rate_index(rp, r->rate);
            att[q] += isfinite(r->attain) ? r->attain : 0;
            cnt[q]++;
        }
        for (int q = 0; q < rp->nrates; q++) {
            if (!cnt[q])
                continue;
            if (att[q] / cnt[q] < 0.9)
                break;
            maxr = rp->rates[q];
        }
        cli_csv_field(f, rp->ser[k].variant);
        fputc(',', f);
        if (ng)
            report_csv_num(f, g / ng);
        fputc(',', f);
        report_csv_num(f, maxr);
        fputc('\n', f);
        rows++;
    }
    int ok = att && cnt;
    free(att);
    free(cnt);
    if (!ok) {
        cli_out_close(&o, 0);
        return -1;
    }
    return report_finish(rp, &o, "ablation.csv", rows);
}

/* ep_results_each_record's callback: counts a record of the measured window in the
 * histogram ctx. */
static int
count_record(void *ctx, const ep_results_record *rec)
{
    if (rec->in_window == 1)
        ep_lathist_count(ctx, rec->outcome ? rec->outcome : "", rec->slo_met,
                         (double)(rec->done - rec->arrival) / 1e9);
    return 0;
}

/* Adds run r's requests to h: from the latency histogram of its stored summary, else from
 * its stored records. 1 when it had either, 0 when neither, -1 on a database error. */
static int
run_hist(ep_results *db, const run_row *r, ep_lathist *h)
{
    json_t *js = json_loads(r->summary, 0, NULL);
    int got = js && ep_lathist_merge_json(h, json_object_get(js, "latency_hist")) == 0;
    json_decref(js);
    if (got)
        return 1;
    int64_t before = h->requests;
    if (ep_results_each_record(db, r->id, count_record, h) != 0)
        return -1;
    return h->requests > before;
}

/* percentile 1..99, then per series the latency within which that share of ALL requests
 * in the window completed, at the swept rate scale nearest at_rate among its runs with a
 * latency histogram or records, pooled over seeds; blank above the share that completed
 * (the rest were rejected, dropped or unfinished). Each column is named "SERIES at xRATE
 * (C% completed; M% met SLO)". The bound (no requests) has no column. */
int
report_latency_cdf(report *rp)
{
    int *src = calloc((size_t)(rp->n ? rp->n : 1), sizeof *src);
    double *at = malloc((size_t)(rp->nser ? rp->nser : 1) * sizeof *at);
    ep_lathist *h = calloc((size_t)(rp->nser ? rp->nser : 1), sizeof *h);
    int rc = -1, dberr = 1, any = 0;
    cli_out o;
    FILE *f = NULL;
    if (!src || !at || !h)
        goto done;
    for (int k = 0; k < rp->nser; k++)
        at[k] = NAN;
    /* Which runs have latencies: a histogram in the summary, else an EXISTS on records. */
    for (int i = 0; i < rp->n; i++) {
        const run_row *r = &rp->runs[i];
        if (strstr(r->summary, "\"latency_hist\"")) {
            src[i] = 1;
        } else if (ep_results_has_records(rp->db, r->id, &src[i]) != 0) {
            goto done;
        }
        if (src[i] && report_nearer(r->rate, at[r->series], rp->at_rate))
            at[r->series] = r->rate;
    }
    for (int i = 0; i < rp->n; i++) {
        const run_row *r = &rp->runs[i];
        if (src[i] && r->rate == at[r->series] && run_hist(rp->db, r, &h[r->series]) < 0)
            goto done;
    }
    dberr = 0;
    if (!(f = report_start(rp, &o, "latency_cdf.csv")))
        goto done;
    fputs("percentile", f);
    for (int k = 0; k < rp->nser; k++)
        if (h[k].requests > 0) {
            char lab[400];
            double n = (double)h[k].requests;
            snprintf(lab, sizeof lab, "%s at x%g (%.1f%% completed; %.1f%% met SLO)",
                     rp->ser[k].label, at[k], 100 * (double)h[k].completed / n,
                     100 * (double)h[k].slo_met / n);
            fputc(',', f);
            cli_csv_field(f, lab);
            any = 1;
        }
    fputc('\n', f);
    for (int p = 1; any && p <= 99; p++) {
        fprintf(f, "%d", p);
        for (int k = 0; k < rp->nser; k++)
            if (h[k].requests > 0) {
                fputc(',', f);
                report_csv_num(f, ep_lathist_quantile(&h[k], p / 100.0));
            }
        fputc('\n', f);
    }
    rc = report_finish(rp, &o, "latency_cdf.csv", any ? 99 : 0);
done:
    if (rc && dberr)
        cli_err("report: latency_cdf.csv: cannot read the latencies: %s",
                ep_results_errmsg(rp->db));
    free(h);
    free(at);
    free(src);
    return rc;
}

/* series,max_rate,last_met,first_missed,goodput_at_max,method: per series (in the column
 * order of the vs-rate tables) the rate scale at which mean SLO attainment crosses the
 * target. method "maxrate": the bisection `epara maxrate --out` stored for the series
 * (last_met = max_rate, first_missed: the bracket's end, goodput_at_max: measured there).
 * method "interpolated": between the largest swept scale up to which attainment stays >= the
 * target (last_met) and the next one (first_missed), log rate and linear attainment (goodput
 * alike; a cliff between them makes this an underestimate); max_rate is last_met when no
 * swept scale misses (a lower bound; first_missed blank), blank when the smallest misses. */
int
report_max_rate(report *rp)
{
    size_t cells = (size_t)(rp->nrates ? rp->nrates : 1);
    double *att = calloc(cells, sizeof *att), *gp = calloc(cells, sizeof *gp);
    int *cnt = calloc(cells, sizeof *cnt);
    cli_out o;
    FILE *f = att && gp && cnt ? report_start(rp, &o, "max_rate.csv") : NULL;
    if (!f) {
        free(att);
        free(gp);
        free(cnt);
        return -1;
    }
    fputs("series,max_rate,last_met,first_missed,goodput_at_max,method\n", f);
    const double target = REPORT_MAX_RATE_TARGET;
    for (int k = 0; k < rp->nser; k++) {
        memset(att, 0, cells * sizeof *att);
        memset(gp, 0, cells * sizeof *gp);
        memset(cnt, 0, cells * sizeof *cnt);
        for (int i = 0; i < rp->n; i++) {
            const run_row *r = &rp->runs[i];
            if (r->series != k)
                continue;
            int q = report_rate_index(rp, r->rate);
            att[q] += isfinite(r->attain) ? r->attain : 0;
            gp[q] += isfinite(r->goodput) ? r->goodput : 0;
            cnt[q]++;
        }
        int lo = -1, hi = -1;
        for (int q = 0; q < rp->nrates && hi < 0; q++) {
            if (!cnt[q])
                continue;
            if (att[q] / cnt[q] >= target)
                lo = q;
            else
                hi = q;
        }
        double maxr = NAN, g = NAN;
        const series_max *sm = &rp->smax[k];
        if (sm->set) {
            cli_csv_field(f, rp->ser[k].label);
            fputc(',', f);
            report_csv_num(f, sm->max_rate);
            fputc(',', f);
            report_csv_num(f, sm->lo);
            fputc(',', f);
            report_csv_num(f, sm->hi);
            fputc(',', f);
            report_csv_num(f, sm->goodput);
            fputs(",maxrate\n", f);
            continue;
        }
        if (lo >= 0 && hi < 0) {
            maxr = rp->rates[lo];
            g = gp[lo] / cnt[lo];
        } else if (lo >= 0) {
            double a0 = att[lo] / cnt[lo], a1 = att[hi] / cnt[hi];
            double t = (a0 - target) / (a0 - a1);
            maxr = exp(log(rp->rates[lo]) + t * (log(rp->rates[hi]) - log(rp->rates[lo])));
            g = gp[lo] / cnt[lo] + t * (gp[hi] / cnt[hi] - gp[lo] / cnt[lo]);
        }
        cli_csv_field(f, rp->ser[k].label);
        fputc(',', f);
        report_csv_num(f, maxr);
        fputc(',', f);
        if (lo >= 0)
            report_csv_num(f, rp->rates[lo]);
        fputc(',', f);
        if (hi >= 0)
            report_csv_num(f, rp->rates[hi]);
        fputc(',', f);
        report_csv_num(f, g);
        fputs(",interpolated\n", f);
    }
    free(att);
    free(gp);
    free(cnt);
    return report_finish(rp, &o, "max_rate.csv", rp->nser);
}

/* Utilization summed per device label and series, over the runs at the reference rates. */
typedef struct util_acc {
    int series; /* of the run being read */
    int nseen;  /* devices of that run so far (their labels in seen) */
    char seen[64][160];
    char (*dev)[160]; /* labels in the order first seen */
    int ndev, nser;
    double *sum; /* [device][series] */
    int *cnt;
} util_acc;

enum { UTIL_MAXDEV = 4096 };

/* ep_results_each_device's callback: adds one device of one run. */
static int
add_util(void *ctx, const ep_results_device *v)
{
    util_acc *a = ctx;
    char lab[160];
    snprintf(lab, sizeof lab, "%s/%s", v->node ? v->node : "?", v->spec ? v->spec : "?");
    int dup = 1;
    for (int k = 0; k < a->nseen; k++)
        dup += strncmp(a->seen[k], lab, sizeof lab) == 0;
    if (a->nseen < 64)
        memcpy(a->seen[a->nseen++], lab, sizeof lab);
    if (dup > 1) {
        size_t l = strlen(lab);
        snprintf(lab + l, sizeof lab - l, "#%d", dup);
    }
    int d;
    for (d = 0; d < a->ndev; d++)
        if (strcmp(a->dev[d], lab) == 0)
            break;
    if (d == a->ndev) {
        if (a->ndev == UTIL_MAXDEV)
            return 0;
        memcpy(a->dev[a->ndev++], lab, sizeof lab);
    }
    if (isfinite(v->utilization)) {
        a->sum[(size_t)d * (size_t)a->nser + (size_t)a->series] += v->utilization;
        a->cnt[(size_t)d * (size_t)a->nser + (size_t)a->series]++;
    }
    return 0;
}

/* device, then per series the mean utilization over its runs at the rate scale nearest
 * at_rate. Devices are "node/spec" (with #2, #3... for identical devices of one node), in
 * the order first seen. The bound has no column: a fluid LP keeps no real device busy (what it
 * stores is the relaxation's load, which may exceed 1). */
int
report_utilization(report *rp)
{
    size_t cells = (size_t)UTIL_MAXDEV * (size_t)(rp->nser ? rp->nser : 1);
    util_acc *a = calloc(1, sizeof *a);
    char(*dev)[160] = calloc(UTIL_MAXDEV, sizeof *dev);
    double *sum = calloc(cells, sizeof *sum), *at = calloc((size_t)(rp->nser + 1), sizeof *at);
    int *cnt = calloc(cells, sizeof *cnt), rc = -1;
    cli_out o;
    FILE *f = NULL;
    if (!a || !dev || !sum || !cnt || !at)
        goto done;
    a->dev = dev;
    a->nser = rp->nser;
    a->sum = sum;
    a->cnt = cnt;
    for (int k = 0; k < rp->nser; k++)
        at[k] = report_nearest_rate(rp, k);
    for (int i = 0; i < rp->n; i++) {
        const run_row *r = &rp->runs[i];
        if (r->rate != at[r->series] || strcmp(r->policy, EP_BOUND_NAME) == 0)
            continue;
        a->series = r->series;
        a->nseen = 0;
        if (ep_results_each_device(rp->db, NULL, r->id, add_util, a) != 0)
            goto done;
    }
    if (!(f = report_start(rp, &o, "utilization.csv")))
        goto done;
    fputs("device", f);
    for (int k = 0; k < rp->nser; k++)
        if (strcmp(rp->ser[k].policy, EP_BOUND_NAME) != 0) {
            fputc(',', f);
            cli_csv_field(f, rp->ser[k].label);
        }
    fputc('\n', f);
    for (int d = 0; d < a->ndev; d++) {
        cli_csv_field(f, dev[d]);
        for (int k = 0; k < rp->nser; k++) {
            if (strcmp(rp->ser[k].policy, EP_BOUND_NAME) == 0)
                continue;
            size_t c = (size_t)d * (size_t)rp->nser + (size_t)k;
            fputc(',', f);
            if (cnt[c])
                report_csv_num(f, sum[c] / cnt[c]);
        }
        fputc('\n', f);
    }
    rc = report_finish(rp, &o, "utilization.csv", a->ndev);
done:
    free(a);
    free(dev);
    free(sum);
    free(cnt);
    free(at);
    return rc;
}
