/* Tests for the execution-cost model (core/profile.c) against hand arithmetic: roofline DNN
 * batches in both regimes, LLM prefill/decode/iterations term by term, the A100 calibration
 * rows, profile-table overrides with the
 * decode context rule, TP, KV capacity, instance memory, load time, MT slowdown and
 * ep_interp's edges. Scenarios are built in C; no loader is involved. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "epara/core/profile.h"

#define MS       EP_NS_PER_MS
#define GIB      (INT64_C(1) << 30)
#define OVERHEAD (20 * EP_NS_PER_US)

enum { SPEC_4090, SPEC_24E9, SPEC_TOY, SPEC_TOY_DEFAULTS, SPEC_A100, NSPECS };
enum { SVC_8B, SVC_13B, SVC_DET, SVC_WIDE, SVC_TOYLLM, SVC_L2_7B, NSVCS };
enum { NODE_64G, NODE_NOBW, NNODES };

static ep_device_spec specs[NSPECS];
static ep_service services[NSVCS];
static ep_node nodes[NNODES];
static ep_profile_table tables[4];
static ep_scenario sc;

/* Fresh scenario for every test: tables are added by the tests that need them. */
static int
setup(void **state)
{
    (void)state;
    memset(specs, 0, sizeof(specs));
    memset(services, 0, sizeof(services));
    memset(nodes, 0, sizeof(nodes));
    memset(tables, 0, sizeof(tables));
    memset(&sc, 0, sizeof(sc));

    /* RTX-4090-like: 24 GiB, 1.0 TB/s, 165 TFLOPS FP16 (docs/sources.md). */
    specs[SPEC_4090] = (ep_device_spec){.name = "rtx4090",
                                        .mem_bytes = 24 * GIB,
                                        .mem_bw_bytes_per_s = 1.0e12,
                                        .peak_flops = 165e12,
                                        .compute_eff = 0.4,
                                        .mem_eff = 0.7,
                                        .mem_util = 0.9,
                                        .batch_overhead = OVERHEAD,
                                        .load_bw_bytes_per_s = 4e9};
    /* Same, with 24e9 bytes (decimal GB) and no load bandwidth (default 2 GB/s). */
    specs[SPEC_24E9] = specs[SPEC_4090];
    specs[SPEC_24E9].mem_bytes = INT64_C(24000000000);
    specs[SPEC_24E9].load_bw_bytes_per_s = 0;
    /* Round numbers: 100e12 x 0.5 = 5e13 FLOP/s, 1e12 x 0.5 = 5e11 B/s, 10 us overhead;
     * attention 0.2 of peak for long prompts (half at 1000 tokens), KV reads 0.8 of the
     * bandwidth at large batch (half at batch 1), 10 us of small kernels per layer. */
    specs[SPEC_TOY] = (ep_device_spec){.name = "toy",
                                       .mem_bytes = 16 * GIB,
                                       .mem_bw_bytes_per_s = 1e12,
                                       .peak_flops = 100e12,
                                       .compute_eff = 0.5,
                                       .dnn_eff = 0.5,
                                       .mem_eff = 0.5,
                                       .attn_eff = 0.2,
                                       .attn_half_tokens = 1000,
                                       .kv_eff = 0.8,
                                       .kv_half_batch = 1,
                                       .kernel_floor = 10 * EP_NS_PER_US,
                                       .mem_util = 0.9,
                                       .batch_overhead = 10 * EP_NS_PER_US};
    /* Efficiencies and mem_util left at 0: the EP_DEFAULT_* of profile.h apply. */
    specs[SPEC_TOY_DEFAULTS] = (ep_device_spec){.name = "toy-defaults",
                                                .mem_bytes = 16 * GIB,
                                                .mem_bw_bytes_per_s = 1e12,
                                                .peak_flops = 100e12,
                                                .batch_overhead = 10 * EP_NS_PER_US};
    /* NVIDIA A100: 312 TFLOPS dense FP16, 2.0 TB/s, 80 GB; the model's defaults. */
    specs[SPEC_A100] = (ep_device_spec){.name = "a100",
                                        .mem_bytes = INT64_C(80000000000),
                                        .mem_bw_bytes_per_s = 2.0e12,
                                        .peak_flops = 312e12,
                                        .batch_overhead = EP_DEFAULT_BATCH_OVERHEAD_NS};

    /* Llama-3.1-8B FP16: 8.03e9 params, 16.06e9 bytes, 32 x 4096, 128 KiB KV per token. */
    services[SVC_8B] = (ep_service){.name = "llama8b",
                                    .kind = EP_SVC_LLM,
                                    .params = 8.03e9,
                                    .weights_bytes = INT64_C(16060000000),
                                    .layers = 32,
                                    .hidden = 4096,
                                    .kv_bytes_per_token = 128 * 1024,
                                    .act_bytes_reserve = INT64_C(1000000000)};
    /* Llama-2-13B FP16: 13e9 params, 26e9 bytes, 40 x 5120, 800 KiB KV per token. */
    services[SVC_13B] = (ep_service){.name = "llama13b",
                                     .kind = EP_SVC_LLM,
                                     .params = 13e9,
                                     .weights_bytes = INT64_C(26000000000),
                                     .layers = 40,
                                     .hidden = 5120,
                                     .kv_bytes_per_token = 800 * 1024,
                                     .act_bytes_reserve = INT64_C(1000000000)};
    /* A detector: 5 GFLOPs per image, 100 MB weights, 1 MB activations per image. */
    services[SVC_DET] = (ep_service){.name = "det",
                                     .kind = EP_SVC_DNN,
                                     .params = 50e6,
                                     .weights_bytes = 100000000,
                                     .layers = 32,
                                     .flops_per_item = 5e9,
                                     .act_bytes_per_item = 1000000,
                                     .act_bytes_reserve = 500000000};
    /* Memory-bound by construction: 1.4 GB weights, 1 MFLOP per item, no activations. */
    services[SVC_WIDE] = (ep_service){
            .name = "wide", .kind = EP_SVC_DNN, .weights_bytes = 1400000000, .flops_per_item = 1e6};
    /* Round numbers: 1e9 params in 2e9 bytes, 10 layers x 1000, 100 kB of KV per token. */
    services[SVC_TOYLLM] = (ep_service){.name = "toyllm",
                                        .kind = EP_SVC_LLM,
                                        .params = 1e9,
                                        .weights_bytes = INT64_C(2000000000),
                                        .layers = 10,
                                        .hidden = 1000,
                                        .kv_bytes_per_token = 100000};
    /* Llama-2-7B FP16: 6.74e9 params, 32 x 4096, vocabulary 32,000 (untied), 512 KiB KV per
     * token (32 layers x 4096 x 2 (K, V) x 2 bytes). */
    services[SVC_L2_7B] = (ep_service){.name = "llama2-7b",
                                       .kind = EP_SVC_LLM,
                                       .params = 6.74e9,
                                       .weights_bytes = INT64_C(13480000000),
                                       .layers = 32,
                                       .hidden = 4096,
                                       .vocab = 32000,
                                       .kv_bytes_per_token = 512 * 1024};

    nodes[NODE_64G] = (ep_node){.name = "srv", .ndev = 4, .intra_bw_bytes_per_s = 64e9};
    nodes[NODE_NOBW] = (ep_node){.name = "srv-nobw", .ndev = 2};

    sc.specs = specs;
    sc.nspecs = NSPECS;
    sc.services = services;
    sc.nservices = NSVCS;
    sc.nodes = nodes;
    sc.nnodes = NNODES;
    sc.profiles = tables;
    sc.nprofiles = 0;
    return 0;
}

