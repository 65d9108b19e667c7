/* The SQLite trace store: transactional writer (all or nothing, sorting, rebasing,
 * replace), streaming reader with time ranges, derive (scale/slice), spread, merge,
 * statistics (with arrival quantization and the keys kept in attrs). */
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

static char db_[256];

static int
setup(void **state)
{
    snprintf(db_, sizeof db_, "test_store_%ld.db", (long)getpid());
    remove(db_);
    ep_store *st = NULL;
    if (ep_store_open(db_, 0, &st, NULL, 0))
        return -1;
    *state = st;
    return 0;
}

static int
teardown(void **state)
{
    ep_store_close(*state);
    remove(db_);
    return 0;
}

static ep_trace_meta
meta_named(const char *name)
{
    ep_trace_meta m;
    memset(&m, 0, sizeof m);
    snprintf(m.name, sizeof m.name, "%s", name);
    snprintf(m.format, sizeof m.format, "test");
    return m;
}

static ep_trace_row
row_at(ep_time t, int64_t input)
{
    ep_trace_row r;
    memset(&r, 0, sizeof r);
    r.arrival = t;
    r.input = input;
    r.output = EP_TRACE_NONE;
    r.stream = EP_TRACE_NONE;
    r.frame = EP_TRACE_NONE;
    r.exec = EP_TRACE_NONE;
    return r;
}

/* Writes rows with the given arrivals (inputs 0, 1, 2, ... in the order given). */
static int
write_trace(ep_store *st, const char *name, const ep_time *t, size_t n, int replace)
{
    ep_trace_meta m = meta_named(name);
    ep_trace_writer *w;
    int err = ep_trace_writer_begin(st, &m, replace, &w);
    if (err)
        return err;
    for (size_t i = 0; i < n; i++) {
        ep_trace_row r = row_at(t[i], (int64_t)i);
        if ((err = ep_trace_writer_add(w, &r)) != 0) {
            ep_trace_writer_abort(w);
            return err;
        }
    }
    return ep_trace_writer_commit(w, NULL);
}

static size_t
read_all(ep_store *st, const char *name, ep_time from, ep_time to, ep_time *t, int64_t *in,
         size_t cap)
{
    ep_trace_reader *r;
    assert_int_equal(ep_trace_reader_open(st, name, from, to, &r), 0);
    ep_trace_row row;
    size_t n = 0;
    int rc;
    while ((rc = ep_trace_reader_next(r, &row)) == 1) {
        assert_true(n < cap);
        t[n] = row.arrival;
        in[n] = row.input;
        n++;
    }
    assert_int_equal(rc, 0);
    ep_trace_reader_close(r);
    return n;
}

static int64_t
trace_count(ep_store *st)
{
    int64_t n = 0;
    ep_trace_meta m;
    const char *names[] = {"a", "b", "c", "d", "m", "s"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        n += ep_trace_meta_get(st, names[i], &m) == 0;
    return n;
}

static void
test_sorted_rows_are_rebased_to_the_first_arrival(void **state)
{
    ep_store *st = *state;
    ep_time t[] = {1000, 1500, 1500, 4000};
    assert_int_equal(write_trace(st, "a", t, 4, 0), 0);
    ep_trace_meta m;
    assert_int_equal(ep_trace_meta_get(st, "a", &m), 0);
    assert_int_equal(m.rows, 4);
    assert_int_equal(m.start_abs, 1000);
    assert_int_equal(m.span, 3000);
    ep_time got[8];
    int64_t in[8];
    assert_int_equal(read_all(st, "a", 0, EP_TIME_MAX, got, in, 8), 4);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 500);
    assert_int_equal(got[3], 3000);
}

static void
test_unsorted_rows_are_stored_sorted_and_stable(void **state)
{
    ep_store *st = *state;
    ep_time t[] = {500, 100, 300, 100, 200};
    assert_int_equal(write_trace(st, "a", t, 5, 0), 0);
    ep_time got[8];
    int64_t in[8];
    assert_int_equal(read_all(st, "a", 0, EP_TIME_MAX, got, in, 8), 5);
    ep_time want_t[] = {0, 0, 100, 200, 400};
    int64_t want_in[] = {1, 3, 4, 2, 0}; /* equal arrivals keep input order */
    for (int i = 0; i < 5; i++) {
        assert_int_equal(got[i], want_t[i]);
        assert_int_equal(in[i], want_in[i]);
    }
    ep_trace_meta m;
    assert_int_equal(ep_trace_meta_get(st, "a", &m), 0);
    assert_int_equal(m.start_abs, 100);
    assert_int_equal(m.span, 400);
}

