/* Scenario section `workload`: which trace feeds which service through which ingress nodes,
 * with scaling, and where a missing trace comes from (an import file, with ${VAR} expansion,
 * and/or a generator spec). Invariant on success: each (trace, service) pair appears once,
 * ingress lists name existing nodes once each, and every workload that gives a source for a
 * trace gives the same one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/traces/store.h"
#include "scenario_internal.h"

static const char *const workload_keys[] = {"trace",      "service",  "ingress", "rate_scale",
                                            "time_scale", "offset_s", "tile",    "import",
                                            "generate",   NULL};
static const char *const import_keys[] = {"file", "format", "map", "expand", NULL};
static const char *const gen_keys[] = {"kind",      "seed",        "rate",  "duration_s", "cv",
                                       "off_rate",  "on_s",        "off_s", "cameras",    "fps",
                                       "jitter_ms", "frame_bytes", "sizes", NULL};
static const char *const gen_kinds[] = {"poisson", "gamma", "mmpp", "video", NULL};
static const char *const expand_names[] = {"uniform", "even", "poisson", NULL};

static int
parse_import(scenario_ctx *c, const scenario_map *wm, ep_workload *w)
{
    char path[SCENARIO_PATH_MAX], fpath[SCENARIO_PATH_MAX], raw[EP_PATH_MAX];
    char expanded[EP_PATH_MAX], why[160], fmt[32], got[64];
    scenario_join(path, wm->path, "import");
    scenario_join(fpath, path, "file");
    scenario_map m;
    int rc;
    if ((rc = scenario_map_open(c, scenario_get(wm, "import"), path, import_keys, &m)) ||
        (rc = scenario_str(&m, "file", SCENARIO_REQ, raw, sizeof raw)))
        return rc;
    yaml_node_t *fn = scenario_get(&m, "file");
    if (scenario_expand_env(raw, expanded, sizeof expanded, why, sizeof why))
        return scenario_fail(c, fn, "%s: %s", fpath, why);
    if (scenario_resolve_path(c, expanded, w->origin->import_file, sizeof w->origin->import_file))
        return scenario_fail(c, fn, "%s: path too long", fpath);

    if ((rc = scenario_str(&m, "format", SCENARIO_REQ, fmt, sizeof fmt)))
        return rc;
    if (ep_trace_format_parse(fmt, &w->origin->import_format)) {
        char list[128];
        size_t o = 0;
        for (int i = 0; i < EP_FMT_COUNT_; i++) {
            int n = snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "",
                             ep_trace_format_name((ep_trace_format)i));
            if (n > 0 && (size_t)n < sizeof list - o)
                o += (size_t)n;
        }
        yaml_node_t *fmtn = scenario_get(&m, "format");
        return scenario_fail(c, fmtn, "%s.format: expected one of %s, got %s", path, list,
                             scenario_show(fmtn, got, sizeof got));
    }
    int mapped = w->origin->import_format == EP_FMT_CSV || w->origin->import_format == EP_FMT_JSONL;
    yaml_node_t *mapn = scenario_get(&m, "map");
    if (mapped && !mapn)
        return scenario_need(&m, "map", "(csv and jsonl need a column map)");
    if (!mapped && mapn)
        return scenario_fail(c, mapn, "%s.map: applies to formats csv and jsonl only", path);
    if (mapn) {
        ep_colmap cm;
        if ((rc = scenario_str(&m, "map", SCENARIO_REQ, w->origin->import_map,
                               sizeof w->origin->import_map)))
            return rc;
        if (ep_colmap_parse(w->origin->import_map, &cm, why, sizeof why))
            return scenario_fail(c, mapn, "%s.map: %s", path, why);
    }
    yaml_node_t *exn = scenario_get(&m, "expand");
    if (exn && w->origin->import_format != EP_FMT_AZURE_FUNCTIONS)
        return scenario_fail(c, exn, "%s.expand: applies to format azure-functions only", path);
    int ex = 0;
    if ((rc = scenario_enum(&m, "expand", SCENARIO_OPT, expand_names, &ex)))
        return rc;
    EP_ASSERT(ep_expand_rule_parse(expand_names[ex], &w->origin->import_expand) == 0);
    w->origin->has_import = 1;
    return 0;
}

/* Reads n comma-separated numbers from s (nothing else); 0 or -1. */
static int
numbers(const char *s, double *v, int n)
{
    for (int i = 0; i < n; i++) {
        char *end;
        if (!strchr("0123456789+-.", *s) || !*s)
            return -1;
        v[i] = strtod(s, &end);
        if (end == s || !isfinite(v[i]) || *end != (i + 1 < n ? ',' : '\0'))
            return -1;
        s = end + (i + 1 < n);
    }
    return 0;
}