/* Durations computed in floating point may round either way at the last ns. */
#define assert_ns_near(actual, expected)                                                    \
    do {                                                                                    \
        int64_t a_ = (actual), e_ = (expected);                                             \
        if (a_ - e_ > 1 || e_ - a_ > 1)                                                     \
            fail_msg("%s = %lld ns, expected %lld", #actual, (long long)a_, (long long)e_); \
    } while (0)

/* cmocka's assert_float_equal works in float; these need doubles. */
#define assert_double_near(actual, expected, eps)                    \
    do {                                                             \
        double a_ = (actual), e_ = (expected);                       \
        if (!(fabs(a_ - e_) <= (eps)))                               \
            fail_msg("%s = %.17g, expected %.17g", #actual, a_, e_); \
    } while (0)

/* --- ep_interp ----------------------------------------------------------------------- */

static const int64_t ix[] = {10, 20, 30};
static const ep_dur iy[] = {100, 200, 400};

static void
test_interp_returns_exact_values_at_points(void **state)
{
    (void)state;
    assert_int_equal(ep_interp(ix, iy, 3, 10), 100);
    assert_int_equal(ep_interp(ix, iy, 3, 20), 200);
    assert_int_equal(ep_interp(ix, iy, 3, 30), 400);
}

static void
test_interp_is_linear_between_points(void **state)
{
    (void)state;
    assert_int_equal(ep_interp(ix, iy, 3, 15), 150);
    assert_int_equal(ep_interp(ix, iy, 3, 25), 300);
    assert_int_equal(ep_interp(ix, iy, 3, 29.5), 390);
    /* Rounded to the nearest ns: 0 + 1/3 -> 0, 2/3 -> 1. */
    const int64_t x2[] = {0, 3};
    const ep_dur y2[] = {0, 1};
    assert_int_equal(ep_interp(x2, y2, 2, 1), 0);
    assert_int_equal(ep_interp(x2, y2, 2, 2), 1);
}

static void
test_interp_extrapolates_from_end_segments(void **state)
{
    (void)state;
    /* Below: slope of (10,100)-(20,200) = 10/unit. Above: (20,200)-(30,400) = 20/unit. */
    assert_int_equal(ep_interp(ix, iy, 3, 5), 50);
    assert_int_equal(ep_interp(ix, iy, 3, 0), 0);
    assert_int_equal(ep_interp(ix, iy, 3, 40), 600);
    assert_int_equal(ep_interp(ix, iy, 3, 35), 500);
}

static void
test_interp_is_never_negative(void **state)
{
    (void)state;
    assert_int_equal(ep_interp(ix, iy, 3, -100), 0); /* 100 + 10 x (-110) < 0 */
    const int64_t x2[] = {1, 2};
    const ep_dur y2[] = {100, 50};
    assert_int_equal(ep_interp(x2, y2, 2, 10), 0); /* 100 - 50 x 9 < 0 */
    const ep_dur yneg[] = {-5};
    assert_int_equal(ep_interp(x2, yneg, 1, 1), 0);
}

static void
test_interp_with_one_point_is_constant(void **state)
{
    (void)state;
    const int64_t x1[] = {8};
    const ep_dur y1[] = {777};
    assert_int_equal(ep_interp(x1, y1, 1, 0), 777);
    assert_int_equal(ep_interp(x1, y1, 1, 8), 777);
    assert_int_equal(ep_interp(x1, y1, 1, 1e6), 777);
}

static void
test_interp_saturates_instead_of_overflowing(void **state)
{
    (void)state;
    const int64_t x2[] = {0, 1};
    const ep_dur y2[] = {0, INT64_MAX / 2};
    assert_true(ep_interp(x2, y2, 2, 10) == EP_TIME_MAX);
    assert_true(ep_interp(x2, y2, 2, 1e300) == EP_TIME_MAX);
}

/* --- DNN batches --------------------------------------------------------------------- */

static void
test_dnn_batch_is_memory_bound_at_batch_1(void **state)
{
    (void)state;
    /* det on toy, batch 1: compute 5e9 / 5e13 = 0.1 ms; memory (100e6 + 2 x 1e6) / 5e11
     * = 0.204 ms -> 204,000 + 10,000 ns. */
    assert_ns_near(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY, 1), 214000);
    /* wide on the 4090-like spec: 1.4e9 / (1e12 x 0.7) = 2 ms, + 20 us. */
    assert_ns_near(ep_cost_dnn_batch(&sc, SVC_WIDE, SPEC_4090, 1), 2020000);
    /* Still memory-bound at 64: the weights dominate, so batching is nearly free. */
    assert_ns_near(ep_cost_dnn_batch(&sc, SVC_WIDE, SPEC_4090, 64), 2020000);
}

static void
test_dnn_batch_is_compute_bound_at_batch_10(void **state)
{
    (void)state;
    /* det on toy, batch 10: compute 5e10 / 5e13 = 1 ms; memory (100e6 + 20e6) / 5e11
     * = 0.24 ms -> 1,000,000 + 10,000 ns. */
    assert_ns_near(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY, 10), 1010000);
    /* Batch 20: twice the compute. */
    assert_ns_near(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY, 20), 2010000);
}

