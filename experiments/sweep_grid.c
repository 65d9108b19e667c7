/* Sweep grid and plan (epara/experiments/sweep.h): parses the grid text into dimensions of
 * canonical values and expands policies x grid points into runs, each with the options JSON it
 * records and the key that identifies it across invocations (so interrupted sweeps resume). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "epara/core/error.h"
#include "epara/experiments/scenario.h"
#include "epara/experiments/sweep.h"

#define MAX_VALUES 100000

static int fail(int code, char *err, size_t errlen, const char *fmt, ...) EP_PRINTF(4, 5);

/* Writes the message into err and returns code. */
static int
fail(int code, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

static int
parse_num(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int
parse_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end != '\0' || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

static int
push(ep_sweep_dim *d, const char *text, char *err, size_t errlen)
{
    if (d->nvals >= MAX_VALUES)
        return fail(EP_EPARSE, err, errlen, "--grid: more than %d values in one dimension",
                    MAX_VALUES);
    if (strlen(text) == 0 || strlen(text) >= EP_NAME_MAX)
        return fail(EP_EPARSE, err, errlen,
                    "--grid: value '%s' is empty or longer than %d characters", text,
                    EP_NAME_MAX - 1);
    for (int i = 0; i < d->nvals; i++)
        if (strcmp(d->text[i], text) == 0)
            return fail(EP_EPARSE, err, errlen, "--grid: value '%s' appears twice", text);
    if ((d->nvals & (d->nvals - 1)) == 0) {
        int cap = d->nvals ? 2 * d->nvals : 1;
        void *t = realloc(d->text, (size_t)cap * sizeof *d->text);
        if (!t)
            return fail(EP_ENOMEM, err, errlen, "--grid: out of memory");
        d->text = t;
        double *n = realloc(d->num, (size_t)cap * sizeof *d->num);
        if (!n)
            return fail(EP_ENOMEM, err, errlen, "--grid: out of memory");
        d->num = n;
    }
    snprintf(d->text[d->nvals], EP_NAME_MAX, "%s", text);
    double v;
    d->num[d->nvals] = parse_num(text, &v) == 0 ? v : NAN;
    d->nvals++;
    return 0;
}

/* Values of one dimension: lo:hi:step (inclusive), a..b (integers) or v1|v2|... */
static int
parse_values(ep_sweep_dim *d, const char *name, char *spec, char *err, size_t errlen)
{
    char buf[64];
    char *colon = strchr(spec, ':'), *dots = strstr(spec, "..");
    if (colon) {
        char *c2 = strchr(colon + 1, ':');
        if (!c2 || strchr(c2 + 1, ':'))
            return fail(EP_EPARSE, err, errlen, "--grid: %s: '%s' is not lo:hi:step", name, spec);
        *colon = *c2 = '\0';
        double lo, hi, step;
        if (parse_num(spec, &lo) || parse_num(colon + 1, &hi) || parse_num(c2 + 1, &step))
            return fail(EP_EPARSE, err, errlen, "--grid: %s: lo:hi:step must be three numbers",
                        name);
        if (!(step > 0) || hi < lo)
            return fail(EP_EPARSE, err, errlen, "--grid: %s: need step > 0 and lo <= hi", name);
        double n = floor((hi - lo) / step + 1e-9) + 1;
        if (n > MAX_VALUES)
            return fail(EP_EPARSE, err, errlen, "--grid: %s: more than %d values", name,
                        MAX_VALUES);
        for (int i = 0; i < (int)n; i++) {
            snprintf(buf, sizeof buf, "%.10g", lo + i * step);
            int e = push(d, buf, err, errlen);
            if (e)
                return e;
        }
        return 0;
    }
    if (dots) {
        *dots = '\0';
        long long a, b;
        if (parse_int(spec, &a) || parse_int(dots + 2, &b))
            return fail(EP_EPARSE, err, errlen, "--grid: %s: a..b must be two integers", name);
        if (b < a || b - a >= MAX_VALUES)
            return fail(EP_EPARSE, err, errlen, "--grid: %s: need a <= b and at most %d values",
                        name, MAX_VALUES);
        for (long long v = a; v <= b; v++) {
            snprintf(buf, sizeof buf, "%lld", v);
            int e = push(d, buf, err, errlen);
            if (e)
                return e;
        }
        return 0;
    }
    char *save = NULL;
    if (spec[0] == '\0' || spec[strlen(spec) - 1] == '|' || spec[0] == '|' || strstr(spec, "||"))
        return fail(EP_EPARSE, err, errlen, "--grid: %s: empty value in '%s'", name, spec);
    for (char *v = strtok_r(spec, "|", &save); v; v = strtok_r(NULL, "|", &save)) {
        double x;
        /* Numbers get one spelling ("1.0" and "1" are one value). */
        if (d->kind != EP_SWEEP_PARAM || parse_num(v, &x) == 0) {
            if (parse_num(v, &x))
                return fail(EP_EPARSE, err, errlen, "--grid: %s: '%s' is not a number", name, v);
            snprintf(buf, sizeof buf, "%.10g", x);
            v = buf;
        }
        int e = push(d, v, err, errlen);
        if (e)
            return e;
    }
    return 0;
}

/* Range checks of the numeric kinds. */
static int
check_values(const ep_sweep_dim *d, const char *name, char *err, size_t errlen)
{
    for (int i = 0; i < d->nvals; i++) {
        double v = d->num[i];
        switch (d->kind) {
        case EP_SWEEP_RATE:
            if (!(v >= 1e-6 && v <= 1e6))
                return fail(EP_EPARSE, err, errlen, "--grid: %s: %s is out of range [1e-06, 1e+06]",
                            name, d->text[i]);
            break;
        case EP_SWEEP_DURATION:
            if (!(v >= 1e-3 && v <= 1e9))
                return fail(EP_EPARSE, err, errlen,
                            "--grid: %s: %s is out of range [0.001, 1e+09] s", name, d->text[i]);
            break;
        case EP_SWEEP_SLO:
            if (!(v >= EP_SLO_SCALE_MIN && v <= EP_SLO_SCALE_MAX))
                return fail(EP_EPARSE, err, errlen, "--grid: %s: %s is out of range [%g, %g]", name,
                            d->text[i], EP_SLO_SCALE_MIN, EP_SLO_SCALE_MAX);
            break;
        case EP_SWEEP_SEED:
            if (!(v >= 0 && v <= 9007199254740992.0) || v != floor(v))
                return fail(EP_EPARSE, err, errlen, "--grid: %s: %s is not a non-negative integer",
                            name, d->text[i]);
            break;
        case EP_SWEEP_PARAM:
            break;
        }
    }
    return 0;
}

int
ep_sweep_grid_parse(const char *text, ep_sweep_grid *g, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    char *copy = strdup(text), *save = NULL;
    if (!copy)
        return fail(EP_ENOMEM, err, errlen, "--grid: out of memory");
    int rc = EP_EPARSE;
    if (copy[0] == '\0' || copy[strlen(copy) - 1] == ',' || strstr(copy, ",,")) {
        fail(EP_EPARSE, err, errlen, "--grid: empty dimension in '%s'", text);
        goto done;
    }
    for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            fail(EP_EPARSE, err, errlen, "--grid: '%s' is not NAME=VALUES", item);
            goto done;
        }
        *eq = '\0';
        if (g->ndims == EP_SWEEP_MAX_DIMS) {
            fail(EP_EPARSE, err, errlen, "--grid: more than %d dimensions", EP_SWEEP_MAX_DIMS);
            goto done;
        }
        ep_sweep_dim *d = &g->dims[g->ndims];
        if (strcmp(item, "rate_scale") == 0) {
            d->kind = EP_SWEEP_RATE;
        } else if (strcmp(item, "seed") == 0) {
            d->kind = EP_SWEEP_SEED;
        } else if (strcmp(item, "duration") == 0) {
            d->kind = EP_SWEEP_DURATION;
        } else if (strcmp(item, "slo_scale") == 0) {
            d->kind = EP_SWEEP_SLO;
        } else if (strncmp(item, "param.", 6) == 0 && item[6] != '\0' &&
                   strlen(item + 6) < EP_NAME_MAX) {
            d->kind = EP_SWEEP_PARAM;
            snprintf(d->key, sizeof d->key, "%s", item + 6);
        } else {
            fail(EP_EPARSE, err, errlen,
                 "--grid: unknown dimension '%s' (rate_scale, seed, duration, slo_scale, "
                 "param.KEY)",
                 item);
            goto done;
        }
        for (int k = 0; k < g->ndims; k++)
            if (g->dims[k].kind == d->kind && strcmp(g->dims[k].key, d->key) == 0) {
                fail(EP_EPARSE, err, errlen, "--grid: dimension '%s' given twice", item);
                goto done;
            }
        g->ndims++;
        int e = parse_values(d, item, eq + 1, err, errlen);
        if (e || (e = check_values(d, item, err, errlen)) != 0) {
            rc = e;
            goto done;
        }
    }
    rc = 0;
done:
    free(copy);
    return rc;
}

