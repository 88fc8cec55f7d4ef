/* Pruning selection (see prune.h).
 *
 * Row scope and N:M turn each weight into one 64-bit key, score bits above the index, so
 * keys are distinct and "smaller score, then lower index" is plain integer order; a
 * quickselect (Hoare partition, median of three) then moves the k smallest keys to the
 * front in linear expected time. Should a pathological row defeat the pivots, the rest of
 * the range is sorted (introselect's guard), so the worst case stays O(n log n).
 * The threshold select histograms the 31 bits of |w| in two rounds: the top 16 bits first,
 * then the low 15 bits of the weights in the bucket that holds the k-th smallest. */
#include "quant/prune.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "quant/half.h"

#define HIST_SIZE 65536u
#define LOW_BITS 15

int64_t wk_prune_count(double s, int64_t n)
{
    if (!(s > 0) || n <= 0)
        return 0;
    double x = s * (double)n;
    int64_t k = (int64_t)floor(x + 1e-12 * x);
    return k > n ? n : k;
}

/* The bit pattern of |w| (times the scale): ordered like the non-negative floats. */
static inline uint32_t score_bits(const float *w, const float *scale, int64_t j)
{
    float s = fabsf(w[j]);
    if (scale)
        s *= fabsf(scale[j]);
    return wk_f32_bits(s) & 0x7fffffffu;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static inline uint64_t median3(uint64_t a, uint64_t b, uint64_t c)
{
    if (a > b) {
        uint64_t t = a;
        a = b;
        b = t;
    }
    return c < a ? a : c > b ? b : c;
}

/* Moves the k smallest of the distinct keys a[0..n) to a[0..k), in any order. */
static void select_smallest(uint64_t *a, int64_t n, int64_t k)
{
    if (k <= 0 || k >= n)
        return;
    int64_t target = k - 1, lo = 0, hi = n - 1;
    int budget = 16;
    for (int64_t m = n; m > 1; m >>= 1)
        budget += 2;
    while (hi > lo) {
        if (budget-- == 0) {
            qsort(a + lo, (size_t)(hi - lo + 1), sizeof *a, cmp_u64);
            return;
        }
        uint64_t p = median3(a[lo], a[lo + (hi - lo) / 2], a[hi]);
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < p)
                i++;
            while (a[j] > p)
                j--;
            if (i <= j) {
                uint64_t t = a[i];
                a[i++] = a[j];
                a[j--] = t;
            }
        }
        /* a[lo..j] <= p <= a[i..hi]; anything between is p itself, in its place */
        if (target <= j)
            hi = j;
        else if (target >= i)
            lo = i;
        else
            return;
    }
}

void wk_prune_row(float *w, const float *scale, int64_t n, int64_t k, uint64_t *scratch)
{
    if (k <= 0)
        return;
    for (int64_t j = 0; j < n; j++)
        scratch[j] = (uint64_t)score_bits(w, scale, j) << 32 | (uint64_t)j;
    select_smallest(scratch, n, k);
    for (int64_t m = 0; m < k && m < n; m++)
        w[scratch[m] & 0xffffffffu] = 0.0f;
}

void wk_prune_row_nm(float *w, const float *scale, int64_t n, uint32_t keep, uint32_t m,
                     uint64_t *scratch)
{
    for (int64_t g = 0; g + m <= n; g += m) {
        for (uint32_t j = 0; j < m; j++)
            scratch[j] = (uint64_t)score_bits(w, scale, g + j) << 32 | j;
        select_smallest(scratch, m, m - keep);
        for (uint32_t j = 0; j < m - keep; j++)
            w[g + (int64_t)(scratch[j] & 0xffffffffu)] = 0.0f;
    }
}

/* Rows in parallel, each thread with its own `width` keys of scratch. */
static int rows_parallel(float *w, int64_t rows, int64_t cols, const float *scale, int64_t k,
                         uint32_t keep, uint32_t m, wk_err *e)
{
    int64_t width = m ? m : cols;
    uint64_t *scratch = malloc((size_t)omp_get_max_threads() * (size_t)(width ? width : 1) *
                               sizeof *scratch);
    if (!scratch)
        return wk_fail(e, "out of memory for the selection of %lld-value rows", (long long)cols);
#pragma omp parallel for schedule(dynamic, 8) if (rows * cols >= (1 << 15))
    for (int64_t r = 0; r < rows; r++) {
        uint64_t *mine = scratch + (size_t)omp_get_thread_num() * (size_t)width;
        if (m)
            wk_prune_row_nm(w + r * cols, scale, cols, keep, m, mine);
        else
            wk_prune_row(w + r * cols, scale, cols, k, mine);
    }
    free(scratch);
    return 0;
}

int wk_prune_rows(float *w, int64_t rows, int64_t cols, const float *scale, double s, wk_err *e)
{
    int64_t k = wk_prune_count(s, cols);
    return k ? rows_parallel(w, rows, cols, scale, k, 0, 0, e) : 0;
}

