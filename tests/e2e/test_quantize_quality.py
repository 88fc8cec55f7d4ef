"""wk-quantize's files, judged by llama.cpp against PyTorch (issue: "load in node-llama-cpp,
and the KL divergence of llama.cpp's next-token distribution from a PyTorch reference at
every position of a text is small and ordered as expected").

The reference is tests/fixtures/torch_llama_ref.py on the checkpoint's own weights in
float64; llama.cpp (node-llama-cpp, tests/node/llama_probs.mjs) runs each quantized GGUF
on the same tokens: BOS and the SentencePiece tokens of TEXT, every position scored. KLD is
the mean over positions of sum_v p_ref(v) log(p_ref(v) / p_q(v)) (p_q floored at 1e-30:
llama.cpp's probabilities are float32)."""
import json
import math
import subprocess

import pytest
import torch

import torch_llama_ref as ref
from conftest import IN_CI, run, tool
from test_convert import NODE_DIR

pytestmark = pytest.mark.slow

QUANTIZE = tool("wk-quantize")
TEXT = ("Once upon a time, there was a little girl named Lily. She loved to play outside in "
        "the park with her friends. One day, she saw a big red ball under a tree. She ran to "
        "get it, but a small dog took the ball first. Lily was sad, but then the dog brought "
        "the ball back to her. They played together all day and became best friends.")

ORDERED = ["Q8_0", "Q6_K", "Q5_K_M", "Q4_K_M", "Q3_K_M", "Q2_K"]
OTHERS = ["Q5_K_S", "Q4_K_S", "Q3_K_L", "Q3_K_S", "Q5_1", "Q5_0", "Q4_1", "Q4_0", "IQ4_NL",
          "IQ4_XS"]


def tokens_of(model_dir, text=TEXT):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(model_dir / "tokenizer.model"))
    return [1] + sp.encode(text)


def reference_probs(model_dir, tokens):
    cfg = json.loads((model_dir / "config.json").read_text())
    m = ref.LlamaRef(cfg, ref.load_safetensors_dir(model_dir))
    return torch.softmax(m.logits(tokens), -1), cfg["vocab_size"]


def llama_probs(gguf, tokens, vocab, tmp_path):
    if not (NODE_DIR / "node_modules" / "node-llama-cpp").exists():
        if IN_CI:
            pytest.fail("node-llama-cpp is missing, and CI must have it")
        pytest.skip("node-llama-cpp not installed (tests/node: npm ci)")
    req = tmp_path / "probs.json"
    req.write_text(json.dumps({"tokens": tokens, "vocab": vocab}))
    p = subprocess.run(["node", NODE_DIR / "llama_probs.mjs", gguf, req], capture_output=True,
                       text=True, cwd=NODE_DIR, timeout=300)
    assert p.returncode == 0, p.stderr
    return torch.tensor(json.loads(p.stdout)["probs"], dtype=torch.float64)


def kld(p_ref, p_q):
    p_q = p_q.clamp_min(1e-30)
    terms = torch.where(p_ref > 0, p_ref * (p_ref.log() - p_q.log()), torch.zeros_like(p_ref))
    return float(terms.sum(-1).mean())


def top1(p_ref, p_q):
    return float((p_ref.argmax(-1) == p_q.argmax(-1)).double().mean())


def measure(model_dir, recipe, tmp_path, tokens, p_ref, vocab):
    out = tmp_path / f"{recipe}.gguf"
    run([QUANTIZE, model_dir, out, recipe, "-q"], check=0)
    p_q = llama_probs(out, tokens, vocab, tmp_path)
    assert p_q.shape == p_ref.shape
    return kld(p_ref, p_q), top1(p_ref, p_q)


def test_student256_every_recipe_loads_and_the_losses_are_ordered(student256, tmp_path):
    tokens = tokens_of(student256)
    p_ref, vocab = reference_probs(student256, tokens)
    got = {r: measure(student256, r, tmp_path, tokens, p_ref, vocab) for r in ORDERED + OTHERS}
    kl = {r: v[0] for r, v in got.items()}
    report = ", ".join(f"{r} {kl[r]:.5f}/{got[r][1]:.3f}" for r in ORDERED + OTHERS)
    for a, b in zip(ORDERED, ORDERED[1:]):
        assert kl[a] < kl[b], f"{a} should lose less than {b}: {report}"
    assert kl["Q8_0"] < 1e-3, report
    assert kl["Q4_K_M"] < 0.05 and got["Q4_K_M"][1] > 0.85, report
    assert kl["Q2_K"] < 0.6, report
    for r in OTHERS:
        assert math.isfinite(kl[r]) and kl["Q8_0"] < kl[r] < kl["Q2_K"], f"{r}: {report}"


def test_stories260k_with_fallbacks_loads_and_stays_close(stories260k, tmp_path):
    tokens = tokens_of(stories260k)
    p_ref, vocab = reference_probs(stories260k, tokens)
    got = {r: measure(stories260k, r, tmp_path, tokens, p_ref, vocab)
           for r in ["Q8_0", "Q4_0", "Q4_K_M"]}
    report = ", ".join(f"{r} {v[0]:.5f}/{v[1]:.3f}" for r, v in got.items())
    assert got["Q8_0"][0] < 1e-3 and got["Q8_0"][1] > 0.97, report
    assert got["Q8_0"][0] < got["Q4_0"][0] < 0.1, report
    assert got["Q8_0"][0] < got["Q4_K_M"][0] < 0.1, report
