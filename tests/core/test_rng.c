/* Tests for seeded random streams (core/rng.c): reproducibility per (seed, stream),
 * independence across streams and seeds, and sample means of each distribution against
 * theory over long runs with fixed seeds. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "epara/core/rng.h"

enum { SAMPLES = 200000 };

static void
test_same_seed_and_stream_give_the_same_sequence(void **state)
{
    (void)state;
    ep_rng a, b;
    assert_int_equal(ep_rng_init(&a, 42, EP_STREAM_ARRIVALS), 0);
    assert_int_equal(ep_rng_init(&b, 42, EP_STREAM_ARRIVALS), 0);
    for (int i = 0; i < 1000; i++) {
        assert_true(ep_rng_uniform(&a) == ep_rng_uniform(&b));
        assert_true(ep_rng_exponential(&a, 3.0) == ep_rng_exponential(&b, 3.0));
        assert_int_equal(ep_rng_uniform_int(&a, 1000), ep_rng_uniform_int(&b, 1000));
    }
    ep_rng_fini(&a);
    ep_rng_fini(&b);
}

/* Counts equal positions in the first 1000 uniform_int(2^32) draws of two streams. */
static int
equal_draws(uint64_t seed_a, uint64_t stream_a, uint64_t seed_b, uint64_t stream_b)
{
    ep_rng a, b;
    assert_int_equal(ep_rng_init(&a, seed_a, stream_a), 0);
    assert_int_equal(ep_rng_init(&b, seed_b, stream_b), 0);
    int same = 0;
    for (int i = 0; i < 1000; i++)
        same += ep_rng_uniform_int(&a, UINT64_C(1) << 32) ==
                ep_rng_uniform_int(&b, UINT64_C(1) << 32);
    ep_rng_fini(&a);
    ep_rng_fini(&b);
    return same;
}

static void
test_different_streams_and_seeds_give_different_sequences(void **state)
{
    (void)state;
    assert_int_equal(equal_draws(7, EP_STREAM_ARRIVALS, 7, EP_STREAM_ARRIVALS), 1000);
    assert_true(equal_draws(7, EP_STREAM_ARRIVALS, 7, EP_STREAM_SIZES) < 3);
    assert_true(equal_draws(7, EP_STREAM_ARRIVALS, 8, EP_STREAM_ARRIVALS) < 3);
    assert_true(equal_draws(0, 0, 0, 1) < 3);
    assert_true(equal_draws(0, 0, 1, 0) < 3);
}

static void
test_uniform_draws_stay_in_range_with_mean_one_half(void **state)
{
    (void)state;
    ep_rng r;
    assert_int_equal(ep_rng_init(&r, 3, 1), 0);
    double sum = 0;
    for (int i = 0; i < SAMPLES; i++) {
        double u = ep_rng_uniform(&r);
        assert_true(u >= 0 && u < 1);
        double p = ep_rng_uniform_pos(&r);
        assert_true(p > 0 && p < 1);
        sum += u;
    }
    assert_true(fabs(sum / SAMPLES - 0.5) < 0.005);
    ep_rng_fini(&r);
}

static void
test_uniform_int_covers_its_range_including_two_to_the_32(void **state)
{
    (void)state;
    ep_rng r;
    assert_int_equal(ep_rng_init(&r, 5, 1), 0);
    int hits[10] = {0};
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t v = ep_rng_uniform_int(&r, 10);
        assert_true(v < 10);
        hits[v]++;
    }
    for (int i = 0; i < 10; i++)
        assert_true(fabs(hits[i] - SAMPLES / 10.0) < 0.03 * SAMPLES / 10.0);
    for (int i = 0; i < 100; i++)
        assert_int_equal(ep_rng_uniform_int(&r, 1), 0);
    /* n = 2^32 is allowed by the contract (GSL alone refuses it). */
    double sum = 0;
    for (int i = 0; i < SAMPLES; i++) {
        uint64_t v = ep_rng_uniform_int(&r, UINT64_C(1) << 32);
        assert_true(v < (UINT64_C(1) << 32));
        sum += (double)v;
    }
    assert_true(fabs(sum / SAMPLES / 4294967296.0 - 0.5) < 0.005);
    ep_rng_fini(&r);
}

typedef double (*draw_fn)(ep_rng *r, const double *p);

static double
draw_exponential(ep_rng *r, const double *p)
{
    return ep_rng_exponential(r, p[0]);
}

