/* Acceptance on the real production traces in ../shared/traces: exact row counts, first and
 * last timestamps to 100 ns, and the statistics published in shared/traces/README.md.
 * Skips (exit 77) with a message when the directory is absent. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "epara/core/error.h"
#include "epara/traces/store.h"

static char dir_[1024];
static char db_[1100];

static ep_store *
fresh_store(void)
{
    snprintf(db_, sizeof db_, "test_shared_traces_%ld.db", (long)getpid());
    remove(db_);
    ep_store *st = NULL;
    assert_int_equal(ep_store_open(db_, 0, &st, NULL, 0), 0);
    return st;
}

static void
import_azure(ep_store *st, const char *file, const char *name, ep_trace_meta *m)
{
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir_, file);
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_AZURE_LLM;
    ep_trace_meta meta;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.name, sizeof meta.name, "%s", name);
    ep_parse_error err;
    ep_parse_stats ps;
    int rc = ep_trace_import_file(st, path, &o, &meta, 0, &err, &ps, m);
    if (rc)
        fail_msg("%s:%ld: %s (%s)", path, err.line, err.msg, ep_strerror(rc));
    assert_int_equal(ps.skipped, 0);
}

static ep_time
ts(const char *s)
{
    ep_time t;
    assert_int_equal(ep_time_parse_datetime(s, strlen(s), &t), 0);
    return t;
}

static void
assert_within(double got, double want, double rel, const char *what)
{
    if (!(fabs(got - want) <= rel * fabs(want)))
        fail_msg("%s: got %.6g, want %.6g within %.1f%%", what, got, want, rel * 100);
}

static void
test_azure_code_trace_matches_published_counts_times_and_statistics(void **state)
{
    (void)state;
    ep_store *st = fresh_store();
    ep_trace_meta m;
    import_azure(st, "AzureLLMInferenceTrace_code.csv", "code", &m);
    assert_int_equal(m.rows, 8819);
    assert_int_equal(m.start_abs, ts("2023-11-16 18:17:03.9799600"));
    assert_int_equal(m.start_abs + m.span, ts("2023-11-16 19:14:19.9280160"));
    /* The second row keeps its 100 ns digits relative to the first. */
    ep_trace_reader *r;
    ep_trace_row row;
    assert_int_equal(ep_trace_reader_open(st, "code", 0, EP_TIME_MAX, &r), 0);
    assert_int_equal(ep_trace_reader_next(r, &row), 1);
    assert_int_equal(row.arrival, 0);
    assert_int_equal(row.input, 4808);
    assert_int_equal(row.output, 10);
    assert_int_equal(ep_trace_reader_next(r, &row), 1);
    assert_int_equal(row.arrival, ts("2023-11-16 18:17:04.0319600") - m.start_abs);
    assert_int_equal(row.arrival, 52000000);
    ep_trace_reader_close(r);
    ep_trace_stats s;
    assert_int_equal(ep_trace_stats_compute(st, "code", &s), 0);
    assert_int_equal(s.requests, 8819);
    assert_within(s.rate_per_s, 2.57, 0.01, "code rate");
    assert_within(s.interarrival_cv, 13.2, 0.01, "code inter-arrival CV");
    assert_int_equal(s.max_per_minute, 632);
    assert_within(s.input_p50, 1469, 0.01, "code input p50");
    assert_within(s.output_p50, 13, 0.01, "code output p50");
    assert_within(s.input_mean, 2048, 0.01, "code input mean");
    assert_within(s.output_max, 1899, 0.0, "code output max");
    ep_store_close(st);
    remove(db_);
}

