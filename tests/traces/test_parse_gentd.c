/* Tests for the alibaba-gentd parser (traces/parse_gentd.c): exact values and attrs JSON,
 * integral-float sizes, exec limits, pending rows skipped with their lines, header / column /
 * UTF-8 errors, and the real GenTD26 file when ../shared/traces is here. */
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
    char kind[MAXROWS][256];
    char attrs[MAXROWS][2048];
    long lines[MAXROWS];
    long n;
    long skip_lines[32];
    char skip_reason[32][128];
    long nskip;
} got;

static int
sink(void *ctx, const ep_trace_row *row, long line)
{
    got *g = ctx;
    if (g->n < MAXROWS) {
        g->rows[g->n] = *row;
        g->lines[g->n] = line;
        assert_non_null(row->kind);
        assert_non_null(row->attrs);
        snprintf(g->kind[g->n], sizeof g->kind[0], "%s", row->kind);
        snprintf(g->attrs[g->n], sizeof g->attrs[0], "%s", row->attrs);
    }
    g->n++;
    return 0;
}

static void
on_skip(void *ctx, long line, const char *reason)
{
    got *g = ctx;
    if (g->nskip < 32) {
        g->skip_lines[g->nskip] = line;
        snprintf(g->skip_reason[g->nskip], sizeof g->skip_reason[0], "%s", reason);
    }
    g->nskip++;
}

static int
parse_len(const char *text, size_t len, got *g, ep_parse_error *err, ep_parse_stats *st)
{
    memset(g, 0, sizeof *g);
    memset(err, 0, sizeof *err);
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_ALIBABA_GENTD;
    o.on_skip = on_skip;
    o.ctx = g;
    return ep_trace_parse(text, len, &o, sink, err, st);
}

static int
parse(const char *text, got *g, ep_parse_error *err, ep_parse_stats *st)
{
    return parse_len(text, strlen(text), g, err, st);
}

static got g_; /* large: keep it off the stack */

static void
expect_error(const char *text, long line, const char *msg_part)
{
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(text, &g_, &err, &st), EP_EPARSE);
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

#define HEADER                                                                           \
    "gmt_create,predict_type,predict_status,exec_time_seconds,groupId,prompt_length,"    \
    "negative_prompt_length,num_images_per_prompt,num_inference_steps,checkpoint_model_" \
    "version_id,num_lora\n"
#define ROW1 "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63.0,26.0,1.0,30.0,M0000,0\n"
#define ROW2 "2024-11-15 18:16:14,IMG_2_IMG,FAILED,43.25,G0001,93.0,,8.0,40.0,M0001,2\n"

static void
test_valid_rows_parse_with_exact_values_and_attrs(void **state)
{
    (void)state;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER ROW1 ROW2, &g_, &err, &st), 0);
    assert_int_equal(g_.n, 2);
    assert_int_equal(g_.rows[0].arrival, ts("2024-11-15 16:57:50"));
    assert_string_equal(g_.kind[0], "TXT_2_IMG");
    assert_int_equal(g_.rows[0].exec, 32 * EP_NS_PER_S);
    assert_int_equal(g_.rows[0].input, 63);
    assert_int_equal(g_.rows[0].output, 1);
    assert_int_equal(g_.rows[0].stream, EP_TRACE_NONE);
    assert_null(g_.rows[0].service);
    assert_string_equal(g_.attrs[0], "{\"status\":\"SUCCEED\",\"group\":\"G0000\","
                                     "\"negative_prompt_length\":26,\"steps\":30,"
                                     "\"model\":\"M0000\",\"lora\":0}");
    assert_int_equal(g_.lines[0], 2);
    assert_string_equal(g_.kind[1], "IMG_2_IMG");
    assert_int_equal(g_.rows[1].exec, INT64_C(43250000000));
    assert_int_equal(g_.rows[1].output, 8);
    assert_int_equal(g_.lines[1], 3);
    assert_int_equal(st.rows, 2);
    assert_int_equal(st.lines, 3);
}

static void
test_empty_negative_prompt_length_is_null_in_attrs(void **state)
{
    (void)state;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER ROW2, &g_, &err, &st), 0);
    assert_string_equal(g_.attrs[0], "{\"status\":\"FAILED\",\"group\":\"G0001\","
                                     "\"negative_prompt_length\":null,\"steps\":40,"
                                     "\"model\":\"M0001\",\"lora\":2}");
}

