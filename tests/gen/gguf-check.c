/* gguf-check: opens a file through wk_source_open (as every tool does), reads every
 * tensor's bytes and verifies weightkit.tensor_xxh64 when the file has it (in every file
 * of a split set). Used by
 * tests/e2e/test_gguf.py to prove malformed GGUFs fail cleanly. Exit 0 and one line
 * "ok: N tensors, checksums verified|absent" on success; exit 1 and
 * "gguf-check: error: <message>" on stderr otherwise. */
#include <stdint.h>
#include <stdio.h>

#include "formats/gguf/gguf.h"
#include "formats/source.h"

static int check(const char *path, wk_err *e)
{
    wk_source *s;
    if (wk_source_open(path, NULL, &s, e) != 0)
        return -1;
    if (!s->gguf) {
        wk_source_close(s);
        return wk_fail(e, "%s: not a GGUF file (opened as %s)", path, s->format);
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < s->n_tensors; i++) {
        wk_view v;
        if (wk_source_read(s, i, &v, e) != 0) {
            wk_source_close(s);
            return -1;
        }
        const uint8_t *p = v.data;
        for (uint64_t j = 0; j < v.size; j++)
            sum += p[j];
        wk_view_release(&v);
    }
    /* every file of a split set has its own checksums: verified only when all are */
    int rc = 0;
    for (size_t i = 0; i < s->n_files && rc >= 0; i++) {
        int r = wk_gguf_verify_checksums(wk_gguf_source_file(s, i), e);
        rc = r < 0 ? r : r > rc ? r : rc;
    }
    if (rc >= 0)
        printf("ok: %zu tensors, checksums %s (byte sum %llu)\n", s->n_tensors,
               rc == 0 ? "verified" : "absent", (unsigned long long)sum);
    wk_source_close(s);
    return rc < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gguf-check FILE.gguf\n");
        return 2;
    }
    wk_err e;
    if (check(argv[1], &e) != 0) {
        fprintf(stderr, "gguf-check: error: %s\n", e.msg);
        return 1;
    }
    return 0;
}
