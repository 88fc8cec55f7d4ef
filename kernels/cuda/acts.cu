/* The kernels that make the matrix products' inputs (see cuda.h): the embeddings, RMSNorm,
 * SwiGLU, and the quantizing of activations that the products of quantized weights read.
 *
 * Quantizing follows the CPU engine's quantizers exactly (quant/legacy.c's Q8_0 and Q8_1,
 * quant/kquants.c's Q8_K; the per-value steps are kernels/cuda/dots.h's, tested against
 * them), so the device's integer products see the CPU's levels. A warp takes 256 values at a
 * time, lane l holding values 32k + l (k < 8): each 32-block is one k across the warp, a
 * Q8_K block the whole warp. RMSNorm and SwiGLU quantize their output on the way, so a layer
 * needs no separate pass over its activations. */
#include "kernels/cuda/internal.cuh"

#define WARPS 8       /* per block of the chunk kernels */
#define NORM_WARPS 16 /* per block of RMSNorm: one row per block, so a token's row is fast */

/* The 256 values at base of one row, v[k] = value base + 32k + lane, written as floats to
 * out (when not NULL) and quantized into row o (type at: F32 for none). cols is a multiple of
 * 32, and of 256 for Q8_K. */
static __device__ void put_chunk(const float v[8], int64_t base, int64_t cols, float *out,
                                 wk_dtype at, const wk_cuda_acts_rows &o)
{
    int lane = threadIdx.x % 32;
    for (int k = 0; k < 8; k++)
        if (out && base + 32 * k + lane < cols)
            out[base + 32 * k + lane] = v[k];
    if (at == WK_Q8_0 || at == WK_Q8_1) {
        for (int k = 0; k < 8 && base + 32 * k < cols; k++) {
            int64_t g = base / 32 + k;
            float d = wk_warp_max(fabsf(v[k])) / 127.0f;
            int q = wk_cu_q8_level(v[k], wk_cu_q8_inv(d));
            o.q[32 * g + lane] = (int8_t)q;
            int sum = at == WK_Q8_1 ? wk_warp_sum_int(q, 32) : 0;
            if (lane == 0) {
                o.d[g] = wk_cu_round_half(d);
                if (at == WK_Q8_1)
                    o.s[g] = wk_cu_round_half((float)sum * d);
            }
        }
    } else if (at == WK_Q8_K) {
        /* the first value of largest magnitude: each lane's, then the warp's (ties to the
         * lower index, as the CPU's scan keeps the first) */
        float amax = 0, max = 0;
        int at_idx = 1 << 30;
        for (int k = 0; k < 8; k++)
            if (fabsf(v[k]) > amax) {
                amax = fabsf(v[k]);
                max = v[k];
                at_idx = 32 * k + lane;
            }
        for (int off = 16; off > 0; off >>= 1) {
            float a2 = __shfl_xor_sync(0xffffffffu, amax, off);
            float m2 = __shfl_xor_sync(0xffffffffu, max, off);
            int i2 = __shfl_xor_sync(0xffffffffu, at_idx, off);
            if (a2 > amax || (a2 == amax && i2 < at_idx)) {
                amax = a2;
                max = m2;
                at_idx = i2;
            }
        }
        float iscale = amax != 0 ? -127.0f / max : 0.0f;
        for (int k = 0; k < 8; k++) {
            int q = amax != 0 ? wk_cu_q8k_level(v[k], iscale) : 0;
            o.q[base + 32 * k + lane] = (int8_t)q;
            int s16 = wk_warp_sum_int(q, 16); /* lanes 0-15 and 16-31: two groups of 16 */
            if (lane % 16 == 0)
                o.bsum[base / 16 + 2 * k + lane / 16] = (int16_t)s16;
        }
        if (lane == 0)
            o.d[base / 256] = amax != 0 ? 1.0f / iscale : 0.0f;
    }
}

/* The row pointers of row t of a layout */
static __device__ wk_cuda_acts_rows row_of(const wk_cuda_acts_rows &o, int64_t t)
{
    wk_cuda_acts_rows r = o;
    r.q += t * o.ldq;
    r.d += t * o.ldd;
    r.s += t * o.lds;
    r.bsum += t * o.ldb;
    return r;
}

/* ---- embeddings ---- */

static __global__ void embed_kernel(const uint8_t *embd, wk_dtype type, size_t row_bytes,
                                    const int32_t *tokens, int64_t cols, float *x)
{
    int t = blockIdx.x;
    const uint8_t *row = embd + (size_t)tokens[t] * row_bytes;
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x)
        x[t * cols + i] = wk_cu_value(type, row, i);
}

extern "C" void wk_cuda_embed(wk_cuda_stream *s, const wk_matrix *embd, const int32_t *tokens,
                              int n, float *x)
{
    size_t row_bytes = (size_t)(embd->cols / wk_type(embd->type)->block_size) *
                       wk_type(embd->type)->type_size;
    embed_kernel<<<n, 256, 0, s->s>>>((const uint8_t *)embd->data, embd->type, row_bytes,
                                      tokens, embd->cols, x);
    wk_cuda_launched(s);
}

