/* The CUDA backend's per-type arithmetic (kernels/cuda/dots.h), compiled here for the host so
 * it is checked on a machine without a GPU: for every type the backend runs, a group's dot
 * with activations in the device layout equals the CPU reference dot product of the same
 * block bit for bit (the 32-blocks, whose group is a block) or to float rounding (the
 * k-quants, whose float formula is applied per group instead of per super-block), on
 * quantized rows and on random block bytes; several activation rows at once give each row's
 * own result; the element decoder equals the type's dequantizer bit for bit; the activation
 * quantizing steps give the CPU quantizers' bytes; the RoPE angles equal kernels/rope.c's. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/cuda/dots.h"
#include "kernels/dot.h"
#include "kernels/rope.h"
#include "quant/fit.h"
#include "quant/half.h"
#include "quant/types.h"

static uint64_t cd_rng = 0x9e3779b97f4a7c15u;

static uint64_t cd_next(void)
{
    cd_rng ^= cd_rng << 13;
    cd_rng ^= cd_rng >> 7;
    cd_rng ^= cd_rng << 17;
    return cd_rng;
}

static float cd_gauss(void)
{
    double u = ((double)(cd_next() >> 11) + 0.5) / 9007199254740992.0;
    double v = (double)(cd_next() >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

static const wk_dtype TYPES[] = {WK_Q4_0, WK_Q4_1, WK_Q5_0, WK_Q5_1, WK_Q8_0,
                                 WK_Q4_K, WK_Q5_K, WK_Q6_K};
#define N_TYPES (sizeof TYPES / sizeof TYPES[0])

static size_t row_bytes(wk_dtype t, int64_t n)
{
    return (size_t)(n / wk_type(t)->block_size * wk_type(t)->type_size);
}

/* The device layout of nt rows of CPU activation blocks of type at (n values each): the
 * levels, the scales as floats, Q8_1's stored sums, Q8_K's sums of 16 -- what the device's
 * quantizing kernel writes. The arrays are 16-aligned, as cudaMalloc's. */
typedef struct dev_acts {
    int8_t *q;
    float *d, *s;
    int16_t *bsum;
    wk_cu_acts a;
} dev_acts;

static void to_device_layout(wk_dtype at, const uint8_t *blocks, int nt, int64_t n,
                             dev_acts *o)
{
    o->q = aligned_alloc(16, (size_t)(nt * n));
    o->d = calloc((size_t)(nt * n / 32), sizeof(float));
    o->s = calloc((size_t)(nt * n / 32), sizeof(float));
    o->bsum = calloc((size_t)(nt * n / 16), sizeof(int16_t));
    int64_t per_d = at == WK_Q8_K ? 256 : 32;
    o->a = (wk_cu_acts){.q = o->q, .d = o->d, .s = o->s, .bsum = o->bsum, .ldq = n,
                        .ldd = n / per_d, .lds = n / 32, .ldb = n / 16};
    for (int t = 0; t < nt; t++) {
        const uint8_t *row = blocks + (size_t)t * row_bytes(at, n);
        for (int64_t b = 0; b < n / per_d; b++) {
            if (at == WK_Q8_K) {
                const wk_block_q8_K *k = (const wk_block_q8_K *)row + b;
                memcpy(o->q + t * n + 256 * b, k->qs, 256);
                o->d[t * o->a.ldd + b] = k->d;
                memcpy(o->bsum + t * o->a.ldb + 16 * b, k->bsums, sizeof k->bsums);
            } else if (at == WK_Q8_1) {
                const wk_block_q8_1 *k = (const wk_block_q8_1 *)row + b;
                memcpy(o->q + t * n + 32 * b, k->qs, 32);
                o->d[t * o->a.ldd + b] = wk_f16_to_f32(k->d);
                o->s[t * o->a.lds + b] = wk_f16_to_f32(k->s);
            } else {
                const wk_block_q8_0 *k = (const wk_block_q8_0 *)row + b;
                memcpy(o->q + t * n + 32 * b, k->qs, 32);
                o->d[t * o->a.ldd + b] = wk_f16_to_f32(k->d);
            }
        }
    }
}

