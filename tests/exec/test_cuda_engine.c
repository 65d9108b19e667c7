/* Tests of the cuda kind of the engine interface against the cpu kind opened with the same
 * options: greedy next tokens and positions through prefills, chunked prefills, mixed and
 * batched iterations, clamping at max_seq_len and released slots; DNN batches; descriptions.
 * Without a usable device it checks that the kind says it is not available and that opening
 * it fails cleanly ("no CUDA device"), then every test skips saying why and it exits 77;
 * built without CUDA (EPARA_CUDA=OFF or no toolkit) it only says so and exits 77. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_skip.h"

#ifdef EPARA_HAVE_CUDA
#include "epara/exec/engine.h"
#include "epara/core/error.h"

#include "engine_fixture.h"

/* Greedy tokens can only agree where the top two logits differ by more than the engines'
 * rounding differences: under this seed the smallest gap over every argmax of these tests is
 * 0.48% of the largest logit (measured on the cpu engine), while each logit differs by less
 * than 0.1% of it (test_cuda's tolerance), a gap by less than 0.2%. Another seed or shape
 * needs that margin checked again. */
#define SEED  11
#define SLOTS 8

typedef struct fixture {
    engine_scene scene;
    ep_engine *cpu, *gpu;
} fixture;

/* An LLM or DNN instance of the same service on both engines. */
typedef struct pair {
    ep_engine_inst *cpu, *gpu;
} pair;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    ep_engine_opts o;
    char err[256] = "";

    if (!f)
        return -1;
    engine_scene_init(&f->scene);
    engine_opts_init(&o, EP_ENGINE_CPU, SEED, SLOTS);
    if (ep_engine_open(&f->scene.sc, &o, &f->cpu, err, sizeof err)) {
        fprintf(stderr, "cpu engine: %s\n", err);
        free(f);
        return -1;
    }
    engine_opts_init(&o, EP_ENGINE_CUDA, SEED, SLOTS);
    if (ep_engine_open(&f->scene.sc, &o, &f->gpu, err, sizeof err)) {
        fprintf(stderr, "cuda engine: %s\n", err);
        ep_engine_close(f->cpu);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    fixture *f = *state;
    ep_engine_close(f->gpu);
    ep_engine_close(f->cpu);
    free(f);
    return 0;
}

static pair
load_pair(const fixture *f, int svc)
{
    pair p = {NULL, NULL};
    char err[256] = "";

    if (ep_engine_load(f->cpu, svc, 0, &p.cpu, err, sizeof err))
        fail_msg("cpu load: %s", err);
    if (ep_engine_load(f->gpu, svc, 0, &p.gpu, err, sizeof err))
        fail_msg("cuda load: %s", err);
    return p;
}

static void
unload_pair(pair p)
{
    ep_engine_unload(p.cpu);
    ep_engine_unload(p.gpu);
}

/* Every slot agrees between the engines: position, and the greedy next token of a slot that
 * holds a sequence. */
static void
check_slots(pair p, const char *when)
{
    for (int s = 0; s < SLOTS; s++) {
        int64_t pos = ep_engine_llm_pos(p.cpu, s);
        assert_int_equal(ep_engine_llm_pos(p.gpu, s), pos);
        int want = ep_engine_llm_next_token(p.cpu, s), got = ep_engine_llm_next_token(p.gpu, s);
        if (got != want)
            fail_msg("%s: slot %d (position %lld): cuda next token %d, cpu %d", when, s,
                     (long long)pos, got, want);
        if (pos == 0)
            assert_int_equal(got, EP_EINVAL);
        else
            assert_true(got >= 0 && got < tiny.vocab_size);
    }
}

/* Runs one iteration on both engines; both must succeed, report a time and agree. */
static void
iter_both(pair p, const ep_engine_work *w, int n, const char *when)
{
    ep_dur took_cpu = -1, took_gpu = -1;

    assert_int_equal(ep_engine_llm_iter(p.cpu, w, n, 0, &took_cpu), 0);
    assert_int_equal(ep_engine_llm_iter(p.gpu, w, n, 0, &took_gpu), 0);
    assert_true(took_cpu > 0);
    assert_true(took_gpu > 0);
    check_slots(p, when);
}

