/* Code point classes, White_Space, and UTF-8 as the tokenizers decode it (see unicode.h). */
#include "engine/unicode.h"

enum wk_ucat wk_ucat_of(uint32_t cp)
{
    if (cp >= 0x110000)
        return WK_UCAT_UNDEFINED;
    /* The last range whose start is <= cp; the first range starts at 0. */
    size_t lo = 0, hi = wk_ucat_n_ranges;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if ((wk_ucat_ranges[mid] >> 3) <= cp)
            lo = mid;
        else
            hi = mid;
    }
    return (enum wk_ucat)(wk_ucat_ranges[lo] & 7);
}

bool wk_uspace(uint32_t cp)
{
    /* PropList.txt White_Space: 25 code points. */
    if (cp <= 0x20)
        return cp == 0x20 || (cp >= 0x09 && cp <= 0x0D);
    switch (cp) {
    case 0x85: case 0xA0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
    case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

uint32_t wk_utf8_next(const uint8_t *p, size_t n, size_t *len)
{
    uint8_t b = p[0];
    *len = 1;
    if (b < 0x80)
        return b;
    size_t need = b < 0xC0 ? 0 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : b < 0xF8 ? 4 : 0;
    if (need == 0 || need > n)
        return WK_UNICODE_REPLACEMENT;
    uint32_t cp = b & (0x7F >> need);
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return WK_UNICODE_REPLACEMENT;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp > 0x10FFFF)
        return WK_UNICODE_REPLACEMENT;
    *len = need;
    return cp;
}

size_t wk_utf8_put(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp < 0x110000) {
        out[0] = (uint8_t)(0xF0 | cp >> 18);
        out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        out[3] = (uint8_t)(0x80 | (cp & 0x3F));
        return 4;
    }
    return 0;
}

/* The range the second byte of a sequence must be in after lead b (table 3-7); the later
 * continuation bytes are 0x80..0xBF. */
static void second_range(uint8_t b, uint8_t *lo, uint8_t *hi)
{
    *lo = 0x80;
    *hi = 0xBF;
    if (b == 0xE0)
        *lo = 0xA0;
    else if (b == 0xED)
        *hi = 0x9F;
    else if (b == 0xF0)
        *lo = 0x90;
    else if (b == 0xF4)
        *hi = 0x8F;
}

size_t wk_utf8_incomplete_tail(const uint8_t *p, size_t n)
{
    /* Walk back over at most 3 continuation bytes to a lead byte. */
    for (size_t k = 1; k <= 3 && k <= n; k++) {
        uint8_t b = p[n - k];
        if ((b & 0xC0) == 0x80)
            continue;
        size_t need = b >= 0xC2 && b <= 0xDF ? 2 : b >= 0xE0 && b <= 0xEF ? 3
                    : b >= 0xF0 && b <= 0xF4 ? 4 : 0;
        if (need <= k)
            return 0; /* ASCII, an invalid lead, or a sequence already complete */
        if (k >= 2) {
            uint8_t lo, hi;
            second_range(b, &lo, &hi);
            if (p[n - k + 1] < lo || p[n - k + 1] > hi)
                return 0;
        }
        return k;
    }
    return 0;
}
