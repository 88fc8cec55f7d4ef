/* The option table (common/cli.h): argv parsing with getopt_long built from the table, and
 * the --help text rendered from the same rows.
 *
 * Parsing: every row becomes a getopt long option (val = its short letter, or 256 + its
 * row) plus its short letter in the optstring, which starts with ':' so a missing value
 * and an unknown option come back apart. Values are checked as they are met and the
 * first bad one ends the parse with a message that names the option. getopt permutes
 * argv, so the positional arguments end up in argv[optind..argc).
 *
 * Help: an option's left column is "  -o, --output FILE" (or "      --stats" without a
 * short letter); the help column starts two spaces after the widest left column that is
 * at most MAX_LEFT wide, and a wider one puts its help on the next line. Prose is
 * rewrapped at 80 columns, counting UTF-8 characters, not bytes; a line of about/notes
 * text that starts with a space is kept as written (examples, lists). */
#define _GNU_SOURCE
#include "common/cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytebuf.h"

#define WIDTH 80
#define MAX_LEFT 30
#define ROW_VAL(i) (256 + (i))

static const wk_option HELP_ROW = WK_OPT_FLAG("help", 'h', NULL, "show this help and exit");
static const wk_option VERSION_ROW = WK_OPT_FLAG("version", 'V', NULL,
                                                 "show the version and exit");

static size_t count_rows(const wk_tool *t)
{
    size_t n = 0;
    while (t->options && t->options[n].name)
        n++;
    return n;
}

/* ---- values ---- */

/* A decimal integer, all of s: optional '-', then digits. */
static int parse_long(const char *s, long *out)
{
    const char *d = s[0] == '-' ? s + 1 : s;
    if (*d < '0' || *d > '9')
        return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/* A decimal number, all of s ("0.8", "1e-3"; no hex, inf or nan). */
static int parse_double(const char *s, double *out)
{
    const char *d = s[0] == '-' || s[0] == '+' ? s + 1 : s;
    if ((*d < '0' || *d > '9') && *d != '.')
        return -1;
    for (const char *c = d; *c; c++)
        if (*c == 'x' || *c == 'X')
            return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE)
        return -1;
    *out = v;
    return 0;
}

/* Digits, then an optional K, M or G (either case; powers of 1000). */
static int parse_size(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    const char *p = s;
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    uint64_t unit = 1;
    switch (*p) {
    case '\0': break;
    case 'k': case 'K': unit = 1000; p++; break;
    case 'm': case 'M': unit = 1000 * 1000; p++; break;
    case 'g': case 'G': unit = 1000 * 1000 * 1000; p++; break;
    default: return -1;
    }
    if (*p || v > UINT64_MAX / unit)
        return -1;
    *out = v * unit;
    return 0;
}

static int apply(const wk_option *o, const char *v, wk_err *e)
{
    long n;
    double x;
    uint64_t size;
    switch (o->kind) {
    case WK_OPTK_FLAG:
        *(bool *)o->target = true;
        return 0;
    case WK_OPTK_STRING:
        *(const char **)o->target = v;
        return 0;
    case WK_OPTK_LONG:
        if (parse_long(v, &n) != 0 || n < o->min || n > o->max)
            return wk_fail(e, "--%s wants a number from %ld to %ld, not '%s'", o->name, o->min,
                           o->max, v);
        *(long *)o->target = n;
        return 0;
    case WK_OPTK_DOUBLE:
        if (parse_double(v, &x) != 0 || x < o->dmin || x > o->dmax)
            return wk_fail(e, "--%s wants a number from %g to %g, not '%s'", o->name, o->dmin,
                           o->dmax, v);
        *(double *)o->target = x;
        return 0;
    case WK_OPTK_SIZE:
        if (parse_size(v, &size) != 0)
            return wk_fail(e, "--%s wants a size in bytes such as 500M or 2G (K, M, G: powers "
                              "of 1000), not '%s'", o->name, v);
        if (size < (uint64_t)o->min)
            return wk_fail(e, "--%s wants at least %ld bytes, not '%s'", o->name, o->min, v);
        *(uint64_t *)o->target = size;
        return 0;
    case WK_OPTK_CALL:
        return o->call(o->target, v, e);
    }
    return wk_fail(e, "--%s: unknown option kind %d", o->name, (int)o->kind);
}

/* ---- parsing ---- */

/* The message for getopt's ':' (no value) or '?' (unknown, ambiguous, or a value given to
 * a flag). A long option is the whole argument; a short one may sit in a cluster ("-qZ"),
 * so it is named by the character getopt stopped at. */
