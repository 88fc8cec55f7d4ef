/* Progress for long runs: "label  i/N  name  MB/s  ETA" redrawn on one stderr line.
 *
 * Shown only when stderr is a terminal and the caller did not ask for quiet, so logs and
 * pipes never see carriage returns. Library code reports through a wk_progress it is
 * handed (NULL means quiet); this file is the one place that draws it. */
#ifndef WK_COMMON_PROGRESS_H
#define WK_COMMON_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct wk_progress {
    bool enabled;
    const char *label;
    uint64_t total_items, total_bytes;
    uint64_t done_bytes;
    double t_start, t_last_draw;
} wk_progress;

/* Enabled when !quiet and stderr is a TTY. */
void wk_progress_init(wk_progress *p, const char *label, bool quiet);
void wk_progress_begin(wk_progress *p, uint64_t total_items, uint64_t total_bytes);
/* Item `item` (0-based) named `name` is under way; `bytes` more bytes are done. Redraws at
 * most ten times a second. With total_bytes 0 the line has no MB/s and the ETA goes by
 * items (name can carry the caller's own rates). */
void wk_progress_step(wk_progress *p, uint64_t item, const char *name, uint64_t bytes);
/* Clears the line. */
void wk_progress_end(wk_progress *p);

#endif
