/* wk-quantize's report, as text for a terminal or as one JSON document (schema in
 * docs/wk-quantize.md): per tensor the type chosen and why, bits per weight, RMSE, the
 * largest absolute error and the signal-to-noise ratio; the fallbacks; the totals. */
#ifndef WK_VERIFY_QUANTIZE_REPORT_H
#define WK_VERIFY_QUANTIZE_REPORT_H

#include <stdbool.h>

#include "models/quantize.h"

/* New heap strings, NULL when out of memory. verbose lists every tensor in the text. */
char *wk_quant_report_text(const wk_quant_report *r, bool verbose);
char *wk_quant_report_json(const wk_quant_report *r);

#endif
