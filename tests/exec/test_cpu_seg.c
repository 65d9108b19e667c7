/* Tests of the cpu engine's segmentation net: im2col + sgemm against direct convolution,
 * batching, determinism, argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "epara/exec/engine_cpu.h"
#include "epara/core/error.h"
#include "rel_diff.h"

static const ep_seg_config cfg = {.in_channels = 3, .width = 8, .n_classes = 5};

enum { H = 12, W = 10 };

static float *
image(int c, int h, int w, unsigned salt)
{
    float *p = calloc((size_t)(c * h * w), sizeof(float));
    for (int i = 0; i < c * h * w; i++)
        p[i] = (float)sin(0.37 * i + salt) * 2.0f;
    return p;
}

/* Direct 3x3 (ks 3, pad 1) or 1x1 convolution with bias and optional ReLU. */
static void
ref_conv(float *out, const float *in, const float *wt, const float *b, int ci, int co, int h, int w,
         int ks, int relu)
{
    int pad = ks / 2;
    for (int o = 0; o < co; o++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double acc = b[o];
                for (int c = 0; c < ci; c++)
                    for (int ky = 0; ky < ks; ky++)
                        for (int kx = 0; kx < ks; kx++) {
                            int sy = y + ky - pad, sx = x + kx - pad;
                            if (sy < 0 || sy >= h || sx < 0 || sx >= w)
                                continue;
                            acc += (double)wt[((o * ci + c) * ks + ky) * ks + kx] *
                                   in[(c * h + sy) * w + sx];
                        }
                out[(o * h + y) * w + x] = (float)(relu && acc < 0 ? 0.0 : acc);
            }
}

static void
ref_forward(const ep_seg *n, const float *x, float *logits)
{
    const ep_seg_weights *wt = ep_seg_get_weights(n);
    int ci = cfg.in_channels, c = cfg.width, k = cfg.n_classes, h2 = H / 2, w2 = W / 2;
    float *a1 = calloc((size_t)(c * H * W), sizeof(float));
    float *a2 = calloc((size_t)(c * H * W), sizeof(float));
    float *a4 = calloc((size_t)(c * H * W), sizeof(float));
    float *pool = calloc((size_t)(c * h2 * w2), sizeof(float));
    float *a3 = calloc((size_t)(2 * c * h2 * w2), sizeof(float));
    float *up = calloc((size_t)(2 * c * H * W), sizeof(float));

    ref_conv(a1, x, wt->c1w, wt->c1b, ci, c, H, W, 3, 1);
    ref_conv(a2, a1, wt->c2w, wt->c2b, c, c, H, W, 3, 1);
    for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < h2; y++)
            for (int xx = 0; xx < w2; xx++) {
                float m = -INFINITY;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++)
                        m = fmaxf(m, a2[(ch * H + 2 * y + dy) * W + 2 * xx + dx]);
                pool[(ch * h2 + y) * w2 + xx] = m;
            }
    ref_conv(a3, pool, wt->c3w, wt->c3b, c, 2 * c, h2, w2, 3, 1);
    for (int ch = 0; ch < 2 * c; ch++)
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++)
                up[(ch * H + y) * W + xx] = a3[(ch * h2 + y / 2) * w2 + xx / 2];
    ref_conv(a4, up, wt->c4w, wt->c4b, 2 * c, c, H, W, 3, 1);
    for (int i = 0; i < c * H * W; i++)
        a4[i] += a2[i];
    ref_conv(logits, a4, wt->hw, wt->hb, c, k, H, W, 1, 0);
    free(a1), free(a2), free(a4), free(pool), free(a3), free(up);
}

static void
test_forward_matches_direct_convolution(void **state)
{
    ep_seg *n = NULL;
    size_t out_n = (size_t)(cfg.n_classes * H * W);
    float *x = image(cfg.in_channels, H, W, 1);
    float *got = calloc(out_n, sizeof(float)), *want = calloc(out_n, sizeof(float));

    (void)state;
    assert_int_equal(ep_seg_new(&cfg, 11, &n), 0);
    assert_int_equal(ep_seg_forward(n, x, 1, H, W, got), 0);
    ref_forward(n, x, want);
    assert_true(rel_diff(got, want, out_n) < 1e-4);
    double mag = 0.0;
    for (size_t i = 0; i < out_n; i++)
        if (fabs((double)want[i]) > mag) /* not fmax: rel_diff.h */
            mag = fabs((double)want[i]);
    assert_true(mag > 0.1);
    ep_seg_free(n);
    free(x), free(got), free(want);
}

static void
test_batch_equals_each_image_alone(void **state)
{
    ep_seg *n = NULL;
    size_t in_n = (size_t)(cfg.in_channels * H * W), out_n = (size_t)(cfg.n_classes * H * W);
    float *x = calloc(2 * in_n, sizeof(float)), *b = calloc(2 * out_n, sizeof(float));
    float *one = calloc(out_n, sizeof(float));
    float *x0 = image(cfg.in_channels, H, W, 2), *x1 = image(cfg.in_channels, H, W, 3);

    (void)state;
    memcpy(x, x0, in_n * sizeof(float));
    memcpy(x + in_n, x1, in_n * sizeof(float));
    assert_int_equal(ep_seg_new(&cfg, 12, &n), 0);
    assert_int_equal(ep_seg_forward(n, x, 2, H, W, b), 0);
    assert_int_equal(ep_seg_forward(n, x0, 1, H, W, one), 0);
    assert_memory_equal(b, one, out_n * sizeof(float));
    assert_int_equal(ep_seg_forward(n, x1, 1, H, W, one), 0);
    assert_memory_equal(b + out_n, one, out_n * sizeof(float));
    ep_seg_free(n);
    free(x), free(b), free(one), free(x0), free(x1);
}

static void
test_same_seed_same_net_and_bad_arguments_rejected(void **state)
{
    ep_seg *a = NULL, *b = NULL, *none = NULL;
    ep_seg_config bad = cfg;
    float *x = image(cfg.in_channels, H, W, 4);
    size_t out_n = (size_t)(cfg.n_classes * H * W);
    float *la = calloc(out_n, sizeof(float)), *lb = calloc(out_n, sizeof(float));

    (void)state;
    assert_int_equal(ep_seg_new(&cfg, 13, &a), 0);
    assert_int_equal(ep_seg_new(&cfg, 13, &b), 0);
    assert_int_equal(ep_seg_forward(a, x, 1, H, W, la), 0);
    assert_int_equal(ep_seg_forward(b, x, 1, H, W, lb), 0);
    assert_memory_equal(la, lb, out_n * sizeof(float));
    assert_int_equal(ep_seg_forward(a, x, 1, H - 1, W, la), EP_EINVAL);
    assert_int_equal(ep_seg_forward(a, x, 0, H, W, la), EP_EINVAL);
    bad.width = 0;
    assert_int_equal(ep_seg_new(&bad, 1, &none), EP_EINVAL);
    assert_null(none);
    ep_seg_free(a);
    ep_seg_free(b);
    free(x), free(la), free(lb);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_forward_matches_direct_convolution),
            cmocka_unit_test(test_batch_equals_each_image_alone),
            cmocka_unit_test(test_same_seed_same_net_and_bad_arguments_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
