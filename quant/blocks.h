/* The ggml quantization blocks, byte for byte as GGUF stores them.
 *
 * Layouts follow ggml/src/ggml-common.h (the structs there and their static_asserts), so a
 * tensor we write is read by llama.cpp and one llama.cpp writes is read here. A block holds
 * WK_QK_* consecutive elements of one row; rows are whole blocks. Scales are IEEE binary16
 * (wk_half) except Q8_K's float. Plain C with fixed-width members only, so CUDA code can
 * include this header too; every struct is followed by an assertion of its size, because a
 * wrong size would silently shift every later block of a tensor. */
#ifndef WK_QUANT_BLOCKS_H
#define WK_QUANT_BLOCKS_H

#include <stdint.h>

#ifdef __cplusplus
#define WK_BLOCK_SIZE_IS(type, bytes) static_assert(sizeof(type) == (bytes), "wrong " #type " size")
#else
#define WK_BLOCK_SIZE_IS(type, bytes) _Static_assert(sizeof(type) == (bytes), "wrong " #type " size")
#endif

typedef uint16_t wk_half; /* IEEE binary16 bits */

/* ---- legacy types: 32 elements, one scale (and a minimum for the _1 types) ---- */
#define WK_QK4_0 32
typedef struct {
    wk_half d;                /* scale */
    uint8_t qs[WK_QK4_0 / 2]; /* element j in the low nibble of byte j, j + 16 in the high */
} wk_block_q4_0;
WK_BLOCK_SIZE_IS(wk_block_q4_0, 2 + WK_QK4_0 / 2);

#define WK_QK4_1 32
typedef struct {
    wk_half d, m;             /* scale and minimum: x = d * q + m */
    uint8_t qs[WK_QK4_1 / 2];
} wk_block_q4_1;
WK_BLOCK_SIZE_IS(wk_block_q4_1, 4 + WK_QK4_1 / 2);

#define WK_QK5_0 32
typedef struct {
    wk_half d;
    uint8_t qh[4];            /* bit j: the fifth bit of element j */
    uint8_t qs[WK_QK5_0 / 2]; /* low four bits, as in Q4_0 */
} wk_block_q5_0;
WK_BLOCK_SIZE_IS(wk_block_q5_0, 2 + 4 + WK_QK5_0 / 2);

#define WK_QK5_1 32
typedef struct {
    wk_half d, m;
    uint8_t qh[4];
    uint8_t qs[WK_QK5_1 / 2];
} wk_block_q5_1;
WK_BLOCK_SIZE_IS(wk_block_q5_1, 4 + 4 + WK_QK5_1 / 2);

#define WK_QK8_0 32
typedef struct {
    wk_half d;
    int8_t qs[WK_QK8_0];
} wk_block_q8_0;
WK_BLOCK_SIZE_IS(wk_block_q8_0, 2 + WK_QK8_0);

#define WK_QK8_1 32
typedef struct {
    wk_half d;
    wk_half s;                /* d * sum(qs) */
    int8_t qs[WK_QK8_1];
} wk_block_q8_1;
WK_BLOCK_SIZE_IS(wk_block_q8_1, 4 + WK_QK8_1);

/* ---- k-quants: super-blocks of 256 elements split into sub-blocks with their own scales ---- */
#define WK_QK_K 256
#define WK_K_SCALE_SIZE 12 /* eight 6-bit scales and eight 6-bit minimums */

typedef struct {
    uint8_t scales[WK_QK_K / 16]; /* 4-bit scale (low) and 4-bit minimum (high) per 16 */
    uint8_t qs[WK_QK_K / 4];      /* 2-bit quants */
    wk_half d, dmin;              /* super-block scale for the scales and for the minimums */
} wk_block_q2_K;
WK_BLOCK_SIZE_IS(wk_block_q2_K, 2 * 2 + WK_QK_K / 16 + WK_QK_K / 4);

typedef struct {
    uint8_t hmask[WK_QK_K / 8]; /* the high bit of each 3-bit quant */
    uint8_t qs[WK_QK_K / 4];    /* the low two bits */
    uint8_t scales[12];         /* sixteen 6-bit scales */
    wk_half d;
} wk_block_q3_K;
WK_BLOCK_SIZE_IS(wk_block_q3_K, 2 + WK_QK_K / 4 + WK_QK_K / 8 + 12);

typedef struct {
    wk_half d, dmin;
    uint8_t scales[WK_K_SCALE_SIZE]; /* 6-bit scales and minimums of the eight 32-blocks */
    uint8_t qs[WK_QK_K / 2];
} wk_block_q4_K;
WK_BLOCK_SIZE_IS(wk_block_q4_K, 2 * 2 + WK_K_SCALE_SIZE + WK_QK_K / 2);

typedef struct {
    wk_half d, dmin;
    uint8_t scales[WK_K_SCALE_SIZE];
    uint8_t qh[WK_QK_K / 8]; /* the fifth bit */
    uint8_t qs[WK_QK_K / 2];
} wk_block_q5_K;
WK_BLOCK_SIZE_IS(wk_block_q5_K, 2 * 2 + WK_K_SCALE_SIZE + WK_QK_K / 2 + WK_QK_K / 8);

