/* The results queries (epara/sim/results.h, sim/results_query.c) read back what the writer
 * stored: runs of two scenarios written with ep_results_begin/add_record/commit from a
 * hand-made result (one never completed), their service and device rows, request records
 * and max_rates rows; NULL columns come back as NULL or NaN, callbacks can stop a query, and
 * a read-only handle neither writes nor accepts a file that is not a results database. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "epara/sim/results.h"
#include "sim_fixture.h"

/* a within eps of b (eps 0: equal). */
#define assert_near(a, b, eps) assert_true(fabs((double)(a) - (double)(b)) <= (eps))

/* The database every test but the last reads, and a read-only handle on it. */
typedef struct db {
    fx f;
    char path[128];
    int64_t ids[3];
    ep_results *r;
} db;

/* The fixture's node n0 with two gpus, node n1 with a cpu, services chat (LLM) and detect
 * (DNN). */
static void
world_init(fx *f)
{
    fx_init(f, "results_query");
    snprintf(f->spec[1].name, sizeof f->spec[1].name, "cpu");
    snprintf(f->node[1].name, sizeof f->node[1].name, "n1");
    f->dev[0] = (ep_device){.node = 0, .spec = 0};
    f->dev[1] = (ep_device){.node = 0, .spec = 0};
    f->dev[2] = (ep_device){.node = 1, .spec = 1};
    snprintf(f->svc[0].name, sizeof f->svc[0].name, "chat");
    f->svc[0].kind = EP_SVC_LLM;
    snprintf(f->svc[1].name, sizeof f->svc[1].name, "detect");
    f->svc[1].kind = EP_SVC_DNN;
    f->sc.nspecs = 2;
    f->sc.nnodes = 2;
    f->sc.ndevices = 3;
    f->sc.nservices = 2;
}

/* A result whose numbers derive from k, so that each run's rows differ. */
static void
result_of(ep_run_result *res, double *busy, int k)
{
    memset(res, 0, sizeof *res);
    snprintf(res->policy, sizeof res->policy, "pol%d", k);
    res->seed = (uint64_t)(10 + k);
    res->requests = 100 * k;
    res->completed = 90 * k;
    res->rejected = 4 * k;
    res->dropped = 3 * k;
    res->unfinished = 3 * k;
    res->goodput_per_s = 1.5 * k;
    res->slo_attainment = 0.25 * k;
    res->p50_latency_s = 0.125 * k;
    res->p99_latency_s = NAN; /* stored as NULL */
    res->sim_time_s = 10;
    res->nservices = 2;
    for (int i = 0; i < 2; i++) {
        ep_run_service_stats *v = &res->svc[i];
        v->requests = 10 * k + i;
        v->completed = 9 * k + i;
        v->slo_met = 8 * k + i;
        v->goodput_per_s = 0.5 * k + i;
        v->slo_attainment = 0.75;
        v->p50_latency_s = 0.01 * (i + 1);
        v->p99_tpot_s = i ? NAN : 0.002;
        v->category.sensitivity = i ? EP_SENS_FREQUENCY : EP_SENS_LATENCY;
        v->category.multi_device = i;
    }
    for (int d = 0; d < 3; d++)
        busy[d] = k + d;
    res->device_busy_s = busy;
    res->ndevices = 3;
}

/* Writes one run of scenario name: k-th result, nrec records; summary NULL leaves the run
 * without a summary (never completed). Returns its id. */
