/* GGUF v2/v3 reading and streaming writing (ggml docs/gguf.md).
 *
 * Reader: the file is mapped; the header, every metadata value (nested arrays included)
 * and every tensor info are parsed with bounds and overflow checks before any tensor data
 * is touched. Strings and primitive arrays point into the map (little-endian, unaligned:
 * read them with the accessors). Tensor offsets must equal the running sum of the
 * alignment-padded sizes, as ggml's own reader requires.
 *
 * Writer: collects metadata and tensor infos, writes the header on the first tensor
 * write, then tensor data one tensor at a time, padded to the alignment, into a temp file
 * that is renamed into place by wk_gguf_writer_finish. Our extras (docs/gguf.md):
 * weightkit.tensor_xxh64 (u64 array, one xxh64 of each tensor's stored bytes, in tensor
 * order; reserved in the header and patched at finish) and provenance keys.
 *
 * Split sets (llama.cpp's gguf-split layout): NAME-00001-of-0000N.gguf ... each a whole
 * GGUF holding its own tensors, with split.no (u16, from 0), split.count (u16) and
 * split.tensors.count (i32, the whole set's); the first file holds all the metadata. The
 * writer cuts a set when asked (wk_gguf_writer_opts.max_shard_bytes); the source opens a
 * set from any of its files, as one model. */
#ifndef WK_FORMATS_GGUF_H
#define WK_FORMATS_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/source.h"
#include "quant/types.h"

enum wk_gguf_vtype {
    WK_GGUF_U8 = 0,
    WK_GGUF_I8 = 1,
    WK_GGUF_U16 = 2,
    WK_GGUF_I16 = 3,
    WK_GGUF_U32 = 4,
    WK_GGUF_I32 = 5,
    WK_GGUF_F32 = 6,
    WK_GGUF_BOOL = 7,
    WK_GGUF_STRING = 8,
    WK_GGUF_ARRAY = 9,
    WK_GGUF_U64 = 10,
    WK_GGUF_I64 = 11,
    WK_GGUF_F64 = 12,
};

#define WK_GGUF_DEFAULT_ALIGNMENT 32
#define WK_GGUF_SPLIT_NO "split.no"
#define WK_GGUF_SPLIT_COUNT "split.count"
#define WK_GGUF_SPLIT_TENSORS "split.tensors.count"
#define WK_GGUF_MAX_SPLIT 4096 /* files in a set we write or read */
#define WK_GGUF_MAX_NAME 64 /* ggml's GGML_MAX_NAME includes the NUL: names up to 63 bytes */
#define WK_GGUF_CHECKSUM_KEY "weightkit.tensor_xxh64" /* ours (docs/gguf.md) */
/* ours: the hash of the tensor infos the checksums were written with (layout_hash.h) */
#define WK_GGUF_LAYOUT_KEY "weightkit.tensor_infos_xxh64"

typedef struct wk_gguf_str {
    const char *ptr; /* not NUL-terminated; points into the map */
    uint64_t len;
} wk_gguf_str;

typedef struct wk_gguf_value wk_gguf_value;
struct wk_gguf_value {
    uint32_t type; /* enum wk_gguf_vtype */
    union {
        uint64_t u;      /* U8..U64, BOOL */
        int64_t i;       /* I8..I64 */
        double f;        /* F32, F64 */
        wk_gguf_str str; /* STRING */
        struct {
            uint32_t elem_type;
            uint64_t count;
            const uint8_t *raw;   /* primitive elements: count * size bytes in the map */
            wk_gguf_value *items; /* STRING and ARRAY elements, parsed; NULL otherwise */
        } arr;
    };
};

typedef struct wk_gguf_kv {
    wk_gguf_str key;
    wk_gguf_value value;
    uint64_t offset; /* file offset of the key, for error messages */
} wk_gguf_kv;

typedef struct wk_gguf_tensor_info {
    wk_gguf_str name;
    uint32_t n_dims;
    uint64_t ne[4];     /* ggml order: ne[0] is the row length */
    uint32_t ggml_type;
    wk_dtype dtype;
    uint64_t offset;    /* relative to the data section */
    uint64_t n_bytes;
} wk_gguf_tensor_info;

typedef struct wk_gguf {
    char *path;
    uint32_t version;
    uint64_t n_kv;
    wk_gguf_kv *kv;
    uint64_t n_tensors;
    wk_gguf_tensor_info *tensors;
    uint32_t alignment;
    uint64_t data_offset; /* absolute file offset of the data section */
    const uint8_t *data;  /* the whole mapped file */
    uint64_t size;
    void *impl;           /* the mapping and allocations */
} wk_gguf;

int wk_gguf_open(const char *path, wk_gguf **out, wk_err *e);
void wk_gguf_close(wk_gguf *g);

