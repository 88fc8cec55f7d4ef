"""bench/quantize.sh on a tiny model: every type runs in paired rounds, the times are medians
with their min-max, the speed-up the median of the per-round ratios, and the RMSE comes from
gguf-rmse. llama-quantize's part is exercised with a stand-in that runs wk-quantize, so its
RMSE ratio must be exactly 1. The timings themselves are never checked."""
import os
import re
import subprocess

import pytest

from conftest import BIN, GEN, ROOT, run

ROW = re.compile(r"^  (\S+)\s+([0-9.]+) s \(([0-9.]+)-([0-9.]+)\)\s+(\d+) MiB\s+(.*)$", re.M)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    if not os.access("/usr/bin/time", os.X_OK):
        pytest.skip("/usr/bin/time not installed (Debian package time)")
    d = tmp_path_factory.mktemp("qbench")
    run([GEN / "gen-llama", "--preset", "tiny", "--layers", "1", "--seed", "2", "-o", d / "m"],
        check=0)
    return d


def bench(model, runs="2", types="Q8_0 Q4_K_M", ref=None):
    env = dict(os.environ, BENCH_RUNS=runs, BENCH_THREADS="1", BENCH_QUANT_TYPES=types,
               TMPDIR=str(model))
    env.pop("WK_REF_QUANTIZE", None)
    if ref:
        env["WK_REF_QUANTIZE"] = str(ref)
    return subprocess.run([ROOT / "bench" / "quantize.sh", BIN, GEN.parent, model / "m"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def stand_in(model, body):
    s = model / "ref.sh"
    s.write_text("#!/bin/sh\n" + body + "\n")
    s.chmod(0o755)
    return s


def test_paired_rounds_against_a_stand_in(model):
    ref = stand_in(model, f'exec {BIN}/wk-quantize "$1" "$2" "$3" --threads "$4" -q')
    p = bench(model, ref=ref)
    assert p.returncode == 0, p.stderr
    assert "Q8_0, 2 rounds of (wk ref)" in p.stderr and "Q4_K_M, 2 rounds" in p.stderr
    assert (model / "m-f16.gguf").exists(), "the F16 GGUF is kept beside the model"
    out = p.stdout
    assert "median of 2 rounds" in out and "--threads 1, OMP_NUM_THREADS=1" in out
    rows = {m.group(1): m for m in ROW.finditer(out)}
    assert set(rows) == {"Q8_0", "Q4_K_M"}, out
    for t, m in rows.items():
        median, lo, hi = (float(m.group(i)) for i in (2, 3, 4))
        assert lo <= median <= hi
        rest = re.match(r"([0-9.]+) s \(([0-9.]+)-([0-9.]+)\)\s+\d+ MiB\s+([0-9.]+)x "
                        r"\(([0-9.]+)-([0-9.]+)\) (>= [0-9.]+x)\s+(\S+)\s+(\S+)\s+([0-9.]+)  <= 1$",
                        m.group(6))
        assert rest, m.group(0)
        speed, slo, shi = (float(rest.group(i)) for i in (4, 5, 6))
        assert slo <= speed <= shi
        assert rest.group(7) == (">= 1.5x" if t == "Q8_0" else ">= 2x")
        assert float(rest.group(8)) > 0 and rest.group(8) == rest.group(9)
        assert rest.group(10) == "1.000"
    assert re.search(r"Q4_K_M: \d+ Q4_K \+ \d+ Q6_K, in both", out)
    assert not list(model.glob("quantize-bench.*")), "the temp dir was left behind"


def test_without_llama_quantize_only_wk_columns(model):
    p = bench(model, runs="1", types="Q4_0")
    assert p.returncode == 0, p.stderr
    assert "WK_REF_QUANTIZE not set: no llama-quantize columns" in p.stdout
    rows = list(ROW.finditer(p.stdout))
    assert [m.group(1) for m in rows] == ["Q4_0"]
    assert re.fullmatch(r"\d\.\d{4}e[-+]\d\d", rows[0].group(6).strip())


def test_a_failing_reference_stops_the_bench(model):
    p = bench(model, runs="1", types="Q8_0", ref=stand_in(model, "echo broken >&2; exit 3"))
    assert p.returncode == 1
    assert "bench: failed:" in p.stderr and "broken" in p.stderr
    assert not list(model.glob("quantize-bench.*"))


def test_refuses_a_bad_run_count(model):
    p = bench(model, runs="x")
    assert p.returncode == 1 and "BENCH_RUNS must be a positive count, not 'x'" in p.stderr
