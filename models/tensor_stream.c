/* Streaming one tensor through conversion or quantization (see tensor_stream.h). */
#include "models/tensor_stream.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/traits.h"
#include "models/qk_permute.h"

/* Rows per chunk: about WK_STREAM_CHUNK output bytes, whole heads when un-permuting so a
 * chunk reads exactly its own source rows. */
static uint64_t chunk_rows(const wk_stream_job *j, size_t out_row)
{
    uint64_t step = out_row >= WK_STREAM_CHUNK ? 1 : WK_STREAM_CHUNK / out_row;
    if (j->unpermute_heads) {
        uint64_t head = j->rows / j->unpermute_heads;
        step = step < head ? head : step - step % head;
    }
    return step > j->rows ? j->rows : step;
}

/* Per-row results of a chunk, summed in row order afterwards. */
typedef struct row_result {
    double sq_err, sq, max_err;
    int64_t bad;                 /* index of the first non-finite value, or -1 */
} row_result;

/* Converts one row through float: decode into x, check, encode into out, measure. */
static void encode_row(const wk_stream_job *j, const void *in, void *out, float *x, float *back,
                       row_result *res)
{
    const wk_cpu_type_traits *st = wk_cpu_type(j->src_type), *dt = wk_cpu_type(j->dst_type);
    const wk_cpu_kernels *k = wk_cpu_kernels_get();
    int64_t n = (int64_t)j->cols;
    res->bad = -1;
    st->to_float(in, x, n);
    if (dt->quantize) { /* a NaN or infinity would poison a block's scale: refuse it */
        if ((res->bad = k->first_nonfinite(x, n)) >= 0)
            return;
        dt->quantize(x, out, n, j->importance);
    } else {
        dt->from_float(x, out, n);
    }
    if (!j->stats)
        return;
    dt->to_float(out, back, n);
    wk_row_error err = {0};
    k->row_error(x, back, n, &err);
    res->sq_err = err.sq_err;
    res->sq = err.sq;
    res->max_err = err.max_err;
}

/* Rows [r0, r1) into dst, with scratch for two rows per thread and a result per row. */
static int encode_rows(const wk_stream_job *j, uint64_t r0, uint64_t r1, uint8_t *dst,
                       float *scratch, row_result *res, wk_err *e)
{
    const wk_type_traits *st = wk_type(j->src_type), *dt = wk_type(j->dst_type);
    size_t in_row = j->cols / st->block_size * st->type_size;
    size_t out_row = j->cols / dt->block_size * dt->type_size;
    bool copy = j->src_type == j->dst_type && !j->stats;
    int64_t n = (int64_t)(r1 - r0);
#pragma omp parallel for schedule(dynamic, 1) if ((uint64_t)n * j->cols >= (1u << 16))
    for (int64_t k = 0; k < n; k++) {
        uint64_t r = r0 + (uint64_t)k;
        uint64_t from = j->unpermute_heads ? wk_qk_unpermute_src(r, j->rows, j->unpermute_heads)
                                           : r;
        const uint8_t *in = (const uint8_t *)j->src->data + from * in_row;
        memset(&res[k], 0, sizeof res[k]);
        res[k].bad = -1;
        if (copy) {
            memcpy(dst + (uint64_t)k * out_row, in, out_row);
            continue;
        }
        float *x = scratch + (size_t)omp_get_thread_num() * 2 * j->cols;
        encode_row(j, in, dst + (uint64_t)k * out_row, x, x + j->cols, &res[k]);
    }
    for (int64_t k = 0; k < n; k++) {
        if (res[k].bad >= 0)
            return wk_fail(e, "tensor '%s': row %llu, column %lld is not a finite number; "
                              "NaN and infinity cannot be quantized",
                           j->name, (unsigned long long)(r0 + (uint64_t)k), (long long)res[k].bad);
        if (j->stats) {
            j->stats->sum_sq_err += res[k].sq_err;
            j->stats->sum_sq += res[k].sq;
            if (res[k].max_err > j->stats->max_abs_err)
                j->stats->max_abs_err = res[k].max_err;
            j->stats->n += j->cols;
        }
    }
    return 0;
}

static int check_job(const wk_stream_job *j, wk_err *e)
{
    if (j->unpermute_heads && wk_qk_check(j->name, j->rows, j->unpermute_heads, e))
        return -1;
    const wk_type_traits *st = wk_type(j->src_type), *dt = wk_type(j->dst_type);
    if (j->cols % dt->block_size != 0 || j->cols % st->block_size != 0)
        return wk_fail(e, "tensor '%s': rows of %llu values are not whole %s blocks", j->name,
                       (unsigned long long)j->cols,
                       j->cols % dt->block_size ? dt->name : st->name);
    if (!wk_cpu_type(j->src_type)->to_float || !wk_cpu_type(j->dst_type)->from_float)
        return wk_fail(e, "tensor '%s': cannot convert %s to %s", j->name, st->name, dt->name);
    return 0;
}

int wk_stream_rows(const wk_stream_job *j, uint64_t r0, uint64_t r1, void *dst, wk_err *e)
{
    if (check_job(j, e))
        return -1;
    float *scratch = malloc((size_t)omp_get_max_threads() * 2 * j->cols * sizeof(float));
    row_result *res = malloc((r1 - r0 + 1) * sizeof *res);
    int rc = scratch && res ? encode_rows(j, r0, r1, dst, scratch, res, e)
                            : wk_fail(e, "tensor '%s': out of memory", j->name);
    free(res);
    free(scratch);
    return rc;
}

int wk_stream_tensor(wk_gguf_writer *w, const wk_stream_job *j, wk_progress *pg, uint64_t item,
                     wk_err *e)
{
    if (check_job(j, e))
        return -1;
    const wk_type_traits *st = wk_type(j->src_type), *dt = wk_type(j->dst_type);
    size_t in_row = j->cols / st->block_size * st->type_size;
    size_t out_row = j->cols / dt->block_size * dt->type_size;
    uint64_t step = chunk_rows(j, out_row);
    uint8_t *buf = malloc(step * out_row);
    row_result *res = malloc(step * sizeof *res);
    float *scratch = malloc((size_t)omp_get_max_threads() * 2 * j->cols * sizeof(float));
    int rc = 0;
    if (!buf || !res || !scratch)
        rc = wk_fail(e, "tensor '%s': out of memory for a %llu-byte chunk", j->name,
                     (unsigned long long)(step * out_row));
    for (uint64_t r0 = 0; r0 < j->rows && rc == 0; r0 += step) {
        uint64_t r1 = j->rows - r0 < step ? j->rows : r0 + step;
        rc = encode_rows(j, r0, r1, buf, scratch, res, e);
        if (rc == 0)
            rc = wk_gguf_write_tensor_part(w, buf, (r1 - r0) * out_row, e);
        wk_view_drop_range(j->src, r0 * in_row, (r1 - r0) * in_row);
        if (pg)
            wk_progress_step(pg, item, j->name, (r1 - r0) * out_row);
    }
    free(scratch);
    free(res);
    free(buf);
    return rc;
}

double wk_stream_rmse(const wk_stream_stats *s)
{
    return s->n ? sqrt(s->sum_sq_err / (double)s->n) : 0.0;
}

double wk_stream_snr_db(const wk_stream_stats *s)
{
    return s->sum_sq_err > 0 ? 10.0 * log10(s->sum_sq / s->sum_sq_err) : INFINITY;
}
