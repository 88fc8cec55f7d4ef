/* Golden sets without a model: reading golden and prompt files (every field, blank lines,
 * CRLF, and each malformed line naming file:line), writing them back (round trip, escapes,
 * bytes that are not UTF-8, the temp file and rename), resolving a line's continuation on
 * a tiny SentencePiece vocabulary (tokens vs text, the prompt/expected boundary, min_match,
 * ids outside the vocabulary), and the first-divergence match on hand-made logits. */
#include <sys/stat.h>

#include "common/fileio.h"
#include "tests/unit/engine/vocab_test_util.h"
#include "verify/compare/golden.h"

static wk_golden gd_parse(const char *text)
{
    wk_golden g;
    wk_err e;
    cr_assert_eq(wk_golden_parse("g.jsonl", text, strlen(text), &g, &e), 0, "%s", e.msg);
    return g;
}

/* text must fail to parse with a message containing want. */
static void gd_parse_fails(const char *text, const char *want)
{
    wk_golden g;
    wk_err e = {{0}};
    cr_expect_eq(wk_golden_parse("g.jsonl", text, strlen(text), &g, &e), -1, "parsed: %s", text);
    cr_expect(strstr(e.msg, want), "'%s': message '%s' lacks '%s'", text, e.msg, want);
    cr_expect_eq(g.n, 0);
    cr_expect_null(g.items);
}

Test(golden, parses_every_field_and_skips_blank_lines)
{
    wk_golden g = gd_parse("\n{\"prompt\": \"Once\", \"expected\": \" upon\", \"tokens\": [5, 0, "
                           "77], \"min_match\": 2}\r\n   \n{\"prompt\": \"Tim\", \"expected\": "
                           "\" ran\"}\n{\"tokens\": [], \"prompt\": \"caf\\u00e9\"}");
    cr_assert_eq(g.n, 3);
    cr_expect_str_eq(g.path, "g.jsonl");
    wk_golden_item *a = &g.items[0], *b = &g.items[1], *c = &g.items[2];
    cr_expect_eq(a->line, 2);
    cr_expect_str_eq(a->prompt, "Once");
    cr_expect_str_eq(a->expected, " upon");
    cr_expect(a->has_tokens);
    cr_assert_eq(a->n_tokens, 3);
    cr_expect(a->tokens[0] == 5 && a->tokens[1] == 0 && a->tokens[2] == 77);
    cr_expect_eq(a->min_match, 2);
    cr_expect_eq(b->line, 4);
    cr_expect(!b->has_tokens && b->n_tokens == 0);
    cr_expect_eq(b->min_match, -1, "no min_match: all of the continuation");
    cr_expect_eq(c->line, 5);
    cr_expect_str_eq(c->prompt, "caf\xC3\xA9");
    cr_expect_null(c->expected);
    cr_expect(c->has_tokens && c->n_tokens == 0);
    wk_golden_free(&g);
    cr_expect_eq(g.n, 0);
}

