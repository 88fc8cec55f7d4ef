"""The tokenizer runtime (engine/tokenizer.h) against independent tokenizers, on the few
hundred texts of tests/fixtures/tok_texts.py (whitespace runs, digits, emoji, CJK, combining
marks, special-token texts, invalid UTF-8), and wk-run --tokenize as a user runs it.

SentencePiece: stories260k and student256 (../shared/models) and Llama 2's tokenizer.model
(../shared/tokenizers/llama2, converted through a tiny model directory), against
python3-sentencepiece and against llama.cpp itself (node-llama-cpp's libllama through
ctypes: tests/fixtures/llama_vocab.py, which also takes the texts that are not UTF-8).
Byte-level BPE: a tokenizer trained here (tests/fixtures/bpe_tokenizer.py) with the
llama-bpe, gpt-2, qwen2 and smollm pre-tokenizers, against Hugging Face's tokenizers.js
(tests/node/hf_tokenize.mjs) and llama.cpp; and llama.cpp's "default" pre-tokenizer against
llama.cpp. Decoding: our text equals sentencepiece's / tokenizers.js's decode, and the
streaming decoder (ids pushed one at a time) always gives the whole decode's bytes.

The many texts go through build/gen/tok-dump (one process per model and mode); wk-run is
tested for its output and errors."""
import json
import shutil
import subprocess

import pytest

import bpe_tokenizer
import make_llama_fixtures as fx
import tok_texts
from conftest import GEN, IN_CI, run, shared_path, tool
from llama_vocab import LlamaVocab
from make_inspect_fixtures import write_gguf
from test_convert import NODE_DIR

RUN, CONVERT, DUMP = tool("wk-run"), tool("wk-convert"), str(GEN / "tok-dump")
TEXTS = tok_texts.texts()
ALL = [t.encode() for t in TEXTS] + tok_texts.INVALID
SPM_MODELS = ["stories260k", "student256", "llama2"]
BPE_FLAVOURS = ["llama3", "gpt2", "qwen2", "smollm"]


def convert(d, out):
    run([CONVERT, d, "-o", out, "--vocab-only", "--quiet"], check=0)
    return out


@pytest.fixture(scope="module")
def spm_gguf(tmp_path_factory):
    made = {}

    def get(name):
        if name not in made:
            tmp = tmp_path_factory.mktemp(name)
            if name == "llama2":
                model = shared_path("tokenizers/llama2/tokenizer.model")
                d = tmp / "model"
                fx.make(d, hidden=32, layers=1, heads=2, kv_heads=1, ffn=48,
                        extra_config={"vocab_size": 32000})
                for f in fx.TOK_FILES:
                    (d / f).unlink(missing_ok=True)
                shutil.copyfile(model, d / "tokenizer.model")
            else:
                d = shared_path(f"models/{name}-hf")
                model = d / "tokenizer.model"
            made[name] = (convert(d, tmp / f"{name}.gguf"), model)
        return made[name]
    return get


@pytest.fixture(scope="module")
def bpe_gguf(tmp_path_factory):
    made = {}

    def get(flavour):
        if flavour not in made:
            d = tmp_path_factory.mktemp(flavour) / "model"
            bpe_tokenizer.make(d, "gpt2" if flavour == "default" else flavour)
            if flavour == "default":  # a pre-tokenizer llama.cpp does not know by name
                tok = json.loads((d / "tokenizer.json").read_text())
                tok["pre_tokenizer"] = {"type": "Whitespace"}
                (d / "tokenizer.json").write_text(json.dumps(tok))
            made[flavour] = (convert(d, d.parent / "m.gguf"), d)
        return made[flavour]
    return get