static void
decode_both(pair p, const int *slots, int n, int steps)
{
    ep_engine_work w[SLOTS];
    char when[64];

    for (int k = 0; k < n; k++)
        w[k] = (ep_engine_work){.slot = slots[k], .tokens = 1, .decode = 1};
    for (int t = 0; t < steps; t++) {
        snprintf(when, sizeof when, "decode step %d", t);
        iter_both(p, w, n, when);
    }
}

static void
test_greedy_tokens_match_the_cpu_engine_through_mixed_iterations(void **state)
{
    needs_device();
    const fixture *f = *state;
    pair p = load_pair(f, LLM);

    const ep_engine_work a[] = {{.slot = 0, .tokens = 5, .decode = 0},
                                {.slot = 1, .tokens = 3, .decode = 0}};
    iter_both(p, a, 2, "two prefills");
    const ep_engine_work b[] = {{.slot = 0, .tokens = 1, .decode = 1},
                                {.slot = 2, .tokens = 7, .decode = 0},
                                {.slot = 1, .tokens = 1, .decode = 1}};
    iter_both(p, b, 3, "prefill among decodes");
    const ep_engine_work c[] = {{.slot = 2, .tokens = 4, .decode = 0},
                                {.slot = 1, .tokens = 1, .decode = 1},
                                {.slot = 0, .tokens = 1, .decode = 1},
                                {.slot = 3, .tokens = 1, .decode = 0}};
    iter_both(p, c, 4, "chunked prefill among decodes");
    const int all[] = {3, 0, 2, 1};
    decode_both(p, all, 4, 3);
    assert_int_equal(ep_engine_llm_pos(p.gpu, 2), 7 + 4 + 3);
    unload_pair(p);
}

static void
test_clamping_at_max_seq_len_matches_the_cpu_engine(void **state)
{
    needs_device();
    const fixture *f = *state;
    pair p = load_pair(f, LLM);

    assert_int_equal(ep_engine_llm_max_tokens(p.gpu), tiny.max_seq_len);
    /* A prompt longer than the cache computes its last max_seq_len tokens. */
    const ep_engine_work a[] = {{.slot = 0, .tokens = tiny.max_seq_len + 5, .decode = 0},
                                {.slot = 1, .tokens = tiny.max_seq_len - 3, .decode = 0}};
    iter_both(p, a, 2, "prompt longer than the cache");
    /* Decodes past the end drop the newest cached tokens. */
    const int both[] = {0, 1};
    decode_both(p, both, 2, 6);
    /* A chunk onto a full cache makes room the same way. */
    const ep_engine_work b[] = {{.slot = 1, .tokens = 4, .decode = 0},
                                {.slot = 0, .tokens = 1, .decode = 1}};
    iter_both(p, b, 2, "chunk onto a full cache");
    assert_int_equal(ep_engine_llm_pos(p.gpu, 0), tiny.max_seq_len + 5 + 6 + 1);
    assert_int_equal(ep_engine_llm_pos(p.gpu, 1), tiny.max_seq_len - 3 + 6 + 4);
    unload_pair(p);
}

static void
test_released_slot_starts_afresh_like_the_cpu_engine(void **state)
{
    needs_device();
    const fixture *f = *state;
    pair p = load_pair(f, LLM);

    const ep_engine_work pre[] = {{.slot = 5, .tokens = 6, .decode = 0}};
    iter_both(p, pre, 1, "first prompt");
    int first = ep_engine_llm_next_token(p.gpu, 5);
    const int one[] = {5};
    decode_both(p, one, 1, 2);
    ep_engine_llm_release(p.cpu, 5);
    ep_engine_llm_release(p.gpu, 5);
    check_slots(p, "after release");
    /* Prompt tokens depend on (seed, slot, position): the same prompt again. */
    iter_both(p, pre, 1, "prompt again");
    assert_int_equal(ep_engine_llm_next_token(p.gpu, 5), first);
    unload_pair(p);
}

static void
test_bad_work_is_refused_and_changes_nothing(void **state)
{
    needs_device();
    const fixture *f = *state;
    pair p = load_pair(f, LLM);
    ep_dur took = -1;

    const ep_engine_work empty_decode[] = {{.slot = 2, .tokens = 1, .decode = 1}};
    assert_int_equal(ep_engine_llm_iter(p.gpu, empty_decode, 1, 0, &took), EP_EINVAL);
    const ep_engine_work repeated[] = {{.slot = 1, .tokens = 2, .decode = 0},
                                       {.slot = 1, .tokens = 2, .decode = 0}};
    assert_int_equal(ep_engine_llm_iter(p.gpu, repeated, 2, 0, &took), EP_EINVAL);
    assert_int_equal(took, -1);
    assert_int_equal(ep_engine_dnn_batch(p.gpu, 1, 0, &took), EP_EINVAL);
    check_slots(p, "after refused work");
    unload_pair(p);
}

