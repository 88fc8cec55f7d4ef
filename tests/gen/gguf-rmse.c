/* gguf-rmse: how far a quantized GGUF is from its reference (a test and benchmark helper).
 *
 * Both files are opened through wk_source_open and must hold the same tensor names with the
 * same shapes. Every tensor whose type differs between the two (with --all: every tensor)
 * is decoded through the CPU traits' to_float, so any type the table decodes compares, and
 * the squared differences are summed in double. Prints the RMSE per tensor type of OTHER
 * and over all compared tensors (text, or one JSON document with --json that also lists
 * every tensor). bench/quantize.sh uses it to set wk-quantize's RMSE beside llama-quantize's.
 *
 * Memory is bounded whatever the model: one tensor at a time, in chunks of rows (two float
 * rows of scratch per thread), dropping the mapped pages of both files once a chunk is
 * done. Rows run in parallel (OpenMP); each row's sums are kept and added in row order, so
 * the figures do not depend on the thread count. */
#include <cjson/cJSON.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "formats/source.h"
#include "kernels/traits.h"

#define CHUNK_VALUES (1u << 22) /* values per chunk of rows: 16 MiB of float per side */

typedef struct sums {
    double sq_err, sq, max_err; /* sum (x - y)^2, sum x^2, max |x - y| */
    uint64_t n;                 /* values */
    size_t tensors;
} sums;

typedef struct compared {
    const char *name;
    wk_dtype ref_type, type;
    sums s;
} compared;

static void sums_add(sums *a, const sums *b)
{
    a->sq_err += b->sq_err;
    a->sq += b->sq;
    a->max_err = b->max_err > a->max_err ? b->max_err : a->max_err;
    a->n += b->n;
    a->tensors += b->tensors;
}

static double rmse(const sums *s) { return s->n ? sqrt(s->sq_err / (double)s->n) : 0.0; }
static double rel_rmse(const sums *s) { return s->sq > 0 ? sqrt(s->sq_err / s->sq) : 0.0; }

/* Both tensors decodable, rows of whole blocks. */
static int check_pair(const wk_tensor *r, const wk_tensor *t, wk_err *e)
{
    const wk_tensor *both[2] = {r, t};
    for (int k = 0; k < 2; k++) {
        const wk_type_traits *tt = wk_type(both[k]->dtype);
        uint64_t cols = both[k]->n_dims ? both[k]->shape[both[k]->n_dims - 1] : 1;
        if (!wk_cpu_type(both[k]->dtype)->to_float)
            return wk_fail(e, "tensor '%s'%s: cannot decode type %s", t->name,
                           k ? "" : " of the reference", tt->name);
        if (cols % tt->block_size)
            return wk_fail(e, "tensor '%s': rows of %llu values are not whole %s blocks",
                           t->name, (unsigned long long)cols, tt->name);
    }
    return 0;
}

/* Rows [r0, r1) of the two tensors (rows of cols values, rb and tb bytes), one sums per row
 * into res; x holds 2 * cols floats per thread. */
static void compare_rows(const uint8_t *ref, wk_dtype rtype, size_t rb, const uint8_t *oth,
                         wk_dtype ttype, size_t tb, uint64_t cols, uint64_t r0, uint64_t r1,
                         float *x, sums *res)
{
    wk_to_float_fn rdec = wk_cpu_type(rtype)->to_float, tdec = wk_cpu_type(ttype)->to_float;
    const wk_cpu_kernels *k = wk_cpu_kernels_get();
    int64_t n = (int64_t)(r1 - r0);
#pragma omp parallel for schedule(dynamic, 1) if ((uint64_t)n * cols >= (1u << 16))
    for (int64_t i = 0; i < n; i++) {
        float *a = x + (size_t)omp_get_thread_num() * 2 * cols, *b = a + cols;
        uint64_t r = r0 + (uint64_t)i;
        rdec(ref + r * rb, a, (int64_t)cols);
        tdec(oth + r * tb, b, (int64_t)cols);
        wk_row_error err = {0};
        k->row_error(a, b, (int64_t)cols, &err);
        res[i] = (sums){err.sq_err, err.sq, err.max_err, cols, 0};
    }
}

