/* libFuzzer harness: a Hugging Face config.json through what wk-convert does with it before
 * touching weights: wk_hf_config_load, wk_arch_find, the architecture's plan (llama
 * hyperparameter validation, rope scaling, the tensor list) and its GGUF keys written into a
 * writer that is then aborted. */
#include <stdlib.h>

#include "models/convert.h"
#include "formats/hf_config.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_write("config.json", data, size);
    wk_hf_config *c;
    wk_err e;
    if (wk_hf_config_load(fz_tmpdir(), &c, &e) != 0)
        return 0;
    const wk_arch *a = wk_arch_find(c, &e);
    wk_conv_plan plan = {0};
    void *hp = NULL;
    if (a && a->plan(c, &hp, &plan, &e) == 0) {
        for (size_t i = 0; i < plan.n; i++)
            if (plan.t[i].values)
                fz_touch(plan.t[i].values, plan.t[i].shape[0] * sizeof(float));
        char out[256];
        snprintf(out, sizeof out, "%s/out.gguf", fz_tmpdir());
        wk_gguf_writer *w;
        if (wk_gguf_writer_open(out, &w, &e) == 0) {
            a->write_kv(hp, w, &e);
            wk_gguf_writer_abort(w);
        }
    }
    wk_conv_plan_free(&plan);
    free(hp);
    wk_hf_config_free(c);
    return 0;
}
