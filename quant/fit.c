/* The scalar reference searches (see fit.h). Every sum runs in element order and every
 * product is written out (w * l, then * l) exactly as the AVX2 twin in kernels/avx2/fit.c
 * computes it lane by lane; keep the two in step. */
#include "quant/fit.h"

#include <math.h>
#include <string.h>

#define MAX_GROUP 32
#define ZERO_GROUP 1e-15f /* ggml's GROUP_MAX_EPS: a group this small is all zeros */

const int8_t WK_IQ4_VALUES[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                  1,    13,   25,  38,  53,  69,  89,  113};


static int clamp_int(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ---- asym: xhat = d * l + m ---- */

typedef struct {
    float sw, swx;        /* sum w, sum w x */
    const float *wx;      /* w x per element */
} asym_sums;

/* Least-squares (d, m) for levels L; returns the gain d * swxl + m * swx (the error is
 * sum w x^2 - gain), or -INFINITY when L cannot be fitted (all levels alike, or d < 0). */
static float asym_fit(int n, const float *w, const asym_sums *s, const uint8_t *L, float *d,
                      float *m)
{
    float swl = 0, swl2 = 0, swxl = 0;
    for (int i = 0; i < n; i++) {
        float l = (float)L[i], wl = w[i] * l;
        swl += wl;
        swl2 += wl * l;
        swxl += s->wx[i] * l;
    }
    float D = s->sw * swl2 - swl * swl;
    if (!(D > 0))
        return -INFINITY;
    float dd = (s->sw * swxl - s->swx * swl) / D;
    float mm = (swl2 * s->swx - swl * swxl) / D;
    if (mm > 0) { /* the minimum is stored as a non-negative offset to subtract */
        mm = 0;
        dd = swxl / swl2;
    }
    if (!(dd >= 0))
        return -INFINITY;
    *d = dd;
    *m = mm;
    return dd * swxl + mm * s->swx;
}

static void asym_round(int n, int nmax, const float *x, float offset, float scale, uint8_t *L)
{
    for (int i = 0; i < n; i++)
        L[i] = (uint8_t)clamp_int(wk_nearest_int((x[i] - offset) * scale), 0, nmax);
}

static void fit_asym_group(int n, int nmax, const wk_fit_start *st, const float *x, const float *w, uint8_t *L,
                           float *d, float *m)
{
    float wx[MAX_GROUP];
    float xmin = x[0], xmax = x[0];
    asym_sums s = {0, 0, wx};
    for (int i = 0; i < n; i++) {
        xmin = x[i] < xmin ? x[i] : xmin;
        xmax = x[i] > xmax ? x[i] : xmax;
        wx[i] = w[i] * x[i];
        s.sw += w[i];
        s.swx += wx[i];
    }
    if (xmin > 0)
        xmin = 0;
    float range = xmax - xmin;
    /* the plain range-based answer stands when no fit is possible */
    *d = range / (float)nmax;
    *m = xmin;
    asym_round(n, nmax, x, xmin, range > 0 ? (float)nmax / range : 0.0f, L);
    if (!(range > 0))
        return;
    float best = -INFINITY, cd = 0, cm = 0;
    uint8_t cand[MAX_GROUP];
    for (int k = 0; k < st->n; k++) {
        asym_round(n, nmax, x, xmin, ((float)nmax + st->offsets[k]) / range, cand);
        float gain = asym_fit(n, w, &s, cand, &cd, &cm);
        if (gain > best) {
            best = gain;
            *d = cd;
            *m = cm;
            memcpy(L, cand, (size_t)n);
        }
    }
    for (int r = 0; r < WK_FIT_ROUNDS && best > -INFINITY && *d > 0; r++) {
        asym_round(n, nmax, x, *m, 1.0f / *d, cand);
        float gain = asym_fit(n, w, &s, cand, &cd, &cm);
        if (!(gain > best))
            break;
        best = gain;
        *d = cd;
        *m = cm;
        memcpy(L, cand, (size_t)n);
    }
}

static void fit_asym(int n, int nmax, const wk_fit_start *st, const float *x, const float *w,
                     uint8_t *L, float *d, float *m)
{
    for (int g = 0; g < WK_FIT_GROUPS; g++)
        fit_asym_group(n, nmax, st, x + g * n, w + g * n, L + g * n, &d[g], &m[g]);
}

/* ---- sym: xhat = d * l; nl: xhat = d * V[l] ---- */

/* The value of largest magnitude (the first, on ties); 0 for a group of zeros. */
static float signed_max(int n, const float *x)
{
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++) {
        float a = fabsf(x[i]);
        if (a > amax) {
            amax = a;
            max = x[i];
        }
    }
    return amax < ZERO_GROUP ? 0.0f : max;
}

