/* Tests of the cpu engine's decoder: BLAS paths against a plain-loop reference, batching and
 * prefill against single steps, llama2.c checkpoints, determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epara/exec/engine_cpu.h"
#include "epara/core/error.h"
#include "rel_diff.h"

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

static const int prompt[7] = {1, 42, 7, 96, 0, 13, 55};
static const int steps[5] = {3, 88, 21, 60, 9};

/* ---- naive reference: one token at a time, plain loops, double accumulators ---- */

struct ref {
    const ep_llm_config *c;
    const ep_llm_weights *w;
    int hs, kvd, pos;
    float *kc, *vc; /* [layers][seq][kvd] */
    float *x, *xb, *q, *k, *v, *att, *h1, *h3, *tmp;
};

static void
ref_init(struct ref *r, const ep_llm *m)
{
    const ep_llm_config *c = ep_llm_get_config(m);
    size_t cache;

    memset(r, 0, sizeof(*r));
    r->c = c;
    r->w = ep_llm_get_weights(m);
    r->hs = c->dim / c->n_heads;
    r->kvd = c->n_kv_heads * r->hs;
    cache = (size_t)c->n_layers * (size_t)c->max_seq_len * (size_t)r->kvd;
    r->kc = calloc(cache, sizeof(float));
    r->vc = calloc(cache, sizeof(float));
    r->x = calloc((size_t)c->dim, sizeof(float));
    r->xb = calloc((size_t)c->dim, sizeof(float));
    r->q = calloc((size_t)c->dim, sizeof(float));
    r->tmp = calloc((size_t)c->dim, sizeof(float));
    r->k = calloc((size_t)r->kvd, sizeof(float));
    r->v = calloc((size_t)r->kvd, sizeof(float));
    r->att = calloc((size_t)c->max_seq_len, sizeof(float));
    r->h1 = calloc((size_t)c->hidden_dim, sizeof(float));
    r->h3 = calloc((size_t)c->hidden_dim, sizeof(float));
    assert_non_null(r->h3);
}

static void
ref_fini(struct ref *r)
{
    free(r->kc), free(r->vc), free(r->x), free(r->xb), free(r->q), free(r->tmp);
    free(r->k), free(r->v), free(r->att), free(r->h1), free(r->h3);
}

static void
ref_matvec(float *out, const float *w, const float *x, int n_in, int n_out)
{
    for (int o = 0; o < n_out; o++) {
        double acc = 0.0;
        for (int i = 0; i < n_in; i++)
            acc += (double)w[(size_t)o * (size_t)n_in + (size_t)i] * (double)x[i];
        out[o] = (float)acc;
    }
}

static void
ref_rmsnorm(float *o, const float *x, const float *g, int n)
{
    double ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * x[i];
    double s = 1.0 / sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; i++)
        o[i] = (float)(g[i] * s * x[i]);
}

static void
ref_rope(float *v, int n, int hs, int pos, double theta)
{
    for (int i = 0; i < n; i += 2) {
        double a = pos / pow(theta, (double)(i % hs) / hs);
        double v0 = v[i], v1 = v[i + 1];
        v[i] = (float)(v0 * cos(a) - v1 * sin(a));
        v[i + 1] = (float)(v0 * sin(a) + v1 * cos(a));
    }
}

