#!/usr/bin/env python3
"""wk-quantize against llama.cpp's own quantizer, recipe by recipe, in one run: file size,
KL divergence from a float64 PyTorch reference (mean and 99th percentile over positions)
and top-1 agreement, both files run by llama.cpp (docs/quantization.md).

    bench/quant_quality.py [--ref LLAMA_QUANTIZE] [--model DIR] [--recipes A,B] [--text F]...

The model is converted once to an F32 GGUF with wk-convert; each recipe quantizes that same
file with `wk-quantize F32.gguf OUT RECIPE` and `LLAMA_QUANTIZE F32.gguf OUT RECIPE 1`
(default $WK_REF_QUANTIZE; without either only our columns are filled). Each text is scored
paragraph by paragraph (blank-line separated), each paragraph from BOS, so a text longer
than the model's context (student256: 256) is still scored at every token; a paragraph must
fit the context. The measuring helpers are those of tests/e2e/test_quantize_quality.py.

Without --model: student256 at every recipe, then stories260k at Q8_0, Q4_0, Q4_K_M (where
llama-quantize refuses some recipes; its reason is printed under the table). Tools come from
$WK_BIN (default bin/), models from ../shared/models. Figures only: nothing is asserted, and
the script stops only when a command fails (a refusal by llama-quantize is a figure)."""
import argparse
import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "e2e"), str(ROOT / "tests" / "fixtures")]

import torch  # noqa: E402

import gguf_read  # noqa: E402
import test_quantize_quality as tq  # noqa: E402
from conftest import SHARED, run, tool  # noqa: E402
from test_convert import NODE_DIR  # noqa: E402

ALL = ["Q8_0", "Q6_K", "Q5_K_M", "Q5_K_S", "Q4_K_M", "Q4_K_S", "Q3_K_L", "Q3_K_M", "Q3_K_S",
       "Q2_K", "Q5_1", "Q5_0", "Q4_1", "Q4_0", "IQ4_NL", "IQ4_XS"]
TEXTS = [ROOT / "bench" / "texts" / "story-a.txt", ROOT / "bench" / "texts" / "story-b.txt"]
PLAN = [("student256-hf", ALL), ("stories260k-hf", ["Q8_0", "Q4_0", "Q4_K_M"])]


def paragraphs(path):
    return [" ".join(p.split()) for p in path.read_text().split("\n\n") if p.strip()]


def reference(model_dir, windows):
    """float64 PyTorch next-token probabilities at every position of every window."""
    rows = [tq.reference_probs(model_dir, w) for w in windows]
    return torch.cat([p for p, _ in rows]), rows[0][1]


def must(args):
    """Runs one of our tools; a failure stops the bench with the tool's own message."""
    p = run(args)
    if p.returncode != 0:
        sys.exit(f"quant_quality: {' '.join(map(str, args))} failed:\n{p.stderr.strip()}")
    return p


def ref_quantize(ref, f32, out, recipe):
    """Runs llama-quantize; None when it wrote OUT, else its reason for refusing."""
    p = subprocess.run([ref, f32, out, recipe, "1"], capture_output=True, text=True)
    if p.returncode == 0 and out.exists():
        return None
    text = " ".join((p.stdout + p.stderr).split())
    # The warning on the tensor it gave up on runs straight into the error (no newline).
    why = re.search(r"warning: (\S+ - ncols \d+ not divisible by \d+ \(required for type \w+\)) "
                    r"llama_model_quantize: failed to quantize: (.+?)(?= llama_|$)", text)
    if why:
        return f"{why[1]}: {why[2]}"
    tail = (p.stdout + p.stderr).strip().splitlines()
    return f"exit {p.returncode}: {tail[-1] if tail else 'no output'}"


