"""bench/verify.sh (make bench: wk-verify against llama-perplexity) runs and reports, here on
stories260k with one chunk, once without a llama-perplexity and once with a stand-in for it
(a script that writes the logits file and prints llama-perplexity's KLD line), so the script
cannot rot where llama.cpp is not built."""
import os
import subprocess

import pytest

from conftest import BIN, ROOT, run, tool

pytestmark = pytest.mark.slow


def bench(f32, q, text, env):
    return subprocess.run([ROOT / "bench" / "verify.sh", BIN, f32, q, text], capture_output=True,
                          text=True, env=dict(os.environ, WK_BENCH_RUNS="1", WK_BENCH_CHUNKS="1",
                                              **env), timeout=300)


def test_bench_verify(stories260k, tmp_path):
    f32, q = tmp_path / "f32.gguf", tmp_path / "q8.gguf"
    run([tool("wk-convert"), stories260k, "-o", f32, "--outtype", "f32"], check=0)
    run([tool("wk-quantize"), f32, q, "Q8_0", "-q"], check=0)
    text = tmp_path / "text.txt"
    text.write_text("Once upon a time, there was a little dog named Max. " * 60)
    p = bench(f32, q, text, {})
    assert p.returncode == 0, p.stderr
    assert "wk-verify tokens/s" in p.stdout and "set WK_REF_PERPLEXITY" in p.stdout
    fake = tmp_path / "llama-perplexity"
    fake.write_text("#!/bin/sh\n"
                    "for a; do [ \"$prev\" = --kl-divergence-base ] && f=$a; prev=$a; done\n"
                    "head -c 1000 /dev/zero > \"$f\"\n"
                    "echo 'Mean    KLD:   0.000123 ±   0.000004'\n")
    fake.chmod(0o755)
    p = bench(f32, q, text, {"WK_REF_PERPLEXITY": str(fake)})
    assert p.returncode == 0, p.stderr
    assert "KLD 0.000123" in p.stdout and "speed-up (their time / ours)" in p.stdout
    assert "0.0 MB" in p.stdout  # the stand-in's 1000-byte logits file
