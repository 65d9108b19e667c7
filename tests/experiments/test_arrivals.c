/* Workload replay (epara/node/arrivals.h): a rate scale compresses a trace and the compressed trace
 * is tiled, so every rate scale fills the run window with traffic; the simulator and the
 * bound replay the same arrivals; goodput of a lightly loaded cluster grows with the rate. */
#include <math.h>
#include <stdlib.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "epara/experiments/bound.h"
#include "epara/node/arrivals.h"
#include "sim/sim_fixture.h"

/* Rows at the given seconds (frames 0, 1, 2, ... of stream 7) into trace `name`. */
static void
write_rows_as(fx *f, const char *name, const char *format, const double *secs, int n)
{
    ep_trace_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "%s", name);
    snprintf(m.format, sizeof m.format, "%s", format);
    ep_trace_writer *w;
    assert_int_equal(ep_trace_writer_begin(f->st, &m, 0, &w), 0);
    ep_trace_writer_set_origin(w, 0);
    for (int i = 0; i < n; i++) {
        ep_trace_row r;
        ep_trace_row_clear(&r);
        r.arrival = (ep_time)llround(secs[i] * 1e9);
        r.stream = 7;
        r.frame = i;
        assert_int_equal(ep_trace_writer_add(w, &r), 0);
    }
    assert_int_equal(ep_trace_writer_commit(w, NULL), 0);
}

/* Arrivals of w at rate scale rate before `until`; *last gets the last one's time. */
static int
count_arrivals(fx *f, const ep_workload *w, double rate, ep_time until, ep_time *last)
{
    ep_arrivals rp;
    assert_int_equal(ep_arrivals_open(&rp, f->st, w, rate, until), 0);
    ep_trace_row row;
    ep_time at = 0;
    int n = 0;
    while (ep_arrivals_next(&rp, &row, &at) == 1) {
        *last = at;
        n++;
    }
    ep_arrivals_close(&rp);
    return n;
}

static void
write_rows(fx *f, const char *name, const double *secs, int n)
{
    write_rows_as(f, name, "", secs, n);
}

/* A small DNN (1 ms a batch of one on the fixture's GPU, 100 ms deadline). */
static void
dnn_service(fx *f)
{
    ep_service *s = &f->svc[0];
    snprintf(s->name, sizeof s->name, "dnn");
    s->kind = EP_SVC_DNN;
    s->weights_bytes = 100000000;
    s->flops_per_item = 1e9;
    s->max_batch = 8;
    s->input_bytes = 1000;
    s->slo.deadline = 100 * EP_NS_PER_MS;
    s->weight = 1;
    f->sc.nservices = 1;
    ep_profile_table *p = &f->prof[0];
    p->service = 0;
    p->spec = 0;
    p->n = 1;
    p->x[0] = 1;
    p->y[0] = EP_NS_PER_MS;
    f->sc.nprofiles = 1;
}

static void
test_copies_repeat_from_the_origin_one_mean_gap_apart_and_frames_keep_increasing(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "tile");
    const double secs[] = {1, 2, 4}; /* last row at 4 s, mean gap 4/3 s: a copy every 16/3 s */
    write_rows(&f, "t", secs, 3);
    fx_workload(&f, "t");
    f.wl[0].rate_scale = 2; /* half the times: a copy every 8/3 s */
    ep_arrivals rp;
    assert_int_equal(ep_arrivals_open(&rp, f.st, &f.wl[0], 1, 5500 * EP_NS_PER_MS), 0);
    const double p = 16.0 / 3; /* the period in trace seconds */
    const double want[] = {0.5, 1, 2, (1 + p) / 2, (2 + p) / 2, (4 + p) / 2, (1 + 2 * p) / 2};
    ep_trace_row row;
    ep_time at;
    int n = 0;
    int64_t last_frame = -1;
    while (ep_arrivals_next(&rp, &row, &at) == 1) {
        assert_true(n < 6);
        assert_true(llabs(at - (ep_time)llround(want[n] * 1e9)) <= 1);
        assert_true(row.frame > last_frame);
        last_frame = row.frame;
        n++;
    }
    assert_int_equal(n, 6); /* the seventh, at 5.83 s, is past 5.5 s */
    assert_int_equal(ep_arrivals_next(&rp, &row, &at), 0); /* stays at the end */
    ep_arrivals_close(&rp);
    ep_arrivals_close(&rp); /* closing twice is a no-op */
    fx_fini(&f);
}

