/* Trace parsing front door: ep_trace_parse dispatch, format / expand-rule / column-map name
 * parsing, and the validation helpers every format shares (UTF-8, exact decimal numbers with
 * overflow checks, limits, messages). Pure: bytes in, rows out, no I/O. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "csv.h"
#include "epara/core/error.h"
#include "epara/traces/trace.h"
#include "parse_internal.h"

/* --- rows and names ------------------------------------------------------------------ */

void
ep_trace_row_clear(ep_trace_row *row)
{
    row->arrival = 0;
    row->input = EP_TRACE_NONE;
    row->output = EP_TRACE_NONE;
    row->stream = EP_TRACE_NONE;
    row->frame = EP_TRACE_NONE;
    row->exec = EP_TRACE_NONE;
    row->kind = NULL;
    row->attrs = NULL;
    row->service = NULL;
}

static const char *const format_names[EP_FMT_COUNT_] = {[EP_FMT_AZURE_LLM] = "azure-llm",
                                                        [EP_FMT_ALIBABA_GENTD] = "alibaba-gentd",
                                                        [EP_FMT_AZURE_FUNCTIONS] =
                                                                "azure-functions",
                                                        [EP_FMT_CSV] = "csv",
                                                        [EP_FMT_JSONL] = "jsonl"};

int
ep_trace_format_parse(const char *name, ep_trace_format *out)
{
    if (!name)
        return EP_EINVAL;
    for (int i = 0; i < EP_FMT_COUNT_; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *out = (ep_trace_format)i;
            return 0;
        }
    }
    return EP_EINVAL;
}

const char *
ep_trace_format_name(ep_trace_format fmt)
{
    if ((int)fmt < 0 || fmt >= EP_FMT_COUNT_)
        return "unknown";
    return format_names[fmt];
}

int
ep_expand_rule_parse(const char *name, ep_expand_rule *out)
{
    static const char *const names[] = {"uniform", "even", "poisson"};
    static const ep_expand_rule rules[] = {EP_EXPAND_UNIFORM, EP_EXPAND_EVEN, EP_EXPAND_POISSON};
    if (!name)
        return EP_EINVAL;
    for (size_t i = 0; i < EP_ARRAY_LEN(names); i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = rules[i];
            return 0;
        }
    }
    return EP_EINVAL;
}

/* --- column maps --------------------------------------------------------------------- */

static const char *const field_names[EP_FIELD_COUNT_] = {
        [EP_FIELD_TIME] = "time",     [EP_FIELD_INPUT] = "input",    [EP_FIELD_OUTPUT] = "output",
        [EP_FIELD_STREAM] = "stream", [EP_FIELD_FRAME] = "frame",    [EP_FIELD_EXEC] = "exec",
        [EP_FIELD_KIND] = "kind",     [EP_FIELD_SERVICE] = "service"};

const char *
trace_field_name(int field)
{
    return field >= 0 && field < EP_FIELD_COUNT_ ? field_names[field] : "?";
}

static int
unit_parse(const char *s, size_t n, ep_time_unit *out)
{
    static const char *const names[] = {"datetime", "s", "ms", "us", "ns"};
    static const ep_time_unit units[] = {EP_UNIT_DATETIME, EP_UNIT_S, EP_UNIT_MS, EP_UNIT_US,
                                         EP_UNIT_NS};
    for (size_t i = 0; i < EP_ARRAY_LEN(names); i++) {
        if (strlen(names[i]) == n && memcmp(s, names[i], n) == 0) {
            *out = units[i];
            return 0;
        }
    }
    return EP_EINVAL;
}

static int EP_PRINTF(3, 4) colmap_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return EP_EINVAL;
}

/* Checks that DEFAULT text d[0..n) is a valid value of field f under map m (unit). */
static int
default_check(const ep_colmap *m, int f, const char *d, size_t n, char *err, size_t errlen)
{
    ep_parse_error pe;
    int64_t v;
    char buf[EP_TRACE_MAX_TEXT + 1];
    int rc = 0;
    if (n == 0)
        return 0;
    switch (f) {
    case EP_FIELD_INPUT:
    case EP_FIELD_OUTPUT:
        rc = trace_field_int(d, n, EP_TRACE_MAX_SIZE, "default", 0, 0, &pe, &v);
        break;
    case EP_FIELD_STREAM:
    case EP_FIELD_FRAME:
        rc = trace_field_int(d, n, INT64_MAX, "default", 0, 0, &pe, &v);
        break;
    case EP_FIELD_EXEC:
        rc = trace_field_dur(d, n, m->unit[f], "default", 0, 0, &pe, &v);
        break;
    default:
        rc = trace_field_text(d, n, "default", 0, 0, &pe, buf);
        break;
    }
    return rc ? colmap_fail(err, errlen, "%s %s", field_names[f], pe.msg) : 0;
}

