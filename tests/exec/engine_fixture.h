/* Test fixture of the engine interface tests (test_engine, test_cuda_engine): a scenario of
 * one LLM service, one DNN service and one device class, and engine options with a tiny
 * decoder and segmentation net. Header-only, for tests/exec/. */
#ifndef EPARA_TEST_ENGINE_FIXTURE_H
#define EPARA_TEST_ENGINE_FIXTURE_H

#include <stdint.h>
#include <stdio.h>

#include "epara/exec/engine.h"

#define LLM 0 /* service indexes of the test scenario */
#define DNN 1

/* Untied: a tied random model's greedy token mostly echoes its input, which would hide a
 * wrong context. */
static const ep_llm_config tiny = {
        .dim = 32,
        .hidden_dim = 64,
        .n_layers = 2,
        .n_heads = 4,
        .n_kv_heads = 2,
        .vocab_size = 61,
        .max_seq_len = 16,
        .rope_theta = 10000.0f,
        .shared_classifier = 0,
};

typedef struct engine_scene {
    ep_scenario sc;
    ep_service svc[2];
    ep_device_spec spec[1];
} engine_scene;

/* Services "llm" (LLM) and "seg" (DNN), device class "box"; s is zeroed by the caller. */
static inline void
engine_scene_init(engine_scene *s)
{
    snprintf(s->svc[LLM].name, sizeof s->svc[LLM].name, "llm");
    s->svc[LLM].kind = EP_SVC_LLM;
    snprintf(s->svc[DNN].name, sizeof s->svc[DNN].name, "seg");
    s->svc[DNN].kind = EP_SVC_DNN;
    snprintf(s->spec[0].name, sizeof s->spec[0].name, "box");
    s->sc.services = s->svc;
    s->sc.nservices = 2;
    s->sc.specs = s->spec;
    s->sc.nspecs = 1;
}

/* Options of kind `kind`: the tiny decoder, a 3-channel, width-4, 5-class net on 8 x 8
 * images, one BLAS thread, `slots` LLM slots. */
static inline void
engine_opts_init(ep_engine_opts *o, ep_engine_kind kind, uint64_t seed, int slots)
{
    ep_engine_opts_default(o);
    o->kind = kind;
    o->seed = seed;
    o->threads = 1;
    o->llm = tiny;
    o->seg = (ep_seg_config){.in_channels = 3, .width = 4, .n_classes = 5};
    o->seg_side = 8;
    o->llm_slots = slots;
}

#endif
