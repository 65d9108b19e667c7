/* `epara profile`: measures one service with an engine on this machine (DNN batch latency by
 * batch size; LLM prefill latency by prompt length and decode step latency by batch at a
 * reference context) and writes the medians into the `profiles` table of a database, which
 * the simulator reads ahead of the scenario's tables when given that database as --trace-db.
 * Rows of one (service, device) are replaced in one transaction: a table is whole or absent.
 * `epara profile import` (cmd_profile_import.c) writes such a table from published profiles. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "epara/exec/engine.h"
#include "epara/core/error.h"
#include "epara/experiments/prepare.h"
#include "epara/core/profile.h"
#include "epara/experiments/scenario.h"
#include "cpus.h"
#include "util.h"

static const char help[] =
        "usage: epara profile --engine KIND --service NAME [options]\n"
        "       epara profile import --format vidur DIR --service NAME --device SPEC [options]\n"
        "\n"
        "Measures one service of a scenario with an engine on this machine and writes its\n"
        "profile table into the `profiles` table of --out. DNN services: the latency of one\n"
        "batch per --batches size. LLM services: a lone prefill per --tokens prompt length,\n"
        "and one decode step per --batches size with each sequence holding --ctx-ref tokens\n"
        "of context. Each point is the median of --repeat timed runs after one warm-up run.\n"
        "\n"
        "The simulator uses the table when it opens that database as its trace database:\n"
        "  epara profile --engine cpu --scenario S.yaml --service llama-1b --out prof.db\n"
        "  epara sim --scenario S.yaml --trace-db prof.db   # 'N measured profile tables ...'\n"
        "(or write into the scenario's own run.trace_db with --out). Measured tables take\n"
        "precedence over the scenario's tables and the estimate for that (service, device).\n"
        "\n"
        "'epara profile import' writes such a table from published GPU kernel profiles instead\n"
        "of measuring: Vidur's mlp.csv (MLSys 2024) of an LLM on a GPU, plus the cost model's\n"
        "attention and the device's batch_overhead ('epara profile import --help').\n"
        "\n"
        "  --engine KIND      emulated (sleeps the scenario's cost-model estimate: checks the\n"
        "                     timing loop), cpu (real FP32 compute on a small stand-in model,\n"
        "                     see --llm-shape and --dnn-shape) or cuda (when built) (required)\n"
        "  --scenario FILE    scenario YAML (default: the embedded edge-default scenario)\n"
        "  --service NAME     the service to measure (required)\n"
        "  --device SPEC      device class the rows are stored under (default: the class of\n"
        "                     the scenario's first device)\n"
        "  --batches LIST     DNN batch sizes, or LLM decode batch sizes, e.g. 1,2,4,8\n"
        "                     (default: powers of 2 up to the service's max_batch; LLM: to 64)\n"
        "  --tokens LIST      LLM prompt lengths (default: 16,32,...,1024, below the shape's\n"
        "                     max_seq_len)\n"
        "  --ctx-ref N        LLM context tokens per sequence of a decode step (default 256)\n"
        "  --repeat N         timed runs per point, 1..1000 (default 5)\n"
        "  --seed N           weights, prompt tokens and images (default 1)\n"
        "  --threads N        cpu: BLAS threads (default: OpenBLAS's choice)\n"
        "  --cpus LIST        measure pinned to these CPUs (as 0,2-3): the conditions of a\n"
        "                     testbed node run with `--cpus`\n"
        "  --llm-shape SHAPE  cpu: the stand-in decoder of LLM services, KEY=VALUE,... of dim,\n"
        "                     hidden, layers, heads, kv_heads, vocab, seq, theta, tied\n"
        "                     (default dim=256,hidden=768,layers=4,heads=8,kv_heads=4,\n"
        "                     vocab=512,seq=2048)\n"
        "  --dnn-shape SHAPE  cpu: the segmentation net of DNN services, KEY=VALUE,... of\n"
        "                     channels, width, classes, side (default channels=3,width=16,\n"
        "                     classes=21,side=128)\n"
        "  --checkpoint FILE  cpu: run this llama2.c checkpoint instead of the stand-in\n"
        "  --out DB           database to write (default profiles.db; created with the trace\n"
        "                     store's schema); earlier rows of this service and device go\n"
        "  --dry-run          measure and print, write nothing\n"
        "  --quiet            no progress line on stderr\n"
        "\n"
        "Lists are comma-separated positive integers, at most 32 each (sorted, duplicates\n"
        "dropped). A cpu engine clamps prompts longer than its shape's max_seq_len (it\n"
        "computes their last max_seq_len tokens).\n";

#define MAX_POINTS EP_PROFILE_POINTS

/* Option defaults and bounds (see help). */
#define DEFAULT_OUT     "profiles.db"
#define REPEAT_DEFAULT  5    /* --repeat: timed runs per point */
#define REPEAT_MAX      1000 /* --repeat: at most */
#define CTX_REF_DEFAULT 256  /* --ctx-ref: context tokens per sequence of a decode step */
#define THREADS_MAX     1024 /* --threads: at most this many BLAS threads */
/* Without --batches, LLM decode batches are the powers of two up to the service's max_batch
 * but at most this. */
