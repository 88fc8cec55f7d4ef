/* Names of the files of a GGUF split set, as llama.cpp forms them (llama_split_path and
 * llama_split_prefix in src/llama.cpp): PREFIX-%05d-of-%05d.gguf with the file number
 * counted from 1. The writer names its files from the output name with its ".gguf"
 * removed (NAME.gguf -> NAME-00001-of-00003.gguf ..., as llama.cpp's converter does), and
 * a name that does not exist may stand for the set written under it. */
#include "formats/gguf/gguf.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/strutil.h"

#define SUFFIX_LEN 20 /* "-00001-of-00003.gguf" */

char *wk_gguf_split_path(const char *path, uint32_t no, uint32_t count)
{
    size_t n = strlen(path);
    if (wk_has_suffix(path, ".gguf"))
        n -= 5;
    size_t len = n + SUFFIX_LEN + 16;
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%.*s-%05u-of-%05u.gguf", (int)n, path, no + 1, count);
    return p;
}

char *wk_gguf_split_prefix(const char *path, uint32_t no, uint32_t count)
{
    char want[48];
    snprintf(want, sizeof want, "-%05u-of-%05u.gguf", no + 1, count);
    if (!wk_has_suffix(path, want) || strlen(path) == strlen(want))
        return NULL;
    return strndup(path, strlen(path) - strlen(want));
}

/* "-00001-of-" then 5 digits, then ".gguf", nothing more. */
static bool is_first_split_name(const char *rest)
{
    if (strncmp(rest, "-00001-of-", 10) != 0 || strlen(rest) != SUFFIX_LEN)
        return false;
    return strspn(rest + 10, "0123456789") == 5 && strcmp(rest + 15, ".gguf") == 0;
}

char *wk_gguf_find_split_set(const char *path)
{
    if (!wk_has_suffix(path, ".gguf"))
        return NULL;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t base_len = strlen(base) - 5;
    char *dir = slash ? strndup(path, (size_t)(slash - path) + 1) : strdup(".");
    DIR *d = dir ? opendir(dir) : NULL;
    char *found = NULL;
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, base, base_len) != 0 ||
            !is_first_split_name(de->d_name + base_len))
            continue;
        if (++n == 1)
            found = slash ? wk_path_join(dir, de->d_name) : strdup(de->d_name);
    }
    if (d)
        closedir(d);
    free(dir);
    if (n != 1) { /* none, or sets of different counts: naming one would be a guess */
        free(found);
        return NULL;
    }
    return found;
}
