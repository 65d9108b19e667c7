/* Tests for time helpers (core/time.c): exact datetime parsing to ns (every fractional
 * digit kept, impossible dates and trailing bytes refused), round trips through the
 * formatter, and seconds-to-ns conversion with rounding and range errors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "epara/core/error.h"
#include "epara/core/rng.h"
#include "epara/core/time.h"

static ep_time
parse_ok(const char *s)
{
    ep_time t = -12345;
    int rv = ep_time_parse_datetime(s, strlen(s), &t);
    if (rv != 0)
        fail_msg("refused \"%s\" (%d)", s, rv);
    return t;
}

static void
parse_refused(const char *s)
{
    ep_time t = -12345;
    int rv = ep_time_parse_datetime(s, strlen(s), &t);
    if (rv != EP_EPARSE)
        fail_msg("accepted \"%s\" as %lld (rv %d)", s, (long long)t, rv);
    assert_int_equal(t, -12345); /* out-parameter untouched on error */
}

static void
test_parse_keeps_azure_100ns_digits_exactly(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2023-11-16 18:17:03.9799600"), INT64_C(1700158623979960000));
    assert_int_equal(parse_ok("2023-11-16 18:17:03.9799601"), INT64_C(1700158623979960100));
}

static void
test_parse_accepts_nine_digits_t_separator_and_z(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("1970-01-01 00:00:00"), 0);
    assert_int_equal(parse_ok("1970-01-01T00:00:00.000000001Z"), 1);
    assert_int_equal(parse_ok("2023-11-16T18:17:03.123456789"), INT64_C(1700158623123456789));
    assert_int_equal(parse_ok("2023-11-16 18:17:03Z"), INT64_C(1700158623000000000));
    assert_int_equal(parse_ok("2023-11-16 18:17:03.5"), INT64_C(1700158623500000000));
    assert_int_equal(parse_ok("1969-12-31 23:59:59.999999999"), -1);
}

static void
test_parse_handles_leap_days(void **state)
{
    (void)state;
    /* 2024-02-29 00:00:00 UTC = 1709164800 s. */
    assert_int_equal(parse_ok("2024-02-29 00:00:00"), INT64_C(1709164800) * EP_NS_PER_S);
    assert_int_equal(parse_ok("2000-02-29 00:00:00"), INT64_C(951782400) * EP_NS_PER_S);
    parse_refused("2023-02-29 00:00:00");
    parse_refused("1900-02-29 00:00:00"); /* century, not a leap year */
    parse_refused("2023-04-31 00:00:00");
    parse_refused("2023-02-30 00:00:00");
}

static void
test_parse_refuses_malformed_text(void **state)
{
    (void)state;
    parse_refused("");
    parse_refused("2023-11-16");
    parse_refused("2023-11-16 18:17:03 ");           /* trailing space */
    parse_refused("2023-11-16 18:17:03.97x");        /* trailing garbage */
    parse_refused("2023-11-16 18:17:03Zx");          /* bytes after Z */
    parse_refused("2023-11-16 18:17:03.");           /* no digits after the point */
    parse_refused("2023-11-16 18:17:03.1234567891"); /* 10 fractional digits */
    parse_refused("2023-11-16_18:17:03");
    parse_refused("2023/11/16 18:17:03");
    parse_refused("2023-13-16 18:17:03");
    parse_refused("2023-00-16 18:17:03");
    parse_refused("2023-11-00 18:17:03");
    parse_refused("2023-11-16 24:00:00");
    parse_refused("2023-11-16 18:60:03");
    parse_refused("2023-11-16 18:17:60");
    parse_refused("2023-11-16 1a:17:03");
    parse_refused("+023-11-16 18:17:03");
}

static void
test_parse_refuses_years_outside_int64_range(void **state)
{
    (void)state;
    parse_refused("1677-12-31 23:59:59");
    parse_refused("2262-01-01 00:00:00");
    parse_refused("0000-01-01 00:00:00");
    parse_refused("9999-12-31 23:59:59");
    assert_true(parse_ok("1678-01-01 00:00:00") < 0);
    assert_true(parse_ok("2261-12-31 23:59:59.999999999") > 0);
}

static void
test_parse_reads_exactly_len_bytes(void **state)
{
    (void)state;
    const char *s = "2023-11-16 18:17:03.5,123";
    ep_time t;
    assert_int_equal(ep_time_parse_datetime(s, 21, &t), 0);
    assert_int_equal(t, INT64_C(1700158623500000000));
    assert_int_equal(ep_time_parse_datetime(s, 22, &t), EP_EPARSE);
    assert_int_equal(ep_time_parse_datetime(s, 0, &t), EP_EPARSE);
}

