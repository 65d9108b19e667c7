/* Tests for the column-map driven parsers (traces/parse_map.c) and the names parsed in
 * traces/parse.c: ep_colmap_parse and its errors, generic CSV by header name, JSON Lines,
 * exact decimal time units, limits, defaults, the unmapped fields kept in attrs, and the
 * 1-based lines of every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "epara/core/error.h"
#include "epara/traces/trace.h"

#define MAXROWS 8

typedef struct got {
    ep_trace_row rows[MAXROWS];
    char kind[MAXROWS][300];
    char service[MAXROWS][300];
    char attrs[MAXROWS][300];
    long lines[MAXROWS];
    long n;
} got;

static got g_;

static int
sink(void *ctx, const ep_trace_row *row, long line)
{
    got *g = ctx;
    if (g->n < MAXROWS) {
        g->rows[g->n] = *row;
        g->lines[g->n] = line;
        snprintf(g->kind[g->n], sizeof g->kind[0], "%s", row->kind ? row->kind : "(null)");
        snprintf(g->service[g->n], sizeof g->service[0], "%s",
                 row->service ? row->service : "(null)");
        snprintf(g->attrs[g->n], sizeof g->attrs[0], "%s", row->attrs ? row->attrs : "(null)");
    }
    g->n++;
    return 0;
}

static ep_colmap
map(const char *spec)
{
    ep_colmap m;
    char err[256];
    if (ep_colmap_parse(spec, &m, err, sizeof err) != 0)
        fail_msg("colmap %s: %s", spec, err);
    return m;
}

static int
parse(ep_trace_format fmt, const char *spec, const char *text, ep_parse_error *err,
      ep_parse_stats *st)
{
    ep_colmap m = map(spec);
    memset(&g_, 0, sizeof g_);
    memset(err, 0, sizeof *err);
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = fmt;
    o.map = &m;
    o.ctx = &g_;
    return ep_trace_parse(text, strlen(text), &o, sink, err, st);
}

static void
expect_ok(ep_trace_format fmt, const char *spec, const char *text, long rows)
{
    ep_parse_error err;
    ep_parse_stats st;
    int rc = parse(fmt, spec, text, &err, &st);
    if (rc)
        fail_msg("line %ld: %s (%d)", err.line, err.msg, rc);
    assert_int_equal(g_.n, rows);
    assert_int_equal(st.rows, rows);
}

static void
expect_error(ep_trace_format fmt, const char *spec, const char *text, long line,
             const char *msg_part)
{
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(fmt, spec, text, &err, &st), EP_EPARSE);
    if (err.line != line || !strstr(err.msg, msg_part))
        fail_msg("got line %ld \"%s\", want line %ld containing \"%s\"", err.line, err.msg, line,
                 msg_part);
}

static void
expect_colmap_error(const char *spec, const char *msg_part)
{
    ep_colmap m;
    memset(&m, 0x5a, sizeof m);
    char err[256] = "";
    assert_int_equal(ep_colmap_parse(spec, &m, err, sizeof err), EP_EINVAL);
    if (!strstr(err, msg_part))
        fail_msg("colmap \"%s\": got \"%s\", want \"%s\"", spec, err, msg_part);
    assert_int_equal(((unsigned char *)&m)[0], 0x5a); /* untouched on error */
}

/* --- names and column maps --------------------------------------------------------- */

static void
test_format_names_round_trip(void **state)
{
    (void)state;
    for (int i = 0; i < EP_FMT_COUNT_; i++) {
        ep_trace_format f;
        assert_int_equal(ep_trace_format_parse(ep_trace_format_name((ep_trace_format)i), &f), 0);
        assert_int_equal(f, i);
    }
    ep_trace_format f;
    assert_int_equal(ep_trace_format_parse("azure-llm", &f), 0);
    assert_int_equal(f, EP_FMT_AZURE_LLM);
    assert_string_equal(ep_trace_format_name(EP_FMT_ALIBABA_GENTD), "alibaba-gentd");
    assert_string_equal(ep_trace_format_name(EP_FMT_AZURE_FUNCTIONS), "azure-functions");
    assert_int_equal(ep_trace_format_parse("tsv", &f), EP_EINVAL);
    assert_int_equal(ep_trace_format_parse(NULL, &f), EP_EINVAL);
}

