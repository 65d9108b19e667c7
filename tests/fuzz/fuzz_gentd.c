/* libFuzzer target for the alibaba-gentd parser: rows respect the limits and carry a kind
 * and a JSON-object attrs; pending rows are reported, never sunk; errors sit on a real
 * 1-based line with a message. Aborts on any broken invariant. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/traces/trace.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

typedef struct seen {
    long rows, skipped, last_line;
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
    check(row->exec >= 0 && row->exec <= EP_TRACE_MAX_EXEC);
    check(row->stream == EP_TRACE_NONE && row->frame == EP_TRACE_NONE && !row->service);
    check(row->kind && strlen(row->kind) > 0 && strlen(row->kind) <= EP_TRACE_MAX_TEXT);
    check(row->attrs != NULL);
    json_t *a = json_loads(row->attrs, 0, NULL);
    check(a && json_is_object(a) && json_object_size(a) == 6);
    check(json_is_integer(json_object_get(a, "steps")));
    check(json_is_integer(json_object_get(a, "lora")));
    check(json_is_string(json_object_get(a, "status")));
    json_decref(a);
    s->rows++;
    s->last_line = line;
    return 0;
}

static void
on_skip(void *ctx, long line, const char *reason)
{
    seen *s = ctx;
    check(line >= 2 && line > s->last_line);
    check(strncmp(reason, "pending request with empty ", 27) == 0);
    s->skipped++;
    s->last_line = line;
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_ALIBABA_GENTD;
    o.on_skip = on_skip;
    seen s = {0, 0, 0};
    o.ctx = &s;
    ep_parse_error err;
    ep_parse_stats st;
    int rc = ep_trace_parse((const char *)data, size, &o, sink, &err, &st);
    check(rc == 0 || rc == EP_EPARSE);
    check(st.rows == s.rows && st.skipped == s.skipped);
    check(st.lines >= s.last_line && st.lines <= lines);
    if (rc == EP_EPARSE) {
        check(err.line >= 1 && err.line <= lines && err.line > s.last_line);
        check(memchr(err.msg, '\0', sizeof err.msg) && err.msg[0] != '\0');
    }
    return 0;
}
