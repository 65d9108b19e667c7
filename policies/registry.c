/* The policy registry, the host's own policy parameters and their validation, and helpers
 * every policy may use. A parameter is accepted only when the policy (or the host) declares
 * it and its value lies in the declared domain. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/policies/policy.h"
#include "epara/core/profile.h"

extern const ep_policy_ops ep_policy_static;
extern const ep_policy_ops ep_policy_epara;
extern const ep_policy_ops ep_policy_adainf;
extern const ep_policy_ops ep_policy_offload;
extern const ep_policy_ops ep_policy_alpaserve;

static const ep_policy_ops *const all_[] = {&ep_policy_epara,     &ep_policy_static,
                                            &ep_policy_adainf,    &ep_policy_offload,
                                            &ep_policy_alpaserve, NULL};

const ep_policy_ops *const *
ep_policy_all(void)
{
    return all_;
}

const ep_policy_ops *
ep_policy_find(const char *name)
{
    for (int i = 0; all_[i]; i++)
        if (strcmp(all_[i]->name, name) == 0)
            return all_[i];
    return NULL;
}

/* Read by the simulator (node/setup.c demand_priors), whatever the policy. */
static const ep_param_decl host_params_[] = {
        {"oracle", 0, 1, 1, 0,
         "simulator: give the policy each placement period's true arrivals (view oracle_rate; "
         "upper-bound studies; the testbed ignores it)"},
        {NULL, 0, 0, 0, 0, NULL},
};

const ep_param_decl *
ep_param_host(void)
{
    return host_params_;
}

static int
is_prefix(const char *key)
{
    size_t len = strlen(key);
    return len > 0 && key[len - 1] == '.';
}

const ep_param_decl *
ep_param_decl_find(const ep_param_decl *decls, const char *key)
{
    if (!key)
        return NULL;
    for (const ep_param_decl *d = decls; d && d->key; d++) {
        size_t len = strlen(d->key);
        if (is_prefix(d->key) ? strncmp(key, d->key, len) == 0 && key[len] != '\0'
                              : strcmp(key, d->key) == 0)
            return d;
    }
    return NULL;
}

double
ep_param_value(const ep_param_decl *decls, const ep_param *params, int n, const char *key)
{
    const ep_param_decl *d = ep_param_decl_find(decls, key);
    EP_ASSERT(d != NULL);
    return ep_param_get(params, n, key, d->dflt);
}

/* Appends formatted text at buf[*used] (truncating at len; NULL buf: nothing). */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...) EP_PRINTF(4, 5);

static void
append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
    if (!buf || *used + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *used, len - *used, fmt, ap);
    va_end(ap);
    if (k > 0)
        *used = *used + (size_t)k < len ? *used + (size_t)k : len - 1;
}

void
ep_param_domain(const ep_param_decl *d, char *buf, size_t len)
{
    size_t used = 0;
    if (!buf || len == 0)
        return;
    buf[0] = '\0';
    append(buf, len, &used, "%s", d->integer ? "a whole number" : "a number");
    if (isinf(d->lo) && isinf(d->hi))
        return;
    if (isinf(d->hi))
        append(buf, len, &used, " >= %.15g", d->lo);
    else if (isinf(d->lo))
        append(buf, len, &used, " <= %.15g", d->hi);
    else
        append(buf, len, &used, " in [%.15g, %.15g]", d->lo, d->hi);
}

/* Length of a fixed-size text field: EP_NAME_MAX when it holds no terminator. */
static int
field_len(const char field[EP_NAME_MAX])
{
    const char *z = memchr(field, '\0', EP_NAME_MAX);
    return z ? (int)(z - field) : EP_NAME_MAX;
}

/* "a, b, cv.<service>, oracle": the keys decls and the host accept. */
static void
accepted(const ep_param_decl *decls, char *buf, size_t len, size_t *used)
{
    int k = 0;
    const ep_param_decl *tables[] = {decls, host_params_};
    for (int t = 0; t < 2; t++)
        for (const ep_param_decl *d = tables[t]; d && d->key; d++)
            append(buf, len, used, "%s%s%s", k++ ? ", " : "", d->key,
                   is_prefix(d->key) ? "<service>" : "");
}

