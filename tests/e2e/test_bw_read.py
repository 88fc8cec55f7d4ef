"""bw-read, the read-bandwidth helper of bench/engine.sh: its line parses, the sum it prints
is the one its fill implies (so every word was read), on any thread count and on both the
AVX2 and the scalar loop; bad options are usage errors."""
import re

import pytest

from conftest import GEN, run

LINE = re.compile(r"bw-read: (\d+) bytes, threads (\d+), (avx2|scalar), passes (\d+): "
                  r"best ([0-9.]+) GB/s, median ([0-9.]+) GB/s, sum (\d+)$")


def expected_sum(n_bytes):
    n = n_bytes // 8  # word i holds i * K, modulo 2^64
    return 0x9E3779B97F4A7C15 * (n * (n - 1) // 2) % 2**64


@pytest.mark.parametrize("args,size,threads", [(["--size", "8M"], 8_000_000, 2),
                                               (["-s", "4100"], 4096, 1),
                                               (["-s", "1000003", "--scalar"], 1_000_000, 3)])
def test_sum_and_line(args, size, threads):
    p = run([GEN / "bw-read", *args, "--reps", "3", "-t", str(threads)], check=0)
    m = LINE.match(p.stdout.strip())
    assert m, p.stdout
    assert int(m.group(1)) == size and int(m.group(2)) == threads and int(m.group(4)) == 3
    assert (m.group(3) == "scalar") == ("--scalar" in args)
    best, median = float(m.group(5)), float(m.group(6))
    assert 0 < median <= best
    assert int(m.group(7)) == expected_sum(size)


def test_scalar_and_avx2_read_the_same_words():
    sums = {run([GEN / "bw-read", "-s", "1M", "-r", "1", *extra], check=0).stdout.split()[-1]
            for extra in ([], ["--scalar"])}
    assert sums == {str(expected_sum(1_000_000))}


@pytest.mark.parametrize("args,msg", [(["--size", "100"], "--size"), (["--reps", "0"], "--reps"),
                                      (["extra"], "unexpected argument")])
def test_usage_errors(args, msg):
    p = run([GEN / "bw-read", *args], check=2)
    assert msg in p.stderr and "bw-read --help" in p.stderr


def test_help():
    p = run([GEN / "bw-read", "--help"], check=0)
    assert "read-only streaming memory bandwidth" in p.stdout and "--size SIZE" in p.stdout
