/* A SentencePiece tokenizer.model for gen-llama's random models, written by hand.
 *
 * Format: sentencepiece/src/sentencepiece_model.proto, protobuf wire format. We write
 *   ModelProto { repeated SentencePiece pieces = 1 { piece = 1; score = 2; type = 3 };
 *                TrainerSpec trainer_spec = 2 { model_type = 3 (BPE); vocab_size = 4;
 *                  byte_fallback = 35; unk_id = 40; bos_id = 41; eos_id = 42; pad_id = 43 };
 *                NormalizerSpec normalizer_spec = 3 { name = 1 "identity";
 *                  add_dummy_prefix = 3 true; remove_extra_whitespaces = 4 false } }
 * with the layout of Llama's tokenizer: <unk> <s> </s>, the 256 byte pieces <0x00>..<0xFF>,
 * then NORMAL pieces with falling scores (BPE merges prefer higher scores): "▁", single
 * characters, common words together with every prefix of them (so BPE can reach each word
 * one merge at a time), then letter pairs, triples, ... until the vocabulary is full.
 * Included by gen-llama.c only: each .c file in tests/gen is a program of its own. */
#ifndef WK_GEN_SPM_MODEL_H
#define WK_GEN_SPM_MODEL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "common/bytebuf.h"
#include "common/err.h"
#include "common/fileio.h"

enum { SPM_NORMAL = 1, SPM_UNKNOWN = 2, SPM_CONTROL = 3, SPM_BYTE = 6 };
#define SPM_BPE 2
#define SPM_SPACE "\xe2\x96\x81" /* U+2581, SentencePiece's whitespace symbol */
#define SPM_MAX_PIECE 64

