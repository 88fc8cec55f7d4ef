/* The value tree of the restricted unpickler (pickle.h): the node arena, the allowlist of
 * globals a PyTorch state dict may name, and helpers for walking a tree. The allowlist is
 * what torch/_weights_only_unpickler.py needs for state dicts, minus everything else:
 * collections.OrderedDict, torch._utils._rebuild_tensor_v2 and _rebuild_parameter,
 * torch.Size, and the typed storage classes (torch.FloatStorage ... BoolStorage, also as
 * torch.cuda.*) with their tensor-type twins (torch.FloatTensor ...), which the old tar
 * format names. Storage classes map to wk_dtype here, the one place that knows them. */
#include <stdlib.h>
#include <string.h>

#include "common/strutil.h"
#include "formats/pytorch/pickle.h"

/* ---- arena ---- */

typedef struct pblock {
    struct pblock *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} pblock;

struct wk_parena {
    pblock *head;
    wk_pval *first_persid, *last_persid;
};

void wk_parena_add_persid(wk_parena *a, wk_pval *v)
{
    if (a->last_persid)
        a->last_persid->persid.next = v;
    else
        a->first_persid = v;
    a->last_persid = v;
}

const wk_pval *wk_parena_persids(const wk_parena *a)
{
    return a->first_persid;
}

wk_parena *wk_parena_new(void)
{
    return calloc(1, sizeof(wk_parena));
}

void wk_parena_free(wk_parena *a)
{
    if (!a)
        return;
    for (pblock *b = a->head, *n; b; b = n) {
        n = b->next;
        free(b);
    }
    free(a);
}

void *wk_parena_alloc(wk_parena *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    pblock *b = a->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > (1u << 16) ? n : (1u << 16);
        b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->used = 0;
        b->cap = cap;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += n;
    return p;
}

/* ---- the allowlist ---- */

#define STORAGE(mod, cls, dt) {mod, cls "Storage", WK_PG_STORAGE, dt}, \
                              {mod, cls "Tensor", WK_PG_TENSOR_TYPE, dt}
static const wk_pglobal allowed[] = {
    {"collections", "OrderedDict", WK_PG_ORDERED_DICT, WK_F32},
    {"torch._utils", "_rebuild_tensor_v2", WK_PG_REBUILD_TENSOR_V2, WK_F32},
    {"torch._utils", "_rebuild_parameter", WK_PG_REBUILD_PARAMETER, WK_F32},
    {"torch", "Size", WK_PG_SIZE, WK_F32},
    STORAGE("torch", "Float", WK_F32), STORAGE("torch", "Half", WK_F16),
    STORAGE("torch", "BFloat16", WK_BF16), STORAGE("torch", "Double", WK_F64),
    STORAGE("torch", "Char", WK_I8), STORAGE("torch", "Short", WK_I16),
    STORAGE("torch", "Int", WK_I32), STORAGE("torch", "Long", WK_I64),
    STORAGE("torch", "Byte", WK_U8), STORAGE("torch", "Bool", WK_BOOL),
    STORAGE("torch.cuda", "Float", WK_F32), STORAGE("torch.cuda", "Half", WK_F16),
    STORAGE("torch.cuda", "BFloat16", WK_BF16), STORAGE("torch.cuda", "Double", WK_F64),
    STORAGE("torch.cuda", "Char", WK_I8), STORAGE("torch.cuda", "Short", WK_I16),
    STORAGE("torch.cuda", "Int", WK_I32), STORAGE("torch.cuda", "Long", WK_I64),
    STORAGE("torch.cuda", "Byte", WK_U8), STORAGE("torch.cuda", "Bool", WK_BOOL),
};

const wk_pglobal *wk_pickle_find_global(const char *mod, size_t mlen, const char *name, size_t nlen)
{
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strlen(allowed[i].module) == mlen && memcmp(allowed[i].module, mod, mlen) == 0 &&
            strlen(allowed[i].name) == nlen && memcmp(allowed[i].name, name, nlen) == 0)
            return &allowed[i];
    return NULL;
}

bool wk_pv_is_str(const wk_pval *v, const char *s)
{
    return v && v->type == WK_PV_STR && v->s.len == strlen(s) && memcmp(v->s.ptr, s, v->s.len) == 0;
}

wk_pval *wk_pv_dict_get(const wk_pval *d, const char *k)
{
    if (!d || d->type != WK_PV_DICT)
        return NULL;
    wk_pval *found = NULL;
    for (size_t i = 0; i + 1 < d->seq.n; i += 2)
        if (wk_pv_is_str(d->seq.items[i], k))
            found = d->seq.items[i + 1];
    return found;
}

const char *wk_pv_type_name(wk_pv_type t)
{
    static const char *const names[] = {"None", "bool", "int", "big int", "float", "str",
                                        "bytes", "tuple", "list", "set", "dict", "global",
                                        "persistent id", "tensor"};
    return (size_t)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

const char *wk_pk_escape(const char *s, size_t n, char *buf, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f) {
            buf[k++] = (char)c;
        } else {
            static const char hex[] = "0123456789abcdef";
            buf[k++] = '\\';
            buf[k++] = 'x';
            buf[k++] = hex[c >> 4];
            buf[k++] = hex[c & 15];
        }
    }
    if (cap)
        buf[k < cap ? k : cap - 1] = 0;
    return buf;
}

bool wk_pk_name_ok(const char *s, size_t n)
{
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        unsigned len = p[i] < 0x20 || p[i] == 0x7f ? 0 : wk_utf8_seq_len(p + i, n - i);
        if (len == 0)
            return false;
        i += len;
    }
    return true;
}
