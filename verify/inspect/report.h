/* wk-inspect's report: what a model holds (summary, parameters and bytes per category, a
 * per-tensor table), optionally with per-tensor statistics or one tensor's histogram, and
 * its renderings as text and as JSON (schema: docs/wk-inspect.md).
 *
 * Building the report without statistics or a histogram reads only what the source parsed
 * from headers; it never calls wk_source_read. With statistics, tensors are read one at a
 * time and each view is released before the next. */
#ifndef WK_VERIFY_INSPECT_REPORT_H
#define WK_VERIFY_INSPECT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/source.h"
#include "models/tensor_names.h"
#include "verify/tensor_stats.h"

#define WK_INSPECT_DEFAULT_BINS 40
#define WK_INSPECT_MAX_BINS 1000

typedef struct wk_inspect_opts {
    const char *filter; /* fnmatch(3) glob on tensor names (table and stats only), or NULL */
    bool stats;         /* per-tensor statistics (reads tensor data) */
    const char *hist;   /* histogram of this tensor instead of the table, or NULL */
    uint32_t hist_bins; /* 0: WK_INSPECT_DEFAULT_BINS */
} wk_inspect_opts;

/* Tensors count names; params and bytes count data, once: a tensor that shares its data
 * with an earlier one (wk_tensor.alias_of_plus1, tied weights) adds to tensors and shared
 * only, unless the tensor it shares with is outside the set (a --filter). */
typedef struct wk_inspect_totals {
    uint64_t tensors, params, bytes;
    uint64_t shared; /* tensors whose data is already counted under another tensor */
} wk_inspect_totals;

typedef struct wk_inspect_row {
    size_t index; /* into source->tensors */
    wk_category category;
    int layer;    /* -1 outside the blocks */
    long shares_with; /* index of the earlier tensor whose data this tensor is, or -1 */
    bool has_stats;
    wk_tensor_stats stats;
    char note[96]; /* why a requested statistic is missing ("stats not available for type
                      Q4_K"), else "" */
} wk_inspect_row;

typedef struct wk_inspect_hist {
    size_t index;
    wk_tensor_stats stats;
    double lo, hi; /* bin edges: lo + k * (hi - lo) / n_bins; NaN without finite values. When
                      lo == hi (a constant tensor) every bin is [lo, lo] and the last bin
                      holds every value, as x = max always lands in the last bin */
    uint32_t n_bins;
    uint64_t *counts;
} wk_inspect_hist;

typedef struct wk_inspect_report {
    const wk_source *src;
    char *architecture; /* config.json architectures[0] or GGUF general.architecture */
    char *model_type;   /* config.json model_type */
    char *name;         /* GGUF general.name */
    wk_inspect_totals total;               /* the whole model, whatever the filter */
    wk_inspect_totals by_category[WK_CAT_COUNT];
    const char *filter;                    /* as given, or NULL */
    wk_inspect_totals filtered;            /* the rows below, data counted once among them */
    bool stats;
    size_t n_rows;
    wk_inspect_row *rows;                  /* tensors matching the filter, in source order */
    wk_inspect_hist *hist;                 /* only with opts.hist; then n_rows is 0 */
} wk_inspect_report;

int wk_inspect_build(wk_source *s, const wk_inspect_opts *o, wk_inspect_report **out,
                     wk_err *e);
void wk_inspect_free(wk_inspect_report *r);

/* Renderings as new heap strings (NULL when out of memory). */
char *wk_inspect_text(const wk_inspect_report *r);
char *wk_inspect_json(const wk_inspect_report *r);

/* "999", "260.0 K", "2.60 M", "1.10 B", "7.00 T": three or four significant digits. */
void wk_human_count(uint64_t n, char *buf, size_t len);
/* The same in binary units: "512 B", "1.50 KiB", "260.0 MiB". */
void wk_human_bytes(uint64_t n, char *buf, size_t len);

#endif
