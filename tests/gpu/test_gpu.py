"""The CUDA backend against the CPU engine, on a machine with an NVIDIA GPU (make test-gpu runs
tests/gpu/run.sh, which runs these; docs/cuda.md). Without a usable GPU every test skips,
saying why.

- For every type the backend runs, on stories260k, student256 and a 1.1B-shaped model from
  gen-llama (each matrix of one type, as `wk-quantize IN OUT TYPE` writes it, and the Q4_K_M
  recipe): the logits of a prompt (one batch: the prefill kernels) and of a greedy
  continuation (one token a pass: the decoding graph) equal the CPU engine's within the
  tolerances of docs/cuda.md, and the continuation is the CPU's, unless the CPU's own two
  best logits were closer than that tolerance where the two first differ.
- The GPU gives the same bits whatever the batch size, and with or without the graph.
- wk-verify of Q4_K_M against its F16 on the GPU gives the CPU's PPL and KLD within 1e-3
  relative where the CPU itself holds that (VERIFY_TOL below says where it does not).
- A context that cannot fit says how much it needs and how much is free.
- compute-sanitizer (when the toolkit has it) finds no memory error and no shared-memory race
  in a prompt and a few decoding steps of the float, legacy and k-quant kernels.

Runs with pytest, or without it as `python3 tests/gpu/test_gpu.py`; needs no NumPy (uses it
when it is there, for speed). Every measured difference is also written to WK_GPU_REPORT
(default build-cuda/gpu/gpu-tests.json)."""
import array
import ast
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

try:
    import pytest
except ImportError:  # the plain runner at the end
    pytest = None
try:
    import numpy as np
except ImportError:  # the comparisons then run in plain Python, slower
    np = None

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("WK_BIN", ROOT / "bin-cuda"))
GEN = pathlib.Path(os.environ.get("WK_GEN", ROOT / "build-cuda" / "gen"))
REPORT = pathlib.Path(os.environ.get("WK_GPU_REPORT",
                                      ROOT / "build-cuda" / "gpu" / "gpu-tests.json"))
THREADS = str(os.cpu_count() or 1)
PROMPT = "Once upon a time there was a little girl who"
N_PREDICT = 24

# Tolerances (docs/cuda.md), over the logits rows both runs share (up to the first token the
# continuations differ in): the largest per-row |GPU - CPU| over the largest |CPU|, the mean
# |GPU - CPU| over the mean |CPU|, and the mean KL divergence of the GPU's next-token
# distributions from the CPU's. Each is held to the larger of a floor and 3 x what the CPU
# engine itself shows between its two paths (the prompt in one batch, and one token a pass),
# measured on the same case: both are correct, they add in other orders, and with quantized
# weights an activation then lands on the other side of a rounding step now and then, which a
# random 1.1B model amplifies (up to 5.6e-2 per row, 4.2e-2 mean, 7e-4 KLD on the CPU alone).
FLOORS = {"float": (1e-4, 1e-5, 1e-6), "quant": (3e-2, 1e-2, 5e-4)}
SPREAD_FACTOR = 3
# wk-verify (Q4_K_M against F16), relative: the F16 reference's PPL, the candidate's PPL and
# KLD. The issue asks 1e-3; the CPU alone, batch against one token a pass, moves the 1.1B's
# KLD by 1.05e-3 and its Q4_K_M PPL by 3e-4, student256's KLD by 1.1e-2 and PPL by 1.0e-3.
VERIFY_TOL = {"tinyllama-1.1b": (1e-3, 1e-3, 5e-3), "student256": (1e-3, 3e-3, 3e-2)}
FLOAT_TYPES = ("F32", "F16", "BF16")
TYPES = FLOAT_TYPES + ("Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K", "Q4_K_M")
MODELS = tuple(os.environ.get("WK_GPU_MODELS", "stories260k student256 tinyllama-1.1b").split())
# The device the "GPU" side runs on: cpu checks this harness itself on a machine without a
# GPU (the logits and wk-verify tests then compare the CPU with itself).
DEVICE = os.environ.get("WK_GPU_DEVICE", "cuda")


class Skip(Exception):
    pass


def skip(why):
    if pytest:
        pytest.skip(why)
    raise Skip(why)


def parametrize(name, values):
    def wrap(f):
        f.cases = list(values)
        return pytest.mark.parametrize(name, f.cases)(f) if pytest else f
    return wrap


