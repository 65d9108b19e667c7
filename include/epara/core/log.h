/* Logging with levels. Messages go to a sink (stderr by default) as
 * "epara: LEVEL: message". The level is process-wide; set it once at start-up. */
#ifndef EPARA_LOG_H
#define EPARA_LOG_H

#include <stdarg.h>

#include "epara/core/common.h"

enum ep_log_level {
    EP_LOG_ERROR = 0,
    EP_LOG_WARN = 1,
    EP_LOG_INFO = 2,
    EP_LOG_DEBUG = 3,
    EP_LOG_TRACE = 4
};

/* Messages above this level are dropped. Default EP_LOG_INFO. */
void ep_log_set_level(enum ep_log_level level);
enum ep_log_level ep_log_get_level(void);

/* Parses "error|warn|info|debug|trace" into *out. Returns 0 or EP_EINVAL. */
int ep_log_level_parse(const char *name, enum ep_log_level *out);

/* Replaces the sink (NULL restores stderr). The sink receives the formatted message
 * without prefix or newline; msg is borrowed for the call. */
typedef void (*ep_log_sink_fn)(void *ctx, enum ep_log_level level, const char *msg);
void ep_log_set_sink(ep_log_sink_fn fn, void *ctx);

void ep_log(enum ep_log_level level, const char *fmt, ...) EP_PRINTF(2, 3);
void ep_logv(enum ep_log_level level, const char *fmt, va_list ap) EP_PRINTF(2, 0);

#define EP_LOG_ERR(...)     ep_log(EP_LOG_ERROR, __VA_ARGS__)
#define EP_LOG_WARNING(...) ep_log(EP_LOG_WARN, __VA_ARGS__)
#define EP_LOG_INF(...)     ep_log(EP_LOG_INFO, __VA_ARGS__)
#define EP_LOG_DBG(...)     ep_log(EP_LOG_DEBUG, __VA_ARGS__)

#endif
