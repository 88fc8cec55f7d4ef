/* The driver of the tiled products (kernels/gemm.h): the activations are brought once into
 * the micro-kernel's form, then OpenMP threads take blocks of ROWS weight rows; a thread
 * brings a slice of KC values of its rows into a panel on its stack (F32, or canonical int8)
 * and multiplies the panel with every activation row, slice after slice, adding into y.
 * Which thread takes a block changes nothing in the result: every sum is made in the same
 * order whatever the thread count. */
#include "kernels/gemm.h"

#include <string.h>

#include "kernels/matmul.h"
#include "kernels/traits.h"

/* A thread streams every activation row past its panel, and adds each slice's products into
 * y: more rows per block mean fewer passes over the activations, longer slices fewer over
 * y. On a Zen 5 (2 cores, 48 KiB L1, 1 MiB L2) with the AVX-512 micro-kernels, prefilling the
 * 1.1B shape: 48 rows 16 % faster than 12 at F16 (96 or 192 rows with shorter slices, or
 * 24 rows, slower); quantized slices of 2048 values 10 % faster than 1024 at Q4_0, 4096 no
 * faster again. The panels are per thread (thread-local: a few hundred KiB, too much for a
 * worker thread's stack). */
#define ROWS 48   /* weight rows per block: a multiple of the micro-kernels' tile rows (3, 4, 16) */
#define KC_F 2048 /* values per slice of float rows: a 384 KiB panel, in L2 */
#define KC_Q 2048 /* of quantized rows (a multiple of 256): 228 KiB */
/* As in matmul.c: smaller products run on one thread. */
#define PARALLEL_MIN (1 << 17)

static bool is_float(wk_dtype t)
{
    return t == WK_F32 || t == WK_F16 || t == WK_BF16;
}

static int64_t pad8(int64_t n)
{
    return (n + 7) & ~(int64_t)7;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

size_t wk_gemm_scratch(wk_dtype t, int64_t cols, int64_t n)
{
    if (is_float(t) || !wk_levels_ref(t))
        return 0;
    return (size_t)n * ((size_t)(cols / 32 + pad8(cols / 16)) * sizeof(float) + (size_t)cols);
}

/* ---- float weights ---- */

static void gemm_float(const wk_matrix *w, const float *x, int64_t n, float *y,
                       wk_to_float_fn decode, wk_gemm_f32_fn kernel)
{
    int64_t rows = w->rows, cols = w->cols, blocks = (rows + ROWS - 1) / ROWS;
    size_t elt = wk_type(w->type)->type_size;
#pragma omp parallel for schedule(dynamic, 1) if (rows * cols * n >= PARALLEL_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        static _Thread_local _Alignas(32) float panel[ROWS * KC_F];
        int64_t r0 = b * ROWS, m = min64(ROWS, rows - r0);
        for (int64_t k0 = 0; k0 < cols; k0 += KC_F) {
            int64_t kc = min64(KC_F, cols - k0);
            for (int64_t r = 0; r < m; r++) /* F32 too: rows in a small panel are faster */
                decode((const uint8_t *)w->data + ((r0 + r) * cols + k0) * elt, panel + r * KC_F,
                       kc);
            kernel(kc, panel, KC_F, (int)m, x + k0, cols, (int)n, y + r0, rows, k0 > 0);
        }
    }
}

/* F16 rows in place: the micro-kernel widens them as it lays them out */
static void gemm_f16(const wk_matrix *w, const float *x, int64_t n, float *y,
                     wk_gemm_f16_fn kernel)
{
    int64_t rows = w->rows, cols = w->cols, blocks = (rows + ROWS - 1) / ROWS;
#pragma omp parallel for schedule(dynamic, 1) if (rows * cols * n >= PARALLEL_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        int64_t r0 = b * ROWS;
        kernel(cols, (const uint16_t *)w->data + r0 * cols, cols, (int)min64(ROWS, rows - r0), x,
               cols, (int)n, y + r0, rows, false);
    }
}

/* ---- quantized weights ---- */

/* The activations quantized to at, KC_A values at a time through a small buffer (a whole
 * number of blocks of every Q8 type), then laid out in canonical form in scratch. */
#define KC_A 1024

