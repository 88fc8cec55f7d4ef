/* Tensor statistics: the tensor is cut into chunks of CHUNK_BLOCKS decode blocks; OpenMP
 * threads take chunks, decode each block into a per-thread float buffer (small enough for
 * L1) and feed it to the moments kernel (kernels/stats.h). Chunk results are merged
 * pairwise in a fixed binary tree (Chan/Pebay update, double), which keeps the rounding
 * error growth logarithmic and the result independent of the thread count. */
#include "verify/tensor_stats.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/traits.h"

#define BLOCK_FLOATS 1024 /* floats decoded at a time (4 KiB) */
#define CHUNK_BLOCKS 64   /* blocks per parallel work item */

bool wk_stats_supported(wk_dtype t)
{
    const wk_type_traits *tr = wk_type(t);
    return tr && tr->to_float != NULL;
}

/* Elements per decode block: a multiple of the type's block size. */
static uint64_t block_elems(const wk_type_traits *tr)
{
    uint64_t bs = tr->block_size;
    return bs >= BLOCK_FLOATS ? bs : BLOCK_FLOATS - BLOCK_FLOATS % bs;
}

static int check_input(const wk_tensor *t, uint64_t size, wk_err *e)
{
    const wk_type_traits *tr = wk_type(t->dtype);
    if (!tr || !tr->to_float)
        return wk_fail(e, "tensor '%s': stats not available for type %s", t->name,
                       tr ? tr->name : "?");
    if (size != t->n_bytes)
        return wk_fail(e, "tensor '%s': %llu bytes of data, expected %llu", t->name,
                       (unsigned long long)size, (unsigned long long)t->n_bytes);
    return 0;
}

static size_t round64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

/* Bytes one thread needs to decode a block into floats. */
static size_t scratch_bytes(uint64_t blk)
{
    return round64(blk * sizeof(float));
}

/* Values of elements [first, first + n) as floats: a pointer into the data for F32,
 * otherwise decoded into scratch. first is a multiple of the type's block size and n too (the
 * byte-size check guarantees whole blocks); views are aligned for their element type
 * (wk_source_read). */
static const float *decode(const wk_tensor *t, const wk_type_traits *tr, const uint8_t *data,
                           uint64_t first, uint64_t n, uint8_t *scratch)
{
    const uint8_t *src = data + first / tr->block_size * tr->type_size;
    if (t->dtype == WK_F32)
        return (const float *)(const void *)src;
    float *out = (float *)(void *)scratch;
    wk_cpu_type(t->dtype)->to_float(src, out, (int64_t)n);
    return out;
}

/* Per-thread scratch buffers (64-byte aligned); NULL when out of memory. */
static uint8_t *thread_scratch(size_t each, int *n_threads)
{
    *n_threads = omp_get_max_threads();
    return aligned_alloc(64, (size_t)*n_threads * each);
}

int wk_tensor_moments(const wk_tensor *t, const void *data, uint64_t size, wk_moments *out,
                      wk_err *e)
{
    wk_moments_init(out);
    if (check_input(t, size, e) != 0)
        return -1;
    const wk_type_traits *tr = wk_type(t->dtype);
    uint64_t n = t->n_elements, blk = block_elems(tr), chunk = blk * CHUNK_BLOCKS;
    uint64_t n_chunks = (n + chunk - 1) / chunk;
    if (n_chunks == 0)
        return 0;
    int n_threads;
    size_t each = scratch_bytes(blk);
    uint8_t *bufs = thread_scratch(each, &n_threads);
    wk_moments *parts = malloc(n_chunks * sizeof *parts);
    if (!bufs || !parts) {
        free(bufs);
        free(parts);
        return wk_fail(e, "tensor '%s': out of memory for statistics", t->name);
    }
    wk_stats_block_fn stats_block = wk_cpu_kernels_get()->stats_block;
#pragma omp parallel num_threads(n_threads)
    {
        uint8_t *buf = bufs + (size_t)omp_get_thread_num() * each;
#pragma omp for schedule(dynamic, 1)
        for (uint64_t c = 0; c < n_chunks; c++) {
            wk_moments_init(&parts[c]);
            uint64_t end = (c + 1) * chunk < n ? (c + 1) * chunk : n;
            for (uint64_t i = c * chunk; i < end; i += blk) {
                uint64_t len = end - i < blk ? end - i : blk;
                stats_block(&parts[c], decode(t, tr, data, i, len, buf), len);
            }
        }
    }
    for (uint64_t step = 1; step < n_chunks; step *= 2)
        for (uint64_t i = 0; i + step < n_chunks; i += 2 * step)
            wk_moments_merge(&parts[i], &parts[i + step]);
    *out = parts[0];
    free(parts);
    free(bufs);
    return 0;
}

