/* `epara report`: exports a results database as the CSV files the plot scripts read: one row
 * per run, service, device and placement summary here, and the aggregated tables behind each
 * figure in report_figs.c (series = policy + parameters, averaged over seeds). Every file is
 * written whole or not at all (cli_out). The database is read only through the results
 * queries (epara/sim/results.h), which skip runs without a summary (never committed). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "epara/core/error.h"
#include "commands.h"
#include "report.h"
#include "util.h"

static const char help[] =
        "usage: epara report --db RESULTS --csv DIR [options]\n"
        "\n"
        "Writes CSV files (comma-separated, one header line) into DIR:\n"
        "  runs.csv            one row per run: parameters (with the SLO scale) and summary\n"
        "                      metrics\n"
        "  services.csv        one row per run and service\n"
        "  devices.csv         one row per run and device (utilization = busy / simulated time)\n"
        "  placements.csv      per run: placements, instances, forwarding, scheduler time\n"
        "  goodput_vs_rate.csv, attainment_vs_rate.csv\n"
        "                      rate_scale, then one column per series (policy + parameters),\n"
        "                      the mean over seeds\n"
        "  max_rate.csv        series,max_rate,last_met,first_missed,goodput_at_max: per\n"
        "                      series the rate scale at which mean SLO attainment crosses\n"
        "                      0.9, interpolated between the swept scales around it (log\n"
        "                      rate); max_rate blank when the smallest swept scale misses,\n"
        "                      = last_met when none does (a lower bound). 'epara maxrate'\n"
        "                      bisects instead\n"
        "  latency_cdf.csv     percentile 1..99, then per series the latency (s) within which\n"
        "                      that share of ALL requests in the measured window completed,\n"
        "                      at the rate scale nearest --rate; blank above the share that\n"
        "                      completed (the rest were rejected, dropped or unfinished).\n"
        "                      Columns are named 'SERIES at xRATE (C% completed; M% met\n"
        "                      SLO)'. From each run's latency histogram (stored by sweep and\n"
        "                      sim --out) or its records; the bound has none\n"
        "  utilization.csv     device, then mean utilization per series at the rate scale\n"
        "                      nearest --rate (not the bound: a fluid LP busies no device)\n"
        "  idle_devices.csv    device,spec,reason: devices no series uses at that rate, and\n"
        "                      why by the scenario's cost model\n"
        "  per_category.csv    category (with its share of requests), then per series the SLO\n"
        "                      attainment of the task category (latency/frequency-sensitive x\n"
        "                      single/multi-device, as EPARA categorizes the services) at the\n"
        "                      rate scale nearest --rate\n"
        "  per_service.csv     the same per service ('service (category)')\n"
        "  ablation.csv        variant,goodput_per_s,max_rate for the epara runs: goodput at\n"
        "                      the rate scale nearest --rate; max_rate: the largest swept\n"
        "                      rate scale up to which mean SLO attainment stays >= 0.9\n"
        "                      (0 when the smallest swept scale misses it)\n"
        "\n"
        "  --db FILE          results database (epara sim --out, epara sweep)\n"
        "  --csv DIR          output directory (created when absent)\n"
        "  --scenario NAME    only the runs of this scenario\n"
        "  --rate X           reference rate scale of latency_cdf.csv, utilization.csv,\n"
        "                      idle_devices.csv, per_category.csv, per_service.csv and\n"
        "                      ablation.csv (the swept one nearest X; default 1)\n"
        "  --quiet            do not list the files written\n";

/* A heap copy of s, "" for NULL. */
static char *
dup_str(const char *s)
{
    return strdup(s ? s : "");
}

void
report_csv_num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.10g", v);
}

/* "k=v;k=v" from the options JSON's params object (sweeps record it; sim does not). */
static char *
params_of(const char *options)
{
    json_t *o = options ? json_loads(options, 0, NULL) : NULL;
    json_t *p = json_object_get(o, "params");
    char buf[1024] = "";
    size_t n = 0;
    const char *k;
    json_t *v;
    json_object_foreach(p, k, v)
    {
        char *vs = json_is_string(v) ? strdup(json_string_value(v))
                                     : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        int w = snprintf(buf + n, sizeof buf - n, "%s%s=%s", n ? ";" : "", k, vs ? vs : "");
        free(vs);
        if (w < 0 || (size_t)w >= sizeof buf - n)
            break;
        n += (size_t)w;
    }
    json_decref(o);
    return strdup(buf);
}