/* The error of OTHER's tensor t against REF's tensor r, chunk by chunk. */
static int compare_tensor(wk_source *ref, size_t ri, wk_source *oth, size_t ti, sums *out,
                          wk_err *e)
{
    const wk_tensor *r = &ref->tensors[ri], *t = &oth->tensors[ti];
    if (check_pair(r, t, e))
        return -1;
    uint64_t cols = t->n_dims ? t->shape[t->n_dims - 1] : 1, rows = cols ? t->n_elements / cols : 0;
    size_t rb = cols / wk_type(r->dtype)->block_size * wk_type(r->dtype)->type_size;
    size_t tb = cols / wk_type(t->dtype)->block_size * wk_type(t->dtype)->type_size;
    uint64_t step = cols >= CHUNK_VALUES ? 1 : CHUNK_VALUES / cols;
    step = step > rows ? (rows ? rows : 1) : step;
    wk_view rv, tv;
    if (wk_source_read(ref, ri, &rv, e))
        return -1;
    if (wk_source_read(oth, ti, &tv, e)) {
        wk_view_release(&rv);
        return -1;
    }
    float *x = malloc((size_t)omp_get_max_threads() * 2 * cols * sizeof *x);
    sums *res = malloc(step * sizeof *res);
    int rc = x && res ? 0 : wk_fail(e, "tensor '%s': out of memory", t->name);
    *out = (sums){.tensors = 1};
    for (uint64_t r0 = 0; r0 < rows && rc == 0; r0 += step) {
        uint64_t r1 = rows - r0 < step ? rows : r0 + step;
        compare_rows(rv.data, r->dtype, rb, tv.data, t->dtype, tb, cols, r0, r1, x, res);
        for (uint64_t i = 0; i < r1 - r0; i++)
            sums_add(out, &res[i]);
        wk_view_drop_range(&rv, r0 * rb, (r1 - r0) * rb);
        wk_view_drop_range(&tv, r0 * tb, (r1 - r0) * tb);
    }
    free(res);
    free(x);
    wk_view_release(&tv);
    wk_view_release(&rv);
    return rc;
}

/* Every tensor of OTHER in REF with the same shape, and no tensor of REF missing. */
static int check_tensors(const wk_source *ref, const wk_source *oth, wk_err *e)
{
    for (size_t i = 0; i < oth->n_tensors; i++) {
        const wk_tensor *t = &oth->tensors[i];
        long ri = wk_source_find(ref, t->name);
        if (ri < 0)
            return wk_fail(e, "%s: tensor '%s' is not in the reference %s", oth->path, t->name,
                           ref->path);
        const wk_tensor *r = &ref->tensors[ri];
        if (r->n_dims != t->n_dims || memcmp(r->shape, t->shape, r->n_dims * sizeof *r->shape)) {
            char a[256], b[256];
            wk_shape_format(r, a, sizeof a);
            wk_shape_format(t, b, sizeof b);
            return wk_fail(e, "tensor '%s': shape %s, but %s in the reference", t->name, b, a);
        }
    }
    for (size_t i = 0; i < ref->n_tensors; i++)
        if (wk_source_find(oth, ref->tensors[i].name) < 0)
            return wk_fail(e, "%s: tensor '%s' of the reference %s is missing", oth->path,
                           ref->tensors[i].name, ref->path);
    return 0;
}

static void print_text(const wk_source *oth, const wk_source *ref, const sums *by_type,
                       const sums *all, size_t skipped)
{
    printf("%s against %s: %zu tensors compared, %zu of the same type skipped\n", oth->path,
           ref->path, all->tensors, skipped);
    printf("%-8s %8s %14s %12s %12s %12s\n", "type", "tensors", "values", "rmse", "rel_rmse",
           "max_err");
    for (int t = 0; t <= WK_DTYPE_COUNT; t++) {
        const sums *s = t < WK_DTYPE_COUNT ? &by_type[t] : all;
        if (t < WK_DTYPE_COUNT && !s->tensors)
            continue;
        printf("%-8s %8zu %14llu %12.6e %12.6e %12.6e\n",
               t < WK_DTYPE_COUNT ? wk_type((wk_dtype)t)->name : "all", s->tensors,
               (unsigned long long)s->n, rmse(s), rel_rmse(s), s->max_err);
    }
}

static void add_sums(cJSON *o, const sums *s)
{
    cJSON_AddNumberToObject(o, "values", (double)s->n);
    cJSON_AddNumberToObject(o, "rmse", rmse(s));
    cJSON_AddNumberToObject(o, "rel_rmse", rel_rmse(s));
    cJSON_AddNumberToObject(o, "max_abs_error", s->max_err);
}

