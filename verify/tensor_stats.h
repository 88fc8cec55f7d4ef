/* Statistics and histograms of one tensor's data, computed in parallel (OpenMP) over
 * chunks of the tensor and merged pairwise in a fixed tree order, so results do not depend
 * on the number of threads. Elements are decoded through the type table's to_float (F16 and
 * BF16 through the F16C/AVX2 converters); types without a to_float are refused. */
#ifndef WK_VERIFY_TENSOR_STATS_H
#define WK_VERIFY_TENSOR_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/source.h"
#include "kernels/stats.h"

/* Every field but the counts is over the finite elements only; a field is NaN when it is
 * undefined (no finite elements, or std == 0 for max_abs_over_std and kurtosis). */
typedef struct wk_tensor_stats {
    uint64_t n_elements;
    uint64_t n_finite;
    double min, max, mean;
    double std;              /* population standard deviation: sqrt(M2 / n) */
    double l1, l2;           /* sum |x| and sqrt(sum x^2) */
    double zero_frac;        /* exact zeros / n_elements */
    double max_abs_over_std; /* max(|min|, |max|) / std */
    double kurtosis;         /* excess kurtosis (Pearson): n * M4 / M2^2 - 3 */
    uint64_t n_nan, n_inf;
} wk_tensor_stats;

/* True when elements of type t can be decoded to float. */
bool wk_stats_supported(wk_dtype t);

/* Merged moments of the tensor's data (size must equal t->n_bytes). */
int wk_tensor_moments(const wk_tensor *t, const void *data, uint64_t size, wk_moments *out,
                      wk_err *e);
void wk_stats_from_moments(const wk_moments *m, uint64_t n_elements, wk_tensor_stats *out);
int wk_tensor_stats_compute(const wk_tensor *t, const void *data, uint64_t size,
                            wk_tensor_stats *out, wk_err *e);

/* Counts finite elements into n_bins equal bins over [lo, hi]: bin floor((x - lo) * n_bins /
 * (hi - lo)) computed in double, clamped to [0, n_bins - 1] (so x == hi lands in the last
 * bin). When hi <= lo (a constant tensor: every x is hi) every finite element lands in the
 * last bin. counts is zeroed first. */
int wk_tensor_histogram(const wk_tensor *t, const void *data, uint64_t size, double lo,
                        double hi, uint32_t n_bins, uint64_t *counts, wk_err *e);

#endif
