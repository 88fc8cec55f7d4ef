"""What wk-convert writes besides the tensors: the default output name (llama.cpp's
converter's <dir>-<type>.gguf inside the model directory), the closing line, --vocab-only
(metadata and tokenizer, read by node-llama-cpp's own GGUF parser), and the warning about a
temp file an interrupted run left behind."""
import json
import os
import shutil

import pytest

import gguf_read
from conftest import GEN, run, tool
from test_gguf import node_info

CONVERT = tool("wk-convert")
INSPECT = tool("wk-inspect")


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    d = tmp_path_factory.mktemp("outputs") / "tiny-model"
    run([GEN / "gen-llama", "--seed", "9", "-o", d, "--preset", "tiny", "--layers", "2"],
        check=0)
    return d


def test_default_output_is_named_after_the_directory(hf, tmp_path):
    d = tmp_path / "My-Model"
    shutil.copytree(hf, d)
    p = run([CONVERT, d], check=0)
    out = d / "My-Model-f16.gguf"
    assert out.exists()
    assert p.stdout.startswith(f"wk-convert: wrote {out} (")
    meta, _ = gguf_read.read(out)
    assert meta["general.file_type"] == 1
    run([CONVERT, d, "--outtype", "auto", "-q"], check=0)  # gen-llama writes bf16
    assert (d / "My-Model-bf16.gguf").exists()
    run([CONVERT, d, "--outtype", "f32", "-q"], check=0)
    assert (d / "My-Model-f32.gguf").exists()


def test_closing_line_names_path_tensors_size_type_time(hf, tmp_path):
    out = tmp_path / "m.gguf"
    p = run([CONVERT, hf, "-o", out], check=0)
    line = p.stdout.strip()
    assert "\n" not in line
    n = len(gguf_read.read(out)[1])
    assert line.startswith(f"wk-convert: wrote {out} ({n} tensors, ") and "F16) in " in line
    assert line.endswith(" s")
    assert run([CONVERT, hf, "-o", out, "-q"], check=0).stdout == ""


def test_vocab_only_holds_metadata_and_tokenizer(hf, tmp_path):
    out = tmp_path / "vocab.gguf"
    p = run([CONVERT, hf, "-o", out, "--vocab-only"], check=0)
    assert "0 tensors" in p.stdout and "vocab only" in p.stdout
    meta, tensors = gguf_read.read(out)
    assert tensors == {}
    full, _ = gguf_read.read(run([CONVERT, hf, "-o", tmp_path / "full.gguf", "-q"], check=0)
                             and tmp_path / "full.gguf")
    for key in ("general.architecture", "llama.block_count", "tokenizer.ggml.model",
                "tokenizer.ggml.tokens", "tokenizer.ggml.scores"):
        assert meta[key] == full[key], key
    info = node_info(out)  # node-llama-cpp's parser reads it
    assert info["tensorCount"] == 0
    assert info["metadata"]["tokenizer.ggml.model"] == "llama"
    doc = json.loads(run([INSPECT, "--json", out], check=0).stdout)
    assert doc["totals"]["tensors"] == 0


def test_vocab_only_needs_no_weights(hf, tmp_path):
    d = tmp_path / "no-weights"
    shutil.copytree(hf, d, ignore=shutil.ignore_patterns("*.safetensors"))
    run([CONVERT, d, "-o", tmp_path / "v.gguf", "--vocab-only", "-q"], check=0)
    p = run([CONVERT, d, "-o", tmp_path / "w.gguf"], check=1)
    assert "no model weights" in p.stderr and not (tmp_path / "w.gguf").exists()


def test_a_leftover_temp_file_is_named_and_kept(hf, tmp_path):
    out = tmp_path / "k.gguf"
    left = tmp_path / "k.gguf.tmp.21UKnf"
    left.write_bytes(b"\0" * 1_500_000)
    p = run([CONVERT, hf, "-o", out, "-q"], check=0)
    assert f"left over from an interrupted run: {left} (1.5 MB); remove it" in p.stderr
    assert p.stderr.count("left over") == 1
    assert left.exists() and out.exists()
