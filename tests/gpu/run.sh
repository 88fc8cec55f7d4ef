#!/usr/bin/env bash
# make test-gpu: the CUDA backend on a machine with an NVIDIA GPU, in one script (docs/cuda.md):
# the CUDA build, tests/gpu/test_gpu.py (the GPU against the CPU engine) and bench/gpu.sh
# (speed against the card's bandwidth). Usage: tests/gpu/run.sh [all|tests|bench] (default
# all). Builds with make CUDA=1 where nvcc is found; without nvcc it uses bin-cuda/ and
# build-cuda/ as they are (built elsewhere and copied here). Without a usable GPU it says why
# and exits 0 (nothing to test). Exit 1 when a test failed (the benchmark still runs).
# Results (gpu-tests.json: every measured difference; gpu.json: the speeds) go to WK_GPU_OUT
# (default build-cuda/gpu); models to a scratch folder in TMPDIR, removed at the end.
set -uo pipefail
cd "$(dirname "$0")/../.."
WHAT=${1:-all}
PY=${PYTHON:-python3}
case $WHAT in all | tests | bench) ;; *) echo "usage: tests/gpu/run.sh [all|tests|bench]" >&2; exit 2 ;; esac

if command -v nvcc >/dev/null || [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ]; then
  make --no-print-directory -j"$(nproc)" CUDA=1 all || exit 1
elif [ -x bin-cuda/wk-run ] && [ -x build-cuda/gen/cuda-bw ]; then
  echo "test-gpu: no nvcc here: using bin-cuda/ and build-cuda/ as they are"
else
  echo "test-gpu: no nvcc (PATH, CUDA_HOME) and no bin-cuda/: cannot build the CUDA backend" >&2
  exit 1
fi
if ! why=$(build-cuda/gen/cuda-bw --size 64M --rounds 1 2>&1); then
  echo "test-gpu: skipped: ${why#cuda-bw: error: }"
  exit 0
fi
echo "test-gpu: $why"

rc=0
export WK_GPU_OUT=${WK_GPU_OUT:-build-cuda/gpu}
mkdir -p "$WK_GPU_OUT"
if [ "$WHAT" != bench ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/wk-gpu-tests-XXXXXX")
  export WK_BIN=$PWD/bin-cuda WK_GEN=$PWD/build-cuda/gen WK_GPU_WORK=$work
  export WK_GPU_REPORT=$WK_GPU_OUT/gpu-tests.json
  [ -n "${WK_SHARED:-}" ] || { [ -d shared/models ] && export WK_SHARED=$PWD/shared; }
  rm -f "$WK_GPU_REPORT"
  t0=$(date +%s)
  if "$PY" -c "import pytest" 2>/dev/null; then
    "$PY" -m pytest -q -rs tests/gpu/test_gpu.py || rc=1
  else
    echo "test-gpu: no pytest: running tests/gpu/test_gpu.py as a script"
    "$PY" tests/gpu/test_gpu.py || rc=1
  fi
  rm -rf "$work"
  echo "test-gpu: tests took $(( $(date +%s) - t0 )) s; measured differences in $WK_GPU_REPORT"
fi
if [ "$WHAT" != tests ]; then
  t0=$(date +%s)
  bench/gpu.sh bin-cuda build-cuda || rc=1
  echo "test-gpu: benchmark took $(( $(date +%s) - t0 )) s; figures in $WK_GPU_OUT/gpu.json"
fi
exit $rc
