/* max |a - b| over n, relative to max |b|: how far an engine's output is from a reference.
 * Header-only, for tests/exec/. */
#ifndef EPARA_TEST_REL_DIFF_H
#define EPARA_TEST_REL_DIFF_H

#include <math.h>
#include <stddef.h>

static inline double
rel_diff(const float *a, const float *b, size_t n)
{
    double diff = 0.0, mag = 0.0;

    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs((double)a[i] - (double)b[i]));
        mag = fmax(mag, fabs((double)b[i]));
    }
    return mag > 0.0 ? diff / mag : diff;
}

#endif
