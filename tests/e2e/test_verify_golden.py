"""wk-verify's golden sets as a user runs them (issue 10, "Golden sets"), on stories260k:
--record from the F32 reference is wk-run's greedy text; the reference passes its own set;
a Q4_0 model's first divergences are exactly where its own greedy generation leaves the
reference's; the --golden-min gate both ways; hand-edited lines (tokens win over text, text
tokenized by the model, min_match as the tolerance); a model that ends its text (the EOS
is kept and checked); and every bad input: exit 1 naming file:line, nothing half written."""
import json
import re
import struct
import types

import numpy as np
import pytest

from conftest import run, shared_path, tool

VERIFY, CONVERT, QUANTIZE, RUN = (tool("wk-verify"), tool("wk-convert"), tool("wk-quantize"),
                                  tool("wk-run"))
PROMPTS = ["Once upon a time", "Lily went to the park", "Tim had a big red ball. He",
           "The dog was happy because", "One day, Sam and his mom"]
N = 24


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def check(golden, *models, rc=0, extra=()):
    """--golden ... --json: the parsed report (exit code rc)."""
    p = run([VERIFY, "--golden", golden, *models, "--json", *extra], check=rc)
    return json.loads(p.stdout)


def results(report, k=0):
    return report["models"][k]["results"]


def ids(model, text):
    return json.loads(run([RUN, model, "--tokenize", text, "--json"], check=0).stdout)["ids"]


@pytest.fixture(scope="module")
def m(tmp_path_factory):
    """The F32 and Q4_0 GGUFs, a prompts file (the last prompt as a JSON line) and the golden
    set recorded from the F32 model."""
    d = tmp_path_factory.mktemp("golden")
    src = shared_path("models/stories260k-hf")
    f32, q4 = d / "f32.gguf", d / "q4.gguf"
    run([CONVERT, src, "-o", f32, "--outtype", "f32", "-q"], check=0)
    run([QUANTIZE, f32, q4, "Q4_0"], check=0)
    prompts = d / "prompts.txt"
    prompts.write_text("\n".join(PROMPTS[:-1]) + "\n\n" + json.dumps({"prompt": PROMPTS[-1]}) +
                       "\n")
    golden = d / "golden.jsonl"
    p = run([VERIFY, "--record", golden, "--prompts", prompts, "-n", N, f32], check=0)
    return types.SimpleNamespace(dir=d, src=src, f32=f32, q4=q4, prompts=prompts, golden=golden,
                                 record_out=p.stdout)


def test_record_is_the_reference_greedy_text(m):
    rows = read_jsonl(m.golden)
    assert [r["prompt"] for r in rows] == PROMPTS
    assert m.record_out == f"{m.golden}: 5 prompts, {5 * N} tokens from {m.f32} (greedy, at " \
                           f"most {N} each)\n"
    for r in rows:
        assert sorted(r) == ["expected", "min_match", "prompt", "tokens"]
        assert len(r["tokens"]) == N and r["min_match"] == N
        assert all(isinstance(t, int) and 0 <= t < 512 for t in r["tokens"])
        out = run([RUN, m.f32, "-p", r["prompt"], "-n", N, "--temp", "0", "-q"], check=0).stdout
        assert out == r["prompt"] + r["expected"] + "\n"


def test_record_json_and_default_length(m, tmp_path):
    out = tmp_path / "g.jsonl"
    p = run([VERIFY, "--record", out, "--prompts", m.prompts, m.f32, "--json"], check=0)
    assert json.loads(p.stdout) == {"record": str(out), "reference": str(m.f32), "prompts": 5,
                                    "tokens": 5 * 32}
    rows = read_jsonl(out)
    assert all(len(r["tokens"]) == 32 for r in rows)
    assert [r["tokens"][:N] for r in rows] == [r["tokens"] for r in read_jsonl(m.golden)]


def test_the_reference_passes_its_own_set(m):
    p = run([VERIFY, "--golden", m.golden, m.f32], check=0)
    assert f"{m.f32}: 5 of 5 prompts pass (100.00 %)" in p.stdout
    assert len(re.findall(r"^ +\d+ +24/24 +pass +'", p.stdout, re.M)) == 5
    assert "FAIL" not in p.stdout and p.stderr == ""
    rep = check(m.golden, m.f32)
    assert rep["golden"] == str(m.golden) and rep["golden_min"] == 100
    mod = rep["models"][0]
    assert (mod["model"], mod["prompts"], mod["passed"], mod["percent"]) == (str(m.f32), 5, 5, 100)
    for r, line in zip(results(rep), range(1, 6)):
        assert r["line"] == line and r["pass"] and r["divergence"] is None
        assert r["matched"] == r["expected_tokens"] == r["min_match"] == N
        assert r["prompt_tokens"] == len(ids(m.f32, r["prompt"]))


