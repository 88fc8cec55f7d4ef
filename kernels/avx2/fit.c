/* AVX2 twins of the scale searches of quant/fit.c: lane g of every vector runs group g.
 *
 * The 8 groups' values and weights are transposed so that element i of all groups is one
 * vector; every lane then does exactly the reference's operations in the same order (mul
 * then add, never fused; sums in element order; correctly rounded division). The
 * reference's branches become per-lane masks: "if gain > best take it" is a blend, and a
 * loop that a group leaves early (a refinement round that does not help, a descent pass that
 * moves nothing) is run on for the other lanes with that lane's updates masked off. A lane
 * left running would only repeat the no-op anyway: its state, and so the pass, is unchanged.
 * Comparisons use ordered predicates with the truth table of the C expression (!(a > b) is
 * the complement of _CMP_GT_OQ, a != b is _CMP_NEQ_UQ), so NaN lanes go the reference's way.
 * Rounding repeats wk_nearest_int's own steps rather than vcvtps2dq: the two agree on every
 * number, but only the steps agree on a NaN (a zero times an infinite scale, huge inputs). */
#include "kernels/avx2/avx2.h"

#include <immintrin.h>
#include <math.h>
#include <stdbool.h>

#include "kernels/avx2/lanes.h"
#include "quant/fit.h"

#define MAX_GROUP 32
#define ZERO_GROUP 1e-15f /* as quant/fit.c */

typedef __m256 vf;
typedef __m256i vi;

#define ZERO _mm256_setzero_ps()
#define SPLAT _mm256_set1_ps
#define ISPLAT _mm256_set1_epi32
#define GT(a, b) _mm256_cmp_ps(a, b, _CMP_GT_OQ)
#define ADD _mm256_add_ps
#define SUB _mm256_sub_ps
#define MUL _mm256_mul_ps
#define DIV _mm256_div_ps
#define BLEND(a, b, mask) _mm256_blendv_ps(a, b, mask) /* mask ? b : a */
#define IBLEND(a, b, mask) _mm256_blendv_epi8(a, b, _mm256_castps_si256(mask))

static int any(vf mask)
{
    return _mm256_movemask_ps(mask) != 0;
}

/* ---- transposition between the groups' rows and element vectors ---- */

static void transpose8(vf r[8])
{
    vf t[8], s[8];
    for (int k = 0; k < 8; k += 2) {
        t[k] = _mm256_unpacklo_ps(r[k], r[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(r[k], r[k + 1]);
    }
    for (int k = 0; k < 8; k += 4) {
        s[k] = _mm256_shuffle_ps(t[k], t[k + 2], 0x44);
        s[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], 0xee);
        s[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0x44);
        s[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], 0xee);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = _mm256_permute2f128_ps(s[k], s[k + 4], 0x20);
        r[k + 4] = _mm256_permute2f128_ps(s[k], s[k + 4], 0x31);
    }
}

/* v[i] lane g = x[g * n + i] */
static void load_columns(int n, const float *x, vf *v)
{
    int i0 = 0;
    for (; i0 + 8 <= n; i0 += 8) {
        vf r[8];
        for (int g = 0; g < 8; g++)
            r[g] = _mm256_loadu_ps(x + g * n + i0);
        transpose8(r);
        for (int k = 0; k < 8; k++)
            v[i0 + k] = r[k];
    }
    for (; i0 < n; i0++)
        v[i0] = _mm256_setr_ps(x[i0], x[n + i0], x[2 * n + i0], x[3 * n + i0], x[4 * n + i0],
                               x[5 * n + i0], x[6 * n + i0], x[7 * n + i0]);
}

/* L[g * n + i] = lane g of v[i], levels that fit a signed byte */
static void store_levels(int n, const vi *v, int8_t *L)
{
    int i0 = 0;
    for (; i0 + 8 <= n; i0 += 8) {
        vf r[8];
        for (int k = 0; k < 8; k++)
            r[k] = _mm256_castsi256_ps(v[i0 + k]);
        transpose8(r);
        for (int g = 0; g < 8; g++) {
            vi row = _mm256_castps_si256(r[g]);
            __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(row),
                                          _mm256_extracti128_si256(row, 1));
            _mm_storel_epi64((__m128i *)(L + g * n + i0), _mm_packs_epi16(w16, w16));
        }
    }
    for (; i0 < n; i0++) {
        int32_t lanes[8];
        _mm256_storeu_si256((vi *)lanes, v[i0]);
        for (int g = 0; g < 8; g++)
            L[g * n + i0] = (int8_t)lanes[g];
    }
}

