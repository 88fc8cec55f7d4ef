/* The tensor-source layer's own promises: views come back aligned for their element type
 * whatever the container did, and mapped views drop pages without losing data. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "formats/source.h"

/* A source over one heap buffer whose tensor starts at a chosen byte offset. */
typedef struct so_impl {
    uint8_t *raw;
    size_t shift;
} so_impl;

static int so_read(wk_source *s, size_t i, wk_view *v, wk_err *e)
{
    (void)i;
    (void)e;
    so_impl *im = s->impl;
    v->data = im->raw + im->shift;
    v->size = s->tensors[0].n_bytes;
    return 0;
}

static void so_close(wk_source *s)
{
    so_impl *im = s->impl;
    free(im->raw);
    free(im);
    wk_source_free_common(s);
}

static const wk_source_ops so_ops = {so_read, so_close};

static wk_source *so_source(wk_dtype dt, uint64_t n, size_t shift)
{
    wk_source *s = wk_source_new("test", "mem.bin");
    s->n_tensors = 1;
    s->tensors = calloc(1, sizeof *s->tensors);
    s->tensors[0].name = strdup("t");
    s->tensors[0].dtype = dt;
    s->n_files = 1;
    s->files = calloc(1, sizeof *s->files);
    s->files[0] = strdup("mem.bin");
    wk_err e;
    cr_assert_eq(wk_tensor_set_shape(&s->tensors[0], 1, &n, &e), 0, "%s", e.msg);
    so_impl *im = calloc(1, sizeof *im);
    im->raw = malloc(s->tensors[0].n_bytes + 16);
    im->shift = shift;
    for (size_t k = 0; k < s->tensors[0].n_bytes; k++)
        im->raw[shift + k] = (uint8_t)(k * 7 + 3);
    s->impl = im;
    s->ops = &so_ops;
    return s;
}

Test(source, views_are_aligned_for_their_type)
{
    static const struct { wk_dtype dt; uintptr_t align; } cases[] = {
        {WK_F32, 4}, {WK_F16, 2}, {WK_BF16, 2}, {WK_F64, 8}, {WK_I64, 8}, {WK_U8, 1},
        {WK_Q4_0, 2}, {WK_Q8_K, 4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t shift = 0; shift < 8; shift++) {
            uint64_t n = wk_type(cases[c].dt)->block_size * 3;
            wk_source *s = so_source(cases[c].dt, n, shift);
            wk_view v;
            wk_err e;
            cr_assert_eq(wk_source_read(s, 0, &v, &e), 0, "%s", e.msg);
            cr_assert_eq((uintptr_t)v.data % cases[c].align, 0, "%s shifted by %zu",
                         wk_type(cases[c].dt)->name, shift);
            cr_assert_eq(v.size, s->tensors[0].n_bytes);
            const uint8_t *b = v.data;
            for (size_t k = 0; k < v.size; k++)
                cr_assert_eq(b[k], (uint8_t)(k * 7 + 3), "byte %zu differs after the copy", k);
            /* an aligned view is the container's own memory; a copied one is owned */
            so_impl *im = s->impl;
            cr_assert_eq(v.owned != NULL, (const void *)b != (const void *)(im->raw + shift));
            wk_view_release(&v);
            wk_source_close(s);
        }
}

Test(source, out_of_range_index_names_the_source)
{
    wk_source *s = so_source(WK_F32, 4, 0);
    wk_view v;
    wk_err e;
    cr_assert_eq(wk_source_read(s, 1, &v, &e), -1);
    cr_assert(strstr(e.msg, "mem.bin") != NULL, "%s", e.msg);
    wk_source_close(s);
}
