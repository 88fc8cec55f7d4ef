#!/usr/bin/env bash
# The README's entry point: `./make.sh TARGET...` runs `make TARGET...` on a Debian machine
# that may not have make yet. A bare system (a fresh container, a minimal install) has no make
# and no compiler, so `make demo` would stop at "command not found" before the Makefile's own
# `deps` step could install anything. Here, when make or the C compiler is missing,
# scripts/install-deps.sh runs first: as root it apt-get installs them with everything else
# the targets need, in one go; otherwise it prints the one command to run and we stop.
set -euo pipefail
cd "$(dirname "$0")"

missing() { local t; for t in make cc; do command -v "$t" >/dev/null || echo "$t"; done; }

if [ -n "$(missing)" ]; then
  echo "make.sh: cannot run make yet (missing: $(missing | paste -sd' ')): scripts/install-deps.sh first"
  scripts/install-deps.sh
  # Installed by package yet still not found: PATH does not reach them. Say so rather than
  # let bash print "make: command not found".
  if [ -n "$(missing)" ]; then
    echo "make.sh: $(missing | paste -sd' ') still not on PATH ($PATH) after installing" \
         "build-essential; check PATH" >&2
    exit 1
  fi
fi
exec make "$@"
