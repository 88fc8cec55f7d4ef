/* Tensor names: the category and layer of any tensor name (Hugging Face names of every
 * family, GGUF names), and the translation between the Hugging Face and GGUF namings of the
 * families in the registry (models/arch.h). Any tensor whose name ends in ".bias" is a bias. */
#ifndef WK_MODELS_TENSOR_NAMES_H
#define WK_MODELS_TENSOR_NAMES_H

#include <stddef.h>

#include "models/tensor_roles.h"

/* *layer is set to the block index, or -1 for tensors outside the blocks. */
wk_category wk_tensor_category(const char *name, int *layer);

/* The same tensor's name in the other naming: a GGUF name in Hugging Face spelling (of the
 * first registered family that has the role), a Hugging Face name of a registered family in
 * GGUF spelling. Returns 0, or -1 when name is in neither (out is then ""). */
int wk_tensor_name_other(const char *name, char *out, size_t len);

#endif
