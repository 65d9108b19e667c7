/* `epara bench`: measures epara's own speed. `bench trace` writes an Azure-LLM-format CSV
 * of N rows, then times parse only, import (parse + SQLite insert + commit) and streamed
 * read-back, and reports rows/s. Numbers are measurements, never asserted by tests. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "epara/core/error.h"
#include "epara/experiments/prepare.h"
#include "epara/core/rng.h"
#include "epara/experiments/scenario.h"
#include "epara/sim/sim.h"
#include "epara/traces/store.h"
#include "util.h"

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Writes n rows like the Azure LLM 2023 code trace: Poisson arrivals at 1000 req/s,
 * lognormal sizes; the last line has no newline, as in the real files. */
static int
write_csv(const char *path, int64_t n, uint64_t seed)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        cli_err("%s: cannot create", path);
        return -1;
    }
    static char buf[1 << 20];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    ep_rng ra, rs;
    if (ep_rng_init(&ra, seed, EP_STREAM_ARRIVALS) || ep_rng_init(&rs, seed, EP_STREAM_SIZES)) {
        fclose(f);
        return -1;
    }
    fputs("TIMESTAMP,ContextTokens,GeneratedTokens\n", f);
    ep_time t;
    ep_time_parse_datetime("2023-11-16 18:00:00", 19, &t);
    double acc_ns = 0;
    for (int64_t i = 0; i < n; i++) {
        acc_ns += ep_rng_exponential(&ra, 1e6); /* mean 1 ms */
        ep_time at = t + (ep_time)acc_ns / 100 * 100;
        char dt[EP_DATETIME_BUFLEN];
        ep_time_format_datetime(at, dt);
        dt[27] = '\0'; /* 7 fractional digits: 100 ns ticks */
        long in = (long)(ep_rng_lognormal(&rs, 7.0, 1.0) + 1);
        long out = (long)(ep_rng_lognormal(&rs, 3.0, 1.2) + 1);
        if (in > 100000)
            in = 100000;
        if (out > 100000)
            out = 100000;
        fprintf(f, "%s,%ld,%ld%s", dt, in, out, i + 1 < n ? "\n" : "");
    }
    ep_rng_fini(&ra);
    ep_rng_fini(&rs);
    return fclose(f) == 0 ? 0 : -1;
}

static int
count_sink(void *ctx, const ep_trace_row *row, long line)
{
    (void)line;
    int64_t *sum = ctx;
    *sum += row->input;
    return 0;
}

/* `epara bench trace --help`. */
static const char bench_trace_help[] =
        "usage: epara bench trace [--rows N] [--dir DIR] [--keep] [--json]\n"
        "\n"
        "Writes an N-row Azure-LLM-format CSV (default 10,000,000) in DIR (default $TMPDIR\n"
        "or /tmp), then measures parse-only, import (parse + insert + commit, one\n"
        "transaction) and streamed read-back throughput in rows/s.\n";

/* What `epara bench trace` was asked for. */
typedef struct btrace_args {
    int64_t rows;
    const char *dir;
    int keep, as_json;
} btrace_args;

/* Reads the options into *a (set to the defaults first); -1 to go on, else the exit
 * status (help, or a usage error, printed). */
static int
bench_trace_parse(int argc, char **argv, btrace_args *a)
{
    static const struct option longopts[] = {
            {"rows", required_argument, NULL, 'n'}, {"dir", required_argument, NULL, 'd'},
            {"keep", no_argument, NULL, 'k'},       {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    *a = (btrace_args){10000000, getenv("TMPDIR"), 0, 0};
    if (!a->dir || !*a->dir)
        a->dir = "/tmp";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (cli_i64("--rows", optarg, 1, INT64_C(1000000000), &a->rows))
                return EXIT_USAGE;
            break;
        case 'd':
            a->dir = optarg;
            break;
        case 'k':
            a->keep = 1;
            break;
        case 'j':
            a->as_json = 1;
            break;
        case 'h':
            fputs(bench_trace_help, stdout);
            return EXIT_OK;
        default:
            fputs(bench_trace_help, stderr);
            return EXIT_USAGE;
        }
    }
    return -1;
}

/* The timings of `epara bench trace`, in seconds, and the CSV's size. */
typedef struct btrace_times {
    double write, parse, import, read, mb;
} btrace_times;

/* Parse only: the pure parser over the mapped file csv, rows discarded; *sum gets the sum
 * of the inputs. 0 or -1 (said). */
