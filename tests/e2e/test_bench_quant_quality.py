"""bench/quant_quality.py (wk-quantize against llama.cpp's quantizer, docs/quantization.md),
run as a user runs it, with stand-ins for llama-quantize: one that is wk-quantize itself
(so both columns must agree to the byte and the probability), one that picks another type,
and ones that refuse as llama-quantize does or fail otherwise. The figures themselves are
the e2e quality test's business; here the wiring, the pooling and the refusals are."""
import os
import re
import subprocess

import pytest

from conftest import BIN, IN_CI, ROOT
from test_convert import NODE_DIR

pytestmark = pytest.mark.slow

SCRIPT = ROOT / "bench" / "quant_quality.py"
PARAS = ("Once upon a time, there was a little dog named Max. Max liked to run in the park.\n\n"
         "One day, Max found a big stick. He was very happy and took it home to his mom.\n")


def stand_in(tmp_path, name, body):
    p = tmp_path / name
    p.write_text(f"#!/bin/sh\n{body}\n")
    p.chmod(0o755)
    return p


def bench(args, tmp_path, timeout=600):
    env = dict(os.environ, WK_BIN=str(BIN))
    env.pop("WK_REF_QUANTIZE", None)
    return subprocess.run(["/usr/bin/python3", SCRIPT, *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=timeout, cwd=tmp_path)


def rows(out, title):
    """{recipe: [cells]} of the table under the line that starts with title."""
    block = out.split(title, 1)[1].split("\n\n", 2)[1]
    return {c[0]: c[1:] for c in (
        [x.strip() for x in line.strip("|").split("|")] for line in block.splitlines()[2:])}


def need_node():
    if not (NODE_DIR / "node_modules" / "node-llama-cpp").exists():
        if IN_CI:
            pytest.fail("node-llama-cpp is missing, and CI must have it")
        pytest.skip("node-llama-cpp not installed (tests/node: npm ci)")


def test_columns_agree_when_the_reference_is_ours_and_texts_pool(student256, tmp_path):
    need_node()
    (tmp_path / "a.txt").write_text(PARAS)
    (tmp_path / "b.txt").write_text(PARAS.split("\n\n")[1])
    # Ours at Q8_0; at Q4_0 it answers with Q4_1, so the types must be reported as differing.
    ref = stand_in(tmp_path, "ref.sh", f'r=$3; [ "$r" = Q4_0 ] && r=Q4_1\n'
                   f'exec {BIN}/wk-quantize "$1" "$2" "$r" -q')
    p = bench(["--ref", ref, "--model", student256, "--recipes", "Q8_0,Q4_0", "--text",
               tmp_path / "a.txt", "--text", tmp_path / "b.txt"], tmp_path)
    assert p.returncode == 0, p.stderr
    a, b = rows(p.stdout, "student256-hf, a.txt"), rows(p.stdout, "student256-hf, b.txt")
    both = rows(p.stdout, "student256-hf, all texts pooled")
    n_a, n_b, n_all = (int(re.search(re.escape(t) + r" \((\d+) positions", p.stdout)[1])
                       for t in ("a.txt", "b.txt", "all texts pooled"))
    assert n_a > n_b > 10 and n_all == n_a + n_b
    q8 = a["Q8_0"]
    assert q8[0] == q8[1] and q8[2] == q8[3] and q8[4] == "0 (same output)", q8
    assert q8[5] == q8[6] and q8[7] == q8[8], q8
    kld8, kld4 = float(q8[2]), float(a["Q4_0"][2])
    assert 0 < kld8 < kld4 < 0.05 and float(q8[7]) > 0.9
    q4 = a["Q4_0"]
    assert int(q4[0].replace(",", "")) < int(q4[1].replace(",", "")), "Q4_1 is larger"
    assert re.fullmatch(r"[+-]\d\.\d{6} \(±\d\.\d{6}\)", q4[4]), q4
    # b.txt is a.txt's second paragraph, scored from BOS as there: the pooled mean is the
    # position-weighted mean of the two.
    for r in ("Q8_0", "Q4_0"):
        want = (float(a[r][2]) * n_a + float(b[r][2]) * n_b) / n_all
        assert abs(float(both[r][2]) - want) < 2e-6, (r, both[r], want)
    assert "Q4_0: tensor types differ at 29 tensors" in p.stdout, p.stdout
    assert re.search(r"- Q8_0: the same type for every tensor and tensor data of the same size; "
                     r"headers and metadata \(ours, llama.cpp's\) ([\d,]+) B and \1 B\n",
                     p.stdout), p.stdout


def test_refusals_are_figures_and_other_failures_say_why(student256, tmp_path):
    need_node()
    (tmp_path / "t.txt").write_text(PARAS)
    refuse = stand_in(tmp_path, "refuse.sh", (
        "echo 'warning: token_embd.weight - ncols 64 not divisible by 256 (required for type "
        "q6_K) -> falling back to q8_0' >&2\necho 'warning: blk.0.ffn_down.weight - ncols 172 "
        "not divisible by 32 (required for type q8_0) llama_model_quantize: failed to quantize:"
        " no tensor type fallback is defined for type q8_0' >&2\n"
        "echo \"llama_quantize: failed to quantize model from '$1'\" >&2\nexit 1"))
    p = bench(["--ref", refuse, "--model", student256, "--recipes", "Q8_0", "--text",
               tmp_path / "t.txt"], tmp_path)
    assert p.returncode == 0, p.stderr
    q8 = rows(p.stdout, "student256-hf, t.txt")["Q8_0"]
    assert q8[1] == q8[3] == q8[6] == q8[8] == "refused" and q8[4] == "—", q8
    assert float(q8[2]) < 1e-3
    assert ("- llama-quantize Q8_0: blk.0.ffn_down.weight - ncols 172 not divisible by 32 "
            "(required for type q8_0): no tensor type fallback is defined for type q8_0") \
        in p.stdout
    broken = stand_in(tmp_path, "broken.sh", "echo starting; echo 'out of cheese' >&2; exit 3")
    p = bench(["--ref", broken, "--model", student256, "--recipes", "Q8_0", "--text",
               tmp_path / "t.txt"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert "- llama-quantize Q8_0: exit 3: out of cheese" in p.stdout


def test_bad_inputs_are_refused_clearly(student256, tmp_path):
    need_node()
    long = tmp_path / "long.txt"
    long.write_text("the cat sat on the mat and " * 80)
    p = bench(["--model", student256, "--recipes", "Q8_0", "--text", long], tmp_path)
    assert p.returncode == 1
    assert re.search(r"long\.txt: a paragraph is \d+ tokens, more than student256-hf's "
                     r"context 256; split it", p.stderr), p.stderr
    p = bench(["--ref", tmp_path / "nothing-here", "--model", student256], tmp_path)
    assert p.returncode == 1 and "nothing-here is not an executable llama-quantize" in p.stderr
