/* Decoding's products (kernels/matmul.h, wk_matvec): one activation row through one or more
 * matrices in a single parallel step (a job of the decode team, kernels/team.h, or else an
 * OpenMP parallel region).
 *
 * Decode is a stream of weight bytes, a hundred and more products per token, each a few
 * hundred microseconds on two threads. Two things cost beside the bytes: the start and end of
 * each parallel step (so the matrices that read the same row, Q, K and V or gate and up,
 * share one), and the wait at its end for the slowest thread: on a shared machine equal
 * shares of rows finish tens of microseconds apart, a quarter of a product. So the rows of
 * all the matrices are cut into chunks of about CHUNK_BYTES, and each thread owns an equal
 * contiguous run of chunks, which it takes in order (one stream for the prefetchers); a
 * thread done with its own takes what is left of the others' runs. Which thread computes a
 * row changes nothing in it. Between steps a thread would wait; wk_matvec_ahead has it fetch
 * the start of its run in the next product meanwhile (kernels/team.h's idle work). */
#include "kernels/matmul.h"

#include <assert.h>
#include <stdbool.h>

#include "kernels/ahead.h"
#include "kernels/team.h"
#include "kernels/traits.h"

/* Chunks of 32 KiB decoded the 1.1B shape at Q4_0 2-7 % slower than equal shares without
 * chunks (4 paired runs); of 128 KiB, 1-5 % faster. Against 128 KiB, alternated token by
 * token in one run (Q8_0, 800 tokens, 2 runs each): 96 KiB the same, 192-512 KiB 0.6-1.0 %
 * faster (median pass; F16 with 256 KiB 0.3-0.7 %), 1 MiB 0.6-1.1 % slower. */
#define CHUNK_BYTES (256 << 10)
#define MAX_THREADS 64 /* decode uses at most this many */
/* As in matmul.c: smaller products run on one thread. */
#define PARALLEL_MIN (1 << 20)
/* wk_matvec_ahead: the bytes of its next run a thread fetches while it waits, a piece at a
 * time (a piece: ~0.5 us of the memory's time; the lot well inside a core's L2) */
#define AHEAD_BYTES (256 << 10)
#define AHEAD_PIECE (16 << 10)

typedef struct {
    const wk_matrix *w;
    const wk_cpu_type_traits *tt;
    const void *act;     /* the activation row in the dot product's type, or prepared */
    size_t in_row;       /* bytes of a weight row */
    int64_t chunk_rows, chunks;
    float *y;
} part;

size_t wk_matvec_scratch(const wk_matrix *const *w, int k)
{
    size_t bytes = 0;
    for (int j = 0; j < k; j++) {
        const wk_cpu_type_traits *tt = wk_cpu_type(w[j]->type);
        bytes += wk_row_bytes(tt->vec_dot_type, w[j]->cols);
        if (tt->matvec)
            bytes += 64 + tt->matvec_prep_size(w[j]->cols);
    }
    return bytes;
}

/* How wk_matvec cuts w's rows: chunks of chunk_rows rows of in_row bytes; returns the count. */
static int64_t chunking(const wk_matrix *w, size_t *in_row, int64_t *chunk_rows)
{
    *in_row = wk_row_bytes(w->type, w->cols);
    /* at least one row a chunk (a row narrower than a block has no bytes) */
    *chunk_rows = *in_row && CHUNK_BYTES / *in_row > 0 ? (int64_t)(CHUNK_BYTES / *in_row) : 1;
    return (w->rows + *chunk_rows - 1) / *chunk_rows;
}

/* The threads wk_matvec gives a product of `work` multiply-adds. */
static int threads_for(int64_t work)
{
    int threads = wk_team_size() < MAX_THREADS ? wk_team_size() : MAX_THREADS;
    return work >= PARALLEL_MIN ? threads : 1;
}

/* Thread t's own run of nt: the first of its chunks of total (the next thread's first ends
 * it), an equal contiguous share. */
static int64_t run_first(int64_t total, int t, int nt)
{
    return total * t / nt;
}

static void run_chunk(const part *p, int64_t c)
{
    while (c >= p->chunks)
        c -= p++->chunks;
    int64_t r0 = c * p->chunk_rows;
    int64_t r1 = r0 + p->chunk_rows < p->w->rows ? r0 + p->chunk_rows : p->w->rows;
    const uint8_t *rows = (const uint8_t *)p->w->data + (size_t)r0 * p->in_row;
    if (p->tt->matvec) {
        p->tt->matvec(p->w->cols, r1 - r0, p->y + r0, rows, p->in_row, p->act);
        return;
    }
    for (int64_t r = r0; r < r1; r++, rows += p->in_row)
        p->tt->vec_dot(p->w->cols, &p->y[r], rows, p->act);
}

typedef struct {
    const part *parts;
    int64_t total; /* chunks of all the parts */
    struct {
        _Alignas(64) int64_t taken;
    } next[MAX_THREADS]; /* next[o]: chunks of thread o's run handed out so far, a line each */
} matvec_job;

