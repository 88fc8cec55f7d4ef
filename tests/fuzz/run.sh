#!/bin/sh
# Runs every libFuzzer harness built in BUILD_DIR (make fuzz; docs/fuzzing.md) for SECONDS
# each, one after another, on its seeds (BUILD_DIR/seeds/<harness>, from make_seeds.py) and
# its growing corpus (BUILD_DIR/corpus/<harness>). Crash, leak, timeout, out-of-memory and
# sanitizer inputs land in BUILD_DIR/crashes/<harness>/, logs in BUILD_DIR/logs/. Prints
# each harness's final coverage (cov, ft) and speed; exits 1 when any harness failed.
# Usage: run.sh BUILD_DIR SECONDS [HARNESS...]   (default: every fuzz_* in BUILD_DIR)
set -u
[ $# -ge 2 ] || { echo "usage: run.sh BUILD_DIR SECONDS [HARNESS...]" >&2; exit 2; }
dir=$1 secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- $(cd "$dir" && ls fuzz_* 2>/dev/null)
[ $# -gt 0 ] || { echo "run.sh: no harnesses in $dir (make fuzz-build)" >&2; exit 2; }
max_len=${FUZZ_MAX_LEN:-65536}
failed=""
mkdir -p "$dir/logs"
for h in "$@"; do
    mkdir -p "$dir/corpus/$h" "$dir/crashes/$h" "$dir/seeds/$h"
    dict=""
    [ -f "$here/$h.dict" ] && dict="-dict=$here/$h.dict"
    log="$dir/logs/$h.log"
    OMP_NUM_THREADS=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        "$dir/$h" -max_total_time="$secs" -max_len="$max_len" -rss_limit_mb=2048 -timeout=30 \
        -print_final_stats=1 -artifact_prefix="$dir/crashes/$h/" $dict \
        "$dir/corpus/$h" "$dir/seeds/$h" >"$log" 2>&1
    rc=$?
    cov=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [^ ]+')
    speed=$(grep -oE 'average_exec_per_sec: *[0-9]+' "$log" | grep -oE '[0-9]+$')
    runs=$(grep -oE 'number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
    if [ "$rc" -eq 0 ]; then
        echo "$h: ok  $cov  runs: ${runs:-?}  exec/s: ${speed:-?}"
    else
        echo "$h: FAILED (exit $rc)  $cov  see $log, input in $dir/crashes/$h/"
        grep -m 3 -E 'ERROR: |runtime error|SUMMARY' "$log" | sed 's/^/    /'
        failed="$failed $h"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz: failures in:$failed"
    exit 1
fi