static void
test_aborted_writer_leaves_the_database_unchanged(void **state)
{
    ep_store *st = *state;
    ep_time t[] = {0, 10};
    assert_int_equal(write_trace(st, "a", t, 2, 0), 0);
    ep_trace_meta m = meta_named("b");
    ep_trace_writer *w;
    assert_int_equal(ep_trace_writer_begin(st, &m, 0, &w), 0);
    ep_trace_row r = row_at(5, 1);
    assert_int_equal(ep_trace_writer_add(w, &r), 0);
    ep_trace_writer_abort(w);
    assert_int_equal(ep_trace_meta_get(st, "b", &m), EP_ENOENT);
    assert_int_equal(trace_count(st), 1);
    /* A replacing writer that aborts restores the old trace too. */
    m = meta_named("a");
    assert_int_equal(ep_trace_writer_begin(st, &m, 1, &w), 0);
    assert_int_equal(ep_trace_writer_add(w, &r), 0);
    ep_trace_writer_abort(w);
    assert_int_equal(ep_trace_meta_get(st, "a", &m), 0);
    assert_int_equal(m.rows, 2);
}

static void
test_duplicate_name_is_refused_unless_replace(void **state)
{
    ep_store *st = *state;
    ep_time t[] = {0, 10, 20};
    assert_int_equal(write_trace(st, "a", t, 3, 0), 0);
    assert_int_equal(write_trace(st, "a", t, 2, 0), EP_EEXIST);
    ep_trace_meta m;
    assert_int_equal(ep_trace_meta_get(st, "a", &m), 0);
    assert_int_equal(m.rows, 3);
    assert_int_equal(write_trace(st, "a", t, 2, 1), 0);
    assert_int_equal(ep_trace_meta_get(st, "a", &m), 0);
    assert_int_equal(m.rows, 2);
    ep_time got[8];
    int64_t in[8];
    assert_int_equal(read_all(st, "a", 0, EP_TIME_MAX, got, in, 8), 2);
}

static void
test_empty_trace_is_refused_and_not_stored(void **state)
{
    ep_store *st = *state;
    assert_int_equal(write_trace(st, "a", NULL, 0, 0), EP_EEMPTY);
    ep_trace_meta m;
    assert_int_equal(ep_trace_meta_get(st, "a", &m), EP_ENOENT);
}

static void
test_invalid_names_are_refused(void **state)
{
    ep_store *st = *state;
    ep_time t[] = {0};
    assert_int_equal(write_trace(st, "", t, 1, 0), EP_EINVAL);
    assert_int_equal(write_trace(st, "a b", t, 1, 0), EP_EINVAL);
    assert_int_equal(write_trace(st, "-x", t, 1, 0), EP_EINVAL);
    assert_int_equal(write_trace(st, "x'; DROP TABLE traces; --", t, 1, 0), EP_EINVAL);
}

static void
test_optional_fields_round_trip(void **state)
{
    ep_store *st = *state;
    ep_trace_meta m = meta_named("a");
    ep_trace_writer *w;
    assert_int_equal(ep_trace_writer_begin(st, &m, 0, &w), 0);
    ep_trace_row r = row_at(7, EP_TRACE_NONE);
    r.output = 9;
    r.stream = 3;
    r.frame = 41;
    r.exec = 123456789;
    r.kind = "TXT_2_IMG";
    r.attrs = "{\"k\":1}";
    r.service = "seg";
    assert_int_equal(ep_trace_writer_add(w, &r), 0);
    assert_int_equal(ep_trace_writer_commit(w, NULL), 0);
    ep_trace_reader *rd;
    ep_trace_row got;
    assert_int_equal(ep_trace_reader_open(st, "a", 0, EP_TIME_MAX, &rd), 0);
    assert_int_equal(ep_trace_reader_next(rd, &got), 1);
    assert_int_equal(got.arrival, 0);
    assert_int_equal(got.input, EP_TRACE_NONE);
    assert_int_equal(got.output, 9);
    assert_int_equal(got.stream, 3);
    assert_int_equal(got.frame, 41);
    assert_int_equal(got.exec, 123456789);
    assert_string_equal(got.kind, "TXT_2_IMG");
    assert_string_equal(got.attrs, "{\"k\":1}");
    assert_string_equal(got.service, "seg");
    assert_int_equal(ep_trace_reader_next(rd, &got), 0);
    ep_trace_reader_close(rd);
}

