/* Engines (exec/README.md): one interface over the ways a node runs a model instance.
 * `emulated` sleeps the time the caller's cost model predicts (a virtual testbed of many nodes
 * on one machine); `cpu` computes for real with the cpu kernels (engine_cpu.h) on a small
 * configured model shape; `cuda` runs on a GPU when a CUDA engine is built in. Every call
 * that runs work blocks until it is done and reports the wall time it took (CLOCK_MONOTONIC).
 * An instance is used by one thread at a time; different instances may run concurrently. */
#ifndef EPARA_ENGINE_H
#define EPARA_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "epara/core/common.h"
#include "epara/exec/engine_cpu.h"
#include "epara/core/model.h"
#include "epara/core/time.h"

typedef struct ep_engine ep_engine;           /* one per node process */
typedef struct ep_engine_inst ep_engine_inst; /* one model instance */

typedef enum ep_engine_kind { EP_ENGINE_EMULATED, EP_ENGINE_CPU, EP_ENGINE_CUDA } ep_engine_kind;

/* Parses "emulated", "cpu" or "cuda" (exactly). Returns 0 and *out, or EP_EINVAL. */
int ep_engine_kind_parse(const char *s, ep_engine_kind *out);
/* The kind's name as ep_engine_kind_parse reads it (static text; "?" for other values). */
const char *ep_engine_kind_name(ep_engine_kind k);
/* Whether an engine of kind k can open here: emulated and cpu always; cuda when this build
 * has the cuda engine and the CUDA runtime finds a device (never aborts without one). */
int ep_engine_kind_available(ep_engine_kind k);

#define EP_ENGINE_SLOTS_DEFAULT 256     /* LLM sequence slots per instance */
#define EP_ENGINE_SLOTS_MAX     65536   /* most slots an instance may have */
#define EP_ENGINE_BATCH_MAX     65536   /* largest DNN batch */
#define EP_ENGINE_SHAPE_MAX     256     /* bytes of an ep_engine_inst_describe text */
#define EP_ENGINE_TOKENS_MAX    1048576 /* most tokens of one prefill work item */

/* How a node's engine runs models. Start from ep_engine_opts_default. */
typedef struct ep_engine_opts {
    ep_engine_kind kind;
    uint64_t seed;          /* model weights, prompt tokens and DNN inputs derive from it */
    int threads;            /* cpu: BLAS threads, process-wide (0: the library's default) */
    const char *checkpoint; /* cpu, cuda: llama2.c checkpoint for every LLM service (NULL:
                               random weights of shape `llm`); borrowed for ep_engine_open */
    ep_llm_config llm;      /* cpu, cuda: shape of the stand-in decoder of every LLM service */
    ep_seg_config seg;      /* cpu, cuda: shape of the segmentation net of every DNN service */
    int seg_side;           /* cpu, cuda: DNN inputs are seg_side x seg_side images (even) */
    int llm_slots;          /* LLM sequence slots per instance, in [1, EP_ENGINE_SLOTS_MAX] */
} ep_engine_opts;

/* Defaults: emulated, seed 1, threads 0, no checkpoint; LLM shape dim 256, hidden 768,
 * 4 layers, 8 heads, 4 KV heads, vocab 512, max_seq_len 2048, rope_theta 10000, tied
 * classifier; DNN net 3 input channels, width 16, 21 classes, 128 x 128 inputs;
 * EP_ENGINE_SLOTS_DEFAULT slots. The scenario's real models (1B-13B parameters) do not fit
 * FP32 on a small CPU: the cpu engine measures this stand-in shape instead. */
void ep_engine_opts_default(ep_engine_opts *o);

/* Sets the LLM shape fields named in text, "KEY=VALUE[,KEY=VALUE...]" with keys dim, hidden,
 * layers, heads, kv_heads, vocab, seq (max_seq_len), theta (rope_theta) and tied (0 or 1);
 * other fields keep their values. Returns 0, or EP_EINVAL with a message in err (errlen
 * bytes, may be NULL) for an unknown key, a malformed value or a shape the decoder refuses
 * (cfg is then unchanged). */
int ep_engine_llm_shape_parse(const char *text, ep_llm_config *cfg, char *err, size_t errlen);
/* The same for the DNN net: keys channels, width, classes and side (the input image side,
 * even). */
