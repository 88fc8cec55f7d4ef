/* What the .cu files of the CUDA backend share and C never sees: the stream's struct, warp
 * reductions, and how a launcher records a launch error for wk_cuda_finish. */
#ifndef WK_KERNELS_CUDA_INTERNAL_CUH
#define WK_KERNELS_CUDA_INTERNAL_CUH

#include <cuda_runtime.h>

/* the library's C headers, with C linkage */
extern "C" {
#include "common/err.h"
#include "kernels/matmul.h"
#include "quant/types.h"
}
#include "kernels/cuda/cuda.h"

struct wk_cuda_stream {
    cudaStream_t s;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    cudaError_t launch_error; /* the first failed launch since the last finish */
};

/* After a launch: keep the first error (a bad configuration is reported here; a fault while
 * running only at the next synchronization). */
static inline void wk_cuda_launched(wk_cuda_stream *s)
{
    cudaError_t rc = cudaGetLastError();
    if (rc != cudaSuccess && s->launch_error == cudaSuccess)
        s->launch_error = rc;
}

/* Butterfly sums and maxima: every lane ends with the same value (float addition commutes,
 * so each lane adds the same pairs). */
static __device__ __forceinline__ float wk_warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ int wk_warp_sum_int(int v, int width)
{
    for (int o = width / 2; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

static __device__ __forceinline__ float wk_warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

static __device__ __forceinline__ double wk_warp_sum_double(double v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* The device arrays of an activation buffer holding rows x cols (kernels/cuda/dots.h's
 * layout): levels, then the scales per 32 (or 256), Q8_1's sums per 32, Q8_K's sums per 16,
 * each array 256-aligned. */
struct wk_acts_out {
    int8_t *q;
    float *d, *s;
    int16_t *bsum;
    int64_t ldq, ldd, lds, ldb;
};

static inline size_t wk_align256(size_t n)
{
    return (n + 255) & ~(size_t)255;
}

static inline wk_acts_out wk_acts_layout(const wk_cuda_acts *a, int64_t rows, int64_t cols)
{
    wk_acts_out o;
    uint8_t *p = (uint8_t *)a->buf;
    int64_t per_d = a->type == WK_Q8_K ? 256 : 32;
    o.q = (int8_t *)p;
    p += wk_align256((size_t)(rows * cols));
    o.d = (float *)p;
    p += wk_align256((size_t)(rows * cols / 32) * sizeof(float));
    o.s = (float *)p;
    p += wk_align256((size_t)(rows * cols / 32) * sizeof(float));
    o.bsum = (int16_t *)p;
    o.ldq = cols;
    o.ldd = cols / per_d;
    o.lds = cols / 32;
    o.ldb = cols / 16;
    return o;
}

#endif
