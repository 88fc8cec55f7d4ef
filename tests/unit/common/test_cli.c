/* The option table (common/cli.h): parsing every kind of value with its checks and
 * messages, positional arguments in any order, -h/-V, and the --help text rendered from
 * the same table (exact layout, 80-column wrapping, verbatim lines). */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cli.h"

typedef struct cli_fixture {
    bool verbose;
    const char *out;
    long threads;
    uint64_t size;
    int level;
    bool touched_by_flag_call;
    char out_copy[64]; /* out points into argv, which cli_run frees */
    double temp;
} cli_fixture;

static int level_call(void *target, const char *value, wk_err *e)
{
    static const char *const names[] = {"low", "mid", "high"};
    for (int i = 0; i < 3; i++)
        if (strcmp(value, names[i]) == 0) {
            *(int *)target = i;
            return 0;
        }
    return wk_fail(e, "unknown --level '%s' (low, mid, high)", value);
}

static int flag_call(void *target, const char *value, wk_err *e)
{
    cr_assert_null(value, "a flag's callback gets no value");
    *(bool *)target = true;
    return 0;
}

/* argv as main() gets it: a writable, NULL-terminated copy (getopt permutes it). */
typedef struct cli_argv {
    int argc;
    char *argv[24];
} cli_argv;

static cli_argv cli_make(const char *const *words)
{
    cli_argv a = {0};
    a.argv[a.argc++] = strdup("wk-test");
    for (; *words; words++)
        a.argv[a.argc++] = strdup(*words);
    return a;
}

static void cli_free(cli_argv *a)
{
    for (int i = 0; i < a->argc; i++)
        free(a->argv[i]);
}

/* Parses words with the fixture's table: returns what wk_cli_parse_quiet returned, the
 * positional arguments joined by ',' in pos (when not NULL) and the message in e. */
static int cli_run(cli_fixture *f, const char *const *words, char *pos, size_t pos_len,
                   wk_err *e)
{
    const wk_option options[] = {
        WK_OPT_FLAG("verbose", 'v', &f->verbose, "talk"),
        WK_OPT_STRING("output", 'o', "FILE", &f->out, "where"),
        WK_OPT_LONG("threads", 't', "N", &f->threads, 1, 1024, "how many"),
        WK_OPT_SIZE("max-size", 0, "SIZE", &f->size, 1, "how big"),
        WK_OPT_DOUBLE("temp", 0, "T", &f->temp, 0, 2, "how hot"),
        WK_OPT_CALL("level", 0, "L", level_call, &f->level, "which"),
        WK_OPT_CALL("touch", 0, NULL, flag_call, &f->touched_by_flag_call, "a flag callback"),
        WK_OPT_END,
    };
    const wk_tool t = {.name = "wk-test", .options = options, .operand = "MODEL",
                       .min_operands = 1, .max_operands = 2};
    cli_argv a = cli_make(words);
    char **args = NULL;
    int n = -1;
    strcpy(e->msg, "(none)");
    int rc = wk_cli_parse_quiet(&t, a.argc, a.argv, &args, &n, e);
    if (pos) {
        pos[0] = '\0';
        for (int i = 0; rc == 0 && i < n; i++)
            snprintf(pos + strlen(pos), pos_len - strlen(pos), "%s%s", i ? "," : "", args[i]);
    }
    if (rc == 0)
        cr_assert_eq(args + n, a.argv + a.argc, "the positional arguments end argv");
    if (f->out && f->out != f->out_copy) {
        snprintf(f->out_copy, sizeof f->out_copy, "%s", f->out);
        f->out = f->out_copy;
    }
    cli_free(&a);
    return rc;
}

#define WORDS(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(cli, every_kind_of_value_reaches_its_target)
{
    cli_fixture f = {0};
    wk_err e;
    char pos[256];
    cr_assert_eq(cli_run(&f, WORDS("-v", "--output", "x.gguf", "--threads=8", "--max-size",
                                   "2G", "--level", "high", "--touch", "--temp", "0.25", "m"),
                         pos, sizeof pos, &e), 0, "%s", e.msg);
    cr_assert(f.verbose);
    cr_assert(f.touched_by_flag_call);
    cr_assert_eq(f.threads, 8);
    cr_assert_eq(f.size, 2000000000ull);
    cr_assert_eq(f.level, 2);
    cr_assert_eq(f.temp, 0.25);
    cr_assert_str_eq(pos, "m");
}

Test(cli, short_options_cluster_and_take_attached_values)
{
    cli_fixture f = {0};
    wk_err e;
    char pos[256];
    cr_assert_eq(cli_run(&f, WORDS("-vt4", "-oy.gguf", "m"), pos, sizeof pos, &e), 0, "%s",
                 e.msg);
    cr_assert(f.verbose);
    cr_assert_eq(f.threads, 4);
    cr_assert_str_eq(f.out, "y.gguf");
}

