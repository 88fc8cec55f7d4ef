"""--device cuda where there is no GPU (issue 12): what a plain build says, what a CUDA build
says without a device (make cuda-check runs these with WK_CUDA_BIN set to its bin-cuda/),
what the backend says on the host emulation (make CUDA=emu, WK_CUDA_EMU_BIN) when the driver,
the device or the memory fail it, the usage error for an unknown device, and make CUDA=1
without nvcc. tests/gpu/ holds the tests of results, which cuda-check also runs on the
emulation."""
import os
import pathlib
import shutil
import subprocess

import pytest

from conftest import GEN, ROOT, run, shared_path, tool

CUDA_BIN = os.environ.get("WK_CUDA_BIN")
EMU_BIN = os.environ.get("WK_CUDA_EMU_BIN")
CUDA_GEN = os.environ.get("WK_CUDA_GEN") or (CUDA_BIN and str(
    pathlib.Path(CUDA_BIN).parent / "build-cuda" / "gen"))
NO_SUPPORT = "this build has no CUDA support (build with make CUDA=1)"


@pytest.fixture(scope="module")
def stories(tmp_path_factory):
    out = tmp_path_factory.mktemp("cuda") / "stories-f32.gguf"
    run([tool("wk-convert"), shared_path("models/stories260k-hf"), "-o", out, "--outtype",
         "f32"], check=0)
    return out


def plain_build():
    """Whether WK_BIN is a build without CUDA (its cuda-bw helper says so)."""
    p = run([GEN / "cuda-bw"])
    return p.returncode == 1 and NO_SUPPORT in p.stderr


def cuda_tool(name):
    if not CUDA_BIN:
        pytest.skip("WK_CUDA_BIN is not set: make cuda-check builds bin-cuda/ and runs these")
    return str(pathlib.Path(CUDA_BIN) / name)


def no_gpu():
    """Skips when the CUDA build finds a device: there tests/gpu/ covers it."""
    p = run([pathlib.Path(CUDA_GEN) / "cuda-bw"])
    if p.returncode == 0:
        pytest.skip(f"a GPU is present ({p.stdout.strip()}): make test-gpu tests this build")


@pytest.mark.parametrize("name", ["wk-run", "wk-verify"])
def test_a_plain_build_has_no_cuda(name, tmp_path):
    if not plain_build():
        pytest.skip("WK_BIN is a CUDA build")
    # said before the model is looked at: the file need not exist
    args = ["-p", "hi"] if name == "wk-run" else [tmp_path / "b.gguf"]
    p = run([tool(name), tmp_path / "a.gguf", *args, "--device", "cuda"], check=1)
    assert p.stderr == f"{name}: error: {NO_SUPPORT}\n" and p.stdout == ""
    p = run([GEN / "cuda-bw"], check=1)
    assert p.stderr == f"cuda-bw: error: {NO_SUPPORT}\n"


@pytest.mark.parametrize("name", ["wk-run", "wk-verify"])
def test_an_unknown_device_is_a_usage_error(name, stories):
    p = run([tool(name), stories, stories, "--device", "tpu"], check=2)
    assert p.stderr.startswith(f"{name}: unknown --device 'tpu' (cpu, cuda)\n")
    assert f"Try '{name} --help'" in p.stderr
    assert "--device DEV" in run([tool(name), "--help"], check=0).stdout


def test_a_cuda_build_without_a_device_says_why(stories):
    run_ = cuda_tool("wk-run")
    no_gpu()
    p = run([run_, stories, "-p", "Once upon a time", "-n", "4", "--device", "cuda"], check=1)
    head = f"wk-run: error: {stories}: "
    assert p.stderr.startswith(head) and p.stdout == "", p.stderr
    why = p.stderr[len(head):]
    assert why.startswith("no CUDA device: ") or \
        why.startswith("the NVIDIA driver is too old for this build's CUDA"), why
    if shutil.which("nvidia-smi") is None and not os.path.exists("/proc/driver/nvidia"):
        assert why.startswith("no CUDA device: no NVIDIA driver is loaded (the CUDA "), why
    p = run([cuda_tool("wk-verify"), stories, stories, "--device", "cuda", "-q"], check=1)
    assert p.stderr == f"wk-verify: error: {stories}: {why}"