void
ep_sweep_grid_fini(ep_sweep_grid *g)
{
    for (int i = 0; i < g->ndims; i++) {
        free(g->dims[i].text);
        free(g->dims[i].num);
    }
    memset(g, 0, sizeof *g);
}

/* FNV-1a of the scenario text: part of the key, so an edited scenario is a new sweep. */
static uint64_t
fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Options JSON (sorted keys) of run r; with_path adds what does not make a run different
 * (the scenario file and whether records are kept). The key (with_path 0) names the SLO
 * scale only when it is not 1, so keys of sweeps stored before slo_scale existed still
 * match; the stored options always name it. */
static char *
options_json(const ep_sweep_run *r, const char *scen_path, int records, int with_path)
{
    json_t *o = json_object(), *pa = json_object();
    json_object_set_new(o, "policy", json_string(r->policy));
    json_object_set_new(o, "rate_scale", json_real(r->rate_scale));
    json_object_set_new(o, "seed", json_integer((json_int_t)r->seed));
    json_object_set_new(o, "duration_s", json_real(r->duration_s));
    if (with_path || r->slo_scale != 1)
        json_object_set_new(o, "slo_scale", json_real(r->slo_scale));
    for (int i = 0; i < r->nparams; i++)
        json_object_set_new(pa, r->pkey[i], json_string(r->pval[i]));
    json_object_set_new(o, "params", pa);
    if (with_path) {
        json_object_set_new(o, "sweep", json_true());
        json_object_set_new(o, "scenario", scen_path ? json_string(scen_path) : json_null());
        json_object_set_new(o, "records", json_boolean(records));
    }
    char *txt = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12));
    json_decref(o);
    return txt;
}

