/* Unit tests of the restricted unpickler (formats/pickle.c) and the state-dict finder
 * (formats/pytorch_state.c) on hand-assembled pickles. Opcode bytes follow CPython's
 * Lib/pickletools.py; the expected values are what Python's pickle.loads gives for the same
 * bytes (noted beside each). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "formats/pytorch/pickle.h"
#include "formats/pytorch/pytorch.h"

typedef struct pk_run {
    wk_parena *a;
    wk_pval *root;
    uint64_t used;
    wk_err e;
    int rc;
} pk_run;

static pk_run pk_load(const void *buf, size_t len)
{
    pk_run r = {0};
    r.a = wk_parena_new();
    cr_assert(r.a);
    r.rc = wk_pickle_load(buf, len, "t.bin: data.pkl", 0, r.a, &r.root, &r.used, &r.e);
    return r;
}

#define PK(lit) pk_load(lit, sizeof(lit) - 1)

/* The OrderedDict + _rebuild_tensor_v2 prologue of one tensor: a [2, 3] float tensor of
 * storage "0" (8 elements) at offset 1 with strides (1, 2), as torch.save writes it. */
#define TENSOR_V2                                                                          \
    "ctorch._utils\n_rebuild_tensor_v2\n"                                                  \
    "((X\x07\0\0\0storage" "ctorch\nFloatStorage\n" "X\x01\0\0\0" "0" "X\x03\0\0\0cpu"     \
    "K\x08tQ" "K\x01" "K\x02K\x03\x86" "K\x01K\x02\x86" "\x89"                             \
    "ccollections\nOrderedDict\n)RtR"

Test(pickle_vm, scalars_and_containers)
{
    /* pickle.loads -> (1, 300, -2, -1, 1.5, 'ab', b'\x00', None, True, l, l, {'k': 3})
     * where l = [7] twice (BINPUT, then BINGET of the same list) */
    pk_run r = PK("\x80\x02(K\x01M\x2c\x01J\xfe\xff\xff\xff\x8a\x01\xff"
                  "G\x3f\xf8\0\0\0\0\0\0" "X\x02\0\0\0ab" "C\x01\0" "N\x88"
                  "]q\x00K\x07" "ah\x00" "}X\x01\0\0\0kK\x03s" "t.");
    cr_assert_eq(r.rc, 0, "%s", r.e.msg);
    wk_pval *t = r.root;
    cr_assert_eq(t->type, WK_PV_TUPLE);
    cr_assert_eq(t->seq.n, 12);
    cr_assert_eq(t->seq.items[0]->i, 1);
    cr_assert_eq(t->seq.items[1]->i, 300);
    cr_assert_eq(t->seq.items[2]->i, -2);
    cr_assert_eq(t->seq.items[3]->i, -1);
    cr_assert_float_eq(t->seq.items[4]->f, 1.5, 0);
    cr_assert(wk_pv_is_str(t->seq.items[5], "ab"));
    cr_assert_eq(t->seq.items[6]->type, WK_PV_BYTES);
    cr_assert_eq(t->seq.items[7]->type, WK_PV_NONE);
    cr_assert(t->seq.items[8]->b);
    cr_assert_eq(t->seq.items[9], t->seq.items[10]); /* one object, memoized */
    cr_assert_eq(t->seq.items[9]->seq.n, 1);
    cr_assert_eq(t->seq.items[9]->seq.items[0]->i, 7);
    cr_assert_eq(wk_pv_dict_get(t->seq.items[11], "k")->i, 3);
    wk_parena_free(r.a);
}

Test(pickle_vm, protocol4_framing_and_memoize)
{
    /* FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL of an allowed name, BINGET 0 */
    pk_run r = PK("\x80\x04\x95\x20\0\0\0\0\0\0\0" "\x8c\x0b" "collections\x94"
                  "\x8c\x0bOrderedDict\x94\x93)R" "h\x01\x86.");
    cr_assert_eq(r.rc, 0, "%s", r.e.msg);
    cr_assert_eq(r.root->type, WK_PV_TUPLE);
    cr_assert_eq(r.root->seq.items[0]->type, WK_PV_DICT);
    cr_assert(wk_pv_is_str(r.root->seq.items[1], "OrderedDict"));
    wk_parena_free(r.a);
}

Test(pickle_vm, big_long_and_trailing_bytes)
{
    /* torch's legacy magic number, then bytes that are not part of the pickle */
    pk_run r = PK("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.TRAILING");
    cr_assert_eq(r.rc, 0, "%s", r.e.msg);
    cr_assert_eq(r.root->type, WK_PV_BIGINT);
    cr_assert_eq(r.root->s.len, 10);
    cr_assert_eq(r.used, 15);
    wk_parena_free(r.a);
}

Test(pickle_vm, tensor_rebuild)
{
    pk_run r = PK("\x80\x02" TENSOR_V2 ".");
    cr_assert_eq(r.rc, 0, "%s", r.e.msg);
    const wk_pval *t = r.root;
    cr_assert_eq(t->type, WK_PV_TENSOR);
    cr_assert_eq(t->tensor.n_dims, 2);
    cr_assert_eq(t->tensor.shape[0], 2);
    cr_assert_eq(t->tensor.shape[1], 3);
    cr_assert_eq(t->tensor.stride[0], 1);
    cr_assert_eq(t->tensor.stride[1], 2);
    cr_assert_eq(t->tensor.storage_offset, 1);
    cr_assert_eq(t->tensor.storage->type, WK_PV_PERSID);
    cr_assert_eq(wk_parena_persids(r.a), t->tensor.storage);
    wk_parena_free(r.a);
}