/* ---- per-lane twins of the scalar helpers ---- */

static vi clamp_int(vi v, int lo, int hi)
{
    return _mm256_min_epi32(_mm256_max_epi32(v, ISPLAT(lo)), ISPLAT(hi));
}

static vf to_float(vi v)
{
    return _mm256_cvtepi32_ps(v);
}

/* signed_max: the value of largest magnitude (the first on ties), 0 for a group of zeros */
static vf signed_max(int n, const vf *x)
{
    const vf abs_mask = _mm256_castsi256_ps(ISPLAT(0x7fffffff));
    vf amax = ZERO, max = ZERO;
    for (int i = 0; i < n; i++) {
        vf a = _mm256_and_ps(x[i], abs_mask), gt = GT(a, amax);
        amax = BLEND(amax, a, gt);
        max = BLEND(max, x[i], gt);
    }
    return _mm256_andnot_ps(_mm256_cmp_ps(amax, SPLAT(ZERO_GROUP), _CMP_LT_OQ), max);
}

/* Takes the candidate in the lanes of `take`: best, the scale (and minimum) and the levels. */
static void take_lanes(int n, vf take, vf gain, vf *best, vf cd, vf *d, const vi *cand, vi *L)
{
    *best = BLEND(*best, gain, take);
    *d = BLEND(*d, cd, take);
    for (int i = 0; i < n; i++)
        L[i] = IBLEND(L[i], cand[i], take);
}

/* ---- asym: xhat = d * l + m ---- */

typedef struct {
    vf sw, swx;       /* sum w, sum w x */
    const vf *w, *wx; /* per element */
} asym_sums;

static vf asym_fit(int n, const asym_sums *s, const vi *L, vf *d, vf *m)
{
    vf swl = ZERO, swl2 = ZERO, swxl = ZERO;
    for (int i = 0; i < n; i++) {
        vf l = to_float(L[i]), wl = MUL(s->w[i], l);
        swl = ADD(swl, wl);
        swl2 = ADD(swl2, MUL(wl, l));
        swxl = ADD(swxl, MUL(s->wx[i], l));
    }
    vf D = SUB(MUL(s->sw, swl2), MUL(swl, swl));
    vf ok = GT(D, ZERO);
    vf dd = DIV(SUB(MUL(s->sw, swxl), MUL(s->swx, swl)), D);
    vf mm = DIV(SUB(MUL(swl2, s->swx), MUL(swl, swxl)), D);
    vf pos = GT(mm, ZERO);
    mm = BLEND(mm, ZERO, pos);
    dd = BLEND(dd, DIV(swxl, swl2), pos);
    ok = _mm256_and_ps(ok, _mm256_cmp_ps(dd, ZERO, _CMP_GE_OQ));
    *d = BLEND(*d, dd, ok);
    *m = BLEND(*m, mm, ok);
    return BLEND(SPLAT(-INFINITY), ADD(MUL(dd, swxl), MUL(mm, s->swx)), ok);
}

static void asym_round(int n, int nmax, const vf *x, vf offset, vf scale, vi *L)
{
    for (int i = 0; i < n; i++)
        L[i] = clamp_int(wk_nearest_int_avx2(MUL(SUB(x[i], offset), scale)), 0, nmax);
}

