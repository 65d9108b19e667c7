/* Tests for the world model helpers (core/model.c): lookups by name (first match, absent,
 * over-long and unterminated names), ep_param_get's parsing and precedence, and
 * ep_scenario_fini freeing every owned array (the sanitizer build checks for leaks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "epara/core/model.h"

static ep_device_spec specs[] = {{.name = "rtx4090"}, {.name = "orin-agx"}, {.name = "rpi5"}};
static ep_node nodes[] = {{.name = "srv0"}, {.name = "srv1"}, {.name = "srv0"}};
static ep_service services[] = {{.name = "llama8b"}, {.name = "segformer"}};

static ep_scenario
small_scenario(void)
{
    ep_scenario sc;
    memset(&sc, 0, sizeof(sc));
    sc.specs = specs;
    sc.nspecs = (int)EP_ARRAY_LEN(specs);
    sc.nodes = nodes;
    sc.nnodes = (int)EP_ARRAY_LEN(nodes);
    sc.services = services;
    sc.nservices = (int)EP_ARRAY_LEN(services);
    return sc;
}

static void
test_find_returns_index_of_named_thing(void **state)
{
    (void)state;
    ep_scenario sc = small_scenario();
    assert_int_equal(ep_scenario_find_spec(&sc, "rtx4090"), 0);
    assert_int_equal(ep_scenario_find_spec(&sc, "rpi5"), 2);
    assert_int_equal(ep_scenario_find_node(&sc, "srv1"), 1);
    assert_int_equal(ep_scenario_find_service(&sc, "segformer"), 1);
}

static void
test_find_returns_first_of_duplicate_names(void **state)
{
    (void)state;
    ep_scenario sc = small_scenario();
    assert_int_equal(ep_scenario_find_node(&sc, "srv0"), 0);
}

static void
test_find_returns_minus_one_when_absent(void **state)
{
    (void)state;
    ep_scenario sc = small_scenario();
    assert_int_equal(ep_scenario_find_spec(&sc, "a100"), -1);
    assert_int_equal(ep_scenario_find_spec(&sc, "rtx"), -1);      /* a prefix */
    assert_int_equal(ep_scenario_find_spec(&sc, "rtx40900"), -1); /* an extension */
    assert_int_equal(ep_scenario_find_node(&sc, ""), -1);
    assert_int_equal(ep_scenario_find_service(&sc, "llama8b "), -1);
    assert_int_equal(ep_scenario_find_service(&sc, NULL), -1);
    ep_scenario empty;
    memset(&empty, 0, sizeof(empty));
    assert_int_equal(ep_scenario_find_service(&empty, "llama8b"), -1);
}

static void
test_find_handles_names_at_and_beyond_field_size(void **state)
{
    (void)state;
    ep_scenario sc = small_scenario();
    ep_service svc[2];
    memset(svc, 0, sizeof(svc));
    char longest[EP_NAME_MAX];
    memset(longest, 'a', sizeof(longest) - 1);
    longest[EP_NAME_MAX - 1] = '\0';
    memcpy(svc[0].name, longest, sizeof(longest));
    memset(svc[1].name, 'b', EP_NAME_MAX); /* unterminated: must not be read past */
    sc.services = svc;
    sc.nservices = 2;
    assert_int_equal(ep_scenario_find_service(&sc, longest), 0);

    char too_long[EP_NAME_MAX + 8];
    memset(too_long, 'b', sizeof(too_long) - 1);
    too_long[sizeof(too_long) - 1] = '\0';
    assert_int_equal(ep_scenario_find_service(&sc, too_long), -1);
    too_long[EP_NAME_MAX] = '\0'; /* exactly EP_NAME_MAX 'b's */
    assert_int_equal(ep_scenario_find_service(&sc, too_long), -1);
    too_long[EP_NAME_MAX - 1] = '\0'; /* a prefix of the unterminated field */
    assert_int_equal(ep_scenario_find_service(&sc, too_long), -1);
}

static const ep_param params[] = {
        {"alpha", "0.25"}, {"beta", "abc"},  {"gamma", "1.5x"}, {"delta", " 2 "},
        {"eps", ""},       {"zeta", "1e3"},  {"eta", "inf"},    {"theta", "nan"},
        {"alpha", "0.5"},  {"iota", "-3.5"}, {"kappa", "0x10"},
};
#define NPARAMS ((int)EP_ARRAY_LEN(params))

