/* Shared by the harnesses for tensor sources (formats/source.h): reads every tensor of an
 * opened source, touches its bytes and runs wk-inspect's statistics and histogram
 * (verify/tensor_stats.h) on it, then closes the source. */
#ifndef WK_FUZZ_SOURCE_READ_H
#define WK_FUZZ_SOURCE_READ_H

#include "formats/source.h"
#include "verify/tensor_stats.h"
#include "tests/fuzz/fuzz_util.h"

static inline void fz_read_all(wk_source *s)
{
    for (size_t i = 0; i < s->n_tensors; i++) {
        wk_view v = {0};
        wk_err e;
        if (wk_source_read(s, i, &v, &e) == 0) {
            if (v.size != s->tensors[i].n_bytes)
                abort(); /* a reader must hand out exactly the declared byte size */
            fz_touch(v.data, v.size);
            wk_tensor_stats st;
            uint64_t counts[16];
            if (wk_stats_supported(s->tensors[i].dtype) &&
                wk_tensor_stats_compute(&s->tensors[i], v.data, v.size, &st, &e) == 0)
                wk_tensor_histogram(&s->tensors[i], v.data, v.size, st.min, st.max, 16, counts,
                                    &e);
            wk_view_release(&v);
        }
    }
    char shape[256];
    for (size_t i = 0; i < s->n_tensors; i++)
        wk_shape_format(&s->tensors[i], shape, sizeof shape);
    for (size_t i = 0; i < s->n_metadata; i++)
        fz_touch(s->metadata[i].value, strlen(s->metadata[i].value));
    if (s->n_tensors)
        wk_source_find(s, s->tensors[s->n_tensors - 1].name);
    wk_source_close(s);
}

#endif