static int
bench_parse_only(const char *csv, const ep_parse_opts *po0, int64_t *sum, btrace_times *tm)
{
    int fd = open(csv, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    char *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return -1;
    ep_parse_opts po = *po0;
    *sum = 0;
    po.ctx = sum;
    ep_parse_error perr;
    fprintf(stderr, "bench trace: parsing ...\n");
    double t0 = now_s();
    int err = ep_trace_parse(map, (size_t)sb.st_size, &po, count_sink, &perr, NULL);
    tm->parse = now_s() - t0;
    tm->mb = (double)sb.st_size / 1e6;
    munmap(map, (size_t)sb.st_size);
    if (err) {
        cli_err("bench: parse failed at line %ld: %s", perr.line, perr.msg);
        return -1;
    }
    return 0;
}

/* Streamed read-back of trace "bench", checked against the rows written and their input
 * sum. 0 or -1 (said). */
static int
bench_read_back(ep_store *st, int64_t rows, int64_t sum, btrace_times *tm)
{
    fprintf(stderr, "bench trace: reading back ...\n");
    ep_trace_reader *r;
    double t0 = now_s();
    if (ep_trace_reader_open(st, "bench", 0, EP_TIME_MAX, &r))
        return -1;
    ep_trace_row row;
    int64_t n = 0, check = 0;
    while (ep_trace_reader_next(r, &row) == 1) {
        n++;
        check += row.input;
    }
    ep_trace_reader_close(r);
    tm->read = now_s() - t0;
    if (n != rows || check != sum) {
        cli_err("bench: read back %lld rows (sum %lld), expected %lld (sum %lld)", (long long)n,
                (long long)check, (long long)rows, (long long)sum);
        return -1;
    }
    return 0;
}

static void
bench_trace_print(const btrace_args *a, const btrace_times *tm)
{
    double rows = (double)a->rows;
    if (a->as_json) {
        printf("{\"rows\":%lld,\"csv_mb\":%.1f,\"write_s\":%.3f,\"parse_s\":%.3f,"
               "\"parse_rows_per_s\":%.0f,\"import_s\":%.3f,\"import_rows_per_s\":%.0f,"
               "\"read_s\":%.3f,\"read_rows_per_s\":%.0f}\n",
               (long long)a->rows, tm->mb, tm->write, tm->parse, rows / tm->parse, tm->import,
               rows / tm->import, tm->read, rows / tm->read);
        return;
    }
    printf("rows            %lld (CSV %.1f MB, written in %.2f s)\n", (long long)a->rows, tm->mb,
           tm->write);
    printf("parse only      %8.3f s  %12.0f rows/s  %7.1f MB/s\n", tm->parse, rows / tm->parse,
           tm->mb / tm->parse);
    printf("import          %8.3f s  %12.0f rows/s  (parse + insert + commit)\n", tm->import,
           rows / tm->import);
    printf("streamed read   %8.3f s  %12.0f rows/s\n", tm->read, rows / tm->read);
}

static int
bench_trace(int argc, char **argv)
{
    btrace_args a;
    int rc = bench_trace_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    char csv[4096], db[4096];
    snprintf(csv, sizeof csv, "%s/epara-bench-%ld.csv", a.dir, (long)getpid());
    snprintf(db, sizeof db, "%s/epara-bench-%ld.db", a.dir, (long)getpid());
    rc = EXIT_FAIL;
    ep_store *st = NULL;
    btrace_times tm = {0};
    fprintf(stderr, "bench trace: writing %lld rows to %s ...\n", (long long)a.rows, csv);
    double t0 = now_s();
    if (write_csv(csv, a.rows, 1))
        goto done;
    tm.write = now_s() - t0;
    ep_parse_opts po;
    memset(&po, 0, sizeof po);
    po.format = EP_FMT_AZURE_LLM;
    int64_t sum = 0;
    if (bench_parse_only(csv, &po, &sum, &tm) != 0 || !(st = cli_store_open(db, 0)))
        goto done;
    ep_trace_meta meta, out;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.name, sizeof meta.name, "bench");
    snprintf(meta.format, sizeof meta.format, "azure-llm");
    ep_parse_error perr;
    fprintf(stderr, "bench trace: importing ...\n");
    t0 = now_s();
    int err = ep_trace_import_file(st, csv, &po, &meta, 1, &perr, NULL, &out);
    tm.import = now_s() - t0;
    if (err) {
        cli_err("bench: import failed: %s (%s)", ep_strerror(err), perr.msg);
        goto done;
    }
    if (bench_read_back(st, a.rows, sum, &tm) != 0)
        goto done;
    bench_trace_print(&a, &tm);
    rc = EXIT_OK;
done:
    ep_store_close(st);
    if (!a.keep) {
        remove(csv);
        remove(db);
    } else {
        fprintf(stderr, "bench trace: kept %s and %s\n", csv, db);
    }
    return rc;
}