static int print_json(const wk_source *oth, const wk_source *ref, const compared *c, size_t n,
                      const sums *by_type, const sums *all, size_t skipped)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "file", oth->path);
    cJSON_AddStringToObject(doc, "reference", ref->path);
    cJSON_AddNumberToObject(doc, "skipped", (double)skipped);
    cJSON *ts = cJSON_AddArrayToObject(doc, "tensors");
    for (size_t k = 0; k < n; k++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", c[k].name);
        cJSON_AddStringToObject(o, "reference_type", wk_type(c[k].ref_type)->name);
        cJSON_AddStringToObject(o, "type", wk_type(c[k].type)->name);
        add_sums(o, &c[k].s);
        cJSON_AddItemToArray(ts, o);
    }
    cJSON *types = cJSON_AddArrayToObject(doc, "types");
    for (int t = 0; t < WK_DTYPE_COUNT; t++)
        if (by_type[t].tensors) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "type", wk_type((wk_dtype)t)->name);
            cJSON_AddNumberToObject(o, "tensors", (double)by_type[t].tensors);
            add_sums(o, &by_type[t]);
            cJSON_AddItemToArray(types, o);
        }
    cJSON *tot = cJSON_AddObjectToObject(doc, "all");
    cJSON_AddNumberToObject(tot, "tensors", (double)all->tensors);
    add_sums(tot, all);
    char *text = cJSON_Print(doc);
    cJSON_Delete(doc);
    if (!text)
        return -1;
    puts(text);
    free(text);
    return 0;
}

/* Compares, then prints; c has room for every tensor of oth. */
static int run(wk_source *ref, wk_source *oth, bool every, bool json, compared *c, wk_err *e)
{
    if (check_tensors(ref, oth, e))
        return -1;
    sums by_type[WK_DTYPE_COUNT] = {0}, all = {0};
    size_t n = 0, skipped = 0;
    for (size_t i = 0; i < oth->n_tensors; i++) {
        const wk_tensor *t = &oth->tensors[i];
        size_t ri = (size_t)wk_source_find(ref, t->name);
        if (!every && ref->tensors[ri].dtype == t->dtype) {
            skipped++;
            continue;
        }
        c[n] = (compared){.name = t->name, .ref_type = ref->tensors[ri].dtype, .type = t->dtype};
        if (compare_tensor(ref, ri, oth, i, &c[n].s, e))
            return -1;
        sums_add(&by_type[t->dtype], &c[n].s);
        sums_add(&all, &c[n].s);
        n++;
    }
    if (!json)
        print_text(oth, ref, by_type, &all, skipped);
    else if (print_json(oth, ref, c, n, by_type, &all, skipped))
        return wk_fail(e, "out of memory rendering the JSON");
    return 0;
}

int main(int argc, char **argv)
{
    bool json = false, every = false;
    const wk_option options[] = {
        WK_OPT_FLAG("json", 0, &json, "one JSON document, with every tensor's figures"),
        WK_OPT_FLAG("all", 0, &every, "compare every tensor, also those of the same type"),
        WK_OPT_END,
    };
    const wk_tool tool = {
        .name = "gguf-rmse",
        .synopsis = "[--json] [--all] REFERENCE OTHER",
        .about = "Prints the root-mean-square error of OTHER's tensors against REFERENCE's "
                 "(two GGUFs with the same tensor names, e.g. an F16 file and a quantization "
                 "of it): per tensor type of OTHER and over all compared tensors. Tensors of "
                 "the same type in both are skipped unless --all. OMP_NUM_THREADS sets the "
                 "threads.",
        .options = options,
        .operand = "files",
        .min_operands = 2,
        .max_operands = 2,
    };
    char **args;
    int n_args, rc = wk_cli_parse(&tool, argc, argv, &args, &n_args);
    if (rc != WK_CLI_CONTINUE)
        return rc;
    wk_err e;
    wk_source *ref, *oth;
    if (wk_source_open(args[0], NULL, &ref, &e))
        return wk_cli_error(&tool, &e);
    if (wk_source_open(args[1], NULL, &oth, &e)) {
        wk_source_close(ref);
        return wk_cli_error(&tool, &e);
    }
    compared *c = calloc(oth->n_tensors + 1, sizeof *c);
    rc = c ? run(ref, oth, every, json, c, &e) : wk_fail(&e, "out of memory");
    free(c);
    wk_source_close(oth);
    wk_source_close(ref);
    return rc ? wk_cli_error(&tool, &e) : WK_EXIT_OK;
}
