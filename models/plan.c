/* The conversion plan's list (see plan.h). */
#include "models/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"

wk_conv_tensor *wk_conv_plan_add(wk_conv_plan *p, const char *hf_name, const char *gguf_name,
                                 uint32_t n_dims, uint64_t d0, uint64_t d1, wk_err *e)
{
    if (wk_grow((void **)&p->t, &p->cap, p->n + 1, sizeof *p->t) != 0) {
        wk_fail(e, "out of memory");
        return NULL;
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
