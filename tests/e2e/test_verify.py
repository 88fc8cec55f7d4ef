"""wk-verify (issue 10): its figures against PyTorch, their order across quantizations, saved
references, gates, --integrity and the errors, on stories260k.

The PyTorch check: tests/fixtures/torch_llama_ref.py (float64, Hugging Face semantics) on the
weights each GGUF holds, decoded (tests/fixtures/gguf_to_hf.py), the inputs of Q8_0 and Q4_0
matrices rounded to Q8_0 blocks as ggml and our engine round them (within 1e-3 of the range
the oracle spans when those activations move by 1, 8 or 64 ulps: oracle_ppl_range), on the
same chunks: the text tokenized by python3-sentencepiece with BOS, cut into chunks of n_ctx
tokens, each chunk's
first token replaced by BOS, and positions n_ctx/2 .. n_ctx-2 of each chunk scored against the
token that follows (llama-perplexity's chunking)."""
import json
import math

import numpy as np
import pytest
import torch

import gguf_read
import gguf_to_hf
import torch_llama_ref as ref
from conftest import run, tool

VERIFY, CONVERT, QUANTIZE = tool("wk-verify"), tool("wk-convert"), tool("wk-quantize")
# Chunks of 256 tokens. The oracle rounds activations to Q8_0 as the engine does, but in
# float64: where a float32 value of the engine lies within rounding of a level boundary the
# two round apart, and each such flip moves a quantized file's perplexity a little, at
# random (by up to 1.6e-3 between kernels that differ only in summation order, with the
# oracle itself moving as much under one-ulp nudges): see oracle_ppl_range.
CTX = 256


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from conftest import shared_path
    src = shared_path("models/stories260k-hf")
    d = tmp_path_factory.mktemp("verify")
    run([CONVERT, src, "-o", d / "f32.gguf", "--outtype", "f32"], check=0)
    run([CONVERT, src, "-o", d / "f16.gguf", "--outtype", "f16"], check=0)
    for q in ["Q8_0", "Q4_0"]:
        run([QUANTIZE, d / "f32.gguf", d / f"{q.lower()}.gguf", q, "-q"], check=0)
    return src, d


def verify_json(*args, check=0):
    p = run([VERIFY, "--json", "-q", *args], check=check)
    return json.loads(p.stdout), p