static int
parse_sizes(scenario_ctx *c, const scenario_map *m, ep_workload *w)
{
    char path[SCENARIO_PATH_MAX], spec[EP_TRACE_NAME_MAX + 16];
    scenario_join(path, m->path, "sizes");
    int rc = scenario_str(m, "sizes", SCENARIO_REQ, spec, sizeof spec);
    if (rc)
        return rc;
    yaml_node_t *n = scenario_get(m, "sizes");
    ep_gen_spec *g = &w->origin->gen;
    double v[6];
    const char *arg = strchr(spec, ':');
    arg = arg ? arg + 1 : "";
    if (strncmp(spec, "fixed:", 6) == 0) {
        if (numbers(arg, v, 2) || v[0] < 0 || v[1] < 0 || v[0] > (double)EP_TRACE_MAX_SIZE ||
            v[1] > (double)EP_TRACE_MAX_SIZE || v[0] != floor(v[0]) || v[1] != floor(v[1]))
            return scenario_fail(c, n, "%s: fixed: expects IN,OUT as integers in [0, 1e9]", path);
        g->sizes = EP_SIZES_FIXED;
        g->fixed_input = (int64_t)v[0];
        g->fixed_output = (int64_t)v[1];
        return 0;
    }
    if (strncmp(spec, "lognormal:", 10) == 0) {
        /* Four numbers, or six: then the last two clip the input and output sizes. */
        int nv = numbers(arg, v, 4) == 0 ? 4 : numbers(arg, v, 6) == 0 ? 6 : 0;
        int bad_clip = nv == 6 && (v[4] < 1 || v[5] < 1 || v[4] > (double)EP_TRACE_MAX_SIZE ||
                                   v[5] > (double)EP_TRACE_MAX_SIZE || v[4] != floor(v[4]) ||
                                   v[5] != floor(v[5]));
        if (!nv || bad_clip || v[1] < 0 || v[3] < 0 || v[0] > 25 || v[2] > 25 || v[1] > 25 ||
            v[3] > 25)
            return scenario_fail(c, n,
                                 "%s: lognormal: expects MU_IN,SIGMA_IN,MU_OUT,SIGMA_OUT "
                                 "(mu <= 25, 0 <= sigma <= 25), optionally then MAX_IN,MAX_OUT "
                                 "(integers in [1, 1e9]: larger sizes are clipped to them)",
                                 path);
        g->sizes = EP_SIZES_LOGNORMAL;
        g->in_mu = v[0];
        g->in_sigma = v[1];
        g->out_mu = v[2];
        g->out_sigma = v[3];
        g->in_max = nv == 6 ? (int64_t)v[4] : 0;
        g->out_max = nv == 6 ? (int64_t)v[5] : 0;
        return 0;
    }
    int fit = strncmp(spec, "fit:", 4) == 0, res = strncmp(spec, "resample:", 9) == 0;
    if (!fit && !res)
        return scenario_fail(c, n,
                             "%s: expected fixed:IN,OUT, lognormal:MU_IN,SIGMA_IN,MU_OUT,"
                             "SIGMA_OUT, fit:TRACE or resample:TRACE",
                             path);
    if (ep_trace_name_check(arg))
        return scenario_fail(c, n, "%s: '%s' is not a valid trace name", path, arg);
    /* The caller loads the named trace's sizes: it fits a lognormal (fit) or resamples. */
    memcpy(w->origin->gen_sizes_trace, arg, strlen(arg) + 1);
    g->sizes = fit ? EP_SIZES_LOGNORMAL : EP_SIZES_RESAMPLE;
    return 0;
}

/* Generator keys and the kinds they apply to (bit k for ep_gen_kind k). */
static const struct {
    const char *key;
    unsigned kinds;
} gen_scope[] = {{"rate", 0x7}, {"cv", 0x2},        {"off_rate", 0x4},
                 {"on_s", 0xC}, {"off_s", 0xC},     {"cameras", 0x8},
                 {"fps", 0x8},  {"jitter_ms", 0x8}, {"frame_bytes", 0x8}};

