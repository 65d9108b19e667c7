/* Deployment files (epara/exec/deploy.h): every process's address read from one file, nodes
 * by name or index, and each mistake refused with the file, the line and what is wrong. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "epara/core/error.h"
#include "epara/exec/deploy.h"
#include "epara/experiments/scenario.h"

/* The embedded default scenario: 12 nodes, server-1 first. */
static int
setup(void **state)
{
    ep_scenario *sc = calloc(1, sizeof *sc);
    size_t len;
    const char *text = ep_scenario_default_text(&len);
    ep_parse_error pe;
    if (!sc || ep_scenario_load_text(text, len, "edge-default", ".", sc, &pe) != 0)
        return -1;
    *state = sc;
    return 0;
}

static int
teardown(void **state)
{
    ep_scenario_fini(*state);
    free(*state);
    return 0;
}

/* A complete file for sc: node k on 10.0.0.(k + 2), port 7402 + k, the first by name; then
 * extra (may be ""). */
static char *
full_file(const ep_scenario *sc, const char *extra)
{
    size_t cap = 4096 + strlen(extra);
    char *t = malloc(cap);
    assert_non_null(t);
    int n = snprintf(t, cap, "# a lab\ncontroller 10.0.0.1:7400\nloadgen lab-gw.example:7401\n");
    for (int k = 0; k < sc->nnodes; k++) {
        char who[EP_NAME_MAX];
        if (k == 0)
            snprintf(who, sizeof who, "%s", sc->nodes[0].name);
        else
            snprintf(who, sizeof who, "%d", k);
        n += snprintf(t + n, cap - (size_t)n, "node %s 10.0.0.%d:%d  # comment\n", who, k + 2,
                      7402 + k);
    }
    snprintf(t + n, cap - (size_t)n, "%s", extra);
    return t;
}

static void
test_every_process_gets_the_address_its_line_names(void **state)
{
    const ep_scenario *sc = *state;
    char *t = full_file(sc, "\n   \n");
    ep_deploy *d = NULL;
    char err[256] = "";
    assert_int_equal(ep_deploy_parse(t, strlen(t), "lab.deploy", sc, &d, err, sizeof err), 0);
    assert_string_equal(ep_deploy_url(d, EP_LIVE_CONTROLLER, -1), "tcp://10.0.0.1:7400");
    assert_string_equal(ep_deploy_url(d, EP_LIVE_LOADGEN, -1), "tcp://lab-gw.example:7401");
    assert_string_equal(ep_deploy_url(d, EP_LIVE_NODE, 0), "tcp://10.0.0.2:7402");
    char want[64];
    snprintf(want, sizeof want, "tcp://10.0.0.%d:%d", sc->nnodes + 1, 7402 + sc->nnodes - 1);
    assert_string_equal(ep_deploy_url(d, EP_LIVE_NODE, sc->nnodes - 1), want);
    /* Each process's line, for messages about its address (a comment is line 1). */
    char where[64];
    assert_string_equal(ep_deploy_where(d, EP_LIVE_CONTROLLER, -1, where, sizeof where),
                        "lab.deploy:2");
    assert_string_equal(ep_deploy_where(d, EP_LIVE_LOADGEN, -1, where, sizeof where),
                        "lab.deploy:3");
    snprintf(want, sizeof want, "lab.deploy:%d", sc->nnodes + 3);
    assert_string_equal(ep_deploy_where(d, EP_LIVE_NODE, sc->nnodes - 1, where, sizeof where),
                        want);
    ep_deploy_free(d);
    free(t);
}

/* The error for a complete file with `extra` appended (or, when replace is given, with the
 * first occurrence of replace changed to with). */
static void
expect_error(const ep_scenario *sc, const char *extra, const char *replace, const char *with,
             const char *want)
{
    char *t = full_file(sc, extra);
    if (replace) {
        char *at = strstr(t, replace);
        assert_non_null(at);
        size_t rl = strlen(replace), wl = strlen(with), tl = strlen(t);
        char *u = malloc(tl - rl + wl + 1);
        assert_non_null(u);
        memcpy(u, t, (size_t)(at - t));
        memcpy(u + (at - t), with, wl);
        strcpy(u + (at - t) + wl, at + rl);
        free(t);
        t = u;
    }
    ep_deploy *d = (ep_deploy *)1;
    char err[256] = "";
    assert_int_equal(ep_deploy_parse(t, strlen(t), "lab.deploy", sc, &d, err, sizeof err),
                     EP_EPARSE);
    assert_null(d);
    if (!strstr(err, want))
        fail_msg("error '%s' lacks '%s'", err, want);
    free(t);
}

static void
test_mistakes_are_refused_with_file_line_and_problem(void **state)
{
    const ep_scenario *sc = *state;
    int last = 3 + sc->nnodes; /* the line after the complete file */
    char at[64];
    snprintf(at, sizeof at, "lab.deploy:%d: this process is named twice", last + 1);
    expect_error(sc, "controller 10.0.0.9:1\n", NULL, NULL, at);
    snprintf(at, sizeof at, "lab.deploy:%d: no such node", last + 1);
    expect_error(sc, "node nowhere 10.0.0.9:1\n", NULL, NULL, at);
    expect_error(sc, "worker 10.0.0.9:1\n", NULL, NULL, "begins with controller, loadgen or node");
    expect_error(sc, "", "10.0.0.1:7400", "10.0.0.1:70000", "lab.deploy:2: port is not");
    expect_error(sc, "", "10.0.0.1:7400", "10.0.0.1", "lab.deploy:2: expected HOST:PORT");
    expect_error(sc, "", "10.0.0.1:7400", "10.0.0.1:7400 extra", "lab.deploy:2: expected");
    expect_error(sc, "", "10.0.0.1:7400", "bad_host:7400", "lab.deploy:2: a host is");
    expect_error(sc, "", "10.0.0.1:7400", "10.0.0.2:7402", "used by another process");
    expect_error(sc, "", "loadgen lab-gw.example:7401\n", "",
                 "lab.deploy: no line for the loadgen");
    char node1[EP_NAME_MAX + 32];
    snprintf(node1, sizeof node1, "no line for node 1 (%s)", sc->nodes[1].name);
    expect_error(sc, "", "node 1 ", "# node 1 ", node1);
}

static void
test_a_missing_file_is_an_io_error_naming_it(void **state)
{
    ep_deploy *d = NULL;
    char err[256] = "";
    assert_int_equal(ep_deploy_load("/nonexistent/lab.deploy", *state, &d, err, sizeof err),
                     EP_EIO);
    assert_null(d);
    assert_non_null(strstr(err, "/nonexistent/lab.deploy"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_every_process_gets_the_address_its_line_names),
            cmocka_unit_test(test_mistakes_are_refused_with_file_line_and_problem),
            cmocka_unit_test(test_a_missing_file_is_an_io_error_naming_it),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
