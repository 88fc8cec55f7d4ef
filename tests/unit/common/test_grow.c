/* common/grow.h: the capacity rule (first allocation, doubling, the clamp below SIZE_MAX,
 * overflow refused before realloc) and that a failed grow leaves the array untouched. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/grow.h"

Test(grow, capacity_doubles_from_the_minimum)
{
    cr_assert_eq(wk_grow_cap(0, 1, 4), WK_GROW_MIN);
    cr_assert_eq(wk_grow_cap(0, WK_GROW_MIN + 1, 4), 2 * WK_GROW_MIN);
    cr_assert_eq(wk_grow_cap(10, 11, 4), 20);
    cr_assert_eq(wk_grow_cap(10, 10, 4), 10, "enough already: unchanged");
    cr_assert_eq(wk_grow_cap(10, 0, 4), 10);
    cr_assert_eq(wk_grow_cap(3, 100, 1), 192, "3 -> 6 -> ... -> 192");
}

Test(grow, capacity_is_clamped_and_overflow_refused)
{
    size_t max8 = SIZE_MAX / 8;
    cr_assert_eq(wk_grow_cap(max8 / 2 + 1, max8 / 2 + 2, 8), max8, "doubling would overflow");
    cr_assert_eq(wk_grow_cap(max8 - 1, max8, 8), max8);
    cr_assert_eq(wk_grow_cap(0, max8 + 1, 8), 0, "need * 8 overflows");
    cr_assert_eq(wk_grow_cap(0, SIZE_MAX, 2), 0);
    cr_assert_eq(wk_grow_cap(0, 5, 0), 0, "zero-sized elements are refused");
    cr_assert_eq(wk_grow_cap(0, SIZE_MAX, 1), SIZE_MAX);
}

Test(grow, appending_keeps_every_element)
{
    uint32_t *a = NULL;
    size_t cap = 0, n = 0;
    for (uint32_t i = 0; i < 10000; i++) {
        cr_assert_eq(wk_grow((void **)&a, &cap, n + 1, sizeof *a), 0);
        cr_assert_geq(cap, n + 1);
        a[n++] = i * 7u;
    }
    cr_assert_eq(cap, 16384, "16 doubled ten times");
    for (uint32_t i = 0; i < 10000; i++)
        cr_assert_eq(a[i], i * 7u, "element %u", i);
    free(a);
}

Test(grow, no_realloc_when_the_array_is_big_enough)
{
    size_t cap = 8;
    char *a = malloc(cap), *before = a;
    cr_assert_eq(wk_grow((void **)&a, &cap, 8, 1), 0);
    cr_assert_eq(a, before);
    cr_assert_eq(cap, 8);
    free(a);
}

Test(grow, overflow_fails_and_leaves_the_array_alone)
{
    size_t cap = 4;
    uint64_t *a = malloc(cap * sizeof *a), *before = a;
    memset(a, 0xab, cap * sizeof *a);
    cr_assert_eq(wk_grow((void **)&a, &cap, SIZE_MAX / 8 + 1, sizeof *a), -1);
    cr_assert_eq(a, before);
    cr_assert_eq(cap, 4);
    cr_assert_eq(a[3], 0xababababababababull, "contents kept");
    free(a);
}
