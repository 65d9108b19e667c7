/* `epara trace` tools on stored traces: info (statistics), list, export, rm, scale/slice
 * (rate and time scaling, time slicing), spread (quantized arrivals over their buckets) and
 * merge. Writes happen in one transaction. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "epara/core/error.h"
#include "epara/traces/store.h"
#include "util.h"

/* --- info and list ---------------------------------------------------------------- */

static const char info_help[] =
        "usage: epara trace info [--db DB] --name NAME [--json]\n"
        "\n"
        "Prints a trace's provenance and statistics: requests, span, mean rate, inter-arrival\n"
        "CV, busiest minute, size quantiles (p50/p90/p99), streams, execution times, the\n"
        "source fields kept in attrs (keys and how many rows hold each), and the arrivals'\n"
        "quantization: distinct arrival times and the tick (the greatest common divisor of\n"
        "the arrival offsets). When at least 1% of the requests share their arrival time\n"
        "with an earlier one and the tick is 1 ms or more, the trace is flagged as quantized\n"
        "(a warning; \"quantized\": true in --json): replayed as is, each bucket's requests\n"
        "arrive at once and the inter-arrival CV counts the zero gaps the timestamps'\n"
        "resolution made; 'epara trace spread' spreads each bucket over its width.\n"
        "With --json, one JSON object on stdout (null where a value is undefined).\n";

static json_t *
jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *
stats_json(const ep_trace_meta *m, const ep_trace_stats *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(m->name));
    json_object_set_new(o, "format", json_string(m->format));
    json_object_set_new(o, "source", json_string(m->source));
    json_object_set_new(o, "license", json_string(m->license));
    json_object_set_new(o, "imported_at", json_string(m->imported_at));
    json_t *params = json_loads(m->params, 0, NULL);
    json_object_set_new(o, "params", params ? params : json_string(m->params));
    json_object_set_new(o, "start_abs_ns", json_integer(m->start_abs));
    json_object_set_new(o, "requests", json_integer(s->requests));
    json_object_set_new(o, "span_s", jnum(s->span_s));
    json_object_set_new(o, "rate_per_s", jnum(s->rate_per_s));
    json_object_set_new(o, "interarrival_mean_s", jnum(s->interarrival_mean_s));
    json_object_set_new(o, "interarrival_cv", jnum(s->interarrival_cv));
    json_object_set_new(o, "max_per_minute", json_integer(s->max_per_minute));
    json_object_set_new(o, "peak_to_mean_minute", jnum(s->peak_to_mean_minute));
    json_object_set_new(o, "streams", json_integer(s->streams));
    json_object_set_new(o, "input_mean", jnum(s->input_mean));
    json_object_set_new(o, "input_p50", jnum(s->input_p50));
    json_object_set_new(o, "input_p90", jnum(s->input_p90));
    json_object_set_new(o, "input_p99", jnum(s->input_p99));
    json_object_set_new(o, "input_max", jnum(s->input_max));
    json_object_set_new(o, "output_mean", jnum(s->output_mean));
    json_object_set_new(o, "output_p50", jnum(s->output_p50));
    json_object_set_new(o, "output_p90", jnum(s->output_p90));
    json_object_set_new(o, "output_p99", jnum(s->output_p99));
    json_object_set_new(o, "output_max", jnum(s->output_max));
    json_object_set_new(o, "exec_mean_s", jnum(s->exec_mean_s));
    json_object_set_new(o, "exec_p50_s", jnum(s->exec_p50_s));
    json_object_set_new(o, "exec_p99_s", jnum(s->exec_p99_s));
    json_object_set_new(o, "distinct_arrivals", json_integer(s->distinct_arrivals));
    json_object_set_new(o, "tick_s", jnum(s->requests > 1 ? (double)s->tick / 1e9 : NAN));
    json_object_set_new(o, "tied_requests", json_integer(s->requests - s->distinct_arrivals));
    json_object_set_new(o, "quantized", json_boolean(s->quantized));
    json_object_set_new(o, "attrs_rows", json_integer(s->with_attrs));
    json_t *keys = json_object();
    for (int i = 0; i < s->nattr_keys; i++)
        json_object_set_new(keys, s->attr_keys[i].name, json_integer(s->attr_keys[i].rows));
    json_object_set_new(o, "attrs_keys", keys);
    json_object_set_new(o, "attrs_keys_more", json_boolean(s->attr_keys_more));
    return o;
}