/* The run's SLO scale (options "slo_scale"; 1 when absent, as in runs stored before it). */
static double
slo_of(const char *options)
{
    json_t *o = options ? json_loads(options, 0, NULL) : NULL;
    json_t *v = json_object_get(o, "slo_scale");
    double x = json_is_number(v) ? json_number_value(v) : 1;
    json_decref(o);
    return isfinite(x) && x > 0 ? x : 1;
}

/* ep_results_each_run's callback: appends the run to the report's runs. */
typedef struct run_loader {
    report *rp;
    int cap;
} run_loader;

static int
add_run(void *ctx, const ep_results_run *v)
{
    run_loader *ld = ctx;
    report *rp = ld->rp;
    if (rp->n == ld->cap) {
        int cap = ld->cap ? 2 * ld->cap : 64;
        run_row *m = realloc(rp->runs, (size_t)cap * sizeof *m);
        if (!m)
            return EP_ENOMEM;
        rp->runs = m;
        ld->cap = cap;
    }
    run_row *r = &rp->runs[rp->n++];
    memset(r, 0, sizeof *r);
    r->id = v->id;
    r->scenario = dup_str(v->scenario);
    r->policy = dup_str(v->policy);
    r->rate = isfinite(v->rate_scale) ? v->rate_scale : 1;
    r->seed = (int64_t)v->seed;
    r->dur = isfinite(v->duration_s) ? v->duration_s : 0;
    r->goodput = v->goodput_per_s;
    r->attain = v->slo_attainment;
    r->p50 = v->p50_latency_s;
    r->p99 = v->p99_latency_s;
    r->requests = v->requests;
    r->completed = v->completed;
    r->rejected = v->rejected;
    r->dropped = v->dropped;
    r->unfinished = v->unfinished;
    r->params = params_of(v->options_json);
    r->slo = slo_of(v->options_json);
    r->summary = dup_str(v->summary_json);
    return r->scenario && r->policy && r->params && r->summary ? 0 : EP_ENOMEM;
}

static int
load_runs(report *rp)
{
    run_loader ld = {rp, 0};
    return ep_results_each_run(rp->db, rp->scenario, add_run, &ld) == 0 ? 0 : -1;
}

int
report_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Series labels name only what varies: the SLO scale, duration and scenario only when the
 * database holds more than one. */
static int
make_series(report *rp)
{
    int dvary = 0, svary = 0, lvary = 0;
    for (int i = 1; i < rp->n; i++) {
        lvary |= rp->runs[i].slo != rp->runs[0].slo;
        dvary |= rp->runs[i].dur != rp->runs[0].dur;
        svary |= strcmp(rp->runs[i].scenario, rp->runs[0].scenario) != 0;
    }
    rp->ser = calloc((size_t)(rp->n ? rp->n : 1), sizeof *rp->ser);
    rp->rates = calloc((size_t)(rp->n ? rp->n : 1), sizeof *rp->rates);
    if (!rp->ser || !rp->rates)
        return -1;
    for (int i = 0; i < rp->n; i++) {
        run_row *r = &rp->runs[i];
        char tail[160] = "", params[512] = "", variant[512] = "";
        if (lvary)
            snprintf(tail, sizeof tail, " slo x%g", r->slo);
        if (dvary && r->dur > 0)
            snprintf(tail + strlen(tail), sizeof tail - strlen(tail), " %gs", r->dur);
        else if (dvary)
            snprintf(tail + strlen(tail), sizeof tail - strlen(tail), " full");
        if (svary)
            snprintf(tail + strlen(tail), sizeof tail - strlen(tail), " @%s", r->scenario);
        size_t np = 0, nv = 0;
        char *save = NULL, *copy = strdup(r->params);
        for (char *kv = copy ? strtok_r(copy, ";", &save) : NULL; kv;
             kv = strtok_r(NULL, ";", &save)) {
            char *eq = strchr(kv, '=');
            np += (size_t)snprintf(params + np, sizeof params - np, " %s", kv);
            if (eq && strcmp(eq + 1, "0") == 0)
                nv += (size_t)snprintf(variant + nv, sizeof variant - nv, "%sno %.*s",
                                       nv ? " " : "", (int)(eq - kv), kv);
            else
                nv += (size_t)snprintf(variant + nv, sizeof variant - nv, "%s%s", nv ? " " : "",
                                       kv);
            if (np >= sizeof params || nv >= sizeof variant)
                break;
        }
        free(copy);
        series s;
        snprintf(s.label, sizeof s.label, "%.63s%.120s%.70s", r->policy, params, tail);
        snprintf(s.variant, sizeof s.variant, "%.180s%.70s", nv ? variant : "all on", tail);
        s.policy = r->policy;
        int k;
        for (k = 0; k < rp->nser; k++)
            if (strcmp(rp->ser[k].label, s.label) == 0)
                break;
        if (k == rp->nser)
            rp->ser[rp->nser++] = s;
        r->series = k;
        rp->rates[i] = r->rate;
    }
    qsort(rp->rates, (size_t)rp->n, sizeof *rp->rates, report_cmp_double);
    for (int i = 0; i < rp->n; i++)
        if (rp->nrates == 0 || rp->rates[rp->nrates - 1] != rp->rates[i])
            rp->rates[rp->nrates++] = rp->rates[i];
    for (int q = 0; q < rp->nrates; q++)
        if (report_nearer(rp->rates[q], rp->ref_rate, rp->at_rate))
            rp->ref_rate = rp->rates[q];
    return 0;
}

