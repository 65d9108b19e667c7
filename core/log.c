/* Leveled logging to a replaceable sink. The level and sink are process-wide and are
 * meant to be set once at start-up, before any other thread exists. */
#include <stdio.h>
#include <string.h>

#include "epara/core/error.h"
#include "epara/core/log.h"

static enum ep_log_level level_ = EP_LOG_INFO;
static ep_log_sink_fn sink_;
static void *sink_ctx_;

static const char *const names_[] = {"error", "warning", "info", "debug", "trace"};

void
ep_log_set_level(enum ep_log_level level)
{
    level_ = level;
}

enum ep_log_level
ep_log_get_level(void)
{
    return level_;
}

int
ep_log_level_parse(const char *name, enum ep_log_level *out)
{
    static const char *const accepted[] = {"error", "warn", "info", "debug", "trace"};
    for (size_t i = 0; i < EP_ARRAY_LEN(accepted); i++) {
        if (strcmp(name, accepted[i]) == 0 || strcmp(name, names_[i]) == 0) {
            *out = (enum ep_log_level)i;
            return 0;
        }
    }
    return EP_EINVAL;
}

void
ep_log_set_sink(ep_log_sink_fn fn, void *ctx)
{
    sink_ = fn;
    sink_ctx_ = ctx;
}

void
ep_logv(enum ep_log_level level, const char *fmt, va_list ap)
{
    if (level > level_)
        return;
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (sink_) {
        sink_(sink_ctx_, level, msg);
        return;
    }
    fprintf(stderr, "epara: %s: %s\n", names_[level], msg);
}

void
ep_log(enum ep_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ep_logv(level, fmt, ap);
    va_end(ap);
}
