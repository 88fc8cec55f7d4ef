#!/usr/bin/env bash
# `make bench`: weightkit's performance figures on a TinyLlama-1.1B-shaped random model.
# Usage: bench/run.sh BIN BUILD   (the Makefile's tool and build directories)
#
# Generates, once, with gen-llama (cached in bench-out/, ~3.4 GB of disk):
#   bench-out/tinyllama-1.1b            22 layers, 1.1B parameters, bf16, 2.2 GB
#   bench-out/tinyllama-1.1b-11layers   the same with 11 layers (1.2 GB), to show that peak
#                                       memory does not grow with the model
# then runs bench/inspect.sh (wk-inspect timings, throughput, peak RSS) and, when present,
# bench/convert.sh (wk-convert against cp), bench/pytorch.sh and bench/quantize.sh
# (wk-quantize per type, against llama-quantize when WK_REF_QUANTIZE names it; its input,
# bench-out/tinyllama-1.1b-f16.gguf, is made once). With WK_REF_QUANTIZE set,
# bench/quant_quality.py then compares wk-quantize's files with llama-quantize's
# (docs/quantization.md); bench/engine.sh measures wk-run against llama.cpp per type,
# bench/verify.sh wk-verify against llama-perplexity (WK_REF_PERPLEXITY) and bench/prune.sh
# Wanda's time and memory.
# Figures are reported beside their targets; nothing here asserts.
# docs/benchmarks.md explains each figure.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-bin}
BUILD=${2:-build}
OUT=bench-out
FULL=$OUT/tinyllama-1.1b
HALF=$OUT/tinyllama-1.1b-11layers
. bench/lib.sh

for t in "$BUILD/gen/gen-llama" "$BIN/wk-inspect"; do
  [ -x "$t" ] || { echo "bench: $t is not built (run: make all)" >&2; exit 1; }
done
command -v hyperfine >/dev/null ||
  echo "bench: hyperfine not installed (apt-get install hyperfine): timing with a loop instead" >&2
[ -x /usr/bin/time ] ||
  echo "bench: /usr/bin/time not installed (apt-get install time): no peak-RSS figures" >&2

# gen_cached DIR ARGS...: runs gen-llama ARGS -o DIR unless DIR already holds a model made
# with the same ARGS. Prints the generation time in seconds, then "now" or "recorded".
gen_cached() {
  local dir=$1; shift
  local stamp=$dir.gen
  if [ -f "$dir/model.safetensors" ] && [ "$(head -1 "$stamp" 2>/dev/null)" = "$*" ]; then
    echo "$(sed -n 2p "$stamp") when first generated"
    return
  fi
  local avail need=$((2600 * 1024))
  avail=$(df -Pk "$OUT" | awk 'NR == 2 { print $4 }')
  [ "$avail" -gt "$need" ] || { echo "bench: need ~2.6 GB free in $OUT/ for $dir" >&2; exit 1; }
  rm -f "$stamp"
  local t0=$EPOCHREALTIME
  OMP_NUM_THREADS=${BENCH_THREADS:-2} "$BUILD/gen/gen-llama" "$@" -o "$dir" >/dev/null
  local secs; secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
  printf '%s\n%s\n' "$*" "$secs" >"$stamp"
  echo "$secs just now"
}

mkdir -p "$OUT"
echo "weightkit benchmarks on $(bench_machine)"
echo "  model: TinyLlama-1.1B shape (22 layers, hidden 2048, ffn 5632, vocab 32000), random bf16"
echo
echo "Generating the models (cached in $OUT/)..."
read -r gen_full when_full < <(gen_cached "$FULL" --preset tinyllama-1.1b --dtype bf16 --seed 1)
read -r gen_half when_half < <(gen_cached "$HALF" --preset tinyllama-1.1b --layers 11 --dtype bf16 --seed 1)
size_full=$(stat -c %s "$FULL/model.safetensors")
size_half=$(stat -c %s "$HALF/model.safetensors")
gb() { awk -v b="$1" 'BEGIN { printf "%.2f GB", b / 1e9 }'; }
echo "  $FULL: $(gb "$size_full"), generated in $gen_full s ($when_full)"
echo "  $HALF: $(gb "$size_half"), generated in $gen_half s ($when_half)"
echo