static void
test_colmap_parses_fields_columns_and_units(void **state)
{
    (void)state;
    ep_colmap m = map("time=TIMESTAMP:datetime,input=ContextTokens,output=GeneratedTokens,"
                      "stream=cam,frame=n,exec=lat:ms,kind=type,service=svc");
    assert_string_equal(m.column[EP_FIELD_TIME], "TIMESTAMP");
    assert_int_equal(m.unit[EP_FIELD_TIME], EP_UNIT_DATETIME);
    assert_string_equal(m.column[EP_FIELD_INPUT], "ContextTokens");
    assert_string_equal(m.column[EP_FIELD_OUTPUT], "GeneratedTokens");
    assert_string_equal(m.column[EP_FIELD_STREAM], "cam");
    assert_string_equal(m.column[EP_FIELD_FRAME], "n");
    assert_string_equal(m.column[EP_FIELD_EXEC], "lat");
    assert_int_equal(m.unit[EP_FIELD_EXEC], EP_UNIT_MS);
    assert_string_equal(m.column[EP_FIELD_KIND], "type");
    assert_string_equal(m.column[EP_FIELD_SERVICE], "svc");
    /* unmapped fields are "", units default to seconds */
    m = map("time=t");
    assert_int_equal(m.unit[EP_FIELD_TIME], EP_UNIT_S);
    assert_int_equal(m.unit[EP_FIELD_EXEC], EP_UNIT_S);
    assert_string_equal(m.column[EP_FIELD_INPUT], "");
    m = map("time=a:b:us");
    assert_string_equal(m.column[EP_FIELD_TIME], "a:b");
    assert_int_equal(m.unit[EP_FIELD_TIME], EP_UNIT_US);
    m = map("input=x,time=t:ns");
    assert_int_equal(m.unit[EP_FIELD_TIME], EP_UNIT_NS);
}

static void
test_colmap_errors_name_the_problem(void **state)
{
    (void)state;
    expect_colmap_error("time=t,size=s", "unknown field \"size\"");
    expect_colmap_error("input=i", "time is required");
    expect_colmap_error("", "time is required");
    expect_colmap_error("time=t:hours", "bad unit \"hours\" for time");
    expect_colmap_error("time=t,exec=e:datetime", "bad unit \"datetime\" for exec");
    expect_colmap_error("time=t,input=i:ms", "a unit is allowed only for time and exec");
    expect_colmap_error("time=", "empty column name for time");
    expect_colmap_error("time=:s", "empty column name for time");
    expect_colmap_error("time=t,time=u", "field time mapped twice");
    expect_colmap_error("time=t,", "empty item");
    expect_colmap_error("time", "expected field=COLUMN, found \"time\"");
    expect_colmap_error("time=t,kind=\xff", "not valid text");
    expect_colmap_error("time=0123456789012345678901234567890123456789012345678901234567890123",
                        "longer than 63 bytes");
    char err[8];
    ep_colmap m;
    assert_int_equal(ep_colmap_parse("nope", &m, err, sizeof err), EP_EINVAL);
    assert_int_equal(strlen(err), 7); /* truncated, terminated */
    assert_int_equal(ep_colmap_parse("nope", &m, NULL, 0), EP_EINVAL);
}

/* --- csv ------------------------------------------------------------------------------ */

