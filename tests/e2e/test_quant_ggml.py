"""Our quantized types against ggml's own, block for block. ggml here is the libggml-base.so
that npm's node-llama-cpp ships (tests/node), driven through ctypes: its reference quantizer
(ggml_quantize_chunk, what llama-quantize calls) and its dequantizers (type traits'
to_float). For every type wk-quantize writes:
  - llama.cpp reads what we write: ggml decodes our blocks to what we decode (wk-inspect
    statistics of the same values);
  - we read what llama.cpp writes: wk-inspect decodes ggml's blocks to what ggml decodes;
  - legacy types without an imatrix: our bytes are ggml's bytes;
  - the k-quants and IQ4: our error is no larger than ggml's (ggml's search is the baseline).
"""
import ctypes
import json
import math

import numpy as np
import pytest

import gguf_read
from conftest import IN_CI, run, tool
from make_inspect_fixtures import write_gguf
from test_convert import NODE_DIR

QUANTIZE, INSPECT = tool("wk-quantize"), tool("wk-inspect")
LIB = NODE_DIR / "node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/libggml-base.so"
# name -> (ggml id, elements per block, bytes per block)
TYPES = {"Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22), "Q5_1": (7, 32, 24),
         "Q8_0": (8, 32, 34), "Q2_K": (10, 256, 84), "Q3_K": (11, 256, 110),
         "Q4_K": (12, 256, 144), "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210),
         "IQ4_NL": (20, 32, 18), "IQ4_XS": (23, 256, 136)}
LEGACY = ["Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0"]
ROWS, COLS = 64, 512


class TypeTraits(ctypes.Structure):
    _fields_ = [("type_name", ctypes.c_char_p), ("blck_size", ctypes.c_int64),
                ("blck_size_interleave", ctypes.c_int64), ("type_size", ctypes.c_size_t),
                ("is_quantized", ctypes.c_bool), ("to_float", ctypes.c_void_p),
                ("from_float_ref", ctypes.c_void_p)]


@pytest.fixture(scope="module")
def ggml():
    if not LIB.exists():
        if IN_CI:
            pytest.fail(f"{LIB} is missing, and CI must have it (tests/node: npm ci)")
        pytest.skip("node-llama-cpp's libggml-base.so not installed (tests/node: npm ci)")
    lib = ctypes.CDLL(str(LIB))
    lib.ggml_get_type_traits.restype = ctypes.POINTER(TypeTraits)
    lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
    lib.ggml_quantize_chunk.restype = ctypes.c_size_t
    lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p,
                                        ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
                                        ctypes.c_void_p]
    assert lib.ggml_get_type_traits(12).contents.type_name == b"q4_K"  # the layout we expect
    return lib


def ggml_quantize(lib, tid, x):
    x = np.ascontiguousarray(x, np.float32)
    _, per, size = next(v for v in TYPES.values() if v[0] == tid)
    out = ctypes.create_string_buffer(x.size // per * size)
    n = lib.ggml_quantize_chunk(tid, x.ctypes.data, out, 0, x.shape[0], x.shape[1], None)
    assert n == len(out.raw)
    return out.raw


def ggml_decode(lib, tid, raw, n):
    tr = lib.ggml_get_type_traits(tid).contents
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(tr.to_float)
    y = np.zeros(n, np.float32)
    buf = ctypes.create_string_buffer(raw, len(raw))
    fn(ctypes.addressof(buf), y.ctypes.data, n)
    return y


def stats_json(path, name):
    doc = json.loads(run([INSPECT, "--stats", "--json", path], check=0).stdout)
    return next(r["stats"] for r in doc["tensors"] if r["name"] == name)


def assert_same_values(stats, y, what):
    y = y.astype(np.float64)
    for key, want in (("min", y.min()), ("max", y.max()), ("mean", y.mean()),
                      ("std", y.std())):
        assert math.isclose(stats[key], want, rel_tol=1e-6, abs_tol=1e-9), (what, key)


@pytest.fixture(scope="module")
def weights():
    g = np.random.default_rng(7)
    x = (g.standard_normal((ROWS, COLS)) * 0.02).astype(np.float32)
    x[5, 17] = 0.4  # an outlier
    x[9, :] = 0.0   # a row of zeros
    return x


def ours(x, type_name, tmp_path):
    """x quantized by wk-quantize: a GGUF of one F32 matrix, given the type as a pure type."""
    src, out = tmp_path / "in.gguf", tmp_path / f"{type_name}.gguf"
    write_gguf(src, {"general.architecture": "llama"},
               [("blk.0.ffn_up.weight", 0, list(x.shape), x.astype("<f4").tobytes())])
    run([QUANTIZE, src, out, type_name, "-q"], check=0)
    typ, shape, raw = gguf_read.read(out)[1]["blk.0.ffn_up.weight"]
    assert typ == TYPES[type_name][0] and shape == list(x.shape)
    return out, raw


@pytest.mark.parametrize("type_name", list(TYPES))
def test_blocks_agree_with_ggml(ggml, weights, type_name, tmp_path):
    tid = TYPES[type_name][0]
    n = weights.size
    out, mine = ours(weights, type_name, tmp_path)
    # llama.cpp reads what we write
    y_ggml_of_ours = ggml_decode(ggml, tid, mine, n)
    assert_same_values(stats_json(out, "blk.0.ffn_up.weight"), y_ggml_of_ours, "ours")
    # we read what llama.cpp writes
    theirs = ggml_quantize(ggml, tid, weights)
    path = tmp_path / "theirs.gguf"
    write_gguf(path, {"general.architecture": "llama"},
               [("blk.0.ffn_up.weight", tid, list(weights.shape), theirs)])
    y_theirs = ggml_decode(ggml, tid, theirs, n)
    assert_same_values(stats_json(path, "blk.0.ffn_up.weight"), y_theirs, "ggml's")
    # and the error: identical bytes for the round-to-nearest types, else no worse
    x = weights.reshape(-1).astype(np.float64)
    rmse_ours = math.sqrt(np.mean((x - y_ggml_of_ours) ** 2))
    rmse_theirs = math.sqrt(np.mean((x - y_theirs) ** 2))
    if type_name in LEGACY:
        assert mine == theirs
    else:
        assert rmse_ours <= rmse_theirs * 1.002, (type_name, rmse_ours, rmse_theirs)


def test_real_weights_no_worse_than_ggml(ggml, student256, tmp_path):
    """On a trained model's matrices (student256), every k-quant and IQ4 type."""
    import torch_llama_ref as ref
    w = ref.load_safetensors_dir(student256)
    mats = [w[k].numpy() for k in sorted(w) if w[k].dim() == 2][:6]
    x = np.concatenate([m.reshape(-1, 256) for m in mats])[:2048]
    worse = {}
    for type_name in ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"]:
        tid = TYPES[type_name][0]
        _, mine = ours(x, type_name, tmp_path)
        a = ggml_decode(ggml, tid, mine, x.size)
        b = ggml_decode(ggml, tid, ggml_quantize(ggml, tid, x), x.size)
        flat = x.reshape(-1).astype(np.float64)
        ra, rb = np.sqrt(np.mean((flat - a) ** 2)), np.sqrt(np.mean((flat - b) ** 2))
        if ra > rb:
            worse[type_name] = (ra, rb)
    assert not worse, worse
