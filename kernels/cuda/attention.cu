/* RoPE with the KV cache store, and attention over the cache (see cuda.h).
 *
 * The position of the first token is read from device memory, so the kernels of a decoding
 * step are the same for every token and can be replayed from a graph. RoPE computes each
 * pair's angle in double as kernels/rope.c does (kernels/cuda/dots.h's wk_cu_rope_cs, tested
 * against it). Attention is one block per (head, token): its warps take the cache positions
 * in turn, each keeping a running maximum, sum and weighted sum of values (the online
 * softmax), and the block merges the warps' at the end; lanes hold the head's dimensions
 * (up to 8 each: heads of at most 256). The CPU engine computes the same softmax in two
 * passes: the results agree to float rounding. */
#include "kernels/cuda/internal.cuh"

#define ROPE_THREADS 128
#define ATT_WARPS 8
#define ATT_DPL (WK_CUDA_MAX_HEAD_DIM / 32) /* head dimensions per lane */

/* ---- RoPE and the cache ---- */

static __global__ void __launch_bounds__(ROPE_THREADS)
rope_store_kernel(wk_cu_rope r, float *q, const float *k, const float *v, const int32_t *pos,
                  int n_head, int n_head_kv, int hd, float *k_cache, float *v_cache)
{
    int t = blockIdx.x;
    int64_t p = (int64_t)*pos + t, q_dim = (int64_t)n_head * hd, kv_dim = (int64_t)n_head_kv * hd;
    float *kc = k_cache + p * kv_dim, *vc = v_cache + p * kv_dim, *qr = q + t * q_dim;
    for (int64_t i = threadIdx.x; i < kv_dim; i += blockDim.x) {
        kc[i] = k[t * kv_dim + i];
        vc[i] = v[t * kv_dim + i];
    }
    __syncthreads(); /* the pairs below are other threads' copies */
    uint32_t half = r.n_dims / 2;
    for (uint32_t i0 = 2 * threadIdx.x; i0 < r.n_dims; i0 += 2 * blockDim.x) {
        double c, s;
        wk_cu_rope_cs(&r, p, i0, &c, &s);
        uint32_t a = r.neox ? i0 / 2 : i0, b = r.neox ? i0 / 2 + half : i0 + 1;
        for (int h = 0; h < n_head + n_head_kv; h++) {
            float *x = h < n_head ? qr + (int64_t)h * hd : kc + (int64_t)(h - n_head) * hd;
            double x0 = x[a], x1 = x[b];
            x[a] = (float)(x0 * c - x1 * s);
            x[b] = (float)(x0 * s + x1 * c);
        }
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

static __global__ void __launch_bounds__(ATT_WARPS * 32)
attention_kernel(const float *q, const float *kc, const float *vc, const int32_t *pos,
                 int n_head, int group, int hd, float scale, float *out)
{
    __shared__ float sm_m[ATT_WARPS], sm_l[ATT_WARPS], sm_acc[ATT_WARPS][ATT_DPL * 32];
    int h = blockIdx.x, t = blockIdx.y, warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    int len = *pos + t + 1, kvh = h / group;
    int64_t q_dim = (int64_t)n_head * hd, kv_dim = (int64_t)(n_head / group) * hd;
    const float *qr = q + t * q_dim + (int64_t)h * hd;
    float qv[ATT_DPL], acc[ATT_DPL];
    for (int k = 0; k < ATT_DPL; k++) {
        int i = lane + 32 * k;
        qv[k] = i < hd ? qr[i] : 0.0f;
        acc[k] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;
    for (int j = warp; j < len; j += ATT_WARPS) {
        const float *kr = kc + j * kv_dim + (int64_t)kvh * hd;
        const float *vr = vc + j * kv_dim + (int64_t)kvh * hd;
        float dot = 0.0f;
        for (int k = 0; k < ATT_DPL; k++)
            if (lane + 32 * k < hd)
                dot += qv[k] * kr[lane + 32 * k];
        float sc = wk_warp_sum(dot) * scale, mn = fmaxf(m, sc);
        float c = expf(m - mn), pj = expf(sc - mn); /* c = 0 on the first position */
        l = l * c + pj;
        for (int k = 0; k < ATT_DPL; k++)
            if (lane + 32 * k < hd)
                acc[k] = acc[k] * c + pj * vr[lane + 32 * k];
        m = mn;
    }
    if (lane == 0) {
        sm_m[warp] = m;
        sm_l[warp] = l;
    }
    for (int k = 0; k < ATT_DPL; k++)
        sm_acc[warp][lane + 32 * k] = acc[k];
    __syncthreads();
    float M = -INFINITY, L = 0.0f;
    for (int w = 0; w < ATT_WARPS; w++)
        M = fmaxf(M, sm_m[w]);
    for (int w = 0; w < ATT_WARPS; w++)
        L += sm_l[w] * expf(sm_m[w] - M); /* a warp without positions: 0 * 0 */
    float *o = out + t * q_dim + (int64_t)h * hd;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) {
        float sum = 0.0f;
        for (int w = 0; w < ATT_WARPS; w++)
            sum += sm_acc[w][i] * expf(sm_m[w] - M);
        o[i] = sum / L;
    }
}

extern "C" void wk_cuda_attention(wk_cuda_stream *s, const float *q, const float *k_cache,
                                  const float *v_cache, int n, const int32_t *pos, int n_head,
                                  int n_head_kv, int hd, float scale, float *out)
{
    dim3 grid((unsigned)n_head, (unsigned)n);
    attention_kernel<<<grid, ATT_WARPS * 32, 0, s->s>>>(q, k_cache, v_cache, pos, n_head,
                                                        n_head / n_head_kv, hd, scale, out);
    wk_cuda_launched(s);
}
