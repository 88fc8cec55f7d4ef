/* Counts and byte sizes as people read them, with three or four significant digits. */
#ifndef WK_COMMON_HUMAN_H
#define WK_COMMON_HUMAN_H

#include <stddef.h>
#include <stdint.h>

/* "999", "260.0 K", "2.60 M", "1.10 B", "7.00 T". */
void wk_human_count(uint64_t n, char *buf, size_t len);
/* The same in binary units: "512 B", "1.50 KiB", "260.0 MiB". */
void wk_human_bytes(uint64_t n, char *buf, size_t len);

#endif