static int64_t
write_run(ep_results *r, fx *w, const char *name, int k, int nrec, const char *summary)
{
    ep_run_info info = {.sc = &w->sc,
                        .scenario_name = name,
                        .scenario_text = k == 1 ? "name: alpha\n" : NULL,
                        .options_json = "{\"slo_scale\":2}",
                        .rate_scale = 0.5 * k,
                        .duration_s = 20,
                        .seed = (uint64_t)(10 + k),
                        .policy = "ignored"};
    int64_t id = -1;
    assert_int_equal(ep_results_begin(r, &info, &id), 0);
    for (int i = 0; i < nrec; i++) {
        ep_record rec = {.id = (uint64_t)(100 + i),
                         .service = i % 2,
                         .ingress = 1,
                         .outcome = i == 2 ? EP_OUT_REJECTED : EP_OUT_COMPLETED,
                         .reason = i == 2 ? "no instance" : NULL,
                         .slo_met = i == 0,
                         .in_window = i != 1,
                         .arrival = 1000 * i,
                         .dispatch = 1000 * i + 10,
                         .first_token = 1000 * i + 20,
                         .done = 1000 * i + 500 + i,
                         .instance = i,
                         .node = i == 2 ? -1 : 0,
                         .hops = 1,
                         .batch = 2,
                         .input = 30 + i,
                         .output = 40 + i,
                         .preemptions = i};
        assert_int_equal(ep_results_add_record(r, &rec), 0);
    }
    ep_run_result res;
    double busy[3];
    result_of(&res, busy, k);
    assert_int_equal(ep_results_commit(r, &w->sc, &res, summary), 0);
    return id;
}

/* Writes the database every test reads: run 1 (alpha, 3 records), run 2 (beta, none),
 * run 3 (alpha, never completed), two max_rates rows. */
static void
write_db(fx *w, const char *path, int64_t ids[3])
{
    ep_results *r = NULL;
    char err[256];
    assert_int_equal(ep_results_open(path, &r, err, sizeof err), 0);
    ids[0] = write_run(r, w, "alpha", 1, 3, "{\"k\":1}");
    ids[1] = write_run(r, w, "beta", 2, 0, "{\"k\":2}");
    ids[2] = write_run(r, w, "alpha", 3, 1, NULL);
    ep_max_rate_row m = {.scenario = "alpha",
                         .policy = "static",
                         .metric = "overall",
                         .options_json = "{}",
                         .attainment_target = 0.9,
                         .max_rate_scale = 3.5,
                         .bracket_lo = 3.5,
                         .bracket_hi = 4,
                         .attainment = NAN,
                         .requests_per_s = 7,
                         .goodput_per_s = 6,
                         .duration_s = 20,
                         .slo_scale = 1,
                         .tol = 0.1,
                         .seed = 5,
                         .runs = 6};
    assert_int_equal(ep_results_add_max_rate(r, &m), 0);
    m.scenario = "beta";
    m.service = "chat";
    m.metric = "service";
    assert_int_equal(ep_results_add_max_rate(r, &m), 0);
    ep_results_close(r);
}

static int
setup(void **state)
{
    db *d = calloc(1, sizeof *d);
    assert_non_null(d);
    world_init(&d->f);
    snprintf(d->path, sizeof d->path, "test_results_query_%ld.db", (long)getpid());
    remove(d->path);
    write_db(&d->f, d->path, d->ids);
    char err[256];
    assert_int_equal(ep_results_open_read(d->path, &d->r, err, sizeof err), 0);
    *state = d;
    return 0;
}

static int
teardown(void **state)
{
    db *d = *state;
    ep_results_close(d->r);
    remove(d->path);
    fx_fini(&d->f);
    free(d);
    return 0;
}

/* Copies of the rows a query returned (strings are borrowed for the callback only). */
typedef struct seen {
    int n, stop_after; /* stop_after > 0: return 7 from that call on */
    int64_t id[16];
    char text[16][64];
    double num[16];
    ep_results_run run; /* the last run (its strings NULL) and its policy */
    char policy[32];
} seen;

static int
note(seen *s, int64_t id, const char *text, double num)
{
    assert_true(s->n < 16);
    s->id[s->n] = id;
    snprintf(s->text[s->n], sizeof s->text[s->n], "%s", text ? text : "(null)");
    s->num[s->n] = num;
    s->n++;
    return s->stop_after > 0 && s->n >= s->stop_after ? 7 : 0;
}

static int
on_run(void *ctx, const ep_results_run *v)
{
    seen *s = ctx;
    s->run = *v;
    s->run.scenario = s->run.policy = s->run.options_json = s->run.summary_json = NULL;
    snprintf(s->policy, sizeof s->policy, "%s", v->policy);
    assert_non_null(v->summary_json);
    return note(s, v->id, v->scenario, v->rate_scale);
}