static void
test_csv_maps_columns_by_header_name_in_any_order(void **state)
{
    (void)state;
    expect_ok(EP_FMT_CSV, "time=t:ms,input=i,output=o,stream=s,frame=f,exec=e:us,kind=k,service=v",
              "extra,o,k,t,i,s,f,e,v\n"
              "x,7,chat,1500,12,3,99,250,svcA\n"
              "y,,,2000.5,,,,,\n",
              2);
    assert_int_equal(g_.rows[0].arrival, INT64_C(1500000000));
    assert_int_equal(g_.rows[0].input, 12);
    assert_int_equal(g_.rows[0].output, 7);
    assert_int_equal(g_.rows[0].stream, 3);
    assert_int_equal(g_.rows[0].frame, 99);
    assert_int_equal(g_.rows[0].exec, 250000);
    assert_string_equal(g_.kind[0], "chat");
    assert_string_equal(g_.service[0], "svcA");
    assert_string_equal(g_.attrs[0], "{\"extra\":\"x\"}"); /* the unmapped column */
    assert_int_equal(g_.lines[0], 2);
    /* empty optional cells are absent */
    assert_int_equal(g_.rows[1].arrival, INT64_C(2000500000));
    assert_int_equal(g_.rows[1].input, EP_TRACE_NONE);
    assert_int_equal(g_.rows[1].output, EP_TRACE_NONE);
    assert_int_equal(g_.rows[1].exec, EP_TRACE_NONE);
    assert_string_equal(g_.kind[1], "(null)");
    assert_string_equal(g_.service[1], "(null)");
}

static void
test_csv_time_units_convert_decimals_exactly(void **state)
{
    (void)state;
    expect_ok(EP_FMT_CSV, "time=t:s", "t\n1.5\n0.000000001\n1700158623.9799600\n12\n", 4);
    assert_int_equal(g_.rows[0].arrival, 1500000000);
    assert_int_equal(g_.rows[1].arrival, 1);
    assert_int_equal(g_.rows[2].arrival, INT64_C(1700158623979960000));
    assert_int_equal(g_.rows[3].arrival, 12 * EP_NS_PER_S);
    expect_ok(EP_FMT_CSV, "time=t:us", "t\n2.5\n", 1);
    assert_int_equal(g_.rows[0].arrival, 2500);
    expect_ok(EP_FMT_CSV, "time=t:ns", "t\n9223372036854775807\n", 1);
    assert_int_equal(g_.rows[0].arrival, INT64_MAX);
    expect_ok(EP_FMT_CSV, "time=t:datetime", "t\n2023-11-16 18:17:03.9799600\n", 1);
    assert_int_equal(g_.rows[0].arrival, INT64_C(1700158623979960000));
    expect_ok(EP_FMT_CSV, "time=t,exec=e", "t,e\n0,0.25\n", 1);
    assert_int_equal(g_.rows[0].exec, 250000000);
}

static void
test_csv_refuses_negative_overflowing_and_non_numeric_times(void **state)
{
    (void)state;
    expect_error(EP_FMT_CSV, "time=t:s", "t\n1\n-1\n", 3, "t: negative time \"-1\"");
    expect_error(EP_FMT_CSV, "time=t:s", "t\n9223372037\n", 2,
                 "t: time \"9223372037\" overflows int64 nanoseconds");
    expect_error(EP_FMT_CSV, "time=t:ms", "t\nsoon\n", 2, "t: expected a number, found \"soon\"");
    expect_error(EP_FMT_CSV, "time=t:ms", "t\n\n2\n", 2, "t: empty time");
    expect_error(EP_FMT_CSV, "time=t:datetime", "t\n12\n", 2, "t: invalid datetime \"12\"");
    expect_error(EP_FMT_CSV, "time=t,exec=e:ms", "t,e\n1,604800001\n", 2,
                 "e: duration \"604800001\" exceeds the limit of 7 days");
    expect_error(EP_FMT_CSV, "time=t,exec=e", "t,e\n1,-0.5\n", 2, "e: negative duration");
}