/* A duration in the largest unit that keeps it short: "3 s", "100 ns", "1.5 ms". */
static void
fmt_tick(ep_dur d, char *buf, size_t cap)
{
    static const struct {
        const char *unit;
        double ns;
    } u[] = {{"s", 1e9}, {"ms", 1e6}, {"us", 1e3}, {"ns", 1}};
    size_t i = 0;
    while (i + 1 < EP_ARRAY_LEN(u) && (double)d < u[i].ns)
        i++;
    snprintf(buf, cap, "%.6g %s", (double)d / u[i].ns, u[i].unit);
}

static void
print_attrs(const ep_trace_stats *s)
{
    if (s->with_attrs == 0) {
        printf("%-15s none\n", "attrs");
        return;
    }
    printf("%-15s %lld rows keep other source fields:", "attrs", (long long)s->with_attrs);
    for (int i = 0; i < s->nattr_keys; i++)
        printf("%s %s (%lld)", i ? "," : "", s->attr_keys[i].name, (long long)s->attr_keys[i].rows);
    printf("%s\n", s->attr_keys_more ? ", ..." : "");
}

static void
print_arrivals(const ep_trace_stats *s)
{
    char tick[48];
    if (s->requests < 2)
        return;
    fmt_tick(s->tick, tick, sizeof tick);
    printf("%-15s %lld distinct times, tick %s\n", "arrival times", (long long)s->distinct_arrivals,
           s->tick ? tick : "none (all equal)");
    double tied = 100.0 * (double)(s->requests - s->distinct_arrivals) / (double)s->requests;
    if (s->quantized)
        printf("%-15s %.3g%% of the requests share their arrival time with an earlier one:\n"
               "%-15s the timestamps look quantized (tick %s); replayed as is, each bucket's\n"
               "%-15s requests arrive at once and the inter-arrival CV counts their zero gaps.\n"
               "%-15s 'epara trace spread' spreads each bucket over its width (seeded).\n",
               "warning", tied, "", tick, "", "");
    else if (tied >= 1)
        printf("%-15s %.3g%% of the requests arrive at the same instant as an earlier one\n"
               "%-15s (tick %s: ties of the data, not of a coarse clock)\n",
               "note", tied, "", s->tick ? tick : "none");
}

static void
print_sizes(const char *label, int64_t n, double mean, double p50, double p90, double p99,
            double max)
{
    if (n == 0) {
        printf("%-15s none\n", label);
        return;
    }
    printf("%-15s p50 %.6g  p90 %.6g  p99 %.6g  mean %.6g  max %.6g  (%lld rows)\n", label, p50,
           p90, p99, mean, max, (long long)n);
}