static void free_acts(dev_acts *o)
{
    free(o->q);
    free(o->d);
    free(o->s);
    free(o->bsum);
}

/* nt activation rows of n values, quantized by the CPU's quantizer of at. */
static uint8_t *cpu_acts(wk_dtype at, int nt, int64_t n, float scale)
{
    float *x = malloc((size_t)n * sizeof *x);
    uint8_t *q = malloc(row_bytes(at, n) * (size_t)nt);
    for (int t = 0; t < nt; t++) {
        for (int64_t i = 0; i < n; i++)
            x[i] = scale * cd_gauss();
        wk_type(at)->from_float(x, q + (size_t)t * row_bytes(at, n), n);
    }
    free(x);
    return q;
}

/* A weight row of n values of type t: quantized from Gaussian values, or random bytes with
 * sane binary16 scales (every level pattern, every 6-bit scale and minimum). */
static uint8_t *weights(wk_dtype t, int64_t n, bool random_bytes)
{
    size_t bytes = row_bytes(t, n);
    uint8_t *w = aligned_alloc(16, (bytes + 15) / 16 * 16);
    if (!random_bytes) {
        float *x = malloc((size_t)n * sizeof *x);
        for (int64_t i = 0; i < n; i++)
            x[i] = cd_gauss();
        wk_type(t)->from_float(x, w, n);
        free(x);
        return w;
    }
    for (size_t i = 0; i < bytes; i++)
        w[i] = (uint8_t)cd_next();
    size_t size = wk_type(t)->type_size;
    for (size_t b = 0; b < bytes / size; b++) {
        uint8_t *blk = w + b * size;
        wk_half d = wk_f32_to_f16(0.01f + 0.02f * (float)(cd_next() % 100) / 100.0f);
        wk_half m = wk_f32_to_f16(-0.005f * (float)(cd_next() % 100) / 100.0f);
        if (t == WK_Q6_K) {
            memcpy(blk + 208, &d, 2);
        } else {
            memcpy(blk, &d, 2);
            if (t == WK_Q4_1 || t == WK_Q5_1 || t == WK_Q4_K || t == WK_Q5_K)
                memcpy(blk + 2, &m, 2);
        }
    }
    return w;
}

/* The scale of a dot's rounding: the float64 sum of |w_i a_i| over the decoded rows. */
static double magnitude(wk_dtype t, const uint8_t *w, wk_dtype at, const uint8_t *a, int64_t n)
{
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    wk_type(t)->to_float(w, x, n);
    wk_type(at)->to_float(a, y, n);
    double s = 0;
    for (int64_t i = 0; i < n; i++)
        s += fabs((double)x[i] * y[i]);
    free(x);
    free(y);
    return s;
}

/* The sum over the row's groups of the device dot, for nt rows at once. */
static void device_dot(wk_dtype t, const uint8_t *w, const wk_cu_acts *a, int nt, int64_t n,
                       float *acc)
{
    for (int k = 0; k < nt; k++)
        acc[k] = 0;
    for (int64_t g = 0; g < n / 32; g++)
        wk_cu_dot(t, w, g, a, nt, acc);
}

static void check_row(wk_dtype t, int64_t n, bool random_bytes)
{
    enum { NT = 3 };
    wk_dtype at = wk_vec_dot_type(t);
    uint8_t *w = weights(t, n, random_bytes), *q = cpu_acts(at, NT, n, 1.0f);
    dev_acts d;
    to_device_layout(at, q, NT, n, &d);
    float acc[NT];
    device_dot(t, w, &d.a, NT, n, acc);
    bool kquant = wk_type(t)->block_size == 256;
    for (int k = 0; k < NT; k++) {
        float want;
        wk_vec_dot_ref(t)(n, &want, w, q + (size_t)k * row_bytes(at, n));
        if (!kquant && n == 32)
            cr_expect(memcmp(&acc[k], &want, 4) == 0, "%s row %d: %.9g, CPU %.9g (one block: "
                      "bit for bit)", wk_type(t)->name, k, acc[k], want);
        else
            cr_expect(fabs(acc[k] - want) <=
                          1e-6 * magnitude(t, w, at, q + (size_t)k * row_bytes(at, n), n),
                      "%s n %lld row %d: %.9g, CPU %.9g", wk_type(t)->name, (long long)n, k,
                      acc[k], want);
        /* one row alone gives the same as that row among others */
        dev_acts one = d;
        one.a.q += k * d.a.ldq;
        one.a.d += k * d.a.ldd;
        one.a.s += k * d.a.lds;
        one.a.bsum += k * d.a.ldb;
        float alone;
        device_dot(t, w, &one.a, 1, n, &alone);
        cr_expect(memcmp(&alone, &acc[k], 4) == 0, "%s row %d alone", wk_type(t)->name, k);
    }
    free_acts(&d);
    free(w);
    free(q);
}

