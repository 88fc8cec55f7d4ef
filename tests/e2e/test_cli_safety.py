"""The tools used carelessly, as people do: odd outputs (FIFOs, symbolic links, the model's
own files), odd inputs (FIFOs, directories named like files, misnamed files), interrupted
conversions, and malformed command lines. Nothing may be destroyed, hang, or be left
behind, and every refusal must say why."""
import os
import shutil
import signal
import stat
import subprocess
import time

import pytest

from conftest import GEN, run, tool

GEN_LLAMA = str(GEN / "gen-llama")


def gen(out, *args):
    run([GEN_LLAMA, "--seed", "3", "-o", out, *args], check=0)
    return out


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return gen(tmp_path_factory.mktemp("safety") / "tiny", "--preset", "tiny")


def leftovers(directory):
    return [p for p in os.listdir(directory) if ".tmp." in p]


def test_fifo_output_is_refused_not_replaced(tiny, tmp_path):
    fifo = tmp_path / "out.gguf"
    os.mkfifo(fifo)
    p = run([tool("wk-convert"), tiny, "-o", fifo, "-q"], check=1, timeout=60)
    assert "not a regular file" in p.stderr and str(fifo) in p.stderr, p.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert leftovers(tmp_path) == []


def test_output_that_is_an_input_is_refused(tiny, tmp_path):
    model = tmp_path / "m"
    shutil.copytree(tiny, model)
    weights = model / "model.safetensors"
    before = weights.read_bytes()
    for target in (weights, model / "tokenizer.model"):
        p = run([tool("wk-convert"), model, "-o", target, "-q"], check=1)
        assert "file of the model being converted" in p.stderr, p.stderr
    assert weights.read_bytes() == before
    assert leftovers(model) == []


def test_symlinked_output_writes_through_the_link(tiny, tmp_path):
    target = tmp_path / "real.gguf"
    target.write_bytes(b"old")
    link = tmp_path / "link.gguf"
    link.symlink_to(target)
    run([tool("wk-convert"), tiny, "-o", link, "-q"], check=0)
    assert link.is_symlink() and target.read_bytes()[:4] == b"GGUF"
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_conversion_leaves_no_temp_file(tmp_path, sig):
    # big enough (about 130 M parameters) that the conversion is still running when the
    # temporary file has appeared and the signal is sent
    model = gen(tmp_path / "big", "--preset", "tiny", "--hidden", "1024", "--ffn", "2816",
                "--layers", "8", "--heads", "8", "--kv-heads", "8", "--vocab", "32000")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    # the signal at its default in the tool, as in a terminal: a job started in the background
    # of a non-interactive shell inherits SIGINT ignored, and then the tool rightly ignores it
    proc = subprocess.Popen([tool("wk-convert"), str(model), "-o", str(out_dir / "m.gguf"),
                             "--outtype", "f32", "-q"], stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(sig, signal.SIG_DFL))
    deadline = time.time() + 60
    while not leftovers(out_dir) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.001)
    assert proc.poll() is None, "the conversion ended before it could be interrupted"
    proc.send_signal(sig)
    proc.wait(timeout=60)
    assert proc.returncode == -sig
    assert os.listdir(out_dir) == []


def test_fifo_input_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    p = run([tool("wk-inspect"), fifo], check=1, timeout=30)
    assert "not a regular file" in p.stderr, p.stderr


def test_config_that_is_not_a_file_is_named(tiny, tmp_path):
    model = tmp_path / "m"
    shutil.copytree(tiny, model)
    (model / "config.json").unlink()
    (model / "config.json").mkdir()
    p = run([tool("wk-convert"), model, "-o", tmp_path / "x.gguf"], check=1)
    assert "config.json: not a regular file" in p.stderr, p.stderr
    assert not (tmp_path / "x.gguf").exists()


def test_misnamed_files_open_by_content(tiny, tmp_path):
    st = tmp_path / "weights.gguf"
    shutil.copy(tiny / "model.safetensors", st)
    plain = tmp_path / "weights"
    shutil.copy(tiny / "model.safetensors", plain)
    for path in (st, plain):
        p = run([tool("wk-inspect"), path], check=0)
        assert "(safetensors, 1 file)" in p.stdout.splitlines()[0], p.stdout


def test_missing_model_says_why(tmp_path):
    p = run([tool("wk-convert"), tmp_path / "nope", "-o", tmp_path / "x.gguf"], check=1)
    assert "No such file or directory" in p.stderr, p.stderr
    p = run([tool("wk-inspect"), tmp_path / "nope"], check=1)
    assert "No such file or directory" in p.stderr, p.stderr


