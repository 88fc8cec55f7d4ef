/* RoPE with the KV cache store, and attention over the cache (see cuda.h).
 *
 * The position of the first token is read from device memory, so the kernels of a decoding
 * step are the same for every token and can be replayed from a graph. RoPE computes each
 * pair's angle in double as kernels/rope.c does (kernels/cuda/dots.h's wk_cu_rope_cs, tested
 * against it), once per pair and token, and a thread per (head, pair) rotates. Attention is
 * one block per (head, token), 512 threads that score 512 cache positions at once (each
 * thread one position's dot product, in the CPU's order), then weigh the values: many
 * independent loads in flight, which a one-token step needs to be fast. Contexts longer than
 * 512 go in chunks with a running maximum and sums (the online softmax); within one chunk it
 * is the CPU's softmax, so the two agree to float rounding. */
#include "kernels/cuda/internal.cuh"

#define ROPE_THREADS 256
#define ATT_THREADS 512 /* per block, and the cache positions one chunk takes */

/* ---- RoPE and the cache ---- */

static __global__ void __launch_bounds__(ROPE_THREADS)
rope_store_kernel(wk_cu_rope r, float *q, const float *k, const float *v, const int32_t *pos,
                  int n_head, int n_head_kv, int hd, float *k_cache, float *v_cache)
{
    __shared__ double cs[WK_CUDA_MAX_HEAD_DIM / 2], sn[WK_CUDA_MAX_HEAD_DIM / 2];
    int t = blockIdx.x;
    int64_t p = (int64_t)*pos + t, q_dim = (int64_t)n_head * hd, kv_dim = (int64_t)n_head_kv * hd;
    float *kc = k_cache + p * kv_dim, *vc = v_cache + p * kv_dim, *qr = q + t * q_dim;
    for (int64_t i = threadIdx.x; i < kv_dim; i += blockDim.x) {
        kc[i] = k[t * kv_dim + i];
        vc[i] = v[t * kv_dim + i];
    }
    uint32_t pairs = r.n_dims / 2;
    for (uint32_t i = threadIdx.x; i < pairs; i += blockDim.x)
        wk_cu_rope_cs(&r, p, 2 * i, &cs[i], &sn[i]);
    __syncthreads(); /* the angles, and the pairs below are other threads' copies */
    for (uint32_t idx = threadIdx.x; idx < (uint32_t)(n_head + n_head_kv) * pairs;
         idx += blockDim.x) {
        uint32_t h = idx / pairs, i = idx % pairs;
        uint32_t a = r.neox ? i : 2 * i, b = r.neox ? i + pairs : 2 * i + 1;
        float *x = h < (uint32_t)n_head ? qr + (int64_t)h * hd : kc + (int64_t)(h - n_head) * hd;
        double x0 = x[a], x1 = x[b];
        x[a] = (float)(x0 * cs[i] - x1 * sn[i]);
        x[b] = (float)(x0 * sn[i] + x1 * cs[i]);
    }
}

extern "C" void wk_cuda_rope_store(wk_cuda_stream *s, const wk_cu_rope *r, float *q,
                                   const float *k, const float *v, int n, const int32_t *pos,
                                   int n_head, int n_head_kv, int hd, float *k_cache,
                                   float *v_cache)
{
    rope_store_kernel<<<n, ROPE_THREADS, 0, s->s>>>(*r, q, k, v, pos, n_head, n_head_kv, hd,
                                                    k_cache, v_cache);
    wk_cuda_launched(s);
}

/* ---- attention ---- */

/* The block's largest (max) or summed value of v; every thread gets it. */
template <bool MAX>
static __device__ __forceinline__ float block_reduce(float v, float *red)
{
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    v = MAX ? wk_warp_max(v) : wk_warp_sum(v);
    if (lane == 0)
        red[warp] = v;
    __syncthreads();
    v = red[0];
    for (int w = 1; w < warps; w++)
        v = MAX ? fmaxf(v, red[w]) : v + red[w];
    __syncthreads(); /* red is free again */
    return v;
}

