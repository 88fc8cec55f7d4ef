/* The restricted unpickler (see pickle.h for the design). Opcode semantics follow CPython
 * Lib/pickle.py (_Unpickler.load_*) and Lib/pickletools.py; the allowed opcodes are those of
 * torch/_weights_only_unpickler.py plus the protocol-4 framing ones (FRAME, MEMOIZE,
 * SHORT_BINUNICODE, STACK_GLOBAL) and plain data opcodes. The stack has a fence at the top
 * MARK, as in CPython's C unpickler, so no opcode can pop below it (pickle_vm.c holds the
 * machine: stack, memo, operand reads; this file holds what each opcode does). */
#include "formats/pytorch/pickle.h"

#include <stdlib.h>
#include <string.h>

#include "common/le.h"
#include "formats/pytorch/pickle_vm.h"

/* ---- data: strings, numbers ---- */

static int str_op(wk_pk_vm *m, wk_pv_type t, int len_bytes)
{
    uint64_t n;
    const uint8_t *p = NULL;
    if (wk_pk_take_uint(m, len_bytes, &n) != 0)
        return -1;
    if (len_bytes == 4 && t == WK_PV_STR && m->buf[m->op_off] == 'T' && (n >> 31))
        return wk_pk_fail(m, "negative string length");
    if (wk_pk_take(m, n, &p) != 0)
        return -1;
    wk_pval *v = wk_pk_node(m, t);
    if (!v)
        return -1;
    v->s.ptr = (const char *)p;
    v->s.len = n;
    return wk_pk_push(m, v);
}

static int long1_op(wk_pk_vm *m)
{
    uint64_t n;
    const uint8_t *p = NULL;
    if (wk_pk_take_uint(m, 1, &n) != 0 || wk_pk_take(m, n, &p) != 0)
        return -1;
    wk_pval *v = wk_pk_node(m, n > 8 ? WK_PV_BIGINT : WK_PV_INT);
    if (!v)
        return -1;
    if (n > 8) {
        v->s.ptr = (const char *)p;
        v->s.len = n;
    } else if (n > 0) {
        v->i = wk_sign_extend(wk_ld_le(p, (unsigned)n), (unsigned)n);
    }
    return wk_pk_push(m, v);
}

static int int_op(wk_pk_vm *m, unsigned nbytes, bool is_signed)
{
    uint64_t u;
    if (wk_pk_take_uint(m, nbytes, &u) != 0)
        return -1;
    wk_pval *v = wk_pk_node(m, WK_PV_INT);
    if (!v)
        return -1;
    v->i = is_signed ? wk_sign_extend(u, nbytes) : (int64_t)u;
    return wk_pk_push(m, v);
}

static int float_op(wk_pk_vm *m)
{
    const uint8_t *p = NULL;
    if (wk_pk_take(m, 8, &p) != 0)
        return -1;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = u << 8 | p[i]; /* big-endian */
    wk_pval *v = wk_pk_node(m, WK_PV_FLOAT);
    if (!v)
        return -1;
    memcpy(&v->f, &u, sizeof u);
    return wk_pk_push(m, v);
}

/* ---- globals: only the allowlist ---- */

static int not_allowed(wk_pk_vm *m, const char *mod, size_t ml, const char *name, size_t nl)
{
    char a[200], b[200];
    return wk_pk_fail(m, "global '%s.%s' is not allowed: torch.load would call it, i.e. execute "
                         "code from the file", wk_pk_escape(mod, ml, a, sizeof a),
                      wk_pk_escape(name, nl, b, sizeof b));
}

/* A "module\nname\n" pair of text lines (GLOBAL, INST). */
static int read_lines(wk_pk_vm *m, const char **mod, size_t *ml, const char **name, size_t *nl)
{
    const char **outs[2] = {mod, name};
    size_t *lens[2] = {ml, nl};
    for (int k = 0; k < 2; k++) {
        const uint8_t *s = m->buf + m->pos;
        const uint8_t *nlp = memchr(s, '\n', m->len - m->pos);
        if (!nlp)
            return wk_pk_fail(m, "truncated pickle: global name has no newline");
        *outs[k] = (const char *)s;
        *lens[k] = (size_t)(nlp - s);
        m->pos += *lens[k] + 1;
    }
    return 0;
}