static void
test_dnn_batch_uses_default_efficiencies_when_unset(void **state)
{
    (void)state;
    /* dnn_eff 0.4: 5e10 / (100e12 x 0.4) = 1.25 ms; memory 120e6 / 0.77e12 = 0.156 ms. */
    assert_ns_near(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY_DEFAULTS, 10), 1260000);
    /* mem_eff 0.77: wide, 1.4e9 / 0.77e12 = 1,818,181.8 ns. */
    assert_ns_near(ep_cost_dnn_batch(&sc, SVC_WIDE, SPEC_TOY_DEFAULTS, 1), 1828182);
}

static void
test_dnn_batch_of_zero_costs_nothing(void **state)
{
    (void)state;
    assert_int_equal(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY, 0), 0);
}

static void
test_dnn_batch_saturates_for_absurd_work(void **state)
{
    (void)state;
    services[SVC_DET].flops_per_item = 1e30; /* 2e16 s */
    assert_true(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY, 1) == EP_TIME_MAX);
}

static void
test_dnn_table_overrides_roofline_and_interpolates(void **state)
{
    (void)state;
    tables[0] = (ep_profile_table){.service = SVC_DET,
                                   .spec = SPEC_TOY,
                                   .n = 3,
                                   .x = {1, 4, 8},
                                   .y = {1 * MS, 2500000, 4 * MS}};
    sc.nprofiles = 1;
    assert_int_equal(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY, 1), 1 * MS);
    assert_int_equal(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY, 2), 1500000);
    assert_int_equal(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY, 6), 3250000);
    assert_int_equal(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY, 8), 4 * MS);
    /* Beyond: slope (4 - 2.5) / 4 = 0.375 ms per item: 4 + 8 x 0.375 = 7 ms at 16. */
    assert_int_equal(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY, 16), 7 * MS);
    /* Another spec still uses the roofline. */
    assert_ns_near(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY_DEFAULTS, 10), 1260000);
}

