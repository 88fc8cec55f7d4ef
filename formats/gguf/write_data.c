/* Streaming GGUF v3 writer, output half: the files, their headers and the tensor data.
 *
 * The first tensor write (or finish) fixes the layout. With opts.max_shard_bytes set,
 * the tensors are cut into a llama.cpp split set the way gguf-split cuts them: a new file
 * starts when the next tensor's alignment-padded data would take the current file's data
 * over the limit (metadata is not counted; a tensor larger than the limit gets a file of
 * its own, never an empty one before it). Files are named NAME-00001-of-0000N.gguf
 * (llama_split_path) from NAME.gguf; the first carries all metadata, every one carries
 * split.no (u16), split.count (u16), split.tensors.count (i32), general.alignment when it
 * is not the default, and our weightkit.tensor_xxh64 for its own tensors. A set that
 * turns out to need one file is written under the plain name without split keys, as
 * llama.cpp's converter does.
 *
 * Each file's header is: magic, version 3, counts, the kvs, the checksum array (zeros,
 * patched when the file's last tensor is done), the tensor infos with offsets equal to
 * the running sum of alignment-padded sizes, and padding. Data follows in declaration
 * order, each tensor padded, hashed by a streaming xxh64 (seed 0). Every file is a temp
 * file until finish renames them all; a failure at any point (a rename included) leaves
 * none of them under its final name. */
#include "formats/gguf/gguf.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "formats/gguf/layout_hash.h"
#include "formats/gguf/writer_impl.h"

_Static_assert(WK_GGUF_MAX_SPLIT <= WK_OUT_MAX_PENDING, "every file of a set is a pending "
                                                       "temp file until finish");

const char *wk_gguf_writer_path(const wk_gguf_writer *w)
{
    if (w->n_shards && w->shards[w->cur_shard].opened)
        return w->shards[w->cur_shard].out.final_path;
    return w->path;
}

static const char *out_path(const wk_gguf_writer *w)
{
    return wk_gguf_writer_path(w);
}

uint32_t wk_gguf_writer_n_files(const wk_gguf_writer *w)
{
    return w->started ? w->n_shards : 0;
}

static bool is_split(const wk_gguf_writer *w)
{
    return w->n_shards > 1;
}

int wk_gguf_shard_open(wk_gguf_writer *w, uint32_t k, wk_err *e)
{
    wk_gguf_shard *sh = &w->shards[k];
    char *name = is_split(w) ? wk_gguf_split_path(w->path, k, w->n_shards) : strdup(w->path);
    if (!name)
        return wk_fail(e, "%s: out of memory", w->path);
    int rc = wk_out_open(&sh->out, name, e);
    free(name);
    if (rc != 0)
        return -1;
    sh->opened = true;
    w->cur_shard = k;
    for (size_t i = 0; w->opts.on_leftover && i < sh->out.n_leftovers; i++)
        w->opts.on_leftover(w->opts.leftover_ctx, sh->out.leftovers[i].path,
                            sh->out.leftovers[i].size);
    return 0;
}

/* ---- layout ---- */

static uint64_t pad_len(uint64_t n, uint32_t a)
{
    return (a - n % a) % a;
}

static uint64_t padded(const wk_gguf_writer *w, size_t i)
{
    return w->t[i].n_bytes + pad_len(w->t[i].n_bytes, w->alignment);
}

/* Cuts the tensors into files (see the top comment): returns how many, and when sh is not
 * NULL fills their ranges. */
static uint64_t cut(const wk_gguf_writer *w, wk_gguf_shard *sh)
{
    uint64_t max = w->opts.max_shard_bytes, n = 1, bytes = 0;
    size_t t0 = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        uint64_t p = padded(w, i);
        if (i > t0 && (p > max || bytes > max - p)) {
            if (sh)
                sh[n - 1].t1 = sh[n].t0 = i;
            n++;
            t0 = i;
            bytes = 0;
        }
        bytes += p;
    }
    return n;
}

