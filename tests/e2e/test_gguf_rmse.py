"""gguf-rmse, the helper bench/quantize.sh measures quantization error with: a file against
itself is exact, hand-made perturbations give their known RMSE per type and overall,
wk-quantize's own per-tensor report agrees with it, the thread count changes nothing, and
mismatched files fail naming the tensor."""
import json
import math
import os
import struct

import numpy as np
import pytest

from conftest import GEN, run, tool
from make_inspect_fixtures import write_gguf

RMSE = GEN / "gguf-rmse"
GGML_F32, GGML_F16, GGML_Q8_0, GGML_IQ2_XXS = 0, 1, 8, 16
KV = {"general.architecture": "llama"}


def rmse_json(*args, env=None):
    return json.loads(run([RMSE, "--json", *args], check=0, env=env).stdout)


def f32(a):
    return np.asarray(a, dtype="<f4").tobytes()


def q8_0(q, d):
    """Q8_0 blocks (ggml-common.h: binary16 scale, 32 int8 quants): value = d * q."""
    q = np.asarray(q, dtype=np.int8).reshape(-1, 32)
    return b"".join(struct.pack("<e", d) + row.tobytes() for row in q)


@pytest.fixture
def files(tmp_path):
    """A reference of F32 tensors and a copy with known errors: 'a' as F16 off by +-0.25,
    'b' as Q8_0 (scale 0.5) off by +-0.125, 'c' unchanged F32."""
    rng = np.random.default_rng(5)
    a = rng.integers(-64, 64, (4, 64)) / 16.0            # exact in F16
    sign_a = np.where(np.arange(a.size).reshape(a.shape) % 3 == 0, 1.0, -1.0)
    q = rng.integers(-127, 128, (2, 32))
    sign_b = np.where(np.arange(q.size).reshape(q.shape) % 2 == 0, 1.0, -1.0)
    c = rng.standard_normal(8)
    ref, oth = tmp_path / "ref.gguf", tmp_path / "other.gguf"
    write_gguf(ref, KV, [("a", GGML_F32, [4, 64], f32(a)),
                         ("b", GGML_F32, [2, 32], f32(0.5 * q + 0.125 * sign_b)),
                         ("c", GGML_F32, [8], f32(c))])
    write_gguf(oth, KV, [("a", GGML_F16, [4, 64], (a + 0.25 * sign_a).astype("<f2").tobytes()),
                         ("b", GGML_Q8_0, [2, 32], q8_0(q, 0.5)),
                         ("c", GGML_F32, [8], f32(c))])
    return ref, oth, a


def test_a_file_against_itself_is_exact(files):
    ref, _, _ = files
    doc = rmse_json(ref, ref)
    assert doc["all"]["tensors"] == 0 and doc["skipped"] == 3 and doc["all"]["rmse"] == 0
    doc = rmse_json("--all", ref, ref)
    assert doc["all"]["tensors"] == 3 and doc["skipped"] == 0
    assert doc["all"]["rmse"] == 0 and doc["all"]["max_abs_error"] == 0
    assert doc["all"]["values"] == 256 + 64 + 8


def test_known_perturbations_give_known_rmse(files):
    ref, oth, a = files
    doc = rmse_json(ref, oth)
    assert doc["skipped"] == 1
    by_name = {t["name"]: t for t in doc["tensors"]}
    assert set(by_name) == {"a", "b"}
    assert by_name["a"]["reference_type"] == "F32" and by_name["a"]["type"] == "F16"
    assert by_name["a"]["rmse"] == pytest.approx(0.25, rel=1e-12)
    assert by_name["a"]["rel_rmse"] == pytest.approx(0.25 / math.sqrt(np.mean(a * a)), rel=1e-9)
    assert by_name["b"]["type"] == "Q8_0" and by_name["b"]["rmse"] == pytest.approx(0.125)
    assert by_name["b"]["max_abs_error"] == pytest.approx(0.125)
    types = {t["type"]: t for t in doc["types"]}
    assert types["F16"]["tensors"] == 1 and types["F16"]["rmse"] == pytest.approx(0.25)
    assert types["Q8_0"]["values"] == 64 and types["Q8_0"]["rmse"] == pytest.approx(0.125)
    want = math.sqrt((256 * 0.25 ** 2 + 64 * 0.125 ** 2) / 320)
    assert doc["all"]["tensors"] == 2 and doc["all"]["rmse"] == pytest.approx(want, rel=1e-12)
    assert doc["all"]["max_abs_error"] == pytest.approx(0.25)