static void
test_dnn_first_matching_table_wins(void **state)
{
    (void)state;
    /* A table for another spec, one without batch points, then "measured", then "shipped". */
    tables[0] = (ep_profile_table){.service = SVC_DET, .spec = SPEC_4090, .n = 1, .y = {9}};
    tables[1] = (ep_profile_table){.service = SVC_DET, .spec = SPEC_TOY, .n = 0};
    tables[2] = (ep_profile_table){
            .service = SVC_DET, .spec = SPEC_TOY, .n = 1, .x = {1}, .y = {3 * MS}};
    tables[3] = (ep_profile_table){
            .service = SVC_DET, .spec = SPEC_TOY, .n = 1, .x = {1}, .y = {5 * MS}};
    sc.nprofiles = 4;
    /* n == 1: constant. */
    assert_int_equal(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY, 1), 3 * MS);
    assert_int_equal(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY, 50), 3 * MS);
}

/* --- LLM estimate -------------------------------------------------------------------- */

static void
test_prefill_sums_gemms_attention_and_small_kernels(void **state)
{
    (void)state;
    /* toyllm on toy, one prompt of 1000 tokens:
     * GEMMs: compute 2 x 1e9 x 1000 / 5e13 = 40 ms, weights 2e9 / 5e11 = 4 ms,
     *   blend 40 x (1 + 0.1^2.5)^0.4 = 40.05054852 ms;
     * attention: L = 1000, eff 0.2 x 1000 / 2000 = 0.1: 2 x 10 x 1000 x 1e6 / 1e13 = 2 ms
     *   (its KV write, 1e8 / 5e11 = 0.2 ms, is below);
     * small kernels: 10 layers x max(10 us, 1000 x 61 x 1000 / 5e11 = 122 us) = 1.22 ms;
     * + 10 us overhead: 43,280,548.52 ns. */
    assert_ns_near(ep_cost_llm_prefill(&sc, SVC_TOYLLM, SPEC_TOY, 1000), 43280549);
    assert_ns_near(ep_cost_llm_attention(&sc, SVC_TOYLLM, SPEC_TOY, 1000, 1e6, 0, 0), 2 * MS);
}

static void
test_decode_reads_weights_and_kv_at_their_efficiencies(void **state)
{
    (void)state;
    /* toyllm on toy, 4 requests holding 4000 context tokens:
     * GEMMs: compute 2 x 1e9 x 4 / 5e13 = 0.16 ms, weights 4 ms: 4 x (1 + 0.04^2.5)^0.4
     *   = 4.00051195 ms;
     * attention: kv_eff 0.8 x 4 / 5 = 0.64: 1e5 x 4004 / 6.4e11 = 625.625 us (FLOPs
     *   4 x 10 x 1000 x 4000 / 2e13 = 8 us);
     * small kernels: 10 x 10 us floor = 0.1 ms; + 10 us: 4,736,136.95 ns. */
    assert_ns_near(ep_cost_llm_decode(&sc, SVC_TOYLLM, SPEC_TOY, 4, 4000), 4736137);
    assert_ns_near(ep_cost_llm_attention(&sc, SVC_TOYLLM, SPEC_TOY, 0, 0, 4, 4000), 625625);
    /* One request reads its KV at half the efficiency of a large batch (0.8 x 1/2). */
    ep_dur one = ep_cost_llm_attention(&sc, SVC_TOYLLM, SPEC_TOY, 0, 0, 1, 1000);
    assert_ns_near(one, 250250); /* 1e5 x 1001 / 4e11 */
}

