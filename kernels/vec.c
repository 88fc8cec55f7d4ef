/* The float-vector references (see vec.h). */
#include "kernels/vec.h"

void wk_rows_dot_ref(const float *q, const float *k, int64_t stride, int64_t rows, int64_t n,
                     float scale, float *out)
{
    for (int64_t j = 0; j < rows; j++) {
        const float *kj = k + j * stride;
        float dot = 0;
        for (int64_t i = 0; i < n; i++)
            dot += q[i] * kj[i];
        out[j] = dot * scale;
    }
}

void wk_rows_wsum_ref(const float *p, const float *v, int64_t stride, int64_t rows, int64_t n,
                      float *out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = 0;
    for (int64_t j = 0; j < rows; j++)
        for (int64_t i = 0; i < n; i++)
            out[i] += p[j] * v[j * stride + i];
}
