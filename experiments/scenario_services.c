/* Scenario sections `services` (models and their SLOs) and `profiles` (measured or shipped
 * cost tables per service and device class). Invariant on success: service names are
 * unique, every LLM has TTFT/TPOT SLOs, KV size and shape, every DNN has FLOPs and a
 * deadline or a frame rate, and each (service, device class) has at most one profile whose
 * x values strictly increase. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "scenario_internal.h"

static const char *const service_keys[] = {"name",
                                           "kind",
                                           "model",
                                           "params_b",
                                           "params_m",
                                           "weights_gb",
                                           "layers",
                                           "hidden",
                                           "kv_kb_per_token",
                                           "gflops",
                                           "act_mb",
                                           "reserve_mb",
                                           "input_kb",
                                           "bytes_per_token",
                                           "max_batch",
                                           "slo",
                                           "sensitivity",
                                           "weight",
                                           "min_devices",
                                           "use_trace_exec",
                                           "prefill_chunk",
                                           "vocab",
                                           "tied_embeddings",
                                           NULL};
static const char *const slo_keys[] = {"ttft_ms", "tpot_ms",           "deadline_ms",
                                       "fps",     "frame_deadline_ms", NULL};
static const char *const kind_names[] = {"llm", "dnn", NULL};
static const char *const sens_names[] = {"auto", "latency", "frequency", NULL};

/* Keys that only one kind of service takes (a typo-level mistake otherwise). */
static const char *const llm_only[] = {"kv_kb_per_token", "bytes_per_token", "prefill_chunk",
                                       "vocab",           "tied_embeddings", NULL};
static const char *const dnn_only[] = {"gflops", "act_mb", "input_kb", "use_trace_exec", NULL};
static const char *const llm_only_slo[] = {"ttft_ms", "tpot_ms", NULL};
static const char *const dnn_only_slo[] = {"deadline_ms", "fps", "frame_deadline_ms", NULL};

static int
refuse_keys(const scenario_map *m, const char *const *keys, const char *kind)
{
    for (int i = 0; keys[i]; i++) {
        yaml_node_t *n = scenario_get(m, keys[i]);
        if (n) {
            char path[SCENARIO_PATH_MAX];
            scenario_join(path, m->path, keys[i]);
            return scenario_fail(m->c, n, "%s: applies to %s services only", path, kind);
        }
    }
    return 0;
}

static int
parse_slo(scenario_ctx *c, const scenario_map *m, ep_service *s)
{
    char path[SCENARIO_PATH_MAX];
    scenario_join(path, m->path, "slo");
    scenario_map slo;
    int llm = s->kind == EP_SVC_LLM, rc;
    if ((rc = scenario_need(m, "slo", NULL)) ||
        (rc = scenario_map_open(c, scenario_get(m, "slo"), path, slo_keys, &slo)) ||
        (rc = refuse_keys(&slo, llm ? dnn_only_slo : llm_only_slo, llm ? "dnn" : "llm")))
        return rc;
    if (llm)
        return (rc = scenario_dur(&slo, "ttft_ms", SCENARIO_REQ, 1e-3, 0, 1, 1e9, &s->slo.ttft))
                       ? rc
                       : scenario_dur(&slo, "tpot_ms", SCENARIO_REQ, 1e-3, 0, 1, 1e9, &s->slo.tpot);
    if (!scenario_get(&slo, "deadline_ms") && !scenario_get(&slo, "fps"))
        return scenario_fail(c, slo.node, "%s: a dnn service needs deadline_ms or fps", path);
    if ((rc = scenario_dur(&slo, "deadline_ms", SCENARIO_OPT, 1e-3, 0, 1, 1e9, &s->slo.deadline)) ||
        (rc = scenario_num(&slo, "fps", SCENARIO_OPT, 0, 1, 1e6, &s->slo.fps)))
        return rc;
    if (scenario_get(&slo, "frame_deadline_ms") && !scenario_get(&slo, "fps"))
        return scenario_fail(c, scenario_get(&slo, "frame_deadline_ms"),
                             "%s.frame_deadline_ms: needs fps", path);
    if (s->slo.fps > 0) {
        /* Default: one frame period after the next frame arrives (node/README.md, "Metrics"). */
        s->slo.frame_deadline = llround(2e9 / s->slo.fps);
        if (s->slo.frame_deadline < 1)
            s->slo.frame_deadline = 1;
    }
    return scenario_dur(&slo, "frame_deadline_ms", SCENARIO_OPT, 1e-3, 0, 1, 1e9,
                        &s->slo.frame_deadline);
}

