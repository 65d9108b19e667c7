/* cpu engine kernels (exec/README.md): a Llama-style FP32 decoder on BLAS with random seeded
 * weights or weights loaded from a llama2.c checkpoint, and a per-sequence KV cache.
 * Models are read-only after creation; sequences are owned by one caller at a time. */
#ifndef EPARA_ENGINE_CPU_H
#define EPARA_ENGINE_CPU_H

#include <stddef.h>

#include "epara/core/common.h"

/* Shape of a decoder. head size = dim / n_heads (must be even); kv_dim = n_kv_heads * head
 * size; n_heads must be a multiple of n_kv_heads (grouped-query attention). Every count must
 * be in [1, 2^20] and n_layers in [1, 4096]. */
typedef struct ep_llm_config {
    int dim;
    int hidden_dim; /* SwiGLU inner width */
    int n_layers;
    int n_heads;
    int n_kv_heads;
    int vocab_size;
    int max_seq_len;       /* KV cache capacity in tokens */
    float rope_theta;      /* RoPE base, > 0; llama2.c uses 10000 */
    int shared_classifier; /* nonzero: the classifier is the token embedding (tied) */
} ep_llm_config;

/* The weights, in llama2.c order and layout. Every matrix is row-major [out][in]; per-layer
 * tensors are stacked over layers (layer l of wq starts at wq + l * dim * dim). Owned by the
 * model; read-only for callers. */
typedef struct ep_llm_weights {
    float *token_embedding; /* [vocab][dim] */
    float *rms_att;         /* [n_layers][dim] */
    float *wq;              /* [n_layers][dim][dim] */
    float *wk;              /* [n_layers][kv_dim][dim] */
    float *wv;              /* [n_layers][kv_dim][dim] */
    float *wo;              /* [n_layers][dim][dim] */
    float *rms_ffn;         /* [n_layers][dim] */
    float *w1;              /* [n_layers][hidden][dim] (gate) */
    float *w2;              /* [n_layers][dim][hidden] (down) */
    float *w3;              /* [n_layers][hidden][dim] (up) */
    float *rms_final;       /* [dim] */
    float *wcls;            /* [vocab][dim]; == token_embedding when shared */
} ep_llm_weights;

typedef struct ep_llm ep_llm;
typedef struct ep_llm_seq ep_llm_seq;

/* NULL when cfg is a shape ep_llm_new accepts, else static text naming the problem. */
const char *ep_llm_config_problem(const ep_llm_config *cfg);

/* RMSNorm epsilon (as llama2.c). */
#define EP_LLM_RMS_EPS 1e-5f

/* Creates a model with random weights drawn from `seed` (its own RNG stream):
 * token embedding ~ N(0, 1); each matrix ~ N(0, 1/sqrt(in)) where in is its input width;
 * RMSNorm gains ~ 1 + N(0, 0.1). Same (config, seed) -> bit-identical weights.
 * Returns 0 and *out, EP_EINVAL for a bad config, or EP_ENOMEM. */
int ep_llm_new(const ep_llm_config *cfg, uint64_t seed, ep_llm **out);

/* Loads a llama2.c (`run.c`) checkpoint: seven little-endian int32 (dim, hidden_dim,
 * n_layers, n_heads, n_kv_heads, vocab_size (negative: unshared classifier), seq_len), then
 * float32 tensors in ep_llm_weights order, with two [seq_len][head/2] RoPE tables (ignored)
 * after rms_final and wcls last when unshared. rope_theta is 10000. The file length must
 * match the header exactly. Returns 0 and *out; EP_EPARSE for a malformed file, EP_ENOENT
 * or EP_EIO when it cannot be read, EP_ENOMEM; on error a message goes to err (may be NULL,
 * errlen bytes). */
int ep_llm_load(const char *path, ep_llm **out, char *err, size_t errlen);

/* Frees the model; NULL is a no-op. Free its sequences first. */
void ep_llm_free(ep_llm *m);

/* The model's configuration and weights (borrowed; valid until ep_llm_free). */
const ep_llm_config *ep_llm_get_config(const ep_llm *m);
const ep_llm_weights *ep_llm_get_weights(const ep_llm *m);

/* A sequence: a KV cache of max_seq_len positions for `m`, starting empty (position 0).
 * Holds a borrowed pointer to m. Returns 0 and *out or EP_ENOMEM. */
