/* llama.cpp's file types: the number GGUF stores in general.file_type (enum llama_ftype in
 * llama.cpp's include/llama.h) and the name users know it by ("Q4_K_M"). One table, used by
 * wk-convert (which writes F32/F16/BF16 files), the quantization recipes (one per file type)
 * and wk-inspect (which shows the name of a file's type). */
#ifndef WK_QUANT_FTYPE_H
#define WK_QUANT_FTYPE_H

#include <stdint.h>

#include "quant/types.h"

typedef struct wk_ftype {
    const char *name; /* "Q4_K_M": llama-quantize's spelling, without LLAMA_FTYPE_MOSTLY_ */
    uint32_t id;      /* general.file_type */
    wk_dtype main;    /* the type most matrices of such a file have */
} wk_ftype;

/* By name (case-insensitive) or by number; NULL when unknown. */
const wk_ftype *wk_ftype_by_name(const char *name);
const wk_ftype *wk_ftype_by_id(uint32_t id);
/* The file type of a file whose matrices are all of type t ("MOSTLY_F16"); NULL when
 * llama.cpp has none for t. */
const wk_ftype *wk_ftype_of_type(wk_dtype t);

#endif
