/* Overflow-checked doubling growth for heap arrays (see grow.h). */
#include "common/grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t wk_grow_cap(size_t cap, size_t need, size_t elem_size)
{
    if (elem_size == 0)
        return 0;
    size_t max = SIZE_MAX / elem_size;
    if (need > max)
        return 0;
    if (need <= cap)
        return cap;
    size_t n = cap ? cap : WK_GROW_MIN;
    while (n < need)
        n = n > max / 2 ? max : n * 2;
    return n > max ? max : n;
}

int wk_grow(void **p, size_t *cap, size_t need, size_t elem_size)
{
    if (need <= *cap)
        return 0;
    size_t n = wk_grow_cap(*cap, need, elem_size);
    if (n == 0)
        return -1;
    /* Callers pass (void **)&array with array a T *: the pointer is read and written as
     * bytes, so no T * object is accessed through a void * lvalue (strict aliasing). */
    void *old, *np;
    memcpy(&old, p, sizeof old);
    if (!(np = realloc(old, n * elem_size)))
        return -1;
    memcpy(p, &np, sizeof np);
    *cap = n;
    return 0;
}
