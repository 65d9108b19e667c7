/* RFC-4180 CSV tokenizer over a memory buffer (see csv.h). Unquoted fields point straight
 * into the input; only quoted fields holding "" or CRLF are copied (into one scratch buffer
 * reused across rows), so steady-state reading allocates nothing. ASCII skips UTF-8 checks. */
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "epara/core/error.h"
#include "parse_internal.h"

enum { C_TEXT, C_COMMA, C_LF, C_CR, C_QUOTE, C_HIGH, C_NUL };

#define HIGH16                                                                              \
    C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH, \
            C_HIGH, C_HIGH, C_HIGH, C_HIGH, C_HIGH

static const unsigned char cls[256] = {
        [0] = C_NUL,    ['\n'] = C_LF, ['\r'] = C_CR, ['"'] = C_QUOTE, [','] = C_COMMA,
        [128] = HIGH16, HIGH16,        HIGH16,        HIGH16,          HIGH16,
        HIGH16,         HIGH16,        HIGH16,
};

void
csv_init(csv_reader *r, const char *buf, size_t len)
{
    memset(r, 0, sizeof *r);
    r->pos_ = buf;
    r->end_ = buf + len;
}

void
csv_fini(csv_reader *r)
{
    free(r->fields);
    free(r->off_);
    free(r->scratch_);
    r->fields = NULL;
    r->off_ = NULL;
    r->scratch_ = NULL;
}

int
csv_field_eq(const csv_field *f, const char *s)
{
    size_t n = strlen(s);
    return f->len == n && memcmp(f->p, s, n) == 0;
}

static int
grow_fields(csv_reader *r)
{
    size_t cap = r->cap_ ? r->cap_ * 2 : 16;
    csv_field *f = realloc(r->fields, cap * sizeof *f);
    if (!f)
        return EP_ENOMEM;
    r->fields = f;
    size_t *o = realloc(r->off_, cap * sizeof *o);
    if (!o)
        return EP_ENOMEM;
    r->off_ = o;
    r->cap_ = cap;
    return 0;
}

static int
reserve_scratch(csv_reader *r, size_t more)
{
    if (r->scratch_cap_ - r->scratch_len_ >= more)
        return 0;
    size_t cap = r->scratch_cap_ ? r->scratch_cap_ : 256;
    while (cap - r->scratch_len_ < more) {
        if (cap > SIZE_MAX / 2)
            return EP_ENOMEM;
        cap *= 2;
    }
    char *s = realloc(r->scratch_, cap);
    if (!s)
        return EP_ENOMEM;
    r->scratch_ = s;
    r->scratch_cap_ = cap;
    return 0;
}

/* Whether [p, end) holds only LF and CRLF line ends. */
static int
only_line_ends(const char *p, const char *end)
{
    while (p < end) {
        if (*p == '\n')
            p++;
        else if (*p == '\r' && p + 1 < end && p[1] == '\n')
            p += 2;
        else
            return 0;
    }
    return 1;
}

