/* Growing byte buffer (see bytebuf.h). */
#include "common/bytebuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"

void wk_buf_put(wk_buf *b, const void *d, size_t n)
{
    if (b->oom)
        return;
    if (n > SIZE_MAX - b->len - 1 || wk_grow((void **)&b->p, &b->cap, b->len + n + 1, 1) != 0) {
        b->oom = true;
        return;
    }
    if (n)
        memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void wk_buf_printf(wk_buf *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof tmp) {
        wk_buf_put(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    wk_buf_put(b, big, (size_t)n);
    free(big);
}

void wk_buf_free(wk_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = false;
}