/* Five requests within 4 ms, an hour into a generated trace (a burst of a very bursty
 * process): tiled, they come back once an hour, not every few milliseconds. */
static void
test_a_late_burst_repeats_at_the_trace_length_not_at_its_own(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "burst");
    const double secs[] = {3600, 3600.001, 3600.002, 3600.003, 3600.004};
    write_rows(&f, "b", secs, 5);
    fx_workload(&f, "b");
    ep_time last;
    /* x10: a copy every 432 s over 3 hours: 25 copies of 5 rows. */
    assert_int_equal(count_arrivals(&f, &f.wl[0], 10, 3 * 3600 * EP_NS_PER_S, &last), 25 * 5);
    fx_fini(&f);
}

/* The same burst at the very start of a trace the scenario's generator made for an hour
 * (stored from its first row, so it spans 4 ms): a copy per generated hour. */
static void
test_a_generated_trace_repeats_at_its_generated_duration(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "gen");
    const double secs[] = {0, 0.001, 0.002, 0.003, 0.004};
    write_rows_as(&f, "g", "gen-gamma", secs, 5);
    fx_workload(&f, "g");
    ep_trace_origin org = {.has_gen = 1};
    ep_gen_spec_init(&org.gen);
    org.gen.duration = 3600 * EP_NS_PER_S;
    f.wl[0].origin = &org; /* the fixture's scenario is not ep_scenario_fini'd */
    ep_time last;
    /* x10: a copy every 360 s over 3 hours */
    assert_int_equal(count_arrivals(&f, &f.wl[0], 10, 3 * 3600 * EP_NS_PER_S, &last), 30 * 5);
    fx_fini(&f);
}

static void
test_tile_false_plays_the_trace_once(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "once");
    const double secs[] = {1, 2, 4};
    write_rows(&f, "t", secs, 3);
    fx_workload(&f, "t");
    f.wl[0].once = 1;
    ep_time last;
    assert_int_equal(count_arrivals(&f, &f.wl[0], 4, 100 * EP_NS_PER_S, &last), 3);
    assert_int_equal(last, EP_NS_PER_S);
    /* The simulator replays the same three requests however long the run. */
    dnn_service(&f);
    f.sc.run.duration = 100 * EP_NS_PER_S;
    ep_run_result res;
    assert_int_equal(fx_run(&f, &res), 0);
    assert_int_equal(f.nrecs, 3);
    ep_run_result_fini(&res);
    fx_fini(&f);
}

static void
test_run_end_is_the_duration_for_tiled_workloads_else_one_pass(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "end");
    dnn_service(&f);
    const double secs[] = {1, 2, 4};
    write_rows(&f, "t", secs, 3);
    fx_workload(&f, "t");
    ep_time end;
    const char *bad;
    assert_int_equal(ep_arrivals_end(f.st, &f.sc, 8, 60 * EP_NS_PER_S, &end, &bad), 0);
    assert_int_equal(end, 60 * EP_NS_PER_S); /* tiled: fills the duration */
    assert_int_equal(ep_arrivals_end(f.st, &f.sc, 2, 0, &end, &bad), 0);
    assert_int_equal(end, 2 * EP_NS_PER_S); /* no duration: one pass, compressed */
    f.wl[0].once = 1;
    assert_int_equal(ep_arrivals_end(f.st, &f.sc, 2, 60 * EP_NS_PER_S, &end, &bad), 0);
    assert_int_equal(end, 2 * EP_NS_PER_S); /* played once: the trace's own end */
    snprintf(f.wl[0].trace, sizeof f.wl[0].trace, "missing");
    assert_int_equal(ep_arrivals_end(f.st, &f.sc, 1, 0, &end, &bad), EP_ENOENT);
    assert_string_equal(bad, "missing");
    f.wl[0].ningress = 0;
    assert_int_equal(ep_arrivals_end(f.st, &f.sc, 1, 0, &end, &bad), EP_EINVAL);
    fx_fini(&f);
}