def test_a_cuda_build_still_runs_on_the_cpu(stories):
    args = [stories, "-p", "Once upon a time", "-n", "12", "--temp", "0", "-q"]
    cpu = run([tool("wk-run"), *args], check=0).stdout
    assert run([cuda_tool("wk-run"), *args, "--device", "cpu"], check=0).stdout == cpu
    p = run([cuda_tool("wk-run"), stories, "-p", "hi", "-n", "1"], check=0)
    assert "; context 512, CPU, " in p.stderr


def test_types_the_backend_cannot_run_are_named(stories, tmp_path):
    # refused before any device is looked for, so this holds with or without a GPU
    iq4 = tmp_path / "iq4.gguf"
    run([tool("wk-quantize"), stories, iq4, "IQ4_NL", "-q"], check=0)
    p = run([cuda_tool("wk-run"), iq4, "-p", "hi", "--device", "cuda"], check=1)
    assert p.stderr == (
        f"wk-run: error: {iq4}: tensor 'blk.0.attn_q.weight' has type IQ4_NL, which the CUDA "
        "backend cannot run (it runs F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, "
        "Q5_K, Q6_K)\n")


def emu_tool(name):
    if not EMU_BIN:
        pytest.skip("WK_CUDA_EMU_BIN is not set: make cuda-check builds bin-cuemu/ and runs these")
    return str(pathlib.Path(EMU_BIN) / name)


@pytest.mark.parametrize("fault,why", [
    ("no_driver", "no CUDA device: no NVIDIA driver is loaded (the CUDA 13.0 runtime found no "
                  "libcuda.so.1; install the NVIDIA driver)"),
    ("old_driver", "the NVIDIA driver is too old for this build's CUDA 13.0 runtime (the driver "
                   "supports CUDA 12.4; update the driver, or build with a CUDA toolkit no newer "
                   "than 12.4)"),
    ("no_device", "no CUDA device: no CUDA-capable device is detected"),
    ("no_image", "this build has no kernels for CUDA device 0 (host emulation, compute "
                 "capability 7.5): rebuild with make CUDA=1 CUDA_ARCH=75"),
])
def test_each_device_fault_reaches_the_user(stories, fault, why):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env["WK_CUDA_EMU_FAULT"] = fault
    for name, args in (("wk-run", ["-p", "hi"]), ("wk-verify", [stories])):
        p = subprocess.run([emu_tool(name), stories, *args, "--device", "cuda"],
                           capture_output=True, text=True, env=env)
        assert p.returncode == 1 and p.stdout == "", p.stderr
        assert p.stderr == f"{name}: error: {stories}: {why}\n"


