/* Trace statistics in one streaming pass: arrival rate, inter-arrival CV (Welford, so
 * huge traces lose no precision), busiest minute, stream count, exact size quantiles
 * (GSL, linear interpolation between order statistics), arrival quantization (distinct
 * times, tick) and the keys kept in attrs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>

#include "epara/core/error.h"
#include "epara/traces/store.h"

typedef struct vec {
    double *v;
    size_t n, cap;
} vec;

static int
vec_push(vec *a, double x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        double *nv = realloc(a->v, cap * sizeof *nv);
        if (!nv)
            return EP_ENOMEM;
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return 0;
}

static double
quantile(vec *a, double q)
{
    return a->n ? gsl_stats_quantile_from_sorted_data(a->v, 1, a->n, q) : NAN;
}

static void
summarize(vec *a, double *mean, double *p50, double *p90, double *p99, double *max)
{
    gsl_sort(a->v, 1, a->n);
    *mean = a->n ? gsl_stats_mean(a->v, 1, a->n) : NAN;
    *p50 = quantile(a, 0.50);
    if (p90)
        *p90 = quantile(a, 0.90);
    *p99 = quantile(a, 0.99);
    if (max)
        *max = a->n ? a->v[a->n - 1] : NAN;
}

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t
gcd_i64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void
count_key(ep_trace_stats *s, const char *k, size_t n)
{
    if (n >= sizeof s->attr_keys[0].name)
        n = sizeof s->attr_keys[0].name - 1;
    for (int i = 0; i < s->nattr_keys; i++) {
        if (strncmp(s->attr_keys[i].name, k, n) == 0 && s->attr_keys[i].name[n] == '\0') {
            s->attr_keys[i].rows++;
            return;
        }
    }
    if (s->nattr_keys == EP_TRACE_STATS_KEYS) {
        s->attr_keys_more = 1;
        return;
    }
    memcpy(s->attr_keys[s->nattr_keys].name, k, n);
    s->attr_keys[s->nattr_keys].name[n] = '\0';
    s->attr_keys[s->nattr_keys++].rows = 1;
}

/* Counts the top-level keys of the JSON object text a (as stored: written by the parsers).
 * A scan, not a parse: strings are skipped with their escapes, and a key is a string at
 * depth 1 right after '{' or ','. Stops quietly on malformed text. */
static void
count_attr_keys(ep_trace_stats *s, const char *a)
{
    int depth = 0, expect_key = 0;
    for (const char *p = a; *p;) {
        char c = *p;
        if (c == '"') {
            const char *q = p + 1;
            while (*q && *q != '"')
                q += q[0] == '\\' && q[1] ? 2 : 1;
            if (!*q)
                return;
            if (depth == 1 && expect_key)
                count_key(s, p + 1, (size_t)(q - p - 1));
            expect_key = 0;
            p = q + 1;
            continue;
        }
        if (c == '{' || c == '[')
            expect_key = ++depth == 1 && c == '{';
        else if (c == '}' || c == ']')
            depth--;
        else if (c == ',' && depth == 1)
            expect_key = 1;
        p++;
    }
}

