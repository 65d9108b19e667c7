/* GPU throughput of the cuda engine (built with it, target ep_cuda_bench): prefill and
 * batched decode of a random Llama-style decoder, and the segmentation net, with the cpu
 * engine alongside when asked (--cpu). Prints one line per measurement; bench/gpu_check.sh
 * runs it. A benchmark, not a test: it asserts nothing about speed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "epara/exec/engine_cpu.h"
#include "epara/exec/engine_cuda.h"
#include "epara/core/error.h"

#define MAX_BATCHES 8

struct opts {
    ep_llm_config cfg;
    int prompt, steps, n_batches, cpu;
    int batches[MAX_BATCHES];
    int seg_batch, seg_side, seg_width, seg_classes;
};

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int
fail(const char *what, int rc)
{
    fprintf(stderr, "cuda_bench: %s: %s (%s)\n", what, ep_strerror(rc), ep_cuda_last_error());
    return 1;
}

static void
usage(void)
{
    fprintf(stderr, "usage: ep_cuda_bench [--dim N] [--hidden N] [--layers N] [--heads N] "
                    "[--kv-heads N] [--vocab N] [--seq N] [--prompt N] [--steps N] "
                    "[--batches 1,8,32] [--seg-batch N] [--seg-side N] [--seg-width N] [--cpu]\n");
}

static int
parse(int argc, char **argv, struct opts *o)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--cpu") == 0) {
            o->cpu = 1;
            continue;
        }
        if (i + 1 >= argc)
            return -1;
        const char *v = argv[++i];
        int n = atoi(v);
        if (strcmp(a, "--dim") == 0)
            o->cfg.dim = n;
        else if (strcmp(a, "--hidden") == 0)
            o->cfg.hidden_dim = n;
        else if (strcmp(a, "--layers") == 0)
            o->cfg.n_layers = n;
        else if (strcmp(a, "--heads") == 0)
            o->cfg.n_heads = n;
        else if (strcmp(a, "--kv-heads") == 0)
            o->cfg.n_kv_heads = n;
        else if (strcmp(a, "--vocab") == 0)
            o->cfg.vocab_size = n;
        else if (strcmp(a, "--seq") == 0)
            o->cfg.max_seq_len = n;
        else if (strcmp(a, "--prompt") == 0)
            o->prompt = n;
        else if (strcmp(a, "--steps") == 0)
            o->steps = n;
        else if (strcmp(a, "--seg-batch") == 0)
            o->seg_batch = n;
        else if (strcmp(a, "--seg-side") == 0)
            o->seg_side = n;
        else if (strcmp(a, "--seg-width") == 0)
            o->seg_width = n;
        else if (strcmp(a, "--batches") == 0) {
            o->n_batches = 0;
            for (const char *p = v; *p && o->n_batches < MAX_BATCHES;) {
                o->batches[o->n_batches++] = atoi(p);
                p = strchr(p, ',');
                if (!p)
                    break;
                p++;
            }
        } else
            return -1;
    }
    if (o->prompt < 1 || o->steps < 1 || o->n_batches < 1 || o->seg_batch < 1 ||
        o->prompt + o->steps + 1 > o->cfg.max_seq_len)
        return -1;
    for (int i = 0; i < o->n_batches; i++)
        if (o->batches[i] < 1)
            return -1;
    return 0;
}

/* Prefill of o->prompt tokens on one sequence (after one warm-up pass). */
static int
bench_prefill(const struct opts *o, const ep_llm *cm, ep_cuda_llm *gm, const int *toks,
              float *logits)
{
    ep_cuda_llm_seq *gs = NULL;
    ep_llm_seq *cs = NULL;
    double t0, t;
    int rc;

    if ((rc = ep_cuda_llm_seq_new(gm, &gs)) < 0)
        return fail("ep_cuda_llm_seq_new", rc);
    if ((rc = ep_cuda_llm_prefill(gm, gs, toks, o->prompt, logits)) < 0)
        return fail("ep_cuda_llm_prefill", rc);
    ep_cuda_llm_seq_reset(gs);
    t0 = now_s();
    if ((rc = ep_cuda_llm_prefill(gm, gs, toks, o->prompt, logits)) < 0)
        return fail("ep_cuda_llm_prefill", rc);
    t = now_s() - t0;
    printf("cuda prefill  %5d tokens      %9.2f ms  %10.0f tokens/s\n", o->prompt, t * 1e3,
           o->prompt / t);
    ep_cuda_llm_seq_free(gs);
    if (!o->cpu)
        return 0;
    if ((rc = ep_llm_seq_new(cm, &cs)) < 0)
        return fail("ep_llm_seq_new", rc);
    t0 = now_s();
    if ((rc = ep_llm_prefill(cm, cs, toks, o->prompt, logits)) < 0)
        return fail("ep_llm_prefill", rc);
    t = now_s() - t0;
    printf("cpu  prefill  %5d tokens      %9.2f ms  %10.0f tokens/s\n", o->prompt, t * 1e3,
           o->prompt / t);
    ep_llm_seq_free(cs);
    return 0;
}