static void
test_param_get_parses_values(void **state)
{
    (void)state;
    assert_true(ep_param_get(params, NPARAMS, "delta", -1) == 2.0);
    assert_true(ep_param_get(params, NPARAMS, "zeta", -1) == 1000.0);
    assert_true(ep_param_get(params, NPARAMS, "iota", -1) == -3.5);
    assert_true(ep_param_get(params, NPARAMS, "kappa", -1) == 16.0);
}

static void
test_param_get_last_occurrence_wins(void **state)
{
    (void)state;
    assert_true(ep_param_get(params, NPARAMS, "alpha", -1) == 0.5);
    /* Only the first 8 entries: the earlier value. */
    assert_true(ep_param_get(params, 8, "alpha", -1) == 0.25);
}

static void
test_param_get_returns_default_when_absent_or_unparsable(void **state)
{
    (void)state;
    assert_true(ep_param_get(params, NPARAMS, "missing", 7.0) == 7.0);
    assert_true(ep_param_get(params, NPARAMS, "beta", 7.0) == 7.0);
    assert_true(ep_param_get(params, NPARAMS, "gamma", 7.0) == 7.0);
    assert_true(ep_param_get(params, NPARAMS, "eps", 7.0) == 7.0);
    assert_true(ep_param_get(params, NPARAMS, "eta", 7.0) == 7.0);
    assert_true(ep_param_get(params, NPARAMS, "theta", 7.0) == 7.0);
    assert_true(ep_param_get(params, 0, "alpha", 7.0) == 7.0);
    assert_true(ep_param_get(NULL, 0, "alpha", 7.0) == 7.0);
    assert_true(ep_param_get(params, NPARAMS, NULL, 7.0) == 7.0);
    assert_true(ep_param_get(params, NPARAMS, "alph", 7.0) == 7.0);
}

static void
test_param_get_refuses_unterminated_value(void **state)
{
    (void)state;
    ep_param p;
    memset(&p, 0, sizeof(p));
    strcpy(p.key, "k");
    memset(p.value, '1', sizeof(p.value));
    assert_true(ep_param_get(&p, 1, "k", 7.0) == 7.0);
}

static void
test_fini_frees_everything_and_zeroes(void **state)
{
    (void)state;
    ep_scenario sc;
    memset(&sc, 0, sizeof(sc));
    sc.specs = calloc(2, sizeof(*sc.specs));
    sc.nspecs = 2;
    sc.nodes = calloc(2, sizeof(*sc.nodes));
    sc.nnodes = 2;
    sc.devices = calloc(3, sizeof(*sc.devices));
    sc.ndevices = 3;
    sc.links = calloc(2, sizeof(*sc.links));
    sc.nlinks = 2;
    sc.services = calloc(1, sizeof(*sc.services));
    sc.nservices = 1;
    sc.profiles = calloc(1, sizeof(*sc.profiles));
    sc.nprofiles = 1;
    sc.workloads = calloc(1, sizeof(*sc.workloads));
    sc.nworkloads = 1;
    sc.faults = calloc(4, sizeof(*sc.faults));
    sc.nfaults = 4;
    sc.text = malloc(16);
    assert_non_null(sc.text);
    strcpy(sc.text, "name = x\n");
    strcpy(sc.name, "x");
    sc.nparams = 1;
    sc.mt_slowdown[0] = 1.0;

    ep_scenario_fini(&sc);

    ep_scenario zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&sc, &zero, sizeof(sc));
    ep_scenario_fini(&sc); /* a zeroed scenario finis again */
    ep_scenario_fini(NULL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_find_returns_index_of_named_thing),
            cmocka_unit_test(test_find_returns_first_of_duplicate_names),
            cmocka_unit_test(test_find_returns_minus_one_when_absent),
            cmocka_unit_test(test_find_handles_names_at_and_beyond_field_size),
            cmocka_unit_test(test_param_get_parses_values),
            cmocka_unit_test(test_param_get_last_occurrence_wins),
            cmocka_unit_test(test_param_get_returns_default_when_absent_or_unparsable),
            cmocka_unit_test(test_param_get_refuses_unterminated_value),
            cmocka_unit_test(test_fini_frees_everything_and_zeroes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
