/* GGUF metadata look-ups over a parsed wk_gguf (types per ggml docs/gguf.md).
 *
 * Scalars were decoded by the reader; primitive arrays still point into the map, so their
 * elements are read here, little-endian and unaligned. Integer getters accept any integer
 * type (and bool) whose value fits; the float getter accepts any numeric type. */
#include "formats/gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *wk_gguf_type_name(uint32_t vtype)
{
    /* ggml's spellings (gguf.cpp GGUF_TYPE_NAME) */
    static const char *const names[] = {"u8",  "i8",  "u16", "i16", "u32", "i32", "f32",
                                        "bool", "str", "arr", "u64", "i64", "f64"};
    return vtype < sizeof names / sizeof names[0] ? names[vtype] : "unknown";
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
    static const unsigned sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (arr->type != WK_GGUF_ARRAY || j >= arr->arr.count || arr->arr.elem_type > WK_GGUF_F64 ||
        sz[arr->arr.elem_type] == 0)
        return false;
    *size = sz[arr->arr.elem_type];
    const uint8_t *p = arr->arr.raw + j * *size;
    *bits = 0;
    for (unsigned i = 0; i < *size; i++)
        *bits |= (uint64_t)p[i] << (8 * i);
    return true;
}

static int64_t sign_extend(uint64_t bits, unsigned size)
{
    unsigned shift = 64 - 8 * size;
    return (int64_t)(bits << shift) >> shift;
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
        return (double)sign_extend(bits, size);
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
        int64_t v = sign_extend(bits, size);
        return v < 0 ? 0 : (uint64_t)v;
    }
    double d = bits_to_f64(t, bits, size);
    return d >= 0 && d < 18446744073709551616.0 ? (uint64_t)d : 0;
}

/* Length of the valid UTF-8 sequence at p (n bytes left), or 0 (RFC 3629 table 3.7). */
static unsigned utf8_len(const uint8_t *p, uint64_t n)
{
    uint8_t c = p[0];
    unsigned len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (len == 0 || len > n)
        return 0;
    uint8_t lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
    uint8_t hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
    if (p[1] < lo || p[1] > hi)
        return 0;
    for (unsigned i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xbf)
            return 0;
    return len;
}

const char *wk_gguf_str_show(wk_gguf_str s, char *buf, size_t len)
{
    const uint8_t *p = (const uint8_t *)s.ptr;
    size_t o = 0;
    for (uint64_t i = 0; i < s.len;) {
        unsigned n = p[i] >= 0x20 && p[i] < 0x7f ? 1 : utf8_len(p + i, s.len - i);
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
