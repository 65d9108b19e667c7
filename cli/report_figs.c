/* `epara report`: the aggregated tables behind each figure (plots/): metric vs rate
 * scale per series, latency quantiles from stored records, per-device utilization and the
 * EPARA ablation summary. Series are averaged over seeds; cells without runs stay empty. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Whether rate is nearer to `at` (in ratio) than best (NaN: none yet); ties go lower. */
static int
nearer(double rate, double best, double at)
{
    if (isnan(best))
        return 1;
    double d = fabs(log(rate / at)), bd = fabs(log(best / at));
    return d < bd || (d == bd && rate < best);
}

/* The swept rate scale of series k nearest at_rate, or NaN without runs. */
static double
nearest_rate(const report *rp, int k)
{
    double best = NAN;
    for (int i = 0; i < rp->n; i++)
        if (rp->runs[i].series == k && nearer(rp->runs[i].rate, best, rp->at_rate))
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
        double at = nearest_rate(rp, k), g = 0, maxr = 0;
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

/* percentile 1..99, then per series with stored records the latency of its completed
 * in-window requests at the swept rate scale nearest at_rate (among its runs with records),
 * pooled over seeds (nearest-rank quantiles). */
int
report_latency_cdf(report *rp)
{
    sqlite3_stmt *has = NULL, *lat = NULL;
    int *rec = malloc((size_t)(rp->n ? rp->n : 1) * sizeof *rec);
    double *at = malloc((size_t)(rp->nser ? rp->nser : 1) * sizeof *at);
    double **q = calloc((size_t)(rp->nser ? rp->nser : 1), sizeof *q);
    double *v = NULL;
    size_t nv = 0, cap = 0;
    int rc = -1, dberr = 1, any = 0;
    cli_out o;
    FILE *f = NULL;
    if (!rec || !at || !q ||
        sqlite3_prepare_v2(rp->db, "SELECT EXISTS (SELECT 1 FROM records WHERE run_id = ?1)", -1,
                           &has, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(rp->db,
                           "SELECT done_ns - arrival_ns FROM records WHERE run_id = ?1 AND"
                           " outcome = 'completed' AND in_window = 1",
                           -1, &lat, NULL) != SQLITE_OK)
        goto done;
    for (int k = 0; k < rp->nser; k++)
        at[k] = NAN;
    for (int i = 0; i < rp->n; i++) {
        const run_row *r = &rp->runs[i];
        sqlite3_reset(has);
        sqlite3_bind_int64(has, 1, r->id);
        if (sqlite3_step(has) != SQLITE_ROW)
            goto done;
        rec[i] = sqlite3_column_int(has, 0);
        if (rec[i] && nearer(r->rate, at[r->series], rp->at_rate))
            at[r->series] = r->rate;
    }
    for (int k = 0; k < rp->nser; k++) {
        nv = 0;
        for (int i = 0; i < rp->n; i++) {
            if (!rec[i] || rp->runs[i].series != k || rp->runs[i].rate != at[k])
                continue;
            sqlite3_reset(lat);
            sqlite3_bind_int64(lat, 1, rp->runs[i].id);
            while (sqlite3_step(lat) == SQLITE_ROW) {
                if (nv == cap) {
                    cap = cap ? 2 * cap : 4096;
                    double *nvv = realloc(v, cap * sizeof *v);
                    if (!nvv)
                        goto done;
                    v = nvv;
                }
                v[nv++] = (double)sqlite3_column_int64(lat, 0) / 1e9;
            }
        }
        if (nv == 0)
            continue;
        qsort(v, nv, sizeof *v, report_cmp_double);
        if (!(q[k] = malloc(99 * sizeof **q)))
            goto done;
        for (int p = 1; p <= 99; p++) {
            size_t idx = (size_t)ceil((double)p / 100.0 * (double)nv);
            q[k][p - 1] = v[idx > 0 ? idx - 1 : 0];
        }
        any = 1;
    }
    dberr = 0;
    if (!(f = report_start(rp, &o, "latency_cdf.csv")))
        goto done;
    fputs("percentile", f);
    for (int k = 0; k < rp->nser; k++)
        if (q[k]) {
            fputc(',', f);
            cli_csv_field(f, rp->ser[k].label);
        }
    fputc('\n', f);
    for (int p = 1; any && p <= 99; p++) {
        fprintf(f, "%d", p);
        for (int k = 0; k < rp->nser; k++)
            if (q[k]) {
                fputc(',', f);
                report_csv_num(f, q[k][p - 1]);
            }
        fputc('\n', f);
    }
    rc = report_finish(rp, &o, "latency_cdf.csv", any ? 99 : 0);
done:
    if (rc && dberr)
        cli_err("report: latency_cdf.csv: cannot read the records: %s", sqlite3_errmsg(rp->db));
    sqlite3_finalize(has);
    sqlite3_finalize(lat);
    for (int k = 0; q && k < rp->nser; k++)
        free(q[k]);
    free(q);
    free(v);
    free(at);
    free(rec);
    return rc;
}

/* device, then per series the mean utilization over its runs at the rate scale nearest
 * at_rate. Devices are "node/spec" (with #2, #3... for identical devices of one node), in
 * the order first seen. */
int
report_utilization(report *rp)
{
    sqlite3_stmt *s = NULL;
    enum { MAXDEV = 4096 };
    char(*dev)[160] = calloc(MAXDEV, sizeof *dev);
    size_t cells = (size_t)MAXDEV * (size_t)(rp->nser ? rp->nser : 1);
    double *sum = calloc(cells, sizeof *sum), *at = calloc((size_t)(rp->nser + 1), sizeof *at);
    int *cnt = calloc(cells, sizeof *cnt), ndev = 0, rc = -1;
    cli_out o;
    FILE *f = NULL;
    if (!dev || !sum || !cnt || !at ||
        sqlite3_prepare_v2(rp->db,
                           "SELECT node, spec, utilization FROM run_devices WHERE run_id = ?1"
                           " ORDER BY device",
                           -1, &s, NULL) != SQLITE_OK)
        goto done;
    for (int k = 0; k < rp->nser; k++)
        at[k] = nearest_rate(rp, k);
    for (int i = 0; i < rp->n; i++) {
        const run_row *r = &rp->runs[i];
        if (r->rate != at[r->series])
            continue;
        char seen[64][160];
        int nseen = 0;
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, r->id);
        while (sqlite3_step(s) == SQLITE_ROW) {
            char lab[160];
            const unsigned char *node = sqlite3_column_text(s, 0),
                                *spec = sqlite3_column_text(s, 1);
            snprintf(lab, sizeof lab, "%s/%s", node ? (const char *)node : "?",
                     spec ? (const char *)spec : "?");
            int dup = 1;
            for (int k = 0; k < nseen; k++)
                dup += strncmp(seen[k], lab, sizeof lab) == 0;
            if (nseen < 64)
                memcpy(seen[nseen++], lab, sizeof lab);
            if (dup > 1) {
                size_t l = strlen(lab);
                snprintf(lab + l, sizeof lab - l, "#%d", dup);
            }
            int d;
            for (d = 0; d < ndev; d++)
                if (strcmp(dev[d], lab) == 0)
                    break;
            if (d == ndev) {
                if (ndev == MAXDEV)
                    continue;
                memcpy(dev[ndev++], lab, sizeof lab);
            }
            double u = report_col_num(s, 2);
            if (isfinite(u)) {
                sum[(size_t)d * (size_t)rp->nser + (size_t)r->series] += u;
                cnt[(size_t)d * (size_t)rp->nser + (size_t)r->series]++;
            }
        }
    }
    if (!(f = report_start(rp, &o, "utilization.csv")))
        goto done;
    header(f, "device", rp, 0);
    for (int d = 0; d < ndev; d++) {
        cli_csv_field(f, dev[d]);
        for (int k = 0; k < rp->nser; k++) {
            size_t c = (size_t)d * (size_t)rp->nser + (size_t)k;
            fputc(',', f);
            if (cnt[c])
                report_csv_num(f, sum[c] / cnt[c]);
        }
        fputc('\n', f);
    }
    rc = report_finish(rp, &o, "utilization.csv", ndev);
done:
    sqlite3_finalize(s);
    free(dev);
    free(sum);
    free(cnt);
    free(at);
    return rc;
}