/* Least-squares d for values q; returns the gain d * swxq, or -INFINITY when all q are 0. */
static float scale_fit(int n, const float *w, const float *wx, const float *q, float *d)
{
    float swq2 = 0, swxq = 0;
    for (int i = 0; i < n; i++) {
        float wq = w[i] * q[i];
        swq2 += wq * q[i];
        swxq += wx[i] * q[i];
    }
    if (!(swq2 > 0))
        return -INFINITY;
    *d = swxq / swq2;
    return *d * swxq;
}

static void sym_round(int n, int nmax, const float *x, float scale, int8_t *L, float *q)
{
    for (int i = 0; i < n; i++) {
        L[i] = (int8_t)clamp_int(wk_nearest_int(x[i] * scale), -nmax, nmax - 1);
        q[i] = (float)L[i];
    }
}

/* Coordinate descent on the levels (as ggml's make_q3_quants does for Q3_K): each level in
 * turn moves to the one the least-squares scale of the other values asks for, when that
 * raises the gain; passes repeat until none moves (at most WK_FIT_PASSES). */
static void sym_descend(int n, int nmax, const float *x, const float *w, const float *wx,
                        int8_t *L, float *d)
{
    float swq2 = 0, swxq = 0;
    for (int i = 0; i < n; i++) {
        float wq = w[i] * (float)L[i];
        swq2 += wq * (float)L[i];
        swxq += wx[i] * (float)L[i];
    }
    for (int pass = 0; pass < WK_FIT_PASSES; pass++) {
        int changed = 0;
        for (int i = 0; i < n; i++) {
            float l = (float)L[i], wl = w[i] * l;
            float sxq = swxq - wx[i] * l, sq2 = swq2 - wl * l;
            if (!(sxq > 0))
                continue;
            int nl = clamp_int(wk_nearest_int(x[i] * sq2 / sxq), -nmax, nmax - 1);
            if (nl == L[i])
                continue;
            float fl = (float)nl, wfl = w[i] * fl;
            sxq += wx[i] * fl;
            sq2 += wfl * fl;
            if (sq2 > 0 && sxq * sxq * swq2 > swxq * swxq * sq2) {
                L[i] = (int8_t)nl;
                swxq = sxq;
                swq2 = sq2;
                changed++;
            }
        }
        if (!changed)
            break;
    }
    if (swq2 > 0)
        *d = swxq / swq2;
}

static void fit_sym_group(int n, int nmax, const wk_fit_start *st, const float *x, const float *w, int8_t *L, float *d)
{
    float wx[MAX_GROUP], q[MAX_GROUP];
    for (int i = 0; i < n; i++)
        wx[i] = w[i] * x[i];
    float max = signed_max(n, x);
    memset(L, 0, (size_t)n);
    *d = 0;
    if (max == 0)
        return;
    float best = -INFINITY, cd = 0;
    int8_t cand[MAX_GROUP];
    for (int k = 0; k < st->n; k++) {
        sym_round(n, nmax, x, -((float)nmax + st->offsets[k]) / max, cand, q);
        float gain = scale_fit(n, w, wx, q, &cd);
        if (gain > best) {
            best = gain;
            *d = cd;
            memcpy(L, cand, (size_t)n);
        }
    }
    for (int r = 0; r < WK_FIT_ROUNDS && best > -INFINITY && *d != 0; r++) {
        sym_round(n, nmax, x, 1.0f / *d, cand, q);
        float gain = scale_fit(n, w, wx, q, &cd);
        if (!(gain > best))
            break;
        best = gain;
        *d = cd;
        memcpy(L, cand, (size_t)n);
    }
    if (best > -INFINITY)
        sym_descend(n, nmax, x, w, wx, L, d);
}

