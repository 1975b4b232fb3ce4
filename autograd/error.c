/* Thread-local error state: every public function that fails leaves a message here. */
#include "autograd/cf_base.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char error_message[2048];
static _Thread_local cf_status error_status = CF_OK;

const char *cf_last_error(void) { return error_message; }
cf_status cf_last_status(void) { return error_status; }

void cf_clear_error(void)
{
    error_message[0] = '\0';
    error_status = CF_OK;
}

cf_status cf_set_error(cf_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    error_status = st;
    return st;
}

void cf_error_prefix(const char *fmt, ...)
{
    char prefix[512], old[sizeof error_message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, error_message, sizeof old);
    size_t np = strlen(prefix), no = strlen(old);
    if (np >= sizeof error_message) np = sizeof error_message - 1;
    if (np + no >= sizeof error_message) no = sizeof error_message - 1 - np;
    memcpy(error_message, prefix, np);
    memcpy(error_message + np, old, no);
    error_message[np + no] = '\0';
}

const char *cf_status_name(cf_status st)
{
    static const char *names[] = {"ok",          "bad argument", "shape error",   "dtype error",
                                  "device error", "out of memory", "i/o error",   "format error",
                                  "state error",  "unsupported",   "internal error", "interrupted"};
    if ((unsigned)st < sizeof names / sizeof names[0]) return names[st];
    return "unknown status";
}
