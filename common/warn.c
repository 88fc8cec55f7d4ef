/* A growing list of heap-allocated warning messages (see warn.h). */
#include "common/warn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/grow.h"

int wk_warn(wk_warnings *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *s = len < 0 ? NULL : malloc((size_t)len + 1);
    if (!s || wk_grow((void **)&w->msg, &w->cap, w->n + 1, sizeof *w->msg) != 0) {
        free(s);
        w->lost++;
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    va_end(ap);
    w->msg[w->n++] = s;
    return 0;
}

void wk_warnings_free(wk_warnings *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->msg[i]);
    free(w->msg);
    *w = (wk_warnings){0};
}
