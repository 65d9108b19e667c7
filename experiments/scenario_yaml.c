/* The typed YAML access layer of the scenario loader (over libyaml's document API): maps
 * with a closed set of keys, numbers, integers, names, enums and durations with ranges.
 * Invariant: every failure fills the context's ep_parse_error with the offending node's
 * line and column and a "FIELD.PATH: problem" message, and returns EP_EPARSE. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "scenario_internal.h"

int
scenario_fail(scenario_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    ep_parse_error *e = c->err;
    e->line = n ? (long)n->start_mark.line + 1 : 0;
    e->col = n ? (long)n->start_mark.column + 1 : 0;
    if (e->line > c->nlines) {
        e->line = c->nlines;
        e->col = 0;
    }
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    if (w < 0)
        snprintf(e->msg, sizeof e->msg, "invalid scenario");
    else if ((size_t)w >= sizeof e->msg)
        memcpy(e->msg + sizeof e->msg - 4, "...", 4);
    return EP_EPARSE;
}

void
scenario_join(char *dst, const char *path, const char *key)
{
    if (path[0])
        snprintf(dst, SCENARIO_PATH_MAX, "%.*s.%.48s", SCENARIO_PATH_MAX - 50, path, key);
    else
        snprintf(dst, SCENARIO_PATH_MAX, "%.48s", key);
}

void
scenario_index(char *dst, const char *path, int i)
{
    snprintf(dst, SCENARIO_PATH_MAX, "%.*s[%d]", SCENARIO_PATH_MAX - 16, path, i);
}

const char *
scenario_where(const char *path)
{
    return path[0] ? path : "top level";
}

int
scenario_is_null(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    const char *v = (const char *)n->data.scalar.value;
    return n->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

const char *
scenario_show(const yaml_node_t *n, char *buf, size_t cap)
{
    if (!n || scenario_is_null(n))
        return "nothing";
    if (n->type == YAML_SEQUENCE_NODE)
        return "a list";
    if (n->type == YAML_MAPPING_NODE)
        return "a map";
    /* Shown quoted, shortened at a character boundary, control bytes as '?'. */
    size_t len = n->data.scalar.length, max = cap > 8 ? cap - 8 : 0;
    if (max > 40)
        max = 40;
    int cut = len > max;
    if (cut) {
        len = max;
        while (len > 0 && (n->data.scalar.value[len] & 0xC0) == 0x80)
            len--;
    }
    size_t o = 0;
    buf[o++] = '\'';
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = n->data.scalar.value[i];
        buf[o++] = (ch < 0x20 || ch == 0x7F) ? '?' : (char)ch;
    }
    if (cut) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
    return buf;
}

yaml_node_t *
scenario_node(const scenario_ctx *c, int index)
{
    return yaml_document_get_node(c->doc, index);
}

/* The scalar's text, or NULL when n is not a usable scalar (not a scalar, or holds NUL). */
static const char *
scalar(const yaml_node_t *n)
{
    if (!n || n->type != YAML_SCALAR_NODE || scenario_is_null(n))
        return NULL;
    const char *v = (const char *)n->data.scalar.value;
    if (strlen(v) != n->data.scalar.length)
        return NULL;
    return v;
}

int
scenario_map_open(scenario_ctx *c, yaml_node_t *n, const char *path, const char *const *keys,
                  scenario_map *m)
{
    char got[64];
    if (!n || n->type != YAML_MAPPING_NODE)
        return scenario_fail(c, n, "%s: expected a map of keys, got %s", scenario_where(path),
                             scenario_show(n, got, sizeof got));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = scenario_node(c, p->key);
        const char *ks = scalar(k);
        if (!ks)
            return scenario_fail(c, k, "%s: expected a key name, got %s", scenario_where(path),
                                 scenario_show(k, got, sizeof got));
        int known = 0;
        for (size_t i = 0; keys[i]; i++)
            known |= strcmp(keys[i], ks) == 0;
        if (!known) {
            char list[200];
            size_t o = 0;
            list[0] = '\0';
            for (size_t i = 0; keys[i] && o < sizeof list; i++) {
                int w = snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", keys[i]);
                if (w < 0)
                    break;
                o += (size_t)w;
            }
            return scenario_fail(c, k, "%s: unknown key %s (accepted: %s)", scenario_where(path),
                                 scenario_show(k, got, sizeof got), list);
        }
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            const char *qs = scalar(scenario_node(c, q->key));
            if (qs && strcmp(qs, ks) == 0)
                return scenario_fail(c, k, "%s: duplicate key %s", scenario_where(path),
                                     scenario_show(k, got, sizeof got));
        }
    }
    m->c = c;
    m->node = n;
    snprintf(m->path, sizeof m->path, "%s", path);
    return 0;
}

