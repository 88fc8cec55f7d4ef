/* Dispatch of a micro-kernel over the tile shapes (kernels/avx2/gemm.c, kernels/avx512/gemm.c):
 * every (rows, columns) shape up to RMAX x CMAX (at most 4 x 8) becomes its own call with
 * constant R_ and C_, so that the compiler unrolls the tile's loops and keeps each
 * accumulator in a register. TILES expects the tile's shape in variables R and C. */
#ifndef WK_KERNELS_TILE_H
#define WK_KERNELS_TILE_H

#define TILE_CASE(RMAX, CMAX, fn, R_, C_, ...)                                                   \
    case R_ * 16 + C_:                                                                           \
        if (R_ <= RMAX && C_ <= CMAX)                                                            \
            fn(R_, C_, __VA_ARGS__);                                                             \
        break;
#define TILE_ROW(RMAX, CMAX, fn, R_, ...)                                                        \
    TILE_CASE(RMAX, CMAX, fn, R_, 1, __VA_ARGS__) TILE_CASE(RMAX, CMAX, fn, R_, 2, __VA_ARGS__)  \
    TILE_CASE(RMAX, CMAX, fn, R_, 3, __VA_ARGS__) TILE_CASE(RMAX, CMAX, fn, R_, 4, __VA_ARGS__)  \
    TILE_CASE(RMAX, CMAX, fn, R_, 5, __VA_ARGS__) TILE_CASE(RMAX, CMAX, fn, R_, 6, __VA_ARGS__)  \
    TILE_CASE(RMAX, CMAX, fn, R_, 7, __VA_ARGS__) TILE_CASE(RMAX, CMAX, fn, R_, 8, __VA_ARGS__)
#define TILES(RMAX, CMAX, fn, ...)                                                               \
    switch (R * 16 + C) {                                                                         \
        TILE_ROW(RMAX, CMAX, fn, 1, __VA_ARGS__) TILE_ROW(RMAX, CMAX, fn, 2, __VA_ARGS__)        \
        TILE_ROW(RMAX, CMAX, fn, 3, __VA_ARGS__) TILE_ROW(RMAX, CMAX, fn, 4, __VA_ARGS__)        \
    }

/* Every tile of an m x n product, RMAX weight rows by CMAX activation rows (the last ones
 * partial), through TILES; the arguments may use the tile's first rows r0 and c0. */
#define TILE_GRID(RMAX, CMAX, m, n, fn, ...)                                                     \
    for (int c0 = 0; c0 < (n); c0 += (CMAX))                                                     \
        for (int r0 = 0; r0 < (m); r0 += (RMAX)) {                                               \
            int R = (m) - r0 < (RMAX) ? (m) - r0 : (RMAX);                                       \
            int C = (n) - c0 < (CMAX) ? (n) - c0 : (CMAX);                                       \
            TILES(RMAX, CMAX, fn, __VA_ARGS__)                                                   \
        }

/* loops over a tile's rows and columns, unrolled so that each accumulator is a register */
#define EACH(i, n) _Pragma("GCC unroll 8") for (int i = 0; i < (n); i++)

#endif