static void
test_csv_refuses_bad_sizes(void **state)
{
    (void)state;
    expect_error(EP_FMT_CSV, "time=t,input=i", "t,i\n1,abc\n", 2,
                 "i: expected a non-negative integer, found \"abc\"");
    expect_error(EP_FMT_CSV, "time=t,input=i", "t,i\n1,-4\n", 2, "i: negative value \"-4\"");
    expect_error(EP_FMT_CSV, "time=t,output=o", "t,o\n1,1000000001\n", 2,
                 "o: value \"1000000001\" exceeds the limit 1000000000");
}

static void
test_csv_missing_mapped_column_is_an_error_on_line_1_naming_it(void **state)
{
    (void)state;
    expect_error(EP_FMT_CSV, "time=t,input=tokens", "t,i\n1,2\n", 1,
                 "missing column \"tokens\" (mapped to input) in header");
    expect_error(EP_FMT_CSV, "time=t", "a,t,t\n", 1, "duplicate column \"t\" in header");
    expect_error(EP_FMT_CSV, "time=t", "", 1, "empty file");
    expect_error(EP_FMT_CSV, "time=t", "\n\n", 1, "missing header");
}

static void
test_csv_rows_must_have_the_header_column_count(void **state)
{
    (void)state;
    expect_error(EP_FMT_CSV, "time=t", "t,a\n1,2\n3\n", 3, "expected 2 columns, found 1");
    expect_error(EP_FMT_CSV, "time=t", "t,a\n1,2\n3,4,5\n", 3, "expected 2 columns, found 3");
}

static void
test_csv_quoted_fields_with_commas_and_crlf(void **state)
{
    (void)state;
    expect_ok(EP_FMT_CSV, "time=t,kind=k", "t,k\r\n1,\"a, \"\"b\"\"\"\r\n2,c", 2);
    assert_string_equal(g_.kind[0], "a, \"b\"");
    assert_string_equal(g_.kind[1], "c");
    assert_int_equal(g_.lines[1], 3);
}

static void
test_csv_text_limits_and_utf8(void **state)
{
    (void)state;
    char text[1024] = "t,k\n1,";
    size_t o = strlen(text);
    memset(text + o, 'x', 256);
    text[o + 256] = '\0';
    expect_error(EP_FMT_CSV, "time=t,kind=k", text, 2, "k: text longer than 255 bytes");
    expect_error(EP_FMT_CSV, "time=t,kind=k", "t,k\n1,ok\n2,b\xc3\xc3\n", 3,
                 "invalid UTF-8 in field 2");
    expect_error(EP_FMT_CSV, "time=t,kind=k", "t,k\n1,o\rk\n", 2, "stray carriage return");
}

/* --- jsonl ----------------------------------------------------------------------------- */

/* Every optional key may be missing ("?": unknown when missing). */
#define JMAP "time=t:ms,input=i?,output=o?,stream=s?,kind=k?"

static void
test_jsonl_parses_numbers_and_numeric_strings(void **state)
{
    (void)state;
    expect_ok(EP_FMT_JSONL, JMAP,
              "{\"t\": 1500, \"i\": 10, \"o\": \"20\", \"s\": 1, \"k\": \"chat\", \"x\": [1]}\n"
              "\n"
              "{\"t\": \"2.5\", \"i\": \"7\", \"o\": null}\r\n"
              "{\"t\": 0.5, \"i\": 3.0}",
              3);
    assert_int_equal(g_.rows[0].arrival, 1500 * EP_NS_PER_MS);
    assert_int_equal(g_.rows[0].input, 10);
    assert_int_equal(g_.rows[0].output, 20);
    assert_int_equal(g_.rows[0].stream, 1);
    assert_string_equal(g_.kind[0], "chat");
    assert_int_equal(g_.lines[0], 1);
    assert_int_equal(g_.rows[1].arrival, 2500000);
    assert_int_equal(g_.rows[1].input, 7);
    assert_int_equal(g_.rows[1].output, EP_TRACE_NONE);
    assert_string_equal(g_.kind[1], "(null)");
    assert_int_equal(g_.lines[1], 3);
    assert_string_equal(g_.attrs[0], "{\"x\":[1]}");
    assert_string_equal(g_.attrs[1], "(null)");
    assert_int_equal(g_.rows[2].arrival, 500000);
    assert_int_equal(g_.rows[2].input, 3);
    assert_int_equal(g_.lines[2], 4);
}

