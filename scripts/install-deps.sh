#!/usr/bin/env bash
# Installs what weightkit needs to build and test, and nothing else: Debian packages
# (compiler, libraries, Criterion, Python with PyTorch and SentencePiece for the oracles)
# and the pinned node-llama-cpp and tokenizers.js used as independent oracles. Quiet when all
# is there.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(build-essential pkg-config zlib1g-dev libarchive-dev libcjson-dev libxxhash-dev
      libcriterion-dev python3 python3-pytest python3-numpy python3-torch
      python3-sentencepiece time hyperfine nodejs npm)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# drop PKG...: takes PKG... off the missing list.
drop() {
  local p keep=()
  for p in "${missing[@]}"; do [[ " $* " == *" $p "* ]] || keep+=("$p"); done
  missing=("${keep[@]}")
}
# nodejs/npm may come from elsewhere than Debian (e.g. a preinstalled Node): accept those.
if command -v node >/dev/null && command -v npm >/dev/null; then drop nodejs npm; fi
# Debian 12's Node.js is 18, older than the 20 node-llama-cpp needs: there nodejs and npm (and
# npm's 400-odd node-* packages) would buy nothing, the cross-checks being skipped anyway.
# Reads apt's lists as they are (none yet on a fresh system: nothing is dropped).
drop_old_node() {
  local major
  major=$(apt-cache policy nodejs 2>/dev/null |
          awk '/Candidate:/ { v = $2; sub(/^[0-9]+:/, "", v); split(v, a, "."); print a[1] + 0 }')
  if [ "${major:-0}" -gt 0 ] && [ "$major" -lt 20 ]; then drop nodejs npm; fi
}

drop_old_node
root=false; [ "$(id -u)" -ne 0 ] || root=true
if [ ${#missing[@]} -gt 0 ] && $root; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  drop_old_node
fi
if [ ${#missing[@]} -gt 0 ]; then
  if $root; then
    echo "install-deps: installing ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "install-deps: missing Debian packages; run:" >&2
    echo "  sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# node-llama-cpp, slim: the linux-x64 prebuilt addon only, no install scripts, no downloads
# besides the npm registry (see ../shared/docs/oracles.md).
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "install-deps: no Node.js 20 or later (found: $(node --version 2>/dev/null || echo none))," \
       "which node-llama-cpp needs: the llama.cpp cross-checks will be skipped" \
       "(Debian 12 has 18; install Node.js 20+ to run them)" >&2
  exit 0
fi
if [ ! -f tests/node/node_modules/node-llama-cpp/package.json ] ||
   [ ! -d tests/node/node_modules/@node-llama-cpp/linux-x64 ] ||
   [ ! -f tests/node/node_modules/@huggingface/tokenizers/package.json ]; then
  echo "install-deps: installing node-llama-cpp 3.21.1 and @huggingface/tokenizers 0.2.0 for" \
       "the llama.cpp and Hugging Face cross-checks"
  (cd tests/node && npm ci --omit=optional --ignore-scripts --no-audit --no-fund >/dev/null)
fi
