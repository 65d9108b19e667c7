/* max |a - b| over n, relative to max |b|: how far an engine's output is from a reference.
 * Header-only, for tests/exec/. The maxima are taken with comparisons, not fmax: GCC 12.2
 * for aarch64 (Debian 12's cross compiler, scripts/cross-check) fails with an internal
 * error vectorizing an fmax reduction of widened floats. */
#ifndef EPARA_TEST_REL_DIFF_H
#define EPARA_TEST_REL_DIFF_H

#include <math.h>
#include <stddef.h>

static inline double
rel_diff(const float *a, const float *b, size_t n)
{
    double diff = 0.0, mag = 0.0;

    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - (double)b[i]), m = fabs((double)b[i]);
        if (d > diff)
            diff = d;
        if (m > mag)
            mag = m;
    }
    return mag > 0.0 ? diff / mag : diff;
}

#endif
