/* config.json loading and typed look-ups. JSON numbers arrive as doubles (cJSON), so an
 * integer key must be integral and within +-2^53 to be accepted. */
#include "formats/hf_config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"

#define WK_CONFIG_MAX_BYTES (16u << 20)

int wk_hf_config_load(const char *dir, wk_hf_config **out, wk_err *e)
{
    *out = NULL;
    char *path = wk_path_join(dir, "config.json");
    if (!path)
        return wk_fail(e, "%s: out of memory", dir);
    int kind = wk_optional_file(path, e);
    if (kind <= 0) {
        free(path);
        return kind == 0 ? 1 : -1;
    }
    char *text;
    if (wk_read_small_file(path, WK_CONFIG_MAX_BYTES, &text, NULL, e) != 0) {
        free(path);
        return -1;
    }
    cJSON *json = cJSON_Parse(text);
    if (!json || !cJSON_IsObject(json)) {
        const char *where = json ? NULL : cJSON_GetErrorPtr();
        int rc = where ? wk_fail(e, "%s: invalid JSON near byte %ld", path, (long)(where - text))
                       : wk_fail(e, "%s: expected a JSON object", path);
        cJSON_Delete(json);
        free(text);
        free(path);
        return rc;
    }
    free(text);
    wk_hf_config *c = calloc(1, sizeof *c);
    if (!c) {
        cJSON_Delete(json);
        free(path);
        return wk_fail(e, "%s: out of memory", dir);
    }
    c->path = path;
    c->json = json;
    cJSON *archs = cJSON_GetObjectItemCaseSensitive(json, "architectures");
    if (cJSON_IsArray(archs) && cJSON_IsString(cJSON_GetArrayItem(archs, 0)))
        c->architecture = cJSON_GetArrayItem(archs, 0)->valuestring;
    cJSON *mt = cJSON_GetObjectItemCaseSensitive(json, "model_type");
    if (cJSON_IsString(mt))
        c->model_type = mt->valuestring;
    *out = c;
    return 0;
}

void wk_hf_config_free(wk_hf_config *c)
{
    if (!c)
        return;
    cJSON_Delete(c->json);
    free(c->path);
    free(c);
}

static const cJSON *get(const wk_hf_config *c, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->json, key);
    return (v && !cJSON_IsNull(v)) ? v : NULL;
}

int wk_hf_get_int(const wk_hf_config *c, const char *key, int64_t *out, wk_err *e)
{
    const cJSON *v = get(c, key);
    if (!v)
        return 1;
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return wk_fail(e, "%s: key \"%s\" must be an integer", c->path, key);
    *out = (int64_t)d;
    return 0;
}

int wk_hf_get_float(const wk_hf_config *c, const char *key, double *out, wk_err *e)
{
    const cJSON *v = get(c, key);
    if (!v)
        return 1;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return wk_fail(e, "%s: key \"%s\" must be a finite number", c->path, key);
    *out = v->valuedouble;
    return 0;
}

int wk_hf_get_bool(const wk_hf_config *c, const char *key, bool *out, wk_err *e)
{
    const cJSON *v = get(c, key);
    if (!v)
        return 1;
    if (!cJSON_IsBool(v))
        return wk_fail(e, "%s: key \"%s\" must be true or false", c->path, key);
    *out = cJSON_IsTrue(v);
    return 0;
}

int wk_hf_get_str(const wk_hf_config *c, const char *key, const char **out, wk_err *e)
{
    const cJSON *v = get(c, key);
    if (!v)
        return 1;
    if (!cJSON_IsString(v))
        return wk_fail(e, "%s: key \"%s\" must be a string", c->path, key);
    *out = v->valuestring;
    return 0;
}