/* Lays out the files and sets each tensor's offset in its file's data section. */
static int plan(wk_gguf_writer *w, wk_err *e)
{
    for (size_t i = 0; i < w->n_t; i++)
        if (padded(w, i) < w->t[i].n_bytes)
            return wk_fail(e, "%s: tensor '%s': padded size overflows 64 bits", w->path,
                           w->t[i].name);
    if (w->opts.max_shard_bytes) {
        uint64_t n = cut(w, NULL);
        if (n > WK_GGUF_MAX_SPLIT)
            return wk_fail(e, "%s: at most %" PRIu64 " bytes per file would need %" PRIu64
                              " files; at most %d are written", w->path,
                           w->opts.max_shard_bytes, n, WK_GGUF_MAX_SPLIT);
        if (n > 1 && w->n_t > INT32_MAX)
            return wk_fail(e, "%s: %zu tensors do not fit split.tensors.count (i32)", w->path,
                           w->n_t);
        if (!(w->shards = calloc(n, sizeof *w->shards)))
            return wk_fail(e, "%s: out of memory", w->path);
        w->n_shards = (uint32_t)n;
        cut(w, w->shards);
    }
    w->shards[w->n_shards - 1].t1 = w->n_t;
    for (uint32_t k = 0; k < w->n_shards; k++) {
        uint64_t off = 0;
        for (size_t i = w->shards[k].t0; i < w->shards[k].t1; i++) {
            w->t[i].offset = off;
            if (wk_add_u64(off, padded(w, i), &off) != 0)
                return wk_fail(e, "%s: tensor data offsets overflow 64 bits", w->path);
        }
    }
    if (w->n_t && !(w->digests = calloc(w->n_t, sizeof *w->digests)))
        return wk_fail(e, "%s: out of memory", w->path);
    return 0;
}

/* ---- headers ---- */

static int out_u32(wk_outfile *o, uint32_t v, wk_err *e)
{
    return wk_out_write(o, &v, 4, e);
}

static int out_u64(wk_outfile *o, uint64_t v, wk_err *e)
{
    return wk_out_write(o, &v, 8, e);
}

static int out_str(wk_outfile *o, const char *s, wk_err *e)
{
    size_t n = strlen(s);
    return out_u64(o, n, e) != 0 ? -1 : wk_out_write(o, s, n, e);
}

static int out_key(wk_outfile *o, const char *key, uint32_t type, wk_err *e)
{
    return out_str(o, key, e) != 0 ? -1 : out_u32(o, type, e);
}

/* split.no, split.count and split.tensors.count, as gguf-split writes them. */
static int out_split_keys(wk_gguf_writer *w, wk_outfile *o, uint32_t k, wk_err *e)
{
    uint16_t no = (uint16_t)k, count = (uint16_t)w->n_shards;
    int32_t total = (int32_t)w->n_t;
    return out_key(o, WK_GGUF_SPLIT_NO, WK_GGUF_U16, e) || wk_out_write(o, &no, 2, e) ||
                   out_key(o, WK_GGUF_SPLIT_COUNT, WK_GGUF_U16, e) ||
                   wk_out_write(o, &count, 2, e) ||
                   out_key(o, WK_GGUF_SPLIT_TENSORS, WK_GGUF_I32, e) ||
                   wk_out_write(o, &total, 4, e)
               ? -1
               : 0;
}

/* The hash of the tensor infos this file's header is about to hold (layout_hash.h); 0 when
 * out of memory, which only makes the checksums read as stale. */
static uint64_t layout_hash(const wk_gguf_writer *w, const wk_gguf_shard *sh)
{
    XXH64_state_t *st = wk_gguf_layout_hash_start();
    if (!st)
        return 0;
    for (size_t i = sh->t0; i < sh->t1; i++) {
        const wk_gguf_tensor_entry *t = &w->t[i];
        wk_gguf_layout_hash_add(st, t->name, strlen(t->name), t->n_dims, t->ne,
                                (uint32_t)wk_type(t->dtype)->ggml_id, t->offset);
    }
    return wk_gguf_layout_hash_finish(st);
}