/* Metadata look-ups; NULL / -1 when the key is absent or of another type. */
const wk_gguf_kv *wk_gguf_find(const wk_gguf *g, const char *key);
/* Copies a string value into a new NUL-terminated heap string. */
char *wk_gguf_strdup(wk_gguf_str s);
int wk_gguf_get_str(const wk_gguf *g, const char *key, char **out);
/* Any integer type that fits in uint64 / int64. */
int wk_gguf_get_u64(const wk_gguf *g, const char *key, uint64_t *out);
int wk_gguf_get_f64(const wk_gguf *g, const char *key, double *out);
/* Element j of a primitive array as double / uint64 (any integer or float elem type). */
double wk_gguf_arr_f64(const wk_gguf_value *arr, uint64_t j);
uint64_t wk_gguf_arr_u64(const wk_gguf_value *arr, uint64_t j);
/* Element j of any array as a value of its own (a scalar decoded from the map, or the parsed
 * string or array); out of range: a u64 0. */
wk_gguf_value wk_gguf_arr_elem(const wk_gguf_value *arr, uint64_t j);
const char *wk_gguf_type_name(uint32_t vtype);
/* Bytes of one element of a primitive value type; 0 for STRING, ARRAY and unknown types. */
unsigned wk_gguf_prim_size(uint32_t vtype);
/* s as printable text for messages, in buf (len >= 8): control bytes and bytes that are not
 * valid UTF-8 become \xNN, and "..." ends a cut. Returns buf. */
const char *wk_gguf_str_show(wk_gguf_str s, char *buf, size_t len);

/* A GGUF as a tensor source (format "gguf"); the wk_gguf stays reachable as s->gguf. A
 * file of a split set (split.count > 1) opens the whole set from whichever file is named:
 * s->files lists them in order, each tensor's file_index says where it is, and s->gguf
 * is the first file (all the metadata). Every file must be there, named as
 * wk_gguf_split_path names it, agree on split.count and split.tensors.count, carry its
 * own split.no, and the set must hold each tensor once. */
int wk_gguf_open_source(const char *path, wk_source **out, wk_err *e);
/* The parsed file i of a GGUF source (i < s->n_files), e.g. to verify every file's
 * checksums; NULL for another format or i out of range. */
const wk_gguf *wk_gguf_source_file(const wk_source *s, size_t i);

/* File no (from 0) of a set of count: path without a ".gguf" ending, then
 * "-%05u-of-%05u.gguf" (llama.cpp's llama_split_path). A new heap string, or NULL. */
char *wk_gguf_split_path(const char *path, uint32_t no, uint32_t count);
/* The PREFIX of a path named as file no of count (llama_split_prefix), as a new heap
 * string; NULL when the name does not end in that file's "-%05u-of-%05u.gguf". */
char *wk_gguf_split_prefix(const char *path, uint32_t no, uint32_t count);
/* For a path that does not exist: the first file of a split set written for that name
 * (NAME.gguf -> NAME-00001-of-NNNNN.gguf) when exactly one such set is there, as a new
 * heap string; NULL otherwise. */
char *wk_gguf_find_split_set(const char *path);

/* Whether g's checksums can be checked: none stored; stored for these tensor infos (or
 * written before weightkit.tensor_infos_xxh64 existed); or stale, copied by a tool that
 * rewrote the tensors (llama-quantize keeps every key of its input). Stale checksums count
 * as none below. */
typedef enum wk_gguf_sums {
    WK_GGUF_SUMS_NONE,
    WK_GGUF_SUMS_STORED,
    WK_GGUF_SUMS_STALE,
} wk_gguf_sums;
wk_gguf_sums wk_gguf_checksums_state(const wk_gguf *g);

/* Checks weightkit.tensor_xxh64 (xxh64, seed 0, of each tensor's stored bytes) against the
 * data: 0 when every tensor matches, 1 when the file has no checksums, -1 naming the first
 * tensor that differs (or a malformed checksum array). */
int wk_gguf_verify_checksums(const wk_gguf *g, wk_err *e);
/* The checksum weightkit.tensor_xxh64 records for tensor i: 0 with *h set, 1 when the file
 * has no checksums, -1 when the array is malformed or i is out of range. */
int wk_gguf_stored_xxh64(const wk_gguf *g, uint64_t i, uint64_t *h, wk_err *e);
/* Checks data (tensor i's bytes, size of them, e.g. a wk_source_read view) against the
 * stored checksum: 0 when they match, 1 when the file has none, -1 on a mismatch ("checksum
 * mismatch in tensor 'NAME'", both hashes, "the file is corrupted") or a malformed array. */
