/* One-line TTY progress: items, throughput and time left (see progress.h). */
#include "common/progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void wk_progress_init(wk_progress *p, const char *label, bool quiet)
{
    *p = (wk_progress){.enabled = !quiet && isatty(STDERR_FILENO), .label = label};
}

void wk_progress_begin(wk_progress *p, uint64_t total_items, uint64_t total_bytes)
{
    p->total_items = total_items;
    p->total_bytes = total_bytes;
    p->done_bytes = 0;
    p->t_start = now_s();
    p->t_last_draw = 0;
}

void wk_progress_step(wk_progress *p, uint64_t item, const char *name, uint64_t bytes)
{
    p->done_bytes += bytes;
    if (!p->enabled)
        return;
    double t = now_s();
    if (t - p->t_last_draw < 0.1 && item + 1 < p->total_items)
        return;
    p->t_last_draw = t;
    double el = t - p->t_start;
    double mbs = el > 0 ? (double)p->done_bytes / el / 1e6 : 0;
    double left = p->total_bytes > p->done_bytes ? (double)(p->total_bytes - p->done_bytes) : 0;
    double eta = mbs > 0 ? left / (mbs * 1e6) : 0;
    if (!p->total_bytes) { /* items only: the name says the rate; the ETA is by items */
        eta = el / (double)(item + 1) * (double)(p->total_items - item - 1);
        fprintf(stderr, "\r\033[K%s %llu/%llu %s  ETA %4.0fs", p->label,
                (unsigned long long)item + 1, (unsigned long long)p->total_items, name, eta);
        fflush(stderr);
        return;
    }
    fprintf(stderr, "\r\033[K%s %llu/%llu %-32.32s %7.1f MB/s  ETA %4.0fs", p->label,
            (unsigned long long)item + 1, (unsigned long long)p->total_items, name, mbs, eta);
    fflush(stderr);
}

void wk_progress_end(wk_progress *p)
{
    if (p->enabled) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}
