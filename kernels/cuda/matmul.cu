/* Matrix times activations on the device (see cuda.h), reading the weights' GGUF blocks as
 * they are.
 *
 * One warp per weight row: its lanes take the row's 32-groups in turn (kernels/cuda/dots.h
 * has each type's group; float weights are read 8 or 4 values to a load), each lane adding
 * into one float per activation row, then the warp adds its lanes. A block of 4 warps takes
 * 4 rows and a tile of NT activation rows: NT = 1 for one token (decoding, where the
 * weights' bytes are the whole cost and each is read once), NT = 8 for a batch (a weight
 * group is decoded once for 8 tokens). Up to three matrices of one type and width that read
 * the same activations (q, k, v; gate, up) go in one launch, so a small k or v matrix shares
 * the device with the others. Activation buffers hold a whole number of tiles
 * (wk_cuda_rows), so a tile's rows past n are read, never written. */
#include "kernels/cuda/internal.cuh"

#define MM_WARPS 4

/* What a launch multiplies: matrix m's rows are start[m] .. start[m + 1] of the launch. */
struct mm_args {
    const uint8_t *w[3];
    float *y[3];
    int64_t start[4]; /* start[3]: every row */
    size_t row_bytes;
    int64_t cols;
    int n;
    bool add;
};

/* Warp r's weight row, and where its results go: y of its matrix, at row rr of rows. (Kernel
 * parameters are chosen by branches: an index that varies would copy them to local memory.) */
struct mm_row {
    const uint8_t *w;
    float *y;
    int64_t rr, rows;
};

static __device__ __forceinline__ mm_row which(const mm_args &p, int64_t r)
{
    mm_row o;
    if (r < p.start[1]) {
        o.w = p.w[0], o.y = p.y[0], o.rr = r, o.rows = p.start[1];
    } else if (r < p.start[2]) {
        o.w = p.w[1], o.y = p.y[1], o.rr = r - p.start[1], o.rows = p.start[2] - p.start[1];
    } else {
        o.w = p.w[2], o.y = p.y[2], o.rr = r - p.start[2], o.rows = p.start[3] - p.start[2];
    }
    o.w += o.rr * p.row_bytes;
    return o;
}

/* Every lane ends a row with its share in acc; the warp's sums go to y. */
template <int NT>
static __device__ __forceinline__ void store(const mm_args &p, const mm_row &o, int t0,
                                             float acc[NT])
{
    int lane = threadIdx.x % 32;
    for (int t = 0; t < NT; t++) {
        float v = wk_warp_sum(acc[t]);
        if (lane == t && t0 + t < p.n) {
            float *y = o.y + (int64_t)(t0 + t) * o.rows + o.rr;
            *y = p.add ? *y + v : v;
        }
    }
}

template <wk_dtype T>
static __device__ __forceinline__ void dot_group(const uint8_t *row, int64_t g,
                                                 const wk_cu_acts *a, int nt, float *acc)
{
    if constexpr (T == WK_Q4_0) wk_cu_dot_q4_0(row, g, a, nt, acc);
    else if constexpr (T == WK_Q4_1) wk_cu_dot_q4_1(row, g, a, nt, acc);
    else if constexpr (T == WK_Q5_0) wk_cu_dot_q5_0(row, g, a, nt, acc);
    else if constexpr (T == WK_Q5_1) wk_cu_dot_q5_1(row, g, a, nt, acc);
    else if constexpr (T == WK_Q8_0) wk_cu_dot_q8_0(row, g, a, nt, acc);
    else if constexpr (T == WK_Q4_K) wk_cu_dot_q4_K(row, g, a, nt, acc);
    else if constexpr (T == WK_Q5_K) wk_cu_dot_q5_K(row, g, a, nt, acc);
    else if constexpr (T == WK_Q6_K) wk_cu_dot_q6_K(row, g, a, nt, acc);
}

template <wk_dtype T, int NT>
static __global__ void __launch_bounds__(MM_WARPS * 32)
matmul_quant_kernel(mm_args p, wk_cu_acts a)
{
    int64_t r = (int64_t)blockIdx.x * MM_WARPS + threadIdx.x / 32;
    if (r >= p.start[3])
        return;
    mm_row o = which(p, r);
    int t0 = blockIdx.y * NT;
    a.q += t0 * a.ldq;
    a.d += t0 * a.ldd;
    a.s += t0 * a.lds;
    a.bsum += t0 * a.ldb;
    float acc[NT];
    for (int t = 0; t < NT; t++)
        acc[t] = 0.0f;
    /* a token's step: a lane's few groups all in flight at once (4096 wide: 4 each) */
#pragma unroll(NT == 1 ? 4 : 1)
    for (int64_t g = threadIdx.x % 32; g < p.cols / 32; g += 32)
        dot_group<T>(o.w, g, &a, NT, acc);
    store<NT>(p, o, t0, acc);
}

/* V consecutive weights at w[i] (V = 8: one 16-byte load of binary16/bfloat16; V = 4: one
 * of F32; V = 1: any width) as floats. */
