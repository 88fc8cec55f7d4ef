"""wk-inspect on files a user has at hand (issue 7): the checksums wk-convert writes are
checked by --stats and --hist, a GGUF's metadata is shown (text and JSON, --meta for every
key), a broken config.json is a warning, and tensor names work in either naming (Hugging
Face or GGUF) for --filter and --hist. Oracles: the tests' own GGUF reader
(tests/fixtures/gguf_read.py) and the fixture's config and tokenizer files."""
import json
import re

import pytest

import gguf_read
import make_inspect_fixtures as ifx
import make_llama_fixtures as fx
from conftest import run, tool

INSPECT = tool("wk-inspect")
CONVERT = tool("wk-convert")
TEMPLATE = "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    """A small Llama model directory (with a chat template) and its wk-convert GGUF (F16)."""
    d = tmp_path_factory.mktemp("inspect_model")
    cfg, _ = fx.make(d / "hf")
    (d / "hf" / "chat_template.jinja").write_text(TEMPLATE)
    run([CONVERT, d / "hf", "-o", d / "m.gguf", "--quiet", "--outtype", "f16"], check=0)
    return d / "hf", d / "m.gguf", cfg


def inspect_json(*args):
    return json.loads(run([INSPECT, "--json", *args], check=0).stdout)


def corrupt(src, dst, tensor, at=3):
    """dst: src with one bit flipped in byte `at` of tensor's data."""
    _, infos = gguf_read.layout(src)
    start = next(off for name, _, _, off in infos if name == tensor)
    data = bytearray(src.read_bytes())
    data[start + at] ^= 0x04
    dst.write_bytes(bytes(data))


# ---------------------------------------------------------------------------- checksums

def test_intact_file_verifies_its_checksums(model):
    _, gguf, _ = model
    n = len(gguf_read.layout(gguf)[1])
    doc = inspect_json("--stats", gguf)
    assert doc["checksums"] == {"stored": True, "verified": n, "status": "verified"}
    assert f"Checksums     verified (xxh64, {n} of {n} tensors)" in \
        run([INSPECT, "--stats", gguf], check=0).stdout
    h = run([INSPECT, "--hist", "output_norm.weight", gguf], check=0).stdout
    assert "Checksum   verified (xxh64)" in h
    assert inspect_json("--hist", "output_norm.weight", gguf)["checksums"]["verified"] == 1
    # headers only: nothing read, nothing claimed
    assert inspect_json(gguf)["checksums"] == {"stored": True, "verified": 0,
                                              "status": "not read"}
    assert "Checksums     stored, not verified" in run([INSPECT, gguf], check=0).stdout


@pytest.mark.parametrize("tensor", ["output_norm.weight", "blk.1.ffn_down.weight"])
def test_flipped_byte_fails_stats_and_hist(model, tmp_path, tensor):
    _, gguf, _ = model
    bad = tmp_path / "bad.gguf"
    corrupt(gguf, bad, tensor)
    want = gguf_read.layout(gguf)[0]["weightkit.tensor_xxh64"]
    index = [name for name, *_ in gguf_read.layout(gguf)[1]].index(tensor)
    for args in (["--stats"], ["--stats", "--json"], ["--hist", tensor]):
        p = run([INSPECT, *args, bad], check=1)
        assert p.stdout == "", "no partial report"
        assert f"checksum mismatch in tensor '{tensor}'" in p.stderr, p.stderr
        assert str(bad) in p.stderr and "corrupted" in p.stderr, p.stderr
        assert f"{want[index]:016x}" in p.stderr, "the stored hash is shown"
    # the other tensors are intact: a histogram of one of them still works
    run([INSPECT, "--hist", "token_embd.weight", bad], check=0)
    # and a header-only look does not read the data
    run([INSPECT, bad], check=0)


def test_checksums_copied_into_a_rewritten_file_are_stale(model, tmp_path):
    """llama-quantize keeps every key of its input, our checksums too, while it rewrites the
    tensors: the tensor-info hash beside them tells wk-inspect they are stale, not that the
    file is corrupted. Made here by renaming a tensor (output_norm -> output_morm) and
    changing its data, as a rewrite would."""
    _, gguf, _ = model
    moved = tmp_path / "rewritten.gguf"
    corrupt(gguf, moved, "output_norm.weight")
    data = moved.read_bytes()
    assert data.count(b"output_norm.weight") == 1
    moved.write_bytes(data.replace(b"output_norm.weight", b"output_morm.weight"))
    doc = inspect_json("--stats", moved)
    assert doc["checksums"] == {"stored": False, "verified": 0, "status": "stale"}
    out = run([INSPECT, "--stats", moved], check=0).stdout
    assert "Checksums     not verified (stale: another tool rewrote the tensors" in out


