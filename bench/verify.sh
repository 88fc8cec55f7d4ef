#!/usr/bin/env bash
# wk-verify's scoring throughput against llama-perplexity (issue 10's benchmark): the
# reference and one candidate on the same text, n_ctx 512, 2 threads.
# Usage: bench/verify.sh BIN REF.gguf CAND.gguf TEXT
#   WK_REF_PERPLEXITY  llama.cpp's llama-perplexity, built outside the project (else only ours)
#   WK_BENCH_RUNS      paired rounds (default 3): ours, theirs, ours, theirs, ...
#   WK_BENCH_CHUNKS    chunks of 512 tokens scored (default 4)
#
# Ours: `wk-verify REF CAND --text TEXT --ctx 512 --chunks K -t 2`: each chunk runs through
# both models and is compared in memory. Theirs, as its documentation prescribes for a KL
# divergence: `llama-perplexity -m REF --kl-divergence-base FILE` (writes every position's
# logits to FILE), then `llama-perplexity -m CAND --kl-divergence-base FILE --kl-divergence`
# (reads them back); its time is the sum of both. F32 KV cache on both sides (ours always
# uses one). Figures: median wall time over the rounds (min-max), tokens/s (2 models x K x 512
# tokens / time), the ratio, and the size of llama.cpp's logits file (we write none).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

BIN=$1 REF=$2 CAND=$3 TEXT=$4
RUNS=${WK_BENCH_RUNS:-3}
CHUNKS=${WK_BENCH_CHUNKS:-4}
LP=${WK_REF_PERPLEXITY:-}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

tokens=$((2 * CHUNKS * 512))
ours=() theirs=() kld_ours="" kld_theirs="" logits_bytes=""
for ((r = 1; r <= RUNS; r++)); do
  t0=$EPOCHREALTIME
  OMP_NUM_THREADS=2 "$BIN/wk-verify" "$REF" "$CAND" --text "$TEXT" --ctx 512 --chunks "$CHUNKS" \
    -t 2 --json -q >"$TMP/ours.json"
  ours+=("$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')")
  kld_ours=$(python3 -c 'import json,sys; print("%.6f" % json.load(open(sys.argv[1]))["candidates"][0]["kld"]["value"])' "$TMP/ours.json")
  if [ -n "$LP" ]; then
    t0=$EPOCHREALTIME
    "$LP" -m "$REF" -f "$TEXT" -c 512 -b 512 --chunks "$CHUNKS" -t 2 -ctk f32 -ctv f32 \
      --kl-divergence-base "$TMP/base.kld" >"$TMP/lp1.log" 2>&1
    "$LP" -m "$CAND" -c 512 -b 512 --chunks "$CHUNKS" -t 2 -ctk f32 -ctv f32 \
      --kl-divergence-base "$TMP/base.kld" --kl-divergence >"$TMP/lp2.log" 2>&1
    theirs+=("$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')")
    kld_theirs=$(awk -F': *' '/Mean +KLD/ { split($2, v, " "); print v[1] }' "$TMP/lp2.log")
    logits_bytes=$(stat -c %s "$TMP/base.kld")
    rm -f "$TMP/base.kld"
  fi
done

read -r om omin omax < <(bench_spread "${ours[@]}")
echo "wk-verify: reference + one candidate, $CHUNKS chunks of 512 tokens, 2 threads ($RUNS rounds)"
bench_row "wk-verify wall time (median, min-max)" "${om} s" "" "($omin-$omax)"
bench_row "wk-verify tokens/s" "$(awk -v t="$tokens" -v s="$om" 'BEGIN { printf "%.1f", t / s }')" "" "KLD $kld_ours"
if [ -n "$LP" ]; then
  read -r tm tmin tmax < <(bench_spread "${theirs[@]}")
  bench_row "llama-perplexity base + KLD runs (median, min-max)" "${tm} s" "" "($tmin-$tmax)"
  bench_row "llama-perplexity tokens/s" "$(awk -v t="$tokens" -v s="$tm" 'BEGIN { printf "%.1f", t / s }')" "" "KLD $kld_theirs"
  bench_row "speed-up (their time / ours)" "$(awk -v a="$tm" -v b="$om" 'BEGIN { printf "%.2fx", a / b }')" ">= 1.0x" ""
  bench_row "llama.cpp's logits file" "$(awk -v b="$logits_bytes" 'BEGIN { printf "%.1f MB", b / 1e6 }')" "" "ours: none"
else
  echo "  (set WK_REF_PERPLEXITY to llama.cpp's llama-perplexity to compare)"
fi