static void
ref_step(struct ref *r, int tok, float *logits)
{
    const ep_llm_config *c = r->c;
    const ep_llm_weights *w = r->w;
    int d = c->dim, hd = c->hidden_dim, hs = r->hs, kvd = r->kvd, pos = r->pos;
    int group = c->n_heads / c->n_kv_heads;

    memcpy(r->x, w->token_embedding + (size_t)tok * (size_t)d, (size_t)d * sizeof(float));
    for (int l = 0; l < c->n_layers; l++) {
        size_t lo = (size_t)l;
        float *kc = r->kc + lo * (size_t)c->max_seq_len * (size_t)kvd;
        float *vc = r->vc + lo * (size_t)c->max_seq_len * (size_t)kvd;

        ref_rmsnorm(r->xb, r->x, w->rms_att + lo * (size_t)d, d);
        ref_matvec(r->q, w->wq + lo * (size_t)(d * d), r->xb, d, d);
        ref_matvec(r->k, w->wk + lo * (size_t)(kvd * d), r->xb, d, kvd);
        ref_matvec(r->v, w->wv + lo * (size_t)(kvd * d), r->xb, d, kvd);
        ref_rope(r->q, d, hs, pos, c->rope_theta);
        ref_rope(r->k, kvd, hs, pos, c->rope_theta);
        memcpy(kc + (size_t)pos * (size_t)kvd, r->k, (size_t)kvd * sizeof(float));
        memcpy(vc + (size_t)pos * (size_t)kvd, r->v, (size_t)kvd * sizeof(float));
        for (int h = 0; h < c->n_heads; h++) {
            int kh = h / group;
            double mx = -INFINITY, sum = 0.0;
            for (int t = 0; t <= pos; t++) {
                double s = 0.0;
                for (int i = 0; i < hs; i++)
                    s += (double)r->q[h * hs + i] * kc[t * kvd + kh * hs + i];
                r->att[t] = (float)(s / sqrt((double)hs));
                mx = fmax(mx, r->att[t]);
            }
            for (int t = 0; t <= pos; t++)
                sum += exp(r->att[t] - mx);
            for (int i = 0; i < hs; i++) {
                double acc = 0.0;
                for (int t = 0; t <= pos; t++)
                    acc += exp(r->att[t] - mx) / sum * vc[t * kvd + kh * hs + i];
                r->xb[h * hs + i] = (float)acc;
            }
        }
        ref_matvec(r->tmp, w->wo + lo * (size_t)(d * d), r->xb, d, d);
        for (int i = 0; i < d; i++)
            r->x[i] += r->tmp[i];
        ref_rmsnorm(r->xb, r->x, w->rms_ffn + lo * (size_t)d, d);
        ref_matvec(r->h1, w->w1 + lo * (size_t)(hd * d), r->xb, d, hd);
        ref_matvec(r->h3, w->w3 + lo * (size_t)(hd * d), r->xb, d, hd);
        for (int i = 0; i < hd; i++) {
            double g = r->h1[i];
            r->h1[i] = (float)(g / (1.0 + exp(-g)) * r->h3[i]);
        }
        ref_matvec(r->tmp, w->w2 + lo * (size_t)(d * hd), r->h1, hd, d);
        for (int i = 0; i < d; i++)
            r->x[i] += r->tmp[i];
    }
    ref_rmsnorm(r->xb, r->x, w->rms_final, d);
    ref_matvec(logits, w->wcls, r->xb, d, c->vocab_size);
    r->pos++;
}

/* ---- tests ---- */

static void
check_against_reference(const ep_llm_config *cfg, uint64_t seed)
{
    ep_llm *m = NULL;
    ep_llm_seq *s = NULL;
    struct ref r;
    size_t V = (size_t)cfg->vocab_size;
    float *got = calloc(V, sizeof(float)), *want = calloc(V, sizeof(float));

    assert_int_equal(ep_llm_new(cfg, seed, &m), 0);
    assert_int_equal(ep_llm_seq_new(m, &s), 0);
    ref_init(&r, m);

    assert_int_equal(ep_llm_prefill(m, s, prompt, 7, got), 0);
    for (int i = 0; i < 7; i++)
        ref_step(&r, prompt[i], want);
    assert_true(rel_diff(got, want, V) < 1e-4);
    for (int i = 0; i < 5; i++) {
        ep_llm_seq *one[1] = {s};
        assert_int_equal(ep_llm_decode_batch(m, one, &steps[i], 1, got), 0);
        ref_step(&r, steps[i], want);
        assert_true(rel_diff(got, want, V) < 1e-4);
    }
    assert_int_equal(ep_llm_seq_pos(s), 12);
    /* The logits are not degenerate: the comparison would pass vacuously on zeros. */
    double mag = 0.0;
    for (size_t i = 0; i < V; i++)
        if (fabs((double)want[i]) > mag) /* not fmax: rel_diff.h */
            mag = fabs((double)want[i]);
    assert_true(mag > 0.1);

    ref_fini(&r);
    ep_llm_seq_free(s);
    ep_llm_free(m);
    free(got);
    free(want);
}

