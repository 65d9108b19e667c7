/* Generic parsers driven by an ep_colmap: CSV with a header row (columns found by name) and
 * JSON Lines (keys looked up in each object, through jansson). Times and durations given as
 * decimal text are converted to ns exactly; numeric cells may be left empty (absent, or the
 * map's default) except the time; a JSONL object lacking a mapped key is refused unless the
 * map gives a default. Unmapped columns and keys go to the row's attrs as one JSON object. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "epara/core/error.h"
#include "parse_internal.h"

/* Text buffers behind a row's kind and service. */
typedef struct row_text {
    char kind[EP_TRACE_MAX_TEXT + 1];
    char service[EP_TRACE_MAX_TEXT + 1];
} row_text;

/* Stores the text s[0..n) of mapped field f (name: its column) into row. An empty value
 * leaves an optional field absent. */
static int
set_field(ep_trace_row *row, row_text *txt, const ep_colmap *map, int f, const char *s, size_t n,
          long line, long col, ep_parse_error *err)
{
    const char *name = map->column[f];
    if (n == 0 && f != EP_FIELD_TIME) {
        if (!map->has_default[f] || !map->dflt[f][0])
            return 0;
        s = map->dflt[f]; /* checked by ep_colmap_parse */
        n = strlen(s);
    }
    switch (f) {
    case EP_FIELD_TIME:
        return trace_field_time(s, n, map->unit[f], name, line, col, err, &row->arrival);
    case EP_FIELD_INPUT:
        return trace_field_int(s, n, EP_TRACE_MAX_SIZE, name, line, col, err, &row->input);
    case EP_FIELD_OUTPUT:
        return trace_field_int(s, n, EP_TRACE_MAX_SIZE, name, line, col, err, &row->output);
    case EP_FIELD_STREAM:
        return trace_field_int(s, n, INT64_MAX, name, line, col, err, &row->stream);
    case EP_FIELD_FRAME:
        return trace_field_int(s, n, INT64_MAX, name, line, col, err, &row->frame);
    case EP_FIELD_EXEC:
        return trace_field_dur(s, n, map->unit[f], name, line, col, err, &row->exec);
    case EP_FIELD_KIND:
        row->kind = txt->kind;
        return trace_field_text(s, n, name, line, col, err, txt->kind);
    default:
        row->service = txt->service;
        return trace_field_text(s, n, name, line, col, err, txt->service);
    }
}

/* --- attrs: the unmapped fields as one JSON object ------------------------------------ */

/* A growable text buffer; p is NUL-terminated whenever n > 0. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static int
sb_reserve(sbuf *b, size_t more)
{
    if (more > SIZE_MAX / 2 - b->n)
        return EP_ENOMEM;
    size_t need = b->n + more + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    char *np = realloc(b->p, cap);
    if (!np)
        return EP_ENOMEM;
    b->p = np;
    b->cap = cap;
    return 0;
}

static int
sb_put(sbuf *b, const char *s, size_t n)
{
    if (sb_reserve(b, n))
        return EP_ENOMEM;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
    return 0;
}

/* s[0..n) must be valid UTF-8 (the parsers check every line and cell). */
static int
sb_string(sbuf *b, const char *s, size_t n)
{
    if (n > SIZE_MAX / 8 || sb_reserve(b, 6 * n + 3))
        return EP_ENOMEM;
    b->n += trace_json_string(b->p + b->n, s, n);
    return 0;
}

/* Shortest of 15..17 significant digits that reads back as the same double, so that 0.1
 * stays "0.1"; a real keeps a '.' or an exponent so it stays a real. */
static int
sb_real(sbuf *b, double v)
{
    char num[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, v);
        if (strtod(num, NULL) == v)
            break;
    }
    if (!strpbrk(num, ".eE"))
        strcat(num, ".0");
    return sb_put(b, num, strlen(num));
}

/* Writes v as compact JSON. Depth is bounded by jansson's parser. */
static int
sb_value(sbuf *b, const json_t *v)
{
    char num[32];
    int rc = 0;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *k;
        json_t *m;
        int first = 1;
        rc = sb_put(b, "{", 1);
        json_object_foreach((json_t *)v, k, m)
        {
            if (rc == 0 && !first)
                rc = sb_put(b, ",", 1);
            if (rc == 0)
                rc = sb_string(b, k, strlen(k));
            if (rc == 0)
                rc = sb_put(b, ":", 1);
            if (rc == 0)
                rc = sb_value(b, m);
            first = 0;
        }
        return rc ? rc : sb_put(b, "}", 1);
    }
    case JSON_ARRAY:
        rc = sb_put(b, "[", 1);
        for (size_t i = 0; rc == 0 && i < json_array_size(v); i++) {
            if (i)
                rc = sb_put(b, ",", 1);
            if (rc == 0)
                rc = sb_value(b, json_array_get(v, i));
        }
        return rc ? rc : sb_put(b, "]", 1);
    case JSON_STRING:
        return sb_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
        return sb_put(b, num, strlen(num));
    case JSON_REAL:
        return sb_real(b, json_real_value(v));
    case JSON_TRUE:
        return sb_put(b, "true", 4);
    case JSON_FALSE:
        return sb_put(b, "false", 5);
    default:
        return sb_put(b, "null", 4);
    }
}

