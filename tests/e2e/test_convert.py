"""wk-convert: Hugging Face Llama checkpoints -> GGUF.

Oracles: the checkpoint values themselves (read back through an independent Python GGUF
reader, tests/fixtures/gguf_read.py, and compared bit for bit with torch's own dtype
conversions and llama.cpp's q/k permutation formula); llama.cpp through node-llama-cpp
(loads the file, greedy-decodes, gives next-token probabilities) against a float64
PyTorch forward pass in HF semantics on the unconverted weights (torch_llama_ref.py); and
python3-sentencepiece for tokenization."""
import json
import os
import pathlib
import pty
import shutil
import subprocess

import numpy as np
import pytest
import torch

from conftest import IN_CI, ROOT, run, tool
import gguf_read
import make_llama_fixtures as fx
import torch_llama_ref as ref

CONVERT = tool("wk-convert")
NODE_DIR = ROOT / "tests" / "node"
TORCH = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
GGML = {0: "f32", 1: "f16", 30: "bf16"}
FTYPE = {"f32": 0, "f16": 1, "bf16": 32}


@pytest.fixture(scope="module")
def variants(tmp_path_factory):
    """Each fixture variant generated once: name -> (dir, config, float32 weights)."""
    cache = {}

    def get(name):
        if name not in cache:
            d = tmp_path_factory.mktemp(name)
            cfg, w = fx.make(d, **fx.VARIANTS[name])
            cache[name] = (d, cfg, w)
        return cache[name]
    return get


def convert(src, out, *extra, check=0):
    return run([CONVERT, src, "-o", out, "--quiet", *extra], check=check)


def llama_permute(w, n_head):
    """llama.cpp convert_hf_to_gguf.py LlamaModel.permute, in numpy."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2)
            .reshape(w.shape))


GGUF_NAMES = {
    "input_layernorm.weight": "attn_norm.weight", "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight", "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight", "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight", "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(hf):
    if hf.startswith("model.layers."):
        _, _, i, rest = hf.split(".", 3)
        return f"blk.{i}.{GGUF_NAMES[rest]}"
    return {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight",
            "lm_head.weight": "output.weight"}[hf]


def expected_bits(src, out_type):
    """What the converted tensor must hold: torch's own conversion of the stored values."""
    t = src.to(TORCH[out_type])
    return t.float().numpy()


# ---------------------------------------------------------------------------- usage

def test_help_version_and_usage_errors(tmp_path):
    assert "Usage: wk-convert" in run([CONVERT, "--help"], check=0).stdout
    assert "wk-convert (weightkit)" in run([CONVERT, "--version"], check=0).stdout
    run([CONVERT], check=2)
    run([CONVERT, tmp_path, "-o"], check=2)
    assert "config.json" in run([CONVERT, tmp_path], check=1).stderr  # -o is optional
    p = run([CONVERT, tmp_path, "-o", tmp_path / "x.gguf", "--outtype", "q4"], check=2)
    assert "q4" in p.stderr


# ---------------------------------------------------------------------------- round trip