typedef struct {
    uint8_t ql[WK_QK_K / 2];      /* low four bits */
    uint8_t qh[WK_QK_K / 4];      /* high two bits */
    int8_t scales[WK_QK_K / 16];  /* 8-bit scale per 16 */
    wk_half d;
} wk_block_q6_K;
WK_BLOCK_SIZE_IS(wk_block_q6_K, 2 + WK_QK_K / 16 + 3 * WK_QK_K / 4);

/* The activation type of the k-quant dot products (never stored in model files). */
typedef struct {
    float d;
    int8_t qs[WK_QK_K];
    int16_t bsums[WK_QK_K / 16]; /* sum of each group of 16 quants */
} wk_block_q8_K;
WK_BLOCK_SIZE_IS(wk_block_q8_K, 4 + WK_QK_K + WK_QK_K / 16 * 2);

/* ---- i-quants (grid and lattice codebooks) ---- */
typedef struct {
    wk_half d;
    uint16_t qs[WK_QK_K / 8];
} wk_block_iq2_xxs;
WK_BLOCK_SIZE_IS(wk_block_iq2_xxs, 2 + WK_QK_K / 8 * 2);

typedef struct {
    wk_half d;
    uint16_t qs[WK_QK_K / 8];
    uint8_t scales[WK_QK_K / 32];
} wk_block_iq2_xs;
WK_BLOCK_SIZE_IS(wk_block_iq2_xs, 2 + WK_QK_K / 8 * 2 + WK_QK_K / 32);

typedef struct {
    wk_half d;
    uint8_t qs[WK_QK_K / 4];
    uint8_t qh[WK_QK_K / 32];
    uint8_t scales[WK_QK_K / 32];
} wk_block_iq2_s;
WK_BLOCK_SIZE_IS(wk_block_iq2_s, 2 + WK_QK_K / 4 + WK_QK_K / 16);

typedef struct {
    wk_half d;
    uint8_t qs[3 * WK_QK_K / 8];
} wk_block_iq3_xxs;
WK_BLOCK_SIZE_IS(wk_block_iq3_xxs, 2 + 3 * WK_QK_K / 8);

typedef struct {
    wk_half d;
    uint8_t qs[WK_QK_K / 4];
    uint8_t qh[WK_QK_K / 32];
    uint8_t signs[WK_QK_K / 8];
    uint8_t scales[WK_QK_K / 64];
} wk_block_iq3_s;
WK_BLOCK_SIZE_IS(wk_block_iq3_s, 2 + 13 * WK_QK_K / 32 + WK_QK_K / 64);

typedef struct {
    wk_half d;
    uint8_t qs[WK_QK_K / 8];
    uint16_t qh[WK_QK_K / 32];
} wk_block_iq1_s;
WK_BLOCK_SIZE_IS(wk_block_iq1_s, 2 + WK_QK_K / 8 + WK_QK_K / 16);

typedef struct {
    uint8_t qs[WK_QK_K / 8];
    uint8_t qh[WK_QK_K / 16];
    uint8_t scales[WK_QK_K / 32]; /* also holds the block scale, 4 bits at a time */
} wk_block_iq1_m;
WK_BLOCK_SIZE_IS(wk_block_iq1_m, WK_QK_K / 8 + WK_QK_K / 16 + WK_QK_K / 32);

/* IQ4_NL: Q4_0's layout with the 4-bit index going through a non-linear table. */
#define WK_QK4_NL 32
typedef struct {
    wk_half d;
    uint8_t qs[WK_QK4_NL / 2];
} wk_block_iq4_nl;
WK_BLOCK_SIZE_IS(wk_block_iq4_nl, 2 + WK_QK4_NL / 2);

/* IQ4_XS: IQ4_NL in super-blocks, with a 6-bit scale per 32 elements. */
typedef struct {
    wk_half d;
    uint16_t scales_h;            /* high two bits of the eight scales */
    uint8_t scales_l[WK_QK_K / 64]; /* low four bits, two per byte */
    uint8_t qs[WK_QK_K / 2];
} wk_block_iq4_xs;
WK_BLOCK_SIZE_IS(wk_block_iq4_xs, 2 + 2 + WK_QK_K / 64 + WK_QK_K / 2);

/* ---- ternary types ---- */
typedef struct {
    uint8_t qs[(WK_QK_K - 4 * WK_QK_K / 64) / 5]; /* five trits per byte */
    uint8_t qh[WK_QK_K / 64];                     /* four trits per byte */
    wk_half d;
} wk_block_tq1_0;
WK_BLOCK_SIZE_IS(wk_block_tq1_0, 2 + WK_QK_K / 64 + (WK_QK_K - 4 * WK_QK_K / 64) / 5);

typedef struct {
    uint8_t qs[WK_QK_K / 4]; /* two bits per element */
    wk_half d;
} wk_block_tq2_0;
WK_BLOCK_SIZE_IS(wk_block_tq2_0, 2 + WK_QK_K / 4);

#endif