static int global_push(wk_pk_vm *m, const char *mod, size_t ml, const char *name, size_t nl)
{
    const wk_pglobal *g = wk_pickle_find_global(mod, ml, name, nl);
    if (!g)
        return not_allowed(m, mod, ml, name, nl);
    wk_pval *v = wk_pk_node(m, WK_PV_GLOBAL);
    if (!v)
        return -1;
    v->global = g;
    return wk_pk_push(m, v);
}

static int global_op(wk_pk_vm *m)
{
    const char *mod, *name;
    size_t ml, nl;
    if (read_lines(m, &mod, &ml, &name, &nl) != 0)
        return -1;
    return global_push(m, mod, ml, name, nl);
}

static int stack_global_op(wk_pk_vm *m)
{
    wk_pval *mod = NULL, *name = NULL;
    if (wk_pk_pop(m, &name) != 0 || wk_pk_pop(m, &mod) != 0)
        return -1;
    if (mod->type != WK_PV_STR || name->type != WK_PV_STR)
        return wk_pk_fail(m, "STACK_GLOBAL needs two strings, got %s and %s",
                          wk_pv_type_name(mod->type), wk_pv_type_name(name->type));
    return global_push(m, mod->s.ptr, mod->s.len, name->s.ptr, name->s.len);
}

static int inst_op(wk_pk_vm *m)
{
    const char *mod, *name;
    size_t ml, nl;
    if (read_lines(m, &mod, &ml, &name, &nl) != 0)
        return -1;
    char a[200], b[200];
    return wk_pk_fail(m, "opcode INST is not allowed: torch.load would import and call '%s.%s', "
                         "i.e. execute code from the file", wk_pk_escape(mod, ml, a, sizeof a),
                      wk_pk_escape(name, nl, b, sizeof b));
}

/* ---- the allowed calls: REDUCE, NEWOBJ, BUILD ---- */

static int int_arg(const wk_pval *v, int64_t *out)
{
    if (v->type == WK_PV_INT) {
        *out = v->i;
        return 0;
    }
    if (v->type == WK_PV_BOOL) {
        *out = v->b;
        return 0;
    }
    return -1;
}

/* Tuple of non-negative ints into dims; *n gets the count. */
static int dims_arg(wk_pk_vm *m, const wk_pval *t, const char *what, uint64_t *dims, uint32_t *n)
{
    if (t->type != WK_PV_TUPLE)
        return wk_pk_fail(m, "tensor %s is a %s, expected a tuple", what, wk_pv_type_name(t->type));
    if (t->seq.n > WK_MAX_DIMS)
        return wk_pk_fail(m, "tensor has %zu dimensions; at most %d are supported", t->seq.n,
                          WK_MAX_DIMS);
    for (size_t i = 0; i < t->seq.n; i++) {
        int64_t x;
        if (int_arg(t->seq.items[i], &x) != 0 || x < 0)
            return wk_pk_fail(m, "tensor %s[%zu] is not a non-negative integer", what, i);
        dims[i] = (uint64_t)x;
    }
    *n = (uint32_t)t->seq.n;
    return 0;
}

/* _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks
 * [, metadata]) */
static int rebuild_tensor(wk_pk_vm *m, const wk_pval *args)
{
    if (args->seq.n != 6 && args->seq.n != 7)
        return wk_pk_fail(m, "_rebuild_tensor_v2 takes 6 or 7 arguments, got %zu", args->seq.n);
    wk_pval **a = args->seq.items;
    wk_pval *t = wk_pk_node(m, WK_PV_TENSOR);
    if (!t)
        return -1;
    int64_t off;
    uint32_t nst;
    if (a[0]->type != WK_PV_PERSID)
        return wk_pk_fail(m, "tensor storage is a %s, expected a persistent id",
                          wk_pv_type_name(a[0]->type));
    if (int_arg(a[1], &off) != 0 || off < 0)
        return wk_pk_fail(m, "tensor storage offset is not a non-negative integer");
    if (dims_arg(m, a[2], "size", t->tensor.shape, &t->tensor.n_dims) != 0 ||
        dims_arg(m, a[3], "stride", t->tensor.stride, &nst) != 0)
        return -1;
    if (nst != t->tensor.n_dims)
        return wk_pk_fail(m, "tensor size has %u dimensions but stride has %u", t->tensor.n_dims,
                          nst);
    t->tensor.storage = a[0];
    t->tensor.storage_offset = (uint64_t)off;
    return wk_pk_push(m, t);
}

