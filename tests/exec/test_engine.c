/* Tests of the engine interface: kind parsing, the emulated engine's sleeps, LLM slot rules
 * shared by every kind, and the cpu engine against the cpu kernels run directly (same
 * weights, prompt tokens, greedy decode, clamping at max_seq_len). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/exec/engine.h"
#include "epara/core/error.h"

#include "engine_fixture.h"

#define SEED 7

typedef engine_scene fixture;

static int
setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    engine_scene_init(f);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    free(*state);
    return 0;
}

static ep_engine *
open_kind(const fixture *f, ep_engine_kind kind, int slots)
{
    ep_engine_opts o;
    ep_engine *e = NULL;
    char err[256] = "";

    engine_opts_init(&o, kind, SEED, slots);
    int rc = ep_engine_open(&f->sc, &o, &e, err, sizeof err);
    if (rc)
        fail_msg("ep_engine_open: %s", err);
    return e;
}

static ep_engine_inst *
load(ep_engine *e, int svc)
{
    ep_engine_inst *i = NULL;
    char err[256] = "";
    if (ep_engine_load(e, svc, 0, &i, err, sizeof err))
        fail_msg("ep_engine_load: %s", err);
    return i;
}

static int
iter1(ep_engine_inst *i, int slot, int tokens, int decode)
{
    ep_engine_work w = {.slot = slot, .tokens = tokens, .decode = decode};
    ep_dur took;
    return ep_engine_llm_iter(i, &w, 1, 0, &took);
}

static int
argmax(const float *x, int n)
{
    int best = 0;
    for (int k = 1; k < n; k++)
        if (x[k] > x[best])
            best = k;
    return best;
}

/* ---- kinds and options ---- */

static void
test_kind_parse_accepts_the_three_names_only(void **state)
{
    (void)state;
    ep_engine_kind k = EP_ENGINE_CUDA;
    assert_int_equal(ep_engine_kind_parse("emulated", &k), 0);
    assert_int_equal(k, EP_ENGINE_EMULATED);
    assert_int_equal(ep_engine_kind_parse("cpu", &k), 0);
    assert_int_equal(k, EP_ENGINE_CPU);
    assert_int_equal(ep_engine_kind_parse("cuda", &k), 0);
    assert_int_equal(k, EP_ENGINE_CUDA);
    k = EP_ENGINE_CPU;
    assert_int_equal(ep_engine_kind_parse("CPU", &k), EP_EINVAL);
    assert_int_equal(ep_engine_kind_parse("gpu", &k), EP_EINVAL);
    assert_int_equal(ep_engine_kind_parse("", &k), EP_EINVAL);
    assert_int_equal(ep_engine_kind_parse(NULL, &k), EP_EINVAL);
    assert_int_equal(k, EP_ENGINE_CPU);
    assert_string_equal(ep_engine_kind_name(EP_ENGINE_EMULATED), "emulated");
    assert_string_equal(ep_engine_kind_name(EP_ENGINE_CUDA), "cuda");
    assert_true(ep_engine_kind_available(EP_ENGINE_EMULATED));
    assert_true(ep_engine_kind_available(EP_ENGINE_CPU));
}

/* Unavailable: either not built (EP_EINVAL) or built without a device (EP_ENOTSUP; the
 * cuda build's own test, test_cuda_engine, checks that case on its own). */
static void
test_cuda_open_says_why_when_unavailable(void **state)
{
    fixture *f = *state;
    if (ep_engine_kind_available(EP_ENGINE_CUDA))
        skip();
    ep_engine_opts o;
    ep_engine_opts_default(&o);
    o.kind = EP_ENGINE_CUDA;
    ep_engine *e = NULL;
    char err[256] = "";
    int rc = ep_engine_open(&f->sc, &o, &e, err, sizeof err);
    assert_null(e);
    if (rc == EP_EINVAL)
        assert_string_equal(err, "cuda engine not built");
    else {
        assert_int_equal(rc, EP_ENOTSUP);
        assert_non_null(strstr(err, "no CUDA device"));
    }
}