static int
parse_generate(scenario_ctx *c, const scenario_map *wm, ep_workload *w, int index)
{
    char path[SCENARIO_PATH_MAX];
    scenario_join(path, wm->path, "generate");
    scenario_map m;
    int kind = 0, rc;
    ep_gen_spec *g = &w->origin->gen;
    ep_gen_spec_init(g);
    g->seed = (uint64_t)index + 1;
    if ((rc = scenario_map_open(c, scenario_get(wm, "generate"), path, gen_keys, &m)) ||
        (rc = scenario_enum(&m, "kind", SCENARIO_REQ, gen_kinds, &kind)))
        return rc;
    EP_ASSERT(ep_gen_kind_parse(gen_kinds[kind], &g->kind) == 0);
    for (size_t i = 0; i < EP_ARRAY_LEN(gen_scope); i++) {
        yaml_node_t *n = scenario_get(&m, gen_scope[i].key);
        if (n && !(gen_scope[i].kinds & (1u << kind)))
            return scenario_fail(c, n, "%s.%s: does not apply to kind %s", path, gen_scope[i].key,
                                 gen_kinds[kind]);
    }
    int mmpp = g->kind == EP_GEN_MMPP;
    long long cameras = 1, frame_bytes = 200000;
    if (c->sc->run.duration > 0)
        g->duration = c->sc->run.duration;
    if ((rc = scenario_u64(&m, "seed", SCENARIO_OPT, &g->seed)) ||
        (rc = scenario_dur(&m, "duration_s", c->sc->run.duration <= 0, 1, 0, 1, 1e9,
                           &g->duration)) ||
        (rc = scenario_num(&m, "rate", g->kind != EP_GEN_VIDEO, 0, 1, 1e9, &g->rate_per_s)) ||
        (rc = scenario_num(&m, "cv", g->kind == EP_GEN_GAMMA, 0, 1, 1e3, &g->cv)) ||
        (rc = scenario_num(&m, "off_rate", SCENARIO_OPT, 0, 0, 1e9, &g->off_rate_per_s)) ||
        (rc = scenario_num(&m, "on_s", mmpp, 0, mmpp, 1e9, &g->mean_on_s)) ||
        (rc = scenario_num(&m, "off_s", mmpp, 0, mmpp, 1e9, &g->mean_off_s)) ||
        (rc = scenario_int(&m, "cameras", SCENARIO_OPT, 1, 1000000, &cameras)) ||
        (rc = scenario_num(&m, "fps", SCENARIO_OPT, 0, 1, 1e6, &g->fps)) ||
        (rc = scenario_num(&m, "jitter_ms", SCENARIO_OPT, 0, 0, 1e6, &g->jitter_ms)) ||
        (rc = scenario_int(&m, "frame_bytes", SCENARIO_OPT, 0, EP_TRACE_MAX_SIZE, &frame_bytes)))
        return rc;
    g->cameras = (int)cameras;
    if (g->kind == EP_GEN_VIDEO) {
        /* A frame's payload is its input size (as `epara trace gen --frame-bytes`). */
        if (scenario_get(&m, "frame_bytes") && scenario_get(&m, "sizes"))
            return scenario_fail(c, scenario_get(&m, "sizes"),
                                 "%s.sizes: give frame_bytes or sizes, not both", path);
        g->sizes = EP_SIZES_FIXED;
        g->fixed_input = frame_bytes;
    }
    if (scenario_get(&m, "sizes") && (rc = parse_sizes(c, &m, w)))
        return rc;
    w->origin->has_gen = 1;
    return 0;
}

static int
parse_ingress(scenario_ctx *c, const scenario_map *wm, ep_workload *w)
{
    char path[SCENARIO_PATH_MAX], ipath[SCENARIO_PATH_MAX];
    scenario_join(path, wm->path, "ingress");
    int rc = scenario_need(wm, "ingress", NULL);
    if (rc)
        return rc;
    yaml_node_t *full = NULL;
    int max = (int)EP_ARRAY_LEN(w->ingress);
    rc = scenario_node_list(c, scenario_get(wm, "ingress"), path, w->ingress, max, &w->ningress,
                            &full, ipath);
    if (rc == EP_EFULL)
        return scenario_fail(c, full, "%s: more than %d ingress nodes", ipath, max);
    return rc;
}

static int
same_gen(const ep_trace_origin *a, const ep_trace_origin *b)
{
    const ep_gen_spec *x = &a->gen, *y = &b->gen;
    return x->kind == y->kind && x->seed == y->seed && x->duration == y->duration &&
           x->rate_per_s == y->rate_per_s && x->cv == y->cv &&
           x->off_rate_per_s == y->off_rate_per_s && x->mean_on_s == y->mean_on_s &&
           x->mean_off_s == y->mean_off_s && x->cameras == y->cameras && x->fps == y->fps &&
           x->jitter_ms == y->jitter_ms && x->sizes == y->sizes &&
           x->fixed_input == y->fixed_input && x->fixed_output == y->fixed_output &&
           x->in_mu == y->in_mu && x->in_sigma == y->in_sigma && x->out_mu == y->out_mu &&
           x->out_sigma == y->out_sigma && x->in_max == y->in_max && x->out_max == y->out_max &&
           strcmp(a->gen_sizes_trace, b->gen_sizes_trace) == 0;
}

