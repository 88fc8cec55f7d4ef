"""wk-prune as a user runs it, on stories260k and student256: every method and scope, from a
GGUF and from the checkpoint, judged by an independent reader (tests/fixtures/gguf_read.py):
the exact number of zeros per row, per tensor and across the model, the N:M pattern in every
group of every pruned tensor, the smallest |w| being the ones removed, kept weights
bit-identical to the input, the categories, F16/BF16 kept; llama.cpp runs a pruned GGUF and
agrees with PyTorch on the pruned Hugging Face directory, which our reader and PyTorch both
load with the zeros in place; --verify equals wk-verify's own figures; every bad input."""
import json
import math

import numpy as np
import pytest
import torch

import gguf_read
import torch_llama_ref as ref
from conftest import ROOT, run, tool
from test_convert import check_against_reference

PRUNE, CONVERT, QUANTIZE = tool("wk-prune"), tool("wk-convert"), tool("wk-quantize")
INSPECT, VERIFY = tool("wk-inspect"), tool("wk-verify")
MATRICES = ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")
F32, F16, BF16 = 0, 1, 30


def count(s, n):
    """wk-prune's count of weights to zero (quant/prune.h): floor with a tiny allowance."""
    x = s * n
    return math.floor(x + 1e-12 * x)


def bits(path):
    """{name: (ggml type, shape, the raw bits as unsigned integers)} of every tensor."""
    _, infos = gguf_read.layout(path)
    data = open(path, "rb").read()
    out = {}
    for name, typ, ne, start in infos:
        shape, n = list(reversed(ne)), int(np.prod(ne))
        dt = {F32: "<u4", F16: "<u2", BF16: "<u2"}[typ]
        out[name] = (typ, shape, np.frombuffer(data, dt, n, start).reshape(shape))
    return out


def values(path):
    return {k: v[2] for k, v in gguf_read.read(path)[1].items()}


def is_pruned_name(name, only=("attention", "feedforward")):
    cat = ("attention" if "attn_" in name and "norm" not in name else
           "feedforward" if "ffn_" in name and "norm" not in name else
           "norm" if "norm" in name else "embedding" if "token_embd" in name else "output")
    return cat in only


def prune(*args, check=0):
    p = run([PRUNE, *args, "-q"], check=check)
    return p