/* "attrs=all|none", value s[0..n). */
static int
attrs_item(const char *s, size_t n, ep_colmap *m, int *seen, char *err, size_t errlen)
{
    char snip[64];
    if (*seen)
        return colmap_fail(err, errlen, "field attrs mapped twice");
    *seen = 1;
    if (n == 3 && memcmp(s, "all", 3) == 0) {
        m->drop_attrs = 0;
        return 0;
    }
    if (n == 4 && memcmp(s, "none", 4) == 0) {
        m->drop_attrs = 1;
        return 0;
    }
    trace_snippet(s, n, snip, sizeof snip);
    return colmap_fail(err, errlen,
                       "attrs=%s: expected all (keep unmapped fields, the default) or none", snip);
}

/* One "field=COLUMN[:unit][?DEFAULT]" item, s[0..n). */
static int
colmap_item(const char *s, size_t n, ep_colmap *m, int *attrs_seen, char *err, size_t errlen)
{
    char snip[64];
    const char *eq = memchr(s, '=', n);
    if (!eq) {
        trace_snippet(s, n, snip, sizeof snip);
        return colmap_fail(err, errlen, "expected field=COLUMN, found %s", snip);
    }
    size_t fl = (size_t)(eq - s);
    if (fl == 5 && memcmp(s, "attrs", 5) == 0)
        return attrs_item(eq + 1, n - fl - 1, m, attrs_seen, err, errlen);
    int f = -1;
    for (int i = 0; i < EP_FIELD_COUNT_; i++)
        if (strlen(field_names[i]) == fl && memcmp(s, field_names[i], fl) == 0)
            f = i;
    if (f < 0) {
        trace_snippet(s, fl, snip, sizeof snip);
        return colmap_fail(err, errlen,
                           "unknown field %s (expected time, input, output, stream, frame, "
                           "exec, kind, service or attrs)",
                           snip);
    }
    if (m->column[f][0])
        return colmap_fail(err, errlen, "field %s mapped twice", field_names[f]);
    const char *col = eq + 1;
    size_t cl = n - fl - 1;
    /* "?DEFAULT" ends the item; the default may itself hold ':' or '?'. */
    const char *q = memchr(col, '?', cl);
    const char *dflt = NULL;
    size_t dl = 0;
    if (q) {
        if (f == EP_FIELD_TIME)
            return colmap_fail(err, errlen, "time takes no default: every row needs a time");
        dflt = q + 1;
        dl = cl - (size_t)(q - col) - 1;
        cl = (size_t)(q - col);
    }
    if (f == EP_FIELD_TIME || f == EP_FIELD_EXEC) {
        const char *colon = NULL;
        for (size_t i = 0; i < cl; i++)
            if (col[i] == ':')
                colon = col + i;
        if (colon) {
            size_t ul = cl - (size_t)(colon - col) - 1;
            ep_time_unit u;
            if (unit_parse(colon + 1, ul, &u) || (f == EP_FIELD_EXEC && u == EP_UNIT_DATETIME)) {
                trace_snippet(colon + 1, ul, snip, sizeof snip);
                return colmap_fail(err, errlen, "bad unit %s for %s (expected %ss, ms, us or ns)",
                                   snip, field_names[f], f == EP_FIELD_TIME ? "datetime, " : "");
            }
            m->unit[f] = u;
            cl = (size_t)(colon - col);
        }
    } else if (memchr(col, ':', cl)) {
        return colmap_fail(err, errlen, "a unit is allowed only for time and exec, not for %s",
                           field_names[f]);
    }
    if (cl == 0)
        return colmap_fail(err, errlen, "empty column name for %s", field_names[f]);
    if (cl >= EP_COLMAP_NAME_MAX)
        return colmap_fail(err, errlen, "column name for %s longer than %d bytes", field_names[f],
                           EP_COLMAP_NAME_MAX - 1);
    if (memchr(col, '\0', cl) || trace_utf8_check(col, cl) != cl)
        return colmap_fail(err, errlen, "column name for %s is not valid text", field_names[f]);
    if (dflt) {
        if (dl >= EP_COLMAP_NAME_MAX)
            return colmap_fail(err, errlen, "default for %s longer than %d bytes", field_names[f],
                               EP_COLMAP_NAME_MAX - 1);
        if (memchr(dflt, '\0', dl) || trace_utf8_check(dflt, dl) != dl)
            return colmap_fail(err, errlen, "default for %s is not valid text", field_names[f]);
        int rc = default_check(m, f, dflt, dl, err, errlen);
        if (rc)
            return rc;
        memcpy(m->dflt[f], dflt, dl);
        m->dflt[f][dl] = '\0';
        m->has_default[f] = 1;
    }
    memcpy(m->column[f], col, cl);
    m->column[f][cl] = '\0';
    return 0;
}

