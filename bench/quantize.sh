#!/usr/bin/env bash
# wk-quantize figures: for each type, wall time and peak RSS of `wk-quantize --threads N` on
# an F16 GGUF, the RMSE of its output against that input (build/gen/gguf-rmse), and, when
# WK_REF_QUANTIZE names llama.cpp's llama-quantize (built outside this project), the same for
# `llama-quantize IN OUT TYPE N` on the same file in the same rounds, with the speed-up and
# the RMSE ratio.
# Usage: bench/quantize.sh BIN BUILD MODEL_DIR   (as bench/run.sh calls it: the F16 GGUF is
#                                                 made once with wk-convert, kept as
#                                                 MODEL_DIR-f16.gguf beside the model)
#        bench/quantize.sh BIN BUILD FILE.gguf   (an F16 GGUF already made)
# The machine is noisy, so each type runs BENCH_RUNS (default 3) paired rounds: wk-quantize
# then llama-quantize, the order swapping every round; every run starts after a sync with
# the input in the page cache and writes a fresh file. Times are medians with their
# min-max; the speed-up is the median of the per-round ratios (llama time / wk time), so a
# slow stretch weighs on both sides alike. Quantizing is deterministic, so the RMSE is
# measured once per tool and type, on the last round's output. Outputs go to a temp dir in
# bench-out/ (or $TMPDIR) and are removed. BENCH_THREADS (default 2): the threads of both
# tools. BENCH_QUANT_TYPES: the types (default Q8_0 Q4_0 Q4_K_M Q6_K IQ4_XS).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

[ $# -eq 3 ] || { echo "usage: bench/quantize.sh BIN BUILD MODEL_DIR|FILE.gguf" >&2; exit 2; }
BIN=$1 BUILD=$2 MODEL=$3
QUANTIZE=$BIN/wk-quantize RMSE=$BUILD/gen/gguf-rmse
for t in "$QUANTIZE" "$RMSE"; do
  [ -x "$t" ] || { echo "bench: $t is not built (run: make all)" >&2; exit 1; }
done
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time not installed (apt-get install time)" >&2; exit 1; }
THREADS=${BENCH_THREADS:-2}
export OMP_NUM_THREADS=$THREADS
RUNS=$(bench_count BENCH_RUNS 3)
read -r -a TYPES <<<"${BENCH_QUANT_TYPES:-Q8_0 Q4_0 Q4_K_M Q6_K IQ4_XS}"
# WK_REF_QUANTIZE is a word list on purpose (a path, or a wrapper command and its arguments).
# shellcheck disable=SC2206
REF=(${WK_REF_QUANTIZE:-})

if [ -d "$MODEL" ]; then # the F16 GGUF of the model, made once (wk-convert renames into place)
  IN=${MODEL%/}-f16.gguf
  if [ ! -f "$IN" ] || [ -n "$(find "$MODEL/" -name '*.safetensors' -newer "$IN")" ]; then
    echo "wk-quantize: converting $MODEL to $IN..." >&2
    "$BIN/wk-convert" "$MODEL" -o "$IN" --outtype f16 --quiet
  fi
else
  IN=$MODEL
fi
mkdir -p bench-out
tmp=$(mktemp -d "${TMPDIR:-bench-out}/quantize-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# cmd NAME TYPE: the command line of one contender in CMD, writing $tmp/NAME.gguf.
cmd() {
  case $1 in
    wk) CMD=("$QUANTIZE" "$IN" "$tmp/wk.gguf" "$2" --threads "$THREADS" -q) ;;
    ref) CMD=("${REF[@]}" "$IN" "$tmp/ref.gguf" "$2" "$THREADS") ;;
  esac
}
names=(wk)
[ ${#REF[@]} -eq 0 ] || names+=(ref)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }'; }
# rmse_of FILE: "<RMSE over all quantized tensors> <count:TYPE+count:TYPE...>" from gguf-rmse.
rmse_of() {
  local out
  out=$("$RMSE" "$IN" "$1") || return 1
  awk 'NR > 2 && $1 != "all" { mix = mix sep $2 ":" $1; sep = "+" }
                            $1 == "all" { r = $4 } END { print r, mix }' <<<"$out"
}
secs() { bench_spread "$@" | awk '{ printf "%.2f s (%.2f-%.2f)", $1, $2, $3 }'; }
cpu() { bench_spread "$@" | awk '{ printf "%.1f s", $1 }'; }
peak() { bench_spread "$@" | awk '{ printf "%.0f MiB", $3 / 1024 }'; }
times() { bench_spread "$@" | awk '{ printf "%.2fx (%.2f-%.2f)", $1, $2, $3 }'; }
mixed() { echo "$1" | sed 's/:/ /g; s/+/ + /g'; } # "23:Q4_K+3:Q6_K" -> "23 Q4_K + 3 Q6_K"
target() { case $1 in Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0) echo ">= 1.5x" ;; *) echo ">= 2x" ;; esac; }
# contender NAME: wall (min-max), CPU and peak RSS columns of one tool for this type.
# shellcheck disable=SC2086
contender() { printf '%-26s %8s %8s' "$(secs ${WALL[$1]})" "$(cpu ${CPU[$1]})" "$(peak ${RSS[$1]})"; }

