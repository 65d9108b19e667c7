/* Error table text and the always-on assertion handler. */
#include <stdio.h>
#include <stdlib.h>

#include "epara/core/error.h"

const char *
ep_strerror(int err)
{
    switch (err) {
#define EP_ERROR_CASE_(name, value, text) \
    case name:                            \
        return text;
        EP_ERRORS(EP_ERROR_CASE_)
#undef EP_ERROR_CASE_
    default:
        return "unknown error";
    }
}

void
ep_assert_fail_(const char *expr, const char *file, int line, const char *func)
{
    fprintf(stderr, "epara: assertion failed: %s (%s:%d, %s)\n", expr, file, line, func);
    fflush(stderr);
    abort();
}