/* Requests arriving in the last tenth of the measured window. */
static int64_t
late_arrivals(const fx *f, const ep_run_result *res, ep_dur warmup)
{
    ep_time lo = warmup, hi = warmup + (ep_time)llround(res->window_s * 1e9);
    ep_time from = hi - (hi - lo) / 10;
    int64_t n = 0;
    for (size_t i = 0; i < f->nrecs; i++)
        n += f->recs[i].arrival >= from && f->recs[i].arrival < hi;
    return n;
}

static void
test_window_holds_traffic_to_its_end_at_x8_and_x32(void **state)
{
    (void)state;
    const double scales[] = {8, 32};
    for (int k = 0; k < 2; k++) {
        fx f;
        fx_init(&f, "fill");
        dnn_service(&f);
        fx_poisson(&f, "p", 2, 100, 3); /* 100 s of 2 req/s */
        fx_workload(&f, "p");
        f.sc.run.duration = 100 * EP_NS_PER_S;
        f.sc.run.warmup = f.sc.run.cooldown = 5 * EP_NS_PER_S;
        ep_run_opts o;
        memset(&o, 0, sizeof o);
        o.traces = f.st;
        o.rate_scale = scales[k];
        o.on_record = fx_on_record;
        o.ctx = &f;
        ep_run_result res;
        char err[256] = "";
        assert_int_equal(ep_sim_run(&f.sc, &o, &res, err, sizeof err), 0);
        assert_true(fabs(res.window_s - 90) < 1e-6);
        /* 2 x scale req/s over the last 9 s; the trace ended after 100 / scale seconds. */
        double want = 2 * scales[k] * 9;
        int64_t got = late_arrivals(&f, &res, f.sc.run.warmup);
        assert_true((double)got > 0.8 * want && (double)got < 1.2 * want);
        assert_true(fabs((double)res.requests - 2 * scales[k] * 90) < 0.1 * 2 * scales[k] * 90);
        /* The bound replays the same arrivals. */
        ep_run_result b;
        assert_int_equal(ep_bound_run(&f.sc, &o, &b, err, sizeof err), 0);
        assert_int_equal(b.requests, res.requests);
        ep_run_result_fini(&res);
        ep_run_result_fini(&b);
        fx_fini(&f);
    }
}

static void
test_goodput_at_x4_is_four_times_x1_when_lightly_loaded(void **state)
{
    (void)state;
    double good[2];
    const double scales[] = {1, 4};
    for (int k = 0; k < 2; k++) {
        fx f;
        fx_init(&f, "x4");
        dnn_service(&f);
        fx_poisson(&f, "p", 5, 300, 11); /* 5 req/s of 1 ms work: x4 is 2% busy */
        fx_workload(&f, "p");
        f.sc.run.duration = 300 * EP_NS_PER_S;
        f.sc.run.warmup = f.sc.run.cooldown = 10 * EP_NS_PER_S;
        ep_run_opts o;
        memset(&o, 0, sizeof o);
        o.traces = f.st;
        o.rate_scale = scales[k];
        ep_run_result res;
        char err[256] = "";
        assert_int_equal(ep_sim_run(&f.sc, &o, &res, err, sizeof err), 0);
        assert_true(res.slo_attainment > 0.99);
        good[k] = res.goodput_per_s;
        ep_run_result_fini(&res);
        fx_fini(&f);
    }
    assert_true(fabs(good[1] / good[0] - 4) < 0.2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(
                    test_copies_repeat_from_the_origin_one_mean_gap_apart_and_frames_keep_increasing),
            cmocka_unit_test(test_a_late_burst_repeats_at_the_trace_length_not_at_its_own),
            cmocka_unit_test(test_a_generated_trace_repeats_at_its_generated_duration),
            cmocka_unit_test(test_tile_false_plays_the_trace_once),
            cmocka_unit_test(test_run_end_is_the_duration_for_tiled_workloads_else_one_pass),
            cmocka_unit_test(test_window_holds_traffic_to_its_end_at_x8_and_x32),
            cmocka_unit_test(test_goodput_at_x4_is_four_times_x1_when_lightly_loaded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
