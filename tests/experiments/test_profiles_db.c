/* Measured profiles in SQLite take precedence over the scenario's tables and the roofline:
 * rows of the trace database's `profiles` table become the first-matching tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "epara/core/error.h"
#include "epara/experiments/prepare.h"
#include "epara/core/profile.h"
#include "epara/experiments/scenario.h"

static const char yaml[] =
        "name: t\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
        "nodes:\n"
        "  - {name: n, class: server, cores: 8, mem_gb: 64, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: seg, kind: dnn, gflops: 62, params_m: 27.5, slo: {deadline_ms: 100}}\n"
        "  - {name: llm, kind: llm, params_b: 1.24, layers: 16, hidden: 2048,"
        " kv_kb_per_token: 32, slo: {ttft_ms: 450, tpot_ms: 40}}\n"
        "profiles:\n"
        "  - {service: seg, device: gpu, batch: [1, 4], latency_ms: [50, 80]}\n";

static void
test_sqlite_profiles_take_precedence_over_scenario_tables(void **state)
{
    (void)state;
    char db[64];
    snprintf(db, sizeof db, "test_profiles_%ld.db", (long)getpid());
    remove(db);
    ep_store *st;
    assert_int_equal(ep_store_open(db, 0, &st, NULL, 0), 0);
    const char *rows = "INSERT INTO profiles (service, device, kind, x, latency_ns, ctx_ref)"
                       " VALUES ('seg', 'gpu', 'dnn', 1, 7000000, NULL),"
                       " ('seg', 'gpu', 'dnn', 4, 20000000, NULL),"
                       " ('llm', 'gpu', 'prefill', 100, 10000000, NULL),"
                       " ('llm', 'gpu', 'prefill', 1000, 40000000, NULL),"
                       " ('llm', 'gpu', 'decode', 1, 5000000, 1000),"
                       " ('llm', 'gpu', 'decode', 8, 6000000, 1000),"
                       " ('other', 'gpu', 'dnn', 1, 1, NULL)";
    assert_int_equal(sqlite3_exec(ep_store_db(st), rows, NULL, NULL, NULL), SQLITE_OK);
    ep_scenario sc;
    ep_parse_error pe;
    int rc = ep_scenario_load_text(yaml, strlen(yaml), "t", ".", &sc, &pe);
    if (rc)
        fail_msg("%ld: %s", pe.line, pe.msg);
    /* Before: the scenario's own table. */
    assert_int_equal(ep_cost_dnn_batch(&sc, 0, 0, 1), 50 * EP_NS_PER_MS);
    int loaded = 0;
    char err[256];
    assert_int_equal(ep_scenario_load_profiles(&sc, st, &loaded, err, sizeof err), 0);
    assert_int_equal(loaded, 2);
    assert_int_equal(ep_cost_dnn_batch(&sc, 0, 0, 1), 7 * EP_NS_PER_MS);
    assert_int_equal(ep_cost_dnn_batch(&sc, 0, 0, 4), 20 * EP_NS_PER_MS);
    /* Linear between the measured points: 7 + (20 - 7) / 3 ms at batch 2. */
    ep_dur b2 = ep_cost_dnn_batch(&sc, 0, 0, 2);
    assert_true(b2 >= 11333333 && b2 <= 11333334);
    assert_int_equal(ep_cost_llm_prefill(&sc, 1, 0, 1000), 40 * EP_NS_PER_MS);
    /* Decode at the reference context: the measured step. */
    assert_int_equal(ep_cost_llm_decode(&sc, 1, 0, 1, 1000), 5 * EP_NS_PER_MS);
    ep_scenario_fini(&sc);
    ep_store_close(st);
    remove(db);
}

static void
test_no_profile_rows_leaves_the_scenario_alone(void **state)
{
    (void)state;
    char db[64];
    snprintf(db, sizeof db, "test_profiles_empty_%ld.db", (long)getpid());
    remove(db);
    ep_store *st;
    assert_int_equal(ep_store_open(db, 0, &st, NULL, 0), 0);
    ep_scenario sc;
    ep_parse_error pe;
    assert_int_equal(ep_scenario_load_text(yaml, strlen(yaml), "t", ".", &sc, &pe), 0);
    int n0 = sc.nprofiles, loaded = -1;
    char err[256];
    assert_int_equal(ep_scenario_load_profiles(&sc, st, &loaded, err, sizeof err), 0);
    assert_int_equal(loaded, 0);
    assert_int_equal(sc.nprofiles, n0);
    assert_int_equal(ep_cost_dnn_batch(&sc, 0, 0, 1), 50 * EP_NS_PER_MS);
    ep_scenario_fini(&sc);
    ep_store_close(st);
    remove(db);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_sqlite_profiles_take_precedence_over_scenario_tables),
            cmocka_unit_test(test_no_profile_rows_leaves_the_scenario_alone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
