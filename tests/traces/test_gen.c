/* Tests for the trace generators (traces/gen.c) against theory: rates, inter-arrival CVs,
 * MMPP long-run rate, exact video frame structure and on/off fractions, lognormal fits,
 * resampling, determinism, stream separation and spec validation. Seeds are fixed and
 * runs long, so tolerances are several standard errors wide yet still catch real bugs. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gsl/gsl_statistics_double.h>

#include "epara/core/error.h"
#include "epara/traces/trace.h"

/* --- a checking sink ---------------------------------------------------------------- */

typedef struct collect {
    ep_dur duration;
    int keep; /* store rows in rows[] */
    ep_trace_row *rows;
    size_t n, cap;
    ep_time last;
    /* Welford over inter-arrival gaps (ns) */
    double gap_mean, gap_m2;
    uint64_t hash_all, hash_arrivals;
    long stop_after; /* > 0: return 7 from the sink once this many rows were seen */
} collect;

static void
collect_init(collect *c, const ep_gen_spec *spec, int keep)
{
    memset(c, 0, sizeof *c);
    c->duration = spec->duration;
    c->keep = keep;
    c->hash_all = c->hash_arrivals = UINT64_C(14695981039346656037);
}

static void
collect_fini(collect *c)
{
    free(c->rows);
    c->rows = NULL;
}

static uint64_t
fnv(uint64_t h, int64_t v)
{
    for (int i = 0; i < 8; i++) {
        h ^= (uint64_t)v >> (8 * i) & 0xff;
        h *= UINT64_C(1099511628211);
    }
    return h;
}

/* Checks what every generated row must satisfy, whatever the spec. */
static int
collect_sink(void *ctx, const ep_trace_row *row, long line)
{
    collect *c = ctx;
    assert_int_equal(line, (long)c->n + 1);
    assert_true(row->arrival >= 0 && row->arrival < c->duration);
    assert_true(row->arrival >= c->last);
    assert_int_equal(row->exec, EP_TRACE_NONE);
    assert_null(row->kind);
    assert_null(row->attrs);
    assert_null(row->service);
    if (c->n > 0) {
        double gap = (double)(row->arrival - c->last);
        double d = gap - c->gap_mean;
        c->gap_mean += d / (double)c->n;
        c->gap_m2 += d * (gap - c->gap_mean);
    }
    c->last = row->arrival;
    c->hash_arrivals = fnv(c->hash_arrivals, row->arrival);
    c->hash_all = fnv(c->hash_all, row->arrival);
    c->hash_all = fnv(c->hash_all, row->input);
    c->hash_all = fnv(c->hash_all, row->output);
    c->hash_all = fnv(c->hash_all, row->stream);
    c->hash_all = fnv(c->hash_all, row->frame);
    if (c->keep) {
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 1024;
            c->rows = realloc(c->rows, c->cap * sizeof *c->rows);
            assert_non_null(c->rows);
        }
        c->rows[c->n] = *row;
    }
    c->n++;
    if (c->stop_after > 0 && (long)c->n >= c->stop_after)
        return 7;
    return 0;
}

static double
gap_cv(const collect *c)
{
    double var = c->gap_m2 / (double)(c->n - 2);
    return sqrt(var) / c->gap_mean;
}

static void
generate_ok(const ep_gen_spec *spec, collect *c)
{
    char err[256] = "";
    int rv = ep_trace_generate(spec, collect_sink, c, err, sizeof err);
    if (rv != 0)
        fail_msg("generate failed: %d (%s)", rv, err);
}

static void
expect_rel(const char *what, double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol * fabs(want)))
        fail_msg("%s: got %.6g, want %.6g within %.2g%%", what, got, want, tol * 100);
}

static ep_gen_spec
spec_of(ep_gen_kind kind, uint64_t seed, double duration_s)
{
    ep_gen_spec s;
    ep_gen_spec_init(&s);
    s.kind = kind;
    s.seed = seed;
    s.duration = (ep_dur)(duration_s * 1e9);
    return s;
}

/* --- spec basics ---------------------------------------------------------------------- */

static void
test_spec_init_sets_documented_defaults(void **state)
{
    (void)state;
    ep_gen_spec s;
    memset(&s, 0x5a, sizeof s);
    ep_gen_spec_init(&s);
    assert_int_equal(s.kind, EP_GEN_POISSON);
    assert_int_equal(s.seed, 1);
    assert_int_equal(s.duration, 60 * EP_NS_PER_S);
    assert_true(s.rate_per_s == 1.0 && s.cv == 1.0);
    assert_int_equal(s.cameras, 1);
    assert_true(s.fps == 30.0 && s.jitter_ms == 0.0 && s.mean_on_s == 0.0);
    assert_int_equal(s.sizes, EP_SIZES_FIXED);
    assert_int_equal(s.fixed_input, EP_TRACE_NONE);
    assert_int_equal(s.fixed_output, EP_TRACE_NONE);
    assert_null(s.pool_input);
    assert_null(s.pool_output);
    assert_int_equal(s.pool_len, 0);
}

