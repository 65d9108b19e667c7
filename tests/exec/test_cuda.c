/* Tests of the cuda engine against the cpu engine on the same weights: prefill and decode
 * logits and KV caches (GQA, MHA, small and large heads, long prefills), batched decode of
 * several sequences, argument checks, the segmentation net. When no device is usable it
 * checks that the engine fails cleanly, then every test skips saying why and it exits 77;
 * built without CUDA (EPARA_CUDA=OFF or no toolkit) it only says so and exits 77. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_skip.h"

#ifdef EPARA_HAVE_CUDA
#include "epara/exec/engine_cpu.h"
#include "epara/exec/engine_cuda.h"
#include "epara/core/error.h"
#include "rel_diff.h"

/* GPU and CPU sum in different orders; FP32 through a few layers stays well inside this. */
#define TOL 1e-3

static const ep_llm_config tiny = {
        .dim = 64,
        .hidden_dim = 172,
        .n_layers = 2,
        .n_heads = 4,
        .n_kv_heads = 2,
        .vocab_size = 97,
        .max_seq_len = 64,
        .rope_theta = 10000.0f,
        .shared_classifier = 1,
};

static double
max_abs(const float *a, size_t n)
{
    double mag = 0.0;

    for (size_t i = 0; i < n; i++)
        if (fabs((double)a[i]) > mag) /* not fmax: rel_diff.h */
            mag = fabs((double)a[i]);
    return mag;
}

static int
token(int i, int vocab)
{
    return (int)(((unsigned)i * 37u + 11u) % (unsigned)vocab);
}

/* Caches of a cpu and a gpu sequence agree on positions [0, pos). */
static void
check_caches(const ep_llm *cm, const ep_llm_seq *cs, const ep_cuda_llm_seq *gs)
{
    const ep_llm_config *c = ep_llm_get_config(cm);
    size_t kvd = (size_t)c->n_kv_heads * (size_t)(c->dim / c->n_heads);
    size_t per_layer = (size_t)c->max_seq_len * kvd, n = (size_t)c->n_layers * per_layer;
    size_t used = (size_t)ep_llm_seq_pos(cs) * kvd;
    float *k = calloc(n, sizeof(float)), *v = calloc(n, sizeof(float));
    const float *ck, *cv;

    assert_non_null(k);
    assert_non_null(v);
    assert_int_equal(ep_cuda_llm_seq_pos(gs), ep_llm_seq_pos(cs));
    assert_int_equal(ep_cuda_llm_seq_read_cache(gs, k, v), 0);
    ep_llm_seq_cache(cs, &ck, &cv);
    for (int l = 0; l < c->n_layers; l++) {
        size_t off = (size_t)l * per_layer;
        assert_true(rel_diff(k + off, ck + off, used) < TOL);
        assert_true(rel_diff(v + off, cv + off, used) < TOL);
    }
    free(k);
    free(v);
}

/* Prefill of `prompt_len` tokens, then `steps` single decode steps, on both engines. */
static void
check_model(const ep_llm_config *cfg, uint64_t seed, int prompt_len, int steps)
{
    ep_llm *cm = NULL;
    ep_llm_seq *cs = NULL;
    ep_cuda_llm *gm = NULL;
    ep_cuda_llm_seq *gs = NULL;
    size_t V = (size_t)cfg->vocab_size;
    float *want = calloc(V, sizeof(float)), *got = calloc(V, sizeof(float));
    int *prompt = calloc((size_t)prompt_len, sizeof(int));

    assert_non_null(want);
    assert_non_null(got);
    assert_non_null(prompt);
    for (int i = 0; i < prompt_len; i++)
        prompt[i] = token(i, cfg->vocab_size);
    assert_int_equal(ep_llm_new(cfg, seed, &cm), 0);
    assert_int_equal(ep_llm_seq_new(cm, &cs), 0);
    assert_int_equal(ep_cuda_llm_new(cm, &gm), 0);
    assert_int_equal(ep_cuda_llm_seq_new(gm, &gs), 0);
    assert_int_equal(ep_cuda_llm_get_config(gm)->vocab_size, cfg->vocab_size);

    assert_int_equal(ep_llm_prefill(cm, cs, prompt, prompt_len, want), 0);
    assert_int_equal(ep_cuda_llm_prefill(gm, gs, prompt, prompt_len, got), 0);
    assert_true(max_abs(want, V) > 0.1); /* not vacuous */
    assert_true(rel_diff(got, want, V) < TOL);
    for (int i = 0; i < steps; i++) {
        int t = token(1000 + i, cfg->vocab_size);
        assert_int_equal(ep_llm_decode_batch(cm, &cs, &t, 1, want), 0);
        assert_int_equal(ep_cuda_llm_decode_batch(gm, &gs, &t, 1, got), 0);
        assert_true(rel_diff(got, want, V) < TOL);
    }
    assert_int_equal(ep_cuda_llm_seq_pos(gs), prompt_len + steps);
    check_caches(cm, cs, gs);

    ep_cuda_llm_seq_free(gs);
    ep_cuda_llm_free(gm);
    ep_llm_seq_free(cs);
    ep_llm_free(cm);
    free(want);
    free(got);
    free(prompt);
}