#define DECODE_BATCH_DEFAULT_MAX 64
/* Without --tokens, the prompt lengths are the powers of two from PROMPT_DEFAULT_MIN to
 * PROMPT_DEFAULT_MAX, or to half the model's max_seq_len when that is not above it. */
#define PROMPT_DEFAULT_MIN 16
#define PROMPT_DEFAULT_MAX 1024
/* Room for an engine's or the store's message. */
#define MSG_MAX 512
/* Room for an int64 printed in decimal with its sign and terminating NUL. */
#define I64_TEXT_MAX 24
/* Room beyond the engine's description for the "epara profile: " prefix of a row's source. */
#define SOURCE_PREFIX_MAX 32

typedef struct point {
    const char *kind; /* "dnn", "prefill", "decode" */
    int64_t x;
    int64_t ctx_ref; /* decode only, else 0 */
    ep_dur median, lo, hi, model;
} point;

typedef struct prof {
    const ep_scenario *sc;
    ep_engine_inst *inst;
    int svc, spec, repeat, progress, done, total;
    ep_dur *runs;
} prof;

/* "a,b,c" into sorted distinct values in [1, hi], at most a profile table's points. */
static int
parse_list(const char *opt, const char *text, int64_t hi, int64_t *out)
{
    return cli_i64_list(opt, text, hi, out, MAX_POINTS);
}

/* Powers of two from 1 to hi (at least {1}). */
static int
powers_to(int64_t lo, int64_t hi, int64_t *out)
{
    int n = 0;
    for (int64_t v = lo; v <= hi && n < MAX_POINTS; v *= 2)
        out[n++] = v;
    if (n == 0)
        out[n++] = hi > 0 ? hi : 1;
    return n;
}

static int
cmp_dur(const void *a, const void *b)
{
    ep_dur x = *(const ep_dur *)a, y = *(const ep_dur *)b;
    return (x > y) - (x < y);
}

/* Median (mean of the middle two for even counts), min and max of runs[0..n). */
static void
summarize(ep_dur *runs, int n, point *pt)
{
    qsort(runs, (size_t)n, sizeof *runs, cmp_dur);
    pt->median = n % 2 ? runs[n / 2] : runs[n / 2 - 1] + (runs[n / 2] - runs[n / 2 - 1]) / 2;
    pt->lo = runs[0];
    pt->hi = runs[n - 1];
}

static void
progress(prof *p, const char *what, int64_t x)
{
    p->done++;
    if (p->progress)
        fprintf(stderr, "\rprofile: %s %lld (%d/%d)   ", what, (long long)x, p->done, p->total);
}

static int
engine_fail(const char *what, int err)
{
    cli_err("profile: %s: %s", what, ep_strerror(err));
    return -1;
}

static int
measure_dnn(prof *p, int64_t batch, point *pt)
{
    ep_dur est = ep_cost_dnn_batch(p->sc, p->svc, p->spec, (int)batch), took;
    for (int r = -1; r < p->repeat; r++) {
        int err = ep_engine_dnn_batch(p->inst, (int)batch, est, &took);
        if (err)
            return engine_fail("DNN batch", err);
        if (r >= 0)
            p->runs[r] = took;
    }
    *pt = (point){.kind = "dnn", .x = batch, .model = est};
    summarize(p->runs, p->repeat, pt);
    progress(p, "dnn batch", batch);
    return 0;
}

