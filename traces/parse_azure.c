/* Azure public dataset parsers: the LLM inference trace 2023 (one request a row, 100 ns
 * timestamps kept exactly) and the Functions 2019 per-minute invocation counts, expanded into
 * arrivals by a seeded rule; each function's arrivals depend only on the seed, its 0-based
 * row index and its counts, and come out in time order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "epara/core/error.h"
#include "epara/core/rng.h"
#include "parse_internal.h"

#define NS_PER_MIN (60 * EP_NS_PER_S)
/* More minute columns than this (19 years) would be a broken file, and keeps
 * minutes * NS_PER_MIN far from overflow. */
#define MAX_MINUTES INT64_C(10000000)

/* --- azure-llm ----------------------------------------------------------------------- */

static const char *const llm_header[] = {"TIMESTAMP", "ContextTokens", "GeneratedTokens"};

int
trace_parse_azure_llm(const char *buf, size_t len, const ep_parse_opts *opts, ep_row_sink_fn sink,
                      ep_parse_error *err, ep_parse_stats *stats)
{
    csv_reader r;
    csv_init(&r, buf, len);
    int rc = trace_fixed_header(&r, llm_header, EP_ARRAY_LEN(llm_header), err);
    if (rc)
        goto done;
    ep_trace_row row;
    ep_trace_row_clear(&row);
    while ((rc = csv_next(&r, err)) == 1) {
        const csv_field *f = r.fields;
        if (r.nfields != 3) {
            rc = trace_fail(err, r.line, 0, "expected 3 columns, found %zu", r.nfields);
            break;
        }
        if (ep_time_parse_datetime(f[0].p, f[0].len, &row.arrival) != 0) {
            rc = trace_field_time(f[0].p, f[0].len, EP_UNIT_DATETIME, llm_header[0], r.line, 1, err,
                                  &row.arrival);
            break;
        }
        rc = trace_field_int(f[1].p, f[1].len, EP_TRACE_MAX_SIZE, llm_header[1], r.line, 2, err,
                             &row.input);
        if (rc)
            break;
        rc = trace_field_int(f[2].p, f[2].len, EP_TRACE_MAX_SIZE, llm_header[2], r.line, 3, err,
                             &row.output);
        if (rc)
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

/* --- azure-functions ----------------------------------------------------------------- */

static const char *const fn_header[] = {"HashOwner", "HashApp", "HashFunction", "Trigger"};

static int
is_hash(const csv_field *f)
{
    if (f->len < 16)
        return 0;
    for (size_t i = 0; i < f->len; i++) {
        char c = f->p[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
            return 0;
    }
    return 1;
}

/* Checks the header row; sets *minutes to the number of minute columns. */
static int
fn_read_header(csv_reader *r, size_t *minutes, ep_parse_error *err)
{
    static const char expected[] = "HashOwner,HashApp,HashFunction,Trigger,1,2,...";
    int rc = csv_next(r, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return trace_fail(err, 1, 0, "missing header: expected \"%s\"", expected);
    int ok = r->nfields >= 5;
    for (size_t i = 0; ok && i < 4; i++)
        ok = csv_field_eq(&r->fields[i], fn_header[i]);
    if (!ok) {
        if (is_hash(&r->fields[0]))
            return trace_fail(err, r->line, 0, "missing header: expected \"%s\", found a data row",
                              expected);
        size_t i = 0;
        while (i < 4 && i < r->nfields && csv_field_eq(&r->fields[i], fn_header[i]))
            i++;
        if (i < 4 && i < r->nfields) {
            char found[64];
            trace_snippet(r->fields[i].p, r->fields[i].len, found, sizeof found);
            return trace_fail(err, r->line, (long)i + 1,
                              "wrong header: expected \"%s\", found %s in column %zu", expected,
                              found, i + 1);
        }
        return trace_fail(err, r->line, 0, "wrong header: expected \"%s\", found only %zu columns",
                          expected, r->nfields);
    }
    size_t n = r->nfields - 4;
    if ((int64_t)n > MAX_MINUTES)
        return trace_fail(err, r->line, 0, "wrong header: %zu minute columns, at most %lld", n,
                          (long long)MAX_MINUTES);
    for (size_t m = 1; m <= n; m++) {
        char want[24];
        snprintf(want, sizeof want, "%zu", m);
        const csv_field *f = &r->fields[3 + m];
        if (!csv_field_eq(f, want)) {
            char found[64];
            trace_snippet(f->p, f->len, found, sizeof found);
            return trace_fail(err, r->line, (long)(4 + m),
                              "wrong header: column %zu should be minute \"%s\", found %s", 4 + m,
                              want, found);
        }
    }
    *minutes = n;
    return 0;
}

/* Emits the arrivals of one function row, minute by minute, each minute in time order. */
static int
fn_emit(const int64_t *counts, size_t minutes, long fn_index, const ep_parse_opts *opts,
        ep_row_sink_fn sink, ep_trace_row *row, long line, ep_parse_stats *stats)
{
    ep_rng rng = {NULL};
    if (opts->expand != EP_EXPAND_EVEN) {
        uint64_t seed = ep_splitmix64(opts->seed ^ ep_splitmix64((uint64_t)fn_index));
        if (ep_rng_init(&rng, seed, EP_STREAM_EXPAND) != 0)
            return EP_ENOMEM;
    }
    int rc = 0;
    for (size_t m = 0; m < minutes && rc == 0; m++) {
        const int64_t c = counts[m];
        const ep_time base = (ep_time)m * NS_PER_MIN;
        if (opts->expand == EP_EXPAND_EVEN) {
            for (int64_t k = 0; k < c && rc == 0; k++) {
                row->arrival = base + (2 * k + 1) * NS_PER_MIN / (2 * c);
                stats->rows++;
                rc = sink(opts->ctx, row, line);
            }
        } else if (opts->expand == EP_EXPAND_UNIFORM) {
            /* The sorted minute of c uniform draws, generated directly in increasing order:
             * given the k smallest, the next is the minimum of the c - k others, uniform above
             * it, so log(1 - x) drops by log(V) / (c - k). No array, no sort. */
            double log_rest = 0.0;
            for (int64_t k = 0; k < c && rc == 0; k++) {
                log_rest += log(ep_rng_uniform_pos(&rng)) / (double)(c - k);
                double x = -expm1(log_rest);
                int64_t off = (int64_t)(x * (double)NS_PER_MIN);
                if (off >= NS_PER_MIN)
                    off = NS_PER_MIN - 1;
                row->arrival = base + (off < 0 ? 0 : off);
                stats->rows++;
                rc = sink(opts->ctx, row, line);
            }
        } else if (c > 0) {
            const double mean = (double)NS_PER_MIN / (double)c;
            double t = 0.0;
            for (;;) {
                t += ep_rng_exponential(&rng, mean);
                if (!(t < (double)NS_PER_MIN))
                    break;
                row->arrival = base + (int64_t)t;
                stats->rows++;
                rc = sink(opts->ctx, row, line);
                if (rc)
                    break;
            }
        }
    }
    ep_rng_fini(&rng);
    return rc;
}

int
trace_parse_azure_functions(const char *buf, size_t len, const ep_parse_opts *opts,
                            ep_row_sink_fn sink, ep_parse_error *err, ep_parse_stats *stats)
{
    char kind[EP_TRACE_MAX_TEXT + 1], text[3][EP_TRACE_MAX_TEXT + 1];
    char attrs[3 * TRACE_JSON_TEXT_MAX + 32];
    int64_t *counts = NULL;
    size_t minutes = 0;
    csv_reader r;
    csv_init(&r, buf, len);
    int rc = fn_read_header(&r, &minutes, err);
    if (rc)
        goto done;
    counts = malloc(minutes * sizeof *counts);
    if (!counts) {
        rc = EP_ENOMEM;
        goto done;
    }
    long fn_index = 0;
    while ((rc = csv_next(&r, err)) == 1) {
        const csv_field *f = r.fields;
        if (r.nfields != minutes + 4) {
            rc = trace_fail(err, r.line, 0, "expected %zu columns, found %zu", minutes + 4,
                            r.nfields);
            break;
        }
        rc = 0;
        for (size_t i = 0; i < 3 && rc == 0; i++)
            rc = trace_field_text(f[i].p, f[i].len, fn_header[i], r.line, (long)i + 1, err,
                                  text[i]);
        if (rc == 0)
            rc = trace_field_text(f[3].p, f[3].len, fn_header[3], r.line, 4, err, kind);
        for (size_t m = 0; m < minutes && rc == 0; m++) {
            const csv_field *c = &f[4 + m];
            long col = (long)(5 + m);
            /* Name the minute only when reporting: formatting it per cell would be slow. */
            if (trace_field_int(c->p, c->len, EP_TRACE_MAX_PER_MINUTE, "", r.line, col, NULL,
                                &counts[m]) != 0) {
                char name[32];
                snprintf(name, sizeof name, "minute %zu", m + 1);
                rc = trace_field_int(c->p, c->len, EP_TRACE_MAX_PER_MINUTE, name, r.line, col, err,
                                     &counts[m]);
            }
        }
        if (rc)
            break;
        size_t o = 0;
        o += (size_t)sprintf(attrs + o, "{\"owner\":");
        o += trace_json_string(attrs + o, text[0], f[0].len);
        o += (size_t)sprintf(attrs + o, ",\"app\":");
        o += trace_json_string(attrs + o, text[1], f[1].len);
        o += (size_t)sprintf(attrs + o, ",\"function\":");
        o += trace_json_string(attrs + o, text[2], f[2].len);
        sprintf(attrs + o, "}");
        ep_trace_row row;
        ep_trace_row_clear(&row);
        row.stream = fn_index;
        row.kind = f[3].len ? kind : NULL;
        row.attrs = attrs;
        rc = fn_emit(counts, minutes, fn_index, opts, sink, &row, r.line, stats);
        if (rc)
            break;
        fn_index++;
    }
done:
    stats->lines = err->line > 0 ? err->line : r.lines;
    free(counts);
    csv_fini(&r);
    return rc;
}
