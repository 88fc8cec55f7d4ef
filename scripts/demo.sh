#!/usr/bin/env bash
# `make demo`: what weightkit shows a user, on a small random Llama made on the spot.
# Usage: scripts/demo.sh BIN BUILD   (the Makefile's tool and build directories)
# Generates demo-out/tiny-llama (gen-llama --preset tiny: 4 layers, 3.4M parameters,
# bf16), inspects it (summary, per-tensor statistics, a histogram), converts it to GGUF
# when wk-convert is built, and inspects the GGUF. Any failing step stops the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-bin}
BUILD=${2:-build}
OUT=demo-out
MODEL=$OUT/tiny-llama
GGUF=$OUT/tiny-llama-f16.gguf

die() { echo "demo: $*" >&2; exit 1; }
if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD= PLAIN=; fi

# step "Heading" CMD...: prints the heading and the command line, runs it, stops on failure.
step() {
  local title=$1; shift
  printf '\n%s== %s%s\n$ %s\n' "$BOLD" "$title" "$PLAIN" "$*"
  "$@" || die "step '$title' failed (exit $?): $*"
}

[ -x "$BUILD/gen/gen-llama" ] || die "$BUILD/gen/gen-llama is not built (run: make all)"
[ -x "$BIN/wk-inspect" ] || die "$BIN/wk-inspect is not built (run: make all)"
mkdir -p "$OUT"
start=$(date +%s.%N)

step "Generate a tiny random Llama (Hugging Face layout)" \
  "$BUILD/gen/gen-llama" --preset tiny --seed 1 -o "$MODEL"
step "Files in the model directory" ls -l "$MODEL"
step "Inspect: summary, categories, tensor table (headers only)" "$BIN/wk-inspect" "$MODEL"
step "Per-tensor statistics for layer 0" \
  "$BIN/wk-inspect" --stats --filter 'model.layers.0.*' "$MODEL"
step "Histogram of one weight matrix" \
  "$BIN/wk-inspect" --hist model.layers.0.mlp.down_proj.weight "$MODEL"

if [ -x "$BIN/wk-convert" ]; then
  step "Convert to GGUF (F16) for llama.cpp" \
    "$BIN/wk-convert" "$MODEL" -o "$GGUF" --outtype f16
  step "Inspect the GGUF" "$BIN/wk-inspect" "$GGUF"
else
  printf '\n(%s/wk-convert is not built: skipping the GGUF steps)\n' "$BIN"
fi

awk -v s="$start" -v e="$(date +%s.%N)" -v o="$OUT" \
  'BEGIN { printf "\ndemo: done in %.1f s; outputs are in %s/\n", e - s, o }'