static void
test_iteration_reads_weights_once_for_prefill_and_decode(void **state)
{
    (void)state;
    /* Prefill 100 tokens (sq 1e4) + decode 4 requests holding 4000 context tokens:
     * GEMMs: 2 x 1e9 x 104 / 5e13 = 4.16 ms vs 4 ms of weights, blended 5.38514429 ms;
     * attention: prefill L = 100, eff 0.2 x 100 / 1100: 2 x 10 x 1000 x 1e4 = 2e8 FLOPs
     *   / 1.818e12 = 110 us (its KV write, 1e7 / 5e11 = 20 us, below); decode 625.625 us;
     * small: 10 x max(10 us, 104 x 61e3 / 5e11 = 12.688 us) = 126.88 us; + 10 us. */
    ep_dur t = ep_cost_llm_iteration(&sc, SVC_TOYLLM, SPEC_TOY, 100, 1e4, 4, 4000);
    assert_ns_near(t, 6257649);
    ep_dur apart = ep_cost_llm_iteration(&sc, SVC_TOYLLM, SPEC_TOY, 100, 1e4, 0, 0) +
                   ep_cost_llm_decode(&sc, SVC_TOYLLM, SPEC_TOY, 4, 4000);
    assert_true(t < apart);
}

static void
test_embedding_is_not_a_gemm(void **state)
{
    (void)state;
    /* A 100,000-word vocabulary: 1e8 embedding parameters. Untied (embedding and LM head):
     * GEMMs 2 x 8e8 x 1000 + 2 x 1e8 (the head, once) = 1.6002e12 FLOPs -> 32.004 ms,
     * the embedding not streamed: 1.8e9 / 5e11 = 3.6 ms, blended 32.05825726 ms; + 2 ms
     * attention + 1.22 ms small + 10 us = 35,288,257.26 ns. */
    services[SVC_TOYLLM].vocab = 100000;
    assert_ns_near(ep_cost_llm_prefill(&sc, SVC_TOYLLM, SPEC_TOY, 1000), 35288257);
    /* Tied: one table, read as the head: 2 x 9e8 x 1000 + 2e8 FLOPs, 2e9 bytes. */
    services[SVC_TOYLLM].tied_embeddings = 1;
    assert_ns_near(ep_cost_llm_prefill(&sc, SVC_TOYLLM, SPEC_TOY, 1000), 39293176);
}

static void
test_empty_iteration_costs_nothing(void **state)
{
    (void)state;
    assert_int_equal(ep_cost_llm_iteration(&sc, SVC_8B, SPEC_4090, 0, 0, 0, 0), 0);
    assert_int_equal(ep_cost_llm_attention(&sc, SVC_8B, SPEC_4090, 0, 0, 0, 0), 0);
}

/* Llama-2-7B on an A100 with the default constants against the kernel times Vidur measured
 * (per-operator medians summed over 32 layers as Vidur does, attention included;
 * docs/calibration.md): every row within 15%. */
static void
test_a100_llama2_7b_within_15_percent_of_measurements(void **state)
{
    (void)state;
    static const struct {
        int64_t prefill; /* one prompt of this many tokens, or */
        int batch;       /* a decode step of this batch at 1,024 tokens of context each */
        double ms;       /* measured */
    } rows[] = {{512, 0, 36.7}, {2048, 0, 158.5}, {4096, 0, 347.4}, {0, 1, 9.9}, {0, 32, 19.9}};
    for (size_t i = 0; i < EP_ARRAY_LEN(rows); i++) {
        ep_dur t = rows[i].prefill ? ep_cost_llm_prefill(&sc, SVC_L2_7B, SPEC_A100, rows[i].prefill)
                                   : ep_cost_llm_decode(&sc, SVC_L2_7B, SPEC_A100, rows[i].batch,
                                                        (int64_t)rows[i].batch * 1024);
        double ms = (double)t / (double)MS, err = ms / rows[i].ms - 1;
        print_message("A100 Llama-2-7B %s %lld: model %.1f ms, measured %.1f ms (%+.1f%%)\n",
                      rows[i].prefill ? "prefill" : "decode batch",
                      (long long)(rows[i].prefill ? rows[i].prefill : rows[i].batch), ms,
                      rows[i].ms, 100 * err);
        if (fabs(err) > 0.15)
            fail_msg("row %zu: %.1f ms is %+.1f%% off %.1f ms", i, ms, 100 * err, rows[i].ms);
    }
}

