#!/usr/bin/env python3
"""What pruning costs: magnitude against Wanda at 20 %, 50 % and 2:4, scored by wk-verify
(docs/wk-prune.md, "Quality").

    bench/prune_quality.py [--model DIR ...] [--calib-seqs N] [--markdown]

For each model (default: ../shared/models/stories260k-hf and student256-hf):
  1. wk-convert makes an F32 GGUF, the reference;
  2. the calibration text is sampled from that reference with wk-run (temperature 1, seeds
     1, 2, ...; one story per seed) until it holds N sequences (default 16) of the
     calibration length, min(512, training context), tokens: text the model finds typical,
     and not the evaluation text;
  3. wk-prune makes six candidates: magnitude and Wanda, each at 20 % and 50 % per row and
     at 2:4, attention and feed-forward matrices only (the default);
  4. wk-verify scores the six against the reference on its built-in evaluation text
     (human-written stories, none of them in the calibration text) at the training context
     or 512: perplexity, its ratio to the reference's, mean KL divergence, top-1 agreement.

Figures only; nothing is asserted (tests/e2e/test_prune_quality.py runs it on one model and
checks the table's shape). Tools come from $WK_BIN (default bin/)."""
import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get("WK_SHARED", ROOT.parent / "shared")) / "models"
BIN = pathlib.Path(os.environ.get("WK_BIN", ROOT / "bin"))
CONFIGS = [("magnitude", "20 %", ["--method", "magnitude", "--sparsity", "0.2"]),
           ("magnitude", "50 %", ["--method", "magnitude", "--sparsity", "0.5"]),
           ("magnitude", "2:4", ["--method", "nm", "--nm", "2:4"]),
           ("wanda", "20 %", ["--method", "wanda", "--sparsity", "0.2"]),
           ("wanda", "50 %", ["--method", "wanda", "--sparsity", "0.5"]),
           ("wanda", "2:4", ["--method", "wanda", "--nm", "2:4"])]
PROMPTS = ["Once upon a time", "One day", "Tom and", "There was a", "Lily", "The little",
           "A big", "Sam wanted"]


def tool(name, *args):
    p = subprocess.run([str(BIN / name), *map(str, args)], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"prune_quality: {name} {' '.join(map(str, args))} failed:\n{p.stderr}")
    return p.stdout


def n_tokens(ref, text_path):
    text = text_path.read_text()
    return json.loads(tool("wk-run", ref, "--tokenize", text, "--json"))["count"]


def calibration_text(ref, path, want, seq):
    """Stories sampled from ref, one per seed, until the text tokenizes to `want` tokens."""
    stories, seed = [], 1
    while True:
        prompt = PROMPTS[seed % len(PROMPTS)]
        stories.append(tool("wk-run", ref, "-p", prompt, "-n", seq - 16, "--temp", "1",
                            "--seed", seed, "-q").strip())
        seed += 1
        if seed % 8 == 0:
            path.write_text("\n\n".join(stories) + "\n")
            if n_tokens(ref, path) >= want:
                return seed - 1


def measure(model_dir, work, n_seqs):
    cfg = json.loads((model_dir / "config.json").read_text())
    seq = min(512, cfg["max_position_embeddings"])
    ref = work / "f32.gguf"
    tool("wk-convert", model_dir, "-o", ref, "--outtype", "f32", "-q")
    calib = work / "calib.txt"
    stories = calibration_text(ref, calib, n_seqs * seq, seq)
    cands = []
    for i, (method, amount, args) in enumerate(CONFIGS):
        out = work / f"c{i}.gguf"
        extra = ["--calib", calib, "--calib-tokens", n_seqs * seq] if method == "wanda" else []
        tool("wk-prune", ref, "-o", out, *args, *extra, "-q")
        cands.append(out)
    doc = json.loads(tool("wk-verify", ref, *cands, "--ctx", seq, "--json", "-q"))
    return cfg, seq, stories, doc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", action="append", type=pathlib.Path,
                    help="a Hugging Face Llama directory (repeatable)")
    ap.add_argument("--calib-seqs", type=int, default=16)
    ap.add_argument("--markdown", action="store_true", help="the table as Markdown")
    a = ap.parse_args()
    models = a.model or [SHARED / "stories260k-hf", SHARED / "student256-hf"]
    rows = []
    for m in models:
        with tempfile.TemporaryDirectory() as d:
            cfg, seq, stories, doc = measure(m, pathlib.Path(d), a.calib_seqs)
        r = doc["reference"]
        name = m.name.removesuffix("-hf")
        print(f"{name}: calibration {a.calib_seqs} x {seq} tokens sampled from the model "
              f"({stories} stories); evaluation: the {doc['text']['source']}, "
              f"{doc['text']['positions']} positions scored in chunks of {seq}; "
              f"reference PPL {r['ppl']['value']:.4f}", file=sys.stderr)
        rows.append((name, "none", "0 %", r["ppl"]["value"], 1.0, 0.0, 1.0))
        for (method, amount, _), c in zip(CONFIGS, doc["candidates"]):
            rows.append((name, method, amount, c["ppl"]["value"], c["ppl_ratio"]["value"],
                         c["kld"]["value"], c["top1"]))
    head = ("model", "method", "sparsity", "PPL", "PPL ratio", "KLD mean", "top-1")
    if a.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
        for r in rows:
            print(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]:.4f} | {r[4]:.4f} | {r[5]:.5f} | "
                  f"{100 * r[6]:.2f} % |")
    else:
        print(f"{head[0]:<12} {head[1]:<10} {head[2]:<9} {head[3]:>9} {head[4]:>10} "
              f"{head[5]:>10} {head[6]:>8}")
        for r in rows:
            print(f"{r[0]:<12} {r[1]:<10} {r[2]:<9} {r[3]:>9.4f} {r[4]:>10.4f} {r[5]:>10.5f} "
                  f"{100 * r[6]:>7.2f}%")


if __name__ == "__main__":
    main()