static void
test_prefill_and_decode_match_the_cpu_engine(void **state)
{
    needs_device();
    ep_llm_config c = tiny;

    (void)state;
    check_model(&tiny, 1, 7, 5); /* GQA (2 query heads per kv head), tied classifier */
    c.shared_classifier = 0;
    c.n_kv_heads = 4; /* plain multi-head attention */
    c.rope_theta = 500000.0f;
    check_model(&c, 2, 7, 5);
}

static void
test_heads_wider_and_narrower_than_a_warp_match_the_cpu_engine(void **state)
{
    needs_device();
    /* Head size 160: more than a warp's lanes and more than an attention block's threads;
     * 260 positions: more than the block's warps and threads. */
    const ep_llm_config wide = {.dim = 320,
                                .hidden_dim = 300,
                                .n_layers = 2,
                                .n_heads = 2,
                                .n_kv_heads = 1,
                                .vocab_size = 300,
                                .max_seq_len = 300,
                                .rope_theta = 10000.0f,
                                .shared_classifier = 0};
    /* Head size 4, 3 kv heads of 2 query heads each, one layer. */
    const ep_llm_config narrow = {.dim = 24,
                                  .hidden_dim = 40,
                                  .n_layers = 1,
                                  .n_heads = 6,
                                  .n_kv_heads = 3,
                                  .vocab_size = 50,
                                  .max_seq_len = 40,
                                  .rope_theta = 10000.0f,
                                  .shared_classifier = 1};

    (void)state;
    check_model(&wide, 3, 260, 4);
    check_model(&narrow, 4, 30, 10);
}

static void
test_long_prefill_spread_over_several_attention_launches_matches(void **state)
{
    needs_device();
    /* 8 heads x 4096 positions of scores per row: the 2^24-float score buffer holds 512
     * rows, so 700 rows take two launches. */
    const ep_llm_config c = {.dim = 64,
                             .hidden_dim = 96,
                             .n_layers = 1,
                             .n_heads = 8,
                             .n_kv_heads = 2,
                             .vocab_size = 64,
                             .max_seq_len = 4096,
                             .rope_theta = 10000.0f,
                             .shared_classifier = 1};

    (void)state;
    check_model(&c, 5, 700, 2);
}

