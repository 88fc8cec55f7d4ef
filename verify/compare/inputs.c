/* Opening the compared models (see inputs.h). */
#include "verify/compare/inputs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "formats/gguf/gguf.h"
#include "models/convert.h"

/* A checkpoint directory -> a GGUF in a fresh temporary directory, opened, then removed
 * (the mapping outlives the name). */
static int open_converted(const char *dir, wk_device device, wk_verify_input *in, wk_err *e)
{
    const char *tmp = getenv("TMPDIR");
    char tdir[4096], file[4200];
    snprintf(tdir, sizeof tdir, "%s/wk-verify-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(tdir))
        return wk_fail(e, "%s: cannot make a temporary directory in %s to convert it",
                       dir, tmp && *tmp ? tmp : "/tmp");
    snprintf(file, sizeof file, "%s/model.gguf", tdir);
    wk_convert_opts o = {.outtype = WK_OUTTYPE_AUTO, .tool = "wk-verify"};
    wk_convert_result r;
    int rc = wk_convert_hf(dir, file, &o, &r, e);
    if (rc == 0)
        rc = wk_model_open_on(file, device, &in->model, e);
    unlink(file);
    rmdir(tdir);
    in->converted = true;
    return rc;
}

int wk_verify_input_open(const char *path, wk_verify_input *in, wk_err *e)
{
    return wk_verify_input_open_on(path, WK_DEVICE_CPU, in, e);
}

int wk_verify_input_open_on(const char *path, wk_device device, wk_verify_input *in,
                            wk_err *e)
{
    struct stat st;
    memset(in, 0, sizeof *in);
    in->path = path;
    int rc = stat(path, &st) == 0 && S_ISDIR(st.st_mode)
                 ? open_converted(path, device, in, e)
                 : wk_model_open_on(path, device, &in->model, e);
    if (rc != 0) {
        wk_verify_input_close(in);
        return -1;
    }
    const wk_source *s = in->model->src;
    for (size_t i = 0; !in->converted && i < s->n_files; i++)
        in->file_bytes += wk_gguf_source_file(s, i)->size;
    for (size_t i = 0; i < s->n_tensors; i++) {
        in->tensor_bytes += s->tensors[i].n_bytes;
        in->n_params += s->tensors[i].n_elements;
    }
    return 0;
}

void wk_verify_input_close(wk_verify_input *in)
{
    wk_model_close(in->model);
    in->model = NULL;
}

uint64_t wk_vocab_fingerprint(const wk_vocab *v)
{
    uint32_t n = wk_vocab_get_info(v)->n_vocab;
    XXH64_state_t *st = XXH64_createState();
    if (!st)
        return 0;
    XXH64_reset(st, 0);
    XXH64_update(st, &n, sizeof n);
    for (uint32_t i = 0; i < n; i++) {
        size_t len = 0;
        const char *t = wk_token_text(v, (wk_token)i, &len);
        uint64_t l = len;
        XXH64_update(st, &l, sizeof l);
        if (t)
            XXH64_update(st, t, len);
    }
    uint64_t h = XXH64_digest(st);
    XXH64_freeState(st);
    return h;
}

/* At most 40 bytes of a token's text, quoted, for a message. */
static void show(const char *t, size_t len, char *buf, size_t cap)
{
    size_t k = 0;
    buf[k++] = '\'';
    for (size_t i = 0; t && i < len && i < 40 && k + 6 < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, (unsigned char)t[i] < 0x20 ? "\\x%02x" : "%c",
                              (unsigned char)t[i]);
    snprintf(buf + k, cap - k, "'");
}

int wk_verify_same_vocab(const wk_verify_input *a, const wk_verify_input *b, wk_err *e)
{
    const wk_vocab *va = wk_model_vocab(a->model, e), *vb;
    if (!va)
        return -1;
    if (!(vb = wk_model_vocab(b->model, e)))
        return -1;
    uint32_t na = wk_vocab_get_info(va)->n_vocab, nb = wk_vocab_get_info(vb)->n_vocab;
    if (na != nb || a->model->info.n_vocab != b->model->info.n_vocab)
        return wk_fail(e, "%s: a vocabulary of %u tokens (%u logits); %s has %u (%u): the "
                          "models cannot be compared",
                       b->path, nb, b->model->info.n_vocab, a->path, na, a->model->info.n_vocab);
    for (uint32_t i = 0; i < na; i++) {
        size_t la, lb;
        const char *ta = wk_token_text(va, (wk_token)i, &la);
        const char *tb = wk_token_text(vb, (wk_token)i, &lb);
        if (la != lb || (la && memcmp(ta, tb, la) != 0)) {
            char sa[256], sb[256];
            show(ta, la, sa, sizeof sa);
            show(tb, lb, sb, sizeof sb);
            return wk_fail(e, "%s: token %u is %s, but %s in %s: the vocabularies differ", b->path,
                           i, sb, sa, a->path);
        }
    }
    return 0;
}
