/* One tensor from a source view into a GGUF writer, converted or quantized on the way.
 *
 * The rows are processed in chunks of about WK_STREAM_CHUNK output bytes: each row is read
 * from the view (from the row wk_qk_unpermute_src names when the tensor's q/k rows must be
 * un-permuted), decoded to float through the CPU traits, encoded to the output type
 * (quantized with the importance weights when given, after checking that every value is
 * finite; a plain conversion carries NaN and infinity through), and the chunk is appended
 * to the writer; pages of a mapped input are dropped once used. Rows run in parallel
 * (OpenMP); results do not depend on the thread count. Memory: one chunk plus a few rows per
 * thread, whatever the tensor size. With stats, each encoded row is decoded again and its
 * error against the input measured (used by wk-quantize's report). */
#ifndef WK_MODELS_TENSOR_STREAM_H
#define WK_MODELS_TENSOR_STREAM_H

#include <stdint.h>

#include "common/err.h"
#include "common/progress.h"
#include "formats/gguf/gguf.h"
#include "formats/source.h"

#define WK_STREAM_CHUNK (4u << 20)

/* Error of a quantized tensor against its input (sums in double, in row order). */
typedef struct wk_stream_stats {
    double sum_sq_err;   /* sum (x - xhat)^2 */
    double sum_sq;       /* sum x^2 */
    double max_abs_err;
    uint64_t n;
} wk_stream_stats;

typedef struct wk_stream_job {
    const char *name;          /* for messages and progress */
    const wk_view *src;
    wk_dtype src_type;
    uint64_t rows, cols;       /* the tensor as rows x cols (1-D: one row) */
    uint32_t unpermute_heads;  /* > 0: rows come through models/qk_permute.h */
    wk_dtype dst_type;
    const float *importance;   /* cols weights for a quantized dst_type, or NULL */
    wk_stream_stats *stats;    /* filled when not NULL */
} wk_stream_job;

int wk_stream_tensor(wk_gguf_writer *w, const wk_stream_job *j, wk_progress *pg, uint64_t item,
                     wk_err *e);
/* Rows [r0, r1) of the job into dst (packed output rows), as the stream writes them. */
int wk_stream_rows(const wk_stream_job *j, uint64_t r0, uint64_t r1, void *dst, wk_err *e);

/* The measures of a report: root-mean-square error, largest absolute error, and the
 * signal-to-noise ratio in dB (infinite for an exact copy). */
double wk_stream_rmse(const wk_stream_stats *s);
double wk_stream_snr_db(const wk_stream_stats *s);

#endif