static void
test_kind_names_parse_and_unknown_names_are_refused(void **state)
{
    (void)state;
    ep_gen_kind k = EP_GEN_VIDEO;
    assert_int_equal(ep_gen_kind_parse("poisson", &k), 0);
    assert_int_equal(k, EP_GEN_POISSON);
    assert_int_equal(ep_gen_kind_parse("gamma", &k), 0);
    assert_int_equal(k, EP_GEN_GAMMA);
    assert_int_equal(ep_gen_kind_parse("mmpp", &k), 0);
    assert_int_equal(k, EP_GEN_MMPP);
    assert_int_equal(ep_gen_kind_parse("video", &k), 0);
    assert_int_equal(k, EP_GEN_VIDEO);
    assert_int_equal(ep_gen_kind_parse("Poisson", &k), EP_EINVAL);
    assert_int_equal(ep_gen_kind_parse("", &k), EP_EINVAL);
    assert_int_equal(ep_gen_kind_parse("weibull", &k), EP_EINVAL);
    assert_int_equal(k, EP_GEN_VIDEO);
}

/* --- renewal processes ---------------------------------------------------------------- */

static void
test_poisson_rate_and_interarrival_cv_match_theory(void **state)
{
    (void)state;
    ep_gen_spec s = spec_of(EP_GEN_POISSON, 11, 400.0);
    s.rate_per_s = 1000.0; /* about 400k arrivals */
    s.fixed_input = 12;
    s.fixed_output = 34;
    collect c;
    collect_init(&c, &s, 0);
    generate_ok(&s, &c);
    assert_true(c.n >= 200000);
    expect_rel("poisson rate", (double)c.n / 400.0, 1000.0, 0.01);
    expect_rel("poisson inter-arrival cv", gap_cv(&c), 1.0, 0.02);
    collect_fini(&c);
}

static void
test_poisson_rows_carry_fixed_sizes_and_no_stream(void **state)
{
    (void)state;
    ep_gen_spec s = spec_of(EP_GEN_POISSON, 3, 10.0);
    s.rate_per_s = 100.0;
    s.fixed_input = 512;
    collect c;
    collect_init(&c, &s, 1);
    generate_ok(&s, &c);
    assert_true(c.n > 800);
    for (size_t i = 0; i < c.n; i++) {
        assert_int_equal(c.rows[i].input, 512);
        assert_int_equal(c.rows[i].output, EP_TRACE_NONE);
        assert_int_equal(c.rows[i].stream, EP_TRACE_NONE);
        assert_int_equal(c.rows[i].frame, EP_TRACE_NONE);
    }
    collect_fini(&c);
}

static void
check_gamma(double cv, uint64_t seed, double duration_s)
{
    ep_gen_spec s = spec_of(EP_GEN_GAMMA, seed, duration_s);
    s.rate_per_s = 100.0;
    s.cv = cv;
    collect c;
    collect_init(&c, &s, 0);
    generate_ok(&s, &c);
    expect_rel("gamma rate", (double)c.n / duration_s, 100.0, 0.01);
    expect_rel("gamma inter-arrival cv", gap_cv(&c), cv, 0.03);
    collect_fini(&c);
}

static void
test_gamma_interarrival_cv_matches_requested_cv(void **state)
{
    (void)state;
    /* The count's sd grows like cv * sqrt(n): longer runs for burstier processes. */
    check_gamma(0.5, 21, 3000.0);
    check_gamma(2.0, 22, 10000.0);
    check_gamma(4.0, 23, 20000.0);
}

/* --- mmpp ----------------------------------------------------------------------------- */

static void
check_mmpp(double on, double off, double mean_on, double mean_off, double duration_s, uint64_t seed)
{
    ep_gen_spec s = spec_of(EP_GEN_MMPP, seed, duration_s);
    s.rate_per_s = on;
    s.off_rate_per_s = off;
    s.mean_on_s = mean_on;
    s.mean_off_s = mean_off;
    collect c;
    collect_init(&c, &s, 0);
    generate_ok(&s, &c);
    double want = (on * mean_on + off * mean_off) / (mean_on + mean_off);
    expect_rel("mmpp long-run rate", (double)c.n / duration_s, want, 0.03);
    /* Modulation makes arrivals burstier than Poisson. */
    if (!(gap_cv(&c) > 1.2))
        fail_msg("mmpp inter-arrival cv %g is not above 1.2", gap_cv(&c));
    collect_fini(&c);
}

