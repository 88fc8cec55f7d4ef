/* wk-verify's report: one table, a row per candidate (text), or one JSON document. */
#ifndef WK_VERIFY_COMPARE_REPORT_H
#define WK_VERIFY_COMPARE_REPORT_H

#include <stdio.h>

#include "verify/compare/compare.h"

typedef struct wk_verify_report {
    const wk_verify_input *ref;    /* NULL with a saved reference */
    const wk_ref_store *saved;
    const wk_verify_input *cands;
    const wk_compare_result *r;
    const char *text_name;         /* "built-in evaluation text" or the file */
} wk_verify_report;

void wk_verify_print_text(FILE *f, const wk_verify_report *v);
/* A heap string (NULL when out of memory). */
char *wk_verify_json(const wk_verify_report *v);

#endif