static void
test_each_run_returns_completed_runs_of_the_scenario(void **state)
{
    db *d = *state;
    ep_results *r = d->r;
    const int64_t *ids = d->ids;
    seen s = {0};
    assert_int_equal(ep_results_each_run(r, NULL, on_run, &s), 0);
    assert_int_equal(s.n, 2); /* run 3 has no summary */
    assert_int_equal(s.id[0], ids[0]);
    assert_string_equal(s.text[0], "alpha");
    assert_int_equal(s.id[1], ids[1]);
    assert_string_equal(s.text[1], "beta");
    /* The last row, field by field: run 2 (k = 2). */
    const ep_results_run *v = &s.run;
    assert_string_equal(s.policy, "pol2");
    assert_near(v->rate_scale, 1.0, 0);
    assert_near(v->duration_s, 20, 0);
    assert_near(v->goodput_per_s, 3.0, 0);
    assert_near(v->slo_attainment, 0.5, 0);
    assert_near(v->p50_latency_s, 0.25, 0);
    assert_true(isnan(v->p99_latency_s));
    assert_int_equal(v->seed, 12);
    assert_int_equal(v->requests, 200);
    assert_int_equal(v->completed, 180);
    assert_int_equal(v->rejected, 8);
    assert_int_equal(v->dropped, 6);
    assert_int_equal(v->unfinished, 6);

    seen a = {0};
    assert_int_equal(ep_results_each_run(r, "alpha", on_run, &a), 0);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.id[0], ids[0]);
    assert_near(a.num[0], 0.5, 0);
    seen none = {0};
    assert_int_equal(ep_results_each_run(r, "gamma", on_run, &none), 0);
    assert_int_equal(none.n, 0);
}

static int
on_run_json(void *ctx, const ep_results_run *v)
{
    seen *s = ctx;
    note(s, v->id, v->options_json, 0);
    return note(s, v->id, v->summary_json, 0);
}

static void
test_each_run_returns_options_and_summary_as_stored(void **state)
{
    ep_results *r = ((db *)*state)->r;
    seen s = {0};
    assert_int_equal(ep_results_each_run(r, "beta", on_run_json, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.text[0], "{\"slo_scale\":2}");
    assert_string_equal(s.text[1], "{\"k\":2}");
}

static int
on_service(void *ctx, const ep_results_service *v)
{
    seen *s = ctx;
    char t[64];
    snprintf(t, sizeof t, "%s %s %s %s %d %lld %lld %lld %g %g", v->run.policy, v->service, v->kind,
             v->sensitivity, v->multi_device, (long long)v->requests, (long long)v->completed,
             (long long)v->slo_met, v->goodput_per_s, v->p99_tpot_s);
    return note(s, v->run.id, t, v->run.rate_scale);
}

static void
test_each_service_returns_rows_by_run_in_stored_order(void **state)
{
    db *d = *state;
    ep_results *r = d->r;
    const int64_t *ids = d->ids;
    seen s = {0};
    assert_int_equal(ep_results_each_service(r, NULL, 0, on_service, &s), 0);
    assert_int_equal(s.n, 4); /* 2 services x 2 completed runs */
    assert_int_equal(s.id[0], ids[0]);
    assert_string_equal(s.text[0], "pol1 chat llm latency 0 10 9 8 0.5 0.002");
    assert_string_equal(s.text[1], "pol1 detect dnn frequency 1 11 10 9 1.5 nan");
    assert_int_equal(s.id[2], ids[1]);
    assert_string_equal(s.text[2], "pol2 chat llm latency 0 20 18 16 1 0.002");
    assert_near(s.num[3], 1.0, 0);

    seen one = {0};
    assert_int_equal(ep_results_each_service(r, NULL, ids[1], on_service, &one), 0);
    assert_int_equal(one.n, 2);
    assert_int_equal(one.id[0], ids[1]);
    assert_int_equal(one.id[1], ids[1]);
    seen beta = {0};
    assert_int_equal(ep_results_each_service(r, "beta", 0, on_service, &beta), 0);
    assert_int_equal(beta.n, 2);
    assert_int_equal(beta.id[0], ids[1]);
    seen unfinished = {0};
    assert_int_equal(ep_results_each_service(r, NULL, ids[2], on_service, &unfinished), 0);
    assert_int_equal(unfinished.n, 0);
}

static int
on_device(void *ctx, const ep_results_device *v)
{
    seen *s = ctx;
    char t[64];
    snprintf(t, sizeof t, "%d %s/%s %g %llu", v->device, v->node, v->spec, v->busy_s,
             (unsigned long long)v->run.seed);
    return note(s, v->run.id, t, v->utilization);
}

static void
test_each_device_returns_rows_by_run_and_device(void **state)
{
    db *d = *state;
    ep_results *r = d->r;
    const int64_t *ids = d->ids;
    seen s = {0};
    assert_int_equal(ep_results_each_device(r, "alpha", 0, on_device, &s), 0);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.text[0], "0 n0/gpu 1 11");
    assert_string_equal(s.text[1], "1 n0/gpu 2 11");
    assert_string_equal(s.text[2], "2 n1/cpu 3 11");
    assert_near(s.num[2], 0.3, 1e-12); /* busy / simulated time */
    seen all = {0};
    assert_int_equal(ep_results_each_device(r, NULL, 0, on_device, &all), 0);
    assert_int_equal(all.n, 6);
    assert_int_equal(all.id[3], ids[1]);
    assert_string_equal(all.text[5], "2 n1/cpu 4 12");
    seen one = {0};
    assert_int_equal(ep_results_each_device(r, NULL, ids[1], on_device, &one), 0);
    assert_int_equal(one.n, 3);
    assert_int_equal(one.id[0], ids[1]);
}