Test(cuda_dots, every_type_against_the_cpu_reference)
{
    for (size_t i = 0; i < N_TYPES; i++) {
        int64_t bs = wk_type(TYPES[i])->block_size;
        for (int rnd = 0; rnd < 2; rnd++) {
            check_row(TYPES[i], bs, rnd);
            check_row(TYPES[i], 256, rnd);
            check_row(TYPES[i], 11 * 256, rnd);
        }
    }
}

/* The k-quants per super-block: the group formula summed over its 8 groups rounds like the
 * CPU's per-block formula to within a few ulps, on many random blocks. */
Test(cuda_dots, kquant_blocks_to_float_rounding)
{
    const wk_dtype K[] = {WK_Q4_K, WK_Q5_K, WK_Q6_K};
    for (size_t i = 0; i < 3; i++)
        for (int rep = 0; rep < 200; rep++) {
            uint8_t *w = weights(K[i], 256, true), *q = cpu_acts(WK_Q8_K, 1, 256, 3.0f);
            dev_acts d;
            to_device_layout(WK_Q8_K, q, 1, 256, &d);
            float acc, want;
            device_dot(K[i], w, &d.a, 1, 256, &acc);
            wk_vec_dot_ref(K[i])(256, &want, w, q);
            cr_assert(fabs(acc - want) <= 1e-6 * magnitude(K[i], w, WK_Q8_K, q, 256),
                      "%s: %.9g, CPU %.9g", wk_type(K[i])->name, acc, want);
            free_acts(&d);
            free(w);
            free(q);
        }
}

Test(cuda_dots, element_decoder_is_the_dequantizer)
{
    const wk_dtype ALL[] = {WK_F32, WK_F16, WK_BF16, WK_Q4_0, WK_Q4_1, WK_Q5_0,
                            WK_Q5_1, WK_Q8_0, WK_Q4_K, WK_Q5_K, WK_Q6_K};
    enum { N = 512 };
    for (size_t i = 0; i < sizeof ALL / sizeof ALL[0]; i++)
        for (int rnd = 0; rnd < 2; rnd++) {
            wk_dtype t = ALL[i];
            bool quant = wk_type(t)->is_quantized;
            uint8_t *w = quant ? weights(t, N, rnd) : aligned_alloc(16, N * 4);
            if (!quant) {
                float x[N];
                for (int k = 0; k < N; k++)
                    x[k] = cd_gauss();
                wk_type(t)->from_float(x, w, N);
            }
            float want[N];
            wk_type(t)->to_float(w, want, N);
            for (int k = 0; k < N; k++) {
                float got = wk_cu_value(t, w, k);
                cr_assert(memcmp(&got, &want[k], 4) == 0, "%s element %d: %.9g, dequantizer "
                          "%.9g", wk_type(t)->name, k, got, want[k]);
            }
            free(w);
        }
}

/* The device's quantizing steps (wk_cu_quantize_row: the kernels' steps one group after
 * another) give the CPU quantizers' blocks, in the device layout, byte for byte. */
