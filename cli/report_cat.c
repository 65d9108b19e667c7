/* `epara report`: the breakdowns behind the per-category figure (SLO attainment per task
 * category and per service at the reference rate scale) and the devices no policy uses,
 * with the reason the scenario's cost model gives. Categories are the ones EPARA's
 * categorizer reports when the database holds an epara run, for every series, so that
 * every bar of a category covers the same services. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/profile.h"
#include "epara/experiments/scenario.h"
#include "epara/experiments/bound.h"
#include "report.h"

enum { MAXSVC = 256, NCAT = 4 };
static const char *const cats[NCAT] = {"latency/single", "latency/multi", "frequency/single",
                                       "frequency/multi"};

typedef struct svc_row {
    char name[128];
    int cat;     /* index in cats, -1 until known */
    int ref_cat; /* the category an epara run reports, -1 when none */
    double *req; /* per series: requests in the window, summed over seeds */
    double *met; /* per series: SLO-met requests */
} svc_row;

static int
cat_of(const char *sens, int multi)
{
    int freq = sens && strcmp(sens, "frequency") == 0;
    return freq * 2 + (multi != 0);
}

/* Writes one attainment table: a row per label, a column per series (blank without
 * requests). */
static int
write_table(report *rp, const char *name, const char *first, char (*labels)[192],
            double *const *req, double *const *met, int nrows)
{
    cli_out o;
    FILE *f = report_start(rp, &o, name);
    if (!f)
        return -1;
    fputs(first, f);
    for (int k = 0; k < rp->nser; k++) {
        fputc(',', f);
        cli_csv_field(f, rp->ser[k].label);
    }
    fputc('\n', f);
    for (int i = 0; i < nrows; i++) {
        cli_csv_field(f, labels[i]);
        for (int k = 0; k < rp->nser; k++) {
            fputc(',', f);
            if (req[i][k] > 0)
                report_csv_num(f, met[i][k] / req[i][k]);
        }
        fputc('\n', f);
    }
    return report_finish(rp, &o, name, nrows);
}

/* The services of the runs at the reference rates, summed per series. */
typedef struct cat_acc {
    svc_row *sv;
    int nsv;
    int series, epara; /* of the run being read; epara: it is an epara run */
    double **req, **met;
} cat_acc;

/* ep_results_each_service's callback: adds one service of one run. */
static int
add_service(void *ctx, const ep_results_service *v)
{
    cat_acc *a = ctx;
    const char *name = v->service;
    int j;
    for (j = 0; j < a->nsv; j++)
        if (strcmp(a->sv[j].name, name ? name : "?") == 0)
            break;
    if (j == a->nsv) {
        if (a->nsv == MAXSVC)
            return 0;
        snprintf(a->sv[j].name, sizeof a->sv[j].name, "%s", name ? name : "?");
        a->sv[j].cat = a->sv[j].ref_cat = -1;
        a->nsv++;
    }
    int c = cat_of(v->sensitivity, v->multi_device);
    if (a->sv[j].cat < 0)
        a->sv[j].cat = c;
    if (a->epara && a->sv[j].ref_cat < 0)
        a->sv[j].ref_cat = c;
    a->req[j][a->series] += (double)v->requests;
    a->met[j][a->series] += (double)v->slo_met;
    return 0;
}