def run(args, check=None, env=None):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})), timeout=600)
    if check is not None:
        assert p.returncode == check, (
            f"{args} exited {p.returncode}, expected {check}\n{p.stdout}\n{p.stderr}")
    return p


_gpu = {}


def need_gpu():
    if DEVICE == "cpu":
        return
    if "line" not in _gpu:
        p = run([GEN / "cuda-bw", "--size", "64M", "--rounds", "1"])
        _gpu["line"] = p.stdout.strip() if p.returncode == 0 else None
        _gpu["why"] = (p.stderr or p.stdout).strip()
    if not _gpu["line"]:
        skip(f"no usable GPU: {_gpu['why']}")


def record(key, value):
    data = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    data[key] = value
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(data, indent=1, sort_keys=True))


# ---- the models ----

_work = {}


def work():
    if "dir" not in _work:
        base = os.environ.get("WK_GPU_WORK")
        _work["dir"] = pathlib.Path(base or tempfile.mkdtemp(prefix="wk-gpu-"))
        _work["dir"].mkdir(parents=True, exist_ok=True)
    return _work["dir"]


def shared():
    for p in (os.environ.get("WK_SHARED"), ROOT / "shared", ROOT.parent / "shared"):
        if p and (pathlib.Path(p) / "models").is_dir():
            return pathlib.Path(p)
    skip("no shared/models (set WK_SHARED, or copy ../shared into the repository)")


def base_model(name):
    """The model's GGUF that every type is quantized from (F32; F16 for the 1.1B)."""
    out = work() / f"{name}-base.gguf"
    if out.exists():
        return out
    if name == "tinyllama-1.1b":
        hf = work() / "tinyllama-1.1b-hf"
        run([GEN / "gen-llama", "--preset", "tinyllama-1.1b", "--dtype", "f16", "-o", hf],
            check=0)
        run([BIN / "wk-convert", hf, "-o", out, "--outtype", "f16", "-q"], check=0)
        shutil.rmtree(hf)
    else:
        run([BIN / "wk-convert", shared() / "models" / f"{name}-hf", "-o", out, "--outtype",
             "f32", "-q"], check=0)
    return out


def model(name, ty):
    base = base_model(name)
    if ty == ("F16" if name == "tinyllama-1.1b" else "F32"):
        return base
    out = work() / f"{name}-{ty}.gguf"
    if not out.exists():
        run([BIN / "wk-quantize", base, out, ty, "--threads", THREADS, "-q"], check=0)
    return out


# ---- logits ----

def load_npy(path):
    """A float32 .npy as (rows, cols, flat array)."""
    data = path.read_bytes()
    assert data[:6] == b"\x93NUMPY"
    hlen = int.from_bytes(data[8:10], "little") if data[6] == 1 else \
        int.from_bytes(data[8:12], "little")
    start = 10 + hlen if data[6] == 1 else 12 + hlen
    header = ast.literal_eval(data[start - hlen:start].decode("latin1"))
    assert header["descr"] == "<f4" and not header["fortran_order"]
    rows, cols = header["shape"]
    a = array.array("f")
    a.frombytes(data[start:])
    return rows, cols, a


def logits(gguf, device, out, extra=(), env=None):
    p = run([BIN / "wk-run", gguf, "-p", PROMPT, "-n", N_PREDICT, "--temp", "0", "--ignore-eos",
             "-q", "--logits", out, "--device", device, *extra], check=0, env=env)
    return p.stdout, load_npy(out)


def argmax(a, r, cols):
    row = a[r * cols:(r + 1) * cols]
    return max(range(cols), key=row.__getitem__)


def row_stats(ra, rb):
    """|a - b| summed and at most, |a| summed and at most, KL(softmax(a) || softmax(b)); in
    float64 either way (NumPy, when there is one, only makes it fast)."""
    if np is not None:
        a, b = np.asarray(ra, np.float64), np.asarray(rb, np.float64)
        dev, la, lb = np.abs(a - b), a - a.max(), b - b.max()
        la, lb = la - np.log(np.exp(la).sum()), lb - np.log(np.exp(lb).sum())
        kld = float((np.exp(la) * (la - lb)).sum())
        return float(dev.sum()), float(dev.max()), float(np.abs(a).sum()), \
            float(np.abs(a).max()), kld
    dev = [abs(x - y) for x, y in zip(ra, rb)]
    ma, mb = max(ra), max(rb)
    la = math.log(sum(math.exp(x - ma) for x in ra)) + ma
    lb = math.log(sum(math.exp(y - mb) for y in rb)) + mb
    kld = sum(math.exp(x - la) * ((x - la) - (y - lb)) for x, y in zip(ra, rb))
    return sum(dev), max(dev), sum(abs(x) for x in ra), max(abs(x) for x in ra), kld


