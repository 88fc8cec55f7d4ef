/* A restricted unpickler: Python pickle (protocols 2 to 5, the subset torch.save writes)
 * into a small tree of values, without ever executing anything.
 *
 * Python's pickle is a stack machine whose GLOBAL/REDUCE/BUILD/NEWOBJ opcodes import and
 * call arbitrary functions; that is how torch.load turns a file into code execution. Here
 * GLOBAL only resolves names on a fixed allowlist (the torch state-dict rebuild functions,
 * collections.OrderedDict, the typed storage and tensor classes, torch.Size); any other
 * name, and the INST/OBJ/EXT opcodes, stop the read with an error naming the global. The
 * few allowed "calls" are interpreted here (an OrderedDict becomes a dict, a tensor rebuild
 * becomes a TENSOR node) and nothing else is ever called. Persistent ids (BINPERSID)
 * become PERSID nodes that the PyTorch reader interprets.
 *
 * Opcodes follow CPython Lib/pickletools.py. Bounded: memo indexes, MARK depth, the value
 * stack and the pickle size (WK_PICKLE_MAX_* below); strings point into the input buffer,
 * which must outlive the tree. Nodes live in an arena freed all at once. */
#ifndef WK_FORMATS_PICKLE_H
#define WK_FORMATS_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "formats/source.h"
#include "quant/types.h"

#define WK_PICKLE_MAX_SIZE (1ull << 30)  /* bytes in one pickle */
#define WK_PICKLE_MAX_MEMO (1u << 22)    /* memo entries */
#define WK_PICKLE_MAX_MARKS 1000         /* MARK nesting */
#define WK_PICKLE_MAX_STACK (1u << 24)   /* values on the stack */

typedef enum wk_pv_type {
    WK_PV_NONE,
    WK_PV_BOOL,
    WK_PV_INT,     /* fits int64 */
    WK_PV_BIGINT,  /* LONG1/LONG4 wider than 64 bits: raw little-endian two's complement */
    WK_PV_FLOAT,
    WK_PV_STR,     /* unicode (UTF-8) or a protocol-2 byte string */
    WK_PV_BYTES,
    WK_PV_TUPLE,
    WK_PV_LIST,
    WK_PV_SET,
    WK_PV_DICT,    /* items[2k] key, items[2k+1] value, insertion order */
    WK_PV_GLOBAL,  /* an allowlisted name, never called except as interpreted here */
    WK_PV_PERSID,  /* a persistent id: what torch's persistent_load would receive */
    WK_PV_TENSOR,  /* torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...) */
} wk_pv_type;

/* What an allowlisted global is. */
typedef enum wk_pg_kind {
    WK_PG_ORDERED_DICT,
    WK_PG_REBUILD_TENSOR_V2,
    WK_PG_REBUILD_PARAMETER,
    WK_PG_SIZE,
    WK_PG_STORAGE, /* torch.FloatStorage, ...: names a dtype, not callable */
    WK_PG_TENSOR_TYPE, /* torch.FloatTensor, ...: the old tar format names them */
} wk_pg_kind;

typedef struct wk_pglobal {
    const char *module;
    const char *name;
    wk_pg_kind kind;
    wk_dtype dtype; /* STORAGE and TENSOR_TYPE */
} wk_pglobal;

typedef struct wk_pval wk_pval;
struct wk_pval {
    wk_pv_type type;
    uint64_t offset; /* offset of the opcode that made it, for messages */
    union {
        bool b;
        int64_t i;
        double f;
        struct { const char *ptr; uint64_t len; } s;      /* STR, BYTES, BIGINT */
        struct { wk_pval **items; size_t n, cap; } seq;    /* TUPLE LIST SET DICT */
        const wk_pglobal *global;
        struct { wk_pval *pid; wk_pval *next; } persid; /* next: the following PERSID */
        struct {
            wk_pval *storage;  /* a PERSID */
            uint64_t storage_offset;
            uint32_t n_dims;
            uint64_t shape[WK_MAX_DIMS];
            uint64_t stride[WK_MAX_DIMS];
        } tensor;
    };
};

typedef struct wk_parena wk_parena; /* owns every node of one or more pickles */

wk_parena *wk_parena_new(void);
void wk_parena_free(wk_parena *a);
void *wk_parena_alloc(wk_parena *a, size_t n); /* 16-byte aligned; NULL when out of memory */
void wk_parena_add_persid(wk_parena *a, wk_pval *v); /* the unpickler records PERSIDs */

/* The first PERSID node made in this arena (then follow persid.next): every persistent id
 * of every pickle loaded into it, in file order, wherever it sits in the tree. */
const wk_pval *wk_parena_persids(const wk_parena *a);

/* The allowlist entry for module.name, or NULL when the name is not allowed. */
const wk_pglobal *wk_pickle_find_global(const char *mod, size_t mlen, const char *name,
                                        size_t nlen);

/* Runs the pickle at buf[0..len) up to and including STOP. `where` names it in messages
 * ("model.bin: data.pkl"); offsets are reported as base + position. *consumed gets the
 * bytes read (pickles may be followed by other data). */
int wk_pickle_load(const uint8_t *buf, uint64_t len, const char *where, uint64_t base,
                   wk_parena *a, wk_pval **out, uint64_t *consumed, wk_err *e);

/* Helpers for walking a tree. */
bool wk_pv_is_str(const wk_pval *v, const char *s);
/* Value of a dict entry whose key is the string k, or NULL. */
wk_pval *wk_pv_dict_get(const wk_pval *d, const char *k);
const char *wk_pv_type_name(wk_pv_type t);

/* Bytes from a file, made safe for a message: printable ASCII kept, anything else written
 * as \xNN, cut to fit buf (cap bytes, NUL included). Returns buf. */
const char *wk_pk_escape(const char *s, size_t n, char *buf, size_t cap);
/* Valid UTF-8 without control characters (what a tensor name may hold). */
bool wk_pk_name_ok(const char *s, size_t n);

#endif
