/* The CUDA backend's kernels and device handling, callable from plain C
 * (models/<family>_cuda.c); built only by make CUDA=1 (the .cu files here), except the
 * messages (messages.c) and the types and buffer layouts (layout.c), which every build has
 * so tests check them without a GPU; make CUDA=emu runs this interface on the host instead
 * (emulate.c), to test the backend's host code without a GPU.
 *
 * The forward pass's compute blocks, as kernels/matmul.h has them for the CPU: matrix times
 * activations reading the weights' GGUF blocks in place (one warp per weight row; the
 * activations quantized first, as the CPU engine quantizes them, for the quantized types:
 * kernels/cuda/dots.h), RMSNorm, RoPE with the KV cache store, attention over the cache,
 * SwiGLU. Kernels are queued on a stream and never synchronize; the position of the first
 * token lives in device memory, so one queued sequence of kernels for one token can be
 * captured once as a CUDA graph and replayed for every token. Errors of queued kernels
 * surface at wk_cuda_finish. Device pointers are plain void * / float *. */
#ifndef WK_KERNELS_CUDA_CUDA_H
#define WK_KERNELS_CUDA_CUDA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "kernels/cuda/dots.h"
#include "kernels/matmul.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the device ---- */

typedef struct wk_cuda_device_info {
    int index;
    char name[256];
    int cc_major, cc_minor, sm_count;
    size_t total_bytes;
    double peak_gbs;            /* 2 x memory clock x bus width, from the device's attributes */
    int driver_version;         /* the CUDA version the driver supports: 12040 = 12.4 */
    int runtime_version;        /* this build's runtime: 13000 = 13.0 */
} wk_cuda_device_info;

/* Selects device 0 (CUDA_VISIBLE_DEVICES picks which card that is) and checks that this build
 * runs there: no driver, a driver too old for the runtime, no device, and a device this
 * build has no kernels for are errors that say so (messages.c). */
int wk_cuda_open(wk_cuda_device_info *info, wk_err *e);
int wk_cuda_mem_info(size_t *free_bytes, size_t *total_bytes, wk_err *e);

/* ---- memory ---- */

void *wk_cuda_alloc(size_t n, const char *what, wk_err *e);
void wk_cuda_free(void *p);
/* Page-locked host memory (fast, asynchronous copies). */
void *wk_cuda_host_alloc(size_t n, const char *what, wk_err *e);
void wk_cuda_host_free(void *p);
/* Copies n bytes from the host to the device and waits. */
int wk_cuda_upload(void *dst, const void *src, size_t n, wk_err *e);

/* ---- streams, graphs ---- */

typedef struct wk_cuda_stream wk_cuda_stream;

int wk_cuda_stream_new(wk_cuda_stream **out, wk_err *e);
void wk_cuda_stream_free(wk_cuda_stream *s);
/* Queued copies: host to device, device to host. */
int wk_cuda_copy_in(wk_cuda_stream *s, void *dst, const void *src, size_t n, wk_err *e);
int wk_cuda_copy_out(wk_cuda_stream *s, void *dst, const void *src, size_t n, wk_err *e);
/* Waits for everything queued; the first error of a launch or a kernel, if any. */
int wk_cuda_finish(wk_cuda_stream *s, wk_err *e);
/* What is queued between begin and end becomes the stream's graph (instead of running);
 * replay queues it again. */
int wk_cuda_capture_begin(wk_cuda_stream *s, wk_err *e);
int wk_cuda_capture_end(wk_cuda_stream *s, wk_err *e);
bool wk_cuda_has_graph(const wk_cuda_stream *s);
int wk_cuda_replay(wk_cuda_stream *s, wk_err *e);

/* ---- the kernels ---- */

/* Whether the matrix products run weights of type t (F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
 * Q8_0, Q4_K, Q5_K, Q6_K), and the list for messages. */
bool wk_cuda_type_supported(wk_dtype t);
extern const char wk_cuda_types_list[];

/* Activations quantized for the products of quantized weights: the device layout of
 * kernels/cuda/dots.h (wk_cu_acts) in one buffer of wk_cuda_acts_bytes(rows, cols) bytes;
 * type WK_Q8_0, WK_Q8_1 or WK_Q8_K. Filled by wk_cuda_quantize, or on the way by
 * wk_cuda_rmsnorm and wk_cuda_swiglu. */
typedef struct wk_cuda_acts {
    void *buf;
    wk_dtype type;
} wk_cuda_acts;

/* Rows are padded to the products' tile of 8 activation rows: buffers that feed a product
 * (its activations, quantized or float) hold wk_cuda_rows(n) rows. */
#define WK_CUDA_TILE 8
int64_t wk_cuda_rows(int64_t n);
size_t wk_cuda_acts_bytes(int64_t rows, int64_t cols);