static int
same_source(const ep_trace_origin *a, const ep_trace_origin *b)
{
    if (a->has_import != b->has_import || a->has_gen != b->has_gen)
        return 0;
    if (a->has_import &&
        (strcmp(a->import_file, b->import_file) != 0 || a->import_format != b->import_format ||
         strcmp(a->import_map, b->import_map) != 0 || a->import_expand != b->import_expand))
        return 0;
    return !a->has_gen || same_gen(a, b);
}

static int
has_source(const ep_workload *w)
{
    return w->origin->has_import || w->origin->has_gen;
}

/* tile: true (default) repeats the time-compressed trace to fill the run; false plays it once. */
static int
parse_tile(const scenario_map *m, ep_workload *w)
{
    int tile = 1;
    int rc = scenario_bool(m, "tile", SCENARIO_OPT, &tile);
    if (rc == 0)
        w->once = !tile;
    return rc;
}

static int
parse_one(scenario_ctx *c, yaml_node_t *n, int i, ep_workload *w)
{
    char path[SCENARIO_PATH_MAX], svc[EP_NAME_MAX];
    scenario_index(path, "workload", i);
    scenario_map m;
    int rc;
    w->rate_scale = 1;
    w->time_scale = 1;
    if ((rc = scenario_map_open(c, n, path, workload_keys, &m)) ||
        (rc = scenario_name(&m, "trace", SCENARIO_REQ, w->trace, sizeof w->trace)) ||
        (rc = scenario_name(&m, "service", SCENARIO_REQ, svc, sizeof svc)))
        return rc;
    w->service = ep_scenario_find_service(c->sc, svc);
    if (w->service < 0)
        return scenario_fail(c, scenario_get(&m, "service"), "%s.service: unknown service '%s'",
                             path, svc);
    if ((rc = parse_ingress(c, &m, w)) ||
        (rc = scenario_num(&m, "rate_scale", SCENARIO_OPT, 0, 1, 1e6, &w->rate_scale)) ||
        (rc = scenario_num(&m, "time_scale", SCENARIO_OPT, 0, 1, 1e6, &w->time_scale)) ||
        (rc = scenario_dur(&m, "offset_s", SCENARIO_OPT, 1, 0, 0, 1e9, &w->offset)) ||
        (rc = parse_tile(&m, w)) || (scenario_get(&m, "import") && (rc = parse_import(c, &m, w))) ||
        (scenario_get(&m, "generate") && (rc = parse_generate(c, &m, w, i))))
        return rc;
    for (int j = 0; j < i; j++) {
        const ep_workload *o = &c->sc->workloads[j];
        if (strcmp(o->trace, w->trace) != 0)
            continue;
        if (o->service == w->service)
            return scenario_fail(c, n,
                                 "%s: trace '%s' is already mapped to service '%s' by "
                                 "workload[%d]",
                                 path, w->trace, svc, j);
        if (has_source(w) && has_source(o) && !same_source(o->origin, w->origin))
            return scenario_fail(c, n,
                                 "%s: trace '%s' gets a different import/generate in "
                                 "workload[%d] (give its source once)",
                                 path, w->trace, j);
    }
    return 0;
}

int
scenario_parse_workload(scenario_ctx *c, const scenario_map *root)
{
    yaml_node_item_t *items;
    int n, rc;
    yaml_node_t *wn = scenario_get(root, "workload");
    if (!wn)
        return 0;
    if ((rc = scenario_seq(c, wn, "workload", &items, &n)))
        return rc;
    if (n > SCENARIO_MAX_WORKLOADS)
        return scenario_fail(c, wn, "workload: at most %d entries", SCENARIO_MAX_WORKLOADS);
    if (n == 0)
        return 0;
    c->sc->workloads = calloc((size_t)n, sizeof *c->sc->workloads);
    if (!c->sc->workloads)
        return EP_ENOMEM;
    for (int i = 0; i < n; i++) {
        /* counted before it is parsed, so that ep_scenario_fini frees its origin */
        if (!(c->sc->workloads[i].origin = calloc(1, sizeof(ep_trace_origin))))
            return EP_ENOMEM;
        c->sc->nworkloads = i + 1;
        if ((rc = parse_one(c, scenario_node(c, items[i]), i, &c->sc->workloads[i])))
            return rc;
    }
    /* A trace's source is given once; every workload of that trace carries a copy, so a
     * consumer may look at any of them. */
    ep_workload *ws = c->sc->workloads;
    for (int i = 0; i < n; i++) {
        if (has_source(&ws[i]))
            continue;
        for (int j = 0; j < n; j++) {
            if (j != i && has_source(&ws[j]) && strcmp(ws[i].trace, ws[j].trace) == 0) {
                *ws[i].origin = *ws[j].origin;
                break;
            }
        }
    }
    return 0;
}
