# Helpers shared by the bench/*.sh scripts (sourced, not run). Figures only, never asserts.
#   bench_median_s RUNS WARMUP CMD...  median wall time in seconds (hyperfine when installed,
#                                      else a timed loop); stdout/stderr of CMD are discarded
#   bench_rss_kb CMD...                peak resident set size in KiB (/usr/bin/time -v)
#   bench_run1 CMD...                  one run after a sync (outside the timing), stdout and
#                                      stderr discarded: "<wall s> <user+sys CPU s> <peak RSS KiB>"
#   bench_count NAME DEFAULT           the positive count in environment variable NAME (DEFAULT
#                                      when unset); else a message naming NAME and a failure
#   bench_spread VALUES...             "<median> <min> <max>" of the values
#   bench_row NAME FIGURE TARGET NOTE  one line of the results table
#   bench_machine                      one line describing the machine and its current load

bench_median_s() {
  local runs=$1 warmup=$2; shift 2
  local tmp; tmp=$(mktemp)
  if command -v hyperfine >/dev/null; then
    hyperfine -N --style none --warmup "$warmup" --runs "$runs" --export-json "$tmp" \
      -- "$(printf '%q ' "$@")" >/dev/null 2>&1 \
      || { rm -f "$tmp"; echo "bench: failed: $*" >&2; return 1; }
    grep -o '"median": *[0-9.e+-]*' "$tmp" | head -1 | sed 's/.*: *//'
  else
    local i t0
    for ((i = 0; i < warmup; i++)); do "$@" >/dev/null 2>&1 || return 1; done
    for ((i = 0; i < runs; i++)); do
      t0=$EPOCHREALTIME
      "$@" >/dev/null 2>&1 || { rm -f "$tmp"; echo "bench: failed: $*" >&2; return 1; }
      awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.6f\n", b - a }' >>"$tmp"
    done
    sort -g "$tmp" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
  fi
  rm -f "$tmp"
}

bench_rss_kb() {
  if [ ! -x /usr/bin/time ]; then echo "n/a"; return 0; fi
  local tmp; tmp=$(mktemp)
  /usr/bin/time -v -o "$tmp" "$@" >/dev/null 2>&1 \
    || { rm -f "$tmp"; echo "bench: failed: $*" >&2; return 1; }
  awk -F': *' '/Maximum resident set size/ { print $2 }' "$tmp"
  rm -f "$tmp"
}

bench_run1() {
  local tmp t0 t1; tmp=$(mktemp)
  sync
  t0=$EPOCHREALTIME
  # Wall time from the shell's clock: time(1) rounds it to 10 ms.
  /usr/bin/time -f '%U %S %M' -o "$tmp" "$@" >/dev/null 2>"$tmp.err" ||
    { echo "bench: failed: $*" >&2; cat "$tmp.err" >&2; rm -f "$tmp" "$tmp.err"; return 1; }
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" '{ c = $1 + $2; r = $3 } END { printf "%.3f %.2f %d\n", b - a, c, r }' "$tmp"
  rm -f "$tmp" "$tmp.err"
}

bench_count() {
  local v=${!1:-$2}
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "bench: $1 must be a positive count, not '$v'" >&2; return 1; }
  echo "$v"
}

bench_spread() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
    END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print m, v[1], v[NR] }'
}

bench_row() {
  printf '  %-50s %12s   %-10s %s\n' "$1" "$2" "$3" "$4"
}

bench_machine() {
  local cpu
  cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
  # nproc alone would print OMP_NUM_THREADS when it is set.
  printf '%s, %s cores, %s GiB RAM, %s (load average %s)\n' "${cpu:-unknown CPU}" \
    "$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)" \
    "$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" "$(uname -sr)" \
    "$(cut -d' ' -f1 /proc/loadavg)"
}
