/* Policy parameter validation (policies/registry.c ep_param_check): a key no policy or host
 * table declares, a value that is not one finite number, one outside its domain or a
 * fraction for a whole-number key is refused with a message naming it; prefix keys take a
 * service of the scenario; the host's keys are accepted for every policy. Every built-in
 * table is well formed, the simulator refuses bad parameters before anything runs, and a
 * policy's init refuses what the check refuses. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "baseline_fixture.h"

static const char yaml[] =
        "name: params\n"
        "run: {seed: 5, warmup_s: 0, cooldown_s: 0}\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
        "nodes:\n"
        "  - {name: a, class: server, cores: 16, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: seg, kind: dnn, params_m: 27.5, gflops: 62, max_batch: 8,"
        " slo: {deadline_ms: 100}}\n"
        "  - {name: chat, kind: dnn, params_m: 27.5, gflops: 62, max_batch: 8,"
        " slo: {deadline_ms: 100}}\n"
        "workload:\n"
        "  - {trace: ta, service: seg, ingress: a}\n"
        "policy: static\n";

/* A table with one of each kind of entry. */
static const ep_param_decl toy[] = {
        {"alpha", 0, 1, 0, 0.5, "a fraction"},
        {"n", 1, 16, 1, 4, "a count"},
        {"gain", 1, INFINITY, 0, 2, "unbounded above"},
        {"cv.", 0, 100, 0, 1, "per service"},
        {NULL, 0, 0, 0, 0, NULL},
};

static ep_param
prm(const char *key, const char *value)
{
    ep_param p;
    memset(&p, 0, sizeof p);
    size_t nk = strlen(key), nv = strlen(value);
    assert_true(nk < sizeof p.key && nv < sizeof p.value);
    memcpy(p.key, key, nk);
    memcpy(p.value, value, nv);
    return p;
}

/* Checks key=value against toy (sc may be NULL); the message in err. */
static int
check1(const ep_scenario *sc, const char *key, const char *value, char *err, size_t len)
{
    ep_param p = prm(key, value);
    return ep_param_check("toy", toy, sc, &p, 1, err, len);
}

static void
accepts(const ep_scenario *sc, const char *key, const char *value)
{
    char err[512] = "";
    if (check1(sc, key, value, err, sizeof err) != 0)
        fail_msg("%s=%s refused: %s", key, value, err);
}

/* Refused with a message holding `want`. */
static void
refuses(const ep_scenario *sc, const char *key, const char *value, const char *want)
{
    char err[512] = "";
    assert_int_equal(check1(sc, key, value, err, sizeof err), EP_EINVAL);
    if (!strstr(err, want))
        fail_msg("%s=%s: message '%s' lacks '%s'", key, value, err, want);
}

static void
test_an_unknown_key_is_refused_with_the_accepted_keys(void **state)
{
    (void)state;
    refuses(NULL, "alhpa", "0.5",
            "unknown policy parameter 'alhpa' for policy toy (accepted: alpha, n, gain, "
            "cv.<service>, oracle)");
    refuses(NULL, "", "1", "unknown policy parameter '' for policy toy");
    refuses(NULL, "ALPHA", "0.5", "unknown policy parameter 'ALPHA'");
    /* The first bad entry of several is the one named. */
    ep_param ps[] = {prm("alpha", "0.5"), prm("forwad", "0"), prm("n", "99")};
    char err[512];
    assert_int_equal(ep_param_check("toy", toy, NULL, ps, 3, err, sizeof err), EP_EINVAL);
    assert_non_null(strstr(err, "'forwad'"));
    /* err may be NULL; a small err is truncated, never overrun. */
    assert_int_equal(ep_param_check("toy", toy, NULL, ps, 3, NULL, 0), EP_EINVAL);
    char small[8];
    memset(small, 'x', sizeof small);
    assert_int_equal(ep_param_check("toy", toy, NULL, ps, 3, small, sizeof small), EP_EINVAL);
    assert_int_equal(strlen(small), sizeof small - 1);
    /* A key filling its field without a terminator is unknown, not read past. */
    ep_param full = prm("alpha", "0.5");
    memset(full.key, 'k', sizeof full.key);
    assert_int_equal(ep_param_check("toy", toy, NULL, &full, 1, err, sizeof err), EP_EINVAL);
    assert_non_null(strstr(err, "unknown policy parameter"));
    assert_int_equal(ep_param_check("toy", toy, NULL, ps, 1, err, sizeof err), 0);
    assert_int_equal(ep_param_check("toy", toy, NULL, NULL, 0, err, sizeof err), 0);
}