static void spm_varint(wk_buf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    do {
        tmp[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v);
    wk_buf_put(b, tmp, n);
}

static void spm_key(wk_buf *b, uint32_t field, uint32_t wire)
{
    spm_varint(b, (uint64_t)field << 3 | wire);
}

/* int32 fields are varints of the sign-extended 64-bit value (-1 takes 10 bytes). */
static void spm_int(wk_buf *b, uint32_t field, int64_t v)
{
    spm_key(b, field, 0);
    spm_varint(b, (uint64_t)v);
}

static void spm_bytes(wk_buf *b, uint32_t field, const void *p, size_t n)
{
    spm_key(b, field, 2);
    spm_varint(b, n);
    wk_buf_put(b, p, n);
}

static void spm_piece(wk_buf *b, const char *piece, float score, int type)
{
    wk_buf m = {0};
    spm_bytes(&m, 1, piece, strlen(piece));
    uint32_t bits;
    memcpy(&bits, &score, 4);
    uint8_t le[4] = {(uint8_t)bits, (uint8_t)(bits >> 8), (uint8_t)(bits >> 16), (uint8_t)(bits >> 24)};
    spm_key(&m, 2, 5);
    wk_buf_put(&m, le, 4);
    spm_int(&m, 3, type);
    b->oom |= m.oom;
    spm_bytes(b, 1, m.p, m.len);
    free(m.p);
}

/* The NORMAL pieces, deduplicated through an open-addressing table of xxh64 hashes. */
typedef struct spm_vocab {
    char (*piece)[SPM_MAX_PIECE];
    size_t n, max;
    uint64_t *slot; /* hash + 1, 0 = empty; 2*max slots rounded to a power of two */
    size_t *slot_idx;
    size_t n_slots;
} spm_vocab;

static void spm_add(spm_vocab *v, const char *s)
{
    if (v->n == v->max)
        return;
    size_t len = strlen(s);
    uint64_t h = XXH64(s, len, 0) | 1;
    size_t i = h & (v->n_slots - 1);
    for (; v->slot[i]; i = (i + 1) & (v->n_slots - 1))
        if (v->slot[i] == h && strcmp(v->piece[v->slot_idx[i]], s) == 0)
            return;
    v->slot[i] = h;
    v->slot_idx[i] = v->n;
    snprintf(v->piece[v->n++], SPM_MAX_PIECE, "%s", s);
}

/* Adds "▁" + word and every shorter prefix of it, shortest first. */
static void spm_add_word(spm_vocab *v, const char *word)
{
    char buf[SPM_MAX_PIECE];
    size_t wl = strlen(word);
    for (size_t k = 1; k <= wl && k + sizeof SPM_SPACE < SPM_MAX_PIECE; k++) {
        snprintf(buf, sizeof buf, SPM_SPACE "%.*s", (int)k, word);
        spm_add(v, buf);
    }
}

/* All strings of `len` lowercase letters, with or without the space symbol in front. */
static void spm_add_letters(spm_vocab *v, int len, int with_space)
{
    uint64_t total = 1;
    for (int i = 0; i < len; i++)
        total *= 26;
    for (uint64_t n = 0; n < total && v->n < v->max; n++) {
        char buf[SPM_MAX_PIECE];
        size_t off = 0;
        if (with_space) {
            memcpy(buf, SPM_SPACE, 3);
            off = 3;
        }
        uint64_t x = n;
        for (int i = len - 1; i >= 0; i--, x /= 26)
            buf[off + (size_t)i] = (char)('a' + x % 26);
        buf[off + (size_t)len] = 0;
        spm_add(v, buf);
    }
}

static const char *const spm_words[] = {
    "Once", "upon", "a", "time", "there", "was", "little", "girl", "boy", "named", "Lily",
    "Tom", "Ben", "Sue", "The", "the", "He", "he", "She", "she", "It", "it", "They", "they",
    "and", "to", "of", "in", "on", "with", "for", "that", "had", "day", "big", "happy", "saw",
    "play", "played", "very", "friend", "friends", "mom", "dad", "dog", "cat", "bird", "ball",
    "tree", "sun", "park", "home", "fun", "good", "new", "help", "see", "go", "went", "like",
    "liked", "want", "wanted", "looked", "smiled", "said", "toy", "red", "blue", "one", "her",
    "his", "you", "not", "but", "so", "is", "at", "be", "are", "all", "we", "can", "do", "what",
    "this", "from", "up", "out", "when", "were", "did", "came", "found", "loved", "made",
};

/* Fills the NORMAL pieces up to `max`. Returns -1 when out of memory. */
static int spm_vocab_build(spm_vocab *v, size_t max)
{
    memset(v, 0, sizeof *v);
    v->max = max;
    v->n_slots = 16;
    while (v->n_slots < 2 * max + 2)
        v->n_slots *= 2;
    v->piece = calloc(max ? max : 1, sizeof *v->piece);
    v->slot = calloc(v->n_slots, sizeof *v->slot);
    v->slot_idx = calloc(v->n_slots, sizeof *v->slot_idx);
    if (!v->piece || !v->slot || !v->slot_idx)
        return -1;
    spm_add(v, SPM_SPACE);
    static const char chars[] =
        "etaoinshrdlcumwfgypbvkjxqzETAOINSHRDLCUMWFGYPBVKJXQZ0123456789.,!?'\"-:;()";
    for (const char *c = chars; *c; c++) {
        char s[2] = {*c, 0};
        spm_add(v, s);
    }
    for (size_t i = 0; i < sizeof spm_words / sizeof *spm_words; i++)
        spm_add_word(v, spm_words[i]);
    /* 26^5 pairs-to-quintuples cover vocabularies of several million pieces. */
    for (int len = 2; len <= 5 && v->n < v->max; len++) {
        spm_add_letters(v, len, 0);
        spm_add_letters(v, len, 1);
    }
    return 0;
}

static void spm_vocab_free(spm_vocab *v)
{
    free(v->piece);
    free(v->slot);
    free(v->slot_idx);
}

/* Writes dir/tokenizer.model with exactly vocab_size pieces (vocab_size >= 260). */
static int spm_write_model(const char *path, uint32_t vocab_size, wk_err *e)
{
    spm_vocab v;
    wk_buf b = {0};
    int rc = -1;
    if (spm_vocab_build(&v, vocab_size - 259) != 0) {
        wk_fail(e, "%s: out of memory building %u pieces", path, vocab_size);
        goto out;
    }
    if (v.n != v.max) {
        wk_fail(e, "%s: could only make %zu of %u pieces", path, v.n + 259, vocab_size);
        goto out;
    }
    spm_piece(&b, "<unk>", 0.0f, SPM_UNKNOWN);
    spm_piece(&b, "<s>", 0.0f, SPM_CONTROL);
    spm_piece(&b, "</s>", 0.0f, SPM_CONTROL);
    for (int i = 0; i < 256; i++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", i);
        spm_piece(&b, s, 0.0f, SPM_BYTE);
    }
    for (size_t i = 0; i < v.n; i++)
        spm_piece(&b, v.piece[i], 0.0f - (float)i, SPM_NORMAL);

    wk_buf t = {0};
    spm_int(&t, 3, SPM_BPE);
    spm_int(&t, 4, vocab_size);
    spm_int(&t, 35, 1);  /* byte_fallback */
    spm_int(&t, 40, 0);  /* unk_id */
    spm_int(&t, 41, 1);  /* bos_id */
    spm_int(&t, 42, 2);  /* eos_id */
    spm_int(&t, 43, -1); /* pad_id */
    b.oom |= t.oom;
    spm_bytes(&b, 2, t.p, t.len);
    free(t.p);

    wk_buf n = {0};
    spm_bytes(&n, 1, "identity", 8);
    spm_int(&n, 3, 1); /* add_dummy_prefix */
    spm_int(&n, 4, 0); /* remove_extra_whitespaces */
    b.oom |= n.oom;
    spm_bytes(&b, 3, n.p, n.len);
    free(n.p);
    if (b.oom) {
        wk_fail(e, "%s: out of memory encoding the model", path);
        goto out;
    }

    wk_outfile o;
    if (wk_out_open(&o, path, e) != 0)
        goto out;
    if (wk_out_write(&o, b.p, b.len, e) != 0 || wk_out_commit(&o, e) != 0) {
        wk_out_abort(&o);
        goto out;
    }
    rc = 0;
out:
    spm_vocab_free(&v);
    free(b.p);
    return rc;
}

#endif
