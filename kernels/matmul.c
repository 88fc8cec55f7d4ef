/* The forward pass's compute blocks (see matmul.h). */
#include "kernels/matmul.h"

#include <math.h>
#include <stdbool.h>

#include "kernels/gemm.h"
#include "kernels/traits.h"

#define ROW_BLOCK 16 /* weight rows a thread takes at a time: a few KiB to 100s of KiB */
/* Products smaller than this many multiply-adds run on one thread: waking the others costs
 * more than it saves (a 64-wide model would spend its time in barriers). */
#define PARALLEL_MIN (1 << 20)

size_t wk_row_bytes(wk_dtype t, int64_t cols)
{
    const wk_type_traits *tt = wk_type(t);
    return (size_t)(cols / tt->block_size) * tt->type_size;
}

size_t wk_matmul_scratch(const wk_matrix *w, int64_t n)
{
    size_t dots = wk_row_bytes(wk_cpu_type(w->type)->vec_dot_type, w->cols) * (size_t)n;
    size_t tiles = wk_gemm_scratch(w->type, w->cols, n), one = wk_matvec_scratch(&w, 1);
    size_t most = dots > tiles ? dots : tiles;
    return most > one ? most : one;
}

void wk_matmul(const wk_matrix *w, const float *x, int64_t n, float *y, void *scratch)
{
    if (n == 1) {
        wk_matvec(&w, 1, x, &y, scratch);
        return;
    }
    /* a batch: by tiles where this CPU has the micro-kernels (kernels/gemm.h) */
    if (wk_gemm(w, x, n, y, scratch))
        return;
    const wk_cpu_type_traits *tt = wk_cpu_type(w->type);
    wk_dtype at = tt->vec_dot_type;
    size_t in_row = wk_row_bytes(w->type, w->cols), act_row = wk_row_bytes(at, w->cols);
    const void *act = x;
    if (at != WK_F32) {
        const wk_cpu_type_traits *a = wk_cpu_type(at);
#pragma omp parallel for schedule(static) if (w->cols * n >= PARALLEL_MIN)
        for (int64_t i = 0; i < n; i++)
            a->from_float(x + i * w->cols, (uint8_t *)scratch + (size_t)i * act_row, w->cols);
        act = scratch;
    }
    bool parallel = w->rows * w->cols * n >= PARALLEL_MIN;
    int64_t blocks = (w->rows + ROW_BLOCK - 1) / ROW_BLOCK;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t b = 0; b < blocks; b++) {
        int64_t r1 = (b + 1) * ROW_BLOCK < w->rows ? (b + 1) * ROW_BLOCK : w->rows;
        for (int64_t i = 0; i < n; i++) {
            const uint8_t *xi = (const uint8_t *)act + (size_t)i * act_row;
            for (int64_t r = b * ROW_BLOCK; r < r1; r++)
                tt->vec_dot(w->cols, &y[i * w->rows + r],
                            (const uint8_t *)w->data + (size_t)r * in_row, xi);
        }
    }
}

/* The sum of squares in double, in 8 running sums (value i into sum i % 8) added at the end:
 * one running sum is a chain of dependent additions (a 2048-wide row: 2.2 us on a Zen 5 core,
 * 1.5 us in 8 sums), serial work between a token's parallel steps and a prompt's rows. */
void wk_rmsnorm(float *out, const float *x, const float *weight, int64_t n, float eps)
{
    double part[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            part[j] += (double)x[i + j] * x[i + j];
    for (; i < n; i++)
        part[i % 8] += (double)x[i] * x[i];
    double ss = ((part[0] + part[1]) + (part[2] + part[3])) +
                ((part[4] + part[5]) + (part[6] + part[7]));
    float scale = (float)(1.0 / sqrt(ss / (double)n + eps));
    for (i = 0; i < n; i++)
        out[i] = x[i] * scale * weight[i];
}

void wk_softmax(float *x, int64_t n)
{
    wk_cpu_kernels_get()->softmax(x, n);
}

void wk_swiglu(float *gate, const float *up, int64_t n)
{
    wk_cpu_kernels_get()->swiglu(gate, up, n);
}