static int reduce_op(wk_pk_vm *m)
{
    wk_pval *args = NULL, *fn = NULL;
    if (wk_pk_pop(m, &args) != 0 || wk_pk_pop(m, &fn) != 0)
        return -1;
    if (fn->type != WK_PV_GLOBAL)
        return wk_pk_fail(m, "REDUCE on a %s: only allowlisted globals may be called",
                          wk_pv_type_name(fn->type));
    if (args->type != WK_PV_TUPLE)
        return wk_pk_fail(m, "REDUCE arguments are a %s, expected a tuple",
                          wk_pv_type_name(args->type));
    const wk_pglobal *g = fn->global;
    switch (g->kind) {
    case WK_PG_ORDERED_DICT:
        if (args->seq.n != 0)
            return wk_pk_fail(m, "OrderedDict called with %zu arguments, expected none",
                              args->seq.n);
        return wk_pk_push(m, wk_pk_node(m, WK_PV_DICT));
    case WK_PG_REBUILD_TENSOR_V2:
        return rebuild_tensor(m, args);
    case WK_PG_REBUILD_PARAMETER:
        if (args->seq.n < 1 || args->seq.items[0]->type != WK_PV_TENSOR)
            return wk_pk_fail(m, "_rebuild_parameter needs a tensor as its first argument");
        return wk_pk_push(m, args->seq.items[0]);
    case WK_PG_SIZE:
        if (args->seq.n != 1 || args->seq.items[0]->type != WK_PV_TUPLE)
            return wk_pk_fail(m, "torch.Size needs one tuple argument");
        return wk_pk_push(m, args->seq.items[0]);
    default:
        return wk_pk_fail(m, "global '%s.%s' may not be called", g->module, g->name);
    }
}

static int newobj_op(wk_pk_vm *m)
{
    wk_pval *args = NULL, *cls = NULL;
    if (wk_pk_pop(m, &args) != 0 || wk_pk_pop(m, &cls) != 0)
        return -1;
    if (cls->type == WK_PV_GLOBAL && cls->global->kind == WK_PG_ORDERED_DICT &&
        args->type == WK_PV_TUPLE && args->seq.n == 0)
        return wk_pk_push(m, wk_pk_node(m, WK_PV_DICT));
    if (cls->type == WK_PV_GLOBAL)
        return wk_pk_fail(m, "NEWOBJ of '%s.%s' is not allowed: torch.load would construct it, "
                             "i.e. execute code from the file", cls->global->module,
                          cls->global->name);
    return wk_pk_fail(m, "NEWOBJ on a %s is not allowed", wk_pv_type_name(cls->type));
}

/* BUILD sets an object's state (obj.__setstate__ or __dict__.update). Only an
 * OrderedDict's attributes (a state dict's _metadata) are accepted, and ignored. */
static int build_op(wk_pk_vm *m)
{
    wk_pval *state = NULL, *obj = NULL;
    if (wk_pk_pop(m, &state) != 0 || wk_pk_top(m, &obj) != 0)
        return -1;
    if (obj->type == WK_PV_DICT &&
        (state->type == WK_PV_DICT || state->type == WK_PV_NONE || state->type == WK_PV_TUPLE))
        return 0;
    return wk_pk_fail(m, "BUILD on a %s is not allowed: torch.load would call its __setstate__, "
                         "i.e. execute code from the file", wk_pv_type_name(obj->type));
}

/* ---- containers, MARK, persistent ids ---- */

/* APPEND/SETITEM (n_top values above the container) or APPENDS/SETITEMS/ADDITEMS (the
 * values above the MARK, the container just below it). */
