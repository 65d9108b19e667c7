/* libFuzzer target for ep_colmap_parse: a spec either fails with EP_EINVAL and a message, or
 * gives a map with a time column, NUL-terminated short column names and defaults (never for
 * time) and valid units; that map then drives the CSV and JSONL parsers over small fixed
 * inputs without crashing. */
#include <stdlib.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/traces/trace.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void
check(int ok)
{
    if (!ok)
        abort();
}

static int
sink(void *ctx, const ep_trace_row *row, long line)
{
    (void)ctx;
    check(line >= 1);
    check(row->input == EP_TRACE_NONE || (row->input >= 0 && row->input <= EP_TRACE_MAX_SIZE));
    check(row->exec == EP_TRACE_NONE || (row->exec >= 0 && row->exec <= EP_TRACE_MAX_EXEC));
    return 0;
}

static void
parse_with(const ep_colmap *map, ep_trace_format fmt, const char *text)
{
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = fmt;
    o.map = map;
    ep_parse_error err;
    int rc = ep_trace_parse(text, strlen(text), &o, sink, &err, NULL);
    check(rc == 0 || rc == EP_EPARSE);
    if (rc == EP_EPARSE)
        check(err.line >= 1 && err.msg[0] != '\0');
}

int
LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    char *spec = malloc(size + 1);
    check(spec != NULL);
    memcpy(spec, data, size);
    spec[size] = '\0';
    ep_colmap m;
    char err[128];
    err[0] = '\0';
    int rc = ep_colmap_parse(spec, &m, err, sizeof err);
    if (rc != 0) {
        check(rc == EP_EINVAL && err[0] != '\0' && memchr(err, '\0', sizeof err));
    } else {
        check(m.column[EP_FIELD_TIME][0] != '\0');
        for (int f = 0; f < EP_FIELD_COUNT_; f++) {
            size_t n = strnlen(m.column[f], EP_COLMAP_NAME_MAX);
            check(n < EP_COLMAP_NAME_MAX && !memchr(m.column[f], ',', n));
            check(m.unit[f] >= EP_UNIT_DATETIME && m.unit[f] <= EP_UNIT_NS);
            check(!m.has_default[f] ||
                  (f != EP_FIELD_TIME && m.column[f][0] &&
                   strnlen(m.dflt[f], EP_COLMAP_NAME_MAX) < EP_COLMAP_NAME_MAX));
        }
        check(m.drop_attrs == 0 || m.drop_attrs == 1);
        check(m.unit[EP_FIELD_EXEC] != EP_UNIT_DATETIME);
        parse_with(&m, EP_FMT_CSV, "t,time,TIMESTAMP,i,o,k\n1,2,2023-11-16 18:17:03,4,5,x\n");
        parse_with(&m, EP_FMT_JSONL, "{\"t\":1,\"time\":\"2\",\"i\":3}\n{\"t\":\"x\"}\n");
    }
    free(spec);
    return 0;
}
