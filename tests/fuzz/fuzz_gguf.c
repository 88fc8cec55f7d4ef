/* libFuzzer harness: one GGUF file (ggml docs/gguf.md) through wk_gguf_open_source: every
 * metadata value walked with the accessors, the weightkit.tensor_xxh64 checksums verified,
 * every tensor read. */
#include "formats/gguf/gguf.h"
#include "tests/fuzz/fuzz_source_read.h"

static void walk_value(const wk_gguf_value *v, int depth)
{
    char buf[64];
    wk_gguf_type_name(v->type);
    if (v->type == WK_GGUF_STRING) {
        wk_gguf_str_show(v->str, buf, sizeof buf);
        fz_touch(v->str.ptr, v->str.len);
        return;
    }
    if (v->type != WK_GGUF_ARRAY || depth > 8)
        return;
    wk_gguf_type_name(v->arr.elem_type);
    uint64_t n = v->arr.count < 4096 ? v->arr.count : 4096;
    for (uint64_t j = 0; j < n; j++) {
        if (v->arr.items)
            walk_value(&v->arr.items[j], depth + 1);
        else if (v->arr.elem_type != WK_GGUF_STRING && v->arr.elem_type != WK_GGUF_ARRAY) {
            wk_gguf_arr_f64(v, j);
            wk_gguf_arr_u64(v, j);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write("model.gguf", data, size);
    wk_source *s;
    wk_err e;
    if (wk_gguf_open_source(path, &s, &e) != 0)
        return 0;
    const wk_gguf *g = s->gguf;
    char buf[64];
    for (uint64_t i = 0; i < g->n_kv; i++) {
        wk_gguf_str_show(g->kv[i].key, buf, sizeof buf);
        walk_value(&g->kv[i].value, 0);
    }
    char *str;
    if (wk_gguf_get_str(g, "general.architecture", &str) == 0)
        free(str);
    uint64_t u;
    double f;
    wk_gguf_get_u64(g, "general.alignment", &u);
    wk_gguf_get_f64(g, "llama.rope.freq_base", &f);
    wk_gguf_verify_checksums(g, &e);
    fz_read_all(s);
    return 0;
}
