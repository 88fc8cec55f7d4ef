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

#endif
