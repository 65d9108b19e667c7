/* `epara bench exec`: the executor's own cost. For each offered rate it runs a live testbed
 * (`epara testbed`, emulated engines, loopback nng) of N nodes serving a service whose
 * profiled batch time is negligible (50 us) over links of no modelled delay, so what a
 * request waits for is the executor itself: loadgen -> ingress node -> engine -> result
 * back. Reports, per rate, the dispatch overhead p50/p99 (wall time beyond the modelled
 * service, measured by the loadgen) and the completed requests per second; the sustained
 * rate is the highest offered rate with >= 99% of requests completed and p99 overhead
 * <= 50 ms. Numbers are measurements, never asserted by tests. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "epara/exec/exec.h"
#include "util.h"

#define MAX_RATES 16

static char *
bench_yaml(int nodes, double rate, double dur_s)
{
    char *y = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&y, &n);
    if (!f)
        return NULL;
    fprintf(f,
            "name: bench-exec-%d-nodes\n"
            "run: {seed: 1, warmup_s: 0, cooldown_s: 0, sync_period_ms: 500,"
            " placement_period_s: 3600}\n"
            "devices:\n"
            "  - {name: dev, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
            "nodes:\n"
            "  - {name: n, class: server, count: %d, cores: 4, mem_gb: 16, devices: [dev],"
            " link: {bw_gbps: 1000, latency_ms: 0}}\n"
            "services:\n"
            "  - {name: echo, kind: dnn, params_m: 1, gflops: 0.001, input_kb: 1,"
            " max_batch: 8, slo: {deadline_ms: 1000}}\n"
            "profiles:\n"
            "  - {service: echo, device: dev, batch: [1, 8], latency_ms: [0.05, 0.05]}\n"
            "workload:\n"
            "  - {trace: bench-exec, service: echo, ingress: n,"
            " generate: {kind: poisson, rate: %.3f, duration_s: %.3f, seed: 1}}\n"
            "policy: epara\n",
            nodes, nodes, rate, dur_s);
    if (fclose(f) != 0) {
        free(y);
        return NULL;
    }
    return y;
}

/* CPU seconds (user + system) of this process's waited-for children so far: they include
 * their own waited-for children, so a testbed's count its controller, nodes and loadgen. */
static double
children_cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Runs `epara testbed` on scenario file yaml; returns its JSON summary or NULL, and in *cpu_s
 * the CPU time of all its processes. */
static json_t *
run_testbed(const char *self, const char *yaml, const char *db, double dur_s, double *cpu_s)
{
    double cpu0 = children_cpu_s();
    char dur[32];
    snprintf(dur, sizeof dur, "%.3f", dur_s);
    int fds[2];
    if (pipe(fds) != 0)
        return NULL;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        execl(self, self, "testbed", "--scenario", yaml, "--trace-db", db, "--duration", dur,
              "--grace", "5", "--json", "--quiet", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    json_error_t je;
    FILE *f = fdopen(fds[0], "r");
    json_t *js = f ? json_loadf(f, JSON_DISABLE_EOF_CHECK, &je) : NULL;
    if (f)
        fclose(f);
    else
        close(fds[0]);
    int st = 0;
    waitpid(pid, &st, 0);
    *cpu_s = children_cpu_s() - cpu0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        json_decref(js);
        return NULL;
    }
    return js;
}

static double
num(json_t *o, const char *k)
{
    json_t *v = o ? json_object_get(o, k) : NULL;
    return v ? json_number_value(v) : 0;
}

