/* The CUDA backend's interface (cuda.h) run on the host: make CUDA=emu builds it instead of
 * the .cu files, so that the backend's host code (models/llama_cuda.c, the engine's dispatch,
 * the tools' --device cuda) and the GPU tests (tests/gpu/) run where there is no GPU.
 *
 * It tests the host code, not the CUDA kernels: each kernel here is plain loops, one token
 * and one row after another, with the device's per-type arithmetic and quantizing steps
 * (kernels/cuda/dots.h) and the CPU engine's softmax. What it keeps of a GPU is what host
 * code can get wrong: device memory is separate (filled with NaN bytes when allocated, so a
 * read of what was never written shows in the logits), and a stream that captures records
 * the calls and runs them only when replayed, as a CUDA graph does, so what the kernels read
 * from device memory (the position, the tokens) is read at replay. WK_CUDA_EMU_FREE sets the
 * free memory it reports (default 64 GiB), WK_CUDA_EMU_FAULT (no_driver, old_driver,
 * no_device, no_image) a reason it cannot be used. */
#include "kernels/cuda/cuda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/dot.h"

/* ---- the device ---- */

static size_t emu_free(void)
{
    const char *v = getenv("WK_CUDA_EMU_FREE");
    return v ? (size_t)strtoull(v, NULL, 10) : (size_t)64 << 30;
}

int wk_cuda_open(wk_cuda_device_info *info, wk_err *e)
{
    static const struct {
        const char *name;
        wk_cuda_fault fault;
        int driver;
    } faults[] = {{"no_driver", WK_CUDA_NO_DRIVER, 0},
                  {"old_driver", WK_CUDA_OLD_DRIVER, 12040},
                  {"no_device", WK_CUDA_NO_DEVICE, 13000},
                  {"no_image", WK_CUDA_NO_IMAGE, 13000}};
    const char *f = getenv("WK_CUDA_EMU_FAULT");
    for (size_t i = 0; f && i < sizeof faults / sizeof faults[0]; i++)
        if (strcmp(f, faults[i].name) == 0)
            return wk_cuda_fault_message(faults[i].fault, "no CUDA-capable device is detected",
                                         faults[i].driver, 13000, "host emulation", 7, 5, e);
    *info = (wk_cuda_device_info){.sm_count = 1, .total_bytes = emu_free(),
                                  .driver_version = 13000, .runtime_version = 13000};
    snprintf(info->name, sizeof info->name, "host emulation (make CUDA=emu)");
    return 0;
}

int wk_cuda_mem_info(size_t *free_bytes, size_t *total_bytes, wk_err *e)
{
    (void)e;
    *free_bytes = *total_bytes = emu_free();
    return 0;
}

void *wk_cuda_alloc(size_t n, const char *what, wk_err *e)
{
    void *p = aligned_alloc(256, (n + 255) / 256 * 256 + 256);
    if (!p)
        wk_fail(e, "cannot allocate %zu bytes of emulated device memory for %s", n, what);
    else
        memset(p, 0xff, n); /* NaN floats: what is read before it is written shows */
    return p;
}

void wk_cuda_free(void *p)
{
    free(p);
}

void *wk_cuda_host_alloc(size_t n, const char *what, wk_err *e)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        wk_fail(e, "cannot allocate %zu bytes of host memory for %s", n, what);
    return p;
}

void wk_cuda_host_free(void *p)
{
    free(p);
}

int wk_cuda_upload(void *dst, const void *src, size_t n, wk_err *e)
{
    (void)e;
    memcpy(dst, src, n);
    return 0;
}

/* ---- the kernels ---- */

typedef enum { EMBED, NORM, CHUNKS, ADD, MATMUL, ROPE, ATTENTION } op_kind;

typedef struct op {
    op_kind kind;
    wk_matrix w[3];
    float *y[3], *out, *x, *kc, *vc;
    const float *in, *b, *k, *v;
    const int32_t *ints; /* the tokens, or the position */
    int count, n, n_head, n_head_kv, hd;
    int64_t cols;
    float f; /* eps, or the attention's scale */
    bool add, has_q;
    wk_cuda_acts q;
    wk_cu_rope rope;
} op;