/* ep_results_each_max_rate's callback: a stored `epara maxrate --out` result of the overall
 * attainment at REPORT_MAX_RATE_TARGET sets the max rate of the series whose runs have its
 * scenario, policy, parameters, duration and SLO scale. */
static int
match_max_rate(void *ctx, const ep_max_rate_row *m)
{
    report *rp = ctx;
    if (!m->metric || strcmp(m->metric, "overall") != 0 || m->service ||
        !(fabs(m->attainment_target - REPORT_MAX_RATE_TARGET) < 1e-9))
        return 0;
    char *params = params_of(m->options_json);
    if (!params)
        return EP_ENOMEM;
    for (int i = 0; m->scenario && m->policy && i < rp->n; i++) {
        const run_row *r = &rp->runs[i];
        if (strcmp(r->scenario, m->scenario) != 0 || strcmp(r->policy, m->policy) != 0 ||
            strcmp(r->params, params) != 0 ||
            r->dur != (isfinite(m->duration_s) ? m->duration_s : 0) ||
            r->slo != (isfinite(m->slo_scale) ? m->slo_scale : 1))
            continue;
        series_max *sm = &rp->smax[r->series];
        sm->set = 1;
        sm->max_rate = m->max_rate_scale;
        sm->lo = sm->max_rate;
        sm->hi = m->bracket_hi;
        sm->goodput = m->goodput_per_s;
        break;
    }
    free(params);
    return 0;
}

/* Matches the stored max rates to the series, oldest first (the latest one wins).
 * Databases without the table have none. */
static int
load_max_rates(report *rp)
{
    rp->smax = calloc((size_t)(rp->nser ? rp->nser : 1), sizeof *rp->smax);
    if (!rp->smax)
        return -1;
    return ep_results_each_max_rate(rp->db, rp->scenario, match_max_rate, rp) == 0 ? 0 : -1;
}

int
report_rate_index(const report *rp, double rate)
{
    int lo = 0, hi = rp->nrates - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (rp->rates[mid] < rate)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Opens DIR/name for writing; the caller finishes with report_finish(). */
FILE *
report_start(report *rp, cli_out *o, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", rp->dir, name);
    return cli_out_open(o, path) == 0 ? o->f : NULL;
}

int
report_finish(report *rp, cli_out *o, const char *name, long rows)
{
    if (cli_out_close(o, 1) != 0)
        return -1;
    if (!rp->quiet)
        printf("report: wrote %s/%s (%ld rows)\n", rp->dir, name, rows);
    return 0;
}

static int
write_runs(report *rp)
{
    cli_out o;
    FILE *f = report_start(rp, &o, "runs.csv");
    if (!f)
        return -1;
    fputs("run_id,scenario,policy,rate_scale,seed,duration_s,slo_scale,goodput_per_s,"
          "slo_attainment,p50_latency_s,p99_latency_s,requests,completed,rejected,dropped,"
          "unfinished,params,series\n",
          f);
    for (int i = 0; i < rp->n; i++) {
        const run_row *r = &rp->runs[i];
        fprintf(f, "%lld,", (long long)r->id);
        cli_csv_field(f, r->scenario);
        fputc(',', f);
        cli_csv_field(f, r->policy);
        fprintf(f, ",%.10g,%lld,%.10g,%.10g,", r->rate, (long long)r->seed, r->dur, r->slo);
        report_csv_num(f, r->goodput);
        fputc(',', f);
        report_csv_num(f, r->attain);
        fputc(',', f);
        report_csv_num(f, r->p50);
        fputc(',', f);
        report_csv_num(f, r->p99);
        fprintf(f, ",%lld,%lld,%lld,%lld,%lld,", (long long)r->requests, (long long)r->completed,
                (long long)r->rejected, (long long)r->dropped, (long long)r->unfinished);
        cli_csv_field(f, r->params);
        fputc(',', f);
        cli_csv_field(f, rp->ser[r->series].label);
        fputc('\n', f);
    }
    return report_finish(rp, &o, "runs.csv", rp->n);
}

/* A CSV file being written row by row from a query's callback. */
typedef struct csv_rows {
    FILE *f;
    long rows;
} csv_rows;

/* ",v" for each number (an empty field when not finite). */
static void
put_nums(FILE *f, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fputc(',', f);
        report_csv_num(f, v[i]);
    }
}