static int
on_record(void *ctx, const ep_results_record *v)
{
    seen *s = ctx;
    char t[64];
    snprintf(t, sizeof t, "%s %s %s %s %s %d%d %lld %d %lld/%lld %d", v->service, v->ingress,
             v->outcome, v->reason ? v->reason : "-", v->node ? v->node : "-", v->slo_met,
             v->in_window, (long long)(v->done - v->arrival), v->instance, (long long)v->input,
             (long long)v->output, v->preemptions);
    return note(s, v->id, t, (double)v->first_token);
}

static void
test_each_record_returns_the_records_of_one_run_in_order(void **state)
{
    db *d = *state;
    ep_results *r = d->r;
    const int64_t *ids = d->ids;
    int found = -1;
    assert_int_equal(ep_results_has_records(r, ids[0], &found), 0);
    assert_int_equal(found, 1);
    assert_int_equal(ep_results_has_records(r, ids[1], &found), 0);
    assert_int_equal(found, 0);
    seen s = {0};
    assert_int_equal(ep_results_each_record(r, ids[0], on_record, &s), 0);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.id[0], 100);
    assert_string_equal(s.text[0], "chat n1 completed - n0 11 500 0 30/40 0");
    assert_string_equal(s.text[1], "detect n1 completed - n0 00 501 1 31/41 1");
    assert_string_equal(s.text[2], "chat n1 rejected no instance - 01 502 2 32/42 2");
    assert_near(s.num[2], 2020, 0);
    seen none = {0};
    assert_int_equal(ep_results_each_record(r, ids[1], on_record, &none), 0);
    assert_int_equal(none.n, 0);
}

static int
on_max_rate(void *ctx, const ep_max_rate_row *m)
{
    seen *s = ctx;
    char t[64];
    snprintf(t, sizeof t, "%s %s %s %s %g %g %g %llu %d", m->scenario, m->policy, m->metric,
             m->service ? m->service : "-", m->max_rate_scale, m->bracket_hi, m->attainment,
             (unsigned long long)m->seed, m->runs);
    return note(s, 0, t, m->attainment_target);
}

static void
test_each_max_rate_returns_rows_oldest_first(void **state)
{
    ep_results *r = ((db *)*state)->r;
    seen s = {0};
    assert_int_equal(ep_results_each_max_rate(r, NULL, on_max_rate, &s), 0);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.text[0], "alpha static overall - 3.5 4 nan 5 6");
    assert_string_equal(s.text[1], "beta static service chat 3.5 4 nan 5 6");
    assert_near(s.num[0], 0.9, 0);
    seen beta = {0};
    assert_int_equal(ep_results_each_max_rate(r, "beta", on_max_rate, &beta), 0);
    assert_int_equal(beta.n, 1);
    assert_string_equal(beta.text[0], "beta static service chat 3.5 4 nan 5 6");
}