struct wk_cuda_stream {
    bool capturing, has_graph;
    op *ops;        /* the graph */
    size_t n, cap;
};

/* out (cols) quantized into row t of q's layout for n rows */
static void quantize(const wk_cuda_acts *q, int n, int64_t cols, int64_t t, const float *row)
{
    wk_cuda_acts_rows r = wk_cuda_acts_layout(q, wk_cuda_rows(n), cols);
    wk_cu_quantize_row(q->type, row, cols, r.q + t * r.ldq, r.d + t * r.ldd, r.s + t * r.lds,
                       r.bsum + t * r.ldb);
}

static void run_embed(const op *o)
{
    const wk_matrix *m = &o->w[0];
    size_t row = (size_t)(m->cols / wk_type(m->type)->block_size) * wk_type(m->type)->type_size;
    for (int t = 0; t < o->n; t++)
        for (int64_t i = 0; i < m->cols; i++)
            o->x[t * m->cols + i] =
                wk_cu_value(m->type, (const uint8_t *)m->data + (size_t)o->ints[t] * row, i);
}

static void run_norm(const op *o)
{
    for (int t = 0; t < o->n; t++) {
        const float *x = o->in + t * o->cols;
        float *out = o->out + t * o->cols;
        double ss = 0;
        for (int64_t i = 0; i < o->cols; i++)
            ss += (double)x[i] * x[i];
        float scale = (float)(1.0 / sqrt(ss / (double)o->cols + o->f));
        for (int64_t i = 0; i < o->cols; i++)
            out[i] = x[i] * scale * o->b[i];
        if (o->has_q)
            quantize(&o->q, o->n, o->cols, t, out);
    }
}

/* quantizing, or with b (up) SwiGLU first */
static void run_chunks(const op *o)
{
    for (int t = 0; t < o->n; t++) {
        float *x = o->x + t * o->cols;
        for (int64_t i = 0; o->b && i < o->cols; i++)
            x[i] = x[i] / (1.0f + expf(-x[i])) * o->b[t * o->cols + i];
        if (o->has_q)
            quantize(&o->q, o->n, o->cols, t, x);
    }
}

static void run_add(const op *o)
{
    for (int64_t i = 0; i < o->n * o->cols; i++)
        o->x[i] += o->b[i % o->cols];
}

static void run_matmul(const op *o)
{
    for (int m = 0; m < o->count; m++) {
        const wk_matrix *w = &o->w[m];
        size_t row = (size_t)(w->cols / wk_type(w->type)->block_size) * wk_type(w->type)->type_size;
        wk_cuda_acts_rows r = {0};
        if (o->has_q)
            r = wk_cuda_acts_layout(&o->q, wk_cuda_rows(o->n), w->cols);
        for (int t = 0; t < o->n; t++)
            for (int64_t i = 0; i < w->rows; i++) {
                const uint8_t *wr = (const uint8_t *)w->data + (size_t)i * row;
                float acc = 0;
                if (o->has_q) {
                    wk_cu_acts a = {r.q + t * r.ldq, r.d + t * r.ldd, r.s + t * r.lds,
                                    r.bsum + t * r.ldb, r.ldq, r.ldd, r.lds, r.ldb};
                    for (int64_t g = 0; g < w->cols / 32; g++)
                        wk_cu_dot(w->type, wr, g, &a, 1, &acc);
                } else {
                    for (int64_t k = 0; k < w->cols; k++)
                        acc += wk_cu_value(w->type, wr, k) * o->in[t * w->cols + k];
                }
                float *y = o->y[m] + t * w->rows + i;
                *y = o->add ? *y + acc : acc;
            }
    }
}