int
bench_exec(int argc, char **argv)
{
    static const char help[] =
            "usage: epara bench exec [--nodes N] [--duration S] [--rates R1,R2,...] [--json]\n"
            "\n"
            "Runs a live testbed of N nodes (default 20) with emulated engines on loopback\n"
            "for S seconds (default 10) at each offered rate (default 100,300,1000,2000,4000\n"
            "requests/s) of a service with a negligible profiled time, and reports the\n"
            "dispatch overhead per request (loadgen -> node -> engine -> reply; p50, p99)\n"
            "and the completed requests/s, and the CPU time per request summed over the\n"
            "testbed's processes (getrusage; the service's emulated compute is none, so it is\n"
            "the executor's own cost). Sustained: the highest rate with >= 99% completed\n"
            "and p99 overhead <= 50 ms.\n";
    static const struct option longopts[] = {
            {"nodes", required_argument, NULL, 'n'}, {"duration", required_argument, NULL, 'd'},
            {"rates", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    int64_t nodes = 20;
    double dur = 10, rates[MAX_RATES] = {100, 300, 1000, 2000, 4000};
    int nrates = 5, as_json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (cli_i64("--nodes", optarg, 1, 200, &nodes))
                return EXIT_USAGE;
            break;
        case 'd':
            if (cli_double("--duration", optarg, 1, 3600, &dur))
                return EXIT_USAGE;
            break;
        case 'r': {
            nrates = 0;
            char *copy = strdup(optarg), *save = NULL;
            for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (nrates == MAX_RATES || cli_double("--rates", t, 0.1, 1e6, &rates[nrates++])) {
                    if (nrates == MAX_RATES)
                        cli_err("--rates: at most %d rates", MAX_RATES);
                    free(copy);
                    return EXIT_USAGE;
                }
            }
            free(copy);
            if (nrates == 0) {
                cli_err("--rates: no rate given");
                return EXIT_USAGE;
            }
            break;
        }
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
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    char dir[] = "/tmp/epara-bench-exec-XXXXXX";
    if (sl <= 0 || !mkdtemp(dir)) {
        cli_err("bench exec: cannot find the epara binary or make a temporary directory");
        return EXIT_FAIL;
    }
    self[sl] = '\0';
    json_t *rows = json_array();
    double sustained = 0;
    int rc = EXIT_OK;
    if (!as_json)
        printf("%8s %10s %10s %12s %12s %12s %12s\n", "rate/s", "requests", "completed", "served/s",
               "ovh_p50_ms", "ovh_p99_ms", "cpu_us/req");
    for (int i = 0; i < nrates; i++) {
        char yaml[4200], db[4200];
        snprintf(yaml, sizeof yaml, "%s/bench-%d.yaml", dir, i);
        snprintf(db, sizeof db, "%s/traces-%d.db", dir, i);
        char *text = bench_yaml((int)nodes, rates[i], dur);
        FILE *f = text ? fopen(yaml, "w") : NULL;
        int wrote = f && fputs(text, f) >= 0;
        if (f)
            wrote = (fclose(f) == 0) && wrote;
        free(text);
        double cpu = 0;
        json_t *js = wrote ? run_testbed(self, yaml, db, dur, &cpu) : NULL;
        unlink(yaml);
        unlink(db);
        if (!js) {
            cli_err("bench exec: the testbed at %.0f req/s failed", rates[i]);
            rc = EXIT_FAIL;
            break;
        }
        json_t *tb = json_object_get(js, "testbed");
        double req = num(js, "requests"), done = num(js, "completed");
        double p50 = num(tb, "overhead_p50_ms"), p99 = num(tb, "overhead_p99_ms");
        double served = done / dur;
        double cpu_us = req > 0 ? cpu / req * 1e6 : 0;
        if (req > 0 && done >= 0.99 * req && p99 <= 50 && rates[i] > sustained)
            sustained = rates[i];
        json_array_append_new(rows, json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
                                              "rate", rates[i], "requests", req, "completed", done,
                                              "served_per_s", served, "overhead_p50_ms", p50,
                                              "overhead_p99_ms", p99, "wall_s", num(tb, "wall_s"),
                                              "cpu_s", cpu, "cpu_us_per_request", cpu_us));
        if (!as_json) {
            printf("%8.0f %10.0f %10.0f %12.1f %12.3f %12.3f %12.1f\n", rates[i], req, done, served,
                   p50, p99, cpu_us);
            fflush(stdout);
        }
        json_decref(js);
    }
    rmdir(dir);
    if (rc == EXIT_OK) {
        if (as_json) {
            json_t *o = json_pack("{s:I, s:f, s:o, s:f}", "nodes", (json_int_t)nodes, "duration_s",
                                  dur, "rates", rows, "sustained_rate", sustained);
            json_dumpf(o, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
            putchar('\n');
            json_decref(o);
            rows = NULL;
        } else {
            printf("sustained: %.0f requests/s on %lld nodes (>= 99%% completed, p99 overhead "
                   "<= 50 ms)\n",
                   sustained, (long long)nodes);
        }
    }
    json_decref(rows);
    return rc;
}