/* The arrays of an activation buffer holding rows x cols (writable; wk_cu_acts is the
 * products' read-only view): the levels, the scales (per 32, or per 256 for Q8_K), Q8_1's
 * sums per 32, Q8_K's sums per 16, each 256-aligned. */
typedef struct wk_cuda_acts_rows {
    int8_t *q;
    float *d, *s;
    int16_t *bsum;
    int64_t ldq, ldd, lds, ldb;
} wk_cuda_acts_rows;

wk_cuda_acts_rows wk_cuda_acts_layout(const wk_cuda_acts *a, int64_t rows, int64_t cols);

/* x (n, cols): the rows of embd for tokens[0..n) (a device array). */
void wk_cuda_embed(wk_cuda_stream *s, const wk_matrix *embd, const int32_t *tokens, int n,
                   float *x);
/* out (n, cols) = rmsnorm(x) * w (kernels/matmul.h's wk_rmsnorm), also quantized into q as
 * q->type when q is not NULL. */
void wk_cuda_rmsnorm(wk_cuda_stream *s, const float *x, const float *w, int n, int64_t cols,
                     float eps, float *out, const wk_cuda_acts *q);
/* q = x (n, cols) quantized as q->type. */
void wk_cuda_quantize(wk_cuda_stream *s, const float *x, int n, int64_t cols,
                      const wk_cuda_acts *q);
/* gate = silu(gate) * up (n, cols), also quantized into q when not NULL. */
void wk_cuda_swiglu(wk_cuda_stream *s, float *gate, const float *up, int n, int64_t cols,
                    const wk_cuda_acts *q);
/* y (n, cols) += b (cols) on every row. */
void wk_cuda_add_rows(wk_cuda_stream *s, float *y, const float *b, int n, int64_t cols);
/* y[i] (n, w[i].rows) = (add ? y[i] : 0) + x W_i, for count (1 to 3) matrices of one type
 * and width: x is the float activations (n, cols) for float weights, q (holding x quantized
 * as wk_vec_dot_type of the type) for quantized ones. */
void wk_cuda_matmul(wk_cuda_stream *s, int count, const wk_matrix *w, float *const *y,
                    const float *x, const wk_cuda_acts *q, int n, bool add);
/* For token t of n at position *pos + t (pos a device int): q (n, n_head * hd) rotated in
 * place, k (n, n_head_kv * hd) rotated into the layer's k_cache row *pos + t, v copied into
 * v_cache's. */
void wk_cuda_rope_store(wk_cuda_stream *s, const wk_cu_rope *r, float *q, const float *k,
                        const float *v, int n, const int32_t *pos, int n_head, int n_head_kv,
                        int hd, float *k_cache, float *v_cache);
/* out (n, n_head * hd): attention of each head of q over the layer's cache positions
 * 0 .. *pos + t, head h reading kv head h / (n_head / n_head_kv); hd at most 256. */
void wk_cuda_attention(wk_cuda_stream *s, const float *q, const float *k_cache,
                       const float *v_cache, int n, const int32_t *pos, int n_head,
                       int n_head_kv, int hd, float scale, float *out);
#define WK_CUDA_MAX_HEAD_DIM 256

/* The bandwidth of a device-to-device copy of bytes, repeated: (read + written) / time. */
int wk_cuda_copy_bandwidth(size_t bytes, int reps, double *gbs, wk_err *e);

/* ---- messages (messages.c: every build) ---- */

typedef enum wk_cuda_fault {
    WK_CUDA_NO_DRIVER,  /* the runtime found no driver (libcuda) at all */
    WK_CUDA_OLD_DRIVER, /* the driver predates the runtime */
    WK_CUDA_NO_DEVICE,  /* no device, or any other failure to count them */
    WK_CUDA_NO_IMAGE,   /* the device's architecture has no kernels in this build */
} wk_cuda_fault;

/* Fills e with the message for fault; detail is the runtime's error string; driver and
 * runtime versions as cudaDriverGetVersion gives them (12040 = 12.4); name, cc for NO_IMAGE.
 * Returns -1. */
int wk_cuda_fault_message(wk_cuda_fault fault, const char *detail, int driver, int runtime,
                          const char *name, int cc_major, int cc_minor, wk_err *e);
/* 0 when need bytes (plus a reserve for the runtime) fit in free bytes, else -1 with
 * "<what> needs X GiB of device memory, Y GiB free on <where>". */
int wk_cuda_check_fits(const char *what, size_t need, size_t free_bytes, const char *where,
                       wk_err *e);
#define WK_CUDA_RESERVE ((size_t)256 << 20)

#ifdef __cplusplus
}
#endif

#endif
