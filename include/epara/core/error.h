/* Error codes: one X-macro table (docs/architecture.md, Conventions). Functions that can fail
 * return int: 0 on success, a negative EP_E* code otherwise. ep_strerror() names every code. */
#ifndef EPARA_ERROR_H
#define EPARA_ERROR_H

#include "epara/core/common.h"

#define EP_ERRORS(X)                       \
    X(EP_OK, 0, "success")                 \
    X(EP_ENOMEM, -1, "out of memory")      \
    X(EP_EINVAL, -2, "invalid argument")   \
    X(EP_EPARSE, -3, "malformed input")    \
    X(EP_EIO, -4, "input/output error")    \
    X(EP_EEXIST, -5, "already exists")     \
    X(EP_ENOENT, -6, "not found")          \
    X(EP_ERANGE, -7, "value out of range") \
    X(EP_EDB, -8, "database error")        \
    X(EP_ENOTSUP, -9, "not supported")     \
    X(EP_ECANCELED, -10, "canceled")       \
    X(EP_EFULL, -11, "capacity exhausted") \
    X(EP_EEMPTY, -12, "no data")

enum ep_error {
#define EP_ERROR_ENUM_(name, value, text) name = (value),
    EP_ERRORS(EP_ERROR_ENUM_)
#undef EP_ERROR_ENUM_
};

/* Static text for an error code; never NULL ("unknown error" for codes not in the table). */
const char *ep_strerror(int err);

/* Always-on invariant check: prints the expression and file:line, then aborts.
 * For broken invariants (bugs) only; bad input is reported with an error code. */
#define EP_ASSERT(expr) ((expr) ? (void)0 : ep_assert_fail_(#expr, __FILE__, __LINE__, __func__))

EP_NORETURN void ep_assert_fail_(const char *expr, const char *file, int line, const char *func);

#endif
