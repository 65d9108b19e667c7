/* Time: int64 nanoseconds everywhere (docs/architecture.md, Conventions). ep_time is an instant,
 * ep_dur a span. Conversions to and from double exist only at the edges (parsing, printing). */
#ifndef EPARA_TIME_H
#define EPARA_TIME_H

#include <math.h>

#include "epara/core/common.h"

typedef int64_t ep_time;
typedef int64_t ep_dur;

#define EP_NS_PER_US INT64_C(1000)
#define EP_NS_PER_MS INT64_C(1000000)
#define EP_NS_PER_S  INT64_C(1000000000)
#define EP_TIME_MAX  INT64_MAX

/* Seconds (double) to a duration, rounded to the nearest ns. Returns EP_ERANGE when the
 * value is not finite or does not fit in int64 ns (about +-292 years). */
int ep_dur_from_s(double s, ep_dur *out);

/* x rounded to the nearest integer, halves away from zero: llround(x) for 0 <= x < 2^63
 * without the libm call (the truncation is exact there, and so is x minus it), llround
 * itself otherwise. The hot paths' ns conversions (the cost model, link delays) use it. */
static inline int64_t
ep_round_i64(double x)
{
    if (x >= 0 && x < 9.2e18) {
        int64_t i = (int64_t)x;
        return i + (x - (double)i >= 0.5);
    }
    return (int64_t)llround(x);
}

/* Duration to seconds, for printing and statistics only. */
static inline double
ep_dur_to_s(ep_dur d)
{
    return (double)d / 1e9;
}

/* Parses "YYYY-MM-DD[ T]HH:MM:SS[.f{1,9}][Z]" as UTC into ns since the Unix epoch, keeping
 * every fractional digit given (9 at most). The text need not be NUL-terminated: exactly
 * len bytes are read. Returns 0, or EP_EPARSE for anything else (including trailing bytes,
 * impossible dates such as Feb 30, and years outside 1678..2261). */
int ep_time_parse_datetime(const char *s, size_t len, ep_time *out);

/* Formats ns since the epoch as "YYYY-MM-DD HH:MM:SS.fffffffff" (UTC) into buf, which must
 * hold at least EP_DATETIME_BUFLEN bytes. */
#define EP_DATETIME_BUFLEN 48
void ep_time_format_datetime(ep_time t, char *buf);

/* Seconds on the monotonic clock (CLOCK_MONOTONIC): for timing work (a stopwatch), never
 * for trace or simulated time. */
double ep_mono_s(void);

/* Days since 1970-01-01 of a proleptic Gregorian civil date (no validation). */
int64_t ep_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
