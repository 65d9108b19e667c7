/* `epara trace`: import, gen, info, list, export, rm, scale (rate/time scaling and time
 * slicing), spread and merge. Bad input exits 2 with FILE:LINE: reason and leaves the database as
 * it was; every write happens in one transaction. */
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

/* --- import ----------------------------------------------------------------------- */

static const char import_help[] =
        "usage: epara trace import [options] --format FORMAT FILE\n"
        "\n"
        "Imports a trace file into the database as one named trace, in one transaction:\n"
        "a malformed row prints FILE:LINE: reason, exits 2 and leaves the database as it was.\n"
        "Rows need not be sorted: they are stored sorted by arrival (stable) with arrival\n"
        "times relative to the earliest one.\n"
        "\n"
        "  --db DB          trace database (default " DEFAULT_DB ", created if absent)\n"
        "  --name NAME      trace name (default: the file name without extension)\n"
        "  --format F       azure-llm | alibaba-gentd | azure-functions | csv | jsonl\n"
        "  --map SPEC       csv/jsonl column mapping, e.g.\n"
        "                   'time=TIMESTAMP:datetime,input=ContextTokens,output=GeneratedTokens'\n"
        "                   fields: time (required; units datetime|s|ms|us|ns), input, output,\n"
        "                   stream, frame, exec (unit s|ms|us|ns), kind, service.\n"
        "                   A jsonl row lacking a mapped key is refused (FILE:LINE) unless the\n"
        "                   field has a default, FIELD=COL?DEFAULT (e.g. output=out?0; out? for\n"
        "                   unknown), which also fills empty cells and nulls (else unknown).\n"
        "                   Unmapped columns/keys (e.g. hash_ids) are kept in each row's attrs\n"
        "                   as a JSON object ('trace info' lists them); attrs=none drops them\n"
        "  --expand RULE    azure-functions: uniform (default) | even | poisson\n"
        "  --seed N         seed for --expand (default 1)\n"
        "  --source TEXT    provenance note (default: the file path)\n"
        "  --license TEXT   license note (default: the known license of the format)\n"
        "  --replace        overwrite an existing trace of that name\n"
        "  --quiet          print nothing on success\n"
        "  -h, --help       this help\n";

#define SKIPS_LISTED 20 /* skipped rows an import lists on stderr */

typedef struct skip_report {
    const char *file;
    long count;
} skip_report;

static void
report_skip(void *ctx, long line, const char *reason)
{
    skip_report *s = ctx;
    if (s->count < SKIPS_LISTED)
        fprintf(stderr, "%s:%ld: skipped: %s\n", s->file, line, reason);
    else if (s->count == SKIPS_LISTED)
        fprintf(stderr, "%s: further skipped rows not listed\n", s->file);
    s->count++;
}

static void
report_progress(void *ctx, long rows)
{
    (void)ctx;
    fprintf(stderr, "\rimport: %.1f M rows stored", (double)rows / 1e6);
}

static const char *
default_license(ep_trace_format f)
{
    switch (f) {
    case EP_FMT_AZURE_LLM:
    case EP_FMT_AZURE_FUNCTIONS:
        return "CC-BY-4.0 (Azure/AzurePublicDataset)";
    case EP_FMT_ALIBABA_GENTD:
        return "research or study use only (alibaba/clusterdata)";
    default:
        return "unknown";
    }
}