static void
test_batched_decode_of_several_sequences_matches_the_cpu_engine(void **state)
{
    needs_device();
    ep_llm *cm = NULL;
    ep_cuda_llm *gm = NULL;
    ep_llm_seq *cs[3];
    ep_cuda_llm_seq *gs[3];
    size_t V = (size_t)tiny.vocab_size;
    float *want = calloc(3 * V, sizeof(float)), *got = calloc(3 * V, sizeof(float));
    const int lens[3] = {7, 2, 5};
    int prompt[7];

    (void)state;
    assert_non_null(want);
    assert_non_null(got);
    for (int i = 0; i < 7; i++)
        prompt[i] = token(i, tiny.vocab_size);
    assert_int_equal(ep_llm_new(&tiny, 6, &cm), 0);
    assert_int_equal(ep_cuda_llm_new(cm, &gm), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ep_llm_seq_new(cm, &cs[i]), 0);
        assert_int_equal(ep_cuda_llm_seq_new(gm, &gs[i]), 0);
        /* Different lengths, so the rows of a batch sit at different positions. */
        assert_int_equal(ep_llm_prefill(cm, cs[i], prompt, lens[i], NULL), 0);
        assert_int_equal(ep_cuda_llm_prefill(gm, gs[i], prompt, lens[i], NULL), 0);
    }
    for (int step = 0; step < 6; step++) {
        int toks[3] = {token(step, 97), token(step + 50, 97), token(step * 3 + 7, 97)};
        assert_int_equal(ep_llm_decode_batch(cm, cs, toks, 3, want), 0);
        assert_int_equal(ep_cuda_llm_decode_batch(gm, gs, toks, 3, got), 0);
        for (int i = 0; i < 3; i++)
            assert_true(rel_diff(got + (size_t)i * V, want + (size_t)i * V, V) < TOL);
    }
    /* A batch of two in the other order: rows follow the sequences, not the slots. */
    ep_llm_seq *c2[2] = {cs[2], cs[0]};
    ep_cuda_llm_seq *g2[2] = {gs[2], gs[0]};
    int t2[2] = {5, 6};
    assert_int_equal(ep_llm_decode_batch(cm, c2, t2, 2, want), 0);
    assert_int_equal(ep_cuda_llm_decode_batch(gm, g2, t2, 2, got), 0);
    assert_true(rel_diff(got, want, 2 * V) < TOL);
    for (int i = 0; i < 3; i++)
        check_caches(cm, cs[i], gs[i]);

    for (int i = 0; i < 3; i++) {
        ep_llm_seq_free(cs[i]);
        ep_cuda_llm_seq_free(gs[i]);
    }
    ep_cuda_llm_free(gm);
    ep_llm_free(cm);
    free(want);
    free(got);
}

