"""wk-inspect end to end: statistics against PyTorch's own (float64) on the same tensors,
histograms, filters, GGUF input, exit codes, and stories260k's parameter count from its
config.json."""
import fnmatch
import json
import math

import pytest
import torch

import make_inspect_fixtures as fx
import st_write
from conftest import run, tool

INSPECT = tool("wk-inspect")


@pytest.fixture(scope="module")
def llama(tmp_path_factory):
    d = tmp_path_factory.mktemp("inspect_llama")
    return d, fx.llama_dir(d)


def inspect_json(*args):
    return json.loads(run([INSPECT, "--json", *args], check=0).stdout)


def torch_stats(t):
    """What wk-inspect reports, computed by PyTorch in float64 over the finite values."""
    x = t.double().flatten()
    f = x[torch.isfinite(x)]
    mean = f.mean()
    std = f.std(unbiased=False)
    kurt = ((f - mean) ** 4).mean() / (f.var(unbiased=False) ** 2) - 3
    return {
        "elements": x.numel(), "finite": f.numel(), "min": f.min().item(),
        "max": f.max().item(), "mean": mean.item(), "std": std.item(),
        "l1": f.abs().sum().item(), "l2": f.norm().item(),
        "zero_fraction": (x == 0).sum().item() / x.numel(),
        "max_abs_over_std": (f.abs().max() / std).item(), "kurtosis": kurt.item(),
        "nan": torch.isnan(x).sum().item(), "inf": torch.isinf(x).sum().item(),
    }


def assert_stats(name, got, want):
    for k, v in want.items():
        if isinstance(v, int):
            assert got[k] == v, f"{name}: {k} {got[k]} != {v}"
        else:
            assert math.isclose(got[k], v, rel_tol=1e-9, abs_tol=1e-12), \
                f"{name}: {k} {got[k]!r} != {v!r}"


def test_stats_match_torch(llama):
    d, tensors = llama
    doc = inspect_json("--stats", d / "model.safetensors")
    rows = {r["name"]: r for r in doc["tensors"]}
    assert set(rows) == set(tensors)
    dtypes = set()
    for name, t in tensors.items():
        r = rows[name]
        dtypes.add(r["dtype"])
        assert r["shape"] == list(t.shape)
        assert r["parameters"] == t.numel()
        assert r["bytes"] == t.numel() * t.element_size()
        assert_stats(name, r["stats"], torch_stats(t))
    assert dtypes == {"F32", "F16", "BF16"}
    special = rows["model.layers.0.mlp.up_proj.weight"]["stats"]
    assert (special["nan"], special["inf"]) == (5, 2)
    assert rows["model.layers.1.mlp.gate_proj.weight"]["stats"]["zero_fraction"] > 0.33


def test_stats_same_with_one_or_two_threads(llama):
    d, _ = llama
    one = inspect_json("--stats", "--threads", "1", d)
    two = inspect_json("--stats", "--threads", "2", d)
    assert one["tensors"] == two["tensors"]


def test_summary_and_categories(llama):
    d, tensors = llama
    doc = inspect_json(d)
    total = sum(t.numel() for t in tensors.values())
    assert doc["source"]["format"] == "safetensors"
    assert doc["model"]["architecture"] == "LlamaForCausalLM"
    assert doc["model"]["model_type"] == "llama"
    assert doc["totals"]["parameters"] == total
    assert doc["totals"]["tensors"] == len(tensors)
    cats = doc["categories"]
    assert sum(c["parameters"] for c in cats.values()) == total
    assert cats["output"]["parameters"] == tensors["lm_head.weight"].numel()
    assert cats["embedding"]["parameters"] == tensors["model.embed_tokens.weight"].numel()
    assert cats["norm"]["tensors"] == 5
    assert all("stats" not in r for r in doc["tensors"])
    text = run([INSPECT, d], check=0).stdout
    assert f"Parameters    {total} (" in text
    assert "Architecture  LlamaForCausalLM (model_type llama)" in text


def test_sharded_directory(tmp_path, llama):
    _, tensors = llama
    fx.llama_dir(tmp_path, shards=2)
    doc = inspect_json("--stats", tmp_path)
    assert len(doc["source"]["files"]) == 2
    assert doc["model"]["architecture"] == "LlamaForCausalLM"
    assert doc["totals"]["parameters"] == sum(t.numel() for t in tensors.values())
    rows = {r["name"]: r for r in doc["tensors"]}
    assert set(rows) == set(tensors)
    for name in ("model.embed_tokens.weight", "lm_head.weight"):
        assert_stats(name, rows[name]["stats"], torch_stats(tensors[name]))


def test_filter_limits_table_not_totals(llama):
    d, tensors = llama
    glob = "model.layers.1.*"
    doc = inspect_json("--stats", "--filter", glob, d)
    want = [n for n in tensors if fnmatch.fnmatchcase(n, glob)]
    assert sorted(r["name"] for r in doc["tensors"]) == sorted(want)
    assert doc["filter"]["glob"] == glob
    assert doc["filter"]["tensors"] == len(want)
    assert doc["filter"]["parameters"] == sum(tensors[n].numel() for n in want)
    assert doc["totals"]["parameters"] == sum(t.numel() for t in tensors.values())
    assert all(r["stats"] is not None for r in doc["tensors"])
    assert inspect_json("--filter", "nothing*", d)["tensors"] == []


