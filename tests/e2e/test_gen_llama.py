"""gen-llama: the random Llama checkpoint generator behind the demo and the benchmarks.

Everything is checked with readers that share no code with weightkit: the safetensors
header is parsed here by hand, values are read with numpy and compared with PyTorch's own
float32 -> bfloat16/float16 rounding, and tokenizer.model is loaded by python3-sentencepiece."""
import json
import os
import struct

import numpy as np
import pytest
import torch

from conftest import GEN, run

GEN_LLAMA = str(GEN / "gen-llama")


def gen(out, *args, env=None):
    e = dict(os.environ, **(env or {}))
    return run([GEN_LLAMA, "-o", out, *args], check=0, env=e)


def read_st(path):
    """(header dict, data start offset) of a .safetensors file, parsed by hand."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    return header, 8 + n


def tensor(path, name):
    header, start = read_st(path)
    info = header[name]
    a, b = info["data_offsets"]
    with open(path, "rb") as f:
        f.seek(start + a)
        raw = f.read(b - a)
    if info["dtype"] == "BF16":
        u = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
        arr = u.view(np.float32)
    else:
        arr = np.frombuffer(raw, dtype={"F32": np.float32, "F16": np.float16}[info["dtype"]])
    return arr.reshape(info["shape"]), raw


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("gen") / "tiny"
    gen(d)
    return d


def expected_shapes(cfg):
    h, f, v = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    hd = h // cfg["num_attention_heads"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    want = {"model.embed_tokens.weight": [v, h], "model.norm.weight": [h]}
    if not cfg["tie_word_embeddings"]:
        want["lm_head.weight"] = [v, h]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        want.update({
            p + "input_layernorm.weight": [h], p + "post_attention_layernorm.weight": [h],
            p + "self_attn.q_proj.weight": [q, h], p + "self_attn.k_proj.weight": [kv, h],
            p + "self_attn.v_proj.weight": [kv, h], p + "self_attn.o_proj.weight": [h, q],
            p + "mlp.gate_proj.weight": [f, h], p + "mlp.up_proj.weight": [f, h],
            p + "mlp.down_proj.weight": [h, f],
        })
    return want


def test_config_is_the_tiny_preset(tiny):
    cfg = json.loads((tiny / "config.json").read_text())
    assert cfg["architectures"] == ["LlamaForCausalLM"] and cfg["model_type"] == "llama"
    assert (cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"],
            cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"]) == \
        (256, 688, 4, 8, 4, 1024)
    assert cfg["rms_norm_eps"] == 1e-5 and cfg["rope_theta"] == 10000
    assert cfg["bos_token_id"] == 1 and cfg["eos_token_id"] == 2
    assert cfg["tie_word_embeddings"] is False and cfg["torch_dtype"] == "bfloat16"
    tc = json.loads((tiny / "tokenizer_config.json").read_text())
    assert tc["add_bos_token"] is True and tc["add_eos_token"] is False
    assert (tc["bos_token"], tc["eos_token"], tc["unk_token"]) == ("<s>", "</s>", "<unk>")


def test_header_shapes_agree_with_config(tiny):
    cfg = json.loads((tiny / "config.json").read_text())
    path = tiny / "model.safetensors"
    header, start = read_st(path)
    assert header.pop("__metadata__") == {"format": "pt"}
    assert {k: v["shape"] for k, v in header.items()} == expected_shapes(cfg)
    assert {v["dtype"] for v in header.values()} == {"BF16"}
    spans = sorted(v["data_offsets"] for v in header.values())
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert start + spans[-1][1] == path.stat().st_size
    for v in header.values():
        assert v["data_offsets"][1] - v["data_offsets"][0] == 2 * int(np.prod(v["shape"]))


def test_values_have_the_intended_distribution(tiny):
    path = tiny / "model.safetensors"
    for name in ["model.embed_tokens.weight", "model.layers.0.mlp.down_proj.weight",
                 "model.layers.3.self_attn.k_proj.weight", "lm_head.weight"]:
        a, _ = tensor(path, name)
        assert abs(a.mean()) < 1e-3, name
        assert a.std() == pytest.approx(0.02, rel=0.03), name
        assert np.abs(a).max() < 0.02 * 3.5, name  # a sum of four uniforms is bounded
    for name in ["model.norm.weight", "model.layers.2.input_layernorm.weight"]:
        a, _ = tensor(path, name)
        assert a.mean() == pytest.approx(1.0, abs=0.005), name
        assert a.std() == pytest.approx(0.02, rel=0.15), name
    q, _ = tensor(path, "model.layers.0.self_attn.q_proj.weight")
    k, _ = tensor(path, "model.layers.1.self_attn.q_proj.weight")
    assert not np.array_equal(q, k)


@pytest.mark.parametrize("dtype,torch_dtype", [("bf16", torch.bfloat16), ("f16", torch.float16)])
def test_half_types_are_rounded_f32_values(tmp_path, dtype, torch_dtype):
    """The same seed in f32 and in a half type: the half values must be PyTorch's rounding
    of the f32 values, bit for bit."""
    gen(tmp_path / "f32", "--dtype", "f32", "--layers", "1")
    gen(tmp_path / dtype, "--dtype", dtype, "--layers", "1")
    for name in ["model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight"]:
        f32, _ = tensor(tmp_path / "f32" / "model.safetensors", name)
        _, raw = tensor(tmp_path / dtype / "model.safetensors", name)
        want = torch.from_numpy(f32.copy()).to(torch_dtype).view(torch.int16).numpy().tobytes()
        assert raw == want, name


def test_output_is_deterministic_and_independent_of_threads(tmp_path):
    gen(tmp_path / "a", "--layers", "1", env={"OMP_NUM_THREADS": "1"})
    gen(tmp_path / "b", "--layers", "1", env={"OMP_NUM_THREADS": "2"})
    gen(tmp_path / "c", "--layers", "1", "--seed", "7")
    a, b, c = ((tmp_path / x / "model.safetensors").read_bytes() for x in "abc")
    assert a == b
    assert a != c and len(a) == len(c)


def test_tokenizer_model_loads_in_sentencepiece(tiny):
    import sentencepiece
    sp = sentencepiece.SentencePieceProcessor(model_file=str(tiny / "tokenizer.model"))
    assert sp.vocab_size() == 1024
    assert (sp.unk_id(), sp.bos_id(), sp.eos_id(), sp.pad_id()) == (0, 1, 2, -1)
    assert [sp.id_to_piece(i) for i in range(3)] == ["<unk>", "<s>", "</s>"]
    assert sp.is_unknown(0) and sp.is_control(1) and sp.is_control(2)
    for i in range(256):
        assert sp.id_to_piece(3 + i) == f"<0x{i:02X}>" and sp.is_byte(3 + i)
    normal = [sp.id_to_piece(i) for i in range(259, 1024)]
    assert not any(sp.is_byte(i) or sp.is_control(i) or sp.is_unknown(i) for i in range(259, 1024))
    assert len(set(normal)) == len(normal) and normal[0] == "\u2581"
    scores = [sp.get_score(i) for i in range(259, 1024)]
    assert scores == sorted(scores, reverse=True) and scores[0] == 0.0
    assert sp.encode("Once upon a time", out_type=str) == ["\u2581Once", "\u2581upon", "\u2581a",
                                                          "\u2581time"]
    text = "Héllo wörld, 日本 42!"
    ids = sp.encode(text)
    assert sp.decode(ids) == text
    assert any(sp.is_byte(i) for i in ids)  # byte fallback for characters not in the vocab


def test_shards_and_index(tmp_path):
    d = tmp_path / "m"
    gen(d, "--shard-size", "1M")
    idx = json.loads((d / "model.safetensors.index.json").read_text())
    files = sorted(set(idx["weight_map"].values()))
    assert len(files) > 2 and files[0] == f"model-00001-of-{len(files):05d}.safetensors"
    assert not (d / "model.safetensors").exists()
    seen, total = {}, 0
    for fn in files:
        header, start = read_st(d / fn)
        header.pop("__metadata__")
        size = sum(v["data_offsets"][1] - v["data_offsets"][0] for v in header.values())
        assert size <= 1 << 20 or len(header) == 1
        total += size
        seen.update({k: fn for k in header})
    assert seen == idx["weight_map"] and idx["metadata"]["total_size"] == total
    cfg = json.loads((d / "config.json").read_text())
    assert set(seen) == set(expected_shapes(cfg))
    # writing a single file into the same directory removes the shards and the index
    gen(d)
    assert sorted(p.name for p in d.glob("model*")) == ["model.safetensors"]


def test_tied_and_overrides(tmp_path):
    gen(tmp_path / "t", "--tied", "--layers", "2", "--hidden", "128", "--heads", "4",
        "--kv-heads", "2", "--ffn", "320", "--vocab", "300")
    cfg = json.loads((tmp_path / "t" / "config.json").read_text())
    assert cfg["tie_word_embeddings"] is True and cfg["vocab_size"] == 300
    header, _ = read_st(tmp_path / "t" / "model.safetensors")
    header.pop("__metadata__")
    assert "lm_head.weight" not in header
    assert {k: v["shape"] for k, v in header.items()} == expected_shapes(cfg)
    import sentencepiece
    sp = sentencepiece.SentencePieceProcessor(model_file=str(tmp_path / "t" / "tokenizer.model"))
    assert sp.vocab_size() == 300


def test_the_7b_preset_is_llama2_7b_shaped(tmp_path):
    # the whole 7B is 13 GB: here its context length (not overridden) and, in the model line
    # of --help, its shape
    run([GEN_LLAMA, "--preset", "llama2-7b", "--layers", "1", "--hidden", "64", "--ffn", "128",
         "--heads", "4", "--kv-heads", "4", "--vocab", "300", "-o", tmp_path / "m"], check=0)
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["max_position_embeddings"] == 4096 and cfg["hidden_size"] == 64
    assert "llama2-7b (4096 hidden, 32 layers, 11008 ffn, 32 heads)" in \
        run([GEN_LLAMA, "--help"], check=0).stdout
    p = run([GEN_LLAMA, "--preset", "huge", "-o", tmp_path / "x"], check=2)
    assert "(tiny, tinyllama-1.1b, llama2-7b)" in p.stderr


@pytest.mark.parametrize("args,message", [
    (["--heads", "7"], "--heads"),
    (["--kv-heads", "3"], "--kv-heads"),
    (["--dtype", "q4_0"], "--dtype"),
    (["--vocab", "100"], "--vocab"),
    (["--preset", "huge"], "--preset"),
    (["--shard-size", "12Q"], "--shard-size"),
])
def test_bad_options_are_usage_errors(tmp_path, args, message):
    p = run([GEN_LLAMA, "-o", tmp_path / "x", *args], check=2)
    assert message in p.stderr
    assert not (tmp_path / "x").exists()


def test_output_path_that_is_a_file_is_refused(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    p = run([GEN_LLAMA, "-o", f], check=1)
    assert "gen-llama: error:" in p.stderr and "not a directory" in p.stderr
    assert f.read_text() == "x"
