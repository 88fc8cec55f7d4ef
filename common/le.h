/* Little-endian integers in file formats (GGUF, zip, pickle, safetensors, torch.save).
 *
 * The caller has already checked that the n bytes lie inside its buffer; these only
 * assemble them, byte by byte, so the host's byte order and alignment never matter. */
#ifndef WK_COMMON_LE_H
#define WK_COMMON_LE_H

#include <stdint.h>

/* The n-byte (1..8) little-endian unsigned integer at p. */
static inline uint64_t wk_ld_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* v, the bits of an n-byte (1..8) two's-complement integer, sign-extended to 64 bits. */
static inline int64_t wk_sign_extend(uint64_t v, unsigned n)
{
    if (n < 8 && (v >> (8 * n - 1)) & 1)
        v |= ~0ull << (8 * n);
    return (int64_t)v;
}

#endif