def score(gguf, windows, p_ref, vocab, tmp):
    """(KLD, top-1 agreement) at each position, llama.cpp running GGUF: two tensors, kept
    per position so that texts can be pooled and the two quantizers compared pairwise."""
    p_q = tq.llama_probs(gguf, windows, vocab, tmp)
    assert p_q.shape == p_ref.shape, (gguf, p_q.shape, p_ref.shape)
    rows = [(p_ref[i:i + 1], p_q[i:i + 1]) for i in range(len(p_ref))]
    return (torch.tensor([tq.kld(a, b) for a, b in rows], dtype=torch.float64),
            torch.tensor([tq.top1(a, b) for a, b in rows], dtype=torch.float64))


def tensors_of(gguf):
    """{tensor name: ggml type}, and the bytes of the data section (all but the header)."""
    infos = gguf_read.layout(gguf)[1]
    start = min((off for *_, off in infos), default=gguf.stat().st_size)
    return {name: typ for name, typ, _, _ in infos}, gguf.stat().st_size - start


def quantize_all(model_dir, recipes, ref, work):
    """Both quantizers on one F32 GGUF: {recipe: (our file, llama.cpp's or None)}, notes:
    llama-quantize's refusals, and how the two files' tensor types and data sizes compare."""
    f32 = work / f"{model_dir.name}-f32.gguf"
    must([tool("wk-convert"), model_dir, "-o", f32, "--outtype", "f32", "-q"])
    files, notes, alike, heads = {}, [], [], set()
    for r in recipes:
        ours = work / f"{model_dir.name}-{r}-wk.gguf"
        rep = must([tool("wk-quantize"), f32, ours, r, "-q", "--json"])
        (work / f"{ours.stem}.json").write_text(rep.stdout)
        theirs = work / f"{model_dir.name}-{r}-llama.gguf"
        why = ref_quantize(ref, f32, theirs, r) if ref else "no llama-quantize given"
        if why and ref:
            notes.append(f"llama-quantize {r}: {why}")
        elif ref:
            (a, data_a), (b, data_b) = tensors_of(ours), tensors_of(theirs)
            diff = [n for n in a if a[n] != b.get(n)]
            if diff or a.keys() != b.keys():
                notes.append(f"{r}: tensor types differ at {len(diff)} tensors "
                             f"({', '.join(diff[:4])})")
            elif data_a != data_b:
                notes.append(f"{r}: the same types, but tensor data of {data_a:,} B (ours) "
                             f"against {data_b:,} B")
            else:
                heads.add((ours.stat().st_size - data_a, theirs.stat().st_size - data_b))
                alike.append(r)
        files[r] = (ours, None if why else theirs)
    if alike:
        notes.append(f"{', '.join(alike)}: the same type for every tensor and tensor data of "
                     f"the same size; headers and metadata (ours, llama.cpp's) "
                     + ", ".join(f"{a:,} B and {b:,} B" for a, b in sorted(heads)))
    return files, notes


def measure_model(model_dir, recipes, texts, ref, work):
    """{text: {recipe: {"ours"/"ref": (size, KLD each, top-1 each) or None}}}, notes."""
    ctx = json.loads((model_dir / "config.json").read_text())["max_position_embeddings"]
    windows = {t: [tq.tokens_of(model_dir, p) for p in paragraphs(t)] for t in texts}
    for t, ws in windows.items():
        if not ws or max(map(len, ws)) > ctx:
            sys.exit(f"quant_quality: {t}: " + (f"a paragraph is {max(map(len, ws))} tokens, "
                     f"more than {model_dir.name}'s context {ctx}; split it" if ws else "empty"))
    files, notes = quantize_all(model_dir, recipes, ref, work)
    out = {}
    for text, ws in windows.items():
        p_ref, vocab = reference(model_dir, ws)
        rows = {}
        for r, (ours, theirs) in files.items():
            print(f"  {model_dir.name} {text.name} {r}", file=sys.stderr)
            rows[r] = {k: f and (f.stat().st_size,) + score(f, ws, p_ref, vocab, work)
                       for k, f in (("ours", ours), ("ref", theirs))}
        out[text] = rows
    return out, notes