static void
test_run_scenario_returns_the_stored_text(void **state)
{
    db *d = *state;
    ep_results *r = d->r;
    const int64_t *ids = d->ids;
    char *text = NULL, *name = NULL;
    assert_int_equal(ep_results_run_scenario(r, ids[0], &text, &name), 0);
    assert_string_equal(text, "name: alpha\n");
    assert_string_equal(name, "alpha");
    free(text);
    free(name);
    text = name = NULL;
    assert_int_equal(ep_results_run_scenario(r, ids[1], &text, &name), EP_ENOENT); /* no text */
    assert_int_equal(ep_results_run_scenario(r, 999, &text, &name), EP_ENOENT);
    assert_null(text);
    assert_null(name);
}

static void
test_a_callback_stops_a_query_with_its_value(void **state)
{
    ep_results *r = ((db *)*state)->r;
    seen s = {.stop_after = 1};
    assert_int_equal(ep_results_each_run(r, NULL, on_run, &s), 7);
    assert_int_equal(s.n, 1);
    seen dev = {.stop_after = 2};
    assert_int_equal(ep_results_each_device(r, NULL, 0, on_device, &dev), 7);
    assert_int_equal(dev.n, 2);
    seen m = {.stop_after = 1};
    assert_int_equal(ep_results_each_max_rate(r, NULL, on_max_rate, &m), 7);
    assert_int_equal(m.n, 1);
}

static void
test_a_read_handle_writes_nothing(void **state)
{
    db *d = *state;
    ep_run_info info = {.sc = &d->f.sc, .scenario_name = "alpha"};
    int64_t id = -1;
    assert_int_equal(ep_results_begin(d->r, &info, &id), EP_EDB);
    assert_int_equal(id, -1);
    seen s = {0};
    assert_int_equal(ep_results_each_run(d->r, NULL, on_run, &s), 0);
    assert_int_equal(s.n, 2);
}

static void
test_open_read_refuses_a_missing_file_and_queries_refuse_other_databases(void **state)
{
    (void)state;
    char path[128], err[256] = "";
    snprintf(path, sizeof path, "test_results_query_bad_%ld.db", (long)getpid());
    remove(path);
    ep_results *r = NULL;
    assert_int_equal(ep_results_open_read(path, &r, err, sizeof err), EP_EDB);
    assert_null(r);
    assert_non_null(strstr(err, path));
    assert_int_not_equal(access(path, F_OK), 0); /* nothing created */

    FILE *f = fopen(path, "w"); /* an empty file: a database without tables */
    assert_non_null(f);
    fclose(f);
    assert_int_equal(ep_results_open_read(path, &r, err, sizeof err), 0);
    seen s = {0};
    assert_int_equal(ep_results_each_run(r, NULL, on_run, &s), EP_EDB);
    assert_non_null(strstr(ep_results_errmsg(r), "no such table: runs"));
    assert_int_equal(ep_results_each_service(r, NULL, 0, on_service, &s), EP_EDB);
    assert_int_equal(ep_results_each_max_rate(r, NULL, on_max_rate, &s), 0); /* none */
    assert_int_equal(s.n, 0);
    ep_results_close(r);
    remove(path);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_each_run_returns_completed_runs_of_the_scenario),
            cmocka_unit_test(test_each_run_returns_options_and_summary_as_stored),
            cmocka_unit_test(test_each_service_returns_rows_by_run_in_stored_order),
            cmocka_unit_test(test_each_device_returns_rows_by_run_and_device),
            cmocka_unit_test(test_each_record_returns_the_records_of_one_run_in_order),
            cmocka_unit_test(test_each_max_rate_returns_rows_oldest_first),
            cmocka_unit_test(test_run_scenario_returns_the_stored_text),
            cmocka_unit_test(test_a_callback_stops_a_query_with_its_value),
            cmocka_unit_test(test_a_read_handle_writes_nothing),
    };
    const struct CMUnitTest alone[] = {cmocka_unit_test(
            test_open_read_refuses_a_missing_file_and_queries_refuse_other_databases)};
    int failed = cmocka_run_group_tests(tests, setup, teardown);
    return failed + cmocka_run_group_tests(alone, NULL, NULL);
}
