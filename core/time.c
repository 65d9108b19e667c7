/* Time helpers: exact datetime parsing to int64 ns (no floating point, no libc time zone),
 * and the double <-> ns conversion used at input edges. */
#include <math.h>
#include <stdio.h>
#include <time.h>

#include "epara/core/error.h"
#include "epara/core/time.h"

int
ep_dur_from_s(double s, ep_dur *out)
{
    if (!isfinite(s))
        return EP_ERANGE;
    double ns = s * 1e9;
    /* 9.2e18 is just below INT64_MAX; beyond it the conversion is undefined. */
    if (ns >= 9.2e18 || ns <= -9.2e18)
        return EP_ERANGE;
    *out = (ep_dur)llround(ns);
    return 0;
}

/* Howard Hinnant's days_from_civil: proleptic Gregorian calendar, exact in integers. */
int64_t
ep_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int
digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return EP_EPARSE;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}

static int
leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
ep_time_parse_datetime(const char *s, size_t len, ep_time *out)
{
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned y, mo, d, h, mi, se;
    if (len < 19 || s[4] != '-' || s[7] != '-' || (s[10] != ' ' && s[10] != 'T') || s[13] != ':' ||
        s[16] != ':')
        return EP_EPARSE;
    if (digits(s, 4, &y) || digits(s + 5, 2, &mo) || digits(s + 8, 2, &d) ||
        digits(s + 11, 2, &h) || digits(s + 14, 2, &mi) || digits(s + 17, 2, &se))
        return EP_EPARSE;
    if (y < 1678 || y > 2261 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 59)
        return EP_EPARSE;
    unsigned dim = mdays[mo - 1] + (mo == 2 && leap(y));
    if (d > dim)
        return EP_EPARSE;
    size_t i = 19;
    int64_t frac = 0;
    if (i < len && s[i] == '.') {
        i++;
        size_t nd = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (nd == 9)
                return EP_EPARSE; /* more precision than ns: refuse, never round silently */
            frac = frac * 10 + (s[i] - '0');
            nd++;
            i++;
        }
        if (nd == 0)
            return EP_EPARSE;
        for (; nd < 9; nd++)
            frac *= 10;
    }
    if (i < len && s[i] == 'Z')
        i++;
    if (i != len)
        return EP_EPARSE;
    int64_t days = ep_days_from_civil(y, mo, d);
    int64_t secs = days * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + se;
    *out = secs * EP_NS_PER_S + frac;
    return 0;
}

void
ep_time_format_datetime(ep_time t, char *buf)
{
    int64_t secs = t / EP_NS_PER_S, ns = t % EP_NS_PER_S;
    if (ns < 0) {
        ns += EP_NS_PER_S;
        secs--;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    snprintf(buf, EP_DATETIME_BUFLEN, "%04d-%02u-%02u %02d:%02d:%02d.%09d", (int)y, m, d,
             (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)ns);
}

double
ep_mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
