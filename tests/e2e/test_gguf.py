"""GGUF reading and writing end to end.

- Every malformed file of tests/fixtures/make_bad_gguf.py must fail cleanly through
  wk_source_open (build/gen/gguf-check): exit 1, a message naming the file and the broken
  rule, no crash (and the same for wk-inspect when it is built).
- A file written by our writer (build/gen/gguf-write-sample) is read by an independent
  parser, node-llama-cpp's readGgufFileInfo (tests/node/gguf_info.mjs): every key, value,
  tensor name, ggml shape and offset must be what the sample wrote, the tensor bytes must
  sit where node says, and weightkit.tensor_xxh64 must match a pure-Python xxh64."""
import json
import os
import shutil
import struct

import pytest

import make_bad_gguf
from conftest import BIN, GEN, IN_CI, ROOT, run, tool

CHECK = GEN / "gguf-check"
NODE_DIR = ROOT / "tests" / "node"


# ---- malformed files ----

def test_corpus_is_large_enough():
    assert len(make_bad_gguf.CASES) >= 18


def test_valid_base_file_passes(tmp_path):
    """The corpus builder's untouched base file is valid, so each case fails for its own
    defect."""
    p = tmp_path / "valid.gguf"
    p.write_bytes(make_bad_gguf.valid())
    r = run([CHECK, p], check=0)
    assert "ok: 2 tensors, checksums absent" in r.stdout


@pytest.mark.parametrize("name", sorted(make_bad_gguf.CASES))
def test_malformed_gguf_fails_cleanly(tmp_path, name):
    blob, fragment = make_bad_gguf.CASES[name]
    p = tmp_path / name
    p.write_bytes(blob)
    r = run([CHECK, p], check=1)
    assert r.stderr.startswith(f"gguf-check: error: {p}: "), r.stderr
    assert fragment in r.stderr, r.stderr
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    if (BIN / "wk-inspect").exists():
        # a header-only look cannot see a checksum defect; --stats reads and checks the data
        checksum_case = name in make_bad_gguf.CHECKSUM_CASES
        r = run([tool("wk-inspect"), *(["--stats"] if checksum_case else []), p])
        assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
        assert str(p) in r.stderr, r.stderr
        assert not checksum_case or fragment in r.stderr, r.stderr
        assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr


# ---- an independent reader of what we write ----

M64 = (1 << 64) - 1
P1, P2, P3, P4, P5 = (11400714785074694791, 14029467366897019727, 1609587929392839161,
                      9650029242287828579, 2870177450012600261)


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M64


def _round(acc, lane):
    return (_rotl((acc + lane * P2) & M64, 31) * P1) & M64


def xxh64(data, seed=0):
    """XXH64 from the xxHash specification (doc/xxhash_spec.md), for cross-checking."""
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed, (seed - P1) & M64]
        while i + 32 <= n:
            for k in range(4):
                v[k] = _round(v[k], struct.unpack_from("<Q", data, i + 8 * k)[0])
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & M64
        for k in range(4):
            h = ((h ^ _round(0, v[k])) * P1 + P4) & M64
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        h ^= _round(0, struct.unpack_from("<Q", data, i)[0])
        h = (_rotl(h, 27) * P1 + P4) & M64
        i += 8
    if i + 4 <= n:
        h ^= (struct.unpack_from("<I", data, i)[0] * P1) & M64
        h = (_rotl(h, 23) * P2 + P3) & M64
        i += 4
    while i < n:
        h ^= (data[i] * P5) & M64
        h = (_rotl(h, 11) * P1) & M64
        i += 1
    h ^= h >> 33
    h = (h * P2) & M64
    h ^= h >> 29
    h = (h * P3) & M64
    return h ^ (h >> 32)


def test_python_xxh64_matches_known_vectors():
    assert xxh64(b"") == 0xEF46DB3751D8E999
    assert xxh64(b"a") == 0xD24EC4F1A98C6E5B
    assert xxh64(b"abc") == 0x44BC2CF5AD770999


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def big(v):
    return {"bigint": str(v)}


