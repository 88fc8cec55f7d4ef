"""wk-run as a user runs it: generation, sampling options, --logits, speed figures, and the
errors for files it cannot run (issue 9, "wk-run")."""
import os
import struct

import numpy as np
import pytest

from conftest import run, tool

RUN, CONVERT = tool("wk-run"), tool("wk-convert")
PROMPT = "Once upon a time"


@pytest.fixture(scope="module")
def f32(tmp_path_factory):
    from conftest import shared_path
    out = tmp_path_factory.mktemp("run") / "stories-f32.gguf"
    run([CONVERT, shared_path("models/stories260k-hf"), "-o", out, "--outtype", "f32"], check=0)
    return out


def test_generates_and_reports_speed(f32):
    p = run([RUN, f32, "-p", PROMPT, "-n", "20", "--seed", "3"], check=0)
    assert p.stdout.startswith(PROMPT) and len(p.stdout) > len(PROMPT) + 20
    assert "llama, 5 layers, 64 wide, vocabulary 512" in p.stderr
    assert "seed 3" in p.stderr
    assert "prompt: 5 tokens in" in p.stderr and "generated: 20 tokens in" in p.stderr
    assert "tokens/s" in p.stderr


def test_a_seed_repeats_and_greedy_ignores_it(f32):
    a = run([RUN, f32, "-p", PROMPT, "-n", "30", "--seed", "11", "-q"], check=0).stdout
    b = run([RUN, f32, "-p", PROMPT, "-n", "30", "--seed", "11", "-q"], check=0).stdout
    c = run([RUN, f32, "-p", PROMPT, "-n", "30", "--seed", "12", "--temp", "1.5", "-q"],
            check=0).stdout
    assert a == b and a != c
    g1 = run([RUN, f32, "-p", PROMPT, "-n", "30", "--temp", "0", "--seed", "1", "-q"], check=0)
    g2 = run([RUN, f32, "-p", PROMPT, "-n", "30", "--temp", "0", "--seed", "2", "-q"], check=0)
    assert g1.stdout == g2.stdout and g1.stderr == ""


def test_top_k_one_is_greedy(f32):
    g = run([RUN, f32, "-p", PROMPT, "-n", "30", "--temp", "0", "-q"], check=0).stdout
    k = run([RUN, f32, "-p", PROMPT, "-n", "30", "--temp", "2", "--top-k", "1", "-q"],
            check=0).stdout
    assert g == k


def test_prompt_from_a_file_and_threads(f32, tmp_path):
    (tmp_path / "p.txt").write_text(PROMPT)
    a = run([RUN, f32, "-f", tmp_path / "p.txt", "-n", "16", "--temp", "0", "-q", "-t", "1"],
            check=0).stdout
    b = run([RUN, f32, "-p", PROMPT, "-n", "16", "--temp", "0", "-q", "--threads", "2"],
            check=0).stdout
    assert a == b


def test_logits_rows_follow_the_sequence(f32, tmp_path):
    out = tmp_path / "l.npy"
    run([RUN, f32, "-p", PROMPT, "-n", "0", "--logits", out, "-q"], check=0)
    prompt_rows = np.load(out)
    assert prompt_rows.shape == (5, 512) and prompt_rows.dtype == np.float32
    run([RUN, f32, "-p", PROMPT, "-n", "6", "--temp", "0", "--ignore-eos", "--logits", out, "-q"],
        check=0)
    rows = np.load(out)
    assert rows.shape == (5 + 6 - 1, 512)
    # the prompt's rows are the same whether or not tokens follow
    assert np.array_equal(rows[:5], prompt_rows)
    run([RUN, f32, "-p", PROMPT, "-n", "6", "--temp", "0", "--ignore-eos", "--logits", out, "-q",
         "-b", "2"], check=0)
    # a smaller batch changes only the order of the sums (the tiled product of a batch adds
    # in another order than the one-row product), not the result beyond float rounding
    np.testing.assert_allclose(np.load(out), rows, rtol=0, atol=1e-5 * np.abs(rows).max())
    assert sorted(os.listdir(tmp_path)) == ["l.npy"]


def test_the_context_size_changes_no_logit(f32, tmp_path):
    """The key cache is kept in tiles of 32 positions (models/llama_forward.c): a context that
    ends inside a tile, one of whole tiles and a larger one give the same logits, bit for bit,
    over a prompt and decoded tokens that cross tiles."""
    rows = []
    for ctx in ("60", "64", "200"):
        out = tmp_path / f"c{ctx}.npy"
        run([RUN, f32, "-p", PROMPT * 6, "-n", "20", "--temp", "0", "--ignore-eos", "-q",
             "-c", ctx, "--logits", out], check=0)
        rows.append(np.load(out))
    assert rows[0].shape == (54, 512)  # 35 prompt tokens, BOS included, then 20 decoded
    assert np.array_equal(rows[0], rows[1]) and np.array_equal(rows[0], rows[2])


def test_a_full_context_stops_generation(f32):
    p = run([RUN, f32, "-p", PROMPT, "-n", "100", "--ctx", "12", "--ignore-eos"], check=0)
    assert "generated: 8 tokens" in p.stderr and "the context is full" in p.stderr