static void
test_prefill_and_decode_match_a_naive_reference(void **state)
{
    ep_llm_config unshared = tiny;

    (void)state;
    check_against_reference(&tiny, 1);
    unshared.shared_classifier = 0;
    unshared.n_kv_heads = 4; /* plain multi-head attention too */
    unshared.rope_theta = 500000.0f;
    check_against_reference(&unshared, 2);
}

static void
test_batched_decode_equals_decoding_each_alone(void **state)
{
    ep_llm *m = NULL;
    ep_llm_seq *b[3], *a[3];
    size_t V = (size_t)tiny.vocab_size;
    float *batch = calloc(3 * V, sizeof(float)), *alone = calloc(V, sizeof(float));
    const int lens[3] = {7, 3, 5};

    (void)state;
    assert_int_equal(ep_llm_new(&tiny, 3, &m), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ep_llm_seq_new(m, &b[i]), 0);
        assert_int_equal(ep_llm_seq_new(m, &a[i]), 0);
        /* Different lengths so the batch rows sit at different positions. */
        assert_int_equal(ep_llm_prefill(m, b[i], prompt + i, lens[i] - i, NULL), 0);
        assert_int_equal(ep_llm_prefill(m, a[i], prompt + i, lens[i] - i, NULL), 0);
    }
    for (int step = 0; step < 4; step++) {
        int toks[3] = {steps[step], steps[step + 1], (steps[step] * 7) % 97};
        assert_int_equal(ep_llm_decode_batch(m, b, toks, 3, batch), 0);
        for (int i = 0; i < 3; i++) {
            assert_int_equal(ep_llm_decode_batch(m, &a[i], &toks[i], 1, alone), 0);
            assert_true(rel_diff(batch + (size_t)i * V, alone, V) < 1e-5);
            assert_int_equal(ep_llm_seq_pos(b[i]), ep_llm_seq_pos(a[i]));
        }
    }
    /* A sequence twice in one batch, a foreign token: rejected, nothing moves. */
    ep_llm_seq *dup[2] = {b[0], b[0]};
    int toks[2] = {1, 2}, bad[2] = {1, 97};
    int pos = ep_llm_seq_pos(b[0]);
    assert_int_equal(ep_llm_decode_batch(m, dup, toks, 2, batch), EP_EINVAL);
    assert_int_equal(ep_llm_decode_batch(m, b, bad, 2, batch), EP_EINVAL);
    assert_int_equal(ep_llm_seq_pos(b[0]), pos);

    for (int i = 0; i < 3; i++) {
        ep_llm_seq_free(b[i]);
        ep_llm_seq_free(a[i]);
    }
    ep_llm_free(m);
    free(batch);
    free(alone);
}

