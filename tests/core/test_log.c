/* Tests for leveled logging (core/log.c): messages above the set level are dropped, the
 * custom sink receives the formatted text and level, and level names parse. Restores the
 * default level and sink after each test (the logger is process-wide). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "epara/core/error.h"
#include "epara/core/log.h"

typedef struct capture {
    int calls;
    enum ep_log_level level;
    char msg[256];
} capture;

static void
capture_sink(void *ctx, enum ep_log_level level, const char *msg)
{
    capture *c = ctx;
    c->calls++;
    c->level = level;
    strncpy(c->msg, msg, sizeof c->msg - 1);
    c->msg[sizeof c->msg - 1] = '\0';
}

static int
restore(void **state)
{
    (void)state;
    ep_log_set_level(EP_LOG_INFO);
    ep_log_set_sink(NULL, NULL);
    return 0;
}

static void
test_default_level_is_info(void **state)
{
    (void)state;
    assert_int_equal(ep_log_get_level(), EP_LOG_INFO);
}

static void
test_sink_receives_formatted_message_and_level(void **state)
{
    (void)state;
    capture c = {0};
    ep_log_set_sink(capture_sink, &c);
    ep_log(EP_LOG_WARN, "disk %s at %d%%", "full", 97);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.level, EP_LOG_WARN);
    assert_string_equal(c.msg, "disk full at 97%");
    EP_LOG_ERR("e%d", 1);
    assert_int_equal(c.calls, 2);
    assert_int_equal(c.level, EP_LOG_ERROR);
    assert_string_equal(c.msg, "e1");
}

static void
test_messages_above_the_level_are_dropped(void **state)
{
    (void)state;
    capture c = {0};
    ep_log_set_sink(capture_sink, &c);
    ep_log_set_level(EP_LOG_WARN);
    assert_int_equal(ep_log_get_level(), EP_LOG_WARN);
    EP_LOG_INF("info");
    EP_LOG_DBG("debug");
    ep_log(EP_LOG_TRACE, "trace");
    assert_int_equal(c.calls, 0);
    EP_LOG_WARNING("warn");
    EP_LOG_ERR("error");
    assert_int_equal(c.calls, 2);

    ep_log_set_level(EP_LOG_TRACE);
    ep_log(EP_LOG_TRACE, "trace");
    assert_int_equal(c.calls, 3);
    assert_string_equal(c.msg, "trace");

    ep_log_set_level(EP_LOG_ERROR);
    EP_LOG_WARNING("dropped");
    EP_LOG_ERR("kept");
    assert_int_equal(c.calls, 4);
    assert_string_equal(c.msg, "kept");
}

static void
test_long_messages_are_truncated_not_overflowed(void **state)
{
    (void)state;
    capture c = {0};
    char big[4000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ep_log_set_sink(capture_sink, &c);
    ep_log(EP_LOG_ERROR, "%s", big);
    assert_int_equal(c.calls, 1);
    assert_int_equal(strlen(c.msg), sizeof c.msg - 1);
}

static void
test_level_names_parse(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum ep_log_level level;
    } ok[] = {{"error", EP_LOG_ERROR}, {"warn", EP_LOG_WARN},   {"warning", EP_LOG_WARN},
              {"info", EP_LOG_INFO},   {"debug", EP_LOG_DEBUG}, {"trace", EP_LOG_TRACE}};
    for (size_t i = 0; i < EP_ARRAY_LEN(ok); i++) {
        enum ep_log_level l = EP_LOG_ERROR;
        assert_int_equal(ep_log_level_parse(ok[i].name, &l), 0);
        assert_int_equal(l, ok[i].level);
    }
    enum ep_log_level l = EP_LOG_DEBUG;
    assert_int_equal(ep_log_level_parse("", &l), EP_EINVAL);
    assert_int_equal(ep_log_level_parse("INFO", &l), EP_EINVAL);
    assert_int_equal(ep_log_level_parse("verbose", &l), EP_EINVAL);
    assert_int_equal(ep_log_level_parse("info ", &l), EP_EINVAL);
    assert_int_equal(l, EP_LOG_DEBUG); /* untouched on error */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_teardown(test_default_level_is_info, restore),
            cmocka_unit_test_teardown(test_sink_receives_formatted_message_and_level, restore),
            cmocka_unit_test_teardown(test_messages_above_the_level_are_dropped, restore),
            cmocka_unit_test_teardown(test_long_messages_are_truncated_not_overflowed, restore),
            cmocka_unit_test_teardown(test_level_names_parse, restore),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
