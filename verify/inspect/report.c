/* Building wk-inspect's report from a tensor source.
 *
 * Counting uses only the source's tensor list (names, dtypes, shapes and byte sizes from
 * the headers) plus config.json or the GGUF metadata for the model's identity. Statistics
 * and the histogram stream the data: one wk_source_read per tensor, released at once.
 * Reading every byte of a tensor is when its GGUF checksum costs least (xxh64 runs at
 * several times the speed of the statistics), so that is where it is checked; with --stats
 * a GGUF tensor whose type has no statistics is still read, for its checksum alone.
 *
 * config.json only names the model here, so a broken one is a warning in the report, not
 * a failure: the tensors can still be listed. */
#include "verify/inspect/report.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void add_warning(wk_inspect_report *r, const char *msg)
{
    if (r->n_warnings < WK_INSPECT_MAX_WARNINGS && (r->warnings[r->n_warnings] = strdup(msg)))
        r->n_warnings++;
}

/* Architecture, model type and name from config.json (model directories) or GGUF metadata;
 * a config.json that cannot be read or parsed leaves them unknown, with a warning. */
static void load_identity(const wk_source *s, wk_inspect_report *r)
{
    if (s->gguf) {
        if (wk_gguf_get_str(s->gguf, "general.architecture", &r->architecture) != 0)
            r->architecture = NULL;
        if (wk_gguf_get_str(s->gguf, "general.name", &r->name) != 0)
            r->name = NULL;
        return;
    }
    if (!s->dir)
        return;
    wk_hf_config *cfg;
    wk_err why;
    int rc = wk_hf_config_load(s->dir, &cfg, &why);
    if (rc < 0) {
        char msg[WK_ERR_MAX + 32];
        snprintf(msg, sizeof msg, "%s; architecture unknown", why.msg);
        add_warning(r, msg);
    }
    if (rc != 0)
        return;
    r->architecture = dup_or_null(cfg->architecture);
    r->model_type = dup_or_null(cfg->model_type);
    wk_hf_config_free(cfg);
}

/* Whether glob matches the tensor's name, or its name in the other naming. */
static bool glob_matches(const char *glob, const char *name)
{
    char other[256];
    return fnmatch(glob, name, 0) == 0 ||
           (wk_tensor_name_other(name, other, sizeof other) == 0 &&
            fnmatch(glob, other, 0) == 0);
}

/* The tensor called name in the file's naming or in the other one, or -1. */
static long find_either(const wk_source *s, const char *name)
{
    long i = wk_source_find(s, name);
    char other[256];
    if (i < 0 && wk_tensor_name_other(name, other, sizeof other) == 0)
        i = wk_source_find(s, other);
    return i;
}

/* For hints: "tensor names in this file look like 'blk.0.attn_q.weight'", a tensor of the
 * first block when there is one (shown safely: the name comes from the file). */
static void naming_hint(const wk_source *s, char *buf, size_t len)
{
    const char *example = s->n_tensors ? s->tensors[0].name : NULL;
    for (size_t i = 0; i < s->n_tensors; i++) {
        int layer;
        wk_tensor_category(s->tensors[i].name, &layer);
        if (layer >= 0) {
            example = s->tensors[i].name;
            break;
        }
    }
    char shown[96];
    if (!example) {
        snprintf(buf, len, "the file has no tensors");
        return;
    }
    wk_gguf_str_show((wk_gguf_str){example, strlen(example)}, shown, sizeof shown);
    snprintf(buf, len, "tensor names in this file look like '%s' (Hugging Face and GGUF "
                       "names are both accepted)", shown);
}

/* Tensor i's bytes, just read, against the file's checksum for it (GGUF only). */
static int check_sum(const wk_source *s, size_t i, const wk_view *v, wk_inspect_report *r,
                     wk_err *e)
{
    if (!r->checksums.stored)
        return 0;
    int rc = wk_gguf_source_check_xxh64(s, i, v->data, v->size, e);
    if (rc < 0)
        return -1;
    r->checksums.verified += rc == 0;
    return 0;
}

/* Statistics for one row: read, check, compute, release. A type that cannot be decoded
 * gets a note, and is read only when it has a checksum to check. */
static int row_stats(wk_source *s, wk_inspect_row *row, wk_inspect_report *r, wk_err *e)
{
    const wk_tensor *t = &s->tensors[row->index];
    bool supported = wk_stats_supported(t->dtype);
    if (!supported)
        snprintf(row->note, sizeof row->note, "stats not available for type %s",
                 wk_type(t->dtype)->name);
    if (!supported && !r->checksums.stored)
        return 0;
    wk_view v;
    if (wk_source_read(s, row->index, &v, e) != 0)
        return -1;
    if (check_sum(s, row->index, &v, r, e) != 0) {
        wk_view_release(&v);
        return -1;
    }
    int rc = supported ? wk_tensor_stats_compute(t, v.data, v.size, &row->stats, e) : 0;
    wk_view_release(&v);
    if (rc != 0)
        return wk_fail_prefix(e, "%s", s->path);
    row->has_stats = supported;
    return 0;
}

static int build_hist(wk_source *s, const wk_inspect_opts *o, wk_inspect_report *r, wk_err *e)
{
    long idx = find_either(s, o->hist);
    if (idx < 0) {
        char hint[256];
        naming_hint(s, hint, sizeof hint);
        return wk_fail(e, "%s: no tensor named '%s'; %s", s->path, o->hist, hint);
    }
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
    if (check_sum(s, h->index, &v, r, e) != 0) {
        wk_view_release(&v);
        return -1;
    }
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
    r->checksums.applies = s->gguf != NULL;
    wk_gguf_sums sums = s->gguf ? wk_gguf_checksums_state(s->gguf) : WK_GGUF_SUMS_NONE;
    r->checksums.stored = sums == WK_GGUF_SUMS_STORED;
    r->checksums.stale = sums == WK_GGUF_SUMS_STALE;
    load_identity(s, r);
    if (wk_inspect_meta_build(s, o->meta, &r->meta, e) != 0)
        goto fail;
    for (size_t i = 0; i < s->n_tensors; i++) {
        const wk_tensor *t = &s->tensors[i];
        int layer;
        wk_category c = wk_tensor_category(t->name, &layer);
        size_t alias = t->alias_of_plus1 <= i ? t->alias_of_plus1 : 0; /* earlier index + 1 */
        totals_add(&r->total, t, alias == 0);
        totals_add(&r->by_category[c], t, alias == 0);
        if (o->hist || (o->filter && !glob_matches(o->filter, t->name)))
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
    if (o->filter && !o->hist && r->n_rows == 0) {
        char hint[256], note[320];
        naming_hint(s, hint, sizeof hint);
        snprintf(note, sizeof note, "no tensor matches; %s", hint);
        if (!(r->filter_note = strdup(note))) {
            wk_fail(e, "%s: out of memory", s->path);
            goto fail;
        }
    }
    if (o->hist && build_hist(s, o, r, e) != 0)
        goto fail;
    for (size_t k = 0; o->stats && k < r->n_rows; k++)
        if (row_stats(s, &r->rows[k], r, e) != 0)
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
    free(r->filter_note);
    wk_inspect_meta_free(&r->meta);
    for (size_t i = 0; i < r->n_warnings; i++)
        free(r->warnings[i]);
    free(r);
}
