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
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>

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

/* CPU seconds (user + system) so far of `who`: RUSAGE_SELF (this process, nng's threads
 * included) or RUSAGE_CHILDREN (its waited-for children, which include their own: a
 * testbed's controller, nodes and loadgen). */
static double
rusage_cpu_s(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* Runs `epara testbed` on scenario file yaml; returns its JSON summary or NULL, and in *cpu_s
 * the CPU time of all its processes. */
static json_t *
run_testbed(const char *self, const char *yaml, const char *db, double dur_s, double *cpu_s)
{
    double cpu0 = rusage_cpu_s(RUSAGE_CHILDREN);
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
    *cpu_s = rusage_cpu_s(RUSAGE_CHILDREN) - cpu0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        json_decref(js);
        return NULL;
    }
    return js;
}

/* --- where a message's time goes ------------------------------------------------------- */

static const uint8_t bench_key[] = "epara-bench-exec-key-0123456789";

/* One message of each kind a request makes, as the testbed sends them: a REQUEST (loadgen
 * to ingress), a FORWARD (node to node) and a RESULT (node to loadgen), and the STATE a
 * node of this benchmark's scenario reports twice a second to every peer. */
static ep_wire_msg
bench_msg(int kind)
{
    static ep_msg_inst_state inst = {0, 2, 1, 50000, -1, 1};
    static ep_msg_demand dem = {123456, 123456000, 123456};
    ep_msg_request q = {.id = 987654,
                        .service = 0,
                        .ingress = 7,
                        .arrival = 5000000000,
                        .deadline = 6000000000,
                        .input = 1000,
                        .output = 1,
                        .bytes = 1000,
                        .stream = -1,
                        .frame = -1,
                        .trace_exec = -1};
    ep_wire_msg m;
    memset(&m, 0, sizeof m);
    m.type = kind == 0   ? EP_WIRE_REQUEST
             : kind == 1 ? EP_WIRE_FORWARD
             : kind == 2 ? EP_WIRE_RESULT
                         : EP_WIRE_STATE;
    if (kind == 0)
        m.u.request = q;
    else if (kind == 1)
        m.u.forward = (ep_msg_forward){q, EP_MSG_TO_INSTANCE, 3, -1};
    else if (kind == 2)
        m.u.result = (ep_msg_result){.id = 987654,
                                     .dispatch = 5000100000,
                                     .first_token = 5000200000,
                                     .done = 5000200000,
                                     .instance = 3,
                                     .node = 7,
                                     .batch = 2};
    else
        m.u.state = (ep_msg_state){7, 5000000000, &inst, 1, &dem, 1};
    return m;
}

/* Per message of kind `kind`, in us of CPU: encoding (msgpack, the HMAC tag and the
 * encoder's check), the HMAC alone (sealing the packed bytes), decoding (tag check and
 * parse) and the frame's bytes. -1 on failure. */
static int
bench_codec(int kind, int n, double *enc_us, double *hmac_us, double *dec_us, size_t *bytes)
{
    ep_wire_msg m = bench_msg(kind);
    ep_wire_env env = {7, 1, 1};
    uint8_t *f = NULL;
    size_t len = 0;
    if (ep_wire_encode_env(&m, &env, bench_key, sizeof bench_key - 1, &f, &len) != 0)
        return -1;
    *bytes = len;
    double t0 = rusage_cpu_s(RUSAGE_SELF);
    for (int i = 0; i < n; i++) {
        uint8_t *g;
        size_t gl;
        env.seq = (uint64_t)i + 2;
        if (ep_wire_encode_env(&m, &env, bench_key, sizeof bench_key - 1, &g, &gl) != 0)
            break;
        free(g);
    }
    double t1 = rusage_cpu_s(RUSAGE_SELF);
    size_t plen = len - EP_WIRE_HEADER_BYTES - EP_WIRE_TAG_BYTES;
    for (int i = 0; i < n; i++) {
        uint8_t *g;
        size_t gl;
        if (ep_wire_seal((unsigned)m.type, f + EP_WIRE_HEADER_BYTES, plen, bench_key,
                         sizeof bench_key - 1, &g, &gl) != 0)
            break;
        free(g);
    }
    double t2 = rusage_cpu_s(RUSAGE_SELF);
    for (int i = 0; i < n; i++) {
        ep_wire_msg d;
        if (ep_wire_decode_env(f, len, bench_key, sizeof bench_key - 1, &d, NULL, NULL, 0) != 0)
            break;
        ep_wire_msg_free(&d);
    }
    double t3 = rusage_cpu_s(RUSAGE_SELF);
    free(f);
    *enc_us = (t1 - t0) / n * 1e6;
    *hmac_us = (t2 - t1) / n * 1e6;
    *dec_us = (t3 - t2) / n * 1e6;
    return 0;
}

/* CPU per message of `bytes` through nng push -> pull over loopback TCP (both ends and
 * nng's threads: the sender's copy and write, the receiver's read), in us, sending
 * `window` messages before receiving them (1: each alone, every one waking both ends; more:
 * as under load, several per wake-up and system call); -1 on failure. */
