/* Row maps for HF's q/k rotate-half permutation (see qk_permute.h). Within one head of
 * 2*half rows, GGUF row 2*i + j holds HF row j*half + i (i < half, j in {0, 1}). */
#include "models/qk_permute.h"

int wk_qk_check(const char *tensor, uint64_t rows, uint32_t n_head, wk_err *e)
{
    if (n_head == 0 || rows % n_head != 0 || (rows / n_head) % 2 != 0)
        return wk_fail(e, "tensor '%s': %llu rows do not split into %u heads of an even size",
                       tensor, (unsigned long long)rows, n_head);
    return 0;
}

uint64_t wk_qk_unpermute_src(uint64_t r, uint64_t rows, uint32_t n_head)
{
    uint64_t head = rows / n_head, half = head / 2;
    uint64_t base = r - r % head, k = r % head;
    return base + (k % 2) * half + k / 2;
}

uint64_t wk_qk_permute_src(uint64_t r, uint64_t rows, uint32_t n_head)
{
    uint64_t head = rows / n_head, half = head / 2;
    uint64_t base = r - r % head, k = r % head;
    return base + (k % half) * 2 + k / half;
}