def test_q4_diverges_where_its_own_generation_leaves(m, tmp_path):
    """Teacher-forced in one pass, the first divergence must be the one greedy generation
    meets: record the Q4_0 model's own continuations and compare token by token."""
    own = tmp_path / "q4.jsonl"
    run([VERIFY, "--record", own, "--prompts", m.prompts, "-n", N, m.q4], check=0)
    rep = check(m.golden, m.q4, rc=1)
    ref_rows, q4_rows = read_jsonl(m.golden), read_jsonl(own)
    diverged = 0
    for r, a, b in zip(results(rep), ref_rows, q4_rows):
        k = next((i for i, (x, y) in enumerate(zip(a["tokens"], b["tokens"])) if x != y), N)
        assert r["matched"] == k, r
        assert r["pass"] == (k == N)
        if k < N:
            diverged += 1
            d = r["divergence"]
            assert d["index"] == k
            assert d["expected"]["id"] == a["tokens"][k] and d["got"]["id"] == b["tokens"][k]
            assert d["expected"]["text"] and d["got"]["text"]
    assert diverged >= 2, "Q4_0 of a 260K model should leave the reference somewhere"
    text = run([VERIFY, "--golden", m.golden, m.q4], check=1).stdout
    for r in results(rep):
        if r["divergence"]:
            d = r["divergence"]
            assert (f"{r['matched']}/{N}" in text and
                    f"token {d['index'] + 1}: expected '{d['expected']['text']}', got "
                    f"'{d['got']['text']}'" in text), text


def test_the_gate_both_ways(m):
    rep = check(m.golden, m.q4, rc=1)
    pct, passed = rep["models"][0]["percent"], rep["models"][0]["passed"]
    assert pct < 100
    p = run([VERIFY, "--golden", m.golden, m.f32, m.q4], check=1)
    assert p.stderr == (f"wk-verify: gate: {m.q4}: {passed} of 5 golden prompts pass "
                        f"({pct:.2f} %) < --golden-min 100 %\n"), "names the failing model only"
    run([VERIFY, "--golden", m.golden, m.q4, "--golden-min", str(pct)], check=0)
    run([VERIFY, "--golden", m.golden, m.q4, "--golden-min", "0"], check=0)
    p = run([VERIFY, "--golden", m.golden, m.f32, m.q4, "--golden-min", str(pct + 1)], check=1)
    assert str(m.q4) in p.stderr and str(m.f32) not in p.stderr
    rep = check(m.golden, m.q4, extra=["--golden-min", "0"])
    assert rep["golden_min"] == 0


def test_tokens_win_over_the_text(m, tmp_path):
    rows = read_jsonl(m.golden)
    edited = [dict(r, expected=" something else entirely") for r in rows]
    g = write_jsonl(tmp_path / "g.jsonl", edited)
    assert results(check(g, m.q4, rc=1)) == results(check(m.golden, m.q4, rc=1))
    assert check(g, m.f32)["models"][0]["passed"] == 5
    only_tokens = write_jsonl(tmp_path / "t.jsonl", [{"prompt": r["prompt"],
                                                      "tokens": r["tokens"]} for r in rows])
    assert check(only_tokens, m.f32)["models"][0]["passed"] == 5


def test_text_lines_are_tokenized_by_the_model(m, tmp_path):
    """Without tokens, prompt + expected is tokenized and the continuation is what follows
    the prompt's tokens; the model then matches as far as that agrees with its greedy run."""
    rows = read_jsonl(m.golden)
    g = write_jsonl(tmp_path / "g.jsonl", [{"prompt": r["prompt"], "expected": r["expected"]}
                                           for r in rows] +
                    [{"prompt": "Once upon a time", "expected": " the dog ran home."}])
    rep = check(g, m.f32, rc=1)
    for r, row in zip(results(rep), rows):
        p_ids = ids(m.f32, row["prompt"])
        both = ids(m.f32, row["prompt"] + row["expected"])
        assert both[:len(p_ids)] == p_ids
        cont = both[len(p_ids):]
        k = next((i for i, (x, y) in enumerate(zip(cont, row["tokens"])) if x != y), len(cont))
        assert r["expected_tokens"] == len(cont) and r["matched"] == k
        assert r["pass"] == (k == len(cont))
    wrong = results(rep)[-1]
    assert wrong["matched"] == 0 and not wrong["pass"]
    assert wrong["divergence"]["got"]["id"] == rows[0]["tokens"][0]
    both = ids(m.f32, "Once upon a time the dog ran home.")
    assert wrong["divergence"]["expected"]["id"] == both[len(ids(m.f32, "Once upon a time"))]