def test_a_prompt_longer_than_the_context(f32, tmp_path):
    p = run([RUN, f32, "-p", PROMPT * 5, "--ctx", "8", "--logits", tmp_path / "x.npy"], check=1)
    assert "the prompt is 29 tokens but the context holds 8" in p.stderr
    assert os.listdir(tmp_path) == []


def test_usage_errors(f32):
    assert "nothing to do" in run([RUN, f32], check=2).stderr
    assert "not both" in run([RUN, f32, "-p", "a", "-f", "b"], check=2).stderr
    assert "--temp wants a number" in run([RUN, f32, "-p", "a", "--temp", "hot"], check=2).stderr
    assert "--top-p wants a number from 0 to 1" in run([RUN, f32, "-p", "a", "--top-p", "2"],
                                                       check=2).stderr


def test_not_a_model(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    p = run([RUN, tmp_path / "notes.txt", "-p", "a"], check=1)
    assert str(tmp_path / "notes.txt") in p.stderr


def test_a_vocabulary_only_file_is_not_a_model(stories260k, tmp_path):
    out = tmp_path / "vocab.gguf"
    run([CONVERT, stories260k, "-o", out, "--vocab-only"], check=0)
    p = run([RUN, out, "-p", "a"], check=1)
    assert str(out) in p.stderr and "token_embd.weight" in p.stderr
    # its tokenizer still works
    assert "count" in run([RUN, out, "--tokenize", "a", "--json"], check=0).stdout


def patch_bytes(src, dst, old, new):
    data = src.read_bytes()
    assert data.count(old) == 1
    dst.write_bytes(data.replace(old, new))


def test_an_architecture_without_a_forward_pass(f32, tmp_path):
    out = tmp_path / "mamba.gguf"
    key = b"general.architecture" + struct.pack("<IQ", 8, 5)
    patch_bytes(f32, out, key + b"llama", key + b"mamba")
    p = run([RUN, out, "-p", "a"], check=1)
    assert "architecture 'mamba' has no forward pass" in p.stderr and str(out) in p.stderr


def test_a_context_length_too_large_to_hold(f32, tmp_path):
    """A file claiming a context of 2^32 - 16 tokens, run without -c (so at that context): a
    clear error naming the key, before any cache is sized (the key cache's count of 32-position
    tiles would wrap in 32 bits; the loader holds context_length to 2^30)."""
    out = tmp_path / "huge-ctx.gguf"
    key = b"llama.context_length" + struct.pack("<I", 4)  # the value's type: uint32
    data = f32.read_bytes()
    at = data.index(key) + len(key)
    out.write_bytes(data[:at] + struct.pack("<I", 2**32 - 16) + data[at + 4:])
    p = run([RUN, out, "-p", "a", "-n", "1"], check=1)
    assert f"{out}: key llama.context_length is 4294967280" in p.stderr


def test_a_type_the_engine_cannot_run(f32, tmp_path):
    out = tmp_path / "iq2.gguf"
    name = b"blk.0.ffn_up.weight"
    # n_dims 2, ne = [64, 172], F32 -> IQ2_XXS (16): the file stays well-formed (the data is
    # smaller than its slot), only the type is one the engine has no kernels for
    info = struct.pack("<Q", len(name)) + name + struct.pack("<IQQ", 2, 64, 172)
    patch_bytes(f32, out, info + struct.pack("<I", 0), info + struct.pack("<I", 16))
    p = run([RUN, out, "-p", "a"], check=1)
    assert "blk.0.ffn_up.weight" in p.stderr and "IQ2_XXS" in p.stderr, p.stderr


def test_a_model_without_a_tokenizer(f32, tmp_path):
    # wk-convert always writes a tokenizer; a file from elsewhere may lack one
    out = tmp_path / "no-tokenizer.gguf"
    patch_bytes(f32, out, b"tokenizer.ggml.model", b"tokenizer.ggml.xodel")
    p = run([RUN, out, "-p", "a"], check=1)
    assert "tokenizer.ggml.model" in p.stderr and str(out) in p.stderr, p.stderr


def test_decode_attention_is_the_same_at_any_thread_count(tmp_path):
    """One kv head for 16 query heads and a prompt long enough that decoding's attention runs
    in parallel: the heads sharing the kv head are cut into pieces for the threads (6, 6 and
    4 of them at 3 threads), and every logit of the prompt and of the decoded tokens is the
    one a single thread computes, bit for bit."""
    from conftest import GEN
    run([GEN / "gen-llama", "--preset", "tiny", "--layers", "1", "--hidden", "1024",
         "--heads", "16", "--kv-heads", "1", "--dtype", "f32", "--seed", "5", "-o",
         tmp_path / "hf"], check=0)
    model = tmp_path / "mqa.gguf"
    run([CONVERT, tmp_path / "hf", "-o", model, "--quiet"], check=0)
    (tmp_path / "p.txt").write_text(" ".join(["one two three four"] * 120))
    logits = []
    for threads in ("1", "3"):
        out = tmp_path / f"t{threads}.npy"
        run([RUN, model, "-f", tmp_path / "p.txt", "-n", "6", "--temp", "0", "--ignore-eos",
             "-q", "-t", threads, "-c", "1200", "--logits", out], check=0)
        logits.append(np.load(out))
    assert logits[0].shape[0] > 1024 + 5  # 16 heads x 64 x 1024 positions: in parallel
    assert np.array_equal(logits[0], logits[1])
