/* libFuzzer target for the azure-functions parser, under every expansion rule: arrivals are
 * non-negative, per function in time order, functions in row order; uniform and even keep
 * the same total count; a second uniform run with the same seed repeats exactly. Errors sit
 * on a real 1-based line with a message. Aborts on any broken invariant. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/core/rng.h"
#include "epara/traces/trace.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* Inputs may ask for 10^7 arrivals per minute: stop the parse after this many. */
#define CAP  20000
#define STOP 1234

typedef struct seen {
    long rows, last_line;
    int64_t last_stream;
    ep_time last_t;
    uint64_t hash;
} seen;

static void
check(int ok)
{
    if (!ok)
        abort();
}

static int
sink(void *ctx, const ep_trace_row *row, long line)
{
    seen *s = ctx;
    check(line >= 2 && line >= s->last_line);
    check(row->stream >= 0 && row->stream >= s->last_stream);
    check(row->arrival >= 0);
    if (row->stream == s->last_stream) {
        check(line == s->last_line && row->arrival >= s->last_t);
    } else {
        check(line > s->last_line);
        json_t *a = json_loads(row->attrs, 0, NULL);
        check(a && json_is_object(a) && json_object_size(a) == 3);
        json_decref(a);
    }
    check(row->input == EP_TRACE_NONE && row->output == EP_TRACE_NONE);
    check(row->exec == EP_TRACE_NONE && row->frame == EP_TRACE_NONE && !row->service);
    check(!row->kind || (row->kind[0] && strlen(row->kind) <= EP_TRACE_MAX_TEXT));
    s->hash = ep_splitmix64(s->hash ^ (uint64_t)row->arrival) ^ (uint64_t)row->stream;
    s->rows++;
    s->last_line = line;
    s->last_stream = row->stream;
    s->last_t = row->arrival;
    return s->rows == CAP ? STOP : 0;
}

static int
run(const unsigned char *data, size_t size, ep_expand_rule rule, seen *s)
{
    long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_AZURE_FUNCTIONS;
    o.expand = rule;
    o.seed = 7;
    memset(s, 0, sizeof *s);
    s->last_stream = -1;
    o.ctx = s;
    ep_parse_error err;
    ep_parse_stats st;
    int rc = ep_trace_parse((const char *)data, size, &o, sink, &err, &st);
    check(rc == 0 || rc == EP_EPARSE || rc == STOP);
    check(st.rows == s->rows && st.skipped == 0);
    check(st.lines >= s->last_line && st.lines <= lines);
    if (rc == EP_EPARSE) {
        check(err.line >= 1 && err.line <= lines && err.line >= s->last_line);
        check(memchr(err.msg, '\0', sizeof err.msg) && err.msg[0] != '\0');
    }
    return rc;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    seen u, u2, e, p;
    int ru = run(data, size, EP_EXPAND_UNIFORM, &u);
    int ru2 = run(data, size, EP_EXPAND_UNIFORM, &u2);
    int re = run(data, size, EP_EXPAND_EVEN, &e);
    int rp = run(data, size, EP_EXPAND_POISSON, &p);
    check(ru == ru2 && u.rows == u2.rows && u.hash == u2.hash);
    if (ru == 0 || re == 0)
        check(ru == re && u.rows == e.rows);
    check((ru == EP_EPARSE) == (re == EP_EPARSE) || ru == STOP || re == STOP);
    (void)rp;
    return 0;
}