static void
test_shapes_parse_named_keys_and_refuse_bad_ones(void **state)
{
    (void)state;
    ep_llm_config c = tiny;
    char err[128];
    assert_int_equal(ep_engine_llm_shape_parse("dim=64,layers=3,seq=100", &c, err, sizeof err), 0);
    assert_int_equal(c.dim, 64);
    assert_int_equal(c.n_layers, 3);
    assert_int_equal(c.max_seq_len, 100);
    assert_int_equal(c.hidden_dim, tiny.hidden_dim);
    ep_llm_config before = c;
    assert_int_equal(ep_engine_llm_shape_parse("depth=3", &c, err, sizeof err), EP_EINVAL);
    assert_non_null(strstr(err, "unknown key 'depth'"));
    assert_int_equal(ep_engine_llm_shape_parse("dim=63", &c, err, sizeof err), EP_EINVAL);
    assert_int_equal(ep_engine_llm_shape_parse("heads=3", &c, err, sizeof err), EP_EINVAL);
    assert_int_equal(ep_engine_llm_shape_parse("dim=", &c, err, sizeof err), EP_EINVAL);
    assert_int_equal(ep_engine_llm_shape_parse("dim=12x", &c, err, sizeof err), EP_EINVAL);
    assert_int_equal(ep_engine_llm_shape_parse("", &c, err, sizeof err), EP_EINVAL);
    assert_memory_equal(&c, &before, sizeof c);

    ep_seg_config s = {.in_channels = 3, .width = 4, .n_classes = 5};
    int side = 8;
    assert_int_equal(ep_engine_dnn_shape_parse("width=8,side=32", &s, &side, err, sizeof err), 0);
    assert_int_equal(s.width, 8);
    assert_int_equal(side, 32);
    assert_int_equal(ep_engine_dnn_shape_parse("side=31", &s, &side, err, sizeof err), EP_EINVAL);
    assert_int_equal(side, 32);
}

static void
test_open_refuses_bad_options(void **state)
{
    fixture *f = *state;
    ep_engine_opts o;
    ep_engine *e = NULL;
    char err[128] = "";
    ep_engine_opts_default(&o);
    o.kind = EP_ENGINE_CPU;
    o.llm.n_heads = 3;
    assert_int_equal(ep_engine_open(&f->sc, &o, &e, err, sizeof err), EP_EINVAL);
    assert_non_null(strstr(err, "LLM shape"));
    ep_engine_opts_default(&o);
    o.llm_slots = 0;
    assert_int_equal(ep_engine_open(&f->sc, &o, &e, err, sizeof err), EP_EINVAL);
    assert_null(e);
}

static void
test_load_refuses_unknown_service_or_device(void **state)
{
    fixture *f = *state;
    ep_engine *e = open_kind(f, EP_ENGINE_EMULATED, 4);
    ep_engine_inst *i = NULL;
    char err[128] = "";
    assert_int_equal(ep_engine_load(e, 2, 0, &i, err, sizeof err), EP_EINVAL);
    assert_int_equal(ep_engine_load(e, -1, 0, &i, err, sizeof err), EP_EINVAL);
    assert_int_equal(ep_engine_load(e, LLM, 1, &i, err, sizeof err), EP_EINVAL);
    assert_null(i);
    ep_engine_close(e);
}

/* ---- emulated ---- */

