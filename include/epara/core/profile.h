/* Execution-cost model (node/README.md, "Model"; docs/calibration.md): how long a batch, an
 * LLM iteration or a model load takes on a device class, and how many KV-cache tokens fit.
 * Precedence: a profile table in the scenario (measured tables loaded from SQLite are put
 * first, then shipped tables), else an estimate from the device and model specs that prices
 * separately what the hardware runs separately. An LLM iteration on one device is
 *   GEMMs      blend(GEMM FLOPs / (peak x compute_eff), weight bytes / (bw x mem_eff))
 *   attention  prefill: 2 x layers x hidden x sum(L^2) / (peak x attn_eff(L)), with
 *                attn_eff(L) = attn_eff x L / (L + attn_half_tokens), L the mean prompt;
 *              decode: max(4 x layers x hidden x ctx / (peak x attn_eff),
 *                          KV bytes / (bw x kv_eff(b))), kv_eff(b) = kv_eff x b / (b +
 * kv_half_batch) small      layers x max(kernel_floor, tokens x EP_ELEMENTWISE_BYTES_PER_HIDDEN x
 * hidden / (bw x mem_eff))
 *   + batch_overhead,
 * where blend(c, m) = (c^p + m^p)^(1/p), p = EP_ROOFLINE_BLEND (a roofline with the rounded
 * knee real GEMMs show), GEMM FLOPs count 2 x (params - embedding) per new token plus the LM
 * head once per sequence, and the embedding table is not streamed. A DNN batch is
 * max(FLOPs / (peak x dnn_eff), bytes / (bw x mem_eff)) + batch_overhead.
 * Pure functions of the scenario: no clock, no I/O; the simulator and the policies share
 * them. Durations are rounded to the nearest ns, never negative, and saturate at EP_TIME_MAX
 * (callers that scale or sum them must saturate too). peak_flops and mem_bw must be > 0;
 * the constants below stand in for spec fields left <= 0. */
#ifndef EPARA_PROFILE_H
#define EPARA_PROFILE_H

#include "epara/core/model.h"

/* Defaults of the device-class constants, fit to Vidur's published A100 kernel times for
 * Llama-2-7B (Agrawal et al., MLSys 2024; docs/calibration.md has the fit and its error). */
#define EP_DEFAULT_COMPUTE_EFF       0.70  /* large FP16 GEMMs, >= 512 tokens */
#define EP_DEFAULT_MEM_EFF           0.77  /* GEMMs at 1-64 tokens stream the weights */
#define EP_DEFAULT_ATTN_EFF          0.19  /* prefill attention: 7% of peak at 512 tokens, */
#define EP_DEFAULT_ATTN_HALF_TOKENS  700   /* 14% at 2k, 16% at 4k */
#define EP_DEFAULT_KV_EFF            0.86  /* decode KV reads: 42% of bandwidth at batch 1, */
#define EP_DEFAULT_KV_HALF_BATCH     1.0   /* 83% at batch 32 */
#define EP_DEFAULT_KERNEL_FLOOR_NS   22000 /* 5 small kernels per layer, ~4.5 us each */
#define EP_DEFAULT_DNN_EFF           0.4
#define EP_DEFAULT_MEM_UTIL          0.9
#define EP_DEFAULT_BATCH_OVERHEAD_NS 200000
/* Small kernels move ~61 bytes per hidden unit per token and layer at the weights'
 * bandwidth efficiency (Vidur, A100 and H100, 512-4096 tokens: 60-62). */
#define EP_ELEMENTWISE_BYTES_PER_HIDDEN 61.0
/* Exponent of the GEMM roofline's blend: fits Vidur's A100 GEMMs at 64-256 tokens, where
 * neither compute nor memory alone explains the time, within 7%. core/profile.c computes
 * r^2.5 as r^2 sqrt(r) and (1 + t)^(1/2.5) by a series: change them with it. */
#define EP_ROOFLINE_BLEND 2.5