/* Thread t of nt: its own run of chunks first, then what is left of the others'. */
static void run_chunks(void *arg, int t, int nt)
{
    matvec_job *j = arg;
    for (int u = 0; u < nt; u++) {
        int o = (t + u) % nt;
        int64_t c0 = run_first(j->total, o, nt), c1 = run_first(j->total, o + 1, nt);
        for (;;) {
            int64_t c = c0 + __atomic_fetch_add(&j->next[o].taken, 1, __ATOMIC_RELAXED);
            if (c >= c1)
                break;
            run_chunk(j->parts, c);
        }
    }
}

void wk_matvec(const wk_matrix *const *w, int k, const float *x, float *const *y, void *scratch)
{
    assert(k >= 1 && k <= WK_MATVEC_MAX);
    part parts[WK_MATVEC_MAX];
    uint8_t *sp = scratch;
    int64_t total = 0, work = 0;
    for (int j = 0; j < k; j++) {
        part *p = &parts[j];
        p->w = w[j];
        p->tt = wk_cpu_type(w[j]->type);
        p->y = y[j];
        p->act = x;
        wk_dtype at = p->tt->vec_dot_type;
        const part *same = NULL; /* an earlier matrix whose activations serve this one too */
        for (int i = 0; i < j && !same; i++)
            if (parts[i].tt->vec_dot_type == at &&
                parts[i].tt->matvec_prep == p->tt->matvec_prep && parts[i].w->cols == w[j]->cols)
                same = &parts[i];
        if (same) {
            p->act = same->act;
        } else {
            if (at != WK_F32) {
                wk_cpu_type(at)->from_float(x, sp, w[j]->cols);
                p->act = sp;
                sp += wk_row_bytes(at, w[j]->cols);
            }
            if (p->tt->matvec) {
                void *prep = (void *)(((uintptr_t)sp + 63) & ~(uintptr_t)63);
                p->tt->matvec_prep(w[j]->cols, p->act, prep);
                p->act = prep;
                sp = (uint8_t *)prep + p->tt->matvec_prep_size(w[j]->cols);
            }
        }
        p->chunks = chunking(w[j], &p->in_row, &p->chunk_rows);
        total += p->chunks;
        work += w[j]->rows * w[j]->cols;
    }
    matvec_job job = {.parts = parts, .total = total};
    wk_team_run(run_chunks, &job, threads_for(work));
}

size_t wk_matvec_stretch(const wk_matrix *const *w, int k, int t, int nt, size_t skip,
                         const uint8_t **at)
{
    size_t in_row[WK_MATVEC_MAX];
    int64_t chunk_rows[WK_MATVEC_MAX], chunks[WK_MATVEC_MAX], total = 0;
    for (int j = 0; j < k; j++) {
        chunks[j] = chunking(w[j], &in_row[j], &chunk_rows[j]);
        total += chunks[j];
    }
    /* the run: chunks [c, end) of all the matrices' in a row; c and end count from matrix j's
     * first chunk as j goes on */
    int64_t c = run_first(total, t, nt), end = run_first(total, t + 1, nt);
    for (int j = 0; j < k && c < end; c -= chunks[j], end -= chunks[j], j++) {
        if (c >= chunks[j])
            continue;
        int64_t last = end < chunks[j] ? end : chunks[j]; /* chunks [c, last) of matrix j */
        int64_t r1 = last * chunk_rows[j] < w[j]->rows ? last * chunk_rows[j] : w[j]->rows;
        size_t from = (size_t)(c * chunk_rows[j]) * in_row[j];
        size_t bytes = (size_t)r1 * in_row[j] - from;
        if (skip < bytes) {
            *at = (const uint8_t *)w[j]->data + from + skip;
            return bytes - skip;
        }
        skip -= bytes;
        c = chunks[j]; /* the run goes on at the next matrix's first chunk */
    }
    return 0;
}

typedef struct {
    const wk_matrix *w[WK_MATVEC_MAX];
    int k, threads;
} ahead_job;

/* Idle work (kernels/team.h): piece `piece` of the first AHEAD_BYTES of thread t's own run in
 * the product, prefetched to L2. */
static bool fetch_next_run(const void *arg, int t, int nt, int piece)
{
    const ahead_job *a = arg;
    nt = a->threads < nt ? a->threads : nt;
    if (t >= nt || piece >= AHEAD_BYTES / AHEAD_PIECE)
        return false;
    size_t skip = (size_t)piece * AHEAD_PIECE, left = AHEAD_PIECE;
    while (left > 0) {
        const uint8_t *p;
        size_t n = wk_matvec_stretch(a->w, a->k, t, nt, skip, &p);
        if (n == 0)
            return false;
        n = n < left ? n : left;
        wk_fetch_l2(p, n);
        skip += n;
        left -= n;
    }
    return true;
}

void wk_matvec_ahead(const wk_matrix *const *w, int k)
{
    assert(k >= 1 && k <= WK_MATVEC_MAX);
    ahead_job a = {.k = k};
    int64_t work = 0;
    for (int j = 0; j < k; j++) {
        a.w[j] = w[j];
        work += w[j]->rows * w[j]->cols;
    }
    a.threads = threads_for(work);
    if (a.threads > 1)
        wk_team_idle(fetch_next_run, &a, sizeof a);
}