def test_file_without_checksums_says_so(tmp_path):
    path = tmp_path / "plain.gguf"
    ifx.gguf_file(path)  # hand-written, as llama.cpp's tools would: no weightkit keys
    doc = inspect_json("--stats", path)
    assert doc["checksums"] == {"stored": False, "verified": 0, "status": "none stored"}
    assert "Checksums     not verified (none stored)" in \
        run([INSPECT, "--stats", path], check=0).stdout
    (tmp_path / "st").mkdir()
    ifx.llama_dir(tmp_path / "st")
    assert inspect_json(tmp_path / "st")["checksums"] is None, "no such thing in safetensors"
    assert "Checksum" not in run([INSPECT, "--stats", tmp_path / "st"], check=0).stdout


# ---------------------------------------------------------------------------- metadata

def test_gguf_metadata_json(model):
    hf, gguf, cfg = model
    meta, infos = gguf_read.layout(gguf)
    m = inspect_json(gguf)["metadata"]
    assert (m["format"], m["gguf_version"], m["alignment"]) == ("gguf", 3, 32)
    assert m["key_count"] == len(meta) and m["all_keys"] is False
    assert m["file_type"] == {"id": 1, "name": "F16"}
    keys = m["keys"]
    want = {k for k in meta if k.startswith(("general.", "llama.", "weightkit."))}
    assert set(keys) == want - {"weightkit.tensor_xxh64", "weightkit.tensor_infos_xxh64"}
    assert keys["general.architecture"] == "llama"
    assert keys["llama.block_count"] == cfg["num_hidden_layers"]
    assert keys["llama.attention.head_count_kv"] == cfg["num_key_value_heads"]
    assert keys["llama.attention.layer_norm_rms_epsilon"] == cfg["rms_norm_eps"]
    assert keys["weightkit.tool"] == "wk-convert"
    assert keys["weightkit.sources"] == meta["weightkit.sources"]
    t = m["tokenizer"]
    assert t["model"] == meta["tokenizer.ggml.model"] and t["pre"] == meta["tokenizer.ggml.pre"]
    assert t["tokens"] == len(meta["tokenizer.ggml.tokens"]) == cfg["vocab_size"]
    assert t["special_token_ids"]["bos"] == meta["tokenizer.ggml.bos_token_id"]
    assert t["special_token_ids"]["eos"] == meta["tokenizer.ggml.eos_token_id"]
    assert t["add_bos_token"] is meta["tokenizer.ggml.add_bos_token"]
    assert t["add_eos_token"] is meta["tokenizer.ggml.add_eos_token"]
    assert t["chat_template_bytes"] == len(TEMPLATE.encode())


def test_meta_lists_every_key(model):
    _, gguf, _ = model
    meta, _ = gguf_read.layout(gguf)
    m = inspect_json("--meta", gguf)["metadata"]
    assert m["all_keys"] is True and list(m["keys"]) == list(meta)
    keys = m["keys"]
    tokens = meta["tokenizer.ggml.tokens"]
    assert keys["tokenizer.ggml.tokens"] == {"type": "str", "count": len(tokens),
                                             "first": tokens[:5]}
    assert keys["tokenizer.chat_template"] == TEMPLATE
    sums = meta["weightkit.tensor_xxh64"]
    assert keys["weightkit.tensor_xxh64"]["first"] == sums[:5]  # exact u64, not doubles
    text = run([INSPECT, "--meta", gguf], check=0).stdout
    assert f"Metadata      GGUF v3, alignment 32, all {len(meta)} keys" in text
    for k in meta:
        assert re.search(rf"^  {re.escape(k)} ", text, re.M), k
    # the template's newlines are escaped, not printed
    assert "<|{{ m['role'] }}|>\\x0a{{ m['content'] }}" in text
    assert f"[str x {len(tokens)}: \"{tokens[0]}\", " in text


def test_gguf_metadata_text(model):
    _, gguf, cfg = model
    text = run([INSPECT, gguf], check=0).stdout
    assert re.search(r"^Metadata      GGUF v3, alignment 32, \d+ keys; general\.\*, llama\.\*, "
                     r"weightkit\.\* below \(--meta: all\)$", text, re.M), text
    assert re.search(r"^  general\.file_type +1 \(F16\)$", text, re.M), text
    assert re.search(rf"^  llama\.block_count +{cfg['num_hidden_layers']}$", text, re.M)
    assert re.search(r"^  llama\.attention\.layer_norm_rms_epsilon +1e-05$", text, re.M)
    assert "tokenizer.ggml.tokens" not in text, "summarised, not listed"
    assert re.search(rf"^Tokenizer     model llama, pre \S+, {cfg['vocab_size']} tokens$",
                     text, re.M), text
    assert re.search(r"^ +special ids: bos 1, eos 2", text, re.M), text
    assert f"chat template: {len(TEMPLATE.encode())} bytes" in text


