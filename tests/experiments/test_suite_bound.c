/* The bound is an upper bound on every scenario of the suite: each policy, run on each
 * scenario of experiments/scenarios/suite/ at a light and a heavy rate scale, meets at most as many
 * SLOs as the `bound` LP on the same arrivals, and reaches at most the mean and the lowest
 * attainment over services of the bound that maximizes each. Traces come from
 * ../shared/traces when present, else from the scenarios' generators. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "epara/experiments/bound.h"
#include "epara/core/error.h"
#include "epara/experiments/prepare.h"
#include "epara/experiments/scenario.h"
#include "epara/sim/sim.h"
#include "epara/traces/store.h"

#define SUITE_DIR EP_SOURCE_DIR "/experiments/scenarios/suite"
#define RUN_S     240 /* seconds of each scenario's workload per run (window 120 s) */

static int
yaml_name(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 5 && strcmp(e->d_name + n - 5, ".yaml") == 0;
}

/* The mean (min = 0) or lowest (min = 1) attainment over services with requests, and in
 * *slack what one request per service changes it by (the bound rounds each down). */
static double
over_services(const ep_run_result *r, int min, double *slack)
{
    double sum = 0, low = 1, sl = 0;
    int k = 0;
    for (int s = 0; s < r->nservices; s++) {
        const ep_run_service_stats *v = &r->svc[s];
        if (v->requests <= 0)
            continue;
        double a = (double)v->slo_met / (double)v->requests;
        sum += a;
        low = a < low ? a : low;
        sl = fmax(sl, 1.0 / (double)v->requests);
        k++;
    }
    if (slack)
        *slack = sl;
    return k == 0 ? 0 : min ? low : sum / k;
}

/* Runs every policy and the bound on scenario `path` at rate scale `rate`. */
static void
check_scenario(const char *path, ep_store *st, double rate)
{
    ep_scenario sc;
    ep_parse_error pe;
    if (ep_scenario_load_file(path, &sc, &pe))
        fail_msg("%s:%ld: %s", path, pe.line, pe.msg);
    char err[512] = "";
    if (ep_scenario_prepare_traces(&sc, st, NULL, NULL, err, sizeof err))
        fail_msg("%s: %s", path, err);
    ep_run_opts o;
    memset(&o, 0, sizeof o);
    o.traces = st;
    o.rate_scale = rate;
    o.duration = RUN_S * EP_NS_PER_S;
    /* The warm-up and cool-down of a long run would leave nothing to measure. */
    sc.run.warmup = sc.run.cooldown = 60 * EP_NS_PER_S;
    ep_run_result b, bm[2];
    if (ep_bound_run(&sc, &o, &b, err, sizeof err))
        fail_msg("%s: bound: %s", path, err);
    for (int m = 0; m < 2; m++) {
        o.bound_objective = m ? EP_BOUND_OBJ_MIN : EP_BOUND_OBJ_MEAN;
        if (ep_bound_run(&sc, &o, &bm[m], err, sizeof err))
            fail_msg("%s: bound (%s): %s", path, m ? "min" : "mean", err);
    }
    o.bound_objective = EP_BOUND_OBJ_REQUESTS;
    for (const ep_policy_ops *const *p = ep_policy_all(); *p; p++) {
        o.policy = (*p)->name;
        ep_run_result r;
        if (ep_sim_run(&sc, &o, &r, err, sizeof err))
            fail_msg("%s: %s: %s", path, (*p)->name, err);
        assert_int_equal(r.requests, b.requests);
        assert_int_equal(r.unservable, b.unservable);
        /* The bound's met count is rounded down from a fluid optimum: one request of slack
         * per service for that rounding. */
        if (r.slo_met > b.slo_met + sc.nservices)
            fail_msg("%s x%g: %s meets %lld SLOs, more than the bound's %lld", path, rate,
                     (*p)->name, (long long)r.slo_met, (long long)b.slo_met);
        fprintf(stderr, "%s x%g %-9s %7lld <= bound %7lld", strrchr(path, '/') + 1, rate,
                (*p)->name, (long long)r.slo_met, (long long)b.slo_met);
        for (int m = 0; m < 2; m++) {
            double slack, got = over_services(&r, m, NULL);
            double most = over_services(&bm[m], m, &slack);
            if (got > most + slack + 1e-9)
                fail_msg("%s x%g: %s's %s attainment over services %.6f, above the bound's "
                         "%.6f",
                         path, rate, (*p)->name, m ? "lowest" : "mean", got, most);
            fprintf(stderr, "; %s %.4f <= %.4f", m ? "min" : "mean", got, most);
        }
        fputc('\n', stderr);
        ep_run_result_fini(&r);
    }
    ep_run_result_fini(&b);
    ep_run_result_fini(&bm[0]);
    ep_run_result_fini(&bm[1]);
    ep_scenario_fini(&sc);
}

static void
test_no_policy_beats_the_bound_on_any_suite_scenario(void **state)
{
    (void)state;
    setenv("EP_SHARED_DIR", EP_SHARED_DIR, 0);
    struct dirent **names;
    int n = scandir(SUITE_DIR, &names, yaml_name, alphasort);
    assert_true(n >= 8);
    char db[64];
    snprintf(db, sizeof db, "test_suite_bound_%ld.db", (long)getpid());
    remove(db);
    ep_store *st;
    assert_int_equal(ep_store_open(db, 0, &st, NULL, 0), 0);
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, "%s/%s", SUITE_DIR, names[i]->d_name);
        check_scenario(path, st, 1);
        check_scenario(path, st, 4);
        free(names[i]);
    }
    free(names);
    ep_store_close(st);
    remove(db);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_no_policy_beats_the_bound_on_any_suite_scenario),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
