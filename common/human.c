/* Human-readable counts and sizes for reports and closing lines (see human.h). */
#include "common/human.h"

#include <stdio.h>

/* Scales n by powers of `step` until it is below step; prints "%.2f" under 10 and "%.1f"
 * above, moving to the next unit when rounding would print step or more ("1.00 M", not
 * "1000.0 K"). */
static void human(uint64_t n, double step, const char *const *units, size_t n_units,
                  const char *sep, char *buf, size_t len)
{
    if ((double)n < step) {
        snprintf(buf, len, "%llu%s%s", (unsigned long long)n, sep, units[0]);
        return;
    }
    double v = (double)n;
    size_t u = 0;
    while (u + 1 < n_units && v >= step) {
        v /= step;
        u++;
    }
    if (v < 9.995)
        snprintf(buf, len, "%.2f %s", v, units[u]);
    else if (v < step - 0.05 || u + 1 == n_units)
        snprintf(buf, len, "%.1f %s", v, units[u]);
    else
        snprintf(buf, len, "%.2f %s", v / step, units[u + 1]);
}

void wk_human_count(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"", "K", "M", "B", "T", "Q"};
    human(n, 1000.0, units, 6, "", buf, len);
}

void wk_human_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    human(n, 1024.0, units, 7, " ", buf, len);
}
