/* What every wk-* tool shares: exit codes, --help/--version, and how errors are printed.
 * Tools parse their own options with getopt_long and call these for the rest, so every
 * tool's messages look the same: "wk-inspect: error: <message>". */
#ifndef WK_COMMON_CLI_H
#define WK_COMMON_CLI_H

#include "common/err.h"
#include "common/warn.h"

enum { WK_EXIT_OK = 0, WK_EXIT_BAD_INPUT = 1, WK_EXIT_USAGE = 2 };

typedef struct wk_tool {
    const char *name;  /* "wk-inspect" */
    const char *usage; /* the whole --help text, starting with the usage line */
} wk_tool;

/* Prints the help text to stdout; returns WK_EXIT_OK. */
int wk_cli_help(const wk_tool *t);
/* Prints "<name> (weightkit) <version>"; returns WK_EXIT_OK. */
int wk_cli_version(const wk_tool *t);
/* Prints "<name>: <message>" and a hint to use --help to stderr; returns WK_EXIT_USAGE. */
int wk_cli_usage_error(const wk_tool *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For getopt_long run with an optstring starting with ':' and opterr = 0: when it returned
 * ':' (an option without its value) or '?' (an unknown option), prints which, with the help
 * hint; returns WK_EXIT_USAGE. */
int wk_cli_option_error(const wk_tool *t, int getopt_ret, char *const *argv, int optind_now);
/* Prints "<name>: error: <e->msg>" to stderr; returns WK_EXIT_BAD_INPUT. */
int wk_cli_error(const wk_tool *t, const wk_err *e);
/* Prints "<name>: warning: ..." to stderr. */
void wk_cli_warn(const wk_tool *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* wk_cli_warn for each line of each collected warning (empty lines skipped), then a count of
 * the warnings that were lost for lack of memory, if any. */
void wk_cli_warnings(const wk_tool *t, const wk_warnings *w);

#endif