/* DNN: one batch of `batch` items of service svc on one device of class spec (0 when
 * batch < 1). FLOPs = batch x flops_per_item, bytes = weights + 2 x batch x
 * act_bytes_per_item; a table gives latency by batch instead. */
ep_dur ep_cost_dnn_batch(const ep_scenario *sc, int svc, int spec, int batch);

/* LLM: one continuous-batching iteration on one device that prefills `prefill_tokens`
 * prompt tokens (sum over the requests being prefilled; `prefill_sq` is the sum of their
 * squared lengths, for attention) and decodes one token for each of `decode_batch`
 * requests holding `ctx_tokens` context tokens in total. Compute of prefill and decode
 * adds up; the weights are read once per iteration. An empty iteration costs 0.
 * With a table, a part (prefill, decode) present in the iteration comes from the first table
 * for (svc, spec) with points for it; a part without one is an estimate of that part alone;
 * the parts add up. Decode from a table measured at ctx_ref tokens per request:
 * dy(batch) x max(0.5, 1 + 0.5 x (ctx_tokens / batch / ctx_ref - 1)). */
ep_dur ep_cost_llm_iteration(const ep_scenario *sc, int svc, int spec, int64_t prefill_tokens,
                             double prefill_sq, int decode_batch, int64_t ctx_tokens);

/* The attention part alone of such an iteration by the estimate (what a profile of the
 * linear layers only, such as Vidur's mlp.csv, leaves out), overhead not included. */
ep_dur ep_cost_llm_attention(const ep_scenario *sc, int svc, int spec, int64_t prefill_tokens,
                             double prefill_sq, int decode_batch, int64_t ctx_tokens);

/* The unloaded estimates the validation tests compare with: a lone prefill of `tokens`
 * and a lone decode step of `batch` requests with ctx_tokens context in total. */
ep_dur ep_cost_llm_prefill(const ep_scenario *sc, int svc, int spec, int64_t tokens);
ep_dur ep_cost_llm_decode(const ep_scenario *sc, int svc, int spec, int batch, int64_t ctx_tokens);

/* Tensor parallelism over tp devices of one node: per-device compute time / tp plus the
 * all-reduces (2 per layer, ring: 2 (tp-1)/tp x bytes each) over the node's intra-node
 * bandwidth. single is the one-device time of the same work; act_bytes the activation
 * bytes of that work per layer. */
ep_dur ep_cost_tp(const ep_scenario *sc, int svc, int node, int tp, ep_dur single,
                  int64_t act_bytes);

/* KV-cache capacity in tokens of an LLM instance spread over ndev devices of class spec:
 * floor((ndev x mem x mem_util - weights - ndev x act_reserve) / kv_bytes_per_token),
 * 0 when the weights do not fit. */
int64_t ep_cost_kv_capacity_tokens(const ep_scenario *sc, int svc, int spec, int ndev);

/* Memory an instance of svc needs on each of ndev devices (weights / ndev rounded up,
 * + reserve). */
int64_t ep_cost_instance_mem(const ep_scenario *sc, int svc, int ndev);

/* Loading svc's weights (or its share on one of ndev devices) onto a device of class spec. */
ep_dur ep_cost_load(const ep_scenario *sc, int svc, int spec, int ndev);

/* Per-instance slowdown factor when k instances on one device are busy at once (k >= 1;
 * 1 for k = 1; the scenario's mt_slowdown table, extrapolated linearly beyond it). Entries
 * <= 0 are missing: they are extrapolated from the last two present below k (a missing k = 1
 * counts as 1.0); extrapolated values are never below 1. */
double ep_cost_mt_slowdown(const ep_scenario *sc, int k);

/* Interpolates (x[i], y[i]), n >= 1 points with increasing x, at v: linear inside, linear
 * extrapolation from the two end points outside (constant when n == 1), never below 0. */
ep_dur ep_interp(const int64_t *x, const ep_dur *y, int n, double v);

#endif
