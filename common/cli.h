/* What every wk-* tool shares: one option table that both parses argv and renders --help,
 * exit codes, --help/--version, and how errors are printed.
 *
 * As in git's parse-options, a tool describes its options once, as a table of wk_option
 * rows that point at typed targets; wk_cli_parse runs getopt_long built from the table,
 * checks every value (numbers against their range, sizes, choices through a callback),
 * collects the positional arguments and answers -h/--help and -V/--version itself. So a
 * tool's main() is: table, parse, cross-option checks, call the library. Messages look
 * the same in every tool: "wk-inspect: error: <message>", and usage errors end with
 * "Try 'wk-inspect --help' for more information." and exit 2. */
#ifndef WK_COMMON_CLI_H
#define WK_COMMON_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"
#include "common/warn.h"

enum { WK_EXIT_OK = 0, WK_EXIT_BAD_INPUT = 1, WK_EXIT_USAGE = 2 };

/* What an option's target is and how its value is checked. */
typedef enum wk_opt_kind {
    WK_OPTK_FLAG,   /* bool *: set to true; takes no value */
    WK_OPTK_STRING, /* const char **: the value as given (the last one wins) */
    WK_OPTK_LONG,   /* long *: a decimal integer in [min, max] */
    WK_OPTK_DOUBLE, /* double *: a decimal number in [dmin, dmax] */
    WK_OPTK_SIZE,   /* uint64_t *: bytes, "N", "NK", "NM" or "NG" (powers of 1000, as
                       llama.cpp's converter reads --split-max-size), at least min */
    WK_OPTK_CALL,   /* call(target, value, e): returns 0, or -1 with the whole message in e
                       ("unknown --outtype 'q4' (f32, f16, bf16, auto)"); value is NULL
                       when the entry has no placeholder */
} wk_opt_kind;

typedef int (*wk_opt_fn)(void *target, const char *value, wk_err *e);

typedef struct wk_option {
    const char *name;  /* long name without "--"; NULL ends the table */
    char short_name;   /* 'o' for -o; 0: none */
    const char *value; /* the placeholder shown in --help ("N", "GLOB"); NULL for a flag */
    const char *help;  /* one paragraph, rewrapped at 80 columns */
    wk_opt_kind kind;
    void *target;
    long min, max;     /* WK_OPTK_LONG: the range; WK_OPTK_SIZE: min is the smallest size */
    double dmin, dmax; /* WK_OPTK_DOUBLE: the range */
    wk_opt_fn call;    /* WK_OPTK_CALL */
} wk_option;

/* Table rows. The pointer is type-checked: a long * handed to WK_OPT_FLAG is a compile
 * warning ("pointer type mismatch"), not a silent bug. */
#define WK_OPT_TARGET_(T, p) ((void *)(1 ? (p) : (T *)0))
#define WK_OPT_FLAG(lname, sname, ptr, text)                                              \
    {.name = (lname), .short_name = (sname), .help = (text), .kind = WK_OPTK_FLAG,       \
     .target = WK_OPT_TARGET_(bool, ptr)}
#define WK_OPT_STRING(lname, sname, placeholder, ptr, text)                               \
    {.name = (lname), .short_name = (sname), .value = (placeholder), .help = (text),      \
     .kind = WK_OPTK_STRING, .target = WK_OPT_TARGET_(const char *, ptr)}
#define WK_OPT_LONG(lname, sname, placeholder, ptr, lo, hi, text)                         \
    {.name = (lname), .short_name = (sname), .value = (placeholder), .help = (text),      \
     .kind = WK_OPTK_LONG, .target = WK_OPT_TARGET_(long, ptr), .min = (lo), .max = (hi)}
#define WK_OPT_DOUBLE(lname, sname, placeholder, ptr, lo, hi, text)                       \
    {.name = (lname), .short_name = (sname), .value = (placeholder), .help = (text),      \
     .kind = WK_OPTK_DOUBLE, .target = WK_OPT_TARGET_(double, ptr), .dmin = (lo),         \
     .dmax = (hi)}