Test(golden, names_the_line_of_each_malformed_one)
{
    gd_parse_fails("{\"prompt\": \"a\", \"expected\": \"b\"}\n{\"prompt\": \"a\"",
                   "g.jsonl:2: column 14: not valid JSON");
    gd_parse_fails("{\"prompt\": \"a\", \"expected\": \"b\"} {}", "g.jsonl:1: column 34: text after");
    gd_parse_fails("[1, 2]", "g.jsonl:1: an array, expected an object");
    gd_parse_fails("\"prompt\"", "g.jsonl:1: a string, expected an object");
    gd_parse_fails("{\"expected\": \"b\"}", "g.jsonl:1: no \"prompt\"");
    gd_parse_fails("{\"prompt\": \"\", \"expected\": \"b\"}", "g.jsonl:1: the prompt is empty");
    gd_parse_fails("{\"prompt\": 3, \"expected\": \"b\"}",
                   "\"prompt\" is a number, expected a string");
    gd_parse_fails("{\"prompt\": \"a\", \"expected\": null}",
                   "\"expected\" is null, expected a string");
    gd_parse_fails("{\"prompt\": \"a\"}", "g.jsonl:1: neither \"expected\" nor \"tokens\"");
    gd_parse_fails("{\"prompt\": \"a\", \"tokens\": 4}",
                   "\"tokens\" is a number, expected an array");
    gd_parse_fails("{\"prompt\": \"a\", \"tokens\": [1, -1]}",
                   "\"tokens\"[1] is -1, expected a token id");
    gd_parse_fails("{\"prompt\": \"a\", \"tokens\": [1.5]}", "\"tokens\"[0] is 1.5");
    gd_parse_fails("{\"prompt\": \"a\", \"tokens\": [3e10]}", "\"tokens\"[0] is 3e+10");
    gd_parse_fails("{\"prompt\": \"a\", \"tokens\": [[1]]}", "\"tokens\"[0] is an array");
    gd_parse_fails("{\"prompt\": \"a\", \"tokens\": [1], \"min_match\": -1}",
                   "\"min_match\" is -1, expected a whole number");
    gd_parse_fails("{\"prompt\": \"a\", \"tokens\": [1], \"min_match\": \"1\"}",
                   "\"min_match\" is a string");
    gd_parse_fails("{\"prompt\": \"a\", \"tokens\": [1, 2], \"min_match\": 3}",
                   "g.jsonl:1: min_match 3 is more than the 2 tokens given");
    gd_parse_fails("{\"prompt\": \"a\", \"expected\": \"b\", \"min-match\": 1}",
                   "unknown key \"min-match\"");
    gd_parse_fails("{\"prompt\": \"a\", \"prompt\": \"b\", \"expected\": \"c\"}",
                   "\"prompt\" given twice");
    gd_parse_fails("{\"prompt\": \"a\xff\", \"expected\": \"b\"}",
                   "\"prompt\": byte 2 is not UTF-8");
    gd_parse_fails("", "g.jsonl: no golden lines");
    gd_parse_fails("\n  \r\n", "g.jsonl: no golden lines");
}