/* --- bench sim ------------------------------------------------------------------------ */

/* A 100-node edge cluster (20 GPU servers with 2 GPUs, 40 Jetson-class boards, 40
 * Raspberry-Pi-class nodes) with `nsvc` segmentation services, each fed by its own Poisson
 * trace, so that `requests` requests arrive in total over `dur_s` seconds. */
static char *
replay_yaml(int nodes, int nsvc, int64_t requests, double dur_s, const char *trace_db)
{
    size_t cap = 4096 + (size_t)nsvc * 512;
    char *y = malloc(cap);
    if (!y)
        return NULL;
    int servers = nodes / 5, jetsons = (nodes - servers) / 2, rpis = nodes - servers - jetsons;
    size_t off = (size_t)snprintf(
            y, cap,
            "name: bench-%d-nodes\n"
            "run: {seed: 1, warmup_s: 0, cooldown_s: 0, trace_db: \"%s\"}\n"
            "devices:\n"
            "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
            "  - {name: orin, kind: gpu, mem_gb: 32, mem_bw_gbps: 204.8, peak_tflops: 42}\n"
            "  - {name: rpi5, kind: cpu, mem_gb: 8, mem_bw_gbps: 17, peak_tflops: 0.15}\n"
            "nodes:\n"
            "  - {name: server, class: server, count: %d, cores: 32, mem_gb: 128,"
            " devices: [gpu, gpu], link: {bw_gbps: 10, latency_ms: 0.1}}\n"
            "  - {name: jetson, class: embedded, count: %d, cores: 12, mem_gb: 32,"
            " devices: [orin], link: {bw_gbps: 1, latency_ms: 0.5}}\n"
            "  - {name: rpi, class: micro, count: %d, cores: 4, mem_gb: 8,"
            " devices: [rpi5], link: {bw_gbps: 0.1, latency_ms: 3}}\n"
            "services:\n",
            nodes, trace_db, servers, jetsons, rpis);
    for (int i = 0; i < nsvc && off < cap; i++)
        off += (size_t)snprintf(y + off, cap - off,
                                "  - {name: seg-%d, kind: dnn, model: SegFormer-B2, params_m: 27.5,"
                                " gflops: 62, act_mb: 8, input_kb: 100, max_batch: 16,"
                                " slo: {deadline_ms: 200}}\n",
                                i);
    if (off < cap)
        off += (size_t)snprintf(y + off, cap - off, "workload:\n");
    double rate = (double)requests / dur_s / nsvc;
    for (int i = 0; i < nsvc && off < cap; i++)
        off += (size_t)snprintf(
                y + off, cap - off,
                "  - {trace: bench-%d, service: seg-%d, ingress: [server, jetson, rpi],"
                " generate: {kind: poisson, rate: %.6f, duration_s: %.3f, seed: %d}}\n",
                i, i, rate, dur_s, i + 1);
    if (off >= cap) {
        free(y);
        return NULL;
    }
    return y;
}

static double
peak_rss_bytes(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss * 1024.0;
}

/* Loads text as a scenario, prepares its traces in db, runs it; times in *prep_s, *res. */
static int
run_scenario_text(const char *text, const char *name, const char *db, const char *policy,
                  double *prep_s, ep_run_result *res)
{
    ep_scenario sc;
    ep_parse_error pe;
    if (ep_scenario_load_text(text, strlen(text), name, ".", &sc, &pe)) {
        cli_err("bench: %s:%ld: %s", name, pe.line, pe.msg);
        return -1;
    }
    ep_store *st = cli_store_open(db, 0);
    int rc = -1;
    char msg[1024];
    if (!st)
        goto done;
    double t0 = now_s();
    if (ep_scenario_prepare_traces(&sc, st, NULL, NULL, msg, sizeof msg)) {
        cli_err("bench: %s", msg);
        goto done;
    }
    *prep_s = now_s() - t0;
    ep_run_opts o;
    memset(&o, 0, sizeof o);
    o.traces = st;
    o.policy = policy;
    if (ep_sim_run(&sc, &o, res, msg, sizeof msg)) {
        cli_err("bench: %s", msg);
        goto done;
    }
    rc = 0;
done:
    ep_store_close(st);
    ep_scenario_fini(&sc);
    return rc;
}