/* Adds "key":value to the object being written in b (opened with "{" by the caller). */
static int
sb_member(sbuf *b, const char *k, size_t kl, const json_t *jv, const char *text, size_t tl)
{
    int rc = sb_put(b, b->n > 1 ? "," : "", b->n > 1 ? 1 : 0);
    if (rc == 0)
        rc = sb_string(b, k, kl);
    if (rc == 0)
        rc = sb_put(b, ":", 1);
    if (rc == 0)
        rc = jv ? sb_value(b, jv) : sb_string(b, text, tl);
    return rc;
}

static int
is_attrs_key(const char *k, size_t n)
{
    return n == 5 && memcmp(k, "attrs", 5) == 0;
}

/* --- csv ----------------------------------------------------------------------------- */

/* The kept (unmapped) columns of a CSV: names copied from the header. */
typedef struct csv_keep {
    size_t n;          /* columns */
    unsigned char *on; /* per column: kept in attrs */
    char **name;       /* per kept column: its header name, NUL-terminated */
    size_t *len;
    size_t attrs_col; /* the kept column named "attrs", or SIZE_MAX */
} csv_keep;

static void
keep_fini(csv_keep *k)
{
    for (size_t i = 0; k->name && i < k->n; i++)
        free(k->name[i]);
    free(k->name);
    free(k->len);
    free(k->on);
}

/* Chooses the columns no field maps (the first of equal names) unless the map drops them. */
static int
keep_init(csv_keep *k, const csv_reader *r, const size_t *idx, const ep_colmap *map)
{
    memset(k, 0, sizeof *k);
    k->attrs_col = SIZE_MAX;
    k->n = r->nfields;
    k->on = calloc(k->n, 1);
    k->name = calloc(k->n, sizeof *k->name);
    k->len = calloc(k->n, sizeof *k->len);
    if (!k->on || !k->name || !k->len)
        return EP_ENOMEM;
    if (map->drop_attrs)
        return 0;
    for (size_t i = 0; i < k->n; i++) {
        const csv_field *c = &r->fields[i];
        int mapped = 0, dup = 0;
        for (int f = 0; f < EP_FIELD_COUNT_; f++)
            mapped |= idx[f] == i;
        for (size_t j = 0; j < i && !dup; j++)
            dup = k->on[j] && k->len[j] == c->len && memcmp(k->name[j], c->p, c->len) == 0;
        if (mapped || dup)
            continue;
        if (!(k->name[i] = malloc(c->len + 1)))
            return EP_ENOMEM;
        memcpy(k->name[i], c->p, c->len);
        k->name[i][c->len] = '\0';
        k->len[i] = c->len;
        k->on[i] = 1;
        if (k->attrs_col == SIZE_MAX && is_attrs_key(c->p, c->len))
            k->attrs_col = i;
    }
    return 0;
}

/* Whether a kept column other than the attrs column is called key. */
static int
keep_has(const csv_keep *k, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < k->n; i++)
        if (k->on[i] && i != k->attrs_col && k->len[i] == n && memcmp(k->name[i], key, n) == 0)
            return 1;
    return 0;
}

/* Writes the row's kept cells into b as a JSON object; *out is NULL when none is filled. */
static int
csv_attrs(const csv_keep *k, const csv_reader *r, sbuf *b, const char **out)
{
    *out = NULL;
    b->n = 0;
    int rc = sb_put(b, "{", 1);
    for (size_t i = 0; rc == 0 && i < k->n; i++) {
        const csv_field *c = &r->fields[i];
        if (!k->on[i] || c->len == 0)
            continue;
        json_t *obj = NULL;
        if (i == k->attrs_col)
            obj = json_loadb(c->p, c->len, JSON_REJECT_DUPLICATES, NULL);
        if (obj && json_is_object(obj)) {
            const char *key;
            json_t *v;
            json_object_foreach(obj, key, v)
            {
                if (rc == 0 && !keep_has(k, key))
                    rc = sb_member(b, key, strlen(key), v, NULL, 0);
            }
        } else {
            rc = sb_member(b, k->name[i], k->len[i], NULL, c->p, c->len);
        }
        json_decref(obj);
    }
    if (rc == 0 && b->n > 1) {
        rc = sb_put(b, "}", 1);
        *out = b->p;
    }
    return rc;
}