static void
test_mmpp_long_run_rate_is_the_time_weighted_mean_rate(void **state)
{
    (void)state;
    check_mmpp(200.0, 20.0, 0.2, 0.8, 20000.0, 31);
    check_mmpp(300.0, 0.0, 0.05, 0.15, 10000.0, 32); /* silent while off */
    check_mmpp(50.0, 5.0, 0.3, 0.1, 10000.0, 33);    /* on most of the time */
}

static void
test_mmpp_with_zero_off_rate_has_long_silent_gaps(void **state)
{
    (void)state;
    ep_gen_spec s = spec_of(EP_GEN_MMPP, 34, 2000.0);
    s.rate_per_s = 1000.0;
    s.off_rate_per_s = 0.0;
    s.mean_on_s = 1.0;
    s.mean_off_s = 1.0;
    collect c;
    collect_init(&c, &s, 1);
    generate_ok(&s, &c);
    /* Gaps above 0.1 s have probability e^-100 inside an on period: count off periods. */
    size_t long_gaps = 0;
    for (size_t i = 1; i < c.n; i++)
        long_gaps += c.rows[i].arrival - c.rows[i - 1].arrival > EP_NS_PER_S / 10;
    /* About 1000 off periods in 2000 s; those shorter than 0.1 s are missed (~10%). */
    assert_true(long_gaps > 800 && long_gaps < 1000);
    collect_fini(&c);
}

static void
test_mmpp_starts_in_the_stationary_state(void **state)
{
    (void)state;
    /* Over windows short against the sojourns, the mean count across seeds is the
     * stationary rate times the window (on 10% of the time), far below the count of a
     * process that always starts on. */
    enum { SEEDS = 1000 };
    double total = 0;
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        ep_gen_spec s = spec_of(EP_GEN_MMPP, seed, 0.5);
        s.rate_per_s = 1000.0;
        s.off_rate_per_s = 0.0;
        s.mean_on_s = 10.0;
        s.mean_off_s = 90.0;
        collect c;
        collect_init(&c, &s, 0);
        generate_ok(&s, &c);
        total += (double)c.n;
        collect_fini(&c);
    }
    expect_rel("short-window mmpp count", total / SEEDS, 0.1 * 1000.0 * 0.5, 0.25);
}

/* --- video ---------------------------------------------------------------------------- */

/* Checks per-camera structure: frames consecutive from 0, streams in range, arrivals
 * nondecreasing within a camera. Writes per-camera counts into counts[cameras]. */
static void
check_video_structure(const collect *c, int cameras, int64_t *counts)
{
    ep_time *last = calloc((size_t)cameras, sizeof *last);
    assert_non_null(last);
    for (int i = 0; i < cameras; i++)
        counts[i] = 0;
    for (size_t i = 0; i < c->n; i++) {
        const ep_trace_row *r = &c->rows[i];
        assert_true(r->stream >= 0 && r->stream < cameras);
        assert_int_equal(r->frame, counts[r->stream]);
        assert_true(r->arrival >= last[r->stream]);
        last[r->stream] = r->arrival;
        counts[r->stream]++;
        if (i > 0 && r->arrival == c->rows[i - 1].arrival)
            assert_true(r->stream >= c->rows[i - 1].stream); /* ties by camera index */
    }
    free(last);
}

static void
test_video_without_jitter_gives_exact_frame_counts_and_spacing(void **state)
{
    (void)state;
    enum { CAMS = 8 };
    ep_gen_spec s = spec_of(EP_GEN_VIDEO, 41, 60.0);
    s.cameras = CAMS;
    s.fps = 30.0;
    s.fixed_input = 150528;
    collect c;
    collect_init(&c, &s, 1);
    generate_ok(&s, &c);
    int64_t counts[CAMS];
    check_video_structure(&c, CAMS, counts);
    int64_t total = 0;
    for (int i = 0; i < CAMS; i++) {
        assert_true(llabs(counts[i] - 1800) <= 1);
        total += counts[i];
    }
    assert_int_equal((int64_t)c.n, total);
    assert_true(llabs(total - CAMS * 1800) <= CAMS);
    /* Without jitter each camera's frames are one period apart (to the ns). */
    ep_time prev[CAMS];
    for (int i = 0; i < CAMS; i++)
        prev[i] = -1;
    /* Each camera has its own random phase: the first frames are all distinct. */
    for (size_t i = 0; i < CAMS; i++) {
        assert_int_equal(c.rows[i].frame, 0);
        for (size_t j = 0; j < i; j++)
            assert_true(c.rows[i].arrival != c.rows[j].arrival);
    }
    for (size_t i = 0; i < c.n; i++) {
        const ep_trace_row *r = &c.rows[i];
        assert_int_equal(r->input, 150528);
        if (prev[r->stream] >= 0) {
            ep_dur gap = r->arrival - prev[r->stream];
            assert_true(llabs(gap - 33333333) <= 1);
        } else {
            assert_true(r->arrival < 33333334); /* phase in [0, 1/fps) */
        }
        prev[r->stream] = r->arrival;
    }
    collect_fini(&c);
}

