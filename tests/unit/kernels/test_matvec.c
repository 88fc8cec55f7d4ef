/* Decoding's products (kernels/matmul.h, wk_matvec): several matrices of different types and
 * heights that read one activation row, in one parallel region, give each row what the
 * type's own kernel gives it (bit for bit: a row is never split between threads), whatever
 * the thread count, chunk edges included; wk_matmul of one row is the same product. */
#include <criterion/criterion.h>

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/matmul.h"
#include "kernels/traits.h"

static uint64_t mv_rng = 0x9e3779b97f4a7c15u;

static float mv_gauss(void)
{
    double s = 0;
    for (int i = 0; i < 4; i++) {
        mv_rng ^= mv_rng << 13;
        mv_rng ^= mv_rng >> 7;
        mv_rng ^= mv_rng << 17;
        s += (double)(mv_rng >> 11) / 9007199254740992.0 - 0.5;
    }
    return (float)(s * 1.7320508);
}

static size_t row_bytes(wk_dtype t, int64_t cols)
{
    return (size_t)(cols / wk_type(t)->block_size) * wk_type(t)->type_size;
}

static void *random_matrix(wk_dtype t, int64_t rows, int64_t cols)
{
    float *x = malloc((size_t)cols * sizeof *x);
    uint8_t *w = malloc(row_bytes(t, cols) * (size_t)rows);
    for (int64_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < cols; i++)
            x[i] = 0.05f * mv_gauss();
        wk_cpu_type_variant(t, WK_CPU_REF)->from_float(x, w + (size_t)r * row_bytes(t, cols),
                                                       cols);
    }
    free(x);
    return w;
}

/* What the chosen kernels give row r of w: its matrix-vector product of one row where the
 * type has one, else its dot product. */
static float one_row(const wk_matrix *w, int64_t r, const float *x)
{
    const wk_cpu_type_traits *tt = wk_cpu_type(w->type);
    size_t in_row = row_bytes(w->type, w->cols);
    const uint8_t *row = (const uint8_t *)w->data + (size_t)r * in_row;
    void *act = malloc(row_bytes(tt->vec_dot_type, w->cols) + 4);
    const void *a = x;
    if (tt->vec_dot_type != WK_F32) {
        wk_cpu_type(tt->vec_dot_type)->from_float(x, act, w->cols);
        a = act;
    }
    float y;
    if (tt->matvec) {
        void *prep = aligned_alloc(64, (tt->matvec_prep_size(w->cols) + 63) / 64 * 64);
        tt->matvec_prep(w->cols, a, prep);
        tt->matvec(w->cols, 1, &y, row, in_row, prep);
        free(prep);
    } else {
        tt->vec_dot(w->cols, &y, row, a);
    }
    free(act);
    return y;
}

Test(matvec, matrices_sharing_a_row_equal_their_rows_kernels_at_any_thread_count)
{
    /* 512 wide: Q4_0 has a matrix-vector product on AVX-512 CPUs, Q6_K and F16 do not; the
     * heights cut chunks unevenly, and the whole is large enough to run in parallel */
    const int64_t cols = 512;
    const wk_dtype types[3] = {WK_Q4_0, WK_Q6_K, WK_F16};
    const int64_t heights[3] = {1537, 301, 517};
    wk_matrix m[3];
    const wk_matrix *w[3];
    float *want[3], *got[3];
    float *x = malloc(cols * sizeof *x);
    for (int64_t i = 0; i < cols; i++)
        x[i] = mv_gauss();
    for (int j = 0; j < 3; j++) {
        m[j] = (wk_matrix){random_matrix(types[j], heights[j], cols), types[j], heights[j], cols};
        w[j] = &m[j];
        want[j] = malloc((size_t)heights[j] * sizeof(float));
        got[j] = malloc((size_t)heights[j] * sizeof(float));
        for (int64_t r = 0; r < heights[j]; r++)
            want[j][r] = one_row(&m[j], r, x);
    }
    void *scratch = malloc(wk_matvec_scratch(w, 3));
    int saved = omp_get_max_threads();
    for (int threads = 1; threads <= 4; threads++) {
        omp_set_num_threads(threads);
        for (int j = 0; j < 3; j++)
            memset(got[j], 0xff, (size_t)heights[j] * sizeof(float)); /* NaN: a row missed */
        wk_matvec(w, 3, x, got, scratch);
        for (int j = 0; j < 3; j++)
            for (int64_t r = 0; r < heights[j]; r++)
                if (memcmp(&got[j][r], &want[j][r], sizeof(float)) != 0) {
                    cr_expect_fail("%d threads, %s matrix row %lld: %.9g, its kernel %.9g", threads,
                            wk_type(types[j])->name, (long long)r, got[j][r], want[j][r]);
                    break;
                }
        /* one matrix through wk_matmul: the same product */
        memset(got[1], 0xff, (size_t)heights[1] * sizeof(float));
        wk_matmul(&m[1], x, 1, got[1], scratch);
        cr_expect(memcmp(got[1], want[1], (size_t)heights[1] * sizeof(float)) == 0,
                  "%d threads: wk_matmul of one row is wk_matvec", threads);
    }
    omp_set_num_threads(saved);
    for (int j = 0; j < 3; j++) {
        free((void *)m[j].data);
        free(want[j]);
        free(got[j]);
    }
    free(scratch);
    free(x);
}