int wk_gguf_check_xxh64(const wk_gguf *g, uint64_t i, const void *data, uint64_t size,
                        wk_err *e);
/* The same for tensor i of a GGUF source, a single file or a split set (each file of a set
 * has its own checksums). */
int wk_gguf_source_check_xxh64(const wk_source *s, size_t i, const void *data, uint64_t size,
                               wk_err *e);

/* ---- writer ---- */
typedef struct wk_gguf_writer wk_gguf_writer;

/* Told of each temp file that an interrupted run left beside a file being opened
 * (common/fileio.h wk_leftover), for the tool to mention; the writer never removes it. */
typedef void (*wk_gguf_leftover_fn)(void *ctx, const char *path, uint64_t size);

typedef struct wk_gguf_writer_opts {
    /* 0: one file. Otherwise at most this many bytes of tensor data (alignment padding
     * included, metadata not) per file of a split set named by wk_gguf_split_path; a
     * tensor larger than it gets a file of its own. When everything fits in one file,
     * the plain name is written, without split keys (as llama.cpp's converter does). */
    uint64_t max_shard_bytes;
    wk_gguf_leftover_fn on_leftover; /* NULL: not told */
    void *leftover_ctx;
} wk_gguf_writer_opts;

int wk_gguf_writer_open(const char *path, wk_gguf_writer **out, wk_err *e);
/* opts may be NULL (one file). A single file is created at once (an unwritable output
 * fails here); a split set's files are created when the first tensor is written. */
int wk_gguf_writer_open_opts(const char *path, const wk_gguf_writer_opts *opts,
                             wk_gguf_writer **out, wk_err *e);
/* How many files the writer is writing: 0 until the first tensor write fixes the layout. */
uint32_t wk_gguf_writer_n_files(const wk_gguf_writer *w);

/* Metadata setters. Keys must be non-empty; a repeated key replaces the value. Values are
 * copied. weightkit.tensor_xxh64 and the split.* keys belong to the writer and are
 * refused. */
int wk_gguf_set_u32(wk_gguf_writer *w, const char *key, uint32_t v, wk_err *e);
int wk_gguf_set_i32(wk_gguf_writer *w, const char *key, int32_t v, wk_err *e);
int wk_gguf_set_u64(wk_gguf_writer *w, const char *key, uint64_t v, wk_err *e);
int wk_gguf_set_f32(wk_gguf_writer *w, const char *key, float v, wk_err *e);
int wk_gguf_set_bool(wk_gguf_writer *w, const char *key, bool v, wk_err *e);
int wk_gguf_set_str(wk_gguf_writer *w, const char *key, const char *v, wk_err *e);
int wk_gguf_set_arr_str(wk_gguf_writer *w, const char *key, const char *const *v, uint64_t n,
                        wk_err *e);
/* Primitive array: elem_type is a wk_gguf_vtype other than STRING/ARRAY; data holds
 * n little-endian elements of that type. */
int wk_gguf_set_arr(wk_gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
                    uint64_t n, wk_err *e);
/* Copies a value read from a GGUF (any type, nested arrays included), e.g. to carry a
 * source file's metadata over. */
int wk_gguf_set_value(wk_gguf_writer *w, const char *key, const wk_gguf_value *v, wk_err *e);
/* Sets general.alignment too (power of two). */
int wk_gguf_set_alignment(wk_gguf_writer *w, uint32_t alignment, wk_err *e);

/* Declares the next tensor: shape outermost first (as in wk_tensor); stored reversed as
 * ggml ne[]. At most 4 dims. Returns its index via *index (may be NULL). */
int wk_gguf_add_tensor(wk_gguf_writer *w, const char *name, wk_dtype type, uint32_t n_dims,
                       const uint64_t *shape, size_t *index, wk_err *e);

/* Writes the data of tensors in declaration order. The first call writes the header.
 * size must equal the declared tensor's byte size. write_tensor_part lets a caller stream
 * one tensor in pieces: call it until the pieces add up to the tensor's size. */
int wk_gguf_write_tensor(wk_gguf_writer *w, const void *data, uint64_t size, wk_err *e);
int wk_gguf_write_tensor_part(wk_gguf_writer *w, const void *data, uint64_t size, wk_err *e);

/* Checks every declared tensor was written, patches checksums, renames into place (all
 * files of a set, or none). Frees w whether it succeeds or not. */
int wk_gguf_writer_finish(wk_gguf_writer *w, wk_err *e);
/* Removes the temp file and frees w. */
void wk_gguf_writer_abort(wk_gguf_writer *w);

/* Provenance keys (weightkit.version, weightkit.tool, weightkit.sources). */
int wk_gguf_set_provenance(wk_gguf_writer *w, const char *tool, const char *const *sources,
                           size_t n_sources, wk_err *e);

#endif