static void
test_video_with_large_jitter_stays_monotone_per_camera(void **state)
{
    (void)state;
    enum { CAMS = 16 };
    ep_gen_spec s = spec_of(EP_GEN_VIDEO, 42, 30.0);
    s.cameras = CAMS;
    s.fps = 30.0;
    s.jitter_ms = 40.0; /* more than a period: unclipped frames would reorder */
    collect c;
    collect_init(&c, &s, 1);
    generate_ok(&s, &c);
    int64_t counts[CAMS];
    check_video_structure(&c, CAMS, counts);
    /* Frames are only lost at the end of the trace. */
    for (int i = 0; i < CAMS; i++)
        assert_true(counts[i] >= 900 - 10 && counts[i] <= 900);
    collect_fini(&c);
}

static void
test_video_jitter_has_the_requested_standard_deviation(void **state)
{
    (void)state;
    enum { CAMS = 10 };
    ep_gen_spec s = spec_of(EP_GEN_VIDEO, 43, 200.0);
    s.cameras = CAMS;
    s.fps = 25.0;
    s.jitter_ms = 2.0; /* small against the 40 ms period: clipping never happens */
    collect c;
    collect_init(&c, &s, 1);
    generate_ok(&s, &c);
    int64_t counts[CAMS];
    check_video_structure(&c, CAMS, counts);
    /* Consecutive frames differ by period + (e2 - e1): sd sqrt(2) * jitter. */
    double *gaps = malloc(c.n * sizeof *gaps);
    assert_non_null(gaps);
    ep_time prev[CAMS];
    size_t ng = 0;
    for (int i = 0; i < CAMS; i++)
        prev[i] = -1;
    for (size_t i = 0; i < c.n; i++) {
        const ep_trace_row *r = &c.rows[i];
        if (prev[r->stream] >= 0)
            gaps[ng++] = (double)(r->arrival - prev[r->stream]);
        prev[r->stream] = r->arrival;
    }
    expect_rel("video gap mean", gsl_stats_mean(gaps, 1, ng), 40e6, 0.001);
    expect_rel("video gap sd", gsl_stats_sd(gaps, 1, ng), sqrt(2.0) * 2e6, 0.05);
    free(gaps);
    collect_fini(&c);
}

static void
test_video_on_off_fraction_of_frames_matches_on_share(void **state)
{
    (void)state;
    enum { CAMS = 50 };
    ep_gen_spec s = spec_of(EP_GEN_VIDEO, 44, 2000.0);
    s.cameras = CAMS;
    s.fps = 5.0;
    s.mean_on_s = 1.0;
    s.mean_off_s = 3.0;
    collect c;
    collect_init(&c, &s, 1);
    generate_ok(&s, &c);
    int64_t counts[CAMS];
    check_video_structure(&c, CAMS, counts);
    double frac = (double)c.n / (CAMS * 5.0 * 2000.0);
    expect_rel("video on fraction", frac, 0.25, 0.05);
    /* Every camera is on some of the time, none all of the time. */
    for (int i = 0; i < CAMS; i++)
        assert_true(counts[i] > 1000 && counts[i] < 5000);
    collect_fini(&c);
}

static void
test_video_ties_are_broken_by_camera_index(void **state)
{
    (void)state;
    /* A 1 ns period puts frame k of every camera at k ns (phases are below 1 ns). */
    enum { CAMS = 4 };
    ep_gen_spec s = spec_of(EP_GEN_VIDEO, 45, 1e-6);
    s.cameras = CAMS;
    s.fps = 1e9;
    collect c;
    collect_init(&c, &s, 1);
    generate_ok(&s, &c);
    assert_int_equal(c.n, CAMS * 1000);
    for (size_t i = 0; i < c.n; i++) {
        assert_int_equal(c.rows[i].arrival, (ep_time)(i / CAMS));
        assert_int_equal(c.rows[i].stream, (int64_t)(i % CAMS));
        assert_int_equal(c.rows[i].frame, (int64_t)(i / CAMS));
    }
    collect_fini(&c);
}

static void
test_video_cameras_start_in_the_stationary_on_off_state(void **state)
{
    (void)state;
    /* Over a window short against the periods, the share of cameras on is the
     * stationary one (0.25), not 1 as when every camera starts on. */
    ep_gen_spec s = spec_of(EP_GEN_VIDEO, 46, 0.1);
    s.cameras = 4000;
    s.fps = 100.0;
    s.mean_on_s = 10.0;
    s.mean_off_s = 30.0;
    collect c;
    collect_init(&c, &s, 0);
    generate_ok(&s, &c);
    expect_rel("short-window on fraction", (double)c.n / (4000 * 100 * 0.1), 0.25, 0.1);
    collect_fini(&c);
}