def differences(ref, other):
    """How other's logits differ from ref's over the rows they share (the same tokens in):
    {max_rel, mean_rel, kld, rows, diverged_at, gap_rel (ref's top-two gap there)}."""
    rows, cols, a = ref
    b = other[2]
    assert other[0] == rows and other[1] == cols
    # row r is after token r; the continuation's tokens are the argmax of rows n_prompt - 1 ..
    n_prompt = rows - N_PREDICT + 1
    diverge = next((r for r in range(n_prompt - 1, rows)
                    if argmax(a, r, cols) != argmax(b, r, cols)), None)
    upto = rows - 1 if diverge is None else diverge
    worst = dsum = asum = kld = 0.0
    for r in range(upto + 1):
        d, dmax, s, smax, k = row_stats(a[r * cols:(r + 1) * cols], b[r * cols:(r + 1) * cols])
        worst, dsum, asum, kld = max(worst, dmax / (smax or 1.0)), dsum + d, asum + s, kld + k
    out = {"max_rel": worst, "mean_rel": dsum / (asum or 1.0), "kld": kld / (upto + 1),
           "rows": upto + 1, "diverged_at": diverge}
    if diverge is not None:
        row = sorted(a[diverge * cols:(diverge + 1) * cols], reverse=True)
        out["gap_rel"] = (row[0] - row[1]) / max(abs(row[0]), abs(row[-1]))
    return out


CASES = [(m, t) for m in MODELS for t in TYPES if not (m == "tinyllama-1.1b" and t == "F32")]
VERIFY = [m for m in ("tinyllama-1.1b", "student256") if m in MODELS]
KEYS = ("max_rel", "mean_rel", "kld")


@parametrize("case", CASES)
def test_logits_match_the_cpu(case):
    need_gpu()
    name, ty = case
    gguf = model(name, ty)
    cpu_text, cpu = logits(gguf, "cpu", work() / "cpu.npy")
    _, one = logits(gguf, "cpu", work() / "cpu1.npy", ["-b", "1"])
    gpu_text, gpu = logits(gguf, DEVICE, work() / "gpu.npy")
    spread, got = differences(cpu, one), differences(cpu, gpu)
    floors = FLOORS["float" if ty in FLOAT_TYPES else "quant"]
    tol = {k: max(f, SPREAD_FACTOR * spread[k]) for k, f in zip(KEYS, floors)}
    record(f"logits {name} {ty}", {"gpu": got, "cpu_spread": spread, "tolerance": tol})
    for k in KEYS:
        assert got[k] <= tol[k], f"{name} {ty}: {k} {got[k]:.3g} > {tol[k]:.3g}: {got}"
    if got["diverged_at"] is None:
        assert gpu_text == cpu_text
    else:  # only where the CPU's own two best logits all but tied
        assert got["gap_rel"] <= tol["max_rel"], f"{name} {ty}: the continuations differ: {got}"


@parametrize("case", [c for c in (("student256", "Q4_K_M"), ("stories260k", "F16"),
                                   ("tinyllama-1.1b", "Q4_K"), ("tinyllama-1.1b", "BF16"))
                      if c[0] in MODELS])
def test_batches_and_the_graph_change_no_bit(case):
    need_gpu()
    gguf = model(*case)
    _, want = logits(gguf, "cuda", work() / "b0.npy")
    for extra, env in (((["-b", "1"]), None), ((["-b", "5"]), None),
                       ((), {"WK_CUDA_GRAPH": "0"}), ((["-b", "1"]), {"WK_CUDA_GRAPH": "0"})):
        _, got = logits(gguf, "cuda", work() / "b1.npy", extra, env)
        assert got[2].tobytes() == want[2].tobytes(), f"{case}: {extra} {env}"


def sanitizer():
    home = os.environ.get("CUDA_HOME", "/usr/local/cuda")
    found = shutil.which("compute-sanitizer") or f"{home}/bin/compute-sanitizer"
    return found if os.access(found, os.X_OK) else None


