/* llama.cpp's q/k permutation as index arithmetic, for tests of models/qk_permute.c and of
 * the row converter. */
#ifndef WK_TESTS_PERMUTE_FORMULA_H
#define WK_TESTS_PERMUTE_FORMULA_H

#include <stdint.h>

/* llama.cpp LlamaModel.permute as index arithmetic: out = w.reshape(H, 2, half, C)
 * .swapaxes(1, 2).reshape(R, C), so out[h][i][j] = w[h][j][i]. */
static inline uint64_t cv_numpy_src(uint64_t r, uint64_t rows, uint32_t heads)
{
    uint64_t half = rows / heads / 2;
    uint64_t h = r / (2 * half), i = (r % (2 * half)) / 2, j = r % 2;
    return h * 2 * half + j * half + i;
}

#endif