/* --- sizes ---------------------------------------------------------------------------- */

static void
test_lognormal_sizes_fit_recovers_mu_and_sigma(void **state)
{
    (void)state;
    ep_gen_spec s = spec_of(EP_GEN_POISSON, 51, 200.0);
    s.rate_per_s = 1000.0;
    s.sizes = EP_SIZES_LOGNORMAL;
    s.in_mu = 6.0;
    s.in_sigma = 0.8;
    s.out_mu = 4.0;
    s.out_sigma = 1.2;
    collect c;
    collect_init(&c, &s, 1);
    generate_ok(&s, &c);
    int64_t *in = malloc(c.n * sizeof *in), *out = malloc(c.n * sizeof *out);
    assert_non_null(in);
    assert_non_null(out);
    for (size_t i = 0; i < c.n; i++) {
        assert_true(c.rows[i].input >= 1 && c.rows[i].output >= 1);
        in[i] = c.rows[i].input;
        out[i] = c.rows[i].output;
    }
    double mu, sigma;
    assert_int_equal(ep_lognormal_fit(in, c.n, &mu, &sigma), 0);
    expect_rel("input mu", mu, 6.0, 0.02);
    expect_rel("input sigma", sigma, 0.8, 0.02);
    assert_int_equal(ep_lognormal_fit(out, c.n, &mu, &sigma), 0);
    expect_rel("output mu", mu, 4.0, 0.02);
    expect_rel("output sigma", sigma, 1.2, 0.02);
    free(in);
    free(out);
    collect_fini(&c);
}

static void
test_lognormal_sizes_are_rounded_clamped_to_one_and_capped(void **state)
{
    (void)state;
    ep_gen_spec s = spec_of(EP_GEN_POISSON, 52, 10.0);
    s.rate_per_s = 100.0;
    s.sizes = EP_SIZES_LOGNORMAL;
    s.in_mu = log(200.4); /* sigma 0: exactly round(200.4) */
    s.in_sigma = 0.0;
    s.out_mu = -5.0; /* exp(-5) rounds to 0: clamped to 1 */
    s.out_sigma = 0.0;
    collect c;
    collect_init(&c, &s, 1);
    generate_ok(&s, &c);
    assert_true(c.n > 0);
    for (size_t i = 0; i < c.n; i++) {
        assert_int_equal(c.rows[i].input, 200);
        assert_int_equal(c.rows[i].output, 1);
    }
    collect_fini(&c);
    s.in_mu = 40.0; /* e^40 is far above the cap */
    collect_init(&c, &s, 1);
    generate_ok(&s, &c);
    for (size_t i = 0; i < c.n; i++)
        assert_int_equal(c.rows[i].input, EP_TRACE_MAX_SIZE);
    collect_fini(&c);
}

/* A clip (in_max, out_max) caps the draws and leaves the rest of the law alone: the sizes
 * below the clip are those of the unclipped stream, draw for draw, and 0 means no clip. */
static void
test_lognormal_sizes_are_clipped_at_the_optional_maximum(void **state)
{
    (void)state;
    ep_gen_spec s = spec_of(EP_GEN_POISSON, 54, 100.0);
    s.rate_per_s = 200.0;
    s.sizes = EP_SIZES_LOGNORMAL;
    s.in_mu = 8.2; /* median ~3,600 tokens, ~0.1% above 131,072 */
    s.in_sigma = 1.2;
    s.out_mu = 4.9;
    s.out_sigma = 0.8;
    collect free_, clipped;
    collect_init(&free_, &s, 1);
    generate_ok(&s, &free_);
    s.in_max = 20000; /* ~8% of the inputs above it */
    s.out_max = 300;
    collect_init(&clipped, &s, 1);
    generate_ok(&s, &clipped);
    assert_int_equal(free_.n, clipped.n);
    size_t in_hit = 0, out_hit = 0;
    int64_t in_max = 0;
    for (size_t i = 0; i < free_.n; i++) {
        const ep_trace_row *a = &free_.rows[i], *b = &clipped.rows[i];
        assert_int_equal(a->arrival, b->arrival);
        assert_int_equal(b->input, a->input < 20000 ? a->input : 20000);
        assert_int_equal(b->output, a->output < 300 ? a->output : 300);
        in_hit += a->input > 20000;
        out_hit += a->output > 300;
        in_max = a->input > in_max ? a->input : in_max;
    }
    /* P(in > 20000) = 1 - Phi((ln 20000 - 8.2) / 1.2) = 0.078; P(out > 300) = 0.157. */
    expect_rel("share of inputs clipped", (double)in_hit / (double)free_.n, 0.078, 0.15);
    expect_rel("share of outputs clipped", (double)out_hit / (double)free_.n, 0.157, 0.15);
    assert_true(in_max > 20000);
    collect_fini(&free_);
    collect_fini(&clipped);
}

