/* libFuzzer target for the Vidur profile reader (experiments/profiles_vidur.c): the input is
 * mlp.csv, or mlp.csv and attention.csv separated by a line "--attention--". Any input
 * either gives a table whose point counts are in [1, EP_PROFILE_POINTS], whose x values
 * increase and whose times are not negative, or fails with one of the documented errors and
 * a message naming the file (and, for a parse error, a line); never a crash or a leak. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epara/core/error.h"
#include "epara/experiments/prepare.h"
#include "epara/experiments/scenario.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const char yaml[] =
        "name: fuzz-vidur\n"
        "devices:\n"
        "  - {name: a100, kind: gpu, mem_gb: 80, mem_bw_gbps: 2000, peak_tflops: 312}\n"
        "nodes:\n"
        "  - {name: n, class: server, cores: 8, mem_gb: 64, devices: [a100],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: l, kind: llm, params_b: 6.74, layers: 32, hidden: 4096, vocab: 32000,"
        " kv_kb_per_token: 512, max_batch: 64, slo: {ttft_ms: 1000, tpot_ms: 100}}\n";

static const char separator[] = "\n--attention--\n";

static void
check(int ok)
{
    if (!ok)
        abort();
}

/* Writes len bytes to dir/name, or removes it when data is NULL. */
static void
put(const char *dir, const char *name, const unsigned char *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!data) {
        unlink(path);
        return;
    }
    FILE *f = fopen(path, "wb");
    check(f != NULL);
    check(fwrite(data, 1, len, f) == len || len == 0);
    check(fclose(f) == 0);
}

static const unsigned char *
find(const unsigned char *data, size_t size, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= size; i++)
        if (memcmp(data + i, needle, n) == 0)
            return data + i;
    return NULL;
}

static void
check_points(const ep_vidur_point *p, int n)
{
    check(n >= 1 && n <= EP_PROFILE_POINTS);
    for (int i = 0; i < n; i++) {
        check(p[i].row.x >= 1 && (i == 0 || p[i].row.x > p[i - 1].row.x));
        check(p[i].linear >= 0 && p[i].attention >= 0 && p[i].row.latency >= 0);
    }
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char dir[] = "/tmp/epara-fuzz-vidur-XXXXXX";
    static ep_scenario sc;
    static int ready;
    if (!ready) {
        ep_parse_error perr;
        check(mkdtemp(dir) != NULL);
        check(ep_scenario_load_text(yaml, strlen(yaml), "fuzz", ".", &sc, &perr) == 0);
        ready = 1;
    }
    const unsigned char *sep = find(data, size, separator);
    size_t mlp_len = sep ? (size_t)(sep - data) : size;
    put(dir, "mlp.csv", data, mlp_len);
    if (sep) {
        const unsigned char *att = sep + strlen(separator);
        put(dir, "attention.csv", att, size - (size_t)(att - data));
    } else {
        put(dir, "attention.csv", NULL, 0);
    }
    static ep_vidur_profile out;
    char err[1024] = "";
    int rc = ep_vidur_read(dir, &sc, 0, 0, EP_VIDUR_CTX_REF_DEFAULT, &out, err, sizeof err);
    if (rc == 0) {
        check_points(out.pts, out.nprefill);
        check_points(out.pts + out.nprefill, out.ndecode);
        check(out.attention_measured == (sep != NULL));
    } else {
        check(rc == EP_EPARSE || rc == EP_EINVAL || rc == EP_EIO || rc == EP_ENOMEM);
        check(memchr(err, '\0', sizeof err) != NULL && strstr(err, ".csv") != NULL);
        if (rc == EP_EPARSE)
            check(strstr(err, ".csv:") != NULL);
    }
    return 0;
}