static int write_header(wk_gguf_writer *w, uint32_t k, wk_err *e)
{
    wk_gguf_shard *sh = &w->shards[k];
    wk_outfile *o = &sh->out;
    /* the first file has every kv; the others only what reading them needs */
    bool all_kv = k == 0;
    bool align_kv = !all_kv && w->alignment != WK_GGUF_DEFAULT_ALIGNMENT;
    uint64_t n_kv = (all_kv ? w->n_kv : align_kv) + (is_split(w) ? 3 : 0) + 2;
    if (wk_out_write(o, "GGUF", 4, e) != 0 || out_u32(o, 3, e) != 0 ||
        out_u64(o, sh->t1 - sh->t0, e) != 0 || out_u64(o, n_kv, e) != 0)
        return -1;
    for (size_t i = 0; all_kv && i < w->n_kv; i++)
        if (out_str(o, w->kv[i].key, e) != 0 ||
            wk_out_write(o, w->kv[i].val, w->kv[i].len, e) != 0)
            return -1;
    if (align_kv && (out_key(o, WK_GGUF_ALIGNMENT_KEY, WK_GGUF_U32, e) != 0 ||
                     out_u32(o, w->alignment, e) != 0))
        return -1;
    if (is_split(w) && out_split_keys(w, o, k, e) != 0)
        return -1;
    if (out_key(o, WK_GGUF_LAYOUT_KEY, WK_GGUF_U64, e) != 0 ||
        out_u64(o, layout_hash(w, sh), e) != 0 ||
        out_key(o, WK_GGUF_CHECKSUM_KEY, WK_GGUF_ARRAY, e) != 0 ||
        out_u32(o, WK_GGUF_U64, e) != 0 || out_u64(o, sh->t1 - sh->t0, e) != 0)
        return -1;
    sh->sums_off = o->pos;
    if (wk_out_zeros(o, (sh->t1 - sh->t0) * 8, e) != 0)
        return -1;
    for (size_t i = sh->t0; i < sh->t1; i++) {
        const wk_gguf_tensor_entry *t = &w->t[i];
        if (out_str(o, t->name, e) != 0 || out_u32(o, t->n_dims, e) != 0)
            return -1;
        for (uint32_t d = 0; d < t->n_dims; d++)
            if (out_u64(o, t->ne[d], e) != 0)
                return -1;
        if (out_u32(o, (uint32_t)wk_type(t->dtype)->ggml_id, e) != 0 ||
            out_u64(o, t->offset, e) != 0)
            return -1;
    }
    return wk_out_zeros(o, pad_len(o->pos, w->alignment), e);
}

/* Opens file k and writes its header. */
static int begin_shard(wk_gguf_writer *w, uint32_t k, wk_err *e)
{
    if (!w->shards[k].opened && wk_gguf_shard_open(w, k, e) != 0)
        return -1;
    w->cur_shard = k;
    return write_header(w, k, e);
}

/* Patches file k's checksums and closes it, leaving the rename to finish. The digests are
 * host u64s: little-endian on the hosts we build for. */
static int end_shard(wk_gguf_writer *w, uint32_t k, wk_err *e)
{
    wk_gguf_shard *sh = &w->shards[k];
    if (sh->t1 > sh->t0 && wk_out_pwrite(&sh->out, w->digests + sh->t0,
                                         (sh->t1 - sh->t0) * 8, sh->sums_off, e) != 0)
        return -1;
    return wk_out_close(&sh->out, e);
}

static int start(wk_gguf_writer *w, wk_err *e)
{
    if (w->failed)
        return wk_fail(e, "%s: an earlier write failed", out_path(w));
    if (w->started)
        return 0;
    if (plan(w, e) != 0 || begin_shard(w, 0, e) != 0) {
        w->failed = true;
        return -1;
    }
    w->started = true;
    return XXH64_reset(w->xx, 0) == XXH_OK ? 0 : wk_fail(e, "%s: xxh64 reset failed", out_path(w));
}

/* ---- data ---- */

/* After tensor w->cur is complete: its padding, and the next file when this one is full. */
static int tensor_done(wk_gguf_writer *w, wk_err *e)
{
    const wk_gguf_tensor_entry *t = &w->t[w->cur];
    w->digests[w->cur] = XXH64_digest(w->xx);
    if (wk_out_zeros(&w->shards[w->cur_shard].out, pad_len(t->n_bytes, w->alignment), e) != 0)
        return -1;
    w->cur++;
    w->cur_done = 0;
    XXH64_reset(w->xx, 0);
    uint32_t k = w->cur_shard;
    if (w->cur == w->shards[k].t1 && k + 1 < w->n_shards)
        return end_shard(w, k, e) != 0 ? -1 : begin_shard(w, k + 1, e);
    return 0;
}