static void
test_resample_only_produces_pool_pairs_uniformly(void **state)
{
    (void)state;
    static const int64_t pin[] = {10, 20, 30, 40, 50};
    static const int64_t pout[] = {1, 2, 3, 4, EP_TRACE_NONE};
    ep_gen_spec s = spec_of(EP_GEN_POISSON, 53, 100.0);
    s.rate_per_s = 500.0;
    s.sizes = EP_SIZES_RESAMPLE;
    s.pool_input = pin;
    s.pool_output = pout;
    s.pool_len = 5;
    collect c;
    collect_init(&c, &s, 1);
    generate_ok(&s, &c);
    size_t hits[5] = {0};
    for (size_t i = 0; i < c.n; i++) {
        size_t k = 0;
        while (k < 5 && !(c.rows[i].input == pin[k] && c.rows[i].output == pout[k]))
            k++;
        if (k == 5)
            fail_msg("row %zu (%lld, %lld) is not a pool pair", i, (long long)c.rows[i].input,
                     (long long)c.rows[i].output);
        hits[k]++;
    }
    for (int k = 0; k < 5; k++)
        expect_rel("pool pair share", (double)hits[k], (double)c.n / 5, 0.05);
    collect_fini(&c);
}

static void
test_lognormal_fit_ignores_zeros_and_absent_values(void **state)
{
    (void)state;
    double mu = -1, sigma = -1;
    const int64_t v[] = {0, 1, EP_TRACE_NONE, 100, 0};
    assert_int_equal(ep_lognormal_fit(v, EP_ARRAY_LEN(v), &mu, &sigma), 0);
    /* logs {0, ln 100}: mean ln 10, population sd ln 10 */
    assert_true(fabs(mu - log(10.0)) < 1e-12);
    assert_true(fabs(sigma - log(10.0)) < 1e-12);
    const int64_t same[] = {7, 7, 7};
    assert_int_equal(ep_lognormal_fit(same, 3, &mu, &sigma), 0);
    assert_true(fabs(mu - log(7.0)) < 1e-12 && sigma == 0.0);
}

static void
test_lognormal_fit_needs_two_positive_values(void **state)
{
    (void)state;
    double mu = 123, sigma = 456;
    const int64_t one[] = {0, 5, EP_TRACE_NONE};
    assert_int_equal(ep_lognormal_fit(one, EP_ARRAY_LEN(one), &mu, &sigma), EP_EEMPTY);
    assert_int_equal(ep_lognormal_fit(NULL, 0, &mu, &sigma), EP_EEMPTY);
    assert_true(mu == 123 && sigma == 456); /* untouched on error */
}

/* --- determinism and stream separation ---------------------------------------------- */

static ep_gen_spec
busy_spec(ep_gen_kind kind, uint64_t seed)
{
    ep_gen_spec s = spec_of(kind, seed, 20.0);
    s.rate_per_s = 200.0;
    s.cv = 2.0;
    s.off_rate_per_s = 10.0;
    s.mean_on_s = 1.0;
    s.mean_off_s = 2.0;
    s.cameras = 5;
    s.fps = 15.0;
    s.jitter_ms = 5.0;
    s.sizes = EP_SIZES_LOGNORMAL;
    s.in_mu = 5.0;
    s.in_sigma = 1.0;
    s.out_mu = 3.0;
    s.out_sigma = 0.5;
    return s;
}

static void
run_hashes(const ep_gen_spec *s, uint64_t *all, uint64_t *arrivals, size_t *n)
{
    collect c;
    collect_init(&c, s, 0);
    generate_ok(s, &c);
    *all = c.hash_all;
    *arrivals = c.hash_arrivals;
    *n = c.n;
    collect_fini(&c);
}

static void
test_same_spec_gives_identical_rows_and_other_seed_differs(void **state)
{
    (void)state;
    static const ep_gen_kind kinds[] = {EP_GEN_POISSON, EP_GEN_GAMMA, EP_GEN_MMPP, EP_GEN_VIDEO};
    for (size_t k = 0; k < EP_ARRAY_LEN(kinds); k++) {
        ep_gen_spec s = busy_spec(kinds[k], 61);
        uint64_t a1, r1, a2, r2, a3, r3;
        size_t n1, n2, n3;
        run_hashes(&s, &a1, &r1, &n1);
        run_hashes(&s, &a2, &r2, &n2);
        assert_true(n1 > 100);
        assert_int_equal(n1, n2);
        assert_true(a1 == a2 && r1 == r2);
        s.seed = 62;
        run_hashes(&s, &a3, &r3, &n3);
        assert_true(a1 != a3);
        assert_true(r1 != r3);
    }
}

