/* The unpickler's machine state and the helpers every opcode uses (pickle_vm.c): reading
 * operand bytes, making nodes, the value stack with its MARK fence, sequences and the memo.
 * Private to pickle.c and pickle_vm.c; the interface is pickle.h. Every helper that fails
 * has filled m->e (file, opcode offset, what was expected) and returns -1 or NULL. */
#ifndef WK_FORMATS_PYTORCH_PICKLE_VM_H
#define WK_FORMATS_PYTORCH_PICKLE_VM_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/pytorch/pickle.h"

typedef struct wk_pk_vm {
    const uint8_t *buf;
    uint64_t len, pos, op_off, base;
    const char *where;
    wk_parena *a;
    wk_pval **stack;
    size_t sp, scap;
    size_t marks[WK_PICKLE_MAX_MARKS];
    size_t n_marks;
    wk_pval **memo;
    size_t memo_cap, memo_count;
    wk_err *e;
} wk_pk_vm;

/* wk_fail with "<where> offset <opcode offset>: " before the message. Returns -1. */
int wk_pk_fail(wk_pk_vm *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The next n operand bytes (*p points into the input), or the next n-byte little-endian
 * unsigned integer; a truncated pickle fails. */
int wk_pk_take(wk_pk_vm *m, uint64_t n, const uint8_t **p);
int wk_pk_take_uint(wk_pk_vm *m, unsigned n, uint64_t *v);

/* A zeroed node of type t in the arena, stamped with the current opcode's offset. */
wk_pval *wk_pk_node(wk_pk_vm *m, wk_pv_type t);

/* The value stack. push takes NULL (a failed wk_pk_node) and fails; pop and top never reach
 * below the fence, the position of the top MARK. */
int wk_pk_push(wk_pk_vm *m, wk_pval *v);
int wk_pk_pop(wk_pk_vm *m, wk_pval **v);
int wk_pk_top(wk_pk_vm *m, wk_pval **v);
size_t wk_pk_fence(const wk_pk_vm *m);
/* Pops everything above the top MARK and the mark. The *n popped items stay readable at
 * stack[*start..] until the next push. */
int wk_pk_pop_mark(wk_pk_vm *m, size_t *start, size_t *n);

/* Appends v to the sequence s (arena storage). */
int wk_pk_seq_add(wk_pk_vm *m, wk_pval *s, wk_pval *v);
/* A new sequence of type t holding stack[start..start+n). */
wk_pval *wk_pk_seq_from(wk_pk_vm *m, wk_pv_type t, size_t start, size_t n);

/* PUT / MEMOIZE: the top of the stack into memo[idx]; GET: memo[idx] onto the stack. */
int wk_pk_memo_put(wk_pk_vm *m, uint64_t idx);
int wk_pk_memo_get(wk_pk_vm *m, uint64_t idx);

#endif
