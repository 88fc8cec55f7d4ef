#!/usr/bin/env bash
# The CUDA backend's speed (docs/cuda.md, "Measured"): prefill and decode tokens/s of wk-run
# --device cuda on the TinyLlama-1.1B and Llama-2-7B shapes (random weights from gen-llama) at
# F16, Q8_0 and Q4_K_M, and decode as a share of the card's memory bandwidth: the weight
# bytes one decoded token reads (bench/engine_prep.py) x decode tokens/s, over the peak the
# device's attributes give (2 x memory clock x bus width) and over a device-to-device copy
# measured in the same run (cuda-bw: bytes read + written per second). Targets: decode >= 60 %
# of the copy on the 7B shape, >= 30 % on the 1.1B.
# Usage: bench/gpu.sh [BIN [BUILD]]   (default bin-cuda build-cuda; tests/gpu/run.sh calls it)
# WK_BENCH_SHAPES (default "tinyllama-1.1b llama2-7b"), WK_BENCH_TYPES (default "F16 Q8_0
# Q4_K_M"), WK_BENCH_PROMPT (prompt tokens, default 512), WK_BENCH_DECODE (default 256),
# WK_BENCH_RUNS (runs per file, the best kept; default 2), WK_BENCH_COPY_SIZE (bytes of the
# copy measured, default 1G), WK_BENCH_WORK (scratch for the
# models, removed at the end; the 7B needs about 30 GB). Prints a table and writes gpu.json to
# WK_GPU_OUT (default build-cuda/gpu). Nothing here asserts on a speed.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-bin-cuda} BUILD=${2:-build-cuda}
PY=${PYTHON:-python3}
SHAPES=${WK_BENCH_SHAPES:-tinyllama-1.1b llama2-7b}
TYPES=${WK_BENCH_TYPES:-F16 Q8_0 Q4_K_M}
PROMPT=${WK_BENCH_PROMPT:-512} DECODE=${WK_BENCH_DECODE:-256} RUNS=${WK_BENCH_RUNS:-2}
for t in "$BIN/wk-run" "$BIN/wk-convert" "$BIN/wk-quantize" "$BUILD/gen/gen-llama" \
         "$BUILD/gen/cuda-bw"; do
  [ -x "$t" ] || { echo "bench/gpu: $t is not built (run: make CUDA=1)" >&2; exit 1; }
done
WORK=${WK_BENCH_WORK:-$(mktemp -d "${TMPDIR:-/tmp}/wk-gpu-bench-XXXXXX")}
OUT=${WK_GPU_OUT:-build-cuda/gpu}
mkdir -p "$WORK" "$OUT"
trap 'rm -rf "$WORK"' EXIT

card=$("$BUILD/gen/cuda-bw" --json --size "${WK_BENCH_COPY_SIZE:-1G}") ||
  { echo "bench/gpu: no usable GPU" >&2; exit 1; }
echo "bench/gpu: $card" >&2
rows=()
for shape in $SHAPES; do
  echo "bench/gpu: generating the $shape shape..." >&2
  t0=$(date +%s)
  "$BUILD/gen/gen-llama" --preset "$shape" --dtype f16 -o "$WORK/hf" >/dev/null
  "$BIN/wk-convert" "$WORK/hf" -o "$WORK/F16.gguf" --outtype f16 -q
  rm -rf "$WORK/hf"
  for ty in $TYPES; do
    [ "$ty" = F16 ] || "$BIN/wk-quantize" "$WORK/F16.gguf" "$WORK/$ty.gguf" "$ty" -q >/dev/null
  done
  echo "bench/gpu: $shape made in $(( $(date +%s) - t0 )) s" >&2
  "$PY" bench/engine_prep.py prompt "$BIN/wk-run" "$WORK/F16.gguf" "$PROMPT" "$WORK"
  for ty in $TYPES; do
    read -r per_token total < <("$PY" bench/engine_prep.py bytes "$WORK/$ty.gguf")
    best_p=0 best_d=0
    for _ in $(seq "$RUNS"); do
      line=$("$BIN/wk-run" "$WORK/$ty.gguf" -f "$WORK/prompt.txt" -n "$DECODE" --ignore-eos \
               --temp 0 -c $((PROMPT + DECODE + 8)) --device cuda 2>&1 >/dev/null | grep '^prompt: ')
      # wk-run counts the first generated token, which the prompt's pass gives, in its decode
      # speed: scaled to its DECODE - 1 passes (as bench/engine.sh does)
      read -r p d < <(awk -v np="$PROMPT" -v nd="$DECODE" '{ gsub(/[(;]/, " ")
        if ($2 != np || $10 != nd) exit 1
        printf "%s %.4f\n", $7, $15 * (nd - 1) / nd }' <<<"$line") ||
        { echo "bench/gpu: expected $PROMPT prompt and $DECODE generated tokens: $line" >&2; exit 1; }
      best_p=$("$PY" -c "print(max($best_p, $p))") best_d=$("$PY" -c "print(max($best_d, $d))")
    done
    rows+=("$shape $ty $per_token $total $best_p $best_d")
    echo "bench/gpu: $shape $ty: prefill $best_p, decode $best_d tokens/s" >&2
    [ "$ty" = F16 ] || rm -f "$WORK/$ty.gguf"
  done
  rm -f "$WORK"/*.gguf
done

"$PY" - "$OUT/gpu.json" "$card" "$PROMPT" "$DECODE" "${rows[@]}" <<'EOF'
import json, sys
out_path = sys.argv[1]
card, prompt, decode = json.loads(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
target = {"tinyllama-1.1b": 30, "llama2-7b": 60}
out = {"card": card, "prompt_tokens": prompt, "decode_tokens": decode, "rows": []}
print(f"CUDA: {card['device']} (compute capability {card['compute_capability']}, "
      f"{card['memory_gib']} GiB, driver for CUDA {card['driver_cuda']}): peak "
      f"{card['peak_gbs']:.0f} GB/s from its attributes, device-to-device copy "
      f"{card['copy_gbs']:.0f} GB/s measured")
print(f"prefill {prompt} tokens, decode {decode}; decode GB/s = weight bytes per token x tokens/s")
print(f"  {'shape':16s} {'type':7s} {'GB/token':>8s} {'prefill t/s':>12s} {'decode t/s':>11s} "
      f"{'GB/s':>7s} {'of copy':>8s} {'of peak':>8s}  target")
for r in sys.argv[5:]:
    shape, ty, per_token, total, p, d = r.split()
    per_token, p, d = int(per_token), float(p), float(d)
    gbs = per_token * d / 1e9
    share = lambda of: gbs / card[of] if card[of] > 0 else 0.0  # noqa: E731
    row = {"shape": shape, "type": ty, "bytes_per_token": per_token, "prefill_tps": p,
           "decode_tps": d, "decode_gbs": gbs, "of_copy": share("copy_gbs"),
           "of_peak": share("peak_gbs")}
    out["rows"].append(row)
    goal = f">= {target[shape]} % of copy" if shape in target else ""
    print(f"  {shape:16s} {ty:7s} {per_token / 1e9:8.2f} {p:12.0f} {d:11.1f} {gbs:7.0f} "
          f"{100 * row['of_copy']:7.1f}% {100 * row['of_peak']:7.1f}%  {goal}")
open(out_path, "w").write(json.dumps(out, indent=1))
EOF