static void
test_changing_size_mode_leaves_arrival_times_identical(void **state)
{
    (void)state;
    static const int64_t pin[] = {1, 2, 3}, pout[] = {4, 5, 6};
    static const ep_gen_kind kinds[] = {EP_GEN_POISSON, EP_GEN_GAMMA, EP_GEN_MMPP, EP_GEN_VIDEO};
    for (size_t k = 0; k < EP_ARRAY_LEN(kinds); k++) {
        ep_gen_spec s = busy_spec(kinds[k], 71);
        uint64_t all[3], arr[3];
        size_t n[3];
        run_hashes(&s, &all[0], &arr[0], &n[0]);
        s.sizes = EP_SIZES_FIXED;
        s.fixed_input = 9;
        run_hashes(&s, &all[1], &arr[1], &n[1]);
        s.sizes = EP_SIZES_RESAMPLE;
        s.pool_input = pin;
        s.pool_output = pout;
        s.pool_len = 3;
        run_hashes(&s, &all[2], &arr[2], &n[2]);
        assert_true(n[0] == n[1] && n[1] == n[2]);
        assert_true(arr[0] == arr[1] && arr[1] == arr[2]);
        assert_true(all[0] != all[1] && all[1] != all[2] && all[0] != all[2]);
    }
}

static void
test_sink_value_stops_generation_and_is_returned(void **state)
{
    (void)state;
    static const ep_gen_kind kinds[] = {EP_GEN_POISSON, EP_GEN_MMPP, EP_GEN_VIDEO};
    for (size_t k = 0; k < EP_ARRAY_LEN(kinds); k++) {
        ep_gen_spec s = busy_spec(kinds[k], 81);
        collect c;
        collect_init(&c, &s, 0);
        c.stop_after = 3;
        char err[64];
        assert_int_equal(ep_trace_generate(&s, collect_sink, &c, err, sizeof err), 7);
        assert_int_equal(c.n, 3);
        collect_fini(&c);
    }
}

/* --- validation ----------------------------------------------------------------------- */

static int
never_called_sink(void *ctx, const ep_trace_row *row, long line)
{
    (void)ctx;
    (void)row;
    (void)line;
    fail_msg("sink called for an invalid spec");
    return 0;
}

/* Asserts the spec is refused with EP_EINVAL and a message containing `needle`. */
static void
expect_refused(const ep_gen_spec *s, const char *needle)
{
    char err[256] = "";
    int rv = ep_trace_generate(s, never_called_sink, NULL, err, sizeof err);
    if (rv != EP_EINVAL)
        fail_msg("spec accepted (rv %d), expected a message with \"%s\"", rv, needle);
    if (!strstr(err, needle))
        fail_msg("message \"%s\" lacks \"%s\"", err, needle);
}

