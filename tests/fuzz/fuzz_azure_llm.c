/* libFuzzer target for the azure-llm parser: any bytes either parse into rows whose values
 * respect the limits, or fail with EP_EPARSE on a real 1-based line with a message; the
 * row count agrees with the stats. Aborts on any broken invariant. */
#include <stdlib.h>
#include <string.h>

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

static int
sink(void *ctx, const ep_trace_row *row, long line)
{
    seen *s = ctx;
    check(line >= 2 && line > s->last_line);
    check(row->input >= 0 && row->input <= EP_TRACE_MAX_SIZE);
    check(row->output >= 0 && row->output <= EP_TRACE_MAX_SIZE);
    check(row->stream == EP_TRACE_NONE && row->frame == EP_TRACE_NONE);
    check(row->exec == EP_TRACE_NONE);
    check(!row->kind && !row->attrs && !row->service);
    s->rows++;
    s->last_line = line;
    return 0;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_AZURE_LLM;
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
