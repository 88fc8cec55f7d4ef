/* common/warn.h and wk_cli_warnings: every warning is kept, whole and in order, however
 * many and however long, and the tool prints each line of each with its prefix. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"
#include "common/warn.h"

Test(warn, a_thousand_warnings_are_all_kept_in_order)
{
    wk_warnings w = {0};
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(wk_warn(&w, "file%d.json: warning number %d", i % 7, i), 0);
    cr_assert_eq(w.n, 1000);
    cr_assert_eq(w.lost, 0);
    for (int i = 0; i < 1000; i++) {
        char want[64];
        snprintf(want, sizeof want, "file%d.json: warning number %d", i % 7, i);
        cr_assert_str_eq(w.msg[i], want);
    }
    wk_warnings_free(&w);
    cr_assert_eq(w.n, 0);
    cr_assert_null(w.msg);
    cr_assert_eq(wk_warn(&w, "reused"), 0, "a freed list takes warnings again");
    cr_assert_str_eq(w.msg[0], "reused");
    wk_warnings_free(&w);
}

Test(warn, a_long_warning_is_not_truncated)
{
    size_t len = 100000;
    char *text = malloc(len + 1);
    for (size_t i = 0; i < len; i++)
        text[i] = (char)('a' + i % 26);
    text[len] = '\0';
    wk_warnings w = {0};
    cr_assert_eq(wk_warn(&w, "<%s>", text), 0);
    cr_assert_eq(strlen(w.msg[0]), len + 2);
    cr_assert_eq(memcmp(w.msg[0] + 1, text, len), 0);
    free(text);
    wk_warnings_free(&w);
}

Test(warn, an_empty_list_frees_cleanly)
{
    wk_warnings w = {0};
    wk_warnings_free(&w);
    cr_assert_eq(w.n + w.cap + w.lost, 0);
}

Test(warn, the_tool_prints_every_line_with_its_prefix, .init = cr_redirect_stderr)
{
    wk_tool tool = {.name = "wk-test"};
    wk_warnings w = {0};
    wk_warn(&w, "one");
    wk_warn(&w, "two\nthree\n");
    wk_warn(&w, "%s", "");
    wk_warn(&w, "four %d%%", 4);
    w.lost = 2;
    wk_cli_warnings(&tool, &w);
    fflush(stderr);
    cr_assert_stderr_eq_str("wk-test: warning: one\n"
                            "wk-test: warning: two\n"
                            "wk-test: warning: three\n"
                            "wk-test: warning: four 4%\n"
                            "wk-test: warning: 2 more warning(s) could not be stored: out of "
                            "memory\n");
    wk_warnings_free(&w);
}
