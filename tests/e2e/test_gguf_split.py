"""GGUF split sets (llama.cpp's gguf-split layout) end to end.

A tiny model is converted once as one file and once with wk-convert --split-max-size as a
split set. Oracles: the same model as one
file (wk-inspect must report the same tensors from any file of the set, or from the name
the set was written for); node-llama-cpp's readGgufFileInfo, which splices split files
itself; and llama.cpp (through node-llama-cpp), which must load the set and compute
exactly what it computes from the single file."""
import json
import os

import pytest

from conftest import GEN, run, tool
from test_convert import node_run
from test_gguf import node_info

CHECK = GEN / "gguf-check"
INSPECT = tool("wk-inspect")


@pytest.fixture(scope="module")
def hf(tmp_path_factory):
    """A tiny random Llama in Hugging Face layout."""
    d = tmp_path_factory.mktemp("split") / "hf"
    run([GEN / "gen-llama", "--seed", "5", "-o", d, "--preset", "tiny"], check=0)
    return d


@pytest.fixture(scope="module")
def single(hf):
    """The model converted to one F32 GGUF (about 10 MB)."""
    out = hf.parent / "one.gguf"
    run([tool("wk-convert"), hf, "-o", out, "--outtype", "f32", "-q"], check=0)
    return out


def write_split(hf, out, max_bytes):
    """Converts hf into a split set of files of at most max_bytes; returns the file count
    from the closing line ("... and N more files")."""
    p = run([tool("wk-convert"), hf, "-o", out, "--outtype", "f32",
             "--split-max-size", str(max_bytes)], check=0)
    words = p.stdout.split()
    return int(words[words.index("more") - 1]) + 1 if "more" in words else 1


def names(out, n):
    stem = str(out)[:-len(".gguf")]
    return [f"{stem}-{k:05d}-of-{n:05d}.gguf" for k in range(1, n + 1)]


def inspect_json(path):
    return json.loads(run([INSPECT, "--json", path], check=0).stdout)


@pytest.fixture(scope="module")
def split_set(hf, tmp_path_factory):
    out = tmp_path_factory.mktemp("set") / "m.gguf"
    n = write_split(hf, out, 2_000_000)
    assert n >= 4
    files = names(out, n)
    assert sorted(os.listdir(out.parent)) == sorted(os.path.basename(f) for f in files)
    return out, files


def test_inspect_reads_the_set_from_any_file(single, split_set):
    out, files = split_set
    want = inspect_json(single)
    for path in (files[0], files[len(files) // 2], files[-1], out):
        got = inspect_json(path)
        assert got["source"]["files"] == files, path
        assert got["tensors"] == want["tensors"], path
        assert got["totals"] == want["totals"], path
        assert got["categories"] == want["categories"], path
        assert got["model"] == want["model"] and got["model"]["architecture"] == "llama"
    text = run([INSPECT, files[-1]], check=0).stdout
    assert f"(gguf, {len(files)} files)" in text.splitlines()[0], text


def test_every_file_has_its_own_checksums(split_set):
    _, files = split_set
    assert "checksums verified" in run([CHECK, files[0]], check=0).stdout


def test_a_corrupted_file_is_named(split_set, tmp_path):
    out, files = split_set
    copy = [tmp_path / os.path.basename(f) for f in files]
    for a, b in zip(files, copy):
        b.write_bytes(open(a, "rb").read())
    data = bytearray(copy[2].read_bytes())
    data[-40] ^= 0xFF  # inside the last tensor's data
    copy[2].write_bytes(bytes(data))
    p = run([CHECK, copy[0]], check=1)
    assert str(copy[2]) in p.stderr and "checksum mismatch" in p.stderr, p.stderr


def test_a_missing_file_is_named(split_set, tmp_path):
    out, files = split_set
    for f in files[:1] + files[2:]:
        (tmp_path / os.path.basename(f)).write_bytes(open(f, "rb").read())
    missing = tmp_path / os.path.basename(files[1])
    p = run([INSPECT, tmp_path / os.path.basename(files[0])], check=1)
    assert f"{missing}: file 2 of the {len(files)} of a split GGUF set is missing" in p.stderr, \
        p.stderr


def test_a_set_of_one_is_a_plain_file(hf, single, tmp_path):
    out = tmp_path / "m.gguf"
    assert write_split(hf, out, 10**12) == 1
    assert os.listdir(tmp_path) == ["m.gguf"]
    assert inspect_json(out)["tensors"] == inspect_json(single)["tensors"]


def test_node_reader_splices_the_set(single, split_set):
    _, files = split_set
    one, many = node_info(single), node_info(files[0])
    assert many["totalTensorCount"] == one["tensorCount"] == len(one["tensors"])
    strip = [{"name": t["name"], "dimensions": t["dimensions"]} for t in one["tensors"]]
    assert [{k: t[k] for k in ("name", "dimensions")} for t in many["allTensors"]] == strip
    parts = [t["filePart"] for t in many["allTensors"]]
    assert parts == sorted(parts) and set(parts) == set(range(1, len(files) + 1))
    assert many["metadata"]["split.count"] == len(files)
    assert many["metadata"]["split.tensors.count"] == one["tensorCount"]
    assert many["metadata"]["general.architecture"] == "llama"


def test_llama_cpp_runs_the_set_as_the_single_file(single, split_set, tmp_path):
    _, files = split_set
    request = {"tokenize": ["Once upon a time"], "prompt": [1, 300, 301, 302], "steps": 8,
               "top": 5}
    assert node_run(files[0], request, tmp_path) == node_run(single, request, tmp_path)
