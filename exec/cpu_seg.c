/* cpu engine: a small convolutional segmentation net (encoder-decoder with one skip) in
 * FP32, convolutions as im2col + sgemm. Weights live in one block; a forward pass touches
 * only its own temporaries, so one net may serve concurrent callers. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "epara/exec/engine_cpu.h"
#include "epara/core/error.h"
#include "epara/core/rng.h"

/* RNG stream of the random weights ("seg"). */
#define SEG_STREAM 0x73656700u
#define CH_MAX     4096
#define SIDE_MAX   4096

struct ep_seg {
    ep_seg_config cfg;
    ep_seg_weights w;
    float *block;
};

struct layer {
    float **wt, **b;
    size_t in, out, ks;
};

static void
fill_gauss(ep_rng *rng, float *p, size_t n, double sigma)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)ep_rng_gaussian(rng, sigma);
}

int
ep_seg_new(const ep_seg_config *cfg, uint64_t seed, ep_seg **out)
{
    ep_seg *n;
    ep_rng rng;
    size_t total = 0;
    float *p;
    int rc;

    if (!cfg || !out || cfg->in_channels < 1 || cfg->in_channels > CH_MAX || cfg->width < 1 ||
        cfg->width > CH_MAX || cfg->n_classes < 1 || cfg->n_classes > CH_MAX)
        return EP_EINVAL;
    n = calloc(1, sizeof(*n));
    if (!n)
        return EP_ENOMEM;
    n->cfg = *cfg;
    size_t ci = (size_t)cfg->in_channels, w = (size_t)cfg->width;
    size_t k = (size_t)cfg->n_classes;
    const struct layer layers[] = {
            {&n->w.c1w, &n->w.c1b, ci, w, 3},    {&n->w.c2w, &n->w.c2b, w, w, 3},
            {&n->w.c3w, &n->w.c3b, w, 2 * w, 3}, {&n->w.c4w, &n->w.c4b, 2 * w, w, 3},
            {&n->w.hw, &n->w.hb, w, k, 1},
    };
    for (size_t i = 0; i < EP_ARRAY_LEN(layers); i++)
        total += layers[i].out * layers[i].in * layers[i].ks * layers[i].ks + layers[i].out;
    n->block = malloc(total * sizeof(float));
    if (!n->block) {
        rc = EP_ENOMEM;
        goto fail;
    }
    rc = ep_rng_init(&rng, seed, SEG_STREAM);
    if (rc < 0)
        goto fail;
    p = n->block;
    for (size_t i = 0; i < EP_ARRAY_LEN(layers); i++) {
        size_t fan_in = layers[i].in * layers[i].ks * layers[i].ks;

        *layers[i].wt = p;
        fill_gauss(&rng, p, layers[i].out * fan_in, sqrt(2.0 / (double)fan_in));
        p += layers[i].out * fan_in;
        *layers[i].b = p;
        fill_gauss(&rng, p, layers[i].out, 0.1);
        p += layers[i].out;
    }
    ep_rng_fini(&rng);
    *out = n;
    return 0;
fail:
    ep_seg_free(n);
    return rc;
}

void
ep_seg_free(ep_seg *n)
{
    if (!n)
        return;
    free(n->block);
    free(n);
}

const ep_seg_config *
ep_seg_get_config(const ep_seg *n)
{
    return &n->cfg;
}

const ep_seg_weights *
ep_seg_get_weights(const ep_seg *n)
{
    return &n->w;
}

/* cols[(c * 9 + ky * 3 + kx)][y * w + x] = in[c][y + ky - 1][x + kx - 1], zero outside. */
static void
im2col(float *cols, const float *in, int c, int h, int w)
{
    size_t hw = (size_t)h * (size_t)w;

    for (int ch = 0; ch < c; ch++)
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                float *row = cols + ((size_t)ch * 9 + (size_t)(ky * 3 + kx)) * hw;
                for (int y = 0; y < h; y++) {
                    int sy = y + ky - 1;
                    for (int x = 0; x < w; x++) {
                        int sx = x + kx - 1;
                        row[y * w + x] =
                                (sy < 0 || sy >= h || sx < 0 || sx >= w)
                                        ? 0.0f
                                        : in[((size_t)ch * (size_t)h + (size_t)sy) * (size_t)w +
                                             (size_t)sx];
                    }
                }
            }
}

