/* wk-inspect's report as text for a terminal: summary, the file's metadata, categories, the
 * tensor table, the statistics table, or one tensor's histogram as a bar chart. Names and
 * values from files are printed with control characters (C0, DEL, C1) and bytes that are
 * not UTF-8 replaced by '?' (metadata strings first escaped by wk_gguf_str_show), so a
 * hostile file cannot drive the terminal, and padded by display columns, not bytes: a UTF-8
 * character takes one column, or two in the common East Asian wide ranges (Unicode UAX
 * #11, W and F, abridged). */
#include "verify/inspect/report.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/strutil.h"

#define BAR_WIDTH 50
#define KEY_WIDTH 40       /* metadata key column */
#define CUT_STRING 100     /* strings are cut here (bytes shown), array elements at 40... */
#define CUT_ELEMENT 40
#define CUT_FULL (1 << 20) /* ...and with --meta at 1 MiB */

/* Code point of the well-formed UTF-8 sequence p[0..len). */
static uint32_t decode_utf8(const unsigned char *p, unsigned len)
{
    static const unsigned char lead_mask[5] = {0, 0x7f, 0x1f, 0x0f, 0x07};
    uint32_t c = p[0] & lead_mask[len];
    for (unsigned i = 1; i < len; i++)
        c = c << 6 | (p[i] & 0x3f);
    return c;
}

/* Columns a terminal gives code point c: 2 for the wide ranges below, else 1. */
static int columns(uint32_t c)
{
    static const uint32_t wide[][2] = {
        {0x1100, 0x115f},   /* Hangul Jamo initials */
        {0x2e80, 0xa4cf},   /* CJK radicals ... Yi, less U+303F (half-width space) */
        {0xac00, 0xd7a3},   /* Hangul syllables */
        {0xf900, 0xfaff},   /* CJK compatibility ideographs */
        {0xfe30, 0xfe4f},   /* CJK compatibility forms */
        {0xff00, 0xff60},   /* full-width forms */
        {0xffe0, 0xffe6},   /* full-width signs */
        {0x20000, 0x3fffd}, /* CJK extension planes */
    };
    if (c == 0x303f)
        return 1;
    for (size_t i = 0; i < sizeof wide / sizeof wide[0]; i++)
        if (c >= wide[i][0] && c <= wide[i][1])
            return 2;
    return 1;
}

/* The character at p (left >= 1 bytes): returns its length in bytes and sets its display
 * columns; *shown is false for what is printed as '?': a control character (C0, DEL, C1)
 * or a byte that does not start well-formed UTF-8. */
static unsigned next_char(const unsigned char *p, size_t left, int *cols, bool *shown)
{
    unsigned len = wk_utf8_seq_len(p, left);
    uint32_t c = len ? decode_utf8(p, len) : 0;
    *shown = len && c >= 0x20 && !(c >= 0x7f && c < 0xa0);
    *cols = *shown ? columns(c) : 1;
    return len ? len : 1;
}

/* Display columns of s as put_clean prints it. */
static int clean_width(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    int n = 0, cols;
    bool shown;
    while (left) {
        unsigned len = next_char(p, left, &cols, &shown);
        n += cols;
        p += len;
        left -= len;
    }
    return n;
}

/* Prints s, control characters and bad bytes as '?', then spaces up to width columns. */
static void put_clean(FILE *f, const char *s, int width)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t left = strlen(s);
    int n = 0, cols;
    bool shown;
    while (left) {
        unsigned len = next_char(p, left, &cols, &shown);
        if (shown)
            fwrite(p, 1, len, f);
        else
            fputc('?', f);
        n += cols;
        p += len;
        left -= len;
    }
    for (; n < width; n++)
        fputc(' ', f);
}

