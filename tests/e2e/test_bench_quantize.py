"""bench/quantize.sh on a tiny model: every type runs in paired rounds, the times are medians
with their min-max, the speed-up the median of the per-round ratios, and the RMSE comes from
gguf-rmse. llama-quantize's part is exercised with a stand-in that runs wk-quantize, so its
RMSE ratio must be exactly 1. The timings themselves are never checked."""
import os
import re
import subprocess

import pytest

from conftest import BIN, GEN, ROOT, run

pytestmark = pytest.mark.slow

TIMES = r"([0-9.]+) s \(([0-9.]+)-([0-9.]+)\)\s+([0-9.]+) s\s+(\d+) MiB"
RATIO = r"([0-9.]+)x \(([0-9.]+)-([0-9.]+)\)"
SPEED = re.compile(r"^  (\S+)\s+" + TIMES + r"(.*)$", re.M)
ERROR = re.compile(r"^  (\S+)\s+(\d\.\d{4}e[-+]\d\d)\s+(.*)$", re.M)


def within(m, first):
    """The median of a figure is inside its min-max."""
    median, lo, hi = (float(m.group(first + i)) for i in range(3))
    assert lo <= median <= hi, m.group(0)


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
    speed = {m.group(1): m for m in SPEED.finditer(out)}
    assert set(speed) == {"Q8_0", "Q4_K_M"}, out
    for t, m in speed.items():
        within(m, 2)
        rest = re.fullmatch(r"\s+" + TIMES + r"\s+" + RATIO + r"\s+" + RATIO + r"\s+(>= [0-9.]+x)",
                            m.group(7))
        assert rest, m.group(0)
        within(rest, 1)
        within(rest, 6)
        within(rest, 9)
        assert rest.group(12) == (">= 1.5x" if t == "Q8_0" else ">= 2x")
    error = {m.group(1): m for m in ERROR.finditer(out)}
    assert set(error) == {"Q8_0", "Q4_K_M"}, out
    mix = {}
    for t, m in error.items():
        rest = re.fullmatch(r"(\S+)\s+([0-9.]+)\s+<= 1\s+(.*)", m.group(3))
        assert rest and rest.group(1) == m.group(2), "the stand-in's RMSE equals wk-quantize's"
        assert rest.group(2) == "1.0000"
        mix[t] = rest.group(3)
    assert re.fullmatch(r"\d+ Q8_0, in both", mix["Q8_0"])
    assert re.fullmatch(r"\d+ Q4_K \+ \d+ Q6_K, in both", mix["Q4_K_M"])
    assert not list(model.glob("quantize-bench.*")), "the temp dir was left behind"


def test_a_reference_with_other_tensor_types_is_flagged(model):
    ref = stand_in(model, f'exec {BIN}/wk-quantize "$1" "$2" "$3" --threads "$4" -q '
                          '--tensor-type "*attn_v*=Q8_0"')
    p = bench(model, runs="1", types="Q4_K_M", ref=ref)
    assert p.returncode == 0, p.stderr
    assert re.search(r"differ: wk-quantize \d+ Q4_K \+ \d+ Q6_K, llama-quantize \d+ Q8_0 \+ "
                     r"\d+ Q4_K \+ \d+ Q6_K", p.stdout), p.stdout


def test_without_llama_quantize_only_wk_columns(model):
    p = bench(model, runs="1", types="Q4_0")
    assert p.returncode == 0, p.stderr
    assert "WK_REF_QUANTIZE not set: no llama-quantize columns" in p.stdout
    rows = list(SPEED.finditer(p.stdout))
    assert [m.group(1) for m in rows] == ["Q4_0"] and rows[0].group(7).strip() == ""
    within(rows[0], 2)
    errors = list(ERROR.finditer(p.stdout))
    assert [m.group(1) for m in errors] == ["Q4_0"]
    assert re.fullmatch(r"\d+ Q4_0 \+ 1 Q6_K", errors[0].group(3))


def test_a_failing_reference_stops_the_bench(model):
    p = bench(model, runs="1", types="Q8_0", ref=stand_in(model, "echo broken >&2; exit 3"))
    assert p.returncode == 1
    assert "bench: failed:" in p.stderr and "broken" in p.stderr
    assert not list(model.glob("quantize-bench.*"))


def test_refuses_a_bad_run_count(model):
    p = bench(model, runs="x")
    assert p.returncode == 1 and "BENCH_RUNS must be a positive count, not 'x'" in p.stderr