def test_text_output_has_a_row_per_type_and_the_total(files):
    ref, oth, _ = files
    out = run([RMSE, ref, oth], check=0).stdout.splitlines()
    assert "2 tensors compared, 1 of the same type skipped" in out[0]
    assert out[1].split() == ["type", "tensors", "values", "rmse", "rel_rmse", "max_err"]
    rows = {line.split()[0]: line.split() for line in out[2:]}
    assert set(rows) == {"F16", "Q8_0", "all"}
    assert rows["Q8_0"][1:3] == ["1", "64"] and float(rows["Q8_0"][3]) == pytest.approx(0.125)
    assert float(rows["all"][3]) == pytest.approx(math.sqrt((256 / 16 + 64 / 64) / 320), rel=1e-6)


def test_agrees_with_wk_quantize_report_on_any_thread_count(tmp_path):
    run([GEN / "gen-llama", "--preset", "tiny", "--layers", "1", "--seed", "4", "-o",
         tmp_path / "hf"], check=0)
    f16 = tmp_path / "f16.gguf"
    run([tool("wk-convert"), tmp_path / "hf", "-o", f16, "--outtype", "f16", "-q"], check=0)
    out = tmp_path / "q.gguf"
    report = json.loads(run([tool("wk-quantize"), f16, out, "Q4_K_M", "--json"], check=0).stdout)
    want = {t["name"]: (t["type"], t["rmse"]) for t in report["tensors"] if t["rmse"] is not None}
    env1 = dict(os.environ, OMP_NUM_THREADS="1")
    env3 = dict(os.environ, OMP_NUM_THREADS="3")
    doc = rmse_json(f16, out, env=env1)
    assert rmse_json(f16, out, env=env3) == doc
    got = {t["name"]: (t["type"], t["rmse"]) for t in doc["tensors"]}
    assert got.keys() == want.keys() and {t for t, _ in got.values()} >= {"Q4_K", "Q6_K"}
    for name, (typ, value) in want.items():
        assert got[name][0] == typ
        assert got[name][1] == pytest.approx(value, rel=1e-9), name


@pytest.mark.parametrize("case,message", [
    ("missing", "tensor 'b' of the reference"),
    ("extra", "tensor 'z' is not in the reference"),
    ("shape", "tensor 'a': shape [2, 128], but [4, 64] in the reference"),
    ("undecodable", "tensor 'a': cannot decode type IQ2_XXS"),
])
def test_mismatched_files_fail_naming_the_tensor(tmp_path, case, message):
    ref, oth = tmp_path / "ref.gguf", tmp_path / "bad.gguf"
    zeros = f32(np.zeros((4, 64)))
    write_gguf(ref, KV, [("a", GGML_F32, [4, 64], zeros), ("b", GGML_F32, [8], f32(np.zeros(8)))])
    tensors = {
        "missing": [("a", GGML_F32, [4, 64], zeros)],
        "extra": [("a", GGML_F32, [4, 64], zeros), ("b", GGML_F32, [8], f32(np.zeros(8))),
                  ("z", GGML_F32, [8], f32(np.zeros(8)))],
        "shape": [("a", GGML_F32, [2, 128], zeros), ("b", GGML_F32, [8], f32(np.zeros(8)))],
        "undecodable": [("a", GGML_IQ2_XXS, [1, 256], bytes(66)),
                        ("b", GGML_F16, [8], bytes(16))],
    }[case]
    if case == "undecodable":  # shapes must agree for the type to be looked at
        write_gguf(ref, KV, [("a", GGML_F32, [1, 256], f32(np.zeros(256))),
                             ("b", GGML_F32, [8], f32(np.zeros(8)))])
    write_gguf(oth, KV, tensors)
    p = run([RMSE, ref, oth], check=1)
    assert message in p.stderr and p.stderr.startswith("gguf-rmse: error:") and not p.stdout


def test_usage_errors(tmp_path):
    assert "expected at least 2 files, got 1" in run([RMSE, tmp_path / "x"], check=2).stderr
    p = run([RMSE, tmp_path / "nope.gguf", tmp_path / "nope.gguf"], check=1)
    assert "nope.gguf" in p.stderr
