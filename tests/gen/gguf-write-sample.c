/* gguf-write-sample: writes one GGUF through wk_gguf_writer holding every metadata setter's
 * type (scalars, string and primitive arrays, empty arrays, provenance), alignment 64, and
 * F32/F16/BF16/Q8_0/I32 tensors whose byte j of tensor i is (31 i + 7 j + 1) mod 256.
 * tests/e2e/test_gguf.py holds the same values and compares them with what an
 * independent reader (node-llama-cpp's readGgufFileInfo) finds in the file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "formats/gguf/gguf.h"

typedef struct {
    const char *name;
    wk_dtype type;
    uint32_t n_dims;
    uint64_t shape[4];
} sample_tensor;

static const sample_tensor TENSORS[] = {
    {"token_embd.weight", WK_F32, 2, {4, 8}},
    {"blk.0.attn_norm.weight", WK_F16, 1, {8}},
    {"blk.0.ffn_up.weight", WK_BF16, 2, {3, 8}},
    {"blk.0.attn_q.weight", WK_Q8_0, 2, {2, 64}},
    {"output.weight", WK_F32, 2, {5, 3}},
    {"rope_freqs", WK_I32, 3, {2, 1, 3}},
};
#define N_TENSORS (sizeof TENSORS / sizeof TENSORS[0])

static int set_metadata(wk_gguf_writer *w, wk_err *e)
{
    static const int8_t i8s[] = {-128, 0, 127};
    static const uint8_t u8s[] = {0, 1, 255};
    static const uint16_t u16s[] = {0, 65535};
    static const int16_t i16s[] = {-32768, 32767};
    static const uint32_t u32s[] = {4294967295u, 7};
    static const int32_t i32s[] = {-2147483647 - 1, 2147483647};
    static const float f32s[] = {0.1f, -2.5f, 3.0e38f};
    static const uint8_t bools[] = {1, 0, 1};
    static const uint64_t u64s[] = {18446744073709551615ull, 9007199254740993ull, 3};
    static const int64_t i64s[] = {-9223372036854775807ll - 1, -1};
    static const double f64s[] = {3.141592653589793, -1e-300};
    static const char *const strs[] = {"a", "", "\xc3\xbc", "with space"};
    static const char *const sources[] = {"model.safetensors", "config.json"};
    return wk_gguf_set_str(w, "general.architecture", "llama", e) ||
           wk_gguf_set_str(w, "general.name", "h\xc3\xa9llo w\xc3\xb6rld \xe2\x98\x83", e) ||
           wk_gguf_set_u32(w, "llama.context_length", 128, e) ||
           wk_gguf_set_i32(w, "test.i32", -7, e) ||
           wk_gguf_set_u64(w, "test.u64", 9223372036854775813ull, e) ||
           wk_gguf_set_u64(w, "test.u64_small", 12345, e) ||
           wk_gguf_set_f32(w, "test.f32", 0.1f, e) ||
           wk_gguf_set_bool(w, "test.bool_true", true, e) ||
           wk_gguf_set_bool(w, "test.bool_false", false, e) ||
           wk_gguf_set_str(w, "test.replaced", "old", e) ||
           wk_gguf_set_str(w, "test.replaced", "new", e) ||
           wk_gguf_set_arr_str(w, "test.arr_str", strs, 4, e) ||
           wk_gguf_set_arr_str(w, "test.arr_str_empty", NULL, 0, e) ||
           wk_gguf_set_arr(w, "test.arr_f32_empty", WK_GGUF_F32, NULL, 0, e) ||
           wk_gguf_set_arr(w, "test.arr_i8", WK_GGUF_I8, i8s, 3, e) ||
           wk_gguf_set_arr(w, "test.arr_u8", WK_GGUF_U8, u8s, 3, e) ||
           wk_gguf_set_arr(w, "test.arr_u16", WK_GGUF_U16, u16s, 2, e) ||
           wk_gguf_set_arr(w, "test.arr_i16", WK_GGUF_I16, i16s, 2, e) ||
           wk_gguf_set_arr(w, "test.arr_u32", WK_GGUF_U32, u32s, 2, e) ||
           wk_gguf_set_arr(w, "test.arr_i32", WK_GGUF_I32, i32s, 2, e) ||
           wk_gguf_set_arr(w, "test.arr_f32", WK_GGUF_F32, f32s, 3, e) ||
           wk_gguf_set_arr(w, "test.arr_bool", WK_GGUF_BOOL, bools, 3, e) ||
           wk_gguf_set_arr(w, "test.arr_u64", WK_GGUF_U64, u64s, 3, e) ||
           wk_gguf_set_arr(w, "test.arr_i64", WK_GGUF_I64, i64s, 2, e) ||
           wk_gguf_set_arr(w, "test.arr_f64", WK_GGUF_F64, f64s, 2, e) ||
           wk_gguf_set_alignment(w, 64, e) ||
           wk_gguf_set_provenance(w, "gguf-write-sample", sources, 2, e)
               ? -1
               : 0;
}

static int write_sample(const char *path, wk_err *e)
{
    wk_gguf_writer *w;
    if (wk_gguf_writer_open(path, &w, e) != 0)
        return -1;
    int rc = set_metadata(w, e);
    for (size_t i = 0; i < N_TENSORS && rc == 0; i++)
        rc = wk_gguf_add_tensor(w, TENSORS[i].name, TENSORS[i].type, TENSORS[i].n_dims,
                                TENSORS[i].shape, NULL, e);
    uint8_t buf[4096];
    for (size_t i = 0; i < N_TENSORS && rc == 0; i++) {
        uint64_t n = 1, bytes;
        for (uint32_t d = 0; d < TENSORS[i].n_dims; d++)
            n *= TENSORS[i].shape[d];
        wk_type_nbytes(TENSORS[i].type, n, &bytes, e);
        for (uint64_t j = 0; j < bytes; j++)
            buf[j] = (uint8_t)(31 * i + 7 * j + 1);
        rc = wk_gguf_write_tensor(w, buf, bytes, e);
    }
    if (rc != 0) {
        wk_gguf_writer_abort(w);
        return -1;
    }
    return wk_gguf_writer_finish(w, e);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gguf-write-sample OUT.gguf\n");
        return 2;
    }
    wk_err e;
    if (write_sample(argv[1], &e) != 0) {
        fprintf(stderr, "gguf-write-sample: error: %s\n", e.msg);
        return 1;
    }
    return 0;
}