static int
measure_prefill(prof *p, int64_t tokens, point *pt)
{
    ep_dur est = ep_cost_llm_prefill(p->sc, p->svc, p->spec, tokens), took;
    ep_engine_work w = {.slot = 0, .tokens = (int)tokens, .decode = 0};
    for (int r = -1; r < p->repeat; r++) {
        ep_engine_llm_release(p->inst, 0);
        int err = ep_engine_llm_iter(p->inst, &w, 1, est, &took);
        if (err)
            return engine_fail("prefill", err);
        if (r >= 0)
            p->runs[r] = took;
    }
    ep_engine_llm_release(p->inst, 0);
    *pt = (point){.kind = "prefill", .x = tokens, .model = est};
    summarize(p->runs, p->repeat, pt);
    progress(p, "prefill tokens", tokens);
    return 0;
}

/* Decode steps of `batch` sequences, each prefilled (untimed, unslept) to ctx_ref tokens;
 * the context grows by one token per step, from ctx_ref to ctx_ref + repeat. */
static int
measure_decode(prof *p, int64_t batch, int64_t ctx_ref, ep_engine_work *w, point *pt)
{
    ep_dur est = ep_cost_llm_decode(p->sc, p->svc, p->spec, (int)batch, batch * ctx_ref), took;
    int err = 0;
    for (int s = 0; s < (int)batch && !err; s++) {
        ep_engine_llm_release(p->inst, s);
        ep_engine_work pre = {.slot = s, .tokens = (int)ctx_ref, .decode = 0};
        err = ep_engine_llm_iter(p->inst, &pre, 1, 0, &took);
        w[s] = (ep_engine_work){.slot = s, .tokens = 1, .decode = 1};
    }
    for (int r = -1; r < p->repeat && !err; r++) {
        err = ep_engine_llm_iter(p->inst, w, (int)batch, est, &took);
        if (!err && r >= 0)
            p->runs[r] = took;
    }
    for (int s = 0; s < (int)batch; s++)
        ep_engine_llm_release(p->inst, s);
    if (err)
        return engine_fail("decode", err);
    *pt = (point){.kind = "decode", .x = batch, .ctx_ref = ctx_ref, .model = est};
    summarize(p->runs, p->repeat, pt);
    progress(p, "decode batch", batch);
    return 0;
}

/* Replaces the rows of (service, device) with pts in one transaction (ep_profiles_replace). */
static int
store_points(const char *path, const char *svc, const char *dev, const char *source,
             const point *pts, int n)
{
    ep_profile_row rows[2 * MAX_POINTS];
    EP_ASSERT(n <= 2 * MAX_POINTS);
    for (int i = 0; i < n; i++)
        rows[i] = (ep_profile_row){.kind = pts[i].kind,
                                   .x = pts[i].x,
                                   .ctx_ref = pts[i].ctx_ref,
                                   .latency = pts[i].median};
    ep_store *st = cli_store_open(path, 0);
    if (!st)
        return -1;
    char err[MSG_MAX];
    int rc = ep_profiles_replace(st, svc, dev, source, rows, n, err, sizeof err);
    if (rc)
        cli_err("profile: %s: %s", path, err);
    ep_store_close(st);
    return rc ? -1 : 0;
}

static int
load_scenario(const char *path, ep_scenario *sc)
{
    ep_parse_error perr;
    int err;
    if (path) {
        err = ep_scenario_load_file(path, sc, &perr);
    } else {
        size_t len;
        const char *text = ep_scenario_default_text(&len);
        err = ep_scenario_load_text(text, len, "edge-default", ".", sc, &perr);
    }
    if (!err)
        return EXIT_OK;
    const char *name = path ? path : "edge-default (embedded)";
    if (perr.line > 0)
        fprintf(stderr, "%s:%ld: %s\n", name, perr.line, perr.msg);
    else
        fprintf(stderr, "%s: %s\n", name, perr.msg[0] ? perr.msg : ep_strerror(err));
    return err == EP_ENOMEM ? EXIT_FAIL : EXIT_USAGE;
}

/* The options of one `epara profile` run (parse_args). */
typedef struct prof_args {
    const char *scen, *svcname, *devname, *outp;
    const char *batches_txt, *tokens_txt, *engine_txt;
    int64_t repeat, ctx_ref, threads;
    int dry, quiet, ctx_set;
    ep_engine_opts eo;
    int cpus[CLI_CPUS_MAX], ncpus;
} prof_args;

/* What is measured: the service, the device class and the points' x values (pick_target,
 * pick_prompts). */
typedef struct target {
    const ep_service *sv;
    int svc, spec, llm;
    int64_t batches[MAX_POINTS], tokens[MAX_POINTS];
    int nb, nt;
} target;

/* Parses the options into a and checks that no operand is left (check_args checks the
 * rest). Returns 0, -1 after printing --help, or an exit status after printing the problem. */
