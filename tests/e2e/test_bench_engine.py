"""bench/engine.sh on a tiny model, with a short prompt so it stays quick: the types are
quantized once and reused, the prompt is exactly the asked number of tokens, every contender
runs once per round, the figures are medians with their min-max, decode GB/s is the weight
bytes a token reads times its speed, and llama-bench's part is exercised with a stand-in
that measures wk-run and answers in llama-bench's JSON. The speeds themselves are never
checked (they are timings)."""
import json
import math
import os
import re
import shutil
import subprocess

import pytest

from conftest import BIN, GEN, IN_CI, ROOT, run

import gguf_read

NODE_DIR = ROOT / "tests" / "node"
PY = "/usr/bin/python3"
SHORT = {"WK_BENCH_PROMPT": "32", "WK_BENCH_DECODE": "4", "WK_BENCH_CTX": "64",
         "WK_BENCH_BW_SIZE": "32M"}


def need_node():
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "node-llama-cpp").exists():
        if IN_CI:
            pytest.fail("node and tests/node/node_modules are required in CI")
        pytest.skip("node or tests/node/node_modules missing (run npm ci in tests/node)")


@pytest.fixture(scope="module")
def f16(tmp_path_factory):
    d = tmp_path_factory.mktemp("engine")
    run([GEN / "gen-llama", "--preset", "tiny", "--seed", "3", "-o", d / "tiny"], check=0)
    run([BIN / "wk-convert", d / "tiny", "-o", d / "tiny-f16.gguf", "--outtype", "f16",
         "--quiet"], check=0)
    return d / "tiny-f16.gguf"


def bench(model, types, runs="2", ref=None, **extra):
    env = dict(os.environ, **SHORT, WK_BENCH_RUNS=runs, WK_BENCH_TYPES=types, BENCH_THREADS="2",
               TMPDIR=str(model.parent))
    env.update(extra)
    env.pop("WK_REF_BENCH", None)
    if ref:
        env["WK_REF_BENCH"] = str(ref)
    return subprocess.run([ROOT / "bench" / "engine.sh", BIN, GEN.parent, model], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)


def stand_in(model, body):
    """An executable that llama-bench's command line calls; its argv goes to ARGS."""
    p = model.parent / "ref-bench"
    (model.parent / "ARGS").unlink(missing_ok=True)
    p.write_text(f"#!/bin/sh\necho \"$@\" >> {model.parent}/ARGS\n{body}\n")
    p.chmod(0o755)
    return p


# Answers as llama-bench -o json does, with wk-run's own speeds on the model it was given:
# a row for the prefill test (-p N) and one for the decode test (-n N) where asked, at the
# depth of -d.
MEASURE = f"""exec {PY} -c '
import json, re, subprocess, sys
a = sys.argv[1:]
m, pp, tg = a[a.index("-m") + 1], int(a[a.index("-p") + 1]), int(a[a.index("-n") + 1])
depth = int(a[a.index("-d") + 1]) if "-d" in a else 0
err = subprocess.run(["{BIN}/wk-run", m, "-p", "one two three", "-n", str(max(tg, 1)), "--temp",
                      "0", "--ignore-eos", "-t", a[a.index("-t") + 1]], capture_output=True,
                     text=True).stderr
ts = [float(x) for x in re.findall(r"\\(([0-9.]+) tokens/s\\)", err)]
rows = [{{"n_prompt": pp, "n_gen": 0, "n_depth": depth, "avg_ts": ts[0]}}] if pp else []
rows += [{{"n_prompt": 0, "n_gen": tg, "n_depth": depth, "avg_ts": ts[1]}}] if tg else []
print(json.dumps(rows))' "$@"
"""

pytestmark = pytest.mark.slow


def spread(text, label, unit=""):
    """The median, min and max of every figure in the row of `label` (or the median alone)."""
    u = re.escape(unit)
    row = re.search(r"^  \S+\s+" + re.escape(label) + r"\s{2,}(.*)$", text, re.M)
    assert row, f"no row {label}:\n{text}"
    figs = re.findall(r"([0-9.]+)" + u + r" \(([0-9.]+)" + u + r"-([0-9.]+)" + u + r"\)",
                      row.group(1))
    return [tuple(float(x) for x in f) for f in figs]


