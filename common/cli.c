/* Shared command-line conventions for the wk-* tools. */
#include "common/cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/version.h"

int wk_cli_help(const wk_tool *t)
{
    fputs(t->usage, stdout);
    return WK_EXIT_OK;
}

int wk_cli_version(const wk_tool *t)
{
    printf("%s (weightkit) %s\n", t->name, WK_VERSION);
    return WK_EXIT_OK;
}

int wk_cli_usage_error(const wk_tool *t, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: ", t->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", t->name);
    return WK_EXIT_USAGE;
}

int wk_cli_option_error(const wk_tool *t, int getopt_ret, char *const *argv, int optind_now)
{
    /* a long option is the whole argument; a short one may sit in a cluster ("-qZ"), so it
     * is named by the character getopt stopped at */
    const char *arg = optind_now > 0 ? argv[optind_now - 1] : "";
    char shortopt[3] = {'-', (char)optopt, '\0'};
    const char *opt = strncmp(arg, "--", 2) != 0 && optopt > 0 && optopt < 128 ? shortopt : arg;
    if (getopt_ret == ':')
        return wk_cli_usage_error(t, "option '%s' needs a value", opt);
    return wk_cli_usage_error(t, "unknown or ambiguous option '%s'", opt);
}

int wk_cli_error(const wk_tool *t, const wk_err *e)
{
    fprintf(stderr, "%s: error: %s\n", t->name, e->msg);
    return WK_EXIT_BAD_INPUT;
}

void wk_cli_warn(const wk_tool *t, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s: warning: ", t->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void wk_cli_warnings(const wk_tool *t, const wk_warnings *w)
{
    for (size_t i = 0; i < w->n; i++)
        for (const char *line = w->msg[i]; *line;) {
            size_t len = strcspn(line, "\n");
            if (len)
                wk_cli_warn(t, "%.*s", (int)len, line);
            line += len + (line[len] == '\n');
        }
    if (w->lost)
        wk_cli_warn(t, "%zu more warning(s) could not be stored: out of memory", w->lost);
}