static void
test_emulated_sleeps_about_the_estimate(void **state)
{
    fixture *f = *state;
    ep_engine *e = open_kind(f, EP_ENGINE_EMULATED, 4);
    ep_engine_inst *d = load(e, DNN), *l = load(e, LLM);
    /* Never shorter than the estimate; the upper bound only catches gross mistakes (a unit
     * off by 1000): a loaded machine may wake a sleeper late. */
    const ep_dur slack = 2 * EP_NS_PER_S, est = 20 * EP_NS_PER_MS;
    ep_dur took = -1;

    assert_int_equal(ep_engine_dnn_batch(d, 4, est, &took), 0);
    assert_true(took >= est && took < est + slack);
    assert_int_equal(ep_engine_dnn_batch(d, 1, 0, &took), 0);
    assert_true(took >= 0 && took < slack);
    ep_engine_work w[2] = {{.slot = 0, .tokens = 9}, {.slot = 1, .tokens = 3}};
    assert_int_equal(ep_engine_llm_iter(l, w, 2, est / 4, &took), 0);
    assert_true(took >= est / 4 && took < est / 4 + slack);
    assert_int_equal(ep_engine_llm_pos(l, 0), 9);
    assert_int_equal(ep_engine_llm_next_token(l, 0), EP_ENOTSUP);
    assert_int_equal(ep_engine_llm_max_tokens(l), 0);
    char what[EP_ENGINE_SHAPE_MAX];
    ep_engine_inst_describe(l, what, sizeof what);
    assert_string_equal(what, "emulated");
    ep_engine_unload(d);
    ep_engine_unload(l);
    ep_engine_close(e);
}

/* Slot rules live in the interface, so every kind enforces them the same way. */
static void
test_llm_iteration_refuses_bad_work_and_changes_nothing(void **state)
{
    fixture *f = *state;
    ep_engine_kind kinds[] = {EP_ENGINE_EMULATED, EP_ENGINE_CPU};
    for (size_t k = 0; k < EP_ARRAY_LEN(kinds); k++) {
        ep_engine *e = open_kind(f, kinds[k], 4);
        ep_engine_inst *l = load(e, LLM), *d = load(e, DNN);
        ep_dur took = -1;
        assert_int_equal(ep_engine_llm_slots(l), 4);
        assert_int_equal(ep_engine_llm_slots(d), 0);
        assert_int_equal(iter1(l, 0, 1, 1), EP_EINVAL);  /* decode on an empty slot */
        assert_int_equal(iter1(l, 4, 3, 0), EP_EINVAL);  /* slot out of range */
        assert_int_equal(iter1(l, -1, 3, 0), EP_EINVAL); /* slot out of range */
        assert_int_equal(iter1(l, 0, 0, 0), EP_EINVAL);  /* no tokens */
        assert_int_equal(iter1(l, 0, 5, 0), 0);
        assert_int_equal(iter1(l, 0, 2, 1), EP_EINVAL); /* decode of two tokens */
        ep_engine_work dup[2] = {{.slot = 0, .tokens = 1, .decode = 1}, {.slot = 0, .tokens = 2}};
        assert_int_equal(ep_engine_llm_iter(l, dup, 2, 0, &took), EP_EINVAL);
        assert_int_equal(ep_engine_llm_iter(l, dup, 0, 0, &took), EP_EINVAL);
        assert_int_equal(took, -1);
        assert_int_equal(ep_engine_llm_pos(l, 0), 5);
        assert_int_equal(ep_engine_llm_pos(l, 9), EP_EINVAL);
        assert_int_equal(ep_engine_dnn_batch(l, 1, 0, &took), EP_EINVAL);
        assert_int_equal(ep_engine_llm_iter(d, dup, 1, 0, &took), EP_EINVAL);
        assert_int_equal(ep_engine_dnn_batch(d, 0, 0, &took), EP_EINVAL);
        assert_int_equal(ep_engine_dnn_batch(d, EP_ENGINE_BATCH_MAX + 1, 0, &took), EP_EINVAL);
        assert_int_equal(ep_engine_llm_pos(d, 0), EP_EINVAL);
        assert_int_equal(iter1(l, 0, 1, 1), 0);
        assert_int_equal(ep_engine_llm_pos(l, 0), 6);
        ep_engine_llm_release(l, 0);
        ep_engine_llm_release(l, 99); /* out of range: ignored */
        assert_int_equal(ep_engine_llm_pos(l, 0), 0);
        assert_int_equal(ep_engine_llm_next_token(l, 0), EP_EINVAL);
        assert_int_equal(iter1(l, 0, 1, 1), EP_EINVAL);
        ep_engine_unload(l);
        ep_engine_unload(d);
        ep_engine_close(e);
    }
}