/* out[co][hw] = wt[co][k] * in[k][hw] + b[co], then ReLU when relu. */
static void
gemm_bias(float *out, const float *wt, const float *b, const float *in, int co, int k, int hw,
          int relu)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, co, hw, k, 1.0f, wt, k, in, hw, 0.0f,
                out, hw);
    for (int o = 0; o < co; o++) {
        float *r = out + (size_t)o * (size_t)hw;
        for (int i = 0; i < hw; i++) {
            float v = r[i] + b[o];
            r[i] = relu && v < 0.0f ? 0.0f : v;
        }
    }
}

static void
conv3(float *out, const float *in, const float *wt, const float *b, int ci, int co, int h, int w,
      float *cols)
{
    im2col(cols, in, ci, h, w);
    gemm_bias(out, wt, b, cols, co, ci * 9, h * w, 1);
}

int
ep_seg_forward(const ep_seg *n, const float *images, int batch, int h, int w, float *logits_out)
{
    if (!n || !images || !logits_out || batch < 1 || h < 2 || w < 2 || h > SIDE_MAX ||
        w > SIDE_MAX || h % 2 != 0 || w % 2 != 0)
        return EP_EINVAL;
    int ci = n->cfg.in_channels, c = n->cfg.width, k = n->cfg.n_classes;
    int h2 = h / 2, w2 = w / 2;
    size_t hw = (size_t)h * (size_t)w, hw2 = hw / 4, uc = (size_t)c;
    size_t cols_n = (size_t)(ci > 2 * c ? ci : 2 * c) * 9 * hw;
    size_t total = cols_n + uc * hw * 3 + uc * hw2 * 3 + 2 * uc * hw;
    float *mem = malloc(total * sizeof(float));
    const ep_seg_weights *wt = &n->w;

    if (!mem)
        return EP_ENOMEM;
    float *cols = mem, *a1 = cols + cols_n, *a2 = a1 + uc * hw, *a4 = a2 + uc * hw;
    float *pool = a4 + uc * hw, *a3 = pool + uc * hw2, *up = a3 + 2 * uc * hw2;

    for (int bi = 0; bi < batch; bi++) {
        const float *x = images + (size_t)bi * (size_t)ci * hw;
        float *logits = logits_out + (size_t)bi * (size_t)k * hw;

        conv3(a1, x, wt->c1w, wt->c1b, ci, c, h, w, cols);
        conv3(a2, a1, wt->c2w, wt->c2b, c, c, h, w, cols);
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h2; y++)
                for (int xx = 0; xx < w2; xx++) {
                    const float *s = a2 + ((size_t)ch * (size_t)h + (size_t)(2 * y)) * (size_t)w +
                                     (size_t)(2 * xx);
                    float m = fmaxf(fmaxf(s[0], s[1]), fmaxf(s[w], s[w + 1]));
                    pool[((size_t)ch * (size_t)h2 + (size_t)y) * (size_t)w2 + (size_t)xx] = m;
                }
        conv3(a3, pool, wt->c3w, wt->c3b, c, 2 * c, h2, w2, cols);
        for (int ch = 0; ch < 2 * c; ch++)
            for (int y = 0; y < h; y++)
                for (int xx = 0; xx < w; xx++)
                    up[((size_t)ch * (size_t)h + (size_t)y) * (size_t)w + (size_t)xx] =
                            a3[((size_t)ch * (size_t)h2 + (size_t)(y / 2)) * (size_t)w2 +
                               (size_t)(xx / 2)];
        conv3(a4, up, wt->c4w, wt->c4b, 2 * c, c, h, w, cols);
        for (size_t i = 0; i < uc * hw; i++)
            a4[i] += a2[i];
        gemm_bias(logits, wt->hw, wt->hb, a4, k, c, h * w, 0);
    }
    free(mem);
    return 0;
}