int ep_engine_dnn_shape_parse(const char *text, ep_seg_config *cfg, int *side, char *err,
                              size_t errlen);

/* Opens an engine of kind o->kind for scenario sc (borrowed; it must outlive the engine).
 * o is copied. Returns 0 and *out; EP_EINVAL for bad options (a shape the kernels refuse,
 * slots out of range) and for "cuda" when no CUDA engine is built ("cuda engine not
 * built"); EP_ENOTSUP for "cuda" without a usable device ("no CUDA device (...)"); EP_ENOMEM.
 * err (errlen bytes, may be NULL) gets the message. */
int ep_engine_open(const ep_scenario *sc, const ep_engine_opts *o, ep_engine **out, char *err,
                   size_t errlen);
/* Closes the engine; unload its instances first. NULL is a no-op. */
void ep_engine_close(ep_engine *e);
/* The engine's kind. */
ep_engine_kind ep_engine_get_kind(const ep_engine *e);

/* Loads an instance of service svc standing for a device of class spec (indexes into the
 * engine's scenario). cpu: an LLM service gets the decoder (random weights from
 * ep_engine_model_seed(seed, svc), or the checkpoint), a DNN service the segmentation net;
 * instances of one service have identical weights. cuda: the cpu engine's models, uploaded
 * to the GPU. Returns 0 and *out; EP_EINVAL for a bad svc or spec; checkpoint errors as
 * ep_llm_load (EP_ENOENT, EP_EIO, EP_EPARSE); EP_ENOMEM (cuda: also device memory); cuda:
 * EP_EIO or EP_ENOTSUP for a CUDA failure (engine_cuda.h). err gets the message. */
int ep_engine_load(ep_engine *e, int svc, int spec, ep_engine_inst **out, char *err, size_t errlen);
/* Frees the instance and every slot's KV cache; NULL is a no-op. */
void ep_engine_unload(ep_engine_inst *i);

/* The instance's service, device class and service kind. */
int ep_engine_inst_service(const ep_engine_inst *i);
int ep_engine_inst_spec(const ep_engine_inst *i);
ep_service_kind ep_engine_inst_kind(const ep_engine_inst *i);
/* Writes what the instance runs, e.g. "cpu llm dim=256,hidden=768,layers=4,heads=8,
 * kv_heads=4,vocab=512,seq=2048" or "emulated", into buf (len bytes, truncated, always
 * NUL-terminated when len > 0). */
void ep_engine_inst_describe(const ep_engine_inst *i, char *buf, size_t len);

/* DNN: runs one batch of `batch` items in [1, EP_ENGINE_BATCH_MAX] and blocks until it is
 * done; *took receives the measured wall time (ns). emulated: sleeps `est` ns (the caller's
 * cost-model estimate; <= 0 sleeps not at all) to an absolute CLOCK_MONOTONIC deadline;
 * cpu: segments `batch` deterministic pseudo-random images (est is ignored); cuda: the same
 * images on the GPU, the time including their copy in and the logits' copy out. Returns 0;
 * EP_EINVAL for an LLM instance or a batch out of range; EP_ENOMEM; cuda: EP_EIO or
 * EP_ENOTSUP for a CUDA failure (ep_cuda_last_error() says which). *took is written only
 * on success. */
int ep_engine_dnn_batch(ep_engine_inst *i, int batch, ep_dur est, ep_dur *took);

/* What a DNN batch computes on and hands back when requests carry their bytes (payload
 * mode, exec/README.md). Item j's image is made of in[j]'s in_len[j] bytes (pixel value k,
 * channel-major like the generated images, is in[j][k mod in_len[j]] / 255); NULL (or a
 * length of 0) keeps the generated image. Where mask[j] is not NULL it receives the item's
 * segmentation: the class of each pixel (the argmax of its logits, row-major), at most
 * mask_len bytes. in, in_len and mask may each be NULL (none). */
typedef struct ep_engine_dnn_io {
    const uint8_t *const *in;
    const int64_t *in_len;
    uint8_t *const *mask;
    int64_t mask_len;
} ep_engine_dnn_io;

/* As ep_engine_dnn_batch, on io's inputs (NULL: as ep_engine_dnn_batch). The cpu and cuda
 * engines compute on them and write the masks; the emulated engine sleeps `est` and leaves
 * the masks alone. Returns as ep_engine_dnn_batch. */
