/* Tests for the azure-llm parser (traces/parse_azure.c) through ep_trace_parse: exact 100 ns
 * timestamps and sizes, line ends, header and column checks, size limits, UTF-8 and stray CR
 * errors with their 1-based lines, and the real Azure files when ../shared/traces is here. */
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

typedef struct got {
    ep_trace_row rows[16];
    long lines[16];
    long n;
    int stop_at; /* sink returns 42 on this row number (1-based); 0: never */
} got;

static int
sink(void *ctx, const ep_trace_row *row, long line)
{
    got *g = ctx;
    if (g->n < 16) {
        g->rows[g->n] = *row;
        g->lines[g->n] = line;
    }
    g->n++;
    assert_null(row->kind);
    assert_null(row->attrs);
    assert_null(row->service);
    return g->stop_at && g->n == g->stop_at ? 42 : 0;
}

static int
parse_len(const char *text, size_t len, got *g, ep_parse_error *err, ep_parse_stats *st)
{
    memset(g, 0, sizeof *g);
    memset(err, 0, sizeof *err);
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_AZURE_LLM;
    o.ctx = g;
    return ep_trace_parse(text, len, &o, sink, err, st);
}

static int
parse(const char *text, got *g, ep_parse_error *err, ep_parse_stats *st)
{
    return parse_len(text, strlen(text), g, err, st);
}

static void
expect_error(const char *text, long line, const char *msg_part)
{
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(text, &g, &err, &st), EP_EPARSE);
    if (err.line != line || !strstr(err.msg, msg_part))
        fail_msg("got line %ld \"%s\", want line %ld containing \"%s\"", err.line, err.msg, line,
                 msg_part);
}

static ep_time
ts(const char *s)
{
    ep_time t;
    assert_int_equal(ep_time_parse_datetime(s, strlen(s), &t), 0);
    return t;
}

#define HEADER "TIMESTAMP,ContextTokens,GeneratedTokens\n"

static void
test_valid_rows_parse_with_exact_100ns_timestamps_and_sizes(void **state)
{
    (void)state;
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER "2023-11-16 18:17:03.9799600,4808,10\n"
                                  "2023-11-16 18:17:04.0319601,3180,8\n",
                           &g, &err, &st),
                     0);
    assert_int_equal(g.n, 2);
    /* 2023-11-16 is day 19677 after the epoch */
    assert_int_equal(g.rows[0].arrival, INT64_C(1700158623979960000));
    assert_int_equal(g.rows[0].arrival,
                     (INT64_C(19677) * 86400 + 18 * 3600 + 17 * 60 + 3) * EP_NS_PER_S + 979960000);
    assert_int_equal(g.rows[1].arrival - g.rows[0].arrival, 52000100); /* 100 ns kept */
    assert_int_equal(g.rows[0].input, 4808);
    assert_int_equal(g.rows[0].output, 10);
    assert_int_equal(g.rows[1].input, 3180);
    assert_int_equal(g.rows[1].output, 8);
    assert_int_equal(g.rows[0].stream, EP_TRACE_NONE);
    assert_int_equal(g.rows[0].frame, EP_TRACE_NONE);
    assert_int_equal(g.rows[0].exec, EP_TRACE_NONE);
    assert_int_equal(g.lines[0], 2);
    assert_int_equal(g.lines[1], 3);
    assert_int_equal(st.rows, 2);
    assert_int_equal(st.lines, 3);
    assert_int_equal(st.skipped, 0);
}

static void
test_last_row_without_trailing_newline_is_imported(void **state)
{
    (void)state;
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER "2023-11-16 18:17:03.9799600,4808,10\n"
                                  "2023-11-16 19:14:19.9280160,549,173",
                           &g, &err, &st),
                     0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.rows[1].arrival, ts("2023-11-16 19:14:19.928016"));
    assert_int_equal(g.rows[1].input, 549);
    assert_int_equal(g.rows[1].output, 173);
    assert_int_equal(g.lines[1], 3);
}