static void
test_prefill_equals_single_token_steps(void **state)
{
    ep_llm *m = NULL;
    ep_llm_seq *p = NULL, *s = NULL;
    size_t V = (size_t)tiny.vocab_size;
    float *lp = calloc(V, sizeof(float)), *ls = calloc(V, sizeof(float));
    const float *kp, *vp, *ks, *vs;

    (void)state;
    assert_int_equal(ep_llm_new(&tiny, 4, &m), 0);
    assert_int_equal(ep_llm_seq_new(m, &p), 0);
    assert_int_equal(ep_llm_seq_new(m, &s), 0);
    /* Chunked: 4 tokens, then the other 3 from position 4. */
    assert_int_equal(ep_llm_prefill(m, p, prompt, 4, NULL), 0);
    assert_int_equal(ep_llm_prefill(m, p, prompt + 4, 3, lp), 0);
    for (int i = 0; i < 7; i++)
        assert_int_equal(ep_llm_prefill(m, s, &prompt[i], 1, ls), 0);
    assert_int_equal(ep_llm_seq_pos(p), 7);
    assert_int_equal(ep_llm_seq_pos(s), 7);
    assert_true(rel_diff(lp, ls, V) < 1e-5);

    ep_llm_seq_cache(p, &kp, &vp);
    ep_llm_seq_cache(s, &ks, &vs);
    for (int l = 0; l < tiny.n_layers; l++) {
        size_t off = (size_t)l * (size_t)tiny.max_seq_len * 32;
        assert_true(rel_diff(kp + off, ks + off, 7 * 32) < 1e-5);
        assert_true(rel_diff(vp + off, vs + off, 7 * 32) < 1e-5);
    }
    /* The cache is bounded: 64 - 7 = 57 more tokens fit, 58 do not. */
    int *many = calloc(58, sizeof(int));
    assert_int_equal(ep_llm_prefill(m, p, many, 58, lp), EP_ERANGE);
    assert_int_equal(ep_llm_prefill(m, p, many, 57, lp), 0);
    assert_int_equal(ep_llm_decode_batch(m, &p, many, 1, lp), EP_ERANGE);
    ep_llm_seq_reset(p);
    assert_int_equal(ep_llm_seq_pos(p), 0);
    free(many);

    ep_llm_seq_free(p);
    ep_llm_seq_free(s);
    ep_llm_free(m);
    free(lp);
    free(ls);
}

/* ---- llama2.c checkpoints ---- */