static void run_rope(const op *o)
{
    int64_t q_dim = (int64_t)o->n_head * o->hd, kv_dim = (int64_t)o->n_head_kv * o->hd;
    uint32_t pairs = o->rope.n_dims / 2;
    for (int t = 0; t < o->n; t++) {
        int64_t p = *o->ints + t;
        float *kc = o->kc + p * kv_dim, *vc = o->vc + p * kv_dim, *q = o->x + t * q_dim;
        memcpy(kc, o->k + t * kv_dim, (size_t)kv_dim * sizeof(float));
        memcpy(vc, o->v + t * kv_dim, (size_t)kv_dim * sizeof(float));
        for (uint32_t i = 0; i < pairs; i++) {
            double c, s;
            wk_cu_rope_cs(&o->rope, p, 2 * i, &c, &s);
            uint32_t a = o->rope.neox ? i : 2 * i, b = o->rope.neox ? i + pairs : 2 * i + 1;
            for (int h = 0; h < o->n_head + o->n_head_kv; h++) {
                float *x = h < o->n_head ? q + h * o->hd : kc + (h - o->n_head) * o->hd;
                double x0 = x[a], x1 = x[b];
                x[a] = (float)(x0 * c - x1 * s);
                x[b] = (float)(x0 * s + x1 * c);
            }
        }
    }
}

/* the CPU engine's attention (models/llama_forward.c) */
static void run_attention(const op *o)
{
    int hd = o->hd, group = o->n_head / o->n_head_kv;
    int64_t q_dim = (int64_t)o->n_head * hd, kv_dim = (int64_t)o->n_head_kv * hd;
    for (int t = 0; t < o->n; t++)
        for (int h = 0; h < o->n_head; h++) {
            int len = *o->ints + t + 1;
            const float *q = o->in + t * q_dim + h * hd;
            const float *kh = o->kc + (h / group) * hd, *vh = o->vc + (h / group) * hd;
            float *sc = malloc((size_t)len * sizeof *sc), *out = o->out + t * q_dim + h * hd;
            for (int j = 0; sc && j < len; j++) {
                float dot = 0;
                for (int i = 0; i < hd; i++)
                    dot += q[i] * kh[j * kv_dim + i];
                sc[j] = dot * o->f;
            }
            if (sc)
                wk_softmax(sc, len);
            for (int i = 0; i < hd; i++) {
                float sum = 0;
                for (int j = 0; sc && j < len; j++)
                    sum += sc[j] * vh[j * kv_dim + i];
                out[i] = sc ? sum : NAN;
            }
            free(sc);
        }
}

static void run(const op *o)
{
    switch (o->kind) {
    case EMBED: run_embed(o); break;
    case NORM: run_norm(o); break;
    case CHUNKS: run_chunks(o); break;
    case ADD: run_add(o); break;
    case MATMUL: run_matmul(o); break;
    case ROPE: run_rope(o); break;
    case ATTENTION: run_attention(o); break;
    }
}

/* Runs o now, or records it while capturing. */
static void submit(wk_cuda_stream *s, const op *o)
{
    if (!s->capturing) {
        run(o);
        return;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        op *ops = realloc(s->ops, cap * sizeof *ops);
        if (!ops)
            abort(); /* a test build's recording: nothing sensible to do */
        s->ops = ops;
        s->cap = cap;
    }
    s->ops[s->n++] = *o;
}

static void set_q(op *o, const wk_cuda_acts *q)
{
    o->has_q = q != NULL;
    if (q)
        o->q = *q;
}

void wk_cuda_embed(wk_cuda_stream *s, const wk_matrix *embd, const int32_t *tokens, int n,
                   float *x)
{
    submit(s, &(op){.kind = EMBED, .w = {*embd}, .ints = tokens, .n = n, .x = x});
}

void wk_cuda_rmsnorm(wk_cuda_stream *s, const float *x, const float *w, int n, int64_t cols,
                     float eps, float *out, const wk_cuda_acts *q)
{
    op o = {.kind = NORM, .in = x, .b = w, .n = n, .cols = cols, .f = eps, .out = out};
    set_q(&o, q);
    submit(s, &o);
}

void wk_cuda_quantize(wk_cuda_stream *s, const float *x, int n, int64_t cols,
                      const wk_cuda_acts *q)
{
    op o = {.kind = CHUNKS, .x = (float *)x, .n = n, .cols = cols}; /* only read */
    set_q(&o, q);
    submit(s, &o);
}

void wk_cuda_swiglu(wk_cuda_stream *s, float *gate, const float *up, int n, int64_t cols,
                    const wk_cuda_acts *q)
{
    op o = {.kind = CHUNKS, .x = gate, .b = up, .n = n, .cols = cols};
    set_q(&o, q);
    submit(s, &o);
}

