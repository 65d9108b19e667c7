/* Small shared definitions: container_of, unused-marking, printf attributes.
 * Every public header includes this first; it depends on libc only. */
#ifndef EPARA_COMMON_H
#define EPARA_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Pointer to the struct of type T that embeds MEMBER at address P. */
#define EP_CONTAINER_OF(p, T, member) ((T *)(void *)((char *)(p)-offsetof(T, member)))

#define EP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#if defined(__GNUC__)
#define EP_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define EP_NORETURN          __attribute__((noreturn))
#define EP_LIKELY(x)         __builtin_expect(!!(x), 1)
#define EP_UNLIKELY(x)       __builtin_expect(!!(x), 0)
#else
#define EP_PRINTF(fmt, args)
#define EP_NORETURN
#define EP_LIKELY(x)   (x)
#define EP_UNLIKELY(x) (x)
#endif

#endif