static int
parse_args(int argc, char **argv, prof_args *a)
{
    static const struct option longopts[] = {{"engine", required_argument, NULL, 'e'},
                                             {"scenario", required_argument, NULL, 's'},
                                             {"service", required_argument, NULL, 'v'},
                                             {"device", required_argument, NULL, 'd'},
                                             {"batches", required_argument, NULL, 'b'},
                                             {"tokens", required_argument, NULL, 't'},
                                             {"ctx-ref", required_argument, NULL, 'c'},
                                             {"repeat", required_argument, NULL, 'r'},
                                             {"seed", required_argument, NULL, 'S'},
                                             {"threads", required_argument, NULL, 'j'},
                                             {"cpus", required_argument, NULL, 'P'},
                                             {"llm-shape", required_argument, NULL, 'L'},
                                             {"dnn-shape", required_argument, NULL, 'D'},
                                             {"checkpoint", required_argument, NULL, 'k'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    a->outp = DEFAULT_OUT;
    a->repeat = REPEAT_DEFAULT;
    a->ctx_ref = CTX_REF_DEFAULT;
    ep_engine_opts_default(&a->eo);
    char msg[MSG_MAX];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'e':
            a->engine_txt = optarg;
            if (ep_engine_kind_parse(optarg, &a->eo.kind)) {
                cli_err("--engine: '%s' is not one of emulated, cpu, cuda", optarg);
                return EXIT_USAGE;
            }
            break;
        case 's':
            a->scen = optarg;
            break;
        case 'v':
            a->svcname = optarg;
            break;
        case 'd':
            a->devname = optarg;
            break;
        case 'b':
            a->batches_txt = optarg;
            break;
        case 't':
            a->tokens_txt = optarg;
            break;
        case 'c':
            bad = cli_i64("--ctx-ref", optarg, 1, EP_ENGINE_TOKENS_MAX, &a->ctx_ref);
            a->ctx_set = 1;
            break;
        case 'r':
            bad = cli_i64("--repeat", optarg, 1, REPEAT_MAX, &a->repeat);
            break;
        case 'S':
            bad = cli_u64("--seed", optarg, &a->eo.seed);
            break;
        case 'j':
            bad = cli_i64("--threads", optarg, 1, THREADS_MAX, &a->threads);
            a->eo.threads = (int)a->threads;
            break;
        case 'P':
            a->ncpus = cli_cpus_parse("--cpus", optarg, a->cpus, CLI_CPUS_MAX);
            bad = a->ncpus < 0;
            break;
        case 'L':
            if (ep_engine_llm_shape_parse(optarg, &a->eo.llm, msg, sizeof msg)) {
                cli_err("--llm-shape: %s", msg);
                return EXIT_USAGE;
            }
            break;
        case 'D':
            if (ep_engine_dnn_shape_parse(optarg, &a->eo.seg, &a->eo.seg_side, msg, sizeof msg)) {
                cli_err("--dnn-shape: %s", msg);
                return EXIT_USAGE;
            }
            break;
        case 'k':
            a->eo.checkpoint = optarg;
            break;
        case 'o':
            a->outp = optarg;
            break;
        case 'n':
            a->dry = 1;
            break;
        case 'q':
            a->quiet = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return -1;
        default:
            fputs(help, stderr);
            return EXIT_USAGE;
        }
        if (bad)
            return EXIT_USAGE;
    }
    if (optind != argc) {
        cli_err("profile: unexpected argument '%s' (see --help)", argv[optind]);
        return EXIT_USAGE;
    }
    return 0;
}

/* Checks that the required options are there and the engine is available. Returns 0 or
 * EXIT_USAGE after printing the problem. */
static int
check_args(const prof_args *a)
{
    if (!a->engine_txt || !a->svcname) {
        cli_err("profile: --engine and --service are required (see --help)");
        return EXIT_USAGE;
    }
    if (!ep_engine_kind_available(a->eo.kind)) {
        cli_err("--engine: %s engine not available (not built into this epara, or no CUDA "
                "device)",
                a->engine_txt);
        return EXIT_USAGE;
    }
    return 0;
}

/* Finds the service and the device class in sc and the batch sizes to measure; refuses
 * prompt options for a DNN service and makes room for the largest decode batch in a->eo.
 * Returns 0 or EXIT_USAGE after printing the problem. */