static void
test_crlf_input_gives_the_same_rows_as_lf(void **state)
{
    (void)state;
    got a, b;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER "2023-11-16 18:17:03.9799600,4808,10\n"
                                  "2023-11-16 18:17:04.0319600,3180,8\n",
                           &a, &err, &st),
                     0);
    assert_int_equal(parse("TIMESTAMP,ContextTokens,GeneratedTokens\r\n"
                           "2023-11-16 18:17:03.9799600,4808,10\r\n"
                           "2023-11-16 18:17:04.0319600,3180,8\r\n",
                           &b, &err, &st),
                     0);
    assert_int_equal(a.n, 2);
    assert_int_equal(b.n, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(a.rows[i].arrival, b.rows[i].arrival);
        assert_int_equal(a.rows[i].input, b.rows[i].input);
        assert_int_equal(a.rows[i].output, b.rows[i].output);
        assert_int_equal(a.lines[i], b.lines[i]);
    }
}

static void
test_empty_trailing_line_is_ignored_but_blank_line_inside_is_an_error(void **state)
{
    (void)state;
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER "2023-11-16 18:17:03.9799600,4808,10\n\n", &g, &err, &st), 0);
    assert_int_equal(g.n, 1);
    expect_error(HEADER "2023-11-16 18:17:03.9799600,4808,10\n\n2023-11-16 18:17:04,1,1\n", 3,
                 "expected 3 columns, found 1");
}

static void
test_header_only_file_gives_no_rows(void **state)
{
    (void)state;
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse("TIMESTAMP,ContextTokens,GeneratedTokens", &g, &err, &st), 0);
    assert_int_equal(g.n, 0);
    assert_int_equal(st.lines, 1);
}

static void
test_utf8_byte_order_mark_before_header_is_accepted(void **state)
{
    (void)state;
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(
            parse("\xEF\xBB\xBF" HEADER "2023-11-16 18:17:03.9799600,4808,10", &g, &err, &st), 0);
    assert_int_equal(g.n, 1);
}

static void
test_empty_file_is_an_error_on_line_1(void **state)
{
    (void)state;
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse("", &g, &err, &st), EP_EPARSE);
    assert_int_equal(err.line, 1);
    assert_string_equal(err.msg, "empty file");
    assert_int_equal(g.n, 0);
}

static void
test_missing_header_is_an_error_on_line_1(void **state)
{
    (void)state;
    expect_error("2023-11-16 18:17:03.9799600,4808,10\n", 1, "missing header");
    expect_error("\n\n", 1, "missing header");
}

static void
test_wrong_header_is_an_error_naming_the_expected_columns(void **state)
{
    (void)state;
    expect_error("TIMESTAMP,ContextTokens\n", 1,
                 "wrong header: expected \"TIMESTAMP,ContextTokens,GeneratedTokens\"");
    expect_error("timestamp,context,generated\n2023-11-16 18:17:03,1,1\n", 1,
                 "found \"timestamp,context,generated\"");
    expect_error("TIMESTAMP,ContextTokens,GeneratedTokens,Extra\n", 1, "wrong header");
}

static void
test_wrong_column_count_reports_the_line(void **state)
{
    (void)state;
    expect_error(HEADER "2023-11-16 18:17:03.9799600,4808,10\n"
                        "2023-11-16 18:17:04.0319600,3180,8,7\n",
                 3, "expected 3 columns, found 4");
    expect_error(HEADER "2023-11-16 18:17:03.9799600,4808,10\n"
                        "2023-11-16 18:17:04.0319600,3180\n",
                 3, "expected 3 columns, found 2");
}

