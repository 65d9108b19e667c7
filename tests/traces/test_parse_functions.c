/* Tests for the azure-functions parser (traces/parse_azure.c): header checks, per-minute
 * counts expanded into arrivals by the uniform / even / poisson rules (counts kept exactly,
 * arrivals inside their minute and in time order, seeded and per-function deterministic). */
#include <math.h>
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

#define NS_PER_MIN (60 * EP_NS_PER_S)

typedef struct arrival {
    ep_time t;
    int64_t stream;
    long line;
} arrival;

typedef struct got {
    arrival *a;
    size_t n, cap;
    char kind[4][64];
    char attrs[4][512];
} got;

static int
sink(void *ctx, const ep_trace_row *row, long line)
{
    got *g = ctx;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 1024;
        g->a = realloc(g->a, g->cap * sizeof *g->a);
        assert_non_null(g->a);
    }
    g->a[g->n++] = (arrival){row->arrival, row->stream, line};
    assert_int_equal(row->input, EP_TRACE_NONE);
    assert_int_equal(row->output, EP_TRACE_NONE);
    assert_int_equal(row->exec, EP_TRACE_NONE);
    assert_non_null(row->attrs);
    if (row->stream >= 0 && row->stream < 4) {
        snprintf(g->kind[row->stream], sizeof g->kind[0], "%s", row->kind ? row->kind : "(null)");
        snprintf(g->attrs[row->stream], sizeof g->attrs[0], "%s", row->attrs);
    }
    return 0;
}

static int
parse(const char *text, ep_expand_rule rule, uint64_t seed, got *g, ep_parse_error *err,
      ep_parse_stats *st)
{
    memset(g, 0, sizeof *g);
    memset(err, 0, sizeof *err);
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_AZURE_FUNCTIONS;
    o.expand = rule;
    o.seed = seed;
    o.ctx = g;
    return ep_trace_parse(text, strlen(text), &o, sink, err, st);
}

static void
got_free(got *g)
{
    free(g->a);
    g->a = NULL;
}

/* A file of `fns` functions over `minutes` minutes; count(f, m) gives each cell. */
static char *
make_file(int fns, int minutes, int64_t (*count)(int f, int m))
{
    size_t cap = 256 + (size_t)fns * (200 + (size_t)minutes * 12) + (size_t)minutes * 8;
    char *s = malloc(cap);
    assert_non_null(s);
    size_t o = (size_t)snprintf(s, cap, "HashOwner,HashApp,HashFunction,Trigger");
    for (int m = 1; m <= minutes; m++)
        o += (size_t)snprintf(s + o, cap - o, ",%d", m);
    o += (size_t)snprintf(s + o, cap - o, "\n");
    for (int f = 0; f < fns; f++) {
        o += (size_t)snprintf(s + o, cap - o, "own%d,app%d,fn%d,%s", f, f, f,
                              f % 2 ? "http" : "timer");
        for (int m = 0; m < minutes; m++)
            o += (size_t)snprintf(s + o, cap - o, ",%lld", (long long)count(f, m));
        o += (size_t)snprintf(s + o, cap - o, "\n");
    }
    assert_true(o < cap);
    return s;
}

static int64_t
varied(int f, int m)
{
    return (f * 7 + m * 13) % 23; /* includes zeros and counts up to 22 */
}

static int64_t
ten(int f, int m)
{
    (void)f;
    (void)m;
    return 10;
}

static void
check_counts_order_and_bounds(const got *g, int fns, int minutes, int64_t (*count)(int, int),
                              int exact_counts)
{
    size_t i = 0;
    for (int f = 0; f < fns; f++) {
        for (int m = 0; m < minutes; m++) {
            int64_t c = 0;
            while (i < g->n && g->a[i].stream == f && g->a[i].t < (m + 1) * NS_PER_MIN) {
                assert_true(g->a[i].t >= m * NS_PER_MIN);
                if (i > 0 && g->a[i - 1].stream == f)
                    assert_true(g->a[i].t >= g->a[i - 1].t);
                assert_int_equal(g->a[i].line, f + 2);
                c++;
                i++;
            }
            if (exact_counts && c != count(f, m))
                fail_msg("function %d minute %d: %lld arrivals, want %lld", f, m + 1, (long long)c,
                         (long long)count(f, m));
        }
    }
    assert_int_equal(i, g->n);
}

static void
test_header_with_any_number_of_consecutive_minutes_is_accepted(void **state)
{
    (void)state;
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse("HashOwner,HashApp,HashFunction,Trigger,1\no,a,f,http,2\n",
                           EP_EXPAND_EVEN, 1, &g, &err, &st),
                     0);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.a[0].t, 15 * EP_NS_PER_S);
    assert_int_equal(g.a[1].t, 45 * EP_NS_PER_S);
    assert_int_equal(g.a[0].stream, 0);
    assert_string_equal(g.kind[0], "http");
    assert_string_equal(g.attrs[0], "{\"owner\":\"o\",\"app\":\"a\",\"function\":\"f\"}");
    assert_int_equal(st.rows, 2);
    assert_int_equal(st.lines, 2);
    got_free(&g);
}