static void
test_chunked_prefill_bounds_and_bad_arguments_behave_as_the_cpu_engine(void **state)
{
    needs_device();
    ep_llm *cm = NULL;
    ep_cuda_llm *gm = NULL, *other = NULL;
    ep_llm_seq *cs = NULL;
    ep_cuda_llm_seq *gs = NULL, *foreign = NULL;
    size_t V = (size_t)tiny.vocab_size;
    float *want = calloc(V, sizeof(float)), *got = calloc(V, sizeof(float));
    int prompt[7], *many = calloc(58, sizeof(int));

    (void)state;
    assert_non_null(want);
    assert_non_null(got);
    assert_non_null(many);
    for (int i = 0; i < 7; i++)
        prompt[i] = token(i, tiny.vocab_size);
    assert_int_equal(ep_llm_new(&tiny, 7, &cm), 0);
    assert_int_equal(ep_llm_seq_new(cm, &cs), 0);
    assert_int_equal(ep_cuda_llm_new(cm, &gm), 0);
    assert_int_equal(ep_cuda_llm_new(cm, &other), 0);
    assert_int_equal(ep_cuda_llm_seq_new(gm, &gs), 0);
    assert_int_equal(ep_cuda_llm_seq_new(other, &foreign), 0);

    /* Chunked: 4 tokens, then 3 from position 4, against the whole prompt on the cpu. */
    assert_int_equal(ep_llm_prefill(cm, cs, prompt, 7, want), 0);
    assert_int_equal(ep_cuda_llm_prefill(gm, gs, prompt, 4, NULL), 0);
    assert_int_equal(ep_cuda_llm_prefill(gm, gs, prompt + 4, 3, got), 0);
    assert_true(rel_diff(got, want, V) < TOL);
    check_caches(cm, cs, gs);

    /* Rejected calls change neither the position nor the logits. */
    for (size_t i = 0; i < V; i++)
        got[i] = -7.0f;
    int bad_tok[2] = {1, 97}, neg_tok = -1, two[2] = {1, 2};
    ep_cuda_llm_seq *dup[2] = {gs, gs}, *mixed[2] = {gs, foreign}, *with_null[2] = {gs, NULL};
    assert_int_equal(ep_cuda_llm_prefill(gm, gs, many, 58, got), EP_ERANGE);
    assert_int_equal(ep_cuda_llm_prefill(gm, gs, bad_tok, 2, got), EP_EINVAL);
    assert_int_equal(ep_cuda_llm_prefill(gm, gs, &neg_tok, 1, got), EP_EINVAL);
    assert_int_equal(ep_cuda_llm_prefill(gm, gs, prompt, 0, got), EP_EINVAL);
    assert_int_equal(ep_cuda_llm_prefill(gm, foreign, prompt, 1, got), EP_EINVAL);
    assert_int_equal(ep_cuda_llm_prefill(NULL, gs, prompt, 1, got), EP_EINVAL);
    assert_int_equal(ep_cuda_llm_decode_batch(gm, dup, two, 2, got), EP_EINVAL);
    assert_int_equal(ep_cuda_llm_decode_batch(gm, mixed, two, 2, got), EP_EINVAL);
    assert_int_equal(ep_cuda_llm_decode_batch(gm, with_null, two, 2, got), EP_EINVAL);
    assert_int_equal(ep_cuda_llm_decode_batch(gm, &gs, bad_tok + 1, 1, got), EP_EINVAL);
    assert_int_equal(ep_cuda_llm_decode_batch(gm, &gs, two, 0, got), EP_EINVAL);
    assert_int_equal(ep_cuda_llm_seq_pos(gs), 7);
    for (size_t i = 0; i < V; i++)
        assert_true(got[i] == -7.0f);
    assert_int_equal(ep_cuda_llm_seq_read_cache(NULL, got, NULL), EP_EINVAL);

    /* The cache is bounded: 64 - 7 = 57 more tokens fit, then no decode step. */
    assert_int_equal(ep_cuda_llm_prefill(gm, gs, many, 57, got), 0);
    assert_int_equal(ep_cuda_llm_seq_pos(gs), 64);
    assert_int_equal(ep_cuda_llm_decode_batch(gm, &gs, many, 1, got), EP_ERANGE);
    assert_int_equal(ep_cuda_llm_seq_pos(gs), 64);

    /* After a reset the sequence starts over: same logits as the first time. */
    ep_cuda_llm_seq_reset(gs);
    assert_int_equal(ep_cuda_llm_seq_pos(gs), 0);
    assert_int_equal(ep_cuda_llm_prefill(gm, gs, prompt, 7, got), 0);
    assert_true(rel_diff(got, want, V) < TOL);

    ep_cuda_llm_seq_free(gs);
    ep_cuda_llm_seq_free(foreign);
    ep_cuda_llm_free(gm);
    ep_cuda_llm_free(other);
    ep_llm_seq_free(cs);
    ep_llm_free(cm);
    ep_cuda_llm_free(NULL);
    ep_cuda_llm_seq_free(NULL);
    free(want);
    free(got);
    free(many);
}

/* ---- segmentation net ---- */

static float *
image(size_t n, unsigned salt)
{
    float *p = calloc(n, sizeof(float));

    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (float)sin(0.37 * (double)i + salt) * 2.0f;
    return p;
}

static void
check_seg(const ep_seg_config *cfg, int batch, int h, int w)
{
    ep_seg *cn = NULL;
    ep_cuda_seg *gn = NULL;
    size_t in_n = (size_t)batch * (size_t)(cfg->in_channels * h * w);
    size_t out_n = (size_t)batch * (size_t)(cfg->n_classes * h * w);
    float *x = image(in_n, (unsigned)h), *want = calloc(out_n, sizeof(float));
    float *got = calloc(out_n, sizeof(float));

    assert_non_null(want);
    assert_non_null(got);
    assert_int_equal(ep_seg_new(cfg, 21, &cn), 0);
    assert_int_equal(ep_cuda_seg_new(cn, &gn), 0);
    assert_int_equal(ep_cuda_seg_get_config(gn)->n_classes, cfg->n_classes);
    assert_int_equal(ep_seg_forward(cn, x, batch, h, w, want), 0);
    assert_int_equal(ep_cuda_seg_forward(gn, x, batch, h, w, got), 0);
    assert_true(max_abs(want, out_n) > 0.1);
    assert_true(rel_diff(got, want, out_n) < TOL);
    /* Each image alone gives its slice of the batch. */
    size_t one = out_n / (size_t)batch;
    assert_int_equal(ep_cuda_seg_forward(gn, x + in_n / (size_t)batch, 1, h, w, got), 0);
    assert_true(rel_diff(got, want + one, one) < TOL);
    ep_cuda_seg_free(gn);
    ep_seg_free(cn);
    free(x);
    free(want);
    free(got);
}