static int
parse_service(scenario_ctx *c, yaml_node_t *n, int i, ep_service *s)
{
    char path[SCENARIO_PATH_MAX];
    scenario_index(path, "services", i);
    scenario_map m;
    int kind = 0, sens = 0, rc;
    if ((rc = scenario_map_open(c, n, path, service_keys, &m)) ||
        (rc = scenario_name(&m, "name", SCENARIO_REQ, s->name, sizeof s->name)) ||
        (rc = scenario_enum(&m, "kind", SCENARIO_REQ, kind_names, &kind)))
        return rc;
    for (int j = 0; j < i; j++)
        if (strcmp(c->sc->services[j].name, s->name) == 0)
            return scenario_fail(c, scenario_get(&m, "name"),
                                 "%s.name: duplicate service '%s' (also services[%d])", path,
                                 s->name, j);
    s->kind = (ep_service_kind)kind;
    int llm = s->kind == EP_SVC_LLM;
    if ((rc = refuse_keys(&m, llm ? dnn_only : llm_only, llm ? "dnn" : "llm")))
        return rc;
    memcpy(s->model, s->name, sizeof s->model);
    if ((rc = scenario_str(&m, "model", SCENARIO_OPT, s->model, sizeof s->model)))
        return rc;

    /* Size: a parameter count (billions or millions) and/or the weights' bytes. */
    double pb = 0, pm = 0, wgb = 0;
    if (scenario_get(&m, "params_b") && scenario_get(&m, "params_m"))
        return scenario_fail(c, scenario_get(&m, "params_m"),
                             "%s.params_m: give params_b or params_m, not both", path);
    if (!scenario_get(&m, "params_b") && !scenario_get(&m, "params_m") &&
        !scenario_get(&m, "weights_gb"))
        return scenario_need(&m, "params_b", "(or params_m or weights_gb)");
    if ((rc = scenario_num(&m, "params_b", SCENARIO_OPT, 0, 1, 1e5, &pb)) ||
        (rc = scenario_num(&m, "params_m", SCENARIO_OPT, 0, 1, 1e8, &pm)) ||
        (rc = scenario_num(&m, "weights_gb", SCENARIO_OPT, 0, 1, 1e6, &wgb)))
        return rc;
    s->params = pb > 0 ? pb * 1e9 : pm * 1e6;
    /* FP16 weights: 2 bytes per parameter. */
    s->weights_bytes = wgb > 0 ? llround(wgb * 1e9) : llround(s->params * 2);
    if (s->params <= 0)
        s->params = (double)s->weights_bytes / 2;

    long long layers = llm ? 0 : 1, hidden = 0, max_batch = llm ? 256 : 32, min_dev = 0;
    long long chunk = 0, vocab = 0;
    double kv_kb = 0, gflops = 0, act_mb = 0, input_kb = 100, bpt = 4;
    double reserve_mb = -1;
    s->weight = 1;
    if ((rc = scenario_int(&m, "layers", llm, 1, 100000, &layers)) ||
        (rc = scenario_int(&m, "hidden", llm, 1, 10000000, &hidden)) ||
        (rc = scenario_num(&m, "kv_kb_per_token", llm, 0, 1, 1e6, &kv_kb)) ||
        (rc = scenario_num(&m, "gflops", !llm, 0, 1, 1e9, &gflops)) ||
        (rc = scenario_num(&m, "act_mb", SCENARIO_OPT, 0, 0, 1e6, &act_mb)) ||
        (rc = scenario_num(&m, "reserve_mb", SCENARIO_OPT, 0, 0, 1e9, &reserve_mb)) ||
        (rc = scenario_num(&m, "input_kb", SCENARIO_OPT, 0, 0, 1e6, &input_kb)) ||
        (rc = scenario_num(&m, "bytes_per_token", SCENARIO_OPT, 0, 1, 1e6, &bpt)) ||
        (rc = scenario_int(&m, "max_batch", SCENARIO_OPT, 1, 1000000, &max_batch)) ||
        (rc = scenario_int(&m, "prefill_chunk", SCENARIO_OPT, 0, 100000000, &chunk)) ||
        (rc = scenario_int(&m, "vocab", SCENARIO_OPT, 0, 100000000, &vocab)) ||
        (rc = scenario_bool(&m, "tied_embeddings", SCENARIO_OPT, &s->tied_embeddings)) ||
        (rc = scenario_enum(&m, "sensitivity", SCENARIO_OPT, sens_names, &sens)) ||
        (rc = scenario_num(&m, "weight", SCENARIO_OPT, 0, 1, 1e9, &s->weight)) ||
        (rc = scenario_int(&m, "min_devices", SCENARIO_OPT, 0, 1024, &min_dev)) ||
        (rc = scenario_bool(&m, "use_trace_exec", SCENARIO_OPT, &s->use_trace_exec)) ||
        (rc = parse_slo(c, &m, s)))
        return rc;
    s->layers = (int)layers;
    s->hidden = hidden;
    s->kv_bytes_per_token = llround(kv_kb * 1024);
    s->flops_per_item = gflops * 1e9;
    s->act_bytes_per_item = llround(act_mb * 1e6);
    s->input_bytes = llround(input_kb * 1e3);
    s->bytes_per_token = llround(bpt);
    s->max_batch = (int)max_batch;
    s->prefill_chunk = chunk;
    s->vocab = vocab;
    if (llm && (double)vocab * (double)hidden * (s->tied_embeddings ? 1 : 2) >= s->params)
        return scenario_fail(c, scenario_get(&m, "vocab"),
                             "%s.vocab: %lld x hidden %lld embedding parameters%s reach the "
                             "model's %.4g parameters",
                             path, vocab, hidden, s->tied_embeddings ? "" : " (x2, untied)",
                             s->params);
    s->min_devices = (int)min_dev;
    s->sensitivity = (ep_sensitivity)sens;
    /* Activation reserve: a 1 GB workspace for LLMs; a full batch's activations for DNNs. */
    if (reserve_mb < 0)
        s->act_bytes_reserve = llm ? INT64_C(1000000000) : s->act_bytes_per_item * s->max_batch;
    else
        s->act_bytes_reserve = llround(reserve_mb * 1e6);

    yaml_node_t *sn = scenario_get(&m, "sensitivity");
    if (s->sensitivity == EP_SENS_FREQUENCY && s->slo.fps <= 0)
        return scenario_fail(c, sn, "%s.sensitivity: frequency needs slo.fps", path);
    if (s->sensitivity == EP_SENS_LATENCY && !llm && s->slo.deadline <= 0)
        return scenario_fail(c, sn, "%s.sensitivity: latency needs slo.deadline_ms", path);
    return 0;
}