static int option_error(const wk_tool *t, int ret, char *const *argv, wk_err *e)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    char shortopt[3] = {'-', (char)optopt, '\0'};
    bool is_long = strncmp(arg, "--", 2) == 0;
    const char *opt = !is_long && optopt > 0 && optopt < 128 ? shortopt : arg;
    if (ret == ':')
        return wk_fail(e, "option '%s' needs a value", opt);
    const char *eq = is_long ? strchr(arg, '=') : NULL;
    if (eq) {
        size_t len = (size_t)(eq - arg - 2);
        for (size_t i = 0, n = count_rows(t); i < n; i++)
            if (!t->options[i].value && strlen(t->options[i].name) == len &&
                memcmp(t->options[i].name, arg + 2, len) == 0)
                return wk_fail(e, "option '--%s' takes no value", t->options[i].name);
    }
    return wk_fail(e, "unknown or ambiguous option '%s'", opt);
}

static int check_operands(const wk_tool *t, int n, wk_err *e)
{
    const char *what = t->operand ? t->operand : "argument";
    if (n < t->min_operands)
        return n == 0 ? wk_fail(e, "no %s given", what)
                      : wk_fail(e, "expected at least %d %s, got %d", t->min_operands, what, n);
    if (t->max_operands >= 0 && n > t->max_operands) {
        if (t->max_operands == 0)
            return wk_fail(e, "unexpected argument");
        if (t->min_operands == t->max_operands)
            return wk_fail(e, "expected %d %s, got %d", t->max_operands, what, n);
        return wk_fail(e, "expected at most %d %s, got %d", t->max_operands, what, n);
    }
    return 0;
}

int wk_cli_parse_quiet(const wk_tool *t, int argc, char **argv, char ***args, int *n_args,
                       wk_err *e)
{
    *args = NULL;
    *n_args = 0;
    size_t n = count_rows(t);
    if (n > WK_CLI_MAX_OPTIONS)
        return wk_fail(e, "%s has %zu options; the table allows %d", t->name, n,
                       WK_CLI_MAX_OPTIONS);
    struct option lo[WK_CLI_MAX_OPTIONS + 3];
    char shorts[3 * WK_CLI_MAX_OPTIONS + 8] = ":hV";
    size_t k = strlen(shorts);
    for (size_t i = 0; i < n; i++) {
        const wk_option *o = &t->options[i];
        lo[i] = (struct option){o->name, o->value ? required_argument : no_argument, NULL,
                                o->short_name ? o->short_name : ROW_VAL((int)i)};
        if (o->short_name) {
            shorts[k++] = o->short_name;
            if (o->value)
                shorts[k++] = ':';
        }
    }
    shorts[k] = '\0';
    lo[n] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n + 1] = (struct option){"version", no_argument, NULL, 'V'};
    lo[n + 2] = (struct option){NULL, 0, NULL, 0};

    opterr = 0;
    optind = 0; /* GNU getopt: start afresh (a second parse in one process, as in tests) */
    int c;
    while ((c = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        if (c == 'h')
            return 1;
        if (c == 'V')
            return 2;
        if (c == ':' || c == '?')
            return option_error(t, c, argv, e);
        const wk_option *o = NULL;
        for (size_t i = 0; i < n && !o; i++)
            if (c == ROW_VAL((int)i) || c == t->options[i].short_name)
                o = &t->options[i];
        if (!o)
            return wk_fail(e, "getopt returned an unexpected option %d", c);
        if (apply(o, o->value ? optarg : NULL, e) != 0)
            return -1;
    }
    if (check_operands(t, argc - optind, e) != 0)
        return -1;
    *args = argv + optind;
    *n_args = argc - optind;
    return 0;
}

/* ---- help ---- */

static size_t text_width(const char *s, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++)
        w += ((unsigned char)s[i] & 0xc0) != 0x80;
    return w;
}

static void spaces(wk_buf *b, size_t n)
{
    for (; n > 0; n--)
        wk_buf_put(b, " ", 1);
}

/* Appends the words of text[0..len), the cursor being at column *col; a word that does not
 * fit starts a new line indented to `indent`. */
static void wrap_words(wk_buf *b, const char *text, size_t len, size_t indent, size_t *col)
{
    const char *p = text, *end = text + len;
    while (p < end) {
        while (p < end && (*p == ' ' || *p == '\n' || *p == '\t'))
            p++;
        const char *w = p;
        while (p < end && *p != ' ' && *p != '\n' && *p != '\t')
            p++;
        if (p == w)
            break;
        size_t ww = text_width(w, (size_t)(p - w));
        if (*col > indent && *col + 1 + ww > WIDTH) {
            wk_buf_put(b, "\n", 1);
            spaces(b, indent);
            *col = indent;
        } else if (*col > indent) {
            wk_buf_put(b, " ", 1);
            (*col)++;
        }
        wk_buf_put(b, w, (size_t)(p - w));
        *col += ww;
    }
}

/* Paragraphs split by blank lines, each followed by an empty line; lines that start with a
 * space are copied as they are. */
