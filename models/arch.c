/* The family registry (see arch.h): which family handles a config.json, and plan entries
 * named from a family's role table. */
#include "models/arch.h"

#include <stdio.h>
#include <string.h>

#include "models/llama.h"

const wk_arch *const wk_archs[] = {&wk_arch_llama, NULL};

static void supported_list(char *buf, size_t len)
{
    size_t k = 0;
    buf[0] = '\0';
    for (size_t a = 0; wk_archs[a]; a++)
        for (size_t h = 0; wk_archs[a]->hf_archs[h]; h++)
            k += (size_t)snprintf(buf + k, k < len ? len - k : 0, "%s%s", k ? ", " : "",
                                  wk_archs[a]->hf_archs[h]);
}

const wk_arch *wk_arch_find(const wk_hf_config *c, wk_err *e)
{
    char list[512];
    supported_list(list, sizeof list);
    if (!c->architecture) {
        wk_fail(e, "%s: no \"architectures\" entry; supported: %s", c->path, list);
        return NULL;
    }
    for (size_t a = 0; wk_archs[a]; a++)
        for (size_t h = 0; wk_archs[a]->hf_archs[h]; h++)
            if (strcmp(c->architecture, wk_archs[a]->hf_archs[h]) == 0)
                return wk_archs[a];
    wk_fail(e, "%s: architecture \"%s\" is not supported; supported: %s", c->path,
            c->architecture, list);
    return NULL;
}

const wk_arch *wk_arch_by_name(const char *name)
{
    for (size_t a = 0; wk_archs[a]; a++)
        if (strcmp(wk_archs[a]->name, name) == 0)
            return wk_archs[a];
    return NULL;
}

wk_conv_tensor *wk_arch_plan_add(const wk_arch *a, wk_conv_plan *p, wk_role r, int i,
                                 const char *suffix, uint32_t n_dims, uint64_t d0, uint64_t d1,
                                 wk_err *e)
{
    char hf[WK_CONV_HF_NAME], gguf[WK_GGUF_MAX_NAME];
    if (wk_role_get(r)->per_layer)
        snprintf(hf, sizeof hf, "%s%d.%s.%s", a->hf_layer_prefix, i, a->hf_names[r], suffix);
    else
        snprintf(hf, sizeof hf, "%s.%s", a->hf_names[r], suffix);
    wk_role_gguf_name(r, i, suffix, gguf, sizeof gguf);
    wk_conv_tensor *t = wk_conv_plan_add(p, hf, gguf, n_dims, d0, d1, e);
    if (t)
        t->role = r;
    return t;
}
