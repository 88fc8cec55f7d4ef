"""PyTorch checkpoints read without executing code (formats/pytorch/).

Oracle: torch.load of the same file (Debian's torch 1.13). Every fixture of
tests/fixtures/make_torch_fixtures.py is read by pt-dump (tests/gen/pt-dump.c, which opens
the path with wk_source_open as the tools do) and each tensor's name, order, dtype, shape
and bytes must equal what torch.load gives, made contiguous.

The malicious and malformed corpus (tests/fixtures/make_bad_pickles.py) must each give exit
1 and one clean message; its code-execution gadgets are shown to create a CANARY file under
torch.load, and never under weightkit."""
import collections
import os
import re
import shutil
import subprocess
import tempfile
import textwrap

import pytest
import torch

import make_bad_pickles as mbp
import make_torch_fixtures as mtf
import st_write
from conftest import BIN, GEN, run, shared_path, tool

PT_DUMP = GEN / "pt-dump"
ST_CHECK = GEN / "st-check"
LINE = re.compile(r"^tensor (\S+) (\S+) (\[[^\]]*\]) (\d+) ([0-9a-f]{16})")
CASE_NAMES = ["f32.bin", "f16.pt", "bf16.pth", "dtypes.bin", "views.bin", "tied.bin",
              "module.bin", "params.bin", "proto4.bin", "wrapped.bin", "nested.bin",
              "keyed.bin", "legacy.bin", "legacy_tied.bin", "legacy_dtypes.bin",
              "deflated.bin", "deflated_tied.bin", "tar.bin", "sharded", "sharded_index"]


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    out = tmp_path_factory.mktemp("torch_fixtures")
    return {c.name: c for c in mtf.build(str(out))}


def dump(path, key=None, raw=None):
    """pt-dump's tensors as [(name, dtype, shape, bytes or None, xxh64)]."""
    args = [PT_DUMP] + (["--key", key] if key else []) + [path] + ([raw] if raw else [])
    p = run(args, check=0)
    rows = [LINE.match(line) for line in p.stdout.splitlines()]
    assert all(rows), p.stdout
    data = open(raw, "rb").read() if raw else None
    out, off = [], 0
    for m in rows:
        n = int(m[4])
        out.append((m[1], m[2], m[3], data[off:off + n] if raw else None, m[5]))
        off += n
    assert data is None or off == len(data)
    return out


def torch_state(case):
    """The state dict torch.load gives for a case (the oracle)."""
    if case.name == "tar.bin":
        # torch 1.13's own tar loader fails (TypedStorage._storage is a method there), so
        # the oracle is the tensors the fixture was written from.
        return mtf.views()
    if case.name.startswith("sharded"):
        d = os.path.dirname(case.path) if case.path.endswith(".json") else case.path
        sd = collections.OrderedDict()
        for f in sorted(os.listdir(d)):
            if f.endswith(".bin"):
                sd.update(torch.load(os.path.join(d, f)))
        return sd
    obj = torch.load(case.path)
    for k in ([case.key] if case.key else ["state_dict", "model", "module"]):
        while isinstance(obj, dict) and k in obj and isinstance(obj[k], dict):
            obj = obj[k]
    return collections.OrderedDict((k, v.detach()) for k, v in obj.items())


def expect_rows(sd):
    return [(n, st_write.TORCH_TO_ST[str(t.dtype)], str(list(t.shape)),
             st_write.tensor_bytes(t)) for n, t in sd.items()]


def test_case_list_is_complete(cases):
    assert sorted(cases) == sorted(CASE_NAMES)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_tensors_equal_torch_load(cases, name, tmp_path):
    c = cases[name]
    got = dump(c.path, c.key, str(tmp_path / "raw"))
    want = expect_rows(torch_state(c))
    assert [(g[0], g[1], g[2]) for g in got] == [w[:3] for w in want]
    for g, w in zip(got, want):
        assert g[3] == w[3], f"{name}: tensor {g[0]} differs from torch.load"


def test_fixtures_cover_the_layouts(cases):
    """The oracle comparison above is only as good as the fixtures: they must hold
    non-contiguous views, storage offsets, shared storages and several containers."""
    sd = torch.load(cases["views.bin"].path)
    assert any(not t.is_contiguous() for t in sd.values())
    assert any(t.storage_offset() > 0 for t in sd.values())
    assert 0 in sd["expanded"].stride()
    tied = torch.load(cases["tied.bin"].path)
    assert tied["lm_head.weight"].data_ptr() == tied["model.embed_tokens.weight"].data_ptr()
    with open(cases["legacy.bin"].path, "rb") as f:
        assert f.read(2) == b"\x80\x02"
    with open(cases["deflated.bin"].path, "rb") as f:
        assert f.read(4) == b"PK\x03\x04"
    import zipfile
    with zipfile.ZipFile(cases["deflated.bin"].path) as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
    with open(cases["tar.bin"].path, "rb") as f:
        assert f.read(512)[257:262] == b"ustar"