static int add_op(wk_pk_vm *m, size_t n_top, wk_pv_type want)
{
    size_t start = 0, n = 0;
    if (n_top) {
        if (m->sp < wk_pk_fence(m) + n_top + 1)
            return wk_pk_fail(m, "pickle stack underflow");
        start = m->sp - n_top;
        n = n_top;
        m->sp = start;
    } else if (wk_pk_pop_mark(m, &start, &n) != 0) {
        return -1;
    }
    wk_pval *c = NULL;
    if (wk_pk_top(m, &c) != 0)
        return -1;
    if (c->type != want)
        return wk_pk_fail(m, "cannot add items to a %s, expected a %s", wk_pv_type_name(c->type),
                          wk_pv_type_name(want));
    if (want == WK_PV_DICT && n % 2)
        return wk_pk_fail(m, "SETITEMS with an odd number of values");
    for (size_t i = 0; i < n; i++)
        if (wk_pk_seq_add(m, c, m->stack[start + i]) != 0)
            return -1;
    return 0;
}

/* TUPLE (n < 0: everything above the MARK), TUPLE1/2/3, FROZENSET. */
static int tuple_op(wk_pk_vm *m, int n, wk_pv_type t)
{
    size_t start = 0, count = 0;
    if (n < 0) {
        if (wk_pk_pop_mark(m, &start, &count) != 0)
            return -1;
    } else {
        if (m->sp < wk_pk_fence(m) + (size_t)n)
            return wk_pk_fail(m, "pickle stack underflow");
        count = (size_t)n;
        start = m->sp - count;
        m->sp = start;
    }
    return wk_pk_push(m, wk_pk_seq_from(m, t, start, count));
}

static int mark_op(wk_pk_vm *m)
{
    if (m->n_marks == WK_PICKLE_MAX_MARKS)
        return wk_pk_fail(m, "MARKs nested more than %d deep", WK_PICKLE_MAX_MARKS);
    m->marks[m->n_marks++] = m->sp;
    return 0;
}

static int persid_op(wk_pk_vm *m)
{
    wk_pval *pid = NULL;
    if (wk_pk_pop(m, &pid) != 0)
        return -1;
    wk_pval *v = wk_pk_node(m, WK_PV_PERSID);
    if (!v)
        return -1;
    v->persid.pid = pid;
    wk_parena_add_persid(m->a, v);
    return wk_pk_push(m, v);
}

static int simple_op(wk_pk_vm *m, wk_pv_type t, bool b)
{
    wk_pval *v = wk_pk_node(m, t);
    if (!v)
        return -1;
    v->b = b;
    return wk_pk_push(m, v);
}

/* ---- the opcode table and the loop ---- */