static void
test_jsonl_datetime_time_takes_a_string(void **state)
{
    (void)state;
    expect_ok(EP_FMT_JSONL, "time=ts:datetime", "{\"ts\":\"2023-11-16T18:17:03.9799600Z\"}\n", 1);
    assert_int_equal(g_.rows[0].arrival, INT64_C(1700158623979960000));
    expect_error(EP_FMT_JSONL, "time=ts:datetime", "{\"ts\":1700000000}\n", 1,
                 "ts: expected a datetime string, found a number");
}

static void
test_jsonl_missing_time_key_is_an_error_with_its_line(void **state)
{
    (void)state;
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1}\n{\"i\":2}\n", 2, "missing time key \"t\"");
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":null}\n", 1, "t: expected a number or numeric");
}

static void
test_jsonl_non_object_line_is_an_error(void **state)
{
    (void)state;
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1}\n[1,2]\n", 2,
                 "expected a JSON object, found an array");
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1}\n\n42\n", 3,
                 "expected a JSON object, found a number");
}

static void
test_jsonl_bad_json_is_an_error(void **state)
{
    (void)state;
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1}\n{\"t\":2,}\n", 2, "invalid JSON: ");
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1} {\"t\":2}\n", 1, "invalid JSON: ");
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1,\"t\":2}\n", 1, "invalid JSON: ");
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1}\n{\"t\":\"\xc3(\"}\n", 2, "invalid UTF-8");
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1}\r{\"t\":2}\n", 1, "stray carriage return");
}

static void
test_jsonl_wrong_value_types_and_limits(void **state)
{
    (void)state;
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1,\"i\":true}\n", 1,
                 "i: expected a number or numeric string, found a boolean");
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1,\"i\":-3}\n", 1, "i: negative value \"-3\"");
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1,\"i\":\"lots\"}\n", 1,
                 "i: expected a non-negative integer, found \"lots\"");
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1,\"i\":1.5}\n", 1, "i: expected an integral value");
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":-1}\n", 1, "t: negative time");
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1e300}\n", 1, "overflows int64 nanoseconds");
    expect_error(EP_FMT_JSONL, JMAP, "{\"t\":1,\"k\":5}\n", 1, "k: expected a string, found a");
}

static void
test_jsonl_empty_input_is_an_error(void **state)
{
    (void)state;
    expect_error(EP_FMT_JSONL, JMAP, "", 1, "empty file");
    expect_error(EP_FMT_JSONL, JMAP, "\n \n\t\n", 1, "empty file");
}

/* --- defaults and attrs ------------------------------------------------------------- */

static void
test_colmap_defaults_and_attrs_option(void **state)
{
    (void)state;
    ep_colmap m = map("time=t,output=output_length?0,kind=k?chat?x,exec=e:ms?1.5,input=i?");
    assert_string_equal(m.column[EP_FIELD_OUTPUT], "output_length");
    assert_true(m.has_default[EP_FIELD_OUTPUT]);
    assert_string_equal(m.dflt[EP_FIELD_OUTPUT], "0");
    assert_string_equal(m.dflt[EP_FIELD_KIND], "chat?x");
    assert_int_equal(m.unit[EP_FIELD_EXEC], EP_UNIT_MS);
    assert_string_equal(m.column[EP_FIELD_EXEC], "e");
    assert_true(m.has_default[EP_FIELD_INPUT] && m.dflt[EP_FIELD_INPUT][0] == '\0');
    assert_false(m.has_default[EP_FIELD_TIME] || m.has_default[EP_FIELD_STREAM]);
    assert_int_equal(m.drop_attrs, 0);
    assert_int_equal(map("time=t,attrs=none").drop_attrs, 1);
    assert_int_equal(map("attrs=all,time=t").drop_attrs, 0);
    expect_colmap_error("time=t?5", "time takes no default");
    expect_colmap_error("time=t,output=o?many", "output default: expected a non-negative integer");
    expect_colmap_error("time=t,output=o?-1", "output default: negative value");
    expect_colmap_error("time=t,exec=e?9999999", "exec default: duration");
    expect_colmap_error("time=t,output=?1", "empty column name for output");
    expect_colmap_error("time=t,attrs=some", "attrs=\"some\": expected all");
    expect_colmap_error("time=t,attrs=none,attrs=all", "field attrs mapped twice");
}

