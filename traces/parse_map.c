/* Generic parsers driven by an ep_colmap: CSV with a header row (columns found by name) and
 * JSON Lines (keys looked up in each object, through jansson). Times and durations given as
 * decimal text are converted to ns exactly; numeric cells may be left empty (absent) except
 * the time. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "epara/error.h"
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
    if (n == 0 && f != EP_FIELD_TIME)
        return 0;
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

/* --- csv ----------------------------------------------------------------------------- */

int
trace_parse_csv_map(const char *buf, size_t len, const ep_parse_opts *opts, ep_row_sink_fn sink,
                    ep_parse_error *err, ep_parse_stats *stats)
{
    const ep_colmap *map = opts->map;
    size_t idx[EP_FIELD_COUNT_]; /* header index of each mapped field */
    row_text txt;
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
        stats->rows++;
        rc = sink(opts->ctx, &row, r.line);
        if (rc)
            break;
    }
done:
    stats->lines = err->line > 0 ? err->line : r.lines;
    csv_fini(&r);
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
        return 0;
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

/* Parses one non-blank line s[0..n) as an object and hands its row to the sink. */
static int
json_line(const char *s, size_t n, long line, const ep_parse_opts *opts, ep_row_sink_fn sink,
          ep_parse_error *err, ep_parse_stats *stats)
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
    }
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
            rc = json_line(p, n, line, opts, sink, err, stats);
        }
        p = nl ? nl + 1 : end;
    }
    if (rc == 0 && objects == 0)
        rc = trace_fail(err, 1, 0, "empty file");
    stats->lines = err->line > 0 ? err->line : line;
    return rc;
}