def test_safetensors_metadata(model):
    hf, _, _ = model
    m = inspect_json(hf)["metadata"]
    assert m == {"format": "safetensors", "key_count": 1, "all_keys": True,
                 "keys": {"format": "pt"}}
    assert re.search(r"^Metadata      safetensors __metadata__, 1 key\n  format +pt$",
                     run([INSPECT, hf], check=0).stdout, re.M)


# ---------------------------------------------------------------------------- config.json

def test_invalid_config_json_is_a_warning(model, tmp_path):
    hf, _, _ = model
    d = tmp_path / "broken"
    d.mkdir()
    (d / "model.safetensors").write_bytes((hf / "model.safetensors").read_bytes())
    (d / "config.json").write_text('{"architectures": [')
    p = run([INSPECT, d], check=0)
    assert p.stderr == (f"wk-inspect: warning: {d}/config.json: invalid JSON near byte 19; "
                        "architecture unknown\n")
    assert "Architecture" not in p.stdout and "model.layers.0.mlp.up_proj.weight" in p.stdout
    doc = json.loads(run([INSPECT, "--json", d], check=0).stdout)
    assert doc["model"]["architecture"] is None
    assert doc["warnings"] == [f"{d}/config.json: invalid JSON near byte 19; "
                               "architecture unknown"]
    assert len(doc["tensors"]) == len(inspect_json(hf)["tensors"])
    assert inspect_json(hf)["warnings"] == []


# ---------------------------------------------------------------------------- naming

def names(doc):
    return [t["name"] for t in doc["tensors"]]


def test_hf_glob_on_gguf_and_gguf_glob_on_safetensors(model):
    hf, gguf, _ = model
    on_gguf = names(inspect_json("--filter", "model.layers.0.self_attn.*", gguf))
    assert sorted(on_gguf) == ["blk.0.attn_k.weight", "blk.0.attn_output.weight",
                               "blk.0.attn_q.weight", "blk.0.attn_v.weight"]
    on_st = names(inspect_json("--filter", "blk.1.ffn_*", hf))
    assert sorted(on_st) == ["model.layers.1.mlp.down_proj.weight",
                             "model.layers.1.mlp.gate_proj.weight",
                             "model.layers.1.mlp.up_proj.weight",
                             "model.layers.1.post_attention_layernorm.weight"]
    # the file's own naming still works, and the stats follow the filter
    doc = inspect_json("--stats", "--filter", "output*", gguf)
    assert sorted(names(doc)) == ["output.weight", "output_norm.weight"]
    assert all(t["stats"] for t in doc["tensors"])
    assert names(inspect_json("--filter", "lm_head.weight", gguf)) == ["output.weight"]


def test_hist_by_either_name(model):
    hf, gguf, _ = model
    h = inspect_json("--hist", "model.layers.0.self_attn.q_proj.weight", gguf)["histogram"]
    assert h["tensor"] == "blk.0.attn_q.weight"
    h = inspect_json("--hist", "blk.0.ffn_up.weight", hf)["histogram"]
    assert h["tensor"] == "model.layers.0.mlp.up_proj.weight"
    assert h == inspect_json("--hist", "model.layers.0.mlp.up_proj.weight", hf)["histogram"]


@pytest.mark.parametrize("which,example", [("gguf", "blk.0.attn_norm.weight"),
                                           ("hf", "model.layers.0.input_layernorm.weight")])
def test_no_match_says_so_with_the_files_naming(model, which, example):
    hf, gguf, _ = model
    path = gguf if which == "gguf" else hf
    hint = f"tensor names in this file look like '{example}'"
    p = run([INSPECT, "--filter", "model.layers.7.*", path], check=0)
    assert re.search(rf"^Filter 'model\.layers\.7\.\*': 0 of \d+ tensors.*\n"
                     rf"no tensor matches; {re.escape(hint)}", p.stdout, re.M), p.stdout
    doc = inspect_json("--filter", "model.layers.7.*", path)
    assert doc["tensors"] == [] and hint in doc["filter"]["note"]
    assert "note" not in inspect_json("--filter", "*norm*", path)["filter"]
    p = run([INSPECT, "--hist", "model.layers.7.mlp.up_proj.weight", path], check=1)
    assert "no tensor named 'model.layers.7.mlp.up_proj.weight'" in p.stderr
    assert hint in p.stderr, p.stderr