int
report_per_category(report *rp)
{
    size_t ns = (size_t)(rp->nser ? rp->nser : 1);
    svc_row *sv = calloc(MAXSVC, sizeof *sv);
    double *at = calloc(ns, sizeof *at),
           *buf = calloc((size_t)(MAXSVC + NCAT) * 2 * ns, sizeof *buf);
    double **req = calloc(MAXSVC + NCAT, sizeof *req), **met = calloc(MAXSVC + NCAT, sizeof *met);
    char(*labels)[192] = calloc(MAXSVC + NCAT, sizeof *labels);
    int rc = -1;
    if (!sv || !at || !buf || !req || !met || !labels)
        goto done;
    for (int i = 0; i < MAXSVC + NCAT; i++) {
        req[i] = buf + (size_t)i * 2 * ns;
        met[i] = req[i] + ns;
    }
    cat_acc a = {sv, 0, 0, 0, req, met};
    for (int k = 0; k < rp->nser; k++)
        at[k] = report_nearest_rate(rp, k);
    for (int i = 0; i < rp->n; i++) {
        const run_row *r = &rp->runs[i];
        if (r->rate != at[r->series])
            continue;
        a.series = r->series;
        a.epara = strcmp(r->policy, "epara") == 0;
        if (ep_results_each_service(rp->db, NULL, r->id, add_service, &a) != 0)
            goto done;
    }
    int nsv = a.nsv;
    /* Per category, in the fixed order, with its share of all requests. */
    double total = 0, creq[NCAT] = {0};
    for (int j = 0; j < nsv; j++) {
        int c = sv[j].ref_cat >= 0 ? sv[j].ref_cat : sv[j].cat;
        sv[j].cat = c;
        for (int k = 0; k < rp->nser; k++) {
            req[MAXSVC + c][k] += req[j][k];
            met[MAXSVC + c][k] += met[j][k];
        }
        /* Shares from the first series that has runs (every series sees the same arrivals). */
        creq[c] += req[j][0];
        total += req[j][0];
    }
    int nc = 0;
    double *creqp[NCAT], *cmetp[NCAT];
    for (int c = 0; c < NCAT; c++) {
        int any = 0;
        for (int j = 0; j < nsv; j++)
            any |= sv[j].cat == c;
        if (!any)
            continue;
        snprintf(labels[MAXSVC + nc], sizeof *labels, "%s (%.3g%%)", cats[c],
                 total > 0 ? 100 * creq[c] / total : 0);
        creqp[nc] = req[MAXSVC + c];
        cmetp[nc] = met[MAXSVC + c];
        nc++;
    }
    for (int j = 0; j < nsv; j++)
        snprintf(labels[j], sizeof *labels, "%s (%s)", sv[j].name, cats[sv[j].cat]);
    if (write_table(rp, "per_category.csv", "category", labels + MAXSVC, creqp, cmetp, nc) ||
        write_table(rp, "per_service.csv", "service", labels, req, met, nsv))
        goto done;
    rc = 0;
done:
    free(sv);
    free(at);
    free(buf);
    free(req);
    free(met);
    free(labels);
    return rc;
}

/* Why no policy uses a device of class spec: whether any service fits and meets its SLO
 * there alone, at batch 1 (the least it could ask of it), by the scenario's cost model. */
static void
why_idle(const ep_scenario *sc, int spec, char *out, size_t len)
{
    const ep_device_spec *sp = &sc->specs[spec];
    int ok = 0, best = -1;
    double best_ratio = INFINITY, best_t = 0, best_slo = 0;
    const char *best_what = "";
    for (int s = 0; s < sc->nservices; s++) {
        const ep_service *sv = &sc->services[s];
        if ((double)ep_cost_instance_mem(sc, s, 1) > (double)sp->mem_bytes * sp->mem_util)
            continue;
        double t, slo;
        const char *what;
        if (sv->kind == EP_SVC_LLM) {
            /* The tighter of the two: a token's decode against TPOT, one prompt token's
             * prefill against TTFT. */
            double d = ep_dur_to_s(ep_cost_llm_decode(sc, s, spec, 1, 1)),
                   p = ep_dur_to_s(ep_cost_llm_prefill(sc, s, spec, 1));
            double rd = sv->slo.tpot > 0 ? d / ep_dur_to_s(sv->slo.tpot) : 0,
                   rt = sv->slo.ttft > 0 ? p / ep_dur_to_s(sv->slo.ttft) : 0;
            if (rd >= rt) {
                t = d, slo = sv->slo.tpot > 0 ? ep_dur_to_s(sv->slo.tpot) : INFINITY;
                what = "a token";
            } else {
                t = p, slo = ep_dur_to_s(sv->slo.ttft);
                what = "to the first token";
            }
        } else {
            t = ep_dur_to_s(ep_cost_dnn_batch(sc, s, spec, 1));
            ep_dur due = sv->slo.deadline > 0 ? sv->slo.deadline : sv->slo.frame_deadline;
            slo = due > 0 ? ep_dur_to_s(due) : INFINITY;
            what = sv->slo.fps > 0 ? "a frame" : "a request";
        }
        if (t <= slo) {
            ok++;
        } else if (t / slo < best_ratio) {
            best_ratio = t / slo;
            best = s;
            best_t = t;
            best_slo = slo;
            best_what = what;
        }
    }
    if (ok)
        snprintf(out, len,
                 "%d service%s could meet %s SLO on %s alone, but no policy places one there", ok,
                 ok > 1 ? "s" : "", ok > 1 ? "their" : "its", sp->name);
    else if (best >= 0)
        snprintf(out, len,
                 "no service meets its SLO on %s even alone at batch 1 (closest: %s, %.3g ms %s "
                 "vs %.3g ms)",
                 sp->name, sc->services[best].name, best_t * 1e3, best_what, best_slo * 1e3);
    else
        snprintf(out, len, "no service fits in the memory of %s", sp->name);
}