def test_engine_bench_rounds(f16):
    need_node()
    ref = stand_in(f16, MEASURE)
    p = bench(f16, "F16 Q8_0", ref=ref)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert ("2 rounds of (per type: bw-read, then each of wk node ref and bw-read) on F16 Q8_0"
            in p.stderr)
    assert "prefill 32 tokens, decode 4, 2 threads, context 64" in out
    # every run logged as it ends, in order: rounds, then types, then engines
    logged = re.findall(r"^  round (\d) (\S+) (\S+): prefill [0-9.]+, decode [0-9.]+ tokens/s"
                        r"( \(median pass [0-9.]+ ms\))?; bw-read best [0-9.]+ -> [0-9.]+ GB/s$",
                        p.stderr, re.M)
    assert [g[:3] for g in logged] == [(r, t, e) for r in "12" for t in ("F16", "Q8_0")
                                       for e in ("wk", "node", "ref")], p.stderr
    assert all(bool(g[3]) == (g[2] == "wk") for g in logged)
    assert "median of 2 rounds" in out
    bw = re.search(r"read bandwidth .*: best ([0-9.]+) \(([0-9.]+)-([0-9.]+)\) GB/s, "
                   r"median ([0-9.]+) \(([0-9.]+)-([0-9.]+)\) GB/s", out)
    assert bw, out
    best, median = [float(x) for x in bw.groups()[:3]], [float(x) for x in bw.groups()[3:]]
    for med, lo, hi in (best, median):
        assert 0 < lo <= med <= hi
    assert median[0] <= best[2]
    q8 = f16.parent / "tiny-q8_0.gguf"
    assert q8.exists(), "Q8_0 is quantized beside the F16 file"
    calls = (f16.parent / "ARGS").read_text().splitlines()
    assert calls == [c for f in (f16, q8) * 2 for c in (f"-m {f} -p 32 -n 0 -t 2 -r 1 -o json",
                                                         f"-m {f} -p 0 -n 4 -d 32 -t 2 -r 1 -o json")]

    for ty, path in (("F16", f16), ("Q8_0", q8)):
        head = re.search(rf"^  {ty}: (\S+), (\d+) bytes .* of weights read per token", out, re.M)
        assert head and head.group(1) == str(path), out
        assert int(head.group(2)) == bytes_per_token(path)
        section = re.split(r"^  \S+: ", out[head.end():], flags=re.M)[0]
        for label in ("wk-run", "node-llama-cpp 3.21.1", "llama-bench"):
            figs = spread(section, label)
            assert len(figs) == 4, section  # prefill, decode, GB/s, % of the bandwidth
            for med, lo, hi in figs:  # a tiny model's share can round to 0.0 %
                assert 0 <= lo <= med <= hi
            assert figs[0][1] > 0 and figs[1][1] > 0
            dec, gbs = figs[1][0], figs[2][0]
            assert math.isclose(gbs, int(head.group(2)) * dec / 1e9, rel_tol=0.02, abs_tol=2e-3)
        # wk-run's median forward pass, the bandwidth over it and its share of the median pass
        m = re.search(rf"^  {ty}  wk-run's median forward pass ([0-9.]+) \(([0-9.]+)-([0-9.]+)\) "
                      r"ms: ([0-9.]+) \(([0-9.]+)-([0-9.]+)\) GB/s, ([0-9.]+) \(([0-9.]+)-([0-9.]+)\) "
                      r"% of bw-read's median pass \(around the run\)$", section, re.M)
        assert m, section
        ms, mgbs, mpct = (tuple(float(x) for x in m.groups()[i:i + 3]) for i in (0, 3, 6))
        for med, lo, hi in (ms, mgbs, mpct):
            assert 0 <= lo <= med <= hi
        assert ms[1] > 0  # the slowest pass gives the least bandwidth, and the reverse
        for gbs, pass_ms in ((mgbs[1], ms[2]), (mgbs[2], ms[1])):
            assert math.isclose(gbs, int(head.group(2)) / (pass_ms / 1e3) / 1e9, rel_tol=0.02,
                                abs_tol=2e-3)
        for other in ("node-llama-cpp 3.21.1", "llama-bench"):
            ratios = spread(section, "wk-run / " + other, "x")
            assert len(ratios) == 2
            for med, lo, hi in ratios:
                assert lo <= med <= hi and lo > 0
    assert not list(f16.parent.glob("engine-bench.*")), "the temp dir was left behind"

    # Q8_0 is not made again while it is newer than the F16 file; a failing reference stops
    # the bench with its message, and the temp dir still goes.
    mtime = q8.stat().st_mtime_ns
    p = bench(f16, "Q8_0", runs="1", ref=stand_in(f16, "echo broken >&2; exit 3"))
    assert p.returncode == 1
    assert "bench: failed:" in p.stderr and "broken" in p.stderr
    assert "quantizing" not in p.stderr and q8.stat().st_mtime_ns == mtime
    assert not list(f16.parent.glob("engine-bench.*"))


