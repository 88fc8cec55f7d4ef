/* Models and sessions (see model.h). */
#include "engine/model.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/fileio.h"
#include "formats/gguf/gguf.h"

static const char *const DEVICE_NAMES[] = {[WK_DEVICE_CPU] = "cpu", [WK_DEVICE_CUDA] = "cuda"};

int wk_device_from_name(const char *name, wk_device *out)
{
    for (int d = 0; d < (int)(sizeof DEVICE_NAMES / sizeof DEVICE_NAMES[0]); d++)
        if (strcasecmp(name, DEVICE_NAMES[d]) == 0) {
            *out = (wk_device)d;
            return 0;
        }
    return -1;
}

const char *wk_device_name(wk_device d)
{
    return DEVICE_NAMES[d];
}

int wk_device_option(void *target, const char *value, wk_err *e)
{
    if (wk_device_from_name(value, target) != 0)
        return wk_fail(e, "unknown --device '%s' (cpu, cuda)", value);
    return 0;
}

int wk_model_open(const char *path, wk_model **out, wk_err *e)
{
    return wk_model_open_on(path, WK_DEVICE_CPU, out, e);
}

int wk_model_open_on(const char *path, wk_device device, wk_model **out, wk_err *e)
{
    *out = NULL;
#ifndef WK_CUDA
    if (device == WK_DEVICE_CUDA)
        return wk_fail(e, "this build has no CUDA support (build with make CUDA=1)");
#endif
    wk_model *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        return wk_fail(e, "out of memory");
    }
    char *arch = NULL;
    int rc = wk_source_open(path, NULL, &m->src, e);
    if (rc == 0 && strcmp(m->src->format, "gguf") != 0)
        rc = wk_fail(e, "%s: a %s model; the engine runs GGUF files (convert it with wk-convert)",
                     path, m->src->format);
    if (rc == 0 && wk_gguf_get_str(m->src->gguf, "general.architecture", &arch) != 0)
        rc = wk_fail(e, "%s: no general.architecture: not a model", path);
    if (rc == 0 && (!(m->arch = wk_arch_by_name(arch)) || !m->arch->forward))
        rc = wk_fail(e, "%s: architecture '%s' has no forward pass in weightkit (supported: llama)",
                     path, arch);
    if (rc == 0)
        rc = m->arch->load(m->src, &m->impl, &m->info, e);
    if (rc == 0 && wk_vocab_load(m->src->gguf, &m->vocab, &m->vocab_error) != 0)
        m->vocab = NULL;
    m->device = device;
    if (rc == 0 && device == WK_DEVICE_CUDA) {
        m->backend = m->arch->cuda;
        rc = m->backend ? m->backend->load(m->impl, &m->dev, e)
                        : wk_fail(e, "architecture '%s' has no CUDA forward pass in weightkit "
                                     "(run it with --device cpu)", m->arch->name);
        if (rc != 0)
            wk_fail_prefix(e, "%s", path);
    }
    /* every weight is read for every token: fault the tensor data in at once (a device
     * backend has read them all for its upload) */
    for (size_t i = 0; rc == 0 && device == WK_DEVICE_CPU && i < m->src->n_files; i++) {
        const wk_gguf *g = wk_gguf_source_file(m->src, i);
        wk_map_prefault(g->data + g->data_offset, g->size - g->data_offset);
    }
    free(arch);
    if (rc != 0) {
        wk_model_close(m);
        return -1;
    }
    *out = m;
    return 0;
}

void wk_model_close(wk_model *m)
{
    if (!m)
        return;
    if (m->dev)
        m->backend->unload(m->dev);
    if (m->impl)
        m->arch->unload(m->impl);
    wk_vocab_free(m->vocab);
    wk_source_close(m->src);
    free(m->path);
    free(m);
}

void wk_model_describe_device(const wk_model *m, char *buf, size_t len)
{
    if (m->backend)
        m->backend->describe(m->dev, buf, len);
    else
        snprintf(buf, len, "CPU, %d threads", omp_get_max_threads());
}

const wk_vocab *wk_model_vocab(const wk_model *m, wk_err *e)
{
    if (!m->vocab)
        *e = m->vocab_error;
    return m->vocab;
}

int wk_session_new(const wk_model *m, uint32_t n_ctx, uint32_t n_batch, wk_session **out,
                   wk_err *e)
{
    *out = NULL;
    wk_session *s = calloc(1, sizeof *s);
    if (!s)
        return wk_fail(e, "out of memory");
    s->model = m;
    s->n_ctx = n_ctx ? n_ctx : m->info.n_ctx_train;
    s->n_batch = n_batch ? n_batch : 512;
    if (s->n_batch > s->n_ctx)
        s->n_batch = s->n_ctx;
    int rc = m->backend ? m->backend->state_new(m->dev, s->n_ctx, s->n_batch, &s->state, e)
                        : m->arch->state_new(m->impl, s->n_ctx, s->n_batch, &s->state, e);
    if (rc != 0) {
        wk_session_free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void wk_session_free(wk_session *s)
{
    if (!s)
        return;
    if (s->model->backend)
        s->model->backend->state_free(s->state);
    else
        s->model->arch->state_free(s->state);
    free(s);
}

void wk_session_reset(wk_session *s)
{
    s->pos = 0;
}

int wk_session_eval(wk_session *s, const int32_t *tokens, int n, float *logits, bool all,
                    wk_err *e)
{
    const wk_model *m = s->model;
    if (n <= 0)
        return wk_fail(e, "no tokens to evaluate");
    if ((uint64_t)s->pos + (uint64_t)n > s->n_ctx)
        return wk_fail(e, "%u tokens in the context and %d more exceed its %u positions "
                          "(--ctx)", s->pos, n, s->n_ctx);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= m->info.n_vocab)
            return wk_fail(e, "token %d (at %d) is outside the vocabulary of %u", tokens[i], i,
                           m->info.n_vocab);
    for (int done = 0; done < n;) {
        int k = n - done < (int)s->n_batch ? n - done : (int)s->n_batch;
        /* only the cache matters before the last batch, unless every row is asked for: the
         * logits of the last batch are kept */
        float *out = all ? logits + (size_t)done * m->info.n_vocab : logits;
        if (m->backend) {
            if (m->backend->forward(m->dev, s->state, tokens + done, k, (int)s->pos, out, all,
                                    e) != 0)
                return -1;
        } else {
            m->arch->forward(m->impl, s->state, tokens + done, k, (int)s->pos, out, all);
        }
        s->pos += (uint32_t)k;
        done += k;
    }
    return 0;
}