yaml_node_t *
scenario_get(const scenario_map *m, const char *key)
{
    yaml_node_t *n = m->node;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        const char *ks = scalar(scenario_node(m->c, p->key));
        if (ks && strcmp(ks, key) == 0)
            return scenario_node(m->c, p->value);
    }
    return NULL;
}

int
scenario_need(const scenario_map *m, const char *key, const char *why)
{
    if (scenario_get(m, key))
        return 0;
    return scenario_fail(m->c, m->node, "%s: missing required key '%s'%s%s",
                         scenario_where(m->path), key, why ? " " : "", why ? why : "");
}

int
scenario_seq(scenario_ctx *c, yaml_node_t *n, const char *path, yaml_node_item_t **items,
             int *n_items)
{
    char got[64];
    if (n && scenario_is_null(n)) {
        *items = NULL;
        *n_items = 0;
        return 0;
    }
    if (!n || n->type != YAML_SEQUENCE_NODE)
        return scenario_fail(c, n, "%s: expected a list, got %s", scenario_where(path),
                             scenario_show(n, got, sizeof got));
    *items = n->data.sequence.items.start;
    *n_items = (int)(n->data.sequence.items.top - n->data.sequence.items.start);
    return 0;
}

/* Looks key up: *n is its value, or NULL when absent (an error when required). */
static int
lookup(const scenario_map *m, const char *key, int req, yaml_node_t **n, char *path)
{
    scenario_join(path, m->path, key);
    *n = scenario_get(m, key);
    if (!*n && req)
        return scenario_need(m, key, NULL);
    return 0;
}

static void
range_text(char *buf, size_t cap, double lo, int lo_open, double hi)
{
    if (lo == 0 && lo_open)
        snprintf(buf, cap, "a positive number (at most %g)", hi);
    else if (lo == 0)
        snprintf(buf, cap, "a non-negative number (at most %g)", hi);
    else
        snprintf(buf, cap, "a number in %s%g, %g]", lo_open ? "(" : "[", lo, hi);
}

int
scenario_node_num(scenario_ctx *c, yaml_node_t *n, const char *path, double lo, int lo_open,
                  double hi, double *out)
{
    char got[64], want[80];
    const char *s = scalar(n);
    double v = 0;
    int ok = 0;
    /* strtod also takes hex, inf, nan and leading space; YAML users mean decimal numbers. */
    if (s && strchr("0123456789+-.", s[0]) && s[0] && !strpbrk(s, "xXiInN")) {
        char *end;
        errno = 0;
        v = strtod(s, &end);
        ok = *end == '\0' && isfinite(v) && errno != ERANGE;
    }
    if (ok && (v < lo || (lo_open && v == lo) || v > hi))
        ok = 0;
    if (!ok) {
        range_text(want, sizeof want, lo, lo_open, hi);
        return scenario_fail(c, n, "%s: expected %s, got %s", path, want,
                             scenario_show(n, got, sizeof got));
    }
    *out = v;
    return 0;
}

int
scenario_node_int(scenario_ctx *c, yaml_node_t *n, const char *path, long long lo, long long hi,
                  long long *out)
{
    char got[64];
    const char *s = scalar(n);
    long long v = 0;
    int ok = 0;
    if (s && ((s[0] >= '0' && s[0] <= '9') || s[0] == '-' || s[0] == '+')) {
        char *end;
        errno = 0;
        v = strtoll(s, &end, 10);
        ok = *end == '\0' && end != s && errno != ERANGE && v >= lo && v <= hi;
    }
    if (!ok)
        return scenario_fail(c, n, "%s: expected an integer in [%lld, %lld], got %s", path, lo, hi,
                             scenario_show(n, got, sizeof got));
    *out = v;
    return 0;
}

