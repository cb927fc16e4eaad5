/* error.c -- status text, the thread-local detailed message, and the log callback. */
#include "core/core.h"

#include <stdio.h>
#include <string.h>

#define FRZ_ERRMSG_CAP 1024

static _Thread_local char tls_message[FRZ_ERRMSG_CAP];

const char *frz_strerror(frz_status code)
{
    switch (code) {
    case FRZ_OK: return "success";
    case FRZ_ERR_IO: return "I/O error";
    case FRZ_ERR_FORMAT: return "malformed input";
    case FRZ_ERR_UNSUPPORTED: return "unsupported";
    case FRZ_ERR_SHAPE: return "shape mismatch";
    case FRZ_ERR_INVALID_ARG: return "invalid argument";
    case FRZ_ERR_NOMEM: return "out of memory";
    case FRZ_ERR_CANCELLED: return "cancelled";
    case FRZ_ERR_BUFFER_TOO_SMALL: return "buffer too small";
    case FRZ_ERR_CONTEXT_FULL: return "context length exceeded";
    }
    return "unknown status code";
}

const char *frz_last_error(void) { return tls_message; }

frz_status frz_fail(frz_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_message, sizeof tls_message, fmt, ap);
    va_end(ap);
    frz_log(FRZ_LOG_DEBUG, "%s: %s", frz_strerror(code), tls_message);
    return code;
}

frz_status frz_fail_prefix(frz_status code, const char *fmt, ...)
{
    char prefix[FRZ_ERRMSG_CAP], old[FRZ_ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, tls_message, sizeof old);
    /* Truncation is intended; using the result keeps gcc's -Wformat-truncation quiet at -O2. */
    if (snprintf(tls_message, sizeof tls_message, "%s%s", prefix, old) < 0) tls_message[0] = '\0';
    return code;
}

/* The log callback is process-wide; it is set once by the host, normally before any other call. */
static frz_log_fn log_fn;
static void *log_user;
static frz_log_level log_max = FRZ_LOG_INFO;

void frz_set_log_callback(frz_log_fn fn, void *user_data, frz_log_level max_level)
{
    log_fn = fn;
    log_user = user_data;
    log_max = max_level;
}

void frz_log(frz_log_level level, const char *fmt, ...)
{
    frz_log_fn fn = log_fn;
    if (!fn || level > log_max) return;
    char line[FRZ_ERRMSG_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fn(level, line, log_user);
}