static void
test_header_errors_are_reported_on_line_1(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
    } cases[] = {
            {"", "empty file"},
            {"HashOwner,HashApp,HashFunction,Trigger\n", "found only 4 columns"},
            {"HashOwner,HashApp,Function,Trigger,1\n", "found \"Function\" in column 3"},
            {"HashOwner,HashApp,HashFunction,Trigger,1,3\n",
             "column 6 should be minute \"2\", found \"3\""},
            {"HashOwner,HashApp,HashFunction,Trigger,0\n",
             "column 5 should be minute \"1\", found \"0\""},
            {"0123456789abcdef0123,aa,bb,http,1,2\n", "missing header"},
    };
    for (size_t i = 0; i < EP_ARRAY_LEN(cases); i++) {
        got g;
        ep_parse_error err;
        ep_parse_stats st;
        assert_int_equal(parse(cases[i].text, EP_EXPAND_UNIFORM, 1, &g, &err, &st), EP_EPARSE);
        if (err.line != 1 || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: got %ld \"%s\", want 1 containing \"%s\"", i, err.line, err.msg,
                     cases[i].msg);
        got_free(&g);
    }
}

static void
test_row_errors_carry_their_line_and_minute(void **state)
{
    (void)state;
    static const struct {
        const char *text, *msg;
        long line;
    } cases[] = {
            {"HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,1,2\no,a,f,http,1\n",
             "expected 6 columns, found 5", 3},
            {"HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,1,-2\n",
             "minute 2: negative value \"-2\"", 2},
            {"HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,x,2\n",
             "minute 1: expected a non-negative integer, found \"x\"", 2},
            {"HashOwner,HashApp,HashFunction,Trigger,1,2\no,a,f,http,1,10000001\n",
             "minute 2: value \"10000001\" exceeds the limit 10000000", 2},
            {"HashOwner,HashApp,HashFunction,Trigger,1\no,a,f,ht\xfftp,1\n",
             "invalid UTF-8 in field 4", 2},
            {"HashOwner,HashApp,HashFunction,Trigger,1\r\no,a,f,http,1\r\no,a,f,http,1\r,\n",
             "stray carriage return", 3},
    };
    for (size_t i = 0; i < EP_ARRAY_LEN(cases); i++) {
        got g;
        ep_parse_error err;
        ep_parse_stats st;
        assert_int_equal(parse(cases[i].text, EP_EXPAND_UNIFORM, 1, &g, &err, &st), EP_EPARSE);
        if (err.line != cases[i].line || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: got %ld \"%s\", want %ld containing \"%s\"", i, err.line, err.msg,
                     cases[i].line, cases[i].msg);
        got_free(&g);
    }
}

static void
test_uniform_keeps_counts_per_minute_exactly_within_their_minute(void **state)
{
    (void)state;
    char *text = make_file(5, 30, varied);
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(text, EP_EXPAND_UNIFORM, 7, &g, &err, &st), 0);
    check_counts_order_and_bounds(&g, 5, 30, varied, 1);
    assert_int_equal(st.rows, (long)g.n);
    assert_int_equal(st.lines, 6);
    assert_string_equal(g.kind[0], "timer");
    assert_string_equal(g.kind[1], "http");
    assert_string_equal(g.attrs[3], "{\"owner\":\"own3\",\"app\":\"app3\",\"function\":\"fn3\"}");
    got_free(&g);
    free(text);
}

static void
test_even_keeps_counts_and_spaces_arrivals_evenly(void **state)
{
    (void)state;
    char *text = make_file(3, 20, varied);
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(text, EP_EXPAND_EVEN, 7, &g, &err, &st), 0);
    check_counts_order_and_bounds(&g, 3, 20, varied, 1);
    /* function 0, minute 2 (index 1) has 13 arrivals at (k + 0.5) * 60 s / 13 */
    size_t i = 0;
    while (g.a[i].t < NS_PER_MIN)
        i++;
    for (int k = 0; k < 13; k++)
        assert_int_equal(g.a[i + (size_t)k].t, NS_PER_MIN + (2 * k + 1) * NS_PER_MIN / 26);
    got_free(&g);
    free(text);
}

static void
test_poisson_arrivals_stay_in_their_minute_with_mean_close_to_count(void **state)
{
    (void)state;
    char *text = make_file(2, 720, ten);
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(text, EP_EXPAND_POISSON, 11, &g, &err, &st), 0);
    check_counts_order_and_bounds(&g, 2, 720, ten, 0);
    /* 14400 expected; Poisson sd 120: allow 5 sd */
    double n = (double)g.n;
    if (fabs(n - 14400) > 600)
        fail_msg("poisson total %zu, want about 14400", g.n);
    /* unlike uniform and even, the count of each minute varies around 10 */
    static int64_t per[720];
    memset(per, 0, sizeof per);
    for (size_t i = 0; i < g.n; i++)
        if (g.a[i].stream == 0)
            per[g.a[i].t / NS_PER_MIN]++;
    int varies = 0;
    for (int m = 0; m < 720; m++)
        varies |= per[m] != 10;
    assert_true(varies);
    got_free(&g);
    free(text);
}

