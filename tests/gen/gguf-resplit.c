/* gguf-resplit: rewrites a GGUF (a single file or a split set) through wk_gguf_writer as a
 * llama.cpp split set of at most MAX_BYTES of tensor data per file (0: one file), keeping
 * every metadata value (wk_gguf_set_value) and tensor. Until wk-convert has
 * --split-max-size, this is how tests/e2e/test_gguf_split.py makes split sets of real
 * models for wk-inspect and llama.cpp (node-llama-cpp) to read. Prints the number of files
 * written. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "formats/gguf/gguf.h"

static const wk_tool TOOL = {.name = "gguf-resplit", .synopsis = "IN.gguf OUT.gguf MAX_BYTES"};

/* Keys the writer sets itself. */
static int owned_by_writer(const char *key)
{
    return strcmp(key, "weightkit.tensor_xxh64") == 0 || strncmp(key, "split.", 6) == 0;
}

static int copy_metadata(const wk_gguf *g, wk_gguf_writer *w, wk_err *e)
{
    for (uint64_t i = 0; i < g->n_kv; i++) {
        char *key = wk_gguf_strdup(g->kv[i].key);
        if (!key)
            return wk_fail(e, "out of memory");
        int rc = owned_by_writer(key) ? 0 : wk_gguf_set_value(w, key, &g->kv[i].value, e);
        free(key);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static int resplit(const char *in, const char *out, uint64_t max, wk_err *e)
{
    wk_source *s;
    if (wk_source_open(in, NULL, &s, e) != 0)
        return -1;
    wk_gguf_writer_opts o = {.max_shard_bytes = max};
    wk_gguf_writer *w = NULL;
    int rc = s->gguf ? 0 : wk_fail(e, "%s: not a GGUF", in);
    if (rc == 0)
        rc = wk_gguf_writer_open_opts(out, &o, &w, e);
    if (rc == 0)
        rc = copy_metadata(s->gguf, w, e);
    for (size_t i = 0; i < s->n_tensors && rc == 0; i++)
        rc = wk_gguf_add_tensor(w, s->tensors[i].name, s->tensors[i].dtype,
                                s->tensors[i].n_dims, s->tensors[i].shape, NULL, e);
    for (size_t i = 0; i < s->n_tensors && rc == 0; i++) {
        wk_view v;
        rc = wk_source_read(s, i, &v, e);
        if (rc == 0) {
            rc = wk_gguf_write_tensor(w, v.data, v.size, e);
            wk_view_release(&v);
        }
    }
    uint32_t files = w ? wk_gguf_writer_n_files(w) : 0;
    if (rc == 0) {
        rc = wk_gguf_writer_finish(w, e);
        if (rc == 0)
            printf("%u\n", files ? files : 1);
    } else {
        wk_gguf_writer_abort(w);
    }
    wk_source_close(s);
    return rc;
}

int main(int argc, char **argv)
{
    char *end;
    if (argc != 4)
        return wk_cli_usage_error(&TOOL, "expected IN.gguf OUT.gguf MAX_BYTES");
    uint64_t max = strtoull(argv[3], &end, 10);
    if (!argv[3][0] || *end)
        return wk_cli_usage_error(&TOOL, "MAX_BYTES is not a number: '%s'", argv[3]);
    wk_err e;
    if (resplit(argv[1], argv[2], max, &e) != 0)
        return wk_cli_error(&TOOL, &e);
    return 0;
}
