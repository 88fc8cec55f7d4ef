/* wk-quantize's report renderings (see report.h). Tensor names come from the files being
 * quantized: JSON escapes them (cJSON); the text table prints them as they are, since
 * wk_tensor names are already checked to be UTF-8 without control bytes by every reader. */
#include "verify/quantize/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/bytebuf.h"
#include "common/human.h"
#include "quant/ftype.h"

static const char *ftype_name(uint32_t id)
{
    const wk_ftype *f = wk_ftype_by_id(id);
    return f ? f->name : "?";
}

static void tensor_line(wk_buf *b, const wk_quant_tensor *t)
{
    wk_buf_printf(b, "%-40s %-7s -> %-7s %6.2f", t->name, wk_type(t->src)->name,
                  wk_type(t->dst)->name, wk_quant_bpw(t->bytes_out, t->n_elements));
    if (t->quantized && t->stats.n)
        wk_buf_printf(b, "  %10.3e  %10.3e  %7.2f", wk_stream_rmse(&t->stats),
                      t->stats.max_abs_err, wk_stream_snr_db(&t->stats));
    else if (t->quantized)
        wk_buf_printf(b, "  %10s  %10s  %7s", "-", "-", "-");
    else
        wk_buf_printf(b, "  %10s  %10s  %7s", "", "", "");
    const char *note = t->fallback[0] ? "fallback" : t->why ? t->why : "";
    wk_buf_printf(b, "  %s%s\n", note, t->importance ? (note[0] ? ", imatrix" : "imatrix") : "");
}

char *wk_quant_report_text(const wk_quant_report *r, bool verbose)
{
    wk_buf b = {0};
    char in[32], out[32], file[32];
    wk_human_bytes(r->bytes_in, in, sizeof in);
    wk_human_bytes(r->bytes_out, out, sizeof out);
    wk_buf_printf(&b, "Input         %s (%s)\n", r->input, r->input_format ? r->input_format : "?");
    wk_buf_printf(&b, "Recipe        %s (general.file_type %u, %s)%s%s\n", r->recipe,
                  r->file_type, ftype_name(r->file_type), r->imatrix ? ", imatrix " : "",
                  r->imatrix ? r->imatrix : "");
    wk_buf_printf(&b, "\n%-40s %-7s    %-7s %6s  %10s  %10s  %7s  %s\n", "Tensor", "From", "To",
                  "Bits/w", "RMSE", "Max|err|", "SNR dB", "Why");
    for (size_t k = 0; k < r->n; k++)
        if (verbose || r->t[k].quantized || r->t[k].fallback[0])
            tensor_line(&b, &r->t[k]);
    if (r->n_fallbacks) {
        wk_buf_printf(&b, "\nFallbacks (%zu tensors):\n", r->n_fallbacks);
        for (size_t k = 0; k < r->n; k++)
            if (r->t[k].fallback[0])
                wk_buf_printf(&b, "  %s: %s\n", r->t[k].name, r->t[k].fallback);
    }
    wk_buf_printf(&b, "\nTensors       %zu (%llu parameters)\n", r->n,
                  (unsigned long long)r->params);
    wk_buf_printf(&b, "Size          %s -> %s of tensor data (%.2f -> %.2f bits per weight)\n", in,
                  out, wk_quant_bpw(r->bytes_in, r->params), wk_quant_bpw(r->bytes_out, r->params));
    if (r->dry_run) {
        wk_buf_printf(&b, "Output        none written (--dry-run)\n");
    } else {
        wk_human_bytes(r->file_bytes, file, sizeof file);
        wk_buf_printf(&b, "Output        %s (%s, %.2f bits per weight as a file)\n", r->output,
                      file, wk_quant_bpw(r->file_bytes, r->params));
    }
    wk_buf_printf(&b, "Time          %.2f s\n", r->seconds);
    if (b.oom) {
        wk_buf_free(&b);
        return NULL;
    }
    wk_buf_put(&b, "", 1);
    return (char *)b.p;
}

/* A number, or null when it is not finite (JSON has no infinity). */
static void add_number(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *tensor_json(const wk_quant_tensor *t)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "from", wk_type(t->src)->name);
    cJSON_AddStringToObject(o, "type", wk_type(t->dst)->name);
    cJSON_AddStringToObject(o, "why", t->why ? t->why : "");
    if (t->fallback[0])
        cJSON_AddStringToObject(o, "fallback", t->fallback);
    else
        cJSON_AddNullToObject(o, "fallback");
    cJSON_AddNumberToObject(o, "elements", (double)t->n_elements);
    cJSON_AddNumberToObject(o, "bytes", (double)t->bytes_out);
    cJSON_AddNumberToObject(o, "bits_per_weight", wk_quant_bpw(t->bytes_out, t->n_elements));
    cJSON_AddBoolToObject(o, "imatrix", t->importance);
    if (t->quantized && t->stats.n) {
        add_number(o, "rmse", wk_stream_rmse(&t->stats));
        add_number(o, "max_abs_error", t->stats.max_abs_err);
        add_number(o, "snr_db", wk_stream_snr_db(&t->stats));
    } else {
        cJSON_AddNullToObject(o, "rmse");
        cJSON_AddNullToObject(o, "max_abs_error");
        cJSON_AddNullToObject(o, "snr_db");
    }
    return o;
}

char *wk_quant_report_json(const wk_quant_report *r)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "input", r->input);
    cJSON_AddStringToObject(doc, "input_format", r->input_format ? r->input_format : "");
    if (r->dry_run)
        cJSON_AddNullToObject(doc, "output");
    else
        cJSON_AddStringToObject(doc, "output", r->output);
    cJSON_AddStringToObject(doc, "recipe", r->recipe);
    cJSON *ft = cJSON_AddObjectToObject(doc, "file_type");
    cJSON_AddNumberToObject(ft, "id", r->file_type);
    cJSON_AddStringToObject(ft, "name", ftype_name(r->file_type));
    if (r->imatrix)
        cJSON_AddStringToObject(doc, "imatrix", r->imatrix);
    else
        cJSON_AddNullToObject(doc, "imatrix");
    cJSON_AddBoolToObject(doc, "dry_run", r->dry_run);
    cJSON *ts = cJSON_AddArrayToObject(doc, "tensors");
    for (size_t k = 0; k < r->n; k++)
        cJSON_AddItemToArray(ts, tensor_json(&r->t[k]));
    cJSON *tot = cJSON_AddObjectToObject(doc, "totals");
    cJSON_AddNumberToObject(tot, "tensors", (double)r->n);
    cJSON_AddNumberToObject(tot, "parameters", (double)r->params);
    cJSON_AddNumberToObject(tot, "fallbacks", (double)r->n_fallbacks);
    cJSON_AddNumberToObject(tot, "bytes_before", (double)r->bytes_in);
    cJSON_AddNumberToObject(tot, "bytes_after", (double)r->bytes_out);
    cJSON_AddNumberToObject(tot, "bits_per_weight_before", wk_quant_bpw(r->bytes_in, r->params));
    cJSON_AddNumberToObject(tot, "bits_per_weight_after", wk_quant_bpw(r->bytes_out, r->params));
    cJSON_AddNumberToObject(tot, "files", r->files);
    cJSON_AddNumberToObject(tot, "file_bytes", (double)r->file_bytes);
    cJSON_AddNumberToObject(tot, "seconds", r->seconds);
    char *text = cJSON_PrintUnformatted(doc);
    cJSON_Delete(doc);
    return text;
}
