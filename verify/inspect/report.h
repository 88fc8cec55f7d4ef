/* wk-inspect's report: what a model holds (summary, the file's metadata, parameters and
 * bytes per category, a per-tensor table), optionally with per-tensor statistics or one
 * tensor's histogram, and its renderings as text and as JSON (schema: docs/wk-inspect.md).
 *
 * Building the report without statistics or a histogram reads only what the source parsed
 * from headers; it never calls wk_source_read. With statistics, tensors are read one at a
 * time and each view is released before the next; while a GGUF tensor's bytes are in
 * memory they are checked against the file's weightkit.tensor_xxh64, and a mismatch fails
 * the build. Tensor names given by the user (--filter, --hist) match a tensor's name in the
 * file or its name in the other naming (Hugging Face / GGUF, models/tensor_names.h). */
#ifndef WK_VERIFY_INSPECT_REPORT_H
#define WK_VERIFY_INSPECT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/human.h"
#include "formats/gguf/gguf.h"
#include "formats/source.h"
#include "models/tensor_names.h"
#include "quant/ftype.h"
#include "verify/tensor_stats.h"

#define WK_INSPECT_DEFAULT_BINS 40
#define WK_INSPECT_MAX_BINS 1000
#define WK_INSPECT_MAX_WARNINGS 8
#define WK_INSPECT_MAX_SPECIAL 16
#define WK_INSPECT_SHORT_ARRAY 16 /* metadata arrays up to this long are shown whole; */
#define WK_INSPECT_ARRAY_HEAD 5   /* of a longer one, its type, length and first values */

typedef struct wk_inspect_opts {
    const char *filter; /* fnmatch(3) glob on tensor names, either naming (table and stats
                           only), or NULL */
    bool stats;         /* per-tensor statistics (reads tensor data) */
    const char *hist;   /* histogram of this tensor (either naming) instead of the table */
    uint32_t hist_bins; /* 0: WK_INSPECT_DEFAULT_BINS */
    bool meta;          /* every metadata key, not only the usual groups */
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

/* weightkit.tensor_xxh64 of a GGUF: whether the file stores checksums, and how many tensors
 * were hashed (while --stats or --hist had their bytes in memory) and matched. */
typedef struct wk_inspect_checksums {
    bool applies;      /* the format can store them (GGUF); else the rest is unused */
    bool stored;       /* the file has weightkit.tensor_xxh64 for its tensors */
    bool stale;        /* it has them, but for other tensor infos (copied by another tool) */
    uint64_t verified; /* tensors whose bytes matched their stored checksum */
} wk_inspect_checksums;

/* The tokenizer.* keys of a GGUF, summarised. Pointers are into the file's metadata. */
typedef struct wk_inspect_tokenizer {
    bool present;                   /* any tokenizer.* key */
    const wk_gguf_value *model, *pre; /* strings, or NULL */
    int64_t n_tokens;               /* length of tokenizer.ggml.tokens; -1: absent */
    int add_bos, add_eos;           /* tokenizer.ggml.add_{bos,eos}_token: -1 absent, 0, 1 */
    int64_t chat_template_bytes;    /* tokenizer.chat_template's length; -1: absent */
    uint64_t named_templates;       /* tokenizer.chat_template.<name> keys */
    size_t n_special;
    struct {
        wk_gguf_str name;           /* "bos" of tokenizer.ggml.bos_token_id */
        const wk_gguf_value *id;
    } special[WK_INSPECT_MAX_SPECIAL];
} wk_inspect_tokenizer;

/* The file's own metadata: GGUF key-value pairs, or safetensors __metadata__ (then only
 * `format` is set: the entries are src->metadata, all of them shown). */
typedef struct wk_inspect_meta {
    const char *format;          /* "gguf", "safetensors", or NULL: none to show */
    uint32_t gguf_version, alignment;
    bool all;                    /* --meta: shown lists every key */
    size_t n_shown;
    const wk_gguf_kv **shown;    /* the keys listed, in file order: general.*, <arch>.*, and
                                    weightkit.* but the checksums; with --meta every key */
    bool has_file_type;
    uint64_t file_type;          /* general.file_type */
    const wk_ftype *file_type_info; /* its quant/ftype.h entry, or NULL when unknown */
    wk_inspect_tokenizer tok;
} wk_inspect_meta;

typedef struct wk_inspect_report {
    const wk_source *src;
    char *architecture; /* config.json architectures[0] or GGUF general.architecture */
    char *model_type;   /* config.json model_type */
    char *name;         /* GGUF general.name */
    wk_inspect_totals total;               /* the whole model, whatever the filter */
    wk_inspect_totals by_category[WK_CAT_COUNT];
    wk_inspect_meta meta;
    wk_inspect_checksums checksums;
    const char *filter;                    /* as given, or NULL */
    wk_inspect_totals filtered;            /* the rows below, data counted once among them */
    char *filter_note;                     /* when the filter matched nothing: why, with an
                                              example of the file's naming; else NULL */
    bool stats;
    size_t n_rows;
    wk_inspect_row *rows;                  /* tensors matching the filter, in source order */
    wk_inspect_hist *hist;                 /* only with opts.hist; then n_rows is 0 */
    size_t n_warnings;                     /* what went wrong without stopping the report
                                              (an invalid config.json): the tool prints */
    char *warnings[WK_INSPECT_MAX_WARNINGS];
} wk_inspect_report;

int wk_inspect_build(wk_source *s, const wk_inspect_opts *o, wk_inspect_report **out,
                     wk_err *e);
void wk_inspect_free(wk_inspect_report *r);

/* The shortest decimal ("%.*g") that reads back as the same value: as a float for a GGUF
 * f32 (1e-05, not 9.99999974737875e-06), as a double otherwise. */
void wk_inspect_float_text(uint32_t gguf_type, double v, char *buf, size_t len);

/* Fills r->meta from the source (verify/inspect/meta.c; called by wk_inspect_build). */
int wk_inspect_meta_build(const wk_source *s, bool all, wk_inspect_meta *m, wk_err *e);
void wk_inspect_meta_free(wk_inspect_meta *m);

/* Renderings as new heap strings (NULL when out of memory). */
char *wk_inspect_text(const wk_inspect_report *r);
char *wk_inspect_json(const wk_inspect_report *r);

#endif