/* ---- cpu against the kernels ---- */

typedef struct refseq {
    ep_llm_seq *s;
    int slot;
    int64_t logical; /* tokens taken in */
    int next;
} refseq;

static void
ref_prefill(const ep_llm *m, refseq *r, int tokens)
{
    int max = tiny.max_seq_len, n = tokens < max ? tokens : max;
    int toks[64];
    float logits[64];
    assert_true(n <= 64 && tiny.vocab_size <= 64);
    if (ep_llm_seq_pos(r->s) > max - n)
        ep_llm_seq_truncate(r->s, max - n);
    for (int k = 0; k < n; k++)
        toks[k] =
                ep_engine_prompt_token(SEED, r->slot, r->logical + tokens - n + k, tiny.vocab_size);
    assert_int_equal(ep_llm_prefill(m, r->s, toks, n, logits), 0);
    r->next = argmax(logits, tiny.vocab_size);
    r->logical += tokens;
}

static void
ref_decode(const ep_llm *m, refseq **rs, int n)
{
    ep_llm_seq *seqs[8];
    int toks[8];
    float logits[8 * 64];
    for (int k = 0; k < n; k++) {
        if (ep_llm_seq_pos(rs[k]->s) >= tiny.max_seq_len)
            ep_llm_seq_truncate(rs[k]->s, tiny.max_seq_len - 1);
        seqs[k] = rs[k]->s;
        toks[k] = rs[k]->next;
    }
    assert_int_equal(ep_llm_decode_batch(m, seqs, toks, n, logits), 0);
    for (int k = 0; k < n; k++) {
        rs[k]->next = argmax(logits + k * tiny.vocab_size, tiny.vocab_size);
        rs[k]->logical++;
    }
}