static double
draw_gamma(ep_rng *r, const double *p)
{
    return ep_rng_gamma(r, p[0], p[1]);
}

static double
draw_lognormal(ep_rng *r, const double *p)
{
    return ep_rng_lognormal(r, p[0], p[1]);
}

static double
draw_gaussian(ep_rng *r, const double *p)
{
    return ep_rng_gaussian(r, p[0]);
}

static double
draw_poisson(ep_rng *r, const double *p)
{
    return ep_rng_poisson(r, p[0]);
}

/* Sample mean and variance of SAMPLES draws. */
static void
moments(draw_fn f, const double *p, uint64_t seed, double *mean, double *var)
{
    ep_rng r;
    assert_int_equal(ep_rng_init(&r, seed, EP_STREAM_SERVICE), 0);
    double m = 0, m2 = 0;
    for (int i = 1; i <= SAMPLES; i++) {
        double x = f(&r, p);
        double d = x - m;
        m += d / i;
        m2 += d * (x - m);
    }
    ep_rng_fini(&r);
    *mean = m;
    *var = m2 / (SAMPLES - 1);
}

static void
expect_rel(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol * fabs(want)))
        fail_msg("got %g, want %g within %g%%", got, want, tol * 100);
}

static void
test_exponential_mean_and_variance_match_theory(void **state)
{
    (void)state;
    double m, v;
    moments(draw_exponential, (const double[]){2.5}, 11, &m, &v);
    expect_rel(m, 2.5, 0.01);
    expect_rel(v, 2.5 * 2.5, 0.03);
}

static void
test_gamma_mean_and_variance_match_theory(void **state)
{
    (void)state;
    double m, v;
    moments(draw_gamma, (const double[]){3.0, 2.0}, 12, &m, &v);
    expect_rel(m, 6.0, 0.01);
    expect_rel(v, 12.0, 0.03);
    moments(draw_gamma, (const double[]){0.25, 4.0}, 13, &m, &v); /* shape < 1 */
    expect_rel(m, 1.0, 0.02);
    expect_rel(v, 4.0, 0.05);
}

static void
test_lognormal_mean_matches_theory(void **state)
{
    (void)state;
    double m, v;
    moments(draw_lognormal, (const double[]){1.0, 0.5}, 14, &m, &v);
    expect_rel(m, exp(1.0 + 0.125), 0.01);
}

static void
test_gaussian_has_mean_zero_and_requested_sd(void **state)
{
    (void)state;
    double m, v;
    moments(draw_gaussian, (const double[]){3.0}, 15, &m, &v);
    assert_true(fabs(m) < 0.03);
    expect_rel(sqrt(v), 3.0, 0.01);
}

static void
test_poisson_mean_and_variance_match_theory(void **state)
{
    (void)state;
    double m, v;
    moments(draw_poisson, (const double[]){4.5}, 16, &m, &v);
    expect_rel(m, 4.5, 0.01);
    expect_rel(v, 4.5, 0.03);
    moments(draw_poisson, (const double[]){0.0}, 16, &m, &v);
    assert_true(m == 0 && v == 0);
}

static void
test_splitmix64_is_a_fixed_function_with_known_values(void **state)
{
    (void)state;
    /* Reference values of SplitMix64 (Vigna) from state 0: the first outputs. */
    assert_true(ep_splitmix64(0) == UINT64_C(0xe220a8397b1dcdaf));
    assert_true(ep_splitmix64(UINT64_C(0x9e3779b97f4a7c15)) == UINT64_C(0x6e789e6aa1b965f4));
    assert_true(ep_splitmix64(1) != ep_splitmix64(2));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_same_seed_and_stream_give_the_same_sequence),
            cmocka_unit_test(test_different_streams_and_seeds_give_different_sequences),
            cmocka_unit_test(test_uniform_draws_stay_in_range_with_mean_one_half),
            cmocka_unit_test(test_uniform_int_covers_its_range_including_two_to_the_32),
            cmocka_unit_test(test_exponential_mean_and_variance_match_theory),
            cmocka_unit_test(test_gamma_mean_and_variance_match_theory),
            cmocka_unit_test(test_lognormal_mean_matches_theory),
            cmocka_unit_test(test_gaussian_has_mean_zero_and_requested_sd),
            cmocka_unit_test(test_poisson_mean_and_variance_match_theory),
            cmocka_unit_test(test_splitmix64_is_a_fixed_function_with_known_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