void wk_cuda_add_rows(wk_cuda_stream *s, float *y, const float *b, int n, int64_t cols)
{
    submit(s, &(op){.kind = ADD, .x = y, .b = b, .n = n, .cols = cols});
}

void wk_cuda_matmul(wk_cuda_stream *s, int count, const wk_matrix *w, float *const *y,
                    const float *x, const wk_cuda_acts *q, int n, bool add)
{
    op o = {.kind = MATMUL, .count = count, .in = x, .n = n, .add = add};
    for (int m = 0; m < count; m++) {
        o.w[m] = w[m];
        o.y[m] = y[m];
    }
    set_q(&o, wk_vec_dot_type(w[0].type) == WK_F32 ? NULL : q);
    submit(s, &o);
}

void wk_cuda_rope_store(wk_cuda_stream *s, const wk_cu_rope *r, float *q, const float *k,
                        const float *v, int n, const int32_t *pos, int n_head, int n_head_kv,
                        int hd, float *k_cache, float *v_cache)
{
    submit(s, &(op){.kind = ROPE, .rope = *r, .x = q, .k = k, .v = v, .n = n, .ints = pos,
                    .n_head = n_head, .n_head_kv = n_head_kv, .hd = hd, .kc = k_cache,
                    .vc = v_cache});
}

void wk_cuda_attention(wk_cuda_stream *s, const float *q, const float *k_cache,
                       const float *v_cache, int n, const int32_t *pos, int n_head,
                       int n_head_kv, int hd, float scale, float *out)
{
    submit(s, &(op){.kind = ATTENTION, .in = q, .kc = (float *)k_cache,
                    .vc = (float *)v_cache, .n = n, .ints = pos, .n_head = n_head,
                    .n_head_kv = n_head_kv, .hd = hd, .f = scale, .out = out});
}

/* ---- streams and graphs ---- */

int wk_cuda_stream_new(wk_cuda_stream **out, wk_err *e)
{
    *out = calloc(1, sizeof **out);
    return *out ? 0 : wk_fail(e, "out of memory");
}

void wk_cuda_stream_free(wk_cuda_stream *s)
{
    if (s)
        free(s->ops);
    free(s);
}

int wk_cuda_copy_in(wk_cuda_stream *s, void *dst, const void *src, size_t n, wk_err *e)
{
    (void)s;
    return wk_cuda_upload(dst, src, n, e);
}

int wk_cuda_copy_out(wk_cuda_stream *s, void *dst, const void *src, size_t n, wk_err *e)
{
    (void)s;
    (void)e;
    memcpy(dst, src, n);
    return 0;
}

int wk_cuda_finish(wk_cuda_stream *s, wk_err *e)
{
    return s->capturing ? wk_fail(e, "CUDA: finish while capturing a graph") : 0;
}

int wk_cuda_capture_begin(wk_cuda_stream *s, wk_err *e)
{
    (void)e;
    s->capturing = true;
    s->n = 0;
    return 0;
}

int wk_cuda_capture_end(wk_cuda_stream *s, wk_err *e)
{
    (void)e;
    s->capturing = false;
    s->has_graph = true;
    return 0;
}

bool wk_cuda_has_graph(const wk_cuda_stream *s)
{
    return s->has_graph;
}

int wk_cuda_replay(wk_cuda_stream *s, wk_err *e)
{
    (void)e;
    for (size_t i = 0; i < s->n; i++)
        run(&s->ops[i]);
    return 0;
}

/* memcpy's bandwidth, read + written, in the units cuda-bw prints */
int wk_cuda_copy_bandwidth(size_t bytes, int reps, double *gbs, wk_err *e)
{
    char *a = malloc(bytes), *b = malloc(bytes);
    if (!a || !b) {
        free(a);
        free(b);
        return wk_fail(e, "out of memory for the bandwidth test");
    }
    memset(a, 1, bytes);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    volatile char sink = 0; /* the copies are read, so they are made */
    for (int i = 0; i < reps; i++) {
        memcpy(b, a, bytes);
        sink += b[(size_t)i % bytes];
    }
    (void)sink;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    *gbs = 2.0 * (double)bytes * reps / (s > 0 ? s : 1e-9) / 1e9;
    free(a);
    free(b);
    return 0;
}
