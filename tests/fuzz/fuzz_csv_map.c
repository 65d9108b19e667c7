/* libFuzzer target for the generic CSV parser under a fixed column map
 * (time=t:ms,input=i,output=o,stream=s,kind=k): rows respect the limits, unmapped columns
 * kept in attrs are a JSON object, errors sit on a real 1-based line with a message, counts
 * agree with the stats. Aborts otherwise. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "epara/core/error.h"
#include "epara/traces/trace.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

typedef struct seen {
    long rows, last_line;
} seen;

static void
check(int ok)
{
    if (!ok)
        abort();
}

/* Kept fields are a non-empty JSON object. */
static int
attrs_ok(const char *a)
{
    json_t *o = json_loads(a, JSON_REJECT_DUPLICATES, NULL);
    int ok = o && json_is_object(o) && json_object_size(o) > 0;
    json_decref(o);
    return ok;
}

static int
sink(void *ctx, const ep_trace_row *row, long line)
{
    seen *s = ctx;
    check(line >= 2 && line > s->last_line);
    check(row->arrival >= 0);
    check(row->input == EP_TRACE_NONE || (row->input >= 0 && row->input <= EP_TRACE_MAX_SIZE));
    check(row->output == EP_TRACE_NONE || (row->output >= 0 && row->output <= EP_TRACE_MAX_SIZE));
    check(row->stream >= EP_TRACE_NONE);
    check(row->frame == EP_TRACE_NONE && row->exec == EP_TRACE_NONE);
    check(!row->service);
    check(!row->attrs || attrs_ok(row->attrs));
    check(!row->kind || (row->kind[0] && strlen(row->kind) <= EP_TRACE_MAX_TEXT));
    s->rows++;
    s->last_line = line;
    return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static ep_colmap map;
    static int ready;
    if (!ready) {
        check(ep_colmap_parse("time=t:ms,input=i,output=o,stream=s,kind=k", &map, NULL, 0) == 0);
        ready = 1;
    }
    long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_CSV;
    o.map = &map;
    seen s = {0, 0};
    o.ctx = &s;
    ep_parse_error err;
    ep_parse_stats st;
    int rc = ep_trace_parse((const char *)data, size, &o, sink, &err, &st);
    check(rc == 0 || rc == EP_EPARSE);
    check(st.rows == s.rows && st.skipped == 0);
    check(st.lines >= s.last_line && st.lines <= lines);
    if (rc == EP_EPARSE) {
        check(err.line >= 1 && err.line <= lines && err.line > s.last_line);
        check(memchr(err.msg, '\0', sizeof err.msg) && err.msg[0] != '\0');
    }
    return 0;
}