static void
test_cpu_llm_matches_the_kernels_run_directly(void **state)
{
    fixture *f = *state;
    ep_engine *e = open_kind(f, EP_ENGINE_CPU, 8);
    ep_engine_inst *l = load(e, LLM);
    ep_llm *m;
    assert_int_equal(ep_llm_new(&tiny, ep_engine_model_seed(SEED, LLM), &m), 0);
    refseq a = {.slot = 3}, b = {.slot = 5}, c = {.slot = 6};
    assert_int_equal(ep_llm_seq_new(m, &a.s), 0);
    assert_int_equal(ep_llm_seq_new(m, &b.s), 0);
    assert_int_equal(ep_llm_seq_new(m, &c.s), 0);
    assert_int_equal(ep_engine_llm_max_tokens(l), tiny.max_seq_len);
    char what[EP_ENGINE_SHAPE_MAX];
    ep_engine_inst_describe(l, what, sizeof what);
    assert_string_equal(what, "cpu llm dim=32,hidden=64,layers=2,heads=4,kv_heads=2,vocab=61,"
                              "seq=16");

    /* One iteration: a 7-token prompt on slot 3, the first 4-token chunk of slot 5. */
    ep_engine_work w1[2] = {{.slot = 3, .tokens = 7}, {.slot = 5, .tokens = 4}};
    ep_dur took = -1;
    assert_int_equal(ep_engine_llm_iter(l, w1, 2, 0, &took), 0);
    assert_true(took > 0);
    ref_prefill(m, &a, 7);
    ref_prefill(m, &b, 4);
    assert_int_equal(ep_engine_llm_next_token(l, 3), a.next);
    assert_int_equal(ep_engine_llm_next_token(l, 5), b.next);

    /* Mixed: slot 5's second chunk, a new prompt on slot 6 and a decode of slot 3. */
    ep_engine_work w2[3] = {{.slot = 3, .tokens = 1, .decode = 1},
                            {.slot = 5, .tokens = 3},
                            {.slot = 6, .tokens = 2}};
    assert_int_equal(ep_engine_llm_iter(l, w2, 3, 0, &took), 0);
    ref_prefill(m, &b, 3);
    ref_prefill(m, &c, 2);
    refseq *d1[1] = {&a};
    ref_decode(m, d1, 1);
    assert_int_equal(ep_engine_llm_next_token(l, 3), a.next);
    assert_int_equal(ep_engine_llm_next_token(l, 5), b.next);
    assert_int_equal(ep_engine_llm_next_token(l, 6), c.next);

    /* Decode steps of all three as one batch, past max_seq_len (16): the engine clamps. */
    ep_engine_work w3[3] = {{.slot = 6, .tokens = 1, .decode = 1},
                            {.slot = 3, .tokens = 1, .decode = 1},
                            {.slot = 5, .tokens = 1, .decode = 1}};
    refseq *d3[3] = {&c, &a, &b};
    int changes = 0;
    for (int step = 0; step < 12; step++) {
        int prev = a.next;
        assert_int_equal(ep_engine_llm_iter(l, w3, 3, 0, &took), 0);
        ref_decode(m, d3, 3);
        for (int k = 0; k < 3; k++)
            assert_int_equal(ep_engine_llm_next_token(l, d3[k]->slot), d3[k]->next);
        changes += a.next != prev;
    }
    assert_true(changes > 0); /* the tokens compared are not one repeated token */
    assert_int_equal(ep_engine_llm_pos(l, 3), 7 + 1 + 12);
    assert_int_equal(a.logical, 20);

    /* A prompt longer than max_seq_len computes its last 16 tokens. */
    refseq g = {.slot = 0};
    assert_int_equal(ep_llm_seq_new(m, &g.s), 0);
    assert_int_equal(iter1(l, 0, 21, 0), 0);
    ref_prefill(m, &g, 21);
    assert_int_equal(ep_engine_llm_pos(l, 0), 21);
    assert_int_equal(ep_engine_llm_next_token(l, 0), g.next);

    /* Released and refilled: the same prompt gives the same token again. */
    ep_engine_llm_release(l, 3);
    assert_int_equal(iter1(l, 3, 7, 0), 0);
    refseq a2 = {.slot = 3};
    assert_int_equal(ep_llm_seq_new(m, &a2.s), 0);
    ref_prefill(m, &a2, 7);
    assert_int_equal(ep_engine_llm_next_token(l, 3), a2.next);

    ep_llm_seq_free(a.s);
    ep_llm_seq_free(a2.s);
    ep_llm_seq_free(b.s);
    ep_llm_seq_free(c.s);
    ep_llm_seq_free(g.s);
    ep_llm_free(m);
    ep_engine_unload(l);
    ep_engine_close(e);
}

static void
test_cpu_dnn_runs_batches(void **state)
{
    fixture *f = *state;
    ep_engine *e = open_kind(f, EP_ENGINE_CPU, 4);
    ep_engine_inst *d = load(e, DNN);
    ep_dur took = -1;
    assert_int_equal(ep_engine_dnn_batch(d, 1, 0, &took), 0);
    assert_true(took > 0);
    took = -1;
    assert_int_equal(ep_engine_dnn_batch(d, 3, 0, &took), 0);
    assert_true(took > 0);
    assert_int_equal(ep_engine_dnn_batch(d, 2, 0, &took), 0);
    assert_int_equal(ep_engine_inst_kind(d), EP_SVC_DNN);
    assert_int_equal(ep_engine_inst_service(d), DNN);
    assert_int_equal(ep_engine_inst_spec(d), 0);
    char what[EP_ENGINE_SHAPE_MAX];
    ep_engine_inst_describe(d, what, sizeof what);
    assert_string_equal(what, "cpu dnn channels=3,width=4,classes=5,side=8");
    ep_engine_unload(d);
    ep_engine_close(e);
}

/* Payload mode: a prompt's bytes are its token ids (little-endian words modulo the
 * vocabulary), so the same bytes give the same next token on any slot, where the engine's
 * own prompts differ by slot; a prompt shorter than the prefill is continued by them. */
