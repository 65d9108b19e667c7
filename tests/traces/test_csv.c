/* Tests for the CSV tokenizer (traces/csv.c) and the shared validation helpers of
 * traces/parse.c: RFC-4180 quoting, LF/CRLF line ends, 1-based line numbers across quoted
 * newlines, stray CR / NUL / quote errors, UTF-8 validation, exact decimal conversion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "epara/core/error.h"
#include "traces/csv.h"
#include "traces/parse_internal.h"

/* Reads every row of text into a flat "a|b|c\n" rendering (field separator |, row
 * separator newline, each row prefixed with its line "L:"). Returns csv_next's last code. */
static int
render(const char *text, size_t len, char *out, size_t cap, ep_parse_error *err)
{
    csv_reader r;
    csv_init(&r, text, len);
    size_t o = 0;
    out[0] = '\0';
    int rc;
    while ((rc = csv_next(&r, err)) == 1) {
        o += (size_t)snprintf(out + o, cap - o, "%ld:", r.line);
        for (size_t i = 0; i < r.nfields; i++)
            o += (size_t)snprintf(out + o, cap - o, "%s%.*s", i ? "|" : "", (int)r.fields[i].len,
                                  r.fields[i].p);
        o += (size_t)snprintf(out + o, cap - o, "\n");
        assert_true(o < cap);
    }
    csv_fini(&r);
    return rc;
}

static void
expect_rows(const char *text, const char *want)
{
    char out[4096];
    ep_parse_error err;
    memset(&err, 0, sizeof err);
    int rc = render(text, strlen(text), out, sizeof out, &err);
    if (rc != 0)
        fail_msg("unexpected error %d at line %ld: %s", rc, err.line, err.msg);
    assert_string_equal(out, want);
}

static void
expect_error(const char *text, size_t len, long line, long col, const char *msg_part)
{
    char out[4096];
    ep_parse_error err;
    memset(&err, 0, sizeof err);
    int rc = render(text, len, out, sizeof out, &err);
    assert_int_equal(rc, EP_EPARSE);
    if (err.line != line || (col >= 0 && err.col != col) || !strstr(err.msg, msg_part))
        fail_msg("got %ld:%ld \"%s\", want %ld:%ld containing \"%s\"", err.line, err.col, err.msg,
                 line, col, msg_part);
}

static void
test_csv_splits_plain_fields_and_numbers_lines_from_one(void **state)
{
    (void)state;
    expect_rows("a,b,c\n1,2,3\n", "1:a|b|c\n2:1|2|3\n");
}

static void
test_csv_last_line_without_newline_still_yields_its_row(void **state)
{
    (void)state;
    expect_rows("a,b\n1,2", "1:a|b\n2:1|2\n");
}

static void
test_csv_crlf_gives_the_same_rows_as_lf(void **state)
{
    (void)state;
    expect_rows("a,b\r\n1,2\r\n3,4", "1:a|b\n2:1|2\n3:3|4\n");
}

static void
test_csv_trailing_blank_lines_are_ignored(void **state)
{
    (void)state;
    expect_rows("a,b\n1,2\n\n", "1:a|b\n2:1|2\n");
    expect_rows("a,b\r\n1,2\r\n\r\n\n", "1:a|b\n2:1|2\n");
}

static void
test_csv_blank_line_inside_the_input_is_a_row_of_one_empty_field(void **state)
{
    (void)state;
    expect_rows("a,b\n\n1,2\n", "1:a|b\n2:\n3:1|2\n");
}

static void
test_csv_empty_fields_and_trailing_comma_are_kept(void **state)
{
    (void)state;
    expect_rows(",a,,\n", "1:|a||\n");
    expect_rows("x,", "1:x|\n");
}

static void
test_csv_quoted_fields_keep_commas_and_unescape_doubled_quotes(void **state)
{
    (void)state;
    expect_rows("\"a,b\",\"say \"\"hi\"\"\",\"\"\n", "1:a,b|say \"hi\"|\n");
    /* escaped fields on consecutive rows each keep their own text */
    expect_rows("\"x\"\"1\",\"y\"\"2\"\n\"z\"\"3\",w\n", "1:x\"1|y\"2\n2:z\"3|w\n");
}

static void
test_csv_quoted_newline_counts_lines_and_crlf_inside_becomes_lf(void **state)
{
    (void)state;
    expect_rows("a,\"line1\nline2\"\nb,c\n", "1:a|line1\nline2\n3:b|c\n");
    expect_rows("a,\"x\r\ny\"\r\nb,c", "1:a|x\ny\n3:b|c\n");
}

