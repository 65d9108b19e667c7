/* The engine interface (include/epara/exec/engine.h): options and shapes, argument checks, LLM
 * slot positions and wall-time measurement shared by every kind; the kinds themselves
 * (engine_emulated.c; engine_cpu.c and the optional engine_cuda.c over engine_model.c) only
 * run valid work. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine_impl.h"
#include "epara/core/error.h"
#include "epara/core/rng.h"

#define SEG_CH_MAX   4096
#define SEG_SIDE_MAX 4096

#ifndef EP_HAVE_CUDA_ENGINE
const exec_engine_ops *
exec_engine_cuda_ops(void)
{
    return NULL;
}
#endif

void
exec_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

ep_time
exec_engine_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (ep_time)ts.tv_sec * EP_NS_PER_S + ts.tv_nsec;
}

void
exec_engine_sleep_until(ep_time deadline)
{
    struct timespec ts = {.tv_sec = (time_t)(deadline / EP_NS_PER_S),
                          .tv_nsec = (long)(deadline % EP_NS_PER_S)};

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static const char *const kind_names[] = {"emulated", "cpu", "cuda"};

int
ep_engine_kind_parse(const char *s, ep_engine_kind *out)
{
    for (size_t k = 0; s && k < EP_ARRAY_LEN(kind_names); k++)
        if (strcmp(s, kind_names[k]) == 0) {
            *out = (ep_engine_kind)k;
            return 0;
        }
    return EP_EINVAL;
}

const char *
ep_engine_kind_name(ep_engine_kind k)
{
    return (unsigned)k < EP_ARRAY_LEN(kind_names) ? kind_names[k] : "?";
}

static const exec_engine_ops *
kind_ops(ep_engine_kind k)
{
    switch (k) {
    case EP_ENGINE_EMULATED:
        return &exec_engine_emulated_ops;
    case EP_ENGINE_CPU:
        return &exec_engine_cpu_ops;
    case EP_ENGINE_CUDA:
        return exec_engine_cuda_ops();
    }
    return NULL;
}

int
ep_engine_kind_available(ep_engine_kind k)
{
    const exec_engine_ops *ops = kind_ops(k);
    return ops && (!ops->available || ops->available());
}

void
ep_engine_opts_default(ep_engine_opts *o)
{
    memset(o, 0, sizeof *o);
    o->kind = EP_ENGINE_EMULATED;
    o->seed = 1;
    o->llm = (ep_llm_config){.dim = 256,
                             .hidden_dim = 768,
                             .n_layers = 4,
                             .n_heads = 8,
                             .n_kv_heads = 4,
                             .vocab_size = 512,
                             .max_seq_len = 2048,
                             .rope_theta = 10000.0f,
                             .shared_classifier = 1};
    o->seg = (ep_seg_config){.in_channels = 3, .width = 16, .n_classes = 21};
    o->seg_side = 128;
    o->llm_slots = EP_ENGINE_SLOTS_DEFAULT;
}

/* ---- shapes: "KEY=VALUE[,KEY=VALUE...]" ---- */

typedef struct shape_key {
    const char *name;
    int *field;
    long lo, hi;
} shape_key;

/* Sets the fields of keys named in text; *theta (may be NULL) takes key "theta". Returns 0 or
 * EP_EINVAL with the message in err; fields may be partly set on error (callers work on a
 * copy). */