static void
test_dnn_batches_run_on_the_device(void **state)
{
    needs_device();
    const fixture *f = *state;
    pair p = load_pair(f, DNN);
    const int batches[] = {1, 4, 2, 9};

    for (size_t k = 0; k < sizeof batches / sizeof batches[0]; k++) {
        ep_dur took = -1;
        assert_int_equal(ep_engine_dnn_batch(p.gpu, batches[k], 0, &took), 0);
        assert_true(took > 0);
    }
    ep_engine_work w = {.slot = 0, .tokens = 1, .decode = 0};
    ep_dur took = -1;
    assert_int_equal(ep_engine_llm_iter(p.gpu, &w, 1, 0, &took), EP_EINVAL);
    assert_int_equal(ep_engine_llm_slots(p.gpu), 0);
    unload_pair(p);
}

static void
test_describe_names_the_shape_and_the_device(void **state)
{
    needs_device();
    const fixture *f = *state;
    pair l = load_pair(f, LLM), d = load_pair(f, DNN);
    char buf[EP_ENGINE_SHAPE_MAX];

    assert_int_equal(ep_engine_get_kind(f->gpu), EP_ENGINE_CUDA);
    ep_engine_inst_describe(l.gpu, buf, sizeof buf);
    printf("%s\n", buf);
    assert_non_null(strstr(buf, "cuda llm dim=32,hidden=64,layers=2,heads=4,kv_heads=2,vocab=61,"
                                "seq=16 on "));
    ep_engine_inst_describe(d.gpu, buf, sizeof buf);
    printf("%s\n", buf);
    assert_non_null(strstr(buf, "cuda dnn channels=3,width=4,classes=5,side=8 on "));
    unload_pair(l);
    unload_pair(d);
}

/* Without a device the kind is unavailable and opening it fails with a message, no abort. */
static int
fails_cleanly_without_a_device(void)
{
    engine_scene s;
    ep_engine_opts o;
    ep_engine *e = NULL;
    char err[256] = "";

    memset(&s, 0, sizeof s);
    engine_scene_init(&s);
    engine_opts_init(&o, EP_ENGINE_CUDA, SEED, SLOTS);
    int rc = ep_engine_open(&s.sc, &o, &e, err, sizeof err);
    printf("without a device: ep_engine_open returns %s: %s\n", ep_strerror(rc), err);
    snprintf(skip_why, sizeof skip_why, "no usable CUDA device: the cuda engine says \"%s\"", err);
    if (rc != EP_ENOTSUP || e || strncmp(err, "no CUDA device", 14) != 0) {
        ep_engine_close(e);
        return 0;
    }
    engine_opts_init(&o, EP_ENGINE_CPU, SEED, SLOTS);
    if (ep_engine_open(&s.sc, &o, &e, err, sizeof err) != 0)
        return 0;
    ep_engine_close(e);
    return 1;
}

int
main(void)
{
    if (!ep_engine_kind_available(EP_ENGINE_CUDA)) {
        /* Also names the cause (ep_engine_open's message) in skip_why. */
        if (!fails_cleanly_without_a_device())
            return 1;
        printf("skipping every test: %s\n", skip_why);
    }
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_greedy_tokens_match_the_cpu_engine_through_mixed_iterations),
            cmocka_unit_test(test_clamping_at_max_seq_len_matches_the_cpu_engine),
            cmocka_unit_test(test_released_slot_starts_afresh_like_the_cpu_engine),
            cmocka_unit_test(test_bad_work_is_refused_and_changes_nothing),
            cmocka_unit_test(test_dnn_batches_run_on_the_device),
            cmocka_unit_test(test_describe_names_the_shape_and_the_device),
    };
    /* Without a device the group's setup (which opens the cuda engine) cannot run. */
    int failed = skip_why[0] ? cmocka_run_group_tests(tests, NULL, NULL)
                             : cmocka_run_group_tests(tests, setup, teardown);
    return failed ? 1 : skip_why[0] ? 77 : 0;
}
#endif
