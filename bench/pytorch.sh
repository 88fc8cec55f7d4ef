#!/usr/bin/env bash
# PyTorch-checkpoint figures (issue 4): wk-inspect and wk-convert on a TinyLlama-1.1B-shaped
# pytorch_model.bin written by torch.save, side by side with torch.load in Python and cp.
# Usage: bench/pytorch.sh BIN BUILD [OUTDIR]   (tool dir, build dir; OUTDIR default bench-out)
#
# Inputs, made once and cached in OUTDIR (shared with bench/run.sh, same gen-llama arguments
# and .gen stamps, so neither script regenerates what the other made):
#   tinyllama-1.1b, tinyllama-1.1b-11layers          gen-llama safetensors models, bf16
#   tinyllama-1.1b-pt, tinyllama-1.1b-11layers-pt    the same weights as pytorch_model.bin
#     (bench/st_to_bin.py, torch.save zip format) beside config.json and the tokenizer files
# Every timed run starts with its input in the page cache (read once with cat beforehand)
# and after a sync, outside the timing. Figures are reported beside their targets; nothing
# here asserts. Outputs (the GGUF, the cp copy) go to a temp dir in OUTDIR and are removed.
# Needs /usr/bin/time (Debian package `time`) and Debian's python3-torch at /usr/bin/python3.
# BENCH_THREADS (default 2) sets OMP_NUM_THREADS; BENCH_RUNS (default 5) the runs per median.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh

BIN=${1:?usage: bench/pytorch.sh BIN BUILD [OUTDIR]}
BUILD=${2:?usage: bench/pytorch.sh BIN BUILD [OUTDIR]}
OUT=${3:-bench-out}
PY=/usr/bin/python3
RUNS=${BENCH_RUNS:-5}
export OMP_NUM_THREADS=${BENCH_THREADS:-2}

for t in "$BUILD/gen/gen-llama" "$BIN/wk-inspect" "$BIN/wk-convert"; do
  [ -x "$t" ] || { echo "bench: $t is not built (run: make all)" >&2; exit 1; }
done
[ -x /usr/bin/time ] ||
  { echo "bench: /usr/bin/time not installed (apt-get install time): it gives peak RSS" >&2; exit 1; }
"$PY" -c 'import torch' 2>/dev/null ||
  { echo "bench: $PY cannot import torch (apt-get install python3-torch)" >&2; exit 1; }

