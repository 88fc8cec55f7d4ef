"""bench/gpu.sh on the host emulation of the CUDA backend (make CUDA=emu; make cuda-check runs
this with WK_CUDA_EMU_BIN set), on gen-llama's tiny shape with a short prompt: the types asked
are run, the prompt is exactly the asked number of tokens, the figures reach the table and
gpu.json, decode GB/s is the weight bytes a token reads times its speed, and the scratch
folder is removed. The speeds themselves are never checked (they are timings)."""
import json
import os
import pathlib
import subprocess

import pytest

from conftest import ROOT

EMU_BIN = os.environ.get("WK_CUDA_EMU_BIN")


def test_the_gpu_benchmark_runs_on_the_emulation(tmp_path):
    if not EMU_BIN:
        pytest.skip("WK_CUDA_EMU_BIN is not set: make cuda-check builds bin-cuemu/ and runs this")
    build = pathlib.Path(EMU_BIN).parent / "build-cuemu"
    env = dict(os.environ, WK_BENCH_SHAPES="tiny", WK_BENCH_TYPES="F16 Q4_K_M",
               WK_BENCH_PROMPT="16", WK_BENCH_DECODE="4", WK_BENCH_RUNS="1",
               WK_BENCH_COPY_SIZE="16M", WK_BENCH_WORK=str(tmp_path / "work"),
               WK_GPU_OUT=str(tmp_path / "out"), PYTHON="/usr/bin/python3")
    p = subprocess.run([ROOT / "bench" / "gpu.sh", EMU_BIN, build], capture_output=True,
                       text=True, env=env, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("CUDA: host emulation (make CUDA=emu) (compute capability 0.0")
    assert "prefill 16 tokens, decode 4;" in p.stdout
    rows = json.loads((tmp_path / "out" / "gpu.json").read_text())["rows"]
    assert [(r["shape"], r["type"]) for r in rows] == [("tiny", "F16"), ("tiny", "Q4_K_M")]
    for r in rows:
        assert r["prefill_tps"] > 0 and r["decode_tps"] > 0
        assert abs(r["decode_gbs"] - r["bytes_per_token"] * r["decode_tps"] / 1e9) < 1e-9
        assert f"  tiny             {r['type']:7s}" in p.stdout
    assert rows[0]["bytes_per_token"] > 2 * rows[1]["bytes_per_token"]  # F16 against Q4_K_M
    assert not (tmp_path / "work").exists()