/* --- LLM tables ---------------------------------------------------------------------- */

static void
add_llm_table(int m)
{
    tables[0] = (ep_profile_table){.service = SVC_8B,
                                   .spec = SPEC_4090,
                                   .n = 2,
                                   .x = {128, 1024},
                                   .y = {10 * MS, 60 * MS},
                                   .m = m,
                                   .dx = {1, 8},
                                   .dy = {20 * MS, 27 * MS},
                                   .ctx_ref = 1024};
    sc.nprofiles = 1;
}

static void
test_llm_table_gives_prefill_by_tokens(void **state)
{
    (void)state;
    add_llm_table(2);
    /* 10 + (512 - 128) / 896 x 50 = 31.4285714 ms. */
    assert_int_equal(ep_cost_llm_prefill(&sc, SVC_8B, SPEC_4090, 512), 31428571);
    assert_int_equal(ep_cost_llm_prefill(&sc, SVC_8B, SPEC_4090, 1024), 60 * MS);
    /* Linear beyond the last point: slope 50/896 ms per token. 60 + 1024 x 50/896. */
    assert_int_equal(ep_cost_llm_prefill(&sc, SVC_8B, SPEC_4090, 2048), 117142857);
}

static void
test_llm_table_scales_decode_with_context(void **state)
{
    (void)state;
    add_llm_table(2);
    /* dy(4) = 20 + 3/7 x 7 = 23 ms at ctx_ref = 1024 tokens per request. */
    assert_int_equal(ep_cost_llm_decode(&sc, SVC_8B, SPEC_4090, 4, 4 * 1024), 23 * MS);
    /* Twice the context per request: x (1 + 0.5 x (2 - 1)) = x 1.5. */
    assert_int_equal(ep_cost_llm_decode(&sc, SVC_8B, SPEC_4090, 4, 4 * 2048), 34500000);
    /* Half: x 0.75. No context: x 0.5, the floor. */
    assert_int_equal(ep_cost_llm_decode(&sc, SVC_8B, SPEC_4090, 4, 4 * 512), 17250000);
    assert_int_equal(ep_cost_llm_decode(&sc, SVC_8B, SPEC_4090, 4, 0), 11500000);
    /* Without ctx_ref the table value is used as is. */
    tables[0].ctx_ref = 0;
    assert_int_equal(ep_cost_llm_decode(&sc, SVC_8B, SPEC_4090, 4, 4 * 2048), 23 * MS);
}

static void
test_llm_table_sums_prefill_and_decode_parts(void **state)
{
    (void)state;
    add_llm_table(2);
    assert_int_equal(ep_cost_llm_iteration(&sc, SVC_8B, SPEC_4090, 512, 512.0 * 512, 4, 4096),
                     31428571 + 23 * MS);
}

static void
test_llm_table_without_decode_points_uses_estimate_for_decode(void **state)
{
    (void)state;
    /* The estimate of the decode part alone, taken before the table exists. */
    ep_dur decode = ep_cost_llm_decode(&sc, SVC_8B, SPEC_4090, 4, 4096);
    add_llm_table(0);
    assert_int_equal(ep_cost_llm_decode(&sc, SVC_8B, SPEC_4090, 4, 4096), decode);
    assert_int_equal(ep_cost_llm_iteration(&sc, SVC_8B, SPEC_4090, 512, 512.0 * 512, 4, 4096),
                     31428571 + decode);
}

/* --- TP, memory, load, MT ------------------------------------------------------------ */

static void
test_tp_divides_compute_and_adds_all_reduce(void **state)
{
    (void)state;
    /* tp 2: 10 / 2 ms + 2 x 32 layers x (2 x 1/2) x 1e6 B / 64e9 B/s = 5 + 1 ms. */
    assert_ns_near(ep_cost_tp(&sc, SVC_8B, NODE_64G, 2, 10 * MS, 1000000), 6 * MS);
    /* tp 4: 2.5 ms + 2 x 32 x 1.5 x 1e6 / 64e9 = 2.5 + 1.5 ms. */
    assert_ns_near(ep_cost_tp(&sc, SVC_8B, NODE_64G, 4, 10 * MS, 1000000), 4 * MS);
    /* No intra-node bandwidth given: 32 GB/s, so the all-reduce takes 2 ms. */
    assert_ns_near(ep_cost_tp(&sc, SVC_8B, NODE_NOBW, 2, 10 * MS, 1000000), 7 * MS);
    assert_int_equal(ep_cost_tp(&sc, SVC_8B, NODE_64G, 1, 10 * MS, 1000000), 10 * MS);
}