int
trace_info(int argc, char **argv)
{
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *db = DEFAULT_DB, *name = NULL;
    int as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'j':
            as_json = 1;
            break;
        case 'h':
            return cli_help_or_usage(1, info_help);
        default:
            return cli_help_or_usage(0, info_help);
        }
    }
    if (!name && optind == argc - 1)
        name = argv[optind++];
    if (!name || optind != argc) {
        cli_err("trace info: give one trace with --name (see 'epara trace list')");
        return EXIT_USAGE;
    }
    ep_store *st = cli_store_open(db, EP_STORE_READONLY);
    if (!st)
        return EXIT_USAGE;
    ep_trace_meta m;
    ep_trace_stats s;
    int err = ep_trace_meta_get(st, name, &m);
    if (!err)
        err = ep_trace_stats_compute(st, name, &s);
    if (err) {
        int rc = cli_store_fail(st, "trace info", name, err);
        ep_store_close(st);
        return rc;
    }
    if (as_json) {
        json_t *o = stats_json(&m, &s);
        json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        putchar('\n');
        json_decref(o);
    } else {
        char start[EP_DATETIME_BUFLEN];
        ep_time_format_datetime(m.start_abs, start);
        printf("%-15s %s\n", "trace", m.name);
        printf("%-15s %s (%s)\n", "source", m.source, m.format);
        printf("%-15s %s\n", "license", m.license);
        printf("%-15s %s\n", "imported", m.imported_at);
        printf("%-15s %s\n", "params", m.params);
        printf("%-15s %lld\n", "requests", (long long)s.requests);
        if (m.start_abs != 0)
            printf("%-15s %.3f s (first arrival %s)\n", "span", s.span_s, start);
        else
            printf("%-15s %.3f s (times relative to the trace start)\n", "span", s.span_s);
        printf("%-15s %.4g req/s\n", "rate", s.rate_per_s);
        printf("%-15s mean %.4g s, CV %.4g\n", "inter-arrival", s.interarrival_mean_s,
               s.interarrival_cv);
        printf("%-15s %lld requests (%.3gx the mean minute)\n", "busiest minute",
               (long long)s.max_per_minute, s.peak_to_mean_minute);
        print_sizes("input", s.with_input, s.input_mean, s.input_p50, s.input_p90, s.input_p99,
                    s.input_max);
        print_sizes("output", s.with_output, s.output_mean, s.output_p50, s.output_p90,
                    s.output_p99, s.output_max);
        if (s.with_exec)
            printf("%-15s p50 %.4g s  p99 %.4g s  mean %.4g s\n", "exec time", s.exec_p50_s,
                   s.exec_p99_s, s.exec_mean_s);
        if (s.streams)
            printf("%-15s %lld\n", "streams", (long long)s.streams);
        print_attrs(&s);
        print_arrivals(&s);
    }
    ep_store_close(st);
    return EXIT_OK;
}

static int
list_row(void *ctx, const ep_trace_meta *m)
{
    json_t *arr = ctx;
    if (arr) {
        json_t *o = json_object();
        json_object_set_new(o, "name", json_string(m->name));
        json_object_set_new(o, "format", json_string(m->format));
        json_object_set_new(o, "rows", json_integer(m->rows));
        json_object_set_new(o, "span_s", json_real(round(ep_dur_to_s(m->span) * 1e6) / 1e6));
        json_object_set_new(o, "source", json_string(m->source));
        json_object_set_new(o, "imported_at", json_string(m->imported_at));
        json_array_append_new(arr, o);
        return 0;
    }
    printf("%-24s %-16s %10lld %12.1f  %s\n", m->name, m->format, (long long)m->rows,
           ep_dur_to_s(m->span), m->source);
    return 0;
}

int
trace_list(int argc, char **argv)
{
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *db = DEFAULT_DB;
    int as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'j':
            as_json = 1;
            break;
        case 'h':
            return cli_help_or_usage(1, "usage: epara trace list [--db DB] [--json]\n\n"
                                        "Lists the traces in a database.\n");
        default:
            return cli_help_or_usage(0, "usage: epara trace list [--db DB] [--json]\n");
        }
    }
    ep_store *st = cli_store_open(db, EP_STORE_READONLY);
    if (!st)
        return EXIT_USAGE;
    json_t *arr = as_json ? json_array() : NULL;
    if (!as_json)
        printf("%-24s %-16s %10s %12s  %s\n", "name", "format", "rows", "span_s", "source");
    int err = ep_trace_list(st, list_row, arr);
    if (!err && arr) {
        json_dumpf(arr, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        putchar('\n');
    }
    json_decref(arr);
    int rc = err ? cli_store_fail(st, "trace list", "", err) : EXIT_OK;
    ep_store_close(st);
    return rc;
}

/* --- export ----------------------------------------------------------------------- */