int
ep_colmap_parse(const char *spec, ep_colmap *out, char *err, size_t errlen)
{
    if (!spec || !out)
        return colmap_fail(err, errlen, "no column map given");
    ep_colmap m;
    memset(&m, 0, sizeof m);
    for (int i = 0; i < EP_FIELD_COUNT_; i++)
        m.unit[i] = EP_UNIT_S;
    int attrs_seen = 0;
    const char *p = spec;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0) {
            if (!comma && p == spec)
                break; /* empty spec: reported as missing time below */
            return colmap_fail(err, errlen, "empty item in column map");
        }
        int rc = colmap_item(p, n, &m, &attrs_seen, err, errlen);
        if (rc)
            return rc;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (!m.column[EP_FIELD_TIME][0])
        return colmap_fail(err, errlen, "time is required (e.g. time=COLUMN:datetime)");
    *out = m;
    return 0;
}

/* --- errors, text, numbers ----------------------------------------------------------- */

int
trace_fail(ep_parse_error *err, long line, long col, const char *fmt, ...)
{
    if (err) {
        err->line = line;
        err->col = col;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return EP_EPARSE;
}

void
trace_snippet(const char *s, size_t n, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* room for the widest escape, the closing quote, "..." and the NUL */
        if (o + 4 + 1 + 3 + 1 > cap) {
            /* do not cut a UTF-8 sequence in half */
            while (o > 1 && ((unsigned char)buf[o - 1] & 0xC0) == 0x80)
                o--;
            if (o > 1 && ((unsigned char)buf[o - 1] & 0xC0) == 0xC0)
                o--;
            memcpy(buf + o, "\"...", 5);
            return;
        }
        if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
            buf[o++] = '\\';
            if (c == '"' || c == '\\') {
                buf[o++] = (char)c;
            } else {
                buf[o++] = 'x';
                buf[o++] = hex[c >> 4];
                buf[o++] = hex[c & 15];
            }
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

size_t
trace_utf8_check(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & UINT64_C(0x8080808080808080))) {
                i += 8;
                continue;
            }
        }
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return i;
        }
        if (n - i <= need || p[i + 1] < lo || p[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if ((p[i + k] & 0xC0) != 0x80)
                return i;
        i += need + 1;
    }
    return n;
}

static int
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

int
trace_decimal(const char *s, size_t n, int shift, int64_t *out, int *inexact)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    const char *ip = s + i;
    while (i < n && is_digit(s[i]))
        i++;
    size_t ni = (size_t)(s + i - ip);
    const char *fp = s + i;
    size_t nf = 0;
    if (i < n && s[i] == '.') {
        fp = s + ++i;
        while (i < n && is_digit(s[i]))
            i++;
        nf = (size_t)(s + i - fp);
    }
    if (ni + nf == 0)
        return TRACE_NUM_SYNTAX;
    long e = 0;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        int eneg = 0;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            eneg = s[i++] == '-';
        size_t es = i;
        for (; i < n && is_digit(s[i]); i++)
            if (e < 1000000)
                e = e * 10 + (s[i] - '0'); /* saturates far beyond any int64 */
        if (i == es)
            return TRACE_NUM_SYNTAX;
        if (eneg)
            e = -e;
    }
    if (i != n)
        return TRACE_NUM_SYNTAX;
    if (neg)
        return TRACE_NUM_NEGATIVE;
    /* The digits D = int digits then fraction digits; value = D * 10^(e - nf + shift). The
     * first `whole` digits of D (padded with zeros) form the integer part. */
    long long total = (long long)(ni + nf);
    long long whole = (long long)ni + e + shift;