Test(cli, positional_arguments_come_in_any_order_and_after_double_dash)
{
    cli_fixture f = {0};
    wk_err e;
    char pos[256];
    cr_assert_eq(cli_run(&f, WORDS("a", "-v", "--", "-b"), pos, sizeof pos, &e), 0, "%s", e.msg);
    cr_assert_str_eq(pos, "a,-b");
    cr_assert(f.verbose);
    cr_assert_eq(cli_run(&f, WORDS("-o", "out", "first", "--threads", "2", "second"), pos,
                         sizeof pos, &e), 0, "%s", e.msg);
    cr_assert_str_eq(pos, "first,second");
    cr_assert_str_eq(f.out, "out");
}

Test(cli, the_last_repeated_value_wins)
{
    cli_fixture f = {0};
    wk_err e;
    cr_assert_eq(cli_run(&f, WORDS("-o", "a", "-o", "b", "--threads", "3", "--threads", "5",
                                   "m"), NULL, 0, &e), 0);
    cr_assert_str_eq(f.out, "b");
    cr_assert_eq(f.threads, 5);
}

Test(cli, help_and_version_win_at_the_point_they_are_met)
{
    cli_fixture f = {0};
    wk_err e;
    cr_assert_eq(cli_run(&f, WORDS("--help"), NULL, 0, &e), 1);
    cr_assert_eq(cli_run(&f, WORDS("-h", "--threads", "x"), NULL, 0, &e), 1);
    cr_assert_eq(cli_run(&f, WORDS("-V"), NULL, 0, &e), 2);
    cr_assert_eq(cli_run(&f, WORDS("--version", "-h"), NULL, 0, &e), 2);
    cr_assert_eq(cli_run(&f, WORDS("-vh"), NULL, 0, &e), 1, "-h inside a cluster");
    /* an error before them is reported */
    cr_assert_eq(cli_run(&f, WORDS("--threads", "0", "--help"), NULL, 0, &e), -1);
}

static void expect_error(const char *const *words, const char *msg)
{
    cli_fixture f = {0};
    wk_err e;
    cr_assert_eq(cli_run(&f, words, NULL, 0, &e), -1, "expected '%s'", msg);
    cr_assert_str_eq(e.msg, msg);
}

Test(cli, bad_numbers_name_the_option_and_the_range)
{
    const char *msg = "--threads wants a number from 1 to 1024, not 'x'";
    expect_error(WORDS("--threads", "x", "m"), msg);
    expect_error(WORDS("--threads", "0", "m"), "--threads wants a number from 1 to 1024, not '0'");
    expect_error(WORDS("-t", "1025", "m"), "--threads wants a number from 1 to 1024, not '1025'");
    expect_error(WORDS("--threads", "", "m"), "--threads wants a number from 1 to 1024, not ''");
    expect_error(WORDS("--threads", " 5", "m"), "--threads wants a number from 1 to 1024, not ' 5'");
    expect_error(WORDS("--threads", "5x", "m"), "--threads wants a number from 1 to 1024, not '5x'");
    expect_error(WORDS("--threads", "99999999999999999999999", "m"),
                 "--threads wants a number from 1 to 1024, not '99999999999999999999999'");
}

Test(cli, decimal_numbers_are_checked_against_their_range)
{
    cli_fixture f = {0};
    wk_err e;
    cr_assert_eq(cli_run(&f, WORDS("--temp", "1e-1", "m"), NULL, 0, &e), 0, "%s", e.msg);
    cr_assert_float_eq(f.temp, 0.1, 1e-15);
    cr_assert_eq(cli_run(&f, WORDS("--temp", ".5", "m"), NULL, 0, &e), 0, "%s", e.msg);
    cr_assert_eq(f.temp, 0.5);
    expect_error(WORDS("--temp", "3", "m"), "--temp wants a number from 0 to 2, not '3'");
    expect_error(WORDS("--temp", "-0.1", "m"), "--temp wants a number from 0 to 2, not '-0.1'");
    expect_error(WORDS("--temp", "nan", "m"), "--temp wants a number from 0 to 2, not 'nan'");
    expect_error(WORDS("--temp", "0x1", "m"), "--temp wants a number from 0 to 2, not '0x1'");
    expect_error(WORDS("--temp", "1.5x", "m"), "--temp wants a number from 0 to 2, not '1.5x'");
    expect_error(WORDS("--temp", "", "m"), "--temp wants a number from 0 to 2, not ''");
}