static const char export_help[] =
        "usage: epara trace export [--db DB] --name NAME [--format csv|jsonl] [--out FILE]\n"
        "\n"
        "Writes a trace as CSV (default) or JSON lines, arrivals in ns from the trace start.\n"
        "The CSV re-imports with:\n"
        "  epara trace import --format csv --map 'time=arrival_ns:ns,input=input,output=output,\n"
        "    stream=stream,frame=frame,exec=exec_ns:ns,kind=kind,service=service' FILE\n"
        "--out defaults to stdout; a file is written whole or not at all.\n";

static void
csv_int(FILE *f, int64_t v)
{
    if (v != EP_TRACE_NONE)
        fprintf(f, "%lld", (long long)v);
}

static void
json_opt_int(json_t *o, const char *k, int64_t v)
{
    if (v != EP_TRACE_NONE)
        json_object_set_new(o, k, json_integer(v));
}

int
trace_export(int argc, char **argv)
{
    static const struct option longopts[] = {
            {"db", required_argument, NULL, 'd'},     {"name", required_argument, NULL, 'n'},
            {"format", required_argument, NULL, 'f'}, {"out", required_argument, NULL, 'o'},
            {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *db = DEFAULT_DB, *name = NULL, *format = "csv", *outp = "-";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'f':
            format = optarg;
            break;
        case 'o':
            outp = optarg;
            break;
        case 'h':
            return cli_help_or_usage(1, export_help);
        default:
            return cli_help_or_usage(0, export_help);
        }
    }
    int jsonl = strcmp(format, "jsonl") == 0;
    if (!jsonl && strcmp(format, "csv") != 0) {
        cli_err("--format: '%s' is not csv or jsonl", format);
        return EXIT_USAGE;
    }
    if (!name || optind != argc) {
        cli_err("trace export: give one trace with --name");
        return EXIT_USAGE;
    }
    ep_store *st = cli_store_open(db, EP_STORE_READONLY);
    if (!st)
        return EXIT_USAGE;
    ep_trace_reader *r;
    int err = ep_trace_reader_open(st, name, 0, EP_TIME_MAX, &r);
    if (err) {
        int rc = cli_store_fail(st, "trace export", name, err);
        ep_store_close(st);
        return rc;
    }
    cli_out out;
    if (cli_out_open(&out, outp)) {
        ep_trace_reader_close(r);
        ep_store_close(st);
        return EXIT_FAIL;
    }
    FILE *f = out.f;
    if (!jsonl)
        fputs("arrival_ns,input,output,stream,frame,exec_ns,kind,service,attrs\n", f);
    ep_trace_row row;
    int rc;
    while ((rc = ep_trace_reader_next(r, &row)) == 1) {
        if (jsonl) {
            json_t *o = json_object();
            json_object_set_new(o, "arrival_ns", json_integer(row.arrival));
            json_opt_int(o, "input", row.input);
            json_opt_int(o, "output", row.output);
            json_opt_int(o, "stream", row.stream);
            json_opt_int(o, "frame", row.frame);
            json_opt_int(o, "exec_ns", row.exec);
            if (row.kind)
                json_object_set_new(o, "kind", json_string(row.kind));
            if (row.service)
                json_object_set_new(o, "service", json_string(row.service));
            if (row.attrs) {
                json_t *a = json_loads(row.attrs, 0, NULL);
                json_object_set_new(o, "attrs", a ? a : json_string(row.attrs));
            }
            json_dumpf(o, f, JSON_COMPACT | JSON_PRESERVE_ORDER);
            fputc('\n', f);
            json_decref(o);
            continue;
        }
        fprintf(f, "%lld,", (long long)row.arrival);
        csv_int(f, row.input);
        fputc(',', f);
        csv_int(f, row.output);
        fputc(',', f);
        csv_int(f, row.stream);
        fputc(',', f);
        csv_int(f, row.frame);
        fputc(',', f);
        csv_int(f, row.exec);
        fputc(',', f);
        cli_csv_field(f, row.kind);
        fputc(',', f);
        cli_csv_field(f, row.service);
        fputc(',', f);
        cli_csv_field(f, row.attrs);
        fputc('\n', f);
    }
    ep_trace_reader_close(r);
    if (rc < 0)
        cli_err("trace export: database error: %s", ep_store_errmsg(st));
    ep_store_close(st);
    return cli_out_close(&out, rc == 0) == 0 ? EXIT_OK : EXIT_FAIL;
}

