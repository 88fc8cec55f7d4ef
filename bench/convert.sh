#!/usr/bin/env bash
# wk-convert figures: wall time and peak RSS of `wk-convert --outtype f16` on a model
# directory against `cp` of the same weight bytes (the I/O floor), and their ratio.
# Usage: bench/convert.sh BIN BUILD MODEL_DIR     (as bench/run.sh calls it; BUILD unused)
#        bench/convert.sh MODEL_DIR               (tools from bin/)
# Both runs start with the weights in the page cache; outputs go to a temp dir beside
# bench-out/ (or $TMPDIR) and are removed. BENCH_THREADS (default 2) sets OMP_NUM_THREADS.
# WK_REF_CONVERT, when set, is a command for llama.cpp's convert_hf_to_gguf.py built outside
# this project (docs/benchmarks.md); it is run as `$WK_REF_CONVERT MODEL --outfile OUT
# --outtype f16` and timed in the same table.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

if [ $# -eq 1 ]; then BIN=bin; MODEL=$1; else BIN=$1; MODEL=$3; fi
CONVERT=$BIN/wk-convert
[ -x "$CONVERT" ] || { echo "bench: $CONVERT is not built (run: make all)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time not installed (apt-get install time)" >&2; exit 1; }
export OMP_NUM_THREADS=${BENCH_THREADS:-2}

shopt -s nullglob
weights=("$MODEL"/*.safetensors)
[ ${#weights[@]} -gt 0 ] || { echo "bench: no *.safetensors in $MODEL" >&2; exit 1; }
bytes=$(stat -c %s "${weights[@]}" | awk '{ s += $1 } END { print s }')
mkdir -p bench-out
tmp=$(mktemp -d "${TMPDIR:-bench-out}/convert-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# timed CMD...: "<wall seconds> <peak RSS KiB>" from /usr/bin/time -v
timed() {
  /usr/bin/time -v -o "$tmp/time" "$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; exit 1; }
  awk '/Elapsed \(wall clock\)/ { n = split($NF, p, ":"); s = 0
                                  for (i = 1; i <= n; i++) s = s * 60 + p[i] }
       /Maximum resident set size/ { rss = $NF }
       END { printf "%.3f %d\n", s, rss }' "$tmp/time"
}

cat "${weights[@]}" >/dev/null # page cache warm for both runs
read -r t_cp rss_cp < <(timed cp "${weights[@]}" "$tmp/")
rm -f "$tmp"/*.safetensors
# cp (and coreutils' cat) copy inside the kernel (copy_file_range); a program that
# transforms the bytes must read them into user space and write() them back, as dd does.
read -r t_dd rss_dd < <(timed sh -c 'for f; do dd if="$f" bs=4M status=none; done > "$0"' \
  "$tmp/dd.out" "${weights[@]}")
rm -f "$tmp/dd.out"
read -r t_cv rss_cv < <(timed "$CONVERT" "$MODEL" -o "$tmp/out.gguf" --outtype f16 --quiet)
out_bytes=$(stat -c %s "$tmp/out.gguf")

if [ -n "${WK_REF_CONVERT:-}" ]; then
  # shellcheck disable=SC2086 # the command is a word list on purpose
  read -r t_ref rss_ref < <(timed $WK_REF_CONVERT "$MODEL" --outfile "$tmp/ref.gguf" --outtype f16)
  rm -f "$tmp/ref.gguf"
fi

gb() { awk -v b="$1" 'BEGIN { printf "%.2f GB", b / 1e9 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
echo "wk-convert on $MODEL ($(gb "$bytes") of weights -> $(gb "$out_bytes") GGUF f16, $OMP_NUM_THREADS threads)"
bench_row "cp of the weight files (in-kernel copy)" "${t_cp} s" "" "peak RSS $(mib "$rss_cp")"
bench_row "dd bs=4M of the weight files (user-space copy)" "${t_dd} s" "" "peak RSS $(mib "$rss_dd")"
bench_row "wk-convert --outtype f16" "${t_cv} s" "" \
  "$(awk -v b="$bytes" -v t="$t_cv" 'BEGIN { printf "%.2f GB/s read", b / 1e9 / t }')"
bench_row "wk-convert peak RSS" "$(mib "$rss_cv")" "< 300 MiB" ""
bench_row "wk-convert time / cp time" \
  "$(awk -v a="$t_cv" -v b="$t_cp" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')" "<= 1.5x" ""
bench_row "wk-convert time / dd time" \
  "$(awk -v a="$t_cv" -v b="$t_dd" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')" "" ""
if [ -n "${WK_REF_CONVERT:-}" ]; then
  bench_row "llama.cpp convert_hf_to_gguf.py" "${t_ref} s" "" "peak RSS $(mib "$rss_ref")"
  bench_row "wk-convert time / llama.cpp time" \
    "$(awk -v a="$t_cv" -v b="$t_ref" 'BEGIN { printf "%.2fx", (b > 0 ? a / b : 0) }')" "" ""
fi