@parametrize("case", [c for c in (("stories260k", "F16"), ("student256", "Q4_K_M"),
                                   ("student256", "Q5_1"), ("student256", "BF16"))
                      if c[0] in MODELS])
def test_no_memory_errors_or_races_under_compute_sanitizer(case):
    need_gpu()
    if DEVICE == "cpu" or "host emulation" in _gpu["line"]:
        skip("compute-sanitizer checks CUDA kernels: needs a GPU")
    tool = sanitizer()
    if not tool:
        skip("compute-sanitizer not found (PATH, CUDA_HOME/bin)")
    gguf = model(*case)
    # -b 5: a batch of 5 of a tile of 8 tokens, then one-token steps through the graph. The
    # kernels that share memory (RMSNorm, RoPE, attention) are the same for every type:
    # racecheck, which is slow, runs once.
    for check in ("memcheck", "racecheck") if case == ("student256", "Q4_K_M") else ("memcheck",):
        p = run([tool, "--tool", check, "--error-exitcode", "9", BIN / "wk-run", gguf, "-p",
                 PROMPT, "-n", "3", "--temp", "0", "-q", "-b", "5", "--device", "cuda"])
        assert p.returncode == 0, f"{case} {check}:\n{p.stdout[-4000:]}\n{p.stderr[-2000:]}"


def verify(ref, cand, device):
    p = run([BIN / "wk-verify", ref, cand, "--device", device, "--json", "-q", "--ctx", "256",
             "--chunks", "8"], check=0)
    j = json.loads(p.stdout)
    c = j["candidates"][0]
    return {"ppl_ref": j["reference"]["ppl"]["value"], "ppl": c["ppl"]["value"],
            "kld": c["kld"]["value"], "top1": c["top1"]}


@parametrize("name", VERIFY)
def test_verify_on_the_gpu_gives_the_cpu_figures(name):
    need_gpu()
    ref = model(name, "F16")
    cand = model(name, "Q4_K_M")
    cpu, gpu = verify(ref, cand, "cpu"), verify(ref, cand, DEVICE)
    rel = {k: abs(gpu[k] - cpu[k]) / abs(cpu[k]) for k in cpu}
    record(f"verify {name}", {"cpu": cpu, "gpu": gpu, "rel": rel})
    for k, tol in zip(("ppl_ref", "ppl", "kld"), VERIFY_TOL[name]):
        assert rel[k] <= tol, f"{name}: {k} differs by {rel[k]:.3g} (> {tol}): {cpu} {gpu}"


def test_a_context_too_large_for_the_device_says_so():
    need_gpu()
    # 16M positions: 704 GiB of KV cache for the 1.1B shape, more than any card has; on the
    # host emulation (make CUDA=emu), whose free memory WK_CUDA_EMU_FREE sets, a small model
    name = "tinyllama-1.1b" if "tinyllama-1.1b" in MODELS else MODELS[-1]
    if DEVICE == "cpu" or (name != "tinyllama-1.1b" and "host emulation" not in _gpu["line"]):
        skip("needs the 1.1B shape on a GPU, or the host emulation")
    gguf = model(name, "Q4_0")
    p = run([BIN / "wk-run", gguf, "-p", "hi", "-n", "1", "--ctx", str(1 << 24), "--device",
             "cuda"], check=1, env={"WK_CUDA_EMU_FREE": str(1 << 30)})
    kv = {"tinyllama-1.1b": "704.00", "student256": "64.00", "stories260k": "20.00"}[name]
    assert f"a context of 16777216 tokens ({kv} GiB of KV cache) with batches of 512 needs " \
        in p.stderr and "GiB of device memory" in p.stderr and " GiB free on CUDA device 0 (" \
        in p.stderr, p.stderr


if __name__ == "__main__":
    pytest = None  # plain runs skip with Skip
    failed = 0
    for name, f in list(globals().items()):
        if not name.startswith("test_"):
            continue
        for case in getattr(f, "cases", [None]):
            label = f"{name}[{case}]" if case is not None else name
            try:
                f(case) if case is not None else f()
                print(f"PASS {label}", flush=True)
            except Skip as s:
                print(f"SKIP {label}: {s}", flush=True)
            except AssertionError as a:
                failed += 1
                print(f"FAIL {label}: {a}", flush=True)
    sys.exit(1 if failed else 0)