def prune_json(*args):
    return json.loads(run([PRUNE, *args, "-q", "--json"], check=0).stdout)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Each shared model as its checkpoint, an F32 GGUF and what wk-convert makes of it
    (auto: the checkpoint's own types), the reference for the checkpoint path."""
    from conftest import shared_path
    d = tmp_path_factory.mktemp("prune")
    out = {}
    for name in ("stories260k", "student256"):
        src = shared_path(f"models/{name}-hf")
        run([CONVERT, src, "-o", d / f"{name}-f32.gguf", "--outtype", "f32", "-q"], check=0)
        run([CONVERT, src, "-o", d / f"{name}-f16.gguf", "--outtype", "f16", "-q"], check=0)
        run([CONVERT, src, "-o", d / f"{name}-bf16.gguf", "--outtype", "bf16", "-q"], check=0)
        out[name] = (src, d / f"{name}-f32.gguf")
    return d, out


def check_kept_bit_identical(before, after, pruned):
    """Same names and types; outside `pruned` every bit equal; inside it every weight either
    its input bits or +0. Returns {name: (input values, output values)} of the pruned ones."""
    assert before.keys() == after.keys()
    got = {}
    for name, (typ, shape, a) in before.items():
        t2, s2, b = after[name]
        assert (t2, s2) == (typ, shape), name
        if name not in pruned:
            assert np.array_equal(a, b), f"{name} changed but is not pruned"
            continue
        changed = a != b
        assert np.all(b[changed] == 0), f"{name}: a kept weight changed"
        got[name] = (a, b)
    return got


def magnitude(raw, typ):
    """|w| of raw bits, as float64."""
    if typ == F32:
        return np.abs(raw.view(np.float32).astype(np.float64))
    if typ == F16:
        return np.abs(raw.view(np.float16).astype(np.float64))
    return np.abs((raw.astype(np.uint32) << 16).view(np.float32).astype(np.float64))


def zero(raw):
    return (raw & (0x7fffffff if raw.dtype.itemsize == 4 else 0x7fff)) == 0


# ------------------------------------------------------------------------- magnitude


@pytest.mark.parametrize("name", ["stories260k", "student256"])
@pytest.mark.parametrize("scope", ["row", "tensor", "global"])
def test_magnitude_every_scope_exact_and_smallest_first(models, name, scope, tmp_path):
    d, m = models
    src, f32 = m[name]
    out = tmp_path / "p.gguf"
    doc = prune_json(f32, "-o", out, "--method", "magnitude", "--sparsity", "0.37", "--scope",
                     scope)
    before, after = bits(f32), bits(out)
    names = {k for k in before if is_pruned_name(k) and len(before[k][1]) == 2}
    assert {t["name"] for t in doc["tensors"] if t["pruned"]} == names
    got = check_kept_bit_identical(before, after, names)
    total = sum(a.size for a, _ in got.values())
    zeros = sum(int(zero(b).sum()) for _, b in got.values())
    if scope == "row":
        for k, (a, b) in got.items():
            want = count(0.37, a.shape[1])
            assert list(zero(b).sum(1)) == [max(want, int(z)) for z in zero(a).sum(1)], k
            mag_a = magnitude(a, F32)
            for r in range(a.shape[0]):  # the removed are the smallest of the row
                gone, kept = mag_a[r][zero(b[r])], mag_a[r][~zero(b[r])]
                assert gone.max() <= kept.min(), (k, r)
    elif scope == "tensor":
        for k, (a, b) in got.items():
            assert zero(b).sum() == max(count(0.37, a.size), zero(a).sum()), k
            mag_a = magnitude(a, F32)
            assert mag_a[zero(b)].max() <= mag_a[~zero(b)].min(), k
    else:
        assert zeros == count(0.37, total)
        gone = max(magnitude(a, F32)[zero(b)].max() for a, b in got.values())
        kept = min(magnitude(a, F32)[~zero(b)].min() for a, b in got.values())
        assert gone <= kept
    assert doc["pruned"]["zeros"] == zeros and doc["pruned"]["elements"] == total
    assert doc["pruned"]["tensors"] == len(names)
    everything = sum(v[2].size for v in after.values())
    assert doc["total"]["elements"] == everything
    assert doc["total"]["zeros"] == sum(int(zero(v[2]).sum()) for v in after.values())
    assert doc["by_category"]["norm"]["zeros"] == doc["by_category"]["norm"]["zeros_before"]
    for t in doc["tensors"]:
        assert t["sparsity"] == pytest.approx(t["zeros"] / t["elements"])
    meta = gguf_read.read(out)[0]
    assert meta["weightkit.tool"] == "wk-prune" and meta["weightkit.prune.method"] == "magnitude"
    assert meta["weightkit.prune.scope"] == scope
    assert meta["general.architecture"] == "llama" and "tokenizer.ggml.tokens" in meta


@pytest.mark.parametrize("name", ["stories260k", "student256"])
def test_the_checkpoint_path_prunes_what_wk_convert_writes(models, name, tmp_path):
    """From the checkpoint straight into a GGUF: the same file as converting first."""
    d, m = models
    src, f32 = m[name]
    run([CONVERT, src, "-o", tmp_path / "auto.gguf", "--outtype", "auto", "-q"], check=0)
    prune(src, "-o", tmp_path / "a.gguf", "--method", "magnitude", "--sparsity", "0.5")
    prune(tmp_path / "auto.gguf", "-o", tmp_path / "b.gguf", "--method", "magnitude",
          "--sparsity", "0.5")
    a, b = bits(tmp_path / "a.gguf"), bits(tmp_path / "b.gguf")
    assert a.keys() == b.keys()
    for k in a:
        assert a[k][0] == b[k][0] and np.array_equal(a[k][2], b[k][2]), k
    names = {k for k in a if is_pruned_name(k) and len(a[k][1]) == 2}
    check_kept_bit_identical(bits(tmp_path / "auto.gguf"), a, names)


def test_a_bf16_sharded_checkpoint_keeps_bf16_in_both_outputs(tmp_path):
    from conftest import GEN
    hf = tmp_path / "hf"
    run([GEN / "gen-llama", "--preset", "tiny", "--layers", "2", "--dtype", "bf16",
         "--shard-size", "400K", "--seed", "5", "-o", hf], check=0)
    assert (hf / "model.safetensors.index.json").exists()
    run([CONVERT, hf, "-o", tmp_path / "auto.gguf", "--outtype", "auto", "-q"], check=0)
    prune(hf, "-o", tmp_path / "p.gguf", "--method", "magnitude", "--sparsity", "0.6")
    before, after = bits(tmp_path / "auto.gguf"), bits(tmp_path / "p.gguf")
    names = {k for k in before if is_pruned_name(k) and len(before[k][1]) == 2}
    got = check_kept_bit_identical(before, after, names)
    for k, (a, b) in got.items():
        assert after[k][0] == BF16, k
        assert list(zero(b).sum(1)) == [count(0.6, a.shape[1])] * a.shape[0], k
    prune(hf, "-o", tmp_path / "out", "--method", "magnitude", "--sparsity", "0.6", "--format",
          "safetensors")
    raw = (tmp_path / "out" / "model.safetensors").read_bytes()
    header = json.loads(raw[8:8 + int.from_bytes(raw[:8], "little")])
    assert {v["dtype"] for k, v in header.items() if k != "__metadata__"} == {"BF16"}
    assert header["__metadata__"] == {"format": "pt"}
    a, b = ref.load_safetensors_dir(hf), ref.load_safetensors_dir(tmp_path / "out")
    for k in a:
        if k.endswith("_proj.weight"):
            assert torch.all((b[k] == a[k]) | (b[k] == 0)), k
            assert int((b[k] == 0).sum(1).min()) >= count(0.6, a[k].shape[1]), k
        else:
            assert torch.equal(a[k].view(torch.int32), b[k].view(torch.int32)), k


def test_a_weight_file_is_read_with_its_directory(models, tmp_path):
    d, m = models
    src, f32 = m["stories260k"]
    prune(src / "model.safetensors", "-o", tmp_path / "a.gguf", "--method", "magnitude")
    prune(src, "-o", tmp_path / "b.gguf", "--method", "magnitude")
    a, b = bits(tmp_path / "a.gguf"), bits(tmp_path / "b.gguf")
    assert all(np.array_equal(a[k][2], b[k][2]) for k in a)


# ------------------------------------------------------------------------------- N:M


@pytest.mark.parametrize("name,nm", [("stories260k", "2:4"), ("student256", "2:4"),
                                     ("student256", "4:8"), ("student256", "1:4")])
def test_nm_holds_in_every_group_of_every_pruned_tensor(models, name, nm, tmp_path):
    d, m = models
    src, f32 = m[name]
    n, mm = map(int, nm.split(":"))
    out = tmp_path / "nm.gguf"
    args = ["--method", "nm"] + (["--nm", nm] if nm != "2:4" else [])
    doc = prune_json(src, "-o", out, *args)  # from the checkpoint; 2:4 is nm's default
    assert doc["nm"] == nm and doc["sparsity_target"] is None
    run([CONVERT, src, "-o", tmp_path / "auto.gguf", "--outtype", "auto", "-q"], check=0)
    before, after = bits(tmp_path / "auto.gguf"), bits(out)
    names = {k for k in before if is_pruned_name(k) and len(before[k][1]) == 2}
    got = check_kept_bit_identical(before, after, names)
    assert len(got) == 7 * len({k.split(".")[1] for k in names})
    for k, (a, b) in got.items():
        rows, cols = a.shape
        ga, gb = a.reshape(rows, cols // mm, mm), b.reshape(rows, cols // mm, mm)
        z = zero(gb).sum(-1)
        assert np.all(z == np.maximum(mm - n, zero(ga).sum(-1))), k  # every group
        mag = magnitude(ga, before[k][0])
        gone = np.where(zero(gb), mag, -np.inf).max(-1)
        kept = np.where(zero(gb), np.inf, mag).min(-1)
        assert np.all(gone <= kept), k
    meta = gguf_read.read(out)[0]
    assert meta["weightkit.prune.nm"] == nm


def test_rows_that_m_does_not_divide_are_refused(models, tmp_path):
    d, m = models
    src, f32 = m["stories260k"]
    p = prune(f32, "-o", tmp_path / "x.gguf", "--method", "nm", "--nm", "4:8", check=1)
    assert "blk.0.ffn_down.weight" in p.stderr and "rows of 172" in p.stderr
    assert "multiple of M = 8" in p.stderr
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------- types, categories


@pytest.mark.parametrize("kind,typ", [("f16", F16), ("bf16", BF16)])
def test_f16_and_bf16_stay_what_they_are(models, kind, typ, tmp_path):
    d, m = models
    src = d / f"student256-{kind}.gguf"
    out = tmp_path / "h.gguf"
    prune(src, "-o", out, "--method", "magnitude", "--sparsity", "0.5")
    before, after = bits(src), bits(out)
    names = {k for k in before if is_pruned_name(k) and len(before[k][1]) == 2}
    got = check_kept_bit_identical(before, after, names)
    for k, (a, b) in got.items():
        assert after[k][0] == typ, k
        assert list(zero(b).sum(1)) == [count(0.5, a.shape[1])] * a.shape[0], k
        mag = magnitude(a, typ)
        for r in range(0, a.shape[0], 17):
            assert mag[r][zero(b[r])].max() <= mag[r][~zero(b[r])].min(), (k, r)


def test_only_prunes_the_categories_named(models, tmp_path):
    d, m = models
    src, f32 = m["student256"]
    before = bits(f32)
    for only in (["embedding"], ["norm"], ["output"], ["attention"], ["feedforward", "norm"]):
        out = tmp_path / f"{'-'.join(only)}.gguf"
        args = [a for c in only for a in ("--only", c)]
        doc = prune_json(f32, "-o", out, "--method", "magnitude", *args)
        names = {k for k in before if is_pruned_name(k, only)}
        assert {t["name"] for t in doc["tensors"] if t["pruned"]} == names, only
        assert sorted(doc["categories"]) == sorted(only)
        got = check_kept_bit_identical(before, bits(out), names)
        for k, (a, b) in got.items():
            rows = a.reshape(-1, a.shape[-1])
            assert zero(b).sum() == rows.shape[0] * count(0.5, rows.shape[1]), k
        for c in only:
            cat = doc["by_category"][c]
            assert cat["zeros"] == sum(int(zero(b).sum()) for k, (a, b) in got.items()
                                       if is_pruned_name(k, [c]))


def test_text_report(models, tmp_path):
    d, m = models
    src, f32 = m["stories260k"]
    p = run([PRUNE, f32, "-o", tmp_path / "t.gguf", "--method", "magnitude", "--scope", "tensor",
             "--sparsity", "0.25"], check=0)
    assert "magnitude, 25.00 % per tensor" in p.stdout
    assert "blk.4.ffn_down.weight" in p.stdout and "25.00 %" in p.stdout
    assert "token_embd" not in p.stdout.split("Category")[0]  # kept tensors are not listed
    for line in ("attention", "feedforward", "norm", "embedding", "pruned tensors",
                 "whole model"):
        assert line in p.stdout.split("Category")[1]
    assert "Time" in p.stdout and "GGUF" in p.stdout


# ------------------------------------------------------------- llama.cpp and PyTorch


def test_llama_cpp_runs_the_pruned_gguf_as_pytorch_runs_the_pruned_directory(models, tmp_path):
    """The GGUF and the directory pruned from the same checkpoint hold the same weights:
    llama.cpp on the one agrees with PyTorch (float64) on the other, token by token."""
    d, m = models
    src, _ = m["stories260k"]
    prune(src, "-o", tmp_path / "p.gguf", "--method", "magnitude", "--sparsity", "0.3")
    prune(src, "-o", tmp_path / "hf", "--method", "magnitude", "--sparsity", "0.3", "--format",
          "safetensors")
    cfg = json.loads((tmp_path / "hf" / "config.json").read_text())
    w = ref.load_safetensors_dir(tmp_path / "hf")
    check_against_reference(tmp_path / "p.gguf", tmp_path / "hf", cfg, w, tmp_path, steps=12)


@pytest.mark.parametrize("name", ["stories260k", "student256"])
def test_a_pruned_directory_reloads_in_our_reader_and_in_pytorch(models, name, tmp_path):
    d, m = models
    src, _ = m[name]
    out = tmp_path / "hf"
    doc = prune_json(src, "-o", out, "--method", "nm", "--format", "safetensors")
    assert doc["format"] == "safetensors"
    for f in ("config.json", "tokenizer.model", "tokenizer_config.json", "tokenizer.json",
              "special_tokens_map.json", "generation_config.json"):
        assert (out / f).read_bytes() == (src / f).read_bytes(), f
    a, b = ref.load_safetensors_dir(src), ref.load_safetensors_dir(out)
    assert a.keys() == b.keys()
    for k in a:
        ia, ib = a[k].view(torch.int32), b[k].view(torch.int32)
        pruned = k.endswith("_proj.weight")
        if not pruned:
            assert torch.equal(ia, ib), k
            continue
        changed = ia != ib
        assert torch.all(b[k][changed] == 0), k
        groups = b[k].reshape(b[k].shape[0], -1, 4)
        assert torch.all((groups == 0).sum(-1) >= 2), k  # 2:4 in every group, HF layout
    # our reader: the sparsity wk-inspect measures is the pruned layout's
    info = json.loads(run([INSPECT, "--stats", "--json", out], check=0).stdout)
    for t in info["tensors"]:
        frac = t["stats"]["zero_fraction"]
        assert frac == float((b[t["name"]] == 0).double().mean()), t["name"]
        assert frac >= 0.5 or not t["name"].endswith("_proj.weight"), t["name"]
    # and a model that PyTorch runs: the pruned weights give finite, different logits
    cfg = json.loads((out / "config.json").read_text())
    toks = [1, 20, 30, 40, 50]
    la, lb = ref.LlamaRef(cfg, a).logits(toks), ref.LlamaRef(cfg, b).logits(toks)
    assert torch.isfinite(lb).all() and not torch.allclose(la, lb)


def test_a_directory_output_is_never_written_over(models, tmp_path):
    d, m = models
    src, f32 = m["stories260k"]
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("mine")
    p = prune(src, "-o", tmp_path / "full", "--method", "magnitude", "--format", "safetensors",
              check=1)
    assert "exists and is not empty" in p.stderr
    assert (tmp_path / "full" / "x").read_text() == "mine"
    (tmp_path / "empty").mkdir()  # an empty directory is filled
    prune(src, "-o", tmp_path / "empty", "--method", "magnitude", "--format", "safetensors")
    assert (tmp_path / "empty" / "model.safetensors").exists()
    p = prune(f32, "-o", tmp_path / "g", "--method", "magnitude", "--format", "safetensors",
              check=1)
    assert "is a GGUF" in p.stderr and "checkpoint directory" in p.stderr
    assert not (tmp_path / "g").exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["empty", "full"]


# -------------------------------------------------------------------------- --verify


def test_verify_appends_wk_verify_figures(models, tmp_path):
    d, m = models
    src, f32 = m["stories260k"]
    text = tmp_path / "eval.txt"
    text.write_text(((ROOT / "bench" / "texts" / "story-a.txt").read_text() +
                     (ROOT / "bench" / "texts" / "story-b.txt").read_text()) * 2)
    out = tmp_path / "v.gguf"
    doc = prune_json(f32, "-o", out, "--method", "magnitude", "--sparsity", "0.2", "--verify",
                     text)
    own = json.loads(run([VERIFY, f32, out, "--text", text, "--json", "-q"], check=0).stdout)
    got, want = doc["verify"]["candidates"][0], own["candidates"][0]
    for key in ("ppl", "kld", "top1"):
        assert got[key] == want[key], key
    assert doc["verify"]["reference"] == own["reference"]
    p = run([PRUNE, f32, "-o", out, "--method", "magnitude", "--sparsity", "0.2", "--verify",
             text, "-q"], check=0)
    assert "Against the input (wk-verify" in p.stdout and "KLD" in p.stdout
    assert "v.gguf" in p.stdout.split("Against the input")[1]
    p = prune(f32, "-o", tmp_path / "n.gguf", "--method", "magnitude", "--verify",
              tmp_path / "missing.txt", check=1)
    assert "missing.txt" in p.stderr and not (tmp_path / "n.gguf").exists()


# ------------------------------------------------------------------------ bad input


def test_bad_input(models, tmp_path):
    d, m = models
    src, f32 = m["stories260k"]
    o = tmp_path / "o.gguf"
    usage = [
        (["--method", "magnitude", "--sparsity", "1"], "[0, 1)"),
        (["--method", "magnitude", "--sparsity", "-0.1"], "[0, 1)"),
        (["--method", "magnitude", "--sparsity", "half"], "[0, 1)"),
        (["--method", "nm", "--nm", "4:4"], "1 <= N < M"),
        (["--method", "nm", "--nm", "0:4"], "1 <= N < M"),
        (["--method", "nm", "--nm", "5:4"], "1 <= N < M"),
        (["--method", "nm", "--nm", "2-4"], "N:M such as 2:4"),
        (["--method", "nm", "--sparsity", "0.5"], "does not apply to N:M"),
        (["--method", "nm", "--scope", "tensor"], "scope tensor does not apply"),
        (["--method", "magnitude", "--scope", "layer"], "unknown --scope"),
        (["--method", "prune"], "unknown --method"),
        (["--sparsity", "0.5"], "--method is required"),
        (["--method", "magnitude", "--only", "weights"], "unknown --only"),
        (["--method", "magnitude", "--only", "other"], "unknown --only"),
        (["--method", "magnitude", "--format", "onnx"], "unknown --format"),
        (["--method", "magnitude", "--calib", "t.txt"], "for --method wanda"),
        (["--method", "wanda"], "needs --calib"),
        (["--method", "wanda", "--calib", "t.txt", "--scope", "global"], "scope global"),
        (["--method", "wanda", "--calib", "t.txt", "--only", "embedding"],
         "attention and feed-forward matrices only"),
    ]
    for args, msg in usage:
        p = run([PRUNE, f32, "-o", o, *args], check=2)
        assert msg in p.stderr, (args, p.stderr)
    assert "give IN and -o OUT" in run([PRUNE, f32, "--method", "magnitude"], check=2).stderr
    p = run([PRUNE, f32, "-o", f32, "--method", "magnitude"], check=2)
    assert "would replace the input" in p.stderr
    run([QUANTIZE, f32, tmp_path / "q.gguf", "Q8_0", "-q"], check=0)
    p = run([PRUNE, tmp_path / "q.gguf", "-o", o, "--method", "magnitude"], check=1)
    assert "prune before quantizing" in p.stderr and "Q8_0" in p.stderr
    p = run([PRUNE, tmp_path / "none.gguf", "-o", o, "--method", "magnitude"], check=1)
    assert "none.gguf" in p.stderr
    p = run([PRUNE, f32, "-o", tmp_path, "--method", "magnitude"], check=1)
    assert "is a directory" in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["q.gguf"]


def test_help_lists_every_option_within_80_columns():
    text = run([PRUNE, "--help"], check=0).stdout
    assert text.startswith("Usage: wk-prune IN -o OUT --method"), text
    assert max(len(line) for line in text.splitlines()) <= 80, text
    for opt in ("-o, --output OUT", "--method METHOD", "--sparsity S", "--nm N:M",
                "--scope SCOPE", "--only CATEGORY", "--calib FILE", "--calib-tokens T",
                "--format FORMAT", "--verify TEXT", "--json", "-t, --threads N", "-q, --quiet",
                "-h, --help", "-V, --version"):
        assert f"  {opt}  " in text, (opt, text)
    assert "wk-prune (weightkit)" in run([PRUNE, "--version"], check=0).stdout
