/* SentencePiece tokenizer.model reader (sentencepiece/src/sentencepiece_model.proto in the
 * protobuf wire format, https://protobuf.dev/programming-guides/encoding/).
 *
 * We read ModelProto.pieces (1: piece 1, score 2, type 3) and ModelProto.trainer_spec (2:
 * model_type 3, byte_fallback 35, unk_id 40, bos_id 41, eos_id 42, pad_id 43) and skip every
 * other field by its wire type. Every varint is at most 10 bytes and in range, every length
 * is checked against the end of its enclosing message, known fields must have the wire
 * type the schema gives them, groups (wire types 3/4) are refused, and errors name the file
 * and the byte offset. */
#include "formats/tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/grow.h"

enum { PB_VARINT = 0, PB_I64 = 1, PB_LEN = 2, PB_I32 = 5 };

typedef struct pb_reader {
    const uint8_t *data; /* the whole file: offsets are absolute */
    uint64_t off, end;   /* end of the message being read */
    const char *path;
} pb_reader;

static int pb_varint(pb_reader *r, uint64_t *out, wk_err *e)
{
    uint64_t start = r->off, v = 0;
    for (int i = 0; i < 10; i++) {
        if (r->off >= r->end)
            return wk_fail(e, "%s: offset %llu: truncated varint", r->path,
                           (unsigned long long)start);
        uint8_t b = r->data[r->off++];
        if (i == 9 && b > 1)
            return wk_fail(e, "%s: offset %llu: varint does not fit in 64 bits", r->path,
                           (unsigned long long)start);
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return wk_fail(e, "%s: offset %llu: varint longer than 10 bytes", r->path,
                   (unsigned long long)start);
}

/* Reads a field key; fails on field number 0 and on groups. */
static int pb_key(pb_reader *r, uint32_t *field, uint32_t *wire, wk_err *e)
{
    uint64_t start = r->off, k;
    if (pb_varint(r, &k, e) != 0)
        return -1;
    *wire = (uint32_t)(k & 7);
    if ((k >> 3) == 0 || (k >> 3) > 0x1fffffff)
        return wk_fail(e, "%s: offset %llu: invalid field number %llu", r->path,
                       (unsigned long long)start, (unsigned long long)(k >> 3));
    *field = (uint32_t)(k >> 3);
    if (*wire != PB_VARINT && *wire != PB_I64 && *wire != PB_LEN && *wire != PB_I32)
        return wk_fail(e, "%s: offset %llu: field %u has unsupported wire type %u", r->path,
                       (unsigned long long)start, *field, *wire);
    return 0;
}

/* Reads the length of a length-delimited field and returns the sub-message reader. */
static int pb_sub(pb_reader *r, pb_reader *sub, wk_err *e)
{
    uint64_t start = r->off, len;
    if (pb_varint(r, &len, e) != 0)
        return -1;
    if (len > r->end - r->off)
        return wk_fail(e, "%s: offset %llu: length %llu runs past the end of its message "
                          "(%llu bytes left)", r->path, (unsigned long long)start,
                       (unsigned long long)len, (unsigned long long)(r->end - r->off));
    *sub = (pb_reader){r->data, r->off, r->off + len, r->path};
    r->off += len;
    return 0;
}

static int pb_fixed(pb_reader *r, uint64_t n, const char *what, wk_err *e)
{
    if (n > r->end - r->off)
        return wk_fail(e, "%s: offset %llu: truncated %s", r->path, (unsigned long long)r->off,
                       what);
    r->off += n;
    return 0;
}

static int pb_skip(pb_reader *r, uint32_t wire, wk_err *e)
{
    uint64_t v;
    pb_reader sub;
    switch (wire) {
    case PB_VARINT: return pb_varint(r, &v, e);
    case PB_I64: return pb_fixed(r, 8, "fixed64 field", e);
    case PB_I32: return pb_fixed(r, 4, "fixed32 field", e);
    default: return pb_sub(r, &sub, e);
    }
}

static int pb_expect(const pb_reader *r, uint64_t key_off, uint32_t field, uint32_t wire,
                     uint32_t want, const char *what, wk_err *e)
{
    if (wire == want)
        return 0;
    return wk_fail(e, "%s: offset %llu: %s (field %u) has wire type %u, expected %u", r->path,
                   (unsigned long long)key_off, what, field, wire, want);
}

/* An int32 field: protobuf sign-extends negative values to 64 bits. */
static int pb_int32(pb_reader *r, int32_t *out, const char *what, wk_err *e)
{
    uint64_t start = r->off, v;
    if (pb_varint(r, &v, e) != 0)
        return -1;
    int64_t s = (int64_t)v;
    if (s < INT32_MIN || s > INT32_MAX)
        return wk_fail(e, "%s: offset %llu: %s %lld is out of int32 range", r->path,
                       (unsigned long long)start, what, (long long)s);
    *out = (int32_t)s;
    return 0;
}

static int read_piece(pb_reader *r, uint64_t index, wk_spm_piece *p, wk_err *e)
{
    p->type = WK_TOK_NORMAL;
    while (r->off < r->end) {
        uint64_t key_off = r->off;
        uint32_t field, wire;
        if (pb_key(r, &field, &wire, e) != 0)
            return -1;
        if (field == 1) {
            pb_reader s;
            if (pb_expect(r, key_off, field, wire, PB_LEN, "piece", e) != 0 ||
                pb_sub(r, &s, e) != 0)
                return -1;
            uint64_t n = s.end - s.off;
            if (memchr(s.data + s.off, 0, n))
                return wk_fail(e, "%s: offset %llu: piece %llu contains a NUL byte", r->path,
                               (unsigned long long)s.off, (unsigned long long)index);
            char *str = malloc(n + 1);
            if (!str)
                return wk_fail(e, "%s: out of memory", r->path);
            memcpy(str, s.data + s.off, n);
            str[n] = '\0';
            free(p->piece);
            p->piece = str;
        } else if (field == 2) {
            if (pb_expect(r, key_off, field, wire, PB_I32, "score", e) != 0)
                return -1;
            uint64_t at = r->off;
            if (pb_fixed(r, 4, "score", e) != 0)
                return -1;
            memcpy(&p->score, r->data + at, 4); /* little-endian float, as on our targets */
        } else if (field == 3) {
            int32_t t;
            if (pb_expect(r, key_off, field, wire, PB_VARINT, "type", e) != 0 ||
                pb_int32(r, &t, "piece type", e) != 0)
                return -1;
            if (t < WK_TOK_NORMAL || t > WK_TOK_BYTE)
                return wk_fail(e, "%s: offset %llu: piece %llu has type %d, expected 1..6",
                               r->path, (unsigned long long)key_off, (unsigned long long)index,
                               t);
            p->type = t;
        } else if (pb_skip(r, wire, e) != 0) {
            return -1;
        }
    }
    if (!p->piece && !(p->piece = calloc(1, 1)))
        return wk_fail(e, "%s: out of memory", r->path);
    return 0;
}

static int read_trainer_spec(pb_reader *r, wk_spm_model *m, wk_err *e)
{
    while (r->off < r->end) {
        uint64_t key_off = r->off, v;
        uint32_t field, wire;
        if (pb_key(r, &field, &wire, e) != 0)
            return -1;
        int32_t *id = field == 40 ? &m->unk_id : field == 41 ? &m->bos_id
                    : field == 42 ? &m->eos_id : field == 43 ? &m->pad_id : NULL;
        if (id || field == 3) {
            if (pb_expect(r, key_off, field, wire, PB_VARINT, "trainer_spec field", e) != 0 ||
                pb_int32(r, id ? id : &m->model_type, "trainer_spec value", e) != 0)
                return -1;
        } else if (field == 35) {
            if (pb_expect(r, key_off, field, wire, PB_VARINT, "byte_fallback", e) != 0 ||
                pb_varint(r, &v, e) != 0)
                return -1;
            m->byte_fallback = v != 0;
        } else if (pb_skip(r, wire, e) != 0) {
            return -1;
        }
    }
    return 0;
}

int wk_spm_parse(const uint8_t *data, uint64_t size, const char *path, wk_spm_model *m,
                 wk_err *e)
{
    *m = (wk_spm_model){.model_type = 1, .unk_id = 0, .bos_id = 1, .eos_id = 2, .pad_id = -1};
    pb_reader r = {data, 0, size, path};
    size_t cap = 0;
    while (r.off < r.end) {
        uint64_t key_off = r.off;
        uint32_t field, wire;
        pb_reader sub;
        if (pb_key(&r, &field, &wire, e) != 0)
            goto fail;
        if (field != 1 && field != 2) {
            if (pb_skip(&r, wire, e) != 0)
                goto fail;
            continue;
        }
        if (pb_expect(&r, key_off, field, wire, PB_LEN, field == 1 ? "pieces" : "trainer_spec",
                      e) != 0 || pb_sub(&r, &sub, e) != 0)
            goto fail;
        if (field == 2) {
            if (read_trainer_spec(&sub, m, e) != 0)
                goto fail;
            continue;
        }
        if (m->n_pieces == WK_TOK_MAX_TOKENS) {
            wk_fail(e, "%s: offset %llu: more than %u pieces", path,
                    (unsigned long long)key_off, WK_TOK_MAX_TOKENS);
            goto fail;
        }
        if (wk_grow((void **)&m->pieces, &cap, m->n_pieces + 1, sizeof *m->pieces) != 0) {
            wk_fail(e, "%s: out of memory", path);
            goto fail;
        }
        wk_spm_piece *p = &m->pieces[m->n_pieces++];
        *p = (wk_spm_piece){0};
        if (read_piece(&sub, m->n_pieces - 1, p, e) != 0)
            goto fail;
    }
    if (m->n_pieces == 0) {
        wk_fail(e, "%s: no pieces: not a SentencePiece model", path);
        goto fail;
    }
    return 0;
fail:
    wk_spm_free(m);
    return -1;
}

int wk_spm_load(const char *path, wk_spm_model *m, wk_err *e)
{
    char *buf;
    size_t len;
    *m = (wk_spm_model){0};
    if (wk_read_small_file(path, WK_TOK_MAX_MODEL_BYTES, &buf, &len, e) != 0)
        return -1;
    int rc = wk_spm_parse((const uint8_t *)buf, len, path, m, e);
    free(buf);
    return rc;
}

void wk_spm_free(wk_spm_model *m)
{
    if (!m)
        return;
    for (uint64_t i = 0; i < m->n_pieces; i++)
        free(m->pieces[i].piece);
    free(m->pieces);
    m->pieces = NULL;
    m->n_pieces = 0;
}
