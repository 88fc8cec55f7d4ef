"""Malformed safetensors files and sharded indexes (tests/fixtures/make_bad_safetensors.py)
must each be refused with exit code 1 and one message naming the file at fault and what
was wrong -- never a crash. Every case goes through st-check (tests/gen/st-check.c), which
opens the path with wk_source_open exactly as the tools do, and through wk-inspect once
that tool is built. The valid counterparts must open, so a reader that refused everything
would fail here too."""
import re
import tempfile

import pytest

import make_bad_safetensors as mbs
from conftest import BIN, GEN, run

ST_CHECK = GEN / "st-check"
WK_INSPECT = BIN / "wk-inspect"
LINE = re.compile(r"^tensor (\S+) (\S+) (\[[^\]]*\]) (\d+) ([0-9a-f]{16}) (\d+)$")


def _case_names():
    with tempfile.TemporaryDirectory() as d:
        return [c.name for c in mbs.build(d)]


CASE_NAMES = _case_names()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return {c.name: c for c in mbs.build(str(tmp_path_factory.mktemp("bad_st")))}


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    return mbs.build_good(str(tmp_path_factory.mktemp("good_st")))


def tensors_of(stdout):
    """{name: (dtype, shape, bytes, file index)} from st-check's output."""
    out = {}
    for line in stdout.splitlines():
        m = LINE.match(line)
        if m:
            out[m[1]] = (m[2], m[3], int(m[4]), int(m[6]))
    return out


def test_corpus_is_large_enough():
    assert len(CASE_NAMES) >= 18 and len(set(CASE_NAMES)) == len(CASE_NAMES)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_st_check_rejects(corpus, name):
    c = corpus[name]
    p = run([ST_CHECK, c.path])
    assert p.returncode == 1, f"{name}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
    assert p.stdout == "", f"{name}: printed tensors before failing:\n{p.stdout}"
    assert p.stderr.startswith("st-check: error: "), p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert c.names in p.stderr, f"{name}: message does not name {c.names}: {p.stderr}"
    assert c.expect in p.stderr, f"{name}: expected '{c.expect}' in: {p.stderr}"


@pytest.mark.parametrize("name", CASE_NAMES)
def test_wk_inspect_rejects(corpus, name):
    if not WK_INSPECT.exists():
        pytest.skip("wk-inspect is not built")
    c = corpus[name]
    p = run([WK_INSPECT, c.path])
    assert p.returncode == 1, f"{name}: exit {p.returncode}\n{p.stderr}"
    assert c.names in p.stderr and c.expect in p.stderr, p.stderr


def test_good_file_opens(good):
    single, _ = good
    p = run([ST_CHECK, single], check=0)
    assert tensors_of(p.stdout) == {
        "a": ("F32", "[2]", 8, 0), "b": ("F16", "[3]", 6, 0), "e": ("BF16", "[0]", 0, 0)}
    assert p.stdout.splitlines()[-1] == "files 1"


@pytest.mark.parametrize("via", ["dir", "index"])
def test_good_sharded_opens(good, via):
    _, d = good
    path = d if via == "dir" else f"{d}/model.safetensors.index.json"
    p = run([ST_CHECK, path], check=0)
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("tensor ")]
    assert [ln.split()[1] for ln in lines] == ["a", "b", "c"]  # shard order, then offset
    assert tensors_of(p.stdout) == {
        "a": ("F32", "[2]", 8, 0), "b": ("F16", "[3]", 6, 0), "c": ("I32", "[1]", 4, 1)}
    assert p.stdout.splitlines()[-1] == "files 2"


def test_shared_model_matches_torch(stories260k, tmp_path):
    """The real model.safetensors holds, byte for byte, the tensors torch loads from the
    same model's pytorch_model.bin (lm_head is tied, so only the .bin has it)."""
    import torch
    from st_write import tensor_bytes
    p = run([ST_CHECK, stories260k / "model.safetensors", tmp_path], check=0)
    names = [ln.split()[1] for ln in p.stdout.splitlines() if ln.startswith("tensor ")]
    sd = torch.load(stories260k / "pytorch_model.bin", map_location="cpu", weights_only=True)
    assert set(sd) - set(names) <= {"lm_head.weight"} and set(names) <= set(sd)
    for i, name in enumerate(names):
        assert (tmp_path / f"{i}.bin").read_bytes() == tensor_bytes(sd[name]), name


def test_escaped_backslash_is_not_a_nul(tmp_path):
    """`\\\\u0000` in the header is a backslash followed by "u0000", not a NUL: the name is
    kept whole (the NUL check must follow escapes)."""
    import json
    from st_write import raw_header
    p = tmp_path / "backslash.safetensors"
    p.write_bytes(raw_header('{"a\\\\u0000":' + json.dumps(mbs.F32x2) + "}", bytes(8)))
    got = tensors_of(run([ST_CHECK, p], check=0).stdout)
    assert list(got) == ["a\\u0000"]