static int
parse_services(scenario_ctx *c, const scenario_map *root)
{
    yaml_node_item_t *items;
    int n, rc;
    yaml_node_t *sn = scenario_get(root, "services");
    if (!sn)
        return 0;
    if ((rc = scenario_seq(c, sn, "services", &items, &n)))
        return rc;
    if (n > SCENARIO_MAX_SERVICES)
        return scenario_fail(c, sn, "services: at most %d services", SCENARIO_MAX_SERVICES);
    if (n == 0)
        return 0;
    c->sc->services = calloc((size_t)n, sizeof *c->sc->services);
    if (!c->sc->services)
        return EP_ENOMEM;
    for (int i = 0; i < n; i++) {
        if ((rc = parse_service(c, scenario_node(c, items[i]), i, &c->sc->services[i])))
            return rc;
        c->sc->nservices = i + 1;
    }
    return 0;
}

static const char *const profile_keys[] = {
        "service",    "device",       "batch",     "latency_ms", "prefill_tokens",
        "prefill_ms", "decode_batch", "decode_ms", "decode_ctx", NULL};
static const char *const profile_llm_only[] = {"prefill_tokens", "prefill_ms", "decode_batch",
                                               "decode_ms",      "decode_ctx", NULL};
static const char *const profile_dnn_only[] = {"batch", "latency_ms", NULL};