int
ep_param_check(const char *policy, const ep_param_decl *decls, const ep_scenario *sc,
               const ep_param *params, int n, char *err, size_t errlen)
{
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        const ep_param *p = &params[i];
        int klen = field_len(p->key), vlen = field_len(p->value);
        const ep_param_decl *d = NULL;
        if (klen < EP_NAME_MAX && !(d = ep_param_decl_find(decls, p->key)))
            d = ep_param_decl_find(host_params_, p->key);
        if (d && is_prefix(d->key) && sc &&
            ep_scenario_find_service(sc, p->key + strlen(d->key)) < 0) {
            append(err, errlen, &used,
                   "unknown policy parameter '%s' for policy %s: the scenario has no service "
                   "'%s' (services:",
                   p->key, policy, p->key + strlen(d->key));
            for (int s = 0; s < sc->nservices; s++)
                append(err, errlen, &used, "%s %.*s", s ? "," : "", EP_NAME_MAX - 1,
                       sc->services[s].name);
            append(err, errlen, &used, ")");
            return EP_EINVAL;
        }
        if (!d) {
            append(err, errlen, &used,
                   "unknown policy parameter '%.*s' for policy %s (accepted: ", klen, p->key,
                   policy);
            accepted(decls, err, errlen, &used);
            append(err, errlen, &used, ")");
            return EP_EINVAL;
        }
        /* Parsed exactly as the policy will read it; NaN: not one finite number. */
        double v = ep_param_get(p, 1, p->key, NAN);
        if (!(v >= d->lo && v <= d->hi) || (d->integer && v != floor(v))) {
            char dom[96];
            ep_param_domain(d, dom, sizeof dom);
            append(err, errlen, &used, "policy parameter %s=%.*s for policy %s: not %s", p->key,
                   vlen, p->value, policy, dom);
            return EP_EINVAL;
        }
    }
    return 0;
}

int
ep_policy_check_params(const ep_policy_ops *ops, const ep_scenario *sc, const ep_param *params,
                       int n, char *err, size_t errlen)
{
    return ep_param_check(ops->name, ops->params, sc, params, n, err, errlen);
}

void
ep_category_default(const ep_view *view, int svc, ep_category *out)
{
    const ep_scenario *sc = view->sc;
    const ep_service *s = &sc->services[svc];
    if (s->sensitivity != EP_SENS_AUTO)
        out->sensitivity = s->sensitivity;
    else
        out->sensitivity = s->slo.fps > 0 ? EP_SENS_FREQUENCY : EP_SENS_LATENCY;
    double largest = 0;
    for (int i = 0; i < sc->nspecs; i++) {
        double usable = (double)sc->specs[i].mem_bytes * sc->specs[i].mem_util;
        if (usable > largest)
            largest = usable;
    }
    out->multi_device = s->min_devices > 1 || (double)ep_cost_instance_mem(sc, svc, 1) > largest;
}

int
ep_placement_add(ep_placement *out, const ep_instance_spec *spec)
{
    if (out->n >= out->cap)
        return EP_EFULL;
    out->inst[out->n++] = *spec;
    return 0;
}

static int
mode_class(ep_mode m)
{
    return m == EP_MODE_MT ? EP_MODE_SINGLE : m;
}

int
ep_spec_same_instance(const ep_instance_spec *a, const ep_instance_spec *b)
{
    if (a->service != b->service || mode_class(a->mode) != mode_class(b->mode) ||
        a->ndev != b->ndev || a->max_batch != b->max_batch || a->order != b->order)
        return 0;
    for (int i = 0; i < a->ndev; i++)
        if (a->devs[i] != b->devs[i])
            return 0;
    return 1;
}

int
ep_spec_shares_device(const ep_instance_spec *a, const ep_instance_spec *b)
{
    for (int i = 0; i < a->ndev; i++)
        for (int j = 0; j < b->ndev; j++)
            if (a->devs[i] == b->devs[j])
                return 1;
    return 0;
}

void
ep_placement_mark_mt(ep_placement *out)
{
    for (int i = 0; i < out->n; i++) {
        ep_instance_spec *a = &out->inst[i];
        if (a->ndev != 1 || (a->mode != EP_MODE_SINGLE && a->mode != EP_MODE_MT))
            continue;
        int shared = 0;
        for (int j = 0; j < out->n && !shared; j++)
            shared = j != i && ep_spec_shares_device(a, &out->inst[j]);
        a->mode = shared ? EP_MODE_MT : EP_MODE_SINGLE;
    }
}
