"""bench/prune.sh and bench/prune_quality.py run as `make bench` runs them, on stories260k
(small calibration) instead of the 1.1B model: the figures they print are there and
consistent; no speed or quality is asserted."""
import os
import re
import subprocess
import sys

import pytest

from conftest import ROOT, run, tool

pytestmark = pytest.mark.slow

PRUNE, CONVERT = tool("wk-prune"), tool("wk-convert")


def test_prune_bench_on_a_small_model(stories260k, tmp_path):
    f32 = tmp_path / "m-f16.gguf"
    run([CONVERT, stories260k, "-o", f32, "--outtype", "f16", "-q"], check=0)
    env = dict(os.environ, WK_BENCH_RUNS="2", WK_BENCH_CALIB_TOKENS="1024", BENCH_THREADS="2")
    p = subprocess.run(["bench/prune.sh", os.environ.get("WK_BIN", "bin"), "build", f32], cwd=ROOT,
                       env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rows = {m.group(1): m.groups()[1:] for m in re.finditer(
        r"^  (magnitude 50 %|wanda 50 %)[^\n]*?([\d.]+) s \(([\d.]+)-([\d.]+)\)\s+([\d.]+) s\s+(\d+) MiB$",
        p.stdout, re.M)}
    assert set(rows) == {"magnitude 50 %", "wanda 50 %"}, p.stdout
    for med, lo, hi, cpu, rss in rows.values():
        assert float(lo) <= float(med) <= float(hi) and float(cpu) >= 0 and int(rss) > 0
    assert "1024 calibration tokens" in p.stdout and "2 round(s)" in p.stdout
    assert sorted(x.name for x in tmp_path.iterdir()) == ["m-f16.gguf"], "temporaries left"


def test_prune_quality_table(stories260k):
    env = dict(os.environ, WK_BIN=os.environ.get("WK_BIN", str(ROOT / "bin")))
    p = subprocess.run([sys.executable, "bench/prune_quality.py", "--model", stories260k,
                        "--calib-seqs", "2"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "calibration 2 x 512 tokens sampled from the model" in p.stderr
    rows = [line.split() for line in p.stdout.splitlines()[1:]]
    assert [r[1] for r in rows] == ["none"] + ["magnitude"] * 3 + ["wanda"] * 3, p.stdout
    ppl = {(r[1], r[2]): float(r[-4]) for r in rows}
    kld = {(r[1], r[2]): float(r[-2]) for r in rows}
    assert kld[("none", "0")] == 0
    for method in ("magnitude", "wanda"):
        # more zeros cost more: 50 % is worse than 20 % for either method
        assert ppl[(method, "50")] > ppl[(method, "20")] > 0, p.stdout
        assert kld[(method, "50")] > kld[(method, "20")] > 0, p.stdout