static void acts_convert(wk_dtype at, const float *x, int64_t n, int64_t cols, void *scratch,
                         wk_q8_acts *a)
{
    float *d = scratch, *ds = d + n * (cols / 32);
    int8_t *q = (int8_t *)(ds + n * pad8(cols / 16));
    *a = (wk_q8_acts){.q = q, .d = d, .ds = ds, .ldq = cols, .ldd = cols / 32,
                      .ldds = pad8(cols / 16)};
    wk_from_float_fn quantize = wk_cpu_type(at)->from_float;
#pragma omp parallel for schedule(static) if (n * cols >= PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        _Alignas(32) uint8_t buf[KC_A / 32 * 40]; /* Q8_1: 36 bytes per 32, Q8_K 36.5 */
        for (int64_t k0 = 0; k0 < cols; k0 += KC_A) {
            int64_t kc = min64(KC_A, cols - k0);
            quantize(x + i * cols + k0, buf, kc);
            wk_acts_from_q8(at, buf, kc, q + i * cols + k0, d + i * a->ldd + k0 / 32,
                            ds + i * a->ldds + k0 / 16);
        }
        memset(ds + i * a->ldds + cols / 16, 0, (size_t)(a->ldds - cols / 16) * sizeof(float));
    }
}

static void gemm_quant(const wk_matrix *w, int64_t n, float *y, const wk_q8_acts *a,
                       wk_levels_fn levels, wk_gemm_q8_fn kernel)
{
    const wk_type_traits *tt = wk_type(w->type);
    int64_t rows = w->rows, cols = w->cols, blocks = (rows + ROWS - 1) / ROWS;
    size_t row_bytes = (size_t)(cols / tt->block_size) * tt->type_size;
    wk_scales_fn scales = wk_repack_scales(w->type);
    bool sgn = wk_repack_signed(w->type);
    int span = wk_repack_span(w->type);
#pragma omp parallel for schedule(dynamic, 1) if (rows * cols * n >= PARALLEL_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        static _Thread_local _Alignas(32) uint8_t q[ROWS * KC_Q];
        static _Thread_local _Alignas(32) int16_t sc[ROWS * KC_Q / 2];
        static _Thread_local _Alignas(32) float d[ROWS * KC_Q / 32], m[ROWS * KC_Q / 16];
        int64_t r0 = b * ROWS, nr = min64(ROWS, rows - r0);
        for (int64_t k0 = 0; k0 < cols; k0 += KC_Q) {
            int64_t kc = min64(KC_Q, cols - k0), ldm = pad8(kc / 16), ldd = kc / 32 / span;
            for (int64_t r = 0; r < nr; r++) {
                const uint8_t *src = (const uint8_t *)w->data + (size_t)(r0 + r) * row_bytes +
                                     (size_t)(k0 / tt->block_size) * tt->type_size;
                levels(src, kc, q + r * kc);
                scales(src, kc, sc + r * kc / 2, d + r * ldd, m + r * ldm);
                for (int64_t j = kc / 16; j < ldm; j++)
                    m[r * ldm + j] = 0;
            }
            wk_q8_rows wr = {.q = q, .sc = sc, .d = d, .m = m, .ldq = kc, .ldsc = kc / 2,
                             .ldd = ldd, .ldm = ldm, .span = span, .is_signed = sgn};
            wk_q8_acts ak = {.q = a->q + k0, .d = a->d + k0 / 32, .ds = a->ds + k0 / 16,
                             .ldq = a->ldq, .ldd = a->ldd, .ldds = a->ldds};
            kernel(kc / 32, &wr, (int)nr, &ak, (int)n, y + r0, rows, k0 > 0);
        }
    }
}

bool wk_gemm(const wk_matrix *w, const float *x, int64_t n, float *y, void *scratch)
{
    return wk_gemm_with(wk_cpu_kernels_get(), w, x, n, y, scratch);
}

bool wk_gemm_with(const wk_cpu_kernels *kk, const wk_matrix *w, const float *x, int64_t n,
                  float *y, void *scratch)
{
    const wk_cpu_type_traits *tt = wk_cpu_type(w->type);
    if (is_float(w->type)) {
        if (w->type == WK_F16 && kk->gemm_f16) {
            gemm_f16(w, x, n, y, kk->gemm_f16);
            return true;
        }
        if (!kk->gemm_f32 || !tt->to_float)
            return false;
        gemm_float(w, x, n, y, tt->to_float, kk->gemm_f32);
        return true;
    }
    if (!kk->gemm_q8 || !tt->levels)
        return false;
    wk_q8_acts a;
    acts_convert(tt->vec_dot_type, x, n, w->cols, scratch, &a);
    gemm_quant(w, n, y, &a, tt->levels, kk->gemm_q8);
    return true;
}