@pytest.mark.parametrize("name", ["gqa", "mha_tied", "sharded_f16", "llama3_rope", "mistral"])
@pytest.mark.parametrize("outtype", ["f32", "f16", "bf16", "auto"])
def test_round_trip(variants, tmp_path, name, outtype):
    d, cfg, w = variants(name)
    out = tmp_path / "m.gguf"
    p = convert(d, out, "--outtype", outtype)
    assert p.stderr == "", p.stderr  # no progress or warnings when stderr is not a TTY
    meta, tensors = gguf_read.read(out)
    src_type = fx.VARIANTS[name].get("dtype", "f32")
    want_type = src_type if outtype == "auto" else outtype

    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // nh
    assert meta["general.architecture"] == "llama"
    assert meta["general.file_type"] == FTYPE[want_type]
    assert "general.quantization_version" not in meta
    assert meta["general.name"] == d.name
    want_kv = {
        "llama.vocab_size": cfg["vocab_size"], "llama.context_length": cfg["max_position_embeddings"],
        "llama.embedding_length": cfg["hidden_size"], "llama.block_count": cfg["num_hidden_layers"],
        "llama.feed_forward_length": cfg["intermediate_size"], "llama.attention.head_count": nh,
        "llama.attention.head_count_kv": nkv, "llama.rope.dimension_count": hd,
        "llama.rope.freq_base": cfg["rope_theta"],
    }
    for k, v in want_kv.items():
        assert meta[k] == v, k
    assert meta["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(cfg["rms_norm_eps"], rel=1e-6)
    assert ("llama.attention.key_length" in meta) == ("head_dim" in cfg)
    assert meta["tokenizer.ggml.model"] == "llama"
    assert len(meta["tokenizer.ggml.tokens"]) == cfg["vocab_size"]
    assert meta["weightkit.tool"] == "wk-convert"

    expect = {gguf_name(k) for k in w}
    if (cfg.get("rope_scaling") or {}).get("rope_type") == "llama3":
        expect.add("rope_freqs.weight")
    assert set(tensors) == expect
    assert ("output.weight" in tensors) == (not cfg["tie_word_embeddings"])
    for hf, src in w.items():
        typ, shape, arr = tensors[gguf_name(hf)]
        assert shape == list(src.shape), hf
        one_d = src.dim() == 1
        assert GGML[typ] == ("f32" if one_d else want_type), hf
        want = expected_bits(src, "f32" if one_d else want_type)
        if hf.endswith("q_proj.weight"):
            want = llama_permute(want, nh)
        elif hf.endswith("k_proj.weight"):
            want = llama_permute(want, nkv)
        # bit-exact: the same values, or torch's round-to-nearest-even conversion of them
        assert np.array_equal(arr.view(np.uint32), want.view(np.uint32)), hf


def test_sharded_and_single_file_give_the_same_tensors(tmp_path):
    a, b = tmp_path / "sharded", tmp_path / "single"
    kw = dict(fx.VARIANTS["sharded_f16"])
    fx.make(a, **kw)
    kw["shards"] = 1
    fx.make(b, **kw)
    convert(a, tmp_path / "a.gguf")
    convert(b, tmp_path / "b.gguf")
    ma, ta = gguf_read.read(tmp_path / "a.gguf")
    mb, tb = gguf_read.read(tmp_path / "b.gguf")
    assert list(ta) == list(tb)
    for k in ta:
        assert np.array_equal(ta[k][2], tb[k][2]), k
    assert len(ma["weightkit.sources"]) == 3 and len(mb["weightkit.sources"]) == 1


def test_llama3_rope_freqs_tensor(variants, tmp_path):
    d, cfg, _ = variants("llama3_rope")
    convert(d, tmp_path / "m.gguf")
    meta, tensors = gguf_read.read(tmp_path / "m.gguf")
    typ, shape, got = tensors["rope_freqs.weight"]
    rs, hd = cfg["rope_scaling"], cfg["head_dim"]
    assert GGML[typ] == "f32" and shape == [hd // 2]
    # llama.cpp's generate_extra_tensors formula, independently in float64
    freqs = 1.0 / (cfg["rope_theta"] ** (np.arange(0, hd, 2) / hd))
    lo_wl = rs["original_max_position_embeddings"] / rs["low_freq_factor"]
    hi_wl = rs["original_max_position_embeddings"] / rs["high_freq_factor"]
    want = []
    for f in freqs:
        wl = 2 * np.pi / f
        if wl < hi_wl:
            want.append(1.0)
        elif wl > lo_wl:
            want.append(rs["factor"])
        else:
            s = (rs["original_max_position_embeddings"] / wl - rs["low_freq_factor"]) / (
                rs["high_freq_factor"] - rs["low_freq_factor"])
            want.append(1 / ((1 - s) / rs["factor"] + s))
    assert len(set(np.round(want, 3))) >= 3  # all three bands are exercised
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert "llama.rope.scaling.type" not in meta


@pytest.mark.parametrize("scaling,keys", [
    ({"type": "linear", "factor": 4.0}, {"llama.rope.scaling.type": "linear", "llama.rope.scaling.factor": 4.0}),
    ({"rope_type": "yarn", "factor": 2.0, "original_max_position_embeddings": 128, "beta_fast": 32.0},
     {"llama.rope.scaling.type": "yarn", "llama.rope.scaling.factor": 2.0,
      "llama.rope.scaling.original_context_length": 128, "llama.rope.scaling.yarn_beta_fast": 32.0}),
])
def test_rope_scaling_keys(tmp_path, scaling, keys):
    fx.make(tmp_path / "m", layers=1, rope_scaling=scaling)
    convert(tmp_path / "m", tmp_path / "m.gguf")
    meta, tensors = gguf_read.read(tmp_path / "m.gguf")
    for k, v in keys.items():
        assert meta[k] == v, k
    assert "rope_freqs.weight" not in tensors
    assert "llama.rope.scaling.yarn_beta_slow" not in meta


def test_inv_freq_buffers_are_ignored(tmp_path):
    d = tmp_path / "m"
    cfg, w = fx.make(d, layers=1)
    stored = ref.load_safetensors_dir(d)
    stored["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch.ones(8)
    fx.st_write.save(d / "model.safetensors", stored)
    convert(d, tmp_path / "m.gguf")
    _, tensors = gguf_read.read(tmp_path / "m.gguf")
    assert not any("inv_freq" in k or "rotary" in k for k in tensors)


def test_pytorch_checkpoint_converts_like_safetensors(tmp_path):
    fx.make(tmp_path / "st", layers=1, tied=True)
    fx.make(tmp_path / "pt", layers=1, tied=True, fmt="pytorch")
    convert(tmp_path / "st", tmp_path / "st.gguf")
    convert(tmp_path / "pt", tmp_path / "pt.gguf")
    _, a = gguf_read.read(tmp_path / "st.gguf")
    _, b = gguf_read.read(tmp_path / "pt.gguf")
    assert list(a) == list(b)
    for k in a:
        assert np.array_equal(a[k][2], b[k][2]), k


def test_tied_lm_head_that_differs_is_reported(tmp_path):
    """tie_word_embeddings with an lm_head in the checkpoint: dropped (llama.cpp then uses the
    embeddings), silently when it is a copy of them, with a warning when it is not."""
    def tie(d):
        cfg = json.loads((d / "config.json").read_text())
        cfg["tie_word_embeddings"] = True
        (d / "config.json").write_text(json.dumps(cfg))

    differs = tmp_path / "differs"
    fx.make(differs, layers=1, tied=False)
    tie(differs)
    p = run([tool("wk-convert"), differs, "-o", tmp_path / "a.gguf", "-q"], check=0)
    assert "'lm_head.weight' differs from 'model.embed_tokens.weight'" in p.stderr, p.stderr
    assert "output.weight" not in gguf_read.read(tmp_path / "a.gguf")[1]

    same = tmp_path / "same"
    fx.make(same, layers=1, tied=False, fmt="pytorch")
    sd = torch.load(same / "pytorch_model.bin")
    sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    torch.save(sd, same / "pytorch_model.bin")
    tie(same)
    p = run([tool("wk-convert"), same, "-o", tmp_path / "b.gguf", "-q"], check=0)
    assert "warning" not in p.stderr, p.stderr


def test_progress_on_a_tty_only(variants, tmp_path):
    d, _, _ = variants("gqa")

    def stderr_on_pty(*extra):
        master, slave = pty.openpty()
        p = subprocess.run([CONVERT, d, "-o", tmp_path / "m.gguf", *extra], stderr=slave,
                           stdout=subprocess.DEVNULL)
        os.close(slave)
        data = b""
        try:
            while chunk := os.read(master, 65536):
                data += chunk
        except OSError:
            pass
        os.close(master)
        assert p.returncode == 0
        return data.decode()
    shown = stderr_on_pty()
    assert "wk-convert" in shown and "MB/s" in shown and "ETA" in shown
    assert stderr_on_pty("--quiet") == ""


# ---------------------------------------------------------------------------- llama.cpp

def node_run(gguf, request, tmp_path):
    if not (NODE_DIR / "node_modules" / "node-llama-cpp").exists() or not shutil.which("node"):
        if IN_CI:
            pytest.fail("node-llama-cpp is missing, and CI must have it")
        pytest.skip("node-llama-cpp not installed (tests/node: npm ci)")
    req = tmp_path / "request.json"
    req.write_text(json.dumps(request))
    p = subprocess.run(["node", NODE_DIR / "llama_run.mjs", gguf, req], capture_output=True,
                       text=True, cwd=NODE_DIR, timeout=300)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


TEXTS = ["Once upon a time", "Hello world", "The cat sat on the mat.", "  two  spaces",
         "line\nbreak", "héllo ünïcode 日本", "numbers 12345 and symbols #$%"]


def check_against_reference(gguf, model_dir, cfg, w, tmp_path, steps=30, tol=1e-4):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(model_dir / "tokenizer.model"))
    prompt = [1] + sp.encode("Once upon a time")
    got = node_run(gguf, {"tokenize": TEXTS, "prompt": prompt, "steps": steps, "top": 8}, tmp_path)
    assert got["bos"] == 1 and got["eos"] == 2
    for text, ids in zip(TEXTS, got["tokenize"]):
        assert ids == sp.encode(text), text
    m = ref.LlamaRef(cfg, w)
    seq = list(prompt)
    for step in got["steps"]:
        p_ref = torch.softmax(m.logits(seq)[-1], -1)
        best = int(p_ref.argmax())
        # greedy choice: the reference's argmax (a tie within tol would allow either)
        assert step["token"] == best or p_ref[best] - p_ref[step["token"]] < tol, (seq, step)
        for tok, p in step["top"]:
            assert abs(p - float(p_ref[tok])) < tol, (len(seq), tok, p, float(p_ref[tok]))
        seq.append(step["token"])
    return seq[len(prompt):]


def test_stories260k_matches_reference(stories260k, tmp_path):
    out = tmp_path / "s.gguf"
    convert(stories260k, out, "--outtype", "f32")
    cfg = json.loads((stories260k / "config.json").read_text())
    w = ref.load_safetensors_dir(stories260k)
    gen = check_against_reference(out, stories260k, cfg, w, tmp_path)
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(stories260k / "tokenizer.model"))
    assert sp.decode(gen).startswith(", there was a little girl named Lily. She loved to play")


def test_student256_matches_reference(student256, tmp_path):
    """A trained model with an untied output matrix and head_dim in its config."""
    out = tmp_path / "s.gguf"
    convert(student256, out, "--outtype", "f32")
    cfg = json.loads((student256 / "config.json").read_text())
    assert not cfg["tie_word_embeddings"]
    meta, tensors = gguf_read.read(out)
    assert "output.weight" in tensors
    check_against_reference(out, student256, cfg, ref.load_safetensors_dir(student256), tmp_path)


@pytest.mark.parametrize("name", ["gqa", "mha_tied", "sharded_f16", "llama3_rope", "mistral"])
def test_random_variants_match_reference(variants, tmp_path, name):
    d, cfg, w = variants(name)
    out = tmp_path / "m.gguf"
    convert(d, out, "--outtype", "f32")
    check_against_reference(out, d, cfg, w, tmp_path, steps=12)


def test_default_f16_output_runs_in_llama_cpp(stories260k, tmp_path):
    out = tmp_path / "s.gguf"
    convert(stories260k, out)
    _, tensors = gguf_read.read(out)
    assert GGML[tensors["blk.0.attn_q.weight"][0]] == "f16"
    cfg = json.loads((stories260k / "config.json").read_text())
    # the reference runs on the f16-rounded weights llama.cpp sees (norms stay f32)
    w = {k: (v.half().float() if v.dim() == 2 else v)
         for k, v in ref.load_safetensors_dir(stories260k).items()}
    check_against_reference(out, stories260k, cfg, w, tmp_path, steps=12, tol=2e-3)


# ---------------------------------------------------------------------------- bad input

def edit_config(d, **changes):
    cfg = json.loads((d / "config.json").read_text())
    for k, v in changes.items():
        if v is KeyError:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    (d / "config.json").write_text(json.dumps(cfg))


def drop_tensor(d, name):
    w = ref.load_safetensors_dir(d)
    del w[name]
    fx.st_write.save(d / "model.safetensors", w)


def add_tensor(d, name, t):
    w = ref.load_safetensors_dir(d)
    w[name] = t
    fx.st_write.save(d / "model.safetensors", w)


def break_tokenizer(d):
    (d / "tokenizer.model").write_bytes(b"\xff\xff\xff not a protobuf")
    for f in ("tokenizer.json",):
        if (d / f).exists():
            (d / f).unlink()


BAD = {
    "missing_key": (lambda d: edit_config(d, hidden_size=KeyError), ["config.json", "hidden_size"]),
    "indivisible_heads": (lambda d: edit_config(d, num_attention_heads=5),
                          ["hidden_size", "num_attention_heads"]),
    "kv_heads_mismatch": (lambda d: edit_config(d, num_key_value_heads=3), ["num_key_value_heads"]),
    "wrong_type": (lambda d: edit_config(d, num_hidden_layers="two"), ["num_hidden_layers"]),
    "unsupported_arch": (lambda d: edit_config(d, architectures=["GPT2LMHeadModel"]),
                         ["GPT2LMHeadModel", "LlamaForCausalLM", "MistralForCausalLM"]),
    "sliding_window": (lambda d: edit_config(d, architectures=["MistralForCausalLM"], sliding_window=64),
                       ["sliding_window"]),
    "rope_type": (lambda d: edit_config(d, rope_scaling={"rope_type": "dynamic", "factor": 2.0}),
                  ["rope_scaling", "dynamic"]),
    "activation": (lambda d: edit_config(d, hidden_act="gelu"), ["hidden_act", "gelu"]),
    "missing_tensor": (lambda d: drop_tensor(d, "model.layers.1.self_attn.v_proj.weight"),
                       ["model.layers.1.self_attn.v_proj.weight", "missing"]),
    "unexpected_tensor": (lambda d: add_tensor(d, "model.layers.0.mlp.extra.weight", torch.ones(4)),
                          ["model.layers.0.mlp.extra.weight", "model.safetensors"]),
    "extra_layer": (lambda d: edit_config(d, num_hidden_layers=1),
                    ["model.layers.1.", "unexpected"]),
    "shape": (lambda d: edit_config(d, intermediate_size=100),
              ["model.layers.0.mlp.gate_proj.weight", "[96, 64]", "[100, 64]"]),
    "no_config": (lambda d: (d / "config.json").unlink(), ["config.json"]),
    "bad_tokenizer": (break_tokenizer, ["tokenizer.model"]),
    "int_dtype": (lambda d: add_tensor(d, "model.norm.weight", torch.ones(64, dtype=torch.int32)),
                  ["model.norm.weight", "I32"]),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input(tmp_path, case):
    d = tmp_path / "model"
    fx.make(d, layers=2, heads=4, kv_heads=2, ffn=96)
    spoil, words = BAD[case]
    spoil(d)
    outdir = tmp_path / "out"
    outdir.mkdir()
    p = convert(d, outdir / "m.gguf", check=1)
    assert p.stderr.startswith("wk-convert: error: "), p.stderr
    for word in words:
        assert word in p.stderr, (word, p.stderr)
    assert list(outdir.iterdir()) == []  # neither the output nor a temp file


def test_existing_output_survives_a_failed_conversion(tmp_path):
    d = tmp_path / "model"
    fx.make(d, layers=1)
    edit_config(d, hidden_size=KeyError)
    out = tmp_path / "m.gguf"
    out.write_bytes(b"previous")
    convert(d, out, check=1)
    assert out.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf", "model"]
