/* The CUDA backend's types and activation buffers (see cuda.h): plain C in every build, shared
 * by the kernels, the host emulation and the tests. */
#include "kernels/cuda/cuda.h"

const char wk_cuda_types_list[] =
    "F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K";

bool wk_cuda_type_supported(wk_dtype t)
{
    switch (t) {
    case WK_F32: case WK_F16: case WK_BF16: case WK_Q4_0: case WK_Q4_1: case WK_Q5_0:
    case WK_Q5_1: case WK_Q8_0: case WK_Q4_K: case WK_Q5_K: case WK_Q6_K:
        return true;
    default:
        return false;
    }
}

int64_t wk_cuda_rows(int64_t n)
{
    return (n + WK_CUDA_TILE - 1) / WK_CUDA_TILE * WK_CUDA_TILE;
}

static size_t align256(size_t n)
{
    return (n + 255) & ~(size_t)255;
}

size_t wk_cuda_acts_bytes(int64_t rows, int64_t cols)
{
    rows = wk_cuda_rows(rows);
    return align256((size_t)(rows * cols)) + 2 * align256((size_t)(rows * cols / 32) * 4) +
           align256((size_t)(rows * cols / 16) * 2);
}

wk_cuda_acts_rows wk_cuda_acts_layout(const wk_cuda_acts *a, int64_t rows, int64_t cols)
{
    uint8_t *p = a->buf;
    wk_cuda_acts_rows o = {.ldq = cols, .ldd = cols / (a->type == WK_Q8_K ? 256 : 32),
                           .lds = cols / 32, .ldb = cols / 16};
    o.q = (int8_t *)p;
    p += align256((size_t)(rows * cols));
    o.d = (float *)p;
    p += align256((size_t)(rows * cols / 32) * 4);
    o.s = (float *)p;
    p += align256((size_t)(rows * cols / 32) * 4);
    o.bsum = (int16_t *)p;
    return o;
}