/* The run's columns every breakdown row starts with: run_id,policy,rate_scale,seed. */
static void
put_run_cols(FILE *f, const ep_results_run_ref *run)
{
    fprintf(f, "%lld,", (long long)run->id);
    cli_csv_field(f, run->policy);
    fputc(',', f);
    report_csv_num(f, run->rate_scale);
    fprintf(f, ",%lld", (long long)run->seed);
}

static int
put_service(void *ctx, const ep_results_service *v)
{
    csv_rows *c = ctx;
    const char *text[] = {v->service, v->kind, v->sensitivity};
    const double num[] = {v->goodput_per_s, v->slo_attainment, v->p50_latency_s,
                          v->p90_latency_s, v->p99_latency_s,  v->p50_ttft_s,
                          v->p99_ttft_s,    v->p50_tpot_s,     v->p99_tpot_s};
    put_run_cols(c->f, &v->run);
    for (size_t i = 0; i < EP_ARRAY_LEN(text); i++) {
        fputc(',', c->f);
        cli_csv_field(c->f, text[i]);
    }
    fprintf(c->f, ",%d,%lld,%lld,%lld,%lld,%lld,%lld", v->multi_device, (long long)v->requests,
            (long long)v->completed, (long long)v->rejected, (long long)v->dropped,
            (long long)v->unfinished, (long long)v->slo_met);
    put_nums(c->f, num, EP_ARRAY_LEN(num));
    fputc('\n', c->f);
    c->rows++;
    return 0;
}

static int
put_device(void *ctx, const ep_results_device *v)
{
    csv_rows *c = ctx;
    put_run_cols(c->f, &v->run);
    fprintf(c->f, ",%d,", v->device);
    cli_csv_field(c->f, v->node);
    fputc(',', c->f);
    cli_csv_field(c->f, v->spec);
    const double num[] = {v->busy_s, v->utilization};
    put_nums(c->f, num, EP_ARRAY_LEN(num));
    fputc('\n', c->f);
    c->rows++;
    return 0;
}

/* services.csv (one row per run and service) or devices.csv (per run and device): header,
 * then every row of the runs the report covers. */
static int
write_breakdown(report *rp, int devices)
{
    const char *name = devices ? "devices.csv" : "services.csv";
    cli_out o;
    csv_rows c = {report_start(rp, &o, name), 0};
    if (!c.f)
        return -1;
    fputs(devices ? "run_id,policy,rate_scale,seed,device,node,spec,busy_s,utilization\n"
                  : "run_id,policy,rate_scale,seed,service,kind,sensitivity,multi_device,"
                    "requests,completed,rejected,dropped,unfinished,slo_met,goodput_per_s,"
                    "slo_attainment,p50_latency_s,p90_latency_s,p99_latency_s,p50_ttft_s,"
                    "p99_ttft_s,p50_tpot_s,p99_tpot_s\n",
          c.f);
    int rc = devices ? ep_results_each_device(rp->db, rp->scenario, 0, put_device, &c)
                     : ep_results_each_service(rp->db, rp->scenario, 0, put_service, &c);
    if (rc != 0) {
        cli_err("report: %s: %s", name, ep_results_errmsg(rp->db));
        cli_out_close(&o, 0);
        return -1;
    }
    return report_finish(rp, &o, name, c.rows);
}