static int
same(const got *a, const got *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (a->a[i].t != b->a[i].t || a->a[i].stream != b->a[i].stream)
            return 0;
    return 1;
}

static void
check_seeding(ep_expand_rule rule)
{
    char *text = make_file(4, 15, varied);
    got a, b, c;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(text, rule, 42, &a, &err, &st), 0);
    assert_int_equal(parse(text, rule, 42, &b, &err, &st), 0);
    assert_int_equal(parse(text, rule, 43, &c, &err, &st), 0);
    assert_true(same(&a, &b));
    assert_false(same(&a, &c));
    got_free(&a);
    got_free(&b);
    got_free(&c);
    free(text);
}

static void
test_same_seed_gives_same_arrivals_and_different_seed_different(void **state)
{
    (void)state;
    check_seeding(EP_EXPAND_UNIFORM);
    check_seeding(EP_EXPAND_POISSON);
}

static int64_t
varied_changed(int f, int m)
{
    return f == 0 ? 3 : varied(f, m);
}

static void
test_each_function_depends_only_on_seed_its_row_and_its_counts(void **state)
{
    (void)state;
    char *t1 = make_file(3, 10, varied), *t2 = make_file(3, 10, varied_changed);
    got a, b;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(t1, EP_EXPAND_UNIFORM, 5, &a, &err, &st), 0);
    assert_int_equal(parse(t2, EP_EXPAND_UNIFORM, 5, &b, &err, &st), 0);
    /* function 0 changed; functions 1 and 2 must come out identical */
    size_t i = 0, j = 0;
    while (a.a[i].stream == 0)
        i++;
    while (b.a[j].stream == 0)
        j++;
    assert_int_equal(a.n - i, b.n - j);
    for (; i < a.n; i++, j++) {
        assert_int_equal(a.a[i].t, b.a[j].t);
        assert_int_equal(a.a[i].stream, b.a[j].stream);
    }
    got_free(&a);
    got_free(&b);
    free(t1);
    free(t2);
}

static void
test_even_does_not_depend_on_the_seed(void **state)
{
    (void)state;
    char *text = make_file(2, 5, varied);
    got a, b;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse(text, EP_EXPAND_EVEN, 1, &a, &err, &st), 0);
    assert_int_equal(parse(text, EP_EXPAND_EVEN, 2, &b, &err, &st), 0);
    assert_true(same(&a, &b));
    got_free(&a);
    got_free(&b);
    free(text);
}

static void
test_empty_trigger_gives_no_kind_and_bad_rule_is_einval(void **state)
{
    (void)state;
    got g;
    ep_parse_error err;
    ep_parse_stats st;
    assert_int_equal(parse("HashOwner,HashApp,HashFunction,Trigger,1\no,a,f,,1", EP_EXPAND_EVEN, 1,
                           &g, &err, &st),
                     0);
    assert_string_equal(g.kind[0], "(null)");
    got_free(&g);
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_AZURE_FUNCTIONS;
    o.expand = (ep_expand_rule)7;
    assert_int_equal(ep_trace_parse("x", 1, &o, sink, NULL, NULL), EP_EINVAL);
}

static void
test_expand_rule_names_parse(void **state)
{
    (void)state;
    ep_expand_rule r;
    assert_int_equal(ep_expand_rule_parse("uniform", &r), 0);
    assert_int_equal(r, EP_EXPAND_UNIFORM);
    assert_int_equal(ep_expand_rule_parse("even", &r), 0);
    assert_int_equal(r, EP_EXPAND_EVEN);
    assert_int_equal(ep_expand_rule_parse("poisson", &r), 0);
    assert_int_equal(r, EP_EXPAND_POISSON);
    assert_int_equal(ep_expand_rule_parse("Poisson", &r), EP_EINVAL);
    assert_int_equal(ep_expand_rule_parse(NULL, &r), EP_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_header_with_any_number_of_consecutive_minutes_is_accepted),
            cmocka_unit_test(test_header_errors_are_reported_on_line_1),
            cmocka_unit_test(test_row_errors_carry_their_line_and_minute),
            cmocka_unit_test(test_uniform_keeps_counts_per_minute_exactly_within_their_minute),
            cmocka_unit_test(test_even_keeps_counts_and_spaces_arrivals_evenly),
            cmocka_unit_test(test_poisson_arrivals_stay_in_their_minute_with_mean_close_to_count),
            cmocka_unit_test(test_same_seed_gives_same_arrivals_and_different_seed_different),
            cmocka_unit_test(test_each_function_depends_only_on_seed_its_row_and_its_counts),
            cmocka_unit_test(test_even_does_not_depend_on_the_seed),
            cmocka_unit_test(test_empty_trigger_gives_no_kind_and_bad_rule_is_einval),
            cmocka_unit_test(test_expand_rule_names_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