Test(cli, sizes_take_decimal_suffixes)
{
    static const struct {
        const char *text;
        uint64_t bytes;
    } ok[] = {{"1", 1}, {"500K", 500000}, {"500k", 500000}, {"3M", 3000000},
              {"2G", 2000000000ull}, {"18446744073709551615", UINT64_MAX}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        cli_fixture f = {0};
        wk_err e;
        cr_assert_eq(cli_run(&f, WORDS("--max-size", ok[i].text, "m"), NULL, 0, &e), 0, "%s: %s",
                     ok[i].text, e.msg);
        cr_assert_eq(f.size, ok[i].bytes, "%s", ok[i].text);
    }
    static const char *const bad[] = {"", "M", "1.5G", "-1", "2T", "2GB", "20000000000G",
                                      "18446744073709551616"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char want[200];
        snprintf(want, sizeof want, "--max-size wants a size in bytes such as 500M or 2G (K, M, "
                                    "G: powers of 1000), not '%s'", bad[i]);
        expect_error(WORDS("--max-size", bad[i], "m"), want);
    }
    expect_error(WORDS("--max-size", "0", "m"), "--max-size wants at least 1 bytes, not '0'");
}

Test(cli, callbacks_give_their_own_message)
{
    expect_error(WORDS("--level", "max", "m"), "unknown --level 'max' (low, mid, high)");
}

Test(cli, getopt_errors_name_the_option)
{
    expect_error(WORDS("m", "--output"), "option '--output' needs a value");
    expect_error(WORDS("m", "-o"), "option '-o' needs a value");
    expect_error(WORDS("--nope", "m"), "unknown or ambiguous option '--nope'");
    expect_error(WORDS("-vZ", "m"), "unknown or ambiguous option '-Z'");
    expect_error(WORDS("--verbose=1", "m"), "option '--verbose' takes no value");
    expect_error(WORDS("--help=1", "m"), "unknown or ambiguous option '--help=1'");
}

Test(cli, operand_counts_are_checked)
{
    expect_error(WORDS("-v"), "no MODEL given");
    expect_error(WORDS("a", "b", "c"), "expected at most 2 MODEL, got 3");
    cli_fixture f = {0};
    wk_err e;
    char pos[64];
    cr_assert_eq(cli_run(&f, WORDS("a", "b"), pos, sizeof pos, &e), 0);
    cr_assert_str_eq(pos, "a,b");
}

Test(cli, exact_operand_count_and_none)
{
    const wk_option none[] = {WK_OPT_END};
    const wk_tool one = {.name = "t", .options = none, .operand = "DIR", .min_operands = 1,
                         .max_operands = 1};
    const wk_tool zero = {.name = "t", .options = none};
    const wk_tool any = {.name = "t", .options = none, .max_operands = -1};
    cli_argv a = cli_make(WORDS("x", "y"));
    char **args;
    int n;
    wk_err e;
    cr_assert_eq(wk_cli_parse_quiet(&one, a.argc, a.argv, &args, &n, &e), -1);
    cr_assert_str_eq(e.msg, "expected 1 DIR, got 2");
    cr_assert_eq(wk_cli_parse_quiet(&zero, a.argc, a.argv, &args, &n, &e), -1);
    cr_assert_str_eq(e.msg, "unexpected argument");
    cr_assert_eq(wk_cli_parse_quiet(&any, a.argc, a.argv, &args, &n, &e), 0);
    cr_assert_eq(n, 2);
    cli_free(&a);
}

Test(cli, parse_prints_usage_errors_and_help, .init = cr_redirect_stderr)
{
    bool b = false;
    const wk_option options[] = {WK_OPT_FLAG("b", 0, &b, "b"), WK_OPT_END};
    const wk_tool t = {.name = "wk-x", .options = options};
    cli_argv a = cli_make(WORDS("--c"));
    char **args;
    int n;
    cr_assert_eq(wk_cli_parse(&t, a.argc, a.argv, &args, &n), WK_EXIT_USAGE);
    cli_free(&a);
    a = cli_make(WORDS("--b"));
    cr_assert_eq(wk_cli_parse(&t, a.argc, a.argv, &args, &n), WK_CLI_CONTINUE);
    cr_assert(b);
    cli_free(&a);
    fflush(stderr);
    cr_assert_stderr_eq_str("wk-x: unknown or ambiguous option '--c'\n"
                            "Try 'wk-x --help' for more information.\n");
}

/* ---- help text ---- */