static double
per_round(const ep_run_result *r)
{
    return r->placement_rounds > 0 ? r->place_time_s / (double)r->placement_rounds : 0;
}

/* `epara bench sim --help`. */
static const char bench_sim_help[] =
        "usage: epara bench sim [--events N] [--pending P] [--requests N] [--nodes N]\n"
        "                       [--services N] [--policy P] [--dir DIR] [--json]\n"
        "\n"
        "1. core: the event engine under the hold model (P pending events, N events;\n"
        "   default 10,000 and 20,000,000).\n"
        "2. replay: N generated requests (default 1,000,000) over 1,000 s on an N-node\n"
        "   cluster (default 100) with --services segmentation services (default 50),\n"
        "   under --policy (default static); wall time (trace generation excluded), peak\n"
        "   RSS, and the policy's placement time per round.\n"
        "3. default: the embedded default scenario end to end (traces prepared in DIR,\n"
        "   from ../shared/traces when present).\n";

/* What `epara bench sim` was asked for. */
typedef struct bsim_args {
    int64_t events, pending, requests, nodes, nsvc;
    const char *dir, *policy;
    int as_json;
} bsim_args;

/* Reads the options into *a (set to the defaults first); -1 to go on, else the exit
 * status (help, or a usage error, printed). */
static int
bench_sim_parse(int argc, char **argv, bsim_args *a)
{
    static const struct option longopts[] = {
            {"events", required_argument, NULL, 'e'},   {"pending", required_argument, NULL, 'p'},
            {"requests", required_argument, NULL, 'n'}, {"nodes", required_argument, NULL, 'N'},
            {"services", required_argument, NULL, 's'}, {"policy", required_argument, NULL, 'P'},
            {"dir", required_argument, NULL, 'd'},      {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    *a = (bsim_args){20000000, 10000, 1000000, 100, 50, getenv("TMPDIR"), "static", 0};
    if (!a->dir || !*a->dir)
        a->dir = "/tmp";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        if (c == 'P') {
            a->policy = optarg;
            if (!ep_policy_find(a->policy)) {
                cli_err("--policy: unknown policy '%s'", a->policy);
                return EXIT_USAGE;
            }
            continue;
        }
        switch (c) {
        case 'e':
            bad = cli_i64("--events", optarg, 1, INT64_C(10000000000), &a->events);
            break;
        case 'p':
            bad = cli_i64("--pending", optarg, 1, 100000000, &a->pending);
            break;
        case 'n':
            bad = cli_i64("--requests", optarg, 1, INT64_C(1000000000), &a->requests);
            break;
        case 'N':
            bad = cli_i64("--nodes", optarg, 5, 100000, &a->nodes);
            break;
        case 's':
            bad = cli_i64("--services", optarg, 1, 1000, &a->nsvc);
            break;
        case 'd':
            a->dir = optarg;
            break;
        case 'j':
            a->as_json = 1;
            break;
        case 'h':
            fputs(bench_sim_help, stdout);
            return EXIT_OK;
        default:
            fputs(bench_sim_help, stderr);
            return EXIT_USAGE;
        }
        if (bad)
            return EXIT_USAGE;
    }
    return -1;
}

/* Stage 2: the generated replay; its result, trace generation time and the peak RSS after
 * it. 0 or -1. */
static int
bench_sim_replay(const bsim_args *a, ep_run_result *rr, double *prep, double *rss)
{
    char db[4096];
    snprintf(db, sizeof db, "%s/epara-bench-sim-%ld.db", a->dir, (long)getpid());
    remove(db);
    char *yaml = replay_yaml((int)a->nodes, (int)a->nsvc, a->requests, 1000.0, db);
    if (!yaml)
        return -1;
    fprintf(stderr, "bench sim: replay of %lld requests on %lld nodes ...\n",
            (long long)a->requests, (long long)a->nodes);
    int rc = run_scenario_text(yaml, "bench-replay", db, a->policy, prep, rr);
    free(yaml);
    remove(db);
    *rss = peak_rss_bytes();
    return rc ? -1 : 0;
}

/* Stage 3: the embedded default scenario end to end. 0 or -1. */
static int
bench_sim_default(const bsim_args *a, ep_run_result *rd, double *prep)
{
    fprintf(stderr, "bench sim: default scenario ...\n");
    char db[4096];
    snprintf(db, sizeof db, "%s/epara-bench-default-%ld.db", a->dir, (long)getpid());
    remove(db);
    size_t dl;
    const char *dtext = ep_scenario_default_text(&dl);
    char *dcopy = malloc(dl + 1);
    if (!dcopy)
        return -1;
    memcpy(dcopy, dtext, dl + 1);
    int rc = run_scenario_text(dcopy, "edge-default", db, a->policy, prep, rd);
    free(dcopy);
    remove(db);
    return rc ? -1 : 0;
}

/* The three stages' figures, as JSON or as lines. */
static void
bench_sim_print(const bsim_args *a, double core_eps, const ep_run_result *rr, double prep_r,
                double rss, const ep_run_result *rd, double prep_d)
{
    if (a->as_json) {
        printf("{\"core_events_per_s\":%.0f,\"core_events\":%lld,\"core_pending\":%lld,"
               "\"replay_requests\":%lld,\"replay_nodes\":%lld,\"replay_services\":%lld,"
               "\"replay_wall_s\":%.3f,\"replay_events\":%llu,\"replay_events_per_s\":%.0f,"
               "\"replay_prepare_s\":%.3f,\"replay_peak_rss_bytes\":%.0f,"
               "\"default_requests\":%lld,\"default_wall_s\":%.3f,\"default_prepare_s\":%.3f,"
               "\"default_events\":%llu,\"policy\":\"%s\",\"replay_placements\":%lld,"
               "\"replay_place_s_per_round\":%.6f,\"default_placements\":%lld,"
               "\"default_place_s_per_round\":%.6f}\n",
               core_eps, (long long)a->events, (long long)a->pending, (long long)rr->requests,
               (long long)a->nodes, (long long)a->nsvc, rr->wall_s, (unsigned long long)rr->events,
               rr->events_per_s, prep_r, rss, (long long)rd->requests, rd->wall_s, prep_d,
               (unsigned long long)rd->events, a->policy, (long long)rr->placement_rounds,
               per_round(rr), (long long)rd->placement_rounds, per_round(rd));
        return;
    }
    printf("core (hold model)  %.2f M events/s  (%lld pending, %lld events)\n", core_eps / 1e6,
           (long long)a->pending, (long long)a->events);
    printf("replay             %lld requests, %lld nodes, %lld services: %.3f s wall, "
           "%.2f M events/s, peak RSS %.0f MiB (trace generation %.2f s, excluded)\n",
           (long long)rr->requests, (long long)a->nodes, (long long)a->nsvc, rr->wall_s,
           rr->events_per_s / 1e6, rss / 1048576.0, prep_r);
    printf("default scenario   %lld requests: %.3f s wall (%llu events; traces prepared in "
           "%.2f s)\n",
           (long long)rd->requests, rd->wall_s, (unsigned long long)rd->events, prep_d);
    printf("placement (%s)  replay: %lld rounds, %.4f s per round; default: %lld rounds, "
           "%.4f s per round\n",
           a->policy, (long long)rr->placement_rounds, per_round(rr),
           (long long)rd->placement_rounds, per_round(rd));
}

static int
bench_sim(int argc, char **argv)
{
    bsim_args a;
    int rc = bench_sim_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    double core_eps = 0;
    uint64_t hash = 0;
    fprintf(stderr, "bench sim: hold model, %lld pending, %lld events ...\n", (long long)a.pending,
            (long long)a.events);
    if (ep_sim_bench_hold((int)a.pending, (uint64_t)a.events, &core_eps, &hash))
        return EXIT_FAIL;
    ep_run_result rr, rd;
    memset(&rr, 0, sizeof rr);
    memset(&rd, 0, sizeof rd);
    double prep_r = 0, prep_d = 0, rss = 0;
    if (bench_sim_replay(&a, &rr, &prep_r, &rss) != 0)
        return EXIT_FAIL;
    if (bench_sim_default(&a, &rd, &prep_d) != 0) {
        ep_run_result_fini(&rr);
        return EXIT_FAIL;
    }
    bench_sim_print(&a, core_eps, &rr, prep_r, rss, &rd, prep_d);
    ep_run_result_fini(&rr);
    ep_run_result_fini(&rd);
    return EXIT_OK;
}

static const cli_cmd bench_cmds[] = {
        {"trace", "trace import and streamed read-back throughput", bench_trace},
        {"sim", "simulator speed: event engine, 1M-request replay, default scenario", bench_sim},
        {"exec", "executor: dispatch overhead and sustained requests/s of a live testbed",
         bench_exec},
};

int
cmd_bench(int argc, char **argv)
{
    return cli_dispatch("bench", bench_cmds, EP_ARRAY_LEN(bench_cmds), argc, argv);
}