/* --- rm --------------------------------------------------------------------------- */

int
trace_rm(int argc, char **argv)
{
    static const char help[] = "usage: epara trace rm [--db DB] --name NAME\n\n"
                               "Deletes a trace and its rows.\n";
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *db = DEFAULT_DB, *name = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'h':
            return cli_help_or_usage(1, help);
        default:
            return cli_help_or_usage(0, help);
        }
    }
    if (!name || optind != argc) {
        cli_err("trace rm: give one trace with --name");
        return EXIT_USAGE;
    }
    ep_store *st = cli_store_open(db, 0);
    if (!st)
        return EXIT_FAIL;
    int err = ep_trace_remove(st, name);
    int rc = err ? cli_store_fail(st, "trace rm", name, err) : EXIT_OK;
    if (!err)
        printf("removed trace '%s'\n", name);
    ep_store_close(st);
    return rc;
}

/* --- scale / slice ---------------------------------------------------------------- */

static const char scale_help[] =
        "usage: epara trace scale [--db DB] --name SRC --out DST [options]\n"
        "\n"
        "Derives trace DST from SRC: keeps arrivals in [--from, --to) (seconds from SRC's\n"
        "start; DST's times count from --from) and scales time.\n"
        "\n"
        "  --rate-scale X   multiply the request rate by X (arrival times divided by X)\n"
        "  --time-scale X   multiply arrival times by X (rate divided by X)\n"
        "  --from S         slice start, s (default 0)\n"
        "  --to S           slice end, s (default: end of trace)\n"
        "  --service NAME   tag every row with a service name\n"
        "  --replace        overwrite DST if it exists\n";

int
trace_scale(int argc, char **argv)
{
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"rate-scale", required_argument, NULL, 'r'},
                                             {"time-scale", required_argument, NULL, 't'},
                                             {"from", required_argument, NULL, 'f'},
                                             {"to", required_argument, NULL, 'T'},
                                             {"service", required_argument, NULL, 's'},
                                             {"replace", no_argument, NULL, 'R'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *db = DEFAULT_DB, *name = NULL, *dst = NULL;
    double rate = 0, tscale = 0, from = 0, to = -1;
    ep_trace_transform t = {.time_scale = 1, .from = 0, .to = EP_TIME_MAX, .service = NULL};
    int replace = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'o':
            dst = optarg;
            break;
        case 'r':
            bad = cli_double("--rate-scale", optarg, 1e-9, 1e9, &rate);
            break;
        case 't':
            bad = cli_double("--time-scale", optarg, 1e-9, 1e9, &tscale);
            break;
        case 'f':
            bad = cli_double("--from", optarg, 0, 9e9, &from);
            break;
        case 'T':
            bad = cli_double("--to", optarg, 0, 9e9, &to);
            break;
        case 's':
            t.service = optarg;
            break;
        case 'R':
            replace = 1;
            break;
        case 'h':
            return cli_help_or_usage(1, scale_help);
        default:
            return cli_help_or_usage(0, scale_help);
        }
        if (bad)
            return EXIT_USAGE;
    }
    if (!name || !dst || optind != argc) {
        cli_err("trace scale: needs --name SRC and --out DST (see --help)");
        return EXIT_USAGE;
    }
    if (rate > 0 && tscale > 0) {
        cli_err("trace scale: give --rate-scale or --time-scale, not both");
        return EXIT_USAGE;
    }
    if (rate > 0)
        t.time_scale = 1.0 / rate;
    else if (tscale > 0)
        t.time_scale = tscale;
    if (ep_dur_from_s(from, &t.from) || (to >= 0 && ep_dur_from_s(to, &t.to))) {
        cli_err("trace scale: --from/--to out of range");
        return EXIT_USAGE;
    }
    if (t.to <= t.from) {
        cli_err("trace scale: --to must be after --from");
        return EXIT_USAGE;
    }
    if (strcmp(name, dst) == 0) {
        cli_err("trace scale: --out must name a new trace, not the source");
        return EXIT_USAGE;
    }
    if (ep_trace_name_check(dst)) {
        cli_err("--out: '%s' is not a valid trace name (1-127 of A-Z a-z 0-9 . _ -)", dst);
        return EXIT_USAGE;
    }
    ep_store *st = cli_store_open(db, 0);
    if (!st)
        return EXIT_FAIL;
    ep_trace_meta out;
    int err = ep_trace_derive(st, name, dst, &t, replace, &out);
    int rc = EXIT_OK;
    if (err == EP_ENOENT)
        rc = cli_store_fail(st, "trace scale", name, err);
    else if (err)
        rc = cli_store_fail(st, "trace scale", dst, err);
    else
        cli_print_written(&out, "wrote");
    ep_store_close(st);
    return rc;
}

