"""Seed corpora for the libFuzzer harnesses in tests/fuzz/ (docs/fuzzing.md).

make_seeds.py OUTDIR [GGUF_WRITE_SAMPLE] writes OUTDIR/<harness>/<seed> for every harness:
small valid inputs of each format (from the fixture generators in tests/fixtures/, which
follow the format specs they name, from torch.save and pickle themselves, and from
../shared/models/stories260k-hf when present), plus the malformed fixtures of
make_bad_*.py, which reach the error paths. Seeds over 64 KiB (the harnesses' -max_len)
are left out. Run with Debian's /usr/bin/python3 (it has torch)."""

import collections
import io
import json
import os
import pathlib
import pickle
import pickletools
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

HERE = pathlib.Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
sys.path.insert(0, str(FIXTURES))
SHARED = pathlib.Path(os.environ.get("WK_SHARED", HERE.parents[2] / "shared"))
STORIES = SHARED / "models" / "stories260k-hf"
MAX_LEN = 64 << 10
SEP = b"\n#WKFUZZ#\n"  # fuzz_tokenizer_build.c's file separator


class Corpus:
    def __init__(self, root):
        self.root = pathlib.Path(root)
        self.counts = collections.Counter()
        self.skipped = 0

    def add(self, harness, name, data):
        if isinstance(data, str):
            data = data.encode()
        if len(data) > MAX_LEN:
            self.skipped += 1
            return
        d = self.root / harness
        d.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
        self.counts[harness] += 1


def stories(name):
    p = STORIES / name
    return p.read_bytes() if p.exists() else None


# ---- safetensors ----

def safetensors_seeds(c, tmp):
    import torch
    import make_bad_safetensors as bad
    import st_write
    single, _ = bad.build_good(tmp / "st_good")
    c.add("fuzz_safetensors", "good.safetensors", pathlib.Path(single).read_bytes())
    g = torch.Generator().manual_seed(0)
    t = {"f32": torch.randn(3, 4, generator=g), "f16": torch.randn(5, generator=g).half(),
         "bf16": torch.randn(2, 3, generator=g).bfloat16(), "i64": torch.arange(4),
         "u8": torch.arange(6, dtype=torch.uint8).reshape(2, 3), "b": torch.tensor([True, False]),
         "scalar": torch.tensor(1.5), "empty": torch.zeros(0, 3)}
    p = tmp / "mixed.safetensors"
    st_write.save(p, t, metadata={"format": "pt", "note": "fuzz seed"})
    c.add("fuzz_safetensors", "mixed.safetensors", p.read_bytes())
    for name, data, _ in bad.single_file_cases():
        c.add("fuzz_safetensors", "bad_" + name, data)


# ---- GGUF ----

def gguf_seeds(c, tmp, sample_bin):
    import make_bad_gguf as bad
    import make_inspect_fixtures as insp
    c.add("fuzz_gguf", "valid.gguf", bad.valid())
    for name, (blob, _) in bad.CASES.items():
        c.add("fuzz_gguf", "bad_" + name, blob)
    p = tmp / "inspect.gguf"
    insp.gguf_file(p)
    c.add("fuzz_gguf", "inspect.gguf", p.read_bytes())
    if sample_bin:
        p = tmp / "sample.gguf"
        subprocess.run([sample_bin, str(p)], check=True, stdout=subprocess.DEVNULL)
        c.add("fuzz_gguf", "sample.gguf", p.read_bytes())


# ---- PyTorch checkpoints and their pickles ----

def split_pickles(data):
    """The consecutive pickles at the start of a legacy torch.save stream."""
    out, pos = [], 0
    while pos < len(data) and len(out) < 4:
        try:
            end = None
            for op, _, at in pickletools.genops(io.BytesIO(data[pos:])):
                if op.name == "STOP":
                    end = pos + at + 1
                    break
        except Exception:
            break
        if end is None:
            break
        out.append(data[pos:end])
        pos = end
    return out


def pickles_of(data):
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            return [z.read(n) for n in z.namelist() if n.endswith("data.pkl")]
    if data[:1] == b"\x80":
        return split_pickles(data)
    return []