Test(pickle_vm, refuses_code_execution)
{
    pk_run r = PK("\x80\x02" "cos\nsystem\n" "X\x01\0\0\0x\x85R.");
    cr_assert_eq(r.rc, -1);
    cr_assert_str_eq(r.e.msg, "t.bin: data.pkl offset 2: global 'os.system' is not allowed: "
                              "torch.load would call it, i.e. execute code from the file");
    wk_parena_free(r.a);
    r = PK("\x80\x02" "X\x0a\0\0\0subprocess" "X\x05\0\0\0Popen" "\x93.");
    cr_assert_eq(r.rc, -1);
    cr_assert(strstr(r.e.msg, "offset 27: global 'subprocess.Popen' is not allowed"), "%s",
              r.e.msg);
    wk_parena_free(r.a);
    r = PK("(X\x01\0\0\0xios\nsystem\n.");
    cr_assert_eq(r.rc, -1);
    cr_assert(strstr(r.e.msg, "opcode INST is not allowed"), "%s", r.e.msg);
    wk_parena_free(r.a);
    /* an allowed name used in a way torch.load would not: a storage class called */
    r = PK("\x80\x02" "ctorch\nFloatStorage\n)R.");
    cr_assert_eq(r.rc, -1);
    cr_assert(strstr(r.e.msg, "may not be called"), "%s", r.e.msg);
    wk_parena_free(r.a);
}

Test(pickle_vm, bounds)
{
    pk_run r = PK("\x80\x02]r\xff\xff\xff\xff.");
    cr_assert_eq(r.rc, -1);
    cr_assert(strstr(r.e.msg, "exceeds the limit"), "%s", r.e.msg);
    wk_parena_free(r.a);
    r = PK("\x80\x02(]a.");
    cr_assert_eq(r.rc, -1); /* APPEND may not reach below the MARK */
    cr_assert(strstr(r.e.msg, "underflow"), "%s", r.e.msg);
    wk_parena_free(r.a);
    r = PK("\x80\x09N.");
    cr_assert_eq(r.rc, -1);
    cr_assert(strstr(r.e.msg, "protocol 9"), "%s", r.e.msg);
    wk_parena_free(r.a);
}

/* Every prefix and many corruptions of a real-looking state dict fail cleanly or load;
 * none crashes (run under the sanitizer build too). */
Test(pickle_vm, truncations_and_corruptions)
{
    static const char sd[] = "\x80\x02" "ccollections\nOrderedDict\nq\x00)Rq\x01(X\x01\0\0\0w"
                             TENSOR_V2 "X\x01\0\0\0vh\x00)Ru.";
    size_t n = sizeof sd - 1;
    pk_run r = pk_load(sd, n);
    cr_assert_eq(r.rc, 0, "%s", r.e.msg);
    wk_parena_free(r.a);
    for (size_t k = 0; k < n; k++) {
        r = pk_load(sd, k);
        cr_assert_eq(r.rc, -1, "prefix of %zu bytes loaded", k);
        cr_assert(strstr(r.e.msg, "t.bin: data.pkl offset "), "%s", r.e.msg);
        wk_parena_free(r.a);
    }
    unsigned char *buf = malloc(n);
    unsigned seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, sd, n);
        for (int f = 0; f < 1 + iter % 3; f++) {
            seed = seed * 1103515245u + 12345u;
            buf[(seed >> 8) % n] = (unsigned char)(seed >> 16);
        }
        r = pk_load(buf, n);
        cr_assert(r.rc == 0 || r.e.msg[0]);
        wk_parena_free(r.a);
    }
    free(buf);
}

Test(pickle_state, finds_wrapped_state_dicts)
{
    /* {"epoch": 1, "model": {"module": {"w": <tensor>}}} */
    pk_run r = PK("\x80\x02}(X\x05\0\0\0epochK\x01X\x05\0\0\0model}X\x06\0\0\0module}"
                  "X\x01\0\0\0w" TENSOR_V2 "ssu.");
    cr_assert_eq(r.rc, 0, "%s", r.e.msg);
    wk_pt_item *items;
    size_t n;
    wk_err e;
    cr_assert_eq(wk_pt_find_state_dict(r.root, NULL, "x", &items, &n, &e), 0, "%s", e.msg);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(items[0].name, "w");
    wk_pt_items_free(items, n);
    cr_assert_eq(wk_pt_find_state_dict(r.root, "epoch", "x", &items, &n, &e), -1);
    cr_assert(strstr(e.msg, "'epoch' is not a dict of tensors"), "%s", e.msg);
    wk_parena_free(r.a);
}

Test(pickle_state, refuses_duplicates_and_mixed_dicts)
{
    pk_run r = PK("\x80\x02}(X\x01\0\0\0a" TENSOR_V2 "X\x01\0\0\0a" TENSOR_V2 "u.");
    cr_assert_eq(r.rc, 0, "%s", r.e.msg);
    wk_pt_item *items;
    size_t n;
    wk_err e;
    cr_assert_eq(wk_pt_find_state_dict(r.root, NULL, "x", &items, &n, &e), -1);
    cr_assert(strstr(e.msg, "tensor 'a' appears twice"), "%s", e.msg);
    wk_parena_free(r.a);
    r = PK("\x80\x02}(X\x01\0\0\0a" TENSOR_V2 "X\x01\0\0\0bK\x01u.");
    cr_assert_eq(r.rc, 0, "%s", r.e.msg);
    cr_assert_eq(wk_pt_find_state_dict(r.root, NULL, "x", &items, &n, &e), -1);
    cr_assert(strstr(e.msg, "entry 'b' of the state dict is a int"), "%s", e.msg);
    wk_parena_free(r.a);
}