static void
test_a_value_that_is_not_one_finite_number_is_refused(void **state)
{
    (void)state;
    refuses(NULL, "alpha", "banana",
            "policy parameter alpha=banana for policy toy: not a number in [0, 1]");
    refuses(NULL, "alpha", "0.5x", "alpha=0.5x");
    refuses(NULL, "alpha", "", "policy parameter alpha= for policy toy: not a number");
    refuses(NULL, "alpha", " ", "not a number");
    refuses(NULL, "alpha", "nan", "not a number");
    refuses(NULL, "gain", "inf", "policy parameter gain=inf for policy toy: not a number >= 1");
    refuses(NULL, "n", "banana",
            "policy parameter n=banana for policy toy: not a whole number in [1, 16]");
    /* Parsed as ep_param_get parses it: surrounding blanks and exponents are fine. */
    accepts(NULL, "alpha", " 0.25 ");
    accepts(NULL, "alpha", "5e-1");
    accepts(NULL, "gain", "1e300");
}

static void
test_a_value_outside_its_range_is_refused_and_the_bounds_are_accepted(void **state)
{
    (void)state;
    refuses(NULL, "alpha", "1.5",
            "policy parameter alpha=1.5 for policy toy: not a number in [0, 1]");
    refuses(NULL, "alpha", "-0.1", "alpha=-0.1");
    refuses(NULL, "n", "0", "n=0 for policy toy: not a whole number in [1, 16]");
    refuses(NULL, "n", "17", "n=17");
    refuses(NULL, "gain", "0.99", "gain=0.99 for policy toy: not a number >= 1");
    refuses(NULL, "cv.seg", "-1", "cv.seg=-1 for policy toy: not a number in [0, 100]");
    accepts(NULL, "alpha", "0");
    accepts(NULL, "alpha", "1");
    accepts(NULL, "n", "1");
    accepts(NULL, "n", "16");
    accepts(NULL, "gain", "1");
}

static void
test_a_fraction_is_refused_for_a_whole_number_key(void **state)
{
    (void)state;
    refuses(NULL, "n", "2.5",
            "policy parameter n=2.5 for policy toy: not a whole number in [1, 16]");
    refuses(NULL, "n", "1.0000001", "n=1.0000001");
    accepts(NULL, "n", "2.0");
    accepts(NULL, "n", "1e1");
    accepts(NULL, "alpha", "0.3"); /* not integer: fractions are fine */
}

static void
test_prefix_keys_take_a_service_of_the_scenario(void **state)
{
    (void)state;
    bf f;
    assert_int_equal(bf_init(&f, yaml, "params_prefix"), 0);
    accepts(&f.sc, "cv.seg", "2");
    accepts(&f.sc, "cv.chat", "0");
    refuses(&f.sc, "cv.nope", "2",
            "unknown policy parameter 'cv.nope' for policy toy: the scenario has no service "
            "'nope' (services: seg, chat)");
    refuses(&f.sc, "cv.", "2", "unknown policy parameter 'cv.'");
    refuses(&f.sc, "cv", "2", "unknown policy parameter 'cv'");
    refuses(&f.sc, "cv.seg", "banana", "cv.seg=banana");
    /* Without a scenario any service name is taken. */
    accepts(NULL, "cv.anything", "3");
    assert_ptr_equal(ep_param_decl_find(toy, "cv.seg"), &toy[3]);
    assert_null(ep_param_decl_find(toy, "cv."));
    assert_null(ep_param_decl_find(toy, NULL));
    assert_null(ep_param_decl_find(NULL, "alpha"));
    bf_fini(&f);
}