enum { IDLE_MAXDEV = 4096 };

/* Per device index: its node and class and its largest utilization over the runs read. */
typedef struct idle_acc {
    double *maxu; /* NaN until a run has the device */
    char (*node)[128], (*spec)[128];
    int ndev;
} idle_acc;

/* ep_results_each_device's callback: one device of one run. */
static int
add_device(void *ctx, const ep_results_device *v)
{
    idle_acc *a = ctx;
    int d = v->device;
    if (d < 0 || d >= IDLE_MAXDEV)
        return 0;
    for (; a->ndev <= d; a->ndev++)
        a->maxu[a->ndev] = NAN;
    snprintf(a->node[d], sizeof a->node[d], "%s", v->node ? v->node : "?");
    snprintf(a->spec[d], sizeof a->spec[d], "%s", v->spec ? v->spec : "?");
    if (isnan(a->maxu[d]) || v->utilization > a->maxu[d])
        a->maxu[d] = v->utilization;
    return 0;
}

int
report_idle_devices(report *rp)
{
    double *maxu = malloc(IDLE_MAXDEV * sizeof *maxu),
           *at = calloc((size_t)(rp->nser + 1), sizeof *at);
    char(*node)[128] = calloc(IDLE_MAXDEV, sizeof *node);
    char(*spec)[128] = calloc(IDLE_MAXDEV, sizeof *spec);
    int rc = -1, loaded = 0;
    int64_t ref_run = -1;
    ep_scenario sc;
    rp->idle[0] = '\0';
    idle_acc a = {maxu, node, spec, 0};
    if (!maxu || !at || !node || !spec)
        goto done;
    for (int k = 0; k < rp->nser; k++)
        at[k] = report_nearest_rate(rp, k);
    for (int i = 0; i < rp->n; i++) {
        const run_row *r = &rp->runs[i];
        if (r->rate != at[r->series] || strcmp(r->policy, EP_BOUND_NAME) == 0)
            continue;
        if (ref_run < 0)
            ref_run = r->id;
        if (ep_results_each_device(rp->db, NULL, r->id, add_device, &a) != 0)
            goto done;
    }
    char *text = NULL, *name = NULL;
    if (ref_run >= 0 && ep_results_run_scenario(rp->db, ref_run, &text, &name) == 0) {
        ep_parse_error perr;
        loaded = ep_scenario_load_text(text, strlen(text), name ? name : "scenario", ".", &sc,
                                       &perr) == 0;
        free(text);
        free(name);
    }
    cli_out o;
    FILE *f = report_start(rp, &o, "idle_devices.csv");
    if (!f)
        goto done;
    fputs("device,spec,reason\n", f);
    long rows = 0;
    size_t n = 0;
    char last_spec[128] = "";
    for (int d = 0; d < a.ndev; d++) {
        if (!(maxu[d] == 0))
            continue;
        char why[400] = "the scenario of the runs could not be read";
        int sp = loaded ? ep_scenario_find_spec(&sc, spec[d]) : -1;
        if (sp >= 0)
            why_idle(&sc, sp, why, sizeof why);
        char lab[300];
        snprintf(lab, sizeof lab, "%s/%s", node[d], spec[d]);
        cli_csv_field(f, lab);
        fputc(',', f);
        cli_csv_field(f, spec[d]);
        fputc(',', f);
        cli_csv_field(f, why);
        fputc('\n', f);
        rows++;
        /* The note: devices grouped by class, each class's reason once. */
        int w;
        if (strcmp(last_spec, spec[d]) != 0) {
            w = snprintf(rp->idle + n, sizeof rp->idle - n, "%s%s", n ? "; " : "idle: ", node[d]);
            snprintf(last_spec, sizeof last_spec, "%s", spec[d]);
        } else {
            w = snprintf(rp->idle + n, sizeof rp->idle - n, ", %s", node[d]);
        }
        if (w > 0 && (size_t)w < sizeof rp->idle - n)
            n += (size_t)w;
        int next_same = 0;
        for (int e = d + 1; e < a.ndev && !next_same; e++)
            if (maxu[e] == 0)
                next_same = strcmp(spec[e], spec[d]) == 0 ? 1 : -1;
        if (next_same != 1) {
            w = snprintf(rp->idle + n, sizeof rp->idle - n, ": %s", why);
            if (w > 0 && (size_t)w < sizeof rp->idle - n)
                n += (size_t)w;
        }
    }
    rc = report_finish(rp, &o, "idle_devices.csv", rows);
done:
    if (loaded)
        ep_scenario_fini(&sc);
    free(maxu);
    free(at);
    free(node);
    free(spec);
    return rc;
}
