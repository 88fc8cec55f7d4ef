/* wk_err helpers: bounded formatting of one-sentence error messages. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int wk_fail(wk_err *e, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int wk_fail_prefix(wk_err *e, const char *fmt, ...)
{
    if (e) {
        char prefix[WK_ERR_MAX], old[WK_ERR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(prefix, sizeof prefix, fmt, ap);
        va_end(ap);
        memcpy(old, e->msg, sizeof old);
        size_t k = strlen(prefix);
        if (k > WK_ERR_MAX - 3)
            k = WK_ERR_MAX - 3;
        memcpy(e->msg, prefix, k);
        memcpy(e->msg + k, ": ", 2);
        size_t rest = WK_ERR_MAX - k - 3;
        size_t n = strnlen(old, rest);
        memcpy(e->msg + k + 2, old, n);
        e->msg[k + 2 + n] = '\0';
    }
    return -1;
}