static void
test_csv_many_fields_grow_the_row(void **state)
{
    (void)state;
    char text[1024], want[1024];
    size_t o = 0, w = (size_t)snprintf(want, sizeof want, "1:");
    for (int i = 0; i < 100; i++) {
        o += (size_t)snprintf(text + o, sizeof text - o, "%s%d", i ? "," : "", i);
        w += (size_t)snprintf(want + w, sizeof want - w, "%s%d", i ? "|" : "", i);
    }
    snprintf(want + w, sizeof want - w, "\n");
    expect_rows(text, want);
}

static void
test_csv_stray_carriage_return_mid_line_is_an_error(void **state)
{
    (void)state;
    const char *t = "a,b\n1\r2,3\n";
    expect_error(t, strlen(t), 2, 1, "stray carriage return");
    t = "a,b\n1,2\r";
    expect_error(t, strlen(t), 2, 2, "stray carriage return");
    t = "a,\"x\ry\"\n";
    expect_error(t, strlen(t), 1, 2, "stray carriage return");
}

static void
test_csv_unterminated_quote_reports_the_line_it_opened_on(void **state)
{
    (void)state;
    const char *t = "a,b\n1,\"open\n\n";
    expect_error(t, strlen(t), 2, 2, "unterminated quoted field");
}

static void
test_csv_text_after_closing_quote_is_an_error(void **state)
{
    (void)state;
    const char *t = "\"a\"b,c\n";
    expect_error(t, strlen(t), 1, 1, "after closing quote");
}

static void
test_csv_quote_inside_unquoted_field_is_an_error(void **state)
{
    (void)state;
    const char *t = "a,b\nx,y\"z\n";
    expect_error(t, strlen(t), 2, 2, "quote inside unquoted field 2");
}

static void
test_csv_nul_byte_is_an_error(void **state)
{
    (void)state;
    const char t[] = "a,b\n1,2\0x\n";
    expect_error(t, sizeof t - 1, 2, 2, "NUL byte");
}

static void
test_csv_invalid_utf8_reports_line_and_field(void **state)
{
    (void)state;
    const char *t = "a,b\n1,caf\xc3\n";
    expect_error(t, strlen(t), 2, 2, "invalid UTF-8 in field 2");
    t = "a,\"x\ny\xff\"\n";
    expect_error(t, strlen(t), 2, 2, "invalid UTF-8 in field 2");
}

static void
test_csv_valid_multibyte_utf8_is_kept_verbatim(void **state)
{
    (void)state;
    expect_rows("caf\xc3\xa9,\xe2\x82\xac,\xf0\x9f\x98\x80\n",
                "1:caf\xc3\xa9|\xe2\x82\xac|\xf0\x9f\x98\x80\n");
}

static void
test_utf8_check_refuses_overlong_surrogates_and_out_of_range(void **state)
{
    (void)state;
    const char *ok = "plain ascii text longer than eight bytes \xc3\xa9 \xf4\x8f\xbf\xbf";
    assert_int_equal(trace_utf8_check(ok, strlen(ok)), strlen(ok));
    assert_int_equal(trace_utf8_check("ab\xc0\xaf", 4), 2);           /* overlong '/' */
    assert_int_equal(trace_utf8_check("\xe0\x80\xaf", 3), 0);         /* overlong */
    assert_int_equal(trace_utf8_check("\xed\xa0\x80", 3), 0);         /* surrogate */
    assert_int_equal(trace_utf8_check("\xf4\x90\x80\x80", 4), 0);     /* > U+10FFFF */
    assert_int_equal(trace_utf8_check("abcdefghij\xe2\x82", 12), 10); /* truncated */
    assert_int_equal(trace_utf8_check("\x80", 1), 0);                 /* lone continuation */
}