static void
test_non_numeric_size_is_an_error(void **state)
{
    (void)state;
    expect_error(HEADER "2023-11-16 18:17:03.9799600,48x8,10\n", 2,
                 "ContextTokens: expected a non-negative integer, found \"48x8\"");
    expect_error(HEADER "2023-11-16 18:17:03.9799600,4808, 10\n", 2,
                 "GeneratedTokens: expected a non-negative integer");
    expect_error(HEADER "2023-11-16 18:17:03.9799600,,10\n", 2, "ContextTokens: empty value");
    expect_error(HEADER "2023-11-16 18:17:03.9799600,10.5,10\n", 2,
                 "ContextTokens: expected an integral value, found \"10.5\"");
}

static void
test_negative_size_is_an_error(void **state)
{
    (void)state;
    expect_error(HEADER "2023-11-16 18:17:03.9799600,4808,10\n2023-11-16 18:17:04,-5,10\n", 3,
                 "ContextTokens: negative value \"-5\"");
}

static void
test_absurd_size_is_an_error(void **state)
{
    (void)state;
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER "2023-11-16 18:17:03,1000000000,0\n", &g, &err, &st), 0);
    assert_int_equal(g.rows[0].input, EP_TRACE_MAX_SIZE);
    assert_int_equal(g.rows[0].output, 0);
    expect_error(HEADER "2023-11-16 18:17:03,4808,1000000001\n", 2,
                 "GeneratedTokens: value \"1000000001\" exceeds the limit 1000000000");
    expect_error(HEADER "2023-11-16 18:17:03,99999999999999999999999,1\n", 2,
                 "exceeds the limit 1000000000");
}

static void
test_bad_datetime_is_an_error(void **state)
{
    (void)state;
    expect_error(HEADER "2023-02-30 18:17:03.9799600,4808,10\n", 2,
                 "TIMESTAMP: invalid datetime \"2023-02-30 18:17:03.9799600\"");
    expect_error(HEADER "yesterday,4808,10\n", 2, "TIMESTAMP: invalid datetime");
}

static void
test_bad_utf8_is_an_error_with_its_line_and_field(void **state)
{
    (void)state;
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER "2023-11-16 18:17:03,1,1\n2023-11-16 18:17:0\xc3\x28,1,1\n", &g,
                           &err, &st),
                     EP_EPARSE);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.col, 1);
    assert_string_equal(err.msg, "invalid UTF-8 in field 1");
}

static void
test_stray_cr_mid_line_is_an_error(void **state)
{
    (void)state;
    expect_error(HEADER "2023-11-16 18:17:03,1,1\n2023-11-16 18:17:04,1\r,1\n", 3,
                 "stray carriage return");
}

static void
test_quoted_fields_are_accepted(void **state)
{
    (void)state;
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER "\"2023-11-16 18:17:03.9799600\",\"4808\",10\n", &g, &err, &st),
                     0);
    assert_int_equal(g.rows[0].input, 4808);
    expect_error(HEADER "2023-11-16 18:17:03,\"4,808\",10\n", 2,
                 "ContextTokens: expected a non-negative integer, found \"4,808\"");
}

static void
test_sink_value_stops_the_parse_and_is_returned(void **state)
{
    (void)state;
    got g;
    memset(&g, 0, sizeof g);
    g.stop_at = 2;
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_AZURE_LLM;
    o.ctx = &g;
    const char *t = HEADER "2023-11-16 18:17:03,1,1\n2023-11-16 18:17:04,2,2\n2023-11-16 "
                           "18:17:05,3,3\n";
    ep_parse_stats st;
    assert_int_equal(ep_trace_parse(t, strlen(t), &o, sink, NULL, &st), 42);
    assert_int_equal(g.n, 2);
    assert_int_equal(st.rows, 2);
}