static void fit_asym(int n, int nmax, const wk_fit_start *st, const float *xg, const float *wg,
                     uint8_t *Lg, float *dg, float *mg)
{
    vf x[MAX_GROUP], w[MAX_GROUP], wx[MAX_GROUP];
    vi L[MAX_GROUP], cand[MAX_GROUP];
    load_columns(n, xg, x);
    load_columns(n, wg, w);
    vf xmin = x[0], xmax = x[0];
    asym_sums s = {ZERO, ZERO, w, wx};
    for (int i = 0; i < n; i++) {
        xmin = _mm256_min_ps(x[i], xmin); /* x < xmin ? x : xmin */
        xmax = _mm256_max_ps(x[i], xmax);
        wx[i] = MUL(w[i], x[i]);
        s.sw = ADD(s.sw, w[i]);
        s.swx = ADD(s.swx, wx[i]);
    }
    xmin = _mm256_min_ps(ZERO, xmin); /* xmin > 0 ? 0 : xmin */
    vf range = SUB(xmax, xmin), fits = GT(range, ZERO);
    vf d = DIV(range, SPLAT((float)nmax)), m = xmin;
    asym_round(n, nmax, x, xmin, _mm256_and_ps(fits, DIV(SPLAT((float)nmax), range)), L);
    vf best = SPLAT(-INFINITY), cd = ZERO, cm = ZERO;
    for (int k = 0; any(fits) && k < st->n; k++) {
        asym_round(n, nmax, x, xmin, DIV(SPLAT((float)nmax + st->offsets[k]), range), cand);
        vf gain = asym_fit(n, &s, cand, &cd, &cm);
        vf take = _mm256_and_ps(fits, GT(gain, best));
        m = BLEND(m, cm, take);
        take_lanes(n, take, gain, &best, cd, &d, cand, L);
    }
    vf live = fits;
    for (int r = 0; r < WK_FIT_ROUNDS; r++) {
        live = _mm256_and_ps(live, _mm256_and_ps(GT(best, SPLAT(-INFINITY)), GT(d, ZERO)));
        if (!any(live))
            break;
        asym_round(n, nmax, x, m, DIV(SPLAT(1.0f), d), cand);
        vf gain = asym_fit(n, &s, cand, &cd, &cm);
        live = _mm256_and_ps(live, GT(gain, best)); /* the others break */
        m = BLEND(m, cm, live);
        take_lanes(n, live, gain, &best, cd, &d, cand, L);
    }
    _mm256_storeu_ps(dg, d);
    _mm256_storeu_ps(mg, m);
    store_levels(n, L, (int8_t *)Lg); /* levels 0..nmax < 128: the same bytes */
}

/* ---- sym: xhat = d * l; nl: xhat = d * V[l] ---- */

static vf scale_fit(int n, const vf *w, const vf *wx, const vf *q, vf *d)
{
    vf swq2 = ZERO, swxq = ZERO;
    for (int i = 0; i < n; i++) {
        vf wq = MUL(w[i], q[i]);
        swq2 = ADD(swq2, MUL(wq, q[i]));
        swxq = ADD(swxq, MUL(wx[i], q[i]));
    }
    vf ok = GT(swq2, ZERO), dd = DIV(swxq, swq2);
    *d = BLEND(*d, dd, ok);
    return BLEND(SPLAT(-INFINITY), MUL(dd, swxq), ok);
}

static void sym_round(int n, int nmax, const vf *x, vf scale, vi *L, vf *q)
{
    for (int i = 0; i < n; i++) {
        L[i] = clamp_int(wk_nearest_int_avx2(MUL(x[i], scale)), -nmax, nmax - 1);
        q[i] = to_float(L[i]);
    }
}

/* sym_descend of quant/fit.c in the lanes of `on`. */
static void sym_descend(int n, int nmax, const vf *x, const vf *w, const vf *wx, vi *L, vf *d,
                        vf on)
{
    vf swq2 = ZERO, swxq = ZERO;
    for (int i = 0; i < n; i++) {
        vf l = to_float(L[i]), wq = MUL(w[i], l);
        swq2 = ADD(swq2, MUL(wq, l));
        swxq = ADD(swxq, MUL(wx[i], l));
    }
    for (int pass = 0; pass < WK_FIT_PASSES; pass++) {
        vf changed = ZERO;
        for (int i = 0; i < n; i++) {
            vf l = to_float(L[i]), wl = MUL(w[i], l);
            vf sxq = SUB(swxq, MUL(wx[i], l)), sq2 = SUB(swq2, MUL(wl, l));
            vf go = _mm256_and_ps(on, GT(sxq, ZERO));
            vi nl = clamp_int(wk_nearest_int_avx2(DIV(MUL(x[i], sq2), sxq)), -nmax, nmax - 1);
            go = _mm256_andnot_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(nl, L[i])), go);
            vf fl = to_float(nl), wfl = MUL(w[i], fl);
            sxq = ADD(sxq, MUL(wx[i], fl));
            sq2 = ADD(sq2, MUL(wfl, fl));
            vf better = GT(MUL(MUL(sxq, sxq), swq2), MUL(MUL(swxq, swxq), sq2));
            go = _mm256_and_ps(go, _mm256_and_ps(GT(sq2, ZERO), better));
            L[i] = IBLEND(L[i], nl, go);
            swxq = BLEND(swxq, sxq, go);
            swq2 = BLEND(swq2, sq2, go);
            changed = _mm256_or_ps(changed, go);
        }
        if (!any(changed))
            break;
    }
    *d = BLEND(*d, DIV(swxq, swq2), _mm256_and_ps(on, GT(swq2, ZERO)));
}