Test(golden, reads_prompt_files_plain_or_json)
{
    const char *text = "Once upon a time\r\n\n  {\"prompt\": \"Lily\\nsaw\", \"other\": 1}\n"
                       "Tim {braces} stay\n";
    wk_golden g;
    wk_err e;
    cr_assert_eq(wk_golden_parse_prompts("p.txt", text, strlen(text), &g, &e), 0, "%s", e.msg);
    cr_assert_eq(g.n, 3);
    cr_expect_str_eq(g.items[0].prompt, "Once upon a time");
    cr_expect_str_eq(g.items[1].prompt, "Lily\nsaw");
    cr_expect_eq(g.items[1].line, 3);
    cr_expect_str_eq(g.items[2].prompt, "Tim {braces} stay");
    cr_expect(!g.items[0].has_tokens && !g.items[0].expected && g.items[0].min_match == -1);
    wk_golden_free(&g);
    const struct { const char *text, *want; } bad[] = {
        {"fine\nbad \xC3(\n", "p.txt:2: byte 5 is not UTF-8"},
        {"{\"prompt\": \"\"}", "p.txt:1: the prompt is empty"},
        {"{\"text\": \"a\"}", "p.txt:1: a JSON line without \"prompt\""},
        {"{\"prompt\": \"a\"", "p.txt:1: column 14: not valid JSON"},
        {"\n\n", "p.txt: no prompts"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(wk_golden_parse_prompts("p.txt", bad[i].text, strlen(bad[i].text), &g, &e),
                     -1, "%s", bad[i].text);
        cr_expect(strstr(e.msg, bad[i].want), "'%s' lacks '%s'", e.msg, bad[i].want);
    }
}

Test(golden, writes_what_it_reads)
{
    wk_golden g = gd_parse("{\"prompt\": \"Say \\\"hi\\\"\\n\", \"expected\": \" ok\\t\", "
                           "\"tokens\": [1, 2], \"min_match\": 1}\n"
                           "{\"prompt\": \"b\", \"expected\": \"x\"}\n"
                           "{\"prompt\": \"c\", \"tokens\": []}\n");
    char *text = wk_golden_jsonl(&g);
    cr_assert(text);
    cr_expect_str_eq(text, "{\"prompt\":\"Say \\\"hi\\\"\\n\",\"expected\":\" ok\\t\",\"tokens\":"
                           "[1,2],\"min_match\":1}\n{\"prompt\":\"b\",\"expected\":\"x\"}\n"
                           "{\"prompt\":\"c\",\"tokens\":[]}\n");
    wk_golden back = gd_parse(text);
    cr_assert_eq(back.n, g.n);
    for (size_t i = 0; i < g.n; i++) {
        cr_expect_str_eq(back.items[i].prompt, g.items[i].prompt);
        cr_expect_eq(back.items[i].has_tokens, g.items[i].has_tokens);
        cr_expect_eq(back.items[i].n_tokens, g.items[i].n_tokens);
        cr_expect_eq(back.items[i].min_match, g.items[i].min_match);
        cr_expect_eq(!back.items[i].expected, !g.items[i].expected);
    }
    free(text);
    wk_golden_free(&back);
    /* a continuation cut inside a UTF-8 sequence: the bytes become U+FFFD, tokens stay */
    free(g.items[1].expected);
    g.items[1].expected = strdup("caf\xC3");
    text = wk_golden_jsonl(&g);
    cr_expect(strstr(text, "\"expected\":\"caf\xEF\xBF\xBD\""), "%s", text);
    free(text);
    wk_golden_free(&g);
}

Test(golden, saves_through_a_temp_file)
{
    char dir[] = "/tmp/wk-golden-test-XXXXXX", path[64], bad[96];
    cr_assert(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/g.jsonl", dir);
    snprintf(bad, sizeof bad, "%s/missing/g.jsonl", dir);
    wk_golden g = gd_parse("{\"prompt\": \"a\", \"tokens\": [3]}");
    wk_err e;
    cr_assert_eq(wk_golden_save(&g, path, &e), 0, "%s", e.msg);
    wk_golden back;
    cr_assert_eq(wk_golden_load(path, &back, &e), 0, "%s", e.msg);
    cr_expect(back.n == 1 && back.items[0].tokens[0] == 3);
    cr_expect_str_eq(back.path, path);
    wk_golden_free(&back);
    cr_expect_eq(wk_golden_save(&g, bad, &e), -1);
    cr_expect(strstr(e.msg, "missing"), "%s", e.msg);
    cr_expect_eq(wk_golden_load(bad, &back, &e), -1);
    cr_expect_eq(wk_golden_load_prompts(bad, &back, &e), -1);
    wk_golden_free(&g);
    unlink(path);
    rmdir(dir);
}

Test(golden, shows_text_to_a_person)
{
    char *s = wk_golden_show("a\nb\t\\\x01\xC3\xA9\xFF", 9, 100);
    cr_expect_str_eq(s, "'a\\nb\\t\\\\\\x01\xC3\xA9\\xff'");
    free(s);
    s = wk_golden_show("Once upon a time", 16, 4);
    cr_expect_str_eq(s, "'Once'...");
    free(s);
    s = wk_golden_utf8("ok\xE2\x96\xFF", 5);
    cr_expect_str_eq(s, "ok\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    free(s);
}

/* logits rows (n x 4) with the argmax of row i at top[i]. */
static void gd_rows(float *l, const int *top, int n)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < 4; j++)
            l[i * 4 + j] = j == top[i] ? 2.0f : -(float)j;
}

Test(golden, match_stops_at_the_first_divergence)
{
    float l[5 * 4];
    wk_token got;
    gd_rows(l, (const int[]){1, 3, 0, 2, 2}, 5);
    cr_expect_eq(wk_golden_match(l, 4, (const wk_token[]){1, 3, 0, 2, 2}, 5, &got), 5);
    cr_expect_eq(got, WK_TOKEN_NULL);
    /* diverges at 2 (wants 1, the model says 0), though row 3 would match again */
    cr_expect_eq(wk_golden_match(l, 4, (const wk_token[]){1, 3, 1, 2, 2}, 5, &got), 2);
    cr_expect_eq(got, 0);
    cr_expect_eq(wk_golden_match(l, 4, (const wk_token[]){2}, 1, &got), 0);
    cr_expect_eq(got, 1);
    cr_expect_eq(wk_golden_match(l, 4, NULL, 0, &got), 0);
    cr_expect_eq(got, WK_TOKEN_NULL);
    /* equal maxima: greedy sampling takes the first, and so does the match */
    float tie[4] = {0, 5, 5, 1};
    cr_expect_eq(wk_golden_match(tie, 4, (const wk_token[]){2}, 1, &got), 0);
    cr_expect_eq(got, 1);
    cr_expect_eq(wk_golden_match(tie, 4, (const wk_token[]){1}, 1, &got), 1);
}

/* Resolves line it of text on v; the continuation (ended by -1) and need must be as given. */
static void gd_resolve(const wk_vocab *v, const char *text, const int *want, uint32_t need)
{
    wk_golden g = gd_parse(text);
    wk_tokens p = {0}, c = {0};
    uint32_t got_need;
    wk_err e;
    cr_assert_eq(wk_golden_resolve(&g, 0, v, &p, &c, &got_need, &e), 0, "%s", e.msg);
    cr_expect(p.n >= 2 && p.ids[0] == SP_BOS, "the prompt starts with BOS");
    size_t n = 0;
    while (want[n] >= 0)
        n++;
    cr_assert_eq(c.n, n, "%s: %zu tokens", text, c.n);
    for (size_t i = 0; i < n; i++)
        cr_expect_eq(c.ids[i], want[i], "%s: token %zu", text, i);
    cr_expect_eq(got_need, need, "%s", text);
    wk_tokens_free(&p);
    wk_tokens_free(&c);
    wk_golden_free(&g);
}

static void gd_resolve_fails(const wk_vocab *v, const char *text, const char *want)
{
    wk_golden g = gd_parse(text);
    wk_tokens p = {0}, c = {0};
    uint32_t need;
    wk_err e = {{0}};
    cr_expect_eq(wk_golden_resolve(&g, 0, v, &p, &c, &need, &e), -1, "%s", text);
    cr_expect(strstr(e.msg, want), "'%s' lacks '%s'", e.msg, want);
    wk_tokens_free(&p);
    wk_tokens_free(&c);
    wk_golden_free(&g);
}

Test(golden, resolves_tokens_or_text)
{
    wk_vocab *v = tv_spm();
    /* text: "▁a" then "b" / "bc" / "▁", "b" follow the prompt's tokens */
    gd_resolve(v, "{\"prompt\": \"a\", \"expected\": \"b\"}", (const int[]){SP_B, -1}, 1);
    gd_resolve(v, "{\"prompt\": \"a\", \"expected\": \"bc\", \"min_match\": 0}",
               (const int[]){SP_BC, -1}, 0);
    gd_resolve(v, "{\"prompt\": \"a\", \"expected\": \" b\"}", (const int[]){SP_SPACE, SP_B, -1},
               2);
    gd_resolve(v, "{\"prompt\": \"a\", \"expected\": \"\"}", (const int[]){-1}, 0);
    /* tokens win over a text that says something else */
    gd_resolve(v, "{\"prompt\": \"a\", \"expected\": \"b\", \"tokens\": [5, 6, 7], "
                  "\"min_match\": 2}", (const int[]){5, 6, 7, -1}, 2);
    /* "ab" + "c" is "▁a", "bc": the prompt's "b" does not survive the join */
    gd_resolve_fails(v, "{\"prompt\": \"ab\", \"expected\": \"c\"}",
                     "g.jsonl:1: the prompt's token 'b' becomes part of another token");
    gd_resolve_fails(v, "{\"prompt\": \"a\", \"tokens\": [1, 270]}",
                     "g.jsonl:1: \"tokens\"[1] is 270, outside the vocabulary of 269 tokens");
    gd_resolve_fails(v, "{\"prompt\": \"a\", \"expected\": \"b\", \"min_match\": 2}",
                     "g.jsonl:1: min_match 2 is more than the 1 token of the expected");
    wk_vocab_free(v);
}