static int
shape_apply(const char *text, const shape_key *keys, size_t nkeys, float *theta, char *err,
            size_t errlen)
{
    const char *p = text;

    if (!text || !*text) {
        exec_seterr(err, errlen, "empty shape (want KEY=VALUE[,KEY=VALUE...])");
        return EP_EINVAL;
    }
    while (*p) {
        const char *eq = strchr(p, '='), *end = strchr(p, ',');
        if (!end)
            end = p + strlen(p);
        if (!eq || eq > end || eq == p) {
            exec_seterr(err, errlen, "'%.*s' is not KEY=VALUE", (int)(end - p), p);
            return EP_EINVAL;
        }
        size_t klen = (size_t)(eq - p);
        char val[64];
        if ((size_t)(end - eq - 1) >= sizeof val || end == eq + 1) {
            exec_seterr(err, errlen, "%.*s: bad value", (int)klen, p);
            return EP_EINVAL;
        }
        memcpy(val, eq + 1, (size_t)(end - eq - 1));
        val[end - eq - 1] = '\0';
        char *vend;
        errno = 0;
        if (theta && klen == 5 && strncmp(p, "theta", 5) == 0) {
            double v = strtod(val, &vend);
            if (*vend || errno || !(v > 0) || v > 1e9) {
                exec_seterr(err, errlen, "theta: '%s' is not a number in (0, 1e9]", val);
                return EP_EINVAL;
            }
            *theta = (float)v;
        } else {
            size_t k = 0;
            while (k < nkeys && !(strlen(keys[k].name) == klen && !strncmp(p, keys[k].name, klen)))
                k++;
            if (k == nkeys) {
                exec_seterr(err, errlen, "unknown key '%.*s'", (int)klen, p);
                return EP_EINVAL;
            }
            long v = strtol(val, &vend, 10);
            if (*vend || errno || v < keys[k].lo || v > keys[k].hi) {
                exec_seterr(err, errlen, "%s: '%s' is not an integer in [%ld, %ld]", keys[k].name,
                            val, keys[k].lo, keys[k].hi);
                return EP_EINVAL;
            }
            *keys[k].field = (int)v;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

int
ep_engine_llm_shape_parse(const char *text, ep_llm_config *cfg, char *err, size_t errlen)
{
    ep_llm_config c = *cfg;
    const shape_key keys[] = {
            {"dim", &c.dim, 1, 1 << 20},
            {"hidden", &c.hidden_dim, 1, 1 << 20},
            {"layers", &c.n_layers, 1, 4096},
            {"heads", &c.n_heads, 1, 1 << 20},
            {"kv_heads", &c.n_kv_heads, 1, 1 << 20},
            {"vocab", &c.vocab_size, 1, 1 << 20},
            {"seq", &c.max_seq_len, 1, 1 << 20},
            {"tied", &c.shared_classifier, 0, 1},
    };
    int rc = shape_apply(text, keys, EP_ARRAY_LEN(keys), &c.rope_theta, err, errlen);
    if (rc)
        return rc;
    const char *why = ep_llm_config_problem(&c);
    if (why) {
        exec_seterr(err, errlen, "%s", why);
        return EP_EINVAL;
    }
    *cfg = c;
    return 0;
}

const char *
exec_engine_seg_problem(const ep_seg_config *c, int side)
{
    if (c->in_channels < 1 || c->in_channels > SEG_CH_MAX || c->width < 1 ||
        c->width > SEG_CH_MAX || c->n_classes < 1 || c->n_classes > SEG_CH_MAX)
        return "channels, width and classes must be in [1, 4096]";
    if (side < 2 || side > SEG_SIDE_MAX || side % 2)
        return "side must be even and in [2, 4096]";
    return NULL;
}

int
exec_engine_check_shapes(const ep_engine *e, char *err, size_t errlen)
{
    const char *why = e->o.checkpoint ? NULL : ep_llm_config_problem(&e->o.llm);
    const char *what = "LLM shape";

    if (!why) {
        why = exec_engine_seg_problem(&e->o.seg, e->o.seg_side);
        what = "DNN shape";
    }
    if (why) {
        exec_seterr(err, errlen, "%s: %s", what, why);
        return EP_EINVAL;
    }
    return 0;
}

void
exec_engine_images(uint64_t seed, float *img, size_t from, size_t to)
{
    uint64_t base = ep_splitmix64(seed ^ UINT64_C(0x696d616765));

    for (size_t k = from; k < to; k++)
        img[k] = (float)(ep_splitmix64(base + k) >> 40) * (1.0f / 16777216.0f);
}

int
exec_engine_argmax(const float *x, int n)
{
    int best = 0;

    for (int k = 1; k < n; k++)
        if (x[k] > x[best])
            best = k;
    return best;
}

int
ep_engine_dnn_shape_parse(const char *text, ep_seg_config *cfg, int *side, char *err, size_t errlen)
{
    ep_seg_config c = *cfg;
    int s = *side;
    const shape_key keys[] = {
            {"channels", &c.in_channels, 1, SEG_CH_MAX},
            {"width", &c.width, 1, SEG_CH_MAX},
            {"classes", &c.n_classes, 1, SEG_CH_MAX},
            {"side", &s, 2, SEG_SIDE_MAX},
    };
    int rc = shape_apply(text, keys, EP_ARRAY_LEN(keys), NULL, err, errlen);
    if (rc)
        return rc;
    const char *why = exec_engine_seg_problem(&c, s);
    if (why) {
        exec_seterr(err, errlen, "%s", why);
        return EP_EINVAL;
    }
    *cfg = c;
    *side = s;
    return 0;
}

/* ---- engines and instances ---- */

int
ep_engine_open(const ep_scenario *sc, const ep_engine_opts *o, ep_engine **out, char *err,
               size_t errlen)
{
    if (!sc || !o || !out) {
        exec_seterr(err, errlen, "no scenario or options");
        return EP_EINVAL;
    }
    const exec_engine_ops *ops = kind_ops(o->kind);
    if (!ops) {
        exec_seterr(err, errlen, "%s engine not built", ep_engine_kind_name(o->kind));
        return EP_EINVAL;
    }
    if (o->llm_slots < 1 || o->llm_slots > EP_ENGINE_SLOTS_MAX) {
        exec_seterr(err, errlen, "LLM slots %d out of [1, %d]", o->llm_slots, EP_ENGINE_SLOTS_MAX);
        return EP_EINVAL;
    }
    if (o->threads < 0) {
        exec_seterr(err, errlen, "threads must be >= 0");
        return EP_EINVAL;
    }
    if (o->checkpoint && strlen(o->checkpoint) >= EP_PATH_MAX) {
        exec_seterr(err, errlen, "checkpoint path longer than %d bytes", EP_PATH_MAX - 1);
        return EP_EINVAL;
    }
    ep_engine *e = calloc(1, sizeof *e);
    if (!e) {
        exec_seterr(err, errlen, "%s", ep_strerror(EP_ENOMEM));
        return EP_ENOMEM;
    }
    e->sc = sc;
    e->o = *o;
    e->ops = ops;
    if (o->checkpoint) {
        snprintf(e->checkpoint, sizeof e->checkpoint, "%s", o->checkpoint);
        e->o.checkpoint = e->checkpoint;
    }
    if (ops->open) {
        int rc = ops->open(e, err, errlen);
        if (rc) {
            free(e);
            return rc;
        }
    }
    *out = e;
    return 0;
}

void
ep_engine_close(ep_engine *e)
{
    if (!e)
        return;
    if (e->ops->close)
        e->ops->close(e);
    free(e);
}

ep_engine_kind
ep_engine_get_kind(const ep_engine *e)
{
    return e->o.kind;
}

int
ep_engine_load(ep_engine *e, int svc, int spec, ep_engine_inst **out, char *err, size_t errlen)
{
    if (!e || !out || svc < 0 || svc >= e->sc->nservices) {
        exec_seterr(err, errlen, "no service %d in the scenario", svc);
        return EP_EINVAL;
    }
    if (spec < 0 || spec >= e->sc->nspecs) {
        exec_seterr(err, errlen, "no device class %d in the scenario", spec);
        return EP_EINVAL;
    }
    ep_engine_inst *i = calloc(1, sizeof *i);
    if (!i) {
        exec_seterr(err, errlen, "%s", ep_strerror(EP_ENOMEM));
        return EP_ENOMEM;
    }
    i->eng = e;
    i->svc = svc;
    i->spec = spec;
    i->kind = e->sc->services[svc].kind;
    if (i->kind == EP_SVC_LLM) {
        i->nslots = e->o.llm_slots;
        i->pos = calloc((size_t)i->nslots, sizeof *i->pos);
        if (!i->pos) {
            free(i);
            exec_seterr(err, errlen, "%s", ep_strerror(EP_ENOMEM));
            return EP_ENOMEM;
        }
    }
    int rc = e->ops->load(i, err, errlen);
    if (rc) {
        free(i->pos);
        free(i);
        return rc;
    }
    *out = i;
    return 0;
}

void
ep_engine_unload(ep_engine_inst *i)
{
    if (!i)
        return;
    i->eng->ops->unload(i);
    free(i->pos);
    free(i);
}

int
ep_engine_inst_service(const ep_engine_inst *i)
{
    return i->svc;
}

int
ep_engine_inst_spec(const ep_engine_inst *i)
{
    return i->spec;
}

ep_service_kind
ep_engine_inst_kind(const ep_engine_inst *i)
{
    return i->kind;
}

void
ep_engine_inst_describe(const ep_engine_inst *i, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    if (i->eng->ops->describe)
        i->eng->ops->describe(i, buf, len);
    else
        snprintf(buf, len, "%s", i->eng->ops->name);
}

int
ep_engine_dnn_batch(ep_engine_inst *i, int batch, ep_dur est, ep_dur *took)
{
    return ep_engine_dnn_batch_io(i, batch, NULL, est, took);
}

int64_t
ep_engine_dnn_mask_bytes(const ep_engine_inst *i)
{
    return i && i->kind == EP_SVC_DNN && i->eng->ops->mask_bytes ? i->eng->ops->mask_bytes(i) : 0;
}

int
ep_engine_dnn_batch_io(ep_engine_inst *i, int batch, const ep_engine_dnn_io *io, ep_dur est,
                       ep_dur *took)
{
    if (!i || !took || i->kind != EP_SVC_DNN || batch < 1 || batch > EP_ENGINE_BATCH_MAX ||
        (io && io->mask && io->mask_len < 0))
        return EP_EINVAL;
    for (int j = 0; io && io->in && io->in_len && j < batch; j++)
        if (io->in_len[j] < 0 || (io->in_len[j] > 0 && !io->in[j]))
            return EP_EINVAL;
    ep_time t0 = exec_engine_now();
    int rc = i->eng->ops->dnn_batch(i, batch, io, t0, est);
    if (rc)
        return rc;
    *took = exec_engine_now() - t0;
    return 0;
}

/* Checks an iteration's items (nothing changes on failure). */
static int
work_ok(const ep_engine_inst *i, const ep_engine_work *w, int n)
{
    if (!w || n < 1 || n > i->nslots)
        return 0;
    for (int k = 0; k < n; k++) {
        int s = w[k].slot;
        if (s < 0 || s >= i->nslots || w[k].tokens < 1 || w[k].tokens > EP_ENGINE_TOKENS_MAX)
            return 0;
        if (w[k].decode && (w[k].tokens != 1 || i->pos[s] == 0))
            return 0;
        if (w[k].prompt_len < 0 || (w[k].prompt_len > 0 && !w[k].prompt))
            return 0;
        for (int j = 0; j < k; j++)
            if (w[j].slot == s)
                return 0;
    }
    return 1;
}

int
ep_engine_llm_iter(ep_engine_inst *i, const ep_engine_work *w, int n, ep_dur est, ep_dur *took)
{
    if (!i || !took || i->kind != EP_SVC_LLM || !work_ok(i, w, n))
        return EP_EINVAL;
    ep_time t0 = exec_engine_now();
    int rc = i->eng->ops->llm_iter(i, w, n, t0, est);
    if (rc)
        return rc;
    *took = exec_engine_now() - t0;
    for (int k = 0; k < n; k++)
        i->pos[w[k].slot] += w[k].tokens;
    return 0;
}

void
ep_engine_llm_release(ep_engine_inst *i, int slot)
{
    if (!i || i->kind != EP_SVC_LLM || slot < 0 || slot >= i->nslots)
        return;
    if (i->eng->ops->llm_release)
        i->eng->ops->llm_release(i, slot);
    i->pos[slot] = 0;
}

int
ep_engine_llm_slots(const ep_engine_inst *i)
{
    return i->kind == EP_SVC_LLM ? i->nslots : 0;
}

int64_t
ep_engine_llm_pos(const ep_engine_inst *i, int slot)
{
    if (i->kind != EP_SVC_LLM || slot < 0 || slot >= i->nslots)
        return EP_EINVAL;
    return i->pos[slot];
}

int
ep_engine_llm_next_token(const ep_engine_inst *i, int slot)
{
    if (i->kind != EP_SVC_LLM || slot < 0 || slot >= i->nslots || i->pos[slot] == 0)
        return EP_EINVAL;
    if (!i->eng->ops->next_token)
        return EP_ENOTSUP;
    return i->eng->ops->next_token(i, slot);
}

int
ep_engine_llm_max_tokens(const ep_engine_inst *i)
{
    if (i->kind != EP_SVC_LLM)
        return EP_EINVAL;
    return i->eng->ops->max_tokens ? i->eng->ops->max_tokens(i) : 0;
}

int
ep_engine_prompt_token(uint64_t seed, int slot, int64_t pos, int vocab)
{
    uint64_t h = ep_splitmix64(seed ^ ep_splitmix64(((uint64_t)(uint32_t)slot << 40) ^
                                                    (uint64_t)pos ^ UINT64_C(0x70726f6d7074)));
    return vocab > 0 ? (int)(h % (uint64_t)vocab) : 0;
}

uint64_t
ep_engine_model_seed(uint64_t seed, int svc)
{
    return ep_splitmix64(seed ^ (UINT64_C(0x9e3779b97f4a7c15) * (uint64_t)(svc + 1)));
}
