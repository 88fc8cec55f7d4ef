/* Integrity checks (see integrity.h). */
#include "verify/compare/integrity.h"

#include <stdlib.h>
#include <string.h>

static int check(wk_source *s, wk_integrity *r, wk_err *e)
{
    r->n_tensors = s->n_tensors;
    r->state = wk_gguf_checksums_state(s->gguf);
    if (r->state != WK_GGUF_SUMS_STORED)
        return 0;
    if (!(r->bad = calloc(s->n_tensors ? s->n_tensors : 1, sizeof *r->bad)))
        return wk_fail(e, "out of memory");
    for (size_t i = 0; i < s->n_tensors; i++) {
        wk_view v;
        wk_err why;
        if (wk_source_read(s, i, &v, e) != 0)
            return -1;
        int rc = wk_gguf_source_check_xxh64(s, i, v.data, s->tensors[i].n_bytes, &why);
        wk_view_release(&v);
        if (rc == 0)
            r->n_matched++;
        else if (rc < 0 && !(r->bad[r->n_bad++] = strdup(why.msg)))
            return wk_fail(e, "out of memory");
    }
    return 0;
}

int wk_integrity_run(const char *path, wk_integrity *out, wk_err *e)
{
    wk_source *s;
    memset(out, 0, sizeof *out);
    if (wk_source_open(path, NULL, &s, e) != 0)
        return -1;
    int rc = strcmp(s->format, "gguf") != 0
                 ? wk_fail(e, "%s: a %s file: only GGUF files carry checksums", path, s->format)
                 : check(s, out, e);
    wk_source_close(s);
    if (rc != 0)
        wk_integrity_free(out);
    return rc;
}

void wk_integrity_free(wk_integrity *r)
{
    for (size_t i = 0; i < r->n_bad; i++)
        free(r->bad[i]);
    free(r->bad);
    memset(r, 0, sizeof *r);
}