/* Head blockIdx.x of token blockIdx.y over the cache positions 0 .. *pos + t, in chunks of
 * ATT_THREADS positions: thread j scores position j of the chunk (q . k, summed in the CPU's
 * order, times scale), the block takes the chunk's maximum and the sum of the weights
 * exp(score - running maximum); then threads (sub, dim) add the weighted values of every
 * subs-th position, the block sums them per dimension, and the running sums are rescaled
 * when the maximum grows (the online softmax; one chunk is the CPU's softmax). */
static __global__ void __launch_bounds__(ATT_THREADS)
attention_kernel(const float *q, const float *kc, const float *vc, const int32_t *pos,
                 int n_head, int group, int hd, float scale, float *out)
{
    __shared__ float qs[WK_CUDA_MAX_HEAD_DIM], w[ATT_THREADS], part[ATT_THREADS];
    __shared__ float red[ATT_THREADS / 32];
    int h = blockIdx.x, t = blockIdx.y, tid = threadIdx.x;
    int len = *pos + t + 1, kvh = h / group, subs = ATT_THREADS / hd;
    int dim = tid % hd, sub = tid / hd;
    int64_t q_dim = (int64_t)n_head * hd, kv_dim = (int64_t)(n_head / group) * hd;
    const float *qr = q + t * q_dim + (int64_t)h * hd;
    const float *kh = kc + (int64_t)kvh * hd, *vh = vc + (int64_t)kvh * hd;
    for (int i = tid; i < hd; i += blockDim.x)
        qs[i] = qr[i];
    __syncthreads();
    float m = -INFINITY, l = 0.0f, acc = 0.0f; /* acc: dimension tid's, for tid < hd */
    for (int c0 = 0; c0 < len; c0 += ATT_THREADS) {
        int j = c0 + tid, cn = min(ATT_THREADS, len - c0);
        float sc = -INFINITY;
        if (j < len) {
            const float *kr = kh + j * kv_dim;
            float dot = 0.0f;
            if (hd % 4 == 0) {
                for (int i = 0; i < hd; i += 4) {
                    float4 k4 = *(const float4 *)(kr + i);
                    dot += qs[i] * k4.x;
                    dot += qs[i + 1] * k4.y;
                    dot += qs[i + 2] * k4.z;
                    dot += qs[i + 3] * k4.w;
                }
            } else {
                for (int i = 0; i < hd; i++)
                    dot += qs[i] * kr[i];
            }
            sc = dot * scale;
        }
        float mn = fmaxf(m, block_reduce<true>(sc, red));
        float pj = j < len ? expf(sc - mn) : 0.0f, corr = expf(m - mn); /* 0 at first */
        w[tid] = pj;
        l = l * corr + block_reduce<false>(pj, red); /* its barrier also publishes w */
        float v = 0.0f;
        if (sub < subs)
            for (int jj = sub; jj < cn; jj += subs)
                v += w[jj] * vh[(c0 + jj) * kv_dim + dim];
        part[tid] = v;
        __syncthreads();
        if (tid < hd) {
            float sum = 0.0f;
            for (int k = 0; k < subs; k++)
                sum += part[k * hd + tid];
            acc = acc * corr + sum;
        }
        m = mn;
        __syncthreads(); /* w and part are rewritten by the next chunk */
    }
    if (tid < hd)
        out[t * q_dim + (int64_t)h * hd + tid] = acc / l;
}

extern "C" void wk_cuda_attention(wk_cuda_stream *s, const float *q, const float *k_cache,
                                  const float *v_cache, int n, const int32_t *pos, int n_head,
                                  int n_head_kv, int hd, float scale, float *out)
{
    dim3 grid((unsigned)n_head, (unsigned)n);
    attention_kernel<<<grid, ATT_THREADS, 0, s->s>>>(q, k_cache, v_cache, pos, n_head,
                                                     n_head / n_head_kv, hd, scale, out);
    wk_cuda_launched(s);
}
