/* A growing byte buffer for headers and metadata that are built in memory before they are
 * written. An allocation failure sticks (`oom`), so builders append freely and check once
 * at the end. The bytes are always followed by a NUL, so text can be used as a C string. */
#ifndef WK_COMMON_BYTEBUF_H
#define WK_COMMON_BYTEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wk_buf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} wk_buf;

void wk_buf_put(wk_buf *b, const void *d, size_t n);
void wk_buf_printf(wk_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wk_buf_free(wk_buf *b);

#endif
