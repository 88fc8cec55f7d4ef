"""wk-quantize as a user runs it: the same file from a GGUF or straight from a checkpoint,
the metadata and report, --dry-run, the overrides, fallbacks, imatrix files in both of
llama.cpp's formats, and every kind of bad input (exit 1 naming what is wrong, nothing
written; unknown types exit 2 listing the valid ones). Quality against llama.cpp and
PyTorch: test_quantize_quality.py."""
import json
import math

import numpy as np
import pytest
import torch

import gguf_read
import imatrix_write
import st_write
from conftest import GEN, run, tool

QUANTIZE, CONVERT, INSPECT = tool("wk-quantize"), tool("wk-convert"), tool("wk-inspect")
GGML_F32, GGML_F16, GGML_Q8_0, GGML_Q4_K, GGML_Q6_K = 0, 1, 8, 12, 14


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small random Llama with 256-wide rows (k-quants apply everywhere), as a checkpoint
    and as an F32 GGUF."""
    d = tmp_path_factory.mktemp("quant")
    run([GEN / "gen-llama", "--preset", "tiny", "--layers", "2", "--ffn", "512", "--seed", "3",
         "-o", d / "hf"], check=0)
    run([CONVERT, d / "hf", "-o", d / "f32.gguf", "--outtype", "f32", "-q"], check=0)
    return d / "hf", d / "f32.gguf"


def quantize_json(*args):
    return json.loads(run([QUANTIZE, *args, "--json"], check=0).stdout)


def types_of(path):
    return {k: v[0] for k, v in gguf_read.read(path)[1].items()}


def test_checkpoint_and_gguf_inputs_give_the_same_file_content(model, tmp_path):
    hf, f32 = model
    run([QUANTIZE, hf, tmp_path / "a.gguf", "Q4_K_M", "-q"], check=0)
    run([QUANTIZE, f32, tmp_path / "b.gguf", "Q4_K_M", "-q"], check=0)
    ma, ta = gguf_read.read(tmp_path / "a.gguf")
    mb, tb = gguf_read.read(tmp_path / "b.gguf")
    assert ta.keys() == tb.keys()
    for name in ta:
        assert ta[name][0] == tb[name][0], name
        assert np.array_equal(np.asarray(ta[name][2]), np.asarray(tb[name][2])), name
    for key in ("general.file_type", "general.quantization_version", "llama.block_count",
                "tokenizer.ggml.tokens", "weightkit.quantize.recipe"):
        assert ma[key] == mb[key], key
    assert ma["general.file_type"] == 15 and ma["general.quantization_version"] == 2
    assert ma["weightkit.tool"] == "wk-quantize" and ma["weightkit.quantize.recipe"] == "Q4_K_M"


def test_recipe_types_and_checksums(model, tmp_path):
    _, f32 = model
    out = tmp_path / "q.gguf"
    run([QUANTIZE, f32, out, "Q4_K_M", "-q"], check=0)
    t = types_of(out)
    assert t["blk.0.attn_q.weight"] == GGML_Q4_K
    # llama.cpp's use_more_bits for 2 layers: layer 1 (i >= 7n/8), not layer 0
    assert t["blk.0.attn_v.weight"] == GGML_Q4_K and t["blk.1.attn_v.weight"] == GGML_Q6_K
    assert t["blk.0.ffn_down.weight"] == GGML_Q4_K and t["blk.1.ffn_down.weight"] == GGML_Q6_K
    assert t["output.weight"] == GGML_Q6_K and t["token_embd.weight"] == GGML_Q4_K
    assert t["blk.0.attn_norm.weight"] == GGML_F32
    p = run([INSPECT, "--stats", out], check=0)
    assert "Checksums     verified (xxh64" in p.stdout


def test_report_gives_error_figures_per_tensor(model, tmp_path):
    _, f32 = model
    doc = quantize_json(f32, tmp_path / "q.gguf", "Q4_K_M")
    rows = {r["name"]: r for r in doc["tensors"]}
    q = rows["blk.1.attn_q.weight"]
    assert q["type"] == "Q4_K" and q["from"] == "F32" and q["bits_per_weight"] == 4.5
    assert 0 < q["rmse"] < q["max_abs_error"] and 20 < q["snr_db"] < 30
    v = rows["blk.1.attn_v.weight"]
    assert v["type"] == "Q6_K" and v["why"] == "a more-bits layer" and v["snr_db"] > 30
    assert rows["blk.0.attn_norm.weight"]["rmse"] is None
    tot = doc["totals"]
    assert tot["bytes_before"] > 6 * tot["bytes_after"] / 2
    assert 4.5 < tot["bits_per_weight_after"] < 6.6
    assert doc["file_type"] == {"id": 15, "name": "Q4_K_M"} and doc["dry_run"] is False
    text = run([QUANTIZE, f32, tmp_path / "t.gguf", "Q4_K_M", "-q"], check=0).stdout
    assert "blk.1.attn_v.weight" in text and "a more-bits layer" in text
    assert "bits per weight" in text


def test_dry_run_plans_without_writing(model, tmp_path):
    hf, _ = model
    plan = quantize_json(hf, "Q3_K_M", "--dry-run")
    assert plan["dry_run"] is True and plan["output"] is None
    assert list(tmp_path.iterdir()) == []
    real = quantize_json(hf, tmp_path / "q.gguf", "Q3_K_M")
    assert [(t["name"], t["type"]) for t in plan["tensors"]] == \
           [(t["name"], t["type"]) for t in real["tensors"]]
    assert plan["totals"]["bytes_after"] == real["totals"]["bytes_after"]
    run([QUANTIZE, hf, "Q3_K_M"], check=2)  # OUT left out without --dry-run


def test_overrides_keep_and_output_types(model, tmp_path):
    _, f32 = model
    out = tmp_path / "o.gguf"
    run([QUANTIZE, f32, out, "Q4_K_M", "-q",
         "--tensor-type", "model.layers.*.mlp.up_proj.weight=Q8_0",  # Hugging Face naming
         "--tensor-type", "blk.1.attn_k.weight=q5_0",
         "--keep", "blk.0.attn_q.*", "--output-type", "Q8_0", "--embedding-type", "Q6_K"],
        check=0)
    t = types_of(out)
    assert t["blk.0.ffn_up.weight"] == GGML_Q8_0 and t["blk.1.ffn_up.weight"] == GGML_Q8_0
    assert t["blk.1.attn_k.weight"] == 6  # Q5_0
    assert t["blk.0.attn_q.weight"] == GGML_F32
    assert t["output.weight"] == GGML_Q8_0 and t["token_embd.weight"] == GGML_Q6_K


def test_a_pure_type_and_every_recipe_name(model, tmp_path):
    _, f32 = model
    run([QUANTIZE, f32, tmp_path / "p.gguf", "q5_k", "-q"], check=0)
    t = types_of(tmp_path / "p.gguf")
    assert {v for k, v in t.items() if k.startswith("blk.") and "norm" not in k} == {13}
    assert t["output.weight"] == 13
    p = run([QUANTIZE, f32, tmp_path / "x.gguf", "Q4_K_XL"], check=2)
    for name in ("Q4_K_M", "IQ4_XS", "Q8_0", "Q2_K", "IQ4_NL"):
        assert name in p.stderr
    assert not (tmp_path / "x.gguf").exists()


def test_fallbacks_are_reported(stories260k, tmp_path):
    doc = quantize_json(stories260k, tmp_path / "s.gguf", "Q8_0")
    rows = {r["name"]: r for r in doc["tensors"]}
    down = rows["blk.0.ffn_down.weight"]
    assert down["type"] == "F16" and "172" in down["fallback"] and "Q8_0" in down["fallback"]
    assert doc["totals"]["fallbacks"] == 5
    text = run([QUANTIZE, stories260k, tmp_path / "t.gguf", "Q4_K_M", "-q"], check=0).stdout
    assert "Fallbacks (" in text and "rows of 64 are not a multiple of the Q4_K block" in text


def test_requantizing_needs_consent(model, tmp_path):
    _, f32 = model
    q = tmp_path / "q.gguf"
    run([QUANTIZE, f32, q, "Q4_K_M", "-q"], check=0)
    p = run([QUANTIZE, q, tmp_path / "r.gguf", "Q2_K"], check=1)
    assert "already quantized" in p.stderr and "--allow-requantize" in p.stderr
    assert not (tmp_path / "r.gguf").exists()
    p = run([QUANTIZE, q, tmp_path / "r.gguf", "Q2_K", "--allow-requantize", "-q"], check=0)
    assert "losses of both quantizations add up" in p.stderr
    run([QUANTIZE, q, q, "Q2_K"], check=2)  # never over its own input


def test_nan_weights_are_refused_naming_the_tensor(model, tmp_path):
    hf, _ = model
    bad = tmp_path / "bad"
    bad.mkdir()
    for f in hf.iterdir():
        if f.suffix != ".safetensors":
            (bad / f.name).write_bytes(f.read_bytes())
    import torch_llama_ref as ref
    w = ref.load_safetensors_dir(hf)
    w["model.layers.1.mlp.up_proj.weight"][3, 7] = float("nan")
    st_write.save(bad / "model.safetensors", w)
    p = run([QUANTIZE, bad, tmp_path / "n.gguf", "Q4_0"], check=1)
    assert "blk.1.ffn_up.weight" in p.stderr and "row 3" in p.stderr and "column 7" in p.stderr
    assert list(tmp_path.glob("n.gguf*")) == []


def columns(f32):
    """{weight name: its row length} for the matrices an imatrix covers."""
    _, t = gguf_read.read(f32)
    return {k: v[1][-1] for k, v in t.items()
            if len(v[1]) == 2 and k not in ("token_embd.weight", "output.weight")}


def test_imatrix_in_both_formats(model, tmp_path):
    hf, f32 = model
    g = np.random.default_rng(0)
    entries = {k: g.gamma(0.5, 2.0, n).astype(np.float32) for k, n in columns(f32).items()}
    imatrix_write.write_gguf(tmp_path / "im.gguf", entries)
    imatrix_write.write_dat(tmp_path / "im.dat", entries)
    a, b, plain = tmp_path / "a.gguf", tmp_path / "b.gguf", tmp_path / "p.gguf"
    doc = quantize_json(f32, a, "Q4_K_M", "--imatrix", tmp_path / "im.gguf")
    run([QUANTIZE, hf, b, "Q4_K_M", "--imatrix", tmp_path / "im.dat", "-q"], check=0)
    run([QUANTIZE, f32, plain, "Q4_K_M", "-q"], check=0)
    ta, tb, tp = gguf_read.read(a)[1], gguf_read.read(b)[1], gguf_read.read(plain)[1]
    name = "blk.1.attn_q.weight"
    assert ta[name][2] == tb[name][2]           # the same importance from either format
    assert ta[name][2] != tp[name][2]           # and it changed the choice of levels
    rows = {r["name"]: r for r in doc["tensors"]}
    assert rows[name]["imatrix"] and not rows["output.weight"]["imatrix"]
    assert doc["imatrix"] == "im.gguf"
    assert gguf_read.read(a)[0]["weightkit.quantize.imatrix"] == "im.gguf"


def test_an_imatrix_for_another_model_is_refused(model, tmp_path):
    _, f32 = model
    cols = columns(f32)
    g = np.random.default_rng(1)
    base = {k: np.ones(n, np.float32) for k, n in cols.items()}
    missing = dict(base)
    del missing["blk.0.ffn_gate.weight"]
    imatrix_write.write_gguf(tmp_path / "missing.gguf", missing)
    wide = dict(base)
    wide["blk.0.attn_q.weight"] = np.ones(cols["blk.0.attn_q.weight"] * 2, np.float32)
    imatrix_write.write_dat(tmp_path / "wide.dat", wide)
    extra = dict(base)
    extra["blk.9.attn_q.weight"] = g.random(256).astype(np.float32)
    imatrix_write.write_gguf(tmp_path / "extra.gguf", extra)
    (tmp_path / "junk.dat").write_bytes(b"\x05\x00\x00\x00\xff\xff")
    for im, words in [("missing.gguf", ["no entry for tensor 'blk.0.ffn_gate.weight'"]),
                      ("wide.dat", ["'blk.0.attn_q.weight'", "another model"]),
                      ("extra.gguf", ["'blk.9.attn_q.weight'", "another model"]),
                      ("junk.dat", ["junk.dat", "offset"])]:
        p = run([QUANTIZE, f32, tmp_path / "q.gguf", "Q4_K_M", "--imatrix", tmp_path / im],
                check=1)
        for w in words:
            assert w in p.stderr, (im, p.stderr)
        assert not (tmp_path / "q.gguf").exists()
