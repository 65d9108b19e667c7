/* --cpus LIST: pinning a process to CPU cores (sched_setaffinity), for real compute that
 * keeps the conditions it was profiled under. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpus.h"
#include "util.h"

/* The CPUs this process may run on, as "0-3,6" for messages. */
static void
allowed_text(const cpu_set_t *ok, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE && at + 16 < len; c++) {
        if (!CPU_ISSET(c, ok) || (c > 0 && CPU_ISSET(c - 1, ok)))
            continue;
        int e = c;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, ok))
            e++;
        int n = e > c ? snprintf(buf + at, len - at, "%s%d-%d", at ? "," : "", c, e)
                      : snprintf(buf + at, len - at, "%s%d", at ? "," : "", c);
        at += n > 0 ? (size_t)n : 0;
    }
}

/* One item of the list: "N" or "A-B", each CPU in [0, CPU_SETSIZE). */
static int
parse_item(const char *opt, const char *list, const char *p, size_t len, int *lo, int *hi)
{
    char item[32];
    if (len == 0 || len >= sizeof item)
        goto bad;
    memcpy(item, p, len);
    item[len] = '\0';
    char *end;
    errno = 0;
    long a = strtol(item, &end, 10), b = a;
    if (end == item || item[0] == '-' || errno)
        goto bad;
    if (*end == '-') {
        const char *q = end + 1;
        if (*q < '0' || *q > '9')
            goto bad;
        b = strtol(q, &end, 10);
        if (errno)
            goto bad;
    }
    if (*end != '\0' || a > b)
        goto bad;
    if (b >= CPU_SETSIZE) {
        cli_err("%s: CPU %ld is above the largest this system can name (%d)", opt, b,
                CPU_SETSIZE - 1);
        return -1;
    }
    *lo = (int)a;
    *hi = (int)b;
    return 0;
bad:
    cli_err("%s: '%s' is not a list of CPUs (as 0,2-3)", opt, list);
    return -1;
}

int
cli_cpus_parse(const char *opt, const char *text, int *cpus, int max)
{
    cpu_set_t ok;
    CPU_ZERO(&ok);
    if (sched_getaffinity(0, sizeof ok, &ok) != 0) {
        cli_err("%s: cannot read the CPUs this process may use: %s", opt, strerror(errno));
        return -1;
    }
    int n = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int lo, hi;
        if (parse_item(opt, text, p, len, &lo, &hi))
            return -1;
        for (int c = lo; c <= hi; c++) {
            if (!CPU_ISSET(c, &ok)) {
                char allowed[256];
                allowed_text(&ok, allowed, sizeof allowed);
                cli_err("%s: CPU %d is not one this process may run on (it may use %s)", opt, c,
                        allowed);
                return -1;
            }
            int dup = 0;
            for (int i = 0; i < n && !dup; i++)
                dup = cpus[i] == c;
            if (dup)
                continue;
            if (n == max) {
                cli_err("%s: more than %d CPUs", opt, max);
                return -1;
            }
            cpus[n++] = c;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return n;
}

int
cli_cpus_current(char *buf, size_t len)
{
    cpu_set_t ok;
    CPU_ZERO(&ok);
    if (sched_getaffinity(0, sizeof ok, &ok) != 0) {
        snprintf(buf, len, "?");
        return -1;
    }
    allowed_text(&ok, buf, len);
    return 0;
}

int
cli_cpus_pin(const char *opt, const int *cpus, int n)
{
    if (n <= 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < n; i++)
        CPU_SET(cpus[i], &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {
        cli_err("%s: cannot pin this process: %s", opt, strerror(errno));
        return -1;
    }
    return 0;
}