def dump(gguf, texts, flags):
    """Our ids and decodes of texts (bytes) through tok-dump; the streaming decode must
    give the whole decode's bytes."""
    inp = "".join(t.hex() + "\n" for t in texts)
    p = subprocess.run([DUMP, gguf, flags or "-"], input=inp, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    out = []
    for text, line in zip(texts, p.stdout.splitlines()):
        ids, whole, stream = line.split("\t")
        assert whole == stream, f"streaming decode differs for {text!r}"
        out.append(([int(i) for i in ids.split()], bytes.fromhex(whole)))
    assert len(out) == len(texts)
    return out


def llama(gguf):
    v = LlamaVocab.open(gguf)
    if v is None:
        if IN_CI:
            pytest.fail("node-llama-cpp's libllama is missing, and CI must have it")
        pytest.skip("node-llama-cpp not installed (tests/node: npm ci)")
    return v


def assert_same(texts, ours, theirs, who):
    bad = [(t, o, x) for t, o, x in zip(texts, ours, theirs) if o != x]
    assert not bad, f"{len(bad)} of {len(texts)} texts differ from {who}; first ones:\n" + \
        "\n".join(f"  {t!r}: ours {o}, {who} {x}" for t, o, x in bad[:5])


@pytest.mark.parametrize("name", SPM_MODELS)
def test_spm_matches_sentencepiece(spm_gguf, name):
    import sentencepiece as spm
    gguf, model = spm_gguf(name)
    sp = spm.SentencePieceProcessor(model_file=str(model))
    ours = dump(gguf, [t.encode() for t in TEXTS], "b")
    assert_same(TEXTS, [ids for ids, _ in ours], [[sp.bos_id()] + sp.encode(t) for t in TEXTS],
                "sentencepiece")
    # Decoding: sentencepiece's text, wherever the pieces make valid UTF-8.
    for t, (ids, text) in zip(TEXTS, ours):
        if text.decode(errors="replace") == text.decode(errors="ignore"):
            assert text.decode() == sp.decode(ids), t


@pytest.mark.parametrize("name", SPM_MODELS)
def test_spm_matches_llama_cpp(spm_gguf, name):
    gguf, _ = spm_gguf(name)
    with llama(gguf) as v:
        for flags in ("b", "bs", "s"):
            ours = [ids for ids, _ in dump(gguf, ALL, flags)]
            assert_same(ALL, ours, [v.tokenize(t, "b" in flags, "s" in flags) for t in ALL],
                        f"llama.cpp ({flags})")


def hf_run(model_dir, texts, tmp_path):
    if not (NODE_DIR / "node_modules" / "@huggingface" / "tokenizers").exists() or \
            not shutil.which("node"):
        if IN_CI:
            pytest.fail("@huggingface/tokenizers is missing, and CI must have it")
        pytest.skip("@huggingface/tokenizers not installed (tests/node: npm ci)")
    req = tmp_path / "request.json"
    req.write_text(json.dumps({"texts": texts}))
    p = subprocess.run(["node", NODE_DIR / "hf_tokenize.mjs", model_dir, req],
                       capture_output=True, text=True, cwd=NODE_DIR, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["results"]


def js_digits_differ(flavour, text):
    """tokenizers.js's Digits pre-tokenizer isolates only ASCII digits (JavaScript's \\d),
    where Hugging Face's Rust tokenizers (char::is_numeric) and llama.cpp (\\p{N}) isolate
    every number character (१, ½, ①): those texts are left to llama.cpp for smollm."""
    return flavour == "smollm" and any(c.isnumeric() and not c.isascii() for c in text)


@pytest.mark.parametrize("flavour", BPE_FLAVOURS)
def test_bpe_matches_tokenizers_js(bpe_gguf, flavour, tmp_path):
    gguf, d = bpe_gguf(flavour)
    texts = [t for t in TEXTS if not js_digits_differ(flavour, t)]
    assert len(texts) > 300
    hf = hf_run(d, texts, tmp_path)
    # Hugging Face always matches added tokens in the text: our parse_special.
    with_bos = dump(gguf, [t.encode() for t in texts], "bsS")
    plain = dump(gguf, [t.encode() for t in texts], "sS")
    assert_same(texts, [ids for ids, _ in with_bos], [r["ids"] for r in hf], "tokenizers.js")
    assert_same(texts, [ids for ids, _ in plain], [r["plain"] for r in hf], "tokenizers.js")
    assert_same(texts, [text for _, text in plain], [r["decoded"].encode() for r in hf],
                "tokenizers.js decode")


# A 4-byte sequence above U+10FFFF: llama.cpp's BPE decodes it to a code point it then
# cannot encode, and aborts (an uncaught "invalid codepoint"); we take each byte as U+FFFD.
BEYOND = b"\xf4\x90\x80\x80"


@pytest.mark.parametrize("flavour", BPE_FLAVOURS + ["default"])
def test_bpe_matches_llama_cpp(bpe_gguf, flavour):
    gguf, _ = bpe_gguf(flavour)
    texts = [t for t in ALL if t != BEYOND]
    with llama(gguf) as v:
        for flags in ("b", "bs", "-"):
            ours = [ids for ids, _ in dump(gguf, texts, flags)]
            assert_same(texts, ours, [v.tokenize(t, "b" in flags, "s" in flags) for t in texts],
                        f"llama.cpp ({flags})")
    beyond, fffd = dump(gguf, [BEYOND, "\ufffd".encode() * 4], "-")
    assert beyond[0] == fffd[0]


# ---- wk-run --tokenize ----

def test_wk_run_lists_ids_and_pieces(spm_gguf):
    gguf, _ = spm_gguf("stories260k")
    p = run([RUN, gguf, "--tokenize", "Hello world\n"], check=0)
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["1", '"<s>"']
    assert lines[-1] == f"{len(lines) - 1} tokens"
    pieces = [line.split(None, 1)[1] for line in lines[1:-1]]
    assert "".join(json.loads(s) for s in pieces) == " Hello world\n"
    assert pieces[-1] == '"\\n"'
    ids = [int(line.split()[0]) for line in lines[:-1]]
    assert ids == dump(gguf, [b"Hello world\n"], "b")[0][0]


def test_wk_run_json_and_flags(spm_gguf):
    gguf, _ = spm_gguf("stories260k")
    text = "</s> caf\u00e9 \u4e2d"
    with_bos = json.loads(run([RUN, gguf, "--tokenize", text, "--json"], check=0).stdout)
    assert with_bos["ids"][0] == 1 and with_bos["count"] == len(with_bos["ids"])
    assert with_bos["pieces"][0] == "<s>" and len(with_bos["pieces"]) == with_bos["count"]
    assert "\ufffd" in with_bos["pieces"]  # the byte tokens of U+4E2D, not UTF-8 alone
    plain = json.loads(run([RUN, gguf, "--tokenize", text, "--json", "--no-bos"],
                           check=0).stdout)
    assert plain["ids"] == with_bos["ids"][1:]
    special = json.loads(run([RUN, gguf, "--tokenize", text, "--json", "--no-bos",
                              "--special"], check=0).stdout)
    assert special["ids"][0] == 2 and special["pieces"][0] == "</s>"
    assert 2 not in plain["ids"]


def test_wk_run_escapes_bytes(spm_gguf):
    gguf, _ = spm_gguf("stories260k")
    p = run([RUN, gguf, "--tokenize", "\u4e2d\t\"q\"", "--no-bos"], check=0)
    assert '"\\xe4"' in p.stdout and '"\\t"' in p.stdout and '"\\""' in p.stdout


def test_wk_run_bpe(bpe_gguf):
    gguf, _ = bpe_gguf("llama3")
    out = json.loads(run([RUN, gguf, "--tokenize", "Hello 😀", "--json"], check=0).stdout)
    assert out["pieces"][0] == "<|begin_of_text|>"
    assert "".join(out["pieces"][1:]).replace("\ufffd", "") in ("Hello ", "Hello 😀")


@pytest.mark.parametrize("kvs,message", [
    ({}, "no tokenizer: tokenizer.ggml.model is missing"),
    ({"tokenizer.ggml.model": 7}, "tokenizer.ggml.model: expected a string, found a u32"),
    ({"tokenizer.ggml.model": "bert"}, "tokenizer.ggml.model 'bert' is not supported"),
    ({"tokenizer.ggml.model": "no_vocab"}, "the file has no vocabulary"),
    ({"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "tekken"},
     "tokenizer.ggml.pre 'tekken' is not supported"),
    ({"tokenizer.ggml.model": "llama"}, "tokenizer.ggml.tokens is missing"),
    ({"tokenizer.ggml.model": "llama", "tokenizer.ggml.tokens": "abc"},
     "tokenizer.ggml.tokens: expected an array, found a str"),
])
def test_wk_run_bad_tokenizer_metadata(tmp_path, kvs, message):
    path = tmp_path / "m.gguf"
    write_gguf(path, {"general.architecture": "llama", **kvs}, [])
    p = run([RUN, path, "--tokenize", "x"], check=1)
    assert p.stderr.startswith(f"wk-run: error: {path}: {message}"), p.stderr
    assert p.stdout == ""


def test_wk_run_errors(tmp_path):
    p = run([RUN, tmp_path / "missing.gguf", "--tokenize", "x"], check=1)
    assert "missing.gguf" in p.stderr and p.stdout == ""
    bad = tmp_path / "not.gguf"
    bad.write_bytes(b"not a gguf at all")
    p = run([RUN, bad, "--tokenize", "x"], check=1)
    assert p.stderr.startswith("wk-run: error:") and "not.gguf" in p.stderr
    p = run([RUN, bad], check=2)
    assert "nothing to do: give -p PROMPT, -f FILE or --tokenize TEXT" in p.stderr
    run([RUN, "--tokenize", "x"], check=2)


def test_wk_run_help():
    p = run([RUN, "--help"], check=0)
    for opt in ("--tokenize", "--no-bos", "--special", "--json"):
        assert opt in p.stdout