int wk_gguf_write_tensor_part(wk_gguf_writer *w, const void *data, uint64_t size, wk_err *e)
{
    if (start(w, e) != 0)
        return -1;
    if (w->cur >= w->n_t)
        return wk_fail(e, "%s: all %zu declared tensors were already written", out_path(w),
                       w->n_t);
    wk_gguf_tensor_entry *t = &w->t[w->cur];
    if (size > t->n_bytes - w->cur_done)
        return wk_fail(e, "%s: tensor '%s': %" PRIu64 " more bytes would exceed its %" PRIu64
                          " bytes (%" PRIu64 " written)", out_path(w), t->name, size, t->n_bytes,
                       w->cur_done);
    if (size && (wk_out_write(&w->shards[w->cur_shard].out, data, (size_t)size, e) != 0 ||
                 XXH64_update(w->xx, data, (size_t)size) != XXH_OK)) {
        w->failed = true;
        return -1;
    }
    w->cur_done += size;
    if (w->cur_done == t->n_bytes && tensor_done(w, e) != 0) {
        w->failed = true;
        return -1;
    }
    return 0;
}

int wk_gguf_write_tensor(wk_gguf_writer *w, const void *data, uint64_t size, wk_err *e)
{
    if (w->cur >= w->n_t)
        return wk_fail(e, "%s: all %zu declared tensors were already written", out_path(w),
                       w->n_t);
    const wk_gguf_tensor_entry *t = &w->t[w->cur];
    if (w->cur_done != 0)
        return wk_fail(e, "%s: tensor '%s' is partly written (%" PRIu64 " of %" PRIu64 " bytes)",
                       out_path(w), t->name, w->cur_done, t->n_bytes);
    if (size != t->n_bytes)
        return wk_fail(e, "%s: tensor '%s' is %" PRIu64 " bytes (%s) but %" PRIu64
                          " bytes were given", out_path(w), t->name, t->n_bytes,
                       wk_type(t->dtype)->name, size);
    return wk_gguf_write_tensor_part(w, data, size, e);
}

/* ---- the end ---- */

void wk_gguf_writer_abort(wk_gguf_writer *w)
{
    if (!w)
        return;
    for (uint32_t k = 0; k < w->n_shards; k++)
        if (w->shards[k].opened)
            wk_out_abort(&w->shards[k].out);
    wk_gguf_writer_free(w);
}

/* Renames every file into place; when one rename fails, the files already renamed are
 * removed again, so a set is complete or absent. */
static int commit_all(wk_gguf_writer *w, wk_err *e)
{
    char **done = calloc(w->n_shards, sizeof *done);
    if (!done)
        return wk_fail(e, "%s: out of memory", w->path);
    uint32_t k = 0;
    int rc = 0;
    for (; k < w->n_shards; k++) {
        wk_gguf_shard *sh = &w->shards[k];
        if (!(done[k] = strdup(sh->out.final_path))) {
            rc = wk_fail(e, "%s: out of memory", w->path);
            break;
        }
        if (wk_out_commit(&sh->out, e) != 0) {
            free(done[k]);
            done[k] = NULL;
            rc = -1;
            break;
        }
        sh->opened = false;
    }
    for (uint32_t j = 0; j < w->n_shards; j++) {
        if (rc != 0 && done[j] && unlink(done[j]) != 0)
            wk_fail_prefix(e, "%s could not be removed again", done[j]);
        free(done[j]);
    }
    free(done);
    if (rc != 0 && k > 0)
        wk_fail_prefix(e, "%s: the %u file(s) of the set already in place were removed",
                       w->path, k);
    return rc;
}

int wk_gguf_writer_finish(wk_gguf_writer *w, wk_err *e)
{
    int rc = start(w, e);
    if (rc == 0 && w->cur < w->n_t) {
        const wk_gguf_tensor_entry *t = &w->t[w->cur];
        rc = w->cur_done ? wk_fail(e, "%s: tensor '%s' is incomplete: %" PRIu64 " of %" PRIu64
                                      " bytes written", out_path(w), t->name, w->cur_done,
                                   t->n_bytes)
                         : wk_fail(e, "%s: tensor '%s' (#%zu of %zu) was never written",
                                   out_path(w), t->name, w->cur, w->n_t);
    }
    if (rc == 0)
        rc = end_shard(w, w->n_shards - 1, e);
    if (rc == 0)
        rc = commit_all(w, e);
    wk_gguf_writer_abort(w);
    return rc;
}