static void
test_reader_time_range_returns_exactly_the_rows_inside(void **state)
{
    ep_store *st = *state;
    ep_time t[100];
    for (int i = 0; i < 100; i++)
        t[i] = (ep_time)i * 10;
    assert_int_equal(write_trace(st, "a", t, 100, 0), 0);
    ep_time got[100];
    int64_t in[100];
    size_t n = read_all(st, "a", 255, 505, got, in, 100);
    assert_int_equal(n, 25); /* 260 .. 500 */
    assert_int_equal(got[0], 260);
    assert_int_equal(got[n - 1], 500);
    assert_int_equal(read_all(st, "a", 2000, EP_TIME_MAX, got, in, 100), 0);
}

static void
test_derive_scales_rate_and_slices_keeping_phase(void **state)
{
    ep_store *st = *state;
    ep_time t[] = {0, 100, 200, 300, 400, 500};
    assert_int_equal(write_trace(st, "a", t, 6, 0), 0);
    ep_trace_transform tr = {.time_scale = 0.5, .from = 150, .to = 450, .service = "svc"};
    ep_trace_meta m;
    assert_int_equal(ep_trace_derive(st, "a", "b", &tr, 0, &m), 0);
    assert_int_equal(m.rows, 3);
    ep_time got[8];
    int64_t in[8];
    assert_int_equal(read_all(st, "b", 0, EP_TIME_MAX, got, in, 8), 3);
    assert_int_equal(got[0], 25); /* (200 - 150) * 0.5 */
    assert_int_equal(got[1], 75);
    assert_int_equal(got[2], 125);
    assert_int_equal(in[0], 2);
    tr.from = 1000;
    tr.to = 2000;
    assert_int_equal(ep_trace_derive(st, "a", "c", &tr, 0, &m), EP_EEMPTY);
    assert_int_equal(ep_trace_meta_get(st, "c", &m), EP_ENOENT);
    assert_int_equal(ep_trace_derive(st, "a", "a", &tr, 1, &m), EP_EINVAL);
}

static void
test_merge_interleaves_by_arrival_and_tags_services(void **state)
{
    ep_store *st = *state;
    ep_time a[] = {0, 20, 40};
    ep_time b[] = {10, 20, 30};
    assert_int_equal(write_trace(st, "a", a, 3, 0), 0);
    assert_int_equal(write_trace(st, "b", b, 3, 0), 0);
    const char *srcs[] = {"a", "b"}, *svcs[] = {"llm", "seg"};
    ep_trace_meta m;
    assert_int_equal(ep_trace_merge(st, "m", srcs, svcs, 2, 0, &m), 0);
    assert_int_equal(m.rows, 6);
    ep_trace_reader *r;
    assert_int_equal(ep_trace_reader_open(st, "m", 0, EP_TIME_MAX, &r), 0);
    ep_time want_t[] = {0, 0, 10, 20, 20, 40};
    const char *want_s[] = {"llm", "seg", "seg", "llm", "seg", "llm"};
    ep_trace_row row;
    for (int i = 0; i < 6; i++) {
        assert_int_equal(ep_trace_reader_next(r, &row), 1);
        assert_int_equal(row.arrival, want_t[i]);
        assert_string_equal(row.service, want_s[i]);
    }
    assert_int_equal(ep_trace_reader_next(r, &row), 0);
    ep_trace_reader_close(r);
}

