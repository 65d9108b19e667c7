/* `epara bench`: measures epara's own speed. `bench trace` writes an Azure-LLM-format CSV
 * of N rows, then times parse only, import (parse + SQLite insert + commit) and streamed
 * read-back, and reports rows/s. Numbers are measurements, never asserted by tests. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "epara/error.h"
#include "epara/rng.h"
#include "epara/store.h"
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

static int
bench_trace(int argc, char **argv)
{
    static const char help[] =
            "usage: epara bench trace [--rows N] [--dir DIR] [--keep] [--json]\n"
            "\n"
            "Writes an N-row Azure-LLM-format CSV (default 10,000,000) in DIR (default $TMPDIR\n"
            "or /tmp), then measures parse-only, import (parse + insert + commit, one\n"
            "transaction) and streamed read-back throughput in rows/s.\n";
    static const struct option longopts[] = {
            {"rows", required_argument, NULL, 'n'}, {"dir", required_argument, NULL, 'd'},
            {"keep", no_argument, NULL, 'k'},       {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0}};
    int64_t rows = 10000000;
    const char *dir = getenv("TMPDIR");
    int keep = 0, as_json = 0, c;
    if (!dir || !*dir)
        dir = "/tmp";
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (cli_i64("--rows", optarg, 1, INT64_C(1000000000), &rows))
                return EXIT_USAGE;
            break;
        case 'd':
            dir = optarg;
            break;
        case 'k':
            keep = 1;
            break;
        case 'j':
            as_json = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return EXIT_OK;
        default:
            fputs(help, stderr);
            return EXIT_USAGE;
        }
    }
    char csv[4096], db[4096];
    snprintf(csv, sizeof csv, "%s/epara-bench-%ld.csv", dir, (long)getpid());
    snprintf(db, sizeof db, "%s/epara-bench-%ld.db", dir, (long)getpid());
    int rc = EXIT_FAIL;
    ep_store *st = NULL;
    fprintf(stderr, "bench trace: writing %lld rows to %s ...\n", (long long)rows, csv);
    double t0 = now_s();
    if (write_csv(csv, rows, 1))
        goto done;
    double t_write = now_s() - t0;

    /* Parse only: the pure parser over the mapped file, rows discarded. */
    int fd = open(csv, O_RDONLY);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0)
        goto done;
    char *map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        goto done;
    ep_parse_opts po;
    memset(&po, 0, sizeof po);
    po.format = EP_FMT_AZURE_LLM;
    int64_t sum = 0;
    po.ctx = &sum;
    ep_parse_error perr;
    fprintf(stderr, "bench trace: parsing ...\n");
    t0 = now_s();
    int err = ep_trace_parse(map, (size_t)sb.st_size, &po, count_sink, &perr, NULL);
    double t_parse = now_s() - t0;
    munmap(map, (size_t)sb.st_size);
    if (err) {
        cli_err("bench: parse failed at line %ld: %s", perr.line, perr.msg);
        goto done;
    }

    if (!(st = cli_store_open(db, 0)))
        goto done;
    ep_trace_meta meta, out;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.name, sizeof meta.name, "bench");
    snprintf(meta.format, sizeof meta.format, "azure-llm");
    po.ctx = NULL;
    fprintf(stderr, "bench trace: importing ...\n");
    t0 = now_s();
    err = ep_trace_import_file(st, csv, &po, &meta, 1, &perr, NULL, &out);
    double t_import = now_s() - t0;
    if (err) {
        cli_err("bench: import failed: %s (%s)", ep_strerror(err), perr.msg);
        goto done;
    }

    fprintf(stderr, "bench trace: reading back ...\n");
    ep_trace_reader *r;
    t0 = now_s();
    if (ep_trace_reader_open(st, "bench", 0, EP_TIME_MAX, &r))
        goto done;
    ep_trace_row row;
    int64_t n = 0, check = 0;
    while (ep_trace_reader_next(r, &row) == 1) {
        n++;
        check += row.input;
    }
    ep_trace_reader_close(r);
    double t_read = now_s() - t0;
    if (n != rows || check != sum) {
        cli_err("bench: read back %lld rows (sum %lld), expected %lld (sum %lld)", (long long)n,
                (long long)check, (long long)rows, (long long)sum);
        goto done;
    }
    double mb = (double)sb.st_size / 1e6;
    if (as_json) {
        printf("{\"rows\":%lld,\"csv_mb\":%.1f,\"write_s\":%.3f,\"parse_s\":%.3f,"
               "\"parse_rows_per_s\":%.0f,\"import_s\":%.3f,\"import_rows_per_s\":%.0f,"
               "\"read_s\":%.3f,\"read_rows_per_s\":%.0f}\n",
               (long long)rows, mb, t_write, t_parse, (double)rows / t_parse, t_import,
               (double)rows / t_import, t_read, (double)rows / t_read);
    } else {
        printf("rows            %lld (CSV %.1f MB, written in %.2f s)\n", (long long)rows, mb,
               t_write);
        printf("parse only      %8.3f s  %12.0f rows/s  %7.1f MB/s\n", t_parse,
               (double)rows / t_parse, mb / t_parse);
        printf("import          %8.3f s  %12.0f rows/s  (parse + insert + commit)\n", t_import,
               (double)rows / t_import);
        printf("streamed read   %8.3f s  %12.0f rows/s\n", t_read, (double)rows / t_read);
    }
    rc = EXIT_OK;
done:
    ep_store_close(st);
    if (!keep) {
        remove(csv);
        remove(db);
    } else {
        fprintf(stderr, "bench trace: kept %s and %s\n", csv, db);
    }
    return rc;
}

static const cli_cmd bench_cmds[] = {
        {"trace", "trace import and streamed read-back throughput", bench_trace},
};

int
cmd_bench(int argc, char **argv)
{
    return cli_dispatch("bench", bench_cmds, EP_ARRAY_LEN(bench_cmds), argc, argv);
}