static void
test_jsonl_missing_mapped_key_is_refused_unless_the_map_gives_a_default(void **state)
{
    (void)state;
    const char *text = "{\"t\":1,\"input_length\":5,\"output_length\":7}\n"
                       "{\"t\":2,\"input_length\":6}\n"
                       "{\"t\":3,\"input_length\":6,\"output_length\":null}\n";
    expect_error(EP_FMT_JSONL, "time=t,input=input_length,output=output_length", text, 2,
                 "missing key \"output_length\" (mapped to output; map it as "
                 "output=output_length?DEFAULT");
    expect_ok(EP_FMT_JSONL, "time=t,input=input_length,output=output_length?0", text, 3);
    assert_int_equal(g_.rows[0].output, 7);
    assert_int_equal(g_.rows[1].output, 0);
    assert_int_equal(g_.rows[2].output, 0); /* null takes the default too */
    expect_ok(EP_FMT_JSONL, "time=t,input=input_length,output=output_length?", text, 3);
    assert_int_equal(g_.rows[1].output, EP_TRACE_NONE);
    assert_int_equal(g_.rows[2].output, EP_TRACE_NONE);
    expect_ok(EP_FMT_JSONL, "time=t,input=input_length,output=output_length,kind=k?batch",
              "{\"t\":1,\"input_length\":5,\"output_length\":7}\n", 1);
    assert_string_equal(g_.kind[0], "batch");
    /* CSV: the column must exist; the default fills empty cells */
    expect_ok(EP_FMT_CSV, "time=t,output=o?3,exec=e:ms?2", "t,o,e\n1,,\n2,4,1\n", 2);
    assert_int_equal(g_.rows[0].output, 3);
    assert_int_equal(g_.rows[0].exec, 2 * EP_NS_PER_MS);
    assert_int_equal(g_.rows[1].output, 4);
    assert_int_equal(g_.rows[1].exec, EP_NS_PER_MS);
}

static void
test_csv_keeps_unmapped_columns_in_attrs(void **state)
{
    (void)state;
    const char *text = "t,hash_ids,i,user,hash_ids,attrs\n"
                       "1,1|2|3,10,alice,dup,\n"
                       "2,,11,,,\n"
                       "3,\"[4, 5]\",12,bob,,\"{\"\"user\"\":\"\"x\"\",\"\"n\"\":1.5}\"\n"
                       "4,,13,\"q\"\"t\",,not json\n";
    expect_ok(EP_FMT_CSV, "time=t,input=i", text, 4);
    /* cells as strings, in column order; the first of two equal names; empty cells left out */
    assert_string_equal(g_.attrs[0], "{\"hash_ids\":\"1|2|3\",\"user\":\"alice\"}");
    assert_string_equal(g_.attrs[1], "(null)");
    /* an attrs object (what `trace export` writes) is merged; kept columns win */
    assert_string_equal(g_.attrs[2], "{\"hash_ids\":\"[4, 5]\",\"user\":\"bob\",\"n\":1.5}");
    assert_string_equal(g_.attrs[3], "{\"user\":\"q\\\"t\",\"attrs\":\"not json\"}");
    expect_ok(EP_FMT_CSV, "time=t,input=i,attrs=none", text, 4);
    assert_string_equal(g_.attrs[0], "(null)");
    assert_string_equal(g_.attrs[2], "(null)");
}

