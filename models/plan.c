/* The conversion plan's list (see plan.h). */
#include "models/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wk_conv_tensor *wk_conv_plan_add(wk_conv_plan *p, const char *hf_name, const char *gguf_name,
                                 uint32_t n_dims, uint64_t d0, uint64_t d1, wk_err *e)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? 2 * p->cap : 64;
        wk_conv_tensor *t = realloc(p->t, cap * sizeof *t);
        if (!t) {
            wk_fail(e, "out of memory");
            return NULL;
        }
        p->t = t;
        p->cap = cap;
    }
    wk_conv_tensor *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    t->role = WK_ROLE_COUNT;
    snprintf(t->hf_name, sizeof t->hf_name, "%s", hf_name);
    snprintf(t->gguf_name, sizeof t->gguf_name, "%s", gguf_name);
    t->n_dims = n_dims;
    t->shape[0] = d0;
    t->shape[1] = n_dims > 1 ? d1 : 0;
    return t;
}

void wk_conv_plan_free(wk_conv_plan *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->t[i].values);
    free(p->t);
    memset(p, 0, sizeof *p);
}