int
ep_trace_stats_compute(ep_store *st, const char *name, ep_trace_stats *out)
{
    ep_trace_reader *r;
    int err = ep_trace_reader_open(st, name, 0, EP_TIME_MAX, &r);
    if (err)
        return err;
    ep_trace_stats s;
    memset(&s, 0, sizeof s);
    vec in = {0}, outv = {0}, ex = {0};
    int64_t *streams = NULL, *minutes = NULL;
    size_t nstreams = 0, capstreams = 0, nminutes = 0;
    double gap_mean = 0, gap_m2 = 0;
    int64_t ngaps = 0;
    ep_time first = 0, prev = 0;
    ep_trace_row row;
    int rc;
    while ((rc = ep_trace_reader_next(r, &row)) == 1) {
        if (s.requests == 0 || row.arrival != prev)
            s.distinct_arrivals++;
        if (row.attrs) {
            s.with_attrs++;
            count_attr_keys(&s, row.attrs);
        }
        if (s.requests == 0) {
            first = row.arrival;
        } else {
            s.tick = gcd_i64(s.tick, row.arrival - first);
            double gap = (double)(row.arrival - prev) / 1e9;
            ngaps++;
            double d = gap - gap_mean;
            gap_mean += d / (double)ngaps;
            gap_m2 += d * (gap - gap_mean);
        }
        prev = row.arrival;
        s.requests++;
        /* Minutes past ~19 years of span are not binned (an absurdly long trace). */
        int64_t m = (row.arrival - first) / (60 * EP_NS_PER_S);
        if (m < 10000000) {
            if ((size_t)m >= nminutes) {
                size_t nm = (size_t)m + 1 > nminutes * 2 ? (size_t)m + 1 : nminutes * 2;
                int64_t *p = realloc(minutes, nm * sizeof *p);
                if (!p) {
                    err = EP_ENOMEM;
                    goto done;
                }
                memset(p + nminutes, 0, (nm - nminutes) * sizeof *p);
                minutes = p;
                nminutes = nm;
            }
            minutes[m]++;
        }
        if ((row.input != EP_TRACE_NONE && vec_push(&in, (double)row.input)) ||
            (row.output != EP_TRACE_NONE && vec_push(&outv, (double)row.output)) ||
            (row.exec != EP_TRACE_NONE && vec_push(&ex, (double)row.exec / 1e9))) {
            err = EP_ENOMEM;
            goto done;
        }
        if (row.stream != EP_TRACE_NONE) {
            if (nstreams == capstreams) {
                size_t c = capstreams ? capstreams * 2 : 1024;
                int64_t *p = realloc(streams, c * sizeof *p);
                if (!p) {
                    err = EP_ENOMEM;
                    goto done;
                }
                streams = p;
                capstreams = c;
            }
            streams[nstreams++] = row.stream;
        }
    }
    if (rc < 0) {
        err = rc;
        goto done;
    }
    s.span_s = (double)(prev - first) / 1e9;
    s.quantized = s.requests > s.distinct_arrivals &&
                  100 * (s.requests - s.distinct_arrivals) >= s.requests && s.tick >= EP_NS_PER_MS;
    s.rate_per_s = s.span_s > 0 ? (double)s.requests / s.span_s : NAN;
    s.interarrival_mean_s = ngaps ? gap_mean : NAN;
    s.interarrival_cv = ngaps > 1 && gap_mean > 0 ? sqrt(gap_m2 / (double)ngaps) / gap_mean : NAN;
    for (size_t i = 0; i < nminutes; i++)
        if (minutes[i] > s.max_per_minute)
            s.max_per_minute = minutes[i];
    {
        /* Mean over the minutes the trace covers, the last (partial) one included. */
        size_t covered = (size_t)((prev - first) / (60 * EP_NS_PER_S)) + 1;
        s.peak_to_mean_minute = (double)s.max_per_minute / ((double)s.requests / (double)covered);
    }
    if (nstreams) {
        qsort(streams, nstreams, sizeof *streams, cmp_i64);
        s.streams = 1;
        for (size_t i = 1; i < nstreams; i++)
            s.streams += streams[i] != streams[i - 1];
    }
    s.with_input = (int64_t)in.n;
    s.with_output = (int64_t)outv.n;
    s.with_exec = (int64_t)ex.n;
    summarize(&in, &s.input_mean, &s.input_p50, &s.input_p90, &s.input_p99, &s.input_max);
    summarize(&outv, &s.output_mean, &s.output_p50, &s.output_p90, &s.output_p99, &s.output_max);
    summarize(&ex, &s.exec_mean_s, &s.exec_p50_s, NULL, &s.exec_p99_s, NULL);
    *out = s;
done:
    ep_trace_reader_close(r);
    free(in.v);
    free(outv.v);
    free(ex.v);
    free(streams);
    free(minutes);
    return err;
}

int
ep_trace_load_sizes(ep_store *st, const char *name, int64_t **input, int64_t **output, size_t *n)
{
    ep_trace_meta m;
    int err = ep_trace_meta_get(st, name, &m);
    if (err)
        return err;
    ep_trace_reader *r;
    if ((err = ep_trace_reader_open(st, name, 0, EP_TIME_MAX, &r)) != 0)
        return err;
    size_t cap = (size_t)m.rows;
    int64_t *a = malloc((cap ? cap : 1) * sizeof *a), *b = malloc((cap ? cap : 1) * sizeof *b);
    size_t k = 0;
    ep_trace_row row;
    int rc = 0;
    if (!a || !b) {
        err = EP_ENOMEM;
        goto fail;
    }
    while (k < cap && (rc = ep_trace_reader_next(r, &row)) == 1) {
        a[k] = row.input;
        b[k] = row.output;
        k++;
    }
    if (rc < 0) {
        err = rc;
        goto fail;
    }
    ep_trace_reader_close(r);
    *input = a;
    *output = b;
    *n = k;
    return 0;
fail:
    ep_trace_reader_close(r);
    free(a);
    free(b);
    return err;
}