static void
test_text_fields_are_json_escaped_in_attrs(void **state)
{
    (void)state;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,1,\"G\"\"q\\\",1,,1,30,"
                                  "\"M,0\",0\n",
                           &g_, &err, &st),
                     0);
    assert_non_null(strstr(g_.attrs[0], "\"group\":\"G\\\"q\\\\\""));
    assert_non_null(strstr(g_.attrs[0], "\"model\":\"M,0\""));
}

static void
test_pending_rows_are_skipped_and_reported_with_their_lines(void **state)
{
    (void)state;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER ROW1
                           "2024-11-20 10:00:00,TXT_2_IMG,PENDING,0.0,G0002,,,,,,0\n" ROW2
                           "2024-11-20 10:00:01,TXT_2_IMG,PENDING,0.0,G0002,12.0,,1.0,30.0,,0\n",
                           &g_, &err, &st),
                     0);
    assert_int_equal(g_.n, 2);
    assert_int_equal(st.rows, 2);
    assert_int_equal(st.skipped, 2);
    assert_int_equal(st.lines, 5);
    assert_int_equal(g_.nskip, 2);
    assert_int_equal(g_.skip_lines[0], 3);
    assert_string_equal(g_.skip_reason[0], "pending request with empty prompt_length");
    assert_int_equal(g_.skip_lines[1], 5);
    assert_string_equal(g_.skip_reason[1],
                        "pending request with empty checkpoint_model_version_id");
    assert_int_equal(g_.lines[1], 4);
}

static void
test_pending_rows_without_skip_callback_are_still_counted(void **state)
{
    (void)state;
    const char *t = HEADER "2024-11-20 10:00:00,TXT_2_IMG,PENDING,0.0,G0002,,,,,,0\n";
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_ALIBABA_GENTD;
    o.ctx = &g_;
    memset(&g_, 0, sizeof g_);
    ep_parse_stats st;
    assert_int_equal(ep_trace_parse(t, strlen(t), &o, sink, NULL, &st), 0);
    assert_int_equal(st.skipped, 1);
    assert_int_equal(st.rows, 0);
}

static void
test_sizes_must_be_integral_non_negative_and_bounded(void **state)
{
    (void)state;
    expect_error(HEADER "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63.5,26.0,1.0,30.0,"
                        "M0000,0\n",
                 2, "prompt_length: expected an integral value, found \"63.5\"");
    expect_error(HEADER ROW1 "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,-3.0,26.0,1.0,30."
                             "0,M0000,0\n",
                 3, "prompt_length: negative value \"-3.0\"");
    expect_error(HEADER "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63,26,1e10,30,M0000,"
                        "0\n",
                 2, "num_images_per_prompt: value \"1e10\" exceeds the limit 1000000000");
    expect_error(HEADER "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63,26,1,thirty,M0000,"
                        "0\n",
                 2, "num_inference_steps: expected a non-negative integer, found \"thirty\"");
    expect_error(HEADER "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63,2x,1,30,M0000,0\n", 2,
                 "negative_prompt_length: expected a non-negative integer");
}

static void
test_exec_time_must_be_non_negative_and_at_most_a_week(void **state)
{
    (void)state;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,604800,G0000,63,,1,30,"
                                  "M0000,0\n",
                           &g_, &err, &st),
                     0);
    assert_int_equal(g_.rows[0].exec, EP_TRACE_MAX_EXEC);
    expect_error(HEADER "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,604800.000000001,G0000,63,,1,30,"
                        "M0000,0\n",
                 2, "exec_time_seconds: duration \"604800.000000001\" exceeds the limit of 7 days");
    expect_error(HEADER "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,-1.0,G0000,63,,1,30,M0000,0\n", 2,
                 "exec_time_seconds: negative duration \"-1.0\"");
    expect_error(HEADER "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,nan,G0000,63,,1,30,M0000,0\n", 2,
                 "exec_time_seconds: expected a number, found \"nan\"");
}

static void
test_bad_datetime_is_an_error(void **state)
{
    (void)state;
    expect_error(HEADER "2024-11-31 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63,,1,30,M0000,0\n", 2,
                 "gmt_create: invalid datetime \"2024-11-31 16:57:50\"");
}