#define WK_OPT_SIZE(lname, sname, placeholder, ptr, lo, text)                             \
    {.name = (lname), .short_name = (sname), .value = (placeholder), .help = (text),      \
     .kind = WK_OPTK_SIZE, .target = WK_OPT_TARGET_(uint64_t, ptr), .min = (lo)}
#define WK_OPT_CALL(lname, sname, placeholder, fn, ptr, text)                             \
    {.name = (lname), .short_name = (sname), .value = (placeholder), .help = (text),      \
     .kind = WK_OPTK_CALL, .target = (ptr), .call = (fn)}
#define WK_OPT_END {.name = NULL}

/* At most this many rows per table (the parser builds getopt's arrays on the stack). */
#define WK_CLI_MAX_OPTIONS 120

typedef struct wk_tool {
    const char *name;        /* "wk-inspect" */
    const char *synopsis;    /* what follows "Usage: wk-inspect ": "[OPTIONS] MODEL" */
    const char *about;       /* what the tool does: paragraphs split by "\n\n", rewrapped */
    const wk_option *options; /* ended by WK_OPT_END; -h/--help and -V/--version are added.
                                NULL: a tool (a test helper) that parses argv itself and
                                lists its options in about/notes; no "Options:" section */
    const char *notes;       /* optional paragraphs after the options */
    const char *exit_status; /* after "Exit status: "; NULL: "0 success, 1 bad input, 2
                                usage error." */
    const char *operand;     /* names the positional arguments in messages: "MODEL" */
    int min_operands, max_operands; /* how many there may be; max -1: no limit */
} wk_tool;

/* wk_cli_parse's "go on" answer; any other value is the exit status to return. */
#define WK_CLI_CONTINUE (-1)

/* Parses argv against t->options (filling their targets), and checks the number of
 * positional arguments against t->min_operands..max_operands. Returns WK_CLI_CONTINUE with
 * the positional arguments in (*args)[0..*n_args) (pointers into argv, which getopt
 * permutes); or, having printed what the user asked for or why the command line is wrong,
 * WK_EXIT_OK (--help, --version) or WK_EXIT_USAGE. */
int wk_cli_parse(const wk_tool *t, int argc, char **argv, char ***args, int *n_args);

/* Called first in a tool's main: makes OpenMP's idle threads sleep rather than spin. When
 * OMP_WAIT_POLICY is unset it sets PASSIVE and executes the tool again (libgomp reads the
 * variable only when it is loaded); a user's own setting is kept. */
void wk_cli_passive_openmp(char **argv);

/* The same without printing: 0 to go on, 1 for --help, 2 for --version (the first one
 * met wins), or -1 with the usage error's message in e. */
int wk_cli_parse_quiet(const wk_tool *t, int argc, char **argv, char ***args, int *n_args,
                       wk_err *e);

/* The whole --help text as a new heap string (NULL when out of memory): the usage line,
 * the about paragraphs, "Options:" with aligned columns, the notes and the exit status,
 * every line at most 80 columns unless a single word is longer. */
char *wk_cli_help_text(const wk_tool *t);

/* Prints the help text to stdout; returns WK_EXIT_OK. */
int wk_cli_help(const wk_tool *t);
/* Prints "<name> (weightkit) <version>"; returns WK_EXIT_OK. */
int wk_cli_version(const wk_tool *t);
/* Prints "<name>: <message>" and a hint to use --help to stderr; returns WK_EXIT_USAGE. */
int wk_cli_usage_error(const wk_tool *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "<name>: error: <e->msg>" to stderr; returns WK_EXIT_BAD_INPUT. */
int wk_cli_error(const wk_tool *t, const wk_err *e);
/* Prints "<name>: warning: ..." to stderr. */
void wk_cli_warn(const wk_tool *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* wk_cli_warn for each line of each collected warning (empty lines skipped), then a count of
 * the warnings that were lost for lack of memory, if any. */
void wk_cli_warnings(const wk_tool *t, const wk_warnings *w);

#endif
