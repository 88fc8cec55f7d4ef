/* The unpickler's machine (pickle_vm.h): operand reads, nodes, the fenced value stack,
 * sequences and the memo, each bounded by the WK_PICKLE_MAX_* limits of pickle.h. */
#include "formats/pytorch/pickle_vm.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/grow.h"
#include "common/le.h"

int wk_pk_fail(wk_pk_vm *m, const char *fmt, ...)
{
    char msg[WK_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return wk_fail(m->e, "%s offset %llu: %s", m->where,
                   (unsigned long long)(m->base + m->op_off), msg);
}

int wk_pk_take(wk_pk_vm *m, uint64_t n, const uint8_t **p)
{
    if (n > m->len - m->pos)
        return wk_pk_fail(m, "truncated pickle: needs %llu more bytes, %llu left",
                          (unsigned long long)n, (unsigned long long)(m->len - m->pos));
    *p = m->buf + m->pos;
    m->pos += n;
    return 0;
}

int wk_pk_take_uint(wk_pk_vm *m, unsigned n, uint64_t *v)
{
    const uint8_t *p = NULL;
    if (wk_pk_take(m, n, &p) != 0)
        return -1;
    *v = wk_ld_le(p, n);
    return 0;
}

wk_pval *wk_pk_node(wk_pk_vm *m, wk_pv_type t)
{
    wk_pval *v = wk_parena_alloc(m->a, sizeof *v);
    if (!v) {
        wk_pk_fail(m, "out of memory");
        return NULL;
    }
    memset(v, 0, sizeof *v);
    v->type = t;
    v->offset = m->base + m->op_off;
    return v;
}

int wk_pk_push(wk_pk_vm *m, wk_pval *v)
{
    if (!v)
        return -1;
    if (m->sp == m->scap) {
        if (m->scap >= WK_PICKLE_MAX_STACK)
            return wk_pk_fail(m, "more than %u values on the pickle stack", WK_PICKLE_MAX_STACK);
        if (wk_grow((void **)&m->stack, &m->scap, m->sp + 1, sizeof *m->stack) != 0)
            return wk_pk_fail(m, "out of memory");
    }
    m->stack[m->sp++] = v;
    return 0;
}

size_t wk_pk_fence(const wk_pk_vm *m)
{
    return m->n_marks ? m->marks[m->n_marks - 1] : 0;
}

int wk_pk_pop(wk_pk_vm *m, wk_pval **v)
{
    if (m->sp <= wk_pk_fence(m))
        return wk_pk_fail(m, "pickle stack underflow");
    *v = m->stack[--m->sp];
    return 0;
}

int wk_pk_top(wk_pk_vm *m, wk_pval **v)
{
    if (m->sp <= wk_pk_fence(m))
        return wk_pk_fail(m, "pickle stack underflow");
    *v = m->stack[m->sp - 1];
    return 0;
}

int wk_pk_pop_mark(wk_pk_vm *m, size_t *start, size_t *n)
{
    if (m->n_marks == 0)
        return wk_pk_fail(m, "no MARK on the stack");
    *start = m->marks[--m->n_marks];
    *n = m->sp - *start;
    m->sp = *start;
    return 0;
}

int wk_pk_seq_add(wk_pk_vm *m, wk_pval *s, wk_pval *v)
{
    if (s->seq.n == s->seq.cap) {
        size_t cap = s->seq.cap ? s->seq.cap * 2 : 4;
        wk_pval **ni = wk_parena_alloc(m->a, cap * sizeof *ni);
        if (!ni)
            return wk_pk_fail(m, "out of memory");
        if (s->seq.n)
            memcpy(ni, s->seq.items, s->seq.n * sizeof *ni);
        s->seq.items = ni;
        s->seq.cap = cap;
    }
    s->seq.items[s->seq.n++] = v;
    return 0;
}

wk_pval *wk_pk_seq_from(wk_pk_vm *m, wk_pv_type t, size_t start, size_t n)
{
    wk_pval *s = wk_pk_node(m, t);
    if (!s)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (wk_pk_seq_add(m, s, m->stack[start + i]) != 0)
            return NULL;
    return s;
}

int wk_pk_memo_put(wk_pk_vm *m, uint64_t idx)
{
    wk_pval *v = NULL;
    if (wk_pk_top(m, &v) != 0)
        return -1;
    if (idx >= WK_PICKLE_MAX_MEMO)
        return wk_pk_fail(m, "memo index %llu exceeds the limit of %u", (unsigned long long)idx,
                          WK_PICKLE_MAX_MEMO);
    size_t old_cap = m->memo_cap;
    if (wk_grow((void **)&m->memo, &m->memo_cap, (size_t)idx + 1, sizeof *m->memo) != 0)
        return wk_pk_fail(m, "out of memory");
    memset(m->memo + old_cap, 0, (m->memo_cap - old_cap) * sizeof *m->memo);
    if (!m->memo[idx])
        m->memo_count++;
    m->memo[idx] = v;
    return 0;
}

int wk_pk_memo_get(wk_pk_vm *m, uint64_t idx)
{
    if (idx >= m->memo_cap || !m->memo[idx])
        return wk_pk_fail(m, "memo index %llu was never stored", (unsigned long long)idx);
    return wk_pk_push(m, m->memo[idx]);
}