static void
test_cpu_llm_computes_on_the_prompt_bytes(void **state)
{
    fixture *f = *state;
    ep_engine *e = open_kind(f, EP_ENGINE_CPU, 8);
    ep_engine_inst *l = load(e, LLM);
    uint8_t a[4 * 6], b[4 * 6];
    for (int k = 0; k < 6; k++)
        for (int j = 0; j < 4; j++) {
            a[4 * k + j] = (uint8_t)(j == 0 ? 3 * k + 1 : 0x80 + j);
            b[4 * k + j] = (uint8_t)(j == 0 ? 5 * k + 2 : 0x11 * j);
        }
    ep_engine_work w[4] = {{.slot = 0, .tokens = 6, .prompt = a, .prompt_len = sizeof a},
                           {.slot = 5, .tokens = 6, .prompt = a, .prompt_len = sizeof a},
                           {.slot = 1, .tokens = 6},
                           {.slot = 6, .tokens = 6}};
    ep_dur took;
    assert_int_equal(ep_engine_llm_iter(l, w, 4, 0, &took), 0);
    assert_int_equal(ep_engine_llm_next_token(l, 0), ep_engine_llm_next_token(l, 5));
    /* Its own prompts depend on the slot: at least one of three pairs differs. */
    int differ = 0;
    for (int k = 0; k < 3 && !differ; k++) {
        ep_engine_llm_release(l, 1);
        ep_engine_llm_release(l, 6 - k);
        ep_engine_work v[2] = {{.slot = 1, .tokens = 6 + k}, {.slot = 6 - k, .tokens = 6 + k}};
        assert_int_equal(ep_engine_llm_iter(l, v, 2, 0, &took), 0);
        differ = ep_engine_llm_next_token(l, 1) != ep_engine_llm_next_token(l, 6 - k);
    }
    assert_true(differ);
    /* Other bytes, another sequence: the decode feeds the two apart (or their first
     * tokens already differ). */
    ep_engine_llm_release(l, 5);
    ep_engine_work c = {.slot = 5, .tokens = 6, .prompt = b, .prompt_len = sizeof b};
    assert_int_equal(ep_engine_llm_iter(l, &c, 1, 0, &took), 0);
    int same = 1;
    for (int step = 0; step < 4 && same; step++) {
        same = ep_engine_llm_next_token(l, 0) == ep_engine_llm_next_token(l, 5);
        ep_engine_work d[2] = {{.slot = 0, .tokens = 1, .decode = 1},
                               {.slot = 5, .tokens = 1, .decode = 1}};
        assert_int_equal(ep_engine_llm_iter(l, d, 2, 0, &took), 0);
    }
    assert_false(same);
    /* A prompt item with bytes but a NULL pointer is refused. */
    ep_engine_work bad = {.slot = 2, .tokens = 2, .prompt = NULL, .prompt_len = 8};
    assert_int_equal(ep_engine_llm_iter(l, &bad, 1, 0, &took), EP_EINVAL);
    ep_engine_unload(l);
    ep_engine_close(e);
}

/* Payload mode: a DNN item's image is made of its bytes and its mask is the class of each
 * pixel; the same bytes give the same mask at any place in the batch, the generated images
 * come back for items without bytes, and the emulated engine leaves masks alone. */
