/* Queueing theory checks of the simulator: one DNN service on one device, batch size 1,
 * Poisson arrivals. Deterministic service time must give the M/D/1 mean wait
 * rho D / (2 (1 - rho)); exponential service times (from the trace) the M/M/1 mean wait
 * rho / (mu - lambda); Little's law L = lambda W must hold with L measured as the number
 * in system that arrivals see (PASTA). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "sim_fixture.h"

#define LAMBDA    70.0 /* arrivals per second */
#define SERVICE_S 0.01 /* mean service time: rho = 0.7 */
#define N_REQ     400000

/* A DNN service whose batch-1 latency is SERVICE_S (profile table). */
static void
dnn_service(fx *f, int use_trace_exec)
{
    ep_service *s = &f->svc[0];
    snprintf(s->name, sizeof s->name, "dnn");
    s->kind = EP_SVC_DNN;
    s->weights_bytes = 100000000;
    s->flops_per_item = 1e9;
    s->max_batch = 1;
    s->input_bytes = 1000;
    s->slo.deadline = 1000 * EP_NS_PER_MS;
    s->weight = 1;
    s->use_trace_exec = use_trace_exec;
    f->sc.nservices = 1;
    ep_profile_table *p = &f->prof[0];
    p->service = 0;
    p->spec = 0;
    p->n = 1;
    p->x[0] = 1;
    p->y[0] = (ep_dur)(SERVICE_S * 1e9);
    f->sc.nprofiles = 1;
}

/* Poisson arrivals; with exp_service, exponential execution times in the trace. */
static void
write_trace(fx *f, int exp_service)
{
    ep_trace_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "poisson");
    ep_trace_writer *w;
    assert_int_equal(ep_trace_writer_begin(f->st, &m, 0, &w), 0);
    ep_trace_writer_set_origin(w, 0);
    ep_rng ra, rs;
    ep_rng_init(&ra, 42, EP_STREAM_ARRIVALS);
    ep_rng_init(&rs, 42, EP_STREAM_SERVICE);
    double t = 0;
    for (int i = 0; i < N_REQ; i++) {
        t += ep_rng_exponential(&ra, 1.0 / LAMBDA);
        ep_trace_row r;
        ep_trace_row_clear(&r);
        r.arrival = (ep_time)(t * 1e9);
        if (exp_service)
            r.exec = (ep_dur)(ep_rng_exponential(&rs, SERVICE_S) * 1e9);
        assert_int_equal(ep_trace_writer_add(w, &r), 0);
    }
    ep_rng_fini(&ra);
    ep_rng_fini(&rs);
    assert_int_equal(ep_trace_writer_commit(w, NULL), 0);
    fx_workload(f, "poisson");
}

static int
cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int
cmp_time(const void *a, const void *b)
{
    ep_time x = *(const ep_time *)a, y = *(const ep_time *)b;
    return (x > y) - (x < y);
}

/* Mean wait (sojourn - service) and Little's law check over all records. */
static double
mean_wait_and_little(fx *f, double mean_service)
{
    size_t n = f->nrecs;
    assert_int_equal(n, N_REQ);
    double sum_sojourn = 0;
    ep_time *done = malloc(n * sizeof *done);
    assert_non_null(done);
    ep_time t_end = 0;
    for (size_t i = 0; i < n; i++) {
        const ep_record *r = &f->recs[i];
        assert_int_equal(r->outcome, EP_OUT_COMPLETED);
        sum_sojourn += (double)(r->done - r->arrival) / 1e9;
        done[i] = r->done;
        if (r->done > t_end)
            t_end = r->done;
    }
    /* Records arrive in completion order; sort arrivals and completions to count, for each
     * arrival, how many earlier requests are still in the system (FIFO: done order). */
    ep_time *arr = malloc(n * sizeof *arr);
    assert_non_null(arr);
    for (size_t i = 0; i < n; i++)
        arr[i] = f->recs[i].arrival;
    qsort(arr, n, sizeof *arr, cmp_time);
    qsort(done, n, sizeof *done, cmp_time);
    double seen = 0;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        while (j < n && done[j] <= arr[i])
            j++;
        seen += (double)(i - j); /* arrived before, not yet done */
    }
    double L = seen / (double)n;
    double W = sum_sojourn / (double)n;
    double lambda = (double)n / ((double)(arr[n - 1] - arr[0]) / 1e9);
    double little = lambda * W;
    if (fabs(L - little) > 0.02 * little)
        fail_msg("Little's law: L seen by arrivals %.4f vs lambda W %.4f", L, little);
    free(done);
    free(arr);
    return W - mean_service;
}

static void
test_md1_mean_wait_matches_theory(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "md1");
    dnn_service(&f, 0);
    write_trace(&f, 0);
    ep_run_result res;
    assert_int_equal(fx_run(&f, &res), 0);
    double rho = LAMBDA * SERVICE_S;
    double theory = rho * SERVICE_S / (2 * (1 - rho));
    double wq = mean_wait_and_little(&f, SERVICE_S);
    if (fabs(wq - theory) > 0.02 * theory)
        fail_msg("M/D/1 mean wait %.6f s, theory %.6f s", wq, theory);
    assert_int_equal(res.requests, N_REQ);
    assert_int_equal(res.completed, N_REQ);
    /* The reported quantiles (histograms) match the exact order statistics of the
     * records within the histograms' 0.4% resolution. */
    double *lat = malloc(f.nrecs * sizeof *lat), sum = 0;
    assert_non_null(lat);
    for (size_t i = 0; i < f.nrecs; i++) {
        lat[i] = (double)(f.recs[i].done - f.recs[i].arrival) / 1e9;
        sum += lat[i];
    }
    qsort(lat, f.nrecs, sizeof *lat, cmp_double);
    double p50 = lat[(size_t)ceil(0.5 * (double)f.nrecs) - 1];
    double p99 = lat[(size_t)ceil(0.99 * (double)f.nrecs) - 1];
    if (fabs(res.p50_latency_s - p50) > 0.004 * p50 || fabs(res.p99_latency_s - p99) > 0.004 * p99)
        fail_msg("quantiles: p50 %.6f vs exact %.6f, p99 %.6f vs exact %.6f", res.p50_latency_s,
                 p50, res.p99_latency_s, p99);
    assert_true(fabs(res.mean_latency_s - sum / (double)f.nrecs) < 1e-9);
    free(lat);
    ep_run_result_fini(&res);
    fx_fini(&f);
}

static void
test_mm1_mean_wait_matches_theory(void **state)
{
    (void)state;
    fx f;
    fx_init(&f, "mm1");
    dnn_service(&f, 1);
    write_trace(&f, 1);
    ep_run_result res;
    assert_int_equal(fx_run(&f, &res), 0);
    double mu = 1.0 / SERVICE_S;
    double theory = (LAMBDA / mu) / (mu - LAMBDA);
    double wq = mean_wait_and_little(&f, SERVICE_S);
    if (fabs(wq - theory) > 0.02 * theory)
        fail_msg("M/M/1 mean wait %.6f s, theory %.6f s", wq, theory);
    ep_run_result_fini(&res);
    fx_fini(&f);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_md1_mean_wait_matches_theory),
            cmocka_unit_test(test_mm1_mean_wait_matches_theory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
