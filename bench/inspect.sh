#!/usr/bin/env bash
# wk-inspect figures for bench/run.sh: header-only latency, --stats throughput on bf16 with
# the file in the page cache, and peak RSS on two model sizes (it should not grow).
# Usage: bench/inspect.sh BIN FULL_MODEL_DIR HALF_MODEL_DIR   (prints table rows)
# BENCH_THREADS (default 2) sets OMP_NUM_THREADS for --stats.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

INSPECT=$1/wk-inspect
FULL=$2
HALF=$3
export OMP_NUM_THREADS=${BENCH_THREADS:-2}
bytes=$(stat -c %s "$FULL/model.safetensors")
# "22 layers, 2.2 GB" for a model directory
size_label() {
  local layers
  layers=$(grep -o '"num_hidden_layers":[^,]*' "$1/config.json" | tr -dc 0-9)
  awk -v l="$layers" -v b="$(stat -c %s "$1/model.safetensors")" \
    'BEGIN { printf "%s layers, %.1f GB", l, b / 1e9 }'
}

ms() { awk -v s="$1" 'BEGIN { printf "%.1f ms", s * 1000 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }

# Header-only: reads the safetensors header, config.json and the tokenizer files.
t_head=$(bench_median_s 30 3 "$INSPECT" "$FULL")
bench_row "wk-inspect (headers only), median of 30" "$(ms "$t_head")" "< 50 ms" \
  "$(awk -v t="$t_head" 'BEGIN { printf "%.0fx under the target", 0.050 / t }')"

# --stats reads every byte: one warm-up run pulls the file into the page cache.
t_stats=$(bench_median_s 3 1 "$INSPECT" --stats "$FULL")
t_stats1=$(OMP_NUM_THREADS=1 bench_median_s 3 0 "$INSPECT" --stats "$FULL")
gbs() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.2f GB/s", b / 1e9 / t }'; }
bench_row "wk-inspect --stats, 1 thread, median of 3" "$(gbs "$t_stats1")" "" \
  "$(ms "$t_stats1") for $(awk -v b="$bytes" 'BEGIN { printf "%.2f GB", b / 1e9 }')"
bench_row "wk-inspect --stats, $OMP_NUM_THREADS threads, median of 3" "$(gbs "$t_stats")" ">= 2 GB/s" \
  "$(awk -v b="$bytes" -v t="$t_stats" -v t1="$t_stats1" \
     'BEGIN { printf "%.2fx the target; %.2fx the 1-thread speed", b / 1e9 / t / 2, t1 / t }')"

# Peak RSS, full model against the 11-layer one: flat means memory does not follow size.
for mode in header stats; do
  args=(); [ $mode = stats ] && args=(--stats)
  r_full=$(bench_rss_kb "$INSPECT" "${args[@]}" "$FULL")
  r_half=$(bench_rss_kb "$INSPECT" "${args[@]}" "$HALF")
  label="wk-inspect${args[*]:+ ${args[*]}}"
  bench_row "peak RSS $label ($(size_label "$FULL"))" "$(mib "$r_full")" "flat" ""
  bench_row "peak RSS $label ($(size_label "$HALF"))" "$(mib "$r_half")" "flat" \
    "$(awk -v a="$r_full" -v b="$r_half" 'BEGIN { printf "full/half = %.2f", a / b }')"
done
