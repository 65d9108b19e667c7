/* cuda engine kernels (exec/README.md): the cpu engine's decoder and segmentation net on one
 * NVIDIA GPU (cuBLAS for the matrix products, own kernels for the rest). A GPU model is made
 * from a cpu model by uploading its weights, so both engines compute the same function.
 * Built only when CUDA is enabled: library ep_cuda, which defines EPARA_HAVE_CUDA=1. */
#ifndef EPARA_ENGINE_CUDA_H
#define EPARA_ENGINE_CUDA_H

#include <stddef.h>

#include "epara/core/common.h"
#include "epara/exec/engine_cpu.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the CUDA runtime finds at least one usable device, else 0. Never aborts: without a
 * driver or a device it returns 0 (ep_cuda_last_error() then says why). The engine runs on
 * the calling thread's current CUDA device (device 0 unless the caller changes it). */
int ep_cuda_available(void);

/* Writes the current device's name and compute capability ("NVIDIA H100 (sm_90)") to buf (len
 * bytes, truncated, NUL-terminated) and its memory to *mem_bytes (may be NULL). Returns 0 or
 * an error below. */
int ep_cuda_device_name(char *buf, size_t len, size_t *mem_bytes);

/* Text of this thread's last CUDA or cuBLAS failure ("cudaMalloc: out of memory"), or ""
 * when there was none. Static storage, overwritten by the next failure on this thread. */
const char *ep_cuda_last_error(void);

/* Errors of every function below: EP_EINVAL for bad arguments (as the cpu functions);
 * EP_ENOMEM when device (or host) memory runs out; EP_ENOTSUP when there is no driver or
 * device; EP_EIO for any other CUDA or cuBLAS failure. A failure of an asynchronous kernel
 * may leave the device context unusable; the message is in ep_cuda_last_error(). */

/* ---- decoder ----
 * A model holds its weights in device memory plus one CUDA stream, one cuBLAS handle and
 * scratch buffers that grow to the largest batch seen, so a model and its sequences are used
 * by one thread at a time. Every call returns after the device work is done. */
typedef struct ep_cuda_llm ep_cuda_llm;
typedef struct ep_cuda_llm_seq ep_cuda_llm_seq;

/* Uploads the weights of `host` (borrowed for the call; it may be freed afterwards) to
 * the device. Matmuls run in full FP32 (no TF32). Returns 0 and *out, or an error above. */
int ep_cuda_llm_new(const ep_llm *host, ep_cuda_llm **out);

/* Frees the model and its device memory; NULL is a no-op. Free its sequences first. */
void ep_cuda_llm_free(ep_cuda_llm *m);

/* The model's configuration (a copy of the host model's; valid until ep_cuda_llm_free). */
const ep_llm_config *ep_cuda_llm_get_config(const ep_cuda_llm *m);

/* A sequence: a device KV cache of max_seq_len positions for `m`, zeroed, position 0.
 * Holds a borrowed pointer to m. Returns 0 and *out, or an error above. */
int ep_cuda_llm_seq_new(ep_cuda_llm *m, ep_cuda_llm_seq **out);
/* Frees the sequence; NULL is a no-op. */
void ep_cuda_llm_seq_free(ep_cuda_llm_seq *s);
/* Number of tokens in the cache (the position of the next token). */
int ep_cuda_llm_seq_pos(const ep_cuda_llm_seq *s);
/* Empties the cache (position 0). */
void ep_cuda_llm_seq_reset(ep_cuda_llm_seq *s);
/* As ep_llm_seq_truncate: keeps only the first min(pos, current position) tokens of the
 * cache (pos >= 0), so the next token goes to position pos. Host bookkeeping only. */
void ep_cuda_llm_seq_truncate(ep_cuda_llm_seq *s, int pos);
/* Copies the whole cache to host memory: k and v (either may be NULL) receive
 * [n_layers][max_seq_len][kv_dim] floats each, the layout of ep_llm_seq_cache; only
 * positions below ep_cuda_llm_seq_pos hold data. Returns 0 or an error above. */
int ep_cuda_llm_seq_read_cache(const ep_cuda_llm_seq *s, float *k, float *v);

/* As ep_llm_prefill: runs n >= 1 tokens of one sequence as one batch (causal attention
 * among them and over the cache), appends them to its cache and writes the vocab_size
 * logits of the last token to logits_out (host memory; NULL skips the classifier).
 * Returns 0; EP_EINVAL for a sequence of another model, n < 1 or a token outside
 * [0, vocab); EP_ERANGE when pos + n > max_seq_len; or an error above. On error the
 * sequence's position and logits_out are unchanged. */
int ep_cuda_llm_prefill(ep_cuda_llm *m, ep_cuda_llm_seq *seq, const int *tokens, int n,
                        float *logits_out);

/* As ep_llm_decode_batch: one decode step for `batch` distinct sequences (token i appended
 * to seqs[i]), weight matmuls as one GEMM over the batch rows, attention per sequence.
 * Writes batch x vocab_size logits (row i for seqs[i]) to logits_out (host; may be NULL).
 * Returns 0; EP_EINVAL for batch < 1, a repeated or foreign sequence or a bad token;
 * EP_ERANGE when a sequence is full; or an error above. On error no position changes. */
int ep_cuda_llm_decode_batch(ep_cuda_llm *m, ep_cuda_llm_seq *const *seqs, const int *tokens,
                             int batch, float *logits_out);

/* ---- segmentation net ----
 * The cpu engine's net (engine_cpu.h) on the GPU: convolutions as im2col + batched GEMM
 * over the images of a call. Same threading rule as the decoder. */
typedef struct ep_cuda_seg ep_cuda_seg;

/* Uploads the weights of `host` (borrowed for the call). Returns 0 and *out or an error. */
int ep_cuda_seg_new(const ep_seg *host, ep_cuda_seg **out);
/* Frees the net; NULL is a no-op. */
void ep_cuda_seg_free(ep_cuda_seg *n);
const ep_seg_config *ep_cuda_seg_get_config(const ep_cuda_seg *n);

/* As ep_seg_forward: `batch` images [in_channels][h][w] back to back in host memory ->
 * batch x [n_classes][h][w] logits in host memory. h and w even, in [2, 4096]. Returns 0;
 * EP_EINVAL for bad arguments; or an error above. logits_out is written only on success. */
int ep_cuda_seg_forward(ep_cuda_seg *n, const float *images, int batch, int h, int w,
                        float *logits_out);

#ifdef __cplusplus
}
#endif

#endif