Test(cli, help_text_layout)
{
    bool b;
    const char *s;
    long n;
    const wk_option options[] = {
        WK_OPT_STRING("output", 'o', "FILE", &s, "the file to write"),
        WK_OPT_FLAG("stats", 0, &b, "per-tensor statistics: min, max, mean, standard "
                                    "deviation, norms, and the fraction of zeros, read from "
                                    "the data"),
        WK_OPT_LONG("bins", 0, "N", &n, 1, 9, "bins"),
        WK_OPT_END,
    };
    const wk_tool t = {
        .name = "wk-demo",
        .synopsis = "[OPTIONS] MODEL",
        .about = "Demonstrates\nthe layout.\n\nSecond paragraph:\n  kept   as written\nthen "
                 "prose.",
        .options = options,
        .notes = "A note.",
    };
    char *text = wk_cli_help_text(&t);
    cr_assert_not_null(text);
    cr_assert_str_eq(text,
        "Usage: wk-demo [OPTIONS] MODEL\n"
        "Demonstrates the layout.\n"
        "\n"
        "Second paragraph:\n"
        "  kept   as written\n"
        "then prose.\n"
        "\n"
        "Options:\n"
        "  -o, --output FILE  the file to write\n"
        "      --stats        per-tensor statistics: min, max, mean, standard deviation,\n"
        "                     norms, and the fraction of zeros, read from the data\n"
        "      --bins N       bins\n"
        "  -h, --help         show this help and exit\n"
        "  -V, --version      show the version and exit\n"
        "\n"
        "A note.\n"
        "\n"
        "Exit status: 0 success, 1 bad input, 2 usage error.\n");
    free(text);
}

/* Width in characters (UTF-8 continuation bytes do not count). */
static size_t cli_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += ((unsigned char)s[i] & 0xc0) != 0x80;
    return w;
}

Test(cli, help_text_wraps_at_80_columns)
{
    bool b;
    const char *s;
    const wk_option options[] = {
        WK_OPT_FLAG("x", 0, &b, "é é é é é é é é é é é é é é é é é é é é é é é é é é é é é é "
                                "é é é é é é é é é é é é é é é é é é é é é é é é é é"),
        WK_OPT_STRING("a-very-long-option-name", 0, "PLACEHOLDER", &s,
                      "its help starts on the next line, so the others keep a narrow column"),
        WK_OPT_END,
    };
    const wk_tool t = {
        .name = "wk-wrap",
        .synopsis = "[OPTIONS] MODEL [MODEL ...] -o OUT.gguf --and many more words that go "
                    "beyond eighty columns",
        .about = "word word word word word word word word word word word word word word word "
                 "word word word word word word word word word word word word word word word",
        .options = options,
        .exit_status = "0 fine, 1 bad input, 2 usage error; and a long explanation that must "
                       "wrap as the rest does.",
    };
    char *text = wk_cli_help_text(&t);
    cr_assert_not_null(text);
    size_t lines = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl, "the text ends with a newline");
        cr_assert_leq(cli_width(p, (size_t)(nl - p)), 80, "line too long: %.*s", (int)(nl - p), p);
        cr_assert(nl == p || nl[-1] != ' ', "trailing space: %.*s", (int)(nl - p), p);
        lines++;
        p = nl + 1;
    }
    cr_assert_not_null(strstr(text, "Usage: wk-wrap [OPTIONS] MODEL"));
    /* the synopsis continues under its own first word */
    cr_assert_not_null(strstr(text, "\n               "));
    cr_assert_not_null(strstr(text, "      --a-very-long-option-name PLACEHOLDER\n"
                                    "                 its help starts"));
    cr_assert_not_null(strstr(text, "      --x        é é"));
    cr_assert_gt(lines, 12);
    free(text);
}

Test(cli, help_text_without_a_table_has_no_options_section)
{
    const wk_tool t = {.name = "gen", .synopsis = "-o DIR",
                       .about = "Writes things.\n\n  --seed N  the seed\n"};
    char *text = wk_cli_help_text(&t);
    cr_assert_str_eq(text, "Usage: gen -o DIR\nWrites things.\n\n  --seed N  the seed\n\n"
                           "Exit status: 0 success, 1 bad input, 2 usage error.\n");
    free(text);
}

Test(cli, a_synopsis_of_several_forms_puts_each_on_its_own_line)
{
    const wk_tool t = {.name = "wk-x",
                       .synopsis = "MODEL [--alpha A] [--beta B] [--gamma G] [--delta D] "
                                   "[--epsilon E] [--zeta Z]\n       wk-x --check MODEL",
                       .about = "Does x."};
    char *text = wk_cli_help_text(&t);
    cr_assert_not_null(strstr(text, "Usage: wk-x MODEL [--alpha A] [--beta B] [--gamma G] "
                                    "[--delta D] [--epsilon E]\n"
                                    "            [--zeta Z]\n"
                                    "       wk-x --check MODEL\n"
                                    "Does x.\n"),
                       "%s", text);
    free(text);
}
