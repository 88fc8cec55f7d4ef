/* Error reporting shared by the whole library.
 *
 * Library functions never print. They return 0 on success or -1 on failure and fill a
 * wk_err with one sentence naming the file, the byte offset or tensor, and what was
 * expected. Only a tool's main() prints the message and picks the exit code. */
#ifndef WK_COMMON_ERR_H
#define WK_COMMON_ERR_H

#include <stddef.h>

#define WK_ERR_MAX 1024

typedef struct wk_err {
    char msg[WK_ERR_MAX];
} wk_err;

/* Formats the message into e (when e is not NULL) and returns -1, so callers can write
 * `return wk_fail(e, "%s: offset %llu: ...", path, off);`. */
int wk_fail(wk_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes an existing message: "<prefix>: <old message>". Returns -1. */
int wk_fail_prefix(wk_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
