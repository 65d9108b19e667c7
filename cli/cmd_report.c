/* `epara report`: exports a results database as the CSV files the plot scripts read: one row
 * per run, service, device and placement summary here, and the aggregated tables behind each
 * figure in report_figs.c (series = policy + parameters, averaged over seeds). Every file is
 * written whole or not at all (cli_out). Runs without a summary (never committed) are
 * ignored. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sqlite3.h>

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

static char *
col_str(sqlite3_stmt *s, int i)
{
    const unsigned char *t = sqlite3_column_text(s, i);
    return strdup(t ? (const char *)t : "");
}

double
report_col_num(sqlite3_stmt *s, int i)
{
    return sqlite3_column_type(s, i) == SQLITE_NULL ? NAN : sqlite3_column_double(s, i);
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

static int
load_runs(report *rp)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(rp->db,
                           "SELECT id, scenario, policy, rate_scale, seed, duration_s,"
                           " goodput_per_s, slo_attainment, p50_latency_s, p99_latency_s,"
                           " requests, completed, rejected, dropped, unfinished, options, summary"
                           " FROM runs WHERE summary IS NOT NULL AND (?1 IS NULL OR scenario = ?1)"
                           " ORDER BY id",
                           -1, &s, NULL) != SQLITE_OK)
        return -1;
    if (rp->scenario)
        sqlite3_bind_text(s, 1, rp->scenario, -1, SQLITE_STATIC);
    int cap = 0, rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (rp->n == cap) {
            cap = cap ? 2 * cap : 64;
            run_row *v = realloc(rp->runs, (size_t)cap * sizeof *v);
            if (!v)
                break;
            rp->runs = v;
        }
        run_row *r = &rp->runs[rp->n++];
        memset(r, 0, sizeof *r);
        r->id = sqlite3_column_int64(s, 0);
        r->scenario = col_str(s, 1);
        r->policy = col_str(s, 2);
        r->rate = report_col_num(s, 3);
        if (!isfinite(r->rate))
            r->rate = 1;
        r->seed = sqlite3_column_int64(s, 4);
        r->dur = report_col_num(s, 5);
        if (!isfinite(r->dur))
            r->dur = 0;
        r->goodput = report_col_num(s, 6);
        r->attain = report_col_num(s, 7);
        r->p50 = report_col_num(s, 8);
        r->p99 = report_col_num(s, 9);
        r->requests = sqlite3_column_int64(s, 10);
        r->completed = sqlite3_column_int64(s, 11);
        r->rejected = sqlite3_column_int64(s, 12);
        r->dropped = sqlite3_column_int64(s, 13);
        r->unfinished = sqlite3_column_int64(s, 14);
        const unsigned char *opt = sqlite3_column_text(s, 15);
        r->params = params_of((const char *)opt);
        r->slo = slo_of((const char *)opt);
        r->summary = col_str(s, 16);
        if (!r->scenario || !r->policy || !r->params || !r->summary) {
            rc = SQLITE_NOMEM;
            break;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
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

/* Matches each stored `epara maxrate --out` result (overall attainment, target
 * REPORT_MAX_RATE_TARGET) to the series whose runs have its scenario, policy, parameters,
 * duration and SLO scale; the latest one wins. Databases without the table have none. */
