#!/usr/bin/env bash
# wk-prune figures (issue 11's benchmark): Wanda at 50 % on the TinyLlama-1.1B-shaped model
# with 16 x 512 calibration tokens, 2 threads: wall time, CPU time and peak RSS; magnitude at
# 50 % on the same file beside it, which is the same pipeline without the calibration, so
# the difference is what the engine's calibration costs.
# Usage: bench/prune.sh BIN BUILD FILE-f16.gguf
#   WK_BENCH_RUNS   rounds (default 1: Wanda takes minutes), each magnitude then Wanda
#   BENCH_THREADS   threads (default 2)
#   WK_BENCH_CALIB_TOKENS  calibration tokens (default 8192 = 16 x 512)
# The calibration text is bench/engine_prep.py's word stream, as many words as tokens are
# asked (each word is at least one token; the model is random, so what the text says does
# not matter, its length does). Outputs go to a temporary directory beside the input and are deleted.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

[ $# -eq 3 ] || { echo "usage: bench/prune.sh BIN BUILD FILE-f16.gguf" >&2; exit 2; }
BIN=$1 IN=$3
PRUNE=$BIN/wk-prune PY=${PYTHON:-/usr/bin/python3}
RUNS=$(bench_count WK_BENCH_RUNS 1)
THREADS=$(bench_count BENCH_THREADS 2)
TOKENS=$(bench_count WK_BENCH_CALIB_TOKENS 8192)
[ -x "$PRUNE" ] || { echo "bench: $PRUNE is not built (run: make all)" >&2; exit 1; }
[ -f "$IN" ] || { echo "bench: $IN: no such file" >&2; exit 1; }
TMP=$(mktemp -d "$(dirname "$IN")/prune-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

"$PY" bench/engine_prep.py words "$TOKENS" "$TMP"
mag=() wanda=() mag_cpu=() wanda_cpu=() mag_rss=0 wanda_rss=0
for ((r = 1; r <= RUNS; r++)); do
  read -r w c k < <(OMP_NUM_THREADS=$THREADS bench_run1 "$PRUNE" "$IN" -o "$TMP/mag.gguf" \
    --method magnitude --sparsity 0.5 -t "$THREADS" -q)
  mag+=("$w") mag_cpu+=("$c"); [ "$k" -gt "$mag_rss" ] && mag_rss=$k
  rm -f "$TMP/mag.gguf"
  read -r w c k < <(OMP_NUM_THREADS=$THREADS bench_run1 "$PRUNE" "$IN" -o "$TMP/wanda.gguf" \
    --method wanda --sparsity 0.5 --calib "$TMP/words.txt" --calib-tokens "$TOKENS" \
    -t "$THREADS" -q)
  wanda+=("$w") wanda_cpu+=("$c"); [ "$k" -gt "$wanda_rss" ] && wanda_rss=$k
  rm -f "$TMP/wanda.gguf"
done

fmt() { read -r m lo hi < <(bench_spread "$@"); printf '%.1f s (%.1f-%.1f)' "$m" "$lo" "$hi"; }
mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
echo "wk-prune on $IN ($(awk -v b="$(stat -c %s "$IN")" 'BEGIN { printf "%.2f GB", b / 1e9 }'), $THREADS threads, $RUNS round(s))"
echo "  on $(bench_machine)"
echo "  wall: median (min-max); CPU: user + system, median; RSS: the largest run"
printf '  %-44s %-24s %10s %10s\n' "Run" "wall" "CPU" "peak RSS"
printf '  %-44s %-24s %10s %10s\n' "magnitude 50 % (no calibration)" "$(fmt "${mag[@]}")" \
  "$(bench_spread "${mag_cpu[@]}" | awk '{ printf "%.2f s", $1 }')" "$(mib "$mag_rss")"
printf '  %-44s %-24s %10s %10s\n' "wanda 50 %, $TOKENS calibration tokens" "$(fmt "${wanda[@]}")" \
  "$(bench_spread "${wanda_cpu[@]}" | awk '{ printf "%.2f s", $1 }')" "$(mib "$wanda_rss")"