def test_min_match_is_the_tolerance(m, tmp_path):
    rows = read_jsonl(m.golden)
    rep = check(m.golden, m.q4, rc=1)
    k, row = next((r["matched"], rows[i]) for i, r in enumerate(results(rep)) if not r["pass"])
    at = write_jsonl(tmp_path / "at.jsonl", [dict(row, min_match=k)])
    r = results(check(at, m.q4))[0]
    assert r["pass"] and r["min_match"] == k and r["matched"] == k and r["divergence"]
    text = run([VERIFY, "--golden", at, m.q4], check=0).stdout
    assert re.search(rf"^ +1 +{k}/{N} +pass +'.*' \(needs {k}\); token {k + 1}: ", text, re.M), text
    above = write_jsonl(tmp_path / "above.jsonl", [dict(row, min_match=k + 1)])
    assert not results(check(above, m.q4, rc=1))[0]["pass"]
    zero = write_jsonl(tmp_path / "zero.jsonl", [dict(row, min_match=0)])
    assert results(check(zero, m.q4))[0]["pass"]


@pytest.fixture(scope="module")
def eos_model(m):
    """stories260k with EOS's output row (tied embeddings) set to 1.02 times the row of '.':
    wherever the model would end a sentence, it now ends the text."""
    d = m.dir / "eos-hf"
    d.mkdir()
    for f in m.src.iterdir():
        if f.name not in ("model.safetensors", "pytorch_model.bin"):
            (d / f.name).write_bytes(f.read_bytes())
    b = bytearray((m.src / "model.safetensors").read_bytes())
    n = struct.unpack("<Q", b[:8])[0]
    start, end = json.loads(b[8:8 + n])["model.embed_tokens.weight"]["data_offsets"]
    w = np.frombuffer(bytes(b[8 + n + start:8 + n + end]), dtype="<f4").reshape(512, 64).copy()
    dot = json.loads((m.src / "tokenizer.json").read_text())["model"]["vocab"]["."]
    w[2] = 1.02 * w[dot]
    b[8 + n + start:8 + n + end] = w.tobytes()
    (d / "model.safetensors").write_bytes(bytes(b))
    return d, dot


def test_a_reference_that_ends_its_text(m, eos_model, tmp_path):
    """Recording stops at end-of-generation and keeps that token, so a model that runs on
    diverges there; checkpoint directories are converted for the run."""
    d, dot = eos_model
    g = tmp_path / "eos.jsonl"
    run([VERIFY, "--record", g, "--prompts", m.prompts, "-n", N, d], check=0)
    rows = read_jsonl(g)
    ended = [r for r in rows if len(r["tokens"]) < N]
    assert len(ended) >= 3
    for r in ended:
        assert r["tokens"][-1] == 2 and 2 not in r["tokens"][:-1]
        assert r["min_match"] == len(r["tokens"]) and "</s>" not in r["expected"]
    assert check(g, d)["models"][0]["passed"] == 5
    for r, row in zip(results(check(g, m.f32, rc=1)), rows):
        if row in ended:
            d_ = r["divergence"]
            assert r["matched"] == len(row["tokens"]) - 1
            assert d_["expected"] == {"id": 2, "text": "</s>"} and d_["got"]["id"] == dot
    text = run([VERIFY, "--golden", g, m.f32], check=1).stdout
    assert "expected '</s>', got '.'" in text


def golden_with(m, tmp_path, line):
    """A golden file: one good line, then line (a string written as is)."""
    good = m.golden.read_text().splitlines()[0]
    p = tmp_path / "bad.jsonl"
    p.write_text(good + "\n" + line + "\n")
    return p


LONG_PROMPT = "Lily went to the park. " * 60  # 542 tokens, BOS included
LONG = json.dumps({"prompt": LONG_PROMPT, "expected": " She"})


@pytest.mark.parametrize("line,message", [
    ('{"prompt": "Once upon a time", "expected": " there"', "column 51: not valid JSON"),
    ('["Once upon a time"]', "an array, expected an object"),
    ('{"prompt": "", "expected": " there"}', "the prompt is empty"),
    ('{"prompt": "Hi", "tokens": [1, 512]}',
     '"tokens"[1] is 512, outside the vocabulary of 512 tokens'),
    ('{"prompt": "Hi", "tokens": [1, -3]}', '"tokens"[1] is -3, expected a token id'),
    ('{"prompt": "Hi", "tokens": [7, "x"]}', '"tokens"[1] is a string'),
    ('{"prompt": "Hi"}', 'neither "expected" nor "tokens"'),
    ('{"prompt": "Hi", "tokens": [7], "min_match": 2}', "min_match 2 is more than the 1 token "
                                                        "given"),
    ('{"prompt": "Hi", "expected": " there", "min_match": 40}', "min_match 40 is more than"),
    ('{"prompt": "Hi", "expected": " there", "min_match": 1.5}', '"min_match" is 1.5'),
    ('{"prompt": "Hi", "expected": " there", "tolerance": 1}', 'unknown key "tolerance"'),
    ('{"prompt": "Once upon a ", "expected": "time"}', "becomes part of another token"),
    (LONG, "need a context of"),
], ids=["json", "array", "empty-prompt", "id-too-large", "id-negative", "id-string",
        "no-continuation", "min-match-tokens", "min-match-text", "min-match-fraction",
        "unknown-key", "boundary", "too-long"])
