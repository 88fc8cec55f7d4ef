#!/usr/bin/env bash
# wk-run figures: prefill and decode speed per tensor type, side by side with llama.cpp on the
# same files in the same run, and decode as a fraction of the machine's read bandwidth.
# Usage: bench/engine.sh BIN BUILD MODEL_DIR   (as bench/run.sh calls it: the F16 GGUF is made
#                                               once with wk-convert, MODEL_DIR-f16.gguf)
#        bench/engine.sh BIN BUILD FILE-f16.gguf
# Each type's GGUF is made once with wk-quantize beside the F16 one (FILE-q4_0.gguf, ...) and
# kept while it is newer than the F16 file. The prompt is a text that tokenizes to exactly
# WK_BENCH_PROMPT tokens (default 512, BOS included); the contenders, each on BENCH_THREADS
# threads (default 2):
#   wk-run          wk-run FILE -f PROMPT -n DECODE --ignore-eos --temp 0 -t 2 -c CTX, the
#                   speeds of its stderr line (decode as forward passes: see below)
#   node-llama-cpp  tests/node/bench_speed.mjs: llama.cpp 3.21.1's build, the same token ids
#                   prefilled in one call, then DECODE greedy steps, default F16 KV cache
#   llama-bench     when WK_REF_BENCH names llama.cpp's llama-bench (built outside this
#                   project): llama-bench -m FILE -p PROMPT -n 0 -t 2 -r 1 -o json for
#                   prefill, and -p 0 -n DECODE -d PROMPT for decode: after PROMPT tokens of
#                   context, as wk-run and node-llama-cpp decode (its default depth is 0)
# The machine is noisy, so WK_BENCH_RUNS (default 3) rounds each run, per type, every
# contender once, in that order, with bw-read (the read-only streaming bandwidth, all threads)
# before the first and after each. Figures are medians over the rounds with their min-max;
# each ratio is computed inside a round and the median of those is printed. Decode GB/s =
# weight bytes a token reads (bench/engine_prep.py) x tokens/s; its share is of the bandwidth
# bw-read found on either side of that very run (the mean of the two best passes). wk-run also
# prints its median forward pass: the weight bytes over it, against the mean of the two
# bw-read median passes around it, is the share with the machine's stalls taken out of both
# sides (docs/benchmarks.md says why that matters on a shared virtual machine). Each type's
# file is read afresh into the page cache before its runs in every round, and each run is
# logged on stderr as it ends (its round, speeds and the bandwidth on either side).
# WK_BENCH_TYPES: the types (default "F16 Q8_0 Q4_0 Q4_K_M Q6_K"); WK_BENCH_DECODE (default
# 128) and WK_BENCH_CTX (default 1024) the decode length and context; WK_BENCH_BW_SIZE the
# array bw-read sums (default 1G). Nothing here asserts on a speed.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