static void
test_bad_utf8_in_a_text_field_is_an_error(void **state)
{
    (void)state;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(HEADER ROW1 "2024-11-15 16:57:50,TXT_\xe2\x28\xa1,SUCCEED,32.0,G0000,63,"
                                       ",1,30,M0000,0\n",
                           &g_, &err, &st),
                     EP_EPARSE);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.col, 2);
    assert_string_equal(err.msg, "invalid UTF-8 in field 2");
}

static void
test_overlong_text_is_an_error(void **state)
{
    (void)state;
    char text[2048];
    char kind[300];
    memset(kind, 'K', 256);
    kind[256] = '\0';
    snprintf(text, sizeof text, HEADER "2024-11-15 16:57:50,%s,SUCCEED,32.0,G0000,63,,1,30,M0,0\n",
             kind);
    expect_error(text, 2, "predict_type: text longer than 255 bytes");
}

static void
test_header_and_column_count_errors(void **state)
{
    (void)state;
    expect_error("", 1, "empty file");
    expect_error(ROW1, 1, "missing header");
    expect_error("gmt_create,predict_type\n", 1, "wrong header: expected \"gmt_create,");
    expect_error(HEADER ROW1 "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED\n", 3,
                 "expected 11 columns, found 3");
}

static void
test_crlf_and_missing_final_newline_are_accepted(void **state)
{
    (void)state;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse("gmt_create,predict_type,predict_status,exec_time_seconds,groupId,"
                           "prompt_length,negative_prompt_length,num_images_per_prompt,num_"
                           "inference_steps,checkpoint_model_version_id,num_lora\r\n"
                           "2024-11-15 16:57:50,TXT_2_IMG,SUCCEED,32.0,G0000,63.0,26.0,1.0,30.0,"
                           "M0000,0\r\n"
                           "2024-11-15 18:16:14,IMG_2_IMG,FAILED,43.25,G0001,93.0,,8.0,40.0,"
                           "M0001,2",
                           &g_, &err, &st),
                     0);
    assert_int_equal(g_.n, 2);
    assert_string_equal(g_.kind[1], "IMG_2_IMG");
    assert_int_equal(g_.rows[1].output, 8);
}

static void
test_real_gentd26_file_parses_with_25_pending_rows_skipped(void **state)
{
    (void)state;
    char path[2048];
    snprintf(path, sizeof path, "%s/traces/alibaba_gentd26_lora_request_trace.csv", EP_SHARED_DIR);
    FILE *f = fopen(path, "rb");
    if (!f)
        skip();
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    ep_parse_error err;
    ep_parse_stats st;
    int rc = parse_len(buf, (size_t)n, &g_, &err, &st);
    free(buf);
    if (rc)
        fail_msg("%ld: %s", err.line, err.msg);
    assert_int_equal(st.rows, 26823 - 25);
    assert_int_equal(st.skipped, 25);
    assert_int_equal(st.lines, 26824);
    assert_int_equal(g_.nskip, 25);
    for (int i = 0; i < 25; i++) {
        assert_true(g_.skip_lines[i] > 1);
        assert_non_null(strstr(g_.skip_reason[i], "pending request with empty"));
    }
    assert_int_equal(g_.rows[0].arrival, ts("2024-11-15 16:57:50"));
    assert_string_equal(g_.kind[0], "TXT_2_IMG");
    assert_int_equal(g_.rows[0].exec, 32 * EP_NS_PER_S);
    assert_int_equal(g_.rows[0].input, 63);
    assert_int_equal(g_.rows[0].output, 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_valid_rows_parse_with_exact_values_and_attrs),
            cmocka_unit_test(test_empty_negative_prompt_length_is_null_in_attrs),
            cmocka_unit_test(test_text_fields_are_json_escaped_in_attrs),
            cmocka_unit_test(test_pending_rows_are_skipped_and_reported_with_their_lines),
            cmocka_unit_test(test_pending_rows_without_skip_callback_are_still_counted),
            cmocka_unit_test(test_sizes_must_be_integral_non_negative_and_bounded),
            cmocka_unit_test(test_exec_time_must_be_non_negative_and_at_most_a_week),
            cmocka_unit_test(test_bad_datetime_is_an_error),
            cmocka_unit_test(test_bad_utf8_in_a_text_field_is_an_error),
            cmocka_unit_test(test_overlong_text_is_an_error),
            cmocka_unit_test(test_header_and_column_count_errors),
            cmocka_unit_test(test_crlf_and_missing_final_newline_are_accepted),
            cmocka_unit_test(test_real_gentd26_file_parses_with_25_pending_rows_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