/* The candidates and the refinement rounds shared by sym and nl: `round` maps a scale to
 * levels L and their values q. */
typedef struct {
    int n, nmax;
    bool sym; /* candidate scales -(nmax + offset) / max, else offset / max */
    const vf *x, *w, *wx;
} round_ctx;

typedef void (*round_fn)(const round_ctx *c, vf scale, vi *L, vf *q);

static vf search_scale(const round_ctx *c, round_fn round, const wk_fit_start *st, vf max,
                       vi *L, vf *d)
{
    vi cand[MAX_GROUP];
    vf q[MAX_GROUP], best = SPLAT(-INFINITY), cd = ZERO;
    vf active = _mm256_cmp_ps(max, ZERO, _CMP_NEQ_UQ); /* the reference returns on max == 0 */
    for (int i = 0; i < c->n; i++)
        L[i] = _mm256_setzero_si256();
    *d = ZERO;
    for (int k = 0; any(active) && k < st->n; k++) {
        float num = c->sym ? -((float)c->nmax + st->offsets[k]) : st->offsets[k];
        round(c, DIV(SPLAT(num), max), cand, q);
        vf gain = scale_fit(c->n, c->w, c->wx, q, &cd);
        take_lanes(c->n, _mm256_and_ps(active, GT(gain, best)), gain, &best, cd, d, cand, L);
    }
    vf live = active;
    for (int r = 0; r < WK_FIT_ROUNDS; r++) {
        vf nonzero = _mm256_cmp_ps(*d, ZERO, _CMP_NEQ_UQ);
        live = _mm256_and_ps(live, _mm256_and_ps(GT(best, SPLAT(-INFINITY)), nonzero));
        if (!any(live))
            break;
        round(c, DIV(SPLAT(1.0f), *d), cand, q);
        vf gain = scale_fit(c->n, c->w, c->wx, q, &cd);
        live = _mm256_and_ps(live, GT(gain, best));
        take_lanes(c->n, live, gain, &best, cd, d, cand, L);
    }
    return best;
}

static void load_group(round_ctx *c, const float *xg, const float *wg, vf *x, vf *w, vf *wx)
{
    load_columns(c->n, xg, x);
    load_columns(c->n, wg, w);
    for (int i = 0; i < c->n; i++)
        wx[i] = MUL(w[i], x[i]);
    c->x = x;
    c->w = w;
    c->wx = wx;
}

static void sym_round_ctx(const round_ctx *c, vf scale, vi *L, vf *q)
{
    sym_round(c->n, c->nmax, c->x, scale, L, q);
}

static void fit_sym(int n, int nmax, const wk_fit_start *st, const float *xg, const float *wg,
                    int8_t *Lg, float *dg)
{
    vf x[MAX_GROUP], w[MAX_GROUP], wx[MAX_GROUP], d;
    vi L[MAX_GROUP];
    round_ctx c = {n, nmax, true, NULL, NULL, NULL};
    load_group(&c, xg, wg, x, w, wx);
    vf best = search_scale(&c, sym_round_ctx, st, signed_max(n, x), L, &d);
    vf on = GT(best, SPLAT(-INFINITY));
    if (any(on))
        sym_descend(n, nmax, x, w, wx, L, &d, on);
    _mm256_storeu_ps(dg, d);
    store_levels(n, L, Lg);
}

/* wk_iq4_nearest: how many midpoints v reaches; q = WK_IQ4_VALUES[L] */
static void nl_round_ctx(const round_ctx *c, vf scale, vi *L, vf *q)
{
    static const float mid[15] = {-115.5f, -93.5f, -74.0f, -57.0f, -42.0f, -28.5f, -16.0f,
                                  -4.5f,   7.0f,   19.0f,  31.5f,  45.5f,  61.0f,  79.0f,
                                  101.0f};
    const vf lo = _mm256_setr_ps(-127, -104, -83, -65, -49, -35, -22, -10);
    const vf hi = _mm256_setr_ps(1, 13, 25, 38, 53, 69, 89, 113);
    for (int i = 0; i < c->n; i++) {
        vf v = MUL(c->x[i], scale);
        vi k = _mm256_setzero_si256();
        for (int j = 0; j < 15; j++)
            k = _mm256_sub_epi32(k, _mm256_castps_si256(
                                        _mm256_cmp_ps(v, SPLAT(mid[j]), _CMP_GE_OQ)));
        L[i] = k;
        q[i] = BLEND(_mm256_permutevar8x32_ps(lo, k), _mm256_permutevar8x32_ps(hi, k),
                     _mm256_castsi256_ps(_mm256_cmpgt_epi32(k, ISPLAT(7))));
    }
}