def pytorch_seeds(c, tmp):
    import make_bad_pickles as badp
    import make_torch_fixtures as tf
    files = [(k.name, pathlib.Path(k.path)) for k in tf.build(tmp / "torch")]
    files += [("bad_" + k.name, pathlib.Path(k.path)) for k in badp.build(tmp / "badpk")]
    for name, path in files:
        if not path.is_file():
            continue
        data = path.read_bytes()
        c.add("fuzz_pytorch", name, data)
        for i, pk in enumerate(pickles_of(data)):
            c.add("fuzz_pickle", f"{name}.{i}.pkl", pk)
    objs = {"dict": {"a": 1, "b": [1.5, -2, None, True], "c": (b"xy", "z")},
            "ints": [0, 1, -1, 255, 256, 65535, 2 ** 31, -2 ** 63, 2 ** 64, -2 ** 100],
            "sets": [{1, 2}, frozenset({"a"}), bytearray(b"q")],
            "ordered": collections.OrderedDict([("w", [1, 2]), ("v", {"k": 3.25})]),
            "shared": [[1, 2]] * 3, "long_str": "x" * 300, "unicode": "\u00e9\u4e2d\U0001f600"}
    for name, obj in objs.items():
        for proto in (2, 4, 5):
            c.add("fuzz_pickle", f"py_{name}_p{proto}.pkl", pickle.dumps(obj, protocol=proto))


# ---- tokenizers ----

def pb_varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def pb_field(num, wire, payload):
    key = pb_varint(num << 3 | wire)
    if wire == 2:
        return key + pb_varint(len(payload)) + payload
    return key + payload


def spm_model(pieces, trainer=None):
    """A ModelProto (sentencepiece_model.proto): pieces = [(text, score, type)]."""
    out = b""
    for text, score, typ in pieces:
        sp = pb_field(1, 2, text.encode()) + pb_field(2, 5, struct.pack("<f", score))
        if typ != 1:
            sp += pb_field(3, 0, pb_varint(typ))
        out += pb_field(1, 2, sp)
    if trainer is not None:
        out += pb_field(2, 2, trainer)
    return out


def small_spm():
    pieces = [("<unk>", 0.0, 2), ("<s>", 0.0, 3), ("</s>", 0.0, 3)]
    pieces += [(f"<0x{b:02X}>", 0.0, 6) for b in range(4)]
    pieces += [("\u2581a", -1.0, 1), ("b", -2.0, 1), ("<user>", 0.0, 4), ("x", 0.0, 5)]
    trainer = (pb_field(3, 0, pb_varint(2)) + pb_field(35, 0, pb_varint(1)) +
               pb_field(40, 0, pb_varint(0)) + pb_field(41, 0, pb_varint(1)) +
               pb_field(42, 0, pb_varint(2)) + pb_field(43, 0, pb_varint(2 ** 64 - 1)))
    return spm_model(pieces, trainer)


def byte_chars():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(ch) for b, ch in zip(bs, cs)}


def bpe_json(pre, pair_merges):
    bc = byte_chars()
    vocab = {bc[b]: b for b in range(256)}
    merges = [(bc[ord("t")], bc[ord("h")]), (bc[ord(" ")], bc[ord("a")]),
              (bc[ord("t")] + bc[ord("h")], bc[ord("e")])]
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    n = len(vocab)
    return {
        "version": "1.0",
        "added_tokens": [{"id": n, "content": "<|begin_of_text|>", "special": True},
                         {"id": n + 1, "content": "<|end_of_text|>", "special": True},
                         {"id": n + 3, "content": "<extra>", "special": False}],
        "normalizer": None, "pre_tokenizer": pre,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}},
                                      {"Sequence": {"id": "A", "type_id": 0}}]},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "byte_fallback": False, "vocab": vocab,
                  "merges": [[a, b] if pair_merges else f"{a} {b}" for a, b in merges]},
    }


PRE = {
    "gpt2": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
             "use_regex": True},
    "llama3": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?"
                                      r"\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+"
                                      r"|\s+(?!\S)|\s+"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
         "use_regex": False}]},
    "whitespace": {"type": "Whitespace"},
}

TOKCFGS = {
    "plain": {"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|end_of_text|>"},
              "add_bos_token": True, "add_eos_token": False, "add_prefix_space": False},
    "templates": {"bos_token": "<s>", "pad_token": None, "unk_token": "<unk>",
                  "chat_template": [{"name": "default", "template": "{{ messages }}"},
                                    {"name": "tool use!", "template": "{{ tools }}"}],
                  "added_tokens_decoder": {"0": {"content": "<unk>", "special": True},
                                           "5": {"content": "<pad>", "special": False}}},
    "template_str": {"chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}",
                     "eos_token": "</s>", "model_max_length": 512},
}


def config(**over):
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64,
           "intermediate_size": 96, "num_hidden_layers": 2, "num_attention_heads": 4,
           "num_key_value_heads": 2, "vocab_size": 300, "max_position_embeddings": 256,
           "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "rope_scaling": None,
           "hidden_act": "silu", "tie_word_embeddings": False, "bos_token_id": 1,
           "eos_token_id": 2, "torch_dtype": "float32"}
    cfg.update(over)
    return json.dumps(cfg, indent=1)