static long
count_lf(const char *p, const char *end)
{
    long n = 0;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/* Validates the UTF-8 of s[0..n), which starts on line `line`. */
static int
check_utf8(const char *s, size_t n, long line, size_t col, ep_parse_error *err)
{
    size_t bad = trace_utf8_check(s, n);
    if (bad == n)
        return 0;
    return trace_fail(err, line + count_lf(s, s + bad), (long)col, "invalid UTF-8 in field %zu",
                      col);
}

/* Copies the quoted content [q, t) into scratch, unescaping "" and turning CRLF into LF. */
static int
copy_quoted(csv_reader *r, const char *q, const char *t, size_t *off, size_t *len)
{
    int rc = reserve_scratch(r, (size_t)(t - q));
    if (rc)
        return rc;
    char *d = r->scratch_ + r->scratch_len_;
    char *d0 = d;
    while (q < t) {
        char c = *q++;
        if (c == '"' || (c == '\r' && *q == '\n'))
            c = *q++; /* the second quote of "", or the LF of CRLF */
        *d++ = c;
    }
    *off = r->scratch_len_ + 1;
    *len = (size_t)(d - d0);
    r->scratch_len_ += *len;
    return 0;
}

/* Reads a quoted field starting at the opening quote *pp; leaves *pp after the closing one. */
static int
quoted(csv_reader *r, const char **pp, long *line, size_t fi, ep_parse_error *err)
{
    const char *q = *pp + 1, *t = q, *end = r->end_;
    long start = *line;
    int copy = 0, high = 0;
    for (;;) {
        if (t >= end)
            return trace_fail(err, start, (long)fi + 1, "unterminated quoted field");
        unsigned char c = (unsigned char)*t;
        if (c == '"') {
            if (t + 1 < end && t[1] == '"') {
                copy = 1;
                t += 2;
                continue;
            }
            break;
        }
        switch (cls[c]) {
        case C_LF:
            (*line)++;
            break;
        case C_CR:
            if (t + 1 >= end || t[1] != '\n')
                return trace_fail(err, *line, (long)fi + 1, "stray carriage return");
            copy = 1;
            break;
        case C_NUL:
            return trace_fail(err, *line, (long)fi + 1, "NUL byte in field %zu", fi + 1);
        case C_HIGH:
            high = 1;
            break;
        default:
            break;
        }
        t++;
    }
    if (high) {
        int rc = check_utf8(q, (size_t)(t - q), start, fi + 1, err);
        if (rc)
            return rc;
    }
    csv_field *f = &r->fields[fi];
    if (copy) {
        int rc = copy_quoted(r, q, t, &r->off_[fi], &f->len);
        if (rc)
            return rc;
        f->p = NULL;
    } else {
        f->p = q;
        f->len = (size_t)(t - q);
    }
    *pp = t + 1;
    return 0;
}

int
csv_next(csv_reader *r, ep_parse_error *err)
{
    const char *p = r->pos_, *end = r->end_;
    if (p >= end)
        return 0;
    if ((*p == '\n' || *p == '\r') && only_line_ends(p, end)) {
        r->pos_ = end;
        return 0;
    }
    long line = r->lines + 1;
    r->line = line;
    r->nfields = 0;
    r->scratch_len_ = 0;
    int copied = 0;
    for (;;) {
        if (r->nfields == r->cap_) {
            int rc = grow_fields(r);
            if (rc)
                return rc;
        }
        size_t fi = r->nfields++;
        r->off_[fi] = 0;
        if (p < end && *p == '"') {
            int rc = quoted(r, &p, &line, fi, err);
            if (rc)
                return rc;
            copied |= r->off_[fi] != 0;
            if (p < end && *p != ',' && *p != '\n' && *p != '\r')
                return trace_fail(err, line, (long)fi + 1,
                                  "unexpected character after closing quote in field %zu", fi + 1);
        } else {
            const char *s = p;
            int high = 0;
            while (p < end) {
                unsigned k = cls[(unsigned char)*p];
                if (EP_LIKELY(k == C_TEXT)) {
                    p++;
                } else if (k == C_HIGH) {
                    high = 1;
                    p++;
                } else {
                    break;
                }
            }
            r->fields[fi].p = s;
            r->fields[fi].len = (size_t)(p - s);
            if (high) {
                int rc = check_utf8(s, (size_t)(p - s), line, fi + 1, err);
                if (rc)
                    return rc;
            }
        }
        if (p >= end)
            break;
        char c = *p++;
        if (c == ',')
            continue;
        if (c == '\n')
            break;
        if (c == '\r' && p < end && *p == '\n') {
            p++;
            break;
        }
        if (c == '\r')
            return trace_fail(err, line, (long)fi + 1, "stray carriage return");
        if (c == '"')
            return trace_fail(err, line, (long)fi + 1, "quote inside unquoted field %zu", fi + 1);
        return trace_fail(err, line, (long)fi + 1, "NUL byte in field %zu", fi + 1);
    }
    if (copied) {
        for (size_t i = 0; i < r->nfields; i++)
            if (r->off_[i])
                r->fields[i].p = r->scratch_ + r->off_[i] - 1;
    }
    r->pos_ = p;
    r->lines = line;
    return 1;
}