void wk_stats_from_moments(const wk_moments *m, uint64_t n_elements, wk_tensor_stats *out)
{
    memset(out, 0, sizeof *out);
    out->n_elements = n_elements;
    out->n_finite = m->n;
    out->n_nan = m->nan;
    out->n_inf = m->inf;
    out->zero_frac = n_elements ? (double)m->zeros / (double)n_elements : NAN;
    if (m->n == 0) {
        out->min = out->max = out->mean = out->std = NAN;
        out->max_abs_over_std = out->kurtosis = NAN;
        return;
    }
    double n = (double)m->n;
    out->min = m->min;
    out->max = m->max;
    out->mean = m->mean;
    out->std = sqrt(m->m2 / n);
    out->l1 = m->abs_sum;
    out->l2 = sqrt(m->m2 + n * m->mean * m->mean);
    double amax = fmax(fabs(m->min), fabs(m->max));
    out->max_abs_over_std = out->std > 0 ? amax / out->std : NAN;
    out->kurtosis = m->m2 > 0 ? n * m->m4 / (m->m2 * m->m2) - 3.0 : NAN;
}

int wk_tensor_stats_compute(const wk_tensor *t, const void *data, uint64_t size,
                            wk_tensor_stats *out, wk_err *e)
{
    wk_moments m;
    if (wk_tensor_moments(t, data, size, &m, e) != 0)
        return -1;
    wk_stats_from_moments(&m, t->n_elements, out);
    return 0;
}

static void count_bins(const float *x, uint64_t n, double lo, double hi, uint32_t n_bins,
                       uint64_t *counts)
{
    double range = hi - lo;
    for (uint64_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        double b = range > 0 ? floor(((double)x[i] - lo) * n_bins / range) : n_bins;
        uint32_t k = b <= 0 ? 0 : b >= n_bins - 1 ? n_bins - 1 : (uint32_t)b;
        counts[k]++;
    }
}

int wk_tensor_histogram(const wk_tensor *t, const void *data, uint64_t size, double lo,
                        double hi, uint32_t n_bins, uint64_t *counts, wk_err *e)
{
    if (n_bins == 0)
        return wk_fail(e, "tensor '%s': a histogram needs at least one bin", t->name);
    memset(counts, 0, n_bins * sizeof *counts);
    if (check_input(t, size, e) != 0)
        return -1;
    const wk_type_traits *tr = wk_type(t->dtype);
    uint64_t n = t->n_elements, blk = block_elems(tr), chunk = blk * CHUNK_BLOCKS;
    uint64_t n_chunks = (n + chunk - 1) / chunk;
    int n_threads;
    size_t each = scratch_bytes(blk);
    uint8_t *bufs = thread_scratch(each, &n_threads);
    uint64_t *per_thread = calloc((size_t)n_threads * n_bins, sizeof *per_thread);
    if (!bufs || !per_thread) {
        free(bufs);
        free(per_thread);
        return wk_fail(e, "tensor '%s': out of memory for the histogram", t->name);
    }
#pragma omp parallel num_threads(n_threads)
    {
        int me = omp_get_thread_num();
        uint8_t *buf = bufs + (size_t)me * each;
        uint64_t *mine = per_thread + (size_t)me * n_bins;
#pragma omp for schedule(dynamic, 1)
        for (uint64_t c = 0; c < n_chunks; c++) {
            uint64_t end = (c + 1) * chunk < n ? (c + 1) * chunk : n;
            for (uint64_t i = c * chunk; i < end; i += blk) {
                uint64_t len = end - i < blk ? end - i : blk;
                count_bins(decode(t, tr, data, i, len, buf), len, lo, hi, n_bins, mine);
            }
        }
    }
    for (int th = 0; th < n_threads; th++)
        for (uint32_t k = 0; k < n_bins; k++)
            counts[k] += per_thread[(size_t)th * n_bins + k];
    free(per_thread);
    free(bufs);
    return 0;
}
