/* st-check: a test helper that opens a model path through wk_source_open (formats/source.h),
 * reads every tensor, and prints one line per tensor:
 *   tensor <name> <dtype> <shape> <bytes> <xxh64 of the bytes, hex> <file index>
 * then one line per metadata entry ("meta <key>=<value>") and a "files <n>" line. With a
 * second argument DIR it also writes tensor i's bytes to DIR/<i>.bin for byte-exact
 * comparisons in Python. Exits 1 with "st-check: error: <message>" on stderr when the
 * model cannot be read, so the malformed-file corpus runs without the wk-* tools. */
#include <stdio.h>
#include <xxhash.h>

#include "common/cli.h"
#include "formats/source.h"

static const wk_tool TOOL = {.name = "st-check", .synopsis = "PATH [DUMP_DIR]"};

static int dump(const char *dir, size_t i, const wk_view *v, wk_err *e)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%zu.bin", dir, i);
    FILE *f = fopen(path, "wb");
    if (!f)
        return wk_fail(e, "%s: cannot create", path);
    size_t n = fwrite(v->data, 1, v->size, f);
    if (fclose(f) != 0 || n != v->size)
        return wk_fail(e, "%s: write failed", path);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 3)
        return wk_cli_usage_error(&TOOL, "expected a model path and an optional dump folder");
    wk_err e;
    wk_source *s;
    if (wk_source_open(argv[1], NULL, &s, &e) != 0)
        return wk_cli_error(&TOOL, &e);
    for (size_t i = 0; i < s->n_tensors; i++) {
        const wk_tensor *t = &s->tensors[i];
        wk_view v;
        if (wk_source_read(s, i, &v, &e) != 0) {
            wk_source_close(s);
            return wk_cli_error(&TOOL, &e);
        }
        if (argc == 3 && dump(argv[2], i, &v, &e) != 0) {
            wk_view_release(&v);
            wk_source_close(s);
            return wk_cli_error(&TOOL, &e);
        }
        char shape[256];
        wk_shape_format(t, shape, sizeof shape);
        printf("tensor %s %s %s %llu %016llx %u\n", t->name, wk_type(t->dtype)->name, shape,
               (unsigned long long)v.size, (unsigned long long)XXH64(v.data, v.size, 0),
               t->file_index);
        wk_view_release(&v);
    }
    for (size_t i = 0; i < s->n_metadata; i++)
        printf("meta %s=%s\n", s->metadata[i].key, s->metadata[i].value);
    printf("files %zu\n", s->n_files);
    wk_source_close(s);
    return WK_EXIT_OK;
}