static void
tmp_path(char *buf, size_t len)
{
    int fd;

    snprintf(buf, len, "%s/ep_llm_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    fd = mkstemp(buf);
    assert_true(fd >= 0);
    close(fd);
}

static void
put_floats(FILE *f, const float *p, size_t n)
{
    assert_int_equal(fwrite(p, sizeof(float), n, f), n);
}

/* Writes m as a llama2.c checkpoint, written independently of the loader. */
static void
write_checkpoint(const char *path, const ep_llm *m)
{
    const ep_llm_config *c = ep_llm_get_config(m);
    const ep_llm_weights *w = ep_llm_get_weights(m);
    size_t d = (size_t)c->dim, h = (size_t)c->hidden_dim, l = (size_t)c->n_layers;
    size_t hs = d / (size_t)c->n_heads, kv = (size_t)c->n_kv_heads * hs;
    size_t voc = (size_t)c->vocab_size, rope = (size_t)c->max_seq_len * hs / 2;
    int32_t hdr[7] = {c->dim,        c->hidden_dim,
                      c->n_layers,   c->n_heads,
                      c->n_kv_heads, c->shared_classifier ? c->vocab_size : -c->vocab_size,
                      c->max_seq_len};
    float *junk = calloc(rope, sizeof(float));
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    for (size_t i = 0; i < rope; i++)
        junk[i] = (float)i;
    assert_int_equal(fwrite(hdr, sizeof(hdr[0]), 7, f), 7);
    put_floats(f, w->token_embedding, voc * d);
    put_floats(f, w->rms_att, l * d);
    put_floats(f, w->wq, l * d * d);
    put_floats(f, w->wk, l * kv * d);
    put_floats(f, w->wv, l * kv * d);
    put_floats(f, w->wo, l * d * d);
    put_floats(f, w->rms_ffn, l * d);
    put_floats(f, w->w1, l * h * d);
    put_floats(f, w->w2, l * d * h);
    put_floats(f, w->w3, l * h * d);
    put_floats(f, w->rms_final, d);
    put_floats(f, junk, rope); /* freq_cis_real */
    put_floats(f, junk, rope); /* freq_cis_imag */
    if (!c->shared_classifier)
        put_floats(f, w->wcls, voc * d);
    assert_int_equal(fclose(f), 0);
    free(junk);
}

static void
check_roundtrip(const ep_llm_config *cfg)
{
    char path[256], err[256] = "";
    ep_llm *m = NULL, *back = NULL;
    ep_llm_seq *s1 = NULL, *s2 = NULL;
    size_t V = (size_t)cfg->vocab_size;
    float *l1 = calloc(V, sizeof(float)), *l2 = calloc(V, sizeof(float));

    assert_int_equal(ep_llm_new(cfg, 5, &m), 0);
    tmp_path(path, sizeof(path));
    write_checkpoint(path, m);
    assert_int_equal(ep_llm_load(path, &back, err, sizeof(err)), 0);

    const ep_llm_config *bc = ep_llm_get_config(back);
    assert_int_equal(bc->dim, cfg->dim);
    assert_int_equal(bc->hidden_dim, cfg->hidden_dim);
    assert_int_equal(bc->n_layers, cfg->n_layers);
    assert_int_equal(bc->n_heads, cfg->n_heads);
    assert_int_equal(bc->n_kv_heads, cfg->n_kv_heads);
    assert_int_equal(bc->vocab_size, cfg->vocab_size);
    assert_int_equal(bc->max_seq_len, cfg->max_seq_len);
    assert_int_equal(!bc->shared_classifier, !cfg->shared_classifier);

    const ep_llm_weights *a = ep_llm_get_weights(m), *b = ep_llm_get_weights(back);
    size_t d = (size_t)cfg->dim, l = (size_t)cfg->n_layers, h = (size_t)cfg->hidden_dim;
    size_t kv = (size_t)cfg->n_kv_heads * d / (size_t)cfg->n_heads;
    assert_memory_equal(a->token_embedding, b->token_embedding, V * d * sizeof(float));
    assert_memory_equal(a->wk, b->wk, l * kv * d * sizeof(float));
    assert_memory_equal(a->w3, b->w3, l * h * d * sizeof(float));
    assert_memory_equal(a->rms_final, b->rms_final, d * sizeof(float));
    assert_memory_equal(a->wcls, b->wcls, V * d * sizeof(float));

    assert_int_equal(ep_llm_seq_new(m, &s1), 0);
    assert_int_equal(ep_llm_seq_new(back, &s2), 0);
    assert_int_equal(ep_llm_prefill(m, s1, prompt, 7, l1), 0);
    assert_int_equal(ep_llm_prefill(back, s2, prompt, 7, l2), 0);
    assert_memory_equal(l1, l2, V * sizeof(float));
    /* A sequence only runs on its own model. */
    assert_int_equal(ep_llm_prefill(back, s1, prompt, 1, l2), EP_EINVAL);

    ep_llm_seq_free(s1);
    ep_llm_seq_free(s2);
    ep_llm_free(m);
    ep_llm_free(back);
    unlink(path);
    free(l1);
    free(l2);
}

static void
test_llama2c_checkpoint_loads_the_same_weights(void **state)
{
    ep_llm_config unshared = tiny;

    (void)state;
    check_roundtrip(&tiny);
    unshared.shared_classifier = 0;
    check_roundtrip(&unshared);
}

/* Copies src to dst, dropping `cut` bytes from the end (or appending -cut zero bytes) and
 * overwriting header field `field` with `value` when field >= 0. */
static void
mangle(const char *src, const char *dst, long cut, int field, int32_t value)
{
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    long len;
    char *buf;

    assert_non_null(in);
    assert_non_null(out);
    fseek(in, 0, SEEK_END);
    len = ftell(in);
    fseek(in, 0, SEEK_SET);
    buf = calloc((size_t)len + 16, 1);
    assert_int_equal(fread(buf, 1, (size_t)len, in), (size_t)len);
    if (field >= 0)
        memcpy(buf + 4 * field, &value, sizeof(value));
    assert_int_equal(fwrite(buf, 1, (size_t)(len - cut), out), (size_t)(len - cut));
    fclose(in);
    assert_int_equal(fclose(out), 0);
    free(buf);
}

static void
test_malformed_checkpoints_are_parse_errors(void **state)
{
    char good[256], bad[256], err[256];
    ep_llm *m = NULL, *back = NULL;
    struct {
        long cut;
        int field;
        int32_t value;
    } cases[] = {
            {4, -1, 0},         /* truncated by one float */
            {-1, -1, 0},        /* one stray byte at the end */
            {0, 0, 65},         /* dim not a multiple of n_heads */
            {0, 4, 0},          /* no kv heads */
            {0, 4, 3},          /* n_heads not a multiple of n_kv_heads */
            {0, 5, INT32_MIN},  /* vocab of no size */
            {0, 2, 3},          /* more layers than the file holds */
            {0, 6, -1},         /* negative seq_len */
            {0, 1, 0x7fffffff}, /* absurd hidden_dim */
    };

    (void)state;
    assert_int_equal(ep_llm_new(&tiny, 6, &m), 0);
    tmp_path(good, sizeof(good));
    tmp_path(bad, sizeof(bad));
    write_checkpoint(good, m);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        mangle(good, bad, cases[i].cut, cases[i].field, cases[i].value);
        assert_int_equal(ep_llm_load(bad, &back, err, sizeof(err)), EP_EPARSE);
        assert_null(back);
        assert_true(strlen(err) > 0);
    }
    /* Shorter than the header. */
    FILE *f = fopen(bad, "wb");
    assert_non_null(f);
    fputs("abc", f);
    fclose(f);
    assert_int_equal(ep_llm_load(bad, &back, err, sizeof(err)), EP_EPARSE);
    assert_non_null(strstr(err, "header"));
    unlink(bad);
    assert_int_equal(ep_llm_load(bad, &back, NULL, 0), EP_ENOENT);
    assert_null(back);
    unlink(good);
    ep_llm_free(m);
}