def test_key_on_a_model_that_is_not_pytorch_is_refused(tiny, tmp_path):
    p = run([tool("wk-inspect"), "--key", "model", tiny], check=1)
    assert "applies to PyTorch checkpoints" in p.stderr, p.stderr
    p = run([tool("wk-convert"), tiny, "--key", "model", "-o", tmp_path / "x.gguf"], check=1)
    assert "applies to PyTorch checkpoints" in p.stderr, p.stderr


@pytest.mark.parametrize("args,expect", [
    (["wk-inspect", "--hist"], "option '--hist' needs a value"),
    (["wk-inspect", "--filter"], "option '--filter' needs a value"),
    (["wk-inspect", "--nope", "x"], "unknown or ambiguous option '--nope'"),
    (["wk-inspect", "-Zh", "x"], "unknown or ambiguous option '-Z'"),
    (["wk-convert", "-qZ", "x", "-o", "y"], "unknown or ambiguous option '-Z'"),
    (["wk-inspect", ""], "the model path is empty"),
    (["wk-convert", "--outtype"], "option '--outtype' needs a value"),
    (["wk-convert", "x", "-o"], "option '-o' needs a value"),
    (["wk-convert", "", "-o", "x.gguf"], "the model directory path is empty"),
    (["wk-inspect", "--json=yes", "x"], "option '--json' takes no value"),
    (["wk-inspect", "--threads", "0", "x"], "--threads wants a number from 1 to 1024, not '0'"),
    (["wk-inspect", "--bins", "1001", "--hist", "w", "x"],
     "--bins wants a number from 1 to 1000, not '1001'"),
    (["wk-inspect", "a", "b"], "expected 1 MODEL, got 2"),
    (["wk-convert", "-o", "x.gguf"], "no MODEL_DIR given"),
    (["wk-convert", "--outtype", "q4", "x", "-o", "y"], "unknown --outtype 'q4'"),
])
def test_command_line_mistakes_are_usage_errors(args, expect):
    p = run([tool(args[0]), *args[1:]], check=2)
    assert expect in p.stderr and "--help" in p.stderr, p.stderr
    assert len(p.stderr.strip().splitlines()) == 2, p.stderr


@pytest.mark.parametrize("name", ["wk-inspect", "wk-convert"])
def test_help_lists_every_option_within_80_columns(name):
    text = run([tool(name), "--help"], check=0).stdout
    assert text.startswith(f"Usage: {name} "), text
    assert run([tool(name), "-h"], check=0).stdout == text
    assert max(len(line) for line in text.splitlines()) <= 80, text
    options = {"wk-inspect": ["--stats", "--hist NAME", "--bins N", "--filter GLOB", "--json",
                              "--threads N", "--key KEY"],
               "wk-convert": ["-o, --output FILE", "--outtype T", "--key KEY", "-q, --quiet"]}
    for opt in options[name] + ["-h, --help", "-V, --version"]:
        assert f"  {opt}  " in text, (opt, text)
    assert "\nOptions:\n" in text and "\nExit status: 0 " in text, text
    assert run([tool(name), "-V"], check=0).stdout.startswith(f"{name} (weightkit) ")


def test_safetensors_whose_header_length_looks_like_a_pickle(tmp_path):
    # a header of 640 bytes starts the file with 0x80 0x02, a pickle's first two bytes
    import json
    import struct
    header = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}})
    header = header.encode().ljust(640)
    path = tmp_path / "h640.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + bytes(8))
    for name in (path, tmp_path / "h640"):
        if name != path:
            shutil.copy(path, name)
        p = run([tool("wk-inspect"), name], check=0)
        assert "(safetensors, 1 file)" in p.stdout, p.stdout


def test_output_that_is_a_shard_in_a_subdirectory_is_refused(tmp_path):
    import json
    model = gen(tmp_path / "m", "--preset", "tiny", "--shard-size", "2M")
    index = json.loads((model / "model.safetensors.index.json").read_text())
    (model / "sub").mkdir()
    for name in set(index["weight_map"].values()):
        (model / name).rename(model / "sub" / name)
    index["weight_map"] = {k: "sub/" + v for k, v in index["weight_map"].items()}
    (model / "model.safetensors.index.json").write_text(json.dumps(index))
    shard = model / "sub" / sorted(set(index["weight_map"].values()))[0].split("/")[1]
    before = shard.read_bytes()
    p = run([tool("wk-convert"), model, "-o", shard, "-q"], check=1)
    assert "a weight file of the model being converted" in p.stderr, p.stderr
    assert shard.read_bytes() == before