static int
name_ok(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n == 0 || n >= cap || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

int
scenario_node_name(scenario_ctx *c, yaml_node_t *n, const char *path, char *buf, size_t cap)
{
    char got[64];
    const char *s = scalar(n);
    if (!s || !name_ok(s, cap))
        return scenario_fail(c, n,
                             "%s: expected a name (1-%zu of A-Z a-z 0-9 . _ -, not starting "
                             "with -), got %s",
                             path, cap - 1, scenario_show(n, got, sizeof got));
    memcpy(buf, s, strlen(s) + 1);
    return 0;
}

int
scenario_num(const scenario_map *m, const char *key, int req, double lo, int lo_open, double hi,
             double *out)
{
    char path[SCENARIO_PATH_MAX];
    yaml_node_t *n;
    int rc = lookup(m, key, req, &n, path);
    if (rc || !n)
        return rc;
    return scenario_node_num(m->c, n, path, lo, lo_open, hi, out);
}

int
scenario_int(const scenario_map *m, const char *key, int req, long long lo, long long hi,
             long long *out)
{
    char path[SCENARIO_PATH_MAX];
    yaml_node_t *n;
    int rc = lookup(m, key, req, &n, path);
    if (rc || !n)
        return rc;
    return scenario_node_int(m->c, n, path, lo, hi, out);
}

int
scenario_u64(const scenario_map *m, const char *key, int req, uint64_t *out)
{
    char path[SCENARIO_PATH_MAX], got[64];
    yaml_node_t *n;
    int rc = lookup(m, key, req, &n, path);
    if (rc || !n)
        return rc;
    const char *s = scalar(n);
    if (s && s[0] >= '0' && s[0] <= '9') {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (*end == '\0' && errno != ERANGE) {
            *out = (uint64_t)v;
            return 0;
        }
    }
    return scenario_fail(m->c, n, "%s: expected an unsigned 64-bit integer, got %s", path,
                         scenario_show(n, got, sizeof got));
}

int
scenario_bool(const scenario_map *m, const char *key, int req, int *out)
{
    char path[SCENARIO_PATH_MAX], got[64];
    yaml_node_t *n;
    int rc = lookup(m, key, req, &n, path);
    if (rc || !n)
        return rc;
    const char *s = scalar(n);
    if (s && strcmp(s, "true") == 0) {
        *out = 1;
        return 0;
    }
    if (s && strcmp(s, "false") == 0) {
        *out = 0;
        return 0;
    }
    return scenario_fail(m->c, n, "%s: expected true or false, got %s", path,
                         scenario_show(n, got, sizeof got));
}

int
scenario_str(const scenario_map *m, const char *key, int req, char *buf, size_t cap)
{
    char path[SCENARIO_PATH_MAX], got[64];
    yaml_node_t *n;
    int rc = lookup(m, key, req, &n, path);
    if (rc || !n)
        return rc;
    const char *s = scalar(n);
    if (!s || !s[0] || strlen(s) >= cap)
        return scenario_fail(m->c, n, "%s: expected a text of 1-%zu bytes, got %s", path, cap - 1,
                             scenario_show(n, got, sizeof got));
    memcpy(buf, s, strlen(s) + 1);
    return 0;
}

int
scenario_name(const scenario_map *m, const char *key, int req, char *buf, size_t cap)
{
    char path[SCENARIO_PATH_MAX];
    yaml_node_t *n;
    int rc = lookup(m, key, req, &n, path);
    if (rc || !n)
        return rc;
    return scenario_node_name(m->c, n, path, buf, cap);
}

int
scenario_enum(const scenario_map *m, const char *key, int req, const char *const *names, int *out)
{
    char path[SCENARIO_PATH_MAX], got[64], list[128];
    yaml_node_t *n;
    int rc = lookup(m, key, req, &n, path);
    if (rc || !n)
        return rc;
    const char *s = scalar(n);
    size_t o = 0;
    list[0] = '\0';
    for (int i = 0; names[i]; i++) {
        if (s && strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
        int w = snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", names[i]);
        if (w > 0 && (size_t)w < sizeof list - o)
            o += (size_t)w;
    }
    return scenario_fail(m->c, n, "%s: expected one of %s, got %s", path, list,
                         scenario_show(n, got, sizeof got));
}

int
scenario_dur(const scenario_map *m, const char *key, int req, double unit_s, double lo, int lo_open,
             double hi, ep_dur *out)
{
    double v;
    int rc = scenario_num(m, key, req, lo, lo_open, hi, &v);
    if (rc || !scenario_get(m, key))
        return rc;
    ep_dur d;
    if (ep_dur_from_s(v * unit_s, &d)) {
        char path[SCENARIO_PATH_MAX];
        scenario_join(path, m->path, key);
        return scenario_fail(m->c, scenario_get(m, key), "%s: duration out of range", path);
    }
    *out = d;
    return 0;
}