static int
pick_target(const ep_scenario *sc, prof_args *a, target *t)
{
    memset(t, 0, sizeof *t);
    t->svc = ep_scenario_find_service(sc, a->svcname);
    if (t->svc < 0) {
        cli_err("--service: no service '%s' in %s", a->svcname, sc->name);
        return EXIT_USAGE;
    }
    t->spec = -1;
    if (a->devname)
        t->spec = ep_scenario_find_spec(sc, a->devname);
    else if (sc->ndevices > 0)
        t->spec = sc->devices[0].spec;
    if (t->spec < 0) {
        cli_err("--device: no device class '%s' in %s", a->devname ? a->devname : "(any)",
                sc->name);
        return EXIT_USAGE;
    }
    t->sv = &sc->services[t->svc];
    t->llm = t->sv->kind == EP_SVC_LLM;
    /* Without --batches: powers of two to max_batch (LLM: at most DECODE_BATCH_DEFAULT_MAX). */
    int64_t max_batch = t->sv->max_batch;
    if (t->llm && max_batch > DECODE_BATCH_DEFAULT_MAX)
        max_batch = DECODE_BATCH_DEFAULT_MAX;
    if (a->batches_txt)
        t->nb = parse_list("--batches", a->batches_txt,
                           t->llm ? EP_ENGINE_SLOTS_MAX : EP_ENGINE_BATCH_MAX, t->batches);
    else
        t->nb = powers_to(1, max_batch, t->batches);
    if (t->nb < 0)
        return EXIT_USAGE;
    if (!t->llm && (a->tokens_txt || a->ctx_set)) {
        cli_err("%s: %s is a DNN service (no prompts)", a->tokens_txt ? "--tokens" : "--ctx-ref",
                a->svcname);
        return EXIT_USAGE;
    }
    if (t->llm && t->batches[t->nb - 1] > a->eo.llm_slots)
        a->eo.llm_slots = (int)t->batches[t->nb - 1];
    return 0;
}

/* Opens the engine and loads the service on it (*eng and *inst are set as far as that went,
 * for the caller to release). Returns 0 or an exit status after printing the problem. */