machine=$(bench_machine) # the load average before the runs
declare -A WALL CPU RSS wall_now cpu_now
speed_rows=() error_rows=()
for type in "${TYPES[@]}"; do
  echo "wk-quantize: $type, $RUNS rounds of (${names[*]}) on $IN..." >&2
  WALL=() CPU=() RSS=() speed=() cpu_speed=()
  for ((r = 0; r < RUNS; r++)); do
    for ((k = 0; k < ${#names[@]}; k++)); do
      name=${names[(r + k) % ${#names[@]}]}
      cmd "$name" "$type"
      cat "$IN" >/dev/null # the input in the page cache for every run
      rm -f "$tmp/$name.gguf"
      sample=$(bench_run1 "${CMD[@]}")
      read -r w c m <<<"$sample"
      WALL[$name]+="$w " CPU[$name]+="$c " RSS[$name]+="$m " wall_now[$name]=$w cpu_now[$name]=$c
    done
    if [ ${#names[@]} -eq 2 ]; then
      speed+=("$(ratio "${wall_now[ref]}" "${wall_now[wk]}")")
      cpu_speed+=("$(ratio "${cpu_now[ref]}" "${cpu_now[wk]}")")
    fi
  done
  res=$(rmse_of "$tmp/wk.gguf")
  read -r rmse_wk mix_wk <<<"$res"
  if [ ${#names[@]} -eq 1 ]; then
    speed_rows+=("$(printf '%-7s  %s' "$type" "$(contender wk)")")
    error_rows+=("$(printf '%-7s  %11.4e  %s' "$type" "$rmse_wk" "$(mixed "$mix_wk")")")
  else
    res=$(rmse_of "$tmp/ref.gguf")
    read -r rmse_ref mix_ref <<<"$res"
    speed_rows+=("$(printf '%-7s  %s   %s  %-19s %-19s %s' "$type" "$(contender wk)" \
      "$(contender ref)" "$(times "${speed[@]}")" "$(times "${cpu_speed[@]}")" "$(target "$type")")")
    mix="$(mixed "$mix_wk"), in both"
    [ "$mix_wk" = "$mix_ref" ] || mix="differ: wk-quantize $(mixed "$mix_wk"), llama-quantize $(mixed "$mix_ref")"
    error_rows+=("$(printf '%-7s  %11.4e  %11.4e  %6.4f  %-6s  %s' "$type" "$rmse_wk" "$rmse_ref" \
      "$(ratio "$rmse_wk" "$rmse_ref")" "<= 1" "$mix")")
  fi
  rm -f "$tmp"/*.gguf
done

echo "wk-quantize on $IN ($(stat -L -c %s "$IN" | awk '{ printf "%.2f GB", $1 / 1e9 }')," \
     "--threads $THREADS, OMP_NUM_THREADS=$OMP_NUM_THREADS)"
echo "  on $machine"
echo "  wall time: median of $RUNS rounds (min-max); CPU = user + system, median; peak RSS: largest run"
if [ ${#names[@]} -eq 1 ]; then
  echo "  (WK_REF_QUANTIZE not set: no llama-quantize columns; set it to llama.cpp's" \
       "llama-quantize, built outside this project)"
  printf '  %-7s  %-26s %8s %8s\n' Type "wk-quantize" "CPU" "RSS"
else
  echo "  speed-up: llama-quantize time / wk-quantize time, median of the per-round ratios" \
       "(min-max); CPU: the same for CPU time"
  printf '  %-7s  %-26s %8s %8s   %-26s %8s %8s  %-19s %-19s %s\n' Type "wk-quantize" "CPU" "RSS" \
    "llama-quantize" "CPU" "RSS" "speed-up" "CPU speed-up" "target"
fi
printf '  %s\n' "${speed_rows[@]}"
echo
echo "  RMSE over the quantized tensors against the input (build/gen/gguf-rmse)"
if [ ${#names[@]} -eq 1 ]; then
  printf '  %-7s  %11s  %s\n' Type "RMSE" "tensors by type"
else
  printf '  %-7s  %11s  %11s  %6s  %-6s  %s\n' Type "wk-quantize" "llama" "ratio" "target" \
    "tensors by type"
fi
printf '  %s\n' "${error_rows[@]}"