def test_bad_golden_lines(m, tmp_path, line, message):
    g = golden_with(m, tmp_path, line)
    p = run([VERIFY, "--golden", g, m.f32], check=1)
    assert p.stderr.startswith(f"wk-verify: error: {g}:2: ") and message in p.stderr, p.stderr
    assert p.stdout == "", "no report from a run that failed"


def test_context_and_empty_files(m, tmp_path):
    p = run([VERIFY, "--golden", golden_with(m, tmp_path, LONG), m.f32], check=1)
    assert "it holds 512 (raise --ctx)" in p.stderr
    check(m.golden, m.f32, extra=["--ctx", "64"])
    p = run([VERIFY, "--golden", m.golden, m.f32, "--ctx", "16"], check=1)
    assert f"{m.golden}:1: the prompt (5 tokens) and its continuation ({N}) need a context of " \
           f"{5 + N - 1}; it holds 16" in p.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n \n")
    assert run([VERIFY, "--golden", empty, m.f32], check=1).stderr == \
        f"wk-verify: error: {empty}: no golden lines (an empty file)\n"
    p = run([VERIFY, "--golden", tmp_path / "none.jsonl", m.f32], check=1)
    assert "none.jsonl" in p.stderr


@pytest.mark.parametrize("content,message", [
    (b"Once upon a time\n" + LONG_PROMPT.encode() + b"\n",
     "prompts.txt:2: the prompt is 542 tokens but the context holds 512 (raise --ctx)"),
    (b"Once upon a time\nLily \xff\n", "prompts.txt:2: byte 6 is not UTF-8"),
    (b'Once upon a time\n{"prompt": ""}\n', "prompts.txt:2: the prompt is empty"),
    (b'Once upon a time\n{"text": "Hi"}\n', 'prompts.txt:2: a JSON line without "prompt"'),
    (b"\n\n", "prompts.txt: no prompts"),
], ids=["too-long", "not-utf8", "empty-prompt", "no-prompt-key", "empty-file"])
def test_bad_prompts_write_nothing(m, tmp_path, content, message):
    prompts, out = tmp_path / "prompts.txt", tmp_path / "out.jsonl"
    prompts.write_bytes(content)
    p = run([VERIFY, "--record", out, "--prompts", prompts, m.f32], check=1)
    assert message in p.stderr, p.stderr
    assert list(tmp_path.iterdir()) == [prompts], "no output, not even a temporary file"


def test_record_from_what_is_not_a_model(m, tmp_path):
    out = tmp_path / "out.jsonl"
    p = run([VERIFY, "--record", out, "--prompts", m.prompts, m.prompts], check=1)
    assert str(m.prompts) in p.stderr and not out.exists()


@pytest.mark.parametrize("args,message", [
    (["--record", "o.jsonl", "M"], "--record needs --prompts FILE"),
    (["--prompts", "p.txt", "M", "N"], "--prompts goes with --record"),
    (["-n", "5", "M", "N"], "-n / --n-predict goes with --record"),
    (["--golden-min", "50", "M", "N"], "--golden-min goes with --golden"),
    (["--record", "o.jsonl", "--prompts", "p.txt", "M", "N"], "--record takes the reference"),
    (["--golden", "g.jsonl"], "--golden needs at least one MODEL"),
    (["--golden", "g.jsonl", "--record", "o.jsonl", "--prompts", "p", "M"], "separate runs"),
    (["--golden", "g.jsonl", "--max-kld", "0.1", "M"], "do not apply to --record or --golden"),
    (["--golden", "g.jsonl", "--text", "t.txt", "M"], "do not apply to --record or --golden"),
    (["--golden", "g.jsonl", "--golden-min", "101", "M"], "--golden-min"),
], ids=["record-no-prompts", "prompts-alone", "n-alone", "golden-min-alone", "record-two",
        "golden-no-model", "record-and-golden", "max-kld", "text", "golden-min-range"])
def test_usage_errors(args, message):
    p = run([VERIFY, *args], check=2)
    assert message in p.stderr and "Try 'wk-verify --help'" in p.stderr