static int
open_engine(const ep_scenario *sc, const prof_args *a, const target *t, ep_engine **eng,
            ep_engine_inst **inst)
{
    char msg[MSG_MAX];
    /* Before the engine starts its threads, which inherit the CPUs. */
    if (cli_cpus_pin("--cpus", a->cpus, a->ncpus))
        return EXIT_FAIL;
    int err = ep_engine_open(sc, &a->eo, eng, msg, sizeof msg);
    if (err) {
        cli_err("profile: %s", msg);
        return err == EP_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    err = ep_engine_load(*eng, t->svc, t->spec, inst, msg, sizeof msg);
    if (err) {
        cli_err("profile: %s", msg);
        return err == EP_ENOMEM || err == EP_EIO ? EXIT_FAIL : EXIT_USAGE;
    }
    return 0;
}

/* LLM services: the prompt lengths to measure (below the loaded model's max_seq_len by
 * default), and a check that --ctx-ref fits the model. Returns 0 or EXIT_USAGE after
 * printing the problem. */
static int
pick_prompts(const prof_args *a, ep_engine_inst *inst, target *t)
{
    if (!t->llm)
        return 0;
    int maxtok = ep_engine_llm_max_tokens(inst);
    if (a->tokens_txt) {
        t->nt = parse_list("--tokens", a->tokens_txt, EP_ENGINE_TOKENS_MAX, t->tokens);
    } else {
        t->nt = powers_to(PROMPT_DEFAULT_MIN,
                          maxtok > 0 && maxtok <= PROMPT_DEFAULT_MAX ? maxtok / 2
                                                                     : PROMPT_DEFAULT_MAX,
                          t->tokens);
    }
    if (t->nt < 0 || (maxtok > 0 && a->ctx_ref >= maxtok)) {
        if (t->nt >= 0)
            cli_err("--ctx-ref: %lld must be below the model's max_seq_len %d",
                    (long long)a->ctx_ref, maxtok);
        return EXIT_USAGE;
    }
    return 0;
}

/* Measures every point of t into pts: the prompts, then the batches. Sets *np to the points
 * measured (or begun). Returns 0, or -1 after printing an engine's failure. */
static int
measure_points(prof *p, const target *t, int64_t ctx_ref, ep_engine_work *work, point *pts, int *np)
{
    for (int i = 0; i < t->nt; i++)
        if (measure_prefill(p, t->tokens[i], &pts[(*np)++]))
            return -1;
    for (int i = 0; i < t->nb; i++)
        if (t->llm ? measure_decode(p, t->batches[i], ctx_ref, work, &pts[(*np)++])
                   : measure_dnn(p, t->batches[i], &pts[(*np)++]))
            return -1;
    if (p->progress)
        fputs("\r\033[K", stderr);
    return 0;
}

/* Prints the profile table: a heading line, then one row per point, times in ms. */
static void
print_points(const char *svc, const char *dev, const char *what, int repeat, const point *pts,
             int np)
{
    printf("profile: %s on %s, engine %s (median of %d runs)\n", svc, dev, what, repeat);
    printf("%-8s %8s %8s %12s %12s %12s %12s\n", "kind", "x", "ctx_ref", "median_ms", "min_ms",
           "max_ms", "model_ms");
    for (int i = 0; i < np; i++) {
        char ctx[I64_TEXT_MAX] = "-";
        if (pts[i].ctx_ref > 0)
            snprintf(ctx, sizeof ctx, "%lld", (long long)pts[i].ctx_ref);
        printf("%-8s %8lld %8s %12.4f %12.4f %12.4f %12.4f\n", pts[i].kind, (long long)pts[i].x,
               ctx, ep_dur_to_s(pts[i].median) * 1e3, ep_dur_to_s(pts[i].lo) * 1e3,
               ep_dur_to_s(pts[i].hi) * 1e3, ep_dur_to_s(pts[i].model) * 1e3);
    }
}

/* Writes the points into --out (nothing with --dry-run) and says so. Returns an exit
 * status. */
static int
write_points(const prof_args *a, const char *svc, const char *dev, const char *what,
             const point *pts, int np)
{
    if (a->dry) {
        printf("dry run: nothing written\n");
        return EXIT_OK;
    }
    char source[EP_ENGINE_SHAPE_MAX + SOURCE_PREFIX_MAX];
    snprintf(source, sizeof source, "epara profile: %s", what);
    if (store_points(a->outp, svc, dev, source, pts, np))
        return EXIT_FAIL;
    printf("wrote %d rows into %s (service %s, device %s); use them with "
           "'epara sim --trace-db %s'\n",
           np, a->outp, svc, dev, a->outp);
    return EXIT_OK;
}

int
cmd_profile(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "import") == 0)
        return cmd_profile_import(argc - 1, argv + 1);
    prof_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if ((rc = check_args(&a)) != 0)
        return rc;

    /* An output that cannot be written fails now, not after the measurements. */
    if (!a.dry && cli_out_check("--out", a.outp))
        return EXIT_USAGE;
    ep_scenario sc;
    rc = load_scenario(a.scen, &sc);
    if (rc)
        return rc;
    ep_engine *eng = NULL;
    ep_engine_inst *inst = NULL;
    ep_engine_work *work = NULL;
    point *pts = NULL;
    prof p;
    memset(&p, 0, sizeof p);
    target t;
    if ((rc = pick_target(&sc, &a, &t)) != 0 || (rc = open_engine(&sc, &a, &t, &eng, &inst)) != 0 ||
        (rc = pick_prompts(&a, inst, &t)) != 0)
        goto done;
    rc = EXIT_FAIL;
    pts = calloc((size_t)(t.nb + t.nt), sizeof *pts);
    p.runs = calloc((size_t)a.repeat, sizeof *p.runs);
    work = t.llm ? calloc((size_t)t.batches[t.nb - 1], sizeof *work) : NULL;
    if (!pts || !p.runs || (t.llm && !work)) {
        cli_err("profile: out of memory");
        goto done;
    }
    p.sc = &sc;
    p.inst = inst;
    p.svc = t.svc;
    p.spec = t.spec;
    p.repeat = (int)a.repeat;
    p.progress = !a.quiet && cli_tty();
    p.total = t.nb + t.nt;
    char what[EP_ENGINE_SHAPE_MAX];
    ep_engine_inst_describe(inst, what, sizeof what);
    int np = 0;
    if (measure_points(&p, &t, a.ctx_ref, work, pts, &np))
        goto done;
    const char *dev = sc.specs[t.spec].name;
    print_points(t.sv->name, dev, what, p.repeat, pts, np);
    rc = write_points(&a, t.sv->name, dev, what, pts, np);
done:
    if (p.progress && rc != EXIT_OK)
        fputc('\n', stderr);
    free(work);
    free(p.runs);
    free(pts);
    ep_engine_unload(inst);
    ep_engine_close(eng);
    ep_scenario_fini(&sc);
    return rc;
}