static void
test_stats_of_a_known_trace(void **state)
{
    ep_store *st = *state;
    /* Gaps alternate 1 s and 3 s: mean 2 s, sd 1 s, CV 0.5. */
    ep_time t[101];
    t[0] = 0;
    for (int i = 1; i <= 100; i++)
        t[i] = t[i - 1] + (i % 2 ? 1 : 3) * EP_NS_PER_S;
    assert_int_equal(write_trace(st, "a", t, 101, 0), 0);
    ep_trace_stats s;
    assert_int_equal(ep_trace_stats_compute(st, "a", &s), 0);
    assert_int_equal(s.requests, 101);
    assert_true(fabs(s.span_s - 200) < 1e-9);
    assert_true(fabs(s.interarrival_mean_s - 2) < 1e-9);
    assert_true(fabs(s.interarrival_cv - 0.5) < 1e-9);
    assert_true(fabs(s.rate_per_s - 101.0 / 200) < 1e-9);
    assert_true(fabs(s.input_p50 - 50) < 1e-9); /* inputs are 0..100 */
    assert_true(fabs(s.input_p99 - 99) < 1e-9);
    assert_int_equal(s.with_output, 0);
    assert_int_equal(s.max_per_minute, 30); /* 0..59 s holds arrivals at 0,1,4,5,...,57 */
    assert_int_equal(ep_trace_stats_compute(st, "nope", &s), EP_ENOENT);
}

static void
test_stats_detect_quantized_arrivals_and_count_attrs_keys(void **state)
{
    ep_store *st = *state;
    /* 20 buckets 3 s apart holding 5 requests each; every other row keeps attrs. */
    ep_trace_meta m = meta_named("q");
    ep_trace_writer *w;
    assert_int_equal(ep_trace_writer_begin(st, &m, 0, &w), 0);
    for (int i = 0; i < 100; i++) {
        ep_trace_row r = row_at((ep_time)(i / 5) * 3 * EP_NS_PER_S, i);
        r.attrs = i % 2 ? "{\"hash_ids\":[1,{\"x\":\"a,\\\"b\"}],\"user\":\"u\"}"
                        : (i % 4 ? NULL : "{\"user\":\"v\"}");
        assert_int_equal(ep_trace_writer_add(w, &r), 0);
    }
    assert_int_equal(ep_trace_writer_commit(w, NULL), 0);
    ep_trace_stats s;
    assert_int_equal(ep_trace_stats_compute(st, "q", &s), 0);
    assert_int_equal(s.distinct_arrivals, 20);
    assert_int_equal(s.tick, 3 * EP_NS_PER_S);
    assert_true(s.quantized);
    assert_int_equal(s.with_attrs, 75);
    assert_int_equal(s.nattr_keys, 2);
    assert_string_equal(s.attr_keys[0].name, "user"); /* first seen on row 0 */
    assert_int_equal(s.attr_keys[0].rows, 75);
    assert_string_equal(s.attr_keys[1].name, "hash_ids"); /* nested keys not counted */
    assert_int_equal(s.attr_keys[1].rows, 50);
    assert_false(s.attr_keys_more);

    /* Spread over the tick: every request stays in its bucket, no ties are left, counts per
     * bucket are kept, and the same seed gives the same trace. */
    assert_int_equal(ep_trace_spread(st, "q", "s", s.tick, 7, 0, &m), 0);
    assert_int_equal(m.rows, 100);
    ep_time got[100], again[100];
    int64_t in[100], in2[100];
    assert_int_equal(read_all(st, "s", 0, EP_TIME_MAX, got, in, 100), 100);
    int per_bucket[20] = {0};
    for (int i = 0; i < 100; i++) {
        int64_t b = in[i] / 5; /* the row's source bucket */
        assert_true(got[i] >= b * 3 * EP_NS_PER_S && got[i] < (b + 1) * 3 * EP_NS_PER_S);
        per_bucket[b]++;
        if (i)
            assert_true(got[i] >= got[i - 1]);
    }
    for (int b = 0; b < 20; b++)
        assert_int_equal(per_bucket[b], 5);
    ep_trace_stats s2;
    assert_int_equal(ep_trace_stats_compute(st, "s", &s2), 0);
    assert_int_equal(s2.distinct_arrivals, 100);
    assert_false(s2.quantized);
    assert_int_equal(s2.with_attrs, 75); /* other fields kept */
    assert_int_equal(ep_trace_spread(st, "q", "s", s.tick, 7, 1, &m), 0);
    assert_int_equal(read_all(st, "s", 0, EP_TIME_MAX, again, in2, 100), 100);
    assert_memory_equal(got, again, sizeof got);
    assert_int_equal(ep_trace_spread(st, "q", "s", s.tick, 8, 1, &m), 0);
    assert_int_equal(read_all(st, "s", 0, EP_TIME_MAX, again, in2, 100), 100);
    assert_memory_not_equal(got, again, sizeof got);
    assert_int_equal(ep_trace_spread(st, "q", "q", s.tick, 7, 1, &m), EP_EINVAL);
    assert_int_equal(ep_trace_spread(st, "q", "t", 0, 7, 1, &m), EP_EINVAL);
    assert_int_equal(ep_trace_spread(st, "nope", "t", s.tick, 7, 1, &m), EP_ENOENT);

    /* Ties at a fine tick are not a coarse clock: not flagged as quantized. */
    ep_time t[] = {0, 0, 1, 1, 5};
    assert_int_equal(write_trace(st, "d", t, 5, 0), 0);
    assert_int_equal(ep_trace_stats_compute(st, "d", &s), 0);
    assert_int_equal(s.distinct_arrivals, 3);
    assert_int_equal(s.tick, 1);
    assert_false(s.quantized);
    assert_int_equal(s.with_attrs, 0);
}