def bytes_per_token(path):
    """Every tensor's bytes, but one row of the token embeddings (the model has an output)."""
    _, infos = gguf_read.layout(path)
    ends = sorted(off for *_, off in infos) + [os.path.getsize(path)]
    total = 0
    for name, typ, ne, off in infos:
        n = math.prod(ne)
        size = {0: 4 * n, 1: 2 * n}.get(typ) or n // gguf_read.BLOCKS[typ][0] * gguf_read.BLOCKS[typ][1]
        assert size <= ends[ends.index(off) + 1] - off, name  # it fits before the next tensor
        total += size // ne[1] if name == "token_embd.weight" else size
    return total


@pytest.mark.parametrize("n", [17, 64])
def test_prompt_is_exactly_n_tokens(f16, tmp_path, n):
    run([PY, ROOT / "bench" / "engine_prep.py", "prompt", BIN / "wk-run", f16, n, tmp_path],
        check=0)
    text = (tmp_path / "prompt.txt").read_text()
    got = json.loads(run([BIN / "wk-run", f16, "--tokenize", text, "--json"], check=0).stdout)
    assert got["count"] == n and got["ids"][0] == 1
    assert json.loads((tmp_path / "ids.json").read_text()) == got["ids"]


def cached_pages(path):
    """(pages of path in the page cache, pages of path): mincore through a mapping."""
    import ctypes
    import mmap
    libc = ctypes.CDLL(None, use_errno=True)
    size = path.stat().st_size
    pages = (size + mmap.PAGESIZE - 1) // mmap.PAGESIZE
    vec = (ctypes.c_ubyte * pages)()
    with open(path, "rb") as fh:
        m = mmap.mmap(fh.fileno(), size, access=mmap.ACCESS_COPY)  # private: from_buffer needs it
        first = ctypes.c_char.from_buffer(m)
        rc = libc.mincore(ctypes.c_void_p(ctypes.addressof(first)), ctypes.c_size_t(size), vec)
        del first
        m.close()
    assert rc == 0, os.strerror(ctypes.get_errno())
    return sum(v & 1 for v in vec), pages


def test_fresh_rereads_the_files_into_the_cache(f16, tmp_path):
    # the bench's files read afresh: a file dropped from the page cache is whole in it after,
    # its bytes unchanged; a missing file is an error that names it
    copy = tmp_path / "copy.gguf"
    shutil.copyfile(f16, copy)
    fd = os.open(copy, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    resident, pages = cached_pages(copy)
    if resident == pages:
        pytest.skip("this file system keeps the file cached after POSIX_FADV_DONTNEED")
    run([PY, ROOT / "bench" / "engine_prep.py", "fresh", f16, copy], check=0)
    assert copy.read_bytes() == f16.read_bytes()
    resident, pages = cached_pages(copy)
    assert resident == pages, f"{resident} of {pages} pages cached after fresh"
    p = run([PY, ROOT / "bench" / "engine_prep.py", "fresh", tmp_path / "missing.gguf"])
    assert p.returncode != 0 and "missing.gguf" in p.stderr


@pytest.mark.parametrize("env,msg", [({"WK_BENCH_RUNS": "0"}, "WK_BENCH_RUNS must be a positive count, not '0'"),
                                     ({"WK_BENCH_CTX": "36"}, "WK_BENCH_CTX 36 must exceed prompt + decode (36)")])
def test_bad_settings(f16, env, msg):
    p = bench(f16, "F16", **env)
    assert p.returncode == 1 and msg in p.stderr
