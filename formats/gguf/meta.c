/* GGUF metadata look-ups over a parsed wk_gguf, and the value types' names and element
 * sizes (types per ggml docs/gguf.md) that the reader and writer share.
 *
 * Scalars were decoded by the reader; primitive arrays still point into the map, so their
 * elements are read here, little-endian and unaligned. Integer getters accept any integer
 * type (and bool) whose value fits; the float getter accepts any numeric type. */
#include "formats/gguf/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "common/strutil.h"

const char *wk_gguf_type_name(uint32_t vtype)
{
    /* ggml's spellings (gguf.cpp GGUF_TYPE_NAME) */
    static const char *const names[] = {"u8",  "i8",  "u16", "i16", "u32", "i32", "f32",
                                        "bool", "str", "arr", "u64", "i64", "f64"};
    return vtype < sizeof names / sizeof names[0] ? names[vtype] : "unknown";
}

unsigned wk_gguf_prim_size(uint32_t vtype)
{
    static const unsigned sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return vtype < sizeof sz / sizeof sz[0] ? sz[vtype] : 0;
}

const wk_gguf_kv *wk_gguf_find(const wk_gguf *g, const char *key)
{
    size_t n = strlen(key);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key.len == n && memcmp(g->kv[i].key.ptr, key, n) == 0)
            return &g->kv[i];
    return NULL;
}

char *wk_gguf_strdup(wk_gguf_str s)
{
    if (s.len >= SIZE_MAX)
        return NULL;
    char *p = malloc((size_t)s.len + 1);
    if (!p)
        return NULL;
    if (s.len)
        memcpy(p, s.ptr, (size_t)s.len);
    p[s.len] = '\0';
    return p;
}

int wk_gguf_get_str(const wk_gguf *g, const char *key, char **out)
{
    const wk_gguf_kv *kv = wk_gguf_find(g, key);
    if (!kv || kv->value.type != WK_GGUF_STRING)
        return -1;
    *out = wk_gguf_strdup(kv->value.str);
    return *out ? 0 : -1;
}

static bool is_unsigned(uint32_t t)
{
    return t == WK_GGUF_U8 || t == WK_GGUF_U16 || t == WK_GGUF_U32 || t == WK_GGUF_U64 ||
           t == WK_GGUF_BOOL;
}

static bool is_signed(uint32_t t)
{
    return t == WK_GGUF_I8 || t == WK_GGUF_I16 || t == WK_GGUF_I32 || t == WK_GGUF_I64;
}

int wk_gguf_get_u64(const wk_gguf *g, const char *key, uint64_t *out)
{
    const wk_gguf_kv *kv = wk_gguf_find(g, key);
    if (!kv)
        return -1;
    if (is_unsigned(kv->value.type)) {
        *out = kv->value.u;
        return 0;
    }
    if (is_signed(kv->value.type) && kv->value.i >= 0) {
        *out = (uint64_t)kv->value.i;
        return 0;
    }
    return -1;
}

int wk_gguf_get_f64(const wk_gguf *g, const char *key, double *out)
{
    const wk_gguf_kv *kv = wk_gguf_find(g, key);
    if (!kv)
        return -1;
    uint32_t t = kv->value.type;
    if (t == WK_GGUF_F32 || t == WK_GGUF_F64)
        *out = kv->value.f;
    else if (is_unsigned(t))
        *out = (double)kv->value.u;
    else if (is_signed(t))
        *out = (double)kv->value.i;
    else
        return -1;
    return 0;
}

/* Element j of a primitive array; false when arr is not one or j is out of range. */
static bool arr_elem(const wk_gguf_value *arr, uint64_t j, uint64_t *bits, unsigned *size)
{
    if (arr->type != WK_GGUF_ARRAY || j >= arr->arr.count)
        return false;
    *size = wk_gguf_prim_size(arr->arr.elem_type);
    if (*size == 0)
        return false;
    *bits = wk_ld_le(arr->arr.raw + j * *size, *size);
    return true;
}

static double bits_to_f64(uint32_t t, uint64_t bits, unsigned size)
{
    if (t == WK_GGUF_F32) {
        uint32_t b = (uint32_t)bits;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    if (t == WK_GGUF_F64) {
        double d;
        memcpy(&d, &bits, 8);
        return d;
    }
    if (is_signed(t))
        return (double)wk_sign_extend(bits, size);
    return (double)bits;
}

/* Out-of-range or non-primitive requests read as 0. */
double wk_gguf_arr_f64(const wk_gguf_value *arr, uint64_t j)
{
    uint64_t bits;
    unsigned size;
    if (!arr_elem(arr, j, &bits, &size))
        return 0.0;
    return bits_to_f64(arr->arr.elem_type, bits, size);
}

/* Negative and non-finite values read as 0; floats are truncated. */
uint64_t wk_gguf_arr_u64(const wk_gguf_value *arr, uint64_t j)
{
    uint64_t bits;
    unsigned size;
    if (!arr_elem(arr, j, &bits, &size))
        return 0;
    uint32_t t = arr->arr.elem_type;
    if (is_unsigned(t))
        return bits;
    if (is_signed(t)) {
        int64_t v = wk_sign_extend(bits, size);
        return v < 0 ? 0 : (uint64_t)v;
    }
    double d = bits_to_f64(t, bits, size);
    return d >= 0 && d < 18446744073709551616.0 ? (uint64_t)d : 0;
}

wk_gguf_value wk_gguf_arr_elem(const wk_gguf_value *arr, uint64_t j)
{
    uint32_t t = arr->arr.elem_type;
    if (arr->type != WK_GGUF_ARRAY || j >= arr->arr.count)
        return (wk_gguf_value){.type = WK_GGUF_U64};
    if (arr->arr.items)
        return arr->arr.items[j];
    wk_gguf_value v = {.type = t};
    uint64_t bits;
    unsigned size;
    arr_elem(arr, j, &bits, &size);
    if (t == WK_GGUF_F32 || t == WK_GGUF_F64)
        v.f = bits_to_f64(t, bits, size);
    else if (is_signed(t))
        v.i = wk_sign_extend(bits, size);
    else
        v.u = bits;
    return v;
}

const char *wk_gguf_str_show(wk_gguf_str s, char *buf, size_t len)
{
    const uint8_t *p = (const uint8_t *)s.ptr;
    size_t o = 0;
    for (uint64_t i = 0; i < s.len;) {
        /* printable ASCII and well-formed multi-byte UTF-8 are kept; the rest is escaped */
        unsigned n = p[i] < 0x80 ? (p[i] >= 0x20 && p[i] < 0x7f)
                                 : wk_utf8_seq_len(p + i, s.len - i);
        if (o + (n ? n : 4) + 4 > len) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (n) {
            memcpy(buf + o, p + i, n);
            o += n;
            i += n;
        } else {
            o += (size_t)snprintf(buf + o, 5, "\\x%02x", p[i]);
            i++;
        }
    }
    buf[o] = '\0';
    return buf;
}