static void
test_decimal_is_exact_rounds_half_up_and_detects_overflow(void **state)
{
    (void)state;
    int64_t v;
    int inexact;
    assert_int_equal(trace_decimal("1.5", 3, 9, &v, &inexact), TRACE_NUM_OK);
    assert_int_equal(v, 1500000000);
    assert_false(inexact);
    assert_int_equal(trace_decimal("0.000000001", 11, 9, &v, NULL), TRACE_NUM_OK);
    assert_int_equal(v, 1);
    assert_int_equal(trace_decimal("0.0000000015", 12, 9, &v, &inexact), TRACE_NUM_OK);
    assert_int_equal(v, 2);
    assert_true(inexact);
    assert_int_equal(trace_decimal("0.00000000049", 13, 9, &v, NULL), TRACE_NUM_OK);
    assert_int_equal(v, 0);
    assert_int_equal(trace_decimal("1e3", 3, 0, &v, NULL), TRACE_NUM_OK);
    assert_int_equal(v, 1000);
    assert_int_equal(trace_decimal("2.5E-1", 6, 3, &v, NULL), TRACE_NUM_OK);
    assert_int_equal(v, 250);
    assert_int_equal(trace_decimal("9223372036854775807", 19, 0, &v, NULL), TRACE_NUM_OK);
    assert_int_equal(v, INT64_MAX);
    assert_int_equal(trace_decimal("9223372036854775808", 19, 0, &v, NULL), TRACE_NUM_RANGE);
    assert_int_equal(trace_decimal("9223372037", 10, 9, &v, NULL), TRACE_NUM_RANGE);
    assert_int_equal(trace_decimal("1e999999999", 11, 0, &v, NULL), TRACE_NUM_RANGE);
    assert_int_equal(trace_decimal("0e999999999", 11, 0, &v, NULL), TRACE_NUM_OK);
    assert_int_equal(v, 0);
    assert_int_equal(trace_decimal("1.000000000000000000000000", 26, 0, &v, &inexact),
                     TRACE_NUM_OK);
    assert_int_equal(v, 1);
    assert_false(inexact);
    assert_int_equal(trace_decimal("-1", 2, 0, &v, NULL), TRACE_NUM_NEGATIVE);
    assert_int_equal(trace_decimal("-x", 2, 0, &v, NULL), TRACE_NUM_SYNTAX);
    assert_int_equal(trace_decimal("", 0, 0, &v, NULL), TRACE_NUM_SYNTAX);
    assert_int_equal(trace_decimal(".", 1, 0, &v, NULL), TRACE_NUM_SYNTAX);
    assert_int_equal(trace_decimal("1e", 2, 0, &v, NULL), TRACE_NUM_SYNTAX);
    assert_int_equal(trace_decimal(" 1", 2, 0, &v, NULL), TRACE_NUM_SYNTAX);
    assert_int_equal(trace_decimal("0x10", 4, 0, &v, NULL), TRACE_NUM_SYNTAX);
    assert_int_equal(trace_decimal("inf", 3, 0, &v, NULL), TRACE_NUM_SYNTAX);
}

static void
test_snippet_escapes_and_truncates(void **state)
{
    (void)state;
    char buf[16];
    trace_snippet("a\"b\n", 4, buf, sizeof buf);
    assert_string_equal(buf, "\"a\\\"b\\x0a\"");
    trace_snippet("abcdefghijklmnopqrstuvwxyz", 26, buf, sizeof buf);
    assert_true(strlen(buf) < sizeof buf);
    assert_non_null(strstr(buf, "\"..."));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_csv_splits_plain_fields_and_numbers_lines_from_one),
            cmocka_unit_test(test_csv_last_line_without_newline_still_yields_its_row),
            cmocka_unit_test(test_csv_crlf_gives_the_same_rows_as_lf),
            cmocka_unit_test(test_csv_trailing_blank_lines_are_ignored),
            cmocka_unit_test(test_csv_blank_line_inside_the_input_is_a_row_of_one_empty_field),
            cmocka_unit_test(test_csv_empty_fields_and_trailing_comma_are_kept),
            cmocka_unit_test(test_csv_quoted_fields_keep_commas_and_unescape_doubled_quotes),
            cmocka_unit_test(test_csv_quoted_newline_counts_lines_and_crlf_inside_becomes_lf),
            cmocka_unit_test(test_csv_many_fields_grow_the_row),
            cmocka_unit_test(test_csv_stray_carriage_return_mid_line_is_an_error),
            cmocka_unit_test(test_csv_unterminated_quote_reports_the_line_it_opened_on),
            cmocka_unit_test(test_csv_text_after_closing_quote_is_an_error),
            cmocka_unit_test(test_csv_quote_inside_unquoted_field_is_an_error),
            cmocka_unit_test(test_csv_nul_byte_is_an_error),
            cmocka_unit_test(test_csv_invalid_utf8_reports_line_and_field),
            cmocka_unit_test(test_csv_valid_multibyte_utf8_is_kept_verbatim),
            cmocka_unit_test(test_utf8_check_refuses_overlong_surrogates_and_out_of_range),
            cmocka_unit_test(test_decimal_is_exact_rounds_half_up_and_detects_overflow),
            cmocka_unit_test(test_snippet_escapes_and_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
