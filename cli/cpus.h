/* --cpus LIST (cpus.c). */
#ifndef EPARA_CLI_CPUS_H
#define EPARA_CLI_CPUS_H

#include <stddef.h>

/* The most CPUs one --cpus list names. */
#define CLI_CPUS_MAX 1024

/* "0,2-3" into at most max distinct CPU numbers in the order given, each one this process
 * may run on. Returns the count, or -1 after printing the problem (naming opt). */
int cli_cpus_parse(const char *opt, const char *text, int *cpus, int max);

/* The CPUs this process may run on now, as "0-3,6" (at most len bytes with the NUL).
 * Returns 0, or -1 ("?") when they cannot be read. */
int cli_cpus_current(char *buf, size_t len);

/* Pins this process (and the threads it starts later) to cpus[0..n); nothing when n is 0.
 * Returns 0, or -1 after printing the problem. */
int cli_cpus_pin(const char *opt, const int *cpus, int n);

#endif
