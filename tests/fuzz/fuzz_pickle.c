/* libFuzzer harness: the restricted unpickler (formats/pickle.h; opcodes per CPython
 * Lib/pickletools.py) on bytes in memory, then what the PyTorch reader does with the tree:
 * a bounded walk of every node, the persistent-id list, and wk_pt_collect (state dict
 * search, tensor nodes resolved into storages and checked against them). */
#include <stdlib.h>
#include <string.h>

#include "formats/pytorch/pickle.h"
#include "formats/pytorch/pytorch.h"
#include "tests/fuzz/fuzz_util.h"

/* The tree may share nodes (memo), so the walk has a budget of calls. */
static void walk(const wk_pval *v, int depth, unsigned *budget)
{
    char buf[64];
    if (*budget == 0)
        return;
    (*budget)--;
    if (!v || depth > 64)
        return;
    wk_pv_type_name(v->type);
    switch (v->type) {
    case WK_PV_STR:
    case WK_PV_BYTES:
    case WK_PV_BIGINT:
        wk_pk_escape(v->s.ptr, v->s.len, buf, sizeof buf);
        wk_pk_name_ok(v->s.ptr, v->s.len);
        break;
    case WK_PV_TUPLE:
    case WK_PV_LIST:
    case WK_PV_SET:
    case WK_PV_DICT:
        for (size_t i = 0; i < v->seq.n && *budget; i++)
            walk(v->seq.items[i], depth + 1, budget);
        break;
    case WK_PV_PERSID:
        walk(v->persid.pid, depth + 1, budget);
        break;
    case WK_PV_TENSOR:
        walk(v->tensor.storage, depth + 1, budget);
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wk_parena *a = wk_parena_new();
    if (!a)
        abort();
    /* a copy of exactly `size` bytes, so ASan sees any read past the end */
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf)
        abort();
    memcpy(buf, data, size);
    wk_pval *root;
    uint64_t used;
    wk_err e;
    if (wk_pickle_load(buf, size, "fuzz.pkl", 0, a, &root, &used, &e) == 0) {
        if (used > size)
            abort();
        unsigned budget = 100000;
        walk(root, 0, &budget);
        for (const wk_pval *p = wk_parena_persids(a); p && budget; p = p->persid.next)
            walk(p->persid.pid, 0, &budget);
        wk_pt_file *f = calloc(1, sizeof *f);
        if (!f || !(f->path = strdup("fuzz.pkl")))
            abort();
        wk_pt_collect(f, root, NULL, "fuzz.pkl", &e);
        wk_pt_file_close(f);
    }
    wk_parena_free(a);
    free(buf);
    return 0;
}