def torch_ppl(src, gguf, text, n_ctx, n_chunks, nudge=0.0):
    cfg = json.loads((src / "config.json").read_text())
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(src / "tokenizer.model"))
    toks = [1] + sp.encode(text)
    rounded = gguf_to_hf.quantized_names(gguf)

    class Engine(ref.LlamaRef):
        """Activations of Q8_0/Q4_0 matrices rounded to Q8_0, as the engine does."""
        def _lin(self, x, name):
            if name + ".weight" in rounded:
                x = gguf_to_hf.q8_0_activations(x * (1 + nudge))
            return super()._lin(x, name)

        def _project(self, x, w):
            return super()._project(gguf_to_hf.q8_0_activations(x * (1 + nudge))
                                    if "output" in rounded else x, w)

    m = Engine(cfg, gguf_to_hf.weights(gguf, cfg))
    nll, n = 0.0, 0
    for c in range(n_chunks):
        chunk = toks[c * n_ctx:(c + 1) * n_ctx]
        chunk[0] = 1
        logp = torch.log_softmax(m.logits(chunk), -1)
        for j in range(n_ctx // 2, n_ctx - 1):
            nll -= float(logp[j, chunk[j + 1]])
            n += 1
    return math.exp(nll / n), n


def oracle_ppl_range(src, gguf, n_chunks):
    """The oracle's perplexity, and its range when each rounded activation is first moved by
    1, 8 and 64 float32 ulps either way (a float32 engine's activations carry errors of that
    order from its sums): a value that close to a Q8_0 level boundary rounds either way, and
    a float32 engine and a float64 oracle cannot agree on every one. Measured on stories260k
    with chunks of 256: these nudges move the oracle's own perplexity by up to 1.1e-3 (Q8_0,
    one ulp) and 1.0e-3 (Q4_0, eight ulps), so "within 1e-3" is asked of the range, not of
    one point; files without rounded activations give a single value."""
    nudges = (0.0, 2.0**-23, -2.0**-23, 2.0**-20, -2.0**-20, 2.0**-17, -2.0**-17)
    if not gguf_to_hf.quantized_names(gguf):
        nudges = (0.0,)
    runs = [torch_ppl(src, gguf, STORY, CTX, n_chunks, nudge) for nudge in nudges]
    ppls = [p for p, _ in runs]
    return min(ppls), max(ppls), runs[0][1]


STORY = ("Once upon a time, there was a little girl named Lily. She loved to play outside in the "
         "park with her friends. One day, she saw a big red ball under a tree. She ran to get it, "
         "but a small dog took the ball first. Lily was sad, but then the dog brought the ball "
         "back to her. They played together all day and became best friends. ") * 6


def test_figures_equal_pytorch_and_are_ordered(models, tmp_path):
    src, d = models
    (tmp_path / "story.txt").write_text(STORY)
    doc, _ = verify_json(d / "f32.gguf", d / "f32.gguf", d / "f16.gguf", d / "q8_0.gguf",
                         d / "q4_0.gguf", "--text", tmp_path / "story.txt", "--ctx", CTX)
    t = doc["text"]
    assert t["n_ctx"] == CTX and t["first_scored"] == CTX // 2
    assert t["positions"] == t["chunks"] * (CTX - 1 - CTX // 2)
    same, f16, q8, q4 = doc["candidates"]
    assert same["kld"]["value"] == 0 and same["kld"]["max"] == 0
    assert same["top1"] == 1 and same["top5"] == 1 and same["rms_dp"] == 0
    assert same["ppl"]["value"] == doc["reference"]["ppl"]["value"]
    assert 0 < f16["kld"]["value"] < q8["kld"]["value"] < q4["kld"]["value"]
    assert f16["top1"] >= q8["top1"] >= q4["top1"] and q4["top1"] < 1
    assert q4["ppl_ratio"]["value"] > 1.01
    # perplexity against PyTorch on each file's own (decoded) weights
    for name, cand in [("f32", same), ("f16", f16), ("q8_0", q8), ("q4_0", q4)]:
        lo, hi, n = oracle_ppl_range(src, d / f"{name}.gguf", t["chunks"])
        assert n == t["positions"]
        got = cand["ppl"]["value"]
        assert lo * (1 - 1e-3) < got < hi * (1 + 1e-3), (name, got, lo, hi)
        if name in ("f32", "f16"):  # no rounded activations: one oracle value, and close
            assert lo == hi and abs(got / lo - 1) < 1e-5, (name, got, lo)
    # the table has one row per candidate and the reference's perplexity
    p = run([VERIFY, d / "f32.gguf", d / "q8_0.gguf", d / "q4_0.gguf", "--ctx", CTX,
             "--text", tmp_path / "story.txt"], check=0)
    assert "q8_0.gguf" in p.stdout and "q4_0.gguf" in p.stdout and "PPL        reference" in p.stdout


def test_the_built_in_text_is_used_and_said(models):
    _, d = models
    doc, _ = verify_json(d / "f32.gguf", d / "q8_0.gguf", "--ctx", CTX)
    assert doc["text"]["source"] == "built-in evaluation text"
    assert doc["text"]["chunks"] >= 4


def test_a_saved_reference_scores_without_the_model(models, tmp_path):
    _, d = models
    saved = tmp_path / "ref.gguf"
    live, _ = verify_json(d / "f32.gguf", d / "q8_0.gguf", d / "q4_0.gguf", "--ctx", CTX,
                          "--chunks", "4", "--save-ref", saved)
    later, _ = verify_json(saved, d / "q8_0.gguf", d / "q4_0.gguf")
    assert later["text"] == live["text"]
    assert later["reference"]["saved_from"] == "f32.gguf"
    for a, b in zip(live["candidates"], later["candidates"]):
        assert a["ppl"] == b["ppl"] and a["top1"] == b["top1"] and a["top5"] == b["top5"]
        assert abs(a["rms_dp"] - b["rms_dp"]) < 1e-9
        # top-32 plus the rest: a lower bound of the full KLD, and close to it here
        assert b["kld"]["value"] <= a["kld"]["value"] * (1 + 1e-6)
        assert b["kld"]["value"] > 0.97 * a["kld"]["value"], (a["kld"], b["kld"])
    # the file is small: 260 bytes a position, and our GGUF reader checks it
    assert saved.stat().st_size < 400 * live["text"]["positions"] + 64 * 1024
    meta, _ = gguf_read.layout(saved)
    assert meta["weightkit.verify.top_k"] == 32 and meta["weightkit.verify.n_ctx"] == CTX
    # reference alone with --save-ref is allowed; a saved one cannot be saved again
    run([VERIFY, d / "f32.gguf", "--save-ref", tmp_path / "again.gguf", "--ctx", CTX,
         "--chunks", "4", "-q"], check=0)
    p = run([VERIFY, saved, d / "q8_0.gguf", "--save-ref", tmp_path / "x.gguf"], check=1)
    assert "needs the reference model" in p.stderr


def test_gates(models):
    _, d = models
    doc, _ = verify_json(d / "f32.gguf", d / "q8_0.gguf", d / "q4_0.gguf", "--ctx", CTX,
                         "--chunks", "4")
    q8, q4 = doc["candidates"]
    between = math.sqrt(q8["kld"]["value"] * q4["kld"]["value"])
    base = [VERIFY, "-q", d / "f32.gguf", d / "q8_0.gguf", d / "q4_0.gguf", "--ctx", CTX,
            "--chunks", "4"]
    p = run(base + ["--max-kld", f"{between:.8f}"], check=1)
    assert "q4_0.gguf: KLD mean" in p.stderr and "q8_0.gguf" not in p.stderr
    run(base + ["--max-kld", "1"], check=0)
    p = run(base + ["--min-top1", "99.9"], check=1)
    assert "top-1 agreement" in p.stderr
    run(base + ["--min-top1", "1"], check=0)
    p = run(base + ["--max-ppl-ratio", "1.001"], check=1)
    assert "q4_0.gguf: PPL ratio" in p.stderr
    run(base + ["--max-ppl-ratio", "10"], check=0)


def test_integrity(models, tmp_path):
    _, d = models
    p = run([VERIFY, "--integrity", d / "q4_0.gguf"], check=0)
    assert "47 of 47 tensors match" in p.stdout
    _, infos = gguf_read.layout(d / "q4_0.gguf")
    data = bytearray((d / "q4_0.gguf").read_bytes())
    for name in ["blk.2.attn_v.weight", "output_norm.weight"]:
        off = next(o for n, _, _, o in infos if n == name)
        data[off + 7] ^= 0x20
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(bytes(data))
    p = run([VERIFY, "--integrity", bad], check=1)
    assert "checksum mismatch in tensor 'blk.2.attn_v.weight'" in p.stderr
    assert "checksum mismatch in tensor 'output_norm.weight'" in p.stderr
    assert "45 of 47 tensors match" in p.stdout and "corrupted" in p.stdout
    # a file without checksums says so
    plain = tmp_path / "plain.gguf"
    plain.write_bytes((d / "q4_0.gguf").read_bytes().replace(b"weightkit.tensor_xxh64",
                                                              b"weightkit.tensor_xxh6X"))
    p = run([VERIFY, "--integrity", plain], check=0)
    assert "no checksums stored" in p.stdout
    assert "--integrity takes" in run([VERIFY, "--integrity", plain, plain], check=2).stderr


def test_a_checkpoint_directory_is_converted_for_the_run(models):
    src, d = models
    doc, _ = verify_json(d / "f32.gguf", src, "--ctx", CTX, "--chunks", "2")
    c = doc["candidates"][0]
    assert c["converted"] and c["kld"]["value"] == 0 and c["top1"] == 1


def test_different_vocabularies_are_refused(models, tmp_path):
    _, d = models
    other = tmp_path / "other.gguf"
    data = (d / "q8_0.gguf").read_bytes()
    assert data.count(b"<unk>") == 1
    other.write_bytes(data.replace(b"<unk>", b"<unx>"))
    p = run([VERIFY, d / "f32.gguf", other, "--ctx", CTX], check=1)
    assert "token 0 is '<unx>', but '<unk>'" in p.stderr and str(other) in p.stderr


def test_bad_input(models, tmp_path):
    _, d = models
    (tmp_path / "short.txt").write_text("Once upon a time")
    p = run([VERIFY, d / "f32.gguf", d / "q8_0.gguf", "--text", tmp_path / "short.txt"], check=1)
    assert "one chunk of the context" in p.stderr
    assert "at least one candidate" in run([VERIFY, d / "f32.gguf"], check=2).stderr
    p = run([VERIFY, d / "f32.gguf", tmp_path / "missing.gguf"], check=1)
    assert "missing.gguf" in p.stderr
    p = run([VERIFY, d / "f32.gguf", d / "q8_0.gguf", "--text", tmp_path / "none.txt"], check=1)
    assert "none.txt" in p.stderr