mkdir -p "$OUT"
tmp=$(mktemp -d "$OUT/pytorch-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

need_space() { # need_space BYTES WHAT
  local avail; avail=$(df -Pk "$OUT" | awk 'NR == 2 { print $4 }')
  [ $((avail * 1024)) -gt "$1" ] ||
    { echo "bench: need $(awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e9 }') GB free in $OUT/ for $2" >&2; exit 1; }
}

# gen_cached DIR ARGS...: gen-llama ARGS -o DIR unless DIR holds a model made with ARGS.
# The DIR.gen stamp (line 1 the arguments, line 2 the seconds taken) is bench/run.sh's.
gen_cached() {
  local dir=$1; shift
  if [ -f "$dir/model.safetensors" ] && [ "$(head -1 "$dir.gen" 2>/dev/null)" = "$*" ]; then
    return
  fi
  need_space $((2600 * 1000 * 1000)) "$dir"
  echo "  generating $dir (gen-llama $*)"
  rm -f "$dir.gen"
  local t0=$EPOCHREALTIME
  "$BUILD/gen/gen-llama" "$@" -o "$dir" >/dev/null
  printf '%s\n%s\n' "$*" "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')" \
    >"$dir.gen"
}

# bin_cached SRC_DIR DST_DIR: DST_DIR/pytorch_model.bin from SRC_DIR/model.safetensors, plus
# config and tokenizer files, unless DST_DIR.src records the same source size and mtime.
bin_cached() {
  local src=$1 dst=$2 stamp
  stamp=$(stat -c '%s %Y' "$src/model.safetensors")
  if [ -f "$dst/pytorch_model.bin" ] && [ "$(cat "$dst.src" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  need_space "$(stat -c %s "$src/model.safetensors")" "$dst"
  echo "  writing $dst/pytorch_model.bin (torch.save of $src)"
  rm -rf "$dst" "$dst.src"
  mkdir -p "$dst"
  "$PY" bench/st_to_bin.py "$src/model.safetensors" "$dst/pytorch_model.bin"
  cp "$src"/config.json "$src"/tokenizer.model "$src"/tokenizer_config.json \
     "$src"/special_tokens_map.json "$dst/"
  echo "$stamp" >"$dst.src"
}

FULL=$OUT/tinyllama-1.1b
HALF=$OUT/tinyllama-1.1b-11layers
echo "Preparing the PyTorch checkpoints (cached in $OUT/)..."
gen_cached "$FULL" --preset tinyllama-1.1b --dtype bf16 --seed 1
gen_cached "$HALF" --preset tinyllama-1.1b --layers 11 --dtype bf16 --seed 1
bin_cached "$FULL" "$FULL-pt"
bin_cached "$HALF" "$HALF-pt"
FULL=$FULL-pt
HALF=$HALF-pt
need_space $((2 * $(stat -c %s "$FULL/pytorch_model.bin"))) "the GGUF and the cp copy"

# run1 CMD...: one run after a sync; sets RUN_T (wall seconds, from $EPOCHREALTIME: time -v
# rounds to 10 ms), RUN_CPU (user + system seconds) and RUN_RSS (peak RSS in KiB), the last
# two from /usr/bin/time -v.
run1() {
  sync
  local t0=$EPOCHREALTIME
  /usr/bin/time -v -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" ||
    { echo "bench: failed: $*" >&2; cat "$tmp/err" >&2; exit 1; }
  RUN_T=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
  RUN_RSS=$(awk '/Maximum resident set size/ { print $NF }' "$tmp/time")
  RUN_CPU=$(awk '/(User|System) time \(seconds\)/ { s += $NF } END { printf "%.2f", s }' "$tmp/time")
}
# median VALUES...
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
  END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
max() { printf '%s\n' "$@" | sort -g | tail -1; }
# measure CMD...: RUNS runs of CMD; sets MEAS_T (median seconds) and MEAS_RSS (max KiB)
measure() {
  local ts=() rs=() i
  for ((i = 0; i < RUNS; i++)); do
    run1 "$@"
    ts+=("$RUN_T"); rs+=("$RUN_RSS")
  done
  MEAS_T=$(median "${ts[@]}")
  MEAS_RSS=$(max "${rs[@]}")
}

TORCH_LOAD='import sys, torch
sd = torch.load(sys.argv[1], map_location="cpu")
print(sum(float(t.reshape(-1)[0]) for t in sd.values()))'

secs() { awk -v s="$1" 'BEGIN { printf (s < 1 ? "%.1f ms" : "%.2f s"), (s < 1 ? s * 1000 : s) }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { r = b > 0 ? a / b : 0; printf (r >= 10 ? "%.0f" : "%.2f"), r }'; }
row() { printf '  %-54s %10s %12s   %-8s %s\n' "$@"; }
label() { # "22 layers, 2.20 GB"
  awk -v l="$(grep -o '"num_hidden_layers":[[:space:]]*[0-9]*' "$1/config.json" | tr -dc 0-9)" \
      -v b="$(stat -c %s "$1/pytorch_model.bin")" 'BEGIN { printf "%s layers, %.2f GB", l, b / 1e9 }'
}

full_bin=$FULL/pytorch_model.bin
half_bin=$HALF/pytorch_model.bin
echo "Warming the page cache (cat of both .bin files)..."
cat "$full_bin" "$half_bin" >/dev/null
echo "Measuring ($RUNS runs per median, OMP_NUM_THREADS=$OMP_NUM_THREADS)..."

t_inspect=$(bench_median_s 30 3 "$BIN/wk-inspect" "$FULL")
rss_inspect=$(bench_rss_kb "$BIN/wk-inspect" "$FULL")
rss_inspect_half=$(bench_rss_kb "$BIN/wk-inspect" "$HALF")
measure "$PY" -c 'import torch'
import_t=$MEAS_T import_rss=$MEAS_RSS
measure "$PY" -c "$TORCH_LOAD" "$full_bin"
load_t=$MEAS_T load_rss=$MEAS_RSS
run1 "$PY" -c "$TORCH_LOAD" "$half_bin"
rss_load_half=$RUN_RSS

# The copies and the conversions alternate, so that a burst of load elsewhere hits each
# alike: cp of the .bin (coreutils: copy_file_range, the copy stays in the kernel), dd of it
# (read + write through a 4 MiB user buffer, as wk-convert's writes go), wk-convert of it
# with OMP_NUM_THREADS threads and with 1, and wk-convert of the same weights from the
# safetensors directory (what the .bin reader adds).
ST=${FULL%-pt}
# One untimed cp first: the first write of a series is often the slowest (writeback, memory
# freed by torch.load), and it would land on cp alone.
cat "$full_bin" >/dev/null
run1 cp "$full_bin" "$tmp/copy.bin"
rm -f "$tmp/copy.bin"
cp_ts=() cp_rs=() cp_cs=() dd_ts=() dd_cs=() cv_ts=() cv_rs=() cv_cs=() cv1_ts=() cv1_cs=() st_ts=() st_rs=() st_cs=()
for ((i = 0; i < RUNS; i++)); do
  cat "$full_bin" >/dev/null
  run1 cp "$full_bin" "$tmp/copy.bin"
  cp_ts+=("$RUN_T"); cp_rs+=("$RUN_RSS"); cp_cs+=("$RUN_CPU"); rm -f "$tmp/copy.bin"
  run1 dd if="$full_bin" of="$tmp/copy.bin" bs=4M status=none
  dd_ts+=("$RUN_T"); dd_cs+=("$RUN_CPU"); rm -f "$tmp/copy.bin"
  run1 "$BIN/wk-convert" "$FULL" -o "$tmp/out.gguf" --outtype f16 --quiet
  cv_ts+=("$RUN_T"); cv_rs+=("$RUN_RSS"); cv_cs+=("$RUN_CPU")
  gguf_bytes=$(stat -c %s "$tmp/out.gguf"); rm -f "$tmp/out.gguf"
  OMP_NUM_THREADS=1 run1 "$BIN/wk-convert" "$FULL" -o "$tmp/out.gguf" --outtype f16 --quiet
  cv1_ts+=("$RUN_T"); cv1_cs+=("$RUN_CPU"); rm -f "$tmp/out.gguf"
  cat "$ST/model.safetensors" >/dev/null
  run1 "$BIN/wk-convert" "$ST" -o "$tmp/out.gguf" --outtype f16 --quiet
  st_ts+=("$RUN_T"); st_rs+=("$RUN_RSS"); st_cs+=("$RUN_CPU"); rm -f "$tmp/out.gguf"
done
t_cp=$(median "${cp_ts[@]}") rss_cp=$(max "${cp_rs[@]}")
t_dd=$(median "${dd_ts[@]}")
t_cv=$(median "${cv_ts[@]}") rss_cv=$(max "${cv_rs[@]}")
t_cv1=$(median "${cv1_ts[@]}")
t_st=$(median "${st_ts[@]}") rss_st=$(max "${st_rs[@]}")
cat "$half_bin" >/dev/null
run1 "$BIN/wk-convert" "$HALF" -o "$tmp/out.gguf" --outtype f16 --quiet
rss_cv_half=$RUN_RSS
rm -f "$tmp/out.gguf"

bytes=$(stat -c %s "$full_bin")
gbs() { awk -v b="$bytes" -v t="$1" 'BEGIN { printf "%.2f GB/s", b / 1e9 / t }'; }
runs() { printf '%s ' "$@" | sed 's/ $//'; }
cpu() { printf '%s s CPU' "$(median "$@")"; }
echo
echo "PyTorch checkpoint: $full_bin ($(label "$FULL"), torch.save zip, bf16)"
echo "  on $(bench_machine)"
echo "  page cache warm before every run; time is the median of $RUNS runs (wk-inspect: of 30);"
echo "  peak RSS is the largest of the runs; CPU = user + system, median; OMP_NUM_THREADS=$OMP_NUM_THREADS"
echo
row "Measurement" "Wall time" "Peak RSS" "Target" "Note"
printf '  %s\n' "$(printf '%.0s-' {1..112})"
row "wk-inspect DIR (headers only)" "$(secs "$t_inspect")" "$(mib "$rss_inspect")" "" \
  "$(ratio "$load_t" "$t_inspect")x faster, $(ratio "$load_rss" "$rss_inspect")x less memory than torch.load"
row "python3 -c 'import torch' (start-up floor of the next)" "$(secs "$import_t")" "$(mib "$import_rss")" "" ""
row "python3: torch.load(map_location=cpu) + 1 elt/tensor" "$(secs "$load_t")" "$(mib "$load_rss")" "" \
  "$(awk -v a="$load_t" -v b="$import_t" 'BEGIN { printf "%.2f s after import", a - b }')"
row "cp pytorch_model.bin (the target's I/O floor)" "$(secs "$t_cp")" "$(mib "$rss_cp")" "" \
  "$(gbs "$t_cp"); $(cpu "${cp_cs[@]}"); runs $(runs "${cp_ts[@]}")"
row "dd bs=4M of it (read + write through user space)" "$(secs "$t_dd")" "" "" \
  "$(gbs "$t_dd"); $(cpu "${dd_cs[@]}"); runs $(runs "${dd_ts[@]}")"
row "wk-convert DIR --outtype f16 --quiet" "$(secs "$t_cv")" "$(mib "$rss_cv")" "" \
  "$(gbs "$t_cv"); $(cpu "${cv_cs[@]}"); runs $(runs "${cv_ts[@]}"); $(awk -v g="$gguf_bytes" 'BEGIN { printf "%.2f GB GGUF", g / 1e9 }')"
row "wk-convert time / cp time" "$(ratio "$t_cv" "$t_cp")x" "" "<= 1.5x" \
  "wk-convert time / dd time: $(ratio "$t_cv" "$t_dd")x"
row "  the same, OMP_NUM_THREADS=1" "$(secs "$t_cv1")" "" "" \
  "$(ratio "$t_cv1" "$t_cp")x cp, $(ratio "$t_cv1" "$t_dd")x dd; $(cpu "${cv1_cs[@]}"); runs $(runs "${cv1_ts[@]}")"
row "  the same weights from model.safetensors" "$(secs "$t_st")" "$(mib "$rss_st")" "" \
  "$(ratio "$t_st" "$t_cp")x cp, $(ratio "$t_st" "$t_dd")x dd; $(cpu "${st_cs[@]}"); runs $(runs "${st_ts[@]}")"
echo
row "Peak RSS against model size" "$(label "$FULL" | cut -d, -f1)" "$(label "$HALF" | cut -d, -f1)" \
  "Target" "full / half"
printf '  %s\n' "$(printf '%.0s-' {1..112})"
row "wk-inspect DIR (headers only)" "$(mib "$rss_inspect")" "$(mib "$rss_inspect_half")" "flat" \
  "$(ratio "$rss_inspect" "$rss_inspect_half")"
row "wk-convert DIR --outtype f16" "$(mib "$rss_cv")" "$(mib "$rss_cv_half")" "flat" \
  "$(ratio "$rss_cv" "$rss_cv_half")"
row "torch.load + iterate (for contrast)" "$(mib "$load_rss")" "$(mib "$rss_load_half")" "" \
  "$(ratio "$load_rss" "$rss_load_half")"