def test_histogram_matches_torch(llama):
    d, tensors = llama
    name = "model.layers.0.mlp.up_proj.weight"
    h = inspect_json("--hist", name, d)["histogram"]
    assert h["tensor"] == name and len(h["bins"]) == 40
    x = tensors[name].double().flatten()
    x = x[torch.isfinite(x)]
    lo, hi = h["lo"], h["hi"]
    assert (lo, hi) == (x.min().item(), x.max().item())
    idx = torch.floor((x - lo) * 40 / (hi - lo)).clamp(0, 39).long()
    want = torch.bincount(idx, minlength=40).tolist()
    assert [b["count"] for b in h["bins"]] == want
    assert h["bins"][0]["lo"] == lo and h["bins"][-1]["hi"] == hi
    assert h["stats"]["nan"] == 5 and h["stats"]["inf"] == 2

    text = run([INSPECT, "--hist", name, "--bins", "7", d], check=0).stdout
    lines = text.splitlines()
    bars = lines[lines.index(next(l for l in lines if l.split() == ["from", "to", "count"])) + 1:]
    assert len(bars) == 7
    counts = [int(line.split()[2]) for line in bars]
    assert sum(counts) == x.numel()
    top = max(counts)
    assert all(line.count("#") == int(c * 50 / top + 0.5) or (c and line.count("#") == 1)
               for line, c in zip(bars, counts))


def test_gguf_input(tmp_path):
    path = tmp_path / "tiny.gguf"
    tensors = fx.gguf_file(path)
    doc = inspect_json("--stats", path)
    assert doc["source"]["format"] == "gguf"
    assert doc["model"]["architecture"] == "llama"
    assert doc["model"]["name"] == "tiny test model"
    rows = {r["name"]: r for r in doc["tensors"]}
    assert [r["category"] for r in doc["tensors"]] == ["embedding", "attention", "feedforward",
                                                        "feedforward", "norm"]
    assert rows["blk.0.ffn_up.weight"]["shape"] == [48, 32]
    assert rows["blk.0.ffn_up.weight"]["dtype"] == "Q4_0"
    assert rows["blk.0.ffn_up.weight"]["bytes"] == 48 * 18
    assert rows["blk.0.ffn_down.weight"]["stats"] is None
    assert rows["blk.0.ffn_down.weight"]["stats_note"] == "stats not available for type IQ2_XXS"
    assert rows["blk.0.attn_q.weight"]["layer"] == 0
    for name, t in tensors.items():
        if t is not None:
            assert_stats(name, rows[name]["stats"], torch_stats(t))
    text = run([INSPECT, "--stats", path], check=0).stdout
    assert "(stats not available for type IQ2_XXS)" in text
    assert "Name          tiny test model" in text


def test_stories260k_parameter_count(stories260k):
    cfg = json.loads((stories260k / "config.json").read_text())
    dim, vocab, ff = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"]
    heads, kv_heads = cfg["num_attention_heads"], cfg.get("num_key_value_heads",
                                                         cfg["num_attention_heads"])
    hd = cfg.get("head_dim") or dim // heads
    per_layer = (dim * heads * hd + 2 * dim * kv_heads * hd + heads * hd * dim
                 + 3 * dim * ff + 2 * dim)
    want = vocab * dim + cfg["num_hidden_layers"] * per_layer + dim
    if not cfg.get("tie_word_embeddings", False):
        want += vocab * dim
    doc = inspect_json(stories260k)
    assert doc["totals"]["parameters"] == want
    assert sum(c["parameters"] for c in doc["categories"].values()) == want
    assert sum(c["tensors"] for c in doc["categories"].values()) == doc["totals"]["tensors"]
    assert doc["categories"]["other"]["tensors"] == 0
    text = run([INSPECT, stories260k], check=0).stdout
    assert f"Parameters    {want} (" in text


@pytest.mark.parametrize("args", [
    [], ["--bogus", "x"], ["a", "b"], ["--threads", "0", "x"], ["--threads", "many", "x"],
    ["--hist", "w", "--stats", "x"], ["--bins", "5", "x"], ["--hist", "w", "--bins", "0", "x"],
    ["--filter"],
])
def test_usage_errors_exit_2(args):
    p = run([INSPECT, *args], check=2)
    assert "wk-inspect" in p.stderr and "--help" in p.stderr


def test_help_and_version():
    assert "Usage: wk-inspect" in run([INSPECT, "--help"], check=0).stdout
    assert run([INSPECT, "--version"], check=0).stdout.startswith("wk-inspect (weightkit) ")


def test_bad_input_exit_1(tmp_path, llama):
    d, _ = llama
    missing = tmp_path / "missing.safetensors"
    assert str(missing) in run([INSPECT, missing], check=1).stderr
    bad = tmp_path / "bad.safetensors"
    header = {"w": {"dtype": "F32", "shape": [4, 4], "data_offsets": [0, 64]}}
    bad.write_bytes(st_write.raw_header(header, b"\0" * 10))
    p = run([INSPECT, bad], check=1)
    assert "bad.safetensors" in p.stderr and "error" in p.stderr
    p = run([INSPECT, "--hist", "no.such.tensor", d], check=1)
    assert "no.such.tensor" in p.stderr
    trunc = tmp_path / "trunc.gguf"
    fx.gguf_file(trunc)
    trunc.write_bytes(trunc.read_bytes()[:100])
    assert "trunc.gguf" in run([INSPECT, trunc], check=1).stderr


def test_quantized_histogram_is_bad_input(tmp_path):
    path = tmp_path / "q.gguf"
    fx.gguf_file(path)
    p = run([INSPECT, "--hist", "blk.0.ffn_down.weight", path], check=1)
    assert "histogram not available for type IQ2_XXS" in p.stderr


def test_nan_in_json_is_null(tmp_path):
    path = tmp_path / "nan.safetensors"
    st_write.save(path, {"x": torch.tensor([float("nan")] * 3 + [float("inf")])})
    s = inspect_json("--stats", path)["tensors"][0]["stats"]
    assert s["mean"] is None and s["min"] is None and s["kurtosis"] is None
    assert (s["nan"], s["inf"], s["finite"]) == (3, 1, 0)