def test_tied_weights_read_one_storage(cases):
    got = {g[0]: g[4] for g in dump(cases["tied.bin"].path)}
    assert got["lm_head.weight"] == got["model.embed_tokens.weight"]


def test_key_chooses_the_state_dict(cases):
    path = cases["keyed.bin"].path
    p = run([PT_DUMP, path], check=1)
    assert "--key" in p.stderr and "'ema'" in p.stderr and "'weights'" in p.stderr, p.stderr
    w = dump(path, "weights", None)
    sd = torch.load(path)["weights"]
    assert [g[0] for g in w] == list(sd)
    p = run([PT_DUMP, "--key", "nope", path], check=1)
    assert "no key 'nope'" in p.stderr, p.stderr


def test_tools_take_key(cases):
    """wk-inspect --key picks the same state dict the library does."""
    path = cases["keyed.bin"].path
    p = run([tool("wk-inspect"), path], check=1)
    assert "--key" in p.stderr, p.stderr
    p = run([tool("wk-inspect"), "--json", "--key", "weights", path], check=0)
    import json
    names = [t["name"] for t in json.loads(p.stdout)["tensors"]]
    assert names == list(torch.load(path)["weights"])
    run([tool("wk-inspect"), "--key", "nope", path], check=1)


def test_filter_counts_a_shared_group_once(tmp_path):
    t = torch.arange(12.).reshape(3, 4)
    path = tmp_path / "tri.bin"
    torch.save({"a": t, "b": t, "c": t}, path)
    import json
    report = json.loads(run([tool("wk-inspect"), "--json", "--filter", "[bc]", path],
                            check=0).stdout)
    assert report["filter"]["tensors"] == 2 and report["filter"]["parameters"] == 12


def test_empty_wrapper_does_not_hide_the_state_dict(tmp_path):
    path = tmp_path / "wrap.bin"
    torch.save({"state_dict": {}, "model": {"w": torch.ones(2, 3)}}, path)
    import json
    report = json.loads(run([tool("wk-inspect"), "--json", path], check=0).stdout)
    assert [t["name"] for t in report["tensors"]] == ["w"]