static void
test_jsonl_keeps_unmapped_keys_with_their_json_values(void **state)
{
    (void)state;
    expect_ok(EP_FMT_JSONL, "time=t,input=i,output=o",
              "{\"t\":1,\"hash_ids\":[46,47,48],\"i\":5,\"o\":2,\"p\":0.1,\"e\":1e300,"
              "\"s\":\"a\\\"\\u00e9\",\"n\":{\"x\":null,\"y\":[true,false]},\"r\":2.0}\n"
              "{\"t\":2,\"i\":5,\"o\":2}\n"
              "{\"t\":3,\"i\":5,\"o\":2,\"tag\":\"top\",\"attrs\":{\"tag\":\"in\",\"k\":1}}\n",
              3);
    assert_string_equal(g_.attrs[0], "{\"hash_ids\":[46,47,48],\"p\":0.1,\"e\":1e+300,"
                                     "\"s\":\"a\\\"\u00e9\",\"n\":{\"x\":null,\"y\":[true,false]},"
                                     "\"r\":2.0}");
    assert_string_equal(g_.attrs[1], "(null)");
    assert_string_equal(g_.attrs[2], "{\"tag\":\"top\",\"k\":1}");
    expect_ok(EP_FMT_JSONL, "time=t,attrs=none", "{\"t\":1,\"hash_ids\":[1]}\n", 1);
    assert_string_equal(g_.attrs[0], "(null)");
}

static void
test_map_formats_require_a_map_with_time(void **state)
{
    (void)state;
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_CSV;
    assert_int_equal(ep_trace_parse("t\n1\n", 4, &o, sink, NULL, NULL), EP_EINVAL);
    o.format = EP_FMT_JSONL;
    ep_colmap m;
    memset(&m, 0, sizeof m);
    o.map = &m;
    assert_int_equal(ep_trace_parse("{}", 2, &o, sink, NULL, NULL), EP_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_format_names_round_trip),
            cmocka_unit_test(test_colmap_parses_fields_columns_and_units),
            cmocka_unit_test(test_colmap_errors_name_the_problem),
            cmocka_unit_test(test_csv_maps_columns_by_header_name_in_any_order),
            cmocka_unit_test(test_csv_time_units_convert_decimals_exactly),
            cmocka_unit_test(test_csv_refuses_negative_overflowing_and_non_numeric_times),
            cmocka_unit_test(test_csv_refuses_bad_sizes),
            cmocka_unit_test(test_csv_missing_mapped_column_is_an_error_on_line_1_naming_it),
            cmocka_unit_test(test_csv_rows_must_have_the_header_column_count),
            cmocka_unit_test(test_csv_quoted_fields_with_commas_and_crlf),
            cmocka_unit_test(test_csv_text_limits_and_utf8),
            cmocka_unit_test(test_jsonl_parses_numbers_and_numeric_strings),
            cmocka_unit_test(test_jsonl_datetime_time_takes_a_string),
            cmocka_unit_test(test_jsonl_missing_time_key_is_an_error_with_its_line),
            cmocka_unit_test(test_jsonl_non_object_line_is_an_error),
            cmocka_unit_test(test_jsonl_bad_json_is_an_error),
            cmocka_unit_test(test_jsonl_wrong_value_types_and_limits),
            cmocka_unit_test(test_jsonl_empty_input_is_an_error),
            cmocka_unit_test(test_colmap_defaults_and_attrs_option),
            cmocka_unit_test(
                    test_jsonl_missing_mapped_key_is_refused_unless_the_map_gives_a_default),
            cmocka_unit_test(test_csv_keeps_unmapped_columns_in_attrs),
            cmocka_unit_test(test_jsonl_keeps_unmapped_keys_with_their_json_values),
            cmocka_unit_test(test_map_formats_require_a_map_with_time),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