int ep_engine_dnn_batch_io(ep_engine_inst *i, int batch, const ep_engine_dnn_io *io, ep_dur est,
                           ep_dur *took);
/* Bytes of a mask of instance i (one per input pixel), 0 for an emulated or LLM instance. */
int64_t ep_engine_dnn_mask_bytes(const ep_engine_inst *i);

/* One work item of an LLM iteration. slot: a sequence slot in [0, slots) chosen by the
 * caller. Prefill (decode == 0): `tokens` >= 1 new prompt tokens, continuing the slot's
 * sequence from its position (a slot at position 0 starts one; a second prefill is a
 * chunk of the same prompt). Decode (decode != 0): one generated token, tokens == 1, on a
 * slot that holds a sequence. */
typedef struct ep_engine_work {
    int slot;
    int tokens;
    int decode;
    /* Prefill: the prompt's bytes when the request carries them (payload mode), else NULL.
     * The token at position p of the sequence is then the little-endian 32-bit word at byte
     * 4p, modulo the vocabulary, where the prompt has one (else ep_engine_prompt_token). */
    const uint8_t *prompt;
    int64_t prompt_len;
} ep_engine_work;

/* LLM: one continuous-batching iteration over the n >= 1 work items w (each slot at most
 * once) and blocks until it is done; *took receives the measured wall time (ns).
 * emulated: sleeps `est` ns (as ep_engine_dnn_batch). cpu, and cuda on the GPU with the
 * same tokens, slot rules and greedy decoding: each prefill item runs as one
 * batched prefill of its tokens (ids: the prompt's where the item has one, else
 * ep_engine_prompt_token of the slot and position), then all decode items run as one decode batch
 * feeding each slot the greedy (argmax) next token of its previous step. A cpu slot's cache holds
 * at most the shape's max_seq_len tokens: work that would go beyond drops the newest cached tokens
 * to make room, and a prefill longer than max_seq_len computes only its last max_seq_len tokens, so
 * the cost is that of a full cache (clamped, not an error). Positions (ep_engine_llm_pos) count
 * every token regardless. Returns 0; EP_EINVAL (nothing changed) for a DNN instance, n < 1, a slot
 * out of range or repeated, tokens out of [1, EP_ENGINE_TOKENS_MAX], a decode with tokens
 * != 1 or on an empty slot; EP_ENOMEM, or cuda's EP_EIO / EP_ENOTSUP (the iteration's slots
 * are then in an unspecified state: release them). *took is written only on success. */
int ep_engine_llm_iter(ep_engine_inst *i, const ep_engine_work *w, int n, ep_dur est, ep_dur *took);

/* Frees the slot's KV cache and resets it to position 0; an empty slot, or a slot out of
 * range, is left alone. */
void ep_engine_llm_release(ep_engine_inst *i, int slot);

/* Number of sequence slots of an LLM instance (0 for DNN instances). */
int ep_engine_llm_slots(const ep_engine_inst *i);
/* Tokens the slot's sequence has taken in (prompt and generated), or EP_EINVAL for a DNN
 * instance or a slot out of range. */
int64_t ep_engine_llm_pos(const ep_engine_inst *i, int slot);
/* The token the slot's next decode will feed (cpu, cuda: argmax of its last logits), >= 0; or
 * EP_EINVAL (DNN instance, slot out of range or empty), EP_ENOTSUP (an engine without
 * tokens: emulated). */
int ep_engine_llm_next_token(const ep_engine_inst *i, int slot);
/* The most tokens a slot's cache holds before clamping (cpu, cuda: the shape's max_seq_len),
 * 0 when unbounded (emulated), EP_EINVAL for a DNN instance. */
int ep_engine_llm_max_tokens(const ep_engine_inst *i);

/* The prompt token id at position pos of slot's sequence under seed: a SplitMix64 hash of
 * (seed, slot, pos) reduced to [0, vocab) (vocab >= 1). The same for every engine. */
int ep_engine_prompt_token(uint64_t seed, int slot, int64_t pos, int vocab);
/* The weight seed of service svc's instances under seed: ep_splitmix64(seed ^ svc-mix). */
uint64_t ep_engine_model_seed(uint64_t seed, int svc);

#endif