/* o->steps decode steps of `batch` sequences that each hold the prompt. */
static int
bench_decode(const struct opts *o, const ep_llm *cm, ep_cuda_llm *gm, int batch, const int *toks,
             float *logits)
{
    ep_cuda_llm_seq **gs = calloc((size_t)batch, sizeof(*gs));
    ep_llm_seq **cs = calloc((size_t)batch, sizeof(*cs));
    int *step = calloc((size_t)batch, sizeof(int));
    double t0, t;
    int rc = 0;

    if (!gs || !cs || !step)
        return fail("calloc", EP_ENOMEM);
    for (int i = 0; i < batch; i++) {
        if ((rc = ep_cuda_llm_seq_new(gm, &gs[i])) < 0)
            return fail("ep_cuda_llm_seq_new", rc);
        if ((rc = ep_cuda_llm_prefill(gm, gs[i], toks, o->prompt, NULL)) < 0)
            return fail("ep_cuda_llm_prefill", rc);
        step[i] = toks[i % o->prompt];
    }
    if ((rc = ep_cuda_llm_decode_batch(gm, gs, step, batch, logits)) < 0) /* warm-up */
        return fail("ep_cuda_llm_decode_batch", rc);
    t0 = now_s();
    for (int s = 0; s < o->steps; s++)
        if ((rc = ep_cuda_llm_decode_batch(gm, gs, step, batch, logits)) < 0)
            return fail("ep_cuda_llm_decode_batch", rc);
    t = now_s() - t0;
    printf("cuda decode   batch %4d        %9.3f ms/step %8.0f tokens/s\n", batch,
           t * 1e3 / o->steps, (double)batch * o->steps / t);
    for (int i = 0; i < batch; i++)
        ep_cuda_llm_seq_free(gs[i]);
    if (o->cpu) {
        for (int i = 0; i < batch; i++) {
            if ((rc = ep_llm_seq_new(cm, &cs[i])) < 0)
                return fail("ep_llm_seq_new", rc);
            if ((rc = ep_llm_prefill(cm, cs[i], toks, o->prompt, NULL)) < 0)
                return fail("ep_llm_prefill", rc);
        }
        t0 = now_s();
        for (int s = 0; s < o->steps; s++)
            if ((rc = ep_llm_decode_batch(cm, cs, step, batch, logits)) < 0)
                return fail("ep_llm_decode_batch", rc);
        t = now_s() - t0;
        printf("cpu  decode   batch %4d        %9.3f ms/step %8.0f tokens/s\n", batch,
               t * 1e3 / o->steps, (double)batch * o->steps / t);
        for (int i = 0; i < batch; i++)
            ep_llm_seq_free(cs[i]);
    }
    free(gs);
    free(cs);
    free(step);
    return 0;
}