static void paragraphs(wk_buf *b, const char *text)
{
    const char *p = text;
    while (*p) {
        const char *stop = strstr(p, "\n\n");
        size_t plen = stop ? (size_t)(stop - p) : strlen(p);
        const char *q = p, *pend = p + plen, *run = NULL;
        size_t col = 0;
        while (q < pend) {
            const char *nl = memchr(q, '\n', (size_t)(pend - q));
            const char *lend = nl ? nl : pend;
            if (*q == ' ') {
                if (run) {
                    wrap_words(b, run, (size_t)(q - run), 0, &col);
                    run = NULL;
                }
                if (col > 0)
                    wk_buf_put(b, "\n", 1);
                wk_buf_put(b, q, (size_t)(lend - q));
                wk_buf_put(b, "\n", 1);
                col = 0;
            } else if (!run) {
                run = q;
            }
            q = nl ? nl + 1 : pend;
        }
        if (run)
            wrap_words(b, run, (size_t)(pend - run), 0, &col);
        if (col > 0)
            wk_buf_put(b, "\n", 1);
        if (plen > 0)
            wk_buf_put(b, "\n", 1);
        p = stop ? stop + 2 : p + plen;
    }
}

static void left_column(wk_buf *b, const wk_option *o)
{
    if (o->short_name)
        wk_buf_printf(b, "  -%c, --%s", o->short_name, o->name);
    else
        wk_buf_printf(b, "      --%s", o->name);
    if (o->value)
        wk_buf_printf(b, " %s", o->value);
}

static size_t left_width(const wk_option *o)
{
    return 8 + strlen(o->name) + (o->value ? 1 + text_width(o->value, strlen(o->value)) : 0);
}

static void option_row(wk_buf *b, const wk_option *o, size_t help_col)
{
    left_column(b, o);
    size_t col = left_width(o);
    if (col + 2 > help_col) {
        wk_buf_put(b, "\n", 1);
        col = 0;
    }
    spaces(b, help_col - col);
    col = help_col;
    wrap_words(b, o->help, strlen(o->help), help_col, &col);
    wk_buf_put(b, "\n", 1);
}

/* "Options:", a row per option and -h, -V, and a blank line. */
static void options_section(wk_buf *b, const wk_tool *t)
{
    const wk_option *rows[WK_CLI_MAX_OPTIONS + 2];
    size_t m = 0, help_col = 0;
    for (size_t i = 0, n = count_rows(t); i < n && m < WK_CLI_MAX_OPTIONS; i++)
        rows[m++] = &t->options[i];
    rows[m++] = &HELP_ROW;
    rows[m++] = &VERSION_ROW;
    for (size_t i = 0; i < m; i++) {
        size_t w = left_width(rows[i]);
        if (w <= MAX_LEFT && w > help_col)
            help_col = w;
    }
    help_col += 2;
    wk_buf_printf(b, "Options:\n");
    for (size_t i = 0; i < m; i++)
        option_row(b, rows[i], help_col);
    wk_buf_put(b, "\n", 1);
}

char *wk_cli_help_text(const wk_tool *t)
{
    wk_buf b = {0};
    wk_buf_printf(&b, "Usage: %s", t->name);
    size_t col = strlen("Usage: ") + strlen(t->name);
    if (t->synopsis && *t->synopsis) {
        /* a long synopsis wraps under its own first word; each further line of it (another
         * form of the command, "wk-verify --integrity MODEL") starts under the first, after
         * "Usage: ", and wraps under its own second word */
        wk_buf_put(&b, " ", 1);
        size_t indent = ++col;
        for (const char *line = t->synopsis; *line;) {
            size_t len = strcspn(line, "\n");
            if (line != t->synopsis) {
                line += strspn(line, " ");
                size_t first = strcspn(line, " \n");
                wk_buf_put(&b, "\n", 1);
                spaces(&b, strlen("Usage: "));
                wk_buf_put(&b, line, first);
                wk_buf_put(&b, " ", 1);
                indent = col = strlen("Usage: ") + text_width(line, first) + 1;
                line += first;
                len = strcspn(line, "\n");
            }
            wrap_words(&b, line, len, indent, &col);
            line += len + (line[len] == '\n');
        }
    }
    wk_buf_put(&b, "\n", 1);
    if (t->about)
        paragraphs(&b, t->about);
    else
        wk_buf_put(&b, "\n", 1);

    if (t->options)
        options_section(&b, t);
    if (t->notes)
        paragraphs(&b, t->notes);
    wk_buf_printf(&b, "Exit status:");
    col = strlen("Exit status:");
    const char *st = t->exit_status ? t->exit_status : "0 success, 1 bad input, 2 usage error.";
    wrap_words(&b, st, strlen(st), 0, &col);
    wk_buf_put(&b, "\n", 1);
    if (b.oom) {
        wk_buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}