static int
load_max_rates(report *rp)
{
    sqlite3_stmt *s;
    rp->smax = calloc((size_t)(rp->nser ? rp->nser : 1), sizeof *rp->smax);
    if (!rp->smax)
        return -1;
    if (sqlite3_prepare_v2(
                rp->db,
                "SELECT scenario, policy, options, duration_s, slo_scale, max_rate_scale,"
                " bracket_hi, goodput_per_s FROM max_rates WHERE metric = 'overall'"
                " AND service IS NULL AND abs(attainment_target - ?1) < 1e-9"
                " AND (?2 IS NULL OR scenario = ?2) ORDER BY id",
                -1, &s, NULL) != SQLITE_OK)
        return 0; /* no max_rates table */
    sqlite3_bind_double(s, 1, REPORT_MAX_RATE_TARGET);
    if (rp->scenario)
        sqlite3_bind_text(s, 2, rp->scenario, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *scen = (const char *)sqlite3_column_text(s, 0),
                   *pol = (const char *)sqlite3_column_text(s, 1),
                   *opt = (const char *)sqlite3_column_text(s, 2);
        char *params = params_of(opt);
        double dur = report_col_num(s, 3), slo = report_col_num(s, 4);
        if (!params) {
            sqlite3_finalize(s);
            return -1;
        }
        for (int i = 0; scen && pol && i < rp->n; i++) {
            const run_row *r = &rp->runs[i];
            if (strcmp(r->scenario, scen) != 0 || strcmp(r->policy, pol) != 0 ||
                strcmp(r->params, params) != 0 || r->dur != (isfinite(dur) ? dur : 0) ||
                r->slo != (isfinite(slo) ? slo : 1))
                continue;
            series_max *m = &rp->smax[r->series];
            m->set = 1;
            m->max_rate = report_col_num(s, 5);
            m->lo = m->max_rate;
            m->hi = report_col_num(s, 6);
            m->goodput = report_col_num(s, 7);
            break;
        }
        free(params);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? 0 : -1;
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

/* Writes every row of a query (column names as the header). */
static int
write_query(report *rp, const char *name, const char *sql)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(rp->db, sql, -1, &s, NULL) != SQLITE_OK) {
        cli_err("report: %s: %s", name, sqlite3_errmsg(rp->db));
        return -1;
    }
    if (rp->scenario)
        sqlite3_bind_text(s, 1, rp->scenario, -1, SQLITE_STATIC);
    cli_out o;
    FILE *f = report_start(rp, &o, name);
    if (!f) {
        sqlite3_finalize(s);
        return -1;
    }
    int nc = sqlite3_column_count(s), rc;
    for (int c = 0; c < nc; c++)
        fprintf(f, "%s%s", c ? "," : "", sqlite3_column_name(s, c));
    fputc('\n', f);
    long rows = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (int c = 0; c < nc; c++) {
            if (c)
                fputc(',', f);
            switch (sqlite3_column_type(s, c)) {
            case SQLITE_INTEGER:
                fprintf(f, "%lld", (long long)sqlite3_column_int64(s, c));
                break;
            case SQLITE_FLOAT:
                report_csv_num(f, sqlite3_column_double(s, c));
                break;
            case SQLITE_NULL:
                break;
            default:
                cli_csv_field(f, (const char *)sqlite3_column_text(s, c));
            }
        }
        fputc('\n', f);
        rows++;
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) {
        cli_err("report: %s: %s", name, sqlite3_errmsg(rp->db));
        cli_out_close(&o, 0);
        return -1;
    }
    return report_finish(rp, &o, name, rows);
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
    if (sqlite3_open_v2(db, &rp.db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        cli_err("report: %s: %s", db, rp.db ? sqlite3_errmsg(rp.db) : "cannot open");
        goto done;
    }
    sqlite3_busy_timeout(rp.db, 30000);
    if (load_runs(&rp) != 0) {
        cli_err("report: %s: not a results database (%s)", db, sqlite3_errmsg(rp.db));
        goto done;
    }
    if (mkdirs(dir) != 0) {
        cli_err("report: %s: cannot create: %s", dir, strerror(errno));
        goto done;
    }
    if (make_series(&rp) || load_max_rates(&rp) || write_runs(&rp) ||
        write_query(&rp, "services.csv",
                    "SELECT s.run_id, r.policy, r.rate_scale, r.seed, s.service, s.kind,"
                    " s.sensitivity, s.multi_device, s.requests, s.completed, s.rejected,"
                    " s.dropped, s.unfinished, s.slo_met, s.goodput_per_s, s.slo_attainment,"
                    " s.p50_latency_s, s.p90_latency_s, s.p99_latency_s, s.p50_ttft_s,"
                    " s.p99_ttft_s, s.p50_tpot_s, s.p99_tpot_s FROM run_services s JOIN runs r"
                    " ON r.id = s.run_id WHERE r.summary IS NOT NULL AND (?1 IS NULL OR"
                    " r.scenario = ?1) ORDER BY s.run_id, s.rowid") ||
        write_query(&rp, "devices.csv",
                    "SELECT d.run_id, r.policy, r.rate_scale, r.seed, d.device, d.node, d.spec,"
                    " d.busy_s, d.utilization FROM run_devices d JOIN runs r ON r.id = d.run_id"
                    " WHERE r.summary IS NOT NULL AND (?1 IS NULL OR r.scenario = ?1)"
                    " ORDER BY d.run_id, d.device") ||
        write_placements(&rp) || report_vs_rate(&rp, "goodput_vs_rate.csv", 0) ||
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
    sqlite3_close(rp.db);
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
