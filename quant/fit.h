/* The searches that choose a group's scale (and minimum): the costly part of quantizing.
 *
 * A group is n consecutive values x with weights w (how much each value's error counts);
 * every search minimises the weighted squared error sum_i w_i (x_i - xhat_i)^2 over:
 *   asym  xhat = d * l + m, l in [0, nmax], d >= 0, m <= 0       (Q2_K, Q4_K, Q5_K, Q4_1, Q5_1)
 *   sym   xhat = d * l, l in [-nmax, nmax - 1]                   (Q3_K, Q6_K, Q4_0, Q5_0)
 *   nl    xhat = d * V[l], l in [0, 16), V the IQ4 table          (IQ4_NL, IQ4_XS)
 * Method (ours; ggml's reference tries 16-37 scales per group, each with a full pass): a few
 * candidate scales spread around the range-based one, each rounded and then refitted by
 * closed-form weighted least squares; then alternating refinement from the best (round to the
 * refitted scale, refit again) while the error drops. Errors are compared through the
 * least-squares identity err = sum w x^2 - (d sum w x l + m sum w x), so one pass per
 * candidate suffices.
 *
 * Each search works on 8 groups at once (group g at x + g * n). The scalar reference runs the
 * groups one after another; the AVX2 twin runs them in the 8 lanes of a vector with the same
 * operations in the same order (no fused multiply-adds, sums in element order, conditionals
 * as blends), so the two agree bit for bit. */
#ifndef WK_QUANT_FIT_H
#define WK_QUANT_FIT_H

#include <stdint.h>

#define WK_FIT_GROUPS 8

/* Where a search starts: the candidate scales it tries before refining. For asym the
 * candidates are (nmax + offset) / range, for sym -(nmax + offset) / max (max: the value of
 * largest magnitude), for nl target / max (the level max lands on; targets near -127 and
 * near 113 try both ends of the asymmetric table). */
typedef struct wk_fit_start {
    const float *offsets;
    int n;
} wk_fit_start;

typedef struct wk_fit_kernels {
    /* L[g*n + i] in [0, nmax]; d[g] >= 0, m[g] <= 0 */
    void (*asym)(int n, int nmax, const wk_fit_start *s, const float *x, const float *w,
                 uint8_t *L, float *d, float *m);
    /* L[g*n + i] in [-nmax, nmax - 1]; d[g] of either sign */
    void (*sym)(int n, int nmax, const wk_fit_start *s, const float *x, const float *w,
                int8_t *L, float *d);
    /* L[g*n + i] in [0, 16) indexing WK_IQ4_VALUES */
    void (*nl)(int n, const wk_fit_start *s, const float *x, const float *w, uint8_t *L,
               float *d);
    /* Once a group's scale is stored on the super-block's coarse grid: k candidate stored
     * scales per group (dq[g*k + c], and for asym minimums mq, xhat = dq * l - mq). Each
     * candidate's levels are rounded as a reader reconstructs them (l = round((x + mq) / dq)
     * clamped, 0 when dq is 0) and its weighted error summed in element order; per group the
     * first candidate stands and a later one replaces it only with a smaller error: its index
     * goes to best[g], its levels to L. */
    void (*asym_pick)(int n, int nmax, int k, const float *x, const float *w, const float *dq,
                      const float *mq, uint8_t *L, int *best);
    void (*sym_pick)(int n, int nmax, int k, const float *x, const float *w, const float *dq,
                     int8_t *L, int *best);
} wk_fit_kernels;

/* The scalar reference searches. */
extern const wk_fit_kernels wk_fit_ref;

/* The IQ4 non-linear levels (ggml-common.h kvalues_iq4nl). */
extern const int8_t WK_IQ4_VALUES[16];

/* Round to nearest, ties to even, as vcvtps2dq does: v is first limited to +-(2^22 - 1),
 * where adding 1.5 * 2^23 leaves the rounded integer in the low mantissa bits. */
static inline int wk_nearest_int(float v)
{
    v = v < -4194303.0f ? -4194303.0f : v > 4194303.0f ? 4194303.0f : v;
    float t = v + 12582912.0f;
    int32_t i;
    __builtin_memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

/* The index of the IQ4 level nearest v: how many of the midpoints between neighbouring
 * levels v reaches (a tie goes to the upper level). */
static inline int wk_iq4_nearest(float v)
{
    static const float mid[15] = {-115.5f, -93.5f, -74.0f, -57.0f, -42.0f, -28.5f, -16.0f,
                                  -4.5f,   7.0f,   19.0f,  31.5f,  45.5f,  61.0f,  79.0f,
                                  101.0f};
    int k = 0;
    for (int j = 0; j < 15; j++)
        k += v >= mid[j];
    return k;
}

/* Alternating refinement rounds after the candidates. */
#define WK_FIT_ROUNDS 3
/* Coordinate-descent passes at most (sym). */
#define WK_FIT_PASSES 5

#endif
