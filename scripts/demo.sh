#!/usr/bin/env bash
# `make demo`: what weightkit shows a user, on a small random Llama made on the spot.
# Usage: scripts/demo.sh BIN BUILD   (the Makefile's tool and build directories)
# Generates demo-out/tiny-llama (gen-llama --preset tiny with 768-wide feed-forward rows:
# 4 layers, bf16), inspects it (summary, per-tensor statistics, a histogram), converts it to
# GGUF, inspects the GGUF and runs it in llama.cpp, quantizes it to Q4_K_M straight from the
# checkpoint and runs that too, and shows a malicious PyTorch checkpoint being refused. Any failing step stops the demo.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${1:-bin}
BUILD=${2:-build}
OUT=demo-out
MODEL=$OUT/tiny-llama
GGUF=$OUT/tiny-llama-f16.gguf
QGGUF=$OUT/tiny-llama-q4_k_m.gguf

die() { echo "demo: $*" >&2; exit 1; }
if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD= PLAIN=; fi

# The command line as one can paste it back into a shell.
quoted() { local q; printf -v q '%q ' "$@"; printf '%s' "${q% }"; }

# step "Heading" CMD...: prints the heading and the command line, runs it, stops on failure.
step() {
  local title=$1; shift
  printf '\n%s== %s%s\n$ %s\n' "$BOLD" "$title" "$PLAIN" "$(quoted "$@")"
  "$@" || die "step '$title' failed (exit $?): $*"
}

# refused "Heading" CMD...: the same for a command that must fail with exit status 1.
refused() {
  local title=$1 rc=0; shift
  printf '\n%s== %s%s\n$ %s\n' "$BOLD" "$title" "$PLAIN" "$(quoted "$@")"
  "$@" || rc=$?
  [ "$rc" -eq 1 ] || die "step '$title' should have been refused with exit 1, got $rc: $*"
}

[ -x "$BUILD/gen/gen-llama" ] || die "$BUILD/gen/gen-llama is not built (run: make all)"
[ -x "$BIN/wk-inspect" ] || die "$BIN/wk-inspect is not built (run: make all)"
mkdir -p "$OUT"
start=$(date +%s.%N)

step "Generate a tiny random Llama (Hugging Face layout)" \
  "$BUILD/gen/gen-llama" --preset tiny --ffn 768 --seed 1 -o "$MODEL"
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
  if [ -d tests/node/node_modules/node-llama-cpp ] && command -v node >/dev/null; then
    step "Run it in llama.cpp (node-llama-cpp; random weights, so the text is noise)" \
      node tests/node/generate.mjs "$GGUF" "Once upon a time" 16
  fi
else
  printf '\n(%s/wk-convert is not built: skipping the GGUF steps)\n' "$BIN"
fi

if [ -x "$BIN/wk-quantize" ]; then
  step "Plan a Q4_K_M quantization (types per tensor, sizes; nothing written)" \
    "$BIN/wk-quantize" "$MODEL" Q4_K_M --dry-run
  step "Quantize straight from the checkpoint to Q4_K_M (error per tensor)" \
    "$BIN/wk-quantize" "$MODEL" "$QGGUF" Q4_K_M -q
  step "Inspect the quantized GGUF: bits per weight per category, checksums" \
    "$BIN/wk-inspect" --stats --filter 'blk.0.*' "$QGGUF"
  if [ -d tests/node/node_modules/node-llama-cpp ] && command -v node >/dev/null; then
    step "Run the Q4_K_M file in llama.cpp" \
      node tests/node/generate.mjs "$QGGUF" "Once upon a time" 16
  fi
fi

# A pickle that torch.load would turn into os.system("touch pwned"): weightkit only reads it.
/usr/bin/python3 - "$OUT/evil.bin" <<'PY'
import sys
evil = b"\x80\x02cos\nsystem\nX\x0b\x00\x00\x00touch pwnedq\x00\x85q\x01Rq\x02."
open(sys.argv[1], "wb").write(evil)
PY
refused "A PyTorch checkpoint that would execute code is refused (nothing runs)" \
  "$BIN/wk-inspect" "$OUT/evil.bin"
[ ! -e pwned ] || die "the gadget ran"

awk -v s="$start" -v e="$(date +%s.%N)" -v o="$OUT" \
  'BEGIN { printf "\ndemo: done in %.1f s; outputs are in %s/\n", e - s, o }'