static int
bench_seg(const struct opts *o)
{
    ep_seg_config cfg = {.in_channels = 3, .width = o->seg_width, .n_classes = o->seg_classes};
    int b = o->seg_batch, side = o->seg_side, reps = 10;
    size_t in_n = (size_t)b * 3 * (size_t)side * (size_t)side;
    size_t out_n = (size_t)b * (size_t)cfg.n_classes * (size_t)side * (size_t)side;
    float *x = malloc(in_n * sizeof(float)), *y = malloc(out_n * sizeof(float));
    ep_seg *cn = NULL;
    ep_cuda_seg *gn = NULL;
    double t0, t;
    int rc;

    if (!x || !y)
        return fail("malloc", EP_ENOMEM);
    for (size_t i = 0; i < in_n; i++)
        x[i] = (float)(i % 251) / 251.0f;
    if ((rc = ep_seg_new(&cfg, 1, &cn)) < 0)
        return fail("ep_seg_new", rc);
    if ((rc = ep_cuda_seg_new(cn, &gn)) < 0)
        return fail("ep_cuda_seg_new", rc);
    if ((rc = ep_cuda_seg_forward(gn, x, b, side, side, y)) < 0)
        return fail("ep_cuda_seg_forward", rc);
    t0 = now_s();
    for (int r = 0; r < reps; r++)
        if ((rc = ep_cuda_seg_forward(gn, x, b, side, side, y)) < 0)
            return fail("ep_cuda_seg_forward", rc);
    t = (now_s() - t0) / reps;
    printf("cuda seg      batch %4d %4dx%-4d %8.2f ms  %10.1f images/s\n", b, side, side, t * 1e3,
           b / t);
    if (o->cpu) {
        t0 = now_s();
        if ((rc = ep_seg_forward(cn, x, b, side, side, y)) < 0)
            return fail("ep_seg_forward", rc);
        t = now_s() - t0;
        printf("cpu  seg      batch %4d %4dx%-4d %8.2f ms  %10.1f images/s\n", b, side, side,
               t * 1e3, b / t);
    }
    ep_cuda_seg_free(gn);
    ep_seg_free(cn);
    free(x);
    free(y);
    return 0;
}

int
main(int argc, char **argv)
{
    struct opts o = {
            .cfg = {.dim = 768,
                    .hidden_dim = 2048,
                    .n_layers = 12,
                    .n_heads = 12,
                    .n_kv_heads = 4,
                    .vocab_size = 32000,
                    .max_seq_len = 1024,
                    .rope_theta = 10000.0f,
                    .shared_classifier = 1},
            .prompt = 512,
            .steps = 64,
            .n_batches = 3,
            .batches = {1, 8, 32},
            .seg_batch = 8,
            .seg_side = 256,
            .seg_width = 32,
            .seg_classes = 21,
    };
    ep_llm *cm = NULL;
    ep_cuda_llm *gm = NULL;
    char name[256];
    size_t mem = 0;
    int rc, max_batch = 1;

    if (parse(argc, argv, &o) < 0) {
        usage();
        return 2;
    }
    if (!ep_cuda_available()) {
        fprintf(stderr, "cuda_bench: no usable CUDA device (%s)\n", ep_cuda_last_error());
        return 1;
    }
    if ((rc = ep_cuda_device_name(name, sizeof(name), &mem)) < 0)
        return fail("ep_cuda_device_name", rc);
    printf("device: %s, %.1f GiB\n", name, (double)mem / (1024.0 * 1024.0 * 1024.0));
    printf("llm: dim %d, hidden %d, layers %d, heads %d, kv heads %d, vocab %d, seq %d\n",
           o.cfg.dim, o.cfg.hidden_dim, o.cfg.n_layers, o.cfg.n_heads, o.cfg.n_kv_heads,
           o.cfg.vocab_size, o.cfg.max_seq_len);
    if ((rc = ep_llm_new(&o.cfg, 1, &cm)) < 0)
        return fail("ep_llm_new", rc);
    if ((rc = ep_cuda_llm_new(cm, &gm)) < 0)
        return fail("ep_cuda_llm_new", rc);
    for (int i = 0; i < o.n_batches; i++)
        max_batch = o.batches[i] > max_batch ? o.batches[i] : max_batch;
    int *toks = malloc((size_t)o.prompt * sizeof(int));
    float *logits = malloc((size_t)max_batch * (size_t)o.cfg.vocab_size * sizeof(float));
    if (!toks || !logits)
        return fail("malloc", EP_ENOMEM);
    for (int i = 0; i < o.prompt; i++)
        toks[i] = (i * 7919 + 13) % o.cfg.vocab_size;
    if (bench_prefill(&o, cm, gm, toks, logits))
        return 1;
    for (int i = 0; i < o.n_batches; i++)
        if (bench_decode(&o, cm, gm, o.batches[i], toks, logits))
            return 1;
    ep_cuda_llm_free(gm);
    ep_llm_free(cm);
    free(toks);
    free(logits);
    return bench_seg(&o);
}