Test(cuda_dots, activation_quantizing_is_the_cpus)
{
    enum { N = 1024 };
    const wk_dtype AT[] = {WK_Q8_0, WK_Q8_1, WK_Q8_K};
    float x[N];
    for (int rep = 0; rep < 20; rep++) {
        for (int i = 0; i < N; i++)
            x[i] = (rep % 5 == 0 && i % 7 == 0) ? 0.0f : (float)(rep + 1) * cd_gauss();
        for (int i = 0; rep == 3 && i < 256; i++)
            x[i] = 0; /* an all-zero block */
        for (int i = 0; rep == 4 && i < N; i += 3)
            x[i] = -x[(i + 1) % N]; /* ties in magnitude: the first one counts */
        for (size_t k = 0; k < sizeof AT / sizeof AT[0]; k++) {
            uint8_t blocks[N / 32 * 40];
            wk_type(AT[k])->from_float(x, blocks, N);
            dev_acts want;
            to_device_layout(AT[k], blocks, 1, N, &want);
            int8_t q[N];
            float d[N / 32] = {0}, s[N / 32] = {0};
            int16_t bsum[N / 16] = {0};
            wk_cu_quantize_row(AT[k], x, N, q, d, s, bsum);
            int nd = AT[k] == WK_Q8_K ? N / 256 : N / 32;
            cr_assert(memcmp(q, want.q, N) == 0, "%s levels", wk_type(AT[k])->name);
            cr_assert(memcmp(d, want.d, (size_t)nd * 4) == 0, "%s scales", wk_type(AT[k])->name);
            if (AT[k] == WK_Q8_1)
                cr_assert(memcmp(s, want.s, sizeof s) == 0, "Q8_1 sums");
            if (AT[k] == WK_Q8_K)
                cr_assert(memcmp(bsum, want.bsum, sizeof bsum) == 0, "Q8_K sums of 16");
            free_acts(&want);
        }
    }
    for (float v = -300.7f; v < 300.0f; v += 0.25f)
        cr_assert_eq(wk_cu_nearest_int(v), wk_nearest_int(v));
}

Test(cuda_dots, rope_angles_are_the_cpu_ones)
{
    static const float factors[32] = {1, 1, 1.5f, 2, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8,
                                      8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8};
    wk_rope plain = {.n_dims = 64, .base = 10000, .freq_scale = 1, .attn_factor = 1};
    wk_rope linear = plain, yarn = plain, llama3 = plain, neox = plain, part = plain;
    linear.freq_scale = 0.25;
    yarn.freq_scale = 0.125, yarn.ext_factor = 1, yarn.beta_fast = 32, yarn.beta_slow = 1;
    yarn.n_ctx_orig = 4096, yarn.base = 500000;
    llama3.freq_factors = factors;
    neox.neox = true;
    part.n_dims = 32;
    const wk_rope *cases[] = {&plain, &linear, &yarn, &llama3, &neox, &part};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const wk_rope *r = cases[c];
        wk_cu_rope cr = {r->n_dims, r->base, r->freq_scale, r->ext_factor, r->attn_factor,
                         r->beta_fast, r->beta_slow, r->n_ctx_orig, r->freq_factors, r->neox};
        for (int64_t pos = 0; pos < 70000; pos = pos * 3 + 1) {
            enum { HD = 64 };
            float want[HD], got[HD];
            double angles[HD];
            for (int i = 0; i < HD; i++)
                want[i] = got[i] = cd_gauss();
            wk_rope_angles(r, pos, angles);
            wk_rope_rotate(r, want, 1, HD, angles);
            for (uint32_t i0 = 0; i0 < r->n_dims; i0 += 2) {
                double cs, sn;
                wk_cu_rope_cs(&cr, pos, i0, &cs, &sn);
                uint32_t a = r->neox ? i0 / 2 : i0, b = r->neox ? i0 / 2 + r->n_dims / 2 : i0 + 1;
                double x0 = got[a], x1 = got[b];
                got[a] = (float)(x0 * cs - x1 * sn);
                got[b] = (float)(x0 * sn + x1 * cs);
            }
            cr_assert(memcmp(got, want, sizeof got) == 0, "rope case %zu at %lld", c,
                      (long long)pos);
        }
    }
}

Test(cuda_dots, fifth_bits_spread_to_bit_four)
{
    for (uint32_t h = 0; h < 16; h++) {
        uint32_t w = wk_cu_bit4(h);
        for (int k = 0; k < 4; k++)
            cr_assert_eq((w >> 8 * k) & 0xff, ((h >> k) & 1) << 4);
    }
}