int
trace_parse_csv_map(const char *buf, size_t len, const ep_parse_opts *opts, ep_row_sink_fn sink,
                    ep_parse_error *err, ep_parse_stats *stats)
{
    const ep_colmap *map = opts->map;
    size_t idx[EP_FIELD_COUNT_]; /* header index of each mapped field */
    row_text txt;
    csv_keep keep;
    sbuf ab = {NULL, 0, 0};
    memset(&keep, 0, sizeof keep);
    csv_reader r;
    csv_init(&r, buf, len);
    int rc = csv_next(&r, err);
    if (rc == 0)
        rc = trace_fail(err, 1, 0, "missing header");
    if (rc < 0)
        goto done;
    for (int f = 0; f < EP_FIELD_COUNT_; f++) {
        idx[f] = SIZE_MAX;
        if (!map->column[f][0])
            continue;
        for (size_t i = 0; i < r.nfields; i++) {
            if (!csv_field_eq(&r.fields[i], map->column[f]))
                continue;
            if (idx[f] != SIZE_MAX) {
                rc = trace_fail(err, r.line, (long)i + 1, "duplicate column \"%s\" in header",
                                map->column[f]);
                goto done;
            }
            idx[f] = i;
        }
        if (idx[f] == SIZE_MAX) {
            rc = trace_fail(err, r.line, 0, "missing column \"%s\" (mapped to %s) in header",
                            map->column[f], trace_field_name(f));
            goto done;
        }
    }
    if ((rc = keep_init(&keep, &r, idx, map)) != 0)
        goto done;
    const size_t ncols = r.nfields;
    while ((rc = csv_next(&r, err)) == 1) {
        if (r.nfields != ncols) {
            rc = trace_fail(err, r.line, 0, "expected %zu columns, found %zu", ncols, r.nfields);
            break;
        }
        ep_trace_row row;
        ep_trace_row_clear(&row);
        for (int f = 0; f < EP_FIELD_COUNT_ && rc == 1; f++) {
            if (idx[f] == SIZE_MAX)
                continue;
            const csv_field *c = &r.fields[idx[f]];
            if (set_field(&row, &txt, map, f, c->p, c->len, r.line, (long)idx[f] + 1, err))
                rc = EP_EPARSE;
        }
        if (rc != 1)
            break;
        if ((rc = csv_attrs(&keep, &r, &ab, &row.attrs)) != 0)
            break;
        stats->rows++;
        rc = sink(opts->ctx, &row, r.line);
        if (rc)
            break;
    }
done:
    stats->lines = err->line > 0 ? err->line : r.lines;
    csv_fini(&r);
    keep_fini(&keep);
    free(ab.p);
    return rc;
}

/* --- jsonl --------------------------------------------------------------------------- */

static const char *
type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* Converts the value of mapped key f; numbers go through their decimal text so that one
 * set of rules (and messages) serves CSV cells, JSON numbers and numeric strings. */
static int
json_field(ep_trace_row *row, row_text *txt, const ep_colmap *map, int f, const json_t *v,
           long line, ep_parse_error *err)
{
    const char *name = map->column[f];
    int want_string = f == EP_FIELD_KIND || f == EP_FIELD_SERVICE ||
                      (f == EP_FIELD_TIME && map->unit[f] == EP_UNIT_DATETIME);
    char num[40];
    if (json_is_string(v))
        return set_field(row, txt, map, f, json_string_value(v), json_string_length(v), line, 0,
                         err);
    if (json_is_null(v) && f != EP_FIELD_TIME)
        return set_field(row, txt, map, f, "", 0, line, 0, err); /* unknown, or the default */
    if (want_string || !json_is_number(v))
        return trace_fail(err, line, 0, "%s: expected %s, found %s", name,
                          want_string ? (f == EP_FIELD_TIME ? "a datetime string" : "a string")
                                      : "a number or numeric string",
                          type_name(v));
    if (json_is_integer(v))
        snprintf(num, sizeof num, "%lld", (long long)json_integer_value(v));
    else
        snprintf(num, sizeof num, "%.17g", json_real_value(v));
    return set_field(row, txt, map, f, num, strlen(num), line, 0, err);
}

static int
mapped_key(const ep_colmap *map, const char *k)
{
    for (int f = 0; f < EP_FIELD_COUNT_; f++)
        if (map->column[f][0] && strcmp(map->column[f], k) == 0)
            return 1;
    return 0;
}