static void fit_sym(int n, int nmax, const wk_fit_start *st, const float *x, const float *w,
                    int8_t *L, float *d)
{
    for (int g = 0; g < WK_FIT_GROUPS; g++)
        fit_sym_group(n, nmax, st, x + g * n, w + g * n, L + g * n, &d[g]);
}

static void nl_round(int n, const float *x, float scale, uint8_t *L, float *q)
{
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)wk_iq4_nearest(x[i] * scale);
        q[i] = (float)WK_IQ4_VALUES[L[i]];
    }
}

static void fit_nl_group(int n, const wk_fit_start *st, const float *x, const float *w, uint8_t *L, float *d)
{
    float wx[MAX_GROUP], q[MAX_GROUP];
    for (int i = 0; i < n; i++)
        wx[i] = w[i] * x[i];
    float max = signed_max(n, x);
    memset(L, 0, (size_t)n);
    *d = 0;
    if (max == 0)
        return;
    float best = -INFINITY, cd = 0;
    uint8_t cand[MAX_GROUP];
    for (int k = 0; k < st->n; k++) {
        nl_round(n, x, st->offsets[k] / max, cand, q);
        float gain = scale_fit(n, w, wx, q, &cd);
        if (gain > best) {
            best = gain;
            *d = cd;
            memcpy(L, cand, (size_t)n);
        }
    }
    for (int r = 0; r < WK_FIT_ROUNDS && best > -INFINITY && *d != 0; r++) {
        nl_round(n, x, 1.0f / *d, cand, q);
        float gain = scale_fit(n, w, wx, q, &cd);
        if (!(gain > best))
            break;
        best = gain;
        *d = cd;
        memcpy(L, cand, (size_t)n);
    }
}

static void fit_nl(int n, const wk_fit_start *st, const float *x, const float *w, uint8_t *L,
                   float *d)
{
    for (int g = 0; g < WK_FIT_GROUPS; g++)
        fit_nl_group(n, st, x + g * n, w + g * n, L + g * n, &d[g]);
}

/* ---- picking among stored scales ---- */

static float asym_levels(int n, int nmax, const float *x, const float *w, float dq, float mq,
                         uint8_t *L)
{
    float err = 0;
    for (int i = 0; i < n; i++) {
        int l = dq != 0 ? clamp_int(wk_nearest_int((x[i] + mq) / dq), 0, nmax) : 0;
        float diff = dq * (float)l - mq - x[i];
        L[i] = (uint8_t)l;
        err += w[i] * diff * diff;
    }
    return err;
}

static void asym_pick(int n, int nmax, int k, const float *x, const float *w, const float *dq,
                      const float *mq, uint8_t *L, int *best)
{
    uint8_t cand[MAX_GROUP];
    for (int g = 0; g < WK_FIT_GROUPS; g++) {
        float least = 0;
        for (int c = 0; c < k; c++) {
            float err = asym_levels(n, nmax, x + g * n, w + g * n, dq[g * k + c], mq[g * k + c],
                                    cand);
            if (c == 0 || err < least) {
                least = err;
                best[g] = c;
                memcpy(L + g * n, cand, (size_t)n);
            }
        }
    }
}

static float sym_levels(int n, int nmax, const float *x, const float *w, float dq, int8_t *L)
{
    float err = 0;
    for (int i = 0; i < n; i++) {
        int l = dq != 0 ? clamp_int(wk_nearest_int(x[i] / dq), -nmax, nmax - 1) : 0;
        float diff = dq * (float)l - x[i];
        L[i] = (int8_t)l;
        err += w[i] * diff * diff;
    }
    return err;
}

static void sym_pick(int n, int nmax, int k, const float *x, const float *w, const float *dq,
                     int8_t *L, int *best)
{
    int8_t cand[MAX_GROUP];
    for (int g = 0; g < WK_FIT_GROUPS; g++) {
        float least = 0;
        for (int c = 0; c < k; c++) {
            float err = sym_levels(n, nmax, x + g * n, w + g * n, dq[g * k + c], cand);
            if (c == 0 || err < least) {
                least = err;
                best[g] = c;
                memcpy(L + g * n, cand, (size_t)n);
            }
        }
    }
}

const wk_fit_kernels wk_fit_ref = {fit_asym, fit_sym, fit_nl, asym_pick, sym_pick};