/* --- spread ----------------------------------------------------------------------- */

static const char spread_help[] =
        "usage: epara trace spread [--db DB] --name SRC --out DST [--width S] [--seed N]\n"
        "\n"
        "Derives trace DST from SRC, whose arrival times are quantized (requests logged in\n"
        "buckets, e.g. every 3 s: see the warning of 'epara trace info'): every arrival t\n"
        "moves to t + u * width with its own u uniform in [0, 1), taking each time as the\n"
        "start of its bucket. A bucket's c requests become c independent uniform instants in\n"
        "it (a Poisson process conditioned on its count, as azure-functions' uniform\n"
        "expansion), so per-bucket counts are kept exactly and simultaneous bursts go.\n"
        "Other fields are kept; the result is sorted by arrival again (stable).\n"
        "\n"
        "  --width S        bucket width, s (default: SRC's tick, from 'trace info')\n"
        "  --seed N         seed of the offsets (default 1)\n"
        "  --replace        overwrite DST if it exists\n";

int
trace_spread(int argc, char **argv)
{
    static const struct option longopts[] = {
            {"db", required_argument, NULL, 'd'},   {"name", required_argument, NULL, 'n'},
            {"out", required_argument, NULL, 'o'},  {"width", required_argument, NULL, 'w'},
            {"seed", required_argument, NULL, 's'}, {"replace", no_argument, NULL, 'R'},
            {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    const char *db = DEFAULT_DB, *name = NULL, *dst = NULL;
    double width_s = 0;
    uint64_t seed = 1;
    int replace = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'n':
            name = optarg;
            break;
        case 'o':
            dst = optarg;
            break;
        case 'w':
            bad = cli_double("--width", optarg, 1e-9, 86400, &width_s);
            break;
        case 's':
            bad = cli_u64("--seed", optarg, &seed);
            break;
        case 'R':
            replace = 1;
            break;
        case 'h':
            return cli_help_or_usage(1, spread_help);
        default:
            return cli_help_or_usage(0, spread_help);
        }
        if (bad)
            return EXIT_USAGE;
    }
    if (!name || !dst || optind != argc) {
        cli_err("trace spread: needs --name SRC and --out DST (see --help)");
        return EXIT_USAGE;
    }
    if (strcmp(name, dst) == 0) {
        cli_err("trace spread: --out must name a new trace, not the source");
        return EXIT_USAGE;
    }
    if (ep_trace_name_check(dst)) {
        cli_err("--out: '%s' is not a valid trace name (1-127 of A-Z a-z 0-9 . _ -)", dst);
        return EXIT_USAGE;
    }
    ep_dur width = 0;
    if (width_s > 0 && (ep_dur_from_s(width_s, &width) || width <= 0)) {
        cli_err("--width: out of range");
        return EXIT_USAGE;
    }
    ep_store *st = cli_store_open(db, 0);
    if (!st)
        return EXIT_FAIL;
    int rc = EXIT_OK, err = 0;
    if (width == 0) {
        ep_trace_stats s;
        if ((err = ep_trace_stats_compute(st, name, &s)) != 0) {
            rc = cli_store_fail(st, "trace spread", name, err);
            goto done;
        }
        if (s.tick <= 1 || s.tick > 86400 * EP_NS_PER_S) {
            cli_err("trace spread: '%s' has no usable tick (%lld ns); give --width", name,
                    (long long)s.tick);
            rc = EXIT_USAGE;
            goto done;
        }
        width = s.tick;
    }
    ep_trace_meta out;
    err = ep_trace_spread(st, name, dst, width, seed, replace, &out);
    if (err == EP_ENOENT)
        rc = cli_store_fail(st, "trace spread", name, err);
    else if (err)
        rc = cli_store_fail(st, "trace spread", dst, err);
    else
        cli_print_written(&out, "wrote");
done:
    ep_store_close(st);
    return rc;
}