static void
test_host_keys_are_accepted_for_every_policy(void **state)
{
    (void)state;
    const ep_param_decl *host = ep_param_host();
    assert_non_null(host);
    assert_non_null(ep_param_decl_find(host, "oracle"));
    ep_param on = prm("oracle", "1"), off = prm("oracle", "0"), two = prm("oracle", "2");
    char err[1024]; /* the accepted keys of the largest table */
    assert_int_equal(ep_param_check("toy", toy, NULL, &on, 1, err, sizeof err), 0);
    /* No table of its own (the bound, static): the host's keys only. */
    assert_int_equal(ep_param_check("bound", NULL, NULL, &on, 1, err, sizeof err), 0);
    ep_param other = prm("alpha", "0.5");
    assert_int_equal(ep_param_check("bound", NULL, NULL, &other, 1, err, sizeof err), EP_EINVAL);
    assert_non_null(
            strstr(err, "unknown policy parameter 'alpha' for policy bound (accepted: oracle)"));
    for (const ep_policy_ops *const *p = ep_policy_all(); *p; p++) {
        assert_int_equal(ep_policy_check_params(*p, NULL, &on, 1, err, sizeof err), 0);
        assert_int_equal(ep_policy_check_params(*p, NULL, &off, 1, err, sizeof err), 0);
        assert_int_equal(ep_policy_check_params(*p, NULL, &two, 1, err, sizeof err), EP_EINVAL);
        assert_non_null(strstr(err, "policy parameter oracle=2 for policy "));
        ep_param bogus = prm("no_such_parameter", "1");
        assert_int_equal(ep_policy_check_params(*p, NULL, &bogus, 1, err, sizeof err), EP_EINVAL);
        char want[128];
        snprintf(want, sizeof want, "unknown policy parameter 'no_such_parameter' for policy %s",
                 (*p)->name);
        assert_non_null(strstr(err, want));
        assert_non_null(strstr(err, "oracle)"));
    }
}

static int
integral(double v)
{
    return isinf(v) || v == floor(v);
}

/* Keys unique and not the host's, lo <= dflt <= hi, whole bounds and default for whole-number
 * keys, a help line, and the default accepted by the check itself. */
static void
check_table(const char *name, const ep_param_decl *decls, int is_host)
{
    const ep_param_decl *host = ep_param_host();
    for (const ep_param_decl *d = decls; d && d->key; d++) {
        if (d->key[0] == '\0' || strlen(d->key) >= EP_NAME_MAX)
            fail_msg("%s: empty or too long key", name);
        for (const ep_param_decl *e = decls; e != d; e++)
            if (strcmp(e->key, d->key) == 0)
                fail_msg("%s: key %s declared twice", name, d->key);
        if (!is_host && ep_param_decl_find(host, d->key))
            fail_msg("%s: key %s is also a host key", name, d->key);
        if (!(d->lo <= d->dflt && d->dflt <= d->hi) || !isfinite(d->dflt) || isnan(d->lo) ||
            isnan(d->hi))
            fail_msg("%s: %s: default %g outside [%g, %g]", name, d->key, d->dflt, d->lo, d->hi);
        if (d->integer && !(integral(d->lo) && integral(d->hi) && integral(d->dflt)))
            fail_msg("%s: %s: whole-number key with fractional bounds or default", name, d->key);
        if (!d->help || !d->help[0])
            fail_msg("%s: %s: no help line", name, d->key);
        size_t kl = strlen(d->key);
        char key[EP_NAME_MAX + 8], val[64], err[512];
        snprintf(key, sizeof key, "%s%s", d->key, d->key[kl - 1] == '.' ? "svc" : "");
        snprintf(val, sizeof val, "%.17g", d->dflt);
        ep_param p = prm(key, val);
        if (ep_param_check(name, decls, NULL, &p, 1, err, sizeof err) != 0)
            fail_msg("%s: its default is refused: %s", name, err);
        /* A policy reads it through its table: the default when absent. */
        if (ep_param_value(decls, NULL, 0, key) != d->dflt)
            fail_msg("%s: ep_param_value(%s) is not its default", name, key);
    }
}

static void
test_every_built_in_table_is_well_formed(void **state)
{
    (void)state;
    int n = 0;
    for (const ep_policy_ops *const *p = ep_policy_all(); *p; p++, n++)
        check_table((*p)->name, (*p)->params, 0);
    check_table("host", ep_param_host(), 1);
    check_table("toy", toy, 0);
    assert_true(n >= 5);
    /* The policies that read parameters declare them. */
    assert_non_null(ep_policy_find("epara")->params);
    assert_non_null(ep_policy_find("offload")->params);
    assert_non_null(ep_param_decl_find(ep_policy_find("epara")->params, "forward"));
    assert_non_null(ep_param_decl_find(ep_policy_find("offload")->params, "slo_filter"));
}

