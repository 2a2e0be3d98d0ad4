#!/usr/bin/env bash
# Installs the independent ONNX check (check.mjs: onnxruntime-node and pngjs, pinned by package-lock.json)
# into tests/onnx-check/node_modules, for OnnxIndependentCheckTests. Install scripts are not run:
# onnxruntime-node's would only fetch the CUDA provider; the CPU binding ships in the package, and this
# script checks that it loads. Idempotent: a finished install of the same lock file is left alone.
set -euo pipefail

DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MARKER="$DIR/node_modules/.installed-lock-sha256"

fail() { echo "tests/onnx-check/install.sh: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node is not installed (check.mjs needs Node.js >= 20)"
command -v npm >/dev/null || fail "npm is not installed"
major=$(node -p 'process.versions.node.split(".")[0]')
(( major >= 20 )) || fail "node $(node --version) is too old; check.mjs needs Node.js >= 20"

lock_sha=$(sha256sum "$DIR/package-lock.json" | cut -d' ' -f1)
if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$lock_sha" ]]; then
  exit 0
fi

rm -f "$MARKER"
# npm ci installs exactly the lock file (and replaces any node_modules there)
ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip \
  npm ci --prefix "$DIR" --ignore-scripts --no-audit --no-fund --loglevel=error >&2

versions=$(cd "$DIR" && node --input-type=module -e \
  "import ort from 'onnxruntime-node'; import { createRequire } from 'node:module';
   const pngjs = createRequire(import.meta.url)('pngjs/package.json').version;
   console.log(ort.env.versions.node + ' ' + pngjs);") \
  || fail "onnxruntime-node's CPU binding does not load (see the error above)"
[[ "$versions" == "1.30.0 7.0.0" ]] || fail "expected onnxruntime-node 1.30.0 and pngjs 7.0.0, found $versions"

echo "$lock_sha" > "$MARKER"
echo "onnx-check installed in $DIR/node_modules (onnxruntime-node and pngjs: $versions)" >&2
