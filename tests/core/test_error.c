/* Tests for the error table (core/error.c): every code in EP_ERRORS has its own non-empty
 * text, codes are distinct and negative (EP_OK is 0), and unknown codes get a fixed text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "epara/core/error.h"

static const int codes[] = {
#define CODE_(name, value, text) name,
        EP_ERRORS(CODE_)
#undef CODE_
};

static const char *const texts[] = {
#define TEXT_(name, value, text) text,
        EP_ERRORS(TEXT_)
#undef TEXT_
};

static void
test_every_code_has_its_table_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < EP_ARRAY_LEN(codes); i++) {
        const char *s = ep_strerror(codes[i]);
        assert_non_null(s);
        assert_true(strlen(s) > 0);
        assert_string_equal(s, texts[i]);
        assert_string_not_equal(s, "unknown error");
    }
}

static void
test_every_code_has_distinct_text_and_value(void **state)
{
    (void)state;
    for (size_t i = 0; i < EP_ARRAY_LEN(codes); i++) {
        for (size_t j = i + 1; j < EP_ARRAY_LEN(codes); j++) {
            assert_int_not_equal(codes[i], codes[j]);
            assert_string_not_equal(ep_strerror(codes[i]), ep_strerror(codes[j]));
        }
    }
}

static void
test_ok_is_zero_and_errors_are_negative(void **state)
{
    (void)state;
    assert_int_equal(EP_OK, 0);
    assert_string_equal(ep_strerror(0), "success");
    for (size_t i = 1; i < EP_ARRAY_LEN(codes); i++)
        assert_true(codes[i] < 0);
    assert_string_equal(ep_strerror(EP_EINVAL), "invalid argument");
}

static void
test_unknown_codes_get_unknown_error_text(void **state)
{
    (void)state;
    assert_string_equal(ep_strerror(1), "unknown error");
    assert_string_equal(ep_strerror(-1000), "unknown error");
    assert_string_equal(ep_strerror(INT32_MIN), "unknown error");
    assert_string_equal(ep_strerror(INT32_MAX), "unknown error");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_code_has_its_table_text),
            cmocka_unit_test(test_every_code_has_distinct_text_and_value),
            cmocka_unit_test(test_ok_is_zero_and_errors_are_negative),
            cmocka_unit_test(test_unknown_codes_get_unknown_error_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
