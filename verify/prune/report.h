/* wk-prune's report, as text for a terminal or as one JSON document (schema in
 * docs/wk-prune.md): the method, then per pruned tensor, per category, for the pruned
 * tensors together and for the whole model the sparsity achieved (zeros / elements), with
 * the zeros the input already had counted apart; the output's size and the time. */
#ifndef WK_VERIFY_PRUNE_REPORT_H
#define WK_VERIFY_PRUNE_REPORT_H

#include "models/prune.h"

/* New heap strings, NULL when out of memory. verify_json, when not NULL, is wk-verify's
 * JSON document for the run's --verify, embedded as "verify". */
char *wk_prune_report_text(const wk_prune_report *r);
char *wk_prune_report_json(const wk_prune_report *r, const char *verify_json);

/* "magnitude, 50.00 % per row", "N:M 2:4 (magnitude)", "wanda 2:4" into buf. */
const char *wk_prune_describe(const wk_prune_report *r, char *buf, size_t len);

#endif