static void
test_segmentation_net_matches_the_cpu_net(void **state)
{
    needs_device();
    const ep_seg_config small = {.in_channels = 3, .width = 8, .n_classes = 5};
    const ep_seg_config wider = {.in_channels = 1, .width = 24, .n_classes = 3};

    (void)state;
    check_seg(&small, 3, 12, 10);
    check_seg(&wider, 2, 64, 48);
    check_seg(&small, 2, 2, 2);
}

static void
test_segmentation_net_rejects_bad_arguments(void **state)
{
    needs_device();
    const ep_seg_config cfg = {.in_channels = 3, .width = 8, .n_classes = 5};
    ep_seg *cn = NULL;
    ep_cuda_seg *gn = NULL, *none = NULL;
    float *x = image(3 * 12 * 10, 1), *out = calloc(5 * 12 * 10, sizeof(float));

    (void)state;
    assert_non_null(out);
    assert_int_equal(ep_seg_new(&cfg, 22, &cn), 0);
    assert_int_equal(ep_cuda_seg_new(cn, &gn), 0);
    assert_int_equal(ep_cuda_seg_forward(gn, x, 1, 11, 10, out), EP_EINVAL);
    assert_int_equal(ep_cuda_seg_forward(gn, x, 0, 12, 10, out), EP_EINVAL);
    assert_int_equal(ep_cuda_seg_forward(gn, x, 1, 12, 10, NULL), EP_EINVAL);
    assert_int_equal(ep_cuda_seg_forward(gn, x, 1, 12, 8192, out), EP_EINVAL);
    assert_int_equal(ep_cuda_seg_new(NULL, &none), EP_EINVAL);
    assert_null(none);
    ep_cuda_seg_free(gn);
    ep_cuda_seg_free(NULL);
    ep_seg_free(cn);
    free(x);
    free(out);
}

/* Without a usable device the engine must fail with an error code, never abort. */
static int
fails_cleanly_without_a_device(void)
{
    ep_llm *cm = NULL;
    ep_cuda_llm *gm = NULL;
    int rc;

    if (ep_llm_new(&tiny, 1, &cm) != 0)
        return 0;
    rc = ep_cuda_llm_new(cm, &gm);
    ep_llm_free(cm);
    if (rc >= 0 || gm) {
        ep_cuda_llm_free(gm);
        return 0;
    }
    printf("without a device ep_cuda_llm_new returns %s (%s)\n", ep_strerror(rc),
           ep_cuda_last_error());
    return rc == EP_ENOTSUP && ep_cuda_last_error()[0] != '\0';
}

int
main(void)
{
    if (!ep_cuda_available()) {
        snprintf(skip_why, sizeof skip_why, "no usable CUDA device (%s)", ep_cuda_last_error());
        printf("skipping every test: %s\n", skip_why);
        if (!fails_cleanly_without_a_device())
            return 1;
    }
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_prefill_and_decode_match_the_cpu_engine),
            cmocka_unit_test(test_heads_wider_and_narrower_than_a_warp_match_the_cpu_engine),
            cmocka_unit_test(test_long_prefill_spread_over_several_attention_launches_matches),
            cmocka_unit_test(test_batched_decode_of_several_sequences_matches_the_cpu_engine),
            cmocka_unit_test(
                    test_chunked_prefill_bounds_and_bad_arguments_behave_as_the_cpu_engine),
            cmocka_unit_test(test_segmentation_net_matches_the_cpu_net),
            cmocka_unit_test(test_segmentation_net_rejects_bad_arguments),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    return failed ? 1 : skip_why[0] ? 77 : 0;
}
#endif