static void
name_from_path(const char *path, char *out, size_t cap)
{
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    snprintf(out, cap, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && dot != out)
        *dot = '\0';
    for (char *p = out; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            *p = '_';
}

/* What `epara trace import` was asked for. */
typedef struct import_args {
    const char *db, *name, *format, *map, *source, *license, *path;
    int replace, quiet;
    ep_parse_opts opts; /* opts.map points at cmap for csv and jsonl */
    ep_colmap cmap;
} import_args;

/* Reads the options into *a (set to the defaults first) and checks them. Returns -1 to go
 * on, else the exit status (help, or a usage error, printed). */
static int
import_parse(int argc, char **argv, import_args *a)
{
    static const struct option longopts[] = {
            {"db", required_argument, NULL, 'd'},     {"name", required_argument, NULL, 'n'},
            {"format", required_argument, NULL, 'f'}, {"map", required_argument, NULL, 'm'},
            {"expand", required_argument, NULL, 'e'}, {"seed", required_argument, NULL, 's'},
            {"source", required_argument, NULL, 'S'}, {"license", required_argument, NULL, 'L'},
            {"replace", no_argument, NULL, 'r'},      {"quiet", no_argument, NULL, 'q'},
            {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    a->db = DEFAULT_DB;
    a->opts.seed = 1;
    a->opts.expand = EP_EXPAND_UNIFORM;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            a->db = optarg;
            break;
        case 'n':
            a->name = optarg;
            break;
        case 'f':
            a->format = optarg;
            break;
        case 'm':
            a->map = optarg;
            break;
        case 'e':
            if (ep_expand_rule_parse(optarg, &a->opts.expand)) {
                cli_err("--expand: '%s' is not one of uniform, even, poisson", optarg);
                return EXIT_USAGE;
            }
            break;
        case 's':
            if (cli_u64("--seed", optarg, &a->opts.seed))
                return EXIT_USAGE;
            break;
        case 'S':
            a->source = optarg;
            break;
        case 'L':
            a->license = optarg;
            break;
        case 'r':
            a->replace = 1;
            break;
        case 'q':
            a->quiet = 1;
            break;
        case 'h':
            return cli_help_or_usage(1, import_help);
        default:
            return cli_help_or_usage(0, import_help);
        }
    }
    if (optind != argc - 1) {
        cli_err("trace import: expected exactly one FILE (see --help)");
        return EXIT_USAGE;
    }
    a->path = argv[optind];
    if (!a->format) {
        cli_err("trace import: --format is required (azure-llm, alibaba-gentd, "
                "azure-functions, csv, jsonl)");
        return EXIT_USAGE;
    }
    if (ep_trace_format_parse(a->format, &a->opts.format)) {
        cli_err("--format: '%s' is not one of azure-llm, alibaba-gentd, azure-functions, csv, "
                "jsonl",
                a->format);
        return EXIT_USAGE;
    }
    if (a->opts.format == EP_FMT_CSV || a->opts.format == EP_FMT_JSONL) {
        char msg[256];
        if (!a->map) {
            cli_err("--format %s needs --map (e.g. --map 'time=timestamp:ms,input=in,"
                    "output=out')",
                    a->format);
            return EXIT_USAGE;
        }
        if (ep_colmap_parse(a->map, &a->cmap, msg, sizeof msg)) {
            cli_err("--map: %s", msg);
            return EXIT_USAGE;
        }
        a->opts.map = &a->cmap;
    } else if (a->map) {
        cli_err("--map applies only to --format csv or jsonl");
        return EXIT_USAGE;
    }
    return -1;
}

/* The trace's metadata: name (--name, else from the file's), source, format, license and
 * the import's parameters as JSON. 0, or EXIT_USAGE for a bad name (printed). */
static int
import_meta(const import_args *a, ep_trace_meta *meta)
{
    memset(meta, 0, sizeof *meta);
    if (a->name)
        snprintf(meta->name, sizeof meta->name, "%s", a->name);
    else
        name_from_path(a->path, meta->name, sizeof meta->name);
    if (ep_trace_name_check(meta->name)) {
        cli_err("--name: '%s' is not a valid trace name (1-127 of A-Z a-z 0-9 . _ -)", meta->name);
        return EXIT_USAGE;
    }
    snprintf(meta->source, sizeof meta->source, "%s", a->source ? a->source : a->path);
    snprintf(meta->format, sizeof meta->format, "%s", ep_trace_format_name(a->opts.format));
    snprintf(meta->license, sizeof meta->license, "%s",
             a->license ? a->license : default_license(a->opts.format));
    json_t *p = json_object();
    json_object_set_new(p, "format", json_string(meta->format));
    if (a->map)
        json_object_set_new(p, "map", json_string(a->map));
    if (a->opts.format == EP_FMT_AZURE_FUNCTIONS) {
        static const char *const rules[] = {"uniform", "even", "poisson"};
        json_object_set_new(p, "expand", json_string(rules[a->opts.expand]));
        json_object_set_new(p, "seed", json_integer((json_int_t)a->opts.seed));
    }
    char *txt = json_dumps(p, JSON_COMPACT);
    snprintf(meta->params, sizeof meta->params, "%s", txt ? txt : "{}");
    free(txt);
    json_decref(p);
    return 0;
}

/* What the import came to: the problem (file and line for a parse error; nothing was
 * imported then) or, unless quiet, the trace written and the rows skipped. Returns the exit
 * status. */
static int
import_report(const import_args *a, ep_store *st, const ep_trace_meta *meta, int err,
              const ep_parse_error *perr, const ep_parse_stats *pst, const ep_trace_meta *out)
{
    const char *path = a->path;
    if (err == EP_EPARSE) {
        if (perr->line > 0)
            fprintf(stderr, "%s:%ld: %s\n", path, perr->line, perr->msg);
        else
            fprintf(stderr, "%s: %s\n", path, perr->msg);
        fprintf(stderr, "epara: trace import: nothing imported; database unchanged\n");
        return EXIT_USAGE;
    }
    if (err == EP_EIO) {
        fprintf(stderr, "%s: %s\n", path, perr->msg[0] ? perr->msg : "read error");
        return EXIT_USAGE;
    }
    if (err == EP_EEMPTY) {
        fprintf(stderr, "%s: no rows to import (all %ld data rows skipped)\n", path, pst->skipped);
        return EXIT_USAGE;
    }
    if (err)
        return cli_store_fail(st, "trace import", meta->name, err);
    if (!a->quiet) {
        cli_print_written(out, "imported");
        if (pst->skipped > SKIPS_LISTED)
            printf("skipped %ld rows (the first %d listed on stderr)\n", pst->skipped,
                   SKIPS_LISTED);
        else if (pst->skipped)
            printf("skipped %ld rows (each listed on stderr)\n", pst->skipped);
    }
    return EXIT_OK;
}

static int
trace_import(int argc, char **argv)
{
    import_args a;
    int rc = import_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    ep_trace_meta meta;
    if ((rc = import_meta(&a, &meta)) != 0)
        return rc;
    ep_store *st = cli_store_open(a.db, 0);
    if (!st)
        return EXIT_FAIL;
    skip_report sr = {a.path, 0};
    a.opts.on_skip = report_skip;
    a.opts.ctx = &sr;
    if (!a.quiet && cli_tty())
        a.opts.on_progress = report_progress;
    ep_parse_error perr;
    ep_parse_stats pst;
    memset(&pst, 0, sizeof pst);
    ep_trace_meta out;
    int err = ep_trace_import_file(st, a.path, &a.opts, &meta, a.replace, &perr, &pst, &out);
    if (a.opts.on_progress && pst.rows >= (1L << 20))
        fputc('\n', stderr); /* end the progress line */
    rc = import_report(&a, st, &meta, err, &perr, &pst, &out);
    ep_store_close(st);
    return rc;
}

/* --- gen -------------------------------------------------------------------------- */

static const char gen_help[] =
        "usage: epara trace gen [options] --name NAME\n"
        "\n"
        "Generates a synthetic trace (GSL, seeded; arrivals and sizes use separate streams).\n"
        "\n"
        "  --db DB            trace database (default " DEFAULT_DB ")\n"
        "  --name NAME        trace name (required)\n"
        "  --kind K           poisson (default) | gamma | mmpp | video\n"
        "  --rate R           requests/s (mmpp: rate while on)            [default 1]\n"
        "  --duration S       seconds of arrivals                          [default 60]\n"
        "  --cv C             gamma: inter-arrival coefficient of variation [default 1]\n"
        "  --off-rate R       mmpp: requests/s while off                   [default 0]\n"
        "  --on-s S           mmpp/video: mean on period, s (video 0 = always on)\n"
        "  --off-s S          mmpp/video: mean off period, s\n"
        "  --cameras N        video: number of camera streams              [default 1]\n"
        "  --fps F            video: frames per second per camera          [default 30]\n"
        "  --jitter-ms J      video: frame time jitter (sd), ms            [default 0]\n"
        "  --frame-bytes B    video: bytes per frame (input size)          [default 200000]\n"
        "  --sizes SPEC       input/output sizes:\n"
        "                       fixed:IN,OUT\n"
        "                       lognormal:MU_IN,SIGMA_IN,MU_OUT,SIGMA_OUT[,MAX_IN,MAX_OUT]\n"
        "                         (MAX_*: integers in [1, 1e9]; larger draws become MAX_*,\n"
        "                         e.g. a context window or the real trace's maximum)\n"
        "                       fit:TRACE        (lognormal fitted to TRACE's sizes)\n"
        "                       resample:TRACE   ((input, output) pairs drawn from TRACE)\n"
        "  --seed N           seed (default 1)\n"
        "  --replace          overwrite an existing trace of that name\n"
        "  --quiet            print nothing on success\n";

static int
parse_sizes(ep_store *st, const char *spec, ep_gen_spec *g, int64_t **pin, int64_t **pout,
            char *params, size_t plen)
{
    const char *colon = strchr(spec, ':');
    if (!colon) {
        cli_err("--sizes: '%s' lacks 'mode:' (fixed, lognormal, fit, resample)", spec);
        return -1;
    }
    size_t ml = (size_t)(colon - spec);
    const char *arg = colon + 1;
    if (ml == 5 && strncmp(spec, "fixed", 5) == 0) {
        long long a, b;
        char tail;
        if (sscanf(arg, "%lld,%lld%c", &a, &b, &tail) != 2 || a < 0 || b < 0 ||
            a > EP_TRACE_MAX_SIZE || b > EP_TRACE_MAX_SIZE) {
            cli_err("--sizes fixed: expected IN,OUT as integers in [0, 1e9], got '%s'", arg);
            return -1;
        }
        g->sizes = EP_SIZES_FIXED;
        g->fixed_input = a;
        g->fixed_output = b;
        snprintf(params, plen, "\"mode\":\"fixed\",\"input\":%lld,\"output\":%lld", a, b);
        return 0;
    }
    if (ml == 9 && strncmp(spec, "lognormal", 9) == 0) {
        double v[6] = {0};
        char tail;
        int nv = sscanf(arg, "%lf,%lf,%lf,%lf,%lf,%lf%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                        &tail);
        /* Four numbers, or six: then the last two clip the input and output sizes. */
        int bad_clip = nv == 6 && (!(v[4] >= 1 && v[4] <= (double)EP_TRACE_MAX_SIZE) ||
                                   !(v[5] >= 1 && v[5] <= (double)EP_TRACE_MAX_SIZE) ||
                                   v[4] != floor(v[4]) || v[5] != floor(v[5]));
        if ((nv != 4 && nv != 6) || bad_clip || !(v[1] >= 0 && v[1] <= 25) ||
            !(v[3] >= 0 && v[3] <= 25) || !isfinite(v[0]) || !isfinite(v[2]) || v[0] > 25 ||
            v[2] > 25) {
            cli_err("--sizes lognormal: expected MU_IN,SIGMA_IN,MU_OUT,SIGMA_OUT (mu <= 25, "
                    "0 <= sigma <= 25), optionally then MAX_IN,MAX_OUT (integers in [1, 1e9]), "
                    "got '%s'",
                    arg);
            return -1;
        }
        g->sizes = EP_SIZES_LOGNORMAL;
        g->in_mu = v[0];
        g->in_sigma = v[1];
        g->out_mu = v[2];
        g->out_sigma = v[3];
        g->in_max = nv == 6 ? (int64_t)v[4] : 0;
        g->out_max = nv == 6 ? (int64_t)v[5] : 0;
        snprintf(params, plen,
                 "\"mode\":\"lognormal\",\"in_mu\":%g,\"in_sigma\":%g,\"out_mu\":%g,"
                 "\"out_sigma\":%g,\"in_max\":%lld,\"out_max\":%lld",
                 v[0], v[1], v[2], v[3], (long long)g->in_max, (long long)g->out_max);
        return 0;
    }
    int fit = ml == 3 && strncmp(spec, "fit", 3) == 0;
    int res = ml == 8 && strncmp(spec, "resample", 8) == 0;
    if (!fit && !res) {
        cli_err("--sizes: unknown mode '%.*s' (fixed, lognormal, fit, resample)", (int)ml, spec);
        return -1;
    }
    size_t n;
    int err = ep_trace_load_sizes(st, arg, pin, pout, &n);
    if (err) {
        cli_store_fail(st, "--sizes", arg, err);
        return -1;
    }
    if (res) {
        g->sizes = EP_SIZES_RESAMPLE;
        g->pool_input = *pin;
        g->pool_output = *pout;
        g->pool_len = n;
        snprintf(params, plen, "\"mode\":\"resample\",\"trace\":\"%s\"", arg);
        return 0;
    }
    if (ep_lognormal_fit(*pin, n, &g->in_mu, &g->in_sigma) ||
        ep_lognormal_fit(*pout, n, &g->out_mu, &g->out_sigma)) {
        cli_err("--sizes fit: trace '%s' lacks positive input and output sizes to fit", arg);
        return -1;
    }
    g->sizes = EP_SIZES_LOGNORMAL;
    snprintf(params, plen,
             "\"mode\":\"fit\",\"trace\":\"%s\",\"in_mu\":%.6g,\"in_sigma\":%.6g,"
             "\"out_mu\":%.6g,\"out_sigma\":%.6g",
             arg, g->in_mu, g->in_sigma, g->out_mu, g->out_sigma);
    return 0;
}

/* What `epara trace gen` was asked for. */
typedef struct gen_args {
    const char *db, *name, *sizes;
    int replace, quiet;
    double dur; /* seconds */
    ep_gen_spec g;
} gen_args;

/* Reads the options into *a (set to the defaults first) and checks them. Returns -1 to go
 * on, else the exit status (help, or a usage error, printed). */
static int
gen_parse(int argc, char **argv, gen_args *a)
{
    static const struct option longopts[] = {{"db", required_argument, NULL, 'd'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"kind", required_argument, NULL, 'k'},
                                             {"rate", required_argument, NULL, 'r'},
                                             {"duration", required_argument, NULL, 'D'},
                                             {"cv", required_argument, NULL, 'c'},
                                             {"off-rate", required_argument, NULL, 'o'},
                                             {"on-s", required_argument, NULL, 'O'},
                                             {"off-s", required_argument, NULL, 'F'},
                                             {"cameras", required_argument, NULL, 'C'},
                                             {"fps", required_argument, NULL, 'p'},
                                             {"jitter-ms", required_argument, NULL, 'j'},
                                             {"frame-bytes", required_argument, NULL, 'b'},
                                             {"sizes", required_argument, NULL, 'z'},
                                             {"seed", required_argument, NULL, 's'},
                                             {"replace", no_argument, NULL, 'R'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    a->db = DEFAULT_DB;
    a->dur = 60;
    ep_gen_spec *g = &a->g;
    ep_gen_spec_init(g);
    double frame_bytes = 200000;
    g->fixed_input = EP_TRACE_NONE;
    g->fixed_output = EP_TRACE_NONE;
    int have_frame_bytes = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        double cams;
        switch (c) {
        case 'd':
            a->db = optarg;
            break;
        case 'n':
            a->name = optarg;
            break;
        case 'k':
            if (ep_gen_kind_parse(optarg, &g->kind)) {
                cli_err("--kind: '%s' is not one of poisson, gamma, mmpp, video", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'r':
            bad = cli_double("--rate", optarg, 1e-9, 1e9, &g->rate_per_s);
            break;
        case 'D':
            bad = cli_double("--duration", optarg, 1e-6, 1e9, &a->dur);
            break;
        case 'c':
            bad = cli_double("--cv", optarg, 1e-6, 1e3, &g->cv);
            break;
        case 'o':
            bad = cli_double("--off-rate", optarg, 0, 1e9, &g->off_rate_per_s);
            break;
        case 'O':
            bad = cli_double("--on-s", optarg, 0, 1e9, &g->mean_on_s);
            break;
        case 'F':
            bad = cli_double("--off-s", optarg, 0, 1e9, &g->mean_off_s);
            break;
        case 'C':
            bad = cli_double("--cameras", optarg, 1, 1e6, &cams);
            g->cameras = (int)cams;
            if (!bad && cams != floor(cams)) {
                cli_err("--cameras: '%s' is not an integer", optarg);
                bad = 1;
            }
            break;
        case 'p':
            bad = cli_double("--fps", optarg, 1e-6, 1e6, &g->fps);
            break;
        case 'j':
            bad = cli_double("--jitter-ms", optarg, 0, 1e6, &g->jitter_ms);
            break;
        case 'b':
            bad = cli_double("--frame-bytes", optarg, 0, (double)EP_TRACE_MAX_SIZE, &frame_bytes);
            have_frame_bytes = 1;
            break;
        case 'z':
            a->sizes = optarg;
            break;
        case 's':
            bad = cli_u64("--seed", optarg, &g->seed);
            break;
        case 'R':
            a->replace = 1;
            break;
        case 'q':
            a->quiet = 1;
            break;
        case 'h':
            return cli_help_or_usage(1, gen_help);
        default:
            return cli_help_or_usage(0, gen_help);
        }
        if (bad)
            return EXIT_USAGE;
    }
    if (optind != argc) {
        cli_err("trace gen: unexpected argument '%s' (see --help)", argv[optind]);
        return EXIT_USAGE;
    }
    if (!a->name) {
        cli_err("trace gen: --name is required");
        return EXIT_USAGE;
    }
    if (ep_trace_name_check(a->name)) {
        cli_err("--name: '%s' is not a valid trace name (1-127 of A-Z a-z 0-9 . _ -)", a->name);
        return EXIT_USAGE;
    }
    if (have_frame_bytes && g->kind != EP_GEN_VIDEO) {
        cli_err("--frame-bytes applies only to --kind video");
        return EXIT_USAGE;
    }
    if (ep_dur_from_s(a->dur, &g->duration)) {
        cli_err("--duration: out of range");
        return EXIT_USAGE;
    }
    if (g->kind == EP_GEN_VIDEO)
        g->fixed_input = (int64_t)frame_bytes;
    return -1;
}

/* The generated trace's metadata: its name, format gen-KIND, and the generator's parameters
 * (sizes_params: the --sizes mode's, as JSON members) for a rerun. */
static void
gen_meta(const gen_args *a, const char *sizes_params, ep_trace_meta *meta)
{
    static const char *const kinds[] = {"poisson", "gamma", "mmpp", "video"};
    const ep_gen_spec *g = &a->g;
    memset(meta, 0, sizeof *meta);
    snprintf(meta->name, sizeof meta->name, "%s", a->name);
    snprintf(meta->format, sizeof meta->format, "gen-%s", kinds[g->kind]);
    snprintf(meta->license, sizeof meta->license, "synthetic (epara trace gen)");
    snprintf(meta->params, sizeof meta->params,
             "{\"kind\":\"%s\",\"seed\":%llu,\"rate_per_s\":%.17g,\"duration_s\":%.17g,"
             "\"cv\":%.17g,\"off_rate_per_s\":%.17g,\"mean_on_s\":%.17g,\"mean_off_s\":%.17g,"
             "\"cameras\":%d,\"fps\":%.17g,\"jitter_ms\":%.17g,\"sizes\":{%s}}",
             kinds[g->kind], (unsigned long long)g->seed, g->rate_per_s, a->dur, g->cv,
             g->off_rate_per_s, g->mean_on_s, g->mean_off_s, g->cameras, g->fps, g->jitter_ms,
             sizes_params);
    snprintf(meta->source, sizeof meta->source, "epara trace gen --kind %s --seed %llu",
             kinds[g->kind], (unsigned long long)g->seed);
}

static int
trace_gen(int argc, char **argv)
{
    gen_args a;
    int rc = gen_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    ep_gen_spec *g = &a.g;
    const char *name = a.name;
    ep_store *st = cli_store_open(a.db, 0);
    if (!st)
        return EXIT_FAIL;
    int64_t *pin = NULL, *pout = NULL;
    char sizes_params[512] = "\"mode\":\"none\"";
    rc = EXIT_USAGE;
    if (a.sizes && parse_sizes(st, a.sizes, g, &pin, &pout, sizes_params, sizeof sizes_params))
        goto done;
    if (g->kind == EP_GEN_VIDEO && g->sizes == EP_SIZES_FIXED && !a.sizes)
        snprintf(sizes_params, sizeof sizes_params, "\"mode\":\"fixed\",\"input\":%lld",
                 (long long)g->fixed_input);
    ep_trace_meta meta;
    gen_meta(&a, sizes_params, &meta);
    ep_trace_writer *w;
    int err = ep_trace_writer_begin(st, &meta, a.replace, &w);
    if (err) {
        rc = cli_store_fail(st, "trace gen", name, err);
        goto done;
    }
    ep_trace_writer_set_origin(w, 0);
    char msg[256] = "";
    err = ep_trace_generate(g, ep_trace_writer_sink, w, msg, sizeof msg);
    if (err) {
        ep_trace_writer_abort(w);
        if (err == EP_EINVAL) {
            cli_err("trace gen: %s", msg);
            rc = EXIT_USAGE;
        } else {
            rc = cli_store_fail(st, "trace gen", name, err);
        }
        goto done;
    }
    ep_trace_meta out;
    err = ep_trace_writer_commit(w, &out);
    if (err) {
        rc = cli_store_fail(st, "trace gen", name, err);
        goto done;
    }
    if (!a.quiet)
        cli_print_written(&out, "generated");
    rc = EXIT_OK;
done:
    free(pin);
    free(pout);
    ep_store_close(st);
    return rc;
}

static const cli_cmd trace_cmds[] = {
        {"import", "import a trace file (azure-llm, alibaba-gentd, azure-functions, csv, jsonl)",
         trace_import},
        {"gen", "generate a synthetic trace (poisson, gamma, mmpp, video)", trace_gen},
        {"info", "statistics of a trace (--json for machines)", trace_info},
        {"list", "list the traces in a database", trace_list},
        {"export", "write a trace as CSV or JSON lines", trace_export},
        {"rm", "delete a trace", trace_rm},
        {"scale", "derive a trace by rate/time scaling and time slicing", trace_scale},
        {"slice", "the same as scale: keep arrivals in [--from, --to)", trace_scale},
        {"spread", "spread quantized arrivals over their buckets (seeded)", trace_spread},
        {"merge", "merge traces onto services", trace_merge},
};

int
cmd_trace(int argc, char **argv)
{
    return cli_dispatch("trace", trace_cmds, EP_ARRAY_LEN(trace_cmds), argc, argv);
}