static void
test_remove_deletes_rows_and_metadata(void **state)
{
    ep_store *st = *state;
    ep_time t[] = {0, 1};
    assert_int_equal(write_trace(st, "a", t, 2, 0), 0);
    assert_int_equal(ep_trace_remove(st, "a"), 0);
    ep_trace_meta m;
    assert_int_equal(ep_trace_meta_get(st, "a", &m), EP_ENOENT);
    assert_int_equal(ep_trace_remove(st, "a"), EP_ENOENT);
    assert_int_equal(write_trace(st, "a", t, 1, 0), 0); /* the name is free again */
}

static void
test_open_refuses_missing_and_non_database_files(void **state)
{
    (void)state;
    ep_store *st;
    char msg[256];
    assert_int_equal(ep_store_open("does-not-exist.db", EP_STORE_READONLY, &st, msg, sizeof msg),
                     EP_ENOENT);
    char junk[256];
    snprintf(junk, sizeof junk, "junk_%ld.db", (long)getpid());
    FILE *f = fopen(junk, "w");
    assert_non_null(f);
    fputs("this is not a database, just some text that is long enough to be read as a header "
          "by SQLite when it opens the file.......",
          f);
    fclose(f);
    assert_int_equal(ep_store_open(junk, 0, &st, msg, sizeof msg), EP_EDB);
    assert_non_null(strstr(msg, junk));
    remove(junk);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_setup_teardown(test_sorted_rows_are_rebased_to_the_first_arrival,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_unsorted_rows_are_stored_sorted_and_stable, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_aborted_writer_leaves_the_database_unchanged,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_duplicate_name_is_refused_unless_replace, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_empty_trace_is_refused_and_not_stored, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_invalid_names_are_refused, setup, teardown),
            cmocka_unit_test_setup_teardown(test_optional_fields_round_trip, setup, teardown),
            cmocka_unit_test_setup_teardown(test_reader_time_range_returns_exactly_the_rows_inside,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_derive_scales_rate_and_slices_keeping_phase, setup,
                                            teardown),
            cmocka_unit_test_setup_teardown(test_merge_interleaves_by_arrival_and_tags_services,
                                            setup, teardown),
            cmocka_unit_test_setup_teardown(test_stats_of_a_known_trace, setup, teardown),
            cmocka_unit_test_setup_teardown(
                    test_stats_detect_quantized_arrivals_and_count_attrs_keys, setup, teardown),
            cmocka_unit_test_setup_teardown(test_remove_deletes_rows_and_metadata, setup, teardown),
            cmocka_unit_test_setup_teardown(test_open_refuses_missing_and_non_database_files, setup,
                                            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