@pytest.mark.parametrize("name", ["tokenizer.model", "tokenizer_config.json"])
def test_tokenizer_file_that_is_not_a_file_is_named(tiny, tmp_path, name):
    model = tmp_path / "m"
    shutil.copytree(tiny, model)
    (model / name).unlink()
    os.mkfifo(model / name)
    p = run([tool("wk-convert"), model, "-o", tmp_path / "x.gguf"], check=1, timeout=60)
    assert f"{name}: not a regular file" in p.stderr, p.stderr


# ---------------------------------------------------------------------------- output files

def convert_tiny(tiny, out, umask=None):
    kw = {"preexec_fn": (lambda: os.umask(umask))} if umask is not None else {}
    return run([tool("wk-convert"), tiny, "-o", out, "-q"], check=0, **kw)


@pytest.mark.parametrize("umask,mode", [(0o077, 0o600), (0o002, 0o664), (0o022, 0o644)])
def test_new_output_honours_the_umask(tiny, tmp_path, umask, mode):
    out = tmp_path / "m.gguf"
    convert_tiny(tiny, out, umask)
    assert stat.S_IMODE(os.stat(out).st_mode) == mode
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_replaced_output_keeps_its_mode(tiny, tmp_path, mode):
    out = tmp_path / "m.gguf"
    out.write_bytes(b"old")
    os.chmod(out, mode)
    convert_tiny(tiny, out, 0o022)
    assert out.read_bytes()[:4] == b"GGUF"
    assert stat.S_IMODE(os.stat(out).st_mode) == mode


def test_replaced_output_through_a_link_keeps_the_target_mode(tiny, tmp_path):
    target = tmp_path / "real.gguf"
    target.write_bytes(b"old")
    os.chmod(target, 0o600)
    link = tmp_path / "link.gguf"
    link.symlink_to(target)
    convert_tiny(tiny, link, 0o000)
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert link.is_symlink() and target.read_bytes()[:4] == b"GGUF"


def test_leftover_of_a_killed_run_is_mentioned_and_kept(tiny, tmp_path):
    out = tmp_path / "k.gguf"
    left = tmp_path / "k.gguf.tmp.21UKnf"
    left.write_bytes(b"x" * 1_500_000)
    # not leftovers of k.gguf: another output's, a name mkostemp never makes, a directory
    others = [tmp_path / "j.gguf.tmp.21UKnf", tmp_path / "k.gguf.tmp.21UKnf7",
              tmp_path / "k.gguf.tmp.21-Knf"]
    for p in others:
        p.write_bytes(b"y")
    (tmp_path / "k.gguf.tmp.ABCDEF").mkdir()
    p = convert_tiny(tiny, out)
    want = f"wk-convert: warning: left over from an interrupted run: {left} (1.5 MB); remove it"
    assert p.stderr.splitlines() == [want], p.stderr
    assert left.read_bytes() == b"x" * 1_500_000
    assert all(p.exists() for p in others)
    assert out.read_bytes()[:4] == b"GGUF"
    # it is mentioned on every run until the user removes it
    assert want in convert_tiny(tiny, out).stderr
    left.unlink()
    assert convert_tiny(tiny, out).stderr == ""


def test_temp_file_of_a_running_conversion_is_not_a_leftover(tiny, tmp_path):
    import fcntl
    busy = tmp_path / "k.gguf.tmp.AbC123"
    with open(busy, "wb") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # as a live wk_out_open holds its temp file
        p = convert_tiny(tiny, tmp_path / "k.gguf")
    assert p.stderr == "", p.stderr
    assert busy.exists()


def test_leftover_beside_a_linked_output_is_found_beside_the_target(tiny, tmp_path):
    real_dir = tmp_path / "real"
    real_dir.mkdir()
    (real_dir / "m.gguf").write_bytes(b"old")
    (real_dir / "m.gguf.tmp.zzzzzz").write_bytes(b"")
    (tmp_path / "m.gguf").symlink_to(real_dir / "m.gguf")
    p = convert_tiny(tiny, tmp_path / "m.gguf")
    assert f"interrupted run: {real_dir / 'm.gguf.tmp.zzzzzz'} (0.0 MB)" in p.stderr, p.stderr