bench_row "Measurement" "Figure" "Target" "Ratio / note"
printf '  %s\n' "$(printf '%.0s-' {1..110})"
bench_row "gen-llama, 1.1B bf16 (2.2 GB), ${BENCH_THREADS:-2} threads" "$gen_full s" "< 60 s" \
  "$(awk -v s="$gen_full" -v b="$size_full" 'BEGIN { printf "%.2f GB/s written", b / 1e9 / s }') ($when_full)"
BENCH_THREADS=${BENCH_THREADS:-2} bench/inspect.sh "$BIN" "$FULL" "$HALF"

echo
if [ -x bench/convert.sh ] && [ -x "$BIN/wk-convert" ]; then
  bench/convert.sh "$BIN" "$BUILD" "$FULL"
else
  echo "(bench/convert.sh or $BIN/wk-convert missing: no wk-convert figures)"
fi

echo
if [ -x bench/pytorch.sh ] && [ -x "$BIN/wk-convert" ]; then
  bench/pytorch.sh "$BIN" "$BUILD" "$OUT"
else
  echo "(bench/pytorch.sh or $BIN/wk-convert missing: no PyTorch checkpoint figures)"
fi

echo
if [ -x bench/quantize.sh ] && [ -x "$BIN/wk-quantize" ] && [ -x "$BUILD/gen/gguf-rmse" ]; then
  bench/quantize.sh "$BIN" "$BUILD" "$FULL"
else
  echo "(bench/quantize.sh, $BIN/wk-quantize or $BUILD/gen/gguf-rmse missing: no wk-quantize figures)"
fi

echo
if [ -n "${WK_REF_QUANTIZE:-}" ]; then
  echo "wk-quantize against llama.cpp's llama-quantize ($WK_REF_QUANTIZE), a few minutes:"
  WK_BIN=$BIN /usr/bin/python3 bench/quant_quality.py --ref "$WK_REF_QUANTIZE"
else
  echo "(WK_REF_QUANTIZE unset: no quantization quality against llama.cpp; docs/quantization.md)"
fi

echo
if [ -x bench/engine.sh ] && [ -x "$BIN/wk-run" ] && [ -x "$BIN/wk-quantize" ] && [ -x "$BUILD/gen/bw-read" ]; then
  bench/engine.sh "$BIN" "$BUILD" "$FULL"
else
  echo "(bench/engine.sh, $BIN/wk-run, $BIN/wk-quantize or $BUILD/gen/bw-read missing: no wk-run figures)"
fi

# wk-verify and wk-prune on the files bench/engine.sh made: the F16 GGUF and its Q4_K_M.
F16=$FULL-f16.gguf
echo
if [ -x "$BIN/wk-verify" ] && [ -f "$F16" ] && [ -f "$FULL-q4_k_m.gguf" ]; then
  TEXT_DIR=$(mktemp -d)
  /usr/bin/python3 bench/engine_prep.py prompt "$BIN/wk-run" "$F16" $((4 * 512 + 64)) "$TEXT_DIR"
  bench/verify.sh "$BIN" "$F16" "$FULL-q4_k_m.gguf" "$TEXT_DIR/prompt.txt"
  rm -rf "$TEXT_DIR"
else
  echo "($BIN/wk-verify, $F16 or $FULL-q4_k_m.gguf missing: no wk-verify figures)"
fi

echo
if [ -x "$BIN/wk-prune" ] && [ -f "$F16" ]; then
  bench/prune.sh "$BIN" "$BUILD" "$F16"
else
  echo "($BIN/wk-prune or $F16 missing: no wk-prune figures)"
fi