static void
test_param_value_reads_the_last_setting_or_the_default(void **state)
{
    (void)state;
    ep_param ps[] = {prm("alpha", "0.25"), prm("n", "3"), prm("alpha", "0.75")};
    assert_true(ep_param_value(toy, ps, 3, "alpha") == 0.75);
    assert_true(ep_param_value(toy, ps, 3, "n") == 3);
    assert_true(ep_param_value(toy, ps, 3, "gain") == 2);
    assert_true(ep_param_value(toy, ps, 3, "cv.seg") == 1);
    char dom[64];
    ep_param_domain(&toy[1], dom, sizeof dom);
    assert_string_equal(dom, "a whole number in [1, 16]");
    ep_param_domain(&toy[2], dom, sizeof dom);
    assert_string_equal(dom, "a number >= 1");
}

/* The simulator refuses before running: EP_EINVAL and the message, no trace needed. */
static void
test_the_simulator_refuses_bad_parameters_before_running(void **state)
{
    (void)state;
    bf f;
    assert_int_equal(bf_init(&f, yaml, "params_sim"), 0);
    static const struct {
        const char *policy, *key, *value, *want;
    } cases[] = {
            {"epara", "forwad", "0", "unknown policy parameter 'forwad' for policy epara"},
            {"epara", "forward", "banana", "policy parameter forward=banana for policy epara"},
            {"epara", "max_hops", "2.5", "max_hops=2.5 for policy epara: not a whole number"},
            {"epara", "link_window", "-1", "link_window=-1"},
            {"offload", "max_hops", "0",
             "max_hops=0 for policy offload: not a whole number in [1, 16]"},
            {"static", "mt", "0",
             "unknown policy parameter 'mt' for policy static (accepted: oracle)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        f.sc.params[0] = prm(cases[i].key, cases[i].value);
        f.sc.nparams = 1;
        ep_run_opts o;
        memset(&o, 0, sizeof o);
        o.policy = cases[i].policy;
        o.traces = f.st;
        ep_run_result r;
        char err[512] = "";
        assert_int_equal(ep_sim_run(&f.sc, &o, &r, err, sizeof err), EP_EINVAL);
        if (!strstr(err, cases[i].want))
            fail_msg("%s %s=%s: '%s' lacks '%s'", cases[i].policy, cases[i].key, cases[i].value,
                     err, cases[i].want);
        ep_run_result_fini(&r);
    }
    bf_fini(&f);
}

/* A policy's init called directly (no host check) refuses the same values. */
static void
test_init_refuses_what_the_check_refuses(void **state)
{
    (void)state;
    static const struct {
        const char *policy, *key, *value;
        int rc;
    } cases[] = {
            {"epara", "forward", "banana", EP_EINVAL},
            {"epara", "forward", "2", EP_EINVAL},
            {"epara", "ewma_alpha", "0", EP_EINVAL},
            {"epara", "headroom", "0.5", EP_EINVAL},
            {"epara", "nope", "1", EP_EINVAL},
            {"epara", "forward", "0", 0},
            {"epara", "oracle", "1", 0},
            {"offload", "slo_filter", "3", EP_EINVAL},
            {"offload", "max_hops", "17", EP_EINVAL},
            {"offload", "max_hops", "16", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bf f;
        assert_int_equal(bf_init(&f, yaml, "params_init"), 0);
        f.sc.params[0] = prm(cases[i].key, cases[i].value);
        f.sc.nparams = 1;
        bf_view(&f, NULL, NULL, NULL);
        if (bf_policy(&f, cases[i].policy) != cases[i].rc)
            fail_msg("%s init with %s=%s: not %d", cases[i].policy, cases[i].key, cases[i].value,
                     cases[i].rc);
        bf_fini(&f);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_an_unknown_key_is_refused_with_the_accepted_keys),
            cmocka_unit_test(test_a_value_that_is_not_one_finite_number_is_refused),
            cmocka_unit_test(test_a_value_outside_its_range_is_refused_and_the_bounds_are_accepted),
            cmocka_unit_test(test_a_fraction_is_refused_for_a_whole_number_key),
            cmocka_unit_test(test_prefix_keys_take_a_service_of_the_scenario),
            cmocka_unit_test(test_host_keys_are_accepted_for_every_policy),
            cmocka_unit_test(test_every_built_in_table_is_well_formed),
            cmocka_unit_test(test_param_value_reads_the_last_setting_or_the_default),
            cmocka_unit_test(test_the_simulator_refuses_bad_parameters_before_running),
            cmocka_unit_test(test_init_refuses_what_the_check_refuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