#define DIGIT(k) ((k) < (long long)ni ? ip[k] - '0' : fp[(k) - (long long)ni] - '0')
    uint64_t acc = 0;
    for (long long k = 0; k < whole && k < total; k++) {
        unsigned d = (unsigned)DIGIT(k);
        if (acc > ((uint64_t)INT64_MAX - d) / 10)
            return TRACE_NUM_RANGE;
        acc = acc * 10 + d;
    }
    for (long long k = total; acc != 0 && k < whole; k++) {
        if (acc > (uint64_t)INT64_MAX / 10)
            return TRACE_NUM_RANGE;
        acc *= 10;
    }
    int lost = 0;
    if (whole < total) {
        long long k = whole < 0 ? 0 : whole;
        int round_up = whole >= 0 && DIGIT(whole) >= 5;
        for (; k < total && !lost; k++)
            lost = DIGIT(k) != 0;
        if (round_up) {
            if (acc == (uint64_t)INT64_MAX)
                return TRACE_NUM_RANGE;
            acc++;
        }
    }
#undef DIGIT
    if (inexact)
        *inexact = lost;
    *out = (int64_t)acc;
    return TRACE_NUM_OK;
}

int
trace_field_int(const char *s, size_t n, int64_t max, const char *name, long line, long col,
                ep_parse_error *err, int64_t *out)
{
    char snip[48];
    /* Fast path: up to 18 plain digits cannot overflow int64. */
    if (n > 0 && n <= 18) {
        int64_t v = 0;
        size_t i = 0;
        for (; i < n && is_digit(s[i]); i++)
            v = v * 10 + (s[i] - '0');
        if (i == n) {
            if (v > max)
                goto range;
            *out = v;
            return 0;
        }
    }
    if (n == 0)
        return trace_fail(err, line, col, "%s: empty value", name);
    int64_t v;
    int inexact = 0;
    switch (trace_decimal(s, n, 0, &v, &inexact)) {
    case TRACE_NUM_OK:
        if (inexact) {
            trace_snippet(s, n, snip, sizeof snip);
            return trace_fail(err, line, col, "%s: expected an integral value, found %s", name,
                              snip);
        }
        if (v > max)
            goto range;
        *out = v;
        return 0;
    case TRACE_NUM_NEGATIVE:
        trace_snippet(s, n, snip, sizeof snip);
        return trace_fail(err, line, col, "%s: negative value %s", name, snip);
    case TRACE_NUM_RANGE:
        goto range;
    default:
        trace_snippet(s, n, snip, sizeof snip);
        return trace_fail(err, line, col, "%s: expected a non-negative integer, found %s", name,
                          snip);
    }
range:
    trace_snippet(s, n, snip, sizeof snip);
    return trace_fail(err, line, col, "%s: value %s exceeds the limit %lld", name, snip,
                      (long long)max);
}

static int
unit_shift(ep_time_unit unit)
{
    switch (unit) {
    case EP_UNIT_S:
        return 9;
    case EP_UNIT_MS:
        return 6;
    case EP_UNIT_US:
        return 3;
    default:
        return 0;
    }
}

int
trace_field_time(const char *s, size_t n, ep_time_unit unit, const char *name, long line, long col,
                 ep_parse_error *err, ep_time *out)
{
    char snip[48];
    if (n == 0)
        return trace_fail(err, line, col, "%s: empty time", name);
    if (unit == EP_UNIT_DATETIME) {
        if (ep_time_parse_datetime(s, n, out) == 0)
            return 0;
        trace_snippet(s, n, snip, sizeof snip);
        return trace_fail(err, line, col,
                          "%s: invalid datetime %s (expected YYYY-MM-DD HH:MM:SS[.fffffffff])",
                          name, snip);
    }
    int64_t v;
    int rc = trace_decimal(s, n, unit_shift(unit), &v, NULL);
    if (rc == TRACE_NUM_OK) {
        *out = v;
        return 0;
    }
    trace_snippet(s, n, snip, sizeof snip);
    if (rc == TRACE_NUM_NEGATIVE)
        return trace_fail(err, line, col, "%s: negative time %s", name, snip);
    if (rc == TRACE_NUM_RANGE)
        return trace_fail(err, line, col, "%s: time %s overflows int64 nanoseconds", name, snip);
    return trace_fail(err, line, col, "%s: expected a number, found %s", name, snip);
}

int
trace_field_dur(const char *s, size_t n, ep_time_unit unit, const char *name, long line, long col,
                ep_parse_error *err, ep_dur *out)
{
    char snip[48];
    if (n == 0)
        return trace_fail(err, line, col, "%s: empty duration", name);
    int64_t v;
    int rc = trace_decimal(s, n, unit_shift(unit), &v, NULL);
    if (rc == TRACE_NUM_OK && v <= EP_TRACE_MAX_EXEC) {
        *out = v;
        return 0;
    }
    trace_snippet(s, n, snip, sizeof snip);
    if (rc == TRACE_NUM_NEGATIVE)
        return trace_fail(err, line, col, "%s: negative duration %s", name, snip);
    if (rc == TRACE_NUM_SYNTAX)
        return trace_fail(err, line, col, "%s: expected a number, found %s", name, snip);
    return trace_fail(err, line, col, "%s: duration %s exceeds the limit of 7 days", name, snip);
}

