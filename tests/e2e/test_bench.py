"""bench/convert.sh and the bench/lib.sh helpers it uses, on a tiny model: every contender
runs once per round, the figures are medians with their min-max, the ratios medians of the
per-round ratios. The figures themselves are never checked (they are timings)."""
import os
import re
import subprocess

import pytest

from conftest import BIN, GEN, ROOT, run

pytestmark = pytest.mark.slow


def lib(call):
    p = subprocess.run(["bash", "-c", f". bench/lib.sh && {call}"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    return p


@pytest.mark.parametrize("values,want", [("3 1 2 5 4", "3 1 5"), ("4 1 3 2", "2.5 1 4"),
                                         ("0.5", "0.5 0.5 0.5")])
def test_spread_is_median_min_max(values, want):
    p = lib(f"bench_spread {values}")
    assert p.returncode == 0 and p.stdout.split() == want.split()


def test_run1_reports_wall_cpu_rss_and_fails_with_the_command(tmp_path):
    if not os.access("/usr/bin/time", os.X_OK):
        pytest.skip("/usr/bin/time not installed (Debian package time)")
    p = lib("bench_run1 sleep 0.2")
    assert p.returncode == 0, p.stderr
    wall, cpu, rss = p.stdout.split()
    assert 0.2 <= float(wall) < 5 and 0 <= float(cpu) < 1 and int(rss) > 0
    p = lib("bench_run1 sh -c 'echo broken >&2; exit 3'")
    assert p.returncode == 1
    assert "bench: failed: sh -c" in p.stderr and "broken" in p.stderr


def test_convert_bench_rounds(tmp_path):
    if not os.access("/usr/bin/time", os.X_OK):
        pytest.skip("/usr/bin/time not installed (Debian package time)")
    model = tmp_path / "tiny"
    run([GEN / "gen-llama", "--preset", "tiny", "--seed", "1", "-o", model], check=0)
    env = dict(os.environ, BENCH_RUNS="3", BENCH_THREADS="1", TMPDIR=str(tmp_path))
    p = subprocess.run([ROOT / "bench" / "convert.sh", BIN, "build", model], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert "3 rounds of (wk dd cp)" in p.stderr
    out = p.stdout
    assert "median of 3 rounds" in out and "OMP_NUM_THREADS=1" in out
    for label in ("cp of the weight files", "dd bs=4M of the weight files",
                  "wk-convert --outtype f16"):
        row = re.search(re.escape(label) + r".*?([0-9.]+) s\s+([0-9.]+)-([0-9.]+) s; CPU "
                        r"([0-9.]+) s; peak RSS ([0-9.]+) MiB", out)
        assert row, f"no row for {label}:\n{out}"
        median, lo, hi = (float(row.group(i)) for i in (1, 2, 3))
        assert lo <= median <= hi
    for label in ("wk-convert time / dd time", "wk-convert time / cp time",
                  "wk-convert CPU time / dd CPU time"):
        row = re.search(re.escape(label) + r"\s+([0-9.]+)x.*?([0-9.]+)-([0-9.]+)x over 3 rounds",
                        out)
        assert row, f"no row for {label}:\n{out}"
        median, lo, hi = (float(row.group(i)) for i in (1, 2, 3))
        assert lo <= median <= hi
    assert not list(tmp_path.glob("convert-bench.*")), "the temp dir was left behind"


def test_convert_bench_refuses_a_bad_run_count(tmp_path):
    env = dict(os.environ, BENCH_RUNS="0")
    p = subprocess.run([ROOT / "bench" / "convert.sh", BIN, "build", tmp_path], cwd=ROOT,
                       env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "BENCH_RUNS must be a positive count, not '0'" in p.stderr