static void
test_azure_conv_trace_matches_published_counts_times_and_statistics(void **state)
{
    (void)state;
    ep_store *st = fresh_store();
    ep_trace_meta m;
    import_azure(st, "AzureLLMInferenceTrace_conv.csv", "conv", &m);
    assert_int_equal(m.rows, 19366);
    assert_int_equal(m.start_abs, ts("2023-11-16 18:15:46.6805900"));
    assert_int_equal(m.start_abs + m.span, ts("2023-11-16 19:14:08.4025270"));
    ep_trace_stats s;
    assert_int_equal(ep_trace_stats_compute(st, "conv", &s), 0);
    assert_within(s.rate_per_s, 5.53, 0.01, "conv rate");
    assert_within(s.interarrival_cv, 1.09, 0.01, "conv inter-arrival CV");
    assert_int_equal(s.max_per_minute, 507);
    assert_within(s.input_p50, 1020, 0.01, "conv input p50");
    assert_within(s.output_p50, 129, 0.01, "conv output p50");
    assert_within(s.output_mean, 211, 0.01, "conv output mean");
    ep_store_close(st);
    remove(db_);
}

typedef struct skips {
    long n;
    long first_line;
} skips;

static void
on_skip(void *ctx, long line, const char *reason)
{
    skips *s = ctx;
    assert_non_null(strstr(reason, "empty"));
    if (s->n++ == 0)
        s->first_line = line;
}

static void
test_gentd26_imports_with_pending_rows_reported_and_skipped(void **state)
{
    (void)state;
    ep_store *st = fresh_store();
    char path[2048];
    snprintf(path, sizeof path, "%s/alibaba_gentd26_lora_request_trace.csv", dir_);
    skips sk = {0, 0};
    ep_parse_opts o;
    memset(&o, 0, sizeof o);
    o.format = EP_FMT_ALIBABA_GENTD;
    o.on_skip = on_skip;
    o.ctx = &sk;
    ep_trace_meta meta, m;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.name, sizeof meta.name, "gentd");
    ep_parse_error err;
    ep_parse_stats ps;
    int rc = ep_trace_import_file(st, path, &o, &meta, 0, &err, &ps, &m);
    if (rc)
        fail_msg("%s:%ld: %s", path, err.line, err.msg);
    assert_int_equal(sk.n, 25);
    assert_int_equal(ps.skipped, 25);
    assert_true(sk.first_line > 1);
    assert_int_equal(m.rows, 26823 - 25);
    assert_int_equal(m.start_abs, ts("2024-11-15 16:57:50"));
    ep_trace_stats s;
    assert_int_equal(ep_trace_stats_compute(st, "gentd", &s), 0);
    assert_int_equal(s.with_exec, m.rows);
    assert_within(s.exec_p50_s, 23, 0.01, "gentd exec p50");
    assert_within(s.span_s, 1989367, 0.001, "gentd span");
    ep_trace_reader *r;
    ep_trace_row row;
    assert_int_equal(ep_trace_reader_open(st, "gentd", 0, EP_TIME_MAX, &r), 0);
    assert_int_equal(ep_trace_reader_next(r, &row), 1);
    assert_string_equal(row.kind, "TXT_2_IMG");
    assert_int_equal(row.exec, 32 * EP_NS_PER_S);
    assert_int_equal(row.input, 63);
    assert_int_equal(row.output, 1);
    assert_non_null(row.attrs);
    assert_non_null(strstr(row.attrs, "SUCCEED"));
    ep_trace_reader_close(r);
    ep_store_close(st);
    remove(db_);
}

int
main(void)
{
    snprintf(dir_, sizeof dir_, "%s/traces", EP_SHARED_DIR);
    char probe[1100];
    snprintf(probe, sizeof probe, "%s/AzureLLMInferenceTrace_code.csv", dir_);
    if (access(probe, R_OK) != 0) {
        printf("skipping: %s not found (the shared production traces are not here)\n", probe);
        return 77;
    }
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_azure_code_trace_matches_published_counts_times_and_statistics),
            cmocka_unit_test(test_azure_conv_trace_matches_published_counts_times_and_statistics),
            cmocka_unit_test(test_gentd26_imports_with_pending_rows_reported_and_skipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