static void
test_kv_capacity_of_8b_on_24gib_device(void **state)
{
    (void)state;
    /* 24 GiB = 25,769,803,776 B; x 0.9 = 23,192,823,398.4 -> 23,192,823,398 B;
     * - 16,060,000,000 weights - 1,000,000,000 reserve = 6,132,823,398 B;
     * / 131,072 B per token = 46,789.7 -> 46,789 tokens. */
    assert_int_equal(ep_cost_kv_capacity_tokens(&sc, SVC_8B, SPEC_4090, 1), 46789);
}

static void
test_kv_capacity_of_13b_needs_two_24gb_devices(void **state)
{
    (void)state;
    /* 24e9 B x 0.9 = 21.6e9 B < 26e9 B of weights. */
    assert_int_equal(ep_cost_kv_capacity_tokens(&sc, SVC_13B, SPEC_24E9, 1), 0);
    /* 2 x 24e9 x 0.9 = 43.2e9; - 26e9 - 2 x 1e9 = 15.2e9 B; / 819,200 = 18,554.7 -> 18,554. */
    assert_int_equal(ep_cost_kv_capacity_tokens(&sc, SVC_13B, SPEC_24E9, 2), 18554);
}

static void
test_kv_capacity_is_zero_when_reserve_does_not_fit_or_not_llm(void **state)
{
    (void)state;
    /* Weights fit (16.06e9 < 21.6e9) but not with a 6e9 reserve. */
    services[SVC_8B].act_bytes_reserve = INT64_C(6000000000);
    assert_int_equal(ep_cost_kv_capacity_tokens(&sc, SVC_8B, SPEC_24E9, 1), 0);
    assert_int_equal(ep_cost_kv_capacity_tokens(&sc, SVC_DET, SPEC_24E9, 1), 0);
    assert_int_equal(ep_cost_kv_capacity_tokens(&sc, SVC_8B, SPEC_24E9, 0), 0);
}

static void
test_kv_capacity_uses_default_mem_util(void **state)
{
    (void)state;
    /* 16 GiB x 0.9 = 15,461,882,265.6 -> 15,461,882,265; det-like LLM with 1e9 weights,
     * no reserve, 1 MB per token: 14,461,882,265 / 1e6 = 14,461. */
    services[SVC_DET].kind = EP_SVC_LLM;
    services[SVC_DET].weights_bytes = 1000000000;
    services[SVC_DET].act_bytes_reserve = 0;
    services[SVC_DET].kv_bytes_per_token = 1000000;
    assert_int_equal(ep_cost_kv_capacity_tokens(&sc, SVC_DET, SPEC_TOY_DEFAULTS, 1), 14461);
}

static void
test_instance_mem_is_weight_share_plus_reserve(void **state)
{
    (void)state;
    assert_int_equal(ep_cost_instance_mem(&sc, SVC_8B, 1), INT64_C(17060000000));
    assert_int_equal(ep_cost_instance_mem(&sc, SVC_8B, 2), INT64_C(9030000000));
    /* 16,060,000,000 / 3 = 5,353,333,333.3, rounded up. */
    assert_int_equal(ep_cost_instance_mem(&sc, SVC_8B, 3), INT64_C(6353333334));
}

static void
test_load_time_is_weight_share_over_load_bandwidth(void **state)
{
    (void)state;
    /* 16.06e9 B / 4e9 B/s = 4.015 s; half of it on each of 2 devices. */
    assert_int_equal(ep_cost_load(&sc, SVC_8B, SPEC_4090, 1), INT64_C(4015000000));
    assert_int_equal(ep_cost_load(&sc, SVC_8B, SPEC_4090, 2), INT64_C(2007500000));
    /* No load bandwidth: 2 GB/s. */
    assert_int_equal(ep_cost_load(&sc, SVC_8B, SPEC_24E9, 1), INT64_C(8030000000));
}