static int step(wk_pk_vm *m, uint8_t op, bool *stop)
{
    uint64_t u = 0;
    wk_pval *v = NULL;
    size_t start = 0, n = 0;
    switch (op) {
    case 0x80: /* PROTO */
        if (wk_pk_take_uint(m, 1, &u) != 0)
            return -1;
        if (u > 5)
            return wk_pk_fail(m, "pickle protocol %llu is not supported", (unsigned long long)u);
        return 0;
    case 0x95: /* FRAME: a length hint */
        return wk_pk_take_uint(m, 8, &u);
    case '.': /* STOP */
        *stop = true;
        return 0;
    case 'c': return global_op(m);
    case 0x93: return stack_global_op(m);
    case 'R': return reduce_op(m);
    case 0x81: return newobj_op(m);
    case 'b': return build_op(m);
    case 'Q': return persid_op(m);
    case '(': return mark_op(m);
    case 'a': return add_op(m, 1, WK_PV_LIST);
    case 'e': return add_op(m, 0, WK_PV_LIST);
    case 's': return add_op(m, 2, WK_PV_DICT);
    case 'u': return add_op(m, 0, WK_PV_DICT);
    case 0x90: return add_op(m, 0, WK_PV_SET);
    case 't': return tuple_op(m, -1, WK_PV_TUPLE);
    case ')': return tuple_op(m, 0, WK_PV_TUPLE);
    case 0x85: return tuple_op(m, 1, WK_PV_TUPLE);
    case 0x86: return tuple_op(m, 2, WK_PV_TUPLE);
    case 0x87: return tuple_op(m, 3, WK_PV_TUPLE);
    case 0x91: return tuple_op(m, -1, WK_PV_SET); /* FROZENSET */
    case ']': return simple_op(m, WK_PV_LIST, false);
    case '}': return simple_op(m, WK_PV_DICT, false);
    case 0x8f: return simple_op(m, WK_PV_SET, false);
    case 'N': return simple_op(m, WK_PV_NONE, false);
    case 0x88: return simple_op(m, WK_PV_BOOL, true);
    case 0x89: return simple_op(m, WK_PV_BOOL, false);
    case 'J': return int_op(m, 4, true);
    case 'K': return int_op(m, 1, false);
    case 'M': return int_op(m, 2, false);
    case 0x8a: return long1_op(m);
    case 'G': return float_op(m);
    case 'X': return str_op(m, WK_PV_STR, 4);
    case 0x8c: return str_op(m, WK_PV_STR, 1);  /* SHORT_BINUNICODE */
    case 0x8d: return str_op(m, WK_PV_STR, 8);  /* BINUNICODE8 */
    case 'U': return str_op(m, WK_PV_STR, 1);   /* SHORT_BINSTRING */
    case 'T': return str_op(m, WK_PV_STR, 4);   /* BINSTRING */
    case 'C': return str_op(m, WK_PV_BYTES, 1); /* SHORT_BINBYTES */
    case 'B': return str_op(m, WK_PV_BYTES, 4);
    case 0x8e: return str_op(m, WK_PV_BYTES, 8);
    case 'h': return wk_pk_take_uint(m, 1, &u) != 0 ? -1 : wk_pk_memo_get(m, u);
    case 'j': return wk_pk_take_uint(m, 4, &u) != 0 ? -1 : wk_pk_memo_get(m, u);
    case 'q': return wk_pk_take_uint(m, 1, &u) != 0 ? -1 : wk_pk_memo_put(m, u);
    case 'r': return wk_pk_take_uint(m, 4, &u) != 0 ? -1 : wk_pk_memo_put(m, u);
    case 0x94: return wk_pk_memo_put(m, m->memo_count); /* MEMOIZE */
    case '0': return wk_pk_pop(m, &v);
    case '1': return wk_pk_pop_mark(m, &start, &n);
    case '2': return wk_pk_top(m, &v) != 0 ? -1 : wk_pk_push(m, v);
    case 'i': return inst_op(m);
    case 'o':
        return wk_pk_fail(m, "opcode OBJ is not allowed: torch.load would call the class object on "
                             "the stack, i.e. execute code from the file");
    case 0x82: case 0x83: case 0x84:
        return wk_pk_fail(m, "opcode EXT%d is not allowed: torch.load would import a registered "
                             "extension, i.e. execute code from the file",
                          op == 0x82 ? 1 : op == 0x83 ? 2 : 4);
    case 0x92:
        return wk_pk_fail(m, "opcode NEWOBJ_EX is not allowed: torch.load would construct an "
                             "object, i.e. execute code from the file");
    default:
        if (op >= 0x20 && op < 0x7f)
            return wk_pk_fail(m, "unsupported pickle opcode 0x%02x ('%c')", op, op);
        return wk_pk_fail(m, "unsupported pickle opcode 0x%02x", op);
    }
}

int wk_pickle_load(const uint8_t *buf, uint64_t len, const char *where, uint64_t base,
                   wk_parena *a, wk_pval **out, uint64_t *consumed, wk_err *e)
{
    *out = NULL;
    wk_pk_vm *m = calloc(1, sizeof *m);
    if (!m)
        return wk_fail(e, "%s: out of memory", where);
    m->buf = buf;
    m->len = len > WK_PICKLE_MAX_SIZE ? WK_PICKLE_MAX_SIZE : len;
    m->base = base;
    m->where = where;
    m->a = a;
    m->e = e;
    int rc = 0;
    bool stop = false;
    while (rc == 0 && !stop) {
        m->op_off = m->pos;
        if (m->pos >= m->len) {
            rc = wk_pk_fail(m, "truncated pickle: no STOP opcode");
            break;
        }
        rc = step(m, m->buf[m->pos++], &stop);
    }
    if (rc == 0) {
        rc = wk_pk_pop(m, out);
        *consumed = m->pos;
    }
    free(m->stack);
    free(m->memo);
    free(m);
    return rc;
}