static void fit_nl(int n, const wk_fit_start *st, const float *xg, const float *wg,
                   uint8_t *Lg, float *dg)
{
    vf x[MAX_GROUP], w[MAX_GROUP], wx[MAX_GROUP], d;
    vi L[MAX_GROUP];
    round_ctx c = {n, 0, false, NULL, NULL, NULL};
    load_group(&c, xg, wg, x, w, wx);
    search_scale(&c, nl_round_ctx, st, signed_max(n, x), L, &d);
    _mm256_storeu_ps(dg, d);
    store_levels(n, L, (int8_t *)Lg); /* indices 0..15: the same bytes */
}

/* ---- picking among stored scales (twins of asym_pick and sym_pick in quant/fit.c) ---- */

/* Lane g of the candidate c of each group: v[g * k + c]. */
static vf gather_candidate(const float *v, int k, int c)
{
    return _mm256_setr_ps(v[c], v[k + c], v[2 * k + c], v[3 * k + c], v[4 * k + c],
                          v[5 * k + c], v[6 * k + c], v[7 * k + c]);
}

/* Keeps the candidate c where it is first or leaves less error than the best so far. */
static void pick_lanes(int n, int c, vf err, vf *least, vi *best, const vi *cand, vi *L)
{
    vf take = c == 0 ? _mm256_castsi256_ps(ISPLAT(-1)) : _mm256_cmp_ps(err, *least, _CMP_LT_OQ);
    *least = BLEND(*least, err, take);
    *best = IBLEND(*best, ISPLAT(c), take);
    for (int i = 0; i < n; i++)
        L[i] = IBLEND(L[i], cand[i], take);
}

static void asym_pick(int n, int nmax, int k, const float *xg, const float *wg, const float *dq,
                      const float *mq, uint8_t *Lg, int *best_g)
{
    vf x[MAX_GROUP], w[MAX_GROUP], least = ZERO;
    vi L[MAX_GROUP], cand[MAX_GROUP], best = _mm256_setzero_si256();
    load_columns(n, xg, x);
    load_columns(n, wg, w);
    for (int c = 0; c < k; c++) {
        vf d = gather_candidate(dq, k, c), m = gather_candidate(mq, k, c);
        vf nonzero = _mm256_cmp_ps(d, ZERO, _CMP_NEQ_UQ), err = ZERO;
        for (int i = 0; i < n; i++) {
            vi l = clamp_int(wk_nearest_int_avx2(DIV(ADD(x[i], m), d)), 0, nmax);
            cand[i] = _mm256_and_si256(l, _mm256_castps_si256(nonzero));
            vf diff = SUB(SUB(MUL(d, to_float(cand[i])), m), x[i]);
            err = ADD(err, MUL(MUL(w[i], diff), diff));
        }
        pick_lanes(n, c, err, &least, &best, cand, L);
    }
    _mm256_storeu_si256((vi *)best_g, best);
    store_levels(n, L, (int8_t *)Lg); /* levels 0..nmax < 128: the same bytes */
}

static void sym_pick(int n, int nmax, int k, const float *xg, const float *wg, const float *dq,
                     int8_t *Lg, int *best_g)
{
    vf x[MAX_GROUP], w[MAX_GROUP], least = ZERO;
    vi L[MAX_GROUP], cand[MAX_GROUP], best = _mm256_setzero_si256();
    load_columns(n, xg, x);
    load_columns(n, wg, w);
    for (int c = 0; c < k; c++) {
        vf d = gather_candidate(dq, k, c);
        vf nonzero = _mm256_cmp_ps(d, ZERO, _CMP_NEQ_UQ), err = ZERO;
        for (int i = 0; i < n; i++) {
            vi l = clamp_int(wk_nearest_int_avx2(DIV(x[i], d)), -nmax, nmax - 1);
            cand[i] = _mm256_and_si256(l, _mm256_castps_si256(nonzero));
            vf diff = SUB(MUL(d, to_float(cand[i])), x[i]);
            err = ADD(err, MUL(MUL(w[i], diff), diff));
        }
        pick_lanes(n, c, err, &least, &best, cand, L);
    }
    _mm256_storeu_si256((vi *)best_g, best);
    store_levels(n, L, Lg);
}

const wk_fit_kernels wk_fit_avx2 = {fit_asym, fit_sym, fit_nl, asym_pick, sym_pick};
