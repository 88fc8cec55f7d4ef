"""Byte-level BPE tokenizers (tokenizer.json) through wk-convert into llama.cpp.

A tiny random Llama gets a GPT-2 style byte-level BPE tokenizer trained here (256 byte
symbols plus merges learned from a small corpus, two added special tokens, padding ids up
to vocab_size). wk-convert writes it; llama.cpp (node-llama-cpp) loads the GGUF and
tokenizes; the reference is a plain GPT-2 BPE written below (pre-tokenizer regex, byte to
unicode map, merges by rank). The texts are ASCII so Python's `re` can stand in for the
\\p{L}/\\p{N} classes. SentencePiece tokenizers are covered by test_convert.py."""
import json
import re
import shutil

import pytest

from conftest import tool, run
import make_llama_fixtures as fx
from test_convert import node_run

CONVERT = tool("wk-convert")

# The regexes as the models' tokenizer.json files spell them ...
RE_LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+"
             r"[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# ... and as Python's re reads them for ASCII text.
PY_RE = {
    "llama3": re.compile(r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\na-zA-Z0-9]?[a-zA-Z]+|[0-9]{1,3}"
                         r"| ?[^\sa-zA-Z0-9]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"),
    "gpt2": re.compile(r"'s|'t|'re|'ve|'m|'ll|'d| ?[a-zA-Z]+| ?[0-9]+| ?[^\sa-zA-Z0-9]+|\s+(?!\S)|\s+"),
}
PRE_TOKENIZER = {
    "llama3": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": RE_LLAMA3}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
    "gpt2": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
}
CORPUS = ("Once upon a time there was a little girl named Lily. She loved to play outside in "
          "the park. One day she saw a big red ball, and 123 happy dogs! It's the cat's toy; "
          "they'll play till 2024.\n\nThe end. (normal) \"quoted\" 12345678 HE'S SHE'LL "
          "x  \n\n  y #tag") * 3
TEXTS = ["Once upon a time", "Hello world", "The cat sat on the mat.", "  two  spaces",
         "line\nbreak\n\n", "numbers 12345 and symbols #$%", "it's Lily's ball, isn't it?",
         "(normal) \"quoted\" #tag", "SHE'LL pay 1234567", "x  \n\n  y"]
N_MERGES = 120
VOCAB_SIZE = 408  # > 256 + N_MERGES + 2: the rest are padding ids


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character map."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + len(cs) - 188)
    return dict(zip(bs, map(chr, cs)))


BYTE_CHAR = bytes_to_unicode()


def words(text, flavour):
    return ["".join(BYTE_CHAR[b] for b in w.encode()) for w in PY_RE[flavour].findall(text)]


def train():
    """Greedy BPE on the corpus: the most frequent adjacent pair, N_MERGES times. Words from
    both splits, so that merges cross the boundaries where the two regexes differ."""
    seqs = [list(w) for w in words(CORPUS, "llama3") + words(CORPUS, "gpt2")]
    merges = []
    for _ in range(N_MERGES):
        counts = {}
        for s in seqs:
            for a, b in zip(s, s[1:]):
                counts[(a, b)] = counts.get((a, b), 0) + 1
        if not counts:
            break
        best = max(counts, key=lambda p: (counts[p], p))
        merges.append(best)
        for s in seqs:
            i = 0
            while i < len(s) - 1:
                if (s[i], s[i + 1]) == best:
                    s[i:i + 2] = [s[i] + s[i + 1]]
                i += 1
    return merges


def bpe(word, ranks):
    parts = list(word)
    while len(parts) > 1:
        pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
        rank, i = min(pairs)
        if rank == 1 << 30:
            break
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    return parts


def reference_tokenize(text, flavour, vocab, ranks):
    ids = []
    for w in words(text, flavour):
        if flavour == "llama3" and w in vocab:  # llama-bpe sets ignore_merges, as Llama 3 does
            ids.append(vocab[w])
        else:
            ids.extend(vocab[p] for p in bpe(w, ranks))
    return ids


def make_model(d, flavour, pair_merges):
    fx.make(d, hidden=32, layers=1, heads=2, kv_heads=1, ffn=48,
            extra_config={"vocab_size": VOCAB_SIZE, "bos_token_id": None, "eos_token_id": None})
    for f in ("tokenizer.model", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (d / f).unlink(missing_ok=True)
    merges = train()
    vocab = {c: i for i, c in enumerate(BYTE_CHAR[b] for b in range(256))}
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    bos, eos = len(vocab), len(vocab) + 1
    assert eos < VOCAB_SIZE
    tok = {
        "version": "1.0",
        "added_tokens": [{"id": bos, "content": "<|begin_of_text|>", "special": True},
                         {"id": eos, "content": "<|end_of_text|>", "special": True}],
        "pre_tokenizer": PRE_TOKENIZER[flavour],
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}]},
        "model": {"type": "BPE", "byte_fallback": False, "ignore_merges": flavour == "llama3",
                  "vocab": vocab,
                  "merges": [[a, b] if pair_merges else f"{a} {b}" for a, b in merges]},
    }
    (d / "tokenizer.json").write_text(json.dumps(tok))
    (d / "tokenizer_config.json").write_text(json.dumps(
        {"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|end_of_text|>"}}))
    ranks = {m: i for i, m in enumerate(merges)}
    return vocab, ranks, bos, eos


@pytest.mark.parametrize("flavour,pair_merges", [("llama3", True), ("gpt2", False)])
def test_llama_cpp_tokenizes_like_the_reference(tmp_path, flavour, pair_merges):
    if not shutil.which("node"):
        pytest.skip("node not installed")
    d = tmp_path / "model"
    vocab, ranks, bos, eos = make_model(d, flavour, pair_merges)
    out = tmp_path / "m.gguf"
    p = run([CONVERT, d, "-o", out, "--quiet", "--outtype", "f32"], check=0)
    assert "pre-tokenizer not recognised" not in p.stderr
    got = node_run(out, {"tokenize": TEXTS}, tmp_path)
    assert got["bos"] == bos and got["eos"] == eos
    for text, ids in zip(TEXTS, got["tokenize"]):
        assert ids == reference_tokenize(text, flavour, vocab, ranks), text


def test_unrecognised_pre_tokenizer_warns(tmp_path):
    d = tmp_path / "model"
    make_model(d, "gpt2", False)
    tok = json.loads((d / "tokenizer.json").read_text())
    tok["pre_tokenizer"] = {"type": "Whitespace"}
    (d / "tokenizer.json").write_text(json.dumps(tok))
    p = run([CONVERT, d, "-o", tmp_path / "m.gguf", "--outtype", "f32"], check=0)
    assert "pre-tokenizer not recognised" in p.stderr