static void
test_mt_slowdown_reads_table_and_extrapolates(void **state)
{
    (void)state;
    const double t[8] = {1.0, 1.23, 2.36, 5.89};
    memcpy(sc.mt_slowdown, t, sizeof(t));
    assert_true(ep_cost_mt_slowdown(&sc, 0) == 1.0);
    assert_true(ep_cost_mt_slowdown(&sc, 1) == 1.0);
    assert_true(ep_cost_mt_slowdown(&sc, 2) == 1.23);
    assert_true(ep_cost_mt_slowdown(&sc, 4) == 5.89);
    /* Slope of the last two (k = 3, 4): 3.53 per instance. */
    assert_double_near(ep_cost_mt_slowdown(&sc, 5), 9.42, 1e-9);
    assert_double_near(ep_cost_mt_slowdown(&sc, 8), 20.01, 1e-9);
    /* A full table: k = 8 is read, k = 9 extrapolated from k = 7, 8. */
    const double full[8] = {1, 2, 3, 4, 5, 6, 7, 9};
    memcpy(sc.mt_slowdown, full, sizeof(full));
    assert_true(ep_cost_mt_slowdown(&sc, 8) == 9.0);
    assert_double_near(ep_cost_mt_slowdown(&sc, 9), 11.0, 1e-12);
    assert_double_near(ep_cost_mt_slowdown(&sc, 12), 17.0, 1e-12);
}

static void
test_mt_slowdown_extrapolation_handles_gaps_and_never_drops_below_1(void **state)
{
    (void)state;
    /* A gap at k = 3: extrapolated from k = 1, 2. */
    const double gap[8] = {1.0, 1.2, 0, 2.0};
    memcpy(sc.mt_slowdown, gap, sizeof(gap));
    assert_double_near(ep_cost_mt_slowdown(&sc, 3), 1.4, 1e-12);
    assert_true(ep_cost_mt_slowdown(&sc, 4) == 2.0);
    /* k = 1 missing counts as 1.0: (1, 1.0), (2, 1.5) -> 2.0 at k = 3. */
    const double nofirst[8] = {0, 1.5};
    memcpy(sc.mt_slowdown, nofirst, sizeof(nofirst));
    assert_double_near(ep_cost_mt_slowdown(&sc, 3), 2.0, 1e-12);
    /* A falling table would extrapolate below 1. */
    const double falling[8] = {1.0, 0.5};
    memcpy(sc.mt_slowdown, falling, sizeof(falling));
    assert_true(ep_cost_mt_slowdown(&sc, 3) == 1.0);
    /* Empty table. */
    memset(sc.mt_slowdown, 0, sizeof(sc.mt_slowdown));
    assert_true(ep_cost_mt_slowdown(&sc, 3) == 1.0);
    assert_true(ep_cost_mt_slowdown(&sc, 20) == 1.0);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup(f, setup)
    const struct CMUnitTest tests[] = {
            T(test_interp_returns_exact_values_at_points),
            T(test_interp_is_linear_between_points),
            T(test_interp_extrapolates_from_end_segments),
            T(test_interp_is_never_negative),
            T(test_interp_with_one_point_is_constant),
            T(test_interp_saturates_instead_of_overflowing),
            T(test_dnn_batch_is_memory_bound_at_batch_1),
            T(test_dnn_batch_is_compute_bound_at_batch_10),
            T(test_dnn_batch_uses_default_efficiencies_when_unset),
            T(test_dnn_batch_of_zero_costs_nothing),
            T(test_dnn_batch_saturates_for_absurd_work),
            T(test_dnn_table_overrides_roofline_and_interpolates),
            T(test_dnn_first_matching_table_wins),
            T(test_prefill_sums_gemms_attention_and_small_kernels),
            T(test_decode_reads_weights_and_kv_at_their_efficiencies),
            T(test_iteration_reads_weights_once_for_prefill_and_decode),
            T(test_embedding_is_not_a_gemm),
            T(test_empty_iteration_costs_nothing),
            T(test_a100_llama2_7b_within_15_percent_of_measurements),
            T(test_llm_table_gives_prefill_by_tokens),
            T(test_llm_table_scales_decode_with_context),
            T(test_llm_table_sums_prefill_and_decode_parts),
            T(test_llm_table_without_decode_points_uses_estimate_for_decode),
            T(test_tp_divides_compute_and_adds_all_reduce),
            T(test_kv_capacity_of_8b_on_24gib_device),
            T(test_kv_capacity_of_13b_needs_two_24gb_devices),
            T(test_kv_capacity_is_zero_when_reserve_does_not_fit_or_not_llm),
            T(test_kv_capacity_uses_default_mem_util),
            T(test_instance_mem_is_weight_share_plus_reserve),
            T(test_load_time_is_weight_share_over_load_bandwidth),
            T(test_mt_slowdown_reads_table_and_extrapolates),
            T(test_mt_slowdown_extrapolation_handles_gaps_and_never_drops_below_1),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
