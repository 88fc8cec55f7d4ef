"""Wanda in wk-prune against a PyTorch implementation of the paper's procedure (Sun et al.
2023, and its reference code's prune_wanda): calibration sequences run layer by layer; in each
layer the inputs of its seven matrices are recorded with the layer as it is, every row of every
matrix loses the fraction s of its weights with the smallest |w_ij| * ||x_j||_2, and the layer
is run again with the pruned weights to give the next layer its input.

The oracle is float64 on the checkpoint's own weights (Hugging Face layout; row pruning does
not care that q/k rows are permuted, so the masks are compared after permuting ours back), and
our engine runs in float32: scores that nearly tie can fall either way, so the masks must agree
on at least 99.9 % of the weights, and every row must have exactly floor(s * cols) zeros."""
import json
import math

import numpy as np
import pytest
import torch

import gguf_to_hf
import torch_llama_ref as ref
from conftest import run, tool

PRUNE, CONVERT = tool("wk-prune"), tool("wk-convert")
CALIB = ("Once upon a time, there was a little girl named Lily. She loved to play outside in "
         "the park with her friends. One day, she saw a big red ball under a tree. ") * 40
MATS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
        "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


class Layered(ref.LlamaRef):
    """LlamaRef's forward, a layer at a time, recording each matrix's input norms."""

    def layer(self, x, i, record=None):
        T = x.shape[0]
        p = f"model.layers.{i}."
        pos = torch.arange(T, dtype=torch.float64) * self.pos_scale
        emb = torch.cat((torch.outer(pos, self.inv_freq),) * 2, dim=-1)
        cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]
        mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)

        def lin(h, name):
            if record is not None:
                record[name] = record.get(name, 0) + (h * h).sum(0)
            return self._lin(h, p + name)

        h = self._norm(x, p + "input_layernorm.weight")
        q = lin(h, "self_attn.q_proj").view(T, self.nh, self.hd)
        k = lin(h, "self_attn.k_proj").view(T, self.nkv, self.hd)
        v = lin(h, "self_attn.v_proj").view(T, self.nkv, self.hd)
        q = q * cos + self._rotate_half(q) * sin
        k = k * cos + self._rotate_half(k) * sin
        rep = self.nh // self.nkv
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        att = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(self.hd) + mask
        o = torch.einsum("hqk,khd->qhd", att.softmax(-1), v).reshape(T, self.nh * self.hd)
        x = x + lin(o, "self_attn.o_proj")
        h = self._norm(x, p + "post_attention_layernorm.weight")
        g = torch.nn.functional.silu(lin(h, "mlp.gate_proj")) * lin(h, "mlp.up_proj")
        return x + lin(g, "mlp.down_proj")


def nm_keep(score, n, m):
    """Keep the n largest scores of every m consecutive columns (ties: the lower column is
    pruned first, as in the unstructured case)."""
    rows, cols = score.shape
    g = score.reshape(rows, cols // m, m)
    order = torch.sort(g, dim=2, stable=True).indices[:, :, :m - n]
    keep = torch.ones_like(g, dtype=torch.bool)
    keep.scatter_(2, order, False)
    return keep.reshape(rows, cols)


def wanda_masks(model_dir, seqs, sparsity, nm=None):
    cfg = json.loads((model_dir / "config.json").read_text())
    m = Layered(cfg, ref.load_safetensors_dir(model_dir))
    xs = [m.w["model.embed_tokens.weight"][torch.tensor(s)] for s in seqs]
    masks = {}
    for i in range(cfg["num_hidden_layers"]):
        sums = {}
        for x in xs:
            m.layer(x, i, sums)
        for name in MATS:
            w = m.w[f"model.layers.{i}.{name}.weight"]
            score = w.abs() * sums[name].sqrt()
            if nm:
                keep = nm_keep(score, *nm)
            else:
                k = int(sparsity * w.shape[1])
                # the k smallest per row, ties to the lower column (a stable sort)
                order = torch.sort(score, dim=1, stable=True).indices[:, :k]
                keep = torch.ones_like(w, dtype=torch.bool)
                keep.scatter_(1, order, False)
            m.w[f"model.layers.{i}.{name}.weight"] = w * keep
            masks[f"model.layers.{i}.{name}.weight"] = keep
        xs = [m.layer(x, i) for x in xs]
    return masks, cfg


def test_wanda_masks_equal_the_papers_procedure(stories260k, tmp_path):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(stories260k / "tokenizer.model"))
    (tmp_path / "calib.txt").write_text(CALIB)
    toks = [1] + sp.encode(CALIB)
    seq, n_seq = 512, 2
    assert len(toks) >= seq * n_seq
    seqs = [[1] + toks[s * seq + 1:(s + 1) * seq] for s in range(n_seq)]
    out = tmp_path / "wanda.gguf"
    run([PRUNE, stories260k, "-o", out, "--method", "wanda", "--sparsity", "0.5",
         "--calib", tmp_path / "calib.txt", "--calib-tokens", seq * n_seq, "-q"], check=0)
    want, cfg = wanda_masks(stories260k, seqs, 0.5)
    got = gguf_to_hf.weights(out, cfg)
    agree = total = 0
    for name, keep in want.items():
        ours = got[name] != 0
        cols = keep.shape[1]
        assert (ours.sum(1) == cols - cols // 2).all(), f"{name}: not floor(s * cols) per row"
        agree += int((ours == keep).sum())
        total += keep.numel()
    assert agree / total >= 0.999, f"masks agree on {agree / total:.5f} of the weights"


@pytest.mark.slow
def test_wanda_with_2_4_on_student256(student256, tmp_path):
    """Wanda's scores in the 2:4 pattern: exactly two zeros in every group of four along the
    input dimension, the groups' choices those of the paper's procedure."""
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=str(student256 / "tokenizer.model"))
    (tmp_path / "calib.txt").write_text(CALIB)
    cfg = json.loads((student256 / "config.json").read_text())
    seq = min(512, cfg["max_position_embeddings"])
    toks = [1] + sp.encode(CALIB)
    seqs = [[1] + toks[1:seq]]
    out = tmp_path / "wanda24.gguf"
    run([PRUNE, student256, "-o", out, "--method", "wanda", "--nm", "2:4",
         "--calib", tmp_path / "calib.txt", "--calib-tokens", seq, "-q"], check=0)
    want, cfg = wanda_masks(student256, seqs, 0.5, nm=(2, 4))
    got = gguf_to_hf.weights(out, cfg)
    agree = total = 0
    for name, keep in want.items():
        ours = (got[name] != 0).reshape(keep.shape[0], -1, 4)
        assert (ours.sum(2) == 2).all(), f"{name}: a group of four without exactly two kept"
        agree += int((ours.reshape(keep.shape) == keep).sum())
        total += keep.numel()
    assert agree / total >= 0.999, f"masks agree on {agree / total:.5f} of the weights"


def test_calibration_errors(stories260k, tmp_path):
    calib = tmp_path / "calib.txt"
    calib.write_text("Once upon a time there was a cat. " * 20)
    out = tmp_path / "w.gguf"
    base = [PRUNE, stories260k, "-o", out, "--method", "wanda", "--calib"]
    p = run(base + [calib, "--calib-tokens", "1024"], check=1)
    assert "calib.txt: the calibration text is" in p.stderr and "1024 were asked" in p.stderr
    p = run(base + [calib, "--calib-tokens", "100"], check=1)
    assert "--calib-tokens 100" in p.stderr and "multiple of 512" in p.stderr
    p = run(base + [tmp_path / "missing.txt"], check=1)
    assert "missing.txt" in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["calib.txt"]