int wk_prune_rows_nm(float *w, int64_t rows, int64_t cols, const float *scale, uint32_t keep,
                     uint32_t m, wk_err *e)
{
    if (keep < 1 || keep >= m)
        return wk_fail(e, "N:M wants 1 <= N < M, not %u:%u", keep, m);
    if (cols % m != 0)
        return wk_fail(e, "rows of %lld values are not a multiple of M = %u", (long long)cols, m);
    return rows_parallel(w, rows, cols, scale, 0, keep, m, e);
}

/* ---- the threshold for tensor and global scope ---- */

int wk_prune_select_init(wk_prune_select *s, uint64_t k, wk_err *e)
{
    memset(s, 0, sizeof *s);
    s->k = k;
    s->n_threads = omp_get_max_threads();
    s->hist = calloc(HIST_SIZE, sizeof *s->hist);
    s->local = malloc((size_t)s->n_threads * HIST_SIZE * sizeof *s->local);
    if (!s->hist || !s->local) {
        wk_prune_select_free(s);
        return wk_fail(e, "out of memory for the threshold's histograms");
    }
    if (k == 0)
        s->pass = 2; /* nothing to zero: threshold 0, no ties */
    return 0;
}

/* The bucket of x in the current pass, or -1 when pass 1 does not look at it. */
static inline int64_t bucket(const wk_prune_select *s, const float *w, int64_t i)
{
    uint32_t b = score_bits(w, NULL, i);
    if (s->pass == 0)
        return b >> LOW_BITS;
    return b >> LOW_BITS == s->high ? (int64_t)(b & ((1u << LOW_BITS) - 1)) : -1;
}

void wk_prune_select_add(wk_prune_select *s, const float *w, int64_t n)
{
    if (s->pass >= 2)
        return;
    if (n < (1 << 18) || s->n_threads < 2) {
        for (int64_t i = 0; i < n; i++) {
            int64_t b = bucket(s, w, i);
            if (b >= 0)
                s->hist[b]++;
        }
        return;
    }
#pragma omp parallel num_threads(s->n_threads)
    {
        uint64_t *h = s->local + (size_t)omp_get_thread_num() * HIST_SIZE;
        memset(h, 0, HIST_SIZE * sizeof *h);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < n; i++) {
            int64_t b = bucket(s, w, i);
            if (b >= 0)
                h[b]++;
        }
#pragma omp critical
        for (uint32_t b = 0; b < HIST_SIZE; b++)
            s->hist[b] += h[b];
    }
}

void wk_prune_select_next(wk_prune_select *s)
{
    if (s->pass >= 2)
        return;
    uint64_t cum = s->below;
    uint32_t size = s->pass == 0 ? HIST_SIZE : 1u << LOW_BITS, b = 0;
    while (b < size && cum + s->hist[b] < s->k)
        cum += s->hist[b++];
    if (b == size) { /* fewer weights than k were added: every one goes */
        s->threshold = 0xffffffffu;
        s->pass = 2;
        return;
    }
    s->below = cum;
    if (s->pass == 0) {
        s->high = b;
        memset(s->hist, 0, HIST_SIZE * sizeof *s->hist);
        s->pass = 1;
        return;
    }
    s->threshold = s->high << LOW_BITS | b;
    s->ties = s->k - cum;
    s->pass = 2;
}

int wk_prune_select_apply(wk_prune_select *s, float *w, int64_t rows, int64_t cols, wk_err *e)
{
    if (s->k == 0)
        return 0;
    uint64_t *equal = malloc((size_t)(rows ? rows : 1) * sizeof *equal);
    if (!equal)
        return wk_fail(e, "out of memory for %lld rows", (long long)rows);
    uint32_t t = s->threshold;
#pragma omp parallel for schedule(static) if (rows * cols >= (1 << 15))
    for (int64_t r = 0; r < rows; r++) {
        float *row = w + r * cols;
        uint64_t eq = 0;
        for (int64_t j = 0; j < cols; j++) {
            uint32_t b = score_bits(row, NULL, j);
            if (b < t)
                row[j] = 0.0f;
            eq += b == t;
        }
        equal[r] = eq;
    }
    /* the ties, first come first pruned: each row's share, in row order */
    for (int64_t r = 0; r < rows; r++) {
        uint64_t take = equal[r] < s->ties ? equal[r] : s->ties;
        s->ties -= take;
        equal[r] = take;
    }
#pragma omp parallel for schedule(static) if (rows * cols >= (1 << 15))
    for (int64_t r = 0; r < rows; r++) {
        float *row = w + r * cols;
        for (int64_t j = 0; j < cols && equal[r]; j++)
            if (score_bits(row, NULL, j) == t) {
                row[j] = 0.0f;
                equal[r]--;
            }
    }
    free(equal);
    return 0;
}

void wk_prune_select_free(wk_prune_select *s)
{
    free(s->hist);
    free(s->local);
    s->hist = s->local = NULL;
}