int ep_llm_seq_new(const ep_llm *m, ep_llm_seq **out);
/* Frees the sequence; NULL is a no-op. */
void ep_llm_seq_free(ep_llm_seq *s);
/* Number of tokens in the cache (the position of the next token). */
int ep_llm_seq_pos(const ep_llm_seq *s);
/* Empties the cache (position 0). */
void ep_llm_seq_reset(ep_llm_seq *s);
/* Keeps only the first min(pos, current position) tokens of the cache (pos >= 0), so the
 * next token goes to position pos: a full cache makes room this way. */
void ep_llm_seq_truncate(ep_llm_seq *s, int pos);
/* The cache (borrowed, read-only): *k and *v are [n_layers][max_seq_len][kv_dim]; only
 * positions below ep_llm_seq_pos hold data. */
void ep_llm_seq_cache(const ep_llm_seq *s, const float **k, const float **v);

/* Runs n >= 1 tokens of one sequence through the model as one batch (sgemm over n rows),
 * appending them to its cache, and writes the vocab_size logits of the last token to
 * logits_out (may be NULL to skip the classifier). Continues from the sequence's position.
 * Returns 0; EP_EINVAL for a sequence of another model, n < 1 or a token outside
 * [0, vocab); EP_ERANGE when pos + n > max_seq_len; EP_ENOMEM. On error the sequence's
 * position and logits_out are unchanged. Allocates temporaries per call. */
int ep_llm_prefill(const ep_llm *m, ep_llm_seq *seq, const int *tokens, int n, float *logits_out);

/* One decode step for `batch` distinct sequences: token i is appended to seqs[i]. Weight
 * matmuls run as one sgemm over the batch rows; attention runs per sequence. Writes
 * batch x vocab_size logits (row i for seqs[i]) to logits_out (may be NULL). Returns 0;
 * EP_EINVAL for batch < 1, a repeated or foreign sequence or a bad token; EP_ERANGE when a
 * sequence is full; EP_ENOMEM. On error no sequence changes. */
int ep_llm_decode_batch(const ep_llm *m, ep_llm_seq *const *seqs, const int *tokens, int batch,
                        float *logits_out);

/* ---- segmentation net ----
 * A small encoder-decoder: conv3x3(in->w), conv3x3(w->w) = skip, 2x2 max-pool,
 * conv3x3(w->2w), nearest 2x upsample, conv3x3(2w->w) + skip, conv1x1(w->classes). Every
 * 3x3 conv has zero padding 1, bias and ReLU; the 1x1 head has bias and no activation.
 * Convolutions run as im2col + sgemm. Tensors are float32, channel-major [c][h][w]. */
typedef struct ep_seg_config {
    int in_channels; /* in [1, 4096] */
    int width;       /* w, base channel count, in [1, 4096] */
    int n_classes;   /* in [1, 4096] */
} ep_seg_config;

/* Conv weights are [out][in][3][3] (head: [classes][w]); biases [out]. Owned by the net. */
typedef struct ep_seg_weights {
    float *c1w, *c1b; /* in -> w */
    float *c2w, *c2b; /* w -> w */
    float *c3w, *c3b; /* w -> 2w, at half resolution */
    float *c4w, *c4b; /* 2w -> w */
    float *hw, *hb;   /* w -> classes, 1x1 */
} ep_seg_weights;

typedef struct ep_seg ep_seg;

/* Random weights from `seed` (own RNG stream): He init, weights ~ N(0, sqrt(2 / fan_in)),
 * biases ~ N(0, 0.1). Returns 0 and *out, EP_EINVAL for a bad config, or EP_ENOMEM. */
int ep_seg_new(const ep_seg_config *cfg, uint64_t seed, ep_seg **out);
/* Frees the net; NULL is a no-op. */
void ep_seg_free(ep_seg *n);
const ep_seg_config *ep_seg_get_config(const ep_seg *n);
const ep_seg_weights *ep_seg_get_weights(const ep_seg *n);

/* Segments `batch` images [in_channels][h][w] stored back to back in `images` and writes
 * per-pixel class logits, batch x [n_classes][h][w], to logits_out. h and w must be even and
 * in [2, 4096]. Returns 0; EP_EINVAL for bad arguments; EP_ENOMEM. Allocates temporaries
 * per call; logits_out is written only on success. */
int ep_seg_forward(const ep_seg *n, const float *images, int batch, int h, int w,
                   float *logits_out);

#endif