static void
test_cpu_dnn_segments_the_request_bytes(void **state)
{
    fixture *f = *state;
    ep_engine *e = open_kind(f, EP_ENGINE_CPU, 4);
    ep_engine_inst *d = load(e, DNN);
    int64_t mb = ep_engine_dnn_mask_bytes(d);
    assert_int_equal(mb, 8 * 8);
    uint8_t img[3][500], mask[3][64];
    for (int j = 0; j < 3; j++)
        for (int k = 0; k < 500; k++)
            img[j][k] = (uint8_t)(j == 1 ? (k * 37 + 11) : (k * k + 3 * k));
    const uint8_t *in[3] = {img[0], img[1], img[2]};
    int64_t len[3] = {500, 500, 500};
    uint8_t *out[3] = {mask[0], mask[1], mask[2]};
    memset(mask, 0xff, sizeof mask);
    ep_engine_dnn_io io = {in, len, out, mb};
    ep_dur took;
    assert_int_equal(ep_engine_dnn_batch_io(d, 3, &io, 0, &took), 0);
    int classes_seen = 0, seen[256] = {0};
    for (int j = 0; j < 3; j++)
        for (int p = 0; p < 64; p++) {
            assert_true(mask[j][p] < 5);
            classes_seen += !seen[mask[j][p]]++;
        }
    assert_memory_equal(mask[0], mask[2], 64); /* same bytes, same mask */
    assert_memory_not_equal(mask[0], mask[1], 64);
    assert_true(classes_seen >= 2);
    /* The image made of item 1's bytes alone, first in a batch of one: the same mask. */
    uint8_t again[64];
    uint8_t *out1[1] = {again};
    ep_engine_dnn_io one = {&in[1], &len[1], out1, mb};
    assert_int_equal(ep_engine_dnn_batch_io(d, 1, &one, 0, &took), 0);
    assert_memory_equal(again, mask[1], 64);
    /* Without bytes: the generated image again (as a fresh instance segments it). */
    uint8_t gen[64], fresh[64];
    uint8_t *outg[1] = {gen}, *outf[1] = {fresh};
    ep_engine_dnn_io none = {NULL, NULL, outg, mb};
    assert_int_equal(ep_engine_dnn_batch_io(d, 1, &none, 0, &took), 0);
    ep_engine_inst *d2 = load(e, DNN);
    ep_engine_dnn_io none2 = {NULL, NULL, outf, mb};
    assert_int_equal(ep_engine_dnn_batch_io(d2, 1, &none2, 0, &took), 0);
    assert_memory_equal(gen, fresh, 64);
    int64_t bad_len[1] = {-1};
    ep_engine_dnn_io bad = {&in[0], bad_len, NULL, 0};
    assert_int_equal(ep_engine_dnn_batch_io(d, 1, &bad, 0, &took), EP_EINVAL);
    ep_engine_unload(d2);
    ep_engine_unload(d);
    ep_engine_close(e);
    /* The emulated engine computes nothing: no mask bytes, masks untouched. */
    e = open_kind(f, EP_ENGINE_EMULATED, 4);
    d = load(e, DNN);
    assert_int_equal(ep_engine_dnn_mask_bytes(d), 0);
    memset(mask[0], 0xee, 64);
    assert_int_equal(ep_engine_dnn_batch_io(d, 1, &io, 0, &took), 0);
    for (int p = 0; p < 64; p++)
        assert_int_equal(mask[0][p], 0xee);
    ep_engine_unload(d);
    ep_engine_close(e);
}

static void
test_prompt_tokens_are_deterministic_and_in_range(void **state)
{
    (void)state;
    int differ = 0;
    for (int p = 0; p < 200; p++) {
        int t = ep_engine_prompt_token(SEED, 2, p, 50);
        assert_true(t >= 0 && t < 50);
        assert_int_equal(t, ep_engine_prompt_token(SEED, 2, p, 50));
        differ += t != ep_engine_prompt_token(SEED, 3, p, 50);
    }
    assert_true(differ > 150);
    assert_true(ep_engine_model_seed(SEED, 0) != ep_engine_model_seed(SEED, 1));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_kind_parse_accepts_the_three_names_only),
            cmocka_unit_test_setup_teardown(test_cuda_open_says_why_when_unavailable, setup,
                                            teardown),
            cmocka_unit_test(test_shapes_parse_named_keys_and_refuse_bad_ones),
            cmocka_unit_test_setup_teardown(test_open_refuses_bad_options, setup, teardown),
            cmocka_unit_test_setup_teardown(test_load_refuses_unknown_service_or_device, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_emulated_sleeps_about_the_estimate, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_llm_iteration_refuses_bad_work_and_changes_nothing,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_cpu_llm_matches_the_kernels_run_directly, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_cpu_dnn_runs_batches, setup, teardown),
            cmocka_unit_test_setup_teardown(test_cpu_llm_computes_on_the_prompt_bytes, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_cpu_dnn_segments_the_request_bytes, setup,
                                            teardown),
            cmocka_unit_test(test_prompt_tokens_are_deterministic_and_in_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
