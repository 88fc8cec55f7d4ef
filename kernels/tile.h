/* Dispatch of a micro-kernel over the tile shapes (kernels/avx2/gemm.c): every (rows,
 * columns) shape up to RMAX x CMAX (at most 4 x 4) becomes its own call with constant R_ and
 * C_, so that the compiler unrolls the tile's loops and keeps each accumulator in a register.
 * TILES expects the tile's shape in variables R and C. EACH is the unrolled loop that the
 * SIMD kernels' register tiles use. */
#ifndef WK_KERNELS_TILE_H
#define WK_KERNELS_TILE_H

#define TILE_CASE(RMAX, CMAX, fn, R_, C_, ...)                                                   \
    case R_ * 8 + C_:                                                                            \
        if (R_ <= RMAX && C_ <= CMAX)                                                            \
            fn(R_, C_, __VA_ARGS__);                                                             \
        break;
#define TILE_ROW(RMAX, CMAX, fn, R_, ...)                                                        \
    TILE_CASE(RMAX, CMAX, fn, R_, 1, __VA_ARGS__) TILE_CASE(RMAX, CMAX, fn, R_, 2, __VA_ARGS__)  \
    TILE_CASE(RMAX, CMAX, fn, R_, 3, __VA_ARGS__) TILE_CASE(RMAX, CMAX, fn, R_, 4, __VA_ARGS__)
#define TILES(RMAX, CMAX, fn, ...)                                                               \
    switch (R * 8 + C) {                                                                         \
        TILE_ROW(RMAX, CMAX, fn, 1, __VA_ARGS__) TILE_ROW(RMAX, CMAX, fn, 2, __VA_ARGS__)        \
        TILE_ROW(RMAX, CMAX, fn, 3, __VA_ARGS__) TILE_ROW(RMAX, CMAX, fn, 4, __VA_ARGS__)        \
    }

/* loops over a tile's rows and columns, unrolled so that each accumulator is a register */
#define EACH(i, n) _Pragma("GCC unroll 8") for (int i = 0; i < (n); i++)

#endif