def test_model_dir_with_only_pytorch_bin(stories260k, tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    for f in os.listdir(stories260k):
        if f != "model.safetensors":
            os.symlink(stories260k / f, d / f)
    assert [g[0] for g in dump(str(d))] == [g[0] for g in dump(str(stories260k / "pytorch_model.bin"))]


def test_stories260k_bin_equals_safetensors_and_torch(stories260k, tmp_path):
    binpath = str(stories260k / "pytorch_model.bin")
    got = dump(binpath, None, str(tmp_path / "raw"))
    want = expect_rows(torch.load(binpath))
    assert [(g[0], g[1], g[2], g[3]) for g in got] == want
    st = {}
    for line in run([ST_CHECK, stories260k / "model.safetensors"], check=0).stdout.splitlines():
        m = LINE.match(line)
        if m:
            st[m[1]] = (m[2], m[3], m[5])
    ours = {g[0]: (g[1], g[2], g[4]) for g in got}
    for name, v in st.items():
        assert ours[name] == v, name
    # the .bin keeps the tied lm_head that the safetensors file leaves out
    assert set(ours) - set(st) == {"lm_head.weight"}
    assert ours["lm_head.weight"] == ours["model.embed_tokens.weight"]


def _table(stdout):
    """wk-inspect's report without the first line (which names the file and format)."""
    return stdout.split("\n", 1)[1]


@pytest.mark.parametrize("name", ["f32.bin", "bf16.pth", "views.bin", "legacy.bin", "module.bin"])
def test_wk_inspect_matches_safetensors(cases, name, tmp_path):
    if not (BIN / "wk-inspect").exists():
        pytest.skip("wk-inspect is not built")
    st = tmp_path / "same.safetensors"
    st_write.save(st, torch_state(cases[name]))
    a = run([BIN / "wk-inspect", cases[name].path], check=0)
    b = run([BIN / "wk-inspect", st], check=0)
    assert "pytorch" in a.stdout.splitlines()[0]
    assert _table(a.stdout) == _table(b.stdout)


def test_wk_convert_bin_equals_safetensors(stories260k, tmp_path):
    if not (BIN / "wk-convert").exists():
        pytest.skip("wk-convert is not built")
    import gguf_read
    d = tmp_path / "bin_only"
    d.mkdir()
    for f in os.listdir(stories260k):
        if f != "model.safetensors":
            shutil.copy(stories260k / f, d / f)
    run([BIN / "wk-convert", stories260k, "-o", tmp_path / "st.gguf", "-q"], check=0)
    run([BIN / "wk-convert", d, "-o", tmp_path / "bin.gguf", "-q"], check=0)
    _, ta = gguf_read.read(str(tmp_path / "st.gguf"))
    _, tb = gguf_read.read(str(tmp_path / "bin.gguf"))
    for name, (typ, shape, data) in ta.items():
        assert tb[name][0] == typ and list(tb[name][1]) == list(shape), name
        assert bytes(memoryview(tb[name][2]).cast("B")) == bytes(memoryview(data).cast("B")), name
    extra = set(tb) - set(ta)
    assert extra <= {"output.weight"}
    for name in extra:
        assert bytes(memoryview(tb[name][2]).cast("B")) == \
            bytes(memoryview(ta["token_embd.weight"][2]).cast("B"))



def _unique_params(sd):
    """The oracle for counting tied weights once: torch's own view of which tensors are the
    very same data (one storage, same storage offset, shape and strides; a dimension of size
    1 never steps, so its stride does not matter)."""
    seen, n = set(), 0
    for t in sd.values():
        key = (t.storage().data_ptr(), t.storage_offset(), tuple(t.shape),
               tuple(st if d > 1 else 0 for st, d in zip(t.stride(), t.shape)))
        if key not in seen:
            seen.add(key)
            n += t.numel()
    return n


def _inspect_json(path, *extra):
    import json
    return json.loads(run([tool("wk-inspect"), "--json", *extra, path], check=0).stdout)


@pytest.mark.parametrize("name", ["tied.bin", "legacy_tied.bin", "deflated_tied.bin", "tar.bin",
                                  "views.bin"])
def test_wk_inspect_counts_shared_data_once(cases, name):
    sd = torch_state(cases[name])
    doc = _inspect_json(cases[name].path)
    assert doc["totals"]["tensors"] == len(sd)
    assert doc["totals"]["parameters"] == _unique_params(sd)
    firsts = {}
    for t, (n, v) in zip(doc["tensors"], sd.items()):
        key = (v.storage().data_ptr(), v.storage_offset(), tuple(v.shape),
               tuple(st if d > 1 else 0 for st, d in zip(v.stride(), v.shape)))
        assert t["name"] == n
        assert t["shares_data_with"] == firsts.get(key), n
        firsts.setdefault(key, n)
    shared = sum(t["shares_data_with"] is not None for t in doc["tensors"])
    assert doc["totals"]["shared"] == shared
    assert shared == (1 if "tied" in name else 0)


def test_stories260k_bin_counts_like_safetensors(stories260k):
    """torch.save keeps lm_head.weight as a second name of the embedding's storage; the
    safetensors file leaves it out. Counted once, both give the same totals."""
    binpath = stories260k / "pytorch_model.bin"
    b = _inspect_json(binpath)
    st = _inspect_json(stories260k / "model.safetensors")
    assert b["totals"]["parameters"] == st["totals"]["parameters"] == 260032
    assert b["totals"]["parameters"] == _unique_params(torch.load(binpath))
    assert b["totals"]["bytes"] == st["totals"]["bytes"]
    assert (b["totals"]["tensors"], b["totals"]["shared"]) == (48, 1)
    assert b["categories"]["output"]["tensors"] == 1
    assert b["categories"]["output"]["parameters"] == 0
    lm = [t for t in b["tensors"] if t["name"] == "lm_head.weight"]
    assert lm[0]["shares_data_with"] == "model.embed_tokens.weight"
    text = run([tool("wk-inspect"), binpath], check=0).stdout
    assert "Tensors       48 (1 shares its data with another" in text, text
    assert "Parameters    260032 (260.0 K)" in text, text
    line = [ln for ln in text.splitlines() if ln.startswith("lm_head.weight ")]
    assert line and line[0].endswith("  = model.embed_tokens.weight"), text


@pytest.mark.parametrize("layout", ["zip", "legacy", "wrapped"])
def test_empty_state_dict_is_accepted(tmp_path, layout):
    """torch.save({}) is a model without tensors, as an empty safetensors file is."""
    p = tmp_path / "empty.pt"
    obj = {"state_dict": {}, "epoch": 3} if layout == "wrapped" else {}
    torch.save(obj, p, _use_new_zipfile_serialization=layout != "legacy")
    assert torch.load(p) == obj
    doc = _inspect_json(p)
    assert doc["tensors"] == [] and doc["totals"]["tensors"] == 0
    assert doc["totals"]["parameters"] == 0
    assert dump(str(p)) == []


def test_raw_pickle_error_says_file_offset_and_which_pickle(tmp_path):
    """A bare pickle (not a torch.save file) is read as a legacy stream: the message says
    which of its pickles failed and that the offset is a file offset."""
    p = tmp_path / "evil.bin"
    p.write_bytes(b"\x80\x02cos\nsystem\nX\x0b\x00\x00\x00touch pwnedq\x00\x85q\x01Rq\x02.")
    r = run([tool("wk-inspect"), p], check=1, cwd=tmp_path)
    assert r.stderr == (f"wk-inspect: error: {p}: pickle 1 of the legacy torch.save stream (the "
                        "magic number), file offset 2: global 'os.system' is not allowed: "
                        "torch.load would call it, i.e. execute code from the file\n")
    assert not (tmp_path / "pwned").exists()


# ---- the malicious and malformed corpus ----

def _bad_names():
    with tempfile.TemporaryDirectory() as d:
        return [c.name for c in mbp.build(d)]


BAD_NAMES = _bad_names()


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return {c.name: c for c in mbp.build(str(tmp_path_factory.mktemp("bad_pickles")))}


def test_bad_corpus_is_large_enough():
    assert len(BAD_NAMES) >= 20 and len(set(BAD_NAMES)) == len(BAD_NAMES)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_checkpoint_is_refused(bad, name, tmp_path):
    c = bad[name]
    tools = [[PT_DUMP, c.path]]
    if (BIN / "wk-inspect").exists():
        tools.append([BIN / "wk-inspect", "--stats", "--threads", "1", c.path])  # reads data
    for args in tools:
        p = run(args, cwd=tmp_path)
        assert p.returncode == 1, f"{name}: exit {p.returncode}\n{p.stdout}\n{p.stderr}"
        assert p.stdout == "", f"{name}: printed output before failing"
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and ": error: " in lines[0], p.stderr
        assert c.expect in p.stderr, f"{name}: expected '{c.expect}' in: {p.stderr}"
        assert c.path in p.stderr or os.path.basename(c.path) in p.stderr, p.stderr
    assert not (tmp_path / "CANARY").exists(), f"{name}: a gadget ran"


def test_gadgets_would_run_under_torch_load(bad, tmp_path):
    """Sanity check of the corpus: torch.load really executes each gadget (each in its
    own directory), so the test above proves something."""
    gadgets = [c for c in bad.values() if c.gadget]
    assert len(gadgets) >= 8
    script = textwrap.dedent("""
        import os, sys, time, torch
        for path, d in zip(sys.argv[1::2], sys.argv[2::2]):
            os.chdir(d)
            try:
                torch.load(path)
            except Exception:
                pass
        time.sleep(0.5)  # subprocess.Popen runs touch asynchronously
    """)
    args = []
    for c in gadgets:
        d = tmp_path / c.name
        d.mkdir()
        args += [c.path, str(d)]
    subprocess.run(["/usr/bin/python3", "-c", script] + args, capture_output=True, timeout=120)
    missing = [c.name for c in gadgets if not (tmp_path / c.name / "CANARY").exists()]
    assert missing == [], f"these gadgets did not run under torch.load: {missing}"


@pytest.mark.parametrize("name", ["f32.bin", "legacy.bin", "tar.bin", "deflated.bin"])
def test_mutated_checkpoints_fail_cleanly(cases, name, tmp_path):
    """Deterministic byte flips, truncations and 0xff runs: every result is a clean load
    or one clean error (the sanitizer build turns any memory error into a failure)."""
    import random
    rng = random.Random(name)
    data = open(cases[name].path, "rb").read()
    target = tmp_path / "m.bin"
    for it in range(40):
        b = bytearray(data)
        if it % 3 == 0:
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif it % 3 == 1:
            b = b[:rng.randrange(len(b))]
        else:
            p = rng.randrange(len(b))
            b[p:p + 8] = b"\xff" * 8
        target.write_bytes(bytes(b))
        p = subprocess.run([str(PT_DUMP), str(target), str(tmp_path / "raw")], capture_output=True)
        err = p.stderr.decode("utf-8")  # messages escape bytes from the file
        assert p.returncode in (0, 1), f"{name} mutation {it}: exit {p.returncode}\n{err}"
        if p.returncode == 1:
            assert len(err.strip().splitlines()) == 1 and "pt-dump: error: " in err, err
