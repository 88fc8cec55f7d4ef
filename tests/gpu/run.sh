#!/usr/bin/env bash
# make test-gpu: the CUDA backend on a machine with an NVIDIA GPU, in one script (docs/cuda.md):
# the CUDA build, tests/gpu/test_gpu.py (the GPU against the CPU engine) and bench/gpu.sh
# (speed against the card's bandwidth). Usage: tests/gpu/run.sh [all|tests|bench] (default
# all). Builds with make CUDA=1 where nvcc is found; without nvcc it uses bin-cuda/ and
# build-cuda/ as they are (built elsewhere and copied here). Without a usable GPU it says why
# and exits 0 (nothing to test). Exit 1 when a test failed (the benchmark still runs).
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
if [ "$WHAT" != bench ]; then
  work=$(mktemp -d /tmp/wk-gpu-tests-XXXXXX)
  export WK_BIN=$PWD/bin-cuda WK_GEN=$PWD/build-cuda/gen WK_GPU_WORK=$work
  [ -n "${WK_SHARED:-}" ] || { [ -d shared/models ] && export WK_SHARED=$PWD/shared; }
  rm -f bench-out/gpu-tests.json
  t0=$(date +%s)
  if "$PY" -c "import pytest" 2>/dev/null; then
    "$PY" -m pytest -q -rs tests/gpu/test_gpu.py || rc=1
  else
    echo "test-gpu: no pytest: running tests/gpu/test_gpu.py as a script"
    "$PY" tests/gpu/test_gpu.py || rc=1
  fi
  rm -rf "$work"
  echo "test-gpu: tests took $(( $(date +%s) - t0 )) s; measured differences in bench-out/gpu-tests.json"
fi
if [ "$WHAT" != tests ]; then
  t0=$(date +%s)
  bench/gpu.sh bin-cuda build-cuda || rc=1
  echo "test-gpu: benchmark took $(( $(date +%s) - t0 )) s; figures in bench-out/gpu.json"
fi
exit $rc