[ $# -eq 3 ] || { echo "usage: bench/engine.sh BIN BUILD MODEL_DIR|FILE-f16.gguf" >&2; exit 2; }
BIN=$1 BUILD=$2 MODEL=$3
RUN=$BIN/wk-run QUANTIZE=$BIN/wk-quantize BW=$BUILD/gen/bw-read PY=${PYTHON:-/usr/bin/python3}
for t in "$RUN" "$QUANTIZE" "$BW"; do
  [ -x "$t" ] || { echo "bench: $t is not built (run: make all)" >&2; exit 1; }
done
# one assignment per line: set -e sees only the last command substitution of a line
THREADS=$(bench_count BENCH_THREADS 2)
RUNS=$(bench_count WK_BENCH_RUNS 3)
PROMPT=$(bench_count WK_BENCH_PROMPT 512)
DECODE=$(bench_count WK_BENCH_DECODE 128)
CTX=$(bench_count WK_BENCH_CTX 1024)
# node's first decode step evaluates the last prompt token again: one more position
[ "$CTX" -gt $((PROMPT + DECODE)) ] ||
  { echo "bench: WK_BENCH_CTX $CTX must exceed prompt + decode ($((PROMPT + DECODE)))" >&2; exit 1; }
read -r -a TYPES <<<"${WK_BENCH_TYPES:-F16 Q8_0 Q4_0 Q4_K_M Q6_K}"
# WK_REF_BENCH is a word list on purpose (a path, or a wrapper command and its arguments).
# shellcheck disable=SC2206
REF=(${WK_REF_BENCH:-})

if [ -d "$MODEL" ]; then # the F16 GGUF of the model, made once (wk-convert renames into place)
  IN=${MODEL%/}-f16.gguf
  if [ ! -f "$IN" ] || [ -n "$(find "$MODEL/" -name '*.safetensors' -newer "$IN")" ]; then
    echo "wk-run bench: converting $MODEL to $IN..." >&2
    "$BIN/wk-convert" "$MODEL" -o "$IN" --outtype f16 --quiet
  fi
else
  IN=$MODEL
fi
[ -f "$IN" ] || { echo "bench: $IN: no such file" >&2; exit 1; }
mkdir -p bench-out
tmp=$(mktemp -d "${TMPDIR:-bench-out}/engine-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# The file of each type, quantized once.
declare -A FILE BYTES
for ty in "${TYPES[@]}"; do
  if [ "$ty" = F16 ]; then FILE[$ty]=$IN; continue; fi
  f=${IN%-f16.gguf}
  f=${f%.gguf}-$(tr '[:upper:]' '[:lower:]' <<<"$ty").gguf
  if [ ! "$f" -nt "$IN" ]; then
    echo "wk-run bench: quantizing $IN to $f ($ty)..." >&2
    "$QUANTIZE" "$IN" "$f" "$ty" --threads "$THREADS" -q >/dev/null
  fi
  FILE[$ty]=$f
done
for ty in "${TYPES[@]}"; do
  b=$("$PY" bench/engine_prep.py bytes "${FILE[$ty]}")
  BYTES[$ty]=${b%% *}
done
"$PY" bench/engine_prep.py prompt "$RUN" "$IN" "$PROMPT" "$tmp"
printf '{"tokens": %s, "decode": %d, "threads": %d, "context": %d}\n' \
  "$(cat "$tmp/ids.json")" "$DECODE" "$THREADS" "$CTX" >"$tmp/request.json"

names=(wk)
NODE_DIR=tests/node
if command -v node >/dev/null && [ -d "$NODE_DIR/node_modules/node-llama-cpp" ]; then
  names+=(node)
else
  echo "wk-run bench: node or $NODE_DIR/node_modules missing (npm ci in $NODE_DIR): no node-llama-cpp columns" >&2
fi
[ ${#REF[@]} -eq 0 ] || names+=(ref)

# measure NAME FILE: "<prefill tokens/s> <decode tokens/s>" of one run (wk-run: then its
# median forward pass in ms). wk-run counts the
# first generated token, which the prompt's logits give, in its decode speed; llama.cpp's
# tg test and bench_speed.mjs count forward passes, DECODE of them. So wk-run's figure is
# scaled to its DECODE - 1 passes.
measure() {
  local out
  case $1 in
    wk)
      out=$(OMP_NUM_THREADS=$THREADS "$RUN" "$2" -f "$tmp/prompt.txt" -n "$DECODE" --ignore-eos \
              --temp 0 -t "$THREADS" -c "$CTX" 2>&1 >/dev/null) ||
        { echo "bench: failed: $RUN $2: $out" >&2; return 1; }
      awk -v np="$PROMPT" -v nd="$DECODE" '
        /^prompt: [0-9]+ tokens in .* generated: [0-9]+ tokens in .* median forward pass/ {
          gsub(/[(;,]/, " ")
          if ($2 != np || $10 != nd) exit 1
          printf "%.4f %.4f %.4f\n", $7, $15 * (nd - 1) / nd, $20; found = 1 }
        END { if (!found) exit 1 }' <<<"$out" ||
        { echo "bench: $RUN $2: expected $PROMPT prompt and $DECODE generated tokens: $out" >&2; return 1; }
      ;;
    node)
      out=$(node "$NODE_DIR/bench_speed.mjs" "$2" "$tmp/request.json" 2>"$tmp/err") ||
        { echo "bench: failed: node bench_speed.mjs $2" >&2; cat "$tmp/err" >&2; return 1; }
      "$PY" -c '
import json, sys
r = json.loads(sys.argv[1])
if (r["prompt"], r["generated"]) != (int(sys.argv[2]), int(sys.argv[3])):
    sys.exit("bench: node-llama-cpp ran %d prompt and %d decoded tokens" % (r["prompt"], r["generated"]))
print(r["prefill_tps"], r["decode_tps"])' "$out" "$PROMPT" "$DECODE"
      ;;
    ref) # its decode test after PROMPT tokens of context (-d), as the others decode
      local pp tg
      pp=$("${REF[@]}" -m "$2" -p "$PROMPT" -n 0 -t "$THREADS" -r 1 -o json 2>"$tmp/err") ||
        { echo "bench: failed: ${REF[*]} -m $2" >&2; cat "$tmp/err" >&2; return 1; }
      tg=$("${REF[@]}" -m "$2" -p 0 -n "$DECODE" -d "$PROMPT" -t "$THREADS" -r 1 -o json \
             2>"$tmp/err") ||
        { echo "bench: failed: ${REF[*]} -m $2 (decode)" >&2; cat "$tmp/err" >&2; return 1; }
      "$PY" -c '
import json, sys
pp = [r["avg_ts"] for r in json.loads(sys.argv[1]) if r["n_prompt"] > 0 and r["n_gen"] == 0]
tg = [r["avg_ts"] for r in json.loads(sys.argv[2])
      if r["n_gen"] > 0 and r["n_prompt"] == 0 and r.get("n_depth") == int(sys.argv[3])]
if len(pp) != 1 or len(tg) != 1:
    sys.exit("bench: llama-bench gave no single pp test and tg test at depth %s: %s %s"
             % (sys.argv[3], sys.argv[1][:200], sys.argv[2][:200]))
print(pp[0], tg[0])' "$pp" "$tg" "$PROMPT"
      ;;
  esac
}

# Samples, space-separated per key: PF/DC[name,type] tokens/s, GBS/PCT[name,type] decode
# bandwidth and its share, RP/RD[name,type] wk over name per round; MED/MGBS/MPCT[type]
# wk-run's median forward pass (ms), the bandwidth over it and its share of bw-read's median
# pass; BWS/BWM bw-read's best and median passes.
declare -A PF DC GBS PCT RP RD MED MGBS MPCT
BWS=() BWM=()
awk_calc() { awk "BEGIN { printf \"%.6f\", $1 }"; }
# bandwidth: bw-read's best of 5 passes (the machine's ceiling, however busy the other
# passes found it) into bw, its median pass into bwm; both kept in BWS and BWM
bandwidth() {
  read -r bw bwm < <(env -u OMP_NUM_THREADS "$BW" --size "${WK_BENCH_BW_SIZE:-1G}" --reps 5 |
         sed -n 's/.*best \([0-9.]*\) GB\/s, median \([0-9.]*\) GB\/s.*/\1 \2/p')
  [ -n "$bwm" ] || { echo "bench: $BW printed no bandwidth" >&2; exit 1; }
  BWS+=("$bw") BWM+=("$bwm")
}
machine=$(bench_machine) # the load average before the runs
echo "wk-run: $RUNS rounds of (per type: bw-read, then each of ${names[*]} and bw-read) on ${TYPES[*]}..." >&2
for ((r = 0; r < RUNS; r++)); do
  for ty in "${TYPES[@]}"; do
    # Each type's runs from its file read afresh into the page cache (engine_prep.py fresh
    # says why), in every round: this host's kernel pages out file pages left unread for a
    # minute (DAMON, docs/benchmarks.md), and a round of five types lasts several minutes.
    "$PY" bench/engine_prep.py fresh "${FILE[$ty]}"
    # bw-read around each run: this host's bandwidth moves within minutes (33-76 GB/s in one
    # run that measured it once per round), and a share is only as good as the ceiling
    # measured beside it.
    bandwidth
    declare -A now_p=() now_d=()
    for name in "${names[@]}"; do
      res=$(measure "$name" "${FILE[$ty]}")
      read -r p d med <<<"$res"
      prev_bw=$bw prev_bwm=$bwm
      bandwidth
      run_bw=$(awk_calc "($prev_bw + $bw) / 2")
      if [ "$name" = wk ]; then
        run_bwm=$(awk_calc "($prev_bwm + $bwm) / 2")
        mgbs=$(awk_calc "${BYTES[$ty]} / ($med / 1e3) / 1e9")
        MED[$ty]+="$med " MGBS[$ty]+="$mgbs " MPCT[$ty]+="$(awk_calc "100 * $mgbs / $run_bwm") "
      fi
      now_p[$name]=$p now_d[$name]=$d
      PF[$name,$ty]+="$p " DC[$name,$ty]+="$d "
      gbs=$(awk_calc "${BYTES[$ty]} * $d / 1e9")
      GBS[$name,$ty]+="$gbs " PCT[$name,$ty]+="$(awk_calc "100 * $gbs / $run_bw") "
      # each run as it happened, so that an odd round can be told from the host's swing
      printf '  round %d %s %s: prefill %.2f, decode %.2f tokens/s%s; bw-read best %.2f -> %.2f GB/s\n' \
        $((r + 1)) "$ty" "$name" "$p" "$d" "${med:+ (median pass $med ms)}" "$prev_bw" "$bw" >&2
    done
    for name in "${names[@]:1}"; do
      RP[$name,$ty]+="$(awk_calc "${now_p[wk]} / ${now_p[$name]}") "
      RD[$name,$ty]+="$(awk_calc "${now_d[wk]} / ${now_d[$name]}") "
    done
  done
done

# fig FMT SAMPLES...: "median (min-max)" with FMT for each number
fig() {
  local fmt=$1; shift
  # shellcheck disable=SC2046
  set -- $(bench_spread "$@")
  # shellcheck disable=SC2059 # the format is ours
  if [ "$RUNS" -eq 1 ]; then printf "$fmt" "$1"; else printf "$fmt ($fmt-$fmt)" "$1" "$2" "$3"; fi
}
declare -A label=([wk]="wk-run" [node]="node-llama-cpp 3.21.1" [ref]="llama-bench")
gb() { awk -v b="$1" 'BEGIN { printf "%.2f GB", b / 1e9 }'; }
row() { printf '  %-7s %-31s %-23s %-23s %-20s %s\n' "$@"; }

echo "wk-run against llama.cpp: prefill $PROMPT tokens, decode $DECODE, $THREADS threads, context $CTX"
echo "  on $machine"
if [ "$RUNS" -eq 1 ]; then
  echo "  one round (WK_BENCH_RUNS=1); tokens/s; ratios: wk-run / the other"
else
  echo "  median of $RUNS rounds, min-max beside it; tokens/s; ratios: wk-run / the other, per round"
fi
echo "  read bandwidth (bw-read, all threads, 5 passes before and after each run): best $(fig '%.2f' "${BWS[@]}") GB/s, median $(fig '%.2f' "${BWM[@]}") GB/s"
row "type" "engine" "prefill tokens/s" "decode tokens/s" "decode GB/s" "% of read bandwidth"
for ty in "${TYPES[@]}"; do
  target=""
  case $ty in F16 | Q8_0) target=" (target >= 80 % for wk-run)" ;; esac
  echo "  $ty: ${FILE[$ty]}, ${BYTES[$ty]} bytes ($(gb "${BYTES[$ty]}")) of weights read per token$target"
  for name in "${names[@]}"; do
    # shellcheck disable=SC2086
    row "$ty" "${label[$name]}" "$(fig '%.2f' ${PF[$name,$ty]})" "$(fig '%.2f' ${DC[$name,$ty]})" \
      "$(fig '%.3f' ${GBS[$name,$ty]})" "$(fig '%.1f' ${PCT[$name,$ty]}) %"
  done
  for name in "${names[@]:1}"; do
    # shellcheck disable=SC2086
    row "$ty" "wk-run / ${label[$name]}" "$(fig '%.2fx' ${RP[$name,$ty]})" \
      "$(fig '%.2fx' ${RD[$name,$ty]})" "target >= 1.00x" ""
  done
  # shellcheck disable=SC2086
  echo "  $ty  wk-run's median forward pass $(fig '%.3f' ${MED[$ty]}) ms: $(fig '%.3f' ${MGBS[$ty]}) GB/s," \
    "$(fig '%.1f' ${MPCT[$ty]}) % of bw-read's median pass (around the run)"
done
[ ${#REF[@]} -gt 0 ] || echo "  (WK_REF_BENCH not set: no llama-bench rows; see docs/benchmarks.md)"
