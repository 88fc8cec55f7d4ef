/* config.json loading and typed look-ups (see hf_config.h). JSON numbers arrive as doubles
 * (cJSON), so an integer key must be integral and within +-2^53 to be accepted. */
#include "formats/hf_config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/fileio.h"

#define WK_CONFIG_MAX_BYTES (16u << 20)

int wk_hf_config_parse(const char *text, const char *path, wk_hf_config **out, wk_err *e)
{
    *out = NULL;
    cJSON *json = cJSON_Parse(text);
    if (!json || !cJSON_IsObject(json)) {
        const char *where = json ? NULL : cJSON_GetErrorPtr();
        int rc = where ? wk_fail(e, "%s: invalid JSON near byte %ld", path, (long)(where - text))
                       : wk_fail(e, "%s: expected a JSON object", path);
        cJSON_Delete(json);
        return rc;
    }
    wk_hf_config *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        cJSON_Delete(json);
        return wk_fail(e, "%s: out of memory", path);
    }
    c->root = json;
    c->node = json;
    cJSON *archs = cJSON_GetObjectItemCaseSensitive(json, "architectures");
    if (cJSON_IsArray(archs) && cJSON_IsString(cJSON_GetArrayItem(archs, 0)))
        c->architecture = cJSON_GetArrayItem(archs, 0)->valuestring;
    cJSON *mt = cJSON_GetObjectItemCaseSensitive(json, "model_type");
    if (cJSON_IsString(mt))
        c->model_type = mt->valuestring;
    *out = c;
    return 0;
}

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
    int rc = wk_read_small_file(path, WK_CONFIG_MAX_BYTES, &text, NULL, e);
    if (rc == 0) {
        rc = wk_hf_config_parse(text, path, out, e);
        free(text);
    }
    free(path);
    return rc;
}

void wk_hf_config_free(wk_hf_config *c)
{
    if (!c)
        return;
    cJSON_Delete(c->root);
    free(c->path);
    free(c);
}

static const cJSON *get(const wk_hf_config *c, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive((const cJSON *)c->node, key);
    return (v && !cJSON_IsNull(v)) ? v : NULL;
}

int wk_hf_get_int(const wk_hf_config *c, const char *key, int64_t *out, wk_err *e)
{
    const cJSON *v = get(c, key);
    if (!v)
        return 1;
    double d = v->valuedouble;
    if (!cJSON_IsNumber(v) || d != floor(d) || fabs(d) > 9007199254740992.0)
        return wk_fail(e, "%s: key \"%s%s\" must be an integer", c->path, c->prefix, key);
    *out = (int64_t)d;
    return 0;
}

int wk_hf_get_float(const wk_hf_config *c, const char *key, double *out, wk_err *e)
{
    const cJSON *v = get(c, key);
    if (!v)
        return 1;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
        return wk_fail(e, "%s: key \"%s%s\" must be a finite number", c->path, c->prefix, key);
    *out = v->valuedouble;
    return 0;
}

int wk_hf_get_bool(const wk_hf_config *c, const char *key, bool *out, wk_err *e)
{
    const cJSON *v = get(c, key);
    if (!v)
        return 1;
    if (!cJSON_IsBool(v))
        return wk_fail(e, "%s: key \"%s%s\" must be true or false", c->path, c->prefix, key);
    *out = cJSON_IsTrue(v);
    return 0;
}

int wk_hf_get_str(const wk_hf_config *c, const char *key, const char **out, wk_err *e)
{
    const cJSON *v = get(c, key);
    if (!v)
        return 1;
    if (!cJSON_IsString(v))
        return wk_fail(e, "%s: key \"%s%s\" must be a string", c->path, c->prefix, key);
    *out = v->valuestring;
    return 0;
}

int wk_hf_get_object(const wk_hf_config *c, const char *key, wk_hf_config *out, wk_err *e)
{
    const cJSON *v = get(c, key);
    if (!v)
        return 1;
    if (!cJSON_IsObject(v))
        return wk_fail(e, "%s: key \"%s%s\" must be an object or null", c->path, c->prefix,
                       key);
    *out = (wk_hf_config){.path = c->path, .architecture = c->architecture,
                          .model_type = c->model_type, .node = v};
    snprintf(out->prefix, sizeof out->prefix, "%.30s%.30s.", c->prefix, key);
    return 0;
}