int
ep_sweep_plan_build(const ep_sweep_grid *g, const char *const *policies, int npolicies,
                    const ep_scenario *sc, const char *scen_path, double duration_s, int records,
                    ep_sweep_plan *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    double total = npolicies;
    for (int i = 0; i < g->ndims; i++)
        total *= g->dims[i].nvals;
    if (total > EP_SWEEP_MAX_RUNS)
        return fail(EP_ERANGE, err, errlen, "--grid: %.0f runs; at most %d", total,
                    EP_SWEEP_MAX_RUNS);
    int n = (int)total;
    out->runs = calloc((size_t)(n ? n : 1), sizeof *out->runs);
    if (!out->runs)
        return fail(EP_ENOMEM, err, errlen, "sweep: out of memory");
    size_t dlen;
    const char *text = sc->text ? sc->text : ep_scenario_default_text(&dlen);
    uint64_t h = fnv1a(text);
    int idx[EP_SWEEP_MAX_DIMS] = {0};
    for (int p = 0; p < npolicies; p++) {
        memset(idx, 0, sizeof idx);
        for (;;) {
            ep_sweep_run *r = &out->runs[out->n++];
            r->policy = policies[p];
            r->rate_scale = 1;
            r->seed = sc->run.seed;
            r->duration_s = duration_s;
            r->slo_scale = 1;
            for (int d = 0; d < g->ndims; d++) {
                const ep_sweep_dim *dm = &g->dims[d];
                double v = dm->num[idx[d]];
                switch (dm->kind) {
                case EP_SWEEP_RATE:
                    r->rate_scale = v;
                    break;
                case EP_SWEEP_SEED:
                    r->seed = (uint64_t)v;
                    break;
                case EP_SWEEP_DURATION:
                    r->duration_s = v;
                    break;
                case EP_SWEEP_SLO:
                    r->slo_scale = v;
                    break;
                case EP_SWEEP_PARAM:
                    r->pkey[r->nparams] = dm->key;
                    r->pval[r->nparams] = dm->text[idx[d]];
                    r->nparams++;
                    break;
                }
            }
            char *kj = options_json(r, NULL, 0, 0);
            r->options = options_json(r, scen_path, records, 1);
            if (kj && r->options) {
                size_t klen = strlen(sc->name) + strlen(kj) + 32;
                if ((r->key = malloc(klen)) != NULL)
                    snprintf(r->key, klen, "%s|%016llx|%s", sc->name, (unsigned long long)h, kj);
            }
            free(kj);
            if (!r->key) {
                ep_sweep_plan_fini(out);
                return fail(EP_ENOMEM, err, errlen, "sweep: out of memory");
            }
            int d = g->ndims - 1;
            while (d >= 0 && ++idx[d] == g->dims[d].nvals)
                idx[d--] = 0;
            if (d < 0)
                break;
        }
    }
    return 0;
}

void
ep_sweep_plan_fini(ep_sweep_plan *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->runs[i].options);
        free(p->runs[i].key);
    }
    free(p->runs);
    memset(p, 0, sizeof *p);
}