CONFIGS = {
    "gqa": config(),
    "tied_bias": config(tie_word_embeddings=True, attention_bias=True, mlp_bias=True),
    "head_dim": config(head_dim=32, hidden_size=48),
    "linear": config(rope_scaling={"type": "linear", "factor": 2.0}),
    "yarn": config(rope_scaling={"rope_type": "yarn", "factor": 4.0,
                                 "original_max_position_embeddings": 64, "beta_fast": 32,
                                 "beta_slow": 1, "attention_factor": 1.1}),
    "llama3": config(head_dim=16, hidden_size=48, num_key_value_heads=1,
                     rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                   "high_freq_factor": 4.0,
                                   "original_max_position_embeddings": 8192}),
    "mistral": config(architectures=["MistralForCausalLM"], model_type="mistral",
                      sliding_window=None),
    "mistral_window": config(architectures=["MistralForCausalLM"], sliding_window=4096,
                             max_position_embeddings=4096),
    "vocab_ids": config(bos_token_id=None, eos_token_id=[2, 3], pad_token_id=0),
}


def tokenizer_seeds(c):
    spm = stories("tokenizer.model")
    tj = stories("tokenizer.json")
    tc = stories("tokenizer_config.json")
    cfg = stories("config.json")
    c.add("fuzz_sentencepiece", "small.model", small_spm())
    c.add("fuzz_sentencepiece", "no_trainer.model", spm_model([("<unk>", 0.0, 2), ("a", -1, 1)]))
    if spm:
        c.add("fuzz_sentencepiece", "stories260k.model", spm)
    jsons = {f"bpe_{k}_{'pairs' if p else 'str'}": json.dumps(bpe_json(v, p))
             for k, v in PRE.items() for p in (False, True)}
    for name, text in jsons.items():
        c.add("fuzz_tokenizer_json", name + ".json", text)
    if tj:
        c.add("fuzz_tokenizer_json", "stories260k.json", tj)
    for name, obj in TOKCFGS.items():
        c.add("fuzz_tokenizer_config", name + ".json", json.dumps(obj))
    if tc:
        c.add("fuzz_tokenizer_config", "stories260k.json", tc)
    for name, text in CONFIGS.items():
        c.add("fuzz_hf_config", name + ".json", text)
    if cfg:
        c.add("fuzz_hf_config", "stories260k.json", cfg)
    added = json.dumps({"<extra>": 260, "<more>": 261}).encode()
    build = {
        "spm": SEP.join([small_spm(), json.dumps(TOKCFGS["templates"]).encode(),
                         config(vocab_size=12).encode()]),
        "bpe_gpt2": SEP.join([jsons["bpe_gpt2_str"].encode(), json.dumps(TOKCFGS["plain"]).encode(),
                              config(vocab_size=270, bos_token_id=None).encode(), added]),
        "bpe_llama3": SEP.join([jsons["bpe_llama3_pairs"].encode(),
                                json.dumps(TOKCFGS["template_str"]).encode()]),
    }
    if spm and tc and cfg:
        build["stories260k"] = SEP.join([spm, tc, cfg])
    for name, data in build.items():
        c.add("fuzz_tokenizer_build", name, data)
    # fuzz_tokenize.c: the first byte picks the vocabulary (0 SentencePiece, 1-5 BPE
    # pre-tokenizers) and the flags; the text follows.
    texts = ["Hello  world\n", "a<u>b </s> \u4e2d", " 12345 IT'S \U0001F600 caf\u00e9\u0301"]
    for k in range(6):
        for i, text in enumerate(texts):
            c.add("fuzz_tokenize", f"v{k}_{i}", bytes([k | (i << 3)]) + text.encode())
    c.add("fuzz_tokenize", "invalid", b"\x19a\xc3b\xff\xe2\x82\xf4\x90\x80\x80")


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: make_seeds.py OUTDIR [GGUF_WRITE_SAMPLE]")
    out = pathlib.Path(sys.argv[1])
    shutil.rmtree(out, ignore_errors=True)
    c = Corpus(out)
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        safetensors_seeds(c, tmp)
        gguf_seeds(c, tmp, sys.argv[2] if len(sys.argv) == 3 else None)
        pytorch_seeds(c, tmp)
    tokenizer_seeds(c)
    for h in sorted(c.counts):
        print(f"{h}: {c.counts[h]} seeds")
    if c.skipped:
        print(f"({c.skipped} inputs over {MAX_LEN} bytes left out)")


if __name__ == "__main__":
    main()
