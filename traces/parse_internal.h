/* Internal: what the trace parsers share (defined in parse.c): error reporting, UTF-8 and
 * exact number parsing with overflow checks, field converters that name the column in their
 * messages, JSON string escaping, and one entry point per format. */
#ifndef EPARA_TRACES_PARSE_INTERNAL_H
#define EPARA_TRACES_PARSE_INTERNAL_H

#include "epara/traces/trace.h"

/* Bytes of a JSON string literal for text of at most EP_TRACE_MAX_TEXT bytes. */
#define TRACE_JSON_TEXT_MAX (6 * EP_TRACE_MAX_TEXT + 3)

/* Fills err (line, col, printf message) and returns EP_EPARSE. err may be NULL. */
int trace_fail(ep_parse_error *err, long line, long col, const char *fmt, ...) EP_PRINTF(4, 5);

/* Offset of the first byte of s[0..n) that starts an invalid UTF-8 sequence (overlong,
 * surrogate, above U+10FFFF or truncated), or n when all of it is valid. */
size_t trace_utf8_check(const char *s, size_t n);

enum trace_num {
    TRACE_NUM_OK = 0,
    TRACE_NUM_SYNTAX = -1,   /* not [+|-]digits[.digits][e[+|-]digits] */
    TRACE_NUM_NEGATIVE = -2, /* well-formed but has a minus sign */
    TRACE_NUM_RANGE = -3     /* does not fit in int64 */
};

/* Exact value of the decimal text s[0..n) times 10^shift, rounded half up to an integer;
 * *inexact (may be NULL) is set when non-zero digits were rounded away. Returns a
 * trace_num code; *out is written only on TRACE_NUM_OK. */
int trace_decimal(const char *s, size_t n, int shift, int64_t *out, int *inexact);

/* "time", "input", ... for an enum ep_trace_field value. */
const char *trace_field_name(int field);

/* Writes s[0..n) as a quoted, truncated, escaped snippet for messages (cap >= 8). */
void trace_snippet(const char *s, size_t n, char *buf, size_t cap);

/* Field converters. `name` names the column in messages; line/col locate it. Each returns
 * 0 or EP_EPARSE with err filled, and writes *out only on success. */
/* Non-negative integer, plain ("42") or integral decimal ("42.0"), at most max. */
int trace_field_int(const char *s, size_t n, int64_t max, const char *name, long line, long col,
                    ep_parse_error *err, int64_t *out);
/* Instant: a datetime, or a non-negative number of the unit converted exactly to ns. */
int trace_field_time(const char *s, size_t n, ep_time_unit unit, const char *name, long line,
                     long col, ep_parse_error *err, ep_time *out);
/* Duration in a numeric unit, exactly to ns, in [0, EP_TRACE_MAX_EXEC]. */
int trace_field_dur(const char *s, size_t n, ep_time_unit unit, const char *name, long line,
                    long col, ep_parse_error *err, ep_dur *out);
/* Copies text of at most EP_TRACE_MAX_TEXT bytes into buf (EP_TRACE_MAX_TEXT + 1 bytes). */
int trace_field_text(const char *s, size_t n, const char *name, long line, long col,
                     ep_parse_error *err, char *buf);

/* Writes s[0..n) as a JSON string literal (quotes included, NUL-terminated) at dst, which
 * must hold 6 * n + 3 bytes; returns the length written. s must be valid UTF-8. */
size_t trace_json_string(char *dst, const char *s, size_t n);

struct csv_reader;
/* Reads the header row of a fixed-header CSV format and checks it is exactly names[0..n).
 * Returns 0, EP_EPARSE on line 1 ("missing header: ..." when the first line looks like data,
 * "wrong header: ..." otherwise) or EP_ENOMEM. */
int trace_fixed_header(struct csv_reader *r, const char *const *names, size_t n,
                       ep_parse_error *err);

/* Per-format parsers, called by ep_trace_parse with validated options, a non-NULL err and
 * stats zeroed, on non-empty input. Same contract as ep_trace_parse. */
int trace_parse_azure_llm(const char *buf, size_t len, const ep_parse_opts *opts,
                          ep_row_sink_fn sink, ep_parse_error *err, ep_parse_stats *stats);
int trace_parse_azure_functions(const char *buf, size_t len, const ep_parse_opts *opts,
                                ep_row_sink_fn sink, ep_parse_error *err, ep_parse_stats *stats);
int trace_parse_gentd(const char *buf, size_t len, const ep_parse_opts *opts, ep_row_sink_fn sink,
                      ep_parse_error *err, ep_parse_stats *stats);
int trace_parse_csv_map(const char *buf, size_t len, const ep_parse_opts *opts, ep_row_sink_fn sink,
                        ep_parse_error *err, ep_parse_stats *stats);
int trace_parse_jsonl(const char *buf, size_t len, const ep_parse_opts *opts, ep_row_sink_fn sink,
                      ep_parse_error *err, ep_parse_stats *stats);

#endif
