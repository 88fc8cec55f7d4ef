#!/usr/bin/env bash
# wk-convert figures: `wk-convert --outtype f16` on a model directory against the two floors
# for moving the same weight bytes, `dd` (through user space, as a converter must) and `cp`
# (in the kernel): wall time, CPU time, peak RSS, and the ratios.
# Usage: bench/convert.sh BIN BUILD MODEL_DIR     (as bench/run.sh calls it; BUILD unused)
#        bench/convert.sh MODEL_DIR               (tools from bin/)
# One timing is one sample of a noisy machine (write-back, other jobs), so BENCH_RUNS
# (default 5) rounds each run every command once, in turn, the order rotating by one each
# round; every run writes a fresh file after a sync, with the weights in the page cache.
# Times are the medians over the rounds with their min-max; the ratios are the medians of the
# per-round ratios, so a slow round weighs on both sides alike. Outputs go to a temp dir in
# bench-out/ (or $TMPDIR) and are removed. BENCH_THREADS (default 2) sets OMP_NUM_THREADS.
# WK_REF_CONVERT, when set, is a command for llama.cpp's convert_hf_to_gguf.py built outside
# this project (docs/benchmarks.md); it is run as `$WK_REF_CONVERT MODEL --outfile OUT
# --outtype f16` and timed in the same rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

if [ $# -eq 1 ]; then BIN=bin; MODEL=$1; else BIN=$1; MODEL=$3; fi
CONVERT=$BIN/wk-convert
[ -x "$CONVERT" ] || { echo "bench: $CONVERT is not built (run: make all)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time not installed (apt-get install time)" >&2; exit 1; }
export OMP_NUM_THREADS=${BENCH_THREADS:-2}
RUNS=$(bench_count BENCH_RUNS 5)

shopt -s nullglob
weights=("$MODEL"/*.safetensors)
[ ${#weights[@]} -gt 0 ] || { echo "bench: no *.safetensors in $MODEL" >&2; exit 1; }
bytes=$(stat -c %s "${weights[@]}" | awk '{ s += $1 } END { print s }')
mkdir -p bench-out
tmp=$(mktemp -d "${TMPDIR:-bench-out}/convert-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# cmd NAME: the command line of one contender in CMD, writing into $tmp/out/.
# shellcheck disable=SC2206
cmd() {
  case $1 in
    wk) CMD=("$CONVERT" "$MODEL" -o "$tmp/out/out.gguf" --outtype f16 --quiet) ;;
    # cp (and coreutils' cat) copy inside the kernel (copy_file_range); a program that
    # transforms the bytes must read them into user space and write() them back, as dd does.
    dd) CMD=(sh -c 'for f; do dd if="$f" bs=4M status=none; done > "$0"' "$tmp/out/dd.out"
             "${weights[@]}") ;;
    cp) CMD=(cp "${weights[@]}" "$tmp/out/") ;;
    # WK_REF_CONVERT is a word list on purpose.
    ref) CMD=($WK_REF_CONVERT "$MODEL" --outfile "$tmp/out/ref.gguf" --outtype f16) ;;
  esac
}
names=(wk dd cp)
[ -z "${WK_REF_CONVERT:-}" ] || names+=(ref)

# Per contender, space-separated samples: wall s, CPU s, peak RSS KiB; per round the ratios.
declare -A WALL CPU RSS wall_now cpu_now
r_dd=() r_cp=() c_dd=() c_cp=() r_ref=()
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", (b > 0 ? a / b : 0) }'; }
machine=$(bench_machine) # the load average before the runs
echo "wk-convert: $RUNS rounds of (${names[*]}) on $MODEL..." >&2
for ((r = 0; r < RUNS; r++)); do
  for ((k = 0; k < ${#names[@]}; k++)); do
    name=${names[(r + k) % ${#names[@]}]}
    cmd "$name"
    cat "${weights[@]}" >/dev/null # the weights in the page cache for every run
    rm -rf "$tmp/out"; mkdir "$tmp/out"
    sample=$(bench_run1 "${CMD[@]}")
    read -r w c m <<<"$sample"
    [ "$name" != wk ] || out_bytes=$(stat -c %s "$tmp/out/out.gguf")
    WALL[$name]+="$w " CPU[$name]+="$c " RSS[$name]+="$m "
    wall_now[$name]=$w cpu_now[$name]=$c
  done
  rm -rf "$tmp/out"
  r_dd+=("$(ratio "${wall_now[wk]}" "${wall_now[dd]}")") c_dd+=("$(ratio "${cpu_now[wk]}" "${cpu_now[dd]}")")
  r_cp+=("$(ratio "${wall_now[wk]}" "${wall_now[cp]}")") c_cp+=("$(ratio "${cpu_now[wk]}" "${cpu_now[cp]}")")
  [ -z "${WK_REF_CONVERT:-}" ] || r_ref+=("$(ratio "${wall_now[wk]}" "${wall_now[ref]}")")
done

gb() { awk -v b="$1" 'BEGIN { printf "%.2f GB", b / 1e9 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
# secs SAMPLES...: the median, "1.43 s"; range UNIT SAMPLES...: "1.21-1.87 s"; peak: the largest
# figures LABEL NAME [NOTE]: the row of one contender; ratio_row LABEL TARGET RATIOS...
secs() { bench_spread "$@" | awk '{ printf "%.2f s", $1 }'; }
range() { local u=$1; shift; bench_spread "$@" | awk -v u="$u" '{ printf "%.2f-%.2f%s", $2, $3, u }'; }
peak() { mib "$(bench_spread "$@" | awk '{ print $3 }')"; }
figures() { bench_row "$1" "$(secs ${WALL[$2]})" "" \
  "$(range " s" ${WALL[$2]}); CPU $(secs ${CPU[$2]}); peak RSS $(peak ${RSS[$2]})${3:+; $3}"; }
ratio_row() { bench_row "$1" "$(bench_spread "${@:3}" | awk '{ printf "%.2fx", $1 }')" "$2" \
  "$(range x "${@:3}") over $RUNS rounds"; }

echo "wk-convert on $MODEL ($(gb "$bytes") of weights -> $(gb "$out_bytes") GGUF f16," \
     "OMP_NUM_THREADS=$OMP_NUM_THREADS)"
echo "  on $machine"
echo "  median of $RUNS rounds, min-max beside it; CPU = user + system, median; peak RSS: largest run"
figures "cp of the weight files (in-kernel copy)" cp
figures "dd bs=4M of the weight files (user-space copy)" dd
figures "wk-convert --outtype f16" wk "$(bench_spread ${WALL[wk]} |
  awk -v b="$bytes" '{ printf "%.2f GB/s read", b / 1e9 / $1 }')"
bench_row "wk-convert peak RSS" "$(peak ${RSS[wk]})" "< 300 MiB" "largest of $RUNS runs"
ratio_row "wk-convert time / dd time" "" "${r_dd[@]}"
ratio_row "wk-convert time / cp time" "<= 1.5x" "${r_cp[@]}"
ratio_row "wk-convert CPU time / dd CPU time" "" "${c_dd[@]}"
if [ -n "${WK_REF_CONVERT:-}" ]; then
  figures "llama.cpp convert_hf_to_gguf.py" ref
  ratio_row "wk-convert time / llama.cpp time" "" "${r_ref[@]}"
fi