static void
test_same_seed_gives_identical_weights_and_logits(void **state)
{
    ep_llm *a = NULL, *b = NULL, *c = NULL;
    ep_llm_seq *sa = NULL, *sb = NULL;
    size_t V = (size_t)tiny.vocab_size;
    float *la = calloc(V, sizeof(float)), *lb = calloc(V, sizeof(float));
    ep_llm_config bad = tiny;

    (void)state;
    assert_int_equal(ep_llm_new(&tiny, 7, &a), 0);
    assert_int_equal(ep_llm_new(&tiny, 7, &b), 0);
    assert_int_equal(ep_llm_new(&tiny, 8, &c), 0);
    assert_memory_equal(ep_llm_get_weights(a)->wq, ep_llm_get_weights(b)->wq,
                        2 * 64 * 64 * sizeof(float));
    assert_memory_not_equal(ep_llm_get_weights(a)->wq, ep_llm_get_weights(c)->wq,
                            2 * 64 * 64 * sizeof(float));
    assert_int_equal(ep_llm_seq_new(a, &sa), 0);
    assert_int_equal(ep_llm_seq_new(b, &sb), 0);
    assert_int_equal(ep_llm_prefill(a, sa, prompt, 7, la), 0);
    assert_int_equal(ep_llm_prefill(b, sb, prompt, 7, lb), 0);
    assert_memory_equal(la, lb, V * sizeof(float));
    assert_int_equal(ep_llm_decode_batch(a, &sa, steps, 1, la), 0);
    assert_int_equal(ep_llm_decode_batch(b, &sb, steps, 1, lb), 0);
    assert_memory_equal(la, lb, V * sizeof(float));

    ep_llm *none = NULL;
    bad.n_kv_heads = 3;
    assert_int_equal(ep_llm_new(&bad, 1, &none), EP_EINVAL);
    bad = tiny;
    bad.n_heads = 64; /* head size 1: odd */
    assert_int_equal(ep_llm_new(&bad, 1, &none), EP_EINVAL);
    assert_null(none);

    ep_llm_seq_free(sa);
    ep_llm_seq_free(sb);
    ep_llm_free(a);
    ep_llm_free(b);
    ep_llm_free(c);
    free(la);
    free(lb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_prefill_and_decode_match_a_naive_reference),
            cmocka_unit_test(test_batched_decode_equals_decoding_each_alone),
            cmocka_unit_test(test_prefill_equals_single_token_steps),
            cmocka_unit_test(test_llama2c_checkpoint_loads_the_same_weights),
            cmocka_unit_test(test_malformed_checkpoints_are_parse_errors),
            cmocka_unit_test(test_same_seed_gives_identical_weights_and_logits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