static double pct(uint64_t part, uint64_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* s escaped by wk_gguf_str_show (cut to about `cut` bytes, "..." marking the cut), then
 * put_clean: quoted, or padded to width. */
static void put_str(FILE *f, wk_gguf_str s, size_t cut, bool quote, int width)
{
    /* whole, each byte escaped at worst to 4 (\xNN); or cut: room for "..." and the NUL */
    size_t len = s.len < cut ? (size_t)s.len * 4 + 8 : cut + 8;
    char *buf = malloc(len);
    if (!buf) {
        fputs("(out of memory)", f);
        return;
    }
    wk_gguf_str_show(s, buf, len);
    if (quote)
        fputc('"', f);
    put_clean(f, buf, quote ? 0 : width);
    if (quote)
        fputc('"', f);
    free(buf);
}

static void put_cstr(FILE *f, const char *s, size_t cut, int width)
{
    put_str(f, (wk_gguf_str){s, strlen(s)}, cut, false, width);
}

static void put_value(FILE *f, const wk_gguf_value *v, bool full, bool in_array);

/* [1, 2, 3] when short; else [str x 512: "<unk>", "<s>", "</s>", ...]. */
static void put_array(FILE *f, const wk_gguf_value *a, bool full)
{
    uint64_t n = a->arr.count;
    uint64_t shown = n <= WK_INSPECT_SHORT_ARRAY ? n : WK_INSPECT_ARRAY_HEAD;
    fputc('[', f);
    if (shown < n)
        fprintf(f, "%s x %llu: ", wk_gguf_type_name(a->arr.elem_type), (unsigned long long)n);
    for (uint64_t j = 0; j < shown; j++) {
        wk_gguf_value x = wk_gguf_arr_elem(a, j);
        fputs(j ? ", " : "", f);
        put_value(f, &x, full, true);
    }
    fputs(shown < n ? ", ...]" : "]", f);
}

static void put_value(FILE *f, const wk_gguf_value *v, bool full, bool in_array)
{
    switch (v->type) {
    case WK_GGUF_U8: case WK_GGUF_U16: case WK_GGUF_U32: case WK_GGUF_U64:
        fprintf(f, "%llu", (unsigned long long)v->u);
        break;
    case WK_GGUF_I8: case WK_GGUF_I16: case WK_GGUF_I32: case WK_GGUF_I64:
        fprintf(f, "%lld", (long long)v->i);
        break;
    case WK_GGUF_F32: case WK_GGUF_F64: {
        char buf[40];
        wk_inspect_float_text(v->type, v->f, buf, sizeof buf);
        fputs(buf, f);
        break;
    }
    case WK_GGUF_BOOL:
        fputs(v->u ? "true" : "false", f);
        break;
    case WK_GGUF_STRING:
        put_str(f, v->str, full ? CUT_FULL : in_array ? CUT_ELEMENT : CUT_STRING, in_array, 0);
        break;
    case WK_GGUF_ARRAY:
        put_array(f, v, full);
        break;
    }
}

static void gguf_keys(FILE *f, const wk_inspect_report *r)
{
    const wk_inspect_meta *m = &r->meta;
    const wk_gguf *g = r->src->gguf;
    fprintf(f, "Metadata      GGUF v%u, alignment %u, ", m->gguf_version, m->alignment);
    if (m->all) {
        fprintf(f, "all %llu keys\n", (unsigned long long)g->n_kv);
    } else {
        fprintf(f, "%llu keys; general.*, ", (unsigned long long)g->n_kv);
        if (r->architecture) {
            put_clean(f, r->architecture, 0);
            fputs(".*, ", f);
        }
        fputs("weightkit.* below (--meta: all)\n", f);
    }
    const wk_gguf_kv *file_type = m->has_file_type ? wk_gguf_find(g, "general.file_type") : NULL;
    for (size_t k = 0; k < m->n_shown; k++) {
        const wk_gguf_kv *kv = m->shown[k];
        fputs("  ", f);
        put_str(f, kv->key, 256, false, KEY_WIDTH);
        fputc(' ', f);
        put_value(f, &kv->value, m->all, false);
        if (kv == file_type)
            fprintf(f, " (%s)", m->file_type_info ? m->file_type_info->name
                                                   : "unknown file type");
        fputc('\n', f);
    }
}

static void put_opt_str(FILE *f, const char *label, const wk_gguf_value *v)
{
    fputs(label, f);
    if (v)
        put_value(f, v, false, false);
    else
        fputs("unset", f);
}

static void tokenizer(FILE *f, const wk_inspect_tokenizer *t)
{
    static const char *const flag[] = {"unset", "false", "true"};
    const char *indent = "              ";
    put_opt_str(f, "Tokenizer     model ", t->model);
    put_opt_str(f, ", pre ", t->pre);
    if (t->n_tokens >= 0)
        fprintf(f, ", %lld tokens", (long long)t->n_tokens);
    for (size_t k = 0; k < t->n_special; k++) {
        fprintf(f, k ? ", " : "\n%sspecial ids: ", indent);
        put_str(f, t->special[k].name, 64, false, 0);
        fputc(' ', f);
        put_value(f, t->special[k].id, false, false);
    }
    fprintf(f, "\n%sadd_bos_token %s, add_eos_token %s\n%schat template: ", indent,
            flag[t->add_bos + 1], flag[t->add_eos + 1], indent);
    if (t->chat_template_bytes >= 0)
        fprintf(f, "%lld bytes", (long long)t->chat_template_bytes);
    else
        fputs("none", f);
    if (t->named_templates)
        fprintf(f, ", %llu named", (unsigned long long)t->named_templates);
    fputc('\n', f);
}

/* The file's own metadata: GGUF keys and the tokenizer summary, or safetensors
 * __metadata__. */
static void metadata(FILE *f, const wk_inspect_report *r)
{
    const wk_source *s = r->src;
    if (!r->meta.format)
        return;
    if (s->gguf) {
        gguf_keys(f, r);
        if (r->meta.tok.present)
            tokenizer(f, &r->meta.tok);
    } else {
        fprintf(f, "Metadata      safetensors __metadata__, %zu key%s\n", s->n_metadata,
                s->n_metadata == 1 ? "" : "s");
        for (size_t k = 0; k < s->n_metadata; k++) {
            fputs("  ", f);
            put_cstr(f, s->metadata[k].key, 256, KEY_WIDTH);
            fputc(' ', f);
            put_cstr(f, s->metadata[k].value, r->meta.all ? CUT_FULL : CUT_STRING, 0);
            fputc('\n', f);
        }
    }
    fputc('\n', f);
}

/* "verified (xxh64, 4 of 4 tensors)", "not verified (none stored)", ... */
static void checksums(FILE *f, const wk_inspect_report *r, const char *label)
{
    const wk_inspect_checksums *c = &r->checksums;
    if (!c->applies)
        return;
    fputs(label, f);
    if (c->stale)
        fputs("not verified (stale: another tool rewrote the tensors and copied weightkit's "
              "checksums)\n", f);
    else if (!c->stored)
        fputs("not verified (none stored)\n", f);
    else if (r->hist && c->verified)
        fputs("verified (xxh64)\n", f);
    else if (c->verified)
        fprintf(f, "verified (xxh64, %llu of %zu tensors)\n", (unsigned long long)c->verified,
                r->src->n_tensors);
    else
        fputs("stored, not verified (only --stats and --hist read tensor data)\n", f);
}

static void summary(FILE *f, const wk_inspect_report *r)
{
    const wk_source *s = r->src;
    char h1[32], h2[32];
    fputs("Source        ", f);
    put_clean(f, s->path, 0);
    fprintf(f, " (%s, %zu file%s)\n", s->format, s->n_files, s->n_files == 1 ? "" : "s");
    if (r->architecture || r->model_type) {
        fputs("Architecture  ", f);
        put_clean(f, r->architecture ? r->architecture : r->model_type, 0);
        if (r->architecture && r->model_type) {
            fputs(" (model_type ", f);
            put_clean(f, r->model_type, 0);
            fputc(')', f);
        }
        fputc('\n', f);
    }
    if (r->name) {
        fputs("Name          ", f);
        put_clean(f, r->name, 0);
        fputc('\n', f);
    }
    checksums(f, r, "Checksums     ");
    wk_human_count(r->total.params, h1, sizeof h1);
    wk_human_bytes(r->total.bytes, h2, sizeof h2);
    fprintf(f, "Tensors       %llu", (unsigned long long)r->total.tensors);
    if (r->total.shared)
        fprintf(f, " (%llu %s data with another; counted once below)",
                (unsigned long long)r->total.shared,
                r->total.shared == 1 ? "shares its" : "share their");
    fprintf(f, "\nParameters    %llu (%s)\nSize          %llu bytes (%s)\n\n",
            (unsigned long long)r->total.params, h1, (unsigned long long)r->total.bytes, h2);
}

static void category_line(FILE *f, const char *name, const wk_inspect_totals *c,
                          const wk_inspect_totals *all)
{
    fprintf(f, "%-12s %8llu %15llu %8.2f%% %15llu %8.2f%% %7.2f\n", name,
            (unsigned long long)c->tensors, (unsigned long long)c->params,
            pct(c->params, all->params), (unsigned long long)c->bytes,
            pct(c->bytes, all->bytes), c->params ? 8.0 * (double)c->bytes / (double)c->params : 0);
}

static void categories(FILE *f, const wk_inspect_report *r)
{
    fprintf(f, "%-12s %8s %15s %9s %15s %9s %7s\n", "Category", "Tensors", "Parameters",
            "Params%", "Bytes", "Bytes%", "Bits/w");
    for (int c = 0; c < WK_CAT_COUNT; c++)
        if (r->by_category[c].tensors)
            category_line(f, wk_category_name((wk_category)c), &r->by_category[c], &r->total);
    category_line(f, "total", &r->total, &r->total);
    fputc('\n', f);
}

static int name_width(const wk_inspect_report *r)
{
    size_t w = 6;
    for (size_t k = 0; k < r->n_rows; k++) {
        size_t n = (size_t)clean_width(r->src->tensors[r->rows[k].index].name);
        w = n > w ? n : w;
    }
    return w > 80 ? 80 : (int)w;
}

static void table(FILE *f, const wk_inspect_report *r, int nw)
{
    if (r->filter) {
        fputs("Filter '", f);
        put_clean(f, r->filter, 0);
        fprintf(f, "': %llu of %llu tensors, %llu parameters (%.2f%%), %llu bytes\n",
                (unsigned long long)r->filtered.tensors, (unsigned long long)r->total.tensors,
                (unsigned long long)r->filtered.params, pct(r->filtered.params, r->total.params),
                (unsigned long long)r->filtered.bytes);
        if (r->filter_note)
            fprintf(f, "%s\n", r->filter_note);
        fputc('\n', f);
    }
    fprintf(f, "%-*s  %-11s %5s  %-7s %-20s %13s %13s\n", nw, "Tensor", "Category", "Layer",
            "DType", "Shape", "Parameters", "Bytes");
    for (size_t k = 0; k < r->n_rows; k++) {
        const wk_inspect_row *row = &r->rows[k];
        const wk_tensor *t = &r->src->tensors[row->index];
        char shape[256], layer[16] = "-";
        wk_shape_format(t, shape, sizeof shape);
        if (row->layer >= 0)
            snprintf(layer, sizeof layer, "%d", row->layer);
        put_clean(f, t->name, nw);
        fprintf(f, "  %-11s %5s  %-7s %-20s %13llu %13llu", wk_category_name(row->category),
                layer, wk_type(t->dtype)->name, shape, (unsigned long long)t->n_elements,
                (unsigned long long)t->n_bytes);
        if (row->shares_with >= 0) {
            fputs("  = ", f);
            put_clean(f, r->src->tensors[row->shares_with].name, 0);
        }
        fputc('\n', f);
    }
}

static void stats_table(FILE *f, const wk_inspect_report *r, int nw)
{
    fputs("\nStatistics over the finite values (std: population; kurtosis: excess, "
          "Pearson - 3)\n", f);
    fprintf(f, "%-*s  %11s %11s %11s %11s %11s %11s %8s %10s %10s %6s %6s\n", nw, "Tensor",
            "Min", "Max", "Mean", "Std", "L1", "L2", "Zeros%", "Max|x|/Std", "Kurtosis", "NaN",
            "Inf");
    for (size_t k = 0; k < r->n_rows; k++) {
        const wk_inspect_row *row = &r->rows[k];
        const wk_tensor_stats *s = &row->stats;
        put_clean(f, r->src->tensors[row->index].name, nw);
        if (!row->has_stats) {
            fprintf(f, "  (%s)\n", row->note);
            continue;
        }
        fprintf(f, "  %11.4g %11.4g %11.4g %11.4g %11.4g %11.4g %7.3f%% %10.4g %10.4g %6llu %6llu\n",
                s->min, s->max, s->mean, s->std, s->l1, s->l2, 100.0 * s->zero_frac,
                s->max_abs_over_std, s->kurtosis, (unsigned long long)s->n_nan,
                (unsigned long long)s->n_inf);
    }
}

static void histogram(FILE *f, const wk_inspect_report *r)
{
    const wk_inspect_hist *h = r->hist;
    const wk_tensor *t = &r->src->tensors[h->index];
    const wk_tensor_stats *s = &h->stats;
    char shape[256];
    wk_shape_format(t, shape, sizeof shape);
    fputs("Tensor     ", f);
    put_clean(f, t->name, 0);
    fprintf(f, "\nType       %s %s, %llu values (%llu finite, %llu NaN, %llu Inf)\n",
            wk_type(t->dtype)->name, shape, (unsigned long long)s->n_elements,
            (unsigned long long)s->n_finite, (unsigned long long)s->n_nan,
            (unsigned long long)s->n_inf);
    fprintf(f, "Min / Max  %.6g / %.6g\nMean / Std %.6g / %.6g\n", s->min, s->max, s->mean,
            s->std);
    checksums(f, r, "Checksum   ");
    fputc('\n', f);
    uint64_t top = 0;
    for (uint32_t k = 0; k < h->n_bins; k++)
        top = h->counts[k] > top ? h->counts[k] : top;
    fprintf(f, "%13s %13s %12s\n", "from", "to", "count");
    double width = (h->hi - h->lo) / h->n_bins;
    for (uint32_t k = 0; k < h->n_bins; k++) {
        int bar = top ? (int)((double)h->counts[k] * BAR_WIDTH / (double)top + 0.5) : 0;
        if (bar == 0 && h->counts[k])
            bar = 1;
        fprintf(f, "%13.5g %13.5g %12llu  ", h->lo + k * width,
                k + 1 == h->n_bins ? h->hi : h->lo + (k + 1) * width,
                (unsigned long long)h->counts[k]);
        for (int b = 0; b < bar; b++)
            fputc('#', f);
        fputc('\n', f);
    }
}

char *wk_inspect_text(const wk_inspect_report *r)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return NULL;
    if (r->hist) {
        histogram(f, r);
        if (r->meta.all) {
            fputc('\n', f);
            metadata(f, r);
        }
    } else {
        int nw = name_width(r);
        summary(f, r);
        metadata(f, r);
        categories(f, r);
        table(f, r, nw);
        if (r->stats)
            stats_table(f, r, nw);
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}