/* Reads the point lists xkey (integers, strictly increasing) and ykey (ms) of equal length. */
static int
parse_points(const scenario_map *m, const char *xkey, const char *ykey, int64_t *x, ep_dur *y,
             int *np)
{
    scenario_ctx *c = m->c;
    char xpath[SCENARIO_PATH_MAX], ypath[SCENARIO_PATH_MAX], ipath[SCENARIO_PATH_MAX];
    yaml_node_item_t *xi, *yi;
    int nx, ny, rc;
    scenario_join(xpath, m->path, xkey);
    scenario_join(ypath, m->path, ykey);
    if ((rc = scenario_need(m, xkey, NULL)) || (rc = scenario_need(m, ykey, NULL)) ||
        (rc = scenario_seq(c, scenario_get(m, xkey), xpath, &xi, &nx)) ||
        (rc = scenario_seq(c, scenario_get(m, ykey), ypath, &yi, &ny)))
        return rc;
    if (nx < 1 || nx > EP_PROFILE_POINTS)
        return scenario_fail(c, scenario_get(m, xkey), "%s: expected 1 to %d points, got %d", xpath,
                             EP_PROFILE_POINTS, nx);
    if (ny != nx)
        return scenario_fail(c, scenario_get(m, ykey),
                             "%s: %d values, but %s has %d (lengths must match)", ypath, ny, xkey,
                             nx);
    for (int i = 0; i < nx; i++) {
        long long xv;
        double yv;
        yaml_node_t *xn = scenario_node(c, xi[i]);
        scenario_index(ipath, xpath, i);
        if ((rc = scenario_node_int(c, xn, ipath, 1, 1000000000, &xv)))
            return rc;
        if (i > 0 && xv <= x[i - 1])
            return scenario_fail(c, xn, "%s: %lld is not above the previous point %lld", ipath, xv,
                                 (long long)x[i - 1]);
        scenario_index(ipath, ypath, i);
        if ((rc = scenario_node_num(c, scenario_node(c, yi[i]), ipath, 0, 0, 1e9, &yv)))
            return rc;
        x[i] = xv;
        y[i] = llround(yv * 1e6);
    }
    *np = nx;
    return 0;
}

static int
parse_profile(scenario_ctx *c, yaml_node_t *n, int i, ep_profile_table *t)
{
    char path[SCENARIO_PATH_MAX], name[EP_NAME_MAX];
    scenario_index(path, "profiles", i);
    scenario_map m;
    int rc;
    if ((rc = scenario_map_open(c, n, path, profile_keys, &m)) ||
        (rc = scenario_name(&m, "service", SCENARIO_REQ, name, sizeof name)))
        return rc;
    t->service = ep_scenario_find_service(c->sc, name);
    if (t->service < 0)
        return scenario_fail(c, scenario_get(&m, "service"), "%s.service: unknown service '%s'",
                             path, name);
    if ((rc = scenario_name(&m, "device", SCENARIO_REQ, name, sizeof name)))
        return rc;
    t->spec = ep_scenario_find_spec(c->sc, name);
    if (t->spec < 0)
        return scenario_fail(c, scenario_get(&m, "device"), "%s.device: unknown device class '%s'",
                             path, name);
    for (int j = 0; j < i; j++) {
        const ep_profile_table *o = &c->sc->profiles[j];
        if (o->service == t->service && o->spec == t->spec)
            return scenario_fail(c, n, "%s: second profile for (%s, %s) (also profiles[%d])", path,
                                 c->sc->services[t->service].name, name, j);
    }
    snprintf(t->source, sizeof t->source, "scenario");
    if (c->sc->services[t->service].kind == EP_SVC_DNN) {
        if ((rc = refuse_keys(&m, profile_llm_only, "llm")))
            return rc;
        return parse_points(&m, "batch", "latency_ms", t->x, t->y, &t->n);
    }
    long long ctx = 0;
    if ((rc = refuse_keys(&m, profile_dnn_only, "dnn")) ||
        (rc = parse_points(&m, "prefill_tokens", "prefill_ms", t->x, t->y, &t->n)) ||
        (rc = parse_points(&m, "decode_batch", "decode_ms", t->dx, t->dy, &t->m)) ||
        (rc = scenario_int(&m, "decode_ctx", SCENARIO_REQ, 0, 100000000, &ctx)))
        return rc;
    t->ctx_ref = ctx;
    return 0;
}

static int
parse_profiles(scenario_ctx *c, const scenario_map *root)
{
    yaml_node_item_t *items;
    int n, rc;
    yaml_node_t *pn = scenario_get(root, "profiles");
    if (!pn)
        return 0;
    if ((rc = scenario_seq(c, pn, "profiles", &items, &n)))
        return rc;
    if (n > SCENARIO_MAX_PROFILES)
        return scenario_fail(c, pn, "profiles: at most %d tables", SCENARIO_MAX_PROFILES);
    if (n == 0)
        return 0;
    c->sc->profiles = calloc((size_t)n, sizeof *c->sc->profiles);
    if (!c->sc->profiles)
        return EP_ENOMEM;
    for (int i = 0; i < n; i++) {
        if ((rc = parse_profile(c, scenario_node(c, items[i]), i, &c->sc->profiles[i])))
            return rc;
        c->sc->nprofiles = i + 1;
    }
    return 0;
}

int
scenario_parse_services(scenario_ctx *c, const scenario_map *root)
{
    int rc = parse_services(c, root);
    return rc ? rc : parse_profiles(c, root);
}