static void
test_bad_options_are_einval(void **state)
{
    (void)state;
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_AZURE_LLM;
    assert_int_equal(ep_trace_parse("x", 1, NULL, sink, NULL, NULL), EP_EINVAL);
    assert_int_equal(ep_trace_parse("x", 1, &o, NULL, NULL, NULL), EP_EINVAL);
    o.format = EP_FMT_COUNT_;
    assert_int_equal(ep_trace_parse("x", 1, &o, sink, NULL, NULL), EP_EINVAL);
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void
real_file(const char *name, long rows, const char *first)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/traces/%s", EP_SHARED_DIR, name);
    size_t len;
    char *buf = slurp(path, &len);
    if (!buf)
        skip();
    assert_true(len > 0 && buf[len - 1] != '\n'); /* the real files lack a final newline */
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    int rc = parse_len(buf, len, &g, &err, &st);
    free(buf);
    if (rc)
        fail_msg("%s:%ld: %s", name, err.line, err.msg);
    assert_int_equal(st.rows, rows);
    assert_int_equal(st.lines, rows + 1);
    assert_int_equal(g.rows[0].arrival, ts(first));
}

/* Only the first 16 rows are kept; the last row is checked through a second, tail-only
 * parse of the header and the file's final line. */
static void
real_last_row(const char *name, const char *last, int64_t last_in, int64_t last_out)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/traces/%s", EP_SHARED_DIR, name);
    size_t len;
    char *buf = slurp(path, &len);
    if (!buf)
        skip();
    const char *nl = buf + len;
    while (nl > buf && nl[-1] != '\n')
        nl--;
    char text[256];
    snprintf(text, sizeof text, HEADER "%.*s", (int)(buf + len - nl), nl);
    free(buf);
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(text, &g, &err, &st), 0);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.rows[0].arrival, ts(last));
    assert_int_equal(g.rows[0].input, last_in);
    assert_int_equal(g.rows[0].output, last_out);
}

static void
test_real_azure_code_trace_parses_all_8819_rows(void **state)
{
    (void)state;
    real_file("AzureLLMInferenceTrace_code.csv", 8819, "2023-11-16 18:17:03.9799600");
    real_last_row("AzureLLMInferenceTrace_code.csv", "2023-11-16 19:14:19.9280160", 549, 173);
}

static void
test_real_azure_conv_trace_parses_all_19366_rows(void **state)
{
    (void)state;
    real_file("AzureLLMInferenceTrace_conv.csv", 19366, "2023-11-16 18:15:46.6805900");
    real_last_row("AzureLLMInferenceTrace_conv.csv", "2023-11-16 19:14:08.4025270", 197, 183);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_valid_rows_parse_with_exact_100ns_timestamps_and_sizes),
            cmocka_unit_test(test_last_row_without_trailing_newline_is_imported),
            cmocka_unit_test(test_crlf_input_gives_the_same_rows_as_lf),
            cmocka_unit_test(test_empty_trailing_line_is_ignored_but_blank_line_inside_is_an_error),
            cmocka_unit_test(test_header_only_file_gives_no_rows),
            cmocka_unit_test(test_utf8_byte_order_mark_before_header_is_accepted),
            cmocka_unit_test(test_empty_file_is_an_error_on_line_1),
            cmocka_unit_test(test_missing_header_is_an_error_on_line_1),
            cmocka_unit_test(test_wrong_header_is_an_error_naming_the_expected_columns),
            cmocka_unit_test(test_wrong_column_count_reports_the_line),
            cmocka_unit_test(test_non_numeric_size_is_an_error),
            cmocka_unit_test(test_negative_size_is_an_error),
            cmocka_unit_test(test_absurd_size_is_an_error),
            cmocka_unit_test(test_bad_datetime_is_an_error),
            cmocka_unit_test(test_bad_utf8_is_an_error_with_its_line_and_field),
            cmocka_unit_test(test_stray_cr_mid_line_is_an_error),
            cmocka_unit_test(test_quoted_fields_are_accepted),
            cmocka_unit_test(test_sink_value_stops_the_parse_and_is_returned),
            cmocka_unit_test(test_bad_options_are_einval),
            cmocka_unit_test(test_real_azure_code_trace_parses_all_8819_rows),
            cmocka_unit_test(test_real_azure_conv_trace_parses_all_19366_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
