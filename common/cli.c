/* Shared command-line conventions for the wk-* tools: the printing half (the option table
 * itself is parsed and rendered in common/options.c). */
#include "common/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/version.h"

int wk_cli_help(const wk_tool *t)
{
    char *text = wk_cli_help_text(t);
    if (!text) {
        fprintf(stderr, "%s: error: out of memory\n", t->name);
        return WK_EXIT_BAD_INPUT;
    }
    fputs(text, stdout);
    free(text);
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

/* OpenMP's threads spin between parallel regions by default (libgomp: about 300k spins),
 * burning a core while the main thread writes a chunk: in wk-convert that was 2.5x the user
 * CPU of the same run with passive waits, at no gain in wall time. libgomp reads
 * OMP_WAIT_POLICY once, when it is loaded, before main runs; so a tool started without the
 * variable sets it and runs itself again (once: the variable is then set). Should the
 * re-execution fail, the tool goes on with spinning threads. */
void wk_cli_passive_openmp(char **argv)
{
    if (getenv("OMP_WAIT_POLICY"))
        return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0)
        return;
    execv("/proc/self/exe", argv);
}

int wk_cli_parse(const wk_tool *t, int argc, char **argv, char ***args, int *n_args)
{
    wk_err e;
    switch (wk_cli_parse_quiet(t, argc, argv, args, n_args, &e)) {
    case 0: return WK_CLI_CONTINUE;
    case 1: return wk_cli_help(t);
    case 2: return wk_cli_version(t);
    default: return wk_cli_usage_error(t, "%s", e.msg);
    }
}