template <wk_dtype T, int V>
static __device__ __forceinline__ void load_weights(const uint8_t *row, int64_t i, float *w)
{
    if constexpr (V == 1) {
        w[0] = wk_cu_value(T, row, i);
    } else if constexpr (T == WK_F32) {
        float4 f = *(const float4 *)(row + 4 * i);
        w[0] = f.x, w[1] = f.y, w[2] = f.z, w[3] = f.w;
    } else {
        uint32_t u[4];
        wk_cu_ld16(row + 2 * i, u);
        for (int k = 0; k < 8; k++) {
            uint16_t h = (uint16_t)(u[k / 2] >> 16 * (k % 2));
            w[k] = T == WK_F16 ? wk_cu_half(h) : wk_cu_bf16(h);
        }
    }
}

template <wk_dtype T, int NT, int V>
static __global__ void __launch_bounds__(MM_WARPS * 32)
matmul_float_kernel(mm_args p, const float *x)
{
    int64_t r = (int64_t)blockIdx.x * MM_WARPS + threadIdx.x / 32;
    if (r >= p.start[3])
        return;
    mm_row o = which(p, r);
    int t0 = blockIdx.y * NT;
    float acc[NT];
    for (int t = 0; t < NT; t++)
        acc[t] = 0.0f;
#pragma unroll(NT == 1 ? 4 : 1)
    for (int64_t i = V * (threadIdx.x % 32); i < p.cols; i += 32 * V) {
        float w[V];
        load_weights<T, V>(o.w, i, w);
        for (int t = 0; t < NT; t++) {
            const float *xr = x + (int64_t)(t0 + t) * p.cols + i;
            for (int k = 0; k < V; k++)
                acc[t] += w[k] * xr[k];
        }
    }
    store<NT>(p, o, t0, acc);
}

/* ---- the launcher: one instantiation per type and tile ---- */

template <wk_dtype T, int NT>
static void launch_quant(cudaStream_t st, dim3 grid, const mm_args &p, const wk_cu_acts &a)
{
    matmul_quant_kernel<T, NT><<<grid, MM_WARPS * 32, 0, st>>>(p, a);
}

template <wk_dtype T, int NT>
static void launch_float(cudaStream_t st, dim3 grid, const mm_args &p, const float *x)
{
    int64_t v = T == WK_F32 ? 4 : 8;
    if (p.cols % v != 0)
        matmul_float_kernel<T, NT, 1><<<grid, MM_WARPS * 32, 0, st>>>(p, x);
    else
        matmul_float_kernel<T, NT, T == WK_F32 ? 4 : 8><<<grid, MM_WARPS * 32, 0, st>>>(p, x);
}

template <int NT>
static void launch(wk_dtype t, cudaStream_t st, dim3 grid, const mm_args &p, const float *x,
                   const wk_cu_acts &a)
{
    switch (t) {
    case WK_F32: launch_float<WK_F32, NT>(st, grid, p, x); break;
    case WK_F16: launch_float<WK_F16, NT>(st, grid, p, x); break;
    case WK_BF16: launch_float<WK_BF16, NT>(st, grid, p, x); break;
    case WK_Q4_0: launch_quant<WK_Q4_0, NT>(st, grid, p, a); break;
    case WK_Q4_1: launch_quant<WK_Q4_1, NT>(st, grid, p, a); break;
    case WK_Q5_0: launch_quant<WK_Q5_0, NT>(st, grid, p, a); break;
    case WK_Q5_1: launch_quant<WK_Q5_1, NT>(st, grid, p, a); break;
    case WK_Q8_0: launch_quant<WK_Q8_0, NT>(st, grid, p, a); break;
    case WK_Q4_K: launch_quant<WK_Q4_K, NT>(st, grid, p, a); break;
    case WK_Q5_K: launch_quant<WK_Q5_K, NT>(st, grid, p, a); break;
    case WK_Q6_K: launch_quant<WK_Q6_K, NT>(st, grid, p, a); break;
    default: break; /* the backend checks every type at load */
    }
}

extern "C" void wk_cuda_matmul(wk_cuda_stream *s, int count, const wk_matrix *w,
                               float *const *y, const float *x, const wk_cuda_acts *q, int n,
                               bool add)
{
    mm_args p = {};
    p.cols = w[0].cols;
    p.n = n;
    p.add = add;
    p.row_bytes = (size_t)(w[0].cols / wk_type(w[0].type)->block_size) *
                  wk_type(w[0].type)->type_size;
    for (int m = 0; m < 3; m++) {
        p.w[m] = m < count ? (const uint8_t *)w[m].data : NULL;
        p.y[m] = m < count ? y[m] : NULL;
        p.start[m + 1] = p.start[m] + (m < count ? w[m].rows : 0);
    }
    wk_cu_acts a = {};
    if (q) {
        wk_cuda_acts_rows o = wk_cuda_acts_layout(q, wk_cuda_rows(n), p.cols);
        a = {o.q, o.d, o.s, o.bsum, o.ldq, o.ldd, o.lds, o.ldb};
    }
    int nt = n == 1 ? 1 : WK_CUDA_TILE;
    dim3 grid((unsigned)((p.start[3] + MM_WARPS - 1) / MM_WARPS), (unsigned)((n + nt - 1) / nt));
    if (nt == 1)
        launch<1>(w[0].type, s->s, grid, p, x, a);
    else
        launch<WK_CUDA_TILE>(w[0].type, s->s, grid, p, x, a);
    wk_cuda_launched(s);
}
