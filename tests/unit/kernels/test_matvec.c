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

/* k matrices of the given types and heights, 512 wide, through one wk_matvec at 1-4 threads,
 * against each row's kernel; the first also through wk_matmul */
static void check_group(int k, const wk_dtype *types, const int64_t *heights)
{
    const int64_t cols = 512;
    wk_matrix m[WK_MATVEC_MAX];
    const wk_matrix *w[WK_MATVEC_MAX];
    float *want[WK_MATVEC_MAX], *got[WK_MATVEC_MAX];
    float *x = malloc(cols * sizeof *x);
    for (int64_t i = 0; i < cols; i++)
        x[i] = mv_gauss();
    for (int j = 0; j < k; j++) {
        m[j] = (wk_matrix){random_matrix(types[j], heights[j], cols), types[j], heights[j], cols};
        w[j] = &m[j];
        want[j] = malloc((size_t)heights[j] * sizeof(float));
        got[j] = malloc((size_t)heights[j] * sizeof(float));
        for (int64_t r = 0; r < heights[j]; r++)
            want[j][r] = one_row(&m[j], r, x);
    }
    void *scratch = malloc(wk_matvec_scratch(w, k));
    int saved = omp_get_max_threads();
    for (int threads = 1; threads <= 4; threads++) {
        omp_set_num_threads(threads);
        for (int j = 0; j < k; j++)
            memset(got[j], 0xff, (size_t)heights[j] * sizeof(float)); /* NaN: a row missed */
        wk_matvec(w, k, x, got, scratch);
        for (int j = 0; j < k; j++)
            for (int64_t r = 0; r < heights[j]; r++)
                if (memcmp(&got[j][r], &want[j][r], sizeof(float)) != 0) {
                    cr_expect_fail("%d threads, matrix %d (%s) row %lld: %.9g, its kernel %.9g",
                                   threads, j, wk_type(types[j])->name, (long long)r, got[j][r],
                                   want[j][r]);
                    break;
                }
        memset(got[0], 0xff, (size_t)heights[0] * sizeof(float));
        wk_matmul(&m[0], x, 1, got[0], scratch);
        cr_expect(memcmp(got[0], want[0], (size_t)heights[0] * sizeof(float)) == 0,
                  "%d threads: wk_matmul of one row is wk_matvec", threads);
    }
    omp_set_num_threads(saved);
    for (int j = 0; j < k; j++) {
        free((void *)m[j].data);
        free(want[j]);
        free(got[j]);
    }
    free(scratch);
    free(x);
}

/* On AVX-512 CPUs Q4_0, Q8_0, Q4_K, Q6_K and the float types have matrix-vector products
 * (Q4_K and Q6_K share their prepared activations, as do F16, BF16 and F32, and two Q8_0
 * matrices; Q4_0's preparation is not Q8_0's). The heights cut chunks unevenly, and each group is large
 * enough to run in parallel. */
Test(matvec, matrices_sharing_a_row_equal_their_rows_kernels_at_any_thread_count)
{
    const wk_dtype mixed[4] = {WK_Q6_K, WK_Q4_0, WK_Q4_K, WK_F16};
    const int64_t mixed_h[4] = {1537, 301, 517, 129};
    check_group(4, mixed, mixed_h);
    const wk_dtype shared[3] = {WK_Q8_0, WK_F16, WK_Q8_0};
    const int64_t shared_h[3] = {1031, 700, 333};
    check_group(3, shared, shared_h);
    const wk_dtype floats[3] = {WK_F16, WK_BF16, WK_F32};
    const int64_t floats_h[3] = {1201, 515, 397};
    check_group(3, floats, floats_h);
}

/* wk_matvec_stretch: the threads' runs, stretch by stretch, cover every byte of every matrix
 * once, in order: thread t's run starts where thread t - 1's ends (into the next matrix where
 * one ends), at chunk total * t / nt as run_chunks hands them out (the chunks read off a call
 * with more threads than chunks: a chunk each), and no stretch crosses a matrix's end. The
 * chunks are ~256 KiB of rows, so the heights put run edges inside matrices and on their
 * ends. */
Test(matvec, thread_runs_cover_the_rows_in_order_once)
{
    static uint8_t bytes[3][1 << 21]; /* never read: addresses only */
    const int64_t cols = 256, heights[][3] = {{1100, 300, 977}, {59, 61, 1}, {4000, 60, 520}};
    size_t row = wk_row_bytes(WK_Q8_0, cols);
    for (size_t s = 0; s < sizeof heights / sizeof heights[0]; s++) {
        wk_matrix m[3];
        const wk_matrix *w[3] = {&m[0], &m[1], &m[2]};
        for (int j = 0; j < 3; j++) {
            cr_assert_leq((size_t)heights[s][j] * row, sizeof bytes[j]);
            m[j] = (wk_matrix){bytes[j], WK_Q8_0, heights[s][j], cols};
        }
        enum { MANY = 4096 };
        const uint8_t *chunk[64]; /* where each chunk starts */
        int total = 0;
        for (int t = 0; t < MANY; t++) {
            const uint8_t *p;
            if (wk_matvec_stretch(w, 3, t, MANY, 0, &p) > 0) {
                cr_assert_lt(total, 64);
                chunk[total++] = p;
            }
        }
        cr_assert_geq(total, 3, "shape %zu: %d chunks", s, total);
        for (int nt = 1; nt <= 5; nt++) {
            int j = 0;
            size_t at = 0; /* the next byte of matrix j every run together should reach */
            for (int t = 0; t < nt; t++) {
                const uint8_t *p;
                int c0 = total * t / nt, c1 = total * (t + 1) / nt;
                size_t n0 = wk_matvec_stretch(w, 3, t, nt, 0, &p);
                cr_assert(c0 < c1 ? n0 > 0 && p == chunk[c0] : n0 == 0,
                          "shape %zu, %d threads: thread %d's run does not start at chunk %d of "
                          "%d", s, nt, t, c0, total);
                for (size_t skip = 0, n; (n = wk_matvec_stretch(w, 3, t, nt, skip, &p)) > 0;
                     skip += n) {
                    if (j < 3 && at == (size_t)heights[s][j] * row) {
                        j++;
                        at = 0;
                    }
                    cr_assert_lt(j, 3, "shape %zu, %d threads: thread %d reads past the end", s,
                                 nt, t);
                    cr_assert_eq(p, bytes[j] + at,
                                 "shape %zu, %d threads: thread %d's stretch at %zu is at byte "
                                 "%td of matrix %d, not %zu", s, nt, t, skip,
                                 p - bytes[j], j, at);
                    cr_assert_leq(at + n, (size_t)heights[s][j] * row,
                                  "a stretch crosses matrix %d's end", j);
                    at += n;
                }
            }
            cr_expect(j == 2 && at == (size_t)heights[s][2] * row,
                      "shape %zu, %d threads: the runs end at matrix %d byte %zu", s, nt, j, at);
        }
    }
}