static void
test_invalid_specs_are_refused_with_a_message(void **state)
{
    (void)state;
    static const int64_t pool[] = {1, 2};
    ep_gen_spec s;

    s = spec_of(EP_GEN_POISSON, 1, 10.0);
    s.duration = 0;
    expect_refused(&s, "duration");
    s.duration = -5;
    expect_refused(&s, "duration");

    static const double bad_rates[] = {0.0, -1.0, NAN, INFINITY};
    for (size_t i = 0; i < EP_ARRAY_LEN(bad_rates); i++) {
        s = spec_of(EP_GEN_POISSON, 1, 10.0);
        s.rate_per_s = bad_rates[i];
        expect_refused(&s, "rate");
        s.kind = EP_GEN_GAMMA;
        expect_refused(&s, "rate");
        s.kind = EP_GEN_MMPP;
        s.mean_on_s = s.mean_off_s = 1.0;
        expect_refused(&s, "rate");
    }

    s = spec_of(EP_GEN_GAMMA, 1, 10.0);
    s.cv = 0.0;
    expect_refused(&s, "gamma needs --cv > 0");
    s.cv = -1.0;
    expect_refused(&s, "cv");
    s.cv = NAN;
    expect_refused(&s, "cv");
    s.cv = 5000.0; /* gaps would underflow to 0 */
    expect_refused(&s, "cv");

    s = spec_of(EP_GEN_MMPP, 1, 10.0);
    s.mean_on_s = 0.0;
    s.mean_off_s = 1.0;
    expect_refused(&s, "on-s");
    s.mean_on_s = 1.0;
    s.mean_off_s = 0.0;
    expect_refused(&s, "off-s");
    s.mean_off_s = 1.0;
    s.off_rate_per_s = -1.0;
    expect_refused(&s, "off-rate");

    s = spec_of(EP_GEN_VIDEO, 1, 10.0);
    s.cameras = 0;
    expect_refused(&s, "cameras");
    s.cameras = 2;
    s.fps = 0.0;
    expect_refused(&s, "fps");
    s.fps = NAN;
    expect_refused(&s, "fps");
    s.fps = 30.0;
    s.jitter_ms = -1.0;
    expect_refused(&s, "jitter");
    s.jitter_ms = 0.0;
    s.mean_on_s = 1.0;
    s.mean_off_s = 0.0;
    expect_refused(&s, "off-s");
    s.mean_on_s = -1.0;
    expect_refused(&s, "on-s");

    s = spec_of(EP_GEN_POISSON, 1, 10.0);
    s.sizes = EP_SIZES_LOGNORMAL;
    s.in_sigma = -0.5;
    expect_refused(&s, "sigma");
    s.in_sigma = 0.5;
    s.out_mu = NAN;
    expect_refused(&s, "mu");

    s.out_mu = 4.0;
    s.in_max = -1;
    expect_refused(&s, "clip");
    s.in_max = 0;
    s.out_max = EP_TRACE_MAX_SIZE + 1;
    expect_refused(&s, "clip");

    s = spec_of(EP_GEN_POISSON, 1, 10.0);
    s.sizes = EP_SIZES_RESAMPLE;
    expect_refused(&s, "pool");
    s.pool_input = pool;
    s.pool_output = pool;
    s.pool_len = 0;
    expect_refused(&s, "pool");
    s.pool_output = NULL;
    s.pool_len = 2;
    expect_refused(&s, "pool");

    s = spec_of(EP_GEN_POISSON, 1, 10.0);
    s.fixed_input = -7;
    expect_refused(&s, "input");
    s.fixed_input = EP_TRACE_MAX_SIZE + 1;
    expect_refused(&s, "input");

    s = spec_of(EP_GEN_POISSON, 1, 100000.0);
    s.rate_per_s = 1e5; /* 1e10 rows */
    expect_refused(&s, "rows");
    s = spec_of(EP_GEN_VIDEO, 1, 86400.0 * 365);
    s.cameras = 1000;
    expect_refused(&s, "rows");

    s = spec_of(EP_GEN_POISSON, 1, 10.0);
    s.kind = (ep_gen_kind)99;
    expect_refused(&s, "kind");

    /* err may be NULL */
    s = spec_of(EP_GEN_GAMMA, 1, 10.0);
    s.cv = 0.0;
    assert_int_equal(ep_trace_generate(&s, never_called_sink, NULL, NULL, 0), EP_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_spec_init_sets_documented_defaults),
            cmocka_unit_test(test_kind_names_parse_and_unknown_names_are_refused),
            cmocka_unit_test(test_poisson_rate_and_interarrival_cv_match_theory),
            cmocka_unit_test(test_poisson_rows_carry_fixed_sizes_and_no_stream),
            cmocka_unit_test(test_gamma_interarrival_cv_matches_requested_cv),
            cmocka_unit_test(test_mmpp_long_run_rate_is_the_time_weighted_mean_rate),
            cmocka_unit_test(test_mmpp_with_zero_off_rate_has_long_silent_gaps),
            cmocka_unit_test(test_mmpp_starts_in_the_stationary_state),
            cmocka_unit_test(test_video_without_jitter_gives_exact_frame_counts_and_spacing),
            cmocka_unit_test(test_video_with_large_jitter_stays_monotone_per_camera),
            cmocka_unit_test(test_video_jitter_has_the_requested_standard_deviation),
            cmocka_unit_test(test_video_on_off_fraction_of_frames_matches_on_share),
            cmocka_unit_test(test_video_ties_are_broken_by_camera_index),
            cmocka_unit_test(test_video_cameras_start_in_the_stationary_on_off_state),
            cmocka_unit_test(test_lognormal_sizes_fit_recovers_mu_and_sigma),
            cmocka_unit_test(test_lognormal_sizes_are_rounded_clamped_to_one_and_capped),
            cmocka_unit_test(test_lognormal_sizes_are_clipped_at_the_optional_maximum),
            cmocka_unit_test(test_resample_only_produces_pool_pairs_uniformly),
            cmocka_unit_test(test_lognormal_fit_ignores_zeros_and_absent_values),
            cmocka_unit_test(test_lognormal_fit_needs_two_positive_values),
            cmocka_unit_test(test_same_spec_gives_identical_rows_and_other_seed_differs),
            cmocka_unit_test(test_changing_size_mode_leaves_arrival_times_identical),
            cmocka_unit_test(test_sink_value_stops_generation_and_is_returned),
            cmocka_unit_test(test_invalid_specs_are_refused_with_a_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