/* Writes the object's unmapped keys into b as a JSON object, in the object's order; an
 * unmapped "attrs" object is merged (its members yield to top-level keys of the same name).
 * *out is NULL when nothing is kept. */
static int
json_attrs(const ep_colmap *map, json_t *obj, sbuf *b, const char **out)
{
    *out = NULL;
    if (map->drop_attrs)
        return 0;
    b->n = 0;
    int rc = sb_put(b, "{", 1);
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        if (rc || mapped_key(map, k))
            continue;
        size_t kl = strlen(k);
        if (is_attrs_key(k, kl) && json_is_object(v)) {
            const char *mk;
            json_t *mv;
            json_object_foreach(v, mk, mv)
            {
                json_t *top = json_object_get(obj, mk);
                if (rc == 0 && !(top && !mapped_key(map, mk) && !is_attrs_key(mk, strlen(mk))))
                    rc = sb_member(b, mk, strlen(mk), mv, NULL, 0);
            }
        } else {
            rc = sb_member(b, k, kl, v, NULL, 0);
        }
    }
    if (rc == 0 && b->n > 1) {
        rc = sb_put(b, "}", 1);
        *out = b->p;
    }
    return rc;
}

/* Parses one non-blank line s[0..n) as an object and hands its row to the sink. */
static int
json_line(const char *s, size_t n, long line, const ep_parse_opts *opts, ep_row_sink_fn sink,
          sbuf *ab, ep_parse_error *err, ep_parse_stats *stats)
{
    const ep_colmap *map = opts->map;
    json_error_t jerr;
    json_t *obj = json_loadb(s, n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (!obj)
        return trace_fail(err, line, jerr.column > 0 ? jerr.column : 0, "invalid JSON: %s",
                          jerr.text);
    int rc = 0;
    if (!json_is_object(obj)) {
        rc = trace_fail(err, line, 0, "expected a JSON object, found %s", type_name(obj));
        goto done;
    }
    ep_trace_row row;
    row_text txt;
    ep_trace_row_clear(&row);
    for (int f = 0; f < EP_FIELD_COUNT_ && rc == 0; f++) {
        if (!map->column[f][0])
            continue;
        const json_t *v = json_object_get(obj, map->column[f]);
        if (v)
            rc = json_field(&row, &txt, map, f, v, line, err);
        else if (f == EP_FIELD_TIME)
            rc = trace_fail(err, line, 0, "missing time key \"%s\"", map->column[f]);
        else if (map->has_default[f])
            rc = set_field(&row, &txt, map, f, "", 0, line, 0, err);
        else
            rc = trace_fail(err, line, 0,
                            "missing key \"%s\" (mapped to %s; map it as %s=%s?DEFAULT to "
                            "allow rows without it)",
                            map->column[f], trace_field_name(f), trace_field_name(f),
                            map->column[f]);
    }
    if (rc == 0)
        rc = json_attrs(map, obj, ab, &row.attrs);
    if (rc)
        goto done;
    stats->rows++;
    rc = sink(opts->ctx, &row, line);
done:
    json_decref(obj);
    return rc;
}

static int
blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return 0;
    return 1;
}

int
trace_parse_jsonl(const char *buf, size_t len, const ep_parse_opts *opts, ep_row_sink_fn sink,
                  ep_parse_error *err, ep_parse_stats *stats)
{
    const char *p = buf, *end = buf + len;
    long line = 0, objects = 0;
    sbuf ab = {NULL, 0, 0};
    int rc = 0;
    while (p < end && rc == 0) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *e = nl ? nl : end;
        line++;
        size_t n = (size_t)(e - p);
        if (n > 0 && p[n - 1] == '\r')
            n--;
        const char *cr = memchr(p, '\r', n);
        if (cr) {
            rc = trace_fail(err, line, (long)(cr - p) + 1, "stray carriage return");
        } else if (trace_utf8_check(p, n) != n) {
            rc = trace_fail(err, line, (long)trace_utf8_check(p, n) + 1, "invalid UTF-8");
        } else if (memchr(p, '\0', n)) {
            rc = trace_fail(err, line, 0, "NUL byte in line");
        } else if (!blank(p, n)) {
            objects++;
            rc = json_line(p, n, line, opts, sink, &ab, err, stats);
        }
        p = nl ? nl + 1 : end;
    }
    free(ab.p);
    if (rc == 0 && objects == 0)
        rc = trace_fail(err, 1, 0, "empty file");
    stats->lines = err->line > 0 ? err->line : line;
    return rc;
}
