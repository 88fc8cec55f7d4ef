/* The float-vector references (see vec.h). */
#include "kernels/vec.h"

#include <math.h>

void wk_cols_dot_ref(const float *q, int64_t ldq, int G, const float *kt, int64_t ldk,
                     int64_t rows, int64_t n, float scale, float *out, int64_t ldo)
{
    for (int g = 0; g < G; g++)
        for (int64_t j = 0; j < rows; j++) {
            float dot = 0;
            for (int64_t i = 0; i < n; i++)
                dot += q[g * ldq + i] * kt[i * ldk + j];
            out[g * ldo + j] = dot * scale;
        }
}

void wk_rows_wsum_ref(const float *p, int64_t ldp, int G, const float *v, int64_t stride,
                      int64_t rows, int64_t n, float *out, int64_t ldo)
{
    for (int g = 0; g < G; g++) {
        float *o = out + g * ldo;
        for (int64_t i = 0; i < n; i++)
            o[i] = 0;
        for (int64_t j = 0; j < rows; j++)
            for (int64_t i = 0; i < n; i++)
                o[i] += p[g * ldp + j] * v[j * stride + i];
    }
}

void wk_softmax_ref(float *x, int64_t n)
{
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        max = x[i] > max ? x[i] : max;
    double sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

void wk_swiglu_ref(float *gate, const float *up, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        gate[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}