def pooled(per_text):
    """The texts' rows joined position by position: {recipe: {"ours"/"ref": ...}}."""
    first = next(iter(per_text.values()))
    return {r: {k: first[r][k] and (first[r][k][0],) +
                tuple(torch.cat([rows[r][k][i] for rows in per_text.values()]) for i in (1, 2))
                for k in ("ours", "ref")} for r in first}


def table(rows, missing):
    """The markdown table of one model: sizes in bytes, then mean and 99th percentile of the
    KLD over positions, the paired mean difference with twice its standard error (positions
    taken as independent, which they are not quite: read it as a scale), top-1 agreement."""
    def cell(v, fmt, f):
        return fmt.format(f(v)) if v else missing
    head = ["recipe", "ours size", "llama.cpp size", "ours KLD", "llama.cpp KLD",
            "ours − llama.cpp KLD (±2 s.e.)", "ours KLD p99", "llama.cpp KLD p99", "ours top-1",
            "llama.cpp top-1"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for r, v in rows.items():
        o, t = v["ours"], v["ref"]
        diff = "—"
        if o and t:
            d = o[1] - t[1]
            diff = "0 (same output)" if not d.any() else \
                f"{float(d.mean()):+.6f} (±{2 * float(d.std()) / len(d) ** 0.5:.6f})"
        lines.append("| " + " | ".join(
            [r] + [cell(x, "{:,}", lambda x: x[0]) for x in (o, t)] +
            [cell(x, "{:.6f}", lambda x: x[1].mean()) for x in (o, t)] + [diff] +
            [cell(x, "{:.5f}", lambda x: torch.quantile(x[1], 0.99)) for x in (o, t)] +
            [cell(x, "{:.4f}", lambda x: x[2].mean()) for x in (o, t)]) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref", default=os.environ.get("WK_REF_QUANTIZE"),
                    help="llama.cpp's llama-quantize (default $WK_REF_QUANTIZE)")
    ap.add_argument("--model", type=pathlib.Path, help="one HF model directory instead of "
                    "the default plan (student256 then stories260k)")
    ap.add_argument("--recipes", help="comma-separated recipes (default: all 16)")
    ap.add_argument("--text", type=pathlib.Path, action="append",
                    help="a text file, paragraphs separated by blank lines (repeatable; "
                    "default bench/texts/story-a.txt and story-b.txt)")
    ap.add_argument("--keep", type=pathlib.Path, help="write the GGUFs and wk-quantize's "
                    "JSON reports here and keep them (default: a temporary directory)")
    a = ap.parse_args()
    if not (NODE_DIR / "node_modules" / "node-llama-cpp").exists():
        sys.exit("quant_quality: node-llama-cpp is not installed (cd tests/node && npm ci)")
    if a.ref and not os.access(a.ref, os.X_OK):
        sys.exit(f"quant_quality: {a.ref} is not an executable llama-quantize")
    recipes = a.recipes.split(",") if a.recipes else None
    plan = [(a.model, recipes or ALL)] if a.model else \
        [(SHARED / "models" / m, recipes or rs) for m, rs in PLAN]
    texts = [t.resolve() for t in a.text or TEXTS]
    with tempfile.TemporaryDirectory(prefix="quant-quality.") as tmp:
        work = a.keep or pathlib.Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        for model_dir, rs in plan:
            out, notes = measure_model(model_dir, rs, texts, a.ref, work)
            if len(out) > 1:
                out["all texts pooled"] = pooled(out)
            for text, rows in out.items():
                n = len(next(iter(rows.values()))["ours"][1])
                print(f"\n{model_dir.name}, {getattr(text, 'name', text)} ({n} positions); "
                      f"llama.cpp: {a.ref or 'not given'}\n")
                print(table(rows, "refused" if a.ref else "not run"))
            print("\n" + "\n".join(f"- {n}" for n in notes) if notes else "")


if __name__ == "__main__":
    main()