int
trace_field_text(const char *s, size_t n, const char *name, long line, long col,
                 ep_parse_error *err, char *buf)
{
    if (n > EP_TRACE_MAX_TEXT)
        return trace_fail(err, line, col, "%s: text longer than %d bytes", name, EP_TRACE_MAX_TEXT);
    memcpy(buf, s, n);
    buf[n] = '\0';
    return 0;
}

size_t
trace_json_string(char *dst, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char *d = dst;
    *d++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *d++ = '\\';
            *d++ = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(d, "\\u00", 4);
            d[4] = hex[c >> 4];
            d[5] = hex[c & 15];
            d += 6;
        } else {
            *d++ = (char)c;
        }
    }
    *d++ = '"';
    *d = '\0';
    return (size_t)(d - dst);
}

/* --- fixed headers ------------------------------------------------------------------- */

int
trace_fixed_header(csv_reader *r, const char *const *names, size_t n, ep_parse_error *err)
{
    char expected[512], found[80];
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(expected + o, sizeof expected - o, "%s%s", i ? "," : "", names[i]);
    int rc = csv_next(r, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return trace_fail(err, 1, 0, "missing header: expected \"%s\"", expected);
    int ok = r->nfields == n;
    for (size_t i = 0; ok && i < n; i++)
        ok = csv_field_eq(&r->fields[i], names[i]);
    if (ok)
        return 0;
    /* A first line starting with a timestamp is data: the header was left out. */
    ep_time t;
    if (ep_time_parse_datetime(r->fields[0].p, r->fields[0].len, &t) == 0)
        return trace_fail(err, r->line, 0, "missing header: expected \"%s\", found a data row",
                          expected);
    /* Show the line as found (fields joined), truncated. */
    char line[64];
    size_t lo = 0;
    for (size_t i = 0; i < r->nfields && lo < sizeof line - 1; i++) {
        if (i)
            line[lo++] = ',';
        size_t k = r->fields[i].len;
        if (k > sizeof line - 1 - lo)
            k = sizeof line - 1 - lo;
        memcpy(line + lo, r->fields[i].p, k);
        lo += k;
    }
    trace_snippet(line, lo, found, sizeof found);
    return trace_fail(err, r->line, 0, "wrong header: expected \"%s\", found %s", expected, found);
}

/* --- dispatch ------------------------------------------------------------------------ */

int
ep_trace_parse(const char *buf, size_t len, const ep_parse_opts *opts, ep_row_sink_fn sink,
               ep_parse_error *err, ep_parse_stats *stats)
{
    ep_parse_error local_err;
    ep_parse_stats local_stats;
    if (!err)
        err = &local_err;
    if (!stats)
        stats = &local_stats;
    memset(err, 0, sizeof *err);
    memset(stats, 0, sizeof *stats);
    if (!opts || !sink || (!buf && len > 0) || (int)opts->format < 0 ||
        opts->format >= EP_FMT_COUNT_)
        return EP_EINVAL;
    if (opts->format == EP_FMT_AZURE_FUNCTIONS &&
        (opts->expand != EP_EXPAND_UNIFORM && opts->expand != EP_EXPAND_EVEN &&
         opts->expand != EP_EXPAND_POISSON))
        return EP_EINVAL;
    if ((opts->format == EP_FMT_CSV || opts->format == EP_FMT_JSONL) &&
        (!opts->map || !opts->map->column[EP_FIELD_TIME][0]))
        return EP_EINVAL;
    /* A UTF-8 byte order mark is not part of the first header name. */
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0) {
        buf += 3;
        len -= 3;
    }
    if (len == 0)
        return trace_fail(err, 1, 0, "empty file");
    switch (opts->format) {
    case EP_FMT_AZURE_LLM:
        return trace_parse_azure_llm(buf, len, opts, sink, err, stats);
    case EP_FMT_ALIBABA_GENTD:
        return trace_parse_gentd(buf, len, opts, sink, err, stats);
    case EP_FMT_AZURE_FUNCTIONS:
        return trace_parse_azure_functions(buf, len, opts, sink, err, stats);
    case EP_FMT_CSV:
        return trace_parse_csv_map(buf, len, opts, sink, err, stats);
    default:
        return trace_parse_jsonl(buf, len, opts, sink, err, stats);
    }
}