static int
write_placements(report *rp)
{
    static const char *const keys[] = {"placements",       "placements_refused", "instances",
                                       "placement_rounds", "place_time_s",       "forwarded",
                                       "preemptions"};
    cli_out o;
    FILE *f = report_start(rp, &o, "placements.csv");
    if (!f)
        return -1;
    fputs("run_id,policy,rate_scale,seed", f);
    for (size_t k = 0; k < EP_ARRAY_LEN(keys); k++)
        fprintf(f, ",%s", keys[k]);
    fputc('\n', f);
    for (int i = 0; i < rp->n; i++) {
        const run_row *r = &rp->runs[i];
        json_t *js = json_loads(r->summary, 0, NULL);
        fprintf(f, "%lld,", (long long)r->id);
        cli_csv_field(f, r->policy);
        fprintf(f, ",%.10g,%lld", r->rate, (long long)r->seed);
        for (size_t k = 0; k < EP_ARRAY_LEN(keys); k++) {
            json_t *v = json_object_get(js, keys[k]);
            fputc(',', f);
            if (json_is_number(v))
                report_csv_num(f, json_number_value(v));
        }
        fputc('\n', f);
        json_decref(js);
    }
    return report_finish(rp, &o, "placements.csv", rp->n);
}

static int
mkdirs(const char *dir)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = '\0';
            if (mkdir(p, 0777) != 0 && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

int
report_export(const char *db, const char *dir, const char *scenario, double at_rate, int quiet,
              report_notes *notes)
{
    report rp;
    memset(&rp, 0, sizeof rp);
    rp.ref_rate = NAN;
    if (notes) {
        notes->ref_rate = NAN;
        notes->idle[0] = '\0';
    }
    rp.dir = dir;
    rp.scenario = scenario;
    rp.at_rate = at_rate;
    rp.quiet = quiet;
    int rc = EXIT_FAIL;
    char err[512];
    if (ep_results_open_read(db, &rp.db, err, sizeof err) != 0) {
        cli_err("report: %s", err);
        goto done;
    }
    if (load_runs(&rp) != 0) {
        cli_err("report: %s: not a results database (%s)", db, ep_results_errmsg(rp.db));
        goto done;
    }
    if (mkdirs(dir) != 0) {
        cli_err("report: %s: cannot create: %s", dir, strerror(errno));
        goto done;
    }
    if (make_series(&rp) || load_max_rates(&rp) || write_runs(&rp) || write_breakdown(&rp, 0) ||
        write_breakdown(&rp, 1) || write_placements(&rp) ||
        report_vs_rate(&rp, "goodput_vs_rate.csv", 0) ||
        report_vs_rate(&rp, "attainment_vs_rate.csv", 1) || report_max_rate(&rp) ||
        report_latency_cdf(&rp) || report_utilization(&rp) || report_idle_devices(&rp) ||
        report_per_category(&rp) || report_ablation(&rp))
        goto done;
    if (notes) {
        notes->ref_rate = rp.ref_rate;
        snprintf(notes->idle, sizeof notes->idle, "%s", rp.idle);
    }
    rc = EXIT_OK;
done:
    for (int i = 0; i < rp.n; i++) {
        free(rp.runs[i].scenario);
        free(rp.runs[i].policy);
        free(rp.runs[i].params);
        free(rp.runs[i].summary);
    }
    free(rp.runs);
    free(rp.ser);
    free(rp.rates);
    free(rp.smax);
    ep_results_close(rp.db);
    return rc;
}

int
cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"csv", required_argument, NULL, 'c'},
                                             {"scenario", required_argument, NULL, 's'},
                                             {"rate", required_argument, NULL, 'r'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *db = NULL, *dir = NULL, *scen = NULL;
    double rate = 1;
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'c':
            dir = optarg;
            break;
        case 's':
            scen = optarg;
            break;
        case 'r':
            if (cli_double("--rate", optarg, 1e-6, 1e6, &rate))
                return EXIT_USAGE;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return EXIT_OK;
        default:
            fputs(help, stderr);
            return EXIT_USAGE;
        }
    }
    if (!db || !dir || optind != argc) {
        cli_err("report: --db and --csv are required (see --help)");
        return EXIT_USAGE;
    }
    if (access(db, R_OK) != 0) {
        cli_err("report: %s: %s", db, strerror(errno));
        return EXIT_USAGE;
    }
    return report_export(db, dir, scen, rate, quiet, NULL);
}
