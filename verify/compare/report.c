/* The report (see report.h). */
#include "verify/compare/report.h"

#include <cjson/cJSON.h>
#include <string.h>

#include "common/human.h"

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s && s[1] ? s + 1 : p;
}

static double bpw(const wk_verify_input *in)
{
    return in->n_params ? 8.0 * (double)in->tensor_bytes / (double)in->n_params : 0;
}

static void model_line(FILE *f, const char *label, const wk_verify_input *in)
{
    char params[32], bytes[32];
    wk_human_count(in->n_params, params, sizeof params);
    wk_human_bytes(in->converted ? in->tensor_bytes : in->file_bytes, bytes, sizeof bytes);
    fprintf(f, "%-11s%s (%s parameters, %s%s, %.2f bits per weight)\n", label, in->path, params,
            bytes, in->converted ? " converted for the run" : "", bpw(in));
}

void wk_verify_print_text(FILE *f, const wk_verify_report *v)
{
    const wk_compare_result *r = v->r;
    const wk_chunks *c = &r->chunks;
    if (v->ref)
        model_line(f, "Reference", v->ref);
    else
        fprintf(f, "%-11s%s (saved from %s)\n", "Reference", "saved reference",
                v->saved->reference);
    fprintf(f, "%-11s%s: %llu tokens; %u chunks of %u, BOS first, positions %u-%u of each "
               "scored: %llu positions\n",
            "Text", v->text_name, (unsigned long long)c->n_text_tokens, c->n_chunks, c->n_ctx,
            c->first, c->n_ctx - 2,
            (unsigned long long)c->n_chunks * wk_chunks_scored(c));
    if (r->n)
        fprintf(f, "%-11sreference %.4f +- %.4f\n", "PPL", r->scores[0].ref_ppl.value,
                r->scores[0].ref_ppl.se);
    fprintf(f, "\n%-28s %9s %6s %19s %9s %17s %21s %9s %9s %9s %9s %7s %7s %7s\n", "candidate",
            "size", "bpw", "PPL", "dPPL", "PPL ratio", "KLD mean", "median", "p90", "p99", "max",
            "top-1", "top-5", "RMS dp");
    for (size_t k = 0; k < r->n; k++) {
        const wk_score *s = &r->scores[k];
        const wk_verify_input *in = &v->cands[k];
        char bytes[32];
        wk_human_bytes(in->converted ? in->tensor_bytes : in->file_bytes, bytes, sizeof bytes);
        fprintf(f, "%-28.28s %9s %6.2f %10.4f +-%7.4f %+9.4f %8.5f +-%6.5f %10.6f +-%8.6f "
                   "%9.6f %9.6f %9.6f %9.6f %6.2f%% %6.2f%% %6.3f%%\n",
                base_name(in->path), bytes, bpw(in), s->ppl.value, s->ppl.se, s->dppl.value,
                s->ppl_ratio.value, s->ppl_ratio.se, s->kld.value, s->kld.se, s->kld_median,
                s->kld_p90, s->kld_p99, s->kld_max, 100 * s->top1, 100 * s->top5,
                100 * s->rms_dp);
    }
    fprintf(f, "\n%llu tokens evaluated in %.2f s (%.1f tokens/s)\n",
            (unsigned long long)r->tokens_evaluated, r->seconds,
            r->seconds > 0 ? (double)r->tokens_evaluated / r->seconds : 0);
}

static cJSON *est(const wk_est *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "value", e->value);
    cJSON_AddNumberToObject(o, "se", e->se);
    return o;
}

static cJSON *model(const wk_verify_input *in)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", in->path);
    cJSON_AddBoolToObject(o, "converted", in->converted);
    cJSON_AddNumberToObject(o, "file_bytes", (double)in->file_bytes);
    cJSON_AddNumberToObject(o, "tensor_bytes", (double)in->tensor_bytes);
    cJSON_AddNumberToObject(o, "parameters", (double)in->n_params);
    cJSON_AddNumberToObject(o, "bits_per_weight", bpw(in));
    return o;
}

char *wk_verify_json(const wk_verify_report *v)
{
    const wk_compare_result *r = v->r;
    const wk_chunks *c = &r->chunks;
    cJSON *root = cJSON_CreateObject(), *text = cJSON_CreateObject(),
          *cands = cJSON_CreateArray();
    if (v->ref) {
        cJSON_AddItemToObject(root, "reference", model(v->ref));
    } else {
        cJSON *s = cJSON_AddObjectToObject(root, "reference");
        cJSON_AddStringToObject(s, "saved_from", v->saved->reference);
    }
    if (r->n)
        cJSON_AddItemToObject(cJSON_GetObjectItem(root, "reference"), "ppl",
                              est(&r->scores[0].ref_ppl));
    cJSON_AddStringToObject(text, "source", v->text_name);
    cJSON_AddNumberToObject(text, "tokens", (double)c->n_text_tokens);
    cJSON_AddNumberToObject(text, "n_ctx", c->n_ctx);
    cJSON_AddNumberToObject(text, "chunks", c->n_chunks);
    cJSON_AddNumberToObject(text, "first_scored", c->first);
    cJSON_AddNumberToObject(text, "positions", (double)c->n_chunks * wk_chunks_scored(c));
    cJSON_AddItemToObject(root, "text", text);
    for (size_t k = 0; k < r->n; k++) {
        const wk_score *s = &r->scores[k];
        cJSON *o = model(&v->cands[k]);
        cJSON_AddItemToObject(o, "ppl", est(&s->ppl));
        cJSON_AddItemToObject(o, "dppl", est(&s->dppl));
        cJSON_AddItemToObject(o, "ppl_ratio", est(&s->ppl_ratio));
        cJSON *kld = est(&s->kld);
        cJSON_AddNumberToObject(kld, "median", s->kld_median);
        cJSON_AddNumberToObject(kld, "p90", s->kld_p90);
        cJSON_AddNumberToObject(kld, "p99", s->kld_p99);
        cJSON_AddNumberToObject(kld, "max", s->kld_max);
        cJSON_AddItemToObject(o, "kld", kld);
        cJSON_AddNumberToObject(o, "top1", s->top1);
        cJSON_AddNumberToObject(o, "top5", s->top5);
        cJSON_AddNumberToObject(o, "rms_dp", s->rms_dp);
        cJSON_AddItemToArray(cands, o);
    }
    cJSON_AddItemToObject(root, "candidates", cands);
    cJSON_AddNumberToObject(root, "seconds", r->seconds);
    cJSON_AddNumberToObject(root, "tokens_evaluated", (double)r->tokens_evaluated);
    char *out = cJSON_Print(root);
    cJSON_Delete(root);
    return out;
}
