/* Tests for the execution-cost model (core/profile.c) against hand arithmetic: roofline DNN
 * batches in both regimes, LLM prefill/decode/iterations, profile-table overrides with the
 * decode context rule, TP, KV capacity, instance memory, load time, MT slowdown and
 * ep_interp's edges. Scenarios are built in C; no loader is involved. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "epara/profile.h"

#define MS       EP_NS_PER_MS
#define GIB      (INT64_C(1) << 30)
#define OVERHEAD (20 * EP_NS_PER_US)

enum { SPEC_4090, SPEC_24E9, SPEC_TOY, SPEC_TOY_DEFAULTS, NSPECS };
enum { SVC_8B, SVC_13B, SVC_DET, SVC_WIDE, NSVCS };
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
    /* Round numbers: 100e12 x 0.5 = 5e13 FLOP/s, 1e12 x 0.5 = 5e11 B/s, 10 us overhead. */
    specs[SPEC_TOY] = (ep_device_spec){.name = "toy",
                                       .mem_bytes = 16 * GIB,
                                       .mem_bw_bytes_per_s = 1e12,
                                       .peak_flops = 100e12,
                                       .compute_eff = 0.5,
                                       .mem_eff = 0.5,
                                       .mem_util = 0.9,
                                       .batch_overhead = 10 * EP_NS_PER_US};
    /* Efficiencies and mem_util left at 0: the defaults 0.4, 0.7, 0.9 apply. */
    specs[SPEC_TOY_DEFAULTS] = specs[SPEC_TOY];
    specs[SPEC_TOY_DEFAULTS].compute_eff = 0;
    specs[SPEC_TOY_DEFAULTS].mem_eff = 0;
    specs[SPEC_TOY_DEFAULTS].mem_util = 0;

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
    /* compute_eff 0.4: 5e10 / (100e12 x 0.4) = 1.25 ms; memory 120e6 / 0.7e12 = 0.171 ms. */
    assert_ns_near(ep_cost_dnn_batch(&sc, SVC_DET, SPEC_TOY_DEFAULTS, 10), 1260000);
    /* mem_eff 0.7: wide, 1.4e9 / 0.7e12 = 2 ms. */
    assert_ns_near(ep_cost_dnn_batch(&sc, SVC_WIDE, SPEC_TOY_DEFAULTS, 1), 2010000);
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

/* --- LLM roofline -------------------------------------------------------------------- */

static void
test_prefill_of_1000_tokens_matches_formula(void **state)
{
    (void)state;
    /* FLOPs = 2 x 8.03e9 x 1000 + 2 x 32 x 4096 x 1000^2 = 1.6322144e13;
     * compute = 1.6322144e13 / (165e12 x 0.4) = 247,305,212.12 ns;
     * memory = (16.06e9 + 131072 x 1000) / 0.7e12 = 23,130,102.9 ns: compute-bound.
     * + 20,000 ns overhead. */
    assert_ns_near(ep_cost_llm_prefill(&sc, SVC_8B, SPEC_4090, 1000), 247325212);
}

static void
test_decode_is_memory_bound_at_batch_1(void **state)
{
    (void)state;
    /* Weights plus the new token's KV: (16.06e9 + 131072) / 0.7e12 = 22,943,044.39 ns;
     * compute 2 x 8.03e9 / 6.6e13 = 0.24 ms is far below. */
    assert_ns_near(ep_cost_llm_decode(&sc, SVC_8B, SPEC_4090, 1, 0), 22943044 + OVERHEAD);
    /* Reading 1000 tokens of context adds their KV: (16.06e9 + 131072 x 1001) / 0.7e12. */
    assert_ns_near(ep_cost_llm_decode(&sc, SVC_8B, SPEC_4090, 1, 1000), 23130290 + OVERHEAD);
}

static void
test_iteration_reads_weights_once_for_prefill_and_decode(void **state)
{
    (void)state;
    /* prefill 100 tokens (sq 1e4) + decode 8 requests holding 8000 context tokens:
     * FLOPs = 2 x 8.03e9 x 108 + 2 x 32 x 4096 x 1e4 + 4 x 32 x 4096 x 8000 = 1.741295744e12
     * -> 26,383,268.85 ns; bytes = 16.06e9 + 131072 x 8000 + 131072 x 108 -> 24,461,045.4
     * ns. Compute-bound. */
    ep_dur t = ep_cost_llm_iteration(&sc, SVC_8B, SPEC_4090, 100, 1e4, 8, 8000);
    assert_ns_near(t, 26383269 + OVERHEAD);
    ep_dur apart = ep_cost_llm_iteration(&sc, SVC_8B, SPEC_4090, 100, 1e4, 0, 0) +
                   ep_cost_llm_decode(&sc, SVC_8B, SPEC_4090, 8, 8000);
    assert_true(t < apart);
}

static void
test_empty_iteration_costs_nothing(void **state)
{
    (void)state;
    assert_int_equal(ep_cost_llm_iteration(&sc, SVC_8B, SPEC_4090, 0, 0, 0, 0), 0);
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
test_llm_table_without_decode_points_uses_roofline_for_decode(void **state)
{
    (void)state;
    add_llm_table(0);
    /* Decode alone by roofline: bytes = 16.06e9 + 131072 x 4096 + 131072 x 4 over 0.7e12
     * = 23,710,564.57 ns (compute 1.0 ms): 23,710,565 + 20,000. */
    ep_dur decode = 23710565 + OVERHEAD;
    assert_ns_near(ep_cost_llm_decode(&sc, SVC_8B, SPEC_4090, 4, 4096), decode);
    assert_ns_near(ep_cost_llm_iteration(&sc, SVC_8B, SPEC_4090, 512, 512.0 * 512, 4, 4096),
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
            T(test_prefill_of_1000_tokens_matches_formula),
            T(test_decode_is_memory_bound_at_batch_1),
            T(test_iteration_reads_weights_once_for_prefill_and_decode),
            T(test_empty_iteration_costs_nothing),
            T(test_llm_table_gives_prefill_by_tokens),
            T(test_llm_table_scales_decode_with_context),
            T(test_llm_table_sums_prefill_and_decode_parts),
            T(test_llm_table_without_decode_points_uses_roofline_for_decode),
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