static void
test_format_gives_nine_digit_utc_text(void **state)
{
    (void)state;
    char buf[EP_DATETIME_BUFLEN];
    ep_time_format_datetime(INT64_C(1700158623979960000), buf);
    assert_string_equal(buf, "2023-11-16 18:17:03.979960000");
    ep_time_format_datetime(0, buf);
    assert_string_equal(buf, "1970-01-01 00:00:00.000000000");
    ep_time_format_datetime(-1, buf);
    assert_string_equal(buf, "1969-12-31 23:59:59.999999999");
}

static void
test_format_and_parse_round_trip_random_times(void **state)
{
    (void)state;
    ep_rng r;
    assert_int_equal(ep_rng_init(&r, 2024, 1), 0);
    /* Whole seconds in 1678-01-01 00:00:00 .. 2261-12-31 23:59:59 (the parser's range),
     * plus a random ns part. */
    const int64_t lo_s = INT64_C(-9214560000), hi_s = INT64_C(9214646399);
    const uint64_t span = (uint64_t)(hi_s - lo_s) + 1;
    char buf[EP_DATETIME_BUFLEN];
    for (int i = 0; i < 20000; i++) {
        uint64_t hi32 = ep_rng_uniform_int(&r, UINT64_C(1) << 32);
        uint64_t lo32 = ep_rng_uniform_int(&r, UINT64_C(1) << 32);
        int64_t secs = lo_s + (int64_t)(((hi32 << 32) | lo32) % span);
        ep_time t = secs * EP_NS_PER_S + (int64_t)ep_rng_uniform_int(&r, EP_NS_PER_S);
        ep_time_format_datetime(t, buf);
        ep_time back;
        if (ep_time_parse_datetime(buf, strlen(buf), &back) != 0 || back != t)
            fail_msg("%lld formatted as %s did not round-trip", (long long)t, buf);
    }
    ep_rng_fini(&r);
}

static void
test_days_from_civil_matches_known_dates(void **state)
{
    (void)state;
    assert_int_equal(ep_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(ep_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(ep_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(ep_days_from_civil(2024, 2, 29), 19782);
}

static void
test_dur_from_s_rounds_to_nearest_ns(void **state)
{
    (void)state;
    ep_dur d = -7;
    assert_int_equal(ep_dur_from_s(1.5, &d), 0);
    assert_int_equal(d, INT64_C(1500000000));
    assert_int_equal(ep_dur_from_s(0.1, &d), 0);
    assert_int_equal(d, INT64_C(100000000));
    assert_int_equal(ep_dur_from_s(1.4e-9, &d), 0);
    assert_int_equal(d, 1);
    assert_int_equal(ep_dur_from_s(1.6e-9, &d), 0);
    assert_int_equal(d, 2);
    assert_int_equal(ep_dur_from_s(-2.25, &d), 0);
    assert_int_equal(d, INT64_C(-2250000000));
    assert_int_equal(ep_dur_from_s(0.0, &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(ep_dur_from_s(86400.0 * 365 * 100, &d), 0); /* a century fits */
    assert_int_equal(d, INT64_C(3153600000000000000));
    assert_true(fabs(ep_dur_to_s(INT64_C(2500000000)) - 2.5) < 1e-12);
}

static void
test_dur_from_s_refuses_inf_nan_and_huge_values(void **state)
{
    (void)state;
    ep_dur d = 42;
    assert_int_equal(ep_dur_from_s(INFINITY, &d), EP_ERANGE);
    assert_int_equal(ep_dur_from_s(-INFINITY, &d), EP_ERANGE);
    assert_int_equal(ep_dur_from_s(NAN, &d), EP_ERANGE);
    assert_int_equal(ep_dur_from_s(1e10, &d), EP_ERANGE); /* ~317 years */
    assert_int_equal(ep_dur_from_s(-1e10, &d), EP_ERANGE);
    assert_int_equal(ep_dur_from_s(1e300, &d), EP_ERANGE);
    assert_int_equal(d, 42);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_parse_keeps_azure_100ns_digits_exactly),
            cmocka_unit_test(test_parse_accepts_nine_digits_t_separator_and_z),
            cmocka_unit_test(test_parse_handles_leap_days),
            cmocka_unit_test(test_parse_refuses_malformed_text),
            cmocka_unit_test(test_parse_refuses_years_outside_int64_range),
            cmocka_unit_test(test_parse_reads_exactly_len_bytes),
            cmocka_unit_test(test_format_gives_nine_digit_utc_text),
            cmocka_unit_test(test_format_and_parse_round_trip_random_times),
            cmocka_unit_test(test_days_from_civil_matches_known_dates),
            cmocka_unit_test(test_dur_from_s_rounds_to_nearest_ns),
            cmocka_unit_test(test_dur_from_s_refuses_inf_nan_and_huge_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