# What tests/gen/gguf-write-sample.c writes, as node-llama-cpp reports it (u64 and i64
# come back as BigInt, every other number as a JS number).
SAMPLE_METADATA = {
    "general.architecture": "llama",
    "general.name": "h\u00e9llo w\u00f6rld \u2603",
    "general.alignment": 64,
    "llama.context_length": 128,
    "test.i32": -7,
    "test.u64": big(9223372036854775813),
    "test.u64_small": big(12345),
    "test.f32": f32(0.1),
    "test.bool_true": True,
    "test.bool_false": False,
    "test.replaced": "new",
    "test.arr_str": ["a", "", "\u00fc", "with space"],
    "test.arr_str_empty": [],
    "test.arr_f32_empty": [],
    "test.arr_i8": [-128, 0, 127],
    "test.arr_u8": [0, 1, 255],
    "test.arr_u16": [0, 65535],
    "test.arr_i16": [-32768, 32767],
    "test.arr_u32": [4294967295, 7],
    "test.arr_i32": [-2147483648, 2147483647],
    "test.arr_f32": [f32(0.1), -2.5, f32(3.0e38)],
    "test.arr_bool": [True, False, True],
    "test.arr_u64": [big(18446744073709551615), big(9007199254740993), big(3)],
    "test.arr_i64": [big(-9223372036854775808), big(-1)],
    "test.arr_f64": [3.141592653589793, -1e-300],
    "weightkit.version": None,  # checked against common/version.h below
    "weightkit.tool": "gguf-write-sample",
    "weightkit.sources": ["model.safetensors", "config.json"],
    "weightkit.tensor_xxh64": None,  # checked against the data below
    "weightkit.tensor_infos_xxh64": None,  # checked against the tensor infos below
}
# name, shape outermost first, ggml type id, bytes
SAMPLE_TENSORS = [
    ("token_embd.weight", [4, 8], 0, 4 * 8 * 4),
    ("blk.0.attn_norm.weight", [8], 1, 8 * 2),
    ("blk.0.ffn_up.weight", [3, 8], 30, 3 * 8 * 2),
    ("blk.0.attn_q.weight", [2, 64], 8, 2 * 2 * 34),
    ("output.weight", [5, 3], 0, 5 * 3 * 4),
    ("rope_freqs", [2, 1, 3], 26, 2 * 1 * 3 * 4),
]
ALIGN = 64


def node_info(path):
    if shutil.which("node") is None or not (NODE_DIR / "node_modules" / "node-llama-cpp").exists():
        if IN_CI:
            pytest.fail("node and tests/node/node_modules are required in CI")
        pytest.skip("node or tests/node/node_modules missing (run npm ci in tests/node)")
    r = run(["node", NODE_DIR / "gguf_info.mjs", path], check=0)
    return json.loads(r.stdout)


def test_written_gguf_matches_node_reader(tmp_path):
    path = tmp_path / "sample.gguf"
    run([GEN / "gguf-write-sample", path], check=0)
    r = run([CHECK, path], check=0)
    assert "6 tensors, checksums verified" in r.stdout
    assert [p.name for p in tmp_path.iterdir()] == ["sample.gguf"], "no temp file left"

    info = node_info(path)
    assert info["version"] == 3
    assert info["tensorCount"] == len(SAMPLE_TENSORS)
    meta = info["metadata"]
    assert sorted(meta) == sorted(SAMPLE_METADATA)
    for key, want in SAMPLE_METADATA.items():
        if want is not None:
            assert meta[key] == want, (key, meta[key], want)
    version_h = (ROOT / "common" / "version.h").read_text()
    assert f'"{meta["weightkit.version"]}"' in version_h

    data = path.read_bytes()
    assert info["infoEndOffset"] % ALIGN == 0
    assert len(info["tensors"]) == len(SAMPLE_TENSORS)
    offset = 0
    sums = []
    infos = b""  # the tensor-info section as GGUF v3 lays it out
    for i, (t, (name, shape, gtype, nbytes)) in enumerate(zip(info["tensors"], SAMPLE_TENSORS)):
        infos += (struct.pack("<Q", len(name)) + name.encode() + struct.pack("<I", len(shape))
                  + b"".join(struct.pack("<Q", n) for n in shape[::-1])
                  + struct.pack("<IQ", gtype, offset))
        assert t["name"] == name
        assert t["dimensions"] == shape[::-1], (name, t["dimensions"])
        assert t["ggmlType"] == gtype, name
        assert t["offset"] == offset, (name, t["offset"], offset)
        assert t["fileOffset"] == info["infoEndOffset"] + offset
        stored = data[t["fileOffset"]:t["fileOffset"] + nbytes]
        assert stored == bytes((31 * i + 7 * j + 1) % 256 for j in range(nbytes)), name
        padded = -(-nbytes // ALIGN) * ALIGN
        assert data[t["fileOffset"] + nbytes:t["fileOffset"] + padded] == b"\0" * (padded - nbytes)
        sums.append(big(xxh64(stored)))
        offset += padded
    assert len(data) == info["infoEndOffset"] + offset
    assert meta["weightkit.tensor_xxh64"] == sums
    assert meta["weightkit.tensor_infos_xxh64"] == big(xxh64(infos))
    assert infos in data, "the section hashed is the file's own"


def test_gguf_check_rejects_corrupted_sample(tmp_path):
    """One flipped data byte in a written file is caught by the checksums."""
    path = tmp_path / "sample.gguf"
    run([GEN / "gguf-write-sample", path], check=0)
    data = bytearray(path.read_bytes())
    data[-ALIGN + 10] ^= 0x01  # inside rope_freqs (24 bytes, padded to 64)
    path.write_bytes(bytes(data))
    r = run([CHECK, path], check=1)
    assert "checksum mismatch in tensor 'rope_freqs'" in r.stderr, r.stderr
    assert os.fspath(path) in r.stderr