/* --- merge ------------------------------------------------------------------------ */

static const char merge_help[] =
        "usage: epara trace merge [--db DB] --out DST [--replace] SRC[:SERVICE] ...\n"
        "\n"
        "Merges traces (each from its own start) into DST in arrival order, tagging the rows\n"
        "of each SRC with SERVICE (default: the SRC name).\n";

int
trace_merge(int argc, char **argv)
{
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"replace", no_argument, NULL, 'R'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *db = DEFAULT_DB, *dst = NULL;
    int replace = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            db = optarg;
            break;
        case 'o':
            dst = optarg;
            break;
        case 'R':
            replace = 1;
            break;
        case 'h':
            return cli_help_or_usage(1, merge_help);
        default:
            return cli_help_or_usage(0, merge_help);
        }
    }
    size_t n = (size_t)(argc - optind);
    if (!dst || n == 0) {
        cli_err("trace merge: needs --out DST and at least one SRC (see --help)");
        return EXIT_USAGE;
    }
    if (ep_trace_name_check(dst)) {
        cli_err("--out: '%s' is not a valid trace name", dst);
        return EXIT_USAGE;
    }
    char **names = calloc(n, sizeof *names);
    const char **srcs = calloc(n, sizeof *srcs), **svcs = calloc(n, sizeof *svcs);
    int rc = EXIT_USAGE;
    ep_store *st = NULL;
    if (!names || !srcs || !svcs) {
        rc = EXIT_FAIL;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        names[i] = strdup(argv[optind + (int)i]);
        if (!names[i]) {
            rc = EXIT_FAIL;
            goto done;
        }
        char *colon = strchr(names[i], ':');
        if (colon) {
            *colon = '\0';
            svcs[i] = colon + 1;
        } else {
            svcs[i] = names[i];
        }
        srcs[i] = names[i];
        if (strcmp(srcs[i], dst) == 0) {
            cli_err("trace merge: --out must differ from every source");
            goto done;
        }
        if (svcs[i][0] == '\0' || strlen(svcs[i]) > EP_TRACE_MAX_TEXT) {
            cli_err("trace merge: '%s': service name must have 1-%d characters",
                    argv[optind + (int)i], EP_TRACE_MAX_TEXT);
            goto done;
        }
    }
    st = cli_store_open(db, 0);
    if (!st) {
        rc = EXIT_FAIL;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        ep_trace_meta m;
        int err = ep_trace_meta_get(st, srcs[i], &m);
        if (err) {
            rc = cli_store_fail(st, "trace merge", srcs[i], err);
            goto done;
        }
    }
    ep_trace_meta out;
    int err = ep_trace_merge(st, dst, srcs, svcs, n, replace, &out);
    if (err) {
        rc = cli_store_fail(st, "trace merge", dst, err);
        goto done;
    }
    cli_print_written(&out, "merged");
    rc = EXIT_OK;
done:
    if (names)
        for (size_t i = 0; i < n; i++)
            free(names[i]);
    free(names);
    free(srcs);
    free(svcs);
    ep_store_close(st);
    return rc;
}