def test_memory_the_device_lacks_is_named(stories):
    # the weights: 1000 bytes free
    env = dict(os.environ, WK_CUDA_EMU_FREE="1000")
    p = subprocess.run([emu_tool("wk-run"), stories, "-p", "hi", "--device", "cuda"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 1
    assert p.stderr == (
        f"wk-run: error: {stories}: the model's weights needs 0.25 GiB of device memory (with "
        "0.25 GiB kept for the CUDA runtime), 0.00 GiB free on CUDA device 0 (host emulation "
        "(make CUDA=emu))\n")
    # the context: the weights fit in 300 MiB, a million positions (20 MiB each) do not
    env["WK_CUDA_EMU_FREE"] = str(300 << 20)
    p = subprocess.run([emu_tool("wk-run"), stories, "-p", "hi", "--device", "cuda", "--ctx",
                        "1000000"], capture_output=True, text=True, env=env)
    assert p.returncode == 1
    assert p.stderr.startswith(
        f"wk-run: error: a context of 1000000 tokens (1.19 GiB of KV cache) with batches of 512 "
        "needs 1.") and p.stderr.endswith(
        "GiB of device memory (with 0.25 GiB kept for the CUDA runtime), 0.29 GiB free on CUDA "
        "device 0 (host emulation (make CUDA=emu))\n"), p.stderr


def test_the_emulated_device_runs_the_model(stories):
    args = [stories, "-p", "Once upon a time", "-n", "12", "--temp", "0"]
    p = run([emu_tool("wk-run"), *args, "--device", "cuda"], check=0)
    assert "; context 512, CUDA device 0: host emulation (make CUDA=emu) (" in p.stderr
    assert p.stdout == run([tool("wk-run"), *args, "-q"], check=0).stdout


def make_dry_run(tmp_path, *args, path=None):
    env = dict(os.environ, PATH=path or os.environ["PATH"])
    env.pop("MAKEFLAGS", None)
    return subprocess.run(["make", "-n", f"BUILD={tmp_path}/b", f"BIN={tmp_path}/bin", *args,
                           "all"], cwd=ROOT, env=env, capture_output=True, text=True)


def test_make_cuda_without_nvcc_builds_without_cuda(tmp_path):
    bare = ":".join(d for d in ("/usr/bin", "/bin")
                    if not os.path.exists(os.path.join(d, "nvcc")))
    p = make_dry_run(tmp_path, "CUDA=1", "CUDA_HOME=/nonexistent", path=bare)
    assert p.returncode == 0, p.stderr
    assert "nvcc not found (not on PATH, not in CUDA_HOME=/nonexistent/bin): building without " \
           "CUDA" in p.stdout
    assert "engine/model.c" in p.stdout and "kernels/cuda/messages.c" in p.stdout
    for out in (p.stdout, make_dry_run(tmp_path).stdout):
        assert ".cu -o" not in out and "-gencode" not in out and "cudart" not in out
        assert "WK_CUDA" not in out and "llama_cuda" not in out and "emulate" not in out


def test_make_cuda_with_nvcc_compiles_the_kernels(tmp_path):
    nvcc = shutil.which("nvcc") or ("/usr/local/cuda/bin/nvcc"
                                    if os.access("/usr/local/cuda/bin/nvcc", os.X_OK) else None)
    if not nvcc:
        pytest.skip("no nvcc on this machine")
    p = make_dry_run(tmp_path, "CUDA=1")
    assert p.returncode == 0, p.stderr
    for cu in ("acts", "attention", "device", "matmul"):
        assert f"-c kernels/cuda/{cu}.cu" in p.stdout
    assert "--fmad=false" in p.stdout and "code=sm_90" in p.stdout
    assert "models/llama_cuda.c" in p.stdout and "-DWK_CUDA" in p.stdout
    assert "-lcudart_static" in p.stdout


def test_make_cuda_finds_the_runtime_behind_a_wrapper_nvcc(tmp_path):
    """nvcc may be a script outside the toolkit (CI's /usr/local/bin/nvcc is one): the runtime
    is found where nvcc reports its toolkit, not next to the script."""
    nvcc = shutil.which("nvcc") or ("/usr/local/cuda/bin/nvcc"
                                    if os.access("/usr/local/cuda/bin/nvcc", os.X_OK) else None)
    if not nvcc:
        pytest.skip("no nvcc on this machine")
    wrap = tmp_path / "wrap"
    wrap.mkdir()
    (wrap / "nvcc").write_text(f'#!/bin/sh\nexec {os.path.realpath(nvcc)} "$@"\n')
    (wrap / "nvcc").chmod(0o755)
    p = make_dry_run(tmp_path, "CUDA=1", "CUDA_HOME=/nonexistent",
                     path=f"{wrap}:/usr/bin:/bin")
    assert p.returncode == 0, p.stderr
    libdir = next(w[2:] for w in p.stdout.split() if w.startswith("-L") and "cuda" in w)
    assert os.path.exists(os.path.join(libdir, "libcudart_static.a")), libdir
