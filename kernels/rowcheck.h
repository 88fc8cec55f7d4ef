/* Row checks of the quantization stream (models/tensor_stream.c): where a row's first value
 * that is not finite is, and how far a reconstructed row is from the original. The scalar
 * references are here; AVX2 twins in kernels/avx2/rowcheck.c, reached through the CPU
 * traits. The error sums run in double on both paths but in a different order, so they
 * agree to rounding, not bit for bit; the finite check agrees exactly. */
#ifndef WK_KERNELS_ROWCHECK_H
#define WK_KERNELS_ROWCHECK_H

#include <stdint.h>

typedef struct wk_row_error {
    double sq_err;   /* sum (x - y)^2 */
    double sq;       /* sum x^2 */
    double max_err;  /* max |x - y| */
} wk_row_error;

/* The index of the first NaN or infinity in x[0..n), or -1. */
int64_t wk_first_nonfinite_ref(const float *x, int64_t n);
/* acc += the error of y against x over n values. */
void wk_row_error_ref(const float *x, const float *y, int64_t n, wk_row_error *acc);

#endif
