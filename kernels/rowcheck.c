/* Scalar references of the row checks (see rowcheck.h). */
#include "kernels/rowcheck.h"

#include <math.h>

int64_t wk_first_nonfinite_ref(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return i;
    return -1;
}

void wk_row_error_ref(const float *x, const float *y, int64_t n, wk_row_error *acc)
{
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - (double)y[i];
        acc->sq_err += d * d;
        acc->sq += (double)x[i] * (double)x[i];
        acc->max_err = fabs(d) > acc->max_err ? fabs(d) : acc->max_err;
    }
}