/* ---- RMSNorm ---- */

/* One block per row: the sum of squares in double (as wk_rmsnorm), then warps take chunks of
 * 256 values: out = x * scale * w, quantized on the way. */
static __global__ void __launch_bounds__(NORM_WARPS * 32)
rmsnorm_kernel(const float *x, const float *w, int64_t cols, float eps, float *out,
               wk_dtype at, wk_cuda_acts_rows o)
{
    __shared__ double part[NORM_WARPS];
    int t = blockIdx.x, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const float *xr = x + t * cols;
    double ss = 0;
    for (int64_t i = threadIdx.x; i < cols; i += blockDim.x)
        ss += (double)xr[i] * xr[i];
    ss = wk_warp_sum_double(ss);
    if (lane == 0)
        part[warp] = ss;
    __syncthreads();
    ss = 0;
    for (int k = 0; k < NORM_WARPS; k++)
        ss += part[k];
    float scale = (float)(1.0 / sqrt(ss / (double)cols + eps));
    wk_cuda_acts_rows r = row_of(o, t);
    for (int64_t base = 256 * (int64_t)warp; base < cols; base += 256 * NORM_WARPS) {
        float v[8];
        for (int k = 0; k < 8; k++) {
            int64_t i = base + 32 * k + lane;
            v[k] = i < cols ? xr[i] * scale * w[i] : 0.0f;
        }
        put_chunk(v, base, cols, out + t * cols, at, r);
    }
}

static wk_cuda_acts_rows layout_or_none(const wk_cuda_acts *q, int n, int64_t cols, wk_dtype *at)
{
    wk_cuda_acts_rows o = {};
    *at = q ? q->type : WK_F32;
    if (q)
        o = wk_cuda_acts_layout(q, wk_cuda_rows(n), cols);
    return o;
}

extern "C" void wk_cuda_rmsnorm(wk_cuda_stream *s, const float *x, const float *w, int n,
                                int64_t cols, float eps, float *out, const wk_cuda_acts *q)
{
    wk_dtype at;
    wk_cuda_acts_rows o = layout_or_none(q, n, cols, &at);
    rmsnorm_kernel<<<n, NORM_WARPS * 32, 0, s->s>>>(x, w, cols, eps, out, at, o);
    wk_cuda_launched(s);
}

/* ---- quantizing, SwiGLU ---- */

/* Warp (blockIdx.x * WARPS + warp) takes chunk of 256 of row blockIdx.y: quantizes x, or with
 * up, first x = silu(x) * up (kernels/matmul.h's wk_swiglu, in place). */
static __global__ void __launch_bounds__(WARPS * 32)
chunks_kernel(float *x, const float *up, int64_t cols, wk_dtype at, wk_cuda_acts_rows o)
{
    int t = blockIdx.y, lane = threadIdx.x % 32;
    int64_t base = 256 * ((int64_t)blockIdx.x * WARPS + threadIdx.x / 32);
    if (base >= cols)
        return;
    float *xr = x + t * cols;
    float v[8];
    for (int k = 0; k < 8; k++) {
        int64_t i = base + 32 * k + lane;
        v[k] = 0.0f;
        if (i < cols) {
            float g = xr[i];
            v[k] = up ? g / (1.0f + expf(-g)) * up[t * cols + i] : g;
        }
    }
    put_chunk(v, base, cols, up ? xr : NULL, at, row_of(o, t));
}

static void chunks(wk_cuda_stream *s, float *x, const float *up, int n, int64_t cols,
                   const wk_cuda_acts *q)
{
    wk_dtype at;
    wk_cuda_acts_rows o = layout_or_none(q, n, cols, &at);
    int64_t per_row = (cols + 256 * WARPS - 1) / (256 * WARPS);
    chunks_kernel<<<dim3((unsigned)per_row, (unsigned)n), WARPS * 32, 0, s->s>>>(x, up, cols,
                                                                                 at, o);
    wk_cuda_launched(s);
}

extern "C" void wk_cuda_quantize(wk_cuda_stream *s, const float *x, int n, int64_t cols,
                                 const wk_cuda_acts *q)
{
    chunks(s, (float *)x, NULL, n, cols, q); /* x is only read without up */
}

extern "C" void wk_cuda_swiglu(wk_cuda_stream *s, float *gate, const float *up, int n,
                               int64_t cols, const wk_cuda_acts *q)
{
    chunks(s, gate, up, n, cols, q);
}

/* ---- biases ---- */

static __global__ void add_rows_kernel(float *y, const float *b, int64_t total, int64_t cols)
{
    for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x)
        y[i] += b[i % cols];
}

extern "C" void wk_cuda_add_rows(wk_cuda_stream *s, float *y, const float *b, int n,
                                 int64_t cols)
{
    int64_t total = n * cols, blocks = (total + 255) / 256;
    add_rows_kernel<<<(unsigned)(blocks < 4096 ? blocks : 4096), 256, 0, s->s>>>(y, b, total,
                                                                                 cols);
    wk_cuda_launched(s);
}
