/* Building wk-inspect's report from a tensor source.
 *
 * Counting uses only the source's tensor list (names, dtypes, shapes and byte sizes from
 * the headers) plus config.json or the GGUF metadata for the model's identity. Statistics
 * and the histogram stream the data: one wk_source_read per tensor, released at once. */
#include "verify/inspect/report.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf/gguf.h"
#include "formats/hf_config.h"

/* counted: false when x's data is already in t under the tensor x shares it with. */
static void totals_add(wk_inspect_totals *t, const wk_tensor *x, bool counted)
{
    t->tensors++;
    if (!counted) {
        t->shared++;
        return;
    }
    t->params += x->n_elements; /* sums of per-tensor counts; each fits in 64 bits, and so */
    t->bytes += x->n_bytes;     /* does their sum for any file that can exist */
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* Architecture, model type and name from config.json (model directories) or GGUF metadata. */
static int load_identity(const wk_source *s, wk_inspect_report *r, wk_err *e)
{
    if (s->gguf) {
        if (wk_gguf_get_str(s->gguf, "general.architecture", &r->architecture) != 0)
            r->architecture = NULL;
        if (wk_gguf_get_str(s->gguf, "general.name", &r->name) != 0)
            r->name = NULL;
        return 0;
    }
    if (!s->dir)
        return 0;
    wk_hf_config *cfg;
    int rc = wk_hf_config_load(s->dir, &cfg, e);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    r->architecture = dup_or_null(cfg->architecture);
    r->model_type = dup_or_null(cfg->model_type);
    wk_hf_config_free(cfg);
    return 0;
}

/* Statistics for one row: read, compute, release. A type that cannot be decoded gets a note
 * and no read at all. */
static int row_stats(wk_source *s, wk_inspect_row *row, wk_err *e)
{
    const wk_tensor *t = &s->tensors[row->index];
    if (!wk_stats_supported(t->dtype)) {
        snprintf(row->note, sizeof row->note, "stats not available for type %s",
                 wk_type(t->dtype)->name);
        return 0;
    }
    wk_view v;
    if (wk_source_read(s, row->index, &v, e) != 0)
        return -1;
    int rc = wk_tensor_stats_compute(t, v.data, v.size, &row->stats, e);
    wk_view_release(&v);
    if (rc != 0)
        return wk_fail_prefix(e, "%s", s->path);
    row->has_stats = true;
    return 0;
}

static int build_hist(wk_source *s, const wk_inspect_opts *o, wk_inspect_report *r, wk_err *e)
{
    long idx = wk_source_find(s, o->hist);
    if (idx < 0)
        return wk_fail(e, "%s: no tensor named '%s'", s->path, o->hist);
    const wk_tensor *t = &s->tensors[idx];
    if (!wk_stats_supported(t->dtype))
        return wk_fail(e, "%s: tensor '%s': histogram not available for type %s", s->path,
                       t->name, wk_type(t->dtype)->name);
    wk_inspect_hist *h = calloc(1, sizeof *h);
    uint32_t bins = o->hist_bins ? o->hist_bins : WK_INSPECT_DEFAULT_BINS;
    if (h)
        h->counts = calloc(bins, sizeof *h->counts);
    if (!h || !h->counts) {
        free(h);
        return wk_fail(e, "%s: out of memory", s->path);
    }
    r->hist = h;
    h->index = (size_t)idx;
    h->n_bins = bins;
    wk_view v;
    if (wk_source_read(s, h->index, &v, e) != 0)
        return -1;
    wk_moments m;
    int rc = wk_tensor_moments(t, v.data, v.size, &m, e);
    if (rc == 0) {
        wk_stats_from_moments(&m, t->n_elements, &h->stats);
        h->lo = m.n ? m.min : NAN;
        h->hi = m.n ? m.max : NAN;
        rc = wk_tensor_histogram(t, v.data, v.size, h->lo, h->hi, bins, h->counts, e);
    }
    wk_view_release(&v);
    return rc == 0 ? 0 : wk_fail_prefix(e, "%s", s->path);
}

int wk_inspect_build(wk_source *s, const wk_inspect_opts *o, wk_inspect_report **out,
                     wk_err *e)
{
    *out = NULL;
    wk_inspect_report *r = calloc(1, sizeof *r);
    bool *listed = calloc(s->n_tensors ? s->n_tensors : 1, sizeof *listed);
    if (!r || !listed || (s->n_tensors && !(r->rows = calloc(s->n_tensors, sizeof *r->rows)))) {
        free(r);
        free(listed);
        return wk_fail(e, "%s: out of memory", s->path);
    }
    r->src = s;
    r->filter = o->filter;
    r->stats = o->stats;
    if (load_identity(s, r, e) != 0)
        goto fail;
    for (size_t i = 0; i < s->n_tensors; i++) {
        const wk_tensor *t = &s->tensors[i];
        int layer;
        wk_category c = wk_tensor_category(t->name, &layer);
        size_t alias = t->alias_of_plus1 <= i ? t->alias_of_plus1 : 0; /* earlier index + 1 */
        totals_add(&r->total, t, alias == 0);
        totals_add(&r->by_category[c], t, alias == 0);
        if (o->hist || (o->filter && fnmatch(o->filter, t->name, 0) != 0))
            continue;
        /* count a group's shared data once among the listed tensors: aliases point at the
         * group's first tensor, whose flag records whether the group was counted */
        size_t root = alias ? alias - 1 : i;
        totals_add(&r->filtered, t, !listed[root]);
        listed[root] = true;
        r->rows[r->n_rows++] = (wk_inspect_row){.index = i, .category = c, .layer = layer,
                                                .shares_with = (long)alias - 1};
    }
    free(listed);
    listed = NULL;
    if (o->hist && build_hist(s, o, r, e) != 0)
        goto fail;
    for (size_t k = 0; o->stats && k < r->n_rows; k++)
        if (row_stats(s, &r->rows[k], e) != 0)
            goto fail;
    *out = r;
    return 0;
fail:
    free(listed);
    wk_inspect_free(r);
    return -1;
}

void wk_inspect_free(wk_inspect_report *r)
{
    if (!r)
        return;
    if (r->hist)
        free(r->hist->counts);
    free(r->hist);
    free(r->rows);
    free(r->architecture);
    free(r->model_type);
    free(r->name);
    free(r);
}

/* Scales n by powers of `step` until it is below step; prints "%.2f" under 10 and "%.1f"
 * above, moving to the next unit when rounding would print step or more ("1.00 M", not
 * "1000.0 K"). */
static void human(uint64_t n, double step, const char *const *units, size_t n_units,
                  const char *sep, char *buf, size_t len)
{
    if ((double)n < step) {
        snprintf(buf, len, "%llu%s%s", (unsigned long long)n, sep, units[0]);
        return;
    }
    double v = (double)n;
    size_t u = 0;
    while (u + 1 < n_units && v >= step) {
        v /= step;
        u++;
    }
    if (v < 9.995)
        snprintf(buf, len, "%.2f %s", v, units[u]);
    else if (v < step - 0.05 || u + 1 == n_units)
        snprintf(buf, len, "%.1f %s", v, units[u]);
    else
        snprintf(buf, len, "%.2f %s", v / step, units[u + 1]);
}

void wk_human_count(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"", "K", "M", "B", "T", "Q"};
    human(n, 1000.0, units, 6, "", buf, len);
}

void wk_human_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    human(n, 1024.0, units, 7, " ", buf, len);
}