static double
bench_nng(size_t bytes, int n, int window)
{
    nng_socket in, out;
    nng_listener l;
    char url[64];
    int port = 0;
    double us = -1;
    if (nng_pull0_open(&in) != 0)
        return -1;
    if (nng_push0_open(&out) != 0) {
        nng_close(in);
        return -1;
    }
    uint8_t *buf = calloc(1, bytes);
    /* Any free port: the one the listener was given. */
    if (buf && nng_listen(in, "tcp://127.0.0.1:0", &l, 0) == 0 &&
        nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) == 0 &&
        snprintf(url, sizeof url, "tcp://127.0.0.1:%d", port) > 0 &&
        nng_dial(out, url, NULL, 0) == 0 && nng_socket_set_ms(in, NNG_OPT_RECVTIMEO, 2000) == 0 &&
        nng_socket_set_int(out, NNG_OPT_SENDBUF, window) == 0) {
        double t0 = rusage_cpu_s(RUSAGE_SELF);
        int got = 0;
        for (int i = 0; i + window <= n; i += window) {
            int sent = 0;
            while (sent < window && nng_send(out, buf, bytes, 0) == 0)
                sent++;
            for (int k = 0; k < sent; k++) {
                void *r;
                size_t rl;
                if (nng_recv(in, &r, &rl, NNG_FLAG_ALLOC) != 0)
                    break;
                nng_free(r, rl);
                got++;
            }
        }
        if (got > 0)
            us = (rusage_cpu_s(RUSAGE_SELF) - t0) / got * 1e6;
    }
    free(buf);
    nng_close(out);
    nng_close(in);
    return us;
}

/* The table of where a message's CPU goes, printed (or as JSON in *out). */
static int
bench_messages(int as_json, json_t **out)
{
    static const char *const names[] = {"request", "forward", "result", "state"};
    const int n = 100000, window = 256;
    json_t *arr = json_array();
    double warm[3];
    size_t wb;
    if (bench_codec(0, n, &warm[0], &warm[1], &warm[2], &wb) != 0) { /* warm-up */
        json_decref(arr);
        return -1;
    }
    if (!as_json)
        printf("per message (CPU us, %d of each; nng: push -> pull over loopback TCP, both ends,"
               " one at a time / %d at a time)\n"
               "%10s %8s %10s %10s %10s %10s %10s\n",
               n, window, "message", "bytes", "encode", "of it HMAC", "decode", "nng alone",
               "nng loaded");
    for (int k = 0; k < 4; k++) {
        double enc, hmac, dec;
        size_t bytes;
        if (bench_codec(k, n, &enc, &hmac, &dec, &bytes) != 0) {
            json_decref(arr);
            return -1;
        }
        double alone = bench_nng(bytes, n / 20, 1), loaded = bench_nng(bytes, n / 5, window);
        if (!as_json)
            printf("%10s %8zu %10.2f %10.2f %10.2f %10.2f %10.2f\n", names[k], bytes, enc, hmac,
                   dec, alone, loaded);
        json_array_append_new(arr, json_pack("{s:s, s:I, s:f, s:f, s:f, s:f, s:f}", "message",
                                             names[k], "bytes", (json_int_t)bytes, "encode_us", enc,
                                             "hmac_us", hmac, "decode_us", dec, "nng_alone_us",
                                             alone, "nng_loaded_us", loaded));
    }
    if (!as_json)
        fflush(stdout);
    *out = arr;
    return 0;
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
            "for S seconds (default 10) at each offered rate (default 100,300,1000,2000,\n"
            "4000,8000,16000,32000 requests/s) of a service with a negligible profiled time,\n"
            "and reports the dispatch overhead per request (loadgen -> node -> engine ->\n"
            "reply; p50, p99), the completed requests/s, and the CPU time per request summed\n"
            "over the testbed's processes (getrusage; the service's emulated compute is none,\n"
            "so it is the executor's own cost). Sustained: the highest rate with >= 99%\n"
            "completed and p99 overhead <= 50 ms. First, where a message's CPU goes: encoding\n"
            "(of it the HMAC), decoding and nng over loopback TCP, per message kind.\n";
    static const struct option longopts[] = {
            {"nodes", required_argument, NULL, 'n'}, {"duration", required_argument, NULL, 'd'},
            {"rates", required_argument, NULL, 'r'}, {"json", no_argument, NULL, 'j'},
            {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0}};
    int64_t nodes = 20;
    double dur = 10, rates[MAX_RATES] = {100, 300, 1000, 2000, 4000, 8000, 16000, 32000};
    int nrates = 8, as_json = 0, c;
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
    json_t *msgs = NULL;
    if (bench_messages(as_json, &msgs) != 0) {
        cli_err("bench exec: the per-message measurement failed");
        rmdir(dir);
        return EXIT_FAIL;
    }
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
            json_t *o =
                    json_pack("{s:I, s:f, s:o, s:f, s:o}", "nodes", (json_int_t)nodes, "duration_s",
                              dur, "rates", rows, "sustained_rate", sustained, "messages", msgs);
            msgs = NULL;
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
    json_decref(msgs);
    return rc;
}
